//! Postfix, read through its own commands.

pub mod config;
pub mod log;
pub mod queue;
