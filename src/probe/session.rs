//! The SMTP/STARTTLS dialogue for one address, recorded line by line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rustls::pki_types::{ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::connect::{QuickAck, connect};
use super::dialogue::{Command, Dialogue, Next};
use super::tls::{self, CapturingVerifier, Recording, WireRecord};
use super::{ProbeConfig, ProbeTarget, Progress, StageObserver};
use crate::cert;
use crate::model::tls::{CipherSuite, NamedGroup, TlsVersion};
use crate::model::{Direction, Failure, Finding, ProbeResult, Stage, StageMark, Timings, TlsSession, TranscriptLine};
use crate::text::SafeText;

/// Most transcript lines kept for one session; a peer that talks more is cut off.
pub const MAX_TRANSCRIPT: usize = 1000;
/// QUIT is a courtesy: we wait for its reply only briefly.
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// Takes a connection through the cleartext dialogue up to the `220` to STARTTLS
/// and hands over the raw stream, for the capability scan's own ClientHellos.
pub async fn starttls_stream(config: &ProbeConfig, target: &ProbeTarget) -> Result<TcpStream, (Stage, Failure)> {
    let mut session = Session::new(config, target);
    let mut dialogue = Dialogue::new(&config.ehlo_name, config.implicit_tls);
    match session.plain(config, target, &mut dialogue).await {
        Ok(Until::Handshake(stream)) => Ok(stream),
        Ok(Until::End(Err(failure))) | Err(failure) => Err((dialogue.stage(), failure)),
        Ok(Until::End(Ok(()))) => Err((
            dialogue.stage(),
            Failure::ConnectionClosed {
                stage: dialogue.stage(),
            },
        )),
    }
}

pub async fn run(config: &ProbeConfig, target: &ProbeTarget, observer: Option<StageObserver<'_>>) -> ProbeResult {
    let mut session = Session::new(config, target);
    session.observer = observer;
    // The session starts in Connect without entering it: say so, so a consumer's time
    // line starts here (and each further attempt starts its own).
    if let Some(observer) = observer {
        observer(Progress::Stage(Stage::Connect));
    }
    let mut dialogue = Dialogue::new(&config.ehlo_name, config.implicit_tls);
    let outcome = session.dialogue(config, target, &mut dialogue).await;
    let stage = session.result.stage;
    let facts = dialogue.into_facts();
    session.result.greeting = facts.greeting;
    session.result.capabilities = facts.capabilities;
    session.result.capabilities_tls = facts.capabilities_tls;
    for finding in facts.findings {
        session.find(finding);
    }
    match outcome {
        Ok(()) => session.enter(Stage::Done),
        Err(failure) => {
            let text = format!("failed at {}: {}", stage.label(), failure.summary());
            session.event(text);
            session.result.failure = Some(failure);
        }
    }
    session.result.timings.total_ms = session.elapsed_ms();
    session.result.transcript = session.transcript;
    session.result
}

/// Where driving the dialogue over one stream stopped.
enum Until<S> {
    /// The server said `220` to STARTTLS (or TLS comes first): the raw stream, nothing buffered.
    Handshake(S),
    End(Result<(), Failure>),
}

struct Session<'a> {
    started: Instant,
    observer: Option<StageObserver<'a>>,
    encrypted: bool,
    transcript: Vec<TranscriptLine>,
    result: ProbeResult,
}

impl Session<'_> {
    fn new(config: &ProbeConfig, target: &ProbeTarget) -> Self {
        Self {
            started: Instant::now(),
            observer: None,
            encrypted: false,
            transcript: Vec::new(),
            result: ProbeResult {
                mx: target.mx.clone(),
                address: target.address,
                local_address: None,
                ehlo_name: config.ehlo_name.clone(),
                stage: Stage::Connect,
                failure: None,
                findings: Vec::new(),
                greeting: None,
                capabilities: None,
                capabilities_tls: None,
                tls: None,
                chain: None,
                timings: Timings {
                    stages: vec![StageMark {
                        stage: Stage::Connect,
                        at_ms: 0,
                    }],
                    ..Timings::default()
                },
                transcript: Vec::new(),
                scan: None,
                second_opinion: None,
                relay_client: None,
                follow_up: None,
                presented: Vec::new(),
            },
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(&mut self, direction: Direction, text: SafeText) {
        if self.transcript.len() < MAX_TRANSCRIPT {
            let line = TranscriptLine {
                at_ms: self.elapsed_ms(),
                direction,
                encrypted: self.encrypted,
                text,
            };
            if let Some(observer) = self.observer {
                observer(Progress::Line(&line));
            }
            self.transcript.push(line);
        }
    }

    fn event(&mut self, text: String) {
        self.record(Direction::Event, SafeText::from_peer_str(&text));
    }

    fn find(&mut self, finding: Finding) {
        if !self.result.findings.contains(&finding) {
            self.result.findings.push(finding);
        }
    }

    fn enter(&mut self, stage: Stage) {
        if self.result.stage == stage {
            return;
        }
        self.result.stage = stage;
        let at_ms = self.elapsed_ms();
        self.result.timings.stages.push(StageMark { stage, at_ms });
        if let Some(observer) = self.observer {
            observer(Progress::Stage(stage));
        }
    }

    /// Connects and drives the cleartext part of the dialogue: up to the handshake, or
    /// to the end when STARTTLS is refused or missing.
    async fn plain(
        &mut self,
        config: &ProbeConfig,
        target: &ProbeTarget,
        dialogue: &mut Dialogue,
    ) -> Result<Until<TcpStream>, Failure> {
        self.event(format!("connecting to {} ({})", target.address, target.mx));
        let stream = connect(target.address, config.source, config.wait(config.timeouts.connect)).await?;
        self.result.timings.connect_ms = Some(self.elapsed_ms());
        self.result.local_address = stream.local_addr().ok();
        if let Some(local) = self.result.local_address {
            self.event(format!("connected from {local}"));
        }
        Ok(self.converse(stream, config, dialogue).await)
    }

    async fn dialogue(
        &mut self,
        config: &ProbeConfig,
        target: &ProbeTarget,
        dialogue: &mut Dialogue,
    ) -> Result<(), Failure> {
        let stream = match self.plain(config, target, dialogue).await? {
            Until::Handshake(stream) => stream,
            Until::End(outcome) => return outcome,
        };
        self.enter(Stage::TlsHandshake);
        // From here the server sends a segment no command of ours follows (OpenSSL's
        // session tickets): it must be acknowledged at once, see `QuickAck`.
        let tls_stream = self.handshake(QuickAck::new(stream), config, target).await?;
        dialogue.tls_established();
        match self.converse(tls_stream, config, dialogue).await {
            Until::End(outcome) => outcome,
            // The machine never asks for a second handshake.
            Until::Handshake(mut stream) => {
                let _ = tokio::time::timeout(QUIT_WAIT, stream.shutdown()).await;
                Ok(())
            }
        }
    }

    /// Drives the dialogue over `stream`: reads with each stage's time limit, records
    /// every line, sends what the machine asks for.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mut stream: S,
        config: &ProbeConfig,
        dialogue: &mut Dialogue,
    ) -> Until<S> {
        let mut limit = config.timeouts.command;
        let mut waiting_since = Instant::now();
        let mut chunk = [0u8; 4096];
        loop {
            self.enter(dialogue.stage());
            match dialogue.poll() {
                Next::Read => {
                    let remaining = config.wait(limit.saturating_sub(waiting_since.elapsed()));
                    let stage = dialogue.stage();
                    match tokio::time::timeout(remaining, stream.read(&mut chunk)).await {
                        Err(_) => {
                            let waited = waiting_since.elapsed().as_millis() as u64;
                            return Until::End(dialogue.timed_out(waited));
                        }
                        Ok(Ok(0)) => return Until::End(dialogue.fail(Failure::ConnectionClosed { stage })),
                        Ok(Ok(n)) => dialogue.receive(&chunk[..n]),
                        Ok(Err(e)) => return Until::End(dialogue.fail(classify_io(stage, &e))),
                    }
                }
                Next::Line(line) => {
                    if self.transcript.len() >= MAX_TRANSCRIPT {
                        let failure = Failure::LimitExceeded {
                            stage: dialogue.stage(),
                            limit: format!("transcript longer than {MAX_TRANSCRIPT} lines"),
                        };
                        return Until::End(dialogue.fail(failure));
                    }
                    self.record(Direction::Server, SafeText::from_peer(&line.bytes));
                    if self.result.timings.greeting_ms.is_none() && dialogue.facts().greeting.is_some() {
                        let greeting_ms = self.elapsed_ms();
                        self.result.timings.greeting_ms = Some(greeting_ms);
                        if greeting_ms >= config.slow_greeting.as_millis() as u64 {
                            self.find(Finding::SlowGreeting { ms: greeting_ms });
                        }
                    }
                }
                Next::Discarded { before, bytes } => {
                    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                        self.record(Direction::Server, SafeText::from_peer(line.trim_ascii_end()));
                    }
                    self.event(format!(
                        "{} bytes arrived before our {} was sent: not a reply to it, discarded",
                        bytes.len(),
                        before.label()
                    ));
                }
                Next::Send(command) => {
                    // Bytes that arrived meanwhile would otherwise pass for this command's reply.
                    if let Some(Ok(n @ 1..)) = stream.read(&mut chunk).now_or_never() {
                        dialogue.receive(&chunk[..n]);
                        continue;
                    }
                    limit = if command == Command::Quit {
                        QUIT_WAIT
                    } else {
                        config.timeouts.command
                    };
                    if let Err(failure) = self.send(&mut stream, &command.line(), config.wait(limit)).await {
                        return Until::End(dialogue.fail(failure));
                    }
                    dialogue.sent();
                    waiting_since = Instant::now();
                }
                Next::Handshake { leftover } => {
                    if leftover > 0 {
                        self.event(format!("{leftover} unexpected bytes after the 220, discarded"));
                    }
                    return Until::Handshake(stream);
                }
                Next::End(outcome) => {
                    if outcome.is_ok() {
                        let _ = tokio::time::timeout(QUIT_WAIT, stream.shutdown()).await;
                    }
                    return Until::End(outcome);
                }
            }
        }
    }

    async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: S,
        config: &ProbeConfig,
        target: &ProbeTarget,
    ) -> Result<tokio_rustls::client::TlsStream<Recording<S>>, Failure> {
        let sni = config.server_name(target).to_string();
        let server_name = match sni.parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(sni.clone()).map_err(|e| Failure::TlsError {
                message: format!("cannot use {sni:?} as a TLS server name: {e}"),
            })?,
        };
        let provider = tls::provider();
        let verifier = Arc::new(CapturingVerifier::new(Arc::clone(&provider)));
        let client = tls::client_config(Arc::clone(&verifier), provider).map_err(|e| Failure::TlsError {
            message: format!("cannot build the TLS client: {e}"),
        })?;
        let (recording, wire) = Recording::new(stream);
        let sent_sni = matches!(server_name, ServerName::DnsName(_)).then(|| sni.clone());
        self.event(match &sent_sni {
            Some(name) => format!("TLS handshake, SNI {name}"),
            None => "TLS handshake, no SNI (IP address)".to_string(),
        });
        let start = Instant::now();
        let connector = TlsConnector::from(Arc::new(client));
        let outcome = tokio::time::timeout(
            config.wait(config.timeouts.tls),
            connector.connect(server_name, recording),
        )
        .await;
        let tls_ms = start.elapsed().as_millis() as u64;
        let wire = std::mem::take(&mut *wire.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let stream = match outcome {
            Err(_) => {
                return Err(Failure::HandshakeTimeout {
                    after_ms: tls_ms,
                    bytes_received: wire.bytes_received,
                });
            }
            Ok(Err(e)) => return Err(classify_handshake_error(&e, &wire)),
            Ok(Ok(stream)) => stream,
        };
        self.result.timings.tls_ms = Some(tls_ms);
        let (_, connection) = stream.get_ref();
        let session = TlsSession {
            version: connection
                .protocol_version()
                .map_or(TlsVersion(0), TlsVersion::from_rustls),
            cipher_suite: CipherSuite(connection.negotiated_cipher_suite().map_or(0, |s| u16::from(s.suite()))),
            key_exchange_group: connection
                .negotiated_key_exchange_group()
                .map(|g| NamedGroup(u16::from(g.name()))),
            sni: sent_sni,
        };
        self.event(format!(
            "TLS established: {} {} {}",
            session.version,
            session.cipher_suite,
            session.key_exchange_group.map(|g| g.name()).unwrap_or_default()
        ));
        self.result.tls = Some(session);
        self.encrypted = true;
        let chain = verifier.chain();
        // The name a verifying sender checks: the MX host, or the name the operator chose to send.
        let reference = config.server_name(target);
        let mut report = cert::analyze(&chain, reference, &config.stores, UnixTime::now());
        report.mark_cut(verifier.sent());
        if let Some(sent) = report.sent {
            self.event(format!(
                "the server sent {sent} certificates; only the first {} are kept and judged",
                chain.len()
            ));
        }
        self.result.chain = Some(report);
        self.result.presented = chain;
        Ok(stream)
    }

    async fn send<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
        line: &str,
        limit: Duration,
    ) -> Result<(), Failure> {
        let stage = self.result.stage;
        // One command per line, always: a line break would let a second command through.
        if line.contains(['\r', '\n']) {
            return Err(Failure::Io {
                stage,
                message: "refusing to send a command that contains a line break".into(),
            });
        }
        self.record(Direction::Client, SafeText::from_peer_str(line));
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        let write = async {
            writer.write_all(&bytes).await?;
            writer.flush().await
        };
        match tokio::time::timeout(limit, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(classify_io(stage, &e)),
            Err(_) => Err(Failure::ReplyTimeout {
                stage,
                after_ms: limit.as_millis() as u64,
            }),
        }
    }
}

/// Tells apart the ways a handshake dies, from the error and what the peer had sent.
fn classify_handshake_error(e: &std::io::Error, wire: &WireRecord) -> Failure {
    let bytes_received = wire.bytes_received;
    if let Some(rustls::Error::AlertReceived(description)) = tls::rustls_error(e) {
        return Failure::TlsAlert {
            alert: tls::alert(*description),
            bytes_received,
        };
    }
    if e.kind() == std::io::ErrorKind::ConnectionReset {
        return Failure::HandshakeReset { bytes_received };
    }
    if tls::looks_like_plaintext(&wire.first_bytes) {
        let text = wire.first_bytes.trim_ascii_end();
        return Failure::PlaintextInsteadOfTls {
            first_bytes: SafeText::from_peer(text),
        };
    }
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return if bytes_received == 0 {
            Failure::ClosedAfterStartTls
        } else {
            Failure::HandshakeClosed { bytes_received }
        };
    }
    match tls::rustls_error(e) {
        Some(err) => Failure::TlsError {
            message: err.to_string(),
        },
        None => classify_io(Stage::TlsHandshake, e),
    }
}

fn classify_io(stage: Stage, e: &std::io::Error) -> Failure {
    use std::io::ErrorKind;
    if let Some(rustls::Error::AlertReceived(description)) = tls::rustls_error(e) {
        return Failure::TlsAlert {
            alert: tls::alert(*description),
            bytes_received: 0,
        };
    }
    match e.kind() {
        ErrorKind::ConnectionReset => Failure::ConnectionReset { stage },
        ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => {
            Failure::ConnectionClosed { stage }
        }
        _ => Failure::Io {
            stage,
            message: e.to_string(),
        },
    }
}
