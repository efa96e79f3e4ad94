//! Side-by-side benchmarks of rookery against volo-thrift, tonic and a raw tokio ceiling.
//!
//! The workload is an echo (1 KiB by default): over TTHeader + Thrift against volo-thrift and
//! the raw ceiling, over gRPC against tonic. Every framework provides a server binary and a client
//! binary that follow one CLI contract (see `benchmarks/README.md`); the runner
//! `bench-echo` starts each server on a loopback port, drives it with its own client at
//! each concurrency level, samples the server's CPU time and peak RSS, and prints one
//! table with ratios.
//!
//! This library holds what the binaries share:
//!
//! - [`flags`]: the small command-line parser all binaries use;
//! - [`load`]: the closed-loop driver and its JSON report, reused by every client
//!   (rookery's included; the volo project compiles the same files);
//! - [`serve`]: what every server binary does: its flags, the readiness line, the
//!   shutdown signals;
//! - [`raw`]: the ceiling's frame format;
//! - [`grpc`]: rookery's code for the gRPC echo, generated from `idl/echo.proto` (the
//!   proto tonic's peer is generated from).

pub mod flags;
pub mod grpc;
pub mod load;
pub mod raw;
pub mod serve;
