//! Arbitrary bytes through gRPC's length-prefixed message decoder, split into DATA frames
//! anywhere, plain and under each compression.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rookery_fuzz::grpc_frames(data));
