//! Connection commands: PING, ECHO, HELLO, SELECT, QUIT, RESET, AUTH.

use std::sync::atomic::Ordering;

use tern_resp::{Protocol, Request};

use super::{parse_db, parse_i64, Ctx, SYNTAX_ERROR};
use crate::client::ReplyMode;
use crate::VALKEY_VERSION;

/// PING [message]
pub fn ping(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if request.len() > 2 {
        return ctx
            .reply
            .error(b"ERR wrong number of arguments for 'ping' command");
    }
    // A RESP2 connection in subscribed mode reads only arrays: PING answers with one.
    if ctx.client.pubsub.active() && !ctx.reply.resp3() {
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        return ctx.reply.bulk(request.get(1).unwrap_or_default());
    }
    match request.get(1) {
        Some(message) => ctx.reply.bulk(message),
        None => ctx.reply.simple(b"PONG"),
    }
}

/// ECHO message
pub fn echo(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    ctx.reply.bulk(request.arg(1));
}

/// SELECT index
pub fn select(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    match parse_db(ctx.server, request.arg(1)) {
        Ok(db) => {
            ctx.client.select(db);
            ctx.reply.ok();
        }
        Err(text) => ctx.reply.error(text),
    }
}

/// QUIT: the reply is sent, then the connection closes.
pub fn quit(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.reply.ok();
    ctx.client.close_after_reply = true;
}

/// RESET: back to a fresh connection's state (database 0, RESP2, replies on, not monitoring;
/// authenticated only if no password is required).
pub fn reset(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let client = &mut *ctx.client;
    client.select(0);
    client.set_protocol(Protocol::Resp2);
    client.reply_mode = ReplyMode::On;
    client.no_touch = false;
    client.shared.no_touch.store(false, Ordering::Relaxed);
    client.shared.no_evict.store(false, Ordering::Relaxed);
    client.shared.name.lock().clear();
    if client.monitor {
        client.monitor = false;
        client.shared.monitor.store(false, Ordering::Relaxed);
        let mut monitors = ctx.server.monitors.lock();
        monitors.retain(|&(_, id)| id != client.shared.id);
        ctx.server
            .monitor_count
            .store(monitors.len(), Ordering::Relaxed);
    }
    crate::pubsub::forget(ctx.server, client);
    client.multi = None;
    client.unwatch_all(&ctx.server.watches);
    client.authenticated = ctx.server.requirepass().is_none();
    ctx.reply.protocol = Protocol::Resp2;
    ctx.reply.simple(b"RESET");
}

/// Checks a user name and password against the default user. Only `default` exists.
fn credentials_ok(ctx: &Ctx<'_>, user: &[u8], password: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match ctx.server.requirepass() {
        Some(expected) => expected.as_bytes() == password,
        // The default user without a password accepts any.
        None => true,
    }
}

const WRONGPASS: &[u8] = b"WRONGPASS invalid username-password pair or user is disabled.";

/// AUTH [username] password
pub fn auth(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (user, password): (&[u8], &[u8]) = match request.len() {
        2 => (b"default", request.arg(1)),
        3 => (request.arg(1), request.arg(2)),
        _ => return ctx.reply.error(SYNTAX_ERROR),
    };
    if request.len() == 2 && ctx.server.requirepass().is_none() {
        return ctx.reply.error(b"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    if credentials_ok(ctx, user, password) {
        ctx.client.authenticated = true;
        ctx.reply.ok();
    } else {
        ctx.reply.error(WRONGPASS);
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub fn hello(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut version = None;
    let mut index = 1;
    if let Some(arg) = request.get(1) {
        match parse_i64(arg) {
            Some(2) => version = Some(Protocol::Resp2),
            Some(3) => version = Some(Protocol::Resp3),
            Some(_) => return ctx.reply.error(b"NOPROTO unsupported protocol version"),
            None => {
                return ctx
                    .reply
                    .error(b"ERR Protocol version is not an integer or out of range")
            }
        }
        index = 2;
    }
    let mut credentials = None;
    let mut name = None;
    while index < request.len() {
        let option = request.arg(index);
        let more = request.len() - 1 - index;
        if option.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            credentials = Some((request.arg(index + 1), request.arg(index + 2)));
            index += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            name = Some(request.arg(index + 1));
            index += 2;
        } else {
            return ctx.error_with_arg("ERR Syntax error in HELLO option '", option, "'");
        }
    }
    if let Some((user, password)) = credentials {
        if !credentials_ok(ctx, user, password) {
            return ctx.reply.error(WRONGPASS);
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return ctx.reply.error(b"NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = name {
        if !super::client::set_name(ctx, name) {
            return;
        }
    }
    if let Some(version) = version {
        ctx.client.set_protocol(version);
        ctx.reply.protocol = version;
    }
    let reply = &mut ctx.reply;
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"valkey");
    reply.bulk(b"version");
    reply.bulk(VALKEY_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.int(ctx.client.protocol.version());
    reply.bulk(b"id");
    reply.int(ctx.client.id() as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
}
