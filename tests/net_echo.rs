//! The echo server and the client over real sockets on 127.0.0.1.

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::client::{self, parse_ws_url, ClientOptions, SessionOptions};
use wsprobe::net::server::{ServerConfig, SubprotocolPolicy};
use wsprobe::net::{CloseCause, Direction, FrameKind, NetCommand, NetEvent, RttKind};

async fn raw_connect(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    within("connect", tokio_tungstenite::connect_async(url))
        .await
        .expect("connect")
        .0
}

#[tokio::test]
async fn echo_is_byte_exact_for_text_binary_empty_and_large() {
    let (url, _events) = start_server(ServerConfig::default()).await;
    let mut ws = raw_connect(&url).await;
    let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 31 % 251) as u8).collect();
    let sent = vec![
        Message::text("hello"),
        Message::text("héllo 🌍 \u{0}\u{1b}[2J"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::text(""),
        Message::binary(Vec::<u8>::new()),
        Message::binary(big.clone()),
        Message::text("x".repeat(1 << 20)),
    ];
    for m in &sent {
        ws.send(m.clone()).await.unwrap();
    }
    for m in &sent {
        let got = within("echo", ws.next()).await.unwrap().unwrap();
        assert_eq!(&got, m, "echo differs");
    }
}

#[tokio::test]
async fn big_echoes_and_the_pongs_between_them_leave_in_order() {
    let (url, _events) = start_server(ServerConfig::default()).await;
    let (mut tx, mut rx) = raw_connect(&url).await.split();
    // Sent while nothing is read: the server's writes fill the socket and are
    // finished later, while pings come in between the big messages.
    let sizes = [1usize << 20, 70_000, 3 << 20, 64 * 1024, 200];
    let sending = tokio::spawn(async move {
        for (i, size) in sizes.iter().enumerate() {
            let body: Vec<u8> = (0..*size).map(|j| (i * 7 + j % 251) as u8).collect();
            tx.send(Message::binary(body)).await.expect("send");
            tx.send(Message::Ping(Bytes::from(vec![i as u8])))
                .await
                .expect("ping");
        }
        tx
    });
    for (i, size) in sizes.iter().enumerate() {
        let body: Vec<u8> = (0..*size).map(|j| (i * 7 + j % 251) as u8).collect();
        let echo = within("the echo", rx.next()).await.unwrap().unwrap();
        assert!(echo == Message::binary(body), "echo {i} whole and in order");
        let pong = within("the pong", rx.next()).await.unwrap().unwrap();
        assert_eq!(
            pong,
            Message::Pong(Bytes::from(vec![i as u8])),
            "after echo {i}"
        );
    }
    drop(sending.await.unwrap());
}

#[tokio::test]
async fn many_connections_lose_and_reorder_nothing() {
    let (url, _events) = start_server(ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    })
    .await;
    let mut tasks = Vec::new();
    for c in 0..200 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            let (mut tx, mut rx) = ws.split();
            let writer = tokio::spawn(async move {
                for i in 0..100 {
                    tx.feed(Message::text(format!("{c}:{i}"))).await.unwrap();
                }
                tx.flush().await.unwrap();
                tx
            });
            for i in 0..100 {
                let m = rx.next().await.unwrap().unwrap();
                assert_eq!(text(&m), format!("{c}:{i}"));
            }
            drop(writer.await.unwrap());
        }));
    }
    within("200 connections", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn prefix_is_prepended_to_text_only() {
    let (url, _events) = start_server(ServerConfig {
        prefix: Some("Echo: ".into()),
        ..ServerConfig::default()
    })
    .await;
    let mut ws = raw_connect(&url).await;
    ws.send(Message::text("hi")).await.unwrap();
    ws.send(Message::binary(vec![1, 2])).await.unwrap();
    assert_eq!(
        within("echo", ws.next()).await.unwrap().unwrap(),
        Message::text("Echo: hi")
    );
    assert_eq!(
        within("echo", ws.next()).await.unwrap().unwrap(),
        Message::binary(vec![1, 2])
    );
}

#[tokio::test]
async fn subprotocol_negotiation_and_request_headers_are_seen() {
    let (url, mut events) = start_server(ServerConfig {
        subprotocols: SubprotocolPolicy::OneOf(vec!["chat".into(), "json".into()]),
        ..ServerConfig::default()
    })
    .await;
    let mut req = format!("{url}/room?id=7").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", "mqtt, json".parse().unwrap());
    req.headers_mut().insert("x-test", "yes".parse().unwrap());
    let (_ws, resp) = within("connect", tokio_tungstenite::connect_async(req))
        .await
        .unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "json"
    );
    let NetEvent::Opened(o) =
        next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await
    else {
        unreachable!()
    };
    assert_eq!(o.path, "/room?id=7");
    assert_eq!(o.handshake.subprotocol.as_deref(), Some("json"));
    assert!(o
        .handshake
        .request_headers
        .iter()
        .any(|(k, v)| k == "x-test" && v == "yes"));
    assert_eq!(o.handshake.status, "101 Switching Protocols");
}

#[tokio::test]
async fn close_code_is_echoed_and_reported() {
    let (url, mut events) = start_server(ServerConfig::default()).await;
    let mut ws = raw_connect(&url).await;
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::from(4001),
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let reply = within("close reply", ws.next()).await.unwrap().unwrap();
    match reply {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 4001),
        other => panic!("expected close, got {other:?}"),
    }
    let ev = next_matching(&mut events, "closed", |e| {
        matches!(e, NetEvent::Closed { .. })
    })
    .await;
    let NetEvent::Closed { close, cause, .. } = ev else {
        unreachable!()
    };
    assert_eq!(cause, CloseCause::Peer);
    assert_eq!(close.unwrap().code, 4001);
}

#[tokio::test]
async fn oversize_message_closes_with_1009() {
    let (url, _events) = start_server(ServerConfig {
        max_message_size: 1024,
        ..ServerConfig::default()
    })
    .await;
    let mut ws = raw_connect(&url).await;
    ws.send(Message::text("small")).await.unwrap();
    assert_eq!(
        within("echo", ws.next()).await.unwrap().unwrap(),
        Message::text("small")
    );
    ws.send(Message::binary(vec![7u8; 4096])).await.unwrap();
    let reply = within("close", ws.next()).await.unwrap().unwrap();
    match reply {
        Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
}

#[tokio::test]
async fn server_answers_pings_and_commands_reach_a_connection() {
    let (url, mut events) = start_server(ServerConfig::default()).await;
    let mut ws = raw_connect(&url).await;
    ws.send(Message::Ping(Bytes::from_static(b"p1")))
        .await
        .unwrap();
    assert_eq!(
        within("pong", ws.next()).await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"p1"))
    );
    let NetEvent::Opened(o) =
        next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await
    else {
        unreachable!()
    };
    o.commands
        .send(NetCommand::Text("from server".into()))
        .await
        .unwrap();
    assert_eq!(
        within("push", ws.next()).await.unwrap().unwrap(),
        Message::text("from server")
    );
    // Counted without waiting for the client to send anything: the pong and the push.
    within("the push counted", async {
        while o.counters.snapshot().frames_out < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(o.counters.snapshot().frames_in, 1);
}

async fn wsprobe_client(
    url: &str,
    opts: SessionOptions,
) -> (
    wsprobe::net::inbox::Outbox<NetCommand>,
    mpsc::Receiver<NetEvent>,
) {
    let conn = within(
        "connect",
        client::connect(&ClientOptions::new(parse_ws_url(url).unwrap())),
    )
    .await
    .expect("connect");
    let (tx, rx) = mpsc::channel(10_000);
    let (commands, _task) = client::spawn(conn, 1, opts, tx);
    (commands, rx)
}

fn frame_in(e: &NetEvent, kind: FrameKind) -> bool {
    matches!(e, NetEvent::Frame(f) if f.dir == Direction::In && f.kind == kind)
}

#[tokio::test]
async fn echo_rtt_is_measured_with_and_without_prefix() {
    for prefix in [None, Some("Echo: ")] {
        let (url, _events) = start_server(ServerConfig {
            prefix: prefix.map(str::to_string),
            ..ServerConfig::default()
        })
        .await;
        let (commands, mut events) = wsprobe_client(
            &url,
            SessionOptions {
                echo_prefix: prefix.map(str::to_string),
                ..SessionOptions::default()
            },
        )
        .await;
        commands
            .send(NetCommand::Text("ping me".into()))
            .await
            .unwrap();
        let NetEvent::Frame(f) =
            next_matching(&mut events, "echo", |e| frame_in(e, FrameKind::Text)).await
        else {
            unreachable!()
        };
        let rtt = f.rtt.expect("echo has an RTT");
        assert_eq!(rtt.kind, RttKind::Echo);
        assert!(rtt.duration > Duration::ZERO);
    }
}

#[tokio::test]
async fn ping_interval_gives_ping_rtts() {
    let (url, _events) = start_server(ServerConfig::default()).await;
    let (_commands, mut events) = wsprobe_client(
        &url,
        SessionOptions {
            ping_interval: Some(Duration::from_millis(20)),
            ..SessionOptions::default()
        },
    )
    .await;
    for _ in 0..3 {
        let NetEvent::Frame(f) =
            next_matching(&mut events, "pong", |e| frame_in(e, FrameKind::Pong)).await
        else {
            unreachable!()
        };
        assert_eq!(f.rtt.expect("pong has an RTT").kind, RttKind::Ping);
        assert!(f.payload.starts_with(b"wsprobe-ping "));
    }
}

#[tokio::test]
async fn unsolicited_messages_are_unmatched() {
    let url = raw_server(|mut ws| async move {
        ws.send(Message::text("welcome")).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_text() {
                ws.send(m).await.unwrap();
            }
        }
    })
    .await;
    let (commands, mut events) = wsprobe_client(&url, SessionOptions::default()).await;
    let NetEvent::Frame(f) =
        next_matching(&mut events, "push", |e| frame_in(e, FrameKind::Text)).await
    else {
        unreachable!()
    };
    assert_eq!(&f.payload[..], b"welcome");
    assert!(f.rtt.is_none());
    commands.send(NetCommand::Text("x".into())).await.unwrap();
    let NetEvent::Frame(f) =
        next_matching(&mut events, "echo", |e| frame_in(e, FrameKind::Text)).await
    else {
        unreachable!()
    };
    assert!(f.rtt.is_some());
}

#[tokio::test]
async fn echo_mode_sends_everything_back_to_a_raw_server() {
    let (done_tx, mut done_rx) = mpsc::channel(1);
    let url = raw_server(move |mut ws| async move {
        let sent = [
            Message::text("one"),
            Message::binary(vec![9u8, 8]),
            Message::text(""),
        ];
        for m in &sent {
            ws.send(m.clone()).await.unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..sent.len() {
            got.push(ws.next().await.unwrap().unwrap());
        }
        ws.close(None).await.unwrap();
        done_tx.send(got == sent).await.unwrap();
    })
    .await;
    let (_commands, mut events) = wsprobe_client(
        &url,
        SessionOptions {
            echo: true,
            // As the command line has it: `--protocol auto` listening too.
            speaker: Some(std::sync::Arc::new(
                wsprobe::proto::speech::Speech::default(),
            )),
            ..SessionOptions::default()
        },
    )
    .await;
    assert!(
        within("raw server verdict", done_rx.recv()).await.unwrap(),
        "echoes differ"
    );
    let ev = next_matching(&mut events, "closed", |e| {
        matches!(e, NetEvent::Closed { .. })
    })
    .await;
    assert!(matches!(
        ev,
        NetEvent::Closed {
            cause: CloseCause::Peer,
            ..
        }
    ));
}

#[tokio::test]
async fn client_close_completes_the_handshake() {
    let (url, _events) = start_server(ServerConfig::default()).await;
    let (commands, mut events) = wsprobe_client(&url, SessionOptions::default()).await;
    commands
        .send(NetCommand::Close(Some(wsprobe::net::CloseInfo::new(
            4000, "done",
        ))))
        .await
        .unwrap();
    let reply = next_matching(&mut events, "close reply", |e| {
        frame_in(e, FrameKind::Close)
    })
    .await;
    let NetEvent::Frame(f) = reply else {
        unreachable!()
    };
    assert_eq!(f.close.unwrap().code, 4000);
    let ev = next_matching(&mut events, "closed", |e| {
        matches!(e, NetEvent::Closed { .. })
    })
    .await;
    assert!(matches!(
        ev,
        NetEvent::Closed {
            cause: CloseCause::Local,
            ..
        }
    ));
}

#[tokio::test]
async fn non_101_answer_is_reported_with_status() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
            )
            .await;
    });
    let err = client::connect(&ClientOptions::new(
        parse_ws_url(&format!("ws://{addr}")).unwrap(),
    ))
    .await
    .err()
    .expect("must fail");
    let msg = err.to_string();
    assert!(msg.contains("200 OK"), "{msg}");
    assert!(msg.contains("hello"), "{msg}");
    assert_eq!(err.exit_code(), 1);
}

#[tokio::test]
async fn connect_timeout_says_which_timeout() {
    // A listener that never accepts still completes TCP (backlog), so the
    // handshake is what times out.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut opts = ClientOptions::new(parse_ws_url(&format!("ws://{addr}")).unwrap());
    opts.connect_timeout = Duration::from_millis(200);
    let err = client::connect(&opts).await.err().expect("must time out");
    let msg = err.to_string();
    assert!(
        msg.contains("timed out") && msg.contains("handshake") && msg.contains("--connect-timeout"),
        "{msg}"
    );
    drop(listener);
}

/// A masked client frame, written by hand: FIN + opcode, optional RSV bits.
fn raw_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![first_byte, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Sends `close_payload` as a client's close frame and returns what the server
/// logged: the incoming close, the reply and how the connection ended.
async fn server_logs_for_close(
    close_payload: &[u8],
) -> (Option<NetEvent>, Option<NetEvent>, NetEvent) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (url, mut events) = start_server(ServerConfig::default()).await;
    let ws = raw_connect(&url).await;
    let tokio_tungstenite::MaybeTlsStream::Plain(mut tcp) = ws.into_inner() else {
        panic!("plain TCP expected")
    };
    // Some traffic first, so the close is not the only thing read.
    tcp.write_all(&raw_frame(0x81, b"before")).await.unwrap();
    tcp.write_all(&raw_frame(0x88, close_payload))
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    within("the server to finish", async {
        while tcp.read(&mut buf).await.unwrap_or(0) > 0 {}
    })
    .await;
    // Frames come before the Closed event: collect the close frames on the way.
    let (mut close_in, mut close_out) = (None, None);
    let closed = within("the closed event", async {
        loop {
            let ev = events.recv().await.expect("events");
            match &ev {
                NetEvent::Closed { .. } => return ev,
                NetEvent::Frame(f) if f.kind == FrameKind::Close && f.dir == Direction::In => {
                    close_in = Some(ev)
                }
                NetEvent::Frame(f) if f.kind == FrameKind::Close => close_out = Some(ev),
                _ => {}
            }
        }
    })
    .await;
    (close_in, close_out, closed)
}

#[tokio::test]
async fn an_invalid_close_code_is_logged_as_sent_and_the_1002_reply_apart() {
    for (code, reason) in [(5000u16, "bye"), (1005, "")] {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        let (close_in, close_out, closed) = server_logs_for_close(&payload).await;
        let Some(NetEvent::Frame(i)) = close_in else {
            panic!("no incoming close")
        };
        let c = i.close.expect("a code");
        assert_eq!((c.code, c.reason.as_str(), c.invalid), (code, reason, true));
        let Some(NetEvent::Frame(o)) = close_out else {
            panic!("no reply")
        };
        assert_eq!(o.close.map(|c| (c.code, c.invalid)), Some((1002, false)));
        let NetEvent::Closed { close, cause, .. } = closed else {
            unreachable!()
        };
        assert_eq!(close.map(|c| c.code), Some(code));
        let CloseCause::Error(why) = cause else {
            panic!("{cause:?}")
        };
        assert!(
            why.contains(&format!("close code {code}")) && why.contains("1002"),
            "{why}"
        );
    }
}

#[tokio::test]
async fn a_legal_1002_from_the_peer_stays_a_peer_close() {
    let (close_in, _, closed) = server_logs_for_close(b"\x03\xeaProtocol violation").await;
    let Some(NetEvent::Frame(i)) = close_in else {
        panic!("no incoming close")
    };
    assert_eq!(i.close.map(|c| (c.code, c.invalid)), Some((1002, false)));
    let NetEvent::Closed { cause, .. } = closed else {
        unreachable!()
    };
    assert_eq!(cause, CloseCause::Peer);
}

#[tokio::test]
async fn a_one_byte_close_payload_is_worded() {
    let (_, _, closed) = server_logs_for_close(&[3]).await;
    let NetEvent::Closed { cause, .. } = closed else {
        unreachable!()
    };
    let CloseCause::Error(why) = cause else {
        panic!("{cause:?}")
    };
    assert!(why.contains("1-byte payload"), "{why}");
}

#[tokio::test]
async fn echoes_read_before_a_bad_frame_are_still_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (url, _events) = start_server(ServerConfig::default()).await;
    let ws = raw_connect(&url).await;
    let tokio_tungstenite::MaybeTlsStream::Plain(mut tcp) = ws.into_inner() else {
        panic!("plain TCP expected")
    };
    // A good text frame and, in the same write, one with a reserved bit set.
    let mut bytes = raw_frame(0x81, b"hello");
    bytes.extend(raw_frame(0x81 | 0x40, b"bad"));
    tcp.write_all(&bytes).await.unwrap();
    let mut got = Vec::new();
    within("the echo and the close", async {
        let mut buf = [0u8; 256];
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(
        got.starts_with(&[0x81, 0x05, b'h', b'e', b'l', b'l', b'o']),
        "{got:02x?}"
    );
}

mod faults {
    use super::*;
    use wsprobe::net::server::faults::Faults;

    fn with(faults: Faults) -> ServerConfig {
        ServerConfig {
            faults,
            ..ServerConfig::default()
        }
    }

    #[tokio::test]
    async fn drop_all_echoes_nothing_and_drop_none_echoes_all() {
        let (url, _e) = start_server(with(Faults {
            drop_percent: 100.0,
            ..Faults::default()
        }))
        .await;
        let mut ws = raw_connect(&url).await;
        ws.send(Message::text("gone")).await.unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
        // The pong still comes; the echo does not.
        assert_eq!(
            within("pong", ws.next()).await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"p"))
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(300), ws.next())
                .await
                .is_err(),
            "no echo"
        );
    }

    #[tokio::test]
    async fn no_pong_answers_no_ping_and_echoes_everything_else() {
        let (url, mut events) = start_server(with(Faults {
            no_pong: true,
            ..Faults::default()
        }))
        .await;
        let mut ws = raw_connect(&url).await;
        // Pings before, between and after messages of every length encoding.
        let big = "x".repeat(70_000);
        let sent = [
            Message::text("a"),
            Message::text("b".repeat(300)),
            Message::text(big),
        ];
        for m in &sent {
            ws.send(Message::Ping(Bytes::from_static(b"p")))
                .await
                .unwrap();
            ws.send(m.clone()).await.unwrap();
        }
        ws.send(Message::Ping(Bytes::from_static(b"last")))
            .await
            .unwrap();
        for m in &sent {
            assert_eq!(&within("echo", ws.next()).await.unwrap().unwrap(), m);
        }
        assert!(
            tokio::time::timeout(Duration::from_millis(300), ws.next())
                .await
                .is_err(),
            "no pong may come"
        );
        let ev = next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await;
        let NetEvent::Opened(o) = ev else {
            unreachable!()
        };
        assert_eq!(o.faults.as_deref(), Some("no pong"));
    }

    #[tokio::test]
    async fn a_client_with_ping_timeout_gives_up_on_a_no_pong_server() {
        let (url, _e) = start_server(with(Faults {
            no_pong: true,
            ..Faults::default()
        }))
        .await;
        let (_commands, mut events) = wsprobe_client(
            &url,
            SessionOptions {
                ping_interval: Some(Duration::from_millis(50)),
                ping_timeout: Some(Duration::from_millis(200)),
                ..SessionOptions::default()
            },
        )
        .await;
        let ev = next_matching(&mut events, "closed", |e| {
            matches!(e, NetEvent::Closed { .. })
        })
        .await;
        let NetEvent::Closed { cause, .. } = ev else {
            unreachable!()
        };
        assert!(
            matches!(&cause, CloseCause::Error(e) if e.starts_with("ping timeout")),
            "{cause:?}"
        );
    }

    #[tokio::test]
    async fn close_after_n_messages_with_the_code() {
        let (url, mut events) = start_server(with(Faults {
            close_after: Some(3),
            close_code: 4000,
            ..Faults::default()
        }))
        .await;
        let mut ws = raw_connect(&url).await;
        for i in 0..5 {
            let _ = ws.send(Message::text(format!("m{i}"))).await;
        }
        for i in 0..3 {
            assert_eq!(
                within("echo", ws.next()).await.unwrap().unwrap(),
                Message::text(format!("m{i}"))
            );
        }
        match within("close", ws.next()).await.unwrap().unwrap() {
            Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 4000),
            other => panic!("expected close 4000, got {other:?}"),
        }
        let NetEvent::Opened(o) =
            next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await
        else {
            unreachable!()
        };
        assert_eq!(o.faults.as_deref(), Some("close after 3 with 4000"));
    }

    #[tokio::test]
    async fn fragment_splits_each_echo_into_frames() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (url, _e) = start_server(with(Faults {
            fragment: 3,
            ..Faults::default()
        }))
        .await;
        let ws = raw_connect(&url).await;
        let tokio_tungstenite::MaybeTlsStream::Plain(mut tcp) = ws.into_inner() else {
            panic!("plain TCP expected")
        };
        tcp.write_all(&raw_frame(0x81, b"abcdef")).await.unwrap();
        let mut got = vec![0u8; 12];
        within("three frames", tcp.read_exact(&mut got))
            .await
            .unwrap();
        // Text without FIN "ab", continuation "cd", final continuation "ef".
        assert_eq!(
            got,
            [0x01, 2, b'a', b'b', 0x00, 2, b'c', b'd', 0x80, 2, b'e', b'f']
        );
        // And a client reassembles it into the message that was sent.
        let mut ws = raw_connect(&url).await;
        ws.send(Message::text("héllo wörld")).await.unwrap();
        assert_eq!(
            within("echo", ws.next()).await.unwrap().unwrap(),
            Message::text("héllo wörld")
        );
    }

    #[tokio::test]
    async fn delay_and_jitter_hold_echoes_back_and_keep_their_order() {
        let delay = Duration::from_millis(150);
        let (url, _e) = start_server(with(Faults {
            delay,
            jitter: Duration::from_millis(100),
            ..Faults::default()
        }))
        .await;
        let mut ws = raw_connect(&url).await;
        let sent = std::time::Instant::now();
        for i in 0..20 {
            ws.send(Message::text(format!("m{i}"))).await.unwrap();
        }
        for i in 0..20 {
            assert_eq!(
                within("echo", ws.next()).await.unwrap().unwrap(),
                Message::text(format!("m{i}"))
            );
        }
        // A lower bound only: an echo cannot leave before its delay.
        assert!(
            sent.elapsed() >= delay,
            "echoes came back after {:?}",
            sent.elapsed()
        );
        // Pings are not held back.
        ws.send(Message::Ping(Bytes::from_static(b"now")))
            .await
            .unwrap();
        assert_eq!(
            within("pong", ws.next()).await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"now"))
        );
    }

    #[tokio::test]
    async fn drop_and_delay_can_be_switched_off_while_running() {
        let switches = std::sync::Arc::new(wsprobe::net::server::faults::Switches::default());
        let (url, _e) = start_server(ServerConfig {
            faults: Faults {
                drop_percent: 100.0,
                delay: Duration::from_secs(3600),
                ..Faults::default()
            },
            switches: switches.clone(),
            ..ServerConfig::default()
        })
        .await;
        let mut ws = raw_connect(&url).await;
        ws.send(Message::text("swallowed")).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(200), ws.next())
            .await
            .is_err());
        switches.toggle_drop();
        ws.send(Message::text("held an hour")).await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(200), ws.next())
            .await
            .is_err());
        switches.toggle_delay();
        ws.send(Message::text("now")).await.unwrap();
        // The held one stays held (it was queued for an hour); the new one is not.
        assert_eq!(
            within("echo", ws.next()).await.unwrap().unwrap(),
            Message::text("now")
        );
    }

    #[tokio::test]
    async fn beyond_max_connections_the_handshake_gets_503() {
        let (url, mut events) = start_server(with(Faults {
            max_connections: Some(1),
            ..Faults::default()
        }))
        .await;
        let _first = raw_connect(&url).await;
        // The first counts once the server has it open.
        next_matching(&mut events, "the first open", |e| {
            matches!(e, NetEvent::Opened(_))
        })
        .await;
        let err = client::connect(&ClientOptions::new(parse_ws_url(&url).unwrap()))
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("503"), "{err}");
    }
}
