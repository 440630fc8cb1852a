//! The probe against a real Postfix `smtpd` acting as an MX (tests/common/postfix.rs,
//! [`PostfixMx`]): what the lab's own servers cannot show.
//!
//! OpenSSL sends its TLS 1.3 session tickets right after the handshake, in a segment of
//! their own. When our EHLO leaves before they arrive, Linux delays its ACK of them (up
//! to 40 ms) and Postfix, Nagle on, holds its EHLO reply until that ACK comes. Whether
//! the EHLO wins the race depends on scheduling: with the probe and Postfix on one CPU
//! it wins about half the time, so the stall test pins both there.
//!
//! The side-by-side benchmark (figures, not a timed test):
//! `cargo test --release --test postfix_mx -- --ignored --nocapture bench_check_vs_posttls_finger`
//! (`MXTRIAGE_BENCH_RUNS`, default 30; `MXTRIAGE_BIN` to time another build).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

#[path = "common/postfix.rs"]
mod postfix;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mxtriage::cert::TrustStores;
use mxtriage::model::{Direction, ProbeResult, Stage, TranscriptLine};
use mxtriage::probe::{ProbeConfig, ProbeTarget, Timeouts, probe};
use postfix::{MX_HOST, PostfixMx, PostfixRelay};

/// `None` (test skipped, said so) when this machine cannot run Postfix; in CI that fails.
fn available() -> bool {
    if let Err(why) = postfix::available() {
        assert!(std::env::var_os("CI").is_none(), "cannot run Postfix: {why}");
        eprintln!("SKIPPED: {why}");
        return false;
    }
    true
}

/// Milliseconds from the EHLO sent inside TLS to the first line of its reply.
fn ehlo_in_tls_wait(transcript: &[TranscriptLine]) -> Option<u64> {
    let sent = transcript
        .iter()
        .position(|l| l.encrypted && l.direction == Direction::Client && l.text.as_str().starts_with("EHLO"))?;
    let reply = transcript[sent..]
        .iter()
        .find(|l| l.encrypted && l.direction == Direction::Server)?;
    Some(reply.at_ms - transcript[sent].at_ms)
}

/// A CPU this thread may run on: the last one allowed.
fn one_cpu() -> usize {
    // SAFETY: sched_getaffinity fills the zeroed set we own for the calling thread.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity: {}", std::io::Error::last_os_error());
    (0..libc::CPU_SETSIZE as usize)
        .rev()
        .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .unwrap()
}

/// Pins the calling thread (the test's current-thread runtime) to `cpu`.
fn pin_this_thread(cpu: usize) {
    // SAFETY: as above; sched_setaffinity(0) applies to the calling thread only.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    assert_eq!(rc, 0, "sched_setaffinity: {}", std::io::Error::last_os_error());
}

fn config(mx: &PostfixMx) -> ProbeConfig {
    let stores = Arc::new(TrustStores::from_parts(vec![], vec![mx.ca_der.clone()]));
    ProbeConfig::new("probe.mxtriage.test".into(), Timeouts::default(), stores)
}

fn assert_healthy(result: &ProbeResult) {
    assert!(result.failure.is_none(), "failed: {:?}", result.failure);
    assert_eq!(result.stage, Stage::Done);
    let tls = result.tls.as_ref().unwrap();
    assert_eq!(tls.version.to_string(), "TLSv1.3");
    let chain = result.chain.as_ref().unwrap();
    assert!(chain.is_trusted() && chain.name_matches(), "{chain:?}");
    assert!(result.findings.is_empty(), "{:?}", result.findings);
    // The time line a real smtpd session leaves: every stage once, in order, in time.
    let marks = &result.timings.stages;
    let stages: Vec<Stage> = marks.iter().map(|m| m.stage).collect();
    assert_eq!(
        stages,
        [
            Stage::Connect,
            Stage::Greeting,
            Stage::Ehlo,
            Stage::StartTls,
            Stage::TlsHandshake,
            Stage::TlsEhlo,
            Stage::Quit,
            Stage::Done
        ]
    );
    assert!(marks.windows(2).all(|w| w[0].at_ms <= w[1].at_ms), "{marks:?}");
    assert!(
        marks.last().is_some_and(|m| m.at_ms <= result.timings.total_ms),
        "{marks:?}"
    );
}

/// The session tickets Postfix sends after the handshake must not hold up the reply to
/// the EHLO inside TLS: before the fix, about half of these probes waited 40-50 ms.
#[tokio::test]
async fn session_tickets_do_not_stall_the_ehlo_in_tls() {
    if !available() {
        return;
    }
    let cpu = one_cpu();
    let mx = PostfixMx::start(&PostfixRelay::temp_base(), Some(cpu));
    pin_this_thread(cpu);
    let config = config(&mx);
    let target = ProbeTarget {
        mx: MX_HOST.into(),
        address: mx.address,
    };
    let mut waits = Vec::new();
    for _ in 0..20 {
        let result = probe(&config, &target).await;
        assert_healthy(&result);
        waits.push(ehlo_in_tls_wait(&result.transcript).unwrap());
    }
    eprintln!("EHLO-in-TLS reply after (ms): {waits:?}");
    // A delayed ACK costs 40 ms; a busy shared machine may still cost one probe 30.
    let stalled = waits.iter().filter(|&&ms| ms >= 30).count();
    assert!(
        stalled <= 1,
        "{stalled} of 20 EHLO replies took 30 ms or more: {waits:?}"
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs each of `commands` once per round, `runs` rounds, so drift in the machine's load
/// hits them alike; returns per command the sorted wall times and the smtpd connections
/// each run made (counted from Postfix's log, outside the timed window).
fn time_runs(mx: &PostfixMx, runs: usize, commands: &[&dyn Fn() -> Command]) -> Vec<(Vec<Duration>, Vec<usize>)> {
    let mut results = vec![(Vec::new(), Vec::new()); commands.len()];
    for _ in 0..runs {
        for (command, (walls, connections)) in commands.iter().zip(&mut results) {
            let before = mx.connections();
            let mut c = command();
            let started = Instant::now();
            let output = c.output().unwrap();
            walls.push(started.elapsed());
            assert!(
                output.status.code().is_some(),
                "{c:?} was killed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            // postlogd writes asynchronously: wait for this run's lines to land.
            let deadline = Instant::now() + Duration::from_secs(2);
            while mx.connections() == before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(20));
            connections.push(mx.connections() - before);
        }
    }
    for (walls, _) in &mut results {
        walls.sort();
    }
    results
}

/// Prints median and p90 wall time of `mxtriage check` of one healthy Postfix address
/// against one `posttls-finger` run on the same address, and their ratio (goal <= 1.5).
#[test]
#[ignore = "a benchmark: prints figures, asserts nothing about time"]
fn bench_check_vs_posttls_finger() {
    if !available() {
        return;
    }
    let runs: usize = std::env::var("MXTRIAGE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let exe = std::env::var("MXTRIAGE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mxtriage").to_string());
    let mx = PostfixMx::start(&PostfixRelay::temp_base(), None);
    let target = format!("[{}]:{}", mx.address.ip(), mx.address.port());
    let check = |extra: &'static [&'static str]| {
        let exe = exe.clone();
        let target = target.clone();
        let ca_file = mx.ca_file.clone();
        move || {
            let mut c = Command::new(&exe);
            c.args(["check", &target, "--sni", MX_HOST, "--format", "json", "--ca-file"]);
            c.arg(&ca_file).args(extra);
            c
        }
    };
    let finger = || {
        let mut c = Command::new("posttls-finger");
        // `destination [match ...]`: the certificate must name MX_HOST, as with --sni.
        c.args(["-c", "-l", "secure", "-F"])
            .arg(&mx.ca_file)
            .arg(&target)
            .arg(MX_HOST);
        c
    };
    let lean = check(&["--no-policy", "--no-relay"]);
    let defaults = check(&[]);
    // Warm-up: page cache, smtpd processes, tlsmgr's keys.
    let _ = time_runs(&mx, 3, &[&finger, &lean, &defaults]);
    let sanity = lean().output().unwrap();
    println!("binary: {exe}");
    println!(
        "check exit code {:?} (0: healthy); Postfix {} at {target}, {runs} rounds of one run each",
        sanity.status.code(),
        String::from_utf8_lossy(
            &Command::new("postconf")
                .args(["-h", "mail_version"])
                .output()
                .unwrap()
                .stdout
        )
        .trim()
    );
    let mut results = time_runs(&mx, runs, &[&finger, &lean, &defaults]).into_iter();
    let (reference, finger_conn) = results.next().unwrap();
    let (lean, lean_conn) = results.next().unwrap();
    let (defaults, default_conn) = results.next().unwrap();
    println!("{:<44} {:>10} {:>8} {:>14}", "", "median ms", "p90 ms", "connections");
    for (name, walls, conns) in [
        ("posttls-finger -l secure", &reference, &finger_conn),
        ("check --no-policy --no-relay", &lean, &lean_conn),
        ("check (defaults: policy lookups, relay read)", &defaults, &default_conn),
    ] {
        let (min, max) = (conns.iter().min().unwrap(), conns.iter().max().unwrap());
        println!(
            "{name:<44} {:>10.1} {:>8.1} {:>14}",
            ms(percentile(walls, 0.5)),
            ms(percentile(walls, 0.9)),
            if min == max {
                min.to_string()
            } else {
                format!("{min}-{max}")
            }
        );
    }
    let ratio = |walls: &[Duration], p| ms(percentile(walls, p)) / ms(percentile(&reference, p));
    println!(
        "\nratio to posttls-finger, median (p90): --no-policy --no-relay {:.2} ({:.2}), defaults {:.2} ({:.2}); goal <= 1.5",
        ratio(&lean, 0.5),
        ratio(&lean, 0.9),
        ratio(&defaults, 0.5),
        ratio(&defaults, 0.9)
    );
}

/// Prints the wall time and connection count of `mxtriage check --scan` of one stock
/// Postfix address against sslyze's default scan of the same address (when sslyze is
/// installed), and their ratio (goal: at least 20 times faster, at most 30 connections).
#[test]
#[ignore = "a benchmark: prints figures, asserts nothing about time"]
fn bench_scan_vs_sslyze() {
    if !available() {
        return;
    }
    let runs: usize = std::env::var("MXTRIAGE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let exe = std::env::var("MXTRIAGE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mxtriage").to_string());
    let mx = PostfixMx::start(&PostfixRelay::temp_base(), None);
    let target = format!("[{}]:{}", mx.address.ip(), mx.address.port());
    let scan = || {
        let mut c = Command::new(&exe);
        c.args([
            "check",
            &target,
            "--sni",
            MX_HOST,
            "--scan",
            "--no-policy",
            "--no-relay",
        ]);
        c.args(["--format", "json", "--ca-file"]).arg(&mx.ca_file);
        c
    };
    let sslyze = || {
        let mut c = Command::new("sslyze");
        c.args(["--starttls", "smtp", "--quiet"])
            .arg(format!("{}:{}", mx.address.ip(), mx.address.port()));
        c
    };
    let have_sslyze = Command::new("sslyze").arg("--help").output().is_ok();
    let _ = time_runs(&mx, 1, &[&scan]);
    let commands: Vec<&dyn Fn() -> Command> = if have_sslyze { vec![&scan, &sslyze] } else { vec![&scan] };
    let results = time_runs(&mx, runs, &commands);
    println!("binary: {exe}; {runs} rounds against Postfix at {target}");
    println!("{:<36} {:>10} {:>14}", "", "median ms", "connections");
    let names = [
        "check --scan --no-policy --no-relay",
        "sslyze --starttls smtp (default scan)",
    ];
    for (name, (walls, conns)) in names.iter().zip(&results) {
        let (min, max) = (conns.iter().min().unwrap(), conns.iter().max().unwrap());
        println!(
            "{name:<36} {:>10.1} {:>14}",
            ms(percentile(walls, 0.5)),
            if min == max {
                min.to_string()
            } else {
                format!("{min}-{max}")
            }
        );
    }
    if let [(ours, _), (theirs, _)] = &results[..] {
        println!(
            "\nsslyze / check --scan, median: {:.1} times (goal >= 20)",
            ms(percentile(theirs, 0.5)) / ms(percentile(ours, 0.5))
        );
    } else {
        println!("\nsslyze is not installed: no ratio");
    }
}
