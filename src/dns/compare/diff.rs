//! The pure difference between views: each view against its reference (the
//! authoritative servers when they answered, otherwise this relay's resolver), as
//! typed [`Difference`]s. No I/O and no wording.

use super::{Difference, DifferenceKind, DnsComparison, ResolverView, ViewRole};
use crate::model::AddressRecord;

/// Every view compared with the reference: the authority when it answered,
/// otherwise the primary resolver (which then is not compared with itself).
pub(super) fn differences(comparison: &DnsComparison) -> Vec<Difference> {
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

/// One view against its reference, where both gave a definitive MX answer.
pub(super) fn compare_views(view: &ResolverView, reference: &ResolverView) -> Vec<Difference> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{moved_address, view};
    use super::super::{AUTHORITY_LABEL, AnswerStatus, PRIMARY_LABEL};
    use super::*;

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
    fn changed_address_is_one_address_only_in_the_view_and_one_missing() {
        let (cached, reference) = moved_address();
        let kinds: Vec<DifferenceKind> = compare_views(&cached, &reference).iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [DifferenceKind::AddressOnlyInView, DifferenceKind::AddressMissingInView]
        );
    }
}
