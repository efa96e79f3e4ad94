//! With the `interop` feature, generates the gRPC interop suite's `grpc.testing` protos
//! (`proto/grpc/testing/`) into `OUT_DIR`, against `rookery_codec`'s support module so that
//! this crate needs no dependency on the `rookery` facade.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "interop")]
    if let Err(e) = interop() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "interop")]
fn interop() -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = manifest.join("proto/grpc/testing");
    println!("cargo:rerun-if-changed={}", protos.display());
    rookery_build::protobuf::Builder::new()
        .include_dir(&protos)
        .codegen_path("::rookery_codec::protobuf::codegen")
        .out_dir(out.join("interop"))
        .compile(&[protos.join("test.proto")])?;
    Ok(())
}
