//! Manual pages from the clap definitions, so `man mxtriage` and `--help` never disagree.
//!
//! clap_mangen renders the usual sections; the exit codes, which every page's
//! `after_help` carries as text for `--help`, become a proper EXIT STATUS section here,
//! and the main page gains FILES and ENVIRONMENT for the configuration file.

use std::path::{Path, PathBuf};

use clap_mangen::roff::{Roff, bold, roman};

#[derive(Debug, thiserror::Error)]
pub enum ManError {
    #[error("cannot render the manual page for {command}: {source}")]
    Render { command: String, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// The page of the top-level command (subcommands are listed, not expanded).
pub fn render(command: clap::Command) -> Result<String, ManError> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    page(&command, true)
}

/// Writes `mxtriage.1` and one page per subcommand into `dir`; returns the files written.
pub fn write_all(command: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, ManError> {
    let mut command = command.disable_help_subcommand(true);
    command.build();
    std::fs::create_dir_all(dir).map_err(|source| ManError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    write_tree(&command, dir, true, &mut written)?;
    Ok(written)
}

fn write_tree(command: &clap::Command, dir: &Path, top: bool, written: &mut Vec<PathBuf>) -> Result<(), ManError> {
    let path = dir.join(format!("{}.1", display_name(command)));
    let text = page(command, top)?;
    std::fs::write(&path, text).map_err(|source| ManError::Write {
        path: path.clone(),
        source,
    })?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, dir, false, written)?;
    }
    Ok(())
}

fn display_name(command: &clap::Command) -> String {
    command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_string()
}

fn page(command: &clap::Command, top: bool) -> Result<String, ManError> {
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    let failed = |source| ManError::Render {
        command: display_name(command),
        source,
    };
    man.render_title(&mut out).map_err(failed)?;
    man.render_name_section(&mut out).map_err(failed)?;
    man.render_synopsis_section(&mut out).map_err(failed)?;
    man.render_description_section(&mut out).map_err(failed)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).map_err(failed)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut out).map_err(failed)?;
    }
    let after = command.get_after_help().map(ToString::to_string).unwrap_or_default();
    let mut roff = Roff::new();
    match exit_codes(&after) {
        Some(codes) => {
            roff.control("SH", ["EXIT STATUS"]);
            for (code, meaning) in codes {
                roff.control("TP", []).text([bold(code)]).text([roman(meaning)]);
            }
        }
        None if !after.is_empty() => {
            roff.control("SH", ["NOTES"]);
            for line in after.lines() {
                roff.text([roman(line)]).control("br", []);
            }
        }
        None => {}
    }
    if top {
        files(&mut roff);
    }
    roff.to_writer(&mut out).map_err(failed)?;
    if command.get_version().is_some() {
        man.render_version_section(&mut out).map_err(failed)?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `after_help` of the form "Exit codes…:\n  0  meaning\n     continued" as (code, meaning).
fn exit_codes(text: &str) -> Option<Vec<(String, String)>> {
    let mut lines = text.lines();
    if !lines.next()?.starts_with("Exit codes") {
        return None;
    }
    let mut codes: Vec<(String, String)> = Vec::new();
    for line in lines {
        let trimmed = line.trim();
        let (head, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
        if head.chars().all(|c| c.is_ascii_digit())
            && !head.is_empty()
            && line.starts_with("  ")
            && !line.starts_with("   ")
        {
            codes.push((head.to_string(), rest.trim().to_string()));
        } else if let Some((_, meaning)) = codes.last_mut() {
            meaning.push(' ');
            meaning.push_str(trimmed);
        }
    }
    (!codes.is_empty()).then_some(codes)
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"])
        .control("TP", [])
        .text([bold("$XDG_CONFIG_HOME/mxtriage/config.toml")])
        .text([roman(
            "Settings made once per relay: nameserver (a list), ca_file, ehlo, source, sender_profile, \
             report_dir, postfix_config, no_relay. Options given on the command line take precedence; \
             mxtriage --print-config shows the effective values and where each came from.",
        )])
        .control("TP", [])
        .text([bold("$XDG_DATA_HOME/mxtriage/reports")])
        .text([roman(
            "Saved reports (check --save, the workbench's export) unless report_dir says otherwise.",
        )])
        .control("SH", ["ENVIRONMENT"])
        .control("TP", [])
        .text([bold("XDG_CONFIG_HOME")])
        .text([roman("Where the configuration file is looked for (default ~/.config).")])
        .control("TP", [])
        .text([bold("MXTRIAGE_CONFIG")])
        .text([roman(
            "The configuration file to read instead; set but empty, none is read.",
        )])
        .control("TP", [])
        .text([bold("NO_COLOR")])
        .text([roman("The workbench draws without colour.")]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_text_becomes_one_entry_per_code() {
        let codes = exit_codes(crate::cli::EXIT_CODES).unwrap_or_default();
        let numbers: Vec<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(numbers, ["0", "1", "2", "3"]);
        assert!(
            codes[0].1.ends_with("(the report still names the recipient's problem)"),
            "{codes:?}"
        );
        assert_eq!(exit_codes("Read it with: man"), None);
    }
}
