//! The runner against made-up events: no sockets, the clock in the test's hands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;

use super::parse::{parse, Checks};
use super::runner::{Action, Runner, Settings, Status};
use crate::net::{
    CloseCause, CloseInfo, ConnCounters, Direction, Frame, FrameKind, Handshake, NetCommand,
    NetEvent, Opened, Rtt, RttKind,
};
use crate::proto::{Choice, Context};

fn no_env(_: &str) -> Option<String> {
    None
}

fn runner(src: &str, now: Instant) -> Runner {
    let checks = Checks {
        choice: Choice::Auto,
        vars: &[],
        env: &no_env,
        has_url: true,
    };
    let script = parse("t.wsp", src, &checks).unwrap_or_else(|p| panic!("{p:#?}"));
    let settings = Settings {
        timeout: Duration::from_secs(5),
        choice: Choice::Auto,
        ctx: Context {
            next_id: 1,
            ..Context::default()
        },
        vars: Vec::new(),
        env: no_env,
    };
    Runner::new(script, settings, Some("ws://127.0.0.1:1/".into()), now)
}

fn opened() -> NetEvent {
    NetEvent::Opened(Box::new(Opened {
        conn: 1,
        ts: Utc::now(),
        peer: "127.0.0.1:1".parse().unwrap(),
        path: "/".into(),
        handshake: Handshake {
            status: "101 Switching Protocols".into(),
            ..Handshake::default()
        },
        counters: Arc::new(ConnCounters::default()),
        commands: crate::net::inbox::channel(1).0,
        faults: None,
    }))
}

fn frame(dir: Direction, kind: FrameKind, payload: &str, rtt: Option<Rtt>) -> NetEvent {
    NetEvent::Frame(Frame {
        conn: 1,
        ts: Utc::now(),
        dir,
        kind,
        payload: Bytes::from(payload.to_string()),
        close: None,
        rtt,
        message: 0,
    })
}

fn text_in(payload: &str) -> NetEvent {
    frame(Direction::In, FrameKind::Text, payload, None)
}

fn sends(actions: &[Action]) -> Vec<NetCommand> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn statuses(r: &Runner) -> Vec<(usize, Status)> {
    r.outcomes().iter().map(|o| (o.line, o.status)).collect()
}

fn closed(cause: CloseCause, code: Option<u16>) -> NetEvent {
    NetEvent::Closed {
        conn: 1,
        ts: Utc::now(),
        close: code.map(|c| CloseInfo::new(c, "")),
        cause,
    }
}

#[test]
fn a_passing_script_sends_expects_and_closes() {
    let t0 = Instant::now();
    let mut r = runner("hello\n/expect ^Echo: hello$\n/json {\"a\": 1}\n", t0);
    assert_eq!(r.start(t0), [Action::Connect("ws://127.0.0.1:1/".into())]);
    let a = r.event(&opened(), t0);
    assert_eq!(sends(&a), [NetCommand::Text("hello".into())]);
    assert!(r.deadline().is_some(), "the expectation waits");
    let t1 = t0 + Duration::from_millis(3);
    let a = r.event(&text_in("Echo: hello"), t1);
    let recorded: Vec<&Rtt> = a
        .iter()
        .filter_map(|a| match a {
            Action::Record(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].kind, RttKind::Reply);
    assert_eq!(recorded[0].duration, Duration::from_millis(3));
    assert_eq!(recorded[0].label.as_deref(), Some("line 2"));
    // The JSON went out compact, then the script closes by itself.
    assert_eq!(
        sends(&a),
        [
            NetCommand::Text("{\"a\":1}".into()),
            NetCommand::Close(Some(CloseInfo::new(1000, "")))
        ]
    );
    assert!(!r.done());
    r.event(&closed(CloseCause::Local, Some(1000)), t1);
    assert!(r.done());
    assert!(!r.failed());
    assert_eq!(
        statuses(&r),
        [
            (0, Status::Pass),
            (1, Status::Pass),
            (2, Status::Pass),
            (3, Status::Pass)
        ]
    );
    assert_eq!(r.outcomes()[2].latency, Some(Duration::from_millis(3)));
}

#[test]
fn a_wrong_reply_fails_with_both_sides_and_skips_the_rest() {
    let t0 = Instant::now();
    let mut r = runner("hi\n/expect ^bye$\nafter\n", t0);
    r.start(t0);
    r.event(&opened(), t0);
    let a = r.event(&text_in("hi"), t0);
    assert!(r.failed());
    let fail = &r.outcomes()[2];
    assert_eq!((fail.line, fail.status), (2, Status::Fail));
    assert_eq!(fail.expected.as_deref(), Some("a message matching /^bye$/"));
    assert_eq!(fail.received.as_deref(), Some("hi"));
    assert_eq!(r.outcomes()[3].status, Status::Skipped);
    // Nothing more is sent but the close.
    assert_eq!(
        sends(&a),
        [NetCommand::Close(Some(CloseInfo::new(1000, "")))]
    );
}

#[test]
fn a_server_that_never_answers_meets_the_timeout() {
    let t0 = Instant::now();
    let mut r = runner("hi\n/expect x within 200ms\n", t0);
    r.start(t0);
    r.event(&opened(), t0);
    assert_eq!(r.deadline(), Some(t0 + Duration::from_millis(200)));
    r.tick(t0 + Duration::from_millis(199));
    assert!(!r.failed());
    r.tick(t0 + Duration::from_millis(200));
    let fail = &r.outcomes()[2];
    assert_eq!(fail.status, Status::Fail);
    assert_eq!(fail.received.as_deref(), Some("nothing within 200ms"));
}

#[test]
fn captures_fill_later_lines_and_protocol_replies_are_not_counted_twice() {
    let t0 = Instant::now();
    let mut r = runner(
        "/call add 1 2\n/expect json $.result == 3\n/capture sum json $.result\n/call add ${sum} 4\n",
        t0,
    );
    r.start(t0);
    let a = r.event(&opened(), t0);
    assert_eq!(
        sends(&a),
        [NetCommand::Text(
            r#"{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}"#.into()
        )]
    );
    let reply = Rtt {
        kind: RttKind::Reply,
        duration: Duration::from_micros(700),
        label: Some(Arc::from("add")),
    };
    let a = r.event(
        &frame(
            Direction::In,
            FrameKind::Text,
            r#"{"jsonrpc":"2.0","result":3,"id":1}"#,
            Some(reply),
        ),
        t0 + Duration::from_millis(1),
    );
    assert!(!a.iter().any(|a| matches!(a, Action::Record(_))));
    assert_eq!(r.outcomes()[2].latency, Some(Duration::from_micros(700)));
    assert_eq!(r.outcomes()[3].detail, "sum = 3");
    assert_eq!(
        sends(&a)[0],
        NetCommand::Text(r#"{"jsonrpc":"2.0","id":2,"method":"add","params":[3,4]}"#.into())
    );
}

#[test]
fn a_reply_that_waited_for_its_expectation_is_timed_from_its_own_send() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut r = runner("a\n/wait 10ms\nb\n/expect ^a$\n/expect ^b$\n", t0);
    r.start(t0);
    r.event(&opened(), t0);
    // a's reply comes during the wait, b is sent after it.
    r.event(&text_in("a"), t0 + ms(4));
    r.tick(t0 + ms(10));
    r.event(&text_in("b"), t0 + ms(12));
    let latencies: Vec<_> = r.outcomes().iter().map(|o| o.latency).collect();
    assert_eq!(latencies[4], Some(ms(4)), "from a's send, not b's");
    assert_eq!(latencies[5], Some(ms(2)));
}

#[test]
fn close_codes_waits_and_repeats() {
    let t0 = Instant::now();
    let mut r = runner("/repeat 3 10ms x\n/wait 50ms\n/expect-close 4000\n", t0);
    r.start(t0);
    let a = r.event(&opened(), t0);
    assert_eq!(sends(&a).len(), 1, "the first copy at once");
    let a = r.tick(t0 + Duration::from_millis(25));
    assert_eq!(sends(&a).len(), 2, "the others on time");
    assert_eq!(r.deadline(), Some(t0 + Duration::from_millis(75)));
    r.tick(t0 + Duration::from_millis(75));
    let mut close = frame(Direction::In, FrameKind::Close, "", None);
    if let NetEvent::Frame(f) = &mut close {
        f.close = Some(CloseInfo::new(4000, "bye"));
    }
    r.event(&close, t0 + Duration::from_millis(80));
    r.event(
        &closed(CloseCause::Peer, Some(4000)),
        t0 + Duration::from_millis(80),
    );
    assert!(r.done());
    assert_eq!(
        statuses(&r),
        [
            (0, Status::Pass),
            (1, Status::Pass),
            (2, Status::Pass),
            (3, Status::Pass)
        ]
    );
    assert_eq!(r.outcomes()[3].detail, "closed 4000 Private Use");
}

#[test]
fn a_refused_connection_fails_the_first_step_and_skips_the_rest() {
    let t0 = Instant::now();
    let mut r = runner("hi\n/expect hi\n", t0);
    r.start(t0);
    r.event(
        &NetEvent::Error {
            conn: Some(1),
            ts: Utc::now(),
            message: "connection refused".into(),
        },
        t0,
    );
    assert!(r.done());
    assert_eq!(
        statuses(&r),
        [
            (0, Status::Fail),
            (1, Status::Skipped),
            (2, Status::Skipped)
        ]
    );
    assert_eq!(r.outcomes()[0].detail, "cannot connect: connection refused");
}

#[test]
fn interrupting_fails_the_step_under_way_and_skips_the_rest() {
    let t0 = Instant::now();
    let mut r = runner("hi\n/expect never\nmore\n", t0);
    r.start(t0);
    r.event(&opened(), t0);
    let a = r.interrupt(t0 + Duration::from_millis(5));
    assert!(r.done() && r.interrupted());
    assert_eq!(
        statuses(&r),
        [
            (0, Status::Pass),
            (1, Status::Pass),
            (2, Status::Fail),
            (3, Status::Skipped)
        ]
    );
    assert_eq!(r.outcomes()[2].detail, "interrupted");
    assert_eq!(
        sends(&a),
        [NetCommand::Close(Some(CloseInfo::new(1000, "")))]
    );
}

#[test]
fn a_protocols_housekeeping_is_looked_past() {
    let t0 = Instant::now();
    let mut r = runner("/expect ^431\\[5\\]$\n", t0);
    r.start(t0);
    r.event(&opened(), t0);
    // engine.io's open packet and a ping are the protocol's, not the script's.
    r.event(
        &text_in(r#"0{"sid":"x","pingInterval":25000,"pingTimeout":20000}"#),
        t0,
    );
    r.event(&text_in("2"), t0);
    let setup = Rtt {
        kind: RttKind::Setup,
        duration: Duration::from_micros(5),
        label: None,
    };
    r.event(
        &frame(
            Direction::In,
            FrameKind::Text,
            r#"40{"sid":"y"}"#,
            Some(setup),
        ),
        t0,
    );
    assert!(!r.failed());
    r.event(&text_in("431[5]"), t0);
    assert_eq!(r.outcomes()[1].status, Status::Pass);
}

#[test]
fn a_value_from_the_environment_is_not_shown() {
    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }
    let checks = Checks {
        choice: Choice::Auto,
        vars: &[],
        env: &env,
        has_url: true,
    };
    let script = parse("t.wsp", "/set t ${env:TOKEN}\n/set u plain\n", &checks).unwrap();
    let settings = Settings {
        timeout: Duration::from_secs(5),
        choice: Choice::Auto,
        ctx: Context::default(),
        vars: Vec::new(),
        env,
    };
    let t0 = Instant::now();
    let mut r = Runner::new(script, settings, Some("ws://127.0.0.1:1/".into()), t0);
    r.start(t0);
    r.event(&opened(), t0);
    assert_eq!(r.outcomes()[1].detail, "t = (from the environment)");
    assert_eq!(r.outcomes()[2].detail, "u = plain");
}
