//! A session: the evidence, the operator's answers and the verdict, as one
//! document that can be saved, shown again and compared.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::diagnose::{self, Answers, DiagnoseError, Tree, Verdict};
use crate::model::CheckReport;
use crate::model::SCHEMA_VERSION;

/// The oldest report this version reads: schema 1 differs only in how TLS names are spelt.
const OLDEST_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The evidence, flattened so `schema_version`, `target` and `probes` sit at the top.
    #[serde(flatten)]
    pub check: CheckReport,
    pub answers: Answers,
    pub verdict: Verdict,
}

#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    #[error("{path} is not an mxtriage JSON report: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("{path} has schema_version {found}; this mxtriage reads {OLDEST_SCHEMA} to {SCHEMA_VERSION}")]
    Version { path: String, found: u64 },
    #[error(transparent)]
    Diagnose(#[from] DiagnoseError),
}

impl Session {
    pub fn new(check: CheckReport, answers: Answers) -> Result<Self, DiagnoseError> {
        let verdict = diagnose::diagnose(Tree::embedded(), &check, &answers)?;
        Ok(Session {
            check,
            answers,
            verdict,
        })
    }

    pub fn exit_code(&self) -> u8 {
        diagnose::exit_code(&self.check, &self.verdict)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise: {e}\"}}"))
    }

    /// Reads a saved JSON report, refusing other schema versions with a clear message.
    pub fn load(path: &std::path::Path) -> Result<Self, SessionError> {
        let shown = path.display().to_string();
        let text = crate::files::read_text(path, crate::files::REPORT)?;
        Self::from_json(&text, &shown)
    }

    /// Reads a saved JSON report from text; `origin` names where it came from in errors.
    /// Apart from [`Session::load`] so the same checks can be fuzzed without a file.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, SessionError> {
        let shown = origin.to_owned();
        let value: serde_json::Value = serde_json::from_str(text).map_err(|source| SessionError::Parse {
            path: shown.clone(),
            source,
        })?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if !(u64::from(OLDEST_SCHEMA)..=u64::from(SCHEMA_VERSION)).contains(&found) {
            return Err(SessionError::Version { path: shown, found });
        }
        let mut value = value;
        neutralise(&mut value);
        let mut saved: Saved =
            serde_json::from_value(value).map_err(|source| SessionError::Parse { path: shown, source })?;
        // Read back, it is written again in this version's spelling.
        saved.check.schema_version = SCHEMA_VERSION;
        Ok(Session::new(saved.check, saved.answers)?)
    }
}

/// What is read back from a saved session: the evidence and the answers. The verdict
/// is rebuilt from them, so its text comes from this tool's assets, never from the file.
#[derive(Deserialize)]
struct Saved {
    #[serde(flatten)]
    check: CheckReport,
    answers: Answers,
}

/// A saved report is peer input: every string in it (host names, messages, policy
/// lines) gets its control and invisible characters escaped before anything shows it.
fn neutralise(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let shown = crate::text::SafeText::escape(s);
            if shown != *s {
                *s = shown;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(neutralise),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(neutralise),
        _ => {}
    }
}
