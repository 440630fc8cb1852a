//! The retry checklist: each item of assets/advice.toml, measured against the check
//! where the evidence can answer it, otherwise left for the operator.

use serde::Deserialize;

use super::{label, say};
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
    let failing = |test: fn(&ProbeResult) -> bool| -> Vec<String> {
        by_address(probes.iter().filter(|p| !test(p)).collect(), report)
    };
    let handshake_failing = failing(|p| p.failure.is_none() && p.tls.is_some());
    // Only a presented chain can fail this item; without one it is the handshake's.
    let cert_failing = failing(|p| p.chain.as_ref().is_none_or(|c| c.is_trusted() && c.name_matches()));
    let no_chain = !probes.is_empty() && probes.iter().all(|p| p.chain.is_none());
    let with_chain = probes.iter().filter(|p| p.chain.is_some()).count();
    let verdict_of = |failing: Vec<String>| -> (CheckStatus, String) {
        if probes.is_empty() {
            (CheckStatus::Fail, say("checklist", "nothing_probed", &[]))
        } else if failing.is_empty() {
            let count = crate::diagnose::groups::addresses(report).len().to_string();
            (
                CheckStatus::Pass,
                say("checklist", "all_addresses", &[("count", &count)]),
            )
        } else {
            let addresses = failing.join(", ");
            (
                CheckStatus::Fail,
                say("checklist", "failing", &[("addresses", &addresses)]),
            )
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
                    let seen = if hosts.is_empty() {
                        say("checklist", "no_mx", &[])
                    } else {
                        hosts.join(", ")
                    };
                    (CheckStatus::Ask, say("checklist", "mx_seen", &[("hosts", &seen)]))
                }
                Measure::Handshake => verdict_of(handshake_failing.clone()),
                Measure::Certificate if no_chain => (CheckStatus::Ask, say("checklist", "no_certificate", &[])),
                Measure::Certificate if cert_failing.is_empty() && with_chain < probes.len() => {
                    let (count, total) = (with_chain.to_string(), probes.len().to_string());
                    (
                        CheckStatus::Pass,
                        say("checklist", "all_chains", &[("count", &count), ("total", &total)]),
                    )
                }
                Measure::Certificate => verdict_of(cert_failing.clone()),
                Measure::SenderPolicy => match answers.get("sender-policy").map(String::as_str) {
                    Some("opportunistic") => (CheckStatus::Pass, say("checklist", "sender_opportunistic", &[])),
                    Some("encrypt") if handshake_failing.is_empty() && !probes.is_empty() => {
                        (CheckStatus::Pass, say("checklist", "sender_encrypt_met", &[]))
                    }
                    Some("verify") if cert_failing.is_empty() && !probes.is_empty() => {
                        (CheckStatus::Pass, say("checklist", "sender_verify_met", &[]))
                    }
                    Some("encrypt" | "verify") => (CheckStatus::Fail, say("checklist", "sender_not_met", &[])),
                    _ => (CheckStatus::Ask, say("checklist", "sender_unanswered", &[])),
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

/// The probes as the operator reads them: `host [address]` for an address probed under
/// one MX name, the address and its names (each once) for one probed under several.
fn by_address(probes: Vec<&ProbeResult>, report: &CheckReport) -> Vec<String> {
    let mut addresses: Vec<(std::net::IpAddr, Vec<&ProbeResult>)> = Vec::new();
    for p in probes {
        match addresses.iter_mut().find(|(ip, _)| *ip == p.address.ip()) {
            Some((_, seen)) => seen.push(p),
            None => addresses.push((p.address.ip(), vec![p])),
        }
    }
    addresses
        .into_iter()
        .flat_map(|(ip, seen)| {
            let mut hosts: Vec<String> = Vec::new();
            for p in &seen {
                if !hosts.contains(&p.mx) {
                    hosts.push(p.mx.clone());
                }
            }
            match seen.as_slice() {
                [_, _, ..] if hosts.len() > 1 => {
                    let address = crate::diagnose::GroupAddress { address: ip, hosts };
                    vec![super::group_address(&address, &report.resolution)]
                }
                _ => seen.into_iter().map(label).collect(),
            }
        })
        .collect()
}

/// The checklist line on MTA-STS and DANE, from what the check measured.
fn recipient_policy_item(report: &CheckReport) -> (CheckStatus, String) {
    let Some(policy) = &report.recipient else {
        return (CheckStatus::Ask, say("checklist", "recipient_not_looked_up", &[]));
    };
    let status = policy.status_line();
    let violated =
        policy.sts_enforced_uncovered() || policy.sts_enforced_failing() || !policy.dane_failures().is_empty();
    if violated {
        (
            CheckStatus::Fail,
            say("checklist", "recipient_violated", &[("status", &status)]),
        )
    } else if policy.mta_sts.publication_problem().is_some() || policy.dane_unusable() {
        (
            CheckStatus::Ask,
            say("checklist", "recipient_broken", &[("status", &status)]),
        )
    } else {
        (CheckStatus::Pass, status)
    }
}
