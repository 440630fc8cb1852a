#![no_main]
//! See `mxtriage::fuzzing::mta_sts` for what the input is and which invariants are checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxtriage::fuzzing::mta_sts(data));
