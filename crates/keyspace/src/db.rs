//! Databases: each is 16384 slot tables, created on first use.

use std::sync::OnceLock;

use rand::Rng;

use crate::crc16::{key_slot, SLOT_COUNT};
use crate::table::{Slot, SlotGuard};

/// The whole data set: `databases` numbered databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
}

/// One numbered database.
#[derive(Default)]
pub struct Db {
    slots: OnceLock<Box<[Slot]>>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases).map(|_| Db::default()).collect(),
        }
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    #[inline]
    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    /// Every database that has been used, with its index.
    pub fn used_dbs(&self) -> impl Iterator<Item = (usize, &Db)> {
        self.dbs.iter().enumerate().filter(|(_, db)| db.is_used())
    }

    /// Locks two slots of two different databases, in (database, slot) order, the one order
    /// every multi-lock in the server follows. Returns the guards in argument order.
    pub fn lock_two(
        &self,
        (db_a, slot_a): (usize, usize),
        (db_b, slot_b): (usize, usize),
    ) -> (SlotGuard<'_>, SlotGuard<'_>) {
        assert_ne!(db_a, db_b, "lock_two needs two databases");
        if (db_a, slot_a) < (db_b, slot_b) {
            let first = self.db(db_a).lock(slot_a);
            (first, self.db(db_b).lock(slot_b))
        } else {
            let second = self.db(db_b).lock(slot_b);
            (self.db(db_a).lock(slot_a), second)
        }
    }

    /// Exchanges the contents of two databases atomically with respect to every other command:
    /// all slots of both are locked (in order) before anything moves.
    pub fn swap(&self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (low, high) = (a.min(b), a.max(b));
        let mut low_guards: Vec<SlotGuard<'_>> = (0..SLOT_COUNT)
            .map(|slot| self.db(low).lock(slot))
            .collect();
        let mut high_guards: Vec<SlotGuard<'_>> = (0..SLOT_COUNT)
            .map(|slot| self.db(high).lock(slot))
            .collect();
        for (low_guard, high_guard) in low_guards.iter_mut().zip(high_guards.iter_mut()) {
            std::mem::swap(&mut **low_guard, &mut **high_guard);
        }
    }

    /// Empties every database, atomically with respect to every other command.
    pub fn flush_all(&self) {
        let mut guards = Vec::new();
        for (_, db) in self.used_dbs() {
            guards.extend((0..SLOT_COUNT).map(|slot| db.lock(slot)));
        }
        for guard in &mut guards {
            guard.clear();
        }
    }
}

/// The position of a SCAN over a database: the next slot to visit. 0 starts and ends a scan.
pub type ScanCursor = u64;

impl Db {
    fn slots(&self) -> &[Slot] {
        self.slots
            .get_or_init(|| (0..SLOT_COUNT).map(|_| Slot::default()).collect())
    }

    pub fn is_used(&self) -> bool {
        self.slots.get().is_some()
    }

    #[inline]
    pub fn slot(&self, slot: usize) -> &Slot {
        &self.slots()[slot]
    }

    #[inline]
    pub fn lock(&self, slot: usize) -> SlotGuard<'_> {
        self.slot(slot).lock()
    }

    /// Locks the slot of `key`.
    #[inline]
    pub fn lock_key(&self, key: &[u8]) -> SlotGuard<'_> {
        self.lock(key_slot(key))
    }

    /// Locks the slots of several keys in ascending slot order, each once. The guards come back
    /// sorted by slot; [`find_guard`] picks the one for a key.
    pub fn lock_keys<'a, I>(&self, keys: I) -> Vec<(usize, SlotGuard<'_>)>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut slots: Vec<usize> = keys.into_iter().map(key_slot).collect();
        slots.sort_unstable();
        slots.dedup();
        slots
            .into_iter()
            .map(|slot| (slot, self.lock(slot)))
            .collect()
    }

    /// Keys in the database (as of each slot's last unlock).
    pub fn len(&self) -> usize {
        match self.slots.get() {
            Some(slots) => slots.iter().map(Slot::len).sum(),
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        match self.slots.get() {
            Some(slots) => slots.iter().map(Slot::volatile_len).sum(),
            None => 0,
        }
    }

    /// Empties the database atomically with respect to every other command.
    pub fn flush(&self) {
        if !self.is_used() {
            return;
        }
        let mut guards: Vec<SlotGuard<'_>> = (0..SLOT_COUNT).map(|slot| self.lock(slot)).collect();
        for guard in &mut guards {
            guard.clear();
        }
    }

    /// Visits whole slots from `cursor` on, calling `visit` for each live key, until at least
    /// `count` keys have been visited or the slots run out. Returns the cursor to continue from
    /// (0 when done). A key present for the whole scan is visited exactly once, because a slot is
    /// always visited in one piece under its lock.
    pub fn scan(
        &self,
        cursor: ScanCursor,
        count: usize,
        now_ms: u64,
        mut visit: impl FnMut(&[u8], &crate::Entry),
    ) -> ScanCursor {
        let Some(slots) = self.slots.get() else {
            return 0;
        };
        let mut visited = 0;
        let mut slot = cursor as usize;
        while slot < SLOT_COUNT {
            if !slots[slot].is_empty() {
                let guard = slots[slot].lock();
                for (key, entry) in guard.iter() {
                    if !entry.is_expired(now_ms) {
                        visit(key, entry);
                        visited += 1;
                    }
                }
            }
            slot += 1;
            if visited >= count {
                break;
            }
        }
        if slot >= SLOT_COUNT {
            0
        } else {
            slot as ScanCursor
        }
    }

    /// A random live key, or None when the database is empty. Expired keys met on the way are
    /// removed.
    pub fn random_key(&self, now_ms: u64, rng: &mut impl Rng) -> Option<Vec<u8>> {
        let slots = self.slots.get()?;
        // Bounded: each round either returns, removes an expired key, or finds no key at all.
        for _ in 0..100 {
            let start = rng.random_range(0..SLOT_COUNT);
            let slot = (0..SLOT_COUNT)
                .map(|offset| (start + offset) % SLOT_COUNT)
                .find(|&slot| !slots[slot].is_empty())?;
            let mut guard = slots[slot].lock();
            if guard.is_empty() {
                continue;
            }
            let index = rng.random_range(0..guard.len());
            let (key, expired) = match guard.nth(index) {
                Some((key, entry)) => (key.to_vec(), entry.is_expired(now_ms)),
                None => continue,
            };
            if !expired {
                return Some(key);
            }
            guard.get(&key, now_ms);
        }
        None
    }

    /// Removes the expired keys of one slot; returns (keys with an expiry checked, removed).
    pub fn expire_slot(&self, slot: usize, now_ms: u64) -> (usize, usize) {
        let Some(slots) = self.slots.get() else {
            return (0, 0);
        };
        if slots[slot].volatile_len() == 0 {
            return (0, 0);
        }
        slots[slot].lock().remove_all_expired(now_ms)
    }
}

/// The guard of `key`'s slot among guards returned by [`Db::lock_keys`].
pub fn find_guard<'g, 'a>(
    guards: &'g mut [(usize, SlotGuard<'a>)],
    key: &[u8],
) -> &'g mut SlotGuard<'a> {
    let slot = key_slot(key);
    let index = guards
        .binary_search_by_key(&slot, |(locked, _)| *locked)
        .expect("the key's slot was locked by lock_keys");
    &mut guards[index].1
}
