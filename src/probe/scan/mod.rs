//! The capability scan: what the server really accepts, measured with ClientHellos
//! of our own after STARTTLS, independent of rustls.
//!
//! Complete within a small budget (30 connections by default) because each connection
//! is used well: one offer of everything per version, then "offer what is left, remove
//! what the server chose" until it refuses. TLS 1.3 suites and groups come first (a
//! reservation keeps the older versions from eating their share); for TLS 1.2 and older,
//! the suites that matter for the verdict (the sender's overlap, the weakest families the
//! server accepts, its preference) come before the exhaustive rest.
//!
//! Polite by adapting: opt-in; at most two connections at once and no pause while the
//! server answers promptly; one at a time with a growing pause after a 421, a reset or a
//! slow SMTP dialogue; a stop at a tarpit, a server gone silent, or a 421 that persists.

pub mod codec;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::{join, join_all};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::codec::{Answer, Extras, Offer, Shape};
use super::{ProbeConfig, ProbeTarget, session};
use crate::model::Failure;
pub use crate::model::scan::{FollowUp, Refusal, Scan, SenderHello, VersionScan};
use crate::model::tls::{ANON_SUITES, CipherSuite, LEGACY_SUITES, NamedGroup, TLS13_SUITES, TlsVersion};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// The first pause once the scan backs off (it doubles each time, up to 2 s); while
    /// the server answers promptly there is none.
    pub delay: Duration,
    /// Most connections one scan of one address may open.
    pub max_connections: usize,
    /// Connections at once while the server answers promptly (one once it backs off).
    pub concurrency: usize,
    /// The sender's suites, when known: the server's choice among them is asked for
    /// outright, as the verdict needs that overlap more than an exhaustive list.
    pub sender_suites: Vec<CipherSuite>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(200),
            max_connections: 30 - SENDER_HELLOS,
            concurrency: 2,
            sender_suites: Vec::new(),
        }
    }
}

/// The groups the scan asks about in TLS 1.3, offered together, the chosen one removed.
const GROUPS: [NamedGroup; 7] = [
    NamedGroup::X25519,
    NamedGroup::SECP256R1,
    NamedGroup::SECP384R1,
    NamedGroup::SECP521R1,
    NamedGroup(0x001e),
    NamedGroup::FFDHE2048,
    NamedGroup(codec::X25519MLKEM768),
];

/// Connecting, greeting, EHLO and STARTTLS slower than this: the server is busy or
/// throttling, so the scan slows down.
const SLOW_SETUP: Duration = Duration::from_secs(1);
/// The longest pause between two connections when backing off.
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// Timeouts after a ClientHello before the scan takes the server for silent and stops.
const SILENT_LIMIT: usize = 2;
/// Size of the padded ClientHello in the follow-up: what OpenSSL 3.5+ sends with its
/// X25519MLKEM768 share, past one TCP segment on many paths.
const LARGE_HELLO: usize = 1500;

/// Suites offered for SSLv3 to TLS 1.2: the known ones and the anonymous ones.
fn legacy_candidates() -> Vec<u16> {
    LEGACY_SUITES.iter().chain(ANON_SUITES).map(|(c, _)| *c).collect()
}

fn tls13_candidates() -> Vec<u16> {
    TLS13_SUITES.iter().map(|(c, _)| *c).collect()
}

fn candidates(version: TlsVersion) -> Vec<u16> {
    if version >= TlsVersion::TLS13 {
        tls13_candidates()
    } else {
        legacy_candidates()
    }
}

/// The outdated families a verdict cares about, weakest first: the floor probes ask
/// for each one alone, so the server's floor is known even when the budget cuts the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Anonymous,
    /// 3DES, RC4, NULL, EXPORT.
    Broken,
    StaticRsa,
    Cbc,
}

const FLOOR: [Family; 4] = [Family::Anonymous, Family::Broken, Family::StaticRsa, Family::Cbc];

fn family(suite: u16) -> Option<Family> {
    let name = CipherSuite(suite).name();
    if name.contains("_anon_") {
        Some(Family::Anonymous)
    } else if ["3DES", "RC4", "_NULL_", "EXPORT"].iter().any(|w| name.contains(w)) {
        Some(Family::Broken)
    } else if name.starts_with("TLS_RSA_") {
        Some(Family::StaticRsa)
    } else if name.contains("_CBC_") {
        Some(Family::Cbc)
    } else {
        None
    }
}

/// What one connection produced.
enum Attempt {
    Answered(Answer),
    Refused(Refusal),
    /// The server would not let us reach STARTTLS; `true` when it said 421 (try later).
    Throttled(String, bool),
    /// Not sent: the budget, a stop or the deadline.
    NotSent,
}

/// What one offer told, once throttling was dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Chosen {
        version: u16,
        suite: u16,
        group: Option<u16>,
    },
    Refused(Refusal),
    NotSent,
}

/// Whose connection it is: the TLS 1.3 work holds a reservation the rest may not touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Priority {
    Reserved,
    Shared,
}

struct Budget {
    used: usize,
    reserved: usize,
    max: usize,
}

#[derive(Default)]
struct Pace {
    pause: Option<Duration>,
    why: Option<String>,
    silent: usize,
    answered: usize,
}

struct Scanner<'a> {
    config: &'a ProbeConfig,
    target: &'a ProbeTarget,
    base_delay: Duration,
    budget: Mutex<Budget>,
    pace: Mutex<Pace>,
    stopped: Mutex<Option<String>>,
    slots: tokio::sync::Semaphore,
    /// Held for the whole connection while backing off: one at a time.
    gate: tokio::sync::Mutex<()>,
    released: tokio::sync::Notify,
}

/// A poisoned lock only means another offer panicked; its data is still a count.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a> Scanner<'a> {
    fn new(config: &'a ProbeConfig, target: &'a ProbeTarget, max: usize, concurrency: usize, delay: Duration) -> Self {
        Self {
            config,
            target,
            base_delay: delay,
            budget: Mutex::new(Budget {
                used: 0,
                reserved: 0,
                max,
            }),
            pace: Mutex::new(Pace::default()),
            stopped: Mutex::new(None),
            slots: tokio::sync::Semaphore::new(concurrency.max(1)),
            gate: tokio::sync::Mutex::new(()),
            released: tokio::sync::Notify::new(),
        }
    }

    fn sni(&self) -> Option<String> {
        Some(self.config.server_name(self.target).to_string())
    }

    fn connections(&self) -> usize {
        lock(&self.budget).used
    }

    fn stopped(&self) -> Option<String> {
        lock(&self.stopped).clone()
    }

    fn stop(&self, why: String) {
        lock(&self.stopped).get_or_insert(why);
    }

    fn reserve(&self, count: usize) {
        lock(&self.budget).reserved = count;
    }

    /// The reservation is over: whatever it kept goes to the rest of the scan.
    fn release(&self) {
        lock(&self.budget).reserved = 0;
        self.released.notify_waiters();
    }

    /// Connections the shared work may still open.
    fn available(&self) -> usize {
        let budget = lock(&self.budget);
        budget.max.saturating_sub(budget.used + budget.reserved)
    }

    fn back_off(&self, why: String) {
        let mut pace = lock(&self.pace);
        let pause = pace.pause.map_or(self.base_delay, |p| (p * 2).min(MAX_PAUSE));
        pace.pause = Some(pause);
        pace.why
            .get_or_insert(format!("slowed down to one connection at a time: {why}"));
    }

    /// Takes one connection from the budget, waiting for the reservation to end when
    /// only the reservation stands in the way; `None` when none is left.
    async fn take(&self, priority: Priority) -> Option<usize> {
        loop {
            let released = self.released.notified();
            {
                if lock(&self.stopped).is_some() {
                    return None;
                }
                if self.config.deadline.is_some_and(|d| Instant::now() >= d) {
                    self.stop("stopped: the check's overall deadline passed".into());
                    return None;
                }
                let mut budget = lock(&self.budget);
                let allowed = match priority {
                    Priority::Reserved => budget.used < budget.max,
                    Priority::Shared => budget.used + budget.reserved < budget.max,
                };
                if allowed {
                    if priority == Priority::Reserved {
                        budget.reserved = budget.reserved.saturating_sub(1);
                    }
                    budget.used += 1;
                    return Some(budget.used);
                }
                if budget.reserved == 0 || budget.used >= budget.max {
                    return None;
                }
            }
            released.await;
        }
    }

    async fn attempt(&self, offer: &Offer, extras: &Extras, priority: Priority) -> Attempt {
        let Some(number) = self.take(priority).await else {
            return Attempt::NotSent;
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return Attempt::NotSent;
        };
        let pause = lock(&self.pace).pause;
        let _gate = match pause {
            Some(pause) => {
                let gate = self.gate.lock().await;
                tokio::time::sleep(pause).await;
                Some(gate)
            }
            None => None,
        };
        if lock(&self.stopped).is_some() {
            lock(&self.budget).used -= 1;
            return Attempt::NotSent;
        }
        let started = Instant::now();
        let mut stream = match session::starttls_stream(self.config, self.target).await {
            Ok(stream) => stream,
            Err((_, failure)) => {
                return match failure {
                    Failure::GreetingRejected { reply } | Failure::StartTlsRejected { reply } => {
                        Attempt::Throttled(reply.one_line(), reply.code == 421)
                    }
                    Failure::GreetingTimeout { .. } => {
                        Attempt::Throttled("greeting timed out: a tarpit?".into(), false)
                    }
                    other => Attempt::Throttled(other.summary(), false),
                };
            }
        };
        let setup = started.elapsed();
        if setup > SLOW_SETUP {
            self.back_off(format!(
                "the SMTP dialogue up to STARTTLS took {} ms",
                setup.as_millis()
            ));
        }
        let random: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(number as u8));
        let hello = codec::client_hello_with(offer, extras, &random);
        let outcome = exchange(self.config, &mut stream, &hello).await;
        let _ = stream.shutdown().await;
        match &outcome {
            Attempt::Refused(Refusal::Reset) => self.back_off("a connection was reset".into()),
            Attempt::Refused(Refusal::Timeout) => {
                let silent = {
                    let mut pace = lock(&self.pace);
                    pace.silent += 1;
                    pace.silent
                };
                if silent >= SILENT_LIMIT {
                    self.stop(format!(
                        "stopped: the server went silent after {silent} ClientHellos (no answer within the TLS timeout)"
                    ));
                }
            }
            Attempt::Answered(_) => lock(&self.pace).answered += 1,
            _ => {}
        }
        outcome
    }

    /// One offer; a 421 after the server has answered before is retried once after a
    /// pause, anything else that keeps us from TLS stops the scan.
    async fn offer(&self, offer: &Offer, extras: &Extras, priority: Priority) -> Outcome {
        for retry in [false, true] {
            match self.attempt(offer, extras, priority).await {
                Attempt::Throttled(reason, temporary) => {
                    let answered = lock(&self.pace).answered > 0;
                    if temporary && answered && !retry {
                        self.back_off(reason);
                        continue;
                    }
                    self.stop(format!("stopped: the server did not let the scan reach TLS ({reason})"));
                    return Outcome::NotSent;
                }
                Attempt::NotSent => return Outcome::NotSent,
                Attempt::Refused(refusal) => return Outcome::Refused(refusal),
                Attempt::Answered(answer) => return outcome_of(answer),
            }
        }
        Outcome::NotSent
    }

    /// The plain probe offer: `suites` at `version`, all groups, with SNI.
    async fn simple(&self, version: u16, suites: Vec<u16>, priority: Priority) -> Outcome {
        let offer = Offer {
            version,
            suites,
            groups: GROUPS.iter().map(|g| g.0).collect(),
            sni: self.sni(),
        };
        self.offer(&offer, &Extras::default(), priority).await
    }

    /// The TLS 1.3 suites after the first, whether the server imposes its order, then
    /// the groups after the first: all under the reservation.
    async fn tls13(&self, first_suite: u16, first_group: Option<u16>) -> Tls13Found {
        let mut found = Tls13Found {
            suites: vec![first_suite],
            groups: first_group.into_iter().collect(),
            ..Tls13Found::default()
        };
        let mut remaining: Vec<u16> = tls13_candidates().into_iter().filter(|s| *s != first_suite).collect();
        while !remaining.is_empty() {
            match self.simple(codec::TLS13, remaining.clone(), Priority::Reserved).await {
                Outcome::Chosen { suite, .. } if remaining.contains(&suite) => {
                    found.suites.push(suite);
                    remaining.retain(|s| *s != suite);
                }
                Outcome::NotSent => {
                    found.cut.push(format!(
                        "TLSv1.3: {} suites found before the budget ran out",
                        found.suites.len()
                    ));
                    break;
                }
                _ => break,
            }
        }
        // The accepted suites in reverse: a server that still picks its first choice
        // imposes its own order.
        if found.suites.len() > 1 {
            let reversed: Vec<u16> = found.suites.iter().rev().copied().collect();
            if let Outcome::Chosen { suite, .. } = self.simple(codec::TLS13, reversed, Priority::Reserved).await {
                found.server_order = Some(suite == found.suites[0]);
            }
        }
        let mut remaining: Vec<u16> = GROUPS
            .iter()
            .map(|g| g.0)
            .filter(|g| !found.groups.contains(g))
            .collect();
        while !remaining.is_empty() {
            let offer = Offer {
                version: codec::TLS13,
                suites: tls13_candidates(),
                groups: remaining.clone(),
                sni: self.sni(),
            };
            match self.offer(&offer, &Extras::default(), Priority::Reserved).await {
                Outcome::Chosen { group: Some(g), .. } if remaining.contains(&g) => {
                    found.groups.push(g);
                    remaining.retain(|x| *x != g);
                }
                Outcome::NotSent => {
                    found.cut.push(format!(
                        "TLS 1.3 groups: {} found before the budget ran out",
                        found.groups.len()
                    ));
                    break;
                }
                _ => break,
            }
        }
        self.release();
        found
    }

    /// Suites of the accepted versions older than TLS 1.3, newest first: the sender's
    /// overlap, the floor families, the order, then the rest while the budget lasts.
    async fn legacy(&self, versions: Vec<(TlsVersion, u16)>, sender: &[u16]) -> Vec<LegacyFound> {
        let mut results = Vec::new();
        // A family refused at a newer version is refused at the older ones too: cipher
        // lists (OpenSSL's, Postfix's) do not depend on the version.
        let mut refused: Vec<Family> = Vec::new();
        let count = versions.len();
        for (index, (version, first)) in versions.into_iter().enumerate() {
            let all = candidates(version);
            let mut found = LegacyFound {
                version,
                suites: vec![first],
                server_order: None,
                cut: None,
            };
            let mut extra: Vec<u16> = Vec::new();
            let mut excluded: Vec<Family> = Vec::new();
            let known = |found: &LegacyFound, extra: &[u16], s: u16| found.suites.contains(&s) || extra.contains(&s);
            let overlap: Vec<u16> = all
                .iter()
                .copied()
                .filter(|s| sender.contains(s) && !known(&found, &extra, *s))
                .collect();
            if !overlap.is_empty()
                && let Outcome::Chosen { suite, .. } = self.simple(version.0, overlap.clone(), Priority::Shared).await
                && overlap.contains(&suite)
            {
                extra.push(suite);
            }
            for floor in FLOOR {
                if found.suites.iter().chain(&extra).any(|s| family(*s) == Some(floor)) {
                    continue;
                }
                if refused.contains(&floor) {
                    excluded.push(floor);
                    continue;
                }
                let list: Vec<u16> = all
                    .iter()
                    .copied()
                    .filter(|s| family(*s) == Some(floor) && !known(&found, &extra, *s))
                    .collect();
                if list.is_empty() {
                    continue;
                }
                match self.simple(version.0, list.clone(), Priority::Shared).await {
                    Outcome::Chosen { suite, .. } if list.contains(&suite) => extra.push(suite),
                    Outcome::Refused(_) => {
                        excluded.push(floor);
                        refused.push(floor);
                    }
                    _ => {}
                }
            }
            // The server's order: a suite it accepts that came before its first choice
            // in our full list already proves it; otherwise offer two the other way round.
            let position = |s: u16| all.iter().position(|x| *x == s).unwrap_or(usize::MAX);
            if let Some(&second) = extra.first() {
                if position(second) < position(first) {
                    found.server_order = Some(true);
                } else if let Outcome::Chosen { suite, .. } =
                    self.simple(version.0, vec![second, first], Priority::Shared).await
                {
                    found.server_order = Some(suite == first);
                }
            }
            // The rest, leaving a few connections for each older version still to come.
            let keep = 3 * (count - index - 1);
            let mut remaining: Vec<u16> = all
                .iter()
                .copied()
                .filter(|s| !known(&found, &extra, *s) && !family(*s).is_some_and(|f| excluded.contains(&f)))
                .collect();
            let mut complete = remaining.is_empty();
            while !remaining.is_empty() && self.available() > keep {
                match self.simple(version.0, remaining.clone(), Priority::Shared).await {
                    Outcome::Chosen {
                        version: got, suite, ..
                    } if got == version.0 && remaining.contains(&suite) => {
                        found.suites.push(suite);
                        remaining.retain(|s| *s != suite);
                        complete = remaining.is_empty();
                    }
                    Outcome::NotSent => break,
                    _ => {
                        complete = true;
                        break;
                    }
                }
            }
            for suite in extra {
                if !found.suites.contains(&suite) {
                    found.suites.push(suite);
                }
            }
            if !complete && self.stopped().is_none() {
                found.cut = Some(format!(
                    "{version}: {} suites found; the connection budget left {} others untried",
                    found.suites.len(),
                    remaining.len()
                ));
            }
            results.push(found);
        }
        results
    }
}

#[derive(Default)]
struct Tls13Found {
    suites: Vec<u16>,
    server_order: Option<bool>,
    groups: Vec<u16>,
    cut: Vec<String>,
}

struct LegacyFound {
    version: TlsVersion,
    suites: Vec<u16>,
    server_order: Option<bool>,
    cut: Option<String>,
}

fn outcome_of(answer: Answer) -> Outcome {
    match answer {
        Answer::Hello { version, suite, group } => Outcome::Chosen { version, suite, group },
        Answer::RetryRequest { suite, group } => Outcome::Chosen {
            version: codec::TLS13,
            suite,
            group,
        },
        Answer::Alert { description, .. } => Outcome::Refused(Refusal::Alert {
            code: description,
            name: super::tls::alert_name(description).unwrap_or("unknown").to_string(),
        }),
        Answer::Plaintext(_) => Outcome::Refused(Refusal::Plaintext),
        Answer::Garbage(_) => Outcome::Refused(Refusal::Garbage),
        Answer::Broken(detail) => Outcome::Refused(Refusal::Broken { detail }),
    }
}

/// Sends the ClientHello and reads the server's first flight, within the TLS timeout.
async fn exchange(config: &ProbeConfig, stream: &mut tokio::net::TcpStream, hello: &[u8]) -> Attempt {
    let limit = config.wait(config.timeouts.tls);
    if tokio::time::timeout(limit, stream.write_all(hello)).await.is_err() {
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
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or(Attempt::Refused(Refusal::Timeout))
}

/// Scans one address: each version, the suites per version with the server's order,
/// and the TLS 1.3 groups, within `settings.max_connections`.
pub async fn scan(config: &ProbeConfig, target: &ProbeTarget, settings: &ScanSettings) -> Scan {
    let scanner = Scanner::new(
        config,
        target,
        settings.max_connections,
        settings.concurrency,
        settings.delay,
    );
    let newest_first: Vec<TlsVersion> = TlsVersion::ALL.iter().rev().copied().collect();
    // The first offer alone: a server that refuses us at once sees one connection.
    let mut answers = Vec::new();
    if let Some((&newest, rest)) = newest_first.split_first() {
        let first = scanner.simple(newest.0, candidates(newest), Priority::Shared).await;
        answers.push((newest, first));
        let others = join_all(
            rest.iter()
                .map(|v| async { (*v, scanner.simple(v.0, candidates(*v), Priority::Shared).await) }),
        )
        .await;
        answers.extend(others);
    }
    let mut versions: Vec<VersionScan> = Vec::new();
    let mut tls13_first = None;
    let mut legacy_first = Vec::new();
    for (version, outcome) in answers {
        let mut scan = VersionScan {
            version,
            accepted: false,
            refusal: None,
            suites: Vec::new(),
            server_order: None,
        };
        match outcome {
            Outcome::Chosen {
                version: got,
                suite,
                group,
            } if got == version.0 => {
                scan.accepted = true;
                scan.suites.push(CipherSuite(suite));
                if version == TlsVersion::TLS13 {
                    tls13_first = Some((suite, group));
                } else {
                    legacy_first.push((version, suite));
                }
            }
            Outcome::Chosen { version: got, .. } => {
                scan.refusal = Some(Refusal::OtherVersion {
                    version: TlsVersion(got),
                });
            }
            Outcome::Refused(refusal) => scan.refusal = Some(refusal),
            // Never offered: not listed, as nothing was refused.
            Outcome::NotSent => continue,
        }
        versions.push(scan);
    }
    // What the TLS 1.3 follow-ups may need at most: the other suites, the order, the other groups.
    if tls13_first.is_some() {
        scanner.reserve(TLS13_SUITES.len() + GROUPS.len() - 1);
    }
    let sender: Vec<u16> = settings.sender_suites.iter().map(|s| s.0).collect();
    let tls13 = async {
        match tls13_first {
            Some((suite, group)) => Some(scanner.tls13(suite, group).await),
            None => None,
        }
    };
    let (tls13, legacy) = join(tls13, scanner.legacy(legacy_first, &sender)).await;
    let mut truncated = Vec::new();
    let mut groups = Vec::new();
    if let Some(found) = tls13
        && let Some(scan) = versions.iter_mut().find(|v| v.version == TlsVersion::TLS13)
    {
        scan.suites = found.suites.into_iter().map(CipherSuite).collect();
        scan.server_order = found.server_order;
        groups = found.groups.into_iter().map(NamedGroup).collect();
        truncated.extend(found.cut);
    }
    for found in legacy {
        if let Some(scan) = versions.iter_mut().find(|v| v.version == found.version) {
            scan.suites = found.suites.into_iter().map(CipherSuite).collect();
            scan.server_order = found.server_order;
        }
        truncated.extend(found.cut);
    }
    versions.sort_by_key(|v| v.version);
    let pace = lock(&scanner.pace).why.clone();
    let stopped = scanner.stopped();
    let mut connections = scanner.connections();
    let mut senders = Vec::new();
    if stopped.is_none() && versions.iter().any(|v| v.accepted) {
        let (hellos, used) = sender_hellos(config, target, settings.delay).await;
        senders = hellos;
        connections += used;
    }
    Scan {
        versions,
        groups,
        connections,
        stopped,
        truncated,
        paced: pace,
        senders,
    }
}

/// Connections kept for the named senders' own hellos, out of the scan's 30.
pub const SENDER_HELLOS: usize = codec::Shape::ALL.len();

/// Sends each named sender's ClientHello as that stack would (size, suites, groups, key
/// shares): a path that drops the 1.5 KB post-quantum hello while taking the others
/// shows here, by sender.
async fn sender_hellos(config: &ProbeConfig, target: &ProbeTarget, delay: Duration) -> (Vec<SenderHello>, usize) {
    let scanner = Scanner::new(config, target, SENDER_HELLOS, 2, delay);
    let tries = codec::Shape::ALL.map(|shape| {
        let scanner = &scanner;
        async move {
            let (offer, extras) = shape.offer(scanner.sni());
            let bytes = codec::client_hello_with(&offer, &extras, &[0; 32]).len();
            let outcome = scanner.offer(&offer, &extras, Priority::Shared).await;
            match outcome {
                Outcome::NotSent => None,
                Outcome::Chosen { .. } => Some(SenderHello {
                    sender: shape.name().to_string(),
                    bytes,
                    accepted: true,
                    refusal: None,
                }),
                Outcome::Refused(refusal) => Some(SenderHello {
                    sender: shape.name().to_string(),
                    bytes,
                    accepted: false,
                    refusal: Some(refusal),
                }),
            }
        }
    });
    let hellos = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .flatten()
        .collect();
    (hellos, scanner.connections())
}

/// Most connections the follow-up on a failed handshake may open.
pub const FOLLOW_UP_CONNECTIONS: usize = 8;

/// What the follow-up has seen so far.
impl FollowUp {
    fn empty() -> Self {
        Self {
            any_handshake: false,
            versions: Vec::new(),
            suites: Vec::new(),
            only_legacy_versions: false,
            only_legacy_suites: false,
            only_anonymous: false,
            sni_dependent: None,
            large_hello_refused: None,
            large_hello_senders: Vec::new(),
            groups: Vec::new(),
            plaintext_answer: false,
            refusal: None,
            connections: 0,
            stopped: None,
        }
    }

    /// Notes an offer's outcome; `Some(suite)` when the server chose one.
    fn note(&mut self, outcome: &Outcome) -> Option<u16> {
        match outcome {
            Outcome::Chosen { version, suite, group } => {
                self.any_handshake = true;
                let version = TlsVersion(*version);
                if !self.versions.contains(&version) {
                    self.versions.push(version);
                    self.versions.sort();
                }
                if !self.suites.contains(&CipherSuite(*suite)) {
                    self.suites.push(CipherSuite(*suite));
                }
                if let Some(group) = group.filter(|_| version == TlsVersion::TLS13).map(NamedGroup)
                    && !self.groups.contains(&group)
                {
                    self.groups.push(group);
                }
                Some(*suite)
            }
            Outcome::Refused(refusal) => {
                self.plaintext_answer |= *refusal == Refusal::Plaintext;
                self.refusal.get_or_insert_with(|| refusal.clone());
                None
            }
            Outcome::NotSent => None,
        }
    }
}

/// The follow-up on an address whose TLS handshake failed: at most
/// [`FOLLOW_UP_CONNECTIONS`] offers, one at a time, that tell what the server completes
/// at all, whether only with old versions, old or anonymous suites, whether it depends
/// on SNI or refuses large ClientHellos, and which TLS 1.3 groups it takes.
pub async fn follow_up(config: &ProbeConfig, target: &ProbeTarget) -> FollowUp {
    let scanner = Scanner::new(config, target, FOLLOW_UP_CONNECTIONS, 1, Duration::from_millis(200));
    let mut result = FollowUp::empty();
    let groups: Vec<u16> = GROUPS.iter().map(|g| g.0).collect();
    let mut broad = tls13_candidates();
    broad.extend(legacy_candidates());
    let offer = |version: u16, suites: Vec<u16>| Offer {
        version,
        suites,
        groups: groups.clone(),
        sni: scanner.sni(),
    };
    // Everything at once first; then TLS 1.2 and TLS 1.0 hellos without the TLS 1.3
    // extensions, for servers (and boxes) that choke on those.
    let tries = [
        (
            offer(codec::TLS13, broad),
            Extras {
                versions: vec![codec::TLS13, codec::TLS12, codec::TLS11, codec::TLS10],
                ..Extras::default()
            },
        ),
        (offer(codec::TLS12, legacy_candidates()), Extras::default()),
        (offer(codec::TLS10, legacy_candidates()), Extras::default()),
    ];
    let mut base = None;
    for (offer, extras) in &tries {
        let outcome = scanner.offer(offer, extras, Priority::Shared).await;
        if let Some(suite) = result.note(&outcome) {
            base = Some((offer.clone(), extras.clone(), suite));
            break;
        }
        if result.plaintext_answer || outcome == Outcome::NotSent {
            break;
        }
    }
    if let Some((offer, extras, mut suite)) = base {
        result.only_legacy_versions = result.versions.iter().all(|v| *v < TlsVersion::TLS12);
        let modern = |s: u16| CipherSuite(s).is_modern();
        if family(suite) == Some(Family::Anonymous) {
            let named: Vec<u16> = offer
                .suites
                .iter()
                .copied()
                .filter(|s| family(*s) != Some(Family::Anonymous))
                .collect();
            let outcome = scanner
                .offer(
                    &Offer {
                        suites: named,
                        ..offer.clone()
                    },
                    &extras,
                    Priority::Shared,
                )
                .await;
            match result.note(&outcome) {
                Some(other) => suite = other,
                None => result.only_anonymous = matches!(outcome, Outcome::Refused(_)),
            }
        }
        if !modern(suite) && !result.only_anonymous {
            let strong: Vec<u16> = offer.suites.iter().copied().filter(|s| modern(*s)).collect();
            let outcome = scanner
                .offer(
                    &Offer {
                        suites: strong,
                        ..offer.clone()
                    },
                    &extras,
                    Priority::Shared,
                )
                .await;
            if result.note(&outcome).is_none() {
                result.only_legacy_suites = matches!(outcome, Outcome::Refused(_));
            }
        }
        result.only_legacy_suites |= result.only_anonymous;
        let without_sni = Offer {
            sni: None,
            ..offer.clone()
        };
        let outcome = scanner.offer(&without_sni, &extras, Priority::Shared).await;
        result.sni_dependent = match result.note(&outcome) {
            Some(_) => Some(false),
            None => matches!(outcome, Outcome::Refused(_)).then_some(true),
        };
        // The same offer as large as OpenSSL 3.5's hello with its ML-KEM share.
        let large = Shape::OpenSsl35Pq.hello(scanner.sni(), &[0; 32]).len() - 5;
        let padded = Extras {
            pad_to: Some(large.max(LARGE_HELLO)),
            ..extras.clone()
        };
        let outcome = scanner.offer(&offer, &padded, Priority::Shared).await;
        result.large_hello_refused = match result.note(&outcome) {
            Some(_) => Some(false),
            None => matches!(outcome, Outcome::Refused(_)).then_some(true),
        };
        if result.large_hello_refused == Some(true) {
            result.large_hello_senders = Shape::ALL
                .iter()
                .filter(|s| s.hello(scanner.sni(), &[0; 32]).len() - 5 >= large)
                .map(|s| s.name().to_string())
                .collect();
        }
        // The remaining connections ask for more TLS 1.3 groups.
        while result.versions.contains(&TlsVersion::TLS13) && scanner.available() > 0 {
            let remaining: Vec<u16> = groups
                .iter()
                .copied()
                .filter(|g| !result.groups.contains(&NamedGroup(*g)))
                .collect();
            if remaining.is_empty() {
                break;
            }
            let outcome = scanner
                .offer(
                    &Offer {
                        version: codec::TLS13,
                        suites: tls13_candidates(),
                        groups: remaining.clone(),
                        sni: scanner.sni(),
                    },
                    &Extras::default(),
                    Priority::Shared,
                )
                .await;
            let before = result.groups.len();
            result.note(&outcome);
            if result.groups.len() == before {
                break;
            }
        }
    } else if !result.plaintext_answer && scanner.stopped().is_none() {
        // Nothing passed with our SNI: perhaps it passes without (a name the server
        // refuses, or a box that filters on it).
        let (offer, extras) = &tries[0];
        let outcome = scanner
            .offer(
                &Offer {
                    sni: None,
                    ..offer.clone()
                },
                extras,
                Priority::Shared,
            )
            .await;
        result.sni_dependent = match result.note(&outcome) {
            Some(_) => Some(true),
            None => matches!(outcome, Outcome::Refused(_)).then_some(false),
        };
        if result.any_handshake {
            result.only_legacy_versions = result.versions.iter().all(|v| *v < TlsVersion::TLS12);
        }
    }
    result.connections = scanner.connections();
    result.stopped = scanner.stopped();
    result
}
