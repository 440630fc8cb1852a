//! Recipient policy through the real lookup and fetch paths: the lab's DNS (with its
//! stand-in for a validating resolver), its HTTPS policy host, and TLSA records made
//! from the certificates the lab generated, matched against the chains the probes saw.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::dns::compare::{DifferenceKind, ViewRole};
use mxtriage::dns::{Dns, Family};
use mxtriage::engine;
use mxtriage::lab::demo::lab_check_options;
use mxtriage::lab::dns::{DnsServer, ZoneSpec};
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::model::CheckReport;
use mxtriage::policy::dane::{DaneOutcome, TaFailure, Usability};
use mxtriage::policy::mta_sts::Mode;
use mxtriage::policy::recipient::{RecipientPolicy, Txt};
use mxtriage::policy::records::{DmarcOutcome, SpfOutcome, TlsRptOutcome};
use mxtriage::policy::sts_fetch::{FetchOutcome, FetchSettings, fetch};
use tokio::net::TcpListener;

async fn report(lab: &Lab, scenario: &str) -> CheckReport {
    let domain = &lab.scenario(scenario).expect("scenario exists").domain;
    let stores = Arc::new(TrustStores::from_parts(vec![], vec![lab.ca_der()]));
    let mut options = lab_check_options(lab, domain, stores);
    options.probe.timeouts.command = Duration::from_secs(2);
    engine::run(&options, &()).await.expect("check runs")
}

fn policy(report: &CheckReport) -> &RecipientPolicy {
    report
        .recipient
        .as_ref()
        .expect("a domain check looks up the recipient policy")
}

/// The DANE outcome of the scenario's only address.
fn dane_outcome(report: &CheckReport) -> DaneOutcome {
    let host = &policy(report).dane[0];
    host.addresses[0].check.as_ref().expect("chain matched").outcome.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc8461_enforce_policy_covers_the_mx_and_its_certificate_passes() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let r = report(&lab, "sts-enforce").await;
    let sts = &policy(&r).mta_sts;
    assert_eq!(sts.mode(), Some(Mode::Enforce));
    assert_eq!(sts.mx.len(), 1);
    assert_eq!(
        sts.mx[0].pattern.as_ref().map(|p| p.as_str()),
        Some("mx.sts-enforce.lab.test")
    );
    assert!(sts.mx[0].failures.is_empty(), "{:?}", sts.mx[0].failures);
    assert!(sts.publication_problem().is_none());
    assert!(policy(&r).forbids_exceptions(), "enforce forbids sender exceptions");
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc8461_enforce_failures_name_the_mx_and_the_result_type() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let (expired, uncovered, testing, no_starttls, testing_uncovered, none) = tokio::join!(
        report(&lab, "sts-enforce-expired"),
        report(&lab, "sts-mx-not-covered"),
        report(&lab, "sts-testing"),
        report(&lab, "sts-enforce-no-starttls"),
        report(&lab, "sts-testing-not-covered"),
        report(&lab, "sts-mode-none"),
    );
    let sts = &policy(&no_starttls).mta_sts;
    assert_eq!(
        sts.failing()[0].failures[0].result_type.as_str(),
        "starttls-not-supported"
    );
    let sts = &policy(&testing_uncovered).mta_sts;
    assert_eq!(sts.mode(), Some(Mode::Testing));
    assert_eq!(sts.uncovered().len(), 1);
    assert!(!policy(&testing_uncovered).sts_enforced_uncovered());
    // Mode none withdraws the policy: nothing is held against the MX hosts.
    let sts = &policy(&none).mta_sts;
    assert_eq!(sts.mode(), Some(Mode::None));
    assert!(sts.mx.is_empty());

    let sts = &policy(&expired).mta_sts;
    let failure = &sts.failing()[0].failures[0];
    assert_eq!(failure.result_type.as_str(), "certificate-expired");
    assert_eq!(failure.address, expired.probes[0].address);
    assert!(policy(&expired).sts_enforced_failing());

    let sts = &policy(&uncovered).mta_sts;
    assert_eq!(sts.uncovered().len(), 1);
    assert_eq!(sts.uncovered()[0].host, "mx.sts-mx-not-covered.lab.test");
    assert!(policy(&uncovered).sts_enforced_uncovered());

    // Testing mode: the failure is measured and shown, but nothing is enforced.
    let sts = &policy(&testing).mta_sts;
    assert_eq!(sts.mode(), Some(Mode::Testing));
    assert_eq!(
        sts.failing()[0].failures[0].result_type.as_str(),
        "certificate-host-mismatch"
    );
    assert!(!policy(&testing).sts_enforced_failing());
    assert!(!policy(&testing).forbids_exceptions());
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_publications_map_to_their_rfc8460_types() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let scenarios = [
        ("sts-malformed", "sts-policy-invalid"),
        ("sts-404", "sts-policy-fetch-error"),
        ("sts-redirect", "sts-policy-fetch-error"),
        ("sts-oversized", "sts-policy-fetch-error"),
        ("sts-bad-policy-cert", "sts-webpki-invalid"),
        ("sts-bad-txt", "sts-policy-invalid"),
    ];
    let reports = futures_util::future::join_all(scenarios.iter().map(|(s, _)| report(&lab, s))).await;
    for ((scenario, kind), r) in scenarios.iter().zip(&reports) {
        let sts = &policy(r).mta_sts;
        let (got, _) = sts
            .publication_problem()
            .unwrap_or_else(|| panic!("{scenario}: no problem found"));
        assert_eq!(got.as_str(), *kind, "{scenario}");
        assert_eq!(sts.mode(), None, "{scenario}: a broken publication is no policy");
    }
    // Each malformed policy line is reported with its number.
    let malformed = policy(&reports[0]).mta_sts.policy.as_ref().expect("policy parsed");
    let lines: Vec<Option<usize>> = malformed.problems.iter().map(|p| p.line).collect();
    for line in [2, 3, 4] {
        assert!(
            lines.contains(&Some(line)),
            "line {line} reported: {:?}",
            malformed.problems
        );
    }
    // The redirect target is shown, never followed.
    let redirect = policy(&reports[2]).mta_sts.fetch.as_ref().expect("fetched");
    assert!(
        matches!(redirect, FetchOutcome::HttpStatus { status: 301, .. }),
        "{redirect:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc7672_tlsa_records_are_matched_against_the_presented_chain() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let (ee, ta, rotation, wrong_name, unusable, insecure, cname, insecure_mx) = tokio::join!(
        report(&lab, "dane-ee"),
        report(&lab, "dane-ta"),
        report(&lab, "dane-rotation"),
        report(&lab, "dane-ta-wrong-name"),
        report(&lab, "dane-unusable"),
        report(&lab, "dane-insecure"),
        report(&lab, "dane-cname"),
        report(&lab, "dane-insecure-mx"),
    );
    // Validated TLSA is not enough: the MX records must be validated too.
    let host = &policy(&insecure_mx).dane[0];
    assert!(
        host.lookup.authenticated && host.host_secure && !host.mx_secure,
        "{host:?}"
    );
    assert!(host.insecure_path() && !host.applies());
    // An MX that is a CNAME: the TLSA base domain is the expanded name (RFC 7672 §2.2.3).
    assert_eq!(policy(&cname).dane[0].host, "alias.dane-cname.lab.test");
    assert_eq!(policy(&cname).dane[0].lookup.owner, "_25._tcp.mx.dane-cname.lab.test");
    assert_eq!(
        dane_outcome(&cname),
        DaneOutcome::Authenticated { record: 0, position: 0 }
    );
    for r in [&ee, &ta, &rotation, &wrong_name, &unusable] {
        assert!(policy(r).dane[0].applies(), "validated TLSA: {}", r.target);
    }
    // 3 1 1 matches the leaf; 2 1 1 matches the intermediate (position 1).
    assert_eq!(dane_outcome(&ee), DaneOutcome::Authenticated { record: 0, position: 0 });
    assert_eq!(dane_outcome(&ta), DaneOutcome::Authenticated { record: 0, position: 1 });
    assert_eq!(dane_outcome(&rotation), DaneOutcome::Mismatch { rotation: true });
    assert!(policy(&rotation).dane_rotation());
    assert!(
        matches!(
            dane_outcome(&wrong_name),
            DaneOutcome::TaMatchedButInvalid {
                reason: TaFailure::NameMismatch,
                ..
            }
        ),
        "{:?}",
        dane_outcome(&wrong_name)
    );
    assert_eq!(dane_outcome(&unusable), DaneOutcome::NoUsableRecords);
    let records = &policy(&unusable).dane[0].addresses[0].check.as_ref().unwrap().records;
    let usability: Vec<&Usability> = records.iter().map(|r| &r.usable).collect();
    assert!(usability.contains(&&Usability::PkixNotForSmtp), "{usability:?}");
    assert!(usability.contains(&&Usability::BadData), "{usability:?}");
    // The same stale record in an unsigned zone binds no sender.
    let host = &policy(&insecure).dane[0];
    assert!(!host.lookup.authenticated);
    assert!(!host.applies());
    assert!(policy(&insecure).dane_failures().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_rpt_spf_and_dmarc_are_read_as_context() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let r = report(&lab, "sts-enforce").await;
    let p = policy(&r);
    let Txt::Parsed {
        outcome: TlsRptOutcome::Valid { rua, .. },
    } = &p.tls_rpt
    else {
        panic!("TLS-RPT: {:?}", p.tls_rpt);
    };
    assert_eq!(rua[0].as_str(), "mailto:tlsrpt@sts-enforce.lab.test");
    assert!(
        matches!(
            &p.spf,
            Txt::Parsed {
                outcome: SpfOutcome::Valid { .. }
            }
        ),
        "{:?}",
        p.spf
    );
    assert!(
        matches!(
            &p.dmarc,
            Txt::Parsed {
                outcome: DmarcOutcome::Valid { .. }
            }
        ),
        "{:?}",
        p.dmarc
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_resolver_is_told_apart_from_the_authority() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let r = report(&lab, "stale-mx").await;
    let comparison = policy(&r).dns.as_ref().expect("compared");
    assert!(comparison.primary_is_stale());
    let old = comparison
        .differences
        .iter()
        .find(|d| d.kind == DifferenceKind::MxOnlyInView && d.role == ViewRole::Primary)
        .expect("the old MX is only in the cache");
    assert_eq!(old.name, "mx-old.stale-mx.lab.test");
    assert!(old.ttl.is_some_and(|ttl| ttl > 3000 && ttl <= 3600), "{old:?}");
    // The probes went where the cache said: the old, broken host.
    assert_eq!(r.probes[0].mx, "mx-old.stale-mx.lab.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_nameserver_and_no_policy_on_the_command_line() {
    let f = common::fixture("recipient-cli").await;
    let stale = f.lab.resolver_for("stale-mx.lab.test");
    let base = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
        command.env("MXTRIAGE_CONFIG", "");
        command
            .args([
                "check",
                "--no-relay",
                "stale-mx.lab.test",
                "--format",
                "json",
                "--timeout-command",
                "2",
            ])
            .args(["--port", &f.lab.port.to_string(), "--nameserver", &stale.to_string()])
            .args(["--authority-port", &f.lab.dns.port().to_string()])
            .arg("--ca-file")
            .arg(&f.ca_file)
            .args(extra);
        command
    };
    let out = common::run(base(&["--compare-nameserver", &f.lab.dns.to_string()])).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let views = json["recipient"]["dns"]["views"].as_array().expect("views");
    assert_eq!(views.len(), 2, "this relay's resolver and the compared one");
    assert_eq!(views[1]["role"], "compared");
    assert_eq!(views[1]["mx"][0]["exchange"], "mx-new.stale-mx.lab.test");
    assert_eq!(json["verdict"]["id"], "dns-stale-cache");
    assert_eq!(out.status.code(), Some(1));

    let out = common::run(base(&["--no-policy"])).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(json["recipient"].is_null(), "--no-policy skips the lookups");
    assert_ne!(json["verdict"]["id"], "dns-stale-cache");
}

/// A zone where `mta-sts.<domain>` points at `ip`, served by its own DNS server.
async fn zone_with_policy_host(domain: &str, ip: std::net::Ipv4Addr) -> DnsServer {
    let mut zone = ZoneSpec::new(domain);
    zone.a(&format!("mta-sts.{domain}"), ip);
    DnsServer::start(&zone, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("dns")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_policy_host_times_out_and_a_missing_one_has_no_address() {
    // Accepts TCP and never speaks TLS.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let server = zone_with_policy_host("silent.test", std::net::Ipv4Addr::LOCALHOST).await;
    let dns = Arc::new(Dns::new(&[server.addr()], Family::Both, Duration::from_secs(2)).unwrap());
    let stores = TrustStores::from_parts(vec![], vec![]);
    let settings = FetchSettings {
        port,
        timeout: Duration::from_millis(700),
    };
    let outcome = fetch("silent.test", Arc::clone(&dns), &stores, settings).await.outcome;
    assert!(matches!(outcome, FetchOutcome::Timeout { .. }), "{outcome:?}");
    assert_eq!(
        outcome.rfc8460_result_type().map(|t| t.as_str()),
        Some("sts-policy-fetch-error")
    );

    let outcome = fetch("elsewhere.silent.test", dns, &stores, settings).await.outcome;
    assert!(matches!(outcome, FetchOutcome::NoAddress { .. }), "{outcome:?}");
    hold.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn report_diff_names_a_policy_seen_differently() {
    use mxtriage::diagnose::Answers;
    use mxtriage::report::{Session, diff};
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let here = report(&lab, "dane-rotation").await;
    // The other vantage point's resolver does not validate: no AD, so no DANE there.
    let mut there = here.clone();
    there.vantage_host = "elsewhere".into();
    for host in &mut there.recipient.as_mut().unwrap().dane {
        host.lookup.authenticated = false;
    }
    let (a, b) = (
        Session::new(here, Answers::new()).unwrap(),
        Session::new(there, Answers::new()).unwrap(),
    );
    assert_eq!(a.verdict.id, "dane-rotation");
    assert_eq!(
        b.verdict.id, "healthy",
        "without validation the TLSA records bind nobody"
    );
    let d = diff::diff(&a, &b);
    assert!(
        d.differences
            .iter()
            .any(|l| l.contains("recipient policy") && l.contains("DANE does not apply")),
        "{:?}",
        d.differences
    );
}

/// SERVFAIL on TLSA cannot be produced by the lab's DNS server, so this test takes a real
/// lab report and changes only the lookup status: it proves the tree's handling, not the lookup.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_tlsa_lookup_is_a_dns_problem_for_dane_senders() {
    use mxtriage::diagnose::{Answers, Family, Owner};
    use mxtriage::dns::raw::TlsaStatus;
    use mxtriage::report::Session;
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let mut r = report(&lab, "healthy").await;
    let host = &mut r.recipient.as_mut().unwrap().dane[0];
    host.lookup.status = TlsaStatus::ServFail;
    // As if the MX and address answers had been validated (the healthy scenario's are not).
    host.mx_secure = true;
    host.host_secure = true;
    let session = Session::new(r, Answers::new()).unwrap();
    let v = &session.verdict;
    assert_eq!(
        (v.id.as_str(), v.family, v.owner),
        ("dane-lookup-failed", Family::Dns, Owner::DnsOwner)
    );
    assert_eq!(v.tlsrpt.map(|t| t.as_str()), Some("dnssec-invalid"));
    assert!(
        v.evidence.iter().any(|e| e.detail.contains("SERVFAIL")),
        "{:?}",
        v.evidence
    );
}
