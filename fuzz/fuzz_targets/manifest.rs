//! The manifest decoder: any bytes give an error or a manifest that validates and re-encodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tern::tree::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode_body(data) {
        assert!(m.validate().is_ok());
        assert_eq!(Manifest::decode_body(&m.encode_body()).as_ref(), Ok(&m));
    }
    let _ = Manifest::decode(data);
});
