//! The intake corpus: real-shaped bounces, DSNs and MTA log excerpts, one per file in
//! `tests/intake_corpus/`, each with its expected extraction in [`CORPUS`]. Every file
//! needs a row and every row a file, so the corpus and the table cannot drift apart.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mxtriage::intake::{self, Extracted, MtaFamily};

/// What a sample must yield. Every field is compared exactly (an unset field means
/// "must be None"), except `phrase`, which must contain the given text.
#[derive(Debug, Clone, Copy)]
struct Expect {
    recipient: Option<&'static str>,
    domain: Option<&'static str>,
    mx_host: Option<&'static str>,
    address: Option<&'static str>,
    port: Option<u16>,
    mta: Option<MtaFamily>,
    smtp_code: Option<u16>,
    enhanced_status: Option<&'static str>,
    phrase: Option<&'static str>,
    queue_age: Option<&'static str>,
    /// `Extracted::target()` as displayed.
    target: &'static str,
}

const NOTHING: Expect = Expect {
    recipient: None,
    domain: None,
    mx_host: None,
    address: None,
    port: None,
    mta: None,
    smtp_code: None,
    enhanced_status: None,
    phrase: None,
    queue_age: None,
    target: "",
};

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Found(Expect),
    /// `NotFound`: nothing in the sample names a destination.
    NotFound,
}

use MtaFamily::{Exchange, Exim, Other, Postfix, Qmail, Sendmail};
use Outcome::{Found, NotFound};

/// File name → expected extraction.
const CORPUS: &[(&str, Outcome)] = &[
    (
        "postfix-status-line.txt",
        Found(Expect {
            recipient: Some("user@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            address: Some("192.0.2.1"),
            port: Some(25),
            mta: Some(Postfix),
            enhanced_status: Some("4.7.5"),
            phrase: Some("Cannot start TLS: handshake failure"),
            queue_age: Some("3601 s"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "postfix-ssl-connect-log.txt",
        Found(Expect {
            recipient: Some("ops@example.net"),
            domain: Some("example.net"),
            mx_host: Some("mx.example.net"),
            address: Some("198.51.100.7"),
            port: Some(25),
            mta: Some(Postfix),
            enhanced_status: Some("4.7.5"),
            phrase: Some("Cannot start TLS: handshake failure"),
            queue_age: Some("0.42 s"),
            target: "example.net",
            ..NOTHING
        }),
    ),
    (
        "postfix-lost-connection.txt",
        Found(Expect {
            recipient: Some("billing@example.org"),
            domain: Some("example.org"),
            mx_host: Some("mx1.example.org"),
            address: Some("203.0.113.25"),
            port: Some(25),
            mta: Some(Postfix),
            enhanced_status: Some("4.4.2"),
            phrase: Some("lost connection with mx1.example.org[203.0.113.25] while receiving the STARTTLS response"),
            queue_age: Some("7260 s"),
            target: "example.org",
            ..NOTHING
        }),
    ),
    (
        "postfix-timed-out.txt",
        Found(Expect {
            mx_host: Some("mx2.example.org"),
            address: Some("203.0.113.26"),
            mta: Some(Postfix),
            phrase: Some(
                "conversation with mx2.example.org[203.0.113.26] timed out while performing the EHLO handshake",
            ),
            target: "[mx2.example.org]",
            ..NOTHING
        }),
    ),
    (
        "postfix-tls-not-offered.txt",
        Found(Expect {
            recipient: Some("sales@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            address: Some("192.0.2.10"),
            port: Some(25),
            mta: Some(Postfix),
            enhanced_status: Some("4.7.4"),
            phrase: Some("TLS is required, but was not offered by host mx.example.com[192.0.2.10]"),
            queue_age: Some("1.2 s"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "postfix-ipv6-refused-tls.txt",
        Found(Expect {
            recipient: Some("support@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx6.example.com"),
            address: Some("2001:db8::25"),
            port: Some(25),
            mta: Some(Postfix),
            smtp_code: Some(454),
            enhanced_status: Some("4.7.0"),
            phrase: Some("refused to start TLS: 454 4.7.0 TLS not available due to temporary reason"),
            queue_age: Some("0.8 s"),
            target: "example.com",
        }),
    ),
    (
        "postfix-said-exchange-reply.txt",
        Found(Expect {
            recipient: Some("payroll@example.org"),
            domain: Some("example.org"),
            mx_host: Some("mail.example.org"),
            address: Some("203.0.113.40"),
            port: Some(25),
            mta: Some(Postfix),
            smtp_code: Some(451),
            enhanced_status: Some("5.7.3"),
            phrase: Some("STARTTLS is required to send mail"),
            queue_age: Some("2.1 s"),
            target: "example.org",
        }),
    ),
    (
        "postfix-bounce.txt",
        Found(Expect {
            recipient: Some("bob@example.net"),
            domain: Some("example.net"),
            mx_host: Some("mx.example.net"),
            address: Some("198.51.100.7"),
            mta: Some(Postfix),
            smtp_code: Some(454),
            enhanced_status: Some("4.7.0"),
            phrase: Some("TLS not available due to temporary reason"),
            target: "example.net",
            ..NOTHING
        }),
    ),
    (
        "qmail-connection-died.txt",
        Found(Expect {
            address: Some("192.0.2.1"),
            mta: Some(Qmail),
            enhanced_status: Some("4.4.2"),
            phrase: Some("Connected to 192.0.2.1 but connection died."),
            target: "[192.0.2.1]",
            ..NOTHING
        }),
    ),
    (
        "qmail-tls-connect-failed.txt",
        Found(Expect {
            address: Some("198.51.100.33"),
            mta: Some(Qmail),
            phrase: Some("TLS connect failed: error:0A00010B:SSL routines::wrong version number"),
            target: "[198.51.100.33]",
            ..NOTHING
        }),
    ),
    (
        "qmail-bounce-queue-too-long.txt",
        Found(Expect {
            recipient: Some("peter@example.org"),
            domain: Some("example.org"),
            address: Some("203.0.113.5"),
            mta: Some(Qmail),
            enhanced_status: Some("4.4.2"),
            phrase: Some("Connected to 203.0.113.5 but connection died."),
            queue_age: Some("in the queue too long"),
            target: "example.org",
            ..NOTHING
        }),
    ),
    (
        "qmail-multilog.txt",
        Found(Expect {
            recipient: Some("carol@example.org"),
            domain: Some("example.org"),
            address: Some("203.0.113.9"),
            mta: Some(Qmail),
            enhanced_status: Some("4.4.2"),
            phrase: Some("Connected to 203.0.113.9 but connection died."),
            target: "example.org",
            ..NOTHING
        }),
    ),
    (
        "qmail-died-negotiating-starttls.txt",
        Found(Expect {
            recipient: Some("dana@example.com"),
            domain: Some("example.com"),
            address: Some("198.51.100.20"),
            mta: Some(Qmail),
            enhanced_status: Some("4.4.2"),
            phrase: Some("connection died while negotiating STARTTLS"),
            queue_age: Some("in the queue too long"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "exim-defer-tls-session.txt",
        Found(Expect {
            recipient: Some("erin@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            address: Some("192.0.2.1"),
            mta: Some(Exim),
            phrase: Some("TLS session: (SSL_connect): error:0A000410:SSL routines::sslv3 alert handshake failure"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "exim-gnutls-error.txt",
        Found(Expect {
            recipient: Some("frank@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            address: Some("192.0.2.1"),
            mta: Some(Exim),
            phrase: Some("(gnutls_handshake): The TLS connection was non-properly terminated."),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "exim-tls-required.txt",
        Found(Expect {
            recipient: Some("grace@example.org"),
            domain: Some("example.org"),
            mx_host: Some("mx1.example.org"),
            address: Some("203.0.113.25"),
            mta: Some(Exim),
            phrase: Some("a TLS session is required, but an attempt to start TLS failed"),
            target: "example.org",
            ..NOTHING
        }),
    ),
    (
        "exim-bounce.txt",
        Found(Expect {
            recipient: Some("grace@example.org"),
            domain: Some("example.org"),
            mx_host: Some("mx1.example.org"),
            address: Some("203.0.113.25"),
            mta: Some(Exim),
            enhanced_status: Some("5.0.0"),
            phrase: Some("a TLS session is required, but an attempt to start TLS failed"),
            target: "example.org",
            ..NOTHING
        }),
    ),
    (
        "sendmail-starttls-client.txt",
        Found(Expect {
            recipient: Some("henry@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            address: Some("192.0.2.1"),
            mta: Some(Sendmail),
            smtp_code: Some(403),
            enhanced_status: Some("4.7.0"),
            phrase: Some("TLS handshake failed."),
            queue_age: Some("00:00:01"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "sendmail-ruleset-tls-server.txt",
        Found(Expect {
            mx_host: Some("mx2.example.net"),
            address: Some("198.51.100.8"),
            mta: Some(Sendmail),
            smtp_code: Some(403),
            enhanced_status: Some("4.7.0"),
            phrase: Some("TLS handshake failed."),
            target: "[mx2.example.net]",
            ..NOTHING
        }),
    ),
    (
        "sendmail-warning-bounce.txt",
        Found(Expect {
            recipient: Some("henry@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            mta: Some(Sendmail),
            smtp_code: Some(403),
            enhanced_status: Some("4.7.0"),
            phrase: Some("TLS handshake failed."),
            queue_age: Some("4 hours"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "exchange-online-4.4.317.txt",
        Found(Expect {
            recipient: Some("ivan@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            address: Some("192.0.2.1"),
            port: Some(25),
            mta: Some(Exchange),
            smtp_code: Some(450),
            enhanced_status: Some("4.4.317"),
            phrase: Some("STARTTLS is required to send mail"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "exchange-onprem-queue-expired.txt",
        Found(Expect {
            recipient: Some("karl@example.org"),
            domain: Some("example.org"),
            mx_host: Some("mx.example.org"),
            address: Some("203.0.113.25"),
            mta: Some(Exchange),
            smtp_code: Some(451),
            enhanced_status: Some("5.7.3"),
            phrase: Some("STARTTLS is required to send mail"),
            queue_age: Some("QUEUE.Expired; message expired"),
            target: "example.org",
            ..NOTHING
        }),
    ),
    (
        "dsn-delivery-status.txt",
        Found(Expect {
            recipient: Some("leo@example.net"),
            domain: Some("example.net"),
            mx_host: Some("mx.example.net"),
            smtp_code: Some(454),
            enhanced_status: Some("4.7.0"),
            phrase: Some("TLS not available due to temporary reason"),
            target: "example.net",
            ..NOTHING
        }),
    ),
    (
        "gmail-tls-negotiation.txt",
        Found(Expect {
            recipient: Some("nina@example.com"),
            domain: Some("example.com"),
            mta: Some(Other),
            phrase: Some("TLS Negotiation failed, the certificate doesn't match the host."),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "swaks-tls-failed.txt",
        Found(Expect {
            recipient: Some("olga@example.com"),
            domain: Some("example.com"),
            mx_host: Some("mx.example.com"),
            port: Some(25),
            mta: Some(Other),
            phrase: Some("TLS startup failed (connect(): error:0A000086:SSL routines::certificate verify failed)"),
            target: "example.com",
            ..NOTHING
        }),
    ),
    (
        "openssl-s-client.txt",
        Found(Expect {
            mx_host: Some("mx.example.com"),
            port: Some(25),
            mta: Some(Other),
            phrase: Some("Didn't find STARTTLS in server response, trying anyway..."),
            target: "[mx.example.com]:25",
            ..NOTHING
        }),
    ),
    ("negative-empty.txt", NotFound),
    ("negative-unrelated-text.txt", NotFound),
    ("negative-phrase-only.txt", NotFound),
    ("negative-binary-garbage.bin", NotFound),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/intake_corpus")
}

/// Samples are read as bytes: the binary one is not UTF-8, and a paste arrives lossy.
fn sample(name: &str) -> String {
    let bytes = std::fs::read(corpus_dir().join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"));
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn every_corpus_file_has_a_row_and_every_row_a_file() {
    let files: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let rows: BTreeSet<String> = CORPUS.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(rows.len(), CORPUS.len(), "a file name appears twice in CORPUS");
    let without_row: Vec<_> = files.difference(&rows).collect();
    let without_file: Vec<_> = rows.difference(&files).collect();
    assert!(
        without_row.is_empty(),
        "corpus files with no expectation row: {without_row:?}"
    );
    assert!(
        without_file.is_empty(),
        "expectation rows with no corpus file: {without_file:?}"
    );
}

#[test]
fn the_corpus_is_broad_enough() {
    let positives: Vec<&Expect> = CORPUS
        .iter()
        .filter_map(|(_, o)| match o {
            Found(e) => Some(e),
            NotFound => None,
        })
        .collect();
    assert!(positives.len() >= 20, "only {} positive samples", positives.len());
    assert!(CORPUS.len() - positives.len() >= 3, "fewer than 3 negative samples");
    for family in [Postfix, Qmail, Exim, Sendmail, Exchange, Other] {
        assert!(
            positives.iter().any(|e| e.mta == Some(family)),
            "no sample for {family}"
        );
    }
}

/// Compares one extraction with its row; returns the differences, if any.
fn differences(name: &str, found: &Extracted, want: &Expect) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |field: &str, got: Option<String>, want: Option<String>| {
        if got != want {
            out.push(format!("{name}: {field}: got {got:?}, want {want:?}"));
        }
    };
    check("recipient", found.recipient.clone(), want.recipient.map(str::to_string));
    check("domain", found.domain.clone(), want.domain.map(str::to_string));
    check("mx_host", found.mx_host.clone(), want.mx_host.map(str::to_string));
    check(
        "address",
        found.address.map(|a| a.to_string()),
        want.address.map(str::to_string),
    );
    check(
        "port",
        found.port.map(|p| p.to_string()),
        want.port.map(|p| p.to_string()),
    );
    check("mta", found.mta.map(|m| m.to_string()), want.mta.map(|m| m.to_string()));
    check(
        "smtp_code",
        found.smtp_code.map(|c| c.to_string()),
        want.smtp_code.map(|c| c.to_string()),
    );
    check(
        "enhanced_status",
        found.enhanced_status.clone(),
        want.enhanced_status.map(str::to_string),
    );
    check("queue_age", found.queue_age.clone(), want.queue_age.map(str::to_string));
    check(
        "target",
        found.target().map(|t| t.to_string()),
        Some(want.target.to_string()),
    );
    match (&found.phrase, want.phrase) {
        (Some(got), Some(part)) if got.contains(part) => {}
        (None, None) => {}
        (got, part) => out.push(format!("{name}: phrase: got {got:?}, want one containing {part:?}")),
    }
    out
}

/// The sample with every line ending written as `ending` (the files are stored with LF).
fn with_line_ends(text: &str, ending: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', ending)
}

#[test]
fn every_sample_extracts_as_expected() {
    let mut problems = Vec::new();
    for (name, outcome) in CORPUS {
        let result = intake::extract(&sample(name));
        match (outcome, result) {
            (Found(want), Ok(found)) => problems.extend(differences(name, &found, want)),
            (Found(_), Err(e)) => problems.push(format!("{name}: expected an extraction, got {e}")),
            (NotFound, Ok(found)) => problems.push(format!("{name}: expected NotFound, got {found:?}")),
            (NotFound, Err(_)) => {}
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A bracketed paste from xterm, VTE, PuTTY or tmux ends its lines with CR, a file
/// saved on Windows with CRLF: every sample must extract exactly as with LF.
#[test]
fn cr_and_crlf_line_ends_extract_as_lf_does() {
    let mut problems = Vec::new();
    for (name, _) in CORPUS {
        let lf = intake::extract(&sample(name));
        for (label, ending) in [("CR", "\r"), ("CRLF", "\r\n")] {
            let other = intake::extract(&with_line_ends(&sample(name), ending));
            if other != lf {
                problems.push(format!("{name} with {label}: got {other:?}, with LF {lf:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Each sample is one bounce or one failure: it names one destination, no list to pick from.
#[test]
fn each_sample_names_one_destination() {
    for (name, outcome) in CORPUS {
        let listed: Vec<String> = intake::destinations(&sample(name))
            .iter()
            .map(ToString::to_string)
            .collect();
        match outcome {
            Found(want) => assert_eq!(listed, [want.target], "{name}"),
            NotFound => assert!(listed.is_empty(), "{name}: {listed:?}"),
        }
    }
}

#[test]
fn a_bracketed_mx_and_address_name_the_relay() {
    let found = intake::extract("Your message wasn't delivered to user@example.com.\r[mx.example.com. 192.0.2.1]\r")
        .expect("extraction");
    assert_eq!(found.mx_host.as_deref(), Some("mx.example.com"));
    assert_eq!(found.address.map(|a| a.to_string()).as_deref(), Some("192.0.2.1"));
    assert_eq!(found.domain.as_deref(), Some("example.com"));
    // A bracketed word and number is not a relay.
    assert!(intake::extract("[note 1234]").is_err());
}

#[test]
fn a_qmail_connected_to_line_names_the_address_without_a_status() {
    for text in [
        "Connected to 192.0.2.1 but connection died",
        "Connected to 192.0.2.1 but connection died.\rI'm not going to try again.",
        "<peter@example.org>:\r\nConnected to 192.0.2.1 but connection died; giving up\r\n",
    ] {
        let found = intake::extract(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            found.address.map(|a| a.to_string()).as_deref(),
            Some("192.0.2.1"),
            "{text:?}"
        );
        assert_eq!(found.mta, Some(Qmail), "{text:?}");
        assert!(
            found
                .phrase
                .as_deref()
                .is_some_and(|p| p.starts_with("Connected to 192.0.2.1 but connection died")),
            "{text:?}: {found:?}"
        );
    }
}

#[test]
fn negative_samples_say_what_was_looked_for() {
    for (name, outcome) in CORPUS {
        if !matches!(outcome, NotFound) {
            continue;
        }
        let err = intake::extract(&sample(name)).expect_err(name);
        let message = err.to_string();
        assert!(
            message.starts_with("could not find a destination in this text; looked for: "),
            "{message}"
        );
        for form in [
            "to=<rcpt>",
            "relay=mx[ip]:port",
            "H=mx [ip]",
            "Connected to ip",
            "Final-Recipient",
            "Remote-MTA",
        ] {
            assert!(
                message.contains(form),
                "{name}: the message does not mention {form}: {message}"
            );
        }
        assert!(
            !message.chars().any(char::is_control),
            "{name}: control character in {message:?}"
        );
    }
}

#[test]
fn extractions_round_trip_through_json() {
    let found = intake::extract(&sample("exchange-online-4.4.317.txt")).expect("extraction");
    let json = serde_json::to_string(&found).expect("serialises");
    assert!(json.contains("\"mta\":\"exchange\""), "{json}");
    let back: Extracted = serde_json::from_str(&json).expect("deserialises");
    assert_eq!(back, found);
}

#[test]
fn recognised_forms_are_listed_for_help_text() {
    let forms: Vec<_> = intake::recognised_forms().collect();
    assert!(forms.len() > 40, "only {} forms", forms.len());
    assert!(forms.iter().any(|f| f.name == "postfix-status-line"));
}

/// `mxtriage parse` with `input` on standard input: exit code and standard output.
fn parse_cli(args: &[&str], input: &str) -> (i32, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxtriage"))
        .env("MXTRIAGE_CONFIG", "")
        .arg("parse")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mxtriage parse");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn parse_prints_the_extraction_for_scripts_whatever_the_line_ends() {
    for (name, outcome) in CORPUS.iter().filter(|(n, _)| n.ends_with(".txt")) {
        for ending in ["\n", "\r\n", "\r"] {
            let (code, out) = parse_cli(&["--format", "json", "-"], &with_line_ends(&sample(name), ending));
            let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}: {out}"));
            match outcome {
                Found(want) => {
                    assert_eq!(code, 0, "{name} {ending:?}");
                    assert_eq!(json["target"], want.target, "{name} {ending:?}");
                }
                NotFound => {
                    assert_eq!(code, 3, "{name} {ending:?}");
                    assert!(json["target"].is_null());
                }
            }
        }
    }
    let (code, out) = parse_cli(&[], "Connected to 192.0.2.1 but connection died\r");
    assert_eq!(code, 0);
    assert!(out.contains("address  192.0.2.1\n"), "{out}");
    assert_eq!(parse_cli(&[], "nothing to see").0, 3);
    let path = corpus_dir().join("postfix-status-line.txt");
    let (code, out) = parse_cli(&[path.to_str().unwrap()], "");
    assert_eq!(code, 0);
    assert!(out.starts_with("target     example.com\n"), "{out}");
    assert_eq!(parse_cli(&["/nonexistent/bounce.txt"], "").0, 2);
}
