//! Cluster routing for `--cluster`: key → hash slot, the slot map read from `CLUSTER SLOTS`,
//! and the `MOVED` / `ASK` redirects that update it.
//!
//! Pure functions and data only; the engine owns the sockets.

use crate::reply::Value;

pub use tern_keyspace::SLOT_COUNT as SLOTS;

/// The hash slot of a key (the keyspace's own function: the generator and the server must agree).
pub fn key_slot(key: &[u8]) -> u16 {
    tern_keyspace::key_slot(key) as u16
}

/// One range of `CLUSTER SLOTS`: slots `start..=end` served by the primary at `addr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    pub start: u16,
    pub end: u16,
    pub addr: String,
}

/// Parse a `CLUSTER SLOTS` reply. `seed_host` replaces an empty or `?` host (a node that does
/// not know its own address answers so).
pub fn parse_cluster_slots(reply: &Value, seed_host: &str) -> Result<Vec<SlotRange>, String> {
    let Value::Array(ranges) = reply else {
        return Err(format!("CLUSTER SLOTS: unexpected reply {reply:?}"));
    };
    let mut out = Vec::new();
    for range in ranges {
        let Value::Array(fields) = range else {
            return Err("CLUSTER SLOTS: a range is not an array".into());
        };
        let (Some(start), Some(end), Some(Value::Array(primary))) = (
            fields.first().and_then(Value::as_int),
            fields.get(1).and_then(Value::as_int),
            fields.get(2),
        ) else {
            return Err("CLUSTER SLOTS: malformed range".into());
        };
        let host = primary
            .first()
            .and_then(Value::as_bytes)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let host = if host.is_empty() || host == "?" {
            seed_host.to_string()
        } else {
            host
        };
        let port = primary
            .get(1)
            .and_then(Value::as_int)
            .ok_or("CLUSTER SLOTS: no port")?;
        if !(0..SLOTS as i64).contains(&start) || !(start..SLOTS as i64).contains(&end) {
            return Err(format!("CLUSTER SLOTS: bad range {start}-{end}"));
        }
        out.push(SlotRange {
            start: start as u16,
            end: end as u16,
            addr: join_host_port(&host, port as u16),
        });
    }
    Ok(out)
}

pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A redirect reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect<'a> {
    Moved { slot: u16, addr: &'a str },
    Ask { slot: u16, addr: &'a str },
}

/// Parse `MOVED <slot> <host>:<port>` or `ASK <slot> <host>:<port>` (error text without `-`).
/// An empty host (`MOVED 1 :7001`) means the host of the node that answered; the caller fills it.
pub fn parse_redirect(text: &[u8]) -> Option<Redirect<'_>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut parts = text.split(' ');
    let word = parts.next()?;
    let slot: u16 = parts.next()?.parse().ok()?;
    let addr = parts.next()?;
    if slot as usize >= SLOTS || !addr.contains(':') {
        return None;
    }
    match word {
        "MOVED" => Some(Redirect::Moved { slot, addr }),
        "ASK" => Some(Redirect::Ask { slot, addr }),
        _ => None,
    }
}

/// Slot → node index, plus the node addresses.
#[derive(Clone, Debug)]
pub struct SlotMap {
    pub nodes: Vec<String>,
    owner: Vec<u16>,
}

/// Marks a slot that no node claimed: requests for it go to node 0 and get redirected.
const UNOWNED: u16 = u16::MAX;

impl SlotMap {
    /// One node serving everything (the non-cluster case).
    pub fn single(addr: String) -> SlotMap {
        SlotMap {
            nodes: vec![addr],
            owner: vec![0; SLOTS],
        }
    }

    pub fn from_ranges(ranges: &[SlotRange]) -> SlotMap {
        let mut map = SlotMap {
            nodes: Vec::new(),
            owner: vec![UNOWNED; SLOTS],
        };
        for r in ranges {
            let node = map.node_index(&r.addr);
            for slot in r.start..=r.end {
                map.owner[slot as usize] = node;
            }
        }
        map
    }

    /// The index of a node, added if new.
    pub fn node_index(&mut self, addr: &str) -> u16 {
        match self.nodes.iter().position(|n| n == addr) {
            Some(i) => i as u16,
            None => {
                self.nodes.push(addr.to_string());
                (self.nodes.len() - 1) as u16
            }
        }
    }

    #[inline]
    pub fn owner(&self, slot: u16) -> u16 {
        match self.owner[slot as usize] {
            UNOWNED => 0,
            n => n,
        }
    }

    /// Apply a `MOVED`: the slot now belongs to `addr`. Returns the node index.
    pub fn moved(&mut self, slot: u16, addr: &str) -> u16 {
        let node = self.node_index(addr);
        self.owner[slot as usize] = node;
        node
    }

    /// Slots per node, for the start-up message.
    pub fn slots_per_node(&self) -> Vec<usize> {
        let mut counts = vec![0; self.nodes.len()];
        for &o in &self.owner {
            if o != UNOWNED {
                counts[o as usize] += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::decode;

    #[test]
    fn crc16_and_slots_match_the_cluster_spec() {
        use tern_keyspace::crc16;
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"key:1"), key_slot(b"x{key:1}y"));
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
        // An empty tag hashes the whole key; only the first tag counts.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") % 16384);
    }

    #[test]
    fn cluster_slots_reply_builds_the_map() {
        let raw = b"*2\r\n*3\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$4\r\nabcd\r\n\
*4\r\n:8192\r\n:16383\r\n*3\r\n$0\r\n\r\n:7002\r\n$4\r\nefgh\r\n*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$4\r\nijkl\r\n";
        let (value, _) = decode(raw).unwrap().unwrap();
        let ranges = parse_cluster_slots(&value, "10.0.0.9").unwrap();
        assert_eq!(
            ranges,
            vec![
                SlotRange {
                    start: 0,
                    end: 8191,
                    addr: "127.0.0.1:7001".into()
                },
                SlotRange {
                    start: 8192,
                    end: 16383,
                    addr: "10.0.0.9:7002".into()
                },
            ]
        );
        let mut map = SlotMap::from_ranges(&ranges);
        assert_eq!(map.nodes, vec!["127.0.0.1:7001", "10.0.0.9:7002"]);
        assert_eq!(map.owner(key_slot(b"bar")), 0);
        assert_eq!(map.owner(key_slot(b"foo")), 1);
        assert_eq!(map.slots_per_node(), vec![8192, 8192]);
        // A MOVED to a new node adds it and re-points only that slot.
        let n = map.moved(12182, "127.0.0.1:7003");
        assert_eq!(n, 2);
        assert_eq!(map.owner(12182), 2);
        assert_eq!(map.owner(12181), 1);
    }

    #[test]
    fn redirects_parse() {
        assert_eq!(
            parse_redirect(b"MOVED 3999 127.0.0.1:6381"),
            Some(Redirect::Moved {
                slot: 3999,
                addr: "127.0.0.1:6381"
            })
        );
        assert_eq!(
            parse_redirect(b"ASK 12 ::1:7000"),
            Some(Redirect::Ask {
                slot: 12,
                addr: "::1:7000"
            })
        );
        assert_eq!(parse_redirect(b"MOVED 99999 h:1"), None);
        assert_eq!(parse_redirect(b"ERR MOVED"), None);
        assert_eq!(parse_redirect(b"MOVED 1 nohostport"), None);
    }
}
