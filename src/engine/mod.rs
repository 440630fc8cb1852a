//! The engine: resolve the target, probe every address concurrently, collect the
//! evidence, and tell its consumers (the command line, the workbench, the tests) each
//! step as one typed [`Event`] on one bounded channel.

mod event;
mod options;

pub use event::{Event, Sink};
pub use options::{CheckOptions, DEFAULT_DEADLINE, PolicyOptions, Settings};

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use crate::dns::{Dns, DnsError};
use crate::model::{CheckReport, MxOutcome, Resolution, Stage};
use crate::policy::recipient::{self, GatherSettings, Gathered};
use crate::probe::{self, ProbeTarget, Progress};
use crate::target::Target;

/// At most this many simultaneous connections to one address, to stay below rate limits.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 2;
/// At most this many probes at once in one check, whatever DNS returned.
pub const MAX_CONCURRENT_PROBES: usize = 32;

/// Runs a whole check: resolve, probe every address (while the recipient-policy lookups
/// run), then the optional scan and second opinion, then judge the recipient policy.
///
/// Each step is told to `sink` as an [`Event`] as soon as it is known, and applied to
/// the report this returns with the same [`CheckReport::apply`] a consumer uses, so a
/// consumer that applies every event holds exactly this report.
pub async fn run(options: &CheckOptions, sink: &impl Sink) -> Result<CheckReport, DnsError> {
    let started = Instant::now();
    let mut options = options.clone();
    options.probe.deadline = Some(started + options.deadline);
    // The relay's route first: a relayhost or transport next hop is where its mail goes,
    // so that is what gets probed.
    let deadline = tokio::time::Instant::from_std(started + options.deadline);
    let relay = match tokio::time::timeout_at(
        deadline,
        crate::relay::read(&options.relay, &destination(&options.target)),
    )
    .await
    {
        Ok(relay) => relay,
        Err(_) => Some(crate::relay::RelayView {
            unread: vec!["the MTA's configuration: not read before the check's deadline".into()],
            ..Default::default()
        }),
    };
    let destination_name = destination(&options.target);
    if let Some(next_hop) = relay.as_ref().and_then(|r| next_hop_target(r, &options.target)) {
        options.target = next_hop;
    }
    let options = &options;
    let started_at = unix_now();
    let (resolution, dns) = resolve(options).await?;
    let targets = probe_targets(&resolution, options.target.port().unwrap_or(options.port));
    let mut report = CheckReport::new(
        options.target.clone(),
        crate::host::hostname(),
        started_at,
        resolution,
        Vec::new(),
    );
    report.sender_profile = options.sender_profile.clone();
    if sink.wants() {
        let resolved = Event::Resolved {
            report: Box::new(report.clone()),
            targets: targets.clone(),
        };
        sink.send(resolved).await;
    }
    let building = Building {
        report: Mutex::new(report),
        sink,
    };
    let resolution = building.lock().resolution.clone();
    if let Some(relay) = relay {
        building.record(Event::Relay(Box::new(relay))).await;
    }
    let (_, gathered) = tokio::join!(
        probe_all(options, &targets, &building),
        recipient_lookups(options, &resolution, dns)
    );
    // Whatever is unfinished at the deadline is left out; the report says what ran.
    let _ = tokio::time::timeout_at(deadline, async {
        tokio::join!(
            relay_clients(options, &targets, &building),
            relay_log(options, &building, &destination_name),
            follow_ups(options, &targets, &building)
        )
    })
    .await;
    if let Some(settings) = &options.scan {
        scan_all(options, &targets, settings, &building).await;
    }
    if let Some(ca_file) = &options.second_opinion {
        second_opinions(options, &targets, ca_file.as_deref(), &building).await;
    }
    if let Some(gathered) = gathered {
        let policy = gathered.evaluate(&building.lock().probes);
        building.record(Event::Policy(Box::new(policy))).await;
    }
    building
        .record(Event::Finished {
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
        .await;
    Ok(building.report.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// The report being built, and where its events go. Probes finish concurrently inside
/// one task; the lock is never held across an await.
struct Building<'a, S> {
    report: Mutex<CheckReport>,
    sink: &'a S,
}

impl<S: Sink> Building<'_, S> {
    fn lock(&self) -> std::sync::MutexGuard<'_, CheckReport> {
        self.report.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `event` to the report, then tells the sink.
    async fn record(&self, event: Event) {
        if self.sink.wants() {
            self.lock().apply(event.clone());
            self.sink.send(event).await;
        } else {
            self.lock().apply(event);
        }
    }

    /// Stage changes and transcript lines are advisory (the result follows): never wait
    /// for a slow consumer.
    fn progress(&self, target: &ProbeTarget, progress: Progress<'_>) {
        if self.sink.wants() {
            let target = target.clone();
            self.sink.offer(match progress {
                Progress::Stage(stage) => Event::Stage { target, stage },
                Progress::Line(line) => Event::Line {
                    target,
                    line: line.clone(),
                },
            });
        }
    }
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

/// Scans every address (addresses in parallel, each one connection at a time).
async fn scan_all(
    options: &CheckOptions,
    targets: &[ProbeTarget],
    settings: &crate::probe::scan::ScanSettings,
    building: &Building<'_, impl Sink>,
) {
    join_all(distinct_addresses(targets).into_iter().map(|target| async move {
        let scan = crate::probe::scan::scan(&options.probe, target, settings).await;
        building
            .record(Event::Scanned {
                address: target.address,
                scan: Box::new(scan),
            })
            .await;
    }))
    .await;
}

/// Where the relay connects instead of the destination's MX hosts (a relayhost, a
/// transport next hop), as a target; `None` when it looks the destination up itself.
fn next_hop_target(relay: &crate::relay::RelayView, target: &Target) -> Option<Target> {
    let route = relay.route.as_ref()?;
    relay.policy.as_ref()?;
    if crate::relay::predict::nexthop_domain(&route.nexthop)
        == crate::relay::predict::nexthop_domain(&destination(target))
        && route.mx_lookup == matches!(target, Target::Domain { .. })
    {
        return None;
    }
    Target::parse(&route.nexthop).ok()
}

/// The destination a relay's tables are searched for: the domain, or the host named.
fn destination(target: &Target) -> String {
    match target {
        Target::Domain { name } | Target::Host { name, .. } => name.clone(),
        Target::Address { ip, .. } => format!("[{ip}]"),
    }
}

/// Runs the relay's own client (posttls-finger) once per address that greeted, with the
/// destination's effective settings; a connection that failed fails for any client.
async fn relay_clients(options: &CheckOptions, targets: &[ProbeTarget], building: &Building<'_, impl Sink>) {
    let config_dir = options.relay.config_dir().map(std::path::Path::to_path_buf);
    let (relay, greeted) = {
        let report = building.lock();
        let greeted: Vec<SocketAddr> = report
            .probes
            .iter()
            .filter(|p| p.stage > Stage::Greeting)
            .map(|p| p.address)
            .collect();
        (report.relay.clone(), greeted)
    };
    let Some(relay) = relay.filter(|r| r.mta == Some(crate::relay::Mta::Postfix)) else {
        return;
    };
    let (Some(policy), Some(route)) = (&relay.policy, &relay.route) else {
        return;
    };
    let nexthop = crate::relay::predict::nexthop_domain(&route.nexthop);
    let asked = distinct_addresses(targets)
        .into_iter()
        .filter(|t| greeted.contains(&t.address));
    let (relay, nexthop) = (&relay, nexthop.as_str());
    let config_dir = config_dir.as_deref();
    join_all(asked.map(|target| async move {
        let args = crate::relay::postfix::finger::arguments(relay, policy, &target.mx, nexthop, target.address);
        let Some(run) = crate::relay::postfix::finger::run(config_dir, &args).await else {
            return;
        };
        let run = match run {
            Ok(run) => crate::relay::ClientRun {
                command: run.command,
                lines: run
                    .lines
                    .iter()
                    .map(|l| crate::text::SafeText::from_peer_str(l))
                    .collect(),
                error: None,
            },
            Err(e) => crate::relay::ClientRun {
                command: crate::relay::command::display("posttls-finger", &args),
                lines: Vec::new(),
                error: Some(e.to_string()),
            },
        };
        building
            .record(Event::RelayClient {
                address: target.address,
                run: Box::new(run),
            })
            .await;
    }))
    .await;
}

/// Adds the relay's newest log lines about the destination (its domain and MX hosts)
/// and its own ClientHello to what was read of it.
async fn relay_log(options: &CheckOptions, building: &Building<'_, impl Sink>, domain: &str) {
    let config_dir = options.relay.config_dir().map(std::path::Path::to_path_buf);
    let (relay, hosts) = {
        let report = building.lock();
        let hosts: Vec<String> = report.resolution.hosts.iter().map(|h| h.name.clone()).collect();
        (report.relay.clone(), hosts)
    };
    let Some(mut relay) = relay.filter(|r| r.mta == Some(crate::relay::Mta::Postfix)) else {
        return;
    };
    match crate::relay::postfix::log::recent(domain, &hosts, config_dir.as_deref()).await {
        Ok(excerpt) => {
            relay.log_source = Some(excerpt.source.to_string());
            relay.log = excerpt
                .lines
                .iter()
                .take(crate::relay::LOG_LINES)
                .map(|l| {
                    let id = l.queue_id.as_deref().map(|id| format!("{id}: ")).unwrap_or_default();
                    crate::text::SafeText::from_peer_str(&format!("{} {}: {id}{}", l.timestamp, l.process, l.message))
                })
                .collect();
        }
        Err(e) => relay.unread.push(format!("the relay's log: {e}")),
    }
    if let (Some(policy), Some(route)) = (relay.policy.clone(), relay.route.clone()) {
        let nexthop = crate::relay::predict::nexthop_domain(&route.nexthop);
        match crate::relay::postfix::hello::capture(&relay, &policy, &nexthop, config_dir.as_deref()).await {
            Ok(hello) => relay.hello = Some(hello),
            Err(why) => relay.unread.push(format!("the relay's ClientHello: {why}")),
        }
    }
    building.record(Event::Relay(Box::new(relay))).await;
}

/// After a failed handshake (alert, close, reset, timeout, plaintext), a short
/// follow-up on that address only; never on healthy addresses, never with a full scan.
async fn follow_ups(options: &CheckOptions, targets: &[ProbeTarget], building: &Building<'_, impl Sink>) {
    if !options.follow_up || options.scan.is_some() {
        return;
    }
    let failed: Vec<SocketAddr> = building
        .lock()
        .probes
        .iter()
        .filter(|p| p.stage == Stage::TlsHandshake && p.failure.is_some())
        .map(|p| p.address)
        .collect();
    let asked = distinct_addresses(targets)
        .into_iter()
        .filter(|t| failed.contains(&t.address));
    join_all(asked.map(|target| async move {
        let follow_up = crate::probe::scan::follow_up(&options.probe, target).await;
        building
            .record(Event::FollowedUp {
                address: target.address,
                follow_up: Box::new(follow_up),
            })
            .await;
    }))
    .await;
}

/// Runs `openssl s_client` once per address.
async fn second_opinions(
    options: &CheckOptions,
    targets: &[ProbeTarget],
    ca_file: Option<&std::path::Path>,
    building: &Building<'_, impl Sink>,
) {
    let config = &options.probe;
    let t = &config.timeouts;
    let limit = config.wait(t.connect + t.command + t.tls);
    // OpenSSL's view is about TLS: where the session never got to a handshake (no
    // STARTTLS, refused, no greeting) it would only start TLS against an SMTP refusal.
    let reached_tls: Vec<std::net::SocketAddr> = building
        .lock()
        .probes
        .iter()
        .filter(|p| p.stage >= Stage::TlsHandshake)
        .map(|p| p.address)
        .collect();
    let asked = distinct_addresses(targets)
        .into_iter()
        .filter(|t| reached_tls.contains(&t.address));
    join_all(asked.map(|target| async move {
        let sni = config.server_name(target).to_string();
        let opinion =
            crate::probe::openssl::second_opinion(target, &sni, &config.ehlo_name, ca_file, config.implicit_tls, limit)
                .await;
        if let Some(opinion) = opinion {
            building
                .record(Event::SecondOpinion {
                    address: target.address,
                    opinion: Box::new(opinion),
                })
                .await;
        }
    }))
    .await;
}

/// Probes every target at once, never more than [`MAX_CONNECTIONS_PER_ADDRESS`] per address
/// (repeated attempts to one target run one after the other), recording each result as
/// soon as it is ready.
async fn probe_all(options: &CheckOptions, targets: &[ProbeTarget], building: &Building<'_, impl Sink>) {
    let mut limits: HashMap<IpAddr, Arc<Semaphore>> = HashMap::new();
    for target in targets {
        limits
            .entry(target.address.ip())
            .or_insert_with(|| Arc::new(Semaphore::new(MAX_CONNECTIONS_PER_ADDRESS)));
    }
    let overall = &Semaphore::new(MAX_CONCURRENT_PROBES);
    join_all(targets.iter().map(|target| {
        let limit = limits.get(&target.address.ip()).cloned();
        async move {
            for _ in 0..options.attempts.max(1) {
                let _overall = overall.acquire().await.ok();
                let _permit = match &limit {
                    Some(semaphore) => semaphore.acquire().await.ok(),
                    None => None,
                };
                let observer = |progress: Progress<'_>| building.progress(target, progress);
                let result = probe::probe_observed(&options.probe, target, &observer).await;
                building.record(Event::Probed(Box::new(result))).await;
            }
        }
    }))
    .await;
}
