//! The capability scan: what the server really accepts, measured with ClientHellos
//! of our own after STARTTLS, independent of rustls.
//!
//! Polite by construction: opt-in, one connection at a time per address with a delay
//! between them, a connection budget, and a stop at the first 421 or tarpit.

pub mod codec;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::codec::{Answer, Offer};
use super::{ProbeConfig, ProbeTarget, session};
use crate::model::Failure;
pub use crate::model::scan::{Refusal, Scan, VersionScan};
use crate::model::tls::{CipherSuite, LEGACY_SUITES, NamedGroup, TLS13_SUITES, TlsVersion};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// Pause between two connections to the same address.
    pub delay: Duration,
    /// Most connections one scan of one address may open.
    pub max_connections: usize,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(200),
            max_connections: 40,
        }
    }
}

/// The groups the scan asks about, one at a time, in TLS 1.3.
const GROUPS: [NamedGroup; 5] = [
    NamedGroup::X25519,
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
    NamedGroup::SECP521R1,
    NamedGroup::FFDHE2048,
];

/// The version and suite a ServerHello (or HelloRetryRequest, always TLS 1.3) chose.
fn chosen_by(answer: &Answer) -> Option<(u16, u16)> {
    match answer {
        Answer::Hello { version, suite, .. } => Some((*version, *suite)),
        Answer::RetryRequest { suite, .. } => Some((codec::TLS13, *suite)),
        _ => None,
    }
}

/// What one attempt produced.
enum Attempt {
    Answered(Answer),
    Refused(Refusal),
    /// The server would not even let us reach STARTTLS (421, tarpit …): stop scanning.
    Throttled(String),
}

struct Scanner<'a> {
    config: &'a ProbeConfig,
    target: &'a ProbeTarget,
    settings: &'a ScanSettings,
    connections: usize,
    stopped: Option<String>,
}

impl Scanner<'_> {
    fn exhausted(&mut self) -> bool {
        if self.stopped.is_none() && self.config.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            self.stopped = Some("stopped: the check's overall deadline passed".into());
        }
        self.stopped.is_some() || self.connections >= self.settings.max_connections
    }

    async fn attempt(&mut self, offer: &Offer) -> Attempt {
        if self.connections > 0 {
            tokio::time::sleep(self.settings.delay).await;
        }
        self.connections += 1;
        let mut stream = match session::starttls_stream(self.config, self.target).await {
            Ok(stream) => stream,
            Err((_, failure)) => {
                return match failure {
                    Failure::GreetingRejected { reply } => Attempt::Throttled(reply.one_line()),
                    Failure::GreetingTimeout { .. } => Attempt::Throttled("greeting timed out (tarpit?)".into()),
                    Failure::StartTlsRejected { reply } => Attempt::Throttled(reply.one_line()),
                    other => Attempt::Throttled(other.summary()),
                };
            }
        };
        let random: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(self.connections as u8));
        let hello = codec::client_hello(offer, &random);
        let limit = self.config.wait(self.config.timeouts.tls);
        if tokio::time::timeout(limit, stream.write_all(&hello)).await.is_err() {
            return Attempt::Refused(Refusal::Timeout);
        }
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        let read = async {
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) => return Attempt::Refused(Refusal::Closed),
                    Ok(n) => {
                        received.extend_from_slice(&chunk[..n]);
                        if let Some(answer) = codec::parse_answer(&received) {
                            return Attempt::Answered(answer);
                        }
                        // A server's first flight (with its chain) never needs more; stop reading a flood.
                        if received.len() > 2 * codec::MAX_HANDSHAKE {
                            return Attempt::Refused(Refusal::Garbage);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                        return Attempt::Refused(Refusal::Reset);
                    }
                    Err(_) => return Attempt::Refused(Refusal::Closed),
                }
            }
        };
        let outcome = tokio::time::timeout(limit, read)
            .await
            .unwrap_or(Attempt::Refused(Refusal::Timeout));
        let _ = stream.shutdown().await;
        outcome
    }

    /// One offer; a throttled answer stops the scan, and then nothing was refused
    /// (`Err(None)`): no ClientHello went out.
    async fn offer(&mut self, offer: Offer) -> Result<Answer, Option<Refusal>> {
        match self.attempt(&offer).await {
            Attempt::Answered(Answer::Alert { description, .. }) => Err(Some(Refusal::Alert {
                code: description,
                name: super::tls::alert_name(description).unwrap_or("unknown").to_string(),
            })),
            Attempt::Answered(Answer::Plaintext(_)) => Err(Some(Refusal::Plaintext)),
            Attempt::Answered(Answer::Garbage(_)) => Err(Some(Refusal::Garbage)),
            Attempt::Answered(Answer::Broken(detail)) => Err(Some(Refusal::Broken { detail })),
            Attempt::Answered(answer) => Ok(answer),
            Attempt::Refused(refusal) => Err(Some(refusal)),
            Attempt::Throttled(reason) => {
                self.stopped = Some(format!("stopped: the server did not let the scan reach TLS ({reason})"));
                Err(None)
            }
        }
    }

    async fn scan_version(&mut self, tls_version: TlsVersion) -> VersionScan {
        let version = tls_version.0;
        let candidates: Vec<u16> = if tls_version == TlsVersion::TLS13 {
            TLS13_SUITES.iter().map(|(c, _)| *c).collect()
        } else {
            LEGACY_SUITES.iter().map(|(c, _)| *c).collect()
        };
        let groups: Vec<u16> = GROUPS.iter().map(|g| g.0).collect();
        let sni = Some(self.config.server_name(self.target).to_string());
        let mut result = VersionScan {
            version: tls_version,
            accepted: false,
            refusal: None,
            suites: Vec::new(),
            server_order: None,
        };
        let mut remaining = candidates.clone();
        let mut chosen: Vec<u16> = Vec::new();
        // Offer everything left, note what the server picks, take it away, repeat.
        while !remaining.is_empty() && !self.exhausted() {
            let offer = Offer {
                version,
                suites: remaining.clone(),
                groups: groups.clone(),
                sni: sni.clone(),
            };
            match self.offer(offer).await {
                Ok(answer) => {
                    let Some((got, suite)) = chosen_by(&answer) else {
                        break;
                    };
                    // An answer for another version is a refusal of this one.
                    if got != version && chosen.is_empty() {
                        result.refusal = Some(Refusal::OtherVersion {
                            version: TlsVersion(got),
                        });
                        break;
                    }
                    if !remaining.contains(&suite) {
                        break;
                    }
                    chosen.push(suite);
                    remaining.retain(|s| *s != suite);
                }
                Err(refusal) => {
                    if chosen.is_empty() {
                        result.refusal = refusal;
                    }
                    break;
                }
            }
        }
        result.accepted = !chosen.is_empty();
        // Offer the accepted suites in reverse: a server that still picks its first
        // choice imposes its own order.
        if chosen.len() > 1 && !self.exhausted() {
            let reversed: Vec<u16> = chosen.iter().rev().copied().collect();
            let offer = Offer {
                version,
                suites: reversed,
                groups,
                sni,
            };
            if let Ok(Answer::Hello { suite, .. }) = self.offer(offer).await {
                result.server_order = Some(suite == chosen[0]);
            }
        }
        result.suites = chosen.into_iter().map(CipherSuite).collect();
        result
    }

    async fn scan_groups(&mut self) -> Vec<NamedGroup> {
        let sni = Some(self.config.server_name(self.target).to_string());
        let mut accepted = Vec::new();
        for group in GROUPS {
            if self.exhausted() {
                break;
            }
            let offer = Offer {
                version: codec::TLS13,
                suites: TLS13_SUITES.iter().map(|(c, _)| *c).collect(),
                groups: vec![group.0],
                sni: sni.clone(),
            };
            match self.offer(offer).await {
                Ok(Answer::Hello { group: Some(g), .. } | Answer::RetryRequest { group: Some(g), .. })
                    if g == group.0 =>
                {
                    accepted.push(group);
                }
                _ => {}
            }
        }
        accepted
    }
}

/// Scans one address: each version, the suites per version with the server's order,
/// and the TLS 1.3 groups.
pub async fn scan(config: &ProbeConfig, target: &ProbeTarget, settings: &ScanSettings) -> Scan {
    let mut scanner = Scanner {
        config,
        target,
        settings,
        connections: 0,
        stopped: None,
    };
    let mut versions = Vec::new();
    for version in TlsVersion::ALL {
        if scanner.exhausted() {
            break;
        }
        versions.push(scanner.scan_version(version).await);
    }
    // A version the scan never got to offer (stopped before its ClientHello) is not listed.
    versions.retain(|v| v.accepted || v.refusal.is_some());
    let groups = if versions.iter().any(|v| v.version == TlsVersion::TLS13 && v.accepted) {
        scanner.scan_groups().await
    } else {
        Vec::new()
    };
    if scanner.stopped.is_none() && scanner.connections >= settings.max_connections {
        scanner.stopped = Some(format!(
            "stopped: connection budget of {} used",
            settings.max_connections
        ));
    }
    Scan {
        versions,
        groups,
        connections: scanner.connections,
        stopped: scanner.stopped,
    }
}
