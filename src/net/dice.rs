//! A small random generator, shared by the client (reconnect jitter) and the
//! server's faults (which echoes to drop, how much to delay), hence here in `net`.

/// A small xorshift generator: enough to pick which echoes to drop or how long to
/// wait before a retry, with no dependency and no lock shared between connections.
#[derive(Clone, Debug)]
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Dice(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// True with `percent` % probability.
    pub fn roll(&mut self, percent: f64) -> bool {
        if percent <= 0.0 {
            return false;
        }
        if percent >= 100.0 {
            return true;
        }
        (self.next() % 1_000_000) as f64 / 10_000.0 < percent
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_rolls_about_the_asked_share() {
        let mut d = Dice::new(42);
        let hits = (0..100_000).filter(|_| d.roll(5.0)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
        assert!(!Dice::new(1).roll(0.0));
        assert!(Dice::new(1).roll(100.0));
    }
}
