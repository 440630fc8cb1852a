//! The decision tree as data: loaded from `assets/tree.toml` at compile time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;

use super::checks;
use super::verdict::{Confidence, Family, Owner, WorkaroundKind};

const TREE_TOML: &str = include_str!("../../assets/tree.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    pub start: String,
    #[serde(rename = "question")]
    pub questions: Vec<Question>,
    #[serde(rename = "node")]
    pub nodes: Vec<Node>,
    #[serde(rename = "verdict")]
    pub verdicts: Vec<VerdictSpec>,
}

/// A question the wire cannot answer, asked of the operator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub answers: Vec<AnswerChoice>,
    /// Whether leaving it unanswered makes the verdict less certain. A question that
    /// only decides where to look next (is the relay still failing?) does not.
    #[serde(default = "yes")]
    pub lowers_confidence: bool,
    /// The answer says how the destination looks from another network, so it
    /// confirms (or narrows) what this relay saw.
    #[serde(default)]
    pub second_vantage: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerChoice {
    pub key: String,
    pub label: String,
}

/// The answer key every question has, taken when the operator has not answered.
pub const UNKNOWN: &str = "unknown";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub id: String,
    pub title: String,
    pub explain: String,
    /// Name of an evidence check (see `checks::lookup`).
    pub check: Option<String>,
    pub yes: Option<String>,
    pub no: Option<String>,
    /// Id of a question; `next` maps each answer key to the next step.
    pub question: Option<String>,
    pub next: Option<BTreeMap<String, String>>,
    /// A step about this relay's own MTA: left out (its `no` branch taken without a
    /// step) when no MTA configuration was read.
    #[serde(default)]
    pub relay: bool,
}

/// A leaf: what the operator is told at the end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictSpec {
    pub id: String,
    pub family: Family,
    pub owner: Owner,
    pub confidence: Confidence,
    pub title: String,
    pub explain: String,
    pub fix: String,
    pub next_check: Option<String>,
    /// The RFC 8460 result type a reporting sender would log.
    pub tlsrpt: Option<crate::model::tlsrpt::ResultType>,
    pub workaround: Option<WorkaroundKind>,
    /// What the recipient publishes that the verdict rests on, cited as evidence.
    #[serde(default)]
    pub evidence: Option<PublishedEvidence>,
    /// Take the RFC 8460 type from that evidence when it names a more precise one
    /// than `tlsrpt` (an MTA-STS certificate failure is expired, untrusted or for
    /// another name).
    #[serde(default)]
    pub tlsrpt_measured: bool,
}

/// The part of the recipient's published policy a verdict cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublishedEvidence {
    /// Each MX that fails an enforced MTA-STS policy, with the reason per address.
    MtaStsFailures,
    /// Each MX the MTA-STS policy's `mx` patterns do not cover.
    MtaStsUncovered,
    /// Why the MTA-STS record or policy file cannot be used.
    MtaStsPublication,
    /// The TLSA lookups that failed with SERVFAIL.
    DaneServfail,
    /// The DANE check of every address whose TLSA records apply.
    DaneChecks,
    /// The resolvers' and authoritative servers' differing answers.
    ResolverComparison,
}

/// Where an edge leads.
pub enum Target<'a> {
    Node(&'a Node),
    Verdict(&'a VerdictSpec),
}

impl Tree {
    /// The embedded tree. A test validates it, so parsing cannot fail at run time.
    pub fn embedded() -> &'static Tree {
        static TREE: OnceLock<Tree> = OnceLock::new();
        TREE.get_or_init(|| {
            #[expect(clippy::expect_used, reason = "the embedded asset is validated by a test")]
            toml::from_str(TREE_TOML).expect("assets/tree.toml parses")
        })
    }

    pub fn parse(text: &str) -> Result<Tree, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    /// The question a step asks, if it is a question step.
    pub fn question_at(&self, node: &str) -> Option<&Question> {
        self.node(node)?.question.as_deref().and_then(|q| self.question(q))
    }

    pub fn verdict(&self, id: &str) -> Option<&VerdictSpec> {
        self.verdicts.iter().find(|v| v.id == id)
    }

    pub fn target(&self, id: &str) -> Option<Target<'_>> {
        self.node(id)
            .map(Target::Node)
            .or_else(|| self.verdict(id).map(Target::Verdict))
    }

    /// Every edge out of a node, as (label, target id).
    pub fn edges(node: &Node) -> Vec<(String, &str)> {
        let mut edges = Vec::new();
        if let Some(yes) = &node.yes {
            edges.push(("yes".to_string(), yes.as_str()));
        }
        if let Some(no) = &node.no {
            edges.push(("no".to_string(), no.as_str()));
        }
        for (answer, next) in node.next.iter().flatten() {
            edges.push((answer.clone(), next.as_str()));
        }
        edges
    }

    /// Structural problems: unknown names, unreachable steps, cycles, incomplete leaves.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids = BTreeSet::new();
        for id in self
            .nodes
            .iter()
            .map(|n| &n.id)
            .chain(self.verdicts.iter().map(|v| &v.id))
        {
            if !ids.insert(id.as_str()) {
                problems.push(format!("duplicate id {id}"));
            }
        }
        if self.target(&self.start).is_none() {
            problems.push(format!("start {} does not exist", self.start));
        }
        for node in &self.nodes {
            match (&node.check, &node.question) {
                (Some(check), None) => {
                    if checks::lookup(check).is_none() {
                        problems.push(format!("{}: check {check} is not implemented", node.id));
                    }
                    if node.yes.is_none() || node.no.is_none() || node.next.is_some() {
                        problems.push(format!("{}: a check needs yes and no, and no next", node.id));
                    }
                }
                (None, Some(question)) => match self.question(question) {
                    None => problems.push(format!("{}: question {question} does not exist", node.id)),
                    Some(q) => {
                        let keys: BTreeSet<&str> = q.answers.iter().map(|a| a.key.as_str()).collect();
                        let wired: BTreeSet<&str> = node.next.iter().flatten().map(|(k, _)| k.as_str()).collect();
                        if keys != wired {
                            problems.push(format!("{}: answers {keys:?} but next covers {wired:?}", node.id));
                        }
                        if !keys.contains(UNKNOWN) {
                            problems.push(format!("question {question} has no \"{UNKNOWN}\" answer"));
                        }
                    }
                },
                _ => problems.push(format!("{}: needs exactly one of check or question", node.id)),
            }
            for (label, next) in Self::edges(node) {
                if self.target(next).is_none() {
                    problems.push(format!("{} --{label}--> {next}: no such step or verdict", node.id));
                }
            }
        }
        for verdict in &self.verdicts {
            if verdict.title.trim().is_empty() || verdict.fix.trim().is_empty() || verdict.explain.trim().is_empty() {
                problems.push(format!(
                    "verdict {} needs a title, an explanation and a fix",
                    verdict.id
                ));
            }
            if verdict.tlsrpt_measured
                && !matches!(
                    verdict.evidence,
                    Some(PublishedEvidence::MtaStsFailures | PublishedEvidence::DaneChecks)
                )
            {
                problems.push(format!(
                    "verdict {}: a measured RFC 8460 type needs MTA-STS failures or DANE checks as evidence",
                    verdict.id
                ));
            }
            if verdict.family == Family::Inconclusive && verdict.next_check.is_none() {
                problems.push(format!("inconclusive verdict {} must name the next check", verdict.id));
            }
        }
        problems.extend(self.reachability_problems());
        problems
    }

    /// Depth-first walk from `start`: finds cycles and what is never reached.
    fn reachability_problems(&self) -> Vec<String> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Active,
            Done,
        }
        fn visit<'a>(tree: &'a Tree, id: &'a str, marks: &mut HashMap<&'a str, Mark>, problems: &mut Vec<String>) {
            match marks.get(id) {
                Some(Mark::Done) => return,
                Some(Mark::Active) => {
                    problems.push(format!("cycle through {id}"));
                    return;
                }
                None => {}
            }
            marks.insert(id, Mark::Active);
            if let Some(node) = tree.node(id) {
                for (_, next) in Tree::edges(node) {
                    visit(tree, next, marks, problems);
                }
            }
            marks.insert(id, Mark::Done);
        }
        let mut marks = HashMap::new();
        let mut problems = Vec::new();
        visit(self, &self.start, &mut marks, &mut problems);
        for id in self
            .nodes
            .iter()
            .map(|n| &n.id)
            .chain(self.verdicts.iter().map(|v| &v.id))
        {
            if !marks.contains_key(id.as_str()) {
                problems.push(format!("{id} is unreachable from {}", self.start));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tree_is_valid() {
        let tree = Tree::parse(TREE_TOML).expect("parses");
        assert_eq!(tree.problems(), Vec::<String>::new());
        assert!(tree.nodes.len() >= 40, "{} nodes", tree.nodes.len());
        let used: BTreeSet<&str> = tree.nodes.iter().filter_map(|n| n.check.as_deref()).collect();
        let unused: Vec<&str> = checks::names().filter(|name| !used.contains(name)).collect();
        assert!(unused.is_empty(), "checks no step uses: {unused:?}");
    }

    #[test]
    fn validation_catches_cycles_unknown_checks_and_orphans() {
        let text = r#"
            start = "a"
            question = []
            [[node]]
            id = "a"
            title = "A"
            explain = "x"
            check = "no_such_check"
            yes = "b"
            no = "v"
            [[node]]
            id = "b"
            title = "B"
            explain = "x"
            check = "dns_nxdomain"
            yes = "a"
            no = "v"
            [[node]]
            id = "orphan"
            title = "O"
            explain = "x"
            check = "dns_nxdomain"
            yes = "v"
            no = "missing"
            [[verdict]]
            id = "v"
            family = "inconclusive"
            owner = "none"
            confidence = "low"
            title = "t"
            explain = "e"
            fix = ""
        "#;
        let problems = Tree::parse(text).unwrap().problems();
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(has("check no_such_check is not implemented"), "{problems:?}");
        assert!(has("cycle through a"), "{problems:?}");
        assert!(has("orphan is unreachable"), "{problems:?}");
        assert!(has("no such step or verdict"), "{problems:?}");
        assert!(has("needs a title, an explanation and a fix"), "{problems:?}");
        assert!(has("must name the next check"), "{problems:?}");
    }
}
