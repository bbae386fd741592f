//! Configuration: one declarative table of directives (name, kind, bounds, default, whether it can
//! change at run time), read from a valkey.conf-style file and `--directive value` arguments, and
//! served by CONFIG GET/SET/RESETSTAT/REWRITE.
//!
//! Values live in atomics (numbers, flags) or behind a lock (text), so the data path reads a
//! limit with one relaxed load and CONFIG SET from any worker takes effect at once.

use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::RwLock;
use tern_keyspace::glob_match;

/// What a directive holds and how its text is checked.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bool,
    /// An integer within bounds; `memory` ones accept unit suffixes (`1mb`, `64k`, `2gb`).
    Int {
        min: i64,
        max: i64,
        memory: bool,
    },
    /// One of a list of names; stored as the index.
    Enum(&'static [&'static str]),
    Text,
    /// Checked by its own function (save points, bind addresses, buffer limits).
    Special(fn(&str) -> Result<String, String>),
}

pub struct Def {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
}

macro_rules! directives {
    ($( $variant:ident: $name:literal $(| $alias:literal)?, $kind:expr, $default:expr, $mutable:expr; )*) => {
        /// Every directive, in table order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Directive { $( $variant, )* }

        pub static DEFS: &[Def] = &[ $( Def {
            name: $name,
            alias: directives!(@alias $($alias)?),
            kind: $kind,
            default: $default,
            mutable: $mutable,
        }, )* ];
    };
    (@alias $alias:literal) => { Some($alias) };
    (@alias) => { None };
}

const LOG_LEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const DEBUG_COMMAND: &[&str] = &["no", "yes", "local"];
const I32_MAX: i64 = i32::MAX as i64;
const MB: i64 = 1024 * 1024;

directives! {
    Port: "port", Kind::Int { min: 0, max: 65535, memory: false }, "6379", false;
    Bind: "bind", Kind::Special(check_bind), "* -::*", false;
    Databases: "databases", Kind::Int { min: 1, max: I32_MAX, memory: false }, "16", false;
    WorkerThreads: "worker-threads" | "io-threads", Kind::Int { min: 0, max: 256, memory: false }, "0", false;
    Maxclients: "maxclients", Kind::Int { min: 1, max: u32::MAX as i64, memory: false }, "10000", true;
    Timeout: "timeout", Kind::Int { min: 0, max: I32_MAX, memory: false }, "0", true;
    Loglevel: "loglevel", Kind::Enum(LOG_LEVELS), "notice", true;
    Logfile: "logfile", Kind::Text, "", false;
    Daemonize: "daemonize", Kind::Special(check_daemonize), "no", false;
    Save: "save", Kind::Special(check_save), "", true;
    Appendonly: "appendonly", Kind::Special(check_appendonly), "no", true;
    ProtectedMode: "protected-mode", Kind::Bool, "yes", true;
    EnableDebugCommand: "enable-debug-command", Kind::Enum(DEBUG_COMMAND), "no", false;
    ProtoMaxBulkLen: "proto-max-bulk-len", Kind::Int { min: MB, max: i64::MAX, memory: true }, "536870912", true;
    ClientQueryBufferLimit: "client-query-buffer-limit", Kind::Int { min: MB, max: i64::MAX, memory: true }, "1073741824", true;
    ClientOutputBufferLimit: "client-output-buffer-limit", Kind::Special(check_output_limits), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", true;
    Requirepass: "requirepass", Kind::Text, "", true;
    Hz: "hz", Kind::Int { min: 1, max: 500, memory: false }, "10", true;
    TrackingTableMaxKeys: "tracking-table-max-keys", Kind::Int { min: 0, max: I32_MAX, memory: false }, "1000000", true;
    ActiveExpireEffort: "active-expire-effort", Kind::Int { min: 1, max: 10, memory: false }, "1", true;
    TcpBacklog: "tcp-backlog", Kind::Int { min: 0, max: I32_MAX, memory: false }, "511", false;
    Dir: "dir", Kind::Text, "", true;
    Pidfile: "pidfile", Kind::Text, "", false;
    HashMaxListpackEntries: "hash-max-listpack-entries" | "hash-max-ziplist-entries", Kind::Int { min: 0, max: i64::MAX, memory: false }, "512", true;
    HashMaxListpackValue: "hash-max-listpack-value" | "hash-max-ziplist-value", Kind::Int { min: 0, max: i64::MAX, memory: false }, "64", true;
    SetMaxIntsetEntries: "set-max-intset-entries", Kind::Int { min: 0, max: i64::MAX, memory: false }, "512", true;
    SetMaxListpackEntries: "set-max-listpack-entries", Kind::Int { min: 0, max: i64::MAX, memory: false }, "128", true;
    SetMaxListpackValue: "set-max-listpack-value", Kind::Int { min: 0, max: i64::MAX, memory: false }, "64", true;
    ZsetMaxListpackEntries: "zset-max-listpack-entries" | "zset-max-ziplist-entries", Kind::Int { min: 0, max: i64::MAX, memory: false }, "128", true;
    ZsetMaxListpackValue: "zset-max-listpack-value" | "zset-max-ziplist-value", Kind::Int { min: 0, max: i64::MAX, memory: false }, "64", true;
    BusyReplyThreshold: "busy-reply-threshold" | "lua-time-limit", Kind::Int { min: 0, max: i64::MAX, memory: false }, "5000", true;
    ListMaxListpackSize: "list-max-listpack-size" | "list-max-ziplist-size", Kind::Int { min: i32::MIN as i64, max: I32_MAX, memory: false }, "-2", true;
    NotifyKeyspaceEvents: "notify-keyspace-events", Kind::Special(check_notify), "", true;
    LazyfreeLazyEviction: "lazyfree-lazy-eviction", Kind::Bool, "yes", true;
    LazyfreeLazyExpire: "lazyfree-lazy-expire", Kind::Bool, "yes", true;
    LazyfreeLazyServerDel: "lazyfree-lazy-server-del", Kind::Bool, "yes", true;
    LazyfreeLazyUserDel: "lazyfree-lazy-user-del", Kind::Bool, "yes", true;
    LazyfreeLazyUserFlush: "lazyfree-lazy-user-flush", Kind::Bool, "yes", true;
    ReplicaLazyFlush: "replica-lazy-flush" | "slave-lazy-flush", Kind::Bool, "yes", true;
    Maxmemory: "maxmemory", Kind::Special(crate::evict::check_maxmemory), "0", true;
    MaxmemoryPolicy: "maxmemory-policy", Kind::Enum(tern_keyspace::evict::Policy::NAMES), "noeviction", true;
    MaxmemorySamples: "maxmemory-samples", Kind::Int { min: 1, max: 64, memory: false }, "5", true;
    MaxmemoryEvictionTenacity: "maxmemory-eviction-tenacity", Kind::Int { min: 0, max: 100, memory: false }, "10", true;
    LfuLogFactor: "lfu-log-factor", Kind::Int { min: 0, max: I32_MAX, memory: false }, "10", true;
    LfuDecayTime: "lfu-decay-time", Kind::Int { min: 0, max: I32_MAX, memory: false }, "1", true;
    MaxmemoryClients: "maxmemory-clients", Kind::Special(crate::evict::check_maxmemory_clients), "0", true;
}

/// `notify-keyspace-events`: shown in Valkey's order. The class bits are kept beside the text
/// (see [`Config::store`]), since the text alone may hide one (`n` under `A`).
fn check_notify(text: &str) -> Result<String, String> {
    crate::notify::parse_flags(text).map(crate::notify::show_flags)
}

/// Copies an encoding threshold to the keyspace, which reads it on every write that grows a
/// collection.
fn publish_threshold(index: usize, value: i64) {
    use tern_keyspace::limits;
    let size = value.max(0) as usize;
    match index {
        i if i == Directive::HashMaxListpackEntries as usize => {
            limits::set_hash_max_listpack_entries(size)
        }
        i if i == Directive::HashMaxListpackValue as usize => {
            limits::set_hash_max_listpack_value(size)
        }
        i if i == Directive::SetMaxIntsetEntries as usize => {
            limits::set_set_max_intset_entries(size)
        }
        i if i == Directive::SetMaxListpackEntries as usize => {
            limits::set_set_max_listpack_entries(size)
        }
        i if i == Directive::SetMaxListpackValue as usize => {
            limits::set_set_max_listpack_value(size)
        }
        i if i == Directive::ZsetMaxListpackEntries as usize => {
            limits::set_zset_max_listpack_entries(size)
        }
        i if i == Directive::ZsetMaxListpackValue as usize => {
            limits::set_zset_max_listpack_value(size)
        }
        i if i == Directive::ListMaxListpackSize as usize => {
            limits::set_list_max_listpack_size(value)
        }
        _ => {}
    }
}

/// The running configuration.
pub struct Config {
    numbers: Vec<AtomicI64>,
    texts: Vec<RwLock<String>>,
    /// `client-output-buffer-limit`, parsed once per change rather than per check.
    output_limits: RwLock<OutputLimits>,
    /// The config file the server was started with, for CONFIG REWRITE.
    pub file: Option<std::path::PathBuf>,
    /// Whether stores reach the process-wide copies of directives (the keyspace's thresholds
    /// and lazy-free flags, the notification classes); false for a scratch copy of the
    /// defaults, which must not reset them.
    publishes: bool,
}

/// A failed start-up read: where, and why (Valkey's wording).
#[derive(Debug)]
pub struct StartupError {
    pub line_number: usize,
    pub line: String,
    pub reason: String,
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Parses a size in bytes with Valkey's units (`b`, `k` = 1000, `kb` = 1024, `m`, `mb`, `g`,
/// `gb`, any case), unsigned.
pub fn parse_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

/// A size as [`parse_size`] reads it, optionally negative (`1gb`, `-1`, `64mb`).
pub fn parse_memory(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let bytes = i64::try_from(parse_size(rest)?).ok()?;
    Some(if negative { -bytes } else { bytes })
}

fn check_bind(text: &str) -> Result<String, String> {
    let addresses: Vec<&str> = text.split_whitespace().collect();
    if addresses.is_empty() {
        return Err("Too many bind addresses specified.".into());
    }
    Ok(addresses.join(" "))
}

fn check_daemonize(text: &str) -> Result<String, String> {
    match parse_bool(text) {
        Some(false) => Ok("no".into()),
        Some(true) => Err("daemonize yes is not supported: run under a supervisor".into()),
        None => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn check_appendonly(text: &str) -> Result<String, String> {
    match parse_bool(text) {
        Some(false) => Ok("no".into()),
        Some(true) => Err("appendonly yes is not supported yet: there is no persistence".into()),
        None => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn check_save(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Ok(String::new())
    } else {
        Err("save points are not supported yet: there is no persistence".into())
    }
}

/// One client class's output buffer limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// Parses `class hard soft seconds [class ...]`, returning the canonical text.
fn check_output_limits(text: &str) -> Result<String, String> {
    parse_output_limits(text, OutputLimits::default_limits()).map(|limits| limits.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

impl OutputLimits {
    fn default_limits() -> OutputLimits {
        OutputLimits {
            normal: OutputLimit::default(),
            replica: OutputLimit {
                hard_bytes: 256 * MB as u64,
                soft_bytes: 64 * MB as u64,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard_bytes: 32 * MB as u64,
                soft_bytes: 8 * MB as u64,
                soft_seconds: 60,
            },
        }
    }
}

impl std::fmt::Display for OutputLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let classes = [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ];
        let parts: Vec<String> = classes
            .iter()
            .map(|(name, limit)| {
                format!(
                    "{name} {} {} {}",
                    limit.hard_bytes, limit.soft_bytes, limit.soft_seconds
                )
            })
            .collect();
        f.write_str(&parts.join(" "))
    }
}

fn parse_output_limits(text: &str, mut limits: OutputLimits) -> Result<OutputLimits, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => &mut limits.normal,
            "slave" | "replica" => &mut limits.replica,
            "pubsub" => &mut limits.pubsub,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = parse_memory(group[1]).filter(|v| *v >= 0);
        let soft = parse_memory(group[2]).filter(|v| *v >= 0);
        let seconds = group[3].parse::<i64>().ok().filter(|v| *v >= 0);
        let (Some(hard), Some(soft), Some(seconds)) = (hard, soft, seconds) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        *class = OutputLimit {
            hard_bytes: hard as u64,
            soft_bytes: soft as u64,
            soft_seconds: seconds as u64,
        };
    }
    Ok(limits)
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    pub fn new() -> Config {
        Config::with_defaults(true)
    }

    fn with_defaults(publishes: bool) -> Config {
        let config = Config {
            numbers: DEFS.iter().map(|_| AtomicI64::new(0)).collect(),
            texts: DEFS.iter().map(|_| RwLock::new(String::new())).collect(),
            output_limits: RwLock::new(OutputLimits::default_limits()),
            file: None,
            publishes,
        };
        for (index, def) in DEFS.iter().enumerate() {
            config
                .store(index, def.default)
                .expect("defaults are valid");
        }
        config
    }

    fn index_of(name: &str) -> Option<usize> {
        DEFS.iter().position(|def| {
            def.name.eq_ignore_ascii_case(name)
                || def.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// Checks `text` for directive `index` and stores it. Errors are Valkey's reasons.
    fn store(&self, index: usize, text: &str) -> Result<(), String> {
        match DEFS[index].kind {
            Kind::Bool => {
                let value = parse_bool(text).ok_or("argument must be 'yes' or 'no'")?;
                self.numbers[index].store(i64::from(value), Ordering::Relaxed);
            }
            Kind::Int { min, max, memory } => {
                let value = if memory {
                    parse_memory(text).ok_or("argument must be a memory value")?
                } else {
                    text.parse::<i64>()
                        .map_err(|_| "argument couldn't be parsed into an integer")?
                };
                let value = if DEFS[index].name == "hz" {
                    // Valkey clamps hz rather than refusing it.
                    value.clamp(min, max)
                } else {
                    value
                };
                if value < min || value > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                self.numbers[index].store(value, Ordering::Relaxed);
            }
            Kind::Enum(names) => {
                let position = names
                    .iter()
                    .position(|name| name.eq_ignore_ascii_case(text))
                    .ok_or_else(|| {
                        format!(
                            "argument(s) must be one of the following: {}",
                            names.join(", ")
                        )
                    })?;
                self.numbers[index].store(position as i64, Ordering::Relaxed);
            }
            Kind::Text => *self.texts[index].write() = text.to_string(),
            Kind::Special(check) => *self.texts[index].write() = check(text)?,
        }
        if index == Directive::NotifyKeyspaceEvents as usize {
            let flags = crate::notify::parse_flags(text)?;
            self.numbers[index].store(i64::from(flags), Ordering::Relaxed);
            if self.publishes {
                crate::notify::apply_flags(flags);
            }
        }
        if self.publishes {
            publish_threshold(index, self.numbers[index].load(Ordering::Relaxed));
            crate::lazyfree::publish(index, self.numbers[index].load(Ordering::Relaxed));
        }
        if let Some(number) = crate::evict::apply_directive(index, self) {
            self.numbers[index].store(number, Ordering::Relaxed);
        }
        if index == Directive::ClientOutputBufferLimit as usize {
            *self.output_limits.write() =
                parse_output_limits(&self.texts[index].read(), OutputLimits::default_limits())?;
        }
        Ok(())
    }

    #[inline]
    pub fn int(&self, directive: Directive) -> i64 {
        self.numbers[directive as usize].load(Ordering::Relaxed)
    }

    #[inline]
    pub fn flag(&self, directive: Directive) -> bool {
        self.int(directive) != 0
    }

    pub fn text(&self, directive: Directive) -> String {
        self.texts[directive as usize].read().clone()
    }

    pub fn enum_name(&self, directive: Directive) -> &'static str {
        match DEFS[directive as usize].kind {
            Kind::Enum(names) => names[self.int(directive) as usize],
            _ => "",
        }
    }

    pub fn output_limits(&self) -> OutputLimits {
        *self.output_limits.read()
    }

    /// The text CONFIG GET shows for a directive.
    pub fn show(&self, index: usize) -> String {
        match DEFS[index].kind {
            Kind::Bool => if self.numbers[index].load(Ordering::Relaxed) != 0 {
                "yes"
            } else {
                "no"
            }
            .into(),
            Kind::Int { .. } => self.numbers[index].load(Ordering::Relaxed).to_string(),
            Kind::Enum(names) => names[self.numbers[index].load(Ordering::Relaxed) as usize].into(),
            Kind::Text | Kind::Special(_) => self.texts[index].read().clone(),
        }
    }

    /// CONFIG GET: (name, value) of every directive matching any of the patterns, each once.
    /// Pattern by pattern, in the order given, as Valkey answers.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let mut found: Vec<(&'static str, String)> = Vec::new();
        for pattern in patterns {
            for (index, def) in DEFS.iter().enumerate() {
                for name in std::iter::once(def.name).chain(def.alias) {
                    let new = !found.iter().any(|(seen, _)| *seen == name);
                    if new && glob_match(pattern, name.as_bytes(), true) {
                        found.push((name, self.show(index)));
                    }
                }
            }
        }
        found
    }

    /// CONFIG SET of several name/value pairs, all or nothing. The error is the full reply text.
    pub fn set_many(&self, pairs: &[(&str, &str)]) -> Result<(), String> {
        let mut indices = Vec::new();
        for (name, _) in pairs {
            let index = Self::index_of(name).ok_or_else(|| {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            })?;
            if indices.contains(&index) {
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"));
            }
            if !DEFS[index].mutable {
                return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"));
            }
            indices.push(index);
        }
        let saved: Vec<String> = indices.iter().map(|&index| self.show(index)).collect();
        for (position, (&index, (name, value))) in indices.iter().zip(pairs).enumerate() {
            if let Err(reason) = self.store(index, value) {
                for (&done, old) in indices[..position].iter().zip(&saved) {
                    let _ = self.store(done, old);
                }
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                ));
            }
        }
        Ok(())
    }

    /// Reads config-file text (the file, then the command line arguments turned into lines).
    pub fn load_text(&self, text: &str) -> Result<(), StartupError> {
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let error = |reason: &str| StartupError {
                line_number: number + 1,
                line: trimmed.to_string(),
                reason: reason.to_string(),
            };
            let words = tern_resp::parse::split_args(trimmed.as_bytes())
                .ok_or_else(|| error("Unbalanced quotes in configuration line"))?;
            let words: Vec<String> = words
                .iter()
                .map(|word| String::from_utf8_lossy(word).into_owned())
                .collect();
            let Some(index) = Self::index_of(&words[0]) else {
                return Err(error("Bad directive or wrong number of arguments"));
            };
            let multi_word = matches!(DEFS[index].kind, Kind::Special(_));
            let value = match words.len() {
                1 if DEFS[index].name == "save" => String::new(),
                1 => return Err(error("wrong number of arguments")),
                2 => words[1].clone(),
                _ if multi_word => words[1..].join(" "),
                _ => return Err(error("wrong number of arguments")),
            };
            self.store(index, &value).map_err(|reason| error(&reason))?;
        }
        Ok(())
    }

    /// The directives that differ from their defaults, as config-file lines (CONFIG REWRITE).
    pub fn changed_lines(&self) -> Vec<String> {
        let defaults = Config::with_defaults(false);
        (0..DEFS.len())
            .filter(|&index| self.show(index) != defaults.show(index))
            .map(|index| format!("{} {}", DEFS[index].name, quote(&self.show(index))))
            .collect()
    }
}

/// Quotes a config value when it needs it.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        return value.to_string();
    }
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Turns `valkey-server`-style arguments (`[file] --name value ... --name2 value`) into the
/// config file path and config-file text, as Valkey does: each `--name` starts a line, and the
/// words after it are its quoted arguments.
pub fn args_to_text(args: &[String]) -> (Option<String>, String) {
    let mut file = None;
    let mut rest = args;
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            file = Some(first.clone());
            rest = &args[1..];
        }
    }
    let mut text = String::new();
    for arg in rest {
        if let Some(name) = arg.strip_prefix("--") {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(name);
        } else {
            text.push(' ');
            text.push_str(&quote_always(arg));
        }
    }
    text.push('\n');
    (file, text)
}

fn quote_always(value: &str) -> String {
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_becomes_config_lines() {
        let args: Vec<String> = ["--port", "7000", "--save", "", "--bind", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (file, text) = args_to_text(&args);
        assert_eq!(file, None);
        let config = Config::new();
        config.load_text(&text).unwrap();
        assert_eq!(config.int(Directive::Port), 7000);
        assert_eq!(config.text(Directive::Save), "");
        assert_eq!(config.text(Directive::Bind), "127.0.0.1 ::1");
    }

    #[test]
    fn errors_name_the_reason() {
        let config = Config::new();
        let error = config.load_text("port abc\n").unwrap_err();
        assert_eq!(error.reason, "argument couldn't be parsed into an integer");
        let error = config.load_text("foo bar\n").unwrap_err();
        assert_eq!(error.reason, "Bad directive or wrong number of arguments");
        assert_eq!(
            config.set_many(&[("port", "1")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
        );
        assert_eq!(
            config.set_many(&[("timeout", "-1")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"
        );
    }

    #[test]
    fn set_is_all_or_nothing() {
        let config = Config::new();
        assert!(config.set_many(&[("timeout", "5"), ("hz", "x")]).is_err());
        assert_eq!(config.int(Directive::Timeout), 0);
        config.set_many(&[("hz", "1000")]).unwrap();
        assert_eq!(config.int(Directive::Hz), 500);
        assert_eq!(parse_memory("1mb"), Some(1024 * 1024));
        assert_eq!(parse_memory("1k"), Some(1000));
    }
}
