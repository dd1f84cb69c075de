//! libFuzzer entry point of the `records` target (see the ctxvault-fuzz crate).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ctxvault_fuzz_libfuzzer::run("records", data);
});
