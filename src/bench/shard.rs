//! `--shard I/N`: one worker of N takes its share of the connections, the
//! messages and the rate, so N processes (pods, machines) together make the
//! load one process would, and their `--hdr-out` files merge into its report.

use std::fmt;

/// Worker `index` of `count`, counted from 0 like Kubernetes'
/// `JOB_COMPLETION_INDEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`; `/N` alone (or `N` with `index`) takes I from `index`,
    /// which the caller reads from `JOB_COMPLETION_INDEX`.
    pub fn parse(s: &str, index: Option<&str>) -> Result<Shard, String> {
        let hint = "expected I/N with 0 <= I < N, e.g. 0/4 (or /4 with JOB_COMPLETION_INDEX set)";
        let (i, n) = match s.split_once('/') {
            Some((i, n)) => (i.trim(), n.trim()),
            None => ("", s.trim()),
        };
        let count: u64 = n
            .parse()
            .map_err(|_| format!("`{s}`: `{n}` is not a number of workers: {hint}"))?;
        let i = match (i, index) {
            ("", Some(env)) => env.trim(),
            ("", None) => {
                return Err(format!(
                    "`{s}` names no worker and JOB_COMPLETION_INDEX is not set: {hint}"
                ))
            }
            (i, _) => i,
        };
        let index: u64 = i
            .parse()
            .map_err(|_| format!("`{s}`: `{i}` is not a worker number: {hint}"))?;
        if count == 0 || index >= count {
            return Err(format!("`{index}/{count}` is not a worker: {hint}"));
        }
        Ok(Shard { index, count })
    }

    /// This worker's part of `total` things split as evenly as they go: the
    /// first `total % count` workers take one more. The parts add up to `total`.
    pub fn part(&self, total: u64) -> u64 {
        total / self.count + u64::from(self.index < total % self.count)
    }

    /// Where this worker's part of `total` starts: worker i's things are
    /// numbered `first(total)..first(total) + part(total)` over all workers.
    pub fn first(&self, total: u64) -> u64 {
        let (q, r) = (total / self.count, total % self.count);
        self.index * q + self.index.min(r)
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_whole_once() {
        for total in [0u64, 1, 7, 10, 1000, 1001] {
            for count in 1..=6u64 {
                let mut next = 0;
                for index in 0..count {
                    let s = Shard { index, count };
                    assert_eq!(s.first(total), next, "{total} over {count}");
                    next += s.part(total);
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Shard::parse("1/4", None), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(
            Shard::parse("/4", Some("3")),
            Ok(Shard { index: 3, count: 4 })
        );
        assert_eq!(
            Shard::parse("4", Some("0")),
            Ok(Shard { index: 0, count: 4 })
        );
        // Said on the command line, I wins over the environment.
        assert_eq!(
            Shard::parse("2/4", Some("3")),
            Ok(Shard { index: 2, count: 4 })
        );
        for bad in ["4/4", "0/0", "a/4", "1/b", "/4"] {
            assert!(Shard::parse(bad, None).is_err(), "{bad}");
        }
        assert!(Shard::parse("/4", Some("7")).unwrap_err().contains("7/4"));
    }
}
