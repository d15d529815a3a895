//! The one-line status bars of the client and the server.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{age, bytes, rate};
use crate::app::state::{ClientPane, LinkState, ServerPane};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::net::CloseCause;
use crate::tui::theme::Theme;

pub fn link_state(c: &ClientPane, now: std::time::Instant, theme: &Theme) -> Span<'static> {
    match &c.state {
        LinkState::Connecting => Span::styled("connecting…", theme.warn()),
        LinkState::Open => Span::styled("open", theme.good()),
        LinkState::Closed { close, cause } => {
            let who = match cause {
                CloseCause::Local => "closed by us".to_string(),
                CloseCause::Peer => "closed by server".to_string(),
                CloseCause::Error(e) => format!("dropped: {}", escape_text(e, 80)),
            };
            let code = close
                .as_ref()
                .map(|c| {
                    let reason = if c.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" \"{}\"", escape_text(&c.reason, 40))
                    };
                    format!(" {} {}{reason}", c.code, c.name())
                })
                .unwrap_or_default();
            Span::styled(format!("{who}{code}"), theme.error())
        }
        LinkState::Failed(e) => {
            Span::styled(format!("failed: {}", escape_text(e, 200)), theme.error())
        }
        LinkState::Waiting { attempt, until } => {
            let left = until.saturating_duration_since(now);
            Span::styled(
                format!(
                    "reconnecting in {:.1}s (attempt {attempt})",
                    left.as_secs_f64()
                ),
                theme.warn(),
            )
        }
    }
}

pub fn client_status(f: &mut Frame, area: Rect, c: &ClientPane, state: &AppState, theme: &Theme) {
    let counts = c.counters.snapshot();
    let mut spans: Vec<Span<'static>> = vec![
        Span::styled(escape_text(&c.url, 80), theme.bold()),
        Span::raw(" │ "),
        link_state(c, state.now, theme),
    ];
    if c.connects > 1 {
        // The id is the timeline's (#4 after two failed attempts), the count the connects made.
        spans.push(Span::raw(format!(
            " │ #{} · {} (t: timeline)",
            c.conn.unwrap_or_default(),
            crate::present::count(c.connects, "connect", "connects")
        )));
    }
    if let Some(up) = c
        .uptime(state.now)
        .filter(|_| !matches!(c.state, LinkState::Waiting { .. }))
    {
        spans.push(Span::raw(format!(" {}", age(up))));
    }
    if let Some(p) = c.handshake.as_ref().and_then(|h| h.subprotocol.as_ref()) {
        spans.push(Span::raw(format!(" │ {}", escape_text(p, 30))));
    }
    let mut second = Vec::new();
    second.extend([
        Span::raw(" │ "),
        Span::styled(
            format!("↑{} {}", counts.frames_out, bytes(counts.bytes_out)),
            theme.sent(),
        ),
        Span::raw(format!(" {}", rate(c.rates.frames_out))),
        Span::raw("  "),
        Span::styled(
            format!("↓{} {}", counts.frames_in, bytes(counts.bytes_in)),
            theme.received(),
        ),
        Span::raw(format!(" {}", rate(c.rates.frames_in))),
    ]);
    if c.lost > 0 {
        second.push(Span::styled(format!(" │ {} lost", c.lost), theme.error()));
    }
    if c.unmatched > 0 {
        second.push(Span::styled(
            format!(" │ {} unmatched", c.unmatched),
            theme.warn(),
        ));
    }
    render_lines(f, area, spans, second);
}

/// One line when there is one row; the second part on its own line otherwise.
fn render_lines(
    f: &mut Frame,
    area: Rect,
    mut first: Vec<Span<'static>>,
    mut second: Vec<Span<'static>>,
) {
    if area.height >= 2 {
        if let Some(s) = second.first_mut() {
            // The separator that joined the parts is not needed at a line start.
            *s = Span::raw(s.content.trim_start_matches(" │ ").to_string());
        }
        f.render_widget(
            Paragraph::new(vec![Line::from(first), Line::from(second)]),
            area,
        );
    } else {
        first.append(&mut second);
        f.render_widget(Paragraph::new(Line::from(first)), area);
    }
}

pub fn server_status(f: &mut Frame, area: Rect, s: &ServerPane, theme: &Theme) {
    let t = s.totals();
    let mut spans = vec![
        Span::styled(format!("echo server {}", s.url), theme.bold()),
        Span::raw(format!(
            " │ {} open / {} total",
            s.open_count(),
            s.total_conns
        )),
    ];
    // Warnings first: on a narrow line they must not be the part that is cut.
    if let Some(f) = s.faults.as_ref().and_then(|(f, sw)| f.describe_live(sw)) {
        spans.push(Span::styled(format!(" │ faults: {f}"), theme.error()));
    }
    let missing = s.not_shown();
    if missing > 0 {
        spans.push(Span::styled(
            format!(" │ {missing} frames not shown"),
            theme.warn(),
        ));
    }
    if s.errors > 0 {
        spans.push(Span::styled(
            format!(
                " │ {} (e shows)",
                crate::present::count(s.errors, "error", "errors")
            ),
            theme.error(),
        ));
    }
    if s.left_early > 0 {
        spans.push(Span::raw(format!(" │ {} left early", s.left_early)));
    }
    let second = vec![
        Span::raw(" │ "),
        Span::styled(
            format!("↓{} {}", t.frames_in, bytes(t.bytes_in)),
            theme.received(),
        ),
        Span::raw(format!(" {}", rate(s.rates.frames_in))),
        Span::raw("  "),
        Span::styled(
            format!("↑{} {}", t.frames_out, bytes(t.bytes_out)),
            theme.sent(),
        ),
        Span::raw(format!(" {}", rate(s.rates.frames_out))),
    ];
    render_lines(f, area, spans, second);
}
