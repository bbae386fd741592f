//! Sorted sets: members with scores, in ascending (score, member) order, in Valkey's two
//! encodings.
//!
//! - `Listpack` while small (at most `zset-max-listpack-entries` members, none longer than
//!   `zset-max-listpack-value` bytes): one [`Pack`] of member, score, member, score... kept
//!   sorted. A score is stored as an integer when it is integral and within ±2^62, else as the
//!   text Valkey prints for it (so -0 is stored as 0, as Valkey's listpack does). Lookups and
//!   range searches scan the pack, which is short.
//! - `Skiplist` when larger: an [`Ordered`] (hash index + counted B+ tree), O(1) by member
//!   and O(log N) by rank, score or member bytes.
//!
//! Conversions happen where Valkey makes them: a new sorted set is created in the encoding its
//! first write's size hint asks for (ZADD passes its pair count and longest member), an existing
//! listpack converts when a write's hint exceeds the thresholds or an insertion would, and a
//! large set never shrinks back on removals. The results of ZUNIONSTORE, ZINTERSTORE and
//! ZDIFFSTORE are built whole by [`ZSetValue::from_sorted`] (a listpack when small), those of
//! ZRANGESTORE entry by entry by [`ZSetValue::from_insertions`], as Valkey builds each.
//!
//! Range queries reproduce what Valkey does per encoding, including on inputs it does not
//! define well: in the listpack form the first member of a range is found by a front-to-back
//! scan (which matters for lex ranges over members with different scores), and a negative
//! `LIMIT` offset walks off the end; in the skiplist form a negative offset counts back from
//! the end of the range, as Valkey's skiplist positioning does.

mod digits;
mod ordered;
mod score;

use rand::Rng;

use crate::limits;
use crate::pack::{Pack, PackItem, PackIter};

pub use ordered::Ordered;
use score::score_as_integer;
pub use score::{format_score, parse_score, LexBound, LexRange, ScoreRange, SCORE_TEXT_MAX};

/// A member (as stored: integer text comes back as an integer) and its score.
pub type Scored<'a> = (PackItem<'a>, f64);

/// A sorted set in one of its two encodings (see the module header).
#[derive(Clone, Debug)]
pub enum ZSetValue {
    Listpack(Pack),
    Skiplist(Box<Ordered>),
}

/// ZADD's options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What [`ZSetValue::add`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    /// Nothing: NX on a present member, XX on a missing one, or GT/LT refused the score.
    Skipped,
    Added(f64),
    Updated(f64),
    /// Present with that score already.
    Unchanged(f64),
    /// The score, or the sum of an increment, is not a number.
    NotANumber,
}

/// A range of members, by score or by bytes, as the range searches see it.
trait Bounds {
    fn is_empty(&self) -> bool;
    fn above_min(&self, member: &[u8], score: f64) -> bool;
    fn below_max(&self, member: &[u8], score: f64) -> bool;
}

impl Bounds for ScoreRange {
    fn is_empty(&self) -> bool {
        ScoreRange::is_empty(self)
    }
    fn above_min(&self, _: &[u8], score: f64) -> bool {
        ScoreRange::above_min(self, score)
    }
    fn below_max(&self, _: &[u8], score: f64) -> bool {
        ScoreRange::below_max(self, score)
    }
}

impl Bounds for LexRange<'_> {
    fn is_empty(&self) -> bool {
        LexRange::is_empty(self)
    }
    fn above_min(&self, member: &[u8], _: f64) -> bool {
        LexRange::above_min(self, member)
    }
    fn below_max(&self, member: &[u8], _: f64) -> bool {
        LexRange::below_max(self, member)
    }
}

/// A score as the listpack form stores it: integer text when it prints as an integer.
fn stored_score_text(score: f64, buffer: &mut [u8; SCORE_TEXT_MAX]) -> &[u8] {
    match score_as_integer(score) {
        Some(integer) => {
            let mut digits = [0u8; 20];
            let text = crate::num::format_i64(integer, &mut digits);
            buffer[..text.len()].copy_from_slice(text);
            &buffer[..text.len()]
        }
        None => format_score(score, buffer),
    }
}

fn item_score(item: PackItem<'_>) -> f64 {
    match item {
        PackItem::Int(number) => number as f64,
        PackItem::Bytes(text) => score::parse_stored_score(text),
    }
}

/// Orders a stored member against `member`, as bytes.
fn compare_item(item: PackItem<'_>, member: &[u8]) -> std::cmp::Ordering {
    item.bytes(&mut [0; 20]).cmp(member)
}

/// Whether the range test `test` holds for a listpack entry.
fn test_entry(entry: Scored<'_>, test: impl Fn(&[u8], f64) -> bool) -> bool {
    test(entry.0.bytes(&mut [0; 20]), entry.1)
}

/// The members and scores of a listpack, in order.
pub struct PackEntries<'a> {
    items: PackIter<'a>,
}

impl<'a> Iterator for PackEntries<'a> {
    type Item = Scored<'a>;

    fn next(&mut self) -> Option<Scored<'a>> {
        let member = self.items.next()?;
        let score = self.items.next().expect("a score follows each member");
        Some((member, item_score(score)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pairs = self.items.len() / 2;
        (pairs, Some(pairs))
    }
}

/// Every member and score of a sorted set, ascending.
pub enum Entries<'a> {
    Listpack(PackEntries<'a>),
    Skiplist(ordered::Iter<'a>),
}

impl<'a> Iterator for Entries<'a> {
    type Item = Scored<'a>;

    fn next(&mut self) -> Option<Scored<'a>> {
        match self {
            Entries::Listpack(entries) => entries.next(),
            Entries::Skiplist(iter) => iter.next().map(|(m, s)| (PackItem::Bytes(m), s)),
        }
    }
}

impl PartialEq for ZSetValue {
    /// Equal when the encodings and the entries are.
    fn eq(&self, other: &Self) -> bool {
        self.encoding_name() == other.encoding_name()
            && self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.1 == b.1 && a.0.eq_bytes(b.0.bytes(&mut [0; 20])))
    }
}

impl ZSetValue {
    /// An empty sorted set in the encoding Valkey creates for a first write of `size_hint`
    /// members whose longest is `value_len_hint` bytes.
    pub fn for_size(size_hint: usize, value_len_hint: usize) -> ZSetValue {
        if Self::fits_listpack(size_hint, value_len_hint) {
            ZSetValue::Listpack(Pack::new())
        } else {
            ZSetValue::Skiplist(Box::new(Ordered::with_capacity(size_hint)))
        }
    }

    fn fits_listpack(len: usize, longest: usize) -> bool {
        len <= limits::zset_max_listpack_entries() && longest <= limits::zset_max_listpack_value()
    }

    /// Converts a listpack to a skiplist when a write of `size_hint` members whose longest is
    /// `value_len_hint` bytes would not fit one (Valkey checks this before ZADD's insertions).
    pub fn prepare_growth(&mut self, size_hint: usize, value_len_hint: usize) {
        if matches!(self, ZSetValue::Listpack(_)) && !Self::fits_listpack(size_hint, value_len_hint)
        {
            self.convert_to_skiplist();
        }
    }

    /// A sorted set holding `entries`, which are in ascending (score, member) order: a listpack
    /// when they fit one, else a skiplist (the STORE commands' results).
    pub fn from_sorted(entries: &[(&[u8], f64)]) -> ZSetValue {
        let longest = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if !Self::fits_listpack(entries.len(), longest) {
            return ZSetValue::Skiplist(Box::new(Ordered::from_sorted(entries.iter().copied())));
        }
        let mut texts: Vec<([u8; SCORE_TEXT_MAX], usize)> = Vec::with_capacity(entries.len());
        for (_, score) in entries {
            let mut buffer = [0u8; SCORE_TEXT_MAX];
            let len = stored_score_text(*score, &mut buffer).len();
            texts.push((buffer, len));
        }
        let items = entries
            .iter()
            .zip(texts.iter())
            .flat_map(|((member, _), (text, len))| [*member, &text[..*len]]);
        ZSetValue::Listpack(Pack::from_items(items))
    }

    /// A sorted set built the way ZRANGESTORE builds its result: created for `size_hint`
    /// members and filled one entry at a time, so the entries that pass through a listpack
    /// before it converts are stored as a listpack stores them (-0 as 0), as in Valkey.
    pub fn from_insertions(entries: &[(&[u8], f64)], size_hint: usize) -> ZSetValue {
        let mut zset = ZSetValue::for_size(size_hint, 0);
        for (member, score) in entries {
            zset.add(member, *score, AddFlags::default());
        }
        zset
    }

    /// Converts a listpack to a skiplist (also what sorting one with SORT does in Valkey).
    pub fn convert_to_skiplist(&mut self) {
        let ZSetValue::Listpack(pack) = self else {
            return;
        };
        let entries: Vec<(Vec<u8>, f64)> = PackEntries { items: pack.iter() }
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        let ordered = Ordered::from_sorted(entries.iter().map(|(m, s)| (m.as_slice(), *s)));
        *self = ZSetValue::Skiplist(Box::new(ordered));
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            ZSetValue::Listpack(_) => "listpack",
            ZSetValue::Skiplist(_) => "skiplist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Listpack(pack) => pack.len() / 2,
            ZSetValue::Skiplist(ordered) => ordered.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One ZSCAN step: visits entries and returns the next cursor (0 when done). A listpack is
    /// visited whole, in order; a skiplist page by page (see [`Ordered::scan`]).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(Scored<'a>)) -> u64 {
        match self {
            ZSetValue::Listpack(_) => {
                self.iter().for_each(visit);
                0
            }
            ZSetValue::Skiplist(ordered) => ordered.scan(cursor, count, |member, score| {
                visit((PackItem::Bytes(member), score))
            }),
        }
    }

    /// Every member and score, ascending.
    pub fn iter(&self) -> Entries<'_> {
        match self {
            ZSetValue::Listpack(pack) => Entries::Listpack(PackEntries { items: pack.iter() }),
            ZSetValue::Skiplist(ordered) => Entries::Skiplist(ordered.iter_from(0, false)),
        }
    }

    /// The listpack's entries as a vector (small by construction).
    fn pack_entries(pack: &Pack) -> Vec<Scored<'_>> {
        PackEntries { items: pack.iter() }.collect()
    }

    /// The index of `member`'s pair in a listpack, and its score.
    fn pack_find(pack: &Pack, member: &[u8]) -> Option<(usize, f64)> {
        let index = pack.position_step(member, 0, 2)?;
        let score = pack.get(index + 1).expect("a score follows each member");
        Some((index / 2, item_score(score)))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Listpack(pack) => Self::pack_find(pack, member).map(|(_, s)| s),
            ZSetValue::Skiplist(ordered) => ordered.score(member),
        }
    }

    /// The 0-based ascending rank of `member`, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Listpack(pack) => Self::pack_find(pack, member),
            ZSetValue::Skiplist(ordered) => ordered.rank(member),
        }
    }

    /// Adds or updates `member` by ZADD's rules (see [`AddFlags`]); may convert a listpack.
    pub fn add(&mut self, member: &[u8], score: f64, flags: AddFlags) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::NotANumber;
        }
        let Some(current) = self.score(member) else {
            if flags.xx {
                return AddOutcome::Skipped;
            }
            self.insert_new(member, score);
            return AddOutcome::Added(score);
        };
        if flags.nx {
            return AddOutcome::Skipped;
        }
        let mut score = score;
        if flags.incr {
            score += current;
            if score.is_nan() {
                return AddOutcome::NotANumber;
            }
        }
        if (flags.lt && score >= current) || (flags.gt && score <= current) {
            return AddOutcome::Skipped;
        }
        if score == current {
            return AddOutcome::Unchanged(score);
        }
        self.update_score(member, score);
        AddOutcome::Updated(score)
    }

    /// Inserts a member that is not in the set, converting a full listpack first.
    fn insert_new(&mut self, member: &[u8], score: f64) {
        if let ZSetValue::Listpack(pack) = self {
            let len = pack.len() / 2;
            if !Self::fits_listpack(len + 1, member.len()) {
                self.convert_to_skiplist();
            }
        }
        match self {
            ZSetValue::Listpack(pack) => Self::pack_insert(pack, member, score),
            ZSetValue::Skiplist(ordered) => ordered.insert(member, score),
        }
    }

    /// The pair index where (`score`, `member`) goes in a sorted listpack.
    fn pack_position(pack: &Pack, member: &[u8], score: f64) -> usize {
        PackEntries { items: pack.iter() }
            .position(|(item, s)| s > score || (s == score && compare_item(item, member).is_gt()))
            .unwrap_or(pack.len() / 2)
    }

    fn pack_insert(pack: &mut Pack, member: &[u8], score: f64) {
        let position = Self::pack_position(pack, member, score);
        let mut buffer = [0u8; SCORE_TEXT_MAX];
        pack.insert(2 * position, member);
        pack.insert(2 * position + 1, stored_score_text(score, &mut buffer));
    }

    /// Moves a present member to a new score.
    fn update_score(&mut self, member: &[u8], score: f64) {
        match self {
            ZSetValue::Listpack(pack) => {
                let (index, _) = Self::pack_find(pack, member).expect("member is present");
                pack.remove_range(2 * index, 2);
                if Self::pack_position(pack, member, score) == index {
                    let mut buffer = [0u8; SCORE_TEXT_MAX];
                    pack.insert(2 * index, member);
                    pack.insert(2 * index + 1, stored_score_text(score, &mut buffer));
                } else {
                    Self::pack_insert(pack, member, score);
                }
            }
            ZSetValue::Skiplist(ordered) => ordered.set_score(member, score),
        }
    }

    /// Removes `member`; returns whether it was there. Never converts.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSetValue::Listpack(pack) => match Self::pack_find(pack, member) {
                Some((index, _)) => {
                    pack.remove_range(2 * index, 2);
                    true
                }
                None => false,
            },
            ZSetValue::Skiplist(ordered) => ordered.remove(member).is_some(),
        }
    }

    /// The entries at ascending ranks `start..=end` (`start <= end < len`), in that order, or
    /// from the top when `reverse` (ranks then count from the highest member).
    pub fn by_rank(&self, start: usize, end: usize, reverse: bool) -> Vec<Scored<'_>> {
        let len = self.len();
        debug_assert!(start <= end && end < len);
        let count = end - start + 1;
        match self {
            ZSetValue::Listpack(pack) => {
                let entries = Self::pack_entries(pack);
                if reverse {
                    entries[len - 1 - end..len - start]
                        .iter()
                        .rev()
                        .copied()
                        .collect()
                } else {
                    entries[start..=end].to_vec()
                }
            }
            ZSetValue::Skiplist(ordered) => {
                let first = if reverse { len - 1 - start } else { start };
                ordered
                    .iter_from(first, reverse)
                    .take(count)
                    .map(|(m, s)| (PackItem::Bytes(m), s))
                    .collect()
            }
        }
    }

    /// The entries in a score range, skipping `offset` and returning at most `limit` (negative:
    /// all), ascending, or descending from the top of the range when `reverse`.
    pub fn by_score(
        &self,
        range: &ScoreRange,
        offset: i64,
        limit: i64,
        reverse: bool,
    ) -> Vec<Scored<'_>> {
        self.in_range(range, offset, limit, reverse)
    }

    /// The entries in a lex range, like [`ZSetValue::by_score`].
    pub fn by_lex(
        &self,
        range: &LexRange<'_>,
        offset: i64,
        limit: i64,
        reverse: bool,
    ) -> Vec<Scored<'_>> {
        self.in_range(range, offset, limit, reverse)
    }

    fn in_range(
        &self,
        range: &impl Bounds,
        offset: i64,
        limit: i64,
        reverse: bool,
    ) -> Vec<Scored<'_>> {
        let len = self.len();
        let mut found = Vec::new();
        let mut limit = limit;
        let in_range = |entry: Scored<'_>| {
            if reverse {
                test_entry(entry, |m, s| range.above_min(m, s))
            } else {
                test_entry(entry, |m, s| range.below_max(m, s))
            }
        };
        match self {
            ZSetValue::Listpack(pack) => {
                // A negative offset walks off the end of the listpack.
                if offset < 0 || offset as u64 >= len as u64 {
                    return found;
                }
                let entries = Self::pack_entries(pack);
                let first = if reverse {
                    Self::pack_last_in(&entries, range)
                } else {
                    Self::pack_first_in(&entries, range)
                };
                let Some(first) = first else {
                    return found;
                };
                let mut index = first as i64 + if reverse { -offset } else { offset };
                while limit != 0 && (0..len as i64).contains(&index) {
                    let entry = entries[index as usize];
                    if !in_range(entry) {
                        break;
                    }
                    found.push(entry);
                    limit -= 1;
                    index += if reverse { -1 } else { 1 };
                }
            }
            ZSetValue::Skiplist(ordered) => {
                if offset > 0 && offset as u64 >= len as u64 {
                    return found;
                }
                let nth = if reverse {
                    -i128::from(offset) - 1
                } else {
                    i128::from(offset)
                };
                let Some(first) = Self::nth_in(ordered, range, nth) else {
                    return found;
                };
                for (member, score) in ordered.iter_from(first, reverse) {
                    let entry = (PackItem::Bytes(member), score);
                    if limit == 0 || !in_range(entry) {
                        break;
                    }
                    found.push(entry);
                    limit -= 1;
                }
            }
        }
        found
    }

    /// Whether a listpack's entries could meet the range at all (its ends against the bounds).
    fn pack_meets(entries: &[Scored<'_>], range: &impl Bounds) -> bool {
        let (Some(&first), Some(&last)) = (entries.first(), entries.last()) else {
            return false;
        };
        !range.is_empty()
            && test_entry(last, |m, s| range.above_min(m, s))
            && test_entry(first, |m, s| range.below_max(m, s))
    }

    /// The first entry at or above the minimum, scanning from the front, if it is also within
    /// the maximum.
    fn pack_first_in(entries: &[Scored<'_>], range: &impl Bounds) -> Option<usize> {
        if !Self::pack_meets(entries, range) {
            return None;
        }
        let index = entries
            .iter()
            .position(|&e| test_entry(e, |m, s| range.above_min(m, s)))?;
        test_entry(entries[index], |m, s| range.below_max(m, s)).then_some(index)
    }

    /// The last entry at or below the maximum, scanning from the back, if it is also within the
    /// minimum.
    fn pack_last_in(entries: &[Scored<'_>], range: &impl Bounds) -> Option<usize> {
        if !Self::pack_meets(entries, range) {
            return None;
        }
        let index = entries
            .iter()
            .rposition(|&e| test_entry(e, |m, s| range.below_max(m, s)))?;
        test_entry(entries[index], |m, s| range.above_min(m, s)).then_some(index)
    }

    /// The rank of the `nth` member of the range in a skiplist: counted from the bottom of the
    /// range when `nth >= 0`, from its top when negative (-1 is the highest), if that member is
    /// in the range.
    fn nth_in(ordered: &Ordered, range: &impl Bounds, nth: i128) -> Option<usize> {
        let len = ordered.len();
        if len == 0 || range.is_empty() {
            return None;
        }
        let (low, low_score) = ordered.get(0);
        let (high, high_score) = ordered.get(len - 1);
        if !range.above_min(high, high_score) || !range.below_max(low, low_score) {
            return None;
        }
        let rank = if nth >= 0 {
            let below = ordered.count_prefix(|m, s| !range.above_min(m, s)) as i128;
            let rank = below + nth;
            if rank >= len as i128 {
                return None;
            }
            let (member, score) = ordered.get(rank as usize);
            if !range.below_max(member, score) {
                return None;
            }
            rank
        } else {
            let through = ordered.count_prefix(|m, s| range.below_max(m, s)) as i128;
            if through < -nth {
                return None;
            }
            let rank = through + nth;
            let (member, score) = ordered.get(rank as usize);
            if !range.above_min(member, score) {
                return None;
            }
            rank
        };
        Some(rank as usize)
    }

    /// How many members a score range holds (ZCOUNT).
    pub fn count_by_score(&self, range: &ScoreRange) -> usize {
        self.count_in(range)
    }

    /// How many members a lex range holds (ZLEXCOUNT).
    pub fn count_by_lex(&self, range: &LexRange<'_>) -> usize {
        self.count_in(range)
    }

    fn count_in(&self, range: &impl Bounds) -> usize {
        match self {
            ZSetValue::Listpack(pack) => {
                let entries = Self::pack_entries(pack);
                let Some(first) = Self::pack_first_in(&entries, range) else {
                    return 0;
                };
                entries[first..]
                    .iter()
                    .take_while(|&&e| test_entry(e, |m, s| range.below_max(m, s)))
                    .count()
            }
            ZSetValue::Skiplist(ordered) => {
                match (
                    Self::nth_in(ordered, range, 0),
                    Self::nth_in(ordered, range, -1),
                ) {
                    (Some(first), Some(last)) if last >= first => last - first + 1,
                    _ => 0,
                }
            }
        }
    }

    /// Removes the members at ascending ranks `start..=end` (`start <= end < len`).
    pub fn remove_by_rank(&mut self, start: usize, end: usize) -> usize {
        let count = end - start + 1;
        match self {
            ZSetValue::Listpack(pack) => pack.remove_range(2 * start, 2 * count),
            ZSetValue::Skiplist(ordered) => ordered.remove_ranks(start, count, false, |_, _| {}),
        }
        count
    }

    /// Removes the members in a score range; returns how many.
    pub fn remove_by_score(&mut self, range: &ScoreRange) -> usize {
        self.remove_in(range)
    }

    /// Removes the members in a lex range; returns how many.
    pub fn remove_by_lex(&mut self, range: &LexRange<'_>) -> usize {
        self.remove_in(range)
    }

    fn remove_in(&mut self, range: &impl Bounds) -> usize {
        let (start, count) = match self {
            ZSetValue::Listpack(pack) => {
                let entries = Self::pack_entries(pack);
                let Some(first) = Self::pack_first_in(&entries, range) else {
                    return 0;
                };
                let count = entries[first..]
                    .iter()
                    .take_while(|&&e| test_entry(e, |m, s| range.below_max(m, s)))
                    .count();
                (first, count)
            }
            ZSetValue::Skiplist(ordered) => {
                let below = ordered.count_prefix(|m, s| !range.above_min(m, s));
                let through = ordered.count_prefix(|m, s| range.below_max(m, s));
                (below, through.saturating_sub(below))
            }
        };
        if count > 0 {
            self.remove_by_rank(start, start + count - 1);
        }
        count
    }

    /// Removes up to `count` members from the bottom (or the top when `highest`) and returns
    /// them in the order they were taken.
    pub fn pop(&mut self, count: usize, highest: bool) -> Vec<(Vec<u8>, f64)> {
        let len = self.len();
        let count = count.min(len);
        let start = if highest { len - count } else { 0 };
        match self {
            ZSetValue::Listpack(pack) => {
                let mut taken: Vec<(Vec<u8>, f64)> = Self::pack_entries(pack)[start..start + count]
                    .iter()
                    .map(|(m, s)| (m.to_vec(), *s))
                    .collect();
                if highest {
                    taken.reverse();
                }
                pack.remove_range(2 * start, 2 * count);
                taken
            }
            ZSetValue::Skiplist(ordered) => {
                let mut taken = Vec::with_capacity(count);
                ordered.remove_ranks(start, count, highest, |m, s| taken.push((m.to_vec(), s)));
                taken
            }
        }
    }

    /// A uniformly random member and its score (the set is not empty).
    pub fn random_entry(&self, rng: &mut impl Rng) -> Scored<'_> {
        let index = rng.random_range(0..self.len());
        match self {
            ZSetValue::Listpack(pack) => {
                let mut items = pack.iter().skip(2 * index);
                let member = items.next().expect("index below len");
                let score = items.next().expect("a score follows each member");
                (member, item_score(score))
            }
            ZSetValue::Skiplist(ordered) => {
                let (member, score) = ordered.get(index);
                (PackItem::Bytes(member), score)
            }
        }
    }

    /// `count` distinct random members (`count < len`): in the set's order for a listpack, as
    /// Valkey samples one; in random order for a skiplist.
    pub fn random_distinct(&self, count: usize, rng: &mut impl Rng) -> Vec<Scored<'_>> {
        let picks = rand::seq::index::sample(rng, self.len(), count);
        match self {
            ZSetValue::Listpack(pack) => {
                let entries = Self::pack_entries(pack);
                let mut picks = picks.into_vec();
                picks.sort_unstable();
                picks.into_iter().map(|index| entries[index]).collect()
            }
            ZSetValue::Skiplist(ordered) => picks
                .iter()
                .map(|index| {
                    let (member, score) = ordered.get(index);
                    (PackItem::Bytes(member), score)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
