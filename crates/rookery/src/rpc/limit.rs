//! A serde deserializer that wraps another and bounds what hostile input can make it do.
//!
//! postcard has no nesting limit: a body of `0x01` bytes decodes an `Option<Box<Self>>` one
//! level per byte until the stack overflows, which aborts the process. And a sequence of a
//! zero-sized type costs no bytes per element, so a length prefix of 2^60 would loop for
//! ever. [`Limited`] counts nesting and elements as the value is built and stops with an error
//! past the limits, whatever the format underneath.
//!
//! It also keeps error messages: postcard drops the message of serde's custom errors
//! (`missing field`, `unknown variant`), so the first message raised inside is kept aside and
//! reported instead of postcard's generic one.

use std::{
    cell::{Cell, RefCell},
    fmt,
};

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// What one decode may spend, and the first error message raised inside it.
#[derive(Debug)]
pub(crate) struct Budget {
    depth: Cell<u32>,
    max_depth: u32,
    elements: Cell<usize>,
    max_elements: usize,
    first_error: RefCell<Option<String>>,
}

/// Sequences of zero-sized elements may be this long whatever the body's size.
const FREE_ELEMENTS: usize = 4096;

impl Budget {
    /// A budget for a body of `body_len` bytes: at most `max_depth` nested values (every
    /// sequence, tuple, struct, map, enum, `Some` and newtype is one level), and at most as
    /// many elements and map entries in all as the body has bytes (or 4096 if more), since
    /// every element of a type that is not zero-sized costs at least one byte.
    pub(crate) fn new(body_len: usize, max_depth: u16) -> Budget {
        Budget {
            depth: Cell::new(0),
            max_depth: u32::from(max_depth),
            elements: Cell::new(0),
            max_elements: body_len.max(FREE_ELEMENTS),
            first_error: RefCell::new(None),
        }
    }

    fn enter<E: de::Error>(&self) -> Result<(), E> {
        let depth = self.depth.get() + 1;
        if depth > self.max_depth {
            return Err(self.raise(format!(
                "the value nests deeper than {} levels",
                self.max_depth
            )));
        }
        self.depth.set(depth);
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    fn element<E: de::Error>(&self) -> Result<(), E> {
        let n = self.elements.get() + 1;
        if n > self.max_elements {
            return Err(self.raise(format!(
                "the value has more than {} elements in all, more than its body has bytes",
                self.max_elements
            )));
        }
        self.elements.set(n);
        Ok(())
    }

    /// An error of the format underneath carrying `message`, which is kept aside in case the
    /// format drops it.
    fn raise<E: de::Error>(&self, message: String) -> E {
        let err = E::custom(&message);
        self.first_error.borrow_mut().get_or_insert(message);
        err
    }

    /// Our error for an error of the format underneath: the first message raised inside, the
    /// root cause (postcard replaces it by "Serde Deserialization Error", serde_json appends
    /// a position at every level), or the format's own message when nothing was raised.
    fn lift(&self, err: impl fmt::Display) -> Error {
        match &*self.first_error.borrow() {
            Some(first) => Error::new(first.clone()),
            None => Error::new(err.to_string()),
        }
    }

    /// An error of the format underneath for one of ours.
    fn lower<E: de::Error>(&self, err: Error) -> E {
        self.raise(err.into_message())
    }
}

/// The error of a [`Limited`] decode: a message for people. Boxed, so that the results that
/// every level of a decode passes up stay as small as the format's own (a `String` here
/// costs postcard about a third of its decode time).
#[derive(Debug)]
#[allow(clippy::box_collection)] // one thin pointer, where `Box<str>` takes two words
pub(crate) struct Error(Box<String>);

impl Error {
    fn new(message: String) -> Error {
        Error(Box::new(message))
    }

    /// The message.
    pub(crate) fn into_message(self) -> String {
        *self.0
    }

    /// The error for `err` of the format underneath, preferring the message kept in `budget`.
    pub(crate) fn from_format(budget: &Budget, err: impl fmt::Display) -> Error {
        budget.lift(err)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }
}

/// A deserializer that spends from a [`Budget`] as it goes. Every method is `#[inline]`:
/// the wrappers must vanish into the format's code, or they cost a tenth of a decode.
pub(crate) struct Limited<'b, D> {
    inner: D,
    budget: &'b Budget,
}

impl<'b, D> Limited<'b, D> {
    pub(crate) fn new(inner: D, budget: &'b Budget) -> Self {
        Limited { inner, budget }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let budget = self.budget;
            self.inner
                .$method(Wrap { inner: visitor, budget })
                .map_err(|e| budget.lift(e))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Limited<'_, D> {
    type Error = Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .deserialize_unit_struct(name, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .deserialize_newtype_struct(name, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .deserialize_tuple(len, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .deserialize_tuple_struct(name, len, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .deserialize_struct(name, fields, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .deserialize_enum(name, variants, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A visitor handed to the format underneath: counts the levels it opens.
struct Wrap<'b, V> {
    inner: V,
    budget: &'b Budget,
}

impl<'b, V> Wrap<'b, V> {
    #[inline]
    fn new(inner: V, budget: &'b Budget) -> Self {
        Wrap { inner, budget }
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        #[inline]
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            let budget = self.budget;
            self.inner.$method(v).map_err(|e| budget.lower(e))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    #[inline]
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    #[inline]
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        let budget = self.budget;
        self.inner.visit_none().map_err(|e| budget.lower(e))
    }

    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        let budget = self.budget;
        self.inner.visit_unit().map_err(|e| budget.lower(e))
    }

    #[inline]
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        budget.enter()?;
        let value = self
            .inner
            .visit_some(Limited::new(d, budget))
            .map_err(|e| budget.lower(e))?;
        budget.leave();
        Ok(value)
    }

    #[inline]
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        let budget = self.budget;
        budget.enter()?;
        let value = self
            .inner
            .visit_newtype_struct(Limited::new(d, budget))
            .map_err(|e| budget.lower(e))?;
        budget.leave();
        Ok(value)
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.enter()?;
        let value = self
            .inner
            .visit_seq(Seq { inner: seq, budget })
            .map_err(|e| budget.lower(e))?;
        budget.leave();
        Ok(value)
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.enter()?;
        let value = self
            .inner
            .visit_map(Map { inner: map, budget })
            .map_err(|e| budget.lower(e))?;
        budget.leave();
        Ok(value)
    }

    #[inline]
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        let budget = self.budget;
        budget.enter()?;
        let value = self
            .inner
            .visit_enum(Enum {
                inner: data,
                budget,
            })
            .map_err(|e| budget.lower(e))?;
        budget.leave();
        Ok(value)
    }
}

/// A seed handed to the format underneath: decodes its value through a [`Limited`].
struct Seed<'b, S> {
    inner: S,
    budget: &'b Budget,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        let budget = self.budget;
        self.inner
            .deserialize(Limited::new(d, budget))
            .map_err(|e| budget.lower(e))
    }
}

struct Seq<'b, A> {
    inner: A,
    budget: &'b Budget,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<'_, A> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let budget = self.budget;
        budget.element::<Error>()?;
        self.inner
            .next_element_seed(Seed {
                inner: seed,
                budget,
            })
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct Map<'b, A> {
    inner: A,
    budget: &'b Budget,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'_, A> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let budget = self.budget;
        budget.element::<Error>()?;
        self.inner
            .next_key_seed(Seed {
                inner: seed,
                budget,
            })
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let budget = self.budget;
        self.inner
            .next_value_seed(Seed {
                inner: seed,
                budget,
            })
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct Enum<'b, A> {
    inner: A,
    budget: &'b Budget,
}

impl<'b, 'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<'b, A> {
    type Error = Error;
    type Variant = Variant<'b, A::Variant>;

    #[inline]
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Error> {
        let budget = self.budget;
        let (value, variant) = self
            .inner
            .variant_seed(Seed {
                inner: seed,
                budget,
            })
            .map_err(|e| budget.lift(e))?;
        Ok((
            value,
            Variant {
                inner: variant,
                budget,
            },
        ))
    }
}

struct Variant<'b, A> {
    inner: A,
    budget: &'b Budget,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<'_, A> {
    type Error = Error;

    #[inline]
    fn unit_variant(self) -> Result<(), Error> {
        let budget = self.budget;
        self.inner.unit_variant().map_err(|e| budget.lift(e))
    }

    #[inline]
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let budget = self.budget;
        self.inner
            .newtype_variant_seed(Seed {
                inner: seed,
                budget,
            })
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .tuple_variant(len, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }

    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let budget = self.budget;
        self.inner
            .struct_variant(fields, Wrap::new(visitor, budget))
            .map_err(|e| budget.lift(e))
    }
}
