//! Test fixtures of rookery-build's Protobuf generator: for the same `.proto` files
//! (`crates/rookery-build/tests/idl/proto/`), the code rookery generates ([`rookery_gen`]) and
//! the code prost generates ([`prost_gen`]), so that tests and benchmarks compare the two; and
//! the gRPC interop suite's `grpc.testing` protos ([`grpc_gen`]).

/// What rookery-build generates.
pub mod rookery_gen {
    include!(concat!(env!("OUT_DIR"), "/rookery/rookery_protobuf.rs"));
}

/// What prost-build generates for the same descriptors.
#[allow(
    missing_docs,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]
pub mod prost_gen {
    include!(concat!(env!("OUT_DIR"), "/prost/_prost.rs"));
}

/// What rookery-build generates for the gRPC interop suite's `test.proto`, `messages.proto`
/// and `empty.proto` (copied from grpc/grpc, Apache-2.0, headers kept).
pub mod grpc_gen {
    include!(concat!(env!("OUT_DIR"), "/grpc/rookery_protobuf.rs"));
}
