//! Durations in configuration files, written as people write them: `250ms`, `2s`, `1m`,
//! `1.5s`, `100us`, `0`. For `#[serde(with = "crate::duration")]` on a `Duration` field, and
//! `crate::duration::option` on an `Option<Duration>`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer, de};

/// Parses `250ms`, `2s`, `1.5s`, `1m`, `1h`, `100us`, `0`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("duration {text:?} has no unit (ms, s, m, h, us, ns)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("duration {text:?} does not start with a number"))?;
    let seconds = match unit.trim() {
        "ns" => value / 1e9,
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("duration {text:?}: unknown unit {other:?}")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("duration {text:?}: {e}"))
}

/// Formats as [`parse`] reads.
pub fn format(d: Duration) -> String {
    if d.is_zero() {
        "0".into()
    } else if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}us", d.as_micros())
    }
}

/// Serializes a duration as text.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

/// Deserializes a duration from text (or a number of seconds).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        S(String),
        N(f64),
    }
    match Text::deserialize(d)? {
        Text::S(s) => parse(&s).map_err(de::Error::custom),
        Text::N(n) => Duration::try_from_secs_f64(n).map_err(de::Error::custom),
    }
}

/// For `Option<Duration>` fields.
pub mod option {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes an optional duration as text, or nothing.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Deserializes an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(d)| d))
    }
}

/// For `HashMap<String, Duration>` fields: each value as text.
pub mod map {
    use std::{collections::HashMap, time::Duration};

    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeMap};

    /// Serializes each duration as text.
    pub fn serialize<S: Serializer>(
        map: &HashMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            out.serialize_entry(k, &super::format(*v))?;
        }
        out.end()
    }

    /// Deserializes each duration from text.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<String, Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] Duration);
        Ok(HashMap::<String, Wrap>::deserialize(d)?
            .into_iter()
            .map(|(k, Wrap(v))| (k, v))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_people_write() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert!(parse("10").unwrap_err().contains("no unit"));
        assert!(parse("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse("-1s").is_err());
        for d in [
            Duration::from_millis(250),
            Duration::from_secs(3),
            Duration::from_micros(7),
        ] {
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
