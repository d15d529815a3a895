//! What can happen to the dashboard (Msg) and what it asks the outside world to do
//! in return (Effect).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::net::{NetCommand, NetEvent};

/// Which half of the screen a thing belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pane {
    Client,
    Server,
}

#[derive(Debug)]
pub enum Msg {
    Action(Action),
    /// Bracketed paste: inserted whole into the input that has focus.
    Paste(String),
    Net(Pane, NetEvent),
    /// The clock moved; rates and ages are recomputed.
    Tick {
        now: Instant,
        wall: DateTime<Utc>,
    },
    /// The terminal changed size: just redraw.
    Redraw,
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

/// Work for the event loop: the only way `update` reaches the network or disk.
#[derive(Debug)]
pub enum Effect {
    Send {
        to: mpsc::Sender<NetCommand>,
        cmd: NetCommand,
    },
    Repeat {
        to: mpsc::Sender<NetCommand>,
        count: u64,
        interval: Duration,
        text: String,
    },
    SaveHistory(String),
    /// Server faults switched at run time.
    ToggleDelay(std::sync::Arc<crate::net::server::faults::Switches>),
    ToggleDrop(std::sync::Arc<crate::net::server::faults::Switches>),
}
