//! The server's connection table.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use ratatui::Frame;

use crate::app::state::{ClosedRow, ServerPane};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::net::CloseCause;
use crate::present::{age, bytes};
use crate::tui::theme::Theme;
use unicode_width::UnicodeWidthStr;

/// The path escaped, and cut with `…` to `width` columns when longer.
fn path_cell(path: &str, width: usize) -> String {
    let text = escape_text(path, 200);
    if text.width() <= width {
        return text;
    }
    let spans = [ratatui::text::Span::raw(text)];
    crate::tui::fit::shrink(&spans, crate::tui::fit::Shrink::End, width)
        .into_iter()
        .map(|s| s.content.into_owned())
        .collect()
}

/// How a connection (or a relay's leg) stands: `open`, `closed 1000`, `dropped`.
pub fn close_state(closed: Option<&ClosedRow>) -> String {
    match closed {
        None => "open".to_string(),
        Some(cl) => match (&cl.close, &cl.cause) {
            (Some(code), _) => format!("closed {}", code.code),
            (None, CloseCause::Error(_)) => "dropped".to_string(),
            (None, _) => "closed".to_string(),
        },
    }
}

/// The first row shown: the selection kept in view, else the newest rows.
pub fn first_shown(selected: Option<usize>, rows: usize, height: usize) -> usize {
    match selected {
        Some(i) if rows > height => i
            .saturating_sub(height.saturating_sub(1))
            .min(rows - height),
        _ => rows.saturating_sub(height),
    }
}

/// A row dimmed when closed, highlighted when selected.
pub fn styled_row<'a>(row: Row<'a>, open: bool, selected: bool, theme: &Theme) -> Row<'a> {
    let row = if open { row } else { row.style(theme.dim()) };
    match (selected, open) {
        (false, _) => row,
        (true, true) => row.style(theme.selected()),
        (true, false) => row.style(theme.selected().patch(theme.dim())),
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
            Span::styled(" Connections ", theme.bold()),
            Span::raw(format!("{} open ", s.open_count())),
        ]));
    let inner_h = block.inner(area).height.saturating_sub(1) as usize;
    let sel = s.selected_index();
    let top = first_shown(sel, s.rows.len(), inner_h);
    let wide = area.width >= 100;
    // The path column takes what the others leave; a longer path ends in `…`.
    let others: u16 = if wide {
        6 + 21 + 8 + 6 + 13 + 21 + 11
    } else {
        6 + 21 + 6 + 13 + 11
    };
    let columns: u16 = if wide { 8 } else { 6 };
    let path_w = block
        .inner(area)
        .width
        .saturating_sub(others + columns - 1)
        .max(2);
    let rows: Vec<Row> = s
        .rows
        .iter()
        .enumerate()
        .skip(top)
        .take(inner_h)
        .map(|(i, r)| {
            let c = r.counts;
            let state_text = close_state(r.closed.as_deref());
            let alive = r.closed.as_deref().map(|c| c.at).unwrap_or(state.now);
            let mut cells = vec![
                Cell::from(format!("#{}", r.id)),
                Cell::from(r.peer.to_string()),
                Cell::from(path_cell(&r.path, usize::from(path_w))),
            ];
            if wide {
                cells.push(Cell::from(
                    r.handshake
                        .subprotocol()
                        .map(|p| escape_text(p, 20))
                        .unwrap_or_default(),
                ));
            }
            cells.push(Cell::from(
                age(alive.saturating_duration_since(r.opened_at)),
            ));
            cells.push(Cell::from(format!("{}/{}", c.frames_in, c.frames_out)));
            if wide {
                cells.push(Cell::from(format!(
                    "{}/{}",
                    bytes(c.bytes_in),
                    bytes(c.bytes_out)
                )));
            }
            cells.push(Cell::from(state_text));
            styled_row(Row::new(cells), r.is_open(), Some(i) == sel, theme)
        })
        .collect();
    let mut header = vec!["id", "peer", "path"];
    let mut widths = vec![
        Constraint::Length(6),
        Constraint::Length(21),
        Constraint::Fill(1),
    ];
    if wide {
        header.push("proto");
        widths.push(Constraint::Length(8));
    }
    header.extend(["age", "in/out"]);
    widths.extend([Constraint::Length(6), Constraint::Length(13)]);
    if wide {
        header.push("bytes in/out");
        widths.push(Constraint::Length(21));
    }
    header.push("state");
    widths.push(Constraint::Length(11));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.bold()))
        .column_spacing(1)
        .block(block);
    f.render_widget(table, area);
}
