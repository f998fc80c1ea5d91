#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rmicro::fuzzing::jsonrpc(data));
