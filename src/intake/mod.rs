//! Stand-in until the bounce parser lands.
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MtaFamily {
    Postfix,
    Qmail,
    Exim,
    Sendmail,
    Exchange,
    Other,
}
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    pub recipient: Option<String>,
    pub domain: Option<String>,
    pub mx_host: Option<String>,
    pub address: Option<std::net::IpAddr>,
    pub port: Option<u16>,
    pub phrase: Option<String>,
    pub mta: Option<MtaFamily>,
    pub smtp_code: Option<u16>,
    pub enhanced_status: Option<String>,
    pub queue_age: Option<String>,
}
impl Extracted {
    pub fn target(&self) -> Option<crate::target::Target> {
        self.domain.clone().map(|name| crate::target::Target::Domain { name })
    }
}
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not find a destination in this text; looked for: {looked_for}")]
pub struct NotFound {
    pub looked_for: String,
}
pub fn extract(_text: &str) -> Result<Extracted, NotFound> {
    Err(NotFound { looked_for: "x".into() })
}
