//! The source hash cache: whatever its file holds (the body is fuzzed, sealed as tern seals it), a
//! scan succeeds, and lists the same entries as a scan without a cache. Only a forged entry whose
//! stamp matches a file exactly could change a digest, which is the trust the cache is built on.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tern::tree::manifest::Manifest;
use tern::tree::scan::{ScanOptions, scan};
use tern::util::progress::Progress;

/// A small source tree, and its manifest scanned without a cache.
struct Source {
    dir: tempfile::TempDir,
    fresh: Manifest,
}

fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        for (name, data) in [("a", "1"), ("d/b", "two"), ("d/c", ""), ("e/f/g", "deep")] {
            let p = src.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        std::os::unix::fs::symlink("a", src.join("link")).unwrap();
        let fresh = scan(&src, &ScanOptions::default(), &Progress::hidden())
            .unwrap()
            .manifest
            .to_manifest(0);
        Source { dir, fresh }
    })
}

fuzz_target!(|body: &[u8]| {
    let s = source();
    let cache = s.dir.path().join("cache");
    let mut sealed = b"TERNCACH\x04\x00".to_vec();
    sealed.extend(zstd::encode_all(body, 1).unwrap());
    std::fs::write(&cache, &sealed).unwrap();
    let opts = ScanOptions { cache_file: Some(cache), ..Default::default() };
    let scanned = scan(&s.dir.path().join("src"), &opts, &Progress::hidden()).unwrap();
    scanned.manifest.validate().unwrap();
    let shape = |m: &Manifest| -> Vec<_> {
        m.entries.iter().map(|e| (e.path.clone(), e.kind.tag(), e.size())).collect()
    };
    assert_eq!(shape(&scanned.manifest.to_manifest(0)), shape(&s.fresh));
});
