//! Commands that must run alone: EXEC, and scripts (which may touch keys they did not declare).
//!
//! Each worker has a *lane*, a reader-writer lock that only its own thread takes shared: it
//! holds it while it runs a batch of commands or its expiry cycle, which costs an uncontended
//! atomic on a line no other core writes. A command that must run alone takes every lane
//! exclusively, so no other command is running or can start anywhere, and runs with the
//! ordinary slot locks, which are then free.
//!
//! Deadlock freedom: a worker going exclusive first gives up its own lane, then takes the
//! lanes in worker order; no thread waits for a lane while holding a lane, a slot lock or the
//! blocking registry, so no cycle can form. Two workers going exclusive at once queue up in
//! worker order. Nested exclusive runs (a script inside EXEC) run in place.

use std::time::Duration;

use parking_lot::lock_api::{RawRwLock as _, RawRwLockTimed as _};
use parking_lot::RawRwLock;

use crate::cmd::Ctx;

/// One lane per worker, each on its own cache lines.
pub struct Lanes {
    lanes: Box<[Lane]>,
}

#[repr(align(128))]
struct Lane(RawRwLock);

/// A worker's hold on its own lane, released on drop.
pub struct LaneHold<'a> {
    lane: &'a RawRwLock,
}

impl Drop for LaneHold<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a hold exists only while its lane is held shared (see `enter`/`exclusive`).
        unsafe { self.lane.unlock_shared() };
    }
}

impl Lanes {
    pub fn new(workers: usize) -> Lanes {
        Lanes {
            lanes: (0..workers.max(1)).map(|_| Lane(RawRwLock::INIT)).collect(),
        }
    }

    /// Worker `worker` is about to run commands: waits while another command runs alone,
    /// unless `busy` says that command has run too long (a script past
    /// `busy-reply-threshold`): then None, and the worker runs only what may run meanwhile
    /// (commands that do not touch the keyspace; the others are refused with BUSY).
    #[inline]
    pub fn enter(&self, worker: usize, busy: impl Fn() -> bool) -> Option<LaneHold<'_>> {
        let lane = &self.lanes[worker].0;
        if lane.try_lock_shared() {
            return Some(LaneHold { lane });
        }
        loop {
            if lane.try_lock_shared_for(Duration::from_millis(2)) {
                return Some(LaneHold { lane });
            }
            if busy() {
                return None;
            }
        }
    }

    /// The lane if it is free now (periodic work that can wait for the next round).
    pub fn try_enter(&self, worker: usize) -> Option<LaneHold<'_>> {
        let lane = &self.lanes[worker].0;
        // Built only once the lock is held: a hold's drop releases it.
        if lane.try_lock_shared() {
            Some(LaneHold { lane })
        } else {
            None
        }
    }
}

/// Runs `body` with no other command running on any worker. The caller's worker must hold its
/// lane (every command does).
pub fn exclusive<R>(ctx: &mut Ctx<'_>, body: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    if ctx.local.exclusive {
        return body(ctx);
    }
    let lanes = &ctx.server.lanes.lanes;
    let own = &lanes[ctx.local.id].0;
    // SAFETY: the worker holds its own lane shared while it runs a command; it is given up
    // here and taken back below, before the worker's `LaneHold` releases it.
    unsafe { own.unlock_shared() };
    for lane in lanes.iter() {
        lane.0.lock_exclusive();
    }
    ctx.local.exclusive = true;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(ctx)));
    ctx.local.exclusive = false;
    for lane in lanes.iter().rev() {
        // SAFETY: taken exclusively above, by this thread.
        unsafe { lane.0.unlock_exclusive() };
    }
    own.lock_shared();
    match result {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
