//! A second, independent load generator (plain tokio-tungstenite, no checks) to
//! show `wsprobe bench` is not the bottleneck of a measurement.
//! `cargo run --release --example loadgen -- ws://127.0.0.1:9002 CONNS WINDOW SECONDS`
//! prints `messages_per_sec N`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "ws://127.0.0.1:9002".into());
    let conns: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let window: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let secs: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5);
    let received = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let payload = "x".repeat(64);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (url, received, running, payload) = (
            url.clone(),
            received.clone(),
            running.clone(),
            payload.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("connect");
            for _ in 0..window {
                ws.feed(Message::text(payload.clone())).await.unwrap();
            }
            ws.flush().await.unwrap();
            while running.load(Ordering::Relaxed) {
                let Some(Ok(_)) = ws.next().await else { break };
                let mut n = 1;
                while let Some(Some(Ok(_))) = ws.next().now_or_never() {
                    n += 1;
                }
                received.fetch_add(n, Ordering::Relaxed);
                for _ in 0..n {
                    ws.feed(Message::text(payload.clone())).await.unwrap();
                }
                ws.flush().await.unwrap();
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (t0, r0) = (Instant::now(), received.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let rate = (received.load(Ordering::Relaxed) - r0) as f64 / t0.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    println!("messages_per_sec {rate:.0}");
    std::process::exit(0);
}
