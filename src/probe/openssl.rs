//! A second opinion from the relay's own kind of TLS library: `openssl s_client
//! -starttls smtp` against the same address. What OpenSSL sees is what an OpenSSL
//! relay will do; a disagreement with rustls is evidence in itself.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::ProbeTarget;
pub use crate::model::opinion::SecondOpinion;
use crate::text::SafeText;

/// Most output read from openssl; its brief mode prints a few hundred bytes.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `openssl s_client` against `target`; `None` when openssl is not installed.
pub async fn second_opinion(
    target: &ProbeTarget,
    sni: &str,
    ehlo: &str,
    ca_file: Option<&Path>,
    implicit_tls: bool,
    limit: Duration,
) -> Option<SecondOpinion> {
    let mut command = tokio::process::Command::new("openssl");
    command.arg("s_client");
    if !implicit_tls {
        command.args(["-starttls", "smtp", "-name", ehlo]);
    }
    command.arg("-connect").arg(target.address.to_string());
    if sni.parse::<std::net::IpAddr>().is_err() {
        command.args(["-servername", sni, "-verify_hostname", sni]);
    }
    command.arg("-brief");
    if let Some(ca) = ca_file {
        command.arg("-CAfile").arg(ca);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().ok()?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return None;
    };
    let collect = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (mut stdout, mut stderr) = (stdout.take(MAX_OUTPUT), stderr.take(MAX_OUTPUT));
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        let _ = child.wait().await;
        err.extend_from_slice(&out);
        err
    };
    let output = match tokio::time::timeout(limit, collect).await {
        Ok(output) => output,
        Err(_) => {
            return Some(SecondOpinion {
                connected: false,
                protocol: None,
                cipher: None,
                verification: None,
                peer_certificate: None,
                error: Some(SafeText::from_peer_str(&format!(
                    "no answer within {} s",
                    limit.as_secs()
                ))),
            });
        }
    };
    Some(parse(&String::from_utf8_lossy(&output)))
}

/// Reads `s_client -brief` output.
pub fn parse(output: &str) -> SecondOpinion {
    let field = |prefix: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| SafeText::from_peer_str(v.trim()))
    };
    let verification = field("Verification: ").or_else(|| field("Verification error: "));
    SecondOpinion {
        connected: output.lines().any(|l| l.trim() == "CONNECTION ESTABLISHED"),
        protocol: field("Protocol version: "),
        cipher: field("Ciphersuite: "),
        verification,
        peer_certificate: field("Peer certificate: "),
        error: output
            .lines()
            .find(|l| l.contains(":error:"))
            .map(|l| SafeText::from_peer_str(l.rsplit_once(":error:").map_or(l, |(_, e)| e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brief_output_is_read() {
        let ok = "CONNECTION ESTABLISHED\nProtocol version: TLSv1.3\nCiphersuite: TLS_AES_256_GCM_SHA384\nPeer certificate: CN = mx.example.com\nVerification error: certificate has expired\n";
        let o = parse(ok);
        assert!(o.connected);
        assert_eq!(o.protocol.unwrap().as_str(), "TLSv1.3");
        assert_eq!(o.verification.unwrap().as_str(), "certificate has expired");
        let failed = parse(
            "4057F0:error:0A000126:SSL routines:ssl3_read_n:unexpected eof while reading:../ssl/record/rec_layer_s3.c:318:\n",
        );
        assert!(!failed.connected);
        assert!(failed.error.unwrap().as_str().contains("unexpected eof"));
    }
}
