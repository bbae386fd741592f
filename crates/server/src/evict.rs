//! maxmemory: evicting keys before commands run, refusing commands that would grow memory when
//! nothing can be evicted, and evicting clients past `maxmemory-clients`.
//!
//! Before every command (not those EXEC or a script runs: the transaction or script is checked
//! once, as a whole), the worker calls [`before_command`]. While memory is over `maxmemory` it
//! evicts keys by `maxmemory-policy`, through its own [`Evictor`] (keyspace `evict.rs`: sampling
//! random slot tables, one lock at a time, never while holding another), until enough memory is
//! freed or the `maxmemory-eviction-tenacity` time budget is spent. The bytes a removal frees are
//! this thread's allocator counters before and after dropping the key, so other workers'
//! allocations meanwhile do not count as freed. When the budget runs out, every worker goes on
//! evicting between its events until memory is under the limit again ([`pending`]), as Valkey's
//! eviction timer does. When there is nothing to evict (noeviction, or no key with a time to
//! live under a volatile policy), commands flagged `denyoom` are refused with the OOM error,
//! and so is EXEC when it queued one; scripts follow Valkey's rules (see `cmd/script.rs`).
//!
//! Evicted keys are reported as deletions: watchers and caching clients see them
//! (`notify::key_event`), with the `evicted` keyspace notification.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use tern_keyspace::evict::{self as access_bits, Evicted, Policy};

use crate::client::ClientState;
use crate::config::{Config, Directive};
use crate::dispatch::Command;
use crate::notify::class;
use crate::server::{unix_ms, unix_us, Server, WorkerMessage};
use crate::worker::WorkerLocal;

pub const OOM_ERROR: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

/// Keys evicted since start (INFO `evicted_keys`).
pub static EVICTED_KEYS: AtomicU64 = AtomicU64::new(0);
/// Clients closed for `maxmemory-clients` (INFO `evicted_clients`).
pub static EVICTED_CLIENTS: AtomicU64 = AtomicU64::new(0);
/// Memory is over the limit and a time-limited round stopped short: workers keep evicting.
static PENDING: AtomicBool = AtomicBool::new(false);
/// When memory went over the limit without getting back under (Unix µs; 0: it is under).
static EXCEEDED_SINCE_US: AtomicU64 = AtomicU64::new(0);
/// Total µs spent over the limit, for the periods that ended.
static EXCEEDED_TOTAL_US: AtomicU64 = AtomicU64::new(0);
/// When the clients' memory was last checked (Unix ms), so one worker checks at a time.
static CLIENTS_CHECKED_MS: AtomicI64 = AtomicI64::new(0);

/// What an eviction round achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is under the limit (or there is none).
    Ok,
    /// Still over, but evicting goes on: commands may run.
    Running,
    /// Over the limit and nothing can be evicted: commands that grow memory are refused.
    Fail,
}

/// `maxmemory` in bytes (0: no limit).
#[inline]
pub fn maxmemory(server: &Server) -> u64 {
    server.config.int(Directive::Maxmemory) as u64
}

pub fn policy(server: &Server) -> Policy {
    Policy::from_index(server.config.int(Directive::MaxmemoryPolicy) as usize)
}

/// Whether workers should keep evicting between events.
#[inline]
pub fn pending() -> bool {
    PENDING.load(Ordering::Relaxed)
}

/// The eviction time budget of one round, from `maxmemory-eviction-tenacity` as Valkey
/// computes it: 50 µs per step up to 10, then 15% more per step, unlimited at 100.
pub fn time_limit_us(tenacity: i64) -> u64 {
    match tenacity {
        t if t <= 10 => 50 * t.max(0) as u64,
        t if t < 100 => (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
        _ => u64::MAX,
    }
}

/// Evicts keys while memory is over `maxmemory`, within the time budget. Not while CLIENT
/// PAUSE holds writes (evicting is a write, as in Valkey): memory then counts as fine.
pub fn perform(server: &Server, local: &mut WorkerLocal) -> Outcome {
    let limit = maxmemory(server);
    if limit == 0 {
        set_pending(false);
        return note(Outcome::Ok);
    }
    if server.paused(unix_ms()).is_some() {
        // The next command after the pause evicts again.
        set_pending(false);
        return Outcome::Ok;
    }
    let used = crate::memory::used();
    if used <= limit {
        set_pending(false);
        return note(Outcome::Ok);
    }
    let policy = policy(server);
    if policy == Policy::NoEviction {
        set_pending(false);
        return note(Outcome::Fail);
    }
    let to_free = (used - limit) as i64;
    let samples = server.config.int(Directive::MaxmemorySamples).max(1) as usize;
    let budget_us = time_limit_us(server.config.int(Directive::MaxmemoryEvictionTenacity));
    let started = Instant::now();
    let now_ms = unix_ms();
    let mut freed = 0i64;
    let mut keys = 0u64;
    while freed < to_free {
        let before = crate::memory::thread_net();
        let Some(Evicted { db, key, entry }) =
            local
                .evictor
                .evict_one(&server.keyspace, policy, samples, now_ms, &mut local.rng)
        else {
            set_pending(false);
            return note(Outcome::Fail);
        };
        drop(entry);
        freed += before - crate::memory::thread_net();
        EVICTED_KEYS.fetch_add(1, Ordering::Relaxed);
        crate::notify::key_event(server, db, class::EVICTED, "evicted", &key, 0);
        keys += 1;
        if keys.is_multiple_of(16) {
            // Other workers free memory too (evicting, deleting): stop once under the limit.
            if crate::memory::used() <= limit {
                break;
            }
            if started.elapsed().as_micros() as u64 > budget_us {
                set_pending(true);
                return note(Outcome::Running);
            }
        }
    }
    set_pending(false);
    note(Outcome::Ok)
}

/// Sets [`pending`], writing the shared flag only when it changes: every worker checks memory
/// before every command, and an unchanged flag keeps its cache line shared.
#[inline]
fn set_pending(on: bool) {
    if PENDING.load(Ordering::Relaxed) != on {
        PENDING.store(on, Ordering::Relaxed);
    }
}

/// Keeps the INFO figures of time spent over the limit (writing them only when the state
/// changes, for the same reason).
#[inline]
fn note(outcome: Outcome) -> Outcome {
    if outcome == Outcome::Ok {
        if EXCEEDED_SINCE_US.load(Ordering::Relaxed) != 0 {
            let since = EXCEEDED_SINCE_US.swap(0, Ordering::Relaxed);
            if since != 0 {
                EXCEEDED_TOTAL_US.fetch_add(unix_us().saturating_sub(since), Ordering::Relaxed);
            }
        }
    } else if EXCEEDED_SINCE_US.load(Ordering::Relaxed) == 0 {
        let _ =
            EXCEEDED_SINCE_US.compare_exchange(0, unix_us(), Ordering::Relaxed, Ordering::Relaxed);
    }
    outcome
}

/// INFO `total_eviction_exceeded_time` and `current_eviction_exceeded_time`, in ms.
pub fn exceeded_times_ms() -> (u64, u64) {
    let since = EXCEEDED_SINCE_US.load(Ordering::Relaxed);
    let current = if since == 0 {
        0
    } else {
        unix_us().saturating_sub(since)
    };
    (
        (EXCEEDED_TOTAL_US.load(Ordering::Relaxed) + current) / 1000,
        current / 1000,
    )
}

/// CONFIG RESETSTAT.
pub fn reset_stats() {
    EVICTED_KEYS.store(0, Ordering::Relaxed);
    EVICTED_CLIENTS.store(0, Ordering::Relaxed);
    EXCEEDED_TOTAL_US.store(0, Ordering::Relaxed);
    if EXCEEDED_SINCE_US.load(Ordering::Relaxed) != 0 {
        EXCEEDED_SINCE_US.store(unix_us(), Ordering::Relaxed);
    }
}

/// The check before a command the client sent (not one run by EXEC or a script): evicts as
/// needed, and tells whether the command must be refused with [`OOM_ERROR`]. Remembers whether
/// memory was out at the start, which a script's first write and EXEC's commands go by.
#[inline]
pub fn before_command(
    server: &Server,
    local: &mut WorkerLocal,
    state: &ClientState,
    command: &Command,
    request: &tern_resp::Request<'_>,
) -> bool {
    local.oom_at_start = false;
    // No limit, or a script running too long (eviction waits for it, as in Valkey).
    if maxmemory(server) == 0 || local.busy {
        return false;
    }
    before_command_slow(server, local, state, command, request)
}

#[cold]
fn before_command_slow(
    server: &Server,
    local: &mut WorkerLocal,
    state: &ClientState,
    command: &Command,
    request: &tern_resp::Request<'_>,
) -> bool {
    let out_of_memory = perform(server, local) == Outcome::Fail;
    local.oom_at_start = out_of_memory;
    if !out_of_memory {
        return false;
    }
    if command.flags.denyoom {
        return true;
    }
    if command.flags.is_exec {
        let queued_denyoom = state.multi.as_ref().is_some_and(|multi| {
            multi
                .queued
                .iter()
                .any(|queued| server.table.commands[queued.command].flags.denyoom)
        });
        return queued_denyoom;
    }
    command.flags.runs_script && script_denies_oom(server, command, request)
}

/// Whether a script command counts as `denyoom` by its script's flags: a script or function
/// that declared flags without `no-writes` or `allow-oom` does. Scripts without a shebang are
/// checked at their first write instead.
fn script_denies_oom(server: &Server, command: &Command, request: &tern_resp::Request<'_>) -> bool {
    if request.len() < 2 {
        return false;
    }
    let deny = |flags: tern_script::Flags| !flags.compat && !flags.no_writes && !flags.allow_oom;
    match command.spec.name {
        "eval" | "eval_ro" => {
            tern_script::parse_eval_shebang(request.arg(1)).is_ok_and(|(flags, _)| deny(flags))
        }
        "evalsha" | "evalsha_ro" => {
            let sha = String::from_utf8_lossy(request.arg(1)).to_ascii_lowercase();
            let engine = server.scripting.engine.lock();
            engine.script_flags(&sha).is_some_and(deny)
        }
        "fcall" | "fcall_ro" => {
            let engine = server.scripting.engine.lock();
            engine
                .libraries
                .function(request.arg(1))
                .is_some_and(|function| deny(function.flags))
        }
        _ => false,
    }
}

/// Whether a command a script calls must be refused for memory (Valkey's rule): the script did
/// not declare `allow-oom`, memory was out when the script's command started, the script has
/// not written yet (it cannot stop half-way), and the command is `denyoom`.
pub fn script_call_refused(
    server: &Server,
    local: &WorkerLocal,
    command: &Command,
    allow_oom: bool,
    wrote: bool,
) -> bool {
    !allow_oom && maxmemory(server) != 0 && !wrote && local.oom_at_start && command.flags.denyoom
}

/// After a CONFIG SET: the access-bit settings reach the keyspace; a `maxmemory` below the
/// memory in use logs a warning, and evicting starts at once (and goes on between events until
/// done).
pub fn after_config_set(server: &Server, local: &mut WorkerLocal, old_limit: u64) {
    apply_settings(&server.config);
    let limit = maxmemory(server);
    if limit == 0 || limit == old_limit {
        return;
    }
    let used = crate::memory::calibrate().used();
    if limit < used {
        crate::warning!(
            "WARNING: the new maxmemory value set via CONFIG SET ({limit}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
        );
        if perform(server, local) == Outcome::Running {
            // The other workers join in between their events.
            for worker in server.workers() {
                let _ = worker.waker.wake();
            }
        }
    }
}

/// Between events, while [`pending`]: one more time-limited round.
pub fn continue_pending(server: &Server, local: &mut WorkerLocal) {
    if pending() {
        perform(server, local);
    }
}

// ---------------------------------------------------------------------------------------------
// Client eviction

/// Bytes a client holds, as CLIENT LIST's `tot-mem` shows it: its read buffer, unconsumed input
/// and pending output.
pub fn client_memory(client: &crate::client::ClientShared) -> u64 {
    16 * 1024
        + client.query_buffer_bytes.load(Ordering::Relaxed)
        + client.output_bytes.load(Ordering::Relaxed)
}

/// The `maxmemory-clients` limit in bytes (0: none): a size, or a percentage of `maxmemory`;
/// never below 128 KiB, so a bad setting cannot cut every client off.
pub fn clients_limit(server: &Server) -> u64 {
    let setting = server.config.int(Directive::MaxmemoryClients);
    let limit = if setting < 0 {
        (maxmemory(server) as f64 * (-setting) as f64 / 100.0) as u64
    } else {
        setting as u64
    };
    if limit == 0 {
        0
    } else {
        limit.max(128 * 1024)
    }
}

/// Closes the biggest clients while all clients together hold `maxmemory-clients` or more,
/// sparing those in CLIENT NO-EVICT mode. At most one worker checks every few milliseconds.
pub fn check_clients(server: &Server) {
    let limit = clients_limit(server);
    if limit == 0 {
        return;
    }
    let now_ms = unix_ms() as i64;
    let last = CLIENTS_CHECKED_MS.load(Ordering::Relaxed);
    if now_ms - last < 10
        || CLIENTS_CHECKED_MS
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let clients: Vec<std::sync::Arc<crate::client::ClientShared>> =
        server.clients.lock().values().cloned().collect();
    let mut total: u64 = clients
        .iter()
        .filter(|client| !client.closing.load(Ordering::Relaxed))
        .map(|client| client_memory(client))
        .sum();
    if total < limit {
        return;
    }
    let mut candidates: Vec<(u64, &crate::client::ClientShared)> = clients
        .iter()
        .filter(|client| {
            !client.no_evict.load(Ordering::Relaxed) && !client.closing.load(Ordering::Relaxed)
        })
        .map(|client| (client_memory(client), &**client))
        .collect();
    candidates.sort_by_key(|candidate| std::cmp::Reverse(candidate.0));
    for (memory, client) in candidates {
        if total < limit {
            return;
        }
        crate::notice!(
            "Evicting client: id={} addr={} tot-mem={memory}",
            client.id,
            client.addr
        );
        client.closing.store(true, Ordering::Relaxed);
        if let Some(worker) = server.workers().get(client.worker) {
            worker.send(WorkerMessage::Kill(client.id));
        }
        EVICTED_CLIENTS.fetch_add(1, Ordering::Relaxed);
        total -= memory;
    }
    if total >= limit {
        crate::warning!("Over client maxmemory after evicting all evictable clients");
    }
}

// ---------------------------------------------------------------------------------------------
// Directives

/// `maxmemory`: a size; CONFIG GET shows it in bytes.
pub fn check_maxmemory(text: &str) -> Result<String, String> {
    crate::config::parse_size(text)
        .map(|bytes| bytes.to_string())
        .ok_or_else(|| "argument must be a memory value".into())
}

/// `maxmemory-clients`: a size, or a percentage of `maxmemory` (`10%`).
pub fn check_maxmemory_clients(text: &str) -> Result<String, String> {
    if let Some(percent) = text.strip_suffix('%') {
        if !percent.is_empty() && percent.bytes().all(|b| b.is_ascii_digit()) {
            return match percent.parse::<u64>() {
                Ok(0) => Ok("0".into()),
                Ok(p) if p <= 100 => Ok(format!("{p}%")),
                _ => Err("percentage argument must be less or equal to 100".into()),
            };
        }
        return Err("argument must be a memory or percent value".into());
    }
    crate::config::parse_size(text)
        .map(|bytes| bytes.to_string())
        .ok_or_else(|| "argument must be a memory or percent value".into())
}

/// Called by the config table after it stores directive `index`: the number to keep for the
/// directives whose text is checked by a function of this module.
pub fn apply_directive(index: usize, config: &Config) -> Option<i64> {
    match index {
        i if i == Directive::Maxmemory as usize => {
            let bytes = crate::config::parse_size(&config.text(Directive::Maxmemory)).unwrap_or(0);
            Some(bytes.min(i64::MAX as u64) as i64)
        }
        i if i == Directive::MaxmemoryClients as usize => {
            let text = config.text(Directive::MaxmemoryClients);
            Some(match text.strip_suffix('%') {
                Some(percent) => -percent.parse::<i64>().unwrap_or(0),
                None => crate::config::parse_size(&text)
                    .unwrap_or(0)
                    .min(i64::MAX as u64) as i64,
            })
        }
        _ => None,
    }
}

/// Hands the running configuration's access-bit settings to the keyspace: at start and after
/// every CONFIG SET. (Not from the config table itself, which also builds throw-away default
/// configurations.)
pub fn apply_settings(config: &Config) {
    let policy = Policy::from_index(config.int(Directive::MaxmemoryPolicy) as usize);
    access_bits::set_lfu(policy.is_lfu());
    access_bits::set_lfu_log_factor(config.int(Directive::LfuLogFactor) as u32);
    access_bits::set_lfu_decay_time(config.int(Directive::LfuDecayTime) as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenacity_budget_as_valkey_computes_it() {
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(10), 500);
        assert_eq!(time_limit_us(11), 575);
        assert_eq!(time_limit_us(100), u64::MAX);
    }

    #[test]
    fn memory_directives_parse_like_valkey() {
        assert_eq!(check_maxmemory("1kb").unwrap(), "1024");
        assert_eq!(check_maxmemory("1K").unwrap(), "1000");
        assert_eq!(
            check_maxmemory("18446744073709551615").unwrap(),
            "18446744073709551615"
        );
        for bad in ["-1", "1.5mb", "100%", "", "18446744073709551616", "1tb"] {
            assert_eq!(
                check_maxmemory(bad).unwrap_err(),
                "argument must be a memory value",
                "{bad}"
            );
        }
        assert_eq!(check_maxmemory_clients("50%").unwrap(), "50%");
        assert_eq!(check_maxmemory_clients("0%").unwrap(), "0");
        assert_eq!(check_maxmemory_clients("1gb").unwrap(), "1073741824");
        assert_eq!(
            check_maxmemory_clients("101%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        for bad in ["-1", "-5%", "10.5%", "abc", "%"] {
            assert_eq!(
                check_maxmemory_clients(bad).unwrap_err(),
                "argument must be a memory or percent value",
                "{bad}"
            );
        }
    }

    #[test]
    fn directives_reach_their_numbers() {
        let config = Config::new();
        config
            .set_many(&[("maxmemory", "2mb"), ("maxmemory-clients", "25%")])
            .unwrap();
        assert_eq!(config.int(Directive::Maxmemory), 2 * 1024 * 1024);
        assert_eq!(config.int(Directive::MaxmemoryClients), -25);
        assert_eq!(config.show(Directive::Maxmemory as usize), "2097152");
        assert_eq!(config.show(Directive::MaxmemoryClients as usize), "25%");
    }
}
