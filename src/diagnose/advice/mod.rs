//! Everything around a verdict that helps the operator act: scope and confidence
//! here; the evidence, the workaround, the reproduce commands and the checklist in
//! their own modules, each chosen by what the tree and assets/advice.toml say.

mod checklist;
mod evidence;
mod reproduce;
mod workaround;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::tree::{Tree, VerdictSpec};
use super::verdict::*;
use super::{Answers, domain_level};
use crate::model::CheckReport;
use crate::model::ProbeResult;
pub use crate::wording::fill;

const ADVICE_TOML: &str = include_str!("../../../assets/advice.toml");

/// Evidence lines kept per verdict; the rest are in the per-address table.
const MAX_EVIDENCE: usize = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advice {
    workaround: BTreeMap<String, workaround::Template>,
    workaround_refused: workaround::RefusedText,
    checklist: Vec<checklist::ChecklistText>,
    postmaster: Postmaster,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Postmaster {
    note: String,
}

/// The template of the note for the recipient's postmaster (placeholders in braces).
pub fn postmaster_template() -> &'static str {
    &advice().postmaster.note
}

fn advice() -> &'static Advice {
    static ADVICE: OnceLock<Advice> = OnceLock::new();
    ADVICE.get_or_init(|| {
        #[expect(clippy::expect_used, reason = "the embedded asset is parsed by a test")]
        toml::from_str(ADVICE_TOML).expect("assets/advice.toml parses")
    })
}

pub(super) fn complete(
    tree: &Tree,
    spec: &VerdictSpec,
    report: &CheckReport,
    answers: &Answers,
    steps: Vec<Step>,
    supporting: Vec<usize>,
) -> Verdict {
    let scope = scope(report, &supporting);
    let (confidence, confidence_reason) = confidence(tree, spec, &steps, &scope);
    let mut evidence = evidence::evidence(spec, report, &supporting);
    for step in steps
        .iter()
        .filter(|s| !s.unanswered && !matches!(s.outcome.as_str(), "yes" | "no"))
    {
        evidence.push(EvidenceRef {
            address: None,
            mx: None,
            at: EvidenceAt::Answer {
                question: step.node.clone(),
            },
            detail: format!("{} → {}", step.title, step.outcome),
        });
    }
    Verdict {
        id: spec.id.clone(),
        family: spec.family,
        owner: spec.owner,
        confidence,
        confidence_reason,
        title: spec.title.clone(),
        explanation: spec.explain.clone(),
        fix: spec.fix.clone(),
        next_check: spec.next_check.clone(),
        tlsrpt: evidence::measured_tlsrpt(spec, report).or_else(|| spec.tlsrpt.clone()),
        scope,
        evidence,
        workaround: workaround::workaround(spec, report, answers, &supporting),
        reproduce: reproduce::reproduce(spec, report),
        checklist: checklist::checklist(report, answers),
        steps,
        findings: Vec::new(),
    }
}

/// How an address is named in scope and checklist lines.
fn label(p: &ProbeResult) -> String {
    format!("{} [{}]", p.mx, p.address.ip())
}

fn scope(report: &CheckReport, supporting: &[usize]) -> Scope {
    if domain_level(report) {
        return Scope::Domain;
    }
    let mut failing: Vec<String> = supporting
        .iter()
        .filter_map(|&i| report.probes.get(i))
        .map(label)
        .collect();
    failing.sort();
    failing.dedup();
    // "Working" means secure: an address that failed some other way is not a way in.
    let mut working: Vec<String> = report
        .probes
        .iter()
        .filter(|p| p.is_secure())
        .map(label)
        .filter(|l| !failing.contains(l))
        .collect();
    working.sort();
    working.dedup();
    let mut addresses: Vec<_> = report.probes.iter().map(|p| p.address).collect();
    addresses.sort();
    addresses.dedup();
    if failing.is_empty() || working.is_empty() {
        Scope::AllAddresses { count: addresses.len() }
    } else {
        Scope::SomeAddresses { failing, working }
    }
}

/// The leaf's confidence, one level lower for each question left unanswered on the way.
fn confidence(tree: &Tree, spec: &VerdictSpec, steps: &[Step], scope: &Scope) -> (Confidence, String) {
    let second_vantage = |step: &Step| tree.question_at(&step.node).is_some_and(|q| q.second_vantage);
    let unanswered: Vec<&str> = steps
        .iter()
        .filter(|s| s.lowers_confidence)
        .map(|s| s.title.as_str())
        .collect();
    let confidence = unanswered.iter().fold(spec.confidence, |c, _| c.lowered());
    let mut reason = if unanswered.is_empty() {
        "decided from the evidence on the wire".to_string()
    } else {
        format!(
            "lowered from {} because these questions are open: {}",
            spec.confidence.label(),
            unanswered.join("; ")
        )
    };
    if steps.iter().any(|s| s.lowers_confidence && second_vantage(s)) {
        reason.push_str("; seen from this network only");
    }
    if let Scope::SomeAddresses { failing, .. } = scope {
        reason.push_str(&format!(
            "; host-specific: only {} of the addresses fail",
            failing.len()
        ));
    }
    if steps.iter().any(|s| second_vantage(s) && s.outcome == "same") {
        reason.push_str("; confirmed from a second network");
    }
    (confidence, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_asset_parses_and_has_both_workarounds() {
        let advice: Advice = toml::from_str(ADVICE_TOML).unwrap();
        assert!(advice.workaround.contains_key("relax_verification"));
        assert!(advice.workaround.contains_key("allow_opportunistic"));
        assert_eq!(advice.checklist.len(), 6);
    }
}
