//! `starling::fuzzing::record_decode` under libFuzzer (see src/fuzzing.rs for the input format).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| starling::fuzzing::record_decode(data));
