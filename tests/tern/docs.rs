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

/// The systemd units in contrib/ pass `systemd-analyze verify` (where systemd is installed),
/// with tern and its man pages where the units expect them.
#[test]
fn the_systemd_units_verify() {
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze is not installed: the units are not checked");
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = Env::new();
    let home = env.path("home");
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::os::unix::fs::symlink(TERN, home.join(".cargo/bin/tern")).unwrap();
    let man1 = env.path("man/man1");
    std::fs::create_dir_all(&man1).unwrap();
    for page in std::fs::read_dir(root.join("man")).unwrap() {
        let page = page.unwrap().path();
        std::os::unix::fs::symlink(&page, man1.join(page.file_name().unwrap())).unwrap();
    }
    let runtime = env.path("xdg");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .unwrap();
    let units = env.path("units");
    std::fs::create_dir_all(&units).unwrap();
    for (file, as_name) in [
        ("tern.service", "tern.service"),
        ("tern-run@.service", "tern-run@site.service"),
        ("tern-run@.timer", "tern-run@site.timer"),
    ] {
        std::fs::copy(root.join("contrib").join(file), units.join(as_name)).unwrap();
    }
    let out = std::process::Command::new(analyze)
        .args(["verify", "--user", "tern.service", "tern-run@site.service", "tern-run@site.timer"])
        .current_dir(&units)
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("MANPATH", env.path("man"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
