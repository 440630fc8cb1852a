//! Postfix, read through its own commands.

pub mod log;
pub mod queue;
