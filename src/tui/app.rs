//! The workbench's one model and its one `update`. Nothing here does I/O: side
//! effects leave as [`Command`]s, results come back as [`Event`]s.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ratatui::crossterm::event::{KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::keymap::{self, Action, Scope};
use super::view::Scrolled;
use crate::diagnose::{Answers, Tree};
use crate::engine::{self, Settings};
use crate::intake::{self, Extracted, NotFound};
use crate::model::{ProbeResult, Stage};
use crate::probe::ProbeTarget;
use crate::relay::postfix::queue::{DeferredDestination, DeferredQueue, FlushOutcome};
use crate::report::Session;
use crate::target::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Intake,
    Triage,
    Detail,
    Verdict,
    /// The Verdict's decision path drawn as a flowchart (`t` on Verdict).
    Flowchart,
    Export,
}

/// Everything that can happen to the workbench.
#[derive(Debug, Clone)]
pub enum Event {
    Key(KeyEvent),
    Paste(String),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// Spinner tick, with the time since the run in flight started; only sent while
    /// something runs.
    Tick(std::time::Duration),
    /// What the engine reports of the run `generation`.
    Engine {
        generation: u64,
        event: engine::Event,
    },
    RunFailed {
        generation: u64,
        message: String,
    },
    Exported(Result<Vec<PathBuf>, String>),
    /// This relay's deferred queue, read once at start-up.
    RelayQueue(RelayQueue),
    /// What the confirmed retry of `domain` asked for and what the log said, or why
    /// it could not be asked for.
    Flushed {
        domain: String,
        result: Result<FlushOutcome, String>,
    },
    /// SIGTERM, SIGHUP (the signal's number): leave now, cleanly, and say so in the
    /// exit status (128 + the number, as a shell does).
    Terminate(i32),
}

/// Side effects `update` asks the runner to perform.
#[derive(Debug, Clone)]
pub enum Command {
    Start {
        generation: u64,
        target: Target,
        settings: Box<Settings>,
    },
    Export {
        session: Box<Session>,
        to: Option<PathBuf>,
    },
    Autosave(Box<Session>),
    /// Read this relay's deferred queue in the background (`postqueue -j`).
    /// Read the deferred queue of the Postfix instance in this directory (its default: `None`).
    ReadRelayQueue(Option<std::path::PathBuf>),
    /// Retry the destination's deferred mail now and follow the log (confirmed by the operator).
    Flush(FlushRequest),
}

/// What a retry of this relay's deferred mail needs: everything the check used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushRequest {
    /// The recipient domain, as the queue groups it.
    pub domain: String,
    /// Its MX hosts, so the log lines about them are found too.
    pub hosts: Vec<String>,
    /// The Postfix instance the check read (`None`: Postfix's default).
    pub config_dir: Option<PathBuf>,
}

/// The retry offered on Verdict when this relay would deliver now. It never runs
/// without a `y` to the prompt, and one runs at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flush {
    Idle,
    /// The prompt is up: the next key answers it.
    Confirming(FlushRequest),
    /// Postfix was asked; the runner follows the log.
    Running {
        domain: String,
    },
    Finished {
        domain: String,
        result: Result<FlushOutcome, String>,
    },
}

/// What is known of this relay's deferred queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayQueue {
    /// Not read (yet, or not at all: the lab demo is not about this relay).
    NotRead,
    Read(DeferredQueue),
    /// Postfix is not installed: this is not a Postfix relay, so nothing is said.
    NoPostfix,
    /// Postfix is here but the queue could not be read; the reason is shown.
    Unreadable(String),
}

impl RelayQueue {
    /// The destinations offered on Intake, most deferred mail first.
    pub fn destinations(&self) -> &[DeferredDestination] {
        match self {
            RelayQueue::Read(queue) => &queue.destinations,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeFocus {
    /// The relay's deferred destinations.
    Queue,
    Paste,
    /// The destinations a paste names, when it names more than one.
    Destinations,
    Target,
    Options,
    Scenarios,
}

/// One editable option in the Intake form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKey {
    Nameserver,
    CaFile,
    Source,
    Ehlo,
    Sni,
}

impl OptionKey {
    pub const ALL: [OptionKey; 5] = [
        OptionKey::Nameserver,
        OptionKey::CaFile,
        OptionKey::Source,
        OptionKey::Ehlo,
        OptionKey::Sni,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OptionKey::Nameserver => "resolver",
            OptionKey::CaFile => "CA file",
            OptionKey::Source => "source address",
            OptionKey::Ehlo => "EHLO name",
            OptionKey::Sni => "SNI",
        }
    }
}

/// A lab scenario offered by `mxtriage demo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub name: String,
    pub domain: String,
    pub summary: String,
    /// The resolver a relay in this scenario uses (the stale-cache scenario has its own).
    pub resolver: SocketAddr,
}

pub struct Intake {
    pub paste: TextArea<'static>,
    pub target: TextArea<'static>,
    pub focus: IntakeFocus,
    pub extracted: Result<Extracted, NotFound>,
    /// What the paste names to probe; a list to pick from when it is more than one.
    pub destinations: Vec<Target>,
    pub destination_selected: usize,
    /// The operator typed a target; extraction no longer overwrites it.
    pub target_typed: bool,
    pub option_selected: usize,
    pub editing: Option<(OptionKey, TextArea<'static>)>,
    pub offers: Vec<Offer>,
    pub offer_selected: usize,
    pub error: Option<String>,
    pub queue: RelayQueue,
    pub queue_selected: usize,
}

/// The check in progress (or done). Its evidence is the session's report: one copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub generation: u64,
    pub target: Target,
    /// The addresses being probed, in matrix order, once DNS has answered.
    pub targets: Vec<ProbeTarget>,
    /// The stage each target's current session is in (`None`: not started).
    pub stages: Vec<Option<Stage>>,
    /// Each target's stages so far and when each began (since the run started): what
    /// Detail shows of an address still being probed.
    pub stage_log: Vec<Vec<(std::time::Duration, Stage)>>,
    /// Each target's transcript so far, line by line as the engine reports it; emptied
    /// when its session ends (the result holds the whole transcript).
    pub live: Vec<Vec<crate::model::TranscriptLine>>,
    /// Time since the run started, as of the last tick.
    pub elapsed: std::time::Duration,
    /// This run also scans (the `s` key).
    pub scanning: bool,
    /// A failed handshake is followed up (the engine does it when it does not scan).
    pub following_up: bool,
    pub done: bool,
    pub error: Option<String>,
}

impl Run {
    pub fn finished(&self) -> bool {
        self.done || self.error.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriagePane {
    Steps,
    Matrix,
}

/// The Verdict screen's panes: Tab moves between them, the keys scroll the focused one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictPane {
    /// The verdict itself: headline, fix, the open question, why.
    Head,
    Evidence,
    /// The checklist, workaround, this relay and the recipient's policy.
    More,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailPane {
    Transcript,
    Chain,
}

pub struct App {
    pub screen: Screen,
    pub help: bool,
    pub confirm_quit: bool,
    pub quit: bool,
    /// The signal that ended the workbench, for the exit status.
    pub signal: Option<i32>,
    pub status: Option<String>,
    pub spinner: usize,
    pub intake: Intake,
    pub settings: Settings,
    pub run: Option<Run>,
    pub answers: Answers,
    pub session: Option<Session>,
    pub triage_pane: TriagePane,
    pub step_selected: usize,
    pub address_selected: usize,
    pub detail_focus: DetailPane,
    pub detail_wide: DetailPane,
    pub transcript_scroll: u16,
    pub chain_scroll: u16,
    pub evidence_selected: usize,
    pub verdict_scroll: u16,
    pub verdict_focus: VerdictPane,
    pub verdict_head_scroll: u16,
    pub flowchart_scroll: u16,
    pub flush: Flush,
    /// The retry's pane is open (it opens again by itself when a retry ends).
    pub flush_open: bool,
    pub flush_scroll: u16,
    pub export_path: Option<TextArea<'static>>,
    pub export_messages: Vec<String>,
    /// NO_COLOR is set: every state is shown by words and symbols alone.
    pub no_color: bool,
    /// The terminal's locale is not UTF-8: draw with ASCII only.
    pub ascii: bool,
    /// This host's name, looked up once by the runner (update does no I/O).
    pub vantage_host: String,
    /// The demo's lab CA (subject and fingerprint), described once by the runner: the
    /// demo trusts it, and says so on screen.
    pub lab_ca: Option<String>,
    /// The terminal's size (columns, rows), so scrolling stops where the content ends.
    pub viewport: (u16, u16),
    /// Where Esc leads from Detail: the screen it was opened from.
    detail_return: Screen,
    next_generation: u64,
}

/// The empty paste box.
fn paste_box() -> TextArea<'static> {
    let mut paste = TextArea::default();
    paste.set_placeholder_text(super::wording::say("intake", "placeholder", &[]));
    paste
}

fn single_line(placeholder: &str) -> TextArea<'static> {
    let mut area = TextArea::default();
    area.set_placeholder_text(placeholder.to_string());
    area
}

impl App {
    pub fn new(settings: Settings, offers: Vec<Offer>) -> Self {
        let paste = paste_box();
        let focus = if offers.is_empty() {
            IntakeFocus::Paste
        } else {
            IntakeFocus::Scenarios
        };
        // The demo opens on its scenarios: say how to start.
        let status = (!offers.is_empty()).then(|| super::wording::say("demo", "start", &[]));
        App {
            screen: Screen::Intake,
            help: false,
            confirm_quit: false,
            quit: false,
            signal: None,
            status,
            spinner: 0,
            intake: Intake {
                paste,
                target: single_line("domain, host:port or [ip]:port"),
                focus,
                extracted: intake::extract(""),
                destinations: Vec::new(),
                destination_selected: 0,
                target_typed: false,
                option_selected: 0,
                editing: None,
                offers,
                offer_selected: 0,
                error: None,
                queue: RelayQueue::NotRead,
                queue_selected: 0,
            },
            settings,
            run: None,
            answers: Answers::new(),
            session: None,
            triage_pane: TriagePane::Matrix,
            step_selected: 0,
            address_selected: 0,
            detail_focus: DetailPane::Transcript,
            detail_wide: DetailPane::Transcript,
            transcript_scroll: 0,
            chain_scroll: 0,
            evidence_selected: 0,
            verdict_scroll: 0,
            verdict_focus: VerdictPane::Evidence,
            verdict_head_scroll: 0,
            flowchart_scroll: 0,
            flush: Flush::Idle,
            flush_open: false,
            flush_scroll: 0,
            export_path: None,
            export_messages: Vec::new(),
            no_color: false,
            ascii: false,
            vantage_host: String::new(),
            lab_ca: None,
            viewport: (80, 24),
            detail_return: Screen::Triage,
            next_generation: 1,
        }
    }

    /// What to do once the workbench is up: read this relay's queue, except in the lab
    /// demo, whose destinations are the lab's.
    pub fn start_up(&self) -> Vec<Command> {
        if self.intake.offers.is_empty() {
            vec![Command::ReadRelayQueue(
                self.settings.relay.config_dir().map(std::path::Path::to_path_buf),
            )]
        } else {
            Vec::new()
        }
    }

    /// Opens a saved session as if its check had just finished.
    pub fn resumed(settings: Settings, session: Session) -> Self {
        let mut app = App::new(settings, Vec::new());
        app.answers = session.answers.clone();
        let mut targets: Vec<ProbeTarget> = Vec::new();
        for p in &session.check.probes {
            let target = ProbeTarget {
                mx: p.mx.clone(),
                address: p.address,
            };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        let stages: Vec<_> = targets.iter().map(|t| app_stage(&session, t)).collect();
        app.run = Some(Run {
            generation: 0,
            target: session.check.target.clone(),
            targets,
            stage_log: vec![Vec::new(); stages.len()],
            live: vec![Vec::new(); stages.len()],
            stages,
            elapsed: std::time::Duration::ZERO,
            scanning: false,
            following_up: false,
            done: true,
            error: None,
        });
        app.session = Some(session);
        app.screen = Screen::Verdict;
        app.status = Some("resumed the last autosaved session; r re-runs the probes".into());
        app
    }

    /// What the run in flight is busy with, for the header.
    pub fn phase(&self) -> Option<&'static str> {
        let run = self.run.as_ref().filter(|r| !r.finished())?;
        let report = self.session.as_ref().map(|s| &s.check);
        let probed =
            report.is_some() && !run.targets.is_empty() && run.targets.iter().all(|t| !self.results(t).is_empty());
        if !probed {
            return Some("probing");
        }
        // Every address answered: the scan and OpenSSL (when asked), then the policy lookups.
        let scanned = report.is_some_and(|r| r.probes.iter().any(|p| p.scan.is_some()));
        Some(if run.scanning && !scanned {
            "scanning what the servers accept"
        } else {
            "checking MTA-STS, DANE and DNS"
        })
    }

    /// True while probes run: the runner ticks the spinner only then.
    pub fn busy(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.finished())
    }

    /// Which keymap scopes apply right now, most specific first.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut scopes = vec![Scope::Always];
        if self.flush_open {
            scopes.push(Scope::FlushPane);
            return scopes;
        }
        match self.screen {
            Screen::Intake => {
                if self.intake.editing.is_some() {
                    scopes.push(Scope::IntakeEditing);
                    return scopes;
                }
                if matches!(self.intake.focus, IntakeFocus::Paste | IntakeFocus::Target) {
                    scopes.push(Scope::IntakeTyping);
                    return scopes;
                }
                scopes.push(Scope::IntakeList);
            }
            Screen::Triage => {
                if self.focused_question().is_some() {
                    scopes.push(Scope::Question);
                }
                if self.triage_pane == TriagePane::Matrix {
                    scopes.push(Scope::TriageMatrix);
                }
                scopes.push(Scope::Triage);
            }
            Screen::Detail => scopes.push(Scope::Detail),
            Screen::Verdict => {
                if self.question_here().is_some() {
                    scopes.push(Scope::Question);
                }
                if self.flush_offer().is_some() {
                    scopes.push(Scope::VerdictFlush);
                }
                scopes.push(Scope::Verdict);
            }
            Screen::Flowchart => scopes.push(Scope::Flowchart),
            Screen::Export => {
                if self.export_path.is_some() {
                    scopes.push(Scope::ExportTyping);
                    return scopes;
                }
                scopes.push(Scope::Export);
            }
        }
        scopes.push(Scope::NotTyping);
        scopes
    }

    /// The retry `f` would ask for, when it is offered: this check ran here and now (not a
    /// resumed session), on a domain, this relay is Postfix and its prediction says it
    /// delivers, and no retry is running.
    pub fn flush_offer(&self) -> Option<FlushRequest> {
        if self.screen != Screen::Verdict || matches!(self.flush, Flush::Running { .. } | Flush::Confirming(_)) {
            return None;
        }
        self.run.as_ref().filter(|r| r.finished() && r.generation > 0)?;
        let session = self.session.as_ref()?;
        let delivers = session.verdict.relay.as_ref().is_some_and(|p| p.outcome.delivers());
        let postfix = session
            .check
            .relay
            .as_ref()
            .is_some_and(|r| r.mta == Some(crate::model::relay::Mta::Postfix));
        let Target::Domain { name } = &session.check.target else {
            return None;
        };
        if !delivers || !postfix {
            return None;
        }
        let mut hosts: Vec<String> = session.check.resolution.hosts.iter().map(|h| h.name.clone()).collect();
        hosts.dedup();
        let config_dir = self.settings.relay.config_dir().map(std::path::Path::to_path_buf);
        Some(FlushRequest {
            domain: name.clone(),
            hosts,
            config_dir,
        })
    }

    /// Whether `action` does anything on this screen, so the footer advertises only keys
    /// that work here (Tab has no panes to cycle on Verdict and Export, nothing scrolls
    /// on Export).
    pub fn offers(&self, action: Action) -> bool {
        match action {
            Action::NextPane | Action::PrevPane => {
                matches!(
                    self.screen,
                    Screen::Intake | Screen::Triage | Screen::Detail | Screen::Verdict
                )
            }
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                self.flush_open || self.screen != Screen::Export
            }
            Action::OpenDetail => self.selected_target().is_some(),
            // Both wait for the run in flight to end.
            Action::Rerun | Action::Scan => !self.busy(),
            Action::OpenVerdict | Action::OpenFlowchart => {
                self.run.as_ref().is_some_and(Run::finished) && self.session.is_some()
            }
            Action::Select if self.screen == Screen::Verdict => {
                self.session.as_ref().is_some_and(|s| !s.verdict.evidence.is_empty())
            }
            _ => true,
        }
    }

    /// The question on the focused tree step, if it is one: (question id, choices).
    pub fn focused_question(&self) -> Option<&crate::diagnose::tree::Question> {
        if self.triage_pane != TriagePane::Steps || !self.run.as_ref().is_some_and(Run::finished) {
            return None;
        }
        let step = self.session.as_ref()?.verdict.steps.get(self.step_selected)?;
        Tree::embedded().question_at(&step.node)
    }

    /// The question the number keys answer here: the focused step's on Triage, on
    /// Verdict the first one still open (it is shown under the fix).
    pub fn question_here(&self) -> Option<&crate::diagnose::tree::Question> {
        if self.screen == Screen::Verdict {
            return self.open_question();
        }
        self.focused_question()
    }

    /// The first question of the walk the operator has not answered, once the run ended.
    pub fn open_question(&self) -> Option<&crate::diagnose::tree::Question> {
        if !self.run.as_ref().is_some_and(Run::finished) {
            return None;
        }
        let step = self.session.as_ref()?.verdict.steps.iter().find(|s| s.unanswered)?;
        Tree::embedded().question_at(&step.node)
    }

    pub fn update(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Key(key) => self.on_key(key),
            Event::Paste(text) => {
                self.on_paste(&text);
                Vec::new()
            }
            Event::Resize(width, height) => {
                self.viewport = (width, height);
                Vec::new()
            }
            Event::Tick(elapsed) => {
                self.spinner = self.spinner.wrapping_add(1);
                if let Some(run) = self.run.as_mut().filter(|r| !r.finished()) {
                    run.elapsed = elapsed;
                }
                Vec::new()
            }
            Event::Terminate(signal) => {
                self.quit = true;
                self.signal = Some(signal);
                self.autosave()
            }
            Event::Exported(result) => {
                match result {
                    Ok(paths) => {
                        self.export_messages = paths.iter().map(|p| format!("written: {}", p.display())).collect();
                    }
                    Err(e) => self.export_messages = vec![format!("export failed: {e} (the session is intact)")],
                }
                Vec::new()
            }
            Event::RelayQueue(queue) => {
                // Offered first, unless the operator has already started on the paste.
                let untouched = self.intake.paste.is_empty() && !self.intake.target_typed;
                if !queue.destinations().is_empty() && self.intake.focus == IntakeFocus::Paste && untouched {
                    self.intake.focus = IntakeFocus::Queue;
                }
                self.intake.queue = queue;
                self.intake.queue_selected = 0;
                Vec::new()
            }
            Event::Flushed { domain, result } => {
                if matches!(&self.flush, Flush::Running { domain: running } if *running == domain) {
                    self.flush = Flush::Finished { domain, result };
                    self.flush_open = true;
                    self.flush_scroll = 0;
                }
                Vec::new()
            }
            Event::Engine { generation, event } => self.on_engine(generation, event),
            Event::RunFailed { generation, message } => {
                if let Some(run) = self.run.as_mut().filter(|r| r.generation == generation) {
                    run.error = Some(message);
                }
                Vec::new()
            }
        }
    }

    /// Applies what the engine says of run `generation`; events of older runs are dropped.
    fn on_engine(&mut self, generation: u64, event: engine::Event) -> Vec<Command> {
        let Some(run) = self.run.as_mut().filter(|r| r.generation == generation) else {
            return Vec::new();
        };
        match event {
            engine::Event::Resolved { report, targets } => {
                run.stages = vec![None; targets.len()];
                run.stage_log = vec![Vec::new(); targets.len()];
                run.live = vec![Vec::new(); targets.len()];
                run.targets = targets;
                self.session = Session::new(*report, self.answers.clone()).ok();
            }
            engine::Event::Stage { target, stage } => {
                if let Some(i) = run.targets.iter().position(|t| *t == target) {
                    run.stages[i] = Some(stage);
                    // A session starting (again) starts its own transcript.
                    if stage == Stage::Connect
                        && let Some(live) = run.live.get_mut(i)
                    {
                        live.clear();
                    }
                    if let Some(log) = run.stage_log.get_mut(i) {
                        log.push((run.elapsed, stage));
                    }
                }
                // The evidence is unchanged: nothing to judge or save.
                return Vec::new();
            }
            engine::Event::Line { target, line } => {
                let Some(i) = run.targets.iter().position(|t| *t == target) else {
                    return Vec::new();
                };
                let Some(live) = run.live.get_mut(i) else {
                    return Vec::new();
                };
                if live.len() < crate::probe::MAX_TRANSCRIPT {
                    live.push(line);
                }
                return Vec::new();
            }
            event => {
                let finished = matches!(event, engine::Event::Finished { .. });
                if let engine::Event::Probed(probe) = &event
                    && let Some(i) = run
                        .targets
                        .iter()
                        .position(|t| t.address == probe.address && t.mx == probe.mx)
                {
                    run.stages[i] = Some(probe.stage);
                    // A further attempt starts its own transcript.
                    if let Some(live) = run.live.get_mut(i) {
                        live.clear();
                    }
                }
                run.done = finished;
                if finished {
                    self.drop_busy_prompts();
                }
                if let Some(session) = &mut self.session {
                    session.check.apply(event);
                }
                self.rediagnose();
                if finished {
                    self.focus_first_question();
                }
            }
        }
        self.autosave()
    }

    /// The run ended: a prompt or a status that was about it running no longer applies.
    fn drop_busy_prompts(&mut self) {
        self.confirm_quit = false;
        let busy = [
            super::wording::say("run", "verdict_not_ready", &[]),
            super::wording::say("run", "still_running", &[]),
        ];
        if self.status.as_ref().is_some_and(|s| busy.contains(s)) {
            self.status = None;
        }
    }

    /// Judges the evidence again (new results or answers); the report is not copied.
    fn rediagnose(&mut self) {
        if let Some(session) = &mut self.session {
            session.answers = self.answers.clone();
            if let Ok(verdict) = crate::diagnose::diagnose(Tree::embedded(), &session.check, &session.answers) {
                session.verdict = verdict;
            }
        }
    }

    fn autosave(&self) -> Vec<Command> {
        self.session
            .as_ref()
            .map(|s| vec![Command::Autosave(Box::new(s.clone()))])
            .unwrap_or_default()
    }

    fn focus_first_question(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        match session.verdict.steps.iter().position(|s| s.unanswered) {
            Some(index) => {
                self.step_selected = index;
                self.triage_pane = TriagePane::Steps;
            }
            None => self.step_selected = session.verdict.steps.len().saturating_sub(1),
        }
    }

    fn on_paste(&mut self, text: &str) {
        // Terminals end pasted lines with CR; the box and the intake see lines all the same.
        // A paste is shown as typed text: no escape sequences or bidi overrides reach the terminal.
        let text = crate::text::SafeText::escape_pasted(&intake::normalise_line_endings(text));
        let text = text.as_str();
        match self.screen {
            Screen::Intake => {
                if let Some((_, field)) = &mut self.intake.editing {
                    field.insert_str(text.lines().next().unwrap_or(""));
                } else if self.intake.focus == IntakeFocus::Target {
                    self.intake.target.insert_str(text.lines().next().unwrap_or(""));
                    self.intake.target_typed = true;
                } else {
                    // A paste is a new bounce: it replaces the box, so its destination is
                    // the one triaged, not the one of whatever was pasted before.
                    if !self.intake.paste.is_empty() {
                        self.status = Some(super::wording::say("intake", "paste_replaced", &[]));
                    }
                    self.intake.paste = paste_box();
                    self.intake.target_typed = false;
                    self.intake.focus = IntakeFocus::Paste;
                    // The box never holds more than the intake reads.
                    let room = intake::MAX_INPUT_BYTES;
                    self.intake
                        .paste
                        .insert_str(text.get(..text.floor_char_boundary(room)).unwrap_or_default());
                    self.reextract();
                    if self.intake.destinations.len() > 1 {
                        self.intake.focus = IntakeFocus::Destinations;
                        let count = self.intake.destinations.len().to_string();
                        self.status = Some(super::wording::say("intake", "several", &[("count", &count)]));
                    }
                }
            }
            Screen::Export => {
                if let Some(path) = &mut self.export_path {
                    path.insert_str(text.lines().next().unwrap_or(""));
                }
            }
            _ => {}
        }
    }

    fn reextract(&mut self) {
        let text = self.intake.paste.lines().join("\n");
        self.intake.extracted = intake::extract(&text);
        self.intake.destinations = intake::destinations(&text);
        self.intake.destination_selected = 0;
        if self.intake.destinations.len() < 2 && self.intake.focus == IntakeFocus::Destinations {
            self.intake.focus = IntakeFocus::Paste;
        }
        self.suggest_target();
    }

    /// The target field shows the destination picked (the first, unless the operator
    /// chose another), unless the operator typed one.
    fn suggest_target(&mut self) {
        if self.intake.target_typed {
            return;
        }
        let suggestion = match self.intake.destinations.get(self.intake.destination_selected) {
            Some(target) if self.intake.destinations.len() > 1 => Some(target.to_string()),
            _ => self
                .intake
                .extracted
                .as_ref()
                .ok()
                .and_then(Extracted::target)
                .map(|t| t.to_string()),
        };
        self.intake.target = single_line("domain, host:port or [ip]:port");
        self.intake.target.insert_str(suggestion.unwrap_or_default());
    }

    /// The paste box holds one line that names a destination by itself (a typed
    /// domain, `host:port` or `[ip]`): Enter checks it rather than starting a second line.
    /// A domain must be dotted here, so a word typed as the start of a note is not one.
    fn typed_target(&self) -> Option<Target> {
        let [line] = self.intake.paste.lines() else {
            return None;
        };
        match Target::parse(line.trim()).ok()? {
            Target::Domain { name } if !name.trim_end_matches('.').contains('.') => None,
            target => Some(target),
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        // C-c quits from anywhere, help and prompts included, as the help screen says;
        // while probes run the first one asks and the second one quits.
        if keymap::lookup(&[Scope::Always], &key) == Some(Action::Quit) {
            self.help = false;
            if self.confirm_quit {
                self.confirm_quit = false;
                self.quit = true;
                return self.autosave();
            }
            return self.act(Action::Quit);
        }
        if self.help {
            // Any key closes help; it never reaches the screen below.
            self.help = false;
            return Vec::new();
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            if matches!(key.code, ratatui::crossterm::event::KeyCode::Char('y' | 'Y' | 'q')) {
                self.quit = true;
                return self.autosave();
            }
            self.status = Some("still here".into());
            return Vec::new();
        }
        if let Flush::Confirming(request) = &self.flush {
            let request = request.clone();
            self.flush = Flush::Idle;
            return self.answer_flush(request, key);
        }
        let scopes = self.scopes();
        let Some(action) = keymap::lookup(&scopes, &key) else {
            return self.type_key(key);
        };
        self.status = None;
        self.act(action)
    }

    /// The answer to the retry prompt: `y` alone runs it, any other key cancels.
    fn answer_flush(&mut self, request: FlushRequest, key: KeyEvent) -> Vec<Command> {
        let domain = request.domain.clone();
        if key.code == ratatui::crossterm::event::KeyCode::Char('y')
            && key.modifiers - KeyModifiers::SHIFT == KeyModifiers::NONE
        {
            self.status = None;
            self.flush = Flush::Running { domain };
            self.flush_open = true;
            self.flush_scroll = 0;
            return vec![Command::Flush(request)];
        }
        self.status = Some(super::wording::say("flush", "cancelled", &[("domain", &domain)]));
        Vec::new()
    }

    /// A key no binding claimed: text for whichever field has focus. Enter in the
    /// target field starts the check, so this too may ask for commands.
    fn type_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if self.screen == Screen::Export {
            if let Some(path) = &mut self.export_path {
                path.input(key);
            }
            return Vec::new();
        }
        if self.screen != Screen::Intake {
            return Vec::new();
        }
        if let Some((_, field)) = &mut self.intake.editing {
            if key.code == ratatui::crossterm::event::KeyCode::Enter {
                self.commit_option();
            } else {
                field.input(key);
            }
            return Vec::new();
        }
        match self.intake.focus {
            IntakeFocus::Paste if key.code == ratatui::crossterm::event::KeyCode::Enter => {
                if let Some(target) = self.typed_target() {
                    return self.start(target);
                }
                if self.intake.paste.input(key) {
                    self.reextract();
                }
            }
            IntakeFocus::Paste if self.intake.paste.input(key) => self.reextract(),
            IntakeFocus::Target if key.code == ratatui::crossterm::event::KeyCode::Enter => {
                return self.start_from_intake();
            }
            IntakeFocus::Target if self.intake.target.input(key) => self.intake.target_typed = true,
            _ => {}
        }
        Vec::new()
    }

    fn act(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Quit => {
                if self.busy() {
                    self.confirm_quit = true;
                    Vec::new()
                } else {
                    self.quit = true;
                    self.autosave()
                }
            }
            Action::Help => {
                self.help = true;
                Vec::new()
            }
            Action::Back => {
                self.back();
                Vec::new()
            }
            Action::NextPane | Action::PrevPane => {
                self.cycle(action == Action::NextPane);
                Vec::new()
            }
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                self.move_selection(action);
                Vec::new()
            }
            Action::Run => self.start_from_intake(),
            Action::Select => self.select(),
            Action::Rerun => self.rerun(),
            Action::Scan => {
                // One scanned re-run; the next plain re-run is quick again.
                let plain = self.settings.clone();
                self.settings.scan = Some(crate::probe::scan::ScanSettings::default());
                self.settings.second_opinion = true;
                let from = self.screen;
                let commands = self.rerun();
                self.settings = plain;
                if !commands.is_empty() {
                    // The scan's results fill in the verdict where the operator asked for it.
                    self.screen = from;
                    self.status = Some("scanning what the server accepts: up to 40 connections per address".into());
                }
                commands
            }
            Action::OpenDetail => {
                if self.triage_pane == TriagePane::Matrix && self.selected_target().is_some() {
                    self.screen = Screen::Detail;
                    self.detail_return = Screen::Triage;
                    self.transcript_scroll = 0;
                    self.chain_scroll = 0;
                }
                Vec::new()
            }
            Action::OpenVerdict => {
                if self.run.as_ref().is_some_and(Run::finished) && self.session.is_some() {
                    self.screen = Screen::Verdict;
                } else {
                    self.status = Some(super::wording::say("run", "verdict_not_ready", &[]));
                }
                Vec::new()
            }
            Action::OpenFlowchart => {
                if self.offers(Action::OpenFlowchart) {
                    self.screen = Screen::Flowchart;
                } else {
                    self.status = Some(super::wording::say("run", "verdict_not_ready", &[]));
                }
                Vec::new()
            }
            Action::Export => match &self.session {
                Some(session) => {
                    self.screen = Screen::Export;
                    self.export_messages = vec!["writing ...".into()];
                    vec![Command::Export {
                        session: Box::new(session.clone()),
                        to: None,
                    }]
                }
                None => Vec::new(),
            },
            Action::ExportPath => {
                self.export_path = Some(single_line("path ending in .md or .json"));
                Vec::new()
            }
            Action::ToggleWide => {
                self.detail_wide = match self.detail_wide {
                    DetailPane::Transcript => DetailPane::Chain,
                    DetailPane::Chain => DetailPane::Transcript,
                };
                self.detail_focus = self.detail_wide;
                Vec::new()
            }
            Action::Flush => {
                if let Some(request) = self.flush_offer() {
                    self.status = None;
                    self.flush = Flush::Confirming(request);
                }
                Vec::new()
            }
            Action::Close => {
                self.flush_open = false;
                // A finished retry is done with once read; a running one reopens when it ends.
                if matches!(self.flush, Flush::Finished { .. }) {
                    self.flush = Flush::Idle;
                }
                Vec::new()
            }
            Action::Answer(n) => self.answer(n),
        }
    }

    fn answer(&mut self, n: u8) -> Vec<Command> {
        let Some(question) = self.question_here() else {
            return Vec::new();
        };
        let Some(choice) = question.answers.get(usize::from(n).saturating_sub(1)) else {
            return Vec::new();
        };
        let (id, key) = (question.id.clone(), choice.key.clone());
        self.answers.insert(id, key);
        self.rediagnose();
        self.focus_first_question();
        self.autosave()
    }

    fn back(&mut self) {
        self.screen = match self.screen {
            Screen::Intake => {
                if self.intake.editing.take().is_none() && self.run.is_some() {
                    Screen::Triage
                } else {
                    Screen::Intake
                }
            }
            Screen::Triage => Screen::Intake,
            Screen::Detail => self.detail_return,
            Screen::Verdict => Screen::Triage,
            Screen::Flowchart => Screen::Verdict,
            Screen::Export => {
                if self.export_path.take().is_some() {
                    Screen::Export
                } else {
                    Screen::Verdict
                }
            }
        };
    }

    fn cycle(&mut self, forward: bool) {
        match self.screen {
            Screen::Intake => {
                let mut order = vec![IntakeFocus::Paste, IntakeFocus::Target, IntakeFocus::Options];
                if self.intake.destinations.len() > 1 {
                    order.insert(1, IntakeFocus::Destinations);
                }
                if !self.intake.queue.destinations().is_empty() {
                    order.insert(0, IntakeFocus::Queue);
                }
                if !self.intake.offers.is_empty() {
                    order.insert(0, IntakeFocus::Scenarios);
                }
                let at = order.iter().position(|f| *f == self.intake.focus).unwrap_or(0);
                let next = if forward { at + 1 } else { at + order.len() - 1 };
                self.intake.focus = order[next % order.len()];
            }
            Screen::Triage => {
                self.triage_pane = match self.triage_pane {
                    TriagePane::Steps => TriagePane::Matrix,
                    TriagePane::Matrix => TriagePane::Steps,
                };
            }
            Screen::Detail => {
                self.detail_focus = match self.detail_focus {
                    DetailPane::Transcript => DetailPane::Chain,
                    DetailPane::Chain => DetailPane::Transcript,
                };
            }
            Screen::Verdict => {
                let order = [VerdictPane::Head, VerdictPane::Evidence, VerdictPane::More];
                let at = order.iter().position(|p| *p == self.verdict_focus).unwrap_or(1);
                let next = if forward { at + 1 } else { at + order.len() - 1 };
                self.verdict_focus = order[next % order.len()];
            }
            Screen::Flowchart | Screen::Export => {}
        }
    }

    fn move_selection(&mut self, action: Action) {
        let delta: i64 = match action {
            Action::Up => -1,
            Action::Down => 1,
            Action::PageUp => -10,
            _ => 10,
        };
        let step = |value: usize, len: usize| -> usize {
            match (action, len) {
                (_, 0) | (Action::Top, _) => 0,
                (Action::Bottom, _) => len - 1,
                _ => (value as i64 + delta).clamp(0, len as i64 - 1) as usize,
            }
        };
        if self.flush_open {
            self.flush_scroll = self.scrolled(self.flush_scroll, Scrolled::Flush, action);
            return;
        }
        match self.screen {
            Screen::Intake => match self.intake.focus {
                IntakeFocus::Options => {
                    self.intake.option_selected = step(self.intake.option_selected, OptionKey::ALL.len());
                }
                IntakeFocus::Scenarios => {
                    self.intake.offer_selected = step(self.intake.offer_selected, self.intake.offers.len());
                }
                IntakeFocus::Queue => {
                    let len = self.intake.queue.destinations().len();
                    self.intake.queue_selected = step(self.intake.queue_selected, len);
                }
                IntakeFocus::Destinations => {
                    let len = self.intake.destinations.len();
                    self.intake.destination_selected = step(self.intake.destination_selected, len);
                    self.suggest_target();
                }
                _ => {}
            },
            Screen::Triage => match self.triage_pane {
                TriagePane::Steps => {
                    let len = self.session.as_ref().map_or(0, |s| s.verdict.steps.len());
                    self.step_selected = step(self.step_selected, len);
                }
                TriagePane::Matrix => {
                    let len = self.run.as_ref().map_or(0, |r| r.targets.len());
                    self.address_selected = step(self.address_selected, len);
                }
            },
            Screen::Detail => match self.detail_focus {
                DetailPane::Transcript => {
                    self.transcript_scroll = self.scrolled(self.transcript_scroll, Scrolled::Transcript, action);
                }
                DetailPane::Chain => self.chain_scroll = self.scrolled(self.chain_scroll, Scrolled::Chain, action),
            },
            Screen::Verdict => match self.verdict_focus {
                VerdictPane::Head => {
                    self.verdict_head_scroll = self.scrolled(self.verdict_head_scroll, Scrolled::VerdictHead, action);
                }
                VerdictPane::Evidence if matches!(action, Action::Up | Action::Down) => {
                    let len = self.session.as_ref().map_or(0, |s| s.verdict.evidence.len());
                    self.evidence_selected = step(self.evidence_selected, len);
                }
                _ => self.verdict_scroll = self.scrolled(self.verdict_scroll, Scrolled::VerdictMore, action),
            },
            Screen::Flowchart => {
                self.flowchart_scroll = self.scrolled(self.flowchart_scroll, Scrolled::Flowchart, action);
            }
            Screen::Export => {}
        }
    }

    /// A scroll offset moved by `action`, kept between the top and the offset that puts
    /// the pane's last line on its bottom row (a page is the pane's height less one row).
    fn scrolled(&self, value: u16, pane: Scrolled, action: Action) -> u16 {
        let room = super::view::scroll_room(self, pane);
        let moved = match action {
            Action::Top => 0,
            Action::Bottom => room.max,
            Action::Up => value.saturating_sub(1),
            Action::Down => value.saturating_add(1),
            Action::PageUp => value.saturating_sub(room.page),
            _ => value.saturating_add(room.page),
        };
        moved.min(room.max)
    }

    fn select(&mut self) -> Vec<Command> {
        if self.screen == Screen::Intake && self.intake.editing.is_some() {
            self.commit_option();
            return Vec::new();
        }
        match self.screen {
            Screen::Intake => match self.intake.focus {
                IntakeFocus::Options => {
                    let key = OptionKey::ALL[self.intake.option_selected.min(OptionKey::ALL.len() - 1)];
                    let mut field = single_line(key.label());
                    field.insert_str(self.option_value(key));
                    self.intake.editing = Some((key, field));
                    Vec::new()
                }
                IntakeFocus::Scenarios => {
                    if let Some(offer) = self.intake.offers.get(self.intake.offer_selected) {
                        self.intake.target = single_line("domain, host:port or [ip]:port");
                        self.intake.target.insert_str(offer.domain.clone());
                        self.intake.target_typed = true;
                        // The flaky pool member shows itself only over repeated sessions.
                        self.settings.attempts = if offer.name == "flaky" { 2 } else { 1 };
                        self.settings.nameservers = vec![offer.resolver];
                    }
                    self.start_from_intake()
                }
                IntakeFocus::Queue => self.start_from_queue(),
                IntakeFocus::Destinations => match self.intake.destinations.get(self.intake.destination_selected) {
                    Some(target) => self.start(target.clone()),
                    None => Vec::new(),
                },
                _ => self.start_from_intake(),
            },
            Screen::Verdict => {
                self.jump_to_evidence();
                Vec::new()
            }
            Screen::Export => {
                let Some(field) = self.export_path.take() else {
                    return Vec::new();
                };
                let path = field.lines().join("").trim().to_string();
                match (&self.session, path.is_empty()) {
                    (_, true) => {
                        self.export_messages = vec!["type a path first".into()];
                        self.export_path = Some(field);
                        Vec::new()
                    }
                    (Some(session), false) => vec![Command::Export {
                        session: Box::new(session.clone()),
                        to: Some(PathBuf::from(path)),
                    }],
                    (None, false) => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    /// Shows the address and transcript line (or certificate) a piece of evidence cites.
    fn jump_to_evidence(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        let Some(evidence) = session.verdict.evidence.get(self.evidence_selected) else {
            return;
        };
        let Some(address) = evidence.address else {
            self.status = Some("this evidence is about DNS or an answer, not an address".into());
            return;
        };
        let Some(index) = self
            .run
            .as_ref()
            .and_then(|r| r.targets.iter().position(|t| t.address == address))
        else {
            return;
        };
        self.address_selected = index;
        self.screen = Screen::Detail;
        self.detail_return = Screen::Verdict;
        match &evidence.at {
            crate::diagnose::EvidenceAt::Transcript { line } => {
                self.detail_focus = DetailPane::Transcript;
                self.detail_wide = DetailPane::Transcript;
                let lead = super::view::transcript_lead(self);
                self.transcript_scroll = u16::try_from(line.saturating_sub(2) + lead).unwrap_or(0);
            }
            crate::diagnose::EvidenceAt::Certificate { .. } => {
                self.detail_focus = DetailPane::Chain;
                self.detail_wide = DetailPane::Chain;
                self.chain_scroll = 0;
            }
            _ => {}
        }
    }

    fn option_value(&self, key: OptionKey) -> String {
        let s = &self.settings;
        match key {
            OptionKey::Nameserver => s
                .nameservers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            OptionKey::CaFile => s.ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            OptionKey::Source => s.source.map(|ip| ip.to_string()).unwrap_or_default(),
            OptionKey::Ehlo => s.ehlo.clone().unwrap_or_default(),
            OptionKey::Sni => s.sni.clone().unwrap_or_default(),
        }
    }

    /// The option value shown in the form.
    pub fn option_display(&self, key: OptionKey) -> String {
        let value = self.option_value(key);
        if value.is_empty() {
            match key {
                OptionKey::Nameserver => "system resolver".into(),
                OptionKey::CaFile => "none (Mozilla and system roots)".into(),
                OptionKey::Source => "any".into(),
                OptionKey::Ehlo => "this host's name".into(),
                OptionKey::Sni => "the MX host name".into(),
            }
        } else {
            value
        }
    }

    fn commit_option(&mut self) {
        let Some((key, field)) = self.intake.editing.take() else {
            return;
        };
        let value = field.lines().join("").trim().to_string();
        let result: Result<(), String> = match key {
            OptionKey::Nameserver => value
                .split_whitespace()
                .map(crate::dns::parse_nameserver)
                .collect::<Result<Vec<_>, _>>()
                .map(|list| self.settings.nameservers = list),
            OptionKey::CaFile => {
                self.settings.ca_file = (!value.is_empty()).then(|| PathBuf::from(&value));
                Ok(())
            }
            OptionKey::Source => {
                if value.is_empty() {
                    self.settings.source = None;
                    Ok(())
                } else {
                    value
                        .parse::<IpAddr>()
                        .map(|ip| self.settings.source = Some(ip))
                        .map_err(|_| format!("{value:?} is not an IP address"))
                }
            }
            OptionKey::Ehlo if value.is_empty() => {
                self.settings.ehlo = None;
                Ok(())
            }
            OptionKey::Ehlo => crate::host::valid_ehlo(&value).map(|name| self.settings.ehlo = Some(name)),
            OptionKey::Sni => {
                self.settings.sni = (!value.is_empty()).then_some(value);
                Ok(())
            }
        };
        self.intake.error = result.err();
    }

    /// Triage of the picked deferred destination: its last delay reason goes into the
    /// paste box and through the intake exactly as a paste would.
    fn start_from_queue(&mut self) -> Vec<Command> {
        let Some(pasted) = self
            .intake
            .queue
            .destinations()
            .get(self.intake.queue_selected)
            .map(DeferredDestination::as_pasted)
        else {
            return Vec::new();
        };
        self.intake.paste = paste_box();
        self.intake.target_typed = false;
        self.intake.focus = IntakeFocus::Paste;
        self.on_paste(&pasted);
        self.intake.focus = IntakeFocus::Queue;
        self.start_from_intake()
    }

    fn start_from_intake(&mut self) -> Vec<Command> {
        let text = self.intake.target.lines().join("").trim().to_string();
        match Target::parse(&text) {
            Ok(target) => self.start(target),
            Err(e) => {
                self.intake.error = Some(match &self.intake.extracted {
                    Err(not_found) if text.is_empty() => not_found.to_string(),
                    _ => format!("cannot check {text:?}: {e}"),
                });
                Vec::new()
            }
        }
    }

    /// Starts a fresh run; events from older runs are ignored from now on.
    pub fn start(&mut self, target: Target) -> Vec<Command> {
        // Answers are about one destination; a re-run of the same target keeps them.
        if self.run.as_ref().is_none_or(|run| run.target != target) {
            self.answers.clear();
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.intake.error = None;
        self.run = Some(Run {
            generation,
            target: target.clone(),
            targets: Vec::new(),
            stages: Vec::new(),
            stage_log: Vec::new(),
            live: Vec::new(),
            elapsed: std::time::Duration::ZERO,
            scanning: self.settings.scan.is_some(),
            following_up: self.settings.follow_up && self.settings.scan.is_none(),
            done: false,
            error: None,
        });
        self.session = None;
        self.screen = Screen::Triage;
        self.triage_pane = TriagePane::Matrix;
        self.step_selected = 0;
        self.address_selected = 0;
        self.evidence_selected = 0;
        // A new run's panes start at their tops.
        self.transcript_scroll = 0;
        self.chain_scroll = 0;
        self.verdict_scroll = 0;
        self.verdict_head_scroll = 0;
        self.flowchart_scroll = 0;
        vec![Command::Start {
            generation,
            target,
            settings: Box::new(self.settings.clone()),
        }]
    }

    fn rerun(&mut self) -> Vec<Command> {
        match self.run.as_ref().map(|r| r.target.clone()) {
            Some(target) if !self.busy() => self.start(target),
            Some(_) => {
                self.status = Some(super::wording::say("run", "still_running", &[]));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// The selected matrix row's address, probed yet or not.
    pub fn selected_target(&self) -> Option<&ProbeTarget> {
        self.run.as_ref()?.targets.get(self.address_selected)
    }

    /// The latest result of the selected matrix row.
    pub fn selected_probe(&self) -> Option<&ProbeResult> {
        let target = self.run.as_ref()?.targets.get(self.address_selected)?;
        self.results(target).last().copied()
    }

    /// The follow-up of `probe`'s failed handshake is still to come.
    pub fn following_up(&self, probe: &ProbeResult) -> bool {
        self.run.as_ref().is_some_and(|r| r.following_up && !r.finished())
            && probe.stage == Stage::TlsHandshake
            && probe.failure.is_some()
            && probe.follow_up.is_none()
    }

    /// Every session's result for one matrix row, oldest first.
    pub fn results(&self, target: &ProbeTarget) -> Vec<&ProbeResult> {
        self.session.as_ref().map_or_else(Vec::new, |s| {
            s.check
                .probes
                .iter()
                .filter(|p| p.address == target.address && p.mx == target.mx)
                .collect()
        })
    }
}

/// The stage a resumed session's last result for `target` reached.
fn app_stage(session: &Session, target: &ProbeTarget) -> Option<Stage> {
    session
        .check
        .probes
        .iter()
        .rev()
        .find(|p| p.address == target.address && p.mx == target.mx)
        .map(|p| p.stage)
}
