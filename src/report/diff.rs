//! Comparing two reports of the same destination, usually from two vantage points.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::session::Session;
use crate::model::CheckReport;
use crate::model::ProbeResult;

/// What differs, and what each difference means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub differences: Vec<String>,
    pub meaning: Vec<String>,
}

/// The failure's kind as JSON names it (`closed_after_starttls`), or `ok`.
pub fn outcome_kind(p: &ProbeResult) -> String {
    match &p.failure {
        None if p.is_secure() => "ok".to_string(),
        None => "certificate problem".to_string(),
        Some(f) => f.kind().to_string(),
    }
}

/// The latest result per address and port (repeated attempts: the last one).
fn by_address(check: &CheckReport) -> BTreeMap<SocketAddr, &ProbeResult> {
    check.probes.iter().map(|p| (p.address, p)).collect()
}

pub fn diff(a: &Session, b: &Session) -> Diff {
    let mut d = Diff::default();
    let (ha, hb) = (&a.check.vantage_host, &b.check.vantage_host);
    if a.check.target != b.check.target {
        d.differences
            .push(format!("targets differ: {} vs {}", a.check.target, b.check.target));
        d.meaning.push(super::wording::say("diff", "targets_differ", &[]));
    }
    // As a set: resolvers rotate hosts of equal preference, which is no difference.
    let mx = |s: &Session| -> Vec<String> {
        let mut hosts: Vec<(Option<u16>, String)> = s
            .check
            .resolution
            .hosts
            .iter()
            .map(|h| (h.preference, h.name.clone()))
            .collect();
        hosts.sort();
        hosts.into_iter().map(|(_, name)| name).collect()
    };
    let (mxa, mxb) = (mx(a), mx(b));
    if mxa != mxb {
        d.differences.push(format!(
            "MX set from {ha}: {}; from {hb}: {}",
            mxa.join(", "),
            mxb.join(", ")
        ));
        d.meaning.push(super::wording::say("diff", "mx_differ", &[]));
    }
    let (pa, pb) = (by_address(&a.check), by_address(&b.check));
    let mut only_here_fails = false;
    let mut both_fail_same = false;
    let mut cert_differs = false;
    let mut tls_differs = false;
    for (ip, x) in &pa {
        let Some(y) = pb.get(ip) else {
            d.differences.push(format!("{ip} probed only from {ha}"));
            continue;
        };
        let (kx, ky) = (outcome_kind(x), outcome_kind(y));
        if kx != ky {
            d.differences.push(format!(
                "{} [{ip}]: {ha} reached {} ({kx}); {hb} reached {} ({ky})",
                x.mx,
                x.stage.label(),
                y.stage.label()
            ));
            only_here_fails |= (kx == "ok") != (ky == "ok");
        } else if kx != "ok" {
            both_fail_same = true;
        }
        let leaf = |p: &ProbeResult| p.chain.as_ref().and_then(|c| c.leaf()).map(|l| l.sha256.clone());
        if let (Some(la), Some(lb)) = (leaf(x), leaf(y))
            && la != lb
        {
            cert_differs = true;
            d.differences.push(format!(
                "{} [{ip}]: different leaf certificates ({la:.16}… vs {lb:.16}…)",
                x.mx
            ));
        }
        let params = |p: &ProbeResult| p.tls.as_ref().map(|t| format!("{} {}", t.version, t.cipher_suite));
        if let (Some(ta), Some(tb)) = (params(x), params(y))
            && ta != tb
        {
            tls_differs = true;
            d.differences
                .push(format!("{} [{ip}]: {ha} negotiated {ta}; {hb} negotiated {tb}", x.mx));
        }
    }
    for ip in pb.keys().filter(|ip| !pa.contains_key(ip)) {
        d.differences.push(format!("{ip} probed only from {hb}"));
    }
    // What the recipient publishes is the same everywhere, unless DNS or the path differs.
    let policy = |s: &Session| s.check.recipient.as_ref().map(|r| r.status_line());
    if let (Some(x), Some(y)) = (policy(a), policy(b))
        && x != y
    {
        d.differences
            .push(format!("recipient policy from {ha}: {x}; from {hb}: {y}"));
        d.meaning.push(super::wording::say("diff", "policy_differs", &[]));
    }
    if only_here_fails {
        d.meaning.push(super::wording::say("diff", "one_side_fails", &[]));
    }
    if both_fail_same {
        d.meaning.push(super::wording::say("diff", "both_fail", &[]));
    }
    if cert_differs {
        d.meaning.push(super::wording::say("diff", "certificates_differ", &[]));
    }
    if tls_differs {
        d.meaning.push(super::wording::say("diff", "tls_differ", &[]));
    }
    if d.differences.is_empty() {
        d.meaning.push(super::wording::say("diff", "same", &[]));
    }
    d
}

/// Answers the vantage question from another report: "same" when the other side sees
/// the same failures, "works" when the addresses failing here work there.
pub fn vantage_answer(here: &CheckReport, there: &CheckReport) -> Option<&'static str> {
    if here.target != there.target {
        return None;
    }
    let there_by = by_address(there);
    let failing: Vec<&ProbeResult> = here.probes.iter().filter(|p| outcome_kind(p) != "ok").collect();
    if failing.is_empty() {
        return None;
    }
    let compared: Vec<(String, String)> = failing
        .iter()
        .filter_map(|p| there_by.get(&p.address).map(|q| (outcome_kind(p), outcome_kind(q))))
        .collect();
    if compared.is_empty() {
        None
    } else if compared.iter().all(|(a, b)| a == b) {
        Some("same")
    } else if compared.iter().all(|(_, b)| b == "ok") {
        Some("works")
    } else {
        None
    }
}

pub fn render_diff(a: &Session, b: &Session, d: &Diff) -> String {
    let mut out = format!(
        "Comparing {} from {} ({}) with {} from {} ({})\n\n",
        a.check.target,
        a.check.vantage_host,
        super::markdown::utc(a.check.started_at),
        b.check.target,
        b.check.vantage_host,
        super::markdown::utc(b.check.started_at)
    );
    out.push_str("Differences:\n");
    if d.differences.is_empty() {
        out.push_str("  none\n");
    }
    for line in &d.differences {
        out.push_str(&format!("  - {line}\n"));
    }
    out.push_str("\nWhat it means:\n");
    for line in &d.meaning {
        out.push_str(&format!("  - {line}\n"));
    }
    out
}
