//! Thrift IDL: parsing, resolution and code generation.

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod resolve;
pub mod r#gen;

pub use r#gen::Builder;
