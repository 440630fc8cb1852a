//! Knowing the relay: the local MTA's configuration, TLS library, queue and log.
//!
//! mxtriage runs on the relay that defers the mail, so the sender every verdict is
//! about is this host's MTA. Postfix is read through its own tools (`postconf`,
//! `postmap -q`, `postqueue -j`) so that every map type and default is Postfix's own;
//! Exim is read from `exim -bP`/`-bV`. Whatever cannot be read is said, with the reason.

pub mod command;
pub mod exim;
pub mod postfix;
pub mod predict;

pub use crate::model::relay::*;
