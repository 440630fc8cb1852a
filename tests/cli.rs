//! The real binary against the lab: target forms, output formats and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

mod common;

use std::process::Command;

use common::{Fixture, fixture, run};

fn check(f: &Fixture, target: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    command.env("MXTRIAGE_CONFIG", "");
    command.args([
        "check",
        "--no-relay",
        target,
        "--port",
        &f.lab.port.to_string(),
        "--nameserver",
        &f.lab.dns.to_string(),
    ]);
    command.arg("--ca-file").arg(&f.ca_file);
    command.args(["--timeout-command", "3", "--ehlo", "cli-test.mxtriage.invalid"]);
    command.args(extra);
    command
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy_domain_exits_0_with_versioned_json() {
    let f = fixture("cli-healthy").await;
    let out = run(check(&f, "healthy.lab.test", &["--format", "json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["schema_version"], mxtriage::model::SCHEMA_VERSION);
    assert_eq!(v["resolution"]["outcome"]["kind"], "mx");
    assert_eq!(v["probes"][0]["stage"], "done");
    assert_eq!(v["probes"][0]["ehlo_name"], "cli-test.mxtriage.invalid");
    assert_eq!(v["probes"][0]["chain"]["name"]["matched_by"], "mx.healthy.lab.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_problem_exits_1_and_text_shows_the_transcript() {
    let f = fixture("cli-problem").await;
    let out = run(check(&f, "starttls-454.lab.test", &[])).await;
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILED at STARTTLS: STARTTLS refused: 454 4.7.0"),
        "{text}"
    );
    assert!(text.contains("C: STARTTLS"), "{text}");
    assert!(
        text.contains("VERDICT: The server refuses STARTTLS for now (a temporary 4xx reply)")
            && text.contains("454 4."),
        "{text}"
    );
    assert!(text.contains("owner: recipient"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_to_test_exits_3() {
    let f = fixture("cli-nothing").await;
    for domain in ["nxdomain.lab.test", "null-mx.lab.test"] {
        let out = run(check(&f, domain, &["--format", "json"])).await;
        assert_eq!(out.status.code(), Some(3), "{domain}");
        assert_eq!(json(&out)["probes"].as_array().map(Vec::len), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_2_with_a_specific_message() {
    let f = fixture("cli-usage").await;
    let out = run(check(&f, "[192.0.2.1", &[])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without a closing ']'"));
    let mut missing = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    missing.env("MXTRIAGE_CONFIG", "");
    missing.args(["check", "example.com", "--ca-file", "/nonexistent/ca.pem"]);
    let out = run(missing).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"));
    let mut unknown = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    unknown.env("MXTRIAGE_CONFIG", "");
    unknown.args(["check", "example.com", "--bogus"]);
    assert_eq!(run(unknown).await.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_are_checked_and_move_the_verdict() {
    let f = fixture("cli-answers").await;
    let out = run(check(
        &f,
        "close-after-220.lab.test",
        &["--answer", "vantage=works", "--format", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["verdict"]["id"], "middlebox-drop");
    assert_eq!(v["verdict"]["owner"], "network");
    assert_eq!(v["answers"]["vantage"], "works");

    let out = run(check(&f, "healthy.lab.test", &["--answer", "vantage=maybe"])).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no answer \"maybe\"") && err.contains("same, works, unknown"),
        "{err}"
    );
    let out = run(check(&f, "healthy.lab.test", &["--answer", "colour=blue"])).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn address_literal_skips_mx_lookup_and_sends_no_sni() {
    let f = fixture("cli-literal").await;
    let server = f.server("healthy");
    let (ip, port) = server.rsplit_once(':').unwrap();
    let out = run(check(&f, &format!("[{ip}]:{port}"), &["--format", "json"])).await;
    let v = json(&out);
    assert_eq!(v["resolution"]["outcome"]["kind"], "direct");
    assert_eq!(v["probes"][0]["stage"], "done");
    assert_eq!(v["probes"][0]["tls"]["sni"], serde_json::Value::Null);
    // The certificate names the MX host, not the address: a name problem, exit 1.
    assert_eq!(out.status.code(), Some(1));

    let out = run(check(
        &f,
        &format!("[{ip}]:{port}"),
        &["--format", "json", "--sni", "mx.healthy.lab.test"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["probes"][0]["tls"]["sni"], "mx.healthy.lab.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv4_and_port_without_brackets_is_probed_as_an_address() {
    let f = fixture("cli-ip-port").await;
    // `127.0.0.x:port`, exactly as an operator copies it from a log line.
    let out = run(check(&f, &f.server("healthy"), &["--format", "json"])).await;
    let v = json(&out);
    assert_eq!(v["target"]["kind"], "address", "{v}");
    assert_eq!(v["resolution"]["outcome"]["kind"], "direct");
    assert_eq!(v["probes"][0]["stage"], "done");
    assert_ne!(v["verdict"]["owner"], "dns_owner", "{}", v["verdict"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn host_port_form_resolves_the_host_without_mx() {
    let f = fixture("cli-hostport").await;
    let target = format!("mx.healthy.lab.test:{}", f.lab.port);
    let out = run(check(&f, &target, &["--format", "json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v = json(&out);
    assert_eq!(v["resolution"]["outcome"]["kind"], "direct");
    assert_eq!(v["resolution"]["hosts"][0]["name"], "mx.healthy.lab.test");
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv4_only_skips_the_broken_ipv6_address() {
    let f = fixture("cli-v4").await;
    let out = run(check(&f, "ipv6-broken.lab.test", &["-4", "--format", "json"])).await;
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["probes"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["resolution"]["hosts"][0]["aaaa_lookup"]["kind"], "skipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn source_address_is_used_for_the_connection() {
    let f = fixture("cli-source").await;
    let out = run(check(
        &f,
        "healthy.lab.test",
        &["--source", "127.0.0.9", "--format", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0));
    let local = json(&out)["probes"][0]["local_address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(local.starts_with("127.0.0.9:"), "{local}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bare_command_without_a_terminal_points_to_check() {
    let mut bare = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    bare.env("MXTRIAGE_CONFIG", "");
    bare.stdin(std::process::Stdio::null());
    let out = run(bare).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs a terminal") && err.contains("mxtriage check TARGET"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_is_opt_in_and_reported_per_address() {
    let f = fixture("cli-scan").await;
    let out = run(check(&f, "healthy.lab.test", &["--format", "json"])).await;
    assert_eq!(
        json(&out)["probes"][0]["scan"],
        serde_json::Value::Null,
        "no scan unless asked"
    );
    let before = f.lab.connections();
    let out = run(check(
        &f,
        "healthy.lab.test",
        &["--format", "json", "--scan", "--scan-delay-ms", "5"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let scan = &v["probes"][0]["scan"];
    let accepted: Vec<&str> = scan["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["accepted"] == true)
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(accepted, ["TLSv1.2", "TLSv1.3"]);
    let used = scan["connections"].as_u64().unwrap() as usize;
    // The probe's one, the scan's, and OpenSSL's second opinion when openssl is installed.
    let openssl = usize::from(v["probes"][0]["second_opinion"].is_object());
    assert_eq!(f.lab.connections() - before, used + 1 + openssl);
    if openssl == 1 {
        assert_eq!(v["probes"][0]["second_opinion"]["connected"], true);
    }
}

/// Standard output as a pipe whose reader is already gone: every write gets EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_or_a_full_disk_keeps_the_verdicts_exit_code() {
    let f = fixture("cli-pipe").await;
    let saved = f.dir.join("problem.json");
    let mut save = check(&f, "starttls-454.lab.test", &["--format", "json", "-o"]);
    save.arg(&saved);
    assert_eq!(run(save).await.status.code(), Some(1));

    for (scenario, code) in [("healthy.lab.test", 0), ("starttls-454.lab.test", 1)] {
        // `mxtriage check … | head -0`: the reader left, so nothing is said.
        let mut piped = check(&f, scenario, &["--verbose"]);
        piped.stdout(closed_pipe());
        let out = run(piped).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{scenario}: {err}");
        assert!(!err.contains("panicked") && !err.contains("error"), "{err}");

        // `> /dev/full`: said once, clearly, and the verdict still decides the exit code.
        let mut full = check(&f, scenario, &["--format", "markdown"]);
        full.stdout(dev_full());
        let out = run(full).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{scenario}: {err}");
        assert!(
            err.contains("cannot write the report to standard output: No space left on device"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }

    for args in [&["report", "show"][..], &["report", "diff"][..]] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
        command.env("MXTRIAGE_CONFIG", "");
        command.args(args).arg(&saved);
        if args[1] == "diff" {
            command.arg(&saved);
        }
        command.stdout(closed_pipe());
        let out = run(command).await;
        let err = String::from_utf8_lossy(&out.stderr);
        let expected = if args[1] == "diff" { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn output_file_problems_and_absurd_settings_are_usage_errors_before_any_probe() {
    let f = fixture("cli-early-usage").await;
    let existing = f.dir.join("existing.md");
    std::fs::write(&existing, "keep me").unwrap();
    let missing_dir = f.dir.join("no-such-dir/report.md");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["-o".into(), missing_dir.display().to_string()], "does not exist"),
        (vec!["-o".into(), existing.display().to_string()], "already exists"),
        (vec!["-o".into(), "/etc/passwd/report.md".into()], "is not a directory"),
        // Not writable even for root: a read-only kernel file system.
        (vec!["-o".into(), "/proc/mxtriage-report.md".into()], "cannot write"),
        (vec!["--port".into(), "0".into()], "--port"),
        (vec!["--timeout-connect".into(), "0.01".into()], "too short"),
        (vec!["--timeout-tls".into(), "0".into()], "too short"),
        (vec!["--timeout-tls".into(), "NaN".into()], "not a usable timeout"),
    ];
    for (extra, says) in cases {
        let before = f.lab.connections();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = run(check(&f, "healthy.lab.test", &extra)).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
        assert_eq!(f.lab.connections(), before, "{extra:?}: nothing was probed");
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert!(!missing_dir.parent().unwrap().exists(), "no directory was made");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_printed_lab_and_demo_stop_quietly_when_the_reader_is_gone() {
    for command in ["lab", "demo"] {
        let mut piped = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
        piped.env("MXTRIAGE_CONFIG", "");
        piped
            .arg(command)
            .stdin(std::process::Stdio::null())
            .stdout(closed_pipe());
        let out = run(piped).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command}: {err}");
        assert!(!err.contains("panicked"), "{command}: {err}");
    }
    // A full disk is said, not hidden.
    let mut full = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    full.env("MXTRIAGE_CONFIG", "");
    full.arg("demo").stdin(std::process::Stdio::null()).stdout(dev_full());
    let out = run(full).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("No space left on device") && !err.contains("panicked"),
        "{err}"
    );
}
