//! Blocking commands (BLPOP and the rest): clients waiting for keys, served in arrival order.
//!
//! A blocking command first tries to run like its non-blocking form. When it finds nothing and
//! may wait, its client becomes a *waiter*: the request is copied into the registry, queued on
//! every key it waits for, and the connection stops running commands until it is unblocked.
//!
//! A write to a key (any command with the write flag, while any client waits) marks the key
//! *ready*. After its command, the worker that wrote serves the key's queue in order: it re-runs
//! each waiter's command on the waiter's behalf, and a waiter that got an answer leaves every
//! queue and receives its reply through its own worker's inbox. A waiter the key cannot serve
//! (the key is empty again, or now holds another type) keeps its place. Serving on the writer's
//! thread is what keeps the order first-come first-served across worker threads, and a served
//! command that writes (BLMOVE's push) marks its own keys ready in turn.
//!
//! Ending a wait any other way (timeout, CLIENT UNBLOCK, the connection closing) removes the
//! waiter under the same lock, so exactly one of "served", "timed out", "unblocked" happens.
//!
//! Lock order: the registry lock is taken before any slot lock, both by a blocking command
//! (which checks its keys and registers atomically with respect to writers) and by the serving
//! writer; no code takes the registry lock while holding a slot lock.
//! A writer releases its slot locks before it looks at the registry, and a blocking command
//! registers while holding the slot lock of the key it found empty, so a write either comes
//! before the check (the command sees the data) or after the registration (the writer sees the
//! waiter).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;
use tern_keyspace::num::{timeout_ms, TimeoutError};
use tern_keyspace::Value;
use tern_resp::{Protocol, ReplyWriter, Request};

use crate::client::{ClientShared, ClientState};
use crate::cmd::Ctx;
use crate::dispatch::Command;
use crate::server::{Server, WorkerMessage};
use crate::worker::WorkerLocal;

/// A key in a database.
type DbKey = (usize, Box<[u8]>);

#[derive(Default)]
pub struct Blocking {
    registry: Mutex<Registry>,
    /// Clients waiting right now. Writers look at this first, and do nothing more when it is 0.
    waiting: AtomicUsize,
}

#[derive(Default)]
pub struct Registry {
    queues: HashMap<DbKey, VecDeque<u64>>,
    waiters: HashMap<u64, Waiter>,
}

/// A blocked client's command, kept so that a writer can run it for the client.
struct Waiter {
    shared: Arc<ClientShared>,
    db: usize,
    protocol: Protocol,
    command: usize,
    /// The request's arguments, back to back, and their ranges.
    data: Vec<u8>,
    ranges: Vec<(u32, u32)>,
    keys: Vec<Box<[u8]>>,
    wants: Wants,
    timed: bool,
}

/// How a wait ended other than by being served.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    Timeout,
    Error,
}

impl Blocking {
    /// Whether any client waits (one relaxed load: the writers' fast path).
    #[inline]
    pub fn any_waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    /// INFO's figures: waiting clients, those of them with a timeout, distinct keys waited on.
    pub fn counts(&self) -> (usize, usize, usize) {
        let registry = self.registry.lock();
        let timed = registry.waiters.values().filter(|w| w.timed).count();
        (registry.waiters.len(), timed, registry.queues.len())
    }

    /// Ends the wait of `client_id` without serving it, if it still waits; returns whether it
    /// did. The reply (a null array for a timeout, the UNBLOCKED error) goes to the client's
    /// worker.
    pub fn unblock(&self, server: &Server, client_id: u64, how: Unblock) -> bool {
        let mut registry = self.registry.lock();
        let Some(waiter) = registry.remove(client_id) else {
            return false;
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        drop(registry);
        let mut out = Vec::new();
        let mut reply = ReplyWriter::new(&mut out, waiter.protocol);
        match how {
            Unblock::Timeout => reply.null_array(),
            Unblock::Error => reply.error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK"),
        }
        send_reply(server, &waiter.shared, out);
        true
    }

    /// Forgets a closing client's wait.
    pub fn forget(&self, client_id: u64) {
        if self.registry.lock().remove(client_id).is_some() {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Registry {
    fn remove(&mut self, client_id: u64) -> Option<Waiter> {
        let waiter = self.waiters.remove(&client_id)?;
        for key in &waiter.keys {
            let db_key = (waiter.db, key.clone());
            if let Some(queue) = self.queues.get_mut(&db_key) {
                queue.retain(|&id| id != client_id);
                if queue.is_empty() {
                    self.queues.remove(&db_key);
                }
            }
        }
        Some(waiter)
    }
}

fn send_reply(server: &Server, client: &ClientShared, reply: Vec<u8>) {
    if let Some(worker) = server.workers().get(client.worker) {
        worker.send(WorkerMessage::Unblocked(client.id, reply));
    }
}

/// A blocking command's timeout argument in milliseconds (0: none); None after an error reply.
pub fn parse_timeout(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<u64> {
    let error: &[u8] = match timeout_ms(arg) {
        // The deadline must fit too.
        Ok(ms) if ms > i64::MAX as u64 - ctx.now_ms => b"ERR timeout is out of range",
        Ok(ms) => return Some(ms),
        Err(TimeoutError::NotAFloat) => b"ERR timeout is not a float or out of range",
        Err(TimeoutError::OutOfRange) => b"ERR timeout is out of range",
        Err(TimeoutError::Negative) => b"ERR timeout is negative",
    };
    ctx.reply.error(error);
    None
}

/// What a blocking command waits for: a key holding a value of its type.
pub type Wants = fn(&Value) -> bool;

/// Runs a blocking command. `attempt` tries to answer it now and says whether it wrote a reply
/// (an error included); it finds nothing to answer with only when none of its keys holds
/// anything. Then the client waits on `keys` for `timeout_ms` (0: for ever) until one of them
/// holds a value that `wants`.
pub fn run(
    ctx: &mut Ctx<'_>,
    request: &Request<'_>,
    keys: &[&[u8]],
    timeout_ms: u64,
    wants: Wants,
    attempt: fn(&mut Ctx<'_>, &Request<'_>) -> bool,
) {
    if ctx.client.serving {
        ctx.client.served = attempt(ctx, request);
        return;
    }
    if ctx.client.no_block {
        // As its non-blocking form answers: a move finds no element, a pop no list.
        if !attempt(ctx, request) {
            if matches!(ctx.command.spec.name, "blmove" | "brpoplpush") {
                ctx.reply.null();
            } else {
                ctx.reply.null_array();
            }
        }
        return;
    }
    let server = ctx.server;
    let mut registry = server.blocking.registry.lock();
    if attempt(ctx, request) {
        return;
    }
    let client_id = ctx.client.id();
    let mut data = Vec::new();
    let mut ranges = Vec::with_capacity(request.len());
    for arg in request.iter() {
        ranges.push((data.len() as u32, (data.len() + arg.len()) as u32));
        data.extend_from_slice(arg);
    }
    let mut owned_keys: Vec<Box<[u8]>> = Vec::with_capacity(keys.len());
    for key in keys {
        if !owned_keys.iter().any(|k| &**k == *key) {
            owned_keys.push((*key).into());
        }
    }
    for key in &owned_keys {
        registry
            .queues
            .entry((ctx.client.db, key.clone()))
            .or_default()
            .push_back(client_id);
    }
    registry.waiters.insert(
        client_id,
        Waiter {
            shared: ctx.client.shared.clone(),
            db: ctx.client.db,
            protocol: ctx.client.protocol,
            command: ctx.command.index,
            data,
            ranges,
            keys: owned_keys,
            wants,
            timed: timeout_ms > 0,
        },
    );
    server.blocking.waiting.fetch_add(1, Ordering::Relaxed);
    ctx.client.blocked_until = Some(if timeout_ms == 0 {
        u64::MAX
    } else {
        ctx.now_ms.saturating_add(timeout_ms)
    });
}

/// After a write command ran while clients wait: queues its keys to be served.
pub fn mark_ready(local: &mut WorkerLocal, command: &Command, db: usize, request: &Request<'_>) {
    let args: Vec<&[u8]> = request.iter().collect();
    let Some(positions) = command.spec.key_positions(&args) else {
        return;
    };
    for (position, _) in positions {
        local.ready_keys.push((db, args[position].into()));
    }
}

/// Serves the waiters of every ready key, in order, until no key is ready.
pub fn serve_ready(server: &Server, local: &mut WorkerLocal, now_ms: u64) {
    // Inside EXEC or a script, waiters are served once the whole of it is over.
    if local.exclusive {
        return;
    }
    while !local.ready_keys.is_empty() {
        let ready = std::mem::take(&mut local.ready_keys);
        for db_key in ready {
            let mut registry = server.blocking.registry.lock();
            let Some(queue) = registry.queues.get(&db_key) else {
                continue;
            };
            let candidates: Vec<u64> = queue.iter().copied().collect();
            for client_id in candidates {
                let Some(reply) = serve_one(server, local, &registry, client_id, &db_key, now_ms)
                else {
                    continue;
                };
                let waiter = registry
                    .remove(client_id)
                    .expect("the waiter was just served");
                server.blocking.waiting.fetch_sub(1, Ordering::Relaxed);
                send_reply(server, &waiter.shared, reply);
            }
        }
    }
}

/// Re-runs a waiter's command for it, if the ready key holds what it waits for; its reply when
/// it was answered.
fn serve_one(
    server: &Server,
    local: &mut WorkerLocal,
    registry: &Registry,
    client_id: u64,
    (db, key): &DbKey,
    now_ms: u64,
) -> Option<Vec<u8>> {
    let waiter = registry.waiters.get(&client_id)?;
    let holds_wanted = {
        let mut table = server.keyspace.db(*db).lock_key(key);
        table
            .get(key, now_ms)
            .is_some_and(|entry| (waiter.wants)(&entry.value))
    };
    if !holds_wanted {
        return None;
    }
    let command = &server.table.commands[waiter.command];
    let handler = command.handler?;
    let request = Request::new(&waiter.data, &waiter.ranges);
    let mut state = ClientState::new(waiter.shared.clone(), true);
    state.db = waiter.db;
    state.protocol = waiter.protocol;
    state.serving = true;
    let mut out = Vec::new();
    handler(
        &mut Ctx {
            server,
            client: &mut state,
            reply: ReplyWriter::new(&mut out, waiter.protocol),
            local,
            now_ms,
            command,
        },
        &request,
    );
    if !state.served {
        return None;
    }
    if command.flags.write {
        mark_ready(local, command, waiter.db, &request);
    }
    Some(out)
}
