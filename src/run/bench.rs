//! `wsprobe bench URL`: the load/echo tester, with its live view or a report.

use std::io::IsTerminal;

use crate::cli::{BenchArgs, BenchCommand, MergeArgs, ProtocolArgs};
use crate::config::Options;
use crate::error::UsageError;
use crate::present;
use crate::proto::Choice;
use crate::signal::shutdown_signal;
use crate::{bench, tui};
use clap::ValueEnum;
use std::sync::Arc;

use super::client::client_options;

pub async fn run(command: BenchCommand, out: &Options) -> anyhow::Result<u8> {
    match command {
        BenchCommand::Run(args) => run_bench(*args, out).await,
        BenchCommand::Merge(args) => merge(args, out),
    }
}

/// `wsprobe bench merge FILE…`: the files' results as one report.
fn merge(args: MergeArgs, out: &Options) -> anyhow::Result<u8> {
    let mut parts = Vec::with_capacity(args.files.len());
    for f in &args.files {
        let r = bench::hdr_file::read(f).map_err(UsageError)?;
        parts.push((f.display().to_string(), r));
    }
    let report = bench::merge::merge(parts).map_err(UsageError)?;
    if let Some(path) = &args.hdr_out {
        bench::hdr_file::write(path, &report).map_err(anyhow::Error::msg)?;
    }
    finish(&report, out)
}

async fn run_bench(args: BenchArgs, out: &Options) -> anyhow::Result<u8> {
    let call =
        match (args.protocol, args.call.as_deref().unwrap_or_default()) {
            (Choice::Auto | Choice::Raw, []) => None,
            (Choice::Auto | Choice::Jsonrpc, typed @ [_, ..]) => {
                let call = bench::rpc::Call::parse(&typed.join(" "))
                    .map_err(|e| UsageError(format!("--call: {e}")))?;
                Some(Arc::new(call))
            }
            (Choice::Jsonrpc, []) => {
                return Err(UsageError(
                    "--protocol jsonrpc needs --call METHOD PARAMS, e.g. --call add '[1,2]'".into(),
                )
                .into())
            }
            (other, _) => {
                return Err(UsageError(format!(
                "bench speaks echo (the default) or JSON-RPC (--protocol jsonrpc --call), not {}",
                other.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
            ))
                .into())
            }
        };
    let config = bench::BenchConfig {
        connect: client_options(
            &args.connect.url,
            &args.connect.flags,
            &ProtocolArgs::of(args.protocol),
        )?,
        connections: args.connections,
        messages: args.messages,
        duration: match (args.messages, args.duration) {
            (None, None) => Some(std::time::Duration::from_secs(10)),
            (_, d) => d,
        },
        size: args.size,
        binary: args.binary,
        window: args.window,
        rate: args.rate,
        warmup: args.warmup,
        echo_prefix: args.connect.flags.echo_prefix.clone(),
        drain: args.timeout,
        call,
        sources: args.source.map(|s| s.0).unwrap_or_default(),
        ramp: args.ramp,
        shard: match &args.shard {
            Some(s) => {
                bench::Shard::parse(s, std::env::var("JOB_COMPLETION_INDEX").ok().as_deref())
                    .map_err(|e| UsageError(format!("--shard {e}")))?
            }
            None => bench::Shard::WHOLE,
        },
        start_at: args.start_at,
    };
    config.validate().map_err(UsageError)?;
    // Checked before the run, not after it: a result with nowhere to go is a
    // run wasted.
    if let Some(path) = &args.hdr_out {
        bench::hdr_file::check_writable(path)
            .map_err(|e| UsageError(format!("--hdr-out {}: {e}", path.display())))?;
    }
    // Listening before the run starts: a port in use stops it before any load.
    let listener = match &args.metrics {
        Some(addr) => Some(
            crate::metrics::http::bind(addr)
                .await
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    // Listening for signals before the first connection: one sent the moment
    // the run is seen must find the handlers there.
    let shutdown = shutdown_signal();
    let (running, handle) = bench::start(&config);
    let _metrics = listener.map(|l| {
        if let Ok(at) = l.local_addr() {
            eprintln!("metrics on http://{at}/metrics");
        }
        let progress = running.progress.clone();
        let render: crate::metrics::http::Render =
            Arc::new(move || bench::metrics::render(&progress));
        AbortOnDrop(tokio::spawn(crate::metrics::http::serve(l, render)))
    });
    let live = !out.no_tui && !out.json && std::io::stdout().is_terminal();
    let report = if live {
        let title = vec![
            format!("wsprobe bench {}", args.connect.url),
            present::count(
                config.own_connections().count() as u64,
                "connection",
                "connections",
            ),
            match &config.call {
                Some(c) => format!("JSON-RPC {}", c.method()),
                None => format!("{} B", config.size),
            },
            match config.rate {
                Some(r) => format!("open loop {r} msg/s"),
                None => format!("window {}", config.window),
            },
        ];
        drop(shutdown);
        tui::bench::run(&config, title, running, handle).await?
    } else {
        tokio::pin!(handle);
        tokio::pin!(shutdown);
        let mut stopping = false;
        loop {
            tokio::select! {
                r = &mut handle => break r?,
                _ = &mut shutdown => {
                    if stopping {
                        handle.abort();
                        anyhow::bail!("{}", crate::signal::SECOND_SIGNAL);
                    }
                    // The first signal stops the run and waits for its report.
                    stopping = true;
                    running.stop();
                    shutdown.set(shutdown_signal());
                }
            }
        }
    };
    if let Some(path) = &args.hdr_out {
        bench::hdr_file::write(path, &report).map_err(anyhow::Error::msg)?;
    }
    finish(&report, out)
}

/// Stops the metrics endpoint with the run.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Prints the report as asked; the exit code says whether it counts a failure.
fn finish(report: &bench::Report, out: &Options) -> anyhow::Result<u8> {
    if out.json {
        println!("{}", serde_json::to_string(&report.to_json())?);
    } else {
        print!("{}", report.text());
    }
    // The text report on a terminal already says why no connection succeeded.
    let said = report.no_connection() && !out.json && std::io::stdout().is_terminal();
    match &report.first_error {
        Some(_) if said => {}
        Some(e) if report.no_connection() => eprintln!("error: no connection succeeded: {e}"),
        Some(e) => eprintln!("error: {e}"),
        None => {}
    }
    Ok(if report.failed() { 1 } else { 0 })
}
