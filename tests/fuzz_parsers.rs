//! Property tests over everything that parses typed or untrusted input: no input
//! may panic, and what the parsers accept must make sense.

use clap::Parser;
use proptest::prelude::*;
use wsprobe::app::input::InputBox;
use wsprobe::app::slash::{self, SlashCommand};
use wsprobe::bench::payload::Pattern;
use wsprobe::cli::Cli;
use wsprobe::escape::{escape_bytes, is_terminal_safe};
use wsprobe::net::client::{parse_header, parse_ws_url};
use wsprobe::proto::Choice;
use wsprobe::record::Record;
use wsprobe::script::{self, Checks};
use wsprobe::units::{parse_duration, parse_size};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn slash_commands_never_panic(s in "\\PC*") {
        let _ = slash::parse(&s);
        let _ = slash::parse(&format!("/{s}"));
    }

    #[test]
    fn command_words_with_any_arguments(name in "(ping|close|hex|json|repeat|help|x)", args in ".{0,80}") {
        let _ = slash::parse(&format!("/{name} {args}"));
    }

    #[test]
    fn hex_accepts_exactly_pairs_of_hex_digits(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let text: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let parsed = slash::parse(&format!("/hex {}", text.join(" ")));
        if bytes.is_empty() {
            prop_assert!(parsed.is_err());
        } else {
            prop_assert_eq!(parsed, Ok(SlashCommand::Binary(bytes.into())));
        }
    }

    #[test]
    fn json_round_trips_what_it_accepts(s in "\\PC{0,200}") {
        if let Ok(SlashCommand::Text(compact)) = slash::parse(&format!("/json {s}")) {
            // What follows the command's space is read from its first non-space.
            let a: serde_json::Value = serde_json::from_str(s.trim_start()).unwrap();
            let b: serde_json::Value = serde_json::from_str(&compact).unwrap();
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn close_codes_that_parse_are_sendable(code in any::<i32>(), reason in ".{0,200}") {
        if let Ok(SlashCommand::Close { code, reason }) = slash::parse(&format!("/close {code} {reason}")) {
            prop_assert!(matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999));
            prop_assert!(reason.len() <= 123);
        }
    }

    #[test]
    fn scripts_never_panic_and_point_inside_their_line(
        lines in proptest::collection::vec(
            "(/expect |/expect json \\$\\.|/expect-close |/wait |/set |/capture x json |/connect |/json |/call |)[\\PC]{0,40}",
            1..6,
        )
    ) {
        let source = lines.join("\n");
        let checks = Checks { choice: Choice::Auto, vars: &[], env: &|_| None, has_url: true };
        if let Err(problems) = script::parse::parse("f.wsp", &source, &checks) {
            for p in problems {
                prop_assert!(p.at <= p.text.len(), "{p:?}");
                prop_assert!(p.render("f.wsp").contains("^"));
            }
        }
    }

    #[test]
    fn sizes_and_durations_never_panic(s in "\\PC{0,40}") {
        let _ = parse_size(&s);
        let _ = parse_duration(&s);
    }

    #[test]
    fn sizes_with_units(n in 0u64..1_000_000, unit in "(|b|k|kb|kib|m|mb|mib|KiB|MiB|GB)") {
        let text = format!("{n}{unit}");
        prop_assert!(parse_size(&text).is_ok(), "{}", text);
    }

    #[test]
    fn headers_and_urls_never_panic(s in "\\PC{0,120}") {
        let _ = parse_header(&s);
        let _ = parse_ws_url(&s);
        let _ = parse_ws_url(&format!("ws://{s}"));
    }

    #[test]
    fn any_command_line_parses_or_errors(args in proptest::collection::vec("\\PC{0,20}", 0..6)) {
        let mut argv = vec!["wsprobe".to_string()];
        argv.extend(args);
        let _ = Cli::try_parse_from(argv);
    }

    #[test]
    fn escaped_bytes_are_safe_for_a_terminal(bytes in proptest::collection::vec(any::<u8>(), 0..300), max in 1usize..400) {
        let out = escape_bytes(&bytes, max);
        prop_assert!(is_terminal_safe(&out), "{:?}", out);
    }

    #[test]
    fn escaped_text_is_safe_for_a_terminal(s in "\\PC*|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}]{0,50}") {
        prop_assert!(is_terminal_safe(&escape_bytes(s.as_bytes(), usize::MAX)));
    }

    #[test]
    fn bench_verification_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), size in 17usize..300) {
        let p = Pattern::new(size);
        let _ = p.verify(&bytes);
    }

    #[test]
    fn records_read_back_never_panic(s in "\\PC{0,300}") {
        let _ = serde_json::from_str::<Record>(&s);
    }

    #[test]
    fn input_box_survives_any_edits(ops in proptest::collection::vec((0u8..10, any::<char>()), 0..200)) {
        let mut b = InputBox::default();
        for (op, c) in ops {
            match op {
                0..=2 => b.insert_char(c),
                3 => b.backspace(),
                4 => b.delete(),
                5 => b.left(),
                6 => b.right(),
                7 => b.delete_word_back(),
                8 => b.history_prev(),
                _ => { b.submit(); }
            }
            prop_assert!(b.cursor() <= b.text().chars().count());
            let _ = b.cursor_line_col();
        }
    }
}
