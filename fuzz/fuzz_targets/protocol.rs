//! Protocol frames from a hostile peer: never a panic, and what decodes re-encodes the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tern::remote::{Request, Response, read_frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Request::decode(data) {
        assert_eq!(Request::decode(&r.encode()).as_ref(), Ok(&r));
    }
    if let Ok(r) = Response::decode(data) {
        assert_eq!(Response::decode(&r.encode()).as_ref(), Ok(&r));
    }
    let mut framed = data;
    while let Ok(Some(_)) = read_frame(&mut framed) {}
});
