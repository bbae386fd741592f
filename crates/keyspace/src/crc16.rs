//! Key → hash slot: CRC16/XMODEM of the key, or of its `{hash tag}`, mod 16384.

/// The number of hash slots.
pub const SLOT_COUNT: usize = 16384;

/// CRC16/XMODEM with a slice-by-16 table: the hash slot is computed for every key of every
/// command (twice when pipelined: once for prefetching), and the byte-at-a-time form's serial
/// dependency chain showed up in profiles.
static CRC16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

#[inline]
pub fn crc16(data: &[u8]) -> u16 {
    CRC16.checksum(data)
}

/// The hash slot of a key. Only the part between the first `{` and the next `}` is hashed when
/// that part is not empty.
#[inline]
pub fn key_slot(key: &[u8]) -> usize {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) as usize & (SLOT_COUNT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_slots() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    }
}
