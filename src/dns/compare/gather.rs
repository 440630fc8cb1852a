//! The lookups behind a comparison: this relay's resolver, each compared resolver,
//! and the domain's authoritative servers (found through the zone cut and asked
//! directly), each read into a [`ResolverView`]. Never fails: what could not be
//! asked is recorded in the views.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::diff::differences;
use super::{
    AUTHORITY_LABEL, AnswerStatus, AuthorityServer, AuthorityView, DnsComparison, MAX_NS_SERVERS, MxView,
    PRIMARY_LABEL, ResolverView, ServerAnswer, ViewRole,
};
use crate::dns::raw::{self, QueryOptions, RawAnswer, RawError};
use crate::dns::{MAX_ADDRESSES_PER_HOST, MAX_MX_HOSTS, display};
use crate::model::AddressRecord;
use crate::text::SafeText;

/// Labels walked up while looking for the zone cut; names deeper than this are
/// not mail domains.
const MAX_ZONE_CUT_STEPS: usize = 12;

/// The authoritative view may take as long as this many single queries in a row.
const AUTHORITY_BUDGET_QUERIES: u32 = 4;

/// Compares the MX set of `domain` (and its hosts' addresses) as seen by this
/// relay's resolvers (`primary`, empty for the system's), by each of `others`,
/// and by the domain's authoritative servers (found through the primary and
/// asked on `authority_port`, 53 outside tests). Never fails: what could not be
/// asked is recorded in the views.
pub async fn compare(
    domain: &str,
    primary: &[SocketAddr],
    others: &[SocketAddr],
    authority_port: u16,
    timeout: Duration,
) -> DnsComparison {
    let primary: Vec<SocketAddr> = if primary.is_empty() {
        raw::first_system_nameserver().into_iter().collect()
    } else {
        primary.to_vec()
    };
    let clean_domain = SafeText::clean(&domain.trim_end_matches('.').to_ascii_lowercase());
    let name = match parse_domain(domain) {
        Ok(name) => name,
        Err(message) => {
            let mut view = ResolverView::empty(PRIMARY_LABEL.into(), ViewRole::Primary);
            view.mx_status = AnswerStatus::Error { message };
            return DnsComparison {
                domain: clean_domain,
                views: vec![view],
                authority: None,
                authority_error: None,
                differences: Vec::new(),
            };
        }
    };
    let recursive = QueryOptions::recursive(timeout);

    let primary_view = resolver_view(PRIMARY_LABEL.into(), ViewRole::Primary, &primary, &name, recursive);
    let other_views = join_all(others.iter().map(|server| {
        let label = format!("resolver {server}");
        let servers = [*server];
        let name = &name;
        async move { resolver_view(label, ViewRole::Compared, &servers, name, recursive).await }
    }));
    // The zone-cut walk and the NS lookups are sequential: bound the whole, not only each query.
    let budget = timeout * AUTHORITY_BUDGET_QUERIES;
    let authority = async {
        tokio::time::timeout(budget, authority_view(&name, &primary, authority_port, timeout))
            .await
            .unwrap_or_else(|_| Err(format!("no complete answer within {} s", budget.as_secs())))
    };
    let (primary_view, other_views, authority) = tokio::join!(primary_view, other_views, authority);

    let mut views = vec![primary_view];
    views.extend(other_views);
    let (authority, authority_error) = match authority {
        Ok(authority) => (Some(authority), None),
        Err(error) => (None, Some(SafeText::clean(&error))),
    };
    let mut comparison = DnsComparison {
        domain: display(&name),
        views,
        authority,
        authority_error,
        differences: Vec::new(),
    };
    comparison.differences = differences(&comparison);
    comparison
}

fn parse_domain(domain: &str) -> Result<Name, String> {
    crate::dns::fqdn(domain.trim_end_matches('.')).map_err(|e| SafeText::clean(&e.to_string()))
}

/// Asks `servers` in order until one replies at all (any rcode): the primary may
/// be several resolvers, as in `/etc/resolv.conf`.
async fn ask(
    servers: &[SocketAddr],
    name: &Name,
    record_type: RecordType,
    options: QueryOptions,
) -> Result<(SocketAddr, RawAnswer), String> {
    let mut last: Option<RawError> = None;
    for &server in servers {
        match raw::query(server, name, record_type, options).await {
            Ok(answer) => return Ok((server, answer)),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => SafeText::clean(&e.to_string()),
        None => "no resolver configured".into(),
    })
}

/// The rcode and AA bit, read as the status of one query. From an authoritative
/// server (`need_aa`), an answer without AA, or an alias pointing out of the zone
/// with nothing behind it, says nothing about the data.
fn classify(answer: &RawAnswer, found: bool, dangling_alias: bool, need_aa: bool) -> AnswerStatus {
    match answer.rcode {
        ResponseCode::NoError | ResponseCode::NXDomain if need_aa && !answer.authoritative => {
            AnswerStatus::NotAuthoritative
        }
        ResponseCode::NoError if found => AnswerStatus::Found,
        ResponseCode::NoError if need_aa && dangling_alias => AnswerStatus::NotAuthoritative,
        ResponseCode::NoError => AnswerStatus::NoData,
        ResponseCode::NXDomain => AnswerStatus::NxDomain,
        ResponseCode::ServFail => AnswerStatus::ServFail,
        ResponseCode::Refused => AnswerStatus::Refused,
        code => AnswerStatus::Error {
            message: format!("server answered {code}"),
        },
    }
}

fn failed(error: &RawError) -> AnswerStatus {
    AnswerStatus::Error {
        message: SafeText::clean(&error.to_string()),
    }
}

/// RFC 2308 §5: a negative answer is cached for the lesser of the SOA's TTL and
/// its MINIMUM field.
fn negative_ttl(answer: &RawAnswer) -> Option<u32> {
    answer.authority.iter().find_map(|record| match record.data() {
        RData::SOA(soa) => Some(record.ttl().min(soa.minimum())),
        _ => None,
    })
}

/// One MX answer: `(preference, exchange, ttl)` in preference order, deduplicated, bounded.
struct MxSet {
    status: AnswerStatus,
    entries: Vec<(u16, Name, u32)>,
    negative_ttl: Option<u32>,
    truncated: bool,
}

impl MxSet {
    fn read(name: &Name, answer: &RawAnswer, need_aa: bool) -> Self {
        let (target, records) = raw::follow_chain(name, RecordType::MX, &answer.answers);
        let mut entries: Vec<(u16, Name, u32)> = records
            .iter()
            .filter_map(|record| match record.data() {
                RData::MX(mx) => Some((mx.preference(), mx.exchange().clone(), record.ttl())),
                _ => None,
            })
            .collect();
        // By name within a preference too: resolvers rotate equal-preference hosts, and
        // the cut to MAX_MX_HOSTS must keep the same ones in every view.
        entries.sort_by_key(|(preference, exchange, _)| (*preference, exchange.to_lowercase()));
        let mut seen = HashSet::new();
        entries.retain(|(_, exchange, _)| seen.insert(exchange.to_lowercase()));
        let truncated = entries.len() > MAX_MX_HOSTS;
        entries.truncate(MAX_MX_HOSTS);
        let status = classify(answer, !entries.is_empty(), &target != name, need_aa);
        let negative_ttl = match status {
            AnswerStatus::NoData | AnswerStatus::NxDomain => negative_ttl(answer),
            _ => None,
        };
        Self {
            status,
            entries,
            negative_ttl,
            truncated,
        }
    }

    fn failed(error: &RawError) -> Self {
        Self {
            status: failed(error),
            entries: Vec::new(),
            negative_ttl: None,
            truncated: false,
        }
    }
}

/// One A or AAAA answer.
struct Addresses {
    status: AnswerStatus,
    records: Vec<AddressRecord>,
    truncated: bool,
}

impl Addresses {
    fn read(name: &Name, record_type: RecordType, answer: &RawAnswer, need_aa: bool) -> Self {
        let (target, records) = raw::follow_chain(name, record_type, &answer.answers);
        let mut out: Vec<AddressRecord> = Vec::new();
        let mut truncated = false;
        for record in records {
            let ip = match record.data() {
                RData::A(a) => IpAddr::V4(a.0),
                RData::AAAA(aaaa) => IpAddr::V6(aaaa.0),
                _ => continue,
            };
            if out.iter().any(|a| a.ip == ip) {
                continue;
            }
            if out.len() >= MAX_ADDRESSES_PER_HOST {
                truncated = true;
                break;
            }
            out.push(AddressRecord { ip, ttl: record.ttl() });
        }
        Self {
            status: classify(answer, !out.is_empty(), &target != name, need_aa),
            records: out,
            truncated,
        }
    }

    fn from_result(name: &Name, record_type: RecordType, result: Result<RawAnswer, RawError>, need_aa: bool) -> Self {
        match result {
            Ok(answer) => Self::read(name, record_type, &answer, need_aa),
            Err(e) => Self {
                status: failed(&e),
                records: Vec::new(),
                truncated: false,
            },
        }
    }

    fn skipped() -> Self {
        Self {
            status: AnswerStatus::Skipped,
            records: Vec::new(),
            truncated: false,
        }
    }
}

fn exchange_text(exchange: &Name) -> String {
    if exchange.is_root() {
        ".".into()
    } else {
        display(exchange)
    }
}

fn mx_view(preference: u16, exchange: &Name, ttl: u32, a: Addresses, aaaa: Addresses) -> MxView {
    let mut addresses = a.records;
    addresses.extend(aaaa.records);
    MxView {
        preference,
        exchange: exchange_text(exchange),
        ttl,
        addresses,
        a_status: a.status,
        aaaa_status: aaaa.status,
    }
}

/// The view of one recursive resolver (or the first of several that replies).
async fn resolver_view(
    label: String,
    role: ViewRole,
    servers: &[SocketAddr],
    name: &Name,
    options: QueryOptions,
) -> ResolverView {
    let mut view = ResolverView::empty(label, role);
    let (server, answer) = match ask(servers, name, RecordType::MX, options).await {
        Ok(reply) => reply,
        Err(message) => {
            view.mx_status = AnswerStatus::Error { message };
            return view;
        }
    };
    view.resolver = Some(server);
    let set = MxSet::read(name, &answer, false);
    view.mx_status = set.status;
    view.negative_ttl = set.negative_ttl;
    view.truncated = set.truncated;
    // The resolver that answered the MX query first, so all answers come from one cache.
    let mut order = vec![server];
    order.extend(servers.iter().filter(|s| **s != server));
    let order = &order;
    let lookup = |exchange: &Name, record_type| {
        let exchange = exchange.clone();
        async move {
            if exchange.is_root() {
                return Addresses::skipped();
            }
            match ask(order, &exchange, record_type, options).await {
                Ok((_, answer)) => Addresses::read(&exchange, record_type, &answer, false),
                Err(message) => Addresses {
                    status: AnswerStatus::Error { message },
                    records: Vec::new(),
                    truncated: false,
                },
            }
        }
    };
    let hosts = join_all(set.entries.iter().map(|(preference, exchange, ttl)| async {
        let (a, aaaa) = tokio::join!(lookup(exchange, RecordType::A), lookup(exchange, RecordType::AAAA));
        let truncated = a.truncated || aaaa.truncated;
        (mx_view(*preference, exchange, *ttl, a, aaaa), truncated)
    }))
    .await;
    for (host, truncated) in hosts {
        view.truncated |= truncated;
        view.mx.push(host);
    }
    view
}

/// Finds the zone cut for `name` through the primary resolver: the nearest
/// name at or above it with an NS RRset. A negative answer's SOA names the
/// enclosing zone, which saves walking label by label.
async fn find_zone(name: &Name, primary: &[SocketAddr], options: QueryOptions) -> Result<(Name, Vec<Name>), String> {
    let mut current = name.clone();
    for _ in 0..MAX_ZONE_CUT_STEPS {
        if current.is_root() {
            break;
        }
        let (_, answer) = ask(primary, &current, RecordType::NS, options)
            .await
            .map_err(|e| format!("NS lookup for {}: {e}", display(&current)))?;
        match answer.rcode {
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            code => return Err(format!("NS lookup for {}: server answered {code}", display(&current))),
        }
        let mut servers: Vec<Name> = answer
            .answers
            .iter()
            .filter(|record| record.name() == &current)
            .filter_map(|record| match record.data() {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        if !servers.is_empty() {
            // Sorted, so the servers asked (and their order) do not depend on RRset rotation.
            servers.sort();
            servers.dedup();
            return Ok((current, servers));
        }
        let enclosing = answer.authority.iter().find_map(|record| {
            let owner = record.name();
            (record.record_type() == RecordType::SOA && owner != &current && owner.zone_of(&current))
                .then(|| owner.clone())
        });
        current = enclosing.unwrap_or_else(|| current.base_name());
    }
    Err(format!("no NS records for {} or any parent", display(name)))
}

/// One address per name server, IPv4 first, through the primary resolver; at
/// most [`MAX_NS_SERVERS`].
async fn ns_addresses(
    ns_names: &[Name],
    primary: &[SocketAddr],
    port: u16,
    options: QueryOptions,
) -> Vec<(Name, SocketAddr)> {
    let candidates = ns_names.iter().take(MAX_NS_SERVERS * 2);
    let found = join_all(candidates.map(|ns| async move {
        for record_type in [RecordType::A, RecordType::AAAA] {
            if let Ok((_, answer)) = ask(primary, ns, record_type, options).await
                && let Some(address) = Addresses::read(ns, record_type, &answer, false).records.first()
            {
                return Some((ns.clone(), SocketAddr::new(address.ip, port)));
            }
        }
        None
    }))
    .await;
    found.into_iter().flatten().take(MAX_NS_SERVERS).collect()
}

/// Asks each authoritative server directly (RD=0) for the MX set, then for the
/// addresses of the MX hosts it returned, and keeps, per query, the first
/// authoritative answer in server order.
async fn authority_view(
    name: &Name,
    primary: &[SocketAddr],
    port: u16,
    timeout: Duration,
) -> Result<AuthorityView, String> {
    let (zone, ns_names) = find_zone(name, primary, QueryOptions::recursive(timeout)).await?;
    let servers = ns_addresses(&ns_names, primary, port, QueryOptions::recursive(timeout)).await;
    if servers.is_empty() {
        return Err(format!("no name server of {} has an address", display(&zone)));
    }
    let direct = QueryOptions::authoritative(timeout);
    let mut records: Vec<AuthorityServer> = servers
        .iter()
        .map(|(ns, addr)| AuthorityServer {
            name: display(ns),
            addr: *addr,
            answers: Vec::new(),
        })
        .collect();

    let mx_sets = join_all(servers.iter().map(|(_, addr)| async move {
        match raw::query(*addr, name, RecordType::MX, direct).await {
            Ok(answer) => MxSet::read(name, &answer, true),
            Err(e) => MxSet::failed(&e),
        }
    }))
    .await;
    for (server, set) in records.iter_mut().zip(&mx_sets) {
        server.answers.push(ServerAnswer {
            name: display(name),
            record_type: "MX".into(),
            status: set.status.clone(),
        });
    }
    let chosen = mx_sets
        .iter()
        .find(|set| set.status.is_definitive())
        .unwrap_or(&mx_sets[0]);

    let mut view = ResolverView::empty(AUTHORITY_LABEL.into(), ViewRole::Authority);
    view.mx_status = chosen.status.clone();
    view.negative_ttl = chosen.negative_ttl;
    view.truncated = chosen.truncated;
    if chosen.status.is_definitive() {
        let servers = &servers;
        let per_host = join_all(chosen.entries.iter().map(|(_, exchange, _)| async move {
            let ask_all = |record_type| {
                join_all(servers.iter().map(move |(_, addr)| async move {
                    if exchange.is_root() {
                        return Addresses::skipped();
                    }
                    let result = raw::query(*addr, exchange, record_type, direct).await;
                    Addresses::from_result(exchange, record_type, result, true)
                }))
            };
            tokio::join!(ask_all(RecordType::A), ask_all(RecordType::AAAA))
        }))
        .await;
        for ((preference, exchange, ttl), (a_all, aaaa_all)) in chosen.entries.iter().zip(per_host) {
            let mut pick = |all: Vec<Addresses>, record_type: &str| {
                for (server, addresses) in records.iter_mut().zip(&all) {
                    if addresses.status != AnswerStatus::Skipped {
                        server.answers.push(ServerAnswer {
                            name: exchange_text(exchange),
                            record_type: record_type.into(),
                            status: addresses.status.clone(),
                        });
                    }
                }
                let index = all.iter().position(|a| a.status.is_definitive()).unwrap_or(0);
                all.into_iter().nth(index).unwrap_or_else(Addresses::skipped)
            };
            let a = pick(a_all, "A");
            let aaaa = pick(aaaa_all, "AAAA");
            view.truncated |= a.truncated || aaaa.truncated;
            view.mx.push(mx_view(*preference, exchange, *ttl, a, aaaa));
        }
    }
    Ok(AuthorityView {
        zone: display(&zone),
        servers: records,
        view,
    })
}
