//! Measures the workbench as an operator meets it, in a pseudo-terminal:
//! time to first frame, time from Enter to the first probe result on screen,
//! resident memory while probing a two-MX lab domain, and idle CPU over 30 s.
//! The lab runs in a process of its own (`mxtriage lab`), so the figures are the
//! workbench's alone.
//!
//! Run: `cargo build --release && cargo run --release --example tui_bench [-- IDLE_SECS]`
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::io::Read;
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;

#[path = "../tests/common/pty.rs"]
mod pty;

fn main() {
    let idle_secs: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(30);
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(|dir| dir.join("mxtriage")))
        .filter(|p| p.exists())
        .expect("build the binary first: cargo build --release");
    let home = std::env::temp_dir().join(format!("mxtriage-tui-bench-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("scratch dir");

    // The lab, in its own process; its first lines say where it listens.
    let mut lab = std::process::Command::new(&binary)
        .args(["lab", "--dir"])
        .arg(&home)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("lab starts");
    let mut banner = String::new();
    let mut out = lab.stdout.take().expect("lab stdout");
    let mut byte = [0u8; 1];
    while !banner.contains("check healthy.lab.test") || !banner.ends_with('\n') {
        if out.read(&mut byte).unwrap_or(0) == 0 {
            panic!("lab ended early: {banner}");
        }
        banner.push(char::from(byte[0]));
    }
    let command_line = banner
        .lines()
        .find(|l| l.contains("check healthy.lab.test"))
        .expect("command");
    let words: Vec<&str> = command_line.split_whitespace().collect();
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .map(|i| words[i + 1].to_string())
            .expect(flag)
    };
    let (port, nameserver, ca_file) = (after("--port"), after("--nameserver"), after("--ca-file"));

    let mut command = CommandBuilder::new(&binary);
    command.args(["--port", &port, "--nameserver", &nameserver, "--ca-file", &ca_file]);
    command.env("XDG_DATA_HOME", &home);
    command.env("TERM", "xterm-256color");
    command.env("LANG", "C.UTF-8");
    let started = Instant::now();
    let mut workbench = pty::spawn(command, 24, 80);
    let pid = workbench.child.process_id().expect("pid");
    let wait_for = |workbench: &pty::Pty, needle: &str, step: Duration| -> Duration {
        let from = Instant::now();
        while !workbench.text().contains(needle) {
            assert!(
                from.elapsed() < Duration::from_secs(30),
                "{needle:?} never appeared:\n{}",
                workbench.text()
            );
            std::thread::sleep(step);
        }
        from.elapsed()
    };

    wait_for(&workbench, "paste a bounce", Duration::from_millis(1));
    let first_frame = started.elapsed();

    // Tab to the target field, type the two-MX lab domain, Enter.
    workbench.type_keys(b"\ttwo-mx.lab.test");
    wait_for(&workbench, "two-mx.lab.test", Duration::from_millis(5));
    workbench.type_keys(b"\r");
    let enter = Instant::now();
    let mut peak_rss = 0;
    let mut first_result = None;
    while enter.elapsed() < Duration::from_secs(30) {
        peak_rss = peak_rss.max(status_kib(pid, "VmRSS:"));
        let screen = workbench.text();
        if first_result.is_none() && (screen.contains(" OK") || screen.contains("FAIL at")) {
            first_result = Some(enter.elapsed());
        }
        if screen.contains("[ask ]") {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let all_done = enter.elapsed();
    let hwm = status_kib(pid, "VmHWM:");

    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let after = cpu_ticks(pid);
    // SAFETY: sysconf with a valid name has no preconditions.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let idle_cpu = (after - before) as f64 / ticks_per_sec / idle_secs as f64 * 100.0;

    workbench.type_keys(b"q");
    let _ = workbench.child.wait();
    let _ = lab.kill();
    let _ = lab.wait();
    let _ = std::fs::remove_dir_all(&home);

    println!("tui bench: the workbench in an 80x24 pseudo-terminal, lab in its own process");
    println!(
        "first frame:                 {:>8.1} ms   (target <= 50 ms)",
        ms(first_frame)
    );
    match first_result {
        Some(d) => println!("Enter to first probe result: {:>8.1} ms", ms(d)),
        None => println!("Enter to first probe result:  not seen"),
    }
    println!("Enter to verdict ready:      {:>8.1} ms", ms(all_done));
    println!(
        "RSS while probing two-mx:    {:>8} KiB (peak sampled), VmHWM {} KiB (target <= 25600)",
        peak_rss, hwm
    );
    println!("idle CPU over {idle_secs} s:          {idle_cpu:>8.3} % of a core (target <= 0.1 %)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of the process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}
