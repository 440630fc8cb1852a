//! RFC 9525 (formerly RFC 6125 §6.4) matching of a reference identifier against the
//! identifiers a certificate presents.
//!
//! This is our own implementation rather than `rustls::client::verify_server_name` because
//! the report has to say *which* SAN matched, and webpki only answers yes or no. The rules
//! follow webpki's, so the two never disagree on a verdict.

use std::net::IpAddr;

/// Whether the DNS-ID `presented` (a subjectAltName dNSName) covers the host `reference`.
///
/// Both are compared case-insensitively in ASCII (A-label) form, each with at most one
/// trailing dot ignored. A `*` is honoured only as the entire left-most label of
/// `presented`, matches exactly one label, and needs at least two labels after it, so
/// `*.com` never matches. An IP-address reference never matches a DNS-ID: IP references
/// are compared with [`ip_id_matches`] instead. Non-ASCII input never matches, because
/// the caller is expected to have converted U-labels to A-labels.
pub fn dns_id_matches(reference: &str, presented: &str) -> bool {
    let (Some(reference), Some(presented)) = (strip_root(reference), strip_root(presented)) else {
        return false;
    };
    if reference.parse::<IpAddr>().is_ok() || reference.contains('*') {
        return false;
    }
    let ref_labels: Vec<&str> = reference.split('.').collect();
    let pres_labels: Vec<&str> = presented.split('.').collect();
    if ref_labels.len() != pres_labels.len() || has_empty_label(&ref_labels) || has_empty_label(&pres_labels) {
        return false;
    }
    let (pres_first, pres_rest) = match pres_labels.split_first() {
        Some(split) => split,
        None => return false,
    };
    if pres_rest.iter().any(|l| l.contains('*')) {
        return false;
    }
    let first_ok = if *pres_first == "*" {
        // One wildcard label plus at least two literal labels, so `*.com` is refused.
        pres_labels.len() >= 3
    } else if pres_first.contains('*') {
        // Partial-label wildcards (`mx*`, `*mx`, `xn--*`) are forbidden by RFC 9525.
        false
    } else {
        ref_labels[0].eq_ignore_ascii_case(pres_first)
    };
    first_ok
        && ref_labels[1..]
            .iter()
            .zip(pres_rest)
            .all(|(r, p)| r.eq_ignore_ascii_case(p))
}

/// Whether the iPAddress SAN `presented` (4 or 16 octets, as encoded) equals `reference`.
///
/// An IPv4 reference does not match the IPv4-mapped IPv6 form, as in webpki.
pub fn ip_id_matches(reference: IpAddr, presented: &[u8]) -> bool {
    match reference {
        IpAddr::V4(v4) => presented == v4.octets(),
        IpAddr::V6(v6) => presented == v6.octets(),
    }
}

/// Drops one trailing root dot; refuses empty or non-ASCII names.
fn strip_root(name: &str) -> Option<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty() && name.is_ascii()).then_some(name)
}

fn has_empty_label(labels: &[&str]) -> bool {
    labels.iter().any(|l| l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_match_case_insensitively() {
        assert!(dns_id_matches("mx.example.com", "mx.example.com"));
        assert!(dns_id_matches("MX.Example.COM", "mx.example.com"));
        assert!(dns_id_matches("mx.example.com", "MX.EXAMPLE.COM"));
        assert!(!dns_id_matches("mx.example.com", "mx.example.org"));
        assert!(!dns_id_matches("mx.example.com", "example.com"));
    }

    #[test]
    fn one_trailing_dot_is_ignored_on_either_side() {
        assert!(dns_id_matches("mx.example.com.", "mx.example.com"));
        assert!(dns_id_matches("mx.example.com", "mx.example.com."));
        assert!(dns_id_matches("mx.example.com.", "*.example.com."));
        assert!(!dns_id_matches("mx.example.com..", "mx.example.com"));
        assert!(!dns_id_matches(".", "."));
    }

    #[test]
    fn wildcard_matches_exactly_one_leftmost_label() {
        assert!(dns_id_matches("mx.example.com", "*.example.com"));
        assert!(dns_id_matches("MX.example.com", "*.EXAMPLE.com"));
        assert!(!dns_id_matches("example.com", "*.example.com"));
        assert!(!dns_id_matches("a.b.example.com", "*.example.com"));
    }

    #[test]
    fn wildcard_only_as_entire_leftmost_label() {
        assert!(!dns_id_matches("mx.example.com", "mx.*.com"));
        assert!(!dns_id_matches("mx.example.com", "mx.example.*"));
        assert!(!dns_id_matches("a.mx.example.com", "*.*.example.com"));
    }

    #[test]
    fn partial_label_wildcards_never_match() {
        assert!(!dns_id_matches("mx1.example.com", "mx*.example.com"));
        assert!(!dns_id_matches("mx1.example.com", "*1.example.com"));
        assert!(!dns_id_matches("mx1.example.com", "m*1.example.com"));
        assert!(!dns_id_matches("xn--bcher-kva.example.com", "xn--*.example.com"));
    }

    #[test]
    fn wildcard_needs_two_labels_after_it() {
        assert!(!dns_id_matches("example.com", "*.com"));
        assert!(!dns_id_matches("com", "*"));
        assert!(dns_id_matches("mx.example.com", "*.example.com"));
    }

    #[test]
    fn ip_address_references_never_match_dns_names() {
        assert!(!dns_id_matches("192.0.2.1", "192.0.2.1"));
        assert!(!dns_id_matches("192.0.2.1", "*.0.2.1"));
        assert!(!dns_id_matches("2001:db8::1", "2001:db8::1"));
    }

    #[test]
    fn empty_labels_never_match() {
        assert!(!dns_id_matches("", ""));
        assert!(!dns_id_matches("mx..example.com", "mx..example.com"));
        assert!(!dns_id_matches(".example.com", ".example.com"));
        assert!(!dns_id_matches("mx.example.com", "*..com"));
        assert!(!dns_id_matches("a..example.com", "*..example.com"));
    }

    #[test]
    fn wildcard_in_reference_is_not_a_pattern() {
        assert!(!dns_id_matches("*.example.com", "*.example.com"));
        assert!(!dns_id_matches("*.example.com", "mx.example.com"));
    }

    #[test]
    fn non_ascii_never_matches() {
        assert!(!dns_id_matches("bücher.example", "bücher.example"));
        assert!(!dns_id_matches("bücher.example", "*.example"));
    }

    #[test]
    fn ip_ids_compare_octets() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(ip_id_matches(v4, &[192, 0, 2, 1]));
        assert!(!ip_id_matches(v4, &[192, 0, 2, 2]));
        assert!(ip_id_matches(
            v6,
            &"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        ));
        assert!(!ip_id_matches(
            v4,
            &"::ffff:192.0.2.1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        ));
        assert!(!ip_id_matches(v4, &[]));
    }
}
