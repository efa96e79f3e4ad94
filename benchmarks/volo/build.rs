//! Generates the volo-thrift Echo service from the IDL shared with rookery's examples.

fn main() {
    let idl = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/idl/echo.thrift"
    );
    println!("cargo:rerun-if-changed={idl}");
    volo_build::Builder::thrift()
        .add_service(idl)
        .write()
        .expect("volo-build failed to generate code from echo.thrift");
}
