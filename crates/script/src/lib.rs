//! Scripting: a Lua 5.1 interpreter in a sandbox, the `server.*` API scripts call, value
//! conversion between Lua and replies, the bundled libraries, the script cache and function
//! libraries. No I/O and no keyspace: scripts run commands only through the [`Host`] the server
//! passes for each run.

mod call;
pub mod convert;
pub mod functions;
mod libs;
pub mod num;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, VmState};
use parking_lot::Mutex;
use tern_resp::{ReplyWriter, Request};

use call::Caller;

pub use functions::Library;

/// What a script run needs from the server.
pub trait Host {
    /// Runs one command for the script and appends its reply to `reply`, encoded in RESP3
    /// when `resp3`, else RESP2; Err(text) when the command was refused before it ran (the
    /// text as a reply shows it, starting with its code or with `-CODE`).
    fn call(&mut self, args: &Request<'_>, resp3: bool, reply: &mut Vec<u8>)
        -> Result<(), Vec<u8>>;
    /// `server.log` at a level 0..=3.
    fn log(&mut self, level: i64, text: &[u8]);
    /// `server.acl_check_cmd`: Some(allowed) for a known command, None for an unknown one.
    fn acl_check(&mut self, args: &[Vec<u8>]) -> Option<bool>;
}

/// FUNCTION STATS' view of the running function: its name and its command line.
pub type RunningFunction = (Vec<u8>, Vec<Vec<u8>>);

/// The state of the running script that other connections look at: SCRIPT KILL, FUNCTION KILL,
/// FUNCTION STATS and the busy replies.
#[derive(Default)]
pub struct RunState {
    pub running: AtomicBool,
    /// A function (FCALL) rather than a script (EVAL).
    pub function: AtomicBool,
    /// The script ran a write command: it can no longer be killed.
    pub wrote: AtomicBool,
    pub kill: AtomicBool,
    /// The run went past `busy-reply-threshold`: others get BUSY.
    pub busy: AtomicBool,
    /// Milliseconds; 0 disables the check.
    pub threshold_ms: AtomicU64,
    pub started: Mutex<Option<Instant>>,
    /// FUNCTION STATS: the running function's name and command line.
    pub current: Mutex<Option<RunningFunction>>,
}

impl RunState {
    pub fn elapsed_ms(&self) -> u64 {
        self.started
            .lock()
            .map(|s| s.elapsed().as_millis() as u64)
            .unwrap_or(0)
    }

    /// SCRIPT KILL (`function == false`) or FUNCTION KILL: Ok once the kill is requested, else
    /// the error reply text.
    pub fn request_kill(&self, function: bool) -> Result<(), &'static [u8]> {
        if !self.running.load(Ordering::SeqCst) {
            return Err(b"NOTBUSY No scripts in execution right now.");
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Err(b"UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        }
        let running_function = self.function.load(Ordering::SeqCst);
        if !function && running_function {
            return Err(BUSY_FUNCTION);
        }
        if function && !running_function {
            return Err(BUSY_SCRIPT);
        }
        self.kill.store(true, Ordering::SeqCst);
        Ok(())
    }
}

pub const BUSY_SCRIPT: &[u8] =
    b"BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &[u8] =
    b"BUSY Valkey is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Shebang flags of a script or function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot: bool,
    /// A script without a shebang: the flags come from its commands, as before flags existed.
    pub compat: bool,
}

pub const FLAG_NAMES: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

impl Flags {
    /// Sets one flag by its shebang name; false for an unknown name.
    pub fn set(&mut self, name: &[u8]) -> bool {
        match name {
            b"no-writes" => self.no_writes = true,
            b"allow-oom" => self.allow_oom = true,
            b"allow-stale" => self.allow_stale = true,
            b"no-cluster" => self.no_cluster = true,
            b"allow-cross-slot-keys" => self.allow_cross_slot = true,
            _ => return false,
        }
        true
    }

    pub fn names(&self) -> Vec<&'static str> {
        let set = [
            self.no_writes,
            self.allow_oom,
            self.allow_stale,
            self.no_cluster,
            self.allow_cross_slot,
        ];
        FLAG_NAMES
            .iter()
            .zip(set)
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect()
    }
}

/// Reads the `#!lua flags=...` line of an EVAL script. Returns the flags and the body with the
/// shebang line turned into a comment (so line numbers stay), or the error reply text.
pub fn parse_eval_shebang(body: &[u8]) -> Result<(Flags, Vec<u8>), Vec<u8>> {
    if !body.starts_with(b"#!") {
        return Ok((
            Flags {
                compat: true,
                ..Flags::default()
            },
            body.to_vec(),
        ));
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = &body[..end];
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or(b"#!");
    if &engine[2..] != b"lua" {
        let mut text = b"ERR Could not find scripting engine '".to_vec();
        text.extend_from_slice(&engine[2..]);
        text.push(b'\'');
        return Err(text);
    }
    let mut flags = Flags::default();
    for part in parts {
        if let Some(list) = part.strip_prefix(b"flags=") {
            for flag in list.split(|&b| b == b',') {
                if flag.is_empty() {
                    continue;
                }
                if !flags.set(flag) {
                    let mut text = b"ERR Unexpected flag in script shebang: ".to_vec();
                    text.extend_from_slice(flag);
                    return Err(text);
                }
            }
        } else {
            let mut text = b"ERR Unknown lua shebang option: ".to_vec();
            text.extend_from_slice(part);
            return Err(text);
        }
    }
    let mut code = body.to_vec();
    code[0] = b'-';
    code[1] = b'-';
    Ok((flags, code))
}

/// The lower-case hex SHA1 of `data`.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Lua's own text of a number (`%.14g`), as `tostring` and `..` give it.
pub fn lua_number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == n.trunc() && n.abs() < 1e14 {
        return format!("{}", n as i64);
    }
    // %.14g: 14 significant digits, trailing zeros trimmed, exponent when < -4 or >= 14.
    let exp = n.abs().log10().floor() as i32;
    let sci = format!("{:.13e}", n);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..14).contains(&e) {
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", e.abs());
    }
    let decimals = (13 - e).max(0) as usize;
    let fixed = format!("{:.*}", decimals, n);
    if fixed.contains('.') {
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        fixed
    }
}

/// A compiled EVAL script.
struct Script {
    function: Function,
    flags: Flags,
    body: Vec<u8>,
}

/// What kind of body a run executes.
pub enum Target<'a> {
    /// A cached script, by SHA1.
    Script(&'a str),
    /// A function of a library, by name.
    Function(&'a [u8]),
}

/// The interpreter with its sandbox, the script cache and the function libraries.
pub struct Engine {
    lua: Lua,
    hidden: Table,
    run: Arc<RunState>,
    scripts: HashMap<String, Script>,
    pub libraries: functions::Libraries,
    /// The protocol `server.setresp` chose for this run (3: RESP3).
    resp3: Arc<AtomicBool>,
    /// The host of the run in progress and the primitives' buffers, which the primitives
    /// installed once reach it through.
    caller: Arc<Caller>,
    runners: Option<Runners>,
}

/// The text of an error value, whatever its type, as `tostring` would show it (without the
/// prefix the binding adds to errors raised in Rust).
pub(crate) fn error_message(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string_lossy(),
        Value::Number(n) => lua_number_text(*n),
        Value::Integer(n) => n.to_string(),
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Error(e) => rust_error_text(e),
        other => format!("{}: {:p}", other.type_name(), other.to_pointer()),
    }
}

fn rust_error_text(error: &mlua::Error) -> String {
    match error {
        mlua::Error::CallbackError { cause, .. } => rust_error_text(cause),
        mlua::Error::RuntimeError(text) => text.clone(),
        mlua::Error::ExternalError(e) => e.to_string(),
        mlua::Error::WithContext { cause, .. } => rust_error_text(cause),
        other => other.to_string(),
    }
}

/// An error raised by the engine itself with its full reply text (no position added).
#[derive(Debug)]
pub struct PlainError(pub String);

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlainError {}

const PRELUDE: &str = include_str!("prelude.lua");

impl Engine {
    pub fn new(run: Arc<RunState>, version: &str, version_num: i64) -> mlua::Result<Engine> {
        // SAFETY: the debug library is needed by the error handler to find the failing line; it
        // is removed from the globals scripts see before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                mlua::StdLib::ALL_SAFE | mlua::StdLib::DEBUG,
                mlua::LuaOptions::default(),
            )
        };
        let hidden = lua.create_table()?;
        let resp3 = Arc::new(AtomicBool::new(false));
        let random = Arc::new(AtomicU64::new(lrand48_seed(0)));
        hidden.set("version", version)?;
        hidden.set("version_num", version_num)?;
        // The primitives that reach the run's host, created once.
        let host = Arc::new(Caller::new(resp3.clone()));
        hidden.set("call", call::primitive_function(&lua, &host, false)?)?;
        hidden.set("raise_call", call::primitive_function(&lua, &host, true)?)?;
        {
            let host = host.clone();
            let log = lua.create_function(move |lua, args: MultiValue| {
                if args.len() < 2 {
                    let e =
                        convert::error_table(lua, b"server.log() requires two arguments or more.")?;
                    return Ok((false, Value::Table(e)));
                }
                let Some(level) = lua_to_number(&args[0]) else {
                    let e =
                        convert::error_table(lua, b"First argument must be a number (log level).")?;
                    return Ok((false, Value::Table(e)));
                };
                let level = level as i64;
                if !(0..=3).contains(&level) {
                    let e = convert::error_table(lua, b"Invalid log level.")?;
                    return Ok((false, Value::Table(e)));
                }
                let mut text = Vec::new();
                for (index, arg) in args.iter().skip(1).enumerate() {
                    let piece = match arg {
                        Value::String(s) => s.as_bytes().to_vec(),
                        Value::Number(n) => lua_number_text(*n).into_bytes(),
                        Value::Integer(n) => n.to_string().into_bytes(),
                        _ => continue,
                    };
                    if index > 0 {
                        text.push(b' ');
                    }
                    text.extend_from_slice(&piece);
                }
                host.with_host(|host| host.log(level, &text));
                Ok((true, Value::Nil))
            })?;
            hidden.set("log", log)?;
        }
        {
            let host = host.clone();
            let acl = lua.create_function(move |lua, args: MultiValue| {
                let argv = match command_args(lua, &args)? {
                    Ok(argv) => argv,
                    Err(table) => return Ok((false, Value::Table(table))),
                };
                match host.with_host(|host| host.acl_check(&argv)).flatten() {
                    Some(allowed) => Ok((true, Value::Boolean(allowed))),
                    None => {
                        let e = convert::error_table(
                            lua,
                            b"Invalid command passed to server.acl_check_cmd()",
                        )?;
                        Ok((false, Value::Table(e)))
                    }
                }
            })?;
            hidden.set("acl_check_cmd", acl)?;
        }
        hidden.set(
            "errtext",
            lua.create_function(|_, value: Value| Ok(error_message(&value)))?,
        )?;
        hidden.set(
            "plain",
            lua.create_function(|_, value: Value| {
                Ok(match &value {
                    Value::Error(e) => plain_text(e),
                    _ => None,
                })
            })?,
        )?;
        hidden.set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    let table = convert::error_table(lua, b"wrong number of arguments")?;
                    return Ok((false, Value::Table(table)));
                }
                let text = match &args[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Number(n) => lua_number_text(*n).into_bytes(),
                    Value::Integer(n) => n.to_string().into_bytes(),
                    _ => Vec::new(),
                };
                Ok((true, Value::String(lua.create_string(sha1_hex(&text))?)))
            })?,
        )?;
        let wrong_args = |lua: &Lua| -> mlua::Result<Value> {
            Ok(Value::Table(convert::error_table(
                lua,
                b"wrong number or type of arguments",
            )?))
        };
        hidden.set(
            "error_reply",
            lua.create_function(move |lua, args: MultiValue| {
                let text = match (args.len(), args.front()) {
                    (1, Some(Value::String(s))) => s.as_bytes().to_vec(),
                    _ => return wrong_args(lua),
                };
                let mut full = text.clone();
                if !full.starts_with(b"-") {
                    full.insert(0, b'-');
                }
                Ok(Value::Table(convert::error_table(lua, &full)?))
            })?,
        )?;
        hidden.set(
            "status_reply",
            lua.create_function(
                move |lua, args: MultiValue| match (args.len(), args.front()) {
                    (1, Some(Value::String(s))) => {
                        let table = lua.create_table()?;
                        table.raw_set("ok", s.clone())?;
                        Ok(Value::Table(table))
                    }
                    _ => wrong_args(lua),
                },
            )?,
        )?;
        let resp3_set = resp3.clone();
        hidden.set(
            "setresp",
            lua.create_function(move |lua, args: MultiValue| {
                if args.len() != 1 {
                    let e = convert::error_table(lua, b"server.setresp() requires one argument.")?;
                    return Ok((false, Value::Table(e)));
                }
                let resp = lua_to_number(&args[0]).map(|n| n as i64).unwrap_or(0);
                if resp != 2 && resp != 3 {
                    let e = convert::error_table(lua, b"RESP version must be 2 or 3.")?;
                    return Ok((false, Value::Table(e)));
                }
                resp3_set.store(resp == 3, Ordering::Relaxed);
                Ok((true, Value::Nil))
            })?,
        )?;
        hidden.set(
            "set_repl",
            lua.create_function(move |lua, args: MultiValue| {
                if args.len() != 1 {
                    let e =
                        convert::error_table(lua, b"server.set_repl() requires one argument.")?;
                    return Ok((false, Value::Table(e)));
                }
                let flags = args
                    .back()
                    .and_then(lua_to_number)
                    .map(|n| n as i64)
                    .unwrap_or(0);
                if flags & !3 != 0 {
                    let e = convert::error_table(
                        lua,
                        b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    )?;
                    return Ok((false, Value::Table(e)));
                }
                Ok((true, Value::Nil))
            })?,
        )?;
        let state = random.clone();
        hidden.set(
            "random",
            lua.create_function(move |_, args: MultiValue| {
                let r = (lrand48(&state) % LRAND48_MAX) as f64 / LRAND48_MAX as f64;
                let int_arg = |v: &Value| -> mlua::Result<i64> {
                    lua_to_number(v).map(|n| n as i64).ok_or_else(|| {
                        mlua::Error::RuntimeError(
                            "bad argument to 'random' (number expected)".into(),
                        )
                    })
                };
                match args.len() {
                    0 => Ok(r),
                    1 => {
                        let u = int_arg(&args[0])?;
                        if u < 1 {
                            return Err(mlua::Error::RuntimeError(
                                "bad argument #1 to 'random' (interval is empty)".into(),
                            ));
                        }
                        Ok((r * u as f64).floor() + 1.0)
                    }
                    2 => {
                        let l = int_arg(&args[0])?;
                        let u = int_arg(&args[1])?;
                        if l > u {
                            return Err(mlua::Error::RuntimeError(
                                "bad argument #2 to 'random' (interval is empty)".into(),
                            ));
                        }
                        Ok((r * (u - l + 1) as f64).floor() + l as f64)
                    }
                    _ => Err(mlua::Error::RuntimeError(
                        "wrong number of arguments".into(),
                    )),
                }
            })?,
        )?;
        let state = random.clone();
        hidden.set(
            "randomseed",
            lua.create_function(move |_, seed: Value| {
                let seed = lua_to_number(&seed).map(|n| n as i64).unwrap_or(0);
                state.store(lrand48_seed(seed as i32 as u32 as u64), Ordering::Relaxed);
                Ok(())
            })?,
        )?;
        for name in ["sha1hex", "log", "setresp", "set_repl", "acl_check_cmd"] {
            let target = hidden.clone();
            let raising = lua.create_function(move |_, args: MultiValue| {
                let primitive: Function = target.get(name)?;
                let (ok, value): (bool, Value) = primitive.call(args)?;
                if ok {
                    return Ok(value);
                }
                let text = match &value {
                    Value::Table(table) => convert::error_text(table),
                    other => error_message(other).into_bytes(),
                };
                Err(mlua::Error::external(PlainError(
                    String::from_utf8_lossy(&text).into_owned(),
                )))
            })?;
            hidden.set(format!("raise_{name}"), raising)?;
        }
        libs::register(&lua, &hidden)?;
        lua.load(PRELUDE)
            .set_name("=tern")
            .into_function()?
            .call::<Table>(hidden.clone())?;
        let run_hook = run.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |_, _| {
                if run_hook.kill.load(Ordering::Relaxed) {
                    let text = if run_hook.function.load(Ordering::Relaxed) {
                        "ERR Script killed by user with FUNCTION KILL."
                    } else {
                        "ERR Script killed by user with SCRIPT KILL."
                    };
                    return Err(mlua::Error::external(PlainError(text.into())));
                }
                let threshold = run_hook.threshold_ms.load(Ordering::Relaxed);
                if threshold > 0
                    && !run_hook.busy.load(Ordering::Relaxed)
                    && run_hook.elapsed_ms() >= threshold
                {
                    run_hook.busy.store(true, Ordering::SeqCst);
                }
                Ok(VmState::Continue)
            },
        );
        Ok(Engine {
            lua,
            hidden,
            run,
            scripts: HashMap::new(),
            libraries: functions::Libraries::default(),
            resp3,
            caller: host,
            runners: None,
        })
    }

    pub fn run_state(&self) -> &Arc<RunState> {
        &self.run
    }

    /// Compiles a script and caches it under its SHA1 (the body's, shebang included).
    /// Returns the SHA1, or the error reply text.
    pub fn load_script(&mut self, body: &[u8]) -> Result<String, Vec<u8>> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, code) = parse_eval_shebang(body)?;
        let env: Table = self.hidden.get("env").map_err(internal)?;
        let function = self
            .lua
            .load(&code[..])
            .set_name("@user_script")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(env)
            .into_function()
            .map_err(|e| {
                let mut text = b"ERR Error compiling script (new function): ".to_vec();
                text.extend_from_slice(syntax_message(&e).as_bytes());
                text
            })?;
        self.scripts.insert(
            sha.clone(),
            Script {
                function,
                flags,
                body: body.to_vec(),
            },
        );
        Ok(sha)
    }

    /// The flags of a cached script.
    pub fn script_flags(&self, sha: &str) -> Option<Flags> {
        self.scripts.get(sha).map(|s| s.flags)
    }

    pub fn script_body(&self, sha: &str) -> Option<&[u8]> {
        self.scripts.get(sha).map(|s| &s.body[..])
    }

    pub fn script_exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    pub fn script_count(&self) -> usize {
        self.scripts.len()
    }

    /// SCRIPT FLUSH: forgets every cached script.
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        let _ = self.lua.gc_collect();
    }

    /// Bytes the interpreter holds.
    pub fn memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Runs a cached script or a function with KEYS and ARGV, writing its result (or its error)
    /// to `out` in the caller's protocol. The caller has checked that the target exists.
    pub fn run(
        &mut self,
        target: Target<'_>,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        out: &mut ReplyWriter<'_>,
    ) {
        let (function, is_function, funcname) = match target {
            Target::Script(sha) => match self.scripts.get(sha) {
                Some(script) => (script.function.clone(), false, String::new()),
                None => {
                    out.error(b"NOSCRIPT No matching script.");
                    return;
                }
            },
            Target::Function(name) => match self.libraries.function(name) {
                Some(f) => (
                    f.function.clone(),
                    true,
                    String::from_utf8_lossy(name).into(),
                ),
                None => {
                    out.error(b"ERR Function not found");
                    return;
                }
            },
        };
        self.resp3.store(false, Ordering::Relaxed);
        let run = self.run.clone();
        run.kill.store(false, Ordering::SeqCst);
        run.wrote.store(false, Ordering::SeqCst);
        run.busy.store(false, Ordering::SeqCst);
        run.function.store(is_function, Ordering::SeqCst);
        *run.started.lock() = Some(Instant::now());
        run.running.store(true, Ordering::SeqCst);
        let result = self.run_inner(function, is_function, keys, args, host);
        run.running.store(false, Ordering::SeqCst);
        run.busy.store(false, Ordering::SeqCst);
        run.kill.store(false, Ordering::SeqCst);
        *run.started.lock() = None;
        *run.current.lock() = None;
        if let Some(panic) = self.caller.take_panic() {
            std::panic::resume_unwind(panic);
        }
        match result {
            Ok((true, value)) => {
                convert::lua_to_reply(&value, out, self.resp3.load(Ordering::Relaxed))
            }
            Ok((false, value)) => self.write_failure(&value, &funcname, out),
            Err(e) => {
                let text = format!("ERR {}", rust_error_text(&e));
                out.error(text.as_bytes());
            }
        }
    }

    fn write_failure(&self, value: &Value, funcname: &str, out: &mut ReplyWriter<'_>) {
        match value {
            Value::Table(table) => {
                let mut text = b"-".to_vec();
                text.extend_from_slice(&convert::error_text(table));
                let source = table.get::<Value>("source").ok();
                let line = table.get::<Value>("line").ok();
                if let (Some(source), Some(line)) = (source, line) {
                    if let (Some(source), Some(line)) = (value_text(&source), value_text(&line)) {
                        // The reference server names no script here (its text is `script: on`).
                        text.extend_from_slice(b" script: on ");
                        text.extend_from_slice(&source);
                        text.push(b':');
                        text.extend_from_slice(&line);
                        text.push(b'.');
                    }
                }
                convert::write_error(out, &text);
            }
            other => {
                let msg = match other {
                    Value::String(s) => s.to_string_lossy(),
                    _ => "execution failure".into(),
                };
                let msg: String = msg.chars().take(100).collect();
                out.error(format!("ERR Error running script {funcname}, {msg}").as_bytes());
            }
        }
    }

    fn run_inner(
        &mut self,
        function: Function,
        is_function: bool,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
    ) -> mlua::Result<(bool, Value)> {
        // SAFETY: the closure pushes two tables of strings, reserving the slots it uses.
        let (keys_table, args_table) = unsafe {
            self.lua.exec_raw::<(Table, Table)>((), |state| {
                push_sequence(state, keys);
                push_sequence(state, args);
            })?
        };
        if self.runners.is_none() {
            self.runners = Some(Runners {
                real: self.hidden.get("real")?,
                handler: self.hidden.get("handler")?,
                run_script: self.hidden.get("run_script")?,
                run_function: self.hidden.get("run_function")?,
            });
        }
        let Some(runners) = &self.runners else {
            unreachable!("set above");
        };
        let _guard = self.caller.enter(host);
        if is_function {
            runners.run_function.call::<(bool, Value)>((
                function,
                keys_table,
                args_table,
                &runners.handler,
            ))
        } else {
            runners.real.raw_set("KEYS", keys_table)?;
            runners.real.raw_set("ARGV", args_table)?;
            runners
                .run_script
                .call::<(bool, Value)>((function, &runners.handler))
        }
    }
}

/// Pushes a sequence of strings (KEYS, ARGV) without a binding handle per string.
///
/// # Safety
/// `state` is the state of a raw call in progress.
unsafe fn push_sequence(state: *mut mlua::ffi::lua_State, items: &[&[u8]]) {
    use mlua::ffi;
    ffi::luaL_checkstack_(state, 2, c"too many arguments".as_ptr());
    ffi::lua_createtable(state, items.len().min(1 << 16) as std::ffi::c_int, 0);
    for (index, item) in items.iter().enumerate() {
        ffi::lua_pushlstring_(state, item.as_ptr().cast(), item.len());
        ffi::lua_rawseti_(state, -2, (index + 1) as std::ffi::c_int);
    }
}

/// The prelude's pieces every run uses, looked up once.
struct Runners {
    real: Table,
    handler: Function,
    run_script: Function,
    run_function: Function,
}

/// The text of a plain engine error (a kill), if `error` is one.
fn plain_text(error: &mlua::Error) -> Option<String> {
    match error {
        mlua::Error::CallbackError { cause, .. } => plain_text(cause),
        mlua::Error::WithContext { cause, .. } => plain_text(cause),
        mlua::Error::ExternalError(e) => e.downcast_ref::<PlainError>().map(|p| p.0.clone()),
        _ => None,
    }
}

pub(crate) fn syntax_message(error: &mlua::Error) -> String {
    match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => rust_error_text(other),
    }
}

fn internal(e: mlua::Error) -> Vec<u8> {
    format!("ERR {e}").into_bytes()
}

fn value_text(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(lua_number_text(*n).into_bytes()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// A Lua value as a number the way `lua_tonumber` reads it (numbers and numeric strings).
pub fn lua_to_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        Value::String(s) => {
            let text = s.to_str().ok()?;
            let text = text.trim();
            if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                return i64::from_str_radix(hex, 16).ok().map(|n| n as f64);
            }
            text.parse::<f64>().ok()
        }
        _ => None,
    }
}

/// The arguments of `server.call`: strings, or numbers printed as the server prints them.
/// Err(error table) when there are none or one is of another type.
fn command_args(lua: &Lua, args: &MultiValue) -> mlua::Result<Result<Vec<Vec<u8>>, Table>> {
    if args.is_empty() {
        return Ok(Err(convert::error_table(
            lua,
            b"Please specify at least one argument for this call",
        )?));
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in args.iter() {
        match arg {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            Value::Number(n) => argv.push(num::arg_text(*n).into_bytes()),
            Value::Integer(n) => argv.push(n.to_string().into_bytes()),
            _ => {
                return Ok(Err(convert::error_table(
                    lua,
                    b"Command arguments must be strings or integers",
                )?))
            }
        }
    }
    Ok(Ok(argv))
}

const LRAND48_MAX: u64 = i32::MAX as u64;

fn lrand48_seed(seed: u64) -> u64 {
    ((seed & 0xffff_ffff) << 16) | 0x330e
}

fn lrand48(state: &AtomicU64) -> u64 {
    let next = (state
        .load(Ordering::Relaxed)
        .wrapping_mul(0x5_DEEC_E66D)
        .wrapping_add(0xb))
        & ((1 << 48) - 1);
    state.store(next, Ordering::Relaxed);
    next >> 17
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_resp::Protocol;

    struct NoHost;

    impl Host for NoHost {
        fn call(
            &mut self,
            args: &Request<'_>,
            _resp3: bool,
            reply: &mut Vec<u8>,
        ) -> Result<(), Vec<u8>> {
            match args.arg(0) {
                b"ping" => reply.extend_from_slice(b"+PONG\r\n"),
                b"echo" => reply.extend_from_slice(
                    format!(
                        "${}\r\n{}\r\n",
                        args.arg(1).len(),
                        String::from_utf8_lossy(args.arg(1))
                    )
                    .as_bytes(),
                ),
                b"fail" => reply.extend_from_slice(b"-ERR failed\r\n"),
                _ => return Err(b"ERR Unknown command called from script".to_vec()),
            }
            Ok(())
        }
        fn log(&mut self, _level: i64, _text: &[u8]) {}
        fn acl_check(&mut self, _args: &[Vec<u8>]) -> Option<bool> {
            Some(true)
        }
    }

    pub fn eval(engine: &mut Engine, body: &str, protocol: Protocol) -> String {
        let mut out = Vec::new();
        let mut writer = ReplyWriter::new(&mut out, protocol);
        match engine.load_script(body.as_bytes()) {
            Ok(sha) => engine.run(Target::Script(&sha), &[], &[], &mut NoHost, &mut writer),
            Err(text) => writer.error(&text),
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn engine() -> Engine {
        Engine::new(Arc::new(RunState::default()), "9.1.2", 0x090102).unwrap()
    }

    #[test]
    fn errors_carry_the_script_position() {
        let mut e = engine();
        let r2 = Protocol::Resp2;
        assert_eq!(eval(&mut e, "return io", r2), "-ERR user_script:1: Script attempted to access nonexistent global variable 'io' script: on @user_script:1.\r\n");
        assert_eq!(
            eval(&mut e, "return redis.call('nosuch')", r2),
            "-ERR Unknown command called from script script: on @user_script:1.\r\n"
        );
        assert_eq!(
            eval(&mut e, "return redis.call('echo', 'a')", r2),
            "$1\r\na\r\n"
        );
    }
}
