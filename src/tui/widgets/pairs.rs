//! The relay's table: a row per pair, its client and its upstream, messages
//! each way, the latest reply latency and how it stands.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use ratatui::Frame;

use super::connections::{close_state, first_shown, styled_row};
use crate::app::state::{ConnRow, ServerPane};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::present::{age, format_duration};
use crate::tui::theme::Theme;

/// The pair's state: one word when both legs agree, else each leg's.
fn pair_state(r: &ConnRow) -> String {
    let client = close_state(r.closed.as_deref());
    let Some(up) = &r.upstream else {
        return format!("{client} · connecting");
    };
    let server = close_state(up.closed.as_deref());
    if client == server {
        client
    } else {
        format!("C {client} · S {server}")
    }
}

pub fn render(
    f: &mut Frame,
    area: Rect,
    s: &ServerPane,
    state: &AppState,
    focused: bool,
    theme: &Theme,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(Line::from(vec![
            Span::styled(" Pairs ", theme.bold()),
            Span::raw(format!("{} open ", s.open_count())),
        ]));
    let inner_h = block.inner(area).height.saturating_sub(1) as usize;
    let sel = s.selected_index();
    let top = first_shown(sel, s.rows.len(), inner_h);
    let wide = area.width >= 110;
    // Narrow: the upstream (the same for every pair) and the latency give way.
    let mid = area.width >= 90;
    let rows: Vec<Row> = s
        .rows
        .iter()
        .enumerate()
        .skip(top)
        .take(inner_h)
        .map(|(i, r)| {
            let alive = r.closed.as_deref().map(|c| c.at).unwrap_or(state.now);
            let upstream = r
                .upstream
                .as_ref()
                .map(|u| u.peer.to_string())
                .unwrap_or_else(|| "…".into());
            let mut cells = vec![
                Cell::from(format!("#{}", r.id)),
                Cell::from(r.peer.to_string()),
            ];
            if mid {
                cells.push(Cell::from(upstream));
            }
            if wide {
                cells.push(Cell::from(escape_text(&r.path, 200)));
            }
            cells.push(Cell::from(
                age(alive.saturating_duration_since(r.opened_at)),
            ));
            cells.extend([
                // What reached each end: the upstream leg's out, the client leg's out
                // (injected messages included, dropped ones not).
                Cell::from(
                    r.upstream
                        .as_ref()
                        .map(|u| u.counts.frames_out.to_string())
                        .unwrap_or_default(),
                ),
                Cell::from(r.counts.frames_out.to_string()),
            ]);
            if mid {
                cells.push(Cell::from(
                    r.last_latency.map(format_duration).unwrap_or_default(),
                ));
            }
            cells.push(Cell::from(pair_state(r)));
            styled_row(Row::new(cells), r.is_open(), Some(i) == sel, theme)
        })
        .collect();
    let mut header = vec!["id", "client"];
    let mut widths = vec![Constraint::Length(6), Constraint::Length(21)];
    if mid {
        header.push("upstream");
        widths.push(Constraint::Length(21));
    }
    if wide {
        header.push("path");
        widths.push(Constraint::Fill(1));
    }
    header.extend(["age", "C→S", "S→C"]);
    widths.extend([
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
    ]);
    if mid {
        header.push("latency");
        widths.push(Constraint::Length(9));
    }
    header.push("state");
    widths.push(Constraint::Fill(1));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .column_spacing(1)
        .block(block);
    f.render_widget(table, area);
}
