//! The dispatch table: every spec of the command table paired with its handler, looked up by
//! name without allocating. Built once at start; a spec without a handler (or the reverse) is a
//! start-up bug caught by a unit test.

use hashbrown::HashMap;
use tern_commands::CommandSpec;

use crate::cmd::{self, Handler};

/// The flags the data path tests, decoded once from the spec's flag names.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub write: bool,
    pub no_auth: bool,
    pub admin: bool,
    pub skip_monitor: bool,
    pub may_replicate: bool,
    pub loading: bool,
    /// Refused between MULTI and EXEC (MULTI, WATCH...).
    pub no_multi: bool,
    /// Runs at once between MULTI and EXEC instead of being queued (EXEC, DISCARD, QUIT, RESET).
    pub runs_in_multi: bool,
    pub is_exec: bool,
    pub readonly: bool,
    /// Runs a script (EVAL, FCALL and their variants): MONITOR shows it before the commands
    /// the script runs.
    pub runs_script: bool,
    /// May run while a script runs too long (it does not touch the keyspace).
    pub allow_busy: bool,
    /// May grow memory: refused while memory is over `maxmemory` and nothing can be evicted.
    pub denyoom: bool,
    /// Looks keys up without recording an access (TYPE, TTL, OBJECT...), as Valkey's
    /// `LOOKUP_NOTOUCH` callers do.
    pub no_touch: bool,
    /// TOUCH: records accesses even for a client in CLIENT NO-TOUCH mode.
    pub is_touch: bool,
}

pub struct Command {
    pub spec: &'static CommandSpec,
    /// Position in [`Table::commands`]; indexes per-command statistics.
    pub index: usize,
    pub flags: Flags,
    /// None for a container (its subcommands have the handlers).
    pub handler: Option<Handler>,
    /// Subcommand name (lower case) → index.
    pub subcommands: HashMap<&'static [u8], usize>,
}

pub struct Table {
    pub commands: Vec<Command>,
    by_name: HashMap<&'static [u8], usize>,
}

/// Names longer than this are not commands; lookup lowercases into a stack buffer of this size.
const NAME_BYTES_MAX: usize = 32;

impl Table {
    pub fn build() -> Table {
        let mut table = Table {
            commands: Vec::new(),
            by_name: HashMap::new(),
        };
        for spec in tern_commands::COMMANDS {
            let index = table.add(spec);
            table.by_name.insert(spec.name.as_bytes(), index);
            for sub in spec.subcommands {
                let sub_index = table.add(sub);
                table.commands[index]
                    .subcommands
                    .insert(sub.short_name().as_bytes(), sub_index);
            }
        }
        table
    }

    fn add(&mut self, spec: &'static CommandSpec) -> usize {
        let index = self.commands.len();
        let flags = Flags {
            write: spec.has_flag("write"),
            no_auth: spec.has_flag("no_auth"),
            admin: spec.has_flag("admin"),
            skip_monitor: spec.has_flag("skip_monitor"),
            may_replicate: spec.has_flag("may_replicate"),
            loading: spec.has_flag("loading"),
            no_multi: spec.has_flag("no_multi"),
            runs_in_multi: matches!(spec.name, "exec" | "discard" | "quit" | "reset"),
            is_exec: spec.name == "exec",
            readonly: spec.has_flag("readonly"),
            allow_busy: spec.has_flag("allow_busy"),
            denyoom: spec.has_flag("denyoom"),
            no_touch: matches!(
                spec.name,
                "exists"
                    | "type"
                    | "ttl"
                    | "pttl"
                    | "expiretime"
                    | "pexpiretime"
                    | "scan"
                    | "memory|usage"
            ) || spec.name.starts_with("object|"),
            is_touch: spec.name == "touch",
            runs_script: matches!(
                spec.name,
                "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
            ),
        };
        self.commands.push(Command {
            spec,
            index,
            flags,
            handler: cmd::handler(spec.name),
            subcommands: HashMap::new(),
        });
        index
    }

    /// Finds a top-level command by name, ignoring case.
    #[inline]
    pub fn find(&self, name: &[u8]) -> Option<&Command> {
        lowercase_lookup(&self.by_name, name).map(|index| &self.commands[index])
    }

    pub fn find_subcommand(&self, container: &Command, name: &[u8]) -> Option<&Command> {
        lowercase_lookup(&container.subcommands, name).map(|index| &self.commands[index])
    }

    /// Resolves `args` to the command to run: the top-level command, or its subcommand.
    pub fn resolve(&self, name: &[u8], sub: Option<&[u8]>) -> Lookup<'_> {
        let Some(command) = self.find(name) else {
            return Lookup::Unknown;
        };
        if command.subcommands.is_empty() {
            return Lookup::Found(command);
        }
        match sub {
            None => Lookup::Found(command),
            Some(sub) => match self.find_subcommand(command, sub) {
                Some(found) => Lookup::Found(found),
                None => Lookup::UnknownSubcommand(command),
            },
        }
    }
}

pub enum Lookup<'a> {
    Found(&'a Command),
    Unknown,
    UnknownSubcommand(&'a Command),
}

#[inline]
fn lowercase_lookup(map: &HashMap<&'static [u8], usize>, name: &[u8]) -> Option<usize> {
    if name.len() > NAME_BYTES_MAX {
        return None;
    }
    let mut buffer = [0u8; NAME_BYTES_MAX];
    let lower = &mut buffer[..name.len()];
    for (out, byte) in lower.iter_mut().zip(name) {
        *out = byte.to_ascii_lowercase();
    }
    map.get(&*lower).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_has_a_handler_and_every_handler_a_spec() {
        let table = Table::build();
        for command in &table.commands {
            let container = !command.spec.subcommands.is_empty();
            assert_eq!(
                command.handler.is_some(),
                !container,
                "{}: handler presence must match (containers have none)",
                command.spec.name
            );
        }
        for name in cmd::HANDLED {
            assert!(
                table.commands.iter().any(|c| c.spec.name == *name),
                "{name} has a handler but no spec"
            );
        }
    }

    #[test]
    fn lookup_ignores_case() {
        let table = Table::build();
        assert!(table.find(b"GeT").is_some());
        assert!(matches!(
            table.resolve(b"CLIENT", Some(b"LIST")),
            Lookup::Found(c) if c.spec.name == "client|list"
        ));
        assert!(matches!(
            table.resolve(b"client", Some(b"nope")),
            Lookup::UnknownSubcommand(_)
        ));
    }
}
