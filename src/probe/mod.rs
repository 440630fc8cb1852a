//! One probe per address: connect → greeting → EHLO → STARTTLS → TLS → EHLO → QUIT.
//!
//! Never sends MAIL FROM. Every step has its own timeout and every read is bounded.

mod connect;
pub mod dialogue;
pub mod lines;
pub mod openssl;
pub mod reply;
pub mod scan;
mod session;
pub use session::MAX_TRANSCRIPT;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cert::TrustStores;
use crate::model::{ProbeResult, Stage};

/// Per-step time limits. Each network wait has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// For the greeting and every command's reply.
    pub command: Duration,
    pub tls: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // Shorter than RFC 5321's 5 minutes: an operator in an incident wants an answer,
        // and a greeting slower than this is reported as a tarpit anyway.
        Self {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(60),
            tls: Duration::from_secs(30),
        }
    }
}

/// How the probe presents itself; shared by every address of one check.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub ehlo_name: String,
    /// SNI override; by default the MX host name is sent.
    pub sni: Option<String>,
    pub source: Option<IpAddr>,
    pub timeouts: Timeouts,
    /// A greeting slower than this is reported as a tarpit.
    pub slow_greeting: Duration,
    pub stores: Arc<TrustStores>,
    /// The whole check ends by then: every step waits at most until it, so a slow peer
    /// cannot stretch a check to the sum of every step's timeout.
    pub deadline: Option<Instant>,
    /// TLS from the first byte (port 465, `--tls implicit`) instead of STARTTLS.
    pub implicit_tls: bool,
}

/// Above this a greeting counts as a tarpit (postscreen and greet_pause wait 6 s or so;
/// anything past 3 s is worth showing).
pub const SLOW_GREETING: Duration = Duration::from_secs(3);

impl ProbeConfig {
    /// The name sent as SNI and checked against the certificate: `--sni`, else the MX host.
    pub fn server_name<'a>(&'a self, target: &'a ProbeTarget) -> &'a str {
        self.sni.as_deref().unwrap_or(&target.mx)
    }

    /// How long a step may wait: its own limit, cut short by the check's deadline.
    pub fn wait(&self, limit: Duration) -> Duration {
        match self.deadline {
            Some(deadline) => limit.min(deadline.saturating_duration_since(Instant::now())),
            None => limit,
        }
    }

    /// STARTTLS with the MX name as SNI, no source binding, no deadline.
    pub fn new(ehlo_name: String, timeouts: Timeouts, stores: Arc<TrustStores>) -> Self {
        Self {
            ehlo_name,
            sni: None,
            source: None,
            timeouts,
            slow_greeting: SLOW_GREETING,
            stores,
            deadline: None,
            implicit_tls: false,
        }
    }
}

/// What a probe tells its observer while it runs (the workbench's live matrix and the
/// transcript of an address still being probed).
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The session entered this stage.
    Stage(Stage),
    /// A line went into the transcript.
    Line(&'a crate::model::TranscriptLine),
}

/// Told each stage and transcript line of a probe as it happens.
pub type StageObserver<'a> = &'a (dyn Fn(Progress<'_>) + Send + Sync);

/// One address to probe, with the MX name it was reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub mx: String,
    pub address: SocketAddr,
}

/// Probes one address. Never fails: every outcome is in the result.
pub async fn probe(config: &ProbeConfig, target: &ProbeTarget) -> ProbeResult {
    session::run(config, target, None).await
}

/// [`probe`], telling `observer` each stage and transcript line as they happen.
pub async fn probe_observed(config: &ProbeConfig, target: &ProbeTarget, observer: StageObserver<'_>) -> ProbeResult {
    session::run(config, target, Some(observer)).await
}
