//! Right owners: a check with the capability scan, of every lab scenario, never blames
//! the sender unless the sender's own stack or policy is the cause (for the default
//! profile, only the servers that refuse the sender's address at the greeting). Refusals of every kind land on the
//! recipient: a server that accepts no ClientHello at all is broken on its own side.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::diagnose::{Family, Owner};
use mxtriage::lab::demo::lab_check_options;
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::probe::scan::ScanSettings;
use mxtriage::report::Session;

async fn scanned_verdict(lab: &Lab, scenario: &str, stores: &Arc<TrustStores>) -> (String, Family, Owner) {
    let domain = lab.scenario(scenario).unwrap().domain.clone();
    let mut options = lab_check_options(lab, &domain, Arc::clone(stores));
    // Short waits: the tarpit and silent servers are judged as soon as they fall silent.
    options.probe.timeouts = mxtriage::probe::Timeouts {
        connect: Duration::from_secs(2),
        command: Duration::from_secs(2),
        tls: Duration::from_secs(2),
    };
    options.scan = Some(ScanSettings {
        delay: Duration::from_millis(5),
        ..ScanSettings::default()
    });
    options.policy.enabled = false;
    let report = mxtriage::engine::run(&options, &()).await.unwrap();
    let verdict = Session::new(report, Default::default()).unwrap().verdict;
    (verdict.id, verdict.family, verdict.owner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_every_kind_are_the_recipients() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let stores = Arc::new(TrustStores::from_parts(vec![lab.ca_der()], vec![]));
    for (scenario, expected) in [
        ("alert-handshake-failure", "server-accepts-no-tls"),
        ("alert-protocol-version", "server-accepts-no-tls"),
        ("plaintext-after-220", "plaintext-remote"),
    ] {
        let (id, family, owner) = scanned_verdict(&lab, scenario, &stores).await;
        assert_eq!(id, expected, "{scenario}");
        assert_eq!(
            (family, owner),
            (Family::RemoteMxBroken, Owner::Recipient),
            "{scenario}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_scenario_blames_the_sender_under_a_scan() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let stores = Arc::new(TrustStores::from_parts(vec![lab.ca_der()], vec![]));
    let names: Vec<String> = lab.scenarios().iter().map(|s| s.name.clone()).collect();
    let verdicts = futures_util::future::join_all(names.iter().map(|name| {
        let (lab, stores) = (&lab, &stores);
        async move { (name.clone(), scanned_verdict(lab, name, stores).await) }
    }))
    .await;
    // Where the sender's own address is refused at the door (a blocklist, a rate
    // limit), the sender has to act: that is its policy, not the server's TLS.
    let senders_own = ["greeting-421", "greeting-554"];
    let blamed: Vec<String> = verdicts
        .iter()
        .filter(|(name, (_, _, owner))| *owner == Owner::Sender && !senders_own.contains(&name.as_str()))
        .map(|(name, (id, _, _))| format!("{name}: {id}"))
        .collect();
    assert!(blamed.is_empty(), "the sender is blamed for: {blamed:?}");
}

/// The follow-up (on by default, no --scan) settles refusals on the wire, within 8
/// connections, and never runs on an address whose handshake worked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follow_up_settles_refusals_and_leaves_healthy_addresses_alone() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let stores = Arc::new(TrustStores::from_parts(vec![lab.ca_der()], vec![]));
    let mut cases = vec![
        ("alert-handshake-failure", "server-accepts-no-tls"),
        ("alert-protocol-version", "server-accepts-no-tls"),
        ("plaintext-after-220", "plaintext-remote"),
    ];
    if lab.skipped.is_empty() {
        cases.push(("openssl-anon-only", "server-anonymous-only"));
        cases.push(("openssl-refuses-all", "server-accepts-no-tls"));
    }
    for (scenario, expected) in cases {
        let domain = lab.scenario(scenario).unwrap().domain.clone();
        let mut options = lab_check_options(&lab, &domain, Arc::clone(&stores));
        options.policy.enabled = false;
        let before = lab.connections();
        let report = mxtriage::engine::run(&options, &()).await.unwrap();
        let follow_up = report.probes[0].follow_up.clone().expect("followed up");
        assert!(follow_up.connections <= 8, "{scenario}: {follow_up:?}");
        // The probe, then the follow-up: nothing else connected.
        assert!(lab.connections() - before <= 1 + follow_up.connections, "{scenario}");
        let verdict = Session::new(report, Default::default()).unwrap().verdict;
        assert_eq!(verdict.id, expected, "{scenario}: {}", follow_up.describe());
        assert_eq!(verdict.owner, Owner::Recipient, "{scenario}");
    }
    for scenario in ["healthy", "expired", "no-starttls"] {
        let domain = lab.scenario(scenario).unwrap().domain.clone();
        let report = mxtriage::engine::run(&lab_check_options(&lab, &domain, Arc::clone(&stores)), &())
            .await
            .unwrap();
        assert!(report.probes.iter().all(|p| p.follow_up.is_none()), "{scenario}");
    }
}

/// The demo's OpenSSL peers (checked as the demo checks them, with the scan) end in
/// the verdict their description promises: the demo must not teach a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_openssl_peers_reach_the_verdict_their_description_says() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    if !lab.skipped.is_empty() {
        assert!(std::env::var_os("CI").is_none(), "{:?}", lab.skipped);
        return;
    }
    let stores = Arc::new(TrustStores::from_parts(vec![lab.ca_der()], vec![]));
    for (scenario, expected) in [
        ("openssl-tls10-only", "weak-but-delivers"),
        ("openssl-cbc-only", "weak-but-delivers"),
        ("openssl-tls13-only", "healthy"),
        ("openssl-rsa-kx-only", "weak-but-delivers"),
        ("openssl-postfix-like", "healthy"),
        ("openssl-anon-only", "server-anonymous-only"),
        ("openssl-refuses-all", "server-accepts-no-tls"),
    ] {
        let (id, _, owner) = scanned_verdict(&lab, scenario, &stores).await;
        assert_eq!(id, expected, "{scenario}");
        assert_ne!(owner, Owner::Sender, "{scenario}");
    }
}

/// A box that resets large ClientHellos: the probe (small hello) is healthy, and the
/// scan's sender hellos find that the post-quantum one is dropped, naming its senders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_drops_large_hellos_is_found_by_the_senders_hellos() {
    let lab = Lab::start(LabOptions::default()).await.unwrap();
    let stores = Arc::new(TrustStores::from_parts(vec![lab.ca_der()], vec![]));
    let domain = lab.scenario("large-hello-dropped").unwrap().domain.clone();
    let mut options = lab_check_options(&lab, &domain, Arc::clone(&stores));
    options.policy.enabled = false;
    options.scan = Some(ScanSettings::default());
    let report = mxtriage::engine::run(&options, &()).await.unwrap();
    let probe = &report.probes[0];
    assert!(probe.failure.is_none(), "{:?}", probe.failure);
    let scan = probe.scan.as_ref().unwrap();
    assert!(scan.connections <= 30, "{} connections", scan.connections);
    let pq = scan
        .senders
        .iter()
        .find(|h| h.sender.contains("3.5"))
        .expect("the post-quantum hello was sent");
    assert!(!pq.accepted && pq.bytes > 1024, "{pq:?}");
    assert!(
        scan.senders.iter().any(|h| h.accepted && h.bytes <= 1024),
        "{:?}",
        scan.senders
    );
    assert!(
        probe.findings.iter().any(|f| matches!(
            f,
            mxtriage::model::Finding::LargeHelloRefused { senders, .. } if senders.iter().any(|s| s.contains("3.5"))
        )),
        "{:?}",
        probe.findings
    );
}
