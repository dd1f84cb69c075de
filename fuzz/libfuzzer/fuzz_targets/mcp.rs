//! libFuzzer entry point of the `mcp` target (see the ctxvault-fuzz crate).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ctxvault_fuzz_libfuzzer::run("mcp", data);
});
