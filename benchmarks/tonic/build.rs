//! Generates tonic's Echo server and client from `benchmarks/idl/echo.proto`, compiled by
//! protox (pure Rust: no protoc to install) and handed to tonic-prost-build as descriptors.

fn main() {
    let idl = concat!(env!("CARGO_MANIFEST_DIR"), "/../idl");
    let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/../idl/echo.proto");
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], [idl]).expect("protox failed to compile echo.proto");
    tonic_prost_build::configure()
        // `bytes` fields as `bytes::Bytes`: the payload is echoed without copying.
        .bytes(".")
        .compile_fds(descriptors)
        .expect("tonic-prost-build failed to generate code");
}
