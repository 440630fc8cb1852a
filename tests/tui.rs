//! The workbench's model and screens: `update` fed with real probe results from
//! the lab, and every screen rendered to a test backend at 80×24 and 120×40.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::engine::{self, Settings};
use mxtriage::lab::demo::lab_check_options;
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::model::CheckReport;
use mxtriage::model::Stage;
use mxtriage::target::Target;
use mxtriage::tui::app::{App, Command, Event, Flush, FlushRequest, Screen, TriagePane};
use mxtriage::tui::keymap::Scope;
use mxtriage::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};

/// A lab check as the engine told it: every event, and the report it returned.
struct Recorded {
    report: CheckReport,
    events: Vec<engine::Event>,
}

async fn lab_report(scenario: &str) -> Recorded {
    lab_report_with(scenario, |_| {}).await
}

/// Runs the real engine against the lab and records its events as a consumer gets them.
async fn lab_report_with(scenario: &str, adjust: impl FnOnce(&mut engine::CheckOptions)) -> Recorded {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let domain = lab.scenario(scenario).expect("scenario").domain.clone();
    let stores = Arc::new(TrustStores::from_parts(vec![], vec![lab.ca_der()]));
    let mut options = lab_check_options(&lab, &domain, stores);
    options.probe.timeouts.command = Duration::from_secs(2);
    adjust(&mut options);
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let (report, mut events) = tokio::join!(
        async move {
            let report = engine::run(&options, &tx).await;
            drop(tx);
            report
        },
        async move {
            let mut events = Vec::new();
            while let Some(event) = rx.recv().await {
                events.push(event);
            }
            events
        }
    );
    let mut report = report.expect("check");
    stabilise(&mut report);
    for event in &mut events {
        match event {
            engine::Event::Resolved { report, targets } => {
                stabilise(report);
                targets.iter_mut().for_each(|t| t.address.set_port(25));
            }
            engine::Event::Stage { target, .. } => target.address.set_port(25),
            engine::Event::Line { target, line } => {
                target.address.set_port(25);
                line.at_ms = 0;
            }
            engine::Event::Probed(p) => stabilise_probe(p),
            engine::Event::Scanned { address, .. }
            | engine::Event::SecondOpinion { address, .. }
            | engine::Event::RelayClient { address, .. }
            | engine::Event::FollowedUp { address, .. } => address.set_port(25),
            engine::Event::Finished { elapsed_ms } => *elapsed_ms = report.elapsed_ms,
            engine::Event::Policy(_) | engine::Event::Relay(_) => {}
        }
    }
    Recorded { report, events }
}

/// Stable figures for snapshots.
fn stabilise(report: &mut CheckReport) {
    report.started_at = 1_795_900_000;
    report.vantage_host = "relay.example.test".into();
    report.probes.iter_mut().for_each(stabilise_probe);
}

fn stabilise_probe(p: &mut mxtriage::model::ProbeResult) {
    p.address.set_port(25);
    // The stages keep their order, 10 ms each, so the time line is drawn the same each run.
    let stages: Vec<_> = p
        .timings
        .stages
        .iter()
        .enumerate()
        .map(|(i, m)| mxtriage::model::StageMark {
            stage: m.stage,
            at_ms: 10 * i as u64,
        })
        .collect();
    p.timings = mxtriage::model::Timings {
        total_ms: 10 * stages.len() as u64,
        stages,
        ..Default::default()
    };
    // The lab's certificates are dated from now: fixed dates keep every cut of a line
    // (an overlay hides part of it) the same from run to run.
    for cert in p.chain.iter_mut().flat_map(|c| c.certificates.iter_mut()) {
        cert.not_before = "2026-01-01T00:00:00Z".into();
        cert.not_after = if cert.days_remaining < 0 {
            "2026-11-01T00:00:00Z".into()
        } else {
            "2036-01-01T00:00:00Z".into()
        };
    }
    for line in &mut p.transcript {
        line.at_ms = 0;
    }
}

/// Types `text` key by key.
fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(KeyCode::Char(c)));
    }
}

/// Enter starts a check of example.com and opens Triage.
fn enter_starts_example_com(app: &mut App) {
    let commands = app.update(key(KeyCode::Enter));
    assert!(
        matches!(commands.as_slice(), [Command::Start { target: Target::Domain { name }, .. }] if name == "example.com"),
        "{commands:?}"
    );
    assert_eq!(app.screen, Screen::Triage);
}

/// The workbench on the Verdict screen of a lab scenario's finished check.
async fn on_verdict(scenario: &str) -> App {
    let recorded = lab_report(scenario).await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &recorded);
    app.update(key(KeyCode::Char('v')));
    assert_eq!(app.screen, Screen::Verdict);
    app
}

/// The cells that hold anything but ASCII.
fn non_ascii(buffer: &ratatui::buffer::Buffer) -> Vec<String> {
    buffer
        .content()
        .iter()
        .map(|c| c.symbol().to_string())
        .filter(|s| !s.is_ascii())
        .collect()
}

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// Starts a run in the app and feeds it the engine's events as the runner would.
fn feed(app: &mut App, recorded: &Recorded) -> Vec<Command> {
    let commands = app.start(recorded.report.target.clone());
    let Some(Command::Start { generation, .. }) = commands.first().cloned() else {
        panic!("start asks the runner to run: {commands:?}");
    };
    feed_generation(app, recorded, generation)
}

/// Feeds a run already started (generation known) with the recorded events.
fn feed_generation(app: &mut App, recorded: &Recorded, generation: u64) -> Vec<Command> {
    let mut out = Vec::new();
    for event in &recorded.events {
        assert!(app.busy(), "still running until Finished");
        out.extend(app.update(Event::Engine {
            generation,
            event: event.clone(),
        }));
    }
    out
}

/// The index of the cell where `needle` starts (one character per cell).
fn find(buffer: &ratatui::buffer::Buffer, needle: &str) -> Option<usize> {
    let cells: Vec<char> = buffer
        .content()
        .iter()
        .map(|c| c.symbol().chars().next().unwrap_or(' '))
        .collect();
    let needle: Vec<char> = needle.chars().collect();
    cells.windows(needle.len()).position(|w| w == needle.as_slice())
}

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|frame| view::render(frame, app)).expect("draw");
    terminal
}

fn snapshot(name: &str, terminal: &Terminal<TestBackend>) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{16,64}", "[hex]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T[0-9:]*Z?", "[time]");
    settings.add_filter(r"(127\.[0-9.]+):\d+", "$1:PORT");
    settings.add_filter(r"--port \d+", "--port NNNNN");
    // Certificate day counts can move by one between lab start and analysis.
    settings.add_filter(r"\((\d+) ?(days|$)", "(N $2");
    settings.add_filter(r"\(\d+$", "(N");
    settings.bind(|| insta::assert_snapshot!(name, terminal.backend()));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_follows_a_run_and_stale_events_are_ignored() {
    let recorded = lab_report("close-after-220").await;
    let mut app = App::new(Settings::default(), Vec::new());
    let commands = feed(&mut app, &recorded);
    assert!(
        commands.iter().any(|c| matches!(c, Command::Autosave(_))),
        "evidence is autosaved"
    );
    let run = app.run.clone().unwrap();
    assert!(run.finished() && !app.busy());
    assert_eq!(run.stages[0], Some(Stage::TlsHandshake));
    let session = app.session.as_ref().unwrap();
    assert_eq!(session.verdict.id, "remote-tls-broken");
    // The open question is focused and answerable inline.
    assert_eq!(app.triage_pane, TriagePane::Steps);
    assert_eq!(app.focused_question().map(|q| q.id.as_str()), Some("vantage"));
    app.update(key(KeyCode::Char('2')));
    assert_eq!(app.answers.get("vantage").map(String::as_str), Some("works"));
    assert_eq!(app.session.as_ref().unwrap().verdict.id, "middlebox-drop");

    // A new run makes the old generation's events stale.
    let old = run.generation;
    app.update(key(KeyCode::Char('r')));
    let before = app.run.clone();
    let session = app.session.as_ref().map(|s| s.check.clone());
    app.update(Event::Engine {
        generation: old,
        event: engine::Event::Probed(Box::new(recorded.report.probes[0].clone())),
    });
    assert_eq!(app.run, before, "stale result dropped");
    assert_eq!(app.session.as_ref().map(|s| s.check.clone()), session);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_move_between_screens_and_back() {
    let report = lab_report("expired").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &report);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.triage_pane, TriagePane::Matrix);
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    app.update(key(KeyCode::Char('v')));
    assert_eq!(app.screen, Screen::Verdict);
    // Enter on the first evidence jumps to the certificate it cites, Esc comes back.
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    app.update(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Verdict);
    let commands = app.update(key(KeyCode::Char('s')));
    assert!(
        matches!(commands.as_slice(), [Command::Start { settings, .. }] if settings.scan.is_some() && settings.second_opinion),
        "s re-runs with the capability scan: {commands:?}"
    );
    assert!(app.settings.scan.is_none(), "only that run scans");
    let generation = app.run.as_ref().unwrap().generation;
    feed_generation(&mut app, &report, generation);
    app.screen = Screen::Verdict;
    let commands = app.update(key(KeyCode::Char('e')));
    assert!(matches!(commands.as_slice(), [Command::Export { to: None, .. }]));
    assert_eq!(app.screen, Screen::Export);
    app.update(Event::Exported(Err("No space left on device".into())));
    assert!(app.export_messages[0].contains("No space left on device"));
    assert!(app.session.is_some(), "the session survives a failed export");
    app.update(key(KeyCode::Char('?')));
    assert!(app.help);
    app.update(key(KeyCode::Char('x')));
    assert!(!app.help, "any key closes help");
}

#[tokio::test(flavor = "multi_thread")]
async fn quitting_while_probes_run_asks_first() {
    let mut app = App::new(Settings::default(), Vec::new());
    app.start(Target::Domain {
        name: "example.com".into(),
    });
    app.screen = Screen::Triage;
    app.update(key(KeyCode::Char('q')));
    assert!(app.confirm_quit && !app.quit);
    app.update(key(KeyCode::Char('n')));
    assert!(!app.quit);
    app.update(key(KeyCode::Char('q')));
    app.update(key(KeyCode::Char('y')));
    assert!(app.quit);
}

#[tokio::test(flavor = "multi_thread")]
async fn enter_in_the_target_field_starts_the_check() {
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(key(KeyCode::Tab));
    type_text(&mut app, "example.com");
    enter_starts_example_com(&mut app);
}

#[tokio::test(flavor = "multi_thread")]
async fn typing_a_bad_target_explains_itself() {
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(key(KeyCode::Tab));
    type_text(&mut app, "[192.0.2.1");
    let commands = app.update(key(KeyCode::Enter));
    assert!(commands.is_empty());
    assert!(
        app.intake.error.as_deref().unwrap_or_default().contains("closing ']'"),
        "{:?}",
        app.intake.error
    );
    assert_eq!(app.screen, Screen::Intake);
}

#[tokio::test(flavor = "multi_thread")]
async fn screens_at_80x24_and_120x40() {
    for scenario in ["healthy", "close-after-220", "expired"] {
        let report = lab_report(scenario).await;
        let mut app = App::new(Settings::default(), Vec::new());
        feed(&mut app, &report);
        for (width, height) in [(80, 24), (120, 40)] {
            app.screen = Screen::Triage;
            snapshot(
                &format!("{scenario}_triage_{width}x{height}"),
                &draw(&app, width, height),
            );
            app.triage_pane = TriagePane::Matrix;
            app.address_selected = 0;
            app.screen = Screen::Detail;
            snapshot(
                &format!("{scenario}_detail_{width}x{height}"),
                &draw(&app, width, height),
            );
            app.screen = Screen::Verdict;
            snapshot(
                &format!("{scenario}_verdict_{width}x{height}"),
                &draw(&app, width, height),
            );
            app.triage_pane = TriagePane::Steps;
        }
    }
    let app = App::new(Settings::default(), Vec::new());
    snapshot("intake_80x24", &draw(&app, 80, 24));
    let mut help = App::new(Settings::default(), Vec::new());
    help.help = true;
    help.intake.focus = mxtriage::tui::app::IntakeFocus::Options;
    snapshot("help_80x24", &draw(&help, 80, 24));
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_red_and_marked_in_words() {
    let report = lab_report("close-after-220").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &report);
    app.triage_pane = TriagePane::Matrix;
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    let at = find(buffer, "FAIL at TLS").expect("failure shown in words");
    let cell = &buffer.content()[at];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::BOLD));

    // NO_COLOR: the same words, no colour at all.
    app.no_color = true;
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    assert!(buffer.content().iter().all(|c| c.fg == Color::Reset));
    let text: String = buffer.content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("FAIL at TLS") && text.contains("finding: "), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn non_utf8_terminals_get_plain_ascii() {
    let report = lab_report("two-mx").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &report);
    app.ascii = true;
    for screen in [Screen::Triage, Screen::Detail, Screen::Verdict, Screen::Flowchart] {
        app.screen = screen;
        let terminal = draw(&app, 80, 24);
        let odd = non_ascii(terminal.backend().buffer());
        assert!(odd.is_empty(), "{screen:?} draws non-ASCII: {odd:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_says_when_only_the_policy_lookups_are_left() {
    let recorded = lab_report("sts-enforce").await;
    let mut app = App::new(Settings::default(), Vec::new());
    let commands = app.start(recorded.report.target.clone());
    let Some(Command::Start { generation, .. }) = commands.first().cloned() else {
        panic!("start asks the runner to run: {commands:?}");
    };
    let mut events = recorded.events.iter().cloned();
    let mut next = |app: &mut App| {
        let event = events.next().expect("more events");
        app.update(Event::Engine { generation, event });
    };
    next(&mut app);
    assert!(find(draw(&app, 120, 40).backend().buffer(), "probing").is_some());
    // Up to the last probe's result: the policy lookups are all that is left.
    let probed = recorded
        .events
        .iter()
        .rposition(|e| matches!(e, engine::Event::Probed(_)))
        .expect("probes");
    for _ in 1..=probed {
        next(&mut app);
    }
    assert!(app.busy(), "the run is not finished until the policy lookups are");
    let buffer = draw(&app, 120, 40);
    assert!(find(buffer.backend().buffer(), "checking MTA-STS, DANE and DNS").is_some());
    for _ in probed + 1..recorded.events.len() {
        next(&mut app);
    }
    assert!(!app.busy());
    assert!(find(draw(&app, 120, 40).backend().buffer(), "checking MTA-STS").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workbench_holds_what_the_engine_returned_scan_and_openssl_included() {
    let recorded = lab_report_with("healthy", |options| {
        options.scan = Some(mxtriage::probe::scan::ScanSettings {
            delay: Duration::from_millis(1),
            ..Default::default()
        });
        options.second_opinion = Some(None);
    })
    .await;
    assert!(matches!(recorded.events.first(), Some(engine::Event::Resolved { .. })));
    assert!(matches!(recorded.events.last(), Some(engine::Event::Finished { .. })));
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &recorded);
    let held = &app.session.as_ref().expect("session").check;
    assert_eq!(
        held, &recorded.report,
        "one report, built from the same events the engine applied"
    );
    let probe = &held.probes[0];
    assert!(
        probe.scan.is_some(),
        "the scan is live in the workbench, not only after --resume"
    );
    if which_openssl() {
        assert!(probe.second_opinion.is_some(), "OpenSSL's second opinion too");
    }
    app.update(key(KeyCode::Enter));
    app.screen = Screen::Detail;
    let buffer = draw(&app, 120, 40);
    assert!(
        find(buffer.backend().buffer(), "TLSv1.3").is_some(),
        "Detail shows the scan as it arrived"
    );
}

fn which_openssl() -> bool {
    std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_paste_is_shown_escaped_and_bounded() {
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste(
        "550 5.7.1 \u{1b}]0;pwned\u{7} rejected\r\n\tby mx.example.net \u{202e}moc".into(),
    ));
    let lines = app.intake.paste.lines().to_vec();
    assert_eq!(lines[0], "550 5.7.1 \\x1b]0;pwned\\x07 rejected");
    assert_eq!(
        lines[1], "\tby mx.example.net \\x202emoc",
        "tabs and line breaks are kept"
    );
    app.update(Event::Paste("x".repeat(mxtriage::intake::MAX_INPUT_BYTES * 2)));
    let held: usize = app.intake.paste.lines().iter().map(|l| l.len() + 1).sum();
    assert!(held <= mxtriage::intake::MAX_INPUT_BYTES + 1, "{held}");
}

fn ctrl_c() -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
}

fn postfix_line(rcpt: &str, mx: &str, ip: &str) -> String {
    format!(
        "postfix/smtp[1]: 4QxYz: to=<{rcpt}>, relay={mx}[{ip}]:25, delay=5, delays=1/1/1/2, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_typed_into_the_paste_box_starts_on_enter() {
    let mut app = App::new(Settings::default(), Vec::new());
    type_text(&mut app, "example.com");
    enter_starts_example_com(&mut app);

    // A word is not taken for a domain here (the target field still takes `localhost`).
    let mut app = App::new(Settings::default(), Vec::new());
    type_text(&mut app, "Hello");
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.intake.paste.lines().len(), 2);
    // An address in brackets, with a port, is a target.
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste("[192.0.2.1]:25".into()));
    assert!(matches!(
        app.update(key(KeyCode::Enter)).as_slice(),
        [Command::Start {
            target: Target::Address { .. },
            ..
        }]
    ));

    // Several lines keep Enter a line break, even when the first names a target.
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste("example.com\nsome more text".into()));
    let commands = app.update(key(KeyCode::Enter));
    assert!(commands.is_empty(), "{commands:?}");
    assert_eq!(app.screen, Screen::Intake);
    // One line that is not a target (a log line) stays text too.
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste(postfix_line(
        "u@example.com",
        "mx.example.com",
        "192.0.2.1",
    )));
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.intake.paste.lines().len(), 2);
}

#[test]
fn a_second_paste_replaces_the_first_destination() {
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste(postfix_line(
        "a@one.example",
        "mx.one.example",
        "192.0.2.1",
    )));
    assert_eq!(app.intake.target.lines()[0], "one.example");
    app.update(Event::Paste(postfix_line(
        "b@two.example",
        "mx.two.example",
        "192.0.2.2",
    )));
    assert_eq!(app.intake.target.lines()[0], "two.example");
    assert!(!app.intake.paste.lines().join("\n").contains("one.example"));
    assert!(
        app.status.as_deref().unwrap_or_default().contains("replaced"),
        "{:?}",
        app.status
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paste_naming_several_destinations_lists_them_to_pick_from() {
    let mut app = App::new(Settings::default(), Vec::new());
    let paste = [
        postfix_line("a@one.example", "mx.one.example", "192.0.2.1"),
        postfix_line("b@two.example", "mx.two.example", "192.0.2.2"),
        postfix_line("c@three.example", "mx.three.example", "192.0.2.3"),
    ]
    .join("\r");
    app.update(Event::Paste(paste));
    let names: Vec<String> = app.intake.destinations.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["one.example", "two.example", "three.example"]);
    assert_eq!(app.intake.focus, mxtriage::tui::app::IntakeFocus::Destinations);
    snapshot("intake_several_destinations_80x24", &draw(&app, 80, 24));
    app.update(key(KeyCode::Down));
    assert_eq!(app.intake.target.lines()[0], "two.example");
    let commands = app.update(key(KeyCode::Enter));
    assert!(
        matches!(commands.as_slice(), [Command::Start { target: Target::Domain { name }, .. }] if name == "two.example"),
        "{commands:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn c_c_quits_from_anywhere() {
    // With help open.
    let mut app = App::new(Settings::default(), Vec::new());
    app.help = true;
    app.update(ctrl_c());
    assert!(app.quit);
    // While probes run: the first asks, the second quits (help open in between or not).
    let mut app = App::new(Settings::default(), Vec::new());
    app.start(Target::Domain {
        name: "example.com".into(),
    });
    app.update(ctrl_c());
    assert!(app.confirm_quit && !app.quit);
    app.help = true;
    app.update(ctrl_c());
    assert!(app.quit);
    // While typing in the paste box and with the retry prompt up.
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(key(KeyCode::Char('x')));
    app.update(ctrl_c());
    assert!(app.quit);
}

#[test]
fn a_signal_quits_and_is_kept_for_the_exit_status() {
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Terminate(15));
    assert!(app.quit);
    assert_eq!(app.signal, Some(15));
}

/// The inner rows of the bordered pane whose title contains `title`, as drawn.
fn pane_rows(buffer: &ratatui::buffer::Buffer, title: &str) -> Vec<String> {
    let all = rows(buffer);
    let Some((top, line)) = all.iter().enumerate().find(|(_, r)| r.contains(title)) else {
        panic!("no pane {title:?} in\n{}", all.join("\n"));
    };
    let start = line.find(title).unwrap();
    // The pane's left border is the corner before its title.
    let left = line[..start].rfind(['┌', '+']).unwrap();
    let left_col = line[..left].chars().count();
    let width = line[left..].chars().take_while(|c| *c != '┐').count();
    all[top + 1..]
        .iter()
        .take_while(|r| r.chars().nth(left_col).is_none_or(|c| c != '└'))
        .map(|r| {
            r.chars()
                .skip(left_col + 1)
                .take(width.saturating_sub(1))
                .collect::<String>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scrolling_stops_at_the_end_and_home_end_jump_there() {
    use mxtriage::tui::view::{Scrolled, scroll_room};
    let report = lab_report("expired").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &report);
    app.triage_pane = TriagePane::Matrix;
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    let room = scroll_room(&app, Scrolled::Transcript);
    assert!(room.max > 0, "the transcript overflows the pane at 80x24");
    for _ in 0..200 {
        app.update(key(KeyCode::PageDown));
    }
    assert_eq!(app.transcript_scroll, room.max, "no scrolling past the end");
    let shown = pane_rows(draw(&app, 80, 24).backend().buffer(), "transcript");
    assert!(
        shown.last().is_some_and(|r| !r.trim().is_empty()),
        "the last row shows the last line: {shown:#?}"
    );
    app.update(key(KeyCode::PageUp));
    assert_eq!(app.transcript_scroll, room.max - room.page.min(room.max));
    app.update(key(KeyCode::Home));
    assert_eq!(app.transcript_scroll, 0);
    app.update(key(KeyCode::End));
    assert_eq!(app.transcript_scroll, room.max);

    app.update(key(KeyCode::Char('v')));
    assert_eq!(app.screen, Screen::Verdict);
    let room = scroll_room(&app, Scrolled::VerdictMore);
    assert!(room.max > 0, "the checklist pane overflows at 80x24");
    let title = "before you retry";
    // Paging skips no line: the last row of one page is the first row of the next.
    let mut seen: Vec<String> = pane_rows(draw(&app, 80, 24).backend().buffer(), title);
    while app.verdict_scroll < room.max {
        app.update(key(KeyCode::PageDown));
        let page = pane_rows(draw(&app, 80, 24).backend().buffer(), title);
        if app.verdict_scroll < room.max {
            assert_eq!(
                page.first(),
                seen.last(),
                "a page starts at the last row of the one before"
            );
        } else {
            assert!(
                page.contains(seen.last().unwrap()),
                "the last page overlaps, it skips nothing"
            );
        }
        seen = page;
    }
    for _ in 0..50 {
        app.update(key(KeyCode::PageDown));
    }
    assert_eq!(app.verdict_scroll, room.max);
    let shown = pane_rows(draw(&app, 80, 24).backend().buffer(), title);
    assert!(shown.last().is_some_and(|r| !r.trim().is_empty()), "{shown:#?}");
    app.update(key(KeyCode::Home));
    assert_eq!(app.verdict_scroll, 0);

    // A re-run starts every pane at its top.
    app.update(key(KeyCode::End));
    app.transcript_scroll = 3;
    app.chain_scroll = 2;
    let commands = app.update(key(KeyCode::Char('r')));
    assert!(!commands.is_empty(), "re-run started");
    assert_eq!((app.transcript_scroll, app.chain_scroll, app.verdict_scroll), (0, 0, 0));
}

/// The buffer as rows of text (one string per row, wide cells as they are stored).
fn rows(buffer: &ratatui::buffer::Buffer) -> Vec<String> {
    let width = usize::from(buffer.area.width);
    buffer
        .content()
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect())
        .collect()
}

/// A recorded run whose first address's peer text is hostile in the given ways.
fn tampered(mut recorded: Recorded, banner: &[u8], subject: &str) -> Recorded {
    use mxtriage::text::SafeText;
    let tamper = |p: &mut mxtriage::model::ProbeResult| {
        if let Some(line) = p.transcript.iter_mut().find(|l| l.text.as_str().starts_with("220")) {
            line.text = SafeText::from_peer(banner);
        }
        if let Some(chain) = &mut p.chain {
            chain.certificates[0].subject = SafeText::from_peer_str(subject);
        }
    };
    let first = (recorded.report.probes[0].mx.clone(), recorded.report.probes[0].address);
    tamper(&mut recorded.report.probes[0]);
    for event in &mut recorded.events {
        if let engine::Event::Probed(p) = event
            && (p.mx.clone(), p.address) == first
        {
            tamper(p);
        }
    }
    recorded
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_utf8_terminal_gets_peer_text_as_ascii_escapes() {
    // `Û` is C3 9B in UTF-8; 0x9B alone is CSI on an 8-bit terminal.
    let report = tampered(
        lab_report("two-mx").await,
        b"220 \xc3\x9bber ESMTP",
        "CN=\u{db}ber \u{1F600}",
    );
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &report);
    app.ascii = true;
    app.screen = Screen::Detail;
    for (width, height) in [(80, 24), (120, 40)] {
        let terminal = draw(&app, width, height);
        let buffer = terminal.backend().buffer();
        let odd = non_ascii(buffer);
        assert!(odd.is_empty(), "{width}x{height} writes non-ASCII: {odd:?}");
        let text = rows(buffer).concat();
        assert!(
            text.contains("220 \\u{db}ber ESMTP"),
            "the banner is spelled out:\n{}",
            rows(buffer).join("\n")
        );
        assert!(
            text.contains("CN=\\u{db}ber") && text.contains("\\u{1f600}"),
            "{}",
            rows(buffer).join("\n")
        );
    }
    // Whatever screen is open, no cell holds anything but ASCII.
    for screen in [Screen::Intake, Screen::Triage, Screen::Verdict, Screen::Export] {
        app.screen = screen;
        let terminal = draw(&app, 80, 24);
        let odd = non_ascii(terminal.backend().buffer());
        assert!(odd.is_empty(), "{screen:?} writes non-ASCII: {odd:?}");
    }
    app.screen = Screen::Detail;
    // On a UTF-8 terminal the same text is shown as it is.
    app.ascii = false;
    let text = rows(draw(&app, 120, 40).backend().buffer()).concat();
    assert!(text.contains("220 Ûber ESMTP"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_padded_certificate_name_cannot_pass_for_lines_of_the_chain_pane() {
    let pad = " ".repeat(300);
    let subject = format!("CN=mx1.two-mx.lab.test{pad}chain: complete{pad}trust Mozilla roots: trusted{pad}");
    let report = tampered(lab_report("two-mx").await, b"220 mx ESMTP", &subject);
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &report);
    app.screen = Screen::Detail;
    for (width, height) in [(80, 24), (120, 40)] {
        let terminal = draw(&app, width, height);
        let rows = rows(terminal.backend().buffer());
        let shown = rows.join("\n");
        for fake in ["chain: complete", "trust Mozilla roots: trusted"] {
            // A row of the pane's own starts right after the border; the fake may
            // only appear after a continuation marker or inside the subject's row.
            assert!(!shown.contains(&format!("│{fake}")), "{width}x{height}:\n{shown}");
        }
        assert!(shown.contains("↳"), "the continuation is marked:\n{shown}");
    }
}

/// This relay as a hand-built Postfix at `may` (what `relay::read` would find), so the
/// session predicts what the relay does with the recorded evidence.
fn may_relay(domain: &str) -> mxtriage::model::relay::RelayView {
    use mxtriage::model::relay::{ClientPolicy, Level, Mta, Origin, RelayView, Route, Setting, TlsLibrary};
    let main_cf = |line| Origin::File {
        path: "/etc/postfix/main.cf".into(),
        line: Some(line),
    };
    RelayView {
        mta: Some(Mta::Postfix),
        version: Some("3.7.11".into()),
        tls_library: Some(TlsLibrary {
            name: "OpenSSL".into(),
            version: "3.0.13".into(),
            origin: Origin::Command {
                command: "postconf -a".into(),
            },
        }),
        route: Some(Route {
            transport: "smtp".into(),
            nexthop: domain.into(),
            mx_lookup: true,
            origin: Origin::Default {
                parameter: "default_transport".into(),
            },
        }),
        policy: Some(ClientPolicy {
            level: Level::May,
            level_origin: main_cf(42),
            matches: Vec::new(),
            protocols: Some(">=TLSv1.2".into()),
            ciphers: Some("medium".into()),
            exclude_ciphers: None,
        }),
        settings: vec![Setting {
            name: "smtp_tls_CAfile".into(),
            value: "/etc/ssl/certs/ca-certificates.crt".into(),
            origin: main_cf(40),
        }],
        unread: Vec::new(),
        ..Default::default()
    }
}

/// A recorded lab run as if this relay had been read too: the relay's event right
/// after the resolution, as the engine sends it.
async fn lab_report_on_may_relay(scenario: &str) -> Recorded {
    let mut recorded = lab_report(scenario).await;
    let relay = may_relay(&recorded.report.target.to_string());
    recorded.report.relay = Some(relay.clone());
    let at = recorded
        .events
        .iter()
        .position(|e| matches!(e, engine::Event::Resolved { .. }))
        .expect("resolved");
    recorded.events.insert(at + 1, engine::Event::Relay(Box::new(relay)));
    recorded
}

/// The workbench of an operator on this relay, its Postfix instance named.
fn relay_app() -> App {
    let settings = Settings {
        relay: mxtriage::relay::RelaySource::Postfix {
            config_dir: Some("/etc/postfix-out".into()),
        },
        ..Settings::default()
    };
    App::new(settings, Vec::new())
}

fn footer_offers_retry(app: &App) -> bool {
    view::footer_keys(app, 80).contains(&("f", "retry"))
}

/// The footer row at 80x24 is the whole footer, within 80 columns, with its help key.
fn assert_footer_fits(name: &str, app: &App) {
    let terminal = draw(app, 80, 24);
    let bottom = rows(terminal.backend().buffer()).pop().unwrap();
    let want = view::footer_text(app, 80);
    assert!(want.chars().count() <= 80, "{name}: footer {want:?} is wider than 80");
    assert_eq!(bottom.trim_end(), want, "{name}: the footer is cut or differs");
    let keys = view::footer_keys(app, 80);
    assert!(keys.len() >= 2, "{name}: {keys:?}");
    let typing = app.scopes().iter().any(|s| {
        matches!(
            s,
            Scope::IntakeTyping | Scope::IntakeEditing | Scope::ExportTyping | Scope::FlushPane
        )
    });
    if !typing {
        assert_eq!(keys.last(), Some(&("?", "help")), "{name}: help comes last");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_footer_fits_80_columns() {
    use mxtriage::tui::app::IntakeFocus;
    let mut app = App::new(Settings::default(), Vec::new());
    assert_footer_fits("intake paste", &app);
    for focus in [IntakeFocus::Target, IntakeFocus::Options] {
        app.intake.focus = focus;
        assert_footer_fits(&format!("intake {focus:?}"), &app);
    }
    app.update(key(KeyCode::Enter));
    assert_footer_fits("intake editing an option", &app);
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste(
        [
            postfix_line("a@one.example", "mx.one.example", "192.0.2.1"),
            postfix_line("b@two.example", "mx.two.example", "192.0.2.2"),
        ]
        .join("\n"),
    ));
    assert_footer_fits("intake destinations", &app);
    let offers = vec![mxtriage::tui::app::Offer {
        name: "healthy".into(),
        domain: "healthy.lab.test".into(),
        summary: "a healthy server".into(),
        resolver: "127.0.0.1:53".parse().unwrap(),
    }];
    assert_footer_fits("intake scenarios", &App::new(Settings::default(), offers));

    let recorded = lab_report_on_may_relay("expired").await;
    let mut app = relay_app();
    let commands = app.start(recorded.report.target.clone());
    let Some(Command::Start { generation, .. }) = commands.first().cloned() else {
        panic!("{commands:?}");
    };
    assert_footer_fits("triage while probing", &app);
    feed_generation(&mut app, &recorded, generation);
    app.screen = Screen::Triage;
    for pane in [TriagePane::Steps, TriagePane::Matrix] {
        app.triage_pane = pane;
        assert_footer_fits(&format!("triage {pane:?}"), &app);
    }
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    assert_footer_fits("detail", &app);
    app.screen = Screen::Verdict;
    assert!(footer_offers_retry(&app), "the retry is offered");
    assert_footer_fits("verdict with a retry", &app);
    app.update(key(KeyCode::Char('f')));
    assert_footer_fits("verdict asking to retry", &app);
    app.update(key(KeyCode::Char('y')));
    assert_footer_fits("retry pane", &app);
    app.update(key(KeyCode::Esc));
    app.help = true;
    assert_footer_fits("help", &app);
    app.help = false;
    app.update(key(KeyCode::Char('e')));
    assert_eq!(app.screen, Screen::Export);
    assert_footer_fits("export", &app);
    app.update(key(KeyCode::Char('p')));
    assert_footer_fits("export typing a path", &app);

    let recorded = lab_report("close-after-220").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &recorded);
    app.screen = Screen::Triage;
    assert!(app.focused_question().is_some(), "a question waits");
    assert_footer_fits("triage on a question", &app);
    app.screen = Screen::Verdict;
    assert_footer_fits("verdict", &app);
    app.update(key(KeyCode::Char('t')));
    assert_eq!(app.screen, Screen::Flowchart);
    assert_footer_fits("flowchart", &app);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verdict_says_what_this_relay_does_and_how_it_is_configured() {
    let recorded = lab_report_on_may_relay("expired").await;
    let mut app = relay_app();
    feed(&mut app, &recorded);
    let session = app.session.as_ref().expect("session");
    let prediction = session
        .verdict
        .relay
        .as_ref()
        .expect("the session predicts for this relay");
    assert!(
        prediction.outcome.delivers(),
        "at may an expired certificate does not stop it: {prediction:?}"
    );
    app.screen = Screen::Verdict;
    for (width, height) in [(80, 24), (120, 40)] {
        let terminal = draw(&app, width, height);
        let text = rows(terminal.backend().buffer()).join("\n");
        assert!(text.contains("This relay: delivers over TLS"), "{text}");
        snapshot(&format!("relay_may_expired_verdict_{width}x{height}"), &terminal);
    }
    // The configuration is in the scrolled part, where the recipient policy is.
    let mut shown = String::new();
    // Page to the end: a page moves by the pane's height less one row, and stops there.
    for _ in 0..100 {
        shown.push_str(&rows(draw(&app, 80, 24).backend().buffer()).join("\n"));
        let before = app.verdict_scroll;
        app.update(key(KeyCode::PageDown));
        if app.verdict_scroll == before {
            break;
        }
    }
    for line in [
        "This relay: Postfix 3.7.11",
        "TLS level: may (from /etc/postfix/main.cf line 42)",
    ] {
        assert!(shown.contains(line), "{line:?} scrolls into view:\n{shown}");
    }
    app.verdict_scroll = 0;
    while !rows(draw(&app, 80, 24).backend().buffer())
        .concat()
        .contains("TLS level: may")
    {
        app.update(key(KeyCode::PageDown));
    }
    snapshot("relay_may_expired_verdict_scrolled_80x24", &draw(&app, 80, 24));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_runs_only_after_y_and_only_once() {
    let recorded = lab_report_on_may_relay("expired").await;
    let mut app = relay_app();
    feed(&mut app, &recorded);
    app.screen = Screen::Verdict;
    assert!(footer_offers_retry(&app), "the relay delivers now: f is offered");

    // f asks; n (like any key but y) cancels and runs nothing.
    assert!(app.update(key(KeyCode::Char('f'))).is_empty(), "f only asks");
    assert!(matches!(app.flush, Flush::Confirming(_)));
    let prompt = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
    assert!(
        prompt.contains("Retry only expired.lab.test now (postqueue)? y/n"),
        "{prompt}"
    );
    assert!(app.update(key(KeyCode::Char('n'))).is_empty());
    assert_eq!(app.flush, Flush::Idle);
    assert_eq!(app.screen, Screen::Verdict, "the answer key does nothing else");
    for other in [KeyCode::Esc, KeyCode::Enter, KeyCode::Char('Y'), KeyCode::Char('q')] {
        app.update(key(KeyCode::Char('f')));
        assert!(app.update(key(other)).is_empty(), "{other:?} cancels");
        assert_eq!(app.flush, Flush::Idle);
        assert!(!app.quit && app.screen == Screen::Verdict);
    }

    // f, y: one flush, of this domain, with the check's Postfix instance.
    let mut commands = app.update(key(KeyCode::Char('f')));
    commands.extend(app.update(key(KeyCode::Char('y'))));
    // Further keys while it runs ask for nothing more.
    for k in [
        KeyCode::Char('y'),
        KeyCode::Char('f'),
        KeyCode::Esc,
        KeyCode::Char('f'),
        KeyCode::Char('y'),
    ] {
        commands.extend(app.update(key(k)));
    }
    let flushes: Vec<_> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Flush(request) => Some(request.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        flushes,
        [FlushRequest {
            domain: "expired.lab.test".into(),
            hosts: vec!["mx.expired.lab.test".into()],
            config_dir: Some("/etc/postfix-out".into()),
        }]
    );
    assert!(matches!(app.flush, Flush::Running { .. }));
    assert!(!footer_offers_retry(&app), "one retry at a time");

    // The result opens its pane (even if it was closed meanwhile); Esc closes it.
    let outcome = mxtriage::relay::postfix::queue::FlushOutcome {
        domain: "expired.lab.test".into(),
        method: mxtriage::relay::postfix::queue::FlushMethod::Domain,
        source: mxtriage::relay::postfix::log::LogSource::File {
            path: "/var/log/mail.log".into(),
        },
        lines: vec![mxtriage::relay::postfix::log::LogLine {
            timestamp: "Nov 29 18:03:55".into(),
            queue_id: Some("4F1A2B3C4D".into()),
            process: "postfix/smtp".into(),
            pid: Some(4242),
            message: "to=<a@expired.lab.test>, relay=mx.expired.lab.test[127.77.0.11]:25, delay=3600, status=sent (250 2.0.0 Ok)".into(),
        }],
        complete: true,
    };
    app.update(Event::Flushed {
        domain: "expired.lab.test".into(),
        result: Ok(outcome),
    });
    assert!(app.flush_open);
    assert_eq!(
        app.scopes(),
        [Scope::Always, Scope::FlushPane],
        "the pane takes the keys"
    );
    let terminal = draw(&app, 80, 24);
    assert!(find(terminal.backend().buffer(), "status=sent").is_some());
    snapshot("relay_flush_result_80x24", &terminal);
    app.update(key(KeyCode::Esc));
    assert!(!app.flush_open && app.flush == Flush::Idle);
    assert_eq!(app.screen, Screen::Verdict, "Esc closes the pane, not the screen");
    assert!(footer_offers_retry(&app), "offered again");

    // A failure says why, in the same pane.
    app.update(key(KeyCode::Char('f')));
    app.update(key(KeyCode::Char('y')));
    app.update(Event::Flushed {
        domain: "expired.lab.test".into(),
        result: Err("no deferred mail for expired.lab.test: nothing to flush".into()),
    });
    let text = rows(draw(&app, 120, 40).backend().buffer()).concat();
    assert!(text.contains("nothing to flush"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_retry_is_offered_when_the_relay_would_defer() {
    let recorded = lab_report_on_may_relay("close-after-220").await;
    let mut app = relay_app();
    feed(&mut app, &recorded);
    let prediction = app
        .session
        .as_ref()
        .and_then(|s| s.verdict.relay.clone())
        .expect("prediction");
    assert!(!prediction.outcome.delivers(), "{prediction:?}");
    app.screen = Screen::Verdict;
    assert!(!footer_offers_retry(&app));
    assert_eq!(app.flush_offer(), None);
    assert!(app.update(key(KeyCode::Char('f'))).is_empty());
    assert!(app.update(key(KeyCode::Char('y'))).is_empty());
    assert_eq!(app.flush, Flush::Idle);
    let terminal = draw(&app, 80, 24);
    let text = rows(terminal.backend().buffer()).join("\n");
    assert!(text.contains("This relay: defers"), "{text}");
    snapshot("relay_may_close-after-220_verdict_80x24", &terminal);

    // Nor for a relay that is not Postfix, nor without a prediction.
    let mut plain = App::new(Settings::default(), Vec::new());
    feed(&mut plain, &lab_report("expired").await);
    plain.screen = Screen::Verdict;
    assert!(!footer_offers_retry(&plain));
}

/// While probing, only what the MX lookup settled shows a result; a step whose evidence
/// is not in yet waits, it is never shown as the finding.
#[tokio::test(flavor = "multi_thread")]
async fn while_probing_a_step_without_its_result_is_pending() {
    let recorded = lab_report("healthy").await;
    let mut app = App::new(Settings::default(), Vec::new());
    let commands = app.start(recorded.report.target.clone());
    let Some(Command::Start { generation, .. }) = commands.first().cloned() else {
        panic!("{commands:?}");
    };
    let mut drawn = false;
    for event in &recorded.events {
        let finished = matches!(event, engine::Event::Finished { .. });
        if finished {
            break;
        }
        app.update(Event::Engine {
            generation,
            event: event.clone(),
        });
        app.screen = Screen::Triage;
        let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
        assert!(
            !text.contains("finding:"),
            "a healthy server shows no finding while probing:\n{text}"
        );
        if !drawn
            && matches!(
                event,
                engine::Event::Stage {
                    stage: mxtriage::model::Stage::Greeting,
                    ..
                }
            )
        {
            assert!(text.contains("[no ] Is the recipient domain missin"), "{text}");
            assert!(text.contains("[wait] Do the MX hosts lack addresse"), "{text}");
            // Seven seconds on: the address says how long its stage has run and when it gives up.
            app.update(Event::Tick(Duration::from_secs(7)));
            let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
            assert!(text.contains("7 s in greeting; gives up after 60 s"), "{text}");
            snapshot("healthy_triage_probing_80x24", &draw(&app, 80, 24));
            // Enter opens what is known of the session so far.
            app.triage_pane = TriagePane::Matrix;
            app.update(key(KeyCode::Enter));
            assert_eq!(app.screen, Screen::Detail);
            let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
            assert!(text.contains("live: mx.healthy.lab.test"), "{text}");
            // The transcript so far, line by line, under the stages on the time line.
            assert!(text.contains("-- connecting to 127."), "{text}");
            let greeting = text.lines().find(|l| l.contains("│greeting ")).unwrap_or_default();
            assert!(greeting.contains('█') && greeting.contains("7.00 s"), "{text}");
            // A long transcript scrolls under the time line and the running stage, which
            // stay in view, and its newest line shows.
            let live = &mut app.run.as_mut().expect("a run").live[0];
            let template = live.first().cloned().expect("a line so far");
            for n in 0..60 {
                let mut line = template.clone();
                line.text = mxtriage::text::SafeText::from_peer_str(&format!("250-LINE {n}"));
                live.push(line);
            }
            let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
            assert!(
                text.contains("in greeting; gives up after") && text.contains("│greeting "),
                "{text}"
            );
            assert!(text.contains("250-LINE 59") && !text.contains("250-LINE 30 "), "{text}");
            app.update(key(KeyCode::Esc));
            drawn = true;
        }
    }
    assert!(drawn);
}

/// The operator who answered a four-option question seeing only option 1: at 80x24 the
/// verdict, a long fix and every option of the open question are on screen, and the
/// verdict pane scrolls to whatever still does not fit.
#[tokio::test(flavor = "multi_thread")]
async fn the_verdict_a_long_fix_and_every_option_fit_80x24() {
    use mxtriage::tui::view::{Scrolled, scroll_room};
    let mut app = on_verdict("expired").await;
    let (id, labels): (String, Vec<String>) = {
        let question = app.open_question().expect("the relay's TLS policy is asked");
        (
            question.id.clone(),
            question.answers.iter().map(|a| a.label.clone()).collect(),
        )
    };
    assert_eq!(labels.len(), 4, "{labels:?}");
    app.session.as_mut().unwrap().verdict.fix = "Tell the recipient's postmaster that mx.expired.lab.test \
        presents a certificate that expired; they renew it and install the new chain, then reload the \
        MTA. Until then, compare the relay's log line with this transcript before you retry."
        .into();
    let terminal = draw(&app, 80, 24);
    let text = rows(terminal.backend().buffer()).join("\n");
    assert!(text.contains("you retry."), "the whole fix is shown:\n{text}");
    for (i, label) in labels.iter().enumerate() {
        let start: String = label.chars().take(12).collect();
        assert!(
            text.contains(&format!("{}) {start}", i + 1)),
            "option {}:\n{text}",
            i + 1
        );
    }
    snapshot("expired_verdict_long_fix_question_80x24", &terminal);

    // What does not fit scrolls: Tab focuses the verdict pane, End shows its last line.
    let room = scroll_room(&app, Scrolled::VerdictHead);
    app.update(key(KeyCode::BackTab));
    app.update(key(KeyCode::End));
    assert_eq!(app.verdict_head_scroll, room.max);
    let shown = pane_rows(draw(&app, 80, 24).backend().buffer(), "verdict");
    assert!(
        shown.last().is_some_and(|r| !r.trim().is_empty()),
        "the last row shows the last line: {shown:#?}"
    );

    // The number keys answer it right here.
    let footer = view::footer_keys(&app, 80);
    assert!(footer.contains(&("1-4", "answer")), "{footer:?}");
    app.update(key(KeyCode::Char('2')));
    assert!(app.answers.contains_key(&id), "answered from the Verdict screen");
    assert_eq!(app.screen, Screen::Verdict);
}

/// A failure whose words run past the screen's width wraps in Detail's header, and both
/// commands that reproduce the session stay on screen.
#[tokio::test(flavor = "multi_thread")]
async fn detail_wraps_a_long_failure_line_and_shows_both_commands() {
    let recorded = lab_report("close-after-220").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &recorded);
    let message = "received fatal alert: the peer's TLS stack reported an internal error after the \
        ServerHello, while the certificate chain was still being sent, ending in END-OF-MESSAGE";
    for probe in &mut app.session.as_mut().unwrap().check.probes {
        probe.failure = Some(mxtriage::model::Failure::TlsError {
            message: message.into(),
        });
    }
    app.triage_pane = TriagePane::Matrix;
    app.update(key(KeyCode::Enter));
    assert_eq!(app.screen, Screen::Detail);
    let terminal = draw(&app, 80, 24);
    let text = rows(terminal.backend().buffer()).join("\n");
    assert!(text.contains("END-OF-MESSAGE"), "the whole failure is shown:\n{text}");
    assert!(
        text.contains("swaks --to") && text.contains("openssl s_client"),
        "{text}"
    );
    snapshot("close-after-220_detail_long_failure_80x24", &terminal);
}

/// `mxtriage demo` says how to start and which CA it trusts, at 80x24.
#[test]
fn the_demo_says_how_to_start_and_shows_its_lab_ca() {
    let offers = ["healthy", "expired", "close-after-220"]
        .iter()
        .map(|name| mxtriage::tui::app::Offer {
            name: (*name).into(),
            domain: format!("{name}.lab.test"),
            summary: "A healthy server: STARTTLS, TLS 1.3, a certificate from the lab CA.".into(),
            resolver: "127.0.0.1:53".parse().unwrap(),
        })
        .collect();
    let mut app = App::new(Settings::default(), offers);
    app.lab_ca = Some("CN=mxtriage lab CA, SHA-256 0123456789abcdef…".into());
    let terminal = draw(&app, 80, 24);
    let text = rows(terminal.backend().buffer()).join("\n");
    assert!(text.contains("press Enter to triage it"), "{text}");
    assert!(text.contains("lab CA") && text.contains("CN=mxtriage"), "{text}");
    snapshot("demo_intake_80x24", &terminal);
    assert_footer_fits("demo intake", &app);
}

/// A Postfix status line pasted at 80x24: the "understood" pane shows every field the
/// intake extracted, the error phrase included.
#[test]
fn the_understood_pane_shows_every_field_of_a_postfix_status_line() {
    let line = "Nov 29 18:03:55 relay postfix/smtp[2211]: 4F1A2B3C4D: to=<alice@example.net>, \
        relay=mx2.example.net[192.0.2.25]:25, delay=7213, delays=7200/0.02/10/0, dsn=4.7.5, \
        status=deferred (Cannot start TLS: handshake failure: SSL routines::unsupported protocol)";
    let mut app = App::new(Settings::default(), Vec::new());
    app.update(Event::Paste(line.into()));
    let terminal = draw(&app, 80, 24);
    let text = pane_rows(terminal.backend().buffer(), "understood").join("\n");
    for shown in [
        "example.net",
        "mx2.example.net",
        "192.0.2.25",
        "4.7.5",
        "Postfix",
        "7213 s",
        "Cannot start TLS",
        "protocol",
    ] {
        assert!(text.contains(shown), "{shown} is not shown:\n{text}");
    }
    snapshot("intake_postfix_status_80x24", &terminal);
}

/// A failed handshake is followed up after its session: the address says so until the
/// follow-up's event arrives, and then Detail shows what it found. `s` on Verdict stays
/// there while the scanned re-run fills it in.
#[tokio::test(flavor = "multi_thread")]
async fn the_follow_up_shows_as_running_until_it_lands_and_scan_stays_on_verdict() {
    let recorded = lab_report("close-after-220").await;
    assert!(
        recorded
            .events
            .iter()
            .any(|e| matches!(e, engine::Event::FollowedUp { .. })),
        "the engine follows up a failed handshake"
    );
    let mut app = App::new(Settings::default(), Vec::new());
    let commands = app.start(recorded.report.target.clone());
    let Some(Command::Start { generation, .. }) = commands.first().cloned() else {
        panic!("{commands:?}");
    };
    let mut seen_running = false;
    for event in &recorded.events {
        if matches!(event, engine::Event::FollowedUp { .. }) {
            app.screen = Screen::Triage;
            app.triage_pane = TriagePane::Matrix;
            let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
            seen_running = text.contains("following up");
            assert!(seen_running, "{text}");
        }
        app.update(Event::Engine {
            generation,
            event: event.clone(),
        });
    }
    assert!(seen_running);
    let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
    assert!(!text.contains("following up"), "it landed:\n{text}");
    app.screen = Screen::Triage;
    app.triage_pane = TriagePane::Matrix;
    app.update(key(KeyCode::Enter));
    let text = rows(draw(&app, 80, 24).backend().buffer()).join("\n");
    assert!(text.contains("follow-up:"), "{text}");

    app.update(key(KeyCode::Char('v')));
    assert_eq!(app.screen, Screen::Verdict);
    let commands = app.update(key(KeyCode::Char('s')));
    assert!(matches!(commands.first(), Some(Command::Start { .. })), "{commands:?}");
    assert_eq!(app.screen, Screen::Verdict, "s stays on the Verdict screen");
}

/// The flowchart's text as drawn at `width` columns, every row, unscrolled: what a
/// terminal tall enough would show.
fn flowchart_text(app: &App, width: u16) -> String {
    let session = app.session.as_ref().expect("a verdict");
    let theme = view::Theme::of(app);
    let lines = view::flowchart::lines(
        &session.verdict,
        mxtriage::diagnose::tree::Tree::embedded(),
        width,
        &theme,
    );
    lines
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The row of `text` where step `number`'s box starts its title, and the row of the
/// line down out of that box (the first row after it that starts with the line).
fn step_rows(text: &[&str], number: usize, down: &str) -> (usize, usize) {
    let title = text
        .iter()
        .position(|r| {
            r.chars()
                .skip(2)
                .collect::<String>()
                .starts_with(&format!("{number}. "))
        })
        .unwrap_or_else(|| panic!("no box for step {number}:\n{}", text.join("\n")));
    let connector = (title..text.len())
        .find(|&i| text[i].starts_with(&format!("  {down} ")))
        .unwrap_or_else(|| panic!("no line down from step {number}"));
    (title, connector)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flowchart_labels_every_step_with_the_branch_it_took() {
    use mxtriage::diagnose::Outcome;
    use mxtriage::diagnose::tree::Tree;
    let recorded = lab_report("expired").await;
    let mut app = App::new(Settings::default(), Vec::new());
    feed(&mut app, &recorded);
    // One question answered (the relay's policy), so the path holds a check's yes and
    // no, an answered question and, once answered, no pending one; then the same with
    // the question left open.
    for answered in [false, true] {
        if answered {
            app.update(key(KeyCode::Char('v')));
            app.update(key(KeyCode::Char('2')));
        }
        let steps = app.session.as_ref().unwrap().verdict.steps.clone();
        let finding = app.session.as_ref().unwrap().verdict.finding();
        let chart = flowchart_text(&app, 78);
        let text: Vec<&str> = chart.lines().collect();
        assert!(steps.len() > 3, "{steps:?}");
        for (i, step) in steps.iter().enumerate() {
            let (title, connector) = step_rows(&text, i + 1, "│");
            let label = text[connector].trim_start_matches("  │ ");
            let want = match &step.outcome {
                Outcome::Yes => "yes".to_string(),
                Outcome::No => "no".to_string(),
                Outcome::Answer(_) => step.answer_label(Tree::embedded()).unwrap().to_string(),
            };
            let shown: String = want.chars().take(20).collect();
            assert!(
                label == want || label.contains(&shown),
                "step {} ({}) took {want:?}, its line down says {label:?}",
                i + 1,
                step.node
            );
            // The branches not taken stand beside the box, never on the line down.
            assert!(!label.contains('→'), "step {}: {label:?}", i + 1);
            assert!(
                text[title..connector].iter().any(|r| r.contains('→')),
                "step {}: no branch beside its box:\n{}",
                i + 1,
                text[title..=connector].join("\n")
            );
            // The finding and a pending question say so in words and in their border.
            let boxed = text[title - 1..connector].join("\n");
            assert_eq!(boxed.contains("finding: "), finding == Some(i), "{boxed}");
            assert_eq!(boxed.contains('┃'), finding == Some(i), "{boxed}");
            assert_eq!(boxed.contains("pending: "), step.unanswered, "{boxed}");
        }
        assert_eq!(
            steps.iter().any(|s| s.unanswered),
            !answered,
            "the policy question is open until answered"
        );
        let verdict = &app.session.as_ref().unwrap().verdict;
        assert!(
            chart.contains(&format!("verdict: {}", verdict.title)),
            "the leaf names the verdict:\n{chart}"
        );
        assert!(chart.contains(&format!("owner: {}", verdict.owner.label())), "{chart}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flowchart_is_one_key_from_the_verdict_and_scrolls_no_further_than_the_leaf() {
    use mxtriage::tui::view::{Scrolled, scroll_room};
    let mut app = on_verdict("expired").await;
    assert!(
        view::footer_keys(&app, 80).contains(&("t", "tree")),
        "the Verdict footer offers it"
    );
    app.update(key(KeyCode::Char('t')));
    assert_eq!(app.screen, Screen::Flowchart);
    assert_footer_fits("flowchart", &app);
    let terminal = draw(&app, 80, 24);
    let text = rows(terminal.backend().buffer()).join("\n");
    assert!(
        text.contains("1. Is the recipient domain"),
        "the path starts at the top:\n{text}"
    );
    snapshot("expired_flowchart_80x24", &terminal);

    // End shows the leaf on the pane's last row; PgDn after it moves nothing.
    let room = scroll_room(&app, Scrolled::Flowchart);
    assert!(room.max > 0, "the path overflows 80x24");
    app.update(key(KeyCode::End));
    assert_eq!(app.flowchart_scroll, room.max);
    for _ in 0..5 {
        app.update(key(KeyCode::PageDown));
        app.update(key(KeyCode::Down));
    }
    assert_eq!(app.flowchart_scroll, room.max, "no scrolling past the leaf");
    let terminal = draw(&app, 80, 24);
    let shown = pane_rows(terminal.backend().buffer(), "decision path");
    assert!(
        shown.last().is_some_and(|r| r.starts_with('╰')),
        "the leaf's bottom is the last row, nothing blank below: {shown:#?}"
    );
    assert!(
        shown.iter().any(|r| r.contains("finding: Has a certificate")),
        "{shown:#?}"
    );
    snapshot("expired_flowchart_end_80x24", &terminal);

    // Paging skips no row, and Home is the top again.
    app.update(key(KeyCode::Home));
    assert_eq!(app.flowchart_scroll, 0);
    let mut seen = pane_rows(draw(&app, 80, 24).backend().buffer(), "decision path");
    while app.flowchart_scroll < room.max {
        app.update(key(KeyCode::PageDown));
        let page = pane_rows(draw(&app, 80, 24).backend().buffer(), "decision path");
        assert!(
            page.contains(seen.last().unwrap()),
            "a page keeps the last row of the one before"
        );
        seen = page;
    }

    // t and Esc both lead back to the verdict; a re-run starts the chart at its top.
    app.update(key(KeyCode::Char('t')));
    assert_eq!(app.screen, Screen::Verdict);
    app.update(key(KeyCode::Char('t')));
    app.update(key(KeyCode::Esc));
    assert_eq!(app.screen, Screen::Verdict);
    app.update(key(KeyCode::Char('r')));
    assert_eq!(app.flowchart_scroll, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flowchart_reads_without_colour_and_in_ascii() {
    let mut app = on_verdict("expired").await;
    app.update(key(KeyCode::Char('t')));
    // In colour the branches not taken are dimmed and the finding is red.
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    let at = find(buffer, "yes → verdict:").expect("a branch not taken");
    assert_eq!(buffer.content()[at].fg, Color::DarkGray);
    app.update(key(KeyCode::End));

    // NO_COLOR: no colour anywhere, the same words and characters.
    app.no_color = true;
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    assert!(buffer.content().iter().all(|c| c.fg == Color::Reset));
    let text = rows(buffer).join("\n");
    assert!(
        text.contains("┃ 38. finding: ") && text.contains("not answered yet"),
        "{text}"
    );

    // ASCII: every cell plain, the finding's box in #, the branches not taken with ->.
    app.ascii = true;
    let terminal = draw(&app, 80, 24);
    let odd = non_ascii(terminal.backend().buffer());
    assert!(odd.is_empty(), "non-ASCII: {odd:?}");
    let text = rows(terminal.backend().buffer()).join("\n");
    assert!(
        text.contains("# 38. finding: ") && text.contains("no -> Is a certificate"),
        "{text}"
    );
    snapshot("expired_flowchart_ascii_80x24", &terminal);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flowchart_fits_any_width_and_survives_odd_sessions() {
    use unicode_width::UnicodeWidthStr;
    let mut app = on_verdict("expired").await;
    app.update(key(KeyCode::Char('t')));
    for ascii in [false, true] {
        app.ascii = ascii;
        // Below a box's few columns rows may be cut by the pane; above, none is wider.
        for width in 0..=130 {
            for row in flowchart_text(&app, width).lines() {
                assert!(
                    row.width() <= usize::from(width).max(8),
                    "{width} columns, ascii {ascii}: {row:?}"
                );
            }
        }
        for (w, h) in [(0, 0), (1, 1), (12, 6), (40, 10), (80, 24)] {
            app.viewport = (w, h);
            app.update(key(KeyCode::End));
            app.update(key(KeyCode::PageDown));
            draw(&app, w, h);
        }
    }
    app.viewport = (80, 24);
    // A session saved by an older tree (a step it no longer has), then none at all.
    let steps = &mut app.session.as_mut().unwrap().verdict.steps;
    steps[0].node = "no-longer-in-the-tree".into();
    steps[0].title = "A step \u{1b}[31mfrom before\ttabs".into();
    let chart = flowchart_text(&app, 78);
    assert!(
        chart.contains("1. A step [31mfrom before tabs") && !chart.contains('\u{1b}'),
        "no control character reaches the terminal: {chart}"
    );
    app.session.as_mut().unwrap().verdict.steps.clear();
    let chart = flowchart_text(&app, 78);
    assert!(
        chart.contains("verdict: The server's certificate has expired"),
        "{chart}"
    );
    app.update(key(KeyCode::End));
    assert_eq!(app.flowchart_scroll, 0, "a chart that fits does not scroll");
}

/// Issue 13 on the Verdict screen: a pool whose addresses fail in three ways says which
/// addresses the headline is about, and scrolling the verdict pane shows every group
/// with each of its addresses, while the footer stays the one of any verdict.
#[tokio::test(flavor = "multi_thread")]
async fn the_verdict_screen_lists_a_mixed_pool_by_address() {
    use mxtriage::tui::view::{Scrolled, scroll_room};
    let mut app = on_verdict("mixed-pool").await;
    let groups = app.session.as_ref().unwrap().verdict.groups.clone();
    assert_eq!(groups.len(), 3, "{groups:#?}");
    let terminal = draw(&app, 80, 24);
    snapshot("mixed-pool_verdict_80x24", &terminal);
    let first = pane_rows(terminal.backend().buffer(), "verdict").join("\n");
    assert!(first.contains("about 6 of the 8 addresses"), "{first}");
    assert!(
        first.contains("The certificate does not cover the MX host name"),
        "{first}"
    );
    // Tab to the verdict pane, then down line by line: every group and address passes by.
    let room = scroll_room(&app, Scrolled::VerdictHead);
    assert!(room.max > 0, "the groups do not fit the pane at 80x24");
    app.update(key(KeyCode::BackTab));
    let mut seen = first;
    for _ in 0..=room.max {
        app.update(key(KeyCode::Char('j')));
        seen.push('\n');
        seen.push_str(&pane_rows(draw(&app, 80, 24).backend().buffer(), "verdict").join("\n"));
    }
    for group in &groups {
        let start: String = group.title.chars().take(40).collect();
        assert!(seen.contains(&start), "{start} never shown:\n{seen}");
        for address in &group.addresses {
            let line = format!("{} (all 10 MX names)", address.address);
            assert!(seen.contains(&line), "{line} never shown:\n{seen}");
        }
    }
    let mut plain = App::new(Settings::default(), Vec::new());
    feed(&mut plain, &lab_report("expired").await);
    plain.update(key(KeyCode::Char('v')));
    plain.update(key(KeyCode::BackTab));
    assert_eq!(view::footer_keys(&app, 80), view::footer_keys(&plain, 80));
}

/// Enter on a transcript line of the evidence opens Detail with that line in view,
/// whether or not the time line is drawn above the transcript.
#[tokio::test(flavor = "multi_thread")]
async fn evidence_opens_the_transcript_at_the_cited_line() {
    let mut app = on_verdict("close-after-220").await;
    let session = app.session.clone().expect("a session");
    let (index, line) = session
        .verdict
        .evidence
        .iter()
        .enumerate()
        .find_map(|(i, e)| match e.at {
            mxtriage::diagnose::EvidenceAt::Transcript { line } => Some((i, line)),
            _ => None,
        })
        .expect("transcript evidence");
    let cited = format!("{line:>3} ");
    for (width, height) in [(80, 24), (120, 40), (160, 60)] {
        let mut app = on_verdict("close-after-220").await;
        app.update(Event::Resize(width, height));
        app.evidence_selected = index;
        app.update(key(KeyCode::Enter));
        assert_eq!(app.screen, Screen::Detail);
        let shown = pane_rows(draw(&app, width, height).backend().buffer(), "transcript");
        assert!(
            shown.iter().any(|row| row.starts_with(&cited)),
            "line {line} not in view at {width}x{height}:\n{}",
            shown.join("\n")
        );
    }
    drop(app.update(key(KeyCode::Esc)));
}
