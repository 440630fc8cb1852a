//! Policies that decide whether a working TLS server is good enough: what the
//! sending stack offers (sender profiles) and what the recipient publishes (DANE TLSA records).

pub mod dane;
pub mod sender;
