//! The Kitex comparison: Kitex's echo client and server (the Go program of `interop/kitex`)
//! beside rookery's, each side in its own process, over Thrift binary and TTHeader with the
//! IDL `interop/kitex/idl/echo.thrift`.
//!
//! A pair is named `CLIENT[@SERVER]`. `CLIENT` is `kitex-pooled`, `kitex-mux`,
//! `rookery-kx-pooled` or `rookery-kx-mux`: whose client, pooled (one call at a time per
//! connection, as many connections as calls in flight) or multiplexed on one connection.
//! Alone, the client calls its own framework's server; `@rookery` or `@kitex` sends it to
//! the other one, which separates the cost of each side: `kitex-pooled@rookery` against
//! `kitex-pooled` changes only the server, `rookery-kx-pooled@kitex` against `kitex-pooled`
//! only the client. A Kitex server serves multiplexed connections (`--mux`) exactly when
//! its client is a mux client, as a Kitex deployment must.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{ClientFlags, Peer, Program};

/// The name that stands for all eight pairs, in [`MATRIX`] order.
pub(crate) const MATRIX_ALIAS: &str = "kitex-matrix";

/// Every pair, pooled first, each mode as: both Kitex, both rookery, Kitex's client on
/// rookery's server, rookery's client on Kitex's server.
pub(crate) const MATRIX: &[&str] = &[
    "kitex-pooled",
    "rookery-kx-pooled",
    "kitex-pooled@rookery",
    "rookery-kx-pooled@kitex",
    "kitex-mux",
    "rookery-kx-mux",
    "kitex-mux@rookery",
    "rookery-kx-mux@kitex",
];

/// The Go module and package of the Kitex peer, for `rookery_testkit::go_build`.
const PEER_MODULE: &str = "interop/kitex";
const PEER_PACKAGE: &str = "github.com/rookery-rs/rookery/interop/kitex";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Kitex,
    Rookery,
}

/// One pair: whose client in which mode, and whose server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pair {
    client: Side,
    mux: bool,
    server: Side,
}

/// The pair `name` stands for, if it names one.
pub(crate) fn pair(name: &str) -> Option<Pair> {
    let (client_name, server_name) = match name.split_once('@') {
        Some((client, server)) => (client, Some(server)),
        None => (name, None),
    };
    let (client, mux) = match client_name {
        "kitex-pooled" => (Side::Kitex, false),
        "kitex-mux" => (Side::Kitex, true),
        "rookery-kx-pooled" => (Side::Rookery, false),
        "rookery-kx-mux" => (Side::Rookery, true),
        _ => return None,
    };
    let server = match (client, server_name) {
        (side, None) => side,
        (Side::Kitex, Some("rookery")) => Side::Rookery,
        (Side::Rookery, Some("kitex")) => Side::Kitex,
        _ => return None,
    };
    Some(Pair {
        client,
        mux,
        server,
    })
}

/// The Kitex peer's program: `explicit` if given, else built from `interop/kitex` with Go.
pub(crate) fn peer_program(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(format!("--kitex-bin {} is not a file", path.display()))
        };
    }
    rookery_testkit::go_build(PEER_MODULE, PEER_PACKAGE).map_err(|e| {
        format!("cannot build the Kitex peer ({PEER_MODULE}): {e}; or point --kitex-bin at it")
    })
}

/// The binaries of `pair` named `name`: the Kitex peer at `kitex_peer`, rookery's
/// `rookery-kx-echo-server` and `rookery-kx-echo-client` in `bin_dir`.
pub(crate) fn peer(
    name: &str,
    pair: Pair,
    kitex_peer: &Path,
    bin_dir: &Path,
) -> Result<Peer, String> {
    let rookery_bin = |bin: &str| {
        let path = bin_dir.join(bin);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "skipping {name}: {} not found; it is a bin of `rookery-benchmarks`: build it with \
                 `cargo build --release -p rookery-benchmarks` (or point --bin-dir at it)",
                path.display()
            ))
        }
    };
    let mode = if pair.mux { "mux" } else { "pooled" };
    let strings = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let server = match pair.server {
        Side::Kitex => {
            let mut args = strings(&["serve", "--idl", "thrift"]);
            if pair.mux {
                args.push("--mux".to_owned());
            }
            Program {
                path: kitex_peer.to_owned(),
                args,
            }
        }
        Side::Rookery => Program::bare(rookery_bin("rookery-kx-echo-server")?),
    };
    let (client, client_flags) = match pair.client {
        Side::Kitex => (
            Program {
                path: kitex_peer.to_owned(),
                args: strings(&["bench", "--idl", "thrift", "--mode", mode]),
            },
            ClientFlags::KitexBench,
        ),
        // Not `--connections`: like Kitex's, the mux client has one connection and the pool
        // opens one per call in flight.
        Side::Rookery => (
            Program {
                path: rookery_bin("rookery-kx-echo-client")?,
                args: strings(&["--connection-mode", mode]),
            },
            ClientFlags::Contract {
                takes_connections: false,
            },
        ),
    };
    Ok(Peer {
        name: name.to_owned(),
        server,
        client,
        client_flags,
        streams: false,
    })
}

/// What the report says of the Kitex side: Kitex's version (from `interop/kitex/go.mod`)
/// and the Go the peer was built with.
pub(crate) fn describe(kitex_peer: &Path) -> String {
    let go_mod = rookery_testkit::repo_root()
        .join(PEER_MODULE)
        .join("go.mod");
    let kitex = std::fs::read_to_string(go_mod)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                line.trim()
                    .strip_prefix("github.com/cloudwego/kitex ")
                    .map(|version| format!("Kitex {}", version.trim()))
            })
        })
        .unwrap_or_else(|| "Kitex (version unknown)".to_owned());
    // `go version FILE` prints `FILE: go1.x.y`.
    let go = Command::new("go")
        .arg("version")
        .arg(kitex_peer)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.rsplit(": ").next().map(|v| v.trim().to_owned()))
        .filter(|v| v.starts_with("go"))
        .unwrap_or_else(|| "an unknown Go".to_owned());
    format!("{kitex}, built with {go}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_matrix_name_is_a_distinct_pair() {
        let pairs: Vec<Pair> = MATRIX.iter().map(|n| pair(n).unwrap()).collect();
        for (i, a) in pairs.iter().enumerate() {
            assert!(!pairs[i + 1..].contains(a), "{} twice", MATRIX[i]);
        }
        assert_eq!(
            pair("rookery-kx-mux@kitex"),
            Some(Pair {
                client: Side::Rookery,
                mux: true,
                server: Side::Kitex
            })
        );
    }

    #[test]
    fn a_pair_names_the_other_server_or_none() {
        assert_eq!(pair("kitex-pooled@kitex"), None);
        assert_eq!(pair("rookery-kx-mux@rookery"), None);
        assert_eq!(pair("kitex"), None);
        assert_eq!(pair("rookery"), None);
    }
}
