//! Fitting text into the columns there are, one rule for every line of the
//! dashboard: a line is made of segments, and when they do not fit
//!
//! 1. whole segments are left out, the least important first (a segment that
//!    fits again later, being shorter, comes back);
//! 2. then the segments that may shrink do so, least important first: long words
//!    lose their ends to `…`, or whole words go from the end with `…` saying so;
//! 3. and only a line that still does not fit is cut, at a word, with `…`.
//!
//! A number is never cut, nor parted from its unit (`12.47ms`, `75.3 KiB`,
//! `10340572 frames`). Status bars of two rows flow their segments over both.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The priority of a segment that is never left out: the line shrinks around it.
pub const ALWAYS: u8 = u8::MAX;

/// The fewest columns prose is shortened into beside what stands before it.
const MIN_ELASTIC: usize = 12;

/// How a segment may get shorter once nothing more can be left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shrink {
    /// Shown whole or not at all.
    Never,
    /// Long words lose their ends to `…` (`received` → `rece…`); numbers and
    /// the word just after a number (its unit) stay whole.
    Words,
    /// Whole words go from the end and `…` says so, a number with its unit:
    /// for prose such as errors.
    Tail,
    /// Cut anywhere at the end with `…`: for URLs and paths, whose end
    /// matters least.
    End,
}

/// A piece of a line that is shown whole, shortened, or not at all.
#[derive(Clone, Debug)]
pub struct Segment {
    spans: Vec<Span<'static>>,
    priority: u8,
    sep: &'static str,
    glue: bool,
    new_row: bool,
    group: Option<u8>,
    shrink: Shrink,
}

impl Segment {
    /// Unstyled text, separated from the segment before it by a space.
    pub fn raw(priority: u8, text: impl Into<String>) -> Self {
        Self::styled(priority, text, Style::default())
    }

    pub fn styled(priority: u8, text: impl Into<String>, style: Style) -> Self {
        Segment {
            spans: vec![Span::styled(text.into(), style)],
            priority,
            sep: " ",
            glue: false,
            new_row: false,
            group: None,
            shrink: Shrink::Never,
        }
    }

    /// A span as it is, style and all.
    pub fn span(priority: u8, span: Span<'static>) -> Self {
        Self::styled(priority, span.content, span.style)
    }

    /// More text in another style.
    pub fn and(mut self, text: impl Into<String>, style: Style) -> Self {
        self.spans.push(Span::styled(text.into(), style));
        self
    }

    /// What stands between this segment and the one before it on a row.
    pub fn sep(mut self, sep: &'static str) -> Self {
        self.sep = sep;
        self
    }

    /// Stays on the row of the segment before it.
    pub fn glued(mut self) -> Self {
        self.glue = true;
        self
    }

    /// Starts a new row when there is one left.
    pub fn new_row(mut self) -> Self {
        self.new_row = true;
        self
    }

    /// Segments of one group are shown together or not at all.
    pub fn group(mut self, group: u8) -> Self {
        self.group = Some(group);
        self
    }

    pub fn shrink(mut self, shrink: Shrink) -> Self {
        self.shrink = shrink;
        self
    }

    fn width(&self) -> usize {
        self.spans.iter().map(|s| s.content.width()).sum()
    }
}

/// The segments in one row of at most `width` columns.
pub fn fit_line(segments: &[Segment], width: u16) -> Line<'static> {
    fit(segments, width, 1)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// A block's title: the segments between a space on either side, within the
/// top border of a block `width` columns wide (its corners left free).
pub fn title(segments: &[Segment], width: u16) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    spans.extend(fit_line(segments, width.saturating_sub(4)).spans);
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// Key hints (`p pause`) in one row, dropped whole from the right; a hint
/// that says how to get help or out (`? help`, `Esc close`) stays longest.
pub fn hints(hints: &[&str], style: Style, width: u16) -> Line<'static> {
    let pinned = |h: &str| h.starts_with("? ") || h.starts_with("Esc ");
    let row = |k: usize| -> Vec<Segment> {
        let mut others = 0;
        hints
            .iter()
            .filter(|h| {
                let keep = pinned(h) || others < k;
                others += usize::from(!pinned(h));
                keep
            })
            .map(|h| Segment::styled(ALWAYS, *h, style).sep(" · "))
            .collect()
    };
    let width_of = |segs: &[Segment]| -> usize {
        segs.iter().map(Segment::width).sum::<usize>()
            + segs.iter().skip(1).map(|s| s.sep.width()).sum::<usize>()
    };
    let k = (0..=hints.len())
        .rev()
        .find(|&k| width_of(&row(k)) <= usize::from(width))
        .unwrap_or(0);
    fit_line(&row(k), width)
}

/// The segments in at most `rows` rows of at most `width` columns each.
pub fn fit(segments: &[Segment], width: u16, rows: u16) -> Vec<Line<'static>> {
    let (width, rows) = (usize::from(width), usize::from(rows.max(1)));
    if width == 0 || segments.is_empty() {
        return Vec::new();
    }
    let chosen = choose(segments, width, rows);
    let (placed, _) = layout(segments, &chosen, width, rows);
    placed
        .iter()
        .map(|row| Line::from(render_row(segments, row, width)))
        .collect()
}

/// Which segments are shown: the most important first, each if the line still fits.
fn choose(segments: &[Segment], width: usize, rows: usize) -> Vec<bool> {
    // Units: a group's members together, any other segment alone.
    let mut units: Vec<Vec<usize>> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        match s
            .group
            .and_then(|g| units.iter().position(|u| segments[u[0]].group == Some(g)))
        {
            Some(u) => units[u].push(i),
            None => units.push(vec![i]),
        }
    }
    let priority = |u: &Vec<usize>| u.iter().map(|&i| segments[i].priority).max();
    // Stable: among equals, the one further left is more important.
    units.sort_by_key(|u| std::cmp::Reverse(priority(u)));
    let mut chosen = vec![false; segments.len()];
    // The segment a glued one belongs to: the nearest before it not glued itself.
    let head = |i: usize| (0..i).rev().find(|&j| !segments[j].glue);
    for unit in &units {
        let orphan = unit.iter().any(|&i| {
            segments[i].glue && head(i).is_some_and(|h| !chosen[h] && !unit.contains(&h))
        });
        if orphan {
            continue;
        }
        for &i in unit {
            chosen[i] = true;
        }
        if priority(unit) != Some(ALWAYS) && !layout(segments, &chosen, width, rows).1 {
            for &i in unit {
                chosen[i] = false;
            }
        }
    }
    chosen
}

/// The chosen segments flowed into rows; false when some row is too wide
/// (the last row takes whatever is left).
fn layout(
    segments: &[Segment],
    chosen: &[bool],
    width: usize,
    rows: usize,
) -> (Vec<Vec<usize>>, bool) {
    // Runs of glued segments move between rows as one.
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (i, s) in segments.iter().enumerate().filter(|(i, _)| chosen[*i]) {
        match runs.last_mut() {
            Some(run) if s.glue => run.push(i),
            _ => runs.push(vec![i]),
        }
    }
    let mut placed: Vec<Vec<usize>> = vec![Vec::new()];
    let mut used = 0;
    let mut fits = true;
    for run in runs {
        let inner: usize = run
            .iter()
            .enumerate()
            .map(|(k, &i)| segments[i].width() + if k > 0 { segments[i].sep.width() } else { 0 })
            .sum();
        let first = &segments[run[0]];
        let after = inner + first.sep.width();
        let row_left = placed.len() < rows;
        let fresh = placed.last().is_some_and(Vec::is_empty);
        // Prose or an address too wide for any row takes the rest of this one,
        // shortened, rather than a row of its own it would not fit either.
        let elastic = matches!(first.shrink, Shrink::Tail | Shrink::End) && inner > width;
        let room = width.saturating_sub(used + first.sep.width());
        if fresh {
            used = if elastic { width } else { inner };
        } else if elastic && room >= MIN_ELASTIC && !first.new_row {
            used = width;
        } else if !(first.new_row && row_left) && used + after <= width {
            used += after;
        } else if row_left {
            placed.push(Vec::new());
            used = if elastic { width } else { inner };
        } else {
            used += after;
        }
        if used > width {
            fits = false;
        }
        if let Some(row) = placed.last_mut() {
            row.extend(run);
        }
    }
    placed.retain(|r| !r.is_empty());
    (placed, fits)
}

/// One row's spans, shrunk to `width` when leaving segments out was not enough.
fn render_row(segments: &[Segment], row: &[usize], width: usize) -> Vec<Span<'static>> {
    let mut parts: Vec<Vec<Span<'static>>> =
        row.iter().map(|&i| segments[i].spans.clone()).collect();
    let seps: usize = row.iter().skip(1).map(|&i| segments[i].sep.width()).sum();
    let total = |parts: &[Vec<Span<'static>>]| -> usize {
        seps + parts
            .iter()
            .flatten()
            .map(|s| s.content.width())
            .sum::<usize>()
    };
    let mut over = total(&parts).saturating_sub(width);
    if over > 0 {
        // The least important first, and of equals the one further right.
        let mut order: Vec<usize> = (0..row.len())
            .filter(|&k| segments[row[k]].shrink != Shrink::Never)
            .collect();
        order.sort_by_key(|&k| (segments[row[k]].priority, std::cmp::Reverse(k)));
        for k in order {
            if over == 0 {
                break;
            }
            let w: usize = parts[k].iter().map(|s| s.content.width()).sum();
            let shrunk = shrink(&parts[k], segments[row[k]].shrink, w.saturating_sub(over));
            let nw: usize = shrunk.iter().map(|s| s.content.width()).sum();
            over = over.saturating_sub(w.saturating_sub(nw));
            parts[k] = shrunk;
        }
    }
    let mut spans = Vec::new();
    for (k, part) in parts.into_iter().enumerate() {
        if k > 0 {
            spans.push(Span::raw(segments[row[k]].sep));
        }
        spans.extend(part.into_iter().filter(|s| !s.content.is_empty()));
    }
    if over > 0 {
        // The last resort: whole words from the end.
        spans = shrink(&spans, Shrink::Tail, width);
    }
    spans
}

/// A piece of a span: a word or the spaces between words.
struct Tok {
    span: usize,
    text: String,
}

fn tokens(spans: &[Span<'static>]) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        for c in s.content.chars() {
            match out.last_mut() {
                Some(t) if t.span == i && t.text.ends_with(' ') == (c == ' ') => t.text.push(c),
                _ => out.push(Tok {
                    span: i,
                    text: c.to_string(),
                }),
            }
        }
    }
    out
}

fn rebuild(spans: &[Span<'static>], toks: &[Tok]) -> Vec<Span<'static>> {
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut last = None;
    for t in toks {
        if last == Some(t.span) {
            if let Some(s) = out.last_mut() {
                s.content.to_mut().push_str(&t.text);
            }
        } else {
            out.push(Span::styled(t.text.clone(), spans[t.span].style));
            last = Some(t.span);
        }
    }
    out
}

fn is_space(t: &Tok) -> bool {
    t.text.starts_with(' ')
}

fn has_digit(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
}

/// A number alone, whose meaning is in the word after it: `12`, `75.3`.
fn is_bare_number(s: &str) -> bool {
    has_digit(s)
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

fn width_of(toks: &[Tok]) -> usize {
    toks.iter().map(|t| t.text.width()).sum()
}

/// The spans made at most `target` columns wide the way `how` allows, or as
/// narrow as that way can make them.
pub fn shrink(spans: &[Span<'static>], how: Shrink, target: usize) -> Vec<Span<'static>> {
    let width: usize = spans.iter().map(|s| s.content.width()).sum();
    if width <= target {
        return spans.to_vec();
    }
    match how {
        Shrink::Never => spans.to_vec(),
        Shrink::Words => shrink_words(spans, target),
        Shrink::Tail => shrink_tail(spans, target),
        Shrink::End => shrink_end(spans, target),
    }
}

fn shrink_words(spans: &[Span<'static>], target: usize) -> Vec<Span<'static>> {
    let mut toks = tokens(spans);
    // (token, prefix, letters kept, suffix) for each word that may lose letters.
    let mut words: Vec<(usize, String, Vec<char>, usize, String)> = Vec::new();
    let mut after_number = false;
    for (k, t) in toks.iter().enumerate() {
        if is_space(t) {
            continue;
        }
        let text = &t.text;
        let core_start = text.find(char::is_alphabetic);
        let core_end = text.rfind(char::is_alphabetic);
        if let (Some(a), Some(b), false) = (core_start, core_end, after_number) {
            let end = b + text[b..].chars().next().map_or(1, char::len_utf8);
            let core: Vec<char> = text[a..end].chars().collect();
            if core.iter().all(|c| c.is_alphabetic()) && core.len() > 4 {
                let n = core.len();
                words.push((k, text[..a].to_string(), core, n, text[end..].to_string()));
            }
        }
        after_number = is_bare_number(text);
    }
    let form = |w: &(usize, String, Vec<char>, usize, String)| {
        let (_, pre, core, kept, post) = w;
        if *kept == core.len() {
            format!("{pre}{}{post}", core.iter().collect::<String>())
        } else {
            format!("{pre}{}…{post}", core[..*kept].iter().collect::<String>())
        }
    };
    while width_of(&toks) > target {
        // The longest word still longer than three letters gives one up.
        let Some(w) = words
            .iter_mut()
            .filter(|w| w.3 > 3)
            .max_by_key(|w| (w.3, std::cmp::Reverse(w.0)))
        else {
            break;
        };
        w.3 = if w.3 == w.2.len() { w.3 - 2 } else { w.3 - 1 };
        let text = form(w);
        toks[w.0].text = text;
    }
    rebuild(spans, &toks)
}

fn shrink_tail(spans: &[Span<'static>], target: usize) -> Vec<Span<'static>> {
    let mut toks = tokens(spans);
    let style = spans.last().map(|s| s.style).unwrap_or_default();
    let target = target.saturating_sub(1);
    loop {
        while toks.last().is_some_and(is_space) {
            toks.pop();
        }
        if width_of(&toks) <= target && !toks.last().is_some_and(|t| is_bare_number(&t.text)) {
            break;
        }
        toks.pop();
        if toks.is_empty() {
            break;
        }
    }
    let mut out = rebuild(spans, &toks);
    match out.last_mut() {
        Some(s) => s.content.to_mut().push('…'),
        None => out.push(Span::styled("…", style)),
    }
    out
}

fn shrink_end(spans: &[Span<'static>], target: usize) -> Vec<Span<'static>> {
    let target = target.saturating_sub(1);
    let mut out = Vec::new();
    let mut used = 0;
    for s in spans {
        let mut text = String::new();
        for c in s.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > target {
                break;
            }
            used += w;
            text.push(c);
        }
        let full = text.len() == s.content.len();
        out.push(Span::styled(text, s.style));
        if !full {
            break;
        }
    }
    if let Some(s) = out.last_mut() {
        s.content.to_mut().push('…');
    }
    out.retain(|s| !s.content.is_empty());
    out
}

/// Breaks a line of text into rows of at most `width` columns at spaces; a
/// word wider than a row is broken where it must. Rows after the first start
/// under the column that follows the line's first gap of two spaces (the
/// description in `key   description`), or else under its own indent.
pub fn wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    if line.width() <= width {
        return vec![line.to_string()];
    }
    let indent = line.len() - line.trim_start().len();
    let hang = line[indent..]
        .find("  ")
        .map(|gap| {
            let from = indent + gap;
            from + (line[from..].len() - line[from..].trim_start().len())
        })
        .filter(|&col| line[..col].width() <= width / 2)
        .unwrap_or(indent);
    let pad = " ".repeat(line[..hang].width().min(width / 2));
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in line.split_inclusive(' ') {
        let fresh = row.trim().is_empty();
        if !fresh && row.width() + word.trim_end().width() > width {
            rows.push(row.trim_end().to_string());
            row = pad.clone();
        }
        for c in word.chars() {
            if row.width() + c.width().unwrap_or(0) > width && !row.trim().is_empty() {
                // A word wider than a row breaks after a `:`, `/` or `-` when one
                // is near the end, so `3A:91` or a path's parts stay whole.
                let tail = row
                    .rfind([':', '/', '-'])
                    .map(|i| i + 1)
                    .filter(|&i| i < row.len() && row[..i].width() > width / 2)
                    .map(|i| row.split_off(i))
                    .unwrap_or_default();
                rows.push(std::mem::replace(&mut row, format!("{pad}{tail}")));
            }
            if !(c == ' ' && row.trim().is_empty() && !rows.is_empty()) {
                row.push(c);
            }
        }
    }
    if !row.trim().is_empty() {
        rows.push(row.trim_end().to_string());
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    /// A server's status: the address, counts, warnings and traffic.
    fn status() -> Vec<Segment> {
        vec![
            Segment::raw(1, "echo server"),
            Segment::raw(ALWAYS, "ws://127.0.0.1:8765").shrink(Shrink::End),
            Segment::raw(8, "2 open / 3 total").sep(" │ "),
            Segment::raw(9, "faults: delay 20ms, drop 10%")
                .sep(" │ ")
                .shrink(Shrink::Words),
            Segment::raw(9, "10340572 frames not shown")
                .sep(" │ ")
                .shrink(Shrink::Words),
            Segment::raw(9, "3 errors").sep(" │ "),
            Segment::raw(3, "(e shows)").glued(),
            Segment::raw(7, "↓1212 75.3 KiB").sep(" │ ").new_row(),
            Segment::raw(2, "410/s").glued().group(1),
            Segment::raw(7, "↑1212 75.3 KiB").sep("  ").glued(),
            Segment::raw(2, "410/s").glued().group(1),
        ]
    }

    #[test]
    fn everything_shows_when_there_is_room() {
        let lines = fit(&status(), 200, 1);
        assert_eq!(
            text(&lines[0]),
            "echo server ws://127.0.0.1:8765 │ 2 open / 3 total │ faults: delay 20ms, drop 10% │ \
             10340572 frames not shown │ 3 errors (e shows) │ ↓1212 75.3 KiB 410/s  ↑1212 75.3 KiB 410/s"
        );
    }

    #[test]
    fn the_least_important_segments_go_first_at_80() {
        // One row: the warnings stay, the counts give way.
        let line = text(&fit_line(&status(), 80));
        assert_eq!(
            line,
            "ws://127.0.0.1:8765 │ faults: delay 20ms, drop 10% │ 10340572 frames not shown"
        );
        // Two rows: the warnings flow on into the second, traffic follows.
        let two = fit(&status(), 80, 2);
        let two: Vec<String> = two.iter().map(text).collect();
        assert_eq!(
            two,
            [
                "ws://127.0.0.1:8765 │ 2 open / 3 total │ faults: delay 20ms, drop 10%",
                "10340572 frames not shown │ 3 errors (e shows) │ ↓1212 75.3 KiB  ↑1212 75.3 KiB",
            ]
        );
    }

    #[test]
    fn at_40_the_essentials_shrink_and_no_number_loses_its_unit() {
        let segs = vec![
            Segment::raw(ALWAYS, "ws://127.0.0.1:8765"),
            Segment::raw(ALWAYS, "10340572 frames not shown")
                .sep(" │ ")
                .shrink(Shrink::Words),
            Segment::raw(5, "2 open / 3 total").sep(" │ "),
        ];
        let line = text(&fit_line(&segs, 40));
        assert_eq!(line, "ws://127.0.0.1:8765 │ 10340572 frames…");
        assert!(line.chars().count() <= 40);
        // The same line with room keeps its words whole.
        assert_eq!(
            text(&fit_line(&segs, 80)),
            "ws://127.0.0.1:8765 │ 10340572 frames not shown │ 2 open / 3 total"
        );
    }

    #[test]
    fn a_status_line_fits_every_width_without_cutting_numbers() {
        let full = text(&fit_line(&status(), 300));
        let words: Vec<&str> = full.split_whitespace().collect();
        let pairs: Vec<(&str, &str)> = words.windows(2).map(|w| (w[0], w[1])).collect();
        for width in [40u16, 80, 140] {
            for rows in [1u16, 2] {
                let lines = fit(&status(), width, rows);
                assert!(!lines.is_empty() && lines.len() <= usize::from(rows));
                for line in lines {
                    let t = text(&line);
                    assert!(t.width() <= usize::from(width), "{width}: {t}");
                    let shown: Vec<&str> = t.split_whitespace().collect();
                    for (k, w) in shown.iter().enumerate() {
                        if has_digit(w) {
                            assert!(words.contains(w), "{width}: `{t}` cuts {w}");
                        }
                        if is_bare_number(w) {
                            let unit = shown.get(k + 1).copied().unwrap_or("");
                            assert!(pairs.contains(&(w, unit)), "{width}: `{t}` parts {w}");
                        }
                    }
                }
            }
        }
        let narrow: Vec<String> = fit(&status(), 40, 2).iter().map(text).collect();
        assert_eq!(
            narrow,
            [
                "ws://127.0.0.1:8765 │ 2 open / 3 total",
                "faults: delay 20ms, drop 10% │ 3 errors"
            ]
        );
    }

    #[test]
    fn an_error_too_long_for_any_row_shares_the_first_one() {
        let segs = vec![
            Segment::raw(ALWAYS, "ws://127.0.0.1:8765").shrink(Shrink::End),
            Segment::raw(
                ALWAYS,
                "failed: the server refused the upgrade because the Origin is not allowed",
            )
            .sep(" │ ")
            .shrink(Shrink::Tail),
            Segment::raw(7, "↑8 231 B").sep(" │ ").new_row(),
        ];
        let rows: Vec<String> = fit(&segs, 60, 2).iter().map(text).collect();
        assert_eq!(
            rows,
            [
                "ws://127.0.0.1:8765 │ failed: the server refused the…",
                "↑8 231 B"
            ]
        );
        assert_eq!(
            text(&fit_line(&segs, 60)),
            "ws://127.0.0.1:8765 │ failed: the server refused the…"
        );
    }

    #[test]
    fn groups_go_together_and_hints_go_from_the_right() {
        let hints: Vec<Segment> = ["↑/↓ select", "Enter detail", "p pause", "c clear", "q quit"]
            .iter()
            .enumerate()
            .map(|(i, h)| Segment::raw(100 - i as u8, *h).sep(" · "))
            .collect();
        assert_eq!(
            text(&fit_line(&hints, 40)),
            "↑/↓ select · Enter detail · p pause"
        );
        assert_eq!(
            text(&fit_line(&hints, 80)),
            "↑/↓ select · Enter detail · p pause · c clear · q quit"
        );
        let rates = status();
        let line = text(&fit_line(&rates[7..], 36));
        assert_eq!(line, "↓1212 75.3 KiB  ↑1212 75.3 KiB");
    }

    #[test]
    fn key_hints_go_whole_from_the_right_but_help_stays() {
        let keys = [
            "↑/↓ select",
            "Enter detail",
            "p pause",
            "f,/ filter",
            "h handshake",
            "c clear",
            "i type",
            "? help",
            "q quit",
        ];
        let at = |w| text(&hints(&keys, Style::default(), w));
        assert_eq!(
            at(80),
            "↑/↓ select · Enter detail · p pause · f,/ filter · h handshake · ? help"
        );
        assert_eq!(at(40), "↑/↓ select · Enter detail · ? help");
        assert_eq!(
            at(140),
            "↑/↓ select · Enter detail · p pause · f,/ filter · h handshake · c clear · i type · ? help · q quit"
        );
    }

    #[test]
    fn labels_lose_letters_but_not_their_numbers() {
        let spans = vec![Span::raw(
            "connected 3/10 · received 4567 · transmitted 12 MiB",
        )];
        let cut: String = shrink(&spans, Shrink::Words, 40)
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(cut, "conn… 3/10 · recei… 4567 · trans… 12 MiB");
        // The word after a number is its unit, and stays whole.
        let spans = vec![Span::raw("10340572 frames not shown")];
        let cut = shrink(&spans, Shrink::Words, 20);
        assert_eq!(cut[0].content, "10340572 frames not sho…");
    }

    #[test]
    fn prose_loses_whole_words_and_a_number_keeps_its_unit() {
        let spans = vec![Span::raw("failed: connection refused after 20 ms")];
        let t = |n| {
            shrink(&spans, Shrink::Tail, n)
                .iter()
                .map(|s| s.content.to_string())
                .collect::<String>()
        };
        assert_eq!(t(80), "failed: connection refused after 20 ms");
        assert_eq!(t(37), "failed: connection refused after…");
        assert_eq!(t(20), "failed: connection…");
        assert_eq!(t(3), "…");
    }

    #[test]
    fn urls_are_cut_at_the_end() {
        let spans = vec![Span::raw("ws://127.0.0.1:8765/chat?room=1")];
        let cut = shrink(&spans, Shrink::End, 20);
        assert_eq!(cut[0].content, "ws://127.0.0.1:8765…");
    }

    #[test]
    fn wrapped_rows_hang_under_the_description() {
        let rows = wrap(
            "  e                  server: events (connections, errors, handshakes given up)",
            60,
        );
        assert_eq!(
            rows,
            [
                "  e                  server: events (connections, errors,",
                "                     handshakes given up)",
            ]
        );
        let long = wrap(&"x".repeat(25), 10);
        assert_eq!(long, ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"]);
        let fingerprint = wrap(" SHA-256 3A:91:5C:0E:7B:D2:44:19:AF:60", 20);
        assert_eq!(
            fingerprint,
            [" SHA-256", " 3A:91:5C:0E:7B:D2:", " 44:19:AF:60"]
        );
    }
}
