//! A slot table: the keys of one hash slot of one database, behind that slot's own lock.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::LazyLock;

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::{Mutex, MutexGuard};

use crate::bytes::CompactBytes;
use crate::entry::Entry;

/// Keys removed because their time to live ran out, since start (INFO `expired_keys`).
pub static EXPIRED_KEYS: AtomicU64 = AtomicU64::new(0);

/// The key hasher: seeded at random once per process, because keys come from clients.
static HASHER: LazyLock<DefaultHashBuilder> = LazyLock::new(DefaultHashBuilder::default);

#[inline]
fn hash(key: &[u8]) -> u64 {
    HASHER.hash_one(key)
}

/// A key and its entry, stored together in the table.
#[derive(Clone)]
struct Bucket {
    key: CompactBytes,
    entry: Entry,
}

/// The keys of one slot. Every method that can change whether an entry has an expiry keeps the
/// count of such entries (`volatile`) exact, which the active expiry cycle and INFO rely on.
#[derive(Default)]
pub struct SlotTable {
    table: HashTable<Bucket>,
    volatile: u32,
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

impl SlotTable {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile as usize
    }

    /// Looks up a live entry, removing it first if it has expired. One hash lookup.
    #[inline]
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let found = self
            .table
            .find_entry(hash(key), |bucket| bucket.key.as_bytes() == key)
            .ok()?;
        if found.get().entry.is_expired(now_ms) {
            let (bucket, _) = found.remove();
            self.volatile -= 1;
            EXPIRED_KEYS.fetch_add(1, Ordering::Relaxed);
            drop(bucket);
            return None;
        }
        Some(&mut found.into_mut().entry)
    }

    /// Whether a live entry exists (expired entries are removed).
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores `entry` under `key`, replacing any entry, and applies `expire`. Returns the entry
    /// replaced. One hash lookup.
    pub fn insert(&mut self, key: &[u8], mut entry: Entry, expire: ExpireUpdate) -> Option<Entry> {
        let hash = hash(key);
        match self.table.entry(
            hash,
            |bucket| bucket.key.as_bytes() == key,
            |bucket| self::hash(&bucket.key),
        ) {
            TableEntry::Occupied(mut occupied) => {
                let old_expire = occupied.get().entry.expire_at_ms;
                entry.expire_at_ms = match expire {
                    ExpireUpdate::Clear => 0,
                    ExpireUpdate::Keep => old_expire,
                    ExpireUpdate::At(at) => at,
                };
                self.volatile =
                    self.volatile + u32::from(entry.expire_at_ms != 0) - u32::from(old_expire != 0);
                Some(std::mem::replace(&mut occupied.get_mut().entry, entry))
            }
            TableEntry::Vacant(vacant) => {
                entry.expire_at_ms = match expire {
                    ExpireUpdate::At(at) => at,
                    _ => 0,
                };
                self.volatile += u32::from(entry.expire_at_ms != 0);
                vacant.insert(Bucket {
                    key: CompactBytes::new(key),
                    entry,
                });
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_entry(key).map(|(_, entry)| entry)
    }

    /// Removes and returns an entry together with its stored key (RENAME, MOVE).
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(CompactBytes, Entry)> {
        let found = self
            .table
            .find_entry(hash(key), |bucket| bucket.key.as_bytes() == key)
            .ok()?;
        let (bucket, _) = found.remove();
        self.volatile -= u32::from(bucket.entry.expire_at_ms != 0);
        Some((bucket.key, bucket.entry))
    }

    /// Puts back an entry with its key and expiry as they are (RENAME, MOVE, COPY).
    pub fn insert_entry(&mut self, key: CompactBytes, entry: Entry) -> Option<Entry> {
        self.volatile += u32::from(entry.expire_at_ms != 0);
        let old = self.remove(&key);
        let hash = hash(&key);
        self.table
            .insert_unique(hash, Bucket { key, entry }, |bucket| {
                self::hash(&bucket.key)
            });
        old
    }

    /// Sets or clears the expiry of an existing key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at_ms: Option<u64>) -> bool {
        let Some(bucket) = self
            .table
            .find_mut(hash(key), |bucket| bucket.key.as_bytes() == key)
        else {
            return false;
        };
        let new = at_ms.unwrap_or(0);
        self.volatile =
            self.volatile + u32::from(new != 0) - u32::from(bucket.entry.expire_at_ms != 0);
        bucket.entry.expire_at_ms = new;
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.table
            .iter()
            .map(|bucket| (bucket.key.as_bytes(), &bucket.entry))
    }

    /// The `index`-th entry in table order (RANDOMKEY); O(index).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &Entry)> {
        self.iter().nth(index)
    }

    pub fn clear(&mut self) {
        self.table = HashTable::new();
        self.volatile = 0;
    }

    /// Removes every expired entry; returns (entries with an expiry checked, entries removed).
    pub fn remove_all_expired(&mut self, now_ms: u64) -> (usize, usize) {
        if self.volatile == 0 {
            return (0, 0);
        }
        let checked = self.volatile as usize;
        let before = self.table.len();
        self.table.retain(|bucket| !bucket.entry.is_expired(now_ms));
        let removed = before - self.table.len();
        self.volatile -= removed as u32;
        EXPIRED_KEYS.fetch_add(removed as u64, Ordering::Relaxed);
        (checked, removed)
    }
}

/// One slot of one database: its table behind its own lock, and lock-free copies of its sizes
/// so DBSIZE, INFO and SCAN can skip empty slots without taking the lock.
#[derive(Default)]
pub struct Slot {
    table: Mutex<SlotTable>,
    keys: AtomicU32,
    volatile: AtomicU32,
}

impl Slot {
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
}

/// A locked slot table. Dropping it publishes the table's sizes and unlocks.
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
        self.slot
            .keys
            .store(self.table.table.len() as u32, Ordering::Relaxed);
        self.slot
            .volatile
            .store(self.table.volatile, Ordering::Relaxed);
    }
}
