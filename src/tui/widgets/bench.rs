//! The bench's live view: progress, current rate, latency percentiles over time
//! and the distribution so far.

use std::time::Duration;

use ratatui::layout::{Constraint, Layout};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, Gauge, GraphType, Paragraph};
use ratatui::Frame;

use crate::bench::live::LiveState;
use crate::bench::report::histogram_chart;
use crate::present::format_duration;
use crate::tui::fit::{fit, fit_line, Segment, Shrink, ALWAYS};
use crate::tui::theme::Theme;

pub fn draw(f: &mut Frame, s: &LiveState, theme: &Theme) {
    let [title, gauge, stats, chart, hist, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(12),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let parts: Vec<Segment> = s
        .title
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i == 0 {
                Segment::styled(ALWAYS, t.clone(), theme.bold()).shrink(Shrink::End)
            } else {
                Segment::styled(100 - i.min(99) as u8, t.clone(), theme.bold()).sep(" · ")
            }
        })
        .collect();
    f.render_widget(Paragraph::new(fit_line(&parts, title.width)), title);
    f.render_widget(
        Gauge::default()
            .ratio(s.done.clamp(0.0, 1.0))
            .label(format!(
                "{:.0}% · {:.1}s",
                s.done * 100.0,
                s.elapsed.as_secs_f64()
            ))
            .gauge_style(theme.sent()),
        gauge,
    );
    let last = s.history.back().copied().unwrap_or_default();
    let ms = |v: f64| format_duration(Duration::from_secs_f64(v / 1000.0));
    let us = |v: u64| format_duration(Duration::from_micros(v));
    let mut segs = vec![
        Segment::raw(6, format!("connected {}/{}", s.connected, s.connections))
            .shrink(Shrink::Words),
        Segment::styled(7, format!("sent {}", s.sent), theme.sent()).sep("  "),
        Segment::styled(8, format!("received {}", s.received), theme.received())
            .sep("  ")
            .shrink(Shrink::Words),
        Segment::styled(ALWAYS, format!("{:.0} msg/s", s.rate), theme.bold()).sep("  "),
    ];
    if s.errors > 0 {
        segs.push(Segment::styled(ALWAYS, format!("errors {}", s.errors), theme.error()).sep("  "));
    }
    segs.extend([
        Segment::raw(5, "now:").sep("   ").new_row().group(1),
        Segment::raw(5, format!("p50 {}", ms(last.1)))
            .glued()
            .group(1),
        Segment::raw(5, format!("p99 {}", ms(last.2)))
            .sep("  ")
            .glued()
            .group(1),
        Segment::raw(9, "so far:").sep("   ").group(2),
        Segment::raw(9, format!("p50 {}", us(s.so_far.value_at_quantile(0.5))))
            .glued()
            .group(2),
        Segment::raw(9, format!("p99 {}", us(s.so_far.value_at_quantile(0.99))))
            .sep("  ")
            .glued()
            .group(2),
        Segment::raw(8, format!("max {}", us(s.so_far.max())))
            .sep("  ")
            .glued(),
    ]);
    f.render_widget(Paragraph::new(fit(&segs, stats.width, stats.height)), stats);
    let p50: Vec<(f64, f64)> = s.history.iter().map(|p| (p.0, p.1)).collect();
    let p99: Vec<(f64, f64)> = s.history.iter().map(|p| (p.0, p.2)).collect();
    let x0 = s.history.front().map(|p| p.0).unwrap_or(0.0);
    let x1 = last.0.max(x0 + 1.0);
    let ymax = p99.iter().map(|p| p.1).fold(0.001f64, f64::max) * 1.15;
    f.render_widget(
        Chart::new(vec![
            Dataset::default()
                .name("p50")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.received())
                .data(&p50),
            Dataset::default()
                .name("p99")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.warn())
                .data(&p99),
        ])
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(Line::from(vec![
                    Span::styled(" Round trip over time ", theme.bold()),
                    Span::styled("— p50 ", theme.received()),
                    Span::styled("— p99 ", theme.warn()),
                ])),
        )
        .legend_position(None)
        .x_axis(Axis::default().bounds([x0, x1]))
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .labels([Span::raw("0"), Span::raw(format!("{ymax:.2}ms"))]),
        ),
        chart,
    );
    let bars: Vec<Line> = histogram_chart(
        &s.so_far,
        10,
        (hist.width as usize).saturating_sub(26).max(5),
    )
    .into_iter()
    .map(Line::raw)
    .collect();
    f.render_widget(
        Paragraph::new(bars).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Distribution so far ", theme.bold())),
        ),
        hist,
    );
    let hint = if s.stopping {
        "stopping: waiting for the last echoes…"
    } else {
        "q stops early and prints the summary"
    };
    f.render_widget(Paragraph::new(Span::styled(hint, theme.dim())), keys);
}
