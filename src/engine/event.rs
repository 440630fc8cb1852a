//! The one stream of facts from the engine to its consumers.

use std::net::SocketAddr;

use crate::model::opinion::SecondOpinion;
use crate::model::relay::{ClientRun, RelayView};
use crate::model::scan::Scan;
use crate::model::{CheckReport, Finding, ProbeResult, Stage, TranscriptLine};
use crate::policy::recipient::RecipientPolicy;
use crate::probe::ProbeTarget;

/// What the engine tells its consumers as a check goes on: `Resolved` first, then the
/// others as they happen, `Finished` last. Owned values, so a consumer on another task
/// keeps what it is sent; every event but `Stage` changes the report.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// DNS answered: the report as it starts (no probes yet) and the addresses to probe.
    Resolved {
        report: Box<CheckReport>,
        targets: Vec<ProbeTarget>,
    },
    /// A probe entered a stage (advisory: it may be dropped when the consumer lags).
    Stage { target: ProbeTarget, stage: Stage },
    /// A probe added a line to its transcript (advisory, like `Stage`): the session as it
    /// happens, for an address still being probed. The result carries the whole transcript.
    Line { target: ProbeTarget, line: TranscriptLine },
    /// One session to one address is over.
    Probed(Box<ProbeResult>),
    /// The capability scan of one address is over.
    Scanned { address: SocketAddr, scan: Box<Scan> },
    /// The system's OpenSSL has tried one address.
    SecondOpinion {
        address: SocketAddr,
        opinion: Box<SecondOpinion>,
    },
    /// What the recipient publishes, judged against what the probes saw.
    Policy(Box<RecipientPolicy>),
    /// How this relay's MTA is configured to deliver to the destination.
    Relay(Box<RelayView>),
    /// The follow-up of a failed handshake at one address is over.
    FollowedUp {
        address: SocketAddr,
        follow_up: Box<crate::model::scan::FollowUp>,
    },
    /// This relay's own client has tried one address.
    RelayClient { address: SocketAddr, run: Box<ClientRun> },
    /// Nothing more will come.
    Finished { elapsed_ms: u64 },
}

/// Where the engine's events go: a bounded channel of a consumer. A sink that cannot
/// keep up slows the engine down (`send` waits), except for stage changes (`offer`
/// drops them), which the result that follows makes good.
pub trait Sink: Sync {
    /// False for a sink that discards everything, so nothing is copied for it.
    fn wants(&self) -> bool {
        true
    }
    fn send(&self, event: Event) -> impl Future<Output = ()> + Send;
    fn offer(&self, event: Event);
}

/// No consumer: the caller only wants the final report.
impl Sink for () {
    fn wants(&self) -> bool {
        false
    }
    async fn send(&self, _: Event) {}
    fn offer(&self, _: Event) {}
}

impl Sink for tokio::sync::mpsc::Sender<Event> {
    async fn send(&self, event: Event) {
        // A consumer that went away only means nobody watches any more.
        let _ = tokio::sync::mpsc::Sender::send(self, event).await;
    }
    fn offer(&self, event: Event) {
        let _ = self.try_send(event);
    }
}

impl CheckReport {
    /// Adds what `event` says to the report. The engine builds its own report with this,
    /// so a consumer that applies every event it gets holds the same report.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Resolved { .. } | Event::Stage { .. } | Event::Line { .. } => {}
            Event::Probed(probe) => {
                // Kept in MX preference and address order, whatever order they finish in.
                let key = self.order(&probe);
                let at = self.probes.partition_point(|p| self.order(p) <= key);
                self.probes.insert(at, *probe);
            }
            Event::Scanned { address, scan } => {
                if let Some(probe) = self.probes.iter_mut().find(|p| p.address == address) {
                    let accepted = scan.senders.iter().filter(|h| h.accepted).map(|h| h.bytes).max();
                    let refused: Vec<&crate::model::scan::SenderHello> = scan
                        .senders
                        .iter()
                        .filter(|h| !h.accepted && accepted.is_some_and(|a| h.bytes > a))
                        .collect();
                    if let Some(smallest) = refused.iter().map(|h| h.bytes).min() {
                        probe.findings.push(Finding::LargeHelloRefused {
                            bytes: smallest,
                            senders: refused.iter().map(|h| h.sender.clone()).collect(),
                        });
                    }
                    probe.scan = Some(*scan);
                }
            }
            Event::SecondOpinion { address, opinion } => {
                if let Some(probe) = self.probes.iter_mut().find(|p| p.address == address) {
                    // What the relay's library sees is what the relay will do.
                    if opinion.connected != probe.tls.is_some() {
                        probe.findings.push(Finding::LibrariesDisagree {
                            openssl_connects: opinion.connected,
                        });
                    }
                    probe.second_opinion = Some(*opinion);
                }
            }
            Event::Policy(policy) => self.recipient = Some(*policy),
            Event::Relay(relay) => self.relay = Some(*relay),
            Event::FollowedUp { address, follow_up } => {
                if let Some(probe) = self.probes.iter_mut().find(|p| p.address == address) {
                    probe.follow_up = Some(*follow_up);
                }
            }
            Event::RelayClient { address, run } => {
                if let Some(probe) = self.probes.iter_mut().find(|p| p.address == address) {
                    probe.relay_client = Some(*run);
                }
            }
            Event::Finished { elapsed_ms } => self.elapsed_ms = elapsed_ms,
        }
    }

    /// Where a probe sits: its MX host's place in the resolution, then its address's.
    fn order(&self, probe: &ProbeResult) -> (usize, usize) {
        let hosts = &self.resolution.hosts;
        let host = hosts.iter().position(|h| h.name == probe.mx).unwrap_or(hosts.len());
        let address = hosts
            .get(host)
            .and_then(|h| h.addresses.iter().position(|a| a.ip == probe.address.ip()))
            .unwrap_or(usize::MAX);
        (host, address)
    }
}
