//! The one-way import rule, enforced: every top-level module of `src/` has a
//! rank, and a file may only name (`crate::...`, in a `use` or anywhere in its
//! code, tests included) its own top-level module or one of a strictly lower
//! rank. Modules of the same rank are siblings and never import each other.
//!
//! The source is read as tokens with comments, strings and character literals
//! left out, so a doc comment or a message mentioning `crate::tui` does not
//! count. `super::` stays inside a folder unless it climbs to the crate root,
//! which is resolved (inline `mod` blocks included).

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module of `src/` (a `NAME.rs` file or a `NAME/` folder) and
/// its rank. Arrows point down: a module imports only lower ranks, or itself.
const LAYERS: &[(&str, u8)] = &[
    // Entry and dispatch.
    ("main", 12),
    ("lib", 12),
    // One file per capability.
    ("run", 11),
    ("config", 10),
    ("cli", 9),
    // The two faces.
    ("tui", 8),
    ("headless", 8),
    // Scripted checks: the input box's language (from app) with expectations,
    // run by both faces.
    ("script", 7),
    // What the faces show and do.
    ("app", 6),
    ("bench", 6),
    ("record", 6),
    // The protocols spoken over WebSocket: decoded for the app, the faces and
    // recordings alike (listed before it exists).
    ("proto", 5),
    // Wording shared by the faces.
    ("present", 4),
    ("metrics", 4),
    // Sockets, connections, round trips.
    ("net", 3),
    // The frame layer under tungstenite that net's streams wear.
    ("frames", 2),
    // Core.
    ("escape", 1),
    ("units", 1),
    ("signal", 1),
    ("logging", 1),
    // The typed errors every layer may return.
    ("error", 0),
];

/// The crate root's own items (`crate::exit_code`, `crate::run(..)`) rank as `lib`.
const ROOT: &str = "lib";

fn rank_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();

    // Every top-level module must have a rank.
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("read src/") {
        let path = entry.expect("read src/").path();
        let name = if path.is_dir() {
            path.file_name().unwrap().to_string_lossy().into_owned()
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem().unwrap().to_string_lossy().into_owned()
        } else {
            continue;
        };
        on_disk.insert(name);
    }
    for name in &on_disk {
        if rank_of(name).is_none() {
            problems.push(not_in_table(name, &format!("src/{name}")));
        }
    }

    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} .rs files under {}",
        files.len(),
        src.display()
    );
    for file in &files {
        let rel = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).expect("read source file");
        problems.extend(check_file(&rel, &text, &on_disk));
    }
    assert!(
        problems.is_empty(),
        "{} import(s) break the layers (arrows point down only; see `LAYERS` in tests/layers.rs):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("read dir").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn not_in_table(module: &str, place: &str) -> String {
    format!(
        "{place}: module `{module}` is not in the layer table: add it to `LAYERS` in tests/layers.rs with its rank"
    )
}

/// The violations in one file, `rel` being its path from the crate root
/// (`src/tui/mod.rs`); `on_disk` the top-level modules that exist.
fn check_file(rel: &str, text: &str, on_disk: &BTreeSet<String>) -> Vec<String> {
    let from = top_module(rel);
    let Some(from_rank) = rank_of(&from) else {
        return vec![not_in_table(&from, rel)];
    };
    let mut problems = Vec::new();
    for u in crate_paths(text, &module_path(rel)) {
        let to = if rank_of(&u.module).is_some() || on_disk.contains(&u.module) {
            u.module.clone()
        } else {
            ROOT.to_string()
        };
        if to == from {
            continue;
        }
        let Some(to_rank) = rank_of(&to) else {
            problems.push(format!(
                "{rel}:{}: `{}` names module `{to}`, which is not in the layer table: add it to `LAYERS` in tests/layers.rs with its rank",
                u.line, u.path
            ));
            continue;
        };
        let rule = if to_rank == from_rank {
            "siblings may not import each other"
        } else if to_rank > from_rank {
            "arrows point down only: a module may not import a higher rank"
        } else {
            continue;
        };
        problems.push(format!(
            "{rel}:{}: {from} (rank {from_rank}) imports {to} (rank {to_rank}) in `{}`: {rule}",
            u.line, u.path
        ));
    }
    problems
}

/// `src/tui/widgets/x.rs` -> `tui`; `src/cli.rs` -> `cli`; `src/lib.rs` -> `lib`.
fn top_module(rel: &str) -> String {
    let inner = rel.strip_prefix("src/").unwrap_or(rel);
    let first = inner.split('/').next().unwrap_or(inner);
    first.strip_suffix(".rs").unwrap_or(first).to_string()
}

/// The module a file is, as a path from the crate root: `src/tui/widgets/mod.rs`
/// -> `[tui, widgets]`, `src/net/client.rs` -> `[net, client]`, `src/lib.rs` -> `[]`.
fn module_path(rel: &str) -> Vec<String> {
    let inner = rel.strip_prefix("src/").unwrap_or(rel);
    let inner = inner.strip_suffix(".rs").unwrap_or(inner);
    let mut parts: Vec<String> = inner.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod")) {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is_ident(&self) -> bool {
        self.text
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
    }
}

/// The code of a Rust source as tokens with their lines: identifiers, `::` and
/// single punctuation characters. Comments (line, doc, nested block), strings
/// (plain, byte, C, raw) and character literals are left out; numbers too.
fn tokens(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1, &mut line);
        } else if ch == '\'' {
            if at(i + 1) == '\\' {
                // '\n', '\'', '\u{..}': the escaped character, then up to the quote.
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' && at(i + 1) != '\n' {
                i += 3;
            } else {
                // A lifetime or a label: its name follows as an identifier.
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            if matches!(word.as_str(), "r" | "br" | "cr") && matches!(at(i), '"' | '#') {
                let mut hashes = 0;
                let mut j = i;
                while at(j) == '#' {
                    hashes += 1;
                    j += 1;
                }
                if at(j) == '"' {
                    i = skip_raw_string(&c, j + 1, hashes, &mut line);
                    continue;
                }
            }
            out.push(Token { text: word, line });
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// Past the end of a string whose opening quote is just before `i`.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => {
                if c.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
            }
            '"' => return i + 1,
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Past the end of a raw string (`r#"..."#`) whose opening quote is just before `i`.
fn skip_raw_string(c: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < c.len() {
        if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        if c[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

/// One top-level module named through `crate::`.
#[derive(Debug, Clone, PartialEq)]
struct CratePath {
    line: usize,
    /// The first segment after `crate::`: a top-level module or a root item.
    module: String,
    /// The path as written, for the message: `crate::app::{update, Msg}`.
    path: String,
}

/// Every top-level module the code names from the crate root: `crate::x`,
/// each branch of `crate::{x, y::{z, w}}` (over any number of lines), and
/// `super::` chains that climb to the root. `here` is the file's module path.
fn crate_paths(src: &str, here: &[String]) -> Vec<CratePath> {
    let toks = tokens(src);
    let text = |i: usize| toks.get(i).map(|t| t.text.as_str()).unwrap_or("");
    let mut out = Vec::new();
    // Inline `mod name { .. }` blocks: their names and the brace depth they opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    for i in 0..toks.len() {
        match text(i) {
            "{" => {
                depth += 1;
                if i >= 2 && text(i - 2) == "mod" && toks[i - 1].is_ident() {
                    inline.push((toks[i - 1].text.clone(), depth));
                }
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "crate" if text(i + 1) == "::" && (i == 0 || text(i - 1) != "::") => {
                out.extend(from_root(&toks, i + 2));
            }
            "super" if text(i + 1) == "::" && (i == 0 || text(i - 1) != "::") => {
                let mut ups = 1;
                let mut j = i + 2;
                while text(j) == "super" && text(j + 1) == "::" {
                    ups += 1;
                    j += 2;
                }
                if ups == here.len() + inline.len() {
                    out.extend(from_root(&toks, j));
                }
            }
            _ => {}
        }
    }
    out
}

/// The modules named by the path tail starting at `p`, just after `crate::`.
fn from_root(toks: &[Token], p: usize) -> Vec<CratePath> {
    let Some(first) = toks.get(p) else {
        return Vec::new();
    };
    if first.text == "{" {
        let (branches, _) = group(toks, p);
        let mut out = Vec::new();
        for (start, end) in branches {
            branch_modules(toks, start, end, &mut out);
        }
        return out;
    }
    if !first.is_ident() || first.text == "self" || first.text == "super" {
        return Vec::new();
    }
    let end = path_end(toks, p);
    vec![CratePath {
        line: first.line,
        module: first.text.clone(),
        path: format!("crate::{}", render(&toks[p..end])),
    }]
}

/// One branch of a `crate::{..}` group, tokens `start..end`.
fn branch_modules(toks: &[Token], start: usize, end: usize, out: &mut Vec<CratePath>) {
    let Some(first) = toks.get(start).filter(|_| start < end) else {
        return;
    };
    if first.text == "{" {
        // `crate::{{a, b}}`: a nested group is still at the root.
        let (branches, _) = group(toks, start);
        for (s, e) in branches {
            branch_modules(toks, s, e, out);
        }
    } else if first.is_ident() && first.text != "self" {
        out.push(CratePath {
            line: first.line,
            module: first.text.clone(),
            path: format!("crate::{}", render(&toks[start..end])),
        });
    }
}

/// The branches (token ranges) of the `{ .. }` group opening at `open`, and
/// the index just past its closing brace.
fn group(toks: &[Token], open: usize) -> (Vec<(usize, usize)>, usize) {
    let mut branches = Vec::new();
    let mut depth = 0;
    let mut start = open + 1;
    let mut i = open;
    while i < toks.len() {
        match toks[i].text.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    if start < i {
                        branches.push((start, i));
                    }
                    return (branches, i + 1);
                }
            }
            "," if depth == 1 => {
                if start < i {
                    branches.push((start, i));
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    (branches, i)
}

/// Just past a path starting at `p`: `a::b::c`, `a::{..}`, `a::*`.
fn path_end(toks: &[Token], p: usize) -> usize {
    let mut i = p + 1;
    while toks.get(i).is_some_and(|t| t.text == "::") {
        match toks.get(i + 1) {
            Some(t) if t.text == "{" => return group(toks, i + 1).1,
            Some(t) if t.is_ident() || t.text == "*" => i += 2,
            _ => break,
        }
    }
    i
}

/// Tokens back to source-like text: `app::{update, Msg}`, `net::Side as S`.
fn render(toks: &[Token]) -> String {
    let mut s = String::new();
    let mut prev: Option<&Token> = None;
    for t in toks {
        if let Some(p) = prev {
            if (p.is_ident() && t.is_ident()) || (p.text == "," && t.text != "}") {
                s.push(' ');
            }
        }
        s.push_str(&t.text);
        prev = Some(t);
    }
    s
}

/// The parser and the rule on small made-up sources, so the test can be seen
/// to catch a wrong-way import without a wrong-way import in `src/`.
mod self_test {
    use super::*;

    fn modules(src: &str) -> Vec<String> {
        crate_paths(src, &["net".to_string(), "client".to_string()])
            .into_iter()
            .map(|u| u.module)
            .collect()
    }

    fn on_disk() -> BTreeSet<String> {
        LAYERS.iter().map(|(m, _)| m.to_string()).collect()
    }

    #[test]
    fn a_use_tree_names_each_branch() {
        assert_eq!(
            modules("use crate::{net::Side, app::{update, Msg}};"),
            ["net", "app"]
        );
        assert_eq!(modules("use crate::tui::theme::Theme;"), ["tui"]);
        assert_eq!(
            modules("use crate::{{app, bench::x}, record};"),
            ["app", "bench", "record"]
        );
        assert_eq!(modules("pub use crate::net::Side as S;"), ["net"]);
    }

    #[test]
    fn a_multi_line_use_tree_keeps_each_line() {
        let src = "//! crate::run is not this\nuse crate::{\n    net::{\n        Side,\n    },\n    app::Msg,\n};\n";
        let got = crate_paths(src, &[]);
        let lines: Vec<(usize, &str)> = got.iter().map(|u| (u.line, u.module.as_str())).collect();
        assert_eq!(lines, [(3, "net"), (6, "app")]);
        assert_eq!(got[0].path, "crate::net::{Side,}");
        assert_eq!(got[1].path, "crate::app::Msg");
    }

    #[test]
    fn inline_paths_in_code_count() {
        assert_eq!(
            modules("fn f() { let x = crate::headless::output::human_line(&e); }"),
            ["headless"]
        );
        assert_eq!(
            modules("struct S { r: Option<crate::record::Recorder> }"),
            ["record"]
        );
        assert_eq!(
            modules("macro_rules! m { () => { $crate::units::x() } }"),
            ["units"]
        );
        assert_eq!(
            modules("fn f<'a>(s: &'a str) -> crate::units::Size { todo!() }"),
            ["units"]
        );
        assert_eq!(
            crate_paths("let s = crate::escape::escape_text(&t, 60);", &[])[0].path,
            "crate::escape::escape_text"
        );
    }

    #[test]
    fn comments_and_strings_name_nothing() {
        assert!(modules("// crate::tui").is_empty());
        assert!(modules("/// see [`crate::tui::fit`]\nfn f() {}").is_empty());
        assert!(modules("//! crate::tui").is_empty());
        assert!(modules("/* crate::tui /* nested */ crate::tui */").is_empty());
        assert!(modules(r#"let s = "crate::tui \" crate::tui";"#).is_empty());
        assert!(modules(r##"let s = r#"crate::tui "quoted" crate::tui"#;"##).is_empty());
        assert!(modules(r#"let s = b"crate::tui"; let t = br"crate::tui";"#).is_empty());
        assert!(modules("#[doc = \"crate::tui\"] fn f() {}").is_empty());
        // A quote in a character literal opens no string.
        assert_eq!(modules("let q = '\"'; crate::app::x();"), ["app"]);
        assert_eq!(modules(r"let q = '\''; crate::app::x();"), ["app"]);
        assert!(modules("pub(crate) fn f() {}").is_empty());
    }

    #[test]
    fn super_is_resolved_only_when_it_reaches_the_root() {
        // In src/net/client.rs: `super` is net, `super::super` the root.
        assert!(modules("use super::Side; use super::*;").is_empty());
        assert_eq!(modules("use super::super::tui::X;"), ["tui"]);
        // Inside `mod tests` one more `super` is needed.
        assert!(modules("mod tests { use super::super::Side; }").is_empty());
        assert_eq!(
            modules("mod tests { use super::super::super::{tui::X, net::Y}; }"),
            ["tui", "net"]
        );
        // After the inline module, its level is gone again.
        assert_eq!(modules("mod a { } use super::super::app::X;"), ["app"]);
    }

    #[test]
    fn module_paths_of_files() {
        assert_eq!(module_path("src/lib.rs"), Vec::<String>::new());
        assert_eq!(module_path("src/tui/mod.rs"), ["tui"]);
        assert_eq!(
            module_path("src/tui/widgets/frames.rs"),
            ["tui", "widgets", "frames"]
        );
        assert_eq!(top_module("src/tui/widgets/frames.rs"), "tui");
        assert_eq!(top_module("src/units.rs"), "units");
    }

    #[test]
    fn a_wrong_way_import_is_reported_with_file_line_path_and_rule() {
        let src = "//! net\n\nuse crate::error::NetError;\nuse crate::tui::theme::Theme;\n";
        assert_eq!(
            check_file("src/net/client.rs", src, &on_disk()),
            ["src/net/client.rs:4: net (rank 3) imports tui (rank 8) in `crate::tui::theme::Theme`: arrows point down only: a module may not import a higher rank"]
        );
    }

    #[test]
    fn siblings_are_reported() {
        assert_eq!(
            check_file("src/tui/mod.rs", "use crate::headless::server::shutdown_close;", &on_disk()),
            ["src/tui/mod.rs:1: tui (rank 8) imports headless (rank 8) in `crate::headless::server::shutdown_close`: siblings may not import each other"]
        );
        assert_eq!(
            check_file(
                "src/app/update.rs",
                "fn f() { crate::bench::x(); }",
                &on_disk()
            )
            .len(),
            1
        );
    }

    #[test]
    fn tests_inside_a_module_are_checked_too() {
        let src = "#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() { crate::headless::output::human_line(); }\n}\n";
        let got = check_file("src/net/mod.rs", src, &on_disk());
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("src/net/mod.rs:4: net (rank 3) imports headless (rank 8)"));
    }

    #[test]
    fn down_and_within_are_fine() {
        let src = "use crate::tui::theme::Theme;\nuse crate::app::AppState;\nuse crate::net::Side;\nuse crate::{present, units::x};\nuse super::fit;";
        assert!(check_file("src/tui/widgets/frames.rs", src, &on_disk()).is_empty());
        assert!(check_file(
            "src/lib.rs",
            "use crate::run::x; crate::exit_code();",
            &on_disk()
        )
        .is_empty());
    }

    #[test]
    fn root_items_rank_as_lib() {
        let got = check_file(
            "src/net/mod.rs",
            "fn f() { crate::exit_code(); }",
            &on_disk(),
        );
        assert_eq!(
            got,
            ["src/net/mod.rs:1: net (rank 3) imports lib (rank 12) in `crate::exit_code`: arrows point down only: a module may not import a higher rank"]
        );
    }

    #[test]
    fn a_module_missing_from_the_table_fails() {
        let got = check_file("src/widgetry/mod.rs", "use crate::net::Side;", &on_disk());
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("add it to `LAYERS`"), "{}", got[0]);
        let mut disk = on_disk();
        disk.insert("widgetry".into());
        let got = check_file("src/tui/ui.rs", "use crate::widgetry::X;", &disk);
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("src/tui/ui.rs:1: `crate::widgetry::X` names module `widgetry`"),
            "{}",
            got[0]
        );
        assert!(got[0].contains("add it to `LAYERS`"), "{}", got[0]);
    }

    #[test]
    fn a_real_file_with_a_wrong_way_import_fails() {
        // src/net/rtt.rs as it is, plus one arrow pointing up: caught, nothing else is.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/net/rtt.rs");
        let mut text = std::fs::read_to_string(path).expect("read src/net/rtt.rs");
        let before = check_file("src/net/rtt.rs", &text, &on_disk());
        let line = text.lines().count() + 3;
        text.push_str(
            "\n// crate::tui here is a comment\nfn up() -> crate::tui::theme::Theme { todo!() }\n",
        );
        let got = check_file("src/net/rtt.rs", &text, &on_disk());
        assert_eq!(got.len(), before.len() + 1, "{got:#?}");
        assert_eq!(
            got.last().unwrap(),
            &format!("src/net/rtt.rs:{line}: net (rank 3) imports tui (rank 8) in `crate::tui::theme::Theme`: arrows point down only: a module may not import a higher rank")
        );
    }

    #[test]
    fn the_table_has_the_planned_folders() {
        let rank = |m: &str| rank_of(m).unwrap_or_else(|| panic!("{m} has no rank"));
        assert!(rank("frames") < rank("net"), "net wears the frame layer");
        assert!(rank("proto") < rank("app"), "the panes decode protocols");
        assert!(rank("present") < rank("proto"));
    }
}
