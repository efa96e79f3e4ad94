//! The Protobuf wire format's small parts: wire types, keys, varints and zigzag.

use crate::DecodeError;

/// How a field's value is laid out on the wire (the low three bits of its key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum WireType {
    /// A varint: `int32`, `int64`, `uint32`, `uint64`, `sint32`, `sint64`, `bool`, enums.
    Varint = 0,
    /// Eight bytes, little-endian: `fixed64`, `sfixed64`, `double`.
    SixtyFourBit = 1,
    /// A varint length then that many bytes: strings, bytes, messages, packed repeated fields.
    LengthDelimited = 2,
    /// The start of a proto2 group.
    StartGroup = 3,
    /// The end of a proto2 group.
    EndGroup = 4,
    /// Four bytes, little-endian: `fixed32`, `sfixed32`, `float`.
    ThirtyTwoBit = 5,
}

impl WireType {
    /// The wire type of a key's low three bits.
    #[inline]
    pub fn from_key(key: u32) -> Result<WireType, DecodeError> {
        Ok(match key & 7 {
            0 => WireType::Varint,
            1 => WireType::SixtyFourBit,
            2 => WireType::LengthDelimited,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::ThirtyTwoBit,
            other => {
                return Err(DecodeError::invalid(format!(
                    "invalid wire type {other} in key {key:#x}"
                )));
            }
        })
    }
}

/// The key of field `number` with `wire_type`: `number << 3 | wire_type`.
#[inline]
pub const fn key(number: u32, wire_type: WireType) -> u32 {
    (number << 3) | wire_type as u32
}

/// The field number of a key.
#[inline]
pub const fn field_number(key: u32) -> u32 {
    key >> 3
}

/// How many bytes the varint encoding of `v` takes (1 to 10).
#[inline]
pub const fn varint_len(v: u64) -> usize {
    // Each byte carries 7 bits; `| 1` makes zero take one byte.
    ((((v | 1).leading_zeros() ^ 63) * 9 + 73) / 64) as usize
}

/// Zigzag encoding of a `sint32`: small magnitudes, positive or negative, become small varints.
#[inline]
pub const fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

/// Zigzag encoding of a `sint64`.
#[inline]
pub const fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The `sint32` a zigzag varint stands for.
#[inline]
pub const fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ (-((v & 1) as i32))
}

/// The `sint64` a zigzag varint stands for.
#[inline]
pub const fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ (-((v & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_len_matches_the_encoding() {
        for (v, n) in [
            (0u64, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u32::MAX as u64, 5),
            (u64::MAX >> 1, 9),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
        }
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0, -1, 1, -2, i32::MIN, i32::MAX] {
            assert_eq!(unzigzag32(zigzag32(v)), v);
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag64(zigzag64(v)), v);
        }
        assert_eq!(zigzag32(-1), 1);
        assert_eq!(zigzag32(1), 2);
    }
}
