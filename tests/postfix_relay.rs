//! A real Postfix relay (tests/common/postfix.rs) delivering to the lab: smoke tests
//! that prove the harness, and `record_all_scenarios`, the ground-truth table of what
//! Postfix does for every scenario at every TLS level:
//!
//! `cargo test --test postfix_relay -- --ignored --nocapture record_all_scenarios`
//! (writes the table to `$MXTRIAGE_POSTFIX_TABLE`, default /work/postfix-observed.md).
//!
//! The lab's DNS listens on 127.77.0.1:53 here (Postfix's resolver only asks port 53),
//! so the tests of this binary take turns through [`PORT_53`].
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

#[path = "common/postfix.rs"]
mod postfix;

use std::time::{Duration, Instant};

use mxtriage::lab::{Lab, LabOptions};
use postfix::{Outcome, PostfixRelay, Status, TlsKind};
use tokio::sync::{Mutex, MutexGuard};

/// One lab on port 53 at a time in this binary.
static PORT_53: Mutex<()> = Mutex::const_new(());

/// How long one message may take: the slowest single attempt is a 10 s timeout per MX.
const OUTCOME: Duration = Duration::from_secs(60);

/// The lab with its DNS on port 53, and the turn that lets it hold that port.
struct Turn {
    lab: Lab,
    _guard: MutexGuard<'static, ()>,
}

/// `None` (test skipped, said so) when this machine cannot run Postfix; in CI that fails.
async fn lab() -> Option<Turn> {
    if let Err(why) = postfix::available() {
        assert!(std::env::var_os("CI").is_none(), "cannot run Postfix: {why}");
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let guard = PORT_53.lock().await;
    // The previous test's lab may still be releasing port 53 as its runtime shuts down.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Lab::start(LabOptions {
            dns_port: 53,
            ..LabOptions::default()
        })
        .await
        {
            Ok(lab) => return Some(Turn { lab, _guard: guard }),
            Err(e) if Instant::now() < deadline => {
                eprintln!("lab on port 53 not ready yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("lab with DNS on port 53: {e}"),
        }
    }
}

fn rcpt(lab: &Lab, scenario: &str) -> String {
    format!("rcpt@{}", lab.scenario(scenario).expect("scenario").domain)
}

fn start(lab: &Lab, main_cf: &[(&str, &str)], master_cf: &[&str], maps: &[(&str, &str)]) -> PostfixRelay {
    PostfixRelay::start(lab, &PostfixRelay::temp_base(), main_cf, master_cf, maps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_at_may_goes_over_trusted_tls() {
    let began = Instant::now();
    let Some(turn) = lab().await else { return };
    let lab_ready = began.elapsed();
    let relay = start(&turn.lab, &[], &[], &[]);
    let relay_ready = began.elapsed();
    let id = relay.send(&rcpt(&turn.lab, "healthy")).await;
    let queued = began.elapsed();
    let outcome = relay.outcome(&id, OUTCOME).await;
    let done = began.elapsed();
    drop(relay);
    eprintln!(
        "lab {lab_ready:?}, relay started {:?}, send {:?}, outcome {:?}, stop {:?}: {outcome:#?}",
        relay_ready - lab_ready,
        queued - relay_ready,
        done - queued,
        began.elapsed() - done
    );
    assert_eq!(outcome.queue_id, id);
    let tls = outcome.tls.as_ref().expect("a TLS session");
    // `may` does not check the name, so a chain to the CAfile is only "Trusted".
    assert_eq!(tls.kind, TlsKind::Trusted, "{outcome:#?}");
    assert!(tls.peer.starts_with("mx.healthy.lab.test[127.77.0."), "{outcome:#?}");
    assert!(tls.details.starts_with("TLSv1."), "{outcome:#?}");
    assert!(
        outcome.relay.starts_with("mx.healthy.lab.test[127.77.0."),
        "{outcome:#?}"
    );
    // Sent, or bounced at DATA by the lab's server that answers 250 there (not 354).
    assert!(outcome.delivered(), "{outcome:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_starttls_at_encrypt_is_deferred() {
    let Some(turn) = lab().await else { return };
    let relay = start(&turn.lab, &[("smtp_tls_security_level", "encrypt")], &[], &[]);
    let outcome = relay.deliver(&rcpt(&turn.lab, "no-starttls"), OUTCOME).await;
    assert_eq!(outcome.status, Status::Deferred, "{outcome:#?}");
    assert!(
        outcome.reason.contains("TLS is required, but was not offered by host"),
        "{outcome:#?}"
    );
    assert_eq!(outcome.tls, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_map_secure_dot_nexthop_verifies_and_refuses_a_wrong_name() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let policy = "healthy.lab.test secure match=nexthop:dot-nexthop\n\
                  .lab.test secure match=nexthop:dot-nexthop\n";
    let relay = start(
        lab,
        &[("smtp_tls_policy_maps", "texthash:$config_directory/tls_policy")],
        &[],
        &[("tls_policy", policy)],
    );
    let healthy = relay.deliver(&rcpt(lab, "healthy"), OUTCOME).await;
    assert_eq!(
        healthy.tls.as_ref().map(|t| t.kind),
        Some(TlsKind::Verified),
        "{healthy:#?}"
    );
    assert!(healthy.delivered(), "{healthy:#?}");
    // Matched by the `.lab.test` parent entry: the certificate names www.unrelated.example.
    let mismatch = relay.deliver(&rcpt(lab, "name-mismatch"), OUTCOME).await;
    assert_eq!(mismatch.status, Status::Deferred, "{mismatch:#?}");
    assert!(mismatch.logged("Server certificate not verified"), "{mismatch:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_override_and_relayhost() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let no_starttls = lab.scenario("no-starttls").unwrap().domain.clone();
    let transport = format!("{no_starttls} tls_encrypt:\n");
    // hash: exercises postmap; texthash: (used elsewhere) needs none.
    let relay = start(
        lab,
        &[("transport_maps", "hash:$config_directory/transport")],
        &[&postfix::smtp_transport(
            "tls_encrypt",
            &[("smtp_tls_security_level", "encrypt")],
        )],
        &[("hash:transport", &transport)],
    );
    let outcome = relay.deliver(&rcpt(lab, "no-starttls"), OUTCOME).await;
    assert_eq!(outcome.status, Status::Deferred, "{outcome:#?}");
    assert!(outcome.reason.contains("TLS is required"), "{outcome:#?}");
    assert!(
        outcome.session.iter().any(|l| l.starts_with("postfix/tls_encrypt/")),
        "{outcome:#?}"
    );
    drop(relay);

    // Every domain goes to the healthy MX, whatever its own MX says.
    let relay = start(lab, &[("relayhost", "[mx.healthy.lab.test]")], &[], &[]);
    let outcome = relay.deliver(&rcpt(lab, "no-starttls"), OUTCOME).await;
    assert!(outcome.relay.starts_with("mx.healthy.lab.test["), "{outcome:#?}");
    assert_eq!(
        outcome.tls.as_ref().map(|t| t.kind),
        Some(TlsKind::Trusted),
        "{outcome:#?}"
    );
}

/// One column of the ground-truth table: a TLS level as main.cf parameters and maps.
struct Level {
    name: &'static str,
    main_cf: Vec<(&'static str, &'static str)>,
    maps: Vec<(&'static str, &'static str)>,
}

fn levels() -> Vec<Level> {
    let level = |name: &'static str| Level {
        name,
        main_cf: vec![("smtp_tls_security_level", name)],
        maps: vec![],
    };
    vec![
        level("may"),
        level("encrypt"),
        level("verify"),
        Level {
            name: "secure",
            main_cf: vec![
                ("smtp_tls_security_level", "may"),
                ("smtp_tls_policy_maps", "texthash:$config_directory/tls_policy"),
            ],
            maps: vec![("tls_policy", ".lab.test secure match=nexthop:dot-nexthop\n")],
        },
    ]
}

/// The line that says most about the TLS outcome of an attempt.
fn key_line(outcome: &Outcome) -> String {
    const KEYS: &[&str] = &[
        "TLS is required",
        "Cannot start TLS",
        "certificate",
        "Server certificate not",
        "SSL_connect",
        "TLS library problem",
        "plaintext",
        "TLS connection established",
    ];
    outcome
        .session
        .iter()
        .filter(|l| !STATUS_LINE.is_match(l))
        .find(|l| KEYS.iter().any(|k| l.contains(k)))
        .map(|l| l.split_once("]: ").map_or(l.as_str(), |(_, m)| m).to_string())
        .unwrap_or_default()
}

static STATUS_LINE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"^[^:]+: [0-9A-Za-z]+: to=<").unwrap());

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "records the ground-truth table (about a minute): --ignored --nocapture record_all_scenarios"]
async fn record_all_scenarios() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let began = Instant::now();
    let relays: Vec<(&str, PostfixRelay)> = levels()
        .into_iter()
        .map(|level| (level.name, start(lab, &level.main_cf, &[], &level.maps)))
        .collect();
    let started = began.elapsed();
    // Submit everything first, so the slow scenarios (timeouts, tarpit) run concurrently.
    let mut sent = Vec::new();
    for scenario in lab.scenarios() {
        for (level, relay) in &relays {
            let to = format!("rcpt@{}", scenario.domain);
            sent.push((scenario.name.clone(), *level, relay, relay.send(&to).await));
        }
    }
    let outcomes =
        futures_util::future::join_all(sent.iter().map(|(scenario, level, relay, id)| async move {
            (scenario, level, relay.outcome(id, OUTCOME * 3).await)
        }))
        .await;
    let total = began.elapsed();

    let mut table = String::new();
    table.push_str("# What a real Postfix relay does with each lab scenario\n\n");
    table.push_str(&format!(
        "Postfix {} (`postconf mail_version`), recorded by `cargo test --test postfix_relay -- --ignored --nocapture \
         record_all_scenarios`: one private instance per level, one message per scenario and level, first delivery \
         attempt only. Levels: `may`, `encrypt`, `verify` = `smtp_tls_security_level`; `secure` = policy map entry \
         `.lab.test secure match=nexthop:dot-nexthop`. `smtp_tls_CAfile` = lab CA. `inet_protocols = ipv4`, no TLS \
         session cache, no connection cache. Timeouts: {}.\n\n",
        postconf_version(),
        postfix::TIMEOUTS
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    table.push_str(&format!(
        "4 instances started in {started:.1?}; {} messages submitted and all outcomes in {total:.1?}.\n\n",
        sent.len()
    ));
    table.push_str(
        "`verdict` reads `deliver` for `sent` and for the lab's own stop after the TLS decision (its servers take no \
         mail: 502 to MAIL FROM in cleartext, 250 instead of 354 to DATA inside TLS; Postfix bounces those with \
         5.5.x).\n\n",
    );
    table.push_str(
        "| scenario | level | verdict | status | dsn | TLS | reason | key log line |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (scenario, level, outcome) in &outcomes {
        table.push_str(&format!(
            "| {scenario} | {level} | {} | {} | {} | {} | {} | {} |\n",
            outcome.verdict(),
            outcome.status,
            outcome.dsn,
            outcome
                .tls
                .as_ref()
                .map_or("-".to_string(), |t| format!("{:?}", t.kind)),
            cell(&outcome.reason),
            cell(&key_line(outcome)),
        ));
    }
    table.push_str("\n## Full session lines\n\n");
    for (scenario, level, outcome) in &outcomes {
        table.push_str(&format!("### {scenario} @ {level}\n\n```\n"));
        for line in &outcome.session {
            table.push_str(line);
            table.push('\n');
        }
        table.push_str("```\n\n");
    }
    if !lab.skipped.is_empty() {
        table.push_str(&format!("Skipped by the lab: {}\n", lab.skipped.join("; ")));
    }
    let path = std::env::var("MXTRIAGE_POSTFIX_TABLE").unwrap_or_else(|_| "/work/postfix-observed.md".into());
    std::fs::write(&path, &table).unwrap();
    println!("{table}");
    println!("written to {path}; total {total:?}");
}

fn postconf_version() -> String {
    let out = std::process::Command::new("/usr/sbin/postconf")
        .args(["-h", "mail_version"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
