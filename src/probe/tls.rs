//! The TLS side of the probe: a verifier that records the chain instead of
//! judging it, and a stream wrapper that remembers what the peer sent, so a
//! failed handshake can be told apart (close, reset, alert, plaintext, timeout).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::model::Alert;

/// Most certificates kept from one handshake; rustls already caps the message at 64 KiB.
pub const MAX_CHAIN_CERTS: usize = 16;

/// Lets every handshake finish and keeps the presented chain for later analysis.
///
/// Trust and name are judged afterwards, per trust store (`cert::analyze`), so a bad
/// certificate never hides the second EHLO. Signatures are still checked for real:
/// the server must prove it holds the key.
#[derive(Debug)]
pub struct CapturingVerifier {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
    /// How many certificates the server sent (more than [`MAX_CHAIN_CERTS`] are not kept).
    sent: std::sync::atomic::AtomicUsize,
}

impl CapturingVerifier {
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            chain: Mutex::new(Vec::new()),
            sent: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many certificates the server presented, kept or not.
    pub fn sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.sent
            .store(1 + intermediates.len(), std::sync::atomic::Ordering::Relaxed);
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .take(MAX_CHAIN_CERTS)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A fresh client configuration for one probe: full handshake (no resumption),
/// chain captured by `verifier`.
pub fn client_config(
    verifier: Arc<CapturingVerifier>,
    provider: Arc<CryptoProvider>,
) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the peer sent during the handshake, shared with the probe so it survives
/// the stream being dropped by a failed `connect`.
#[derive(Debug, Default)]
pub struct WireRecord {
    pub bytes_received: u64,
    /// The first bytes received, to recognise plaintext or an alert.
    pub first_bytes: Vec<u8>,
}

const FIRST_BYTES: usize = 64;

/// Wraps the TCP stream under rustls and records what was read.
pub struct Recording<S> {
    inner: S,
    record: Arc<Mutex<WireRecord>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> (Self, Arc<Mutex<WireRecord>>) {
        let record = Arc::new(Mutex::new(WireRecord::default()));
        (
            Self {
                inner,
                record: Arc::clone(&record),
            },
            record,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let fresh = &buf.filled()[before..];
            let mut record = this.record.lock().unwrap_or_else(PoisonError::into_inner);
            record.bytes_received += fresh.len() as u64;
            let room = FIRST_BYTES.saturating_sub(record.first_bytes.len());
            record.first_bytes.extend_from_slice(&fresh[..fresh.len().min(room)]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The rustls error inside an I/O error from tokio-rustls, if there is one.
pub fn rustls_error(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
}

/// An alert as received, with its RFC 8446 name.
pub fn alert(description: rustls::AlertDescription) -> Alert {
    let code = u8::from(description);
    Alert {
        code,
        name: alert_name(code).map_or_else(|| format!("unknown({code})"), str::to_string),
    }
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert names.
pub fn alert_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

/// The first bytes look like a cleartext SMTP reply (`[2-5]dd` then space or hyphen),
/// or at least printable text, rather than a TLS record.
pub fn looks_like_plaintext(first: &[u8]) -> bool {
    match first {
        [a, b, c, d, ..]
            if (b'2'..=b'5').contains(a) && b.is_ascii_digit() && c.is_ascii_digit() && matches!(d, b' ' | b'-') =>
        {
            true
        }
        [] => false,
        bytes => bytes
            .iter()
            .take(8)
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_reply_bytes_are_plaintext_and_tls_records_are_not() {
        assert!(looks_like_plaintext(b"500 5.5.2 Error: bad syntax\r\n"));
        assert!(looks_like_plaintext(b"HTTP/1.1 400"));
        assert!(!looks_like_plaintext(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]));
        assert!(!looks_like_plaintext(&[0x16, 0x03, 0x03, 0x00, 0x7a, 0x02]));
        assert!(!looks_like_plaintext(b""));
    }

    #[test]
    fn alert_names_follow_rfc8446() {
        assert_eq!(
            alert(rustls::AlertDescription::ProtocolVersion).name,
            "protocol_version"
        );
        assert_eq!(alert(rustls::AlertDescription::HandshakeFailure).code, 40);
        assert_eq!(alert_name(200), None);
    }
}
