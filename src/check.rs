//! `check`: resolve the target, probe every address concurrently, collect the evidence.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::dns::{Dns, DnsError, Family};
use crate::model::{MxOutcome, ProbeResult, Resolution, SCHEMA_VERSION};
use crate::policy::recipient::{self, GatherSettings, Gathered, RecipientPolicy};
use crate::probe::{self, ProbeConfig, ProbeTarget};
use crate::target::Target;

/// At most this many simultaneous connections to one address, to stay below rate limits.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 2;
/// At most this many probes at once in one check, whatever DNS returned.
pub const MAX_CONCURRENT_PROBES: usize = 32;

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub target: Target,
    /// Port when the target does not name one.
    pub port: u16,
    pub family: Family,
    /// Empty: the system resolver configuration.
    pub nameservers: Vec<SocketAddr>,
    pub dns_timeout: Duration,
    pub probe: ProbeConfig,
    /// Sessions per address, one after the other; more than one shows an unstable pool member.
    pub attempts: usize,
    /// Run the capability scan of every address after the probes (opt-in: many connections).
    pub scan: Option<crate::probe::scan::ScanSettings>,
    /// The sending stack to compare the scan with (a name from assets/sender_profiles.toml).
    pub sender_profile: Option<String>,
    /// Ask the system's OpenSSL too; the path is the extra CA file to give it.
    pub second_opinion: Option<Option<std::path::PathBuf>>,
    /// What the recipient publishes (MTA-STS, DANE, TLS-RPT) and how resolvers agree.
    pub policy: PolicyOptions,
}

/// The recipient-policy and DNS-depth lookups of a domain check.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyOptions {
    /// Off: no MTA-STS fetch, TLSA, context records or resolver comparison.
    pub enabled: bool,
    pub fetch: crate::policy::sts_fetch::FetchSettings,
    /// More resolvers to compare with the one the check uses (`--compare-nameserver`).
    pub compare_nameservers: Vec<SocketAddr>,
    /// Port of the domain's authoritative servers: 53, except in the lab.
    pub authority_port: u16,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            fetch: crate::policy::sts_fetch::FetchSettings::default(),
            compare_nameservers: Vec::new(),
            authority_port: 53,
        }
    }
}

/// Everything one check found: the evidence a report or a diagnosis reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub schema_version: u32,
    pub tool_version: String,
    pub target: Target,
    /// The host this check ran on (the vantage point).
    pub vantage_host: String,
    /// Unix seconds when the check started.
    pub started_at: u64,
    pub resolution: Resolution,
    pub probes: Vec<ProbeResult>,
    pub elapsed_ms: u64,
    /// The sending stack the scan is compared with (`--sender-profile`); `None` means the default.
    #[serde(default)]
    pub sender_profile: Option<String>,
    /// What the recipient publishes (MTA-STS, DANE, TLS-RPT, context) and how resolvers agree.
    #[serde(default)]
    pub recipient: Option<crate::policy::recipient::RecipientPolicy>,
}

/// How the check ended, as the process exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// Every address negotiated TLS with a trusted chain that covers the MX name.
    AllSecure,
    /// At least one address showed a problem.
    ProblemFound,
    /// Nothing could be tested (no such domain, null MX, DNS failure, no addresses).
    NothingTested,
}

impl CheckReport {
    /// The evidence of a check run by this version of the tool, before the timing,
    /// the scan profile and the recipient policy are known (a run still in progress).
    pub fn new(
        target: Target,
        vantage_host: String,
        started_at: u64,
        resolution: Resolution,
        probes: Vec<ProbeResult>,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            target,
            vantage_host,
            started_at,
            resolution,
            probes,
            elapsed_ms: 0,
            sender_profile: None,
            recipient: None,
        }
    }

    pub fn conclusion(&self) -> Conclusion {
        if self.probes.is_empty() {
            Conclusion::NothingTested
        } else if self.probes.iter().all(ProbeResult::is_secure) {
            Conclusion::AllSecure
        } else {
            Conclusion::ProblemFound
        }
    }
}

pub async fn run(options: &CheckOptions) -> Result<CheckReport, DnsError> {
    run_observed(options, |_, _, _| async {}, |_| async {}).await
}

/// [`run`], telling a front end as it goes: `resolved` once the MX set and the
/// addresses are known (with the start time), `probed` with each session's result.
pub async fn run_observed<R, RF, P, PF>(options: &CheckOptions, resolved: R, probed: P) -> Result<CheckReport, DnsError>
where
    R: FnOnce(u64, Resolution, Vec<ProbeTarget>) -> RF,
    RF: Future<Output = ()>,
    P: Fn(ProbeResult) -> PF,
    PF: Future<Output = ()>,
{
    let started = Instant::now();
    let started_at = unix_now();
    let (resolution, dns) = resolve(options).await?;
    let targets = probe_targets(&resolution, options.target.port().unwrap_or(options.port));
    resolved(started_at, resolution.clone(), targets.clone()).await;
    let (mut probes, gathered) = tokio::join!(
        probe_all_with(&options.probe, &targets, options.attempts, probed),
        recipient_lookups(options, &resolution, dns)
    );
    if let Some(settings) = &options.scan {
        scan_all(&options.probe, &targets, settings, &mut probes).await;
    }
    if let Some(ca_file) = &options.second_opinion {
        second_opinions(&options.probe, &targets, ca_file.as_deref(), &mut probes).await;
    }
    let recipient = gathered.map(|g| g.evaluate(&probes));
    Ok(assemble(
        options,
        started_at,
        resolution,
        probes,
        recipient,
        started.elapsed(),
    ))
}

/// MTA-STS, TLSA, context records and the resolver comparison of a domain target,
/// run while the probes run; `None` for host and address targets or with `--no-policy`.
async fn recipient_lookups(options: &CheckOptions, resolution: &Resolution, dns: Option<Arc<Dns>>) -> Option<Gathered> {
    let Target::Domain { name } = &options.target else {
        return None;
    };
    if !options.policy.enabled {
        return None;
    }
    let settings = GatherSettings {
        nameservers: options.nameservers.clone(),
        compare_nameservers: options.policy.compare_nameservers.clone(),
        authority_port: options.policy.authority_port,
        fetch: options.policy.fetch,
        timeout: options.dns_timeout,
    };
    Some(recipient::gather(name, resolution, dns?, &options.probe.stores, &settings).await)
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The DNS step, and the resolver it used (none for an address target), which the
/// recipient-policy lookups reuse.
async fn resolve(options: &CheckOptions) -> Result<(Resolution, Option<Arc<Dns>>), DnsError> {
    Ok(match &options.target {
        Target::Domain { name } => {
            let dns = Arc::new(dns(options)?);
            (dns.resolve_domain(name).await?, Some(dns))
        }
        Target::Host { name, .. } => {
            let dns = Arc::new(dns(options)?);
            (dns.resolve_direct(name).await?, Some(dns))
        }
        Target::Address { ip, .. } => (
            Resolution {
                query: ip.to_string(),
                outcome: MxOutcome::Direct,
                hosts: vec![crate::model::MxHost {
                    name: ip.to_string(),
                    preference: None,
                    ttl: None,
                    cname_chain: Vec::new(),
                    addresses: vec![crate::model::AddressRecord { ip: *ip, ttl: 0 }],
                    a_lookup: crate::model::LookupStatus::Skipped,
                    aaaa_lookup: crate::model::LookupStatus::Skipped,
                }],
                elapsed_ms: 0,
                truncated: false,
            },
            None,
        ),
    })
}

/// Every address of every MX host, in MX preference order.
pub fn probe_targets(resolution: &Resolution, port: u16) -> Vec<ProbeTarget> {
    resolution
        .hosts
        .iter()
        .flat_map(|host| {
            host.addresses.iter().map(|a| ProbeTarget {
                mx: host.name.clone(),
                address: SocketAddr::new(a.ip, port),
            })
        })
        .collect()
}

/// Puts the pieces of a check together once every probe is done.
fn assemble(
    options: &CheckOptions,
    started_at: u64,
    resolution: Resolution,
    probes: Vec<ProbeResult>,
    recipient: Option<RecipientPolicy>,
    elapsed: Duration,
) -> CheckReport {
    CheckReport {
        elapsed_ms: elapsed.as_millis() as u64,
        sender_profile: options.sender_profile.clone(),
        recipient,
        ..CheckReport::new(
            options.target.clone(),
            crate::host::hostname(),
            started_at,
            resolution,
            probes,
        )
    }
}

fn dns(options: &CheckOptions) -> Result<Dns, DnsError> {
    Dns::new(&options.nameservers, options.family, options.dns_timeout)
}

/// The first target of each address: extra work (scan, second opinion) is done once
/// per address, however many MX names point at it.
fn distinct_addresses(targets: &[ProbeTarget]) -> Vec<&ProbeTarget> {
    let mut unique: Vec<&ProbeTarget> = Vec::new();
    for target in targets {
        if !unique.iter().any(|t| t.address == target.address) {
            unique.push(target);
        }
    }
    unique
}

/// Scans every address (addresses in parallel, each one connection at a time) and
/// attaches the result to that address's first probe.
async fn scan_all(
    config: &ProbeConfig,
    targets: &[ProbeTarget],
    settings: &crate::probe::scan::ScanSettings,
    probes: &mut [ProbeResult],
) {
    let unique = distinct_addresses(targets);
    let scans = join_all(
        unique
            .iter()
            .map(|target| crate::probe::scan::scan(config, target, settings)),
    )
    .await;
    for (target, scan) in unique.into_iter().zip(scans) {
        if let Some(probe) = probes.iter_mut().find(|p| p.address == target.address) {
            probe.scan = Some(scan);
        }
    }
}

/// Runs `openssl s_client` once per address and notes where it disagrees with rustls.
async fn second_opinions(
    config: &ProbeConfig,
    targets: &[ProbeTarget],
    ca_file: Option<&std::path::Path>,
    probes: &mut [ProbeResult],
) {
    let unique = distinct_addresses(targets);
    let limit = config.timeouts.connect + config.timeouts.command + config.timeouts.tls;
    let opinions = join_all(unique.iter().map(|target| {
        let sni = config.server_name(target).to_string();
        async move {
            crate::probe::openssl::second_opinion(target, &sni, &config.ehlo_name, ca_file, config.implicit_tls, limit)
                .await
        }
    }))
    .await;
    for (target, opinion) in unique.into_iter().zip(opinions) {
        let Some(opinion) = opinion else {
            continue;
        };
        if let Some(probe) = probes.iter_mut().find(|p| p.address == target.address) {
            let rustls_connects = probe.tls.is_some();
            if opinion.connected != rustls_connects {
                probe.findings.push(crate::model::Finding::LibrariesDisagree {
                    openssl_connects: opinion.connected,
                });
            }
            probe.second_opinion = Some(opinion);
        }
    }
}

/// Probes every target at once, never more than [`MAX_CONNECTIONS_PER_ADDRESS`] per address
/// (repeated attempts to one target run one after the other), calling `done` with each
/// result as soon as it is ready.
async fn probe_all_with<F, Fut>(
    config: &ProbeConfig,
    targets: &[ProbeTarget],
    attempts: usize,
    done: F,
) -> Vec<ProbeResult>
where
    F: Fn(ProbeResult) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut limits: HashMap<IpAddr, Arc<Semaphore>> = HashMap::new();
    for target in targets {
        limits
            .entry(target.address.ip())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_ADDRESS)));
    }
    let done = &done;
    let overall = &Semaphore::new(MAX_CONCURRENT_PROBES);
    join_all(targets.iter().map(|target| {
        let limit = limits.get(&target.address.ip()).cloned();
        async move {
            let mut results = Vec::new();
            for _ in 0..attempts.max(1) {
                let _overall = overall.acquire().await.ok();
                let _permit = match &limit {
                    Some(semaphore) => semaphore.acquire().await.ok(),
                    None => None,
                };
                let result = probe::probe(config, target).await;
                done(result.clone()).await;
                results.push(result);
            }
            results
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect()
}
