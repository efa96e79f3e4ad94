//! The request key that consistent hashing routes by, and the stable hash behind it.

/// The key of a call, for balancers that route by key (consistent hashing): calls with the
/// same key go to the same instance while the set and the load allow.
///
/// Put it in the call's [`Context`](rookery_core::Context) extensions:
///
/// ```
/// use rookery_balance::BalanceKey;
/// use rookery_core::Context;
///
/// let mut cx = Context::new();
/// cx.extensions_mut().insert(BalanceKey::of("user-42"));
/// assert_eq!(cx.extensions().get::<BalanceKey>(), Some(&BalanceKey::of("user-42")));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BalanceKey(pub u64);

impl BalanceKey {
    /// A key from a number (a user id, a shard); it is mixed before use, so consecutive numbers
    /// spread over the ring.
    pub fn new(key: u64) -> BalanceKey {
        BalanceKey(key)
    }

    /// A key from bytes or a string, hashed with a hash that is the same in every process and
    /// every version of rookery (FNV-1a, then a 64-bit finaliser), so every client routes a key
    /// to the same instance.
    pub fn of(key: impl AsRef<[u8]>) -> BalanceKey {
        BalanceKey(stable_hash(key.as_ref()))
    }
}

/// FNV-1a over `bytes`, then [`mix`]: stable across processes, platforms and versions.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
#[inline]
pub(crate) fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a's published value for "a", then the finaliser; pinned, because a change here
        // would move every key of every deployed client.
        assert_eq!(stable_hash(b"a"), mix(0xaf63_dc4c_8601_ec8c));
        assert_eq!(stable_hash(b"a"), 0x82a2_a958_a9be_ce5b);
        assert_eq!(BalanceKey::of("user-42"), BalanceKey::of(b"user-42"));
    }
}
