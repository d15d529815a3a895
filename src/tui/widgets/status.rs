//! The status bars of the client and the server: one row, or two when the
//! pane is narrow and tall enough, fitted by [`crate::tui::fit`].

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::state::{ClientPane, LinkState, ServerPane};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::net::Side;
use crate::present::{age, bytes, rate};
use crate::present::{close_code, who_closed};
use crate::tui::fit::{fit, Segment, Shrink, ALWAYS};
use crate::tui::theme::Theme;

pub fn link_state(c: &ClientPane, now: std::time::Instant, theme: &Theme) -> Span<'static> {
    match &c.state {
        LinkState::Connecting => Span::styled("connecting…", theme.warn()),
        LinkState::Open => Span::styled("open", theme.good()),
        LinkState::Closed { close, cause } => {
            let who = who_closed(Side::Client, cause, 80);
            let code = close_code(close.as_ref(), 40);
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
    let counts = c.counts;
    let mut segs = vec![
        Segment::styled(ALWAYS, escape_text(&c.url, 200), theme.bold()).shrink(Shrink::End),
        Segment::span(ALWAYS, link_state(c, state.now, theme))
            .sep(" │ ")
            .shrink(Shrink::Tail),
    ];
    if let Some(up) = c
        .uptime(state.now)
        .filter(|_| !matches!(c.state, LinkState::Waiting { .. }))
    {
        segs.push(Segment::raw(5, age(up)).glued());
    }
    if c.totals.connects > 1 {
        // The id is the timeline's (#4 after two failed attempts), the count the connects made.
        segs.push(
            Segment::raw(
                6,
                format!(
                    "#{} · {}",
                    c.conn.unwrap_or_default(),
                    crate::present::count(c.totals.connects, "connect", "connects")
                ),
            )
            .sep(" │ "),
        );
        segs.push(Segment::raw(3, "(t: timeline)").glued());
    }
    if let Some(p) = c.handshake.as_ref().and_then(|h| h.subprotocol.as_ref()) {
        segs.push(Segment::raw(4, escape_text(p, 30)).sep(" │ "));
    }
    segs.extend(traffic(
        (
            format!("↑{} {}", counts.frames_out, bytes(counts.bytes_out)),
            theme.sent(),
            rate(c.rates.frames_out),
        ),
        (
            format!("↓{} {}", counts.frames_in, bytes(counts.bytes_in)),
            theme.received(),
            rate(c.rates.frames_in),
        ),
    ));
    if let Some(z) = c.log.wire.compression() {
        segs.push(Segment::raw(4, z).sep(" │ "));
    }
    if c.totals.lost > 0 {
        segs.push(Segment::styled(9, format!("{} lost", c.totals.lost), theme.error()).sep(" │ "));
    }
    match c.spoken.protocol {
        // A protocol's server says more than it answers: that is no warning.
        Some(p) => segs.push(Segment::raw(5, p.name()).sep(" │ ")),
        None if c.totals.unmatched > 0 => segs.push(
            Segment::styled(8, format!("{} unmatched", c.totals.unmatched), theme.warn())
                .sep(" │ "),
        ),
        None => {}
    }
    render_segments(f, area, &segs);
}

/// Frames and bytes each way (both or neither), on a row of their own when
/// there are two; the rates go first (both together) when the row is short.
fn traffic(first: (String, Style, String), second: (String, Style, String)) -> [Segment; 4] {
    [
        Segment::styled(7, first.0, first.1)
            .sep(" │ ")
            .new_row()
            .group(1),
        Segment::raw(2, first.2).glued().group(2),
        Segment::styled(7, second.0, second.1)
            .sep("  ")
            .glued()
            .group(1),
        Segment::raw(2, second.2).glued().group(2),
    ]
}

/// A status bar: its segments fitted into its rows (see [`crate::tui::fit`]).
fn render_segments(f: &mut Frame, area: Rect, segs: &[Segment]) {
    f.render_widget(Paragraph::new(fit(segs, area.width, area.height)), area);
}

pub fn server_status(f: &mut Frame, area: Rect, s: &ServerPane, theme: &Theme) {
    let t = s.totals();
    let mut segs = match &s.relay {
        None => vec![
            Segment::styled(1, "echo server", theme.bold()),
            Segment::styled(ALWAYS, escape_text(&s.url, 200), theme.bold()).shrink(Shrink::End),
        ],
        Some(r) => vec![
            Segment::styled(1, "relay", theme.bold()),
            Segment::styled(ALWAYS, escape_text(&s.url, 200), theme.bold()).shrink(Shrink::End),
            Segment::styled(
                ALWAYS,
                format!("→ {}", escape_text(&r.upstream, 200)),
                theme.bold(),
            )
            .shrink(Shrink::End),
        ],
    };
    segs.extend([Segment::raw(
        8,
        format!("{} open / {} total", s.open_count(), s.total_conns),
    )
    .sep(" │ ")]);
    // Warnings are the last to give way.
    if let Some(r) = &s.relay {
        if !r.held.is_empty() {
            segs.push(
                Segment::styled(10, format!("{} held", r.held.len()), theme.warn()).sep(" │ "),
            );
        }
        if let Some(d) = r.describe() {
            segs.push(
                Segment::styled(9, d, theme.error())
                    .sep(" │ ")
                    .shrink(Shrink::Words),
            );
        }
    }
    if let Some(f) = s.faults.as_ref().and_then(|f| f.describe()) {
        segs.push(
            Segment::styled(9, format!("faults: {f}"), theme.error())
                .sep(" │ ")
                .shrink(Shrink::Words),
        );
    }
    let missing = s.not_shown;
    if missing > 0 {
        segs.push(
            Segment::styled(9, format!("{missing} frames not shown"), theme.warn())
                .sep(" │ ")
                .shrink(Shrink::Words),
        );
    }
    if s.errors > 0 {
        segs.push(
            Segment::styled(
                9,
                crate::present::count(s.errors, "error", "errors"),
                theme.error(),
            )
            .sep(" │ "),
        );
        segs.push(Segment::styled(3, "(e shows)", theme.error()).glued());
    }
    if s.left_early > 0 {
        segs.push(Segment::raw(5, format!("{} left early", s.left_early)).sep(" │ "));
    }
    if let Some(z) = s.log.wire.compression() {
        segs.push(Segment::raw(4, z).sep(" │ "));
    }
    segs.extend(traffic(
        (
            format!("↓{} {}", t.frames_in, bytes(t.bytes_in)),
            theme.received(),
            rate(s.rates.frames_in),
        ),
        (
            format!("↑{} {}", t.frames_out, bytes(t.bytes_out)),
            theme.sent(),
            rate(s.rates.frames_out),
        ),
    ));
    render_segments(f, area, &segs);
}
