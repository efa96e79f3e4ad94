//! Arbitrary bytes through gRPC's header parsing: `grpc-timeout`, percent-decoded
//! `grpc-message`, custom and `-bin` metadata, and the status.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rookery_fuzz::grpc_metadata(data));
