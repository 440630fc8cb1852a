//! The lab: a fault-injection range on loopback (DNS, SMTP) that is the test
//! harness and the offline demo at once.
//!
//! Every scenario server listens on its own 127.77.0.x address, all on one port,
//! and the lab's DNS server publishes `<scenario>.lab.test` pointing at them.

/// `println!` for the lab's printed output (`lab`, `demo`, `bench`): a reader that went
/// away ends the command quietly with the default value, any other write error is a
/// [`LabError::Io`]; `println!` would panic on either.
macro_rules! say {
    ($($arg:tt)*) => {
        if let Err(e) = $crate::output::print(&format!("{}\n", format_args!($($arg)*))) {
            return if $crate::output::reader_gone(&e) {
                Ok(Default::default())
            } else {
                Err($crate::lab::LabError::Io(e))
            };
        }
    };
}

pub mod bench;
pub mod demo;
pub mod dns;
pub mod https;
pub mod openssl;
pub mod pki;
pub mod policy;
pub mod scenarios;
pub mod smtp;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use self::dns::{DnsServer, ZoneSpec};
use self::pki::Pki;
use self::scenarios::{LabTimings, ServerSpec, Shape};
use self::smtp::Script;

/// The zone every scenario domain lives under.
pub const ZONE: &str = "lab.test";

/// The lab's DNS server, authoritative for [`ZONE`] and the resolver every scenario uses.
const LAB_DNS_IP: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 1);
/// A second resolver with an outdated copy of the zone.
const STALE_DNS_IP: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 3);
/// The scenario whose relay resolver is the stale one.
pub const STALE_SCENARIO: &str = "stale-mx";

#[derive(Debug, Error)]
pub enum LabError {
    #[error("cannot generate lab certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure lab TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot bind lab SMTP listener on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("no free port on 127.77.0.x after {0} attempts")]
    NoPort(usize),
    #[error("lab DNS server: {0}")]
    Dns(#[from] dns::LabDnsError),
    #[error("lab I/O: {0}")]
    Io(#[source] std::io::Error),
    #[error("assets/lab_scenarios.toml is invalid: {0}")]
    Assets(String),
}

#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Delay before every SMTP reply, to model a distant server.
    pub latency: Duration,
    /// How long the `tarpit` scenario holds its greeting.
    pub tarpit: Duration,
    /// The port the lab's DNS server (127.77.0.1) listens on; 0 picks a free one. A real
    /// MTA's libc resolver only asks port 53, so a harness driving one sets 53 here.
    pub dns_port: u16,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            tarpit: Duration::from_secs(4),
            dns_port: 0,
        }
    }
}

/// What the operator is told about a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioInfo {
    pub name: String,
    pub domain: String,
    pub summary: String,
    /// The scenario's SMTP servers: MX host name and loopback address (port is the lab's).
    pub servers: Vec<(String, Ipv4Addr)>,
    /// The resolver a relay in this scenario uses, when it is not the lab's main one.
    pub resolver: Option<SocketAddr>,
}

#[derive(Deserialize)]
struct ScenarioAssets {
    scenario: Vec<ScenarioText>,
}

#[derive(Deserialize)]
struct ScenarioText {
    name: String,
    summary: String,
}

const SCENARIO_TEXT: &str = include_str!("../../assets/lab_scenarios.toml");

/// A running lab. Dropping it stops every server.
pub struct Lab {
    pub dns: SocketAddr,
    pub port: u16,
    pki: Pki,
    scenarios: Vec<ScenarioInfo>,
    connections: BTreeMap<IpAddr, Arc<AtomicUsize>>,
    tasks: Vec<JoinHandle<()>>,
    _dns_server: DnsServer,
    /// A resolver whose cache still holds an old MX set (the stale-mx scenario).
    _stale_dns_server: DnsServer,
    /// OpenSSL peers behind the legacy scenarios; they stop with the lab.
    _openssl: Vec<openssl::Server>,
    openssl_dir: PathBuf,
    /// Scenarios that could not run here, with the reason (shown, never silently passed).
    pub skipped: Vec<String>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&self.openssl_dir);
    }
}

/// One server to start: its address, host name and script.
struct Planned {
    ip: Ipv4Addr,
    script: Script,
}

impl Lab {
    pub async fn start(options: LabOptions) -> Result<Lab, LabError> {
        let pki = Pki::new()?;
        let texts: ScenarioAssets = toml::from_str(SCENARIO_TEXT).map_err(|e| LabError::Assets(e.to_string()))?;
        let timings = LabTimings { tarpit: options.tarpit };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut zone = ZoneSpec::new(ZONE);
        let mut planned = Vec::new();
        let mut scenarios = Vec::new();
        let mut next_ip = 10u8;
        let mut servers = Vec::new();
        // What each host presents, for the TLSA records made from it.
        let chains = std::cell::RefCell::new(BTreeMap::new());
        let mut plan = |host: &str, spec: ServerSpec, splice: Option<SocketAddr>| -> Result<Ipv4Addr, LabError> {
            let identity = pki.identity(host, spec.cert)?;
            chains.borrow_mut().insert(host.to_string(), identity.chain.clone());
            let tls = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(identity.chain, identity.key)?;
            let mut script = Script::healthy(host, Arc::new(tls));
            script.latency = options.latency;
            (spec.tweak)(&mut script, &timings);
            if let Some(backend) = splice {
                script.after_ready = smtp::AfterReady::Splice(backend);
            }
            let ip = Ipv4Addr::new(127, 77, 0, next_ip);
            next_ip += 1;
            planned.push(Planned { ip, script });
            servers.push((host.to_string(), ip));
            Ok(ip)
        };
        for (name, shape) in scenarios::all() {
            let domain = format!("{name}.{ZONE}");
            let summary = summary_of(&texts, name)?;
            match shape {
                Shape::Single(spec) => {
                    let mx = format!("mx.{domain}");
                    zone.mx(&domain, 10, &mx).a(&mx, plan(&mx, spec, None)?);
                }
                Shape::TwoMx(first, second) => {
                    let (mx1, mx2) = (format!("mx1.{domain}"), format!("mx2.{domain}"));
                    zone.mx(&domain, 10, &mx1).a(&mx1, plan(&mx1, first, None)?);
                    zone.mx(&domain, 20, &mx2).a(&mx2, plan(&mx2, second, None)?);
                }
                Shape::Pool => {
                    for (preference, label) in [(10, "mx1"), (20, "mx2")] {
                        let mx = format!("{label}.{domain}");
                        let healthy = scenarios::ServerSpec {
                            cert: pki::CertKind::Valid,
                            tweak: |_, _| {},
                        };
                        let first = plan(&mx, healthy, None)?;
                        let second = plan(&mx, healthy, None)?;
                        zone.mx(&domain, preference, &mx).a(&mx, first).a(&mx, second);
                    }
                }
                Shape::MixedPool => {
                    let hosts: Vec<String> = (1..=scenarios::MIXED_POOL_NAMES)
                        .map(|i| format!("mx{i:02}.{domain}"))
                        .collect();
                    let mut ips = Vec::new();
                    for cert in scenarios::MIXED_POOL {
                        // One server per address answers for every name; its banner and
                        // certificate are made for the first.
                        let spec = scenarios::ServerSpec { cert, tweak: |_, _| {} };
                        ips.push(plan(&hosts[0], spec, None)?);
                    }
                    for (preference, mx) in (10u16..).step_by(10).zip(&hosts) {
                        zone.mx(&domain, preference, mx);
                        for ip in &ips {
                            zone.a(mx, *ip);
                        }
                    }
                }
                Shape::Ipv6Broken(spec) => {
                    let mx = format!("mx.{domain}");
                    zone.mx(&domain, 10, &mx)
                        .a(&mx, plan(&mx, spec, None)?)
                        .aaaa(&mx, scenarios::REFUSING_V6);
                }
                Shape::CnameMx(spec) => {
                    let (alias, mx) = (format!("alias.{domain}"), format!("mx.{domain}"));
                    zone.mx(&domain, 10, &alias)
                        .cname(&alias, &mx)
                        .a(&mx, plan(&alias, spec, None)?);
                }
                Shape::Implicit(spec) => {
                    zone.a(&domain, plan(&domain, spec, None)?);
                }
                Shape::NullMx => {
                    zone.mx(&domain, 0, ".");
                }
                Shape::NxDomain => {}
                Shape::NoData => {
                    zone.txt(&domain, &["v=spf1 -all"]);
                }
            }
            scenarios.push(ScenarioInfo {
                name: name.to_string(),
                domain,
                summary,
                servers: Vec::new(),
                resolver: None,
            });
        }
        let mut sites = Vec::new();
        for scenario in scenarios::policy() {
            let domain = format!("{}.{ZONE}", scenario.name);
            let mx = format!("mx.{domain}");
            // A sender verifies the name it looked up: the alias, when the MX is one.
            let alias = format!("alias.{domain}");
            let name = if scenario.cname { &alias } else { &mx };
            let ip = plan(name, scenario.server, None)?;
            if scenario.cname {
                zone.mx(&domain, 10, &alias).cname(&alias, &mx).a(&mx, ip);
                if scenario.secure {
                    zone.secure_name(&alias);
                }
            } else {
                zone.mx(&domain, 10, &mx).a(&mx, ip);
            }
            let chain = chains.borrow().get(name).cloned().unwrap_or_default();
            sites.extend(policy::publish(&scenario, &domain, &mx, &chain, &pki, &mut zone)?);
            scenarios.push(ScenarioInfo {
                name: scenario.name.to_string(),
                summary: summary_of(&texts, scenario.name)?,
                domain,
                servers: Vec::new(),
                resolver: None,
            });
        }
        // Real OpenSSL peers for legacy setups; skipped, and said so, when openssl is missing.
        let mut openssl_servers = Vec::new();
        let mut skipped = Vec::new();
        static LABS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let openssl_dir = std::env::temp_dir().join(format!(
            "mxtriage-lab-openssl-{}-{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        ));
        let have_openssl = openssl::available();
        let issuer = openssl::Issuer {
            cert: openssl_dir.join("lab-intermediate.pem"),
            key: openssl_dir.join("lab-intermediate.key"),
        };
        if have_openssl {
            let (cert, key) = pki.intermediate_pem();
            std::fs::create_dir_all(&openssl_dir).map_err(LabError::Io)?;
            std::fs::write(&issuer.cert, cert).map_err(LabError::Io)?;
            std::fs::write(&issuer.key, key).map_err(LabError::Io)?;
        }
        for scenario in openssl::SCENARIOS {
            if !have_openssl {
                skipped.push(format!("{}: skipped, openssl is not installed", scenario.name));
                continue;
            }
            let domain = format!("{}.{ZONE}", scenario.name);
            let mx = format!("mx.{domain}");
            let backend = match openssl::start(scenario, &mx, &openssl_dir, &issuer) {
                Ok(server) => server,
                Err(e) => {
                    skipped.push(format!(
                        "{}: skipped, openssl s_server did not start: {e}",
                        scenario.name
                    ));
                    continue;
                }
            };
            let summary = summary_of(&texts, scenario.name)?;
            let healthy = scenarios::ServerSpec {
                cert: pki::CertKind::Valid,
                tweak: |_, _| {},
            };
            let ip = plan(&mx, healthy, Some(backend.addr))?;
            openssl_servers.push(backend);
            zone.mx(&domain, 10, &mx).a(&mx, ip);
            scenarios.push(ScenarioInfo {
                name: scenario.name.to_string(),
                domain,
                summary,
                servers: Vec::new(),
                resolver: None,
            });
        }
        // stale-mx: the authority moved the domain to mx-new, this relay's resolver still
        // caches mx-old (whose TLS is broken) for another hour.
        let stale_domain = format!("{STALE_SCENARIO}.{ZONE}");
        let (new_mx, old_mx) = (format!("mx-new.{stale_domain}"), format!("mx-old.{stale_domain}"));
        let healthy = scenarios::ServerSpec {
            cert: pki::CertKind::Valid,
            tweak: |_, _| {},
        };
        let broken = scenarios::ServerSpec {
            cert: pki::CertKind::Valid,
            tweak: |s, _| s.after_ready = smtp::AfterReady::Close,
        };
        zone.a(&new_mx, plan(&new_mx, healthy, None)?)
            .a(&old_mx, plan(&old_mx, broken, None)?);
        let mut stale_zone = zone.clone();
        zone.mx(&stale_domain, 10, &new_mx);
        stale_zone
            .a(&format!("ns.{ZONE}"), LAB_DNS_IP)
            .ttl(3600)
            .mx(&stale_domain, 10, &old_mx);
        scenarios.push(ScenarioInfo {
            name: STALE_SCENARIO.to_string(),
            summary: summary_of(&texts, STALE_SCENARIO)?,
            domain: stale_domain,
            servers: Vec::new(),
            resolver: None,
        });
        for (host, ip) in servers {
            if let Some(scenario) = scenarios
                .iter_mut()
                .find(|s| host == s.domain || host.ends_with(&format!(".{}", s.domain)))
            {
                scenario.servers.push((host, ip));
            }
        }
        let mut ips: Vec<Ipv4Addr> = planned.iter().map(|p| p.ip).collect();
        ips.push(policy::POLICY_HOST_IP);
        let (port, mut listeners) = bind_all(&ips).await?;
        let mut tasks = Vec::new();
        if let Some(listener) = listeners.pop() {
            let (acceptor, answers) = https::acceptor(sites)?;
            tasks.push(tokio::spawn(https::serve(listener, acceptor, answers)));
        }
        let mut connections = BTreeMap::new();
        for (listener, server) in listeners.into_iter().zip(planned) {
            let counter = Arc::new(AtomicUsize::new(0));
            connections.insert(IpAddr::V4(server.ip), Arc::clone(&counter));
            tasks.push(tokio::spawn(smtp::serve(listener, Arc::new(server.script), counter)));
        }
        let dns_server = DnsServer::start(&zone, SocketAddr::from((LAB_DNS_IP, options.dns_port))).await?;
        let stale_server = DnsServer::start(&stale_zone, SocketAddr::from((STALE_DNS_IP, 0))).await?;
        if let Some(stale) = scenarios.iter_mut().find(|s| s.name == STALE_SCENARIO) {
            stale.resolver = Some(stale_server.addr());
        }
        Ok(Lab {
            dns: dns_server.addr(),
            port,
            pki,
            scenarios,
            connections,
            tasks,
            _dns_server: dns_server,
            _stale_dns_server: stale_server,
            _openssl: openssl_servers,
            openssl_dir,
            skipped,
        })
    }

    pub fn scenarios(&self) -> &[ScenarioInfo] {
        &self.scenarios
    }

    pub fn scenario(&self, name: &str) -> Option<&ScenarioInfo> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// The lab root CA, the anchor to trust (`--ca-file`).
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.pki.root_der()
    }

    pub fn ca_pem(&self) -> String {
        self.pki.root_pem()
    }

    /// Writes the CA to `dir/lab-ca.pem` for `--ca-file`.
    pub fn write_ca_file(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("lab-ca.pem");
        std::fs::write(&path, self.ca_pem())?;
        Ok(path)
    }

    /// Connections the lab's SMTP servers accepted so far, in total.
    pub fn connections(&self) -> usize {
        self.connections.values().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Connections accepted per address, for the "one connection per address" check.
    pub fn connections_by_address(&self) -> BTreeMap<IpAddr, usize> {
        self.connections
            .iter()
            .map(|(ip, c)| (*ip, c.load(Ordering::Relaxed)))
            .collect()
    }

    /// Policy lookups against the lab: its policy host and its DNS server as the authority.
    pub fn policy_options(&self) -> crate::engine::PolicyOptions {
        crate::engine::PolicyOptions {
            fetch: crate::policy::sts_fetch::FetchSettings {
                port: self.port,
                ..Default::default()
            },
            authority_port: self.dns.port(),
            ..Default::default()
        }
    }

    /// How a relay checks `domain` in this lab: the lab's port, the scenario's resolver,
    /// the demo's EHLO name and short limits, and the lab's policy servers.
    pub fn settings(&self, domain: &str) -> crate::engine::Settings {
        crate::engine::Settings {
            port: self.port,
            nameservers: vec![self.resolver_for(domain)],
            ehlo: Some(demo::DEMO_EHLO.to_string()),
            timeouts: demo::DEMO_TIMEOUTS,
            policy: self.policy_options(),
            ..Default::default()
        }
    }

    /// The resolver a relay in the scenario of `domain` uses.
    pub fn resolver_for(&self, domain: &str) -> SocketAddr {
        self.scenarios
            .iter()
            .find(|s| s.domain == domain)
            .and_then(|s| s.resolver)
            .unwrap_or(self.dns)
    }

    /// The `mxtriage check` command line that tests a scenario against this lab.
    pub fn check_command(&self, domain: &str, ca_file: &Path) -> String {
        format!(
            "mxtriage check {domain} --port {} --nameserver {} --ca-file {} --mta-sts-port {} --authority-port {}",
            self.port,
            self.resolver_for(domain),
            ca_file.display(),
            self.port,
            self.dns.port()
        )
    }
}

/// The operator-facing summary of a scenario, from assets/lab_scenarios.toml.
fn summary_of(texts: &ScenarioAssets, name: &str) -> Result<String, LabError> {
    texts
        .scenario
        .iter()
        .find(|t| t.name == name)
        .map(|t| t.summary.clone())
        .ok_or_else(|| LabError::Assets(format!("no summary for scenario {name}")))
}

/// Binds every lab address on one shared port, retrying with a new port on collision.
async fn bind_all(ips: &[Ipv4Addr]) -> Result<(u16, Vec<TcpListener>), LabError> {
    const ATTEMPTS: usize = 20;
    for _ in 0..ATTEMPTS {
        let Some(first) = ips.first() else {
            return Ok((0, Vec::new()));
        };
        let addr = SocketAddr::from((*first, 0));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| LabError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| LabError::Bind { addr, source })?
            .port();
        let mut listeners = vec![listener];
        for ip in &ips[1..] {
            match TcpListener::bind(SocketAddr::from((*ip, port))).await {
                Ok(listener) => listeners.push(listener),
                Err(_) => break,
            }
        }
        if listeners.len() == ips.len() {
            return Ok((port, listeners));
        }
    }
    Err(LabError::NoPort(ATTEMPTS))
}
