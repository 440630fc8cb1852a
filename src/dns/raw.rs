//! One DNS query to one named server, for what hickory-resolver hides: the AD
//! and AA header bits, the authority section, and which server answered.
//!
//! The AD bit means "this resolver validated the answer with DNSSEC" only if the
//! resolver validates and the path to it cannot be tampered with: a resolver the
//! operator chose, reached over loopback or another trusted path (as Postfix's
//! `smtp_dns_support_level = dnssec` assumes). From any other server it is a claim
//! anyone on the path can forge, so callers must report it with that caveat.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::display;
use crate::text::SafeText;

/// EDNS UDP payload we advertise: the DNS Flag Day 2020 value, which avoids IP
/// fragmentation; larger answers come back truncated and are fetched over TCP.
pub const UDP_PAYLOAD: u16 = 1232;

/// Receive buffer for one UDP datagram. Larger than what we advertise, so a
/// server ignoring EDNS is still read whole (and then rejected if malformed).
const UDP_BUFFER: usize = 4096;

/// Datagrams that are not our reply (wrong id, wrong question, garbage) are
/// skipped, but only this many: a flood must not keep us reading until the deadline.
const MAX_STRAY_DATAGRAMS: usize = 16;

/// CNAME hops followed inside one answer: far above real chains, low enough
/// that a looping answer costs nothing.
const MAX_CNAME_HOPS: usize = 8;

/// TLSA records kept from one answer; real RRsets hold two or three.
pub const MAX_TLSA_RECORDS: usize = 32;

/// How one raw query is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// RD: ask a resolver to recurse (true), or ask an authoritative server
    /// only about its own zones (false).
    pub recursion_desired: bool,
    /// Per transport: UDP gets this long, and a TCP retry gets as long again.
    pub timeout: Duration,
    /// Skip UDP and ask over TCP straight away.
    pub tcp_only: bool,
}

impl QueryOptions {
    /// For a recursive resolver (RD=1), UDP first.
    pub fn recursive(timeout: Duration) -> Self {
        Self {
            recursion_desired: true,
            timeout,
            tcp_only: false,
        }
    }

    /// For an authoritative server (RD=0), UDP first.
    pub fn authoritative(timeout: Duration) -> Self {
        Self {
            recursion_desired: false,
            ..Self::recursive(timeout)
        }
    }

    pub fn over_tcp(self) -> Self {
        Self { tcp_only: true, ..self }
    }
}

/// A reply whose id and question matched ours.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub rcode: ResponseCode,
    /// AD: see the module documentation before trusting it.
    pub authentic_data: bool,
    /// AA: the server answered from a zone it serves.
    pub authoritative: bool,
    /// The reply came over TCP (asked for, or after a truncated UDP reply).
    pub over_tcp: bool,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Error)]
pub enum RawError {
    #[error("no reply from {server} within {} ms", timeout.as_millis())]
    Timeout { server: SocketAddr, timeout: Duration },
    #[error("{transport} to {server}: {source}")]
    Io {
        server: SocketAddr,
        transport: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("malformed reply from {server}: {reason}")]
    Malformed { server: SocketAddr, reason: String },
    #[error("cannot build a query for {name}: {reason}")]
    Query { name: String, reason: String },
    #[error("no random source for the query id")]
    Random,
}

/// Sends one query for `name`/`record_type` to `server`, with EDNS DO and AD set
/// (RFC 6840 §5.7: AD in a query asks a validating resolver to report AD even
/// without DO; DO asks for it in every resolver), retrying over TCP when the UDP
/// reply is truncated.
pub async fn query(
    server: SocketAddr,
    name: &Name,
    record_type: RecordType,
    options: QueryOptions,
) -> Result<RawAnswer, RawError> {
    let started = Instant::now();
    let id = random_id()?;
    let message = build_query(id, name, record_type, options.recursion_desired);
    let bytes = message.to_vec().map_err(|e| RawError::Query {
        name: SafeText::clean(&name.to_ascii()),
        reason: e.to_string(),
    })?;
    let exchange = Exchange {
        server,
        bytes: &bytes,
        id,
        question: &message.queries()[0],
        timeout: options.timeout,
    };

    let mut over_tcp = options.tcp_only;
    let mut reply = if options.tcp_only {
        exchange.tcp().await?
    } else {
        exchange.udp().await?
    };
    if reply.truncated() && !over_tcp {
        reply = exchange.tcp().await?;
        over_tcp = true;
    }
    Ok(RawAnswer {
        rcode: reply.response_code(),
        authentic_data: reply.authentic_data(),
        authoritative: reply.authoritative(),
        over_tcp,
        answers: reply.take_answers(),
        authority: reply.take_name_servers(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

fn random_id() -> Result<u16, RawError> {
    let mut id = [0u8; 2];
    SystemRandom::new().fill(&mut id).map_err(|_| RawError::Random)?;
    Ok(u16::from_be_bytes(id))
}

fn build_query(id: u16, name: &Name, record_type: RecordType, recursion_desired: bool) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(UDP_PAYLOAD).set_version(0).set_dnssec_ok(true);
    let mut name = name.clone();
    name.set_fqdn(true);
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(recursion_desired)
        .set_authentic_data(true)
        .add_query(Query::query(name, record_type))
        .set_edns(edns);
    message
}

/// Decodes a reply and checks that it answers our query: same id, a response,
/// same question (names compare case-insensitively). Error replies without a
/// question section (FORMERR, NOTIMP) are accepted, as RFC 1035 servers send them.
pub(crate) fn check_reply(bytes: &[u8], id: u16, question: &Query) -> Result<Message, String> {
    let message = Message::from_vec(bytes).map_err(|e| format!("undecodable message ({e})"))?;
    if message.id() != id {
        return Err(format!("reply id {} does not match query id {id}", message.id()));
    }
    if message.message_type() != MessageType::Response {
        return Err("a query instead of a response".to_string());
    }
    match message.queries() {
        [] if message.response_code() != ResponseCode::NoError => Ok(message),
        [q] if q.name() == question.name()
            && q.query_type() == question.query_type()
            && q.query_class() == DNSClass::IN =>
        {
            Ok(message)
        }
        _ => Err("the reply answers a different question".to_string()),
    }
}

/// One encoded query on its way to one server, over either transport.
struct Exchange<'a> {
    server: SocketAddr,
    bytes: &'a [u8],
    id: u16,
    question: &'a Query,
    /// Per transport.
    timeout: Duration,
}

impl Exchange<'_> {
    async fn udp(&self) -> Result<Message, RawError> {
        let server = self.server;
        let io = |source| {
            Some(RawError::Io {
                server,
                transport: "udp",
                source,
            })
        };
        let local: IpAddr = match server {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        // Replies that are not ours are skipped; if nothing else comes, the last one
        // explains the failure better than a bare timeout.
        let mut stray: Option<String> = None;
        let exchange = async {
            let socket = UdpSocket::bind((local, 0)).await.map_err(io)?;
            // Connected: the kernel drops datagrams from any other address.
            socket.connect(server).await.map_err(io)?;
            socket.send(self.bytes).await.map_err(io)?;
            let mut buffer = vec![0u8; UDP_BUFFER];
            for _ in 0..MAX_STRAY_DATAGRAMS {
                let len = socket.recv(&mut buffer).await.map_err(io)?;
                match check_reply(&buffer[..len], self.id, self.question) {
                    Ok(message) => return Ok(message),
                    Err(reason) => stray = Some(reason),
                }
            }
            Err(None)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(Some(error))) => Err(error),
            Ok(Err(None)) | Err(_) => Err(match stray {
                Some(reason) => RawError::Malformed { server, reason },
                None => self.timed_out(),
            }),
        }
    }

    /// RFC 1035 §4.2.2 / RFC 7766: a two-byte length, then the message, both ways.
    async fn tcp(&self) -> Result<Message, RawError> {
        let server = self.server;
        let io = |source| RawError::Io {
            server,
            transport: "tcp",
            source,
        };
        let exchange = async {
            let mut stream = TcpStream::connect(server).await.map_err(io)?;
            let len = u16::try_from(self.bytes.len()).map_err(|_| RawError::Query {
                name: SafeText::clean(&self.question.name().to_ascii()),
                reason: "query longer than 65535 bytes".to_string(),
            })?;
            let mut framed = Vec::with_capacity(self.bytes.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(self.bytes);
            stream.write_all(&framed).await.map_err(io)?;
            let reply_len = stream.read_u16().await.map_err(io)?;
            // The length prefix bounds the read to 64 KiB.
            let mut reply = vec![0u8; usize::from(reply_len)];
            stream.read_exact(&mut reply).await.map_err(io)?;
            check_reply(&reply, self.id, self.question).map_err(|reason| RawError::Malformed { server, reason })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(self.timed_out()))
    }

    fn timed_out(&self) -> RawError {
        RawError::Timeout {
            server: self.server,
            timeout: self.timeout,
        }
    }
}

/// The first name server in the system configuration (`/etc/resolv.conf`), for
/// raw queries when the operator named none. Whether AD from it can be trusted
/// depends on what it is and how it is reached, which only the operator knows.
pub fn first_system_nameserver() -> Option<SocketAddr> {
    let (config, _) = hickory_resolver::system_conf::read_system_conf().ok()?;
    config.name_servers().first().map(|server| server.socket_addr)
}

/// What a TLSA lookup (RFC 6698, RFC 7672 §2.2) found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaLookup {
    /// `_<port>._tcp.<host>`, as queried.
    pub owner: String,
    pub status: TlsaStatus,
    /// The resolver set AD. Means "DNSSEC-secure" only when `resolver` is a
    /// validating resolver the operator chose, reached over a trusted path
    /// (loopback); otherwise it proves nothing.
    pub authenticated: bool,
    pub records: Vec<TlsaRecord>,
    /// Where the records were found when the owner is a CNAME; `None` otherwise.
    #[serde(default)]
    pub alias_target: Option<String>,
    pub resolver: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsaStatus {
    Found,
    NxDomain,
    NoData,
    /// For DANE this makes the MX unusable (RFC 7672 §2.1.1), unlike NXDOMAIN/NODATA.
    ServFail,
    Error {
        message: String,
    },
}

/// One TLSA record's fields as numbers (RFC 7218 names them: usage 3 is
/// DANE-EE, selector 1 SPKI, matching 1 SHA2-256) and its data in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsaRecord {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: String,
}

/// Looks up the TLSA RRset for `host:port` through `server` (a recursive
/// resolver: RD=1). A CNAME at the owner is followed when the resolver returned
/// the chain in its answer, as recursive resolvers do.
pub async fn tlsa(server: SocketAddr, host: &str, port: u16, timeout: Duration) -> TlsaLookup {
    let host_name = host.trim_end_matches('.');
    let mut lookup = TlsaLookup {
        owner: SafeText::clean(&format!("_{port}._tcp.{}", host_name.to_ascii_lowercase())),
        status: TlsaStatus::NoData,
        authenticated: false,
        records: Vec::new(),
        alias_target: None,
        resolver: server,
    };
    let owner = match tlsa_owner(host_name, port) {
        Ok(owner) => owner,
        Err(message) => {
            lookup.status = TlsaStatus::Error {
                message: SafeText::clean(&message),
            };
            return lookup;
        }
    };
    lookup.owner = display(&owner);
    let answer = match query(server, &owner, RecordType::TLSA, QueryOptions::recursive(timeout)).await {
        Ok(answer) => answer,
        Err(e) => {
            lookup.status = TlsaStatus::Error {
                message: SafeText::clean(&e.to_string()),
            };
            return lookup;
        }
    };
    lookup.authenticated = answer.authentic_data;
    let (target, records) = tlsa_records(&owner, &answer.answers);
    if target != owner {
        lookup.alias_target = Some(display(&target));
    }
    lookup.records = records;
    lookup.status = match answer.rcode {
        ResponseCode::NoError if lookup.records.is_empty() => TlsaStatus::NoData,
        ResponseCode::NoError => TlsaStatus::Found,
        ResponseCode::NXDomain => TlsaStatus::NxDomain,
        ResponseCode::ServFail => TlsaStatus::ServFail,
        code => TlsaStatus::Error {
            message: format!("server answered {code}"),
        },
    };
    lookup
}

/// The TLSA records at `owner` or at the end of its CNAME chain, at most
/// [`MAX_TLSA_RECORDS`], with the name they were found at. Pure, so it is fuzzed.
pub(crate) fn tlsa_records(owner: &Name, answers: &[Record]) -> (Name, Vec<TlsaRecord>) {
    let (target, records) = follow_chain(owner, RecordType::TLSA, answers);
    let records = records
        .iter()
        .filter_map(|record| match record.data() {
            RData::TLSA(tlsa) => Some(TlsaRecord {
                usage: u8::from(tlsa.cert_usage()),
                selector: u8::from(tlsa.selector()),
                matching: u8::from(tlsa.matching()),
                data: hex(tlsa.cert_data()),
            }),
            _ => None,
        })
        .take(MAX_TLSA_RECORDS)
        .collect();
    (target, records)
}

fn tlsa_owner(host: &str, port: u16) -> Result<Name, String> {
    let host = Name::from_utf8(host).map_err(|e| format!("{host:?} is not a valid DNS name: {e}"))?;
    Name::from_ascii(format!("_{port}._tcp"))
        .and_then(|prefix| prefix.append_domain(&host))
        .map(|mut name| {
            name.set_fqdn(true);
            name
        })
        .map_err(|e| format!("cannot form the TLSA owner name for {host}: {e}"))
}

/// Follows CNAMEs from `name` through the answer section (in any order, bounded,
/// loop-safe) and returns the final name with the records of `record_type` there.
pub fn follow_chain<'a>(name: &Name, record_type: RecordType, answers: &'a [Record]) -> (Name, Vec<&'a Record>) {
    let mut current = name.clone();
    for _ in 0..=MAX_CNAME_HOPS {
        let here: Vec<&Record> = answers
            .iter()
            .filter(|r| r.name() == &current && r.record_type() == record_type)
            .collect();
        if !here.is_empty() || record_type == RecordType::CNAME {
            return (current, here);
        }
        let next = answers.iter().find_map(|r| match r.data() {
            RData::CNAME(target) if r.name() == &current => Some(target.0.clone()),
            _ => None,
        });
        match next {
            Some(target) if target != *name => current = target,
            _ => break,
        }
    }
    (current, Vec::new())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::CNAME;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn query_sets_ad_do_and_rd_as_asked() {
        let message = build_query(7, &name("_25._tcp.mx.example"), RecordType::TLSA, false);
        let decoded = Message::from_vec(&message.to_vec().unwrap()).unwrap();
        assert!(decoded.authentic_data());
        assert!(!decoded.recursion_desired());
        let edns = decoded.extensions().as_ref().expect("EDNS present");
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), UDP_PAYLOAD);
        assert_eq!(decoded.queries()[0].name().to_ascii(), "_25._tcp.mx.example.");
    }

    #[test]
    fn replies_to_other_queries_are_rejected() {
        let query = build_query(7, &name("mx.example."), RecordType::A, true);
        let question = query.queries()[0].clone();
        let mut reply = query.clone();
        reply.set_message_type(MessageType::Response);
        assert!(check_reply(&reply.to_vec().unwrap(), 7, &question).is_ok());
        assert!(check_reply(&reply.to_vec().unwrap(), 8, &question).is_err());
        // Same id, another name: a stray or spoofed reply.
        let mut other = build_query(7, &name("evil.example."), RecordType::A, true);
        other.set_message_type(MessageType::Response);
        assert!(check_reply(&other.to_vec().unwrap(), 7, &question).is_err());
        // Names compare case-insensitively (0x20 randomisation, RFC 4343).
        let mut upper = build_query(7, &name("MX.Example."), RecordType::A, true);
        upper.set_message_type(MessageType::Response);
        assert!(check_reply(&upper.to_vec().unwrap(), 7, &question).is_ok());
        assert!(check_reply(b"\x00\x07garbage", 7, &question).is_err());
        assert!(check_reply(b"", 7, &question).is_err());
    }

    #[test]
    fn cname_loops_end() {
        let a = name("a.example.");
        let b = name("b.example.");
        let records = vec![
            Record::from_rdata(a.clone(), 60, RData::CNAME(CNAME(b.clone()))),
            Record::from_rdata(b.clone(), 60, RData::CNAME(CNAME(a.clone()))),
        ];
        let (_, found) = follow_chain(&a, RecordType::TLSA, &records);
        assert!(found.is_empty());
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0xab, 0x01, 0xff]), "ab01ff");
    }
}
