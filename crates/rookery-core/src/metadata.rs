use faststr::FastStr;

/// String key/value pairs that travel with a call: TTHeader string info on the native
/// transport, headers on HTTP-based ones.
///
/// Keys are case-sensitive and unique; inserting a key that is present replaces its value. A
/// call carries few entries, so they live in a vector in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(FastStr, FastStr)>,
}

impl Metadata {
    /// An empty set.
    pub const fn new() -> Metadata {
        Metadata {
            entries: Vec::new(),
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

    /// Removes every pair.
    pub fn clear(&mut self) {
        self.entries.clear();
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
}
