//! A big binary frame echoed while it arrives, past tungstenite.
//!
//! An echo server that waits for a whole megabyte before answering spends the
//! peer's sending time idle and then its receiving time busy; tungstenite also
//! zero-fills the room it reads into and copies the payload out of its buffer.
//! A binary frame needs no validation, and its echo is the same length, so its
//! echo's header can leave at once and each piece of the payload can follow as
//! soon as it is read and unmasked: one buffer, reused, and no copy but the
//! kernel's. Only whole binary messages (FIN, no extension bits) take this way;
//! everything else still goes through tungstenite, which checks it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::head::{apply_mask, Head, BINARY, MAX_HEAD};

/// Frames this long or longer are echoed as they arrive.
pub const THROUGH_MIN: u64 = 64 * 1024;
/// How much of a frame is held between its read and its write while the peer
/// reads its echo; more while it does not (kept until the connection rests, as
/// a big echo's buffer is).
const CHUNK: usize = 256 * 1024;

/// Who counts the messages echoed this way (nobody else sees them).
pub trait Tally: Send + Sync {
    /// One message of `len` bytes came in and went back out.
    fn passed(&self, len: u64);
}

/// What a connection whose echoes may pass through here keeps: who counts
/// them and the longest message it accepts (a longer one is left to
/// tungstenite, which refuses it).
pub struct PassOn {
    pub tally: Arc<dyn Tally>,
    pub max: u64,
}

impl PassOn {
    /// Whether a frame with this header, read at a message boundary, is
    /// echoed here.
    pub(super) fn takes(&self, head: &Head) -> bool {
        head.fin
            && head.rsv == 0
            && head.opcode == BINARY
            && head.mask.is_some()
            && head.len >= THROUGH_MIN
            && head.len <= self.max
    }
}

/// One frame on its way through: its echo's bytes in `buf[start..end]`, the
/// payload still to read in `left`.
pub(super) struct Through {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    left: u64,
    len: u64,
    key: [u8; 4],
    /// Payload bytes unmasked so far (where the next one falls in the key).
    unmasked: u64,
    /// Written since the last flush (a TLS stream holds records until then).
    unflushed: bool,
}

impl Through {
    pub(super) fn new() -> Through {
        Through {
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            left: 0,
            len: 0,
            key: [0; 4],
            unmasked: 0,
            unflushed: false,
        }
    }

    /// Whether a frame is still on its way (read or written).
    pub(super) fn busy(&self) -> bool {
        self.left > 0 || self.start < self.end || self.unflushed
    }

    /// Starts the echo of the frame `head` (one [`PassOn::takes`]), given
    /// the bytes read after its header; returns how many of them were its.
    pub(super) fn begin(&mut self, head: &Head, after: &[u8]) -> usize {
        debug_assert!(!self.busy());
        let key = head.mask.expect("a masked frame");
        let mut out = Vec::with_capacity(MAX_HEAD);
        Head::new(head.opcode, true, head.len).encode(&mut out);
        let mine = after
            .len()
            .min(usize::try_from(head.len).unwrap_or(usize::MAX));
        let need = out.len() + mine;
        if self.buf.len() < need {
            self.buf.resize(need, 0);
        }
        self.buf[..out.len()].copy_from_slice(&out);
        self.buf[out.len()..need].copy_from_slice(&after[..mine]);
        apply_mask(&mut self.buf[out.len()..need], key, 0);
        self.start = 0;
        self.end = need;
        self.len = head.len;
        self.left = head.len - mine as u64;
        self.key = key;
        self.unmasked = mine as u64;
        mine
    }

    /// Reads the rest of the frame and writes its echo, each as far as the
    /// socket allows, until both are done; `before` is written first (a frame
    /// owed from before this one began). Counts the message once done.
    pub(super) fn poll_pass<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        inner: &mut S,
        cx: &mut Context<'_>,
        mut before: impl FnMut(&mut S, &mut Context<'_>) -> Poll<io::Result<()>>,
        tally: Option<&PassOn>,
    ) -> Poll<io::Result<()>> {
        while self.left > 0 || self.start < self.end {
            let mut moved = false;
            if self.start < self.end && before(inner, cx)?.is_ready() {
                match Pin::new(&mut *inner).poll_write(cx, &self.buf[self.start..self.end]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        self.start += n;
                        moved = true;
                        self.unflushed = true;
                        if self.start == self.end {
                            self.start = 0;
                            self.end = 0;
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            if self.left > 0 && self.end == self.buf.len() && self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.left > 0 && self.end == self.buf.len() {
                // Nothing of it written: the echo is stuck behind a peer that
                // reads only once it has sent all. The frame is read on into
                // memory (as a whole message would be) rather than leave both
                // sides waiting.
                let more = self
                    .buf
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                self.buf.resize(self.buf.len() + more, 0);
            }
            let room = self.buf.len() - self.end;
            if self.left > 0 && room > 0 {
                let want = room.min(usize::try_from(self.left).unwrap_or(usize::MAX));
                let mut rb = ReadBuf::new(&mut self.buf[self.end..self.end + want]);
                match Pin::new(&mut *inner).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the peer closed the connection in the middle of a frame",
                            )));
                        }
                        let (key, at) = (self.key, self.unmasked);
                        apply_mask(&mut self.buf[self.end..self.end + n], key, at);
                        self.end += n;
                        self.unmasked += n as u64;
                        self.left -= n as u64;
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            if !moved {
                // Waiting on the peer: what was written leaves now, not at the
                // frame's end (the peer may wait for it before sending more).
                if self.unflushed && Pin::new(&mut *inner).poll_flush(cx)?.is_ready() {
                    self.unflushed = false;
                }
                return Poll::Pending;
            }
        }
        if self.unflushed {
            if Pin::new(&mut *inner).poll_flush(cx)?.is_pending() {
                return Poll::Pending;
            }
            self.unflushed = false;
        }
        if self.len > 0 {
            if let Some(pass) = tally {
                pass.tally.passed(self.len);
            }
            self.len = 0;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::deflate::Role;
    use crate::frames::head::{CONTINUATION, TEXT};
    use crate::frames::trickle::Trickle;
    use crate::frames::Frames;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Default)]
    struct Count {
        messages: AtomicU64,
        bytes: AtomicU64,
    }

    impl Tally for Count {
        fn passed(&self, len: u64) {
            self.messages.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(len, Ordering::Relaxed);
        }
    }

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A frame as a client sends it (masked), its header as given.
    fn sent(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
        let mut head = Head::new(opcode, fin, payload.len() as u64);
        head.rsv = rsv;
        head.mask = masked.then_some(KEY);
        let mut f = Vec::new();
        head.encode(&mut f);
        let start = f.len();
        f.extend_from_slice(payload);
        if masked {
            apply_mask(&mut f[start..], KEY, 0);
        }
        f
    }

    /// Its echo as a server sends it.
    fn echoed(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        Head::new(BINARY, true, payload.len() as u64).encode(&mut f);
        f.extend_from_slice(payload);
        f
    }

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
    }

    fn passing(input: Vec<u8>, chunk: usize) -> (Frames<Trickle>, Arc<Count>) {
        let wire = Trickle {
            chunk,
            stalls: true,
            input,
            ..Default::default()
        };
        let mut s = Frames::plain(wire, Role::Server);
        let count = Arc::new(Count::default());
        s.pass_big_binary(PassOn {
            tally: count.clone(),
            max: 1 << 20,
        });
        (s, count)
    }

    #[tokio::test]
    async fn big_binary_frames_are_echoed_as_they_come_and_the_rest_is_handed_up() {
        let (first, second) = (bytes(300_000, 1), bytes(THROUGH_MIN as usize, 2));
        let text = sent(true, 0, TEXT, b"between", true);
        // Read 7 000 bytes at a time: every frame spans many reads. Read 100 000
        // at a time: the second frame and the texts after it come in one read.
        for chunk in [7_000, 100_000] {
            let input = [
                sent(true, 0, BINARY, &first, true),
                sent(true, 0, BINARY, &second, true),
                text.clone(),
                text.clone(),
            ]
            .concat();
            let (mut s, count) = passing(input, chunk);
            let mut handed = Vec::new();
            s.read_to_end(&mut handed).await.unwrap();
            s.flush().await.unwrap();
            assert!(
                handed == [text.clone(), text.clone()].concat(),
                "chunk {chunk}"
            );
            let out = &s.get_ref().out;
            assert!(
                *out == [echoed(&first), echoed(&second)].concat(),
                "chunk {chunk}"
            );
            assert_eq!(count.messages.load(Ordering::Relaxed), 2);
            assert_eq!(count.bytes.load(Ordering::Relaxed), 300_000 + THROUGH_MIN);
            assert!(s.at_rest(), "nothing held once both are out");
        }
    }

    #[tokio::test]
    async fn a_big_frame_read_behind_others_goes_up_with_them() {
        // Its echo would overtake theirs, which the writer above has not had
        // yet: it is left to tungstenite, as every frame was before.
        let input = [
            sent(true, 0, TEXT, b"first", true),
            sent(true, 0, BINARY, &bytes(100_000, 9), true),
        ]
        .concat();
        let (mut s, count) = passing(input.clone(), 200_000);
        let mut handed = Vec::new();
        s.read_to_end(&mut handed).await.unwrap();
        assert!(handed == input);
        assert_eq!(count.messages.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn frames_tungstenite_must_check_or_refuse_are_handed_up_untouched() {
        let big = bytes(100_000, 3);
        for (what, input) in [
            ("text", sent(true, 0, TEXT, &big, true)),
            ("small", sent(true, 0, BINARY, &big[..1000], true)),
            ("fragment", sent(false, 0, BINARY, &big, true)),
            ("compressed", sent(true, 0b100, BINARY, &big, true)),
            ("unmasked", sent(true, 0, BINARY, &big, false)),
            ("too big", sent(true, 0, BINARY, &bytes(2 << 20, 4), true)),
            (
                "a continuation",
                [
                    sent(false, 0, BINARY, b"first", true),
                    sent(true, 0, CONTINUATION, &big, true),
                ]
                .concat(),
            ),
        ] {
            let (mut s, count) = passing(input.clone(), 100_000);
            let mut handed = Vec::new();
            s.read_to_end(&mut handed).await.unwrap();
            assert!(handed == input, "{what}");
            assert!(s.get_ref().out.is_empty(), "{what}");
            assert_eq!(count.messages.load(Ordering::Relaxed), 0, "{what}");
        }
    }

    #[tokio::test]
    async fn nothing_passes_inside_a_fragmented_message() {
        // A new binary frame there is the peer's error, for tungstenite to see;
        // the first read ends exactly after the open fragment.
        let open = sent(false, 0, BINARY, &[7; 100], true);
        let input = [
            open.clone(),
            sent(true, 0, BINARY, &bytes(100_000, 10), true),
        ]
        .concat();
        let (mut s, count) = passing(input.clone(), open.len());
        let mut handed = Vec::new();
        s.read_to_end(&mut handed).await.unwrap();
        assert!(handed == input);
        assert_eq!(count.messages.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn nothing_passes_while_the_writer_above_holds_echoes() {
        let input = sent(true, 0, BINARY, &bytes(100_000, 5), true);
        let (mut s, _) = passing(input.clone(), 100_000);
        s.set_clean(false);
        let mut handed = Vec::new();
        s.read_to_end(&mut handed).await.unwrap();
        assert!(handed == input);
        assert!(s.get_ref().out.is_empty());
    }

    #[tokio::test]
    async fn an_echo_owed_before_leaves_first_and_later_writes_wait_for_the_pass() {
        let payload = bytes(200_000, 6);
        let (mut s, _) = passing(sent(true, 0, BINARY, &payload, true), 5_000);
        let owed = echoed(&bytes(100_000, 7));
        s.owe(owed.clone());
        let mut handed = Vec::new();
        s.read_to_end(&mut handed).await.unwrap();
        let after = echoed(b"after");
        s.write_all(&after).await.unwrap();
        s.flush().await.unwrap();
        assert!(handed.is_empty());
        assert!(s.get_ref().out == [owed, echoed(&payload), after].concat());
    }

    #[tokio::test]
    async fn a_peer_gone_mid_frame_is_an_error_not_an_end() {
        let mut input = sent(true, 0, BINARY, &bytes(100_000, 8), true);
        input.truncate(50_000);
        let (mut s, count) = passing(input, 7_000);
        let mut handed = Vec::new();
        let err = s.read_to_end(&mut handed).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(count.messages.load(Ordering::Relaxed), 0);
    }
}
