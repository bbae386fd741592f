//! Memory accounting: what the allocator the binary installed reports, and a cheap running
//! figure of the bytes in use for the maxmemory checks.
//!
//! `used_memory` is what the program holds: the allocator's total (jemalloc's
//! `stats.allocated`) less what sits freed in its thread caches, which it counts as allocated.
//! Reading it exactly costs a refresh of the allocator's statistics (an epoch advance, which
//! merges every arena), too dear for every write. So the figure the maxmemory checks read is
//! `base + Σ per-thread net bytes`: each thread that checks memory publishes its own
//! allocated-minus-freed count (two loads of the allocator's thread-local counters), and
//! [`calibrate`] (a worker's periodic work, INFO) resets `base` to the exact figure minus what
//! the threads published, which absorbs threads that never publish. Between calibrations a
//! thread's own allocations and frees are seen at once.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The allocator's totals, freshly read.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllocatorStats {
    /// Bytes handed out to the program, including what sits freed in thread caches.
    pub allocated: u64,
    /// Freed bytes the thread caches keep for reuse (counted in `allocated`).
    pub cached: u64,
    /// Bytes in pages with live allocations.
    pub active: u64,
    /// Bytes the allocator holds resident.
    pub resident: u64,
    /// Bytes purged lazily (returned to the system only when it needs them).
    pub muzzy: u64,
}

impl AllocatorStats {
    /// The bytes the program holds: `used_memory`.
    pub fn used(&self) -> u64 {
        self.allocated.saturating_sub(self.cached)
    }
}

/// The functions of the allocator the binary installed.
pub struct Allocator {
    /// As INFO `mem_allocator` shows it (`jemalloc-5.3.0`).
    pub name: &'static str,
    /// Refreshes and reads the totals.
    pub stats: fn() -> AllocatorStats,
    /// This thread's bytes allocated and freed since it started.
    pub thread_counters: fn() -> (u64, u64),
    /// Returns unused memory to the system (MEMORY PURGE); false when not supported.
    pub purge: fn() -> bool,
    /// The allocator's own statistics report (MEMORY MALLOC-STATS).
    pub report: fn() -> String,
}

static ALLOCATOR: OnceLock<Allocator> = OnceLock::new();

/// Installs the allocator's functions; once, by the binary, before the server starts.
pub fn install(allocator: Allocator) {
    let _ = ALLOCATOR.set(allocator);
    calibrate();
}

pub fn allocator_name() -> &'static str {
    ALLOCATOR.get().map_or("libc", |a| a.name)
}

/// Threads that publish their net bytes; more are counted only through calibration.
const PUBLISHERS_MAX: usize = 512;

/// One thread's published figure, alone in its cache line: each worker writes its own before
/// every command while a limit is set, and must not disturb the others' lines.
#[repr(align(64))]
struct Published(AtomicI64);

static PUBLISHED: [Published; PUBLISHERS_MAX] =
    [const { Published(AtomicI64::new(0)) }; PUBLISHERS_MAX];
static PUBLISHERS: AtomicUsize = AtomicUsize::new(0);
/// The exact total at the last calibration minus the published figures then.
static BASE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static STARTUP: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's index in `PUBLISHED` (usize::MAX: none yet, PUBLISHERS_MAX: no room).
    static PUBLISHER: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's bytes allocated minus freed since it started (0 without an allocator).
#[inline]
pub fn thread_net() -> i64 {
    match ALLOCATOR.get() {
        Some(allocator) => {
            let (allocated, freed) = (allocator.thread_counters)();
            allocated as i64 - freed as i64
        }
        None => 0,
    }
}

/// Publishes this thread's net bytes for the other threads' checks.
#[inline]
pub fn publish() {
    if ALLOCATOR.get().is_none() {
        return;
    }
    let index = PUBLISHER.with(|slot| {
        if slot.get() == usize::MAX {
            let index = PUBLISHERS
                .fetch_add(1, Ordering::Relaxed)
                .min(PUBLISHERS_MAX);
            slot.set(index);
        }
        slot.get()
    });
    if let Some(published) = PUBLISHED.get(index) {
        published.0.store(thread_net(), Ordering::Relaxed);
    }
}

fn published_sum() -> i64 {
    let count = PUBLISHERS.load(Ordering::Relaxed).min(PUBLISHERS_MAX);
    PUBLISHED[..count]
        .iter()
        .map(|net| net.0.load(Ordering::Relaxed))
        .sum()
}

/// Bytes in use, cheaply: this thread's allocations are counted at once, the other threads'
/// as of their last check, the rest as of the last calibration. Without an allocator's
/// counters, the resident set size.
#[inline]
pub fn used() -> u64 {
    if ALLOCATOR.get().is_none() {
        return resident_bytes();
    }
    publish();
    let used = (BASE.load(Ordering::Relaxed) + published_sum()).max(0) as u64;
    if used > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(used, Ordering::Relaxed);
    }
    used
}

/// Reads the allocator's exact totals and re-bases [`used`] on them.
pub fn calibrate() -> AllocatorStats {
    let stats = match ALLOCATOR.get() {
        Some(allocator) => {
            publish();
            let stats = (allocator.stats)();
            BASE.store(stats.used() as i64 - published_sum(), Ordering::Relaxed);
            stats
        }
        None => {
            let resident = resident_bytes();
            AllocatorStats {
                allocated: resident,
                cached: 0,
                active: resident,
                resident,
                muzzy: 0,
            }
        }
    };
    PEAK.fetch_max(stats.used(), Ordering::Relaxed);
    stats
}

/// The highest figure of bytes in use seen.
pub fn peak() -> u64 {
    PEAK.load(Ordering::Relaxed)
}

/// Remembers the bytes in use once the server has started, before any client: INFO's
/// `used_memory_startup`.
pub fn mark_startup() {
    STARTUP.store(calibrate().used(), Ordering::Relaxed);
}

pub fn startup() -> u64 {
    STARTUP.load(Ordering::Relaxed)
}

/// MEMORY PURGE: false when the allocator cannot.
pub fn purge() -> bool {
    ALLOCATOR.get().is_some_and(|a| (a.purge)())
}

/// MEMORY MALLOC-STATS.
pub fn report() -> Option<String> {
    ALLOCATOR.get().map(|a| (a.report)())
}

/// Resident set size from /proc/self/statm.
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64
}

/// The machine's physical memory.
pub fn total_system_memory() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) }.max(0) as u64;
    pages * page_size()
}
