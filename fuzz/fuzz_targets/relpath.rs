//! The path type: whatever it accepts stays below any root it is joined to.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tern::tree::path::RelPath;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = RelPath::new(data.to_vec()) {
        let root = std::path::Path::new("/dest/root");
        assert!(root.join(p.as_path()).starts_with(root));
        assert!(p.components().all(|c| !c.is_empty() && c != b"." && c != b".."));
        let _ = p.display().to_string();
    }
});
