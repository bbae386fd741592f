//! The generic key commands: deletion, existence, expiry, renaming, copying, iteration, OBJECT,
//! and the database-wide ones (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB).

use tern_keyspace::{find_guard, glob_match, key_slot, release};
use tern_resp::Request;

use crate::config::Directive;
use crate::lazyfree;
use crate::notify::class;

use super::{parse_db, parse_i64, write_help, Ctx, NOT_AN_INTEGER, SAME_OBJECT, SYNTAX_ERROR};

/// DEL key [key ...] and UNLINK key [key ...]: UNLINK frees big values on the free thread,
/// DEL too under `lazyfree-lazy-user-del`. Big values are let go of after the slot locks are
/// released, so even one freed inline holds up no other command; small ones go at once.
pub fn del(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let lazy = ctx.name() == "unlink" || ctx.server.config.flag(Directive::LazyfreeLazyUserDel);
    let keys = request.tail(1);
    let mut guards = ctx.db().lock_keys(keys.iter());
    let now_ms = ctx.now_ms;
    let mut removed = 0;
    let mut big = Vec::new();
    for key in keys.iter() {
        let table = find_guard(&mut guards, key);
        if table.contains(key, now_ms) {
            if let Some(entry) = table.remove(key) {
                if release::is_big(&entry.value) {
                    big.push(entry.value);
                }
            }
            ctx.key_event(class::GENERIC, "del", key);
            removed += 1;
        }
    }
    drop(guards);
    ctx.reply.int(removed);
    for value in big {
        lazyfree::free(value, lazy);
    }
}

/// Counts the live keys among the arguments, a key named twice counting twice.
fn count_existing(ctx: &mut Ctx<'_>, request: &Request<'_>) -> i64 {
    let keys = request.tail(1);
    let mut guards = ctx.db().lock_keys(keys.iter());
    let mut found = 0;
    for key in keys.iter() {
        if ctx.read(find_guard(&mut guards, key), key).is_some() {
            found += 1;
        }
    }
    found
}

/// EXISTS key [key ...]
pub fn exists(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let found = count_existing(ctx, request);
    ctx.reply.int(found);
}

/// TOUCH key [key ...]
pub fn touch(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let found = count_existing(ctx, request);
    ctx.reply.int(found);
}

#[derive(Clone, Copy, Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(ctx: &mut Ctx<'_>, request: &Request<'_>) -> Option<ExpireFlags> {
    let mut flags = ExpireFlags::default();
    for option in request.iter().skip(3) {
        match option.to_ascii_uppercase().as_slice() {
            b"NX" => flags.nx = true,
            b"XX" => flags.xx = true,
            b"GT" => flags.gt = true,
            b"LT" => flags.lt = true,
            _ => {
                ctx.error_with_arg("ERR Unsupported option ", option, "");
                return None;
            }
        }
    }
    if flags.nx && (flags.xx || flags.gt || flags.lt) {
        ctx.reply
            .error(b"ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if flags.gt && flags.lt {
        ctx.reply
            .error(b"ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(flags)
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: `base_ms` is added to the argument (now, or 0 for the
/// absolute forms), `seconds` says the argument's unit.
fn expire_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, seconds: bool, relative: bool) {
    let Some(mut when) = parse_i64(request.arg(2)) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    let Some(flags) = parse_expire_flags(ctx, request) else {
        return;
    };
    let invalid = |ctx: &mut Ctx<'_>| {
        let text = format!("ERR invalid expire time in '{}' command", ctx.name());
        ctx.error_text(&text);
    };
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return invalid(ctx),
        }
    }
    let base = if relative { ctx.now_ms as i64 } else { 0 };
    if when > i64::MAX - base {
        return invalid(ctx);
    }
    when += base;
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let Some(entry) = table.get(key, now_ms) else {
        return ctx.reply.int(0);
    };
    let current = entry.expire_at_ms().map(|at| at as i64);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current.is_none_or(|current| when <= current))
        || (flags.lt && current.is_some_and(|current| when >= current));
    if refused {
        return ctx.reply.int(0);
    }
    if when <= now_ms as i64 {
        if let Some(entry) = table.remove(key) {
            let lazy = ctx.server.config.flag(Directive::LazyfreeLazyExpire);
            lazyfree::free(entry.value, lazy);
        }
        ctx.key_event(class::EXPIRED, "expired", key);
    } else {
        table.set_expire(key, Some(when as u64));
        ctx.key_event(class::GENERIC, "expire", key);
    }
    ctx.reply.int(1);
}

/// EXPIRE key seconds [NX | XX | GT | LT]
pub fn expire(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    expire_generic(ctx, request, true, true);
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
pub fn pexpire(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    expire_generic(ctx, request, false, true);
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
pub fn expireat(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    expire_generic(ctx, request, true, false);
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
pub fn pexpireat(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    expire_generic(ctx, request, false, false);
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 without the key, -1 without an expiry.
fn ttl_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, milliseconds: bool, absolute: bool) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms as i64;
    let Some(entry) = ctx.read(&mut table, key) else {
        return ctx.reply.int(-2);
    };
    let Some(at) = entry.expire_at_ms() else {
        return ctx.reply.int(-1);
    };
    let value = if absolute {
        at as i64
    } else {
        at as i64 - now_ms
    }
    .max(0);
    ctx.reply.int(if milliseconds {
        value
    } else {
        // Rounded in unsigned arithmetic, as Valkey's build does, so that an expiry near the
        // largest time does not overflow.
        ((value as u64 + 500) / 1000) as i64
    });
}

/// TTL key
pub fn ttl(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    ttl_generic(ctx, request, false, false);
}

/// PTTL key
pub fn pttl(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    ttl_generic(ctx, request, true, false);
}

/// EXPIRETIME key
pub fn expiretime(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    ttl_generic(ctx, request, false, true);
}

/// PEXPIRETIME key
pub fn pexpiretime(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    ttl_generic(ctx, request, true, true);
}

/// PERSIST key
pub fn persist(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let had_expire = table
        .get(key, ctx.now_ms)
        .is_some_and(|entry| entry.expire_at_ms().is_some());
    if had_expire {
        table.set_expire(key, None);
        ctx.key_event(class::GENERIC, "persist", key);
    }
    ctx.reply.int(i64::from(had_expire));
}

/// TYPE key
pub fn type_(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let name = ctx
        .read(&mut table, key)
        .map_or("none", |entry| entry.value.type_name());
    ctx.reply.simple(name.as_bytes());
}

/// KEYS pattern
pub fn keys(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let pattern = request.arg(1);
    let match_all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut cursor = 0;
    loop {
        cursor = ctx.db().scan(cursor, usize::MAX, ctx.now_ms, |key, _| {
            if match_all || glob_match(pattern, key, false) {
                found.push(key.to_vec());
            }
        });
        if cursor == 0 {
            break;
        }
    }
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor is the next slot to visit; each call returns whole slots, so a key present for
/// the whole iteration is returned exactly once.
pub fn scan(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(cursor) = super::parse_scan_cursor(request.arg(1)) else {
        return ctx.reply.error(b"ERR invalid cursor");
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<Vec<u8>> = None;
    let mut index = 2;
    while index < request.len() {
        let option = request.arg(index);
        let Some(value) = request.get(index + 1) else {
            return ctx.reply.error(SYNTAX_ERROR);
        };
        if option.eq_ignore_ascii_case(b"COUNT") {
            match parse_i64(value) {
                None => return ctx.reply.error(NOT_AN_INTEGER),
                Some(n) if n < 1 => return ctx.reply.error(SYNTAX_ERROR),
                Some(n) => count = n as usize,
            }
        } else if option.eq_ignore_ascii_case(b"MATCH") {
            pattern = Some(value);
        } else if option.eq_ignore_ascii_case(b"TYPE") {
            let lower = value.to_ascii_lowercase();
            if !KNOWN_TYPES.contains(&lower.as_slice()) {
                return ctx.error_with_arg("ERR unknown type name '", value, "'");
            }
            type_name = Some(lower);
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
        index += 2;
    }
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = if cursor >= tern_keyspace::SLOT_COUNT as u64 {
        0
    } else {
        ctx.db().scan(cursor, count, ctx.now_ms, |key, entry| {
            let type_ok = type_name
                .as_deref()
                .is_none_or(|name| name == entry.value.type_name().as_bytes());
            let pattern_ok = pattern.is_none_or(|p| glob_match(p, key, false));
            if type_ok && pattern_ok {
                found.push(key.to_vec());
            }
        })
    };
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.array(found.len());
    for key in &found {
        ctx.reply.bulk(key);
    }
}

/// Type names SCAN TYPE accepts (Valkey knows them even where Tern does not store them yet).
const KNOWN_TYPES: &[&[u8]] = &[b"string", b"list", b"set", b"zset", b"hash", b"stream"];

/// RENAME and RENAMENX: moves the entry with its expiry. Returns None after an error reply,
/// or whether the rename happened.
fn rename_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, only_if_new: bool) -> Option<bool> {
    let (from, to) = (request.arg(1), request.arg(2));
    let keys: [&[u8]; 2] = [from, to];
    let mut guards = ctx.db().lock_keys(keys);
    let now_ms = ctx.now_ms;
    if !find_guard(&mut guards, from).contains(from, now_ms) {
        ctx.reply.error(b"ERR no such key");
        return None;
    }
    if from == to {
        return Some(!only_if_new);
    }
    if only_if_new && find_guard(&mut guards, to).contains(to, now_ms) {
        return Some(false);
    }
    let (_, entry) = find_guard(&mut guards, from).remove_entry(from)?;
    let target = find_guard(&mut guards, to);
    if let Some(replaced) = target.remove(to) {
        let lazy = ctx.server.config.flag(Directive::LazyfreeLazyServerDel);
        lazyfree::free(replaced.value, lazy);
    }
    ctx.db().note_field_expiry(to, &entry.value);
    target.insert_entry(to.into(), entry);
    ctx.key_event(class::GENERIC, "rename_from", from);
    ctx.key_event(class::GENERIC, "rename_to", to);
    Some(true)
}

/// RENAME key newkey
pub fn rename(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if rename_generic(ctx, request, false).is_some() {
        ctx.reply.ok();
    }
}

/// RENAMENX key newkey
pub fn renamenx(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if let Some(renamed) = rename_generic(ctx, request, true) {
        ctx.reply.int(i64::from(renamed));
    }
}

/// RANDOMKEY
pub fn randomkey(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    match ctx.db().random_key(ctx.now_ms, &mut ctx.local.rng) {
        Some(key) => ctx.reply.bulk(&key),
        None => ctx.reply.null(),
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
pub fn copy(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (from, to) = (request.arg(1), request.arg(2));
    let mut target_db = ctx.client.db;
    let mut replace = false;
    let mut index = 3;
    while index < request.len() {
        let option = request.arg(index);
        if option.eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if option.eq_ignore_ascii_case(b"DB") && index + 1 < request.len() {
            match parse_db(ctx.server, request.arg(index + 1)) {
                Ok(db) => target_db = db,
                Err(text) => return ctx.reply.error(text),
            }
            index += 1;
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
        index += 1;
    }
    if from == to && target_db == ctx.client.db {
        return ctx.reply.error(SAME_OBJECT);
    }
    let now_ms = ctx.now_ms;
    let source_db = ctx.client.db;
    let copied = if source_db == target_db {
        let keys: [&[u8]; 2] = [from, to];
        let mut guards = ctx.db().lock_keys(keys);
        let source = find_guard(&mut guards, from);
        match ctx.read(source, from).map(|e| copy_of(e, now_ms)) {
            Some(entry) => {
                let table = find_guard(&mut guards, to);
                copy_into(ctx, target_db, table, to, entry, replace, now_ms)
            }
            None => false,
        }
    } else {
        let (mut source, mut table) = ctx
            .server
            .keyspace
            .lock_two((source_db, key_slot(from)), (target_db, key_slot(to)));
        match ctx.read(&mut source, from).map(|e| copy_of(e, now_ms)) {
            Some(entry) => copy_into(ctx, target_db, &mut table, to, entry, replace, now_ms),
            None => false,
        }
    };
    ctx.reply.int(i64::from(copied));
}

/// The copy COPY writes: the same value and expiry, except that a hash leaves behind its
/// expired fields that are still stored, as Valkey's copy does.
fn copy_of(entry: &tern_keyspace::Entry, now_ms: u64) -> tern_keyspace::OwnedEntry {
    let mut copy = entry.to_owned_entry();
    if let Some(hash) = copy.value.as_hash_mut() {
        hash.remove_expired(now_ms, usize::MAX);
    }
    copy
}

/// Writes a copy of `entry` (value and expiry) under `key` of `db` unless the key exists and
/// `replace` is not set.
fn copy_into(
    ctx: &Ctx<'_>,
    db_index: usize,
    table: &mut tern_keyspace::SlotGuard<'_>,
    key: &[u8],
    entry: tern_keyspace::OwnedEntry,
    replace: bool,
    now_ms: u64,
) -> bool {
    if table.contains(key, now_ms) {
        if !replace {
            return false;
        }
        lazyfree::server_del(ctx.server, table.remove(key));
    }
    ctx.server
        .keyspace
        .db(db_index)
        .note_field_expiry(key, &entry.value);
    table.insert_entry(key.into(), entry);
    ctx.key_event_in(db_index, class::GENERIC, "copy_to", key);
    true
}

/// MOVE key db
pub fn move_(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let target_db = match parse_db(ctx.server, request.arg(2)) {
        Ok(db) => db,
        Err(text) => return ctx.reply.error(text),
    };
    if target_db == ctx.client.db {
        return ctx.reply.error(SAME_OBJECT);
    }
    let now_ms = ctx.now_ms;
    let slot = key_slot(key);
    let (mut source, mut target) = ctx
        .server
        .keyspace
        .lock_two((ctx.client.db, slot), (target_db, slot));
    if !source.contains(key, now_ms) || target.contains(key, now_ms) {
        return ctx.reply.int(0);
    }
    if let Some((stored_key, entry)) = source.remove_entry(key) {
        ctx.server
            .keyspace
            .db(target_db)
            .note_field_expiry(key, &entry.value);
        target.insert_entry(stored_key, entry);
        ctx.key_event(class::GENERIC, "move_from", key);
        ctx.key_event_in(target_db, class::GENERIC, "move_to", key);
    }
    ctx.reply.int(1);
}

/// Looks up a key for OBJECT without touching its access time.
fn with_entry(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    reply: impl FnOnce(&mut Ctx<'_>, &tern_keyspace::Entry),
) {
    let mut table = ctx.db().lock_key(key);
    match table.get(key, ctx.now_ms) {
        Some(entry) => reply(ctx, entry),
        None => ctx.reply.null(),
    }
}

/// OBJECT ENCODING key
pub fn object_encoding(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    with_entry(ctx, request.arg(2), |ctx, entry| {
        ctx.reply.bulk(entry.value.encoding_name().as_bytes())
    });
}

/// OBJECT FREQ key: the LFU counter, decayed to now; only under an LFU policy.
pub fn object_freq(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let now_ms = ctx.now_ms;
    with_entry(ctx, request.arg(2), |ctx, entry| {
        if tern_keyspace::evict::is_lfu() {
            ctx.reply.int(i64::from(tern_keyspace::evict::frequency(
                entry.access,
                now_ms,
            )));
        } else {
            ctx.reply.error(b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        }
    });
}

/// OBJECT IDLETIME key: seconds since the last access; not under an LFU policy.
pub fn object_idletime(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let now_ms = ctx.now_ms;
    with_entry(ctx, request.arg(2), |ctx, entry| {
        if tern_keyspace::evict::is_lfu() {
            ctx.reply.error(b"ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        } else {
            ctx.reply.int(entry.idle_seconds(now_ms) as i64)
        }
    });
}

/// OBJECT REFCOUNT key: values are never shared between keys, so always 1.
pub fn object_refcount(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    with_entry(ctx, request.arg(2), |ctx, _| ctx.reply.int(1));
}

/// OBJECT HELP
pub fn object_help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "object",
        &[
            "ENCODING <key>",
            "    The internal encoding of the value at <key>.",
            "FREQ <key>",
            "    The access frequency counter of <key> (LFU policies only).",
            "IDLETIME <key>",
            "    Seconds since <key> was last read or written.",
            "REFCOUNT <key>",
            "    How many references the value at <key> has.",
            "HELP",
            "    This text.",
        ],
    );
}

/// DBSIZE
pub fn dbsize(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.reply.int(ctx.db().len() as i64);
}

/// FLUSHDB/FLUSHALL's optional ASYNC|SYNC argument: whether to free on the free thread
/// (without the argument, as `lazyfree-lazy-user-flush` says), or None for a syntax error.
fn flush_mode(ctx: &Ctx<'_>, request: &Request<'_>) -> Option<bool> {
    match request.len() {
        1 => Some(ctx.server.config.flag(Directive::LazyfreeLazyUserFlush)),
        2 => {
            let mode = request.arg(1);
            if mode.eq_ignore_ascii_case(b"ASYNC") {
                Some(true)
            } else if mode.eq_ignore_ascii_case(b"SYNC") {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// FLUSHDB [ASYNC | SYNC]
///
/// The slot tables are detached under the locks and freed after they are released: on the free
/// thread when asynchronous, by this command otherwise (other clients wait for neither).
pub fn flushdb(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(lazy) = flush_mode(ctx, request) else {
        return ctx.reply.error(SYNTAX_ERROR);
    };
    touch_watched_in(ctx, ctx.client.db, None);
    let detached = ctx.db().flush();
    ctx.server.tracking.flush(ctx.server);
    ctx.reply.ok();
    lazyfree::free_detached(detached, lazy);
}

/// FLUSHALL [ASYNC | SYNC], freeing as FLUSHDB does.
pub fn flushall(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(lazy) = flush_mode(ctx, request) else {
        return ctx.reply.error(SYNTAX_ERROR);
    };
    for db in 0..ctx.server.keyspace.db_count() {
        touch_watched_in(ctx, db, None);
    }
    let detached = ctx.server.keyspace.flush_all();
    ctx.server.tracking.flush(ctx.server);
    ctx.reply.ok();
    lazyfree::free_detached(detached, lazy);
}

/// SWAPDB index1 index2
pub fn swapdb(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let parse = |arg: &[u8]| parse_i64(arg).filter(|v| i32::try_from(*v).is_ok());
    let Some(first) = parse(request.arg(1)) else {
        return ctx.reply.error(b"ERR invalid first DB index");
    };
    let Some(second) = parse(request.arg(2)) else {
        return ctx.reply.error(b"ERR invalid second DB index");
    };
    let count = ctx.server.keyspace.db_count() as i64;
    if first < 0 || first >= count || second < 0 || second >= count {
        return ctx.reply.error(b"ERR DB index is out of range");
    }
    let (first, second) = (first as usize, second as usize);
    if first != second {
        touch_watched_in(ctx, first, Some(second));
        touch_watched_in(ctx, second, Some(first));
    }
    ctx.server.keyspace.swap(first, second);
    ctx.reply.ok();
}

/// Before `db` is emptied (or exchanged with `replaced_with`), touches the keys watched in it
/// that exist there (or in the database taking its place), as Valkey does: a watcher of a key
/// that neither had nor will have is not disturbed.
fn touch_watched_in(ctx: &Ctx<'_>, db: usize, replaced_with: Option<usize>) {
    let keyspace = &ctx.server.keyspace;
    for key in ctx.server.watches.keys_in(db) {
        let exists_in = |index: usize| {
            let db = keyspace.db(index);
            db.is_used() && db.lock_key(&key).peek(&key).is_some()
        };
        if exists_in(db) || replaced_with.is_some_and(exists_in) {
            ctx.server.watches.touch(db, &key);
        }
    }
}
