//! The interactive workbench. The runner here owns the terminal and the tasks;
//! [`app::App`] owns the state; [`view`] draws it.
//!
//! Input arrives from a reader thread, probe results from tokio tasks, signals
//! from a signal task, all as owned [`app::Event`]s on one bounded channel. The
//! screen is redrawn after each event only, with a spinner tick while probes run,
//! so an idle workbench uses no CPU.

pub mod app;
pub mod keymap;
pub mod view;
pub mod wording;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ratatui::crossterm::event::{self as term, DisableBracketedPaste, EnableBracketedPaste, KeyEventKind};
use ratatui::crossterm::execute;
use thiserror::Error;
use tokio::sync::mpsc;

use crate::cert::TrustStores;
use crate::engine::{self, Settings};
use crate::report::{self, Session, store};
use app::{App, Command, Event};

#[derive(Debug, Error)]
pub enum TuiError {
    #[error("the workbench needs a terminal; for scripts and pipes use `mxtriage check TARGET`")]
    NotATerminal,
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// How long the spinner waits between frames while probes run.
const TICK: Duration = Duration::from_millis(120);
/// Events waiting to be handled. Stage changes and transcript lines that find it full
/// are dropped (the probe's result carries them); results and keys wait for room.
const QUEUE: usize = 1024;
/// Most events applied between two frames, so the screen still moves during a flood.
const BURST: usize = 256;

/// Things the runner needs that the model must not touch (trust anchors not in a file).
#[derive(Default)]
pub struct Environment {
    /// Extra anchors that are not in a file (the in-process lab's CA).
    pub extra_anchors: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Where an export without a path goes (`report_dir` in the configuration file);
    /// `None`: the data directory.
    pub report_dir: Option<PathBuf>,
}

/// An anchor as the operator can recognise it: its subject and the start of its SHA-256
/// fingerprint (enough to tell it from another; the pane is 26 columns wide).
fn describe_anchor(der: &rustls::pki_types::CertificateDer<'static>) -> String {
    let stores = TrustStores::from_parts(Vec::new(), Vec::new());
    let report = crate::cert::analyze(
        std::slice::from_ref(der),
        "",
        &stores,
        rustls::pki_types::UnixTime::now(),
    );
    report.certificates.first().map_or_else(
        || "(unreadable)".to_string(),
        |c| {
            format!(
                "{}, SHA-256 {}…",
                c.subject.as_str(),
                c.sha256.get(..16).unwrap_or(&c.sha256)
            )
        },
    )
}

/// Runs the workbench until the operator quits; always restores the terminal.
///
/// After SIGTERM or SIGHUP the process exits here, once the terminal is restored and
/// the session saved, with status 128 + the signal's number, as a shell reports a job
/// ended by that signal: a supervisor or script can tell it from a normal quit.
pub async fn run(mut app: App, env: Environment, first: Vec<Command>) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    app.no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    app.ascii = !utf8_locale();
    app.vantage_host = crate::host::hostname();
    app.lab_ca = env.extra_anchors.first().map(describe_anchor);
    // ratatui::init installs a panic hook that restores the terminal first.
    let mut terminal = ratatui::init();
    if let Ok(size) = terminal.size() {
        app.viewport = (size.width, size.height);
    }
    let _ = execute!(std::io::stdout(), EnableBracketedPaste);
    let result = event_loop(&mut terminal, &mut app, env, first).await;
    let _ = execute!(std::io::stdout(), DisableBracketedPaste);
    ratatui::restore();
    if let Some(signal) = app.signal {
        std::process::exit(128 + signal);
    }
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    env: Environment,
    first: Vec<Command>,
) -> Result<(), TuiError> {
    let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
    spawn_input(tx.clone());
    spawn_signals(tx.clone());
    let (autosave_tx, autosave) = spawn_autosaver();
    let mut runner = Runner {
        tx: tx.clone(),
        env: Arc::new(env),
        current: None,
        autosave: autosave_tx,
        stores: StoreCache::default(),
        started: None,
    };
    for command in app.start_up().into_iter().chain(first) {
        runner.execute(command);
    }
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        if let Err(e) = terminal.draw(|frame| view::render(frame, app)) {
            break Err(e.into());
        }
        let event = if app.busy() {
            tokio::select! {
                event = rx.recv() => event,
                _ = tick.tick() => Some(Event::Tick(runner.started.map_or(Duration::ZERO, |at| at.elapsed()))),
            }
        } else {
            rx.recv().await
        };
        let Some(event) = event else {
            break Ok(());
        };
        // What else is already waiting is applied before the next frame: a burst of
        // engine events (a transcript line each) costs one draw, not one per line, and a
        // key pressed meanwhile is not queued behind them.
        let mut pending = Some(event);
        let mut applied = 0;
        while let Some(event) = pending.take() {
            for command in app.update(event) {
                runner.execute(command);
            }
            applied += 1;
            if app.quit || applied == BURST {
                break;
            }
            pending = rx.try_recv().ok();
        }
        if app.quit {
            break Ok(());
        }
    };
    if let Some(run) = runner.current.take() {
        run.abort();
    }
    // The last state is on disk before the terminal is handed back.
    drop(runner);
    let _ = autosave.await;
    result
}

/// Side effects of the model, with the handle of the run in flight so a new run
/// cancels the old one (its connections must not add to the per-address cap).
struct Runner {
    tx: mpsc::Sender<Event>,
    env: Arc<Environment>,
    current: Option<tokio::task::AbortHandle>,
    autosave: tokio::sync::watch::Sender<Option<Box<Session>>>,
    stores: StoreCache,
    /// When the run in flight started, for the elapsed times on Triage.
    started: Option<std::time::Instant>,
}

/// The trust stores, loaded once per CA-file setting: reading the system store is the
/// slowest part of starting a run, and it does not change while the workbench is open.
#[derive(Clone, Default)]
struct StoreCache(Arc<std::sync::Mutex<Option<Loaded>>>);

/// The CA file the stores were loaded with, and the stores.
type Loaded = (Option<PathBuf>, Arc<TrustStores>);

impl StoreCache {
    async fn get(&self, ca_file: Option<PathBuf>, env: &Environment) -> Result<Arc<TrustStores>, String> {
        let lock = || self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((path, stores)) = lock().as_ref()
            && *path == ca_file
        {
            return Ok(Arc::clone(stores));
        }
        let anchors = env.extra_anchors.clone();
        let path = ca_file.clone();
        // File I/O: keep it off the async workers.
        let stores = tokio::task::spawn_blocking(move || -> Result<TrustStores, String> {
            let mut stores = TrustStores::load(path.as_deref()).map_err(|e| e.to_string())?;
            for anchor in anchors {
                stores.add_ca_anchor(anchor).map_err(|e| e.to_string())?;
            }
            Ok(stores)
        })
        .await
        .map_err(|e| e.to_string())??;
        let stores = Arc::new(stores);
        *lock() = Some((ca_file, Arc::clone(&stores)));
        Ok(stores)
    }
}

impl Runner {
    fn execute(&mut self, command: Command) {
        match command {
            Command::Start {
                generation,
                target,
                settings,
            } => {
                if let Some(previous) = self.current.take() {
                    previous.abort();
                }
                self.started = Some(std::time::Instant::now());
                let (tx, env, stores) = (self.tx.clone(), Arc::clone(&self.env), self.stores.clone());
                let task = tokio::spawn(async move {
                    if let Err(message) = run_check(generation, target, settings, &env, &stores, &tx).await {
                        let _ = tx.send(Event::RunFailed { generation, message }).await;
                    }
                });
                self.current = Some(task.abort_handle());
            }
            Command::Export { session, to } => {
                let (tx, dir) = (self.tx.clone(), self.env.report_dir.clone());
                tokio::task::spawn_blocking(move || {
                    let _ = tx.blocking_send(Event::Exported(export(&session, to, dir)));
                });
            }
            Command::ReadRelayQueue(config_dir) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let _ = tx
                        .send(Event::RelayQueue(read_relay_queue(config_dir.as_deref()).await))
                        .await;
                });
            }
            Command::Flush(request) => {
                // Minutes at most (postqueue's timeout, then FOLLOW): off the event loop.
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    use crate::relay::postfix::queue;
                    let config_dir = request.config_dir.as_deref();
                    let result = queue::flush(&request.domain, &request.hosts, config_dir, queue::FOLLOW)
                        .await
                        .map_err(|e| e.to_string());
                    let domain = request.domain;
                    let _ = tx.send(Event::Flushed { domain, result }).await;
                });
            }
            Command::Autosave(session) => {
                // Latest wins: a burst of results becomes one write.
                let _ = self.autosave.send(Some(session));
            }
        }
    }
}

/// This relay's deferred queue, or why it could not be read.
async fn read_relay_queue(config_dir: Option<&std::path::Path>) -> app::RelayQueue {
    use crate::relay::postfix::queue::{self, QueueError};
    match queue::deferred(config_dir).await {
        Ok(deferred) => app::RelayQueue::Read(deferred),
        Err(QueueError::NotInstalled(_)) => app::RelayQueue::NoPostfix,
        Err(e) => app::RelayQueue::Unreadable(e.to_string()),
    }
}

/// One writer for the autosave file, fed the latest session; it finishes the last
/// write when the sender is dropped.
fn spawn_autosaver() -> (
    tokio::sync::watch::Sender<Option<Box<Session>>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, mut rx) = tokio::sync::watch::channel::<Option<Box<Session>>>(None);
    let task = tokio::spawn(async move {
        loop {
            let changed = rx.changed().await;
            let latest = rx.borrow_and_update().clone();
            if let Some(session) = latest {
                // Best effort: a failed autosave must not stop the operator's work.
                let _ = tokio::task::spawn_blocking(move || {
                    if let Ok(path) = store::autosave_path() {
                        let _ = store::replace(&path, &session.to_json());
                    }
                })
                .await;
            }
            if changed.is_err() {
                break;
            }
        }
    });
    (tx, task)
}

/// Reads the terminal on a thread of its own: a blocking read costs nothing while idle.
fn spawn_input(tx: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        while let Ok(event) = term::read() {
            let event = match event {
                term::Event::Key(key) if key.kind == KeyEventKind::Press => Event::Key(key),
                term::Event::Paste(text) => Event::Paste(text),
                term::Event::Resize(width, height) => Event::Resize(width, height),
                _ => continue,
            };
            if tx.blocking_send(event).is_err() {
                break;
            }
        }
    });
}

/// SIGTERM and SIGHUP (a dropped SSH session) end the workbench cleanly.
fn spawn_signals(tx: mpsc::Sender<Event>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            return;
        };
        let signal = tokio::select! {
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
        };
        let _ = tx.send(Event::Terminate(signal)).await;
    });
}

/// The engine's events for run `generation`, straight into the workbench's one channel.
struct Tagged<'a> {
    tx: &'a mpsc::Sender<Event>,
    generation: u64,
}

impl engine::Sink for Tagged<'_> {
    async fn send(&self, event: engine::Event) {
        let generation = self.generation;
        let _ = self.tx.send(Event::Engine { generation, event }).await;
    }

    fn offer(&self, event: engine::Event) {
        let generation = self.generation;
        let _ = self.tx.try_send(Event::Engine { generation, event });
    }
}

/// The check, its events going to the workbench as they happen.
async fn run_check(
    generation: u64,
    target: crate::target::Target,
    settings: Box<Settings>,
    env: &Environment,
    stores: &StoreCache,
    tx: &mpsc::Sender<Event>,
) -> Result<(), String> {
    let stores = stores.get(settings.ca_file.clone(), env).await?;
    let options = settings.options(target, stores);
    engine::run(&options, &Tagged { tx, generation })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Writes the reports: both formats to `dir` (else the data directory), or one file to `to`.
fn export(session: &Session, to: Option<PathBuf>, dir: Option<PathBuf>) -> Result<Vec<PathBuf>, String> {
    let render = |markdown: bool| {
        if markdown {
            report::render_markdown(session)
        } else {
            format!("{}\n", session.to_json())
        }
    };
    match to {
        Some(path) => {
            let markdown = path.extension().is_none_or(|e| e != "json");
            store::write_new(&path, &render(markdown)).map_err(|e| e.to_string())?;
            Ok(vec![path])
        }
        None => {
            let dir = match dir {
                Some(dir) => dir,
                None => store::default_dir().map_err(|e| e.to_string())?,
            };
            let target = session.check.target.to_string();
            let mut written = Vec::new();
            for (extension, markdown) in [("json", false), ("md", true)] {
                let path = store::write_unique(&dir, &target, session.check.started_at, extension, &render(markdown))
                    .map_err(|e| e.to_string())?;
                written.push(path);
            }
            Ok(written)
        }
    }
}

/// The first of LC_ALL, LC_CTYPE, LANG that is set decides, as in C's setlocale.
fn utf8_locale() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// Reads the autosaved session for `--resume`.
pub fn load_autosave() -> Result<Session, String> {
    let path = store::autosave_path().map_err(|e| e.to_string())?;
    Session::load(&path).map_err(|e| format!("{e} (nothing to resume?)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::test_pki;

    #[test]
    fn the_lab_ca_is_described_by_subject_and_fingerprint() {
        let ca = test_pki::self_signed(test_pki::params("mxtriage lab CA", &[], true, -1, 30));
        let text = describe_anchor(&ca.der());
        assert!(text.contains("CN=mxtriage lab CA"), "{text}");
        let hex = text.rsplit(' ').next().unwrap_or_default().trim_end_matches('…');
        assert_eq!(hex.len(), 16, "{text}");
    }
}
