//! The active expiry cycle: each worker, `hz` times a second, removes expired keys and expired
//! hash fields from its share of the slot tables (slot mod workers = worker id), without any
//! global lock.
//!
//! The effort follows Valkey's `active-expire-effort` (1-10): a larger effort spends a larger
//! share of each period (25% + 2% per step) and keeps going at a lower ratio of expired keys
//! found (10% - 1% per step). A cycle stops when its time is up, when its keys mostly turned out
//! alive, or after one pass over its slots; the next cycle resumes where it stopped.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tern_keyspace::SLOT_COUNT;

use crate::config::Directive;
use crate::server::Server;

/// Keys examined per step before the expired ratio is checked (Valkey's keys per loop, 20,
/// times the 16 loops it makes between time checks).
const KEYS_PER_STEP: usize = 20 * 16;

pub struct ExpireCycle {
    worker: usize,
    /// Where the next cycle resumes: database, then the worker's n-th slot.
    db: usize,
    slot: usize,
}

impl ExpireCycle {
    pub fn new(worker: usize) -> ExpireCycle {
        ExpireCycle {
            worker,
            db: 0,
            slot: worker,
        }
    }

    pub fn run(&mut self, server: &Server, hz: u64, now_ms: u64) {
        if !server.active_expire.load(Ordering::Relaxed) {
            return;
        }
        let effort = (server
            .config
            .int(Directive::ActiveExpireEffort)
            .clamp(1, 10)
            - 1) as u64;
        let keys_per_step = KEYS_PER_STEP + KEYS_PER_STEP / 4 * effort as usize;
        let time_percent = 25 + 2 * effort;
        let acceptable_stale_percent = 10 - effort as usize;
        let budget = Duration::from_micros(1_000_000 * time_percent / hz / 100);
        let started = Instant::now();
        let workers = server.worker_stats.len().max(1);
        let databases = server.keyspace.db_count();
        let slots_per_worker = SLOT_COUNT.div_ceil(workers) * databases;
        // Databases with keys that have a TTL, or hash fields that had one: counted once per
        // cycle (unused ones cost nothing).
        let volatile: Vec<bool> = (0..databases)
            .map(|index| {
                let db = server.keyspace.db(index);
                db.is_used() && (db.volatile_len() > 0 || db.has_field_expiry())
            })
            .collect();
        if !volatile.contains(&true) {
            return;
        }
        let (mut checked, mut expired) = (0usize, 0usize);
        for visited in 0..slots_per_worker {
            if !volatile[self.db] {
                self.next_db(databases);
                continue;
            }
            let (seen, removed) = server.keyspace.db(self.db).expire_slot(self.slot, now_ms);
            crate::notify::flush(server);
            checked += seen;
            expired += removed;
            self.advance(workers, databases);
            if checked >= keys_per_step {
                if expired * 100 <= checked * acceptable_stale_percent {
                    break;
                }
                checked = 0;
                expired = 0;
            }
            if visited % 64 == 63 && started.elapsed() > budget {
                break;
            }
        }
    }

    fn advance(&mut self, workers: usize, databases: usize) {
        self.slot += workers;
        if self.slot >= SLOT_COUNT {
            self.next_db(databases);
        }
    }

    fn next_db(&mut self, databases: usize) {
        self.slot = self.worker;
        self.db = (self.db + 1) % databases;
    }
}
