//! Stale DNS: what this relay's resolver returns for a domain's MX set and
//! addresses, next to other resolvers and to the domain's authoritative servers.
//!
//! After a mail provider move, a resolver keeps the old MX hosts or addresses
//! until their TTL runs out, and the relay keeps connecting to a server that no
//! longer has the right certificate (or no longer exists). The authoritative
//! servers say what is current; the remaining TTL in the cached view says how
//! long the problem lasts without a cache flush.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::future::join_all;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};
use serde::{Deserialize, Serialize};

use super::raw::{self, QueryOptions, RawAnswer, RawError};
use super::{MAX_ADDRESSES_PER_HOST, MAX_MX_HOSTS, display};
use crate::model::AddressRecord;
use crate::text::SafeText;

/// Authoritative servers asked: enough to see a lagging secondary, few enough
/// that a zone listing dozens of name servers cannot multiply our queries.
pub const MAX_NS_SERVERS: usize = 4;

/// Labels walked up while looking for the zone cut; names deeper than this are
/// not mail domains.
const MAX_ZONE_CUT_STEPS: usize = 12;

/// The authoritative view may take as long as this many single queries in a row.
const AUTHORITY_BUDGET_QUERIES: u32 = 4;

pub const PRIMARY_LABEL: &str = "this relay's resolver";
pub const AUTHORITY_LABEL: &str = "the authoritative servers";

/// Whose answers a view holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewRole {
    /// The resolver this relay uses (`--nameserver` or the system's).
    Primary,
    /// A resolver given with `--compare-nameserver`.
    Compared,
    /// The domain's authoritative servers, asked directly without recursion.
    Authority,
}

/// Outcome of one query in one view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerStatus {
    Found,
    NoData,
    NxDomain,
    ServFail,
    Refused,
    /// An authoritative server answered without the AA bit: it does not serve
    /// that name (e.g. an MX host in another provider's zone).
    NotAuthoritative,
    Error {
        message: String,
    },
    /// Not asked: a null MX has no addresses.
    Skipped,
}

impl AnswerStatus {
    /// An answer that says what the data is (possibly "nothing"), so it can be
    /// compared; failures say nothing about the data.
    pub fn is_definitive(&self) -> bool {
        matches!(self, Self::Found | Self::NoData | Self::NxDomain)
    }

    fn describe(&self) -> String {
        match self {
            Self::Found => "found".into(),
            Self::NoData => "no records of that type".into(),
            Self::NxDomain => "the name does not exist".into(),
            Self::ServFail => "SERVFAIL".into(),
            Self::Refused => "REFUSED".into(),
            Self::NotAuthoritative => "not authoritative for the name".into(),
            Self::Error { message } => message.clone(),
            Self::Skipped => "not asked".into(),
        }
    }
}

/// One MX host as a view sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxView {
    pub preference: u16,
    /// Lower-case, no trailing dot; `"."` for a null MX (RFC 7505).
    pub exchange: String,
    /// Remaining TTL in a resolver's cache; the full TTL from an authoritative server.
    pub ttl: u32,
    pub addresses: Vec<AddressRecord>,
    pub a_status: AnswerStatus,
    pub aaaa_status: AnswerStatus,
}

/// The MX set and addresses of one domain as one source returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverView {
    pub label: String,
    pub role: ViewRole,
    /// The resolver that answered; `None` for the authority view (see [`AuthorityView::servers`]).
    pub resolver: Option<SocketAddr>,
    pub mx_status: AnswerStatus,
    /// In preference order, at most [`MAX_MX_HOSTS`].
    pub mx: Vec<MxView>,
    /// For NXDOMAIN/NODATA: how long the negative answer is cached (RFC 2308 §5).
    pub negative_ttl: Option<u32>,
    /// More MX hosts or addresses were returned than are kept.
    pub truncated: bool,
}

/// What one authoritative server said to each query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityServer {
    /// The NS host name.
    pub name: String,
    pub addr: SocketAddr,
    pub answers: Vec<ServerAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAnswer {
    pub name: String,
    pub record_type: String,
    pub status: AnswerStatus,
}

/// The authoritative view: for each query, the first server (in NS order) that
/// answered it authoritatively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityView {
    /// The zone cut: the name the NS RRset was found at.
    pub zone: String,
    pub servers: Vec<AuthorityServer>,
    pub view: ResolverView,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The view returns an MX host the reference does not (typically: the old one).
    MxOnlyInView,
    /// The reference has an MX host the view lacks (typically: the new one).
    MxMissingInView,
    AddressOnlyInView,
    AddressMissingInView,
    PreferenceDiffers,
}

/// One way a view differs from its reference (the authority, or the primary
/// resolver when there is no authoritative answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    pub view: String,
    pub role: ViewRole,
    /// What the view was compared with: [`ViewRole::Authority`] or [`ViewRole::Primary`].
    pub against: ViewRole,
    pub kind: DifferenceKind,
    /// The MX host (MX kinds) or the host whose addresses differ.
    pub name: String,
    /// The view's value: `"10 mx.example.net"`, an address, or a preference.
    pub view_value: Option<String>,
    pub reference_value: Option<String>,
    /// Seconds the view's answer has left in its cache: how long the difference
    /// lasts unless the cache is flushed.
    pub ttl: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsComparison {
    pub domain: String,
    /// The primary resolver first, then each compared resolver.
    pub views: Vec<ResolverView>,
    pub authority: Option<AuthorityView>,
    /// Why there is no authority view, when there is none.
    pub authority_error: Option<String>,
    pub differences: Vec<Difference>,
}

impl DnsComparison {
    /// This relay's resolver returns something the authoritative servers no longer do.
    pub fn primary_is_stale(&self) -> bool {
        self.differences
            .iter()
            .any(|d| d.role == ViewRole::Primary && d.against == ViewRole::Authority)
    }

    /// Plain-English lines for an operator, most important first.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for view in &self.views {
            if !view.mx_status.is_definitive() {
                lines.push(format!(
                    "{} could not be compared: the MX lookup failed ({})",
                    view.label,
                    view.mx_status.describe()
                ));
            }
        }
        match (&self.authority, &self.authority_error) {
            (Some(authority), _) if !authority.view.mx_status.is_definitive() => lines.push(format!(
                "{} gave no authoritative MX answer ({}); resolvers are compared with {PRIMARY_LABEL}",
                AUTHORITY_LABEL,
                authority.view.mx_status.describe()
            )),
            (None, Some(error)) => lines.push(format!(
                "{AUTHORITY_LABEL} could not be asked ({error}); resolvers are compared with {PRIMARY_LABEL}"
            )),
            _ => {}
        }
        let reference = self.reference();
        for view in &self.views {
            let own: Vec<&Difference> = self.differences.iter().filter(|d| d.view == view.label).collect();
            if let Some(reference) = reference {
                lines.extend(describe_differences(view, reference, &own));
            }
        }
        if self.differences.is_empty() && reference.is_some() && self.views.iter().all(|v| v.mx_status.is_definitive())
        {
            let with = match self.authoritative_reference() {
                Some(_) => AUTHORITY_LABEL,
                None => PRIMARY_LABEL,
            };
            if self.views.len() > 1 || self.authoritative_reference().is_some() {
                lines.push(format!(
                    "all resolvers asked agree with {with} on the MX hosts and their addresses"
                ));
            }
        }
        lines
    }

    fn authoritative_reference(&self) -> Option<&ResolverView> {
        self.authority
            .as_ref()
            .map(|a| &a.view)
            .filter(|v| v.mx_status.is_definitive())
    }

    /// The authority when it answered, otherwise the primary resolver.
    fn reference(&self) -> Option<&ResolverView> {
        self.authoritative_reference().or_else(|| {
            self.views
                .iter()
                .find(|v| v.role == ViewRole::Primary && v.mx_status.is_definitive())
        })
    }
}

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

impl ResolverView {
    fn empty(label: String, role: ViewRole) -> Self {
        Self {
            label,
            role,
            resolver: None,
            mx_status: AnswerStatus::Error {
                message: "no resolver to ask".into(),
            },
            mx: Vec::new(),
            negative_ttl: None,
            truncated: false,
        }
    }
}

fn parse_domain(domain: &str) -> Result<Name, String> {
    super::fqdn(domain.trim_end_matches('.')).map_err(|e| SafeText::clean(&e.to_string()))
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

/// Every view compared with the reference: the authority when it answered,
/// otherwise the primary resolver (which then is not compared with itself).
fn differences(comparison: &DnsComparison) -> Vec<Difference> {
    let Some(reference) = comparison.reference() else {
        return Vec::new();
    };
    comparison
        .views
        .iter()
        .filter(|view| reference.role == ViewRole::Authority || view.role != ViewRole::Primary)
        .flat_map(|view| compare_views(view, reference))
        .collect()
}

fn compare_views(view: &ResolverView, reference: &ResolverView) -> Vec<Difference> {
    let mut out = Vec::new();
    if !view.mx_status.is_definitive() || !reference.mx_status.is_definitive() {
        return out;
    }
    let difference = |kind, name: &str, view_value: Option<String>, reference_value: Option<String>, ttl| Difference {
        view: view.label.clone(),
        role: view.role,
        against: reference.role,
        kind,
        name: name.to_string(),
        view_value,
        reference_value,
        ttl,
    };
    // Until the view's MX RRset (or its negative answer) expires, it keeps lacking the reference's hosts.
    let rrset_ttl = view.mx.iter().map(|mx| mx.ttl).min().or(view.negative_ttl);
    for mx in &view.mx {
        let Some(other) = reference.mx.iter().find(|r| r.exchange == mx.exchange) else {
            let value = Some(format!("{} {}", mx.preference, mx.exchange));
            out.push(difference(
                DifferenceKind::MxOnlyInView,
                &mx.exchange,
                value,
                None,
                Some(mx.ttl),
            ));
            continue;
        };
        if other.preference != mx.preference {
            out.push(difference(
                DifferenceKind::PreferenceDiffers,
                &mx.exchange,
                Some(mx.preference.to_string()),
                Some(other.preference.to_string()),
                Some(mx.ttl),
            ));
        }
        // Per family, and only where both lookups gave an answer.
        for v4 in [true, false] {
            let (mine, theirs) = if v4 {
                (&mx.a_status, &other.a_status)
            } else {
                (&mx.aaaa_status, &other.aaaa_status)
            };
            if !mine.is_definitive() || !theirs.is_definitive() {
                continue;
            }
            let ours: Vec<&AddressRecord> = mx.addresses.iter().filter(|a| a.ip.is_ipv4() == v4).collect();
            let reference_ips: Vec<&AddressRecord> = other.addresses.iter().filter(|a| a.ip.is_ipv4() == v4).collect();
            let family_ttl = ours.iter().map(|a| a.ttl).min();
            for address in &ours {
                if !reference_ips.iter().any(|r| r.ip == address.ip) {
                    let value = Some(address.ip.to_string());
                    let kind = DifferenceKind::AddressOnlyInView;
                    out.push(difference(kind, &mx.exchange, value, None, Some(address.ttl)));
                }
            }
            for address in &reference_ips {
                if !ours.iter().any(|o| o.ip == address.ip) {
                    let value = Some(address.ip.to_string());
                    let kind = DifferenceKind::AddressMissingInView;
                    out.push(difference(kind, &mx.exchange, None, value, family_ttl));
                }
            }
        }
    }
    for other in &reference.mx {
        if !view.mx.iter().any(|mx| mx.exchange == other.exchange) {
            let value = Some(format!("{} {}", other.preference, other.exchange));
            out.push(difference(
                DifferenceKind::MxMissingInView,
                &other.exchange,
                None,
                value,
                rrset_ttl,
            ));
        }
    }
    out
}

/// Operator-facing lines for one view's differences.
fn describe_differences(view: &ResolverView, reference: &ResolverView, differences: &[&Difference]) -> Vec<String> {
    let mut lines = Vec::new();
    if differences.is_empty() {
        return lines;
    }
    let authoritative = reference.role == ViewRole::Authority;
    let says = if authoritative { "say" } else { "returns" };
    let of_kind = |kind| differences.iter().copied().filter(move |d| d.kind == kind);
    let expiry = |ttl: Option<u32>| match ttl {
        Some(ttl) if authoritative => format!(": the cache will expire in {}", about(ttl)),
        _ if authoritative => String::new(),
        _ => ", and without an authoritative answer it is unclear which is current".into(),
    };

    let only: Vec<&Difference> = of_kind(DifferenceKind::MxOnlyInView).collect();
    let missing: Vec<&Difference> = of_kind(DifferenceKind::MxMissingInView).collect();
    let reference_hosts = if reference.mx.is_empty() {
        "no MX hosts".to_string()
    } else {
        join(reference.mx.iter().map(|mx| mx.exchange.clone()))
    };
    if !only.is_empty() {
        let listed = join(only.iter().map(|d| format!("{}{}", d.name, ttl_left(d.ttl))));
        let still = if authoritative { "still returns" } else { "returns" };
        let longest = only.iter().filter_map(|d| d.ttl).max();
        lines.push(format!(
            "{} {still} {listed}; {} {says} {reference_hosts}{}",
            view.label,
            reference.label,
            expiry(longest)
        ));
    } else if !missing.is_empty() {
        let listed = join(missing.iter().map(|d| d.name.clone()));
        let ttl = missing.iter().filter_map(|d| d.ttl).max();
        let yet = if authoritative {
            "does not yet return"
        } else {
            "does not return"
        };
        lines.push(format!(
            "{} {yet} {listed}{}; {} {says} {reference_hosts}{}",
            view.label,
            ttl_left(ttl),
            reference.label,
            expiry(ttl)
        ));
    }
    for d in of_kind(DifferenceKind::PreferenceDiffers) {
        lines.push(format!(
            "{} has {} at preference {}{}; {} {says} {}{}",
            view.label,
            d.name,
            d.view_value.as_deref().unwrap_or("?"),
            ttl_left(d.ttl),
            reference.label,
            d.reference_value.as_deref().unwrap_or("?"),
            expiry(d.ttl)
        ));
    }
    let mut hosts: Vec<&str> = differences
        .iter()
        .filter(|d| {
            matches!(
                d.kind,
                DifferenceKind::AddressOnlyInView | DifferenceKind::AddressMissingInView
            )
        })
        .map(|d| d.name.as_str())
        .collect();
    hosts.dedup();
    for host in hosts {
        let of_host = |kind| of_kind(kind).filter(move |d| d.name == host);
        let only: Vec<&Difference> = of_host(DifferenceKind::AddressOnlyInView).collect();
        let reference_ips = reference
            .mx
            .iter()
            .find(|mx| mx.exchange == host)
            .map(|mx| join(mx.addresses.iter().map(|a| a.ip.to_string())))
            .filter(|ips| !ips.is_empty())
            .unwrap_or_else(|| "no addresses".into());
        if !only.is_empty() {
            let listed = join(
                only.iter()
                    .map(|d| format!("{}{}", d.view_value.as_deref().unwrap_or("?"), ttl_left(d.ttl))),
            );
            let still = if authoritative { "still has" } else { "has" };
            let longest = only.iter().filter_map(|d| d.ttl).max();
            lines.push(format!(
                "{} {still} {listed} for {host}; {} {says} {reference_ips}{}",
                view.label,
                reference.label,
                expiry(longest)
            ));
        } else {
            let missing: Vec<&Difference> = of_host(DifferenceKind::AddressMissingInView).collect();
            let listed = join(missing.iter().map(|d| d.reference_value.clone().unwrap_or_default()));
            let ttl = missing.iter().filter_map(|d| d.ttl).max();
            lines.push(format!(
                "{} lacks {listed} for {host}{}; {} {says} {reference_ips}{}",
                view.label,
                ttl_left(ttl),
                reference.label,
                expiry(ttl)
            ));
        }
    }
    lines
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn ttl_left(ttl: Option<u32>) -> String {
    ttl.map(|ttl| format!(" (TTL {ttl} s left)")).unwrap_or_default()
}

/// A TTL as an operator would say it.
fn about(seconds: u32) -> String {
    match seconds {
        0 => "a moment".into(),
        1 => "1 second".into(),
        2..=89 => format!("{seconds} seconds"),
        90..=3299 => format!("about {} minutes", (seconds + 30) / 60),
        3300..=5399 => "about an hour".into(),
        5400..=129_599 => format!("about {} hours", (seconds + 1800) / 3600),
        _ => format!("about {} days", (seconds + 43_200) / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_like_an_operator_says_them() {
        assert_eq!(about(45), "45 seconds");
        assert_eq!(about(300), "about 5 minutes");
        assert_eq!(about(3512), "about an hour");
        assert_eq!(about(7200), "about 2 hours");
        assert_eq!(about(86_400 * 3), "about 3 days");
    }

    fn view(role: ViewRole, label: &str, hosts: &[(&str, &[&str], u32)]) -> ResolverView {
        let mut view = ResolverView::empty(label.into(), role);
        view.mx_status = AnswerStatus::Found;
        view.mx = hosts
            .iter()
            .map(|(name, ips, ttl)| MxView {
                preference: 10,
                exchange: (*name).into(),
                ttl: *ttl,
                addresses: ips
                    .iter()
                    .map(|ip| AddressRecord {
                        ip: ip.parse().unwrap(),
                        ttl: *ttl,
                    })
                    .collect(),
                a_status: AnswerStatus::Found,
                aaaa_status: AnswerStatus::NoData,
            })
            .collect();
        view
    }

    #[test]
    fn failed_lookups_are_not_differences() {
        let reference = view(
            ViewRole::Authority,
            AUTHORITY_LABEL,
            &[("mx.example", &["192.0.2.1"], 300)],
        );
        let mut cached = view(ViewRole::Primary, PRIMARY_LABEL, &[("mx.example", &[], 100)]);
        cached.mx[0].a_status = AnswerStatus::ServFail;
        assert!(compare_views(&cached, &reference).is_empty());
        cached.mx_status = AnswerStatus::Error {
            message: "timeout".into(),
        };
        cached.mx.clear();
        assert!(compare_views(&cached, &reference).is_empty());
    }

    #[test]
    fn changed_address_reads_as_stale_cache() {
        let reference = view(
            ViewRole::Authority,
            AUTHORITY_LABEL,
            &[("mx.example", &["192.0.2.2"], 300)],
        );
        let cached = view(ViewRole::Primary, PRIMARY_LABEL, &[("mx.example", &["192.0.2.1"], 200)]);
        let differences = compare_views(&cached, &reference);
        let kinds: Vec<DifferenceKind> = differences.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [DifferenceKind::AddressOnlyInView, DifferenceKind::AddressMissingInView]
        );
        let refs: Vec<&Difference> = differences.iter().collect();
        let lines = describe_differences(&cached, &reference, &refs);
        assert_eq!(
            lines,
            [
                "this relay's resolver still has 192.0.2.1 (TTL 200 s left) for mx.example; \
              the authoritative servers say 192.0.2.2: the cache will expire in about 3 minutes"
            ]
        );
    }
}
