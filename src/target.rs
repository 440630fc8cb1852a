//! What the operator asked to check, in the forms Postfix and posttls-finger accept.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A mail domain: look up its MX set.
    Domain { name: String },
    /// A host name used as is (`[host]`, `host:port`): no MX lookup.
    Host { name: String, port: Option<u16> },
    /// An address literal (`[ip]`, `[ip]:port`, or a bare IP).
    Address { ip: IpAddr, port: Option<u16> },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    #[error("the target is empty")]
    Empty,
    #[error("{0:?} has an opening '[' without a closing ']'")]
    Unbalanced(String),
    #[error("{0:?}: the port must be a number from 1 to 65535")]
    BadPort(String),
    #[error("{0:?} is not a valid host or domain name (letters, digits, hyphens and dots only)")]
    BadName(String),
    #[error("{0:?} looks like an IPv4 address but is not one (four numbers from 0 to 255)")]
    BadAddress(String),
}

impl Target {
    pub fn parse(input: &str) -> Result<Self, TargetError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(TargetError::Empty);
        }
        if let Some(rest) = input.strip_prefix('[') {
            let (inside, after) = rest
                .split_once(']')
                .ok_or_else(|| TargetError::Unbalanced(input.to_string()))?;
            let port = match after {
                "" => None,
                _ => Some(parse_port(after.strip_prefix(':').unwrap_or(after), input)?),
            };
            let inside = inside.strip_prefix("IPv6:").unwrap_or(inside);
            return Ok(match inside.parse::<IpAddr>() {
                Ok(ip) => Target::Address { ip, port },
                Err(_) => Target::Host {
                    name: host_name(inside)?,
                    port,
                },
            });
        }
        if let Ok(ip) = input.parse::<IpAddr>() {
            return Ok(Target::Address { ip, port: None });
        }
        if let Some((host, port)) = input.rsplit_once(':') {
            // `192.0.2.1:25` names an address, as `[192.0.2.1]:25` does; taken as a host
            // name it would go to DNS and come back as "the MX hosts have no addresses".
            if let Ok(ip) = host.parse::<Ipv4Addr>() {
                return Ok(Target::Address {
                    ip: IpAddr::V4(ip),
                    port: Some(parse_port(port, input)?),
                });
            }
            return Ok(Target::Host {
                name: host_name(host)?,
                port: Some(parse_port(port, input)?),
            });
        }
        Ok(Target::Domain {
            name: host_name(input)?,
        })
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            Target::Domain { .. } => None,
            Target::Host { port, .. } | Target::Address { port, .. } => *port,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Domain { name } => write!(f, "{name}"),
            Target::Host { name, port: None } => write!(f, "[{name}]"),
            Target::Host { name, port: Some(p) } => write!(f, "[{name}]:{p}"),
            Target::Address { ip, port: None } => write!(f, "[{ip}]"),
            Target::Address { ip, port: Some(p) } => write!(f, "[{ip}]:{p}"),
        }
    }
}

fn parse_port(port: &str, input: &str) -> Result<u16, TargetError> {
    port.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| TargetError::BadPort(input.to_string()))
}

/// Lower-cases and checks a host name; a trailing dot is accepted and removed.
///
/// A name made only of numeric labels (`192.0.2.300`) is a mistyped address, not a
/// name: no top-level domain is numeric, and resolving it would only blame DNS.
fn host_name(name: &str) -> Result<String, TargetError> {
    let trimmed = name.trim_end_matches('.').to_ascii_lowercase();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(TargetError::BadAddress(name.to_string()));
    }
    let valid = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(trimmed)
    } else {
        Err(TargetError::BadName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_forms_are_recognised() {
        assert_eq!(
            Target::parse("Example.COM.").unwrap(),
            Target::Domain {
                name: "example.com".into()
            }
        );
        assert_eq!(
            Target::parse("mx.example.com:2525").unwrap(),
            Target::Host {
                name: "mx.example.com".into(),
                port: Some(2525)
            }
        );
        assert_eq!(
            Target::parse("[mx.example.com]").unwrap(),
            Target::Host {
                name: "mx.example.com".into(),
                port: None
            }
        );
        assert_eq!(
            Target::parse("[192.0.2.1]:25").unwrap(),
            Target::Address {
                ip: "192.0.2.1".parse().unwrap(),
                port: Some(25)
            }
        );
        assert_eq!(
            Target::parse("[IPv6:2001:db8::1]").unwrap(),
            Target::Address {
                ip: "2001:db8::1".parse().unwrap(),
                port: None
            }
        );
        assert_eq!(
            Target::parse("2001:db8::1").unwrap(),
            Target::Address {
                ip: "2001:db8::1".parse().unwrap(),
                port: None
            }
        );
    }

    #[test]
    fn ip_and_port_without_brackets_is_an_address() {
        assert_eq!(
            Target::parse("192.0.2.1:25").unwrap(),
            Target::Address {
                ip: "192.0.2.1".parse().unwrap(),
                port: Some(25)
            }
        );
        assert_eq!(
            Target::parse("[2001:db8::1]:2525").unwrap(),
            Target::Address {
                ip: "2001:db8::1".parse().unwrap(),
                port: Some(2525)
            }
        );
        assert_eq!(
            Target::parse("192.0.2.1").unwrap(),
            Target::Address {
                ip: "192.0.2.1".parse().unwrap(),
                port: None
            }
        );
        assert!(matches!(
            Target::parse("192.0.2.1:0").unwrap_err(),
            TargetError::BadPort(_)
        ));
        for mistyped in ["192.0.2.300:25", "[192.0.2]:25", "192.0.2.300"] {
            assert!(
                matches!(Target::parse(mistyped), Err(TargetError::BadAddress(_))),
                "{mistyped}"
            );
        }
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        assert_eq!(Target::parse(" ").unwrap_err(), TargetError::Empty);
        assert!(matches!(
            Target::parse("[192.0.2.1").unwrap_err(),
            TargetError::Unbalanced(_)
        ));
        assert!(matches!(
            Target::parse("mx.example.com:0").unwrap_err(),
            TargetError::BadPort(_)
        ));
        assert!(matches!(
            Target::parse("[::1]:99999").unwrap_err(),
            TargetError::BadPort(_)
        ));
        assert!(matches!(
            Target::parse("exa mple.com").unwrap_err(),
            TargetError::BadName(_)
        ));
        assert!(matches!(
            Target::parse("-bad.example").unwrap_err(),
            TargetError::BadName(_)
        ));
    }
}
