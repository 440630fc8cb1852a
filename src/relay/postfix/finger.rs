//! The relay's own client as the second opinion: `posttls-finger` run against one
//! address with the destination's effective level, match names, protocols, cipher
//! grade and CA settings. It links the same Postfix TLS code and library as the
//! smtp(8) client, so where it disagrees with this tool's probe, it is what the queue
//! will see.

use std::net::SocketAddr;
use std::path::Path;

use crate::model::relay::{ClientPolicy, Delivery, Level, RelayView};
use crate::relay::command;
use crate::relay::predict::Session;

/// The arguments that make posttls-finger behave as this relay does for one address.
pub fn arguments(
    relay: &RelayView,
    policy: &ClientPolicy,
    host: &str,
    nexthop: &str,
    address: SocketAddr,
) -> Vec<String> {
    let mut args = vec!["-l".to_string(), finger_level(relay, policy).name().to_string()];
    let value = |name: &str| {
        relay
            .setting(name)
            .map(|s| s.value.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(file) = value("smtp_tls_CAfile") {
        args.extend(["-F".into(), file]);
    }
    if let Some(path) = value("smtp_tls_CApath") {
        args.extend(["-P".into(), format!("{}/", path.trim_end_matches('/'))]);
    }
    if let Some(protocols) = policy.protocols.as_ref().filter(|p| !p.trim().is_empty()) {
        args.extend(["-p".into(), protocols.clone()]);
    }
    if let Some(grade) = policy.ciphers.as_ref().filter(|c| !c.trim().is_empty()) {
        args.extend(["-g".into(), grade.clone()]);
    }
    if let Some(servername) = value("smtp_tls_servername") {
        let sni = match servername.as_str() {
            "hostname" => host.to_string(),
            "nexthop" => nexthop.to_string(),
            other => other.to_string(),
        };
        args.extend(["-s".into(), sni]);
    }
    for (flag, name) in [("-t", "smtp_connect_timeout"), ("-T", "smtp_helo_timeout")] {
        if let Some(seconds) = value(name).as_deref().and_then(seconds) {
            args.extend([flag.into(), seconds.min(60).to_string()]);
        }
    }
    args.push(format!("[{}]:{}", address.ip(), address.port()));
    if policy.level.verifies() {
        for strategy in &policy.matches {
            args.push(match strategy.as_str() {
                "hostname" => host.to_string(),
                "nexthop" => nexthop.to_string(),
                "dot-nexthop" => format!(".{nexthop}"),
                literal => literal.to_string(),
            });
        }
    }
    args
}

/// posttls-finger knows no opportunistic DANE without DNSSEC; as smtp(8) then does, use `may`.
fn finger_level(relay: &RelayView, policy: &ClientPolicy) -> Level {
    let dnssec = relay
        .setting("smtp_dns_support_level")
        .is_some_and(|s| s.value.eq_ignore_ascii_case("dnssec"));
    match policy.level {
        Level::Dane if !dnssec => Level::May,
        Level::DaneOnly if !dnssec => Level::Encrypt,
        level => level,
    }
}

/// A Postfix time value (`30s`, `5m`, `300`) in seconds.
pub fn seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// What posttls-finger printed, and what it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerRun {
    pub command: String,
    pub session: Session,
    /// Its output, without the program-name prefix (bounded by the command runner).
    pub lines: Vec<String>,
}

/// Runs posttls-finger; `None` when it is not installed.
pub async fn run(config_dir: Option<&Path>, args: &[String]) -> Option<Result<FingerRun, command::CommandError>> {
    // posttls-finger has no -c; it finds main.cf through MAIL_CONFIG, as every Postfix command does.
    let shown = command::display("posttls-finger", args);
    let output = match command::run_merged("posttls-finger", args, config_dir).await {
        Err(command::CommandError::NotInstalled { .. }) => return None,
        Err(e) => return Some(Err(e)),
        Ok(output) => output,
    };
    let lines: Vec<String> = output
        .lines()
        .map(|l| l.strip_prefix("posttls-finger: ").unwrap_or(l).to_string())
        .collect();
    Some(Ok(FingerRun {
        command: shown,
        session: parse(&lines),
        lines,
    }))
}

/// Reads posttls-finger's log lines (with SMTP chat) into the session Postfix would have.
pub fn parse(lines: &[String]) -> Session {
    let find = |needle: &str| lines.iter().find(|l| l.contains(needle));
    if let Some(line) = find("Failed to establish session") {
        let reason = line
            .rsplit_once(": connect to ")
            .map_or(line.clone(), |(_, r)| format!("connect to {r}"));
        return Session::Failed {
            reason,
            permanent: false,
        };
    }
    if let Some(greeting) = lines
        .iter()
        .find_map(|l| l.strip_prefix("< "))
        .filter(|g| !g.starts_with("220"))
    {
        return Session::Failed {
            reason: format!("refused to talk: {greeting}"),
            permanent: greeting.starts_with('5'),
        };
    }
    for (index, line) in lines.iter().enumerate() {
        let kind = [
            ("Verified TLS connection established", Delivery::Verified),
            ("Trusted TLS connection established", Delivery::Trusted),
            ("Untrusted TLS connection established", Delivery::Untrusted),
            ("Anonymous TLS connection established", Delivery::Anonymous),
        ]
        .into_iter()
        .find_map(|(needle, kind)| line.contains(needle).then_some(kind));
        if let Some(kind) = kind {
            let lost = lines[index + 1..]
                .iter()
                .find(|l| l.starts_with("lost connection") || l.contains("timed out"))
                .map(|l| l.trim_start_matches("lost connection ").to_string());
            return Session::Established { kind, lost };
        }
    }
    if let Some(line) = find("STARTTLS rejected: ") {
        return Session::StartTlsRefused {
            reply: line
                .rsplit_once("STARTTLS rejected: ")
                .map_or_else(String::new, |(_, r)| r.to_string()),
        };
    }
    if let Some(line) = find("TLS library problem")
        .or_else(|| find("SSL_connect error"))
        .or_else(|| find("Cannot start TLS"))
    {
        return Session::HandshakeFailed { detail: line.clone() };
    }
    if lines.iter().any(|l| l == "> STARTTLS") {
        let detail = lines.last().cloned().unwrap_or_default();
        return Session::HandshakeFailed { detail };
    }
    if let Some(line) = lines
        .iter()
        .find(|l| l.starts_with("lost connection") || l.contains("timed out"))
    {
        return Session::Failed {
            reason: line.clone(),
            permanent: false,
        };
    }
    Session::NoStartTls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn recorded_outputs_read_as_sessions() {
        // Recorded from posttls-finger 3.7.11 against the lab.
        let untrusted = lines(
            "Connected to 127.77.0.11[127.77.0.11]:40145\n< 220 mx ESMTP\n> EHLO relay\n< 250-STARTTLS\n> STARTTLS\n< 220 2.0.0 Ready\nserver certificate verification failed for 127.77.0.11[127.77.0.11]:40145: certificate has expired\nUntrusted TLS connection established to 127.77.0.11[127.77.0.11]:40145: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n> EHLO relay\n< 250 mx\n> QUIT",
        );
        assert_eq!(
            parse(&untrusted),
            Session::Established {
                kind: Delivery::Untrusted,
                lost: None
            }
        );
        let lost = lines(
            "Trusted TLS connection established to a[127.77.0.24]:40145: TLSv1.3 with cipher X\nlost connection while sending EHLO\nwarning: lost connection while sending QUIT command",
        );
        assert_eq!(
            parse(&lost),
            Session::Established {
                kind: Delivery::Trusted,
                lost: Some("while sending EHLO".into())
            }
        );
        let alert = lines(
            "> STARTTLS\n< 220 ready\nSSL_connect error to 127.77.0.21[127.77.0.21]:40145: -1\nwarning: TLS library problem: error:0A000410:SSL routines::sslv3 alert handshake failure",
        );
        assert!(matches!(parse(&alert), Session::HandshakeFailed { .. }));
        let refused = lines(
            "Failed to establish session to [127.0.0.1]:1 via 127.0.0.1: connect to 127.0.0.1[127.0.0.1]:1: Connection refused",
        );
        assert_eq!(
            parse(&refused),
            Session::Failed {
                reason: "connect to 127.0.0.1[127.0.0.1]:1: Connection refused".into(),
                permanent: false
            }
        );
        let plain =
            lines("Connected to x[127.77.0.16]:1\n< 220 mx\n> EHLO relay\n< 250-mx\n< 250 8BITMIME\n> QUIT\n< 221 bye");
        assert_eq!(parse(&plain), Session::NoStartTls);
        let rejected = lines("STARTTLS rejected: 454 4.7.0 TLS not available due to local problem");
        assert_eq!(
            parse(&rejected),
            Session::StartTlsRefused {
                reply: "454 4.7.0 TLS not available due to local problem".into()
            }
        );
    }

    #[test]
    fn postfix_time_units() {
        assert_eq!(seconds("30s"), Some(30));
        assert_eq!(seconds("5m"), Some(300));
        assert_eq!(seconds("300"), Some(300));
        assert_eq!(seconds("x"), None);
    }
}
