//! Keys and mouse: focus, scrolling, popups, editing, the switches.

use super::editor;
use super::submit::submit;
use crate::app::input::InputBox;
use crate::app::msg::{Action, Edit, Effect, Target};
use crate::app::state::{AppState, Focus, Popup};
use crate::net::Side;
use crate::net::{CloseInfo, NetCommand};

/// Rows PageUp/PageDown move.
const PAGE: isize = 10;

pub(super) fn action(state: &mut AppState, a: Action, fx: &mut Vec<Effect>) {
    if let Some(popup) = &mut state.popup {
        match a {
            Action::Quit => state.should_quit = true,
            Action::ClosePopup | Action::Escape | Action::OpenDetail => state.popup = None,
            Action::ToggleHelp => {
                state.popup = match popup {
                    Popup::Help { .. } => None,
                    _ => Some(Popup::Help { scroll: 0 }),
                }
            }
            Action::Up | Action::ScrollUp(_) | Action::PageUp | Action::Top => {
                let by = match a {
                    Action::Up => 1,
                    Action::ScrollUp(n) => n,
                    Action::PageUp => PAGE as u16,
                    _ => u16::MAX,
                };
                let s = popup_scroll(popup);
                *s = s.saturating_sub(by);
            }
            Action::Down | Action::ScrollDown(_) | Action::PageDown => {
                let by = match a {
                    Action::Down => 1,
                    Action::ScrollDown(n) => n,
                    _ => PAGE as u16,
                };
                let s = popup_scroll(popup);
                *s = s.saturating_add(by);
            }
            _ => {}
        }
        return;
    }
    match a {
        Action::Quit => state.should_quit = true,
        Action::FocusNext | Action::FocusPrev => {
            let order = state.focus_order();
            let i = order.iter().position(|f| *f == state.focus).unwrap_or(0);
            let n = order.len();
            let next = if a == Action::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = order[next];
            state.filter_edit = None;
        }
        Action::FocusInput => {
            state.focus = match state.focus.pane() {
                Side::Client => Focus::ClientInput,
                Side::Server => Focus::ServerInput,
            }
        }
        Action::Escape => {
            if state.filter_edit.take().is_some() {
                state.filter_error = None;
            } else {
                state.focus = match state.focus {
                    Focus::ClientInput => Focus::ClientLog,
                    Focus::ServerInput => Focus::ServerLog,
                    f => f,
                };
            }
        }
        Action::Edit(e) => {
            if let Some(ed) = editor(state) {
                apply_edit(ed, e);
            }
            if let Some(c) = state.client.as_mut() {
                c.input_error = None;
            }
            if let Some(s) = state.server.as_mut() {
                s.input_error = None;
            }
        }
        Action::Submit => submit(state, fx),
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::ScrollUp(_)
        | Action::ScrollDown(_) => {
            let delta = match a {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -PAGE,
                Action::PageDown => PAGE,
                Action::ScrollUp(n) => -(n as isize),
                Action::ScrollDown(n) => n as isize,
                _ => 0,
            };
            if state.focus == Focus::ServerConns && matches!(a, Action::Up | Action::Down) {
                select_conn(state, delta);
            } else if let Some(log) = state.log_mut(state.focus.pane()) {
                log.move_by(delta);
            }
        }
        Action::Top => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.top_of_log();
            }
        }
        Action::Bottom => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.bottom();
            }
        }
        Action::TogglePause => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.toggle_pause();
            }
        }
        // The frame view has no selection: a message's detail is in the message view.
        Action::OpenDetail if state.show_wire => {}
        Action::OpenDetail => {
            let pane = state.focus.pane();
            if let Some(seq) = state.log(pane).and_then(|l| l.selected_seq()) {
                state.popup = Some(Popup::Detail {
                    pane,
                    seq,
                    scroll: 0,
                });
            }
        }
        Action::ClosePopup => {}
        Action::ToggleHelp => state.popup = Some(Popup::Help { scroll: 0 }),
        Action::CycleDirFilter => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.filter.dir = log.filter.dir.next();
            }
        }
        Action::StartFilter => {
            let current = state
                .log(state.focus.pane())
                .and_then(|l| {
                    l.filter
                        .regex
                        .as_ref()
                        .map(|r| r.as_str().trim_start_matches("(?i)").to_string())
                })
                .unwrap_or_default();
            let mut ed = InputBox::default();
            ed.insert_str(&current);
            state.filter_edit = Some(ed);
            state.filter_error = None;
        }
        Action::ClearLog => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.clear();
            }
        }
        Action::ToggleWire => state.show_wire = !state.show_wire,
        Action::ToggleDecoded => state.show_raw = !state.show_raw,
        Action::ToggleScope => {
            if let Some(s) = state.server.as_mut() {
                s.scope_selected = !s.scope_selected;
                s.log.filter.conn = if s.scope_selected { s.selected } else { None };
            }
        }
        Action::ToggleSendAll => {
            if let Some(s) = state.server.as_mut() {
                s.send_to_all = !s.send_to_all;
            }
        }
        Action::CloseSelected => {
            if let Some(row) = state
                .server
                .as_ref()
                .and_then(|s| s.selected_row())
                .filter(|r| r.is_open())
            {
                fx.push(Effect::Send {
                    to: Target::Server(row.id),
                    cmd: NetCommand::Close(Some(CloseInfo::new(1000, ""))),
                });
            }
        }
        Action::ToggleDelay | Action::ToggleDrop => {
            if let Some(f) = state.server.as_mut().and_then(|s| s.faults.as_mut()) {
                if a == Action::ToggleDelay {
                    f.delay_on = !f.delay_on;
                } else {
                    f.drop_on = !f.drop_on;
                }
                fx.push(Effect::SetFaults {
                    delay_on: f.delay_on,
                    drop_on: f.drop_on,
                });
            }
        }
        Action::ShowTimeline => {
            if state.client.is_some() {
                state.popup = Some(Popup::Timeline { scroll: 0 });
            }
        }
        Action::ShowEvents => {
            if state.server.is_some() {
                state.popup = Some(Popup::Events { scroll: 0 });
            }
        }
        Action::ShowHandshake => {
            let pane = state.focus.pane();
            let conn = match pane {
                Side::Client => state.client.as_ref().and_then(|c| c.conn),
                Side::Server => state.server.as_ref().and_then(|s| s.selected),
            };
            state.popup = Some(Popup::Handshake {
                pane,
                conn,
                scroll: 0,
            });
        }
    }
}

pub(super) fn popup_scroll(p: &mut Popup) -> &mut u16 {
    match p {
        Popup::Help { scroll }
        | Popup::Detail { scroll, .. }
        | Popup::Handshake { scroll, .. }
        | Popup::Timeline { scroll }
        | Popup::Events { scroll } => scroll,
    }
}

pub(super) fn apply_edit(ed: &mut InputBox, e: Edit) {
    match e {
        Edit::Char(c) => ed.insert_char(c),
        Edit::Newline => ed.insert_char('\n'),
        Edit::Backspace => ed.backspace(),
        Edit::Delete => ed.delete(),
        Edit::Left => ed.left(),
        Edit::Right => ed.right(),
        Edit::Home => ed.home(),
        Edit::End => ed.end(),
        Edit::WordBack => ed.delete_word_back(),
        Edit::ToStart => ed.delete_to_start(),
        Edit::HistoryPrev => ed.history_prev(),
        Edit::HistoryNext => ed.history_next(),
    }
}

pub(super) fn select_conn(state: &mut AppState, delta: isize) {
    let Some(s) = state.server.as_mut() else {
        return;
    };
    if s.rows.is_empty() {
        return;
    }
    let last = s.rows.len() as isize - 1;
    let cur = s
        .selected_index()
        .map(|i| i as isize)
        .unwrap_or(if delta > 0 { -1 } else { last + 1 });
    let next = (cur + delta).clamp(0, last) as usize;
    s.selected = Some(s.rows[next].id);
    if s.scope_selected {
        s.log.filter.conn = s.selected;
    }
}
