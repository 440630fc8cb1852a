//! The evidence checks the tree names. Each looks at the whole check report and
//! says yes or no, with the probes that made it say yes.

use std::collections::BTreeMap;

use crate::cert::{Completeness, TrustOutcome};
use crate::dns::compare::{Difference, DifferenceKind, ViewRole};
use crate::dns::raw::TlsaStatus;
use crate::model::CheckReport;
use crate::model::tlsrpt::ResultType;
use crate::model::{Failure, MxOutcome, ProbeResult, Stage};
use crate::policy::dane::DaneOutcome;
use crate::policy::recipient::{MtaSts, RecipientPolicy};
use crate::policy::sender;

/// A check's answer: `probes` are indexes into `report.probes` that support a yes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hit {
    pub yes: bool,
    pub probes: Vec<usize>,
}

impl Hit {
    fn from(yes: bool) -> Self {
        Hit {
            yes,
            probes: Vec::new(),
        }
    }
}

pub type Check = fn(&CheckReport) -> Hit;

/// Every check by the name the tree uses.
const CHECKS: &[(&str, Check)] = &[
    ("relay_route_without_smtp", |r| {
        Hit::from(
            r.relay
                .as_ref()
                .is_some_and(|relay| relay.mta.is_some() && relay.route.is_some() && relay.policy.is_none()),
        )
    }),
    // The relay's own client delivers, at the relay's level, where the probe's handshake failed.
    ("relay_client_connects_where_probe_failed", |r| {
        let level = r
            .relay
            .as_ref()
            .and_then(|relay| relay.policy.as_ref())
            .map(|p| p.level);
        let Some(level) = level else {
            return Hit::default();
        };
        any(r, |p| {
            let session = p.relay_client.as_ref().and_then(crate::relay::predict::client_session);
            p.stage == Stage::TlsHandshake
                && p.failure.is_some()
                && session.is_some_and(|s| {
                    crate::relay::predict::judge(level, &s, &p.mx, p.address.port())
                        .0
                        .delivers()
                })
        })
    }),
    // The probe (with SNI) got through, the relay's client (without SNI) failed the handshake.
    ("relay_client_fails_without_sni", |r| {
        let sends_sni = r
            .relay
            .as_ref()
            .and_then(|relay| relay.setting("smtp_tls_servername"))
            .is_some_and(|s| !s.value.trim().is_empty());
        if sends_sni {
            return Hit::default();
        }
        any(r, |p| {
            p.failure.is_none()
                && p.tls.as_ref().is_some_and(|t| t.sni.is_some())
                && p.relay_client
                    .as_ref()
                    .and_then(crate::relay::predict::client_session)
                    .is_some_and(|s| matches!(s, crate::relay::predict::Session::HandshakeFailed { .. }))
        })
    }),
    ("relay_defers_working_servers", |r| {
        Hit::from(crate::relay::predict::predict(r).is_some_and(|p| !p.outcome.delivers()))
    }),
    ("dns_nxdomain", |r| {
        Hit::from(r.resolution.outcome == MxOutcome::NxDomain)
    }),
    ("dns_null_mx", |r| Hit::from(r.resolution.outcome == MxOutcome::NullMx)),
    ("dns_lookup_failed", |r| {
        Hit::from(matches!(r.resolution.outcome, MxOutcome::Error { .. }))
    }),
    ("dns_no_mail_host", |r| {
        Hit::from(r.resolution.outcome == MxOutcome::NoData)
    }),
    ("dns_mx_without_addresses", |r| Hit::from(r.probes.is_empty())),
    ("all_connects_timed_out", all_connects_timed_out),
    ("only_ipv6_connect_fails", only_ipv6_connect_fails),
    ("ipv6_connect_refused", ipv6_connect_refused),
    ("all_connects_refused", all_connects_refused),
    ("some_connects_failed", |r| any(r, connect_failed)),
    // 421 and any other 4xx at the door mean "not now"; 5xx means "not you".
    ("greeting_temporary", |r| {
        any_failure(
            r,
            |f| matches!(f, Failure::GreetingRejected { reply } if (400..500).contains(&reply.code)),
        )
    }),
    ("greeting_5xx", |r| {
        any_failure(
            r,
            |f| matches!(f, Failure::GreetingRejected { reply } if reply.code >= 500),
        )
    }),
    ("greeting_timed_out", |r| {
        any_failure(r, |f| matches!(f, Failure::GreetingTimeout { .. }))
    }),
    ("ehlo_rejected", |r| {
        any_failure(r, |f| matches!(f, Failure::EhloRejected { .. }))
    }),
    ("starttls_masked", |r| {
        any_failure(r, |f| matches!(f, Failure::StartTlsMasked { .. }))
    }),
    ("starttls_not_offered", |r| {
        any_failure(r, |f| matches!(f, Failure::StartTlsNotOffered { .. }))
    }),
    ("starttls_rejected_temporarily", |r| {
        any_failure(
            r,
            |f| matches!(f, Failure::StartTlsRejected { reply } if reply.code < 500),
        )
    }),
    ("starttls_rejected_permanently", |r| {
        any_failure(
            r,
            |f| matches!(f, Failure::StartTlsRejected { reply } if reply.code >= 500),
        )
    }),
    ("closed_after_starttls", |r| {
        any_failure(r, |f| *f == Failure::ClosedAfterStartTls)
    }),
    ("reset_during_handshake", |r| {
        any_failure(r, |f| matches!(f, Failure::HandshakeReset { .. }))
    }),
    // The capability scan (`check --scan`) or the follow-up of a failed handshake ran
    // to the end on some address.
    ("capability_scan_available", |r| {
        Hit::from(r.probes.iter().any(|p| {
            p.scan.as_ref().is_some_and(|s| s.stopped.is_none())
                || p.follow_up.as_ref().is_some_and(|f| f.stopped.is_none())
        }))
    }),
    // A complete scan in which the server took nothing: its fault, not any sender's.
    ("scan_accepts_nothing", |r| {
        any(r, |p| {
            let scanned = p.scan.as_ref().is_some_and(|s| {
                s.stopped.is_none() && !s.versions.is_empty() && s.versions.iter().all(|v| !v.accepted)
            });
            let followed = p
                .follow_up
                .as_ref()
                .is_some_and(|f| f.stopped.is_none() && !f.any_handshake && !f.plaintext_answer && f.refusal.is_some());
            p.failure.is_some() && (scanned || followed)
        })
    }),
    // The server completes handshakes only with anonymous suites (no certificate),
    // as the follow-up or a complete scan shows.
    ("followup_only_anonymous", |r| {
        any(r, |p| {
            let followed = p
                .follow_up
                .as_ref()
                .is_some_and(|f| f.any_handshake && f.only_anonymous);
            let scanned = p.scan.as_ref().is_some_and(|s| {
                let mut accepted = s
                    .versions
                    .iter()
                    .filter(|v| v.accepted)
                    .flat_map(|v| &v.suites)
                    .peekable();
                s.stopped.is_none() && accepted.peek().is_some() && accepted.all(|c| c.name().contains("_anon_"))
            });
            p.failure.is_some() && (followed || scanned)
        })
    }),
    ("scan_answers_plaintext", |r| {
        any(r, |p| {
            let followed = p
                .follow_up
                .as_ref()
                .is_some_and(|f| f.plaintext_answer && !f.any_handshake);
            p.failure.is_some()
                && (followed
                    || p.scan.as_ref().is_some_and(|s| {
                        let tried: Vec<_> = s.versions.iter().filter(|v| v.refusal.is_some()).collect();
                        !tried.is_empty()
                            && s.versions.iter().all(|v| !v.accepted)
                            && tried
                                .iter()
                                .all(|v| matches!(v.refusal, Some(crate::model::scan::Refusal::Plaintext)))
                    }))
        })
    }),
    ("scan_no_common_version_server_older", |r| {
        scanned(r, |profile, scan| {
            matches!(sender::overlap(profile, scan), sender::Overlap::NoCommonVersion { .. })
                && sender::server_is_older(profile, scan)
        })
    }),
    ("scan_no_common_version", |r| {
        scanned(r, |profile, scan| {
            matches!(sender::overlap(profile, scan), sender::Overlap::NoCommonVersion { .. })
        })
    }),
    // Suite lists cut by the budget (or read off a follow-up) cannot prove "no common suite".
    ("scan_no_common_suite_server_outdated", |r| {
        scanned(r, |profile, scan| {
            scan.truncated.is_empty()
                && matches!(sender::overlap(profile, scan), sender::Overlap::NoCommonSuite { .. })
                && sender::server_suites_outdated(scan)
        })
    }),
    ("scan_no_common_suite", |r| {
        scanned(r, |profile, scan| {
            scan.truncated.is_empty() && matches!(sender::overlap(profile, scan), sender::Overlap::NoCommonSuite { .. })
        })
    }),
    // rustls could not connect, but the sender's own stack and the server agree.
    ("scan_sender_reaches_server", |r| {
        let hit = scanned(r, |profile, scan| {
            matches!(sender::overlap(profile, scan), sender::Overlap::Fine { .. })
        });
        let probes: Vec<usize> = hit
            .probes
            .into_iter()
            .filter(|&i| r.probes.get(i).is_some_and(delivery_is_plausible))
            .collect();
        Hit {
            yes: !probes.is_empty(),
            probes,
        }
    }),
    ("alert_protocol_version", |r| alert(r, |code| code == 70)),
    ("alert_no_common_cipher", |r| alert(r, |code| code == 40 || code == 71)),
    ("alert_other", |r| alert(r, |_| true)),
    ("plaintext_after_starttls", |r| {
        any_failure(r, |f| matches!(f, Failure::PlaintextInsteadOfTls { .. }))
    }),
    ("handshake_timed_out", |r| {
        any_failure(r, |f| matches!(f, Failure::HandshakeTimeout { .. }))
    }),
    ("handshake_failed_otherwise", |r| {
        any_failure(r, |f| {
            matches!(f, Failure::HandshakeClosed { .. } | Failure::TlsError { .. })
        })
    }),
    ("tls_ehlo_failed", |r| {
        any(r, |p| p.failure.is_some() && p.stage == Stage::TlsEhlo)
    }),
    ("any_other_failure", |r| any(r, |p| p.failure.is_some())),
    ("mixed_results_on_one_address", mixed_results_on_one_address),
    ("dane_tlsa_mismatch", |r| {
        dane_hit(r, |o| {
            matches!(
                o,
                DaneOutcome::Mismatch { .. } | DaneOutcome::TaMatchedButInvalid { .. }
            )
        })
    }),
    ("dane_rotation", |r| {
        dane_hit(r, |o| matches!(o, DaneOutcome::Mismatch { rotation: true }))
    }),
    ("dane_records_unusable", |r| {
        dane_hit(r, |o| matches!(o, DaneOutcome::NoUsableRecords))
    }),
    ("dane_authenticates_everything", |r| {
        Hit::from(
            r.recipient
                .as_ref()
                .is_some_and(RecipientPolicy::dane_authenticates_everything),
        )
    }),
    ("sts_enforced_mx_not_covered", |r| {
        sts_hit(r, RecipientPolicy::sts_enforced_uncovered, |sts, p| {
            sts.uncovered().iter().any(|m| m.host == p.mx)
        })
    }),
    ("sts_enforced_certificate_fails", |r| {
        sts_hit(r, RecipientPolicy::sts_enforced_failing, |sts, p| {
            sts.failing()
                .iter()
                .any(|m| m.failures.iter().any(|f| f.address == p.address))
        })
    }),
    ("sts_policy_fetch_failed", |r| {
        sts_problem(r, |kind| kind == ResultType::StsPolicyFetchError)
    }),
    ("sts_policy_host_certificate_invalid", |r| {
        sts_problem(r, |kind| kind == ResultType::StsWebpkiInvalid)
    }),
    ("sts_policy_invalid", |r| {
        sts_problem(r, |kind| kind == ResultType::StsPolicyInvalid)
    }),
    ("resolver_older_than_authority", resolver_older_than_authority),
    // Only behind a validated MX and address: elsewhere a DANE sender never asks.
    ("dane_lookup_failed", |r| {
        Hit::from(r.recipient.as_ref().is_some_and(|p| {
            p.dane.iter().any(|h| {
                h.mx_secure
                    && h.host_secure
                    && matches!(h.lookup.status, TlsaStatus::ServFail | TlsaStatus::Error { .. })
            })
        }))
    }),
    ("any_certificate_problem", |r| completed(r, |p| !p.is_secure())),
    // The verdict of path building, not any expired certificate in the bag: an unneeded
    // expired cross-sign does not break a chain. The leaf's own dates count too, because
    // webpki reports an untrusted expired leaf as untrusted.
    ("certificate_expired", |r| {
        completed(r, |p| {
            p.chain.as_ref().is_some_and(|c| {
                !c.is_trusted()
                    && (c.trust.iter().any(|t| t.outcome == TrustOutcome::Expired)
                        || c.leaf()
                            .is_some_and(|leaf| leaf.parse_error.is_none() && leaf.days_remaining < 0))
            })
        })
    }),
    ("certificate_not_yet_valid", |r| {
        completed(r, |p| {
            p.chain
                .as_ref()
                .is_some_and(|c| !c.is_trusted() && c.trust.iter().any(|t| t.outcome == TrustOutcome::NotYetValid))
        })
    }),
    ("chain_incomplete", |r| {
        completed(r, |p| {
            p.chain
                .as_ref()
                .is_some_and(|c| !c.is_trusted() && matches!(c.completeness, Completeness::MissingIssuer { .. }))
        })
    }),
    ("certificate_untrusted", |r| {
        completed(r, |p| p.chain.as_ref().is_none_or(|c| !c.is_trusted()))
    }),
    ("certificate_name_mismatch", |r| {
        completed(r, |p| p.chain.as_ref().is_none_or(|c| !c.name_matches()))
    }),
];

pub fn lookup(name: &str) -> Option<Check> {
    CHECKS.iter().find(|(n, _)| *n == name).map(|(_, check)| *check)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|(name, _)| *name)
}

fn any(report: &CheckReport, test: impl Fn(&ProbeResult) -> bool) -> Hit {
    let probes: Vec<usize> = report
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| test(p))
        .map(|(i, _)| i)
        .collect();
    Hit {
        yes: !probes.is_empty(),
        probes,
    }
}

fn any_failure(report: &CheckReport, test: impl Fn(&Failure) -> bool) -> Hit {
    any(report, |p| p.failure.as_ref().is_some_and(&test))
}

/// Probes whose address has a DANE outcome passing `test`, among MX hosts where DANE applies.
fn dane_hit(report: &CheckReport, test: impl Fn(&DaneOutcome) -> bool) -> Hit {
    let Some(policy) = &report.recipient else {
        return Hit::default();
    };
    any(report, |p| {
        policy
            .dane
            .iter()
            .filter(|h| h.applies() && h.host == p.mx)
            .flat_map(|h| &h.addresses)
            .any(|a| a.address == p.address && a.check.as_ref().is_some_and(|c| test(&c.outcome)))
    })
}

/// `applies` on the recipient policy, supported by the probes `involved` picks.
fn sts_hit(
    report: &CheckReport,
    applies: fn(&RecipientPolicy) -> bool,
    involved: impl Fn(&MtaSts, &ProbeResult) -> bool,
) -> Hit {
    match &report.recipient {
        Some(policy) if applies(policy) => {
            let hit = any(report, |p| involved(&policy.mta_sts, p));
            Hit { yes: true, ..hit }
        }
        _ => Hit::default(),
    }
}

/// The MTA-STS publication is broken in the way whose RFC 8460 type passes `kind`.
fn sts_problem(report: &CheckReport, kind: impl Fn(ResultType) -> bool) -> Hit {
    Hit::from(
        report
            .recipient
            .as_ref()
            .and_then(|r| r.mta_sts.publication_problem())
            .is_some_and(|(k, _)| kind(k)),
    )
}

/// A probe failed on an MX host or address that this relay's resolver still returns
/// but the authoritative servers no longer publish.
fn resolver_older_than_authority(report: &CheckReport) -> Hit {
    let Some(comparison) = report.recipient.as_ref().and_then(|r| r.dns.as_ref()) else {
        return Hit::default();
    };
    let stale: Vec<&Difference> = comparison
        .differences
        .iter()
        .filter(|d| d.role == ViewRole::Primary && d.against == ViewRole::Authority)
        .collect();
    let dropped = |p: &ProbeResult| {
        stale.iter().any(|d| {
            d.kind == DifferenceKind::AddressOnlyInView
                && d.name == p.mx
                && d.view_value.as_deref() == Some(&p.address.ip().to_string())
        })
    };
    let on_old = any(report, |p| {
        dropped(p)
            || stale
                .iter()
                .any(|d| d.kind == DifferenceKind::MxOnlyInView && d.name == p.mx)
    });
    // A difference explains the failure only where mail went to what the authority dropped.
    let failing_on_old = on_old
        .probes
        .iter()
        .filter_map(|&i| report.probes.get(i))
        .any(|p| p.failure.is_some());
    Hit {
        yes: failing_on_old,
        probes: on_old.probes,
    }
}

/// Among sessions that completed without a failure.
fn completed(report: &CheckReport, test: impl Fn(&ProbeResult) -> bool) -> Hit {
    any(report, |p| p.failure.is_none() && test(p))
}

fn alert(report: &CheckReport, code: impl Fn(u8) -> bool) -> Hit {
    any_failure(
        report,
        |f| matches!(f, Failure::TlsAlert { alert, .. } if code(alert.code)),
    )
}

/// Addresses that failed and whose completed scan, compared with the report's
/// sender profile, passes `test`.
fn scanned(report: &CheckReport, test: impl Fn(&sender::Profile, &crate::probe::scan::Scan) -> bool) -> Hit {
    let Some(profile) = sender::for_report(report) else {
        return Hit::default();
    };
    any(report, |p| {
        let scan = p.scan.clone().or_else(|| p.follow_up.as_ref().map(from_follow_up));
        p.failure.is_some() && scan.is_some_and(|s| s.stopped.is_none() && test(&profile, &s))
    })
}

/// What a follow-up saw, as a scan: the versions the server chose, each with the suites
/// seen. Marked truncated: a follow-up lists choices, not every suite accepted.
fn from_follow_up(f: &crate::model::scan::FollowUp) -> crate::probe::scan::Scan {
    use crate::model::scan::VersionScan;
    crate::probe::scan::Scan {
        versions: f
            .versions
            .iter()
            .map(|version| VersionScan {
                version: *version,
                accepted: true,
                refusal: None,
                suites: f.suites.clone(),
                server_order: None,
            })
            .collect(),
        groups: f.groups.clone(),
        connections: f.connections,
        stopped: f.stopped.clone(),
        truncated: vec!["read off the follow-up".into()],
        paced: None,
        senders: Vec::new(),
    }
}

/// A scan that shows a shared version and suite says "delivered" only when nothing
/// else contradicts it: the live handshake failed the way a client that does not speak
/// the server's old TLS fails (not with a broken record or a certificate it could not
/// read), and the system's OpenSSL, when asked, completed the handshake too.
fn delivery_is_plausible(p: &ProbeResult) -> bool {
    let refused_for_age = match &p.failure {
        Some(Failure::TlsAlert { alert, .. }) => matches!(alert.code, 40 | 70 | 71),
        Some(Failure::HandshakeClosed { .. } | Failure::HandshakeReset { .. }) => true,
        // rustls says so when the server wants what it does not speak.
        Some(Failure::TlsError { message }) => message.starts_with("peer is incompatible"),
        _ => false,
    };
    p.stage == Stage::TlsHandshake && refused_for_age && p.second_opinion.as_ref().is_none_or(|o| o.connected)
}

fn connect_failed(p: &ProbeResult) -> bool {
    p.failure.is_some() && p.stage == Stage::Connect
}

fn all_connects_timed_out(report: &CheckReport) -> Hit {
    let hit = any_failure(report, |f| matches!(f, Failure::ConnectTimeout { .. }));
    Hit {
        yes: !report.probes.is_empty() && hit.probes.len() == report.probes.len(),
        ..hit
    }
}

fn all_connects_refused(report: &CheckReport) -> Hit {
    let hit = any_failure(report, |f| matches!(f, Failure::ConnectRefused { .. }));
    Hit {
        yes: !report.probes.is_empty() && hit.probes.len() == report.probes.len(),
        ..hit
    }
}

/// IPv4 gets past connect everywhere, IPv6 fails to connect everywhere.
fn only_ipv6_connect_fails(report: &CheckReport) -> Hit {
    let (v6, v4): (Vec<_>, Vec<_>) = report.probes.iter().partition(|p| p.address.is_ipv6());
    let yes = !v4.is_empty()
        && !v6.is_empty()
        && v4.iter().all(|p| !connect_failed(p))
        && v6.iter().all(|p| connect_failed(p));
    Hit {
        yes,
        probes: if yes {
            any(report, |p| p.address.is_ipv6()).probes
        } else {
            Vec::new()
        },
    }
}

fn ipv6_connect_refused(report: &CheckReport) -> Hit {
    let v6 = any(report, |p| p.address.is_ipv6());
    let refused = any(report, |p| {
        p.address.is_ipv6() && matches!(p.failure, Some(Failure::ConnectRefused { .. }))
    });
    Hit {
        yes: !v6.probes.is_empty() && v6.probes == refused.probes,
        probes: refused.probes,
    }
}

/// The same address both completed and failed (repeated attempts, `--attempts`).
fn mixed_results_on_one_address(report: &CheckReport) -> Hit {
    let mut by_address: BTreeMap<_, (bool, bool)> = BTreeMap::new();
    for p in &report.probes {
        let entry = by_address.entry(p.address).or_default();
        if p.failure.is_some() {
            entry.1 = true;
        } else {
            entry.0 = true;
        }
    }
    any(report, |p| {
        by_address.get(&p.address).is_some_and(|(ok, failed)| *ok && *failed)
    })
}
