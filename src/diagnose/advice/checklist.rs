//! The retry checklist: each item of assets/advice.toml, measured against the check
//! where the evidence can answer it, otherwise left for the operator.

use serde::Deserialize;

use super::label;
use crate::diagnose::Answers;
use crate::diagnose::verdict::{CheckStatus, ChecklistItem};
use crate::model::CheckReport;
use crate::model::ProbeResult;

/// One checklist item as the asset words it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChecklistText {
    pub id: String,
    pub text: String,
    pub measure: Measure,
}

/// What answers a checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Measure {
    /// The MX hosts seen, for the operator to compare with what they expect.
    MxSet,
    /// Every address completed a TLS handshake.
    Handshake,
    /// Every address presented a verified certificate for its name.
    Certificate,
    /// This relay's policy (the operator's answer) against what the server offers.
    SenderPolicy,
    /// The recipient's MTA-STS and DANE, as measured.
    RecipientPolicy,
    /// Nothing measured answers it: the operator checks.
    Ask,
}

/// The checklist to run before retrying the queue, each item measured as the
/// asset says (`measure`).
pub(super) fn checklist(report: &CheckReport, answers: &Answers) -> Vec<ChecklistItem> {
    let probes = &report.probes;
    let failing =
        |test: fn(&ProbeResult) -> bool| -> Vec<String> { probes.iter().filter(|p| !test(p)).map(label).collect() };
    let handshake_failing = failing(|p| p.failure.is_none() && p.tls.is_some());
    let cert_failing = failing(ProbeResult::is_secure);
    let verdict_of = |failing: Vec<String>| -> (CheckStatus, String) {
        if probes.is_empty() {
            (CheckStatus::Fail, "no address could be probed".to_string())
        } else if failing.is_empty() {
            (CheckStatus::Pass, format!("all {} addresses", probes.len()))
        } else {
            (CheckStatus::Fail, format!("failing: {}", failing.join(", ")))
        }
    };
    super::advice()
        .checklist
        .iter()
        .map(|item| {
            let (status, detail) = match item.measure {
                Measure::MxSet => {
                    let hosts: Vec<String> = report
                        .resolution
                        .hosts
                        .iter()
                        .map(|h| match h.preference {
                            Some(p) => format!("{p} {}", h.name),
                            None => h.name.clone(),
                        })
                        .collect();
                    (
                        CheckStatus::Ask,
                        format!(
                            "seen: {}",
                            if hosts.is_empty() {
                                "none".to_string()
                            } else {
                                hosts.join(", ")
                            }
                        ),
                    )
                }
                Measure::Handshake => verdict_of(handshake_failing.clone()),
                Measure::Certificate => verdict_of(cert_failing.clone()),
                Measure::SenderPolicy => match answers.get("sender-policy").map(String::as_str) {
                    Some("opportunistic") => (
                        CheckStatus::Pass,
                        "opportunistic TLS accepts any certificate".to_string(),
                    ),
                    Some("encrypt") if handshake_failing.is_empty() && !probes.is_empty() => (
                        CheckStatus::Pass,
                        "TLS is required and every handshake completes".to_string(),
                    ),
                    Some("verify") if cert_failing.is_empty() && !probes.is_empty() => {
                        (CheckStatus::Pass, "certificates verify on every address".to_string())
                    }
                    Some("encrypt" | "verify") => (
                        CheckStatus::Fail,
                        "the server does not meet this relay's policy".to_string(),
                    ),
                    _ => (CheckStatus::Ask, "answer the sender-policy question".to_string()),
                },
                Measure::RecipientPolicy => recipient_policy_item(report),
                Measure::Ask => (CheckStatus::Ask, String::new()),
            };
            ChecklistItem {
                id: item.id.clone(),
                text: item.text.clone(),
                status,
                detail,
            }
        })
        .collect()
}

/// The checklist line on MTA-STS and DANE, from what the check measured.
fn recipient_policy_item(report: &CheckReport) -> (CheckStatus, String) {
    let Some(policy) = &report.recipient else {
        return (
            CheckStatus::Ask,
            "not looked up in this check: look for _mta-sts and TLSA records".to_string(),
        );
    };
    let status = policy.status_line();
    let violated =
        policy.sts_enforced_uncovered() || policy.sts_enforced_failing() || !policy.dane_failures().is_empty();
    if violated {
        (
            CheckStatus::Fail,
            format!("{status}: the live setup does not satisfy it"),
        )
    } else if policy.mta_sts.publication_problem().is_some() || policy.dane_unusable() {
        (
            CheckStatus::Ask,
            format!("{status}: published, but broken (see the policy section)"),
        )
    } else {
        (CheckStatus::Pass, status)
    }
}
