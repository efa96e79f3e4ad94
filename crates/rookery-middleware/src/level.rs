//! serde for [`tracing::Level`]s written as their names (`debug`, `info`), for fields of type
//! `Option<Level>`: `#[serde(default, with = "crate::level")]`.

use serde::{Deserialize, Deserializer, Serializer, de::Error};
use tracing::Level;

pub(crate) fn serialize<S: Serializer>(level: &Option<Level>, s: S) -> Result<S::Ok, S::Error> {
    match level {
        Some(level) => s.serialize_str(&level.as_str().to_ascii_lowercase()),
        None => s.serialize_none(),
    }
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Level>, D::Error> {
    let Some(name) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    name.parse().map(Some).map_err(|_| {
        D::Error::custom(format!(
            "unknown level {name:?}: use trace, debug, info, warn or error"
        ))
    })
}
