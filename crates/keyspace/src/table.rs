//! A slot table: the keys of one hash slot of one database, behind that slot's own lock.
//!
//! The table is open addressing over cache-line groups, built for few cache misses per lookup
//! and for prefetching. A group is one 64-byte line holding nine positions:
//!
//! ```text
//! bytes  0 ..  9   nine 1-byte tags: the top 7 bits of the key's hash, with the high bit set
//!                  (0 = an empty position)
//!        9         overflow flag
//!       10 .. 64   nine bucket pointers of 6 bytes each (48-bit addresses, see `bucket.rs`)
//! ```
//!
//! Each bucket is one allocation holding the entry and the key's bytes. A lookup reads the key's
//! home group, compares tags, and follows only matching pointers: one line of the table and one
//! bucket. Groups that were ever full when an insert passed them carry the overflow flag, and
//! only then does a lookup go on to the next group; removal just empties the position. Six-byte
//! pointers make a position 7.1 bytes of table, where eight-byte ones would make it 9.1.
//!
//! Groups are read and written only under the slot's lock. Without it, the worker reads only a
//! lock-free copy of the group array's address, to prefetch the lines the next commands of a
//! pipeline will need (see [`Slot::prefetch_group`]); nothing read that way is ever dereferenced.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::LazyLock;

use hashbrown::DefaultHashBuilder;
use parking_lot::{Mutex, MutexGuard};

use crate::bucket::{self, Tagged};
use crate::bytes::CompactBytes;
use crate::entry::{Entry, OwnedEntry};
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

/// Positions per group: nine tags, an overflow flag and nine 6-byte pointers fill a 64-byte line.
const GROUP_WIDTH: usize = 9;
/// Bytes of a stored bucket pointer.
const POINTER_BYTES: usize = bucket::POINTER_BITS as usize / 8;

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
    tags: [u8; GROUP_WIDTH],
    overflow: bool,
    pointers: [[u8; POINTER_BYTES]; GROUP_WIDTH],
}

impl Group {
    /// The bucket pointer at a position (meaningless where the tag is 0).
    #[inline]
    fn bucket(&self, position: usize) -> Tagged {
        let mut bits = [0u8; 8];
        bits[..POINTER_BYTES].copy_from_slice(&self.pointers[position]);
        // The pointer's provenance was exposed when it was stored (`set_bucket`).
        std::ptr::with_exposed_provenance_mut(u64::from_le_bytes(bits) as usize)
    }

    #[inline]
    fn set_bucket(&mut self, position: usize, tagged: Tagged) {
        let bits = (tagged.expose_provenance() as u64).to_le_bytes();
        debug_assert!(bits[POINTER_BYTES..].iter().all(|&byte| byte == 0));
        self.pointers[position].copy_from_slice(&bits[..POINTER_BYTES]);
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
        self.groups[group].bucket(position)
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
            let slot = &self.groups[group];
            for position in 0..GROUP_WIDTH {
                if slot.tags[position] == tag && self.key_at((group, position)) == key {
                    return Some((group, position));
                }
            }
            if !slot.overflow {
                return None;
            }
            group = self.next_group(group);
        }
        None
    }

    /// Takes the bucket out of a position; the caller owns it.
    fn take(&mut self, (group, position): Position) -> Tagged {
        let slot = &mut self.groups[group];
        let tagged = slot.bucket(position);
        slot.tags[position] = 0;
        self.len -= 1;
        self.volatile -= u32::from(bucket::has_expiry(tagged));
        tagged
    }

    /// Removes and frees the bucket at a position, returning its entry.
    fn take_entry(&mut self, position: Position) -> OwnedEntry {
        let tagged = self.take(position);
        // SAFETY: `take` handed over the only owner of a live bucket.
        unsafe { bucket::free(tagged) }
    }

    /// Puts a bucket for a key known to be absent; grows first when needed.
    fn place(&mut self, hash: u64, tagged: Tagged) {
        if (self.len as usize + 1) * 8 > self.groups.len() * GROUP_WIDTH * 7 {
            self.grow();
        }
        self.volatile += u32::from(bucket::has_expiry(tagged));
        self.len += 1;
        let tag = tag_of(hash);
        let mut group = self.home(hash);
        loop {
            let next = self.next_group(group);
            let slot = &mut self.groups[group];
            if let Some(position) = slot.tags.iter().position(|&t| t == 0) {
                slot.set_bucket(position, tagged);
                slot.tags[position] = tag;
                return;
            }
            slot.overflow = true;
            group = next;
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
                if group.tags[position] != 0 {
                    let tagged = group.bucket(position);
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
        for group in self.groups.iter_mut() {
            for position in 0..GROUP_WIDTH {
                if group.tags[position] != 0 {
                    group.tags[position] = 0;
                    // SAFETY: owned live bucket, freed once (its tag is cleared above).
                    drop(unsafe { bucket::free(group.bucket(position)) });
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
    /// `lazyfree-lazy-server-del` says, see `release`), and applies `expire` (the entry's own
    /// expiry is not used).
    pub fn insert(&mut self, key: &[u8], mut entry: OwnedEntry, expire: ExpireUpdate) {
        let hash = key_hash(key);
        match self.find(hash, key) {
            Some(position) => {
                let old_expire = self.entry_at(position).expire_at_ms();
                let new_expire = match expire {
                    ExpireUpdate::Clear => None,
                    ExpireUpdate::Keep => old_expire,
                    ExpireUpdate::At(at) => Some(at),
                };
                if new_expire != old_expire {
                    self.set_expire_at(position, new_expire);
                }
                let stored = self.entry_at_mut(position);
                crate::evict::on_overwrite(&mut entry.access, stored.access);
                stored.access = entry.access;
                let old = std::mem::replace(&mut stored.value, entry.value);
                release(old, Removal::Overwrite);
            }
            None => {
                entry.expire_at_ms = match expire {
                    ExpireUpdate::At(at) => Some(at),
                    _ => None,
                };
                self.place(hash, bucket::new(key, entry));
                events::record(self.db, KeyEvent::Created, key);
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<OwnedEntry> {
        self.remove_entry(key).map(|(_, entry)| entry)
    }

    /// Removes and returns an entry together with its stored key (RENAME, MOVE).
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(CompactBytes, OwnedEntry)> {
        let position = self.find(key_hash(key), key)?;
        let stored = CompactBytes::new(self.key_at(position));
        Some((stored, self.take_entry(position)))
    }

    /// Puts back an entry with its key and expiry as they are (RENAME, MOVE, COPY).
    pub fn insert_entry(&mut self, key: CompactBytes, entry: OwnedEntry) -> Option<OwnedEntry> {
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
        self.set_expire_at(position, at_ms);
        true
    }

    /// Sets or clears the expiry at a position, storing the bucket's new pointer when it moves
    /// and keeping the count of entries with an expiry.
    fn set_expire_at(&mut self, (group, position): Position, at_ms: Option<u64>) {
        let slot = &mut self.groups[group];
        let tagged = slot.bucket(position);
        let had = bucket::has_expiry(tagged);
        // SAFETY: a live bucket owned by this table, accessed under `&mut self`; its new pointer
        // replaces the old one at once.
        let moved = unsafe { bucket::set_expiry(tagged, at_ms) };
        slot.set_bucket(position, moved);
        self.volatile = self.volatile + u32::from(at_ms.is_some()) - u32::from(had);
    }

    fn positions(&self) -> impl Iterator<Item = Position> + '_ {
        self.groups.iter().enumerate().flat_map(|(group, slot)| {
            (0..GROUP_WIDTH)
                .filter(move |&position| slot.tags[position] != 0)
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
            for position in 0..GROUP_WIDTH {
                let slot = &self.groups[group];
                if slot.tags[position] == 0 || !bucket::has_expiry(slot.bucket(position)) {
                    continue;
                }
                scan.checked += 1;
                if self.entry_at((group, position)).is_expired(now_ms) {
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
            let slot = &self.groups[group];
            for position in 0..GROUP_WIDTH {
                if slot.tags[position] == 0
                    || (volatile_only && !bucket::has_expiry(slot.bucket(position)))
                {
                    continue;
                }
                visit(
                    self.key_at((group, position)),
                    self.entry_at((group, position)),
                );
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
        let tag = tag_of(hash);
        for position in 0..GROUP_WIDTH {
            if group.tags[position] == tag {
                prefetch(bucket::address(group.bucket(position)));
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

    fn entry(n: u8) -> OwnedEntry {
        OwnedEntry::new(Value::Str(StrValue::Int(i64::from(n))), 0)
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Key, value, expiry update (0 clear, 1 keep, 2.. at that time).
        Insert(u8, u8, u8),
        Remove(u8),
        Get(u8),
        /// Key, expiry (None clears).
        Expire(u8, Option<u8>),
        /// Moves a key's entry, expiry included, to another key (RENAME).
        Rename(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(k, v, e)| Op::Insert(k, v, e % 4)),
            any::<u8>().prop_map(Op::Remove),
            any::<u8>().prop_map(Op::Get),
            (any::<u8>(), any::<Option<u8>>()).prop_map(|(k, e)| Op::Expire(k, e)),
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Rename(a, b)),
        ]
    }

    /// Expiry times far in the future, so that lookups at time 0 never expire anything.
    fn at(n: u8) -> u64 {
        u64::MAX - u64::from(n)
    }

    proptest! {
        /// The table behaves as a map of values and expiries, with the expiry count kept
        /// exact, through growth and through buckets moving as they gain or lose an expiry.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec(op(), 0..600)) {
            let mut table = SlotTable::default();
            let mut model: HashMap<Vec<u8>, (u8, Option<u64>)> = HashMap::new();
            // Keys of several lengths, some long enough to store their length in the bucket.
            let key = |k: u8| {
                let k = k % 97;
                let mut name = format!("key:{k}").into_bytes();
                name.resize(name.len() + usize::from(k % 5) * 9 + if k == 3 { 70_000 } else { 0 }, b'.');
                name
            };
            for op in ops {
                match op {
                    Op::Insert(k, v, update) => {
                        let (update, want) = match update {
                            0 => (ExpireUpdate::Clear, None),
                            1 => (ExpireUpdate::Keep, model.get(&key(k)).and_then(|(_, e)| *e)),
                            n => (ExpireUpdate::At(at(n)), Some(at(n))),
                        };
                        let old = table.peek(&key(k)).map(|e| (e.value.clone(), e.expire_at_ms()));
                        table.insert(&key(k), entry(v), update);
                        let old_model = model.insert(key(k), (v, want));
                        prop_assert_eq!(old, old_model.map(|(v, e)| (entry(v).value, e)));
                    }
                    Op::Remove(k) => {
                        let removed = table.remove(&key(k)).map(|e| (e.value, e.expire_at_ms));
                        let want = model.remove(&key(k)).map(|(v, e)| (entry(v).value, e));
                        prop_assert_eq!(removed, want);
                    }
                    Op::Get(k) => {
                        let got = table.get(&key(k), 0).map(|e| (e.value.clone(), e.expire_at_ms()));
                        let want = model.get(&key(k)).map(|(v, e)| (entry(*v).value, *e));
                        prop_assert_eq!(got, want);
                    }
                    Op::Expire(k, when) => {
                        let when = when.map(at);
                        prop_assert_eq!(table.set_expire(&key(k), when), model.contains_key(&key(k)));
                        if let Some(value) = model.get_mut(&key(k)) {
                            value.1 = when;
                        }
                    }
                    Op::Rename(a, b) => {
                        if let Some((_, moved)) = table.remove_entry(&key(a)) {
                            table.insert_entry(key(b).as_slice().into(), moved);
                            let moved = model.remove(&key(a)).expect("in the model too");
                            model.insert(key(b), moved);
                        } else {
                            prop_assert!(!model.contains_key(&key(a)));
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                prop_assert_eq!(table.volatile_len(), model.values().filter(|(_, e)| e.is_some()).count());
            }
            prop_assert_eq!(table.iter().count(), model.len());
            for (name, stored) in table.iter() {
                let (value, expiry) = model.get(name).expect("every key is in the model");
                prop_assert_eq!(stored.expire_at_ms(), *expiry);
                prop_assert_eq!(&stored.value, &entry(*value).value);
            }
        }
    }

    #[test]
    fn expired_entries_go_on_lookup_and_in_the_cycle() {
        let mut table = SlotTable::default();
        table.insert(b"a", entry(1), ExpireUpdate::At(100));
        table.insert(b"b", entry(2), ExpireUpdate::At(200));
        table.insert(b"c", entry(3), ExpireUpdate::Clear);
        assert!(table.get(b"a", 100).is_some(), "alive at its expiry time");
        assert!(table.get(b"a", 101).is_none());
        assert_eq!((table.len(), table.volatile_len()), (2, 1));
        let scan = table.remove_expired(0, usize::MAX, 201);
        assert_eq!((scan.checked, scan.expired, scan.next), (1, 1, None));
        assert_eq!((table.len(), table.volatile_len()), (1, 0));
        assert!(table.peek(b"c").is_some_and(|e| e.expire_at_ms().is_none()));
    }

    #[test]
    fn stepping_and_sampling_see_only_entries_that_gained_an_expiry() {
        let mut table = SlotTable::default();
        for n in 0..200u8 {
            table.insert(format!("k{n}").as_bytes(), entry(n), ExpireUpdate::Clear);
        }
        for n in (0..200u8).step_by(2) {
            assert!(table.set_expire(format!("k{n}").as_bytes(), Some(100)));
        }
        let mut sampled = Vec::new();
        let visited = table.sample(7, 500, true, |key, stored| {
            assert_eq!(stored.expire_at_ms(), Some(100));
            sampled.push(key.to_vec());
        });
        assert_eq!((visited, sampled.len()), (100, 100));
        let number =
            |key: &[u8]| -> u32 { std::str::from_utf8(&key[1..]).unwrap().parse().unwrap() };
        assert!(sampled.iter().all(|key| number(key) % 2 == 0));
        let (mut from, mut expired, mut steps) = (0, 0, 0);
        loop {
            let scan = table.remove_expired(from, 10, 101);
            expired += scan.expired;
            steps += 1;
            match scan.next {
                Some(next) => from = next,
                None => break,
            }
        }
        assert!(steps > 1, "a bounded step stops early");
        assert_eq!((expired, table.len(), table.volatile_len()), (100, 100, 0));
        assert!(table
            .iter()
            .all(|(_, stored)| stored.expire_at_ms().is_none()));
    }

    #[test]
    fn a_group_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Group>(), 64);
        assert_eq!(std::mem::size_of::<Slot>(), 64);
    }
}
