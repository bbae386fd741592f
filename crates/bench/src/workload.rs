//! What a run sends and how: the resolved form of the command line.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::Rng;
use serde::Serialize;

use crate::keys::Distribution;
use crate::template::Template;

/// The request mix, keys and values.
#[derive(Clone, Debug)]
pub struct Workload {
    pub templates: Vec<Template>,
    /// Weight of each template (same order).
    pub weights: Vec<u32>,
    cumulative: Vec<u32>,
    pub distribution: Distribution,
    pub keyspace: u64,
    pub key_prefix: Vec<u8>,
    pub data_min: usize,
    pub data_max: usize,
}

impl Workload {
    pub fn new(
        mut templates: Vec<Template>,
        weights: Vec<u32>,
        distribution: Distribution,
        keyspace: u64,
        key_prefix: &str,
        (data_min, data_max): (usize, usize),
    ) -> Result<Workload, String> {
        if templates.is_empty() || templates.len() != weights.len() {
            return Err("a workload needs one weight per command".into());
        }
        // Drop commands with weight 0 (e.g. --ratio 1:0), keep the rest in order.
        let mut kept_t = Vec::new();
        let mut kept_w = Vec::new();
        for (t, w) in templates.drain(..).zip(weights) {
            if w > 0 {
                kept_t.push(t);
                kept_w.push(w);
            }
        }
        if kept_t.is_empty() {
            return Err("every command has weight 0".into());
        }
        // Unique labels: a second HSET becomes HSET#2.
        for i in 0..kept_t.len() {
            let base = kept_t[i].name.clone();
            let same = kept_t[..i]
                .iter()
                .filter(|t| t.name.split('#').next() == Some(base.as_str()))
                .count();
            if same > 0 {
                kept_t[i].name = format!("{base}#{}", same + 1);
            }
        }
        let mut acc = 0;
        let cumulative = kept_w
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        if key_prefix.len() > 100 {
            return Err("the key prefix is limited to 100 bytes".into());
        }
        Ok(Workload {
            templates: kept_t,
            weights: kept_w,
            cumulative,
            distribution,
            keyspace: keyspace.max(1),
            key_prefix: key_prefix.as_bytes().to_vec(),
            data_min,
            data_max,
        })
    }

    /// The template of the next request.
    #[inline]
    pub fn pick(&self, rng: &mut SmallRng) -> usize {
        if self.cumulative.len() == 1 {
            return 0;
        }
        let total = *self.cumulative.last().unwrap();
        let r = rng.random_range(0..total);
        self.cumulative.iter().position(|&c| r < c).unwrap_or(0)
    }

    #[inline]
    pub fn data_len(&self, rng: &mut SmallRng) -> usize {
        if self.data_min == self.data_max {
            self.data_min
        } else {
            rng.random_range(self.data_min..=self.data_max)
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.templates.iter().map(|t| t.name.clone()).collect()
    }

    /// Write key number `n` (prefix + decimal) into `buf`; returns its length.
    #[inline]
    pub fn key(&self, n: u64, buf: &mut [u8; 128]) -> usize {
        let p = self.key_prefix.len();
        buf[..p].copy_from_slice(&self.key_prefix);
        let mut digits = itoa::Buffer::new();
        let d = digits.format(n).as_bytes();
        buf[p..p + d.len()].copy_from_slice(d);
        p + d.len()
    }
}

/// When a run stops issuing requests.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stop {
    /// This many requests in total (split over the threads).
    Requests(u64),
    /// Issue for this long.
    Duration(#[serde(with = "secs")] Duration),
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct Load {
    pub threads: usize,
    /// Per thread.
    pub connections: usize,
    pub pipeline: usize,
    pub stop: Stop,
    /// Requests per second in total (fixed offered load), or as fast as replies come.
    pub rate: Option<f64>,
    pub workload: Workload,
    /// `(user, password)`.
    pub auth: Option<(Option<String>, String)>,
    pub resp3: bool,
    pub cluster: bool,
    pub seed: u64,
    /// Print the progress line.
    pub progress: bool,
}

impl Load {
    /// This thread's share of a request count.
    pub fn share(&self, total: u64, thread: usize) -> u64 {
        let t = self.threads as u64;
        total / t + u64::from((thread as u64) < total % t)
    }
}

/// `N` or `MIN-MAX`.
pub fn parse_data_size(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("bad data size '{s}' (N or MIN-MAX bytes)");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let min: usize = a.parse().map_err(|_| bad())?;
    let max: usize = b.parse().map_err(|_| bad())?;
    if min > max || max > 512 * 1024 * 1024 {
        return Err(bad());
    }
    Ok((min, max))
}

/// `A:B[:C...]` weights.
pub fn parse_weights(s: &str) -> Result<Vec<u32>, String> {
    s.split(':')
        .map(|w| {
            w.trim()
                .parse::<u32>()
                .map_err(|_| format!("bad ratio '{s}' (weights like 1:10)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn wl(weights: Vec<u32>) -> Workload {
        let t = vec![
            Template::parse("SET __key__ __data__").unwrap(),
            Template::parse("GET __key__").unwrap(),
        ];
        Workload::new(t, weights, Distribution::Uniform, 10, "k:", (3, 3)).unwrap()
    }

    #[test]
    fn ratio_picks_in_proportion() {
        let w = wl(vec![1, 3]);
        let mut rng = SmallRng::seed_from_u64(3);
        let mut c = [0u32; 2];
        for _ in 0..100_000 {
            c[w.pick(&mut rng)] += 1;
        }
        assert!((c[1] as f64 / 100_000.0 - 0.75).abs() < 0.01, "{c:?}");
        let only_set = wl(vec![1, 0]);
        assert_eq!(only_set.names(), vec!["SET"]);
        assert!(Workload::new(
            vec![Template::parse("GET x").unwrap()],
            vec![0],
            Distribution::Uniform,
            1,
            "",
            (1, 1)
        )
        .is_err());
    }

    #[test]
    fn duplicate_names_get_numbered() {
        let t = vec![
            Template::parse("HSET a __key__ 1").unwrap(),
            Template::parse("HSET b __key__ 2").unwrap(),
        ];
        let w = Workload::new(t, vec![1, 1], Distribution::Uniform, 1, "", (1, 1)).unwrap();
        assert_eq!(w.names(), vec!["HSET", "HSET#2"]);
    }

    #[test]
    fn keys_and_sizes() {
        let w = wl(vec![1, 1]);
        let mut buf = [0u8; 128];
        let n = w.key(4711, &mut buf);
        assert_eq!(&buf[..n], b"k:4711");
        assert_eq!(parse_data_size("32"), Ok((32, 32)));
        assert_eq!(parse_data_size("10-100"), Ok((10, 100)));
        assert!(parse_data_size("100-10").is_err());
        assert!(parse_data_size("x").is_err());
        assert_eq!(parse_weights("1:10"), Ok(vec![1, 10]));
        assert!(parse_weights("1:x").is_err());
    }

    #[test]
    fn request_shares_add_up() {
        let mut load = crate::tests_support::load_for_tests();
        load.threads = 3;
        let shares: Vec<u64> = (0..3).map(|t| load.share(100, t)).collect();
        assert_eq!(shares, vec![34, 33, 33]);
    }
}
