//! Exim, read-only: its settings from `exim -bP` and its TLS library from `exim -bV`.
//!
//! Exim prints every option of the main section and of each transport, defaults included,
//! so the client policy is judged from Exim's own view of its configuration rather than
//! from `configure` (which may be split, macro-driven or generated, as on Debian). Exim
//! does not say which file line set a value, so every origin is the command that showed it.
//!
//! References are to the Exim 4.96 specification (`doc/doc-docbook/spec.xfpt`) and
//! source (`src/src/transports/smtp.c`, `tls-gnu.c`, `verify.c`), tag `exim-4.96`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ClientPolicy, Level, Mta, Origin, RelayView, Setting, TlsLibrary};

/// How long one `exim` invocation may take; `-bP` only reads the configuration.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes kept from one stream; `-bP transports` is about 15 kB on Debian.
pub const OUTPUT_LIMIT: usize = 256 * 1024;
/// Most named lists (`+name`) read with `exim -bP +name` for one destination.
const NAMED_LIST_LIMIT: usize = 8;

/// Why Exim could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum EximError {
    /// Neither binary is on PATH: this relay does not run Exim, or PATH lacks /usr/sbin.
    #[error("neither exim nor exim4 is on PATH (is /usr/sbin in PATH?)")]
    NotInstalled,
    /// The binary exists but this user may not run it.
    #[error("{command}: permission denied; run mxtriage as root or an Exim admin user")]
    PermissionDenied { command: String },
    #[error("{command} could not be started: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} did not finish within {} s", COMMAND_TIMEOUT.as_secs())]
    Timeout { command: String },
    /// Usually a configuration error (Exim checks its configure file first) or a refusal.
    #[error("{command} exited with {status}: {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    /// Not the output of an Exim binary: a wrapper or a different program named exim.
    #[error("{command} printed no \"Exim version\" line")]
    NotExim { command: String },
}

/// What `exim -bV` says about the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryInfo {
    /// "4.96", from "Exim version 4.96 #2 built ...".
    pub version: String,
    pub tls_library: Option<TlsLibrary>,
    /// Whether "Support for:" lists DANE.
    pub dane: bool,
}

/// Reads `exim -bV` output. Library versions are printed only with `-d` (exim.c,
/// `show_whats_supported`: "only worth reporting when debugging"); without them the
/// library name still comes from the "Support for:" line, with an empty version.
pub fn parse_version(output: &str, command: &str) -> Option<BinaryInfo> {
    let version = output
        .lines()
        .find_map(|line| line.strip_prefix("Exim version "))?
        .split_whitespace()
        .next()?
        .to_string();
    let support: Vec<&str> = output
        .lines()
        .find_map(|line| line.strip_prefix("Support for:"))
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    let origin = || Origin::Command {
        command: command.to_string(),
    };
    let tls_library = library_version(output, origin()).or_else(|| {
        ["GnuTLS", "OpenSSL"]
            .into_iter()
            .find(|name| support.contains(name))
            .map(|name| TlsLibrary {
                name: name.to_string(),
                version: String::new(),
                origin: origin(),
            })
    });
    Some(BinaryInfo {
        version,
        tls_library,
        dane: support.contains(&"DANE"),
    })
}

/// The "Library version: GnuTLS|OpenSSL: Compile: X" line and the "Runtime: Y" line
/// under it (tls-gnu.c and tls-openssl.c, `tls_version_report`); the runtime wins.
fn library_version(output: &str, origin: Origin) -> Option<TlsLibrary> {
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("Library version:") else {
            continue;
        };
        let Some((name, rest)) = rest.trim().split_once(':') else {
            continue;
        };
        if name != "GnuTLS" && name != "OpenSSL" {
            continue;
        }
        // Some reports put both on one line ("Compile: 3.7.9 Runtime: 3.7.9").
        let (compile, inline_runtime) = match rest.split_once("Runtime:") {
            Some((c, r)) => (c, Some(r)),
            None => (rest, None),
        };
        let compile = compile.trim().strip_prefix("Compile:").unwrap_or(compile);
        let runtime = inline_runtime.map(str::to_string).or_else(|| {
            lines
                .next()
                .and_then(|l| l.trim().strip_prefix("Runtime:"))
                .map(str::to_string)
        });
        let raw = runtime.as_deref().unwrap_or(compile).trim();
        // OpenSSL says "OpenSSL 3.0.13 30 Jan 2024", LibreSSL "LibreSSL 3.8.2".
        let mut words = raw.split_whitespace();
        let (name, version) = match words.next() {
            Some(word @ ("OpenSSL" | "LibreSSL")) => (word, words.next().unwrap_or_default()),
            Some(version) => (name, version),
            None => continue,
        };
        return Some(TlsLibrary {
            name: name.to_string(),
            version: version.to_string(),
            origin,
        });
    }
    None
}

/// One block of `exim -bP` output: the main options, or one driver's.
///
/// `name = value` lines, and booleans as `name` / `no_name` (readconf.c,
/// `print_ol`). Unset strings print as `name = ` (empty); hidden ones as
/// `<value not displayable>` to non-admin users (spec, `-bP`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    values: HashMap<String, String>,
}

impl Options {
    /// Parses the lines of one block; a line of an unexpected shape is skipped.
    pub fn parse(text: &str) -> Options {
        let mut values = HashMap::new();
        for line in text.lines() {
            // Expanded booleans print with a leading '*' ("*expand_...").
            let line = line.trim_end().trim_start_matches('*');
            if line.is_empty() {
                continue;
            }
            if let Some((name, value)) = line.split_once(" = ") {
                values.insert(name.to_string(), value.to_string());
            } else if let Some(name) = line.strip_suffix(" =") {
                values.insert(name.to_string(), String::new());
            } else if !line.contains(' ') {
                match line.strip_prefix("no_") {
                    Some(name) => values.insert(name.to_string(), "false".to_string()),
                    None => values.insert(line.to_string(), "true".to_string()),
                };
            }
        }
        Options { values }
    }

    /// The printed value: empty when unset, "true"/"false" for booleans.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A boolean option, `None` when absent from the output.
    pub fn flag(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    fn is_empty(&self, name: &str) -> bool {
        self.get(name).is_none_or(str::is_empty)
    }
}

/// One transport from `exim -bP transports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    pub name: String,
    pub options: Options,
}

impl Transport {
    pub fn is_smtp(&self) -> bool {
        self.options.get("driver") == Some("smtp")
    }
}

/// Splits `exim -bP transports` output at its "NAME transport:" headers.
pub fn parse_transports(output: &str) -> Vec<Transport> {
    let mut transports = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in output.lines() {
        if let Some(name) = line.strip_suffix(" transport:").filter(|n| !n.contains(' ')) {
            if let Some((name, body)) = current.take() {
                transports.push(Transport {
                    name,
                    options: Options::parse(&body),
                });
            }
            current = Some((name.to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((name, body)) = current {
        transports.push(Transport {
            name,
            options: Options::parse(&body),
        });
    }
    transports
}

/// Reads `exim -bP +name` output: "hostlist name = value" (or domainlist, ...).
pub fn parse_named_list(output: &str) -> Option<(String, String)> {
    let line = output.lines().find(|l| l.contains(" = "))?;
    let (head, value) = line.split_once(" = ")?;
    let name = head.split_whitespace().nth(1)?;
    Some((name.to_string(), value.trim().to_string()))
}

/// The destination host a policy is judged for: the MX (or relay) host name and, when
/// known, the address Exim would connect to. Exim matches host lists against both
/// (verify.c, `verify_check_given_host`).
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub host: &'a str,
    pub address: Option<IpAddr>,
}

/// Whether a host list matched, and what in it could not be judged here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMatch {
    pub matched: bool,
    /// Items that could not be evaluated (treated as not matching), with the reason.
    pub unknown: Vec<String>,
}

/// Matches `host` against an Exim host list (spec, "Host lists", "Negated items in lists",
/// "Changing list separators", "Empty items in lists").
///
/// `named` holds the values of `+name` lists read with `exim -bP +name`. Items this
/// reader cannot judge (lookups, files, expansions, unread named lists) count as not
/// matching and are listed in `unknown`. A plain host name is compared with the
/// destination's name, whereas Exim looks the pattern's addresses up and compares those
/// with the destination address (spec, "Host list patterns that match by IP address"):
/// the same verdict unless two names share an address.
pub fn match_host_list(list: &str, host: Destination<'_>, named: &HashMap<String, String>) -> ListMatch {
    let mut result = ListMatch::default();
    result.matched = match_items(list, host, named, &mut result.unknown, 0);
    result
}

fn match_items(
    list: &str,
    host: Destination<'_>,
    named: &HashMap<String, String>,
    unknown: &mut Vec<String>,
    depth: usize,
) -> bool {
    let mut last_negative = false;
    for item in split_list(list) {
        let (negative, pattern) = match item.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, item.as_str()),
        };
        if is_list_directive(pattern) {
            continue;
        }
        last_negative = negative;
        let hit = match pattern.strip_prefix('+') {
            Some(name) => match named.get(name) {
                Some(value) if depth < 4 => Ok(match_items(value, host, named, unknown, depth + 1)),
                _ => Err(format!("+{name} is a named list that was not read")),
            },
            None => match_pattern(pattern, host),
        };
        match hit {
            Ok(true) => return !negative,
            Ok(false) => {}
            Err(reason) => unknown.push(reason),
        }
    }
    // "a list that ends with a negative item behaves as if it had an extra item `:*`".
    last_negative
}

/// `+include_unknown` and its kin change how lookup failures count; they are not lists.
fn is_list_directive(item: &str) -> bool {
    matches!(
        item,
        "+include_unknown" | "+ignore_unknown" | "+include_defer" | "+ignore_defer"
    )
}

/// The items of a list: `<c` at the start changes the separator; a doubled separator is
/// a literal one; items are trimmed; a trailing empty item is dropped.
fn split_list(list: &str) -> Vec<String> {
    let mut text = list.trim_start();
    let mut sep = ':';
    if let Some(rest) = text.strip_prefix('<')
        && let Some(c) = rest.chars().next().filter(|c| c.is_ascii_punctuation())
    {
        sep = c;
        text = &rest[c.len_utf8()..];
    }
    let mut items = Vec::new();
    let mut item = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == sep {
            if chars.peek() == Some(&sep) {
                chars.next();
                item.push(sep);
            } else {
                items.push(item.trim().to_string());
                item.clear();
            }
        } else {
            item.push(c);
        }
    }
    if !item.trim().is_empty() {
        items.push(item.trim().to_string());
    }
    items
}

/// One positive pattern; `Err` says why it cannot be judged here.
fn match_pattern(pattern: &str, host: Destination<'_>) -> Result<bool, String> {
    // `\N...\N` protects text from expansion; anything else with `$` or `\` is expanded
    // by Exim at delivery time, with values this reader does not have.
    let pattern = if pattern.contains("\\N") {
        pattern.replace("\\N", "")
    } else if pattern.contains('$') || pattern.contains('\\') {
        return Err(format!("{pattern} needs string expansion"));
    } else {
        pattern.to_string()
    };
    let name = host.host.trim_end_matches('.');
    if pattern == "*" {
        return Ok(true);
    }
    if pattern.is_empty() {
        // Matches only when there is no remote host (spec, "Special host list patterns").
        return Ok(false);
    }
    if pattern.starts_with('@') {
        return Err(format!("{pattern} needs this host's own names or addresses"));
    }
    if pattern.starts_with('/') || pattern.contains(';') {
        return Err(format!("{pattern} is a file or lookup"));
    }
    if let Some(net) = parse_net(&pattern) {
        return match host.address {
            Some(address) => Ok(in_net(address, net)),
            None => Err(format!("{pattern} needs the destination's address")),
        };
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return Ok(name.to_ascii_lowercase().ends_with(&suffix.to_ascii_lowercase()));
    }
    if pattern.starts_with('^') {
        // Host name regexes are case-independent unless they start with (?-i).
        return regex::RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .build()
            .map(|re| re.is_match(name))
            .map_err(|_| format!("{pattern} is a regular expression this reader cannot compile"));
    }
    Ok(pattern.eq_ignore_ascii_case(name))
}

fn parse_net(pattern: &str) -> Option<(IpAddr, u8)> {
    let (address, bits) = match pattern.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let address = pattern.parse::<IpAddr>().ok()?;
            (address, if address.is_ipv4() { 32 } else { 128 })
        }
    };
    Some((address, bits))
}

fn in_net(address: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    // Exim compares an IPv4-mapped IPv6 address as IPv4 (spec, "Host list patterns that
    // match by IP address").
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    let prefix = |a: u128, b: u128, width: u32| {
        let bits = u32::from(bits).min(width);
        bits == 0 || (a ^ b) >> (width - bits) == 0
    };
    match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => prefix(u32::from(a).into(), u32::from(n).into(), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(u128::from(a), u128::from(n), 128),
        _ => false,
    }
}

/// Transport options that bear on the TLS session, reported as settings.
const TRANSPORT_SETTINGS: &[&str] = &[
    "hosts_avoid_tls",
    "hosts_require_tls",
    "tls_verify_hosts",
    "tls_try_verify_hosts",
    "tls_verify_cert_hostnames",
    "tls_verify_certificates",
    "tls_tempfail_tryclear",
    "hosts_try_dane",
    "hosts_require_dane",
    "dnssec_request_domains",
    "hosts_require_ocsp",
    "tls_require_ciphers",
    "tls_sni",
    "tls_certificate",
    "interface",
    "helo_data",
    "port",
    "protocol",
    "connect_timeout",
    "command_timeout",
];

/// Main options that bear on outgoing TLS.
const MAIN_SETTINGS: &[&str] = &["primary_hostname", "openssl_options"];

/// Host-list options that decide the level, in the order the judgment reads them.
const LEVEL_LISTS: &[&str] = &[
    "hosts_avoid_tls",
    "hosts_require_dane",
    "hosts_require_tls",
    "tls_verify_hosts",
    "tls_verify_cert_hostnames",
    "hosts_try_dane",
];

/// The client policy an smtp transport applies to `host`, with what could not be judged.
///
/// In Postfix's terms, first rule that applies:
/// - `hosts_avoid_tls` matches: `none`. Exim does not send STARTTLS (smtp.c,
///   `smtp_setup_conn`); if `hosts_require_tls` or `hosts_require_dane` also match,
///   every delivery defers ("a TLS session is required, but the server did not offer
///   TLS support"), which is noted.
/// - `hosts_require_dane` matches: `dane-only` ("There will be no fallback to in-clear
///   communication", spec, `hosts_require_dane`).
/// - `hosts_require_tls` matches and verification is required: `verify`; otherwise
///   `encrypt` (a TLSA record found through `hosts_try_dane` upgrades the session to DANE,
///   which Postfix's levels cannot say together with "TLS required").
/// - Verification is required but TLS is not: still `may`. The spec's warning under
///   `tls_verify_hosts`: "Including a host in tls_verify_hosts does not require that
///   connections use TLS. Fallback to in-clear communication will be done unless
///   restricted by the hosts_require_tls option" (with `tls_tempfail_tryclear`, Exim
///   reconnects in clear after a failed handshake; without it, it defers that host).
/// - `hosts_try_dane` matches (default `*` in 4.96): `dane`: a DNSSEC-validated TLSA
///   record makes DANE mandatory, else TLS is opportunistic (spec, `hosts_try_dane`).
/// - Otherwise `may`: `tls_try_verify_hosts` (default `*`) checks the certificate but
///   "need not succeed".
///
/// Verification is required when `tls_verify_hosts` matches, or, "for back-compatibility",
/// when `tls_verify_certificates` is set and both `tls_verify_hosts` and
/// `tls_try_verify_hosts` are unset (spec, `tls_verify_certificates`; tls-gnu.c,
/// `tls_client_start`). `-bP` prints unset and empty lists alike, so an empty
/// `tls_verify_hosts` is taken as unset. The name is checked when
/// `tls_verify_cert_hostnames` (default `*`) matches: `matches = ["hostname"]`.
pub fn client_policy(
    transport: &Transport,
    host: Destination<'_>,
    named: &HashMap<String, String>,
    origin: &Origin,
) -> (ClientPolicy, Vec<String>) {
    let options = &transport.options;
    let mut unread = Vec::new();
    let mut list = |name: &str| {
        let Some(value) = options.get(name) else {
            return false;
        };
        let judged = match_host_list(value, host, named);
        for reason in judged.unknown {
            unread.push(format!(
                "{} transport, {name}: {reason}; taken as not matching {}",
                transport.name, host.host
            ));
        }
        judged.matched
    };
    let avoid = list("hosts_avoid_tls");
    let require_dane = list("hosts_require_dane");
    let require = list("hosts_require_tls");
    let verify_listed = list("tls_verify_hosts");
    let check_name = list("tls_verify_cert_hostnames");
    let try_dane = list("hosts_try_dane");
    let verify_required = verify_listed
        || (options.is_empty("tls_verify_hosts")
            && options.is_empty("tls_try_verify_hosts")
            && !options.is_empty("tls_verify_certificates"));
    let level = if avoid {
        if require || require_dane {
            unread.push(format!(
                "{} transport: {} is in hosts_avoid_tls and also requires TLS; Exim defers \
                 every delivery to it",
                transport.name, host.host
            ));
        }
        Level::None
    } else if require_dane {
        Level::DaneOnly
    } else if require {
        if verify_required { Level::Verify } else { Level::Encrypt }
    } else if try_dane {
        Level::Dane
    } else {
        Level::May
    };
    let matches = if level.verifies() && check_name {
        vec!["hostname".to_string()]
    } else {
        Vec::new()
    };
    let protocols = protocols(options.get("tls_require_ciphers").unwrap_or_default(), None);
    (
        ClientPolicy {
            level,
            level_origin: origin.clone(),
            matches,
            protocols,
            ciphers: None,
            exclude_ciphers: None,
        },
        unread,
    )
}

/// Protocol exclusions in Postfix syntax, from a GnuTLS priority string in
/// `tls_require_ciphers` (`-VERS-TLS1.0`) or OpenSSL's `openssl_options` (`+no_tlsv1`),
/// the two places Exim takes protocol limits (spec, `tls_require_ciphers`,
/// `openssl_options`).
fn protocols(gnutls_priority: &str, openssl_options: Option<&str>) -> Option<String> {
    let mut excluded = Vec::new();
    for item in gnutls_priority.split(':') {
        let name = match item.trim() {
            "-VERS-SSL3.0" => "SSLv3",
            "-VERS-TLS1.0" => "TLSv1",
            "-VERS-TLS1.1" => "TLSv1.1",
            "-VERS-TLS1.2" => "TLSv1.2",
            "-VERS-TLS1.3" => "TLSv1.3",
            _ => continue,
        };
        excluded.push(format!("!{name}"));
    }
    for item in openssl_options.unwrap_or_default().split_whitespace() {
        let name = match item {
            "+no_sslv2" => "SSLv2",
            "+no_sslv3" => "SSLv3",
            "+no_tlsv1" => "TLSv1",
            "+no_tlsv1_1" => "TLSv1.1",
            "+no_tlsv1_2" => "TLSv1.2",
            "+no_tlsv1_3" => "TLSv1.3",
            _ => continue,
        };
        excluded.push(format!("!{name}"));
    }
    (!excluded.is_empty()).then(|| excluded.join(", "))
}

/// The named lists (`+name`) the level-deciding options of `transport` refer to.
pub fn named_lists_used(transport: &Transport) -> Vec<String> {
    let mut names = Vec::new();
    for option in LEVEL_LISTS {
        for item in split_list(transport.options.get(option).unwrap_or_default()) {
            let item = item.trim_start_matches('!').trim_start();
            if let Some(name) = item.strip_prefix('+')
                && !is_list_directive(item)
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// What was read from Exim's commands, before it is judged for one destination.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub binary: Option<BinaryInfo>,
    pub main: Options,
    pub transports: Vec<Transport>,
    /// `+name` lists read with `exim -bP +name`.
    pub named: HashMap<String, String>,
    /// The commands as run, for origins: `-bP`, `-bP transports`.
    pub main_command: String,
    pub transports_command: String,
    pub unread: Vec<String>,
}

/// Assembles the view for one destination. `transport` names the smtp transport that
/// delivers; without it, the only smtp transport, or `remote_smtp`, is used (which one
/// delivers is the routers' decision, `exim -bt address`).
pub fn view(reading: &Reading, transport: Option<&str>, host: Destination<'_>) -> RelayView {
    let mut unread = reading.unread.clone();
    let mut settings = Vec::new();
    let main_origin = Origin::Command {
        command: reading.main_command.clone(),
    };
    for name in MAIN_SETTINGS {
        if let Some(value) = reading.main.get(name) {
            settings.push(Setting {
                name: (*name).to_string(),
                value: value.to_string(),
                origin: main_origin.clone(),
            });
        }
    }
    let chosen = choose_transport(&reading.transports, transport, &mut unread);
    let mut policy = None;
    if let Some(chosen) = chosen {
        let origin = Origin::Command {
            command: reading.transports_command.clone(),
        };
        for name in TRANSPORT_SETTINGS {
            if let Some(value) = chosen.options.get(name) {
                settings.push(Setting {
                    name: (*name).to_string(),
                    value: value.to_string(),
                    origin: origin.clone(),
                });
            }
        }
        let (mut judged, notes) = client_policy(chosen, host, &reading.named, &origin);
        unread.extend(notes);
        if judged.protocols.is_none() {
            judged.protocols = protocols("", reading.main.get("openssl_options"));
        }
        policy = Some(judged);
    }
    RelayView {
        mta: Some(Mta::Exim),
        version: reading.binary.as_ref().map(|b| b.version.clone()),
        tls_library: reading.binary.as_ref().and_then(|b| b.tls_library.clone()),
        route: None,
        policy,
        settings,
        unread,
        ..Default::default()
    }
}

fn choose_transport<'a>(
    transports: &'a [Transport],
    wanted: Option<&str>,
    unread: &mut Vec<String>,
) -> Option<&'a Transport> {
    if let Some(wanted) = wanted {
        let found = transports.iter().find(|t| t.name == wanted);
        if found.is_none() {
            unread.push(format!("no transport named {wanted} in exim -bP transports"));
        }
        return found;
    }
    let smtp: Vec<&Transport> = transports.iter().filter(|t| t.is_smtp()).collect();
    match smtp.as_slice() {
        [] => {
            unread.push("no smtp transport in exim -bP transports".to_string());
            None
        }
        [only] => Some(only),
        several => {
            let chosen = several.iter().find(|t| t.name == "remote_smtp").unwrap_or(&several[0]);
            let names: Vec<&str> = several.iter().map(|t| t.name.as_str()).collect();
            unread.push(format!(
                "several smtp transports ({}); which delivers is the routers' choice \
                 (exim -bt address); {} was read",
                names.join(", "),
                chosen.name
            ));
            Some(chosen)
        }
    }
}

/// Finds `exim` or `exim4` (Debian's name) on PATH.
pub fn find_binary() -> Option<PathBuf> {
    // PATH, then the sbin directories a non-root shell often lacks (Debian's exim4).
    ["exim", "exim4"].into_iter().find_map(crate::relay::exec::locate)
}

/// Runs Exim's own commands and reads the relay for `host`.
///
/// `exim -d-all+tls -bV` is run for the library versions, which Exim prints only when
/// debugging; `-d` is for admin users ("If a non-admin user uses -d, Exim writes an error
/// message ... and exits with a non-zero return code", spec, `-d`) but 4.96 prints the
/// version report before refusing, so its stdout is used whenever it has the version
/// line. Then `exim -bP`, `exim -bP transports` and `exim -bP +name` for the named lists
/// the transport's TLS options use. Only a missing or unusable binary is an error;
/// what could not be read after that is in `unread`.
pub async fn read(transport: Option<&str>, host: Destination<'_>) -> Result<RelayView, EximError> {
    let binary = find_binary().ok_or(EximError::NotInstalled)?;
    let reading = read_with(&binary, transport).await?;
    Ok(view(&reading, transport, host))
}

/// [`read`]'s commands with an explicit binary, for tests and odd installations.
pub async fn read_with(binary: &Path, transport: Option<&str>) -> Result<Reading, EximError> {
    let mut reading = Reading::default();
    let version_command = command_line(binary, &["-d-all+tls", "-bV"]);
    let output = run(binary, &["-d-all+tls", "-bV"]).await?;
    reading.binary = parse_version(&output.stdout, &version_command);
    if reading.binary.is_none() {
        return Err(match output.failure {
            Some(failure) => failure,
            None => EximError::NotExim {
                command: version_command,
            },
        });
    }
    if output.failure.is_some() {
        reading.unread.push(format!(
            "{version_command} was refused ({}): TLS library version not read",
            output.stderr_tail()
        ));
    }
    reading.main_command = command_line(binary, &["-bP"]);
    match run(binary, &["-bP"]).await?.ok() {
        Ok(stdout) => reading.main = Options::parse(&stdout),
        Err(e) => reading.unread.push(e.to_string()),
    }
    reading.transports_command = command_line(binary, &["-bP", "transports"]);
    match run(binary, &["-bP", "transports"]).await?.ok() {
        Ok(stdout) => reading.transports = parse_transports(&stdout),
        Err(e) => reading.unread.push(e.to_string()),
    }
    let chosen = choose_transport(&reading.transports, transport, &mut Vec::new());
    let names = chosen.map(named_lists_used).unwrap_or_default();
    for (i, name) in names.iter().enumerate() {
        if i >= NAMED_LIST_LIMIT {
            reading
                .unread
                .push(format!("+{name}: more than {NAMED_LIST_LIMIT} named lists"));
            continue;
        }
        let arg = format!("+{name}");
        match run(binary, &["-bP", &arg]).await?.ok() {
            Ok(stdout) => {
                if let Some((name, value)) = parse_named_list(&stdout) {
                    reading.named.insert(name, value);
                }
            }
            Err(e) => reading.unread.push(e.to_string()),
        }
    }
    Ok(reading)
}

/// One command's output; `failure` is set for a non-zero exit.
struct Output {
    stdout: String,
    stderr: String,
    failure: Option<EximError>,
}

impl Output {
    fn ok(self) -> Result<String, EximError> {
        match self.failure {
            Some(failure) => Err(failure),
            None => Ok(self.stdout),
        }
    }

    fn stderr_tail(&self) -> String {
        stderr_tail(&self.stderr)
    }
}

/// The last line of stderr: `-d` writes debug output before Exim's own error.
fn stderr_tail(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn command_line(binary: &Path, args: &[&str]) -> String {
    let name = binary
        .file_name()
        .map_or_else(|| binary.display().to_string(), |n| n.to_string_lossy().into_owned());
    std::iter::once(name.as_str())
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs one command with stdin closed, at most [`OUTPUT_LIMIT`] bytes kept per stream
/// and [`COMMAND_TIMEOUT`]. `Err` when it cannot run; a non-zero exit is in `failure`.
async fn run(binary: &Path, args: &[&str]) -> Result<Output, EximError> {
    use crate::relay::exec::{self, ExecError};
    let command = command_line(binary, args);
    let program = binary.to_string_lossy();
    // One bounded runner for every MTA command: it stops a child that prints past the
    // bound instead of waiting for the timeout.
    let captured = exec::run(&program, args, OUTPUT_LIMIT, COMMAND_TIMEOUT)
        .await
        .map_err(|e| match e {
            // An explicit path that is not there: `NotInstalled` is for find_binary.
            ExecError::NotInstalled { .. } => EximError::Spawn {
                command: command.clone(),
                source: std::io::ErrorKind::NotFound.into(),
            },
            ExecError::TimedOut { .. } => EximError::Timeout {
                command: command.clone(),
            },
            ExecError::Spawn { source, .. } | ExecError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                EximError::PermissionDenied {
                    command: command.clone(),
                }
            }
            ExecError::Spawn { source, .. } | ExecError::Read { source, .. } => EximError::Spawn {
                command: command.clone(),
                source,
            },
        })?;
    let Some(status) = captured.status else {
        return Err(EximError::Failed {
            command,
            status: format!("printed more than {} KiB", OUTPUT_LIMIT / 1024),
            stderr: stderr_tail(&captured.stderr),
        });
    };
    let (out, err) = (captured.stdout, captured.stderr.into_bytes());
    let stdout = String::from_utf8_lossy(&out).into_owned();
    let stderr = String::from_utf8_lossy(&err).into_owned();
    let failure = (!status.success()).then(|| {
        let tail = stderr_tail(&stderr);
        if tail.to_ascii_lowercase().contains("permission denied") {
            EximError::PermissionDenied {
                command: command.clone(),
            }
        } else {
            EximError::Failed {
                command: command.clone(),
                status: status.to_string(),
                stderr: tail,
            }
        }
    });
    Ok(Output {
        stdout,
        stderr,
        failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_BV: &str = include_str!("../../tests/fixtures/exim/debian-bV.txt");
    const DEBIAN_D_BV: &str = include_str!("../../tests/fixtures/exim/debian-d-bV.txt");
    const NONADMIN_D_BV: &str = include_str!("../../tests/fixtures/exim/nonadmin-d-bV.stdout.txt");
    const NONADMIN_D_BV_ERR: &str = include_str!("../../tests/fixtures/exim/nonadmin-d-bV.stderr.txt");
    const OPENSSL_D_BV: &str = include_str!("../../tests/fixtures/exim/openssl-d-bV.txt");
    const DEBIAN_BP: &str = include_str!("../../tests/fixtures/exim/debian-bP.txt");
    const DEBIAN_TRANSPORTS: &str = include_str!("../../tests/fixtures/exim/debian-bP-transports.txt");
    const POLICY_BP: &str = include_str!("../../tests/fixtures/exim/policy-bP.txt");
    const POLICY_TRANSPORTS: &str = include_str!("../../tests/fixtures/exim/policy-bP-transports.txt");
    const POLICY_SECURE_PEERS: &str = include_str!("../../tests/fixtures/exim/policy-bP-secure_peers.txt");

    fn command(command: &str) -> Origin {
        Origin::Command {
            command: command.to_string(),
        }
    }

    fn to<'a>(host: &'a str, address: Option<&str>) -> Destination<'a> {
        Destination {
            host,
            address: address.and_then(|a| a.parse().ok()),
        }
    }

    fn reading(main: &str, transports: &str, named: &[&str]) -> Reading {
        Reading {
            binary: parse_version(DEBIAN_D_BV, "exim4 -d-all+tls -bV"),
            main: Options::parse(main),
            transports: parse_transports(transports),
            named: named.iter().filter_map(|o| parse_named_list(o)).collect(),
            main_command: "exim4 -bP".to_string(),
            transports_command: "exim4 -bP transports".to_string(),
            unread: Vec::new(),
        }
    }

    fn policy_view(host: &str, address: Option<&str>) -> RelayView {
        let reading = reading(POLICY_BP, POLICY_TRANSPORTS, &[POLICY_SECURE_PEERS]);
        view(&reading, None, to(host, address))
    }

    fn level(view: &RelayView) -> Level {
        view.policy.as_ref().map(|p| p.level).unwrap()
    }

    #[test]
    fn debug_version_report_gives_the_gnutls_runtime_version() {
        let info = parse_version(DEBIAN_D_BV, "exim4 -d-all+tls -bV").unwrap();
        assert_eq!(info.version, "4.96");
        assert!(info.dane);
        assert_eq!(
            info.tls_library,
            Some(TlsLibrary {
                name: "GnuTLS".to_string(),
                version: "3.7.9".to_string(),
                origin: command("exim4 -d-all+tls -bV"),
            })
        );
    }

    #[test]
    fn plain_version_report_names_the_library_without_a_version() {
        let info = parse_version(DEBIAN_BV, "exim4 -bV").unwrap();
        assert_eq!(info.version, "4.96");
        let library = info.tls_library.unwrap();
        assert_eq!((library.name.as_str(), library.version.as_str()), ("GnuTLS", ""));
    }

    #[test]
    fn non_admin_debug_refusal_still_prints_the_version_report() {
        assert_eq!(stderr_tail(NONADMIN_D_BV_ERR), "exim: debugging permission denied");
        let library = parse_version(NONADMIN_D_BV, "exim4 -d-all+tls -bV")
            .unwrap()
            .tls_library
            .unwrap();
        assert_eq!(library.version, "3.7.9");
    }

    #[test]
    fn openssl_report_prefers_the_runtime_over_the_compile_version() {
        let library = parse_version(OPENSSL_D_BV, "exim -d-all+tls -bV")
            .unwrap()
            .tls_library
            .unwrap();
        assert_eq!((library.name.as_str(), library.version.as_str()), ("OpenSSL", "3.0.13"));
    }

    #[test]
    fn one_line_library_report_is_read_too() {
        let text = "Exim version 4.97 #1 built x\nLibrary version: GnuTLS: Compile: 3.7.9 Runtime: 3.8.1\n";
        let library = parse_version(text, "exim -bV").unwrap().tls_library.unwrap();
        assert_eq!(library.version, "3.8.1");
    }

    #[test]
    fn other_programs_are_not_taken_for_exim() {
        assert_eq!(parse_version("Postfix 3.7\n", "exim -bV"), None);
    }

    #[test]
    fn main_options_keep_values_booleans_and_unset() {
        let main = Options::parse(DEBIAN_BP);
        assert_eq!(main.get("tls_verify_certificates"), Some("system"));
        assert_eq!(main.get("tls_verify_hosts"), Some(""));
        assert_eq!(main.flag("gnutls_compat_mode"), Some(false));
        assert_eq!(main.get("no_such_option"), None);
    }

    #[test]
    fn transports_split_at_their_headers() {
        let transports = parse_transports(DEBIAN_TRANSPORTS);
        let names: Vec<&str> = transports.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 10);
        let smtp: Vec<&str> = transports
            .iter()
            .filter(|t| t.is_smtp())
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(smtp, ["remote_smtp", "remote_smtp_smarthost"]);
        let remote = &transports[names.iter().position(|n| *n == "remote_smtp").unwrap()];
        assert_eq!(remote.options.get("hosts_try_dane"), Some("*"));
        assert_eq!(remote.options.flag("tls_tempfail_tryclear"), Some(true));
    }

    #[test]
    fn debian_default_is_opportunistic_dane_and_says_which_transport_was_read() {
        let view = view(
            &reading(DEBIAN_BP, DEBIAN_TRANSPORTS, &[]),
            None,
            to("mx.example.com", Some("192.0.2.1")),
        );
        let policy = view.policy.clone().unwrap();
        assert_eq!(policy.level, Level::Dane);
        assert_eq!(policy.level_origin, command("exim4 -bP transports"));
        assert_eq!(view.version.as_deref(), Some("4.96"));
        assert_eq!(view.tls_library.as_ref().map(|l| l.version.as_str()), Some("3.7.9"));
        let setting = view.setting("tls_verify_certificates").unwrap();
        assert_eq!(setting.value, "system");
        assert_eq!(setting.origin, command("exim4 -bP transports"));
        assert!(view.unread.iter().any(|u| u.contains("several smtp transports")));
    }

    #[test]
    fn smarthost_transport_can_be_named() {
        let view = view(
            &reading(DEBIAN_BP, DEBIAN_TRANSPORTS, &[]),
            Some("remote_smtp_smarthost"),
            to("smarthost.example.net", None),
        );
        assert!(view.unread.is_empty(), "{:?}", view.unread);
        assert_eq!(view.setting("hosts_try_auth").map(|s| s.value.as_str()), None);
        assert_eq!(
            view.setting("primary_hostname").map(|s| &s.origin),
            Some(&command("exim4 -bP"))
        );
    }

    #[test]
    fn hosts_require_tls_with_tls_verify_hosts_is_verify_with_hostname_check() {
        let view = policy_view("mx1.partner.example", Some("203.0.113.9"));
        let policy = view.policy.clone().unwrap();
        assert_eq!(policy.level, Level::Verify);
        assert_eq!(policy.matches, ["hostname"]);
        assert_eq!(policy.protocols.as_deref(), Some("!TLSv1, !TLSv1.1"));
        assert_eq!(
            view.setting("tls_verify_certificates").map(|s| s.value.as_str()),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(
            view.setting("tls_tempfail_tryclear").map(|s| s.value.as_str()),
            Some("false")
        );
        assert_eq!(
            view.setting("interface").map(|s| s.value.as_str()),
            Some("<; 192.0.2.25 ; 2001:db8::25")
        );
    }

    #[test]
    fn tls_verify_cert_hostnames_exclusion_drops_the_name_check() {
        let view = policy_view("mx.noname.partner.example", None);
        let policy = view.policy.unwrap();
        assert_eq!(policy.level, Level::Verify);
        assert!(policy.matches.is_empty());
    }

    #[test]
    fn hosts_require_tls_alone_is_encrypt() {
        // 2001:db8::/32 in a "<;" list; the name matches nothing else.
        assert_eq!(
            level(&policy_view("mx.v6.example", Some("2001:db8::7"))),
            Level::Encrypt
        );
    }

    #[test]
    fn named_list_read_with_bp_plus_name_is_expanded() {
        let view = policy_view("mail.bank.example", Some("203.0.113.1"));
        assert_eq!(level(&view), Level::Encrypt);
        assert!(view.unread.is_empty(), "{:?}", view.unread);
        assert_eq!(
            level(&policy_view("mx.example.org", Some("192.0.2.80"))),
            Level::Encrypt
        );
    }

    #[test]
    fn unread_named_list_is_reported_and_taken_as_not_matching() {
        let reading = reading(POLICY_BP, POLICY_TRANSPORTS, &[]);
        let view = view(&reading, None, to("mail.bank.example", Some("203.0.113.1")));
        assert_eq!(level(&view), Level::Dane);
        assert!(
            view.unread
                .iter()
                .any(|u| u.contains("hosts_require_tls: +secure_peers is a named list")),
            "{:?}",
            view.unread
        );
    }

    #[test]
    fn tls_verify_hosts_without_hosts_require_tls_still_falls_back_to_clear() {
        // Spec, tls_verify_hosts: "does not require that connections use TLS".
        let view = policy_view("mx12.strict.example", Some("198.51.100.12"));
        assert_eq!(level(&view), Level::Dane);
        assert!(!level(&view).requires_tls());
    }

    #[test]
    fn hosts_avoid_tls_by_name_or_address_is_none() {
        assert_eq!(level(&policy_view("legacy.example.org", None)), Level::None);
        assert_eq!(level(&policy_view("other.example", Some("198.51.100.7"))), Level::None);
    }

    #[test]
    fn hosts_require_dane_is_dane_only() {
        assert_eq!(level(&policy_view("mx.dane.example", None)), Level::DaneOnly);
    }

    #[test]
    fn unset_try_and_verify_lists_require_verification_for_back_compatibility() {
        let transports = "t transport:\ndriver = smtp\nhosts_require_tls = *\nhosts_try_dane = \ntls_try_verify_hosts = \ntls_verify_hosts = \ntls_verify_certificates = system\ntls_verify_cert_hostnames = *\n";
        let view = view(&reading("", transports, &[]), None, to("mx.example", None));
        assert_eq!(level(&view), Level::Verify);
        let colon = transports.replace("tls_try_verify_hosts = \n", "tls_try_verify_hosts = :\n");
        let view = super::view(&reading("", &colon, &[]), None, to("mx.example", None));
        assert_eq!(level(&view), Level::Encrypt);
    }

    #[test]
    fn avoid_and_require_together_defer_every_delivery() {
        let transports = "t transport:\ndriver = smtp\nhosts_avoid_tls = *\nhosts_require_tls = *\n";
        let view = view(&reading("", transports, &[]), None, to("mx.example", None));
        assert_eq!(level(&view), Level::None);
        assert!(view.unread.iter().any(|u| u.contains("defers every delivery")));
    }

    #[test]
    fn list_syntax_follows_the_spec() {
        let named = HashMap::new();
        let m = |list: &str, host: &str, address: Option<&str>| match_host_list(list, to(host, address), &named);
        // A list ending in a negative item behaves as if it had ": *" on the end.
        assert!(m("!a.b.c", "x.example", None).matched);
        assert!(!m("!a.b.c", "a.b.c", None).matched);
        assert!(!m("!a.b.c : *.b.c", "a.b.c", None).matched);
        assert!(m("!a.b.c : *.b.c", "z.b.c", None).matched);
        // Doubled colons are literal; "<;" changes the separator.
        assert!(m("192.0.2.1 : ::::1", "h", Some("::1")).matched);
        assert!(m("<; 10.0.0.0/8 ; 2001:db8::/32", "h", Some("10.1.2.3")).matched);
        // Mapped IPv4 compares as IPv4.
        assert!(m("10.0.0.0/8", "h", Some("::ffff:10.0.0.1")).matched);
        // Regex is case-insensitive; expansions and lookups cannot be judged.
        assert!(m("\\N^MX\\d+\\.example$\\N", "mx3.example", None).matched);
        let judged = m("${lookup{$host}lsearch{/etc/x}}", "h", None);
        assert!(!judged.matched && judged.unknown.len() == 1);
        let judged = m("lsearch;/etc/exim4/tls_hosts", "h", None);
        assert!(!judged.matched && judged.unknown[0].contains("lookup"));
        // An IP pattern with no known address is not guessed.
        let judged = m("192.0.2.0/24", "h", None);
        assert!(!judged.matched && judged.unknown[0].contains("address"));
        // "+ignore_unknown" is a directive, not a named list.
        assert!(m("+ignore_unknown : *", "h", None).unknown.is_empty());
        assert!(!m("", "h", None).matched);
    }

    #[test]
    fn named_lists_used_skips_directives_and_duplicates() {
        let transports = parse_transports(
            "t transport:\ndriver = smtp\nhosts_require_tls = +a : !+b : +ignore_unknown\ntls_verify_hosts = +a\n",
        );
        assert_eq!(named_lists_used(&transports[0]), ["a", "b"]);
    }

    #[tokio::test]
    async fn a_missing_binary_is_a_spawn_error() {
        let error = read_with(Path::new("/nonexistent/exim4"), None).await.unwrap_err();
        assert!(matches!(error, EximError::Spawn { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_program_that_is_not_exim_is_refused() {
        let error = read_with(Path::new("/bin/true"), None).await.unwrap_err();
        assert!(matches!(error, EximError::NotExim { .. }), "{error}");
        let error = read_with(Path::new("/bin/false"), None).await.unwrap_err();
        assert!(matches!(error, EximError::Failed { .. }), "{error}");
    }
}
