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
            let sni = p
                .tls
                .as_ref()
                .and_then(|t| t.sni.clone())
                .unwrap_or_else(|| p.mx.clone());
            let ip_target = p.mx.parse::<std::net::IpAddr>().is_ok();
            let to = if mailbox.is_empty() {
                format!("postmaster@{}", p.mx)
            } else {
                mailbox.clone()
            };
            let mut swaks = format!(
                "swaks --to {} --server {} --port {} --ehlo {} --tls --quit-after TLS",
                shell(&to),
                p.address.ip(),
                p.address.port(),
                shell(&p.ehlo_name)
            );
            if !ip_target {
                swaks.push_str(&format!(" --tls-sni {}", shell(&sni)));
            }
            let mut openssl = format!(
                "openssl s_client -starttls smtp -connect {} -name {} -brief",
                p.address,
                shell(&p.ehlo_name)
            );
            if ip_target {
                openssl.push_str(&format!(" -verify_ip {}", p.mx));
            } else {
                openssl.push_str(&format!(
                    " -servername {} -verify_hostname {}",
                    shell(&sni),
                    shell(&p.mx)
                ));
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

/// Quotes a shell word when it holds anything but safe characters.
fn shell(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:@[]/".contains(c))
    {
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
    }
}
