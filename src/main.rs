//! The `mxtriage` binary: command-line dispatch only.

mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command, Format, ReportCommand};
use mxtriage::cert::TrustStores;
use mxtriage::check::{self, CheckOptions};
use mxtriage::diagnose::{self, Tree};
use mxtriage::dns::Family;
use mxtriage::lab;
use mxtriage::probe::{ProbeConfig, Timeouts};
use mxtriage::report::{self, Session, diff, store};
use mxtriage::target::Target;

const USAGE: u8 = 2;
const NOTHING_TESTED: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { USAGE } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(NOTHING_TESTED);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Check(args) => check(args).await,
            Command::Lab(args) => lab::demo::serve(args.latency_ms, args.dir)
                .await
                .map(|()| 0)
                .map_err(Into::into),
            Command::Demo => lab::demo::run().await.map_err(Into::into),
            Command::Bench(args) => lab::bench::run(args.latency_ms, args.runs)
                .await
                .map(|()| 0)
                .map_err(Into::into),
            Command::Report(command) => report_command(command),
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(e.downcast_ref::<Usage>().map_or(NOTHING_TESTED, |_| USAGE))
        }
    }
}

/// Marks an error as the operator's input being wrong (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

async fn check(args: cli::CheckArgs) -> anyhow::Result<u8> {
    let target = Target::parse(&args.target).map_err(|e| Usage(e.to_string()))?;
    let timeouts = Timeouts {
        connect: cli::seconds(args.timeout_connect, "timeout-connect").map_err(Usage)?,
        command: cli::seconds(args.timeout_command, "timeout-command").map_err(Usage)?,
        tls: cli::seconds(args.timeout_tls, "timeout-tls").map_err(Usage)?,
    };
    let stores = TrustStores::load(args.ca_file.as_deref()).map_err(|e| Usage(e.to_string()))?;
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Family::V4Only,
        (_, true) => Family::V6Only,
        _ => Family::Both,
    };
    let tree = Tree::embedded();
    let answers = args
        .answer
        .iter()
        .map(|a| diagnose::parse_answer(tree, a))
        .collect::<Result<_, _>>()
        .map_err(|e| Usage(e.to_string()))?;
    let compare = match &args.compare {
        Some(path) => Some(Session::load(path).map_err(|e| Usage(e.to_string()))?),
        None => None,
    };
    let options = CheckOptions {
        target,
        port: args.port,
        family,
        nameservers: args.nameserver,
        dns_timeout: Duration::from_secs(5),
        probe: ProbeConfig {
            ehlo_name: args.ehlo.unwrap_or_else(mxtriage::host::ehlo_name),
            sni: args.sni,
            source: args.source,
            timeouts,
            slow_greeting: Duration::from_secs(3),
            stores: Arc::new(stores),
        },
        attempts: usize::from(args.attempts),
    };
    let report = check::run(&options).await.context("cannot resolve the target")?;
    let mut session = Session::new(report, answers).map_err(|e| Usage(e.to_string()))?;
    if let Some(other) = &compare
        && !session.answers.contains_key("vantage")
        && let Some(answer) = diff::vantage_answer(&session, other)
    {
        let mut answers = session.answers.clone();
        answers.insert("vantage".to_string(), answer.to_string());
        session = Session::new(session.check, answers).map_err(|e| Usage(e.to_string()))?;
    }
    let rendered = render(&session, args.format, args.verbose);
    match &args.output {
        Some(path) => {
            store::write_new(path, &rendered)?;
            eprintln!("report written to {}", path.display());
        }
        None => print!("{rendered}"),
    }
    if args.save {
        let dir = store::default_dir()?;
        for (format, extension) in [(Format::Json, "json"), (Format::Markdown, "md")] {
            let path = dir.join(store::file_name(
                &session.check.target.to_string(),
                session.check.started_at,
                extension,
            ));
            store::write_new(&path, &render(&session, format, false))?;
            eprintln!("saved {}", path.display());
        }
    }
    Ok(session.exit_code())
}

fn render(session: &Session, format: Format, verbose: bool) -> String {
    match format {
        Format::Text => report::render_text(session, verbose),
        Format::Json => format!("{}\n", session.to_json()),
        Format::Markdown => report::render_markdown(session),
    }
}

fn report_command(command: ReportCommand) -> anyhow::Result<u8> {
    match command {
        ReportCommand::Show { file, format } => {
            let session = Session::load(&file).map_err(|e| Usage(e.to_string()))?;
            print!("{}", render(&session, format, true));
            Ok(session.exit_code())
        }
        ReportCommand::Diff { a, b } => {
            let a = Session::load(&a).map_err(|e| Usage(e.to_string()))?;
            let b = Session::load(&b).map_err(|e| Usage(e.to_string()))?;
            let d = diff::diff(&a, &b);
            print!("{}", diff::render_diff(&a, &b, &d));
            Ok(u8::from(!d.differences.is_empty()))
        }
    }
}
