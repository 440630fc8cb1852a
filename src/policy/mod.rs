//! Policies that decide whether a working TLS server is good enough: what the
//! sending stack offers (sender profiles), what the recipient publishes (MTA-STS,
//! DANE TLSA records) and the domain's other mail records, shown as context.

pub mod dane;
pub mod mta_sts;
pub mod recipient;
pub mod records;
pub mod sender;
pub mod sts_fetch;
mod txt_record;
mod wording;
