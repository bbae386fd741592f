//! Hashes: maps of field → value, in the two shapes Valkey reports, with a time to live per field.
//!
//! - `Listpack`: the fields and values alternate in one [`Pack`] (one allocation), in insertion
//!   order, which is the order HGETALL, HKEYS, HVALS and HSCAN return. Lookups scan the pack,
//!   which the thresholds keep short. A listpack never holds a field with a time to live.
//! - `Hashtable`: an insertion-ordered hash map (O(1) lookup, insertion and removal, and a field
//!   by index for O(1) random fields), plus an index of the fields that have a time to live,
//!   ordered by expiry, so the soonest expiry and the expired fields are found without scanning.
//!
//! A listpack becomes a hashtable, never the other way, exactly where Valkey converts one: when a
//! command would store more fields than `hash-max-listpack-entries` (HSET and HMSET also convert
//! up front when they carry more pairs than that, duplicates included), a field or value longer
//! than `hash-max-listpack-value` bytes, or a field with a time to live. The thresholds are read
//! from [`crate::limits`] at each write.
//!
//! Field expiry follows Valkey 9: an expired field is invisible to every read and to the writes
//! that act on existing fields, but it stays stored, and counted by HLEN, until the active expiry
//! cycle reclaims it ([`HashValue::remove_expired`], a bounded number at a time) or a write
//! replaces it. A hash left with only
//! expired fields therefore still exists as a key until then. Times are Unix milliseconds passed
//! in by the caller; a field expires when `now > expire_at`, as keys do.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use rand::Rng;

use crate::bytes::CompactBytes;
use crate::limits::{hash_max_listpack_entries, hash_max_listpack_value};
use crate::num::parse_i64;
use crate::pack::{Pack, PackItem, PackIter};

type FieldMap = IndexMap<CompactBytes, Field, hashbrown::DefaultHashBuilder>;

/// A random pick that lands on an expired field is retried this many times in all (Valkey's
/// bound), after which the pick gives up.
const RANDOM_TRIES: usize = 100;

#[derive(Clone, Debug, PartialEq)]
pub enum HashValue {
    Listpack(Pack),
    /// Boxed: the map and its expiry index are much larger than a pack.
    Hashtable(Box<HashTable>),
}

/// The large form: fields in an indexable map, and the volatile ones by expiry time.
#[derive(Clone, Debug, Default)]
pub struct HashTable {
    fields: FieldMap,
    /// (expiry, field) of every field with a time to live.
    expiries: BTreeSet<(u64, IndexKey)>,
}

impl PartialEq for HashTable {
    /// Equal when they map the same fields to the same values and expiries, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

/// A field name ordered by its bytes, for the expiry index.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IndexKey(CompactBytes);

impl Ord for IndexKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.as_bytes().cmp(other.0.as_bytes())
    }
}

impl PartialOrd for IndexKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Field {
    value: CompactBytes,
    /// Unix milliseconds; 0 when the field does not expire.
    expire_at_ms: u64,
}

impl Field {
    #[inline]
    fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && now_ms > self.expire_at_ms
    }

    fn expiry(&self) -> Option<u64> {
        (self.expire_at_ms != 0).then_some(self.expire_at_ms)
    }
}

/// How a write treats the time to live of the field it replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldTtl {
    /// The field no longer expires (HSET, HSETNX, HSETEX without options).
    Clear,
    /// The field keeps its time to live, unless it had already expired (HINCRBY, HINCRBYFLOAT,
    /// HSETEX KEEPTTL).
    Keep,
    /// The field expires at this Unix time in milliseconds, which is in the future.
    At(u64),
}

/// The conditions of HEXPIRE and its kin (at most one of NX, XX, GT, LT, or XX with GT or LT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireCondition {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

impl ExpireCondition {
    /// Whether a field whose current expiry is `current` may get the expiry `at`. A field
    /// without an expiry counts as expiring never (so GT always fails on it).
    fn allows(&self, current: Option<u64>, at: u64) -> bool {
        !((self.nx && current.is_some())
            || (self.xx && current.is_none())
            || (self.gt && current.is_none_or(|current| at <= current))
            || (self.lt && current.is_some_and(|current| at >= current)))
    }
}

/// The per-field result of HEXPIRE and its kin, as the integer Valkey replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldExpire {
    /// No such field (or no such key).
    NoField = -2,
    /// The condition (NX, XX, GT, LT) was not met.
    NotMet = 0,
    /// The expiry was set.
    Set = 1,
    /// The time was not in the future, so the field was deleted.
    Deleted = 2,
}

/// The per-field result of HPERSIST, as the integer Valkey replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldPersist {
    NoField = -2,
    NoExpiry = -1,
    Persisted = 1,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::new()
    }
}

/// The text a field name is compared as, with integer text parsed once: a pack stores canonical
/// integers as integers.
struct Wanted<'a> {
    text: &'a [u8],
    int: Option<i64>,
}

impl<'a> Wanted<'a> {
    fn new(text: &'a [u8]) -> Wanted<'a> {
        let int = if text.len() <= 20 {
            parse_i64(text)
        } else {
            None
        };
        Wanted { text, int }
    }

    #[inline]
    fn matches(&self, item: PackItem<'_>) -> bool {
        match (item, self.int) {
            (PackItem::Int(number), Some(wanted)) => number == wanted,
            (PackItem::Bytes(bytes), None) => bytes == self.text,
            _ => false,
        }
    }
}

/// The pair index of `field` in a listpack, and its value.
fn pack_find<'p>(pack: &'p Pack, field: &[u8]) -> Option<(usize, PackItem<'p>)> {
    let wanted = Wanted::new(field);
    let mut items = pack.iter();
    let mut pair = 0;
    while let Some(name) = items.next() {
        let value = items.next()?;
        if wanted.matches(name) {
            return Some((pair, value));
        }
        pair += 1;
    }
    None
}

fn pack_pairs(pack: &Pack) -> Vec<(PackItem<'_>, PackItem<'_>)> {
    let mut items = pack.iter();
    let mut pairs = Vec::with_capacity(pack.len() / 2);
    while let (Some(field), Some(value)) = (items.next(), items.next()) {
        pairs.push((field, value));
    }
    pairs
}

fn bytes_item(bytes: &CompactBytes) -> PackItem<'_> {
    PackItem::Bytes(bytes.as_bytes())
}

impl HashTable {
    fn with_capacity(capacity: usize) -> HashTable {
        HashTable {
            fields: FieldMap::with_capacity_and_hasher(capacity, Default::default()),
            expiries: BTreeSet::new(),
        }
    }

    fn live(&self, field: &[u8], now_ms: u64) -> Option<(usize, &Field)> {
        let (index, _, found) = self.fields.get_full(field)?;
        (!found.is_expired(now_ms)).then_some((index, found))
    }

    fn insert(&mut self, field: &[u8], value: &[u8], expire_at_ms: u64) {
        let name = CompactBytes::new(field);
        if expire_at_ms != 0 {
            self.expiries.insert((expire_at_ms, IndexKey(name.clone())));
        }
        let value = CompactBytes::new(value);
        self.fields.insert(
            name,
            Field {
                value,
                expire_at_ms,
            },
        );
    }

    /// Changes the expiry of the field at `index`, keeping the index in step.
    fn set_expiry(&mut self, index: usize, expire_at_ms: u64) {
        let (name, field) = self.fields.get_index_mut(index).expect("index below len");
        if field.expire_at_ms == expire_at_ms {
            return;
        }
        if field.expire_at_ms != 0 {
            self.expiries
                .remove(&(field.expire_at_ms, IndexKey(name.clone())));
        }
        if expire_at_ms != 0 {
            self.expiries.insert((expire_at_ms, IndexKey(name.clone())));
        }
        field.expire_at_ms = expire_at_ms;
    }

    fn remove_index(&mut self, index: usize) {
        let (name, field) = self
            .fields
            .swap_remove_index(index)
            .expect("index below len");
        if field.expire_at_ms != 0 {
            self.expiries.remove(&(field.expire_at_ms, IndexKey(name)));
        }
    }

    /// Fields that have expired but are still stored.
    fn expired_count(&self, now_ms: u64) -> usize {
        self.expiries
            .iter()
            .take_while(|(at, _)| now_ms > *at)
            .count()
    }

    #[inline]
    fn pair(&self, index: usize) -> (PackItem<'_>, PackItem<'_>) {
        let (name, field) = self.fields.get_index(index).expect("index below len");
        (bytes_item(name), bytes_item(&field.value))
    }

    /// A random live field's index, giving up after [`RANDOM_TRIES`] expired ones.
    fn random_live(&self, rng: &mut impl Rng, now_ms: u64) -> Option<usize> {
        if self.fields.is_empty() {
            return None;
        }
        (0..RANDOM_TRIES)
            .map(|_| rng.random_range(0..self.fields.len()))
            .find(|&index| {
                let (_, field) = self.fields.get_index(index).expect("index below len");
                !field.is_expired(now_ms)
            })
    }
}

impl HashValue {
    /// An empty hash; every hash starts as a listpack.
    pub fn new() -> HashValue {
        HashValue::Listpack(Pack::new())
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            HashValue::Listpack(_) => "listpack",
            HashValue::Hashtable(_) => "hashtable",
        }
    }

    /// The fields stored, counting expired ones not yet reclaimed (what HLEN reports).
    pub fn len(&self) -> usize {
        match self {
            HashValue::Listpack(pack) => pack.len() / 2,
            HashValue::Hashtable(table) => table.fields.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fields a read sees at `now_ms`.
    pub fn live_len(&self, now_ms: u64) -> usize {
        match self {
            HashValue::Listpack(pack) => pack.len() / 2,
            HashValue::Hashtable(table) => table.fields.len() - table.expired_count(now_ms),
        }
    }

    /// The value of a live field.
    pub fn get(&self, field: &[u8], now_ms: u64) -> Option<PackItem<'_>> {
        match self {
            HashValue::Listpack(pack) => pack_find(pack, field).map(|(_, value)| value),
            HashValue::Hashtable(table) => table
                .live(field, now_ms)
                .map(|(_, found)| bytes_item(&found.value)),
        }
    }

    pub fn contains(&self, field: &[u8], now_ms: u64) -> bool {
        self.get(field, now_ms).is_some()
    }

    /// Whether `field` is stored but expired (not yet reclaimed): a write to it replaces a
    /// field that had run out, which Valkey reports.
    pub fn holds_expired(&self, field: &[u8], now_ms: u64) -> bool {
        match self {
            HashValue::Listpack(_) => false,
            HashValue::Hashtable(table) => table
                .fields
                .get(field)
                .is_some_and(|found| found.is_expired(now_ms)),
        }
    }

    /// A live field's expiry: None without the field, Some(None) when it does not expire.
    pub fn expire_at(&self, field: &[u8], now_ms: u64) -> Option<Option<u64>> {
        match self {
            HashValue::Listpack(pack) => pack_find(pack, field).map(|_| None),
            HashValue::Hashtable(table) => {
                table.live(field, now_ms).map(|(_, found)| found.expiry())
            }
        }
    }

    /// The live (field, value) pairs: insertion order for a listpack, the map's order otherwise.
    pub fn iter(&self, now_ms: u64) -> HashIter<'_> {
        let inner = match self {
            HashValue::Listpack(pack) => IterInner::Pack(pack.iter()),
            HashValue::Hashtable(table) => IterInner::Table(table.fields.iter()),
        };
        HashIter { inner, now_ms }
    }

    /// Whether any field has a time to live (expired or not).
    pub fn has_volatile_fields(&self) -> bool {
        self.soonest_expiry().is_some()
    }

    /// The earliest field expiry, expired or not.
    pub fn soonest_expiry(&self) -> Option<u64> {
        match self {
            HashValue::Listpack(_) => None,
            HashValue::Hashtable(table) => table.expiries.first().map(|(at, _)| *at),
        }
    }

    fn convert_to_hashtable(&mut self, extra: usize) {
        let HashValue::Listpack(pack) = self else {
            return;
        };
        let mut table = HashTable::with_capacity(pack.len() / 2 + extra);
        let mut buffer = ([0u8; 20], [0u8; 20]);
        for (field, value) in pack_pairs(pack) {
            table.insert(field.bytes(&mut buffer.0), value.bytes(&mut buffer.1), 0);
        }
        *self = HashValue::Hashtable(Box::new(table));
    }

    /// Before HSET, HMSET or HSETNX writes `pairs` field/value pairs made of `args`: converts a
    /// listpack to a hashtable when the pairs alone exceed `hash-max-listpack-entries` or an
    /// argument is longer than `hash-max-listpack-value`, as Valkey checks up front.
    pub fn prepare_for<'a>(&mut self, pairs: usize, args: impl IntoIterator<Item = &'a [u8]>) {
        if !matches!(self, HashValue::Listpack(_)) {
            return;
        }
        if pairs > hash_max_listpack_entries() {
            self.convert_to_hashtable(pairs);
            return;
        }
        let max_value = hash_max_listpack_value();
        if args.into_iter().any(|arg| arg.len() > max_value) {
            self.convert_to_hashtable(0);
        }
    }

    /// Sets a field. Returns whether it is new: absent before, or present but expired.
    pub fn set(&mut self, field: &[u8], value: &[u8], ttl: FieldTtl, now_ms: u64) -> bool {
        if let HashValue::Listpack(pack) = self {
            let max_value = hash_max_listpack_value();
            let fits = !matches!(ttl, FieldTtl::At(_))
                && field.len() <= max_value
                && value.len() <= max_value;
            if fits {
                let created = match pack_find(pack, field) {
                    Some((pair, _)) => {
                        pack.replace(2 * pair + 1, value);
                        false
                    }
                    None => {
                        pack.push_back(field);
                        pack.push_back(value);
                        true
                    }
                };
                if pack.len() / 2 > hash_max_listpack_entries() {
                    self.convert_to_hashtable(0);
                }
                return created;
            }
            self.convert_to_hashtable(1);
        }
        let HashValue::Hashtable(table) = self else {
            unreachable!("converted above");
        };
        if let Some((index, _, existing)) = table.fields.get_full_mut(field) {
            let expired = existing.is_expired(now_ms);
            let expire_at_ms = match ttl {
                FieldTtl::Clear => 0,
                FieldTtl::Keep if expired => 0,
                FieldTtl::Keep => existing.expire_at_ms,
                FieldTtl::At(at) => at,
            };
            existing.value = CompactBytes::new(value);
            table.set_expiry(index, expire_at_ms);
            return expired;
        }
        let expire_at_ms = match ttl {
            FieldTtl::At(at) => at,
            FieldTtl::Clear | FieldTtl::Keep => 0,
        };
        table.insert(field, value, expire_at_ms);
        true
    }

    /// Removes a live field (HDEL, HGETDEL); an expired one stays until reclaimed.
    pub fn remove(&mut self, field: &[u8], now_ms: u64) -> bool {
        match self {
            HashValue::Listpack(pack) => Self::remove_from_pack(pack, field),
            HashValue::Hashtable(table) => match table.live(field, now_ms) {
                Some((index, _)) => {
                    table.remove_index(index);
                    true
                }
                None => false,
            },
        }
    }

    /// Removes a field whether or not it has expired (HSETEX with a time in the past).
    pub fn remove_even_expired(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Listpack(pack) => Self::remove_from_pack(pack, field),
            HashValue::Hashtable(table) => match table.fields.get_index_of(field) {
                Some(index) => {
                    table.remove_index(index);
                    true
                }
                None => false,
            },
        }
    }

    fn remove_from_pack(pack: &mut Pack, field: &[u8]) -> bool {
        match pack_find(pack, field) {
            Some((pair, _)) => {
                pack.remove_range(2 * pair, 2);
                true
            }
            None => false,
        }
    }

    /// Gives a live field the expiry `at_ms` if `condition` allows; deletes it instead when
    /// `at_ms` is not in the future. A listpack converts only when a field actually gets a
    /// future expiry; its fields have none, so XX and GT fail on them.
    pub fn set_expire(
        &mut self,
        field: &[u8],
        at_ms: u64,
        condition: ExpireCondition,
        now_ms: u64,
    ) -> FieldExpire {
        let past = at_ms <= now_ms;
        if let HashValue::Listpack(pack) = self {
            if pack_find(pack, field).is_none() {
                return FieldExpire::NoField;
            }
            if !condition.allows(None, at_ms) {
                return FieldExpire::NotMet;
            }
            if past {
                Self::remove_from_pack(pack, field);
                return FieldExpire::Deleted;
            }
            self.convert_to_hashtable(0);
        }
        let HashValue::Hashtable(table) = self else {
            unreachable!("converted above");
        };
        let Some((index, found)) = table.live(field, now_ms) else {
            return FieldExpire::NoField;
        };
        if !condition.allows(found.expiry(), at_ms) {
            return FieldExpire::NotMet;
        }
        if past {
            table.remove_index(index);
            return FieldExpire::Deleted;
        }
        table.set_expiry(index, at_ms);
        FieldExpire::Set
    }

    /// Removes a live field's time to live.
    pub fn persist(&mut self, field: &[u8], now_ms: u64) -> FieldPersist {
        match self {
            HashValue::Listpack(pack) => match pack_find(pack, field) {
                Some(_) => FieldPersist::NoExpiry,
                None => FieldPersist::NoField,
            },
            HashValue::Hashtable(table) => match table.live(field, now_ms) {
                None => FieldPersist::NoField,
                Some((_, found)) if found.expire_at_ms == 0 => FieldPersist::NoExpiry,
                Some((index, _)) => {
                    table.set_expiry(index, 0);
                    FieldPersist::Persisted
                }
            },
        }
    }

    /// Reclaims expired fields, soonest first, at most `limit` of them; returns how many. The
    /// hash may be left empty: the caller deletes the key then.
    pub fn remove_expired(&mut self, now_ms: u64, limit: usize) -> usize {
        let HashValue::Hashtable(table) = self else {
            return 0;
        };
        let mut removed = 0;
        while removed < limit && table.expiries.first().is_some_and(|(at, _)| now_ms > *at) {
            let (_, IndexKey(name)) = table.expiries.pop_first().expect("checked above");
            table.fields.swap_remove(name.as_bytes());
            removed += 1;
        }
        removed
    }

    /// A uniformly random live field and its value (HRANDFIELD without a count).
    pub fn random_pair(
        &self,
        rng: &mut impl Rng,
        now_ms: u64,
    ) -> Option<(PackItem<'_>, PackItem<'_>)> {
        match self {
            HashValue::Listpack(pack) => {
                let pairs = pack.len() / 2;
                if pairs == 0 {
                    return None;
                }
                let mut items = pack.iter().skip(2 * rng.random_range(0..pairs));
                Some((items.next()?, items.next()?))
            }
            HashValue::Hashtable(table) => table
                .random_live(rng, now_ms)
                .map(|index| table.pair(index)),
        }
    }

    /// Random fields for HRANDFIELD with a count, chosen as Valkey chooses them:
    ///
    /// - `distinct` false (a negative count), or a count of 1: `count` independent picks.
    /// - `count` at least the hash's size: every live field, in iteration order.
    /// - a listpack: a uniform sample of `count` fields, in listpack order.
    /// - a hashtable and a count above a third of its size: a uniform sample of the live
    ///   fields, in random order.
    /// - otherwise: distinct random picks, up to ten tries per field asked for.
    ///
    /// Expired fields are never returned, so fewer fields than asked may come back.
    pub fn random_pairs(
        &self,
        count: usize,
        distinct: bool,
        rng: &mut impl Rng,
        now_ms: u64,
    ) -> RandomPairs<'_> {
        let source = match self {
            HashValue::Listpack(pack) => PairSource::Pack(pack_pairs(pack)),
            HashValue::Hashtable(table) => PairSource::Table(table),
        };
        let indices = source.pick(count, distinct, rng, now_ms);
        RandomPairs { source, indices }
    }

    /// Visits part of the hash for HSCAN and returns the cursor to continue from (0: done).
    ///
    /// A listpack is visited whole. A hashtable is visited `count` positions at a time from its
    /// last position down; the cursor is the position to continue below. Removal moves the last
    /// field into the hole, so a field can only move from a position not yet visited to a lower
    /// one, or from a visited one to a lower one (and be returned twice, which SCAN allows):
    /// a field present for the whole iteration is returned at least once.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        now_ms: u64,
        mut visit: impl FnMut(PackItem<'a>, PackItem<'a>),
    ) -> u64 {
        let table = match self {
            HashValue::Listpack(_) => {
                for (field, value) in self.iter(now_ms) {
                    visit(field, value);
                }
                return 0;
            }
            HashValue::Hashtable(table) => table,
        };
        let len = table.fields.len();
        let end = match usize::try_from(cursor) {
            Ok(0) | Err(_) => len,
            Ok(cursor) => cursor.min(len),
        };
        let start = end.saturating_sub(count.max(1));
        for index in (start..end).rev() {
            let (name, field) = table.fields.get_index(index).expect("index below len");
            if !field.is_expired(now_ms) {
                visit(bytes_item(name), bytes_item(&field.value));
            }
        }
        start as u64
    }
}

/// The (field, value) pairs of a hash.
pub struct HashIter<'a> {
    inner: IterInner<'a>,
    now_ms: u64,
}

enum IterInner<'a> {
    Pack(PackIter<'a>),
    Table(indexmap::map::Iter<'a, CompactBytes, Field>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (PackItem<'a>, PackItem<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            IterInner::Pack(items) => Some((items.next()?, items.next()?)),
            IterInner::Table(entries) => {
                let now_ms = self.now_ms;
                entries
                    .find(|(_, field)| !field.is_expired(now_ms))
                    .map(|(name, field)| (bytes_item(name), bytes_item(&field.value)))
            }
        }
    }
}

/// Where random picks are read from: a listpack's pairs, decoded once, or the map by index.
enum PairSource<'a> {
    Pack(Vec<(PackItem<'a>, PackItem<'a>)>),
    Table(&'a HashTable),
}

impl PairSource<'_> {
    fn len(&self) -> usize {
        match self {
            PairSource::Pack(pairs) => pairs.len(),
            PairSource::Table(table) => table.fields.len(),
        }
    }

    fn is_live(&self, index: usize, now_ms: u64) -> bool {
        match self {
            PairSource::Pack(_) => true,
            PairSource::Table(table) => {
                let (_, field) = table.fields.get_index(index).expect("index below len");
                !field.is_expired(now_ms)
            }
        }
    }

    fn random_live(&self, rng: &mut impl Rng, now_ms: u64) -> Option<usize> {
        match self {
            PairSource::Pack(pairs) if pairs.is_empty() => None,
            PairSource::Pack(pairs) => Some(rng.random_range(0..pairs.len())),
            PairSource::Table(table) => table.random_live(rng, now_ms),
        }
    }

    /// The indices HRANDFIELD replies with (see [`HashValue::random_pairs`]).
    fn pick(&self, count: usize, distinct: bool, rng: &mut impl Rng, now_ms: u64) -> Vec<usize> {
        let len = self.len();
        if !distinct || count == 1 {
            let mut picks = Vec::new();
            for _ in 0..count {
                match self.random_live(rng, now_ms) {
                    Some(index) => picks.push(index),
                    None => break,
                }
            }
            return picks;
        }
        if count >= len {
            return (0..len).filter(|&i| self.is_live(i, now_ms)).collect();
        }
        if let PairSource::Pack(_) = self {
            let mut picks = rand::seq::index::sample(rng, len, count).into_vec();
            picks.sort_unstable();
            return picks;
        }
        if count * 3 > len {
            let live: Vec<usize> = (0..len).filter(|&i| self.is_live(i, now_ms)).collect();
            let take = count.min(live.len());
            return rand::seq::index::sample(rng, live.len(), take)
                .iter()
                .map(|i| live[i])
                .collect();
        }
        let mut chosen = hashbrown::HashSet::with_capacity(count);
        let mut picks = Vec::with_capacity(count);
        let mut tries = count.saturating_mul(10);
        while picks.len() < count && tries > 0 {
            tries -= 1;
            let Some(index) = self.random_live(rng, now_ms) else {
                break;
            };
            if chosen.insert(index) {
                picks.push(index);
            }
        }
        picks
    }
}

/// The outcome of [`HashValue::random_pairs`].
pub struct RandomPairs<'a> {
    source: PairSource<'a>,
    indices: Vec<usize>,
}

impl RandomPairs<'_> {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (PackItem<'_>, PackItem<'_>)> + '_ {
        self.indices.iter().map(|&index| match &self.source {
            PairSource::Pack(pairs) => pairs[index],
            PairSource::Table(table) => table.pair(index),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;
    use rand::SeedableRng;

    use super::*;

    /// The model: field → (value, expiry), expired fields included until reclaimed.
    type Model = HashMap<Vec<u8>, (Vec<u8>, Option<u64>)>;

    fn live(model: &Model, now: u64) -> HashMap<Vec<u8>, Vec<u8>> {
        model
            .iter()
            .filter(|(_, (_, at))| at.is_none_or(|at| now <= at))
            .map(|(field, (value, _))| (field.clone(), value.clone()))
            .collect()
    }

    fn is_live(model: &Model, field: &[u8], now: u64) -> bool {
        model
            .get(field)
            .is_some_and(|(_, at)| at.is_none_or(|at| now <= at))
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(Vec<u8>, Vec<u8>, u8),
        Remove(Vec<u8>),
        RemoveEvenExpired(Vec<u8>),
        Expire(Vec<u8>, u64, u8),
        Persist(Vec<u8>),
        Advance(u64),
        Reclaim,
        Random(usize, bool),
    }

    fn field() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (0i64..700).prop_map(|n| n.to_string().into_bytes()),
            Just(b"007".to_vec()),
            Just(b"-0".to_vec()),
            "[a-e]{1,3}".prop_map(String::into_bytes),
            (60usize..70).prop_map(|n| vec![b'f'; n]),
        ]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-5i64..5).prop_map(|n| n.to_string().into_bytes()),
            "[x-z]{0,4}".prop_map(String::into_bytes),
            (60usize..70).prop_map(|n| vec![b'v'; n]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            10 => (field(), value(), 0u8..5).prop_map(|(f, v, t)| Op::Set(f, v, t)),
            3 => field().prop_map(Op::Remove),
            1 => field().prop_map(Op::RemoveEvenExpired),
            3 => (field(), 0u64..200, 0u8..6).prop_map(|(f, at, c)| Op::Expire(f, at, c)),
            1 => field().prop_map(Op::Persist),
            2 => (0u64..40).prop_map(Op::Advance),
            1 => Just(Op::Reclaim),
            1 => (0usize..30, any::<bool>()).prop_map(|(n, d)| Op::Random(n, d)),
        ]
    }

    fn condition(code: u8) -> ExpireCondition {
        let mut condition = ExpireCondition::default();
        match code {
            1 => condition.nx = true,
            2 => condition.xx = true,
            3 => condition.gt = true,
            4 => condition.lt = true,
            5 => {
                condition.xx = true;
                condition.gt = true;
            }
            _ => {}
        }
        condition
    }

    /// The model's answer to set_expire.
    fn model_expire(
        model: &mut Model,
        field: &[u8],
        at: u64,
        cond: ExpireCondition,
        now: u64,
    ) -> FieldExpire {
        if !is_live(model, field, now) {
            return FieldExpire::NoField;
        }
        let current = model[field].1;
        if !cond.allows(current, at) {
            return FieldExpire::NotMet;
        }
        if at <= now {
            model.remove(field);
            return FieldExpire::Deleted;
        }
        model.get_mut(field).expect("live").1 = Some(at);
        FieldExpire::Set
    }

    fn check(hash: &HashValue, model: &Model, now: u64) -> Result<(), TestCaseError> {
        prop_assert_eq!(hash.len(), model.len());
        let want = live(model, now);
        prop_assert_eq!(hash.live_len(now), want.len());
        let got: HashMap<Vec<u8>, Vec<u8>> = hash
            .iter(now)
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect();
        prop_assert_eq!(hash.iter(now).count(), want.len());
        prop_assert_eq!(&got, &want);
        for (field, (value, at)) in model {
            let visible = at.is_none_or(|at| now <= at);
            prop_assert_eq!(
                hash.get(field, now).map(|v| v.to_vec()),
                visible.then(|| value.clone())
            );
            prop_assert_eq!(hash.expire_at(field, now), visible.then_some(*at));
        }
        prop_assert_eq!(
            hash.soonest_expiry(),
            model.values().filter_map(|(_, at)| *at).min()
        );
        match hash {
            HashValue::Listpack(pack) => {
                prop_assert!(pack.len() / 2 <= hash_max_listpack_entries());
                prop_assert!(pack
                    .iter()
                    .all(|item| item.text_len() <= hash_max_listpack_value()));
                prop_assert!(model.values().all(|(_, at)| at.is_none()));
            }
            HashValue::Hashtable(table) => {
                prop_assert_eq!(
                    table.expiries.len(),
                    model.values().filter(|(_, at)| at.is_some()).count()
                );
            }
        }
        // A full scan returns every live field at least once, whatever the page size.
        for count in [1, 7, 1000] {
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                cursor = hash.scan(cursor, count, now, |field, _| {
                    seen.insert(field.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            prop_assert_eq!(seen.len(), want.len());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]
        /// The hash behaves as a map with per-field expiry, in both shapes and across the
        /// conversion, which only ever goes from listpack to hashtable.
        #[test]
        fn matches_a_model(ops in proptest::collection::vec(op(), 1..1200), seed in any::<u64>()) {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut hash = HashValue::new();
            let mut model = Model::new();
            let mut now = 1000u64;
            for op in ops {
                let was_hashtable = matches!(hash, HashValue::Hashtable(_));
                match op {
                    Op::Set(field, value, ttl) => {
                        let ttl = match ttl {
                            0 | 1 => FieldTtl::Clear,
                            2 | 3 => FieldTtl::Keep,
                            _ => FieldTtl::At(now + 50),
                        };
                        let created = !is_live(&model, &field, now);
                        let old_at = model.get(&field).and_then(|(_, at)| *at);
                        let at = match ttl {
                            FieldTtl::Clear => None,
                            FieldTtl::Keep if created => None,
                            FieldTtl::Keep => old_at,
                            FieldTtl::At(at) => Some(at),
                        };
                        prop_assert_eq!(hash.set(&field, &value, ttl, now), created);
                        model.insert(field, (value, at));
                    }
                    Op::Remove(field) => {
                        let live = is_live(&model, &field, now);
                        prop_assert_eq!(hash.remove(&field, now), live);
                        if live {
                            model.remove(&field);
                        }
                    }
                    Op::RemoveEvenExpired(field) => {
                        let present = model.remove(&field).is_some();
                        prop_assert_eq!(hash.remove_even_expired(&field), present);
                    }
                    Op::Expire(field, delta, code) => {
                        let at = now.saturating_sub(20) + delta;
                        let cond = condition(code);
                        let want = model_expire(&mut model, &field, at, cond, now);
                        prop_assert_eq!(hash.set_expire(&field, at, cond, now), want);
                    }
                    Op::Persist(field) => {
                        let want = if !is_live(&model, &field, now) {
                            FieldPersist::NoField
                        } else if model[&field].1.is_none() {
                            FieldPersist::NoExpiry
                        } else {
                            model.get_mut(&field).expect("live").1 = None;
                            FieldPersist::Persisted
                        };
                        prop_assert_eq!(hash.persist(&field, now), want);
                    }
                    Op::Advance(ms) => now += ms,
                    Op::Reclaim => {
                        let before = model.len();
                        model.retain(|_, (_, at)| at.is_none_or(|at| now <= at));
                        prop_assert_eq!(hash.remove_expired(now, usize::MAX), before - model.len());
                    }
                    Op::Random(count, distinct) => {
                        let want = live(&model, now);
                        let picks: Vec<(Vec<u8>, Vec<u8>)> = hash
                            .random_pairs(count, distinct, &mut rng, now)
                            .iter()
                            .map(|(f, v)| (f.to_vec(), v.to_vec()))
                            .collect();
                        for (field, value) in &picks {
                            prop_assert_eq!(want.get(field), Some(value));
                        }
                        if distinct {
                            let unique: HashSet<&Vec<u8>> = picks.iter().map(|(f, _)| f).collect();
                            prop_assert_eq!(unique.len(), picks.len());
                        }
                        let most = if distinct { count.min(want.len()) } else { count };
                        prop_assert!(picks.len() <= most);
                        if hash.live_len(now) == hash.len() {
                            // Without expired fields in the way every pick succeeds.
                            let expected = match (distinct, want.is_empty()) {
                                (true, _) => count.min(want.len()),
                                (false, true) => 0,
                                (false, false) => count,
                            };
                            prop_assert_eq!(picks.len(), expected);
                        }
                        let one = hash.random_pair(&mut rng, now).map(|(f, _)| f.to_vec());
                        if let Some(field) = one {
                            prop_assert!(want.contains_key(&field));
                        }
                    }
                }
                if was_hashtable {
                    prop_assert_eq!(hash.encoding_name(), "hashtable");
                }
                check(&hash, &model, now)?;
            }
        }
    }

    #[test]
    fn conversions_follow_valkey() {
        let mut hash = HashValue::new();
        for n in 0..hash_max_listpack_entries() {
            hash.set(format!("f{n}").as_bytes(), b"v", FieldTtl::Clear, 0);
        }
        assert_eq!(hash.encoding_name(), "listpack");
        hash.set(b"f0", b"w", FieldTtl::Clear, 0);
        assert_eq!(hash.encoding_name(), "listpack");
        hash.set(b"one-more", b"v", FieldTtl::Clear, 0);
        assert_eq!(hash.encoding_name(), "hashtable");
        hash.remove(b"one-more", 0);
        assert_eq!(hash.encoding_name(), "hashtable");

        let long = vec![b'x'; hash_max_listpack_value() + 1];
        let mut hash = HashValue::new();
        hash.set(&long[1..], &long[1..], FieldTtl::Clear, 0);
        assert_eq!(hash.encoding_name(), "listpack");
        hash.set(b"a", &long, FieldTtl::Clear, 0);
        assert_eq!(hash.encoding_name(), "hashtable");

        // HSET's up-front check counts pairs, duplicates included.
        let mut hash = HashValue::new();
        let args: Vec<&[u8]> = vec![b"f"; 2 * (hash_max_listpack_entries() + 1)];
        hash.prepare_for(hash_max_listpack_entries() + 1, args);
        assert_eq!(hash.encoding_name(), "hashtable");

        // A time to live converts, unless the field is missing or the time is past.
        let mut hash = HashValue::new();
        hash.set(b"a", b"1", FieldTtl::Clear, 0);
        hash.set(b"b", b"1", FieldTtl::Clear, 0);
        let none = ExpireCondition::default();
        assert_eq!(hash.set_expire(b"zz", 100, none, 10), FieldExpire::NoField);
        assert_eq!(hash.set_expire(b"a", 5, none, 10), FieldExpire::Deleted);
        let xx = ExpireCondition { xx: true, ..none };
        assert_eq!(hash.set_expire(b"b", 100, xx, 10), FieldExpire::NotMet);
        assert_eq!(hash.encoding_name(), "listpack");
        assert_eq!(hash.set_expire(b"b", 100, none, 10), FieldExpire::Set);
        assert_eq!(hash.encoding_name(), "hashtable");
        assert_eq!(hash.persist(b"b", 10), FieldPersist::Persisted);
        assert_eq!(hash.encoding_name(), "hashtable");
    }

    #[test]
    fn the_active_cycle_reclaims_fields_a_bounded_number_at_a_time() {
        use crate::{key_slot, Db, ExpireUpdate, OwnedEntry, Value};
        let db = Db::default();
        let (key, slot) = (b"h".as_slice(), key_slot(b"h"));
        let mut hash = HashValue::new();
        for n in 0..5000 {
            hash.set(format!("f{n}").as_bytes(), b"v", FieldTtl::At(100), 0);
        }
        hash.set(b"later", b"v", FieldTtl::At(1000), 0);
        let value = Value::Hash(hash);
        let len = |db: &Db| {
            let mut table = db.lock(slot);
            table
                .get(key, 0)
                .and_then(|e| e.value.as_hash())
                .map(HashValue::len)
        };
        {
            let mut table = db.lock(slot);
            db.note_field_expiry(key, &value);
            table.insert(key, OwnedEntry::new(value, 0), ExpireUpdate::Clear);
        }
        assert_eq!(db.expire_slot(slot, 100), (0, 0));
        db.expire_slot(slot, 101);
        assert_eq!(len(&db), Some(5001 - 4096));
        db.expire_slot(slot, 101);
        assert_eq!(len(&db), Some(1));
        assert_eq!(db.expire_slot(slot, 500), (0, 0));
        db.expire_slot(slot, 1001);
        assert_eq!(len(&db), None);
    }

    #[test]
    fn expired_fields_stay_counted_until_reclaimed() {
        let mut hash = HashValue::new();
        hash.set(b"a", b"1", FieldTtl::At(100), 0);
        hash.set(b"b", b"2", FieldTtl::Clear, 0);
        assert_eq!(hash.get(b"a", 100).map(|v| v.to_vec()), Some(b"1".to_vec()));
        assert_eq!(hash.get(b"a", 101), None);
        assert_eq!((hash.len(), hash.live_len(101)), (2, 1));
        assert!(!hash.remove(b"a", 101));
        assert_eq!(hash.soonest_expiry(), Some(100));
        assert_eq!(hash.remove_expired(101, 0), 0);
        assert_eq!(hash.remove_expired(101, usize::MAX), 1);
        assert_eq!((hash.len(), hash.soonest_expiry()), (1, None));
    }
}
