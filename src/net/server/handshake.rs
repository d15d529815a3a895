//! The WebSocket upgrade as the server answers it: which subprotocol it agrees
//! to, the path asked for, and the request and response headers as they were.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::WebSocketStream;

use super::ServerConfig;
use crate::frames::{self, DeflateSetup, FrameOptions, Frames};
use crate::net::witness::Witness;
use crate::net::{header_pairs, ws_config, Handshake};

/// How the server answers a client's `Sec-WebSocket-Protocol` offer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SubprotocolPolicy {
    /// Agree to the first one offered: browsers and most libraries fail a
    /// connection whose offer gets no answer, so an echo server should say yes.
    #[default]
    FirstOffered,
    /// Agree to the first offered one that is in this list, else to none.
    OneOf(Vec<String>),
    /// Agree to none (`--no-subprotocol`), to see how clients cope.
    Refuse,
}

impl SubprotocolPolicy {
    /// Picks the subprotocol to answer with, if any. A client may send the header
    /// more than once; the offers are read in order across all of them.
    fn choose<'a>(&self, offered: impl Iterator<Item = &'a HeaderValue>) -> Option<String> {
        let mut offers = offered
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty());
        match self {
            SubprotocolPolicy::FirstOffered => offers.next(),
            SubprotocolPolicy::OneOf(accepted) => offers.find(|p| accepted.iter().any(|a| a == p)),
            SubprotocolPolicy::Refuse => None,
        }
        .map(str::to_string)
    }
}

/// A connection whose WebSocket handshake is done.
pub(super) struct Upgraded<S> {
    pub(super) ws: WebSocketStream<Frames<Witness<S>>>,
    /// Request path and query, e.g. `/chat?room=1`.
    pub(super) path: String,
    pub(super) handshake: Handshake,
}

/// Answers the client's upgrade request: 503 when `full`, else 101 with the
/// subprotocol the policy picks.
#[allow(clippy::result_large_err)] // the callback's type is fixed by tungstenite
pub(super) async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    tls: Option<String>,
    config: &ServerConfig,
    full: bool,
) -> Result<Upgraded<S>, WsError> {
    // Remembers how the peer closed, in case tungstenite replaces its code.
    let stream = Witness::tail_only(stream);
    // The frame layer sees the answer go out, and with it whether to deflate.
    let mut layer = FrameOptions::new(frames::Role::Server, config.max_message_size);
    layer.no_pong = config.faults.no_pong;
    if config.deflate {
        layer.deflate = DeflateSetup::FromHandshake;
    }
    if config.frames {
        layer.log = Some(Default::default());
    }
    let stream = Frames::new(stream, layer, true);
    let mut seen: Option<(String, Handshake)> = None;
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if full {
            let mut refusal =
                ErrorResponse::new(Some("too many connections (--max-connections)".to_string()));
            *refusal.status_mut() =
                tokio_tungstenite::tungstenite::http::StatusCode::SERVICE_UNAVAILABLE;
            return Err(refusal);
        }
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let subprotocol = config
            .subprotocols
            .choose(req.headers().get_all("sec-websocket-protocol").iter());
        if let Some(p) = &subprotocol {
            if let Ok(v) = HeaderValue::from_str(p) {
                resp.headers_mut().insert("sec-websocket-protocol", v);
            }
        }
        let deflate = config
            .deflate
            .then(|| crate::net::deflate_answer(req.headers()))
            .flatten();
        if let Some(v) = deflate.and_then(|p| HeaderValue::from_str(&p.header_value()).ok()) {
            resp.headers_mut().insert("sec-websocket-extensions", v);
        }
        seen = Some((
            path.clone(),
            Handshake {
                request_line: format!("{} {} {:?}", req.method(), path, req.version()),
                request_headers: header_pairs(req.headers()),
                status: "101 Switching Protocols".to_string(),
                response_headers: header_pairs(resp.headers()),
                subprotocol,
                tls: tls.clone(),
                proxy: None,
                deflate,
            },
        ));
        Ok(resp)
    };
    let accept = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        // Every connection starts small; one whose messages outgrow this grows
        // (up to `read_buffer_size`) in the echo.
        Some(ws_config(
            config.max_message_size,
            config.read_buffer_size.min(crate::net::READ_BUFFER_SIZE),
        )),
    );
    let ws = accept.await?;
    let (path, handshake) = seen.unwrap_or_default();
    Ok(Upgraded {
        ws,
        path,
        handshake,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(values: &[&'static str]) -> Vec<HeaderValue> {
        values.iter().map(|v| HeaderValue::from_static(v)).collect()
    }

    #[test]
    fn subprotocol_first_offered_that_is_accepted() {
        let policy = SubprotocolPolicy::OneOf(vec!["b".to_string(), "c".to_string()]);
        assert_eq!(policy.choose(offer(&["a, c, b"]).iter()), Some("c".into()));
        assert_eq!(policy.choose(offer(&["x"]).iter()), None);
        assert_eq!(policy.choose(offer(&[]).iter()), None);
    }

    #[test]
    fn by_default_the_first_offered_subprotocol_is_accepted() {
        let policy = SubprotocolPolicy::default();
        assert_eq!(
            policy.choose(offer(&["graphql-ws, graphql-transport-ws"]).iter()),
            Some("graphql-ws".into())
        );
        // Offers split over several headers are read in order.
        assert_eq!(
            policy.choose(offer(&[" ", "b", "c"]).iter()),
            Some("b".into())
        );
        assert_eq!(policy.choose(offer(&[]).iter()), None);
    }

    #[test]
    fn no_subprotocol_refuses_every_offer() {
        assert_eq!(
            SubprotocolPolicy::Refuse.choose(offer(&["a, b"]).iter()),
            None
        );
    }
}
