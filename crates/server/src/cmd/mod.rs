//! Command handlers, one module per group, each handler named after its command.
//!
//! A handler gets a [`Ctx`] (the server, its own connection's state, the reply writer, the
//! command time) and the request's arguments. Arity was checked by dispatch from the command
//! table, so handlers index arguments freely up to the arity. Every error a client sees is
//! written as its exact wire text.

mod client;
mod connection;
mod hash;
mod keys;
mod list;
pub mod memory;
mod multi;
mod pubsub;
pub mod script;
mod server;
mod set;
mod sort;
mod string;
mod tracking;
mod zset;

use tern_keyspace::{Db, Entry, SlotGuard};
use tern_resp::{ReplyWriter, Request};

use crate::client::ClientState;
use crate::dispatch::Command;
use crate::server::Server;
use crate::worker::WorkerLocal;

pub use server::info_text;

pub struct Ctx<'a> {
    pub server: &'a Server,
    pub client: &'a mut ClientState,
    pub reply: ReplyWriter<'a>,
    pub local: &'a mut WorkerLocal,
    /// The command's time: one clock reading per command, as Valkey's expiry checks use.
    pub now_ms: u64,
    pub command: &'a Command,
}

pub type Handler = fn(&mut Ctx<'_>, &Request<'_>);

macro_rules! handlers {
    ($( $name:literal => $handler:path, )*) => {
        /// The handler of a command table entry, by its name.
        pub fn handler(name: &str) -> Option<Handler> {
            match name {
                $( $name => Some($handler as Handler), )*
                _ => None,
            }
        }

        /// Every name with a handler (checked against the command table in tests).
        #[cfg(test)]
        pub const HANDLED: &[&str] = &[ $( $name, )* ];
    };
}

handlers! {
    // connection
    "ping" => connection::ping,
    "echo" => connection::echo,
    "hello" => connection::hello,
    "select" => connection::select,
    "quit" => connection::quit,
    "reset" => connection::reset,
    "auth" => connection::auth,
    "client|id" => client::id,
    "client|setname" => client::setname,
    "client|getname" => client::getname,
    "client|setinfo" => client::setinfo,
    "client|list" => client::list,
    "client|info" => client::info,
    "client|kill" => client::kill,
    "client|reply" => client::reply,
    "client|no-evict" => client::no_evict,
    "client|no-touch" => client::no_touch,
    "client|pause" => client::pause,
    "client|unpause" => client::unpause,
    "client|help" => client::help,
    "client|unblock" => client::unblock,
    "client|tracking" => tracking::tracking,
    "client|caching" => tracking::caching,
    "client|getredir" => tracking::getredir,
    "client|trackinginfo" => tracking::trackinginfo,
    // transactions
    "multi" => multi::multi,
    "exec" => multi::exec,
    "discard" => multi::discard,
    "watch" => multi::watch,
    "unwatch" => multi::unwatch,
    // strings
    "set" => string::set,
    "get" => string::get,
    "getex" => string::getex,
    "getdel" => string::getdel,
    "getset" => string::getset,
    "mget" => string::mget,
    "mset" => string::mset,
    "msetnx" => string::msetnx,
    "setnx" => string::setnx,
    "setex" => string::setex,
    "psetex" => string::psetex,
    "append" => string::append,
    "strlen" => string::strlen,
    "incr" => string::incr,
    "decr" => string::decr,
    "incrby" => string::incrby,
    "decrby" => string::decrby,
    "incrbyfloat" => string::incrbyfloat,
    "getrange" => string::getrange,
    "substr" => string::getrange,
    "setrange" => string::setrange,
    "lcs" => string::lcs,
    // sets
    "sadd" => set::sadd,
    "srem" => set::srem,
    "smembers" => set::smembers,
    "sismember" => set::sismember,
    "smismember" => set::smismember,
    "scard" => set::scard,
    "spop" => set::spop,
    "srandmember" => set::srandmember,
    "smove" => set::smove,
    "sinter" => set::sinter,
    "sintercard" => set::sintercard,
    "sinterstore" => set::sinterstore,
    "sunion" => set::sunion,
    "sunionstore" => set::sunionstore,
    "sdiff" => set::sdiff,
    "sdiffstore" => set::sdiffstore,
    "sscan" => set::sscan,
    // lists
    "lpush" => list::lpush,
    "blpop" => list::blpop,
    "brpop" => list::brpop,
    "blmove" => list::blmove,
    "brpoplpush" => list::brpoplpush,
    "blmpop" => list::blmpop,
    "rpush" => list::rpush,
    "lpushx" => list::lpushx,
    "rpushx" => list::rpushx,
    "lpop" => list::lpop,
    "rpop" => list::rpop,
    "llen" => list::llen,
    "lrange" => list::lrange,
    "lindex" => list::lindex,
    "lset" => list::lset,
    "linsert" => list::linsert,
    "lrem" => list::lrem,
    "ltrim" => list::ltrim,
    "lpos" => list::lpos,
    "lmove" => list::lmove,
    "rpoplpush" => list::rpoplpush,
    "lmpop" => list::lmpop,
    // sorted sets
    "zadd" => zset::zadd,
    "zincrby" => zset::zincrby,
    "zrem" => zset::zrem,
    "zcard" => zset::zcard,
    "zscore" => zset::zscore,
    "zmscore" => zset::zmscore,
    "zrank" => zset::zrank,
    "zrevrank" => zset::zrevrank,
    "zcount" => zset::zcount,
    "zlexcount" => zset::zlexcount,
    "zrange" => zset::zrange,
    "zrangestore" => zset::zrangestore,
    "zrangebyscore" => zset::zrangebyscore,
    "zrangebylex" => zset::zrangebylex,
    "zrevrange" => zset::zrevrange,
    "zrevrangebyscore" => zset::zrevrangebyscore,
    "zrevrangebylex" => zset::zrevrangebylex,
    "zremrangebyrank" => zset::zremrangebyrank,
    "zremrangebyscore" => zset::zremrangebyscore,
    "zremrangebylex" => zset::zremrangebylex,
    "zpopmin" => zset::zpopmin,
    "zpopmax" => zset::zpopmax,
    "zmpop" => zset::zmpop,
    "bzpopmin" => zset::bzpopmin,
    "bzpopmax" => zset::bzpopmax,
    "bzmpop" => zset::bzmpop,
    "zrandmember" => zset::zrandmember,
    "zscan" => zset::zscan,
    "zunion" => zset::zunion,
    "zinter" => zset::zinter,
    "zdiff" => zset::zdiff,
    "zunionstore" => zset::zunionstore,
    "zinterstore" => zset::zinterstore,
    "zdiffstore" => zset::zdiffstore,
    "zintercard" => zset::zintercard,
    // hashes
    "hset" => hash::hset,
    "hmset" => hash::hset,
    "hsetnx" => hash::hsetnx,
    "hget" => hash::hget,
    "hmget" => hash::hmget,
    "hdel" => hash::hdel,
    "hlen" => hash::hlen,
    "hexists" => hash::hexists,
    "hstrlen" => hash::hstrlen,
    "hkeys" => hash::hkeys,
    "hvals" => hash::hvals,
    "hgetall" => hash::hgetall,
    "hincrby" => hash::hincrby,
    "hincrbyfloat" => hash::hincrbyfloat,
    "hrandfield" => hash::hrandfield,
    "hscan" => hash::hscan,
    "hexpire" => hash::hexpire,
    "hpexpire" => hash::hpexpire,
    "hexpireat" => hash::hexpireat,
    "hpexpireat" => hash::hpexpireat,
    "httl" => hash::httl,
    "hpttl" => hash::hpttl,
    "hexpiretime" => hash::hexpiretime,
    "hpexpiretime" => hash::hpexpiretime,
    "hpersist" => hash::hpersist,
    "hgetex" => hash::hgetex,
    "hsetex" => hash::hsetex,
    "hgetdel" => hash::hgetdel,
    // keys
    "del" => keys::del,
    "unlink" => keys::del,
    "exists" => keys::exists,
    "touch" => keys::touch,
    "expire" => keys::expire,
    "pexpire" => keys::pexpire,
    "expireat" => keys::expireat,
    "pexpireat" => keys::pexpireat,
    "ttl" => keys::ttl,
    "pttl" => keys::pttl,
    "expiretime" => keys::expiretime,
    "pexpiretime" => keys::pexpiretime,
    "persist" => keys::persist,
    "type" => keys::type_,
    "keys" => keys::keys,
    "scan" => keys::scan,
    "rename" => keys::rename,
    "renamenx" => keys::renamenx,
    "randomkey" => keys::randomkey,
    "copy" => keys::copy,
    "move" => keys::move_,
    "object|encoding" => keys::object_encoding,
    "object|freq" => keys::object_freq,
    "object|idletime" => keys::object_idletime,
    "object|refcount" => keys::object_refcount,
    "object|help" => keys::object_help,
    "dbsize" => keys::dbsize,
    "flushdb" => keys::flushdb,
    "flushall" => keys::flushall,
    "swapdb" => keys::swapdb,
    "sort" => sort::sort,
    "sort_ro" => sort::sort_ro,
    // server
    "info" => server::info,
    "command|count" => server::command_count,
    "command|info" => server::command_info,
    "command|docs" => server::command_docs,
    "command|list" => server::command_list,
    "command|getkeys" => server::command_getkeys,
    "command|getkeysandflags" => server::command_getkeysandflags,
    "command|help" => server::command_help,
    "time" => server::time,
    "lastsave" => server::lastsave,
    "shutdown" => server::shutdown,
    "debug" => server::debug,
    "monitor" => server::monitor,
    "config|get" => server::config_get,
    "config|set" => server::config_set,
    "config|resetstat" => server::config_resetstat,
    "config|rewrite" => server::config_rewrite,
    "config|help" => server::config_help,
    "memory|usage" => memory::usage,
    "memory|stats" => memory::stats,
    "memory|doctor" => memory::doctor,
    "memory|purge" => memory::purge,
    "memory|malloc-stats" => memory::malloc_stats,
    "memory|help" => memory::help,
    // pub/sub
    "subscribe" => pubsub::subscribe,
    "unsubscribe" => pubsub::unsubscribe,
    "psubscribe" => pubsub::psubscribe,
    "punsubscribe" => pubsub::punsubscribe,
    "ssubscribe" => pubsub::ssubscribe,
    "sunsubscribe" => pubsub::sunsubscribe,
    "publish" => pubsub::publish,
    "spublish" => pubsub::spublish,
    "pubsub|channels" => pubsub::channels,
    "pubsub|numsub" => pubsub::numsub,
    "pubsub|numpat" => pubsub::numpat,
    "pubsub|shardchannels" => pubsub::shardchannels,
    "pubsub|shardnumsub" => pubsub::shardnumsub,
    "pubsub|help" => pubsub::help,
    // scripting
    "eval" => script::eval,
    "evalsha" => script::evalsha,
    "eval_ro" => script::eval_ro,
    "evalsha_ro" => script::evalsha_ro,
    "script|load" => script::script_load,
    "script|exists" => script::script_exists,
    "script|flush" => script::script_flush,
    "script|kill" => script::script_kill,
    "script|show" => script::script_show,
    "script|help" => script::script_help,
    "fcall" => script::fcall,
    "fcall_ro" => script::fcall_ro,
    "function|load" => script::function_load,
    "function|list" => script::function_list,
    "function|delete" => script::function_delete,
    "function|flush" => script::function_flush,
    "function|dump" => script::function_dump,
    "function|restore" => script::function_restore,
    "function|stats" => script::function_stats,
    "function|kill" => script::function_kill,
    "function|help" => script::function_help,
}

// Error texts shared by several commands.
pub const WRONGTYPE: &[u8] = b"WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_AN_INTEGER: &[u8] = b"ERR value is not an integer or out of range";
pub const NOT_A_FLOAT: &[u8] = b"ERR value is not a valid float";
pub const SYNTAX_ERROR: &[u8] = b"ERR syntax error";
pub const DB_OUT_OF_RANGE: &[u8] = b"ERR DB index is out of range";
pub const SAME_OBJECT: &[u8] = b"ERR source and destination objects are the same";

impl<'a> Ctx<'a> {
    /// The connection's selected database.
    #[inline]
    pub fn db(&self) -> &'a Db {
        self.server.keyspace.db(self.client.db)
    }

    /// Looks up a key for reading and counts a hit or a miss. The lookup records the access
    /// unless the command or the client turned that off (see `worker::invoke`).
    #[inline]
    pub fn read<'g>(&mut self, table: &'g mut SlotGuard<'_>, key: &[u8]) -> Option<&'g mut Entry> {
        let now_ms = self.now_ms;
        match table.get(key, now_ms) {
            Some(entry) => {
                self.local.keyspace_hits += 1;
                Some(entry)
            }
            None => {
                self.local.keyspace_misses += 1;
                crate::notify::notify(
                    self.server,
                    self.client.db,
                    crate::notify::class::KEY_MISS,
                    "keymiss",
                    key,
                );
                None
            }
        }
    }

    /// The lower-case name of the running command (`set`, `client|kill`), as error texts use it.
    pub fn name(&self) -> &'static str {
        self.command.spec.name
    }

    pub fn error_text(&mut self, text: &str) {
        self.reply.error(text.as_bytes());
    }

    /// Replies `prefix` + argument + `suffix` as an error (see [`error_with_arg`]).
    pub fn error_with_arg(&mut self, prefix: &str, arg: &[u8], suffix: &str) {
        self.reply.error(&error_with_arg(prefix, arg, suffix));
    }
}

/// Looks a key up for reading as one value type (`Value::as_set`, `Value::as_list`...):
/// Ok(None) when the key is missing, Err after a WRONGTYPE reply when it holds another type.
pub(crate) fn read_as<'g, T: ?Sized>(
    ctx: &mut Ctx<'_>,
    table: &'g mut SlotGuard<'_>,
    key: &[u8],
    view: fn(&tern_keyspace::Value) -> Option<&T>,
) -> Result<Option<&'g T>, ()> {
    match ctx.read(table, key) {
        None => Ok(None),
        Some(entry) => match view(&entry.value) {
            Some(value) => Ok(Some(value)),
            None => {
                ctx.reply.error(WRONGTYPE);
                Err(())
            }
        },
    }
}

/// Parses an integer argument with Valkey's strict syntax.
#[inline]
pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    tern_keyspace::num::parse_i64(arg)
}

pub const NOT_AN_INT32: &[u8] =
    b"ERR value is out of range, value must between -2147483648 and 2147483647";

/// Parses a 32-bit integer argument, with Valkey's two different errors.
pub fn parse_i32(arg: &[u8]) -> Result<i32, &'static [u8]> {
    let value = parse_i64(arg).ok_or(NOT_AN_INTEGER)?;
    i32::try_from(value).map_err(|_| NOT_AN_INT32)
}

/// Parses a database index the way SELECT, MOVE and COPY do: an `int`, then a range check.
pub fn parse_db(server: &Server, arg: &[u8]) -> Result<usize, &'static [u8]> {
    let index = parse_i32(arg)?;
    if index < 0 || index as usize >= server.keyspace.db_count() {
        return Err(DB_OUT_OF_RANGE);
    }
    Ok(index as usize)
}

/// The part of a client-supplied string that Valkey shows in an error message: it formats with
/// C's `%s`, which stops at the first NUL byte.
pub fn c_str(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// An error text made of `prefix`, a client-supplied argument (as `%s` shows it) and `suffix`.
pub fn error_with_arg(prefix: &str, arg: &[u8], suffix: &str) -> Vec<u8> {
    let mut text = prefix.as_bytes().to_vec();
    text.extend_from_slice(c_str(arg));
    text.extend_from_slice(suffix.as_bytes());
    text
}

/// Appends `bytes` quoted and escaped the way Valkey shows arguments in MONITOR and CLIENT LIST:
/// `"` around, `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` escapes, `\xHH` for other non-printables.
pub fn write_repr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(byte),
            _ => out.extend_from_slice(format!("\\x{byte:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Writes a HELP reply: the command's name line then one line per entry, as status strings.
pub fn write_help(ctx: &mut Ctx<'_>, container: &str, lines: &[&str]) {
    ctx.reply.array(lines.len() + 1);
    ctx.reply.simple(
        format!(
            "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            container.to_ascii_uppercase()
        )
        .as_bytes(),
    );
    for line in lines {
        ctx.reply.simple(line.as_bytes());
    }
}

/// Reads a SCAN cursor as Valkey does: strict integer syntax first (a negative one is invalid),
/// else C's `strtoull` on the text up to its first NUL, which also takes leading whitespace, a
/// sign (a minus wraps around), and leading zeros, but nothing after the digits.
pub fn parse_scan_cursor(arg: &[u8]) -> Option<u64> {
    let text = c_str(arg);
    if let Some(value) = parse_i64(text) {
        return u64::try_from(value).ok();
    }
    let start = text
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let (negative, digits) = match text[start] {
        b'-' => (true, &text[start + 1..]),
        b'+' => (false, &text[start + 1..]),
        _ => (false, &text[start..]),
    };
    let magnitude = parse_u64_digits(digits)?;
    Some(if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// Decimal digits only (at least one, leading zeros allowed), within `u64`.
fn parse_u64_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &digit| {
        if !digit.is_ascii_digit() {
            return None;
        }
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// Which collection a SSCAN, HSCAN or ZSCAN reads: it decides the one flag the scan accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    Set,
    Hash,
    SortedSet,
}

/// The options of SSCAN, HSCAN and ZSCAN after the cursor.
pub struct ScanOptions<'a> {
    /// None also for `*`, which matches everything.
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    /// NOVALUES (HSCAN) or NOSCORES (ZSCAN).
    pub omit: bool,
}

/// Parses `[MATCH pattern] [COUNT count]` and the scan's own flag from argument 3 on; the error
/// text when they are invalid.
pub fn parse_scan_options<'a>(
    request: &Request<'a>,
    kind: ScanKind,
) -> Result<ScanOptions<'a>, &'static [u8]> {
    let mut options = ScanOptions {
        pattern: None,
        count: 10,
        omit: false,
    };
    let mut index = 3;
    while index < request.len() {
        let option = request.arg(index);
        let has_value = index + 1 < request.len();
        if option.eq_ignore_ascii_case(b"COUNT") && has_value {
            match parse_i64(request.arg(index + 1)) {
                None => return Err(NOT_AN_INTEGER),
                Some(n) if n < 1 => return Err(SYNTAX_ERROR),
                Some(n) => options.count = n as usize,
            }
            index += 2;
        } else if option.eq_ignore_ascii_case(b"MATCH") && has_value {
            options.pattern = Some(request.arg(index + 1));
            index += 2;
        } else if option.eq_ignore_ascii_case(b"NOVALUES") {
            if kind != ScanKind::Hash {
                return Err(b"ERR NOVALUES option can only be used in HSCAN");
            }
            options.omit = true;
            index += 1;
        } else if option.eq_ignore_ascii_case(b"NOSCORES") {
            if kind != ScanKind::SortedSet {
                return Err(b"ERR NOSCORES option can only be used in ZSCAN");
            }
            options.omit = true;
            index += 1;
        } else {
            return Err(SYNTAX_ERROR);
        }
    }
    options.pattern = options.pattern.filter(|p| *p != b"*");
    Ok(options)
}
