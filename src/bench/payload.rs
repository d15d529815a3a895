//! Bench payloads: a sequence number in front, a pattern derived from it behind,
//! so any corrupted byte of an echo is noticed without keeping what was sent.

/// 16 hex digits and a colon.
pub const HEADER: usize = 17;

fn pattern_byte(seq: u64, i: usize) -> u8 {
    b'a' + ((seq as usize).wrapping_add(i) % 26) as u8
}

pub fn make(seq: u64, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size.max(HEADER));
    v.extend_from_slice(format!("{seq:016x}:").as_bytes());
    v.extend((HEADER..size).map(|i| pattern_byte(seq, i)));
    v
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
    let seq = parse_seq(p)?;
    let intact = p.len() == size.max(HEADER)
        && p[HEADER..]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern_byte(seq, HEADER + i));
    intact.then_some(seq)
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
