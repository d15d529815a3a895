//! The relay's table: a row per pair, its client and its upstream, messages
//! each way, the latest reply latency and how it stands.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use ratatui::Frame;

use crate::app::state::{ClosedRow, ConnRow, ServerPane};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::net::CloseCause;
use crate::present::{age, format_duration};
use crate::tui::theme::Theme;

/// How a leg stands, in a word or two.
fn leg_state(closed: Option<&ClosedRow>) -> String {
    match closed {
        None => "open".to_string(),
        Some(cl) => match (&cl.close, &cl.cause) {
            (Some(code), _) => format!("closed {}", code.code),
            (None, CloseCause::Error(_)) => "dropped".to_string(),
            (None, _) => "closed".to_string(),
        },
    }
}

/// The pair's state: one word when both legs agree, else each leg's.
fn pair_state(r: &ConnRow) -> String {
    let client = leg_state(r.closed.as_ref());
    let Some(up) = &r.upstream else {
        return format!("{client} · connecting");
    };
    let server = leg_state(up.closed.as_ref());
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
    let n = s.rows.len();
    let top = match sel {
        Some(i) if n > inner_h => i.saturating_sub(inner_h.saturating_sub(1)).min(n - inner_h),
        _ => n.saturating_sub(inner_h),
    };
    let wide = area.width >= 110;
    let rows: Vec<Row> = s
        .rows
        .iter()
        .enumerate()
        .skip(top)
        .take(inner_h)
        .map(|(i, r)| {
            let alive = r.closed.as_ref().map(|c| c.at).unwrap_or(state.now);
            let upstream = r
                .upstream
                .as_ref()
                .map(|u| u.peer.to_string())
                .unwrap_or_else(|| "…".into());
            let mut cells = vec![
                Cell::from(format!("#{}", r.id)),
                Cell::from(r.peer.to_string()),
                Cell::from(upstream),
            ];
            if wide {
                cells.push(Cell::from(escape_text(&r.path, 200)));
            }
            cells.extend([
                Cell::from(age(alive.saturating_duration_since(r.opened_at))),
                // What reached each end: the upstream leg's out, the client leg's out
                // (injected messages included, dropped ones not).
                Cell::from(
                    r.upstream
                        .as_ref()
                        .map(|u| u.counts.frames_out.to_string())
                        .unwrap_or_default(),
                ),
                Cell::from(r.counts.frames_out.to_string()),
                Cell::from(r.last_latency.map(format_duration).unwrap_or_default()),
                Cell::from(pair_state(r)),
            ]);
            let mut row = Row::new(cells);
            if !r.is_open() {
                row = row.style(theme.dim());
            }
            if Some(i) == sel {
                row = row.style(if r.is_open() {
                    theme.selected()
                } else {
                    theme.selected().patch(theme.dim())
                });
            }
            row
        })
        .collect();
    let mut header = vec!["id", "client", "upstream"];
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(21),
        Constraint::Length(21),
    ];
    if wide {
        header.push("path");
        widths.push(Constraint::Fill(1));
    }
    header.extend(["age", "C→S", "S→C", "latency", "state"]);
    widths.extend([
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Fill(1),
    ]);
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .column_spacing(1)
        .block(block);
    f.render_widget(table, area);
}
