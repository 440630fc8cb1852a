//! Facts about the host mxtriage runs on: its name, used as the EHLO name and as
//! the vantage point in reports.

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
        inner
            .strip_prefix("IPv6:")
            .unwrap_or(inner)
            .parse::<std::net::IpAddr>()
            .is_ok()
    } else {
        !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    };
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "{name:?} is not a host name or an address literal like [192.0.2.1]"
        ))
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
    fn default_ehlo_name_is_never_bare_localhost() {
        assert_ne!(ehlo_name(), "localhost");
    }
}
