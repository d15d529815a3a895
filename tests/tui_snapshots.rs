//! Screen snapshots of the dashboards, drawn into ratatui's TestBackend from
//! deterministic fixtures (fixed clock, fixed addresses): every screen and
//! popup at 80×24 and at 140×40.

use wsprobe::app::state::{Focus, LinkState, Popup};
use wsprobe::app::{update, Action, AppState, Mode, Msg};
use wsprobe::net::Side;
use wsprobe::tui::fixture::{
    bench_live, fixture, reconnecting_client, render, render_bench, self_signed_note,
    troubled_server, Fixture,
};
use wsprobe::tui::theme::Theme;

const PLAIN: Theme = Theme { no_color: true };

fn draw(mut fx: Fixture, w: u16, h: u16, setup: impl FnOnce(&mut AppState)) -> String {
    setup(&mut fx.state);
    render(&fx.state, w, h, &PLAIN).backend().to_string()
}

fn screen(mode: Mode, w: u16, h: u16, setup: impl FnOnce(&mut AppState)) -> String {
    draw(fixture(mode), w, h, setup)
}

fn detail_of(s: &mut AppState, kind: wsprobe::net::FrameKind) {
    let seq = s
        .client
        .as_ref()
        .unwrap()
        .log
        .log
        .iter()
        .find(|e| e.kind == kind)
        .unwrap()
        .seq;
    s.popup = Some(Popup::Detail {
        pane: Side::Client,
        seq,
        scroll: 0,
    });
}

/// A snapshot named `tui_snapshots__SCREEN_SIZE`, whatever module the test is in.
fn snapshot(name: &str, screen: String) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(format!("tui_snapshots__{name}"), screen));
}

/// Two tests per screen, `NAME_80x24` and `NAME_140x40`, each a snapshot.
macro_rules! screens {
    ($($name:ident => $draw:expr;)*) => {
        $(mod $name {
            use super::*;

            #[test]
            fn at_80x24() {
                snapshot(concat!(stringify!($name), "_80x24"), ($draw)(80, 24));
            }

            #[test]
            fn at_140x40() {
                snapshot(concat!(stringify!($name), "_140x40"), ($draw)(140, 40));
            }
        })*
    };
}

screens! {
    client => |w, h| screen(Mode::Client, w, h, |_| {});
    server => |w, h| screen(Mode::Server, w, h, |_| {});
    demo => |w, h| screen(Mode::Demo, w, h, |_| {});
    help_popup => |w, h| screen(Mode::Client, w, h, |s| {
        let _ = update(s, Msg::Action(Action::ToggleHelp));
    });
    json_frame_detail => |w, h| screen(Mode::Client, w, h, |s| {
        // The second sent message is the JSON one (seq 2).
        s.popup = Some(Popup::Detail {
            pane: Side::Client,
            seq: 2,
            scroll: 0,
        });
    });
    binary_frame_detail => |w, h| screen(Mode::Client, w, h, |s| {
        detail_of(s, wsprobe::net::FrameKind::Binary);
    });
    handshake_popup => |w, h| screen(Mode::Client, w, h, |s| {
        s.focus = Focus::ClientLog;
        let _ = update(s, Msg::Action(Action::ShowHandshake));
    });
    filtered_and_paused_log => |w, h| screen(Mode::Client, w, h, |s| {
        s.focus = Focus::ClientLog;
        let _ = update(s, Msg::Action(Action::CycleDirFilter));
        let _ = update(s, Msg::Action(Action::CycleDirFilter));
        let _ = update(s, Msg::Action(Action::Up));
    });
    reconnected_client => |w, h| draw(reconnecting_client(), w, h, |_| {});
    timeline_popup => |w, h| draw(reconnecting_client(), w, h, |s| {
        let _ = update(s, Msg::Action(Action::ShowTimeline));
    });
    failed_client => |w, h| screen(Mode::Client, w, h, |s| {
        let c = s.client.as_mut().unwrap();
        c.opened_at = None;
        c.state = LinkState::Failed(
            "HTTP error: 403 Forbidden: the server refused the upgrade of ws://127.0.0.1:8765/chat?room=1 (check the Origin header)".into(),
        );
        c.input_error = Some(
            "not valid JSON: expected `,` or `}` at line 1 column 18, so nothing was sent".into(),
        );
    });
    troubled_server => |w, h| draw(troubled_server(), w, h, |_| {});
    server_events_popup => |w, h| draw(troubled_server(), w, h, |s| {
        let _ = update(s, Msg::Action(Action::ShowEvents));
    });
    server_log_focus => |w, h| screen(Mode::Server, w, h, |s| {
        s.focus = Focus::ServerLog;
    });
    self_signed_server => |w, h| screen(Mode::Server, w, h, |s| {
        s.hint = Some(self_signed_note());
    });
    bench_live_view => |w, h| render_bench(&bench_live(), w, h, &PLAIN).backend().to_string();
}

/// What the 80-column screens must show whole: numbers with their units, the
/// words around them, and the way to the help.
#[test]
fn nothing_is_cut_at_80_columns() {
    let troubled = draw(troubled_server(), 80, 24, |_| {});
    for whole in [
        "faults: delay 20ms, drop 10%",
        "10340572 frames not shown",
        "2 errors (e shows)",
        "? help",
    ] {
        assert!(troubled.contains(whole), "{whole}:\n{troubled}");
    }
    let bench = render_bench(&bench_live(), 80, 24, &PLAIN)
        .backend()
        .to_string();
    assert!(bench.contains("max 12.47ms"), "{bench}");
    let log = screen(Mode::Client, 80, 24, |s| s.focus = Focus::ClientLog);
    assert!(log.contains("h handshake · ? help"), "{log}");
    let help = screen(Mode::Client, 80, 24, |s| {
        let _ = update(s, Msg::Action(Action::ToggleHelp));
    });
    assert!(help.contains("(connections, errors,"), "{help}");
    let events = draw(troubled_server(), 80, 24, |s| {
        let _ = update(s, Msg::Action(Action::ShowEvents));
    });
    assert!(events.contains("so it cannot be"), "{events}");
}

#[test]
fn escape_sequences_in_payloads_are_shown_not_obeyed() {
    let text = screen(Mode::Client, 120, 40, |_| {});
    assert!(text.contains("\\x1b[2Jnot a clear screen"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn every_screen_draws_at_tiny_sizes_without_panicking() {
    for (w, h) in [(1, 1), (10, 5), (20, 8), (40, 12), (300, 100)] {
        for mode in [Mode::Client, Mode::Server, Mode::Demo] {
            let mut fx = fixture(mode);
            render(&fx.state, w, h, &PLAIN);
            let _ = update(&mut fx.state, Msg::Action(Action::ToggleHelp));
            render(&fx.state, w, h, &PLAIN);
        }
        for mut fx in [reconnecting_client(), troubled_server()] {
            fx.state.hint = Some(self_signed_note());
            render(&fx.state, w, h, &PLAIN);
            let _ = update(&mut fx.state, Msg::Action(Action::ShowTimeline));
            let _ = update(&mut fx.state, Msg::Action(Action::ShowEvents));
            render(&fx.state, w, h, &PLAIN);
        }
        render_bench(&bench_live(), w, h, &PLAIN);
    }
}

/// A protocol's messages are shown decoded, `d` shows them as sent, and the
/// detail view has the fields above the payload.
#[test]
fn protocol_messages_are_decoded_and_raw_one_key_away() {
    use wsprobe::net::{Direction, Frame, FrameKind, NetEvent};
    let call = br#"{"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0x40"]}"#;
    let push = |s: &mut AppState| {
        let f = Frame {
            conn: s.client.as_ref().unwrap().conn.unwrap_or(1),
            ts: chrono::Utc::now(),
            dir: Direction::Out,
            kind: FrameKind::Text,
            payload: bytes::Bytes::from_static(call),
            close: None,
            rtt: None,
            message: 99,
        };
        let _ = update(s, Msg::Net(Side::Client, NetEvent::Frame(f)));
    };
    let decoded = screen(Mode::Client, 140, 40, |s| push(s));
    assert!(
        decoded.contains("call eth_getBalance #7 [\"0x40\"]"),
        "{decoded}"
    );
    assert!(decoded.contains("jsonrpc · d: raw"), "{decoded}");
    let raw = screen(Mode::Client, 140, 40, |s| {
        push(s);
        let _ = update(s, Msg::Action(Action::ToggleDecoded));
    });
    assert!(!raw.contains("call eth_getBalance #7"), "{raw}");
    assert!(raw.contains(r#"{"jsonrpc":"2.0","id":7"#), "{raw}");
    assert!(raw.contains("raw · d: jsonrpc"), "{raw}");
    let detail = screen(Mode::Client, 140, 40, |s| {
        push(s);
        let seq = s
            .client
            .as_ref()
            .unwrap()
            .log
            .log
            .iter()
            .last()
            .unwrap()
            .seq;
        s.popup = Some(Popup::Detail {
            pane: Side::Client,
            seq,
            scroll: 0,
        });
    });
    assert!(
        detail.contains("jsonrpc: call eth_getBalance #7"),
        "{detail}"
    );
    assert!(detail.contains("method  eth_getBalance"), "{detail}");
    assert!(detail.contains("as sent:"), "{detail}");
}
