//! The relay's deferred queue and log, read from output recorded on a private
//! Postfix 3.7.11 instance (tests/fixtures/postfix/) and from the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

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
