//! The workbench's sentences, from assets/tui.toml (see [`crate::wording`]).

use crate::wording::Sentences;

static TUI: Sentences = Sentences::new("assets/tui.toml", include_str!("../../assets/tui.toml"));

/// The sentence `section.key` with its placeholders filled.
pub fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    TUI.say(section, key, values)
}

/// Every sentence the workbench asks for; the test keeps this and the asset in step.
#[cfg(test)]
const USED: &[(&str, &str)] = &[
    ("verdict", "more_title"),
    ("verdict", "relay_heading"),
    ("verdict", "head_title"),
    ("verdict", "head_title_more"),
    ("verdict", "evidence_title"),
    ("verdict", "question"),
    ("verdict", "grouped"),
    ("flush", "confirm"),
    ("flush", "cancelled"),
    ("flush", "title"),
    ("flush", "running"),
    ("flush", "failed"),
    ("intake", "placeholder"),
    ("intake", "paste_replaced"),
    ("intake", "several"),
    ("intake", "destinations_title"),
    ("quit", "confirm"),
    ("address", "openssl"),
    ("address", "follow_up"),
    ("address", "following_up"),
    ("address", "relay_client"),
    ("address", "scan"),
    ("address", "time_line"),
    ("run", "still_running"),
    ("run", "verdict_not_ready"),
    ("run", "pending"),
    ("run", "waiting"),
    ("run", "live_title"),
    ("steps", "yes"),
    ("steps", "no"),
    ("steps", "ask"),
    ("steps", "wait"),
    ("steps", "finding"),
    ("steps", "asked_the_other_way"),
    ("demo", "start"),
    ("demo", "scenarios_title"),
    ("demo", "scenario_title"),
    ("demo", "lab_ca"),
    ("flowchart", "title"),
    ("flowchart", "none"),
    ("flowchart", "legend"),
    ("flowchart", "pending_mark"),
    ("flowchart", "pending"),
    ("flowchart", "verdict"),
    ("flowchart", "verdict_meta"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_used_is_in_the_asset_and_no_other() {
        assert_eq!(TUI.problems(USED), Vec::<String>::new());
    }
}
