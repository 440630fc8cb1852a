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
use crate::model::ProbeResult;
use crate::model::{CheckReport, Resolution};
pub use crate::wording::fill;
use crate::wording::{Sentences, pairs};
pub(super) use evidence::merge;

const ADVICE_TOML: &str = include_str!("../../../assets/advice.toml");

static VERDICT: Sentences = Sentences::new("assets/verdict.toml", include_str!("../../../assets/verdict.toml"));

/// A sentence of assets/verdict.toml with its placeholders filled.
fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    VERDICT.say(section, key, values)
}

/// Evidence lines kept per verdict; the rest are in the per-address table.
const MAX_EVIDENCE: usize = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advice {
    workaround: BTreeMap<String, workaround::Template>,
    workaround_refused: workaround::RefusedText,
    workaround_one_mx: workaround::OneMxText,
    policy_map: workaround::PolicyMapText,
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
    for step in steps.iter().filter(|s| !s.unanswered && s.outcome.answer().is_some()) {
        evidence.push(EvidenceRef {
            address: None,
            mx: None,
            at: EvidenceAt::Answer {
                question: step.node.clone(),
            },
            detail: format!("{} → {}", step.title, step.answer_label(tree).unwrap_or_default()),
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
        tlsrpt: evidence::measured_tlsrpt(spec, report).or(spec.tlsrpt),
        scope,
        evidence,
        workaround: workaround::workaround(spec, report, answers, &supporting),
        reproduce: reproduce::reproduce(spec, report),
        checklist: checklist::checklist(report, answers),
        steps,
        findings: Vec::new(),
        relay: None,
        groups: Vec::new(),
    }
}

/// The workaround of leaf `id` judged over the whole report (what this relay does with
/// every address, which hosts still work), for the probes of `addresses`.
pub(super) fn workaround_over(
    tree: &Tree,
    id: &str,
    report: &CheckReport,
    answers: &Answers,
    addresses: &[std::net::IpAddr],
) -> Option<Workaround> {
    let spec = tree.verdict(id)?;
    let supporting: Vec<usize> = report
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| addresses.contains(&p.address.ip()))
        .map(|(i, _)| i)
        .collect();
    workaround::workaround(spec, report, answers, &supporting)
}

/// MX names as the operator reads them: "all 10 MX names" when the list holds every MX
/// name of the destination (a pool publishes each address under all of them), else the
/// names themselves.
pub fn hosts_phrase(hosts: &[String], resolution: &Resolution) -> String {
    let all = &resolution.hosts;
    if hosts.len() > 2 && hosts.len() == all.len() && all.iter().all(|h| hosts.contains(&h.name)) {
        say("evidence", "all_names", &[("count", &all.len().to_string())])
    } else {
        hosts.join(", ")
    }
}

/// The confidence reason of a verdict about one of several groups.
pub(super) fn grouped_reason(reason: &str, problems: usize) -> String {
    format!(
        "{reason}{}",
        say("confidence", "grouped", &[("count", &problems.to_string())])
    )
}

/// How a group of addresses is introduced: its problem, what it does to delivery, who
/// has to act, how many addresses.
pub fn group_heading(group: &AddressGroup) -> String {
    let blocking = match group.blocking {
        Blocking::Blocks => "blocks",
        Blocking::BlocksVerifying => "blocks_verifying",
        Blocking::BlocksRequiringTls => "blocks_requiring_tls",
        Blocking::Delivers => "delivers",
    };
    let blocking = say("groups", blocking, &[]);
    // The healthy leaf's title speaks of every address; a group is only some of them.
    let title = if group.family == Family::Healthy && group.owner == Owner::None {
        say("groups", "healthy", &[])
    } else {
        group.title.clone()
    };
    let count = group.addresses.len();
    let key = if count == 1 { "heading_one" } else { "heading" };
    say(
        "groups",
        key,
        &[
            ("title", &title),
            ("blocking", &blocking),
            ("owner", group.owner.label()),
            ("count", &count.to_string()),
        ],
    )
}

/// A group's fix as its own line; `None` for addresses with nothing to repair.
pub fn group_fix(group: &AddressGroup) -> Option<String> {
    (group.family != Family::Healthy && !group.fix.is_empty()).then(|| say("groups", "fix", &[("fix", &group.fix)]))
}

/// The groups' problems in one sentence, for a note that names them all: each title
/// with how many addresses show it, the addresses with nothing wrong left out.
pub fn groups_summary(groups: &[AddressGroup]) -> String {
    let parts: Vec<String> = groups
        .iter()
        .filter(|g| g.family != Family::Healthy)
        .map(|g| {
            let count = g.addresses.len();
            let key = if count == 1 { "short_one" } else { "short" };
            say("groups", key, &[("title", &g.title), ("count", &count.to_string())])
        })
        .collect();
    parts.join("; ")
}

/// One address of a group, with the MX names it was probed under.
pub fn group_address(address: &GroupAddress, resolution: &Resolution) -> String {
    say(
        "groups",
        "address",
        &[
            ("address", &address.address.to_string()),
            ("hosts", &hosts_phrase(&address.hosts, resolution)),
        ],
    )
}

/// The heading of the by-address list, in every report and on the Verdict screen.
pub fn groups_title() -> String {
    say("groups", "title", &[])
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
    let questions = unanswered.join("; ");
    let mut reason = if unanswered.is_empty() {
        say("confidence", "from_wire", &[])
    } else if confidence == spec.confidence {
        // Already as low as it goes: nothing was lowered, the questions are just open.
        say("confidence", "open", &[("questions", &questions)])
    } else {
        say(
            "confidence",
            "lowered",
            &[("confidence", spec.confidence.label()), ("questions", &questions)],
        )
    };
    if steps.iter().any(|s| s.lowers_confidence && second_vantage(s)) {
        reason.push_str(&say("confidence", "one_vantage", &[]));
    }
    if let Scope::SomeAddresses { failing, .. } = scope {
        let count = failing.len().to_string();
        reason.push_str(&say("confidence", "host_specific", &[("count", &count)]));
    }
    if steps
        .iter()
        .any(|s| second_vantage(s) && s.outcome.answer() == Some("same"))
    {
        reason.push_str(&say("confidence", "confirmed", &[]));
    }
    (confidence, reason)
}

/// Every sentence of assets/verdict.toml the code asks for; a test keeps both in step.
#[cfg(test)]
const USED: &[(&str, &str)] = &[
    ("confidence", "from_wire"),
    ("confidence", "lowered"),
    ("confidence", "open"),
    ("confidence", "one_vantage"),
    ("confidence", "host_specific"),
    ("confidence", "confirmed"),
    ("confidence", "grouped"),
    ("evidence", "all_names"),
    ("evidence", "seen_on"),
    ("evidence", "seen_on_addresses"),
    ("evidence", "seen_on_each"),
    ("evidence", "address_as"),
    ("certificate", "name_mismatch_many"),
    ("groups", "title"),
    ("groups", "heading"),
    ("groups", "heading_one"),
    ("groups", "address"),
    ("groups", "healthy"),
    ("groups", "blocks"),
    ("groups", "blocks_verifying"),
    ("groups", "blocks_requiring_tls"),
    ("groups", "delivers"),
    ("groups", "fix"),
    ("groups", "short"),
    ("groups", "short_one"),
    ("dns", "nxdomain"),
    ("dns", "null_mx"),
    ("dns", "nodata"),
    ("dns", "error"),
    ("dns", "no_addresses"),
    ("transcript", "failure"),
    ("transcript", "last_words"),
    ("published", "sts_failure"),
    ("published", "sts_uncovered"),
    ("published", "sts_publication"),
    ("published", "dane_servfail"),
    ("certificate", "expired"),
    ("certificate", "name_mismatch"),
    ("certificate", "missing_issuer"),
    ("certificate", "self_signed"),
    ("certificate", "validity"),
    ("checklist", "nothing_probed"),
    ("checklist", "no_certificate"),
    ("checklist", "all_chains"),
    ("checklist", "all_addresses"),
    ("checklist", "failing"),
    ("checklist", "mx_seen"),
    ("checklist", "no_mx"),
    ("checklist", "sender_opportunistic"),
    ("checklist", "sender_encrypt_met"),
    ("checklist", "sender_verify_met"),
    ("checklist", "sender_not_met"),
    ("checklist", "sender_unanswered"),
    ("checklist", "recipient_not_looked_up"),
    ("checklist", "recipient_violated"),
    ("checklist", "recipient_broken"),
    ("workaround", "owner"),
    ("workaround", "policy_found"),
    ("workaround", "policy_not_looked_up"),
    ("workaround", "refused"),
    ("workaround", "refused_destination"),
    ("workaround", "refused_mx"),
];

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

    #[test]
    fn every_verdict_sentence_used_is_in_the_asset() {
        assert_eq!(VERDICT.problems(USED), Vec::<String>::new());
    }
}
