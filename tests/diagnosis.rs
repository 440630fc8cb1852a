//! Every lab scenario through the real probe path to a verdict: family, owner and
//! leaf; then aggregation across addresses, operator answers and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::diagnose::{Answers, Blocking, Confidence, Family, Owner, Scope, WorkaroundKind};
use mxtriage::engine;
use mxtriage::lab::demo::lab_check_options;
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::model::CheckReport;
use mxtriage::report::Session;

async fn lab() -> Lab {
    Lab::start(LabOptions {
        tarpit: Duration::from_millis(3200),
        ..LabOptions::default()
    })
    .await
    .expect("lab starts")
}

async fn run(lab: &Lab, scenario: &str, attempts: usize) -> CheckReport {
    run_with(lab, scenario, attempts, true).await
}

async fn run_with(lab: &Lab, scenario: &str, attempts: usize, follow_up: bool) -> CheckReport {
    let domain = &lab.scenario(scenario).expect("scenario exists").domain;
    let stores = Arc::new(TrustStores::from_parts(vec![], vec![lab.ca_der()]));
    let mut options = lab_check_options(lab, domain, stores);
    options.probe.timeouts.command = if scenario == "tarpit" {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(2)
    };
    options.attempts = attempts;
    options.follow_up = follow_up;
    engine::run(&options, &()).await.expect("check runs")
}

fn answers(pairs: &[(&str, &str)]) -> Answers {
    pairs.iter().map(|(q, a)| (q.to_string(), a.to_string())).collect()
}

/// (scenario, verdict id, family, owner, exit code) with no operator answers.
const TABLE: &[(&str, &str, Family, Owner, u8)] = &[
    ("healthy", "healthy", Family::Healthy, Owner::None, 0),
    (
        "expired",
        "cert-expired-verdict",
        Family::Certificate,
        Owner::Recipient,
        1,
    ),
    (
        "not-yet-valid",
        "cert-not-yet-valid-verdict",
        Family::Certificate,
        Owner::Recipient,
        1,
    ),
    (
        "name-mismatch",
        "name-mismatch",
        Family::NameMismatch,
        Owner::Recipient,
        1,
    ),
    (
        "incomplete-chain",
        "chain-incomplete",
        Family::Certificate,
        Owner::Recipient,
        1,
    ),
    (
        "self-signed",
        "cert-untrusted-verdict",
        Family::Certificate,
        Owner::Recipient,
        1,
    ),
    (
        "no-starttls",
        "starttls-not-offered",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "starttls-masked",
        "middlebox-masked",
        Family::Middlebox,
        Owner::Network,
        1,
    ),
    (
        "starttls-454",
        "starttls-454",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "close-after-220",
        "remote-tls-broken",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "reset-in-handshake",
        "middlebox-reset",
        Family::Middlebox,
        Owner::Network,
        1,
    ),
    // Our small hello gets through the box; only a scan's sender hellos show what it drops.
    ("large-hello-dropped", "healthy", Family::Healthy, Owner::None, 0),
    // The probe sends SNI; only a relay that sends none (read with the relay) fails here.
    ("sni-required", "healthy", Family::Healthy, Owner::None, 0),
    // The follow-up after the refusal finds that the server accepts no ClientHello at all.
    (
        "alert-handshake-failure",
        "server-accepts-no-tls",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "alert-protocol-version",
        "server-accepts-no-tls",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "plaintext-after-220",
        "plaintext-remote",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "close-on-tls-ehlo",
        "second-ehlo-broken",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    (
        "no-greeting",
        "greeting-dead",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    ("greeting-421", "throttled", Family::LocalPath, Owner::Sender, 1),
    ("greeting-554", "blocked", Family::LocalPath, Owner::Sender, 1),
    ("tarpit", "healthy", Family::Healthy, Owner::None, 0),
    (
        "two-mx",
        "remote-tls-broken",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    ("ipv6-broken", "ipv6-refused", Family::Dns, Owner::DnsOwner, 1),
    ("implicit-mx", "healthy", Family::Healthy, Owner::None, 0),
    ("mx-cname", "healthy", Family::Healthy, Owner::None, 0),
    // Spoken to with STARTTLS, an implicit-TLS server waits for a ClientHello: no greeting.
    (
        "implicit-tls",
        "greeting-dead",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    ("null-mx", "dns-null-mx-verdict", Family::Dns, Owner::None, 3),
    ("nxdomain", "dns-nxdomain", Family::Dns, Owner::DnsOwner, 3),
    ("nodata", "dns-no-mail-host", Family::Dns, Owner::DnsOwner, 3),
    ("pool", "healthy", Family::Healthy, Owner::None, 0),
    // Recipient policy: MTA-STS, DANE and a stale resolver.
    ("sts-enforce", "healthy", Family::Healthy, Owner::None, 0),
    (
        "sts-enforce-expired",
        "recipient-policy",
        Family::RecipientPolicy,
        Owner::Recipient,
        1,
    ),
    (
        "sts-mx-not-covered",
        "sts-mx-not-covered",
        Family::RecipientPolicy,
        Owner::Recipient,
        1,
    ),
    // Testing mode reports and never blocks: the certificate problem stays what it is.
    (
        "sts-testing",
        "name-mismatch",
        Family::NameMismatch,
        Owner::Recipient,
        1,
    ),
    // The session failure is the cause; the policy only makes it binding.
    (
        "sts-enforce-no-starttls",
        "starttls-not-offered",
        Family::RemoteMxBroken,
        Owner::Recipient,
        1,
    ),
    ("sts-testing-not-covered", "healthy", Family::Healthy, Owner::None, 0),
    ("sts-mode-none", "healthy", Family::Healthy, Owner::None, 0),
    (
        "sts-malformed",
        "sts-policy-invalid",
        Family::Healthy,
        Owner::Recipient,
        0,
    ),
    ("sts-404", "sts-fetch-error", Family::Healthy, Owner::Recipient, 0),
    ("sts-redirect", "sts-fetch-error", Family::Healthy, Owner::Recipient, 0),
    ("sts-oversized", "sts-fetch-error", Family::Healthy, Owner::Recipient, 0),
    (
        "sts-bad-policy-cert",
        "sts-webpki-invalid",
        Family::Healthy,
        Owner::Recipient,
        0,
    ),
    (
        "sts-bad-txt",
        "sts-policy-invalid",
        Family::Healthy,
        Owner::Recipient,
        0,
    ),
    ("dane-ee", "healthy", Family::Healthy, Owner::None, 0),
    ("dane-ta", "healthy", Family::Healthy, Owner::None, 0),
    ("dane-cname", "healthy", Family::Healthy, Owner::None, 0),
    (
        "dane-rotation",
        "dane-rotation",
        Family::RecipientPolicy,
        Owner::Recipient,
        1,
    ),
    (
        "dane-ta-wrong-name",
        "dane-mismatch",
        Family::RecipientPolicy,
        Owner::Recipient,
        1,
    ),
    ("dane-unusable", "dane-unusable", Family::Healthy, Owner::Recipient, 0),
    // Without DNSSEC validation the stale TLSA record binds no sender.
    ("dane-insecure", "healthy", Family::Healthy, Owner::None, 0),
    // Validated TLSA behind an unvalidated MX: senders (Postfix) do no DANE there.
    ("dane-insecure-mx", "healthy", Family::Healthy, Owner::None, 0),
    (
        "dane-expired-ee",
        "cert-problem-dane-ok",
        Family::Certificate,
        Owner::Recipient,
        1,
    ),
    ("stale-mx", "dns-stale-cache", Family::Dns, Owner::DnsOwner, 1),
    // Three problems on eight addresses: the largest group (six names mismatched) leads.
    ("mixed-pool", "name-mismatch", Family::NameMismatch, Owner::Recipient, 1),
];

#[tokio::test]
async fn every_scenario_reaches_its_verdict() {
    let lab = lab().await;
    let reports = futures_util::future::join_all(TABLE.iter().map(|row| run(&lab, row.0, 1))).await;
    let mut wrong = Vec::new();
    for (&(scenario, id, family, owner, exit), report) in TABLE.iter().zip(reports) {
        let session = Session::new(report, Answers::new()).expect("diagnosis");
        let v = &session.verdict;
        let got = (v.id.as_str(), v.family, v.owner, session.exit_code());
        if got != (id, family, owner, exit) {
            wrong.push(format!(
                "{scenario}: expected {:?}, got {got:?}",
                (id, family, owner, exit)
            ));
        }
        assert!(!v.fix.is_empty() && !v.steps.is_empty(), "{scenario}");
    }
    let covered: Vec<&str> = TABLE.iter().map(|r| r.0).collect();
    let missing: Vec<&str> = lab
        .scenarios()
        .iter()
        .map(|s| s.name.as_str())
        // flaky needs --attempts and the OpenSSL peers need --scan: tested on their own.
        .filter(|n| !covered.contains(n) && *n != "flaky" && !n.starts_with("openssl-"))
        .collect();
    assert!(missing.is_empty(), "scenarios without an expected verdict: {missing:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every address probed, once, in address order (the order the lab hands them out).
fn mixed_pool_addresses(report: &CheckReport) -> Vec<std::net::IpAddr> {
    let mut addresses: Vec<std::net::IpAddr> = Vec::new();
    for p in &report.probes {
        if !addresses.contains(&p.address.ip()) {
            addresses.push(p.address.ip());
        }
    }
    addresses.sort();
    addresses
}

/// Issue 13: ten MX names on eight addresses that fail in three ways get three groups,
/// each with its addresses and every MX name, the headline is about the group it names
/// (not "all 8 addresses"), and no evidence line is repeated.
#[tokio::test]
async fn a_pool_failing_in_three_ways_is_grouped_by_address() {
    let lab = lab().await;
    let report = run(&lab, "mixed-pool", 1).await;
    assert_eq!(report.probes.len(), 80, "10 MX names × 8 addresses");
    assert!(!report.resolution.truncated, "8 addresses per name is within the limit");
    let addresses = mixed_pool_addresses(&report);
    assert_eq!(addresses.len(), 8);
    let names: Vec<String> = report.resolution.hosts.iter().map(|h| h.name.clone()).collect();
    assert_eq!(names.len(), 10);
    let session = Session::new(report, Answers::new()).unwrap();
    let v = &session.verdict;
    // The lab serves, in address order: leaf without intermediate, self-signed, six wrong names.
    let expected: [(&str, &[std::net::IpAddr]); 3] = [
        ("name-mismatch", &addresses[2..]),
        ("chain-incomplete", &addresses[..1]),
        ("cert-untrusted-verdict", &addresses[1..2]),
    ];
    let got: Vec<(&str, Vec<std::net::IpAddr>)> = v
        .groups
        .iter()
        .map(|g| {
            let mut ips: Vec<_> = g.addresses.iter().map(|a| a.address).collect();
            ips.sort();
            (g.id.as_str(), ips)
        })
        .collect();
    let want: Vec<(&str, Vec<std::net::IpAddr>)> = expected.iter().map(|(id, ips)| (*id, ips.to_vec())).collect();
    assert_eq!(got, want);
    for group in &v.groups {
        // Unknown relay policy: each problem stops a verifying sender.
        assert_eq!(group.blocking, Blocking::BlocksVerifying, "{}", group.id);
        for address in &group.addresses {
            assert_eq!(address.hosts, names, "every MX name, once, in MX order");
        }
    }
    assert_eq!(v.id, v.groups[0].id, "the headline is the leading group's");
    match &v.scope {
        Scope::Grouped {
            addresses: about,
            total,
        } => {
            assert_eq!(*total, 8);
            let mut about: Vec<std::net::IpAddr> = about.iter().map(|a| a.parse().unwrap()).collect();
            about.sort();
            assert_eq!(about, &addresses[2..]);
        }
        other => panic!("{other:?}"),
    }
    let mut details: Vec<&str> = v.evidence.iter().map(|e| e.detail.as_str()).collect();
    let all = details.len();
    details.sort();
    details.dedup();
    assert_eq!(details.len(), all, "an evidence line repeated: {:#?}", v.evidence);
    // One line per problem: the three certificates.
    let certificate_lines = v
        .evidence
        .iter()
        .filter(|e| matches!(e.at, mxtriage::diagnose::EvidenceAt::Certificate { .. }))
        .count();
    assert_eq!(certificate_lines, 3, "{:#?}", v.evidence);
    for ip in &addresses {
        assert!(
            v.evidence.iter().any(|e| e.detail.contains(&ip.to_string())),
            "{ip} is in no evidence line: {:#?}",
            v.evidence
        );
    }
}

/// What blocks this relay leads, then the largest group: with the relay verifying, all
/// three block; opportunistic, none does and the headline says so.
#[tokio::test]
async fn a_mixed_pool_is_ordered_by_what_blocks_this_relay() {
    let lab = lab().await;
    let report = run(&lab, "mixed-pool", 1).await;
    let verify = Session::new(report.clone(), answers(&[("sender-policy", "verify")])).unwrap();
    let blocking: Vec<Blocking> = verify.verdict.groups.iter().map(|g| g.blocking).collect();
    assert_eq!(blocking, [Blocking::Blocks; 3]);
    assert_eq!(verify.verdict.id, "name-mismatch");
    let may = Session::new(report, answers(&[("sender-policy", "opportunistic")])).unwrap();
    let groups: Vec<(&str, Blocking)> = may.verdict.groups.iter().map(|g| (g.id.as_str(), g.blocking)).collect();
    assert_eq!(
        groups,
        [
            ("name-mismatch", Blocking::Delivers),
            ("chain-incomplete", Blocking::Delivers),
            ("cert-untrusted-verdict", Blocking::Delivers),
        ],
        "each problem is still named under an opportunistic relay"
    );
    assert_eq!(may.verdict.id, "cert-not-blocking");
    // That headline is about every address, not only the largest group's.
    assert!(
        matches!(may.verdict.scope, Scope::AllAddresses { count: 8 }),
        "{:?}",
        may.verdict.scope
    );
    assert_eq!(verify.verdict.id, verify.verdict.groups[0].id);
}

/// The mixed pool's report with the MX hosts and probes of `scenario` added.
async fn mixed_pool_with(lab: &Lab, scenario: &str) -> CheckReport {
    let mut report = run(lab, "mixed-pool", 1).await;
    let other = run(lab, scenario, 1).await;
    report.resolution.hosts.extend(other.resolution.hosts);
    report.probes.extend(other.probes);
    report
}

/// A session that fails on one address blocks every sender there: that address leads,
/// ahead of six addresses whose certificate only stops verifying senders, and the
/// address that works comes last.
#[tokio::test]
async fn what_blocks_every_sender_leads_over_a_larger_certificate_group() {
    let lab = lab().await;
    // The pool plus two more MX hosts: mx1 works, mx2 closes after 220.
    let report = mixed_pool_with(&lab, "two-mx").await;
    let session = Session::new(report, Answers::new()).unwrap();
    let v = &session.verdict;
    let groups: Vec<(&str, Blocking, usize)> = v
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.blocking, g.addresses.len()))
        .collect();
    assert_eq!(
        groups,
        [
            ("remote-tls-broken", Blocking::Blocks, 1),
            ("name-mismatch", Blocking::BlocksVerifying, 6),
            ("chain-incomplete", Blocking::BlocksVerifying, 1),
            ("cert-untrusted-verdict", Blocking::BlocksVerifying, 1),
            ("healthy", Blocking::Delivers, 1),
        ]
    );
    assert_eq!(v.id, "remote-tls-broken");
    assert_eq!(v.groups[0].addresses[0].hosts, ["mx2.two-mx.lab.test"]);
    match &v.scope {
        Scope::Grouped { addresses, total } => assert_eq!((addresses.len(), *total), (1, 10)),
        other => panic!("{other:?}"),
    }
    // The exception is judged with every host in view: only mx2 is exempted.
    let exim = &v.workaround.as_ref().expect("workaround").exim;
    assert!(
        exim.contains("! mx2.two-mx.lab.test") && !exim.contains("mx01") && !exim.contains("mx1."),
        "{exim}"
    );
}

/// An address without STARTTLS stops a relay that requires TLS; an opportunistic one
/// goes on in cleartext there, so for it that address does not block; with the relay's
/// policy unknown, the group says whom it stops.
#[tokio::test]
async fn a_missing_starttls_blocks_only_a_relay_that_requires_tls() {
    let lab = lab().await;
    let report = mixed_pool_with(&lab, "no-starttls").await;
    let blocking_of = |policy: &str| {
        let mut answers = Answers::new();
        answers.insert("sender-policy".to_string(), policy.to_string());
        let session = Session::new(report.clone(), answers).unwrap();
        let group = session
            .verdict
            .groups
            .iter()
            .find(|g| {
                g.addresses
                    .iter()
                    .any(|a| a.hosts.iter().any(|h| h.contains("no-starttls")))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no group for no-starttls: {:#?}", session.verdict.groups));
        (group.id, group.blocking)
    };
    assert_eq!(
        blocking_of("opportunistic"),
        ("starttls-not-offered".to_string(), Blocking::Delivers)
    );
    assert_eq!(
        blocking_of("verify"),
        ("starttls-not-offered".to_string(), Blocking::Blocks)
    );
    // Not known: it stops only the senders that require TLS, and says so.
    assert_eq!(
        blocking_of("unknown"),
        ("starttls-not-offered".to_string(), Blocking::BlocksRequiringTls)
    );
}

/// A pool whose addresses all work the same way keeps its one verdict: no groups.
#[tokio::test]
async fn a_uniform_pool_keeps_a_single_verdict() {
    let lab = lab().await;
    let session = Session::new(run(&lab, "pool", 1).await, Answers::new()).unwrap();
    let v = &session.verdict;
    assert_eq!(v.id, "healthy");
    assert!(v.groups.is_empty(), "{:#?}", v.groups);
    assert_eq!(v.scope, Scope::AllAddresses { count: 4 });
}

#[tokio::test]
async fn one_broken_mx_is_named_as_host_specific() {
    let lab = lab().await;
    let session = Session::new(run(&lab, "two-mx", 1).await, Answers::new()).unwrap();
    let v = &session.verdict;
    match &v.scope {
        Scope::SomeAddresses { failing, working } => {
            assert_eq!(failing.len(), 1);
            assert!(failing[0].starts_with("mx2.two-mx.lab.test"));
            assert!(working[0].starts_with("mx1.two-mx.lab.test"));
        }
        other => panic!("{other:?}"),
    }
    assert!(v.confidence_reason.contains("host-specific"));
    let exim = &v.workaround.as_ref().expect("workaround").exim;
    assert!(
        exim.contains("! mx2.two-mx.lab.test") && !exim.contains("mx1"),
        "{exim}"
    );
}

#[tokio::test]
async fn ipv6_only_failure_is_not_blamed_on_the_server() {
    let lab = lab().await;
    let session = Session::new(run(&lab, "ipv6-broken", 1).await, Answers::new()).unwrap();
    assert_eq!(session.verdict.id, "ipv6-refused");
    assert!(matches!(&session.verdict.scope, Scope::SomeAddresses { failing, .. } if failing[0].contains("::1")));
}

#[tokio::test]
async fn mixed_results_on_one_address_is_an_unstable_pool_member() {
    let lab = lab().await;
    let report = run(&lab, "flaky", 2).await;
    assert_eq!(report.probes.len(), 2, "two sessions to the same address");
    assert_eq!(report.probes[0].address, report.probes[1].address);
    assert!(report.probes[0].failure.is_none() && report.probes[1].failure.is_some());
    let session = Session::new(report, Answers::new()).unwrap();
    assert_eq!(session.verdict.id, "unstable-pool-member");
    assert_eq!(
        (session.verdict.family, session.verdict.owner),
        (Family::RemoteMxBroken, Owner::Recipient)
    );
}

#[tokio::test]
async fn answers_move_the_verdict_and_confidence() {
    let lab = lab().await;
    let expired = run(&lab, "expired", 1).await;
    let unsure = Session::new(expired.clone(), Answers::new()).unwrap();
    assert_eq!(unsure.verdict.confidence, Confidence::Medium);
    assert_eq!(
        unsure.verdict.workaround.as_ref().unwrap().kind,
        WorkaroundKind::RelaxVerification
    );
    let verify = Session::new(expired.clone(), answers(&[("sender-policy", "verify")])).unwrap();
    assert_eq!(
        (verify.verdict.id.as_str(), verify.verdict.confidence),
        ("cert-expired-verdict", Confidence::High)
    );
    assert_eq!(verify.verdict.tlsrpt.map(|t| t.as_str()), Some("certificate-expired"));
    let opportunistic = Session::new(expired, answers(&[("sender-policy", "opportunistic")])).unwrap();
    assert_eq!(opportunistic.verdict.id, "cert-not-blocking");
    assert!(
        opportunistic.verdict.workaround.is_none(),
        "no exception needed for a sender that does not verify"
    );

    let closed = run(&lab, "close-after-220", 1).await;
    let elsewhere_ok = Session::new(closed, answers(&[("vantage", "works")])).unwrap();
    assert_eq!(
        (elsewhere_ok.verdict.family, elsewhere_ok.verdict.owner),
        (Family::Middlebox, Owner::Network)
    );

    let healthy = run(&lab, "healthy", 1).await;
    let strict = Session::new(
        healthy,
        answers(&[("still-failing", "yes"), ("sender-policy", "verify")]),
    )
    .unwrap();
    assert_eq!(
        (strict.verdict.family, strict.verdict.owner),
        (Family::SenderPolicy, Owner::Sender)
    );
}

#[tokio::test]
async fn certificate_verdicts_cite_the_field() {
    let lab = lab().await;
    let session = Session::new(run(&lab, "expired", 1).await, Answers::new()).unwrap();
    let cites_not_after = session.verdict.evidence.iter().any(
        |e| matches!(&e.at, mxtriage::diagnose::EvidenceAt::Certificate { position: 0, field } if field == "not_after"),
    );
    assert!(cites_not_after, "{:?}", session.verdict.evidence);
    let session = Session::new(run(&lab, "name-mismatch", 1).await, Answers::new()).unwrap();
    assert!(session.verdict.evidence[0].detail.contains("www.unrelated.example"));
}

#[tokio::test]
async fn failures_cite_the_transcript_line() {
    let lab = lab().await;
    let session = Session::new(run(&lab, "starttls-454", 1).await, Answers::new()).unwrap();
    let e = &session.verdict.evidence[0];
    let mxtriage::diagnose::EvidenceAt::Transcript { line } = e.at else {
        panic!("{e:?}");
    };
    let probe = &session.check.probes[0];
    assert!(probe.transcript[line].text.as_str().starts_with("454 4.7.0"));
}

#[tokio::test]
async fn reproduce_commands_name_the_address_and_sni() {
    let lab = lab().await;
    // Without the follow-up (--no-followup) the refusal stays open and the next check
    // tells the operator how to settle it by hand.
    let report = run_with(&lab, "alert-protocol-version", 1, false).await;
    let session = Session::new(report, Answers::new()).unwrap();
    assert_eq!(session.verdict.id, "version-refused-unscanned");
    let r = &session.verdict.reproduce[0];
    let port = lab.port;
    assert!(
        r.openssl.contains(&format!("-connect {}:{port}", r.address.ip())),
        "{}",
        r.openssl
    );
    assert!(r.openssl.contains("-servername mx.alert-protocol-version.lab.test"));
    assert!(
        session
            .verdict
            .next_check
            .as_deref()
            .unwrap_or_default()
            .contains("-tls1_1")
    );
    assert!(r.swaks.contains("--ehlo demo.mxtriage.invalid"));
}

#[tokio::test]
async fn every_connect_timing_out_suspects_local_egress_first() {
    use mxtriage::probe::{ProbeConfig, Timeouts};
    use mxtriage::target::Target;
    // A listener that never accepts, with its queue full, drops SYNs like a filter.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(address)).await
        {
            held.push(stream);
        }
    }
    let options = engine::CheckOptions {
        target: Target::Address {
            ip: address.ip(),
            port: Some(address.port()),
        },
        port: 25,
        family: mxtriage::dns::Family::Both,
        nameservers: vec![],
        dns_timeout: Duration::from_secs(1),
        probe: ProbeConfig::new(
            "egress-test.mxtriage.invalid".into(),
            Timeouts {
                connect: Duration::from_millis(300),
                command: Duration::from_secs(1),
                tls: Duration::from_secs(1),
            },
            Arc::new(TrustStores::from_parts(vec![], vec![])),
        ),
        attempts: 1,
        scan: None,
        sender_profile: None,
        second_opinion: None,
        follow_up: true,
        relay: Default::default(),
        policy: Default::default(),
        deadline: mxtriage::engine::DEFAULT_DEADLINE,
    };
    let report = engine::run(&options, &()).await.unwrap();
    assert!(matches!(
        report.probes[0].failure,
        Some(mxtriage::model::Failure::ConnectTimeout { .. })
    ));
    let unsure = Session::new(report.clone(), Answers::new()).unwrap();
    assert_eq!(
        (unsure.verdict.id.as_str(), unsure.verdict.family),
        ("egress-suspected", Family::Inconclusive)
    );
    assert!(
        unsure
            .verdict
            .next_check
            .as_deref()
            .unwrap_or_default()
            .contains("swaks")
    );
    assert_eq!(unsure.exit_code(), 3, "inconclusive");
    let blocked = Session::new(report.clone(), answers(&[("egress", "blocked")])).unwrap();
    assert_eq!(
        (blocked.verdict.owner, blocked.verdict.confidence),
        (Owner::Sender, Confidence::High)
    );
    let works = Session::new(report, answers(&[("egress", "works")])).unwrap();
    assert_eq!(works.verdict.id, "remote-filtered");
    drop(held);
}
