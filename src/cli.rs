//! Command-line definitions (clap). Dispatch lives in main.rs.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes (stable; they follow the verdict):
  0  healthy: mail is deliverable over TLS (possibly with warnings), or this relay's
     MTA delivers it over TLS as configured (the report still names the recipient's problem)
  1  a problem with a root-cause family and an owner
  2  usage error (bad arguments, target, answer or file)
  3  inconclusive, or nothing could be tested (no such domain, null MX, DNS failure)";

/// Without a subcommand: the interactive workbench (Intake, or Triage on TARGET).
#[derive(Debug, Parser)]
#[command(
    name = "mxtriage",
    version,
    about = "Guided, evidence-backed diagnosis of SMTP STARTTLS failures",
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the workbench on this target at once (same forms as `check`).
    pub target: Option<String>,
    /// Reopen the last autosaved session.
    #[arg(long, conflicts_with = "target")]
    pub resume: bool,
    /// Print the effective settings (resolver, CA file, EHLO name, source address, sender
    /// profile, report directory, relay) and where each came from: the default, the
    /// configuration file or the command line.
    #[arg(long, conflicts_with_all = ["target", "resume"])]
    pub print_config: bool,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve a destination and probe every MX address over SMTP + STARTTLS + TLS.
    #[command(after_help = EXIT_CODES)]
    Check(Box<CheckArgs>),
    /// Run the fault-injection lab on loopback and print how to test each scenario.
    Lab(LabArgs),
    /// Start the lab in-process and check every scenario through the real DNS, SMTP and TLS paths.
    Demo,
    /// Measure a check of a 2 MX × 2 address lab domain under injected latency.
    Bench(BenchArgs),
    /// Show or compare saved JSON reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// This relay's deferred mail by destination (Postfix `postqueue -j`).
    #[command(after_help = QUEUE_EXIT_CODES)]
    Queue(QueueArgs),
    /// Read a bounce, DSN or MTA log lines and print what the intake extracts (for scripts).
    #[command(after_help = PARSE_EXIT_CODES)]
    Parse(ParseArgs),
    /// Print a shell completion script generated from these definitions.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff) generated from these definitions.
    #[command(after_help = "Read it with: mxtriage man | man -l -")]
    Man {
        /// Write mxtriage.1 and one page per subcommand (mxtriage-check.1, ...) to DIR instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

pub const COMPLETIONS_HELP: &str = "\
Install (one of):
  mxtriage completions bash > /etc/bash_completion.d/mxtriage
  mxtriage completions zsh  > \"${fpath[1]}/_mxtriage\"
  mxtriage completions fish > ~/.config/fish/completions/mxtriage.fish";

/// The shells a completion script is generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for clap_complete::Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Self::Bash,
            CompletionShell::Zsh => Self::Zsh,
            CompletionShell::Fish => Self::Fish,
        }
    }
}

pub const PARSE_EXIT_CODES: &str = "\
Exit codes:
  0  a destination was found
  2  usage error (the file cannot be read)
  3  no destination in the text (the forms looked for are printed)";

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// The text to read; `-` or nothing reads standard input. CR, CRLF and LF line ends alike.
    #[arg(value_name = "FILE|-")]
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = QueueFormat::Text)]
    pub format: QueueFormat,
}

pub const QUEUE_EXIT_CODES: &str = "\
Exit codes:
  0  the queue was read (empty or not)
  2  usage error (--flush without --yes)
  3  the queue could not be read (the reason is printed)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    #[arg(long, value_enum, default_value_t = QueueFormat::Text)]
    pub format: QueueFormat,
    /// Postfix configuration directory (`postqueue -c DIR`) [default: Postfix's own].
    #[arg(long, value_name = "DIR")]
    pub postfix_config: Option<PathBuf>,
    /// Ask Postfix to deliver DOMAIN's deferred mail now, then show the new log lines
    /// about it; the relay connects to the destination at once, so --yes is required.
    #[arg(long, value_name = "DOMAIN")]
    pub flush: Option<String>,
    /// Confirm --flush.
    #[arg(long, requires = "flush")]
    pub yes: bool,
    /// Seconds to follow the log after --flush.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "flush", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub follow: u64,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render a saved JSON report again.
    Show {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compare two reports (usually from two vantage points) and say what the difference means.
    Diff { a: PathBuf, b: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    Starttls,
    Implicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A domain (MX lookup), host:port, [host], [ip] or [ip]:port (no MX lookup).
    pub target: String,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Show the transcript of every address, not only failing ones.
    #[arg(short, long)]
    pub verbose: bool,
    /// Answer a question of the decision tree, e.g. vantage=same or sender-policy=verify (repeatable).
    #[arg(long, value_name = "ID=KEY")]
    pub answer: Vec<String>,
    /// A report from another vantage point: answers the vantage question by comparison.
    #[arg(long, value_name = "JSON")]
    pub compare: Option<PathBuf>,
    /// Also save the JSON and Markdown reports under the user data directory.
    #[arg(long)]
    pub save: bool,
    /// Also scan what each server accepts (versions, suites, groups) with ClientHellos of
    /// our own: opt-in, up to 30 connections per address, two at a time while it answers
    /// promptly.
    #[arg(long)]
    pub scan: bool,
    /// Also ask the system's OpenSSL (`openssl s_client -starttls smtp`) about each
    /// address and show where it disagrees with this probe (on by default with --scan).
    #[arg(long)]
    pub openssl: bool,
    /// Milliseconds of the first pause when the scan backs off (after a 421, a reset or a
    /// slow greeting); it doubles up to 2 s.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub scan_delay_ms: u64,
    /// After the report, retry this destination's deferred mail now (Postfix: postqueue)
    /// and follow the relay's log for up to 30 s, but only when the verdict predicts that
    /// the relay delivers; never by default.
    #[arg(long)]
    pub flush: bool,
    /// Write the report in --format to this file instead of standard output (never overwrites).
    #[arg(long, short = 'o', value_name = "FILE", value_parser = output_file)]
    pub output: Option<PathBuf>,
}

/// How to reach and greet the destination; shared by `check` and the workbench.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Port when the target does not name one.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Bind outbound connections to this local address (one of the relay's).
    #[arg(long, value_name = "IP")]
    pub source: Option<IpAddr>,
    /// EHLO name [default: this host's FQDN].
    #[arg(long, value_name = "NAME", value_parser = mxtriage::host::valid_ehlo)]
    pub ehlo: Option<String>,
    /// TLS server name to send [default: the MX host name].
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Seconds to wait for the TCP connection.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = timeout)]
    pub timeout_connect: f64,
    /// Seconds to wait for the greeting and each reply.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = timeout)]
    pub timeout_command: f64,
    /// Seconds to wait for the TLS handshake.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = timeout)]
    pub timeout_tls: f64,
    /// Seconds the whole check may take, whatever each step's own timeout.
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub deadline: f64,
    /// Resolver to ask, IP or IP:PORT (repeatable) [default: system configuration].
    #[arg(long, value_name = "IP[:PORT]", value_parser = mxtriage::dns::parse_nameserver)]
    pub nameserver: Vec<SocketAddr>,
    /// Extra trust anchors (PEM), added to the Mozilla and system stores.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// How TLS starts: STARTTLS on a plain connection, or implicit TLS from the first
    /// byte (submissions port 465).
    #[arg(long, value_enum, default_value_t = TlsMode::Starttls)]
    pub tls: TlsMode,
    /// Another resolver to compare MX and address answers with, IP or IP:PORT (repeatable).
    /// The domain's authoritative servers are always asked too.
    #[arg(long, value_name = "IP[:PORT]", value_parser = mxtriage::dns::parse_nameserver)]
    pub compare_nameserver: Vec<SocketAddr>,
    /// Skip the recipient-policy lookups (MTA-STS, DANE, TLS-RPT) and the resolver comparison.
    #[arg(long)]
    pub no_policy: bool,
    /// Port of the MTA-STS policy host (443; other values are for test labs).
    #[arg(long, value_name = "PORT", default_value_t = 443, hide_short_help = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub mta_sts_port: u16,
    /// Port of the domain's authoritative name servers (53; other values are for test labs).
    #[arg(long, value_name = "PORT", default_value_t = 53, hide_short_help = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub authority_port: u16,
    /// Sessions per address, one after another (2 or 3 reveal an unstable pool member).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub attempts: u8,
    /// No follow-up after a failed TLS handshake (by default a few ClientHellos, at most 8
    /// connections, settle what the server accepts).
    #[arg(long)]
    pub no_followup: bool,
    /// Do not read this host's MTA: judge for the named sender profiles only (for a
    /// check run somewhere other than the relay that defers the mail).
    #[arg(long, conflicts_with = "postfix_config")]
    pub no_relay: bool,
    /// Read the Postfix instance configured in this directory instead of the default one
    /// (`postconf -c DIR`; for multi-instance hosts).
    #[arg(long, value_name = "DIR")]
    pub postfix_config: Option<PathBuf>,
    /// The sending stack to compare the scan with [default: this relay's own ClientHello
    /// when its MTA was read, else openssl3-debian]; one of
    /// openssl3-debian, openssl102-legacy, gnutls-default, modern-strict, rustls-probe.
    #[arg(long, value_name = "NAME", value_parser = mxtriage::policy::sender::parse_profile)]
    pub sender_profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Milliseconds added before every SMTP reply.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Directory for the lab CA file.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Milliseconds the lab adds before every SMTP reply.
    #[arg(long, default_value_t = 200)]
    pub latency_ms: u64,
    /// How many checks to run (figures are printed for each and the median).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
}

/// The shortest timeout accepted for one network step.
///
/// Below it a healthy server cannot answer in time: a TCP handshake across a continent
/// takes 100-300 ms, a TLS handshake two round trips more, and some receivers pause
/// their greeting on purpose. A shorter value only manufactures timeouts, which the
/// verdict would then blame on the recipient or the network.
pub const MIN_TIMEOUT_SECS: f64 = 0.1;

/// `--timeout-*`: seconds, at least [`MIN_TIMEOUT_SECS`], as a usage error otherwise.
fn timeout(value: &str) -> Result<f64, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs > 86_400.0 {
        return Err(format!("{value} seconds is not a usable timeout (at most a day)"));
    }
    if secs < MIN_TIMEOUT_SECS {
        return Err(format!(
            "{value} seconds is too short to hear any real server; use at least {MIN_TIMEOUT_SECS}"
        ));
    }
    Ok(secs)
}

/// `-o FILE`: found unusable now, not after the whole check.
fn output_file(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    mxtriage::report::store::check_new(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

pub fn seconds(value: f64, name: &str) -> Result<std::time::Duration, String> {
    std::time::Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("--{name} must be a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_below_the_floor_or_not_finite_are_refused() {
        assert_eq!(timeout("0.1"), Ok(0.1));
        assert_eq!(timeout("30"), Ok(30.0));
        for bad in ["0", "0.05", "-1", "NaN", "inf", "1e300", "soon"] {
            assert!(timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn port_zero_is_a_usage_error() {
        for flag in ["--port", "--mta-sts-port", "--authority-port"] {
            let parsed = Cli::try_parse_from(["mxtriage", "check", "example.com", flag, "0"]);
            assert!(parsed.is_err(), "{flag}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
