//! The evidence a verdict cites: the transcript line or certificate field of each
//! supporting probe, the DNS answer for a domain-level verdict, and what the
//! recipient publishes for the verdicts whose tree entry names it (`evidence`).

use super::MAX_EVIDENCE;
use crate::cert::Completeness;
use crate::diagnose::tree::{PublishedEvidence, VerdictSpec};
use crate::diagnose::verdict::{EvidenceAt, EvidenceRef, Family};
use crate::diagnose::{domain_level, telling_line};
use crate::model::CheckReport;
use crate::model::{MxOutcome, ProbeResult};

pub(super) fn evidence(spec: &VerdictSpec, report: &CheckReport, supporting: &[usize]) -> Vec<EvidenceRef> {
    let mut refs = policy_evidence(spec, report);
    if domain_level(report) {
        let r = &report.resolution;
        let detail = match &r.outcome {
            MxOutcome::NxDomain => "NXDOMAIN: the name does not exist".to_string(),
            MxOutcome::NullMx => "MX 0 . (null MX)".to_string(),
            MxOutcome::NoData => "no MX and no A/AAAA records (NODATA)".to_string(),
            MxOutcome::Error { message } => format!("lookup failed: {message}"),
            _ => {
                let hosts: Vec<&str> = r.hosts.iter().map(|h| h.name.as_str()).collect();
                format!("MX hosts without addresses: {}", hosts.join(", "))
            }
        };
        refs.push(EvidenceRef {
            address: None,
            mx: None,
            at: EvidenceAt::Dns { name: r.query.clone() },
            detail,
        });
        return refs;
    }
    for p in supporting
        .iter()
        .filter_map(|&i| report.probes.get(i))
        .take(MAX_EVIDENCE)
    {
        match &p.failure {
            Some(failure) => {
                let line = telling_line(p);
                let said = line
                    .and_then(|i| p.transcript.get(i))
                    .filter(|l| l.direction == crate::model::Direction::Server)
                    .map(|l| format!(" (server's last words: {})", l.text))
                    .unwrap_or_default();
                refs.push(EvidenceRef {
                    address: Some(p.address),
                    mx: Some(p.mx.clone()),
                    at: EvidenceAt::Transcript {
                        line: line.unwrap_or(0),
                    },
                    detail: format!("{}{said}", failure.summary()),
                });
            }
            None => refs.extend(certificate_evidence(spec, p)),
        }
    }
    refs
}

/// The RFC 8460 type the evidence itself names, where the verdict asks for it
/// (`tlsrpt_measured`) and it is more precise than the verdict's general one.
pub(super) fn measured_tlsrpt(spec: &VerdictSpec, report: &CheckReport) -> Option<String> {
    if !spec.tlsrpt_measured {
        return None;
    }
    let policy = report.recipient.as_ref()?;
    match spec.evidence? {
        PublishedEvidence::MtaStsFailures => policy
            .mta_sts
            .failing()
            .iter()
            .flat_map(|m| &m.failures)
            .map(|f| f.result_type.clone())
            .next(),
        PublishedEvidence::DaneChecks => policy
            .dane_failures()
            .iter()
            .flat_map(|h| &h.addresses)
            .filter_map(|a| a.check.as_ref())
            .find_map(|c| c.outcome.rfc8460_result_type())
            .map(str::to_string),
        _ => None,
    }
}

/// Points at what the recipient publishes, for verdicts that rest on it (their `evidence`).
fn policy_evidence(spec: &VerdictSpec, report: &CheckReport) -> Vec<EvidenceRef> {
    let (Some(policy), Some(cited)) = (&report.recipient, spec.evidence) else {
        return Vec::new();
    };
    let published = |address, mx: Option<&str>, source: &str, detail: String| EvidenceRef {
        address,
        mx: mx.map(str::to_string),
        at: EvidenceAt::Published {
            source: source.to_string(),
        },
        detail,
    };
    let sts = &policy.mta_sts;
    let url = sts.fetch.as_ref().map_or(String::new(), |f| f.url().to_string());
    let mut refs = Vec::new();
    match cited {
        PublishedEvidence::MtaStsFailures => {
            for mx in sts.failing() {
                let pattern = mx.pattern.as_ref().map_or("", |p| p.as_str());
                for failure in &mx.failures {
                    refs.push(published(
                        Some(failure.address),
                        Some(&mx.host),
                        &url,
                        format!(
                            "mode enforce, mx: {pattern}; {} ({})",
                            failure.reason, failure.result_type
                        ),
                    ));
                }
            }
        }
        PublishedEvidence::MtaStsUncovered => {
            let patterns: Vec<&str> = sts
                .active_policy()
                .map_or(Vec::new(), |p| p.mx.iter().map(|m| m.as_str()).collect());
            for mx in sts.uncovered() {
                refs.push(published(
                    None,
                    Some(&mx.host),
                    &url,
                    format!(
                        "{} matches none of the policy's mx patterns: {}",
                        mx.host,
                        patterns.join(", ")
                    ),
                ));
            }
        }
        PublishedEvidence::MtaStsPublication => {
            if let Some((kind, detail)) = sts.publication_problem() {
                let source = if url.is_empty() {
                    format!("_mta-sts.{}", policy.domain)
                } else {
                    url.clone()
                };
                refs.push(published(None, None, &source, format!("{detail} ({kind})")));
            }
        }
        PublishedEvidence::DaneServfail => {
            for host in &policy.dane {
                if host.lookup.status == crate::dns::raw::TlsaStatus::ServFail {
                    let detail = format!("SERVFAIL from {} for {}", host.lookup.resolver, host.lookup.owner);
                    refs.push(published(None, Some(&host.host), &host.lookup.owner, detail));
                }
            }
        }
        PublishedEvidence::DaneChecks => {
            for host in policy.dane.iter().filter(|h| h.applies()) {
                for address in &host.addresses {
                    if let Some(check) = &address.check {
                        refs.push(published(
                            Some(address.address),
                            Some(&host.host),
                            &host.lookup.owner,
                            check.summary(),
                        ));
                    }
                }
            }
        }
        PublishedEvidence::ResolverComparison => {
            if let Some(comparison) = &policy.dns {
                for line in comparison.summary() {
                    refs.push(EvidenceRef {
                        address: None,
                        mx: None,
                        at: EvidenceAt::Dns {
                            name: comparison.domain.clone(),
                        },
                        detail: line,
                    });
                }
            }
        }
    }
    refs.truncate(MAX_EVIDENCE);
    refs
}

/// Points at the certificate field behind a certificate verdict.
fn certificate_evidence(spec: &VerdictSpec, p: &ProbeResult) -> Vec<EvidenceRef> {
    let Some(chain) = &p.chain else {
        return Vec::new();
    };
    let at = |position: usize, field: &str, detail: String| EvidenceRef {
        address: Some(p.address),
        mx: Some(p.mx.clone()),
        at: EvidenceAt::Certificate {
            position,
            field: field.to_string(),
        },
        detail,
    };
    let mut refs = Vec::new();
    for cert in chain.certificates.iter().filter(|c| c.parse_error.is_none()) {
        if cert.days_remaining < 0 && spec.family == Family::Certificate {
            refs.push(at(
                cert.position,
                "not_after",
                format!(
                    "{} expired {} ({} days ago)",
                    cert.subject, cert.not_after, -cert.days_remaining
                ),
            ));
        }
    }
    if let Some(leaf) = chain.leaf() {
        match spec.family {
            Family::NameMismatch => {
                let sans: Vec<&str> = leaf.sans.iter().map(|s| s.as_str()).collect();
                refs.push(at(
                    0,
                    "subjectAltName",
                    format!(
                        "{} is not among the certificate names: {}",
                        chain.name.reference,
                        sans.join(", ")
                    ),
                ));
            }
            Family::Certificate if refs.is_empty() => {
                let detail = match &chain.completeness {
                    Completeness::MissingIssuer { issuer } => {
                        format!("issuer not sent and not a trusted root: {issuer}")
                    }
                    _ if leaf.self_signed => format!("self-signed: {}", leaf.subject),
                    _ => format!(
                        "valid from {} to {}, issued by {}",
                        leaf.not_before, leaf.not_after, leaf.issuer
                    ),
                };
                refs.push(at(0, "issuer", detail));
            }
            _ => {}
        }
    }
    refs
}
