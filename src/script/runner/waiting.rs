//! The step under way, waiting: a message, a close, the clock; what comes
//! (or the deadline) ends it as met or failed.

use super::*;

impl Runner {
    /// Whether the step under way is done by what has come, or by the clock.
    pub(super) fn check_active(&mut self, now: Instant) {
        let Some(active) = self.active.take() else {
            return;
        };
        match active {
            Active::Expect {
                step,
                want,
                since,
                deadline,
            } => {
                let s = self.script.steps[step].clone();
                if let Some(got) = self.inbox.pop_front() {
                    self.judge(&s, &want, got, since, now);
                } else if let Link::Closed(how) = &self.link {
                    let how = how.clone();
                    let got = format!("nothing: {how}");
                    self.fail_with(
                        &s,
                        "the connection closed first",
                        want.describe(),
                        got,
                        since,
                        now,
                    );
                } else if now >= deadline {
                    let waited = humantime::format_duration(deadline - since).to_string();
                    let got = format!("nothing within {waited}");
                    self.fail_with(&s, "no message came", want.describe(), got, since, now);
                } else {
                    self.active = Some(Active::Expect {
                        step,
                        want,
                        since,
                        deadline,
                    });
                }
            }
            Active::ExpectClose {
                step,
                code,
                since,
                deadline,
            } => {
                let s = self.script.steps[step].clone();
                let want = match code {
                    Some(c) => format!("a close frame with code {c}"),
                    None => "a close frame".into(),
                };
                match (&self.peer_close, &self.link) {
                    (Some(c), _) if code.is_none_or(|w| w == c.code) => {
                        let detail = format!("closed {} {}", c.code, c.name());
                        self.finish_step(&s, Status::Pass, detail, since, now);
                    }
                    (Some(c), _) => {
                        let got = format!("close {} {}", c.code, c.name());
                        self.fail_with(&s, "the close code differs", want, got, since, now);
                    }
                    (None, Link::Closed(how)) => {
                        let got = how.clone();
                        self.fail_with(&s, "no close frame came", want, got, since, now);
                    }
                    _ if now >= deadline => {
                        let waited = humantime::format_duration(deadline - since).to_string();
                        let got = format!("the connection still open after {waited}");
                        self.fail_with(&s, "timed out", want, got, since, now);
                    }
                    _ => {
                        self.active = Some(Active::ExpectClose {
                            step,
                            code,
                            since,
                            deadline,
                        })
                    }
                }
            }
            Active::Wait { step, since, until } => {
                if now >= until {
                    let s = self.script.steps[step].clone();
                    let detail = format!("waited {}", humantime::format_duration(until - since));
                    self.finish_step(&s, Status::Pass, detail, since, now);
                } else {
                    self.active = Some(Active::Wait { step, since, until });
                }
            }
            Active::Repeat {
                step,
                since,
                mut left,
                interval,
                mut next,
                text,
            } => {
                let s = self.script.steps[step].clone();
                // A burst is handed over in slices: the next tick is due at once.
                let mut burst = 0;
                while left > 0 && now >= next && burst < REPEAT_BURST {
                    burst += 1;
                    if self.link != Link::Open {
                        let how = self.link_text();
                        self.finish_step(
                            &s,
                            Status::Fail,
                            format!("not connected: {how}"),
                            since,
                            now,
                        );
                        return;
                    }
                    self.send(NetCommand::Text(text.clone()), step, now);
                    left -= 1;
                    next += interval;
                }
                if left == 0 {
                    self.finish_step(&s, Status::Pass, "sent every copy".into(), since, now);
                } else {
                    self.active = Some(Active::Repeat {
                        step,
                        since,
                        left,
                        interval,
                        next,
                        text,
                    });
                }
            }
            Active::Closing { deadline, then } => {
                let closed = matches!(self.link, Link::Closed(_));
                if !closed && now < deadline {
                    self.active = Some(Active::Closing { deadline, then });
                    return;
                }
                match then {
                    Some((step, url)) => {
                        self.next = step + 1;
                        self.connect(Some(step), url, now);
                    }
                    None => self.finished = true,
                }
            }
            Active::Connect { step, since } => self.active = Some(Active::Connect { step, since }),
        }
    }

    /// The next message against what the step wants.
    pub(super) fn judge(
        &mut self,
        s: &Step,
        want: &Expect,
        got: Received,
        since: Instant,
        now: Instant,
    ) {
        if let Err(why) = want.check(got.kind, &got.payload) {
            let expected = want.describe();
            let received = shown(got.kind, &got.payload);
            self.fail_with(s, &why, expected, received, since, now);
            return;
        }
        // The reply's own round trip when net timed it, else from the send it
        // answers (or the step's start) to its arrival.
        let from = self.answering(got.at).unwrap_or(since).max(self.started);
        let latency = match &got.rtt {
            Some(r) => r.duration,
            None => got.at.saturating_duration_since(from),
        };
        // A protocol's reply is counted by its request already.
        if !got.rtt.as_ref().is_some_and(|r| r.kind == RttKind::Reply) {
            self.out.push(Action::Record(Rtt {
                kind: RttKind::Reply,
                duration: latency,
                label: Some(Arc::from(format!("line {}", s.line).as_str())),
            }));
        }
        let detail = format!("got {}", shown(got.kind, &got.payload));
        self.matched = Some(got.payload);
        self.finish(
            s,
            Status::Pass,
            detail,
            since,
            now,
            Some(latency),
            None,
            None,
        );
    }

    /// The send a reply that came at `at` answers: the oldest unanswered one
    /// that went out before it, else the last one sent.
    fn answering(&mut self, at: Instant) -> Option<Instant> {
        match self.unanswered.front() {
            Some(&sent) if sent <= at => self.unanswered.pop_front(),
            _ => self.request_at,
        }
    }

    pub(super) fn fail_with(
        &mut self,
        s: &Step,
        why: &str,
        expected: String,
        received: String,
        since: Instant,
        now: Instant,
    ) {
        let expected = Some(expected);
        let received = Some(received);
        self.finish(
            s,
            Status::Fail,
            why.to_string(),
            since,
            now,
            None,
            expected,
            received,
        );
    }
}

/// A received message for a report: escaped, cut short, binary as hex.
fn shown(kind: FrameKind, payload: &[u8]) -> String {
    match kind {
        FrameKind::Text => crate::escape::escape_bytes(payload, 200),
        _ => format!("binary {}", crate::escape::hex_preview(payload, 64)),
    }
}
