//! The input box: a char-indexed cursor over UTF-8 text, line history.

/// How many history entries are kept (in memory and on disk).
pub const HISTORY_LIMIT: usize = 1000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputBox {
    text: String,
    /// Cursor position in chars, not bytes.
    cursor: usize,
    history: Vec<String>,
    /// Where Up/Down is in the history; `None` when editing the draft.
    browsing: Option<usize>,
    draft: String,
}

impl InputBox {
    pub fn with_history(history: Vec<String>) -> Self {
        let mut history = history;
        if history.len() > HISTORY_LIMIT {
            history.drain(..history.len() - HISTORY_LIMIT);
        }
        InputBox {
            history,
            ..Default::default()
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn history(&self) -> &[String] {
        &self.history
    }

    fn byte_index(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map(|(i, _)| i)
            .unwrap_or(self.text.len())
    }

    fn len_chars(&self) -> usize {
        self.text.chars().count()
    }

    pub fn insert_char(&mut self, c: char) {
        let i = self.byte_index(self.cursor);
        self.text.insert(i, c);
        self.cursor += 1;
    }

    /// Pasted text goes in whole, newlines and all.
    pub fn insert_str(&mut self, s: &str) {
        // Terminals send pasted line breaks as \r; a message wants \n.
        let s = s.replace("\r\n", "\n").replace('\r', "\n");
        let i = self.byte_index(self.cursor);
        self.text.insert_str(i, &s);
        self.cursor += s.chars().count();
    }

    pub fn backspace(&mut self) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        let i = self.byte_index(self.cursor);
        self.text.remove(i);
    }

    pub fn delete(&mut self) {
        if self.cursor < self.len_chars() {
            let i = self.byte_index(self.cursor);
            self.text.remove(i);
        }
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.len_chars());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.len_chars();
    }

    /// Ctrl-W: delete the word before the cursor (and the spaces after it).
    pub fn delete_word_back(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor;
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let (a, b) = (self.byte_index(start), self.byte_index(self.cursor));
        self.text.replace_range(a..b, "");
        self.cursor = start;
    }

    /// Ctrl-U: delete everything before the cursor.
    pub fn delete_to_start(&mut self) {
        let b = self.byte_index(self.cursor);
        self.text.replace_range(..b, "");
        self.cursor = 0;
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
        self.browsing = None;
    }

    pub fn history_prev(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let pos = match self.browsing {
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => 0,
            Some(p) => p - 1,
        };
        self.browsing = Some(pos);
        self.text = self.history[pos].clone();
        self.end();
    }

    pub fn history_next(&mut self) {
        match self.browsing {
            None => {}
            Some(p) if p + 1 < self.history.len() => {
                self.browsing = Some(p + 1);
                self.text = self.history[p + 1].clone();
                self.end();
            }
            Some(_) => {
                self.browsing = None;
                self.text = std::mem::take(&mut self.draft);
                self.end();
            }
        }
    }

    /// Takes the text out and remembers it (once, not repeating the last entry).
    pub fn submit(&mut self) -> String {
        let text = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if !text.is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY_LIMIT {
                self.history.remove(0);
            }
        }
        text
    }

    /// Line and column (in chars) of the cursor, for placing it on screen.
    pub fn cursor_line_col(&self) -> (usize, usize) {
        let before: String = self.text.chars().take(self.cursor).collect();
        let line = before.matches('\n').count();
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0);
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> InputBox {
        let mut b = InputBox::default();
        for c in s.chars() {
            b.insert_char(c);
        }
        b
    }

    #[test]
    fn multibyte_editing_keeps_char_boundaries() {
        let mut b = typed("héllo🌍");
        assert_eq!(b.cursor(), 6);
        b.backspace();
        assert_eq!(b.text(), "héllo");
        b.left();
        b.left();
        b.left();
        b.left();
        b.delete();
        assert_eq!(b.text(), "hllo");
        b.insert_char('日');
        assert_eq!(b.text(), "h日llo");
        b.home();
        b.insert_char('¡');
        b.end();
        b.insert_char('!');
        assert_eq!(b.text(), "¡h日llo!");
    }

    #[test]
    fn cursor_stays_in_bounds() {
        let mut b = typed("ab");
        b.right();
        b.right();
        assert_eq!(b.cursor(), 2);
        b.home();
        b.left();
        b.backspace();
        assert_eq!((b.cursor(), b.text()), (0, "ab"));
        b.end();
        b.delete();
        assert_eq!(b.text(), "ab");
    }

    #[test]
    fn ctrl_w_and_ctrl_u() {
        let mut b = typed("send this  now");
        b.delete_word_back();
        assert_eq!(b.text(), "send this  ");
        b.delete_word_back();
        assert_eq!(b.text(), "send ");
        b.delete_to_start();
        assert_eq!(b.text(), "");
        let mut b = typed("abc def");
        b.left();
        b.left();
        b.left();
        b.delete_to_start();
        assert_eq!(b.text(), "def");
    }

    #[test]
    fn history_walks_and_restores_the_draft() {
        let mut b = InputBox::default();
        for s in ["one", "two", "two", "three"] {
            b.insert_str(s);
            b.submit();
        }
        assert_eq!(b.history(), ["one", "two", "three"]);
        b.insert_str("dra");
        b.history_prev();
        assert_eq!(b.text(), "three");
        b.history_prev();
        b.history_prev();
        b.history_prev();
        assert_eq!(b.text(), "one");
        b.history_next();
        assert_eq!(b.text(), "two");
        b.history_next();
        b.history_next();
        assert_eq!(b.text(), "dra");
        assert_eq!(b.cursor(), 3);
    }

    #[test]
    fn paste_keeps_newlines_and_counts_chars() {
        let mut b = typed("[]");
        b.left();
        b.insert_str("a\r\nb😀\rc");
        assert_eq!(b.text(), "[a\nb😀\nc]");
        assert_eq!(b.cursor(), 7);
        assert_eq!(b.cursor_line_col(), (2, 1));
    }

    #[test]
    fn history_is_bounded() {
        let hist: Vec<String> = (0..HISTORY_LIMIT + 5).map(|i| i.to_string()).collect();
        let mut b = InputBox::with_history(hist);
        assert_eq!(b.history().len(), HISTORY_LIMIT);
        b.insert_str("new");
        b.submit();
        assert_eq!(b.history().len(), HISTORY_LIMIT);
        assert_eq!(b.history().last().unwrap(), "new");
    }
}
