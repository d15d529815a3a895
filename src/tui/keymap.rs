//! Keys to actions. Pure: what a key means depends only on the key and on
//! whether the user is typing or looking at a popup.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

use crate::app::{Action, Edit};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyContext {
    /// An input box or the filter editor has focus: letters are text.
    pub typing: bool,
    pub popup: bool,
}

pub fn map_key(key: KeyEvent, ctx: KeyContext) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Quit);
    }
    if ctx.popup {
        return Some(match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => Action::ClosePopup,
            KeyCode::Char('?') => Action::ToggleHelp,
            KeyCode::Up | KeyCode::Char('k') => Action::Up,
            KeyCode::Down | KeyCode::Char('j') => Action::Down,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
            KeyCode::Home | KeyCode::Char('g') => Action::Top,
            _ => return None,
        });
    }
    // Keys that mean the same everywhere.
    match key.code {
        KeyCode::Tab => return Some(Action::FocusNext),
        KeyCode::BackTab => return Some(Action::FocusPrev),
        KeyCode::PageUp => return Some(Action::PageUp),
        KeyCode::PageDown => return Some(Action::PageDown),
        KeyCode::Esc => return Some(Action::Escape),
        _ => {}
    }
    if ctx.typing {
        return Some(match key.code {
            KeyCode::Enter if alt || key.modifiers.contains(KeyModifiers::SHIFT) => {
                Action::Edit(Edit::Newline)
            }
            KeyCode::Enter => Action::Submit,
            KeyCode::Char('w') if ctrl => Action::Edit(Edit::WordBack),
            KeyCode::Char('u') if ctrl => Action::Edit(Edit::ToStart),
            KeyCode::Char('a') if ctrl => Action::ToggleSendAll,
            KeyCode::Char('l') if ctrl => Action::ClearLog,
            KeyCode::Char(_) if ctrl || alt => return None,
            KeyCode::Char(c) => Action::Edit(Edit::Char(c)),
            KeyCode::Backspace => Action::Edit(Edit::Backspace),
            KeyCode::Delete => Action::Edit(Edit::Delete),
            KeyCode::Left => Action::Edit(Edit::Left),
            KeyCode::Right => Action::Edit(Edit::Right),
            KeyCode::Home => Action::Edit(Edit::Home),
            KeyCode::End => Action::Edit(Edit::End),
            KeyCode::Up => Action::Edit(Edit::HistoryPrev),
            KeyCode::Down => Action::Edit(Edit::HistoryNext),
            _ => return None,
        });
    }
    if ctrl || alt {
        return None;
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('i') => Action::FocusInput,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Enter => Action::OpenDetail,
        KeyCode::Char('p') | KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('f') => Action::CycleDirFilter,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Char('c') => Action::ClearLog,
        KeyCode::Char('s') => Action::ToggleScope,
        KeyCode::Char('w') => Action::ToggleWire,
        KeyCode::Char('d') => Action::ToggleDecoded,
        KeyCode::Char('a') => Action::ToggleSendAll,
        KeyCode::Char('x') => Action::CloseSelected,
        KeyCode::Char('h') => Action::ShowHandshake,
        KeyCode::Char('t') => Action::ShowTimeline,
        KeyCode::Char('e') => Action::ShowEvents,
        KeyCode::Char('D') => Action::ToggleDelay,
        KeyCode::Char('L') => Action::ToggleDrop,
        _ => return None,
    })
}

pub fn map_mouse(ev: MouseEvent) -> Option<Action> {
    match ev.kind {
        MouseEventKind::ScrollUp => Some(Action::ScrollUp(3)),
        MouseEventKind::ScrollDown => Some(Action::ScrollDown(3)),
        _ => None,
    }
}

/// Every key, for the help popup: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "move focus between panes and boxes"),
    ("Enter", "send (input box) / open frame detail (log)"),
    ("Alt-Enter", "new line in the message"),
    ("←/→ Home/End", "move the cursor (input box)"),
    ("Ctrl-W / Ctrl-U", "delete word / delete to start of line"),
    ("↑/↓ (input)", "history of sent messages"),
    ("Esc", "leave the input box / cancel filter / close popup"),
    ("i", "back to the input box"),
    ("↑/↓ j/k", "select frame (log) or connection (table)"),
    ("PgUp/PgDn, wheel", "scroll the log"),
    ("Home/g  End/G", "oldest frame / newest frame (follow)"),
    ("p / Space", "pause or follow the log"),
    ("f", "filter: all / sent / received"),
    ("/", "filter by regex (case-insensitive); empty clears"),
    ("c / Ctrl-L", "clear the log"),
    (
        "w / d",
        "the log: every frame on the wire (w), or payloads as sent, not decoded (d)",
    ),
    ("h", "handshake: request and response headers"),
    (
        "t",
        "client: connection timeline (connects, drops, retries)",
    ),
    (
        "e",
        "server: events (connections, errors, handshakes given up)",
    ),
    ("s", "server: log of all connections / selected only"),
    ("a / Ctrl-A", "server: send to selected / to all"),
    ("x", "server: close the selected connection (1000)"),
    (
        "D / L",
        "server: switch the --delay / --drop fault off and on",
    ),
    ("?", "this help"),
    ("q / Ctrl-C", "quit (q outside the input box)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    const TYPING: KeyContext = KeyContext {
        typing: true,
        popup: false,
    };
    const LOOKING: KeyContext = KeyContext {
        typing: false,
        popup: false,
    };
    const POPUP: KeyContext = KeyContext {
        typing: false,
        popup: true,
    };

    #[test]
    fn letters_are_text_while_typing_and_commands_otherwise() {
        assert_eq!(
            map_key(key(KeyCode::Char('q')), TYPING),
            Some(Action::Edit(Edit::Char('q')))
        );
        assert_eq!(
            map_key(key(KeyCode::Char('q')), LOOKING),
            Some(Action::Quit)
        );
        assert_eq!(
            map_key(key(KeyCode::Char('é')), TYPING),
            Some(Action::Edit(Edit::Char('é')))
        );
        assert_eq!(
            map_key(key(KeyCode::Char('f')), LOOKING),
            Some(Action::CycleDirFilter)
        );
    }

    #[test]
    fn ctrl_c_quits_everywhere() {
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for ctx in [TYPING, LOOKING, POPUP] {
            assert_eq!(map_key(k, ctx), Some(Action::Quit));
        }
    }

    #[test]
    fn enter_variants() {
        assert_eq!(map_key(key(KeyCode::Enter), TYPING), Some(Action::Submit));
        let alt = KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT);
        assert_eq!(map_key(alt, TYPING), Some(Action::Edit(Edit::Newline)));
        assert_eq!(
            map_key(key(KeyCode::Enter), LOOKING),
            Some(Action::OpenDetail)
        );
        assert_eq!(
            map_key(key(KeyCode::Enter), POPUP),
            Some(Action::ClosePopup)
        );
    }

    #[test]
    fn editing_chords() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(
            map_key(ctrl('w'), TYPING),
            Some(Action::Edit(Edit::WordBack))
        );
        assert_eq!(
            map_key(ctrl('u'), TYPING),
            Some(Action::Edit(Edit::ToStart))
        );
        assert_eq!(map_key(ctrl('x'), TYPING), None);
        assert_eq!(
            map_key(key(KeyCode::Up), TYPING),
            Some(Action::Edit(Edit::HistoryPrev))
        );
        assert_eq!(map_key(key(KeyCode::Up), LOOKING), Some(Action::Up));
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = key(KeyCode::Char('q'));
        k.kind = KeyEventKind::Release;
        assert_eq!(map_key(k, LOOKING), None);
    }

    #[test]
    fn popup_keys_scroll_and_close() {
        assert_eq!(map_key(key(KeyCode::Esc), POPUP), Some(Action::ClosePopup));
        assert_eq!(map_key(key(KeyCode::Down), POPUP), Some(Action::Down));
        assert_eq!(map_key(key(KeyCode::Char('x')), POPUP), None);
    }
}
