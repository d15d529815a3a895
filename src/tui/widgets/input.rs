//! The input box: what is being typed, where it goes, and the last error.

use ratatui::layout::{Position, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::app::input::InputBox;
use crate::escape::escape_text;
use crate::tui::fit::{self, Segment, Shrink, ALWAYS};
use crate::tui::theme::Theme;

pub struct InputWidget<'a> {
    pub input: &'a InputBox,
    /// Where the text goes, and a hint that gives way first when the box is narrow.
    pub title: String,
    pub hint: String,
    pub error: Option<&'a str>,
    pub focused: bool,
}

/// Rows an input box needs for its text (one to four lines of text).
pub fn height(input: &InputBox) -> u16 {
    let lines = input.text().split('\n').count().clamp(1, 4) as u16;
    lines + 2
}

/// Shows one line so that the cursor column stays visible: returns the visible
/// text and the cursor's x offset within it.
fn scroll_line(line: &str, cursor_col: Option<usize>, width: usize) -> (String, usize) {
    // Tabs and other controls would move the terminal cursor: show them escaped.
    let safe = |s: &str| escape_text(s, usize::MAX);
    let Some(col) = cursor_col else {
        return (safe(line), 0);
    };
    let before: String = line.chars().take(col).collect();
    let before = safe(&before);
    let after = safe(&line.chars().skip(col).collect::<String>());
    let mut start = before.clone();
    while start.width() >= width.max(1) {
        start.remove(0);
    }
    let x = start.width();
    (format!("{start}{after}"), x)
}

impl InputWidget<'_> {
    pub fn render(&self, f: &mut Frame, area: Rect, theme: &Theme) {
        let style = if self.focused {
            theme.bold()
        } else {
            theme.dim()
        };
        let mut block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(self.focused))
            .title(fit::title(
                &[
                    Segment::styled(ALWAYS, self.title.clone(), style).shrink(Shrink::Words),
                    Segment::styled(1, self.hint.clone(), style).sep(" — "),
                ],
                area.width,
            ));
        if let Some(err) = self.error {
            block = block.title_bottom(fit::title(
                &[
                    Segment::styled(ALWAYS, escape_text(err, 300), theme.error())
                        .shrink(Shrink::Tail),
                ],
                area.width,
            ));
        }
        let inner = block.inner(area);
        let (cur_line, cur_col) = self.input.cursor_line_col();
        let lines: Vec<&str> = self.input.text().split('\n').collect();
        // Show the last lines when there are more than fit, keeping the cursor's.
        let first = (cur_line + 1).saturating_sub(inner.height.max(1) as usize);
        let mut cursor = None;
        let shown: Vec<Line> = lines
            .iter()
            .enumerate()
            .skip(first)
            .take(inner.height as usize)
            .map(|(i, l)| {
                let col = (i == cur_line).then_some(cur_col);
                let (text, x) = scroll_line(l, col, inner.width as usize);
                if col.is_some() {
                    cursor = Some(Position::new(
                        inner.x + x as u16,
                        inner.y + (i - first) as u16,
                    ));
                }
                Line::raw(text)
            })
            .collect();
        f.render_widget(Paragraph::new(shown).block(block), area);
        if self.focused {
            if let Some(p) = cursor {
                f.set_cursor_position(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scroll_line;

    #[test]
    fn long_lines_scroll_to_keep_the_cursor_visible() {
        let (text, x) = scroll_line("abcdefghij", Some(10), 5);
        assert_eq!((text.as_str(), x), ("ghij", 4));
        let (text, x) = scroll_line("日本語", Some(1), 10);
        assert_eq!((text.as_str(), x), ("日本語", 2));
        let (text, _) = scroll_line("a\tb", None, 10);
        assert_eq!(text, "a\\tb");
    }
}
