//! What the diagnosis concludes, as serialisable values.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Root-cause families (DESIGN §1) plus healthy and inconclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    RemoteMxBroken,
    SenderPolicy,
    NoSharedVersion,
    NoSharedCipher,
    Certificate,
    NameMismatch,
    Middlebox,
    Dns,
    RecipientPolicy,
    LocalPath,
    Healthy,
    Inconclusive,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::RemoteMxBroken => "remote MX broken",
            Family::SenderPolicy => "sender TLS policy too strict",
            Family::NoSharedVersion => "no shared protocol version",
            Family::NoSharedCipher => "no shared cipher",
            Family::Certificate => "certificate problem",
            Family::NameMismatch => "name mismatch",
            Family::Middlebox => "middlebox",
            Family::Dns => "DNS",
            Family::RecipientPolicy => "policy published by recipient",
            Family::LocalPath => "local / path",
            Family::Healthy => "healthy",
            Family::Inconclusive => "inconclusive",
        }
    }
}

/// Who has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    Sender,
    Recipient,
    Network,
    DnsOwner,
    Either,
    None,
}

impl Owner {
    pub fn label(self) -> &'static str {
        match self {
            Owner::Sender => "sender (this relay's side)",
            Owner::Recipient => "recipient",
            Owner::Network => "network",
            Owner::DnsOwner => "DNS owner",
            Owner::Either => "either side",
            Owner::None => "nobody",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn lowered(self) -> Self {
        match self {
            Confidence::High => Confidence::Medium,
            _ => Confidence::Low,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Which narrow exception a verdict allows, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkaroundKind {
    /// Keep TLS mandatory but stop checking the certificate for this destination.
    RelaxVerification,
    /// Let this destination fall back to plaintext when TLS fails.
    AllowOpportunistic,
}

/// One step of the walk through the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub node: String,
    pub title: String,
    /// What the step found: a check's yes or no, or the answer to a question.
    pub outcome: Outcome,
    /// True when the step was a question the operator has not answered.
    pub unanswered: bool,
    /// The open question makes the verdict less certain.
    pub lowers_confidence: bool,
}

/// A step's answer. In JSON, `yes`, `no` or the answer key, as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Outcome {
    /// The check found what it looks for: this step is the finding.
    Yes,
    /// The check did not: the walk goes on.
    No,
    /// The operator's answer key (`unknown` while unanswered).
    Answer(String),
}

impl Outcome {
    /// The answer key of a question step, `None` for a check.
    pub fn answer(&self) -> Option<&str> {
        match self {
            Outcome::Answer(key) => Some(key),
            Outcome::Yes | Outcome::No => None,
        }
    }
}

impl From<String> for Outcome {
    fn from(text: String) -> Self {
        match text.as_str() {
            "yes" => Outcome::Yes,
            "no" => Outcome::No,
            _ => Outcome::Answer(text),
        }
    }
}

impl From<Outcome> for String {
    fn from(outcome: Outcome) -> Self {
        outcome.to_string()
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Yes => "yes",
            Outcome::No => "no",
            Outcome::Answer(key) => key,
        })
    }
}

impl Step {
    /// A question step's answer as the operator chose it (the answer's label), `None`
    /// for a check, whose answer is its yes or no.
    pub fn answer_label<'a>(&'a self, tree: &'a super::tree::Tree) -> Option<&'a str> {
        let key = self.outcome.answer()?;
        let label = tree
            .question_at(&self.node)
            .and_then(|q| q.answers.iter().find(|a| a.key == key))
            .map_or(key, |a| a.label.as_str());
        Some(label)
    }
}

/// Which addresses the verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// About the domain (DNS), not a particular address.
    Domain,
    /// Every probed address shows it: the recipient's service as a whole.
    AllAddresses { count: usize },
    /// Only some addresses show it: host-specific.
    SomeAddresses { failing: Vec<String>, working: Vec<String> },
    /// The addresses fail in different ways (`Verdict::groups`); the verdict names the
    /// problem of these `addresses` (IPs), `total` being how many were probed.
    Grouped { addresses: Vec<String>, total: usize },
}

/// A pointer into the evidence that supports the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub address: Option<SocketAddr>,
    pub mx: Option<String>,
    pub at: EvidenceAt,
    /// What it shows, in one line.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceAt {
    /// Index into that probe's transcript.
    Transcript {
        line: usize,
    },
    Certificate {
        position: usize,
        field: String,
    },
    Dns {
        name: String,
    },
    Answer {
        question: String,
    },
    /// What the recipient publishes: a TLSA owner, an `_mta-sts` name, the policy URL.
    Published {
        source: String,
    },
}

/// A narrow, dated exception for one destination, ready to paste.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workaround {
    pub kind: WorkaroundKind,
    pub destination: String,
    /// YYYY-MM-DD after which the exception must be removed.
    pub expires: String,
    pub owner: String,
    pub postfix: String,
    pub exim: String,
    pub warning: String,
}

/// A command to reproduce the probe of one address by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reproduce {
    pub address: SocketAddr,
    pub mx: String,
    pub swaks: String,
    pub openssl: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    /// The evidence cannot say; the operator has to.
    Ask,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub id: String,
    pub text: String,
    pub status: CheckStatus,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The tree leaf reached.
    pub id: String,
    pub family: Family,
    pub owner: Owner,
    pub confidence: Confidence,
    pub confidence_reason: String,
    pub title: String,
    pub explanation: String,
    pub fix: String,
    pub next_check: Option<String>,
    pub tlsrpt: Option<crate::model::tlsrpt::ResultType>,
    pub scope: Scope,
    pub evidence: Vec<EvidenceRef>,
    pub steps: Vec<Step>,
    pub workaround: Option<Workaround>,
    pub reproduce: Vec<Reproduce>,
    pub checklist: Vec<ChecklistItem>,
    /// What the probes noticed beside the verdict: a server that talks before it is asked,
    /// bytes slipped in before the handshake, libraries that disagree.
    #[serde(default)]
    pub findings: Vec<Noted>,
    /// What this relay does with the mail (deliver, defer, bounce) and its log's words;
    /// `None` when no MTA configuration was read.
    #[serde(default)]
    pub relay: Option<crate::model::relay::Prediction>,
    /// The addresses grouped by what is wrong with each, the group the verdict names
    /// first; empty unless the addresses fail in more than one way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<AddressGroup>,
}

/// Whether a group's problem keeps mail from getting through its addresses. Ordered
/// from the most to the least blocking, the order groups are listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocking {
    /// This relay's mail does not get through these addresses (its own prediction or
    /// policy says so, or the session fails before any mail could be handed over).
    Blocks,
    /// A sender that verifies certificates stops here; this relay's policy is not known.
    BlocksVerifying,
    /// A sender that requires TLS stops here (no STARTTLS); an opportunistic one goes on
    /// in cleartext. This relay's policy is not known.
    BlocksRequiringTls,
    /// Mail gets through these addresses, perhaps over a weaker session.
    Delivers,
}

/// Addresses that, each probed on its own, reach the same verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressGroup {
    /// The tree leaf these addresses reach on their own.
    pub id: String,
    pub title: String,
    pub family: Family,
    pub owner: Owner,
    pub blocking: Blocking,
    /// What the owner has to do about it (the leaf's fix).
    #[serde(default)]
    pub fix: String,
    /// Each address once, with every MX name it was probed under.
    pub addresses: Vec<GroupAddress>,
}

/// One address of a group and the MX names that lead to it, in MX order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAddress {
    pub address: std::net::IpAddr,
    pub hosts: Vec<String>,
}

impl Verdict {
    /// The step that found what the verdict names: the last check that answered yes.
    /// Earlier yeses only chose a branch (a certificate problem, then which one); a walk
    /// where every check answered no (a healthy server) has no finding.
    pub fn finding(&self) -> Option<usize> {
        self.steps.iter().rposition(|s| s.outcome == Outcome::Yes)
    }
}

/// A finding of one address, carried into the verdict so it is not lost in the detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noted {
    pub mx: String,
    pub address: SocketAddr,
    pub finding: crate::model::Finding,
}
