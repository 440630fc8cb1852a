//! Fetching an MTA-STS policy file the way a sender must (RFC 8461 §3.3): HTTPS to
//! `mta-sts.<domain>`, a certificate valid for that name, no redirects, no caching,
//! a size limit and a timeout.
//!
//! Every way the fetch can fail is its own outcome, because each maps to a different
//! RFC 8460 result type and a different fix.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::{Deserialize, Serialize};

use super::wording::say;
use crate::cert::TrustStore;
use crate::cert::{TrustOutcome, TrustStores, classify_error};
use crate::dns::Dns;
use crate::text::SafeText;

/// RFC 8461 §3.3 suggests senders stop reading after 64 KiB.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Where and how long to fetch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FetchSettings {
    /// 443 in real use; the lab serves every policy host on its own port.
    pub port: u16,
    pub timeout: Duration,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            port: 443,
            timeout: Duration::from_secs(15),
        }
    }
}

/// What fetching the policy file produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FetchOutcome {
    /// 200 with a body within the limit.
    Fetched {
        url: String,
        address: Option<SocketAddr>,
        content_type: Option<SafeText>,
        /// The body's lines as an operator reads them (the policy is parsed from the bytes).
        lines: Vec<SafeText>,
        bytes: usize,
        elapsed_ms: u64,
    },
    /// Any status but 200; a redirect's target is shown, never followed.
    HttpStatus {
        url: String,
        status: u16,
        location: Option<SafeText>,
    },
    /// The policy host's certificate fails the checks a sender applies.
    Certificate { url: String, problem: String },
    /// The body is larger than [`MAX_POLICY_BYTES`].
    TooLarge { url: String, limit: usize },
    /// `mta-sts.<domain>` has no address.
    NoAddress { url: String, message: SafeText },
    /// The fetch did not finish within the timeout.
    Timeout { url: String, after_ms: u64 },
    /// Connection or protocol failure other than the above.
    Failed { url: String, message: SafeText },
}

impl FetchOutcome {
    /// The RFC 8460 result type a reporting sender logs for this outcome, if it fails.
    pub fn rfc8460_result_type(&self) -> Option<crate::model::tlsrpt::ResultType> {
        match self {
            Self::Fetched { .. } => None,
            Self::Certificate { .. } => Some(crate::model::tlsrpt::ResultType::StsWebpkiInvalid),
            _ => Some(crate::model::tlsrpt::ResultType::StsPolicyFetchError),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Fetched { url, .. }
            | Self::HttpStatus { url, .. }
            | Self::Certificate { url, .. }
            | Self::TooLarge { url, .. }
            | Self::NoAddress { url, .. }
            | Self::Timeout { url, .. }
            | Self::Failed { url, .. } => url,
        }
    }

    /// One line for the operator.
    pub fn describe(&self) -> String {
        match self {
            Self::Fetched {
                content_type, bytes, ..
            } => {
                let kind = content_type
                    .as_ref()
                    .map_or_else(|| say("fetch", "no_content_type", &[]), ToString::to_string);
                say(
                    "fetch",
                    "fetched",
                    &[("bytes", &bytes.to_string()), ("content_type", &kind)],
                )
            }
            Self::HttpStatus {
                status,
                location: Some(location),
                ..
            } => say(
                "fetch",
                "redirect",
                &[("status", &status.to_string()), ("location", location.as_str())],
            ),
            Self::HttpStatus { status, .. } => say("fetch", "http_status", &[("status", &status.to_string())]),
            Self::Certificate { problem, .. } => say("fetch", "certificate", &[("problem", problem)]),
            Self::TooLarge { limit, .. } => say("fetch", "too_large", &[("kib", &(limit / 1024).to_string())]),
            Self::NoAddress { message, .. } => say("fetch", "no_address", &[("message", message.as_str())]),
            Self::Timeout { after_ms, .. } => say("fetch", "timeout", &[("ms", &after_ms.to_string())]),
            Self::Failed { message, .. } => say("fetch", "failed", &[("message", message.as_str())]),
        }
    }
}

/// The policy URL for a domain (the port is set by the resolver, not the URL).
pub fn policy_url(domain: &str) -> String {
    format!(
        "https://mta-sts.{}/.well-known/mta-sts.txt",
        domain.trim_end_matches('.')
    )
}

/// Lines of a fetched policy kept for display; the parse sees the whole body.
const MAX_SHOWN_LINES: usize = 60;

/// A fetch's outcome and, when it succeeded, the body as text for the parser.
pub struct Fetch {
    pub outcome: FetchOutcome,
    pub body: Option<String>,
}

/// Fetches the policy of `domain`, resolving through `dns` and trusting every store
/// the probes trust (Mozilla, this host, `--ca-file`).
pub async fn fetch(domain: &str, dns: Arc<Dns>, stores: &TrustStores, settings: FetchSettings) -> Fetch {
    let mut body = None;
    let outcome = fetch_outcome(domain, dns, stores, settings, &mut body).await;
    Fetch { outcome, body }
}

async fn fetch_outcome(
    domain: &str,
    dns: Arc<Dns>,
    stores: &TrustStores,
    settings: FetchSettings,
    text: &mut Option<String>,
) -> FetchOutcome {
    let url = policy_url(domain);
    let started = Instant::now();
    let verifier = match RecordingVerifier::new(stores) {
        Ok(verifier) => Arc::new(verifier),
        Err(message) => {
            return FetchOutcome::Failed {
                url,
                message: SafeText::from_peer_str(&message),
            };
        }
    };
    let resolver = Arc::new(PolicyResolver {
        dns,
        port: settings.port,
        failure: Arc::default(),
    });
    let client = match client(Arc::clone(&verifier), Arc::clone(&resolver), settings.timeout) {
        Ok(client) => client,
        Err(message) => {
            return FetchOutcome::Failed {
                url,
                message: SafeText::from_peer_str(&message),
            };
        }
    };
    let result = tokio::time::timeout(settings.timeout, get(&client, &url)).await;
    let after_ms = started.elapsed().as_millis() as u64;
    match result {
        Err(_) => FetchOutcome::Timeout { url, after_ms },
        Ok(Ok(Body::Complete {
            address,
            content_type,
            body,
        })) => {
            let bytes = body.len();
            let body = String::from_utf8_lossy(&body).into_owned();
            let lines = body
                .lines()
                .take(MAX_SHOWN_LINES)
                .map(SafeText::from_peer_str)
                .collect();
            *text = Some(body);
            FetchOutcome::Fetched {
                url,
                address,
                content_type: content_type.map(|c| SafeText::from_peer_str(&c)),
                lines,
                bytes,
                elapsed_ms: after_ms,
            }
        }
        Ok(Ok(Body::Status { status, location })) => FetchOutcome::HttpStatus {
            url,
            status,
            location: location.map(|l| SafeText::from_peer_str(&l)),
        },
        Ok(Ok(Body::TooLarge)) => FetchOutcome::TooLarge {
            url,
            limit: MAX_POLICY_BYTES,
        },
        Ok(Err(e)) => {
            if let Some(problem) = verifier.failure() {
                FetchOutcome::Certificate { url, problem }
            } else if let Some(message) = resolver.failure() {
                FetchOutcome::NoAddress {
                    url,
                    message: SafeText::from_peer_str(&message),
                }
            } else if e.is_timeout() {
                FetchOutcome::Timeout { url, after_ms }
            } else {
                FetchOutcome::Failed {
                    url,
                    message: SafeText::from_peer_str(&error_chain(&e)),
                }
            }
        }
    }
}

/// What came back, before it becomes an outcome.
enum Body {
    Complete {
        address: Option<SocketAddr>,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    Status {
        status: u16,
        location: Option<String>,
    },
    TooLarge,
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Body, reqwest::Error> {
    let mut response = client.get(url).send().await?;
    let status = response.status().as_u16();
    let header = |name: reqwest::header::HeaderName, response: &reqwest::Response| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    if status != 200 {
        let location = header(reqwest::header::LOCATION, &response);
        return Ok(Body::Status { status, location });
    }
    let content_type = header(reqwest::header::CONTENT_TYPE, &response);
    let address = response.remote_addr();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_POLICY_BYTES {
            return Ok(Body::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Complete {
        address,
        content_type,
        body,
    })
}

fn client(
    verifier: Arc<RecordingVerifier>,
    resolver: Arc<PolicyResolver>,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let tls = rustls::ClientConfig::builder_with_provider(crate::probe::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS for the policy fetch: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .https_only(true)
        .http1_only()
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("mxtriage/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(resolver)
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| format!("cannot build the HTTPS client: {e}"))
}

/// The source chain of a reqwest error, which on its own says little ("error sending request").
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Resolves the policy host with the check's own resolver (same `--nameserver`), so the
/// fetch sees the DNS the probes saw.
struct PolicyResolver {
    dns: Arc<Dns>,
    port: u16,
    /// Why resolution failed, kept for the outcome: reqwest's own error only says "dns error".
    failure: Arc<Mutex<Option<String>>>,
}

impl PolicyResolver {
    fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let dns = Arc::clone(&self.dns);
        let port = self.port;
        let host = name.as_str().to_string();
        let failure = Arc::clone(&self.failure);
        Box::pin(async move {
            let message = match dns.addresses(&host).await {
                Ok(addresses) if !addresses.is_empty() => {
                    let addrs: Addrs = Box::new(addresses.into_iter().map(move |ip| SocketAddr::new(ip, port)));
                    return Ok(addrs);
                }
                Ok(_) => format!("{host} has no A or AAAA record"),
                Err(message) => message,
            };
            *failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(message.clone());
            Err(message.into())
        })
    }
}

/// Verifies exactly as a sender does (webpki, all stores merged) and remembers why it
/// refused, because reqwest folds the reason into a generic connect error.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    failure: Mutex<Option<String>>,
}

impl RecordingVerifier {
    fn new(stores: &TrustStores) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        for which in [TrustStore::Mozilla, TrustStore::System, TrustStore::CaFile] {
            roots.roots.extend(stores.store(which).roots.iter().cloned());
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), crate::probe::tls::provider())
            .build()
            .map_err(|e| format!("cannot build the certificate verifier: {e}"))?;
        Ok(Self {
            inner,
            failure: Mutex::new(None),
        })
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        if let Err(error) = &verdict {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(certificate_problem(error, server_name));
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The refusal in an operator's words. The store-independent verdicts come from the
/// probes' own mapping (`cert::classify_error`), which also sanitises webpki's wording.
fn certificate_problem(error: &rustls::Error, server_name: &ServerName<'_>) -> String {
    if let rustls::Error::InvalidCertificate(
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
    ) = error
    {
        return format!("the certificate does not cover {}", server_name.to_str());
    }
    match classify_error(error) {
        TrustOutcome::Expired => "the certificate has expired".into(),
        TrustOutcome::NotYetValid => "the certificate is not valid yet".into(),
        TrustOutcome::UnknownIssuer => {
            "the certificate is not issued by a trusted CA (or the chain is incomplete)".into()
        }
        other => format!("the certificate is refused: {}", other.describe()),
    }
}
