//! Commands to reproduce each probe by hand, so the operator (or the other side's
//! postmaster) can check the evidence without mxtriage.

use crate::diagnose::tree::VerdictSpec;
use crate::diagnose::verdict::{Family, Reproduce};
use crate::model::CheckReport;
use crate::target::Target;

/// The `swaks` and `openssl s_client` commands that repeat each address's probe by hand.
pub(super) fn reproduce(spec: &VerdictSpec, report: &CheckReport) -> Vec<Reproduce> {
    let version_matters = spec.family == Family::NoSharedVersion;
    let mailbox = match &report.target {
        Target::Domain { name } => format!("postmaster@{name}"),
        _ => String::new(),
    };
    let mut seen = Vec::new();
    report
        .probes
        .iter()
        .filter(|p| {
            let fresh = !seen.contains(&p.address);
            seen.push(p.address);
            fresh
        })
        .map(|p| {
            let ip_target = p.mx.parse::<std::net::IpAddr>().is_ok();
            // The name the probe sent and checked: --sni when given, else the MX host.
            let sni = p.tls.as_ref().and_then(|t| t.sni.clone());
            let reference = p
                .chain
                .as_ref()
                .map_or_else(|| p.mx.clone(), |c| c.name.reference.clone());
            let to = match (mailbox.is_empty(), p.mx.parse::<std::net::IpAddr>()) {
                (false, _) => mailbox.clone(),
                // RFC 5321 §4.1.3: an address literal goes in brackets.
                (true, Ok(std::net::IpAddr::V6(ip))) => format!("postmaster@[IPv6:{ip}]"),
                (true, Ok(ip)) => format!("postmaster@[{ip}]"),
                (true, Err(_)) => format!("postmaster@{}", p.mx),
            };
            let sni = sni.or_else(|| (!ip_target).then(|| p.mx.clone()));
            let mut swaks = format!(
                "swaks --to {} --server {} --port {} --ehlo {} --tls --quit-after TLS",
                shell(&to),
                p.address.ip(),
                p.address.port(),
                shell(&p.ehlo_name)
            );
            if let Some(sni) = &sni {
                swaks.push_str(&format!(" --tls-sni {}", shell(sni)));
            }
            let mut openssl = format!(
                "openssl s_client -starttls smtp -connect {} -name {} -brief",
                p.address,
                shell(&p.ehlo_name)
            );
            if let Some(sni) = &sni {
                openssl.push_str(&format!(" -servername {}", shell(sni)));
            }
            match reference.parse::<std::net::IpAddr>() {
                Ok(ip) => openssl.push_str(&format!(" -verify_ip {ip}")),
                Err(_) => openssl.push_str(&format!(" -verify_hostname {}", shell(&reference))),
            }
            openssl.push_str(" -verify_return_error");
            if version_matters {
                swaks.push_str(" --tls-protocol tlsv1_2");
                openssl.push_str(" -tls1_2");
            }
            Reproduce {
                address: p.address,
                mx: p.mx.clone(),
                swaks,
                openssl,
            }
        })
        .collect()
}

/// Quotes a shell word when it holds anything but safe characters. Brackets are not
/// safe: `postmaster@[192.0.2.10]` is a glob pattern, which zsh refuses when nothing
/// matches and bash expands when a file does.
pub(super) fn shell(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "._-:@/".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell("mx.example.com"), "mx.example.com");
        assert_eq!(shell("it's here"), r"'it'\''s here'");
        assert_eq!(shell("postmaster@[192.0.2.10]"), "'postmaster@[192.0.2.10]'");
    }
}
