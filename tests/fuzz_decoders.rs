//! Every protocol decoder on arbitrary input: no panic, and nothing it makes is
//! out of proportion to what it read (a length field in the input is a claim,
//! not a size to allocate).

use proptest::prelude::*;
use wsprobe::proto::{Choice, Context, Protocol, Spoken};

const ALL: [Protocol; 7] = Protocol::ALL;

/// Beginnings that get a decoder past its first check, so the fuzz reaches
/// deeper than "not mine".
fn starts() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"".to_vec()),
        Just(b"0{\"sid\":".to_vec()),
        Just(b"42".to_vec()),
        Just(b"451-".to_vec()),
        Just(b"43/chat,".to_vec()),
        Just(b"{\"type\":\"next\",\"id\":".to_vec()),
        Just(b"{\"type\":\"subscribe\",\"payload\":".to_vec()),
        Just(b"{\"jsonrpc\":\"2.0\",".to_vec()),
        Just(b"[{\"jsonrpc\":\"2.0\",\"id\":".to_vec()),
        Just(b"MESSAGE\n".to_vec()),
        Just(b"SEND\ncontent-length:".to_vec()),
        Just(b"CONNECTED\nversion:1.2\n\n".to_vec()),
        Just(vec![0x10]),
        Just(vec![0x10, 0xff, 0xff, 0xff, 0x7f]),
        Just(vec![0x30]),
        Just(vec![0x32, 0x05, 0x00]),
        Just(vec![0x82, 0xff, 0xff, 0x03]),
        Just(vec![0x90, 0x03, 0x00, 0x01]),
        Just(vec![0x20, 0x02]),
    ]
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    (starts(), proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(mut a, b)| {
        a.extend(b);
        a
    })
}

/// What decoding made, in bytes.
fn made(d: &wsprobe::proto::Decoded) -> usize {
    d.summary.len()
        + d.fields
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decoders_never_panic_and_stay_in_proportion(payload in message(), text in any::<bool>(), from_client in any::<bool>()) {
        for p in ALL {
            let codec = p.codec();
            if let Some(d) = codec.decode(text, &payload) {
                // Escaped or pretty-printed values grow, but only by a factor.
                prop_assert!(made(&d) <= 16 * payload.len() + 4096, "{:?}: {} from {}", p, made(&d), payload.len());
            }
            let mut pairs = Vec::new();
            codec.pairs(from_client, text, &payload, &mut pairs);
            prop_assert!(pairs.len() <= payload.len() + 1);
            let _ = codec.answer(text, &payload, &Context::default());
        }
    }

    #[test]
    fn finding_the_protocol_out_never_panics(msgs in proptest::collection::vec((message(), any::<bool>(), any::<bool>()), 0..8), sub in "\\PC{0,20}") {
        for choice in [Choice::Auto, Choice::Mqtt, Choice::Raw] {
            let mut s = Spoken::new(choice, Some(&sub));
            for (payload, text, from_client) in &msgs {
                s.learn(*from_client, *text, payload);
                let _ = s.decode(*text, payload);
            }
        }
    }

    #[test]
    fn typed_commands_never_panic(name in "(emit|emit-noack|join|call|notify|subscribe|query|complete|send|unsubscribe|disconnect|publish|pingreq|x)", args in "\\PC{0,120}") {
        for p in ALL {
            let mut ctx = Context { next_id: u64::MAX - 1, ..Context::default() };
            let _ = p.codec().encode(&name, &args, &mut ctx);
            let _ = p.codec().encode(&name, &args, &mut ctx);
            let _ = p.codec().greet(&mut ctx);
        }
    }
}
