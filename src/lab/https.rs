//! The lab's MTA-STS policy server: one HTTPS listener that answers for every
//! `mta-sts.<scenario>.lab.test`, choosing certificate and answer by the name asked for.
//!
//! HTTP is hand-written on purpose: the server must be able to misbehave (redirect,
//! oversized body, wrong certificate) in ways a real HTTP server library resists.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::LabError;
use super::pki::Identity;

/// How the policy host of one scenario answers `GET /.well-known/mta-sts.txt`.
#[derive(Debug, Clone)]
pub enum PolicyAnswer {
    /// 200, `text/plain`, this body.
    Policy(String),
    /// This status with a short body.
    Status(u16),
    /// 301 to this location.
    Redirect(String),
    /// 200 with a body larger than any sender accepts.
    Oversized,
}

/// One policy host: its certificate and its answer.
pub struct PolicySite {
    pub host: String,
    pub identity: Identity,
    pub answer: PolicyAnswer,
}

/// Each site's certificate, chosen by the SNI the client sent.
struct Certificates(HashMap<String, Arc<CertifiedKey>>);

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name()?.to_ascii_lowercase();
        self.0.get(&name).cloned()
    }
}

/// Largest request head the lab reads before answering.
const MAX_REQUEST: usize = 8 * 1024;

/// Builds the TLS acceptor and the answer table for `sites`.
pub fn acceptor(sites: Vec<PolicySite>) -> Result<(TlsAcceptor, Arc<HashMap<String, PolicyAnswer>>), LabError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut keys = HashMap::new();
    let mut answers = HashMap::new();
    for site in sites {
        let key = provider
            .key_provider
            .load_private_key(site.identity.key)
            .map_err(LabError::Tls)?;
        keys.insert(site.host.clone(), Arc::new(CertifiedKey::new(site.identity.chain, key)));
        answers.insert(site.host, site.answer);
    }
    let resolver = Arc::new(Certificates(keys));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    Ok((TlsAcceptor::from(Arc::new(config)), Arc::new(answers)))
}

/// Accepts connections until the task is aborted.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, answers: Arc<HashMap<String, PolicyAnswer>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, typically: wait instead of spinning a core.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let answers = Arc::clone(&answers);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, acceptor, &answers)).await;
        });
    }
}

async fn answer(
    stream: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    answers: &HashMap<String, PolicyAnswer>,
) -> std::io::Result<()> {
    let mut tls = acceptor.accept(stream).await?;
    let host = tls
        .get_ref()
        .1
        .server_name()
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let path_ok = request.starts_with(b"GET /.well-known/mta-sts.txt ");
    let response = match (answers.get(&host), path_ok) {
        (Some(answer), true) => render(answer),
        _ => render(&PolicyAnswer::Status(404)),
    };
    tls.write_all(&response).await?;
    tls.shutdown().await
}

fn render(answer: &PolicyAnswer) -> Vec<u8> {
    let ok = "200 OK".to_string();
    let (status, extra, body): (String, String, Vec<u8>) = match answer {
        PolicyAnswer::Policy(text) => (ok, "Content-Type: text/plain\r\n".into(), text.as_bytes().to_vec()),
        PolicyAnswer::Status(code) => (
            format!("{code} Lab Status"),
            String::new(),
            b"no policy here\n".to_vec(),
        ),
        PolicyAnswer::Redirect(location) => (
            "301 Moved Permanently".into(),
            format!("Location: {location}\r\n"),
            b"moved\n".to_vec(),
        ),
        PolicyAnswer::Oversized => {
            let mut body = b"version: STSv1\nmode: enforce\nmax_age: 86400\n".to_vec();
            while body.len() <= 2 * crate::policy::sts_fetch::MAX_POLICY_BYTES {
                body.extend_from_slice(b"mx: padding.example.net\n");
            }
            (ok, "Content-Type: text/plain\r\n".into(), body)
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}
