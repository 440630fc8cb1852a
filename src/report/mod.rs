//! Reports: the session (evidence + answers + verdict) as text, Markdown and JSON,
//! saved safely, shown again and compared across vantage points.

pub mod chain;
pub mod diff;
mod markdown;
pub mod policy;
pub mod relay;
pub mod session;
pub mod store;
mod text;
mod wording;

pub use markdown::render_markdown;
pub use session::{Session, SessionError};
pub use text::{describe_resolution, render_text};
