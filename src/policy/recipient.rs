//! What the recipient domain publishes about TLS (MTA-STS, DANE TLSA, TLS-RPT), its
//! other mail records as context, and whether resolvers agree on its MX set, judged
//! against what the probes actually saw.
//!
//! Lookups run while the probes run ([`gather`]); the judgement needs the probes'
//! chains, so it comes after ([`Gathered::evaluate`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rustls::pki_types::UnixTime;
use serde::{Deserialize, Serialize};

use crate::cert::{TrustOutcome, TrustStores};
use crate::dns::Dns;
use crate::dns::compare::{self, DnsComparison};
use crate::dns::raw::{self, QueryOptions, TlsaLookup, TlsaStatus};
use crate::model::tlsrpt::ResultType;
use crate::model::{Failure, ProbeResult, Resolution, Stage};
use crate::policy::dane::{self, DaneCheck, DaneOutcome, Tlsa};
use crate::policy::mta_sts::{self, Mode, Policy, TxtOutcome};
use crate::policy::records::{self, DmarcOutcome, SpfOutcome, TlsRptOutcome};
use crate::policy::sts_fetch::{self, FetchOutcome, FetchSettings};
use crate::policy::wording::{pairs, say};
use crate::text::SafeText;
use hickory_proto::rr::RecordType;

/// A TXT-based record: parsed, or the lookup failed (SERVFAIL, timeout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "lookup", rename_all = "snake_case")]
pub enum Txt<T> {
    Parsed { outcome: T },
    Failed { message: String },
}

impl<T> Txt<T> {
    pub fn parsed(&self) -> Option<&T> {
        match self {
            Txt::Parsed { outcome } => Some(outcome),
            Txt::Failed { .. } => None,
        }
    }
}

/// Everything the recipient publishes, as measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientPolicy {
    pub domain: String,
    pub mta_sts: MtaSts,
    pub tls_rpt: Txt<TlsRptOutcome>,
    pub spf: Txt<SpfOutcome>,
    pub dmarc: Txt<DmarcOutcome>,
    /// TLSA per MX host and the match per address.
    pub dane: Vec<DaneHost>,
    /// The resolver whose AD bit DANE relies on; `None` when none could be found.
    pub dnssec_resolver: Option<SocketAddr>,
    /// The MX set through each resolver and from the domain's authoritative servers.
    pub dns: Option<DnsComparison>,
}

/// MTA-STS (RFC 8461): discovery record, policy fetch, policy, and each MX against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtaSts {
    pub txt: Txt<TxtOutcome>,
    /// Fetched whenever a `v=STSv1` record exists, even a broken one: the file is evidence.
    pub fetch: Option<FetchOutcome>,
    pub policy: Option<Policy>,
    /// Each MX host against the policy (empty when there is no usable policy).
    pub mx: Vec<StsMx>,
}

/// One MX host as a sender that honours the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsMx {
    pub host: String,
    /// The policy's `mx` pattern that covers this host; `None`: not covered.
    pub pattern: Option<SafeText>,
    /// Addresses where the session would fail the policy (§4.2), with the reason.
    pub failures: Vec<StsFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsFailure {
    pub address: SocketAddr,
    pub reason: String,
    /// What a reporting sender logs for it (RFC 8460 §4.3).
    pub result_type: ResultType,
}

/// TLSA for one MX host and how each of its addresses matches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneHost {
    pub host: String,
    /// The domain's MX RRset was DNSSEC-validated (AD): without it DANE does not apply.
    #[serde(default)]
    pub mx_secure: bool,
    /// The host's address lookup was DNSSEC-validated.
    #[serde(default)]
    pub host_secure: bool,
    pub lookup: TlsaLookup,
    pub addresses: Vec<DaneAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneAddress {
    pub address: SocketAddr,
    /// `None` when the address presented no chain (the session failed before TLS).
    pub check: Option<DaneCheck>,
}

impl MtaSts {
    /// The policy a sender applies: a valid record and a valid fetched policy.
    pub fn active_policy(&self) -> Option<&Policy> {
        let txt_valid = matches!(self.txt.parsed(), Some(TxtOutcome::Valid { .. }));
        let fetched = matches!(self.fetch, Some(FetchOutcome::Fetched { .. }));
        self.policy.as_ref().filter(|p| txt_valid && fetched && p.is_valid())
    }

    pub fn mode(&self) -> Option<Mode> {
        self.active_policy().and_then(|p| p.mode)
    }

    /// The domain tries to publish MTA-STS (some `v=STSv1` record exists).
    pub fn published(&self) -> bool {
        self.txt.parsed().is_some_and(announces_policy)
    }

    /// MX hosts outside the active policy.
    pub fn uncovered(&self) -> Vec<&StsMx> {
        self.mx.iter().filter(|m| m.pattern.is_none()).collect()
    }

    /// Covered MX hosts where a session fails the policy.
    pub fn failing(&self) -> Vec<&StsMx> {
        self.mx
            .iter()
            .filter(|m| m.pattern.is_some() && !m.failures.is_empty())
            .collect()
    }

    /// What is wrong with the publication itself, with its RFC 8460 type, if anything.
    pub fn publication_problem(&self) -> Option<(ResultType, String)> {
        if !self.published() {
            return None;
        }
        let txt = self.txt.parsed()?;
        if !matches!(txt, TxtOutcome::Valid { .. }) {
            return Some((ResultType::StsPolicyInvalid, txt.summary()));
        }
        match &self.fetch {
            Some(FetchOutcome::Fetched { .. }) => self
                .policy
                .as_ref()
                .filter(|policy| !policy.is_valid())
                .map(|policy| (ResultType::StsPolicyInvalid, policy.summary())),
            Some(fetch) => fetch.rfc8460_result_type().map(|kind| (kind, fetch.describe())),
            None => None,
        }
    }
}

impl DaneHost {
    /// A sender doing DANE uses these records: found and DNSSEC-validated (AD), for a
    /// host reached through a validated MX RRset and a validated address lookup, as
    /// Postfix requires (an insecure MX or address means no DANE).
    pub fn applies(&self) -> bool {
        self.mx_secure && self.host_secure && self.lookup.authenticated && self.lookup.status == TlsaStatus::Found
    }

    /// Only the TLSA answer was validated: DANE would apply but for the MX or the address.
    pub fn insecure_path(&self) -> bool {
        self.lookup.authenticated && self.lookup.status == TlsaStatus::Found && !self.applies()
    }

    fn outcomes(&self) -> impl Iterator<Item = &DaneOutcome> {
        self.addresses
            .iter()
            .filter_map(|a| a.check.as_ref())
            .map(|c| &c.outcome)
    }
}

impl RecipientPolicy {
    /// DANE hosts whose validated TLSA records do not authenticate some address.
    pub fn dane_failures(&self) -> Vec<&DaneHost> {
        self.dane
            .iter()
            .filter(|h| h.applies())
            .filter(|h| {
                h.outcomes().any(|o| {
                    matches!(
                        o,
                        DaneOutcome::Mismatch { .. } | DaneOutcome::TaMatchedButInvalid { .. }
                    )
                })
            })
            .collect()
    }

    /// A DANE failure where nothing matches the current leaf or its issuer.
    pub fn dane_rotation(&self) -> bool {
        self.dane_failures().iter().any(|h| {
            h.outcomes()
                .any(|o| matches!(o, DaneOutcome::Mismatch { rotation: true }))
        })
    }

    /// Validated TLSA exists, yet no record is usable for SMTP.
    pub fn dane_unusable(&self) -> bool {
        self.dane
            .iter()
            .any(|h| h.applies() && h.outcomes().any(|o| matches!(o, DaneOutcome::NoUsableRecords)))
    }

    /// DANE applies to every MX and authenticates every address that presented a chain.
    pub fn dane_authenticates_everything(&self) -> bool {
        !self.dane.is_empty()
            && self.dane.iter().all(|h| {
                h.applies()
                    && !h.addresses.is_empty()
                    && h.outcomes().count() == h.addresses.len()
                    && h.outcomes().all(|o| matches!(o, DaneOutcome::Authenticated { .. }))
            })
    }

    /// The MTA-STS policy is in enforce mode and some MX is outside it.
    pub fn sts_enforced_uncovered(&self) -> bool {
        self.mta_sts.mode() == Some(Mode::Enforce) && !self.mta_sts.uncovered().is_empty()
    }

    /// The MTA-STS policy is in enforce mode and a covered MX fails it.
    pub fn sts_enforced_failing(&self) -> bool {
        self.mta_sts.mode() == Some(Mode::Enforce) && !self.mta_sts.failing().is_empty()
    }

    /// A policy (enforced MTA-STS or validated DANE) forbids relaxing TLS for this domain.
    pub fn forbids_exceptions(&self) -> bool {
        self.mta_sts.mode() == Some(Mode::Enforce) || self.dane.iter().any(DaneHost::applies)
    }

    /// One line for the "before you retry" checklist and the workaround warning.
    pub fn status_line(&self) -> String {
        let mut parts = Vec::new();
        match self.mta_sts.mode() {
            Some(mode) => parts.push(say("status", "mta_sts_mode", &[("mode", mode.label())])),
            None if self.mta_sts.published() => parts.push(say("status", "mta_sts_unusable", &[])),
            None => parts.push(say("status", "no_mta_sts", &[])),
        }
        let validated = self.dane.iter().filter(|h| h.applies()).count();
        if validated > 0 {
            let values = [
                ("validated", validated.to_string()),
                ("hosts", self.dane.len().to_string()),
            ];
            parts.push(say("status", "dane_validated", &pairs(&values)));
        } else if self.dane.iter().any(DaneHost::insecure_path) {
            parts.push(say("status", "dane_insecure_path", &[]));
        } else if self.dane.iter().any(|h| h.lookup.status == TlsaStatus::Found) {
            parts.push(say("status", "dane_not_validated", &[]));
        } else {
            parts.push(say("status", "no_dane", &[]));
        }
        parts.join(", ")
    }
}

/// Some `v=STSv1` record exists, valid or not: the policy file is worth fetching as evidence.
fn announces_policy(txt: &TxtOutcome) -> bool {
    !matches!(txt, TxtOutcome::Absent { .. })
}

/// TLSA owner names are for MX delivery: `_25._tcp.<mx>` whatever port this check probes.
const MX_PORT: u16 = 25;

/// What [`gather`] collected before the probes finished.
pub struct Gathered {
    domain: String,
    sts_txt: Txt<TxtOutcome>,
    fetch: Option<FetchOutcome>,
    /// The fetched policy, parsed from its bytes (display lines are escaped).
    policy: Option<Policy>,
    tls_rpt: Txt<TlsRptOutcome>,
    spf: Txt<SpfOutcome>,
    dmarc: Txt<DmarcOutcome>,
    mx_secure: bool,
    tlsa: Vec<DaneLookup>,
    dnssec_resolver: Option<SocketAddr>,
    dns: Option<DnsComparison>,
}

/// Where and how the lookups go.
#[derive(Debug, Clone)]
pub struct GatherSettings {
    pub nameservers: Vec<SocketAddr>,
    pub compare_nameservers: Vec<SocketAddr>,
    pub authority_port: u16,
    pub fetch: FetchSettings,
    pub timeout: Duration,
}

/// Looks up everything the recipient publishes, concurrently.
pub async fn gather(
    domain: &str,
    resolution: &Resolution,
    dns: Arc<Dns>,
    stores: &TrustStores,
    settings: &GatherSettings,
) -> Gathered {
    // Read the system configuration once; the comparison and the TLSA lookups share it.
    let primary: Vec<SocketAddr> = if settings.nameservers.is_empty() {
        raw::first_system_nameserver().into_iter().collect()
    } else {
        settings.nameservers.clone()
    };
    let dnssec_resolver = primary.first().copied();
    let sts = async {
        let txt = txt(&dns, format!("_mta-sts.{domain}"), mta_sts::parse_txt).await;
        if !txt.parsed().is_some_and(announces_policy) {
            return (txt, None, None);
        }
        let fetch = sts_fetch::fetch(domain, Arc::clone(&dns), stores, settings.fetch).await;
        let policy = fetch.body.as_deref().map(mta_sts::parse_policy);
        (txt, Some(fetch.outcome), policy)
    };
    let tlsa = async {
        let Some(server) = dnssec_resolver else {
            return (false, Vec::new());
        };
        let mx_secure = async {
            match crate::dns::fqdn(domain) {
                Ok(name) => raw::query(server, &name, RecordType::MX, QueryOptions::recursive(settings.timeout))
                    .await
                    .is_ok_and(|answer| answer.authentic_data),
                Err(_) => false,
            }
        };
        let hosts = join_all(
            resolution
                .hosts
                .iter()
                .map(|host| dane_lookup(server, &host.name, settings)),
        );
        tokio::join!(mx_secure, hosts)
    };
    let comparison = compare::compare(
        domain,
        &primary,
        &settings.compare_nameservers,
        settings.authority_port,
        settings.timeout,
    );
    let ((sts_txt, fetch, policy), tls_rpt, spf, dmarc, (mx_secure, tlsa), dns_comparison) = tokio::join!(
        sts,
        txt(&dns, format!("_smtp._tls.{domain}"), records::parse_tls_rpt),
        txt(&dns, domain.to_string(), records::parse_spf),
        txt(&dns, format!("_dmarc.{domain}"), records::parse_dmarc),
        tlsa,
        comparison,
    );
    Gathered {
        domain: SafeText::clean(domain),
        sts_txt,
        fetch,
        policy,
        tls_rpt,
        spf,
        dmarc,
        mx_secure,
        tlsa,
        dnssec_resolver,
        dns: Some(dns_comparison),
    }
}

/// What a DANE sender learns about one MX host before it looks at the certificate.
struct DaneLookup {
    host: String,
    /// The host's address lookup was DNSSEC-validated (Postfix asks for TLSA only then).
    host_secure: bool,
    lookup: TlsaLookup,
}

/// The host's address security, then its TLSA records (RFC 7672 §2.2): when a secure
/// address lookup followed CNAMEs, the expanded name is the TLSA base domain first,
/// then the MX host name itself.
async fn dane_lookup(server: SocketAddr, host: &str, settings: &GatherSettings) -> DaneLookup {
    let (host_secure, expanded) = match crate::dns::fqdn(host) {
        Ok(name) => match raw::query(server, &name, RecordType::A, QueryOptions::recursive(settings.timeout)).await {
            Ok(answer) => {
                let (target, _) = raw::follow_chain(&name, RecordType::A, &answer.answers);
                let expanded = (answer.authentic_data && target != name).then(|| crate::dns::display(&target));
                (answer.authentic_data, expanded)
            }
            Err(_) => (false, None),
        },
        Err(_) => (false, None),
    };
    let mut lookup = None;
    if let Some(target) = &expanded {
        let first = raw::tlsa(server, target, MX_PORT, settings.timeout).await;
        if !matches!(first.status, TlsaStatus::NoData | TlsaStatus::NxDomain) {
            lookup = Some(first);
        }
    }
    let lookup = match lookup {
        Some(found) => found,
        None => raw::tlsa(server, host, MX_PORT, settings.timeout).await,
    };
    DaneLookup {
        host: host.to_string(),
        host_secure,
        lookup,
    }
}

async fn txt<T>(dns: &Dns, name: String, parse: impl Fn(&[String]) -> T) -> Txt<T> {
    match dns.txt(&name).await {
        Ok(records) => Txt::Parsed {
            outcome: parse(&records),
        },
        Err(message) => Txt::Failed { message },
    }
}

impl Gathered {
    /// Judges the publications against the probes' sessions and chains.
    pub fn evaluate(self, probes: &[ProbeResult]) -> RecipientPolicy {
        let mut mta_sts = MtaSts {
            txt: self.sts_txt,
            fetch: self.fetch,
            policy: self.policy,
            mx: Vec::new(),
        };
        // Mode none means no policy (RFC 8461 §5): nothing to hold the MX hosts to.
        if let Some(active) = mta_sts.active_policy().filter(|p| p.mode != Some(Mode::None)) {
            let mut hosts: Vec<&str> = Vec::new();
            for probe in probes {
                if !hosts.contains(&probe.mx.as_str()) {
                    hosts.push(&probe.mx);
                }
            }
            mta_sts.mx = hosts
                .into_iter()
                .map(|host| StsMx {
                    host: host.to_string(),
                    pattern: active.matching_pattern(host).map(SafeText::from_peer_str),
                    failures: probes
                        .iter()
                        .filter(|p| p.mx == host)
                        .filter_map(|p| sts_failure(p).map(|(reason, kind)| (p.address, reason, kind)))
                        .map(|(address, reason, kind)| StsFailure {
                            address,
                            reason,
                            result_type: kind,
                        })
                        .collect(),
                })
                .collect();
        }
        let now = UnixTime::now();
        let mx_secure = self.mx_secure;
        let domain = self.domain.clone();
        let dane = self
            .tlsa
            .into_iter()
            .map(
                |DaneLookup {
                     host,
                     host_secure,
                     lookup,
                 }| {
                    let records: Vec<Tlsa> = lookup.records.iter().filter_map(to_tlsa).collect();
                    // Reference identifiers (RFC 7672 §3.2.2, Postfix's "nexthop, hostname"):
                    // the MX host, the TLSA base domain and the recipient domain.
                    let mut names = vec![host.clone(), domain.clone()];
                    let base = lookup.owner.splitn(3, '.').nth(2).map(str::to_string);
                    names.extend(base.filter(|b| !names.contains(b)));
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    let addresses = probes
                        .iter()
                        .filter(|p| p.mx == host)
                        .map(|p| DaneAddress {
                            address: p.address,
                            check: (lookup.status == TlsaStatus::Found && !p.presented.is_empty())
                                .then(|| dane::check_chain(&records, &p.presented, &names, now)),
                        })
                        .collect();
                    DaneHost {
                        host,
                        mx_secure,
                        host_secure,
                        lookup,
                        addresses,
                    }
                },
            )
            .collect();
        RecipientPolicy {
            domain: self.domain,
            mta_sts,
            tls_rpt: self.tls_rpt,
            spf: self.spf,
            dmarc: self.dmarc,
            dane,
            dnssec_resolver: self.dnssec_resolver,
            dns: self.dns,
        }
    }
}

fn to_tlsa(record: &raw::TlsaRecord) -> Option<Tlsa> {
    let data = (0..record.data.len())
        .step_by(2)
        .map(|i| record.data.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    Some(Tlsa {
        usage: record.usage,
        selector: record.selector,
        matching: record.matching,
        data,
    })
}

/// Why a session fails RFC 8461 §4.2, and the RFC 8460 type a sender would log.
///
/// A host that cannot be reached or does not greet is not an MTA-STS failure: the
/// policy is about TLS, and the session failure has its own verdict.
fn sts_failure(p: &ProbeResult) -> Option<(String, ResultType)> {
    if p.tls.is_none() {
        let failure = p.failure.as_ref()?;
        let kind = match failure {
            Failure::StartTlsNotOffered { .. } | Failure::StartTlsMasked { .. } | Failure::StartTlsRejected { .. } => {
                ResultType::StarttlsNotSupported
            }
            _ if p.stage == Stage::TlsHandshake => ResultType::ValidationFailure,
            _ => return None,
        };
        return Some((format!("no TLS session: {}", failure.summary()), kind));
    }
    let chain = p.chain.as_ref()?;
    if !chain.is_trusted() {
        let expired = chain.trust.iter().any(|t| t.outcome == TrustOutcome::Expired)
            || chain.leaf().is_some_and(|leaf| leaf.days_remaining < 0);
        let why = chain
            .trust
            .iter()
            .map(|t| format!("{}: {}", t.store.label(), t.outcome.describe()))
            .collect::<Vec<_>>()
            .join(", ");
        let kind = if expired {
            ResultType::CertificateExpired
        } else {
            ResultType::CertificateNotTrusted
        };
        return Some((format!("certificate not trusted ({why})"), kind));
    }
    if !chain.name_matches() {
        return Some((
            format!("certificate does not cover {}", chain.name.reference),
            ResultType::CertificateHostMismatch,
        ));
    }
    None
}
