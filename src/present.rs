//! Wording shared by the screen and the line output.

/// `1 connection`, `2 connections`: a count with its noun in agreement.
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What a server with a self-signed certificate says about it, on stderr and
/// above its dashboard: the fingerprint and how a client trusts it.
pub fn self_signed_note(fingerprint: &str, url: &str, ca_file: &std::path::Path) -> String {
    format!(
        "self-signed certificate, SHA-256 {fingerprint}\ntrust it: wsprobe client {url} --ca {} (removed when the server stops)\nor skip checks: wsprobe client {url} --insecure",
        ca_file.display()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(super::count(1, "connection", "connections"), "1 connection");
        assert_eq!(
            super::count(0, "connection", "connections"),
            "0 connections"
        );
        assert_eq!(super::count(2, "error", "errors"), "2 errors");
    }
}
