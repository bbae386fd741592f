//! EVAL, EVALSHA, their read-only forms, SCRIPT, FCALL and FUNCTION: the interpreter lives in
//! `tern-script`; here are the command handlers and the one function that runs a command on a
//! script's behalf.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tern_resp::{Protocol, ReplyWriter, Request};
use tern_script::{Engine, Flags, Host, RunState, Target};

use super::{parse_i64, write_help, Ctx, NOT_AN_INTEGER};
use crate::config::Directive;
use crate::dispatch::Lookup;
use crate::log::Level;

/// The server's scripting state: the interpreter (locked while a script runs or the cache
/// changes) and what other connections read without that lock.
pub struct Scripting {
    pub engine: Mutex<EngineCell>,
    pub run: Arc<RunState>,
    /// The worker running the current script or function.
    pub worker: AtomicUsize,
    pub library_count: AtomicUsize,
    pub function_count: AtomicUsize,
}

/// The interpreter, movable between worker threads.
///
/// The binding's thread-safe mode puts a re-entrant lock around every call into the
/// interpreter; Tern already serializes all use of it behind `Scripting::engine`, so the binding
/// runs without that layer and this wrapper says the engine may move between threads.
pub struct EngineCell(Engine);

// SAFETY: every value that refers to the interpreter (the state, tables, functions, the cached
// scripts and libraries) lives inside the engine and is touched only while the mutex around
// this cell is held, which orders all uses from different threads; none escapes it.
unsafe impl Send for EngineCell {}

impl std::ops::Deref for EngineCell {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        &self.0
    }
}

impl std::ops::DerefMut for EngineCell {
    fn deref_mut(&mut self) -> &mut Engine {
        &mut self.0
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Self::new()
    }
}

impl Scripting {
    /// A script or function has run past `busy-reply-threshold`.
    #[inline]
    pub fn busy(&self) -> bool {
        self.run.running.load(Ordering::Relaxed) && self.run.busy.load(Ordering::Relaxed)
    }

    /// The worker a script or function is running on, if one is running: a connection
    /// accepted there would wait for the script's end instead of getting BUSY.
    pub fn running_on(&self) -> Option<usize> {
        self.run
            .running
            .load(Ordering::Relaxed)
            .then(|| self.worker.load(Ordering::Relaxed))
    }

    /// The error other clients get meanwhile.
    pub fn busy_error(&self) -> &'static [u8] {
        if self.run.function.load(Ordering::Relaxed) {
            b"BUSY Valkey is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        } else {
            b"BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        }
    }

    pub fn new() -> Scripting {
        let run = Arc::new(RunState::default());
        let engine = Engine::new(run.clone(), crate::VALKEY_VERSION, version_num())
            .expect("the script interpreter starts");
        Scripting {
            engine: Mutex::new(EngineCell(engine)),
            run,
            worker: AtomicUsize::new(0),
            library_count: AtomicUsize::new(0),
            function_count: AtomicUsize::new(0),
        }
    }
}

fn version_num() -> i64 {
    let mut parts = crate::VALKEY_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    (major << 16) | (minor << 8) | patch
}

/// Runs the commands of one script for it, in the caller's connection state.
struct ScriptHost<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    read_only: bool,
    /// The script declared `allow-oom`: its commands run even when memory is out.
    allow_oom: bool,
    run: &'c RunState,
}

impl Host for ScriptHost<'_, '_> {
    fn call(
        &mut self,
        args: &Request<'_>,
        resp3: bool,
        reply: &mut Vec<u8>,
    ) -> Result<(), Vec<u8>> {
        run_for_script(
            self.ctx,
            args,
            resp3,
            (self.read_only, self.allow_oom),
            self.run,
            reply,
        )
    }

    fn log(&mut self, level: i64, text: &[u8]) {
        let level = match level {
            0 => Level::Debug,
            1 => Level::Verbose,
            2 => Level::Notice,
            _ => Level::Warning,
        };
        crate::log::log(level, &String::from_utf8_lossy(text));
    }

    fn acl_check(&mut self, args: &[Vec<u8>]) -> Option<bool> {
        match self
            .ctx
            .server
            .table
            .resolve(&args[0], args.get(1).map(|a| &a[..]))
        {
            Lookup::Found(_) => Some(true),
            _ => None,
        }
    }
}

/// Runs one command on behalf of a script: the checks a script's call gets (unknown command,
/// arity, commands not allowed in scripts, writes from read-only scripts), then the handler
/// with a reply buffer of the script's protocol. Appends the encoded reply to `out`, or
/// returns the text of a refusal.
fn run_for_script(
    ctx: &mut Ctx<'_>,
    request: &Request<'_>,
    resp3: bool,
    (read_only, allow_oom): (bool, bool),
    run: &RunState,
    out: &mut Vec<u8>,
) -> Result<(), Vec<u8>> {
    let server = ctx.server;
    let sub = (request.len() > 1).then(|| request.arg(1));
    let command = match server.table.resolve(request.arg(0), sub) {
        Lookup::Found(command) => command,
        Lookup::Unknown => return Err(b"ERR Unknown command called from script".to_vec()),
        Lookup::UnknownSubcommand(container) => {
            let sub = super::c_str(request.arg(1));
            let suffix = format!("'. Try {} HELP.", container.spec.name.to_ascii_uppercase());
            let mut reply = b"-".to_vec();
            reply.extend_from_slice(&super::error_with_arg(
                "ERR unknown subcommand '",
                &sub[..sub.len().min(128)],
                &suffix,
            ));
            reply.extend_from_slice(b"\r\n");
            out.extend_from_slice(&reply);
            return Ok(());
        }
    };
    if !command.spec.arity_ok(request.len()) {
        return Err(b"ERR Wrong number of args calling command from script".to_vec());
    }
    if command.spec.has_flag("noscript") {
        return Err(b"ERR This Valkey command is not allowed from script".to_vec());
    }
    if command.flags.write && read_only {
        return Err(b"ERR Write commands are not allowed from read-only scripts.".to_vec());
    }
    // Memory was out when the script started and it has not written yet: it may not start.
    let wrote = run.wrote.load(Ordering::SeqCst);
    if crate::evict::script_call_refused(server, ctx.local, command, allow_oom, wrote) {
        return Err(crate::evict::OOM_ERROR.to_vec());
    }
    if command.flags.write {
        run.wrote.store(true, Ordering::SeqCst);
    }
    if command.handler.is_none() {
        return Err(b"ERR Wrong number of args calling command from script".to_vec());
    }
    let protocol = if resp3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    let saved = ctx.client.protocol;
    ctx.client.protocol = protocol;
    ctx.client.in_script = true;
    crate::worker::invoke(
        server, ctx.local, ctx.client, out, command, request, ctx.now_ms,
    );
    ctx.client.in_script = false;
    ctx.client.protocol = saved;
    Ok(())
}

/// Reads the number of keys at `index` and checks it against the arguments that follow.
/// `not_integer`: the error for a count that is not an integer (FCALL has its own).
fn parse_numkeys(
    ctx: &mut Ctx<'_>,
    request: &Request<'_>,
    index: usize,
    not_integer: &[u8],
) -> Option<usize> {
    let Some(numkeys) = parse_i64(request.arg(index)) else {
        ctx.reply.error(not_integer);
        return None;
    };
    if numkeys > (request.len() - index - 1) as i64 {
        ctx.reply
            .error(b"ERR Number of keys can't be greater than number of args");
        return None;
    }
    if numkeys < 0 {
        ctx.reply.error(b"ERR Number of keys can't be negative");
        return None;
    }
    Some(numkeys as usize)
}

/// Runs a script or function in the caller's connection: exclusive, non-blocking commands,
/// the caller's database restored afterwards.
fn run_target(
    ctx: &mut Ctx<'_>,
    engine: &mut Engine,
    target: Target<'_>,
    keys: &[&[u8]],
    args: &[&[u8]],
    (read_only, allow_oom): (bool, bool),
) {
    let server = ctx.server;
    let run = server.scripting.run.clone();
    server
        .scripting
        .worker
        .store(ctx.local.id, Ordering::Relaxed);
    run.threshold_ms.store(
        server.config.int(Directive::BusyReplyThreshold).max(0) as u64,
        Ordering::Relaxed,
    );
    let db = ctx.client.db;
    let no_block = ctx.client.no_block;
    ctx.client.no_block = true;
    let mut out = Vec::new();
    let protocol = ctx.reply.protocol;
    {
        let mut host = ScriptHost {
            ctx: &mut *ctx,
            read_only,
            allow_oom,
            run: &run,
        };
        engine.run(
            target,
            keys,
            args,
            &mut host,
            &mut ReplyWriter::new(&mut out, protocol),
        );
    }
    ctx.client.no_block = no_block;
    if ctx.client.db != db {
        ctx.client.select(db);
    }
    ctx.reply.raw(&out);
}

fn eval_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, by_sha: bool, ro: bool) {
    let Some(numkeys) = parse_numkeys(ctx, request, 2, NOT_AN_INTEGER) else {
        return;
    };
    let keys: Vec<&[u8]> = (3..3 + numkeys).map(|i| request.arg(i)).collect();
    let args: Vec<&[u8]> = (3 + numkeys..request.len())
        .map(|i| request.arg(i))
        .collect();
    crate::atomic::exclusive(ctx, |ctx| {
        let server = ctx.server;
        let mut engine = server.scripting.engine.lock();
        let sha = if by_sha {
            sha_key(request.arg(1))
        } else {
            match engine.load_script(request.arg(1)) {
                Ok(sha) => Cow::Owned(sha),
                Err(text) => {
                    ctx.reply.error(&text);
                    return;
                }
            }
        };
        let Some(flags) = engine.script_flags(&sha) else {
            ctx.reply.error(b"NOSCRIPT No matching script.");
            return;
        };
        if let Err(text) = check_flags(flags, ro) {
            ctx.reply.error(text);
            return;
        }
        let read_only = ro || (!flags.compat && flags.no_writes);
        run_target(
            ctx,
            &mut engine,
            Target::Script(&sha),
            &keys,
            &args,
            (read_only, !flags.compat && flags.allow_oom),
        );
    });
    crate::blocking::serve_ready(ctx.server, ctx.local, ctx.now_ms);
}

/// A SHA1 as the script cache keys it (lower case), borrowed when the client sent it so.
fn sha_key(given: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(given) {
        Ok(text) if !text.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(text),
        _ => Cow::Owned(String::from_utf8_lossy(given).to_ascii_lowercase()),
    }
}

/// The checks made before a script or function runs, from its flags.
fn check_flags(flags: Flags, ro: bool) -> Result<(), &'static [u8]> {
    if !flags.compat && !flags.no_writes && ro {
        return Err(b"ERR Can not execute a script with write flag using *_ro command.");
    }
    Ok(())
}

pub fn eval(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    eval_generic(ctx, request, false, false);
}

pub fn evalsha(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    eval_generic(ctx, request, true, false);
}

pub fn eval_ro(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    eval_generic(ctx, request, false, true);
}

pub fn evalsha_ro(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    eval_generic(ctx, request, true, true);
}

pub fn script_load(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let result = ctx
        .server
        .scripting
        .engine
        .lock()
        .load_script(request.arg(2));
    match result {
        Ok(sha) => ctx.reply.bulk(sha.as_bytes()),
        Err(text) => ctx.reply.error(&text),
    }
}

pub fn script_exists(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let engine = ctx.server.scripting.engine.lock();
    let found: Vec<bool> = (2..request.len())
        .map(|i| {
            let sha = sha_key(request.arg(i));
            engine.script_exists(&sha)
        })
        .collect();
    drop(engine);
    ctx.reply.array(found.len());
    for exists in found {
        ctx.reply.int(i64::from(exists));
    }
}

/// SCRIPT FLUSH and FUNCTION FLUSH take nothing, SYNC or ASYNC.
fn flush_mode_ok(request: &Request<'_>) -> bool {
    match request.len() {
        2 => true,
        3 => {
            let mode = request.arg(2);
            mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async")
        }
        _ => false,
    }
}

pub fn script_flush(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if !flush_mode_ok(request) {
        return ctx
            .reply
            .error(b"ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.server.scripting.engine.lock().flush_scripts();
    ctx.reply.ok();
}

pub fn script_kill(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    match ctx.server.scripting.run.request_kill(false) {
        Ok(()) => ctx.reply.ok(),
        Err(text) => ctx.reply.error(text),
    }
}

pub fn script_show(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let sha = sha_key(request.arg(2));
    let engine = ctx.server.scripting.engine.lock();
    match engine.script_body(&sha) {
        Some(body) => {
            let body = body.to_vec();
            drop(engine);
            ctx.reply.bulk(&body);
        }
        None => {
            drop(engine);
            ctx.reply.error(b"NOSCRIPT No matching script.");
        }
    }
}

pub fn script_help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "script",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Tell for each SHA1 whether the script cache holds that script.",
            "FLUSH [ASYNC|SYNC]",
            "    Empty the script cache.",
            "KILL",
            "    Stop the running script, unless it has written.",
            "LOAD <script>",
            "    Compile a script into the cache without running it.",
            "SHOW <sha1>",
            "    Return the body of a cached script.",
            "HELP",
            "    Print this help.",
        ],
    );
}

fn fcall_generic(ctx: &mut Ctx<'_>, request: &Request<'_>, ro: bool) {
    let Some(numkeys) = parse_numkeys(ctx, request, 2, b"ERR Bad number of keys provided") else {
        return;
    };
    let keys: Vec<&[u8]> = (3..3 + numkeys).map(|i| request.arg(i)).collect();
    let args: Vec<&[u8]> = (3 + numkeys..request.len())
        .map(|i| request.arg(i))
        .collect();
    crate::atomic::exclusive(ctx, |ctx| {
        let server = ctx.server;
        let mut engine = server.scripting.engine.lock();
        let name = request.arg(1);
        let Some(flags) = engine.libraries.function(name).map(|f| f.flags) else {
            ctx.reply.error(b"ERR Function not found");
            return;
        };
        if let Err(text) = check_flags(flags, ro) {
            ctx.reply.error(text);
            return;
        }
        *server.scripting.run.current.lock() =
            Some((name.to_vec(), request.iter().map(<[u8]>::to_vec).collect()));
        let read_only = ro || flags.no_writes;
        run_target(
            ctx,
            &mut engine,
            Target::Function(name),
            &keys,
            &args,
            (read_only, flags.allow_oom),
        );
    });
    crate::blocking::serve_ready(ctx.server, ctx.local, ctx.now_ms);
}

pub fn fcall(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fcall_generic(ctx, request, false);
}

pub fn fcall_ro(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    fcall_generic(ctx, request, true);
}

fn update_counts(ctx: &Ctx<'_>, engine: &Engine) {
    let scripting = &ctx.server.scripting;
    scripting
        .library_count
        .store(engine.libraries.libraries.len(), Ordering::Relaxed);
    scripting
        .function_count
        .store(engine.libraries.index.len(), Ordering::Relaxed);
}

pub fn function_load(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut replace = false;
    let mut index = 2;
    while index < request.len() - 1 {
        let option = request.arg(index);
        if option.eq_ignore_ascii_case(b"replace") {
            replace = true;
            index += 1;
        } else {
            return ctx.error_with_arg("ERR Unknown option given: ", option, "");
        }
    }
    let code = request.arg(request.len() - 1);
    let mut engine = ctx.server.scripting.engine.lock();
    let result = engine.load_library(code, replace);
    update_counts(ctx, &engine);
    drop(engine);
    match result {
        Ok(name) => ctx.reply.bulk(&name),
        Err(text) => ctx.reply.error(&text),
    }
}

pub fn function_list(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut index = 2;
    while index < request.len() {
        let option = request.arg(index);
        if option.eq_ignore_ascii_case(b"withcode") && !with_code {
            with_code = true;
            index += 1;
        } else if option.eq_ignore_ascii_case(b"libraryname") && pattern.is_none() {
            if index + 1 >= request.len() {
                return ctx.reply.error(b"ERR library name argument was not given");
            }
            pattern = Some(request.arg(index + 1));
            index += 2;
        } else {
            return ctx.error_with_arg("ERR Unknown argument ", option, "");
        }
    }
    let engine = ctx.server.scripting.engine.lock();
    let libraries: Vec<_> = engine
        .libraries
        .libraries
        .values()
        .filter(|lib| pattern.is_none_or(|p| tern_keyspace::glob_match(p, &lib.name, false)))
        .collect();
    let reply = &mut ctx.reply;
    reply.array(libraries.len());
    for library in libraries {
        reply.map(if with_code { 4 } else { 3 });
        reply.bulk(b"library_name");
        reply.bulk(&library.name);
        reply.bulk(b"engine");
        reply.bulk(b"LUA");
        reply.bulk(b"functions");
        reply.array(library.functions.len());
        for function in library.functions.values() {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(&function.name);
            reply.bulk(b"description");
            match &function.description {
                Some(text) => reply.bulk(text),
                None => reply.null(),
            }
            reply.bulk(b"flags");
            let names = function.flags.names();
            reply.set(names.len());
            for name in names {
                reply.simple(name.as_bytes());
            }
        }
        if with_code {
            reply.bulk(b"library_code");
            reply.bulk(&library.code);
        }
    }
}

pub fn function_delete(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let mut engine = ctx.server.scripting.engine.lock();
    let found = engine.delete_library(request.arg(2));
    update_counts(ctx, &engine);
    drop(engine);
    if found {
        ctx.reply.ok();
    } else {
        ctx.reply.error(b"ERR Library not found");
    }
}

pub fn function_flush(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    if !flush_mode_ok(request) {
        return ctx
            .reply
            .error(b"ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    let mut engine = ctx.server.scripting.engine.lock();
    engine.flush_libraries();
    update_counts(ctx, &engine);
    drop(engine);
    ctx.reply.ok();
}

pub fn function_dump(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let payload = ctx.server.scripting.engine.lock().dump_libraries();
    ctx.reply.bulk(&payload);
}

pub fn function_restore(ctx: &mut Ctx<'_>, request: &Request<'_>) {
    let policy =
        match request.get(3) {
            None => "append",
            Some(p) if p.eq_ignore_ascii_case(b"append") => "append",
            Some(p) if p.eq_ignore_ascii_case(b"replace") => "replace",
            Some(p) if p.eq_ignore_ascii_case(b"flush") => "flush",
            Some(_) => return ctx.reply.error(
                b"ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    if request.len() > 4 {
        return ctx.reply.error(super::SYNTAX_ERROR);
    }
    let mut engine = ctx.server.scripting.engine.lock();
    let result = engine.restore_libraries(request.arg(2), policy);
    update_counts(ctx, &engine);
    drop(engine);
    match result {
        Ok(()) => ctx.reply.ok(),
        Err(text) => ctx.reply.error(&text),
    }
}

pub fn function_stats(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    let scripting = &ctx.server.scripting;
    let run = &scripting.run;
    let current = if run.running.load(Ordering::SeqCst) {
        run.current.lock().clone()
    } else {
        None
    };
    let libraries = scripting.library_count.load(Ordering::Relaxed) as i64;
    let functions = scripting.function_count.load(Ordering::Relaxed) as i64;
    let elapsed = run.elapsed_ms() as i64;
    let reply = &mut ctx.reply;
    reply.map(2);
    reply.bulk(b"running_script");
    match current {
        Some((name, command)) => {
            reply.map(3);
            reply.bulk(b"name");
            reply.bulk(&name);
            reply.bulk(b"command");
            reply.array(command.len());
            for arg in &command {
                reply.bulk(arg);
            }
            reply.bulk(b"duration_ms");
            reply.int(elapsed);
        }
        None => reply.null(),
    }
    reply.bulk(b"engines");
    reply.map(1);
    reply.bulk(b"LUA");
    reply.map(2);
    reply.bulk(b"libraries_count");
    reply.int(libraries);
    reply.bulk(b"functions_count");
    reply.int(functions);
}

pub fn function_kill(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    match ctx.server.scripting.run.request_kill(true) {
        Ok(()) => ctx.reply.ok(),
        Err(text) => ctx.reply.error(text),
    }
}

pub fn function_help(ctx: &mut Ctx<'_>, _request: &Request<'_>) {
    write_help(
        ctx,
        "function",
        &[
            "LOAD [REPLACE] <library code>",
            "    Load a library of functions; REPLACE swaps a library of the same name.",
            "LIST [LIBRARYNAME <pattern>] [WITHCODE]",
            "    List the libraries, their functions and optionally their code.",
            "DELETE <library name>",
            "    Delete a library and its functions.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete every library.",
            "DUMP",
            "    Serialize every library into one payload.",
            "RESTORE <payload> [FLUSH|APPEND|REPLACE]",
            "    Load the libraries of a DUMP payload.",
            "STATS",
            "    Report the running function and the counts of libraries and functions.",
            "KILL",
            "    Stop the running function, unless it has written.",
            "HELP",
            "    Print this help.",
        ],
    );
}
