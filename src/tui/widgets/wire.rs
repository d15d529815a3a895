//! The log as frames on the wire (`w`): time, (connection), way, and each
//! frame's header as sent (opcode, FIN, RSV, mask) with its sizes.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use crate::app::state::{DirFilter, LogView, WireEntry};
use crate::app::AppState;
use crate::frames::head::{CLOSE, PING, PONG};
use crate::net::relay::Flow;
use crate::present::{arrow, flow_arrow, wire_summary};
use crate::tui::fit::{self, Segment, ALWAYS};
use crate::tui::theme::Theme;

pub struct WireWidget<'a> {
    pub view: &'a LogView,
    pub focused: bool,
    pub show_conn: bool,
    pub flows: bool,
    pub extra: Option<String>,
}

fn style(theme: &Theme, w: &WireEntry) -> ratatui::style::Style {
    match w.info.opcode {
        PING | PONG => theme.ping(),
        CLOSE => theme.warn(),
        _ if w.info.injected => theme.warn(),
        _ if w.info.outgoing => theme.sent(),
        _ => theme.received(),
    }
}

impl WireWidget<'_> {
    pub fn render(&self, f: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
        let wire = &self.view.wire;
        let mut title = vec![
            Segment::styled(ALWAYS, "Frames on the wire", theme.bold()),
            Segment::raw(ALWAYS, wire.len().to_string()),
            Segment::styled(5, "newest last · w: messages", theme.dim()),
        ];
        if wire.lost > 0 {
            title.push(Segment::styled(
                7,
                format!("{} not shown", wire.lost),
                theme.warn(),
            ));
        }
        if self.view.filter.dir != DirFilter::All {
            title.push(Segment::styled(
                9,
                self.view.filter.dir.label(),
                theme.warn(),
            ));
        }
        if let Some(extra) = &self.extra {
            title.push(Segment::raw(3, extra.clone()));
        }
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(self.focused))
            .title(fit::title(&title, area.width));
        let inner = block.inner(area);
        let height = inner.height as usize;
        let (conn, dir) = (self.view.filter.conn, self.view.filter.dir);
        let shown: Vec<&WireEntry> = wire
            .iter()
            .rev()
            .filter(|w| conn.is_none_or(|c| w.conn == c))
            .filter(|w| match dir {
                DirFilter::All => true,
                DirFilter::Sent => w.info.outgoing,
                DirFilter::Received => !w.info.outgoing,
            })
            .take(height)
            .collect();
        let arrow_w = if self.flows { 3 } else { 1 };
        let rows: Vec<Row> = shown
            .iter()
            .rev()
            .map(|w| {
                let st = style(theme, w);
                let mut cells = vec![Cell::from(
                    w.info
                        .at
                        .with_timezone(&state.offset)
                        .format("%H:%M:%S%.3f")
                        .to_string(),
                )];
                if self.show_conn {
                    cells.push(Cell::from(format!("#{}", w.conn)));
                }
                cells.push(match w.leg {
                    Some(leg) => Cell::from(flow_arrow(Flow::of(leg, w.dir()))),
                    None => Cell::from(arrow(w.dir())),
                });
                cells.push(Cell::from(Span::styled(wire_summary(&w.info), st)));
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![Constraint::Length(12)];
        if self.show_conn {
            widths.push(Constraint::Length(5));
        }
        widths.extend([Constraint::Length(arrow_w), Constraint::Fill(1)]);
        f.render_widget(
            Table::new(rows, widths).column_spacing(1).block(block),
            area,
        );
        if shown.is_empty() && inner.height > 0 {
            let hint = "no frames yet (frames are logged from when the dashboard opened)";
            f.render_widget(Paragraph::new(Span::styled(hint, theme.dim())), inner);
        }
    }
}
