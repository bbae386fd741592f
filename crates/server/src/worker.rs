//! A worker thread: an event loop owning a set of connections for their whole life.
//!
//! Each readiness event reads what the socket has, parses every complete command in the buffer,
//! runs them one after the other (each locking only the slots it names), and writes all the
//! replies with one write call. Between events the worker runs its share of the periodic work:
//! active expiry over its slots, idle client timeouts, releasing clients held by CLIENT PAUSE.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tern_resp::parse::{ParseLimits, Parsed, Parser};
use tern_resp::{ReplyWriter, Request};

use crate::client::{ClientShared, ClientState, QueuedCommand, ReplyMode};
use crate::cmd::Ctx;
use crate::config::Directive;
use crate::dispatch::{Command, Lookup};
use crate::expire::ExpireCycle;
use crate::server::{unix_ms, Server, WorkerMessage};

pub const WAKER_TOKEN: Token = Token(usize::MAX);

/// Read buffer size of a new connection; it grows only for a command larger than this.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// A write buffer that grew past this is given back once drained.
const WRITE_BUFFER_KEEP_BYTES: usize = 64 * 1024;

/// What the command handlers may use of their worker.
pub struct WorkerLocal {
    pub id: usize,
    pub rng: SmallRng,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Commands run since the statistics were last published: (command index, µs, failed).
    /// Published once per read batch, so the statistics lock is taken once per batch.
    calls: Vec<(usize, u64, bool)>,
    /// Keys written while clients wait, to serve once the writing command is done.
    pub ready_keys: Vec<(usize, Box<[u8]>)>,
    /// Running a command alone (see `atomic`): every worker's lane is held by this one.
    pub exclusive: bool,
    /// This batch runs without the lane, while a script runs too long: only commands that may
    /// run meanwhile run, the others get BUSY.
    pub busy: bool,
    /// A cycle-counter clock: timing a command costs two counter reads, not two system calls.
    clock: quanta::Clock,
    /// This worker's eviction pool (see `evict`).
    pub evictor: tern_keyspace::evict::Evictor,
    /// Memory was over `maxmemory`, with nothing to evict, when the client's command started:
    /// a script's first write is refused then (see `evict::script_call_refused`).
    pub oom_at_start: bool,
}

impl WorkerLocal {
    /// Adds the pending per-command figures to this worker's shared statistics.
    pub fn publish(&mut self, server: &Server) {
        if self.calls.is_empty() && self.keyspace_hits == 0 && self.keyspace_misses == 0 {
            return;
        }
        let mut stats = server.worker_stats[self.id].lock();
        for (index, elapsed_us, failed) in self.calls.drain(..) {
            let entry = &mut stats.commands[index];
            entry.calls += 1;
            entry.usec += elapsed_us;
            entry.failed_calls += u64::from(failed);
            entry
                .latency_us
                .get_or_insert_with(new_latency_histogram)
                .saturating_record(elapsed_us.max(1));
        }
        stats.keyspace_hits += std::mem::take(&mut self.keyspace_hits);
        stats.keyspace_misses += std::mem::take(&mut self.keyspace_misses);
    }
}

struct Conn {
    stream: TcpStream,
    parser: Parser,
    /// Fixed-size storage; bytes `read_pos..read_len` are received and not yet consumed.
    read_buffer: Vec<u8>,
    read_pos: usize,
    read_len: usize,
    write_buffer: Vec<u8>,
    write_pos: usize,
    state: ClientState,
    /// When the pending output first exceeded the soft limit (0: it does not).
    soft_limit_since_ms: u64,
    /// A command is held by CLIENT PAUSE.
    held: bool,
}

pub struct Worker {
    server: Arc<Server>,
    poll: Poll,
    conns: Vec<Option<Conn>>,
    free_tokens: Vec<usize>,
    by_client_id: HashMap<u64, usize>,
    local: WorkerLocal,
    expire: ExpireCycle,
    next_cron: Instant,
    /// Connections with replies to write once this loop iteration has read everything ready:
    /// replies go out together, after all the reading, so clients are woken fewer times.
    to_flush: Vec<usize>,
    /// When waits of this worker's blocked clients end: (deadline ms, client id), soonest first.
    wait_deadlines: BinaryHeap<Reverse<(u64, u64)>>,
    /// Connections whose pending output was over their soft limit at the last check: the cron
    /// checks them again, so a subscriber nobody writes to any more is still closed in time.
    over_soft_limit: Vec<usize>,
}

/// What running one command did to the connection's input.
enum Outcome {
    Consumed,
    Held,
    /// Consumed, and the client now waits (a blocking command).
    Blocked,
}

impl Worker {
    pub fn new(id: usize, server: Arc<Server>, poll: Poll) -> Worker {
        Worker {
            server,
            poll,
            conns: Vec::new(),
            free_tokens: Vec::new(),
            by_client_id: HashMap::new(),
            local: WorkerLocal {
                id,
                rng: SmallRng::from_os_rng(),
                keyspace_hits: 0,
                keyspace_misses: 0,
                calls: Vec::with_capacity(64),
                ready_keys: Vec::new(),
                exclusive: false,
                busy: false,
                clock: quanta::Clock::new(),
                evictor: Default::default(),
                oom_at_start: false,
            },
            expire: ExpireCycle::new(id),
            next_cron: Instant::now(),
            over_soft_limit: Vec::new(),
            to_flush: Vec::new(),
            wait_deadlines: BinaryHeap::new(),
        }
    }

    pub fn run(mut self) {
        crate::pubsub::enter_worker(self.local.id);
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() != ErrorKind::Interrupted {
                    crate::warning!("Worker {} poll failed: {error}", self.local.id);
                }
            }
            // The inbox first: a message queued before a client's next command arrived (a
            // published message) reaches that client before the command's reply.
            if events.iter().any(|event| event.token() == WAKER_TOKEN) {
                self.drain_inbox();
            }
            for event in events.iter() {
                match event.token() {
                    WAKER_TOKEN => {}
                    Token(index) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(index);
                        }
                        if event.is_writable() {
                            self.flush(index);
                        }
                    }
                }
            }
            self.end_expired_waits();
            self.server.tracking.flush_broadcasts(&self.server);
            self.deliver_local_pubsub();
            self.flush_pending();
            if self.server.shutdown.load(Ordering::Relaxed) {
                self.close_all();
                return;
            }
            if Instant::now() >= self.next_cron {
                self.cron();
                self.deliver_local_pubsub();
                self.flush_pending();
            } else if self
                .expire
                .next_slice()
                .is_some_and(|at| Instant::now() >= at)
            {
                self.expire_slice();
                self.deliver_local_pubsub();
                self.flush_pending();
            } else if crate::evict::pending() {
                if let Some(_lane) = self.server.lanes.try_enter(self.local.id) {
                    crate::evict::continue_pending(&self.server, &mut self.local);
                }
                self.deliver_local_pubsub();
                self.flush_pending();
            }
        }
    }

    fn drain_inbox(&mut self) {
        let messages = std::mem::take(&mut *self.server.workers()[self.local.id].inbox.lock());
        for message in messages {
            match message {
                WorkerMessage::Connection(stream, addr, id) => self.adopt(stream, addr, id),
                WorkerMessage::Kill(client_id) => {
                    if let Some(&index) = self.by_client_id.get(&client_id) {
                        self.close(index);
                    }
                }
                WorkerMessage::Monitor(client_id, line) => {
                    if let Some(&index) = self.by_client_id.get(&client_id) {
                        if let Some(conn) = self.conns[index].as_mut() {
                            conn.write_buffer.extend_from_slice(&line);
                        }
                        self.flush(index);
                    }
                }
                WorkerMessage::Unpause => self.resume_held(),
                WorkerMessage::Unblocked(client_id, reply) => {
                    self.resume_unblocked(client_id, reply)
                }
                WorkerMessage::Push(client_id, frame) => {
                    if let Some(&index) = self.by_client_id.get(&client_id) {
                        if let Some(conn) = self.conns[index].as_mut() {
                            conn.write_buffer.extend_from_slice(&frame);
                            self.to_flush.push(index);
                        }
                    }
                }
                WorkerMessage::PubSub(batch) => self.deliver_pubsub(batch),
            }
        }
    }

    /// Appends published messages to their subscribers' output, checking its limit.
    fn deliver_pubsub(&mut self, batch: crate::pubsub::Batch) {
        let now_ms = unix_ms();
        let mut last = usize::MAX;
        for (client_id, message) in batch {
            let Some(&index) = self.by_client_id.get(&client_id) else {
                continue;
            };
            let Some(conn) = self.conns[index].as_mut() else {
                continue;
            };
            let state = &conn.state;
            if message.write_to(&state.pubsub, state.protocol, &mut conn.write_buffer) {
                // A burst of messages is written as it comes: the limit is for what the
                // subscriber does not read, not for what arrived between two wake-ups.
                if conn.write_buffer.len() - conn.write_pos > WRITE_BUFFER_KEEP_BYTES {
                    self.flush(index);
                }
                if index != last {
                    self.to_flush.push(index);
                    last = index;
                }
                self.check_output_limit(index, now_ms);
            }
        }
    }

    /// Delivers what commands of this thread published for this worker's own subscribers.
    fn deliver_local_pubsub(&mut self) {
        let batch = crate::pubsub::take_local();
        if !batch.is_empty() {
            self.deliver_pubsub(batch);
        }
    }

    /// How long the next poll may sleep: until the periodic work, or the next wait's end.
    fn poll_timeout(&self) -> Duration {
        if crate::evict::pending() {
            // Evicting goes on between events until memory is under the limit.
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut until_cron = self.next_cron.saturating_duration_since(now);
        if let Some(slice) = self.expire.next_slice() {
            until_cron = until_cron.min(slice.saturating_duration_since(now));
        }
        match self.wait_deadlines.peek() {
            Some(Reverse((deadline_ms, _))) => {
                // A wait ends once the clock is past its deadline, as in Valkey.
                let until_deadline = (deadline_ms + 1).saturating_sub(unix_ms());
                until_cron.min(Duration::from_millis(until_deadline))
            }
            None => until_cron,
        }
    }

    /// Ends the waits whose time is up. A wait already served meanwhile is left alone: its
    /// reply is on the way.
    fn end_expired_waits(&mut self) {
        let Some(Reverse((first, _))) = self.wait_deadlines.peek() else {
            return;
        };
        let now_ms = unix_ms();
        if *first >= now_ms {
            return;
        }
        while let Some(&Reverse((deadline_ms, client_id))) = self.wait_deadlines.peek() {
            if deadline_ms >= now_ms {
                break;
            }
            self.wait_deadlines.pop();
            let still_waiting = self
                .by_client_id
                .get(&client_id)
                .and_then(|&index| self.conns[index].as_ref())
                .is_some_and(|conn| conn.state.blocked_until == Some(deadline_ms));
            if still_waiting {
                let server = self.server.clone();
                server
                    .blocking
                    .unblock(&server, client_id, crate::blocking::Unblock::Timeout);
            }
        }
    }

    /// A waiting client got its reply: send it, then run what it sent meanwhile.
    fn resume_unblocked(&mut self, client_id: u64, reply: Vec<u8>) {
        let Some(&index) = self.by_client_id.get(&client_id) else {
            return;
        };
        let Some(conn) = self.conns[index].as_mut() else {
            return;
        };
        conn.state.blocked_until = None;
        conn.state.shared.blocked.store(false, Ordering::Relaxed);
        conn.write_buffer.extend_from_slice(&reply);
        self.process_input(index);
        self.to_flush.push(index);
    }

    fn adopt(&mut self, mut stream: TcpStream, addr: std::net::SocketAddr, id: u64) {
        let index = self.free_tokens.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if let Err(error) = self.poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            crate::warning!("Registering a connection failed: {error}");
            self.free_tokens.push(index);
            self.server
                .connected_clients
                .fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let _ = stream.set_nodelay(true);
        let local_addr = stream.local_addr().unwrap_or(addr);
        let fd = {
            use std::os::fd::AsRawFd;
            stream.as_raw_fd()
        };
        let shared = Arc::new(ClientShared::new(
            id,
            addr,
            local_addr,
            fd,
            self.local.id,
            unix_ms(),
        ));
        self.server.clients.lock().insert(id, shared.clone());
        let authenticated = self.server.requirepass().is_none();
        self.conns[index] = Some(Conn {
            stream,
            parser: Parser::new(),
            read_buffer: vec![0; READ_BUFFER_BYTES],
            read_pos: 0,
            read_len: 0,
            write_buffer: Vec::new(),
            write_pos: 0,
            state: ClientState::new(shared, authenticated),
            soft_limit_since_ms: 0,
            held: false,
        });
        self.by_client_id.insert(id, index);
        crate::verbose!("Accepted {addr}");
    }

    fn close(&mut self, index: usize) {
        let Some(mut conn) = self.conns.get_mut(index).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let id = conn.state.id();
        if conn.state.blocked_until.is_some() {
            self.server.blocking.forget(id);
        }
        conn.state.unwatch_all(&self.server.watches);
        if conn.state.tracking.is_some() {
            self.server.tracking.disable(id);
        }
        crate::pubsub::forget(&self.server, &mut conn.state);
        self.by_client_id.remove(&id);
        self.server.clients.lock().remove(&id);
        if conn.state.monitor {
            let mut monitors = self.server.monitors.lock();
            monitors.retain(|&(_, monitor_id)| monitor_id != id);
            self.server
                .monitor_count
                .store(monitors.len(), Ordering::Relaxed);
        }
        self.server
            .connected_clients
            .fetch_sub(1, Ordering::Relaxed);
        self.free_tokens.push(index);
        crate::verbose!("Client closed connection id={id}");
    }

    fn close_all(&mut self) {
        for index in 0..self.conns.len() {
            if self.conns[index].is_some() {
                self.flush(index);
                self.close(index);
            }
        }
    }

    fn on_readable(&mut self, index: usize) {
        let query_limit = self.server.config.int(Directive::ClientQueryBufferLimit) as usize;
        loop {
            let Some(conn) = self.conns.get_mut(index).and_then(Option::as_mut) else {
                return;
            };
            if conn.held || conn.state.close_after_reply {
                break;
            }
            make_room(conn);
            let space = conn.read_buffer.len() - conn.read_len;
            let read = conn.stream.read(&mut conn.read_buffer[conn.read_len..]);
            match read {
                Ok(0) => {
                    self.close(index);
                    return;
                }
                Ok(count) => {
                    conn.read_len += count;
                    let shared = &conn.state.shared;
                    shared.net_in.fetch_add(count as u64, Ordering::Relaxed);
                    if conn.read_len - conn.read_pos > query_limit {
                        crate::warning!(
                            "Closing client that reached max query buffer length (id={})",
                            conn.state.id()
                        );
                        self.server.worker_stats[self.local.id]
                            .lock()
                            .query_buffer_limit_disconnections += 1;
                        self.close(index);
                        return;
                    }
                    self.process_input(index);
                    // A short read drained the socket: the next byte to arrive raises a new
                    // readiness event, so there is no need for a read that would only block.
                    if count < space {
                        break;
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(index);
                    return;
                }
            }
        }
        self.to_flush.push(index);
    }

    /// Runs every complete command in the connection's input.
    fn process_input(&mut self, index: usize) {
        let now_ms = unix_ms();
        let server = &*self.server;
        let Some(conn) = self.conns[index].as_mut() else {
            return;
        };
        if conn.state.blocked_until.is_some() {
            return;
        }
        let bulk_bytes_max = server.config.int(Directive::ProtoMaxBulkLen);
        let Conn {
            parser,
            read_buffer,
            read_pos,
            read_len,
            write_buffer,
            state,
            held,
            ..
        } = conn;
        prefetch_keys(server, state.db, &read_buffer[*read_pos..*read_len]);
        let lane = server
            .lanes
            .enter(self.local.id, || server.scripting.busy());
        self.local.busy = lane.is_none();
        let mut commands = 0u64;
        while *read_pos < *read_len && !state.close_after_reply {
            let input = &read_buffer[*read_pos..*read_len];
            // Read per command: an AUTH earlier in the same read lifts the tighter limits.
            let limits = ParseLimits {
                bulk_bytes_max,
                unauthenticated: !state.authenticated,
            };
            match parser.parse(input, limits) {
                Ok(Parsed::Command { consumed }) => {
                    let request = parser.request(input);
                    if request.is_empty() {
                        *read_pos += consumed;
                        continue;
                    }
                    let outcome = execute(
                        server,
                        &mut self.local,
                        state,
                        write_buffer,
                        request,
                        now_ms,
                    );
                    // A RESP3 client publishing to itself gets the message after the reply.
                    crate::pubsub::take_own(
                        state.id(),
                        &state.pubsub,
                        state.protocol,
                        write_buffer,
                    );
                    match outcome {
                        Outcome::Consumed => {
                            *read_pos += consumed;
                            commands += 1;
                        }
                        Outcome::Held => {
                            *held = true;
                            break;
                        }
                        Outcome::Blocked => {
                            *read_pos += consumed;
                            commands += 1;
                            state.shared.blocked.store(true, Ordering::Relaxed);
                            let deadline_ms = state.blocked_until.unwrap_or(u64::MAX);
                            if deadline_ms != u64::MAX {
                                self.wait_deadlines.push(Reverse((deadline_ms, state.id())));
                            }
                            break;
                        }
                    }
                }
                Ok(Parsed::Incomplete { buffer_bytes_hint }) => {
                    let needed = buffer_bytes_hint.saturating_sub(*read_len - *read_pos);
                    if buffer_bytes_hint > read_buffer.len() && needed > 0 {
                        // Make room for the whole argument at once.
                        read_buffer.copy_within(*read_pos..*read_len, 0);
                        *read_len -= *read_pos;
                        *read_pos = 0;
                        read_buffer.resize(buffer_bytes_hint, 0);
                    }
                    break;
                }
                Err(error) => {
                    crate::verbose!(
                        "Protocol error ({}) from client: id={}",
                        String::from_utf8_lossy(&error.0),
                        state.id()
                    );
                    let mut reply = ReplyWriter::new(write_buffer, state.protocol);
                    reply.error(&error.0);
                    self.server.worker_stats[self.local.id]
                        .lock()
                        .count_error(&write_buffer[write_buffer.len() - error.0.len() - 3..]);
                    state.close_after_reply = true;
                    *read_pos = *read_len;
                    break;
                }
            }
        }
        drop(lane);
        if *read_pos == *read_len {
            *read_pos = 0;
            *read_len = 0;
        }
        let shared = &state.shared;
        shared
            .query_buffer_bytes
            .store((*read_len - *read_pos) as u64, Ordering::Relaxed);
        if commands > 0 {
            shared.last_interaction_ms.store(now_ms, Ordering::Relaxed);
            shared.total_commands.fetch_add(commands, Ordering::Relaxed);
        }
        self.local.publish(&self.server);
        self.check_output_limit(index, now_ms);
        crate::evict::check_clients(&self.server);
        self.deliver_local_pubsub();
    }

    /// Closes a client whose pending output passed its limits.
    fn check_output_limit(&mut self, index: usize, now_ms: u64) {
        let Some(conn) = self.conns[index].as_mut() else {
            return;
        };
        let pending = (conn.write_buffer.len() - conn.write_pos) as u64;
        if pending == 0 {
            conn.soft_limit_since_ms = 0;
            return;
        }
        let limits = if conn.state.pubsub.active() {
            self.server.config.output_limits().pubsub
        } else {
            self.server.config.output_limits().normal
        };
        let over_hard = limits.hard_bytes > 0 && pending > limits.hard_bytes;
        let over_soft = limits.soft_bytes > 0 && pending > limits.soft_bytes;
        // As Valkey counts it: in whole seconds of the clock, and only once the output is seen
        // over the soft limit a second time, more than the limit's seconds after the first
        // (so a limit of 0 seconds closes the client on the first check in a later second).
        let soft_expired = if !over_soft {
            conn.soft_limit_since_ms = 0;
            false
        } else if conn.soft_limit_since_ms == 0 {
            conn.soft_limit_since_ms = now_ms;
            self.over_soft_limit.push(index);
            false
        } else {
            (now_ms / 1000).saturating_sub(conn.soft_limit_since_ms / 1000) > limits.soft_seconds
        };
        if over_hard || soft_expired {
            crate::warning!(
                "Client id={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                conn.state.id()
            );
            self.server.worker_stats[self.local.id]
                .lock()
                .output_buffer_limit_disconnections += 1;
            self.close(index);
        }
    }

    fn flush_pending(&mut self) {
        let mut pending = std::mem::take(&mut self.to_flush);
        for &index in &pending {
            self.flush(index);
        }
        pending.clear();
        self.to_flush = pending;
    }

    /// Writes pending output with one write call; the rest waits for a writable event.
    fn flush(&mut self, index: usize) {
        let Some(conn) = self.conns.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        while conn.write_pos < conn.write_buffer.len() {
            match conn.stream.write(&conn.write_buffer[conn.write_pos..]) {
                Ok(count) => {
                    conn.write_pos += count;
                    conn.state
                        .shared
                        .net_out
                        .fetch_add(count as u64, Ordering::Relaxed);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close(index);
                    return;
                }
            }
        }
        let drained = conn.write_pos == conn.write_buffer.len();
        if drained {
            conn.write_buffer.clear();
            conn.write_pos = 0;
            if conn.write_buffer.capacity() > WRITE_BUFFER_KEEP_BYTES {
                conn.write_buffer = Vec::new();
            }
        }
        conn.state.shared.output_bytes.store(
            (conn.write_buffer.len() - conn.write_pos) as u64,
            Ordering::Relaxed,
        );
        if drained && conn.state.close_after_reply {
            self.close(index);
        }
    }

    /// Periodic work, `hz` times a second.
    fn cron(&mut self) {
        let hz = self.server.config.int(Directive::Hz).max(1) as u64;
        self.next_cron = Instant::now() + Duration::from_micros(1_000_000 / hz);
        let now_ms = unix_ms();
        if let Some(_lane) = self.server.lanes.try_enter(self.local.id) {
            // The active cycle's lookups are not accesses.
            let touching = tern_keyspace::evict::set_touching(false);
            self.expire.tick(&self.server, hz, now_ms);
            tern_keyspace::evict::set_touching(touching);
            crate::evict::continue_pending(&self.server, &mut self.local);
        }
        crate::evict::check_clients(&self.server);
        crate::memory::publish();
        if self.local.id == 0 {
            crate::memory::calibrate();
        }
        self.close_idle_clients(now_ms);
        self.recheck_output_limits(now_ms);
        if self.server.paused(now_ms).is_none() {
            self.resume_held();
        }
        if self.local.id == 0 {
            let total = self.server.total_commands();
            self.server.ops_samples.lock().sample(now_ms, total);
        }
    }

    /// Checks again the connections that were over their soft output limit.
    fn recheck_output_limits(&mut self, now_ms: u64) {
        let over = |conns: &[Option<Conn>], index: usize| {
            conns
                .get(index)
                .and_then(Option::as_ref)
                .is_some_and(|conn| conn.soft_limit_since_ms != 0)
        };
        for index in std::mem::take(&mut self.over_soft_limit) {
            if over(&self.conns, index) {
                self.check_output_limit(index, now_ms);
                if over(&self.conns, index) {
                    self.over_soft_limit.push(index);
                }
            }
        }
    }

    /// The active expiry cycle's next slice while it has a backlog (see `expire`); put off a
    /// little while another worker runs alone.
    fn expire_slice(&mut self) {
        let hz = self.server.config.int(Directive::Hz).max(1) as u64;
        match self.server.lanes.try_enter(self.local.id) {
            Some(_lane) => {
                // The active cycle's lookups are not accesses.
                let touching = tern_keyspace::evict::set_touching(false);
                self.expire.run_due(&self.server, hz, unix_ms());
                tern_keyspace::evict::set_touching(touching);
            }
            None => self.expire.postpone(),
        }
    }

    fn close_idle_clients(&mut self, now_ms: u64) {
        let timeout_s = self.server.config.int(Directive::Timeout) as u64;
        if timeout_s == 0 {
            return;
        }
        let idle: Vec<usize> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(index, conn)| {
                let conn = conn.as_ref()?;
                let last = conn
                    .state
                    .shared
                    .last_interaction_ms
                    .load(Ordering::Relaxed);
                let idle_s = now_ms.saturating_sub(last) / 1000;
                let exempt = conn.state.monitor || conn.state.pubsub.active();
                (idle_s > timeout_s && !exempt).then_some(index)
            })
            .collect();
        for index in idle {
            crate::verbose!("Closing idle client");
            self.close(index);
        }
    }

    fn resume_held(&mut self) {
        let held: Vec<usize> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(index, conn)| conn.as_ref().filter(|c| c.held).map(|_| index))
            .collect();
        for index in held {
            if let Some(conn) = self.conns[index].as_mut() {
                conn.held = false;
            }
            self.process_input(index);
            self.on_readable(index);
        }
    }
}

/// Commands looked ahead at for prefetching, per read.
const PREFETCH_COMMANDS_MAX: usize = 32;

/// Starts loading, for the pipelined commands in `input`, the slot headers and then the table
/// lines their keys will need, so that their cache misses overlap instead of following one
/// another. Skipped for a single command: there is nothing to overlap with.
fn prefetch_keys(server: &Server, db: usize, input: &[u8]) {
    // Keys first, without hashing: a read holding a single command (no pipelining) stops here.
    let mut keys: [&[u8]; PREFETCH_COMMANDS_MAX] = [&[]; PREFETCH_COMMANDS_MAX];
    let mut count = 0;
    tern_resp::parse::peek_first_args(input, PREFETCH_COMMANDS_MAX, |key| {
        keys[count] = key;
        count += 1;
    });
    if count < 2 {
        return;
    }
    let db = server.keyspace.db(db);
    let mut found = [(0usize, 0u64); PREFETCH_COMMANDS_MAX];
    for (slot_and_hash, key) in found.iter_mut().zip(&keys[..count]) {
        let slot = tern_keyspace::key_slot(key);
        db.slot(slot).prefetch_header();
        *slot_and_hash = (slot, tern_keyspace::key_hash(key));
    }
    for &(slot, hash) in &found[..count] {
        db.slot(slot).prefetch_group(hash);
    }
    for &(slot, hash) in &found[..count] {
        db.slot(slot).prefetch_buckets(hash);
    }
}

/// Makes room at the end of the read buffer: moves unconsumed bytes to the front, or grows.
fn make_room(conn: &mut Conn) {
    if conn.read_len < conn.read_buffer.len() {
        return;
    }
    if conn.read_pos > 0 {
        conn.read_buffer
            .copy_within(conn.read_pos..conn.read_len, 0);
        conn.read_len -= conn.read_pos;
        conn.read_pos = 0;
    } else {
        let doubled = conn.read_buffer.len() * 2;
        conn.read_buffer.resize(doubled, 0);
    }
}

/// Runs one command with CLIENT REPLY applied: replies of skipped commands are dropped.
fn execute(
    server: &Server,
    local: &mut WorkerLocal,
    state: &mut ClientState,
    out: &mut Vec<u8>,
    request: Request<'_>,
    now_ms: u64,
) -> Outcome {
    let reply_start = out.len();
    let skip_this = state.reply_mode == ReplyMode::SkipNext;
    if skip_this {
        state.reply_mode = ReplyMode::On;
    }
    let outcome = run_command(server, local, state, out, request, now_ms);
    state.publish_multi();
    if matches!(outcome, Outcome::Held) {
        if skip_this {
            state.reply_mode = ReplyMode::SkipNext;
        }
        return outcome;
    }
    // OFF and SKIP themselves have no reply; a command after SKIP has none either. Subscription
    // confirmations are pushes, which CLIENT REPLY does not silence.
    let confirmed = crate::pubsub::take_confirmed();
    if (skip_this || state.reply_mode != ReplyMode::On) && !confirmed {
        out.truncate(reply_start);
    }
    outcome
}

/// Looks up, checks and runs one command, appending its reply to `out`.
fn run_command(
    server: &Server,
    local: &mut WorkerLocal,
    state: &mut ClientState,
    out: &mut Vec<u8>,
    request: Request<'_>,
    now_ms: u64,
) -> Outcome {
    let name = request.arg(0);
    let lookup = server.table.resolve(name, request.get(1));
    // Before authentication every command but the few marked no_auth gets NOAUTH, even an
    // unknown one or one with the wrong number of arguments.
    if !state.authenticated {
        let allowed = matches!(lookup, Lookup::Found(command) if command.flags.no_auth);
        if !allowed {
            let command = match lookup {
                Lookup::Found(command) | Lookup::UnknownSubcommand(command) => Some(command),
                Lookup::Unknown => None,
            };
            reject(
                server,
                local,
                command,
                state,
                out,
                b"NOAUTH Authentication required.",
            );
            return Outcome::Consumed;
        }
    }
    let command = match lookup {
        Lookup::Found(command) => command,
        Lookup::Unknown => {
            let text = unknown_command_error(&request);
            reject(server, local, None, state, out, &text);
            return Outcome::Consumed;
        }
        Lookup::UnknownSubcommand(container) => {
            let sub = crate::cmd::c_str(request.arg(1));
            let suffix = format!("'. Try {} HELP.", container.spec.name.to_ascii_uppercase());
            let text = crate::cmd::error_with_arg(
                "ERR unknown subcommand '",
                &sub[..sub.len().min(128)],
                &suffix,
            );
            reject(server, local, Some(container), state, out, &text);
            return Outcome::Consumed;
        }
    };
    if !command.spec.arity_ok(request.len()) {
        let text = format!(
            "ERR wrong number of arguments for '{}' command",
            command.spec.name
        );
        reject(server, local, Some(command), state, out, text.as_bytes());
        return Outcome::Consumed;
    }
    if crate::evict::before_command(server, local, state, command, &request) {
        reject(
            server,
            local,
            Some(command),
            state,
            out,
            crate::evict::OOM_ERROR,
        );
        return Outcome::Consumed;
    }
    if state.pubsub.active()
        && state.protocol == tern_resp::Protocol::Resp2
        && !crate::pubsub::allowed_when_subscribed(command.spec.name)
    {
        let text = format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            command.spec.name
        );
        reject(server, local, Some(command), state, out, text.as_bytes());
        return Outcome::Consumed;
    }
    if local.busy && !command.flags.allow_busy {
        let text = server.scripting.busy_error();
        reject(server, local, Some(command), state, out, text);
        return Outcome::Consumed;
    }
    if state.multi.is_some() {
        if command.flags.no_multi {
            let text = format!(
                "ERR Command '{}' not allowed inside a transaction",
                command.spec.name
            );
            reject(server, local, Some(command), state, out, text.as_bytes());
            return Outcome::Consumed;
        }
        if !command.flags.runs_in_multi {
            if let Some(multi) = state.multi.as_mut() {
                multi
                    .queued
                    .push(QueuedCommand::new(command.index, &request));
            }
            out.extend_from_slice(b"+QUEUED\r\n");
            return Outcome::Consumed;
        }
    }
    if let Some(writes_only) = server.paused(now_ms) {
        if !writes_only || command.flags.write || command.flags.may_replicate {
            return Outcome::Held;
        }
    }
    if command.handler.is_none() {
        // A container without a subcommand: its arity already refused it.
        return Outcome::Consumed;
    }
    invoke(server, local, state, out, command, &request, now_ms);
    if state.blocked_until.is_some() {
        return Outcome::Blocked;
    }
    crate::blocking::serve_ready(server, local, now_ms);
    Outcome::Consumed
}

/// Runs a command that passed its checks: the handler, then statistics, MONITOR and watchers.
/// Clients waiting for the keys it wrote are marked ready for the caller to serve.
pub fn invoke(
    server: &Server,
    local: &mut WorkerLocal,
    state: &mut ClientState,
    out: &mut Vec<u8>,
    command: &Command,
    request: &Request<'_>,
    now_ms: u64,
) {
    let Some(handler) = command.handler else {
        return;
    };
    let reply_start = out.len();
    state
        .shared
        .last_command
        .store(command.index + 1, Ordering::Relaxed);
    // Script commands are marked skip_monitor, yet shown: before the commands they run.
    let monitored = server.monitor_count.load(Ordering::Relaxed) > 0
        && (command.flags.runs_script || !command.flags.skip_monitor)
        && !command.flags.admin;
    if monitored && command.flags.runs_script {
        feed_monitors(server, state, request);
    }
    let started = local.clock.raw();
    let protocol = state.protocol;
    // Lookups record accesses unless the command only inspects keys, or the client asked for
    // NO-TOUCH (TOUCH itself still does).
    let touching = !command.flags.no_touch && (!state.no_touch || command.flags.is_touch);
    let touched_before = tern_keyspace::evict::set_touching(touching);
    handler(
        &mut Ctx {
            server,
            client: state,
            reply: ReplyWriter::new(out, protocol),
            local,
            now_ms,
            command,
        },
        request,
    );
    tern_keyspace::evict::set_touching(touched_before);
    let elapsed_us = local.clock.delta_as_nanos(started, local.clock.raw()) / 1000;
    // Monitors see a command once it has run, with the database it left selected; a script
    // before the commands it runs.
    if monitored && !command.flags.runs_script {
        feed_monitors(server, state, request);
    }
    let failed = out.get(reply_start) == Some(&b'-');
    if failed {
        server.worker_stats[local.id]
            .lock()
            .count_error(&out[reply_start..]);
    }
    local.calls.push((command.index, elapsed_us, failed));
    // EXEC and scripts serve them once they are over, other commands right after.
    if command.flags.write && state.blocked_until.is_none() && server.blocking.any_waiting() {
        crate::blocking::mark_ready(local, command, state.db, request);
    }
    if state.tracking.is_some() {
        crate::tracking::after_command(server, command, state, request);
    }
}

/// Command latencies from 1 µs to 1000 s with 2 significant digits, as INFO reports them.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1_000_000_000, 2).expect("valid histogram bounds")
}

/// Writes an error for a command refused before it ran, and counts it.
fn reject(
    server: &Server,
    local: &WorkerLocal,
    command: Option<&Command>,
    state: &mut ClientState,
    out: &mut Vec<u8>,
    text: &[u8],
) {
    let start = out.len();
    let is_exec = command.is_some_and(|command| command.flags.is_exec);
    if is_exec {
        // A refused EXEC ends any transaction, saying why.
        state.multi = None;
        state.unwatch_all(&server.watches);
        let reason = text.strip_prefix(b"ERR ").unwrap_or(text);
        let mut error = b"EXECABORT Transaction discarded because of: ".to_vec();
        error.extend_from_slice(reason);
        ReplyWriter::new(out, state.protocol).error(&error);
    } else {
        // Any other refused command dooms the transaction it was meant for.
        if let Some(multi) = state.multi.as_mut() {
            multi.failed = true;
        }
        ReplyWriter::new(out, state.protocol).error(text);
    }
    let mut stats = server.worker_stats[local.id].lock();
    if let Some(command) = command {
        stats.commands[command.index].rejected_calls += 1;
    }
    stats.count_error(&out[start..]);
}

/// Valkey's text: the name and the first arguments, quoted, up to about 128 characters.
fn unknown_command_error(request: &Request<'_>) -> Vec<u8> {
    let mut args = Vec::new();
    for arg in request.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let arg = crate::cmd::c_str(arg);
        args.push(b'\'');
        args.extend_from_slice(&arg[..arg.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    let name = crate::cmd::c_str(request.arg(0));
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(&name[..name.len().min(128)]);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&args);
    text
}

/// Sends the command to every MONITOR client, in Valkey's line format.
fn feed_monitors(server: &Server, state: &ClientState, request: &Request<'_>) {
    let now_us = crate::server::unix_us();
    let source = if state.in_script {
        "lua".to_string()
    } else {
        state.shared.addr.to_string()
    };
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        state.db,
        source
    )
    .into_bytes();
    for arg in request.iter() {
        line.push(b' ');
        crate::cmd::write_repr(&mut line, arg);
    }
    line.extend_from_slice(b"\r\n");
    let line: Arc<[u8]> = line.into();
    let monitors = server.monitors.lock().clone();
    // A monitor sees its own commands too.
    for (worker, client_id) in monitors {
        if let Some(handle) = server.workers().get(worker) {
            handle.send(WorkerMessage::Monitor(client_id, line.clone()));
        }
    }
}
