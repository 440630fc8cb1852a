//! A real Postfix relay (tests/common/postfix.rs) delivering to the lab: smoke tests
//! that prove the harness, and `record_all_scenarios`, the ground-truth table of what
//! Postfix does for every scenario at every TLS level:
//!
//! `cargo test --test postfix_relay -- --ignored --nocapture record_all_scenarios`
//! (writes the table to `$MXTRIAGE_POSTFIX_TABLE`, default /work/postfix-observed.md).
//!
//! The lab's DNS listens on 127.77.0.1:53 here (Postfix's resolver only asks port 53):
//! tests take turns on it through [`postfix::lab_on_port_53`].
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

#[path = "common/postfix.rs"]
mod postfix;

use std::time::{Duration, Instant};

use mxtriage::engine::Settings;
use mxtriage::lab::Lab;
use mxtriage::relay::RelaySource;
use postfix::{Outcome, PostfixRelay, Status, TlsKind, lab_on_port_53 as lab};

/// How long one message may take: the slowest single attempt is a 10 s timeout per MX.
const OUTCOME: Duration = Duration::from_secs(60);

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

/// Scenarios tested one level after another, each message deleted after its first attempt:
/// OpenSSL's s_server serves one connection at a time, and `flaky` alternates per connection.
fn serial(scenario: &str) -> bool {
    scenario.starts_with("openssl-") || scenario == "flaky"
}

/// Where what Postfix does is a draw, not something to predict: it shuffles the
/// addresses of one MX host (`smtp_randomize_addresses = yes`), and the mixed pool's
/// addresses differ in the session they give a relay that does not verify (a trusted
/// chain for another name is "Trusted", the self-signed and incomplete ones are
/// "Untrusted"). Under `verify` and `secure` every address defers, so those agree.
fn drawn(scenario: &str, level: &str) -> bool {
    scenario == "mixed-pool" && matches!(level, "may" | "encrypt")
}

/// Retries within seconds, so the table shows a deferred message's second attempt too
/// (at `may`, Postfix retries a failed TLS handshake in plaintext only once the message
/// has waited `minimal_backoff_time`).
const RETRY: &[(&str, &str)] = &[
    ("queue_run_delay", "3s"),
    ("minimal_backoff_time", "5s"),
    ("maximal_backoff_time", "10s"),
];

/// The verdict, with the OpenSSL scenarios' own stop marked: s_server completes the
/// handshake but does not speak SMTP, so Postfix times out at the EHLO inside TLS.
fn verdict(scenario: &str, outcome: &Outcome) -> String {
    match &outcome.tls {
        Some(tls)
            if scenario.starts_with("openssl-")
                && outcome.reason.contains("timed out while performing the EHLO handshake") =>
        {
            format!("deliver ({:?} TLS)†", tls.kind)
        }
        _ => outcome.verdict(),
    }
}

struct Row {
    scenario: usize,
    level: usize,
    first: Outcome,
    retry: Option<Outcome>,
    /// From submission to the first attempt's status.
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "records the ground-truth table (about a minute): --ignored --nocapture record_all_scenarios"]
async fn record_all_scenarios() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let began = Instant::now();
    let levels = levels();
    let relays: Vec<PostfixRelay> = levels
        .iter()
        .map(|level| {
            let main_cf: Vec<_> = RETRY.iter().copied().chain(level.main_cf.iter().copied()).collect();
            start(lab, &main_cf, &[], &level.maps)
        })
        .collect();
    let started = began.elapsed();
    let scenarios = lab.scenarios();
    let relays = &relays;

    // Everything but the serial scenarios at once: the slow ones (timeouts, tarpit) overlap.
    let batch = futures_util::future::join_all(
        scenarios
            .iter()
            .enumerate()
            .filter(|(_, s)| !serial(&s.name))
            .flat_map(|(si, s)| relays.iter().enumerate().map(move |(li, relay)| (si, s, li, relay)))
            .map(|(si, s, li, relay)| async move {
                let sent = Instant::now();
                let id = relay.send(&format!("rcpt@{}", s.domain)).await;
                let first = relay.outcome(&id, OUTCOME).await;
                let took = sent.elapsed();
                let retry = if first.status == Status::Deferred {
                    relay.attempts(&id, 2, OUTCOME).await.into_iter().nth(1)
                } else {
                    None
                };
                Row {
                    scenario: si,
                    level: li,
                    first,
                    retry,
                    took,
                }
            }),
    );
    let serial_rows =
        futures_util::future::join_all(scenarios.iter().enumerate().filter(|(_, s)| serial(&s.name)).map(
            |(si, s)| async move {
                let mut rows = Vec::new();
                for (li, relay) in relays.iter().enumerate() {
                    let sent = Instant::now();
                    let id = relay.send(&format!("rcpt@{}", s.domain)).await;
                    let first = relay.outcome(&id, OUTCOME).await;
                    let took = sent.elapsed();
                    relay.delete(&id);
                    rows.push(Row {
                        scenario: si,
                        level: li,
                        first,
                        retry: None,
                        took,
                    });
                }
                rows
            },
        ));
    let (mut rows, serial_rows) = tokio::join!(batch, serial_rows);
    rows.extend(serial_rows.into_iter().flatten());
    rows.sort_by_key(|r| (r.scenario, r.level));
    let total = began.elapsed();
    let mut took: Vec<Duration> = rows.iter().map(|r| r.took).collect();
    took.sort();

    let mut table = String::new();
    table.push_str("# What a real Postfix relay does with each lab scenario\n\n");
    table.push_str(&format!(
        "Postfix {} (`postconf mail_version`), recorded by `cargo test --test postfix_relay -- --ignored --nocapture \
         record_all_scenarios`: one private instance per level (its own config, queue and log; `smtp` chrooted with \
         `etc/resolv.conf` = the lab DNS on 127.77.0.1:53, `smtp_tcp_port` = the lab port), one message per scenario \
         and level. Levels: `may`, `encrypt`, `verify` = `smtp_tls_security_level`; `secure` = `smtp_tls_policy_maps` \
         entry `.lab.test secure match=nexthop:dot-nexthop` (main level `may`). `smtp_tls_CAfile` = the lab CA, \
         `smtp_tls_loglevel = 1`, `inet_protocols = ipv4`, no TLS session cache, no connection cache, \
         `compatibility_level = 3.6`.\n\nTimeouts: {}. Retries: {}.\n\n",
        postconf_version(),
        pairs(postfix::TIMEOUTS),
        pairs(RETRY),
    ));
    table.push_str(&format!(
        "Timing: 4 instances started in {started:.1?}; {} messages, all first attempts in {total:.1?} (second \
         attempts included). Submission to first status, per message: min {:.2?}, median {:.2?}, max {:.2?}.\n\n",
        rows.len(),
        took[0],
        took[took.len() / 2],
        took[took.len() - 1],
    ));
    table.push_str(
        "`verdict` is the first attempt. It reads `deliver` for `sent` and for the lab's own stop after the TLS \
         decision: its servers take no mail (502 to MAIL FROM in cleartext, 250 instead of 354 to DATA inside TLS) \
         and Postfix bounces those 5.5.x, so `status` says bounced. † = the OpenSSL s_server peer completed the \
         handshake but does not speak SMTP: Postfix timed out at the EHLO inside TLS. `2nd attempt` is the retry of a \
         deferred message (after `minimal_backoff_time`); `[after «...»]` = a session failure Postfix logged with the \
         queue id and recovered from in the same attempt (plaintext retry at `may`, next MX); `-` = none (not deferred, or a serial scenario: \
         openssl-* and flaky go one level at a time, deleted after the first attempt, because s_server takes one \
         connection at a time and flaky alternates per connection: its connections here were may, encrypt, verify, \
         secure in that order).\n\n",
    );
    table.push_str(
        "| scenario | level | verdict | status | dsn | TLS | reason | key log line | 2nd attempt |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for row in &rows {
        let (scenario, level, outcome) = (&scenarios[row.scenario].name, levels[row.level].name, &row.first);
        let retry = row.retry.as_ref().map_or("-".to_string(), |r| {
            format!(
                "{} ({} {}{}){}: {}",
                verdict(scenario, r),
                r.status,
                r.dsn,
                r.tls.as_ref().map_or(String::new(), |t| format!(", {:?} TLS", t.kind)),
                recovered(r),
                r.reason
            )
        });
        table.push_str(&format!(
            "| {scenario} | {level} | {} | {} | {} | {} | {} | {} | {} |\n",
            verdict(scenario, outcome),
            outcome.status,
            outcome.dsn,
            outcome
                .tls
                .as_ref()
                .map_or("-".to_string(), |t| format!("{:?}", t.kind)),
            cell(&format!("{}{}", outcome.reason, recovered(outcome))),
            cell(&key_line(outcome)),
            cell(&retry),
        ));
    }
    table.push_str("\n## Full session lines\n\nEvery line the delivering smtp process logged for the attempt.\n\n");
    for row in &rows {
        let (scenario, level) = (&scenarios[row.scenario].name, levels[row.level].name);
        for (n, outcome) in std::iter::once(&row.first).chain(&row.retry).enumerate() {
            table.push_str(&format!("### {scenario} @ {level}, attempt {}\n\n```\n", n + 1));
            for line in &outcome.session {
                table.push_str(line);
                table.push('\n');
            }
            table.push_str("```\n\n");
        }
    }
    if !lab.skipped.is_empty() {
        table.push_str(&format!("Skipped by the lab: {}\n", lab.skipped.join("; ")));
    }
    let path = std::env::var("MXTRIAGE_POSTFIX_TABLE").unwrap_or_else(|_| "/work/postfix-observed.md".into());
    std::fs::write(&path, &table).unwrap();
    println!("{table}");
    println!("written to {path}; total {total:?}");
}

/// ` after «failure»; «failure»` for the sessions an attempt recovered from, or nothing.
fn recovered(outcome: &Outcome) -> String {
    if outcome.recovered.is_empty() {
        return String::new();
    }
    let list: Vec<String> = outcome.recovered.iter().map(|r| format!("«{r}»")).collect();
    format!(" [after {}]", list.join("; "))
}

fn pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("`{k} = {v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn postconf_version() -> String {
    let out = std::process::Command::new("/usr/sbin/postconf")
        .args(["-h", "mail_version"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The trust stores a check of the lab uses: the system's and Mozilla's, plus the lab CA
/// as `--ca-file` (written to a directory of its own, read, removed).
fn lab_stores(lab: &Lab) -> std::sync::Arc<mxtriage::cert::TrustStores> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mxtriage-relay-ca-{}-{n}", std::process::id()));
    let ca_file = lab.write_ca_file(&dir).unwrap();
    let stores = mxtriage::cert::TrustStores::load(Some(&ca_file)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    std::sync::Arc::new(stores)
}

/// What a relay did or is predicted to do, in the terms both sides share.
fn category(outcome: mxtriage::relay::Outcome) -> String {
    use mxtriage::relay::{Delivery, Outcome as O};
    match outcome {
        O::Deliver(Delivery::Cleartext) => "deliver (cleartext)".into(),
        O::Deliver(kind) => format!("deliver ({kind:?} TLS)"),
        O::Defer => "defer".into(),
        O::Bounce => "bounce".into(),
        O::NotTried => "not tried".into(),
    }
}

/// mxtriage's prediction for `domain`, reading the configuration of `relay`.
async fn predict(
    lab: &Lab,
    relay: &PostfixRelay,
    domain: &str,
    stores: &std::sync::Arc<mxtriage::cert::TrustStores>,
) -> (String, String) {
    let mut settings = lab.settings(domain);
    // The relay asks the lab's main DNS (port 53), as this Postfix does.
    settings.nameservers = vec![lab.dns];
    settings.policy.enabled = false;
    settings.relay = mxtriage::relay::RelaySource::Postfix {
        config_dir: Some(relay.config_dir().to_path_buf()),
    };
    let target = mxtriage::target::Target::Domain { name: domain.into() };
    let report = mxtriage::engine::run(&settings.options(target, std::sync::Arc::clone(stores)), &())
        .await
        .expect("check runs");
    let prediction = mxtriage::relay::predict::predict(&report).expect("the relay was read");
    (category(prediction.outcome), prediction.log)
}

/// The strongest test of knowing the relay: for every lab scenario, at `may`, `encrypt`,
/// `verify` and `secure` (a `.lab.test` policy-map entry for the parent domain), one
/// message goes through a real Postfix, and mxtriage, reading that Postfix's own
/// configuration, must predict what it did: deliver (and the TLS kind), defer or bounce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prediction_matches_postfix_for_every_scenario() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let stores = lab_stores(lab);
    // `flaky` alternates per connection, so the check and the relay see different servers.
    let scenarios: Vec<String> = lab
        .scenarios()
        .iter()
        .map(|s| s.name.clone())
        .filter(|name| name != "flaky")
        .collect();
    // The four levels run at once, each with its own Postfix; within a level the
    // OpenSSL peers go one at a time (s_server serves one connection after another).
    let levels = levels();
    let relays: Vec<PostfixRelay> = levels
        .iter()
        .map(|level| start(lab, &level.main_cf, &[], &level.maps))
        .collect();
    let per_level = levels.iter().zip(&relays).map(|(level, relay)| {
        let (scenarios, stores) = (&scenarios, &stores);
        let scenarios: Vec<String> = scenarios
            .iter()
            .filter(|name| !drawn(name, level.name))
            .cloned()
            .collect();
        async move {
            let scenarios = &scenarios;
            let one = |name: String| async move {
                let domain = lab.scenario(&name).unwrap().domain.clone();
                let (predicted, log) = predict(lab, relay, &domain, stores).await;
                let did = relay.deliver(&rcpt(lab, &name), OUTCOME).await;
                (level.name, name, predicted, log, did.verdict(), did.reason)
            };
            let (serial_ones, parallel): (Vec<String>, Vec<String>) =
                scenarios.iter().cloned().partition(|s| serial(s));
            let mut results = futures_util::future::join_all(parallel.into_iter().map(one)).await;
            for name in serial_ones {
                results.push(one(name).await);
            }
            results
        }
    });
    let rows: Vec<_> = futures_util::future::join_all(per_level)
        .await
        .into_iter()
        .flatten()
        .collect();
    drop(relays);
    let mut table =
        String::from("| scenario | level | Postfix did | mxtriage predicted | agree |\n|---|---|---|---|---|\n");
    let mut disagree = Vec::new();
    for (level, name, predicted, log, did, reason) in &rows {
        let agree = predicted == did;
        table.push_str(&format!(
            "| {name} | {level} | {did} | {predicted} | {} |\n",
            if agree { "yes" } else { "NO" }
        ));
        if !agree {
            disagree.push(format!(
                "{name} @ {level}: Postfix {did} ({reason}); predicted {predicted} ({log})"
            ));
        }
    }
    eprintln!("{table}");
    if let Ok(path) = std::env::var("MXTRIAGE_AGREEMENT_TABLE") {
        std::fs::write(path, &table).unwrap();
    }
    assert!(
        disagree.is_empty(),
        "{} of {} disagree:\n{}",
        disagree.len(),
        rows.len(),
        disagree.join("\n")
    );
}

/// A transport override and a relayhost: mxtriage follows the route the relay would
/// take (the `-o` level of the transport; the relayhost instead of the MX hosts) and
/// predicts what this Postfix then does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prediction_follows_a_transport_override_and_a_relayhost() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let stores = lab_stores(lab);
    let no_starttls = lab.scenario("no-starttls").unwrap().domain.clone();
    let relay = start(
        lab,
        &[("transport_maps", "hash:$config_directory/transport")],
        &[&postfix::smtp_transport(
            "tls_encrypt",
            &[("smtp_tls_security_level", "encrypt")],
        )],
        &[("hash:transport", &format!("{no_starttls} tls_encrypt:\n"))],
    );
    let (predicted, log) = predict(lab, &relay, &no_starttls, &stores).await;
    let did = relay.deliver(&rcpt(lab, "no-starttls"), OUTCOME).await;
    assert_eq!(predicted, did.verdict(), "{log} / {}", did.reason);
    assert_eq!(predicted, "defer");
    assert!(
        log.contains("TLS is required, but was not offered by host mx.no-starttls.lab.test["),
        "{log}"
    );
    // The level came from the transport's -o override, found through the transport table.
    let settings = Settings {
        relay: RelaySource::Postfix {
            config_dir: Some(relay.config_dir().to_path_buf()),
        },
        ..lab.settings(&no_starttls)
    };
    let view = mxtriage::relay::read(&settings.relay, &no_starttls).await.unwrap();
    let route = view.route.as_ref().unwrap();
    assert_eq!(route.transport, "tls_encrypt");
    assert!(matches!(route.origin, mxtriage::relay::Origin::Map { .. }), "{route:?}");
    let policy = view.policy.as_ref().unwrap();
    assert_eq!(policy.level, mxtriage::relay::Level::Encrypt);
    assert!(
        matches!(&policy.level_origin, mxtriage::relay::Origin::Service { service, .. } if service == "tls_encrypt"),
        "{policy:?}"
    );
    drop(relay);

    // A relayhost takes all mail: the no-STARTTLS domain goes through the healthy MX.
    let relay = start(lab, &[("relayhost", "[mx.healthy.lab.test]")], &[], &[]);
    let (predicted, log) = predict(lab, &relay, &no_starttls, &stores).await;
    let did = relay.deliver(&rcpt(lab, "no-starttls"), OUTCOME).await;
    assert_eq!(predicted, did.verdict(), "{log} / {}", did.reason);
    assert_eq!(predicted, "deliver (Trusted TLS)");
    assert!(log.contains("mx.healthy.lab.test["), "{log}");
}

/// The check behind a verdict, with the relay read from `relay`.
async fn session(lab: &Lab, relay: &PostfixRelay, scenario: &str) -> mxtriage::report::Session {
    let domain = lab.scenario(scenario).unwrap().domain.clone();
    let mut settings = lab.settings(&domain);
    settings.nameservers = vec![lab.dns];
    settings.relay = RelaySource::Postfix {
        config_dir: Some(relay.config_dir().to_path_buf()),
    };
    let stores = lab_stores(lab);
    let target = mxtriage::target::Target::Domain { name: domain };
    let report = mxtriage::engine::run(&settings.options(target, stores), &())
        .await
        .unwrap();
    mxtriage::report::Session::new(report, Default::default()).unwrap()
}

/// Healthy servers, but a policy entry that demands a name no certificate carries:
/// the relay's own policy is the cause, and the verdict says so (it used to say
/// "STARTTLS works on every address"). Under `verify`, an expired certificate gets a
/// workaround in the relay's own policy table, applied with the instance's reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relays_own_policy_decides_owner_and_workaround() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let relay = start(
        lab,
        &[("smtp_tls_policy_maps", "texthash:$config_directory/tls_policy")],
        &[],
        &[("tls_policy", "healthy.lab.test secure match=elsewhere.example\n")],
    );
    let healthy = session(lab, &relay, "healthy").await;
    let did = relay.deliver(&rcpt(lab, "healthy"), OUTCOME).await;
    assert_eq!(did.verdict(), "defer", "{did:#?}");
    let verdict = &healthy.verdict;
    assert_eq!(verdict.id, "sender-policy-strict", "{verdict:#?}");
    assert_eq!(verdict.owner, mxtriage::diagnose::Owner::Sender);
    let prediction = verdict.relay.as_ref().unwrap();
    assert_eq!(prediction.outcome, mxtriage::relay::Outcome::Defer);
    assert_eq!(prediction.log, "Server certificate not verified");
    assert_eq!(healthy.exit_code(), 1);
    drop(relay);

    let relay = start(
        lab,
        &[
            ("smtp_tls_security_level", "verify"),
            ("smtp_tls_policy_maps", "texthash:$config_directory/tls_policy"),
        ],
        &[],
        &[("tls_policy", "example.invalid encrypt\n")],
    );
    let expired = session(lab, &relay, "expired").await;
    assert_eq!(expired.verdict.id, "cert-expired-verdict");
    let workaround = expired.verdict.workaround.as_ref().expect("a workaround");
    let map = relay.config_dir().join("tls_policy");
    assert!(
        workaround.postfix.contains(&map.display().to_string()),
        "{}",
        workaround.postfix
    );
    assert!(
        workaround
            .postfix
            .contains(&format!("postfix -c {} reload", relay.config_dir().display())),
        "{}",
        workaround.postfix
    );
    assert!(
        workaround.postfix.contains("expired.lab.test    encrypt"),
        "{}",
        workaround.postfix
    );
    // Under `may` the same certificate blocks nothing: no workaround, exit 0.
    drop(relay);
    let relay = start(lab, &[], &[], &[]);
    let may = session(lab, &relay, "expired").await;
    assert_eq!(may.verdict.id, "cert-not-blocking");
    assert!(may.verdict.workaround.is_none());
    assert_eq!(may.exit_code(), 0);
}

/// At `may`, a failed handshake defers new mail, and mail that waited
/// `minimal_backoff_time` goes out in cleartext on the next attempt: the prediction
/// says both, and the real Postfix does both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mail_is_retried_in_plaintext_as_predicted() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let relay = start(lab, RETRY, &[], &[]);
    let domain = lab.scenario("close-after-220").unwrap().domain.clone();
    let stores = lab_stores(lab);
    let settings = Settings {
        nameservers: vec![lab.dns],
        relay: RelaySource::Postfix {
            config_dir: Some(relay.config_dir().to_path_buf()),
        },
        ..lab.settings(&domain)
    };
    let target = mxtriage::target::Target::Domain { name: domain };
    let report = mxtriage::engine::run(&settings.options(target, stores), &())
        .await
        .unwrap();
    let prediction = mxtriage::relay::predict::predict(&report).unwrap();
    assert_eq!(category(prediction.outcome), "defer");
    assert_eq!(prediction.log, "Cannot start TLS: handshake failure");
    assert_eq!(prediction.queued.map(category).as_deref(), Some("deliver (cleartext)"));
    let id = relay.send(&rcpt(lab, "close-after-220")).await;
    let attempts = relay.attempts(&id, 2, OUTCOME).await;
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert_eq!(attempts[0].verdict(), "defer", "{attempts:#?}");
    assert_eq!(attempts[1].verdict(), "deliver (cleartext)", "{attempts:#?}");
}

/// A server that wants SNI: the probe (which sends the MX name) gets through, the real
/// Postfix (no smtp_tls_servername: no SNI) fails its handshake, and the verdict names
/// the missing server name rather than blaming either side's TLS versions; with
/// `smtp_tls_servername = hostname` the same relay delivers, as predicted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_wants_sni_fails_a_relay_that_sends_none() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let relay = start(lab, &[], &[], &[]);
    let verdict = session(lab, &relay, "sni-required").await.verdict;
    let did = relay.deliver(&rcpt(lab, "sni-required"), OUTCOME).await;
    assert_eq!(did.verdict(), "defer", "{did:#?}");
    assert_eq!(verdict.id, "server-requires-sni", "{verdict:#?}");
    assert_eq!(
        verdict.relay.as_ref().map(|p| category(p.outcome)).as_deref(),
        Some("defer")
    );
    drop(relay);
    let relay = start(lab, &[("smtp_tls_servername", "hostname")], &[], &[]);
    let verdict = session(lab, &relay, "sni-required").await.verdict;
    let did = relay.deliver(&rcpt(lab, "sni-required"), OUTCOME).await;
    assert_eq!(did.verdict(), "deliver (Trusted TLS)", "{did:#?}");
    assert_eq!(
        verdict.relay.as_ref().map(|p| category(p.outcome)).as_deref(),
        Some("deliver (Trusted TLS)")
    );
}

/// Postfix shuffles the addresses of equal preference and tries at most
/// `smtp_mx_address_limit` of them, so where only some addresses deliver, each attempt
/// is a draw. With a limit of 1 and a policy that only the six "other name" certificates
/// of the mixed pool satisfy, 6 of mx01's 8 addresses deliver: about 75% of first
/// attempts, as predicted. (The connection cache is off so every message draws afresh.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_that_delivers_from_some_addresses_is_a_draw_as_predicted() {
    let Some(turn) = lab().await else { return };
    let lab = &turn.lab;
    let domain = lab.scenario("mixed-pool").expect("scenario").domain.clone();
    let policy = format!("{domain} verify match=www.unrelated.example\n");
    let relay = start(
        lab,
        &[
            ("smtp_mx_address_limit", "1"),
            ("smtp_connection_cache_on_demand", "no"),
            ("smtp_tls_policy_maps", "texthash:$config_directory/tls_policy"),
        ],
        &[],
        &[("tls_policy", &policy)],
    );
    let session = session(lab, &relay, "mixed-pool").await;
    let prediction = session.verdict.relay.as_ref().expect("a prediction");
    let chance = prediction.chance.as_ref().expect("a draw");
    assert_eq!(
        (chance.percent, chance.delivering, chance.addresses, chance.limit),
        (75, 6, 8, 1),
        "{prediction:#?}"
    );
    assert!(prediction.outcome.delivers(), "{prediction:#?}");
    assert_eq!(chance.failing_log, "Server certificate not verified");
    // Mail that gets through only on some attempts is not healthy, and the report says
    // what the verdict does to it.
    assert_eq!(session.exit_code(), 1);
    // Each address is listed once, whatever number of MX names list it.
    assert_eq!(prediction.addresses.len(), 8, "{:#?}", prediction.addresses);
    let said = mxtriage::report::relay::prediction(prediction, &session.verdict).join("\n");
    assert!(
        said.contains("about 75% of attempts deliver") && said.contains("holds some of this relay's mail back"),
        "{said}"
    );

    const MESSAGES: usize = 40;
    let mut ids = Vec::new();
    for _ in 0..MESSAGES {
        ids.push(relay.send(&format!("rcpt@{domain}")).await);
    }
    let mut delivered = 0;
    for id in &ids {
        let outcome = relay.outcome(id, OUTCOME).await;
        match outcome.verdict().as_str() {
            "defer" => assert!(outcome.logged(&chance.failing_log), "{outcome:#?}"),
            _ if outcome.delivered() => delivered += 1,
            other => panic!("{other}: {outcome:#?}"),
        }
        relay.delete(id);
    }
    eprintln!(
        "{delivered} of {MESSAGES} delivered on the first attempt; predicted {}%",
        chance.percent
    );
    // Binomial(40, 0.75): outside 20..=39 about once in ten thousand runs.
    assert!(
        (20..MESSAGES).contains(&delivered),
        "{delivered} of {MESSAGES} delivered on the first attempt; predicted {}%",
        chance.percent
    );
}
