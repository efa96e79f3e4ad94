//! With the `interop` feature, generates the gRPC interop suite's `grpc.testing` protos
//! (`proto/grpc/testing/`) into `OUT_DIR`, against `rookery_codec`'s support module so that
//! this crate needs no dependency on the `rookery` facade. With `health` and `reflection`,
//! generates the standard services' protos (`proto/grpc/health/`, `proto/grpc/reflection/`)
//! the same way.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "interop")]
    if let Err(e) = interop() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    #[cfg(feature = "health")]
    if let Err(e) = standard("health", &["grpc/health/v1/health.proto"]) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    #[cfg(feature = "reflection")]
    if let Err(e) = standard(
        "reflection",
        &[
            "grpc/reflection/v1/reflection.proto",
            "grpc/reflection/v1alpha/reflection.proto",
        ],
    ) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

/// Generates `files` (relative to `proto/`) into `OUT_DIR/{name}`, with their descriptors.
#[cfg(any(feature = "health", feature = "reflection"))]
fn standard(name: &str, files: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    use std::path::PathBuf;

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = manifest.join("proto");
    let files: Vec<PathBuf> = files.iter().map(|f| protos.join(f)).collect();
    rookery_build::protobuf::Builder::new()
        .include_dir(&protos)
        .codegen_path("::rookery_codec::protobuf::codegen")
        .out_dir(out.join(name))
        .compile(&files)?;
    Ok(())
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
