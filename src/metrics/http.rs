//! The smallest HTTP/1.1 server that Prometheus can scrape: `GET /metrics`
//! answered with the text of the moment, one request per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::CONTENT_TYPE;

/// What a scrape shows, made when asked.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// A request head longer than this is not a scrape.
const MAX_HEAD: usize = 8 << 10;
/// A client that sends no whole request head in this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Listens on `addr`; the error says which flag and why (a port in use, most often).
pub async fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics {addr}: cannot listen there: {e}"))
}

/// Answers scrapes until the task is dropped.
pub async fn serve(listener: TcpListener, render: Render) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let render = render.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream, render)).await;
        });
    }
}

/// Binds and serves in the background; the bound address (port 0 picks one).
pub async fn start(
    addr: &str,
    render: Render,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let listener = bind(addr).await?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("--metrics {addr}: {e}"))?;
    Ok((local, tokio::spawn(serve(listener, render))))
}

async fn answer(mut stream: TcpStream, render: Render) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let (method, path) = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or_default().to_string(),
                    req.path.unwrap_or_default().to_string(),
                )
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => continue,
            _ => {
                return respond(
                    &mut stream,
                    "400 Bad Request",
                    "text/plain",
                    "bad request\n",
                    true,
                )
                .await
            }
        }
    };
    let path = path.split('?').next().unwrap_or_default();
    let (status, body) = match (method.as_str(), path) {
        ("GET" | "HEAD", "/metrics") => ("200 OK", render()),
        ("GET" | "HEAD", _) => ("404 Not Found", "metrics are at /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "GET /metrics\n".to_string()),
    };
    let content_type = if status.starts_with("200") {
        CONTENT_TYPE
    } else {
        "text/plain"
    };
    respond(&mut stream, status, content_type, &body, method != "HEAD").await
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if with_body {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}
