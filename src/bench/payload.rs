//! Bench payloads: a sequence number in front, a pattern derived from it behind,
//! so any corrupted byte of an echo is noticed without keeping what was sent.

/// 16 hex digits and a colon.
pub const HEADER: usize = 17;

/// The alphabet repeated: any body is one slice of it, so making and checking a
/// payload is a copy and a compare, not a loop over bytes (it matters at 1 MiB).
pub struct Pattern {
    cycle: Vec<u8>,
    size: usize,
}

impl Pattern {
    pub fn new(size: usize) -> Self {
        let body = size.saturating_sub(HEADER);
        Pattern {
            cycle: (0..body + 26).map(|j| b'a' + (j % 26) as u8).collect(),
            size: size.max(HEADER),
        }
    }

    fn body(&self, seq: u64) -> &[u8] {
        let start = ((seq % 26) as usize + HEADER) % 26;
        &self.cycle[start..start + (self.size - HEADER)]
    }

    /// The payload as bytes: a binary message's needs no UTF-8 check (at
    /// 1 MiB that check was a sixteenth of the sender's time).
    pub fn make(&self, seq: u64) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.size);
        self.append(seq, &mut p);
        p
    }

    /// Appends the payload to `out` (a frame being built).
    pub fn append(&self, seq: u64, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for shift in (0..16).rev() {
            out.push(HEX[((seq >> (shift * 4)) & 0xf) as usize]);
        }
        out.push(b':');
        out.extend_from_slice(self.body(seq));
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The payload as text (ASCII by construction, checked as every text is).
    pub fn make_text(&self, seq: u64) -> String {
        String::from_utf8(self.make(seq)).expect("ASCII pattern")
    }

    /// The sequence number of an intact echo.
    pub fn verify(&self, p: &[u8]) -> Option<u64> {
        let seq = parse_seq(p)?;
        (p.len() == self.size && &p[HEADER..] == self.body(seq)).then_some(seq)
    }
}

pub fn make(seq: u64, size: usize) -> Vec<u8> {
    Pattern::new(size).make(seq)
}

pub fn parse_seq(p: &[u8]) -> Option<u64> {
    if p.len() < HEADER || p[HEADER - 1] != b':' {
        return None;
    }
    let digits = std::str::from_utf8(&p[..HEADER - 1]).ok()?;
    u64::from_str_radix(digits, 16).ok()
}

/// The sequence number of an intact echo of a `size`-byte payload.
pub fn verify(p: &[u8], size: usize) -> Option<u64> {
    Pattern::new(size).verify(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for (seq, size) in [(0u64, 17usize), (42, 64), (u64::MAX, 1 << 16)] {
            let p = make(seq, size);
            assert_eq!(p.len(), size);
            assert_eq!(verify(&p, size), Some(seq));
            assert!(std::str::from_utf8(&p).is_ok(), "valid as text");
        }
    }

    #[test]
    fn the_pattern_shifts_with_the_sequence_number() {
        let p = Pattern::new(64);
        assert_ne!(p.make(1)[HEADER..], p.make(2)[HEADER..]);
        assert_eq!(p.make(1)[HEADER..], p.make(27)[HEADER..]);
        assert_eq!(p.make(3)[HEADER], b'a' + ((3 + HEADER) % 26) as u8);
    }

    #[test]
    fn any_corruption_is_caught() {
        let p = make(7, 64);
        for i in 0..p.len() {
            let mut bad = p.clone();
            bad[i] ^= 0x01;
            let verdict = verify(&bad, 64);
            assert_ne!(verdict, Some(7), "flip at {i} went unnoticed");
        }
        assert_eq!(verify(&p[..63], 64), None);
        assert_eq!(verify(b"garbage", 64), None);
    }
}
