//! Per-connection state: what handlers read and change ([`ClientState`], owned by the worker),
//! and what other threads may read ([`ClientShared`]: CLIENT LIST/INFO/KILL).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tern_resp::Protocol;

use crate::watch::DbKey;

/// CLIENT REPLY modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
}

/// The part of a client other threads can see. The owning worker writes the counters with
/// relaxed stores; readers accept a slightly stale view, as CLIENT LIST's is in Valkey too.
pub struct ClientShared {
    pub id: u64,
    pub addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub fd: i32,
    pub worker: usize,
    pub created_ms: u64,
    pub name: Mutex<Vec<u8>>,
    pub lib_name: Mutex<Vec<u8>>,
    pub lib_ver: Mutex<Vec<u8>>,
    pub db: AtomicUsize,
    pub protocol: AtomicU8,
    pub last_interaction_ms: AtomicU64,
    /// Index of the last command run, +1 (0: none yet).
    pub last_command: AtomicUsize,
    pub total_commands: AtomicU64,
    pub net_in: AtomicU64,
    pub net_out: AtomicU64,
    pub query_buffer_bytes: AtomicU64,
    pub output_bytes: AtomicU64,
    pub monitor: AtomicBool,
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    pub closing: AtomicBool,
    /// Subscription counts (CLIENT LIST `sub=`, `psub=`, `ssub=`).
    pub subscriptions: crate::pubsub::Counts,
    /// Commands queued since MULTI, -1 outside a transaction (CLIENT LIST `multi=`, flag `x`).
    pub multi: AtomicI64,
    /// Between MULTI and the end of EXEC (flag `x`).
    pub in_multi: AtomicBool,
    /// Keys watched (`watch=`).
    pub watching: AtomicUsize,
    /// A watched key changed: the next EXEC fails (flag `d`). The watch registry holds it too.
    pub watch_dirty: Arc<AtomicBool>,
    /// The tracking redirect: -1 when not tracking, 0 for none (`redir=`, flag `t`).
    pub tracking_redirect: AtomicI64,
    /// Tracking in broadcast mode (flag `B`).
    pub tracking_bcast: AtomicBool,
}

impl ClientShared {
    /// Whether tracking invalidations redirected here can reach this RESP2 client: it must
    /// listen in subscribed mode.
    pub fn listens_to_invalidations(&self) -> bool {
        self.subscriptions.active()
    }
}

impl ClientShared {
    pub fn new(
        id: u64,
        addr: SocketAddr,
        local_addr: SocketAddr,
        fd: i32,
        worker: usize,
        now_ms: u64,
    ) -> ClientShared {
        ClientShared {
            id,
            addr,
            local_addr,
            fd,
            worker,
            created_ms: now_ms,
            name: Mutex::new(Vec::new()),
            lib_name: Mutex::new(Vec::new()),
            lib_ver: Mutex::new(Vec::new()),
            db: AtomicUsize::new(0),
            protocol: AtomicU8::new(2),
            last_interaction_ms: AtomicU64::new(now_ms),
            last_command: AtomicUsize::new(0),
            total_commands: AtomicU64::new(0),
            net_in: AtomicU64::new(0),
            net_out: AtomicU64::new(0),
            query_buffer_bytes: AtomicU64::new(0),
            output_bytes: AtomicU64::new(0),
            monitor: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            subscriptions: Default::default(),
            multi: AtomicI64::new(-1),
            in_multi: AtomicBool::new(false),
            watching: AtomicUsize::new(0),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            tracking_redirect: AtomicI64::new(-1),
            tracking_bcast: AtomicBool::new(false),
        }
    }
}

/// What a handler may read and change about its own connection.
pub struct ClientState {
    pub shared: Arc<ClientShared>,
    pub db: usize,
    pub protocol: Protocol,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub no_touch: bool,
    /// Set by QUIT, a protocol error or CLIENT KILL of itself: close once the replies are out.
    pub close_after_reply: bool,
    pub monitor: bool,
    /// Set by a blocking command that made the client wait: until when (u64::MAX: no limit).
    pub blocked_until: Option<u64>,
    /// The command runs on behalf of a waiting client, to serve it (see `blocking`).
    pub serving: bool,
    /// Set by a blocking command run with `serving`: it answered.
    pub served: bool,
    /// Blocking commands answer at once, as if timed out, instead of waiting (inside EXEC and
    /// scripts).
    pub no_block: bool,
    /// Between MULTI and EXEC/DISCARD: the queued commands.
    pub multi: Option<Multi>,
    /// The keys this client watches, and the flag a change to any of them raises.
    pub watched: Vec<DbKey>,
    pub watch_dirty: Arc<AtomicBool>,
    /// When watched keys that were alive when watched expire: reaching one fails the
    /// transaction, as a change would.
    pub watch_expiries: Vec<u64>,
    /// CLIENT TRACKING's options while tracking is on.
    pub tracking: Option<Box<crate::tracking::Options>>,
    /// CLIENT CACHING YES (true) or NO (false), for the next command.
    pub tracking_caching: Option<bool>,
    /// What the connection listens to (pub/sub).
    pub pubsub: crate::pubsub::Subscriptions,
    /// Running a command for a script (MONITOR shows it as the script's).
    pub in_script: bool,
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    pub queued: Vec<QueuedCommand>,
    /// A command was refused while queueing: EXEC will discard the transaction.
    pub failed: bool,
}

/// A command queued by MULTI: its table index and its arguments, back to back, with ranges.
pub struct QueuedCommand {
    pub command: usize,
    pub data: Vec<u8>,
    pub ranges: Vec<(u32, u32)>,
}

impl QueuedCommand {
    pub fn new(command: usize, request: &tern_resp::Request<'_>) -> QueuedCommand {
        let mut data = Vec::new();
        let mut ranges = Vec::with_capacity(request.len());
        for arg in request.iter() {
            ranges.push((data.len() as u32, (data.len() + arg.len()) as u32));
            data.extend_from_slice(arg);
        }
        QueuedCommand {
            command,
            data,
            ranges,
        }
    }

    pub fn request(&self) -> tern_resp::Request<'_> {
        tern_resp::Request::new(&self.data, &self.ranges)
    }
}

impl ClientState {
    pub fn new(shared: Arc<ClientShared>, authenticated: bool) -> ClientState {
        let watch_dirty = shared.watch_dirty.clone();
        ClientState {
            shared,
            db: 0,
            protocol: Protocol::Resp2,
            authenticated,
            reply_mode: ReplyMode::On,
            no_touch: false,
            close_after_reply: false,
            monitor: false,
            blocked_until: None,
            serving: false,
            served: false,
            no_block: false,
            multi: None,
            watched: Vec::new(),
            watch_dirty,
            watch_expiries: Vec::new(),
            tracking: None,
            tracking_caching: None,
            pubsub: Default::default(),
            in_script: false,
        }
    }

    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Forgets every watched key (EXEC, DISCARD, UNWATCH, RESET, closing).
    pub fn unwatch_all(&mut self, watches: &crate::watch::Watches) {
        self.watch_expiries.clear();
        if self.watched.is_empty() {
            return;
        }
        watches.client_watching(false);
        watches.unwatch(&self.watched, &self.watch_dirty);
        self.shared.watching.store(0, Ordering::Relaxed);
        self.watched.clear();
        self.watch_dirty.store(false, Ordering::Relaxed);
    }

    /// Publishes the transaction and watch figures CLIENT LIST shows.
    #[inline]
    pub fn publish_multi(&self) {
        // As Valkey shows it: -1 until the first MULTI or WATCH, then the queue's length (0
        // outside a transaction).
        let queued = match &self.multi {
            Some(multi) => multi.queued.len() as i64,
            None if self.shared.multi.load(Ordering::Relaxed) >= 0 || !self.watched.is_empty() => 0,
            None => -1,
        };
        if self.shared.multi.load(Ordering::Relaxed) != queued {
            self.shared.multi.store(queued, Ordering::Relaxed);
        }
        let in_multi = self.multi.is_some();
        if self.shared.in_multi.load(Ordering::Relaxed) != in_multi {
            self.shared.in_multi.store(in_multi, Ordering::Relaxed);
        }
        if self.shared.watching.load(Ordering::Relaxed) != self.watched.len() {
            self.shared
                .watching
                .store(self.watched.len(), Ordering::Relaxed);
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.shared.db.store(db, Ordering::Relaxed);
    }

    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
        self.shared
            .protocol
            .store(protocol.version() as u8, Ordering::Relaxed);
    }
}
