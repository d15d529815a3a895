//! MQTT 3.1.1 and 5 (and 3.1): binary WebSocket messages carrying control
//! packets, one or more to a message, the last perhaps cut. MQTT 5 adds
//! properties and reason codes to most packets. A CONNECT, a PUBLISH at QoS 1
//! or 2, a SUBSCRIBE, an UNSUBSCRIBE and a PINGREQ are requests; CONNACK,
//! PUBACK (or PUBREC), SUBACK, UNSUBACK and PINGRESP their replies.

use bytes::Bytes;

use super::{clip, first_word, one_line, text_of, Codec, Context, Decoded, SUMMARY_VALUE};
use crate::net::speak::Pair;
use crate::net::NetCommand;

/// `v5`: packets carry MQTT 5's properties (a CONNECT tells its own version).
pub struct Mqtt {
    pub v5: bool,
}

const NAMES: [&str; 16] = [
    "RESERVED",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
];

/// Packets of one message decoded in full; the rest are counted.
const PACKETS_SHOWN: usize = 20;
/// Topic filters, reason codes and properties listed per packet.
const LIST_SHOWN: usize = 20;
/// List items (topic filters, reason codes) a summary names; the rest counted.
const SUMMARY_ITEMS: usize = 8;
/// The longest summary of a message of several packets.
const SUMMARY_MAX: usize = 4 * SUMMARY_VALUE;
/// The most of a payload's text the detail view gets.
const PAYLOAD_SHOWN: usize = 2000;
/// The fields of a message of several packets: this many bytes, and some
/// for each byte of the message.
const FIELDS_BASE: usize = 2048;
/// The largest remaining length a fixed header can say (four varint bytes).
const MAX_REMAINING: usize = 268_435_455;

/// Whether a message is a CONNECT asking for MQTT 5 (Some(true)) or an earlier version.
pub fn connect_version_5(payload: &[u8]) -> Option<bool> {
    let (p, _) = packet(payload, false)?;
    if p.kind != 1 {
        return None;
    }
    let mut r = Reader(p.body);
    match (r.bin()?, r.u8()?) {
        (b"MQTT", 5) => Some(true),
        (b"MQTT", 4) | (b"MQIsdp", 3) => Some(false),
        _ => None,
    }
}

/// Bytes read from the front; every read fails rather than overrun.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.bytes(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }

    /// Two bytes of length, then that many: MQTT's strings and binary data.
    fn bin(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(n as usize)
    }

    fn varint(&mut self) -> Option<u32> {
        let mut value = 0u32;
        for i in 0..4 {
            let b = self.u8()?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One packet as its fixed header delimits it.
#[derive(Debug)]
struct Packet<'a> {
    kind: u8,
    flags: u8,
    /// The remaining length's bytes, or those the message has of them.
    body: &'a [u8],
    /// The message ends before the packet does.
    truncated: bool,
}

impl Packet<'_> {
    fn name(&self) -> &'static str {
        NAMES[usize::from(self.kind & 0x0f)]
    }

    fn qos(&self) -> u8 {
        (self.flags >> 1) & 3
    }
}

/// The packet at the start of `buf` and what follows it; None when no MQTT
/// packet starts there (a type, flags or length MQTT does not allow).
fn packet(buf: &[u8], v5: bool) -> Option<(Packet<'_>, &[u8])> {
    let (&first, rest) = buf.split_first()?;
    let (kind, flags) = (first >> 4, first & 0x0f);
    let flags_ok = match kind {
        0 => false,
        3 => (flags >> 1) & 3 != 3,
        6 | 8 | 10 => flags == 2,
        15 => v5 && flags == 0,
        _ => flags == 0,
    };
    if !flags_ok {
        return None;
    }
    let mut r = Reader(rest);
    let mut len = 0usize;
    let mut ended = false;
    for i in 0..4 {
        let Some(b) = r.u8() else {
            // Cut inside the length: the packet's kind is all there is.
            let p = Packet {
                kind,
                flags,
                body: &[],
                truncated: true,
            };
            return Some((p, &[]));
        };
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            ended = true;
            break;
        }
    }
    if !ended {
        return None;
    }
    // Lengths the packet's kind cannot have: what garbage shows first.
    let len_ok = match kind {
        1 => len >= 10,
        2..=11 => len >= 2,
        12 | 13 => len == 0,
        14 => v5 || len == 0,
        _ => true,
    };
    if !len_ok {
        return None;
    }
    let rest = r.0;
    Some(match rest.get(..len) {
        Some(body) => (
            Packet {
                kind,
                flags,
                body,
                truncated: false,
            },
            &rest[len..],
        ),
        None => (
            Packet {
                kind,
                flags,
                body: rest,
                truncated: true,
            },
            &[],
        ),
    })
}

/// Fields' size in bytes.
fn weight(fields: &[(&'static str, String)]) -> usize {
    fields.iter().map(|(n, v)| n.len() + v.len()).sum()
}

/// Every packet of a message, up to the first that is not one.
fn packets(payload: &[u8], v5: bool) -> impl Iterator<Item = Packet<'_>> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        let (p, after) = packet(rest, v5)?;
        rest = after;
        Some(p)
    })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A value for a summary: clipped, on one line.
fn short(b: &[u8]) -> String {
    one_line(&clip(&String::from_utf8_lossy(b), SUMMARY_VALUE))
}

/// `(5 B) 21.5` or `(5 B binary)`.
fn payload_summary(b: &[u8]) -> String {
    match text_of(b) {
        Some("") => "(0 B)".into(),
        Some(t) => format!("({} B) {}", b.len(), one_line(&clip(t, SUMMARY_VALUE))),
        None => format!("({} B binary)", b.len()),
    }
}

fn payload_detail(b: &[u8]) -> String {
    match text_of(b) {
        Some(t) => clip(t, PAYLOAD_SHOWN),
        None => format!("({} B binary)", b.len()),
    }
}

/// MQTT 5's reason codes (0 reads differently per packet: success, normal
/// disconnection, granted QoS 0).
fn reason(code: u8) -> &'static str {
    match code {
        0x00 => "success",
        0x01 => "granted qos1",
        0x02 => "granted qos2",
        0x04 => "disconnect with will message",
        0x10 => "no matching subscribers",
        0x11 => "no subscription existed",
        0x18 => "continue authentication",
        0x19 => "re-authenticate",
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x83 => "implementation specific error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8a => "banned",
        0x8b => "server shutting down",
        0x8c => "bad authentication method",
        0x8d => "keep alive timeout",
        0x8e => "session taken over",
        0x8f => "topic filter invalid",
        0x90 => "topic name invalid",
        0x91 => "packet identifier in use",
        0x92 => "packet identifier not found",
        0x93 => "receive maximum exceeded",
        0x94 => "topic alias invalid",
        0x95 => "packet too large",
        0x96 => "message rate too high",
        0x97 => "quota exceeded",
        0x98 => "administrative action",
        0x99 => "payload format invalid",
        0x9a => "retain not supported",
        0x9b => "qos not supported",
        0x9c => "use another server",
        0x9d => "server moved",
        0x9e => "shared subscriptions not supported",
        0x9f => "connection rate exceeded",
        0xa0 => "maximum connect time",
        0xa1 => "subscription identifiers not supported",
        0xa2 => "wildcard subscriptions not supported",
        _ => "unknown reason",
    }
}

/// MQTT 3.1.1's CONNACK return codes.
fn return_code(code: u8) -> &'static str {
    match code {
        0 => "accepted",
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "unknown return code",
    }
}

/// What MQTT 5's properties hold that a summary shows.
#[derive(Default)]
struct Props {
    count: usize,
    reason: Option<String>,
    alias: Option<u16>,
}

/// MQTT 5 properties: a length, then identifier and value each. The block is
/// skipped by its length; its contents listed as far as they are known.
fn properties(r: &mut Reader, d: &mut Desc, field: &'static str) -> Option<Props> {
    let len = r.varint()?;
    let mut p = Reader(r.bytes(usize::try_from(len).ok()?)?);
    let mut props = Props::default();
    while !p.is_empty() {
        let Some((name, value)) = property(&mut p, &mut props) else {
            d.field(field, "(unreadable)");
            break;
        };
        props.count += 1;
        if props.count <= LIST_SHOWN {
            d.field(field, format!("{name}: {value}"));
        }
    }
    if props.count > LIST_SHOWN {
        d.field(field, format!("(+{} more)", props.count - LIST_SHOWN));
    }
    Some(props)
}

fn property(p: &mut Reader, props: &mut Props) -> Option<(&'static str, String)> {
    let id = p.varint()?;
    let text = |p: &mut Reader| p.bin().map(|b| clip(&lossy(b), SUMMARY_VALUE));
    let binary = |p: &mut Reader| p.bin().map(|b| format!("({} B)", b.len()));
    let byte = |p: &mut Reader| p.u8().map(|b| b.to_string());
    let two = |p: &mut Reader| p.u16().map(|b| b.to_string());
    let four = |p: &mut Reader| p.u32().map(|b| b.to_string());
    Some(match id {
        0x01 => ("payload format", byte(p)?),
        0x02 => ("message expiry interval", four(p)?),
        0x03 => ("content type", text(p)?),
        0x08 => ("response topic", text(p)?),
        0x09 => ("correlation data", binary(p)?),
        0x0b => ("subscription identifier", p.varint()?.to_string()),
        0x11 => ("session expiry interval", four(p)?),
        0x12 => ("assigned client identifier", text(p)?),
        0x13 => ("server keep alive", two(p)?),
        0x15 => ("authentication method", text(p)?),
        0x16 => ("authentication data", binary(p)?),
        0x17 => ("request problem information", byte(p)?),
        0x18 => ("will delay interval", four(p)?),
        0x19 => ("request response information", byte(p)?),
        0x1a => ("response information", text(p)?),
        0x1c => ("server reference", text(p)?),
        0x1f => {
            let s = p.bin()?;
            props.reason = Some(short(s));
            ("reason string", clip(&lossy(s), SUMMARY_VALUE))
        }
        0x21 => ("receive maximum", two(p)?),
        0x22 => ("topic alias maximum", two(p)?),
        0x23 => {
            let a = p.u16()?;
            props.alias = Some(a);
            ("topic alias", a.to_string())
        }
        0x24 => ("maximum qos", byte(p)?),
        0x25 => ("retain available", byte(p)?),
        0x26 => {
            let (k, v) = (text(p)?, text(p)?);
            ("user property", format!("{k}={v}"))
        }
        0x27 => ("maximum packet size", four(p)?),
        0x28 => ("wildcard subscription available", byte(p)?),
        0x29 => ("subscription identifier available", byte(p)?),
        0x2a => ("shared subscription available", byte(p)?),
        _ => return None,
    })
}

/// One packet described as far as it could be read.
#[derive(Default)]
struct Desc {
    /// Summary words after the packet's name.
    parts: Vec<String>,
    /// A list after them (topic filters, reason codes), comma-separated.
    list: Vec<String>,
    listed: usize,
    /// The list in brackets (SUBACK's granted QoS).
    bracket: bool,
    fields: Vec<(&'static str, String)>,
}

impl Desc {
    fn part(&mut self, s: impl Into<String>) {
        self.parts.push(s.into());
    }

    fn field(&mut self, name: &'static str, value: impl Into<String>) {
        self.fields.push((name, value.into()));
    }

    fn item(&mut self, s: String) {
        self.listed += 1;
        if self.listed <= LIST_SHOWN {
            self.list.push(s);
        }
    }

    /// A field for the list item just added, while the list is shown.
    fn item_field(&mut self, name: &'static str, value: String) {
        if self.listed <= LIST_SHOWN {
            self.field(name, value);
        }
    }

    /// `PUBACK #7` and so on; `read` says whether the packet read in full.
    fn summary(&self, name: &str, read: bool, truncated: bool) -> String {
        let mut s = name.to_string();
        for p in &self.parts {
            s.push(' ');
            s.push_str(p);
        }
        if self.listed > 0 {
            let mut list = self.list[..self.list.len().min(SUMMARY_ITEMS)].join(", ");
            if self.listed > SUMMARY_ITEMS {
                list.push_str(&format!(", +{} more", self.listed - SUMMARY_ITEMS));
            }
            match self.bracket {
                true => s.push_str(&format!(" [{list}]")),
                false => s.push_str(&format!(" {list}")),
            }
        }
        // Clipped before the ending, which says the most.
        let mut s = clip(&s, SUMMARY_MAX);
        if truncated {
            s.push_str(" (truncated)");
        } else if !read {
            s.push_str(" (malformed)");
        }
        s
    }
}

/// A packet's summary and fields; None when it is whole and still cannot be read.
fn describe(p: &Packet, v5: bool) -> Option<Decoded> {
    let mut d = Desc::default();
    d.field("packet", p.name());
    let mut r = Reader(p.body);
    let read = match p.kind {
        1 => connect(&mut r, &mut d),
        2 => connack(&mut r, &mut d, v5),
        3 => publish(&mut r, &mut d, p, v5),
        4..=7 => ack(&mut r, &mut d, v5),
        8 | 10 => subscribe(&mut r, &mut d, p.kind == 8, v5),
        9 | 11 => suback(&mut r, &mut d, p.kind == 9, v5),
        14 | 15 => disconnect(&mut r, &mut d, v5),
        _ => Some(()),
    }
    .is_some();
    if !read && !p.truncated {
        return None;
    }
    if p.truncated {
        d.field("truncated", "the message ends inside the packet");
    }
    let summary = d.summary(p.name(), read, p.truncated);
    Some(Decoded {
        summary,
        fields: d.fields,
    })
}

fn version_name(name: &[u8], level: u8) -> String {
    match (name, level) {
        (b"MQIsdp", 3) => "v3.1".into(),
        (b"MQTT", 4) => "v3.1.1".into(),
        (b"MQTT", 5) => "v5".into(),
        _ => format!("{} level {level}", short(name)),
    }
}

fn connect(r: &mut Reader, d: &mut Desc) -> Option<()> {
    let name = r.bin()?;
    let level = r.u8()?;
    d.part(version_name(name, level));
    d.field("protocol", format!("{} level {level}", lossy(name)));
    let flags = r.u8()?;
    let keepalive = r.u16()?;
    let clean = flags & 0x02 != 0;
    if clean {
        d.part("clean");
    }
    d.part(format!("keepalive {keepalive}"));
    d.field("clean", if clean { "yes" } else { "no" });
    d.field("keep alive", format!("{keepalive} s"));
    let v5 = level == 5;
    if v5 {
        let props = properties(r, d, "property")?;
        d.field("properties", props.count.to_string());
    }
    let client = r.bin()?;
    d.parts.insert(0, format!("client \"{}\"", short(client)));
    d.field("client id", lossy(client));
    if flags & 0x04 != 0 {
        if v5 {
            properties(r, d, "will property")?;
        }
        let topic = r.bin()?;
        let message = r.bin()?;
        let retain = if flags & 0x20 != 0 { " retain" } else { "" };
        d.part(format!("will {}", short(topic)));
        d.field(
            "will",
            format!(
                "{} qos{}{retain} {}",
                lossy(topic),
                (flags >> 3) & 3,
                payload_summary(message)
            ),
        );
    }
    if flags & 0x80 != 0 {
        let user = r.bin()?;
        d.part(format!("user \"{}\"", short(user)));
        d.field("username", lossy(user));
    }
    if flags & 0x40 != 0 {
        let password = r.bin()?;
        d.field("password", format!("({} B)", password.len()));
    }
    Some(())
}

fn connack(r: &mut Reader, d: &mut Desc, v5: bool) -> Option<()> {
    let ack = r.u8()?;
    let code = r.u8()?;
    // A v5 CONNACK's refusals are 0x80 and above: 1 to 5 are 3.1.1's, as a
    // broker answers a version it does not speak.
    let v5 = v5 && !(1..=5).contains(&code);
    let text = match v5 {
        true => reason(code),
        false => return_code(code),
    };
    match (code, v5) {
        (0, _) => d.part("accepted"),
        (_, true) => d.part(format!("refused: {text} (0x{code:02x})")),
        (_, false) => d.part(format!("refused: {text} ({code})")),
    }
    d.field("return code", format!("{text} ({code})"));
    if ack & 1 != 0 {
        d.part("session present");
    }
    d.field("session present", if ack & 1 != 0 { "yes" } else { "no" });
    if v5 && !r.is_empty() {
        let props = properties(r, d, "property")?;
        d.field("properties", props.count.to_string());
        if let Some(s) = props.reason {
            d.part(format!("\"{s}\""));
        }
    }
    Some(())
}

fn publish(r: &mut Reader, d: &mut Desc, p: &Packet, v5: bool) -> Option<()> {
    let qos = p.qos();
    let topic = r.bin()?;
    d.part(short(topic));
    d.field("topic", lossy(topic));
    d.field("qos", qos.to_string());
    if qos > 0 {
        d.part(format!("qos{qos}"));
        let id = r.u16()?;
        d.part(format!("#{id}"));
        d.field("packet id", id.to_string());
    }
    if p.flags & 1 != 0 {
        d.part("retain");
        d.field("retain", "yes");
    }
    if p.flags & 8 != 0 {
        d.part("dup");
        d.field("dup", "yes");
    }
    if v5 {
        let props = properties(r, d, "property")?;
        d.field("properties", props.count.to_string());
        // An empty topic names the topic by its alias, set earlier.
        if let (Some(alias), true) = (props.alias, topic.is_empty()) {
            if let Some(first) = d.parts.first_mut() {
                *first = format!("alias {alias}");
            }
        }
    }
    let payload = r.rest();
    d.part(payload_summary(payload));
    d.field("payload", payload_detail(payload));
    Some(())
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP.
fn ack(r: &mut Reader, d: &mut Desc, v5: bool) -> Option<()> {
    let id = r.u16()?;
    d.part(format!("#{id}"));
    d.field("packet id", id.to_string());
    // MQTT 5 leaves out a success code and empty properties.
    if v5 && !r.is_empty() {
        reason_and_properties(r, d)?;
    }
    Some(())
}

/// DISCONNECT and AUTH: MQTT 5 gives them a reason code and properties.
fn disconnect(r: &mut Reader, d: &mut Desc, v5: bool) -> Option<()> {
    if v5 && !r.is_empty() {
        reason_and_properties(r, d)?;
    }
    Some(())
}

fn reason_and_properties(r: &mut Reader, d: &mut Desc) -> Option<()> {
    let code = r.u8()?;
    if code != 0 {
        d.part(format!("{} (0x{code:02x})", reason(code)));
    }
    d.field("reason", format!("{} (0x{code:02x})", reason(code)));
    if !r.is_empty() {
        let props = properties(r, d, "property")?;
        d.field("properties", props.count.to_string());
        if let Some(s) = props.reason {
            d.part(format!("\"{s}\""));
        }
    }
    Some(())
}

/// SUBSCRIBE (`sub`) and UNSUBSCRIBE: an id, then topic filters.
fn subscribe(r: &mut Reader, d: &mut Desc, sub: bool, v5: bool) -> Option<()> {
    let id = r.u16()?;
    d.part(format!("#{id}"));
    d.field("packet id", id.to_string());
    if v5 {
        let props = properties(r, d, "property")?;
        d.field("properties", props.count.to_string());
    }
    while !r.is_empty() {
        let filter = r.bin()?;
        if !sub {
            d.item(short(filter));
            d.item_field("topic filter", lossy(filter));
            continue;
        }
        let options = r.u8()?;
        let qos = options & 3;
        d.item(format!("{} qos{qos}", short(filter)));
        let mut detail = format!("{} qos{qos}", lossy(filter));
        if v5 {
            // MQTT 5's subscription options beyond the QoS.
            if options & 0x04 != 0 {
                detail.push_str(" no-local");
            }
            if options & 0x08 != 0 {
                detail.push_str(" retain-as-published");
            }
            detail.push_str(&format!(" retain-handling {}", (options >> 4) & 3));
        }
        d.item_field("topic filter", detail);
    }
    // Both must name at least one topic filter.
    (d.listed > 0).then_some(())
}

/// SUBACK (`sub`) and UNSUBACK: an id, then a code per topic filter (MQTT 3.1.1's
/// UNSUBACK has none).
fn suback(r: &mut Reader, d: &mut Desc, sub: bool, v5: bool) -> Option<()> {
    let id = r.u16()?;
    d.part(format!("#{id}"));
    d.field("packet id", id.to_string());
    if v5 {
        let props = properties(r, d, "property")?;
        d.field("properties", props.count.to_string());
        if let Some(s) = props.reason {
            d.part(format!("\"{s}\""));
        }
    }
    if !sub && !v5 {
        return Some(());
    }
    d.bracket = true;
    for &code in r.rest() {
        let text = match (sub, code, v5) {
            (true, 0..=2, _) => format!("qos{code}"),
            (true, 0x80, false) => "failure".into(),
            (_, _, true) => reason(code).into(),
            _ => format!("0x{code:02x}"),
        };
        d.item(text.clone());
        d.item_field("reason", format!("{text} (0x{code:02x})"));
    }
    Some(())
}

/// The request or reply a packet is, read no further than it needs.
fn pair(p: &Packet, from_client: bool) -> Option<Pair> {
    let mut r = Reader(p.body);
    let request = |key: String, label: &str| Pair::Request {
        key,
        label: label.to_string(),
    };
    let reply = |key: String| Pair::Reply { key };
    Some(match (from_client, p.kind) {
        (true, 1) => request("connect".into(), "CONNECT"),
        (true, 3) if p.qos() > 0 => {
            let topic = r.bin()?;
            let id = r.u16()?;
            let label = match topic {
                b"" => "PUBLISH".to_string(),
                t => format!("PUBLISH {}", short(t)),
            };
            request(format!("pub {id}"), &label)
        }
        (true, 8) => request(format!("sub {}", r.u16()?), "SUBSCRIBE"),
        (true, 10) => request(format!("unsub {}", r.u16()?), "UNSUBSCRIBE"),
        (true, 12) => request("ping".into(), "PINGREQ"),
        (false, 2) => reply("connect".into()),
        (false, 4 | 5) => reply(format!("pub {}", r.u16()?)),
        (false, 9) => reply(format!("sub {}", r.u16()?)),
        (false, 11) => reply(format!("unsub {}", r.u16()?)),
        (false, 13) => reply("ping".into()),
        _ => return None,
    })
}

impl Codec for Mqtt {
    fn decode(&self, text: bool, payload: &[u8]) -> Option<Decoded> {
        if text {
            return None;
        }
        let (first, mut rest) = packet(payload, self.v5)?;
        let mut d = describe(&first, self.v5)?;
        let mut summaries = vec![std::mem::take(&mut d.summary)];
        let mut count = 1usize;
        // Short packets can each list a page of reason codes and properties:
        // fields stay in proportion to the message, whatever it holds.
        let budget = FIELDS_BASE + 8 * payload.len();
        let (mut made, mut cut) = (weight(&d.fields), false);
        while !rest.is_empty() {
            let Some((p, after)) = packet(rest, self.v5) else {
                summaries.push(format!("({} B not MQTT)", rest.len()));
                break;
            };
            rest = after;
            count += 1;
            if count > PACKETS_SHOWN {
                continue;
            }
            match describe(&p, self.v5) {
                Some(more) => {
                    summaries.push(more.summary);
                    let size = weight(&more.fields);
                    if made + size <= budget {
                        made += size;
                        d.fields.extend(more.fields);
                    } else if !cut {
                        cut = true;
                        d.fields.push(("packet", "(more not listed)".into()));
                    }
                }
                None => {
                    summaries.push(format!("{} (malformed)", p.name()));
                    d.fields
                        .push(("packet", format!("{} (malformed)", p.name())));
                }
            }
        }
        // One packet's summary is clipped already, its ending kept.
        let mut summary = match summaries.len() {
            1 => summaries.swap_remove(0),
            _ => clip(&summaries.join("; "), SUMMARY_MAX),
        };
        if count > PACKETS_SHOWN {
            summary.push_str(&format!("; +{} more packets", count - PACKETS_SHOWN));
        }
        if count > 1 {
            d.fields.push(("packets", count.to_string()));
        }
        d.summary = summary;
        Some(d)
    }

    fn pairs(&self, from_client: bool, text: bool, payload: &[u8], out: &mut Vec<Pair>) {
        if text {
            return;
        }
        out.extend(packets(payload, self.v5).filter_map(|p| pair(&p, from_client)));
    }

    fn commands(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "/publish TOPIC [--qos 0|1|2] [--retain] PAYLOAD",
                "publish text, e.g. /publish sensors/t --qos 1 21.5",
            ),
            (
                "/subscribe TOPIC [QOS]",
                "subscribe to a topic filter, e.g. /subscribe sensors/# 1",
            ),
            ("/unsubscribe TOPIC", "unsubscribe from a topic filter"),
            ("/pingreq", "ask the broker for a PINGRESP"),
            ("/disconnect", "say goodbye before closing"),
        ]
    }

    fn encode(
        &self,
        command: &str,
        args: &str,
        ctx: &mut Context,
    ) -> Option<Result<NetCommand, String>> {
        let packet = match command {
            "publish" => publish_packet(args, self.v5, ctx),
            "subscribe" => subscribe_packet(args, self.v5, ctx),
            "unsubscribe" => match first_word(args) {
                ("", _) => Err("which topic filter? e.g. /unsubscribe sensors/#".into()),
                (topic, _) => {
                    let mut body = packet_id(ctx).to_be_bytes().to_vec();
                    if self.v5 {
                        body.push(0);
                    }
                    put_bin(&mut body, topic.as_bytes()).and_then(|()| frame(0xa2, &body))
                }
            },
            "pingreq" => frame(0xc0, &[]),
            "disconnect" => frame(0xe0, &[]),
            _ => return None,
        };
        Some(packet.map(NetCommand::Binary))
    }

    /// What a client owes the broker at once for its deliveries: a PUBACK
    /// (QoS 1) or PUBREC (QoS 2) for each PUBLISH, a PUBREL for each PUBREC of
    /// ours, a PUBCOMP for each PUBREL; unanswered, a broker resends them and
    /// stops delivering once its in-flight window is full.
    fn answer(&self, text: bool, payload: &[u8], _ctx: &Context) -> Option<NetCommand> {
        if text {
            return None;
        }
        let mut out = Vec::new();
        for p in packets(payload, self.v5).filter(|p| !p.truncated) {
            let mut r = Reader(p.body);
            let (kind, id) = match (p.kind, p.qos()) {
                (3, qos @ (1 | 2)) => {
                    let Some(id) = r.bin().and_then(|_| r.u16()) else {
                        continue;
                    };
                    (if qos == 1 { 4 } else { 5 }, id)
                }
                (5 | 6, _) => {
                    let Some(id) = r.u16() else { continue };
                    (p.kind + 1, id)
                }
                _ => continue,
            };
            // PUBREL's fixed header flags are 0010, the others' 0000.
            let flags = if kind == 6 { 0x02 } else { 0 };
            out.extend([(kind << 4) | flags, 2]);
            out.extend(id.to_be_bytes());
        }
        (!out.is_empty()).then(|| NetCommand::Binary(Bytes::from(out)))
    }

    fn greet(&self, ctx: &mut Context) -> Vec<NetCommand> {
        let fits = |s: &&str| s.len() <= usize::from(u16::MAX);
        let client = Some(ctx.client_id.as_str())
            .filter(|c| !c.is_empty())
            .filter(fits)
            .unwrap_or("wsprobe");
        let credential = |name: &str| {
            ctx.connect_payload
                .as_ref()
                .and_then(|p| p.get(name))
                .and_then(serde_json::Value::as_str)
                .filter(fits)
        };
        let user = credential("username");
        // 3.1.1 allows no password without a user name; 5 does.
        let password = credential("password").filter(|_| self.v5 || user.is_some());
        let mut flags = 0x02;
        if user.is_some() {
            flags |= 0x80;
        }
        if password.is_some() {
            flags |= 0x40;
        }
        let mut body = vec![0, 4, b'M', b'Q', b'T', b'T'];
        body.push(if self.v5 { 5 } else { 4 });
        body.push(flags);
        // Keep alive 0: the broker never times out a connection left idle
        // while someone reads.
        body.extend([0, 0]);
        if self.v5 {
            body.push(0);
        }
        let mut strings = vec![client];
        strings.extend(user);
        strings.extend(password);
        for s in strings {
            if put_bin(&mut body, s.as_bytes()).is_err() {
                return Vec::new();
            }
        }
        frame(0x10, &body)
            .map(|b| vec![NetCommand::Binary(b)])
            .unwrap_or_default()
    }
}

/// A packet id from the context's numbers: 1 to 65535, round and round.
fn packet_id(ctx: &mut Context) -> u16 {
    let n = (ctx.take_id().saturating_sub(1) % 65535) + 1;
    u16::try_from(n).unwrap_or(1)
}

fn put_bin(out: &mut Vec<u8>, s: &[u8]) -> Result<(), String> {
    let n = u16::try_from(s.len()).map_err(|_| "a topic is at most 65535 bytes".to_string())?;
    out.extend(n.to_be_bytes());
    out.extend_from_slice(s);
    Ok(())
}

/// A fixed header (`first` byte and remaining length) before `body`.
fn frame(first: u8, body: &[u8]) -> Result<Bytes, String> {
    if body.len() > MAX_REMAINING {
        return Err("too long for one MQTT packet".into());
    }
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(first);
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    Ok(Bytes::from(out))
}

fn qos_of(s: &str) -> Result<u8, String> {
    match s {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!("QoS is 0, 1 or 2, not `{s}`")),
    }
}

fn publish_packet(args: &str, v5: bool, ctx: &mut Context) -> Result<Bytes, String> {
    let (mut qos, mut retain, mut topic) = (0u8, false, None);
    let mut rest = args.trim_start();
    // Options may come before or after the topic; the payload is all after.
    loop {
        let (word, after) = first_word(rest);
        match word {
            "--qos" => {
                let (n, after) = first_word(after);
                qos = qos_of(n)?;
                rest = after;
            }
            "--retain" => {
                retain = true;
                rest = after;
            }
            "--" => {
                rest = after;
                break;
            }
            "" => break,
            _ if topic.is_none() => {
                topic = Some(word);
                rest = after;
            }
            _ => break,
        }
    }
    let topic = topic.ok_or("which topic? e.g. /publish sensors/t 21.5")?;
    if topic.contains(['+', '#']) {
        return Err("a topic to publish to has no wildcards (+ #)".into());
    }
    let mut body = Vec::with_capacity(topic.len() + rest.len() + 5);
    put_bin(&mut body, topic.as_bytes())?;
    if qos > 0 {
        body.extend(packet_id(ctx).to_be_bytes());
    }
    if v5 {
        body.push(0);
    }
    body.extend_from_slice(rest.as_bytes());
    frame(0x30 | (qos << 1) | u8::from(retain), &body)
}

fn subscribe_packet(args: &str, v5: bool, ctx: &mut Context) -> Result<Bytes, String> {
    let (topic, rest) = first_word(args);
    if topic.is_empty() {
        return Err("which topic filter? e.g. /subscribe sensors/# 1".into());
    }
    let qos = match rest.trim() {
        "" => 0,
        q => qos_of(q)?,
    };
    let mut body = packet_id(ctx).to_be_bytes().to_vec();
    if v5 {
        body.push(0);
    }
    put_bin(&mut body, topic.as_bytes())?;
    body.push(qos);
    frame(0x82, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: Mqtt = Mqtt { v5: false };
    const V5: Mqtt = Mqtt { v5: true };

    fn summary(m: &Mqtt, b: &[u8]) -> String {
        m.decode(false, b)
            .unwrap_or_else(|| panic!("{b:02x?}"))
            .summary
    }

    fn pairs(m: &Mqtt, from_client: bool, b: &[u8]) -> Vec<Pair> {
        let mut out = Vec::new();
        m.pairs(from_client, false, b, &mut out);
        out
    }

    fn bytes(c: Option<Result<NetCommand, String>>) -> Vec<u8> {
        match c {
            Some(Ok(NetCommand::Binary(b))) => b.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    fn greet(m: &Mqtt, ctx: &mut Context) -> Vec<u8> {
        match m.greet(ctx).as_slice() {
            [NetCommand::Binary(b)] => b.to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deliveries_are_acknowledged_at_once() {
        let ctx = Context::default();
        let answer = |m: &Mqtt, b: &[u8]| match m.answer(false, b, &ctx) {
            Some(NetCommand::Binary(b)) => b.to_vec(),
            None => Vec::new(),
            other => panic!("{other:?}"),
        };
        let m = Mqtt { v5: false };
        // PUBLISH t qos1 id 7 "hi", then PUBLISH t qos2 id 8 "x", then qos0.
        let mut msg = vec![0x32, 7, 0, 1, b't', 0, 7, b'h', b'i'];
        msg.extend([0x34, 6, 0, 1, b't', 0, 8, b'x']);
        msg.extend([0x30, 4, 0, 1, b't', b'y']);
        assert_eq!(answer(&m, &msg), vec![0x40, 2, 0, 7, 0x50, 2, 0, 8]);
        // PUBREC 9 → PUBREL 9; PUBREL 8 → PUBCOMP 8.
        assert_eq!(answer(&m, &[0x50, 2, 0, 9]), vec![0x62, 2, 0, 9]);
        assert_eq!(answer(&m, &[0x62, 2, 0, 8]), vec![0x70, 2, 0, 8]);
        assert!(answer(&m, &[0xd0, 0]).is_empty(), "PINGRESP wants nothing");
        assert!(answer(&m, &[0x32, 9, 0, 1]).is_empty(), "cut short");
        let m5 = Mqtt { v5: true };
        // v5: topic, id, properties length 0, payload.
        assert_eq!(
            answer(&m5, &[0x32, 6, 0, 1, b't', 0, 3, 0]),
            vec![0x40, 2, 0, 3]
        );
    }

    #[test]
    fn connects_of_each_version() {
        // A CONNECT as mosquitto_sub sends it, 3.1.1: client "wsprobe-1", clean.
        let mut c = vec![0x10, 21, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 0, 0, 9];
        c.extend(b"wsprobe-1");
        assert_eq!(
            summary(&V3, &c),
            "CONNECT client \"wsprobe-1\" v3.1.1 clean keepalive 0"
        );
        assert_eq!(connect_version_5(&c), Some(false));
        // Read by its own level whatever the connection is taken for.
        assert_eq!(summary(&V5, &c), summary(&V3, &c));
        // 5, with a session expiry property, a will, user and password.
        let mut c5 = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', 5, 0xc6, 0, 60];
        c5.extend([5, 0x11, 0, 0, 0, 10]);
        c5.extend([0, 1, b'c']);
        c5.extend([0, 0, 1, b'w', 0, 3, b'b', b'y', b'e']);
        c5.extend([0, 3, b'b', b'o', b'b', 0, 2, b'p', b'w']);
        c5[1] = (c5.len() - 2) as u8;
        let d = V3.decode(false, &c5).unwrap();
        assert_eq!(
            d.summary,
            "CONNECT client \"c\" v5 clean keepalive 60 will w user \"bob\""
        );
        assert!(d
            .fields
            .contains(&("property", "session expiry interval: 10".into())));
        assert!(d.fields.contains(&("will", "w qos0 (3 B) bye".into())));
        assert!(d.fields.contains(&("password", "(2 B)".into())));
        assert_eq!(connect_version_5(&c5), Some(true));
        let mut old = vec![0x10, 15, 0, 6];
        old.extend(b"MQIsdp");
        old.extend([3, 2, 0, 10, 0, 1, b'x']);
        assert_eq!(
            summary(&V3, &old),
            "CONNECT client \"x\" v3.1 clean keepalive 10"
        );
        assert_eq!(connect_version_5(&old), Some(false));
        assert_eq!(connect_version_5(&[0x30, 2, 0, 0]), None);
        assert_eq!(connect_version_5(&[0x10, 3, 0, 4, b'M']), None);
        assert_eq!(connect_version_5(b""), None);
    }

    #[test]
    fn connacks() {
        assert_eq!(summary(&V3, &[0x20, 2, 0, 0]), "CONNACK accepted");
        assert_eq!(
            summary(&V3, &[0x20, 2, 1, 0]),
            "CONNACK accepted session present"
        );
        assert_eq!(
            summary(&V3, &[0x20, 2, 0, 5]),
            "CONNACK refused: not authorized (5)"
        );
        assert_eq!(summary(&V5, &[0x20, 3, 0, 0, 0]), "CONNACK accepted");
        let mut refused = vec![0x20, 0, 0, 0x87, 6, 0x1f, 0, 3, b'n', b'o', b'!'];
        refused[1] = (refused.len() - 2) as u8;
        assert_eq!(
            summary(&V5, &refused),
            "CONNACK refused: not authorized (0x87) \"no!\""
        );
        // A v5 client refused by a 3.1.1 broker.
        assert_eq!(
            summary(&V5, &[0x20, 2, 0, 1]),
            "CONNACK refused: unacceptable protocol version (1)"
        );
        let mut props = vec![0x20, 0, 0, 0, 0];
        props.extend([
            0x12, 0, 2, b'i', b'd', 0x21, 0, 10, 0x26, 0, 1, b'k', 0, 1, b'v',
        ]);
        props[4] = (props.len() - 5) as u8;
        props[1] = (props.len() - 2) as u8;
        let d = V5.decode(false, &props).unwrap();
        assert_eq!(d.summary, "CONNACK accepted");
        assert!(d.fields.contains(&("properties", "3".into())));
        assert!(d
            .fields
            .contains(&("property", "user property: k=v".into())));
        assert!(d
            .fields
            .contains(&("property", "assigned client identifier: id".into())));
    }

    #[test]
    fn publishes_and_their_acks() {
        let p = [
            0x33, 12, 0, 7, b's', b'e', b'n', b's', b'o', b'r', b's', 0, 7, b'x',
        ];
        assert_eq!(
            summary(&V3, &p[..]),
            "PUBLISH sensors qos1 #7 retain (1 B) x"
        );
        let mut p = vec![0x32, 0, 0, 9];
        p.extend(b"sensors/t");
        p.extend([0, 7]);
        p.extend(b"21.5");
        p[1] = (p.len() - 2) as u8;
        assert_eq!(summary(&V3, &p), "PUBLISH sensors/t qos1 #7 (4 B) 21.5");
        let d = V3.decode(false, &p).unwrap();
        for f in [
            ("topic", "sensors/t"),
            ("qos", "1"),
            ("packet id", "7"),
            ("payload", "21.5"),
        ] {
            assert!(
                d.fields.contains(&(f.0, f.1.into())),
                "{f:?} in {:?}",
                d.fields
            );
        }
        // QoS 0, dup, binary payload, then a v5 one with a topic alias.
        assert_eq!(
            summary(&V3, &[0x38, 5, 0, 1, b'a', 0xff, 0x00]),
            "PUBLISH a dup (2 B binary)"
        );
        assert_eq!(summary(&V3, &[0x30, 3, 0, 1, b'a']), "PUBLISH a (0 B)");
        assert_eq!(
            summary(&V5, &[0x30, 7, 0, 0, 3, 0x23, 0, 4, b'x']),
            "PUBLISH alias 4 (1 B) x"
        );
        assert_eq!(
            summary(&V5, &[0x30, 5, 0, 1, b't', 0, b'x']),
            "PUBLISH t (1 B) x"
        );
        assert_eq!(summary(&V3, &[0x40, 2, 0, 7]), "PUBACK #7");
        assert_eq!(summary(&V3, &[0x50, 2, 0, 7]), "PUBREC #7");
        assert_eq!(summary(&V3, &[0x62, 2, 0, 7]), "PUBREL #7");
        assert_eq!(summary(&V3, &[0x70, 2, 0, 7]), "PUBCOMP #7");
        assert_eq!(summary(&V5, &[0x40, 2, 0, 7]), "PUBACK #7");
        assert_eq!(summary(&V5, &[0x40, 3, 0, 7, 0]), "PUBACK #7");
        assert_eq!(
            summary(&V5, &[0x40, 4, 0, 7, 0x10, 0]),
            "PUBACK #7 no matching subscribers (0x10)"
        );
        // The pair the flow makes, QoS 2's through PUBREC.
        assert_eq!(
            pairs(&V3, true, &p),
            vec![Pair::Request {
                key: "pub 7".into(),
                label: "PUBLISH sensors/t".into()
            }]
        );
        assert_eq!(
            pairs(&V3, false, &[0x40, 2, 0, 7]),
            vec![Pair::Reply {
                key: "pub 7".into()
            }]
        );
        assert_eq!(
            pairs(&V3, false, &[0x50, 2, 0, 7]),
            vec![Pair::Reply {
                key: "pub 7".into()
            }]
        );
        assert!(
            pairs(&V3, true, &[0x30, 3, 0, 1, b'a']).is_empty(),
            "QoS 0 asks for nothing"
        );
        assert!(
            pairs(&V3, false, &p).is_empty(),
            "a publish from the broker"
        );
        assert!(
            pairs(&V3, true, &[0x40, 2, 0, 7]).is_empty(),
            "the client's own PUBACK"
        );
    }

    #[test]
    fn subscriptions() {
        let mut s = vec![0x82, 0, 0, 2, 0, 9];
        s.extend(b"sensors/#");
        s.push(1);
        s[1] = (s.len() - 2) as u8;
        assert_eq!(summary(&V3, &s), "SUBSCRIBE #2 sensors/# qos1");
        let mut two = vec![0x82, 0, 0, 2, 0, 0, 1, b'a', 0x05, 0, 1, b'b', 0x2a];
        two[1] = (two.len() - 2) as u8;
        let d = V5.decode(false, &two).unwrap();
        assert_eq!(d.summary, "SUBSCRIBE #2 a qos1, b qos2");
        assert!(d
            .fields
            .contains(&("topic filter", "a qos1 no-local retain-handling 0".into())));
        assert!(d.fields.contains(&(
            "topic filter",
            "b qos2 retain-as-published retain-handling 2".into()
        )));
        assert_eq!(summary(&V3, &[0x90, 3, 0, 2, 1]), "SUBACK #2 [qos1]");
        assert_eq!(
            summary(&V3, &[0x90, 4, 0, 2, 0, 0x80]),
            "SUBACK #2 [qos0, failure]"
        );
        assert_eq!(
            summary(&V5, &[0x90, 5, 0, 2, 0, 2, 0x87]),
            "SUBACK #2 [qos2, not authorized]"
        );
        assert_eq!(
            summary(&V3, &[0xa2, 5, 0, 3, 0, 1, b'a']),
            "UNSUBSCRIBE #3 a"
        );
        assert_eq!(
            summary(&V5, &[0xa2, 6, 0, 3, 0, 0, 1, b'a']),
            "UNSUBSCRIBE #3 a"
        );
        assert_eq!(summary(&V3, &[0xb0, 2, 0, 3]), "UNSUBACK #3");
        assert_eq!(
            summary(&V5, &[0xb0, 5, 0, 3, 0, 0, 0x11]),
            "UNSUBACK #3 [success, no subscription existed]"
        );
        assert_eq!(
            pairs(&V3, true, &s),
            vec![Pair::Request {
                key: "sub 2".into(),
                label: "SUBSCRIBE".into()
            }]
        );
        assert_eq!(
            pairs(&V3, false, &[0x90, 3, 0, 2, 1]),
            vec![Pair::Reply {
                key: "sub 2".into()
            }]
        );
        assert_eq!(
            pairs(&V3, true, &[0xa2, 5, 0, 3, 0, 1, b'a']),
            vec![Pair::Request {
                key: "unsub 3".into(),
                label: "UNSUBSCRIBE".into()
            }]
        );
        assert_eq!(
            pairs(&V3, false, &[0xb0, 2, 0, 3]),
            vec![Pair::Reply {
                key: "unsub 3".into()
            }]
        );
    }

    #[test]
    fn pings_disconnects_and_auth() {
        assert_eq!(summary(&V3, &[0xc0, 0]), "PINGREQ");
        assert_eq!(summary(&V3, &[0xd0, 0]), "PINGRESP");
        assert_eq!(summary(&V3, &[0xe0, 0]), "DISCONNECT");
        assert_eq!(summary(&V5, &[0xe0, 0]), "DISCONNECT");
        assert_eq!(
            summary(&V5, &[0xe0, 1, 0x8e]),
            "DISCONNECT session taken over (0x8e)"
        );
        assert_eq!(summary(&V5, &[0xe0, 2, 0, 0]), "DISCONNECT");
        let mut auth = vec![0xf0, 0, 0x18, 0, 0x15, 0, 5];
        auth.extend(b"SCRAM");
        auth[3] = (auth.len() - 4) as u8;
        auth[1] = (auth.len() - 2) as u8;
        let d = V5.decode(false, &auth).unwrap();
        assert_eq!(d.summary, "AUTH continue authentication (0x18)");
        assert!(d
            .fields
            .contains(&("property", "authentication method: SCRAM".into())));
        assert!(V3.decode(false, &[0xf0, 0]).is_none(), "no AUTH before 5");
        assert_eq!(
            pairs(&V3, true, &[0xc0, 0]),
            vec![Pair::Request {
                key: "ping".into(),
                label: "PINGREQ".into()
            }]
        );
        assert_eq!(
            pairs(&V3, false, &[0xd0, 0]),
            vec![Pair::Reply { key: "ping".into() }]
        );
    }

    #[test]
    fn several_packets_truncation_and_garbage() {
        let msg = [0x40, 2, 0, 7, 0x90, 3, 0, 2, 1, 0xd0, 0];
        let d = V3.decode(false, &msg).unwrap();
        assert_eq!(d.summary, "PUBACK #7; SUBACK #2 [qos1]; PINGRESP");
        assert!(d.fields.contains(&("packets", "3".into())));
        assert_eq!(
            pairs(&V3, false, &msg),
            vec![
                Pair::Reply {
                    key: "pub 7".into()
                },
                Pair::Reply {
                    key: "sub 2".into()
                },
                Pair::Reply { key: "ping".into() },
            ]
        );
        // Cut in the payload, in the variable header, in the length.
        assert_eq!(
            summary(&V3, &[0x32, 20, 0, 1, b't', 0, 9, b'a', b'b']),
            "PUBLISH t qos1 #9 (2 B) ab (truncated)"
        );
        assert_eq!(
            summary(&V3, &[0x32, 20, 0, 1, b't', 0]),
            "PUBLISH t qos1 (truncated)"
        );
        assert_eq!(summary(&V3, &[0x30, 0x80]), "PUBLISH (truncated)");
        assert_eq!(
            summary(&V3, &[0x40, 2, 0, 7, 0x30]),
            "PUBACK #7; PUBLISH (truncated)"
        );
        assert_eq!(summary(&V3, &[0xc0, 0, 0, 1, 2]), "PINGREQ; (3 B not MQTT)");
        assert_eq!(
            summary(&V3, &[0xc0, 0, 0x82, 3, 0, 1, 0, 0x20, 2, 0]),
            "PINGREQ; SUBSCRIBE (malformed); CONNACK (truncated)"
        );
        // Many packets: some listed, the rest counted.
        let many: Vec<u8> = [0xd0, 0].repeat(30);
        let s = summary(&V3, &many);
        assert!(s.ends_with("; +10 more packets"), "{s}");
        // What is not MQTT at all.
        for garbage in [
            &b""[..],
            &[0x00, 0],
            &[0x36, 0],
            &[0x80, 2, 0, 1],
            &[0xc0, 1, 0],
            &[0xc0, 0xff, 0xff, 0xff, 0xff, 1],
            &[0x10, 3, 0, 1, 2],
            &[0x30, 1, 0],
            &[0x82, 3, 0, 1, 0],
            b"GET / HTTP/1.1",
        ] {
            assert!(V3.decode(false, garbage).is_none(), "{garbage:02x?}");
            assert!(V5.decode(false, garbage).is_none(), "{garbage:02x?}");
        }
        assert!(V3.decode(true, &[0xc0, 0]).is_none(), "text is not MQTT");
        // v5 properties that overrun their packet make it malformed.
        assert!(V5.decode(false, &[0x40, 4, 0, 7, 0, 9]).is_none());
        // A property MQTT does not define stops the listing, not the packet.
        let d = V5.decode(false, &[0x40, 6, 0, 7, 0, 2, 0x7f, 0]).unwrap();
        assert_eq!(d.summary, "PUBACK #7");
        assert!(d.fields.contains(&("property", "(unreadable)".into())));
    }

    #[test]
    fn typed_packets_read_back_in_both_versions() {
        for m in [V3, V5] {
            let mut ctx = Context::default();
            let p = bytes(m.encode("publish", "sensors/t --qos 1 --retain 21.5 C", &mut ctx));
            assert_eq!(
                summary(&m, &p),
                "PUBLISH sensors/t qos1 #1 retain (6 B) 21.5 C"
            );
            assert_eq!(
                pairs(&m, true, &p),
                vec![Pair::Request {
                    key: "pub 1".into(),
                    label: "PUBLISH sensors/t".into()
                }]
            );
            let p = bytes(m.encode("publish", "--qos 2 a/b", &mut ctx));
            assert_eq!(summary(&m, &p), "PUBLISH a/b qos2 #2 (0 B)");
            let p = bytes(m.encode("publish", "a -- --retain", &mut ctx));
            assert_eq!(summary(&m, &p), "PUBLISH a (8 B) --retain");
            let s = bytes(m.encode("subscribe", "sensors/# 1", &mut ctx));
            assert_eq!(summary(&m, &s), "SUBSCRIBE #3 sensors/# qos1");
            let s = bytes(m.encode("subscribe", "x", &mut ctx));
            assert_eq!(summary(&m, &s), "SUBSCRIBE #4 x qos0");
            let u = bytes(m.encode("unsubscribe", "sensors/#", &mut ctx));
            assert_eq!(summary(&m, &u), "UNSUBSCRIBE #5 sensors/#");
            assert_eq!(bytes(m.encode("pingreq", "", &mut ctx)), [0xc0, 0]);
            assert_eq!(bytes(m.encode("disconnect", "", &mut ctx)), [0xe0, 0]);
            for (c, a) in [
                ("publish", ""),
                ("publish", "--qos 3 a x"),
                ("publish", "a/# x"),
                ("subscribe", ""),
                ("subscribe", "a 7"),
                ("unsubscribe", ""),
            ] {
                assert!(matches!(m.encode(c, a, &mut ctx), Some(Err(_))), "{c} {a}");
            }
            assert!(m.encode("send", "x", &mut ctx).is_none());
            // A long payload takes a two-byte length.
            let long = "x".repeat(300);
            let p = bytes(m.encode("publish", &format!("t {long}"), &mut ctx));
            assert_eq!(
                summary(&m, &p),
                format!("PUBLISH t (300 B) {}…", "x".repeat(80))
            );
        }
        // Packet ids stay within 1..=65535.
        let mut ctx = Context {
            next_id: 65535,
            ..Default::default()
        };
        assert_eq!(packet_id(&mut ctx), 65535);
        assert_eq!(packet_id(&mut ctx), 1);
    }

    #[test]
    fn the_greeting_is_a_connect() {
        let mut ctx = Context::default();
        let g = greet(&V3, &mut ctx);
        assert_eq!(
            summary(&V3, &g),
            "CONNECT client \"wsprobe\" v3.1.1 clean keepalive 0"
        );
        assert_eq!(connect_version_5(&g), Some(false));
        assert_eq!(
            pairs(&V3, true, &g),
            vec![Pair::Request {
                key: "connect".into(),
                label: "CONNECT".into()
            }]
        );
        assert_eq!(
            pairs(&V3, false, &[0x20, 2, 0, 0]),
            vec![Pair::Reply {
                key: "connect".into()
            }]
        );
        ctx.client_id = "wsprobe-1".into();
        ctx.connect_payload = Some(serde_json::json!({"username": "bob", "password": "pw"}));
        let g = greet(&V5, &mut ctx);
        assert_eq!(connect_version_5(&g), Some(true));
        let d = V5.decode(false, &g).unwrap();
        assert_eq!(
            d.summary,
            "CONNECT client \"wsprobe-1\" v5 clean keepalive 0 user \"bob\""
        );
        assert!(d.fields.contains(&("password", "(2 B)".into())));
        // 3.1.1 has no password without a user name.
        ctx.connect_payload = Some(serde_json::json!({"password": "pw"}));
        let g = greet(&V3, &mut ctx);
        assert!(!V3
            .decode(false, &g)
            .unwrap()
            .fields
            .iter()
            .any(|(n, _)| *n == "password"));
        let g = greet(&V5, &mut ctx);
        assert!(V5
            .decode(false, &g)
            .unwrap()
            .fields
            .contains(&("password", "(2 B)".into())));
        assert!(V3.answer(false, &[0xd0, 0], &ctx).is_none());
    }

    #[test]
    fn fields_stay_in_proportion() {
        let made = |d: &Decoded| d.summary.len() + weight(&d.fields);
        // One SUBACK of many codes, then many short ones with a property each.
        let mut one = vec![0x90, 0x83, 0x08, 0, 1, 0];
        one.extend([0x9e; 1024]);
        let d = V5.decode(false, &one).unwrap();
        assert!(d.summary.ends_with(", +1016 more]"), "{}", d.summary);
        assert!(made(&d) <= 16 * one.len() + 4096);
        let mut dense = vec![0x90, 63, 0, 1, 40];
        dense.extend([0x28, 1].repeat(20));
        dense.extend([0x9e; 20]);
        let many = dense.repeat(20);
        let d = V5.decode(false, &many).unwrap();
        assert!(
            made(&d) <= 8 * many.len() + 4096,
            "{} from {}",
            made(&d),
            many.len()
        );
        assert!(d.fields.contains(&("packet", "(more not listed)".into())));
        let mut subs = vec![0x82, 0, 0, 1, 0];
        subs.extend([0, 0, 0x2e].repeat(40));
        subs[1] = (subs.len() - 2) as u8;
        let d = V5.decode(false, &subs).unwrap();
        assert!(made(&d) <= 16 * subs.len() + 4096);
        assert_eq!(
            d.fields
                .iter()
                .filter(|(n, _)| *n == "topic filter")
                .count(),
            LIST_SHOWN
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            for m in [V3, V5] {
                let _ = m.decode(false, &bytes);
                let _ = connect_version_5(&bytes);
                let mut out = Vec::new();
                m.pairs(true, false, &bytes, &mut out);
                m.pairs(false, false, &bytes, &mut out);
            }
        }

        #[test]
        fn packet_like_bytes_decode_without_panic(
            first in proptest::prelude::any::<u8>(),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        ) {
            let mut msg = vec![first, body.len() as u8 & 0x7f];
            msg.extend(&body);
            for m in [V3, V5] {
                let _ = m.decode(false, &msg);
                let mut out = Vec::new();
                m.pairs(true, false, &msg, &mut out);
            }
        }
    }
}
