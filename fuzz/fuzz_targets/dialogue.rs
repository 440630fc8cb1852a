#![no_main]
//! See `mxtriage::fuzzing::dialogue` for what the input is and which invariants are checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxtriage::fuzzing::dialogue(data));
