//! The SMTP/STARTTLS dialogue for one address, recorded line by line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::connect::connect;
use super::lines::{LineError, LineReader, MAX_LINE};
use super::reply::{RFC_REPLY_LINE_LIMIT, ReplyError, ReplyParser, masked_starttls, parse_capabilities};
use super::tls::{self, CapturingVerifier, Recording, WireRecord};
use super::{ProbeConfig, ProbeTarget};
use crate::cert;
use crate::model::{Direction, Failure, Finding, ProbeResult, Reply, Stage, Timings, TlsSession, TranscriptLine};
use crate::text::SafeText;

/// Most transcript lines kept for one session; a peer that talks more is cut off.
pub const MAX_TRANSCRIPT: usize = 1000;
/// QUIT is a courtesy: we wait for its reply only briefly.
const QUIT_WAIT: Duration = Duration::from_secs(5);

/// Takes a connection through the cleartext dialogue up to the `220` to STARTTLS
/// and hands over the raw stream, for the capability scan's own ClientHellos.
pub async fn starttls_stream(config: &ProbeConfig, target: &ProbeTarget) -> Result<TcpStream, (Stage, Failure)> {
    let mut session = Session::new(config, target);
    let result = session.plain(config, target).await;
    result.map_err(|failure| (session.result.stage, failure))
}

pub async fn run(config: &ProbeConfig, target: &ProbeTarget) -> ProbeResult {
    let mut session = Session::new(config, target);
    match session.dialogue(config, target).await {
        Ok(()) => session.enter(Stage::Done),
        Err(failure) => {
            let text = format!("failed at {}: {}", session.result.stage.label(), failure.summary());
            session.event(text);
            session.result.failure = Some(failure);
        }
    }
    session.result.timings.total_ms = session.elapsed_ms();
    session.result.transcript = session.transcript;
    session.result
}

struct Session {
    started: Instant,
    progress: Option<(super::ProgressSink, ProbeTarget)>,
    encrypted: bool,
    transcript: Vec<TranscriptLine>,
    result: ProbeResult,
}

impl Session {
    fn new(config: &ProbeConfig, target: &ProbeTarget) -> Self {
        Self {
            started: Instant::now(),
            progress: config.progress.clone().map(|sink| (sink, target.clone())),
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
                timings: Timings::default(),
                transcript: Vec::new(),
                scan: None,
                second_opinion: None,
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
        self.result.stage = stage;
        if let Some((sink, target)) = &self.progress {
            // A closed receiver only means nobody watches any more.
            let _ = sink.send(super::Progress {
                target: target.clone(),
                stage,
            });
        }
    }

    /// The cleartext part: connect, greeting, EHLO, STARTTLS; returns the raw stream
    /// right after the server's `220`, with nothing buffered.
    async fn plain(&mut self, config: &ProbeConfig, target: &ProbeTarget) -> Result<TcpStream, Failure> {
        self.event(format!("connecting to {} ({})", target.address, target.mx));
        let stream = connect(target.address, config.source, config.timeouts.connect).await?;
        self.result.timings.connect_ms = Some(self.elapsed_ms());
        self.result.local_address = stream.local_addr().ok();
        if let Some(local) = self.result.local_address {
            self.event(format!("connected from {local}"));
        }
        if config.implicit_tls {
            // Port 465 and friends: TLS first, the greeting comes inside it.
            return Ok(stream);
        }
        let mut reader = LineReader::new(stream);
        let limit = config.timeouts.command;
        self.greet(&mut reader, config).await?;

        self.enter(Stage::Ehlo);
        let caps = self.ehlo(&mut reader, config).await?;
        if let Err(failure) = self.ehlo_reply_to_caps(caps, false) {
            self.quit_politely(&mut reader).await;
            return Err(failure);
        }
        let caps = self.result.capabilities.as_ref().cloned().unwrap_or_default();
        if !caps.has("STARTTLS") {
            self.quit_politely(&mut reader).await;
            return Err(match masked_starttls(&caps) {
                Some(keyword) => Failure::StartTlsMasked {
                    keyword: SafeText::from_peer_str(keyword),
                },
                None => Failure::StartTlsNotOffered {
                    keywords: caps.keywords.iter().map(|(k, _)| k.clone()).collect(),
                },
            });
        }

        self.enter(Stage::StartTls);
        self.send(reader.get_mut(), "STARTTLS", limit).await?;
        let ready = self.read_reply(&mut reader, limit).await?;
        if ready.code != 220 {
            self.quit_politely(&mut reader).await;
            return Err(Failure::StartTlsRejected { reply: ready });
        }
        let (stream, leftover) = reader.into_parts();
        if !leftover.is_empty() {
            // RFC 3207 §4.1: nothing may come before the handshake. Never feed it to TLS.
            self.event(format!("{} unexpected bytes after the 220, discarded", leftover.len()));
            self.find(Finding::BytesAfterStartTlsReply {
                bytes: leftover.len() as u64,
            });
        }
        Ok(stream)
    }

    /// Waits for the `220` greeting; anything else ends the session.
    async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        reader: &mut LineReader<S>,
        config: &ProbeConfig,
    ) -> Result<(), Failure> {
        self.enter(Stage::Greeting);
        let greeting = match self.read_reply(reader, config.timeouts.command).await {
            Err(Failure::ReplyTimeout { after_ms, .. }) => {
                let partial = (reader.pending() > 0).then(|| SafeText::from_peer(reader.partial()));
                return Err(Failure::GreetingTimeout { after_ms, partial });
            }
            other => other?,
        };
        let greeting_ms = self.elapsed_ms();
        self.result.timings.greeting_ms = Some(greeting_ms);
        self.result.greeting = Some(greeting.clone());
        if greeting_ms >= config.slow_greeting.as_millis() as u64 {
            self.find(Finding::SlowGreeting { ms: greeting_ms });
        }
        if greeting.code != 220 {
            self.quit_politely(reader).await;
            return Err(Failure::GreetingRejected { reply: greeting });
        }
        Ok(())
    }

    async fn dialogue(&mut self, config: &ProbeConfig, target: &ProbeTarget) -> Result<(), Failure> {
        let stream = self.plain(config, target).await?;
        self.enter(Stage::TlsHandshake);
        let tls_stream = self.handshake(stream, config, target).await?;
        let mut reader = LineReader::new(tls_stream);
        if config.implicit_tls {
            self.greet(&mut reader, config).await?;
        }

        self.enter(Stage::TlsEhlo);
        let caps = self.ehlo(&mut reader, config).await?;
        self.ehlo_reply_to_caps(caps, true)?;

        self.enter(Stage::Quit);
        self.quit_politely(&mut reader).await;
        let _ = tokio::time::timeout(QUIT_WAIT, reader.get_mut().shutdown()).await;
        Ok(())
    }

    async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        reader: &mut LineReader<S>,
        config: &ProbeConfig,
    ) -> Result<Reply, Failure> {
        let limit = config.timeouts.command;
        self.send(reader.get_mut(), &format!("EHLO {}", config.ehlo_name), limit)
            .await?;
        self.read_reply(reader, limit).await
    }

    /// Stores the capabilities of a positive EHLO reply, or says why it failed.
    fn ehlo_reply_to_caps(&mut self, reply: Reply, inside_tls: bool) -> Result<(), Failure> {
        if reply.code != 250 {
            return Err(if inside_tls {
                Failure::TlsEhloRejected { reply }
            } else {
                Failure::EhloRejected { reply }
            });
        }
        let (caps, suspicious) = parse_capabilities(&reply);
        if let Some(line) = suspicious {
            self.find(Finding::KeywordOnEhloFirstLine { line });
        }
        if inside_tls {
            if caps.has("STARTTLS") {
                self.find(Finding::StartTlsAdvertisedInTls);
            }
            self.result.capabilities_tls = Some(caps);
        } else {
            self.result.capabilities = Some(caps);
        }
        Ok(())
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
        let outcome = tokio::time::timeout(config.timeouts.tls, connector.connect(server_name, recording)).await;
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
                .map_or_else(|| "unknown".into(), |v| format!("{v:?}")),
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map_or_else(|| "unknown".into(), |s| format!("{:?}", s.suite())),
            key_exchange_group: connection
                .negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name())),
            sni: sent_sni,
        };
        self.event(format!(
            "TLS established: {} {} {}",
            session.version,
            session.cipher_suite,
            session.key_exchange_group.as_deref().unwrap_or("")
        ));
        self.result.tls = Some(session);
        self.encrypted = true;
        let chain = verifier.chain();
        // The name a verifying sender checks: the MX host, or the name the operator chose to send.
        let reference = config.server_name(target);
        self.result.chain = Some(cert::analyze(&chain, reference, &config.stores, UnixTime::now()));
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

    async fn read_reply<S: AsyncRead + Unpin>(
        &mut self,
        reader: &mut LineReader<S>,
        limit: Duration,
    ) -> Result<Reply, Failure> {
        let stage = self.result.stage;
        let start = Instant::now();
        let mut parser = ReplyParser::default();
        let read = async {
            loop {
                let line = reader.read_line().await.map_err(|e| match e {
                    LineError::Closed => Failure::ConnectionClosed { stage },
                    LineError::TooLong => Failure::LimitExceeded {
                        stage,
                        limit: format!("reply line longer than {MAX_LINE} bytes"),
                    },
                    LineError::Io(e) => classify_io(stage, &e),
                })?;
                if self.transcript.len() >= MAX_TRANSCRIPT {
                    return Err(Failure::LimitExceeded {
                        stage,
                        limit: format!("transcript longer than {MAX_TRANSCRIPT} lines"),
                    });
                }
                self.record(Direction::Server, SafeText::from_peer(&line.bytes));
                if line.bare_lf {
                    self.find(Finding::BareLineFeed);
                }
                if line.bytes.len() + 2 > RFC_REPLY_LINE_LIMIT {
                    self.find(Finding::LongReplyLine {
                        octets: line.bytes.len() + 2,
                    });
                }
                match parser.push_line(&line.bytes) {
                    Ok(Some(reply)) => return Ok(reply),
                    Ok(None) => {}
                    Err(e @ ReplyError::TooManyLines) => {
                        return Err(Failure::LimitExceeded {
                            stage,
                            limit: e.to_string(),
                        });
                    }
                    Err(e) => {
                        return Err(Failure::MalformedReply {
                            stage,
                            detail: e.to_string(),
                        });
                    }
                }
            }
        };
        match tokio::time::timeout(limit, read).await {
            Ok(result) => result,
            Err(_) => Err(Failure::ReplyTimeout {
                stage,
                after_ms: start.elapsed().as_millis() as u64,
            }),
        }
    }

    /// Ends a session that is still alive with QUIT; a missing reply is only noted.
    async fn quit_politely<S: AsyncRead + AsyncWrite + Unpin>(&mut self, reader: &mut LineReader<S>) {
        let ok = self.send(reader.get_mut(), "QUIT", QUIT_WAIT).await.is_ok()
            && self.read_reply(reader, QUIT_WAIT).await.is_ok_and(|r| r.code == 221);
        if !ok {
            self.find(Finding::QuitUnanswered);
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
