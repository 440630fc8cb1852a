//! The evidence of one check: what DNS said, what every probe saw, what the recipient
//! publishes. Diagnosis and reports read this; only the engine writes it.

use serde::{Deserialize, Serialize};

use super::{ProbeResult, Resolution, SCHEMA_VERSION};
use crate::target::Target;

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
    /// The relay this check ran on, as its MTA configuration says it delivers here.
    #[serde(default)]
    pub relay: Option<super::relay::RelayView>,
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
            relay: None,
        }
    }
}
