//! The relay's side of the opening handshake: the client's upgrade request read
//! by hand (the answer must wait for the upstream's), what of it goes upstream,
//! and the answers the client can get: the upstream's own, a refusal passed on,
//! or a 502.

use std::collections::HashSet;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::server::create_response;
use tokio_tungstenite::tungstenite::http::{
    self, HeaderMap, HeaderName, HeaderValue, Request, Uri,
};

use crate::net::client::Refusal;

/// The most a request head may take; browsers send a few kilobytes.
const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;

/// A client's upgrade request, and what it sent after it before any answer.
pub(super) struct ClientRequest {
    pub(super) head: Request<()>,
    pub(super) leftover: Vec<u8>,
}

#[derive(Debug)]
pub(super) enum BadRequest {
    /// The client left before it finished its request: a probe, not a failure.
    LeftEarly,
    /// Answered with this status and the reason as the body.
    Answer(u16, String),
}

/// Reads the request head; what follows it is kept for the WebSocket.
pub(super) async fn read<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<ClientRequest, BadRequest> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| BadRequest::LeftEarly)?;
        if n == 0 {
            return Err(BadRequest::LeftEarly);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((len, head)) = parse(&buf)? {
            return Ok(ClientRequest {
                head,
                leftover: buf.split_off(len),
            });
        }
        if buf.len() > MAX_HEAD {
            return Err(BadRequest::Answer(
                431,
                format!("the request head is larger than {MAX_HEAD} bytes"),
            ));
        }
    }
}

fn parse(buf: &[u8]) -> Result<Option<(usize, Request<()>)>, BadRequest> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let bad = |what: String| BadRequest::Answer(400, what);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(BadRequest::Answer(
                431,
                format!("more than {MAX_HEADERS} request headers"),
            ))
        }
        Err(e) => return Err(bad(format!("not an HTTP request: {e}"))),
    };
    let mut builder = Request::builder()
        .method(req.method.unwrap_or("GET"))
        .uri(req.path.unwrap_or("/"))
        .version(if req.version == Some(0) {
            http::Version::HTTP_10
        } else {
            http::Version::HTTP_11
        });
    for h in req.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    let head = builder
        .body(())
        .map_err(|e| bad(format!("malformed request: {e}")))?;
    Ok(Some((len, head)))
}

/// Checks that the request is a WebSocket upgrade; the error is the reason.
pub(super) fn check_upgrade(head: &Request<()>) -> Result<(), String> {
    create_response(head)
        .map(|_| ())
        .map_err(|e| format!("not a WebSocket upgrade request: {e}"))
}

/// Headers that belong to one hop (RFC 9110 §7.6.1) or to this leg's own
/// handshake; the upstream connection makes its own.
const NOT_PASSED: &[&str] = &[
    "host",
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "content-length",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
    // Compression is agreed per leg, and the relay speaks none yet.
    "sec-websocket-extensions",
    "sec-websocket-protocol",
];

/// The headers that go upstream: the client's (hop-by-hop ones and those named
/// in its `Connection` header left out, `drop` removed), its subprotocol offer
/// as one header, then `add` replacing any of the same name.
pub(super) fn upstream_headers(
    client: &HeaderMap,
    add: &[(HeaderName, HeaderValue)],
    drop: &[HeaderName],
) -> Vec<(HeaderName, HeaderValue)> {
    let named_by_connection: HashSet<String> = client
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let added: HashSet<&HeaderName> = add.iter().map(|(k, _)| k).collect();
    let mut out: Vec<(HeaderName, HeaderValue)> = client
        .iter()
        .filter(|(k, _)| {
            !NOT_PASSED.contains(&k.as_str())
                && !named_by_connection.contains(k.as_str())
                && !drop.contains(k)
                && !added.contains(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let offer = subprotocol_offer(client);
    let protocol = HeaderName::from_static("sec-websocket-protocol");
    if !offer.is_empty() && !drop.contains(&protocol) && !added.contains(&protocol) {
        if let Ok(v) = HeaderValue::from_str(&offer.join(", ")) {
            out.push((protocol, v));
        }
    }
    out.extend(add.iter().cloned());
    out
}

/// The subprotocols offered, in order, across every header that offers some.
pub(super) fn subprotocol_offer(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The upstream URL for a client that asked for `path`: the upstream's own
/// path with the client's appended, and both queries.
pub(super) fn upstream_url(base: &Uri, path: &str) -> Result<Uri, String> {
    let (client_path, client_query) = path.split_once('?').unwrap_or((path, ""));
    let base_path = base.path().trim_end_matches('/');
    let mut joined = if client_path == "/" && !base_path.is_empty() {
        base.path().to_string()
    } else {
        format!("{base_path}{client_path}")
    };
    if joined.is_empty() {
        joined.push('/');
    }
    let queries: Vec<&str> = [base.query().unwrap_or(""), client_query]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect();
    if !queries.is_empty() {
        joined.push('?');
        joined.push_str(&queries.join("&"));
    }
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    let scheme = base.scheme_str().unwrap_or("ws");
    format!("{scheme}://{authority}{joined}")
        .parse()
        .map_err(|e| format!("cannot join {base} and {path}: {e}"))
}

/// The 101 for the client: the upstream's own headers (`Set-Cookie` and the
/// like) but those of its handshake, and the subprotocol it chose.
pub(super) fn switching(
    head: &Request<()>,
    subprotocol: Option<&str>,
    upstream: &[(String, String)],
    extensions: Option<String>,
) -> Result<Vec<u8>, String> {
    let mut resp = create_response(head).map_err(|e| e.to_string())?;
    if let Some(v) = extensions.and_then(|v| HeaderValue::from_str(&v).ok()) {
        resp.headers_mut().insert("sec-websocket-extensions", v);
    }
    for (k, v) in upstream {
        let name = k.to_ascii_lowercase();
        if NOT_PASSED.contains(&name.as_str()) || name == "date" {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(p).ok()) {
        resp.headers_mut().insert("sec-websocket-protocol", p);
    }
    let mut out = Vec::with_capacity(256);
    tokio_tungstenite::tungstenite::handshake::server::write_response(&mut out, &resp)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// An HTTP answer that ends the connection: status, headers, body.
pub(super) fn answer(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        // Framing is ours to say: the body is sent whole and the connection ends.
        if matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "keep-alive"
        ) {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// The upstream's refusal, as the client gets it.
pub(super) fn refusal_answer(r: &Refusal) -> Vec<u8> {
    answer(r.status, &r.headers, &r.body)
}

/// A one-line reason as a plain-text answer.
pub(super) fn text_answer(status: u16, reason: &str) -> Vec<u8> {
    let headers = [(
        "content-type".to_string(),
        "text/plain; charset=utf-8".to_string(),
    )];
    answer(status, &headers, format!("{reason}\n").as_bytes())
}

/// Writes an answer and ends the connection; a client already gone is no matter.
pub(super) async fn send_and_close<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) {
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_clients_path_and_query_are_appended_to_the_upstreams() {
        let join = |base: &str, path: &str| upstream_url(&url(base), path).unwrap().to_string();
        assert_eq!(join("ws://h:1", "/chat?x=1"), "ws://h:1/chat?x=1");
        assert_eq!(join("ws://h:1/", "/chat"), "ws://h:1/chat");
        assert_eq!(join("wss://h/api/", "/chat"), "wss://h/api/chat");
        assert_eq!(join("ws://h/api?k=v", "/?x=1"), "ws://h/api?k=v&x=1");
        assert_eq!(join("ws://h/api", "/"), "ws://h/api");
        assert_eq!(join("ws://h", "/"), "ws://h/");
    }

    fn head(raw: &str) -> Request<()> {
        parse(raw.as_bytes()).unwrap().unwrap().1
    }

    #[test]
    fn a_request_head_is_read_whole_and_what_follows_is_kept() {
        let raw = "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nEXTRA";
        let (len, req) = parse(raw.as_bytes()).unwrap().unwrap();
        assert_eq!(req.uri().to_string(), "/a?b=1");
        assert_eq!(&raw[len..], "EXTRA");
        assert!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        assert!(matches!(
            parse(b"\x16\x03\x01garbage\r\n\r\n"),
            Err(BadRequest::Answer(400, _))
        ));
    }

    #[test]
    fn hop_by_hop_headers_stay_and_the_rest_goes_upstream() {
        let req = head(
            "GET / HTTP/1.1\r\nHost: relay:8765\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\nX-Hop: 1\r\n\
             Cookie: s=1\r\nAuthorization: Bearer t\r\nOrigin: http://app\r\nUser-Agent: ua\r\nX-Drop: d\r\nX-Over: old\r\n\r\n",
        );
        let add = vec![crate::net::client::parse_header("X-Over: new").unwrap()];
        let drop = vec![HeaderName::from_static("x-drop")];
        let out: Vec<(String, String)> = upstream_headers(req.headers(), &add, &drop)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "cookie",
                "authorization",
                "origin",
                "user-agent",
                "sec-websocket-protocol",
                "x-over"
            ]
        );
        assert_eq!(out[4].1, "a, b, c");
        assert_eq!(out[5].1, "new");
    }

    #[test]
    fn answers_carry_their_body_and_close() {
        let a = String::from_utf8(answer(
            403,
            &[
                ("Content-Length".into(), "99".into()),
                ("X-Why".into(), "no".into()),
            ],
            b"go away",
        ))
        .unwrap();
        assert!(a.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{a}");
        assert!(a.contains("x-why: no\r\n"));
        assert!(a.contains("content-length: 7\r\n"));
        assert!(!a.contains("99"));
        assert!(a.ends_with("\r\n\r\ngo away"));
    }

    #[test]
    fn the_switching_answer_names_the_upstreams_subprotocol() {
        let req = head(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        assert!(check_upgrade(&req).is_ok());
        let upstream = [
            ("Set-Cookie".to_string(), "s=2".to_string()),
            ("Sec-WebSocket-Accept".to_string(), "theirs".to_string()),
        ];
        let out =
            String::from_utf8(switching(&req, Some("chat"), &upstream, None).unwrap()).unwrap();
        assert!(out.contains("set-cookie: s=2"), "{out}");
        assert!(
            !out.contains("theirs"),
            "our own accept key, not the upstream's"
        );
        assert!(out.starts_with("HTTP/1.1 101"), "{out}");
        assert!(out.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{out}");
        assert!(out
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: chat"));
        let plain = head("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(check_upgrade(&plain)
            .unwrap_err()
            .contains("not a WebSocket"));
    }
}
