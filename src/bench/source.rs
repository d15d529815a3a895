//! `--source`: the local addresses connections are spread over, so one machine
//! can hold more connections to one server than one address has ephemeral ports.

use std::net::IpAddr;

/// Parses `ADDR[,ADDR…]`, each item an address or an inclusive range of IPv4
/// addresses such as `127.0.0.2-127.0.0.9`.
pub fn parse_sources(s: &str) -> Result<Vec<IpAddr>, String> {
    let hint = "expected addresses like 127.0.0.2,127.0.0.3 or a range like 127.0.0.2-127.0.0.9";
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("`{s}` has an empty item: {hint}"));
        }
        match item.split_once('-') {
            None => out.push(parse_one(item, hint)?),
            Some((a, b)) => out.extend(range(parse_one(a, hint)?, parse_one(b, hint)?)?),
        }
    }
    if out.len() > MAX_SOURCES {
        return Err(format!(
            "`{s}` names {} addresses; at most {MAX_SOURCES} are taken",
            out.len()
        ));
    }
    Ok(out)
}

/// More addresses than any one machine has a use for is a typo in a range.
const MAX_SOURCES: usize = 65_536;

fn parse_one(s: &str, hint: &str) -> Result<IpAddr, String> {
    let s = s.trim();
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("`{s}` is not an IP address: {hint}"))
}

fn range(a: IpAddr, b: IpAddr) -> Result<Vec<IpAddr>, String> {
    let (IpAddr::V4(a), IpAddr::V4(b)) = (a, b) else {
        return Err(format!(
            "`{a}-{b}`: ranges are for IPv4 addresses; list IPv6 ones with commas"
        ));
    };
    let (lo, hi) = (u32::from(a), u32::from(b));
    if lo > hi {
        return Err(format!("`{a}-{b}` runs backwards: the lower address first"));
    }
    if (hi - lo) as usize >= MAX_SOURCES {
        return Err(format!(
            "`{a}-{b}` spans {} addresses; at most {MAX_SOURCES} are taken",
            u64::from(hi - lo) + 1
        ));
    }
    Ok((lo..=hi)
        .map(|v| IpAddr::V4(std::net::Ipv4Addr::from(v)))
        .collect())
}

/// The source address of connection `i`: round robin, none without `--source`.
pub fn pick(sources: &[IpAddr], i: usize) -> Option<IpAddr> {
    (!sources.is_empty()).then(|| sources[i % sources.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        let v = parse_sources("127.0.0.2-127.0.0.4,::1, 10.0.0.1").unwrap();
        let shown: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            shown,
            ["127.0.0.2", "127.0.0.3", "127.0.0.4", "::1", "10.0.0.1"]
        );
        assert_eq!(parse_sources("[::1]").unwrap().len(), 1);
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        for (bad, says) in [
            ("127.0.0.9-127.0.0.2", "backwards"),
            ("localhost", "not an IP address"),
            ("127.0.0.1,", "empty item"),
            ("::1-::2", "IPv4"),
            ("10.0.0.0-10.255.255.255", "at most"),
        ] {
            let e = parse_sources(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn round_robin() {
        let v = parse_sources("127.0.0.2,127.0.0.3").unwrap();
        let picked: Vec<_> = (0..4).map(|i| pick(&v, i).unwrap().to_string()).collect();
        assert_eq!(picked, ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"]);
        assert_eq!(pick(&[], 3), None);
    }
}
