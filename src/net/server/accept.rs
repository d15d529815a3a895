//! Taking connections: the accept loop, TLS when configured, and the clients that
//! leave before their handshake is done or take longer than it may.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::{echo, handshake, Registry, Reporter, Server, ServerConfig};
use crate::net::{tls, ConnId, NetEvent};

impl Server {
    /// Accepts connections until the task is dropped.
    pub async fn run(self, events: mpsc::Sender<NetEvent>) {
        let reporter = Reporter {
            tx: events,
            not_shown: self.not_shown.clone(),
            frames: self.config.report_frames,
            tap: self.config.tap.clone(),
        };
        let mut next_id: ConnId = 1;
        loop {
            match accept_next(&self.listener, &mut next_id).await {
                Ok((stream, peer, id)) => {
                    let config = self.config.clone();
                    let reporter = reporter.clone();
                    let registry = self.registry.clone();
                    tokio::spawn(async move {
                        serve(stream, peer, id, config, reporter, registry).await;
                    });
                }
                Err(failed) => reporter.event(failed).await,
            }
        }
    }
}

/// The next connection and its number; when accepting fails (out of file
/// descriptors and the like), the event that says so, after a breath.
pub(crate) async fn accept_next(
    listener: &tokio::net::TcpListener,
    next_id: &mut ConnId,
) -> Result<(TcpStream, SocketAddr, ConnId), NetEvent> {
    match listener.accept().await {
        Ok((stream, peer)) => {
            let id = *next_id;
            *next_id += 1;
            Ok((stream, peer, id))
        }
        Err(e) => {
            tracing::warn!("accept failed: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(NetEvent::Error {
                conn: None,
                ts: Utc::now(),
                message: format!("accept failed: {e}"),
            })
        }
    }
}

/// One connection from accept to close: TLS when configured, the WebSocket
/// handshake, then the echo. The handshake timeout covers TLS and WebSocket both.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let Some(acceptor) = config.tls.clone().map(tokio_rustls::TlsAcceptor::from) else {
        return serve_ws(stream, None, deadline, peer, id, config, reporter, registry).await;
    };
    // Boxed: a connection's future is as large as its largest path, and the TLS
    // one is several kilobytes larger; plain connections must not carry that.
    let tls = serve_tls(
        stream, acceptor, deadline, peer, id, config, reporter, registry,
    );
    Box::pin(tls).await
}

/// The TLS handshake, then the WebSocket one and the echo over it.
#[allow(clippy::too_many_arguments)]
async fn serve_tls(
    stream: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    deadline: tokio::time::Instant,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let info = tls::describe(
                tls.get_ref().1.protocol_version(),
                tls.get_ref().1.negotiated_cipher_suite(),
            );
            serve_ws(tls, info, deadline, peer, id, config, reporter, registry).await
        }
        Ok(Err(e)) if left_early(&e) => reporter.left_early(peer).await,
        Ok(Err(e)) => reporter.handshake_failed(tls_failure(peer, &e)).await,
        Err(_) => {
            reporter
                .handshake_failed(timeout_message(peer, &config))
                .await
        }
    }
}

/// The peer went away before its handshake was done: a probe, not a failure.
fn left_early(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), UnexpectedEof | ConnectionReset | BrokenPipe)
}

/// A failed TLS handshake as a person would put it.
fn tls_failure(peer: SocketAddr, e: &std::io::Error) -> String {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        // The first bytes were not a TLS record: most likely `GET / HTTP/1.1`.
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => {
            format!("{peer} sent plain HTTP to this TLS port (it should connect with wss://)")
        }
        _ => format!("TLS handshake with {peer} failed: {e}"),
    }
}

fn timeout_message(peer: SocketAddr, config: &ServerConfig) -> String {
    format!(
        "handshake with {peer} timed out after {}",
        humantime::format_duration(config.handshake_timeout)
    )
}

/// The WebSocket handshake within the deadline, then the echo; a client that
/// leaves or stalls before its handshake is done is reported as such.
#[allow(clippy::too_many_arguments)]
async fn serve_ws<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: Option<String>,
    deadline: tokio::time::Instant,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    let full = config
        .faults
        .max_connections
        .is_some_and(|max| registry.len() >= max);
    let upgrade = handshake::upgrade(stream, tls, &config, full);
    let upgraded = match tokio::time::timeout_at(deadline, upgrade).await {
        Ok(Ok(upgraded)) => upgraded,
        Ok(Err(WsError::Protocol(ProtocolError::HandshakeIncomplete))) => {
            return reporter.left_early(peer).await
        }
        Ok(Err(WsError::Io(e))) if left_early(&e) => return reporter.left_early(peer).await,
        Ok(Err(e)) => {
            return reporter
                .handshake_failed(format!("handshake with {peer} failed: {e}"))
                .await
        }
        Err(_) => {
            return reporter
                .handshake_failed(timeout_message(peer, &config))
                .await
        }
    };
    echo::serve(upgraded, peer, id, config, reporter, registry).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle plain connection costs is mostly its task's future: it must
    /// not reserve room for the TLS path (18.9 KB in a debug build when it did;
    /// 5.3 KB without).
    #[tokio::test]
    async fn a_plain_connections_future_leaves_tls_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let reporter = Reporter {
            tx,
            not_shown: Arc::default(),
            frames: false,
            tap: None,
        };
        let config = Arc::new(ServerConfig::default());
        let connection = serve(stream, peer, 1, config, reporter, Registry::default());
        let size = std::mem::size_of_val(&connection);
        assert!(size < 8 * 1024, "a connection's future takes {size} bytes");
    }
}
