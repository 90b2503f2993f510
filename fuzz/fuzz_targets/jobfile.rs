//! The job file parser: any text gives jobs or file:line errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tern::schedule::jobfile::parse(std::path::Path::new("/fuzz/tern.toml"), text);
    }
});
