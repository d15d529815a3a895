//! The relay's held messages, newest last, with how to let them go.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::app::state::RelayView;
use crate::net::relay::Flow;
use crate::net::Direction;
use crate::present::{flow_arrow, frame_summary, payload_preview};
use crate::tui::fit;
use crate::tui::theme::Theme;

pub fn render(f: &mut Frame, area: Rect, r: &RelayView, theme: &Theme) {
    let title = [
        fit::Segment::styled(
            fit::ALWAYS,
            format!(" Held {} ", r.held.len()),
            theme.warn(),
        ),
        fit::Segment::styled(
            1,
            "/forward N · /edit N TEXT · /drop N · all: /forward, /drop ",
            theme.dim(),
        ),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.warn())
        .title(fit::title(&title, area.width));
    let inner = block.inner(area);
    let shown = usize::from(inner.height);
    let width = usize::from(inner.width);
    let lines: Vec<Line> = r
        .held
        .iter()
        .skip(r.held.len().saturating_sub(shown))
        .map(|h| {
            let head = format!(
                "#{:<5} pair #{:<4} {} {} ({}) ",
                h.id,
                h.conn,
                flow_arrow(Flow::of(h.from, Direction::In)),
                frame_summary(h.kind, h.payload.len(), None),
                h.why
            );
            let room = width.saturating_sub(head.chars().count()).max(4);
            Line::from(vec![
                Span::styled(head, theme.warn()),
                Span::raw(payload_preview(h.kind, &h.payload, room)),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
