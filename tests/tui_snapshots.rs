//! Screen snapshots of the dashboards, drawn into ratatui's TestBackend from
//! deterministic fixtures (fixed clock, fixed addresses).

use wsprobe::app::state::{Focus, Popup};
use wsprobe::app::{update, Action, Mode, Msg, Pane};
use wsprobe::tui::fixture::{fixture, render};
use wsprobe::tui::theme::Theme;

const PLAIN: Theme = Theme { no_color: true };

fn screen(mode: Mode, w: u16, h: u16, setup: impl FnOnce(&mut wsprobe::app::AppState)) -> String {
    let mut fx = fixture(mode);
    setup(&mut fx.state);
    render(&fx.state, w, h, &PLAIN).backend().to_string()
}

#[test]
fn client_80x24() {
    insta::assert_snapshot!(screen(Mode::Client, 80, 24, |_| {}));
}

#[test]
fn client_120x40() {
    insta::assert_snapshot!(screen(Mode::Client, 120, 40, |_| {}));
}

#[test]
fn server_80x24() {
    insta::assert_snapshot!(screen(Mode::Server, 80, 24, |_| {}));
}

#[test]
fn server_120x40() {
    insta::assert_snapshot!(screen(Mode::Server, 120, 40, |_| {}));
}

#[test]
fn demo_80x24() {
    insta::assert_snapshot!(screen(Mode::Demo, 80, 24, |_| {}));
}

#[test]
fn demo_120x40() {
    insta::assert_snapshot!(screen(Mode::Demo, 120, 40, |_| {}));
}

#[test]
fn help_popup_120x40() {
    insta::assert_snapshot!(screen(Mode::Client, 120, 40, |s| {
        update(s, Msg::Action(Action::ToggleHelp));
    }));
}

#[test]
fn json_frame_detail_120x40() {
    insta::assert_snapshot!(screen(Mode::Client, 120, 40, |s| {
        // The second sent message is the JSON one (seq 2).
        s.popup = Some(Popup::Detail {
            pane: Pane::Client,
            seq: 2,
            scroll: 0,
        });
    }));
}

#[test]
fn binary_frame_detail_80x24() {
    insta::assert_snapshot!(screen(Mode::Client, 80, 24, |s| {
        let seq = s
            .client
            .as_ref()
            .unwrap()
            .log
            .log
            .iter()
            .find(|e| e.kind == wsprobe::net::FrameKind::Binary)
            .unwrap()
            .seq;
        s.popup = Some(Popup::Detail {
            pane: Pane::Client,
            seq,
            scroll: 0,
        });
    }));
}

#[test]
fn handshake_popup_80x24() {
    insta::assert_snapshot!(screen(Mode::Client, 80, 24, |s| {
        s.focus = Focus::ClientLog;
        update(s, Msg::Action(Action::ShowHandshake));
    }));
}

#[test]
fn filtered_and_paused_log_80x24() {
    insta::assert_snapshot!(screen(Mode::Client, 80, 24, |s| {
        s.focus = Focus::ClientLog;
        update(s, Msg::Action(Action::CycleDirFilter));
        update(s, Msg::Action(Action::CycleDirFilter));
        update(s, Msg::Action(Action::Up));
    }));
}

#[test]
fn escape_sequences_in_payloads_are_shown_not_obeyed() {
    let text = screen(Mode::Client, 120, 40, |_| {});
    assert!(text.contains("\\x1b[2Jnot a clear screen"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn every_screen_draws_at_tiny_sizes_without_panicking() {
    for mode in [Mode::Client, Mode::Server, Mode::Demo] {
        for (w, h) in [(1, 1), (10, 5), (20, 8), (40, 12), (300, 100)] {
            let mut fx = fixture(mode);
            render(&fx.state, w, h, &PLAIN);
            update(&mut fx.state, Msg::Action(Action::ToggleHelp));
            render(&fx.state, w, h, &PLAIN);
        }
    }
}
