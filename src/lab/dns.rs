//! The lab's authoritative DNS server: one in-memory zone served over UDP and
//! TCP on the same loopback port, so the resolver code can be tested against
//! answers we control (MX sets, null MX, NXDOMAIN vs NODATA, CNAME chains,
//! TTLs) without touching the real DNS.
//!
//! Names in a [`ZoneSpec`] are always fully qualified: `"mx.healthy.lab.test"`
//! and `"mx.healthy.lab.test."` mean the same name, and a lone `"."` is the root
//! (used for the RFC 7505 null MX). There is no relative-name or `@` syntax,
//! so a name reads the same in a scenario as in a report. Owners must lie
//! inside the origin; MX exchanges and CNAME targets may point anywhere.
//!
//! hickory-server does the wire work. A thin [`Authority`] wrapper around its
//! `InMemoryAuthority` adds the one behaviour a stock authority lacks: an
//! in-zone CNAME chain is answered in the answer section (RFC 1034 §4.3.2,
//! step 3a), not split into the additional section, so a resolver sees what a
//! production server would send.
//!
//! The server can also play a DNSSEC-validating resolver for DANE tests
//! ([`ZoneSpec::authenticated`], [`ZoneSpec::secure_name`]): answers for the
//! chosen names carry the AD bit when the query set AD or DO. Nothing is
//! signed and nothing is validated; it only claims what a validating
//! resolver would claim, which is all a client trusting AD can observe. The
//! stock `Catalog` sets AD only from its own DNSSEC validation, so a request
//! handler around it sets the bit on the way out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::ProtoError;
use hickory_proto::op::{Header, ResponseCode};
use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TLSA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::ServerFuture;
use hickory_server::authority::{
    AuthLookup, Authority, Catalog, LookupControlFlow, LookupOptions, LookupRecords, MessageRequest, MessageResponse,
    UpdateResult, ZoneType,
};
use hickory_server::server::{Request, RequestHandler, RequestInfo, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryAuthority;
use tokio::net::{TcpListener, UdpSocket};

/// TTL for records added before any [`ZoneSpec::ttl`] call; long enough that
/// a test never sees it expire, short enough to look like a real zone.
const DEFAULT_TTL: u32 = 300;

/// SOA MINIMUM, i.e. the negative-caching TTL (RFC 2308 §4) a resolver
/// derives from NXDOMAIN/NODATA answers.
const NEGATIVE_TTL: u32 = 60;

/// Serial of the one zone version the lab ever serves.
const SOA_SERIAL: u32 = 1;

/// Ports tried when the caller asks for port 0: the kernel picks a free UDP
/// port, and another process may already hold the same TCP port.
const BIND_ATTEMPTS: u32 = 8;

/// How long an idle TCP client may hold a connection; keeps a stuck test from
/// pinning server tasks forever.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest CNAME chain followed inside the zone; a guard against scenario
/// typos, far above any chain a real resolver tolerates.
const MAX_CNAME_CHAIN: usize = 8;

/// What can go wrong building the lab zone or starting its server.
#[derive(Debug, thiserror::Error)]
pub enum LabDnsError {
    /// A name in the zone spec is not a valid DNS name.
    #[error("invalid dns name {name:?} in lab zone")]
    InvalidName {
        name: String,
        #[source]
        source: ProtoError,
    },
    /// A record's owner is not inside the zone, so this server would refuse
    /// every query for it.
    #[error("record owner {owner} is outside the lab zone {origin}")]
    OutsideZone { owner: String, origin: String },
    /// RFC 1034 §3.6.2: a CNAME must be the only record at its name.
    #[error("cannot add {record_type} at {owner} in the lab zone: a cname must be the only record at its name")]
    CnameConflict { owner: String, record_type: String },
    /// The same record was added twice; hickory would drop the copy silently,
    /// which hides a scenario typo.
    #[error("duplicate {record_type} record at {owner} in the lab zone")]
    DuplicateRecord { owner: String, record_type: String },
    /// A UDP or TCP socket could not be bound.
    #[error("binding the lab dns {protocol} socket on {addr}")]
    Bind {
        protocol: &'static str,
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// Port 0 was requested but every port the kernel offered for UDP was
    /// already taken for TCP.
    #[error("no port on {ip} was free for both udp and tcp after {attempts} attempts")]
    NoSharedPort { ip: IpAddr, attempts: u32 },
    /// The server tasks ended with an error while shutting down.
    #[error("stopping the lab dns server on {addr}")]
    Shutdown {
        addr: SocketAddr,
        #[source]
        source: ProtoError,
    },
}

/// The data of one record, kept as written so that the builder can stay
/// infallible and every name is checked once, in [`DnsServer::start`].
#[derive(Debug, Clone)]
enum PendingData {
    Mx {
        preference: u16,
        exchange: String,
    },
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ns(String),
    Txt(Vec<String>),
    Tlsa {
        usage: u8,
        selector: u8,
        matching: u8,
        data: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
struct PendingRecord {
    owner: String,
    ttl: u32,
    data: PendingData,
}

/// The contents of the lab zone, built up by scenarios before the server
/// starts. The SOA is added automatically, and so is the apex NS
/// `ns.<origin>` (with an address pointing at the server) unless the spec
/// adds apex NS records of its own.
#[derive(Debug, Clone)]
pub struct ZoneSpec {
    origin: String,
    ttl: u32,
    records: Vec<PendingRecord>,
    /// Every answer from the zone claims DNSSEC validation.
    authenticated: bool,
    /// Owner names whose answers claim DNSSEC validation.
    secure_names: Vec<String>,
}

impl ZoneSpec {
    /// A zone with only its SOA and NS; `origin` is e.g. `"lab.test"`.
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_owned(),
            ttl: DEFAULT_TTL,
            records: Vec::new(),
            authenticated: false,
            secure_names: Vec::new(),
        }
    }

    /// Adds an NS record. At the origin it replaces the automatic
    /// `ns.<origin>`; below it, the name simply answers NS queries (the lab
    /// serves no referrals), which is enough for a client looking for the
    /// servers of a domain.
    pub fn ns(&mut self, owner: &str, target: &str) -> &mut Self {
        self.push(owner, PendingData::Ns(target.to_owned()))
    }

    /// Makes the server answer like a DNSSEC-validating resolver for the
    /// whole zone: AD is set on NOERROR and NXDOMAIN answers to queries with
    /// AD or DO. Nothing is signed; see the module documentation.
    pub fn authenticated(&mut self, authenticated: bool) -> &mut Self {
        self.authenticated = authenticated;
        self
    }

    /// Like [`Self::authenticated`] for queries for one owner name only, so
    /// a scenario can mix "secure" and "insecure" names (e.g. a secure MX
    /// host whose TLSA answer is not).
    pub fn secure_name(&mut self, owner: &str) -> &mut Self {
        self.secure_names.push(owner.to_owned());
        self
    }

    /// Adds an MX record; an `exchange` of `"."` makes it a null MX
    /// (RFC 7505: the domain accepts no mail).
    pub fn mx(&mut self, owner: &str, preference: u16, exchange: &str) -> &mut Self {
        self.push(
            owner,
            PendingData::Mx {
                preference,
                exchange: exchange.to_owned(),
            },
        )
    }

    pub fn a(&mut self, owner: &str, ip: Ipv4Addr) -> &mut Self {
        self.push(owner, PendingData::A(ip))
    }

    pub fn aaaa(&mut self, owner: &str, ip: Ipv6Addr) -> &mut Self {
        self.push(owner, PendingData::Aaaa(ip))
    }

    /// Adds a CNAME; the owner may then hold no other record. In-zone targets
    /// are answered alongside the CNAME, as a real authoritative server does.
    pub fn cname(&mut self, owner: &str, target: &str) -> &mut Self {
        self.push(owner, PendingData::Cname(target.to_owned()))
    }

    /// Adds one TXT record made of several character-strings, which is how
    /// long SPF or MTA-STS records are split on the wire.
    pub fn txt(&mut self, owner: &str, strings: &[&str]) -> &mut Self {
        let strings = strings.iter().map(|s| (*s).to_owned()).collect();
        self.push(owner, PendingData::Txt(strings))
    }

    /// Adds a DANE TLSA record (RFC 6698), e.g. at `"_25._tcp.mx.lab.test"`;
    /// the three fields are the raw numbers (`3 1 1` for DANE-EE SPKI SHA-256).
    pub fn tlsa(&mut self, owner: &str, usage: u8, selector: u8, matching: u8, data: &[u8]) -> &mut Self {
        self.push(
            owner,
            PendingData::Tlsa {
                usage,
                selector,
                matching,
                data: data.to_vec(),
            },
        )
    }

    /// Sets the TTL for records added after this call, so a scenario can
    /// show a short-TTL record next to long-lived ones.
    pub fn ttl(&mut self, ttl: u32) -> &mut Self {
        self.ttl = ttl;
        self
    }

    fn push(&mut self, owner: &str, data: PendingData) -> &mut Self {
        self.records.push(PendingRecord {
            owner: owner.to_owned(),
            ttl: self.ttl,
            data,
        });
        self
    }

    /// Turns the spec into an authority, adding SOA, NS and (when the server
    /// address is concrete) an address record for the NS name.
    fn build(&self, server_ip: IpAddr) -> Result<ZoneAuthority, LabDnsError> {
        let origin = parse_name(&self.origin)?;
        let ns_name = prefixed(&origin, "ns")?;
        let hostmaster = prefixed(&origin, "hostmaster")?;

        let soa = SOA::new(ns_name.clone(), hostmaster, SOA_SERIAL, 3600, 600, 86400, NEGATIVE_TTL);
        let mut records = vec![Record::from_rdata(origin.clone(), DEFAULT_TTL, RData::SOA(soa))];
        let mut apex_ns = false;
        for pending in &self.records {
            let owner = parse_name(&pending.owner)?;
            if !origin.zone_of(&owner) {
                return Err(LabDnsError::OutsideZone {
                    owner: owner.to_string(),
                    origin: origin.to_string(),
                });
            }
            apex_ns |= owner == origin && matches!(pending.data, PendingData::Ns(_));
            records.push(Record::from_rdata(owner, pending.ttl, pending.data.to_rdata()?));
        }
        if apex_ns {
            return ZoneAuthority::new(origin, records);
        }
        records.push(Record::from_rdata(
            origin.clone(),
            DEFAULT_TTL,
            RData::NS(NS(ns_name.clone())),
        ));

        // Glue for the NS name, unless the scenario defines that name itself
        // or the server listens on a wildcard address nobody can reach.
        let ns_is_free = !records.iter().any(|r| r.name() == &ns_name);
        if ns_is_free && !server_ip.is_unspecified() {
            let rdata = match server_ip {
                IpAddr::V4(ip) => RData::A(A(ip)),
                IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
            };
            records.push(Record::from_rdata(ns_name, DEFAULT_TTL, rdata));
        }

        ZoneAuthority::new(origin, records)
    }
}

impl PendingData {
    fn to_rdata(&self) -> Result<RData, LabDnsError> {
        Ok(match self {
            Self::Mx { preference, exchange } => RData::MX(MX::new(*preference, parse_name(exchange)?)),
            Self::A(ip) => RData::A(A(*ip)),
            Self::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
            Self::Cname(target) => RData::CNAME(CNAME(parse_name(target)?)),
            Self::Ns(target) => RData::NS(NS(parse_name(target)?)),
            Self::Txt(strings) => RData::TXT(TXT::new(strings.clone())),
            Self::Tlsa {
                usage,
                selector,
                matching,
                data,
            } => RData::TLSA(TLSA::new(
                CertUsage::from(*usage),
                Selector::from(*selector),
                Matching::from(*matching),
                data.clone(),
            )),
        })
    }
}

/// Parses a zone-spec name: always fully qualified, trailing dot optional.
fn parse_name(text: &str) -> Result<Name, LabDnsError> {
    let invalid = |source| LabDnsError::InvalidName {
        name: text.to_owned(),
        source,
    };
    if text == "." {
        return Ok(Name::root());
    }
    if text.is_empty() {
        return Err(invalid(ProtoError::from("empty name")));
    }
    let absolute = if text.ends_with('.') {
        text.to_owned()
    } else {
        format!("{text}.")
    };
    Name::from_ascii(&absolute).map_err(invalid)
}

/// `label.origin`, for the SOA/NS names the zone invents for itself.
fn prefixed(origin: &Name, label: &str) -> Result<Name, LabDnsError> {
    Name::from_ascii(label)
        .and_then(|name| name.append_domain(origin))
        .map_err(|source| LabDnsError::InvalidName {
            name: format!("{label}.{origin}"),
            source,
        })
}

/// `InMemoryAuthority` plus in-zone CNAME chasing.
///
/// The stock authority answers `alias A?` with only the first CNAME in the
/// answer section and the rest of the chain in the additional section. Real
/// servers put the whole chain in the answer section, and with the stock
/// layout hickory-resolver 0.25 reports an intermediate CNAME twice in the
/// lookup's records. So queries that hit a CNAME are answered here from a
/// snapshot of the zone; everything else (NXDOMAIN vs NODATA, SOA, MX glue)
/// is left to the stock authority.
struct ZoneAuthority {
    inner: InMemoryAuthority,
    records: BTreeMap<RrKey, Arc<RecordSet>>,
}

impl ZoneAuthority {
    fn new(origin: Name, records: Vec<Record>) -> Result<Self, LabDnsError> {
        let mut inner = InMemoryAuthority::empty(origin, ZoneType::Primary, false);
        // hickory reports a rejected record only as `false`; track what each
        // name holds so a CNAME conflict is told apart from a duplicate.
        let mut types_at: HashMap<LowerName, HashSet<RecordType>> = HashMap::new();
        for record in records {
            let owner = LowerName::new(record.name());
            let record_type = record.record_type();
            let types = types_at.entry(owner).or_default();
            let conflict = if record_type == RecordType::CNAME {
                !types.is_empty()
            } else {
                types.contains(&RecordType::CNAME)
            };
            let owner = record.name().to_string();
            if conflict {
                let record_type = record_type.to_string();
                return Err(LabDnsError::CnameConflict { owner, record_type });
            }
            types.insert(record_type);
            if !inner.upsert_mut(record, SOA_SERIAL) {
                let record_type = record_type.to_string();
                return Err(LabDnsError::DuplicateRecord { owner, record_type });
            }
        }
        let records = inner.records_get_mut().clone();
        Ok(Self { inner, records })
    }

    fn rrset(&self, name: &LowerName, record_type: RecordType) -> Option<Arc<RecordSet>> {
        self.records.get(&RrKey::new(name.clone(), record_type)).cloned()
    }

    /// The CNAME rrsets starting at `first`, followed while the target is in
    /// this zone, then the target's `record_type` rrset if it has one. A
    /// missing or out-of-zone target leaves just the CNAMEs, which tells the
    /// resolver to continue from the last target itself.
    fn cname_chain(&self, first: Arc<RecordSet>, record_type: RecordType) -> Vec<Arc<RecordSet>> {
        let mut seen = HashSet::from([LowerName::new(first.name())]);
        let mut chain = vec![first];
        while chain.len() < MAX_CNAME_CHAIN {
            let Some(target) = chain.last().and_then(|set| cname_target(set)) else {
                break;
            };
            if !self.inner.origin().zone_of(&target) || !seen.insert(target.clone()) {
                break;
            }
            if let Some(next) = self.rrset(&target, RecordType::CNAME) {
                chain.push(next);
                continue;
            }
            if let Some(answer) = self.rrset(&target, record_type) {
                chain.push(answer);
            }
            break;
        }
        chain
    }
}

fn cname_target(set: &RecordSet) -> Option<LowerName> {
    set.records_without_rrsigs().find_map(|record| match record.data() {
        RData::CNAME(CNAME(target)) => Some(LowerName::new(target)),
        _ => None,
    })
}

#[async_trait::async_trait]
impl Authority for ZoneAuthority {
    type Lookup = AuthLookup;

    fn zone_type(&self) -> ZoneType {
        self.inner.zone_type()
    }

    fn is_axfr_allowed(&self) -> bool {
        self.inner.is_axfr_allowed()
    }

    async fn update(&self, update: &MessageRequest) -> UpdateResult<bool> {
        self.inner.update(update).await
    }

    fn origin(&self) -> &LowerName {
        self.inner.origin()
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<Self::Lookup> {
        // A query for the CNAME itself (or for everything) gets the plain
        // record; any other type at an alias is a chain to follow.
        let follows_cname = !matches!(rtype, RecordType::CNAME | RecordType::ANY | RecordType::AXFR);
        let alias = if follows_cname {
            self.rrset(name, RecordType::CNAME)
        } else {
            None
        };
        match alias {
            Some(first) => {
                let chain = self.cname_chain(first, rtype);
                LookupControlFlow::Continue(Ok(AuthLookup::answers(
                    LookupRecords::many(lookup_options, chain),
                    None,
                )))
            }
            None => self.inner.lookup(name, rtype, lookup_options).await,
        }
    }

    async fn search(&self, request: RequestInfo<'_>, lookup_options: LookupOptions) -> LookupControlFlow<Self::Lookup> {
        let query = request.query;
        // The stock `search` answers an SOA query for *any* name with the
        // apex SOA; a real server gives NODATA/NXDOMAIN below the apex, so
        // only AXFR (refused here) goes to it.
        if query.query_type() == RecordType::AXFR {
            return self.inner.search(request, lookup_options).await;
        }
        self.lookup(query.name(), query.query_type(), lookup_options).await
    }

    async fn get_nsec_records(
        &self,
        name: &LowerName,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<Self::Lookup> {
        self.inner.get_nsec_records(name, lookup_options).await
    }
}

/// Which answers claim DNSSEC validation (the AD bit).
#[derive(Debug, Default)]
struct SecureNames {
    all: bool,
    names: HashSet<LowerName>,
}

impl ZoneSpec {
    fn secure_names(&self) -> Result<SecureNames, LabDnsError> {
        let origin = parse_name(&self.origin)?;
        let mut names = HashSet::new();
        for text in &self.secure_names {
            let name = parse_name(text)?;
            if !origin.zone_of(&name) {
                return Err(LabDnsError::OutsideZone {
                    owner: name.to_string(),
                    origin: origin.to_string(),
                });
            }
            names.insert(LowerName::new(&name));
        }
        Ok(SecureNames {
            all: self.authenticated,
            names,
        })
    }
}

/// The catalog plus the lab's stand-in for DNSSEC validation.
///
/// hickory's `Catalog` sets AD only after validating signatures itself
/// (`can_validate_dnssec`, forwarders and recursors with a DNSSEC feature),
/// so the bit is set here, on the response on its way out, instead.
struct LabHandler {
    catalog: Catalog,
    secure: SecureNames,
}

impl LabHandler {
    /// RFC 6840 §5.7: a client shows it understands AD by setting AD or DO;
    /// a validating resolver sets AD only then.
    fn claims_validation(&self, request: &Request) -> bool {
        let asks = request.authentic_data() || request.edns().is_some_and(|edns| edns.flags().dnssec_ok);
        let [query] = request.queries() else {
            return false;
        };
        asks && (self.secure.all || self.secure.names.contains(query.name()))
    }
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        if self.claims_validation(request) {
            let handle = MarkAuthentic { inner: response_handle };
            self.catalog.handle_request(request, handle).await
        } else {
            self.catalog.handle_request(request, response_handle).await
        }
    }
}

/// Sets AD on answers a validating resolver would call secure: positive
/// answers and NXDOMAIN, not SERVFAIL or REFUSED.
#[derive(Clone)]
struct MarkAuthentic<R> {
    inner: R,
}

#[async_trait::async_trait]
impl<R: ResponseHandler> ResponseHandler for MarkAuthentic<R> {
    async fn send_response<'a>(
        &mut self,
        mut response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> io::Result<ResponseInfo> {
        let header: &mut Header = response.header_mut();
        if matches!(header.response_code(), ResponseCode::NoError | ResponseCode::NXDomain) {
            header.set_authentic_data(true);
        }
        self.inner.send_response(response).await
    }
}

/// A running lab DNS server. Dropping it stops the server; [`Self::shutdown`]
/// does the same and waits until the sockets are closed.
pub struct DnsServer {
    addr: SocketAddr,
    server: ServerFuture<LabHandler>,
}

impl fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Builds the zone and serves it on `bind` over UDP and TCP. With port 0
    /// a port free for both protocols is chosen, because resolvers retry
    /// truncated or failed UDP answers over TCP on the same port.
    ///
    /// Must be called inside a tokio runtime; the server runs on it.
    pub async fn start(zone: &ZoneSpec, bind: SocketAddr) -> Result<DnsServer, LabDnsError> {
        let authority = zone.build(bind.ip())?;
        let secure = zone.secure_names()?;
        let origin = authority.origin().clone();
        let (udp, tcp, addr) = bind_udp_and_tcp(bind).await?;

        let mut catalog = Catalog::new();
        catalog.upsert(origin, vec![Arc::new(authority)]);
        let mut server = ServerFuture::new(LabHandler { catalog, secure });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT);
        Ok(DnsServer { addr, server })
    }

    /// The address both the UDP socket and the TCP listener are bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for its tasks, so a test can be sure the
    /// port is released.
    pub async fn shutdown(mut self) -> Result<(), LabDnsError> {
        let addr = self.addr;
        self.server
            .shutdown_gracefully()
            .await
            .map_err(|source| LabDnsError::Shutdown { addr, source })
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Cancelling lets the socket tasks end cleanly; dropping the
        // ServerFuture right after aborts whatever is still running.
        self.server.shutdown_token().cancel();
    }
}

/// Binds UDP first, then TCP on the port UDP got; with port 0, retries when
/// that TCP port is already taken.
async fn bind_udp_and_tcp(bind: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), LabDnsError> {
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind(bind).await.map_err(|source| LabDnsError::Bind {
            protocol: "udp",
            addr: bind,
            source,
        })?;
        let addr = udp.local_addr().map_err(|source| LabDnsError::Bind {
            protocol: "udp",
            addr: bind,
            source,
        })?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(err) if bind.port() == 0 && err.kind() == io::ErrorKind::AddrInUse => continue,
            Err(source) => {
                return Err(LabDnsError::Bind {
                    protocol: "tcp",
                    addr,
                    source,
                });
            }
        }
    }
    Err(LabDnsError::NoSharedPort {
        ip: bind.ip(),
        attempts: BIND_ATTEMPTS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fully_qualified_with_or_without_trailing_dot() {
        let plain = parse_name("mx.lab.test").unwrap();
        let dotted = parse_name("mx.lab.test.").unwrap();
        assert_eq!(plain, dotted);
        assert!(plain.is_fqdn());
        assert!(parse_name(".").unwrap().is_root());
        assert!(parse_name("").is_err());
    }

    #[test]
    fn owner_outside_origin_is_rejected() {
        let mut zone = ZoneSpec::new("lab.test");
        zone.a("mx.example.com", Ipv4Addr::LOCALHOST);
        let err = zone.build(IpAddr::V4(Ipv4Addr::LOCALHOST)).err();
        assert!(matches!(err, Some(LabDnsError::OutsideZone { .. })), "{err:?}");
    }

    #[test]
    fn rfc1034_cname_cannot_share_its_name() {
        let mut zone = ZoneSpec::new("lab.test");
        zone.a("www.lab.test", Ipv4Addr::LOCALHOST)
            .cname("www.lab.test", "other.lab.test");
        let err = zone.build(IpAddr::V4(Ipv4Addr::LOCALHOST)).err();
        assert!(matches!(err, Some(LabDnsError::CnameConflict { .. })), "{err:?}");

        let mut apex = ZoneSpec::new("lab.test");
        apex.cname("lab.test", "elsewhere.example");
        let err = apex.build(IpAddr::V4(Ipv4Addr::LOCALHOST)).err();
        assert!(matches!(err, Some(LabDnsError::CnameConflict { .. })), "{err:?}");
    }

    #[test]
    fn duplicate_record_is_reported() {
        let mut zone = ZoneSpec::new("lab.test");
        zone.a("a.lab.test", Ipv4Addr::LOCALHOST)
            .a("a.lab.test", Ipv4Addr::LOCALHOST);
        let err = zone.build(IpAddr::V4(Ipv4Addr::LOCALHOST)).err();
        assert!(matches!(err, Some(LabDnsError::DuplicateRecord { .. })), "{err:?}");
    }

    #[test]
    fn ttl_applies_to_later_records_only() {
        let mut zone = ZoneSpec::new("lab.test");
        zone.a("a.lab.test", Ipv4Addr::LOCALHOST)
            .ttl(30)
            .a("b.lab.test", Ipv4Addr::LOCALHOST);
        let ttls: Vec<u32> = zone.records.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [DEFAULT_TTL, 30]);
    }
}
