//! A stream wrapper under tungstenite that remembers what tungstenite will not
//! tell: the first bytes a peer sent (when a handshake fails, what the other side
//! actually spoke: TLS to our plain request, plain text to our TLS hello, an
//! HTTP/1.0 answer) and the last ones (a close frame as it came, before
//! tungstenite swaps an illegal close code for 1002). Writes pass untouched; a
//! read costs a copy of at most a close frame's size.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much of the start of the conversation is kept.
pub const KEEP: usize = 1024;

/// The bytes seen so far, shared with whoever wants them after the stream is gone.
pub type Seen = Arc<Mutex<Vec<u8>>>;

/// The longest close frame: 2 header bytes, a 4-byte mask, 125 payload bytes.
const TAIL: usize = 2 + 4 + 125;

pub struct Witness<S> {
    inner: S,
    /// Where the first bytes go, until `KEEP` of them are in.
    seen: Option<Seen>,
    /// The last bytes read, oldest first (`tail_len` of them are valid); made
    /// on the first read and given back by [`Witness::forget_tail`].
    tail: Option<Box<[u8; TAIL]>>,
    tail_len: usize,
    /// Whether to keep the tail at all (not where it would be ciphertext).
    keep_tail: bool,
}

impl<S> Witness<S> {
    /// Keeps the first bytes (returned, shared) and the last ones.
    pub fn new(inner: S, keep_tail: bool) -> (Self, Seen) {
        let seen = Seen::default();
        let stream = Witness {
            seen: Some(seen.clone()),
            ..Witness::tail_only(inner)
        };
        (
            Witness {
                keep_tail,
                ..stream
            },
            seen,
        )
    }

    /// Keeps only the last bytes.
    pub fn tail_only(inner: S) -> Self {
        Witness {
            inner,
            seen: None,
            tail: None,
            tail_len: 0,
            keep_tail: true,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The close frame the peer ended with, as it came: `masked` says whether
    /// the peer masks its frames (a client does).
    pub fn peer_close(&self, masked: bool) -> Option<RawClose> {
        find_close(&self.tail.as_deref()?[..self.tail_len], masked)
    }

    /// Gives the tail's room back: for a connection at rest, where everything
    /// read so far ended whole frames and a close frame still to come lies
    /// wholly in later reads.
    pub fn forget_tail(&mut self) {
        self.tail = None;
        self.tail_len = 0;
    }

    fn remember(&mut self, new: &[u8]) {
        if let Some(seen) = &self.seen {
            let full = match seen.lock() {
                Ok(mut seen) => {
                    let room = KEEP - seen.len();
                    seen.extend_from_slice(&new[..new.len().min(room)]);
                    seen.len() >= KEEP
                }
                Err(_) => true,
            };
            if full {
                self.seen = None;
            }
        }
        if !self.keep_tail || new.is_empty() {
            return;
        }
        let tail = self.tail.get_or_insert_with(|| Box::new([0; TAIL]));
        if new.len() >= TAIL {
            tail.copy_from_slice(&new[new.len() - TAIL..]);
            self.tail_len = TAIL;
            return;
        }
        let keep_old = (TAIL - new.len()).min(self.tail_len);
        tail.copy_within(self.tail_len - keep_old..self.tail_len, 0);
        tail[keep_old..keep_old + new.len()].copy_from_slice(new);
        self.tail_len = keep_old + new.len();
    }
}

/// A close frame's payload as the peer sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawClose {
    pub payload: Vec<u8>,
}

impl RawClose {
    /// The code, when the payload is long enough to hold one.
    pub fn code(&self) -> Option<u16> {
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn reason(&self) -> String {
        String::from_utf8_lossy(self.payload.get(2..).unwrap_or_default()).into_owned()
    }
}

/// The close frame that `bytes` end with, if they end with one: each possible
/// payload length is tried against the frame header it would need.
fn find_close(bytes: &[u8], masked: bool) -> Option<RawClose> {
    let mask_len = if masked { 4 } else { 0 };
    (0..=125usize).find_map(|len| {
        let start = bytes.len().checked_sub(2 + mask_len + len)?;
        let (b0, b1) = (bytes[start], bytes[start + 1]);
        if b0 != 0x88 || usize::from(b1 & 0x7f) != len || (b1 & 0x80 != 0) != masked {
            return None;
        }
        let mask = &bytes[start + 2..start + 2 + mask_len];
        let payload = bytes[start + 2 + mask_len..]
            .iter()
            .enumerate()
            .map(|(i, b)| if masked { b ^ mask[i % 4] } else { *b })
            .collect();
        Some(RawClose { payload })
    })
}

impl<S: AsyncRead + Unpin> AsyncRead for Witness<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let this = &mut *self;
        this.remember(&buf.filled()[before..]);
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Witness<S> {
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
        let (mut stream, seen) = Witness::new(&data[..], true);
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, data);
        assert_eq!(*seen.lock().unwrap(), data[..KEEP]);
    }

    fn close_frame(payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut f = vec![
            0x88,
            payload.len() as u8 | if mask.is_some() { 0x80 } else { 0 },
        ];
        match mask {
            Some(m) => {
                f.extend_from_slice(&m);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    #[tokio::test]
    async fn the_close_frame_a_peer_ended_with_is_found_across_reads() {
        use tokio::io::AsyncReadExt;
        // Some text frames, then a masked close with code 5000, read in small pieces.
        let mut wire = Vec::new();
        for _ in 0..50 {
            wire.extend_from_slice(&[0x81, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]);
        }
        wire.extend(close_frame(b"\x13\x88bye", Some([9, 8, 7, 6])));
        let mut stream = Witness::tail_only(&wire[..]);
        let mut piece = [0u8; 7];
        while stream.read(&mut piece).await.unwrap() > 0 {}
        let close = stream.peer_close(true).expect("the close frame");
        assert_eq!(
            (close.code(), close.reason()),
            (Some(5000), "bye".to_string())
        );
        assert_eq!(
            stream.peer_close(false),
            None,
            "a client's frames are masked"
        );
    }

    #[test]
    fn a_one_byte_close_payload_and_an_unmasked_one_are_found() {
        let one = find_close(&close_frame(&[3], None), false).unwrap();
        assert_eq!((one.payload.len(), one.code()), (1, None));
        let mut bytes = vec![0x81, 0x01, b'x'];
        bytes.extend(close_frame(&[0x03, 0xed], None));
        assert_eq!(find_close(&bytes, false).unwrap().code(), Some(1005));
        assert_eq!(find_close(b"no close here", false), None);
    }
}
