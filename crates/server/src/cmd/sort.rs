//! SORT and SORT_RO: the elements of a list or a set in order, as numbers or as text, or by the
//! values of other keys named after them (BY), with a window (LIMIT), other keys' values in their
//! place (GET), and, for SORT, the result stored as a list (STORE).
//!
//! Everything a client can observe follows Valkey:
//!
//! - Numbers are read as Valkey's float parser reads them: the text up to its first NUL byte
//!   must be a whole decimal number or an infinity, and not NaN (see [`parse_score`]). One value
//!   that is not fails the command, but only after every BY lookup was made.
//! - Ties. Equal scores are ordered by the elements' bytes. ALPHA compares bytes up to the first
//!   NUL (Valkey uses the C library's collation, which under the C and C.UTF-8 locales is exactly
//!   that), or whole byte strings when STORE is given. What is still equal (missing BY keys,
//!   equal BY values) keeps its load order in a full sort, which in Valkey is the C library's
//!   stable merge sort; BY with a LIMIT window uses Valkey's partial quicksort instead, whose
//!   order of ties is visible, so [`partial_quicksort`] takes the same steps.
//! - BY without a `*` skips sorting. A list then keeps its order (DESC reverses it) and only the
//!   LIMIT window is read; a set keeps its iteration order, unless STORE is given, when it is
//!   sorted ALPHA so that the stored result does not depend on the set's layout.
//! - Patterns are read as C strings where Valkey reads them so (`#`, the `*`, the `->`), and
//!   the parts around them are taken whole.
//!
//! Sources are matched in one place, [`load`]: a type whose native order is meaningful (lists,
//! and sorted sets by score once that type exists) is loaded with [`Loaded::sequence`], which
//! serves BY nosort from the native order; an unordered one with [`Loaded::unordered`].
//!
//! Locking. BY and GET patterns name keys in any slot, known only once the source's elements
//! are. [`sort_generic`] first locks the slots of the source and the destination, reads the
//! source and computes the slots of every key its patterns can name for those elements. When
//! some are not locked, it releases everything and locks the whole set in ascending slot order
//! (the keyspace's one lock order, so this cannot deadlock), reads the source again and checks
//! once more. The command then runs under one set of locks and is atomic like any other: the
//! BY values it sorts by, the GET values it returns and the list it stores are one consistent
//! state. A source that changed between the two steps so that it names keys outside the set is
//! read a third time, with every slot of the database locked.

use std::cmp::Ordering;

use tern_keyspace::{
    find_guard, key_slot, CompactBytes, Db, Entry, ExpireUpdate, ListValue, OwnedEntry, PackItem,
    SlotGuard, Value, SLOT_COUNT,
};
use tern_resp::Request;

use crate::notify::class;

use super::{c_str, parse_i64, Ctx, NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};

const NOT_A_DOUBLE: &[u8] = b"ERR One or more scores can't be converted into double";

/// How many times a sort locks and reads its source at most; the last time it locks every slot
/// of the database.
const LOCK_ATTEMPTS: usize = 3;

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
/// [STORE destination]
pub fn sort(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    sort_generic(ctx, request, false);
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
pub fn sort_ro(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    sort_generic(ctx, request, true);
}

/// The options of one SORT.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    offset: i64,
    count: i64,
    /// The last BY pattern.
    by: Option<Pattern<'a>>,
    /// A BY pattern without `*` was given (even if a later BY has one, as in Valkey).
    dont_sort: bool,
    gets: Vec<Pattern<'a>>,
    store: Option<&'a [u8]>,
}

/// Parses the options in Valkey's order; None after the error reply. SORT_RO knows no STORE.
fn parse_options<'a>(
    ctx: &mut Ctx<'_>,
    request: &Request<'a>,
    readonly: bool,
) -> Option<Options<'a>> {
    let mut options = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut index = 2;
    while index < request.len() {
        let option = request.arg(index);
        let left = request.len() - index - 1;
        if option.eq_ignore_ascii_case(b"ASC") {
            options.desc = false;
        } else if option.eq_ignore_ascii_case(b"DESC") {
            options.desc = true;
        } else if option.eq_ignore_ascii_case(b"ALPHA") {
            options.alpha = true;
        } else if option.eq_ignore_ascii_case(b"LIMIT") && left >= 2 {
            let (Some(offset), Some(count)) = (
                parse_i64(request.arg(index + 1)),
                parse_i64(request.arg(index + 2)),
            ) else {
                ctx.reply.error(NOT_AN_INTEGER);
                return None;
            };
            (options.offset, options.count) = (offset, count);
            index += 2;
        } else if !readonly && option.eq_ignore_ascii_case(b"STORE") && left >= 1 {
            options.store = Some(request.arg(index + 1));
            index += 1;
        } else if option.eq_ignore_ascii_case(b"BY") && left >= 1 {
            let pattern = request.arg(index + 1);
            if !c_str(pattern).contains(&b'*') {
                options.dont_sort = true;
            }
            options.by = Some(Pattern::parse(pattern));
            index += 1;
        } else if option.eq_ignore_ascii_case(b"GET") && left >= 1 {
            options.gets.push(Pattern::parse(request.arg(index + 1)));
            index += 1;
        } else {
            ctx.reply.error(SYNTAX_ERROR);
            return None;
        }
        index += 1;
    }
    Some(options)
}

/// A BY or GET pattern, split as Valkey splits it: `#`, the first `*` and the first `->` after
/// it are looked for in the pattern read as a C string (up to a NUL byte), and the pieces
/// around them are taken whole.
#[derive(Clone, Copy)]
enum Pattern<'a> {
    /// `#`: the element itself.
    Element,
    /// No `*`: names no key, so it finds nothing.
    Constant,
    /// `prefix*suffix`, or `prefix*suffix->field` for a field of a hash.
    Key {
        prefix: &'a [u8],
        suffix: &'a [u8],
        field: Option<&'a [u8]>,
    },
}

impl<'a> Pattern<'a> {
    fn parse(pattern: &'a [u8]) -> Pattern<'a> {
        let text = c_str(pattern);
        if text == b"#" {
            return Pattern::Element;
        }
        let Some(star) = text.iter().position(|&byte| byte == b'*') else {
            return Pattern::Constant;
        };
        let arrow = text[star + 1..]
            .windows(2)
            .position(|pair| pair == b"->")
            .map(|offset| star + 1 + offset);
        let prefix = &pattern[..star];
        match arrow {
            // An arrow ending the C string names no field: it is part of the key.
            Some(arrow) if arrow + 2 < text.len() => Pattern::Key {
                prefix,
                suffix: &pattern[star + 1..arrow],
                field: Some(&pattern[arrow + 2..]),
            },
            _ => Pattern::Key {
                prefix,
                suffix: &pattern[star + 1..],
                field: None,
            },
        }
    }

    /// Writes the key the pattern names for `element` into `key`; false when it names none.
    fn key_for(&self, element: &[u8], key: &mut Vec<u8>) -> bool {
        let Pattern::Key { prefix, suffix, .. } = self else {
            return false;
        };
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(element);
        key.extend_from_slice(suffix);
        true
    }

    fn names_keys(&self) -> bool {
        matches!(self, Pattern::Key { .. })
    }
}

/// The value of `field` in the hash `value`; None when `value` is not a hash or has no such
/// field (an expired one included).
fn hash_field(value: &Value, field: &[u8], now_ms: u64) -> Option<CompactBytes> {
    let found = value.as_hash()?.get(field, now_ms)?;
    Some(CompactBytes::new(found.bytes(&mut [0; 20])))
}

/// What `pattern` finds for `element`: the element, the value of a string key, or a field of a
/// hash key. A key of another type finds nothing. Each key looked up counts as a keyspace hit
/// or miss, as in Valkey.
fn lookup(
    ctx: &mut Ctx<'_>,
    guards: &mut [(usize, SlotGuard<'_>)],
    pattern: &Pattern<'_>,
    element: &[u8],
    key: &mut Vec<u8>,
) -> Option<CompactBytes> {
    let field = match pattern {
        Pattern::Element => return Some(CompactBytes::new(element)),
        Pattern::Constant => return None,
        Pattern::Key { field, .. } => *field,
    };
    pattern.key_for(element, key);
    let now_ms = ctx.now_ms;
    let entry = ctx.read(find_guard(guards, key), key)?;
    match field {
        Some(field) => hash_field(&entry.value, field, now_ms),
        None => entry
            .value
            .as_str()
            .map(|text| CompactBytes::new(text.bytes(&mut [0; 20]))),
    }
}

/// The LIMIT window over `len` elements, clamped as Valkey clamps it: inclusive bounds, empty
/// when `end < start`.
#[derive(Clone, Copy)]
struct Window {
    start: i64,
    end: i64,
}

impl Window {
    fn new(offset: i64, count: i64, len: usize) -> Window {
        let len = len as i64;
        let mut start = offset.clamp(0, len);
        let count = count.clamp(-1, len);
        let mut end = if count < 0 {
            len - 1
        } else {
            start + count - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        end = end.min(len - 1);
        Window { start, end }
    }

    fn len(&self) -> usize {
        (self.end - self.start + 1).max(0) as usize
    }

    fn covers_all(&self, len: usize) -> bool {
        self.start == 0 && self.end == len as i64 - 1
    }
}

/// How the loaded elements are ordered.
#[derive(Clone, Copy)]
struct SortPlan<'a> {
    alpha: bool,
    /// A BY pattern with a `*`.
    by: Option<Pattern<'a>>,
}

/// The elements read from the source, and what to do with them.
struct Loaded<'a> {
    elements: Vec<CompactBytes>,
    window: Window,
    /// None: output in load order.
    plan: Option<SortPlan<'a>>,
}

/// An element as a source type yields it, copied out for the sort (only once it is known to be
/// needed: a BY nosort window skips the others).
trait SourceElement {
    fn to_compact(&self) -> CompactBytes;
}

impl SourceElement for PackItem<'_> {
    fn to_compact(&self) -> CompactBytes {
        CompactBytes::new(self.bytes(&mut [0; 20]))
    }
}

/// Reads the elements of the value at the sort key (None: no key, an empty list); Err for a type
/// SORT cannot sort. The value is taken mutably because sorting a small sorted set converts it
/// to its large encoding in Valkey (even for SORT_RO), which the sorted-set arm must do too.
fn load<'a>(value: Option<&mut Value>, options: &Options<'a>) -> Result<Loaded<'a>, ()> {
    match value {
        None => Ok(Loaded::sequence(std::iter::empty::<PackItem>(), 0, options)),
        Some(Value::List(list)) => Ok(Loaded::sequence(list.iter(), list.len(), options)),
        Some(Value::Set(set)) => Ok(Loaded::unordered(set.iter(), set.len(), options)),
        Some(Value::ZSet(zset)) => {
            zset.convert_to_skiplist();
            let members = zset.iter().map(|(member, _)| member);
            Ok(Loaded::sequence(members, zset.len(), options))
        }
        Some(_) => Err(()),
    }
}

impl<'a> Loaded<'a> {
    /// The plan when sorting: ALPHA or numbers, by the elements or by a BY pattern.
    fn sorting(options: &Options<'a>) -> Option<SortPlan<'a>> {
        Some(SortPlan {
            alpha: options.alpha,
            by: options.by,
        })
    }

    /// A source with a native order, front to back. Under BY nosort only the window is read,
    /// counted from the head, or from the tail for DESC (reversed), and becomes the whole output.
    fn sequence<E: SourceElement>(
        elements: impl Iterator<Item = E>,
        len: usize,
        options: &Options<'a>,
    ) -> Loaded<'a> {
        let window = Window::new(options.offset, options.count, len);
        if !options.dont_sort {
            return Loaded {
                elements: elements.map(|e| e.to_compact()).collect(),
                window,
                plan: Loaded::sorting(options),
            };
        }
        let take = window.len();
        let from_head = window.start.max(0) as usize;
        let skip = if options.desc {
            len - from_head - take
        } else {
            from_head
        };
        let mut elements: Vec<CompactBytes> = elements
            .skip(skip)
            .take(take)
            .map(|e| e.to_compact())
            .collect();
        if options.desc {
            elements.reverse();
        }
        Loaded {
            window: Window {
                start: 0,
                end: elements.len() as i64 - 1,
            },
            elements,
            plan: None,
        }
    }

    /// A source without a meaningful order (a set). BY nosort keeps its iteration order, except
    /// with STORE, where the result is sorted ALPHA by the elements.
    fn unordered<E: SourceElement>(
        elements: impl Iterator<Item = E>,
        len: usize,
        options: &Options<'a>,
    ) -> Loaded<'a> {
        let plan = match (options.dont_sort, options.store) {
            (false, _) => Loaded::sorting(options),
            (true, Some(_)) => Some(SortPlan {
                alpha: true,
                by: None,
            }),
            (true, None) => None,
        };
        Loaded {
            elements: elements.map(|e| e.to_compact()).collect(),
            window: Window::new(options.offset, options.count, len),
            plan,
        }
    }

    /// The slots of every key the patterns can name for these elements, ascending.
    fn pattern_slots(&self, options: &Options<'_>) -> Vec<usize> {
        let by = self.plan.and_then(|plan| plan.by);
        let patterns: Vec<&Pattern<'_>> = by
            .iter()
            .chain(options.gets.iter())
            .filter(|pattern| pattern.names_keys())
            .collect();
        if patterns.is_empty() {
            return Vec::new();
        }
        let mut used = vec![false; SLOT_COUNT];
        let mut key = Vec::new();
        for element in &self.elements {
            for pattern in &patterns {
                pattern.key_for(element, &mut key);
                used[key_slot(&key)] = true;
            }
        }
        (0..SLOT_COUNT).filter(|&slot| used[slot]).collect()
    }
}

/// The shared body of SORT and SORT_RO: options, then the source under the right locks (see
/// the module's header), then [`run`].
fn sort_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, readonly: bool) {
    let Some(options) = parse_options(ctx, request, readonly) else {
        return;
    };
    let key = request.arg(1);
    let db = ctx.db();
    let now_ms = ctx.now_ms;
    let mut pattern_slots = Vec::new();
    let mut attempt = 1;
    loop {
        let locked = slots_to_lock(key, options.store, &pattern_slots);
        let mut guards = lock_slots(db, &locked);
        let table = find_guard(&mut guards, key);
        // The source counts as one read, however many tries the locking takes.
        let entry: Option<&mut Entry> = if attempt == 1 {
            ctx.read(table, key)
        } else {
            table.get(key, now_ms)
        };
        let Ok(loaded) = load(entry.map(|entry| &mut entry.value), &options) else {
            return ctx.reply.error(WRONGTYPE);
        };
        let needed = loaded.pattern_slots(&options);
        if needed.iter().all(|slot| locked.binary_search(slot).is_ok()) {
            return run(ctx, &mut guards, loaded, &options);
        }
        attempt += 1;
        pattern_slots = if attempt >= LOCK_ATTEMPTS {
            (0..SLOT_COUNT).collect()
        } else {
            needed
        };
    }
}

/// The slots of the source, the destination and the pattern keys, ascending, each once.
fn slots_to_lock(key: &[u8], store: Option<&[u8]>, pattern_slots: &[usize]) -> Vec<usize> {
    let mut slots = pattern_slots.to_vec();
    slots.push(key_slot(key));
    slots.extend(store.map(key_slot));
    slots.sort_unstable();
    slots.dedup();
    slots
}

/// Locks `slots` (ascending, distinct) in order, in the shape [`find_guard`] reads.
fn lock_slots<'d>(db: &'d Db, slots: &[usize]) -> Vec<(usize, SlotGuard<'d>)> {
    slots.iter().map(|&slot| (slot, db.lock(slot))).collect()
}

/// Sorts (when the plan says so) and answers, under the locks of every key involved.
fn run(
    ctx: &mut Ctx<'_>,
    guards: &mut [(usize, SlotGuard<'_>)],
    loaded: Loaded<'_>,
    options: &Options<'_>,
) {
    let Loaded {
        elements,
        window,
        plan,
    } = loaded;
    let elements = match plan {
        None => elements,
        Some(plan) => match sort_elements(ctx, guards, elements, window, plan, options) {
            Some(sorted) => sorted,
            None => return ctx.reply.error(NOT_A_DOUBLE),
        },
    };
    let range = match window.len() {
        0 => &[][..],
        len => &elements[window.start as usize..][..len],
    };
    match options.store {
        None => reply_elements(ctx, guards, range, &options.gets),
        Some(destination) => store_elements(ctx, guards, range, &options.gets, destination),
    }
}

/// One element with what it is compared by.
struct Item {
    element: CompactBytes,
    score: f64,
    /// ALPHA with BY: the BY value, None when the key is missing.
    text: Option<CompactBytes>,
}

/// How two items compare, before DESC.
#[derive(Clone, Copy)]
enum Order {
    /// By score, then by the elements' bytes.
    Numeric,
    /// By the elements' text.
    Alpha { whole: bool },
    /// By the BY values' text; a missing value comes first.
    AlphaBy { whole: bool },
}

/// ALPHA's text comparison: whole byte strings, or C strings (up to the first NUL).
fn compare_text(a: &[u8], b: &[u8], whole: bool) -> Ordering {
    if whole {
        a.cmp(b)
    } else {
        c_str(a).cmp(c_str(b))
    }
}

fn compare(a: &Item, b: &Item, order: Order) -> Ordering {
    match order {
        Order::Numeric => a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.element.as_bytes().cmp(b.element.as_bytes())),
        Order::Alpha { whole } => compare_text(&a.element, &b.element, whole),
        Order::AlphaBy { whole } => match (&a.text, &b.text) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => compare_text(a, b, whole),
        },
    }
}

/// Weighs the elements (BY lookups, numbers) and sorts them; None when a number could not be
/// read, after every lookup was made.
fn sort_elements(
    ctx: &mut Ctx<'_>,
    guards: &mut [(usize, SlotGuard<'_>)],
    elements: Vec<CompactBytes>,
    window: Window,
    plan: SortPlan<'_>,
    options: &Options<'_>,
) -> Option<Vec<CompactBytes>> {
    let mut key = Vec::new();
    let mut readable = true;
    let mut items = Vec::with_capacity(elements.len());
    for element in elements {
        let mut item = Item {
            element,
            score: 0.0,
            text: None,
        };
        let by_value = match &plan.by {
            Some(pattern) => match lookup(ctx, guards, pattern, &item.element, &mut key) {
                Some(value) => Some(value),
                // A missing BY key weighs 0, or sorts first with ALPHA.
                None => {
                    items.push(item);
                    continue;
                }
            },
            None => None,
        };
        if plan.alpha {
            item.text = by_value;
        } else {
            let text = by_value.as_ref().unwrap_or(&item.element);
            match parse_score(text) {
                Some(score) => item.score = score,
                None => readable = false,
            }
        }
        items.push(item);
    }
    if !readable {
        return None;
    }
    let whole = options.store.is_some();
    let order = match (plan.alpha, plan.by.is_some()) {
        (false, _) => Order::Numeric,
        (true, false) => Order::Alpha { whole },
        (true, true) => Order::AlphaBy { whole },
    };
    let desc = options.desc;
    let ordering = |a: &Item, b: &Item| {
        let ordering = compare(a, b, order);
        if desc {
            ordering.reverse()
        } else {
            ordering
        }
    };
    // An empty window shows nothing, whatever the order.
    if window.len() > 0 {
        if plan.by.is_some() && !window.covers_all(items.len()) {
            let (first, last) = (window.start as usize, window.end as usize);
            partial_quicksort(&mut items, first, last, &ordering);
        } else {
            items.sort_by(ordering);
        }
    }
    Some(items.into_iter().map(|item| item.element).collect())
}

/// A sort weight as Valkey's float parser reads it: the text up to its first NUL byte must be a
/// whole decimal number (optional sign, digits with an optional point, optional exponent) or
/// `inf`/`infinity` in any case; NaN, and finite text out of a double's range (rounding to an
/// infinity, or a non-zero number rounding to zero), are refused.
fn parse_score(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(c_str(text)).ok()?;
    let value: f64 = text.parse().ok()?;
    if value.is_nan() {
        return None;
    }
    let unsigned = text.trim_start_matches(['+', '-']);
    if value.is_infinite() && !unsigned.starts_with(['i', 'I']) {
        return None;
    }
    if value == 0.0 {
        let mantissa = unsigned.split(['e', 'E']).next().unwrap_or_default();
        if mantissa.bytes().any(|byte| matches!(byte, b'1'..=b'9')) {
            return None;
        }
    }
    Some(value)
}

/// Orders `items` so that positions `first..=last` hold what a full sort puts there, the rest on
/// the correct side of them. This is Valkey's partial quicksort (Bentley and McIlroy's
/// quicksort, which skips the parts outside the window), step for step, since SORT with BY and
/// LIMIT shows which of several equal items it puts where.
fn partial_quicksort<T>(
    items: &mut [T],
    first: usize,
    last: usize,
    compare: &impl Fn(&T, &T) -> Ordering,
) {
    let len = items.len();
    quicksort_part(items, 0, len, first, last, compare);
}

/// Whether the part `low..=high` holds some of the window (Valkey's test, which compares each
/// end of the window with each end of the part).
fn window_touches(low: usize, high: usize, first: usize, last: usize) -> bool {
    !((first < low && last < low) || (first > high && last > high))
}

/// The median of three positions, with Valkey's sequence of comparisons.
fn median_of_three<T>(
    items: &[T],
    a: usize,
    b: usize,
    c: usize,
    compare: &impl Fn(&T, &T) -> Ordering,
) -> usize {
    let less = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Less;
    let greater = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Greater;
    if less(a, b) {
        if less(b, c) {
            b
        } else if less(a, c) {
            c
        } else {
            a
        }
    } else if greater(b, c) {
        b
    } else if less(a, c) {
        a
    } else {
        c
    }
}

/// Exchanges the `count` items from `a` with the `count` items from `b`.
fn swap_runs<T>(items: &mut [T], a: usize, b: usize, count: usize) {
    for offset in 0..count {
        items.swap(a + offset, b + offset);
    }
}

/// Sorts the part of `n` items from `base` as far as the window `first..=last` needs.
fn quicksort_part<T>(
    items: &mut [T],
    mut base: usize,
    mut n: usize,
    first: usize,
    last: usize,
    compare: &impl Fn(&T, &T) -> Ordering,
) {
    loop {
        if n < 7 {
            for sorted_end in base + 1..base + n {
                let mut at = sorted_end;
                while at > base && compare(&items[at - 1], &items[at]) == Ordering::Greater {
                    items.swap(at, at - 1);
                    at -= 1;
                }
            }
            return;
        }
        let mut pivot = base + n / 2;
        if n > 7 {
            let mut low = base;
            let mut high = base + n - 1;
            if n > 40 {
                let step = n / 8;
                low = median_of_three(items, low, low + step, low + 2 * step, compare);
                pivot = median_of_three(items, pivot - step, pivot, pivot + step, compare);
                high = median_of_three(items, high - 2 * step, high - step, high, compare);
            }
            pivot = median_of_three(items, low, pivot, high, compare);
        }
        items.swap(base, pivot);
        // Items equal to the pivot gather at both ends ([base, a) and (d, end)), smaller ones
        // after the left run, larger ones before the right run.
        let (mut a, mut b) = (base + 1, base + 1);
        let (mut c, mut d) = (base + n - 1, base + n - 1);
        loop {
            while b <= c {
                let ordering = compare(&items[b], &items[base]);
                if ordering == Ordering::Greater {
                    break;
                }
                if ordering == Ordering::Equal {
                    items.swap(a, b);
                    a += 1;
                }
                b += 1;
            }
            while b <= c {
                let ordering = compare(&items[c], &items[base]);
                if ordering == Ordering::Less {
                    break;
                }
                if ordering == Ordering::Equal {
                    items.swap(c, d);
                    d -= 1;
                }
                c -= 1;
            }
            if b > c {
                break;
            }
            items.swap(b, c);
            b += 1;
            c -= 1;
        }
        let end = base + n;
        let run = (a - base).min(b - a);
        swap_runs(items, base, b - run, run);
        let run = (d - c).min(end - d - 1);
        swap_runs(items, b, end - run, run);
        let smaller = b - a;
        if smaller > 1 && window_touches(base, base + smaller - 1, first, last) {
            quicksort_part(items, base, smaller, first, last, compare);
        }
        let larger = d - c;
        if larger <= 1 {
            return;
        }
        base = end - larger;
        n = larger;
        if !window_touches(base, base + n - 1, first, last) {
            return;
        }
    }
}

/// Replies the window: each element, or for each element what every GET pattern finds.
fn reply_elements(
    ctx: &mut Ctx<'_>,
    guards: &mut [(usize, SlotGuard<'_>)],
    elements: &[CompactBytes],
    gets: &[Pattern<'_>],
) {
    let mut key = Vec::new();
    ctx.reply.array(elements.len() * gets.len().max(1));
    for element in elements {
        if gets.is_empty() {
            ctx.reply.bulk(element);
        }
        for pattern in gets {
            match lookup(ctx, guards, pattern, element, &mut key) {
                Some(value) => ctx.reply.bulk(&value),
                None => ctx.reply.null(),
            }
        }
    }
}

/// Stores the window as a list at `destination` (what GET finds, an empty string for nothing),
/// replacing any value and its expiry; an empty result deletes `destination`. Replies the
/// length.
fn store_elements(
    ctx: &mut Ctx<'_>,
    guards: &mut [(usize, SlotGuard<'_>)],
    elements: &[CompactBytes],
    gets: &[Pattern<'_>],
    destination: &[u8],
) {
    let mut key = Vec::new();
    let mut values = Vec::with_capacity(elements.len() * gets.len().max(1));
    for element in elements {
        if gets.is_empty() {
            values.push(element.clone());
        }
        for pattern in gets {
            let value = lookup(ctx, guards, pattern, element, &mut key);
            values.push(value.unwrap_or_else(|| CompactBytes::new(b"")));
        }
    }
    let now_ms = ctx.now_ms;
    let table = find_guard(guards, destination);
    if values.is_empty() {
        if crate::lazyfree::server_del(ctx.server, table.remove(destination)) {
            ctx.key_event(class::GENERIC, "del", destination);
        }
    } else {
        let values: Vec<&[u8]> = values.iter().map(|value| value.as_bytes()).collect();
        let list = ListValue::built_as_quicklist(&values);
        table.insert(
            destination,
            OwnedEntry::new(Value::List(list), now_ms),
            ExpireUpdate::Clear,
        );
        ctx.key_event(class::LIST, "sortstore", destination);
    }
    ctx.reply.int(values.len() as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_float_parser() {
        for (text, expected) in [
            ("1", Some(1.0)),
            ("-0", Some(0.0)),
            ("+3", Some(3.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e5", Some(1e5)),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("0e99999", Some(0.0)),
            ("4.9e-324", Some(5e-324)),
            ("3\0x", Some(3.0)),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("0x10", None),
            ("nan", None),
            ("1e400", None),
            ("-1e309", None),
            ("1e-400", None),
            ("2.4e-324", None),
            ("1e", None),
            ("+-1", None),
        ] {
            assert_eq!(parse_score(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn patterns_split_like_c_strings() {
        let key = |pattern: &[u8], element: &[u8]| {
            let mut key = Vec::new();
            Pattern::parse(pattern)
                .key_for(element, &mut key)
                .then_some(key)
        };
        assert!(matches!(Pattern::parse(b"#"), Pattern::Element));
        assert!(matches!(Pattern::parse(b"#\0x*"), Pattern::Element));
        assert!(matches!(Pattern::parse(b"nosort"), Pattern::Constant));
        assert!(matches!(Pattern::parse(b"a\0*"), Pattern::Constant));
        assert_eq!(key(b"w_*", b"3"), Some(b"w_3".to_vec()));
        assert_eq!(key(b"w_*_x\0y", b"3"), Some(b"w_3_x\0y".to_vec()));
        assert_eq!(key(b"h_*->f", b"3"), Some(b"h_3".to_vec()));
        assert_eq!(key(b"h_*->", b"3"), Some(b"h_3->".to_vec()));
        assert_eq!(key(b"a->b*", b"3"), Some(b"a->b3".to_vec()));
        match Pattern::parse(b"h_*x->->f\0g") {
            Pattern::Key { suffix, field, .. } => {
                assert_eq!(suffix, b"x");
                assert_eq!(field, Some(&b"->f\0g"[..]));
            }
            _ => panic!("a key pattern"),
        }
    }

    #[test]
    fn windows_clamp_like_valkey() {
        let window = |offset, count, len| {
            let w = Window::new(offset, count, len);
            (w.start, w.end, w.len())
        };
        assert_eq!(window(0, -1, 5), (0, 4, 5));
        assert_eq!(window(1, 2, 5), (1, 2, 2));
        assert_eq!(window(-3, 2, 5), (0, 1, 2));
        assert_eq!(window(3, 100, 5), (3, 4, 2));
        assert_eq!(window(5, 1, 5), (4, 3, 0));
        assert_eq!(window(2, 0, 5), (2, 1, 0));
        assert_eq!(window(0, -7, 5), (0, 4, 5));
        assert_eq!(window(i64::MAX, i64::MAX, 5), (4, 3, 0));
        assert_eq!(window(0, -1, 0), (-1, -2, 0));
    }

    #[test]
    fn partial_quicksort_orders_the_window() {
        let mut seed: u64 = 7;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for round in 0..300 {
            let len = (next() % 120) as usize + 1;
            let items: Vec<u32> = (0..len).map(|_| next() % (1 + round % 50)).collect();
            let mut sorted = items.clone();
            sorted.sort();
            let first = (next() as usize) % len;
            let last = (first + (next() as usize) % len).min(len - 1);
            let mut partial = items.clone();
            partial_quicksort(&mut partial, first, last, &|a: &u32, b: &u32| a.cmp(b));
            assert_eq!(partial[first..=last], sorted[first..=last], "round {round}");
            let mut whole = partial.clone();
            whole.sort();
            assert_eq!(whole, sorted);
        }
    }
}
