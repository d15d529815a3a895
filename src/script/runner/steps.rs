//! Starting steps in order: each line's `${…}` filled in, then sent, waited
//! on or done at once; the connection opened and closed around them.

use super::*;

impl Runner {
    /// Starts steps in order until one has to wait, or the script ends.
    pub(super) fn advance(&mut self, now: Instant) {
        while self.active.is_none() && !self.finished {
            if self.failed {
                self.skip_rest(now);
            }
            if self.next >= self.script.steps.len() {
                self.end(now);
                return;
            }
            let index = self.next;
            self.next += 1;
            let step = self.script.steps[index].clone();
            let env = self.settings.env;
            let op = match resolve(&step, &self.vars, &env) {
                Ok(op) => op,
                Err((_, _, why)) => {
                    self.finish_step(&step, Status::Fail, why, now, now);
                    continue;
                }
            };
            self.start_step(index, &step, op, now);
        }
    }

    pub(super) fn start_step(&mut self, index: usize, step: &Step, op: Op, now: Instant) {
        let timeout = self.settings.timeout;
        match op {
            Op::Send(line) => self.send_line(index, step, &line, now),
            Op::Expect { want, within } => {
                self.active = Some(Active::Expect {
                    step: index,
                    want,
                    since: now,
                    deadline: now + within.unwrap_or(timeout),
                });
                self.check_active(now);
            }
            Op::ExpectClose { code, within } => {
                self.active = Some(Active::ExpectClose {
                    step: index,
                    code,
                    since: now,
                    deadline: now + within.unwrap_or(timeout),
                });
                self.check_active(now);
            }
            Op::Wait(d) => {
                self.active = Some(Active::Wait {
                    step: index,
                    since: now,
                    until: now + d,
                });
                self.check_active(now);
            }
            Op::Set { name, value } => {
                // A secret read from the environment stays out of CI logs.
                let shown = match step.text.contains("${env:") {
                    true => "(from the environment)".to_string(),
                    false => crate::escape::escape_text(&value, 60),
                };
                let detail = format!("{name} = {shown}");
                self.vars.set(&name, value);
                self.finish_step(step, Status::Pass, detail, now, now);
            }
            Op::Capture { name, path } => {
                let value = self
                    .matched
                    .as_ref()
                    .and_then(|m| serde_json::from_slice::<serde_json::Value>(m).ok())
                    .and_then(|v| path.lookup(&v).cloned());
                match value {
                    Some(v) => {
                        let text = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        let detail = format!("{name} = {}", crate::escape::escape_text(&text, 60));
                        self.vars.set(&name, text);
                        self.finish_step(step, Status::Pass, detail, now, now);
                    }
                    None => {
                        let why = format!(
                            "the message the last /expect matched has no value at {}",
                            path.as_str()
                        );
                        self.finish_step(step, Status::Fail, why, now, now);
                    }
                }
            }
            Op::Connect(url) => {
                if !self.can_connect {
                    let why = "/connect works in `wsprobe run`; the dashboard runs a script on its own connection";
                    self.finish_step(step, Status::Fail, why.into(), now, now);
                } else if self.link == Link::Open {
                    self.out
                        .push(Action::Send(NetCommand::Close(Some(CloseInfo::new(
                            1000, "",
                        )))));
                    self.active = Some(Active::Closing {
                        deadline: now + CLOSE_WAIT,
                        then: Some((index, url)),
                    });
                } else {
                    self.connect(Some(index), url, now);
                }
            }
        }
    }

    /// A line as the input box would send it.
    pub(super) fn send_line(&mut self, index: usize, step: &Step, line: &str, now: Instant) {
        if self.link != Link::Open {
            let how = self.link_text();
            self.finish_step(
                step,
                Status::Fail,
                format!("not connected: {how}"),
                now,
                now,
            );
            return;
        }
        let cmd = match slash::parse_speaking(line, self.spoken.commands(), &mut self.ctx) {
            Ok(cmd) => cmd,
            Err(why) => {
                self.finish_step(step, Status::Fail, why, now, now);
                return;
            }
        };
        if let SlashCommand::Repeat {
            count,
            interval,
            text,
        } = cmd
        {
            self.active = Some(Active::Repeat {
                step: index,
                since: now,
                left: count,
                interval,
                next: now,
                text,
            });
            self.check_active(now);
            return;
        }
        let Some(cmd) = cmd.into_net() else {
            self.finish_step(step, Status::Fail, "nothing to send".into(), now, now);
            return;
        };
        let detail = format!("sent {}", sent(&cmd));
        self.send(cmd, index, now);
        self.finish_step(step, Status::Pass, detail, now, now);
    }

    pub(super) fn send(&mut self, cmd: NetCommand, index: usize, now: Instant) {
        self.request_at = Some(now);
        if self.unanswered.len() == UNANSWERED {
            self.unanswered.pop_front();
        }
        self.unanswered.push_back(now);
        self.last_send = Some(index);
        self.out.push(Action::Send(cmd));
    }

    pub(super) fn connect(&mut self, step: Option<usize>, url: String, now: Instant) {
        self.link = Link::Connecting;
        self.peer_close = None;
        self.inbox.clear();
        self.matched = None;
        self.request_at = None;
        self.unanswered.clear();
        self.active = Some(Active::Connect { step, since: now });
        self.out.push(Action::Connect(url));
    }

    /// After the last step: close what is open, then the run is over.
    pub(super) fn end(&mut self, now: Instant) {
        if self.link == Link::Open && self.can_connect {
            self.out
                .push(Action::Send(NetCommand::Close(Some(CloseInfo::new(
                    1000, "",
                )))));
            self.active = Some(Active::Closing {
                deadline: now + CLOSE_WAIT,
                then: None,
            });
        } else {
            self.finished = true;
        }
    }

    pub(super) fn skip_rest(&mut self, now: Instant) {
        while self.next < self.script.steps.len() {
            let s = self.script.steps[self.next].clone();
            self.next += 1;
            self.finish(
                &s,
                Status::Skipped,
                String::new(),
                now,
                now,
                None,
                None,
                None,
            );
        }
    }
}

/// What a command put on the wire, in a few words.
fn sent(cmd: &NetCommand) -> String {
    match cmd {
        NetCommand::Text(t) => format!("text {} B", t.len()),
        NetCommand::Binary(b) => format!("binary {} B", b.len()),
        NetCommand::Ping(p) => format!("ping {} B", p.len()),
        NetCommand::Close(c) => match c {
            Some(c) => format!("close {}", c.code),
            None => "close".into(),
        },
        NetCommand::Raw(f) => format!("{} raw frames", f.len()),
    }
}
