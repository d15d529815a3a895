//! Faults the echo server can inject, to test clients against a bad server:
//! dropped echoes, a close after N messages, a cap on connections.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Percentage of echoes silently not sent (0 to 100).
    pub drop_percent: f64,
    /// Close each connection after echoing this many messages.
    pub close_after: Option<u64>,
    /// The code of that close.
    pub close_code: u16,
    /// Handshakes beyond this many open connections are answered 503.
    pub max_connections: Option<usize>,
    /// Split each echo into this many frames (0 or 1: whole).
    pub fragment: usize,
    /// Hold each echo this long before sending it.
    pub delay: Duration,
    /// Plus a random extra of up to this much (order is kept).
    pub jitter: Duration,
    /// Never answer a ping.
    pub no_pong: bool,
}

impl Faults {
    pub fn is_active(&self) -> bool {
        self.drop_percent > 0.0
            || self.close_after.is_some()
            || self.max_connections.is_some()
            || self.fragment > 1
            || self.delays()
            || self.no_pong
    }

    pub fn delays(&self) -> bool {
        !self.delay.is_zero() || !self.jitter.is_zero()
    }

    /// `drop 5%, close after 100 with 4000, at most 10 connections`, or None.
    pub fn describe(&self) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let mut parts = Vec::new();
        if self.delays() {
            parts.push(describe_delay(self.delay, self.jitter));
        }
        if self.drop_percent > 0.0 {
            parts.push(format!("drop {}%", self.drop_percent));
        }
        if let Some(n) = self.close_after {
            let mut s = format!("close after {n}");
            let _ = write!(s, " with {}", self.close_code);
            parts.push(s);
        }
        if self.fragment > 1 {
            parts.push(format!("fragment into {}", self.fragment));
        }
        if self.no_pong {
            parts.push("no pong".to_string());
        }
        if let Some(m) = self.max_connections {
            parts.push(format!("at most {m} connections"));
        }
        Some(parts.join(", "))
    }
}

/// `delay 50ms + up to 20ms`.
pub(crate) fn describe_delay(delay: Duration, jitter: Duration) -> String {
    let mut d = format!("delay {}", humantime::format_duration(delay));
    if !jitter.is_zero() {
        let _ = write!(d, " + up to {}", humantime::format_duration(jitter));
    }
    d
}

/// The faults the dashboard can switch off and on while the server runs.
#[derive(Debug)]
pub struct Switches {
    pub delay_on: AtomicBool,
    pub drop_on: AtomicBool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            delay_on: AtomicBool::new(true),
            drop_on: AtomicBool::new(true),
        }
    }
}

impl Switches {
    pub fn delaying(&self) -> bool {
        self.delay_on.load(Ordering::Relaxed)
    }

    pub fn dropping(&self) -> bool {
        self.drop_on.load(Ordering::Relaxed)
    }

    pub fn toggle_delay(&self) {
        self.delay_on.fetch_xor(true, Ordering::Relaxed);
    }

    pub fn toggle_drop(&self) {
        self.drop_on.fetch_xor(true, Ordering::Relaxed);
    }
}

impl Faults {
    /// The description with the switches' state: `delay 50ms (off), drop 5%`.
    pub fn describe_live(&self, switches: &Switches) -> Option<String> {
        self.describe_switched(switches.delaying(), switches.dropping())
    }

    /// The description with delay and drop each on or off.
    pub fn describe_switched(&self, delay_on: bool, drop_on: bool) -> Option<String> {
        let mut parts = Vec::new();
        let mut push = |on: bool, f: Faults| {
            if let Some(d) = f.describe() {
                parts.push(if on { d } else { format!("{d} (off)") });
            }
        };
        push(
            delay_on,
            Faults {
                delay: self.delay,
                jitter: self.jitter,
                ..Faults::default()
            },
        );
        push(
            drop_on,
            Faults {
                drop_percent: self.drop_percent,
                ..Faults::default()
            },
        );
        push(
            true,
            Faults {
                delay: Duration::ZERO,
                jitter: Duration::ZERO,
                drop_percent: 0.0,
                ..self.clone()
            },
        );
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_description_marks_switched_off_faults() {
        let f = Faults {
            drop_percent: 5.0,
            delay: Duration::from_millis(50),
            fragment: 2,
            ..Faults::default()
        };
        let s = Switches::default();
        assert_eq!(
            f.describe_live(&s).unwrap(),
            "delay 50ms, drop 5%, fragment into 2"
        );
        s.toggle_delay();
        assert_eq!(
            f.describe_live(&s).unwrap(),
            "delay 50ms (off), drop 5%, fragment into 2"
        );
        s.toggle_drop();
        s.toggle_delay();
        assert_eq!(
            f.describe_live(&s).unwrap(),
            "delay 50ms, drop 5% (off), fragment into 2"
        );
    }

    #[test]
    fn description_lists_what_is_on() {
        assert_eq!(Faults::default().describe(), None);
        let f = Faults {
            drop_percent: 5.0,
            close_after: Some(3),
            close_code: 4000,
            max_connections: Some(2),
            fragment: 3,
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(20),
            no_pong: true,
        };
        assert_eq!(
            f.describe().unwrap(),
            "delay 50ms + up to 20ms, drop 5%, close after 3 with 4000, fragment into 3, no pong, at most 2 connections"
        );
    }
}
