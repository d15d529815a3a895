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
        // Shared: every connection keeps one, and a pointer is all it needs.
        let reporter = Arc::new(Reporter {
            tx: events,
            not_shown: self.not_shown.clone(),
            resting: self.resting.clone(),
            frames: self.config.report_frames,
            tap: self.config.tap.clone(),
        });
        let mut next_id: ConnId = 1;
        loop {
            match accept_next(&self.listener, &mut next_id).await {
                Ok((stream, peer, id)) => {
                    let config = self.config.clone();
                    let reporter = reporter.clone();
                    let registry = self.registry.clone();
                    tokio::spawn(serve(Box::new(Incoming {
                        stream,
                        arrival: Arrival {
                            peer,
                            id,
                            config,
                            reporter,
                            registry,
                        },
                    })));
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

/// A connection just accepted.
struct Incoming {
    stream: TcpStream,
    arrival: Arrival,
}

/// Who connected, and what serving them takes.
struct Arrival {
    peer: SocketAddr,
    id: ConnId,
    config: Arc<ServerConfig>,
    reporter: Arc<Reporter>,
    registry: Registry,
}

impl Arrival {
    /// When the handshakes (TLS and WebSocket both) must be done by.
    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.config.handshake_timeout
    }
}

/// One connection from accept to close: TLS when configured, the WebSocket
/// handshake, then the echo. The handshake timeout covers TLS and WebSocket both.
///
/// An open connection's task keeps this future for its whole life, so it holds
/// only pointers: the handshakes' futures are boxed and given back when done (an
/// async fn keeps its arguments to the end, hence one boxed argument).
async fn serve(incoming: Box<Incoming>) {
    let registry = incoming.arrival.registry.clone();
    let _ = incoming.stream.set_nodelay(true);
    let welcome = match incoming.arrival.config.tls.clone() {
        // The TLS path is several kilobytes larger: boxed whole, echo included.
        Some(tls) => return Box::pin(serve_tls(incoming, tls.into())).await,
        None => Box::pin(upgrade_plain(incoming)).await,
    };
    if let Some(welcome) = welcome {
        echo::serve(welcome, registry).await;
    }
}

async fn upgrade_plain(incoming: Box<Incoming>) -> Option<Box<echo::Welcome<TcpStream>>> {
    let Incoming { stream, arrival } = *incoming;
    let deadline = arrival.deadline();
    upgrade_ws(stream, None, deadline, arrival).await
}

/// The TLS handshake, then the WebSocket one and the echo over it.
async fn serve_tls(incoming: Box<Incoming>, acceptor: tokio_rustls::TlsAcceptor) {
    let Incoming { stream, arrival } = *incoming;
    let deadline = arrival.deadline();
    let (peer, reporter) = (arrival.peer, arrival.reporter.clone());
    let (config, registry) = (arrival.config.clone(), arrival.registry.clone());
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let info = tls::describe(
                tls.get_ref().1.protocol_version(),
                tls.get_ref().1.negotiated_cipher_suite(),
            );
            if let Some(welcome) = upgrade_ws(tls, info, deadline, arrival).await {
                echo::serve(welcome, registry).await;
            }
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

/// The WebSocket handshake within the deadline; a client that leaves or stalls
/// before its handshake is done is reported as such.
async fn upgrade_ws<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: Option<String>,
    deadline: tokio::time::Instant,
    arrival: Arrival,
) -> Option<Box<echo::Welcome<S>>> {
    let Arrival {
        peer,
        id,
        config,
        reporter,
        registry,
    } = arrival;
    let full = config
        .faults
        .max_connections
        .is_some_and(|max| registry.len() >= max);
    let upgrade = handshake::upgrade(stream, tls, &config, full);
    let failure = match tokio::time::timeout_at(deadline, upgrade).await {
        Ok(Ok(upgraded)) => {
            let welcome = echo::Welcome {
                upgraded,
                peer,
                id,
                config,
                reporter,
            };
            return Some(Box::new(welcome));
        }
        Ok(Err(WsError::Protocol(ProtocolError::HandshakeIncomplete))) => None,
        Ok(Err(WsError::Io(e))) if left_early(&e) => None,
        Ok(Err(e)) => Some(format!("handshake with {peer} failed: {e}")),
        Err(_) => Some(timeout_message(peer, &config)),
    };
    match failure {
        None => reporter.left_early(peer).await,
        Some(failure) => reporter.handshake_failed(failure).await,
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle plain connection costs is mostly its task's future: it must
    /// reserve room neither for the TLS path nor for the handshake or the open
    /// echo's futures, which are boxed and given back (about 400 bytes in a
    /// release build; 4.2 KB before the handshake's futures were boxed).
    #[tokio::test]
    async fn a_plain_connections_future_keeps_only_what_a_rest_needs() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let reporter = Arc::new(Reporter {
            tx,
            not_shown: Arc::default(),
            resting: Arc::default(),
            frames: false,
            tap: None,
        });
        let config = Arc::new(ServerConfig::default());
        let connection = serve(Box::new(Incoming {
            stream,
            arrival: Arrival {
                peer,
                id: 1,
                config,
                reporter,
                registry: Registry::default(),
            },
        }));
        let size = std::mem::size_of_val(&connection);
        eprintln!("SIZE {size}");
        assert!(size < 1024, "a connection's future takes {size} bytes");
    }
}
