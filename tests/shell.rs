//! Shell conventions through the real binary: completions, the manual page and the
//! configuration file (each run gets its own XDG_CONFIG_HOME).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mxtriage(config_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxtriage"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("XDG_DATA_HOME")
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh XDG_CONFIG_HOME under the target directory (no config file yet).
fn config_home(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("shell-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SUBCOMMANDS: &[&str] = &[
    "check",
    "lab",
    "demo",
    "bench",
    "report",
    "queue",
    "parse",
    "completions",
    "man",
];

#[test]
fn completions_for_each_shell_name_the_subcommands_and_flags() {
    let home = config_home("completions");
    for shell in ["bash", "zsh", "fish"] {
        let out = mxtriage(&home, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in SUBCOMMANDS {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        for flag in [
            "nameserver",
            "ca-file",
            "ehlo",
            "print-config",
            "sender-profile",
            "format",
        ] {
            assert!(script.contains(flag), "{shell} completion lacks --{flag}");
        }
    }
    let bash = stdout(&mxtriage(&home, &["completions", "bash"]));
    assert!(bash.contains("complete -F _mxtriage"), "{bash}");
    let zsh = stdout(&mxtriage(&home, &["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef mxtriage"), "{zsh}");
    let fish = stdout(&mxtriage(&home, &["completions", "fish"]));
    assert!(fish.contains("complete -c mxtriage"), "{fish}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = mxtriage(&config_home("no-shell"), &["completions", "powershell"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bash, zsh, fish"), "{}", stderr(&out));
}

#[test]
fn man_page_has_the_synopsis_options_and_exit_codes() {
    let out = mxtriage(&config_home("man"), &["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH mxtriage 1"), "{page}");
    assert!(page.contains(".SH SYNOPSIS\n\\fBmxtriage\\fR"), "{page}");
    assert!(page.contains("\\-\\-print\\-config"), "{page}");
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    for code in ["0", "1", "2", "3"] {
        assert!(
            page.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit code {code}: {page}"
        );
    }
    assert!(page.contains("usage error"), "{page}");
    assert!(page.contains("mxtriage/config.toml"), "{page}");
}

#[test]
fn man_out_writes_a_page_per_subcommand() {
    let home = config_home("man-out");
    let dir = home.join("man1");
    let out = mxtriage(&home, &["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for page in [
        "mxtriage.1",
        "mxtriage-check.1",
        "mxtriage-report-diff.1",
        "mxtriage-parse.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}: {}", stdout(&out));
    }
    let check = std::fs::read_to_string(dir.join("mxtriage-check.1")).unwrap();
    assert!(check.contains(".SH SYNOPSIS\n\\fBmxtriage check\\fR"), "{check}");
    assert!(check.contains(".SH \"EXIT STATUS\""), "{check}");
    let parse = std::fs::read_to_string(dir.join("mxtriage-parse.1")).unwrap();
    assert!(parse.contains("no destination in the text"), "{parse}");
}
