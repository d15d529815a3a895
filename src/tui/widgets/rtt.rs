//! Round-trip statistics and a chart of recent RTTs (echo and ping apart).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::app::state::ClientPane;
use crate::net::rtt::RttStats;
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

/// One line per kind: `echo n=12 min … max …`.
pub fn summary_lines(c: &ClientPane, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    vec![
        stat_line("echo", &c.totals.rtt.echo, theme, theme.received(), width),
        stat_line("ping", &c.totals.rtt.ping, theme, theme.ping(), width),
    ]
}

/// A column per kind, a row per statistic: for the narrow side panel.
fn stat_table<'a>(c: &ClientPane, theme: &Theme) -> Vec<Line<'a>> {
    let (e, p) = (c.totals.rtt.echo.summary(), c.totals.rtt.ping.summary());
    let cell = |count: u64, d: std::time::Duration| {
        if count == 0 {
            "—".to_string()
        } else {
            format_duration(d)
        }
    };
    let mut lines = vec![Line::from(vec![
        Span::raw("      "),
        Span::styled(format!("{:>10}", "echo"), theme.received()),
        Span::styled(format!("{:>10}", "ping"), theme.ping()),
    ])];
    lines.push(Line::raw(format!(
        "{:<6}{:>10}{:>10}",
        "count", e.count, p.count
    )));
    for (name, a, b) in [
        ("min", e.min, p.min),
        ("p50", e.p50, p.p50),
        ("p90", e.p90, p.p90),
        ("p99", e.p99, p.p99),
        ("max", e.max, p.max),
    ] {
        lines.push(Line::raw(format!(
            "{name:<6}{:>10}{:>10}",
            cell(e.count, a),
            cell(p.count, b)
        )));
    }
    lines
}

pub fn render(f: &mut Frame, area: Rect, c: &ClientPane, theme: &Theme) {
    if area.height < 4 {
        f.render_widget(Paragraph::new(summary_lines(c, theme, area.width)), area);
        return;
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(vec![
            Span::styled(" Round trips ", theme.bold()),
            Span::styled("• echo ", theme.received()),
            Span::styled("• ping ", theme.ping()),
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
    let last = c.rtt_points.back().map(|p| p.at).unwrap_or(0.0);
    let from = (last - CHART_SECONDS).max(0.0);
    let pick = |kind: RttKind| -> Vec<(f64, f64)> {
        c.rtt_points
            .iter()
            .filter(|p| p.kind == kind && p.at >= from)
            .map(|p| (p.at, p.ms))
            .collect()
    };
    let echo = pick(RttKind::Echo);
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
            .name("echo")
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
