//! mxtriage: guided, evidence-backed diagnosis of SMTP STARTTLS failures.
//!
//! Data flows one way: target → dns → probe (smtp → tls → cert) → evidence → report.
//! Nothing here touches a terminal; the binary (and later the TUI) sits on top.

pub mod cert;
pub mod diagnose;
pub mod dns;
pub mod engine;
pub mod files;
/// Fuzz-target bodies, shared by `fuzz/` and the corpus replay test; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod intake;
pub mod lab;
pub mod model;
pub mod output;
pub mod policy;
pub mod probe;
pub mod relay;
pub mod report;
pub mod target;
pub mod text;
pub mod tui;
pub mod wording;
