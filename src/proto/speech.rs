//! `--protocol` as a network task needs it (`net::speak`): a client's greeting,
//! its keep-alive answers, and which reply answers which request.

use crate::net::relay::JsonPath;
use crate::net::speak::{Conversation, Pair, Speaker};
use crate::net::NetCommand;

use super::{Choice, Context, Spoken};

/// A protocol chosen for every connection of a client, server or relay.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Speech {
    pub choice: Choice,
    pub ctx: Context,
    /// `--correlate`: requests and replies paired by this path instead.
    pub correlate: Option<JsonPath>,
}

impl Speaker for Speech {
    fn open(&self, subprotocol: Option<&str>) -> Box<dyn Conversation> {
        Box::new(Talk {
            spoken: Spoken::new(self.choice, subprotocol),
            ctx: self.ctx.clone(),
            correlate: self.correlate.clone(),
        })
    }
}

/// One connection's side of the protocol.
struct Talk {
    spoken: Spoken,
    ctx: Context,
    correlate: Option<JsonPath>,
}

impl Conversation for Talk {
    fn greet(&mut self) -> Vec<NetCommand> {
        match self.spoken.protocol {
            // Only a protocol asked for by name is greeted: `auto` only listens.
            Some(p) if self.spoken.choice.is_explicit() => p.codec().greet(&mut self.ctx),
            _ => Vec::new(),
        }
    }

    fn answer(&mut self, text: bool, payload: &[u8]) -> Option<NetCommand> {
        self.spoken.learn(false, text, payload);
        let p = self.spoken.protocol?;
        p.codec().answer(text, payload, &self.ctx)
    }

    fn pairs(
        &mut self,
        from_client: bool,
        text: bool,
        payload: &[u8],
        out: &mut Vec<Pair>,
    ) -> bool {
        self.spoken.learn(from_client, text, payload);
        match &mut self.correlate {
            Some(path) => path.pairs(from_client, text, payload, out),
            None => self.spoken.pairs(from_client, text, payload, out),
        }
    }

    fn established(&self) -> bool {
        self.correlate.is_some() || self.spoken.protocol.is_some()
    }
}
