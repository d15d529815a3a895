//! The yardstick: the smallest correct tokio-tungstenite echo server, written as
//! fast as the stack allows (feed every message already read, flush once).
//! `cargo run --release --example bare_echo -- 127.0.0.1:9002`

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(msg)) = ws.next().await {
                let mut next = Some(msg);
                while let Some(msg) = next.take() {
                    if (msg.is_text() || msg.is_binary()) && ws.feed(msg).await.is_err() {
                        return;
                    }
                    if let Some(Some(Ok(m))) = ws.next().now_or_never() {
                        next = Some(m);
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
            }
        });
    }
}
