//! The serde formats a `#[rookery::service]` body travels in, and the tag byte that names
//! the format at the start of every body.

use std::{fmt, str::FromStr};

use serde::{Serialize, de::DeserializeOwned};

use super::limit::{Budget, Error, Limited};

/// The serde format of the arguments and results of a `#[rookery::service]` method.
///
/// Every body starts with the format's tag byte ([`Codec::tag`]), so a peer that speaks
/// another format, or no rookery format at all, gets a clear error instead of garbage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// [postcard](https://docs.rs/postcard): compact binary with varint integers and a
    /// stable, documented wire format. The default: the smallest bodies and the fastest
    /// encode and decode of the two. It is not self-describing, so serde features that need
    /// to look at the input (`#[serde(untagged)]`, `#[serde(flatten)]`, internally tagged
    /// enums, `serde_json::Value`) and fields skipped when serializing do not work in it.
    #[default]
    Postcard,
    /// JSON, through serde_json: readable, what browsers and `curl` speak, and every serde
    /// feature works in it.
    Json,
}

impl Codec {
    /// Every codec, in the order of their tags.
    pub const ALL: [Codec; 2] = [Codec::Json, Codec::Postcard];

    /// The byte every body in this codec starts with: `b'P'` for postcard, `b'J'` for JSON.
    pub const fn tag(self) -> u8 {
        match self {
            Codec::Postcard => b'P',
            Codec::Json => b'J',
        }
    }

    /// The codec a body's first byte names, if any.
    pub const fn from_tag(tag: u8) -> Option<Codec> {
        match tag {
            b'P' => Some(Codec::Postcard),
            b'J' => Some(Codec::Json),
            _ => None,
        }
    }

    /// The codec's name: `postcard` or `json`.
    pub const fn name(self) -> &'static str {
        match self {
            Codec::Postcard => "postcard",
            Codec::Json => "json",
        }
    }

    /// This codec's bit in a [`CodecSet`].
    const fn bit(self) -> u8 {
        match self {
            Codec::Postcard => 1,
            Codec::Json => 2,
        }
    }

    /// Appends the tag, then `value`, to `buf`.
    pub(crate) fn encode_into<T: Serialize + ?Sized>(
        self,
        value: &T,
        mut buf: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        buf.push(self.tag());
        match self {
            Codec::Postcard => postcard::to_extend(value, buf).map_err(|e| e.to_string()),
            Codec::Json => {
                serde_json::to_writer(&mut buf, value).map_err(|e| e.to_string())?;
                Ok(buf)
            }
        }
    }

    /// Decodes a value from `payload` (a body without its tag), within `max_depth` levels of
    /// nesting. The whole payload must be the value: trailing bytes are an error.
    pub(crate) fn decode<T: DeserializeOwned>(
        self,
        payload: &[u8],
        max_depth: u16,
    ) -> Result<T, String> {
        let budget = Budget::new(payload.len(), max_depth);
        match self {
            Codec::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(payload);
                let value =
                    T::deserialize(Limited::new(&mut de, &budget)).map_err(Error::into_message)?;
                let rest = de.finalize().map_err(|e| e.to_string())?;
                if rest.is_empty() {
                    Ok(value)
                } else {
                    Err(format!("{} bytes follow the value", rest.len()))
                }
            }
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_slice(payload);
                let value =
                    T::deserialize(Limited::new(&mut de, &budget)).map_err(Error::into_message)?;
                de.end()
                    .map_err(|e| Error::from_format(&budget, e).into_message())
                    .map(|()| value)
            }
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Codec {
    type Err = String;

    /// `postcard` or `json`.
    fn from_str(s: &str) -> Result<Codec, String> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown codec {s:?}: use postcard or json"))
    }
}

/// A set of [`Codec`]s: those a server accepts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodecSet(u8);

impl CodecSet {
    /// Every codec.
    pub const ALL: CodecSet = CodecSet(Codec::Postcard.bit() | Codec::Json.bit());

    /// No codec.
    pub const fn empty() -> CodecSet {
        CodecSet(0)
    }

    /// Only `codec`.
    pub const fn only(codec: Codec) -> CodecSet {
        CodecSet(codec.bit())
    }

    /// This set and `codec`.
    pub const fn with(self, codec: Codec) -> CodecSet {
        CodecSet(self.0 | codec.bit())
    }

    /// Whether `codec` is in the set.
    pub const fn contains(self, codec: Codec) -> bool {
        self.0 & codec.bit() != 0
    }

    /// The codecs in the set.
    pub fn iter(self) -> impl Iterator<Item = Codec> {
        Codec::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl Default for CodecSet {
    fn default() -> Self {
        CodecSet::ALL
    }
}

impl From<Codec> for CodecSet {
    fn from(codec: Codec) -> Self {
        CodecSet::only(codec)
    }
}

impl FromIterator<Codec> for CodecSet {
    fn from_iter<I: IntoIterator<Item = Codec>>(iter: I) -> Self {
        iter.into_iter().fold(CodecSet::empty(), CodecSet::with)
    }
}

impl<const N: usize> From<[Codec; N]> for CodecSet {
    fn from(codecs: [Codec; N]) -> Self {
        codecs.into_iter().collect()
    }
}

impl fmt::Debug for CodecSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for CodecSet {
    /// `postcard or json`, `json`, or `no codec`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for codec in self.iter() {
            if !first {
                f.write_str(" or ")?;
            }
            f.write_str(codec.name())?;
            first = false;
        }
        if first {
            f.write_str("no codec")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    impl Codec {
        /// The tag and the value.
        fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, String> {
            self.encode_into(value, Vec::new())
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Tree {
        Leaf(u32),
        Node(Vec<Tree>),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Chain {
        next: Option<Box<Chain>>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Person {
        name: String,
        age: u8,
        tags: BTreeMap<String, Vec<u16>>,
    }

    fn payload(body: &[u8]) -> &[u8] {
        &body[1..]
    }

    #[test]
    fn both_codecs_round_trip_and_tag_their_bodies() {
        let person = Person {
            name: "rook".into(),
            age: 7,
            tags: [("a".to_string(), vec![1, 2])].into(),
        };
        for codec in Codec::ALL {
            let body = codec.encode(&person).unwrap();
            assert_eq!(Codec::from_tag(body[0]), Some(codec));
            let back: Person = codec.decode(payload(&body), 64).unwrap();
            assert_eq!(back, person);
        }
        let json = Codec::Json.encode(&person).unwrap();
        assert_eq!(&json[..], br#"J{"name":"rook","age":7,"tags":{"a":[1,2]}}"#);
    }

    #[test]
    fn nesting_past_the_limit_is_an_error_not_a_stack_overflow() {
        // postcard: `Some` one byte per level, a million levels.
        let deep = vec![1u8; 1_000_000];
        let err = Codec::Postcard.decode::<Chain>(&deep, 128).unwrap_err();
        assert!(err.contains("deeper than 128 levels"), "{err}");
        // Within the limit it decodes.
        let mut ok = vec![1u8; 10];
        ok.push(0);
        assert!(Codec::Postcard.decode::<Chain>(&ok, 128).is_ok());
        // JSON: our limit, before serde_json's own.
        let json = format!("{}1{}", "{\"Node\":[".repeat(100), "]}".repeat(100));
        let err = Codec::Json.decode::<Tree>(json.as_bytes(), 50).unwrap_err();
        assert!(err.contains("deeper than 50 levels"), "{err}");
        assert!(Codec::Json.decode::<Tree>(json.as_bytes(), 250).is_err());
        let shallow = r#"{"Node":[{"Leaf":1},{"Node":[]}]}"#;
        assert_eq!(
            Codec::Json.decode::<Tree>(shallow.as_bytes(), 8).unwrap(),
            Tree::Node(vec![Tree::Leaf(1), Tree::Node(vec![])])
        );
    }

    #[test]
    fn zero_sized_elements_cannot_loop_for_ever() {
        // A sequence of 2^62 units costs 9 bytes of length prefix.
        let mut huge = Vec::new();
        let mut n: u64 = 1 << 62;
        while n >= 0x80 {
            huge.push((n as u8) | 0x80);
            n >>= 7;
        }
        huge.push(n as u8);
        let err = Codec::Postcard.decode::<Vec<()>>(&huge, 64).unwrap_err();
        assert!(err.contains("more than 4096 elements"), "{err}");
        let few = Codec::Postcard.encode(&vec![(); 100]).unwrap();
        assert_eq!(
            Codec::Postcard
                .decode::<Vec<()>>(payload(&few), 64)
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        // postcard keeps serde's message, which it would replace by a generic one.
        let body = Codec::Postcard.encode(&(7u32,)).unwrap();
        let err = Codec::Postcard
            .decode::<Tree>(payload(&body), 64)
            .unwrap_err();
        assert!(err.contains("variant index"), "{err}");
        let err = Codec::Postcard
            .decode::<Person>(&[4, b'r'], 64)
            .unwrap_err();
        assert!(err.contains("end of buffer"), "{err}");
        let body = Codec::Postcard.encode(&(1u8, 2u8)).unwrap();
        let err = Codec::Postcard
            .decode::<u8>(payload(&body), 64)
            .unwrap_err();
        assert_eq!(err, "1 bytes follow the value");
        // JSON names the field and where.
        let err = Codec::Json
            .decode::<Person>(br#"{"name":"x","age":1}"#, 64)
            .unwrap_err();
        assert!(err.contains("missing field `tags`"), "{err}");
        let err = Codec::Json
            .decode::<Person>(br#"{"name":"x","age":300,"tags":{}}"#, 64)
            .unwrap_err();
        assert!(err.contains("integer `300`, expected u8"), "{err}");
        let err = Codec::Json
            .decode::<Person>(br#"{"name":"x","#, 64)
            .unwrap_err();
        assert!(err.contains("line 1 column 12"), "{err}");
        let err = Codec::Json.decode::<u8>(b"1 2", 64).unwrap_err();
        assert!(err.contains("trailing characters"), "{err}");
    }

    #[test]
    fn codec_names_and_sets() {
        assert_eq!("JSON".parse::<Codec>(), Ok(Codec::Json));
        assert!("xml".parse::<Codec>().is_err());
        let set = CodecSet::from([Codec::Json]);
        assert!(set.contains(Codec::Json) && !set.contains(Codec::Postcard));
        assert_eq!(CodecSet::ALL.to_string(), "json or postcard");
        assert_eq!(CodecSet::empty().to_string(), "no codec");
    }
}
