//! Values and their encodings.
//!
//! Strings come in Valkey's three encodings, kept because `OBJECT ENCODING` reports them and
//! clients' tests look at them: `int` (the text is a canonical 64-bit integer, stored as one),
//! `embstr` (short, written whole) and `raw` (long, or grown in place by APPEND/SETRANGE).
//! Sets and their encodings are in `set.rs`, lists in `list.rs`, sorted sets in `zset.rs`,
//! hashes in `hash.rs`.
//!
//! A value is 24 bytes, so that an entry's fixed part is 32 (see `bucket.rs`). The compiler
//! lays the enum out with no tag of its own: the inline string's tag byte (the first byte of
//! [`CompactBytes`]) has values to spare, and they tell every other variant apart, each of
//! which fits in the last 16 bytes. As laid out today:
//!
//! ```text
//!   byte 0     1        2                                  24
//!        [ tag | length | inline text, up to 22 bytes     ]   embstr, short
//!        [ tag | 7 bytes unused  | the variant's 16 bytes ]   everything else
//!                                8                         24
//!
//!   the variant's 16 bytes: embstr on the heap (Box<[u8]>), int (i64), raw (RawBytes), or a
//!   set, list, sorted set or hash (its own tag and one pointer)
//! ```
//!
//! The collection types keep to 16 bytes because their small form, a pack, is one word
//! (`ThinSlice`), and their large forms are boxed. The size tests below hold all of this: a
//! variant that outgrows its 16 bytes would make every entry 8 bytes larger.

use crate::bytes::{CompactBytes, RawBytes};
use crate::hash::HashValue;
use crate::list::ListValue;
use crate::num::{format_i64, parse_i64};
use crate::set::SetValue;
use crate::zset::ZSetValue;

/// The longest text stored as `int`.
const INT_TEXT_MAX: usize = 20;

/// Valkey embeds a short value in the same allocation as its key; whether it does depends on
/// both lengths. A value is `embstr` when key and value together fit this budget; a key of 32
/// bytes or more has a 2-byte longer header, and a TTL set at creation takes 8 more bytes.
const EMBED_BUDGET_BYTES: usize = 113;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    /// Not boxed: a small set is one packed allocation, a large one boxes its table itself.
    Set(SetValue),
    /// Not boxed either: a small list is one pack, a large one boxes its deque.
    List(ListValue),
    /// Not boxed: a small sorted set is one pack, a large one boxes its index itself.
    ZSet(ZSetValue),
    /// Not boxed: a small hash is one pack, a large one boxes its table itself.
    Hash(HashValue),
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrValue {
    Int(i64),
    Embedded(CompactBytes),
    Raw(RawBytes),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Hash(_) => "hash",
        }
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(StrValue::Int(_)) => "int",
            Value::Str(StrValue::Embedded(_)) => "embstr",
            Value::Str(StrValue::Raw(_)) => "raw",
            Value::Set(set) => set.encoding_name(),
            Value::List(list) => list.encoding_name(),
            Value::ZSet(zset) => zset.encoding_name(),
            Value::Hash(hash) => hash.encoding_name(),
        }
    }

    pub fn as_str(&self) -> Option<&StrValue> {
        match self {
            Value::Str(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_str_mut(&mut self) -> Option<&mut StrValue> {
        match self {
            Value::Str(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_set(&self) -> Option<&SetValue> {
        match self {
            Value::Set(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_set_mut(&mut self) -> Option<&mut SetValue> {
        match self {
            Value::Set(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&ListValue> {
        match self {
            Value::List(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_list_mut(&mut self) -> Option<&mut ListValue> {
        match self {
            Value::List(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_zset(&self) -> Option<&ZSetValue> {
        match self {
            Value::ZSet(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_zset_mut(&mut self) -> Option<&mut ZSetValue> {
        match self {
            Value::ZSet(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_hash(&self) -> Option<&HashValue> {
        match self {
            Value::Hash(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut HashValue> {
        match self {
            Value::Hash(value) => Some(value),
            _ => None,
        }
    }
}

impl StrValue {
    /// A string as SET stores it: integer text becomes `int`, short text `embstr`, the rest `raw`.
    pub fn for_key(bytes: &[u8], key_len: usize, with_expire: bool) -> StrValue {
        if bytes.len() <= INT_TEXT_MAX {
            if let Some(number) = parse_i64(bytes) {
                return StrValue::Int(number);
            }
        }
        StrValue::text_for_key(bytes, key_len, with_expire)
    }

    /// A string stored as text even when it reads as an integer (INCRBYFLOAT's results).
    pub fn text_for_key(bytes: &[u8], key_len: usize, with_expire: bool) -> StrValue {
        let key_header = if key_len >= 32 { 2 } else { 0 };
        let expire = if with_expire { 8 } else { 0 };
        if key_len + bytes.len() + key_header + expire <= EMBED_BUDGET_BYTES {
            StrValue::Embedded(CompactBytes::new(bytes))
        } else {
            StrValue::Raw(bytes.into())
        }
    }

    /// The text, formatting an integer into `buffer`.
    #[inline]
    pub fn bytes<'a>(&'a self, buffer: &'a mut [u8; 20]) -> &'a [u8] {
        match self {
            StrValue::Int(number) => format_i64(*number, buffer),
            StrValue::Embedded(bytes) => bytes,
            StrValue::Raw(bytes) => bytes,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(number) => format_i64(*number, &mut [0; 20]).len(),
            StrValue::Embedded(bytes) => bytes.len(),
            StrValue::Raw(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if its text is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(number) => Some(*number),
            StrValue::Embedded(bytes) => parse_i64(bytes),
            StrValue::Raw(bytes) => parse_i64(bytes),
        }
    }

    /// Turns the value into a growable `raw` string (APPEND, SETRANGE) and returns its bytes.
    pub fn make_raw(&mut self) -> &mut RawBytes {
        if !matches!(self, StrValue::Raw(_)) {
            let bytes = RawBytes::from(self.bytes(&mut [0; 20]));
            *self = StrValue::Raw(bytes);
        }
        match self {
            StrValue::Raw(bytes) => bytes,
            _ => unreachable!("converted to raw above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_valkey() {
        let encoding = |value: &str, key_len, expire| {
            Value::Str(StrValue::for_key(value.as_bytes(), key_len, expire)).encoding_name()
        };
        assert_eq!(encoding("12", 1, false), "int");
        assert_eq!(encoding("-5", 1, false), "int");
        assert_eq!(encoding("01", 1, false), "embstr");
        assert_eq!(encoding("12345678901234567890", 1, false), "embstr");
        assert_eq!(encoding(&"x".repeat(112), 1, false), "embstr");
        assert_eq!(encoding(&"x".repeat(113), 1, false), "raw");
        assert_eq!(encoding(&"x".repeat(104), 1, true), "embstr");
        assert_eq!(encoding(&"x".repeat(105), 1, true), "raw");
        assert_eq!(encoding(&"x".repeat(82), 31, false), "embstr");
        assert_eq!(encoding(&"x".repeat(80), 32, false), "raw");
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;
    use std::mem::size_of;

    /// Every entry holds a value: 24 bytes, with no tag beside the inline string's.
    #[test]
    fn values_stay_small() {
        assert_eq!(size_of::<CompactBytes>(), 24);
        assert_eq!(size_of::<StrValue>(), 24);
        assert_eq!(size_of::<SetValue>(), 16);
        assert_eq!(size_of::<ListValue>(), 16);
        assert_eq!(size_of::<ZSetValue>(), 16);
        assert_eq!(size_of::<HashValue>(), 16);
        assert_eq!(size_of::<Value>(), 24);
    }

    #[test]
    fn every_variant_survives_the_shared_tag() {
        let values = [
            Value::Str(StrValue::Int(-7)),
            Value::Str(StrValue::Embedded(CompactBytes::new(b"sixteen bytes!!!"))),
            Value::Str(StrValue::Embedded(CompactBytes::new(&[b'h'; 40]))),
            Value::Str(StrValue::Raw(RawBytes::from(&b"raw"[..]))),
            Value::Set(SetValue::empty()),
            Value::List(ListValue::default()),
            Value::ZSet(ZSetValue::for_size(1, 1)),
            Value::Hash(HashValue::default()),
        ];
        let names: Vec<(&str, &str)> = values
            .iter()
            .map(|value| (value.type_name(), value.encoding_name()))
            .collect();
        assert_eq!(
            names,
            [
                ("string", "int"),
                ("string", "embstr"),
                ("string", "embstr"),
                ("string", "raw"),
                ("set", "intset"),
                ("list", "listpack"),
                ("zset", "listpack"),
                ("hash", "listpack"),
            ]
        );
        assert_eq!(
            values[1].as_str().unwrap().bytes(&mut [0; 20]),
            b"sixteen bytes!!!"
        );
        assert_eq!(values[2].as_str().unwrap().len(), 40);
        assert_eq!(values[0].as_str().unwrap().as_i64(), Some(-7));
    }
}
