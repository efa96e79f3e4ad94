//! Arbitrary bytes through every reader of the Thrift compact protocol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rookery_codec::thrift::Protocol;

fuzz_target!(|data: &[u8]| rookery_fuzz::thrift(Protocol::Compact, data));
