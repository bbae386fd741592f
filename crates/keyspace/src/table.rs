//! A slot table: the keys of one hash slot of one database, behind that slot's own lock.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use parking_lot::{Mutex, MutexGuard};

use crate::entry::Entry;

/// Keys removed because their time to live ran out, since start (INFO `expired_keys`).
pub static EXPIRED_KEYS: AtomicU64 = AtomicU64::new(0);

/// The keys of one slot. Every method that can change whether an entry has an expiry keeps the
/// count of such entries (`volatile`) exact, which the active expiry cycle and INFO rely on.
#[derive(Default)]
pub struct SlotTable {
    map: HashMap<Box<[u8]>, Entry>,
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
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile as usize
    }

    /// Looks up a live entry, removing it first if it has expired.
    #[inline]
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let expired = self.map.get(key)?.is_expired(now_ms);
        if expired {
            self.remove_expired(key);
            return None;
        }
        self.map.get_mut(key)
    }

    /// Whether a live entry exists (expired entries are removed).
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    fn remove_expired(&mut self, key: &[u8]) {
        if self.remove(key).is_some() {
            EXPIRED_KEYS.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stores `entry` under `key`, replacing any entry, and applies `expire`. Returns the entry
    /// replaced. The key's bytes are copied only when the key is new.
    pub fn insert(&mut self, key: &[u8], mut entry: Entry, expire: ExpireUpdate) -> Option<Entry> {
        match self.map.entry_ref(key) {
            EntryRef::Occupied(mut occupied) => {
                let old_expire = occupied.get().expire_at_ms;
                entry.expire_at_ms = match expire {
                    ExpireUpdate::Clear => 0,
                    ExpireUpdate::Keep => old_expire,
                    ExpireUpdate::At(at) => at,
                };
                self.volatile =
                    self.volatile + u32::from(entry.expire_at_ms != 0) - u32::from(old_expire != 0);
                Some(std::mem::replace(occupied.get_mut(), entry))
            }
            EntryRef::Vacant(vacant) => {
                entry.expire_at_ms = match expire {
                    ExpireUpdate::At(at) => at,
                    _ => 0,
                };
                self.volatile += u32::from(entry.expire_at_ms != 0);
                vacant.insert(entry);
                None
            }
        }
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.map.remove(key)?;
        self.volatile -= u32::from(entry.expire_at_ms != 0);
        Some(entry)
    }

    /// Removes and returns an entry together with its stored key (RENAME, MOVE).
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(Box<[u8]>, Entry)> {
        let (key, entry) = self.map.remove_entry(key)?;
        self.volatile -= u32::from(entry.expire_at_ms != 0);
        Some((key, entry))
    }

    /// Puts back an entry with its key and expiry as they are (RENAME, MOVE, SWAPDB).
    pub fn insert_entry(&mut self, key: Box<[u8]>, entry: Entry) -> Option<Entry> {
        self.volatile += u32::from(entry.expire_at_ms != 0);
        let old = self.map.insert(key, entry)?;
        self.volatile -= u32::from(old.expire_at_ms != 0);
        Some(old)
    }

    /// Sets or clears the expiry of an existing key. Returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at_ms: Option<u64>) -> bool {
        let Some(entry) = self.map.get_mut(key) else {
            return false;
        };
        let new = at_ms.unwrap_or(0);
        self.volatile = self.volatile + u32::from(new != 0) - u32::from(entry.expire_at_ms != 0);
        entry.expire_at_ms = new;
        true
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map.iter().map(|(key, entry)| (&key[..], entry))
    }

    /// The `index`-th entry in table order (RANDOMKEY); O(index).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &Entry)> {
        self.iter().nth(index)
    }

    pub fn clear(&mut self) {
        self.map = HashMap::default();
        self.volatile = 0;
    }

    /// Removes every expired entry; returns (entries with an expiry checked, entries removed).
    pub fn remove_all_expired(&mut self, now_ms: u64) -> (usize, usize) {
        if self.volatile == 0 {
            return (0, 0);
        }
        let checked = self.volatile as usize;
        let before = self.map.len();
        self.map.retain(|_, entry| !entry.is_expired(now_ms));
        let removed = before - self.map.len();
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
            .store(self.table.map.len() as u32, Ordering::Relaxed);
        self.slot
            .volatile
            .store(self.table.volatile, Ordering::Relaxed);
    }
}
