//! The active expiry cycle: each worker removes expired keys and expired hash fields from its
//! share of the slot tables (slot mod workers = worker id), without any global lock.
//!
//! The effort follows Valkey's `active-expire-effort` (1-10): a larger effort spends a larger
//! share of the time (25% + 2% per step) and keeps going at a lower ratio of expired keys found
//! (10% - 1% per step). The work runs in *slices* of at most a millisecond and a quarter per
//! step of effort (the length of Valkey's fast cycle), so that no client waits longer than
//! that for the worker:
//!
//! - Every tick (`hz` times a second) a slice runs. It stops when its time is up, when the keys
//!   it met were mostly alive (the expired ratio at or below the acceptable one), or after one
//!   pass over the worker's slots; the next slice resumes where it stopped.
//! - A slice that ran out of time leaves a backlog: the next slice is due after a pause that
//!   keeps the worker's share of time at the effort's percentage (25% at effort 1: a 1 ms slice,
//!   then 3 ms for clients), until a slice ends for another reason. A million keys expiring in
//!   the same second are so reclaimed at the effort's budget per tick, in short pieces.
//!
//! A slot is visited in steps of at most [`KEYS_PER_VISIT`] keys with a time to live, its lock
//! taken for each step only, so one slot holding many keys (a hash tag) neither overruns the
//! slice nor holds its lock for long. Expired values are let go of as `lazyfree-lazy-expire`
//! says (big ones on the free thread, see `lazyfree`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tern_keyspace::SLOT_COUNT;

use crate::config::Directive;
use crate::server::Server;

/// Keys examined before the expired ratio is checked (Valkey's keys per loop, 20, times the 16
/// loops it makes between time checks).
const KEYS_PER_STEP: usize = 20 * 16;

/// The most keys with a time to live one visit of a slot looks at, under its lock.
pub const KEYS_PER_VISIT: usize = 128;

/// A slice's length at effort 1, and what each further step adds (Valkey's fast cycle).
const SLICE: Duration = Duration::from_micros(1000);
const SLICE_PER_EFFORT: Duration = Duration::from_micros(250);

/// How often a slice that meets only empty slots looks at the clock.
const EMPTY_SLOTS_PER_CLOCK_CHECK: usize = 64;

pub struct ExpireCycle {
    worker: usize,
    /// Where the next slice resumes: database, the worker's n-th slot, the group in its table.
    db: usize,
    slot: usize,
    group: usize,
    /// Databases with keys that have a TTL, or hash fields that had one, as of the last tick.
    volatile: Vec<bool>,
    /// When the next slice is due while a backlog remains; None when the next tick will do.
    next_slice: Option<Instant>,
}

/// How a slice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SliceEnd {
    /// Nothing to do, or the keys met were mostly alive, or a whole pass was made.
    Done,
    /// Time ran out with expired keys still being found.
    OutOfTime,
}

impl ExpireCycle {
    pub fn new(worker: usize) -> ExpireCycle {
        ExpireCycle {
            worker,
            db: 0,
            slot: worker,
            group: 0,
            volatile: Vec::new(),
            next_slice: None,
        }
    }

    /// The tick's slice (from the worker's periodic work), unless a backlog keeps its own pace.
    pub fn tick(&mut self, server: &Server, hz: u64, now_ms: u64) {
        let databases = server.keyspace.db_count();
        self.volatile = (0..databases)
            .map(|index| {
                let db = server.keyspace.db(index);
                db.is_used() && (db.volatile_len() > 0 || db.has_field_expiry())
            })
            .collect();
        if self.next_slice.is_none() {
            self.slice(server, hz, now_ms);
        }
    }

    /// When a backlog's next slice is due, if one is.
    pub fn next_slice(&self) -> Option<Instant> {
        self.next_slice
    }

    /// Runs the backlog's next slice if it is due.
    pub fn run_due(&mut self, server: &Server, hz: u64, now_ms: u64) {
        if self.next_slice.is_some_and(|at| Instant::now() >= at) {
            self.slice(server, hz, now_ms);
        }
    }

    /// Puts the backlog's next slice off by a slice's length (the worker could not run it now).
    pub fn postpone(&mut self) {
        if self.next_slice.is_some() {
            self.next_slice = Some(Instant::now() + SLICE);
        }
    }

    /// One slice, and the pace of the next one.
    fn slice(&mut self, server: &Server, hz: u64, now_ms: u64) {
        self.next_slice = None;
        if !server.active_expire.load(Ordering::Relaxed) {
            return;
        }
        let effort = (server
            .config
            .int(Directive::ActiveExpireEffort)
            .clamp(1, 10)
            - 1) as u32;
        let time_percent = 25 + 2 * effort;
        let tick_budget = Duration::from_micros(1_000_000 * u64::from(time_percent) / hz / 100);
        let budget = (SLICE + SLICE_PER_EFFORT * effort).min(tick_budget);
        let started = Instant::now();
        if self.run(server, effort as usize, budget, now_ms) == SliceEnd::OutOfTime {
            let spent = started.elapsed();
            let pause = spent * (100 - time_percent) / time_percent;
            self.next_slice = Some(Instant::now() + pause);
        }
    }

    fn run(&mut self, server: &Server, effort: usize, budget: Duration, now_ms: u64) -> SliceEnd {
        let databases = server.keyspace.db_count();
        if self.volatile.len() != databases || !self.volatile.contains(&true) {
            return SliceEnd::Done;
        }
        let keys_per_step = KEYS_PER_STEP + KEYS_PER_STEP / 4 * effort;
        let acceptable_stale_percent = 10 - effort;
        let started = Instant::now();
        let workers = server.worker_stats.len().max(1);
        let slots_per_worker = SLOT_COUNT.div_ceil(workers) * databases;
        let (mut checked, mut expired) = (0usize, 0usize);
        let mut empty_since_clock = 0;
        let mut visited = 0;
        while visited < slots_per_worker {
            if !self.volatile[self.db] {
                self.next_db(databases);
                visited += 1;
                continue;
            }
            let scan = server.keyspace.db(self.db).expire_slot_step(
                self.slot,
                self.group,
                KEYS_PER_VISIT,
                now_ms,
            );
            match scan.next {
                Some(group) => self.group = group,
                None => {
                    self.advance(workers, databases);
                    visited += 1;
                }
            }
            if scan.checked == 0 {
                empty_since_clock += 1;
                if empty_since_clock < EMPTY_SLOTS_PER_CLOCK_CHECK {
                    continue;
                }
            }
            empty_since_clock = 0;
            crate::notify::flush(server);
            checked += scan.checked;
            expired += scan.expired;
            if checked >= keys_per_step {
                if expired * 100 <= checked * acceptable_stale_percent {
                    return SliceEnd::Done;
                }
                checked = 0;
                expired = 0;
            }
            if started.elapsed() > budget {
                return SliceEnd::OutOfTime;
            }
        }
        SliceEnd::Done
    }

    fn advance(&mut self, workers: usize, databases: usize) {
        self.group = 0;
        self.slot += workers;
        if self.slot >= SLOT_COUNT {
            self.next_db(databases);
        }
    }

    fn next_db(&mut self, databases: usize) {
        self.group = 0;
        self.slot = self.worker;
        self.db = (self.db + 1) % databases;
    }
}
