//! Manifest deltas from a client: decoding and applying never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tern::delta::Delta;
use tern::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Delta::decode(data) {
        let _ = d.apply(Manifest::default(), |_| None);
    }
});
