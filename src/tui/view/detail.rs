//! Detail of one address: transcript beside the certificate chain.
//!
//! ```text
//! +- TLS: TLSv1_3 TLS13_AES_256_GCM_SHA384 X25519, SNI mx.example.com -----+
//! +- transcript -----------------------+- certificate chain ---------------+
//! |  0 ms     -- connecting to ...     | [0] CN=mx.example.com              |
//! |  3 ms     S: 220 mx ESMTP          |     SANs: mx.example.com           |
//! |  4 ms tls C: EHLO relay            |     expired 3 days ago  <- problem |
//! +------------------------------------+-----------------------------------+
//! | swaks ... / openssl s_client ...                                       |
//! +------------------------------------------------------------------------+
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::model::{Direction, ProbeResult};
use crate::report::chain::Tone;
use crate::tui::app::{App, DetailPane};

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(probe) = app.selected_probe() else {
        frame.render_widget(
            Paragraph::new("No result for this address yet.").block(theme.block("detail", true)),
            area,
        );
        return;
    };
    let [summary, panes, reproduce] = area.layout(&Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(6),
        Constraint::Length(4),
    ]));
    let tls = probe.tls.as_ref().map_or("no TLS session".to_string(), |t| {
        format!(
            "{} {} {}, SNI {}",
            t.version,
            t.cipher_suite,
            t.key_exchange_group.as_deref().unwrap_or(""),
            t.sni.as_deref().unwrap_or("(none)")
        )
    });
    let outcome = match &probe.failure {
        Some(f) => Span::styled(
            format!("FAILED at {}: {}", probe.stage.label(), f.summary()),
            theme.bad(),
        ),
        None => Span::styled(format!("completed; TLS: {tls}"), theme.good()),
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!("{} [{}] ", probe.mx, probe.address), theme.title()),
                outcome,
            ]),
            Line::styled(
                probe
                    .findings
                    .iter()
                    .map(|f| f.describe())
                    .collect::<Vec<_>>()
                    .join("; "),
                theme.warn(),
            ),
        ]),
        summary,
    );
    let wide = |pane| if app.detail_wide == pane { 62 } else { 38 };
    let [left, right] = panes.layout(&Layout::horizontal([
        Constraint::Percentage(wide(DetailPane::Transcript)),
        Constraint::Percentage(wide(DetailPane::Chain)),
    ]));
    frame.render_widget(
        Paragraph::new(transcript(probe, theme))
            .block(theme.block("transcript", app.detail_focus == DetailPane::Transcript))
            .scroll((app.transcript_scroll, 0)),
        left,
    );
    frame.render_widget(
        Paragraph::new(chain(probe, theme))
            .block(theme.block("certificate chain", app.detail_focus == DetailPane::Chain))
            .wrap(Wrap { trim: false })
            .scroll((app.chain_scroll, 0)),
        right,
    );
    let commands: Vec<Line> = app
        .session
        .as_ref()
        .and_then(|s| s.verdict.reproduce.iter().find(|r| r.address == probe.address))
        .map(|r| vec![Line::raw(r.swaks.clone()), Line::raw(r.openssl.clone())])
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(commands)
            .block(theme.block("reproduce by hand", false))
            .wrap(Wrap { trim: false }),
        reproduce,
    );
}

fn transcript(probe: &ProbeResult, theme: &Theme) -> Vec<Line<'static>> {
    probe
        .transcript
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let arrow = l.direction.marker();
            let style = match l.direction {
                Direction::Client => theme.fg(ratatui::style::Color::Cyan),
                Direction::Server => ratatui::style::Style::new(),
                Direction::Event => theme.dim(),
            };
            let lock = if l.encrypted { "tls" } else { "   " };
            Line::from(vec![
                Span::styled(format!("{i:>3} {:>5}ms {lock} ", l.at_ms), theme.dim()),
                Span::styled(format!("{arrow} {}", l.text), style),
            ])
        })
        .collect()
}

fn chain(probe: &ProbeResult, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(opinion) = &probe.second_opinion {
        lines.push(Line::styled(opinion.describe(), theme.title()));
    }
    if let Some(scan) = &probe.scan {
        lines.push(Line::styled("capability scan:", theme.title()));
        lines.extend(scan.describe().into_iter().map(|l| Line::raw(format!("  {l}"))));
    }
    let Some(chain) = &probe.chain else {
        lines.push(Line::raw("No certificate: the handshake did not get that far."));
        return lines;
    };
    lines.extend(crate::report::chain::lines(chain).into_iter().map(|l| {
        let style = match l.tone {
            Tone::Heading => theme.title(),
            Tone::Plain => ratatui::style::Style::default(),
            Tone::Good => theme.good(),
            Tone::Bad => theme.bad(),
            Tone::Dim => theme.dim(),
        };
        Line::styled(format!("{}{}", "    ".repeat(l.depth), l.text), style)
    }));
    lines
}
