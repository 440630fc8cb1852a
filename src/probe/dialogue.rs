//! The SMTP/STARTTLS dialogue as a state machine that only sees bytes.
//!
//! Named after what it expects next, as rustls names its handshake states: greeting →
//! EHLO reply → STARTTLS reply → handshake → EHLO reply inside TLS → QUIT reply. The
//! driver ([`super::session`]) owns the socket, the timeouts and the transcript; it feeds
//! what it reads into [`Dialogue::receive`] and asks [`Dialogue::poll`] what to do next.
//!
//! The machine also keeps replies matched to commands: bytes that are already waiting
//! when a command is due were not sent in answer to it (the server does not wait for
//! commands, a proxy replays, or someone injects), so they are discarded and reported
//! instead of being read as the next command's reply.

use super::lines::{Line, MAX_LINE};
use super::reply::{RFC_REPLY_LINE_LIMIT, ReplyError, ReplyParser, masked_starttls, parse_capabilities};
use crate::model::{Capabilities, Failure, Finding, Reply, Stage};
use crate::text::SafeText;

/// A command the client sends; the driver adds CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    StartTls,
    Quit,
}

impl Command {
    pub fn line(&self) -> String {
        match self {
            Command::Ehlo(name) => format!("EHLO {name}"),
            Command::StartTls => "STARTTLS".to_string(),
            Command::Quit => "QUIT".to_string(),
        }
    }
}

/// What the driver does next.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Read more bytes (with the timeout of [`Dialogue::stage`]).
    Read,
    /// A server line was consumed; record it.
    Line(Line),
    /// Bytes that arrived before a command was sent were dropped (and reported as a
    /// finding); they are handed over for the transcript.
    Discarded { before: Stage, bytes: Vec<u8> },
    /// Write this command, unless more bytes have arrived meanwhile (then [`Dialogue::receive`]
    /// them and poll again); confirm with [`Dialogue::sent`].
    Send(Command),
    /// Start the TLS handshake on the raw stream now; `leftover` bytes that came after the
    /// `220` were dropped (never fed to TLS) and reported.
    Handshake { leftover: usize },
    /// The dialogue is over.
    End(Result<(), Failure>),
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    ExpectGreeting {
        tls: bool,
    },
    ExpectEhlo {
        tls: bool,
    },
    ExpectStartTlsReady,
    Handshaking,
    ExpectQuitReply,
    /// A command is due; it goes out once nothing unread is waiting.
    Due(Command),
    Ended,
}

/// What the dialogue learnt, for the probe result.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Facts {
    pub greeting: Option<Reply>,
    pub capabilities: Option<Capabilities>,
    pub capabilities_tls: Option<Capabilities>,
    pub findings: Vec<Finding>,
}

#[derive(Debug)]
pub struct Dialogue {
    state: State,
    stage: Stage,
    ehlo_name: String,
    buffer: Vec<u8>,
    parser: ReplyParser,
    /// Lines of the reply being read, for the evidence when it never completes.
    partial_lines: Vec<Vec<u8>>,
    /// What the session ends with once QUIT is answered.
    after_quit: Option<Result<(), Failure>>,
    facts: Facts,
}

impl Dialogue {
    /// A dialogue over a fresh connection; with `implicit_tls` the handshake comes first
    /// and the greeting inside it (port 465).
    pub fn new(ehlo_name: &str, implicit_tls: bool) -> Self {
        let (state, stage) = if implicit_tls {
            (State::Handshaking, Stage::TlsHandshake)
        } else {
            (State::ExpectGreeting { tls: false }, Stage::Greeting)
        };
        Self {
            state,
            stage,
            ehlo_name: ehlo_name.to_string(),
            buffer: Vec::new(),
            parser: ReplyParser::default(),
            partial_lines: Vec::new(),
            after_quit: None,
            facts: Facts::default(),
        }
    }

    /// The stage the session is in (the one a timeout or a close is charged to).
    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    pub fn into_facts(self) -> Facts {
        self.facts
    }

    /// Bytes read from the peer.
    pub fn receive(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// What came of a reply that never completed: its lines so far and any bytes without
    /// a line end (a greeting that drips in, a proxy that stalls mid-line).
    pub fn partial(&self) -> Option<SafeText> {
        let mut bytes = self.partial_lines.join(&b"\n"[..]);
        if !self.buffer.is_empty() {
            if !bytes.is_empty() {
                bytes.push(b'\n');
            }
            bytes.extend_from_slice(&self.buffer[..self.buffer.len().min(256)]);
        }
        (!bytes.is_empty()).then(|| SafeText::from_peer(&bytes))
    }

    /// The driver wrote the command [`Next::Send`] asked for.
    pub fn sent(&mut self) {
        if let State::Due(command) = &self.state {
            self.state = match command {
                Command::Ehlo(_) => State::ExpectEhlo {
                    tls: self.stage == Stage::TlsEhlo,
                },
                Command::StartTls => State::ExpectStartTlsReady,
                Command::Quit => State::ExpectQuitReply,
            };
        }
    }

    /// The TLS handshake completed: inside TLS, the greeting (implicit TLS) or our EHLO comes next.
    pub fn tls_established(&mut self) {
        if self.state == State::Handshaking {
            self.buffer.clear();
            if self.facts.greeting.is_none() {
                self.stage = Stage::Greeting;
                self.state = State::ExpectGreeting { tls: true };
            } else {
                self.stage = Stage::TlsEhlo;
                self.state = State::Due(Command::Ehlo(self.ehlo_name.clone()));
            }
        }
    }

    /// No complete reply within the stage's time limit. A greeting that never completed
    /// keeps what did arrive; a QUIT that goes unanswered is only noted.
    pub fn timed_out(&mut self, after_ms: u64) -> Result<(), Failure> {
        let failure = match self.state {
            State::ExpectGreeting { .. } => Failure::GreetingTimeout {
                after_ms,
                partial: self.partial(),
            },
            _ => Failure::ReplyTimeout {
                stage: self.stage,
                after_ms,
            },
        };
        self.fail(failure)
    }

    /// The connection failed (closed, reset, I/O error): the session ends with `failure`,
    /// unless it was only the courtesy QUIT that went unanswered.
    pub fn fail(&mut self, failure: Failure) -> Result<(), Failure> {
        if self.state == State::ExpectQuitReply {
            self.find(Finding::QuitUnanswered);
        } else {
            self.after_quit = Some(Err(failure));
        }
        self.state = State::Ended;
        self.after_quit.clone().unwrap_or(Ok(()))
    }

    /// The next thing to do, given what has been received so far.
    pub fn poll(&mut self) -> Next {
        match &self.state {
            State::Ended => Next::End(self.after_quit.clone().unwrap_or(Ok(()))),
            State::Handshaking => {
                // RFC 3207 §4.1: nothing may come before the handshake; never feed it to TLS.
                let leftover = std::mem::take(&mut self.buffer).len();
                if leftover > 0 {
                    self.find(Finding::BytesAfterStartTlsReply { bytes: leftover as u64 });
                }
                Next::Handshake { leftover }
            }
            State::Due(command) => {
                if self.buffer.is_empty() {
                    return Next::Send(command.clone());
                }
                let before = match command {
                    Command::Quit => Stage::Quit,
                    _ => self.stage,
                };
                let bytes = std::mem::take(&mut self.buffer);
                self.find(Finding::UnsolicitedData {
                    before,
                    bytes: bytes.len() as u64,
                });
                Next::Discarded { before, bytes }
            }
            _ => self.next_line(),
        }
    }

    fn next_line(&mut self) -> Next {
        let Some(end) = self.buffer.iter().position(|&b| b == b'\n') else {
            if self.buffer.len() > MAX_LINE {
                let failure = Failure::LimitExceeded {
                    stage: self.stage,
                    limit: format!("reply line longer than {MAX_LINE} bytes"),
                };
                return Next::End(self.fail(failure));
            }
            return Next::Read;
        };
        let mut bytes: Vec<u8> = self.buffer.drain(..=end).collect();
        bytes.pop();
        let bare_lf = bytes.last() != Some(&b'\r');
        if !bare_lf {
            bytes.pop();
        }
        if bare_lf {
            self.find(Finding::BareLineFeed);
        }
        if bytes.len() + 2 > RFC_REPLY_LINE_LIMIT {
            self.find(Finding::LongReplyLine {
                octets: bytes.len() + 2,
            });
        }
        let line = Line { bytes, bare_lf };
        match self.parser.push_line(&line.bytes) {
            Ok(None) => {
                self.partial_lines.push(line.bytes.clone());
                Next::Line(line)
            }
            Ok(Some(reply)) => {
                self.partial_lines.clear();
                self.on_reply(reply);
                Next::Line(line)
            }
            Err(e) => {
                let stage = self.stage;
                let failure = match e {
                    ReplyError::TooManyLines => Failure::LimitExceeded {
                        stage,
                        limit: e.to_string(),
                    },
                    e => Failure::MalformedReply {
                        stage,
                        detail: e.to_string(),
                    },
                };
                let _ = self.fail(failure);
                Next::Line(line)
            }
        }
    }

    /// Decides what a complete reply means in the current state.
    fn on_reply(&mut self, reply: Reply) {
        match std::mem::replace(&mut self.state, State::Ended) {
            State::ExpectGreeting { tls } => {
                self.facts.greeting = Some(reply.clone());
                if reply.code == 220 {
                    self.stage = if tls { Stage::TlsEhlo } else { Stage::Ehlo };
                    self.state = State::Due(Command::Ehlo(self.ehlo_name.clone()));
                } else {
                    self.quit_then(Err(Failure::GreetingRejected { reply }));
                }
            }
            State::ExpectEhlo { tls: false } => self.on_ehlo(reply),
            State::ExpectEhlo { tls: true } => {
                if reply.code != 250 {
                    self.after_quit = Some(Err(Failure::TlsEhloRejected { reply }));
                    return;
                }
                let caps = self.capabilities(&reply);
                if caps.has("STARTTLS") {
                    self.find(Finding::StartTlsAdvertisedInTls);
                }
                self.facts.capabilities_tls = Some(caps);
                self.stage = Stage::Quit;
                self.quit_then(Ok(()));
            }
            State::ExpectStartTlsReady => {
                if reply.code == 220 {
                    self.stage = Stage::TlsHandshake;
                    self.state = State::Handshaking;
                } else {
                    self.quit_then(Err(Failure::StartTlsRejected { reply }));
                }
            }
            State::ExpectQuitReply => {
                if reply.code != 221 {
                    self.find(Finding::QuitUnanswered);
                }
            }
            State::Due(_) | State::Handshaking | State::Ended => {}
        }
    }

    fn on_ehlo(&mut self, reply: Reply) {
        if reply.code != 250 {
            return self.quit_then(Err(Failure::EhloRejected { reply }));
        }
        let caps = self.capabilities(&reply);
        let failure = if caps.has("STARTTLS") {
            None
        } else if let Some(keyword) = masked_starttls(&caps) {
            Some(Failure::StartTlsMasked {
                keyword: SafeText::from_peer_str(keyword),
            })
        } else {
            Some(Failure::StartTlsNotOffered {
                keywords: caps.keywords.iter().map(|(k, _)| k.clone()).collect(),
            })
        };
        self.facts.capabilities = Some(caps);
        match failure {
            Some(failure) => self.quit_then(Err(failure)),
            None => {
                self.stage = Stage::StartTls;
                self.state = State::Due(Command::StartTls);
            }
        }
    }

    fn capabilities(&mut self, reply: &Reply) -> Capabilities {
        let (caps, suspicious) = parse_capabilities(reply);
        if let Some(line) = suspicious {
            self.find(Finding::KeywordOnEhloFirstLine { line });
        }
        caps
    }

    /// Ends politely: QUIT, then the session ends with `outcome` whatever the reply.
    fn quit_then(&mut self, outcome: Result<(), Failure>) {
        self.after_quit = Some(outcome);
        self.state = State::Due(Command::Quit);
    }

    fn find(&mut self, finding: Finding) {
        if !self.facts.findings.contains(&finding) {
            self.facts.findings.push(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls until the machine wants bytes, a command or the handshake; returns the
    /// lines it consumed and where it stopped.
    fn run(d: &mut Dialogue) -> (Vec<String>, Next) {
        let mut lines = Vec::new();
        loop {
            match d.poll() {
                Next::Line(line) => lines.push(String::from_utf8_lossy(&line.bytes).into_owned()),
                other => return (lines, other),
            }
        }
    }

    fn ehlo() -> Next {
        Next::Send(Command::Ehlo("client.test".into()))
    }

    #[test]
    fn rfc3207_healthy_dialogue_walks_every_state() {
        let mut d = Dialogue::new("client.test", false);
        assert_eq!(d.poll(), Next::Read);
        d.receive(b"220 mx ESMTP\r\n");
        assert_eq!(run(&mut d).1, ehlo());
        d.sent();
        d.receive(b"250-mx\r\n250-PIPELINING\r\n");
        assert_eq!(
            run(&mut d).1,
            Next::Read,
            "a multiline reply is not complete before its last line"
        );
        d.receive(b"250 STARTTLS\r\n");
        assert_eq!(run(&mut d).1, Next::Send(Command::StartTls));
        d.sent();
        d.receive(b"220 2.0.0 Ready\r\n");
        assert_eq!(run(&mut d).1, Next::Handshake { leftover: 0 });
        d.tls_established();
        assert_eq!(d.stage(), Stage::TlsEhlo);
        assert_eq!(run(&mut d).1, ehlo());
        d.sent();
        d.receive(b"250-mx\r\n250 8BITMIME\r\n");
        assert_eq!(run(&mut d).1, Next::Send(Command::Quit));
        d.sent();
        d.receive(b"221 bye\r\n");
        assert_eq!(run(&mut d).1, Next::End(Ok(())));
        assert!(d.facts().findings.is_empty(), "{:?}", d.facts().findings);
        assert!(d.facts().capabilities.as_ref().is_some_and(|c| c.has("STARTTLS")));
        assert!(d.facts().capabilities_tls.as_ref().is_some_and(|c| c.has("8BITMIME")));
    }

    #[test]
    fn replies_sent_before_our_ehlo_are_discarded_not_matched_to_it() {
        let mut d = Dialogue::new("client.test", false);
        d.receive(b"220 mx ESMTP\r\n250-mx\r\n250 STARTTLS\r\n");
        let (lines, next) = run(&mut d);
        assert_eq!(lines, ["220 mx ESMTP"]);
        let Next::Discarded { before, bytes } = next else {
            panic!("expected the unsolicited lines to be discarded, got {next:?}");
        };
        assert_eq!((before, bytes.len()), (Stage::Ehlo, 22));
        assert_eq!(
            d.facts().findings,
            [Finding::UnsolicitedData {
                before: Stage::Ehlo,
                bytes: 22
            }]
        );
        // The real reply to EHLO is what decides: here it has no STARTTLS.
        assert_eq!(run(&mut d).1, ehlo());
        d.sent();
        d.receive(b"250 mx\r\n");
        assert_eq!(run(&mut d).1, Next::Send(Command::Quit));
        d.sent();
        d.receive(b"221 bye\r\n");
        assert!(matches!(
            run(&mut d).1,
            Next::End(Err(Failure::StartTlsNotOffered { .. }))
        ));
    }

    #[test]
    fn a_reply_queued_before_starttls_is_never_taken_for_its_answer() {
        let mut d = Dialogue::new("client.test", false);
        d.receive(b"220 mx\r\n");
        run(&mut d);
        d.sent();
        d.receive(b"250-mx\r\n250 STARTTLS\r\n454 4.7.0 not now\r\n");
        let (_, next) = run(&mut d);
        assert!(
            matches!(
                next,
                Next::Discarded {
                    before: Stage::StartTls,
                    ..
                }
            ),
            "{next:?}"
        );
        assert_eq!(run(&mut d).1, Next::Send(Command::StartTls));
        d.sent();
        d.receive(b"220 go\r\n");
        assert_eq!(run(&mut d).1, Next::Handshake { leftover: 0 });
    }

    #[test]
    fn rfc3207_bytes_after_the_220_are_never_fed_to_tls() {
        let mut d = Dialogue::new("client.test", false);
        d.receive(b"220 mx\r\n");
        run(&mut d);
        d.sent();
        d.receive(b"250-mx\r\n250 STARTTLS\r\n");
        run(&mut d);
        d.sent();
        d.receive(b"220 go\r\n250 injected\r\n");
        assert_eq!(run(&mut d).1, Next::Handshake { leftover: 14 });
        assert_eq!(d.facts().findings, [Finding::BytesAfterStartTlsReply { bytes: 14 }]);
    }

    #[test]
    fn refusals_end_with_a_polite_quit_and_keep_their_reply() {
        let mut d = Dialogue::new("client.test", false);
        d.receive(b"554 5.7.1 go away\r\n");
        assert_eq!(run(&mut d).1, Next::Send(Command::Quit));
        d.sent();
        assert_eq!(
            d.timed_out(5000).map_err(|f| f.summary()),
            Err("greeting rejected: 554 5.7.1 go away".into())
        );
        assert!(d.facts().findings.contains(&Finding::QuitUnanswered));
    }

    #[test]
    fn a_greeting_that_never_ends_its_line_is_kept_as_evidence() {
        let mut d = Dialogue::new("client.test", false);
        d.receive(b"220-mx first line\r\n220 mx still typ");
        assert_eq!(run(&mut d).1, Next::Read);
        let Err(Failure::GreetingTimeout { partial, .. }) = d.timed_out(60_000) else {
            panic!("expected a greeting timeout");
        };
        assert_eq!(
            partial.as_ref().map(SafeText::as_str),
            Some("220-mx first line\\x0a220 mx still typ")
        );
    }

    #[test]
    fn malformed_and_oversized_replies_end_the_session() {
        let mut d = Dialogue::new("client.test", false);
        d.receive(b"hello there\r\n");
        let (lines, next) = run(&mut d);
        assert_eq!(lines, ["hello there"]);
        assert!(matches!(
            next,
            Next::End(Err(Failure::MalformedReply {
                stage: Stage::Greeting,
                ..
            }))
        ));

        let mut d = Dialogue::new("client.test", false);
        d.receive(&vec![b'2'; MAX_LINE + 1]);
        assert!(matches!(d.poll(), Next::End(Err(Failure::LimitExceeded { .. }))));
    }

    #[test]
    fn implicit_tls_starts_with_the_handshake_and_greets_inside() {
        let mut d = Dialogue::new("client.test", true);
        assert_eq!(d.poll(), Next::Handshake { leftover: 0 });
        d.tls_established();
        assert_eq!(d.stage(), Stage::Greeting);
        d.receive(b"220 mx\r\n");
        assert_eq!(run(&mut d).1, ehlo());
        assert_eq!(d.stage(), Stage::TlsEhlo);
    }
}
