//! The operator's sentences about a comparison, from assets/dns_compare.toml: which
//! view could not be compared, and for each difference what the view returns, what
//! its reference says and how long the cache keeps the difference alive.

use std::sync::OnceLock;

use serde::Deserialize;

use super::{
    AUTHORITY_LABEL, AnswerStatus, Difference, DifferenceKind, DnsComparison, PRIMARY_LABEL, ResolverView, ViewRole,
};
use crate::wording::fill;

const WORDING_TOML: &str = include_str!("../../../assets/dns_compare.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wording {
    status: Status,
    summary: Summary,
    authoritative: Sentences,
    unconfirmed: Sentences,
    ttl: Ttl,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    found: String,
    no_data: String,
    nx_domain: String,
    serv_fail: String,
    refused: String,
    not_authoritative: String,
    skipped: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    lookup_failed: String,
    authority_no_answer: String,
    authority_unreachable: String,
    all_agree: String,
    no_mx_hosts: String,
    no_addresses: String,
    ttl_left: String,
}

/// The difference sentences against one kind of reference: the authoritative
/// servers (the view is outdated) or this relay's resolver (which is current is open).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sentences {
    mx_only: String,
    mx_missing: String,
    preference: String,
    address_only: String,
    address_missing: String,
    expiry: String,
    expiry_unknown: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ttl {
    moment: String,
    second: String,
    seconds: String,
    minutes: String,
    hour: String,
    hours: String,
    days: String,
}

fn wording() -> &'static Wording {
    static WORDING: OnceLock<Wording> = OnceLock::new();
    WORDING.get_or_init(|| {
        #[expect(clippy::expect_used, reason = "the embedded asset is parsed by a test")]
        toml::from_str(WORDING_TOML).expect("assets/dns_compare.toml parses")
    })
}

impl AnswerStatus {
    fn describe(&self) -> String {
        let status = &wording().status;
        match self {
            Self::Found => status.found.clone(),
            Self::NoData => status.no_data.clone(),
            Self::NxDomain => status.nx_domain.clone(),
            Self::ServFail => status.serv_fail.clone(),
            Self::Refused => status.refused.clone(),
            Self::NotAuthoritative => status.not_authoritative.clone(),
            Self::Error { message } => message.clone(),
            Self::Skipped => status.skipped.clone(),
        }
    }
}

impl DnsComparison {
    /// Plain-English lines for an operator, most important first.
    pub fn summary(&self) -> Vec<String> {
        let say = &wording().summary;
        let mut lines = Vec::new();
        for view in &self.views {
            if !view.mx_status.is_definitive() {
                let status = view.mx_status.describe();
                lines.push(fill(&say.lookup_failed, &[("view", &view.label), ("status", &status)]));
            }
        }
        let labels = [("authority", AUTHORITY_LABEL), ("primary", PRIMARY_LABEL)];
        match (&self.authority, &self.authority_error) {
            (Some(authority), _) if !authority.view.mx_status.is_definitive() => {
                let status = authority.view.mx_status.describe();
                lines.push(fill(
                    &say.authority_no_answer,
                    &[&labels[..], &[("status", &status)]].concat(),
                ));
            }
            (None, Some(error)) => lines.push(fill(
                &say.authority_unreachable,
                &[&labels[..], &[("error", error)]].concat(),
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
                lines.push(fill(&say.all_agree, &[("reference", with)]));
            }
        }
        lines
    }
}

/// Operator-facing lines for one view's differences.
fn describe_differences(view: &ResolverView, reference: &ResolverView, differences: &[&Difference]) -> Vec<String> {
    let mut lines = Vec::new();
    if differences.is_empty() {
        return lines;
    }
    let say = &wording().summary;
    let authoritative = reference.role == ViewRole::Authority;
    let sentences = if authoritative {
        &wording().authoritative
    } else {
        &wording().unconfirmed
    };
    let of_kind = |kind| differences.iter().copied().filter(move |d| d.kind == kind);
    let expiry = |ttl: Option<u32>| match ttl {
        Some(ttl) => fill(&sentences.expiry, &[("about", &about(ttl))]),
        None => sentences.expiry_unknown.clone(),
    };
    // Every sentence names the view and its reference first.
    let line = |template: &str, values: &[(&str, &str)]| {
        let named = [("view", view.label.as_str()), ("reference", reference.label.as_str())];
        fill(template, &[&named[..], values].concat())
    };

    let only: Vec<&Difference> = of_kind(DifferenceKind::MxOnlyInView).collect();
    let missing: Vec<&Difference> = of_kind(DifferenceKind::MxMissingInView).collect();
    let reference_hosts = if reference.mx.is_empty() {
        say.no_mx_hosts.clone()
    } else {
        join(reference.mx.iter().map(|mx| mx.exchange.clone()))
    };
    if !only.is_empty() {
        let listed = join(only.iter().map(|d| format!("{}{}", d.name, ttl_left(d.ttl))));
        let longest = only.iter().filter_map(|d| d.ttl).max();
        lines.push(line(
            &sentences.mx_only,
            &[
                ("hosts", &listed),
                ("reference_hosts", &reference_hosts),
                ("expiry", &expiry(longest)),
            ],
        ));
    } else if !missing.is_empty() {
        let listed = join(missing.iter().map(|d| d.name.clone()));
        let ttl = missing.iter().filter_map(|d| d.ttl).max();
        lines.push(line(
            &sentences.mx_missing,
            &[
                ("hosts", &listed),
                ("ttl", &ttl_left(ttl)),
                ("reference_hosts", &reference_hosts),
                ("expiry", &expiry(ttl)),
            ],
        ));
    }
    for d in of_kind(DifferenceKind::PreferenceDiffers) {
        lines.push(line(
            &sentences.preference,
            &[
                ("host", &d.name),
                ("preference", d.view_value.as_deref().unwrap_or("?")),
                ("ttl", &ttl_left(d.ttl)),
                ("reference_preference", d.reference_value.as_deref().unwrap_or("?")),
                ("expiry", &expiry(d.ttl)),
            ],
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
            .unwrap_or_else(|| say.no_addresses.clone());
        if !only.is_empty() {
            let listed = join(
                only.iter()
                    .map(|d| format!("{}{}", d.view_value.as_deref().unwrap_or("?"), ttl_left(d.ttl))),
            );
            let longest = only.iter().filter_map(|d| d.ttl).max();
            lines.push(line(
                &sentences.address_only,
                &[
                    ("addresses", &listed),
                    ("host", host),
                    ("reference_addresses", &reference_ips),
                    ("expiry", &expiry(longest)),
                ],
            ));
        } else {
            let missing: Vec<&Difference> = of_host(DifferenceKind::AddressMissingInView).collect();
            let listed = join(missing.iter().map(|d| d.reference_value.clone().unwrap_or_default()));
            let ttl = missing.iter().filter_map(|d| d.ttl).max();
            lines.push(line(
                &sentences.address_missing,
                &[
                    ("addresses", &listed),
                    ("host", host),
                    ("ttl", &ttl_left(ttl)),
                    ("reference_addresses", &reference_ips),
                    ("expiry", &expiry(ttl)),
                ],
            ));
        }
    }
    lines
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn ttl_left(ttl: Option<u32>) -> String {
    ttl.map(|ttl| fill(&wording().summary.ttl_left, &[("ttl", &ttl.to_string())]))
        .unwrap_or_default()
}

/// A TTL as an operator would say it.
fn about(seconds: u32) -> String {
    let say = &wording().ttl;
    let (template, n) = match seconds {
        0 => (&say.moment, 0),
        1 => (&say.second, 1),
        2..=89 => (&say.seconds, seconds),
        90..=3299 => (&say.minutes, (seconds + 30) / 60),
        3300..=5399 => (&say.hour, 1),
        5400..=129_599 => (&say.hours, (seconds + 1800) / 3600),
        _ => (&say.days, (seconds + 43_200) / 86_400),
    };
    fill(template, &[("n", &n.to_string())])
}

#[cfg(test)]
mod tests {
    use super::super::diff::compare_views;
    use super::super::tests::view;
    use super::*;

    #[test]
    fn wording_asset_parses() {
        let parsed: Result<Wording, _> = toml::from_str(WORDING_TOML);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn ttls_read_like_an_operator_says_them() {
        assert_eq!(about(0), "a moment");
        assert_eq!(about(45), "45 seconds");
        assert_eq!(about(300), "about 5 minutes");
        assert_eq!(about(3512), "about an hour");
        assert_eq!(about(7200), "about 2 hours");
        assert_eq!(about(86_400 * 3), "about 3 days");
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
