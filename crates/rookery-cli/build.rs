//! Generates the client the scaffolding test calls its scaffolded service with, from the
//! second version of the test's IDL (the first version's functions and the ones added later).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rookery_build::thrift::Builder::new()
        .include_dir("tests/idl/v2")
        .compile(&["tests/idl/v2/calc.thrift"])?;
    Ok(())
}
