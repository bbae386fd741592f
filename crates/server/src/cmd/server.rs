//! Server commands: INFO, COMMAND, CONFIG, TIME, LASTSAVE, SHUTDOWN, DEBUG, MONITOR.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tern_commands::{summary, BeginSearch, CommandSpec, FindKeys};
use tern_keyspace::{glob_match, EXPIRED_KEYS};
use tern_resp::{ReplyWriter, Request};

use super::{write_help, Ctx, SYNTAX_ERROR};
use crate::config::{Directive, DEFS};
use crate::server::{unix_us, Server};

// ---------------------------------------------------------------------------------------------
// INFO

/// INFO [section [section ...]]
pub fn info(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    // This worker's figures of the commands before this one in the same read.
    ctx.local.publish(ctx.server);
    let sections: Vec<String> = request
        .iter()
        .skip(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = info_text(ctx.server, &sections, ctx.now_ms);
    ctx.reply.verbatim(text.as_bytes());
}

/// Every INFO section in output order, and whether a plain INFO (or `default`) includes it.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// The INFO text for the requested sections (none: the default ones; `all`, `everything`).
pub fn info_text(server: &Server, requested: &[String], now_ms: u64) -> String {
    let asked = |name: &str| requested.iter().any(|s| s == name);
    let defaults = requested.is_empty() || asked("default");
    let everything = asked("all") || asked("everything");
    let order = SECTIONS
        .iter()
        .filter(|(name, default)| everything || (defaults && *default) || asked(name))
        .map(|(name, _)| *name);
    let mut text = String::new();
    for section in order {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(server, section, now_ms, &mut text);
    }
    text
}

fn write_section(server: &Server, section: &str, now_ms: u64, out: &mut String) {
    let title = match section {
        "cpu" => "CPU".to_string(),
        other => {
            let mut title = other.to_string();
            title[..1].make_ascii_uppercase();
            title
        }
    };
    let _ = write!(out, "# {title}\r\n");
    let mut line = |key: &str, value: &dyn std::fmt::Display| {
        let _ = write!(out, "{key}:{value}\r\n");
    };
    match section {
        "server" => {
            let uptime = server.started.elapsed().as_secs();
            line("redis_version", &crate::REDIS_VERSION);
            line("server_name", &"valkey");
            line("valkey_version", &crate::VALKEY_VERSION);
            line("valkey_release_stage", &"ga");
            line("tern_version", &env!("CARGO_PKG_VERSION"));
            line("redis_git_sha1", &"00000000");
            line("redis_git_dirty", &0);
            line("redis_build_id", &"0");
            line("server_mode", &"standalone");
            line("os", &os_name());
            line("arch_bits", &64);
            line("multiplexing_api", &"epoll");
            line("process_id", &std::process::id());
            line("process_supervised", &"no");
            line("run_id", &server.run_id);
            line("tcp_port", &server.tcp_port);
            line("server_time_usec", &unix_us());
            line("uptime_in_seconds", &uptime);
            line("uptime_in_days", &(uptime / 86_400));
            line("hz", &server.config.int(Directive::Hz));
            line("configured_hz", &server.config.int(Directive::Hz));
            line("lru_clock", &((now_ms / 1000) & 0xFF_FFFF));
            line("executable", &server.executable);
            line("config_file", &server.config_file);
            line("io_threads_active", &0);
            line("worker_threads", &server.worker_stats.len());
            line("availability_zone", &"");
        }
        "clients" => {
            line(
                "connected_clients",
                &server.connected_clients.load(Ordering::Relaxed),
            );
            line("cluster_connections", &0);
            line("maxclients", &server.config.int(Directive::Maxclients));
            line("client_recent_max_input_buffer", &0);
            line("client_recent_max_output_buffer", &0);
            let (blocked, timed, blocking_keys) = server.blocking.counts();
            line("blocked_clients", &blocked);
            let tracking = server.tracking.counts();
            let (watching_clients, watched_keys) = server.watches.counts();
            line("tracking_clients", &tracking.clients);
            line("pubsub_clients", &server.pubsub.client_count());
            line("watching_clients", &watching_clients);
            line("clients_in_timeout_table", &timed);
            line("total_watched_keys", &watched_keys);
            line("total_blocking_keys", &blocking_keys);
            line("total_blocking_keys_on_nokey", &0);
        }
        "memory" => {
            let figures = crate::cmd::memory::figures(server);
            line("used_memory", &figures.used);
            line("used_memory_human", &human_bytes(figures.used));
            line("used_memory_rss", &figures.rss);
            line("used_memory_rss_human", &human_bytes(figures.rss));
            line("used_memory_peak", &figures.peak);
            line("used_memory_peak_human", &human_bytes(figures.peak));
            line("used_memory_peak_perc", &format!("{:.2}%", figures.peak_percentage()));
            line("used_memory_overhead", &figures.overhead);
            line("used_memory_startup", &figures.startup);
            line("used_memory_dataset", &figures.dataset());
            line(
                "used_memory_dataset_perc",
                &format!("{:.2}%", figures.dataset_percentage()),
            );
            line("allocator_allocated", &figures.allocator.allocated);
            line("allocator_active", &figures.allocator.active);
            line("allocator_resident", &figures.allocator.resident);
            line("allocator_muzzy", &figures.allocator.muzzy);
            let system = crate::memory::total_system_memory();
            line("total_system_memory", &system);
            line("total_system_memory_human", &human_bytes(system));
            let lua = figures.lua_vm;
            line("used_memory_lua", &lua);
            line("used_memory_vm_eval", &lua);
            line("used_memory_lua_human", &human_bytes(lua));
            line("used_memory_scripts_eval", &figures.scripts_eval);
            line("number_of_cached_scripts", &figures.cached_scripts);
            line(
                "number_of_functions",
                &server.scripting.function_count.load(Ordering::Relaxed),
            );
            line(
                "number_of_libraries",
                &server.scripting.library_count.load(Ordering::Relaxed),
            );
            line("used_memory_vm_functions", &0);
            line("used_memory_vm_total", &lua);
            line("used_memory_vm_total_human", &human_bytes(lua));
            line("used_memory_functions", &0);
            line("used_memory_scripts", &figures.scripts_eval);
            line("used_memory_scripts_human", &human_bytes(figures.scripts_eval));
            // The setting as given (up to 2^64 - 1); the checks use it capped at 2^63 - 1.
            let maxmemory =
                crate::config::parse_size(&server.config.text(Directive::Maxmemory)).unwrap_or(0);
            line("maxmemory", &maxmemory);
            line("maxmemory_human", &human_bytes(maxmemory));
            line(
                "maxmemory_policy",
                &server.config.enum_name(Directive::MaxmemoryPolicy),
            );
            let names = [
                "allocator_frag",
                "allocator_rss",
                "rss_overhead",
                "mem_fragmentation",
            ];
            for (name, (a, b)) in names.into_iter().zip(figures.fragmentation()) {
                let ratio = if b > 0 { a as f64 / b as f64 } else { 0.0 };
                line(&format!("{name}_ratio"), &format!("{ratio:.2}"));
                line(&format!("{name}_bytes"), &(a as i64 - b as i64));
            }
            line("mem_not_counted_for_evict", &0);
            line("mem_replication_backlog", &0);
            line("mem_total_replication_buffers", &0);
            line("mem_replicas_repl_buffer", &0);
            line("mem_clients_slaves", &0);
            line("mem_clients_normal", &figures.clients);
            line("mem_cluster_links", &0);
            line("mem_cluster_slot_import", &0);
            line("mem_cluster_slot_export", &0);
            line("mem_aof_buffer", &0);
            line("mem_allocator", &crate::memory::allocator_name());
            line("mem_overhead_db_hashtable_rehashing", &0);
            line("active_defrag_running", &0);
            line("lazyfree_pending_objects", &crate::lazyfree::pending());
            line("lazyfreed_objects", &crate::lazyfree::freed());
        }
        "persistence" => {
            line("loading", &0);
            line("async_loading", &0);
            line("rdb_changes_since_last_save", &0);
            line("rdb_bgsave_in_progress", &0);
            line("rdb_last_save_time", &(server.started_unix_ms / 1000));
            line("rdb_last_bgsave_status", &"ok");
            line("aof_enabled", &0);
            line("aof_rewrite_in_progress", &0);
            line("aof_last_write_status", &"ok");
        }
        "stats" => {
            let stats = sum_stats(server);
            line(
                "total_connections_received",
                &server.total_connections_received.load(Ordering::Relaxed),
            );
            line("total_commands_processed", &stats.calls);
            line(
                "instantaneous_ops_per_sec",
                &server.ops_samples.lock().per_second(),
            );
            line("total_net_input_bytes", &stats.net_in);
            line("total_net_output_bytes", &stats.net_out);
            line(
                "rejected_connections",
                &server.rejected_connections.load(Ordering::Relaxed),
            );
            line("expired_keys", &EXPIRED_KEYS.load(Ordering::Relaxed));
            line(
                "evicted_keys",
                &crate::evict::EVICTED_KEYS.load(Ordering::Relaxed),
            );
            line(
                "evicted_clients",
                &crate::evict::EVICTED_CLIENTS.load(Ordering::Relaxed),
            );
            let (total_exceeded_ms, current_exceeded_ms) = crate::evict::exceeded_times_ms();
            line("total_eviction_exceeded_time", &total_exceeded_ms);
            line("current_eviction_exceeded_time", &current_exceeded_ms);
            line("keyspace_hits", &stats.hits);
            line("keyspace_misses", &stats.misses);
            line("pubsub_channels", &server.pubsub.channel_count());
            line("pubsub_patterns", &server.pubsub.pattern_count());
            line("pubsubshard_channels", &server.pubsub.shard_channel_count());
            let tracking = server.tracking.counts();
            line("tracking_total_keys", &tracking.keys);
            line("tracking_total_items", &tracking.items);
            line("tracking_total_prefixes", &tracking.prefixes);
            line("total_error_replies", &stats.errors);
            line(
                "client_query_buffer_limit_disconnections",
                &stats.query_limit_disconnections,
            );
            line(
                "client_output_buffer_limit_disconnections",
                &stats.output_limit_disconnections,
            );
        }
        "replication" => {
            line("role", &"master");
            line("connected_slaves", &0);
            line("master_replid", &server.run_id);
            line(
                "master_replid2",
                &"0000000000000000000000000000000000000000",
            );
            line("master_repl_offset", &0);
            line("second_repl_offset", &-1);
            line("repl_backlog_active", &0);
        }
        "cpu" => {
            let (system, user) = cpu_seconds();
            line("used_cpu_sys", &format!("{system:.6}"));
            line("used_cpu_user", &format!("{user:.6}"));
            line("used_cpu_sys_children", &"0.000000");
            line("used_cpu_user_children", &"0.000000");
        }
        "modules" => line(
            "module",
            &"name=lua,ver=1,api=1,filters=0,usedby=[],using=[],options=[handle-repl-async-load|handle-atomic-slot-migration]",
        ),
        "commandstats" => {
            for (name, calls, usec, rejected, failed) in command_stats(server) {
                let per_call = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                line(
                    &format!("cmdstat_{name}"),
                    &format!("calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}"),
                );
            }
        }
        "errorstats" => {
            let mut errors: Vec<(String, u64)> = Vec::new();
            for stats in &server.worker_stats {
                for (code, count) in &stats.lock().errors {
                    match errors.iter_mut().find(|(c, _)| c == code) {
                        Some((_, total)) => *total += count,
                        None => errors.push((code.clone(), *count)),
                    }
                }
            }
            errors.sort();
            for (code, count) in errors {
                line(&format!("errorstat_{code}"), &format!("count={count}"));
            }
        }
        "latencystats" => {
            for (name, histogram) in latency_histograms(server) {
                let p = |q: f64| histogram.value_at_quantile(q) as f64;
                line(
                    &format!("latency_percentiles_usec_{name}"),
                    &format!("p50={:.3},p99={:.3},p99.9={:.3}", p(0.5), p(0.99), p(0.999)),
                );
            }
        }
        "cluster" => {
            line("cluster_enabled", &0);
        }
        "keyspace" => {
            for (index, db) in server.keyspace.used_dbs() {
                let keys = db.len();
                if keys > 0 {
                    line(
                        &format!("db{index}"),
                        &format!(
                            "keys={keys},expires={},avg_ttl=0,keys_with_volatile_items=0",
                            db.volatile_len()
                        ),
                    );
                }
            }
        }
        _ => {}
    }
}

struct Totals {
    calls: u64,
    hits: u64,
    misses: u64,
    errors: u64,
    net_in: u64,
    net_out: u64,
    query_limit_disconnections: u64,
    output_limit_disconnections: u64,
}

fn sum_stats(server: &Server) -> Totals {
    let mut totals = Totals {
        calls: 0,
        hits: 0,
        misses: 0,
        errors: 0,
        net_in: 0,
        net_out: 0,
        query_limit_disconnections: 0,
        output_limit_disconnections: 0,
    };
    for stats in &server.worker_stats {
        let stats = stats.lock();
        totals.calls += stats.commands.iter().map(|c| c.calls).sum::<u64>();
        totals.hits += stats.keyspace_hits;
        totals.misses += stats.keyspace_misses;
        totals.errors += stats.errors.values().sum::<u64>();
        totals.query_limit_disconnections += stats.query_buffer_limit_disconnections;
        totals.output_limit_disconnections += stats.output_buffer_limit_disconnections;
    }
    for client in server.clients.lock().values() {
        totals.net_in += client.net_in.load(Ordering::Relaxed);
        totals.net_out += client.net_out.load(Ordering::Relaxed);
    }
    totals
}

/// (name, calls, usec, rejected, failed) of every command that was called or rejected.
fn command_stats(server: &Server) -> Vec<(&'static str, u64, u64, u64, u64)> {
    let mut rows: Vec<(&'static str, u64, u64, u64, u64)> = server
        .table
        .commands
        .iter()
        .map(|command| (command.spec.name, 0, 0, 0, 0))
        .collect();
    for stats in &server.worker_stats {
        let stats = stats.lock();
        for (row, entry) in rows.iter_mut().zip(&stats.commands) {
            row.1 += entry.calls;
            row.2 += entry.usec;
            row.3 += entry.rejected_calls;
            row.4 += entry.failed_calls;
        }
    }
    rows.retain(|row| row.1 + row.3 > 0);
    rows
}

fn latency_histograms(server: &Server) -> Vec<(&'static str, hdrhistogram::Histogram<u64>)> {
    let mut merged: Vec<(&'static str, hdrhistogram::Histogram<u64>)> = Vec::new();
    for (index, command) in server.table.commands.iter().enumerate() {
        let mut total: Option<hdrhistogram::Histogram<u64>> = None;
        for stats in &server.worker_stats {
            if let Some(histogram) = &stats.lock().commands[index].latency_us {
                match &mut total {
                    Some(total) => {
                        let _ = total.add(histogram);
                    }
                    None => total = Some(histogram.clone()),
                }
            }
        }
        if let Some(total) = total.filter(|h| !h.is_empty()) {
            merged.push((command.spec.name, total));
        }
    }
    merged
}

fn os_name() -> String {
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct it is given; the fields are NUL-terminated C strings.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "Linux".into();
    }
    let field = |chars: &[libc::c_char]| {
        // SAFETY: uname NUL-terminates each field within its array.
        unsafe { std::ffi::CStr::from_ptr(chars.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{} {} {}",
        field(&uts.sysname),
        field(&uts.release),
        field(&uts.machine)
    )
}

/// (system, user) CPU seconds of the whole process.
fn cpu_seconds() -> (f64, f64) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (seconds(usage.ru_stime), seconds(usage.ru_utime))
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    let value = bytes as f64;
    if value < 1024.0 {
        format!("{bytes}B")
    } else if value < 1024.0 * 1024.0 {
        format!("{:.2}K", value / 1024.0)
    } else if value < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", value / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", value / (1024.0 * 1024.0 * 1024.0))
    }
}

// ---------------------------------------------------------------------------------------------
// COMMAND

/// COMMAND COUNT
pub fn command_count(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.reply.int(tern_commands::COMMANDS.len() as i64);
}

/// Writes one command's COMMAND INFO entry (with its subcommands).
fn write_command_info(reply: &mut ReplyWriter<'_>, spec: &CommandSpec) {
    reply.array(10);
    reply.bulk(spec.name.as_bytes());
    reply.int(i64::from(spec.arity));
    reply.set(spec.flags.len());
    for flag in spec.flags {
        reply.simple(flag.as_bytes());
    }
    reply.int(spec.first_key);
    reply.int(spec.last_key);
    reply.int(spec.key_step);
    reply.set(spec.acl_categories.len());
    for category in spec.acl_categories {
        reply.simple(category.as_bytes());
    }
    reply.set(spec.tips.len());
    for tip in spec.tips {
        reply.bulk(tip.as_bytes());
    }
    reply.set(spec.key_specs.len());
    for key_spec in spec.key_specs {
        reply.map(3);
        reply.bulk(b"flags");
        reply.set(key_spec.flags.len());
        for flag in key_spec.flags {
            reply.simple(flag.as_bytes());
        }
        reply.bulk(b"begin_search");
        reply.map(2);
        reply.bulk(b"type");
        match key_spec.begin_search {
            BeginSearch::Index(index) => write_int_spec(reply, b"index", &[(b"index", index)]),
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => {
                reply.bulk(b"keyword");
                reply.bulk(b"spec");
                reply.map(2);
                reply.bulk(b"keyword");
                reply.bulk(keyword.as_bytes());
                reply.bulk(b"startfrom");
                reply.int(start_from);
            }
            BeginSearch::Unknown => {
                reply.bulk(b"unknown");
                reply.bulk(b"spec");
                reply.map(0);
            }
        }
        reply.bulk(b"find_keys");
        reply.map(2);
        reply.bulk(b"type");
        match key_spec.find_keys {
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => write_int_spec(
                reply,
                b"range",
                &[
                    (b"lastkey", last_key),
                    (b"keystep", key_step),
                    (b"limit", limit),
                ],
            ),
            FindKeys::Keynum {
                keynum_index,
                first_key,
                key_step,
            } => write_int_spec(
                reply,
                b"keynum",
                &[
                    (b"keynumidx", keynum_index),
                    (b"firstkey", first_key),
                    (b"keystep", key_step),
                ],
            ),
            FindKeys::Unknown => {
                reply.bulk(b"unknown");
                reply.bulk(b"spec");
                reply.map(0);
            }
        }
    }
    reply.array(spec.subcommands.len());
    for sub in spec.subcommands {
        write_command_info(reply, sub);
    }
}

/// Writes `type`, the kind, and `spec` as a map of integer fields (a key spec's search step).
fn write_int_spec(reply: &mut ReplyWriter<'_>, kind: &[u8], fields: &[(&[u8], i64)]) {
    reply.bulk(kind);
    reply.bulk(b"spec");
    reply.map(fields.len());
    for (name, value) in fields {
        reply.bulk(name);
        reply.int(*value);
    }
}

/// Finds a command or subcommand by its full name (`get`, `client|list`).
fn find_full(name: &[u8]) -> Option<&'static CommandSpec> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    tern_commands::all().find(|spec| spec.name == name)
}

/// COMMAND INFO [command-name ...] (and COMMAND without arguments).
pub fn command_info(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if request.len() == 2 {
        ctx.reply.array(tern_commands::COMMANDS.len());
        for spec in tern_commands::COMMANDS {
            write_command_info(&mut ctx.reply, spec);
        }
        return;
    }
    ctx.reply.array(request.len() - 2);
    for name in request.iter().skip(2) {
        match find_full(name) {
            Some(spec) => write_command_info(&mut ctx.reply, spec),
            None => ctx.reply.null(),
        }
    }
}

fn write_command_docs(reply: &mut ReplyWriter<'_>, spec: &CommandSpec) {
    reply.bulk(spec.name.as_bytes());
    let has_subcommands = !spec.subcommands.is_empty();
    reply.map(3 + usize::from(has_subcommands));
    reply.bulk(b"summary");
    reply.bulk(summary(spec.name).as_bytes());
    reply.bulk(b"since");
    reply.bulk(spec.since.as_bytes());
    reply.bulk(b"group");
    reply.bulk(spec.group.as_bytes());
    if has_subcommands {
        reply.bulk(b"subcommands");
        reply.map(spec.subcommands.len());
        for sub in spec.subcommands {
            write_command_docs(reply, sub);
        }
    }
}

/// COMMAND DOCS [command-name ...]
pub fn command_docs(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let specs: Vec<&CommandSpec> = if request.len() == 2 {
        tern_commands::COMMANDS.iter().collect()
    } else {
        request.iter().skip(2).filter_map(find_full).collect()
    };
    ctx.reply.map(specs.len());
    for spec in specs {
        write_command_docs(&mut ctx.reply, spec);
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
pub fn command_list(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let filter: Box<dyn Fn(&CommandSpec) -> bool> = match request.len() {
        2 => Box::new(|_| true),
        5 if request.arg(2).eq_ignore_ascii_case(b"FILTERBY") => {
            let (kind, value) = (request.arg(3), request.arg(4).to_vec());
            if kind.eq_ignore_ascii_case(b"MODULE") {
                Box::new(|_| false)
            } else if kind.eq_ignore_ascii_case(b"ACLCAT") {
                Box::new(move |spec| {
                    spec.acl_categories
                        .iter()
                        .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(&value))
                })
            } else if kind.eq_ignore_ascii_case(b"PATTERN") {
                Box::new(move |spec| glob_match(&value, spec.name.as_bytes(), true))
            } else {
                return ctx.reply.error(SYNTAX_ERROR);
            }
        }
        _ => return ctx.reply.error(SYNTAX_ERROR),
    };
    let names: Vec<&str> = tern_commands::all()
        .filter(|spec| filter(spec))
        .map(|spec| spec.name)
        .collect();
    ctx.reply.array(names.len());
    for name in names {
        ctx.reply.bulk(name.as_bytes());
    }
}

/// Resolves COMMAND GETKEYS's command line to its spec and key positions, or replies the error.
fn keys_of<'r>(
    ctx: &mut Ctx<'_>,
    request: &Request<'r>,
) -> Option<Vec<(&'r [u8], &'static tern_commands::KeySpec)>> {
    let args: Vec<&[u8]> = request.iter().skip(2).collect();
    let Some(top) = tern_commands::find(args[0]) else {
        ctx.reply.error(b"ERR Invalid command specified");
        return None;
    };
    let spec = match (top.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => top.find_subcommand(sub).unwrap_or(top),
        _ => top,
    };
    if !spec.arity_ok(args.len()) {
        ctx.reply
            .error(b"ERR Invalid number of arguments specified for command");
        return None;
    }
    let positions = spec.key_positions(&args).unwrap_or_default();
    if positions.is_empty() {
        ctx.reply.error(b"ERR The command has no key arguments");
        return None;
    }
    Some(
        positions
            .into_iter()
            .map(|(index, key_spec)| (args[index], key_spec))
            .collect(),
    )
}

/// COMMAND GETKEYS command [arg ...]
pub fn command_getkeys(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if let Some(keys) = keys_of(ctx, request) {
        ctx.reply.array(keys.len());
        for (key, _) in keys {
            ctx.reply.bulk(key);
        }
    }
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
pub fn command_getkeysandflags(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if let Some(keys) = keys_of(ctx, request) {
        ctx.reply.array(keys.len());
        for (key, key_spec) in keys {
            ctx.reply.array(2);
            ctx.reply.bulk(key);
            ctx.reply.set(key_spec.flags.len());
            for flag in key_spec.flags {
                ctx.reply.simple(flag.as_bytes());
            }
        }
    }
}

/// COMMAND HELP
pub fn command_help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "command",
        &[
            "(no subcommand)",
            "    Every command, described as by COMMAND INFO.",
            "COUNT",
            "    How many commands there are.",
            "INFO [<command-name> ...]",
            "    Arity, flags, key positions, ACL categories, tips and key specs of commands.",
            "DOCS [<command-name> ...]",
            "    Summary, version and group of commands.",
            "LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Command names, optionally filtered.",
            "GETKEYS <command> [<arg> ...]",
            "    The keys of a command line.",
            "GETKEYSANDFLAGS <command> [<arg> ...]",
            "    The keys of a command line with their access flags.",
            "HELP",
            "    This text.",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// CONFIG

/// CONFIG GET parameter [parameter ...]
pub fn config_get(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let patterns: Vec<&[u8]> = request.iter().skip(2).collect();
    let found = ctx.server.config.get_matching(&patterns);
    ctx.reply.map(found.len());
    for (name, value) in found {
        ctx.reply.bulk(name.as_bytes());
        let value = if name == "dir" && value.is_empty() {
            std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        } else {
            value
        };
        ctx.reply.bulk(value.as_bytes());
    }
}

/// CONFIG SET parameter value [parameter value ...]
pub fn config_set(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if !(request.len() - 2).is_multiple_of(2) {
        return ctx
            .reply
            .error(b"ERR wrong number of arguments for 'config|set' command");
    }
    let texts: Vec<String> = request
        .iter()
        .skip(2)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    let pairs: Vec<(&str, &str)> = texts
        .chunks(2)
        .map(|pair| (pair[0].as_str(), pair[1].as_str()))
        .collect();
    let old_maxmemory = crate::evict::maxmemory(ctx.server);
    match ctx.server.config.set_many(&pairs) {
        Ok(()) => {
            crate::log::set_threshold(ctx.server.config.int(Directive::Loglevel) as usize);
            crate::evict::after_config_set(ctx.server, ctx.local, old_maxmemory);
            ctx.reply.ok();
        }
        Err(text) => ctx.error_text(&text),
    }
}

/// CONFIG RESETSTAT
pub fn config_resetstat(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let command_count = ctx.server.table.commands.len();
    for stats in &ctx.server.worker_stats {
        *stats.lock() = crate::server::WorkerStats::new(command_count);
    }
    ctx.server
        .total_connections_received
        .store(0, Ordering::Relaxed);
    ctx.server.rejected_connections.store(0, Ordering::Relaxed);
    EXPIRED_KEYS.store(0, Ordering::Relaxed);
    crate::evict::reset_stats();
    ctx.reply.ok();
}

/// CONFIG REWRITE: rewrites the config file with the running values of changed directives,
/// keeping its other lines.
pub fn config_rewrite(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let Some(path) = ctx.server.config.file.clone() else {
        return ctx
            .reply
            .error(b"ERR The server is running without a config file");
    };
    let original = std::fs::read_to_string(&path).unwrap_or_default();
    let mut pending: Vec<(String, String)> = ctx
        .server
        .config
        .changed_lines()
        .into_iter()
        .map(|line| {
            let name = line.split(' ').next().unwrap_or_default().to_string();
            (name, line)
        })
        .collect();
    let mut lines = Vec::new();
    for line in original.lines() {
        let name = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let is_directive = DEFS
            .iter()
            .any(|def| def.name == name || def.alias == Some(name.as_str()));
        if !is_directive || line.trim_start().starts_with('#') {
            lines.push(line.to_string());
        } else if let Some(position) = pending.iter().position(|(n, _)| *n == name) {
            lines.push(pending.remove(position).1);
        }
    }
    for (_, line) in pending {
        lines.push(line);
    }
    let text = lines.join("\n") + "\n";
    match std::fs::write(&path, text) {
        Ok(()) => ctx.reply.ok(),
        Err(error) => {
            let message = format!("ERR Rewriting config file: {error}");
            ctx.error_text(&message)
        }
    }
}

/// CONFIG HELP
pub fn config_help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "config",
        &[
            "GET <pattern> [<pattern> ...]",
            "    The directives matching the glob patterns, with their values.",
            "SET <directive> <value> [<directive> <value> ...]",
            "    Changes directives, all or none.",
            "RESETSTAT",
            "    Zeroes the statistics INFO reports.",
            "REWRITE",
            "    Writes the running configuration to the config file.",
            "HELP",
            "    This text.",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// TIME, LASTSAVE, SHUTDOWN, DEBUG, MONITOR

/// TIME
pub fn time(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let now = unix_us();
    ctx.reply.array(2);
    ctx.reply.bulk_int((now / 1_000_000) as i64);
    ctx.reply.bulk_int((now % 1_000_000) as i64);
}

/// LASTSAVE: there is no persistence yet, so the last "save" is the start.
pub fn lastsave(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.reply.int((ctx.server.started_unix_ms / 1000) as i64);
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
pub fn shutdown(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut save = false;
    let mut abort = false;
    for option in request.iter().skip(1) {
        match option.to_ascii_uppercase().as_slice() {
            b"NOSAVE" => {}
            b"SAVE" => save = true,
            b"NOW" | b"FORCE" => {}
            b"ABORT" => abort = true,
            _ => return ctx.reply.error(SYNTAX_ERROR),
        }
    }
    if abort {
        return ctx.reply.error(b"ERR No shutdown in progress.");
    }
    if save {
        crate::warning!("SHUTDOWN SAVE refused: this server has no persistence yet.");
        return ctx
            .reply
            .error(b"ERR Errors trying to SHUTDOWN. Check logs.");
    }
    crate::warning!("User requested shutdown...");
    ctx.server.request_shutdown();
    ctx.client.close_after_reply = true;
}

/// DEBUG subcommand ...: SLEEP, SET-ACTIVE-EXPIRE, HELP.
pub fn debug(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let allowed = match ctx.server.config.enum_name(Directive::EnableDebugCommand) {
        "yes" => true,
        "local" => ctx.client.shared.addr.ip().is_loopback(),
        _ => false,
    };
    if !allowed {
        return ctx.reply.error(b"ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
    }
    let sub = request.arg(1).to_ascii_uppercase();
    match (sub.as_slice(), request.len()) {
        (b"HELP", 2) => write_help(
            ctx,
            "debug",
            &[
                "SLEEP <seconds>",
                "    Stops this worker for <seconds> (may be fractional).",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Turns the active expiry cycle off or on.",
                "HELP",
                "    This text.",
            ],
        ),
        (b"SLEEP", 3) => {
            let seconds: f64 = String::from_utf8_lossy(request.arg(2))
                .parse()
                .unwrap_or(0.0);
            if seconds > 0.0 && seconds.is_finite() {
                std::thread::sleep(Duration::from_secs_f64(seconds));
            }
            ctx.reply.ok();
        }
        (b"SET-ACTIVE-EXPIRE", 3) => match request.arg(2) {
            b"0" | b"1" => {
                ctx.server
                    .active_expire
                    .store(request.arg(2) == b"1", Ordering::Relaxed);
                ctx.reply.ok();
            }
            _ => ctx.reply.error(super::NOT_AN_INTEGER),
        },
        _ => {
            ctx.error_with_arg(
                "ERR unknown subcommand or wrong number of arguments for '",
                request.arg(1),
                "'. Try DEBUG HELP.",
            );
        }
    }
}

/// MONITOR
pub fn monitor(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    if !ctx.client.monitor {
        ctx.client.monitor = true;
        ctx.client.shared.monitor.store(true, Ordering::Relaxed);
        let mut monitors = ctx.server.monitors.lock();
        monitors.push((ctx.local.id, ctx.client.id()));
        ctx.server
            .monitor_count
            .store(monitors.len(), Ordering::Relaxed);
    }
    ctx.reply.ok();
}
