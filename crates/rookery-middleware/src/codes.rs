//! Status codes in configuration files, written by their gRPC names (`UNAVAILABLE`,
//! `deadline_exceeded`) or numbers (`14`). For `#[serde(with = "crate::codes")]` on a
//! `Vec<Code>` field.

use rookery_core::Code;
use serde::{Deserialize, Deserializer, Serializer, de, ser::SerializeSeq};

/// The code named `name` (gRPC's upper-case name, any case) or numbered `name`.
pub fn parse(name: &str) -> Result<Code, String> {
    let name = name.trim();
    if let Ok(n) = name.parse::<i32>() {
        return match n {
            0..=16 => Ok(Code::from_i32(n)),
            _ => Err(format!("status code {n} is not one of gRPC's (0 to 16)")),
        };
    }
    (0..=16)
        .map(Code::from_i32)
        .find(|c| c.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("unknown status code {name:?} (write UNAVAILABLE, INTERNAL...)"))
}

/// Serializes each code by its name.
pub fn serialize<S: Serializer>(codes: &[Code], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(codes.len()))?;
    for code in codes {
        seq.serialize_element(code.as_str())?;
    }
    seq.end()
}

/// Deserializes codes from names or numbers.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Code>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Name {
        S(String),
        N(i64),
    }
    Vec::<Name>::deserialize(d)?
        .into_iter()
        .map(|name| match name {
            Name::S(s) => parse(&s),
            Name::N(n) => parse(&n.to_string()),
        })
        .collect::<Result<_, _>>()
        .map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_read_as_codes() {
        assert_eq!(parse("UNAVAILABLE"), Ok(Code::Unavailable));
        assert_eq!(parse("deadline_exceeded"), Ok(Code::DeadlineExceeded));
        assert_eq!(parse("13"), Ok(Code::Internal));
        assert!(parse("17").unwrap_err().contains("0 to 16"));
        assert!(parse("BROKEN").unwrap_err().contains("unknown status code"));
    }
}
