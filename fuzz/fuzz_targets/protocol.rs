//! Protocol frames from a hostile peer: never a panic, what decodes re-encodes the same, and the
//! agent's whole-frame decoder agrees with the slice decoder.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tern::remote::protocol::{Request, Response, read_frame};

fuzz_target!(|data: &[u8]| {
    let whole = Request::decode(data);
    // The agent's decoder of whole frames agrees with the slice decoder on every input.
    assert_eq!(Request::decode_frame(data.to_vec()).ok(), whole.clone().ok());
    if let Ok(r) = whole {
        assert_eq!(Request::decode(&r.encode()).as_ref(), Ok(&r));
    }
    if let Ok(r) = Response::decode(data) {
        assert_eq!(Response::decode(&r.encode()).as_ref(), Ok(&r));
    }
    let mut framed = data;
    while let Ok(Some(_)) = read_frame(&mut framed) {}
});
