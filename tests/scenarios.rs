//! Every lab scenario through the real resolver, SMTP and TLS paths on loopback:
//! the stage reached, the failure and its evidence, and the certificate facts.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::{Completeness, TrustOutcome, TrustStore, TrustStores};
use mxtriage::engine;
use mxtriage::lab::demo::lab_check_options;
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::model::CheckReport;
use mxtriage::model::{Failure, Finding, MxOutcome, ProbeResult, Stage};

async fn lab() -> Lab {
    Lab::start(LabOptions {
        tarpit: Duration::from_millis(3500),
        ..LabOptions::default()
    })
    .await
    .expect("lab starts")
}

async fn check(lab: &Lab, scenario: &str) -> CheckReport {
    let domain = &lab.scenario(scenario).expect("scenario exists").domain;
    let stores = Arc::new(TrustStores::from_parts(vec![], vec![lab.ca_der()]));
    let mut options = lab_check_options(lab, domain, stores);
    options.probe.timeouts.command = Duration::from_secs(2);
    if scenario == "tarpit" {
        options.probe.timeouts.command = Duration::from_secs(6);
    }
    engine::run(&options, &()).await.expect("check runs")
}

/// The single probe of a one-address scenario.
async fn probe(lab: &Lab, scenario: &str) -> ProbeResult {
    let report = check(lab, scenario).await;
    assert_eq!(report.probes.len(), 1, "{scenario}: one address expected: {report:#?}");
    report.probes.into_iter().next().unwrap()
}

fn trust(p: &ProbeResult, store: TrustStore) -> TrustOutcome {
    let chain = p.chain.as_ref().expect("chain captured");
    chain
        .trust
        .iter()
        .find(|t| t.store == store)
        .expect("store reported")
        .outcome
        .clone()
}

#[tokio::test]
async fn healthy_completes_with_trusted_matching_chain() {
    let lab = lab().await;
    let report = check(&lab, "healthy").await;
    assert!(!report.probes.is_empty() && report.probes.iter().all(ProbeResult::is_secure));
    let p = &report.probes[0];
    assert_eq!(p.stage, Stage::Done);
    assert_eq!(p.failure, None);
    let tls = p.tls.as_ref().unwrap();
    assert_eq!(tls.version, mxtriage::model::tls::TlsVersion::TLS13);
    assert_eq!(tls.sni.as_deref(), Some("mx.healthy.lab.test"));
    assert!(p.capabilities.as_ref().unwrap().has("STARTTLS"));
    let inside = p.capabilities_tls.as_ref().unwrap();
    assert!(!inside.has("STARTTLS") && inside.has("PIPELINING"));
    let chain = p.chain.as_ref().unwrap();
    assert_eq!(chain.certificates.len(), 2);
    assert_eq!(chain.completeness, Completeness::Complete);
    assert_eq!(trust(p, TrustStore::CaFile), TrustOutcome::Trusted);
    assert_eq!(trust(p, TrustStore::Mozilla), TrustOutcome::UnknownIssuer);
    assert_eq!(chain.name.matched_by.as_ref().unwrap().as_str(), "mx.healthy.lab.test");
    assert!(chain.certificates[0].days_remaining > 80);
    assert!(
        p.transcript
            .iter()
            .any(|l| l.encrypted && l.text.as_str().starts_with("EHLO"))
    );
    assert_eq!(lab.connections(), 1, "one connection for one address");
}

#[tokio::test]
async fn expired_certificate_still_reaches_second_ehlo() {
    let lab = lab().await;
    let p = probe(&lab, "expired").await;
    assert_eq!((p.stage, &p.failure), (Stage::Done, &None));
    assert!(!p.is_secure());
    assert_eq!(trust(&p, TrustStore::CaFile), TrustOutcome::Expired);
    assert!(p.chain.as_ref().unwrap().certificates[0].days_remaining < 0);
}

#[tokio::test]
async fn not_yet_valid_certificate_is_reported() {
    let lab = lab().await;
    let p = probe(&lab, "not-yet-valid").await;
    assert_eq!(p.stage, Stage::Done);
    assert_eq!(trust(&p, TrustStore::CaFile), TrustOutcome::NotYetValid);
}

#[tokio::test]
async fn name_mismatch_is_trusted_but_does_not_cover_the_mx() {
    let lab = lab().await;
    let p = probe(&lab, "name-mismatch").await;
    let chain = p.chain.as_ref().unwrap();
    assert_eq!(trust(&p, TrustStore::CaFile), TrustOutcome::Trusted);
    assert_eq!(chain.name.matched_by, None);
    assert_eq!(chain.name.reference, "mx.name-mismatch.lab.test");
    assert_eq!(chain.certificates[0].sans[0].as_str(), "www.unrelated.example");
}

#[tokio::test]
async fn incomplete_chain_names_the_missing_issuer() {
    let lab = lab().await;
    let p = probe(&lab, "incomplete-chain").await;
    let chain = p.chain.as_ref().unwrap();
    assert_eq!(chain.certificates.len(), 1);
    assert!(
        matches!(&chain.completeness, Completeness::MissingIssuer { issuer } if issuer.as_str().contains("intermediate")),
        "{:?}",
        chain.completeness
    );
    assert_eq!(trust(&p, TrustStore::CaFile), TrustOutcome::UnknownIssuer);
}

#[tokio::test]
async fn self_signed_leaf_is_untrusted_everywhere() {
    let lab = lab().await;
    let p = probe(&lab, "self-signed").await;
    let chain = p.chain.as_ref().unwrap();
    assert!(chain.certificates[0].self_signed);
    assert!(!chain.is_trusted());
    assert_eq!(trust(&p, TrustStore::CaFile), TrustOutcome::UnknownIssuer);
}

#[tokio::test]
async fn starttls_not_offered_lists_what_was() {
    let lab = lab().await;
    let p = probe(&lab, "no-starttls").await;
    assert_eq!(p.stage, Stage::Ehlo);
    match p.failure {
        Some(Failure::StartTlsNotOffered { keywords }) => assert!(keywords.contains(&"PIPELINING".to_string())),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn masked_starttls_is_middlebox_evidence() {
    let lab = lab().await;
    let p = probe(&lab, "starttls-masked").await;
    assert!(matches!(&p.failure, Some(Failure::StartTlsMasked { keyword }) if keyword.as_str() == "XXXXXXXA"));
}

#[tokio::test]
async fn starttls_454_keeps_the_reply() {
    let lab = lab().await;
    let p = probe(&lab, "starttls-454").await;
    assert_eq!(p.stage, Stage::StartTls);
    match &p.failure {
        Some(Failure::StartTlsRejected { reply }) => {
            assert_eq!(reply.code, 454);
            assert_eq!(reply.enhanced_status(), Some("4.7.0"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn close_after_220_before_any_tls_bytes() {
    let lab = lab().await;
    let p = probe(&lab, "close-after-220").await;
    assert_eq!(
        (p.stage, p.failure),
        (Stage::TlsHandshake, Some(Failure::ClosedAfterStartTls))
    );
}

#[tokio::test]
async fn reset_during_handshake_is_middlebox_evidence() {
    let lab = lab().await;
    let p = probe(&lab, "reset-in-handshake").await;
    assert_eq!(p.stage, Stage::TlsHandshake);
    assert_eq!(p.failure, Some(Failure::HandshakeReset { bytes_received: 0 }));
}

#[tokio::test]
async fn alerts_are_named() {
    let lab = lab().await;
    for (scenario, code, name) in [
        ("alert-handshake-failure", 40, "handshake_failure"),
        ("alert-protocol-version", 70, "protocol_version"),
    ] {
        let p = probe(&lab, scenario).await;
        assert_eq!(p.stage, Stage::TlsHandshake);
        match &p.failure {
            Some(Failure::TlsAlert { alert, bytes_received }) => {
                assert_eq!((alert.code, alert.name.as_str()), (code, name));
                assert_eq!(*bytes_received, 7);
            }
            other => panic!("{scenario}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn plaintext_where_server_hello_was_expected() {
    let lab = lab().await;
    let p = probe(&lab, "plaintext-after-220").await;
    match &p.failure {
        Some(Failure::PlaintextInsteadOfTls { first_bytes }) => assert!(first_bytes.as_str().starts_with("500 5.5.2")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rfc3207_second_ehlo_failure_is_its_own_stage() {
    let lab = lab().await;
    let p = probe(&lab, "close-on-tls-ehlo").await;
    assert_eq!(p.stage, Stage::TlsEhlo);
    assert!(p.tls.is_some(), "the handshake itself completed");
    assert!(matches!(
        p.failure,
        Some(Failure::ConnectionClosed { stage: Stage::TlsEhlo } | Failure::ConnectionReset { stage: Stage::TlsEhlo })
    ));
}

#[tokio::test]
async fn greeting_never_sent_times_out() {
    let lab = lab().await;
    let p = probe(&lab, "no-greeting").await;
    assert_eq!(p.stage, Stage::Greeting);
    assert!(matches!(p.failure, Some(Failure::GreetingTimeout { after_ms, partial: None }) if after_ms >= 1900));
}

#[tokio::test]
async fn greeting_421_and_554_are_told_apart() {
    let lab = lab().await;
    for (scenario, code) in [("greeting-421", 421), ("greeting-554", 554)] {
        let p = probe(&lab, scenario).await;
        assert_eq!(p.stage, Stage::Greeting);
        assert!(
            matches!(&p.failure, Some(Failure::GreetingRejected { reply }) if reply.code == code),
            "{scenario}"
        );
    }
}

#[tokio::test]
async fn tarpit_greeting_is_waited_for_and_noted() {
    let lab = lab().await;
    let p = probe(&lab, "tarpit").await;
    assert_eq!(p.stage, Stage::Done);
    assert!(
        p.findings
            .iter()
            .any(|f| matches!(f, Finding::SlowGreeting { ms } if *ms >= 3400))
    );
    assert_eq!(
        p.greeting.as_ref().unwrap().lines.len(),
        2,
        "multiline 220- greeting parsed"
    );
}

#[tokio::test]
async fn tarpit_greeting_past_the_timeout_keeps_the_partial_line() {
    let lab = lab().await;
    let domain = lab.scenario("tarpit").unwrap().domain.clone();
    let stores = Arc::new(TrustStores::from_parts(vec![], vec![lab.ca_der()]));
    let mut options = lab_check_options(&lab, &domain, stores);
    options.probe.timeouts.command = Duration::from_millis(800);
    let report = engine::run(&options, &()).await.unwrap();
    // The first line of a multiline greeting is complete; the reply is not.
    assert!(matches!(
        &report.probes[0].failure,
        Some(Failure::GreetingTimeout { .. })
    ));
    assert!(
        report.probes[0]
            .transcript
            .iter()
            .any(|l| l.text.as_str().starts_with("220-"))
    );
}

#[tokio::test]
async fn two_mx_one_broken_in_preference_order() {
    let lab = lab().await;
    let report = check(&lab, "two-mx").await;
    let hosts: Vec<(Option<u16>, &str)> = report
        .resolution
        .hosts
        .iter()
        .map(|h| (h.preference, h.name.as_str()))
        .collect();
    assert_eq!(
        hosts,
        [(Some(10), "mx1.two-mx.lab.test"), (Some(20), "mx2.two-mx.lab.test")]
    );
    assert!(report.probes[0].is_secure());
    assert_eq!(report.probes[1].failure, Some(Failure::ClosedAfterStartTls));
    assert!(!report.probes.iter().all(ProbeResult::is_secure));
}

#[tokio::test]
async fn ipv6_refuses_while_ipv4_works() {
    let lab = lab().await;
    let report = check(&lab, "ipv6-broken").await;
    assert_eq!(report.probes.len(), 2);
    let v4 = report.probes.iter().find(|p| p.address.is_ipv4()).unwrap();
    let v6 = report.probes.iter().find(|p| p.address.is_ipv6()).unwrap();
    assert!(v4.is_secure());
    assert_eq!(v6.stage, Stage::Connect);
    assert!(matches!(
        v6.failure,
        Some(Failure::ConnectRefused { .. } | Failure::ConnectUnreachable { .. })
    ));
}

#[tokio::test]
async fn rfc5321_implicit_mx_uses_the_domain_address() {
    let lab = lab().await;
    let report = check(&lab, "implicit-mx").await;
    assert_eq!(report.resolution.outcome, MxOutcome::ImplicitMx);
    assert_eq!(report.resolution.hosts[0].name, "implicit-mx.lab.test");
    assert!(report.probes[0].is_secure());
}

#[tokio::test]
async fn cname_chain_of_the_mx_target_is_recorded() {
    let lab = lab().await;
    let report = check(&lab, "mx-cname").await;
    let host = &report.resolution.hosts[0];
    assert_eq!(host.name, "alias.mx-cname.lab.test");
    assert_eq!(host.cname_chain, ["alias.mx-cname.lab.test → mx.mx-cname.lab.test"]);
    assert_eq!(host.addresses.len(), 1);
    assert!(report.probes[0].is_secure());
}

#[tokio::test]
async fn dns_outcomes_are_distinct_and_nothing_is_probed() {
    let lab = lab().await;
    for (scenario, outcome) in [
        ("null-mx", MxOutcome::NullMx),
        ("nxdomain", MxOutcome::NxDomain),
        ("nodata", MxOutcome::NoData),
    ] {
        let report = check(&lab, scenario).await;
        assert_eq!(report.resolution.outcome, outcome, "{scenario}");
        assert!(report.probes.is_empty());
        assert!(report.probes.is_empty(), "nothing could be tested");
    }
    assert_eq!(lab.connections(), 0);
}

#[tokio::test]
async fn pool_probes_every_address_once() {
    let lab = lab().await;
    let report = check(&lab, "pool").await;
    assert_eq!(report.probes.len(), 4);
    assert!(!report.probes.is_empty() && report.probes.iter().all(ProbeResult::is_secure));
    let counts = lab.connections_by_address();
    assert_eq!(counts.values().filter(|&&n| n == 1).count(), 4);
    assert_eq!(lab.connections(), 4);
}

/// Ten MX names on the same eight addresses: every name is probed on every address (80
/// sessions, ten per address), and each address presents its own certificate whatever
/// name it is asked under: the first lacks its intermediate, the second is self-signed,
/// the other six are for a name that is not the MX host's.
#[tokio::test]
async fn mixed_pool_serves_three_kinds_of_certificate_under_ten_names() {
    let lab = lab().await;
    let report = check(&lab, "mixed-pool").await;
    assert_eq!(report.resolution.hosts.len(), 10);
    assert!(report.resolution.hosts.iter().all(|h| h.addresses.len() == 8));
    assert!(!report.resolution.truncated);
    assert_eq!(report.probes.len(), 80);
    let counts = lab.connections_by_address();
    assert_eq!(counts.values().filter(|&&n| n == 10).count(), 8, "{counts:?}");
    let mut addresses: Vec<std::net::IpAddr> = report.probes.iter().map(|p| p.address.ip()).collect();
    addresses.sort();
    addresses.dedup();
    for p in &report.probes {
        assert_eq!((p.stage, &p.failure), (Stage::Done, &None), "{} [{}]", p.mx, p.address);
        let chain = p.chain.as_ref().unwrap();
        assert!(!chain.is_trusted() || !chain.name_matches(), "{} [{}]", p.mx, p.address);
        let index = addresses.iter().position(|a| *a == p.address.ip()).unwrap();
        match index {
            0 => assert!(matches!(chain.completeness, Completeness::MissingIssuer { .. })),
            1 => assert!(chain.certificates[0].self_signed),
            _ => {
                assert_eq!(trust(p, TrustStore::CaFile), TrustOutcome::Trusted);
                assert_eq!(chain.certificates[0].sans[0].as_str(), "www.unrelated.example");
            }
        }
    }
}
