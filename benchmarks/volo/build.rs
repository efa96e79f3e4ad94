//! Generates the volo-thrift Echo service from the IDL shared with rookery's examples, and
//! the codec benchmark's messages twice: with pilota (Volo's generator) and with rookery's.

fn main() {
    let idl = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/idl/echo.thrift"
    );
    let codec = concat!(env!("CARGO_MANIFEST_DIR"), "/../idl/codec.thrift");
    println!("cargo:rerun-if-changed={idl}");
    println!("cargo:rerun-if-changed={codec}");
    volo_build::Builder::thrift()
        .add_service(idl)
        .add_service(codec)
        .write()
        .expect("volo-build failed to generate code");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("rookery");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/rookery");
    rookery_build::thrift::Builder::new()
        .out_dir(out)
        .compile(&[codec])
        .expect("rookery-build failed to generate code from codec.thrift");
}
