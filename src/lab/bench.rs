//! `mxtriage bench`: how long a real `check` of a 2 MX × 2 address domain takes
//! when every SMTP reply is delayed, compared with the critical path the delay implies.

use std::process::Command;
use std::time::{Duration, Instant};

use super::{Lab, LabError, LabOptions};

/// Replies on one probe's critical path: greeting, EHLO, STARTTLS, EHLO in TLS, QUIT.
const DELAYED_REPLIES: u32 = 5;

pub async fn run(latency_ms: u64, runs: usize) -> Result<(), LabError> {
    let latency = Duration::from_millis(latency_ms);
    let lab = Lab::start(LabOptions {
        latency,
        ..LabOptions::default()
    })
    .await?;
    let dir = std::env::temp_dir().join(format!("mxtriage-bench-{}", std::process::id()));
    let ca_file = lab.write_ca_file(&dir).map_err(LabError::Io)?;
    let exe = std::env::current_exe().map_err(LabError::Io)?;
    let domain = lab.scenario("pool").map(|s| s.domain.clone()).unwrap_or_default();
    let bound = latency * DELAYED_REPLIES;
    say!("bench: check {domain} (2 MX x 2 addresses), {latency_ms} ms before every SMTP reply");
    say!(
        "critical-path lower bound: {DELAYED_REPLIES} replies x {latency_ms} ms = {} ms\n",
        bound.as_millis()
    );
    say!(
        "{:>4} {:>10} {:>7} {:>12} {:>14} {:>6}",
        "run",
        "wall ms",
        "ratio",
        "connections",
        "max per addr",
        "exit"
    );
    let mut walls = Vec::new();
    for run in 1..=runs.max(1) {
        let before = lab.connections_by_address();
        let mut command = Command::new(&exe);
        command.args(["check", &domain, "--format", "json", "--port"]);
        command.arg(lab.port.to_string());
        command.arg("--nameserver").arg(lab.dns.to_string());
        command.arg("--ca-file").arg(&ca_file);
        let started = Instant::now();
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .map_err(|e| LabError::Io(std::io::Error::other(e)))?
            .map_err(LabError::Io)?;
        let wall = started.elapsed();
        let after = lab.connections_by_address();
        let per_address: Vec<usize> = after
            .iter()
            .map(|(ip, n)| n - before.get(ip).copied().unwrap_or(0))
            .collect();
        let total: usize = per_address.iter().sum();
        let max = per_address.iter().copied().max().unwrap_or(0);
        say!(
            "{run:>4} {:>10} {:>7.2} {total:>12} {max:>14} {:>6}",
            wall.as_millis(),
            wall.as_secs_f64() / bound.as_secs_f64(),
            output.status.code().map_or("signal".to_string(), |c| c.to_string())
        );
        walls.push(wall);
    }
    walls.sort();
    let median = walls[walls.len() / 2];
    say!(
        "\nmedian wall {} ms, ratio {:.2} (target <= 1.30); peak RSS of the check process {} KiB (target <= 20480)",
        median.as_millis(),
        median.as_secs_f64() / bound.as_secs_f64(),
        children_peak_rss_kib()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Largest resident set of any waited-for child, from the kernel's accounting.
fn children_peak_rss_kib() -> i64 {
    // SAFETY: getrusage fills the zeroed struct we own; RUSAGE_CHILDREN is a valid selector.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc == 0 { usage.ru_maxrss } else { -1 }
}
