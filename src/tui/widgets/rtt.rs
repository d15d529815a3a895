//! Round-trip statistics and a chart of recent RTTs (echo and ping apart).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::app::state::ClientPane;
use crate::net::rtt::{format_duration, RttStats};
use crate::net::RttKind;
use crate::tui::theme::Theme;

/// Seconds of history the chart shows.
const CHART_SECONDS: f64 = 60.0;

fn stat_lines<'a>(
    name: &'a str,
    s: &RttStats,
    theme: &Theme,
    style: ratatui::style::Style,
) -> Line<'a> {
    let sum = s.summary();
    if sum.count == 0 {
        return Line::from(vec![
            Span::styled(format!("{name:<5}"), style),
            Span::styled("—", theme.dim()),
        ]);
    }
    Line::from(vec![
        Span::styled(format!("{name:<5}"), style),
        Span::raw(format!(
            "n={} min {} p50 {} p90 {} p99 {} max {}",
            sum.count,
            format_duration(sum.min),
            format_duration(sum.p50),
            format_duration(sum.p90),
            format_duration(sum.p99),
            format_duration(sum.max)
        )),
    ])
}

/// One line per kind: `echo n=12 min … max …`.
pub fn summary_lines<'a>(c: &'a ClientPane, theme: &Theme) -> Vec<Line<'a>> {
    vec![
        stat_lines("echo", &c.rtt.echo, theme, theme.received()),
        stat_lines("ping", &c.rtt.ping, theme, theme.ping()),
    ]
}

/// A column per kind, a row per statistic: for the narrow side panel.
fn stat_table<'a>(c: &ClientPane, theme: &Theme) -> Vec<Line<'a>> {
    let (e, p) = (c.rtt.echo.summary(), c.rtt.ping.summary());
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
        f.render_widget(Paragraph::new(summary_lines(c, theme)), area);
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
        (summary_lines(c, theme), 2)
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
