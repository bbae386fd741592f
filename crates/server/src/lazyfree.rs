//! Lazy freeing: big values and emptied databases are freed by one background thread, so the
//! command that let go of them (UNLINK, DEL, an overwrite, an expiry, FLUSHALL ASYNC) answers at
//! once and holds its slot locks no longer than for a small value.
//!
//! One thread, named `lazyfree`, takes jobs from a channel in the order they were sent and drops
//! them. A value goes there only when its free effort (the keyspace's `release::free_effort`,
//! Valkey's rule: elements of a big collection) is above `LAZYFREE_THRESHOLD`, and only when the
//! directive for its cause says so; everything else is freed inline, where the handing over
//! would cost more than the freeing. A flush detaches the slot tables under the locks (see
//! `Detached`) and sends them whole.
//!
//! Counters, as INFO memory reports them: `lazyfree_pending_objects`, objects sent and not yet
//! freed, and `lazyfreed_objects`, objects freed by the thread since start. A value counts as
//! one object, a flushed database as its number of keys, as in Valkey.
//!
//! Which directive applies where:
//! - `lazyfree-lazy-user-del`: DEL (UNLINK is always lazy);
//! - `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB without ASYNC or SYNC;
//! - `lazyfree-lazy-server-del`: a value replaced by a write (SET, the *STORE commands...) or by
//!   RENAME; the keyspace applies it itself (`release`);
//! - `lazyfree-lazy-expire`: a key expiring on a lookup, in the active cycle, or given a time
//!   in the past; the keyspace applies it itself too;
//! - `lazyfree-lazy-eviction`: keys evicted under `maxmemory`, through [`free`].
//!
//! The thread and counters belong to the process (a process runs one server).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

use tern_keyspace::release::{self, Removal};
use tern_keyspace::{Detached, OwnedEntry, Value};

use crate::config::Directive;
use crate::server::Server;

/// Something to free on the thread, and how many objects it counts as.
enum Job {
    Value(Value),
    Tables(Detached),
}

impl Job {
    fn objects(&self) -> u64 {
        match self {
            Job::Value(_) => 1,
            Job::Tables(detached) => detached.keys() as u64,
        }
    }
}

static QUEUE: OnceLock<Sender<Job>> = OnceLock::new();
static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// Starts the free thread (once per process) and lets the keyspace hand it the big values it
/// removes by itself.
pub fn start() {
    QUEUE.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for job in receiver {
                    let objects = job.objects();
                    match job {
                        Job::Value(value) => drop(value),
                        Job::Tables(detached) => drop(detached),
                    }
                    FREED.fetch_add(objects, Ordering::Relaxed);
                    PENDING.fetch_sub(objects, Ordering::Relaxed);
                    // What this thread freed counts at once in the maxmemory checks.
                    crate::memory::publish();
                }
            })
            .expect("spawning the lazyfree thread");
        sender
    });
    release::install_sink(|value| send(Job::Value(value)));
}

/// Queues a job; frees it here when the thread is not running.
fn send(job: Job) {
    let Some(queue) = QUEUE.get() else {
        drop(job);
        return;
    };
    let objects = job.objects();
    PENDING.fetch_add(objects, Ordering::Relaxed);
    if let Err(failed) = queue.send(job) {
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        drop(failed.0);
    }
}

/// Lets go of a value a command removed: on the free thread when `lazy` (the command's
/// directive, or UNLINK) and the value is big, here otherwise.
pub fn free(value: Value, lazy: bool) {
    if lazy && release::is_big(&value) {
        send(Job::Value(value));
    }
}

/// Lets go of an entry a command deleted as a side effect (a *STORE command's destination
/// when the result is empty), as `lazyfree-lazy-server-del` says; returns whether there was
/// one.
pub fn server_del(server: &Server, removed: Option<OwnedEntry>) -> bool {
    let Some(entry) = removed else {
        return false;
    };
    free(
        entry.value,
        server.config.flag(Directive::LazyfreeLazyServerDel),
    );
    true
}

/// Lets go of what a flush took out: on the free thread when `lazy` and there is anything.
pub fn free_detached(detached: Detached, lazy: bool) {
    if lazy && detached.keys() > 0 {
        send(Job::Tables(detached));
    }
}

/// INFO memory `lazyfree_pending_objects`.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// INFO memory `lazyfreed_objects`.
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// Copies the directives the keyspace applies itself when one of them is set.
pub fn publish(index: usize, value: i64) {
    let removal = match index {
        i if i == Directive::LazyfreeLazyServerDel as usize => Removal::Overwrite,
        i if i == Directive::LazyfreeLazyExpire as usize => Removal::Expire,
        _ => return,
    };
    release::set_lazy(removal, value != 0);
}
