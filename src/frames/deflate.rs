//! permessage-deflate (RFC 7692): what each side offers and answers, and the
//! codec of one connection. Each message is deflated on its own and ends in an
//! empty stored block whose last four bytes (`00 00 ff ff`) are left off the wire;
//! with context takeover the window carries over from message to message.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

pub const NAME: &str = "permessage-deflate";

/// What a client offers: the extension, and that it can work with a smaller
/// window should the server ask for one.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The negotiated parameters, as the server's answer states them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub server_no_context_takeover: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_no_context_takeover: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_max_window_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_max_window_bits: Option<u8>,
}

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

impl Params {
    /// The header value that states these parameters.
    pub fn header_value(&self) -> String {
        let mut s = NAME.to_string();
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if let Some(b) = self.server_max_window_bits {
            s.push_str(&format!("; server_max_window_bits={b}"));
        }
        if let Some(b) = self.client_max_window_bits {
            s.push_str(&format!("; client_max_window_bits={b}"));
        }
        s
    }

    /// A server's answer to the offers in the request's extension headers: the
    /// first offer it can honour, or none.
    pub fn answer<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<Params> {
        headers
            .into_iter()
            .flat_map(split_extensions)
            .filter(|(name, _)| name.eq_ignore_ascii_case(NAME))
            .find_map(|(_, params)| accept_offer(&params))
    }

    /// A client reads the server's answer; `Ok(None)` when the server declined.
    pub fn from_answer<'a>(
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Params>, String> {
        let mut found = None;
        for (name, params) in headers.into_iter().flat_map(split_extensions) {
            if !name.eq_ignore_ascii_case(NAME) {
                return Err(format!(
                    "the server answered with extension `{name}`, which was not offered"
                ));
            }
            if found.is_some() {
                return Err("the server answered permessage-deflate twice".into());
            }
            found = Some(read_answer(&params)?);
        }
        Ok(found)
    }

    /// Whether this side starts every message with an empty window.
    fn own_no_context(&self, role: Role) -> bool {
        match role {
            Role::Client => self.client_no_context_takeover,
            Role::Server => self.server_no_context_takeover,
        }
    }

    fn peer_no_context(&self, role: Role) -> bool {
        match role {
            Role::Client => self.server_no_context_takeover,
            Role::Server => self.client_no_context_takeover,
        }
    }

    /// The window this side may compress with. zlib cannot make a 256-byte
    /// window; at 512 bytes it never reaches back more than 250, which a
    /// 256-byte window decodes.
    fn own_window_bits(&self, role: Role) -> u8 {
        let bits = match role {
            Role::Client => self.client_max_window_bits,
            Role::Server => self.server_max_window_bits,
        };
        bits.unwrap_or(15).clamp(9, 15)
    }
}

/// `a; b=1, c` → [("a", [("b", Some("1"))]), ("c", [])].
type Offer = Vec<(String, Option<String>)>;

fn split_extensions(header: &str) -> Vec<(String, Offer)> {
    header
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|ext| {
            let mut parts = ext.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_string();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        Some(v.trim().trim_matches('"').to_string()),
                    ),
                    None => (p.to_ascii_lowercase(), None),
                })
                .collect();
            (name, params)
        })
        .collect()
}

fn window_bits(v: &str) -> Option<u8> {
    let bits: u8 = v.parse().ok()?;
    (8..=15).contains(&bits).then_some(bits)
}

/// The answer to one offer, when every parameter in it is known and valid.
fn accept_offer(params: &Offer) -> Option<Params> {
    let mut answer = Params::default();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in params {
        if !seen.insert(key.as_str()) {
            return None;
        }
        match (key.as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => answer.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => answer.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                answer.server_max_window_bits = Some(window_bits(v)?)
            }
            // The client can take a smaller window; ours to inflate is always 32 KiB, so
            // nothing is asked of it.
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(v)) => {
                window_bits(v)?;
            }
            _ => return None,
        }
    }
    Some(answer)
}

fn read_answer(params: &Offer) -> Result<Params, String> {
    let mut answer = Params::default();
    let mut seen = std::collections::HashSet::new();
    for (key, value) in params {
        if !seen.insert(key.as_str()) {
            return Err(format!(
                "the server's permessage-deflate answer repeats `{key}`"
            ));
        }
        let bits = |v: Option<&str>| {
            v.and_then(window_bits).ok_or_else(|| {
                format!("the server's permessage-deflate answer has an invalid `{key}`")
            })
        };
        match (key.as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => answer.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => answer.client_no_context_takeover = true,
            ("server_max_window_bits", v) => answer.server_max_window_bits = Some(bits(v)?),
            ("client_max_window_bits", v) => answer.client_max_window_bits = Some(bits(v)?),
            _ => {
                return Err(format!(
                    "the server's permessage-deflate answer has an unknown parameter `{key}`"
                ))
            }
        }
    }
    Ok(answer)
}

/// Why a message could not be inflated.
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates to more than the limit (a decompression bomb, or just big).
    TooBig,
    /// The bytes are not a deflate stream.
    Corrupt(String),
}

/// The compressor and decompressor of one connection, each made on first use
/// (a connection that only receives never holds a compressor's ~270 KB).
pub struct Codec {
    params: Params,
    role: Role,
    level: u32,
    compress: Option<Compress>,
    decompress: Option<Decompress>,
    /// This message's deflate stream ended with a final block.
    ended: bool,
}

/// zlib's fastest level: most WebSocket messages are small and repetitive
/// (JSON), where it keeps most of the gain at a fraction of the cost.
const LEVEL: u32 = 1;

/// The trailer a sync flush ends with, left off the wire.
const TRAILER: [u8; 4] = [0, 0, 0xFF, 0xFF];

impl Codec {
    pub fn new(params: Params, role: Role) -> Codec {
        Codec {
            params,
            role,
            level: LEVEL,
            compress: None,
            decompress: None,
            ended: false,
        }
    }

    pub fn params(&self) -> Params {
        self.params
    }

    /// Deflates one frame's payload; `fin` ends the message.
    pub fn deflate(&mut self, input: &[u8], fin: bool, out: &mut Vec<u8>) {
        let (level, bits) = (self.level, self.params.own_window_bits(self.role));
        let c = self.compress.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let start = out.len();
        let mut input = input;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(input.len() / 2 + 1024);
            }
            let before = c.total_in();
            // A sync flush ends every frame on a byte boundary; the error cannot
            // happen with room to write.
            let _ = c.compress_vec(input, out, FlushCompress::Sync);
            input = &input[(c.total_in() - before) as usize..];
            if input.is_empty() && out.capacity() - out.len() >= 64 {
                break;
            }
        }
        if fin {
            if out[start..].ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
            }
            if out.len() == start {
                out.push(0);
            }
            if self.params.own_no_context(self.role) {
                self.restart_deflate();
            }
        }
    }

    /// Forgets what was deflated so far: the next message starts a new window.
    /// After a message went out uncompressed, the peer's window lacks it, so
    /// ours must not refer to it.
    pub fn restart_deflate(&mut self) {
        // Reset, not dropped: making one again costs more than the message.
        if let Some(c) = self.compress.as_mut() {
            c.reset();
        }
    }

    /// Inflates one frame's payload into `out`, which may not grow past `limit`.
    pub fn inflate(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.inflate_some(input, out, limit)?;
        if fin {
            self.inflate_some(&TRAILER, out, limit)?;
            if self.ended || self.params.peer_no_context(self.role) {
                if let Some(d) = self.decompress.as_mut() {
                    d.reset(false);
                }
            }
            self.ended = false;
        }
        Ok(())
    }

    fn inflate_some(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.ended {
            // Past the final block, nothing more of this message is deflate data.
            return Ok(());
        }
        let d = self
            .decompress
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        loop {
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            if out.capacity() - out.len() < 1024 {
                let want = (input.len() * 4).max(out.len()).max(16 * 1024);
                // Exact: a doubling Vec would hold twice the limit at worst.
                out.reserve_exact(want.min(limit.saturating_add(1) - out.len()).max(1024));
            }
            let before = d.total_in();
            let status = d
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            input = &input[(d.total_in() - before) as usize..];
            if out.len() > limit {
                return Err(InflateError::TooBig);
            }
            if status == Status::StreamEnd {
                // The peer closed its deflate stream with a final block (RFC 7692
                // 7.2.3.4): the rest of the message, trailer included, is not
                // deflate data, and the next message starts a new stream.
                self.ended = true;
                return Ok(());
            }
            if input.is_empty() && out.capacity() > out.len() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(params: Params, messages: &[&[u8]]) -> Vec<usize> {
        let mut client = Codec::new(params, Role::Client);
        let mut server = Codec::new(params, Role::Server);
        let mut sizes = Vec::new();
        for m in messages {
            let mut wire = Vec::new();
            client.deflate(m, true, &mut wire);
            sizes.push(wire.len());
            let mut back = Vec::new();
            server.inflate(&wire, true, &mut back, 1 << 20).unwrap();
            assert_eq!(&back, m);
            let mut wire = Vec::new();
            server.deflate(m, true, &mut wire);
            let mut back = Vec::new();
            client.inflate(&wire, true, &mut back, 1 << 20).unwrap();
            assert_eq!(&back, m);
        }
        sizes
    }

    #[test]
    fn context_takeover_makes_repeats_small_and_no_context_does_not() {
        let msg: &[u8] = b"{\"jsonrpc\":\"2.0\",\"method\":\"eth_getBalance\",\"id\":1}";
        let kept = round_trip(Params::default(), &[msg, msg, msg]);
        assert!(kept[1] < kept[0] / 2, "{kept:?}");
        let fresh = round_trip(
            Params {
                client_no_context_takeover: true,
                server_no_context_takeover: true,
                ..Params::default()
            },
            &[msg, msg],
        );
        assert_eq!(fresh[0], fresh[1]);
        round_trip(Params::default(), &[b"", b"x", &[0u8; 100_000]]);
    }

    #[test]
    fn the_rfc_example_inflates() {
        // RFC 7692 §7.2.3.1: "Hello" compressed.
        let mut c = Codec::new(Params::default(), Role::Client);
        let mut out = Vec::new();
        c.inflate(
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            true,
            &mut out,
            100,
        )
        .unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn a_final_block_ends_the_message_not_the_connection() {
        // Each message deflated as a whole stream, its last block final, as a
        // peer may send (RFC 7692 7.2.3.4), the trailer of its own left on.
        let whole = |text: &[u8]| {
            let mut c = Compress::new_with_window_bits(Compression::new(6), false, 15);
            let mut out = Vec::with_capacity(text.len() + 64);
            c.compress_vec(text, &mut out, FlushCompress::Finish)
                .unwrap();
            out
        };
        let mut codec = Codec::new(Params::default(), Role::Server);
        for text in [&b"first message"[..], b"second", b"third, the last"] {
            let mut out = Vec::new();
            codec
                .inflate(&whole(text), true, &mut out, 1 << 20)
                .unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let mut s = Codec::new(Params::default(), Role::Server);
        let mut wire = Vec::new();
        s.deflate(&vec![0u8; 10 << 20], true, &mut wire);
        assert!(wire.len() < 128 * 1024, "{}", wire.len());
        let mut c = Codec::new(Params::default(), Role::Client);
        let mut out = Vec::new();
        assert_eq!(
            c.inflate(&wire, true, &mut out, 1 << 20),
            Err(InflateError::TooBig)
        );
        assert!(out.capacity() < (1 << 20) + 64 * 1024, "{}", out.capacity());
        let mut out = Vec::new();
        assert!(matches!(
            c.inflate(&[0xff, 0xff, 0xff], true, &mut out, 100),
            Err(InflateError::Corrupt(_)) | Err(InflateError::TooBig)
        ));
    }

    #[test]
    fn small_windows_decode_with_small_windows() {
        let text: Vec<u8> = (0..5000u32)
            .flat_map(|i| format!("{} ", i % 97).into_bytes())
            .collect();
        for bits in 8..=15u8 {
            let params = Params {
                server_max_window_bits: Some(bits),
                ..Params::default()
            };
            let mut s = Codec::new(params, Role::Server);
            let mut wire = Vec::new();
            s.deflate(&text, true, &mut wire);
            // Inflated by a decoder held to the window asked for (8 means 9 to zlib).
            let mut d = Decompress::new_with_window_bits(false, bits.max(9));
            let mut back = Vec::with_capacity(text.len() + 100);
            wire.extend_from_slice(&TRAILER);
            d.decompress_vec(&wire, &mut back, FlushDecompress::Sync)
                .unwrap();
            assert_eq!(back, text, "{bits} bits");
        }
    }

    #[test]
    fn servers_answer_the_first_offer_they_can_honour() {
        let a = Params::answer(["permessage-deflate; client_max_window_bits"]).unwrap();
        assert_eq!(a, Params::default());
        assert_eq!(a.header_value(), "permessage-deflate");
        let a = Params::answer([
            "permessage-deflate; server_max_window_bits=7",
            "x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover; server_max_window_bits=\"10\"",
        ])
        .unwrap();
        assert_eq!(
            a.header_value(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        assert_eq!(Params::answer(["permessage-deflate; unknown"]), None);
        assert_eq!(
            Params::answer([
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
            ]),
            None
        );
        assert_eq!(Params::answer(["foo"]), None);
    }

    #[test]
    fn clients_check_the_answer() {
        assert_eq!(Params::from_answer([]), Ok(None));
        let p = Params::from_answer([
            "permessage-deflate; client_max_window_bits=9; server_no_context_takeover",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(p.client_max_window_bits, Some(9));
        assert!(p.server_no_context_takeover);
        assert!(Params::from_answer(["permessage-deflate; client_max_window_bits=16"]).is_err());
        assert!(Params::from_answer(["permessage-deflate; bogus"]).is_err());
        assert!(Params::from_answer(["permessage-deflate, permessage-deflate"]).is_err());
        assert!(Params::from_answer(["x-other"]).is_err());
    }
}
