//! Time-ordered 64-bit ids: `ms_since_epoch << 16 | node (6 bits) << 10 | seq (10 bits)`.
//! Sorting ids sorts by creation time; clients see them as decimal strings.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Id(pub u64);

impl Id {
    pub fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Milliseconds since the Unix epoch at which this id was made.
    pub fn millis(self) -> i64 {
        (self.0 >> 16) as i64
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Id {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u64>().map(Id)
    }
}

const SEQ_BITS: u32 = 10;
const NODE_BITS: u32 = 6;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// Hands out strictly increasing ids for one node. Lock-free: one CAS per id.
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    last: AtomicU64,
}

impl IdGenerator {
    pub fn new(node: u8) -> Self {
        Self { node: u64::from(node) & ((1 << NODE_BITS) - 1), last: AtomicU64::new(0) }
    }

    /// Makes sure later ids are above `floor` (for example the largest id found in
    /// storage at start-up, in case the clock went backwards across a restart).
    pub fn observe(&self, floor: Id) {
        self.last.fetch_max(floor.0, Ordering::SeqCst);
    }

    pub fn next_id(&self) -> Id {
        self.next_at(crate::domain::time::now_millis())
    }

    fn next_at(&self, now_ms: i64) -> Id {
        let now_ms = now_ms.max(0) as u64;
        let mut last = self.last.load(Ordering::SeqCst);
        loop {
            let last_ms = last >> 16;
            let (ms, seq) = if now_ms > last_ms {
                (now_ms, 0)
            } else if (last & SEQ_MASK) < SEQ_MASK {
                (last_ms, (last & SEQ_MASK) + 1)
            } else {
                // 1,024 ids in one millisecond on this node: borrow the next millisecond.
                (last_ms + 1, 0)
            };
            let id = ms << 16 | self.node << SEQ_BITS | seq;
            match self.last.compare_exchange_weak(last, id, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Id(id),
                Err(actual) => last = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_and_carry_time_and_node() {
        let generator = IdGenerator::new(5);
        let a = generator.next_at(1_000);
        assert_eq!(a.millis(), 1_000);
        assert_eq!((a.0 >> 10) & 0x3f, 5);
        let mut prev = a;
        for _ in 0..5_000 {
            let id = generator.next_at(1_000);
            assert!(id > prev);
            prev = id;
        }
        // The clock going backwards never yields a smaller id.
        assert!(generator.next_at(10) > prev);
    }

    #[test]
    fn observe_raises_the_floor() {
        let generator = IdGenerator::new(0);
        generator.observe(Id(u64::from(u32::MAX) << 20));
        assert!(generator.next_at(1).0 > u64::from(u32::MAX) << 20);
    }

    #[test]
    fn decimal_round_trip() {
        let id = Id(109_876_543_210_123_456);
        assert_eq!(id.to_string().parse::<Id>().unwrap(), id);
        assert!("x1".parse::<Id>().is_err());
    }
}
