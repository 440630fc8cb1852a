//! Stale DNS: what this relay's resolver returns for a domain's MX set and
//! addresses, next to other resolvers and to the domain's authoritative servers.
//!
//! After a mail provider move, a resolver keeps the old MX hosts or addresses
//! until their TTL runs out, and the relay keeps connecting to a server that no
//! longer has the right certificate (or no longer exists). The authoritative
//! servers say what is current; the remaining TTL in the cached view says how
//! long the problem lasts without a cache flush.

//!
//! Gathering (the lookups) is in `gather`, the typed differences between views in
//! `diff` (no I/O), and the operator's sentences in `wording` (from
//! assets/dns_compare.toml).

mod diff;
mod gather;
mod wording;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::model::AddressRecord;
pub use gather::compare;

/// Authoritative servers asked: enough to see a lagging secondary, few enough
/// that a zone listing dozens of name servers cannot multiply our queries.
pub const MAX_NS_SERVERS: usize = 4;

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

impl ResolverView {
    /// A view with nothing in it yet; the lookups fill it in.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An MX host whose address moved: this relay's resolver still has the old one
    /// (200 s left), the authoritative servers the new one. `(cached, reference)`.
    pub(super) fn moved_address() -> (ResolverView, ResolverView) {
        let reference = view(
            ViewRole::Authority,
            AUTHORITY_LABEL,
            &[("mx.example", &["192.0.2.2"], 300)],
        );
        let cached = view(ViewRole::Primary, PRIMARY_LABEL, &[("mx.example", &["192.0.2.1"], 200)]);
        (cached, reference)
    }

    /// A view that found every host at preference 10, with A records only.
    pub(super) fn view(role: ViewRole, label: &str, hosts: &[(&str, &[&str], u32)]) -> ResolverView {
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
}
