//! The relay's deferred queue and log: from output recorded on a private Postfix
//! 3.7.11 instance (tests/fixtures/postfix/), and against a real private Postfix
//! (tests/common/postfix.rs) deferring mail for lab scenarios, read by the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

#[path = "common/postfix.rs"]
mod postfix;

use std::process::Command;

use mxtriage::relay::postfix::log::{self, Destination};
use mxtriage::relay::postfix::queue;

const LISTING: &str = include_str!("fixtures/postfix/postqueue-j.jsonl");
const MAILLOG: &str = include_str!("fixtures/postfix/maillog.txt");
/// A second after the last recorded message arrived.
const RECORDED_AT: i64 = 1_795_975_436;

#[test]
fn recorded_postqueue_listing_groups_deferred_mail_by_destination() {
    let (messages, unparsed) = queue::parse(LISTING);
    assert_eq!(unparsed, 0);
    assert_eq!(messages.len(), 5);
    let grouped = queue::group_deferred(&messages, RECORDED_AT);
    let rows: Vec<(&str, usize, u64)> = grouped
        .iter()
        .map(|d| (d.domain.as_str(), d.messages, d.oldest_age_secs))
        .collect();
    // Most messages first, then the longest waiting. bob@Example.NET joins example.net; carol@example.org is on hold, not deferred,
    // while frank@example.org shares a deferred message with erin@example.net.
    assert_eq!(
        rows,
        [("example.net", 3, 5), ("mixed.example", 1, 2), ("example.org", 1, 1)]
    );
    assert_eq!(grouped[0].last_recipient, "erin@example.net");
    assert_eq!(
        grouped[0].last_reason.as_deref(),
        Some("connect to 127.0.0.1[127.0.0.1]:9: Connection refused")
    );
    assert_eq!(grouped[0].queue_ids, ["2F1799A6105", "312D69A629F", "38E289A621B"]);
}

#[test]
fn a_recorded_delay_reason_goes_through_the_intake_as_a_paste() {
    let (messages, _) = queue::parse(LISTING);
    let grouped = queue::group_deferred(&messages, RECORDED_AT);
    let found = mxtriage::intake::extract(&grouped[0].as_pasted()).unwrap();
    assert_eq!(found.domain.as_deref(), Some("example.net"));
    assert_eq!(found.address, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(found.port, Some(9));
}

#[test]
fn recorded_log_lines_for_a_destination_come_newest_first() {
    let dest = Destination::new("example.net", &[]);
    let lines = log::matching(MAILLOG, &dest, log::MAX_LINES);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l.process == "postfix/smtp"), "{lines:#?}");
    let ids: Vec<&str> = lines.iter().filter_map(|l| l.queue_id.as_deref()).collect();
    // erin's (38E289A621B) attempt was logged last, alice's (2F1799A6105) first.
    assert_eq!(ids.first(), Some(&"38E289A621B"));
    assert_eq!(ids.last(), Some(&"2F1799A6105"));
    assert!(lines.iter().all(|l| l.status() == Some("deferred")));
    // By MX host instead: the connect lines without a recipient are found too.
    let by_host = log::matching(MAILLOG, &Destination::new("none.example", &["127.0.0.1".into()]), 3);
    assert_eq!(by_host.len(), 3);
}

#[test]
fn at_most_the_line_limit_is_returned() {
    let many = MAILLOG.repeat(40);
    let lines = log::matching(&many, &Destination::new("example.net", &[]), log::MAX_LINES);
    assert_eq!(lines.len(), log::MAX_LINES);
}

#[test]
fn an_unreadable_queue_exits_3_with_the_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_mxtriage"))
        .env("MXTRIAGE_CONFIG", "")
        .args(["queue", "--postfix-config", "/nonexistent/mxtriage-test"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("not installed") {
        eprintln!("SKIPPED: Postfix is not installed");
        return;
    }
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("main.cf"), "{stderr}");
}

#[test]
fn flush_without_yes_is_a_usage_error_and_asks_nothing() {
    let out = Command::new(env!("CARGO_BIN_EXE_mxtriage"))
        .env("MXTRIAGE_CONFIG", "")
        .args([
            "queue",
            "--postfix-config",
            "/nonexistent/mxtriage-test",
            "--flush",
            "example.net",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
}

// ---- The Intake screen's list of deferred destinations --------------------------------

mod intake_screen {
    use mxtriage::engine::Settings;
    use mxtriage::relay::postfix::queue::{self, DeferredQueue};
    use mxtriage::target::Target;
    use mxtriage::tui::app::{App, Command, Event, IntakeFocus, RelayQueue, Screen};
    use mxtriage::tui::view;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::{LISTING, RECORDED_AT};

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn recorded_queue() -> RelayQueue {
        let (messages, _) = queue::parse(LISTING);
        RelayQueue::Read(DeferredQueue {
            destinations: queue::group_deferred(&messages, RECORDED_AT),
            messages: 4,
            truncated: false,
            unparsed_lines: 0,
        })
    }

    fn screen_text(app: &App) -> String {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(|frame| view::render(frame, app)).unwrap();
        let buffer = terminal.backend().buffer();
        let width = usize::from(buffer.area.width);
        buffer
            .content()
            .chunks(width)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_workbench_asks_for_the_relay_queue_at_start_but_the_demo_does_not() {
        let app = App::new(Settings::default(), Vec::new());
        assert!(matches!(app.start_up().as_slice(), [Command::ReadRelayQueue(None)]));
    }

    #[test]
    fn deferred_destinations_are_listed_first_and_enter_triages_the_picked_one() {
        let mut app = App::new(Settings::default(), Vec::new());
        assert!(app.update(Event::RelayQueue(recorded_queue())).is_empty());
        assert_eq!(app.intake.focus, IntakeFocus::Queue);
        let text = screen_text(&app);
        let list = text.find("> example.net").expect("the list is drawn");
        let paste = text.find("paste a bounce").expect("the paste box is drawn");
        assert!(list < paste, "the list comes above the paste box:\n{text}");

        app.update(key(KeyCode::Down));
        let commands = app.update(key(KeyCode::Enter));
        let Some(Command::Start { target, .. }) = commands.first() else {
            panic!("Enter starts triage: {commands:?}");
        };
        assert_eq!(*target, Target::parse("mixed.example").unwrap());
        assert_eq!(app.screen, Screen::Triage);
        // The reason went through the paste box and the intake, as a paste would.
        assert_eq!(
            app.intake.paste.lines().join("\n"),
            "<dave@mixed.example>: connect to 127.0.0.1[127.0.0.1]:9: Connection refused"
        );
        let found = app.intake.extracted.as_ref().unwrap();
        assert_eq!(found.address, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn pasting_still_works_beside_the_list() {
        let mut app = App::new(Settings::default(), Vec::new());
        app.update(Event::RelayQueue(recorded_queue()));
        app.update(Event::Paste(
            "Mar  3 10:00:01 mail postfix/smtp[4242]: 4QxYz1AbCd: to=<user@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=3601, delays=3600/0.01/0.4/0, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)".into(),
        ));
        assert_eq!(app.intake.focus, IntakeFocus::Paste);
        assert_eq!(
            app.intake.extracted.as_ref().unwrap().domain.as_deref(),
            Some("example.com")
        );
    }

    #[test]
    fn an_unreadable_queue_is_one_line_saying_why_and_no_postfix_is_silence() {
        let mut app = App::new(Settings::default(), Vec::new());
        app.update(Event::RelayQueue(RelayQueue::Unreadable(
            "postqueue -j: the Postfix mail system is not running".into(),
        )));
        assert_eq!(app.intake.focus, IntakeFocus::Paste);
        let text = screen_text(&app);
        assert!(
            text.contains("relay queue not read: postqueue -j: the Postfix mail system"),
            "{text}"
        );

        let mut quiet = App::new(Settings::default(), Vec::new());
        quiet.update(Event::RelayQueue(RelayQueue::NoPostfix));
        let text = screen_text(&quiet);
        assert!(!text.contains("relay queue"), "{text}");
    }
}

// ---- Against a real private Postfix ---------------------------------------------------

mod real_postfix {
    use std::process::Command;
    use std::time::Duration;

    use mxtriage::relay::postfix::log::{self, LogSource};
    use mxtriage::relay::postfix::queue::{self, FlushMethod};

    use super::postfix::{PostfixRelay, Status, Turn, lab_on_port_53 as lab};

    /// The slowest attempt here is a refused STARTTLS: well under this.
    const OUTCOME: Duration = Duration::from_secs(60);

    /// A relay that requires TLS, with mail deferred for `no-starttls` (`count`
    /// messages) and `starttls-454` (one); returns the relay, the two domains and the
    /// no-starttls queue ids in submission order.
    async fn deferring(
        turn: &Turn,
        count: usize,
        main_cf: &[(&str, &str)],
    ) -> (PostfixRelay, String, String, Vec<String>) {
        let mut settings = vec![("smtp_tls_security_level", "encrypt")];
        settings.extend_from_slice(main_cf);
        let relay = PostfixRelay::start(&turn.lab, &PostfixRelay::temp_base(), &settings, &[], &[]);
        let no_tls = turn.lab.scenario("no-starttls").unwrap().domain.clone();
        let refused = turn.lab.scenario("starttls-454").unwrap().domain.clone();
        let mut ids = Vec::new();
        for n in 0..count {
            let id = relay.send(&format!("rcpt{n}@{no_tls}")).await;
            assert_eq!(relay.outcome(&id, OUTCOME).await.status, Status::Deferred);
            ids.push(id);
        }
        let id = relay.send(&format!("rcpt@{refused}")).await;
        assert_eq!(relay.outcome(&id, OUTCOME).await.status, Status::Deferred);
        (relay, no_tls, refused, ids)
    }

    fn mxtriage_queue(relay: &PostfixRelay, extra: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_mxtriage"))
            .env("MXTRIAGE_CONFIG", "")
            .args(["queue", "--postfix-config"])
            .arg(relay.config_dir())
            .args(extra)
            .output()
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deferred_mail_appears_grouped_in_queue_json() {
        let Some(turn) = lab().await else { return };
        let (relay, no_tls, refused, ids) = deferring(&turn, 2, &[]).await;
        let out = mxtriage_queue(&relay, &["--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["messages"], 3);
        let first = &v["destinations"][0];
        assert_eq!(first["domain"], no_tls.as_str());
        assert_eq!(first["messages"], 2);
        let mut listed: Vec<String> = serde_json::from_value(first["queue_ids"].clone()).unwrap();
        let mut sent = ids.clone();
        listed.sort();
        sent.sort();
        assert_eq!(listed, sent);
        let reason = first["last_reason"].as_str().unwrap();
        assert!(
            reason.contains("TLS is required, but was not offered by host"),
            "{reason}"
        );
        assert_eq!(v["destinations"][1]["domain"], refused.as_str());

        // The text form: one aligned line per destination.
        let out = mxtriage_queue(&relay, &[]);
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].starts_with(&no_tls) && lines[1].starts_with(&refused),
            "{text}"
        );
        assert_eq!(lines[0].find(" msg"), lines[1].find(" msg"), "aligned:\n{text}");

        // The real reason, read as a paste, names the destination and the MX host.
        let queue = queue::deferred(Some(relay.config_dir())).await.unwrap();
        let found = mxtriage::intake::extract(&queue.destinations[0].as_pasted()).unwrap();
        assert_eq!(found.domain.as_deref(), Some(no_tls.as_str()));
        let mx = &turn.lab.scenario("no-starttls").unwrap().servers[0].0;
        assert_eq!(found.mx_host.as_deref(), Some(mx.trim_end_matches('.')));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn log_lines_for_the_destination_are_found_newest_first() {
        let Some(turn) = lab().await else { return };
        let (relay, no_tls, _, ids) = deferring(&turn, 2, &[]).await;
        let mx: Vec<String> = turn
            .lab
            .scenario("no-starttls")
            .unwrap()
            .servers
            .iter()
            .map(|s| s.0.clone())
            .collect();
        let excerpt = log::recent(&no_tls, &mx, Some(relay.config_dir())).await.unwrap();
        assert_eq!(
            excerpt.source,
            LogSource::File {
                path: relay.log_path().to_path_buf()
            }
        );
        assert!(!excerpt.tail_only);
        let statuses: Vec<&str> = excerpt
            .lines
            .iter()
            .filter(|l| l.status().is_some())
            .filter_map(|l| l.queue_id.as_deref())
            .collect();
        // Newest first: the second message's attempt, then the first's; nothing of the
        // other destination.
        assert_eq!(statuses, [ids[1].as_str(), ids[0].as_str()], "{excerpt:#?}");
        assert!(excerpt.lines.iter().all(|l| !l.message.contains("starttls-454")));
        assert!(excerpt.lines.len() <= log::MAX_LINES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flush_of_a_destination_causes_a_new_attempt_visible_in_the_log() {
        let Some(turn) = lab().await else { return };
        // fast_flush_domains defaults to $relay_domains, empty here: -i per message.
        let (relay, no_tls, refused, ids) = deferring(&turn, 2, &[]).await;
        let before = relay.log_text().matches("status=deferred").count();
        let outcome = queue::flush(&no_tls, &[], Some(relay.config_dir()), Duration::from_secs(30))
            .await
            .unwrap();
        assert!(matches!(outcome.method, FlushMethod::QueueIds { .. }), "{outcome:#?}");
        assert!(outcome.complete, "{outcome:#?}");
        for id in &ids {
            assert!(
                outcome
                    .lines
                    .iter()
                    .any(|l| l.queue_id.as_ref() == Some(id) && l.status() == Some("deferred")),
                "no new attempt of {id}: {outcome:#?}"
            );
        }
        assert!(outcome.lines.iter().all(|l| !l.message.contains(&refused)));
        assert!(relay.log_text().matches("status=deferred").count() >= before + 2);

        // The CLI asks for --yes, then does the same.
        let out = mxtriage_queue(&relay, &["--flush", &no_tls]);
        assert_eq!(out.status.code(), Some(2));
        let out = mxtriage_queue(&relay, &["--flush", &no_tls, "--yes", "--follow", "30"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("not eligible for fast flush"), "{text}");
        assert!(text.contains("status=deferred"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fast_flush_domain_is_flushed_with_postqueue_s() {
        let Some(turn) = lab().await else { return };
        let no_tls = turn.lab.scenario("no-starttls").unwrap().domain.clone();
        let (relay, _, _, ids) = deferring(&turn, 1, &[("fast_flush_domains", &no_tls)]).await;
        let outcome = queue::flush(&no_tls, &[], Some(relay.config_dir()), Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(outcome.method, FlushMethod::Domain);
        assert!(outcome.complete, "{outcome:#?}");
        assert!(outcome.lines.iter().any(|l| l.queue_id.as_ref() == Some(&ids[0])));
    }
}
