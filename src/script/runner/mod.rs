//! Runs a script's steps against a connection's events. Pure: it is told what
//! happened and when (`NetEvent`s and the clock), and answers with what to do
//! (`Action`s); the headless runner and the dashboard carry those out, each
//! with its own connection, so both run a script the same way.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::expect::Expect;
use super::parse::{resolve, Cmd, Op, Script, Step};
use super::vars::Vars;
use crate::app::slash::{self, SlashCommand};
use crate::net::{CloseCause, CloseInfo, Direction, FrameKind, NetCommand, NetEvent, Rtt, RttKind};
use crate::proto::{Choice, Context, Spoken};

mod steps;
mod waiting;

/// How long the script's own closing handshake at the end may take.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Received messages kept for the `/expect`s to come; the oldest go first.
const MAX_INBOX: usize = 10_000;

/// At most this many copies of a `/repeat` are handed over at a time.
const REPEAT_BURST: usize = 256;

/// What a run needs besides its script.
#[derive(Clone, Debug)]
pub struct Settings {
    /// An `/expect` without `within` waits this long (`--timeout`).
    pub timeout: Duration,
    /// `--protocol`: how `/call`, `/emit`… are encoded, what is housekeeping.
    pub choice: Choice,
    pub ctx: Context,
    /// `--var NAME=VALUE`, over the script's own `/set`.
    pub vars: Vec<(String, String)>,
    /// Reads `${env:NAME}`.
    pub env: fn(&str) -> Option<String>,
}

/// What the runner asks of whoever holds the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Open a connection to this URL (the first, or `/connect`'s).
    Connect(String),
    Send(NetCommand),
    /// A met expectation's request→reply latency, for the RTT figures.
    Record(Rtt),
    /// A step is done: show it.
    Report(Outcome),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// Not run: an earlier step failed, or the run was interrupted.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
        }
    }
}

/// How one step went.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Its line in the file (0: the connection to the URL given on the command line).
    pub line: usize,
    /// The line as written.
    pub text: String,
    pub cmd: Cmd,
    pub status: Status,
    /// When the step ended, from the start of the run.
    pub at: Duration,
    /// How long the step took.
    pub took: Duration,
    /// An expectation's request→reply latency.
    pub latency: Option<Duration>,
    /// What happened, in a few words (`sent text 5 B`, why it failed).
    pub detail: String,
    /// On a failed expectation: what it wanted, and what came instead.
    pub expected: Option<String>,
    pub received: Option<String>,
}

/// Sends remembered for timing their replies.
const UNANSWERED: usize = 1024;

/// A received data message not yet looked at by an `/expect`.
#[derive(Clone, Debug)]
struct Received {
    kind: FrameKind,
    payload: Bytes,
    at: Instant,
    rtt: Option<Rtt>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Link {
    /// No connection asked for yet.
    Idle,
    Connecting,
    Open,
    /// Gone, and how (for the step that finds it gone).
    Closed(String),
}

/// The step under way, waiting for something.
#[derive(Debug)]
enum Active {
    Connect {
        step: Option<usize>,
        since: Instant,
    },
    Expect {
        step: usize,
        want: Expect,
        since: Instant,
        deadline: Instant,
    },
    ExpectClose {
        step: usize,
        code: Option<u16>,
        since: Instant,
        deadline: Instant,
    },
    Wait {
        step: usize,
        since: Instant,
        until: Instant,
    },
    Repeat {
        step: usize,
        since: Instant,
        left: u64,
        interval: Duration,
        next: Instant,
        text: String,
    },
    /// Closing the connection: before `/connect`'s next one (then that URL),
    /// or at the end.
    Closing {
        deadline: Instant,
        then: Option<(usize, String)>,
    },
}

pub struct Runner {
    script: Script,
    settings: Settings,
    /// The URL given besides the file, connected to first.
    url: Option<String>,
    next: usize,
    active: Option<Active>,
    vars: Vars,
    link: Link,
    /// The close frame the peer sent on the current connection.
    peer_close: Option<CloseInfo>,
    inbox: VecDeque<Received>,
    /// The message the last `/expect` matched, for `/capture`.
    matched: Option<Bytes>,
    spoken: Spoken,
    ctx: Context,
    /// When the last message went out: an expectation's latency runs from it
    /// when no earlier send is still unanswered.
    request_at: Option<Instant>,
    /// When the sends not yet answered went out, oldest first (at most
    /// [`UNANSWERED`]): replies come in order, so a reply that waited in the
    /// inbox is timed from its own send, not from a later one.
    unanswered: VecDeque<Instant>,
    /// The last step that sent, to blame a message that was never sent on.
    last_send: Option<usize>,
    started: Instant,
    outcomes: Vec<Outcome>,
    out: Vec<Action>,
    failed: bool,
    interrupted: bool,
    finished: bool,
    /// Whether `/connect` may open connections (the dashboard has its own).
    can_connect: bool,
}

impl Runner {
    /// A run that makes its own connections: to `url` first when given.
    pub fn new(script: Script, settings: Settings, url: Option<String>, now: Instant) -> Runner {
        let vars = Vars::new(&settings.vars);
        Runner {
            spoken: Spoken::new(settings.choice, None),
            ctx: settings.ctx.clone(),
            script,
            settings,
            url,
            next: 0,
            active: None,
            vars,
            link: Link::Idle,
            peer_close: None,
            inbox: VecDeque::new(),
            matched: None,
            request_at: None,
            unanswered: VecDeque::new(),
            last_send: None,
            started: now,
            outcomes: Vec::new(),
            out: Vec::new(),
            failed: false,
            interrupted: false,
            finished: false,
            can_connect: true,
        }
    }

    /// A run on a connection someone else holds (the dashboard's client),
    /// open or not, speaking `spoken`.
    pub fn attached(
        script: Script,
        settings: Settings,
        spoken: Spoken,
        open: bool,
        now: Instant,
    ) -> Runner {
        let mut r = Runner::new(script, settings, None, now);
        r.spoken = spoken;
        r.can_connect = false;
        r.link = match open {
            true => Link::Open,
            false => Link::Closed("not connected".into()),
        };
        r
    }

    /// Starts the run: what to do first.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        match self.url.clone() {
            Some(url) => self.connect(None, url, now),
            None => self.advance(now),
        }
        self.take()
    }

    /// Something happened on the connection at `now`.
    pub fn event(&mut self, ev: &NetEvent, now: Instant) -> Vec<Action> {
        match ev {
            NetEvent::Opened(o) => {
                self.link = Link::Open;
                self.peer_close = None;
                self.inbox.clear();
                self.spoken = Spoken::new(self.settings.choice, o.handshake.subprotocol.as_deref());
                if let Some(Active::Connect { step, since }) = self.active.take() {
                    let detail = format!("connected: {}", o.handshake.status);
                    self.report_connect(step, Status::Pass, detail, since, now);
                }
            }
            NetEvent::Frame(f) if f.kind.is_data() => {
                self.spoken
                    .read(f.dir == Direction::Out, f.kind, &f.payload);
                if f.dir == Direction::In && !self.housekeeping(f.kind, &f.payload, f.rtt.as_ref())
                {
                    // A server that floods what no /expect asks for costs a bounded amount.
                    if self.inbox.len() >= MAX_INBOX {
                        self.inbox.pop_front();
                    }
                    self.inbox.push_back(Received {
                        kind: f.kind,
                        payload: f.payload.clone(),
                        at: now,
                        rtt: f.rtt.clone(),
                    });
                }
            }
            NetEvent::Frame(f) if f.kind == FrameKind::Close && f.dir == Direction::In => {
                self.peer_close = f.close.clone();
            }
            NetEvent::Closed { close, cause, .. } => {
                self.link = Link::Closed(crate::present::ending(
                    crate::net::Side::Client,
                    close.as_ref(),
                    cause,
                ));
                if self.peer_close.is_none() && *cause == CloseCause::Peer {
                    self.peer_close = close.clone();
                }
            }
            NetEvent::Error { message, .. } => {
                if let Some(Active::Connect { step, since }) = self.active.take() {
                    self.link = Link::Closed(message.clone());
                    self.report_connect(
                        step,
                        Status::Fail,
                        format!("cannot connect: {message}"),
                        since,
                        now,
                    );
                }
            }
            NetEvent::NotSent { reason, .. } => {
                if let Some(i) = self.last_send {
                    let step = self.script.steps[i].clone();
                    self.finish_step(&step, Status::Fail, format!("not sent: {reason}"), now, now);
                }
            }
            _ => {}
        }
        self.progress(now);
        self.take()
    }

    /// The clock moved on to `now`: deadlines that passed.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        self.progress(now);
        self.take()
    }

    /// When the runner wants to be woken if nothing happens before.
    pub fn deadline(&self) -> Option<Instant> {
        match self.active.as_ref()? {
            Active::Expect { deadline, .. }
            | Active::ExpectClose { deadline, .. }
            | Active::Closing { deadline, .. } => Some(*deadline),
            Active::Wait { until, .. } => Some(*until),
            Active::Repeat { next, .. } => Some(*next),
            Active::Connect { .. } => None,
        }
    }

    /// Ctrl-C: the step under way fails as interrupted, the rest are skipped.
    pub fn interrupt(&mut self, now: Instant) -> Vec<Action> {
        if self.finished {
            return Vec::new();
        }
        self.interrupted = true;
        match self.active.take() {
            Some(Active::Connect { step, since }) => {
                self.report_connect(step, Status::Fail, "interrupted".into(), since, now)
            }
            Some(
                Active::Expect { step, since, .. }
                | Active::ExpectClose { step, since, .. }
                | Active::Wait { step, since, .. }
                | Active::Repeat { step, since, .. },
            ) => {
                let s = self.script.steps[step].clone();
                self.finish_step(&s, Status::Fail, "interrupted".into(), since, now);
            }
            _ => {}
        }
        self.skip_rest(now);
        self.finished = true;
        if self.link == Link::Open {
            self.out
                .push(Action::Send(NetCommand::Close(Some(CloseInfo::new(
                    1000, "",
                )))));
        }
        self.take()
    }

    /// Every step has ended (or been skipped), and the connection with them.
    pub fn done(&self) -> bool {
        self.finished
    }

    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    pub fn file(&self) -> &str {
        &self.script.file
    }

    /// Since the run started.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    /// Messages a protocol exchanged by itself: engine.io's open packet and
    /// pings, the reply to a greeting. An `/expect` looks past them.
    fn housekeeping(&self, kind: FrameKind, payload: &[u8], rtt: Option<&Rtt>) -> bool {
        if rtt.is_some_and(|r| r.kind == RttKind::Setup) {
            return true;
        }
        self.spoken.protocol.is_some_and(|p| {
            p.codec()
                .answer(kind == FrameKind::Text, payload, &self.ctx)
                .is_some()
        })
    }

    /// Moves the step under way on, then starts steps until one waits.
    fn progress(&mut self, now: Instant) {
        self.check_active(now);
        if self.active.is_none() && !self.finished {
            self.advance(now);
        }
    }

    fn link_text(&self) -> String {
        match &self.link {
            Link::Closed(how) => how.clone(),
            Link::Connecting => "still connecting".into(),
            Link::Idle => "no connection yet".into(),
            Link::Open => "open".into(),
        }
    }

    fn report_connect(
        &mut self,
        step: Option<usize>,
        status: Status,
        detail: String,
        since: Instant,
        now: Instant,
    ) {
        let s = match step {
            Some(i) => self.script.steps[i].clone(),
            None => Step {
                line: 0,
                text: format!("/connect {}", self.url.clone().unwrap_or_default()),
                cmd: Cmd::Connect,
                args_at: 9,
            },
        };
        self.finish(&s, status, detail, since, now, None, None, None);
    }

    fn finish_step(
        &mut self,
        s: &Step,
        status: Status,
        detail: String,
        since: Instant,
        now: Instant,
    ) {
        self.finish(s, status, detail, since, now, None, None, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        s: &Step,
        status: Status,
        detail: String,
        since: Instant,
        now: Instant,
        latency: Option<Duration>,
        expected: Option<String>,
        received: Option<String>,
    ) {
        if status == Status::Fail {
            self.failed = true;
        }
        let outcome = Outcome {
            line: s.line,
            text: s.text.clone(),
            cmd: s.cmd,
            status,
            at: now.saturating_duration_since(self.started),
            took: now.saturating_duration_since(since),
            latency,
            detail,
            expected,
            received,
        };
        self.outcomes.push(outcome.clone());
        self.out.push(Action::Report(outcome));
    }
}
