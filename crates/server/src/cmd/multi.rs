//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI makes the worker queue the client's commands (see `worker::run_command`) until EXEC
//! or DISCARD. EXEC runs the queue alone (`atomic::exclusive`): with every other worker stopped
//! it checks the watched keys, then runs each queued command, blocking ones without waiting.
//! Clients waiting for keys the transaction wrote are served once it is over.

use std::sync::atomic::Ordering;

use tern_resp::Request;

use super::Ctx;
use crate::client::Multi;

pub fn multi(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.client.multi = Some(Multi::default());
    ctx.reply.ok();
}

pub fn discard(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    if ctx.client.multi.take().is_none() {
        ctx.reply.error(b"ERR DISCARD without MULTI");
        return;
    }
    ctx.client.unwatch_all(&ctx.server.watches);
    ctx.reply.ok();
}

pub fn exec(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let Some(multi) = ctx.client.multi.take() else {
        ctx.reply.error(b"ERR EXEC without MULTI");
        return;
    };
    if multi.failed {
        ctx.client.unwatch_all(&ctx.server.watches);
        ctx.reply
            .error(b"EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    crate::atomic::exclusive(ctx, |ctx| {
        let dirty = ctx.client.watch_dirty.load(Ordering::Relaxed)
            || ctx.client.watch_expiries.iter().any(|&at| at <= ctx.now_ms);
        ctx.client.unwatch_all(&ctx.server.watches);
        if dirty {
            ctx.reply.null_array();
            return;
        }
        ctx.reply.array(multi.queued.len());
        let no_block = std::mem::replace(&mut ctx.client.no_block, true);
        for queued in &multi.queued {
            let command = &ctx.server.table.commands[queued.command];
            crate::worker::invoke(
                ctx.server,
                ctx.local,
                ctx.client,
                ctx.reply.out,
                command,
                &queued.request(),
                ctx.now_ms,
            );
            // A queued HELLO changes the protocol of the replies after it.
            ctx.reply.protocol = ctx.client.protocol;
        }
        ctx.client.no_block = no_block;
    });
    crate::blocking::serve_ready(ctx.server, ctx.local, ctx.now_ms);
}

pub fn watch(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let db = ctx.client.db;
    for key in request.iter().skip(1) {
        if ctx
            .client
            .watched
            .iter()
            .any(|(watched_db, watched)| *watched_db == db && **watched == *key)
        {
            continue;
        }
        if ctx.client.watched.is_empty() {
            ctx.server.watches.client_watching(true);
        }
        // A key alive now that will expire makes the transaction fail once it has: remember
        // when (a key already expired, or without a time to live, never does).
        let expires_at = {
            let table = ctx.server.keyspace.db(db).lock_key(key);
            table
                .peek(key)
                .and_then(|entry| entry.expire_at_ms())
                .filter(|&at| at > ctx.now_ms)
        };
        if let Some(at) = expires_at {
            ctx.client.watch_expiries.push(at);
        }
        let db_key = (db, Box::<[u8]>::from(key));
        ctx.server
            .watches
            .watch(db_key.clone(), &ctx.client.watch_dirty);
        ctx.client.watched.push(db_key);
    }
    ctx.reply.ok();
}

pub fn unwatch(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.client.unwatch_all(&ctx.server.watches);
    ctx.reply.ok();
}
