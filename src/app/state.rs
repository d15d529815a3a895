//! Everything the dashboard shows, as plain data: no channels, atomics or
//! cells, nothing that does I/O. Only `update` changes it; drawing only reads it
//! (what a draw works out for the next one comes back as `Msg::Drawn`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use regex::Regex;

use super::input::InputBox;
use super::packed::PackedHandshake;
use crate::net::relay::steer::{Command as SteerCommand, Rules};
use crate::net::rtt::{RttBook, RttStats};
use crate::net::server::faults::Faults;
use crate::net::Side;
use crate::net::{
    CloseCause, CloseInfo, ConnId, CounterSnapshot, Direction, Frame, FrameKind, Handshake, Rtt,
    RttKind,
};
use crate::present::ClientTotals;
use crate::proto::speech::Speech;
use crate::proto::{Protocol, Spoken};

/// The most of one payload the log keeps for the detail view.
pub const PAYLOAD_KEEP: usize = 1 << 20;
/// The log evicts old frames past this many payload bytes, whatever `--keep` says.
pub const LOG_BYTE_BUDGET: usize = 32 << 20;
/// RTT points kept for the chart, per kind.
pub const RTT_POINTS: usize = 600;
/// How long a closed connection stays in the server's table.
pub const CLOSED_ROW_TTL: Duration = Duration::from_secs(60);
/// How far back a relay's mark looks for the message it is about.
const MARK_LOOKBACK: usize = 4096;
/// Held messages the held list shows at most (the relay holds at most 1000 per direction and pair).
pub const HELD_ROWS: usize = 5000;
/// Rows of the connection table at most (closed ones go first).
pub const MAX_ROWS: usize = 20_000;
/// Seconds of rate history behind the sparkline.
pub const RATE_HISTORY: usize = 120;

/// One frame as the log keeps it: the payload is a private copy, capped, so a
/// kept entry never pins a larger network buffer.
#[derive(Clone, Debug)]
pub struct FrameEntry {
    pub seq: u64,
    pub conn: ConnId,
    pub ts: DateTime<Utc>,
    pub dir: Direction,
    pub kind: FrameKind,
    /// The size on the wire.
    pub len: usize,
    pub payload: Bytes,
    pub close: Option<CloseInfo>,
    pub rtt: Option<Rtt>,
    /// A relay's frame: the leg it was seen on (its way is told by leg and dir).
    pub leg: Option<Side>,
    /// What the relay did to it: `held #3`, `dropped (fault: drop 5%)`.
    pub mark: Option<String>,
    /// Its number among the data messages of its direction (0: not counted),
    /// which its frames on the wire carry too.
    pub message: u64,
    /// The protocol it is read as (decoded when shown, not before).
    pub proto: Option<Protocol>,
}

impl FrameEntry {
    pub fn truncated(&self) -> bool {
        self.payload.len() < self.len
    }
}

/// A ring of frames bounded by count and by payload bytes.
#[derive(Debug)]
pub struct FrameLog {
    entries: VecDeque<FrameEntry>,
    cap: usize,
    bytes: usize,
    next_seq: u64,
}

impl FrameLog {
    pub fn new(cap: usize) -> Self {
        FrameLog {
            entries: VecDeque::new(),
            cap: cap.max(1),
            bytes: 0,
            next_seq: 0,
        }
    }

    pub fn push(&mut self, f: &Frame, proto: Option<Protocol>) {
        self.push_seen(f, None, proto);
    }

    /// A relay's frame, seen on the leg to `leg`.
    pub fn push_leg(&mut self, f: &Frame, leg: Side, proto: Option<Protocol>) {
        self.push_seen(f, Some(leg), proto);
    }

    fn push_seen(&mut self, f: &Frame, leg: Option<Side>, proto: Option<Protocol>) {
        let keep = f.payload.len().min(PAYLOAD_KEEP);
        let entry = FrameEntry {
            seq: self.next_seq,
            conn: f.conn,
            ts: f.ts,
            dir: f.dir,
            kind: f.kind,
            len: f.payload.len(),
            payload: Bytes::copy_from_slice(&f.payload[..keep]),
            close: f.close.clone(),
            rtt: f.rtt.clone(),
            leg,
            mark: None,
            message: f.message,
            proto,
        };
        self.next_seq += 1;
        self.bytes += entry.payload.len();
        self.entries.push_back(entry);
        while self.entries.len() > self.cap
            || (self.bytes > LOG_BYTE_BUDGET && self.entries.len() > 1)
        {
            if let Some(old) = self.entries.pop_front() {
                self.bytes -= old.payload.len();
            }
        }
    }

    /// Marks the latest message of `conn` that came in on `leg` with this
    /// payload (looking back a bounded way): what the relay did to it.
    pub fn mark(&mut self, conn: ConnId, leg: Side, payload: &[u8], mark: String) -> bool {
        let keep = payload.len().min(PAYLOAD_KEEP);
        let found = self.entries.iter_mut().rev().take(MARK_LOOKBACK).find(|e| {
            e.conn == conn
                && e.leg == Some(leg)
                && e.dir == Direction::In
                && e.len == payload.len()
                && e.payload[..] == payload[..keep]
        });
        match found {
            Some(e) => {
                e.mark = Some(match e.mark.take() {
                    Some(old) => format!("{old}, {mark}"),
                    None => mark,
                });
                true
            }
            None => false,
        }
    }

    pub fn get(&self, seq: u64) -> Option<&FrameEntry> {
        let first = self.entries.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get(i)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &FrameEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DirFilter {
    #[default]
    All,
    Sent,
    Received,
}

impl DirFilter {
    pub fn next(self) -> Self {
        match self {
            DirFilter::All => DirFilter::Sent,
            DirFilter::Sent => DirFilter::Received,
            DirFilter::Received => DirFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DirFilter::All => "all",
            DirFilter::Sent => "sent",
            DirFilter::Received => "received",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub dir: DirFilter,
    pub regex: Option<Regex>,
    /// Only this connection's frames (the server's "selected" scope).
    pub conn: Option<ConnId>,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        self.dir != DirFilter::All || self.regex.is_some() || self.conn.is_some()
    }

    pub fn matches(&self, e: &FrameEntry) -> bool {
        let dir_ok = match self.dir {
            DirFilter::All => true,
            DirFilter::Sent => e.dir == Direction::Out,
            DirFilter::Received => e.dir == Direction::In,
        };
        dir_ok
            && self.conn.is_none_or(|c| c == e.conn)
            && self.regex.as_ref().is_none_or(|re| {
                let text = match &e.close {
                    Some(c) => c.reason.clone(),
                    None => String::from_utf8_lossy(&e.payload).into_owned(),
                };
                re.is_match(&text)
            })
    }
}

/// A frame as it crossed the wire, with the connection (and relay leg) it was on.
#[derive(Clone, Debug)]
pub struct WireEntry {
    pub conn: ConnId,
    pub leg: Option<Side>,
    pub info: crate::frames::FrameInfo,
}

impl WireEntry {
    pub fn dir(&self) -> Direction {
        if self.info.outgoing {
            Direction::Out
        } else {
            Direction::In
        }
    }
}

/// The frames on the wire, newest last, bounded by count.
#[derive(Debug)]
pub struct WireLog {
    entries: VecDeque<WireEntry>,
    cap: usize,
    /// Frames the connections logged but could not hand over in time.
    pub lost: u64,
    /// Data payload bytes of the frames seen: on the wire, and inflated.
    pub data_wire: u64,
    pub data_len: u64,
}

impl WireLog {
    pub fn new(cap: usize) -> Self {
        WireLog {
            entries: VecDeque::new(),
            cap: cap.max(1),
            lost: 0,
            data_wire: 0,
            data_len: 0,
        }
    }

    pub fn push(&mut self, w: crate::net::Wire, leg: Option<Side>) {
        self.lost += w.lost;
        // Only the newest `cap` of a batch can stay.
        let skip = w.frames.len().saturating_sub(self.cap);
        for info in &w.frames {
            if info.opcode & 0x8 == 0 {
                self.data_wire += info.wire_len;
                self.data_len += info.len;
            }
        }
        for info in w.frames.into_iter().skip(skip) {
            if self.entries.len() >= self.cap {
                self.entries.pop_front();
            }
            self.entries.push_back(WireEntry {
                conn: w.conn,
                leg,
                info,
            });
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &WireEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// What compression made of the data frames seen, when it made anything:
    /// `wire 1.2 KB for 3.4 KB (35%)`.
    pub fn compression(&self) -> Option<String> {
        (self.data_wire != self.data_len && self.data_len > 0).then(|| {
            format!(
                "wire {} for {} ({:.0}%)",
                crate::present::bytes(self.data_wire),
                crate::present::bytes(self.data_len),
                self.data_wire as f64 * 100.0 / self.data_len as f64
            )
        })
    }

    /// The frames a message crossed the wire in: its data frames, by its number.
    pub fn of_message(&self, e: &FrameEntry) -> Vec<&WireEntry> {
        if e.message == 0 || !e.kind.is_data() {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|w| {
                w.conn == e.conn
                    && w.leg == e.leg
                    && w.dir() == e.dir
                    && w.info.message == e.message
                    && !w.info.injected
                    && w.info.opcode & 0x8 == 0
            })
            .collect()
    }
}

/// A frame log with its filter and where the user is looking.
#[derive(Debug)]
pub struct LogView {
    pub log: FrameLog,
    /// Every frame as it crossed the wire (shown instead of messages with `w`).
    pub wire: WireLog,
    pub filter: Filter,
    /// Stick to the newest frame (off once the user scrolls or pauses).
    pub follow: bool,
    /// The selected frame's seq when not following.
    pub selected: Option<u64>,
    /// First visible row as the last draw left it, so scrolling is steady.
    pub top: usize,
}

impl LogView {
    pub fn new(keep: usize) -> Self {
        LogView {
            log: FrameLog::new(keep),
            wire: WireLog::new(keep),
            filter: Filter::default(),
            follow: true,
            selected: None,
            top: 0,
        }
    }

    /// Seqs of the frames the filter lets through, oldest first.
    pub fn visible(&self) -> Vec<u64> {
        if !self.filter.is_active() {
            return self.log.iter().map(|e| e.seq).collect();
        }
        self.log
            .iter()
            .filter(|e| self.filter.matches(e))
            .map(|e| e.seq)
            .collect()
    }

    /// The selected row's index in `visible`.
    pub fn selected_index(&self, visible: &[u64]) -> Option<usize> {
        if visible.is_empty() {
            return None;
        }
        if self.follow {
            return Some(visible.len() - 1);
        }
        let sel = self.selected?;
        // The first visible frame at or after the selection (it may have been evicted).
        Some(visible.partition_point(|&s| s < sel).min(visible.len() - 1))
    }

    pub fn selected_seq(&self) -> Option<u64> {
        let v = self.visible();
        self.selected_index(&v).map(|i| v[i])
    }

    /// Moves the selection by `delta` rows; reaching the bottom follows again.
    pub fn move_by(&mut self, delta: isize) {
        let v = self.visible();
        let Some(cur) = self.selected_index(&v) else {
            return;
        };
        let last = v.len() as isize - 1;
        let next = (cur as isize + delta).clamp(0, last);
        if next == last && delta > 0 {
            self.follow = true;
            self.selected = None;
        } else {
            self.follow = false;
            self.selected = Some(v[next as usize]);
        }
    }

    pub fn top_of_log(&mut self) {
        let v = self.visible();
        if let Some(&first) = v.first() {
            self.follow = false;
            self.selected = Some(first);
        }
    }

    pub fn bottom(&mut self) {
        self.follow = true;
        self.selected = None;
    }

    pub fn toggle_pause(&mut self) {
        if self.follow {
            self.follow = false;
            self.selected = self.selected_seq().or(self.selected);
        } else {
            self.bottom();
        }
    }

    pub fn clear(&mut self) {
        self.log.clear();
        self.wire.clear();
        self.bottom();
        self.top = 0;
    }
}

/// Frames and bytes per second, from counter differences between ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub frames_in: f64,
    pub frames_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
}

impl Rates {
    pub fn between(before: CounterSnapshot, after: CounterSnapshot, elapsed: Duration) -> Rates {
        let secs = elapsed.as_secs_f64();
        if secs <= 0.0 {
            return Rates::default();
        }
        let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / secs;
        Rates {
            frames_in: d(after.frames_in, before.frames_in),
            frames_out: d(after.frames_out, before.frames_out),
            bytes_in: d(after.bytes_in, before.bytes_in),
            bytes_out: d(after.bytes_out, before.bytes_out),
        }
    }
}

/// The counters as last sampled, to turn into rates at the next tick.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub at: Instant,
    pub counts: CounterSnapshot,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Open,
    Closed {
        close: Option<CloseInfo>,
        cause: CloseCause,
    },
    Failed(String),
    /// `--reconnect`: waiting before the next attempt.
    Waiting {
        attempt: u32,
        until: Instant,
    },
}

/// One line of the client's connection timeline: connects, drops and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub ts: DateTime<Utc>,
    pub text: String,
    /// A drop or a failure, shown in the error colour.
    pub bad: bool,
}

/// Timeline entries kept; the oldest go first.
pub const TIMELINE_KEEP: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RttPoint {
    /// Seconds since the pane started.
    pub at: f64,
    pub ms: f64,
    pub kind: RttKind,
}

/// The client's half of the screen.
#[derive(Debug)]
pub struct ClientPane {
    pub url: String,
    pub state: LinkState,
    pub conn: Option<ConnId>,
    pub peer: Option<SocketAddr>,
    pub handshake: Option<Handshake>,
    pub opened_at: Option<Instant>,
    pub closed_at: Option<Instant>,
    /// The current connection's frames and bytes, as last sampled.
    pub counts: CounterSnapshot,
    pub log: LogView,
    /// Messages, echoes and round trips over the whole session.
    pub totals: ClientTotals,
    pub rtt_points: VecDeque<RttPoint>,
    pub rates: Rates,
    pub sample: Option<Sample>,
    pub input: InputBox,
    pub input_error: Option<String>,
    pub started: Instant,
    pub timeline: VecDeque<TimelineEntry>,
    /// What the current connection speaks, as far as is known.
    pub spoken: Spoken,
    /// A script's last step or verdict (`/run`), shown over the input box.
    pub script: Option<String>,
    pub script_running: bool,
}

impl ClientPane {
    pub fn new(url: String, keep: usize, history: Vec<String>, now: Instant) -> Self {
        ClientPane {
            url,
            state: LinkState::Connecting,
            conn: None,
            peer: None,
            handshake: None,
            opened_at: None,
            closed_at: None,
            counts: CounterSnapshot::default(),
            log: LogView::new(keep),
            totals: ClientTotals::default(),
            rtt_points: VecDeque::new(),
            rates: Rates::default(),
            sample: None,
            input: InputBox::with_history(history),
            input_error: None,
            started: now,
            timeline: VecDeque::new(),
            spoken: Spoken::new(crate::proto::Choice::Auto, None),
            script: None,
            script_running: false,
        }
    }

    pub fn note(&mut self, ts: DateTime<Utc>, text: String, bad: bool) {
        if self.timeline.len() >= TIMELINE_KEEP {
            self.timeline.pop_front();
        }
        self.timeline.push_back(TimelineEntry { ts, text, bad });
    }

    /// How long the connection has been (or was) open.
    pub fn uptime(&self, now: Instant) -> Option<Duration> {
        let opened = self.opened_at?;
        Some(
            self.closed_at
                .unwrap_or(now)
                .saturating_duration_since(opened),
        )
    }
}

/// One row of the server's connection table.
#[derive(Debug)]
pub struct ConnRow {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub path: String,
    pub handshake: PackedHandshake,
    pub opened_at: Instant,
    /// Its frames and bytes, as last sampled.
    pub counts: CounterSnapshot,
    /// Boxed, as the handshake is packed: a server keeps tens of thousands of rows.
    pub closed: Option<Box<ClosedRow>>,
    /// A relay's pair: its upstream leg (the row itself is the client's leg).
    pub upstream: Option<Box<UpstreamLeg>>,
    /// A relay's pair: the latest request→reply latency.
    pub last_latency: Option<Duration>,
    /// A relay's pair: all its latencies (made at its first).
    pub latency: Option<Box<RttStats>>,
    /// What the connection speaks, as far as is known.
    pub spoken: Spoken,
}

/// The upstream leg of a relayed pair.
#[derive(Debug)]
pub struct UpstreamLeg {
    pub peer: SocketAddr,
    pub path: String,
    pub handshake: PackedHandshake,
    pub counts: CounterSnapshot,
    pub closed: Option<Box<ClosedRow>>,
}

#[derive(Clone, Debug)]
pub struct ClosedRow {
    pub at: Instant,
    pub close: Option<CloseInfo>,
    pub cause: CloseCause,
}

impl ConnRow {
    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }
}

/// The server's faults (`--delay`, `--drop`, ...), two of which can be
/// switched off and on while it runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerFaults {
    pub faults: Faults,
    pub delay_on: bool,
    pub drop_on: bool,
}

impl ServerFaults {
    pub fn new(faults: Faults) -> Self {
        ServerFaults {
            faults,
            delay_on: true,
            drop_on: true,
        }
    }

    /// `delay 50ms (off), drop 5%`: each fault, and which are switched off.
    pub fn describe(&self) -> Option<String> {
        self.faults.describe_switched(self.delay_on, self.drop_on)
    }
}

/// The server's half of the screen.
#[derive(Debug)]
pub struct ServerPane {
    pub url: String,
    pub rows: VecDeque<ConnRow>,
    /// The selected connection's id.
    pub selected: Option<ConnId>,
    pub log: LogView,
    /// Show only the selected connection's frames.
    pub scope_selected: bool,
    pub send_to_all: bool,
    pub input: InputBox,
    pub input_error: Option<String>,
    /// Frames the connection tasks could not hand over (the screen fell behind).
    pub not_shown: u64,
    /// Counters of rows that have left the table.
    pub retired: CounterSnapshot,
    pub total_conns: u64,
    pub rates: Rates,
    pub sample: Option<Sample>,
    /// Frames per second (in + out), one sample per tick, for the sparkline.
    pub rate_history: VecDeque<u64>,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Clients that left before finishing their handshake (probes, health checks).
    pub left_early: u64,
    /// Connections, errors and the like, oldest first, for the events view.
    pub events: VecDeque<TimelineEntry>,
    /// Faults the server injects on purpose, and whether delay and drop are on.
    pub faults: Option<ServerFaults>,
    /// `wsprobe relay`: the pane's connections are relayed pairs.
    pub relay: Option<RelayView>,
}

/// What a relay's pane shows besides a server's: where it relays to, the
/// request→reply latencies of every pair, what it holds and how it steers.
#[derive(Debug)]
pub struct RelayView {
    pub upstream: String,
    pub latency: RttBook,
    pub points: VecDeque<RttPoint>,
    pub started: Instant,
    /// Messages held now, oldest first.
    pub held: VecDeque<HeldRow>,
    /// The rules as last set: what is paused, the breakpoint, the faults.
    pub rules: Rules,
}

/// A message the relay holds, as the held list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRow {
    pub id: u64,
    pub conn: ConnId,
    pub from: Side,
    pub kind: FrameKind,
    pub payload: Bytes,
    pub why: String,
}

impl RelayView {
    pub fn new(upstream: String, rules: Rules, now: Instant) -> Self {
        RelayView {
            upstream,
            latency: RttBook::default(),
            points: VecDeque::new(),
            started: now,
            held: VecDeque::new(),
            rules,
        }
    }

    /// Keeps the rules shown in step with a command sent to the relay.
    pub fn steer(&mut self, cmd: &SteerCommand) {
        let sides = |s: Option<Side>| match s {
            Some(Side::Client) => vec![0],
            Some(Side::Server) => vec![1],
            None => vec![0, 1],
        };
        match cmd {
            SteerCommand::Pause(s) => sides(*s)
                .into_iter()
                .for_each(|i| self.rules.paused[i] = true),
            SteerCommand::Resume(s) => sides(*s)
                .into_iter()
                .for_each(|i| self.rules.paused[i] = false),
            SteerCommand::Break(re) => self.rules.breakpoint = re.clone(),
            // Kept by where the messages go, as the relay keeps them.
            SteerCommand::Faults(s, f) => sides(*s)
                .into_iter()
                .for_each(|i| self.rules.faults[1 - i] = f.clone()),
            SteerCommand::Forward(_) | SteerCommand::Edit(..) | SteerCommand::Drop(_) => {}
        }
    }

    /// `paused from client · break /x/ · to server: delay 50ms`, or None.
    pub fn describe(&self) -> Option<String> {
        let r = &self.rules;
        let mut parts = Vec::new();
        match r.paused {
            [true, true] => parts.push("paused both ways".to_string()),
            [true, false] => parts.push("paused from the client".to_string()),
            [false, true] => parts.push("paused from the server".to_string()),
            _ => {}
        }
        if let Some(re) = &r.breakpoint {
            parts.push(format!("break /{}/", re.as_str()));
        }
        for (i, to) in ["client", "server"].iter().enumerate() {
            if let Some(d) = r.faults[i].describe() {
                parts.push(format!("to {to}: {d}"));
            }
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

impl ServerPane {
    pub fn new(url: String, keep: usize, history: Vec<String>) -> Self {
        ServerPane {
            url,
            rows: VecDeque::new(),
            selected: None,
            log: LogView::new(keep),
            scope_selected: false,
            send_to_all: false,
            input: InputBox::with_history(history),
            input_error: None,
            not_shown: 0,
            retired: CounterSnapshot::default(),
            total_conns: 0,
            rates: Rates::default(),
            sample: None,
            rate_history: VecDeque::new(),
            errors: 0,
            last_error: None,
            left_early: 0,
            events: VecDeque::new(),
            faults: None,
            relay: None,
        }
    }

    pub fn note(&mut self, ts: DateTime<Utc>, text: String, bad: bool) {
        if self.events.len() >= TIMELINE_KEEP {
            self.events.pop_front();
        }
        self.events.push_back(TimelineEntry { ts, text, bad });
    }

    pub fn open_count(&self) -> usize {
        self.rows.iter().filter(|r| r.is_open()).count()
    }

    pub fn totals(&self) -> CounterSnapshot {
        let mut t = self.retired;
        for r in &self.rows {
            t += r.counts;
        }
        t
    }

    pub fn selected_index(&self) -> Option<usize> {
        let id = self.selected?;
        self.rows.iter().position(|r| r.id == id)
    }

    pub fn selected_row(&self) -> Option<&ConnRow> {
        self.selected_index().map(|i| &self.rows[i])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Client,
    Server,
    /// Both, side by side: the embedded demo.
    Demo,
    /// `wsprobe relay`: one pane of relayed pairs, both directions in its log.
    Relay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    ClientInput,
    ClientLog,
    ServerConns,
    ServerLog,
    ServerInput,
}

impl Focus {
    pub fn pane(self) -> Side {
        match self {
            Focus::ClientInput | Focus::ClientLog => Side::Client,
            _ => Side::Server,
        }
    }

    pub fn is_input(self) -> bool {
        matches!(self, Focus::ClientInput | Focus::ServerInput)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Popup {
    Help {
        scroll: u16,
    },
    Detail {
        pane: Side,
        seq: u64,
        scroll: u16,
    },
    Handshake {
        pane: Side,
        conn: Option<ConnId>,
        scroll: u16,
    },
    /// The client's connects, drops and retries.
    Timeline {
        scroll: u16,
    },
    /// The server's events: connections, errors, handshakes given up.
    Events {
        scroll: u16,
    },
}

#[derive(Debug)]
pub struct AppState {
    pub mode: Mode,
    pub client: Option<ClientPane>,
    pub server: Option<ServerPane>,
    pub focus: Focus,
    pub popup: Option<Popup>,
    /// The regex being typed for the focused log's filter.
    pub filter_edit: Option<InputBox>,
    pub filter_error: Option<String>,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    /// Time zone for clock times on screen (fixed in tests).
    pub offset: FixedOffset,
    pub should_quit: bool,
    pub dirty: bool,
    /// A line for the demo: how to run the two halves in two terminals.
    pub hint: Option<String>,
    /// `wsprobe replay`: nothing can be sent.
    pub read_only: bool,
    /// The logs show frames as they crossed the wire instead of messages (`w`).
    pub show_wire: bool,
    /// `--protocol` and what its commands need (the namespace, ids).
    pub speech: Speech,
    /// The logs show payloads as they are, not decoded (`d`).
    pub show_raw: bool,
}

/// What a dashboard opens with.
#[derive(Clone, Debug)]
pub struct Opening {
    pub mode: Mode,
    pub now: Instant,
    pub wall: DateTime<Utc>,
    pub offset: FixedOffset,
    /// Frames each log keeps.
    pub keep: usize,
    /// Input history, oldest first.
    pub history: Vec<String>,
    /// The client's URL, when there is a client pane.
    pub client: Option<String>,
    /// The server's URL, when there is a server pane.
    pub server: Option<String>,
    /// The server's faults, when it injects any.
    pub faults: Option<Faults>,
    /// The relay's upstream URL, in relay mode.
    pub upstream: Option<String>,
    /// The relay's rules at the start (from its flags).
    pub rules: Rules,
    /// The note above the panes.
    pub hint: Option<String>,
    /// `wsprobe replay`: a recording, shown read-only.
    pub replay: bool,
    /// `--protocol` and its settings.
    pub speech: Speech,
}

impl AppState {
    /// The state a dashboard starts from: its panes, empty.
    pub fn open(o: Opening) -> Self {
        let mut state = AppState::new(o.mode, o.now, o.wall, o.offset);
        let history = if o.replay { Vec::new() } else { o.history };
        state.client = o.client.map(|url| {
            let mut c = ClientPane::new(url, o.keep, history.clone(), o.now);
            if o.replay {
                c.input_error = Some("replay: read-only".into());
            }
            c
        });
        state.server = o.server.map(|url| {
            let mut s = ServerPane::new(url, o.keep, history);
            s.faults = o.faults.filter(Faults::is_active).map(ServerFaults::new);
            s.relay = o.upstream.map(|u| RelayView::new(u, o.rules, o.now));
            s
        });
        state.hint = o.hint;
        state.speech = o.speech;
        if let Some(c) = state.client.as_mut() {
            c.spoken = Spoken::new(state.speech.choice, None);
        }
        if o.replay {
            // Closed connections stay in the table: it is the recording's.
            state.read_only = true;
            state.focus = match o.mode {
                Mode::Server | Mode::Relay => Focus::ServerLog,
                _ => Focus::ClientLog,
            };
        }
        state
    }

    pub fn new(mode: Mode, now: Instant, wall: DateTime<Utc>, offset: FixedOffset) -> Self {
        AppState {
            mode,
            client: None,
            server: None,
            focus: match mode {
                Mode::Server | Mode::Relay => Focus::ServerConns,
                _ => Focus::ClientInput,
            },
            popup: None,
            filter_edit: None,
            filter_error: None,
            now,
            wall,
            offset,
            should_quit: false,
            dirty: true,
            hint: None,
            read_only: false,
            show_wire: false,
            speech: Speech::default(),
            show_raw: false,
        }
    }

    /// The focus stops Tab cycles through on this screen.
    pub fn focus_order(&self) -> &'static [Focus] {
        match self.mode {
            Mode::Client => &[Focus::ClientInput, Focus::ClientLog],
            Mode::Server | Mode::Relay => {
                &[Focus::ServerConns, Focus::ServerLog, Focus::ServerInput]
            }
            Mode::Demo => &[
                Focus::ClientInput,
                Focus::ClientLog,
                Focus::ServerConns,
                Focus::ServerLog,
                Focus::ServerInput,
            ],
        }
    }

    pub fn log_mut(&mut self, pane: Side) -> Option<&mut LogView> {
        match pane {
            Side::Client => self.client.as_mut().map(|c| &mut c.log),
            Side::Server => self.server.as_mut().map(|s| &mut s.log),
        }
    }

    pub fn log(&self, pane: Side) -> Option<&LogView> {
        match pane {
            Side::Client => self.client.as_ref().map(|c| &c.log),
            Side::Server => self.server.as_ref().map(|s| &s.log),
        }
    }

    /// Whether the focused area takes typed text.
    pub fn typing(&self) -> bool {
        self.filter_edit.is_some() || self.focus.is_input()
    }
}
