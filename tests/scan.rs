//! The capability scan against real TLS servers in the lab: it must find exactly
//! what the server accepts, with hand-made ClientHellos rather than rustls.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::probe::scan::{self, Refusal, ScanSettings};
use mxtriage::probe::{ProbeConfig, ProbeTarget, Timeouts};

fn config() -> ProbeConfig {
    ProbeConfig::new(
        "scan-test.mxtriage.invalid".into(),
        Timeouts {
            connect: Duration::from_secs(2),
            command: Duration::from_secs(2),
            tls: Duration::from_secs(2),
        },
        Arc::new(TrustStores::from_parts(vec![], vec![])),
    )
}

fn target(lab: &Lab, scenario: &str) -> ProbeTarget {
    let info = lab.scenario(scenario).expect("scenario");
    let (mx, ip) = info.servers[0].clone();
    ProbeTarget {
        mx,
        address: SocketAddr::from((ip, lab.port)),
    }
}

fn quick() -> ScanSettings {
    ScanSettings {
        delay: Duration::from_millis(5),
        ..ScanSettings::default()
    }
}

#[tokio::test]
async fn scan_finds_exactly_what_a_rustls_server_accepts() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let result = scan::scan(&config(), &target(&lab, "healthy"), &quick()).await;
    let version = |name: &str| {
        result
            .versions
            .iter()
            .find(|v| v.version.name() == name)
            .unwrap()
            .clone()
    };
    let names = |suites: Vec<mxtriage::model::tls::CipherSuite>| suites.iter().map(|s| s.name()).collect::<Vec<_>>();
    for old in ["SSLv3", "TLSv1.0", "TLSv1.1"] {
        let v = version(old);
        assert!(!v.accepted, "{old} must be refused: {v:?}");
        assert!(v.refusal.is_some(), "{old}: how it refused is recorded");
    }
    // rustls answers a TLS 1.0 hello with an alert (handshake_failure), as the record shows.
    assert!(
        matches!(version("TLSv1.0").refusal, Some(Refusal::Alert { .. })),
        "{:?}",
        version("TLSv1.0")
    );
    let mut tls12 = names(version("TLSv1.2").suites);
    tls12.sort();
    assert_eq!(
        tls12,
        [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        ],
        "an ECDSA certificate allows only the ECDSA suites rustls has"
    );
    let mut tls13 = names(version("TLSv1.3").suites);
    tls13.sort();
    assert_eq!(
        tls13,
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
    );
    assert_eq!(
        version("TLSv1.3").server_order,
        Some(false),
        "rustls follows the client's order by default"
    );
    let groups: Vec<String> = result.groups.iter().map(|g| g.name()).collect();
    assert_eq!(groups, ["x25519", "secp256r1", "secp384r1"]);
    assert!(result.stopped.is_none());
    assert!(
        result.connections <= 30,
        "a polite scan: {} connections",
        result.connections
    );
    assert_eq!(lab.connections(), result.connections, "every connection counted");
}

#[tokio::test]
async fn scan_stops_at_a_421_and_says_why() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let result = scan::scan(&config(), &target(&lab, "greeting-421"), &quick()).await;
    assert_eq!(result.connections, 1);
    assert!(
        result.stopped.as_deref().unwrap_or_default().contains("421"),
        "{result:?}"
    );
    assert!(
        !result.versions.iter().any(|v| v.accepted),
        "throttling is never reported as no TLS support"
    );
}

#[tokio::test]
async fn a_scan_that_never_reaches_tls_invents_no_refusal() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    // STARTTLS answered 454, as Postfix does when its certificate file is missing.
    let result = scan::scan(&config(), &target(&lab, "starttls-454"), &quick()).await;
    assert_eq!(result.connections, 1);
    assert!(
        result.versions.is_empty(),
        "no ClientHello went out, so no version was refused: {:?}",
        result.versions
    );
    let stopped = result.stopped.unwrap_or_default();
    assert!(
        stopped.contains("did not let the scan reach TLS") && stopped.contains("454"),
        "{stopped}"
    );
}

#[tokio::test]
async fn alerts_and_resets_are_told_apart() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let result = scan::scan(&config(), &target(&lab, "reset-in-handshake"), &quick()).await;
    assert!(
        result.versions.iter().all(|v| v.refusal == Some(Refusal::Reset)),
        "{result:?}"
    );
    let result = scan::scan(&config(), &target(&lab, "alert-handshake-failure"), &quick()).await;
    assert!(
        result
            .versions
            .iter()
            .all(|v| matches!(&v.refusal, Some(Refusal::Alert { code: 40, name }) if name == "handshake_failure")),
        "{result:?}"
    );
}

#[tokio::test]
async fn implicit_tls_is_probed_and_scanned_from_the_first_byte() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let mut implicit = config();
    implicit.implicit_tls = true;
    let target = target(&lab, "implicit-tls");
    let p = mxtriage::probe::probe(&implicit, &target).await;
    assert_eq!(p.failure, None, "{:?}", p.transcript);
    assert_eq!(p.stage, mxtriage::model::Stage::Done);
    let greeting = p
        .transcript
        .iter()
        .find(|l| l.text.as_str().starts_with("220 "))
        .unwrap();
    assert!(greeting.encrypted, "the greeting arrives inside TLS");
    let result = scan::scan(&implicit, &target, &quick()).await;
    let accepted: Vec<String> = result
        .versions
        .iter()
        .filter(|v| v.accepted)
        .map(|v| v.version.name())
        .collect();
    assert_eq!(accepted, ["TLSv1.2", "TLSv1.3"]);
}

#[tokio::test]
async fn follow_up_names_resets_plaintext_and_throttling_within_eight_connections() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let reset = scan::follow_up(&config(), &target(&lab, "reset-in-handshake")).await;
    assert!(
        !reset.any_handshake && reset.refusal == Some(Refusal::Reset),
        "{reset:?}"
    );
    assert!(reset.connections <= 8, "{}", reset.describe());
    let plain = scan::follow_up(&config(), &target(&lab, "plaintext-after-220")).await;
    assert!(plain.plaintext_answer && !plain.any_handshake, "{plain:?}");
    assert_eq!(plain.connections, 1, "cleartext once is cleartext always");
    let throttled = scan::follow_up(&config(), &target(&lab, "greeting-421")).await;
    assert_eq!(throttled.connections, 1);
    assert!(
        throttled.stopped.as_deref().unwrap_or_default().contains("421"),
        "{throttled:?}"
    );
    let healthy = scan::follow_up(&config(), &target(&lab, "healthy")).await;
    assert!(healthy.any_handshake && !healthy.only_legacy_suites, "{healthy:?}");
    assert_eq!(healthy.large_hello_refused, Some(false));
    assert!(healthy.connections <= 8, "{}", healthy.describe());
}

#[tokio::test]
async fn a_tarpit_stops_the_scan_within_the_probe_timeouts_and_says_so() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let started = std::time::Instant::now();
    let result = scan::scan(&config(), &target(&lab, "tarpit"), &ScanSettings::default()).await;
    assert!(result.connections <= 2, "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(result.stopped.is_some(), "{result:?}");
    assert!(result.versions.is_empty());
}
