//! Reports: Markdown snapshots for several verdicts, JSON round trip through
//! `report show`, `report diff` across two runs, `--compare`, and safe saving.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

mod common;

use std::process::Command;

use common::{Fixture, fixture, run};
use mxtriage::diagnose::Answers;
use mxtriage::report::{Session, render_markdown};

/// Makes a live session reproducible: fixed host, time, ports and timings.
fn normalise(session: &mut Session) {
    let check = &mut session.check;
    check.vantage_host = "relay.example.test".into();
    check.started_at = 1_795_900_000;
    check.elapsed_ms = 0;
    check.resolution.elapsed_ms = 0;
    for p in &mut check.probes {
        p.address.set_port(25);
        if let Some(local) = &mut p.local_address {
            local.set_port(40000);
        }
        p.timings = Default::default();
        for line in &mut p.transcript {
            line.at_ms = 0;
        }
    }
    if let Some(policy) = &mut check.recipient {
        for address in policy.dane.iter_mut().flat_map(|h| h.addresses.iter_mut()) {
            address.address.set_port(25);
        }
        for failure in policy.mta_sts.mx.iter_mut().flat_map(|m| m.failures.iter_mut()) {
            failure.address.set_port(25);
        }
    }
}

async fn session(f: &Fixture, scenario: &str) -> Session {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    command.env("MXTRIAGE_CONFIG", "");
    command.args([
        "check",
        "--no-relay",
        &format!("{scenario}.lab.test"),
        "--format",
        "json",
        "--timeout-command",
        "3",
    ]);
    command.args([
        "--port",
        &f.lab.port.to_string(),
        "--nameserver",
        &f.lab.resolver_for(&format!("{scenario}.lab.test")).to_string(),
        "--ehlo",
        "relay.example.test",
        "--mta-sts-port",
        &f.lab.port.to_string(),
        "--authority-port",
        &f.lab.dns.port().to_string(),
    ]);
    command.arg("--ca-file").arg(&f.ca_file);
    let out = run(command).await;
    let mut session: Session = serde_json::from_slice(&out.stdout).expect("JSON session");
    normalise(&mut session);
    // Rebuild the verdict over the normalised evidence (dates, ports).
    Session::new(session.check, Answers::new()).expect("diagnosis")
}

fn snapshot(name: &str, markdown: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{64}", "[sha256]");
    settings.add_filter(r"[0-9a-f]{24}…", "[hex]…");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[time]");
    settings.add_filter(r"\(\d+ days (left|ago)\)", "(N days $1)");
    settings.add_filter(r"\d+ days left", "N days left");
    settings.add_filter(r"expired \d+ days ago", "expired N days ago");
    settings.add_filter(r"127\.77\.0\.\d+", "127.77.0.x");
    settings.add_filter(r"(127\.[0-9.x]+):\d+", "$1:[port]");
    settings.add_filter(r"mxtriage \d+\.\d+\.\d+", "mxtriage [version]");
    settings.bind(|| insta::assert_snapshot!(name, markdown));
}

#[tokio::test(flavor = "multi_thread")]
async fn markdown_reports_for_several_verdicts() {
    let f = fixture("md-snapshots").await;
    for scenario in [
        "expired",
        "two-mx",
        "nxdomain",
        "starttls-masked",
        "sts-enforce-expired",
        "dane-rotation",
    ] {
        let s = session(&f, scenario).await;
        snapshot(&format!("markdown_{scenario}"), &render_markdown(&s));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_round_trips_through_report_show() {
    let f = fixture("round-trip").await;
    let original = session(&f, "expired").await;
    let path = f.dir.join("expired.json");
    std::fs::write(&path, original.to_json()).unwrap();
    let loaded = Session::load(&path).unwrap();
    assert_eq!(loaded, original);
    // The recipient-policy evidence survives the trip and yields the same verdict.
    for scenario in ["dane-rotation", "sts-mx-not-covered", "stale-mx"] {
        let original = session(&f, scenario).await;
        assert!(original.check.recipient.is_some(), "{scenario}");
        let path = f.dir.join(format!("{scenario}.json"));
        std::fs::write(&path, original.to_json()).unwrap();
        let loaded = Session::load(&path).unwrap();
        assert_eq!(loaded, original, "{scenario}");
        assert_eq!(
            loaded.verdict.id,
            scenario.replace("stale-mx", "dns-stale-cache"),
            "{scenario}"
        );
    }

    let mut show = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    show.env("MXTRIAGE_CONFIG", "");
    show.args(["report", "show"]).arg(&path).args(["--format", "markdown"]);
    let out = run(show).await;
    assert_eq!(out.status.code(), Some(1), "exit code follows the saved verdict");
    assert_eq!(String::from_utf8_lossy(&out.stdout), render_markdown(&original));

    let bad = f.dir.join("bad.json");
    std::fs::write(&bad, "{\"schema_version\": 99}").unwrap();
    let mut show = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    show.env("MXTRIAGE_CONFIG", "");
    show.args(["report", "show"]).arg(&bad);
    let out = run(show).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema_version 99"));
}

fn check_to_file(f: &Fixture, scenario: &str, file: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    command.env("MXTRIAGE_CONFIG", "");
    command
        .args(["check", "--no-relay", &format!("{scenario}.lab.test"), "-o"])
        .arg(file);
    if !extra.contains(&"--format") {
        command.args(["--format", "json"]);
    }
    command.args([
        "--port",
        &f.lab.port.to_string(),
        "--nameserver",
        &f.lab.dns.to_string(),
    ]);
    command.arg("--ca-file").arg(&f.ca_file);
    command.args(extra);
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_explains_a_real_difference_and_compare_answers_vantage() {
    let f = fixture("diff").await;
    // The flaky server alternates: the first check succeeds, the second fails.
    let (good, bad) = (f.dir.join("good.json"), f.dir.join("bad.json"));
    assert_eq!(run(check_to_file(&f, "flaky", &good, &[])).await.status.code(), Some(0));
    assert_eq!(run(check_to_file(&f, "flaky", &bad, &[])).await.status.code(), Some(1));

    let mut diff = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    diff.env("MXTRIAGE_CONFIG", "");
    diff.args(["report", "diff"]).arg(&bad).arg(&good);
    let out = run(diff).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "differences found");
    assert!(
        text.contains("(closed_after_starttls)") && text.contains("(ok)"),
        "{text}"
    );
    assert!(
        text.contains("works from one vantage point and fails from the other"),
        "{text}"
    );

    // The third connection works, the fourth fails again; compared with the good report,
    // the tree hears "works from elsewhere".
    assert_eq!(
        run(check_to_file(&f, "flaky", &f.dir.join("ok.json"), &[]))
            .await
            .status
            .code(),
        Some(0)
    );
    let third = f.dir.join("third.json");
    let mut command = check_to_file(&f, "flaky", &third, &["--compare"]);
    command.arg(&good);
    assert_eq!(run(command).await.status.code(), Some(1));
    let session = Session::load(&third).unwrap();
    assert_eq!(session.answers.get("vantage").map(String::as_str), Some("works"));
    assert_eq!(session.verdict.id, "middlebox-drop");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_file_is_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture("output").await;
    let path = f.dir.join("report.md");
    let mut first = check_to_file(&f, "healthy", &path, &["--format", "markdown"]);
    first.env("XDG_DATA_HOME", f.dir.join("data"));
    assert_eq!(run(first).await.status.code(), Some(0));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let before = std::fs::read_to_string(&path).unwrap();
    assert!(before.starts_with("# STARTTLS triage: healthy.lab.test"));
    let out = run(check_to_file(&f, "healthy", &path, &[])).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "refused up front as a usage error, not hidden"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        before,
        "nothing was overwritten"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn save_writes_json_and_markdown_under_the_data_directory() {
    let f = fixture("save").await;
    let data = f.dir.join("data");
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    command.env("MXTRIAGE_CONFIG", "");
    command.args([
        "check",
        "--no-relay",
        "healthy.lab.test",
        "--save",
        "--port",
        &f.lab.port.to_string(),
    ]);
    command
        .args(["--nameserver", &f.lab.dns.to_string()])
        .arg("--ca-file")
        .arg(&f.ca_file);
    command.env("XDG_DATA_HOME", &data);
    let out = run(command).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let saved: Vec<String> = std::fs::read_dir(data.join("mxtriage/reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        saved
            .iter()
            .any(|n| n.starts_with("healthy.lab.test-") && n.ends_with(".json")),
        "{saved:?}"
    );
    assert!(saved.iter().any(|n| n.ends_with(".md")), "{saved:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_report_is_shown_escaped_and_rediagnosed() {
    let f = fixture("tampered").await;
    let original = session(&f, "sts-mx-not-covered").await;
    let mut value: serde_json::Value = serde_json::from_str(&original.to_json()).unwrap();
    // Escape sequences where plain strings live, and a verdict that claims all is well.
    value["resolution"]["hosts"][0]["name"] = "mx\u{1b}[2J.example".into();
    value["recipient"]["dns"]["views"][0]["label"] = "resolver\u{202e}evil".into();
    value["verdict"]["id"] = "healthy".into();
    value["verdict"]["title"] = "All good \u{1b}]0;pwned\u{7}".into();
    let path = f.dir.join("tampered.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    let loaded = Session::load(&path).unwrap();
    assert_eq!(loaded.check.resolution.hosts[0].name, "mx\\x1b[2J.example");
    let label = &loaded.check.recipient.as_ref().unwrap().dns.as_ref().unwrap().views[0].label;
    assert_eq!(label, "resolver\\x202eevil");
    assert_eq!(
        loaded.verdict.id, "sts-mx-not-covered",
        "the verdict comes from the evidence"
    );
    assert!(!render_markdown(&loaded).contains('\u{1b}'));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_from_the_far_future_is_shown_not_a_panic() {
    let f = fixture("far-future").await;
    // An expired certificate: its verdict carries a dated workaround (started_at + days).
    let original = session(&f, "expired").await;
    assert!(original.verdict.workaround.is_some(), "the scenario needs a workaround");
    let mut value: serde_json::Value = serde_json::from_str(&original.to_json()).unwrap();
    // The last second a date can hold, so the expiry overflows; and a u64 that `as i64` wraps.
    for (name, started_at) in [("last-second", 253_402_300_799_u64), ("u64-max", u64::MAX)] {
        value["started_at"] = started_at.into();
        let path = f.dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        for format in ["text", "markdown", "json"] {
            let mut show = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
            show.env("MXTRIAGE_CONFIG", "");
            show.args(["report", "show"]).arg(&path).args(["--format", format]);
            let out = run(show).await;
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {format}: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
        let mut diff = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
        diff.env("MXTRIAGE_CONFIG", "");
        diff.args(["report", "diff"]).arg(&path).arg(&path);
        let out = run(diff).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

        let mut compare = check_to_file(&f, "healthy", &f.dir.join(format!("{name}-now.json")), &["--compare"]);
        compare.arg(&path);
        let out = run(compare).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_string_fields_of_a_loaded_report_are_capped() {
    let f = fixture("capped").await;
    let original = session(&f, "healthy").await;
    let mut value: serde_json::Value = serde_json::from_str(&original.to_json()).unwrap();
    // Plain `String` fields, not SafeText: only the load path can cap them.
    value["vantage_host"] = "v".repeat(1 << 20).into();
    value["resolution"]["hosts"][0]["name"] = "m".repeat(1 << 20).into();
    let path = f.dir.join("long.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    let loaded = Session::load(&path).unwrap();
    for field in [&loaded.check.vantage_host, &loaded.check.resolution.hosts[0].name] {
        assert!(field.ends_with("…[truncated]"), "{}", field.len());
        assert!(field.chars().count() <= mxtriage::text::MAX_SAVED_CHARS + 12);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_text_in_the_ticket_cannot_ping_link_or_hide() {
    let f = fixture("md-neutral").await;
    let original = session(&f, "expired").await;
    let mut value: serde_json::Value = serde_json::from_str(&original.to_json()).unwrap();
    let hostile = "@security-team see https://evil.example/x &rlm; www.evil.example\u{2028}\u{E0041}\u{3164}";
    value["resolution"]["query"] = hostile.into();
    value["resolution"]["hosts"][0]["cname_chain"] = serde_json::json!([hostile]);
    let path = f.dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    let mut show = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    show.env("MXTRIAGE_CONFIG", "");
    show.args(["report", "show"]).arg(&path).args(["--format", "markdown"]);
    let out = run(show).await;
    let markdown = String::from_utf8_lossy(&out.stdout);
    // Where the text shows (the CNAME line, the postmaster note), every trigger is in a
    // code span or escaped, and the invisible characters are spelled out.
    let shown = "`@security-team` see `https://evil.example/x` \\&rlm; `www.evil.example\\x2028\\xe0041\\x3164`";
    assert!(markdown.matches(shown).count() >= 2, "{markdown}");
    for raw in [
        " @security-team",
        " https://evil",
        " &rlm;",
        "\u{2028}",
        "\u{E0041}",
        "\u{3164}",
    ] {
        assert!(!markdown.contains(raw), "{raw:?} passed raw:\n{markdown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_padded_certificate_name_stays_on_its_own_line_in_the_reports() {
    let f = fixture("padded-name").await;
    let original = session(&f, "expired").await;
    let mut value: serde_json::Value = serde_json::from_str(&original.to_json()).unwrap();
    let pad = " ".repeat(200);
    value["probes"][0]["chain"]["certificates"][0]["subject"] =
        format!("CN=mx.expired.lab.test{pad}trust Mozilla roots: trusted{pad}").into();
    let path = f.dir.join("padded.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    for format in ["text", "markdown"] {
        let mut show = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
        show.env("MXTRIAGE_CONFIG", "");
        show.args(["report", "show"]).arg(&path).args(["--format", format]);
        let out = run(show).await;
        let shown = String::from_utf8_lossy(&out.stdout);
        // One space where the padding was: a terminal that soft-wraps the line no longer
        // starts a row with the fake "trust" line after a screenful of blanks.
        assert!(
            shown.contains("subject CN=mx.expired.lab.test trust Mozilla roots: trusted\n"),
            "{format}:\n{shown}"
        );
    }
}

/// Exim host lists take `!` (negate), `*` (every host) and `:` (separator) from the
/// text: an MX name carrying them must never reach a generated configuration line,
/// and a loaded report is rediagnosed, so the check holds for files too.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_mx_name_in_a_loaded_report_yields_no_config_line() {
    let f = fixture("hostile-mx-name").await;
    for (scenario, exim_key, postfix_line) in [
        ("starttls-454", "hosts_require_tls", "starttls-454.lab.test    may"),
        ("expired", "tls_verify_hosts", "expired.lab.test    encrypt"),
    ] {
        let original = session(&f, scenario).await;
        let live = render_markdown(&original);
        assert!(live.contains(&format!("{exim_key} = ! ")), "{scenario}: {live}");
        let mut value: serde_json::Value = serde_json::from_str(&original.to_json()).unwrap();
        let probes = value["probes"].as_array_mut().expect("probes");
        assert!(!probes.is_empty(), "{scenario}");
        for probe in probes {
            probe["mx"] = "mx.lab.test : ! * :".into();
        }
        let path = f.dir.join(format!("hostile-{scenario}.json"));
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();

        let loaded = Session::load(&path).unwrap();
        let workaround = loaded.verdict.workaround.as_ref().expect("a workaround");
        assert!(
            !workaround.exim.contains(&format!("{exim_key} =")),
            "{scenario}: {}",
            workaround.exim
        );
        assert!(
            workaround.exim.lines().all(|l| l.is_empty() || l.starts_with('#')),
            "{scenario}: only comments in place of the Exim line: {}",
            workaround.exim
        );
        // The Postfix entry names the destination, not the MX hosts: it stays.
        assert!(
            workaround.postfix.contains(postfix_line),
            "{scenario}: {}",
            workaround.postfix
        );

        for format in ["markdown", "text"] {
            let mut show = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
            show.env("MXTRIAGE_CONFIG", "");
            show.args(["report", "show"]).arg(&path).args(["--format", format]);
            let out = run(show).await;
            let shown = String::from_utf8_lossy(&out.stdout);
            assert!(
                !shown.contains(&format!("{exim_key} =")),
                "{scenario} {format}: {shown}"
            );
            assert!(
                shown.contains("mxtriage wrote no Exim line")
                    && shown.contains("is not a host name or an IP address (it contains a space"),
                "{scenario} {format}: {shown}"
            );
        }
    }
}

/// The ticket's decision path says each step's real answer to its question as phrased:
/// a healthy server is not "missing STARTTLS", and the step that found the fault is marked.
#[tokio::test(flavor = "multi_thread")]
async fn decision_path_answers_each_question_as_phrased() {
    let f = fixture("md-path").await;
    let healthy = render_markdown(&session(&f, "healthy").await);
    assert!(
        healthy.contains("Is STARTTLS missing from the server's EHLO reply? → no\n"),
        "{healthy}"
    );
    assert!(
        !healthy.contains("(the finding)"),
        "a healthy walk finds nothing:\n{healthy}"
    );
    let no_starttls = render_markdown(&session(&f, "no-starttls").await);
    assert!(
        no_starttls.contains("Is STARTTLS missing from the server's EHLO reply? → **yes** (the finding)\n"),
        "{no_starttls}"
    );
    let two_mx = render_markdown(&session(&f, "two-mx").await);
    assert!(
        two_mx.contains("Did the server close right after saying 220? → **yes** (the finding)\n"),
        "{two_mx}"
    );
    // A question left open reads as its answer's words, not its key.
    assert!(
        two_mx.contains("from elsewhere too? → Don't know / not tested (not answered)\n"),
        "{two_mx}"
    );
    assert_eq!(
        two_mx.matches("(the finding)").count(),
        2,
        "one step, in the list and the chart"
    );
}

/// The same path as a Mermaid flowchart: one box per step in order, the branch taken on
/// each edge, the finding's box marked and the verdict as the leaf.
#[tokio::test(flavor = "multi_thread")]
async fn ticket_carries_the_path_as_a_mermaid_flowchart() {
    let f = fixture("md-mermaid").await;
    let s = session(&f, "two-mx").await;
    let markdown = render_markdown(&s);
    let start = markdown.find("```mermaid\nflowchart TD\n").expect("a mermaid block");
    let chart = &markdown[start..];
    let chart = &chart[..chart[3..].find("```").expect("closed") + 3];
    let steps = s.verdict.steps.len();
    assert_eq!(chart.matches(" -->|\"").count(), steps, "{chart}");
    for i in 1..steps {
        assert!(
            chart.contains(&format!("| s{}\n", i + 1)),
            "s{i} leads to s{}: {chart}",
            i + 1
        );
    }
    assert!(
        chart.contains(
            "[\"20. Did the server close right after saying 220?\"]:::finding -->|\"yes (the finding)\"| s21\n"
        ),
        "{chart}"
    );
    assert!(
        chart.contains("-->|\"Don't know / not tested (not answered)\"| verdict\n"),
        "{chart}"
    );
    assert!(
        chart.contains("verdict([\"Verdict: The server's TLS layer dies right after it says 220\"])"),
        "{chart}"
    );
    // Inside a quoted label nothing but entity codes stands for quotes and markup.
    for line in chart.lines().filter(|l| l.starts_with("  s")) {
        assert_eq!(line.matches('"').count(), 4, "{line}");
    }
}

/// Only one MX of two fails: the note names it and its address and does not say mail
/// "is failing"; Postfix gets no domain-wide line, Exim excludes that host only.
#[tokio::test(flavor = "multi_thread")]
async fn one_failing_mx_of_two_gets_a_host_specific_note_and_no_domain_wide_postfix_line() {
    let f = fixture("md-one-mx").await;
    let s = session(&f, "two-mx").await;
    let markdown = render_markdown(&s);
    let note = &markdown[markdown.find("## Note for the recipient's postmaster").expect("a note")..];
    assert!(!note.contains("is failing"), "{note}");
    assert!(note.contains("still goes out through mx1.two-mx.lab.test"), "{note}");
    let failing = s.check.probes.iter().find(|p| p.mx.starts_with("mx2.")).expect("mx2");
    assert!(
        note.contains(&format!("but mx2.two-mx.lab.test \\[{}\\] fails", failing.address.ip())),
        "{note}"
    );
    let workaround = s.verdict.workaround.as_ref().expect("a workaround");
    assert!(
        workaround.postfix.lines().all(|l| l.is_empty() || l.starts_with('#')),
        "{}",
        workaround.postfix
    );
    assert!(workaround.postfix.contains("cannot exempt"), "{}", workaround.postfix);
    assert!(
        workaround
            .exim
            .contains("hosts_require_tls = ! mx2.two-mx.lab.test : *")
    );
}

/// Where every address fails, the note still names the host and address it is about.
#[tokio::test(flavor = "multi_thread")]
async fn the_postmaster_note_names_the_failing_host_and_address() {
    let f = fixture("md-note").await;
    let s = session(&f, "expired").await;
    let markdown = render_markdown(&s);
    let ip = s.check.probes[0].address.ip();
    assert!(
        markdown.contains(&format!("is failing at the TLS stage on mx.expired.lab.test [{ip}].")),
        "{markdown}"
    );
}

/// Operator text carries the question's words, never a tree id; a leaf that is already
/// low is not "lowered from low".
#[tokio::test(flavor = "multi_thread")]
async fn answers_read_as_their_questions_and_low_is_not_lowered_from_low() {
    let f = fixture("md-words").await;
    let s = session(&f, "healthy").await;
    let answers: Answers = [("still-failing", "yes"), ("sender-policy", "encrypt")]
        .into_iter()
        .map(|(q, a)| (q.to_string(), a.to_string()))
        .collect();
    let answered = Session::new(s.check.clone(), answers).unwrap();
    let markdown = render_markdown(&answered);
    assert!(!markdown.contains("ask-"), "{markdown}");
    assert!(
        markdown.contains(
            "- operator's answer: What does this relay demand for this destination? → TLS required, certificate not checked"
        ),
        "{markdown}"
    );
    let unanswered: Answers = [("still-failing", "yes")]
        .into_iter()
        .map(|(q, a)| (q.to_string(), a.to_string()))
        .collect();
    let open = Session::new(s.check, unanswered).unwrap();
    let markdown = render_markdown(&open);
    assert!(!markdown.contains("lowered from low"), "{markdown}");
}

/// An address target has no domain: the probe goes to postmaster at the address
/// literal (RFC 5321 §4.1.3), quoted so no shell takes the brackets for a glob.
#[tokio::test(flavor = "multi_thread")]
async fn an_ip_target_is_probed_as_postmaster_at_the_address_literal() {
    let f = fixture("md-ip").await;
    let ip = session(&f, "expired").await.check.probes[0].address.ip();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mxtriage"));
    command.env("MXTRIAGE_CONFIG", "");
    command.args(["check", "--no-relay", &format!("[{ip}]"), "--format", "markdown"]);
    command.args(["--timeout-command", "3", "--port", &f.lab.port.to_string()]);
    command
        .args(["--ehlo", "relay.example.test"])
        .arg("--ca-file")
        .arg(&f.ca_file);
    let out = run(command).await;
    let markdown = String::from_utf8_lossy(&out.stdout);
    assert!(
        markdown.contains(&format!("swaks --to 'postmaster@[{ip}]' --server {ip} ")),
        "{markdown}"
    );
}

/// Issue 13: the ticket and the text report list what is wrong by address, each group
/// with its problem and its addresses, the group the headline names first, and no
/// evidence line twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_pool_failing_in_three_ways_is_reported_by_address() {
    let f = fixture("md-mixed-pool").await;
    let s = session(&f, "mixed-pool").await;
    assert_eq!(s.verdict.groups.len(), 3, "{:#?}", s.verdict.groups);
    let markdown = render_markdown(&s);
    let text = mxtriage::report::render_text(&s, false);
    let section = markdown
        .find("## What is wrong, by address")
        .map(|at| &markdown[at..])
        .expect("a by-address section");
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    let mut last = 0;
    for title in [
        "The certificate does not cover the MX host name",
        "The server does not send its intermediate certificate",
        "The certificate is not issued by a trusted CA",
    ] {
        let at = section
            .find(title)
            .unwrap_or_else(|| panic!("{title} not in {section}"));
        assert!(at >= last, "groups out of order: {section}");
        last = at;
        assert!(text.contains(title), "{title} not in the text report");
    }
    for group in &s.verdict.groups {
        for address in &group.addresses {
            let line = format!("{} (all 10 MX names)", address.address);
            assert!(section.contains(&line), "{line} not in {section}");
            assert!(text.contains(&line), "{line} not in the text report");
        }
    }
    assert!(!markdown.contains("Seen on all 8 probed addresses"), "{markdown}");
    assert!(
        markdown.contains("This is what 6 of the 8 addresses show"),
        "{markdown}"
    );
    let evidence: Vec<&str> = text.lines().filter(|l| l.starts_with("  evidence: ")).collect();
    let mut unique = evidence.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), evidence.len(), "{evidence:#?}");
    assert_eq!(evidence.len(), 3, "{evidence:#?}");
}
