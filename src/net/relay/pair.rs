//! One accepted client and its upstream: the client's request read, the
//! upstream connected with it, the answer passed back, then two forwarding
//! directions until both legs have ended.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::ends::Ends;
use super::forward::{Forward, Links};
use super::latency::Pending;
use super::request::{self, BadRequest};
use super::{RelayConfig, Reporter};
use crate::frames::{self, DeflateSetup, FrameOptions, Frames};
use crate::net::client::{connect_keeping_refusal, Connected};
use crate::net::server::Registry;
use crate::net::{
    header_pairs, ws_config, ConnCounters, ConnId, Handshake, NetEvent, Opened, Side,
};

pub(super) async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    id: ConnId,
    config: Arc<RelayConfig>,
    reporter: Reporter,
    registry: Registry,
) {
    let _ = stream.set_nodelay(true);
    let Some((head, leftover, upstream)) =
        open_upstream(&mut stream, peer, &config, &reporter).await
    else {
        return;
    };
    let subprotocol = upstream.handshake.subprotocol.clone();
    // The client's leg agrees on compression with the relay, apart from the upstream's.
    let deflate = config
        .deflate
        .then(|| crate::net::deflate_answer(head.headers()))
        .flatten();
    let answer = match request::switching(
        &head,
        subprotocol.as_deref(),
        &upstream.handshake.response_headers,
        deflate.map(|p| p.header_value()),
    ) {
        Ok(a) => a,
        Err(e) => return failed(&reporter, format!("cannot answer {peer}: {e}")).await,
    };
    if stream.write_all(&answer).await.is_err() {
        // The upstream is told, not just dropped.
        let mut ws = upstream.ws;
        let bye = crate::net::CloseInfo::new(1001, "wsprobe relay: the client went away");
        let closing = ws.close(Some(bye.to_frame()));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), closing).await;
        return left_early(&reporter, peer).await;
    }
    let path = head
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let client_handshake = Handshake {
        request_line: format!("GET {path} HTTP/1.1"),
        request_headers: header_pairs(head.headers()),
        status: "101 Switching Protocols".to_string(),
        response_headers: switching_headers(&answer),
        subprotocol,
        tls: None,
        proxy: None,
        deflate,
    };
    let mut layer = FrameOptions::new(frames::Role::Server, config.upstream.max_message_size);
    layer.deflate = deflate.map_or(DeflateSetup::Off, DeflateSetup::Fixed);
    if config.upstream.frames {
        layer.log = Some(Default::default());
    }
    let stream = Frames::with_leftover(stream, layer, leftover);
    let client = WebSocketStream::from_raw_socket(
        stream,
        Role::Server,
        Some(ws_config(
            config.upstream.max_message_size,
            config.read_buffer_size,
        )),
    )
    .await;
    run_pair(
        id,
        (client, peer, path, client_handshake),
        upstream,
        &config,
        reporter,
        registry,
    )
    .await
}

/// Reads the client's request and connects upstream with it; on failure the
/// client has its answer (the upstream's refusal, or why not) and the reporter
/// knows.
async fn open_upstream(
    stream: &mut TcpStream,
    peer: SocketAddr,
    config: &RelayConfig,
    reporter: &Reporter,
) -> Option<(
    tokio_tungstenite::tungstenite::http::Request<()>,
    Vec<u8>,
    Connected,
)> {
    let deadline = tokio::time::Instant::now() + config.handshake_timeout;
    let req = match tokio::time::timeout_at(deadline, request::read(stream)).await {
        Err(_) => {
            let why = format!(
                "{peer} did not send its upgrade request within {}",
                humantime::format_duration(config.handshake_timeout)
            );
            request::send_and_close(stream, &request::text_answer(408, &why)).await;
            failed(reporter, why).await;
            return None;
        }
        Ok(Err(BadRequest::LeftEarly)) => {
            left_early(reporter, peer).await;
            return None;
        }
        Ok(Err(BadRequest::Answer(status, why))) => {
            request::send_and_close(stream, &request::text_answer(status, &why)).await;
            failed(reporter, format!("{peer} sent a bad request: {why}")).await;
            return None;
        }
        Ok(Ok(req)) => req,
    };
    if let Err(why) = request::check_upgrade(&req.head) {
        request::send_and_close(stream, &request::text_answer(400, &why)).await;
        failed(reporter, format!("{peer} sent {why}")).await;
        return None;
    }
    let path = req
        .head
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut opts = config.upstream.clone();
    opts.url = match request::upstream_url(&config.upstream.url, &path) {
        Ok(url) => url,
        Err(why) => {
            request::send_and_close(stream, &request::text_answer(400, &why)).await;
            failed(reporter, format!("{peer}: {why}")).await;
            return None;
        }
    };
    opts.headers = request::upstream_headers(
        req.head.headers(),
        &config.add_headers,
        &config.drop_headers,
    );
    opts.subprotocols.clear();
    opts.origin = None;
    // Compression is offered upstream when the client asked for it.
    opts.deflate = config.deflate
        && req
            .head
            .headers()
            .get_all("sec-websocket-extensions")
            .iter()
            .any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.to_ascii_lowercase().contains(frames::deflate::NAME))
            });
    match connect_keeping_refusal(&opts).await {
        Ok(upstream) => Some((req.head, req.leftover, upstream)),
        Err((e, Some(refusal))) => {
            request::send_and_close(stream, &request::refusal_answer(&refusal)).await;
            let why = format!(
                "the upstream refused {peer}'s connection to {}: {e}",
                opts.url
            );
            failed(reporter, why).await;
            None
        }
        Err((e, None)) => {
            let why = format!("cannot reach the upstream {}: {e}", opts.url);
            let answer = request::text_answer(502, &format!("wsprobe relay: {why}"));
            request::send_and_close(stream, &answer).await;
            failed(reporter, format!("{peer} got 502: {why}")).await;
            None
        }
    }
}

/// A client that left before its handshake was done: a probe, not a failure.
async fn left_early(reporter: &Reporter, peer: SocketAddr) {
    let ev = NetEvent::LeftBeforeHandshake {
        ts: Utc::now(),
        peer,
    };
    reporter.event(Side::Client, ev).await;
}

async fn failed(reporter: &Reporter, message: String) {
    reporter
        .event(
            Side::Client,
            NetEvent::Error {
                conn: None,
                ts: Utc::now(),
                message,
            },
        )
        .await;
}

/// The headers of the 101 we wrote, for the handshake popup.
fn switching_headers(answer: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(answer)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

type ClientLeg = (
    WebSocketStream<Frames<TcpStream>>,
    SocketAddr,
    String,
    Handshake,
);

/// Both legs are open: reported, passed on both ways, reported closed.
async fn run_pair(
    id: ConnId,
    (client, peer, path, client_handshake): ClientLeg,
    upstream: Connected,
    config: &RelayConfig,
    reporter: Reporter,
    registry: Registry,
) {
    let client_counters = Arc::new(ConnCounters::default());
    let server_counters = Arc::new(ConnCounters::default());
    let speech =
        (config.speaker.as_ref()).map(|s| s.open(upstream.handshake.subprotocol.as_deref()));
    // Commands for a leg go to the direction that writes to it.
    let (to_client_tx, to_client_rx) = crate::net::inbox::channel(64);
    let (to_server_tx, to_server_rx) = crate::net::inbox::channel(64);
    let give_up = registry.add(id, to_client_tx.clone());
    let now = Utc::now();
    reporter
        .event(
            Side::Client,
            NetEvent::Opened(Box::new(Opened {
                conn: id,
                ts: now,
                peer,
                path,
                handshake: client_handshake,
                counters: client_counters.clone(),
                commands: to_client_tx,
                faults: None,
            })),
        )
        .await;
    reporter
        .event(
            Side::Server,
            NetEvent::Opened(Box::new(Opened {
                conn: id,
                ts: now,
                peer: upstream.peer,
                path: upstream.path,
                handshake: upstream.handshake,
                counters: server_counters.clone(),
                commands: to_server_tx,
                faults: None,
            })),
        )
        .await;
    let links = Arc::new(Links {
        conn: id,
        reporter: reporter.clone(),
        pending: Arc::new(Pending::new(speech)),
        ends: Arc::new(Ends::default()),
        steering: config.steering.clone(),
        wire: [
            client.get_ref().log().cloned(),
            upstream.ws.get_ref().log().cloned(),
        ],
    });
    // Orders for held messages, by the side they came from.
    let (from_client_tx, from_client_rx) = mpsc::channel(256);
    let (from_server_tx, from_server_rx) = mpsc::channel(256);
    config.steering.join(id, [from_client_tx, from_server_tx]);
    let (client_sink, client_stream) = client.split();
    let (server_sink, server_stream) = upstream.ws.split();
    let to_server = Forward::new(
        links.clone(),
        Side::Client,
        client_stream,
        server_sink,
        client_counters.clone(),
        server_counters.clone(),
    );
    let to_client = Forward::new(
        links.clone(),
        Side::Server,
        server_stream,
        client_sink,
        server_counters,
        client_counters,
    );
    // Both directions in this one task: a message and its reply are passed on
    // by the same thread, with no hand-over between tasks in a round trip.
    tokio::select! {
        _ = async {
            tokio::join!(
                to_server.run(to_server_rx, from_client_rx),
                to_client.run(to_client_rx, from_server_rx),
            )
        } => {}
        // Shutting down, and a peer has not answered its close in time.
        _ = give_up.notified() => {}
    }
    for side in [Side::Client, Side::Server] {
        let (close, cause) = links.ends.outcome(side);
        reporter
            .event(
                side,
                NetEvent::Closed {
                    conn: id,
                    ts: Utc::now(),
                    close,
                    cause,
                },
            )
            .await;
    }
    config.steering.leave(id);
    registry.remove(id);
}
