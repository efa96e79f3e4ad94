//! Generates rookery's Protobuf code for the gRPC echo (`idl/echo.proto`, the proto tonic's
//! peer is generated from) into `OUT_DIR`, against `rookery_codec`'s support module, as
//! `rookery-grpc` does for its interop protos.

use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let idl = manifest.join("idl");
    let proto = idl.join("echo.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    rookery_build::protobuf::Builder::new()
        .include_dir(&idl)
        .codegen_path("::rookery_codec::protobuf::codegen")
        .out_dir(out.join("grpc"))
        .compile(&[proto])?;
    Ok(())
}
