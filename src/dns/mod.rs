//! Resolution of a destination: MX set in preference order, then A and AAAA for
//! every host, all concurrently, with TTLs and CNAME chains kept as evidence.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::xfer::Protocol;
use hickory_resolver::config::{NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, ResolveErrorKind, TokioResolver};
use thiserror::Error;

use crate::model::{AddressRecord, LookupStatus, MxHost, MxOutcome, Resolution};
use crate::text::SafeText;

pub mod compare;
pub mod raw;

/// Most MX hosts followed, and addresses kept per host: a hostile zone must not turn
/// one check into thousands of lookups and connections. Real domains stay far below.
pub const MAX_MX_HOSTS: usize = 10;
pub const MAX_ADDRESSES_PER_HOST: usize = 8;

#[derive(Debug, Error)]
pub enum DnsError {
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(#[source] ResolveError),
    #[error("{0:?} is not a valid DNS name: {1}")]
    BadName(String, String),
}

/// Which address families to look up and probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Both,
    V4Only,
    V6Only,
}

/// A resolver for diagnostics: no hosts file, no cache between runs, FQDN queries.
pub struct Dns {
    resolver: TokioResolver,
    family: Family,
}

/// What one lookup produced, before it is folded into the model.
enum Answer {
    Records(Vec<Record>),
    NxDomain,
    NoData,
    Failed(String),
}

impl Dns {
    /// `nameservers` empty means the system configuration (`/etc/resolv.conf`).
    pub fn new(nameservers: &[SocketAddr], family: Family, timeout: Duration) -> Result<Self, DnsError> {
        let mut builder = if nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(DnsError::SystemConfig)?
        } else {
            let servers: Vec<NameServerConfig> = nameservers
                .iter()
                .flat_map(|&addr| {
                    [Protocol::Udp, Protocol::Tcp].map(|protocol| {
                        let mut server = NameServerConfig::new(addr, protocol);
                        server.trust_negative_responses = true;
                        server
                    })
                })
                .collect();
            let config = ResolverConfig::from_parts(None, vec![], NameServerConfigGroup::from(servers));
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
        };
        let opts = builder.options_mut();
        opts.use_hosts_file = ResolveHosts::Never;
        opts.ndots = 0;
        opts.timeout = timeout;
        opts.attempts = 2;
        // Keep CNAME records in answers: they are evidence.
        opts.preserve_intermediates = true;
        opts.cache_size = 0;
        Ok(Self {
            resolver: builder.build(),
            family,
        })
    }

    /// MX lookup with RFC 5321 §5.1 implicit MX and RFC 7505 null MX.
    pub async fn resolve_domain(&self, domain: &str) -> Result<Resolution, DnsError> {
        let started = Instant::now();
        let name = fqdn(domain)?;
        let mut truncated = false;
        let (outcome, hosts) = match self.query(&name, RecordType::MX).await {
            Answer::NxDomain => (MxOutcome::NxDomain, vec![]),
            Answer::Failed(message) => (
                MxOutcome::Error {
                    message: SafeText::clean(&message),
                },
                vec![],
            ),
            Answer::NoData => {
                let (host, dropped) = self.resolve_host(&name, None, None).await;
                truncated |= dropped;
                let errored = |s: &LookupStatus| matches!(s, LookupStatus::Error { .. });
                if host.addresses.is_empty() && !errored(&host.a_lookup) && !errored(&host.aaaa_lookup) {
                    (MxOutcome::NoData, vec![])
                } else {
                    (MxOutcome::ImplicitMx, vec![host])
                }
            }
            Answer::Records(records) => {
                let mut mxs: Vec<(u16, Name, u32)> = records
                    .iter()
                    .filter_map(|r| match r.data() {
                        RData::MX(mx) => Some((mx.preference(), mx.exchange().clone(), r.ttl())),
                        _ => None,
                    })
                    .collect();
                if mxs.iter().any(|(_, exchange, _)| exchange.is_root()) {
                    (MxOutcome::NullMx, vec![])
                } else {
                    // Equal preferences keep the server's order; RFC 5321 lets senders shuffle them.
                    mxs.sort_by_key(|(preference, _, _)| *preference);
                    let mut seen = std::collections::HashSet::new();
                    mxs.retain(|(_, exchange, _)| seen.insert(exchange.to_lowercase()));
                    truncated |= mxs.len() > MAX_MX_HOSTS;
                    mxs.truncate(MAX_MX_HOSTS);
                    let resolved =
                        join_all(mxs.iter().map(|(preference, exchange, ttl)| {
                            self.resolve_host(exchange, Some(*preference), Some(*ttl))
                        }))
                        .await;
                    truncated |= resolved.iter().any(|(_, dropped)| *dropped);
                    (MxOutcome::Mx, resolved.into_iter().map(|(host, _)| host).collect())
                }
            }
        };
        Ok(Resolution {
            query: SafeText::clean(domain.trim_end_matches('.')),
            outcome,
            hosts,
            elapsed_ms: started.elapsed().as_millis() as u64,
            truncated,
        })
    }

    /// A named host without MX lookup (the `[host]` and `host:port` forms).
    pub async fn resolve_direct(&self, host: &str) -> Result<Resolution, DnsError> {
        let started = Instant::now();
        let name = fqdn(host)?;
        let (host, truncated) = self.resolve_host(&name, None, None).await;
        Ok(Resolution {
            query: display(&name),
            outcome: MxOutcome::Direct,
            hosts: vec![host],
            elapsed_ms: started.elapsed().as_millis() as u64,
            truncated,
        })
    }

    /// The TXT records at `name`, each one's character-strings joined without spaces
    /// (RFC 8461 §3.1, RFC 7208 §3.3). No such name and no TXT both give an empty list.
    /// Every record is kept (the DNS message size bounds them) so that the parsers, not
    /// a cut, decide which record is the policy.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let name = fqdn(name).map_err(|e| e.to_string())?;
        match self.query(&name, RecordType::TXT).await {
            Answer::Records(records) => Ok(records
                .iter()
                .filter_map(|r| match r.data() {
                    RData::TXT(txt) => Some(
                        txt.iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Answer::NxDomain | Answer::NoData => Ok(Vec::new()),
            Answer::Failed(message) => Err(SafeText::clean(&message)),
        }
    }

    /// The addresses of a host for a client that just needs somewhere to connect (the
    /// MTA-STS policy fetch), or why there are none.
    pub async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let name = fqdn(host).map_err(|e| e.to_string())?;
        let (host, _) = self.resolve_host(&name, None, None).await;
        if host.addresses.is_empty() {
            let status = |s: &LookupStatus| match s {
                LookupStatus::NxDomain => "no such name".to_string(),
                LookupStatus::Error { message } => message.clone(),
                _ => "no address record".to_string(),
            };
            return Err(format!("{} ({})", status(&host.a_lookup), host.name));
        }
        Ok(host.addresses.iter().map(|a| a.ip).collect())
    }

    /// A and AAAA for one host, concurrently, and whether addresses past the limit were
    /// left out (a host with exactly the limit lost nothing).
    async fn resolve_host(&self, name: &Name, preference: Option<u16>, ttl: Option<u32>) -> (MxHost, bool) {
        let want_a = self.family != Family::V6Only;
        let want_aaaa = self.family != Family::V4Only;
        let (a, aaaa) = tokio::join!(
            async {
                if want_a {
                    Some(self.query(name, RecordType::A).await)
                } else {
                    None
                }
            },
            async {
                if want_aaaa {
                    Some(self.query(name, RecordType::AAAA).await)
                } else {
                    None
                }
            },
        );
        let mut host = MxHost {
            name: display(name),
            preference,
            ttl,
            cname_chain: Vec::new(),
            addresses: Vec::new(),
            a_lookup: LookupStatus::Skipped,
            aaaa_lookup: LookupStatus::Skipped,
        };
        let mut dropped = false;
        host.a_lookup = fold_addresses(a, &mut host, &mut dropped);
        host.aaaa_lookup = fold_addresses(aaaa, &mut host, &mut dropped);
        (host, dropped)
    }

    async fn query(&self, name: &Name, kind: RecordType) -> Answer {
        match self.resolver.lookup(name.clone(), kind).await {
            Ok(lookup) => {
                let records = lookup.records().to_vec();
                if records.iter().any(|r| r.record_type() == kind) {
                    Answer::Records(records)
                } else {
                    Answer::NoData
                }
            }
            Err(e) => classify_error(&e),
        }
    }
}

/// NXDOMAIN and NODATA arrive as `NoRecordsFound`; SERVFAIL and REFUSED do too in
/// hickory 0.25, so the response code decides.
fn classify_error(e: &ResolveError) -> Answer {
    if let ResolveErrorKind::Proto(proto) = e.kind()
        && let ProtoErrorKind::NoRecordsFound { response_code, .. } = proto.kind()
    {
        return match *response_code {
            ResponseCode::NXDomain => Answer::NxDomain,
            ResponseCode::NoError => Answer::NoData,
            code => Answer::Failed(format!("server answered {code}")),
        };
    }
    Answer::Failed(e.to_string())
}

fn fold_addresses(answer: Option<Answer>, host: &mut MxHost, dropped: &mut bool) -> LookupStatus {
    let Some(answer) = answer else {
        return LookupStatus::Skipped;
    };
    match answer {
        Answer::NxDomain => LookupStatus::NxDomain,
        Answer::NoData => LookupStatus::NoData,
        Answer::Failed(message) => LookupStatus::Error {
            message: SafeText::clean(&message),
        },
        Answer::Records(records) => {
            for record in &records {
                let ip = match record.data() {
                    RData::A(a) => IpAddr::V4(a.0),
                    RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                    RData::CNAME(target) => {
                        let step = format!("{} → {}", display(record.name()), display(&target.0));
                        if !host.cname_chain.contains(&step) {
                            host.cname_chain.push(step);
                        }
                        continue;
                    }
                    _ => continue,
                };
                if host.addresses.iter().any(|a| a.ip == ip) {
                    continue;
                }
                if host.addresses.len() < MAX_ADDRESSES_PER_HOST {
                    host.addresses.push(AddressRecord { ip, ttl: record.ttl() });
                } else {
                    *dropped = true;
                }
            }
            LookupStatus::Found
        }
    }
}

pub(crate) fn fqdn(name: &str) -> Result<Name, DnsError> {
    let mut parsed = Name::from_utf8(name).map_err(|e| DnsError::BadName(name.to_string(), e.to_string()))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// Lower-case, without the trailing dot: how operators write host names. Names come
/// from the network, so they are neutralised here, where they enter the model.
pub(crate) fn display(name: &Name) -> String {
    SafeText::clean(&name.to_ascii().trim_end_matches('.').to_ascii_lowercase())
}

/// `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`; port 53 when none is given.
pub fn parse_nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip = s
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map_err(|_| format!("{s:?} is not an IP address or IP:PORT"))?;
    Ok(SocketAddr::new(ip, 53))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_accepts_ip_ip_port_and_bracketed_ipv6() {
        assert_eq!(
            parse_nameserver("192.0.2.53").unwrap(),
            "192.0.2.53:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_nameserver("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
        assert_eq!(parse_nameserver("[::1]").unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(parse_nameserver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_nameserver("ns.example").is_err());
    }
}
