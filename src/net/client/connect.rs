//! Making a connection: the URL and headers as given, name resolution, TCP (or a
//! tunnel through a proxy), TLS and the WebSocket handshake, each step with a clear
//! error, including what the server spoke when it was not WebSocket.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::ClientOptions;
use crate::error::NetError;
use crate::frames::{self, DeflateSetup, FrameOptions, Frames};
use crate::net::witness::Witness;
use crate::net::{header_pairs, tls, ws_config, Handshake};

pub type WsStream = WebSocketStream<Frames<MaybeTlsStream<Witness<TcpStream>>>>;

/// Checks that a string is a `ws://` or `wss://` URL with a host.
pub fn parse_ws_url(s: &str) -> Result<Uri, String> {
    let hint = "expected a URL like ws://127.0.0.1:8765 or wss://example.com/socket";
    if !s.contains("://") {
        return Err(format!("`{s}` has no scheme: {hint}"));
    }
    let uri: Uri = s
        .parse()
        .map_err(|e| format!("`{s}` is not a valid URL ({e}): {hint}"))?;
    match uri.scheme_str() {
        Some("ws") | Some("wss") => {}
        Some("http") | Some("https") => {
            return Err(format!(
                "`{s}` is an HTTP URL; WebSocket URLs start with ws:// or wss://"
            ))
        }
        _ => return Err(format!("`{s}` has an unsupported scheme: {hint}")),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(uri),
        _ => Err(format!("`{s}` has no host: {hint}")),
    }
}

/// Parses `Name: value` as given to `-H`.
pub fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header `{s}` must look like `Name: value`"))?;
    let name = name.trim();
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!("the value of header `{name}` has characters a header cannot carry")
    })?;
    Ok((name, value))
}

/// The kind [`dial`] gives a source address it could not bind, to tell it
/// from a failed connect.
const BIND_FAILED: std::io::ErrorKind = std::io::ErrorKind::AddrNotAvailable;

/// TCP to `addr`, from `source` when given: bound first, so a load spread over
/// several local addresses gets a set of ephemeral ports per address.
async fn dial(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(src) = source else {
        return TcpStream::connect(addr).await;
    };
    if src.is_ipv4() != addr.is_ipv4() {
        return Err(std::io::Error::new(
            BIND_FAILED,
            format!("it is not of the same family as {addr}"),
        ));
    }
    let socket = match src {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    no_port_at_bind(&socket);
    socket
        .bind(SocketAddr::new(src, 0))
        .map_err(|e| std::io::Error::new(BIND_FAILED, e))?;
    socket.connect(addr).await
}

/// Lets the kernel pick the port at connect time, per destination, instead of
/// reserving one at bind time for every destination at once (Linux's
/// IP_BIND_ADDRESS_NO_PORT): binding many sockets to one source address would
/// otherwise run out of ports sooner.
#[cfg(target_os = "linux")]
fn no_port_at_bind(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn no_port_at_bind(_socket: &TcpSocket) {}

/// A connection whose handshake completed.
pub struct Connected {
    pub ws: WsStream,
    pub peer: SocketAddr,
    pub path: String,
    pub handshake: Handshake,
    /// Name resolution and TCP connect.
    pub tcp_time: Duration,
    /// TLS (for wss://) and the WebSocket handshake.
    pub handshake_time: Duration,
}

/// What a server that refused the upgrade answered, whole: a relay passes it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub async fn connect(opts: &ClientOptions) -> Result<Connected, NetError> {
    let mut refusal = None;
    connect_inner(opts, &mut refusal).await
}

/// As [`connect`], and when the server answered with something else than 101,
/// that answer.
pub async fn connect_keeping_refusal(
    opts: &ClientOptions,
) -> Result<Connected, (NetError, Option<Refusal>)> {
    let mut refusal = None;
    connect_inner(opts, &mut refusal)
        .await
        .map_err(|e| (e, refusal))
}

async fn connect_inner(
    opts: &ClientOptions,
    refusal: &mut Option<Refusal>,
) -> Result<Connected, NetError> {
    let uri = &opts.url;
    let tls = uri.scheme_str() == Some("wss");
    let host = uri.host().unwrap_or_default();
    // The URI keeps brackets around IPv6 literals; the resolver wants them off.
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let started = Instant::now();
    let deadline = started + opts.connect_timeout;
    let timed_out = |what: &str| NetError::Timeout {
        what: format!("{what} (--connect-timeout)"),
        after: opts.connect_timeout,
    };

    // Through a proxy, the TCP connection is the proxy's; the target's name is
    // resolved by the proxy.
    let (dial_host, dial_port) = match &opts.proxy {
        Some(p) => (p.host.clone(), p.port),
        None => (bare_host.clone(), port),
    };
    let addrs: Vec<SocketAddr> = tokio::time::timeout_at(
        deadline.into(),
        tokio::net::lookup_host((dial_host.as_str(), dial_port)),
    )
    .await
    .map_err(|_| timed_out(&format!("resolving {dial_host}")))?
    .map_err(|e| NetError::Resolve {
        host: dial_host.clone(),
        reason: e.to_string(),
    })?
    .collect();

    let mut last_err = None;
    let mut tcp = None;
    for addr in &addrs {
        match tokio::time::timeout_at(deadline.into(), dial(*addr, opts.source)).await {
            Err(_) => return Err(timed_out(&format!("connecting to {addr}"))),
            Ok(Ok(s)) => {
                tcp = Some(s);
                break;
            }
            Ok(Err(e)) => {
                last_err = Some(if let Some(p) = &opts.proxy {
                    NetError::Proxy {
                        proxy: p.shown(),
                        reason: format!("cannot connect to it at {addr}: {e}"),
                    }
                } else if let Some(src) = opts.source.filter(|_| e.kind() == BIND_FAILED) {
                    NetError::Connect {
                        addr: addr.to_string(),
                        reason: format!("cannot use source address {src}: {e}"),
                    }
                } else if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    NetError::Refused {
                        addr: addr.to_string(),
                    }
                } else {
                    NetError::Connect {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                    }
                })
            }
        }
    }
    let mut tcp = match tcp {
        Some(t) => t,
        None => {
            return Err(last_err.unwrap_or_else(|| NetError::Resolve {
                host: dial_host.clone(),
                reason: "no address found".into(),
            }))
        }
    };
    let _ = tcp.set_nodelay(true);
    let peer = tcp.peer_addr().unwrap_or_else(|_| addrs[0]);
    if let Some(p) = &opts.proxy {
        tokio::time::timeout_at(
            deadline.into(),
            crate::net::proxy::tunnel(&mut tcp, p, &bare_host, port),
        )
        .await
        .map_err(|_| timed_out(&format!("CONNECT through proxy {}", p.shown())))??;
    }
    let tcp_done = Instant::now();

    let mut request = uri
        .clone()
        .into_client_request()
        .map_err(|e| NetError::usage(format!("cannot build a request for {uri}: {e}")))?;
    {
        let h = request.headers_mut();
        if !opts.subprotocols.is_empty() {
            let joined = opts.subprotocols.join(", ");
            let v = HeaderValue::from_str(&joined)
                .map_err(|_| NetError::usage(format!("invalid subprotocol list `{joined}`")))?;
            h.insert("sec-websocket-protocol", v);
        }
        if opts.deflate {
            h.insert(
                "sec-websocket-extensions",
                HeaderValue::from_static(frames::deflate::CLIENT_OFFER),
            );
        }
        if let Some(origin) = &opts.origin {
            let v = HeaderValue::from_str(origin)
                .map_err(|_| NetError::usage(format!("invalid origin `{origin}`")))?;
            h.insert("origin", v);
        }
        // A header given once replaces the one the handshake would send (Host,
        // User-Agent); given again, it is sent again.
        let mut given = std::collections::HashSet::new();
        for (k, v) in &opts.headers {
            if given.insert(k.clone()) {
                h.insert(k.clone(), v.clone());
            } else {
                h.append(k.clone(), v.clone());
            }
        }
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let request_line = format!("GET {path} HTTP/1.1");
    let request_headers = header_pairs(request.headers());

    // Below TLS: what the server first said, should its answer not be ours to
    // parse, and (without TLS, where it is readable) how it closed.
    let (tcp, seen) = Witness::new(tcp, !tls);
    let handshake = async {
        let stream = if tls {
            let config = tls::client_config(opts.insecure, opts.ca_file.as_deref())?;
            let name = rustls_pki_types::ServerName::try_from(bare_host.clone()).map_err(|e| {
                NetError::usage(format!("`{bare_host}` cannot name a TLS server: {e}"))
            })?;
            let connecting = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
            match connecting.await {
                Ok(s) => MaybeTlsStream::Rustls(s),
                Err(e) => return Ok(Err(WsError::Io(e))),
            }
        } else {
            MaybeTlsStream::Plain(tcp)
        };
        // Above TLS: the frame layer, which decides permessage-deflate from the answer.
        let mut layer = FrameOptions::new(frames::Role::Client, opts.max_message_size);
        layer.deflate = if opts.deflate {
            DeflateSetup::FromHandshake
        } else {
            DeflateSetup::Off
        };
        if opts.frames {
            layer.log = Some(Default::default());
        }
        let stream = Frames::new(stream, layer, true);
        Ok::<_, NetError>(
            tokio_tungstenite::client_async_with_config(
                request,
                stream,
                Some(ws_config(opts.max_message_size, opts.read_buffer_size)),
            )
            .await,
        )
    };
    let (ws, response) = tokio::time::timeout_at(deadline.into(), handshake)
        .await
        .map_err(|_| {
            timed_out(if tls {
                "TLS and WebSocket handshake"
            } else {
                "WebSocket handshake"
            })
        })??
        .map_err(|e| {
            if let WsError::Http(resp) = &e {
                *refusal = Some(Refusal {
                    status: resp.status().as_u16(),
                    headers: header_pairs(resp.headers()),
                    body: resp.body().clone().unwrap_or_default(),
                });
            }
            let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
            match wrong_language(&e, tls, &seen, uri) {
                Some(said) => said,
                None => handshake_error(e, tls, &bare_host, peer, opts.ca_file.as_deref()),
            }
        })?;
    if let Some(why) = ws.get_ref().deflate_error() {
        return Err(NetError::Handshake {
            addr: peer.to_string(),
            reason: why.to_string(),
        });
    }

    let status = response.status();
    let deflate = ws.get_ref().deflate();
    let tls_info = match ws.get_ref().get_ref() {
        MaybeTlsStream::Rustls(s) => tls::describe(
            s.get_ref().1.protocol_version(),
            s.get_ref().1.negotiated_cipher_suite(),
        ),
        _ => None,
    };
    let subprotocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Connected {
        ws,
        peer,
        path,
        tcp_time: tcp_done - started,
        handshake_time: tcp_done.elapsed(),
        handshake: Handshake {
            request_line,
            request_headers,
            status: format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
            response_headers: header_pairs(response.headers()),
            subprotocol,
            tls: tls_info,
            proxy: opts.proxy.as_ref().map(|p| p.shown()),
            deflate,
        },
    })
}

/// A handshake that failed because the server speaks something else than we
/// asked in: TLS to `ws://`, plain HTTP to `wss://`, or HTTP older than 1.1.
fn wrong_language(e: &WsError, tls: bool, seen: &[u8], uri: &Uri) -> Option<NetError> {
    use crate::net::witness::{what_was_spoken, Spoke};
    // An answer tungstenite understood (a non-101 status, say) is worded elsewhere.
    if matches!(e, WsError::Http(_)) {
        return None;
    }
    let other_scheme = |scheme: &str| {
        let rest = uri.to_string();
        let rest = rest
            .split_once("://")
            .map(|(_, r)| r.to_string())
            .unwrap_or(rest);
        format!("{scheme}://{rest}")
    };
    match what_was_spoken(seen)? {
        Spoke::Tls if !tls => Some(NetError::WrongScheme(format!(
            "the server speaks TLS: use {}",
            other_scheme("wss")
        ))),
        Spoke::Http { status: said, .. } | Spoke::Text(said) if tls => {
            Some(NetError::WrongScheme(format!(
                "the server answered in plain text (`{}`), not TLS: use {}",
                crate::escape::escape_text(&said, 60),
                other_scheme("ws")
            )))
        }
        // Older than 1.1 (`python3 -m http.server`): tungstenite stops at the version.
        Spoke::Http { status, body } if !status.starts_with("HTTP/1.1") => {
            let shown = &body.as_bytes()[..body.len().min(200)];
            Some(NetError::NotUpgraded {
                status,
                body: if shown.is_empty() {
                    String::new()
                } else {
                    format!("; body: {}", crate::escape::escape_bytes(shown, usize::MAX))
                },
            })
        }
        _ => None,
    }
}

fn handshake_error(
    e: WsError,
    tls: bool,
    host: &str,
    peer: SocketAddr,
    ca: Option<&std::path::Path>,
) -> NetError {
    match e {
        WsError::Http(resp) => {
            let status = resp.status();
            let body = resp
                .body()
                .as_deref()
                .filter(|b| !b.is_empty())
                .map(|b| {
                    let shown = &b[..b.len().min(200)];
                    format!("; body: {}", crate::escape::escape_bytes(shown, usize::MAX))
                })
                .unwrap_or_default();
            NetError::NotUpgraded {
                status: format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
                body,
            }
        }
        WsError::Tls(e) => NetError::Tls {
            host: host.to_string(),
            reason: e.to_string(),
        },
        WsError::Io(e) if tls => {
            let mut reason = e.to_string();
            let refused = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            if refused.is_some_and(tls::is_ca_used_as_end_entity) {
                reason = match ca {
                    Some(file) => format!(
                        "invalid peer certificate: CaUsedAsEndEntity (the server presents a CA certificate as its own, and not the one in --ca {}: to trust a CA certificate used as the server's own, --ca must hold exactly the server's certificate; or give the server a certificate without the CA flag)",
                        file.display()
                    ),
                    None => "invalid peer certificate: CaUsedAsEndEntity (the server presents a CA certificate as its own: trust exactly that certificate with --ca FILE, or skip checks with --insecure)".to_string(),
                };
            } else if reason.contains("UnknownIssuer") {
                reason.push_str(" (a self-signed or private CA? trust it with --ca FILE, or skip checks with --insecure)");
            }
            NetError::Tls {
                host: host.to_string(),
                reason,
            }
        }
        other => NetError::Handshake {
            addr: peer.to_string(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_ws_url("ws://127.0.0.1:8765").is_ok());
        assert!(parse_ws_url("wss://example.com/a?b=c").is_ok());
        assert!(parse_ws_url("ws://[::1]:9/").is_ok());
        assert!(parse_ws_url("127.0.0.1:8765")
            .unwrap_err()
            .contains("no scheme"));
        assert!(parse_ws_url("http://x").unwrap_err().contains("HTTP URL"));
        assert!(parse_ws_url("ftp://x")
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(parse_ws_url("ws://").is_err());
    }

    #[test]
    fn headers() {
        let (k, v) = parse_header("X-Token:  abc ").unwrap();
        assert_eq!(k.as_str(), "x-token");
        assert_eq!(v.to_str().unwrap(), "abc");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X: a\nb").is_err());
    }
}
