//! Rendering a check for people (text) and programs (JSON).

mod text;

pub use text::render_text;

use crate::check::CheckReport;

/// The whole check as JSON, with `schema_version` at the top level.
pub fn render_json(report: &CheckReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise report: {e}\"}}"))
}
