//! The list commands: pushes (LPUSH, RPUSH, LPUSHX, RPUSHX), pops (LPOP, RPOP, LMPOP), reads
//! (LLEN, LRANGE, LINDEX, LPOS), edits (LSET, LINSERT, LREM, LTRIM) and moves (LMOVE,
//! RPOPLPUSH), and the blocking forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP), which share
//! the bodies of their non-blocking forms and wait through `crate::blocking`.
//!
//! Arguments are checked in the order Valkey checks them, since that decides which error (or
//! which empty reply) a client sees when several things are wrong. A list emptied by a command
//! is deleted. Growth and shrink checks, which decide the encoding name, are made where Valkey
//! makes them (see `tern_keyspace::ListValue`).

use tern_keyspace::{
    argument_growth, find_guard, moved_growth, resolve_range, CompactBytes, ExpireUpdate, ListItem,
    ListValue, OwnedEntry, SlotGuard, Value,
};
use tern_resp::Request;

use crate::blocking;
use crate::notify::class;

use super::{parse_i64, Ctx, NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};

const MUST_BE_POSITIVE: &[u8] = b"ERR value is out of range, must be positive";
const NO_SUCH_KEY: &[u8] = b"ERR no such key";
const INDEX_OUT_OF_RANGE: &[u8] = b"ERR index out of range";
const RANK_ZERO: &[u8] = b"ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
/// The error of an argument Valkey bounds to ±(2^63 - 1).
const RANGE_NOT_MIN: &[u8] =
    b"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

fn parse_end(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"LEFT") {
        Some(End::Head)
    } else if arg.eq_ignore_ascii_case(b"RIGHT") {
        Some(End::Tail)
    } else {
        None
    }
}

fn pop(list: &mut ListValue, end: End) -> Option<CompactBytes> {
    match end {
        End::Head => list.pop_front(),
        End::Tail => list.pop_back(),
    }
}

fn push(list: &mut ListValue, end: End, element: &[u8]) {
    match end {
        End::Head => list.push_front(element),
        End::Tail => list.push_back(element),
    }
}

/// After elements left the list at `key` by `event`: reports it, then deletes the list when
/// empty (reported as `del`), else lets it shrink.
fn after_removal(
    ctx: &Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    now_ms: u64,
    event: &'static str,
) {
    let Some(list) = table.get(key, now_ms).and_then(|e| e.value.as_list_mut()) else {
        return;
    };
    ctx.key_event(class::LIST, event, key);
    if list.is_empty() {
        table.remove(key);
        ctx.key_event(class::GENERIC, "del", key);
    } else {
        list.after_shrink();
    }
}

/// The event of a pop from `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Head => "lpop",
        End::Tail => "rpop",
    }
}

/// The event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    }
}

fn new_list_entry(list: ListValue, now_ms: u64) -> OwnedEntry {
    OwnedEntry::new(Value::List(list), now_ms)
}

/// Looks a key up for reading. Ok(None) when missing; Err after a WRONGTYPE reply.
fn read_list<'g>(
    ctx: &mut Ctx<'_>,
    table: &'g mut SlotGuard<'_>,
    key: &[u8],
) -> Result<Option<&'g ListValue>, ()> {
    super::read_as(ctx, table, key, Value::as_list)
}

/// The shared body of LPUSH, RPUSH, LPUSHX and RPUSHX.
fn push_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, end: End, only_existing: bool) {
    let key = request.arg(1);
    let elements = request.tail(2);
    let growth: usize = elements.iter().map(argument_growth).sum();
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    match table.get(key, now_ms) {
        Some(entry) => match entry.value.as_list_mut() {
            Some(list) => {
                list.prepare_growth(growth, elements.len());
                for element in elements.iter() {
                    push(list, end, element);
                }
                ctx.reply.int(list.len() as i64);
                ctx.key_event(class::LIST, push_event(end), key);
            }
            None => ctx.reply.error(WRONGTYPE),
        },
        None if only_existing => ctx.reply.int(0),
        None => {
            let mut list = ListValue::new();
            list.prepare_growth(growth, elements.len());
            for element in elements.iter() {
                push(&mut list, end, element);
            }
            let len = list.len();
            table.insert(key, new_list_entry(list, now_ms), ExpireUpdate::Clear);
            ctx.key_event(class::LIST, push_event(end), key);
            ctx.reply.int(len as i64);
        }
    }
}

/// LPUSH key element [element ...]
pub fn lpush(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    push_generic(ctx, request, End::Head, false);
}

/// RPUSH key element [element ...]
pub fn rpush(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    push_generic(ctx, request, End::Tail, false);
}

/// LPUSHX key element [element ...]
pub fn lpushx(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    push_generic(ctx, request, End::Head, true);
}

/// RPUSHX key element [element ...]
pub fn rpushx(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    push_generic(ctx, request, End::Tail, true);
}

/// Pops up to `count` elements from `end` and replies with them as an array.
fn pop_many_reply(ctx: &mut Ctx<'_>, list: &mut ListValue, end: End, count: usize) {
    let count = count.min(list.len());
    ctx.reply.array(count);
    for _ in 0..count {
        let element = pop(list, end).expect("count is at most the length");
        ctx.reply.bulk(&element);
    }
}

/// The shared body of LPOP and RPOP.
fn pop_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, end: End) {
    if request.len() > 3 {
        let name = if end == End::Head { "lpop" } else { "rpop" };
        let text = format!("ERR wrong number of arguments for '{name}' command");
        return ctx.reply.error(text.as_bytes());
    }
    let count = match request.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            Some(count) if count >= 0 => Some(count as usize),
            _ => return ctx.reply.error(MUST_BE_POSITIVE),
        },
    };
    let key = request.arg(1);
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, now_ms) else {
        return match count {
            None => ctx.reply.null(),
            Some(_) => ctx.reply.null_array(),
        };
    };
    let Some(list) = entry.value.as_list_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    match count {
        None => {
            let element = pop(list, end).expect("stored lists are never empty");
            ctx.reply.bulk(&element);
        }
        Some(0) => return ctx.reply.array(0),
        Some(count) => pop_many_reply(ctx, list, end, count),
    }
    after_removal(ctx, &mut table, key, now_ms, pop_event(end));
}

/// LPOP key [count]
pub fn lpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    pop_generic(ctx, request, End::Head);
}

/// RPOP key [count]
pub fn rpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    pop_generic(ctx, request, End::Tail);
}

/// LLEN key
pub fn llen(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(list) = read_list(ctx, &mut table, key) {
        ctx.reply.int(list.map_or(0, |l| l.len() as i64));
    }
}

/// LRANGE key start stop
pub fn lrange(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (Some(start), Some(stop)) = (parse_i64(request.arg(2)), parse_i64(request.arg(3))) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    match read_list(ctx, &mut table, key) {
        Ok(Some(list)) => match resolve_range(start, stop, list.len()) {
            None => ctx.reply.array(0),
            Some((start, stop)) => {
                ctx.reply.array(stop - start + 1);
                for element in list.range(start, stop) {
                    ctx.reply.bulk(element.bytes(&mut [0; 20]));
                }
            }
        },
        Ok(None) => ctx.reply.array(0),
        Err(()) => {}
    }
}

/// LINDEX key index
pub fn lindex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let list = match read_list(ctx, &mut table, key) {
        Ok(Some(list)) => list,
        Ok(None) => return ctx.reply.null(),
        Err(()) => return,
    };
    let Some(index) = parse_i64(request.arg(2)) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    match list.resolve_index(index).and_then(|i| list.get(i)) {
        Some(element) => ctx.reply.bulk(element.bytes(&mut [0; 20])),
        None => ctx.reply.null(),
    }
}

/// LSET key index element
pub fn lset(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let element = request.arg(3);
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, now_ms) else {
        return ctx.reply.error(NO_SUCH_KEY);
    };
    let Some(list) = entry.value.as_list_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    let Some(index) = parse_i64(request.arg(2)) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    // Valkey makes the growth check before it knows whether the index is valid.
    list.prepare_growth(argument_growth(element), 1);
    match list.resolve_index(index) {
        Some(index) => {
            list.set(index, element);
            list.after_shrink();
            ctx.key_event(class::LIST, "lset", key);
            ctx.reply.ok();
        }
        None => ctx.reply.error(INDEX_OUT_OF_RANGE),
    }
}

/// LINSERT key BEFORE|AFTER pivot element
pub fn linsert(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let after = match request.arg(2) {
        arg if arg.eq_ignore_ascii_case(b"AFTER") => true,
        arg if arg.eq_ignore_ascii_case(b"BEFORE") => false,
        _ => return ctx.reply.error(SYNTAX_ERROR),
    };
    let key = request.arg(1);
    let (pivot, element) = (request.arg(3), request.arg(4));
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, now_ms) else {
        return ctx.reply.int(0);
    };
    let Some(list) = entry.value.as_list_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    // As in Valkey, the growth check comes before the pivot is searched for.
    list.prepare_growth(argument_growth(element), 1);
    match list.position(pivot) {
        Some(index) => {
            list.insert(index + usize::from(after), element);
            ctx.reply.int(list.len() as i64);
            ctx.key_event(class::LIST, "linsert", key);
        }
        None => ctx.reply.int(-1),
    }
}

/// LREM key count element
pub fn lrem(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let count = match parse_i64(request.arg(2)) {
        None => return ctx.reply.error(NOT_AN_INTEGER),
        Some(i64::MIN) => return ctx.reply.error(RANGE_NOT_MIN),
        Some(count) => count,
    };
    let key = request.arg(1);
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, now_ms) else {
        return ctx.reply.int(0);
    };
    let Some(list) = entry.value.as_list_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(request.arg(3), limit, count >= 0);
    if removed > 0 {
        after_removal(ctx, &mut table, key, now_ms, "lrem");
    }
    ctx.reply.int(removed as i64);
}

/// LTRIM key start stop
pub fn ltrim(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (Some(start), Some(stop)) = (parse_i64(request.arg(2)), parse_i64(request.arg(3))) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    let key = request.arg(1);
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    let Some(entry) = table.get(key, now_ms) else {
        return ctx.reply.ok();
    };
    let Some(list) = entry.value.as_list_mut() else {
        return ctx.reply.error(WRONGTYPE);
    };
    let keep = resolve_range(start, stop, list.len());
    let before = list.len();
    list.trim(keep);
    if list.len() == before {
        // Reported, but not a change watchers see, as Valkey does.
        crate::notify::notify(ctx.server, ctx.client.db, class::LIST, "ltrim", key);
    } else {
        after_removal(ctx, &mut table, key, now_ms, "ltrim");
    }
    ctx.reply.ok();
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub fn lpos(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut index = 3;
    while index < request.len() {
        let option = request.arg(index);
        let has_value = index + 1 < request.len();
        if option.eq_ignore_ascii_case(b"RANK") && has_value {
            index += 1;
            rank = match parse_i64(request.arg(index)) {
                None => return ctx.reply.error(NOT_AN_INTEGER),
                Some(i64::MIN) => return ctx.reply.error(RANGE_NOT_MIN),
                Some(0) => return ctx.reply.error(RANK_ZERO),
                Some(rank) => rank,
            };
        } else if option.eq_ignore_ascii_case(b"COUNT") && has_value {
            index += 1;
            count = match parse_i64(request.arg(index)) {
                Some(n) if n >= 0 => Some(n as usize),
                _ => return ctx.reply.error(b"ERR COUNT can't be negative"),
            };
        } else if option.eq_ignore_ascii_case(b"MAXLEN") && has_value {
            index += 1;
            maxlen = match parse_i64(request.arg(index)) {
                Some(n) if n >= 0 => n as usize,
                _ => return ctx.reply.error(b"ERR MAXLEN can't be negative"),
            };
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
        index += 1;
    }
    let key = request.arg(1);
    let target = request.arg(2);
    let mut table = ctx.db().lock_key(key);
    let list = match read_list(ctx, &mut table, key) {
        Ok(Some(list)) => list,
        Ok(None) => {
            return match count {
                Some(_) => ctx.reply.array(0),
                None => ctx.reply.null(),
            }
        }
        Err(()) => return,
    };
    let len = list.len();
    let from_head = rank > 0;
    let rank = rank.unsigned_abs();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let mut matches: u64 = 0;
    let mut found: Vec<usize> = Vec::new();
    let elements: Box<dyn Iterator<Item = ListItem<'_>>> = if from_head {
        Box::new(list.iter())
    } else {
        list.iter_rev()
    };
    for (offset, element) in elements.take(scan).enumerate() {
        let position = if from_head { offset } else { len - 1 - offset };
        if !element.eq_bytes(target) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(position);
        match count {
            None => break,
            Some(0) => {}
            Some(count) if found.len() >= count => break,
            Some(_) => {}
        }
    }
    match count {
        Some(_) => {
            ctx.reply.array(found.len());
            for position in found {
                ctx.reply.int(position as i64);
            }
        }
        None => match found.first() {
            Some(position) => ctx.reply.int(*position as i64),
            None => ctx.reply.null(),
        },
    }
}

/// The shared body of LMOVE and RPOPLPUSH.
fn move_generic(ctx: &mut Ctx<'_>, source: &[u8], destination: &[u8], from: End, to: End) {
    if !try_move(ctx, source, destination, from, to) {
        ctx.reply.null();
    }
}

/// Moves an element when `source` exists; false, with no reply, when it does not.
fn try_move(ctx: &mut Ctx<'_>, source: &[u8], destination: &[u8], from: End, to: End) -> bool {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    let mut guards = db.lock_keys([source, destination]);
    match find_guard(&mut guards, source).get(source, now_ms) {
        None => return false,
        Some(entry) if entry.value.as_list().is_none() => {
            ctx.reply.error(WRONGTYPE);
            return true;
        }
        Some(_) => {}
    }
    let destination_exists = match find_guard(&mut guards, destination).get(destination, now_ms) {
        None => false,
        Some(entry) if entry.value.as_list().is_some() => true,
        Some(_) => {
            ctx.reply.error(WRONGTYPE);
            return true;
        }
    };
    let table = find_guard(&mut guards, source);
    let list = table
        .get(source, now_ms)
        .and_then(|e| e.value.as_list_mut())
        .expect("checked above");
    let element = pop(list, from).expect("stored lists are never empty");
    if source == destination {
        list.prepare_growth(moved_growth(&element), 1);
        push(list, to, &element);
        list.after_shrink();
        ctx.key_event(class::LIST, push_event(to), destination);
        ctx.key_event(class::LIST, pop_event(from), source);
        ctx.reply.bulk(&element);
        return true;
    }
    let table = find_guard(&mut guards, destination);
    if destination_exists {
        let list = table
            .get(destination, now_ms)
            .and_then(|e| e.value.as_list_mut())
            .expect("checked above");
        list.prepare_growth(moved_growth(&element), 1);
        push(list, to, &element);
    } else {
        let mut list = ListValue::new();
        list.prepare_growth(moved_growth(&element), 1);
        push(&mut list, to, &element);
        table.insert(
            destination,
            new_list_entry(list, now_ms),
            ExpireUpdate::Clear,
        );
    }
    ctx.key_event(class::LIST, push_event(to), destination);
    after_removal(
        ctx,
        find_guard(&mut guards, source),
        source,
        now_ms,
        pop_event(from),
    );
    ctx.reply.bulk(&element);
    true
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub fn lmove(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (Some(from), Some(to)) = (parse_end(request.arg(3)), parse_end(request.arg(4))) else {
        return ctx.reply.error(SYNTAX_ERROR);
    };
    move_generic(ctx, request.arg(1), request.arg(2), from, to);
}

/// RPOPLPUSH source destination
pub fn rpoplpush(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    move_generic(ctx, request.arg(1), request.arg(2), End::Tail, End::Head);
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn lmpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(pop) = parse_mpop(ctx, request, 1) else {
        return;
    };
    if !try_pop_first(
        ctx,
        &request.tail(2).head(pop.keys),
        pop.end,
        Some(pop.count),
    ) {
        ctx.reply.null_array();
    }
}

/// The arguments of LMPOP and BLMPOP from `numkeys` on.
struct MultiPop {
    keys: usize,
    end: End,
    count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from `numkeys_index`; None after an
/// error reply.
fn parse_mpop(ctx: &mut Ctx<'_>, request: &Request<'_>, numkeys_index: usize) -> Option<MultiPop> {
    let numkeys = match parse_i64(request.arg(numkeys_index)) {
        Some(n) if n >= 1 => n as u64,
        _ => {
            ctx.reply.error(b"ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_index = numkeys_index as u64 + 1 + numkeys;
    if where_index >= request.len() as u64 {
        ctx.reply.error(SYNTAX_ERROR);
        return None;
    }
    let where_index = where_index as usize;
    let Some(end) = parse_end(request.arg(where_index)) else {
        ctx.reply.error(SYNTAX_ERROR);
        return None;
    };
    let mut count: Option<usize> = None;
    let mut index = where_index + 1;
    while index < request.len() {
        let option = request.arg(index);
        if count.is_none() && option.eq_ignore_ascii_case(b"COUNT") && index + 1 < request.len() {
            index += 1;
            count = match parse_i64(request.arg(index)) {
                Some(n) if n >= 1 => Some(n as usize),
                _ => {
                    ctx.reply.error(b"ERR count should be greater than 0");
                    return None;
                }
            };
        } else {
            ctx.reply.error(SYNTAX_ERROR);
            return None;
        }
        index += 1;
    }
    Some(MultiPop {
        keys: numkeys as usize,
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first of `keys` that holds a list and replies `[key, elements]` (LMPOP's form,
/// with a count) or `[key, element]` (BLPOP's, without); false, with no reply, when none exists.
fn try_pop_first(ctx: &mut Ctx<'_>, keys: &Request<'_>, end: End, count: Option<usize>) -> bool {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    let mut guards = db.lock_keys(keys.iter());
    for key in keys.iter() {
        let table = find_guard(&mut guards, key);
        let Some(entry) = table.get(key, now_ms) else {
            continue;
        };
        let Some(list) = entry.value.as_list_mut() else {
            ctx.reply.error(WRONGTYPE);
            return true;
        };
        ctx.reply.array(2);
        ctx.reply.bulk(key);
        match count {
            Some(count) => pop_many_reply(ctx, list, end, count),
            None => {
                let element = pop(list, end).expect("stored lists are never empty");
                ctx.reply.bulk(&element);
            }
        }
        after_removal(ctx, table, key, now_ms, pop_event(end));
        return true;
    }
    false
}

fn holds_list(value: &Value) -> bool {
    value.as_list().is_some()
}

/// The keys of BLPOP and BRPOP: every argument but the name and the timeout.
fn bpop_keys<'a>(request: &Request<'a>) -> Request<'a> {
    request.tail(1).head(request.len() - 2)
}

/// BLPOP key [key ...] timeout
pub fn blpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(timeout_ms) = blocking::parse_timeout(ctx, request.arg(request.len() - 1)) else {
        return;
    };
    let keys: Vec<&[u8]> = bpop_keys(request).iter().collect();
    blocking::run(
        ctx,
        request,
        &keys,
        timeout_ms,
        holds_list,
        |ctx, request| try_pop_first(ctx, &bpop_keys(request), End::Head, None),
    );
}

/// BRPOP key [key ...] timeout
pub fn brpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(timeout_ms) = blocking::parse_timeout(ctx, request.arg(request.len() - 1)) else {
        return;
    };
    let keys: Vec<&[u8]> = bpop_keys(request).iter().collect();
    blocking::run(
        ctx,
        request,
        &keys,
        timeout_ms,
        holds_list,
        |ctx, request| try_pop_first(ctx, &bpop_keys(request), End::Tail, None),
    );
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
pub fn blmove(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if parse_end(request.arg(3)).is_none() || parse_end(request.arg(4)).is_none() {
        return ctx.reply.error(SYNTAX_ERROR);
    }
    let Some(timeout_ms) = blocking::parse_timeout(ctx, request.arg(5)) else {
        return;
    };
    blocking::run(
        ctx,
        request,
        &[request.arg(1)],
        timeout_ms,
        holds_list,
        |ctx, request| {
            let from = parse_end(request.arg(3)).expect("checked before blocking");
            let to = parse_end(request.arg(4)).expect("checked before blocking");
            try_move(ctx, request.arg(1), request.arg(2), from, to)
        },
    );
}

/// BRPOPLPUSH source destination timeout
pub fn brpoplpush(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(timeout_ms) = blocking::parse_timeout(ctx, request.arg(3)) else {
        return;
    };
    blocking::run(
        ctx,
        request,
        &[request.arg(1)],
        timeout_ms,
        holds_list,
        |ctx, request| try_move(ctx, request.arg(1), request.arg(2), End::Tail, End::Head),
    );
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub fn blmpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(pop) = parse_mpop(ctx, request, 2) else {
        return;
    };
    let Some(timeout_ms) = blocking::parse_timeout(ctx, request.arg(1)) else {
        return;
    };
    let keys: Vec<&[u8]> = request.tail(3).head(pop.keys).iter().collect();
    blocking::run(
        ctx,
        request,
        &keys,
        timeout_ms,
        holds_list,
        |ctx, request| {
            let pop = parse_mpop_checked(request);
            try_pop_first(
                ctx,
                &request.tail(3).head(pop.keys),
                pop.end,
                Some(pop.count),
            )
        },
    );
}

/// BLMPOP's arguments again, when serving a waiter: they were checked when it blocked.
fn parse_mpop_checked(request: &Request<'_>) -> MultiPop {
    let keys = parse_i64(request.arg(2)).expect("checked before blocking") as usize;
    let end = parse_end(request.arg(3 + keys)).expect("checked before blocking");
    let count = match request.get(5 + keys) {
        Some(count) => parse_i64(count).expect("checked before blocking") as usize,
        None => 1,
    };
    MultiPop { keys, end, count }
}
