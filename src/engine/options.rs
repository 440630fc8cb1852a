//! What a check is asked to do, and the one place that builds it from what an
//! operator set (the command line, the workbench's form, the lab).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cert::TrustStores;
use crate::dns::Family;
use crate::probe::scan::ScanSettings;
use crate::probe::{ProbeConfig, Timeouts};
use crate::target::Target;

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
    pub scan: Option<ScanSettings>,
    /// The sending stack to compare the scan with (a name from assets/sender_profiles.toml).
    pub sender_profile: Option<String>,
    /// After a failed handshake, a short follow-up on that address (at most 8 connections).
    pub follow_up: bool,
    /// Ask the system's OpenSSL too; the path is the extra CA file to give it.
    pub second_opinion: Option<Option<PathBuf>>,
    /// What the recipient publishes (MTA-STS, DANE, TLS-RPT) and how resolvers agree.
    pub policy: PolicyOptions,
    /// The whole check ends within this, whatever each step's own timeout.
    pub deadline: Duration,
    /// Which MTA configuration to read: the relay every verdict is about.
    pub relay: crate::relay::RelaySource,
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

/// How long a whole check may take by default: longer than any healthy server needs
/// (a postscreen pause, a slow handshake, a scan), short enough for an incident.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

/// How long DNS lookups may take; resolvers retry within this.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// The options of a check as an operator sets them, before the target and the trust
/// stores are known: the command line's flags, the workbench's form, the lab's defaults.
/// [`Settings::options`] is the one mapping from these to [`CheckOptions`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Port when the target does not name one.
    pub port: u16,
    pub family: Family,
    /// Empty: the system resolver configuration.
    pub nameservers: Vec<SocketAddr>,
    /// Extra trust anchors; also handed to OpenSSL for its second opinion.
    pub ca_file: Option<PathBuf>,
    pub source: Option<IpAddr>,
    /// `None`: this host's name.
    pub ehlo: Option<String>,
    /// `None`: the MX host name.
    pub sni: Option<String>,
    pub attempts: usize,
    /// TLS from the first byte (port 465) instead of STARTTLS.
    pub implicit_tls: bool,
    pub timeouts: Timeouts,
    pub deadline: Duration,
    /// The capability scan (opt-in: many connections).
    pub scan: Option<ScanSettings>,
    /// Ask the system's OpenSSL too.
    pub second_opinion: bool,
    /// After a failed handshake, a short follow-up on that address (on by default).
    pub follow_up: bool,
    /// The sending stack to compare the scan with (a name from assets/sender_profiles.toml).
    pub sender_profile: Option<String>,
    pub policy: PolicyOptions,
    /// The relay to judge for. Off by default, so the lab and tests judge for the named
    /// profiles; the command line and the workbench read this host's MTA.
    pub relay: crate::relay::RelaySource,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            port: 25,
            family: Family::Both,
            nameservers: Vec::new(),
            ca_file: None,
            source: None,
            ehlo: None,
            sni: None,
            attempts: 1,
            implicit_tls: false,
            timeouts: Timeouts::default(),
            deadline: DEFAULT_DEADLINE,
            scan: None,
            second_opinion: false,
            follow_up: true,
            sender_profile: None,
            policy: PolicyOptions::default(),
            relay: crate::relay::RelaySource::Off,
        }
    }
}

impl Settings {
    /// The check of `target` these settings ask for, judged against `stores`.
    pub fn options(&self, target: Target, stores: Arc<TrustStores>) -> CheckOptions {
        let ehlo = self.ehlo.clone().unwrap_or_else(crate::host::ehlo_name);
        CheckOptions {
            target,
            port: self.port,
            family: self.family,
            nameservers: self.nameservers.clone(),
            dns_timeout: DNS_TIMEOUT,
            probe: ProbeConfig {
                sni: self.sni.clone(),
                source: self.source,
                implicit_tls: self.implicit_tls,
                ..ProbeConfig::new(ehlo, self.timeouts, stores)
            },
            attempts: self.attempts,
            scan: self.scan.clone(),
            sender_profile: self.sender_profile.clone(),
            second_opinion: self.second_opinion.then(|| self.ca_file.clone()),
            follow_up: self.follow_up,
            policy: self.policy.clone(),
            deadline: self.deadline,
            relay: self.relay.clone(),
        }
    }
}
