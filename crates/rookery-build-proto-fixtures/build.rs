//! Generates, for the same `.proto` files, rookery's code and prost's (from the same
//! descriptors, compiled by protox: no `protoc`), so that tests and benchmarks can compare
//! them; and rookery's code for the gRPC interop suite's `grpc.testing` protos.

use std::path::PathBuf;

use rookery_build::protobuf::Builder;

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);

    let idl = manifest.join("../rookery-build/tests/idl/proto");
    let files: Vec<PathBuf> = [
        "kinds.proto",
        "legacy.proto",
        "wkt.proto",
        "services.proto",
        "bench.proto",
    ]
    .iter()
    .map(|f| idl.join(f))
    .collect();
    let builder = Builder::new().include_dir(&idl);
    builder
        .clone()
        .out_dir(out.join("rookery"))
        .compile(&files)?;

    let descriptors = builder.file_descriptor_set(&files)?;
    std::fs::create_dir_all(out.join("prost"))?;
    prost_build::Config::new()
        .out_dir(out.join("prost"))
        .bytes(["."])
        .include_file("_prost.rs")
        .compile_fds(descriptors)?;

    let grpc = manifest.join("proto/grpc-testing");
    Builder::new()
        .include_dir(&grpc)
        .out_dir(out.join("grpc"))
        .compile(&[grpc.join("test.proto")])?;
    Ok(())
}
