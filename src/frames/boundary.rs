//! Where the bytes handed up to tungstenite stand against the frames they carry.
//!
//! An idle connection can put its tungstenite socket down (and the buffers it
//! holds) only when tungstenite holds nothing of the peer's: every byte handed up
//! ends a whole frame, no fragmented message is under way, and so a fresh socket
//! made later reads on exactly where the old one stopped. Counting that costs a
//! header parse per frame and no allocation.

use super::head::{Head, BINARY, CONTINUATION, MAX_HEAD, TEXT};

const HTTP_END: &[u8; 4] = b"\r\n\r\n";

#[derive(Clone, Copy, Debug)]
pub struct Boundary {
    /// How much of the HTTP head's blank line has been seen; `None` once
    /// frames begin.
    http: Option<u8>,
    head: [u8; MAX_HEAD],
    have: u8,
    /// Payload bytes of the current frame not handed up yet.
    left: u64,
    /// A data frame without FIN was the last data frame: a message is under way.
    mid_message: bool,
}

impl Boundary {
    /// `http`: the stream starts with an HTTP head (a handshake still to come).
    pub fn new(http: bool) -> Boundary {
        Boundary {
            http: http.then_some(0),
            head: [0; MAX_HEAD],
            have: 0,
            left: 0,
            mid_message: false,
        }
    }

    /// Every byte passed so far ends a frame, and no message is half read.
    pub fn at_rest(&self) -> bool {
        self.http.is_none() && self.have == 0 && self.left == 0 && !self.mid_message
    }

    /// Whether no message is under way (fragments of one may still come).
    pub fn between_messages(&self) -> bool {
        self.http.is_none() && !self.mid_message
    }

    /// Walks bytes as they are handed up; returns where in them the last frame
    /// that ends in them ends, if one does.
    pub fn pass(&mut self, bytes: &[u8]) -> Option<usize> {
        let total = bytes.len();
        let mut bytes = bytes;
        let mut last_end = None;
        while !bytes.is_empty() {
            if let Some(seen) = &mut self.http {
                let mut used = 0;
                for &b in bytes {
                    used += 1;
                    *seen = if b == HTTP_END[*seen as usize] {
                        *seen + 1
                    } else {
                        (b == b'\r') as u8
                    };
                    if *seen == 4 {
                        break;
                    }
                }
                if *seen == 4 {
                    self.http = None;
                }
                bytes = &bytes[used..];
                continue;
            }
            if self.left > 0 {
                let n = self.left.min(bytes.len() as u64);
                self.left -= n;
                bytes = &bytes[n as usize..];
                if self.left == 0 {
                    last_end = Some(total - bytes.len());
                }
                continue;
            }
            let have = self.have as usize;
            let need = if have < 2 {
                2
            } else {
                Head::size([self.head[0], self.head[1]])
            };
            let n = (need - have).min(bytes.len());
            self.head[have..have + n].copy_from_slice(&bytes[..n]);
            self.have += n as u8;
            bytes = &bytes[n..];
            let have = self.have as usize;
            if have >= 2 && have == Head::size([self.head[0], self.head[1]]) {
                let head = Head::parse(&self.head[..have]);
                self.have = 0;
                self.left = head.len;
                if matches!(head.opcode, TEXT | BINARY | CONTINUATION) {
                    self.mid_message = !head.fin;
                }
                if self.left == 0 {
                    last_end = Some(total - bytes.len());
                }
            }
        }
        last_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, fin: bool, len: usize, masked: bool) -> Vec<u8> {
        let mut head = Head::new(opcode, fin, len as u64);
        head.mask = masked.then_some([1, 2, 3, 4]);
        let mut out = Vec::new();
        head.encode(&mut out);
        out.extend(std::iter::repeat_n(b'x', len));
        out
    }

    #[test]
    fn at_rest_only_between_whole_frames_of_whole_messages() {
        let mut stream = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        let head_end = stream.len();
        stream.extend(frame(TEXT, true, 5, true));
        let first_end = stream.len();
        stream.extend(frame(BINARY, false, 200, true));
        stream.extend(frame(0x9, true, 3, true)); // a ping inside the message
        let mid = stream.len();
        stream.extend(frame(CONTINUATION, true, 70_000, true));
        let end = stream.len();

        // Handed up in every possible pair of pieces, and byte by byte.
        let rests = |cut_at: &[usize]| {
            let mut b = Boundary::new(true);
            let mut at = Vec::new();
            let mut from = 0;
            for &to in cut_at {
                b.pass(&stream[from..to]);
                at.push(b.at_rest());
                from = to;
            }
            at
        };
        assert_eq!(
            rests(&[head_end, first_end, mid, end]),
            [true, true, false, true]
        );
        for cut in [
            1,
            head_end - 1,
            head_end + 1,
            first_end + 3,
            mid + 1,
            end - 1,
        ] {
            assert_eq!(rests(&[cut, end]), [false, true], "cut at {cut}");
        }
        let mut b = Boundary::new(true);
        for (i, byte) in stream.iter().enumerate() {
            b.pass(std::slice::from_ref(byte));
            let expected = [head_end, first_end, end].contains(&(i + 1));
            assert_eq!(b.at_rest(), expected, "after byte {}", i + 1);
        }
    }

    #[test]
    fn pass_says_where_the_last_whole_frame_ends() {
        let mut b = Boundary::new(false);
        let mut bytes = frame(TEXT, true, 3, true);
        let first = bytes.len();
        bytes.extend(frame(0x9, true, 0, true));
        let second = bytes.len();
        bytes.extend(&frame(BINARY, true, 300, true)[..20]);
        assert_eq!(b.pass(&bytes[..first - 1]), None);
        assert_eq!(b.pass(&bytes[first - 1..]), Some(second - first + 1));
        assert!(!b.at_rest() && b.between_messages());
    }

    #[test]
    fn a_carriage_return_inside_the_blank_line_starts_the_match_again() {
        let mut b = Boundary::new(true);
        b.pass(b"GET / HTTP/1.1\r\n\r\r\n\r\n");
        assert!(b.at_rest());
        let mut b = Boundary::new(true);
        b.pass(b"GET / HTTP/1.1\r\nX: \r\r\n");
        assert!(!b.at_rest());
    }

    #[test]
    fn without_a_head_frames_start_at_once() {
        let mut b = Boundary::new(false);
        assert!(b.at_rest());
        b.pass(&frame(TEXT, true, 125, false)[..10]);
        assert!(!b.at_rest());
    }
}
