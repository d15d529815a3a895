//! A line submitted in an input box: parsed, then sent where it goes.

use super::keys::action;
use crate::app::input::InputBox;
use crate::app::msg::{Action, Effect, Target};
use crate::app::slash::{self, SlashCommand};
use crate::app::state::{AppState, ClientPane, Focus, LinkState, Mode, Popup, ServerPane};
use crate::net::{CloseCause, CloseInfo};
use crate::proto::{Context, Protocol};

/// A script runs on a client's connection: its expectations read its replies.
const RUN_IN_CLIENT: &str = "/run works in a client's input box (wsprobe client, the demo)";

pub(super) fn submit(state: &mut AppState, fx: &mut Vec<Effect>) {
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
    // Raw frames are not messages: the log turns to the wire to show them.
    let typed = match state.focus {
        Focus::ClientInput => state.client.as_ref().map(|c| c.input.text().to_string()),
        Focus::ServerInput => state.server.as_ref().map(|s| s.input.text().to_string()),
        _ => None,
    };
    if typed.is_some_and(|t| {
        state.mode != Mode::Relay && matches!(slash::parse(&t), Ok(SlashCommand::Raw(_)))
    }) {
        state.show_wire = true;
    }
    match state.focus {
        Focus::ClientInput => {
            if let Some(c) = state.client.as_mut() {
                submit_client(c, fx, &mut state.popup, &mut state.speech.ctx);
            }
        }
        Focus::ServerInput if state.mode == Mode::Relay => {
            if let Some(s) = state.server.as_mut() {
                submit_relay(s, fx, &mut state.popup, &mut state.speech.ctx);
            }
        }
        Focus::ServerInput => {
            if let Some(s) = state.server.as_mut() {
                submit_server(s, fx, &mut state.popup, &mut state.speech.ctx);
            }
        }
        _ => action(state, Action::OpenDetail, fx),
    }
}

/// Turns a parsed command into the network command(s) for one connection.
pub(super) fn command_effects(cmd: SlashCommand, to: Target, fx: &mut Vec<Effect>) {
    if let SlashCommand::Repeat {
        count,
        interval,
        text,
    } = cmd
    {
        fx.push(Effect::Repeat {
            to,
            count,
            interval,
            text,
        });
    } else if let Some(cmd) = cmd.into_net() {
        fx.push(Effect::Send { to, cmd });
    }
}

/// Parses what was typed: `None` when it was `/help` (shown here) or wrong (the
/// error goes under the box and the text stays for fixing).
pub(super) fn parse_typed(
    input: &mut InputBox,
    error: &mut Option<String>,
    popup: &mut Option<Popup>,
    speaking: (Option<Protocol>, &mut Context),
) -> Option<SlashCommand> {
    match slash::parse_speaking(input.text(), speaking.0, speaking.1) {
        Ok(SlashCommand::Help) => {
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

pub(super) fn submit_client(
    c: &mut ClientPane,
    fx: &mut Vec<Effect>,
    popup: &mut Option<Popup>,
    ctx: &mut Context,
) {
    let speaking = (c.spoken.commands(), ctx);
    let Some(cmd) = parse_typed(&mut c.input, &mut c.input_error, popup, speaking) else {
        return;
    };
    if let SlashCommand::Run(file) = cmd {
        if c.script_running {
            c.input_error = Some("a script is running: wait for its end".into());
        } else if c.state != LinkState::Open {
            c.input_error = Some("not connected: a script runs on an open connection".into());
        } else {
            c.script_running = true;
            c.input_error = None;
            c.script = Some(format!("script {file}: starting"));
            let line = c.input.submit();
            fx.push(Effect::SaveHistory(line));
            fx.push(Effect::RunScript(file));
        }
        return;
    }
    // While --reconnect waits, the queue outlives the connection: what is sent
    // now goes out after the next connect and its init messages. Before the
    // first connection there is no queue yet: nothing can be sent.
    let waiting = matches!(c.state, LinkState::Waiting { .. }) && c.conn.is_some();
    if c.state != LinkState::Open && !waiting {
        c.input_error = Some("not connected: nothing can be sent".into());
        return;
    }
    if let (true, SlashCommand::Close { code, reason }) = (waiting, &cmd) {
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

pub(super) fn submit_server(
    s: &mut ServerPane,
    fx: &mut Vec<Effect>,
    popup: &mut Option<Popup>,
    ctx: &mut Context,
) {
    let speaking = (selected_protocol(s), ctx);
    let Some(cmd) = parse_typed(&mut s.input, &mut s.input_error, popup, speaking) else {
        return;
    };
    if matches!(cmd, SlashCommand::Run(_)) {
        s.input_error = Some(RUN_IN_CLIENT.into());
        return;
    }
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

/// A relay's input: to the selected pair's server, or with `/inject` and
/// `/close` to the leg named.
pub(super) fn submit_relay(
    s: &mut ServerPane,
    fx: &mut Vec<Effect>,
    popup: &mut Option<Popup>,
    ctx: &mut Context,
) {
    match slash::parse_steer(s.input.text()) {
        Some(Ok(cmd)) => {
            if let Some(r) = s.relay.as_mut() {
                r.steer(&cmd);
            }
            let typed = s.input.submit();
            fx.push(Effect::SaveHistory(typed));
            fx.push(Effect::Steer(cmd));
            return;
        }
        Some(Err(e)) => {
            s.input_error = Some(e);
            return;
        }
        None => {}
    }
    let (leg, line) = match slash::relay_leg(s.input.text()) {
        Ok(found) => found,
        Err(e) => {
            s.input_error = Some(e);
            return;
        }
    };
    let cmd = match slash::parse_speaking(&line, selected_protocol(s), ctx) {
        Ok(SlashCommand::Help) => {
            s.input.submit();
            *popup = Some(Popup::Help { scroll: 0 });
            return;
        }
        Ok(SlashCommand::Run(_)) => {
            s.input_error = Some(RUN_IN_CLIENT.into());
            return;
        }
        Ok(cmd) => cmd,
        Err(e) => {
            s.input_error = Some(e);
            return;
        }
    };
    let Some(row) = s.selected_row() else {
        s.input_error = Some("select a pair first (Tab to the table, ↑/↓)".into());
        return;
    };
    let open = match leg {
        crate::net::Side::Client => row.is_open(),
        crate::net::Side::Server => row.upstream.as_ref().is_some_and(|u| u.closed.is_none()),
    };
    if !open {
        s.input_error = Some(format!("#{}'s {} leg is closed", row.id, leg.as_str()));
        return;
    }
    let to = Target::Leg(leg, row.id);
    let typed = s.input.submit();
    fx.push(Effect::SaveHistory(typed));
    command_effects(cmd, to, fx);
}

/// The protocol of the selected connection, whose commands the box takes.
fn selected_protocol(s: &ServerPane) -> Option<Protocol> {
    let id = s.selected?;
    s.rows.iter().find(|r| r.id == id)?.spoken.commands()
}
