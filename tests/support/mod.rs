//! Shared helpers for the integration tests: servers on 127.0.0.1:0, timeouts on
//! every wait, and plain tokio-tungstenite peers that share no code with wsprobe.
#![allow(dead_code)]

pub mod bin;
pub mod json;
pub mod lines;
pub mod peers;
pub mod pty;

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::server::{Server, ServerConfig};
use wsprobe::net::NetEvent;

pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `f`, failing the test instead of hanging.
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A wsprobe echo server on a free loopback port; its events come out of the receiver.
pub async fn start_server(config: ServerConfig) -> (String, mpsc::Receiver<NetEvent>) {
    let server = Server::bind("127.0.0.1:0", config).await.expect("bind");
    let url = server.url();
    let (tx, rx) = mpsc::channel(100_000);
    tokio::spawn(server.run(tx));
    (url, rx)
}

/// Receives events until one matches.
pub async fn next_matching(
    rx: &mut mpsc::Receiver<NetEvent>,
    what: &str,
    pred: impl Fn(&NetEvent) -> bool,
) -> NetEvent {
    within(what, async {
        loop {
            let ev = rx.recv().await.expect("event channel closed");
            if pred(&ev) {
                return ev;
            }
        }
    })
    .await
}

/// A raw tokio-tungstenite server on 127.0.0.1:0 that runs `script` on its first
/// connection. Returns its ws:// URL.
pub async fn raw_server<F, Fut>(script: F) -> String
where
    F: FnOnce(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        script(ws).await;
    });
    format!("ws://{addr}")
}

/// A raw echo server that waits `delay` before each echo.
pub async fn slow_echo_server(delay: Duration) -> String {
    raw_server(move |mut ws| async move {
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_text() || msg.is_binary() {
                tokio::time::sleep(delay).await;
                if ws.send(msg).await.is_err() {
                    break;
                }
            }
        }
    })
    .await
}

/// A loopback port nothing listens on: bound, then let go.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An empty directory of this test's own, mode 0700, under the temp directory.
pub fn scratch(name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("wsprobe-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

pub fn text(m: &Message) -> &str {
    match m {
        Message::Text(t) => t.as_str(),
        other => panic!("expected text, got {other:?}"),
    }
}
