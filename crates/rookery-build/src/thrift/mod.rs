//! Thrift IDL: parsing, resolution and code generation.

pub mod ast;
pub mod r#gen;
pub mod lexer;
pub mod parser;
pub mod resolve;

pub use r#gen::Builder;
