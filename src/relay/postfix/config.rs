//! The effective Postfix client settings for one destination, read with Postfix's own
//! tools: `postconf -x` (every parameter, expanded), `postconf -n` (which ones main.cf
//! sets), `postconf -P -x` (master.cf `-o` overrides), `postconf -M` (which program a
//! transport runs) and `postmap -q` for every table, so every map type works.
//!
//! Lookups follow Postfix's own order: transport(5) and the TLS policy table try the
//! next-hop domain, then `.parent` entries (smtp_tls_policy.c, `tls_policy_lookup`);
//! a `[host]` or `host:port` next hop is looked up once, as written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::relay::{ClientPolicy, Level, Mta, Origin, RelayView, Route, Setting};
use crate::relay::command::{self, CommandError};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// The parameters every prediction or second opinion reads, shown with their origin.
const SHOWN: &[&str] = &[
    "config_directory",
    "smtp_tls_CAfile",
    "smtp_tls_CApath",
    "smtp_tls_servername",
    "smtp_dns_support_level",
    "smtp_bind_address",
    "smtp_bind_address6",
    "smtp_helo_name",
    "inet_protocols",
    "smtp_connect_timeout",
    "smtp_helo_timeout",
    "smtp_starttls_timeout",
    "smtp_mx_address_limit",
    "smtp_mx_session_limit",
    "smtp_skip_5xx_greeting",
    "tls_append_default_CA",
    "minimal_backoff_time",
    "smtp_tls_policy_maps",
    "transport_maps",
    "relayhost",
    "default_transport",
    "maillog_file",
];

/// Everything `postconf` said, parsed once.
#[derive(Debug, Clone, Default)]
pub struct Postconf {
    /// `postconf -c` directory, when not the default.
    pub config_dir: Option<PathBuf>,
    /// The directory Postfix itself reports (`config_directory`).
    directory: PathBuf,
    /// Every parameter with its expanded value.
    values: BTreeMap<String, String>,
    /// Parameters main.cf sets, with the line of their (last) definition when found.
    explicit: BTreeMap<String, Option<usize>>,
    /// `-o` overrides per master.cf service name (`smtp`, `relay`, ...).
    overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// The program each `unix` service of master.cf runs.
    programs: BTreeMap<String, String>,
}

impl Postconf {
    /// Reads the configuration in `config_dir` (Postfix's default when `None`).
    pub async fn read(config_dir: Option<&Path>) -> Result<Self, ConfigError> {
        let with_dir = |args: &[&str]| -> Vec<String> {
            let mut all: Vec<String> = Vec::new();
            if let Some(dir) = config_dir {
                all.push("-c".into());
                all.push(dir.display().to_string());
            }
            all.extend(args.iter().map(|a| a.to_string()));
            all
        };
        let effective = command::run("postconf", &with_dir(&["-x"])).await?;
        let explicit = command::run("postconf", &with_dir(&["-n"])).await?;
        // A master.cf without overrides makes `postconf -P` print nothing, not fail.
        let overrides = command::run("postconf", &with_dir(&["-P", "-x"])).await?;
        let services = command::run("postconf", &with_dir(&["-M"])).await?;
        let mut conf = Self::parse(&effective, &explicit, &overrides, &services);
        conf.config_dir = config_dir.map(Path::to_path_buf);
        let main_cf = conf.directory.join("main.cf");
        if let Ok(text) = crate::files::read_text(&main_cf, crate::files::MTA_CONFIG) {
            conf.locate_lines(&text);
        }
        Ok(conf)
    }

    /// Parses the four outputs; pure, so recorded output can be tested.
    pub fn parse(effective: &str, explicit: &str, overrides: &str, services: &str) -> Self {
        let values: BTreeMap<String, String> = effective.lines().filter_map(assignment).collect();
        let explicit = explicit
            .lines()
            .filter_map(assignment)
            .map(|(k, _)| (k, None))
            .collect();
        let mut by_service: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (key, value) in overrides.lines().filter_map(assignment) {
            let mut parts = key.splitn(3, '/');
            if let (Some(service), Some("unix"), Some(name)) = (parts.next(), parts.next(), parts.next()) {
                by_service
                    .entry(service.to_string())
                    .or_default()
                    .insert(name.to_string(), value);
            }
        }
        let mut programs = BTreeMap::new();
        for line in services.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let [service, "unix", _, _, _, _, _, program, ..] = fields.as_slice() {
                programs.insert(service.to_string(), program.to_string());
            }
        }
        let directory = values
            .get("config_directory")
            .map_or_else(|| PathBuf::from("/etc/postfix"), PathBuf::from);
        Self {
            config_dir: None,
            directory,
            values,
            explicit,
            overrides: by_service,
            programs,
        }
    }

    /// Finds the line of each explicit parameter in main.cf (the last definition wins).
    fn locate_lines(&mut self, main_cf: &str) {
        for (number, line) in main_cf.lines().enumerate() {
            if line.starts_with(char::is_whitespace) || line.starts_with('#') {
                continue;
            }
            if let Some(slot) = line
                .split_once('=')
                .and_then(|(name, _)| self.explicit.get_mut(name.trim()))
            {
                *slot = Some(number + 1);
            }
        }
    }

    /// A main.cf parameter's effective, expanded value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn main_cf(&self) -> String {
        self.directory.join("main.cf").display().to_string()
    }

    /// A parameter as the `service` transport sees it: its `-o` override, else main.cf,
    /// else Postfix's default.
    pub fn setting(&self, service: Option<&str>, name: &str) -> Option<Setting> {
        if name.is_empty() {
            return None;
        }
        if let Some(value) = service.and_then(|s| self.overrides.get(s)?.get(name)) {
            return Some(Setting {
                name: name.to_string(),
                value: value.clone(),
                origin: Origin::Service {
                    path: self.directory.join("master.cf").display().to_string(),
                    service: service.unwrap_or_default().to_string(),
                },
            });
        }
        let value = self.values.get(name)?;
        let origin = match self.explicit.get(name) {
            Some(line) => Origin::File {
                path: self.main_cf(),
                line: *line,
            },
            None => Origin::Default {
                parameter: name.to_string(),
            },
        };
        Some(Setting {
            name: name.to_string(),
            value: value.clone(),
            origin,
        })
    }

    fn value(&self, service: Option<&str>, name: &str) -> String {
        self.setting(service, name).map(|s| s.value).unwrap_or_default()
    }

    /// `postmap -q key map` for each map of a list parameter; the first hit wins.
    async fn lookup(&self, maps: &str, keys: &[String]) -> Result<Option<(String, String, String)>, CommandError> {
        for key in keys {
            for map in list(maps) {
                let mut args: Vec<String> = Vec::new();
                if let Some(dir) = &self.config_dir {
                    args.push("-c".into());
                    args.push(dir.display().to_string());
                }
                args.extend(["-q".to_string(), key.clone(), map.to_string()]);
                if let Some(value) = command::query("postmap", &args).await? {
                    return Ok(Some((map.to_string(), key.clone(), value)));
                }
            }
        }
        Ok(None)
    }

    /// The relay as it would deliver mail for `domain`: route, client TLS policy, the
    /// settings they rest on, and what could not be read.
    pub async fn view(&self, domain: &str) -> RelayView {
        let mut unread = Vec::new();
        let route = self.route(domain, &mut unread).await;
        let service = route.transport.clone();
        let program = self.programs.get(&service).cloned();
        let policy = match program.as_deref() {
            Some("smtp" | "lmtp") => Some(self.policy(&service, &route.nexthop, &mut unread).await),
            Some(_) => None,
            None => {
                unread.push(format!(
                    "master.cf has no unix service named {service:?}; the client TLS settings of main.cf are shown"
                ));
                Some(self.policy(&service, &route.nexthop, &mut unread).await)
            }
        };
        for name in [
            "sender_dependent_relayhost_maps",
            "sender_dependent_default_transport_maps",
        ] {
            if !self.value(None, name).trim().is_empty() {
                unread.push(format!(
                    "{name} is set: the route depends on the sender, and the one shown assumes no sender entry matches"
                ));
            }
        }
        let mut settings: Vec<Setting> = SHOWN.iter().filter_map(|n| self.setting(Some(&service), n)).collect();
        if let Some(program) = program {
            settings.push(Setting {
                name: "program".into(),
                value: program,
                origin: Origin::Service {
                    path: self.directory.join("master.cf").display().to_string(),
                    service: service.clone(),
                },
            });
        }
        RelayView {
            mta: Some(Mta::Postfix),
            version: self.values.get("mail_version").cloned(),
            tls_library: None,
            route: Some(route),
            policy,
            settings,
            unread,
            ..Default::default()
        }
    }

    /// transport_maps (exact domain, `.parent`, `*`), else default_transport, with
    /// relayhost as the next hop when no table names one.
    async fn route(&self, domain: &str, unread: &mut Vec<String>) -> Route {
        let maps = self.value(None, "transport_maps");
        let mut keys = parent_keys(domain);
        keys.push("*".to_string());
        if !maps.trim().is_empty() {
            match self.lookup(&maps, &keys).await {
                Ok(Some((map, key, value))) => {
                    let (transport, nexthop) = split_transport(&value);
                    // transport(5): a transport with an empty next hop resets it to the
                    // recipient domain (how one domain bypasses a relayhost); ":" alone
                    // changes nothing, so the relayhost stays.
                    let nexthop = nexthop.unwrap_or_else(|| match transport {
                        Some(_) => domain.to_string(),
                        None => self.default_nexthop(domain),
                    });
                    let transport =
                        transport.unwrap_or_else(|| default_transport(&self.value(None, "default_transport")).0);
                    return route(transport, nexthop, Origin::Map { map, key });
                }
                Ok(None) => {}
                Err(e) => unread.push(format!(
                    "transport_maps could not be searched ({e}); the default route is shown"
                )),
            }
        }
        let setting = self.setting(None, "default_transport");
        let (transport, nexthop) = default_transport(setting.as_ref().map_or("smtp", |s| s.value.as_str()));
        let relayhost = self.setting(None, "relayhost").filter(|s| !s.value.trim().is_empty());
        match (nexthop, relayhost) {
            (Some(nexthop), _) => route(transport, nexthop, origin_of(setting, "default_transport")),
            (None, Some(relayhost)) => route(transport, relayhost.value.trim().to_string(), relayhost.origin),
            (None, None) => route(transport, domain.to_string(), origin_of(setting, "default_transport")),
        }
    }

    fn default_nexthop(&self, domain: &str) -> String {
        let relayhost = self.value(None, "relayhost");
        if relayhost.trim().is_empty() {
            domain.to_string()
        } else {
            relayhost.trim().to_string()
        }
    }

    /// The TLS policy table entry for the next hop, else the service's security level.
    async fn policy(&self, service: &str, nexthop: &str, unread: &mut Vec<String>) -> ClientPolicy {
        let service = Some(service);
        let maps = self.value(service, "smtp_tls_policy_maps");
        let mut entry = None;
        if !maps.trim().is_empty() {
            let keys = if nexthop.starts_with('[') || nexthop.contains(':') {
                vec![nexthop.to_string()]
            } else {
                parent_keys(nexthop)
            };
            match self.lookup(&maps, &keys).await {
                Ok(found) => entry = found,
                Err(e) => unread.push(format!(
                    "smtp_tls_policy_maps could not be searched ({e}); the global security level is shown"
                )),
            }
        }
        let mut policy = match &entry {
            Some((map, key, value)) => {
                let mut words = value.split_whitespace();
                let level = words.next().and_then(Level::parse);
                if level.is_none() {
                    unread.push(format!(
                        "the policy entry {key:?} in {map} does not start with a security level: {value:?}"
                    ));
                }
                let mut policy = ClientPolicy {
                    level: level.unwrap_or(Level::Encrypt),
                    level_origin: Origin::Map {
                        map: map.clone(),
                        key: key.clone(),
                    },
                    matches: Vec::new(),
                    protocols: None,
                    ciphers: None,
                    exclude_ciphers: None,
                };
                for word in words {
                    match word.split_once('=') {
                        Some(("match", v)) => policy.matches = v.split(':').map(str::to_string).collect(),
                        Some(("protocols", v)) => policy.protocols = Some(v.to_string()),
                        Some(("ciphers", v)) => policy.ciphers = Some(v.to_string()),
                        Some(("exclude", v)) => policy.exclude_ciphers = Some(v.to_string()),
                        _ => {}
                    }
                }
                policy
            }
            None => self.global_policy(service),
        };
        let mandatory = policy.level.requires_tls();
        let (protocols, ciphers, exclude) = if mandatory {
            (
                "smtp_tls_mandatory_protocols",
                "smtp_tls_mandatory_ciphers",
                "smtp_tls_mandatory_exclude_ciphers",
            )
        } else {
            ("smtp_tls_protocols", "smtp_tls_ciphers", "smtp_tls_exclude_ciphers")
        };
        policy.protocols.get_or_insert_with(|| self.value(service, protocols));
        policy.ciphers.get_or_insert_with(|| self.value(service, ciphers));
        if policy.exclude_ciphers.is_none() {
            let mut exclude: Vec<String> = [exclude, "smtp_tls_exclude_ciphers"]
                .iter()
                .map(|n| self.value(service, n))
                .filter(|v| !v.trim().is_empty())
                .collect();
            exclude.dedup();
            policy.exclude_ciphers = (!exclude.is_empty()).then(|| exclude.join(", "));
        }
        if policy.matches.is_empty() {
            let strategy = match policy.level {
                Level::Verify => Some("smtp_tls_verify_cert_match"),
                Level::Secure => Some("smtp_tls_secure_cert_match"),
                _ => None,
            };
            if let Some(name) = strategy {
                policy.matches = list(&self.value(service, name)).map(str::to_string).collect();
            }
        }
        let dnssec = self
            .value(service, "smtp_dns_support_level")
            .eq_ignore_ascii_case("dnssec");
        match policy.level {
            Level::Dane if !dnssec => unread.push(
                "the level is dane, but smtp_dns_support_level is not dnssec: Postfix ignores TLSA records and uses may"
                    .to_string(),
            ),
            Level::DaneOnly if !dnssec => unread.push(
                "the level is dane-only, but smtp_dns_support_level is not dnssec: Postfix treats the policy as invalid and defers every message"
                    .to_string(),
            ),
            Level::Fingerprint => unread.push(
                "the level is fingerprint: only posttls-finger, given the policy's match list, judges the certificate digests"
                    .to_string(),
            ),
            _ => {}
        }
        policy
    }

    /// smtp_tls_security_level, or the obsolete smtp_enforce_tls / smtp_use_tls pair.
    fn global_policy(&self, service: Option<&str>) -> ClientPolicy {
        let explicit = self
            .setting(service, "smtp_tls_security_level")
            .filter(|s| !s.value.trim().is_empty());
        let (level, level_origin) = match explicit {
            Some(setting) => (
                Level::parse(setting.value.trim()).unwrap_or(Level::None),
                setting.origin,
            ),
            None => {
                let yes = |name: &str| self.value(service, name).eq_ignore_ascii_case("yes");
                let (level, decided_by) = if yes("smtp_enforce_tls") {
                    if yes("smtp_tls_enforce_peername") {
                        (Level::Verify, "smtp_enforce_tls")
                    } else {
                        (Level::Encrypt, "smtp_enforce_tls")
                    }
                } else if yes("smtp_use_tls") {
                    (Level::May, "smtp_use_tls")
                } else {
                    (Level::None, "smtp_tls_security_level")
                };
                // The obsolete parameter that set the level is where to change it.
                (level, origin_of(self.setting(service, decided_by), decided_by))
            }
        };
        ClientPolicy {
            level,
            level_origin,
            matches: Vec::new(),
            protocols: None,
            ciphers: None,
            exclude_ciphers: None,
        }
    }
}

fn route(transport: String, nexthop: String, origin: Origin) -> Route {
    Route {
        mx_lookup: !nexthop.starts_with('['),
        transport,
        nexthop,
        origin,
    }
}

fn origin_of(setting: Option<Setting>, parameter: &str) -> Origin {
    setting.map_or_else(
        || Origin::Default {
            parameter: parameter.to_string(),
        },
        |s| s.origin,
    )
}

/// `name = value` as postconf prints it.
fn assignment(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(" = ").or_else(|| {
        let name = line.strip_suffix(" =")?;
        Some((name, ""))
    })?;
    Some((name.trim().to_string(), value.trim().to_string()))
}

/// A Postfix list: separated by commas and/or white space.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

/// The keys Postfix tries for a domain: itself, then each parent with a leading dot.
pub fn parent_keys(domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let mut keys = vec![domain.clone()];
    let mut rest = domain.as_str();
    while let Some(dot) = rest.get(1..).and_then(|r| r.find('.')) {
        rest = &rest[dot + 1..];
        keys.push(rest.to_string());
    }
    keys
}

/// `transport:nexthop` from a transport table or default_transport; empty parts are `None`.
fn split_transport(value: &str) -> (Option<String>, Option<String>) {
    let value = value.split_whitespace().next().unwrap_or_default();
    let (transport, nexthop) = value.split_once(':').unwrap_or((value, ""));
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    (some(transport), some(nexthop))
}

fn default_transport(value: &str) -> (String, Option<String>) {
    let (transport, nexthop) = split_transport(value);
    (transport.unwrap_or_else(|| "smtp".into()), nexthop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_keys_follow_postfix_order() {
        assert_eq!(
            parent_keys("Mail.Example.COM."),
            ["mail.example.com", ".example.com", ".com"]
        );
        assert_eq!(parent_keys("localhost"), ["localhost"]);
    }

    #[test]
    fn transports_split_like_transport_5() {
        assert_eq!(
            split_transport("relay:[mx.example.net]:587"),
            (Some("relay".into()), Some("[mx.example.net]:587".into()))
        );
        assert_eq!(split_transport(":[gw]"), (None, Some("[gw]".into())));
        assert_eq!(split_transport("smtp:"), (Some("smtp".into()), None));
        assert_eq!(split_transport("error"), (Some("error".into()), None));
    }

    #[test]
    fn overrides_and_programs_are_read_per_service() {
        let conf = Postconf::parse(
            "config_directory = /etc/pf\nsmtp_tls_security_level = may\nmail_version = 3.7.11\nempty =\n",
            "smtp_tls_security_level = may\n",
            "strict/unix/smtp_tls_security_level = encrypt\n",
            "smtp      unix  -       -       y       -       -       smtp\nstrict    unix  -       -       y       -       -       smtp\n    -o smtp_tls_security_level=encrypt\n",
        );
        assert_eq!(conf.value(Some("strict"), "smtp_tls_security_level"), "encrypt");
        assert_eq!(conf.value(Some("smtp"), "smtp_tls_security_level"), "may");
        assert_eq!(conf.value(None, "empty"), "");
        assert_eq!(conf.programs.get("strict").map(String::as_str), Some("smtp"));
        let origin = conf.setting(Some("smtp"), "smtp_tls_security_level").map(|s| s.origin);
        assert_eq!(
            origin,
            Some(Origin::File {
                path: "/etc/pf/main.cf".into(),
                line: None
            })
        );
    }

    #[test]
    fn an_obsolete_parameter_that_sets_the_level_is_its_origin() {
        let conf = Postconf::parse(
            "config_directory = /etc/pf\nsmtp_use_tls = yes\nsmtp_enforce_tls = no\nsmtp_tls_security_level =\n",
            "smtp_use_tls = yes\n",
            "",
            "",
        );
        let policy = conf.global_policy(Some("smtp"));
        assert_eq!(policy.level, Level::May);
        assert_eq!(
            policy.level_origin,
            Origin::File {
                path: "/etc/pf/main.cf".into(),
                line: None
            }
        );
        let unset = Postconf::parse("config_directory = /etc/pf\n", "", "", "").global_policy(None);
        assert_eq!(
            (unset.level, unset.level_origin),
            (
                Level::None,
                Origin::Default {
                    parameter: "smtp_tls_security_level".into()
                }
            )
        );
    }
}
