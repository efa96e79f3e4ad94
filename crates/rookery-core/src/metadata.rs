use bytes::Bytes;
use faststr::FastStr;

/// Key/value pairs that travel with a call: TTHeader string info on the native transport,
/// headers on HTTP-based ones.
///
/// Keys are case-sensitive and unique; inserting a key that is present replaces its value. A
/// call carries few entries, so they live in a vector in insertion order.
///
/// Values are strings; binary values (gRPC's `-bin` keys, sent base64-encoded) are kept
/// apart, by [`insert_bin`](Metadata::insert_bin) and [`get_bin`](Metadata::get_bin).
/// [`len`](Metadata::len), [`iter`](Metadata::iter) and [`is_empty`](Metadata::is_empty)
/// count and list the string pairs only; protocols that have no binary metadata ignore the
/// binary ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(FastStr, FastStr)>,
    binary: Vec<(FastStr, Bytes)>,
}

impl Metadata {
    /// An empty set.
    pub const fn new() -> Metadata {
        Metadata {
            entries: Vec::new(),
            binary: Vec::new(),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| &**v)
    }

    /// Sets `key` to `value`, returning the value it replaced.
    pub fn insert(
        &mut self,
        key: impl Into<FastStr>,
        value: impl Into<FastStr>,
    ) -> Option<FastStr> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<FastStr> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k == key)
    }

    /// The pairs, in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&FastStr, &FastStr)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every pair, string and binary.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.binary.clear();
    }

    /// The binary value of `key` (by gRPC's convention, a key ending in `-bin`), if present.
    pub fn get_bin(&self, key: &str) -> Option<&Bytes> {
        self.binary.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets the binary value of `key` (by gRPC's convention, a key ending in `-bin`),
    /// returning the value it replaced.
    pub fn insert_bin(&mut self, key: impl Into<FastStr>, value: Bytes) -> Option<Bytes> {
        let key = key.into();
        match self.binary.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.binary.push((key, value));
                None
            }
        }
    }

    /// Removes the binary value of `key`, returning it.
    pub fn remove_bin(&mut self, key: &str) -> Option<Bytes> {
        let i = self.binary.iter().position(|(k, _)| k == key)?;
        Some(self.binary.remove(i).1)
    }

    /// The binary pairs, in insertion order.
    pub fn iter_bin(&self) -> impl ExactSizeIterator<Item = (&FastStr, &Bytes)> {
        self.binary.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Into<FastStr>, V: Into<FastStr>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Metadata {
        let mut m = Metadata::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_and_keeps_order() {
        let mut m = Metadata::new();
        assert_eq!(m.insert("a", "1"), None);
        assert_eq!(m.insert("b", "2"), None);
        assert_eq!(m.insert("a", "3").as_deref(), Some("1"));
        let pairs: Vec<_> = m.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(pairs, [("a", "3"), ("b", "2")]);
        assert_eq!(m.remove("a").as_deref(), Some("3"));
        assert!(!m.contains_key("a"));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn binary_values_are_kept_apart() {
        let mut m = Metadata::new();
        m.insert("k", "text");
        assert_eq!(m.insert_bin("k-bin", Bytes::from_static(&[0xab])), None);
        assert_eq!(m.get_bin("k-bin").map(|b| &b[..]), Some(&[0xab][..]));
        assert_eq!(m.get("k-bin"), None);
        assert_eq!(m.len(), 1, "len counts the string pairs");
        assert_eq!(m.iter_bin().len(), 1);
        assert_eq!(
            m.insert_bin("k-bin", Bytes::new()).as_deref(),
            Some(&[0xab][..])
        );
        assert_eq!(m.remove_bin("k-bin").as_deref(), Some(&[][..]));
        m.insert_bin("x-bin", Bytes::new());
        m.clear();
        assert_eq!(m.iter_bin().len(), 0);
    }
}
