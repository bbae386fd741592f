//! `tern-commands`: the command table.
//!
//! One [`CommandSpec`] per command and subcommand: name, arity, flags, key positions (legacy
//! first/last/step and key specs), ACL categories, tips and docs. It is the single source for
//! dispatch and arity checks, `COMMAND`, key extraction for slot checks, and (later) ACL.
//!
//! What it is not: the handlers. They live where the state they act on lives (the server);
//! this crate is data plus the functions that read it, with no I/O.
//!
//! Invariants:
//! - Only implemented commands are in the table: a command `COMMAND` lists works completely.
//! - Wire facts (arity, flags, key specs...) are generated from a reference server by
//!   `scripts/gen-command-table.py` into `table.rs`, so they match Valkey's exactly.

mod summaries;
mod table;

pub use summaries::summary;
pub use table::COMMANDS;

/// Where the search for a command's keys begins.
#[derive(Clone, Copy, Debug)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i64),
    /// After the first occurrence of a keyword, searched from `start_from` (negative: from the
    /// end, backwards).
    Keyword {
        keyword: &'static str,
        start_from: i64,
    },
    Unknown,
}

/// How keys are found once the search has begun.
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// Keys up to `last_key` (relative to the start; negative counts from the end), every
    /// `key_step` arguments; `limit` > 1 divides the remaining arguments.
    Range {
        last_key: i64,
        key_step: i64,
        limit: i64,
    },
    /// The number of keys is an argument.
    Keynum {
        keynum_index: i64,
        first_key: i64,
        key_step: i64,
    },
    Unknown,
}

#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub flags: &'static [&'static str],
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// Everything the server and `COMMAND` know about one command.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower case; subcommands are `container|sub`.
    pub name: &'static str,
    /// Exact argument count including the name when positive; minimum count when negative.
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i64,
    pub last_key: i64,
    pub key_step: i64,
    pub acl_categories: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub group: &'static str,
    pub since: &'static str,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether `argc` arguments (the name included) satisfy the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity as i64;
        let argc = argc as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The subcommand's name without the container prefix.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }

    pub fn find_subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands
            .iter()
            .find(|sub| sub.short_name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// The positions of the keys in `args` (the command name is position 0), by the key specs.
    /// Returns `None` when the arguments do not fit the specs (too few keys, a key count that is
    /// not a number), which `COMMAND GETKEYS` reports as an error.
    pub fn key_positions(&self, args: &[&[u8]]) -> Option<Vec<(usize, &'static KeySpec)>> {
        if let Some(find_keys) = key_finder(self.name) {
            return Some(find_keys(self, args));
        }
        let mut positions = Vec::new();
        for spec in self.key_specs {
            key_positions_of(spec, args, &mut positions)?;
        }
        Some(positions)
    }
}

fn key_positions_of(
    spec: &'static KeySpec,
    args: &[&[u8]],
    positions: &mut Vec<(usize, &'static KeySpec)>,
) -> Option<()> {
    let argc = args.len() as i64;
    let start = match spec.begin_search {
        BeginSearch::Index(index) => index,
        BeginSearch::Keyword {
            keyword,
            start_from,
        } => {
            let found = if start_from >= 0 {
                (start_from..argc)
                    .find(|&i| args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
            } else {
                (1..=argc + start_from)
                    .rev()
                    .find(|&i| args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
            };
            match found {
                Some(index) => index + 1,
                None => return Some(()),
            }
        }
        BeginSearch::Unknown => return Some(()),
    };
    let (first, last, step) = match spec.find_keys {
        FindKeys::Range {
            last_key,
            key_step,
            limit,
        } => {
            let last = if last_key >= 0 {
                start + last_key
            } else if limit <= 1 {
                argc + last_key
            } else {
                start + (argc - start) / limit + last_key
            };
            (start, last, key_step)
        }
        FindKeys::Keynum {
            keynum_index,
            first_key,
            key_step,
        } => {
            let count_arg = args.get((start + keynum_index) as usize)?;
            let count: i64 = std::str::from_utf8(count_arg).ok()?.parse().ok()?;
            if count < 0 {
                return None;
            }
            let first = start + first_key;
            (first, first + (count - 1) * key_step, key_step)
        }
        FindKeys::Unknown => return Some(()),
    };
    if first > last {
        return Some(());
    }
    if last >= argc || step <= 0 {
        return None;
    }
    let mut index = first;
    while index <= last {
        positions.push((index as usize, spec));
        index += step;
    }
    Some(())
}

/// A command's own key finder, for the commands whose key specs leave some keys `unknown`
/// (Valkey gives these commands a key-finding function too, and answers `COMMAND GETKEYS` with
/// it).
type KeyFinder = fn(&CommandSpec, &[&[u8]]) -> Vec<(usize, &'static KeySpec)>;

fn key_finder(name: &str) -> Option<KeyFinder> {
    match name {
        "sort" => Some(sort_keys),
        _ => None,
    }
}

/// SORT's keys: the key sorted, and the destination of the last STORE. Options known to take
/// arguments (LIMIT two, BY and GET one) are stepped over, so a pattern spelled `store` is not
/// read as the option; a STORE with nothing after it names no key.
fn sort_keys(spec: &CommandSpec, args: &[&[u8]]) -> Vec<(usize, &'static KeySpec)> {
    let source = &spec.key_specs[0];
    let destination = spec
        .key_specs
        .iter()
        .find(|key_spec| key_spec.flags.contains(&"OW"))
        .unwrap_or(source);
    let mut store = None;
    let mut index = 2;
    while index < args.len() {
        let arg = args[index];
        if arg.eq_ignore_ascii_case(b"limit") {
            index += 2;
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            index += 1;
        } else if arg.eq_ignore_ascii_case(b"store") && index + 1 < args.len() {
            store = Some(index + 1);
        }
        index += 1;
    }
    let mut keys = vec![(1, source)];
    keys.extend(store.map(|position| (position, destination)));
    keys
}

/// Looks up a top-level command by name, ignoring case.
pub fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Every spec, subcommands included, in table order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    COMMANDS
        .iter()
        .flat_map(|spec| std::iter::once(spec).chain(spec.subcommands.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(command: &str) -> Option<Vec<usize>> {
        let args: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
        let spec = find(args[0]).unwrap();
        spec.key_positions(&args)
            .map(|positions| positions.into_iter().map(|(index, _)| index).collect())
    }

    #[test]
    fn key_positions_follow_the_specs() {
        assert_eq!(keys("get a"), Some(vec![1]));
        assert_eq!(keys("mset a 1 b 2"), Some(vec![1, 3]));
        assert_eq!(keys("del a b c"), Some(vec![1, 2, 3]));
        assert_eq!(keys("lcs a b"), Some(vec![1, 2]));
        assert_eq!(keys("copy a b DB 1"), Some(vec![1, 2]));
        assert_eq!(keys("ping"), Some(vec![]));
    }

    #[test]
    fn sort_finds_its_destination() {
        assert_eq!(keys("sort a"), Some(vec![1]));
        assert_eq!(keys("sort a STORE b"), Some(vec![1, 3]));
        assert_eq!(keys("sort a store b STORE c"), Some(vec![1, 5]));
        assert_eq!(keys("sort a STORE store b"), Some(vec![1, 4]));
        assert_eq!(keys("sort a LIMIT STORE x STORE b"), Some(vec![1, 6]));
        assert_eq!(keys("sort a GET STORE b"), Some(vec![1]));
        assert_eq!(keys("sort a BY store"), Some(vec![1]));
        assert_eq!(keys("sort a STORE"), Some(vec![1]));
        assert_eq!(keys("sort_ro a STORE b"), Some(vec![1]));
    }

    #[test]
    fn every_command_has_a_summary_and_sane_arity() {
        for spec in all() {
            assert!(
                !summary(spec.name).is_empty(),
                "{} has no summary",
                spec.name
            );
            assert!(spec.arity != 0, "{}", spec.name);
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
        }
    }
}
