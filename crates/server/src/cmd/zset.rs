//! The sorted set commands: writes (ZADD, ZINCRBY, ZREM, ZREMRANGEBY*), reads (ZCARD, ZSCORE,
//! ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZRANDMEMBER, ZSCAN), the range family (ZRANGE
//! in all its forms, ZRANGESTORE and the older ZRANGEBY* and ZREV* commands), pops (ZPOPMIN,
//! ZPOPMAX, ZMPOP) and the algebra (ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD),
//! which also takes plain sets as inputs, every member scoring 1.
//!
//! Arguments are checked in the order Valkey checks them, since that decides which error a
//! client sees when several things are wrong (for example the algebra looks its keys up, and
//! may answer WRONGTYPE, before it reads WEIGHTS). Scores are written as Valkey writes them: a
//! bulk string in RESP2 and a double in RESP3, in the text of `tern_keyspace::format_score`;
//! with WITHSCORES, RESP2 gets one flat array and RESP3 an array of [member, score] pairs.
//!
//! The blocking pops reuse the pops' parts: [`pop_reply`] pops from a sorted set already found
//! and writes any of the pop reply shapes, [`try_pop_first`] does it for the first existing key
//! of several (or says there is none), [`parse_multi_pop`] reads ZMPOP's and BZMPOP's
//! arguments, and [`holds_zset`] is what they wait for.

use std::collections::HashMap;

use tern_keyspace::{
    find_guard, format_score, glob_match, key_slot, parse_score, resolve_range, AddFlags,
    AddOutcome, ExpireUpdate, LexRange, OwnedEntry, PackItem, ScoreRange, Scored, SetValue,
    SlotGuard, Value, ZSetValue, SCORE_TEXT_MAX,
};
use tern_resp::Request;

use crate::blocking;
use crate::notify::class;

use super::{parse_i64, Ctx, NOT_AN_INTEGER, NOT_A_FLOAT, SYNTAX_ERROR, WRONGTYPE};

const NAN_RESULT: &[u8] = b"ERR resulting score is not a number (NaN)";
const NOT_A_FLOAT_RANGE: &[u8] = b"ERR min or max is not a float";
const NOT_A_LEX_RANGE: &[u8] = b"ERR min or max not valid string range item";
const MUST_BE_POSITIVE: &[u8] = b"ERR value is out of range, must be positive";
const OUT_OF_RANGE: &[u8] = b"ERR value is out of range";
const RANGE_NOT_MIN: &[u8] =
    b"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// Writes a score: a bulk string in RESP2, a double in RESP3.
fn write_score(ctx: &mut Ctx<'_>, score: f64) {
    let mut buffer = [0u8; SCORE_TEXT_MAX];
    let text = format_score(score, &mut buffer);
    if ctx.reply.resp3() {
        ctx.reply.raw(b",");
        ctx.reply.raw(text);
        ctx.reply.raw(b"\r\n");
    } else {
        ctx.reply.bulk(text);
    }
}

fn write_member(ctx: &mut Ctx<'_>, member: PackItem<'_>) {
    ctx.reply.bulk(member.bytes(&mut [0; 20]));
}

/// Writes entries as an array, with their scores when asked (flat in RESP2, pairs in RESP3).
fn write_entries<'a>(
    ctx: &mut Ctx<'_>,
    len: usize,
    entries: impl IntoIterator<Item = (PackItem<'a>, f64)>,
    with_scores: bool,
) {
    let pairs = with_scores && ctx.reply.resp3();
    ctx.reply
        .array(if with_scores && !pairs { len * 2 } else { len });
    for (member, score) in entries {
        if pairs {
            ctx.reply.array(2);
        }
        write_member(ctx, member);
        if with_scores {
            write_score(ctx, score);
        }
    }
}

/// Looks a key up for reading. Ok(None) when missing; Err after a WRONGTYPE reply.
fn read_zset<'g>(
    ctx: &mut Ctx<'_>,
    table: &'g mut SlotGuard<'_>,
    key: &[u8],
) -> Result<Option<&'g ZSetValue>, ()> {
    super::read_as(ctx, table, key, Value::as_zset)
}

/// Looks a key up for writing. Ok(None) when missing; Err after a WRONGTYPE reply.
fn write_zset<'g>(
    ctx: &mut Ctx<'_>,
    table: &'g mut SlotGuard<'_>,
    key: &[u8],
) -> Result<Option<&'g mut ZSetValue>, ()> {
    match table.get(key, ctx.now_ms) {
        None => Ok(None),
        Some(entry) => match entry.value.as_zset_mut() {
            Some(zset) => Ok(Some(zset)),
            None => {
                ctx.reply.error(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// After members left the sorted set at `key` by `event`: reports it, then deletes the key
/// when emptied (reported as `del`).
fn after_removal(ctx: &Ctx<'_>, table: &mut SlotGuard<'_>, key: &[u8], event: &'static str) {
    ctx.key_event(class::ZSET, event, key);
    if table
        .get(key, ctx.now_ms)
        .and_then(|e| e.value.as_zset())
        .is_some_and(ZSetValue::is_empty)
    {
        table.remove(key);
        ctx.key_event(class::GENERIC, "del", key);
    }
}

/// Stores `zset` at `destination` (reported as `event`), or deletes the key when the result is
/// empty (reported as `del` if it existed); replies with the count.
fn store_result(
    ctx: &mut Ctx<'_>,
    table: &mut SlotGuard<'_>,
    destination: &[u8],
    zset: ZSetValue,
    event: &'static str,
) {
    let len = zset.len();
    if len == 0 {
        if crate::lazyfree::server_del(ctx.server, table.remove(destination)) {
            ctx.key_event(class::GENERIC, "del", destination);
        }
    } else {
        table.insert(
            destination,
            OwnedEntry::new(Value::ZSet(zset), ctx.now_ms),
            ExpireUpdate::Clear,
        );
        ctx.key_event(class::ZSET, event, destination);
    }
    ctx.reply.int(len as i64);
}

/// `(member, score)` pairs as references.
fn refs(entries: &[(Vec<u8>, f64)]) -> Vec<(&[u8], f64)> {
    entries.iter().map(|(m, s)| (m.as_slice(), *s)).collect()
}

/// Entries copied out of the sorted set they borrow from.
fn owned(entries: &[Scored<'_>]) -> Vec<(Vec<u8>, f64)> {
    entries.iter().map(|(m, s)| (m.to_vec(), *s)).collect()
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub fn zadd(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    add_generic(ctx, request, false);
}

/// ZINCRBY key increment member
pub fn zincrby(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    add_generic(ctx, request, true);
}

/// What ZADD's loop counted.
#[derive(Default)]
struct AddTally {
    added: i64,
    updated: i64,
    processed: bool,
    score: f64,
    not_a_number: bool,
}

fn add_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, incr: bool) {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut changed = false;
    let mut index = 2;
    while index < request.len() {
        let option = request.arg(index);
        if option.eq_ignore_ascii_case(b"NX") {
            flags.nx = true;
        } else if option.eq_ignore_ascii_case(b"XX") {
            flags.xx = true;
        } else if option.eq_ignore_ascii_case(b"CH") {
            changed = true;
        } else if option.eq_ignore_ascii_case(b"INCR") {
            flags.incr = true;
        } else if option.eq_ignore_ascii_case(b"GT") {
            flags.gt = true;
        } else if option.eq_ignore_ascii_case(b"LT") {
            flags.lt = true;
        } else {
            break;
        }
        index += 1;
    }
    let elements = request.len() - index;
    if elements == 0 || elements % 2 == 1 {
        return ctx.reply.error(SYNTAX_ERROR);
    }
    let pairs = elements / 2;
    if flags.nx && flags.xx {
        return ctx
            .reply
            .error(b"ERR XX and NX options at the same time are not compatible");
    }
    // At most one of GT, LT and NX.
    if [flags.gt, flags.lt, flags.nx]
        .iter()
        .filter(|&&set| set)
        .count()
        > 1
    {
        return ctx
            .reply
            .error(b"ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if flags.incr && pairs > 1 {
        return ctx
            .reply
            .error(b"ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(pairs);
    let mut longest = 0;
    for pair in 0..pairs {
        match parse_score(request.arg(index + 2 * pair)) {
            Some(score) => scores.push(score),
            None => return ctx.reply.error(NOT_A_FLOAT),
        }
        longest = longest.max(request.arg(index + 2 * pair + 1).len());
    }
    let key = request.arg(1);
    let now_ms = ctx.now_ms;
    let mut table = ctx.db().lock_key(key);
    let tally = match write_zset(ctx, &mut table, key) {
        Err(()) => return,
        Ok(None) if flags.xx => AddTally::default(),
        Ok(None) => {
            let mut zset = ZSetValue::for_size(pairs, longest);
            let tally = add_pairs(&mut zset, request, index, &scores, flags);
            if !zset.is_empty() {
                table.insert(
                    key,
                    OwnedEntry::new(Value::ZSet(zset), now_ms),
                    ExpireUpdate::Clear,
                );
            }
            tally
        }
        Ok(Some(zset)) => {
            zset.prepare_growth(pairs, longest);
            add_pairs(zset, request, index, &scores, flags)
        }
    };
    if tally.added > 0 || tally.updated > 0 {
        let event = if flags.incr { "zincr" } else { "zadd" };
        ctx.key_event(class::ZSET, event, key);
    }
    if tally.not_a_number {
        ctx.reply.error(NAN_RESULT);
    } else if flags.incr {
        if tally.processed {
            write_score(ctx, tally.score);
        } else {
            ctx.reply.null();
        }
    } else if changed {
        ctx.reply.int(tally.added + tally.updated);
    } else {
        ctx.reply.int(tally.added);
    }
}

fn add_pairs(
    zset: &mut ZSetValue,
    request: &Request<'_>,
    index: usize,
    scores: &[f64],
    flags: AddFlags,
) -> AddTally {
    let mut tally = AddTally::default();
    for (pair, &score) in scores.iter().enumerate() {
        let member = request.arg(index + 2 * pair + 1);
        match zset.add(member, score, flags) {
            AddOutcome::NotANumber => {
                tally.not_a_number = true;
                break;
            }
            AddOutcome::Skipped => {}
            AddOutcome::Added(score) => {
                tally.added += 1;
                tally.processed = true;
                tally.score = score;
            }
            AddOutcome::Updated(score) => {
                tally.updated += 1;
                tally.processed = true;
                tally.score = score;
            }
            AddOutcome::Unchanged(score) => {
                tally.processed = true;
                tally.score = score;
            }
        }
    }
    tally
}

/// ZREM key member [member ...]
pub fn zrem(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let zset = match write_zset(ctx, &mut table, key) {
        Err(()) => return,
        Ok(None) => return ctx.reply.int(0),
        Ok(Some(zset)) => zset,
    };
    let mut removed = 0;
    for member in request.tail(2).iter() {
        if zset.remove(member) {
            removed += 1;
        }
        if zset.is_empty() {
            break;
        }
    }
    if removed > 0 {
        after_removal(ctx, &mut table, key, "zrem");
    }
    ctx.reply.int(removed);
}

/// Which range a ZREMRANGEBY* or ZRANGE command reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// A parsed range of one of the three kinds.
enum Range<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange<'a>),
}

/// Parses `min` and `max` as a range of `kind`, replying with the error when they are invalid.
fn parse_range<'a>(
    ctx: &mut Ctx<'_>,
    kind: RangeKind,
    min: &'a [u8],
    max: &'a [u8],
) -> Option<Range<'a>> {
    let range = match kind {
        RangeKind::Rank => match (parse_i64(min), parse_i64(max)) {
            (Some(start), Some(end)) => Some(Range::Rank(start, end)),
            _ => {
                ctx.reply.error(NOT_AN_INTEGER);
                return None;
            }
        },
        RangeKind::Score => ScoreRange::parse(min, max).map(Range::Score),
        RangeKind::Lex => LexRange::parse(min, max).map(Range::Lex),
    };
    if range.is_none() {
        ctx.reply.error(match kind {
            RangeKind::Lex => NOT_A_LEX_RANGE,
            _ => NOT_A_FLOAT_RANGE,
        });
    }
    range
}

fn remove_range_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: RangeKind) {
    let Some(range) = parse_range(ctx, kind, request.arg(2), request.arg(3)) else {
        return;
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let zset = match write_zset(ctx, &mut table, key) {
        Err(()) => return,
        Ok(None) => return ctx.reply.int(0),
        Ok(Some(zset)) => zset,
    };
    let removed = match range {
        Range::Rank(start, end) => match resolve_range(start, end, zset.len()) {
            Some((start, end)) => zset.remove_by_rank(start, end),
            None => 0,
        },
        Range::Score(range) => zset.remove_by_score(&range),
        Range::Lex(range) => zset.remove_by_lex(&range),
    };
    if removed > 0 {
        let event = match kind {
            RangeKind::Rank => "zremrangebyrank",
            RangeKind::Score => "zremrangebyscore",
            RangeKind::Lex => "zremrangebylex",
        };
        after_removal(ctx, &mut table, key, event);
    }
    ctx.reply.int(removed as i64);
}

/// ZREMRANGEBYRANK key start stop
pub fn zremrangebyrank(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    remove_range_generic(ctx, request, RangeKind::Rank);
}

/// ZREMRANGEBYSCORE key min max
pub fn zremrangebyscore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    remove_range_generic(ctx, request, RangeKind::Score);
}

/// ZREMRANGEBYLEX key min max
pub fn zremrangebylex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    remove_range_generic(ctx, request, RangeKind::Lex);
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// ZCARD key
pub fn zcard(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(zset) = read_zset(ctx, &mut table, key) {
        ctx.reply.int(zset.map_or(0, |z| z.len() as i64));
    }
}

/// ZSCORE key member
pub fn zscore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    if let Ok(zset) = read_zset(ctx, &mut table, key) {
        match zset.and_then(|z| z.score(request.arg(2))) {
            Some(score) => write_score(ctx, score),
            None => ctx.reply.null(),
        }
    }
}

/// ZMSCORE key member [member ...]
pub fn zmscore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let Ok(zset) = read_zset(ctx, &mut table, key) else {
        return;
    };
    let members = request.tail(2);
    ctx.reply.array(members.len());
    for member in members.iter() {
        match zset.and_then(|z| z.score(member)) {
            Some(score) => write_score(ctx, score),
            None => ctx.reply.null(),
        }
    }
}

/// ZRANK key member [WITHSCORE]
pub fn zrank(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    rank_generic(ctx, request, false);
}

/// ZREVRANK key member [WITHSCORE]
pub fn zrevrank(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    rank_generic(ctx, request, true);
}

fn rank_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, reverse: bool) {
    if request.len() > 4 {
        let text = format!("ERR wrong number of arguments for '{}' command", ctx.name());
        return ctx.reply.error(text.as_bytes());
    }
    let with_score = match request.get(3) {
        None => false,
        Some(option) if option.eq_ignore_ascii_case(b"WITHSCORE") => true,
        Some(_) => return ctx.reply.error(SYNTAX_ERROR),
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let Ok(zset) = read_zset(ctx, &mut table, key) else {
        return;
    };
    let found = zset.and_then(|z| {
        z.rank(request.arg(2))
            .map(|(rank, score)| (if reverse { z.len() - 1 - rank } else { rank }, score))
    });
    match (found, with_score) {
        (Some((rank, score)), true) => {
            ctx.reply.array(2);
            ctx.reply.int(rank as i64);
            write_score(ctx, score);
        }
        (Some((rank, _)), false) => ctx.reply.int(rank as i64),
        (None, true) => ctx.reply.null_array(),
        (None, false) => ctx.reply.null(),
    }
}

/// ZCOUNT key min max
pub fn zcount(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    count_generic(ctx, request, RangeKind::Score);
}

/// ZLEXCOUNT key min max
pub fn zlexcount(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    count_generic(ctx, request, RangeKind::Lex);
}

fn count_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: RangeKind) {
    let Some(range) = parse_range(ctx, kind, request.arg(2), request.arg(3)) else {
        return;
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let zset = match read_zset(ctx, &mut table, key) {
        Err(()) => return,
        Ok(None) => return ctx.reply.int(0),
        Ok(Some(zset)) => zset,
    };
    let count = match range {
        Range::Score(range) => zset.count_by_score(&range),
        Range::Lex(range) => zset.count_by_lex(&range),
        Range::Rank(..) => unreachable!("counts are by score or lex"),
    };
    ctx.reply.int(count as i64);
}

// ---------------------------------------------------------------------------------------------
// The range family
// ---------------------------------------------------------------------------------------------

/// How a range command was called: which arguments it has and what it fixes.
#[derive(Clone, Copy)]
struct RangeCall {
    /// The index of the source key; min and max follow it.
    source: usize,
    store: bool,
    /// The kind fixed by the command name (the older commands), or None for ZRANGE's options.
    kind: Option<RangeKind>,
    /// The direction fixed by the command name, or None for ZRANGE's REV option.
    reverse: Option<bool>,
}

/// The options after a range command's min and max.
struct RangeOptions {
    kind: RangeKind,
    reverse: bool,
    with_scores: bool,
    offset: i64,
    limit: i64,
}

fn parse_range_options(
    ctx: &mut Ctx<'_>,
    request: &Request<'_>,
    call: RangeCall,
) -> Option<RangeOptions> {
    let (mut kind, mut reverse) = (call.kind, call.reverse);
    let mut options = RangeOptions {
        kind: RangeKind::Rank,
        reverse: false,
        with_scores: false,
        offset: 0,
        limit: -1,
    };
    let mut index = call.source + 3;
    while index < request.len() {
        let option = request.arg(index);
        let left = request.len() - index - 1;
        if !call.store && option.eq_ignore_ascii_case(b"WITHSCORES") {
            options.with_scores = true;
        } else if option.eq_ignore_ascii_case(b"LIMIT") && left >= 2 {
            match (
                parse_i64(request.arg(index + 1)),
                parse_i64(request.arg(index + 2)),
            ) {
                (Some(offset), Some(limit)) => {
                    options.offset = offset;
                    options.limit = limit;
                }
                _ => {
                    ctx.reply.error(NOT_AN_INTEGER);
                    return None;
                }
            }
            index += 2;
        } else if reverse.is_none() && option.eq_ignore_ascii_case(b"REV") {
            reverse = Some(true);
        } else if kind.is_none() && option.eq_ignore_ascii_case(b"BYLEX") {
            kind = Some(RangeKind::Lex);
        } else if kind.is_none() && option.eq_ignore_ascii_case(b"BYSCORE") {
            kind = Some(RangeKind::Score);
        } else {
            ctx.reply.error(SYNTAX_ERROR);
            return None;
        }
        index += 1;
    }
    options.kind = kind.unwrap_or(RangeKind::Rank);
    options.reverse = reverse.unwrap_or(false);
    if options.limit != -1 && options.kind == RangeKind::Rank {
        ctx.reply.error(
            b"ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if options.with_scores && options.kind == RangeKind::Lex {
        ctx.reply
            .error(b"ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    Some(options)
}

/// The entries a range selects, in reply order.
fn select_range<'z>(
    zset: &'z ZSetValue,
    range: &Range<'_>,
    options: &RangeOptions,
) -> Vec<Scored<'z>> {
    match range {
        Range::Rank(start, end) => match resolve_range(*start, *end, zset.len()) {
            Some((start, end)) => zset.by_rank(start, end, options.reverse),
            None => Vec::new(),
        },
        Range::Score(range) => zset.by_score(range, options.offset, options.limit, options.reverse),
        Range::Lex(range) => zset.by_lex(range, options.offset, options.limit, options.reverse),
    }
}

fn range_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, call: RangeCall) {
    let Some(options) = parse_range_options(ctx, request, call) else {
        return;
    };
    let (mut min, mut max) = (request.arg(call.source + 1), request.arg(call.source + 2));
    if options.reverse && options.kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let Some(range) = parse_range(ctx, options.kind, min, max) else {
        return;
    };
    let source = request.arg(call.source);
    if call.store {
        return range_store(ctx, request.arg(1), source, &range, &options);
    }
    let mut table = ctx.db().lock_key(source);
    let zset = match read_zset(ctx, &mut table, source) {
        Err(()) => return,
        Ok(None) => return ctx.reply.array(0),
        Ok(Some(zset)) => zset,
    };
    let entries = select_range(zset, &range, &options);
    write_entries(ctx, entries.len(), entries, options.with_scores);
}

fn range_store(
    ctx: &mut Ctx<'_>,
    destination: &[u8],
    source: &[u8],
    range: &Range<'_>,
    options: &RangeOptions,
) {
    let keys: [&[u8]; 2] = [destination, source];
    let mut guards = ctx.db().lock_keys(keys);
    let table = find_guard(&mut guards, source);
    let mut entries = match read_zset(ctx, table, source) {
        Err(()) => return,
        Ok(None) => Vec::new(),
        Ok(Some(zset)) => owned(&select_range(zset, range, options)),
    };
    if options.reverse {
        entries.reverse();
    }
    // Valkey sizes the result for a rank range's length, and starts small for the others.
    let size_hint = match range {
        Range::Rank(..) => entries.len(),
        _ => 0,
    };
    let zset = ZSetValue::from_insertions(&refs(&entries), size_hint);
    let table = find_guard(&mut guards, destination);
    store_result(ctx, table, destination, zset, "zrangestore");
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub fn zrange(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let call = RangeCall {
        source: 1,
        store: false,
        kind: None,
        reverse: None,
    };
    range_generic(ctx, request, call);
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub fn zrangestore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let call = RangeCall {
        source: 2,
        store: true,
        kind: None,
        reverse: None,
    };
    range_generic(ctx, request, call);
}

fn fixed_range(ctx: &mut Ctx<'_>, request: &Request<'_>, kind: RangeKind, reverse: bool) {
    let call = RangeCall {
        source: 1,
        store: false,
        kind: Some(kind),
        reverse: Some(reverse),
    };
    range_generic(ctx, request, call);
}

/// ZREVRANGE key start stop [WITHSCORES]
pub fn zrevrange(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fixed_range(ctx, request, RangeKind::Rank, true);
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub fn zrangebyscore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fixed_range(ctx, request, RangeKind::Score, false);
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub fn zrevrangebyscore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fixed_range(ctx, request, RangeKind::Score, true);
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub fn zrangebylex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fixed_range(ctx, request, RangeKind::Lex, false);
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub fn zrevrangebylex(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fixed_range(ctx, request, RangeKind::Lex, true);
}

// ---------------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------------

/// The shape of a pop's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PopReply {
    /// The key name comes first (ZMPOP and the blocking pops).
    pub with_key: bool,
    /// Each member and score as a pair of its own (ZMPOP, BZMPOP, and ZPOPMIN/ZPOPMAX with a
    /// count in RESP3), instead of one flat array.
    pub nested: bool,
}

/// Pops up to `count` members (one when None) from the lowest scores, or the highest when
/// `highest`, of the non-empty sorted set at `key` in `table`, which the caller has looked up,
/// writes the reply in `shape`, and deletes the key when it empties.
///
/// The shapes: flat `[m, s, ...]` (ZPOPMIN/ZPOPMAX), nested `[[m, s], ...]` (ZPOPMIN/ZPOPMAX
/// with a count in RESP3), `[key, m, s]` (BZPOPMIN/BZPOPMAX: `with_key`, not nested) and
/// `[key, [[m, s], ...]]` (ZMPOP/BZMPOP: `with_key` and nested).
pub fn pop_reply(
    ctx: &mut Ctx<'_>,
    table: &mut SlotGuard<'_>,
    key: &[u8],
    highest: bool,
    count: Option<usize>,
    shape: PopReply,
) {
    let now_ms = ctx.now_ms;
    let Some(zset) = table.get(key, now_ms).and_then(|e| e.value.as_zset_mut()) else {
        return ctx.reply.null_array();
    };
    let popped = zset.pop(count.unwrap_or(1), highest);
    if !popped.is_empty() {
        let event = if highest { "zpopmax" } else { "zpopmin" };
        after_removal(ctx, table, key, event);
    }
    let items = if shape.nested {
        popped.len()
    } else {
        popped.len() * 2
    };
    if shape.with_key && shape.nested {
        ctx.reply.array(2);
        ctx.reply.bulk(key);
        ctx.reply.array(items);
    } else if shape.with_key {
        ctx.reply.array(items + 1);
        ctx.reply.bulk(key);
    } else {
        ctx.reply.array(items);
    }
    for (member, score) in popped {
        if shape.nested {
            ctx.reply.array(2);
        }
        ctx.reply.bulk(&member);
        write_score(ctx, score);
    }
}

/// ZPOPMIN key [count]
pub fn zpopmin(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    pop_min_max(ctx, request, false);
}

/// ZPOPMAX key [count]
pub fn zpopmax(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    pop_min_max(ctx, request, true);
}

fn pop_min_max(ctx: &mut Ctx<'_>, request: &Request<'_>, highest: bool) {
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
    match write_zset(ctx, &mut table, key) {
        Err(()) => return,
        Ok(None) => return ctx.reply.array(0),
        Ok(Some(_)) if count == Some(0) => return ctx.reply.array(0),
        Ok(Some(_)) => {}
    }
    let shape = PopReply {
        with_key: false,
        nested: ctx.reply.resp3() && count.is_some(),
    };
    pop_reply(ctx, &mut table, key, highest, count, shape);
}

/// Parses a count Valkey bounds to 1..=i64::MAX, with the command's own error text.
fn parse_positive(arg: &[u8]) -> Option<usize> {
    parse_i64(arg).filter(|&n| n >= 1).map(|n| n as usize)
}

/// The arguments of ZMPOP and BZMPOP from their key count on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultiPop {
    /// How many keys follow the key count.
    pub keys: usize,
    /// MAX (true) or MIN.
    pub highest: bool,
    /// COUNT, 1 by default.
    pub count: usize,
}

/// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` starting at `numkeys_index`, replying
/// with the error when it is invalid.
pub fn parse_multi_pop(
    ctx: &mut Ctx<'_>,
    request: &Request<'_>,
    numkeys_index: usize,
) -> Option<MultiPop> {
    parse_multi_pop_args(request, numkeys_index)
        .map_err(|error| ctx.reply.error(error))
        .ok()
}

/// The parse of [`parse_multi_pop`], with the error text instead of a reply.
fn parse_multi_pop_args(
    request: &Request<'_>,
    numkeys_index: usize,
) -> Result<MultiPop, &'static [u8]> {
    let keys = parse_positive(request.arg(numkeys_index))
        .ok_or(b"ERR numkeys should be greater than 0".as_slice())?;
    let where_index = keys.saturating_add(numkeys_index + 1);
    if where_index >= request.len() {
        return Err(SYNTAX_ERROR);
    }
    let end = request.arg(where_index);
    let highest = if end.eq_ignore_ascii_case(b"MIN") {
        false
    } else if end.eq_ignore_ascii_case(b"MAX") {
        true
    } else {
        return Err(SYNTAX_ERROR);
    };
    let mut count = None;
    let mut index = where_index + 1;
    while index < request.len() {
        let more = index + 1 < request.len();
        if count.is_none() && more && request.arg(index).eq_ignore_ascii_case(b"COUNT") {
            index += 1;
            count = Some(
                parse_positive(request.arg(index))
                    .ok_or(b"ERR count should be greater than 0".as_slice())?,
            );
        } else {
            return Err(SYNTAX_ERROR);
        }
        index += 1;
    }
    Ok(MultiPop {
        keys,
        highest,
        count: count.unwrap_or(1),
    })
}

/// Whether a value is a sorted set (what the blocking pops wait for).
pub fn holds_zset(value: &Value) -> bool {
    value.as_zset().is_some()
}

/// Pops from the first of `keys` that exists (see [`pop_reply`]) and returns true; replies
/// WRONGTYPE and returns true when that key holds another type; returns false, with no reply,
/// when none exists.
pub fn try_pop_first(
    ctx: &mut Ctx<'_>,
    keys: &Request<'_>,
    highest: bool,
    count: Option<usize>,
    shape: PopReply,
) -> bool {
    let now_ms = ctx.now_ms;
    let mut guards = ctx.db().lock_keys(keys.iter());
    for key in keys.iter() {
        let table = find_guard(&mut guards, key);
        match table.get(key, now_ms).map(|e| holds_zset(&e.value)) {
            None => continue,
            Some(false) => ctx.reply.error(WRONGTYPE),
            Some(true) => pop_reply(ctx, table, key, highest, count, shape),
        }
        return true;
    }
    false
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub fn zmpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(pop) = parse_multi_pop(ctx, request, 1) else {
        return;
    };
    let shape = PopReply {
        with_key: true,
        nested: true,
    };
    let keys = request.tail(2).head(pop.keys);
    if !try_pop_first(ctx, &keys, pop.highest, Some(pop.count), shape) {
        ctx.reply.null_array();
    }
}

/// BZPOPMIN key [key ...] timeout
pub fn bzpopmin(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    blocking_pop(ctx, request, false);
}

/// BZPOPMAX key [key ...] timeout
pub fn bzpopmax(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    blocking_pop(ctx, request, true);
}

/// The keys of BZPOPMIN and BZPOPMAX: every argument but the name and the timeout.
fn bpop_keys<'a>(request: &Request<'a>) -> Request<'a> {
    request.tail(1).head(request.len() - 2)
}

fn blocking_pop(ctx: &mut Ctx<'_>, request: &Request<'_>, highest: bool) {
    let Some(timeout_ms) = blocking::parse_timeout(ctx, request.arg(request.len() - 1)) else {
        return;
    };
    let keys: Vec<&[u8]> = bpop_keys(request).iter().collect();
    let attempt = if highest {
        |ctx: &mut Ctx<'_>, request: &Request<'_>| bpop_attempt(ctx, request, true)
    } else {
        |ctx: &mut Ctx<'_>, request: &Request<'_>| bpop_attempt(ctx, request, false)
    };
    blocking::run(ctx, request, &keys, timeout_ms, holds_zset, attempt);
}

fn bpop_attempt(ctx: &mut Ctx<'_>, request: &Request<'_>, highest: bool) -> bool {
    let shape = PopReply {
        with_key: true,
        nested: false,
    };
    try_pop_first(ctx, &bpop_keys(request), highest, None, shape)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub fn bzmpop(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(pop) = parse_multi_pop(ctx, request, 2) else {
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
        holds_zset,
        |ctx, request| {
            let pop = parse_multi_pop_args(request, 2).expect("checked before blocking");
            let shape = PopReply {
                with_key: true,
                nested: true,
            };
            try_pop_first(
                ctx,
                &request.tail(3).head(pop.keys),
                pop.highest,
                Some(pop.count),
                shape,
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Random members and scans
// ---------------------------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
pub fn zrandmember(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let count = match request.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            None => return ctx.reply.error(NOT_AN_INTEGER),
            Some(i64::MIN) => return ctx.reply.error(RANGE_NOT_MIN),
            Some(count) => Some(count),
        },
    };
    let with_scores = match request.get(3) {
        None => false,
        Some(option) if request.len() == 4 && option.eq_ignore_ascii_case(b"WITHSCORES") => true,
        Some(_) => return ctx.reply.error(SYNTAX_ERROR),
    };
    if with_scores && count.is_some_and(|n| !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n)) {
        return ctx.reply.error(OUT_OF_RANGE);
    }
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let zset = match read_zset(ctx, &mut table, key) {
        Err(()) => return,
        Ok(None) if count.is_some() => return ctx.reply.array(0),
        Ok(None) => return ctx.reply.null(),
        Ok(Some(zset)) => zset,
    };
    let Some(count) = count else {
        let (member, _) = zset.random_entry(&mut ctx.local.rng);
        return write_member(ctx, member);
    };
    random_members(ctx, zset, count, with_scores);
}

fn random_members(ctx: &mut Ctx<'_>, zset: &ZSetValue, count: i64, with_scores: bool) {
    let len = zset.len();
    if count == 0 {
        return ctx.reply.array(0);
    }
    if count < 0 || count == 1 {
        // Drawn independently: repetitions allowed, in random order.
        let count = count.unsigned_abs() as usize;
        let pairs = with_scores && ctx.reply.resp3();
        ctx.reply.array(if with_scores && !pairs {
            count * 2
        } else {
            count
        });
        for _ in 0..count {
            let (member, score) = zset.random_entry(&mut ctx.local.rng);
            if pairs {
                ctx.reply.array(2);
            }
            write_member(ctx, member);
            if with_scores {
                write_score(ctx, score);
            }
        }
        return;
    }
    let count = count as usize;
    if count >= len {
        // The whole set, highest first, as Valkey's iteration gives it.
        let all = zset.by_rank(0, len - 1, true);
        return write_entries(ctx, len, all, with_scores);
    }
    let picks = zset.random_distinct(count, &mut ctx.local.rng);
    write_entries(ctx, picks.len(), picks, with_scores);
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count] [NOSCORES]
///
/// Every sorted set is returned in one call with cursor 0, as Valkey does for its listpack
/// form; SCAN's guarantees hold (each member present throughout is returned exactly once).
pub fn zscan(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(cursor) = super::parse_scan_cursor(request.arg(2)) else {
        return ctx.reply.error(b"ERR invalid cursor");
    };
    let key = request.arg(1);
    let mut table = ctx.db().lock_key(key);
    let zset = match read_zset(ctx, &mut table, key) {
        Ok(Some(zset)) => zset,
        Ok(None) => {
            ctx.reply.array(2);
            ctx.reply.bulk(b"0");
            return ctx.reply.array(0);
        }
        Err(()) => return,
    };
    let options = match super::parse_scan_options(request, super::ScanKind::SortedSet) {
        Ok(options) => options,
        Err(error) => return ctx.reply.error(error),
    };
    let (pattern, count) = (options.pattern, options.count);
    let with_scores = !options.omit;
    let mut found: Vec<Scored<'_>> = Vec::new();
    let next = zset.scan(cursor, count, |(member, score)| {
        if pattern.is_none_or(|p| glob_match(p, member.bytes(&mut [0; 20]), false)) {
            found.push((member, score));
        }
    });
    ctx.reply.array(2);
    ctx.reply.bulk_int(next as i64);
    ctx.reply.array(if with_scores {
        found.len() * 2
    } else {
        found.len()
    });
    for (member, score) in found {
        write_member(ctx, member);
        if with_scores {
            let mut buffer = [0u8; SCORE_TEXT_MAX];
            ctx.reply.bulk(format_score(score, &mut buffer));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The algebra
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Union,
    Inter,
    Diff,
}

/// What an algebra command does with its result.
#[derive(Clone, Copy)]
enum Output<'k> {
    /// Reply with the members (WITHSCORES is parsed).
    Reply,
    /// ZINTERCARD: only the count (LIMIT is parsed).
    Count,
    Store(&'k [u8]),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Folds `value` into `target` as Valkey does (a sum of opposite infinities is 0).
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input of the algebra: a sorted set, a set (members score 1), or a missing key.
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    Sorted(&'a ZSetValue),
    Plain(&'a SetValue),
}

impl<'a> Source<'a> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Sorted(zset) => zset.len(),
            Source::Plain(set) => set.len(),
        }
    }

    /// Calls `each` with every member's bytes and score, until it returns false.
    fn for_each(&self, mut each: impl FnMut(&[u8], f64) -> bool) {
        let mut buffer = [0u8; 20];
        match self {
            Source::Missing => {}
            Source::Sorted(zset) => {
                for (member, score) in zset.iter() {
                    if !each(member.bytes(&mut buffer), score) {
                        return;
                    }
                }
            }
            Source::Plain(set) => {
                for member in set.iter() {
                    if !each(member.bytes(&mut buffer), 1.0) {
                        return;
                    }
                }
            }
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Sorted(zset) => zset.score(member),
            Source::Plain(set) => set.contains(member).then_some(1.0),
        }
    }
}

/// The guard of `key`'s slot among `lock_keys` guards, for shared access.
fn guard_ref<'g, 'a>(guards: &'g [(usize, SlotGuard<'a>)], key: &[u8]) -> &'g SlotGuard<'a> {
    let slot = key_slot(key);
    let index = guards
        .binary_search_by_key(&slot, |(locked, _)| *locked)
        .expect("the key's slot was locked by lock_keys");
    &guards[index].1
}

/// The options after an algebra command's keys.
struct AlgebraOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    limit: usize,
}

fn parse_algebra_options(
    ctx: &mut Ctx<'_>,
    options: Request<'_>,
    keys: usize,
    op: Algebra,
    output: Output<'_>,
) -> Option<AlgebraOptions> {
    let mut parsed = AlgebraOptions {
        weights: vec![1.0; keys],
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let counting = matches!(output, Output::Count);
    let combining = op != Algebra::Diff && !counting;
    let mut index = 0;
    while index < options.len() {
        let option = options.arg(index);
        let remaining = options.len() - index;
        if combining && remaining > keys && option.eq_ignore_ascii_case(b"WEIGHTS") {
            for weight in parsed.weights.iter_mut() {
                index += 1;
                match parse_score(options.arg(index)) {
                    Some(value) => *weight = value,
                    None => {
                        ctx.reply.error(b"ERR weight value is not a float");
                        return None;
                    }
                }
            }
        } else if combining && remaining >= 2 && option.eq_ignore_ascii_case(b"AGGREGATE") {
            index += 1;
            let how = options.arg(index);
            parsed.aggregate = if how.eq_ignore_ascii_case(b"SUM") {
                Aggregate::Sum
            } else if how.eq_ignore_ascii_case(b"MIN") {
                Aggregate::Min
            } else if how.eq_ignore_ascii_case(b"MAX") {
                Aggregate::Max
            } else {
                ctx.reply.error(SYNTAX_ERROR);
                return None;
            };
        } else if matches!(output, Output::Reply) && option.eq_ignore_ascii_case(b"WITHSCORES") {
            parsed.with_scores = true;
        } else if counting && remaining >= 2 && option.eq_ignore_ascii_case(b"LIMIT") {
            index += 1;
            match parse_i64(options.arg(index)) {
                Some(limit) if limit >= 0 => parsed.limit = limit as usize,
                _ => {
                    ctx.reply.error(b"ERR LIMIT can't be negative");
                    return None;
                }
            }
        } else {
            ctx.reply.error(SYNTAX_ERROR);
            return None;
        }
        index += 1;
    }
    Some(parsed)
}

/// The shared body of ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD; `numkeys` is
/// the index of the key count argument.
fn algebra(
    ctx: &mut Ctx<'_>,
    request: &Request<'_>,
    numkeys: usize,
    op: Algebra,
    output: Output<'_>,
) {
    let Some(count) = parse_i64(request.arg(numkeys)) else {
        return ctx.reply.error(NOT_AN_INTEGER);
    };
    if count < 1 {
        let text = format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.name()
        );
        return ctx.reply.error(text.as_bytes());
    }
    if count as u64 > (request.len() - numkeys - 1) as u64 {
        return ctx.reply.error(SYNTAX_ERROR);
    }
    let count = count as usize;
    let keys = request.tail(numkeys + 1).head(count);
    let destination = match output {
        Output::Store(destination) => Some(destination),
        _ => None,
    };
    let mut guards = ctx.db().lock_keys(keys.iter().chain(destination));
    for key in keys.iter() {
        let table = find_guard(&mut guards, key);
        let wrong = ctx
            .read(table, key)
            .is_some_and(|e| e.value.as_zset().is_none() && e.value.as_set().is_none());
        if wrong {
            return ctx.reply.error(WRONGTYPE);
        }
    }
    let Some(options) =
        parse_algebra_options(ctx, request.tail(numkeys + 1 + count), count, op, output)
    else {
        return;
    };
    let sources: Vec<Source<'_>> = keys
        .iter()
        .map(
            |key| match guard_ref(&guards, key).peek(key).map(|e| &e.value) {
                Some(Value::ZSet(zset)) => Source::Sorted(zset),
                Some(Value::Set(set)) => Source::Plain(set),
                _ => Source::Missing,
            },
        )
        .collect();
    let result = match (op, output) {
        (Algebra::Inter, Output::Count) => {
            let found = intersect(&sources, &options, options.limit);
            return ctx.reply.int(found.len() as i64);
        }
        (Algebra::Inter, _) => intersect(&sources, &options, 0),
        (Algebra::Union, _) => union(&sources, &options),
        (Algebra::Diff, _) => difference(&sources),
    };
    drop(sources);
    let mut result = result;
    result.sort_by(|a, b| match a.1.partial_cmp(&b.1) {
        Some(std::cmp::Ordering::Equal) | None => a.0.cmp(&b.0),
        Some(order) => order,
    });
    match destination {
        Some(destination) => {
            let zset = ZSetValue::from_sorted(&refs(&result));
            let event = match op {
                Algebra::Inter => "zinterstore",
                Algebra::Union => "zunionstore",
                Algebra::Diff => "zdiffstore",
            };
            let table = find_guard(&mut guards, destination);
            store_result(ctx, table, destination, zset, event);
        }
        None => {
            let entries = result.iter().map(|(m, s)| (PackItem::Bytes(m), *s));
            write_entries(ctx, result.len(), entries, options.with_scores);
        }
    }
}

/// The sources with their weights, smallest first (a stable order among equal sizes).
fn by_size<'a>(sources: &[Source<'a>], weights: &[f64]) -> Vec<(Source<'a>, f64)> {
    let mut sized: Vec<(Source<'a>, f64)> = sources
        .iter()
        .copied()
        .zip(weights.iter().copied())
        .collect();
    sized.sort_by_key(|(source, _)| source.len());
    sized
}

/// The weighted score of an input member (a NaN product, 0 × inf, counts as 0).
fn weighted(weight: f64, score: f64) -> f64 {
    let product = weight * score;
    if product.is_nan() {
        0.0
    } else {
        product
    }
}

/// Members in every source, with their aggregated scores; stops at `limit` members (0: all).
fn intersect(
    sources: &[Source<'_>],
    options: &AlgebraOptions,
    limit: usize,
) -> Vec<(Vec<u8>, f64)> {
    let sized = by_size(sources, &options.weights);
    let mut found = Vec::new();
    let (first, first_weight) = sized[0];
    first.for_each(|member, score| {
        let mut total = weighted(first_weight, score);
        for (source, weight) in &sized[1..] {
            match source.score(member) {
                Some(value) => options.aggregate.apply(&mut total, value * weight),
                None => return true,
            }
        }
        found.push((member.to_vec(), total));
        limit == 0 || found.len() < limit
    });
    found
}

/// Members in any source, with their aggregated scores.
fn union(sources: &[Source<'_>], options: &AlgebraOptions) -> Vec<(Vec<u8>, f64)> {
    let sized = by_size(sources, &options.weights);
    let mut scores: HashMap<Vec<u8>, f64> = HashMap::new();
    for (source, weight) in &sized {
        source.for_each(|member, score| {
            let score = weighted(*weight, score);
            match scores.get_mut(member) {
                Some(total) => options.aggregate.apply(total, score),
                None => {
                    scores.insert(member.to_vec(), score);
                }
            }
            true
        });
    }
    scores.into_iter().collect()
}

/// Members of the first source in none of the others, with their scores there.
fn difference(sources: &[Source<'_>]) -> Vec<(Vec<u8>, f64)> {
    let mut found = Vec::new();
    sources[0].for_each(|member, score| {
        if sources[1..].iter().all(|s| s.score(member).is_none()) {
            found.push((member.to_vec(), score));
        }
        true
    });
    found
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zunion(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request, 1, Algebra::Union, Output::Reply);
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub fn zinter(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request, 1, Algebra::Inter, Output::Reply);
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub fn zdiff(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request, 1, Algebra::Diff, Output::Reply);
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
pub fn zunionstore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let output = Output::Store(request.arg(1));
    algebra(ctx, request, 2, Algebra::Union, output);
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
pub fn zinterstore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let output = Output::Store(request.arg(1));
    algebra(ctx, request, 2, Algebra::Inter, output);
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub fn zdiffstore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let output = Output::Store(request.arg(1));
    algebra(ctx, request, 2, Algebra::Diff, output);
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub fn zintercard(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    algebra(ctx, request, 1, Algebra::Inter, Output::Count);
}
