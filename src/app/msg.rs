//! What can happen to the dashboard (Msg) and what it asks the outside world to do
//! in return (Effect).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::net::relay::steer::Command as SteerCommand;
use crate::net::{ConnId, CounterSnapshot, NetCommand, NetEvent, Side};

#[derive(Debug)]
pub enum Msg {
    Action(Action),
    /// Bracketed paste: inserted whole into the input that has focus.
    Paste(String),
    Net(Side, NetEvent),
    /// The clock moved; rates and ages are recomputed.
    Tick {
        now: Instant,
        wall: DateTime<Utc>,
    },
    /// The terminal changed size: just redraw.
    Redraw,
    /// The connections' counters as the network keeps them, sampled by the
    /// loop (the screen only shows them: it never counts frames itself).
    Counts {
        conns: Vec<(Side, ConnId, CounterSnapshot)>,
        /// Frames the server's connections could not hand to the screen.
        not_shown: u64,
    },
    /// The screen was drawn; the next draw keeps each frame log's window
    /// where this one left it, so scrolling is steady.
    Drawn(Drawn),
    /// What the relay said of a steering command: done, or why not.
    Steered(Result<String, String>),
    /// What a script run from the client's input box (`/run`) says.
    Script(ScriptNote),
}

/// A script's progress, as plain words for the client's pane.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptNote {
    /// A step ended: one line (time, result, line number, what happened).
    Step { line: String, failed: bool },
    /// A met expectation's latency, for the RTT panel.
    Latency(crate::net::Rtt),
    /// The run is over: its verdict, or why it could not start.
    Ended { summary: String, failed: bool },
}

/// What a draw worked out that the state keeps: the first row shown of each
/// frame log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drawn {
    pub client_top: Option<usize>,
    pub server_top: Option<usize>,
}

/// Editing keys for whichever one-line editor has focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    Char(char),
    Newline,
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    WordBack,
    ToStart,
    HistoryPrev,
    HistoryNext,
}

/// What a key means, once the key map has looked at where the focus is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    FocusNext,
    FocusPrev,
    FocusInput,
    /// Leave the input box (Esc) or cancel filter editing.
    Escape,
    Edit(Edit),
    Submit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    ScrollUp(u16),
    ScrollDown(u16),
    TogglePause,
    OpenDetail,
    ClosePopup,
    ToggleHelp,
    /// Client: the connection timeline (connects, drops, retries).
    ShowTimeline,
    /// Server: connections, errors and handshakes given up, newest first.
    ShowEvents,
    CycleDirFilter,
    StartFilter,
    ClearLog,
    /// Server: show frames of all connections or only the selected one.
    ToggleScope,
    /// The logs: messages, or every frame as it crossed the wire.
    ToggleWire,
    /// The logs: messages decoded by their protocol, or their raw payloads.
    ToggleDecoded,
    /// Server: input goes to the selected connection or to all.
    ToggleSendAll,
    /// Server: close the selected connection with 1000.
    CloseSelected,
    ShowHandshake,
    /// Server: switch the `--delay` fault off or back on.
    ToggleDelay,
    /// Server: switch the `--drop` fault off or back on.
    ToggleDrop,
}

/// Which connection a command goes to. The loop that carries out effects
/// holds the connections' command queues; the state only names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The client's connection (its queue outlives a drop under --reconnect).
    Client,
    /// One of the server's connections.
    Server(ConnId),
    /// One leg of a relayed pair: to its client, or to its upstream server.
    Leg(Side, ConnId),
}

/// Work for the event loop: the only way `update` reaches the network or disk.
/// Plain data: what to do and to which connection, never the means.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "an effect does nothing until the loop carries it out"]
pub enum Effect {
    Send {
        to: Target,
        cmd: NetCommand,
    },
    Repeat {
        to: Target,
        count: u64,
        interval: Duration,
        text: String,
    },
    SaveHistory(String),
    /// Server faults switched at run time: whether each is on now.
    SetFaults {
        delay_on: bool,
        drop_on: bool,
    },
    /// A relay's steering: hold, pass on, drop, fault.
    Steer(SteerCommand),
    /// `/run FILE`: load the script and run it on the client's connection.
    RunScript(String),
}
