//! Generates Apache Thrift's `ThriftTest.thrift` (a copy of Thrift 0.17's `test/ThriftTest.thrift`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rookery_build::thrift::Builder::new()
        .include_dir("idl")
        .compile(&["idl/ThriftTest.thrift"])?;
    Ok(())
}
