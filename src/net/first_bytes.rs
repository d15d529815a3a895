//! Keeps the first bytes a peer sent, below TLS and tungstenite, so that when a
//! handshake fails we can say what the other side actually spoke (TLS to our
//! plain request, plain HTTP to our TLS hello, an HTTP/1.0 answer).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of the start of the conversation is kept.
pub const KEEP: usize = 1024;

/// The bytes seen so far, shared with whoever wants them after the stream is gone.
pub type Seen = Arc<Mutex<Vec<u8>>>;

pub struct FirstBytes<S> {
    inner: S,
    seen: Seen,
    /// Set once `KEEP` bytes are in: from then on a read costs one comparison.
    full: bool,
}

impl<S> FirstBytes<S> {
    pub fn new(inner: S) -> (Self, Seen) {
        let seen = Seen::default();
        let stream = FirstBytes {
            inner,
            seen: seen.clone(),
            full: false,
        };
        (stream, seen)
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.full {
            let new = &buf.filled()[before..];
            let full = match self.seen.lock() {
                Ok(mut seen) => {
                    let room = KEEP - seen.len();
                    seen.extend_from_slice(&new[..new.len().min(room)]);
                    seen.len() >= KEEP
                }
                Err(_) => true,
            };
            self.full = full;
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What the start of a peer's answer says it speaks, when that explains a
/// failed handshake better than the parser's error.
#[derive(Debug, PartialEq, Eq)]
pub enum Spoke {
    /// A TLS record (handshake or alert): the server wants wss://.
    Tls,
    /// An HTTP answer: its status line and the start of its body.
    Http { status: String, body: String },
    /// Readable text that is not HTTP (an HTTP/0.9 error page, a banner): its first line.
    Text(String),
}

pub fn what_was_spoken(seen: &[u8]) -> Option<Spoke> {
    // TLS records start with a content type (21 alert, 22 handshake) and version 3.x.
    if seen.len() >= 2 && matches!(seen[0], 21 | 22) && seen[1] == 3 {
        return Some(Spoke::Tls);
    }
    if !seen.starts_with(b"HTTP/") {
        let line = seen.split(|&b| b == b'\n').next().unwrap_or_default();
        let readable = !line.is_empty()
            && line
                .iter()
                .all(|&b| b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b));
        return readable.then(|| Spoke::Text(String::from_utf8_lossy(line).trim().to_string()));
    }
    let text = String::from_utf8_lossy(seen);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default().trim().to_string();
    Some(Spoke::Http {
        status,
        body: body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_alert_is_tls() {
        assert_eq!(what_was_spoken(&[21, 3, 3, 0, 2, 2, 50]), Some(Spoke::Tls));
        assert_eq!(what_was_spoken(&[22, 3, 1]), Some(Spoke::Tls));
    }

    #[test]
    fn an_http_answer_gives_its_status_line_and_body() {
        let seen = b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\n\r\n<!DOCTYPE HTML>";
        assert_eq!(
            what_was_spoken(seen),
            Some(Spoke::Http {
                status: "HTTP/1.0 200 OK".into(),
                body: "<!DOCTYPE HTML>".into()
            })
        );
    }

    #[test]
    fn anything_else_is_left_to_the_parser() {
        assert_eq!(
            what_was_spoken(b"<!DOCTYPE HTML>\n<html>"),
            Some(Spoke::Text("<!DOCTYPE HTML>".into()))
        );
        assert_eq!(what_was_spoken(b"\x00\x01binary"), None);
        assert_eq!(what_was_spoken(b""), None);
    }

    #[tokio::test]
    async fn keeps_only_the_first_bytes_and_passes_everything_through() {
        use tokio::io::AsyncReadExt;
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let (mut stream, seen) = FirstBytes::new(&data[..]);
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, data);
        assert_eq!(*seen.lock().unwrap(), data[..KEEP]);
    }
}
