//! The real binary in a pseudo-terminal, driven by keys like an operator over SSH:
//! screens are read back through a VT100 parser.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;

#[path = "common/pty.rs"]
mod pty;

struct Session {
    pty: pty::Pty,
    home: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.pty.child.kill();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn spawn(name: &str, args: &[&str]) -> Session {
    spawn_with(name, args, |_| {})
}

/// Spawns with a fresh HOME that `prepare` may fill first.
fn spawn_with(name: &str, args: &[&str], prepare: impl FnOnce(&Path)) -> Session {
    let home = std::env::temp_dir().join(format!("mxtriage-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    prepare(&home);
    let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_mxtriage"));
    command.args(args);
    command.env("HOME", &home);
    command.env("XDG_DATA_HOME", home.join("data"));
    command.env("XDG_CONFIG_HOME", home.join("config"));
    command.env_remove("MXTRIAGE_CONFIG");
    command.env("TERM", "xterm-256color");
    command.env("LANG", "C.UTF-8");
    Session {
        pty: pty::spawn(command, 30, 100),
        home,
    }
}

impl Session {
    fn text(&self) -> String {
        self.pty.text()
    }

    fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{needle:?} never appeared; screen:\n{}", self.text());
    }

    /// Picks a demo scenario by name (the list is in the lab's order) and starts it.
    fn start_scenario(&mut self, name: &str) {
        let index = mxtriage::lab::scenarios::all()
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap();
        for _ in 0..index {
            self.send("j");
        }
        self.send("\r");
    }

    fn send(&mut self, keys: &str) {
        self.pty.type_keys(keys.as_bytes());
        // Let the app read each burst separately, as typed keys arrive.
        std::thread::sleep(Duration::from_millis(60));
    }

    fn exit_status(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.pty.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the workbench did not exit; screen:\n{}", self.text());
    }

    fn reports(&self) -> Vec<String> {
        list(&self.home.join("data/mxtriage/reports"))
    }
}

fn list(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_from_scenario_to_exported_report() {
    let mut s = spawn("demo", &["demo"]);
    s.wait_for("lab scenarios");
    s.start_scenario("close-after-220");
    s.wait_for("FAIL at TLS handshake");
    s.wait_for("[ask]");
    s.send("\t");
    s.send("\r");
    s.wait_for("transcript");
    s.wait_for("220 2.0.0 Ready to start TLS");
    s.send("v");
    s.wait_for("The server's TLS layer dies right after it says 220");
    s.send("e");
    s.wait_for("written:");
    assert!(s.pty.alternate_screen(), "the workbench draws on the alternate screen");
    s.send("q");
    let status = s.exit_status();
    assert!(status.success(), "{status:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!s.pty.alternate_screen(), "terminal restored");
    let reports = s.reports();
    assert!(
        reports
            .iter()
            .any(|r| r.starts_with("close-after-220.lab.test-") && r.ends_with(".md")),
        "{reports:?}"
    );
    assert!(reports.iter().any(|r| r.ends_with(".json")), "{reports:?}");
    assert!(list(&s.home.join("data/mxtriage")).contains(&"autosave.json".to_string()));

    // The autosaved session comes back with --resume, as after a dropped SSH session;
    // its export goes where the configuration file's report_dir says.
    let saved = s.home.join("data/mxtriage/autosave.json");
    let mut resumed = spawn_with("resume", &["--resume"], |home| {
        std::fs::create_dir_all(home.join("data/mxtriage")).unwrap();
        std::fs::copy(&saved, home.join("data/mxtriage/autosave.json")).unwrap();
        std::fs::create_dir_all(home.join("config/mxtriage")).unwrap();
        std::fs::write(
            home.join("config/mxtriage/config.toml"),
            "report_dir = \"tickets\"\nno_relay = true\n",
        )
        .unwrap();
    });
    resumed.wait_for("resumed the last autosaved session");
    resumed.wait_for("The server's TLS layer dies right after it says 220");
    resumed.send("e");
    resumed.wait_for("written:");
    resumed.send("q");
    assert!(resumed.exit_status().success());
    let tickets = list(&resumed.home.join("config/mxtriage/tickets"));
    assert!(
        tickets
            .iter()
            .any(|r| r.starts_with("close-after-220.lab.test-") && r.ends_with(".md")),
        "{tickets:?}"
    );
}

#[test]
fn an_address_still_being_probed_shows_its_session_live() {
    let mut s = spawn("live", &["demo"]);
    s.wait_for("lab scenarios");
    s.start_scenario("tarpit");
    // The greeting takes four seconds: time enough to open the address while it waits.
    s.wait_for("in greeting; gives up after");
    // A new run opens with the matrix focused, its first address selected.
    s.send("\r");
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut live = String::new();
    while Instant::now() < deadline {
        live = s.text();
        if live.contains("live: mx.tarpit.lab.test") && live.contains("-- connected from 127.0.0.1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        live.contains("live: mx.tarpit.lab.test") && live.contains("-- connected from 127.0.0.1"),
        "the transcript so far, while the greeting is awaited:\n{live}"
    );
    assert!(live.contains("greeting "), "the stage on the time line:\n{live}");
    // When the session ends, its whole transcript replaces the live one.
    s.wait_for("S: 220 mx.tarpit.lab.test");
    s.send("q");
    s.send("y");
    let _ = s.exit_status();
}

#[test]
fn resume_without_a_saved_session_says_so() {
    let mut s = spawn("resume-none", &["--resume"]);
    let status = s.exit_status();
    assert_eq!(status.exit_code(), 2);
    assert!(s.text().contains("nothing to resume"), "{}", s.text());
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut s = spawn("sigterm", &["demo"]);
    s.wait_for("lab scenarios");
    let pid = s.pty.child.process_id().expect("pid");
    // SAFETY: kill(2) on our own child's pid with a valid signal number.
    let rc = unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = s.exit_status();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!s.pty.alternate_screen(), "terminal restored after SIGTERM");
    assert_eq!(status.exit_code(), 128 + libc::SIGTERM as u32, "{status:?}");
}

#[test]
fn sighup_exits_128_plus_its_number() {
    let mut s = spawn("sighup", &[]);
    s.wait_for("paste a bounce");
    let pid = s.pty.child.process_id().expect("pid");
    // SAFETY: kill(2) on our own child's pid with a valid signal number.
    let rc = unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    assert_eq!(rc, 0);
    let status = s.exit_status();
    assert_eq!(status.exit_code(), 128 + libc::SIGHUP as u32, "{status:?}");
}

/// Intake fixtures and what the "understood" pane must show for each: label and value
/// as the pane lays them out, so the pasted text itself cannot satisfy the check.
const PASTED: &[(&str, &[&str])] = &[
    (
        "qmail-bounce-queue-too-long.txt",
        &[
            "domain   example.org",
            "address  203.0.113.5",
            "MTA      qmail",
            "queued   in the queue too long",
        ],
    ),
    (
        "exchange-online-4.4.317.txt",
        &[
            "domain   example.com",
            "MX host  mx.example.com",
            "address  192.0.2.1",
            "status   450 4.4.317",
        ],
    ),
    (
        "postfix-status-line.txt",
        &[
            "domain   example.com",
            "MX host  mx.example.com",
            "address  192.0.2.1",
            "status   4.7.5",
            "queued   3601 s",
        ],
    ),
];

/// Pastes each fixture, its lines ended by `ending`, as a terminal's bracketed paste.
fn paste_fixtures_with(label: &str, ending: &str) {
    for (name, shown) in PASTED {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/intake_corpus")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap().replace('\n', ending);
        let mut s = spawn(&format!("paste-{label}-{name}"), &["--no-relay"]);
        s.wait_for("paste a bounce");
        s.send(&format!("\x1b[200~{text}\x1b[201~"));
        for needle in *shown {
            s.wait_for(needle);
        }
        assert!(
            !s.text().contains("\\x0d"),
            "{name} with {label}: a CR shown as text\n{}",
            s.text()
        );
        s.send("\x03");
        assert!(s.exit_status().success());
    }
}

#[test]
fn pasted_fixtures_with_lf_line_ends_extract() {
    paste_fixtures_with("lf", "\n");
}

#[test]
fn pasted_fixtures_with_crlf_line_ends_extract() {
    paste_fixtures_with("crlf", "\r\n");
}

#[test]
fn pasted_fixtures_with_cr_line_ends_extract() {
    paste_fixtures_with("cr", "\r");
}

#[test]
fn a_typed_domain_and_enter_start_triage_and_c_c_twice_quits() {
    let mut s = spawn("typed", &["--no-relay", "--nameserver", "127.0.0.1:9"]);
    s.wait_for("paste a bounce");
    s.send("example.invalid");
    s.send("\r");
    s.wait_for("Triage");
    // While the lookup runs the first C-c asks; the second quits, help open or not.
    s.send("?");
    s.send("\x03");
    s.send("\x03");
    assert!(s.exit_status().success());
}

#[test]
fn pasted_bounce_becomes_a_triage() {
    let mut s = spawn("paste", &["demo"]);
    s.wait_for("lab scenarios");
    s.send("\t");
    let line = "Nov 29 05:00:01 relay postfix/smtp[4242]: 3F2A1C0: to=<postmaster@starttls-454.lab.test>, \
relay=mx.starttls-454.lab.test[127.77.0.18]:25, delay=3601, delays=0.1/0/0.2/0, dsn=4.7.5, \
status=deferred (TLS is required, but host mx.starttls-454.lab.test[127.77.0.18] refused to start TLS: \
454 4.7.0 TLS not available due to local problem)";
    s.send(&format!("\x1b[200~{line}\x1b[201~"));
    s.wait_for("starttls-454.lab.test");
    s.wait_for("Postfix");
    s.wait_for("454 4.7.0");
    s.wait_for("3601 s");
    // Ctrl-R runs the check on what was understood.
    s.send("\x12");
    s.wait_for("Triage");
    s.wait_for("FAIL at STARTTLS");
    s.send("\x03");
    assert!(s.exit_status().success());
}

#[test]
fn c_c_twice_quits_while_probes_run_even_with_help_open() {
    let mut s = spawn("ctrl-c-busy", &["demo"]);
    s.wait_for("lab scenarios");
    // no-greeting's server never says 220, so probes run on; the demo lists the
    // scenarios in the lab's order.
    s.start_scenario("no-greeting");
    s.wait_for("probing");
    s.send("?");
    s.wait_for("Any key closes this help");
    // With help open, C-c asks (probes run); the second C-c quits, it does not answer "stay".
    s.send("\x03");
    s.wait_for("Quit anyway?");
    s.send("\x03");
    let status = s.exit_status();
    assert!(status.success(), "{status:?}");
}
