#![no_main]
//! See `mxtriage::fuzzing::dns_reply` for what the input is and which invariants are checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mxtriage::fuzzing::dns_reply(data));
