//! Opens N WebSocket connections and holds them idle, for measuring what an idle
//! connection costs a server. `cargo run --release --example idle_conns -- URL N SECONDS`
//! prints `connected N` once all are open, then holds them for SECONDS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "ws://127.0.0.1:8765".into());
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let hold: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
    // A few hundred handshakes at a time: a listen backlog is finite.
    let gate = Arc::new(Semaphore::new(200));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (url, gate, failed) = (url.clone(), gate.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("semaphore open");
            let ws = tokio_tungstenite::connect_async(&url).await;
            drop(permit);
            match ws {
                Ok((ws, _)) => Some(ws),
                Err(e) => {
                    if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("idle_conns: connect failed: {e}");
                    }
                    None
                }
            }
        }));
    }
    let mut held = Vec::with_capacity(n);
    for t in tasks {
        if let Ok(Some(ws)) = t.await {
            held.push(ws);
        }
    }
    println!(
        "connected {} failed {}",
        held.len(),
        failed.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(hold)).await;
    drop(held);
}
