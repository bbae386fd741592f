//! Key choice: which of the `keyspace` keys (numbered `0..keyspace`) each request names.
//!
//! - `uniform`: every key equally likely.
//! - `sequential`: each thread walks its own contiguous share of the keyspace in order, wrapping
//!   around, so `--requests N --keyspace N` with SETs writes every key exactly once.
//! - `zipf:S`: key of rank k (k = 1..N, key number k-1) with probability ∝ 1/k^S, drawn in O(1)
//!   without tables by rejection-inversion sampling (Hörmann and Derflinger, "Rejection-inversion
//!   to generate variates from monotone discrete distributions", 1996).
//! - `hot:SHARE:KEYS`: a SHARE of the requests (0.9 or 90%) goes uniformly to the first KEYS keys,
//!   the rest uniformly to the whole keyspace.

use rand::rngs::SmallRng;
use rand::Rng;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Distribution {
    Uniform,
    Sequential,
    Zipf { exponent: f64 },
    Hot { share: f64, keys: u64 },
}

impl std::str::FromStr for Distribution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["uniform"] | ["random"] => Ok(Distribution::Uniform),
            ["sequential"] | ["seq"] => Ok(Distribution::Sequential),
            ["zipf", e] => {
                let exponent: f64 = e.parse().map_err(|_| format!("bad Zipf exponent '{e}'"))?;
                if !(exponent > 0.0 && exponent.is_finite()) {
                    return Err("the Zipf exponent must be > 0".into());
                }
                Ok(Distribution::Zipf { exponent })
            }
            ["hot", share, keys] => {
                let share = match share.strip_suffix('%') {
                    Some(p) => p.parse::<f64>().map(|p| p / 100.0),
                    None => share.parse::<f64>(),
                }
                .map_err(|_| format!("bad hot share '{share}'"))?;
                if !(0.0..=1.0).contains(&share) {
                    return Err("the hot share must be within 0..1 (or 0%..100%)".into());
                }
                let keys: u64 = keys
                    .parse()
                    .map_err(|_| format!("bad hot key count '{keys}'"))?;
                if keys == 0 {
                    return Err("the hot key count must be > 0".into());
                }
                Ok(Distribution::Hot { share, keys })
            }
            _ => Err(format!(
                "unknown distribution '{s}' (uniform, sequential, zipf:S, hot:SHARE:KEYS)"
            )),
        }
    }
}

/// The per-thread key generator.
#[derive(Clone, Debug)]
pub enum KeyGen {
    Uniform { n: u64 },
    Sequential { n: u64, next: u64 },
    Zipf { n: u64, zipf: Zipf },
    Hot { n: u64, share: f64, keys: u64 },
}

impl KeyGen {
    /// `thread` of `threads` picks where a sequential walk starts.
    pub fn new(dist: &Distribution, keyspace: u64, thread: usize, threads: usize) -> KeyGen {
        let n = keyspace.max(1);
        match *dist {
            Distribution::Uniform => KeyGen::Uniform { n },
            Distribution::Sequential => KeyGen::Sequential {
                n,
                next: (n as u128 * thread as u128 / threads.max(1) as u128) as u64,
            },
            Distribution::Zipf { exponent } => KeyGen::Zipf {
                n,
                zipf: Zipf::new(n, exponent),
            },
            Distribution::Hot { share, keys } => KeyGen::Hot {
                n,
                share,
                keys: keys.min(n),
            },
        }
    }

    /// The next key number, in `0..keyspace`.
    #[inline]
    pub fn next(&mut self, rng: &mut SmallRng) -> u64 {
        match self {
            KeyGen::Uniform { n } => rng.random_range(0..*n),
            KeyGen::Sequential { n, next } => {
                let k = *next;
                *next = if k + 1 >= *n { 0 } else { k + 1 };
                k
            }
            KeyGen::Zipf { zipf, .. } => zipf.sample(rng) - 1,
            KeyGen::Hot { n, share, keys } => {
                if rng.random::<f64>() < *share {
                    rng.random_range(0..*keys)
                } else {
                    rng.random_range(0..*n)
                }
            }
        }
    }
}

/// Zipf over ranks `1..=n` with exponent `s`: P(k) ∝ k^-s. Rejection-inversion: draw from the
/// integral of the continuous hat function, invert, round, and accept with a cheap test that
/// almost always passes; no tables, O(1) per sample for any n.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    threshold: f64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            threshold: 0.0,
        };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(n as f64 + 0.5);
        z.threshold = 2.0 - z.h_integral_inv(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A rank in `1..=n`.
    #[inline]
    pub fn sample(&self, rng: &mut SmallRng) -> u64 {
        loop {
            let u = self.h_n + rng.random::<f64>() * (self.h_x1 - self.h_n);
            let x = self.h_integral_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    /// The exact probability of rank `k` (for tests and reports).
    pub fn probability(n: u64, s: f64, k: u64) -> f64 {
        let norm: f64 = (1..=n).map(|i| (i as f64).powf(-s)).sum();
        (k as f64).powf(-s) / norm
    }

    #[inline]
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// ∫ x^-s dx, written to stay accurate near s = 1.
    #[inline]
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    #[inline]
    fn h_integral_inv(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// ln(1+x)/x, accurate near 0.
#[inline]
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (e^x - 1)/x, accurate near 0.
#[inline]
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn counts(gen: &mut KeyGen, n: usize, draws: usize) -> Vec<u64> {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut c = vec![0u64; n];
        for _ in 0..draws {
            c[gen.next(&mut rng) as usize] += 1;
        }
        c
    }

    #[test]
    fn zipf_shape_within_tolerance() {
        for &s in &[0.8, 0.99, 1.0, 1.2, 2.0] {
            let n = 1000u64;
            let draws = 1_000_000usize;
            let mut gen = KeyGen::new(&Distribution::Zipf { exponent: s }, n, 0, 1);
            let c = counts(&mut gen, n as usize, draws);
            // The most frequent ranks, each within 3% of its expected share (relative), and the
            // rank order of the head preserved.
            for k in 1..=10u64 {
                let expect = Zipf::probability(n, s, k) * draws as f64;
                let got = c[(k - 1) as usize] as f64;
                assert!(
                    (got - expect).abs() / expect < 0.03,
                    "s={s} rank {k}: expected {expect:.0}, got {got}"
                );
            }
            // The whole shape: total variation distance to the exact distribution is small.
            let tv: f64 = (1..=n)
                .map(|k| {
                    (c[(k - 1) as usize] as f64 / draws as f64 - Zipf::probability(n, s, k)).abs()
                })
                .sum::<f64>()
                / 2.0;
            // (Sampling noise alone gives about 0.013 for the flattest case, s = 0.8.)
            assert!(tv < 0.025, "s={s}: total variation {tv}");
        }
    }

    #[test]
    fn zipf_large_keyspace_stays_in_range() {
        let mut gen = KeyGen::new(&Distribution::Zipf { exponent: 1.1 }, 10_000_000, 0, 1);
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..100_000 {
            assert!(gen.next(&mut rng) < 10_000_000);
        }
    }

    #[test]
    fn uniform_is_flat() {
        let mut gen = KeyGen::new(&Distribution::Uniform, 100, 0, 1);
        let c = counts(&mut gen, 100, 1_000_000);
        for &x in &c {
            assert!((x as f64 - 10_000.0).abs() < 600.0, "{x}");
        }
    }

    #[test]
    fn sequential_walks_each_threads_share() {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = KeyGen::new(&Distribution::Sequential, 10, 0, 2);
        let mut b = KeyGen::new(&Distribution::Sequential, 10, 1, 2);
        let got_a: Vec<u64> = (0..5).map(|_| a.next(&mut rng)).collect();
        let got_b: Vec<u64> = (0..6).map(|_| b.next(&mut rng)).collect();
        assert_eq!(got_a, vec![0, 1, 2, 3, 4]);
        assert_eq!(got_b, vec![5, 6, 7, 8, 9, 0]);
    }

    #[test]
    fn hot_share_goes_to_hot_keys() {
        let dist: Distribution = "hot:90%:10".parse().unwrap();
        assert_eq!(
            dist,
            Distribution::Hot {
                share: 0.9,
                keys: 10
            }
        );
        let mut gen = KeyGen::new(&dist, 10_000, 0, 1);
        let c = counts(&mut gen, 10_000, 1_000_000);
        let hot: u64 = c[..10].iter().sum();
        // 90% directly, plus the cold draws that land on a hot key (0.1 * 10/10000).
        let expect = 0.9 + 0.1 * 10.0 / 10_000.0;
        assert!((hot as f64 / 1e6 - expect).abs() < 0.005, "{hot}");
    }

    #[test]
    fn distributions_parse() {
        assert_eq!(
            "zipf:1.2".parse::<Distribution>(),
            Ok(Distribution::Zipf { exponent: 1.2 })
        );
        assert_eq!(
            "hot:0.5:3".parse::<Distribution>(),
            Ok(Distribution::Hot {
                share: 0.5,
                keys: 3
            })
        );
        assert!("zipf:0".parse::<Distribution>().is_err());
        assert!("hot:2:3".parse::<Distribution>().is_err());
        assert!("pareto".parse::<Distribution>().is_err());
    }
}
