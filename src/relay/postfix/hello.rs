//! The relay's own ClientHello: posttls-finger, with the destination's effective
//! level, protocols and ciphers, connects to a one-shot listener on loopback that
//! plays an MX up to STARTTLS and keeps the hello. What it offers (versions, suites,
//! groups, size) replaces the guessed sender profile.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::model::relay::{ClientPolicy, RelayHello, RelayView};
use crate::model::tls::{CipherSuite, NamedGroup, TlsVersion};
use crate::probe::scan::codec;

/// Longest wait for posttls-finger to connect and send its hello.
const WAIT: Duration = Duration::from_secs(10);
/// Largest ClientHello kept (a post-quantum hello is about 1.5 KiB).
const MAX_HELLO: usize = 64 * 1024;

/// Captures the relay's ClientHello; the error says why it could not.
pub async fn capture(
    relay: &RelayView,
    policy: &ClientPolicy,
    nexthop: &str,
    config_dir: Option<&std::path::Path>,
) -> Result<RelayHello, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let args = super::finger::arguments(relay, policy, "hello.capture.invalid", nexthop, address);
    let command = crate::relay::command::display("posttls-finger", &args);
    let serve = async {
        let (mut stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        stream
            .write_all(b"220 hello.capture.invalid ESMTP\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut said_starttls = false;
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("posttls-finger closed before sending a ClientHello".to_string());
            }
            buf.extend_from_slice(&chunk[..n]);
            if !said_starttls {
                let text = String::from_utf8_lossy(&buf).to_ascii_uppercase();
                if text.contains("STARTTLS\r\n") {
                    stream
                        .write_all(b"220 2.0.0 Ready\r\n")
                        .await
                        .map_err(|e| e.to_string())?;
                    said_starttls = true;
                    buf.clear();
                } else if text.ends_with("\r\n") && (text.starts_with("EHLO") || text.starts_with("HELO")) {
                    stream
                        .write_all(b"250-hello.capture.invalid\r\n250 STARTTLS\r\n")
                        .await
                        .map_err(|e| e.to_string())?;
                    buf.clear();
                }
                continue;
            }
            if let Some(hello) = codec::parse_client_hello(&buf) {
                return Ok(hello);
            }
            if buf.len() > MAX_HELLO {
                return Err("no ClientHello within 64 KiB".to_string());
            }
        }
    };
    let finger = super::finger::run(config_dir, &args);
    tokio::pin!(finger);
    let serve = tokio::time::timeout(WAIT, serve);
    tokio::pin!(serve);
    // posttls-finger ends on its own once the hello is read (the listener hangs up); if
    // it ends first, it never sent one, and its own error says why.
    let hello = tokio::select! {
        hello = &mut serve => hello,
        ended = &mut finger => match ended {
            None => return Err("posttls-finger is not installed".to_string()),
            Some(Err(e)) => return Err(e.to_string()),
            Some(Ok(_)) => serve.await,
        },
    };
    let hello = hello.map_err(|_| format!("no ClientHello from `{command}` within {} s", WAIT.as_secs()))??;
    Ok(RelayHello {
        versions: hello.versions.into_iter().map(TlsVersion).collect(),
        suites: hello.suites.into_iter().map(CipherSuite).collect(),
        groups: hello.groups.into_iter().map(NamedGroup).collect(),
        size: hello.size,
        command,
    })
}
