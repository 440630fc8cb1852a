//! From evidence to a verdict: walk the decision tree (assets/tree.toml) over a
//! check report and the operator's answers, then attach scope, evidence, fix,
//! workaround, reproduce commands and the retry checklist.

mod advice;
pub use advice::{
    fill, group_address, group_fix, group_heading, groups_summary, groups_title, hosts_phrase, postmaster_template,
};
pub mod checks;
pub(crate) mod groups;
pub mod tree;
pub mod verdict;

use std::collections::BTreeMap;

use thiserror::Error;

use crate::model::CheckReport;
use crate::model::{Direction, Finding, MxOutcome};
pub use tree::Tree;
use tree::{Target, UNKNOWN};
pub use verdict::*;

/// The operator's answers: question id → answer key.
pub type Answers = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiagnoseError {
    #[error("no question {0:?}; questions are: {1}")]
    UnknownQuestion(String, String),
    #[error("question {question:?} has no answer {answer:?}; answers are: {choices}")]
    UnknownAnswer {
        question: String,
        answer: String,
        choices: String,
    },
    #[error("{0:?} is not ID=ANSWER")]
    Malformed(String),
    #[error("the decision tree is broken at {0}")]
    BrokenTree(String),
}

/// Parses `ID=ANSWER` and checks both against the tree.
pub fn parse_answer(tree: &Tree, text: &str) -> Result<(String, String), DiagnoseError> {
    let (id, key) = text
        .split_once('=')
        .ok_or_else(|| DiagnoseError::Malformed(text.to_string()))?;
    let (id, key) = (id.trim(), key.trim());
    let question = tree.question(id).ok_or_else(|| {
        let ids: Vec<&str> = tree.questions.iter().map(|q| q.id.as_str()).collect();
        DiagnoseError::UnknownQuestion(id.to_string(), ids.join(", "))
    })?;
    if !question.answers.iter().any(|a| a.key == key) {
        let keys: Vec<&str> = question.answers.iter().map(|a| a.key.as_str()).collect();
        return Err(DiagnoseError::UnknownAnswer {
            question: id.to_string(),
            answer: key.to_string(),
            choices: keys.join(", "),
        });
    }
    Ok((id.to_string(), key.to_string()))
}

/// Walks the tree and builds the verdict. When the addresses fail in more than one way,
/// the verdict names the problem of the group that blocks delivery most (then the
/// largest), says which addresses it is about, lists every group, and cites the
/// evidence of all of them, each line once.
pub fn diagnose(tree: &Tree, report: &CheckReport, answers: &Answers) -> Result<Verdict, DiagnoseError> {
    let whole = walk(tree, report, answers)?;
    if domain_level(report) || groups::addresses(report).len() < 2 {
        return Ok(whole);
    }
    let groups = groups::by_address(tree, report, answers)?;
    let problems = groups.iter().filter(|g| g.family != Family::Healthy).count();
    if problems < 2 {
        return Ok(whole);
    }
    let mut evidence = Vec::new();
    let mut lead = None;
    for group in &groups {
        let ips: Vec<std::net::IpAddr> = group.addresses.iter().map(|a| a.address).collect();
        let verdict = walk(tree, &groups::restricted(report, &ips), answers)?;
        evidence.extend(verdict.evidence.iter().cloned());
        lead.get_or_insert(verdict);
    }
    let Some(mut verdict) = lead else {
        return Ok(whole);
    };
    // The lead group's problem may not decide this relay's verdict (a certificate problem
    // an opportunistic relay delivers through): then the verdict over every address
    // stands, with the groups listed under it.
    if groups.first().is_some_and(|g| g.id != verdict.id) {
        let mut verdict = whole;
        verdict.evidence = advice::merge(evidence, report);
        verdict.confidence_reason = advice::grouped_reason(&verdict.confidence_reason, problems);
        verdict.groups = groups;
        return Ok(verdict);
    }
    let lead_ips: Vec<std::net::IpAddr> = groups
        .first()
        .map(|g| g.addresses.iter().map(|a| a.address).collect())
        .unwrap_or_default();
    let about: Vec<String> = lead_ips.iter().map(ToString::to_string).collect();
    // An exception is judged with every address in view: another may still take the mail.
    verdict.workaround = advice::workaround_over(
        tree,
        &verdict.id,
        report,
        &with_relay_answers(report, answers),
        &lead_ips,
    );
    let total = groups::addresses(report).len();
    verdict.confidence_reason = advice::grouped_reason(&verdict.confidence_reason, problems);
    verdict.scope = Scope::Grouped {
        addresses: about,
        total,
    };
    verdict.evidence = advice::merge(evidence, report);
    // What is about the whole destination comes from the walk over every address.
    verdict.checklist = whole.checklist;
    verdict.reproduce = whole.reproduce;
    verdict.findings = whole.findings;
    verdict.relay = whole.relay;
    verdict.groups = groups;
    Ok(verdict)
}

/// One walk through the tree over `report`, and the verdict it ends in.
fn walk(tree: &Tree, report: &CheckReport, answers: &Answers) -> Result<Verdict, DiagnoseError> {
    let read = with_relay_answers(report, answers);
    let answers = &read;
    let mut steps = Vec::new();
    let mut supporting: Vec<usize> = Vec::new();
    let mut current = tree.start.as_str();
    // Validation proves the tree acyclic; the bound keeps a broken asset from hanging us.
    for _ in 0..=tree.nodes.len() {
        let node = match tree.target(current) {
            Some(Target::Node(node)) => node,
            Some(Target::Verdict(spec)) => {
                let mut verdict = advice::complete(tree, spec, report, answers, steps, supporting);
                verdict.findings = noted(report);
                verdict.relay = crate::relay::predict::predict(report);
                return Ok(verdict);
            }
            None => return Err(DiagnoseError::BrokenTree(current.to_string())),
        };
        let relay_read = report.relay.as_ref().is_some_and(|r| r.mta.is_some());
        if node.relay && !relay_read {
            current = node
                .no
                .as_deref()
                .ok_or_else(|| DiagnoseError::BrokenTree(node.id.clone()))?;
            continue;
        }
        let (outcome, next, unanswered) = if let Some(name) = &node.check {
            let check = checks::lookup(name).ok_or_else(|| DiagnoseError::BrokenTree(node.id.clone()))?;
            let hit = check(report);
            if hit.yes && !hit.probes.is_empty() {
                supporting = hit.probes;
            }
            let next = if hit.yes { &node.yes } else { &node.no };
            let outcome = if hit.yes { Outcome::Yes } else { Outcome::No };
            (outcome, next.as_deref(), false)
        } else {
            let question = node.question.as_deref().unwrap_or_default();
            let answer = answers.get(question).map_or(UNKNOWN, String::as_str);
            let next = node.next.as_ref().and_then(|n| n.get(answer)).map(String::as_str);
            (Outcome::Answer(answer.to_string()), next, answer == UNKNOWN)
        };
        let lowers_confidence = unanswered && tree.question_at(&node.id).is_none_or(|q| q.lowers_confidence);
        steps.push(Step {
            node: node.id.clone(),
            title: node.title.clone(),
            outcome,
            unanswered,
            lowers_confidence,
        });
        current = next.ok_or_else(|| DiagnoseError::BrokenTree(node.id.clone()))?;
    }
    Err(DiagnoseError::BrokenTree(current.to_string()))
}

/// The operator's answers, plus what the relay's configuration answers by itself: its
/// TLS level for this destination is the sender-policy answer. The operator's own
/// answer wins.
fn with_relay_answers(report: &CheckReport, answers: &Answers) -> Answers {
    use crate::model::relay::Level;
    let mut answers = answers.clone();
    let level = report.relay.as_ref().and_then(|r| r.policy.as_ref()).map(|p| p.level);
    if let Some(level) = level {
        let key = match level {
            Level::None | Level::May | Level::Dane => "opportunistic",
            Level::Encrypt | Level::DaneOnly => "encrypt",
            Level::Fingerprint | Level::Verify | Level::Secure => "verify",
        };
        answers
            .entry("sender-policy".to_string())
            .or_insert_with(|| key.to_string());
    }
    answers
}

/// The findings worth carrying into the verdict, once per address. A QUIT left
/// unanswered says nothing about delivery, so it stays in the detail.
fn noted(report: &CheckReport) -> Vec<Noted> {
    let mut noted: Vec<Noted> = Vec::new();
    for probe in &report.probes {
        for finding in &probe.findings {
            if *finding == Finding::QuitUnanswered {
                continue;
            }
            let entry = Noted {
                mx: probe.mx.clone(),
                address: probe.address,
                finding: finding.clone(),
            };
            if !noted.contains(&entry) {
                noted.push(entry);
            }
        }
    }
    noted
}

/// How the process exit code follows the verdict.
pub fn exit_code(report: &CheckReport, verdict: &Verdict) -> u8 {
    if report.probes.is_empty() {
        return 3;
    }
    // What the verdict names may not stop this relay: delivering over TLS counts as healthy,
    // unless only some attempts do (the others defer).
    let delivers_over_tls = verdict.relay.as_ref().is_some_and(|p| {
        p.chance.is_none()
            && matches!(p.outcome, crate::model::relay::Outcome::Deliver(d) if d != crate::model::relay::Delivery::Cleartext)
    });
    match verdict.family {
        Family::Healthy => 0,
        _ if delivers_over_tls => 0,
        Family::Inconclusive => 3,
        _ => 1,
    }
}

/// The transcript line that best shows a probe's failure: the server's last line before
/// our closing QUIT (the refusal, or what it said before it went silent or dropped us),
/// or the final event when the server never spoke (connect failures).
pub(crate) fn telling_line(probe: &crate::model::ProbeResult) -> Option<usize> {
    let end = probe
        .transcript
        .iter()
        .position(|l| l.direction == Direction::Client && l.text.as_str() == "QUIT")
        .unwrap_or(probe.transcript.len());
    probe.transcript[..end]
        .iter()
        .rposition(|l| l.direction == Direction::Server)
        .or_else(|| probe.transcript.len().checked_sub(1))
}

/// True when the check reached DNS only.
pub(crate) fn domain_level(report: &CheckReport) -> bool {
    report.probes.is_empty()
        || !matches!(
            report.resolution.outcome,
            MxOutcome::Mx | MxOutcome::ImplicitMx | MxOutcome::Direct
        )
}
