//! A handshake packed into one allocation. A server's dashboard keeps one per
//! connection, tens of thousands at a time, and shows one only when asked: as
//! a [`Handshake`] each would cost twenty small allocations.

use crate::frames::Params;
use crate::net::Handshake;

const SUBPROTOCOL: u8 = 1;
const TLS: u8 = 2;
const PROXY: u8 = 4;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackedHandshake {
    /// The number of request headers and of response headers, which optional
    /// texts follow, then every text after its length: the request line, each
    /// request header's name and value, the status, each response header's,
    /// then the subprotocol, TLS and proxy when present. Numbers are LEB128.
    bytes: Box<[u8]>,
    deflate: Option<Params>,
}

impl PackedHandshake {
    pub fn pack(h: &Handshake) -> PackedHandshake {
        let texts = 2 + 2 * (h.request_headers.len() + h.response_headers.len());
        let mut bytes = Vec::with_capacity(8 + texts + text_len(h));
        put_number(&mut bytes, h.request_headers.len());
        put_number(&mut bytes, h.response_headers.len());
        let optional = [
            (&h.subprotocol, SUBPROTOCOL),
            (&h.tls, TLS),
            (&h.proxy, PROXY),
        ];
        bytes.push(
            optional
                .iter()
                .filter(|(text, _)| text.is_some())
                .fold(0, |flags, (_, flag)| flags | flag),
        );
        put_text(&mut bytes, &h.request_line);
        for (name, value) in &h.request_headers {
            put_text(&mut bytes, name);
            put_text(&mut bytes, value);
        }
        put_text(&mut bytes, &h.status);
        for (name, value) in &h.response_headers {
            put_text(&mut bytes, name);
            put_text(&mut bytes, value);
        }
        for text in optional.iter().filter_map(|(text, _)| text.as_deref()) {
            put_text(&mut bytes, text);
        }
        PackedHandshake {
            bytes: bytes.into_boxed_slice(),
            deflate: h.deflate,
        }
    }

    pub fn unpack(&self) -> Handshake {
        let mut r = Reader::new(&self.bytes);
        let request_line = r.text().to_string();
        let request_headers = (0..r.counts[0]).map(|_| r.header()).collect();
        let status = r.text().to_string();
        let response_headers = (0..r.counts[1]).map(|_| r.header()).collect();
        let [subprotocol, tls, proxy] = [SUBPROTOCOL, TLS, PROXY]
            .map(|flag| (r.flags & flag != 0).then(|| r.text().to_string()));
        Handshake {
            request_line,
            request_headers,
            status,
            response_headers,
            subprotocol,
            tls,
            proxy,
            deflate: self.deflate,
        }
    }

    /// The subprotocol agreed on, read without unpacking the rest.
    pub fn subprotocol(&self) -> Option<&str> {
        let mut r = Reader::new(&self.bytes);
        if r.flags & SUBPROTOCOL == 0 {
            return None;
        }
        for _ in 0..2 + 2 * (r.counts[0] + r.counts[1]) {
            r.text();
        }
        Some(r.text())
    }
}

fn text_len(h: &Handshake) -> usize {
    let headers =
        |hs: &[(String, String)]| -> usize { hs.iter().map(|(n, v)| n.len() + v.len()).sum() };
    let optional = [&h.subprotocol, &h.tls, &h.proxy];
    h.request_line.len()
        + h.status.len()
        + headers(&h.request_headers)
        + headers(&h.response_headers)
        + optional
            .iter()
            .filter_map(|t| t.as_ref())
            .map(String::len)
            .sum::<usize>()
}

fn put_number(bytes: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        bytes.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
}

fn put_text(bytes: &mut Vec<u8>, text: &str) {
    put_number(bytes, text.len());
    bytes.extend_from_slice(text.as_bytes());
}

/// Reads back what [`PackedHandshake::pack`] wrote, in order.
struct Reader<'a> {
    rest: &'a [u8],
    counts: [usize; 2],
    flags: u8,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        let mut r = Reader {
            rest: bytes,
            counts: [0; 2],
            flags: 0,
        };
        if bytes.is_empty() {
            // The default: nothing was packed.
            return r;
        }
        r.counts = [r.number(), r.number()];
        r.flags = r.rest[0];
        r.rest = &r.rest[1..];
        r
    }

    fn number(&mut self) -> usize {
        let mut n = 0;
        let mut shift = 0;
        while let Some((&b, rest)) = self.rest.split_first() {
            self.rest = rest;
            n |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b < 0x80 {
                break;
            }
        }
        n
    }

    fn text(&mut self) -> &'a str {
        let len = self.number().min(self.rest.len());
        let (text, rest) = self.rest.split_at(len);
        self.rest = rest;
        // Packed from strings, at char boundaries: always UTF-8.
        std::str::from_utf8(text).unwrap_or_default()
    }

    fn header(&mut self) -> (String, String) {
        let name = self.text().to_string();
        (name, self.text().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Handshake {
        Handshake {
            request_line: "GET /chat?room=1 HTTP/1.1".into(),
            request_headers: vec![
                ("host".into(), "127.0.0.1:8765".into()),
                (
                    "sec-websocket-key".into(),
                    "dGhlIHNhbXBsZSBub25jZQ==".into(),
                ),
                ("x-long".into(), "é".repeat(300)),
                ("x-empty".into(), String::new()),
            ],
            status: "101 Switching Protocols".into(),
            response_headers: vec![("upgrade".into(), "websocket".into())],
            subprotocol: Some("graphql-transport-ws".into()),
            tls: None,
            proxy: Some("http://proxy:3128".into()),
            deflate: Some(Params::default()),
        }
    }

    #[test]
    fn a_handshake_comes_back_as_it_went_in() {
        let h = handshake();
        let packed = PackedHandshake::pack(&h);
        assert_eq!(packed.unpack(), h);
        assert_eq!(packed.subprotocol(), Some("graphql-transport-ws"));
    }

    #[test]
    fn an_empty_or_default_handshake_unpacks_empty() {
        let empty = Handshake::default();
        assert_eq!(PackedHandshake::pack(&empty).unpack(), empty);
        assert_eq!(PackedHandshake::pack(&empty).subprotocol(), None);
        assert_eq!(PackedHandshake::default().unpack(), empty);
    }

    #[test]
    fn many_headers_and_long_texts_count_past_one_byte() {
        let mut h = handshake();
        h.subprotocol = None;
        h.request_headers = (0..300)
            .map(|i| (format!("x-{i}"), "v".repeat(i * 3)))
            .collect();
        let packed = PackedHandshake::pack(&h);
        assert_eq!(packed.unpack(), h);
        assert_eq!(packed.subprotocol(), None);
    }
}
