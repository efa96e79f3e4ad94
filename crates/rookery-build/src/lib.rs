//! Code generation for rookery, from Thrift and Protobuf IDL, in pure Rust (no `protoc`, no
//! `thrift` compiler): for `build.rs`, and for the `rookery` CLI.
//!
//! - [`thrift`]: the whole Thrift IDL (includes, namespaces, typedefs, consts, enums, structs,
//!   unions, exceptions, services with `extends`, oneway, defaults, requiredness), parsed with
//!   errors that name the file, line and column, and generated into message types that
//!   implement rookery's codecs, a server trait per service, a typed client, and router
//!   registration.
//! - [`protobuf`]: proto3 and the common proto2 forms, compiled in pure Rust, generated into
//!   message types with rookery's fast codec and services with all four streaming kinds.
//!
//! Generated code targets the hidden `rookery::codegen` module only.

pub mod error;
pub mod protobuf;
pub mod stubs;
pub mod thrift;

pub use error::{Diagnostic, ErrorKind, IdlError, Severity};
