//! A script run without a terminal: the runner's actions carried out on client
//! connections (one per `/connect`), a line (or JSON object) per step, and the
//! result as an exit code, the same whether it passed, failed or was stopped.

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::output::Format;
use crate::net::client::{self, ClientOptions, SessionOptions};
use crate::net::inbox::{Outbox, Permit};
use crate::net::{NetCommand, NetEvent};
use crate::present::ClientTotals;
use crate::script::report;
use crate::script::{Action, Outcome, Runner, EXIT_INTERRUPTED};

/// How long a connection left behind (the run over, or `/connect` moving on)
/// may take to close before it is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// `--junit FILE`: made when the run starts (a path that cannot be written is
/// a usage error before anything is sent), written when it ends.
pub struct Junit {
    path: PathBuf,
}

impl Junit {
    pub fn create(path: &Path) -> Result<Junit, String> {
        std::fs::File::create(path)
            .map_err(|e| format!("cannot write --junit {}: {e}", path.display()))?;
        Ok(Junit {
            path: path.to_path_buf(),
        })
    }
}

/// Makes the options to connect to a URL with (the command line's, or `/connect`'s).
pub type Options = Box<dyn Fn(&str) -> Result<ClientOptions, String> + Send>;

pub struct ScriptRun {
    pub runner: Runner,
    pub options: Options,
    pub session: SessionOptions,
    pub format: Format,
    /// Only failures and the summary.
    pub quiet: bool,
    pub junit: Option<Junit>,
}

/// One connection of the run.
struct Link {
    commands: Outbox<NetCommand>,
    events: mpsc::Receiver<NetEvent>,
    task: JoinHandle<()>,
}

/// Runs the script to its end (or until `shutdown`); the exit code: 0 every
/// step passed, 1 one failed, 130 interrupted.
pub async fn run(mut r: ScriptRun, shutdown: impl Future<Output = ()>) -> anyhow::Result<u8> {
    let started = Instant::now();
    let wall = chrono::Utc::now();
    let mut totals = ClientTotals::default();
    let mut link: Option<Link> = None;
    let mut next_conn = 1;
    // Commands wait here for room in the connection's queue, so its events
    // are drained meanwhile (it may be waiting for us to take them).
    let mut outgoing: VecDeque<NetCommand> = VecDeque::new();
    let mut actions = r.runner.start(Instant::now());
    tokio::pin!(shutdown);
    loop {
        // What the runner says while its actions are carried out (a URL it
        // cannot connect to) comes next.
        let mut later = Vec::new();
        for action in actions.drain(..) {
            match action {
                Action::Connect(url) => {
                    if let Some(old) = link.take() {
                        leave(old).await;
                    }
                    outgoing.clear();
                    match (r.options)(&url) {
                        Ok(opts) => {
                            let (tx, events) = mpsc::channel(1024);
                            let (commands, task) = client::supervise(
                                Some(opts),
                                None,
                                next_conn,
                                r.session.clone(),
                                tx,
                            );
                            next_conn += 1;
                            link = Some(Link {
                                commands,
                                events,
                                task,
                            });
                        }
                        Err(message) => {
                            let ev = NetEvent::Error {
                                conn: None,
                                ts: chrono::Utc::now(),
                                message,
                            };
                            later.extend(r.runner.event(&ev, Instant::now()));
                        }
                    }
                }
                Action::Send(cmd) => outgoing.push_back(cmd),
                Action::Record(rtt) => totals.rtt.record(rtt),
                Action::Report(o) => say(&r, &o),
            }
        }
        if !later.is_empty() {
            actions = later;
            continue;
        }
        if r.runner.done() {
            break;
        }
        let deadline = r.runner.deadline();
        let queue = link.as_ref().map(|l| l.commands.clone());
        tokio::select! {
            ev = next_event(&mut link) => match ev {
                Some(ev) => {
                    totals.event(&ev);
                    actions = r.runner.event(&ev, Instant::now());
                }
                // The connection's task ended: nothing more will come from it.
                None => {
                    link = None;
                    actions = r.runner.tick(Instant::now());
                }
            },
            permit = reserve(&queue), if !outgoing.is_empty() && queue.is_some() => {
                match permit {
                    Some(permit) => permit.send(outgoing.pop_front().expect("guarded")),
                    None => outgoing.clear(),
                }
            }
            _ = async { tokio::time::sleep_until(deadline.expect("guarded").into()).await }, if deadline.is_some() => {
                actions = r.runner.tick(Instant::now());
            }
            _ = &mut shutdown, if !r.runner.interrupted() => {
                actions = r.runner.interrupt(Instant::now());
            }
        }
    }
    if let Some(old) = link.take() {
        for cmd in outgoing.drain(..) {
            let _ = old.commands.try_send(cmd);
        }
        leave(old).await;
    }
    finish(&r, &totals, started, wall)
}

async fn next_event(link: &mut Option<Link>) -> Option<NetEvent> {
    match link {
        Some(l) => l.events.recv().await,
        None => std::future::pending().await,
    }
}

async fn reserve(queue: &Option<Outbox<NetCommand>>) -> Option<Permit<'_, NetCommand>> {
    queue.as_ref()?.reserve().await.ok()
}

/// Lets a connection go: its queue closed, the session closes politely;
/// one that does not finish in time is dropped.
async fn leave(link: Link) {
    let Link {
        commands,
        mut events,
        mut task,
    } = link;
    drop(commands);
    let drained = async { while events.recv().await.is_some() {} };
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        drained.await;
        let _ = (&mut task).await;
    })
    .await;
    task.abort();
}

/// A step, as asked: a line (or lines), or a JSON object.
fn say(r: &ScriptRun, o: &Outcome) {
    let mut out = std::io::stdout().lock();
    match r.format {
        Format::Json => {
            let _ = writeln!(out, "{}", report::json_step(r.runner.file(), o));
        }
        Format::Human => {
            if r.quiet && o.status != crate::script::Status::Fail {
                return;
            }
            for line in report::human(r.runner.file(), o) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    let _ = out.flush();
}

/// The summary, the JUnit file, and the exit code.
fn finish(
    r: &ScriptRun,
    totals: &ClientTotals,
    started: Instant,
    wall: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<u8> {
    let elapsed = started.elapsed();
    let runner = &r.runner;
    let mut code = match (runner.interrupted(), runner.failed()) {
        (true, _) => EXIT_INTERRUPTED,
        (false, true) => 1,
        (false, false) => 0,
    };
    if let Some(j) = &r.junit {
        let xml = report::junit(
            runner.file(),
            runner.outcomes(),
            elapsed,
            runner.interrupted(),
            wall,
        );
        if let Err(e) = std::fs::write(&j.path, xml) {
            eprintln!("error: cannot write --junit {}: {e}", j.path.display());
            code = code.max(1);
        }
    }
    let mut out = std::io::stdout().lock();
    match r.format {
        Format::Json => {
            let line = report::json_summary(
                runner.file(),
                runner.outcomes(),
                elapsed,
                code,
                runner.interrupted(),
                totals,
            );
            let _ = writeln!(out, "{line}");
        }
        Format::Human => {
            if !r.quiet {
                // Expectations are timed as replies besides any echo's round
                // trip, so the pipe's "matched" count would count some twice.
                let _ = writeln!(
                    out,
                    "sent {} received {} in {}",
                    totals.sent,
                    totals.received,
                    crate::present::format_duration(elapsed)
                );
                for line in totals.human(elapsed).iter().skip(1) {
                    let _ = writeln!(out, "{line}");
                }
            }
            let _ = writeln!(
                out,
                "{}",
                report::human_summary(
                    runner.file(),
                    runner.outcomes(),
                    elapsed,
                    runner.interrupted()
                )
            );
        }
    }
    let _ = out.flush();
    Ok(code)
}
