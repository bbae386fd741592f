//! The set commands: membership (SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS), random
//! members (SPOP, SRANDMEMBER), SMOVE, the algebra (SINTER, SUNION, SDIFF, their STORE forms,
//! SINTERCARD) and SSCAN.
//!
//! Commands on several keys lock all their slots at once with `lock_keys`, first look every key
//! up mutably (which removes expired ones and checks types), then read the sets through shared
//! references, and write a STORE result last.

use tern_keyspace::{
    find_guard, glob_match, key_slot, ExpireUpdate, Member, OwnedEntry, SetValue, SlotGuard, Value,
};
use tern_resp::Request;

use crate::notify::class;

use super::{parse_i64, Ctx, NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};

const MUST_BE_POSITIVE: &[u8] = b"ERR value is out of range, must be positive";

#[inline]
fn bulk_member(ctx: &mut Ctx<'_>, member: Member<'_>) {
    ctx.reply.bulk(member.bytes(&mut [0; 20]));
}

/// The guard of `key`'s slot among `lock_keys` guards, for shared access.
fn guard_ref<'g, 'a>(guards: &'g [(usize, SlotGuard<'a>)], key: &[u8]) -> &'g SlotGuard<'a> {
    let slot = key_slot(key);
    let index = guards
        .binary_search_by_key(&slot, |(locked, _)| *locked)
        .expect("the key's slot was locked by lock_keys");
    &guards[index].1
}

/// SADD key member [member ...]
pub fn sadd(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let members = request.tail(2);
    let mut table = ctx.db().lock_key(key);
    let now_ms = ctx.now_ms;
    match table.get(key, now_ms) {
        Some(entry) => match entry.value.as_set_mut() {
            Some(set) => {
                let added = members.iter().filter(|m| set.insert(m)).count();
                if added > 0 {
                    ctx.key_event(class::SET, "sadd", key);
                }
                ctx.reply.int(added as i64);
            }
            None => ctx.reply.error(WRONGTYPE),
        },
        None => {
            let mut set = SetValue::for_first(Some(members.arg(0)), members.len());
            let added = members.iter().filter(|m| set.insert(m)).count();
            table.insert(
                key,
                OwnedEntry::new(Value::Set(set), now_ms),
                ExpireUpdate::Clear,
            );
            ctx.key_event(class::SET, "sadd", key);
            ctx.reply.int(added as i64);
        }
    }
}

/// SREM key member [member ...]
pub fn srem(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, ctx.now_ms) else {
        return ctx.reply.int(0);
    };
    let Some(set) = entry.value.as_set_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    let mut removed = 0;
    for member in request.tail(2).iter() {
        if set.remove(member) {
            removed += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        ctx.key_event(class::SET, "srem", key);
    }
    if set.is_empty() {
        table.remove(key);
        ctx.key_event(class::GENERIC, "del", key);
    }
    ctx.reply.int(removed);
}

/// Looks a key up for reading. Ok(None) when missing; Err after a WRONGTYPE reply.
fn read_set<'g>(
    ctx: &mut Ctx<'_>,
    table: &'g mut SlotGuard<'_>,
    key: &[u8],
) -> Result<Option<&'g SetValue>, ()> {
    super::read_as(ctx, table, key, Value::as_set)
}

/// SMEMBERS key
pub fn smembers(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    match read_set(ctx, &mut table, key) {
        Ok(Some(set)) => {
            ctx.reply.set(set.len());
            for member in set.iter() {
                bulk_member(ctx, member);
            }
        }
        Ok(None) => ctx.reply.set(0),
        Err(()) => {}
    }
}

/// SISMEMBER key member
pub fn sismember(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(set) = read_set(ctx, &mut table, key) {
        let found = set.is_some_and(|s| s.contains(request.arg(2)));
        ctx.reply.int(i64::from(found));
    }
}

/// SMISMEMBER key member [member ...]
pub fn smismember(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(set) = read_set(ctx, &mut table, key) {
        let members = request.tail(2);
        ctx.reply.array(members.len());
        for member in members.iter() {
            let found = set.is_some_and(|s| s.contains(member));
            ctx.reply.int(i64::from(found));
        }
    }
}

/// SCARD key
pub fn scard(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(set) = read_set(ctx, &mut table, key) {
        ctx.reply.int(set.map_or(0, |s| s.len() as i64));
    }
}

/// SPOP key [count]
pub fn spop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if request.len() > 3 {
        return ctx.reply.error(SYNTAX_ERROR);
    }
    let count = match request.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            Some(count) if count >= 0 => Some(count as usize),
            _ => return ctx.reply.error(MUST_BE_POSITIVE),
        },
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, ctx.now_ms) else {
        return match count {
            None => ctx.reply.null(),
            Some(_) => ctx.reply.set(0),
        };
    };
    let Some(set) = entry.value.as_set_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    match count {
        None => {
            let member = set.pop(&mut ctx.local.rng);
            ctx.reply.bulk(&member);
        }
        Some(0) => return ctx.reply.set(0),
        Some(count) if count >= set.len() => {
            ctx.reply.set(set.len());
            for member in set.iter() {
                bulk_member(ctx, member);
            }
            table.remove(key);
            ctx.key_event(class::SET, "spop", key);
            ctx.key_event(class::GENERIC, "del", key);
            return;
        }
        Some(count) => {
            let popped = set.pop_many(count, &mut ctx.local.rng);
            ctx.reply.set(popped.len());
            for member in &popped {
                ctx.reply.bulk(member);
            }
        }
    }
    ctx.key_event(class::SET, "spop", key);
    if set.is_empty() {
        table.remove(key);
        ctx.key_event(class::GENERIC, "del", key);
    }
}

/// SRANDMEMBER key [count]
pub fn srandmember(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if request.len() > 3 {
        return ctx.reply.error(SYNTAX_ERROR);
    }
    let count = match request.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            None => return ctx.reply.error(NOT_AN_INTEGER),
            Some(i64::MIN) => {
                return ctx.reply.error(
                    b"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Some(count) => Some(count),
        },
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let set = match read_set(ctx, &mut table, key) {
        Ok(Some(set)) => set,
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
        let member = set.random_member(rng).to_vec();
        return ctx.reply.bulk(&member);
    };
    let len = set.len();
    // A listpack reaches its members by walking: list them once for random access.
    let listed: Option<Vec<Member<'_>>> =
        matches!(set, SetValue::Listpack(_)).then(|| set.iter().collect());
    let at = |index: usize| listed.as_ref().map_or_else(|| set.get(index), |l| l[index]);
    if count < 0 || count == 1 {
        // Members drawn independently: repetitions allowed.
        let count = count.unsigned_abs() as usize;
        let picks: Vec<usize> = (0..count)
            .map(|_| rand::Rng::random_range(rng, 0..len))
            .collect();
        ctx.reply.array(count);
        for index in picks {
            bulk_member(ctx, at(index));
        }
    } else if count as usize >= len {
        ctx.reply.array(len);
        for member in set.iter() {
            bulk_member(ctx, member);
        }
    } else {
        let picks = rand::seq::index::sample(rng, len, count as usize);
        ctx.reply.array(picks.len());
        for index in picks.iter() {
            bulk_member(ctx, at(index));
        }
    }
}

/// SMOVE source destination member
pub fn smove(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (source, destination, member) = (request.arg(1), request.arg(2), request.arg(3));
    let keys: [&[u8]; 2] = [source, destination];
    let mut guards = ctx.db().lock_keys(keys);
    let now_ms = ctx.now_ms;
    let source_is_set = match find_guard(&mut guards, source).get(source, now_ms) {
        None => return ctx.reply.int(0),
        Some(entry) => entry.value.as_set().is_some(),
    };
    let destination_exists = match find_guard(&mut guards, destination).get(destination, now_ms) {
        None => false,
        Some(entry) if entry.value.as_set().is_some() => true,
        Some(_) => return ctx.reply.error(WRONGTYPE),
    };
    if !source_is_set {
        return ctx.reply.error(WRONGTYPE);
    }
    let table = find_guard(&mut guards, source);
    let set = table
        .get(source, now_ms)
        .and_then(|e| e.value.as_set_mut())
        .expect("checked above");
    if source == destination {
        let found = set.contains(member);
        return ctx.reply.int(i64::from(found));
    }
    if !set.remove(member) {
        return ctx.reply.int(0);
    }
    ctx.key_event(class::SET, "srem", source);
    if set.is_empty() {
        table.remove(source);
        ctx.key_event(class::GENERIC, "del", source);
    }
    let table = find_guard(&mut guards, destination);
    if destination_exists {
        if let Some(set) = table
            .get(destination, now_ms)
            .and_then(|e| e.value.as_set_mut())
        {
            if set.insert(member) {
                ctx.key_event(class::SET, "sadd", destination);
            }
        }
    } else {
        let mut set = SetValue::for_first(Some(member), 1);
        set.insert(member);
        table.insert(
            destination,
            OwnedEntry::new(Value::Set(set), now_ms),
            ExpireUpdate::Clear,
        );
        ctx.key_event(class::SET, "sadd", destination);
    }
    ctx.reply.int(1);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// What a SINTER-like command does with its result.
#[derive(Clone, Copy)]
enum Output<'k> {
    Reply,
    /// SINTERCARD: only the count, stopping at the limit (0: none).
    Count(usize),
    Store(&'k [u8]),
}

/// The shared body of SINTER, SINTERCARD, SUNION, SDIFF and their STORE forms.
fn algebra(ctx: &mut Ctx<'_>, keys: Request<'_>, op: Algebra, output: Output<'_>) {
    let db = ctx.db();
    let destination = match output {
        Output::Store(destination) => Some(destination),
        _ => None,
    };
    let mut guards = db.lock_keys(keys.iter().chain(destination));
    let now_ms = ctx.now_ms;
    // First pass: expire, check types, note missing keys (read lookups, STORE forms too, as
    // Valkey counts them).
    let mut missing = 0;
    let mut all_intsets = true;
    for key in keys.iter() {
        let table = find_guard(&mut guards, key);
        match ctx.read(table, key).map(|e| e.value.as_set()) {
            None => missing += 1,
            Some(None) => return ctx.reply.error(WRONGTYPE),
            Some(Some(set)) => all_intsets &= matches!(set, SetValue::Intset(_)),
        }
    }
    let sets: Vec<Option<&SetValue>> = keys
        .iter()
        .map(|key| {
            guard_ref(&guards, key)
                .peek(key)
                .and_then(|e| e.value.as_set())
        })
        .collect();
    let result = match op {
        Algebra::Inter => {
            if missing > 0 {
                // Intersecting with a missing key (an empty set) is empty.
                match output {
                    Output::Count(_) => return ctx.reply.int(0),
                    Output::Reply => return ctx.reply.set(0),
                    Output::Store(_) => SetValue::empty(),
                }
            } else {
                let mut sets: Vec<&SetValue> = sets.iter().flatten().copied().collect();
                sets.sort_by_key(|s| s.len());
                let (smallest, others) = sets.split_first().expect("at least one key");
                let common = smallest.iter().filter(|member| {
                    let bytes = member.bytes(&mut [0; 20]).to_vec();
                    others.iter().all(|s| s.contains(&bytes))
                });
                match output {
                    Output::Count(limit) => {
                        let count = match limit {
                            0 => common.count(),
                            limit => common.take(limit).count(),
                        };
                        return ctx.reply.int(count as i64);
                    }
                    Output::Reply => {
                        let common: Vec<Member<'_>> = common.collect();
                        ctx.reply.set(common.len());
                        for member in common {
                            bulk_member(ctx, member);
                        }
                        return;
                    }
                    Output::Store(_) => {
                        let mut result = SetValue::empty();
                        for member in common {
                            result.insert(member.bytes(&mut [0; 20]));
                        }
                        result
                    }
                }
            }
        }
        Algebra::Union | Algebra::Diff => {
            let mut result = if destination.is_none() && !all_intsets {
                SetValue::empty_hashtable()
            } else {
                SetValue::empty()
            };
            if op == Algebra::Union {
                for set in sets.iter().flatten() {
                    for member in set.iter() {
                        result.insert(member.bytes(&mut [0; 20]));
                    }
                }
            } else if let Some(first) = sets[0] {
                let mut buffer = [0; 20];
                for member in first.iter() {
                    let bytes = member.bytes(&mut buffer);
                    if !sets[1..].iter().flatten().any(|s| s.contains(bytes)) {
                        result.insert(bytes);
                    }
                }
            }
            result
        }
    };
    drop(sets);
    match destination {
        None => {
            ctx.reply.set(result.len());
            for member in result.iter() {
                bulk_member(ctx, member);
            }
        }
        Some(destination) => {
            let table = find_guard(&mut guards, destination);
            let len = result.len();
            if len > 0 {
                table.insert(
                    destination,
                    OwnedEntry::new(Value::Set(result), now_ms),
                    ExpireUpdate::Clear,
                );
                let event = match op {
                    Algebra::Inter => "sinterstore",
                    Algebra::Union => "sunionstore",
                    Algebra::Diff => "sdiffstore",
                };
                ctx.key_event(class::SET, event, destination);
            } else if crate::lazyfree::server_del(ctx.server, table.remove(destination)) {
                ctx.key_event(class::GENERIC, "del", destination);
            }
            ctx.reply.int(len as i64);
        }
    }
}

/// SINTER key [key ...]
pub fn sinter(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request.tail(1), Algebra::Inter, Output::Reply);
}

/// SINTERSTORE destination key [key ...]
pub fn sinterstore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(
        ctx,
        request.tail(2),
        Algebra::Inter,
        Output::Store(request.arg(1)),
    );
}

/// SUNION key [key ...]
pub fn sunion(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request.tail(1), Algebra::Union, Output::Reply);
}

/// SUNIONSTORE destination key [key ...]
pub fn sunionstore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(
        ctx,
        request.tail(2),
        Algebra::Union,
        Output::Store(request.arg(1)),
    );
}

/// SDIFF key [key ...]
pub fn sdiff(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request.tail(1), Algebra::Diff, Output::Reply);
}

/// SDIFFSTORE destination key [key ...]
pub fn sdiffstore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(
        ctx,
        request.tail(2),
        Algebra::Diff,
        Output::Store(request.arg(1)),
    );
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn sintercard(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let numkeys = match parse_i64(request.arg(1)) {
        Some(n) if n >= 1 => n as usize,
        _ => return ctx.reply.error(b"ERR numkeys should be greater than 0"),
    };
    if numkeys > request.len() - 2 {
        return ctx
            .reply
            .error(b"ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let mut index = 2 + numkeys;
    while index < request.len() {
        let option = request.arg(index);
        if option.eq_ignore_ascii_case(b"LIMIT") && index + 1 < request.len() {
            index += 1;
            match parse_i64(request.arg(index)) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return ctx.reply.error(b"ERR LIMIT can't be negative"),
            }
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
        index += 1;
    }
    let keys = request.tail(2);
    let keys = keys.head(numkeys);
    algebra(ctx, keys, Algebra::Inter, Output::Count(limit));
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
///
/// An intset or listpack set is returned in one call with cursor 0, as Valkey does; a hashtable
/// set page by page (see `SetValue::scan`).
pub fn sscan(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(cursor) = super::parse_scan_cursor(request.arg(2)) else {
        return ctx.reply.error(b"ERR invalid cursor");
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let set = match read_set(ctx, &mut table, key) {
        Ok(Some(set)) => set,
        Ok(None) => {
            ctx.reply.array(2);
            ctx.reply.bulk(b"0");
            return ctx.reply.array(0);
        }
        Err(()) => return,
    };
    let options = match super::parse_scan_options(request, super::ScanKind::Set) {
        Ok(options) => options,
        Err(error) => return ctx.reply.error(error),
    };
    let (pattern, count) = (options.pattern, options.count);
    let mut found: Vec<Member<'_>> = Vec::new();
    let next = set.scan(cursor, count, |member| {
        if pattern.is_none_or(|p| glob_match(p, member.bytes(&mut [0; 20]), false)) {
            found.push(member);
        }
    });
    ctx.reply.array(2);
    ctx.reply.bulk_int(next as i64);
    ctx.reply.array(found.len());
    for member in found {
        bulk_member(ctx, member);
    }
}
