//! The hash commands: fields and values (HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HLEN, HEXISTS,
//! HSTRLEN, HKEYS, HVALS, HGETALL), counters (HINCRBY, HINCRBYFLOAT), random fields
//! (HRANDFIELD), HSCAN, and field expiry (HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL, HPTTL,
//! HEXPIRETIME, HPEXPIRETIME, HPERSIST, HGETEX, HSETEX, HGETDEL).
//!
//! Arguments are checked in the order Valkey checks them, since that decides which error a client
//! sees when several things are wrong. Every write ends in [`settle`]: a hash left empty is
//! deleted, and a hash with fields that expire is registered with its database for the active
//! expiry cycle. Expired fields that are still stored (see `tern_keyspace::HashValue`) are
//! invisible here except to HLEN.

use tern_keyspace::{
    glob_match,
    num::{is_long_double, long_double_add, FloatIncrError},
    Db, ExpireCondition, ExpireUpdate, FieldTtl, HashValue, OwnedEntry, PackItem, SlotGuard, Value,
};
use tern_resp::Request;

use crate::notify::class;

use super::{parse_i64, Ctx, NOT_AN_INTEGER, NOT_A_FLOAT, SYNTAX_ERROR, WRONGTYPE};

const NUMFIELDS: &[u8] =
    b"ERR numfields should be greater than 0 and match the provided number of fields";
/// HRANDFIELD's count is bounded to ±(2^63 - 1).
const RANGE_NOT_MIN: &[u8] =
    b"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

#[inline]
fn bulk_item(ctx: &mut Ctx<'_>, item: PackItem<'_>) {
    ctx.reply.bulk(item.bytes(&mut [0; 20]));
}

fn arity_error(ctx: &mut Ctx<'_>) {
    let text = format!("ERR wrong number of arguments for '{}' command", ctx.name());
    ctx.error_text(&text);
}

/// Looks a key up for reading. Ok(None) when missing; Err after a WRONGTYPE reply.
fn read_hash<'g>(
    ctx: &mut Ctx<'_>,
    table: &'g mut SlotGuard<'_>,
    key: &[u8],
) -> Result<Option<&'g HashValue>, ()> {
    super::read_as(ctx, table, key, Value::as_hash)
}

/// After a write that left `value` (a hash) under `key`: registers its soonest field expiry
/// with the database for the active cycle.
fn settle(db: &Db, key: &[u8], value: &Value) {
    if value.as_hash().is_some_and(HashValue::has_volatile_fields) {
        db.note_field_expiry(key, value);
    }
}

/// Ends a write of one kind of event (see [`finish`]), after `hexpired` when it replaced a
/// field that had expired, as Valkey reports it.
fn finish_write(
    ctx: &Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    replaced_expired: bool,
    event: &'static str,
) {
    if replaced_expired {
        finish(ctx, table, key, &["hexpired", event]);
    } else {
        finish(ctx, table, key, &[event]);
    }
}

/// Ends a hash write: reports its `events` (in order), then deletes the hash if the write left
/// it empty, reported as `del`.
fn finish(ctx: &Ctx<'_>, table: &mut SlotGuard<'_>, key: &[u8], events: &[&'static str]) {
    for event in events {
        ctx.key_event(class::HASH, event, key);
    }
    let empty = table
        .peek(key)
        .and_then(|entry| entry.value.as_hash())
        .is_some_and(HashValue::is_empty);
    if empty {
        table.remove(key);
        if !events.is_empty() {
            ctx.key_event(class::GENERIC, "del", key);
        }
    }
}

/// Runs `write` on the hash at `key`, created empty when the key is missing, then settles it.
/// The caller then ends the write with [`finish`], which deletes an emptied hash. Err after a
/// WRONGTYPE reply.
fn upsert<R>(
    ctx: &mut Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    write: impl FnOnce(&mut HashValue, u64) -> R,
) -> Result<R, ()> {
    apply(ctx, table, key, true, write).map(|result| result.expect("created when missing"))
}

/// Runs `write` on the hash at `key` if there is one (Ok(None) when the key is missing), then
/// settles it. Err after a WRONGTYPE reply.
fn update<R>(
    ctx: &mut Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    write: impl FnOnce(&mut HashValue, u64) -> R,
) -> Result<Option<R>, ()> {
    apply(ctx, table, key, false, write)
}

fn apply<R>(
    ctx: &mut Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    create: bool,
    write: impl FnOnce(&mut HashValue, u64) -> R,
) -> Result<Option<R>, ()> {
    let (db, now_ms) = (ctx.db(), ctx.now_ms);
    match table.get(key, now_ms) {
        Some(entry) => {
            let Some(hash) = entry.value.as_hash_mut() else {
                ctx.reply.error(WRONGTYPE);
                return Err(());
            };
            let result = write(hash, now_ms);
            settle(db, key, &entry.value);
            Ok(Some(result))
        }
        None if create => {
            let mut hash = HashValue::new();
            let result = write(&mut hash, now_ms);
            let value = Value::Hash(hash);
            settle(db, key, &value);
            table.insert(key, OwnedEntry::new(value, now_ms), ExpireUpdate::Clear);
            Ok(Some(result))
        }
        None => Ok(None),
    }
}

/// HSET key field value [field value ...] and HMSET (which replies OK).
pub fn hset(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if !request.len().is_multiple_of(2) {
        return arity_error(ctx);
    }
    let key = request.arg(1);
    let args = request.tail(2);
    let mut table = ctx.db().lock_key(key);
    let mut replaced_expired = false;
    let created = upsert(ctx, &mut table, key, |hash, now_ms| {
        hash.prepare_for(args.len() / 2, args.iter());
        let mut created = 0;
        for pair in (0..args.len()).step_by(2) {
            let (field, value) = (args.arg(pair), args.arg(pair + 1));
            replaced_expired |= hash.holds_expired(field, now_ms);
            created += i64::from(hash.set(field, value, FieldTtl::Clear, now_ms));
        }
        created
    });
    if let Ok(created) = created {
        finish_write(ctx, &mut table, key, replaced_expired, "hset");
        if ctx.name() == "hmset" {
            ctx.reply.ok();
        } else {
            ctx.reply.int(created);
        }
    }
}

/// HSETNX key field value
pub fn hsetnx(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (key, field, value) = (request.arg(1), request.arg(2), request.arg(3));
    let mut table = ctx.db().lock_key(key);
    let mut replaced_expired = false;
    let set = upsert(ctx, &mut table, key, |hash, now_ms| {
        if hash.contains(field, now_ms) {
            return false;
        }
        replaced_expired = hash.holds_expired(field, now_ms);
        hash.prepare_for(1, [field, value]);
        hash.set(field, value, FieldTtl::Clear, now_ms);
        true
    });
    if let Ok(set) = set {
        if set {
            finish_write(ctx, &mut table, key, replaced_expired, "hset");
        } else {
            finish(ctx, &mut table, key, &[]);
        }
        ctx.reply.int(i64::from(set));
    }
}

/// HGET key field
pub fn hget(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    match read_hash(ctx, &mut table, key) {
        Ok(Some(hash)) => match hash.get(request.arg(2), now_ms) {
            Some(value) => bulk_item(ctx, value),
            None => ctx.reply.null(),
        },
        Ok(None) => ctx.reply.null(),
        Err(()) => {}
    }
}

/// HMGET key field [field ...]
pub fn hmget(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let Ok(hash) = read_hash(ctx, &mut table, key) else {
        return;
    };
    let fields = request.tail(2);
    ctx.reply.array(fields.len());
    for field in fields.iter() {
        match hash.and_then(|hash| hash.get(field, now_ms)) {
            Some(value) => bulk_item(ctx, value),
            None => ctx.reply.null(),
        }
    }
}

/// HDEL key field [field ...]
pub fn hdel(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let removed = update(ctx, &mut table, key, |hash, now_ms| {
        let mut removed = 0;
        for field in request.tail(2).iter() {
            if hash.remove(field, now_ms) {
                removed += 1;
                if hash.is_empty() {
                    break;
                }
            }
        }
        removed
    });
    if let Ok(removed) = removed {
        let removed = removed.unwrap_or(0);
        finish(
            ctx,
            &mut table,
            key,
            if removed > 0 { &["hdel"] } else { &[] },
        );
        ctx.reply.int(removed);
    }
}

/// HLEN key: the fields stored, counting expired ones not yet reclaimed, as Valkey does.
pub fn hlen(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(hash) = read_hash(ctx, &mut table, key) {
        ctx.reply.int(hash.map_or(0, |hash| hash.len() as i64));
    }
}

/// HEXISTS key field
pub fn hexists(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    if let Ok(hash) = read_hash(ctx, &mut table, key) {
        let found = hash.is_some_and(|hash| hash.contains(request.arg(2), now_ms));
        ctx.reply.int(i64::from(found));
    }
}

/// HSTRLEN key field
pub fn hstrlen(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    if let Ok(hash) = read_hash(ctx, &mut table, key) {
        let len = hash
            .and_then(|hash| hash.get(request.arg(2), now_ms))
            .map_or(0, |value| value.text_len());
        ctx.reply.int(len as i64);
    }
}

/// What HKEYS, HVALS and HGETALL list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Fields,
    Values,
    Both,
}

fn list_all(ctx: &mut Ctx<'_>, request: &Request<'_>, listing: Listing) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let hash = match read_hash(ctx, &mut table, key) {
        Ok(hash) => hash,
        Err(()) => return,
    };
    let len = hash.map_or(0, |hash| hash.live_len(now_ms));
    match listing {
        Listing::Both => ctx.reply.map(len),
        Listing::Fields | Listing::Values => ctx.reply.array(len),
    }
    let Some(hash) = hash else {
        return;
    };
    for (field, value) in hash.iter(now_ms) {
        if listing != Listing::Values {
            bulk_item(ctx, field);
        }
        if listing != Listing::Fields {
            bulk_item(ctx, value);
        }
    }
}

/// HKEYS key
pub fn hkeys(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    list_all(ctx, request, Listing::Fields);
}

/// HVALS key
pub fn hvals(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    list_all(ctx, request, Listing::Values);
}

/// HGETALL key
pub fn hgetall(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    list_all(ctx, request, Listing::Both);
}

/// HINCRBY key field increment: the field keeps its time to live.
pub fn hincrby(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(increment) = parse_i64(request.arg(3)) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    let (key, field) = (request.arg(1), request.arg(2));
    let mut table = ctx.db().lock_key(key);
    let mut replaced_expired = false;
    let result = upsert(ctx, &mut table, key, |hash, now_ms| {
        replaced_expired = hash.holds_expired(field, now_ms);
        let current = match hash.get(field, now_ms) {
            None => 0,
            Some(value) => value
                .as_i64()
                .ok_or(&b"ERR hash value is not an integer"[..])?,
        };
        let sum = current
            .checked_add(increment)
            .ok_or(&b"ERR increment or decrement would overflow"[..])?;
        hash.set(
            field,
            itoa::Buffer::new().format(sum).as_bytes(),
            FieldTtl::Keep,
            now_ms,
        );
        Ok(sum)
    });
    match result {
        Ok(Ok(sum)) => {
            finish_write(ctx, &mut table, key, replaced_expired, "hincrby");
            ctx.reply.int(sum);
        }
        Ok(Err(text)) => {
            finish(ctx, &mut table, key, &[]);
            ctx.reply.error(text);
        }
        Err(()) => {}
    }
}

/// HINCRBYFLOAT key field increment: a long double sum, printed as INCRBYFLOAT prints it; the
/// field keeps its time to live.
pub fn hincrbyfloat(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let increment = request.arg(3);
    match long_double_add(None, increment) {
        Ok(_) => {}
        Err(FloatIncrError::NotAFloat) => return ctx.reply.error(NOT_A_FLOAT),
        Err(FloatIncrError::NanOrInfinity) => {
            return ctx.reply.error(b"ERR value is NaN or Infinity")
        }
    }
    let (key, field) = (request.arg(1), request.arg(2));
    let mut table = ctx.db().lock_key(key);
    let mut replaced_expired = false;
    let result = upsert(ctx, &mut table, key, |hash, now_ms| {
        replaced_expired = hash.holds_expired(field, now_ms);
        let current = hash.get(field, now_ms).map(|value| value.to_vec());
        if current.as_deref().is_some_and(|text| !is_long_double(text)) {
            return Err(&b"ERR hash value is not a float"[..]);
        }
        let sum = long_double_add(current.as_deref(), increment)
            .map_err(|_| &b"ERR increment would produce NaN or Infinity"[..])?;
        hash.set(field, &sum, FieldTtl::Keep, now_ms);
        Ok(sum)
    });
    match result {
        Ok(Ok(sum)) => {
            finish_write(ctx, &mut table, key, replaced_expired, "hincrbyfloat");
            ctx.reply.bulk(&sum);
        }
        Ok(Err(text)) => {
            finish(ctx, &mut table, key, &[]);
            ctx.reply.error(text);
        }
        Err(()) => {}
    }
}

/// HRANDFIELD key [count [WITHVALUES]]
pub fn hrandfield(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut with_values = false;
    let count = match request.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            None => return ctx.reply.error(NOT_AN_INTEGER),
            Some(i64::MIN) => return ctx.reply.error(RANGE_NOT_MIN),
            Some(count) => Some(count),
        },
    };
    if let Some(count) = count {
        match request.get(3) {
            None if request.len() == 3 => {}
            Some(arg) if request.len() == 4 && arg.eq_ignore_ascii_case(b"WITHVALUES") => {
                with_values = true;
                if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                    return ctx.reply.error(b"ERR value is out of range");
                }
            }
            _ => return ctx.reply.error(SYNTAX_ERROR),
        }
    }
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let hash = match read_hash(ctx, &mut table, key) {
        Ok(Some(hash)) => hash,
        Ok(None) => {
            return match count {
                None => ctx.reply.null(),
                Some(_) => ctx.reply.array(0),
            }
        }
        Err(()) => return,
    };
    let rng = &mut ctx.local.rng;
    let Some(count) = count else {
        return match hash.random_pair(rng, now_ms) {
            Some((field, _)) => bulk_item(ctx, field),
            None => ctx.reply.null(),
        };
    };
    if count == 0 {
        return ctx.reply.array(0);
    }
    let picks = hash.random_pairs(count.unsigned_abs() as usize, count >= 0, rng, now_ms);
    let resp3 = ctx.reply.resp3();
    ctx.reply.array(match (with_values, resp3) {
        (true, false) => picks.len() * 2,
        _ => picks.len(),
    });
    for (field, value) in picks.iter() {
        if with_values && resp3 {
            ctx.reply.array(2);
        }
        bulk_item(ctx, field);
        if with_values {
            bulk_item(ctx, value);
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
///
/// A listpack is returned whole with cursor 0, as Valkey does; a hashtable `count` positions at
/// a time (see `HashValue::scan`).
pub fn hscan(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(cursor) = super::parse_scan_cursor(request.arg(2)) else {
        return ctx.reply.error(b"ERR invalid cursor");
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let hash = match read_hash(ctx, &mut table, key) {
        Ok(Some(hash)) => hash,
        Ok(None) => {
            ctx.reply.array(2);
            ctx.reply.bulk(b"0");
            return ctx.reply.array(0);
        }
        Err(()) => return,
    };
    let options = match super::parse_scan_options(request, super::ScanKind::Hash) {
        Ok(options) => options,
        Err(error) => return ctx.reply.error(error),
    };
    let (pattern, count) = (options.pattern, options.count);
    let no_values = options.omit;
    let mut found: Vec<(PackItem<'_>, PackItem<'_>)> = Vec::new();
    let next = hash.scan(cursor, count, now_ms, |field, value| {
        if pattern.is_none_or(|p| glob_match(p, field.bytes(&mut [0; 20]), false)) {
            found.push((field, value));
        }
    });
    ctx.reply.array(2);
    ctx.reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.reply.array(if no_values {
        found.len()
    } else {
        found.len() * 2
    });
    for (field, value) in found {
        bulk_item(ctx, field);
        if !no_values {
            bulk_item(ctx, value);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field expiry
// ---------------------------------------------------------------------------------------------

/// Replies one integer per field: the results, or -2 for each field of a missing key.
fn reply_codes(ctx: &mut Ctx<'_>, fields: usize, results: Option<Vec<i64>>) {
    ctx.reply.array(fields);
    match results {
        Some(results) => results.into_iter().for_each(|code| ctx.reply.int(code)),
        None => (0..fields).for_each(|_| ctx.reply.int(-2)),
    }
}

/// Replies one value or null per field; all nulls for a missing key.
fn reply_values(ctx: &mut Ctx<'_>, fields: usize, values: Option<Vec<Option<Vec<u8>>>>) {
    ctx.reply.array(fields);
    let values = values.unwrap_or_else(|| vec![None; fields]);
    for value in values {
        match value {
            Some(value) => ctx.reply.bulk(&value),
            None => ctx.reply.null(),
        }
    }
}

/// The index of the FIELDS token between `from` and the last argument (exclusive), as Valkey
/// looks for it: the first match, case-insensitive.
fn find_fields(request: &Request<'_>, from: usize) -> Option<usize> {
    (from..request.len().saturating_sub(1))
        .find(|&i| request.arg(i).eq_ignore_ascii_case(b"FIELDS"))
}

/// Reads `numfields` after a FIELDS token at `at`; Err after the reply. Returns the count
/// (possibly zero or negative, which the caller rejects) and the first field's index.
fn read_numfields(ctx: &mut Ctx<'_>, request: &Request<'_>, at: usize) -> Result<(i64, usize), ()> {
    match parse_i64(request.arg(at + 1)) {
        Some(count) => Ok((count, at + 2)),
        None => {
            ctx.reply.error(NOT_AN_INTEGER);
            Err(())
        }
    }
}

/// The FIELDS block of HTTL, HPERSIST and HGETDEL, fixed at argument 2: returns the first
/// field's index. A count that does not match is `mismatch` (HTTL says syntax error, the others
/// NUMFIELDS).
fn fixed_fields(ctx: &mut Ctx<'_>, request: &Request<'_>, mismatch: &[u8]) -> Option<usize> {
    if !request.arg(2).eq_ignore_ascii_case(b"FIELDS") {
        ctx.reply.error(SYNTAX_ERROR);
        return None;
    }
    let (count, first) = read_numfields(ctx, request, 2).ok()?;
    if count <= 0 || count as u64 != (request.len() - first) as u64 {
        ctx.reply.error(mismatch);
        return None;
    }
    Some(first)
}

/// The unit and base of an expiry argument.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TimeArg {
    seconds: bool,
    /// Relative to the command's time (EX, PX, HEXPIRE, HPEXPIRE), or a Unix time.
    relative: bool,
}

/// Converts an expiry argument to Unix milliseconds with Valkey's errors: not an integer, or
/// negative or overflowing ("invalid expire time"). Err after the reply.
fn expiry_ms(ctx: &mut Ctx<'_>, arg: &[u8], time: TimeArg) -> Result<u64, ()> {
    let Some(value) = parse_i64(arg) else {
        ctx.reply.error(NOT_AN_INTEGER);
        return Err(());
    };
    let base = if time.relative { ctx.now_ms as i64 } else { 0 };
    let millis = if time.seconds {
        value.checked_mul(1000)
    } else {
        Some(value)
    };
    match millis
        .filter(|_| value >= 0)
        .and_then(|ms| ms.checked_add(base))
    {
        Some(at) => Ok(at as u64),
        None => {
            let text = format!("ERR invalid expire time in '{}' command", ctx.name());
            ctx.error_text(&text);
            Err(())
        }
    }
}

/// Parses HEXPIRE's conditions from the arguments before FIELDS. Err after the reply.
fn parse_condition(ctx: &mut Ctx<'_>, options: Request<'_>) -> Result<ExpireCondition, ()> {
    let mut condition = ExpireCondition::default();
    for option in options.iter() {
        match option.to_ascii_uppercase().as_slice() {
            b"NX" => condition.nx = true,
            b"XX" => condition.xx = true,
            b"GT" => condition.gt = true,
            b"LT" => condition.lt = true,
            _ => {
                ctx.error_with_arg("ERR Unsupported option ", option, "");
                return Err(());
            }
        }
    }
    if condition.nx && (condition.xx || condition.gt || condition.lt) {
        ctx.reply
            .error(b"ERR NX and XX, GT or LT options at the same time are not compatible");
        return Err(());
    }
    if condition.gt && condition.lt {
        ctx.reply
            .error(b"ERR GT and LT options at the same time are not compatible");
        return Err(());
    }
    Ok(condition)
}

/// HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT:
/// key time [NX | XX | GT | LT] FIELDS numfields field [field ...]
fn hexpire_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, time: TimeArg) {
    let (condition, count, first) = match find_fields(request, 3) {
        Some(at) => {
            let Ok(condition) = parse_condition(ctx, request.tail(3).head(at - 3)) else {
                return;
            };
            let Ok((count, first)) = read_numfields(ctx, request, at) else {
                return;
            };
            (condition, count, first)
        }
        None => (ExpireCondition::default(), 0, request.len()),
    };
    if count <= 0 || count as u64 != (request.len() - first) as u64 {
        return ctx.reply.error(NUMFIELDS);
    }
    let Ok(at) = expiry_ms(ctx, request.arg(2), time) else {
        return;
    };
    let key = request.arg(1);
    let fields = request.tail(first);
    let mut table = ctx.db().lock_key(key);
    let results = update(ctx, &mut table, key, |hash, now_ms| {
        fields
            .iter()
            .map(|field| hash.set_expire(field, at, condition, now_ms) as i64)
            .collect::<Vec<i64>>()
    });
    if let Ok(results) = results {
        let codes = results.as_deref().unwrap_or_default();
        let mut events = Vec::new();
        if codes.contains(&1) {
            events.push("hexpire");
        }
        if codes.contains(&2) {
            events.push("hexpired");
        }
        finish(ctx, &mut table, key, &events);
        reply_codes(ctx, fields.len(), results);
    }
}

/// HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
pub fn hexpire(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let time = TimeArg {
        seconds: true,
        relative: true,
    };
    hexpire_generic(ctx, request, time);
}

/// HPEXPIRE key milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
pub fn hpexpire(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let time = TimeArg {
        seconds: false,
        relative: true,
    };
    hexpire_generic(ctx, request, time);
}

/// HEXPIREAT key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
pub fn hexpireat(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let time = TimeArg {
        seconds: true,
        relative: false,
    };
    hexpire_generic(ctx, request, time);
}

/// HPEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
pub fn hpexpireat(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let time = TimeArg {
        seconds: false,
        relative: false,
    };
    hexpire_generic(ctx, request, time);
}

/// HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME: per field -2 without it, -1 without an expiry, else
/// the time left or the Unix time, in seconds (rounded) or milliseconds.
fn httl_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, milliseconds: bool, absolute: bool) {
    let Some(first) = fixed_fields(ctx, request, SYNTAX_ERROR) else {
        return;
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms as i64;
    let Ok(hash) = read_hash(ctx, &mut table, key) else {
        return;
    };
    let fields = request.tail(first);
    ctx.reply.array(fields.len());
    for field in fields.iter() {
        let expiry = hash.and_then(|hash| hash.expire_at(field, now_ms as u64));
        let value = match expiry {
            None => -2,
            Some(None) => -1,
            Some(Some(at)) => {
                let left = if absolute {
                    at as i64
                } else {
                    at as i64 - now_ms
                }
                .max(0);
                if milliseconds {
                    left
                } else {
                    // Unsigned, so that rounding the largest times does not overflow.
                    ((left as u64 + 500) / 1000) as i64
                }
            }
        };
        ctx.reply.int(value);
    }
}

/// HTTL key FIELDS numfields field [field ...]
pub fn httl(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    httl_generic(ctx, request, false, false);
}

/// HPTTL key FIELDS numfields field [field ...]
pub fn hpttl(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    httl_generic(ctx, request, true, false);
}

/// HEXPIRETIME key FIELDS numfields field [field ...]
pub fn hexpiretime(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    httl_generic(ctx, request, false, true);
}

/// HPEXPIRETIME key FIELDS numfields field [field ...]
pub fn hpexpiretime(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    httl_generic(ctx, request, true, true);
}

/// HPERSIST key FIELDS numfields field [field ...]
pub fn hpersist(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(first) = fixed_fields(ctx, request, NUMFIELDS) else {
        return;
    };
    let key = request.arg(1);
    let fields = request.tail(first);
    let mut table = ctx.db().lock_key(key);
    let results = update(ctx, &mut table, key, |hash, now_ms| {
        fields
            .iter()
            .map(|field| hash.persist(field, now_ms) as i64)
            .collect::<Vec<i64>>()
    });
    if let Ok(results) = results {
        let persisted = results.as_deref().unwrap_or_default().contains(&1);
        finish(
            ctx,
            &mut table,
            key,
            if persisted { &["hpersist"] } else { &[] },
        );
        reply_codes(ctx, fields.len(), results);
    }
}

/// HGETDEL key FIELDS numfields field [field ...]
pub fn hgetdel(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(first) = fixed_fields(ctx, request, NUMFIELDS) else {
        return;
    };
    let key = request.arg(1);
    let fields = request.tail(first);
    let mut table = ctx.db().lock_key(key);
    let values = update(ctx, &mut table, key, |hash, now_ms| {
        fields
            .iter()
            .map(|field| {
                let value = hash.get(field, now_ms).map(|value| value.to_vec());
                hash.remove(field, now_ms);
                value
            })
            .collect::<Vec<Option<Vec<u8>>>>()
    });
    if let Ok(values) = values {
        let removed = values
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(Option::is_some);
        finish(ctx, &mut table, key, if removed { &["hdel"] } else { &[] });
        reply_values(ctx, fields.len(), values);
    }
}

/// The expiry options of HSETEX and HGETEX.
#[derive(Clone, Copy, Default)]
struct ExOptions<'a> {
    /// HSETEX: the key must not exist (NX) or must exist (XX).
    nx: bool,
    xx: bool,
    /// HSETEX: no field may exist (FNX) or every field must exist (FXX).
    fnx: bool,
    fxx: bool,
    keep_ttl: bool,
    /// HGETEX: remove the fields' times to live.
    persist: bool,
    /// EX, PX, EXAT or PXAT and its argument.
    expire: Option<(TimeArg, &'a [u8])>,
}

/// Which command's options are parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExCommand {
    SetEx,
    GetEx,
}

/// The time argument an EX, PX, EXAT or PXAT option introduces.
fn time_option(option: &[u8]) -> Option<TimeArg> {
    let (seconds, relative) = match option {
        b"EX" => (true, true),
        b"PX" => (false, true),
        b"EXAT" => (true, false),
        b"PXAT" => (false, false),
        _ => return None,
    };
    Some(TimeArg { seconds, relative })
}

/// Parses the options before FIELDS; any unknown, conflicting or incomplete option is a syntax
/// error. The same unit may be repeated (the last value wins), as Valkey allows.
fn parse_ex_options<'a>(options: Request<'a>, command: ExCommand) -> Option<ExOptions<'a>> {
    let mut parsed = ExOptions::default();
    let mut index = 0;
    let set_ex = command == ExCommand::SetEx;
    while index < options.len() {
        let option = options.arg(index).to_ascii_uppercase();
        let no_time = parsed.expire.is_none();
        match option.as_slice() {
            b"NX" if set_ex && !parsed.xx => parsed.nx = true,
            b"XX" if set_ex && !parsed.nx => parsed.xx = true,
            b"FNX" if set_ex && !parsed.fxx => parsed.fnx = true,
            b"FXX" if set_ex && !parsed.fnx => parsed.fxx = true,
            b"KEEPTTL" if set_ex && no_time => parsed.keep_ttl = true,
            b"PERSIST" if !set_ex && no_time => parsed.persist = true,
            unit => {
                let time = time_option(unit)?;
                let same_unit = parsed.expire.is_none_or(|(set, _)| set == time);
                if parsed.keep_ttl || parsed.persist || !same_unit || index + 1 >= options.len() {
                    return None;
                }
                index += 1;
                parsed.expire = Some((time, options.arg(index)));
            }
        }
        index += 1;
    }
    Some(parsed)
}

/// The FIELDS block of HSETEX and HGETEX, searched from the key on as Valkey searches it:
/// returns the options and the first field's index. `per_field` is the arguments per field.
fn ex_fields<'a>(
    ctx: &mut Ctx<'_>,
    request: &Request<'a>,
    command: ExCommand,
) -> Option<(ExOptions<'a>, usize)> {
    let per_field: u64 = if command == ExCommand::SetEx { 2 } else { 1 };
    let (options, count, first) = match find_fields(request, 1) {
        Some(at) => {
            let options = request.tail(2).head(at.saturating_sub(2));
            let Some(options) = parse_ex_options(options, command) else {
                ctx.reply.error(SYNTAX_ERROR);
                return None;
            };
            let (count, first) = read_numfields(ctx, request, at).ok()?;
            (options, count, first)
        }
        None => (ExOptions::default(), 0, request.len()),
    };
    let matches = count > 0
        && (count as u64)
            .checked_mul(per_field)
            .is_some_and(|args| args == (request.len() - first) as u64);
    if !matches {
        ctx.reply.error(NUMFIELDS);
        return None;
    }
    Some((options, first))
}

/// HSETEX key [NX | XX] [FNX | FXX] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL] FIELDS numfields field value [field value ...]
///
/// Replies 1 once every check passed (the fields are then all set, or all deleted when the
/// expiry is not in the future), 0 when a condition failed.
pub fn hsetex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some((options, first)) = ex_fields(ctx, request, ExCommand::SetEx) else {
        return;
    };
    let key = request.arg(1);
    let pairs = request.tail(first);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    let exists = match table.get(key, now_ms) {
        None => false,
        Some(entry) if entry.value.as_hash().is_some() => true,
        Some(_) => return ctx.reply.error(WRONGTYPE),
    };
    if (options.nx && exists) || (options.xx && !exists) {
        return ctx.reply.int(0);
    }
    let ttl = match options.expire {
        _ if options.keep_ttl => FieldTtl::Keep,
        None => FieldTtl::Clear,
        Some((time, arg)) => match expiry_ms(ctx, arg, time) {
            Ok(at) => FieldTtl::At(at),
            Err(()) => return,
        },
    };
    if options.fnx || options.fxx {
        let hash = table
            .get(key, now_ms)
            .and_then(|entry| entry.value.as_hash());
        let refused = (0..pairs.len()).step_by(2).any(|pair| {
            let present = hash.is_some_and(|hash| hash.contains(pairs.arg(pair), now_ms));
            (options.fnx && present) || (options.fxx && !present)
        });
        if refused {
            return ctx.reply.int(0);
        }
    }
    let mut replaced_expired = false;
    let written = upsert(ctx, &mut table, key, |hash, now_ms| {
        for pair in (0..pairs.len()).step_by(2) {
            let (field, value) = (pairs.arg(pair), pairs.arg(pair + 1));
            replaced_expired |= hash.holds_expired(field, now_ms);
            match ttl {
                FieldTtl::At(at) if at <= now_ms => {
                    hash.remove_even_expired(field);
                }
                ttl => {
                    hash.set(field, value, ttl, now_ms);
                }
            }
        }
    });
    if written.is_ok() {
        let mut events = Vec::with_capacity(4);
        if replaced_expired {
            events.push("hexpired");
        }
        events.push("hset");
        match ttl {
            FieldTtl::At(at) if at <= now_ms => events.extend(["hexpire", "hexpired"]),
            FieldTtl::At(_) => events.push("hexpire"),
            _ => {}
        }
        finish(ctx, &mut table, key, &events);
        ctx.reply.int(1);
    }
}

/// HGETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST] FIELDS numfields field [field ...]
///
/// Replies each field's value as it was before the command changed it; an expiry not in the
/// future deletes the fields.
pub fn hgetex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some((options, first)) = ex_fields(ctx, request, ExCommand::GetEx) else {
        return;
    };
    let key = request.arg(1);
    let fields = request.tail(first);
    let mut table = ctx.db().lock_key(key);
    let exists = match ctx.read(&mut table, key) {
        None => false,
        Some(entry) if entry.value.as_hash().is_some() => true,
        Some(_) => return ctx.reply.error(WRONGTYPE),
    };
    let at = match options.expire {
        _ if options.persist => None,
        None => None,
        Some((time, arg)) => match expiry_ms(ctx, arg, time) {
            Ok(at) => Some(at),
            Err(()) => return,
        },
    };
    if !exists {
        return reply_values(ctx, fields.len(), None);
    }
    let mut persisted = false;
    let values = update(ctx, &mut table, key, |hash, now_ms| {
        fields
            .iter()
            .map(|field| {
                let value = hash.get(field, now_ms).map(|value| value.to_vec());
                match at {
                    Some(at) if at <= now_ms => {
                        hash.remove(field, now_ms);
                    }
                    Some(at) => {
                        hash.set_expire(field, at, ExpireCondition::default(), now_ms);
                    }
                    None if options.persist => {
                        persisted |= hash.persist(field, now_ms) as i64 == 1;
                    }
                    None => {}
                }
                value
            })
            .collect::<Vec<Option<Vec<u8>>>>()
    });
    if let Ok(values) = values {
        let changed = values
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(Option::is_some);
        let event = match at {
            Some(at) if at <= ctx.now_ms => "hexpired",
            Some(_) => "hexpire",
            None if options.persist && persisted => "hpersist",
            None => "",
        };
        let events: &[&'static str] = if changed && !event.is_empty() {
            &[event]
        } else {
            &[]
        };
        finish(ctx, &mut table, key, events);
        reply_values(ctx, fields.len(), values);
    }
}
