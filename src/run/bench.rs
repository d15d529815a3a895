//! `wsprobe bench URL`: the load/echo tester, with its live view or a report.

use std::io::IsTerminal;

use crate::cli::{BenchArgs, ProtocolArgs};
use crate::config::Options;
use crate::error::UsageError;
use crate::present;
use crate::proto::Choice;
use crate::signal::shutdown_signal;
use crate::{bench, tui};
use clap::ValueEnum;
use std::sync::Arc;

use super::client::client_options;

pub async fn run(args: BenchArgs, out: &Options) -> anyhow::Result<u8> {
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
    };
    config.validate().map_err(UsageError)?;
    let live = !out.no_tui && !out.json && std::io::stdout().is_terminal();
    let report = if live {
        let title = vec![
            format!("wsprobe bench {}", args.connect.url),
            present::count(config.connections as u64, "connection", "connections"),
            match &config.call {
                Some(c) => format!("JSON-RPC {}", c.method()),
                None => format!("{} B", config.size),
            },
            match config.rate {
                Some(r) => format!("open loop {r} msg/s"),
                None => format!("window {}", config.window),
            },
        ];
        tui::bench::run(&config, title).await?
    } else {
        let (running, handle) = bench::start(&config);
        tokio::pin!(handle);
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                r = &mut handle => break r?,
                _ = &mut shutdown => running.stop(),
            }
        }
    };
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
