//! The services the examples share.
//!
//! [`echo`] is the code the generator will produce for `idl/echo.thrift`, written by hand
//! until code generation lands: it targets the same `rookery::codegen` API generated code
//! will.

pub mod echo;
