//! Round-trip statistics and a chart of recent RTTs (echo and ping apart).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use std::collections::VecDeque;
use std::sync::Arc;

use crate::escape::escape_text;

use crate::app::state::{ClientPane, ConnRow, RelayView, RttPoint};
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

/// Where the panel's figures come from: a client's echoes and pings, or a
/// relay's request→reply latencies, all pairs' and the selected pair's.
pub struct Rtts<'a> {
    /// The first column: `echo`, or a relay's `reply` (every pair).
    first: (&'a RttStats, String),
    /// The second: `ping`, or the selected pair (`#3`), when there is one.
    second: Option<(&'a RttStats, String)>,
    points: &'a VecDeque<RttPoint>,
    title: &'static str,
    first_kind: RttKind,
    /// Reply latencies by the method or event they answer.
    labels: &'a [(Arc<str>, RttStats)],
}

impl<'a> Rtts<'a> {
    pub fn client(c: &'a ClientPane) -> Self {
        let rtt = &c.totals.rtt;
        // A protocol's replies take the echo's place when they are what comes back.
        let (first, first_kind) = if rtt.reply.count() > rtt.echo.count() {
            ((&rtt.reply, "reply".into()), RttKind::Reply)
        } else {
            ((&rtt.echo, "echo".into()), RttKind::Echo)
        };
        Rtts {
            first,
            second: Some((&rtt.ping, "ping".into())),
            points: &c.rtt_points,
            title: " Round trips ",
            first_kind,
            labels: &rtt.by_label,
        }
    }

    /// A relay's latencies, with the selected pair's beside them.
    pub fn relay(r: &'a RelayView, selected: Option<&'a ConnRow>) -> Self {
        Rtts {
            first: (&r.latency.reply, "reply".into()),
            second: selected.and_then(|row| {
                row.latency
                    .as_deref()
                    .map(|stats| (stats, format!("#{}", row.id)))
            }),
            points: &r.points,
            title: " Latency ",
            first_kind: RttKind::Reply,
            labels: &r.latency.by_label,
        }
    }

    /// The second column's style: a ping's colour, or a pair's (the reply's).
    fn second_style(&self, theme: &Theme) -> ratatui::style::Style {
        if self.second.as_ref().is_some_and(|(_, n)| n == "ping") {
            theme.ping()
        } else {
            theme.received()
        }
    }

    /// A line per request label (`add n=3 p50 …`), at most `rows`.
    fn label_lines(&self, theme: &Theme, width: u16, rows: usize) -> Vec<Line<'static>> {
        self.labels
            .iter()
            .take(rows)
            .map(|(label, stats)| {
                let name = format!("{} ", escape_text(label, 16));
                stat_line(&name, stats, theme, theme.dim(), width)
            })
            .collect()
    }
}

/// One line per column: `echo n=12 min … max …`.
pub fn summary_lines(c: &Rtts, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = vec![stat_line(
        &c.first.1,
        c.first.0,
        theme,
        theme.received(),
        width,
    )];
    if let Some((stats, name)) = &c.second {
        lines.push(stat_line(name, stats, theme, c.second_style(theme), width));
    }
    lines
}

/// A column per kind, a row per statistic: for the narrow side panel.
fn stat_table<'a>(c: &Rtts, theme: &Theme) -> Vec<Line<'a>> {
    let e = c.first.0.summary();
    let p = c.second.as_ref().map(|(s, _)| s.summary());
    let cell = |count: u64, d: std::time::Duration| {
        if count == 0 {
            "—".to_string()
        } else {
            format_duration(d)
        }
    };
    let mut head = vec![
        Span::raw("      "),
        Span::styled(format!("{:>10}", c.first.1), theme.received()),
    ];
    if let Some((_, name)) = &c.second {
        head.push(Span::styled(format!("{name:>10}"), c.second_style(theme)));
    }
    let mut lines = vec![Line::from(head)];
    let second = |f: &dyn Fn(&crate::net::rtt::RttSummary) -> String| {
        p.as_ref()
            .map(|p| format!("{:>10}", f(p)))
            .unwrap_or_default()
    };
    lines.push(Line::raw(format!(
        "{:<6}{:>10}{}",
        "count",
        e.count,
        second(&|p| p.count.to_string())
    )));
    type Pick = fn(&crate::net::rtt::RttSummary) -> std::time::Duration;
    let rows: [(&str, Pick); 5] = [
        ("min", |s| s.min),
        ("p50", |s| s.p50),
        ("p90", |s| s.p90),
        ("p99", |s| s.p99),
        ("max", |s| s.max),
    ];
    for (name, pick) in rows {
        lines.push(Line::raw(format!(
            "{name:<6}{:>10}{}",
            cell(e.count, pick(&e)),
            second(&|p| cell(p.count, pick(p)))
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
            Span::styled(format!("• {} ", c.first.1), theme.received()),
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
    let (mut stats_lines, stats_h) = if tall {
        (stat_table(c, theme), 7)
    } else {
        (summary_lines(c, theme, inner.width), 2)
    };
    // Per-request lines while the chart keeps a few rows.
    let rows = (inner.height as usize).saturating_sub(stats_h as usize + 6);
    let labels = c.label_lines(theme, inner.width, rows.min(8));
    let stats_h = stats_h + labels.len() as u16;
    stats_lines.extend(labels);
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
            .name(c.first.1.clone())
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
