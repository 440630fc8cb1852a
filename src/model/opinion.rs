//! What the system's OpenSSL made of an address: the relay's own kind of TLS library.

use serde::{Deserialize, Serialize};

use crate::text::SafeText;

/// `openssl s_client -starttls smtp` against the same address as the probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondOpinion {
    /// The handshake completed ("CONNECTION ESTABLISHED").
    pub connected: bool,
    pub protocol: Option<SafeText>,
    pub cipher: Option<SafeText>,
    /// "OK", or OpenSSL's verification error ("certificate has expired").
    pub verification: Option<SafeText>,
    pub peer_certificate: Option<SafeText>,
    /// OpenSSL's own error line when the handshake failed.
    pub error: Option<SafeText>,
}

impl SecondOpinion {
    /// One line for reports.
    pub fn describe(&self) -> String {
        if self.connected {
            format!(
                "OpenSSL connects: {} {}, verification: {}",
                self.protocol.as_ref().map_or("?", |p| p.as_str()),
                self.cipher.as_ref().map_or("?", |c| c.as_str()),
                self.verification.as_ref().map_or("?", |v| v.as_str())
            )
        } else {
            format!(
                "OpenSSL cannot connect: {}",
                self.error.as_ref().map_or("no details", |e| e.as_str())
            )
        }
    }
}
