use crate::{EndpointSet, Rng};

use super::{Picker, Request, Strategy};

/// Weighted random: each endpoint with probability proportional to its instance's weight,
/// drawn in constant time from an alias table (Vose's method) built once per set.
///
/// Chosen over smooth weighted round robin (nginx's), which is exact over a round but must
/// update every endpoint's counter under a lock on each pick; this one shares nothing between
/// calls and is exact in expectation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Weighted;

impl Strategy for Weighted {
    fn name(&self) -> &'static str {
        "weighted"
    }

    fn picker(&self, set: &EndpointSet, rng: Rng) -> Box<dyn Picker> {
        let weights: Vec<u64> = set.endpoints().iter().map(|e| e.weight().into()).collect();
        let (threshold, alias) = alias_table(&weights);
        Box::new(WeightedPicker {
            set: set.clone(),
            rng,
            threshold,
            alias,
        })
    }
}

/// Vose's alias table: column `i` is taken with probability `threshold[i] / 2^64`, otherwise
/// its alias (`u64::MAX` stands for certainty).
fn alias_table(weights: &[u64]) -> (Vec<u64>, Vec<u32>) {
    let n = weights.len();
    let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if n == 0 || total == 0 {
        return (vec![u64::MAX; n], (0..n as u32).collect());
    }
    // Scaled so that the average column holds exactly `total`.
    let mut scaled: Vec<u128> = weights.iter().map(|&w| u128::from(w) * n as u128).collect();
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < total);
    let mut threshold = vec![u64::MAX; n];
    let mut alias: Vec<u32> = (0..n as u32).collect();
    while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
        threshold[s] = ((scaled[s] << 64) / total).min(u128::from(u64::MAX)) as u64;
        alias[s] = l as u32;
        scaled[l] -= total - scaled[s];
        if scaled[l] < total {
            large.pop();
            small.push(l);
        }
    }
    // Whatever is left holds exactly the average, up to rounding: always itself.
    (threshold, alias)
}

#[derive(Debug)]
struct WeightedPicker {
    set: EndpointSet,
    rng: Rng,
    threshold: Vec<u64>,
    alias: Vec<u32>,
}

impl WeightedPicker {
    #[inline]
    fn draw(&self) -> usize {
        let column = self.rng.below(self.set.len());
        let t = self.threshold[column];
        if t == u64::MAX || self.rng.u64() < t {
            column
        } else {
            self.alias[column] as usize
        }
    }
}

impl Picker for WeightedPicker {
    fn pick(&self, request: &Request<'_>) -> Option<usize> {
        if self.set.is_empty() {
            return None;
        }
        // A few draws find an eligible endpoint unless most of the weight is not eligible...
        for _ in 0..4 {
            let i = self.draw();
            if request.eligible(&self.set[i]) {
                return Some(i);
            }
        }
        // ...and then a walk over the eligible ones, still in proportion to weight.
        let eligible_weight: u64 = self
            .set
            .endpoints()
            .iter()
            .filter(|e| request.eligible(e))
            .map(|e| u64::from(e.weight()))
            .sum();
        if eligible_weight == 0 {
            return None;
        }
        let mut target = ((u128::from(self.rng.u64()) * u128::from(eligible_weight)) >> 64) as u64;
        for (i, e) in self.set.endpoints().iter().enumerate() {
            if !request.eligible(e) {
                continue;
            }
            let w = u64::from(e.weight());
            if target < w {
                return Some(i);
            }
            target -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_table_keeps_each_weight() {
        for weights in [
            vec![1u64, 1, 1],
            vec![1, 2, 3, 4],
            vec![100, 1],
            vec![7],
            vec![5, 0, 5],
        ] {
            let (threshold, alias) = alias_table(&weights);
            let n = weights.len() as f64;
            let total: u64 = weights.iter().sum();
            let mut share = vec![0f64; weights.len()];
            for i in 0..weights.len() {
                let p = if threshold[i] == u64::MAX {
                    1.0
                } else {
                    threshold[i] as f64 / 2f64.powi(64)
                };
                share[i] += p / n;
                share[alias[i] as usize] += (1.0 - p) / n;
            }
            for (i, &w) in weights.iter().enumerate() {
                let want = w as f64 / total as f64;
                assert!((share[i] - want).abs() < 1e-9, "{weights:?}: {share:?}");
            }
        }
    }
}
