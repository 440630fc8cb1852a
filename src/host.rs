//! Host names: the name of the host mxtriage runs on (the EHLO name and the vantage
//! point in reports), and the check that a name is a real host name before it goes
//! into an EHLO command or a generated configuration line.

use std::net::IpAddr;

use thiserror::Error;

/// This host's name as the kernel knows it.
pub fn hostname() -> String {
    crate::files::read_text(
        std::path::Path::new("/proc/sys/kernel/hostname"),
        crate::files::HOST_FILE,
    )
    .ok()
    .map(|s| s.trim().to_string())
    .filter(|s| !s.is_empty())
    .or_else(libc_hostname)
    .unwrap_or_else(|| "unknown".to_string())
}

fn libc_hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length and gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..end].to_vec()).ok()
}

/// The default EHLO name: the FQDN, from the hostname or `/etc/hosts`.
///
/// Never a bare `localhost`: receivers reject it. When no FQDN is known, the
/// short name is used and the operator should pass `--ehlo`.
pub fn ehlo_name() -> String {
    let short = hostname();
    if short.contains('.') && !short.starts_with("localhost") {
        return short;
    }
    if let Some(fqdn) = crate::files::read_text(std::path::Path::new("/etc/hosts"), crate::files::HOST_FILE)
        .ok()
        .and_then(|hosts| fqdn_from_hosts(&hosts, &short))
    {
        return fqdn;
    }
    if short == "localhost" || short == "unknown" {
        "mxtriage.invalid".to_string()
    } else {
        short
    }
}

/// Checks an operator-given EHLO name: a host name or an address literal
/// (`[192.0.2.1]`, `[IPv6:2001:db8::1]`). Anything else could smuggle commands.
pub fn valid_ehlo(name: &str) -> Result<String, String> {
    let name = name.trim();
    let ok = if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        inner.strip_prefix("IPv6:").unwrap_or(inner).parse::<IpAddr>().is_ok()
    } else {
        check_host_name(name).is_ok()
    };
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{name:?} is not a host name or an address literal like [192.0.2.1]"
        ))
    }
}

/// Why a name is not a host name (RFC 1123 LDH labels).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostNameError {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than 253 characters")]
    TooLong,
    #[error("it has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("a label is longer than 63 characters")]
    LongLabel,
    #[error("it contains {0}; a host name has only letters, digits, '-' and '.'")]
    Character(String),
    #[error("a label starts or ends with '-'")]
    EdgeHyphen,
}

/// A host as it may appear in a generated configuration line (a Postfix policy
/// key, an Exim host list): only these two shapes, so list syntax in a hostile
/// name (`: ! * :` in Exim) can never reach the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigHost {
    /// LDH labels; a trailing dot is kept as given.
    Name(String),
    Address(IpAddr),
}

impl ConfigHost {
    /// Accepts an IP address, or a host name with an optional trailing dot.
    pub fn parse(text: &str) -> Result<ConfigHost, HostNameError> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(ConfigHost::Address(ip));
        }
        check_host_name(text.strip_suffix('.').unwrap_or(text))?;
        Ok(ConfigHost::Name(text.to_string()))
    }
}

/// LDH labels of at most 63 octets, at most 253 octets in all, no trailing dot.
fn check_host_name(name: &str) -> Result<(), HostNameError> {
    if name.is_empty() {
        return Err(HostNameError::Empty);
    }
    if name.len() > 253 {
        return Err(HostNameError::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostNameError::EmptyLabel);
        }
        if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(HostNameError::Character(describe(bad)));
        }
        if label.len() > 63 {
            return Err(HostNameError::LongLabel);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostNameError::EdgeHyphen);
        }
    }
    Ok(())
}

/// One character named so that spaces and control characters are visible.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() => format!("a control character (\\x{:02x})", u32::from(c)),
        c => format!("'{}'", crate::text::SafeText::clean(c.encode_utf8(&mut [0; 4]))),
    }
}

/// Finds, on a line that names `short`, a dotted name starting with `short.`.
fn fqdn_from_hosts(hosts: &str, short: &str) -> Option<String> {
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .filter(|line| line.split_whitespace().skip(1).any(|n| n == short))
        .flat_map(|line| line.split_whitespace().skip(1))
        .find(|name| name.starts_with(&format!("{short}.")) && !name.starts_with("localhost"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_is_found_next_to_the_short_name() {
        let hosts = "127.0.0.1 localhost\n192.0.2.5 relay.example.net relay # us\n";
        assert_eq!(fqdn_from_hosts(hosts, "relay").as_deref(), Some("relay.example.net"));
        assert_eq!(fqdn_from_hosts(hosts, "other"), None);
    }

    #[test]
    fn ehlo_names_cannot_smuggle_commands() {
        assert_eq!(valid_ehlo("relay.example.net").unwrap(), "relay.example.net");
        assert!(valid_ehlo("[192.0.2.1]").is_ok() && valid_ehlo("[IPv6:2001:db8::1]").is_ok());
        assert!(valid_ehlo("x\r\nMAIL FROM:<a@b>").is_err());
        assert!(valid_ehlo("has space").is_err() && valid_ehlo("").is_err() && valid_ehlo("[nope]").is_err());
    }

    #[test]
    fn config_hosts_are_ldh_names_or_addresses() {
        let name = |s: &str| ConfigHost::parse(s).map(|_| ());
        assert_eq!(name("mx1.example.com"), Ok(()));
        assert_eq!(name("MX-1.Example.com."), Ok(()));
        assert_eq!(name("localhost"), Ok(()));
        assert!(matches!(ConfigHost::parse("192.0.2.1"), Ok(ConfigHost::Address(_))));
        assert!(matches!(ConfigHost::parse("2001:db8::1"), Ok(ConfigHost::Address(_))));
        assert_eq!(name(""), Err(HostNameError::Empty));
        assert_eq!(name("."), Err(HostNameError::Empty));
        assert_eq!(name("mx..example.com"), Err(HostNameError::EmptyLabel));
        assert_eq!(name(".example.com"), Err(HostNameError::EmptyLabel));
        assert_eq!(name("example.com.."), Err(HostNameError::EmptyLabel));
        assert_eq!(name("-mx.example.com"), Err(HostNameError::EdgeHyphen));
        assert_eq!(name(&format!("{}.com", "a".repeat(64))), Err(HostNameError::LongLabel));
        assert_eq!(name(&"a.".repeat(128)), Err(HostNameError::TooLong));
    }

    #[test]
    fn config_hosts_refuse_list_syntax_and_wildcards() {
        for hostile in [
            "mx.example.com : ! * :",
            "! mx.example.com",
            "*",
            "*.example.com",
            "mx.example.com\n*",
            "mx.example.com\r\nsmtp_tls_security_level = none",
            "mx_1.example.com",
            "[192.0.2.1]",
            "192.0.2.1/0",
            "b\u{fc}cher.example",
            "<; mx.example.com",
            "mx.example.com,*",
            "mx.example.com encrypt",
        ] {
            assert!(
                matches!(ConfigHost::parse(hostile), Err(HostNameError::Character(_))),
                "{hostile:?}: {:?}",
                ConfigHost::parse(hostile)
            );
        }
        let error = ConfigHost::parse("x : ! * :").unwrap_err();
        assert_eq!(
            error.to_string(),
            "it contains a space; a host name has only letters, digits, '-' and '.'"
        );
    }

    #[test]
    fn default_ehlo_name_is_never_bare_localhost() {
        assert_ne!(ehlo_name(), "localhost");
    }
}
