//! `update`: the only writer of [`AppState`]. No I/O: what needs the network or
//! the disk comes back as [`Effect`]s for the event loop to carry out.

use std::time::Instant;

use super::command::{self, Command};
use super::input::InputBox;
use super::msg::{Action, Edit, Effect, Msg, Target};
use super::state::{
    AppState, ClientPane, ClosedRow, ConnRow, Focus, LinkState, Popup, Rates, RttPoint, Sample,
    ServerPane, CLOSED_ROW_TTL, MAX_ROWS, RATE_HISTORY, RTT_POINTS,
};
use crate::escape::escape_text;
use crate::net::Side;
use crate::net::{CloseCause, CloseInfo, ConnId, CounterSnapshot, FrameKind, NetCommand, NetEvent};

/// Rows PageUp/PageDown move.
const PAGE: isize = 10;
/// How often rates are recomputed.
const RATE_PERIOD: std::time::Duration = std::time::Duration::from_millis(950);

#[must_use = "the effects are the loop's to carry out"]
pub fn update(state: &mut AppState, msg: Msg) -> Vec<Effect> {
    let mut effects = Vec::new();
    match msg {
        Msg::Action(a) => action(state, a, &mut effects),
        Msg::Paste(text) => {
            if let Some(edit) = editor(state) {
                edit.insert_str(&text);
            }
        }
        Msg::Net(pane, ev) => net(state, pane, ev),
        Msg::Tick { now, wall } => tick(state, now, wall),
        Msg::Redraw => {}
        Msg::Counts { conns, not_shown } => {
            if counts(state, conns, not_shown) {
                state.dirty = true;
            }
            return effects;
        }
        Msg::Drawn(drawn) => {
            if let (Some(c), Some(top)) = (state.client.as_mut(), drawn.client_top) {
                c.log.top = top;
            }
            if let (Some(s), Some(top)) = (state.server.as_mut(), drawn.server_top) {
                s.log.top = top;
            }
            state.dirty = false;
            return effects;
        }
    }
    state.dirty = true;
    effects
}

/// The editor that typed keys go to: the filter being edited, or a focused input box.
fn editor(state: &mut AppState) -> Option<&mut InputBox> {
    if state.filter_edit.is_some() {
        return state.filter_edit.as_mut();
    }
    match state.focus {
        Focus::ClientInput => state.client.as_mut().map(|c| &mut c.input),
        Focus::ServerInput => state.server.as_mut().map(|s| &mut s.input),
        _ => None,
    }
}

fn action(state: &mut AppState, a: Action, fx: &mut Vec<Effect>) {
    if let Some(popup) = &mut state.popup {
        match a {
            Action::Quit => state.should_quit = true,
            Action::ClosePopup | Action::Escape | Action::OpenDetail => state.popup = None,
            Action::ToggleHelp => {
                state.popup = match popup {
                    Popup::Help { .. } => None,
                    _ => Some(Popup::Help { scroll: 0 }),
                }
            }
            Action::Up | Action::ScrollUp(_) | Action::PageUp | Action::Top => {
                let by = match a {
                    Action::Up => 1,
                    Action::ScrollUp(n) => n,
                    Action::PageUp => PAGE as u16,
                    _ => u16::MAX,
                };
                let s = popup_scroll(popup);
                *s = s.saturating_sub(by);
            }
            Action::Down | Action::ScrollDown(_) | Action::PageDown => {
                let by = match a {
                    Action::Down => 1,
                    Action::ScrollDown(n) => n,
                    _ => PAGE as u16,
                };
                let s = popup_scroll(popup);
                *s = s.saturating_add(by);
            }
            _ => {}
        }
        return;
    }
    match a {
        Action::Quit => state.should_quit = true,
        Action::FocusNext | Action::FocusPrev => {
            let order = state.focus_order();
            let i = order.iter().position(|f| *f == state.focus).unwrap_or(0);
            let n = order.len();
            let next = if a == Action::FocusNext {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            state.focus = order[next];
            state.filter_edit = None;
        }
        Action::FocusInput => {
            state.focus = match state.focus.pane() {
                Side::Client => Focus::ClientInput,
                Side::Server => Focus::ServerInput,
            }
        }
        Action::Escape => {
            if state.filter_edit.take().is_some() {
                state.filter_error = None;
            } else {
                state.focus = match state.focus {
                    Focus::ClientInput => Focus::ClientLog,
                    Focus::ServerInput => Focus::ServerLog,
                    f => f,
                };
            }
        }
        Action::Edit(e) => {
            if let Some(ed) = editor(state) {
                apply_edit(ed, e);
            }
            if let Some(c) = state.client.as_mut() {
                c.input_error = None;
            }
            if let Some(s) = state.server.as_mut() {
                s.input_error = None;
            }
        }
        Action::Submit => submit(state, fx),
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::ScrollUp(_)
        | Action::ScrollDown(_) => {
            let delta = match a {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -PAGE,
                Action::PageDown => PAGE,
                Action::ScrollUp(n) => -(n as isize),
                Action::ScrollDown(n) => n as isize,
                _ => 0,
            };
            if state.focus == Focus::ServerConns && matches!(a, Action::Up | Action::Down) {
                select_conn(state, delta);
            } else if let Some(log) = state.log_mut(state.focus.pane()) {
                log.move_by(delta);
            }
        }
        Action::Top => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.top_of_log();
            }
        }
        Action::Bottom => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.bottom();
            }
        }
        Action::TogglePause => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.toggle_pause();
            }
        }
        Action::OpenDetail => {
            let pane = state.focus.pane();
            if let Some(seq) = state.log(pane).and_then(|l| l.selected_seq()) {
                state.popup = Some(Popup::Detail {
                    pane,
                    seq,
                    scroll: 0,
                });
            }
        }
        Action::ClosePopup => {}
        Action::ToggleHelp => state.popup = Some(Popup::Help { scroll: 0 }),
        Action::CycleDirFilter => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.filter.dir = log.filter.dir.next();
            }
        }
        Action::StartFilter => {
            let current = state
                .log(state.focus.pane())
                .and_then(|l| {
                    l.filter
                        .regex
                        .as_ref()
                        .map(|r| r.as_str().trim_start_matches("(?i)").to_string())
                })
                .unwrap_or_default();
            let mut ed = InputBox::default();
            ed.insert_str(&current);
            state.filter_edit = Some(ed);
            state.filter_error = None;
        }
        Action::ClearLog => {
            if let Some(log) = state.log_mut(state.focus.pane()) {
                log.clear();
            }
        }
        Action::ToggleScope => {
            if let Some(s) = state.server.as_mut() {
                s.scope_selected = !s.scope_selected;
                s.log.filter.conn = if s.scope_selected { s.selected } else { None };
            }
        }
        Action::ToggleSendAll => {
            if let Some(s) = state.server.as_mut() {
                s.send_to_all = !s.send_to_all;
            }
        }
        Action::CloseSelected => {
            if let Some(row) = state
                .server
                .as_ref()
                .and_then(|s| s.selected_row())
                .filter(|r| r.is_open())
            {
                fx.push(Effect::Send {
                    to: Target::Server(row.id),
                    cmd: NetCommand::Close(Some(CloseInfo::new(1000, ""))),
                });
            }
        }
        Action::ToggleDelay | Action::ToggleDrop => {
            if let Some(f) = state.server.as_mut().and_then(|s| s.faults.as_mut()) {
                if a == Action::ToggleDelay {
                    f.delay_on = !f.delay_on;
                } else {
                    f.drop_on = !f.drop_on;
                }
                fx.push(Effect::SetFaults {
                    delay_on: f.delay_on,
                    drop_on: f.drop_on,
                });
            }
        }
        Action::ShowTimeline => {
            if state.client.is_some() {
                state.popup = Some(Popup::Timeline { scroll: 0 });
            }
        }
        Action::ShowEvents => {
            if state.server.is_some() {
                state.popup = Some(Popup::Events { scroll: 0 });
            }
        }
        Action::ShowHandshake => {
            let pane = state.focus.pane();
            let conn = match pane {
                Side::Client => state.client.as_ref().and_then(|c| c.conn),
                Side::Server => state.server.as_ref().and_then(|s| s.selected),
            };
            state.popup = Some(Popup::Handshake {
                pane,
                conn,
                scroll: 0,
            });
        }
    }
}

fn popup_scroll(p: &mut Popup) -> &mut u16 {
    match p {
        Popup::Help { scroll }
        | Popup::Detail { scroll, .. }
        | Popup::Handshake { scroll, .. }
        | Popup::Timeline { scroll }
        | Popup::Events { scroll } => scroll,
    }
}

fn apply_edit(ed: &mut InputBox, e: Edit) {
    match e {
        Edit::Char(c) => ed.insert_char(c),
        Edit::Newline => ed.insert_char('\n'),
        Edit::Backspace => ed.backspace(),
        Edit::Delete => ed.delete(),
        Edit::Left => ed.left(),
        Edit::Right => ed.right(),
        Edit::Home => ed.home(),
        Edit::End => ed.end(),
        Edit::WordBack => ed.delete_word_back(),
        Edit::ToStart => ed.delete_to_start(),
        Edit::HistoryPrev => ed.history_prev(),
        Edit::HistoryNext => ed.history_next(),
    }
}

fn select_conn(state: &mut AppState, delta: isize) {
    let Some(s) = state.server.as_mut() else {
        return;
    };
    if s.rows.is_empty() {
        return;
    }
    let last = s.rows.len() as isize - 1;
    let cur = s
        .selected_index()
        .map(|i| i as isize)
        .unwrap_or(if delta > 0 { -1 } else { last + 1 });
    let next = (cur + delta).clamp(0, last) as usize;
    s.selected = Some(s.rows[next].id);
    if s.scope_selected {
        s.log.filter.conn = s.selected;
    }
}

fn submit(state: &mut AppState, fx: &mut Vec<Effect>) {
    if let Some(mut ed) = state.filter_edit.take() {
        let pattern = ed.submit();
        let pane = state.focus.pane();
        let result = if pattern.is_empty() {
            Ok(None)
        } else {
            regex::RegexBuilder::new(&pattern)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map(Some)
        };
        match result {
            Ok(re) => {
                if let Some(log) = state.log_mut(pane) {
                    log.filter.regex = re;
                }
                state.filter_error = None;
            }
            Err(e) => {
                state.filter_error = Some(format!(
                    "bad regex: {}",
                    e.to_string().lines().last().unwrap_or("")
                ));
                state.filter_edit = Some(ed);
                state
                    .filter_edit
                    .as_mut()
                    .expect("just set")
                    .insert_str(&pattern);
            }
        }
        return;
    }
    if state.read_only && matches!(state.focus, Focus::ClientInput | Focus::ServerInput) {
        let note = Some("a replay is read-only: nothing is sent".to_string());
        if let Some(c) = state
            .client
            .as_mut()
            .filter(|_| state.focus == Focus::ClientInput)
        {
            c.input_error = note;
        } else if let Some(s) = state.server.as_mut() {
            s.input_error = note;
        }
        return;
    }
    match state.focus {
        Focus::ClientInput => {
            if let Some(c) = state.client.as_mut() {
                submit_client(c, fx, &mut state.popup);
            }
        }
        Focus::ServerInput => {
            if let Some(s) = state.server.as_mut() {
                submit_server(s, fx, &mut state.popup);
            }
        }
        _ => action(state, Action::OpenDetail, fx),
    }
}

/// Turns a parsed command into the network command(s) for one connection.
fn command_effects(cmd: Command, to: Target, fx: &mut Vec<Effect>) {
    let net = match cmd {
        Command::Text(t) => NetCommand::Text(t),
        Command::Binary(b) => NetCommand::Binary(b),
        Command::Ping(p) => NetCommand::Ping(p),
        Command::Close { code, reason } => NetCommand::Close(Some(CloseInfo::new(code, reason))),
        Command::Repeat {
            count,
            interval,
            text,
        } => {
            fx.push(Effect::Repeat {
                to,
                count,
                interval,
                text,
            });
            return;
        }
        Command::Help => return,
    };
    fx.push(Effect::Send { to, cmd: net });
}

/// Parses what was typed: `None` when it was `/help` (shown here) or wrong (the
/// error goes under the box and the text stays for fixing).
fn parse_typed(
    input: &mut InputBox,
    error: &mut Option<String>,
    popup: &mut Option<Popup>,
) -> Option<Command> {
    match command::parse(input.text()) {
        Ok(Command::Help) => {
            input.submit();
            *popup = Some(Popup::Help { scroll: 0 });
            None
        }
        Ok(cmd) => Some(cmd),
        Err(e) => {
            *error = Some(e);
            None
        }
    }
}

fn submit_client(c: &mut ClientPane, fx: &mut Vec<Effect>, popup: &mut Option<Popup>) {
    let Some(cmd) = parse_typed(&mut c.input, &mut c.input_error, popup) else {
        return;
    };
    // While --reconnect waits, the queue outlives the connection: what is sent
    // now goes out after the next connect and its init messages.
    let waiting = matches!(c.state, LinkState::Waiting { .. });
    if c.state != LinkState::Open && !waiting {
        c.input_error = Some("not connected: nothing can be sent".into());
        return;
    }
    if let (true, Command::Close { code, reason }) = (waiting, &cmd) {
        // Closing while disconnected ends the retries; no close frame can say so.
        c.state = LinkState::Closed {
            close: Some(CloseInfo::new(*code, reason.clone())),
            cause: CloseCause::Local,
        };
    }
    let line = c.input.submit();
    fx.push(Effect::SaveHistory(line));
    command_effects(cmd, Target::Client, fx);
    c.log.bottom();
}

fn submit_server(s: &mut ServerPane, fx: &mut Vec<Effect>, popup: &mut Option<Popup>) {
    let Some(cmd) = parse_typed(&mut s.input, &mut s.input_error, popup) else {
        return;
    };
    let targets: Vec<_> = if s.send_to_all {
        s.rows
            .iter()
            .filter(|r| r.is_open())
            .map(|r| Target::Server(r.id))
            .collect()
    } else {
        s.selected_row()
            .filter(|r| r.is_open())
            .map(|r| Target::Server(r.id))
            .into_iter()
            .collect()
    };
    if targets.is_empty() {
        s.input_error = Some(if s.send_to_all {
            "no open connection to send to".into()
        } else {
            "select an open connection first (Tab to the table, ↑/↓), or Ctrl-A to send to all"
                .into()
        });
        return;
    }
    let line = s.input.submit();
    fx.push(Effect::SaveHistory(line));
    for to in targets {
        command_effects(cmd.clone(), to, fx);
    }
}

fn net(state: &mut AppState, pane: Side, ev: NetEvent) {
    match pane {
        Side::Client => {
            if let Some(c) = state.client.as_mut() {
                client_event(c, ev, state.now);
            }
        }
        Side::Server => {
            if let Some(s) = state.server.as_mut() {
                server_event(s, ev, state.now);
            }
        }
    }
}

fn client_event(c: &mut ClientPane, ev: NetEvent, now: Instant) {
    c.totals.event(&ev);
    match ev {
        NetEvent::Opened(o) => {
            let to = match o.handshake.proxy.as_deref() {
                Some(p) => format!("via {p}"),
                None => format!("to {}", o.peer),
            };
            c.note(
                o.ts,
                format!(
                    "#{} connected {to}: {}",
                    o.conn,
                    escape_text(&o.handshake.status, 60)
                ),
                false,
            );
            c.state = LinkState::Open;
            c.conn = Some(o.conn);
            c.peer = Some(o.peer);
            c.handshake = Some(o.handshake.clone());
            c.opened_at = Some(now);
            c.closed_at = None;
            c.earlier += c.counts;
            c.counts = CounterSnapshot::default();
            c.sample = None;
        }
        NetEvent::Frame(f) => {
            if let Some(rtt) = f.rtt {
                if c.rtt_points.len() >= RTT_POINTS * 2 {
                    c.rtt_points.pop_front();
                }
                c.rtt_points.push_back(RttPoint {
                    at: now.saturating_duration_since(c.started).as_secs_f64(),
                    ms: rtt.duration.as_secs_f64() * 1000.0,
                    kind: rtt.kind,
                });
            }
            c.log.log.push(&f);
        }
        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => {
            let bad = !matches!(cause, CloseCause::Local);
            c.note(
                ts,
                format!("#{conn} {}", drop_description(close.as_ref(), &cause)),
                bad,
            );
            c.state = LinkState::Closed { close, cause };
            c.closed_at = Some(now);
        }
        NetEvent::Reconnecting {
            conn,
            ts,
            attempt,
            delay,
            lost,
        } => {
            let (wait, lost) = crate::present::describe_retry(delay, lost);
            c.note(
                ts,
                format!("#{conn} retry {attempt} in {wait}{lost}"),
                false,
            );
            c.state = LinkState::Waiting {
                attempt,
                until: now + delay,
            };
        }
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => {
            c.note(ts, not_sent_note(conn, kind, &payload, &reason), true);
            c.input_error = Some(format!("not sent: {reason}"));
        }
        NetEvent::LeftBeforeHandshake { .. } => {}
        NetEvent::Error { conn, ts, message } => {
            if matches!(c.state, LinkState::Connecting | LinkState::Waiting { .. }) {
                let id = conn.map(|c| format!("#{c} ")).unwrap_or_default();
                c.note(
                    ts,
                    format!("{id}connect failed: {}", escape_text(&message, 200)),
                    true,
                );
                c.state = LinkState::Failed(message);
            } else {
                c.input_error = Some(message);
            }
        }
    }
}

/// How a connection ended, for the timeline: who closed, code and reason, or the
/// error that ended it (reset, EOF, ping timeout).
pub fn drop_description(close: Option<&CloseInfo>, cause: &CloseCause) -> String {
    let code = close
        .map(|c| {
            let reason = if c.reason.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", escape_text(&c.reason, 60))
            };
            format!(" {} {}{reason}", c.code, c.name())
        })
        .unwrap_or_default();
    match cause {
        CloseCause::Local => format!("closed by us{code}"),
        CloseCause::Peer => format!("closed by server{code}"),
        CloseCause::Error(e) => format!("dropped: {}{code}", escape_text(e, 120)),
    }
}

/// A message that never left, for the timeline and the events view.
fn not_sent_note(conn: ConnId, kind: FrameKind, payload: &[u8], reason: &str) -> String {
    let preview = crate::present::payload_preview(kind, payload, 40);
    format!("#{conn} not sent ({reason}): {preview}")
}

/// How a server connection ended, for the events view.
fn peer_drop_description(close: Option<&CloseInfo>, cause: &CloseCause) -> String {
    let text = drop_description(close, cause);
    match cause {
        CloseCause::Peer => text.replacen("closed by server", "closed by client", 1),
        _ => text,
    }
}

fn server_event(s: &mut ServerPane, ev: NetEvent, now: Instant) {
    match ev {
        NetEvent::Opened(o) => {
            s.total_conns += 1;
            if s.rows.len() >= MAX_ROWS {
                evict_row(s);
            }
            // Ids come in nearly in order; keep the table sorted by id.
            let at = s.rows.partition_point(|r| r.id < o.conn);
            s.rows.insert(
                at,
                ConnRow {
                    id: o.conn,
                    peer: o.peer,
                    path: o.path.clone(),
                    handshake: o.handshake.clone(),
                    opened_at: now,
                    counts: CounterSnapshot::default(),
                    closed: None,
                },
            );
            s.note(
                o.ts,
                format!(
                    "#{} opened from {} {}",
                    o.conn,
                    o.peer,
                    escape_text(&o.path, 60)
                ),
                false,
            );
            if s.selected.is_none() {
                s.selected = Some(o.conn);
                if s.scope_selected {
                    s.log.filter.conn = s.selected;
                }
            }
        }
        NetEvent::Frame(f) => s.log.log.push(&f),
        NetEvent::Closed {
            conn,
            ts,
            close,
            cause,
        } => {
            let bad = matches!(cause, CloseCause::Error(_));
            s.note(
                ts,
                format!("#{conn} {}", peer_drop_description(close.as_ref(), &cause)),
                bad,
            );
            if let Some(row) = s.rows.iter_mut().find(|r| r.id == conn) {
                row.closed = Some(ClosedRow {
                    at: now,
                    close,
                    cause,
                });
            }
            if s.selected == Some(conn) {
                hand_over_selection(s, conn);
            }
        }
        NetEvent::Error { ts, conn, message } => {
            s.errors += 1;
            let id = conn.map(|c| format!("#{c} ")).unwrap_or_default();
            s.note(
                ts,
                format!("{id}error: {}", escape_text(&message, 300)),
                true,
            );
            s.last_error = Some(message);
        }
        NetEvent::NotSent {
            conn,
            ts,
            kind,
            payload,
            reason,
        } => {
            s.note(ts, not_sent_note(conn, kind, &payload, &reason), true);
        }
        NetEvent::LeftBeforeHandshake { ts, peer } => {
            s.left_early += 1;
            s.note(
                ts,
                format!("{peer} disconnected before completing the WebSocket handshake"),
                false,
            );
        }
        NetEvent::Reconnecting { .. } => {}
    }
}

/// The selected connection closed: the input box goes to the next open one
/// (else the one before it), so what is typed next reaches somebody.
fn hand_over_selection(s: &mut ServerPane, closed: ConnId) {
    let open = |r: &&crate::app::state::ConnRow| r.is_open();
    let next = s
        .rows
        .iter()
        .filter(open)
        .find(|r| r.id > closed)
        .or_else(|| s.rows.iter().filter(open).rfind(|r| r.id < closed))
        .map(|r| r.id);
    if let Some(id) = next {
        s.selected = Some(id);
        if s.scope_selected {
            s.log.filter.conn = s.selected;
        }
    }
}

/// Makes room in the table: the oldest closed row, else the oldest row.
fn evict_row(s: &mut ServerPane) {
    let i = s.rows.iter().position(|r| !r.is_open()).unwrap_or(0);
    let id = s.rows[i].id;
    evict_at(s, i);
    if s.selected == Some(id) {
        s.selected = s.rows.front().map(|r| r.id);
    }
}

/// Moves the clock; once a second also turns counters into rates and sweeps
/// closed rows that have been shown long enough (a replay keeps them all: its
/// table is the recording's, not the last minute's).
fn tick(state: &mut AppState, now: std::time::Instant, wall: chrono::DateTime<chrono::Utc>) {
    state.now = now;
    state.wall = wall;
    let sweep = !state.read_only;
    let due = |sample: &Option<Sample>| {
        sample.is_none_or(|s| now.saturating_duration_since(s.at) >= RATE_PERIOD)
    };
    if let Some(c) = state.client.as_mut().filter(|c| due(&c.sample)) {
        let counts = c.counts;
        if let Some(prev) = c.sample {
            c.rates = Rates::between(prev.counts, counts, now.saturating_duration_since(prev.at));
        }
        c.sample = Some(Sample { at: now, counts });
    }
    if let Some(s) = state.server.as_mut().filter(|s| due(&s.sample)) {
        let mut i = 0;
        while i < s.rows.len() {
            let expired = sweep
                && s.rows[i]
                    .closed
                    .as_ref()
                    .is_some_and(|c| now.saturating_duration_since(c.at) >= CLOSED_ROW_TTL);
            if !expired {
                i += 1;
                continue;
            }
            let was_selected = s.selected == Some(s.rows[i].id);
            evict_at(s, i);
            if was_selected {
                s.selected = s
                    .rows
                    .get(i.min(s.rows.len().saturating_sub(1)))
                    .map(|r| r.id);
            }
        }
        let counts = s.totals();
        if let Some(prev) = s.sample {
            s.rates = Rates::between(prev.counts, counts, now.saturating_duration_since(prev.at));
            if s.rate_history.len() >= RATE_HISTORY {
                s.rate_history.pop_front();
            }
            s.rate_history
                .push_back((s.rates.frames_in + s.rates.frames_out).round() as u64);
        }
        s.sample = Some(Sample { at: now, counts });
    }
}

/// Takes in the counters the loop sampled; true when any changed.
fn counts(
    state: &mut AppState,
    conns: Vec<(Side, ConnId, CounterSnapshot)>,
    not_shown: u64,
) -> bool {
    let mut changed = false;
    let mut set = |slot: &mut CounterSnapshot, value: CounterSnapshot| {
        if *slot != value {
            *slot = value;
            changed = true;
        }
    };
    for (side, id, value) in conns {
        match side {
            Side::Client => {
                if let Some(c) = state.client.as_mut().filter(|c| c.conn == Some(id)) {
                    set(&mut c.counts, value);
                }
            }
            Side::Server => {
                if let Some(s) = state.server.as_mut() {
                    if let Ok(i) = s.rows.binary_search_by_key(&id, |r| r.id) {
                        set(&mut s.rows[i].counts, value);
                    }
                }
            }
        }
    }
    if let Some(s) = state.server.as_mut().filter(|s| s.not_shown != not_shown) {
        s.not_shown = not_shown;
        changed = true;
    }
    changed
}

/// Removes a row, keeping its counters in the totals.
fn evict_at(s: &mut ServerPane, i: usize) {
    if let Some(row) = s.rows.remove(i) {
        s.retired += row.counts;
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use chrono::{FixedOffset, TimeZone, Utc};
    use tokio::sync::mpsc;

    use super::*;
    use crate::app::state::{DirFilter, Mode};
    use crate::net::{
        CloseCause, ConnCounters, Direction, Frame, FrameKind, Handshake, Opened, Rtt, RttKind,
    };

    fn state(mode: Mode) -> (AppState, Instant) {
        let now = Instant::now();
        let wall = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut s = AppState::new(mode, now, wall, FixedOffset::east_opt(0).unwrap());
        if mode != Mode::Server {
            s.client = Some(ClientPane::new(
                "ws://127.0.0.1:1/".into(),
                100,
                vec![],
                now,
            ));
        }
        if mode != Mode::Client {
            s.server = Some(ServerPane::new("ws://127.0.0.1:1".into(), 100, vec![]));
        }
        (s, now)
    }

    fn opened(conn: u64) -> (NetEvent, mpsc::Receiver<NetCommand>) {
        let (tx, rx) = mpsc::channel(16);
        let ev = NetEvent::Opened(Box::new(Opened {
            conn,
            ts: Utc::now(),
            peer: "127.0.0.1:5000".parse::<SocketAddr>().unwrap(),
            path: "/".into(),
            handshake: Handshake::default(),
            counters: Arc::new(ConnCounters::default()),
            commands: tx,
            faults: None,
        }));
        (ev, rx)
    }

    fn frame(
        conn: u64,
        dir: Direction,
        kind: FrameKind,
        payload: &'static [u8],
        rtt_us: Option<u64>,
    ) -> NetEvent {
        NetEvent::Frame(Frame {
            conn,
            ts: Utc::now(),
            dir,
            kind,
            payload: Bytes::from_static(payload),
            close: None,
            rtt: rtt_us.map(|us| Rtt {
                kind: if kind == FrameKind::Pong {
                    RttKind::Ping
                } else {
                    RttKind::Echo
                },
                duration: Duration::from_micros(us),
            }),
        })
    }

    fn type_text(s: &mut AppState, text: &str) {
        for c in text.chars() {
            let _ = update(s, Msg::Action(Action::Edit(Edit::Char(c))));
        }
    }

    fn sent(fx: &[Effect]) -> Vec<NetCommand> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Send { cmd, .. } => Some(cmd.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn typing_and_enter_send_text_and_save_history() {
        let (mut s, _) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        type_text(&mut s, "héllo");
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert_eq!(sent(&fx), vec![NetCommand::Text("héllo".into())]);
        assert!(fx
            .iter()
            .any(|e| matches!(e, Effect::SaveHistory(l) if l == "héllo")));
        assert!(s.client.as_ref().unwrap().input.is_empty());
    }

    #[test]
    fn sending_before_the_connection_opens_is_an_inline_error() {
        let (mut s, _) = state(Mode::Client);
        type_text(&mut s, "early");
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert!(fx.is_empty());
        let c = s.client.as_ref().unwrap();
        assert!(c.input_error.as_deref().unwrap().contains("not connected"));
        assert_eq!(c.input.text(), "early", "the text is kept");
    }

    #[test]
    fn bad_slash_command_keeps_the_text_and_shows_why() {
        let (mut s, _) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        type_text(&mut s, "/hex zz");
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert!(fx.is_empty());
        let c = s.client.as_ref().unwrap();
        assert!(c.input_error.as_deref().unwrap().contains("hex"));
        assert_eq!(c.input.text(), "/hex zz");
        // Typing again clears the error.
        type_text(&mut s, "0");
        assert!(s.client.as_ref().unwrap().input_error.is_none());
    }

    #[test]
    fn slash_commands_become_network_commands() {
        let (mut s, _) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        for (input, expected) in [
            ("/ping x", NetCommand::Ping(Bytes::from_static(b"x"))),
            (
                "/hex 01 02",
                NetCommand::Binary(Bytes::from_static(&[1, 2])),
            ),
            ("/json {\"a\": 1}", NetCommand::Text("{\"a\":1}".into())),
            (
                "/close 4000 bye",
                NetCommand::Close(Some(CloseInfo::new(4000, "bye"))),
            ),
        ] {
            type_text(&mut s, input);
            let fx = update(&mut s, Msg::Action(Action::Submit));
            assert_eq!(sent(&fx), vec![expected], "{input}");
        }
        type_text(&mut s, "/repeat 3 10ms hi");
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert!(matches!(&fx[1], Effect::Repeat { count: 3, text, .. } if text == "hi"));
        type_text(&mut s, "/help");
        let _ = update(&mut s, Msg::Action(Action::Submit));
        assert!(matches!(s.popup, Some(Popup::Help { .. })));
    }

    #[test]
    fn frames_feed_the_log_rtt_and_unmatched_count() {
        let (mut s, _) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::Out, FrameKind::Text, b"a", None),
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"a", Some(250)),
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"push", None),
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Pong, b"p", Some(90)),
            ),
        );
        let c = s.client.as_ref().unwrap();
        assert_eq!(c.log.log.len(), 4);
        assert_eq!(c.totals.rtt.echo.count(), 1);
        assert_eq!(c.totals.rtt.ping.count(), 1);
        assert_eq!(c.totals.unmatched, 1);
        assert_eq!(c.rtt_points.len(), 2);
    }

    #[test]
    fn connect_failure_and_close_are_shown() {
        let (mut s, _) = state(Mode::Client);
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                NetEvent::Error {
                    conn: Some(1),
                    ts: Utc::now(),
                    message: "refused".into(),
                },
            ),
        );
        assert_eq!(
            s.client.as_ref().unwrap().state,
            LinkState::Failed("refused".into())
        );
        let (mut s, _) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                NetEvent::Closed {
                    conn: 1,
                    ts: Utc::now(),
                    close: Some(CloseInfo::new(1011, "x")),
                    cause: CloseCause::Peer,
                },
            ),
        );
        let c = s.client.as_ref().unwrap();
        assert!(matches!(&c.state, LinkState::Closed { close: Some(ci), .. } if ci.code == 1011));
        // Closed for good: nothing can be sent.
        for ch in "late".chars() {
            let _ = update(&mut s, Msg::Action(Action::Edit(Edit::Char(ch))));
        }
        assert!(update(&mut s, Msg::Action(Action::Submit)).is_empty());
        let c = s.client.as_ref().unwrap();
        assert_eq!(
            c.input_error.as_deref(),
            Some("not connected: nothing can be sent")
        );
        assert_eq!(c.input.text(), "late", "what was typed stays");
    }

    #[test]
    fn scrolling_pauses_and_end_follows_again() {
        let (mut s, _) = state(Mode::Client);
        for _ in 0..20 {
            let _ = update(
                &mut s,
                Msg::Net(
                    Side::Client,
                    frame(1, Direction::In, FrameKind::Text, b"x", None),
                ),
            );
        }
        s.focus = Focus::ClientLog;
        let _ = update(&mut s, Msg::Action(Action::Up));
        let log = &s.client.as_ref().unwrap().log;
        assert!(!log.follow);
        assert_eq!(log.selected_seq(), Some(18));
        let _ = update(&mut s, Msg::Action(Action::Top));
        assert_eq!(s.client.as_ref().unwrap().log.selected_seq(), Some(0));
        let _ = update(&mut s, Msg::Action(Action::Bottom));
        assert!(s.client.as_ref().unwrap().log.follow);
        let _ = update(&mut s, Msg::Action(Action::TogglePause));
        assert!(!s.client.as_ref().unwrap().log.follow);
        let _ = update(&mut s, Msg::Action(Action::TogglePause));
        assert!(s.client.as_ref().unwrap().log.follow);
    }

    #[test]
    fn filters_by_direction_and_regex() {
        let (mut s, _) = state(Mode::Client);
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::Out, FrameKind::Text, b"Hello", None),
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"hello", None),
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"other", None),
            ),
        );
        s.focus = Focus::ClientLog;
        let _ = update(&mut s, Msg::Action(Action::CycleDirFilter));
        assert_eq!(s.client.as_ref().unwrap().log.filter.dir, DirFilter::Sent);
        assert_eq!(s.client.as_ref().unwrap().log.visible().len(), 1);
        let _ = update(&mut s, Msg::Action(Action::CycleDirFilter));
        let _ = update(&mut s, Msg::Action(Action::StartFilter));
        assert!(s.typing());
        type_text(&mut s, "HEL+O");
        let _ = update(&mut s, Msg::Action(Action::Submit));
        assert_eq!(
            s.client.as_ref().unwrap().log.visible().len(),
            1,
            "received + /hel+o/ case-insensitive"
        );
        let _ = update(&mut s, Msg::Action(Action::StartFilter));
        type_text(&mut s, "(");
        let _ = update(&mut s, Msg::Action(Action::Submit));
        assert!(s.filter_error.is_some());
        assert!(s.filter_edit.is_some(), "a bad regex stays in the editor");
        let _ = update(&mut s, Msg::Action(Action::Escape));
        assert!(s.filter_edit.is_none());
    }

    #[test]
    fn server_sends_to_selected_or_all_and_closes_selected() {
        let (mut s, _) = state(Mode::Server);
        let (ev1, _rx1) = opened(1);
        let (ev2, _rx2) = opened(2);
        let _ = update(&mut s, Msg::Net(Side::Server, ev1));
        let _ = update(&mut s, Msg::Net(Side::Server, ev2));
        assert_eq!(s.server.as_ref().unwrap().selected, Some(1));
        let _ = update(&mut s, Msg::Action(Action::Down));
        assert_eq!(s.server.as_ref().unwrap().selected, Some(2));
        s.focus = Focus::ServerInput;
        type_text(&mut s, "to two");
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert_eq!(
            fx,
            vec![
                Effect::SaveHistory("to two".into()),
                Effect::Send {
                    to: Target::Server(2),
                    cmd: NetCommand::Text("to two".into())
                }
            ]
        );
        let _ = update(&mut s, Msg::Action(Action::ToggleSendAll));
        type_text(&mut s, "everyone");
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert_eq!(sent(&fx).len(), 2);
        s.focus = Focus::ServerConns;
        let fx = update(&mut s, Msg::Action(Action::CloseSelected));
        assert_eq!(
            sent(&fx),
            vec![NetCommand::Close(Some(CloseInfo::new(1000, "")))]
        );
    }

    fn closed(conn: u64, cause: CloseCause) -> Msg {
        Msg::Net(
            Side::Server,
            NetEvent::Closed {
                conn,
                ts: Utc::now(),
                close: Some(CloseInfo::new(1000, "")),
                cause,
            },
        )
    }

    #[test]
    fn a_selected_connection_that_closes_hands_the_input_to_the_next_open_one() {
        let (mut s, _) = state(Mode::Server);
        let mut queues = Vec::new();
        for id in 1..=3 {
            let (ev, rx) = opened(id);
            queues.push(rx);
            let _ = update(&mut s, Msg::Net(Side::Server, ev));
        }
        let _ = update(&mut s, Msg::Action(Action::Down));
        assert_eq!(s.server.as_ref().unwrap().selected, Some(2));
        let _ = update(&mut s, closed(2, CloseCause::Peer));
        assert_eq!(
            s.server.as_ref().unwrap().selected,
            Some(3),
            "the next open one"
        );
        let _ = update(&mut s, closed(3, CloseCause::Peer));
        assert_eq!(
            s.server.as_ref().unwrap().selected,
            Some(1),
            "else the one before"
        );
        // A connection that closes while another is selected changes nothing.
        let (ev, _rx4) = opened(4);
        let _ = update(&mut s, Msg::Net(Side::Server, ev));
        let _ = update(&mut s, closed(4, CloseCause::Peer));
        assert_eq!(s.server.as_ref().unwrap().selected, Some(1));
        // The last one closing keeps it where it is.
        let _ = update(&mut s, closed(1, CloseCause::Local));
        assert_eq!(s.server.as_ref().unwrap().selected, Some(1));
    }

    #[test]
    fn server_events_keep_errors_and_handshakes_given_up_apart() {
        let (mut s, _) = state(Mode::Server);
        let peer: SocketAddr = "127.0.0.1:5999".parse().unwrap();
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Server,
                NetEvent::LeftBeforeHandshake {
                    ts: Utc::now(),
                    peer,
                },
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Server,
                NetEvent::Error {
                    conn: None,
                    ts: Utc::now(),
                    message: "handshake with 127.0.0.1:6000 failed: bad request".into(),
                },
            ),
        );
        let server = s.server.as_ref().unwrap();
        assert_eq!((server.errors, server.left_early), (1, 1));
        let texts: Vec<&str> = server.events.iter().map(|e| e.text.as_str()).collect();
        assert!(
            texts[0].contains("127.0.0.1:5999 disconnected before completing"),
            "{texts:?}"
        );
        assert!(
            texts[1].contains("127.0.0.1:6000 failed: bad request"),
            "{texts:?}"
        );
        assert!(!server.events[0].bad && server.events[1].bad);
        let _ = update(&mut s, Msg::Action(Action::ShowEvents));
        assert_eq!(s.popup, Some(Popup::Events { scroll: 0 }));
    }

    #[test]
    fn fault_switches_are_effects_only_when_there_are_faults() {
        let (mut s, _) = state(Mode::Server);
        s.focus = Focus::ServerConns;
        assert!(update(&mut s, Msg::Action(Action::ToggleDelay)).is_empty());
        s.server.as_mut().unwrap().faults = Some(crate::app::state::ServerFaults::new(
            crate::net::server::faults::Faults {
                drop_percent: 5.0,
                ..Default::default()
            },
        ));
        let fx = update(&mut s, Msg::Action(Action::ToggleDrop));
        assert_eq!(
            fx,
            vec![Effect::SetFaults {
                delay_on: true,
                drop_on: false
            }]
        );
        let fx = update(&mut s, Msg::Action(Action::ToggleDelay));
        assert_eq!(
            fx,
            vec![Effect::SetFaults {
                delay_on: false,
                drop_on: false
            }]
        );
        let described = s
            .server
            .as_ref()
            .unwrap()
            .faults
            .as_ref()
            .unwrap()
            .describe();
        assert_eq!(described.as_deref(), Some("drop 5% (off)"));
    }

    #[test]
    fn closed_rows_stay_a_while_then_go() {
        let (mut s, now) = state(Mode::Server);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Server, ev));
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Server,
                NetEvent::Closed {
                    conn: 1,
                    ts: Utc::now(),
                    close: None,
                    cause: CloseCause::Peer,
                },
            ),
        );
        let _ = update(
            &mut s,
            Msg::Tick {
                now: now + Duration::from_secs(5),
                wall: Utc::now(),
            },
        );
        assert_eq!(s.server.as_ref().unwrap().rows.len(), 1);
        let _ = update(
            &mut s,
            Msg::Tick {
                now: now + CLOSED_ROW_TTL + Duration::from_secs(5),
                wall: Utc::now(),
            },
        );
        assert_eq!(s.server.as_ref().unwrap().rows.len(), 0);
    }

    #[test]
    fn tab_cycles_focus_and_esc_leaves_the_input() {
        let (mut s, _) = state(Mode::Demo);
        assert_eq!(s.focus, Focus::ClientInput);
        let _ = update(&mut s, Msg::Action(Action::FocusNext));
        assert_eq!(s.focus, Focus::ClientLog);
        let _ = update(&mut s, Msg::Action(Action::FocusPrev));
        let _ = update(&mut s, Msg::Action(Action::FocusPrev));
        assert_eq!(s.focus, Focus::ServerInput);
        let _ = update(&mut s, Msg::Action(Action::Escape));
        assert_eq!(s.focus, Focus::ServerLog);
        let _ = update(&mut s, Msg::Action(Action::FocusInput));
        assert_eq!(s.focus, Focus::ServerInput);
    }

    #[test]
    fn paste_goes_in_whole() {
        let (mut s, _) = state(Mode::Client);
        let big = "line\n".repeat(10_000);
        let _ = update(&mut s, Msg::Paste(big.clone()));
        assert_eq!(s.client.as_ref().unwrap().input.text(), big);
    }

    #[test]
    fn log_is_a_bounded_ring() {
        let (mut s, _) = state(Mode::Client);
        for _ in 0..250 {
            let _ = update(
                &mut s,
                Msg::Net(
                    Side::Client,
                    frame(1, Direction::In, FrameKind::Text, b"x", None),
                ),
            );
        }
        assert_eq!(s.client.as_ref().unwrap().log.log.len(), 100);
    }

    #[test]
    fn detail_opens_on_the_selected_frame_and_scrolls() {
        let (mut s, _) = state(Mode::Client);
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                frame(1, Direction::In, FrameKind::Text, b"x", None),
            ),
        );
        s.focus = Focus::ClientLog;
        let _ = update(&mut s, Msg::Action(Action::OpenDetail));
        assert_eq!(
            s.popup,
            Some(Popup::Detail {
                pane: Side::Client,
                seq: 0,
                scroll: 0
            })
        );
        let _ = update(&mut s, Msg::Action(Action::Down));
        assert_eq!(
            s.popup,
            Some(Popup::Detail {
                pane: Side::Client,
                seq: 0,
                scroll: 1
            })
        );
        let _ = update(&mut s, Msg::Action(Action::ClosePopup));
        assert!(s.popup.is_none());
    }

    #[test]
    fn the_timeline_tells_connects_drops_and_retries() {
        let (mut s, now) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                NetEvent::Closed {
                    conn: 1,
                    ts: Utc::now(),
                    close: None,
                    cause: CloseCause::Error("the connection was reset by the server".into()),
                },
            ),
        );
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                NetEvent::Reconnecting {
                    conn: 2,
                    ts: Utc::now(),
                    attempt: 1,
                    delay: Duration::from_millis(500),
                    lost: 3,
                },
            ),
        );
        let c = s.client.as_ref().unwrap();
        assert!(
            matches!(c.state, LinkState::Waiting { attempt: 1, until } if until == now + Duration::from_millis(500))
        );
        assert_eq!(c.totals.lost, 3);
        let _ = update(
            &mut s,
            Msg::Net(
                Side::Client,
                NetEvent::Error {
                    conn: Some(2),
                    ts: Utc::now(),
                    message: "connection refused".into(),
                },
            ),
        );
        let (ev, _rx2) = opened(2);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        let c = s.client.as_ref().unwrap();
        let texts: Vec<&str> = c.timeline.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "#1 connected to 127.0.0.1:5000: ",
                "#1 dropped: the connection was reset by the server",
                "#2 retry 1 in 500ms, 3 echoes lost",
                "#2 connect failed: connection refused",
                "#2 connected to 127.0.0.1:5000: ",
            ]
        );
        assert_eq!(c.totals.connects, 2);
        assert_eq!(c.state, LinkState::Open);
        assert!(c.timeline[1].bad && !c.timeline[2].bad);
        let _ = update(&mut s, Msg::Action(Action::Escape));
        let _ = update(&mut s, Msg::Action(Action::ShowTimeline));
        assert_eq!(s.popup, Some(Popup::Timeline { scroll: 0 }));
    }

    #[test]
    fn a_replay_sends_nothing() {
        let (mut s, _) = state(Mode::Client);
        let (ev, mut rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        s.read_only = true;
        for c in "hi".chars() {
            let _ = update(&mut s, Msg::Action(Action::Edit(Edit::Char(c))));
        }
        let fx = update(&mut s, Msg::Action(Action::Submit));
        assert!(fx.is_empty());
        assert!(rx.try_recv().is_err());
        assert!(s
            .client
            .as_ref()
            .unwrap()
            .input_error
            .as_deref()
            .unwrap()
            .contains("read-only"));
    }

    #[test]
    fn while_reconnecting_typed_messages_wait_in_the_queue_and_close_stops() {
        let (mut s, _) = state(Mode::Client);
        let (ev, _rx) = opened(1);
        let _ = update(&mut s, Msg::Net(Side::Client, ev));
        for ev in [
            NetEvent::Closed {
                conn: 1,
                ts: Utc::now(),
                close: None,
                cause: CloseCause::Error("reset".into()),
            },
            NetEvent::Reconnecting {
                conn: 2,
                ts: Utc::now(),
                attempt: 1,
                delay: Duration::from_secs(1),
                lost: 0,
            },
        ] {
            let _ = update(&mut s, Msg::Net(Side::Client, ev));
        }
        let typed = |s: &mut AppState, text: &str| {
            for ch in text.chars() {
                let _ = update(s, Msg::Action(Action::Edit(Edit::Char(ch))));
            }
            update(s, Msg::Action(Action::Submit))
        };
        let fx = typed(&mut s, "queued");
        assert!(fx
            .iter()
            .any(|e| matches!(e, Effect::Send { cmd: NetCommand::Text(t), .. } if t == "queued")));
        assert!(s.client.as_ref().unwrap().input_error.is_none());
        let fx = typed(&mut s, "/close 1000 bye");
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Send {
                cmd: NetCommand::Close(_),
                ..
            }
        )));
        assert!(matches!(
            s.client.as_ref().unwrap().state,
            LinkState::Closed {
                cause: CloseCause::Local,
                ..
            }
        ));
    }
}
