//! Manifest deltas from a client: decoding and applying never panic, and a delta fed in parts
//! (as the agent receives it) decodes exactly as it does whole.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tern::delta::{Delta, DeltaDecoder};
use tern::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let whole = Delta::decode(data);
    // The first byte picks where the parts are cut.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut d = DeltaDecoder::default();
    let fed = data.chunks(step).try_for_each(|p| d.feed(p)).and_then(|()| d.finish());
    assert_eq!(whole.is_ok(), fed.is_ok());
    if let (Ok(a), Ok(b)) = (&whole, &fed) {
        assert_eq!(a, b);
    }
    if let Ok(d) = whole {
        let _ = d.apply(Manifest::default(), |_| None);
    }
});
