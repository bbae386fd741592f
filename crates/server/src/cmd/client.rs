//! CLIENT subcommands: identity, naming, listing, killing, reply modes, pausing.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tern_resp::Request;

use super::{parse_i64, write_help, Ctx, SYNTAX_ERROR};
use crate::blocking::Unblock;
use crate::client::{ClientShared, ReplyMode};
use crate::server::{Server, WorkerMessage};

/// CLIENT ID
pub fn id(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.reply.int(ctx.client.id() as i64);
}

/// Whether every byte is a printable non-space character, as names and library tags must be.
fn printable(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// Names the connection (empty clears the name); replies with the error on a bad name.
pub fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> bool {
    if !printable(name) {
        ctx.reply
            .error(b"ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    *ctx.client.shared.name.lock() = name.to_vec();
    true
}

/// CLIENT SETNAME connection-name
pub fn setname(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if set_name(ctx, request.arg(2)) {
        ctx.reply.ok();
    }
}

/// CLIENT GETNAME
pub fn getname(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let name = ctx.client.shared.name.lock().clone();
    if name.is_empty() {
        ctx.reply.null();
    } else {
        ctx.reply.bulk(&name);
    }
}

/// CLIENT SETINFO LIB-NAME name | LIB-VER version
pub fn setinfo(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let (attribute, value) = (request.arg(2), request.arg(3));
    let (slot, label) = if attribute.eq_ignore_ascii_case(b"LIB-NAME") {
        (&ctx.client.shared.lib_name, "lib-name")
    } else if attribute.eq_ignore_ascii_case(b"LIB-VER") {
        (&ctx.client.shared.lib_ver, "lib-ver")
    } else {
        return ctx.error_with_arg("ERR Unrecognized option '", attribute, "'");
    };
    if !printable(value) {
        let text = format!("ERR {label} cannot contain spaces, newlines or special characters.");
        return ctx.error_text(&text);
    }
    *slot.lock() = value.to_vec();
    ctx.reply.ok();
}

/// One CLIENT LIST line, in Valkey's field order.
pub fn describe(server: &Server, client: &ClientShared, now_ms: u64) -> String {
    let last_command = client.last_command.load(Ordering::Relaxed);
    let command = if last_command == 0 {
        "NULL"
    } else {
        server.table.commands[last_command - 1].spec.name
    };
    let mut flags = String::new();
    if client.monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    if client.subscriptions.active() {
        flags.push('P');
    }
    let multi = client.multi.load(Ordering::Relaxed);
    if client.in_multi.load(Ordering::Relaxed) {
        flags.push('x');
    }
    if client.blocked.load(Ordering::Relaxed) {
        flags.push('b');
    }
    let redirect = client.tracking_redirect.load(Ordering::Relaxed);
    if redirect >= 0 {
        flags.push('t');
        if redirect > 0 && server.tracking.redirect_broken(client.id) {
            flags.push('R');
        }
        if client.tracking_bcast.load(Ordering::Relaxed) {
            flags.push('B');
        }
    }
    if client.watch_dirty.load(Ordering::Relaxed) {
        flags.push('d');
    }
    if client.closing.load(Ordering::Relaxed) {
        flags.push('A');
    }
    if client.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if client.no_touch.load(Ordering::Relaxed) {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let output_bytes = client.output_bytes.load(Ordering::Relaxed);
    let query_bytes = client.query_buffer_bytes.load(Ordering::Relaxed);
    let lossy =
        |bytes: &parking_lot::Mutex<Vec<u8>>| String::from_utf8_lossy(&bytes.lock()).into_owned();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} capa= db={} sub={} psub={} ssub={} multi={} watch={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events={} cmd={} user=default redir={} resp={} lib-name={} lib-ver={} tot-net-in={} tot-net-out={} tot-cmds={}\n",
        client.id,
        client.addr,
        client.local_addr,
        client.fd,
        lossy(&client.name),
        now_ms.saturating_sub(client.created_ms) / 1000,
        now_ms.saturating_sub(client.last_interaction_ms.load(Ordering::Relaxed)) / 1000,
        flags,
        client.db.load(Ordering::Relaxed),
        client.subscriptions.channels.load(Ordering::Relaxed),
        client.subscriptions.patterns.load(Ordering::Relaxed),
        client.subscriptions.shard_channels.load(Ordering::Relaxed),
        multi,
        // A watched key's change ends the watch (Valkey forgets the keys then).
        if client.watch_dirty.load(Ordering::Relaxed) {
            0
        } else {
            client.watching.load(Ordering::Relaxed)
        },
        query_bytes,
        16 * 1024,
        output_bytes,
        16 * 1024 + query_bytes + output_bytes,
        if output_bytes > 0 { "rw" } else { "r" },
        command,
        redirect,
        client.protocol.load(Ordering::Relaxed),
        lossy(&client.lib_name),
        lossy(&client.lib_ver),
        client.net_in.load(Ordering::Relaxed),
        client.net_out.load(Ordering::Relaxed),
        client.total_commands.load(Ordering::Relaxed),
    )
}

/// The client type names CLIENT LIST/KILL TYPE accept; only `normal` clients exist so far.
fn client_type_known(name: &[u8]) -> bool {
    ["normal", "master", "replica", "slave", "pubsub"]
        .iter()
        .any(|known| name.eq_ignore_ascii_case(known.as_bytes()))
}

/// Whether a connection is of the given type: `pubsub` while it has a subscription, `normal`
/// otherwise (replication clients do not exist yet).
fn is_type(client: &ClientShared, name: &[u8]) -> bool {
    if client.subscriptions.active() {
        name.eq_ignore_ascii_case(b"pubsub")
    } else {
        name.eq_ignore_ascii_case(b"normal")
    }
}

fn all_clients(server: &Server) -> Vec<Arc<ClientShared>> {
    let mut clients: Vec<Arc<ClientShared>> = server.clients.lock().values().cloned().collect();
    clients.sort_by_key(|client| client.id);
    clients
}

/// CLIENT LIST [TYPE type] [ID id [id ...]]
pub fn list(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut type_filter = None;
    let mut ids: Option<Vec<u64>> = None;
    match request.get(2) {
        None => {}
        Some(option) if option.eq_ignore_ascii_case(b"TYPE") && request.len() == 4 => {
            let name = request.arg(3);
            if !client_type_known(name) {
                return ctx.error_with_arg("ERR Unknown client type '", name, "'");
            }
            type_filter = Some(name);
        }
        Some(option) if option.eq_ignore_ascii_case(b"ID") && request.len() > 3 => {
            let mut wanted = Vec::new();
            for arg in request.iter().skip(3) {
                match parse_i64(arg).filter(|id| *id > 0) {
                    Some(id) => wanted.push(id as u64),
                    None => return ctx.reply.error(b"ERR Invalid client ID"),
                }
            }
            ids = Some(wanted);
        }
        Some(_) => return ctx.reply.error(SYNTAX_ERROR),
    }
    let now_ms = ctx.now_ms;
    let mut text = String::new();
    for client in all_clients(ctx.server) {
        let type_ok = type_filter.is_none_or(|name| is_type(&client, name));
        let id_ok = ids.as_ref().is_none_or(|ids| ids.contains(&client.id));
        if type_ok && id_ok {
            text.push_str(&describe(ctx.server, &client, now_ms));
        }
    }
    ctx.reply.verbatim(text.as_bytes());
}

/// CLIENT INFO
pub fn info(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let text = describe(ctx.server, &ctx.client.shared, ctx.now_ms);
    ctx.reply.verbatim(text.as_bytes());
}

/// Which clients CLIENT KILL's filters select.
struct KillFilter<'a> {
    id: Option<u64>,
    client_type: Option<&'a [u8]>,
    addr: Option<&'a [u8]>,
    local_addr: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
    skip_me: bool,
    max_age_s: Option<u64>,
}

impl KillFilter<'_> {
    fn selects(&self, client: &ClientShared, me: u64, now_ms: u64) -> bool {
        (!self.skip_me || client.id != me)
            && self.id.is_none_or(|id| client.id == id)
            && self.client_type.is_none_or(|name| is_type(client, name))
            && self
                .addr
                .is_none_or(|addr| client.addr.to_string().as_bytes() == addr)
            && self
                .local_addr
                .is_none_or(|addr| client.local_addr.to_string().as_bytes() == addr)
            && self.user.is_none_or(|user| user == b"default")
            && self
                .max_age_s
                .is_none_or(|age| now_ms.saturating_sub(client.created_ms) / 1000 >= age)
    }
}

/// CLIENT KILL addr:port | CLIENT KILL [ID id] [TYPE type] [ADDR addr] [LADDR addr] [USER user]
/// [SKIPME yes|no] [MAXAGE seconds]
pub fn kill(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if request.len() == 3 {
        let filter = KillFilter {
            id: None,
            client_type: None,
            addr: Some(request.arg(2)),
            local_addr: None,
            user: None,
            skip_me: false,
            max_age_s: None,
        };
        return match kill_matching(ctx, &filter) {
            0 => ctx.reply.error(b"ERR No such client"),
            _ => ctx.reply.ok(),
        };
    }
    if !request.len().is_multiple_of(2) {
        return ctx.reply.error(SYNTAX_ERROR);
    }
    let mut filter = KillFilter {
        id: None,
        client_type: None,
        addr: None,
        local_addr: None,
        user: None,
        skip_me: true,
        max_age_s: None,
    };
    for pair in (2..request.len()).step_by(2) {
        let (option, value) = (request.arg(pair), request.arg(pair + 1));
        let is = |name: &str| option.eq_ignore_ascii_case(name.as_bytes());
        if is("ID") {
            match parse_i64(value) {
                Some(id) if id > 0 => filter.id = Some(id as u64),
                Some(_) => return ctx.reply.error(b"ERR client-id should be greater than 0"),
                None => return ctx.reply.error(SYNTAX_ERROR),
            }
        } else if is("TYPE") {
            if !client_type_known(value) {
                return ctx.error_with_arg("ERR Unknown client type '", value, "'");
            }
            filter.client_type = Some(value);
        } else if is("ADDR") {
            filter.addr = Some(value);
        } else if is("LADDR") {
            filter.local_addr = Some(value);
        } else if is("USER") {
            if value != b"default" {
                return ctx.error_with_arg("ERR No such user '", value, "'");
            }
            filter.user = Some(value);
        } else if is("SKIPME") {
            if value.eq_ignore_ascii_case(b"yes") {
                filter.skip_me = true;
            } else if value.eq_ignore_ascii_case(b"no") {
                filter.skip_me = false;
            } else {
                return ctx.reply.error(SYNTAX_ERROR);
            }
        } else if is("MAXAGE") {
            match parse_i64(value) {
                Some(age) if age >= 0 => filter.max_age_s = Some(age as u64),
                _ => return ctx.reply.error(SYNTAX_ERROR),
            }
        } else {
            return ctx.reply.error(SYNTAX_ERROR);
        }
    }
    let killed = kill_matching(ctx, &filter);
    ctx.reply.int(killed as i64);
}

/// Closes every client the filter selects; the caller itself after its reply.
fn kill_matching(ctx: &mut Ctx<'_>, filter: &KillFilter<'_>) -> usize {
    let me = ctx.client.id();
    let now_ms = ctx.now_ms;
    let mut killed = 0;
    for client in all_clients(ctx.server) {
        if !filter.selects(&client, me, now_ms) {
            continue;
        }
        killed += 1;
        client.closing.store(true, Ordering::Relaxed);
        if client.id == me {
            ctx.client.close_after_reply = true;
        } else if let Some(worker) = ctx.server.workers().get(client.worker) {
            worker.send(WorkerMessage::Kill(client.id));
        }
    }
    killed
}

/// CLIENT REPLY ON | OFF | SKIP
pub fn reply(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mode = request.arg(2);
    if mode.eq_ignore_ascii_case(b"ON") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.reply.ok();
    } else if mode.eq_ignore_ascii_case(b"OFF") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if mode.eq_ignore_ascii_case(b"SKIP") {
        if ctx.client.reply_mode == ReplyMode::On {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        ctx.reply.error(SYNTAX_ERROR);
    }
}

fn parse_on_off(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"ON") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"OFF") {
        Some(false)
    } else {
        None
    }
}

/// CLIENT NO-EVICT ON | OFF
pub fn no_evict(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    match parse_on_off(request.arg(2)) {
        Some(on) => {
            ctx.client.shared.no_evict.store(on, Ordering::Relaxed);
            ctx.reply.ok();
        }
        None => ctx.reply.error(SYNTAX_ERROR),
    }
}

/// CLIENT NO-TOUCH ON | OFF
pub fn no_touch(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    match parse_on_off(request.arg(2)) {
        Some(on) => {
            ctx.client.no_touch = on;
            ctx.client.shared.no_touch.store(on, Ordering::Relaxed);
            ctx.reply.ok();
        }
        None => ctx.reply.error(SYNTAX_ERROR),
    }
}

/// CLIENT PAUSE timeout [WRITE | ALL]
pub fn pause(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(timeout_ms) = parse_i64(request.arg(2)) else {
        return ctx
            .reply
            .error(b"ERR timeout is not an integer or out of range");
    };
    if timeout_ms < 0 {
        return ctx.reply.error(b"ERR timeout is negative");
    }
    let writes_only = match request.get(3) {
        None => false,
        Some(mode) if mode.eq_ignore_ascii_case(b"ALL") && request.len() == 4 => false,
        Some(mode) if mode.eq_ignore_ascii_case(b"WRITE") && request.len() == 4 => true,
        Some(_) => return ctx.reply.error(SYNTAX_ERROR),
    };
    let pause = &ctx.server.pause;
    pause.writes_only.store(writes_only, Ordering::Relaxed);
    pause.until_ms.store(
        ctx.now_ms.saturating_add(timeout_ms as u64).max(1),
        Ordering::Relaxed,
    );
    ctx.reply.ok();
}

/// CLIENT UNPAUSE
pub fn unpause(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    ctx.server.pause.until_ms.store(0, Ordering::Relaxed);
    ctx.server.wake_all(|| WorkerMessage::Unpause);
    ctx.reply.ok();
}

/// CLIENT HELP
pub fn help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "client",
        &[
            "ID",
            "    This connection's id.",
            "INFO",
            "    This connection, described as in CLIENT LIST.",
            "GETNAME",
            "    This connection's name.",
            "SETNAME <name>",
            "    Names this connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Records the client library's name or version.",
            "LIST [TYPE <type>] [ID <id> [<id> ...]]",
            "    Every connection, one line each.",
            "KILL <ip:port> | <option> <value> [<option> <value> ...]",
            "    Closes connections chosen by ID, TYPE, ADDR, LADDR, USER, SKIPME or MAXAGE.",
            "REPLY <ON|OFF|SKIP>",
            "    Turns replies on, off, or off for the next command.",
            "NO-EVICT <ON|OFF>",
            "    Exempts this connection from client eviction.",
            "NO-TOUCH <ON|OFF>",
            "    Keeps this connection's reads from changing keys' access times.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Holds commands of every client for <timeout> milliseconds.",
            "UNPAUSE",
            "    Ends a pause.",
            "HELP",
            "    This text.",
        ],
    );
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
pub fn unblock(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let Some(id) = super::parse_i64(request.arg(2)) else {
        return ctx.reply.error(super::NOT_AN_INTEGER);
    };
    let how = match request.get(3) {
        None => Unblock::Timeout,
        Some(reason) if reason.eq_ignore_ascii_case(b"TIMEOUT") => Unblock::Timeout,
        Some(reason) if reason.eq_ignore_ascii_case(b"ERROR") => Unblock::Error,
        Some(_) => {
            return ctx
                .reply
                .error(b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        }
    };
    let unblocked = ctx.server.blocking.unblock(ctx.server, id as u64, how);
    ctx.reply.int(i64::from(unblocked));
}
