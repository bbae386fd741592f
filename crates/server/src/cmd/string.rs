//! The string commands: SET and its variants, GET and its variants, counters, ranges, LCS.

use tern_keyspace::num::{long_double_add, FloatIncrError};
use tern_keyspace::{find_guard, Entry, ExpireUpdate, OwnedEntry, SlotGuard, StrValue, Value};
use tern_resp::Request;

use super::{parse_i64, Ctx, NOT_AN_INTEGER, NOT_A_FLOAT, SYNTAX_ERROR, WRONGTYPE};
use crate::config::Directive;
use crate::notify::class;

/// A string value as SET stores it for `key`.
fn new_string(key: &[u8], value: &[u8], with_expire: bool, now_ms: u64) -> OwnedEntry {
    OwnedEntry::new(
        Value::Str(StrValue::for_key(value, key.len(), with_expire)),
        now_ms,
    )
}

/// Replies with a key's string value, nil when absent, WRONGTYPE for other types.
/// Returns false after a WRONGTYPE error.
fn reply_string(ctx: &mut Ctx<'_>, entry: Option<&mut Entry>) -> bool {
    match entry.map(|e| e.value.as_str()) {
        None => ctx.reply.null(),
        Some(Some(value)) => ctx.reply.bulk(value.bytes(&mut [0; 20])),
        Some(None) => {
            ctx.reply.error(WRONGTYPE);
            return false;
        }
    }
    true
}

/// When a key should expire, from the options of SET, GETEX, SETEX and PSETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireArg {
    None,
    Keep,
    Persist,
    /// Absolute Unix milliseconds.
    At(i64),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

/// Turns an expire argument into absolute milliseconds with Valkey's checks and errors.
fn expire_at(ctx: &mut Ctx<'_>, arg: &[u8], unit: Unit, relative: bool) -> Option<i64> {
    let Some(mut value) = parse_i64(arg) else {
        ctx.reply.error(NOT_AN_INTEGER);
        return None;
    };
    let invalid = |ctx: &mut Ctx<'_>| {
        let text = format!("ERR invalid expire time in '{}' command", ctx.name());
        ctx.error_text(&text);
    };
    if value <= 0 || (unit == Unit::Seconds && value > i64::MAX / 1000) {
        invalid(ctx);
        return None;
    }
    if unit == Unit::Seconds {
        value *= 1000;
    }
    if relative {
        value = value.wrapping_add(ctx.now_ms as i64);
    }
    if value <= 0 {
        invalid(ctx);
        return None;
    }
    Some(value)
}

struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    if_equal: Option<&'a [u8]>,
    expire: ExpireArg,
}

/// The expiry options; an option may repeat, but not mix with another of these.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireOption {
    Ex,
    Px,
    ExAt,
    PxAt,
    KeepTtl,
    Persist,
}

/// Parses SET's (or GETEX's) options; replies and returns None on error.
fn parse_set_options<'a>(
    ctx: &mut Ctx<'_>,
    args: &[&'a [u8]],
    for_getex: bool,
) -> Option<SetOptions<'a>> {
    let mut options = SetOptions {
        nx: false,
        xx: false,
        get: false,
        if_equal: None,
        expire: ExpireArg::None,
    };
    let mut expire_option: Option<(ExpireOption, Option<&[u8]>)> = None;
    let mut index = 0;
    while index < args.len() {
        let option = args[index];
        let next = args.get(index + 1).copied();
        let is = |name: &str| option.eq_ignore_ascii_case(name.as_bytes());
        let kind = if is("EX") {
            Some(ExpireOption::Ex)
        } else if is("PX") {
            Some(ExpireOption::Px)
        } else if is("EXAT") {
            Some(ExpireOption::ExAt)
        } else if is("PXAT") {
            Some(ExpireOption::PxAt)
        } else if is("KEEPTTL") && !for_getex {
            Some(ExpireOption::KeepTtl)
        } else if is("PERSIST") && for_getex {
            Some(ExpireOption::Persist)
        } else {
            None
        };
        let compatible = |kind| expire_option.is_none_or(|(current, _)| current == kind);
        match kind {
            Some(kind @ (ExpireOption::KeepTtl | ExpireOption::Persist)) if compatible(kind) => {
                expire_option = Some((kind, None));
            }
            Some(kind)
                if compatible(kind)
                    && next.is_some()
                    && !matches!(kind, ExpireOption::KeepTtl | ExpireOption::Persist) =>
            {
                expire_option = Some((kind, next));
                index += 1;
            }
            Some(_) => {
                ctx.reply.error(SYNTAX_ERROR);
                return None;
            }
            None if !for_getex && is("NX") && !options.xx && options.if_equal.is_none() => {
                options.nx = true;
            }
            None if !for_getex && is("XX") && !options.nx && options.if_equal.is_none() => {
                options.xx = true;
            }
            None if !for_getex && is("IFEQ") && next.is_some() && !options.nx && !options.xx => {
                options.if_equal = next;
                index += 1;
            }
            None if !for_getex && is("GET") => options.get = true,
            None => {
                ctx.reply.error(SYNTAX_ERROR);
                return None;
            }
        }
        index += 1;
    }
    options.expire = match expire_option {
        None => ExpireArg::None,
        Some((ExpireOption::KeepTtl, _)) => ExpireArg::Keep,
        Some((ExpireOption::Persist, _)) => ExpireArg::Persist,
        Some((kind, value)) => {
            let (unit, relative) = match kind {
                ExpireOption::Ex => (Unit::Seconds, true),
                ExpireOption::Px => (Unit::Milliseconds, true),
                ExpireOption::ExAt => (Unit::Seconds, false),
                _ => (Unit::Milliseconds, false),
            };
            ExpireArg::At(expire_at(ctx, value.unwrap_or_default(), unit, relative)?)
        }
    };
    Some(options)
}

/// The expiry update for a new value, or None when the given time has already passed (the key
/// is then removed instead of written, as Valkey does).
fn expire_update(expire: ExpireArg, now_ms: u64) -> Option<ExpireUpdate> {
    match expire {
        ExpireArg::None | ExpireArg::Persist => Some(ExpireUpdate::Clear),
        ExpireArg::Keep => Some(ExpireUpdate::Keep),
        ExpireArg::At(at) if at as u64 <= now_ms => None,
        ExpireArg::At(at) => Some(ExpireUpdate::At(at as u64)),
    }
}

/// SET key value [NX | XX | IFEQ comparison-value] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
pub fn set(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let args: Vec<&[u8]> = request.iter().skip(3).collect();
    let Some(options) = parse_set_options(ctx, &args, false) else {
        return;
    };
    let key = request.arg(1);
    let value = request.arg(2);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    if options.get {
        let entry = ctx.read(&mut table, key);
        if !reply_string(ctx, entry) {
            return;
        }
    }
    let existing = table.get(key, now_ms);
    let found = existing.is_some();
    if let Some(expected) = options.if_equal {
        let matches = match existing.as_ref().map(|e| e.value.as_str()) {
            None => false,
            Some(None) => {
                if !options.get {
                    ctx.reply.error(WRONGTYPE);
                }
                return;
            }
            Some(Some(current)) => current.bytes(&mut [0; 20]) == expected,
        };
        if !matches {
            if !options.get {
                ctx.reply.null();
            }
            return;
        }
    }
    if (options.nx && found) || (options.xx && !found) {
        if !options.get {
            ctx.reply.null();
        }
        return;
    }
    write_string(ctx, &mut table, key, value, options.expire, now_ms);
    if !options.get {
        ctx.reply.ok();
    }
}

/// Stores a string under `key` with the given expiry handling, and reports the change: `set`
/// (and `expire` with a time to live), or `expired` when the time has passed and a key existed.
fn write_string(
    ctx: &Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    value: &[u8],
    expire: ExpireArg,
    now_ms: u64,
) {
    match expire_update(expire, now_ms) {
        Some(update) => {
            let with_expire = matches!(update, ExpireUpdate::At(_));
            table.insert(key, new_string(key, value, with_expire, now_ms), update);
            ctx.key_event(class::STRING, "set", key);
            if with_expire {
                ctx.key_event(class::GENERIC, "expire", key);
            }
        }
        None => {
            if let Some(entry) = table.remove(key) {
                let lazy = ctx.server.config.flag(Directive::LazyfreeLazyExpire);
                crate::lazyfree::free(entry.value, lazy);
                ctx.key_event(class::EXPIRED, "expired", key);
            }
        }
    }
}

/// GET key
pub fn get(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let entry = ctx.read(&mut table, key);
    reply_string(ctx, entry);
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
pub fn getex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let args: Vec<&[u8]> = request.iter().skip(2).collect();
    let Some(options) = parse_set_options(ctx, &args, true) else {
        return;
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let entry = ctx.read(&mut table, key);
    let found = entry.is_some();
    if !reply_string(ctx, entry) || !found {
        return;
    }
    match options.expire {
        ExpireArg::None | ExpireArg::Keep => {}
        ExpireArg::Persist => {
            let had_expire = table.peek(key).is_some_and(|e| e.expire_at_ms().is_some());
            if had_expire {
                table.set_expire(key, None);
                ctx.key_event(class::GENERIC, "persist", key);
            }
        }
        ExpireArg::At(at) if at as u64 <= ctx.now_ms => {
            table.remove(key);
            ctx.key_event(class::EXPIRED, "expired", key);
        }
        ExpireArg::At(at) => {
            table.set_expire(key, Some(at as u64));
            ctx.key_event(class::GENERIC, "expire", key);
        }
    }
}

/// GETDEL key
pub fn getdel(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let entry = ctx.read(&mut table, key);
    if entry.is_some() && reply_string(ctx, entry) {
        table.remove(key);
        ctx.key_event(class::GENERIC, "del", key);
    } else if table.get(key, ctx.now_ms).is_none() {
        ctx.reply.null();
    }
}

/// GETSET key value
pub fn getset(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (key, value) = (request.arg(1), request.arg(2));
    let mut table = ctx.db().lock_key(key);
    let entry = ctx.read(&mut table, key);
    if reply_string(ctx, entry) {
        write_string(ctx, &mut table, key, value, ExpireArg::None, ctx.now_ms);
    }
}

/// MGET key [key ...]: nil for missing keys and for keys of other types.
pub fn mget(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let db = ctx.db();
    let keys = request.tail(1);
    let mut guards = db.lock_keys(keys.iter());
    ctx.reply.array(keys.len());
    for key in keys.iter() {
        let table = find_guard(&mut guards, key);
        match ctx.read(table, key).and_then(|e| e.value.as_str()) {
            Some(value) => ctx.reply.bulk(value.bytes(&mut [0; 20])),
            None => ctx.reply.null(),
        }
    }
}

/// MSET and MSETNX need an even number of arguments after the name.
fn check_pairs(ctx: &mut Ctx<'_>, request: &Request<'_>) -> bool {
    if request.len().is_multiple_of(2) {
        let text = format!("ERR wrong number of arguments for '{}' command", ctx.name());
        ctx.error_text(&text);
        return false;
    }
    true
}

fn write_pairs(ctx: &mut Ctx<'_>, request: &Request<'_>, only_if_none_exist: bool) -> bool {
    let db = ctx.db();
    let keys = (1..request.len()).step_by(2).map(|i| request.arg(i));
    let mut guards = db.lock_keys(keys.clone());
    let now_ms = ctx.now_ms;
    if only_if_none_exist {
        for key in keys {
            if find_guard(&mut guards, key).contains(key, now_ms) {
                return false;
            }
        }
    }
    for index in (1..request.len()).step_by(2) {
        let (key, value) = (request.arg(index), request.arg(index + 1));
        let table = find_guard(&mut guards, key);
        write_string(ctx, table, key, value, ExpireArg::None, now_ms);
    }
    true
}

/// MSET key value [key value ...]
pub fn mset(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if check_pairs(ctx, request) {
        write_pairs(ctx, request, false);
        ctx.reply.ok();
    }
}

/// MSETNX key value [key value ...]
pub fn msetnx(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if check_pairs(ctx, request) {
        let written = write_pairs(ctx, request, true);
        ctx.reply.int(i64::from(written));
    }
}

/// SETNX key value
pub fn setnx(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (key, value) = (request.arg(1), request.arg(2));
    let mut table = ctx.db().lock_key(key);
    if table.contains(key, ctx.now_ms) {
        ctx.reply.int(0);
    } else {
        write_string(ctx, &mut table, key, value, ExpireArg::None, ctx.now_ms);
        ctx.reply.int(1);
    }
}

fn set_with_expire(ctx: &mut Ctx<'_>, request: &Request<'_>, unit: Unit) {
    let Some(at) = expire_at(ctx, request.arg(2), unit, true) else {
        return;
    };
    let (key, value) = (request.arg(1), request.arg(3));
    let mut table = ctx.db().lock_key(key);
    write_string(ctx, &mut table, key, value, ExpireArg::At(at), ctx.now_ms);
    ctx.reply.ok();
}

/// SETEX key seconds value
pub fn setex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    set_with_expire(ctx, request, Unit::Seconds);
}

/// PSETEX key milliseconds value
pub fn psetex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    set_with_expire(ctx, request, Unit::Milliseconds);
}

/// Refuses a string longer than `proto-max-bulk-len`.
fn check_length(ctx: &mut Ctx<'_>, size: u64, append: u64) -> bool {
    let max = ctx.server.config.int(Directive::ProtoMaxBulkLen) as u64;
    match size.checked_add(append) {
        Some(total) if total <= max => true,
        _ => {
            ctx.reply
                .error(b"ERR string exceeds maximum allowed size (proto-max-bulk-len)");
            false
        }
    }
}

/// APPEND key value
pub fn append(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (key, value) = (request.arg(1), request.arg(2));
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    match table.get(key, now_ms).map(|e| e.value.as_str_mut()) {
        None => {
            table.insert(
                key,
                new_string(key, value, false, now_ms),
                ExpireUpdate::Clear,
            );
            ctx.key_event(class::STRING, "append", key);
            ctx.reply.int(value.len() as i64);
        }
        Some(None) => ctx.reply.error(WRONGTYPE),
        Some(Some(current)) => {
            let current_len = current.len() as u64;
            if !check_length(ctx, current_len, value.len() as u64) {
                return;
            }
            let bytes = current.make_raw();
            bytes.extend_from_slice(value);
            let len = bytes.len();
            ctx.key_event(class::STRING, "append", key);
            ctx.reply.int(len as i64);
        }
    }
}

/// STRLEN key
pub fn strlen(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    match ctx.read(&mut table, key).map(|e| e.value.as_str()) {
        None => ctx.reply.int(0),
        Some(None) => ctx.reply.error(WRONGTYPE),
        Some(Some(value)) => ctx.reply.int(value.len() as i64),
    }
}

/// Adds `delta` to the integer at `key` (created as 0), keeping its TTL.
fn increment(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) {
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let current = match table.get(key, now_ms).map(|e| e.value.as_str_mut()) {
        None => 0,
        Some(None) => return ctx.reply.error(WRONGTYPE),
        Some(Some(value)) => match value.as_i64() {
            Some(number) => number,
            None => return ctx.reply.error(NOT_AN_INTEGER),
        },
    };
    let Some(result) = current.checked_add(delta) else {
        return ctx
            .reply
            .error(b"ERR increment or decrement would overflow");
    };
    match table.get(key, now_ms) {
        Some(entry) => entry.value = Value::Str(StrValue::Int(result)),
        None => {
            table.insert(
                key,
                OwnedEntry::new(Value::Str(StrValue::Int(result)), now_ms),
                ExpireUpdate::Clear,
            );
        }
    }
    ctx.key_event(class::STRING, "incrby", key);
    ctx.reply.int(result);
}

/// INCR key
pub fn incr(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    increment(ctx, request.arg(1), 1);
}

/// DECR key
pub fn decr(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    increment(ctx, request.arg(1), -1);
}

/// INCRBY key increment
pub fn incrby(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    match parse_i64(request.arg(2)) {
        Some(delta) => increment(ctx, request.arg(1), delta),
        None => ctx.reply.error(NOT_AN_INTEGER),
    }
}

/// DECRBY key decrement
pub fn decrby(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    match parse_i64(request.arg(2)) {
        Some(i64::MIN) => ctx.reply.error(b"ERR decrement would overflow"),
        Some(delta) => increment(ctx, request.arg(1), -delta),
        None => ctx.reply.error(NOT_AN_INTEGER),
    }
}

/// INCRBYFLOAT key increment: long double arithmetic, as Valkey.
pub fn incrbyfloat(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (key, delta) = (request.arg(1), request.arg(2));
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let sum = match table.get(key, now_ms).map(|e| e.value.as_str()) {
        None => long_double_add(None, delta),
        Some(None) => return ctx.reply.error(WRONGTYPE),
        Some(Some(value)) => long_double_add(Some(value.bytes(&mut [0; 20])), delta),
    };
    match sum {
        Ok(text) => {
            // The sum is stored as text, never as an integer, as Valkey does.
            let value = Value::Str(StrValue::text_for_key(&text, key.len(), false));
            match table.get(key, now_ms) {
                Some(entry) => entry.value = value,
                None => {
                    table.insert(key, OwnedEntry::new(value, now_ms), ExpireUpdate::Clear);
                }
            }
            ctx.key_event(class::STRING, "incrbyfloat", key);
            ctx.reply.bulk(&text);
        }
        Err(FloatIncrError::NotAFloat) => ctx.reply.error(NOT_A_FLOAT),
        Err(FloatIncrError::NanOrInfinity) => ctx
            .reply
            .error(b"ERR increment would produce NaN or Infinity"),
    }
}

/// GETRANGE key start end (and SUBSTR)
pub fn getrange(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (Some(mut start), Some(mut end)) = (parse_i64(request.arg(2)), parse_i64(request.arg(3)))
    else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let value = match ctx.read(&mut table, key).map(|e| e.value.as_str()) {
        None => return ctx.reply.bulk(b""),
        Some(None) => return ctx.reply.error(WRONGTYPE),
        Some(Some(value)) => value,
    };
    let mut buffer = [0; 20];
    let bytes = value.bytes(&mut buffer);
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        return ctx.reply.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return ctx.reply.bulk(b"");
    }
    ctx.reply.bulk(&bytes[start as usize..=end as usize]);
}

/// SETRANGE key offset value
pub fn setrange(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(offset) = parse_i64(request.arg(2)) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    if offset < 0 {
        return ctx.reply.error(b"ERR offset is out of range");
    }
    let (key, value) = (request.arg(1), request.arg(3));
    let offset = offset as u64;
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    match table.get(key, now_ms).map(|e| e.value.as_str_mut()) {
        None => {
            if value.is_empty() {
                return ctx.reply.int(0);
            }
            if !check_length(ctx, offset, value.len() as u64) {
                return;
            }
            let mut bytes = vec![0u8; offset as usize];
            bytes.extend_from_slice(value);
            let len = bytes.len();
            table.insert(
                key,
                OwnedEntry::new(Value::Str(StrValue::Raw(bytes.into())), now_ms),
                ExpireUpdate::Clear,
            );
            ctx.key_event(class::STRING, "setrange", key);
            ctx.reply.int(len as i64);
        }
        Some(None) => ctx.reply.error(WRONGTYPE),
        Some(Some(current)) => {
            if value.is_empty() {
                return ctx.reply.int(current.len() as i64);
            }
            if !check_length(ctx, offset, value.len() as u64) {
                return;
            }
            let bytes = current.make_raw();
            let end = offset as usize + value.len();
            if bytes.len() < end {
                bytes.resize(end, 0);
            }
            bytes[offset as usize..end].copy_from_slice(value);
            let len = bytes.len();
            ctx.key_event(class::STRING, "setrange", key);
            ctx.reply.int(len as i64);
        }
    }
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub fn lcs(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (key_a, key_b) = (request.arg(1), request.arg(2));
    let db = ctx.db();
    let keys: [&[u8]; 2] = [key_a, key_b];
    let mut guards = db.lock_keys(keys);
    let mut read = |ctx: &mut Ctx<'_>, key: &[u8]| -> Result<Vec<u8>, ()> {
        let table = find_guard(&mut guards, key);
        match ctx.read(table, key).map(|e| e.value.as_str()) {
            None => Ok(Vec::new()),
            Some(None) => Err(()),
            Some(Some(value)) => Ok(value.bytes(&mut [0; 20]).to_vec()),
        }
    };
    let (Ok(a), Ok(b)) = (read(ctx, key_a), read(ctx, key_b)) else {
        return ctx
            .reply
            .error(b"ERR The specified keys must contain string values");
    };
    drop(guards);
    let (mut want_len, mut want_idx, mut with_match_len, mut min_match_len) =
        (false, false, false, 0i64);
    let mut index = 3;
    while index < request.len() {
        let option = request.arg(index);
        let is = |name: &str| option.eq_ignore_ascii_case(name.as_bytes());
        if is("IDX") {
            want_idx = true;
        } else if is("LEN") {
            want_len = true;
        } else if is("WITHMATCHLEN") {
            with_match_len = true;
        } else if is("MINMATCHLEN") && index + 1 < request.len() {
            let Some(value) = parse_i64(request.arg(index + 1)) else {
                return ctx.reply.error(NOT_AN_INTEGER);
            };
            min_match_len = value.max(0);
            index += 1;
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
        index += 1;
    }
    if want_idx && want_len {
        return ctx
            .reply
            .error(b"ERR If you want both the length and indexes, please just use IDX.");
    }
    let cells = (a.len() as u64 + 1)
        .saturating_mul(b.len() as u64 + 1)
        .saturating_mul(4);
    if cells > ctx.server.config.int(Directive::ProtoMaxBulkLen) as u64 {
        return ctx.reply.error(
            b"ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let table = lcs_table(&a, &b);
    let width = b.len() + 1;
    let length = table[a.len() * width + b.len()] as usize;
    if want_len {
        return ctx.reply.int(length as i64);
    }
    let (common, matches) = lcs_backtrack(&a, &b, &table, length);
    if !want_idx {
        return ctx.reply.bulk(&common);
    }
    let kept: Vec<&MatchRange> = matches
        .iter()
        .filter(|(a_start, a_end, _, _)| {
            min_match_len == 0 || (a_end - a_start + 1) as i64 >= min_match_len
        })
        .collect();
    ctx.reply.map(2);
    ctx.reply.bulk(b"matches");
    ctx.reply.array(kept.len());
    for (a_start, a_end, b_start, b_end) in kept {
        ctx.reply.array(2 + usize::from(with_match_len));
        ctx.reply.array(2);
        ctx.reply.int(*a_start as i64);
        ctx.reply.int(*a_end as i64);
        ctx.reply.array(2);
        ctx.reply.int(*b_start as i64);
        ctx.reply.int(*b_end as i64);
        if with_match_len {
            ctx.reply.int((a_end - a_start + 1) as i64);
        }
    }
    ctx.reply.bulk(b"len");
    ctx.reply.int(length as i64);
}

/// A matching range: (a_start, a_end, b_start, b_end), inclusive.
type MatchRange = (usize, usize, usize, usize);

/// The classic dynamic programming table: cell (i, j) is the LCS length of a[..i] and b[..j].
fn lcs_table(a: &[u8], b: &[u8]) -> Vec<u32> {
    let width = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    table
}

/// Walks the table back from the end: the common subsequence, and the matching ranges (a_start,
/// a_end, b_start, b_end) from the last to the first, as Valkey lists them.
fn lcs_backtrack(a: &[u8], b: &[u8], table: &[u32], length: usize) -> (Vec<u8>, Vec<MatchRange>) {
    let width = b.len() + 1;
    let mut common = vec![0u8; length];
    let mut ranges = Vec::new();
    let (mut i, mut j, mut remaining) = (a.len(), b.len(), length);
    // A range in progress, as (a_start, a_end, b_start, b_end).
    let mut current: Option<MatchRange> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[remaining - 1] = a[i - 1];
            current = match current {
                None => Some((i - 1, i - 1, j - 1, j - 1)),
                Some((a_start, a_end, b_start, b_end)) if a_start == i && b_start == j => {
                    Some((a_start - 1, a_end, b_start - 1, b_end))
                }
                Some(range) => {
                    emit = true;
                    Some(range)
                }
            };
            if let Some((a_start, _, b_start, _)) = current {
                if a_start == 0 || b_start == 0 {
                    emit = true;
                }
            }
            remaining -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = current.is_some();
        }
        if emit {
            if let Some(range) = current.take() {
                ranges.push(range);
            }
        }
    }
    (common, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_of_known_strings() {
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        let table = lcs_table(a, b);
        let length = table[a.len() * (b.len() + 1) + b.len()] as usize;
        let (common, ranges) = lcs_backtrack(a, b, &table, length);
        assert_eq!(common, b"mytext");
        assert_eq!(ranges, vec![(4, 7, 5, 8), (2, 3, 0, 1)]);
    }
}
