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
    /// Accepted suites: the server's first choice, then what the enumeration found in the
    /// order chosen (its preference when it has one), then the picks of the targeted
    /// offers (the sender's overlap, the weakest families) the enumeration did not reach.
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
    /// Why the scan stopped early (throttling, a tarpit, a silent server, the deadline):
    /// what it found is then incomplete in ways it cannot tell.
    pub stopped: Option<String>,
    /// What the connection budget left out (per version: suites not enumerated); the
    /// rest is complete. Empty when nothing was cut.
    #[serde(default)]
    pub truncated: Vec<String>,
    /// Why the scan slowed down (421, resets, slow greetings), if it did.
    #[serde(default)]
    pub paced: Option<String>,
    /// Each named sender's own ClientHello (size, suites, groups, key shares), sent as is:
    /// "would this sender connect", measured on the wire.
    #[serde(default)]
    pub senders: Vec<SenderHello>,
}

/// One named sender's ClientHello and what the server made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderHello {
    pub sender: String,
    /// The ClientHello record's size in bytes.
    pub bytes: usize,
    pub accepted: bool,
    /// How it was refused, when it was.
    pub refusal: Option<Refusal>,
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
        for hello in &self.senders {
            lines.push(if hello.accepted {
                format!("{} ClientHello ({} bytes): accepted", hello.sender, hello.bytes)
            } else {
                let how = hello
                    .refusal
                    .as_ref()
                    .map_or_else(String::new, |r| format!(" ({})", format!("{r:?}").to_lowercase()));
                format!("{} ClientHello ({} bytes): refused{how}", hello.sender, hello.bytes)
            });
        }
        lines.extend(self.truncated.iter().cloned());
        lines.extend(self.paced.iter().cloned());
        if let Some(stopped) = &self.stopped {
            lines.push(stopped.clone());
        }
        lines
    }
}

/// The short follow-up on an address whose TLS handshake failed: a few ClientHellos
/// (at most 8) that tell a server that completes no handshake from one that serves only
/// old versions, old or anonymous suites, depends on SNI or drops large hellos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// Some ClientHello of ours got a usable first flight.
    pub any_handshake: bool,
    /// Versions the server chose, oldest first.
    pub versions: Vec<TlsVersion>,
    /// Suites the server chose, in the order seen.
    pub suites: Vec<CipherSuite>,
    /// Every version it chose is older than TLS 1.2, though newer ones were offered.
    pub only_legacy_versions: bool,
    /// It completed only with outdated suites (CBC, static RSA, 3DES, anonymous): an
    /// offer of modern suites alone was refused.
    pub only_legacy_suites: bool,
    /// It completed only with anonymous suites (no certificate): an offer without them
    /// was refused. Opportunistic Postfix senders still deliver; verifying ones cannot.
    pub only_anonymous: bool,
    /// The same offer with and without SNI got different outcomes; `None`: not measured.
    pub sni_dependent: Option<bool>,
    /// The same offer padded to about 1.5 KB was refused while the small one passed;
    /// `None`: not measured (nothing passed, or the budget ran out).
    pub large_hello_refused: Option<bool>,
    /// Senders whose hello is at least that large, hence affected when it is refused.
    #[serde(default)]
    pub large_hello_senders: Vec<String>,
    /// TLS 1.3 groups the server chose (directly or by HelloRetryRequest).
    pub groups: Vec<NamedGroup>,
    /// It answered a ClientHello with cleartext (still speaking SMTP).
    pub plaintext_answer: bool,
    /// How the first refused offer was turned down, when one was.
    pub refusal: Option<Refusal>,
    pub connections: usize,
    /// Why it stopped before answering everything (421, tarpit, silence), if it did.
    pub stopped: Option<String>,
}

impl FollowUp {
    /// One line for reports: what the server does complete, and what it refuses.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.plaintext_answer {
            parts.push("answers ClientHellos with cleartext".into());
        } else if !self.any_handshake {
            let how = match &self.refusal {
                Some(Refusal::Alert { name, .. }) => format!(" (alert {name})"),
                Some(other) => format!(" ({})", format!("{other:?}").to_lowercase()),
                None => String::new(),
            };
            parts.push(format!("completes no handshake with any offer{how}"));
        } else {
            parts.push(format!(
                "completes {} with {}",
                join(&self.versions),
                join(&self.suites)
            ));
            if self.only_legacy_versions {
                parts.push("only versions older than TLS 1.2".into());
            }
            if self.only_anonymous {
                parts.push("only anonymous suites (no certificate)".into());
            } else if self.only_legacy_suites {
                parts.push("only outdated suites".into());
            }
            if !self.groups.is_empty() {
                parts.push(format!("groups {}", join(&self.groups)));
            }
        }
        match self.sni_dependent {
            Some(true) => parts.push("depends on SNI".into()),
            Some(false) => parts.push("same without SNI".into()),
            None => {}
        }
        if self.large_hello_refused == Some(true) {
            parts.push(format!(
                "refuses large ClientHellos (affects {})",
                self.large_hello_senders.join(", ")
            ));
        }
        parts.push(format!("{} connections", self.connections));
        if let Some(stopped) = &self.stopped {
            parts.push(stopped.clone());
        }
        parts.join("; ")
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
