#![no_main]
//! See `mxtriage::fuzzing::session` for what the input is and which invariants are checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxtriage::fuzzing::session(data));
