//! A presented certificate chain as lines with a level and a tone, shared by the
//! text report, the Markdown report and the workbench's chain pane, so all three
//! say the same thing (the workbench colours lines by tone).

use crate::cert::{ChainReport, Completeness, TrustOutcome};
use crate::text::one_line;

/// How a line reads: the workbench colours by it, the reports ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Heading,
    Plain,
    Good,
    Bad,
    Dim,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLine {
    /// 0 for a certificate or a verdict on the chain, 1 for a certificate's details.
    pub depth: usize,
    pub text: String,
    pub tone: Tone,
}

fn line(depth: usize, tone: Tone, text: String) -> ChainLine {
    ChainLine { depth, text, tone }
}

/// The chain as lines. Peer fields are made [`one_line`]: each line here stands for one
/// fact, and padding must not let a name spill into what reads as the next fact.
pub fn lines(chain: &ChainReport) -> Vec<ChainLine> {
    let mut lines = Vec::new();
    for c in &chain.certificates {
        if let Some(e) = &c.parse_error {
            lines.push(line(0, Tone::Bad, format!("[{}] unreadable: {e}", c.position)));
            continue;
        }
        lines.push(line(
            0,
            Tone::Heading,
            format!("[{}] subject {}", c.position, one_line(c.subject.as_str())),
        ));
        lines.push(line(1, Tone::Plain, format!("issuer {}", one_line(c.issuer.as_str()))));
        if !c.sans.is_empty() {
            let sans: Vec<String> = c.sans.iter().map(|s| one_line(s.as_str())).collect();
            lines.push(line(1, Tone::Plain, format!("SANs: {}", sans.join(", "))));
        }
        let validity = format!("valid {} to {}", c.not_before, c.not_after);
        lines.push(if c.days_remaining < 0 {
            line(
                1,
                Tone::Bad,
                format!("{validity}: EXPIRED {} days ago", -c.days_remaining),
            )
        } else {
            line(1, Tone::Plain, format!("{validity} ({} days left)", c.days_remaining))
        });
        lines.push(line(
            1,
            Tone::Plain,
            format!(
                "key {} {}, {}",
                c.key_algorithm,
                c.key_bits.map_or("?".into(), |b| format!("{b} bits")),
                c.signature_algorithm
            ),
        ));
        lines.push(line(1, Tone::Dim, format!("SHA-256 {}", c.sha256)));
        lines.push(line(1, Tone::Dim, format!("SPKI SHA-256 {}", c.spki_sha256)));
    }
    match &chain.completeness {
        Completeness::Complete => {}
        Completeness::MissingIssuer { issuer } => {
            lines.push(line(
                0,
                Tone::Bad,
                format!("chain incomplete: issuer {} not sent", one_line(issuer.as_str())),
            ));
        }
        Completeness::Disordered => lines.push(line(0, Tone::Bad, "chain: certificates out of order".into())),
        Completeness::Empty => lines.push(line(0, Tone::Bad, "chain: no certificate presented".into())),
        Completeness::Truncated { sent, kept } => lines.push(line(
            0,
            Tone::Bad,
            format!("chain cut: the server sent {sent} certificates, only the first {kept} are judged"),
        )),
    }
    if let (Some(sent), false) = (chain.sent, matches!(chain.completeness, Completeness::Truncated { .. })) {
        lines.push(line(
            0,
            Tone::Dim,
            format!(
                "the server sent {sent} certificates; the first {} are judged",
                chain.certificates.len()
            ),
        ));
    }
    for t in &chain.trust {
        let tone = match t.outcome {
            TrustOutcome::Trusted => Tone::Good,
            TrustOutcome::StoreEmpty => Tone::Dim,
            _ => Tone::Bad,
        };
        lines.push(line(
            0,
            tone,
            format!("trust {}: {}", t.store.label(), t.outcome.describe()),
        ));
    }
    let reference = &chain.name.reference;
    lines.push(match &chain.name.matched_by {
        Some(id) => line(
            0,
            Tone::Good,
            format!("name {reference} matched by {}", one_line(id.as_str())),
        ),
        None if chain.name.cn_only => line(
            0,
            Tone::Bad,
            format!("name {reference} NOT covered (the certificate has only a subject CN, no SAN)"),
        ),
        None => line(0, Tone::Bad, format!("name {reference} NOT covered by the certificate")),
    });
    lines
}
