//! A slot table: the keys of one hash slot of one database, behind that slot's own lock.
//!
//! The table is open addressing over cache-line groups, built for few cache misses per lookup
//! and for prefetching. A group is one 64-byte line: seven 1-byte tags (the top bits of the
//! key's hash; 0 = empty) and seven pointers to buckets, each bucket one allocation holding the
//! entry and the key's bytes (see `bucket.rs`). A lookup reads the key's home group, compares tags, and follows only
//! matching pointers: one line of the table and one bucket. Groups that were ever full when an
//! insert passed them carry an overflow bit, and only then does a lookup go on to the next group;
//! removal just empties the position.
//!
//! Tags and pointers are atomics written only under the slot's lock. That lets the worker look
//! at a slot's group address without the lock, to prefetch the lines the next commands of a
//! pipeline will need (see [`Slot::prefetch`]); nothing read that way is ever dereferenced.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;

use hashbrown::DefaultHashBuilder;
use parking_lot::{Mutex, MutexGuard};

use crate::bucket::{self, Tagged};
use crate::bytes::CompactBytes;
use crate::entry::Entry;
use crate::events::{self, KeyEvent};
use crate::release::{release, Removal};

/// Keys removed because their time to live ran out, since start (INFO `expired_keys`).
pub static EXPIRED_KEYS: AtomicU64 = AtomicU64::new(0);

/// The key hasher: seeded at random once per process, because keys come from clients.
static HASHER: LazyLock<DefaultHashBuilder> = LazyLock::new(DefaultHashBuilder::default);

/// The hash of a key as the slot tables use it.
#[inline]
pub fn key_hash(key: &[u8]) -> u64 {
    HASHER.hash_one(key)
}

/// Positions per group: seven pointers and a tag word fill a 64-byte line.
const GROUP_WIDTH: usize = 7;
/// The tag word's eighth byte holds the overflow bit.
const OVERFLOW_BIT: u64 = 1 << 56;

/// The home group of `hash` among `groups`: the low 32 bits of the hash scaled to the count (the
/// tag comes from the top bits, so the two stay independent).
#[inline]
fn home_group(hash: u64, groups: usize) -> usize {
    (((hash & 0xFFFF_FFFF) * groups as u64) >> 32) as usize
}

#[inline]
fn tag_of(hash: u64) -> u8 {
    (hash >> 57) as u8 | 0x80
}

#[repr(C, align(64))]
#[derive(Default)]
struct Group {
    tags: AtomicU64,
    buckets: [AtomicPtr<Entry>; GROUP_WIDTH],
}

impl Group {
    #[inline]
    fn tag(tags: u64, position: usize) -> u8 {
        (tags >> (position * 8)) as u8
    }
}

/// How a write treats the existing expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireUpdate {
    /// The new entry has no expiry.
    Clear,
    /// The new entry keeps the expiry of the one it replaces (KEEPTTL, APPEND, INCR...).
    Keep,
    /// The new entry expires at this Unix time in milliseconds.
    At(u64),
}

/// The keys of one slot. Every method that can change whether an entry has an expiry keeps the
/// count of such entries (`volatile`) exact, which the active expiry cycle and INFO rely on.
#[derive(Default)]
pub struct SlotTable {
    /// A power-of-two number of groups; empty until the first insert.
    groups: Box<[Group]>,
    len: u32,
    volatile: u32,
    /// The database the table belongs to, for the events it records (see `events`).
    db: u32,
}

// The buckets are owned through the atomic pointers; only the lock holder touches them.
impl Drop for SlotTable {
    fn drop(&mut self) {
        self.free_all();
    }
}

/// Where a key was found: (group, position).
type Position = (usize, usize);

impl SlotTable {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile as usize
    }

    /// The home group of a hash.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        home_group(hash, self.groups.len())
    }

    /// The group after `group`, wrapping around.
    #[inline]
    fn next_group(&self, group: usize) -> usize {
        if group + 1 == self.groups.len() {
            0
        } else {
            group + 1
        }
    }

    #[inline]
    fn tagged(&self, (group, position): Position) -> Tagged {
        self.groups[group].buckets[position].load(Ordering::Relaxed)
    }

    /// The key at a position.
    #[inline]
    fn key_at(&self, position: Position) -> &[u8] {
        // SAFETY: a non-empty tag's pointer is a live bucket owned by this table, and `&self`
        // (under the slot lock) keeps it alive for the returned lifetime.
        unsafe { bucket::key(self.tagged(position)) }
    }

    /// The entry at a position.
    #[inline]
    fn entry_at(&self, position: Position) -> &Entry {
        // SAFETY: as in `key_at`; shared access for the shared borrow.
        unsafe { bucket::entry(self.tagged(position)) }
    }

    #[inline]
    fn entry_at_mut(&mut self, position: Position) -> &mut Entry {
        // SAFETY: as in `key_at`; `&mut self` makes the access exclusive.
        unsafe { bucket::entry(self.tagged(position)) }
    }

    #[inline]
    fn find(&self, hash: u64, key: &[u8]) -> Option<Position> {
        if self.groups.is_empty() {
            return None;
        }
        let tag = tag_of(hash);
        let mut group = self.home(hash);
        for _ in 0..self.groups.len() {
            let tags = self.groups[group].tags.load(Ordering::Relaxed);
            for position in 0..GROUP_WIDTH {
                if Group::tag(tags, position) == tag && self.key_at((group, position)) == key {
                    return Some((group, position));
                }
            }
            if tags & OVERFLOW_BIT == 0 {
                return None;
            }
            group = self.next_group(group);
        }
        None
    }

    /// Takes the bucket out of a position; the caller owns it.
    fn take(&mut self, (group, position): Position) -> Tagged {
        let slot = &self.groups[group];
        let tagged = slot.buckets[position].swap(std::ptr::null_mut(), Ordering::Relaxed);
        let tags = slot.tags.load(Ordering::Relaxed);
        slot.tags
            .store(tags & !(0xFF << (position * 8)), Ordering::Relaxed);
        self.len -= 1;
        // SAFETY: the pointer was live in the table until the swap above.
        let volatile = unsafe { bucket::entry(tagged) }.expire_at_ms != 0;
        self.volatile -= u32::from(volatile);
        tagged
    }

    /// Removes and frees the bucket at a position, returning its entry.
    fn take_entry(&mut self, position: Position) -> Entry {
        let tagged = self.take(position);
        // SAFETY: `take` handed over the only owner of a live bucket.
        unsafe { bucket::free(tagged) }
    }

    /// Puts a bucket for a key known to be absent; grows first when needed.
    fn place(&mut self, hash: u64, tagged: Tagged) {
        if (self.len as usize + 1) * 8 > self.groups.len() * GROUP_WIDTH * 7 {
            self.grow();
        }
        // SAFETY: the caller hands over a live bucket.
        let volatile = unsafe { bucket::entry(tagged) }.expire_at_ms != 0;
        self.volatile += u32::from(volatile);
        self.len += 1;
        let tag = tag_of(hash);
        let mut group = self.home(hash);
        loop {
            let slot = &self.groups[group];
            let tags = slot.tags.load(Ordering::Relaxed);
            if let Some(position) = (0..GROUP_WIDTH).find(|&p| Group::tag(tags, p) == 0) {
                slot.buckets[position].store(tagged, Ordering::Relaxed);
                slot.tags
                    .store(tags | u64::from(tag) << (position * 8), Ordering::Relaxed);
                return;
            }
            slot.tags.store(tags | OVERFLOW_BIT, Ordering::Relaxed);
            group = self.next_group(group);
        }
    }

    /// Grows the groups by half (or makes the first one) and re-places every bucket. Growing by
    /// half rather than doubling keeps the table between about 58% and 87% full, which is most
    /// of its memory per key; any group count works, since the home group is found by range
    /// reduction rather than by masking.
    fn grow(&mut self) {
        let count = (self.groups.len() * 3).div_ceil(2).max(1);
        let old = std::mem::replace(
            &mut self.groups,
            (0..count).map(|_| Group::default()).collect(),
        );
        let (len, volatile) = (self.len, self.volatile);
        self.len = 0;
        self.volatile = 0;
        for group in old.iter() {
            for position in 0..GROUP_WIDTH {
                let tagged = group.buckets[position].load(Ordering::Relaxed);
                if !tagged.is_null() {
                    // SAFETY: each live pointer is owned by the old groups, which are dropped
                    // right after without freeing buckets (Group has no Drop).
                    let hash = key_hash(unsafe { bucket::key(tagged) });
                    self.place(hash, tagged);
                }
            }
        }
        debug_assert_eq!((self.len, self.volatile), (len, volatile));
    }

    fn free_all(&mut self) {
        for group in self.groups.iter() {
            for position in 0..GROUP_WIDTH {
                let tagged = group.buckets[position].swap(std::ptr::null_mut(), Ordering::Relaxed);
                if !tagged.is_null() {
                    // SAFETY: owned live bucket, freed once (the pointer is cleared above).
                    drop(unsafe { bucket::free(tagged) });
                }
            }
        }
    }

    /// Looks up a live entry, removing it first if it has expired.
    #[inline]
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let position = self.find(key_hash(key), key)?;
        if self.entry_at(position).is_expired(now_ms) {
            events::record(self.db, KeyEvent::Expired, key);
            release(self.take_entry(position).value, Removal::Expire);
            EXPIRED_KEYS.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let entry = self.entry_at_mut(position);
        crate::evict::on_lookup(entry, now_ms);
        Some(entry)
    }

    /// Looks up an entry without the expiry check, for a command that already looked the key up
    /// with [`SlotTable::get`] under the same lock and now needs shared access to several keys.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        let position = self.find(key_hash(key), key)?;
        Some(self.entry_at(position))
    }

    /// Whether a live entry exists (expired entries are removed).
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores `entry` under `key`, replacing any entry (whose value is let go of as
    /// `lazyfree-lazy-server-del` says, see `release`), and applies `expire`.
    pub fn insert(&mut self, key: &[u8], mut entry: Entry, expire: ExpireUpdate) {
        let hash = key_hash(key);
        match self.find(hash, key) {
            Some(position) => {
                let old_expire = self.entry_at(position).expire_at_ms;
                entry.expire_at_ms = match expire {
                    ExpireUpdate::Clear => 0,
                    ExpireUpdate::Keep => old_expire,
                    ExpireUpdate::At(at) => at,
                };
                self.volatile =
                    self.volatile + u32::from(entry.expire_at_ms != 0) - u32::from(old_expire != 0);
                crate::evict::on_overwrite(&mut entry.access, self.entry_at(position).access);
                let old = std::mem::replace(self.entry_at_mut(position), entry);
                release(old.value, Removal::Overwrite);
            }
            None => {
                entry.expire_at_ms = match expire {
                    ExpireUpdate::At(at) => at,
                    _ => 0,
                };
                self.place(hash, bucket::new(key, entry));
                events::record(self.db, KeyEvent::Created, key);
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_entry(key).map(|(_, entry)| entry)
    }

    /// Removes and returns an entry together with its stored key (RENAME, MOVE).
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(CompactBytes, Entry)> {
        let position = self.find(key_hash(key), key)?;
        let stored = CompactBytes::new(self.key_at(position));
        Some((stored, self.take_entry(position)))
    }

    /// Puts back an entry with its key and expiry as they are (RENAME, MOVE, COPY).
    pub fn insert_entry(&mut self, key: CompactBytes, entry: Entry) -> Option<Entry> {
        let old = self.remove(&key);
        self.place(key_hash(&key), bucket::new(&key, entry));
        if old.is_none() {
            events::record(self.db, KeyEvent::Created, &key);
        }
        old
    }

    /// Sets or clears the expiry of an existing key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at_ms: Option<u64>) -> bool {
        let Some(position) = self.find(key_hash(key), key) else {
            return false;
        };
        let new = at_ms.unwrap_or(0);
        let entry = self.entry_at_mut(position);
        let old = entry.expire_at_ms;
        entry.expire_at_ms = new;
        self.volatile = self.volatile + u32::from(new != 0) - u32::from(old != 0);
        true
    }

    fn positions(&self) -> impl Iterator<Item = Position> + '_ {
        self.groups.iter().enumerate().flat_map(|(group, slot)| {
            let tags = slot.tags.load(Ordering::Relaxed);
            (0..GROUP_WIDTH)
                .filter(move |&position| Group::tag(tags, position) != 0)
                .map(move |position| (group, position))
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.positions()
            .map(|position| (self.key_at(position), self.entry_at(position)))
    }

    /// The `index`-th entry in table order (RANDOMKEY); O(index).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &Entry)> {
        self.iter().nth(index)
    }

    /// Exchanges the database numbers of two tables whose contents were exchanged (SWAPDB),
    /// so that each stays with its database.
    pub fn swap_db(&mut self, other: &mut SlotTable) {
        std::mem::swap(&mut self.db, &mut other.db);
    }

    pub fn clear(&mut self) {
        self.free_all();
        self.groups = Box::default();
        self.len = 0;
        self.volatile = 0;
    }

    /// One step of the active expiry cycle: removes the expired entries of the groups from
    /// `from` on, stopping after the group in which `max_checked` entries with an expiry have
    /// been looked at, so a big table is visited in bounded steps. The cursor is a group index:
    /// if the table grows between two steps, some entries are met twice or not at all in this
    /// pass, and a later pass finds them.
    pub fn remove_expired(&mut self, from: usize, max_checked: usize, now_ms: u64) -> ExpiredScan {
        let mut scan = ExpiredScan::default();
        // From the start, the scan can stop once it has met every entry with an expiry.
        let volatile = if from == 0 {
            self.volatile as usize
        } else {
            usize::MAX
        };
        let mut group = from;
        while group < self.groups.len() && scan.checked < volatile {
            let tags = self.groups[group].tags.load(Ordering::Relaxed);
            for position in (0..GROUP_WIDTH).filter(|&p| Group::tag(tags, p) != 0) {
                let entry = self.entry_at((group, position));
                if entry.expire_at_ms == 0 {
                    continue;
                }
                scan.checked += 1;
                if entry.is_expired(now_ms) {
                    if events::recording_any() {
                        events::record(self.db, KeyEvent::Expired, self.key_at((group, position)));
                    }
                    release(self.take_entry((group, position)).value, Removal::Expire);
                    scan.expired += 1;
                }
            }
            group += 1;
            if scan.checked >= max_checked && group < self.groups.len() && scan.checked < volatile {
                scan.next = Some(group);
                break;
            }
        }
        EXPIRED_KEYS.fetch_add(scan.expired as u64, Ordering::Relaxed);
        scan
    }
}

/// What one step of the active expiry cycle did in a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpiredScan {
    /// Entries with an expiry looked at.
    pub checked: usize,
    /// Of those, the ones removed.
    pub expired: usize,
    /// The group to resume from, or None when the step reached the table's end.
    pub next: Option<usize>,
}

impl SlotTable {
    /// Eviction's sampling: visits up to `count` entries (only those with an expiry when
    /// `volatile_only`), in table order from a position chosen by `start` and wrapping around,
    /// each at most once. Returns how many were visited.
    pub fn sample(
        &self,
        start: u64,
        count: usize,
        volatile_only: bool,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> usize {
        if self.len == 0 || (volatile_only && self.volatile == 0) {
            return 0;
        }
        let groups = self.groups.len();
        let first = (start % groups as u64) as usize;
        let mut visited = 0;
        for step in 0..groups {
            let group = (first + step) % groups;
            let tags = self.groups[group].tags.load(Ordering::Relaxed);
            for position in 0..GROUP_WIDTH {
                if Group::tag(tags, position) == 0 {
                    continue;
                }
                let entry = self.entry_at((group, position));
                if volatile_only && entry.expire_at_ms == 0 {
                    continue;
                }
                visit(self.key_at((group, position)), entry);
                visited += 1;
                if visited == count {
                    return visited;
                }
            }
        }
        visited
    }
}

/// One slot of one database: its table behind its own lock, lock-free copies of its sizes (for
/// DBSIZE, INFO and SCAN to skip empty slots), and of its group array's address (for prefetch).
#[derive(Default)]
#[repr(align(64))]
pub struct Slot {
    table: Mutex<SlotTable>,
    keys: AtomicU32,
    volatile: AtomicU32,
    groups_hint: AtomicPtr<u8>,
    groups_hint_len: AtomicUsize,
}

impl Slot {
    /// An empty slot of database `db`.
    pub fn new(db: usize) -> Slot {
        let slot = Slot::default();
        slot.table.lock().db = db as u32;
        slot
    }

    #[inline]
    pub fn lock(&self) -> SlotGuard<'_> {
        SlotGuard {
            table: self.table.lock(),
            slot: self,
        }
    }

    /// The key count as of the last unlock.
    #[inline]
    pub fn len(&self) -> usize {
        self.keys.load(Ordering::Relaxed) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile.load(Ordering::Relaxed) as usize
    }

    /// Asks the CPU to start loading this slot's header (lock and table) into cache.
    #[inline]
    pub fn prefetch_header(&self) {
        prefetch(self as *const Slot as *const u8);
    }

    /// Asks the CPU to start loading the buckets whose tags match `hash` in its home group. Takes
    /// the lock only if it is free at once; with it contended, prefetching is not worth a wait.
    #[inline]
    pub fn prefetch_buckets(&self, hash: u64) {
        let Some(table) = self.table.try_lock() else {
            return;
        };
        if table.groups.is_empty() {
            return;
        }
        let group = &table.groups[table.home(hash)];
        let tags = group.tags.load(Ordering::Relaxed);
        let tag = tag_of(hash);
        for position in 0..GROUP_WIDTH {
            if Group::tag(tags, position) == tag {
                prefetch(bucket::address(
                    group.buckets[position].load(Ordering::Relaxed),
                ));
            }
        }
    }

    /// Asks the CPU to start loading the group line where `hash` would be found. Reads only the
    /// lock-free address hint; a stale hint just prefetches a useless line.
    #[inline]
    pub fn prefetch_group(&self, hash: u64) {
        let groups = self.groups_hint.load(Ordering::Relaxed);
        if groups.is_null() {
            return;
        }
        let group = home_group(hash, self.groups_hint_len.load(Ordering::Relaxed));
        prefetch(groups.wrapping_add(group * std::mem::size_of::<Group>()));
    }
}

/// A hint to the CPU's cache; never faults, whatever the address.
#[inline]
fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect and never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch(address as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// A locked slot table. Dropping it publishes the table's sizes and group address, and unlocks.
pub struct SlotGuard<'a> {
    table: MutexGuard<'a, SlotTable>,
    slot: &'a Slot,
}

impl std::ops::Deref for SlotGuard<'_> {
    type Target = SlotTable;
    fn deref(&self) -> &SlotTable {
        &self.table
    }
}

impl std::ops::DerefMut for SlotGuard<'_> {
    fn deref_mut(&mut self) -> &mut SlotTable {
        &mut self.table
    }
}

impl Drop for SlotGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let slot = self.slot;
        slot.keys.store(self.table.len, Ordering::Relaxed);
        slot.volatile.store(self.table.volatile, Ordering::Relaxed);
        slot.groups_hint
            .store(self.table.groups.as_ptr() as *mut u8, Ordering::Relaxed);
        slot.groups_hint_len
            .store(self.table.groups.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::{StrValue, Value};

    fn entry(n: u8) -> Entry {
        Entry::new(Value::Str(StrValue::Int(i64::from(n))), 0)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8, bool),
        Remove(u8),
        Get(u8),
        Expire(u8, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(k, v, e)| Op::Insert(k, v, e)),
            any::<u8>().prop_map(Op::Remove),
            any::<u8>().prop_map(Op::Get),
            (any::<u8>(), any::<bool>()).prop_map(|(k, e)| Op::Expire(k, e)),
        ]
    }

    proptest! {
        /// The table behaves as a map, with the expiry count kept exact, through growth.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec(op(), 0..600)) {
            let mut table = SlotTable::default();
            let mut model: HashMap<Vec<u8>, (u8, bool)> = HashMap::new();
            let key = |k: u8| format!("key:{}", k % 97).into_bytes();
            for op in ops {
                match op {
                    Op::Insert(k, v, expires) => {
                        let update = if expires { ExpireUpdate::At(u64::MAX) } else { ExpireUpdate::Clear };
                        table.insert(&key(k), entry(v), update);
                        model.insert(key(k), (v, expires));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(table.remove(&key(k)).is_some(), model.remove(&key(k)).is_some());
                    }
                    Op::Get(k) => {
                        let got = table.get(&key(k), 0).map(|e| e.value.clone());
                        let want = model.get(&key(k)).map(|(v, _)| Value::Str(StrValue::Int(i64::from(*v))));
                        prop_assert_eq!(got, want);
                    }
                    Op::Expire(k, on) => {
                        let at = on.then_some(u64::MAX);
                        prop_assert_eq!(table.set_expire(&key(k), at), model.contains_key(&key(k)));
                        if let Some(value) = model.get_mut(&key(k)) {
                            value.1 = on;
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                prop_assert_eq!(table.volatile_len(), model.values().filter(|(_, e)| *e).count());
            }
            prop_assert_eq!(table.iter().count(), model.len());
        }
    }

    #[test]
    fn a_group_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }
}
