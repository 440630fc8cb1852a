//! The `mxtriage` binary: command-line dispatch only.

mod cli;
mod config;
mod man;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command, Format, ProbeArgs, ReportCommand};
use mxtriage::cert::TrustStores;
use mxtriage::diagnose::{self, Answers, Tree};
use mxtriage::dns::Family;
use mxtriage::engine::{self, PolicyOptions, Settings};
use mxtriage::lab;
use mxtriage::policy::sts_fetch::FetchSettings;
use mxtriage::probe::Timeouts;
use mxtriage::report::{self, Session, diff, store};
use mxtriage::target::Target;
use mxtriage::tui::{self, app::App};

const USAGE: u8 = 2;
const NOTHING_TESTED: u8 = 3;

fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { USAGE } else { 0 });
        }
    };
    match &cli.command {
        Some(Command::Completions { shell }) => return completions(*shell),
        Some(Command::Man { out }) => return man(out.as_deref()),
        _ => {}
    }
    // The configuration file matters only to the commands that probe or read the relay;
    // a bad one stops them (exit 2) and no other.
    let effective = match &mut cli.command {
        None => configured(&mut cli.probe).map(Some),
        Some(Command::Check(args)) => configured(&mut args.probe).map(Some),
        Some(Command::Queue(args)) => queue_config(args).map(|()| None),
        _ => Ok(None),
    };
    let effective = match effective {
        Ok(effective) => effective,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if cli.print_config
        && let Some(effective) = &effective
    {
        let reports = store::default_dir().ok();
        emit(&effective.render(&mxtriage::host::ehlo_name(), reports.as_deref()));
        return ExitCode::SUCCESS;
    }
    let report_dir = effective.and_then(|e| e.report_dir.0);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(NOTHING_TESTED);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            None => workbench(cli.target, cli.probe, cli.resume, report_dir).await,
            Some(Command::Check(args)) => check(*args, report_dir).await,
            Some(Command::Lab(args)) => lab::demo::serve(args.latency_ms, args.dir)
                .await
                .map(|()| 0)
                .map_err(Into::into),
            Some(Command::Demo) => demo().await,
            Some(Command::Bench(args)) => lab::bench::run(args.latency_ms, args.runs)
                .await
                .map(|()| 0)
                .map_err(Into::into),
            Some(Command::Report(command)) => report_command(command),
            Some(Command::Queue(args)) => queue_command(args).await,
            Some(Command::Parse(args)) => parse_command(&args),
            Some(Command::Completions { .. } | Command::Man { .. }) => Ok(0),
        }
    });
    // The input thread may still block on the terminal; leave without waiting for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(e.downcast_ref::<Usage>().map_or(NOTHING_TESTED, |_| USAGE))
        }
    }
}

/// `mxtriage completions SHELL`: the script, from the same definitions as `--help`.
fn completions(shell: cli::CompletionShell) -> ExitCode {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut Cli::command(),
        "mxtriage",
        &mut script,
    );
    emit(&String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

/// `mxtriage man [--out DIR]`: the manual page on stdout, or every page into DIR.
fn man(out: Option<&std::path::Path>) -> ExitCode {
    use clap::CommandFactory;
    let result = match out {
        None => man::render(Cli::command()).map(|page| emit(&page)),
        Some(dir) => man::write_all(Cli::command(), dir).map(|written| {
            for path in written {
                println!("{}", path.display());
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// Reads the configuration file, if any, under the probe options the command line gave.
fn configured(probe: &mut ProbeArgs) -> Result<config::Effective, config::ConfigError> {
    let path = config::default_path();
    let file = match &path {
        Some(path) => config::load(path)?,
        None => None,
    };
    let effective = config::Effective::merge(probe, path.as_deref(), file.as_ref());
    effective.apply(probe);
    Ok(effective)
}

/// `queue` reads the Postfix instance the configuration file names, unless told another.
fn queue_config(args: &mut cli::QueueArgs) -> Result<(), config::ConfigError> {
    if args.postfix_config.is_none()
        && let Some(path) = config::default_path()
        && let Some(file) = config::load(&path)?
    {
        args.postfix_config = file.postfix_config;
    }
    Ok(())
}

/// Marks an error as the operator's input being wrong (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn interactive() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

fn timeouts(args: &ProbeArgs) -> Result<Timeouts, Usage> {
    Ok(Timeouts {
        connect: cli::seconds(args.timeout_connect, "timeout-connect").map_err(Usage)?,
        command: cli::seconds(args.timeout_command, "timeout-command").map_err(Usage)?,
        tls: cli::seconds(args.timeout_tls, "timeout-tls").map_err(Usage)?,
    })
}

fn family(args: &ProbeArgs) -> Family {
    match (args.ipv4, args.ipv6) {
        (true, _) => Family::V4Only,
        (_, true) => Family::V6Only,
        _ => Family::Both,
    }
}

/// The one mapping from the shared flags to the engine's settings (`check` adds its own).
fn settings(args: &ProbeArgs) -> Result<Settings, Usage> {
    Ok(Settings {
        port: args.port,
        family: family(args),
        nameservers: args.nameserver.clone(),
        ca_file: args.ca_file.clone(),
        source: args.source,
        ehlo: args.ehlo.clone(),
        sni: args.sni.clone(),
        attempts: usize::from(args.attempts),
        implicit_tls: args.tls == cli::TlsMode::Implicit,
        timeouts: timeouts(args)?,
        deadline: cli::seconds(args.deadline, "deadline").map_err(Usage)?,
        policy: policy_options(args),
        relay: relay_source(args),
        follow_up: !args.no_followup,
        sender_profile: args.sender_profile.clone(),
        ..Settings::default()
    })
}

/// This host's MTA unless told otherwise: the relay every verdict is about.
fn relay_source(args: &ProbeArgs) -> mxtriage::relay::RelaySource {
    use mxtriage::relay::RelaySource;
    match (&args.postfix_config, args.no_relay) {
        (Some(dir), _) => RelaySource::Postfix {
            config_dir: Some(dir.clone()),
        },
        (None, true) => RelaySource::Off,
        (None, false) => RelaySource::Auto,
    }
}

fn policy_options(args: &ProbeArgs) -> PolicyOptions {
    PolicyOptions {
        enabled: !args.no_policy,
        fetch: FetchSettings {
            port: args.mta_sts_port,
            ..FetchSettings::default()
        },
        compare_nameservers: args.compare_nameserver.clone(),
        authority_port: args.authority_port,
    }
}

/// The interactive workbench: Intake, Triage on a target, or a resumed session.
async fn workbench(
    target: Option<String>,
    probe: ProbeArgs,
    resume: bool,
    report_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<u8> {
    if !interactive() {
        eprintln!("mxtriage is an interactive workbench and needs a terminal.");
        eprintln!("For scripts, pipes and cron use: mxtriage check TARGET [--format text|json|markdown]");
        eprintln!("See mxtriage --help.");
        return Ok(USAGE);
    }
    let env = tui::Environment {
        report_dir,
        ..tui::Environment::default()
    };
    let settings = settings(&probe)?;
    if resume {
        let session = tui::load_autosave().map_err(Usage)?;
        tui::run(App::resumed(settings, session), env, Vec::new()).await?;
        return Ok(0);
    }
    let mut app = App::new(settings, Vec::new());
    let first = match target {
        Some(text) => app.start(Target::parse(&text).map_err(|e| Usage(e.to_string()))?),
        None => Vec::new(),
    };
    tui::run(app, env, first).await?;
    Ok(0)
}

/// `mxtriage demo`: the workbench over the built-in lab, or a printed tour without a terminal.
async fn demo() -> anyhow::Result<u8> {
    if !interactive() {
        return Ok(lab::demo::run().await?);
    }
    let lab = lab::Lab::start(lab::LabOptions::default()).await?;
    let offers = lab
        .scenarios()
        .iter()
        .map(|s| tui::app::Offer {
            name: s.name.clone(),
            domain: s.domain.clone(),
            summary: s.summary.clone(),
            resolver: lab.resolver_for(&s.domain),
        })
        .collect();
    // Each scenario picked brings its own resolver; the rest is the lab's.
    let settings = Settings {
        nameservers: vec![lab.dns],
        ..lab.settings("")
    };
    let env = tui::Environment {
        extra_anchors: vec![lab.ca_der()],
        report_dir: None,
    };
    tui::run(App::new(settings, offers), env, Vec::new()).await?;
    Ok(0)
}

async fn check(args: cli::CheckArgs, report_dir: Option<std::path::PathBuf>) -> anyhow::Result<u8> {
    let target = Target::parse(&args.target).map_err(|e| Usage(e.to_string()))?;
    let stores = TrustStores::load(args.probe.ca_file.as_deref()).map_err(|e| Usage(e.to_string()))?;
    let system = stores.system_load();
    if system.loaded == 0 {
        // Said once, on stderr: a relay whose store is empty verifies nothing either.
        let why = system.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
        eprintln!(
            "note: this host's trust store has no usable anchors{why}; judging against Mozilla's roots and --ca-file"
        );
    }
    let tree = Tree::embedded();
    let answers: Answers = args
        .answer
        .iter()
        .map(|a| diagnose::parse_answer(tree, a))
        .collect::<Result<_, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    let compare = match &args.compare {
        Some(path) => Some(Session::load(path).map_err(|e| Usage(e.to_string()))?),
        None => None,
    };
    let settings = Settings {
        scan: args.scan.then(|| mxtriage::probe::scan::ScanSettings {
            delay: Duration::from_millis(args.scan_delay_ms),
            ..Default::default()
        }),
        second_opinion: args.openssl || args.scan,
        ..settings(&args.probe)?
    };
    let options = settings.options(target, Arc::new(stores));
    let report = run_with_progress(&options).await.context("cannot resolve the target")?;
    let mut answers = answers;
    if let Some(other) = &compare
        && !answers.contains_key("vantage")
        && let Some(answer) = diff::vantage_answer(&report, &other.check)
    {
        answers.insert("vantage".to_string(), answer.to_string());
    }
    let session = Session::new(report, answers).map_err(|e| Usage(e.to_string()))?;
    let rendered = render(&session, args.format, args.verbose);
    match &args.output {
        Some(path) => {
            store::write_new(path, &rendered)?;
            eprintln!("report written to {}", path.display());
        }
        None => emit(&rendered),
    }
    if args.save {
        let dir = match report_dir {
            Some(dir) => dir,
            None => store::default_dir()?,
        };
        for (format, extension) in [(Format::Json, "json"), (Format::Markdown, "md")] {
            let target = session.check.target.to_string();
            let contents = render(&session, format, false);
            let path = store::write_unique(&dir, &target, session.check.started_at, extension, &contents)?;
            eprintln!("saved {}", path.display());
        }
    }
    if args.flush {
        flush(&session, &settings.relay).await;
    }
    Ok(session.exit_code())
}

/// `--flush`: retries the destination's deferred mail, only when this relay is predicted
/// to deliver now, and prints what its log then says (on stderr: the report stays clean).
async fn flush(session: &Session, relay: &mxtriage::relay::RelaySource) {
    use mxtriage::relay::postfix::queue;
    let prediction = session.verdict.relay.as_ref();
    if !prediction.is_some_and(|p| p.outcome.delivers()) {
        let why = prediction.map_or_else(
            || "no MTA configuration was read".to_string(),
            |p| mxtriage::report::relay::outcome(p.outcome),
        );
        eprintln!("not flushed: this relay {why}; retrying now would only repeat the failure");
        return;
    };
    let config_dir = relay.config_dir();
    // The destination asked about, even when a relayhost is what was probed.
    let domain = session
        .check
        .relay
        .as_ref()
        .map_or_else(|| session.check.resolution.query.clone(), |r| r.destination.clone());
    let hosts: Vec<String> = session.check.resolution.hosts.iter().map(|h| h.name.clone()).collect();
    match queue::flush(&domain, &hosts, config_dir, queue::FOLLOW).await {
        Ok(outcome) => eprint!("{}", outcome.render_text(queue::FOLLOW)),
        Err(e) => eprintln!("not flushed: {e}"),
    }
}

/// Runs the check; on a terminal, says on stderr what it is doing as the events come.
async fn run_with_progress(
    options: &engine::CheckOptions,
) -> Result<mxtriage::model::CheckReport, mxtriage::dns::DnsError> {
    if !std::io::stderr().is_terminal() {
        return engine::run(options, &()).await;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let show = async move {
        while let Some(event) = rx.recv().await {
            if let Some(line) = progress_line(&event) {
                eprintln!("{line}");
            }
        }
    };
    let (report, ()) = tokio::join!(
        async move {
            let report = engine::run(options, &tx).await;
            drop(tx);
            report
        },
        show
    );
    report
}

/// One line of progress for an event, or none for the small steps.
fn progress_line(event: &engine::Event) -> Option<String> {
    use engine::Event;
    match event {
        Event::Resolved { report, targets } => Some(format!(
            "{}: {} address(es) to probe",
            mxtriage::report::describe_resolution(&report.resolution),
            targets.len()
        )),
        Event::Probed(p) => Some(format!(
            "  {} [{}]: {}",
            p.mx,
            p.address.ip(),
            p.failure.as_ref().map_or_else(|| "ok".to_string(), |f| f.summary())
        )),
        Event::Scanned { address, scan } => Some(format!(
            "  scanned [{}]: {} connections",
            address.ip(),
            scan.connections
        )),
        Event::SecondOpinion { address, opinion } => Some(format!("  [{}] {}", address.ip(), opinion.describe())),
        Event::Policy(_) => Some("  recipient policy checked".into()),
        Event::FollowedUp { address, follow_up } => Some(format!(
            "  followed up [{}]: {} ({} connections)",
            address.ip(),
            follow_up.describe(),
            follow_up.connections
        )),
        Event::Relay(relay) => Some(format!("  {}", mxtriage::report::relay::headline(relay))),
        Event::RelayClient { address, run } => {
            Some(format!("  [{}] this relay's client: {}", address.ip(), run.summary()))
        }
        Event::Stage { .. } | Event::Line { .. } | Event::Finished { .. } => None,
    }
}

fn render(session: &Session, format: Format, verbose: bool) -> String {
    match format {
        Format::Text => report::render_text(session, verbose),
        Format::Json => format!("{}\n", session.to_json()),
        Format::Markdown => report::render_markdown(session),
    }
}

/// Writes a finished report to standard output (see [`mxtriage::output`]).
///
/// A reader that stopped early (`| head`) wanted no more: nothing to say. Any other
/// failure (`> /dev/full`) is said once on stderr. Either way the caller returns the
/// verdict's exit code: the check itself did not fail, and scripts branch on it.
fn emit(text: &str) {
    if let Err(e) = mxtriage::output::print(text)
        && !mxtriage::output::reader_gone(&e)
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot write the report to standard output: {e}"
        );
    }
}

/// `mxtriage queue`: the deferred queue by destination, or a confirmed flush of one.
async fn queue_command(args: cli::QueueArgs) -> anyhow::Result<u8> {
    use mxtriage::relay::postfix::queue;
    let config = args.postfix_config.as_deref();
    let json = args.format == cli::QueueFormat::Json;
    let Some(domain) = args.flush else {
        let deferred = queue::deferred(config).await?;
        emit(&if json {
            format!("{}\n", serde_json::to_string_pretty(&deferred)?)
        } else {
            deferred.render_text()
        });
        return Ok(0);
    };
    if !args.yes {
        return Err(Usage(format!(
            "--flush {domain} makes this relay connect to the destination now; add --yes to confirm"
        ))
        .into());
    }
    let follow = Duration::from_secs(args.follow);
    let outcome = queue::flush(&domain, &[], config, follow).await?;
    emit(&if json {
        format!("{}\n", serde_json::to_string_pretty(&outcome)?)
    } else {
        outcome.render_text(follow)
    });
    Ok(0)
}

/// `mxtriage parse`: the intake's reading of a file or standard input (its first
/// 256 KiB, all the intake reads); exit 3 when it names no destination.
fn parse_command(args: &cli::ParseArgs) -> anyhow::Result<u8> {
    use std::io::Read;
    let limit = mxtriage::intake::MAX_INPUT_BYTES as u64;
    let mut bytes = Vec::new();
    let read = match args.file.as_deref().filter(|p| *p != std::path::Path::new("-")) {
        Some(path) => std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .map_err(|e| Usage(format!("cannot read {}: {e}", path.display()))),
        None => std::io::stdin()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| Usage(format!("cannot read standard input: {e}"))),
    };
    read?;
    let parsed = mxtriage::intake::Parsed::of(&String::from_utf8_lossy(&bytes));
    match (args.format, parsed.found()) {
        (cli::QueueFormat::Json, _) => emit(&format!("{}\n", parsed.to_json())),
        (cli::QueueFormat::Text, true) => emit(&parsed.to_text()),
        (cli::QueueFormat::Text, false) => eprint!("{}", parsed.to_text()),
    }
    Ok(if parsed.found() { 0 } else { NOTHING_TESTED })
}

fn report_command(command: ReportCommand) -> anyhow::Result<u8> {
    match command {
        ReportCommand::Show { file, format } => {
            let session = Session::load(&file).map_err(|e| Usage(e.to_string()))?;
            emit(&render(&session, format, true));
            Ok(session.exit_code())
        }
        ReportCommand::Diff { a, b } => {
            let a = Session::load(&a).map_err(|e| Usage(e.to_string()))?;
            let b = Session::load(&b).map_err(|e| Usage(e.to_string()))?;
            let d = diff::diff(&a, &b);
            emit(&diff::render_diff(&a, &b, &d));
            Ok(u8::from(!d.differences.is_empty()))
        }
    }
}
