//! How the binary is linked (the build script's choices).

use std::process::Command;

/// The build script links `tern` with packed relative relocations when the toolchain can (a
/// smaller resident size for every process); when it says so, the binary has them.
#[test]
fn the_binary_packs_its_relocations_when_the_build_script_says_so() {
    let packed = env!("TERN_PACKED_RELOCS") == "1";
    let out = Command::new("readelf")
        .args(["--dynamic", env!("CARGO_BIN_EXE_tern")])
        .output()
        .expect("readelf (binutils, which links Rust programs here) runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dynamic = String::from_utf8_lossy(&out.stdout);
    assert_eq!(dynamic.contains("(RELR)"), packed, "{dynamic}");
    // What stays in the unpacked table is a few hundred symbol references, not the tens of
    // thousands of relative relocations (900 KiB) a position-independent tern has.
    if packed {
        let unpacked: u64 = dynamic
            .lines()
            .find(|l| l.contains("(RELASZ)"))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(unpacked < 100_000, "{unpacked} bytes of unpacked relocations:\n{dynamic}");
    }
}
