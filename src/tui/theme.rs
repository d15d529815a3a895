//! Colours that read on dark and light terminals (the 16 named ANSI colours, which
//! terminals adapt to their palette), or none at all when NO_COLOR is set.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug, Default)]
pub struct Theme {
    pub no_color: bool,
}

impl Theme {
    /// Honours the NO_COLOR convention (any non-empty value).
    pub fn from_env() -> Self {
        Theme {
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.no_color {
            Style::default()
        } else {
            Style::default().fg(c)
        }
    }

    pub fn sent(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn received(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn ping(&self) -> Style {
        self.fg(Color::Magenta)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }

    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    }
}
