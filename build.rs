//! Link `tern` with packed relative relocations (`DT_RELR`) where the toolchain and the C
//! library support them.
//!
//! A position-independent executable carries one 24-byte record for every pointer the loader
//! must adjust at start-up: 37,000 of them, 900 KiB that every `tern` process (the client and
//! the agent) reads and keeps resident. Packed, they take 17 KiB. GNU ld 2.38 and glibc 2.36
//! (Debian 12) support it; the probe below links and runs a small program with the option, and
//! `tern` is linked with it only when that works, so an older toolchain builds as before.

use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TERN_NO_RELR");
    let packed = std::env::var_os("TERN_NO_RELR").is_none() && probe();
    if packed {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    }
    // For the test that checks the option reached the link.
    println!("cargo:rustc-env=TERN_PACKED_RELOCS={}", u8::from(packed));
}

/// Whether a program linked with [`FLAG`] builds and runs here (only for a native Linux build:
/// a cross build cannot run the probe, and links without the option).
fn probe() -> bool {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env("CARGO_CFG_TARGET_OS") != "linux" || env("CARGO_CFG_TARGET_ENV") != "gnu" {
        return false;
    }
    if env("TARGET") != env("HOST") {
        return false;
    }
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else { return false };
    let source = out.join("relr-probe.c");
    let program = out.join("relr-probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_owned());
    let built = Command::new(linker)
        .args(["-pie", "-fPIE", FLAG, "-o"])
        .arg(&program)
        .arg(&source)
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty());
    built && Command::new(&program).status().is_ok_and(|s| s.success())
}
