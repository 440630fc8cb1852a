//! A domain whose addresses fail in different ways: each address is judged on its
//! own (the same tree walk over the report cut down to that address's probes; DNS,
//! the recipient's policy and this relay stay as they are), the addresses that come
//! to the same verdict form a group, and the groups are ordered so that what blocks
//! delivery comes first, then the largest.

use std::cmp::Reverse;
use std::net::IpAddr;

use super::verdict::{AddressGroup, Blocking, Family, GroupAddress, Verdict};
use super::{Answers, DiagnoseError, Tree};
use crate::model::CheckReport;
use crate::model::relay::Level;

/// The report with only the probes of `addresses`.
pub(super) fn restricted(report: &CheckReport, addresses: &[IpAddr]) -> CheckReport {
    CheckReport {
        schema_version: report.schema_version,
        tool_version: report.tool_version.clone(),
        target: report.target.clone(),
        vantage_host: report.vantage_host.clone(),
        started_at: report.started_at,
        resolution: report.resolution.clone(),
        probes: report
            .probes
            .iter()
            .filter(|p| addresses.contains(&p.address.ip()))
            .cloned()
            .collect(),
        elapsed_ms: report.elapsed_ms,
        sender_profile: report.sender_profile.clone(),
        recipient: report.recipient.clone(),
        relay: report.relay.clone(),
    }
}

/// Every probed address once, in the order it was first probed (MX preference order).
pub(super) fn addresses(report: &CheckReport) -> Vec<IpAddr> {
    let mut seen: Vec<IpAddr> = Vec::new();
    for p in &report.probes {
        if !seen.contains(&p.address.ip()) {
            seen.push(p.address.ip());
        }
    }
    seen
}

/// The addresses grouped by the verdict each reaches alone, the group to lead with first.
pub(super) fn by_address(
    tree: &Tree,
    report: &CheckReport,
    answers: &Answers,
) -> Result<Vec<AddressGroup>, DiagnoseError> {
    use super::walk;
    let policy = super::with_relay_answers(report, answers).get("sender-policy").cloned();
    let mut groups: Vec<(usize, AddressGroup)> = Vec::new();
    for (order, ip) in addresses(report).into_iter().enumerate() {
        let alone = restricted(report, &[ip]);
        let mut verdict = walk(tree, &alone, answers)?;
        // "A certificate problem that does not block this relay" names no problem:
        // the walk a verifying sender takes does.
        let cut_short = verdict.steps.iter().any(|s| {
            tree.question_at(&s.node).is_some_and(|q| q.id == "sender-policy")
                && matches!(s.outcome.answer(), Some("opportunistic" | "encrypt"))
        });
        if verdict.family == Family::Certificate && cut_short {
            let mut verifying = answers.clone();
            verifying.insert("sender-policy".to_string(), "verify".to_string());
            let named = walk(tree, &alone, &verifying)?;
            if matches!(named.family, Family::Certificate | Family::NameMismatch) {
                verdict = Verdict {
                    relay: verdict.relay,
                    ..named
                };
            }
        }
        let blocking = blocking(&verdict, policy.as_deref(), &alone);
        let mut hosts: Vec<String> = Vec::new();
        for p in alone.probes.iter() {
            if !hosts.contains(&p.mx) {
                hosts.push(p.mx.clone());
            }
        }
        let address = GroupAddress { address: ip, hosts };
        match groups
            .iter_mut()
            .find(|(_, g)| g.id == verdict.id && g.blocking == blocking)
        {
            Some((_, group)) => group.addresses.push(address),
            None => groups.push((
                order,
                AddressGroup {
                    id: verdict.id,
                    title: verdict.title,
                    family: verdict.family,
                    owner: verdict.owner,
                    blocking,
                    fix: verdict.fix,
                    addresses: vec![address],
                },
            )),
        }
    }
    groups.sort_by_key(|(order, g)| {
        (
            g.blocking,
            g.family == Family::Healthy,
            Reverse(g.addresses.len()),
            *order,
        )
    });
    Ok(groups.into_iter().map(|(_, g)| g).collect())
}

/// Whether mail gets through an address, from what is known of this relay: its own
/// prediction where its configuration was read; else what a Postfix client would do
/// with this address's sessions at the level the operator named (opportunistic `may`,
/// `encrypt`, `verify`); with no level known, the weakest sender it stops. A problem with
/// what the recipient publishes (MTA-STS, DANE) stops the senders that honour it, which
/// that model does not know of: it counts as blocking.
fn blocking(verdict: &Verdict, policy: Option<&str>, alone: &CheckReport) -> Blocking {
    if let Some(prediction) = &verdict.relay
        && !prediction.addresses.is_empty()
    {
        return if prediction.outcome.delivers() {
            Blocking::Delivers
        } else {
            Blocking::Blocks
        };
    }
    if verdict.family == Family::RecipientPolicy {
        return Blocking::Blocks;
    }
    let at = |level| delivers_at(alone, level);
    let stops = |level| {
        if at(level) {
            Blocking::Delivers
        } else {
            Blocking::Blocks
        }
    };
    match policy {
        Some("opportunistic") => stops(Level::May),
        Some("encrypt") => stops(Level::Encrypt),
        Some("verify") => stops(Level::Verify),
        _ if at(Level::Verify) => Blocking::Delivers,
        _ if at(Level::Encrypt) => Blocking::BlocksVerifying,
        _ if at(Level::May) => Blocking::BlocksRequiringTls,
        _ => Blocking::Blocks,
    }
}

/// Whether a Postfix client at `level`, with its defaults (trust anchors, the certificate
/// to match the MX host name), delivers over every session of `report`.
fn delivers_at(report: &CheckReport, level: Level) -> bool {
    use crate::relay::predict::{Matching, judge, namaddr, nexthop_domain, session_from_probe};
    /// Postfix's `smtp_helo_timeout` default, which bounds the wait for a greeting.
    const HELO_WAIT_MS: u64 = 300_000;
    let strategies = ["hostname".to_string()];
    let nexthop = nexthop_domain(&report.resolution.query);
    let matching = Matching {
        level,
        anchors: true,
        strategies: &strategies,
        nexthop: &nexthop,
    };
    !report.probes.is_empty()
        && report.probes.iter().all(|p| {
            let session = session_from_probe(p, &matching, &p.mx, HELO_WAIT_MS);
            let (outcome, _, _) = judge(level, &session, &namaddr(&p.mx, p.address.ip()), p.address.port());
            outcome.delivers()
        })
}
