//! Plain-text rendering of a check, for a terminal or a pager.

use std::fmt::Write;

use super::session::Session;
use crate::cert::ChainReport;
use crate::diagnose::{CheckStatus, Scope, Tree, Verdict};
use crate::model::{Failure, LookupStatus, MxOutcome, ProbeResult};

/// Renders the session; `verbose` adds the transcript of every address, not only failing ones.
pub fn render_text(session: &Session, verbose: bool) -> String {
    let report = &session.check;
    let mut out = String::new();
    let r = &report.resolution;
    let _ = writeln!(out, "mxtriage check {} from {}", report.target, report.vantage_host);
    let _ = writeln!(out, "{}", resolution_line(&r.outcome, &r.query));
    if r.truncated {
        let _ = writeln!(
            out,
            "  (DNS returned more hosts or addresses than mxtriage follows; only the first are shown)"
        );
    }
    for host in &r.hosts {
        let pref = host.preference.map_or(String::new(), |p| format!("MX {p} "));
        let ttl = host.ttl.map_or(String::new(), |t| format!(" (TTL {t}s)"));
        let _ = writeln!(out, "  {pref}{}{ttl}", host.name);
        for step in &host.cname_chain {
            let _ = writeln!(out, "    CNAME {step}");
        }
        for a in &host.addresses {
            let _ = writeln!(out, "    {} (TTL {}s)", a.ip, a.ttl);
        }
        for (family, status) in [("A", &host.a_lookup), ("AAAA", &host.aaaa_lookup)] {
            match status {
                LookupStatus::NxDomain => {
                    let _ = writeln!(out, "    {family}: no such name");
                }
                LookupStatus::Error { message } => {
                    let _ = writeln!(out, "    {family}: lookup failed: {message}");
                }
                _ => {}
            }
        }
    }
    for probe in &report.probes {
        out.push('\n');
        render_probe(&mut out, probe, verbose);
    }
    if let Some(policy) = &report.recipient {
        let _ = writeln!(out, "\nRECIPIENT POLICY: {}", policy.status_line());
        for section in super::policy::sections(policy, &report.probes) {
            let _ = writeln!(out, "  {}", section.title);
            for line in &section.lines {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    if let Some(relay) = &report.relay {
        let _ = writeln!(out, "\nTHIS RELAY:");
        for line in super::relay::configuration(relay) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push('\n');
    render_verdict(&mut out, &session.verdict, &report.resolution);
    out
}

fn render_verdict(out: &mut String, v: &Verdict, resolution: &crate::model::Resolution) {
    let _ = writeln!(out, "VERDICT: {}", v.title);
    let _ = writeln!(
        out,
        "  family: {} | owner: {} | confidence: {} ({})",
        v.family.label(),
        v.owner.label(),
        v.confidence.label(),
        v.confidence_reason
    );
    if let Scope::SomeAddresses { failing, working } = &v.scope {
        let _ = writeln!(
            out,
            "  host-specific: failing {}; working {}",
            failing.join(", "),
            working.join(", ")
        );
    }
    if let Scope::Grouped { addresses, total } = &v.scope {
        let values = [
            ("count", addresses.len().to_string()),
            ("total", total.to_string()),
            ("addresses", addresses.join(", ")),
        ];
        let _ = writeln!(
            out,
            "  {}",
            super::wording::say("scope", "grouped", &crate::wording::pairs(&values))
        );
    }
    if !v.groups.is_empty() {
        let _ = writeln!(out, "  {}:", crate::diagnose::groups_title());
        for (i, group) in v.groups.iter().enumerate() {
            let _ = writeln!(out, "   {}. {}", i + 1, crate::diagnose::group_heading(group));
            for address in &group.addresses {
                let _ = writeln!(out, "      {}", crate::diagnose::group_address(address, resolution));
            }
            if let Some(fix) = crate::diagnose::group_fix(group) {
                let _ = writeln!(out, "      {fix}");
            }
        }
    }
    if let Some(t) = &v.tlsrpt {
        let _ = writeln!(out, "  TLS-RPT result type: {t}");
    }
    if let Some(prediction) = &v.relay {
        for line in super::relay::prediction(prediction, v) {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "  why: {}", v.explanation);
    let _ = writeln!(out, "  fix: {}", v.fix);
    if let Some(next) = &v.next_check {
        let _ = writeln!(out, "  next check: {next}");
    }
    for e in &v.evidence {
        let _ = writeln!(out, "  evidence: {}", e.detail);
    }
    for n in &v.findings {
        let _ = writeln!(
            out,
            "  also noticed: {} [{}]: {}",
            n.mx,
            n.address.ip(),
            n.finding.describe()
        );
    }
    let tree = Tree::embedded();
    for step in v.steps.iter().filter(|s| s.unanswered) {
        let Some(question) = tree.question_at(&step.node) else {
            continue;
        };
        let keys: Vec<&str> = question.answers.iter().map(|a| a.key.as_str()).collect();
        let _ = writeln!(out, "  open question: {}", question.text);
        let _ = writeln!(out, "    answer with --answer {}={}", question.id, keys.join("|"));
    }
    if let Some(w) = &v.workaround {
        let _ = writeln!(out, "\nTEMPORARY WORKAROUND (until {}): {}", w.expires, w.warning);
        let _ = writeln!(out, "{}", w.postfix.trim_end());
        let _ = writeln!(out, "{}", w.exim.trim_end());
    }
    if !v.reproduce.is_empty() {
        let _ = writeln!(out, "\nREPRODUCE BY HAND:");
        for r in &v.reproduce {
            let _ = writeln!(out, "  {}\n  {}", r.swaks, r.openssl);
        }
    }
    let _ = writeln!(out, "\nBEFORE YOU RETRY THE QUEUE:");
    for item in &v.checklist {
        let mark = match item.status {
            CheckStatus::Pass => "ok  ",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Ask => "ask ",
        };
        let _ = writeln!(
            out,
            "  [{mark}] {} {}",
            item.text,
            if item.detail.is_empty() {
                String::new()
            } else {
                format!("({})", item.detail)
            }
        );
    }
}

/// One sentence on what DNS said, for any front end.
pub fn describe_resolution(r: &crate::model::Resolution) -> String {
    resolution_line(&r.outcome, &r.query)
}

fn resolution_line(outcome: &MxOutcome, query: &str) -> String {
    let (key, message) = match outcome {
        MxOutcome::Mx => ("mx", ""),
        MxOutcome::ImplicitMx => ("implicit_mx", ""),
        MxOutcome::NullMx => ("null_mx", ""),
        MxOutcome::NxDomain => ("nxdomain", ""),
        MxOutcome::NoData => ("nodata", ""),
        MxOutcome::Error { message } => ("error", message.as_str()),
        MxOutcome::Direct => ("direct", ""),
    };
    super::wording::say("resolution", key, &[("query", query), ("message", message)])
}

fn render_probe(out: &mut String, p: &ProbeResult, verbose: bool) {
    let status = match &p.failure {
        None if p.is_secure() => "OK".to_string(),
        None => "TLS OK, certificate problem".to_string(),
        Some(f) => format!("FAILED at {}: {}", p.stage.label(), f.summary()),
    };
    let _ = writeln!(out, "{} [{}]  {status}", p.mx, p.address);
    if let Some(t) = &p.tls {
        let _ = writeln!(
            out,
            "  TLS: {} {} {} SNI={}",
            t.version,
            t.cipher_suite,
            t.key_exchange_group.map_or_else(|| "-".to_string(), |g| g.name()),
            t.sni.as_deref().unwrap_or("(none)")
        );
    }
    if let Some(chain) = &p.chain {
        render_chain(out, chain);
    }
    if let Some(opinion) = &p.second_opinion {
        let _ = writeln!(out, "  second opinion: {}", opinion.describe());
    }
    if let Some(run) = &p.relay_client {
        let _ = writeln!(out, "  this relay's client (posttls-finger): {}", run.summary());
    }
    if let Some(scan) = &p.scan {
        let _ = writeln!(out, "  capability scan:");
        for line in scan.describe() {
            let _ = writeln!(out, "    {line}");
        }
    }
    for finding in &p.findings {
        let _ = writeln!(out, "  note: {}", finding.describe());
    }
    let t = &p.timings;
    let _ = writeln!(
        out,
        "  timings: connect {} ms, greeting {} ms, TLS {} ms, total {} ms",
        ms(t.connect_ms),
        ms(t.greeting_ms),
        ms(t.tls_ms),
        t.total_ms
    );
    if verbose || !p.is_secure() {
        if let Some(Failure::StartTlsNotOffered { keywords }) = &p.failure {
            let _ = writeln!(out, "  extensions offered: {}", keywords.join(" "));
        }
        let _ = writeln!(out, "  transcript:");
        for line in &p.transcript {
            let arrow = line.direction.marker();
            let lock = if line.encrypted { "tls" } else { "   " };
            let _ = writeln!(out, "  {:>6} ms {lock} {arrow} {}", line.at_ms, line.text);
        }
    }
}

fn render_chain(out: &mut String, chain: &ChainReport) {
    for line in super::chain::lines(chain) {
        let _ = writeln!(out, "  {}{}", "  ".repeat(line.depth), line.text);
    }
}

fn ms(v: Option<u64>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}
