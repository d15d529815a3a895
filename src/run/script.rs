//! `wsprobe run FILE [URL]` and `wsprobe client URL --script FILE`: a script
//! checked line by line, then run headless against the server.

use std::path::Path;
use std::time::Instant;

use tokio_tungstenite::tungstenite::http::Uri;

use super::client::{client_options, speaker, speech};
use crate::cli::{parse_client_url, ClientArgs, ConnectFlags, ProtocolArgs, RunArgs, ScriptArgs};
use crate::config::Options;
use crate::error::UsageError;
use crate::headless::script::{Junit, ScriptRun};
use crate::net::client::{ClientOptions, SessionOptions};
use crate::script::{process_env, Checks, Runner, Settings};
use crate::signal::shutdown_signal;

pub async fn run(args: RunArgs, out: &Options) -> anyhow::Result<u8> {
    check(
        &args.file,
        args.url.as_ref(),
        &args.script,
        &args.connect,
        &args.protocol,
        out,
    )
    .await
}

/// `client URL --script FILE`: the same run, the URL first.
pub async fn run_client(
    args: ClientArgs,
    file: std::path::PathBuf,
    out: &Options,
) -> anyhow::Result<u8> {
    check(
        &file,
        Some(&args.connect.url),
        &args.script_args,
        &args.connect.flags,
        &args.protocol,
        out,
    )
    .await
}

/// A script's flags mean nothing without a script.
pub fn refuse_without_script(s: &ScriptArgs) -> Result<(), UsageError> {
    match (&s.junit, s.vars.is_empty()) {
        (Some(_), _) => Err(UsageError("--junit goes with --script FILE".into())),
        (None, false) => Err(UsageError("--var goes with --script FILE".into())),
        _ => Ok(()),
    }
}

async fn check(
    file: &Path,
    url: Option<&Uri>,
    s: &ScriptArgs,
    connect: &ConnectFlags,
    protocol: &ProtocolArgs,
    out: &Options,
) -> anyhow::Result<u8> {
    let checks = Checks {
        choice: protocol.protocol,
        vars: &s.vars,
        env: &process_env,
        has_url: url.is_some(),
    };
    let script = match crate::script::load(file, &checks) {
        Ok(script) => script,
        Err(refused) => {
            eprintln!("{}", refused.text());
            if let Some(path) = &s.junit {
                if let Err(e) = std::fs::write(path, refused.junit()) {
                    eprintln!("error: cannot write --junit {}: {e}", path.display());
                }
            }
            if out.json {
                for line in refused.json() {
                    println!("{line}");
                }
            }
            return Ok(2);
        }
    };
    // A bad URL or flag is the command line's problem: found before connecting.
    if let Some(u) = url {
        client_options(u, connect, protocol)?;
    }
    let junit = match &s.junit {
        Some(path) => Some(Junit::create(path).map_err(UsageError)?),
        None => None,
    };
    let (flags, proto) = (connect.clone(), protocol.clone());
    let options = move |u: &str| -> Result<ClientOptions, String> {
        let uri = parse_client_url(u)?;
        client_options(&uri, &flags, &proto).map_err(|e| e.0)
    };
    let session = SessionOptions {
        echo_prefix: connect.echo_prefix.clone(),
        speaker: speaker(protocol),
        ..SessionOptions::default()
    };
    let settings = Settings {
        timeout: s.timeout,
        choice: protocol.protocol,
        ctx: speech(protocol).ctx,
        vars: s.vars.clone(),
        env: process_env,
    };
    let runner = Runner::new(script, settings, url.map(Uri::to_string), Instant::now());
    crate::headless::script::run(
        ScriptRun {
            runner,
            options: Box::new(options),
            session,
            format: out.format(),
            quiet: out.quiet,
            junit,
        },
        shutdown_signal(),
    )
    .await
}
