//! See `dovetail_fuzz::emit` (fuzz/src/lib.rs) for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dovetail_fuzz::emit(data));
