//! Deserializing a request body into [`crate::Node::Request`] once its `type` is known.
//!
//! The body is handed to the request type through [`TypedBody`], a serde_json deserializer
//! that knows the message type. To every type it behaves like serde_json on the body, with one
//! addition: a request declared as a plain (externally tagged) enum, such as
//!
//! ```ignore
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Request { Send { key: String, msg: u64 }, Poll { offsets: BTreeMap<String, u64> }, Read }
//! ```
//!
//! is matched on the body's `type` and its variant's fields are read straight from the body,
//! in one pass. serde's internally tagged enums (`#[serde(tag = "type")]`) work as well but
//! cost more: serde buffers the whole body into a private tree before it picks the variant.

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};
use serde_json::de::StrRead;

/// Deserializes `body` (a JSON object whose `type` is `ty`) as `T`, as the runtime does for
/// [`crate::Node::Request`] when [`crate::Node::read_request`] leaves the body to serde: the
/// reference to test a hand-written reader against.
pub fn parse<'de, T: de::Deserialize<'de>>(
    ty: &str,
    body: &'de str,
) -> Result<T, serde_json::Error> {
    let mut json = serde_json::Deserializer::from_str(body);
    let value = T::deserialize(TypedBody {
        ty,
        json: &mut json,
    })?;
    json.end()?;
    Ok(value)
}

/// serde_json's deserializer over a body, plus the body's `type` for enums.
struct TypedBody<'a, 'de> {
    ty: &'a str,
    json: &'a mut serde_json::Deserializer<StrRead<'de>>,
}

macro_rules! forward {
    ($($method:ident),* $(,)?) => {
        $(
            #[inline]
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.json.$method(visitor)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for TypedBody<'_, 'de> {
    type Error = serde_json::Error;

    forward!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    #[inline]
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_unit_struct(name, visitor)
    }

    #[inline]
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_newtype_struct(name, visitor)
    }

    #[inline]
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_tuple(len, visitor)
    }

    #[inline]
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_tuple_struct(name, len, visitor)
    }

    #[inline]
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_struct(name, fields, visitor)
    }

    /// The one difference from serde_json: the variant is the body's `type`, its content the
    /// body itself.
    #[inline]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(self)
    }
}

impl<'a, 'de> de::EnumAccess<'de> for TypedBody<'a, 'de> {
    type Error = serde_json::Error;
    type Variant = Self;

    #[inline]
    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self), Self::Error> {
        let ty: StrDeserializer<'a, serde_json::Error> = self.ty.into_deserializer();
        Ok((seed.deserialize(ty)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for TypedBody<'_, 'de> {
    type Error = serde_json::Error;

    /// `Read` in `enum Request { Read, .. }`: the rest of the body does not matter (the line
    /// was validated as JSON already), as with a unit variant of an internally tagged enum.
    #[inline]
    fn unit_variant(self) -> Result<(), Self::Error> {
        de::Deserializer::deserialize_ignored_any(&mut *self.json, de::IgnoredAny).map(|_| ())
    }

    /// `Sync(Sync)`: the inner type reads the whole body (its `type` field included).
    #[inline]
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        seed.deserialize(&mut *self.json)
    }

    #[inline]
    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_tuple(len, visitor)
    }

    /// `Send { key, msg }`: the variant's fields are the body's; `type`, `msg_id` and other
    /// fields the variant does not name are skipped.
    #[inline]
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.json.deserialize_struct("", fields, visitor)
    }
}
