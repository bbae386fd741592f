//! WATCH: the keys clients watch, and the flag a change to one of them raises for its watchers.
//!
//! A command that changes a key calls [`Watches::touch`] while it still holds the key's slot
//! lock; EXEC reads its client's flag with every other worker stopped (see `atomic`), so a
//! change either happened before EXEC looked (the transaction is refused) or comes after the
//! transaction. The registry's lock is a leaf: nothing else is locked while it is held.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;

/// A key in a database.
pub type DbKey = (usize, Box<[u8]>);

#[derive(Default)]
pub struct Watches {
    /// Watched (database, key) pairs; a writer looks at this first and stops at 0.
    watched: AtomicUsize,
    /// Clients watching at least one key.
    clients: AtomicUsize,
    keys: Mutex<HashMap<DbKey, Vec<Arc<AtomicBool>>>>,
}

impl Watches {
    /// Whether any client watches any key (one relaxed load: the writers' fast path).
    #[inline]
    pub fn any(&self) -> bool {
        self.watched.load(Ordering::Relaxed) > 0
    }

    /// INFO's figures: clients watching keys, distinct keys watched.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.clients.load(Ordering::Relaxed),
            self.watched.load(Ordering::Relaxed),
        )
    }

    /// A client watches its first key, or no longer watches any.
    pub fn client_watching(&self, watching: bool) {
        if watching {
            self.clients.fetch_add(1, Ordering::Relaxed);
        } else {
            self.clients.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Adds a watcher, identified by its flag, to a key.
    pub fn watch(&self, db_key: DbKey, flag: &Arc<AtomicBool>) {
        let mut keys = self.keys.lock();
        let watchers = keys.entry(db_key).or_default();
        if watchers.is_empty() {
            self.watched.fetch_add(1, Ordering::Relaxed);
        }
        watchers.push(flag.clone());
    }

    /// Removes a watcher from the keys it watches.
    pub fn unwatch(&self, db_keys: &[DbKey], flag: &Arc<AtomicBool>) {
        if db_keys.is_empty() {
            return;
        }
        let mut keys = self.keys.lock();
        for db_key in db_keys {
            let Some(watchers) = keys.get_mut(db_key) else {
                continue;
            };
            watchers.retain(|watcher| !Arc::ptr_eq(watcher, flag));
            if watchers.is_empty() {
                keys.remove(db_key);
                self.watched.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// A command changed `key` in `db`: its watchers' transactions will fail.
    #[inline]
    pub fn touch(&self, db: usize, key: &[u8]) {
        if !self.any() {
            return;
        }
        self.touch_slow(db, key);
    }

    #[cold]
    fn touch_slow(&self, db: usize, key: &[u8]) {
        let keys = self.keys.lock();
        if let Some(watchers) = keys.get(&(db, Box::<[u8]>::from(key))) {
            for watcher in watchers {
                watcher.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The keys watched in `db`, for whole-database changes (FLUSHDB, FLUSHALL, SWAPDB), which
    /// touch those of them that exist.
    pub fn keys_in(&self, db: usize) -> Vec<Box<[u8]>> {
        if !self.any() {
            return Vec::new();
        }
        self.keys
            .lock()
            .keys()
            .filter(|(key_db, _)| *key_db == db)
            .map(|(_, key)| key.clone())
            .collect()
    }
}
