//! `update`: the only writer of [`AppState`]. No I/O: what needs the network or
//! the disk comes back as [`Effect`]s for the event loop to carry out. Split by
//! what happened: keys, a submitted line, the client's and the server's events,
//! the clock.

mod client;
mod keys;
mod relay;
mod server;
mod submit;
#[cfg(test)]
mod tests;
mod tick;

use crate::app::input::InputBox;
use crate::app::msg::{Effect, Msg};
use crate::app::state::{AppState, Focus};
use crate::net::Side;
use crate::net::{ConnId, FrameKind, NetEvent};
use client::client_event;
use keys::action;
use relay::relay_event;
use server::server_event;
use tick::{counts, tick};

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
        Msg::Script(note) => {
            if let Some(c) = state.client.as_mut() {
                client::script_note(c, note, state.now, state.wall);
            }
        }
        Msg::Steered(said) => {
            if let Some(s) = state.server.as_mut() {
                match said {
                    Ok(done) => {
                        s.note(state.wall, done, false);
                        s.input_error = None;
                    }
                    Err(why) => s.input_error = Some(why),
                }
            }
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

fn net(state: &mut AppState, pane: Side, ev: NetEvent) {
    if state.mode == crate::app::state::Mode::Relay {
        if let Some(s) = state.server.as_mut() {
            relay_event(s, pane, ev, state.now, state.speech.choice);
        }
        return;
    }
    match pane {
        Side::Client => {
            if let Some(c) = state.client.as_mut() {
                client_event(c, ev, state.now, state.speech.choice);
            }
        }
        Side::Server => {
            if let Some(s) = state.server.as_mut() {
                server_event(s, ev, state.now, state.speech.choice);
            }
        }
    }
}

/// A message that never left, for the timeline and the events view.
fn not_sent_note(conn: ConnId, kind: FrameKind, payload: &[u8], reason: &str) -> String {
    format!(
        "#{conn} {}",
        crate::present::not_sent(kind, payload, reason, 40)
    )
}
