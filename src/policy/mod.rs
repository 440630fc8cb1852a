//! Policies that decide whether a working TLS server is good enough: what the
//! sending stack offers (sender profiles) and, later, what the recipient publishes.

pub mod sender;
pub mod sts_fetch;
