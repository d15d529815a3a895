//! A frame header (RFC 6455 §5.2): read from bytes as they come, written back
//! in the shortest form, as every implementation writes it.

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// The "compressed" bit of permessage-deflate.
pub const RSV1: u8 = 0b100;

/// The longest header: 2 bytes, an 8-byte length, a 4-byte mask.
pub const MAX_HEAD: usize = 14;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub fin: bool,
    /// RSV1-3 as three bits, RSV1 the highest.
    pub rsv: u8,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
}

impl Head {
    pub fn new(opcode: u8, fin: bool, len: u64) -> Head {
        Head {
            fin,
            rsv: 0,
            opcode,
            mask: None,
            len,
        }
    }

    /// How many header bytes `first_two` announces (2 to 14).
    pub fn size(first_two: [u8; 2]) -> usize {
        let ext = match first_two[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if first_two[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    /// Reads a whole header (as many bytes as [`Head::size`] says).
    pub fn parse(h: &[u8]) -> Head {
        let (ext, len) = match h[1] & 0x7F {
            126 => (2, u16::from_be_bytes([h[2], h[3]]) as u64),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&h[2..10]);
                (8, u64::from_be_bytes(b))
            }
            n => (0, n as u64),
        };
        let mask = (h[1] & 0x80 != 0).then(|| {
            let m = &h[2 + ext..6 + ext];
            [m[0], m[1], m[2], m[3]]
        });
        Head {
            fin: h[0] & 0x80 != 0,
            rsv: (h[0] >> 4) & 0x7,
            opcode: h[0] & 0x0F,
            mask,
            len,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push((self.fin as u8) << 7 | (self.rsv & 0x7) << 4 | (self.opcode & 0x0F));
        let masked = (self.mask.is_some() as u8) << 7;
        match self.len {
            n if n < 126 => out.push(masked | n as u8),
            n if n < 65536 => {
                out.push(masked | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(masked | 127);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        if let Some(m) = self.mask {
            out.extend_from_slice(&m);
        }
    }

    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    pub fn is_data_start(&self) -> bool {
        matches!(self.opcode, TEXT | BINARY)
    }
}

/// XORs `buf` with the mask, `offset` bytes into the payload.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    // Eight bytes at a time (which the compiler widens further): a byte loop
    // costs a megabyte echo more than its copies do.
    let key: [u8; 8] = std::array::from_fn(|i| key[(i + shift) % 4]);
    let wide = u64::from_ne_bytes(key);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("eight bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (b, k) in chunks.into_remainder().iter_mut().zip(key) {
        *b ^= k;
    }
}

/// An opcode as people read it: `text`, `continuation`, `reserved 0x3`.
pub fn opcode_name(opcode: u8) -> String {
    match opcode {
        CONTINUATION => "continuation".into(),
        TEXT => "text".into(),
        BINARY => "binary".into(),
        CLOSE => "close".into(),
        PING => "ping".into(),
        PONG => "pong".into(),
        n => format!("reserved 0x{n:X}"),
    }
}

/// An opcode as a person types it: a name (`text`, `cont`, …) or a number.
pub fn parse_opcode(s: &str) -> Option<u8> {
    Some(match s.to_ascii_lowercase().as_str() {
        "cont" | "continuation" => CONTINUATION,
        "text" => TEXT,
        "binary" | "bin" => BINARY,
        "close" => CLOSE,
        "ping" => PING,
        "pong" => PONG,
        other => {
            let n = match other.strip_prefix("0x") {
                Some(hex) => u8::from_str_radix(hex, 16).ok()?,
                None => other.parse().ok()?,
            };
            if n > 0xF {
                return None;
            }
            n
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_in_every_length_form() {
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let head = Head {
                    fin: len % 2 == 0,
                    rsv: RSV1,
                    opcode: BINARY,
                    mask,
                    len,
                };
                let mut out = Vec::new();
                head.encode(&mut out);
                assert_eq!(Head::size([out[0], out[1]]), out.len());
                assert_eq!(Head::parse(&out), head);
            }
        }
    }

    #[test]
    fn masking_continues_across_pieces() {
        let key = [9, 8, 7, 6];
        let mut whole = b"hello, world".to_vec();
        apply_mask(&mut whole, key, 0);
        let mut pieces = b"hello, world".to_vec();
        let (a, b) = pieces.split_at_mut(5);
        apply_mask(a, key, 0);
        apply_mask(b, key, 5);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn masking_matches_the_bytewise_definition_at_every_length_and_offset() {
        let key = [0x11, 0x22, 0x44, 0x88];
        for len in 0..40 {
            for offset in 0..8u64 {
                let plain: Vec<u8> = (0..len as u8).collect();
                let mut masked = plain.clone();
                apply_mask(&mut masked, key, offset);
                let expected: Vec<u8> = plain
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(i + offset as usize) % 4])
                    .collect();
                assert_eq!(masked, expected, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn opcodes_by_name_or_number() {
        assert_eq!(parse_opcode("cont"), Some(CONTINUATION));
        assert_eq!(parse_opcode("0x3"), Some(3));
        assert_eq!(parse_opcode("11"), Some(11));
        assert_eq!(parse_opcode("16"), None);
        assert_eq!(opcode_name(0xB), "reserved 0xB");
    }
}
