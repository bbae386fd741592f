//! Publish/subscribe: who listens to what, and carrying published messages to the workers that
//! own the listening connections.
//!
//! The registry is sharded by channel hash: each of [`SHARDS`] shards is a read-write lock over
//! channel → listeners (client id → worker). Patterns, fewer and matched against every channel
//! published to, have one lock of their own, skipped while nobody listens to a pattern. A
//! publish looks its channel up under the read lock of one shard (and the patterns' read lock),
//! builds each message frame once, and hands the frames to the listeners' workers, one inbox
//! message per worker, so one publish wakes a worker at most once. Frames for listeners on the
//! publishing thread's own worker skip the inbox: the worker takes them after the command that
//! published them (see [`take_own`] and [`take_local`]).
//!
//! Invariants:
//! - The registry's locks are leaves: nothing else is locked while one is held, so
//!   [`publish`] may be called while the caller holds slot locks (or the blocking registry's).
//!   It never waits on the network either: it only appends to inboxes.
//! - A listener receives the messages of one publisher in publish order: they travel through
//!   one path (the worker's inbox, or the thread's own queue), in order.
//! - A connection receives a message only while it still listens to the channel or pattern the
//!   message came through: a message in flight when it unsubscribed is dropped on arrival, so a
//!   RESP2 client that left subscribed mode never sees a push as the reply to its next command.

use std::cell::{Cell, RefCell};
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashMap, HashSet};
use parking_lot::RwLock;
use tern_resp::Protocol;

use crate::server::{Server, WorkerMessage};

/// Channel shards of the registry.
pub const SHARDS: usize = 64;

/// What a subscription is to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE: a channel.
    Channel,
    /// PSUBSCRIBE: a pattern over channel names.
    Pattern,
    /// SSUBSCRIBE: a shard channel (never matched by patterns).
    Shard,
}

/// Listening connections: client id → the worker that owns it.
type Listeners = HashMap<u64, usize>;

/// Channel (or pattern) → its listeners.
type ListenerMap = HashMap<Box<[u8]>, Listeners>;

/// Channel → listeners, sharded by channel hash.
struct ChannelTable {
    shards: Box<[RwLock<ListenerMap>]>,
    /// Channels with at least one listener.
    count: AtomicUsize,
}

impl ChannelTable {
    fn new() -> ChannelTable {
        ChannelTable {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            count: AtomicUsize::new(0),
        }
    }
}

/// The server-wide registry of subscriptions.
pub struct Registry {
    hasher: DefaultHashBuilder,
    channels: ChannelTable,
    shard_channels: ChannelTable,
    patterns: RwLock<ListenerMap>,
    /// Patterns with at least one listener.
    pattern_count: AtomicUsize,
    /// Connections with at least one subscription (INFO `pubsub_clients`).
    clients: AtomicUsize,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            hasher: DefaultHashBuilder::default(),
            channels: ChannelTable::new(),
            shard_channels: ChannelTable::new(),
            patterns: RwLock::new(HashMap::new()),
            pattern_count: AtomicUsize::new(0),
            clients: AtomicUsize::new(0),
        }
    }
}

impl Registry {
    fn table(&self, kind: Kind) -> &ChannelTable {
        match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        }
    }

    fn shard<'a>(&self, table: &'a ChannelTable, channel: &[u8]) -> &'a RwLock<ListenerMap> {
        &table.shards[self.hasher.hash_one(channel) as usize % SHARDS]
    }

    fn add(&self, kind: Kind, name: &[u8], client: u64, worker: usize) {
        let (map, count) = match kind {
            Kind::Pattern => (&self.patterns, &self.pattern_count),
            _ => {
                let table = self.table(kind);
                (self.shard(table, name), &table.count)
            }
        };
        let mut map = map.write();
        let listeners = map.entry_ref(name).or_insert_with(|| {
            count.fetch_add(1, Ordering::Release);
            HashMap::new()
        });
        listeners.insert(client, worker);
    }

    fn remove(&self, kind: Kind, name: &[u8], client: u64) {
        let (map, count) = match kind {
            Kind::Pattern => (&self.patterns, &self.pattern_count),
            _ => {
                let table = self.table(kind);
                (self.shard(table, name), &table.count)
            }
        };
        let mut map = map.write();
        if let Some(listeners) = map.get_mut(name) {
            listeners.remove(&client);
            if listeners.is_empty() {
                map.remove(name);
                count.fetch_sub(1, Ordering::Release);
            }
        }
    }

    /// Channels (or shard channels) with listeners, those matching `pattern` if given.
    pub fn channel_names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let table = self.table(kind);
        let mut names = Vec::new();
        if table.count.load(Ordering::Acquire) == 0 {
            return names;
        }
        for shard in table.shards.iter() {
            let shard = shard.read();
            names.extend(
                shard
                    .keys()
                    .filter(|name| {
                        pattern.is_none_or(|p| tern_keyspace::glob_match(p, name, false))
                    })
                    .cloned(),
            );
        }
        names
    }

    /// Listeners of one channel (or shard channel), pattern listeners not counted.
    pub fn listener_count(&self, kind: Kind, channel: &[u8]) -> usize {
        let table = self.table(kind);
        if table.count.load(Ordering::Acquire) == 0 {
            return 0;
        }
        self.shard(table, channel)
            .read()
            .get(channel)
            .map_or(0, HashMap::len)
    }

    /// Distinct channels with listeners (INFO `pubsub_channels`).
    pub fn channel_count(&self) -> usize {
        self.channels.count.load(Ordering::Relaxed)
    }

    /// Distinct shard channels with listeners (INFO `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.shard_channels.count.load(Ordering::Relaxed)
    }

    /// Distinct patterns with listeners (PUBSUB NUMPAT, INFO `pubsub_patterns`).
    pub fn pattern_count(&self) -> usize {
        self.pattern_count.load(Ordering::Relaxed)
    }

    /// Connections with at least one subscription (INFO `pubsub_clients`).
    pub fn client_count(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }
}

/// One published message as its listeners receive it: the whole frame, built once. The frame
/// starts with `*`; RESP3 listeners get `>` in its place (the two encodings differ only there).
pub struct Message {
    kind: Kind,
    frame: Vec<u8>,
    /// Where the channel (or, for a pattern message, the pattern) is in `frame`: the
    /// subscription the message came through.
    source: Range<usize>,
}

impl Message {
    fn new(kind: Kind, pattern: Option<&[u8]>, channel: &[u8], message: &[u8]) -> Message {
        let label: &[u8] = match (kind, pattern) {
            (Kind::Shard, _) => b"smessage",
            (_, Some(_)) => b"pmessage",
            _ => b"message",
        };
        let mut frame = Vec::with_capacity(48 + channel.len() + message.len());
        frame.extend_from_slice(if pattern.is_some() {
            b"*4\r\n"
        } else {
            b"*3\r\n"
        });
        push_bulk(&mut frame, label);
        let source = match pattern {
            Some(pattern) => push_bulk(&mut frame, pattern),
            None => push_bulk(&mut frame, channel),
        };
        if pattern.is_some() {
            push_bulk(&mut frame, channel);
        }
        push_bulk(&mut frame, message);
        Message {
            kind: if pattern.is_some() {
                Kind::Pattern
            } else {
                kind
            },
            frame,
            source,
        }
    }

    /// Appends the frame, in the listener's protocol, if it still listens to the message's
    /// source; returns whether it did.
    pub fn write_to(
        &self,
        subscriptions: &Subscriptions,
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) -> bool {
        if !subscriptions.has(self.kind, &self.frame[self.source.clone()]) {
            return false;
        }
        out.push(match protocol {
            Protocol::Resp2 => b'*',
            Protocol::Resp3 => b'>',
        });
        out.extend_from_slice(&self.frame[1..]);
        true
    }
}

/// Appends a bulk string; returns the range of its bytes.
fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) -> Range<usize> {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    let start = out.len();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    start..start + bytes.len()
}

/// Messages for connections: (client id, message).
pub type Batch = Vec<(u64, Arc<Message>)>;

thread_local! {
    /// The worker this thread runs (usize::MAX: not a worker thread).
    static WORKER: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Messages published on this thread for connections of its own worker.
    static LOCAL: RefCell<Batch> = const { RefCell::new(Vec::new()) };
}

/// Marks the calling thread as worker `id`'s: messages published here for its own connections
/// skip the inbox.
pub fn enter_worker(id: usize) {
    WORKER.with(|worker| worker.set(id));
}

/// Publishes to a channel: its listeners and those of the patterns matching it. Returns how
/// many received the message. May be called with slot locks held (see the module's invariants).
pub fn publish(server: &Server, channel: &[u8], message: &[u8]) -> usize {
    deliver(server, Kind::Channel, channel, message)
}

/// Publishes to a shard channel (SPUBLISH); patterns do not see it.
pub fn publish_shard(server: &Server, channel: &[u8], message: &[u8]) -> usize {
    deliver(server, Kind::Shard, channel, message)
}

fn deliver(server: &Server, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
    let registry = &server.pubsub;
    // One batch per destination worker.
    let mut batches: Vec<Batch> = Vec::new();
    let mut receivers = 0;
    let mut add = |listeners: &Listeners, frame: Arc<Message>| {
        for (&client, &worker) in listeners {
            if batches.len() <= worker {
                batches.resize_with(worker + 1, Vec::new);
            }
            batches[worker].push((client, frame.clone()));
            receivers += 1;
        }
    };
    let table = registry.table(kind);
    if table.count.load(Ordering::Acquire) > 0 {
        let shard = registry.shard(table, channel).read();
        if let Some(listeners) = shard.get(channel) {
            add(
                listeners,
                Arc::new(Message::new(kind, None, channel, message)),
            );
        }
    }
    if kind == Kind::Channel && registry.pattern_count.load(Ordering::Acquire) > 0 {
        let patterns = registry.patterns.read();
        for (pattern, listeners) in patterns.iter() {
            if tern_keyspace::glob_match(pattern, channel, false) {
                let frame = Message::new(kind, Some(pattern), channel, message);
                add(listeners, Arc::new(frame));
            }
        }
    }
    let here = WORKER.with(Cell::get);
    for (worker, batch) in batches.into_iter().enumerate() {
        if batch.is_empty() {
            continue;
        }
        if worker == here {
            LOCAL.with(|local| local.borrow_mut().extend(batch));
        } else if let Some(handle) = server.workers().get(worker) {
            handle.send(WorkerMessage::PubSub(batch));
        }
    }
    receivers
}

/// After a command: moves the messages published on this thread for `client` itself to its
/// output, after the command's reply (a RESP3 client may publish to itself).
pub fn take_own(client: u64, subscriptions: &Subscriptions, protocol: Protocol, out: &mut Vec<u8>) {
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if local.is_empty() {
            return;
        }
        local.retain(|(id, message)| {
            if *id != client {
                return true;
            }
            message.write_to(subscriptions, protocol, out);
            false
        });
    });
}

/// The messages published on this thread for connections of its own worker, to deliver.
pub fn take_local() -> Batch {
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if local.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut *local)
        }
    })
}

/// What one connection listens to. Empty (and unallocated) for most connections.
#[derive(Default)]
pub struct Subscriptions {
    inner: Option<Box<Sets>>,
}

#[derive(Default)]
struct Sets {
    channels: HashSet<Box<[u8]>>,
    patterns: HashSet<Box<[u8]>>,
    shard_channels: HashSet<Box<[u8]>>,
}

impl Sets {
    fn set(&self, kind: Kind) -> &HashSet<Box<[u8]>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn set_mut(&mut self, kind: Kind) -> &mut HashSet<Box<[u8]>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }
}

impl Subscriptions {
    pub fn has(&self, kind: Kind, name: &[u8]) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|sets| sets.set(kind).contains(name))
    }

    fn len(&self, kind: Kind) -> usize {
        self.inner.as_ref().map_or(0, |sets| sets.set(kind).len())
    }

    /// Channels and patterns: the count SUBSCRIBE, PSUBSCRIBE and their opposites reply with.
    pub fn count(&self) -> usize {
        self.len(Kind::Channel) + self.len(Kind::Pattern)
    }

    /// Shard channels: the count SSUBSCRIBE and SUNSUBSCRIBE reply with.
    pub fn shard_count(&self) -> usize {
        self.len(Kind::Shard)
    }

    /// Whether the connection is in subscribed mode (any subscription at all).
    #[inline]
    pub fn active(&self) -> bool {
        self.inner.is_some()
    }

    fn names(&self, kind: Kind) -> Vec<Box<[u8]>> {
        self.inner
            .as_ref()
            .map(|sets| sets.set(kind).iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The subscription counts other threads read (CLIENT LIST `sub=`, `psub=`, `ssub=`).
#[derive(Default)]
pub struct Counts {
    pub channels: AtomicUsize,
    pub patterns: AtomicUsize,
    pub shard_channels: AtomicUsize,
}

impl Counts {
    /// Whether the connection has any subscription (CLIENT LIST flag `P`, type `pubsub`).
    pub fn active(&self) -> bool {
        self.channels.load(Ordering::Relaxed)
            + self.patterns.load(Ordering::Relaxed)
            + self.shard_channels.load(Ordering::Relaxed)
            > 0
    }
}

/// Subscribes a connection; returns false when it already was.
pub fn subscribe(
    server: &Server,
    state: &mut crate::client::ClientState,
    worker: usize,
    kind: Kind,
    name: &[u8],
) -> bool {
    let was_active = state.pubsub.active();
    let sets = state.pubsub.inner.get_or_insert_with(Default::default);
    if !sets.set_mut(kind).insert(name.into()) {
        return false;
    }
    server.pubsub.add(kind, name, state.id(), worker);
    if !was_active {
        server.pubsub.clients.fetch_add(1, Ordering::Relaxed);
    }
    publish_counts(state);
    true
}

/// Unsubscribes a connection; returns false when it was not subscribed.
pub fn unsubscribe(
    server: &Server,
    state: &mut crate::client::ClientState,
    kind: Kind,
    name: &[u8],
) -> bool {
    let id = state.id();
    let Some(sets) = state.pubsub.inner.as_mut() else {
        return false;
    };
    if !sets.set_mut(kind).remove(name) {
        return false;
    }
    server.pubsub.remove(kind, name, id);
    if sets.channels.is_empty() && sets.patterns.is_empty() && sets.shard_channels.is_empty() {
        state.pubsub.inner = None;
        server.pubsub.clients.fetch_sub(1, Ordering::Relaxed);
    }
    publish_counts(state);
    true
}

/// The connection's subscriptions of one kind, in no particular order.
pub fn subscribed(state: &crate::client::ClientState, kind: Kind) -> Vec<Box<[u8]>> {
    state.pubsub.names(kind)
}

/// Drops every subscription of a connection, silently (RESET, the connection closing).
pub fn forget(server: &Server, state: &mut crate::client::ClientState) {
    if !state.pubsub.active() {
        return;
    }
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in state.pubsub.names(kind) {
            unsubscribe(server, state, kind, &name);
        }
    }
}

fn publish_counts(state: &crate::client::ClientState) {
    let counts = &state.shared.subscriptions;
    counts
        .channels
        .store(state.pubsub.len(Kind::Channel), Ordering::Relaxed);
    counts
        .patterns
        .store(state.pubsub.len(Kind::Pattern), Ordering::Relaxed);
    counts
        .shard_channels
        .store(state.pubsub.len(Kind::Shard), Ordering::Relaxed);
}

/// Commands a RESP2 connection in subscribed mode may run.
pub fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "ssubscribe"
            | "psubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_built_once_for_both_protocols() {
        let message = Message::new(Kind::Channel, None, b"ch", b"hello");
        let mut subscriptions = Subscriptions::default();
        let mut out = Vec::new();
        assert!(!message.write_to(&subscriptions, Protocol::Resp2, &mut out));
        assert!(out.is_empty());
        subscriptions
            .inner
            .get_or_insert_with(Default::default)
            .channels
            .insert((*b"ch").into());
        assert!(message.write_to(&subscriptions, Protocol::Resp2, &mut out));
        assert_eq!(out, b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
        out.clear();
        assert!(message.write_to(&subscriptions, Protocol::Resp3, &mut out));
        assert_eq!(out, b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
    }

    #[test]
    fn pattern_messages_come_through_their_pattern() {
        let message = Message::new(Kind::Channel, Some(b"c*"), b"ch", b"");
        let mut subscriptions = Subscriptions::default();
        let sets = subscriptions.inner.get_or_insert_with(Default::default);
        sets.channels.insert((*b"ch").into());
        let mut out = Vec::new();
        // Listening to the channel is not listening to the pattern.
        assert!(!message.write_to(&subscriptions, Protocol::Resp2, &mut out));
        subscriptions
            .inner
            .as_mut()
            .unwrap()
            .patterns
            .insert((*b"c*").into());
        assert!(message.write_to(&subscriptions, Protocol::Resp3, &mut out));
        assert_eq!(
            out,
            b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n"
        );
        let shard = Message::new(Kind::Shard, None, b"ch", b"x");
        out.clear();
        assert!(!shard.write_to(&subscriptions, Protocol::Resp2, &mut out));
    }
}
