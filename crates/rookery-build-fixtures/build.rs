//! Generates the code of the test IDL files.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rookery_build::thrift::Builder::new()
        .include_dir("idl")
        .compile(&[
            "idl/all_types.thrift",
            "idl/services.thrift",
            // Apache Thrift's cross-language test service: the interop suite's own copy.
            "../rookery-interop/idl/ThriftTest.thrift",
        ])?;
    Ok(())
}
