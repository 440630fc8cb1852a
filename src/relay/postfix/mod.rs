//! Postfix, read through its own commands.

pub mod exec;
pub mod log;
pub mod queue;
