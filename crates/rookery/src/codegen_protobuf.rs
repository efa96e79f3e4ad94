//! What code generated from `.proto` files uses, re-exported into [`codegen`](crate::codegen)
//! (feature `protobuf`). Not a stable API: generated code and this module change together.
//!
//! The items live in `rookery_codec::protobuf` so that the gRPC transport (a crate below this
//! facade) can implement the same contract: [`ProtoRequest`], [`ProtoStreamRequest`],
//! [`Streaming`] and the method descriptors, documented in
//! [`rookery_codec::protobuf::rpc`].

pub use rookery_codec::protobuf::codegen::*;
