//! The evidence a verdict cites: the transcript line or certificate field of each
//! supporting probe, the DNS answer for a domain-level verdict, and what the
//! recipient publishes for the verdicts whose tree entry names it (`evidence`).

use super::{MAX_EVIDENCE, hosts_phrase, pairs, say};
use crate::cert::Completeness;
use crate::diagnose::tree::{PublishedEvidence, VerdictSpec};
use crate::diagnose::verdict::{EvidenceAt, EvidenceRef, Family};
use crate::diagnose::{domain_level, telling_line};
use crate::model::CheckReport;
use crate::model::tlsrpt::ResultType;
use crate::model::{MxOutcome, ProbeResult};

pub(super) fn evidence(spec: &VerdictSpec, report: &CheckReport, supporting: &[usize]) -> Vec<EvidenceRef> {
    let mut refs = policy_evidence(spec, report);
    if domain_level(report) {
        let r = &report.resolution;
        let detail = match &r.outcome {
            MxOutcome::NxDomain => say("dns", "nxdomain", &[]),
            MxOutcome::NullMx => say("dns", "null_mx", &[]),
            MxOutcome::NoData => say("dns", "nodata", &[]),
            MxOutcome::Error { message } => say("dns", "error", &[("message", message)]),
            _ => {
                let hosts: Vec<&str> = r.hosts.iter().map(|h| h.name.as_str()).collect();
                say("dns", "no_addresses", &[("hosts", &hosts.join(", "))])
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
    let published = refs;
    let mut refs = Vec::new();
    // Name mismatches are told per certificate: the MX names it fails, not one line per name.
    let mut mismatches: Vec<(String, Vec<String>)> = Vec::new();
    for p in supporting.iter().filter_map(|&i| report.probes.get(i)) {
        match &p.failure {
            Some(failure) => {
                let line = telling_line(p);
                let said = line
                    .and_then(|i| p.transcript.get(i))
                    .filter(|l| l.direction == crate::model::Direction::Server)
                    .map(|l| say("transcript", "last_words", &[("line", l.text.as_str())]))
                    .unwrap_or_default();
                let summary = failure.summary();
                refs.push(EvidenceRef {
                    address: Some(p.address),
                    mx: Some(p.mx.clone()),
                    at: EvidenceAt::Transcript {
                        line: line.unwrap_or(0),
                    },
                    detail: say("transcript", "failure", &[("failure", &summary), ("said", &said)]),
                });
            }
            None if spec.family == Family::NameMismatch => {
                let Some((names, reference)) = p.chain.as_ref().and_then(|c| {
                    let leaf = c.leaf()?;
                    let names: Vec<&str> = leaf.sans.iter().map(|s| s.as_str()).collect();
                    Some((names.join(", "), c.name.reference.to_string()))
                }) else {
                    continue;
                };
                match mismatches.iter_mut().find(|(n, _)| *n == names) {
                    Some((_, references)) if !references.contains(&reference) => references.push(reference),
                    Some(_) => {}
                    None => mismatches.push((names, vec![reference])),
                }
            }
            None => refs.extend(certificate_evidence(spec, p)),
        }
    }
    for (names, references) in mismatches {
        let detail = match references.as_slice() {
            [reference] => say(
                "certificate",
                "name_mismatch",
                &[("reference", reference), ("names", &names)],
            ),
            _ => say(
                "certificate",
                "name_mismatch_many",
                &[
                    ("references", &hosts_phrase(&references, &report.resolution)),
                    ("names", &names),
                ],
            ),
        };
        // Every probe with this certificate, so the merge below names their addresses.
        for p in supporting.iter().filter_map(|&i| report.probes.get(i)) {
            let same = p.failure.is_none()
                && p.chain
                    .as_ref()
                    .and_then(|c| c.leaf())
                    .is_some_and(|leaf| leaf.sans.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") == names);
            if same {
                refs.push(EvidenceRef {
                    address: Some(p.address),
                    mx: Some(p.mx.clone()),
                    at: EvidenceAt::Certificate {
                        position: 0,
                        field: "subjectAltName".to_string(),
                    },
                    detail: detail.clone(),
                });
            }
        }
    }
    let mut refs = merge(refs, report);
    refs.truncate(MAX_EVIDENCE);
    [published, refs].concat()
}

/// The RFC 8460 type the evidence itself names, where the verdict asks for it
/// (`tlsrpt_measured`) and it is more precise than the verdict's general one.
pub(super) fn measured_tlsrpt(spec: &VerdictSpec, report: &CheckReport) -> Option<ResultType> {
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
            .map(|f| f.result_type)
            .next(),
        PublishedEvidence::DaneChecks => policy
            .dane_failures()
            .iter()
            .flat_map(|h| &h.addresses)
            .filter_map(|a| a.check.as_ref())
            .find_map(|c| c.outcome.rfc8460_result_type()),
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
                        say(
                            "published",
                            "sts_failure",
                            &[
                                ("pattern", pattern),
                                ("reason", &failure.reason),
                                ("result_type", failure.result_type.as_str()),
                            ],
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
                    say(
                        "published",
                        "sts_uncovered",
                        &[("host", &mx.host), ("patterns", &patterns.join(", "))],
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
                let detail = say(
                    "published",
                    "sts_publication",
                    &[("detail", &detail), ("kind", kind.as_str())],
                );
                refs.push(published(None, None, &source, detail));
            }
        }
        PublishedEvidence::DaneServfail => {
            for host in &policy.dane {
                if host.lookup.status == crate::dns::raw::TlsaStatus::ServFail {
                    let resolver = host.lookup.resolver.to_string();
                    let values = [("resolver", resolver.as_str()), ("owner", host.lookup.owner.as_str())];
                    let detail = say("published", "dane_servfail", &values);
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
                say(
                    "certificate",
                    "expired",
                    &pairs(&[
                        ("subject", cert.subject.to_string()),
                        ("not_after", cert.not_after.to_string()),
                        ("days", (-cert.days_remaining).to_string()),
                    ]),
                ),
            ));
        }
    }
    if let Some(leaf) = chain.leaf() {
        match spec.family {
            Family::Certificate if refs.is_empty() => {
                let detail = match &chain.completeness {
                    Completeness::MissingIssuer { issuer } => {
                        say("certificate", "missing_issuer", &[("issuer", &issuer.to_string())])
                    }
                    _ if leaf.self_signed => {
                        say("certificate", "self_signed", &[("subject", &leaf.subject.to_string())])
                    }
                    _ => say(
                        "certificate",
                        "validity",
                        &pairs(&[
                            ("not_before", leaf.not_before.to_string()),
                            ("not_after", leaf.not_after.to_string()),
                            ("issuer", leaf.issuer.to_string()),
                        ]),
                    ),
                };
                refs.push(at(0, "issuer", detail));
            }
            _ => {}
        }
    }
    refs
}

/// One line per distinct piece of evidence: lines that say the same (the same failure
/// or certificate field, in the same words) become one, which names every address and
/// MX name it was seen on. The first occurrence keeps its place and its pointer; at most
/// `MAX_EVIDENCE` lines are kept (the groups of a mixed pool each bring theirs).
pub(in crate::diagnose) fn merge(refs: Vec<EvidenceRef>, report: &CheckReport) -> Vec<EvidenceRef> {
    // The place without its transcript line: the same failure sits on different lines.
    fn kind(at: &EvidenceAt) -> EvidenceAt {
        match at {
            EvidenceAt::Transcript { .. } => EvidenceAt::Transcript { line: 0 },
            other => other.clone(),
        }
    }
    let mut merged: Vec<(EvidenceRef, Vec<(std::net::IpAddr, String)>)> = Vec::new();
    for r in refs {
        let place = r.address.map(|a| (a.ip(), r.mx.clone().unwrap_or_default()));
        match merged
            .iter_mut()
            .find(|(m, _)| m.detail == r.detail && kind(&m.at) == kind(&r.at))
        {
            Some((_, places)) => {
                if let Some(place) = place
                    && !places.contains(&place)
                {
                    places.push(place);
                }
            }
            None => merged.push((r, place.into_iter().collect())),
        }
    }
    merged
        .into_iter()
        .map(|(mut r, places)| {
            if places.len() > 1 {
                let place = where_seen(&places, &r.detail, report);
                r.detail.push_str(&place);
                // One MX name would misname a line seen under several.
                if places.iter().any(|(_, mx)| Some(mx) != r.mx.as_ref()) {
                    r.mx = None;
                }
            }
            r
        })
        .take(MAX_EVIDENCE)
        .collect()
}

/// Whether `detail` has `phrase` as a whole (a host name inside a longer one does not
/// count: `a.example.net` is not in `mta.example.net`).
fn names_phrase(detail: &str, phrase: &str) -> bool {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    detail.match_indices(phrase).any(|(at, _)| {
        let before = detail[..at].chars().next_back();
        let after = detail[at + phrase.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(|c| part_of_name(c) && c != '.')
    })
}

/// Where a merged line was seen: its addresses, and the MX names they were probed under.
/// The MX names are left out where the line itself already names them.
fn where_seen(places: &[(std::net::IpAddr, String)], detail: &str, report: &CheckReport) -> String {
    let mut addresses: Vec<(std::net::IpAddr, Vec<String>)> = Vec::new();
    for (ip, host) in places {
        match addresses.iter_mut().find(|(a, _)| a == ip) {
            Some((_, hosts)) => hosts.push(host.clone()),
            None => addresses.push((*ip, vec![host.clone()])),
        }
    }
    let same_names = addresses.windows(2).all(|w| w[0].1 == w[1].1);
    if same_names {
        let ips: Vec<String> = addresses.iter().map(|(ip, _)| ip.to_string()).collect();
        let hosts = addresses.first().map(|(_, h)| h.as_slice()).unwrap_or_default();
        let hosts = hosts_phrase(hosts, &report.resolution);
        let key = if names_phrase(detail, &hosts) {
            "seen_on_addresses"
        } else {
            "seen_on"
        };
        say("evidence", key, &[("addresses", &ips.join(", ")), ("hosts", &hosts)])
    } else {
        let each: Vec<String> = addresses
            .iter()
            .map(|(ip, hosts)| {
                say(
                    "evidence",
                    "address_as",
                    &[
                        ("address", &ip.to_string()),
                        ("hosts", &hosts_phrase(hosts, &report.resolution)),
                    ],
                )
            })
            .collect();
        say("evidence", "seen_on_each", &[("places", &each.join("; "))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_name_inside_a_longer_one_is_not_named() {
        assert!(names_phrase("none of mx.example.net matches", "mx.example.net"));
        assert!(names_phrase("names mx.example.net.", "mx.example.net"));
        assert!(!names_phrase("none of smx.example.net matches", "mx.example.net"));
        assert!(!names_phrase("mx.example.network", "mx.example.net"));
    }
}
