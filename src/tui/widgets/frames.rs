//! The frame log: time, (connection), direction, kind, size, RTT, preview.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::app::state::{FrameEntry, LogView};
use crate::app::AppState;
use crate::escape::escape_text;
use crate::net::relay::Flow;
use crate::net::{Direction, FrameKind, RttKind};
use crate::present::format_duration;
use crate::present::{arrow, flow_arrow, payload_preview};
use crate::proto::{Decoded, Protocol, DECODE_MAX};
use crate::tui::fit::{self, Segment, Shrink, ALWAYS};
use crate::tui::theme::Theme;

pub struct FrameLogWidget<'a> {
    pub view: &'a LogView,
    pub title: &'a str,
    pub focused: bool,
    /// Show the connection column (server logs).
    pub show_conn: bool,
    /// Extra words for the title, e.g. the server's scope.
    pub extra: Option<String>,
    /// A relay's log: each frame's way (`C→S`, `S→C`) instead of an arrow,
    /// and the reply latency.
    pub flows: bool,
}

/// A relay's frame: its way, and whether the relay itself wrote it.
fn flow_of(e: &FrameEntry) -> Option<(Flow, bool)> {
    e.leg
        .map(|leg| (Flow::of(leg, e.dir), e.dir == Direction::Out))
}

fn kind_style(theme: &Theme, e: &FrameEntry) -> Style {
    if let (Some((flow, _)), true) = (flow_of(e), e.kind.is_data()) {
        return match flow {
            Flow::ClientToServer => theme.sent(),
            Flow::ServerToClient => theme.received(),
        };
    }
    match (e.kind, e.dir) {
        (FrameKind::Ping | FrameKind::Pong, _) => theme.ping(),
        (FrameKind::Close, _) => theme.warn(),
        (_, Direction::Out) => theme.sent(),
        (_, Direction::In) => theme.received(),
    }
}

/// `text 12B`, `close 1000`.
fn kind_and_size(e: &FrameEntry) -> String {
    match (&e.kind, &e.close) {
        (FrameKind::Close, Some(c)) => format!("close {}", c.code),
        (kind, _) => format!(
            "{:<6} {}",
            kind.as_str(),
            crate::present::bytes(e.len as u64).replace(' ', "")
        ),
    }
}

fn preview(e: &FrameEntry, width: usize, decode: bool) -> String {
    // Rows are decoded at each draw: a long message shows as it is.
    if let Some(d) = decoded(e, ROW_DECODE_MAX).filter(|_| decode) {
        return escape_text(&d.1.summary, width);
    }
    match &e.close {
        Some(c) if c.reason.is_empty() => c.name(),
        Some(c) => {
            let name = c.name();
            // The reason's quotes stay: what is cut is inside them.
            let room = width.saturating_sub(name.width() + 3).max(1);
            format!("{name} \"{}\"", escape_text(&c.reason, room))
        }
        None => payload_preview(e.kind, &e.payload, width),
    }
}

/// The longest message a row of the log decodes.
const ROW_DECODE_MAX: usize = 64 << 10;

/// A message as its protocol reads it, when it has one, is kept whole and is
/// no longer than `limit`.
pub fn decoded(e: &FrameEntry, limit: usize) -> Option<(Protocol, Decoded)> {
    let p = e.proto?;
    if e.truncated() || e.len > limit.min(DECODE_MAX) {
        return None;
    }
    Some((p, p.codec().decode(e.kind == FrameKind::Text, &e.payload)?))
}

/// Keeps the selected row in view, moving the window as little as possible.
fn window(top: usize, selected: Option<usize>, total: usize, height: usize, follow: bool) -> usize {
    if height == 0 || total <= height {
        return 0;
    }
    let max_top = total - height;
    if follow {
        return max_top;
    }
    let Some(sel) = selected else {
        return top.min(max_top);
    };
    let mut top = top.min(max_top);
    if sel < top {
        top = sel;
    } else if sel >= top + height {
        top = sel + 1 - height;
    }
    top
}

impl FrameLogWidget<'_> {
    /// Draws the log; returns the first row shown, for the next draw to start from.
    pub fn render(&self, f: &mut Frame, area: Rect, state: &AppState, theme: &Theme) -> usize {
        if state.show_wire {
            super::wire::WireWidget {
                view: self.view,
                focused: self.focused,
                show_conn: self.show_conn,
                flows: self.flows,
                extra: self.extra.clone(),
            }
            .render(f, area, state, theme);
            return self.view.top;
        }
        let visible = self.view.visible();
        let filter = &self.view.filter;
        let mut title = vec![
            Segment::styled(ALWAYS, self.title, theme.bold()),
            Segment::raw(ALWAYS, self.view.log.len().to_string()),
        ];
        if filter.is_active() {
            let mut words = Vec::new();
            if filter.dir != crate::app::state::DirFilter::All {
                words.push(filter.dir.label().to_string());
            }
            if let Some(re) = &filter.regex {
                words.push(format!("/{}/", escape_text(re.as_str(), 60)));
            }
            if let Some(c) = filter.conn {
                words.push(format!("#{c} only"));
            }
            title.push(
                Segment::styled(
                    9,
                    format!("[{}: {} match]", words.join(" "), visible.len()),
                    theme.warn(),
                )
                .shrink(Shrink::Words),
            );
        }
        if let Some(extra) = &self.extra {
            title.push(Segment::raw(3, extra.clone()));
        }
        // Which protocol the rows are read as (the newest that has one), or raw.
        let newest = visible
            .iter()
            .rev()
            .take(64)
            .find_map(|s| self.view.log.get(*s)?.proto);
        if let Some(p) = newest {
            let (text, style) = match state.show_raw {
                false => (format!("{} · d: raw", p.name()), theme.dim()),
                true => (format!("raw · d: {}", p.name()), theme.warn()),
            };
            title.push(Segment::styled(4, text, style));
        }
        if !self.view.follow {
            title.push(Segment::styled(9, "PAUSED", theme.warn()));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(self.focused))
            .title(fit::title(&title, area.width));
        let inner = block.inner(area);
        let height = inner.height as usize;
        let sel = self.view.selected_index(&visible);
        let top = window(self.view.top, sel, visible.len(), height, self.view.follow);

        let time_w = 12u16;
        let conn_w = if self.show_conn { 5 } else { 0 };
        // Server logs have no round trips of their own: no RTT column there.
        let rtt_w = if self.show_conn && !self.flows { 0 } else { 9 };
        let arrow_w = if self.flows { 3 } else { 1 };
        // The columns before the preview, and a space after each.
        let columns = [time_w, conn_w, arrow_w, 14, rtt_w];
        let fixed: u16 = columns.iter().filter(|w| **w > 0).map(|w| w + 1).sum();
        // One column is left for the `…` that marks a preview cut short.
        let preview_w = inner.width.saturating_sub(fixed + 1).max(8) as usize;
        let rows: Vec<Row> = visible[top..(top + height).min(visible.len())]
            .iter()
            .enumerate()
            .filter_map(|(i, seq)| {
                let e = self.view.log.get(*seq)?;
                let style = kind_style(theme, e);
                let mut cells = vec![Cell::from(
                    e.ts.with_timezone(&state.offset)
                        .format("%H:%M:%S%.3f")
                        .to_string(),
                )];
                if self.show_conn {
                    cells.push(Cell::from(format!("#{}", e.conn)));
                }
                cells.push(match flow_of(e) {
                    // What the relay wrote itself (an answer, an injection) is dimmed.
                    Some((flow, own)) => Cell::from(flow_arrow(flow)).style(if own {
                        style.patch(theme.dim())
                    } else {
                        style
                    }),
                    None => Cell::from(arrow(e.dir)).style(style),
                });
                cells.push(Cell::from(kind_and_size(e)).style(style));
                if rtt_w > 0 {
                    cells.push(Cell::from(match &e.rtt {
                        Some(r) if r.kind == RttKind::Ping => {
                            Span::styled(format_duration(r.duration), theme.ping())
                        }
                        Some(r) => Span::raw(format_duration(r.duration)),
                        None => Span::raw(""),
                    }));
                }
                cells.push(Cell::from(match &e.mark {
                    // What the relay did to it comes first: it is why one looks.
                    Some(mark) => {
                        let mark = format!("[{mark}] ");
                        let room = preview_w.saturating_sub(mark.width()).max(4);
                        Line::from(vec![
                            Span::styled(mark, theme.warn()),
                            Span::raw(preview(e, room, !state.show_raw)),
                        ])
                    }
                    None => Line::raw(preview(e, preview_w, !state.show_raw)),
                }));
                let mut row = Row::new(cells);
                if Some(top + i) == sel && (!self.view.follow || self.focused) {
                    row = row.style(theme.selected());
                }
                Some(row)
            })
            .collect();
        let mut widths = vec![Constraint::Length(time_w)];
        if self.show_conn {
            widths.push(Constraint::Length(conn_w));
        }
        widths.extend([Constraint::Length(arrow_w), Constraint::Length(14)]);
        if rtt_w > 0 {
            widths.push(Constraint::Length(rtt_w));
        }
        widths.push(Constraint::Fill(1));
        let table = Table::new(rows, widths).column_spacing(1).block(block);
        f.render_widget(table, area);
        if visible.is_empty() && inner.height > 0 {
            let hint = if self.view.log.is_empty() {
                "no frames yet"
            } else {
                "no frame matches the filter"
            };
            f.render_widget(
                ratatui::widgets::Paragraph::new(Span::styled(hint, theme.dim())),
                inner,
            );
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn window_follows_and_keeps_selection_visible() {
        assert_eq!(window(0, Some(99), 100, 10, true), 90);
        assert_eq!(window(90, Some(50), 100, 10, false), 50);
        assert_eq!(window(40, Some(55), 100, 10, false), 46);
        assert_eq!(window(40, Some(45), 100, 10, false), 40);
        assert_eq!(window(5, None, 3, 10, false), 0);
    }
}
