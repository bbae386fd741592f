//! Fixed offered load (`--rate`): when each request is meant to be sent.
//!
//! A thread's share of the rate is one evenly spaced sequence of intended send times, request k
//! at `start + (k + phase) * interval`; the threads' sequences are offset by a fraction of an
//! interval so the total is evenly spread too. The engine hands request k to connection
//! `k mod connections`, so each connection's requests are evenly spaced as well. Latency is
//! measured from the intended time: a request that waits because the server (or the client) is
//! behind has that wait counted, instead of being silently sent later (coordinated omission).

/// The schedule of one thread.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    start_ns: u64,
    interval_ns: f64,
    phase: f64,
}

impl Schedule {
    /// `rate` requests per second in total over `threads` threads; this is thread `thread`.
    pub fn new(start_ns: u64, rate: f64, thread: usize, threads: usize) -> Schedule {
        let threads = threads.max(1) as f64;
        let per_thread = rate / threads;
        Schedule {
            start_ns,
            interval_ns: 1e9 / per_thread,
            phase: thread as f64 / threads,
        }
    }

    /// The intended send time of request `k` (0-based).
    #[inline]
    pub fn due(&self, k: u64) -> u64 {
        self.start_ns + ((k as f64 + self.phase) * self.interval_ns) as u64
    }

    /// How many requests are due at `now` (requests 0..result have intended times <= now).
    #[inline]
    pub fn due_count(&self, now: u64) -> u64 {
        if now < self.start_ns {
            return 0;
        }
        let x = (now - self.start_ns) as f64 / self.interval_ns - self.phase;
        let mut n = if x < 0.0 { 0 } else { x.floor() as u64 + 1 };
        // Float rounding: make the answer exact with respect to `due`.
        while n > 0 && self.due(n - 1) > now {
            n -= 1;
        }
        while self.due(n) <= now {
            n += 1;
        }
        n
    }

    pub fn interval_ns(&self) -> f64 {
        self.interval_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_window_gets_the_rate() {
        for &rate in &[1.0, 7.0, 1000.0, 33_333.0, 250_000.0] {
            let s = Schedule::new(5_000, rate, 0, 1);
            let mut prev = 0;
            for sec in 1..=5u64 {
                let n = s.due_count(5_000 + sec * 1_000_000_000 - 1);
                let in_window = n - prev;
                assert!(
                    (in_window as f64 - rate).abs() <= 1.0,
                    "rate {rate}: second {sec} had {in_window}"
                );
                prev = n;
            }
        }
    }

    #[test]
    fn threads_together_give_the_total_evenly_spaced() {
        let rate = 10_000.0;
        let threads = 4;
        let scheds: Vec<Schedule> = (0..threads)
            .map(|t| Schedule::new(0, rate, t, threads))
            .collect();
        let total: u64 = scheds.iter().map(|s| s.due_count(999_999_999)).sum();
        assert!((total as f64 - rate).abs() <= threads as f64, "{total}");
        // Merge the first send times of all threads: they are 100 µs apart.
        let mut times: Vec<u64> = scheds
            .iter()
            .flat_map(|s| (0..100).map(move |k| s.due(k)))
            .collect();
        times.sort_unstable();
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!((99_000..=101_000).contains(&gap), "gap {gap}");
        }
    }

    #[test]
    fn due_count_agrees_with_due() {
        let s = Schedule::new(123, 3_000.0, 1, 3);
        for k in 0..10_000 {
            let t = s.due(k);
            assert_eq!(s.due_count(t), k + 1);
            assert_eq!(s.due_count(t - 1), k);
        }
    }
}
