//! Databases: each is 16384 slot tables, created on first use.
//!
//! A database also remembers, per slot, the soonest expiry of a hash field in it, so the active
//! expiry cycle reclaims expired fields without any access to their hashes, visiting only slots
//! where a field is due.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use rand::Rng;

use crate::bytes::CompactBytes;
use crate::crc16::{key_slot, SLOT_COUNT};
use crate::events::{self, KeyEvent};
use crate::hash::HashValue;
use crate::table::{ExpiredScan, Slot, SlotGuard, SlotTable};
use crate::value::Value;

/// The most expired hash fields one visit of the active cycle reclaims in a slot, which bounds
/// the time the slot stays locked.
const FIELDS_PER_SLOT_VISIT: usize = 4096;

/// The whole data set: `databases` numbered databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
}

/// One numbered database.
#[derive(Default)]
pub struct Db {
    /// The database's number, which its slot tables give the events they record.
    index: usize,
    slots: OnceLock<Box<[Slot]>>,
    /// Per slot, no later than the soonest expiry of a hash field stored there (`u64::MAX`:
    /// none). Lowered under the slot's lock by every write that gives a field a time to live or
    /// brings in a hash that has one, and recomputed by the active cycle under the same lock.
    /// Allocated with the first such field.
    field_expiry: OnceLock<Box<[AtomicU64]>>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases).map(Db::new).collect(),
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
            low_guard.swap_db(high_guard);
        }
        let (low, high) = (self.db(low), self.db(high));
        if low.has_field_expiry() || high.has_field_expiry() {
            for (low_soonest, high_soonest) in low.field_soonest().iter().zip(high.field_soonest())
            {
                let moved = low_soonest.load(Ordering::Relaxed);
                low_soonest.store(
                    high_soonest.swap(moved, Ordering::Relaxed),
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Empties every database, atomically with respect to every other command, and hands back
    /// what they held (see [`Detached`]).
    pub fn flush_all(&self) -> Detached {
        let mut guards = Vec::new();
        for (_, db) in self.used_dbs() {
            guards.extend((0..SLOT_COUNT).map(|slot| db.lock(slot)));
        }
        Detached::take(&mut guards)
    }
}

/// The keys a flush took out: the slot tables that held any, detached whole under their locks
/// (each slot is left an empty table), so the flush itself frees nothing. Dropping this frees
/// them, on whatever thread that happens, with no lock held.
#[derive(Default)]
pub struct Detached {
    tables: Vec<SlotTable>,
    keys: usize,
}

impl Detached {
    fn take(guards: &mut [SlotGuard<'_>]) -> Detached {
        let mut detached = Detached::default();
        for guard in guards.iter_mut().filter(|guard| !guard.is_empty()) {
            let mut taken = SlotTable::default();
            std::mem::swap(&mut **guard, &mut taken);
            // The empty table stays with the slot's database.
            guard.swap_db(&mut taken);
            detached.keys += taken.len();
            detached.tables.push(taken);
        }
        detached
    }

    /// How many keys were taken out.
    pub fn keys(&self) -> usize {
        self.keys
    }
}

/// The position of a SCAN over a database: the next slot to visit. 0 starts and ends a scan.
pub type ScanCursor = u64;

impl Db {
    /// Database number `index`, empty.
    pub fn new(index: usize) -> Db {
        Db {
            index,
            ..Db::default()
        }
    }

    fn slots(&self) -> &[Slot] {
        self.slots
            .get_or_init(|| (0..SLOT_COUNT).map(|_| Slot::new(self.index)).collect())
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

    /// Empties the database atomically with respect to every other command, and hands back
    /// what it held (see [`Detached`]).
    pub fn flush(&self) -> Detached {
        if !self.is_used() {
            return Detached::default();
        }
        let mut guards: Vec<SlotGuard<'_>> = (0..SLOT_COUNT).map(|slot| self.lock(slot)).collect();
        Detached::take(&mut guards)
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

    /// Removes the expired keys of one slot, and the expired fields of its hashes when one is
    /// due; returns (keys with an expiry and hashes with a due field checked, those expired).
    pub fn expire_slot(&self, slot: usize, now_ms: u64) -> (usize, usize) {
        let scan = self.expire_slot_step(slot, 0, usize::MAX, now_ms);
        (scan.checked, scan.expired)
    }

    /// One step of the active cycle in a slot, under its lock: the expired keys among the
    /// table's groups from `from` on, up to about `max_checked` keys with an expiry (see
    /// [`SlotTable::remove_expired`]), and, on a step that starts the slot, the expired fields
    /// of its hashes when one is due (counted as checked and expired).
    pub fn expire_slot_step(
        &self,
        slot: usize,
        from: usize,
        max_checked: usize,
        now_ms: u64,
    ) -> ExpiredScan {
        let Some(slots) = self.slots.get() else {
            return ExpiredScan::default();
        };
        let fields_due = from == 0
            && self
                .field_expiry
                .get()
                .is_some_and(|soonest| now_ms > soonest[slot].load(Ordering::Relaxed));
        if slots[slot].volatile_len() == 0 && !fields_due {
            return ExpiredScan::default();
        }
        let mut table = slots[slot].lock();
        let mut scan = table.remove_expired(from, max_checked, now_ms);
        if fields_due {
            let due = self.expire_fields(&mut table, slot, now_ms);
            scan.checked += due;
            scan.expired += due;
        }
        scan
    }

    /// Reclaims the expired fields of the hashes in a locked slot (at most
    /// [`FIELDS_PER_SLOT_VISIT`]; a slot with more stays due for the next cycle), deletes the
    /// hashes left empty, and records the slot's next field expiry. Returns how many hashes had a
    /// due field.
    fn expire_fields(&self, table: &mut SlotGuard<'_>, slot: usize, now_ms: u64) -> usize {
        let mut next = u64::MAX;
        let mut due: Vec<CompactBytes> = Vec::new();
        for (key, entry) in table.iter() {
            match entry.value.as_hash().and_then(HashValue::soonest_expiry) {
                Some(at) if now_ms > at => due.push(CompactBytes::new(key)),
                Some(at) => next = next.min(at),
                None => {}
            }
        }
        let mut budget = FIELDS_PER_SLOT_VISIT;
        for key in &due {
            let Some(hash) = table.get(key, now_ms).and_then(|e| e.value.as_hash_mut()) else {
                continue;
            };
            let removed = hash.remove_expired(now_ms, budget);
            budget -= removed;
            if removed > 0 {
                events::record(self.index as u32, KeyEvent::FieldsExpired, key);
            }
            if hash.is_empty() {
                table.remove(key);
                events::record(self.index as u32, KeyEvent::EmptiedByFieldExpiry, key);
            } else if let Some(at) = hash.soonest_expiry() {
                next = next.min(at);
            }
        }
        self.field_soonest()[slot].store(next, Ordering::Relaxed);
        due.len()
    }

    /// Whether any hash field of this database has had a time to live (the active cycle then
    /// visits its slots).
    pub fn has_field_expiry(&self) -> bool {
        self.field_expiry.get().is_some()
    }

    fn field_soonest(&self) -> &[AtomicU64] {
        self.field_expiry
            .get_or_init(|| (0..SLOT_COUNT).map(|_| AtomicU64::new(u64::MAX)).collect())
    }

    /// Records, for the active expiry cycle, the value just stored under `key` (the caller holds
    /// its slot's lock): a hash with fields that expire makes the slot worth a visit.
    pub fn note_field_expiry(&self, key: &[u8], value: &Value) {
        if let Some(at) = value.as_hash().and_then(HashValue::soonest_expiry) {
            self.field_soonest()[key_slot(key)].fetch_min(at, Ordering::Relaxed);
        }
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
