#![no_main]
//! See `mxtriage::fuzzing::safe_text` for what the input is and which invariants are checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxtriage::fuzzing::safe_text(data));
