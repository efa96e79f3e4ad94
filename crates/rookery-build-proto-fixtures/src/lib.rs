//! Test fixtures of rookery-build's Protobuf generator: for the same `.proto` files
//! (`crates/rookery-build/tests/idl/proto/`), the code rookery generates ([`rookery_gen`]) and
//! the code prost generates ([`prost_gen`]), so that tests and benchmarks compare the two; and
//! the gRPC interop suite's `grpc.testing` protos ([`grpc_gen`]); and a project as
//! `rookery new` scaffolds it from `.proto` files ([`scaffold`]).

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

/// A project as `rookery new` scaffolds it from `.proto` files (`services.proto`,
/// `scaffold/clock.proto`, `scaffold/bare.proto`): the generated modules where the project
/// includes them, and the handler module the build script writes from
/// `rookery_build::protobuf::stubs`, which compiles only if every stub has the signature of
/// the generated trait.
pub mod scaffold {
    /// The generated modules. (The root file allows what generated code needs on the module
    /// of each package, but the items of a file without a package are at its root.)
    #[allow(missing_docs)]
    pub mod idl {
        include!(concat!(env!("OUT_DIR"), "/scaffold/rookery_protobuf.rs"));
    }

    /// The handler: a stub per rpc, answering `UNIMPLEMENTED`.
    pub mod handler {
        include!(concat!(env!("OUT_DIR"), "/scaffold/handler.rs"));
    }

    /// The handler's source, for rookery-build's golden test.
    pub const HANDLER_SOURCE: &str = include_str!(concat!(env!("OUT_DIR"), "/scaffold/handler.rs"));
}
