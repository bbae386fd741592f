//! Measurements: latency histograms per command type, error counts by kind, and the per-second
//! timeline. Each worker thread records into its own [`ThreadStats`] (no sharing on the hot
//! path); once a second it ships an [`Interval`] to the main thread, and at the end its whole
//! histograms, which the main thread merges.

use hdrhistogram::Histogram;
use serde::Serialize;

/// A latency histogram in nanoseconds.
pub type Hist = Histogram<u64>;

/// The largest latency recorded exactly (longer ones are recorded as this).
pub const HIST_MAX_NS: u64 = 60_000_000_000;

/// A histogram from 1 ns to a minute with 3 significant digits (0.1% resolution).
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds")
}

/// Merge `from` into `into` (same bounds by construction).
pub fn merge(into: &mut Hist, from: &Hist) {
    into.add(from)
        .expect("histograms with the same bounds merge");
}

/// Error replies by kind: the first word of the error text (`ERR`, `WRONGTYPE`, `MOVED`, ...),
/// plus the client's own kinds (`connection`, `timeout`, ...).
#[derive(Clone, Debug, Default)]
pub struct ErrorCounts {
    kinds: Vec<(String, u64)>,
}

impl ErrorCounts {
    /// Count one error reply by the first word of its text. Allocates only for a kind not seen
    /// before.
    pub fn add_reply(&mut self, text: &[u8]) {
        let word = match text.iter().position(|&b| b == b' ') {
            Some(p) => &text[..p],
            None => text,
        };
        let word = if word.is_empty() {
            b"ERR" as &[u8]
        } else {
            word
        };
        self.add_n(word, 1);
    }

    pub fn add_n(&mut self, kind: &[u8], n: u64) {
        if let Some(entry) = self.kinds.iter_mut().find(|(k, _)| k.as_bytes() == kind) {
            entry.1 += n;
        } else {
            self.kinds
                .push((String::from_utf8_lossy(kind).into_owned(), n));
        }
    }

    pub fn merge(&mut self, other: &ErrorCounts) {
        for (k, n) in &other.kinds {
            self.add_n(k.as_bytes(), *n);
        }
    }

    pub fn total(&self) -> u64 {
        self.kinds.iter().map(|(_, n)| n).sum()
    }

    /// Sorted by kind.
    pub fn sorted(&self) -> Vec<(String, u64)> {
        let mut v = self.kinds.clone();
        v.sort();
        v
    }
}

/// One thread's figures.
pub struct ThreadStats {
    /// Per command type: latency of the requests that completed (errors included).
    pub hists: Vec<Hist>,
    pub ok: Vec<u64>,
    pub errors: Vec<u64>,
    pub error_kinds: ErrorCounts,
    pub moved: u64,
    pub ask: u64,
    /// Connections that broke.
    pub broken: u64,
    /// The current one-second interval.
    pub interval_hist: Hist,
    pub interval_ops: u64,
    pub interval_errors: u64,
}

impl ThreadStats {
    pub fn new(kinds: usize) -> ThreadStats {
        ThreadStats {
            hists: (0..kinds).map(|_| new_hist()).collect(),
            ok: vec![0; kinds],
            errors: vec![0; kinds],
            error_kinds: ErrorCounts::default(),
            moved: 0,
            ask: 0,
            broken: 0,
            interval_hist: new_hist(),
            interval_ops: 0,
            interval_errors: 0,
        }
    }

    /// One completed request of type `kind`.
    #[inline]
    pub fn record(&mut self, kind: usize, latency_ns: u64, error: bool) {
        let v = latency_ns.clamp(1, HIST_MAX_NS);
        self.hists[kind].saturating_record(v);
        self.interval_hist.saturating_record(v);
        self.interval_ops += 1;
        if error {
            self.errors[kind] += 1;
            self.interval_errors += 1;
        } else {
            self.ok[kind] += 1;
        }
    }

    /// One request of type `kind` that failed without a reply (no latency).
    pub fn record_failure(&mut self, kind: usize) {
        self.errors[kind] += 1;
        self.interval_ops += 1;
        self.interval_errors += 1;
    }

    /// Close the current interval: its figures go out, the counters start again.
    pub fn take_interval(&mut self, index: u64) -> Interval {
        let hist = self.interval_hist.clone();
        self.interval_hist.reset();
        let iv = Interval {
            index,
            ops: self.interval_ops,
            errors: self.interval_errors,
            hist,
        };
        self.interval_ops = 0;
        self.interval_errors = 0;
        iv
    }
}

/// One thread's figures for one second of the run (the last one may be shorter).
pub struct Interval {
    /// Seconds since the start of the run: this covers `[index, index + 1)`.
    pub index: u64,
    pub ops: u64,
    pub errors: u64,
    pub hist: Hist,
}

/// Latency summary of a histogram, in microseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub p9999_us: f64,
    pub max_us: f64,
}

pub fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Percentiles {
    pub fn of(h: &Hist) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min_us: us(h.min()),
            mean_us: h.mean() / 1000.0,
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            p9999_us: us(h.value_at_quantile(0.9999)),
            max_us: us(h.max()),
        }
    }
}

/// One point of the timeline: the merged figures of all threads for one second.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TimePoint {
    /// End of the interval, seconds since the start.
    pub t: f64,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub errors: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// Merges the threads' intervals into the timeline as they arrive.
pub struct Timeline {
    slots: Vec<Option<(u64, u64, Hist)>>,
    /// Everything so far, for the progress line.
    pub cumulative: Hist,
    pub ops: u64,
    pub errors: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            slots: Vec::new(),
            cumulative: new_hist(),
            ops: 0,
            errors: 0,
        }
    }

    pub fn add(&mut self, iv: Interval) {
        let i = iv.index as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        merge(&mut self.cumulative, &iv.hist);
        self.ops += iv.ops;
        self.errors += iv.errors;
        match &mut self.slots[i] {
            Some((ops, errors, hist)) => {
                *ops += iv.ops;
                *errors += iv.errors;
                merge(hist, &iv.hist);
            }
            slot => *slot = Some((iv.ops, iv.errors, iv.hist)),
        }
    }

    /// Operations completed in second `index` so far.
    pub fn ops_in(&self, index: u64) -> Option<u64> {
        self.slots.get(index as usize)?.as_ref().map(|s| s.0)
    }

    /// The finished timeline; `elapsed_s` is the run's length (the last second may be partial).
    /// A last interval shorter than half a second (the drain of the requests in flight at the
    /// end) is folded into the one before, so its few requests do not make a spike.
    pub fn points(&self, elapsed_s: f64) -> Vec<TimePoint> {
        let mut slots: Vec<Option<(u64, u64, Hist)>> = self.slots.clone();
        let mut last_end = elapsed_s;
        if slots.len() >= 2 && elapsed_s - ((slots.len() - 1) as f64) < 0.5 {
            if let Some((ops, errors, hist)) = slots.pop().flatten() {
                match slots.last_mut().unwrap() {
                    Some((o, e, h)) => {
                        *o += ops;
                        *e += errors;
                        merge(h, &hist);
                    }
                    slot => *slot = Some((ops, errors, hist)),
                }
            }
        } else {
            last_end = f64::MAX;
        }
        let n = slots.len();
        let mut out = Vec::with_capacity(n);
        for (i, slot) in slots.iter().enumerate() {
            let start = i as f64;
            let end = if i + 1 == n && last_end != f64::MAX {
                last_end
            } else {
                (start + 1.0).min(elapsed_s.max(start + 0.001))
            };
            let (ops, errors, p) = match slot {
                Some((ops, errors, hist)) => (*ops, *errors, Percentiles::of(hist)),
                None => (0, 0, Percentiles::default()),
            };
            out.push(TimePoint {
                t: end,
                ops,
                ops_per_sec: ops as f64 / (end - start),
                errors,
                p50_us: p.p50_us,
                p90_us: p.p90_us,
                p99_us: p.p99_us,
                p999_us: p.p999_us,
                max_us: p.max_us,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_histograms_equal_one_histogram_of_everything() {
        let mut a = new_hist();
        let mut b = new_hist();
        let mut all = new_hist();
        for i in 1..=10_000u64 {
            let v = i * 997 % 5_000_000 + 1;
            if i % 3 == 0 { &mut a } else { &mut b }.record(v).unwrap();
            all.record(v).unwrap();
        }
        let mut merged = new_hist();
        merge(&mut merged, &a);
        merge(&mut merged, &b);
        assert_eq!(merged.len(), 10_000);
        assert_eq!(Percentiles::of(&merged), Percentiles::of(&all));
        for q in [0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(merged.value_at_quantile(q), all.value_at_quantile(q));
        }
    }

    #[test]
    fn thread_stats_and_timeline_merge() {
        let mut t1 = ThreadStats::new(2);
        let mut t2 = ThreadStats::new(2);
        for i in 0..100 {
            t1.record(0, 1_000 + i, false);
            t2.record(1, 2_000_000, i % 10 == 0);
        }
        t2.error_kinds
            .add_reply(b"WRONGTYPE Operation against a key");
        t2.error_kinds.add_reply(b"ERR x");
        t1.error_kinds.add_reply(b"ERR y");
        let mut tl = Timeline::new();
        tl.add(t1.take_interval(0));
        tl.add(t2.take_interval(0));
        t1.record(0, 5_000, false);
        tl.add(t1.take_interval(2));
        assert_eq!(t1.interval_ops, 0);
        let points = tl.points(2.5);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].ops, 200);
        assert_eq!(points[0].errors, 10);
        assert_eq!(points[1].ops, 0);
        assert_eq!(points[2].ops, 1);
        assert!((points[2].ops_per_sec - 2.0).abs() < 1e-9);
        assert!(points[0].p50_us <= points[0].p99_us && points[0].p99_us <= points[0].max_us);
        assert_eq!(tl.cumulative.len(), 201);
        // A short last interval is folded into the one before.
        let folded = tl.points(2.2);
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[1].ops, 1);
        assert!((folded[1].t - 2.2).abs() < 1e-9);
        assert!((folded[1].ops_per_sec - 1.0 / 1.2).abs() < 1e-9);

        let mut errors = t1.error_kinds.clone();
        errors.merge(&t2.error_kinds);
        assert_eq!(
            errors.sorted(),
            vec![("ERR".to_string(), 2), ("WRONGTYPE".to_string(), 1)]
        );
        assert_eq!(errors.total(), 3);
    }

    #[test]
    fn percentiles_are_ordered_and_in_microseconds() {
        let mut h = new_hist();
        for v in 1..=100_000u64 {
            h.record(v * 10).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 100_000);
        assert!((p.p50_us - 500.0).abs() < 1.0);
        assert!(p.min_us <= p.p50_us);
        assert!(p.p50_us <= p.p90_us && p.p90_us <= p.p99_us && p.p99_us <= p.p999_us);
        assert!(p.p999_us <= p.p9999_us && p.p9999_us <= p.max_us);
    }
}
