//! Shell conventions through the real binary: completions, the manual page and the
//! configuration file (each run gets its own XDG_CONFIG_HOME).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mxtriage(config_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxtriage"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("MXTRIAGE_CONFIG")
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

/// Writes `$home/mxtriage/config.toml`; returns its path.
fn write_config(home: &Path, text: &str) -> PathBuf {
    let dir = home.join("mxtriage");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `--print-config` line for `key`: (value, origin).
fn setting(printed: &str, key: &str) -> (String, String) {
    let line = printed
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in {printed}"));
    let (_, rest) = line.split_once(" = ").unwrap();
    let (value, origin) = rest.rsplit_once(" # ").unwrap();
    (value.trim().to_string(), origin.trim().to_string())
}

#[test]
fn without_a_file_every_setting_is_the_default() {
    let home = config_home("no-file");
    let out = mxtriage(&home, &["--print-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("(not present)"), "{printed}");
    for key in [
        "nameserver",
        "ca_file",
        "ehlo",
        "source",
        "sender_profile",
        "report_dir",
        "postfix_config",
        "no_relay",
    ] {
        assert_eq!(setting(&printed, key).1, "default", "{key}: {printed}");
    }
}

#[test]
fn mxtriage_config_names_another_file_or_none() {
    let home = config_home("env");
    write_config(&home, "ehlo = \"from-xdg.example.net\"\n");
    let other = home.join("relay2.toml");
    std::fs::write(&other, "ehlo = \"relay2.example.net\"\n").unwrap();
    let run = |value: &Path| {
        Command::new(env!("CARGO_BIN_EXE_mxtriage"))
            .arg("--print-config")
            .env("XDG_CONFIG_HOME", &home)
            .env("MXTRIAGE_CONFIG", value)
            .output()
            .unwrap()
    };
    let named = stdout(&run(&other));
    assert_eq!(
        setting(&named, "ehlo"),
        ("relay2.example.net".to_string(), other.display().to_string()),
        "{named}"
    );
    // A file named on purpose that is not there is a usage error, not silent defaults.
    let missing = run(&home.join("no-such.toml"));
    assert_eq!(missing.status.code(), Some(2), "{}", stdout(&missing));
    assert!(
        stderr(&missing).contains("no-such.toml") && stderr(&missing).contains("MXTRIAGE_CONFIG"),
        "{}",
        stderr(&missing)
    );
    let none = stdout(&run(Path::new("")));
    assert!(none.contains("# configuration file: none"), "{none}");
    assert_eq!(setting(&none, "ehlo").1, "default", "{none}");
}

#[test]
fn the_file_sets_each_key_and_the_command_line_wins() {
    let home = config_home("precedence");
    std::fs::write(home.join("relay-ca.pem"), "").unwrap();
    let path = write_config(
        &home,
        r#"
nameserver = ["192.0.2.53", "192.0.2.54:5353"]
ca_file = "../relay-ca.pem"
ehlo = "relay1.example.net"
source = "192.0.2.7"
sender_profile = "gnutls-default"
report_dir = "/var/lib/mxtriage/reports"
no_relay = true
"#,
    );
    let from_file = path.display().to_string();
    let out = mxtriage(&home, &["--print-config"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains(&format!("{from_file} (read)")), "{printed}");
    assert_eq!(
        setting(&printed, "nameserver"),
        ("192.0.2.53:53, 192.0.2.54:5353".into(), from_file.clone())
    );
    let ca = std::fs::canonicalize(home.join("relay-ca.pem")).unwrap();
    assert_eq!(
        setting(&printed, "ca_file"),
        (ca.display().to_string(), from_file.clone())
    );
    assert_eq!(
        setting(&printed, "ehlo"),
        ("relay1.example.net".into(), from_file.clone())
    );
    assert_eq!(setting(&printed, "source"), ("192.0.2.7".into(), from_file.clone()));
    assert_eq!(
        setting(&printed, "sender_profile"),
        ("gnutls-default".into(), from_file.clone())
    );
    assert_eq!(
        setting(&printed, "report_dir"),
        ("/var/lib/mxtriage/reports".into(), from_file.clone())
    );
    assert_eq!(setting(&printed, "no_relay"), ("true".into(), from_file.clone()));

    let out = mxtriage(
        &home,
        &[
            "--print-config",
            "--ehlo",
            "cli.example.org",
            "--nameserver",
            "198.51.100.1",
            "--postfix-config",
            "/etc/postfix-out",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed = stdout(&out);
    assert_eq!(
        setting(&printed, "ehlo"),
        ("cli.example.org".into(), "command line".into())
    );
    assert_eq!(
        setting(&printed, "nameserver"),
        ("198.51.100.1:53".into(), "command line".into())
    );
    // --postfix-config on the command line overrides the file's no_relay: the relay is one choice.
    assert_eq!(
        setting(&printed, "postfix_config"),
        ("/etc/postfix-out".into(), "command line".into())
    );
    assert_eq!(setting(&printed, "no_relay"), ("false".into(), "command line".into()));
    // What the command line did not name still comes from the file.
    assert_eq!(setting(&printed, "source"), ("192.0.2.7".into(), from_file));
}

#[test]
fn a_bad_file_is_a_usage_error_naming_the_file_and_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("ehlo = 5", "key `ehlo`", "expected a string, found integer"),
        (
            "nameserver = [\"resolver.example\"]",
            "key `nameserver`",
            "not an IP address",
        ),
        ("source = \"192.0.2.300\"", "key `source`", "not an IP address"),
        ("ehlo = \"bad name\\r\\nQUIT\"", "key `ehlo`", ""),
        ("sender_profile = \"netscape4\"", "key `sender_profile`", ""),
        (
            "ca_file = \"/nonexistent/ca.pem\"",
            "key `ca_file`",
            "not a readable file",
        ),
        ("no_relay = \"yes\"", "key `no_relay`", "expected true or false"),
        (
            "no_relay = true\npostfix_config = \"/etc/postfix\"",
            "key `no_relay`",
            "postfix_config",
        ),
        (
            "resolver = [\"192.0.2.53\"]",
            "unknown key `resolver`",
            "known: nameserver",
        ),
        ("ehlo = \"relay.example\n", "is not valid TOML", "line 1"),
    ];
    for (i, (text, key, detail)) in cases.iter().enumerate() {
        let home = config_home(&format!("bad-{i}"));
        let path = write_config(&home, text);
        for args in [&["--print-config"][..], &["check", "example.com"][..]] {
            let out = mxtriage(&home, args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{text:?} {args:?}: {err}");
            assert!(err.contains(&path.display().to_string()), "{text:?}: {err}");
            assert!(err.contains(key) && err.contains(detail), "{text:?}: {err}");
        }
        // Commands that do not use the file are not stopped by it.
        assert_eq!(
            mxtriage(&home, &["completions", "bash"]).status.code(),
            Some(0),
            "{text:?}"
        );
    }
}

mod common;

/// The file's resolver, CA file and EHLO name reach a real check against the lab.
#[tokio::test(flavor = "multi_thread")]
async fn a_check_uses_the_files_resolver_ca_file_and_ehlo_name() {
    let f = common::fixture("shell-config").await;
    let home = config_home("check");
    write_config(
        &home,
        &format!(
            "nameserver = [\"{}\"]\nca_file = \"{}\"\nehlo = \"from-config.mxtriage.invalid\"\nno_relay = true\n",
            f.lab.dns,
            f.ca_file.display()
        ),
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    command
        .args([
            "check",
            "healthy.lab.test",
            "--format",
            "json",
            "--timeout-command",
            "3",
        ])
        .args(["--port", &f.lab.port.to_string()])
        .env("XDG_CONFIG_HOME", &home)
        .env_remove("MXTRIAGE_CONFIG");
    let out = common::run(command).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["probes"][0]["ehlo_name"], "from-config.mxtriage.invalid");
    assert_eq!(v["probes"][0]["stage"], "done");
}
