//! The recipient-policy evidence (MTA-STS, DANE, reporting and mail records, resolver
//! comparison) as titled lists of plain lines, shared by the text report, the
//! Markdown report and the workbench so all three say the same thing.

use crate::dns::compare::{DnsComparison, ResolverView};
use crate::dns::raw::TlsaStatus;
use crate::model::ProbeResult;
use crate::policy::dane::DaneOutcome;
use crate::policy::mta_sts::TxtOutcome;
use crate::policy::recipient::{DaneHost, MtaSts, RecipientPolicy, Txt};
use crate::policy::records::{DmarcOutcome, SpfOutcome, TlsRptOutcome};
use crate::policy::sts_fetch::FetchOutcome;
use crate::report::wording::say;
use crate::text::SafeText;
use crate::wording::pairs;

/// One titled block of evidence lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub lines: Vec<String>,
}

/// Most problems or notes listed per record; the rest are counted.
const MAX_LISTED: usize = 8;

/// The sections for a report; `probes` supply the live keys for suggested TLSA records.
pub fn sections(policy: &RecipientPolicy, probes: &[ProbeResult]) -> Vec<Section> {
    let mut sections = vec![
        Section {
            title: "MTA-STS",
            lines: mta_sts(&policy.mta_sts, &policy.domain),
        },
        Section {
            title: "DANE",
            lines: dane(policy, probes),
        },
        Section {
            title: "TLS reporting and mail records (context)",
            lines: context(policy),
        },
    ];
    if let Some(comparison) = &policy.dns {
        sections.push(Section {
            title: "Resolvers and authoritative servers",
            lines: resolvers(comparison),
        });
    }
    sections
}

fn mta_sts(sts: &MtaSts, domain: &str) -> Vec<String> {
    let mut lines = Vec::new();
    match &sts.txt {
        Txt::Failed { message } => lines.push(say(
            "policy_mta_sts",
            "txt_failed",
            &[("domain", domain), ("message", message)],
        )),
        Txt::Parsed { outcome } => {
            let summary = outcome.summary();
            lines.push(say(
                "policy_mta_sts",
                "txt",
                &[("domain", domain), ("summary", &summary)],
            ));
            let record = |record: &str| format!("  {}", say("policy_mta_sts", "record", &[("record", record)]));
            match outcome {
                TxtOutcome::Invalid {
                    record: text, problems, ..
                } => {
                    lines.push(record(text.as_str()));
                    listed(&mut lines, problems.iter().map(ToString::to_string));
                }
                TxtOutcome::Multiple { records, .. } => {
                    lines.extend(records.iter().map(|r| record(r.as_str())));
                }
                TxtOutcome::Valid { notes, .. } => listed(&mut lines, notes.iter().map(note)),
                TxtOutcome::Absent { .. } => {}
            }
        }
    }
    if let Some(fetch) = &sts.fetch {
        let outcome = fetch.describe();
        lines.push(say(
            "policy_mta_sts",
            "fetch",
            &[("url", fetch.url()), ("outcome", &outcome)],
        ));
        if let Some(kind) = fetch.rfc8460_result_type() {
            lines.push(format!(
                "  {}",
                say("policy_mta_sts", "reported_as", &[("result_type", kind.as_str())])
            ));
        }
        if let FetchOutcome::Fetched { content_type, .. } = fetch
            && !content_type
                .as_ref()
                .is_some_and(|c| c.as_str().starts_with("text/plain"))
        {
            lines.push(format!("  {}", say("policy_mta_sts", "not_text_plain", &[])));
        }
    }
    if let Some(policy) = &sts.policy {
        lines.push(policy.summary());
        listed(&mut lines, policy.problems.iter().map(ToString::to_string));
        listed(&mut lines, policy.notes.iter().map(note));
        if !policy.mx.is_empty() {
            let patterns: Vec<&str> = policy.mx.iter().map(|p| p.as_str()).collect();
            let patterns = patterns.join(", ");
            lines.push(format!(
                "  {}",
                say("policy_mta_sts", "patterns", &[("patterns", &patterns)])
            ));
        }
    }
    if let Some(mode) = sts.mode() {
        for mx in &sts.mx {
            let coverage = match &mx.pattern {
                Some(pattern) => say("policy_mta_sts", "covered", &[("pattern", pattern.as_str())]),
                None => say("policy_mta_sts", "not_covered", &[]),
            };
            lines.push(say(
                "policy_mta_sts",
                "mx",
                &[("host", &mx.host), ("mode", mode.label()), ("coverage", &coverage)],
            ));
            for failure in &mx.failures {
                let address = failure.address.to_string();
                let values = [
                    ("address", address.as_str()),
                    ("reason", failure.reason.as_str()),
                    ("result_type", failure.result_type.as_str()),
                ];
                lines.push(format!("  {}", say("policy_mta_sts", "mx_failure", &values)));
            }
        }
    }
    lines
}

fn dane(policy: &RecipientPolicy, probes: &[ProbeResult]) -> Vec<String> {
    let mut lines = Vec::new();
    match policy.dnssec_resolver {
        Some(resolver) => {
            let resolver_text = resolver.to_string();
            lines.push(say("policy_dane", "resolver", &[("resolver", &resolver_text)]));
            if !resolver.ip().is_loopback() {
                lines.push(format!("  {}", say("policy_dane", "resolver_not_loopback", &[])));
            }
        }
        None => lines.push(say("policy_dane", "no_resolver", &[])),
    }
    for host in &policy.dane {
        lines.extend(dane_host(host, probes));
    }
    lines
}

fn dane_host(host: &DaneHost, probes: &[ProbeResult]) -> Vec<String> {
    let lookup = &host.lookup;
    let status = match &lookup.status {
        TlsaStatus::Found => say(
            "policy_dane",
            "records_found",
            &[("count", &lookup.records.len().to_string())],
        ),
        TlsaStatus::NxDomain | TlsaStatus::NoData => say("policy_dane", "no_records", &[]),
        TlsaStatus::ServFail => say("policy_dane", "servfail", &[]),
        TlsaStatus::Error { message } => say("policy_dane", "lookup_failed", &[("message", message)]),
    };
    let validated = match (&lookup.status, lookup.authenticated) {
        (TlsaStatus::Found, true) if host.applies() => say("policy_dane", "applies", &[]),
        (TlsaStatus::Found, true) if !host.mx_secure => say("policy_dane", "mx_not_validated", &[]),
        (TlsaStatus::Found, true) => say("policy_dane", "address_not_validated", &[]),
        (TlsaStatus::Found, false) => say("policy_dane", "not_validated", &[]),
        _ => String::new(),
    };
    let mut lines = vec![say(
        "policy_dane",
        "host",
        &[("owner", &lookup.owner), ("status", &status), ("validated", &validated)],
    )];
    if let Some(target) = &lookup.alias_target {
        let target = target.to_string();
        lines.push(format!("  {}", say("policy_dane", "alias", &[("target", &target)])));
    }
    for record in &lookup.records {
        lines.push(format!(
            "  TLSA {} {} {} {}",
            record.usage,
            record.selector,
            record.matching,
            abbreviate(&record.data)
        ));
    }
    for address in &host.addresses {
        let Some(check) = &address.check else {
            continue;
        };
        lines.push(format!("  {}: {}", address.address, check.summary()));
        let authenticated = matches!(check.outcome, DaneOutcome::Authenticated { .. });
        if authenticated || !host.applies() {
            continue;
        }
        // Suggest the kind of record the domain already uses: DANE-TA pins the issuer.
        let trust_anchor = lookup.records.iter().all(|r| r.usage == 2);
        let (usage, position) = if trust_anchor { (2, 1) } else { (3, 0) };
        let certificate = probes
            .iter()
            .find(|p| p.address == address.address)
            .and_then(|p| p.chain.as_ref())
            .and_then(|c| c.certificates.get(position));
        if let Some(certificate) = certificate {
            let usage = usage.to_string();
            let values = [
                ("owner", lookup.owner.as_str()),
                ("usage", usage.as_str()),
                ("spki_sha256", certificate.spki_sha256.as_str()),
            ];
            lines.push(format!("    {}", say("policy_dane", "suggested_record", &values)));
        }
    }
    lines
}

fn context(policy: &RecipientPolicy) -> Vec<String> {
    let mut lines = Vec::new();
    let domain = &policy.domain;
    match &policy.tls_rpt {
        Txt::Parsed {
            outcome: TlsRptOutcome::Valid { rua, .. },
        } => {
            let rua: Vec<&str> = rua.iter().map(|r| r.as_str()).collect();
            let rua = rua.join(", ");
            lines.push(say(
                "policy_context",
                "tls_rpt_valid",
                &[("domain", domain), ("rua", &rua)],
            ));
        }
        Txt::Parsed { outcome } => {
            let summary = outcome.summary();
            lines.push(say(
                "policy_context",
                "tls_rpt",
                &[("domain", domain), ("summary", &summary)],
            ));
        }
        Txt::Failed { message } => lines.push(say(
            "policy_context",
            "tls_rpt_failed",
            &[("domain", domain), ("message", message)],
        )),
    }
    lines.push(mail_record(
        "spf",
        &policy.spf,
        SpfOutcome::summary,
        SpfOutcome::valid_record,
    ));
    lines.push(mail_record(
        "dmarc",
        &policy.dmarc,
        DmarcOutcome::summary,
        DmarcOutcome::valid_record,
    ));
    lines.push(say("policy_context", "not_the_cause", &[]));
    lines
}

/// The SPF or DMARC line (`kind`): the summary and, when valid, the record itself;
/// or why the lookup failed.
fn mail_record<T>(
    kind: &str,
    txt: &Txt<T>,
    summary: fn(&T) -> String,
    valid_record: fn(&T) -> Option<&SafeText>,
) -> String {
    match txt {
        Txt::Parsed { outcome } => {
            let record = valid_record(outcome).map_or(String::new(), |record| {
                say("policy_context", "record", &[("record", record.as_str())])
            });
            say(
                "policy_context",
                kind,
                &[("summary", &summary(outcome)), ("record", &record)],
            )
        }
        Txt::Failed { message } => say("policy_context", &format!("{kind}_failed"), &[("message", message)]),
    }
}

fn resolvers(comparison: &DnsComparison) -> Vec<String> {
    let mut lines = comparison.summary();
    for view in &comparison.views {
        lines.push(view_line(view));
    }
    if let Some(authority) = &comparison.authority {
        let servers: Vec<String> = authority
            .servers
            .iter()
            .map(|s| format!("{} ({})", s.name, s.addr))
            .collect();
        let values = [
            ("view", view_line(&authority.view)),
            ("zone", authority.zone.clone()),
            ("servers", servers.join(", ")),
        ];
        lines.push(say("policy_resolvers", "authority", &pairs(&values)));
    }
    lines
}

fn view_line(view: &ResolverView) -> String {
    let who = match view.resolver {
        Some(resolver) => format!("{} ({resolver})", view.label),
        None => view.label.clone(),
    };
    if view.mx.is_empty() {
        return say("policy_resolvers", "no_mx_hosts", &[("who", &who)]);
    }
    let hosts: Vec<String> = view
        .mx
        .iter()
        .map(|mx| {
            let addresses: Vec<String> = mx.addresses.iter().map(|a| a.ip.to_string()).collect();
            let values = [
                ("preference", mx.preference.to_string()),
                ("exchange", mx.exchange.clone()),
                ("ttl", mx.ttl.to_string()),
                ("addresses", addresses.join(" ")),
            ];
            say("policy_resolvers", "mx_host", &pairs(&values))
        })
        .collect();
    format!("{who}: {}", hosts.join("; "))
}

fn listed(lines: &mut Vec<String>, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    for item in items.iter().take(MAX_LISTED) {
        lines.push(format!("  {item}"));
    }
    if items.len() > MAX_LISTED {
        let more = (items.len() - MAX_LISTED).to_string();
        lines.push(format!("  {}", say("policy_lists", "more", &[("count", &more)])));
    }
}

/// A note about a record or policy, as listed under it.
fn note(note: impl std::fmt::Display) -> String {
    say("policy_mta_sts", "note", &[("note", &note.to_string())])
}

/// Long hex data shortened for display; the report's JSON keeps it whole.
fn abbreviate(hex: &str) -> String {
    match hex.get(..24) {
        Some(head) if hex.len() > 32 => format!("{head}… ({} bytes)", hex.len() / 2),
        _ => hex.to_string(),
    }
}
