use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{FixedOffset, TimeZone, Utc};

use super::update;
use crate::app::msg::{Action, Edit, Effect, Msg, Target};
use crate::app::state::{
    AppState, ClientPane, DirFilter, Focus, LinkState, Mode, Popup, ServerPane, CLOSED_ROW_TTL,
};
use crate::net::inbox::Inbox;
use crate::net::{
    CloseCause, CloseInfo, ConnCounters, Direction, Frame, FrameKind, Handshake, NetCommand,
    NetEvent, Opened, Rtt, RttKind, Side,
};

fn state(mode: Mode) -> (AppState, Instant) {
    let now = Instant::now();
    let wall = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let mut s = AppState::new(mode, now, wall, FixedOffset::east_opt(0).unwrap());
    if mode != Mode::Server {
        s.client = Some(ClientPane::new(
            "ws://127.0.0.1:1/".into(),
            100,
            vec![],
            now,
        ));
    }
    if mode != Mode::Client {
        s.server = Some(ServerPane::new("ws://127.0.0.1:1".into(), 100, vec![]));
    }
    (s, now)
}

fn opened(conn: u64) -> (NetEvent, Inbox<NetCommand>) {
    let (tx, rx) = crate::net::inbox::channel(16);
    let ev = NetEvent::Opened(Box::new(Opened {
        conn,
        ts: Utc::now(),
        peer: "127.0.0.1:5000".parse::<SocketAddr>().unwrap(),
        path: "/".into(),
        handshake: Handshake::default(),
        counters: Arc::new(ConnCounters::default()),
        commands: tx,
        faults: None,
    }));
    (ev, rx)
}

fn frame(
    conn: u64,
    dir: Direction,
    kind: FrameKind,
    payload: &'static [u8],
    rtt_us: Option<u64>,
) -> NetEvent {
    NetEvent::Frame(Frame {
        conn,
        ts: Utc::now(),
        dir,
        kind,
        payload: Bytes::from_static(payload),
        close: None,
        rtt: rtt_us.map(|us| Rtt {
            kind: if kind == FrameKind::Pong {
                RttKind::Ping
            } else {
                RttKind::Echo
            },
            duration: Duration::from_micros(us),
            label: None,
        }),
        message: 0,
    })
}

fn type_text(s: &mut AppState, text: &str) {
    for c in text.chars() {
        let _ = update(s, Msg::Action(Action::Edit(Edit::Char(c))));
    }
}

fn sent(fx: &[Effect]) -> Vec<NetCommand> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Send { cmd, .. } => Some(cmd.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn typing_and_enter_send_text_and_save_history() {
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    type_text(&mut s, "héllo");
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert_eq!(sent(&fx), vec![NetCommand::Text("héllo".into())]);
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::SaveHistory(l) if l == "héllo")));
    assert!(s.client.as_ref().unwrap().input.is_empty());
}

#[test]
fn sending_before_the_connection_opens_is_an_inline_error() {
    let (mut s, _) = state(Mode::Client);
    type_text(&mut s, "early");
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert!(fx.is_empty());
    let c = s.client.as_ref().unwrap();
    assert!(c.input_error.as_deref().unwrap().contains("not connected"));
    assert_eq!(c.input.text(), "early", "the text is kept");
}

#[test]
fn bad_slash_command_keeps_the_text_and_shows_why() {
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    type_text(&mut s, "/hex zz");
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert!(fx.is_empty());
    let c = s.client.as_ref().unwrap();
    assert!(c.input_error.as_deref().unwrap().contains("hex"));
    assert_eq!(c.input.text(), "/hex zz");
    // Typing again clears the error.
    type_text(&mut s, "0");
    assert!(s.client.as_ref().unwrap().input_error.is_none());
}

#[test]
fn slash_commands_become_network_commands() {
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    for (input, expected) in [
        ("/ping x", NetCommand::Ping(Bytes::from_static(b"x"))),
        (
            "/hex 01 02",
            NetCommand::Binary(Bytes::from_static(&[1, 2])),
        ),
        ("/json {\"a\": 1}", NetCommand::Text("{\"a\":1}".into())),
        (
            "/close 4000 bye",
            NetCommand::Close(Some(CloseInfo::new(4000, "bye"))),
        ),
    ] {
        type_text(&mut s, input);
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert_eq!(sent(&fx), vec![expected], "{input}");
    }
    type_text(&mut s, "/repeat 3 10ms hi");
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert!(matches!(&fx[1], Effect::Repeat { count: 3, text, .. } if text == "hi"));
    type_text(&mut s, "/help");
    let _ = update(&mut s, Msg::Action(Action::Submit));
    assert!(matches!(s.popup, Some(Popup::Help { .. })));
}

#[test]
fn frames_feed_the_log_rtt_and_unmatched_count() {
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::Out, FrameKind::Text, b"a", None),
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"a", Some(250)),
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"push", None),
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Pong, b"p", Some(90)),
        ),
    );
    let c = s.client.as_ref().unwrap();
    assert_eq!(c.log.log.len(), 4);
    assert_eq!(c.totals.rtt.echo.count(), 1);
    assert_eq!(c.totals.rtt.ping.count(), 1);
    assert_eq!(c.totals.unmatched, 1);
    assert_eq!(c.rtt_points.len(), 2);
}

#[test]
fn connect_failure_and_close_are_shown() {
    let (mut s, _) = state(Mode::Client);
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            NetEvent::Error {
                conn: Some(1),
                ts: Utc::now(),
                message: "refused".into(),
            },
        ),
    );
    assert_eq!(
        s.client.as_ref().unwrap().state,
        LinkState::Failed("refused".into())
    );
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            NetEvent::Closed {
                conn: 1,
                ts: Utc::now(),
                close: Some(CloseInfo::new(1011, "x")),
                cause: CloseCause::Peer,
            },
        ),
    );
    let c = s.client.as_ref().unwrap();
    assert!(matches!(&c.state, LinkState::Closed { close: Some(ci), .. } if ci.code == 1011));
    // Closed for good: nothing can be sent.
    for ch in "late".chars() {
        let _ = update(&mut s, Msg::Action(Action::Edit(Edit::Char(ch))));
    }
    assert!(update(&mut s, Msg::Action(Action::Submit)).is_empty());
    let c = s.client.as_ref().unwrap();
    assert_eq!(
        c.input_error.as_deref(),
        Some("not connected: nothing can be sent")
    );
    assert_eq!(c.input.text(), "late", "what was typed stays");
}

#[test]
fn scrolling_pauses_and_end_follows_again() {
    let (mut s, _) = state(Mode::Client);
    for _ in 0..20 {
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"x", None),
            ),
        );
    }
    s.focus = Focus::ClientLog;
    let _ = update(&mut s, Msg::Action(Action::Up));
    let log = &s.client.as_ref().unwrap().log;
    assert!(!log.follow);
    assert_eq!(log.selected_seq(), Some(18));
    let _ = update(&mut s, Msg::Action(Action::Top));
    assert_eq!(s.client.as_ref().unwrap().log.selected_seq(), Some(0));
    let _ = update(&mut s, Msg::Action(Action::Bottom));
    assert!(s.client.as_ref().unwrap().log.follow);
    let _ = update(&mut s, Msg::Action(Action::TogglePause));
    assert!(!s.client.as_ref().unwrap().log.follow);
    let _ = update(&mut s, Msg::Action(Action::TogglePause));
    assert!(s.client.as_ref().unwrap().log.follow);
}

#[test]
fn filters_by_direction_and_regex() {
    let (mut s, _) = state(Mode::Client);
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::Out, FrameKind::Text, b"Hello", None),
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"hello", None),
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"other", None),
        ),
    );
    s.focus = Focus::ClientLog;
    let _ = update(&mut s, Msg::Action(Action::CycleDirFilter));
    assert_eq!(s.client.as_ref().unwrap().log.filter.dir, DirFilter::Sent);
    assert_eq!(s.client.as_ref().unwrap().log.visible().len(), 1);
    let _ = update(&mut s, Msg::Action(Action::CycleDirFilter));
    let _ = update(&mut s, Msg::Action(Action::StartFilter));
    assert!(s.typing());
    type_text(&mut s, "HEL+O");
    let _ = update(&mut s, Msg::Action(Action::Submit));
    assert_eq!(
        s.client.as_ref().unwrap().log.visible().len(),
        1,
        "received + /hel+o/ case-insensitive"
    );
    let _ = update(&mut s, Msg::Action(Action::StartFilter));
    type_text(&mut s, "(");
    let _ = update(&mut s, Msg::Action(Action::Submit));
    assert!(s.filter_error.is_some());
    assert!(s.filter_edit.is_some(), "a bad regex stays in the editor");
    let _ = update(&mut s, Msg::Action(Action::Escape));
    assert!(s.filter_edit.is_none());
}

#[test]
fn server_sends_to_selected_or_all_and_closes_selected() {
    let (mut s, _) = state(Mode::Server);
    let (ev1, _rx1) = opened(1);
    let (ev2, _rx2) = opened(2);
    let _ = update(&mut s, Msg::Net(Side::Server, ev1));
    let _ = update(&mut s, Msg::Net(Side::Server, ev2));
    assert_eq!(s.server.as_ref().unwrap().selected, Some(1));
    let _ = update(&mut s, Msg::Action(Action::Down));
    assert_eq!(s.server.as_ref().unwrap().selected, Some(2));
    s.focus = Focus::ServerInput;
    type_text(&mut s, "to two");
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert_eq!(
        fx,
        vec![
            Effect::SaveHistory("to two".into()),
            Effect::Send {
                to: Target::Server(2),
                cmd: NetCommand::Text("to two".into())
            }
        ]
    );
    let _ = update(&mut s, Msg::Action(Action::ToggleSendAll));
    type_text(&mut s, "everyone");
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert_eq!(sent(&fx).len(), 2);
    s.focus = Focus::ServerConns;
    let fx = update(&mut s, Msg::Action(Action::CloseSelected));
    assert_eq!(
        sent(&fx),
        vec![NetCommand::Close(Some(CloseInfo::new(1000, "")))]
    );
}

fn closed(conn: u64, cause: CloseCause) -> Msg {
    Msg::Net(
        Side::Server,
        NetEvent::Closed {
            conn,
            ts: Utc::now(),
            close: Some(CloseInfo::new(1000, "")),
            cause,
        },
    )
}

#[test]
fn a_selected_connection_that_closes_hands_the_input_to_the_next_open_one() {
    let (mut s, _) = state(Mode::Server);
    let mut queues = Vec::new();
    for id in 1..=3 {
        let (ev, rx) = opened(id);
        queues.push(rx);
        let _ = update(&mut s, Msg::Net(Side::Server, ev));
    }
    let _ = update(&mut s, Msg::Action(Action::Down));
    assert_eq!(s.server.as_ref().unwrap().selected, Some(2));
    let _ = update(&mut s, closed(2, CloseCause::Peer));
    assert_eq!(
        s.server.as_ref().unwrap().selected,
        Some(3),
        "the next open one"
    );
    let _ = update(&mut s, closed(3, CloseCause::Peer));
    assert_eq!(
        s.server.as_ref().unwrap().selected,
        Some(1),
        "else the one before"
    );
    // A connection that closes while another is selected changes nothing.
    let (ev, _rx4) = opened(4);
    let _ = update(&mut s, Msg::Net(Side::Server, ev));
    let _ = update(&mut s, closed(4, CloseCause::Peer));
    assert_eq!(s.server.as_ref().unwrap().selected, Some(1));
    // The last one closing keeps it where it is.
    let _ = update(&mut s, closed(1, CloseCause::Local));
    assert_eq!(s.server.as_ref().unwrap().selected, Some(1));
}

#[test]
fn server_events_keep_errors_and_handshakes_given_up_apart() {
    let (mut s, _) = state(Mode::Server);
    let peer: SocketAddr = "127.0.0.1:5999".parse().unwrap();
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Server,
            NetEvent::LeftBeforeHandshake {
                ts: Utc::now(),
                peer,
            },
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Server,
            NetEvent::Error {
                conn: None,
                ts: Utc::now(),
                message: "handshake with 127.0.0.1:6000 failed: bad request".into(),
            },
        ),
    );
    let server = s.server.as_ref().unwrap();
    assert_eq!((server.errors, server.left_early), (1, 1));
    let texts: Vec<&str> = server.events.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts[0].contains("127.0.0.1:5999 disconnected before completing"),
        "{texts:?}"
    );
    assert!(
        texts[1].contains("127.0.0.1:6000 failed: bad request"),
        "{texts:?}"
    );
    assert!(!server.events[0].bad && server.events[1].bad);
    let _ = update(&mut s, Msg::Action(Action::ShowEvents));
    assert_eq!(s.popup, Some(Popup::Events { scroll: 0 }));
}

#[test]
fn fault_switches_are_effects_only_when_there_are_faults() {
    let (mut s, _) = state(Mode::Server);
    s.focus = Focus::ServerConns;
    assert!(update(&mut s, Msg::Action(Action::ToggleDelay)).is_empty());
    s.server.as_mut().unwrap().faults = Some(crate::app::state::ServerFaults::new(
        crate::net::server::faults::Faults {
            drop_percent: 5.0,
            ..Default::default()
        },
    ));
    let fx = update(&mut s, Msg::Action(Action::ToggleDrop));
    assert_eq!(
        fx,
        vec![Effect::SetFaults {
            delay_on: true,
            drop_on: false
        }]
    );
    let fx = update(&mut s, Msg::Action(Action::ToggleDelay));
    assert_eq!(
        fx,
        vec![Effect::SetFaults {
            delay_on: false,
            drop_on: false
        }]
    );
    let described = s
        .server
        .as_ref()
        .unwrap()
        .faults
        .as_ref()
        .unwrap()
        .describe();
    assert_eq!(described.as_deref(), Some("drop 5% (off)"));
}

#[test]
fn closed_rows_stay_a_while_then_go() {
    let (mut s, now) = state(Mode::Server);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Server, ev));
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Server,
            NetEvent::Closed {
                conn: 1,
                ts: Utc::now(),
                close: None,
                cause: CloseCause::Peer,
            },
        ),
    );
    let _ = update(
        &mut s,
        Msg::Tick {
            now: now + Duration::from_secs(5),
            wall: Utc::now(),
        },
    );
    assert_eq!(s.server.as_ref().unwrap().rows.len(), 1);
    let _ = update(
        &mut s,
        Msg::Tick {
            now: now + CLOSED_ROW_TTL + Duration::from_secs(5),
            wall: Utc::now(),
        },
    );
    assert_eq!(s.server.as_ref().unwrap().rows.len(), 0);
}

#[test]
fn tab_cycles_focus_and_esc_leaves_the_input() {
    let (mut s, _) = state(Mode::Demo);
    assert_eq!(s.focus, Focus::ClientInput);
    let _ = update(&mut s, Msg::Action(Action::FocusNext));
    assert_eq!(s.focus, Focus::ClientLog);
    let _ = update(&mut s, Msg::Action(Action::FocusPrev));
    let _ = update(&mut s, Msg::Action(Action::FocusPrev));
    assert_eq!(s.focus, Focus::ServerInput);
    let _ = update(&mut s, Msg::Action(Action::Escape));
    assert_eq!(s.focus, Focus::ServerLog);
    let _ = update(&mut s, Msg::Action(Action::FocusInput));
    assert_eq!(s.focus, Focus::ServerInput);
}

#[test]
fn paste_goes_in_whole() {
    let (mut s, _) = state(Mode::Client);
    let big = "line\n".repeat(10_000);
    let _ = update(&mut s, Msg::Paste(big.clone()));
    assert_eq!(s.client.as_ref().unwrap().input.text(), big);
}

#[test]
fn log_is_a_bounded_ring() {
    let (mut s, _) = state(Mode::Client);
    for _ in 0..250 {
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"x", None),
            ),
        );
    }
    assert_eq!(s.client.as_ref().unwrap().log.log.len(), 100);
}

#[test]
fn detail_opens_on_the_selected_frame_and_scrolls() {
    let (mut s, _) = state(Mode::Client);
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"x", None),
        ),
    );
    s.focus = Focus::ClientLog;
    let _ = update(&mut s, Msg::Action(Action::OpenDetail));
    assert_eq!(
        s.popup,
        Some(Popup::Detail {
            pane: Side::Client,
            seq: 0,
            scroll: 0
        })
    );
    let _ = update(&mut s, Msg::Action(Action::Down));
    assert_eq!(
        s.popup,
        Some(Popup::Detail {
            pane: Side::Client,
            seq: 0,
            scroll: 1
        })
    );
    let _ = update(&mut s, Msg::Action(Action::ClosePopup));
    assert!(s.popup.is_none());
}

#[test]
fn the_timeline_tells_connects_drops_and_retries() {
    let (mut s, now) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            NetEvent::Closed {
                conn: 1,
                ts: Utc::now(),
                close: None,
                cause: CloseCause::Error("the connection was reset by the server".into()),
            },
        ),
    );
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            NetEvent::Reconnecting {
                conn: 2,
                ts: Utc::now(),
                attempt: 1,
                delay: Duration::from_millis(500),
                lost: 3,
            },
        ),
    );
    let c = s.client.as_ref().unwrap();
    assert!(
        matches!(c.state, LinkState::Waiting { attempt: 1, until } if until == now + Duration::from_millis(500))
    );
    assert_eq!(c.totals.lost, 3);
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            NetEvent::Error {
                conn: Some(2),
                ts: Utc::now(),
                message: "connection refused".into(),
            },
        ),
    );
    let (ev, _rx2) = opened(2);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    let c = s.client.as_ref().unwrap();
    let texts: Vec<&str> = c.timeline.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "#1 connected to 127.0.0.1:5000: ",
            "#1 dropped: the connection was reset by the server",
            "#2 retry 1 in 500ms, 3 echoes lost",
            "#2 connect failed: connection refused",
            "#2 connected to 127.0.0.1:5000: ",
        ]
    );
    assert_eq!(c.totals.connects, 2);
    assert_eq!(c.state, LinkState::Open);
    assert!(c.timeline[1].bad && !c.timeline[2].bad);
    let _ = update(&mut s, Msg::Action(Action::Escape));
    let _ = update(&mut s, Msg::Action(Action::ShowTimeline));
    assert_eq!(s.popup, Some(Popup::Timeline { scroll: 0 }));
}

#[test]
fn a_replay_sends_nothing() {
    let (mut s, _) = state(Mode::Client);
    let (ev, mut rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    s.read_only = true;
    for c in "hi".chars() {
        let _ = update(&mut s, Msg::Action(Action::Edit(Edit::Char(c))));
    }
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert!(fx.is_empty());
    assert!(rx.try_recv().is_err());
    assert!(s
        .client
        .as_ref()
        .unwrap()
        .input_error
        .as_deref()
        .unwrap()
        .contains("read-only"));
}

#[test]
fn while_reconnecting_typed_messages_wait_in_the_queue_and_close_stops() {
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    for ev in [
        NetEvent::Closed {
            conn: 1,
            ts: Utc::now(),
            close: None,
            cause: CloseCause::Error("reset".into()),
        },
        NetEvent::Reconnecting {
            conn: 2,
            ts: Utc::now(),
            attempt: 1,
            delay: Duration::from_secs(1),
            lost: 0,
        },
    ] {
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
    }
    let typed = |s: &mut AppState, text: &str| {
        for ch in text.chars() {
            let _ = update(s, Msg::Action(Action::Edit(Edit::Char(ch))));
        }
        update(s, Msg::Action(Action::Submit))
    };
    let fx = typed(&mut s, "queued");
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Send { cmd: NetCommand::Text(t), .. } if t == "queued")));
    assert!(s.client.as_ref().unwrap().input_error.is_none());
    let fx = typed(&mut s, "/close 1000 bye");
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Send {
            cmd: NetCommand::Close(_),
            ..
        }
    )));
    assert!(matches!(
        s.client.as_ref().unwrap().state,
        LinkState::Closed {
            cause: CloseCause::Local,
            ..
        }
    ));
}

#[test]
fn waiting_to_retry_before_any_connection_sends_nothing() {
    // --reconnect against a server that was never up: no queue exists yet, so
    // the line stays in the box with the reason (it must not vanish).
    let (mut s, _) = state(Mode::Client);
    for ev in [
        NetEvent::Error {
            conn: Some(1),
            ts: Utc::now(),
            message: "connection refused".into(),
        },
        NetEvent::Reconnecting {
            conn: 2,
            ts: Utc::now(),
            attempt: 1,
            delay: Duration::from_secs(1),
            lost: 0,
        },
    ] {
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
    }
    assert!(matches!(
        s.client.as_ref().unwrap().state,
        LinkState::Waiting { .. }
    ));
    for ch in "early".chars() {
        let _ = update(&mut s, Msg::Action(Action::Edit(Edit::Char(ch))));
    }
    let fx = update(&mut s, Msg::Action(Action::Submit));
    assert!(fx.is_empty(), "{fx:?}");
    let c = s.client.as_ref().unwrap();
    assert!(c.input_error.as_deref().unwrap().contains("not connected"));
    assert_eq!(c.input.text(), "early", "the text stays for later");
}

fn relay_state() -> (AppState, Instant) {
    let (mut s, now) = state(Mode::Server);
    s.mode = Mode::Relay;
    let pane = s.server.as_mut().unwrap();
    pane.relay = Some(crate::app::state::RelayView::new(
        "ws://127.0.0.1:2".into(),
        Default::default(),
        now,
    ));
    (s, now)
}

#[test]
fn a_relays_pair_takes_both_legs_into_one_row_and_its_latency() {
    let (mut s, _) = relay_state();
    let (client_leg, _c) = opened(1);
    let (server_leg, _s) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, client_leg));
    let _ = update(&mut s, Msg::Net(Side::Server, server_leg));
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"q", None),
        ),
    );
    let mut reply = frame(1, Direction::In, FrameKind::Text, b"a", None);
    if let NetEvent::Frame(f) = &mut reply {
        f.rtt = Some(Rtt {
            kind: RttKind::Reply,
            duration: Duration::from_micros(700),
            label: None,
        });
    }
    let _ = update(&mut s, Msg::Net(Side::Server, reply));
    let counts = crate::net::CounterSnapshot {
        frames_out: 5,
        ..Default::default()
    };
    let _ = update(
        &mut s,
        Msg::Counts {
            conns: vec![(Side::Server, 1, counts)],
            not_shown: 0,
        },
    );
    let pane = s.server.as_ref().unwrap();
    assert_eq!(pane.rows.len(), 1, "one row per pair");
    let row = &pane.rows[0];
    assert_eq!(row.upstream.as_ref().unwrap().counts.frames_out, 5);
    assert_eq!(
        row.counts.frames_out, 0,
        "the client leg's counts stay its own"
    );
    assert_eq!(row.last_latency, Some(Duration::from_micros(700)));
    assert_eq!(row.latency.as_ref().unwrap().summary().count, 1, "per pair");
    let relay = pane.relay.as_ref().unwrap();
    assert_eq!(relay.latency.reply.summary().count, 1);
    let legs: Vec<Option<Side>> = pane.log.log.iter().map(|e| e.leg).collect();
    assert_eq!(legs, [Some(Side::Client), Some(Side::Server)]);
}

#[test]
fn a_relays_held_messages_are_listed_until_forwarded_and_marked_in_the_log() {
    let (mut s, _) = relay_state();
    let (client_leg, _c) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, client_leg));
    let _ = update(
        &mut s,
        Msg::Net(
            Side::Client,
            frame(1, Direction::In, FrameKind::Text, b"hold me", None),
        ),
    );
    let steered = |what| {
        NetEvent::Steered(crate::net::Steered {
            conn: 1,
            ts: Utc::now(),
            id: 4,
            what,
            kind: FrameKind::Text,
            payload: Bytes::from_static(b"hold me"),
        })
    };
    let held = crate::net::SteerEvent::Held("paused".into());
    let _ = update(&mut s, Msg::Net(Side::Client, steered(held)));
    let pane = s.server.as_ref().unwrap();
    assert_eq!(pane.relay.as_ref().unwrap().held.len(), 1);
    let mark = pane.log.log.iter().last().unwrap().mark.clone();
    assert_eq!(mark.as_deref(), Some("held #4"));
    let fwd = crate::net::SteerEvent::Forwarded { edited: false };
    let _ = update(&mut s, Msg::Net(Side::Client, steered(fwd)));
    assert!(s
        .server
        .as_ref()
        .unwrap()
        .relay
        .as_ref()
        .unwrap()
        .held
        .is_empty());
}

#[test]
fn a_relays_input_names_the_leg_and_steers() {
    let (mut s, _) = relay_state();
    let (client_leg, _c) = opened(1);
    let (server_leg, _s) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, client_leg));
    let _ = update(&mut s, Msg::Net(Side::Server, server_leg));
    s.focus = Focus::ServerInput;
    let submit = |s: &mut AppState, line: &str| {
        type_text(s, line);
        update(s, Msg::Action(Action::Submit))
    };
    let fx = submit(&mut s, "/inject client hi");
    assert!(fx.contains(&Effect::Send {
        to: Target::Leg(Side::Client, 1),
        cmd: NetCommand::Text("hi".into())
    }));
    let fx = submit(&mut s, "plain");
    assert!(fx.contains(&Effect::Send {
        to: Target::Leg(Side::Server, 1),
        cmd: NetCommand::Text("plain".into())
    }));
    let fx = submit(&mut s, "/pause server");
    assert!(
        fx.contains(&Effect::Steer(crate::net::relay::steer::Command::Pause(
            Some(Side::Server)
        )))
    );
    let relay = s.server.as_ref().unwrap().relay.as_ref().unwrap();
    assert_eq!(relay.describe().as_deref(), Some("paused from the server"));
}

#[test]
fn frames_on_the_wire_are_kept_and_found_by_their_message() {
    use crate::frames::FrameInfo;
    let (mut s, _) = state(Mode::Client);
    let (ev, _rx) = opened(1);
    let _ = update(&mut s, Msg::Net(Side::Client, ev));
    let wire = |opcode: u8, fin: bool, len: u64, message: u64| FrameInfo {
        at: Utc::now(),
        outgoing: false,
        opcode,
        fin,
        rsv: 0b100 * u8::from(opcode != 0 && opcode < 8),
        mask: None,
        wire_len: len / 2,
        len,
        close: None,
        message,
        injected: false,
    };
    // Message 2 came in two frames with a ping between them; message 1 in one.
    let batch = crate::net::Wire {
        conn: 1,
        ts: Utc::now(),
        frames: vec![
            wire(1, true, 4, 1),
            wire(1, false, 3, 2),
            wire(9, true, 0, 2),
            wire(0, true, 3, 2),
        ],
        lost: 2,
    };
    let _ = update(&mut s, Msg::Net(Side::Client, NetEvent::Wire(batch)));
    let mut second = frame(1, Direction::In, FrameKind::Text, b"abcdef", None);
    if let NetEvent::Frame(f) = &mut second {
        f.message = 2;
    }
    let _ = update(&mut s, Msg::Net(Side::Client, second));
    let c = s.client.as_ref().unwrap();
    assert_eq!(c.log.wire.len(), 4);
    assert_eq!(c.log.wire.lost, 2);
    // Data frames: 10 B inflated from 4 on the wire (the ping does not count).
    assert_eq!(
        c.log.wire.compression().as_deref(),
        Some("wire 4 B for 10 B (40%)")
    );
    let entry = c.log.log.iter().last().unwrap();
    let found: Vec<(u8, bool)> = c
        .log
        .wire
        .of_message(entry)
        .iter()
        .map(|w| (w.info.opcode, w.info.fin))
        .collect();
    assert_eq!(found, [(1, false), (0, true)]);
    // `w` shows the frames instead of the messages, and back.
    let _ = update(&mut s, Msg::Action(Action::ToggleWire));
    assert!(s.show_wire);
    let _ = update(&mut s, Msg::Action(Action::ToggleWire));
    assert!(!s.show_wire);
}
