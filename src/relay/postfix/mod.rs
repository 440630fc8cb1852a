//! Postfix, read through its own commands.

pub mod config;
pub mod finger;
pub mod hello;
pub mod library;
pub mod log;
pub mod queue;

use std::path::Path;

use crate::model::relay::RelayView;

/// The relay as Postfix in `config_dir` (its default when `None`) would deliver to `domain`.
pub async fn read(config_dir: Option<&Path>, domain: &str) -> Result<RelayView, config::ConfigError> {
    let conf = config::Postconf::read(config_dir).await?;
    let mut view = conf.view(domain).await;
    match library::detect(conf.get("daemon_directory").unwrap_or("/usr/lib/postfix/sbin")).await {
        Ok(library) => view.tls_library = Some(library),
        Err(why) => view.unread.push(format!("the TLS library: {why}")),
    }
    Ok(view)
}
