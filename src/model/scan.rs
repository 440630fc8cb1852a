//! What the capability scan found: which versions, suites and groups a server accepts.
//! Evidence only; the scanner that measures it lives in `probe::scan`.

use serde::{Deserialize, Serialize};

use super::tls::{CipherSuite, NamedGroup, TlsVersion};

/// How the server turned an offer down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    Alert {
        code: u8,
        name: String,
    },
    Closed,
    Reset,
    Timeout,
    /// It answered, but with another version than offered (a downgrade or upgrade).
    OtherVersion {
        version: TlsVersion,
    },
    Plaintext,
    Garbage,
    /// A ServerHello, then a handshake no client could continue (see [`codec::parse_answer`]).
    Broken {
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionScan {
    pub version: TlsVersion,
    pub accepted: bool,
    pub refusal: Option<Refusal>,
    /// Accepted suites, in the order the server chose them (its preference when it has one).
    pub suites: Vec<CipherSuite>,
    /// Whether the server picks by its own order rather than ours; `None` if not measurable.
    pub server_order: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    pub versions: Vec<VersionScan>,
    /// TLS 1.3 key-exchange groups the server accepts (directly or by HelloRetryRequest).
    pub groups: Vec<NamedGroup>,
    pub connections: usize,
    /// Why the scan stopped early (throttling, budget), if it did.
    pub stopped: Option<String>,
}

impl Scan {
    /// One line per version, then groups and cost: for text and Markdown reports.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .versions
            .iter()
            .map(|v| {
                if v.accepted {
                    let order = match v.server_order {
                        Some(true) => ", server's order",
                        Some(false) => ", client's order",
                        None => "",
                    };
                    format!(
                        "{}: accepted, {} suites{order}: {}",
                        v.version,
                        v.suites.len(),
                        join(&v.suites)
                    )
                } else {
                    let how = match &v.refusal {
                        Some(Refusal::Alert { code, name }) => format!("alert {name} ({code})"),
                        Some(Refusal::OtherVersion { version }) => format!("answered with {version}"),
                        Some(Refusal::Broken { detail }) => format!("handshake broke after ServerHello: {detail}"),
                        Some(other) => format!("{other:?}").to_lowercase(),
                        None => "not tried".to_string(),
                    };
                    format!("{}: refused ({how})", v.version)
                }
            })
            .collect();
        if !self.groups.is_empty() {
            lines.push(format!("TLS 1.3 groups: {}", join(&self.groups)));
        }
        lines.push(format!("{} connections", self.connections));
        if let Some(stopped) = &self.stopped {
            lines.push(stopped.clone());
        }
        lines
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
