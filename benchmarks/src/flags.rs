//! A tiny `--name value` command-line parser shared by every benchmark binary.
//!
//! The benchmark peers all speak the same small CLI contract (see `README.md`), so a
//! full argument-parsing crate would only add build time. Both `--name value` and
//! `--name=value` are accepted; an unknown flag, a flag without a value or a value
//! that does not parse is an error that names the flag.
//!
//! This file is also compiled into the separate volo project (`benchmarks/volo/`) by a
//! `#[path]` module, so it uses nothing but `std`.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// Flags given on the command line, by name (without the leading `--`).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    values: HashMap<String, String>,
}

impl Flags {
    /// Parses `args` (without the program name), accepting only the flags in `known`.
    pub fn parse<I>(args: I, known: &[&str]) -> Result<Flags, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut values = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(stripped) = arg.strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument `{arg}`: flags look like `--name value`"
                ));
            };
            let (name, value) = match stripped.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("flag `--{stripped}` needs a value"))?;
                    (stripped.to_owned(), value)
                }
            };
            if !known.contains(&name.as_str()) {
                let list = known.iter().map(|k| format!("--{k}")).collect::<Vec<_>>();
                return Err(format!(
                    "unknown flag `--{name}`; known flags: {}",
                    list.join(", ")
                ));
            }
            values.insert(name, value);
        }
        Ok(Flags { values })
    }

    /// Parses the process arguments; prints `usage` and exits on `--help` or on an error.
    pub fn from_env_or_exit(known: &[&str], usage: &str) -> Flags {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            println!("{usage}");
            std::process::exit(0);
        }
        match Flags::parse(args, known) {
            Ok(flags) => flags,
            Err(message) => {
                eprintln!("error: {message}\n\n{usage}");
                std::process::exit(2);
            }
        }
    }

    /// The raw text of a flag, if it was given.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of a flag parsed as `T`, or `None` when it was not given.
    pub fn get<T>(&self, name: &str) -> Result<Option<T>, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.values.get(name) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| format!("flag `--{name} {text}`: {e}")),
        }
    }

    /// The value of a flag parsed as `T`, or `default` when it was not given.
    pub fn get_or<T>(&self, name: &str, default: T) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.get(name)?.unwrap_or(default))
    }

    /// The value of a flag that must be given.
    pub fn required<T>(&self, name: &str) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(name)?
            .ok_or_else(|| format!("flag `--{name}` is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn both_spellings_are_accepted() {
        let flags = Flags::parse(
            args(&["--addr", "127.0.0.1:1", "--payload=16"]),
            &["addr", "payload"],
        )
        .unwrap();
        assert_eq!(flags.raw("addr"), Some("127.0.0.1:1"));
        assert_eq!(flags.get_or("payload", 1024usize).unwrap(), 16);
        assert_eq!(flags.get::<usize>("missing").unwrap(), None);
    }

    #[test]
    fn mistakes_name_the_flag() {
        let err = Flags::parse(args(&["--bogus", "1"]), &["addr"]).unwrap_err();
        assert!(err.contains("--bogus"), "{err}");
        let err = Flags::parse(args(&["--addr"]), &["addr"]).unwrap_err();
        assert!(err.contains("needs a value"), "{err}");
        let flags = Flags::parse(args(&["--payload", "lots"]), &["payload"]).unwrap();
        assert!(
            flags
                .get::<usize>("payload")
                .unwrap_err()
                .contains("--payload lots")
        );
        assert!(
            flags
                .required::<usize>("addr")
                .unwrap_err()
                .contains("required")
        );
    }
}
