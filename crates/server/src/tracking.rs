//! Client-side caching: which clients may hold which keys, and the invalidation messages sent
//! when those keys change.
//!
//! Two modes, as in Valkey. By default the server remembers the keys each tracking client read
//! (a table of key → client ids, sharded by key hash); a change to a key sends one invalidation
//! to each client that read it and forgets the key, until it is read again. In broadcast mode
//! (BCAST) a client names key prefixes instead, and hears of every change to a key under them;
//! those are gathered and sent once per worker loop iteration, several keys to a message.
//!
//! Keys are tracked by name, in every database alike. A message goes to the client itself in
//! RESP3 (a push), or to the client it redirects to: a RESP3 push, or, for a RESP2 client
//! subscribed to `__redis__:invalidate`, a pub/sub message on that channel.
//!
//! Invariants: the locks here are leaves (nothing else is taken while one is held), so a
//! command may report a change while it holds slot locks; sending only appends to a worker's
//! inbox. With no tracking client, a change costs one relaxed load.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};

use crate::client::ClientShared;
use crate::server::{Server, WorkerMessage};

/// Key shards of the default-mode table.
const SHARDS: usize = 64;

/// A client's CLIENT TRACKING options.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The client invalidations go to (0: the client itself).
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Box<[u8]>>,
}

/// Key → the clients that read it since it last changed (one shard of them).
type Readers = Mutex<HashMap<Box<[u8]>, Vec<u64>>>;

/// A tracking client, as the senders need it.
struct Tracker {
    shared: Arc<ClientShared>,
    options: Options,
    /// An invalidation found the redirect gone (CLIENT TRACKINGINFO's `broken_redirect`).
    broken: AtomicBool,
}

#[derive(Default)]
struct Prefix {
    /// Clients listening to this prefix.
    clients: Vec<u64>,
    /// Keys under the prefix changed since the last broadcast, each with the client that
    /// changed it (for NOLOOP).
    changed: Vec<(Box<[u8]>, u64)>,
}

pub struct Tracking {
    /// Clients with tracking on; a change looks here first.
    clients: AtomicUsize,
    trackers: RwLock<HashMap<u64, Tracker>>,
    /// Key → the clients that read it since it last changed.
    shards: Box<[Readers]>,
    keys: AtomicUsize,
    items: AtomicUsize,
    /// Broadcast prefixes, in byte order (messages for several prefixes go out in that order).
    prefixes: Mutex<BTreeMap<Box<[u8]>, Prefix>>,
    /// Prefixes with changed keys waiting for a broadcast.
    pending: AtomicUsize,
}

impl Default for Tracking {
    fn default() -> Tracking {
        Tracking {
            clients: AtomicUsize::new(0),
            trackers: RwLock::new(HashMap::new()),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            prefixes: Mutex::new(BTreeMap::new()),
            pending: AtomicUsize::new(0),
        }
    }
}

/// INFO's figures.
pub struct Counts {
    pub clients: usize,
    pub keys: usize,
    pub items: usize,
    pub prefixes: usize,
}

impl Tracking {
    #[inline]
    pub fn any(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    pub fn counts(&self) -> Counts {
        Counts {
            clients: self.clients.load(Ordering::Relaxed),
            keys: self.keys.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            prefixes: self.prefixes.lock().len(),
        }
    }

    /// Turns tracking on for a client, or changes its options.
    pub fn enable(&self, shared: &Arc<ClientShared>, options: Options) {
        let id = shared.id;
        let mut trackers = self.trackers.write();
        if let Some(old) = trackers.remove(&id) {
            self.forget_prefixes(id, &old.options);
        } else {
            self.clients.fetch_add(1, Ordering::Relaxed);
        }
        if options.bcast {
            let mut prefixes = self.prefixes.lock();
            let all: &[Box<[u8]>] = if options.prefixes.is_empty() {
                &[Box::new([])]
            } else {
                &options.prefixes
            };
            for prefix in all {
                let entry = prefixes.entry(prefix.clone()).or_default();
                if !entry.clients.contains(&id) {
                    entry.clients.push(id);
                }
            }
        }
        trackers.insert(
            id,
            Tracker {
                shared: shared.clone(),
                options,
                broken: AtomicBool::new(false),
            },
        );
    }

    /// Turns tracking off. Keys the client read stay in the table until they change (they
    /// then find no tracker), as in Valkey.
    pub fn disable(&self, id: u64) {
        if let Some(old) = self.trackers.write().remove(&id) {
            self.clients.fetch_sub(1, Ordering::Relaxed);
            self.forget_prefixes(id, &old.options);
        }
    }

    fn forget_prefixes(&self, id: u64, options: &Options) {
        if !options.bcast {
            return;
        }
        let mut prefixes = self.prefixes.lock();
        prefixes.retain(|_, prefix| {
            prefix.clients.retain(|&client| client != id);
            !prefix.clients.is_empty()
        });
    }

    /// Whether an invalidation for this client found its redirect gone.
    pub fn redirect_broken(&self, id: u64) -> bool {
        self.trackers
            .read()
            .get(&id)
            .is_some_and(|t| t.broken.load(Ordering::Relaxed))
    }

    /// A tracking client read `key`: it may now cache it.
    pub fn remember(&self, id: u64, key: &[u8]) {
        let mut shard = self.shard(key).lock();
        match shard.get_mut(key) {
            Some(clients) => {
                if !clients.contains(&id) {
                    clients.push(id);
                    self.items.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                shard.insert(key.into(), vec![id]);
                self.keys.fetch_add(1, Ordering::Relaxed);
                self.items.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn shard(&self, key: &[u8]) -> &Readers {
        let hash = tern_keyspace::key_hash(key);
        &self.shards[(hash >> 58) as usize % SHARDS]
    }

    /// `key` changed (by client `by`, 0 for the server itself): tells the clients that read it,
    /// and queues it for the broadcast prefixes it falls under.
    #[inline]
    pub fn invalidate(&self, server: &Server, key: &[u8], by: u64) {
        if !self.any() {
            return;
        }
        self.invalidate_slow(server, key, by);
    }

    #[cold]
    fn invalidate_slow(&self, server: &Server, key: &[u8], by: u64) {
        let readers = {
            let mut shard = self.shard(key).lock();
            shard.remove(key)
        };
        if let Some(readers) = readers {
            self.keys.fetch_sub(1, Ordering::Relaxed);
            self.items.fetch_sub(readers.len(), Ordering::Relaxed);
            let trackers = self.trackers.read();
            for id in readers {
                let Some(tracker) = trackers.get(&id) else {
                    continue;
                };
                if tracker.options.bcast || (tracker.options.noloop && id == by) {
                    continue;
                }
                send(server, tracker, Some(&[key]));
            }
        }
        let mut prefixes = self.prefixes.lock();
        if prefixes.is_empty() {
            return;
        }
        for (prefix, entry) in prefixes.iter_mut() {
            if key.starts_with(prefix) {
                if entry.changed.is_empty() {
                    self.pending.fetch_add(1, Ordering::Relaxed);
                }
                entry.changed.push((key.into(), by));
            }
        }
    }

    /// Sends the broadcast messages gathered since the last call (each worker calls this once
    /// per loop iteration; whichever comes first sends).
    #[inline]
    pub fn flush_broadcasts(&self, server: &Server) {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return;
        }
        // Lock order: trackers, then prefixes (as `enable` takes them).
        let trackers = self.trackers.read();
        let mut batches: Vec<(u64, Vec<Box<[u8]>>)> = Vec::new();
        {
            let mut prefixes = self.prefixes.lock();
            for entry in prefixes.values_mut() {
                if entry.changed.is_empty() {
                    continue;
                }
                let changed = std::mem::take(&mut entry.changed);
                for &id in &entry.clients {
                    let noloop = trackers.get(&id).is_some_and(|t| t.options.noloop);
                    let keys: Vec<Box<[u8]>> = changed
                        .iter()
                        .filter(|(_, by)| !(noloop && *by == id))
                        .map(|(key, _)| key.clone())
                        .collect();
                    if !keys.is_empty() {
                        batches.push((id, keys));
                    }
                }
            }
            self.pending.store(0, Ordering::Relaxed);
        }
        for (id, keys) in batches {
            if let Some(tracker) = trackers.get(&id) {
                let keys: Vec<&[u8]> = keys.iter().map(|k| &**k).collect();
                send(server, tracker, Some(&keys));
            }
        }
    }

    /// FLUSHDB / FLUSHALL: every tracking client drops its whole cache (a null invalidation),
    /// and the table empties.
    pub fn flush(&self, server: &Server) {
        if !self.any() {
            return;
        }
        for shard in self.shards.iter() {
            shard.lock().clear();
        }
        self.keys.store(0, Ordering::Relaxed);
        self.items.store(0, Ordering::Relaxed);
        let trackers = self.trackers.read();
        for tracker in trackers.values() {
            send(server, tracker, None);
        }
    }

    /// Keeps the table within `tracking-table-max-keys` (0: no limit): a key evicted from it is
    /// invalidated for its readers, who can no longer be told when it changes.
    pub fn enforce_limit(&self, server: &Server, max_keys: usize) {
        if max_keys == 0 || self.keys.load(Ordering::Relaxed) <= max_keys {
            return;
        }
        let mut shard_index = rand::random_range(0..SHARDS);
        while self.keys.load(Ordering::Relaxed) > max_keys {
            let victim = {
                let shard = self.shards[shard_index].lock();
                shard.keys().next().cloned()
            };
            match victim {
                Some(key) => self.invalidate_slow(server, &key, 0),
                None => shard_index = (shard_index + 1) % SHARDS,
            }
        }
    }
}

/// Sends one invalidation (keys, or None: everything) for `tracker`, to it or its redirect.
fn send(server: &Server, tracker: &Tracker, keys: Option<&[&[u8]]>) {
    let redirect = tracker.options.redirect;
    let target = if redirect == 0 {
        tracker.shared.clone()
    } else {
        let found = server.clients.lock().get(&redirect).cloned();
        match found {
            Some(target) => target,
            None => {
                // The redirect is gone: a RESP3 client is told so.
                tracker.broken.store(true, Ordering::Relaxed);
                if tracker.shared.protocol.load(Ordering::Relaxed) == 3 {
                    let mut frame = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
                    frame.push(b':');
                    frame.extend_from_slice(itoa::Buffer::new().format(redirect).as_bytes());
                    frame.extend_from_slice(b"\r\n");
                    deliver(server, &tracker.shared, frame);
                }
                return;
            }
        }
    };
    let resp3 = target.protocol.load(Ordering::Relaxed) == 3;
    let mut frame = Vec::with_capacity(64);
    if resp3 {
        frame.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if target.listens_to_invalidations() {
        frame.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        return;
    }
    match keys {
        None if resp3 => frame.extend_from_slice(b"_\r\n"),
        None => frame.extend_from_slice(b"$-1\r\n"),
        Some(keys) => {
            frame.push(b'*');
            frame.extend_from_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
            frame.extend_from_slice(b"\r\n");
            for key in keys {
                frame.push(b'$');
                frame.extend_from_slice(itoa::Buffer::new().format(key.len()).as_bytes());
                frame.extend_from_slice(b"\r\n");
                frame.extend_from_slice(key);
                frame.extend_from_slice(b"\r\n");
            }
        }
    }
    deliver(server, &target, frame);
}

fn deliver(server: &Server, target: &ClientShared, frame: Vec<u8>) {
    if let Some(worker) = server.workers().get(target.worker) {
        worker.send(WorkerMessage::Push(target.id, frame));
    }
}

/// After a command of a client with tracking on: the keys a read gave it become tracked
/// (unless it is in broadcast mode, or OPTIN/OPTOUT and CLIENT CACHING say otherwise), and
/// CLIENT CACHING's answer is used up.
pub fn after_command(
    server: &Server,
    command: &crate::dispatch::Command,
    state: &mut crate::client::ClientState,
    request: &tern_resp::Request<'_>,
) {
    let Some(options) = state.tracking.as_deref() else {
        return;
    };
    if command.spec.name == "client|caching" {
        return;
    }
    let caching = state.tracking_caching.take();
    if !command.flags.readonly || options.bcast {
        return;
    }
    let wanted = if options.optin {
        caching == Some(true)
    } else if options.optout {
        caching != Some(false)
    } else {
        true
    };
    if !wanted {
        return;
    }
    let args: Vec<&[u8]> = request.iter().collect();
    if let Some(positions) = command.spec.key_positions(&args) {
        for (position, _) in positions {
            server.tracking.remember(state.id(), args[position]);
        }
    }
    let max_keys = server
        .config
        .int(crate::config::Directive::TrackingTableMaxKeys) as usize;
    server.tracking.enforce_limit(server, max_keys);
}
