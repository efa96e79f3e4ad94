//! Protobuf IDL: compilation and code generation.
