//! The `mxtriage` binary: command-line dispatch only.

mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command, Format};
use mxtriage::cert::TrustStores;
use mxtriage::check::{self, CheckOptions};
use mxtriage::dns::Family;
use mxtriage::probe::{ProbeConfig, Timeouts};
use mxtriage::target::Target;
use mxtriage::{lab, report};

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
    };
    let report = check::run(&options).await.context("cannot resolve the target")?;
    match args.format {
        Format::Text => print!("{}", report::render_text(&report, args.verbose)),
        Format::Json => println!("{}", report::render_json(&report)),
    }
    Ok(report.conclusion().exit_code())
}
