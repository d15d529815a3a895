//! Hostile and broken peers over loopback: a client that never reads, one that
//! never finishes its handshake, and servers that misbehave in every way a client
//! must survive with a clear message and the right exit code.

mod support;

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use support::bin::{wsprobe, ServerProcess};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::server::ServerConfig;
use wsprobe::net::NetEvent;

#[tokio::test]
async fn a_client_that_never_reads_cannot_grow_the_server() {
    let (url, mut events) = start_server(ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    })
    .await;
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let NetEvent::Opened(opened) =
        next_matching(&mut events, "open", |e| matches!(e, NetEvent::Opened(_))).await
    else {
        unreachable!()
    };
    // Push 256 MiB of echo-able messages and never read a byte of the echoes.
    let (mut sink, _stream_never_read) = ws.split();
    let writer = tokio::spawn(async move {
        let chunk = vec![7u8; 64 << 10];
        for _ in 0..4096 {
            if sink.send(Message::binary(chunk.clone())).await.is_err() {
                break;
            }
        }
    });
    // Wait for the server's intake to stall: the writer is then held back by
    // back-pressure (or it finished: all 256 MiB taken, which fails below).
    let taken = within("the intake to stall", async {
        let mut last = (0, 0);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = opened.counters.snapshot().bytes_in;
            last = if now == last.0 && now > 0 {
                (now, last.1 + 1)
            } else {
                (now, 0)
            };
            if last.1 >= 10 || writer.is_finished() {
                return now;
            }
        }
    })
    .await;
    assert!(
        !writer.is_finished(),
        "the writer should be held back by back-pressure"
    );
    // Socket buffers plus one write buffer: a few MiB, nowhere near 256.
    assert!(
        taken < 32 << 20,
        "the server took in {taken} bytes from a client that does not read"
    );
    writer.abort();
}

#[tokio::test]
async fn an_unfinished_handshake_is_dropped_after_the_timeout() {
    let (url, mut events) = start_server(ServerConfig {
        handshake_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(url.trim_start_matches("ws://"))
        .await
        .unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = within("the server to hang up", tcp.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0, "the server closed the socket");
    let ev = next_matching(&mut events, "the error", |e| {
        matches!(e, NetEvent::Error { .. })
    })
    .await;
    let NetEvent::Error { message, .. } = ev else {
        unreachable!()
    };
    assert!(message.contains("timed out"), "{message}");
}

/// Runs `wsprobe client URL args…` headless, returning (code, stderr). With
/// `--echo` it waits for what the server sends instead of closing at end of input.
fn client(url: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = wsprobe()
        .args(["client", url])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_raw_server<F, Fut>(script: F) -> String
where
    F: FnOnce(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    // The runtime must outlive the client process; leak it for the test's life.
    let rt = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
    rt.block_on(raw_server(script))
}

#[test]
fn garbage_after_the_handshake_is_a_protocol_error() {
    let url = with_raw_server(|mut ws| async move {
        let _ = ws
            .get_mut()
            .write_all(b"\xff\xff\xff\xffnot a websocket frame")
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let (code, stderr) = client(&url, &["--echo"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("protocol error"), "{stderr}");
}

#[test]
fn invalid_utf8_in_a_text_frame_is_reported() {
    let url = with_raw_server(|mut ws| async move {
        // FIN + text, unmasked, two bytes that are not UTF-8.
        let _ = ws.get_mut().write_all(&[0x81, 0x02, 0xff, 0xfe]).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let (code, stderr) = client(&url, &["--echo"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not valid UTF-8"), "{stderr}");
}

#[test]
fn a_message_over_the_limit_is_refused_before_it_is_read() {
    let url = with_raw_server(|mut ws| async move {
        let _ = ws.send(Message::binary(vec![0u8; 100 << 20])).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let (code, stderr) = client(&url, &["--max-message-size", "1MiB", "--echo"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("larger than allowed") && stderr.contains("--max-message-size"),
        "{stderr}"
    );
}

#[test]
fn a_server_killed_mid_flood_ends_the_client_with_1() {
    let mut server = ServerProcess::start(&["-q"]);
    let url = server.url.clone();
    let mut client = wsprobe()
        .args(["client", &url, "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let line = "flood ".repeat(20) + "\n";
        while stdin.write_all(line.as_bytes()).is_ok() {}
    });
    // Mid flood: the connection is open and lines are going out.
    server.wait_for_line("the client's connection", |l| l.contains(" open "));
    server.child.kill().unwrap();
    let _ = server.child.wait();
    let out = client.wait_with_output().unwrap();
    let _ = feeder.join();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("reset") || stderr.contains("without a close frame"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_stops_reading_cannot_hold_the_client_forever() {
    // The server completes the handshake, then never reads again.
    let url = with_raw_server(|ws| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(ws);
    });
    let mut client = wsprobe()
        .args(["client", &url, "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = written.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        let line = "x".repeat(64 << 10) + "\n";
        while stdin.write_all(line.as_bytes()).is_ok() {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    // Socket buffers and the client's queue fill up (our writes stall); then
    // the user gives up.
    let deadline = std::time::Instant::now() + support::WAIT;
    let mut still = (0, 0);
    while still.1 < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the client never stopped taking input"
        );
        std::thread::sleep(Duration::from_millis(50));
        let now = written.load(std::sync::atomic::Ordering::Relaxed);
        still = if now == still.0 && now > 0 {
            (now, still.1 + 1)
        } else {
            (now, 0)
        };
    }
    support::bin::sigterm(&client);
    let out = client.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did not close"), "{stderr}");
}

#[test]
fn a_server_closing_with_an_invalid_code_is_reported_as_it_sent_it() {
    let url = with_raw_server(|mut ws| async move {
        // 5000 may not be sent; a server's frames are not masked.
        let _ = ws
            .get_mut()
            .write_all(&[0x88, 0x05, 0x13, 0x88, b'b', b'y', b'e'])
            .await;
        while ws.next().await.is_some() {}
    });
    // Input stays open: the client's own close at the end of its input could
    // cross the server's and end the run as closed by us.
    let out = support::bin::run_with_open_input(
        wsprobe().args(["client", &url, "--json"]),
        "the client did not end when the server closed",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let records = json::stdout(&out);
    let close_in = json::frame(&records, "in", "close").expect("the incoming close");
    assert_eq!(
        (
            close_in["code"].as_u64(),
            close_in["code_invalid"].as_bool()
        ),
        (Some(5000), Some(true))
    );
    assert_eq!(close_in["reason"], "bye");
    let close_out = json::frame(&records, "out", "close").expect("our answer");
    assert_eq!(close_out["code"], 1002);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("close code 5000") && stderr.contains("1002"),
        "{stderr}"
    );
}
