//! The random numbers pickers draw: the thread's own generator by default (no shared state on
//! the call path), or a seeded sequence shared by the picker so tests and simulations repeat.

use std::sync::atomic::{AtomicU64, Ordering};

const WY_ADD: u64 = 0xa076_1d64_78bd_642f;
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

/// A source of random numbers for a picker.
#[derive(Debug, Default)]
pub struct Rng {
    /// A wyrand state advanced atomically, when seeded.
    seeded: Option<AtomicU64>,
}

impl Rng {
    /// Draws from the calling thread's generator.
    pub fn thread_local() -> Rng {
        Rng { seeded: None }
    }

    /// A repeatable sequence starting from `seed`.
    pub fn seeded(seed: u64) -> Rng {
        Rng {
            seeded: Some(AtomicU64::new(seed)),
        }
    }

    /// A random `u64`.
    #[inline]
    pub fn u64(&self) -> u64 {
        match &self.seeded {
            None => fastrand::u64(..),
            Some(state) => {
                // wyrand, the generator fastrand uses, with its state advanced atomically.
                let s = state
                    .fetch_add(WY_ADD, Ordering::Relaxed)
                    .wrapping_add(WY_ADD);
                let t = u128::from(s) * u128::from(s ^ WY_XOR);
                (t as u64) ^ ((t >> 64) as u64)
            }
        }
    }

    /// A random index below `n` (which must not be 0), without division.
    #[inline]
    pub fn below(&self, n: usize) -> usize {
        ((u128::from(self.u64()) * n as u128) >> 64) as usize
    }

    /// Two different random indices below `n` (which must be at least 2).
    #[inline]
    pub fn two_below(&self, n: usize) -> (usize, usize) {
        let a = self.below(n);
        let mut b = self.below(n - 1);
        if b >= a {
            b += 1;
        }
        (a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_stay_in_range() {
        let (a, b) = (Rng::seeded(7), Rng::seeded(7));
        for _ in 0..1000 {
            assert_eq!(a.u64(), b.u64());
        }
        let r = Rng::seeded(1);
        for n in 2..50 {
            let (x, y) = r.two_below(n);
            assert!(x < n && y < n && x != y);
        }
    }
}
