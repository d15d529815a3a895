//! `wsprobe bench`: many connections, numbered payloads, every echo checked, and
//! latency from hdrhistogram. Bounded by a count or a duration; stops by itself.

pub mod live;
pub mod payload;
pub mod report;
pub mod rpc;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::net::client::ClientOptions;
pub use report::Report;
use worker::{new_histogram, Outcome, Plan, Progress};

#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub connect: ClientOptions,
    pub connections: usize,
    /// Total messages over all connections; `None` with a duration.
    pub messages: Option<u64>,
    pub duration: Option<Duration>,
    pub size: usize,
    pub binary: bool,
    /// Messages in flight per connection (closed loop).
    pub window: usize,
    /// Open loop: messages per second over all connections.
    pub rate: Option<f64>,
    pub warmup: Duration,
    pub echo_prefix: Option<String>,
    /// How long to wait for outstanding echoes once sending stops.
    pub drain: Duration,
    /// `--protocol jsonrpc --call METHOD PARAMS`: calls paired with replies by id.
    pub call: Option<Arc<rpc::Call>>,
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
        Ok(())
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

/// Starts the connections; `finish` waits for them and adds everything up.
pub fn start(config: &BenchConfig) -> (Running, tokio::task::JoinHandle<Report>) {
    let progress = Arc::new(Progress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let warmup_end = started + config.warmup;
    let send_until = config.duration.map(|d| started + config.warmup + d);
    let per_conn_interval = config
        .rate
        .map(|r| Duration::from_secs_f64(config.connections as f64 / r));
    let c = config.connections as u64;
    // Reads zero their buffer first: size it to what is in flight, not more.
    let mut connect = config.connect.clone();
    connect.read_buffer_size =
        (config.size.saturating_mul(config.window) + 1024).clamp(4 << 10, 256 << 10);
    let mut tasks = Vec::with_capacity(config.connections);
    for i in 0..c {
        let messages = config.messages.map(|n| n / c + u64::from(i < n % c));
        let plan = Plan {
            connect: connect.clone(),
            messages,
            send_until,
            window: config.window,
            interval: per_conn_interval,
            warmup_end,
            size: config.size,
            binary: config.binary,
            echo_prefix: Bytes::from(config.echo_prefix.clone().unwrap_or_default()),
            drain: config.drain,
            call: config.call.clone(),
        };
        tasks.push(tokio::spawn(worker::run(
            plan,
            progress.clone(),
            stop_rx.clone(),
        )));
    }
    let cfg = config.clone();
    let handle = tokio::spawn(async move {
        let mut outcomes = Vec::with_capacity(tasks.len());
        for t in tasks {
            if let Ok(o) = t.await {
                outcomes.push(o);
            }
        }
        let stopped = *stop_rx.borrow();
        summarize(&cfg, outcomes, warmup_end, stopped)
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

fn summarize(
    cfg: &BenchConfig,
    outcomes: Vec<Outcome>,
    measure_from: Instant,
    stopped: bool,
) -> Report {
    let mut rtt = new_histogram();
    let mut tcp: Histogram<u64> = new_histogram();
    let mut handshake: Histogram<u64> = new_histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut r = Report {
        connections: cfg.connections,
        size: cfg.size,
        window: cfg.window,
        rate: cfg.rate,
        binary: cfg.binary,
        call: cfg.call.as_ref().map(|c| c.method().to_string()),
        stopped_early: stopped,
        ..Report::default()
    };
    let mut last_echo = measure_from;
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
    }
    r.measured_secs = last_echo
        .saturating_duration_since(measure_from)
        .as_secs_f64();
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
