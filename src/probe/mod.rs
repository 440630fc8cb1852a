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
pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::cert::TrustStores;
use crate::model::{ProbeResult, Stage};

pub use session::run;

/// Per-step time limits. Each network wait has its own.
#[derive(Debug, Clone, Copy)]
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
    /// Where each stage change is reported while the probe runs (the TUI's live matrix).
    pub progress: Option<ProgressSink>,
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

    /// STARTTLS with the MX name as SNI, no source binding, no progress reports.
    pub fn new(ehlo_name: String, timeouts: Timeouts, stores: Arc<TrustStores>) -> Self {
        Self {
            ehlo_name,
            sni: None,
            source: None,
            timeouts,
            slow_greeting: SLOW_GREETING,
            stores,
            progress: None,
            implicit_tls: false,
        }
    }
}

/// A probe entered a new stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub target: ProbeTarget,
    pub stage: Stage,
}

pub type ProgressSink = tokio::sync::mpsc::UnboundedSender<Progress>;

/// One address to probe, with the MX name it was reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub mx: String,
    pub address: SocketAddr,
}

/// Probes one address. Never fails: every outcome is in the result.
pub async fn probe(config: &ProbeConfig, target: &ProbeTarget) -> ProbeResult {
    session::run(config, target).await
}
