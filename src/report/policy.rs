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
        Txt::Failed { message } => lines.push(format!("_mta-sts.{domain} TXT lookup failed: {message}")),
        Txt::Parsed { outcome } => {
            lines.push(format!("_mta-sts.{domain}: {}", outcome.summary()));
            match outcome {
                TxtOutcome::Invalid { record, problems, .. } => {
                    lines.push(format!("  record: {record}"));
                    listed(&mut lines, problems.iter().map(ToString::to_string));
                }
                TxtOutcome::Multiple { records, .. } => {
                    lines.extend(records.iter().map(|r| format!("  record: {r}")));
                }
                TxtOutcome::Valid { notes, .. } => listed(&mut lines, notes.iter().map(|n| format!("note: {n}"))),
                TxtOutcome::Absent { .. } => {}
            }
        }
    }
    if let Some(fetch) = &sts.fetch {
        lines.push(format!("{}: {}", fetch.url(), fetch.describe()));
        if let Some(kind) = fetch.rfc8460_result_type() {
            lines.push(format!("  a reporting sender logs {kind}"));
        }
        if let FetchOutcome::Fetched { content_type, .. } = fetch
            && !content_type
                .as_ref()
                .is_some_and(|c| c.as_str().starts_with("text/plain"))
        {
            lines.push("  note: RFC 8461 says the policy should be served as text/plain".to_string());
        }
    }
    if let Some(policy) = &sts.policy {
        lines.push(policy.summary());
        listed(&mut lines, policy.problems.iter().map(ToString::to_string));
        listed(&mut lines, policy.notes.iter().map(|n| format!("note: {n}")));
        if !policy.mx.is_empty() {
            let patterns: Vec<&str> = policy.mx.iter().map(|p| p.as_str()).collect();
            lines.push(format!("  mx patterns: {}", patterns.join(", ")));
        }
    }
    if let Some(mode) = sts.mode() {
        for mx in &sts.mx {
            let coverage = match &mx.pattern {
                Some(pattern) => format!("covered by {pattern}"),
                None => "NOT covered by the policy".to_string(),
            };
            lines.push(format!("{} ({} mode): {coverage}", mx.host, mode.label()));
            for failure in &mx.failures {
                lines.push(format!(
                    "  {}: fails the policy, {} ({})",
                    failure.address, failure.reason, failure.result_type
                ));
            }
        }
    }
    lines
}

fn dane(policy: &RecipientPolicy, probes: &[ProbeResult]) -> Vec<String> {
    let mut lines = Vec::new();
    match policy.dnssec_resolver {
        Some(resolver) => {
            lines.push(format!(
                "TLSA asked of {resolver}; its AD bit counts as DNSSEC validation only if it is a validating resolver on a trusted path (as Postfix assumes)"
            ));
            if !resolver.ip().is_loopback() {
                lines.push(
                    "  note: this resolver is not on loopback, so its AD bit travels unprotected and could be forged"
                        .into(),
                );
            }
        }
        None => lines.push("no resolver for TLSA lookups could be found".to_string()),
    }
    for host in &policy.dane {
        lines.extend(dane_host(host, probes));
    }
    lines
}

fn dane_host(host: &DaneHost, probes: &[ProbeResult]) -> Vec<String> {
    let lookup = &host.lookup;
    let status = match &lookup.status {
        TlsaStatus::Found => format!("{} record(s)", lookup.records.len()),
        TlsaStatus::NxDomain | TlsaStatus::NoData => "no TLSA records".to_string(),
        TlsaStatus::ServFail => "SERVFAIL: DANE senders treat this MX as unusable (dnssec-invalid)".to_string(),
        TlsaStatus::Error { message } => format!("lookup failed: {message}"),
    };
    let validated = match (&lookup.status, lookup.authenticated) {
        (TlsaStatus::Found, true) if host.applies() => ", DNSSEC-validated (AD): DANE applies",
        (TlsaStatus::Found, true) if !host.mx_secure => {
            ", validated, but the MX records are not: DANE does not apply (senders only trust a validated MX host)"
        }
        (TlsaStatus::Found, true) => {
            ", validated, but the host's address lookup is not: DANE does not apply (Postfix asks for TLSA only then)"
        }
        (TlsaStatus::Found, false) => {
            ", not validated (no AD: an unsigned zone, or a resolver that does not validate): DANE does not apply"
        }
        _ => "",
    };
    let mut lines = vec![format!("{} {status}{validated}", lookup.owner)];
    if let Some(target) = &lookup.alias_target {
        lines.push(format!("  via CNAME to {target}"));
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
            lines.push(format!(
                "    TLSA for what it presents now: {} IN TLSA {usage} 1 1 {}",
                lookup.owner, certificate.spki_sha256
            ));
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
            lines.push(format!("_smtp._tls.{domain}: failure reports go to {}", rua.join(", ")));
        }
        Txt::Parsed { outcome } => lines.push(format!("_smtp._tls.{domain}: {}", outcome.summary())),
        Txt::Failed { message } => lines.push(format!("_smtp._tls.{domain} lookup failed: {message}")),
    }
    match &policy.spf {
        Txt::Parsed { outcome } => {
            let record = match outcome {
                SpfOutcome::Valid { record, .. } => format!(" ({record})"),
                _ => String::new(),
            };
            lines.push(format!("SPF: {}{record}", outcome.summary()));
        }
        Txt::Failed { message } => lines.push(format!("SPF lookup failed: {message}")),
    }
    match &policy.dmarc {
        Txt::Parsed { outcome } => {
            let record = match outcome {
                DmarcOutcome::Valid { record, .. } => format!(" ({record})"),
                _ => String::new(),
            };
            lines.push(format!("DMARC: {}{record}", outcome.summary()));
        }
        Txt::Failed { message } => lines.push(format!("DMARC lookup failed: {message}")),
    }
    lines
        .push("SPF and DMARC never cause a STARTTLS failure; they are shown so the whole domain was looked at.".into());
    lines
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
        lines.push(format!(
            "{} [zone {}; {}]",
            view_line(&authority.view),
            authority.zone,
            servers.join(", ")
        ));
    }
    lines
}

fn view_line(view: &ResolverView) -> String {
    let who = match view.resolver {
        Some(resolver) => format!("{} ({resolver})", view.label),
        None => view.label.clone(),
    };
    if view.mx.is_empty() {
        return format!("{who}: no MX hosts");
    }
    let hosts: Vec<String> = view
        .mx
        .iter()
        .map(|mx| {
            let addresses: Vec<String> = mx.addresses.iter().map(|a| a.ip.to_string()).collect();
            format!(
                "{} {} TTL {} s [{}]",
                mx.preference,
                mx.exchange,
                mx.ttl,
                addresses.join(" ")
            )
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
        lines.push(format!("  … and {} more", items.len() - MAX_LISTED));
    }
}

/// Long hex data shortened for display; the report's JSON keeps it whole.
fn abbreviate(hex: &str) -> String {
    match hex.get(..24) {
        Some(head) if hex.len() > 32 => format!("{head}… ({} bytes)", hex.len() / 2),
        _ => hex.to_string(),
    }
}
