//! The operator's sentences about a comparison, from assets/dns_compare.toml: which
//! view could not be compared, and for each difference what the view returns, what
//! its reference says and how long the cache keeps the difference alive.

use super::{
    AUTHORITY_LABEL, AnswerStatus, Difference, DifferenceKind, DnsComparison, PRIMARY_LABEL, ResolverView, ViewRole,
};
use crate::wording::Sentences;

static DNS_COMPARE: Sentences = Sentences::new(
    "assets/dns_compare.toml",
    include_str!("../../../assets/dns_compare.toml"),
);

/// The sentence `section.key` with its placeholders filled.
fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    DNS_COMPARE.say(section, key, values)
}

impl AnswerStatus {
    fn describe(&self) -> String {
        let key = match self {
            Self::Found => "found",
            Self::NoData => "no_data",
            Self::NxDomain => "nx_domain",
            Self::ServFail => "serv_fail",
            Self::Refused => "refused",
            Self::NotAuthoritative => "not_authoritative",
            Self::Error { message } => return message.clone(),
            Self::Skipped => "skipped",
        };
        say("status", key, &[])
    }
}

impl DnsComparison {
    /// Plain-English lines for an operator, most important first.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for view in &self.views {
            if !view.mx_status.is_definitive() {
                let status = view.mx_status.describe();
                lines.push(say(
                    "summary",
                    "lookup_failed",
                    &[("view", &view.label), ("status", &status)],
                ));
            }
        }
        let labels = [("authority", AUTHORITY_LABEL), ("primary", PRIMARY_LABEL)];
        match (&self.authority, &self.authority_error) {
            (Some(authority), _) if !authority.view.mx_status.is_definitive() => {
                let status = authority.view.mx_status.describe();
                lines.push(say(
                    "summary",
                    "authority_no_answer",
                    &[&labels[..], &[("status", &status)]].concat(),
                ));
            }
            (None, Some(error)) => lines.push(say(
                "summary",
                "authority_unreachable",
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
                lines.push(say("summary", "all_agree", &[("reference", with)]));
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
    // Against the authoritative servers the view is outdated; against this relay's
    // resolver, which side is current cannot be told.
    let sentences = if reference.role == ViewRole::Authority {
        "authoritative"
    } else {
        "unconfirmed"
    };
    let of_kind = |kind| differences.iter().copied().filter(move |d| d.kind == kind);
    let expiry = |ttl: Option<u32>| match ttl {
        Some(ttl) => say(sentences, "expiry", &[("about", &about(ttl))]),
        None => say(sentences, "expiry_unknown", &[]),
    };
    // Every sentence names the view and its reference first.
    let line = |key: &str, values: &[(&str, &str)]| {
        let named = [("view", view.label.as_str()), ("reference", reference.label.as_str())];
        say(sentences, key, &[&named[..], values].concat())
    };

    let only: Vec<&Difference> = of_kind(DifferenceKind::MxOnlyInView).collect();
    let missing: Vec<&Difference> = of_kind(DifferenceKind::MxMissingInView).collect();
    let reference_hosts = if reference.mx.is_empty() {
        say("summary", "no_mx_hosts", &[])
    } else {
        join(reference.mx.iter().map(|mx| mx.exchange.clone()))
    };
    if !only.is_empty() {
        let listed = join(only.iter().map(|d| format!("{}{}", d.name, ttl_left(d.ttl))));
        let longest = only.iter().filter_map(|d| d.ttl).max();
        lines.push(line(
            "mx_only",
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
            "mx_missing",
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
            "preference",
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
            .unwrap_or_else(|| say("summary", "no_addresses", &[]));
        if !only.is_empty() {
            let listed = join(
                only.iter()
                    .map(|d| format!("{}{}", d.view_value.as_deref().unwrap_or("?"), ttl_left(d.ttl))),
            );
            let longest = only.iter().filter_map(|d| d.ttl).max();
            lines.push(line(
                "address_only",
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
                "address_missing",
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
    ttl.map(|ttl| say("summary", "ttl_left", &[("ttl", &ttl.to_string())]))
        .unwrap_or_default()
}

/// A TTL as an operator would say it.
fn about(seconds: u32) -> String {
    let (key, n) = match seconds {
        0 => ("moment", 0),
        1 => ("second", 1),
        2..=89 => ("seconds", seconds),
        90..=3299 => ("minutes", (seconds + 30) / 60),
        3300..=5399 => ("hour", 1),
        5400..=129_599 => ("hours", (seconds + 1800) / 3600),
        _ => ("days", (seconds + 43_200) / 86_400),
    };
    say("ttl", key, &[("n", &n.to_string())])
}

/// Every sentence the code asks for; a test keeps this and the asset in step.
#[cfg(test)]
const USED: &[(&str, &str)] = &[
    ("status", "found"),
    ("status", "no_data"),
    ("status", "nx_domain"),
    ("status", "serv_fail"),
    ("status", "refused"),
    ("status", "not_authoritative"),
    ("status", "skipped"),
    ("summary", "lookup_failed"),
    ("summary", "authority_no_answer"),
    ("summary", "authority_unreachable"),
    ("summary", "all_agree"),
    ("summary", "no_mx_hosts"),
    ("summary", "no_addresses"),
    ("summary", "ttl_left"),
    ("authoritative", "mx_only"),
    ("authoritative", "mx_missing"),
    ("authoritative", "preference"),
    ("authoritative", "address_only"),
    ("authoritative", "address_missing"),
    ("authoritative", "expiry"),
    ("authoritative", "expiry_unknown"),
    ("unconfirmed", "mx_only"),
    ("unconfirmed", "mx_missing"),
    ("unconfirmed", "preference"),
    ("unconfirmed", "address_only"),
    ("unconfirmed", "address_missing"),
    ("unconfirmed", "expiry"),
    ("unconfirmed", "expiry_unknown"),
    ("ttl", "moment"),
    ("ttl", "second"),
    ("ttl", "seconds"),
    ("ttl", "minutes"),
    ("ttl", "hour"),
    ("ttl", "hours"),
    ("ttl", "days"),
];

#[cfg(test)]
mod tests {
    use super::super::diff::compare_views;
    use super::super::tests::moved_address;
    use super::*;

    #[test]
    fn every_sentence_used_is_in_the_asset() {
        assert_eq!(DNS_COMPARE.problems(USED), Vec::<String>::new());
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
        let (cached, reference) = moved_address();
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
