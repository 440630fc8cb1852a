//! Shared set-up for tests that drive real programs against the lab.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::path::PathBuf;
use std::process::{Command, Output};

use mxtriage::lab::{Lab, LabOptions};

pub struct Fixture {
    pub lab: Lab,
    pub dir: PathBuf,
    pub ca_file: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn fixture(name: &str) -> Fixture {
    let lab = Lab::start(LabOptions::default()).await.expect("lab starts");
    let dir = std::env::temp_dir().join(format!("mxtriage-test-{}-{name}", std::process::id()));
    let ca_file = lab.write_ca_file(&dir).expect("CA file written");
    Fixture { lab, dir, ca_file }
}

impl Fixture {
    #[allow(dead_code, reason = "each test binary uses a different part of this module")]
    /// The scenario's first server as `ip:port`.
    pub fn server(&self, scenario: &str) -> String {
        let scenario = self.lab.scenario(scenario).expect("scenario");
        format!("{}:{}", scenario.servers[0].1, self.lab.port)
    }
}

/// Runs a program without blocking the runtime that serves the lab.
pub async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("program runs")
}

#[allow(dead_code, reason = "each test binary uses a different part of this module")]
/// Whether a real peer program is installed; in CI (`CI` set) its absence fails the test.
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{program} is not installed; .ci/run installs it"
        );
        eprintln!("SKIPPED: {program} is not installed (apt-get install {program})");
    }
    found
}
