//! Knowing the relay: the local MTA's configuration, TLS library, queue and log.
//!
//! mxtriage runs on the relay that defers the mail, so the sender every verdict is
//! about is this host's MTA. Postfix is read through its own tools (`postconf`,
//! `postmap -q`, `postqueue -j`) so that every map type and default is Postfix's own;
//! Exim is read from `exim -bP`/`-bV`. Whatever cannot be read is said, with the reason.

pub mod command;
pub mod exec;
pub mod exim;
pub mod postfix;
pub mod predict;

use std::path::PathBuf;

pub use crate::model::relay::*;

/// Most of the relay's own log lines a report carries.
pub const LOG_LINES: usize = 20;

/// Which MTA configuration a check reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RelaySource {
    /// None: judge for the named sender profiles only (reports checked from elsewhere,
    /// the lab, tests).
    #[default]
    Off,
    /// Whatever MTA this host runs.
    Auto,
    /// The Postfix instance whose configuration is in this directory (its default when `None`).
    Postfix { config_dir: Option<PathBuf> },
}

impl RelaySource {
    /// The Postfix configuration directory to pass on (`-c`, `MAIL_CONFIG`); `None` for
    /// Postfix's default.
    pub fn config_dir(&self) -> Option<&std::path::Path> {
        match self {
            RelaySource::Postfix { config_dir } => config_dir.as_deref(),
            _ => None,
        }
    }
}

/// Reads the relay for mail to `domain`; `None` when reading is off.
pub async fn read(source: &RelaySource, domain: &str) -> Option<RelayView> {
    let mut view = read_view(source, domain).await?;
    view.destination = domain.to_string();
    Some(view)
}

async fn read_view(source: &RelaySource, domain: &str) -> Option<RelayView> {
    let config_dir = match source {
        RelaySource::Off => return None,
        RelaySource::Postfix { config_dir } => config_dir.as_deref(),
        RelaySource::Auto => None,
    };
    match postfix::read(config_dir, domain).await {
        Ok(view) => Some(view),
        Err(postfix::config::ConfigError::Command(command::CommandError::NotInstalled { .. }))
            if *source == RelaySource::Auto =>
        {
            let host = exim::Destination {
                host: domain,
                address: None,
            };
            match exim::read(None, host).await {
                Ok(view) => Some(view),
                Err(exim::EximError::NotInstalled) => Some(not_found()),
                Err(e) => Some(RelayView {
                    unread: vec![format!("the Exim configuration: {e}")],
                    ..not_found()
                }),
            }
        }
        Err(e) => Some(RelayView {
            unread: vec![format!("the Postfix configuration: {e}")],
            ..not_found()
        }),
    }
}

/// No MTA found: the reason, and nothing else.
fn not_found() -> RelayView {
    RelayView {
        unread: vec![
            "no MTA found on this host (neither postconf nor exim is installed); the named sender profiles stand in"
                .into(),
        ],
        ..Default::default()
    }
}
