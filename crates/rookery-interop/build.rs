//! Generates Apache Thrift's `ThriftTest.thrift` (a copy of Thrift 0.17's `test/ThriftTest.thrift`)
//! and the echo service rookery and Kitex call each other with (`interop/kitex/idl`: Thrift
//! and Protobuf).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kitex_idl = "../../interop/kitex/idl";
    rookery_build::thrift::Builder::new()
        .include_dir("idl")
        .compile(&["idl/ThriftTest.thrift", &format!("{kitex_idl}/echo.thrift")])?;
    rookery_build::protobuf::Builder::new()
        .include_dir(kitex_idl)
        .compile(&[format!("{kitex_idl}/echo.proto")])?;
    Ok(())
}
