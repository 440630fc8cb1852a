//! The configuration file: what an operator sets once per relay
//! (`$XDG_CONFIG_HOME/mxtriage/config.toml`). The command line always wins over it.
//!
//! Every key is checked with the same parser as its command-line option, so a value the
//! file accepts is one the option would accept, and an error names the file and the key.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::cli::ProbeArgs;

/// The keys the file may set, named after their long options.
pub const KEYS: &[&str] = &[
    "nameserver",
    "ca_file",
    "ehlo",
    "source",
    "sender_profile",
    "report_dir",
    "postfix_config",
    "no_relay",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the configuration file {} named by MXTRIAGE_CONFIG does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("the configuration file {} is not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("the configuration file {} has an unknown key `{key}` (known: {})", path.display(), KEYS.join(", "))]
    UnknownKey { path: PathBuf, key: String },
    #[error("the configuration file {}, key `{key}`: {message}", path.display())]
    Value {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

/// What the file says; `None` where it says nothing.
#[derive(Debug, Clone, Default)]
pub struct FileConfig {
    pub path: PathBuf,
    pub nameserver: Option<Vec<SocketAddr>>,
    pub ca_file: Option<PathBuf>,
    pub ehlo: Option<String>,
    pub source: Option<IpAddr>,
    pub sender_profile: Option<String>,
    pub report_dir: Option<PathBuf>,
    pub postfix_config: Option<PathBuf>,
    pub no_relay: Option<bool>,
}

/// Names the file to read instead of the default; set but empty, no file is read (so a
/// test or a one-off run is not steered by the operator's settings).
pub const ENV: &str = "MXTRIAGE_CONFIG";

/// `$MXTRIAGE_CONFIG` when set, else `$XDG_CONFIG_HOME/mxtriage/config.toml` (or the
/// platform's equivalent); `None` when there is no file to look for.
pub fn default_path() -> Option<PathBuf> {
    match std::env::var_os(ENV) {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => directories::ProjectDirs::from("", "", "mxtriage").map(|dirs| dirs.config_dir().join("config.toml")),
    }
}

/// Whether `path` is the file `MXTRIAGE_CONFIG` names.
fn named_by_env(path: &Path) -> bool {
    std::env::var_os(ENV).is_some_and(|named| !named.is_empty() && Path::new(&named) == path)
}

/// The file at `path`, or `None` when there is none (no default file is not an error;
/// a missing file that `MXTRIAGE_CONFIG` names is).
pub fn load(path: &Path) -> Result<Option<FileConfig>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text).map(Some),
        // A file named on purpose must be there: a typo would silently drop every setting.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && named_by_env(path) => Err(ConfigError::Missing {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads the file's text; relative paths in it are relative to the file's directory.
pub fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut config = FileConfig {
        path: path.to_path_buf(),
        ..FileConfig::default()
    };
    for (key, value) in &table {
        let Some(&key) = KEYS.iter().find(|k| **k == key.as_str()) else {
            return Err(ConfigError::UnknownKey {
                path: path.to_path_buf(),
                key: key.clone(),
            });
        };
        let bad = |message: String| ConfigError::Value {
            path: path.to_path_buf(),
            key,
            message,
        };
        match key {
            "nameserver" => {
                let items = match value {
                    toml::Value::String(one) => vec![one.as_str()],
                    toml::Value::Array(many) => many
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .ok_or_else(|| bad(format!("expected strings, found {}", v.type_str())))
                        })
                        .collect::<Result<_, _>>()?,
                    other => {
                        return Err(bad(format!(
                            "expected a list of \"IP[:PORT]\", found {}",
                            other.type_str()
                        )));
                    }
                };
                let parsed = items
                    .into_iter()
                    .map(|s| mxtriage::dns::parse_nameserver(s).map_err(|e| bad(format!("{s:?}: {e}"))))
                    .collect::<Result<_, _>>()?;
                config.nameserver = Some(parsed);
            }
            "ca_file" => {
                let file = base.join(string(value).map_err(bad)?);
                if !file.is_file() {
                    return Err(bad(format!("{} is not a readable file", file.display())));
                }
                config.ca_file = Some(std::fs::canonicalize(&file).unwrap_or(file));
            }
            "ehlo" => config.ehlo = Some(mxtriage::host::valid_ehlo(string(value).map_err(bad)?).map_err(bad)?),
            "source" => {
                let text = string(value).map_err(bad)?;
                config.source = Some(
                    text.parse()
                        .map_err(|_| bad(format!("{text:?} is not an IP address")))?,
                );
            }
            "sender_profile" => {
                let name = string(value).map_err(bad)?;
                config.sender_profile = Some(mxtriage::policy::sender::parse_profile(name).map_err(bad)?);
            }
            "report_dir" => config.report_dir = Some(base.join(string(value).map_err(bad)?)),
            "postfix_config" => config.postfix_config = Some(base.join(string(value).map_err(bad)?)),
            _ => {
                let toml::Value::Boolean(flag) = value else {
                    return Err(bad(format!("expected true or false, found {}", value.type_str())));
                };
                config.no_relay = Some(*flag);
            }
        }
    }
    if config.no_relay == Some(true) && config.postfix_config.is_some() {
        return Err(ConfigError::Value {
            path: path.to_path_buf(),
            key: "no_relay",
            message: "cannot be true together with postfix_config (one says read no MTA, the other which one)".into(),
        });
    }
    Ok(config)
}

fn string(value: &toml::Value) -> Result<&str, String> {
    match value {
        toml::Value::String(s) if !s.trim().is_empty() => Ok(s),
        toml::Value::String(_) => Err("is empty".into()),
        other => Err(format!("expected a string, found {}", other.type_str())),
    }
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    CommandLine,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::CommandLine => f.write_str("command line"),
        }
    }
}

/// The settings the file can hold, each with its origin, after the command line.
#[derive(Debug, Clone)]
pub struct Effective {
    /// The file looked for, and whether it was there.
    pub file: Option<(PathBuf, bool)>,
    pub nameserver: (Vec<SocketAddr>, Origin),
    pub ca_file: (Option<PathBuf>, Origin),
    pub ehlo: (Option<String>, Origin),
    pub source: (Option<IpAddr>, Origin),
    pub sender_profile: (Option<String>, Origin),
    pub report_dir: (Option<PathBuf>, Origin),
    /// `postfix_config` and `no_relay` decide together which MTA is read.
    pub relay: ((Option<PathBuf>, bool), Origin),
}

/// One setting: the command line's when given, else the file's, else the default.
fn pick<T>(given: Option<T>, file: Option<T>, path: &Path) -> (Option<T>, Origin) {
    match (given, file) {
        (Some(v), _) => (Some(v), Origin::CommandLine),
        (None, Some(v)) => (Some(v), Origin::File(path.to_path_buf())),
        (None, None) => (None, Origin::Default),
    }
}

impl Effective {
    /// Merges the command line's probe options over the file (`looked_at`: the path tried).
    pub fn merge(args: &ProbeArgs, looked_at: Option<&Path>, file: Option<&FileConfig>) -> Self {
        let empty = FileConfig::default();
        let f = file.unwrap_or(&empty);
        let path = f.path.as_path();
        let given_ns = (!args.nameserver.is_empty()).then(|| args.nameserver.clone());
        let (nameserver, ns_origin) = pick(given_ns, f.nameserver.clone(), path);
        let cli_relay = args.postfix_config.is_some() || args.no_relay;
        let file_relay = f.postfix_config.is_some() || f.no_relay.is_some();
        let relay = if cli_relay {
            ((args.postfix_config.clone(), args.no_relay), Origin::CommandLine)
        } else if file_relay {
            (
                (f.postfix_config.clone(), f.no_relay.unwrap_or(false)),
                Origin::File(path.to_path_buf()),
            )
        } else {
            ((None, false), Origin::Default)
        };
        Self {
            file: looked_at.map(|p| (p.to_path_buf(), file.is_some())),
            nameserver: (nameserver.unwrap_or_default(), ns_origin),
            ca_file: pick(args.ca_file.clone(), f.ca_file.clone(), path),
            ehlo: pick(args.ehlo.clone(), f.ehlo.clone(), path),
            source: pick(args.source, f.source, path),
            sender_profile: pick(args.sender_profile.clone(), f.sender_profile.clone(), path),
            report_dir: pick(None, f.report_dir.clone(), path),
            relay,
        }
    }

    /// Writes the effective values back into the probe options the engine is built from.
    pub fn apply(&self, args: &mut ProbeArgs) {
        args.nameserver.clone_from(&self.nameserver.0);
        args.ca_file.clone_from(&self.ca_file.0);
        args.ehlo.clone_from(&self.ehlo.0);
        args.source = self.source.0;
        args.sender_profile.clone_from(&self.sender_profile.0);
        args.postfix_config.clone_from(&self.relay.0.0);
        args.no_relay = self.relay.0.1;
    }

    /// `--print-config`: one line per key, its value and where it came from.
    pub fn render(&self, default_ehlo: &str, default_reports: Option<&Path>) -> String {
        let mut out = String::new();
        match &self.file {
            Some((path, true)) => {
                let _ = writeln!(out, "# configuration file: {} (read)", path.display());
            }
            Some((path, false)) => {
                let _ = writeln!(out, "# configuration file: {} (not present)", path.display());
            }
            None => out.push_str("# configuration file: none (MXTRIAGE_CONFIG is empty, or no config directory)\n"),
        }
        let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let nameserver = if self.nameserver.0.is_empty() {
            "(the system resolver)".to_string()
        } else {
            self.nameserver
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ((postfix_config, no_relay), relay_origin) = &self.relay;
        let rows: [(&str, String, &Origin); 8] = [
            ("nameserver", nameserver, &self.nameserver.1),
            (
                "ca_file",
                shown(&self.ca_file.0).unwrap_or_else(|| "(none: Mozilla and system stores)".into()),
                &self.ca_file.1,
            ),
            (
                "ehlo",
                self.ehlo
                    .0
                    .clone()
                    .unwrap_or_else(|| format!("{default_ehlo} (this host's FQDN)")),
                &self.ehlo.1,
            ),
            (
                "source",
                self.source
                    .0
                    .map_or_else(|| "(chosen by the kernel)".into(), |ip| ip.to_string()),
                &self.source.1,
            ),
            (
                "sender_profile",
                self.sender_profile
                    .0
                    .clone()
                    .unwrap_or_else(|| "(this relay's own ClientHello, else openssl3-debian)".into()),
                &self.sender_profile.1,
            ),
            (
                "report_dir",
                shown(&self.report_dir.0)
                    .or_else(|| default_reports.map(|p| p.display().to_string()))
                    .unwrap_or_else(|| "(no data directory)".into()),
                &self.report_dir.1,
            ),
            (
                "postfix_config",
                shown(postfix_config).unwrap_or_else(|| "(Postfix's own)".into()),
                relay_origin,
            ),
            ("no_relay", no_relay.to_string(), relay_origin),
        ];
        for (key, value, origin) in rows {
            let _ = writeln!(out, "{key:<15} = {value:<48} # {origin}");
        }
        out
    }
}
