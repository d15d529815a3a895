//! `wsprobe bench`: many connections, numbered payloads, every echo checked, and
//! latency from hdrhistogram. Bounded by a count or a duration; stops by itself.

pub mod buckets;
pub mod hdr_file;
pub mod live;
pub mod merge;
pub mod metrics;
pub mod payload;
pub mod report;
pub mod rpc;
pub mod shard;
pub mod source;
pub mod worker;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, watch};

use crate::net::client::ClientOptions;
pub use report::Report;
pub use shard::Shard;
use worker::{new_histogram, Outcome, Plan, Progress};

#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub connect: ClientOptions,
    /// Connections over all workers (this one opens its shard's part).
    pub connections: usize,
    /// Total messages over all connections of all workers; `None` with a duration.
    pub messages: Option<u64>,
    pub duration: Option<Duration>,
    pub size: usize,
    pub binary: bool,
    /// Messages in flight per connection (closed loop).
    pub window: usize,
    /// Open loop: messages per second over all connections of all workers.
    pub rate: Option<f64>,
    pub warmup: Duration,
    pub echo_prefix: Option<String>,
    /// How long to wait for outstanding echoes once sending stops.
    pub drain: Duration,
    /// `--protocol jsonrpc --call METHOD PARAMS`: calls paired with replies by id.
    pub call: Option<Arc<rpc::Call>>,
    /// Local addresses to connect from, round robin (`--source`).
    pub sources: Vec<IpAddr>,
    /// Connections opened per second (`--ramp`); all at once when `None`.
    pub ramp: Option<f64>,
    /// Which worker this is, of how many (`--shard`).
    pub shard: Shard,
    /// Sending starts then, once connected (`--start-at`), instead of as soon
    /// as every connection is made.
    pub start_at: Option<SystemTime>,
}

impl BenchConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if self.window == 0 {
            return Err("--window must be at least 1".into());
        }
        if self.size < payload::HEADER {
            return Err(format!(
                "--size must be at least {} bytes: each payload carries its sequence number",
                payload::HEADER
            ));
        }
        if self.messages.is_none() && self.duration.is_none() {
            return Err("give a bound: -n/--messages or -d/--duration".into());
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err("--rate must be a positive number of messages per second".into());
            }
        }
        if let Some(r) = self.ramp {
            if !(r > 0.0 && r.is_finite()) {
                return Err("--ramp must be a positive number of connections per second".into());
            }
        }
        if (self.connections as u64) < self.shard.count {
            return Err(format!(
                "--shard {}: {} connections cannot be shared by {} workers (at least one each)",
                self.shard, self.connections, self.shard.count
            ));
        }
        Ok(())
    }

    /// This worker's connections, numbered over all workers.
    pub fn own_connections(&self) -> std::ops::Range<u64> {
        let c = self.connections as u64;
        let first = self.shard.first(c);
        first..first + self.shard.part(c)
    }

    /// What connection `g` (numbered over all workers) sends in count mode. Split
    /// by that number, N workers' plans together are exactly one worker's.
    pub fn messages_of(&self, g: u64) -> Option<u64> {
        let c = self.connections as u64;
        self.messages.map(|n| n / c + u64::from(g < n % c))
    }

    /// This worker's part of `--rate`: each connection sends the same share.
    pub fn own_rate(&self) -> Option<f64> {
        let part = self.shard.part(self.connections as u64) as f64;
        self.rate.map(|r| r * part / self.connections as f64)
    }
}

/// The running bench, for the live view: shared counters and a stop switch.
pub struct Running {
    pub progress: Arc<Progress>,
    pub started: Instant,
    stop: watch::Sender<bool>,
}

impl Running {
    /// Stops sending; connections wait briefly for their echoes, then report.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// When the run started, on both clocks: durations come from the `Instant`, the
/// wall-clock times written for `bench merge` from the `SystemTime`.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    at: Instant,
    wall: SystemTime,
}

impl Anchor {
    fn now() -> Anchor {
        Anchor {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn wall(&self, t: Instant) -> SystemTime {
        match t.checked_duration_since(self.at) {
            Some(d) => self.wall + d,
            None => self.wall - self.at.duration_since(t),
        }
    }

    /// The `Instant` of a wall-clock time (now, when it has passed).
    fn instant(&self, wall: SystemTime) -> Instant {
        self.at + wall.duration_since(self.wall).unwrap_or_default()
    }
}

/// Starts the connections; `finish` waits for them and adds everything up.
///
/// Connections are opened first (at `--ramp`'s pace, when given); sending starts
/// once every one has connected or failed, or at `--start-at` if that is later,
/// so a run's timing (and an open loop's schedule) is the same on every worker.
pub fn start(config: &BenchConfig) -> (Running, tokio::task::JoinHandle<Report>) {
    let progress = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (go_tx, go_rx) = watch::channel::<Option<Instant>>(None);
    let started = Instant::now();
    let c_all = config.connections as u64;
    let own = config.own_connections();
    let local = (own.end - own.start) as usize;
    // Every connection sends the same share of the rate, whichever worker it is on.
    let per_conn_interval = config
        .rate
        .map(|r| Duration::from_secs_f64(c_all as f64 / r));
    // Reads zero their buffer first: size it to what is in flight, not more.
    let mut connect = config.connect.clone();
    connect.read_buffer_size =
        (config.size.saturating_mul(config.window) + 1024).clamp(4 << 10, 256 << 10);
    let (ready_tx, ready_rx) = mpsc::channel::<()>(local.max(1));
    let mut tasks = Vec::with_capacity(local);
    for (k, g) in own.clone().enumerate() {
        let mut connect = connect.clone();
        connect.source = source::pick(&config.sources, k);
        let plan = Plan {
            connect,
            messages: config.messages_of(g),
            send_until: None,
            window: config.window,
            interval: per_conn_interval,
            first_due: started,
            warmup_end: started,
            size: config.size,
            binary: config.binary,
            echo_prefix: Bytes::from(config.echo_prefix.clone().unwrap_or_default()),
            drain: config.drain,
            call: config.call.clone(),
        };
        let opens_at = config
            .ramp
            .map(|r| started + Duration::from_secs_f64(k as f64 / r));
        let offset = per_conn_interval.map(|every| every.mul_f64(g as f64 / c_all as f64));
        let (warmup, duration) = (config.warmup, config.duration);
        tasks.push(tokio::spawn(connection(
            plan,
            opens_at,
            offset.unwrap_or_default(),
            (warmup, duration),
            progress.clone(),
            stop_rx.clone(),
            ready_tx.clone(),
            go_rx.clone(),
        )));
    }
    drop(ready_tx);
    let start_at = config.start_at;
    let go = tokio::spawn(give_the_start(
        ready_rx,
        local,
        start_at,
        stop_rx.clone(),
        go_tx,
    ));
    let cfg = config.clone();
    let handle = tokio::spawn(async move {
        let mut outcomes = Vec::with_capacity(tasks.len());
        for t in tasks {
            if let Ok(o) = t.await {
                outcomes.push(o);
            }
        }
        let anchor = go.await.unwrap_or_else(|_| Anchor::now());
        let stopped = *stop_rx.borrow();
        summarize(&cfg, outcomes, anchor, stopped)
    });
    (
        Running {
            progress,
            started,
            stop: stop_tx,
        },
        handle,
    )
}

/// Resolves when the run is stopped, or its `Running` dropped (as a
/// connection's loop takes it too).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Waits until every connection has connected or failed (or a stop), then for
/// `--start-at`, and says when sending starts.
async fn give_the_start(
    mut ready: mpsc::Receiver<()>,
    expected: usize,
    start_at: Option<SystemTime>,
    mut stop: watch::Receiver<bool>,
    go: watch::Sender<Option<Instant>>,
) -> Anchor {
    let mut seen = 0;
    while seen < expected {
        tokio::select! {
            r = ready.recv() => match r {
                Some(()) => seen += 1,
                None => break,
            },
            _ = stopped(&mut stop) => break,
        }
    }
    let now = Anchor::now();
    let anchor = match start_at {
        Some(wall) if !*stop.borrow() => {
            let at = now.instant(wall);
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = stopped(&mut stop) => {}
            }
            // The monotonic clock and the wall clock drift apart a little (it
            // measured 0.7 ms here); the start is the wall clock's, so what is
            // left of it is waited out.
            while let Ok(left) = wall.duration_since(SystemTime::now()) {
                if left.is_zero() || *stop.borrow() {
                    break;
                }
                tokio::time::sleep(left.min(Duration::from_millis(50))).await;
            }
            Anchor::now()
        }
        _ => now,
    };
    let _ = go.send(Some(anchor.at));
    anchor
}

/// One connection: opened when the ramp says, then waits for the start and runs.
#[allow(clippy::too_many_arguments)]
async fn connection(
    mut plan: Plan,
    opens_at: Option<Instant>,
    offset: Duration,
    (warmup, duration): (Duration, Option<Duration>),
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
    ready: mpsc::Sender<()>,
    mut go: watch::Receiver<Option<Instant>>,
) -> Outcome {
    let mut out = Outcome::new();
    if let Some(at) = opens_at {
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = stopped(&mut stop) => {
                let _ = ready.try_send(());
                return out;
            }
        }
    }
    let ws = worker::connect(&plan, &progress, &mut out).await;
    let _ = ready.try_send(());
    let Some(ws) = ws else { return out };
    let t0 = tokio::select! {
        g = go.wait_for(Option::is_some) => match g {
            Ok(g) => g.expect("waited for Some"),
            Err(_) => return out,
        },
        _ = stopped(&mut stop) => Instant::now(),
    };
    plan.first_due = t0 + offset;
    plan.warmup_end = t0 + warmup;
    plan.send_until = duration.map(|d| t0 + warmup + d);
    worker::run(plan, ws, progress, stop, out).await
}

fn summarize(cfg: &BenchConfig, outcomes: Vec<Outcome>, anchor: Anchor, stopped: bool) -> Report {
    let mut rtt = new_histogram();
    let mut tcp: Histogram<u64> = new_histogram();
    let mut handshake: Histogram<u64> = new_histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let own = cfg.own_connections();
    let mut r = Report {
        connections: (own.end - own.start) as usize,
        size: cfg.size,
        window: cfg.window,
        rate: cfg.own_rate(),
        binary: cfg.binary,
        call: cfg.call.as_ref().map(|c| c.method().to_string()),
        stopped_early: stopped,
        shard: (!cfg.shard.is_whole()).then_some(cfg.shard),
        ..Report::default()
    };
    let measure_from = anchor.at + cfg.warmup;
    let mut last_echo = measure_from;
    let mut last_send: Option<Instant> = None;
    for o in outcomes {
        r.checks += o.checks;
        for (k, v) in o.errors {
            *errors.entry(k.to_string()).or_default() += v;
        }
        let _ = rtt.add(&o.rtt);
        if let Some(t) = o.tcp {
            tcp.saturating_record((t.as_micros() as u64).max(1));
        }
        if let Some(h) = o.handshake {
            r.connected += 1;
            handshake.saturating_record((h.as_micros() as u64).max(1));
        }
        if r.first_error.is_none() {
            r.first_error = o.first_error;
        }
        if let Some(l) = o.last_echo {
            last_echo = last_echo.max(l);
        }
        last_send = last_send.max(o.last_send);
    }
    r.measured_secs = last_echo
        .saturating_duration_since(measure_from)
        .as_secs_f64();
    r.span = report::Span {
        measure: (r.connected > 0).then(|| (anchor.wall(measure_from), anchor.wall(last_echo))),
        // Sending n messages on schedule takes n intervals (the last one too).
        send: last_send.map(|l| {
            let tail = cfg.rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
            (anchor.wall, anchor.wall(l + tail.unwrap_or_default()))
        }),
    };
    r.errors = errors;
    r.rtt = rtt;
    r.tcp = tcp;
    r.handshake = handshake;
    r
}

/// Runs a bench to the end without a screen: for tests and headless use.
pub async fn run(config: &BenchConfig) -> Report {
    let (_running, handle) = start(config);
    handle.await.expect("the bench summary task does not panic")
}
