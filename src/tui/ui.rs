//! The top-level layout. Each region is drawn by its widget from `&AppState`.
//!
//! ```text
//! client                         server                        demo (wide)
//! ┌status──────────────────┐     ┌status──────────────────┐     hint line
//! │frames        │rtt      │     │connections             │     ┌server pane┐┌client pane┐
//! │              │chart    │     ├frames        │rate     │     │  (as left) ││ (as left) │
//! ├input───────────────────┤     ├input───────────────────┤     └───────────┘└───────────┘
//! keys                           keys                          keys
//! ```
//! Narrow terminals stack what would stand side by side.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};
use ratatui::Frame;

use super::fit::{self, Segment, Shrink, ALWAYS};
use super::theme::Theme;
use super::widgets::frames::FrameLogWidget;
use super::widgets::input::{self, InputWidget};
use super::widgets::{connections, held, pairs, popup, rtt, status};
use crate::app::state::{ClientPane, ServerPane};
use crate::app::{AppState, Drawn, Focus, Mode};
use crate::escape::escape_text;
use crate::net::Side;
use crate::present::rate;

/// Wide enough to put panels side by side.
const WIDE: u16 = 100;
/// Wide enough for the demo's two panes side by side.
const DEMO_WIDE: u16 = 120;

/// Draws the whole screen from the state; returns what the next draw needs
/// to know of this one (the state keeps it through `Msg::Drawn`).
pub fn draw(f: &mut Frame, state: &AppState, theme: &Theme) -> Drawn {
    let area = f.area();
    let mut drawn = Drawn::default();
    let [main, keys] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    match state.mode {
        Mode::Client => {
            if let Some(c) = &state.client {
                let pane = hint_line(f, main, state, theme);
                drawn.client_top = Some(client_pane(f, pane, c, state, theme));
            }
        }
        Mode::Server => {
            if let Some(s) = &state.server {
                let pane = hint_line(f, main, state, theme);
                drawn.server_top = Some(server_pane(f, pane, s, state, theme));
            }
        }
        Mode::Demo => drawn = demo(f, main, state, theme),
        Mode::Relay => {
            if let Some(s) = &state.server {
                let pane = hint_line(f, main, state, theme);
                drawn.server_top = Some(server_pane(f, pane, s, state, theme));
            }
        }
    }
    f.render_widget(
        Paragraph::new(fit::hints(key_hints(state), theme.dim(), keys.width)),
        keys,
    );
    if let Some(p) = &state.popup {
        // Over everything but the key hints, which say how to scroll and close it.
        popup::render(f, main, p, state, theme);
    }
    drawn
}

/// A note for the user on top (how to trust a self-signed certificate, where
/// the recording goes, which file is replayed); the rest is the pane's.
fn hint_line(f: &mut Frame, area: Rect, state: &AppState, theme: &Theme) -> Rect {
    let Some(h) = &state.hint else {
        return area;
    };
    let rows = wrap_whole(h, area.width);
    // Never more than half the screen, whatever the note says.
    let height = (rows.len() as u16).min(area.height / 2).max(1);
    let [h_area, rest] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(area);
    let text: Vec<Line> = rows
        .into_iter()
        .map(|r| Line::from(Span::styled(r, theme.dim())))
        .collect();
    f.render_widget(Paragraph::new(text), h_area);
    rest
}

/// The note's lines cut into rows of at most `width` columns, at spaces where
/// it can: a path or command is shown whole over two rows rather than cut.
fn wrap_whole(text: &str, width: u16) -> Vec<String> {
    text.lines()
        .flat_map(|line| fit::wrap(line, usize::from(width)))
        .collect()
}

fn demo(f: &mut Frame, area: Rect, state: &AppState, theme: &Theme) -> Drawn {
    let panes = hint_line(f, area, state, theme);
    let (server_area, client_area) = if area.width >= DEMO_WIDE {
        let [s, c] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(panes);
        (s, c)
    } else {
        // Stacked: the pane with the focus gets the larger share.
        let (cw, sw) = if state.focus.pane() == Side::Client {
            (3, 2)
        } else {
            (2, 3)
        };
        let [c, s] = Layout::vertical([Constraint::Fill(cw), Constraint::Fill(sw)]).areas(panes);
        (s, c)
    };
    Drawn {
        server_top: state
            .server
            .as_ref()
            .map(|s| server_pane(f, server_area, s, state, theme)),
        client_top: state
            .client
            .as_ref()
            .map(|c| client_pane(f, client_area, c, state, theme)),
    }
}

/// The regex editor line, shown under the log being filtered.
fn filter_line(state: &AppState, theme: &Theme, width: u16) -> Option<Line<'static>> {
    let ed = state.filter_edit.as_ref()?;
    let mut segs = vec![
        Segment::styled(ALWAYS, " filter regex:", theme.warn()),
        Segment::raw(ALWAYS, escape_text(ed.text(), 200))
            .and("▏", theme.warn())
            .shrink(Shrink::End),
    ];
    if let Some(err) = &state.filter_error {
        segs.push(
            Segment::styled(9, escape_text(err, 200), theme.error())
                .sep("  ")
                .shrink(Shrink::Tail),
        );
    }
    segs.push(
        Segment::styled(3, "Enter applies · empty clears · Esc cancels", theme.dim()).sep("  "),
    );
    Some(fit::fit_line(&segs, width))
}

/// Rows for the status bar: two lines when narrow and there is room for them.
fn status_height(area: Rect) -> u16 {
    if area.width < WIDE && area.height >= 16 {
        2
    } else {
        1
    }
}

/// Draws the client's pane; returns its frame log's first row shown.
fn client_pane(
    f: &mut Frame,
    area: Rect,
    c: &ClientPane,
    state: &AppState,
    theme: &Theme,
) -> usize {
    let filtering = state.filter_edit.is_some() && state.focus.pane() == Side::Client;
    let [status_area, body, filter_area, input_area] = Layout::vertical([
        Constraint::Length(status_height(area)),
        Constraint::Fill(1),
        Constraint::Length(filtering as u16),
        Constraint::Length(input::height(&c.input)),
    ])
    .areas(area);
    status::client_status(f, status_area, c, state, theme);
    let (log_area, rtt_area) = if area.width >= WIDE {
        let [l, r] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(44)]).areas(body);
        (l, r)
    } else {
        // Short panes get the two summary lines only; taller ones a chart too.
        let rtt_h = match area.height {
            h if h >= 30 => 12,
            h if h >= 20 => 8,
            _ => 2,
        };
        let [l, r] = Layout::vertical([Constraint::Fill(1), Constraint::Length(rtt_h)]).areas(body);
        (l, r)
    };
    let top = FrameLogWidget {
        view: &c.log,
        title: "Messages",
        focused: state.focus == Focus::ClientLog,
        show_conn: false,
        extra: None,
        flows: false,
    }
    .render(f, log_area, state, theme);
    rtt::render(f, rtt_area, &rtt::Rtts::client(c), theme);
    if let Some(line) = filter_line(state, theme, filter_area.width).filter(|_| filtering) {
        f.render_widget(Paragraph::new(line), filter_area);
    }
    InputWidget {
        input: &c.input,
        title: "Message".into(),
        hint: c
            .script
            .clone()
            .unwrap_or_else(|| "Enter sends, Alt-Enter new line, /help".into()),
        error: c.input_error.as_deref(),
        focused: state.focus == Focus::ClientInput
            && state.popup.is_none()
            && state.filter_edit.is_none(),
    }
    .render(f, input_area, theme);
    top
}

/// Draws the server's pane; returns its frame log's first row shown.
fn server_pane(
    f: &mut Frame,
    area: Rect,
    s: &ServerPane,
    state: &AppState,
    theme: &Theme,
) -> usize {
    let filtering = state.filter_edit.is_some() && state.focus.pane() == Side::Server;
    let table_h = (s.rows.len() as u16 + 3).clamp(4, (area.height / 3).max(4));
    // A short pane shows its input box only while it is being typed in.
    let input_h = if area.height >= 14 || state.focus == Focus::ServerInput {
        input::height(&s.input)
    } else {
        0
    };
    // A relay's held messages wait above the input box, the newest few shown.
    let held_h = s
        .relay
        .as_ref()
        .filter(|r| !r.held.is_empty())
        .map_or(0, |r| (r.held.len() as u16).min(5) + 2);
    let [status_area, table_area, body, held_area, filter_area, input_area] = Layout::vertical([
        Constraint::Length(status_height(area)),
        Constraint::Length(table_h),
        Constraint::Fill(1),
        Constraint::Length(held_h),
        Constraint::Length(filtering as u16),
        Constraint::Length(input_h),
    ])
    .areas(area);
    if let Some(r) = s.relay.as_ref().filter(|_| held_h > 0) {
        held::render(f, held_area, r, theme);
    }
    status::server_status(f, status_area, s, theme);
    let table_focused = state.focus == Focus::ServerConns;
    if s.relay.is_some() {
        pairs::render(f, table_area, s, state, table_focused, theme);
    } else {
        connections::render(f, table_area, s, state, table_focused, theme);
    }
    // A relay's side panel is its latency; a server's, its rate.
    let side_w = match (&s.relay, area.width) {
        (None, _) => 28,
        (Some(_), w) if w < 140 => 30,
        (Some(_), _) => 44,
    };
    let (log_area, side) = if area.width >= WIDE {
        let [l, r] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(side_w)]).areas(body);
        (l, Some(r))
    } else if let Some(r) = s.relay.as_ref().filter(|_| body.height >= 16) {
        let [l, b] = Layout::vertical([Constraint::Fill(1), Constraint::Length(4)]).areas(body);
        rtt::render(f, b, &rtt::Rtts::relay(r, s.selected_row()), theme);
        (l, None)
    } else {
        (body, None)
    };
    let scope = if s.scope_selected {
        "selected only (s)"
    } else {
        "all connections (s)"
    };
    let top = FrameLogWidget {
        view: &s.log,
        title: "Messages",
        focused: state.focus == Focus::ServerLog,
        show_conn: true,
        extra: Some(scope.to_string()),
        flows: s.relay.is_some(),
    }
    .render(f, log_area, state, theme);
    if let (Some(side), Some(r)) = (side, s.relay.as_ref()) {
        rtt::render(f, side, &rtt::Rtts::relay(r, s.selected_row()), theme);
    } else if let Some(side) = side {
        let data: Vec<u64> = s.rate_history.iter().copied().collect();
        let shown = &data[data
            .len()
            .saturating_sub(side.width.saturating_sub(2) as usize)..];
        f.render_widget(
            Sparkline::default()
                .block(Block::default().borders(Borders::ALL).title(Span::styled(
                    format!(" {} ", rate(s.rates.frames_in + s.rates.frames_out)),
                    theme.bold(),
                )))
                .data(shown)
                .style(theme.received()),
            side,
        );
    }
    if let Some(line) = filter_line(state, theme, filter_area.width).filter(|_| filtering) {
        f.render_widget(Paragraph::new(line), filter_area);
    }
    let (target, hint) = if s.relay.is_some() {
        match s.selected {
            Some(id) => (
                format!("Send to #{id}'s server"),
                "/inject client|server …, /close client|server, /help",
            ),
            None => ("Send".to_string(), "no pair selected"),
        }
    } else if s.send_to_all {
        (
            format!("Send to all open ({})", s.open_count()),
            "Ctrl-A: selected only",
        )
    } else {
        match s.selected {
            Some(id) => (format!("Send to #{id}"), "Ctrl-A: all"),
            None => ("Send".to_string(), "no connection selected"),
        }
    };
    if input_h == 0 {
        return top;
    }
    InputWidget {
        input: &s.input,
        title: target,
        hint: hint.into(),
        error: s.input_error.as_deref(),
        focused: state.focus == Focus::ServerInput
            && state.popup.is_none()
            && state.filter_edit.is_none(),
    }
    .render(f, input_area, theme);
    top
}

/// The keys that work now, most useful first: a narrow footer drops them from the right.
fn key_hints(state: &AppState) -> &'static [&'static str] {
    if state.popup.is_some() {
        &["↑/↓ PgUp/PgDn scroll", "Esc close"]
    } else if state.filter_edit.is_some() {
        &["type a regex", "Enter apply", "Esc cancel"]
    } else {
        match state.focus {
            Focus::ClientInput | Focus::ServerInput => &[
                "Enter send",
                "↑/↓ history",
                "Tab focus",
                "Esc leave box",
                "? help",
                "Ctrl-C quit",
            ],
            Focus::ClientLog => &[
                "↑/↓ select",
                "Enter detail",
                "p pause",
                "f,/ filter",
                "h handshake",
                "c clear",
                "i type",
                "? help",
                "q quit",
            ],
            Focus::ServerConns => &[
                "↑/↓ select conn",
                "x close it",
                "h handshake",
                "s scope",
                "Tab focus",
                "i type",
                "? help",
                "q quit",
            ],
            Focus::ServerLog => &[
                "↑/↓ select",
                "Enter detail",
                "p pause",
                "f,/ filter",
                "s scope",
                "c clear",
                "i type",
                "? help",
                "q quit",
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wrap_whole;

    #[test]
    fn a_long_note_wraps_whole() {
        let rows = wrap_whole(
            " trust it: wsprobe client wss://127.0.0.1:1 --ca /run/user/0/x.pem\n or",
            20,
        );
        assert!(rows.iter().all(|r| r.chars().count() <= 20), "{rows:?}");
        let joined: String = rows[..rows.len() - 1].concat();
        assert!(joined.ends_with("--ca /run/user/0/x.pem"), "{rows:?}");
        assert_eq!(rows.last().map(String::as_str), Some(" or"));
    }
}
