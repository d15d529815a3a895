//! Round-trip matching and statistics. Pure: no sockets, no clocks of its own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;

use std::sync::Arc;

use super::speak::MAX_LABELS;
use super::{FrameKind, Rtt, RttKind};

/// Outstanding sends older than this many are forgotten (counted as expired), so a
/// peer that never echoes cannot grow the queue without bound.
pub const MAX_OUTSTANDING: usize = 100_000;
/// How far past the oldest outstanding send a reply may match (an echo that
/// overtook a lost one, or a server that answers out of order).
const MATCH_WINDOW: usize = 1024;

#[derive(Debug)]
struct Outstanding {
    kind: FrameKind,
    payload: Bytes,
    sent: Instant,
}

/// Matches replies to what was sent: data messages against a FIFO of outstanding
/// sends (optionally behind an echo prefix), pongs against outstanding pings.
#[derive(Debug, Default)]
pub struct RttMatcher {
    echo_prefix: Bytes,
    sends: VecDeque<Outstanding>,
    pings: VecDeque<Outstanding>,
    expired: u64,
}

impl RttMatcher {
    pub fn new(echo_prefix: Option<&str>) -> Self {
        RttMatcher {
            echo_prefix: Bytes::copy_from_slice(echo_prefix.unwrap_or("").as_bytes()),
            ..Default::default()
        }
    }

    /// Remember a data message or ping that just went out.
    pub fn sent(&mut self, kind: FrameKind, payload: Bytes, at: Instant) {
        let queue = match kind {
            FrameKind::Text | FrameKind::Binary => &mut self.sends,
            FrameKind::Ping => &mut self.pings,
            _ => return,
        };
        if queue.len() >= MAX_OUTSTANDING {
            queue.pop_front();
            self.expired += 1;
        }
        queue.push_back(Outstanding {
            kind,
            payload,
            sent: at,
        });
    }

    /// A frame arrived: the RTT it closes, if it answers something we sent.
    pub fn received(&mut self, kind: FrameKind, payload: &[u8], at: Instant) -> Option<Rtt> {
        let (queue, rtt_kind, body) = match kind {
            FrameKind::Text | FrameKind::Binary => {
                let body = if kind == FrameKind::Text && !self.echo_prefix.is_empty() {
                    payload.strip_prefix(&self.echo_prefix[..])?
                } else {
                    payload
                };
                (&mut self.sends, RttKind::Echo, body)
            }
            FrameKind::Pong => (&mut self.pings, RttKind::Ping, payload),
            _ => return None,
        };
        let wanted_kind = match kind {
            FrameKind::Pong => FrameKind::Ping,
            k => k,
        };
        let pos = queue
            .iter()
            .take(MATCH_WINDOW)
            .position(|o| o.kind == wanted_kind && o.payload == body)?;
        let o = queue.remove(pos)?;
        Some(Rtt {
            kind: rtt_kind,
            duration: at.saturating_duration_since(o.sent),
            label: None,
        })
    }

    /// Data messages sent and not (yet) echoed.
    pub fn outstanding(&self) -> usize {
        self.sends.len()
    }

    pub fn outstanding_pings(&self) -> usize {
        self.pings.len()
    }

    /// Sends forgotten because too many were outstanding.
    pub fn expired(&self) -> u64 {
        self.expired
    }
}

/// Percentile summary of one kind of round trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RttSummary {
    pub count: u64,
    pub min: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Round-trip statistics over everything seen, in microseconds.
#[derive(Clone, Debug)]
pub struct RttStats {
    hist: Histogram<u64>,
}

impl Default for RttStats {
    fn default() -> Self {
        RttStats {
            // One microsecond to one hour at three significant figures.
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
        }
    }
}

impl RttStats {
    /// Two significant figures: a twelfth of the memory, for figures kept per label.
    pub fn coarse() -> Self {
        RttStats {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 2)
                .expect("static histogram bounds are valid"),
        }
    }

    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).max(1);
        self.hist.saturating_record(us);
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn summary(&self) -> RttSummary {
        if self.hist.is_empty() {
            return RttSummary::default();
        }
        let q = |q: f64| Duration::from_micros(self.hist.value_at_quantile(q));
        RttSummary {
            count: self.hist.len(),
            min: Duration::from_micros(self.hist.min()),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max: Duration::from_micros(self.hist.max()),
        }
    }
}

/// Where the labels past `MAX_LABELS` are counted (no method can be named so:
/// it has a space).
const OTHER: &str = "(others)";

/// Echo, request→reply and ping round trips, kept apart; replies also by the
/// method or event they answer.
#[derive(Clone, Debug, Default)]
pub struct RttBook {
    pub echo: RttStats,
    pub reply: RttStats,
    pub ping: RttStats,
    /// Reply latencies per request label, in the order first seen; at most
    /// `speak::MAX_LABELS` (the rest under "other"), each coarser than the total.
    pub by_label: Vec<(Arc<str>, RttStats)>,
    /// Replies among `reply` to what a protocol said by itself (`RttKind::Setup`).
    pub setup: u64,
}

impl RttBook {
    pub fn record(&mut self, rtt: Rtt) {
        match rtt.kind {
            RttKind::Echo => self.echo.record(rtt.duration),
            RttKind::Reply | RttKind::Setup => {
                self.reply.record(rtt.duration);
                self.setup += u64::from(rtt.kind == RttKind::Setup);
                if let Some(label) = rtt.label {
                    self.label(label).record(rtt.duration);
                }
            }
            RttKind::Ping => self.ping.record(rtt.duration),
        }
    }

    /// Data messages of the user's answered: echoes and replies.
    pub fn answered(&self) -> u64 {
        (self.echo.count() + self.reply.count()).saturating_sub(self.setup)
    }

    fn label(&mut self, label: Arc<str>) -> &mut RttStats {
        let at = match self.by_label.iter().position(|(l, _)| *l == label) {
            Some(at) => at,
            // The last place is kept for all the labels past the others.
            None if self.by_label.len() < MAX_LABELS - 1 => {
                self.by_label.push((label, RttStats::coarse()));
                self.by_label.len() - 1
            }
            None => match self.by_label.iter().position(|(l, _)| &**l == OTHER) {
                Some(at) => at,
                None => {
                    self.by_label.push((Arc::from(OTHER), RttStats::coarse()));
                    self.by_label.len() - 1
                }
            },
        };
        &mut self.by_label[at].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn echo_matches_oldest_in_order() {
        let start = t0();
        let mut m = RttMatcher::new(None);
        m.sent(FrameKind::Text, Bytes::from_static(b"a"), start);
        m.sent(
            FrameKind::Text,
            Bytes::from_static(b"b"),
            start + Duration::from_millis(1),
        );
        let r = m
            .received(FrameKind::Text, b"a", start + Duration::from_millis(5))
            .unwrap();
        assert_eq!(r.kind, RttKind::Echo);
        assert_eq!(r.duration, Duration::from_millis(5));
        let r = m
            .received(FrameKind::Text, b"b", start + Duration::from_millis(5))
            .unwrap();
        assert_eq!(r.duration, Duration::from_millis(4));
        assert_eq!(m.outstanding(), 0);
    }

    #[test]
    fn unmatched_receive_leaves_queue_alone() {
        let start = t0();
        let mut m = RttMatcher::new(None);
        m.sent(FrameKind::Text, Bytes::from_static(b"a"), start);
        assert!(m.received(FrameKind::Text, b"pushed", start).is_none());
        assert_eq!(m.outstanding(), 1);
    }

    #[test]
    fn kind_must_match() {
        let start = t0();
        let mut m = RttMatcher::new(None);
        m.sent(FrameKind::Binary, Bytes::from_static(b"a"), start);
        assert!(m.received(FrameKind::Text, b"a", start).is_none());
        assert!(m.received(FrameKind::Binary, b"a", start).is_some());
    }

    #[test]
    fn echo_prefix_is_stripped_for_text_only() {
        let start = t0();
        let mut m = RttMatcher::new(Some("Echo: "));
        m.sent(FrameKind::Text, Bytes::from_static(b"hi"), start);
        assert!(m.received(FrameKind::Text, b"hi", start).is_none());
        assert!(m.received(FrameKind::Text, b"Echo: hi", start).is_some());
        m.sent(FrameKind::Binary, Bytes::from_static(b"x"), start);
        assert!(m.received(FrameKind::Binary, b"x", start).is_some());
    }

    #[test]
    fn pong_closes_its_ping_not_a_data_send() {
        let start = t0();
        let mut m = RttMatcher::new(None);
        m.sent(FrameKind::Text, Bytes::from_static(b"1"), start);
        m.sent(FrameKind::Ping, Bytes::from_static(b"1"), start);
        let r = m
            .received(FrameKind::Pong, b"1", start + Duration::from_micros(300))
            .unwrap();
        assert_eq!(r.kind, RttKind::Ping);
        assert_eq!(m.outstanding(), 1);
        assert_eq!(m.outstanding_pings(), 0);
    }

    #[test]
    fn out_of_order_reply_still_matches() {
        let start = t0();
        let mut m = RttMatcher::new(None);
        m.sent(FrameKind::Text, Bytes::from_static(b"a"), start);
        m.sent(FrameKind::Text, Bytes::from_static(b"b"), start);
        assert!(m.received(FrameKind::Text, b"b", start).is_some());
        assert_eq!(m.outstanding(), 1);
    }

    #[test]
    fn queue_is_bounded() {
        let start = t0();
        let mut m = RttMatcher::new(None);
        for i in 0..(MAX_OUTSTANDING + 10) {
            m.sent(FrameKind::Text, Bytes::from(i.to_string()), start);
        }
        assert_eq!(m.outstanding(), MAX_OUTSTANDING);
        assert_eq!(m.expired(), 10);
    }

    #[test]
    fn stats_percentiles() {
        let mut s = RttStats::default();
        for ms in 1..=100u64 {
            s.record(Duration::from_millis(ms));
        }
        let sum = s.summary();
        assert_eq!(sum.count, 100);
        assert_eq!(sum.min, Duration::from_millis(1));
        // Three significant figures: within 0.1 %.
        let close = |d: Duration, ms: u64| (d.as_micros() as i64 - ms as i64 * 1000).abs() < 100;
        assert!(close(sum.p50, 50), "{:?}", sum.p50);
        assert!(close(sum.p90, 90), "{:?}", sum.p90);
        assert!(close(sum.p99, 99), "{:?}", sum.p99);
        assert!(close(sum.max, 100), "{:?}", sum.max);
    }

    #[test]
    fn replies_to_what_wsprobe_said_itself_are_timed_but_answer_nothing_typed() {
        let rtt = |kind, label: Option<&str>| Rtt {
            kind,
            duration: Duration::from_millis(1),
            label: label.map(Arc::from),
        };
        let mut book = RttBook::default();
        book.record(rtt(RttKind::Echo, None));
        book.record(rtt(RttKind::Reply, Some("add")));
        book.record(rtt(RttKind::Setup, Some("connect")));
        assert_eq!(book.reply.count(), 2, "both are reply latencies");
        assert_eq!(book.answered(), 2, "the echo and the add, not the connect");
        let labels: Vec<&str> = book.by_label.iter().map(|(l, _)| &**l).collect();
        assert_eq!(labels, ["add", "connect"]);
        for i in 0..(2 * MAX_LABELS) {
            book.record(rtt(RttKind::Reply, Some(&format!("m{i}"))));
        }
        assert_eq!(book.by_label.len(), MAX_LABELS, "bounded");
        let (last, stats) = book.by_label.last().unwrap();
        assert_eq!(&**last, OTHER, "the rest counted together");
        assert_eq!(stats.count(), (2 * MAX_LABELS - (MAX_LABELS - 3)) as u64);
    }

    #[test]
    fn empty_stats_are_zero() {
        assert_eq!(RttStats::default().summary(), RttSummary::default());
    }
}
