//! HTTP CONNECT proxies: which one to use (`--proxy` or the variables curl
//! reads) and the tunnel itself. Once the proxy answers 2xx the stream is the
//! target's, so TLS and the WebSocket handshake run over it unchanged.

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::http::Uri;

use crate::error::NetError;

/// The most a proxy's answer to CONNECT may take before we call it broken.
const MAX_RESPONSE: usize = 16 * 1024;

#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, String)>,
}

impl Proxy {
    /// The proxy as shown to people: never with its password.
    pub fn shown(&self) -> String {
        match &self.credentials {
            Some((user, _)) => format!("http://{user}:***@{}:{}", self.host, self.port),
            None => format!("http://{}:{}", self.host, self.port),
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

/// Parses `http://[user:pass@]host[:port]`; a bare `host:port` is taken as
/// http:// as curl does.
pub fn parse_proxy_url(s: &str) -> Result<Proxy, String> {
    let hint = "expected a proxy like http://127.0.0.1:3128 or http://user:pass@proxy:8080";
    let rest = match s.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "proxy `{s}`: only http:// proxies (HTTP CONNECT) are supported, not {scheme}://"
            ))
        }
        None => s,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let credentials = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        (percent_decode(user), percent_decode(pass))
    });
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("proxy `{s}` has an unclosed `[`: {hint}"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("proxy `{s}` has no host: {hint}"));
    }
    let port = match port {
        None | Some("") => 1080,
        Some(p) => p
            .parse()
            .map_err(|_| format!("proxy `{s}` has an invalid port `{p}`: {hint}"))?,
    };
    Ok(Proxy {
        host,
        port,
        credentials,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The proxy the environment names for this URL, read as curl reads it:
/// `https_proxy`/`HTTPS_PROXY` for wss://, `http_proxy` (lower case only, as
/// curl) for ws://, then `all_proxy`/`ALL_PROXY`, all subject to
/// `no_proxy`/`NO_PROXY`. Loopback hosts never go through a proxy taken from
/// the environment (as Go's http client does): a local server should be
/// reachable whatever the machine's proxy settings; `--proxy` still applies.
pub fn from_env(
    target: &Uri,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, String> {
    let host = target
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if is_loopback(&host) {
        return Ok(None);
    }
    let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    let no_proxy = get("no_proxy").or_else(|| get("NO_PROXY"));
    if let Some(list) = no_proxy {
        if bypassed(&host, &list) {
            return Ok(None);
        }
    }
    let names: &[&str] = if target.scheme_str() == Some("wss") {
        &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        &["http_proxy", "all_proxy", "ALL_PROXY"]
    };
    for name in names {
        if let Some(v) = get(name) {
            return parse_proxy_url(v.trim())
                .map(Some)
                .map_err(|e| format!("{name}: {e}"));
        }
    }
    Ok(None)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// curl's `NO_PROXY`: `*` for all, else comma-separated names, each matching
/// the host itself or any name below it (a leading dot is optional).
fn bypassed(host: &str, list: &str) -> bool {
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry
            .trim_start_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        !entry.is_empty()
            && (host == entry
                || host
                    .strip_suffix(&entry)
                    .is_some_and(|rest| rest.ends_with('.')))
    })
}

/// Asks the proxy for a tunnel to `host:port` and reads its answer. Anything
/// but 2xx ends here with the proxy's own status line.
pub async fn tunnel(
    stream: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), NetError> {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: wsprobe/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some((user, pass)) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let io_err = |e: std::io::Error| NetError::Proxy {
        proxy: proxy.shown(),
        reason: format!("connection failed during CONNECT: {e}"),
    };
    stream.write_all(request.as_bytes()).await.map_err(io_err)?;

    // Read byte by byte up to the blank line: whatever follows belongs to the
    // tunnel and must not be swallowed here.
    let mut answer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_RESPONSE {
            return Err(NetError::Proxy {
                proxy: proxy.shown(),
                reason: "its answer to CONNECT is larger than 16 KiB".into(),
            });
        }
        let n = stream.read(&mut byte).await.map_err(io_err)?;
        if n == 0 {
            return Err(NetError::Proxy {
                proxy: proxy.shown(),
                reason: if answer.is_empty() {
                    "it closed the connection without answering CONNECT".into()
                } else {
                    "it closed the connection in the middle of its answer".into()
                },
            });
        }
        answer.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&answer);
    let status_line = text.lines().next().unwrap_or_default().trim().to_string();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(200..=299) if status_line.starts_with("HTTP/") => Ok(()),
        Some(407) => Err(NetError::Proxy {
            proxy: proxy.shown(),
            reason: format!(
                "it refused the tunnel to {target}: `{status_line}` (give credentials as http://user:pass@host:port)"
            ),
        }),
        Some(_) => Err(NetError::Proxy {
            proxy: proxy.shown(),
            reason: format!("it refused the tunnel to {target}: `{status_line}`"),
        }),
        None => Err(NetError::Proxy {
            proxy: proxy.shown(),
            reason: format!(
                "it answered CONNECT with something that is not HTTP: `{}`",
                crate::escape::escape_text(&status_line, 80)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn proxy_urls() {
        let p = parse_proxy_url("http://alice:s%40cret@proxy.example:3128").unwrap();
        assert_eq!(p.host, "proxy.example");
        assert_eq!(p.port, 3128);
        assert_eq!(
            p.credentials,
            Some(("alice".to_string(), "s@cret".to_string()))
        );
        assert_eq!(p.shown(), "http://alice:***@proxy.example:3128");
        let p = parse_proxy_url("127.0.0.1:8080").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 8080));
        let p = parse_proxy_url("http://[::1]:9/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 9));
        assert_eq!(parse_proxy_url("http://proxy").unwrap().port, 1080);
        assert!(parse_proxy_url("socks5://x:1")
            .unwrap_err()
            .contains("only http://"));
        assert!(parse_proxy_url("http://:80")
            .unwrap_err()
            .contains("no host"));
        assert!(parse_proxy_url("http://x:http")
            .unwrap_err()
            .contains("invalid port"));
    }

    #[test]
    fn environment_as_curl_reads_it() {
        let wss: Uri = "wss://api.example.com/ws".parse().unwrap();
        let ws: Uri = "ws://api.example.com/ws".parse().unwrap();
        let vars = [("HTTPS_PROXY", "http://p:1"), ("HTTP_PROXY", "http://q:2")];
        assert_eq!(from_env(&wss, env(&vars)).unwrap().unwrap().port, 1);
        // Upper-case HTTP_PROXY is ignored, as curl does (CGI's HTTP_PROXY header).
        assert_eq!(from_env(&ws, env(&vars)).unwrap(), None);
        let vars = [("http_proxy", "http://q:2"), ("ALL_PROXY", "http://a:3")];
        assert_eq!(from_env(&ws, env(&vars)).unwrap().unwrap().port, 2);
        assert_eq!(from_env(&wss, env(&vars)).unwrap().unwrap().port, 3);
        let bypass = [
            ("https_proxy", "http://p:1"),
            ("NO_PROXY", "x.org, .example.com"),
        ];
        assert_eq!(from_env(&wss, env(&bypass)).unwrap(), None);
        let other: Uri = "wss://example.community".parse().unwrap();
        assert!(from_env(&other, env(&bypass)).unwrap().is_some());
        let all = [("https_proxy", "http://p:1"), ("no_proxy", "*")];
        assert_eq!(from_env(&wss, env(&all)).unwrap(), None);
        let bad = [("https_proxy", "socks5://p:1")];
        assert!(from_env(&wss, env(&bad))
            .unwrap_err()
            .starts_with("https_proxy:"));
    }

    #[test]
    fn loopback_skips_environment_proxies() {
        let vars = [("https_proxy", "http://p:1"), ("http_proxy", "http://p:1")];
        for url in ["ws://127.0.0.1:8765", "wss://localhost/", "ws://[::1]:9/"] {
            let uri: Uri = url.parse().unwrap();
            assert_eq!(from_env(&uri, env(&vars)).unwrap(), None, "{url}");
        }
    }
}
