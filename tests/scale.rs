//! Load beyond one machine: workers that shard one load and merge into one
//! report, open-loop latency that a stalled server cannot hide, source
//! addresses, a connection ramp, Prometheus metrics, and the Kubernetes Job.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::bin::{output_within, wsprobe, ServerProcess};
use support::*;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::bench::{self, hdr_file, BenchConfig, Shard};
use wsprobe::metrics::server::ServerMetrics;
use wsprobe::net::client::{parse_ws_url, ClientOptions};
use wsprobe::net::server::{Server, ServerConfig};
use wsprobe::net::NetEvent;

fn config(url: &str) -> BenchConfig {
    BenchConfig {
        connect: ClientOptions::new(parse_ws_url(url).unwrap()),
        connections: 4,
        messages: Some(400),
        duration: None,
        size: 64,
        binary: false,
        window: 1,
        rate: None,
        warmup: Duration::ZERO,
        echo_prefix: None,
        drain: Duration::from_secs(5),
        call: None,
        sources: Vec::new(),
        ramp: None,
        shard: Shard::WHOLE,
        start_at: None,
    }
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn json_of(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Four `bench --shard I/4 --hdr-out` processes, merged, against one process
/// with the same total load: the same counts exactly, the merged histogram the
/// sum of the workers' bucket for bucket, and (the server delaying every echo
/// by the same 10 ms) the same latencies within a scheduling tolerance.
#[test]
fn four_workers_merged_equal_one_process() {
    let server = ServerProcess::start(&["--quiet", "--delay", "10ms"]);
    let dir = scratch("merge");
    let load = ["-c", "8", "-n", "800", "-w", "1", "--json"];
    // On a whole millisecond: `--start-at` is written to the millisecond, and the
    // workers may begin up to a millisecond before a time that was not.
    let soon = SystemTime::now() + Duration::from_millis(1500);
    let ms = soon
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let start_at = SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64);
    let workers: Vec<_> = (0..4)
        .map(|i| {
            wsprobe()
                .args(["bench", &server.url])
                .args(load)
                .arg(format!("--shard={i}/4"))
                .arg(format!("--start-at={}", rfc3339(start_at)))
                .arg("--hdr-out")
                .arg(dir.join(format!("w{i}.json")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, w) in workers.into_iter().enumerate() {
        let out = output_within(w, "a worker never ended");
        assert!(out.status.success(), "worker {i}: {:?}", out);
        let j = json_of(&out);
        assert_eq!(
            (j["connections"].as_u64(), j["sent"].as_u64()),
            (Some(2), Some(200))
        );
        assert_eq!(j["shard"], format!("{i}/4"));
    }
    let single = wsprobe()
        .args(["bench", &server.url])
        .args(load)
        .arg("--hdr-out")
        .arg(dir.join("single.json"))
        .output()
        .unwrap();
    assert!(single.status.success(), "{single:?}");
    let single = json_of(&single);
    let files: Vec<_> = (0..4).map(|i| dir.join(format!("w{i}.json"))).collect();
    let merged = wsprobe()
        .args(["bench", "merge", "--json", "--hdr-out"])
        .arg(dir.join("merged.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(merged.status.success(), "{merged:?}");
    let merged = json_of(&merged);

    for field in [
        "sent",
        "received",
        "measured",
        "lost",
        "mismatched",
        "connections",
        "connected",
    ] {
        assert_eq!(
            merged[field], single[field],
            "{field}: {merged} vs {single}"
        );
    }
    assert_eq!(merged["measured"], 800);
    assert_eq!(merged["merged_files"], 4);
    assert_eq!(merged["errors"], serde_json::json!({}));

    // Exactly the workers' histograms added.
    let parts: Vec<_> = files.iter().map(|f| hdr_file::read(f).unwrap()).collect();
    let mut sum = parts[0].rtt.clone();
    for p in &parts[1..] {
        sum.add(&p.rtt).unwrap();
    }
    let merged_file = hdr_file::read(&dir.join("merged.json")).unwrap();
    assert_eq!(merged_file.rtt, sum);
    assert_eq!(merged_file.rtt.len(), 800);
    for (q, key) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
        assert_eq!(
            merged["rtt_us"][key].as_u64(),
            Some(sum.value_at_quantile(q)),
            "{key}"
        );
        // One process's latencies: the same 10 ms delay, up to scheduling noise.
        let (m, s) = (
            merged["rtt_us"][key].as_f64().unwrap(),
            single["rtt_us"][key].as_f64().unwrap(),
        );
        if key != "p99" {
            assert!(
                (m - s).abs() <= 0.25 * s,
                "{key}: merged {m} µs, single {s} µs"
            );
        }
    }
    // Started together: the workers' sending began at --start-at, and their
    // joint span is one run's, not four in a row.
    for p in &parts {
        let (began, _) = p.span.send.unwrap();
        let late = began
            .duration_since(start_at)
            .expect("began before --start-at");
        assert!(
            late < Duration::from_millis(500),
            "began {late:?} after --start-at"
        );
    }
    let (m, s) = (
        merged["duration_secs"].as_f64().unwrap(),
        single["duration_secs"].as_f64().unwrap(),
    );
    assert!(m < 2.0 * s, "merged span {m} s, one process {s} s");
}

#[test]
fn merge_refuses_what_it_cannot_read() {
    let dir = scratch("merge-bad");
    let not_json = dir.join("notes.txt");
    std::fs::write(&not_json, "hello").unwrap();
    let mut later =
        serde_json::to_value(hdr_file::HdrFile::from_report(&bench::Report::default()).unwrap())
            .unwrap();
    later["version"] = 99.into();
    let newer = dir.join("newer.json");
    std::fs::write(&newer, later.to_string()).unwrap();
    for (file, says) in [
        (not_json, "not JSON"),
        (newer, "version 99"),
        (dir.join("missing.json"), "cannot read"),
    ] {
        let out = wsprobe()
            .args(["bench", "merge"])
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says) && !err.contains("panicked"), "{err}");
    }
}

/// wrk2's coordinated omission: a server that stops answering for 1 s must
/// show in the tail. Open loop, each message is timed from when it was due,
/// so the messages due during the stall wait up to 1 s; a closed loop sends
/// nothing while it waits and records the stall once.
#[tokio::test]
async fn a_one_second_stall_shows_in_p99_and_above() {
    async fn stalling_server() -> String {
        raw_server(|mut ws| async move {
            let mut n = 0u64;
            while let Some(Ok(m)) = ws.next().await {
                if !(m.is_text() || m.is_binary()) {
                    continue;
                }
                n += 1;
                if n == 500 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                if ws.send(m).await.is_err() {
                    break;
                }
            }
        })
        .await
    }
    let mut c = config(&stalling_server().await);
    c.connections = 1;
    c.messages = None;
    c.duration = Some(Duration::from_millis(2500));
    c.rate = Some(1000.0);
    let open = within("open loop", bench::run(&c)).await;
    assert!(!open.failed(), "{}", open.text());
    let ms = |v: u64| v / 1000;
    let (p50, p99, p999, max) = (
        open.rtt.value_at_quantile(0.5),
        open.rtt.value_at_quantile(0.99),
        open.rtt.value_at_quantile(0.999),
        open.rtt.max(),
    );
    // Due during the stall: 1000 of 2500, waiting 0 to 1 s, evenly.
    assert!(ms(p99) >= 900 && ms(p999) >= 950, "{}", open.text());
    assert!((950..1600).contains(&ms(max)), "{}", open.text());
    assert!(ms(p50) < 100, "{}", open.text());
    assert!(open.rate_shortfall_pct().unwrap() < 5.0, "{}", open.text());

    let mut c = config(&stalling_server().await);
    c.connections = 1;
    c.messages = None;
    c.duration = Some(Duration::from_millis(1500));
    let closed = within("closed loop", bench::run(&c)).await;
    assert!(ms(closed.rtt.max()) >= 950, "{}", closed.text());
    assert!(
        ms(closed.rtt.value_at_quantile(0.99)) < 100,
        "{}",
        closed.text()
    );
}

/// Two sharded workers with a connection ramp and source addresses, started
/// together: each sends its half of --rate, on rate, and so do both together.
#[tokio::test]
async fn sharded_ramped_open_loop_holds_the_rate() {
    let (url, mut events) = start_server(ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    })
    .await;
    let mut c = config(&url);
    c.connections = 8;
    c.messages = None;
    c.duration = Some(Duration::from_secs(1));
    c.rate = Some(2000.0);
    c.ramp = Some(10.0);
    c.sources = bench::source::parse_sources("127.0.0.2-127.0.0.9").unwrap();
    c.start_at = Some(SystemTime::now() + Duration::from_millis(800));
    let runs: Vec<_> = (0..2)
        .map(|index| {
            let mut c = c.clone();
            c.shard = Shard { index, count: 2 };
            tokio::spawn(async move { bench::run(&c).await })
        })
        .collect();
    let mut parts = Vec::new();
    for r in runs {
        let r = within("a worker", r).await.unwrap();
        assert!(!r.failed(), "{}", r.text());
        assert_eq!(r.connections, 4);
        assert_eq!(r.rate, Some(1000.0));
        let short = r.rate_shortfall_pct().unwrap();
        assert!(short.abs() < 5.0, "{short} % short: {}", r.text());
        parts.push((String::new(), r));
    }
    let merged = bench::merge::merge(parts).unwrap();
    assert_eq!(merged.rate, Some(2000.0));
    let short = merged.rate_shortfall_pct().unwrap();
    assert!(short.abs() < 5.0, "{short} % short: {}", merged.text());
    // Each worker opened its 4 connections at 10/s: 300 ms from first to last
    // by its schedule. The server's clock sees each handshake finish, which a
    // loaded machine delays by milliseconds (once 6 ms at 40/s, where the
    // bound was 70 of 75 ms), not by the third of the span allowed here.
    let mut opened = Vec::new();
    while opened.len() < 8 {
        if let NetEvent::Opened(o) = next_matching(&mut events, "8 connections", |e| {
            matches!(e, NetEvent::Opened(_))
        })
        .await
        {
            opened.push(o.ts);
        }
    }
    opened.sort();
    let spread = (opened[7] - opened[0]).to_std().unwrap();
    assert!(
        spread >= Duration::from_millis(200),
        "opened within {spread:?}"
    );
}

/// `--source 127.0.0.2-127.0.0.9`: the server sees every connection come from
/// those addresses, round robin.
#[tokio::test]
async fn connections_come_from_the_source_addresses() {
    let (url, mut events) = start_server(ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    })
    .await;
    let mut c = config(&url);
    c.connections = 16;
    c.messages = Some(160);
    c.sources = bench::source::parse_sources("127.0.0.2-127.0.0.9").unwrap();
    let r = within("bench", bench::run(&c)).await;
    assert!(!r.failed(), "{}", r.text());
    let mut from: BTreeMap<String, usize> = BTreeMap::new();
    while from.values().sum::<usize>() < 16 {
        if let NetEvent::Opened(o) = next_matching(&mut events, "16 connections", |e| {
            matches!(e, NetEvent::Opened(_))
        })
        .await
        {
            *from.entry(o.peer.ip().to_string()).or_default() += 1;
        }
    }
    let want: BTreeMap<String, usize> = (2..=9).map(|i| (format!("127.0.0.{i}"), 2)).collect();
    assert_eq!(from, want);
    // An address this machine does not have is an error that says which.
    let mut c = config(&url);
    c.connections = 1;
    c.sources = vec!["192.0.2.1".parse().unwrap()];
    let r = within("bench", bench::run(&c)).await;
    let e = r.first_error.clone().unwrap_or_default();
    assert!(
        r.no_connection() && e.contains("source address 192.0.2.1"),
        "{e}"
    );
}

/// Prometheus' text format, read strictly: every family declared once by
/// `# TYPE` before its samples, names and labels well formed, values numbers,
/// histograms with cumulative buckets ending at `+Inf` equal to `_count`.
/// Returns each sample by its name and labels as written.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    assert!(text.ends_with('\n'), "the text must end with a newline");
    let name_ok = |n: &str| {
        let mut cs = n.chars();
        cs.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut samples = BTreeMap::new();
    let mut last_family = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, value) = (
                parts.next().unwrap(),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(name_ok(name), "bad metric name in {line:?}");
            match kw {
                "HELP" => assert!(helped.insert(name.to_string()), "HELP twice: {line}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&value),
                        "{line}"
                    );
                    assert!(
                        types.insert(name.to_string(), value.to_string()).is_none(),
                        "TYPE twice: {line}"
                    );
                    last_family = name.to_string();
                }
                _ => {}
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "blank line");
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "bad name: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .unwrap_or_else(|| panic!("bad labels: {line}"));
                for pair in inner.split(',') {
                    let (k, v) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("bad label: {line}"));
                    assert!(name_ok(k) && !k.contains(':'), "bad label name: {line}");
                    assert!(
                        v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                        "unquoted: {line}"
                    );
                }
            }
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert_eq!(
            family, last_family,
            "a sample outside its family's block: {line}"
        );
        if types[family] == "counter" {
            assert!(family.ends_with("_total") && v >= 0.0, "{line}");
        }
        assert!(
            samples.insert(series.to_string(), v).is_none(),
            "the same series twice: {line}"
        );
    }
    for (family, kind) in &types {
        assert!(helped.contains(family), "{family} has no HELP");
        if kind != "histogram" {
            continue;
        }
        let buckets: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|(k, v)| {
                let le = k
                    .strip_prefix(&format!("{family}_bucket{{le=\""))?
                    .strip_suffix("\"}")?;
                Some((
                    if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    },
                    *v,
                ))
            })
            .collect();
        let mut sorted = buckets.clone();
        sorted.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        assert!(
            sorted.windows(2).all(|w| w[0].1 <= w[1].1),
            "{family}: buckets not cumulative"
        );
        let inf = sorted
            .last()
            .filter(|b| b.0.is_infinite())
            .expect("no +Inf bucket")
            .1;
        assert_eq!(
            Some(&inf),
            samples.get(&format!("{family}_count")),
            "{family}: +Inf != _count"
        );
        assert!(
            samples.contains_key(&format!("{family}_sum")),
            "{family}: no _sum"
        );
    }
    samples
}

/// `GET /metrics` over a plain TCP socket: the status line and the body.
fn scrape(addr: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").expect("no end of head");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// Scrapes until `pred` holds of the samples (bounded by WAIT).
fn scrape_until(
    addr: &str,
    what: &str,
    pred: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = scrape(addr);
        assert_eq!(status, "HTTP/1.1 200 OK");
        let samples = parse_prometheus(&body);
        if pred(&samples) {
            return samples;
        }
        assert!(Instant::now() < deadline, "never {what}:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn server_metrics_count_connections_messages_and_bytes() {
    let server = Server::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let url = server.url();
    let metrics = ServerMetrics::default();
    let (tx, mut rx) = mpsc::channel(1000);
    tokio::spawn(server.run(metrics.wrap(tx)));
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let seen = metrics.clone();
    let (addr, _task) =
        wsprobe::metrics::http::start("127.0.0.1:0", Arc::new(move || seen.render()))
            .await
            .unwrap();
    let addr = addr.to_string();
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(&url))
        .await
        .unwrap();
    for i in 0..10 {
        ws.send(Message::text(format!("hello {i:02}")))
            .await
            .unwrap();
        within("echo", ws.next()).await.unwrap().unwrap();
    }
    let a = addr.clone();
    let s = tokio::task::spawn_blocking(move || {
        scrape_until(&a, "10 messages each way", |s| {
            s.get("wsprobe_server_messages_total{direction=\"out\"}") == Some(&10.0)
        })
    })
    .await
    .unwrap();
    assert_eq!(s["wsprobe_server_connections_open"], 1.0);
    assert_eq!(s["wsprobe_server_messages_total{direction=\"in\"}"], 10.0);
    assert_eq!(s["wsprobe_server_bytes_total{direction=\"in\"}"], 80.0);
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = within("close", ws.next()).await {}
    let s = tokio::task::spawn_blocking(move || {
        scrape_until(&addr, "the connection closed", |s| {
            s["wsprobe_server_connections_open"] == 0.0
        })
    })
    .await
    .unwrap();
    // Counted for good once closed.
    assert_eq!(s["wsprobe_server_connections_total"], 1.0);
    assert_eq!(s["wsprobe_server_bytes_total{direction=\"out\"}"], 80.0);
}

#[tokio::test]
async fn bench_metrics_are_the_run_in_prometheus_form() {
    let (url, _events) = start_server(ServerConfig {
        report_frames: false,
        ..ServerConfig::default()
    })
    .await;
    let (running, handle) = bench::start(&config(&url));
    let progress = running.progress.clone();
    let (addr, _task) = wsprobe::metrics::http::start(
        "127.0.0.1:0",
        Arc::new(move || bench::metrics::render(&progress)),
    )
    .await
    .unwrap();
    let r = within("bench", handle).await.unwrap();
    let s =
        tokio::task::spawn_blocking(move || scrape_until(&addr.to_string(), "the run", |_| true))
            .await
            .unwrap();
    assert_eq!(s["wsprobe_bench_messages_sent_total"], 400.0);
    assert_eq!(s["wsprobe_bench_rtt_seconds_count"], r.rtt.len() as f64);
    assert_eq!(s["wsprobe_bench_rtt_seconds_bucket{le=\"+Inf\"}"], 400.0);
    assert_eq!(s["wsprobe_bench_connections_total"], 4.0);
}

/// The flag on the real binary: the endpoint's address on stderr, scraped
/// while the server runs; a port in use ends a bench before it starts.
#[test]
fn metrics_flag_serves_and_refuses_a_port_in_use() {
    let server = ServerProcess::start(&["--quiet", "--metrics", "127.0.0.1:0"]);
    let line = server
        .stderr
        .next("the metrics line")
        .expect("no metrics line");
    let addr = line
        .strip_prefix("metrics on http://")
        .and_then(|l| l.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line}"));
    let s = scrape_until(addr, "a scrape", |_| true);
    assert_eq!(s["wsprobe_server_connections_total"], 0.0);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = taken.local_addr().unwrap().to_string();
    let out = wsprobe()
        .args([
            "bench",
            &server.url,
            "-n",
            "10",
            "--no-tui",
            "--metrics",
            &at,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot listen") && !err.contains("panicked"),
        "{err}"
    );
}

/// deploy/k8s/bench-job.yaml read as Kubernetes would (PyYAML, from the
/// peers' pinned Python): an Indexed Job whose pods take their shard from the
/// completion index and write to a shared claim, and a merge step reading it;
/// the worker's arguments are ones this wsprobe accepts.
#[test]
fn the_kubernetes_job_parses_and_shards_by_index() {
    let manifest =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s/bench-job.yaml");
    let out = std::process::Command::new(support::peers::peers_python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let kind = |k: &str| {
        docs.iter()
            .filter(move |d| d["kind"] == k)
            .collect::<Vec<_>>()
    };
    let claim = kind("PersistentVolumeClaim")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let jobs = kind("Job");
    let worker = jobs
        .iter()
        .find(|j| j["spec"]["completionMode"] == "Indexed")
        .expect("an Indexed Job");
    let n = worker["spec"]["completions"].as_u64().unwrap();
    assert_eq!(worker["spec"]["parallelism"].as_u64(), Some(n));
    let pod = &worker["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    assert_eq!(
        env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    assert_eq!(
        env["WORKERS"]["value"].as_str(),
        Some(n.to_string().as_str())
    );
    // Kubernetes' $(VAR) expansion, as for pod 2 of N.
    let expand = |s: &str| {
        let mut s = s.to_string();
        for (k, v) in &env {
            let value = match *k {
                "JOB_COMPLETION_INDEX" => "2".to_string(),
                _ => v["value"].as_str().unwrap_or_default().to_string(),
            };
            s = s.replace(&format!("$({k})"), &value);
        }
        s
    };
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| expand(a.as_str().unwrap()))
        .collect();
    assert!(args.contains(&format!("--shard=2/{n}")), "{args:?}");
    assert!(
        args.contains(&"--hdr-out=/results/worker-2.json".to_string()),
        "{args:?}"
    );
    let mut argv = vec!["wsprobe".to_string()];
    argv.extend(args);
    wsprobe::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let mounted = |pod: &Value| {
        let vol = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["persistentVolumeClaim"]["claimName"] == claim.as_str());
        let name = vol.expect("the results claim is a volume")["name"].clone();
        pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == name && m["mountPath"] == "/results")
    };
    assert!(mounted(pod));
    let merge = jobs
        .iter()
        .find(|j| j["spec"]["completionMode"] != "Indexed")
        .expect("a merge Job");
    let mpod = &merge["spec"]["template"]["spec"];
    assert!(mounted(mpod));
    let script = mpod["containers"][0]["args"].to_string();
    assert!(
        script.contains("wsprobe bench merge /results/worker-*.json"),
        "{script}"
    );
    let expect = &mpod["containers"][0]["env"][0];
    assert_eq!(
        (expect["name"].as_str(), expect["value"].as_str()),
        (Some("EXPECT"), Some(n.to_string().as_str()))
    );
}
