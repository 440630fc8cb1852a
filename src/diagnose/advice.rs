//! Everything around a verdict that helps the operator act: scope, evidence,
//! confidence, a narrow dated workaround, reproduce commands and the checklist.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::tree::VerdictSpec;
use super::verdict::*;
use super::{Answers, domain_level, telling_line};
use crate::cert::Completeness;
use crate::model::CheckReport;
use crate::model::{MxOutcome, ProbeResult};
use crate::target::Target;

const ADVICE_TOML: &str = include_str!("../../assets/advice.toml");

/// How long a workaround may live before it must be removed.
const WORKAROUND_DAYS: i64 = 14;
/// Evidence lines kept per verdict; the rest are in the per-address table.
const MAX_EVIDENCE: usize = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advice {
    workaround: BTreeMap<String, Template>,
    checklist: Vec<ChecklistText>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Template {
    reason: String,
    postfix: String,
    exim: String,
    warning: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecklistText {
    id: String,
    text: String,
}

fn advice() -> &'static Advice {
    static ADVICE: OnceLock<Advice> = OnceLock::new();
    ADVICE.get_or_init(|| {
        #[expect(clippy::expect_used, reason = "the embedded asset is parsed by a test")]
        toml::from_str(ADVICE_TOML).expect("assets/advice.toml parses")
    })
}

pub(super) fn complete(
    spec: &VerdictSpec,
    report: &CheckReport,
    answers: &Answers,
    steps: Vec<Step>,
    supporting: Vec<usize>,
) -> Verdict {
    let scope = scope(report, &supporting);
    let (confidence, confidence_reason) = confidence(spec, &steps, &scope);
    let mut evidence = evidence(spec, report, &supporting);
    for step in steps
        .iter()
        .filter(|s| !s.unanswered && !matches!(s.outcome.as_str(), "yes" | "no"))
    {
        evidence.push(EvidenceRef {
            address: None,
            mx: None,
            at: EvidenceAt::Answer {
                question: step.node.clone(),
            },
            detail: format!("{} → {}", step.title, step.outcome),
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
        tlsrpt: measured_tlsrpt(spec, report).or_else(|| spec.tlsrpt.clone()),
        scope,
        evidence,
        workaround: workaround(spec, report, answers, &supporting),
        reproduce: reproduce(spec, report),
        checklist: checklist(report, answers),
        steps,
        findings: Vec::new(),
    }
}

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
fn confidence(spec: &VerdictSpec, steps: &[Step], scope: &Scope) -> (Confidence, String) {
    let unanswered: Vec<&str> = steps
        .iter()
        .filter(|s| s.lowers_confidence)
        .map(|s| s.title.as_str())
        .collect();
    let confidence = unanswered.iter().fold(spec.confidence, |c, _| c.lowered());
    let mut reason = if unanswered.is_empty() {
        "decided from the evidence on the wire".to_string()
    } else {
        format!(
            "lowered from {} because these questions are open: {}",
            spec.confidence.label(),
            unanswered.join("; ")
        )
    };
    if steps
        .iter()
        .any(|s| s.lowers_confidence && s.node.starts_with("ask-vantage"))
    {
        reason.push_str("; seen from this network only");
    }
    if let Scope::SomeAddresses { failing, .. } = scope {
        reason.push_str(&format!(
            "; host-specific: only {} of the addresses fail",
            failing.len()
        ));
    }
    if steps
        .iter()
        .any(|s| s.node.starts_with("ask-vantage") && s.outcome == "same")
    {
        reason.push_str("; confirmed from a second network");
    }
    (confidence, reason)
}

fn evidence(spec: &VerdictSpec, report: &CheckReport, supporting: &[usize]) -> Vec<EvidenceRef> {
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

/// The RFC 8460 type the evidence itself names, where it is more precise than the
/// verdict's general one (an MTA-STS certificate failure is expired, untrusted or
/// for another name).
fn measured_tlsrpt(spec: &VerdictSpec, report: &CheckReport) -> Option<String> {
    let policy = report.recipient.as_ref()?;
    match spec.id.as_str() {
        "recipient-policy" => policy
            .mta_sts
            .failing()
            .iter()
            .flat_map(|m| &m.failures)
            .map(|f| f.result_type.clone())
            .next(),
        "dane-mismatch" => policy
            .dane_failures()
            .iter()
            .flat_map(|h| &h.addresses)
            .filter_map(|a| a.check.as_ref())
            .find_map(|c| c.outcome.rfc8460_result_type())
            .map(str::to_string),
        _ => None,
    }
}

/// Points at what the recipient publishes, for verdicts that rest on it.
fn policy_evidence(spec: &VerdictSpec, report: &CheckReport) -> Vec<EvidenceRef> {
    let Some(policy) = &report.recipient else {
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
    match spec.id.as_str() {
        "recipient-policy" => {
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
        "sts-mx-not-covered" => {
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
        "sts-fetch-error" | "sts-webpki-invalid" | "sts-policy-invalid" => {
            if let Some((kind, detail)) = sts.publication_problem() {
                let source = if url.is_empty() {
                    format!("_mta-sts.{}", policy.domain)
                } else {
                    url.clone()
                };
                refs.push(published(None, None, &source, format!("{detail} ({kind})")));
            }
        }
        "dane-lookup-failed" => {
            for host in &policy.dane {
                if host.lookup.status == crate::dns::raw::TlsaStatus::ServFail {
                    let detail = format!("SERVFAIL from {} for {}", host.lookup.resolver, host.lookup.owner);
                    refs.push(published(None, Some(&host.host), &host.lookup.owner, detail));
                }
            }
        }
        "dane-rotation" | "dane-mismatch" | "dane-unusable" | "cert-problem-dane-ok" => {
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
        "dns-stale-cache" => {
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
        _ => {}
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

/// Fills `{name}` placeholders in one pass, so a value that itself contains
/// `{something}` (peer text, say) is never expanded again.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(key, _)| *key == &after[..close])
                .map(|(_, v)| (close, v))
        });
        match value {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `unix` plus `plus_days` as a calendar date; "unknown" when either is past what a date
/// can hold (a saved report may claim any `started_at`).
fn date(unix: u64, plus_days: i64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|unix| time::OffsetDateTime::from_unix_timestamp(unix).ok())
        .and_then(|t| t.checked_add(time::Duration::days(plus_days)))
        .map_or_else(|| "unknown".to_string(), |t| t.date().to_string())
}

fn workaround(spec: &VerdictSpec, report: &CheckReport, answers: &Answers, supporting: &[usize]) -> Option<Workaround> {
    let kind = spec.workaround?;
    let policy = answers.get("sender-policy").map_or("unknown", String::as_str);
    let needed = match kind {
        WorkaroundKind::RelaxVerification => matches!(policy, "verify" | "unknown"),
        WorkaroundKind::AllowOpportunistic => policy != "opportunistic",
    };
    // A published policy (MTA-STS enforce, validated DANE) forbids any sender exception.
    let forbidden = report.recipient.as_ref().is_some_and(|r| r.forbids_exceptions());
    if !needed || spec.family == Family::RecipientPolicy || forbidden {
        return None;
    }
    let template = advice().workaround.get(match kind {
        WorkaroundKind::RelaxVerification => "relax_verification",
        WorkaroundKind::AllowOpportunistic => "allow_opportunistic",
    })?;
    let destination = report.target.to_string();
    let domain = match &report.target {
        Target::Domain { name } | Target::Host { name, .. } => name.clone(),
        Target::Address { ip, .. } => ip.to_string(),
    };
    // Exim host lists can be narrower than Postfix's per-domain entry: only the failing hosts.
    let failing: Vec<&ProbeResult> = supporting.iter().filter_map(|&i| report.probes.get(i)).collect();
    let affected = if failing.is_empty() {
        report.probes.iter().collect()
    } else {
        failing
    };
    let mut hosts: Vec<String> = affected.iter().map(|p| format!("! {}", p.mx)).collect();
    hosts.dedup();
    let excluded_hosts = hosts.join(" : ");
    let today = date(report.started_at, 0);
    let expires = date(report.started_at, WORKAROUND_DAYS);
    let owner = format!("the postmaster of {}", report.vantage_host);
    let policy_status = match &report.recipient {
        Some(recipient) => format!("mxtriage found {}", recipient.status_line()),
        None => "mxtriage did not look them up in this check".to_string(),
    };
    let reason = fill(
        &template.reason,
        &[("destination", &destination), ("title", &spec.title)],
    );
    let values = [
        ("destination", destination.as_str()),
        ("domain", domain.as_str()),
        ("reason", reason.as_str()),
        ("today", today.as_str()),
        ("expires", expires.as_str()),
        ("owner", owner.as_str()),
        ("excluded_hosts", excluded_hosts.as_str()),
        ("policy_status", policy_status.as_str()),
    ];
    Some(Workaround {
        kind,
        destination: destination.clone(),
        expires: expires.clone(),
        owner: owner.clone(),
        postfix: fill(&template.postfix, &values),
        exim: fill(&template.exim, &values),
        warning: fill(&template.warning, &values),
    })
}

/// Quotes a shell word when it holds anything but safe characters.
fn shell(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:@[]/".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn reproduce(spec: &VerdictSpec, report: &CheckReport) -> Vec<Reproduce> {
    let version_matters = spec.family == Family::NoSharedVersion;
    let mailbox = match &report.target {
        Target::Domain { name } => format!("postmaster@{name}"),
        _ => String::new(),
    };
    let mut seen = Vec::new();
    report
        .probes
        .iter()
        .filter(|p| {
            let fresh = !seen.contains(&p.address);
            seen.push(p.address);
            fresh
        })
        .map(|p| {
            let sni = p
                .tls
                .as_ref()
                .and_then(|t| t.sni.clone())
                .unwrap_or_else(|| p.mx.clone());
            let ip_target = p.mx.parse::<std::net::IpAddr>().is_ok();
            let to = if mailbox.is_empty() {
                format!("postmaster@{}", p.mx)
            } else {
                mailbox.clone()
            };
            let mut swaks = format!(
                "swaks --to {} --server {} --port {} --ehlo {} --tls --quit-after TLS",
                shell(&to),
                p.address.ip(),
                p.address.port(),
                shell(&p.ehlo_name)
            );
            if !ip_target {
                swaks.push_str(&format!(" --tls-sni {}", shell(&sni)));
            }
            let mut openssl = format!(
                "openssl s_client -starttls smtp -connect {} -name {} -brief",
                p.address,
                shell(&p.ehlo_name)
            );
            if ip_target {
                openssl.push_str(&format!(" -verify_ip {}", p.mx));
            } else {
                openssl.push_str(&format!(
                    " -servername {} -verify_hostname {}",
                    shell(&sni),
                    shell(&p.mx)
                ));
            }
            openssl.push_str(" -verify_return_error");
            if version_matters {
                swaks.push_str(" --tls-protocol tlsv1_2");
                openssl.push_str(" -tls1_2");
            }
            Reproduce {
                address: p.address,
                mx: p.mx.clone(),
                swaks,
                openssl,
            }
        })
        .collect()
}

fn checklist(report: &CheckReport, answers: &Answers) -> Vec<ChecklistItem> {
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
    advice()
        .checklist
        .iter()
        .map(|item| {
            let (status, detail) = match item.id.as_str() {
                "mx-set" => {
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
                "handshake" => verdict_of(handshake_failing.clone()),
                "certificate" => verdict_of(cert_failing.clone()),
                "sender-policy" => match answers.get("sender-policy").map(String::as_str) {
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
                "recipient-policy" => recipient_policy_item(report),
                _ => (CheckStatus::Ask, String::new()),
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
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell("mx.example.com"), "mx.example.com");
        assert_eq!(shell("it's here"), r"'it'\''s here'");
    }

    #[test]
    fn placeholders_are_filled_once() {
        let filled = fill("{a} and {b} and {unknown}", &[("a", "{b}"), ("b", "B")]);
        assert_eq!(filled, "{b} and B and {unknown}");
    }

    #[test]
    fn dates_are_calendar_days() {
        assert_eq!(date(0, 14), "1970-01-15");
    }

    #[test]
    fn a_date_past_the_calendar_is_unknown_not_a_panic() {
        // 9999-12-31T23:59:59Z, the last second `time` can hold, from a saved report.
        assert_eq!(date(253_402_300_799, 0), "9999-12-31");
        assert_eq!(date(253_402_300_799, 14), "unknown");
        assert_eq!(date(u64::MAX, 14), "unknown");
    }
}
