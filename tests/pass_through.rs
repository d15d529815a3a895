//! Big binary messages are echoed while they arrive: a peer sees its echo begin
//! before it has sent the end. Checked with a raw socket, byte for byte, so
//! nothing of wsprobe's (or tungstenite's) decides what counts as right.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wsprobe::net::server::ServerConfig;
use wsprobe::net::{CloseInfo, NetCommand, NetEvent};

const KEY: [u8; 4] = [0xa1, 0x05, 0x7c, 0xe3];

/// A masked frame as a client sends it.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&KEY);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    f
}

/// The same frame as a server sends it (unmasked).
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n < 65536 => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

async fn upgraded(url: &str) -> TcpStream {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    upgrade(tcp).await
}

/// The WebSocket upgrade, by hand, over any stream.
async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(mut tcp: S) -> S {
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        within("the 101", tcp.read_exact(&mut b)).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

async fn read_n<S: AsyncRead + Unpin>(tcp: &mut S, n: usize, what: &str) -> Vec<u8> {
    let mut got = vec![0u8; n];
    within(what, tcp.read_exact(&mut got)).await.unwrap();
    got
}

/// Sends half of a big binary frame and waits for a good part of its echo
/// (header and payload, unmasked) before sending the rest.
async fn echo_begins_before_the_frame_ends<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    payload: &[u8],
) {
    let frame = client_frame(2, payload);
    let half = frame.len() / 2;
    s.write_all(&frame[..half]).await.unwrap();
    s.flush().await.unwrap();
    let echo = server_frame(2, payload);
    let early = half / 2;
    let got = read_n(s, early, "the echo's first half, before the frame ends").await;
    assert!(got == echo[..early]);
    s.write_all(&frame[half..]).await.unwrap();
    s.flush().await.unwrap();
    let rest = read_n(s, echo.len() - early, "the rest of the echo").await;
    assert!(rest == echo[early..]);
}

#[tokio::test]
async fn over_tls_too_the_echo_leaves_while_the_frame_is_still_arriving() {
    // The passing frame's echo goes through rustls, which buffers records:
    // its first pieces still leave before the frame's last bytes come.
    let config = ServerConfig {
        report_frames: false,
        tls: Some(wsprobe::net::tls::self_signed().unwrap().config),
        ..ServerConfig::default()
    };
    let (url, _events) = start_server(config).await;
    let addr = url.trim_start_matches("wss://").trim_end_matches('/');
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let client = wsprobe::net::tls::client_config(true, None).unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = within(
        "the TLS handshake",
        tokio_rustls::TlsConnector::from(client).connect(name, tcp),
    )
    .await
    .unwrap();
    let mut tls = upgrade(tls).await;
    let payload: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    echo_begins_before_the_frame_ends(&mut tls, &payload).await;
}

#[tokio::test]
async fn a_big_binary_message_is_echoed_while_it_is_still_arriving() {
    let config = ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    };
    let (url, mut events) = start_server(config).await;
    let mut tcp = upgraded(&url).await;
    let payload: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    echo_begins_before_the_frame_ends(&mut tcp, &payload).await;

    // What follows is echoed as ever, in order: a small text, a ping, a second
    // big message sent in one piece.
    let second: Vec<u8> = payload.iter().rev().take(300_000).copied().collect();
    let burst = [
        client_frame(1, b"after"),
        client_frame(9, b"p"),
        client_frame(2, &second),
    ]
    .concat();
    tcp.write_all(&burst).await.unwrap();
    let expected = [
        server_frame(1, b"after"),
        server_frame(0xA, b"p"),
        server_frame(2, &second),
    ]
    .concat();
    let got = read_n(&mut tcp, expected.len(), "the burst's echoes").await;
    assert!(got == expected);

    // Every message counted, the ones echoed on the way included.
    let NetEvent::Opened(opened) =
        next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await
    else {
        unreachable!()
    };
    let bytes = (payload.len() + 5 + 1 + second.len()) as u64;
    within("every message counted", async {
        loop {
            let c = opened.counters.snapshot();
            if c.frames_in == 4 && c.bytes_in == bytes && c.frames_out == 4 && c.bytes_out == bytes
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    tcp.write_all(&client_frame(8, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    let close = read_n(&mut tcp, 4, "the close answered").await;
    assert_eq!(close, server_frame(8, &1000u16.to_be_bytes()));
}

#[tokio::test]
async fn a_peer_that_reads_nothing_until_it_has_sent_all_is_still_echoed() {
    // 24 MiB sent before a byte is read: more than the sockets hold, so an
    // echo that stopped reading while its writes wait would leave both
    // sides stuck.
    let config = ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    };
    let (url, _events) = start_server(config).await;
    let mut tcp = upgraded(&url).await;
    let payload: Vec<u8> = (0..24 << 20).map(|i: u32| (i % 241) as u8).collect();
    let frame = client_frame(2, &payload);
    within("the whole frame sent", tcp.write_all(&frame))
        .await
        .unwrap();
    let echo = server_frame(2, &payload);
    let got = read_n(&mut tcp, echo.len(), "its echo").await;
    assert!(got == echo);
}

#[tokio::test]
async fn nothing_is_echoed_after_the_servers_close_frame() {
    let config = ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    };
    let (url, mut events) = start_server(config).await;
    let mut tcp = upgraded(&url).await;
    let NetEvent::Opened(opened) =
        next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await
    else {
        unreachable!()
    };
    let info = CloseInfo::new(4000, "bye");
    opened
        .commands
        .send(NetCommand::Close(Some(info.clone())))
        .await
        .unwrap();
    let close = server_frame(8, &info.payload());
    let got = read_n(&mut tcp, close.len(), "the server's close").await;
    assert_eq!(got, close);
    // A big binary message on its way before the peer saw the close, then the
    // peer's answer: the connection ends with nothing more from the server.
    let late: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    tcp.write_all(&client_frame(2, &late)).await.unwrap();
    tcp.write_all(&client_frame(8, &info.payload()))
        .await
        .unwrap();
    let mut after = Vec::new();
    within("the server's end", tcp.read_to_end(&mut after))
        .await
        .unwrap();
    assert!(after.is_empty(), "{} bytes after the close", after.len());
}
