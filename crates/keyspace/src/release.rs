//! Letting go of values: inline, or handed to the server to free elsewhere.
//!
//! Freeing a collection costs one deallocation per element or node, so dropping a set of ten
//! million members inline would stall the command (and everyone waiting for its slot) for a
//! long time. A value's *free effort* (Valkey's rule: the elements of a hashtable set, hash or
//! skiplist sorted set, the nodes of a quicklist, 1 for anything that is one allocation) says
//! whether that risk exists: above [`LAZYFREE_THRESHOLD`] the value may be handed to a *sink*,
//! which the server installs once (its background free thread). Without a sink, values are
//! dropped where they are.
//!
//! The slot table itself discards values in two cases, governed by the server's directives,
//! which it copies here: a write replacing a key's value (`lazyfree-lazy-server-del`) and a key
//! expiring on lookup or in the active cycle (`lazyfree-lazy-expire`). Commands that delete keys
//! decide for themselves and use [`is_big`] and the sink through the server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::limits::list_max_listpack_size;
use crate::list::LIST_MAX_LISTPACK_BYTES;
use crate::value::Value;

/// Values whose free effort is above this are worth freeing elsewhere (Valkey's
/// `LAZYFREE_THRESHOLD`).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Why the table lets go of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// A write replaced the value (`lazyfree-lazy-server-del`).
    Overwrite,
    /// The key's time to live ran out (`lazyfree-lazy-expire`).
    Expire,
}

/// `lazyfree-lazy-server-del`, as the server last set it (both default to yes, as in Valkey).
static LAZY_OVERWRITE: AtomicBool = AtomicBool::new(true);
/// `lazyfree-lazy-expire`.
static LAZY_EXPIRE: AtomicBool = AtomicBool::new(true);

static SINK: OnceLock<fn(Value)> = OnceLock::new();

/// Sets whether values removed for `removal` may be freed elsewhere.
pub fn set_lazy(removal: Removal, lazy: bool) {
    flag(removal).store(lazy, Ordering::Relaxed);
}

fn flag(removal: Removal) -> &'static AtomicBool {
    match removal {
        Removal::Overwrite => &LAZY_OVERWRITE,
        Removal::Expire => &LAZY_EXPIRE,
    }
}

/// Installs the function that takes big values to be freed elsewhere. The first one installed
/// stays (a process has one free thread); returns whether this one was.
pub fn install_sink(sink: fn(Value)) -> bool {
    SINK.set(sink).is_ok()
}

/// The work freeing `value` takes, in Valkey's units: the elements of a hashtable set, hash or
/// skiplist sorted set, the nodes of a quicklist, and 1 for everything stored as a single
/// allocation (strings, intsets, listpacks). A quicklist's nodes are counted as Valkey would
/// have them (its default 8 KB listpacks), so the same list crosses the threshold in both.
pub fn free_effort(value: &Value) -> usize {
    match value {
        Value::Str(_) => 1,
        Value::Set(set) if set.encoding_name() == "hashtable" => set.len(),
        Value::ZSet(zset) if zset.encoding_name() == "skiplist" => zset.len(),
        Value::Hash(hash) if hash.encoding_name() == "hashtable" => hash.len(),
        Value::List(list) if list.encoding_name() == "quicklist" => {
            valkey_nodes(list.len(), list.packed_bytes())
        }
        _ => 1,
    }
}

/// A listpack's header and terminator.
const LISTPACK_OVERHEAD_BYTES: usize = 7;

/// How many nodes Valkey's quicklist would have for `len` elements that take `packed_bytes`
/// as one listpack under the current `list-max-listpack-size`: each node takes whole elements
/// up to its byte (or count) limit. Exact for elements of one size, close otherwise.
fn valkey_nodes(len: usize, packed_bytes: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let fill = list_max_listpack_size();
    let (bytes_limit, count_limit) = if fill >= 0 {
        (LIST_MAX_LISTPACK_BYTES, (fill as usize).max(1))
    } else {
        let level = (fill.unsigned_abs() - 1).min(4) as u32;
        (4096 << level, usize::MAX)
    };
    let per_element = (packed_bytes.saturating_sub(LISTPACK_OVERHEAD_BYTES) / len).max(1);
    let per_node = ((bytes_limit - LISTPACK_OVERHEAD_BYTES) / per_element).clamp(1, count_limit);
    len.div_ceil(per_node)
}

/// Whether freeing `value` is worth doing elsewhere.
pub fn is_big(value: &Value) -> bool {
    free_effort(value) > LAZYFREE_THRESHOLD
}

/// Hands a big `value` to the sink when one is installed, and drops it here otherwise.
/// Returns whether the sink took it.
pub fn free(value: Value) -> bool {
    match SINK.get() {
        Some(sink) if is_big(&value) => {
            sink(value);
            true
        }
        _ => false,
    }
}

/// Lets go of a value the table removed by itself, as the directive for `removal` says.
#[inline]
pub(crate) fn release(value: Value, removal: Removal) {
    if flag(removal).load(Ordering::Relaxed) {
        free(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldTtl, HashValue, ListValue, SetValue, StrValue, ZSetValue};

    fn set_of(members: usize) -> Value {
        let mut set = SetValue::for_first(Some(b"m0"), members);
        for n in 0..members {
            set.insert(format!("m{n}").as_bytes());
        }
        Value::Set(set)
    }

    #[test]
    fn effort_counts_elements_of_big_encodings_only() {
        assert_eq!(free_effort(&Value::Str(StrValue::Int(7))), 1);
        assert_eq!(free_effort(&set_of(100)), 1, "a listpack is one allocation");
        assert_eq!(free_effort(&set_of(1000)), 1000);
        assert!(is_big(&set_of(1000)));
        assert!(!is_big(&set_of(64)));

        let mut zset = ZSetValue::for_size(0, 0);
        for n in 0..200 {
            zset.add(format!("m{n}").as_bytes(), n as f64, Default::default());
        }
        assert_eq!(zset.encoding_name(), "skiplist");
        assert_eq!(free_effort(&Value::ZSet(zset)), 200);

        let mut hash = HashValue::new();
        for n in 0..600 {
            hash.set(format!("f{n}").as_bytes(), b"v", FieldTtl::Clear, 0);
        }
        assert_eq!(hash.encoding_name(), "hashtable");
        assert_eq!(free_effort(&Value::Hash(hash)), 600);

        // 1000-byte elements take 1004 bytes each in a listpack: eight fit in an 8 KB node.
        let element = [b'x'; 1000];
        for (len, nodes) in [(512, 64), (520, 65), (521, 66)] {
            let elements: Vec<&[u8]> = (0..len).map(|_| &element[..]).collect();
            let list = ListValue::built_as_quicklist(&elements);
            assert_eq!(free_effort(&Value::List(list)), nodes, "{len} elements");
        }
    }

    #[test]
    fn small_values_are_never_handed_over() {
        // No sink is installed in this crate's tests: everything is dropped in place.
        assert!(!free(set_of(1000)));
        assert!(!free(set_of(3)));
    }
}
