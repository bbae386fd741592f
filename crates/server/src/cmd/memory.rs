//! MEMORY USAGE, STATS, DOCTOR, PURGE, MALLOC-STATS and HELP, and the figures INFO's memory
//! section shares with them.
//!
//! MEMORY USAGE estimates a key's bytes from what it really holds: its bucket (entry and key
//! bytes, rounded to the allocator's size class), its share of the slot table, and its value's
//! allocations, rounded the same way. A small collection is one packed allocation and is
//! counted exactly; a large one is estimated from `SAMPLES` elements (5 by default, all with 0)
//! times its length, plus the per-element bookkeeping of its structure.

use std::sync::atomic::Ordering;

use tern_keyspace::{Entry, HashValue, ListValue, SetValue, StrValue, Value, ZSetValue};
use tern_resp::Request;

use super::{parse_i64, write_help, Ctx, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::memory::AllocatorStats;
use crate::server::Server;

/// Table bytes per key: a 64-byte group holds nine, kept between about 58% and 87% full.
const TABLE_BYTES_PER_KEY: u64 = 10;
/// A database's slot array: 16384 slots of 64 bytes.
const SLOTS_BYTES: u64 = 16384 * 64;
/// The default of MEMORY USAGE's SAMPLES.
const DEFAULT_SAMPLES: usize = 5;

/// The memory figures INFO and MEMORY STATS report.
pub struct Figures {
    pub used: u64,
    pub rss: u64,
    pub peak: u64,
    pub startup: u64,
    /// Everything but the data: start-up, clients, scripts, the databases' tables.
    pub overhead: u64,
    pub clients: u64,
    pub lua_vm: u64,
    pub scripts_eval: u64,
    pub cached_scripts: usize,
    pub allocator: AllocatorStats,
    pub keys: u64,
    /// Per used database: (index, table bytes, expiry index bytes).
    pub dbs: Vec<(usize, u64, u64)>,
}

impl Figures {
    /// The figures fragmentation is judged by, each as (measured, base): the allocator's active
    /// bytes against what it handed out, its resident bytes against active, the process's
    /// resident set against the allocator's, and the resident set against used memory. MEMORY
    /// STATS and INFO show each as a ratio and as a difference.
    pub fn fragmentation(&self) -> [(u64, u64); 4] {
        let allocator = self.allocator;
        [
            (allocator.active, allocator.allocated),
            (allocator.resident, allocator.active),
            (self.rss, allocator.resident),
            (self.rss, self.used),
        ]
    }

    pub fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead)
    }

    /// The dataset's share of the memory used since start-up.
    pub fn dataset_percentage(&self) -> f32 {
        let net = self.used.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f32 * 100.0 / net as f32
        }
    }

    pub fn peak_percentage(&self) -> f32 {
        if self.peak == 0 {
            0.0
        } else {
            self.used as f32 * 100.0 / self.peak as f32
        }
    }
}

/// Reads the allocator's exact figures (re-basing the running figure) and adds up the rest.
pub fn figures(server: &Server) -> Figures {
    let allocator = crate::memory::calibrate();
    let used = allocator.used();
    let clients: u64 = server
        .clients
        .lock()
        .values()
        .map(|client| crate::evict::client_memory(client))
        .sum();
    // The interpreter is busy while a script runs: its figures are then left out.
    let (lua_vm, cached_scripts) = match server.scripting.engine.try_lock() {
        Some(engine) => (engine.memory() as u64, engine.script_count()),
        None => (0, 0),
    };
    let mut keys = 0;
    let mut dbs = Vec::new();
    // Database 0 is always listed, as Valkey creates it at start; the others once used.
    if !server.keyspace.db(0).is_used() {
        dbs.push((0, 0, 0));
    }
    for (index, db) in server.keyspace.used_dbs() {
        let count = db.len() as u64;
        keys += count;
        dbs.push((index, SLOTS_BYTES + count * TABLE_BYTES_PER_KEY, 0));
    }
    let startup = crate::memory::startup();
    let overhead = startup
        + clients
        + lua_vm
        + dbs
            .iter()
            .map(|(_, main, expires)| main + expires)
            .sum::<u64>();
    Figures {
        used,
        rss: crate::memory::resident_bytes(),
        peak: crate::memory::peak().max(used),
        startup,
        overhead,
        clients,
        lua_vm,
        scripts_eval: 0,
        cached_scripts,
        allocator,
        keys,
        dbs,
    }
}

/// A double reply: RESP3 `,`, RESP2 a bulk string, in the shortest text that reads back.
fn double(ctx: &mut Ctx<'_>, value: f64) {
    let text = format!("{value}");
    if ctx.reply.resp3() {
        ctx.reply.raw(format!(",{text}\r\n").as_bytes());
    } else {
        ctx.reply.bulk(text.as_bytes());
    }
}

/// MEMORY STATS
pub fn stats(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let figures = figures(ctx.server);
    ctx.reply.map(34 + figures.dbs.len());
    let int = |ctx: &mut Ctx<'_>, name: &str, value: i64| {
        ctx.reply.bulk(name.as_bytes());
        ctx.reply.int(value);
    };
    int(ctx, "peak.allocated", figures.peak as i64);
    int(ctx, "total.allocated", figures.used as i64);
    int(ctx, "startup.allocated", figures.startup as i64);
    int(ctx, "replication.backlog", 0);
    int(ctx, "replicas.repl.buffer", 0);
    int(ctx, "clients.slaves", 0);
    int(ctx, "clients.normal", figures.clients as i64);
    int(ctx, "cluster.links", 0);
    int(ctx, "cluster.slot_import", 0);
    int(ctx, "cluster.slot_export", 0);
    int(ctx, "aof.buffer", 0);
    int(ctx, "lua.caches", figures.scripts_eval as i64);
    int(ctx, "functions.caches", 0);
    for &(index, main, expires) in &figures.dbs {
        ctx.reply.bulk(format!("db.{index}").as_bytes());
        ctx.reply.map(2);
        int(ctx, "overhead.hashtable.main", main as i64);
        int(ctx, "overhead.hashtable.expires", expires as i64);
    }
    int(ctx, "overhead.db.hashtable.lut", 0);
    int(ctx, "overhead.db.hashtable.rehashing", 0);
    int(ctx, "overhead.total", figures.overhead as i64);
    int(ctx, "db.dict.rehashing.count", 0);
    int(ctx, "keys.count", figures.keys as i64);
    let per_key = figures.dataset().checked_div(figures.keys).unwrap_or(0);
    int(ctx, "keys.bytes-per-key", per_key as i64);
    int(ctx, "dataset.bytes", figures.dataset() as i64);
    ctx.reply.bulk(b"dataset.percentage");
    double(ctx, f64::from(figures.dataset_percentage()));
    ctx.reply.bulk(b"peak.percentage");
    double(ctx, f64::from(figures.peak_percentage()));
    let allocator = figures.allocator;
    int(ctx, "allocator.allocated", allocator.allocated as i64);
    int(ctx, "allocator.active", allocator.active as i64);
    int(ctx, "allocator.resident", allocator.resident as i64);
    int(ctx, "allocator.muzzy", allocator.muzzy as i64);
    let ratio = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            (a as f32 / b as f32) as f64
        }
    };
    // The last figure's ratio has no suffix.
    let names = [
        (
            "allocator-fragmentation.ratio",
            "allocator-fragmentation.bytes",
        ),
        ("allocator-rss.ratio", "allocator-rss.bytes"),
        ("rss-overhead.ratio", "rss-overhead.bytes"),
        ("fragmentation", "fragmentation.bytes"),
    ];
    for ((ratio_name, bytes_name), (a, b)) in names.into_iter().zip(figures.fragmentation()) {
        ctx.reply.bulk(ratio_name.as_bytes());
        double(ctx, ratio(a, b));
        int(ctx, bytes_name, a as i64 - b as i64);
    }
}

const DOCTOR_FINE: &str = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_ISSUES: &str =
    "Sam, I detected a few issues in this Valkey instance memory implants:\n\n";
const DOCTOR_PEAK: &str = " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Valkey instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Valkey instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n";
const DOCTOR_ALLOCATOR_FRAGMENTATION: &str = " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n";
const DOCTOR_ALLOCATOR_RSS: &str = " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n";
const DOCTOR_PROCESS_RSS: &str = " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Valkey process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n";
const DOCTOR_CLIENTS: &str = " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Valkey instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n";
const DOCTOR_SCRIPTS: &str = " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n";
const DOCTOR_END: &str = "I'm here to keep you safe, Sam. I want to help you.\n";

/// MEMORY DOCTOR: Valkey's checks and report, on Tern's figures.
pub fn doctor(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let figures = figures(ctx.server);
    let report = doctor_report(ctx.server, &figures);
    ctx.reply.verbatim(report.as_bytes());
}

fn doctor_report(server: &Server, figures: &Figures) -> String {
    const MB: u64 = 1024 * 1024;
    if figures.used < 5 * MB {
        return DOCTOR_EMPTY.into();
    }
    let over = |a: u64, b: u64, ratio: f64| b > 0 && a as f64 / b as f64 > ratio && a > b + 10 * MB;
    let allocator = figures.allocator;
    let mut sections = Vec::new();
    if figures.peak as f64 / figures.used as f64 > 1.5 {
        sections.push(DOCTOR_PEAK.to_string());
    }
    if over(figures.rss, figures.used, 1.4) {
        sections.push(format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Valkey process is much larger than the sum of the logical allocations Valkey performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{}\".\n\n", crate::memory::allocator_name()));
    }
    if over(allocator.active, allocator.allocated, 1.1) {
        sections.push(DOCTOR_ALLOCATOR_FRAGMENTATION.into());
    }
    if over(allocator.resident, allocator.active, 1.1) {
        sections.push(DOCTOR_ALLOCATOR_RSS.into());
    }
    if over(figures.rss, allocator.resident, 1.1) {
        sections.push(DOCTOR_PROCESS_RSS.into());
    }
    let clients = server.connected_clients.load(Ordering::Relaxed).max(1) as u64;
    if figures.clients / clients > 200 * 1024 {
        sections.push(DOCTOR_CLIENTS.into());
    }
    if figures.cached_scripts > 1000 {
        sections.push(DOCTOR_SCRIPTS.into());
    }
    if sections.is_empty() {
        return DOCTOR_FINE.into();
    }
    let mut report = DOCTOR_ISSUES.to_string();
    for section in sections {
        report.push_str(&section);
    }
    report.push_str(DOCTOR_END);
    report
}

/// MEMORY PURGE
pub fn purge(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    crate::memory::purge();
    ctx.reply.ok();
}

/// MEMORY MALLOC-STATS
pub fn malloc_stats(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    match crate::memory::report() {
        Some(text) => ctx.reply.verbatim(text.as_bytes()),
        None => ctx
            .reply
            .bulk(b"Stats not supported for the current allocator"),
    }
}

/// MEMORY HELP
pub fn help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "memory",
        &[
            "DOCTOR",
            "    A report of memory problems, if any.",
            "MALLOC-STATS",
            "    The allocator's own statistics.",
            "PURGE",
            "    Returns unused memory held by the allocator to the system.",
            "STATS",
            "    Where the server's memory goes.",
            "USAGE <key> [SAMPLES <count>]",
            "    Bytes used by <key> and its value; large values are estimated from <count>",
            "    sampled elements (default: 5, 0 means all).",
            "HELP",
            "    This text.",
        ],
    );
}

/// MEMORY USAGE key [SAMPLES count]
pub fn usage(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut samples = DEFAULT_SAMPLES;
    let mut index = 3;
    while index < request.len() {
        if request.arg(index).eq_ignore_ascii_case(b"SAMPLES") && index + 1 < request.len() {
            match parse_i64(request.arg(index + 1)) {
                None => return ctx.reply.error(NOT_AN_INTEGER),
                Some(n) if n < 0 => return ctx.reply.error(SYNTAX_ERROR),
                Some(0) => samples = usize::MAX,
                Some(n) => samples = n as usize,
            }
            index += 2;
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
    }
    let key = request.arg(2);
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    match table.get(key, now_ms) {
        Some(entry) => {
            let bytes = key_usage(key, entry, samples, now_ms);
            drop(table);
            ctx.reply.int(bytes as i64);
        }
        None => {
            drop(table);
            ctx.reply.null();
        }
    }
}

/// The allocator's size class for `bytes` (jemalloc's: 8, 16, then multiples of 16 up to 128,
/// then four classes per doubling).
pub fn size_class(bytes: usize) -> usize {
    match bytes {
        0 => 0,
        1..=8 => 8,
        9..=128 => bytes.div_ceil(16) * 16,
        _ => {
            let power = usize::BITS - (bytes - 1).leading_zeros();
            let step = 1usize << (power - 3);
            bytes.div_ceil(step) * step
        }
    }
}

/// Heap bytes of a byte string kept in a [`tern_keyspace::CompactBytes`]-like slot: nothing up
/// to its inline capacity, else one allocation.
fn compact_heap(len: usize) -> usize {
    if len <= 22 {
        0
    } else {
        size_class(len)
    }
}

/// The estimated bytes of `key` with its entry.
pub fn key_usage(key: &[u8], entry: &Entry, samples: usize, now_ms: u64) -> usize {
    let bucket = size_class(entry.bucket_bytes(key.len()));
    bucket + TABLE_BYTES_PER_KEY as usize + value_usage(&entry.value, samples, now_ms)
}

/// Average of `size` over the first `samples` items (at least one), times `count`.
fn extrapolate<T>(
    items: impl Iterator<Item = T>,
    count: usize,
    samples: usize,
    size: impl Fn(T) -> usize,
) -> usize {
    let (mut total, mut seen) = (0usize, 0usize);
    for item in items.take(samples.max(1)) {
        total += size(item);
        seen += 1;
    }
    (total * count).checked_div(seen).unwrap_or(0)
}

/// Bytes of an indexable hash table of `count` entries of `entry_bytes` each: the entries
/// vector (growing by doubling) and an index of 8-byte slots at most 7/8 full.
fn table_bytes(count: usize, entry_bytes: usize) -> usize {
    let capacity = count.next_power_of_two();
    size_class(capacity * entry_bytes) + size_class((capacity * 8 * 8).div_ceil(7) + capacity)
}

/// The value's own allocations.
fn value_usage(value: &Value, samples: usize, now_ms: u64) -> usize {
    match value {
        Value::Str(StrValue::Int(_)) => 0,
        Value::Str(StrValue::Embedded(bytes)) => compact_heap(bytes.len()),
        Value::Str(StrValue::Raw(bytes)) => size_class(bytes.len()),
        Value::Set(SetValue::Intset(numbers)) => size_class(numbers.len() * 8),
        Value::Set(SetValue::Listpack(pack)) => size_class(pack.allocated_bytes()),
        Value::Set(set @ SetValue::Hashtable(_)) => {
            let members = extrapolate(set.iter(), set.len(), samples, |member| {
                compact_heap(member.text_len())
            });
            size_class(8) + table_bytes(set.len(), 32) + members
        }
        Value::List(ListValue::Listpack { pack, .. }) => size_class(pack.allocated_bytes()),
        Value::List(list @ ListValue::Quicklist(_)) => {
            // Nodes of packs of up to 4 KB, each about full.
            let packed = extrapolate(list.iter(), list.len(), samples, |item| {
                tern_keyspace::packed_entry_bytes(&item.to_vec())
            });
            let nodes = packed.div_ceil(4096).max(1);
            size_class(64) + nodes * (size_class(4096) + 32)
        }
        Value::ZSet(ZSetValue::Listpack(pack)) => size_class(pack.allocated_bytes()),
        Value::ZSet(zset @ ZSetValue::Skiplist(_)) => {
            let members = extrapolate(zset.iter(), zset.len(), samples, |(member, _)| {
                compact_heap(member.text_len())
            });
            // Members and scores in vectors, a u32 index, and the ordered tree's leaves.
            size_class(256)
                + size_class(zset.len().next_power_of_two() * (24 + 8))
                + table_bytes(zset.len(), 4)
                + zset.len() * 12
                + members
        }
        Value::Hash(HashValue::Listpack(pack)) => size_class(pack.allocated_bytes()),
        Value::Hash(hash @ HashValue::Hashtable(_)) => {
            let pairs = extrapolate(hash.iter(now_ms), hash.len(), samples, |(field, value)| {
                compact_heap(field.text_len()) + compact_heap(value.text_len())
            });
            size_class(64) + table_bytes(hash.len(), 64) + pairs
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_follow_the_allocator() {
        assert_eq!(size_class(1), 8);
        assert_eq!(size_class(9), 16);
        assert_eq!(size_class(64), 64);
        assert_eq!(size_class(65), 80);
        assert_eq!(size_class(129), 160);
        assert_eq!(size_class(257), 320);
        assert_eq!(size_class(4096), 4096);
        assert_eq!(size_class(4097), 5120);
    }
}
