//! The `--no-pong` fault. tungstenite answers every ping by itself, so the pongs
//! are taken out below it: this stream wrapper lets the HTTP handshake through,
//! then follows the outgoing frames' headers and drops every pong frame whole.
//! Everything else passes untouched, in order.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const PONG: u8 = 0xA;

/// Where the outgoing byte stream is: in the handshake, a frame header, or a payload.
#[derive(Clone, Copy, Debug)]
struct Parser {
    /// The last bytes of the HTTP response, until its blank line has gone out.
    http_tail: u32,
    http_done: bool,
    header: [u8; 14],
    have: usize,
    remaining: u64,
    in_payload: bool,
    /// The current frame is a pong.
    skip: bool,
}

impl Parser {
    fn new() -> Self {
        Parser {
            http_tail: 0,
            http_done: false,
            header: [0; 14],
            have: 0,
            remaining: 0,
            in_payload: false,
            skip: false,
        }
    }

    /// Whether the next bytes are dropped, and how many share that fate.
    fn next_run(&self, avail: &[u8]) -> (bool, usize) {
        if !self.http_done {
            (false, 1)
        } else if self.in_payload {
            (self.skip, (self.remaining.min(avail.len() as u64)) as usize)
        } else if self.have == 0 {
            (avail[0] & 0x0F == PONG, 1)
        } else {
            (self.skip, 1)
        }
    }

    /// Moves past `n` bytes of `bytes` (a run `next_run` described).
    fn consume(&mut self, bytes: &[u8]) {
        if !self.http_done {
            for &b in bytes {
                self.http_tail = (self.http_tail << 8) | b as u32;
                if self.http_tail == u32::from_be_bytes(*b"\r\n\r\n") {
                    self.http_done = true;
                }
            }
            return;
        }
        if self.in_payload {
            self.remaining -= bytes.len() as u64;
            if self.remaining == 0 {
                self.in_payload = false;
            }
            return;
        }
        for &b in bytes {
            if self.have == 0 {
                self.skip = b & 0x0F == PONG;
            }
            self.header[self.have] = b;
            self.have += 1;
            if let Some(len) = self.payload_len() {
                self.have = 0;
                self.remaining = len;
                self.in_payload = len > 0;
            }
        }
    }

    /// The payload length once the header is complete.
    fn payload_len(&self) -> Option<u64> {
        if self.have < 2 {
            return None;
        }
        let h = &self.header;
        let (ext, len7) = match h[1] & 0x7F {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(n as u64)),
        };
        let mask = if h[1] & 0x80 != 0 { 4 } else { 0 };
        if self.have < 2 + ext + mask {
            return None;
        }
        Some(len7.unwrap_or_else(|| {
            h[2..2 + ext]
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | b as u64)
        }))
    }

    /// The longest prefix of `buf` whose bytes are all dropped or all kept.
    fn plan(&self, buf: &[u8]) -> (bool, usize) {
        let mut p = *self;
        let mut off = 0;
        let mut fate = None;
        while off < buf.len() {
            let (skip, n) = p.next_run(&buf[off..]);
            if fate.is_some_and(|f| f != skip) {
                break;
            }
            fate = Some(skip);
            p.consume(&buf[off..off + n]);
            off += n;
        }
        (fate.unwrap_or(false), off)
    }

    fn advance(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (_, n) = self.next_run(bytes);
            self.consume(&bytes[..n]);
            bytes = &bytes[n..];
        }
    }
}

/// A server-side stream that never lets a pong out.
pub struct NoPong<S> {
    inner: S,
    parser: Parser,
}

impl<S> NoPong<S> {
    pub fn new(inner: S) -> Self {
        NoPong {
            inner,
            parser: Parser::new(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for NoPong<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for NoPong<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let (skip, n) = self.parser.plan(buf);
        if skip {
            // Taken and thrown away: to tungstenite it was written.
            self.parser.advance(&buf[..n]);
            return Poll::Ready(Ok(n));
        }
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, &buf[..n]) {
            Poll::Ready(Ok(written)) => {
                this.parser.advance(&buf[..written]);
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// An unmasked server frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => f.push(n as u8),
            n if n < 65536 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// A sink that takes at most `chunk` bytes a call, to split frames anywhere.
    struct Trickle {
        out: Vec<u8>,
        chunk: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.chunk);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn pongs_are_dropped_whole_and_nothing_else() {
        let http = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        let big = vec![7u8; 70_000];
        let mid = vec![8u8; 300];
        let parts: Vec<(Vec<u8>, bool)> = vec![
            (http, true),
            (frame(0x1, b"hello"), true),
            (frame(PONG, b"ping payload"), false),
            (frame(0x2, &mid), true),
            (frame(PONG, b""), false),
            (frame(0x9, b"a ping passes"), true),
            (frame(0x2, &big), true),
            (frame(PONG, &mid), false),
            (frame(0x8, &[0x03, 0xE8]), true),
        ];
        let all: Vec<u8> = parts.iter().flat_map(|(b, _)| b.clone()).collect();
        let kept: Vec<u8> = parts
            .iter()
            .filter(|(_, keep)| *keep)
            .flat_map(|(b, _)| b.clone())
            .collect();
        for (chunk, write_size) in [(1, 3), (7, 1000), (4096, 5), (1 << 20, 1 << 20)] {
            let mut s = NoPong::new(Trickle {
                out: Vec::new(),
                chunk,
            });
            for piece in all.chunks(write_size) {
                s.write_all(piece).await.unwrap();
            }
            assert!(s.inner.out == kept, "chunk {chunk}, writes of {write_size}");
        }
    }
}
