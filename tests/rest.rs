//! An idle echo connection puts its WebSocket socket down and makes a fresh one
//! when the peer speaks again: nothing the peer sent or is owed may be lost on
//! the way, whatever it was doing when the connection went quiet.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::server::{Registry, Server, ServerConfig};
use wsprobe::net::{CloseCause, CloseInfo, NetEvent};

const QUIET: Duration = Duration::from_millis(30);

struct Resting {
    url: String,
    events: mpsc::Receiver<NetEvent>,
    resting: Arc<AtomicU64>,
    registry: Registry,
}

async fn server() -> Resting {
    let config = ServerConfig {
        rest_after: QUIET,
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0", config).await.expect("bind");
    let (tx, events) = mpsc::channel(10_000);
    let (url, resting, registry) = (server.url(), server.resting(), server.registry());
    tokio::spawn(server.run(tx));
    Resting {
        url,
        events,
        resting,
        registry,
    }
}

/// Waits until exactly `n` connections rest.
async fn resting(r: &Resting, n: u64) {
    within(&format!("{n} resting connections"), async {
        while r.resting.load(Ordering::Relaxed) != n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Ws {
    within("connect", tokio_tungstenite::connect_async(url))
        .await
        .expect("connect")
        .0
}

async fn echo(ws: &mut Ws, m: Message) {
    ws.send(m.clone()).await.unwrap();
    let got = within("echo", ws.next()).await.unwrap().unwrap();
    assert_eq!(got, m, "echo differs");
}

#[tokio::test]
async fn a_quiet_connection_rests_and_echoes_on_when_spoken_to() {
    let r = server().await;
    let mut ws = connect(&r.url).await;
    // Fresh from its handshake, with nothing to read, it rests at once.
    resting(&r, 1).await;
    echo(&mut ws, Message::text("first")).await;
    resting(&r, 1).await;
    echo(&mut ws, Message::binary(vec![7u8; 10])).await;
    // A ping wakes it too, and its pong comes back.
    resting(&r, 1).await;
    ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let pong = within("pong", ws.next()).await.unwrap().unwrap();
    assert_eq!(pong, Message::Pong(b"p".to_vec().into()));
}

#[tokio::test]
async fn big_messages_after_a_rest_grow_the_buffer_and_arrive_whole() {
    let r = server().await;
    let mut ws = connect(&r.url).await;
    let big: Vec<u8> = (0..(3usize << 20)).map(|i| (i * 7 % 251) as u8).collect();
    for _ in 0..3 {
        resting(&r, 1).await;
        echo(&mut ws, Message::binary(big.clone())).await;
        echo(&mut ws, Message::text("small after big")).await;
    }
}

#[tokio::test]
async fn the_buffer_grows_with_big_messages_in_flight_and_loses_no_byte() {
    let r = server().await;
    let mut ws = connect(&r.url).await;
    // Several big messages sent at once: when the first has been echoed the
    // socket already holds part of the next, which the larger one must get.
    let sent: Vec<Message> = (0..4u8)
        .map(|n| {
            Message::binary(
                (0..(1usize << 20) + 7)
                    .map(|i| (i as u8) ^ n)
                    .collect::<Vec<u8>>(),
            )
        })
        .collect();
    for m in &sent {
        ws.feed(m.clone()).await.unwrap();
    }
    ws.flush().await.unwrap();
    for m in &sent {
        let got = within("echo", ws.next()).await.unwrap().unwrap();
        assert_eq!(&got, m, "echo differs");
    }
    echo(&mut ws, Message::text("small after big")).await;
}

#[tokio::test]
async fn half_a_message_keeps_the_socket_until_the_rest_of_it_comes() {
    let mut r = server().await;
    let mut first = connect(&r.url).await;
    resting(&r, 1).await;
    first
        .send(Message::Frame(Frame::message(
            b"hel".to_vec(),
            OpCode::Data(Data::Text),
            false,
        )))
        .await
        .unwrap();
    // A second connection, quiet from well after the first went quiet, rests
    // later than the first could have: only it may rest.
    tokio::time::sleep(QUIET * 3).await;
    let mut second = connect(&r.url).await;
    echo(&mut second, Message::text("later")).await;
    resting(&r, 1).await;
    first
        .send(Message::Frame(Frame::message(
            b"lo".to_vec(),
            OpCode::Data(Data::Continue),
            true,
        )))
        .await
        .unwrap();
    let got = within("echo", first.next()).await.unwrap().unwrap();
    assert_eq!(got, Message::text("hello"));
    // Both report frames as usual.
    next_matching(
        &mut r.events,
        "the whole message",
        |ev| matches!(ev, NetEvent::Frame(f) if f.payload.as_ref() == b"hello"),
    )
    .await;
}

#[tokio::test]
async fn a_shutdown_closes_resting_connections_with_its_code() {
    let r = server().await;
    let mut ws = connect(&r.url).await;
    resting(&r, 1).await;
    let registry = r.registry.clone();
    let closing = tokio::spawn(async move {
        registry
            .close_all(
                CloseInfo::new(1001, "server shutting down"),
                Duration::from_secs(5),
            )
            .await
    });
    let got = within("close", ws.next()).await.unwrap().unwrap();
    match got {
        Message::Close(Some(c)) => assert_eq!(u16::from(c.code), 1001),
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(ws);
    within("close_all", closing).await.unwrap();
    assert!(r.registry.is_empty());
    assert_eq!(r.resting.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_peer_that_vanishes_while_resting_is_reported_closed() {
    let mut r = server().await;
    let ws = connect(&r.url).await;
    resting(&r, 1).await;
    drop(ws);
    let closed = next_matching(&mut r.events, "closed", |ev| {
        matches!(ev, NetEvent::Closed { .. })
    })
    .await;
    let NetEvent::Closed { close, cause, .. } = closed else {
        unreachable!()
    };
    assert!(close.is_none());
    assert!(
        matches!(&cause, CloseCause::Error(e) if e.contains("without a close frame")),
        "{cause:?}"
    );
    resting(&r, 0).await;
}

#[tokio::test]
async fn a_close_from_a_resting_peer_is_answered_with_its_code() {
    let mut r = server().await;
    let mut ws = connect(&r.url).await;
    resting(&r, 1).await;
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 4000.into(),
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    let reply = within("close reply", ws.next()).await.unwrap().unwrap();
    assert!(matches!(reply, Message::Close(Some(c)) if u16::from(c.code) == 4000));
    let closed = next_matching(&mut r.events, "closed", |ev| {
        matches!(ev, NetEvent::Closed { .. })
    })
    .await;
    let NetEvent::Closed { close, .. } = closed else {
        unreachable!()
    };
    assert_eq!(close.map(|c| c.code), Some(4000));
}
