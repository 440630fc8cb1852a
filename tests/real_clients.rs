//! Real SMTP/TLS clients against the lab prove it speaks real SMTP and TLS:
//! swaks and `openssl s_client -starttls smtp` complete against the healthy
//! scenario and fail as expected against broken ones.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

mod common;

use std::process::Command;

use common::{Fixture, fixture, have, run};

fn swaks(f: &Fixture, scenario: &str) -> Command {
    let mut command = Command::new("swaks");
    command.args([
        "--to",
        &format!("postmaster@{scenario}.lab.test"),
        "--server",
        &f.server(scenario),
    ]);
    command.args([
        "--ehlo",
        "swaks.mxtriage.invalid",
        "--tls",
        "--quit-after",
        "TLS",
        "--tls-verify",
    ]);
    command.args(["--tls-sni", &format!("mx.{scenario}.lab.test")]);
    command.arg("--tls-ca-path").arg(&f.ca_file);
    command.args(["--timeout", "5"]);
    command
}

fn s_client(f: &Fixture, scenario: &str) -> Command {
    let name = format!("mx.{scenario}.lab.test");
    let mut command = Command::new("openssl");
    command.args([
        "s_client",
        "-starttls",
        "smtp",
        "-connect",
        &f.server(scenario),
        "-servername",
        &name,
    ]);
    command.args([
        "-name",
        "s-client.mxtriage.invalid",
        "-verify_hostname",
        &name,
        "-verify_return_error",
        "-brief",
    ]);
    command.arg("-CAfile").arg(&f.ca_file);
    command.stdin(std::process::Stdio::null());
    command
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn swaks_completes_tls_against_healthy_and_fails_against_broken() {
    if !have("swaks") {
        return;
    }
    let f = fixture("swaks").await;
    let out = run(swaks(&f, "healthy")).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("TLS started"), "{}", text(&out));
    for scenario in ["close-after-220", "no-starttls", "expired"] {
        let out = run(swaks(&f, scenario)).await;
        assert!(!out.status.success(), "{scenario} should fail: {}", text(&out));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openssl_s_client_verifies_healthy_and_rejects_broken() {
    if !have("openssl") {
        return;
    }
    let f = fixture("s-client").await;
    let out = run(s_client(&f, "healthy")).await;
    let healthy = text(&out);
    assert!(out.status.success(), "{healthy}");
    assert!(healthy.contains("Verification: OK"), "{healthy}");
    for (scenario, expected) in [
        ("expired", "certificate has expired"),
        ("name-mismatch", "hostname mismatch"),
        ("incomplete-chain", "unable to get local issuer certificate"),
        ("alert-handshake-failure", "handshake failure"),
    ] {
        let out = run(s_client(&f, scenario)).await;
        assert!(!out.status.success(), "{scenario} should fail: {}", text(&out));
        assert!(text(&out).contains(expected), "{scenario}: {}", text(&out));
    }
}
