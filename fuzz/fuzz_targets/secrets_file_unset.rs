//! See `dovetail_fuzz::secrets_file_unset` (fuzz/src/lib.rs) for what this target checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dovetail_fuzz::secrets_file_unset(data));
