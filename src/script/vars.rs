//! `${NAME}` and `${env:NAME}` in a script's lines: where they are (so an
//! undefined one can be pointed at), and the line with their values in.

use std::collections::HashMap;

/// A reference as written: `${NAME}` or `${env:NAME}`, at `start..end` of the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    pub start: usize,
    pub end: usize,
    pub name: String,
    pub env: bool,
}

impl Ref {
    /// As it was written, for messages.
    pub fn written(&self) -> String {
        match self.env {
            true => format!("${{env:{}}}", self.name),
            false => format!("${{{}}}", self.name),
        }
    }
}

/// A reference that cannot be read: byte offset, length and why.
pub type Bad = (usize, usize, String);

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name `/set`, `/capture` and `--var` accept.
pub fn check_name(name: &str) -> Result<(), String> {
    match is_name(name) {
        true => Ok(()),
        false => Err(format!(
            "`{name}` is not a variable name: letters, digits and _, not starting with a digit"
        )),
    }
}

/// Every reference in `text`, in order; `$${` is a literal `${` and names none.
pub fn refs(text: &str) -> Result<Vec<Ref>, Bad> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(found) = text[i..].find("${") {
        let start = i + found;
        if start > 0 && text.as_bytes()[start - 1] == b'$' {
            i = start + 2;
            continue;
        }
        let Some(close) = text[start..].find('}') else {
            return Err((
                start,
                text.len() - start,
                "`${` is not closed: write ${NAME} (or $${ for a literal ${)".into(),
            ));
        };
        let end = start + close + 1;
        let inner = &text[start + 2..end - 1];
        let (name, env) = match inner.strip_prefix("env:") {
            Some(n) => (n, true),
            None => (inner, false),
        };
        if !is_name(name) {
            return Err((
                start,
                end - start,
                format!(
                    "`{}` is not a variable: write ${{NAME}} or ${{env:NAME}}",
                    &text[start..end]
                ),
            ));
        }
        out.push(Ref {
            start,
            end,
            name: name.to_string(),
            env,
        });
        i = end;
    }
    Ok(out)
}

/// `text` with each reference replaced by what `value` says (passed through
/// `escape`), and `$${` by `${`; the first reference without a value fails.
pub fn substitute(
    text: &str,
    value: impl Fn(&Ref) -> Option<String>,
    escape: impl Fn(&str) -> String,
) -> Result<String, Bad> {
    let refs = refs(text)?;
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in &refs {
        out.push_str(&text[at..r.start].replace("$${", "${"));
        let v = value(r).ok_or_else(|| {
            let what = match r.env {
                true => format!("the environment variable {} is not set", r.name),
                false => format!(
                    "{} is not defined here: /set or /capture it on an earlier line, or pass --var {}=VALUE",
                    r.written(),
                    r.name
                ),
            };
            (r.start, r.end - r.start, what)
        })?;
        out.push_str(&escape(&v));
        at = r.end;
    }
    out.push_str(&text[at..].replace("$${", "${"));
    Ok(out)
}

/// A script's variables: `--var` values win over the script's own `/set`, so
/// a CI job can override a default written in the script.
#[derive(Clone, Debug, Default)]
pub struct Vars {
    values: HashMap<String, String>,
    fixed: HashMap<String, String>,
}

impl Vars {
    /// With `--var NAME=VALUE` overrides.
    pub fn new(fixed: &[(String, String)]) -> Vars {
        Vars {
            values: HashMap::new(),
            fixed: fixed.iter().cloned().collect(),
        }
    }

    pub fn set(&mut self, name: &str, value: String) {
        self.values.insert(name.to_string(), value);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fixed
            .get(name)
            .or_else(|| self.values.get(name))
            .map(String::as_str)
    }

    /// `text` with every `${NAME}` and `${env:NAME}` in it replaced; `env`
    /// reads the environment (a test gives its own).
    pub fn fill(
        &self,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        escape: impl Fn(&str) -> String,
    ) -> Result<String, Bad> {
        substitute(
            text,
            |r| match r.env {
                true => env(&r.name),
                false => self.get(&r.name).map(str::to_string),
            },
            escape,
        )
    }
}

/// `NAME=VALUE` as `--var` takes it.
pub fn parse_var(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    check_name(name)?;
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn references_are_found_with_where_they_are() {
        let r = refs("a ${x} b ${env:HOME}").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].start, r[0].end, r[0].name.as_str(), r[0].env),
            (2, 6, "x", false)
        );
        assert_eq!((r[1].name.as_str(), r[1].env), ("HOME", true));
        assert!(refs("cost $5 and $${x}").unwrap().is_empty());
        assert_eq!(refs("x ${oops").unwrap_err().0, 2);
        let bad = refs("x ${1a} y").unwrap_err();
        assert_eq!((bad.0, bad.1), (2, 5));
        assert!(refs("${}").is_err());
    }

    #[test]
    fn values_fill_in_and_env_is_read() {
        let mut v = Vars::new(&[]);
        v.set("id", "42".into());
        let env = |n: &str| (n == "TOKEN").then(|| "t0k".to_string());
        assert_eq!(
            v.fill(
                "{\"id\":${id},\"t\":\"${env:TOKEN}\"} $${lit}",
                &env,
                str::to_string
            )
            .unwrap(),
            "{\"id\":42,\"t\":\"t0k\"} ${lit}"
        );
        let (at, len, why) = v.fill("x ${nope}", &no_env, str::to_string).unwrap_err();
        assert_eq!((at, len), (2, 7));
        assert!(why.contains("not defined"), "{why}");
        let (_, _, why) = v
            .fill("${env:NOPE_X}", &no_env, str::to_string)
            .unwrap_err();
        assert!(why.contains("environment variable NOPE_X"), "{why}");
        assert_eq!(
            v.fill("a.${id}", &no_env, |s| format!("<{s}>")).unwrap(),
            "a.<42>"
        );
    }

    #[test]
    fn a_var_from_the_command_line_wins_over_set() {
        let mut v = Vars::new(&[("host".into(), "ci".into())]);
        v.set("host", "local".into());
        assert_eq!(v.get("host"), Some("ci"));
        assert_eq!(parse_var("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_var("1x=2").is_err());
        assert!(parse_var("novalue").is_err());
    }
}
