//! Values people write: sizes, durations, speeds, percentages and close codes.
//! One place for the command line and the slash commands alike.

use std::time::Duration;

pub fn parse_speed(s: &str) -> Result<f64, String> {
    match s.trim().trim_end_matches('x').parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!(
            "`{s}` is not a speed: use a number like 1 (original spacing), 10 (ten times as fast) or 0 (no waiting)"
        )),
    }
}

/// `1500`, `64KiB`, `1MiB`, `2MB`: a byte count.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; try 1048576, 64KiB or 1MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`; use B, KiB, MiB or GiB"
            ))
        }
    };
    n.checked_mul(mult)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A close code a server may send (RFC 6455 §7.4).
pub fn parse_close_code(s: &str) -> Result<u16, String> {
    let code: u16 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a close code"))?;
    if matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        Ok(code)
    } else {
        Err(format!(
            "{code} cannot be sent; use 1000–1003, 1007–1014 or 3000–4999"
        ))
    }
}

/// `500ms`, `5s`, `1m`; a bare number means seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if (0.0..1e9).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("`{s}` is not a usable duration"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("`{s}` is not a duration ({e}); try 500ms, 5s or 1m"))
}

/// `5%`, `5`, `0.5%`: a percentage from 0 to 100.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%');
    let v: f64 = t
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage; try 5% or 0.5"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` is not between 0% and 100%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2mb"), Ok(2_000_000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("NaN").is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("5%"), Ok(5.0));
        assert_eq!(parse_percent("0.5"), Ok(0.5));
        assert!(parse_percent("101%").is_err());
        assert!(parse_percent("lots").is_err());
    }

    #[test]
    fn close_codes_are_those_a_peer_may_send() {
        assert_eq!(parse_close_code("1000"), Ok(1000));
        assert_eq!(parse_close_code(" 4001 "), Ok(4001));
        assert!(parse_close_code("1005")
            .unwrap_err()
            .contains("cannot be sent"));
        assert!(parse_close_code("2999").is_err());
        assert!(parse_close_code("bye")
            .unwrap_err()
            .contains("not a close code"));
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("2"), Ok(2.0));
        assert_eq!(parse_speed("10x"), Ok(10.0));
        assert_eq!(parse_speed("0"), Ok(0.0));
        assert!(parse_speed("-1").is_err());
        assert!(parse_speed("fast").is_err());
    }
}
