//! Round-trip statistics and a chart of recent RTTs (echo and ping apart).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use std::collections::VecDeque;

use crate::app::state::{ClientPane, RelayView, RttPoint};
use crate::net::rtt::{RttBook, RttStats};
use crate::net::RttKind;
use crate::present::format_duration;
use crate::tui::fit::{self, Segment, ALWAYS};
use crate::tui::theme::Theme;

/// Seconds of history the chart shows.
const CHART_SECONDS: f64 = 60.0;

/// `echo n=12 min … max …`, the least telling statistics left out when narrow.
fn stat_line(
    name: &str,
    s: &RttStats,
    theme: &Theme,
    style: ratatui::style::Style,
    width: u16,
) -> Line<'static> {
    let sum = s.summary();
    let mut segs = vec![Segment::styled(ALWAYS, format!("{name:<4}"), style)];
    if sum.count == 0 {
        segs.push(Segment::styled(ALWAYS, "—", theme.dim()));
    } else {
        for (priority, label, value) in [
            (5, "n=", sum.count.to_string()),
            (4, "min ", format_duration(sum.min)),
            (9, "p50 ", format_duration(sum.p50)),
            (3, "p90 ", format_duration(sum.p90)),
            (8, "p99 ", format_duration(sum.p99)),
            (6, "max ", format_duration(sum.max)),
        ] {
            segs.push(Segment::raw(priority, format!("{label}{value}")));
        }
    }
    fit::fit_line(&segs, width)
}

/// Where the panel's figures come from: a client's echoes and pings, or a
/// relay's request→reply latencies (in the echo's place).
pub struct Rtts<'a> {
    book: &'a RttBook,
    points: &'a VecDeque<RttPoint>,
    title: &'static str,
    /// What the first kind is called: `echo`, or a relay's `reply`.
    first: &'static str,
    first_kind: RttKind,
}

impl<'a> Rtts<'a> {
    pub fn client(c: &'a ClientPane) -> Self {
        Rtts {
            book: &c.totals.rtt,
            points: &c.rtt_points,
            title: " Round trips ",
            first: "echo",
            first_kind: RttKind::Echo,
        }
    }

    pub fn relay(r: &'a RelayView) -> Self {
        Rtts {
            book: &r.latency,
            points: &r.points,
            title: " Latency ",
            first: "reply",
            first_kind: RttKind::Reply,
        }
    }
}

/// One line per kind: `echo n=12 min … max …`.
pub fn summary_lines(c: &Rtts, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![stat_line(
        c.first,
        &c.book.echo,
        theme,
        theme.received(),
        width,
    )];
    if c.first_kind == RttKind::Echo {
        lines.push(stat_line("ping", &c.book.ping, theme, theme.ping(), width));
    }
    lines
}

/// A column per kind, a row per statistic: for the narrow side panel.
fn stat_table<'a>(c: &Rtts, theme: &Theme) -> Vec<Line<'a>> {
    let (e, p) = (c.book.echo.summary(), c.book.ping.summary());
    let cell = |count: u64, d: std::time::Duration| {
        if count == 0 {
            "—".to_string()
        } else {
            format_duration(d)
        }
    };
    // A relay has no pings of its own to time: its table has one column.
    let pings = c.first_kind == RttKind::Echo;
    let mut head = vec![
        Span::raw("      "),
        Span::styled(format!("{:>10}", c.first), theme.received()),
    ];
    if pings {
        head.push(Span::styled(format!("{:>10}", "ping"), theme.ping()));
    }
    let mut lines = vec![Line::from(head)];
    let ping_cell = |text: String| {
        if pings {
            format!("{text:>10}")
        } else {
            String::new()
        }
    };
    lines.push(Line::raw(format!(
        "{:<6}{:>10}{}",
        "count",
        e.count,
        ping_cell(p.count.to_string())
    )));
    for (name, a, b) in [
        ("min", e.min, p.min),
        ("p50", e.p50, p.p50),
        ("p90", e.p90, p.p90),
        ("p99", e.p99, p.p99),
        ("max", e.max, p.max),
    ] {
        lines.push(Line::raw(format!(
            "{name:<6}{:>10}{}",
            cell(e.count, a),
            ping_cell(cell(p.count, b))
        )));
    }
    lines
}

pub fn render(f: &mut Frame, area: Rect, c: &Rtts, theme: &Theme) {
    if area.height < 4 {
        f.render_widget(Paragraph::new(summary_lines(c, theme, area.width)), area);
        return;
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(vec![
            Span::styled(c.title, theme.bold()),
            Span::styled(format!("• {} ", c.first), theme.received()),
            Span::styled(
                if c.first_kind == RttKind::Echo {
                    "• ping "
                } else {
                    ""
                },
                theme.ping(),
            ),
        ]));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let tall = inner.height >= 12 && inner.width < 70;
    let (stats_lines, stats_h) = if tall {
        (stat_table(c, theme), 7)
    } else {
        (summary_lines(c, theme, inner.width), 2)
    };
    let [stats, _, chart] = Layout::vertical([
        Constraint::Length(stats_h),
        Constraint::Length(tall as u16),
        Constraint::Fill(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(stats_lines), stats);
    if chart.height < 3 {
        return;
    }
    let last = c.points.back().map(|p| p.at).unwrap_or(0.0);
    let from = (last - CHART_SECONDS).max(0.0);
    let pick = |kind: RttKind| -> Vec<(f64, f64)> {
        c.points
            .iter()
            .filter(|p| p.kind == kind && p.at >= from)
            .map(|p| (p.at, p.ms))
            .collect()
    };
    let echo = pick(c.first_kind);
    let ping = pick(RttKind::Ping);
    if echo.is_empty() && ping.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled(
                "the chart fills as echoes and pongs arrive",
                theme.dim(),
            )),
            chart,
        );
        return;
    }
    let max_ms = echo
        .iter()
        .chain(&ping)
        .map(|p| p.1)
        .fold(0.0f64, f64::max)
        .max(0.001)
        * 1.15;
    let datasets = vec![
        Dataset::default()
            .name(c.first)
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.received())
            .data(&echo),
        Dataset::default()
            .name("ping")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.ping())
            .data(&ping),
    ];
    let y_label = |ms: f64| format!("{ms:.2}ms");
    let chart_widget = Chart::new(datasets)
        .legend_position(None)
        .x_axis(Axis::default().bounds([from, from.max(last).max(from + 1.0)]))
        .y_axis(
            Axis::default()
                .bounds([0.0, max_ms])
                .labels([Span::raw("0"), Span::raw(y_label(max_ms))]),
        );
    f.render_widget(chart_widget, chart);
}
