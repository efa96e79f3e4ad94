//! Thrift IDL: parsing, resolution and code generation.

pub mod ast;
