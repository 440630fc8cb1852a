//! `mxtriage lab` and `mxtriage demo`: the lab for a person to look at.

use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::{Lab, LabError, LabOptions};
use crate::cert::TrustStores;
use crate::diagnose::Answers;
use crate::engine::{self, CheckOptions};
use crate::model::CheckReport;
use crate::probe::Timeouts;
use crate::report::Session;
use crate::target::Target;

/// Where the lab CA goes unless the operator names a directory.
fn default_dir() -> PathBuf {
    std::env::temp_dir().join(format!("mxtriage-lab-{}", std::process::id()))
}

/// Runs the lab until Ctrl-C, after printing each scenario and the command that tests it.
pub async fn serve(latency_ms: u64, dir: Option<PathBuf>) -> Result<(), LabError> {
    let lab = Lab::start(LabOptions {
        latency: Duration::from_millis(latency_ms),
        ..LabOptions::default()
    })
    .await?;
    let ca_file = lab
        .write_ca_file(&dir.unwrap_or_else(default_dir))
        .map_err(LabError::Io)?;
    say!(
        "mxtriage lab: DNS on {}, SMTP on port {} of 127.77.0.x",
        lab.dns,
        lab.port
    );
    say!("lab CA: {}\n", ca_file.display());
    for scenario in lab.scenarios() {
        say!("{:<24} {}", scenario.name, scenario.summary);
        say!("{:<24} {}\n", "", lab.check_command(&scenario.domain, &ca_file));
    }
    for skipped in &lab.skipped {
        say!("{skipped}");
    }
    say!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await.map_err(LabError::Io)?;
    Ok(())
}

/// The lab answers at once except where a scenario waits on purpose: short limits
/// keep the demo quick, yet above the tarpit's delay.
pub const DEMO_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(3),
    command: Duration::from_secs(8),
    tls: Duration::from_secs(8),
};

/// The EHLO name the demo presents (a reserved name: it claims no real host).
pub const DEMO_EHLO: &str = "demo.mxtriage.invalid";

/// Options that check a lab domain through the real resolver, SMTP and TLS paths.
pub fn lab_check_options(lab: &Lab, domain: &str, stores: Arc<TrustStores>) -> CheckOptions {
    let target = Target::Domain {
        name: domain.to_string(),
    };
    lab.settings(domain).options(target, stores)
}

/// Checks every scenario at once and prints one line each.
pub async fn run() -> Result<u8, LabError> {
    let lab = Lab::start(LabOptions::default()).await?;
    let dir = default_dir();
    let ca_file = lab.write_ca_file(&dir).map_err(LabError::Io)?;
    let stores = Arc::new(TrustStores::load(Some(&ca_file)).map_err(|e| LabError::Io(std::io::Error::other(e)))?);
    // Read once into the stores: the file is not needed after this.
    let _ = std::fs::remove_dir_all(&dir);
    say!(
        "mxtriage demo: {} lab scenarios, DNS {}, SMTP port {} (this takes about 10 seconds)\n",
        lab.scenarios().len(),
        lab.dns,
        lab.port
    );
    let reports = join_all(lab.scenarios().iter().map(|scenario| {
        let mut options = lab_check_options(&lab, &scenario.domain, Arc::clone(&stores));
        // Two sessions per address show the flaky pool member for what it is.
        options.attempts = if scenario.name == "flaky" { 2 } else { 1 };
        // The OpenSSL peers are legacy setups: only a scan shows what they speak.
        if scenario.name.starts_with("openssl-") {
            options.scan = Some(crate::probe::scan::ScanSettings {
                delay: Duration::from_millis(20),
                ..Default::default()
            });
        }
        async move { engine::run(&options, &()).await }
    }))
    .await;
    for (scenario, report) in lab.scenarios().iter().zip(reports) {
        match report
            .map_err(|e| e.to_string())
            .and_then(|r| Session::new(r, Answers::new()).map_err(|e| e.to_string()))
        {
            Ok(session) => {
                let v = &session.verdict;
                say!("{:<24} {}", scenario.name, summary_line(&session.check));
                say!(
                    "{:<24} -> {} [{}; owner: {}; confidence: {}; exit {}]\n",
                    "",
                    v.title,
                    v.family.label(),
                    v.owner.label(),
                    v.confidence.label(),
                    session.exit_code()
                );
            }
            Err(e) => say!("{:<24} error: {e}\n", scenario.name),
        }
    }
    for skipped in &lab.skipped {
        say!("{skipped}");
    }
    say!("Verdicts above assume no answers to the tree's questions; try one by hand with");
    say!("`mxtriage lab` (it prints the check command for each scenario) and --answer ID=KEY.");
    Ok(0)
}

/// One line per scenario: the worst outcome per address.
pub fn summary_line(report: &CheckReport) -> String {
    use crate::model::MxOutcome;
    let mut line = String::new();
    match &report.resolution.outcome {
        MxOutcome::NullMx => return "null MX: the domain accepts no mail".to_string(),
        MxOutcome::NxDomain => return "NXDOMAIN: the domain does not exist".to_string(),
        MxOutcome::NoData => return "NODATA: no MX and no address records".to_string(),
        MxOutcome::Error { message } => return format!("DNS error: {message}"),
        _ => {}
    }
    // An address probed under several MX names says the same thing each time: once is enough.
    let mut entries: Vec<String> = Vec::new();
    for probe in &report.probes {
        let mut entry = format!("{} ", probe.address.ip());
        match (&probe.failure, &probe.chain) {
            (Some(failure), _) => entry.push_str(&failure.summary()),
            (None, Some(_)) if probe.is_secure() => {
                let _ = write!(
                    entry,
                    "OK {}",
                    probe.tls.as_ref().map_or(String::new(), |t| t.version.name())
                );
            }
            (None, Some(chain)) => entry.push_str(&certificate_problem(chain)),
            (None, None) => entry.push_str("TLS without certificate"),
        }
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    line.push_str(&entries.join(" | "));
    line
}

fn certificate_problem(chain: &crate::cert::ChainReport) -> String {
    use crate::cert::{Completeness, TrustOutcome};
    let mut problems = Vec::new();
    if let Completeness::MissingIssuer { .. } = chain.completeness {
        problems.push("incomplete chain".to_string());
    }
    let outcome = |wanted: TrustOutcome| chain.trust.iter().any(|t| t.outcome == wanted);
    if !chain.is_trusted() {
        problems.push(
            if outcome(TrustOutcome::Expired) {
                "certificate expired"
            } else if outcome(TrustOutcome::NotYetValid) {
                "certificate not yet valid"
            } else {
                "untrusted issuer"
            }
            .to_string(),
        );
    }
    if !chain.name_matches() {
        problems.push("name mismatch".to_string());
    }
    format!("TLS OK but {}", problems.join(", "))
}
