//! Generates the clients the scaffolding tests call their scaffolded services with, from the
//! second version of each test IDL (the first version's functions and the ones added later):
//! Thrift into `rookery_thrift.rs`, Protobuf into `rookery_protobuf.rs`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rookery_build::thrift::Builder::new()
        .include_dir("tests/idl/v2")
        .compile(&["tests/idl/v2/calc.thrift"])?;
    rookery_build::protobuf::Builder::new()
        .include_dir("tests/idl/proto/v2")
        .compile(&["tests/idl/proto/v2/greeter.proto"])?;
    Ok(())
}
