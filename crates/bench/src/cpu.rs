//! CPU time: the generator's own (`getrusage`) and a server's (`/proc/PID/task/*/schedstat`).

use serde::Serialize;

/// User and system CPU time of this process so far, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CpuTime {
    pub user_ns: u64,
    pub sys_ns: u64,
}

impl CpuTime {
    pub fn total_ns(&self) -> u64 {
        self.user_ns + self.sys_ns
    }

    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user_ns: self.user_ns.saturating_sub(earlier.user_ns),
            sys_ns: self.sys_ns.saturating_sub(earlier.sys_ns),
        }
    }
}

pub fn self_cpu() -> CpuTime {
    // SAFETY: getrusage writes into the struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1_000;
    CpuTime {
        user_ns: ns(ru.ru_utime),
        sys_ns: ns(ru.ru_stime),
    }
}

/// Nanoseconds on CPU of every thread of process `pid`: the first field of each
/// `/proc/PID/task/TID/schedstat`. Threads that exited between two samples are lost, which is
/// fine for servers whose threads live as long as the process.
pub fn process_cpu_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {dir}: {e}"))?;
    let mut total = 0u64;
    for entry in entries.flatten() {
        let path = entry.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Some(first) = text.split_whitespace().next() {
                total += first.parse::<u64>().unwrap_or(0);
            }
        }
    }
    Ok(total)
}

/// A monotonic clock in nanoseconds (CLOCK_MONOTONIC, the clock timerfd uses too).
#[inline]
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_grows_and_own_process_is_readable() {
        let before = self_cpu();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = self_cpu();
        assert!(after.since(&before).total_ns() > 0);
        let ns = process_cpu_ns(std::process::id()).unwrap();
        assert!(ns > 0);
        assert!(process_cpu_ns(u32::MAX).is_err());
    }
}
