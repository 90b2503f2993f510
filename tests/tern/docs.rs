//! The committed man pages and completion scripts match what the CLI generates.

use crate::harness::*;

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (rel, content) in tern::cli::generated_docs().unwrap() {
        if std::fs::read(root.join(&rel)).ok().as_deref() != Some(&content[..]) {
            stale.push(rel.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated docs: {stale:?}; regenerate them with `cargo run -- generate-docs .`"
    );
}

#[test]
fn completions_command_prints_a_script() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let done = env.tern(["completions", shell]).ok();
        assert!(done.stdout().contains("sync"), "{shell}: {}", done.describe());
    }
    env.tern(["completions", "tcsh"]).code(64);
}

#[test]
fn man_page_lists_exit_codes_and_subcommands() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/tern.1")).unwrap();
    for needle in ["Exit status", "64", "tern\\-sync(1)", "tern\\-plan(1)"] {
        assert!(page.contains(needle), "man/tern.1 lacks {needle}");
    }
}
