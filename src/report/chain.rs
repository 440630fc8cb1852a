//! A presented certificate chain as plain lines (two leading spaces per level of
//! detail), shared by the text and Markdown reports so both say the same thing.

use crate::cert::{ChainReport, Completeness};

pub fn lines(chain: &ChainReport) -> Vec<String> {
    let mut lines = Vec::new();
    for c in &chain.certificates {
        if let Some(e) = &c.parse_error {
            lines.push(format!("[{}] unreadable: {e}", c.position));
            continue;
        }
        lines.push(format!("[{}] subject {}", c.position, c.subject));
        lines.push(format!("  issuer {}", c.issuer));
        if !c.sans.is_empty() {
            let sans: Vec<&str> = c.sans.iter().map(|s| s.as_str()).collect();
            lines.push(format!("  SANs: {}", sans.join(", ")));
        }
        lines.push(format!(
            "  valid {} to {} ({} days {}); {} {}; {}",
            c.not_before,
            c.not_after,
            c.days_remaining.abs(),
            if c.days_remaining < 0 { "ago" } else { "left" },
            c.key_algorithm,
            c.key_bits.map_or("?".into(), |b| format!("{b} bits")),
            c.signature_algorithm
        ));
        lines.push(format!("  SHA-256 {}; SPKI SHA-256 {}", c.sha256, c.spki_sha256));
    }
    match &chain.completeness {
        Completeness::Complete => {}
        Completeness::MissingIssuer { issuer } => lines.push(format!("chain: incomplete, issuer not sent: {issuer}")),
        Completeness::Disordered => lines.push("chain: certificates out of order".into()),
        Completeness::Empty => lines.push("chain: no certificate presented".into()),
    }
    let trust: Vec<String> = chain
        .trust
        .iter()
        .map(|t| format!("{}: {}", t.store.label(), t.outcome.describe()))
        .collect();
    lines.push(format!("trust: {}", trust.join("; ")));
    let reference = &chain.name.reference;
    lines.push(match &chain.name.matched_by {
        Some(id) => format!("name: {reference} matched by {id}"),
        None if chain.name.cn_only => {
            format!("name: {reference} NOT covered (certificate has only a subject CN, no SAN)")
        }
        None => format!("name: {reference} NOT covered by the certificate"),
    });
    lines
}
