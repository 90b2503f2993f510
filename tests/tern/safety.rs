//! Nothing lost, nobody in: verify, trash, undo and retention; faults injected at the agent, a
//! full disk, sources that change while being sent.

use crate::harness::*;
use crate::sshd::Sshd;
use std::fs;
use std::time::Duration;

#[test]
fn verify_never_reads_through_a_directory_replaced_by_a_symlink_at_any_depth() {
    let env = Env::new();
    env.tree("src").file("a/b/f", "same").file("a/g", "same too");
    env.sync(&[]);
    // `a` moves away and a symlink to it takes its place: every byte below is still the same.
    fs::rename(env.dst().join("a"), env.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(env.path("elsewhere"), env.dst().join("a")).unwrap();
    let done = env.tern(["verify", "dst"]).code(4);
    for line in [
        "kind     a:",
        "missing  a/b: a parent is no longer a directory",
        "missing  a/b/f: a parent is no longer a directory",
        "missing  a/g: a parent is no longer a directory",
    ] {
        assert!(done.stdout().contains(line), "no {line:?}:\n{}", done.stdout());
    }
}

#[test]
fn verify_finds_every_kind_of_difference_and_repair_fixes_them() {
    let env = Env::new();
    env.tree("src").file("a", "one").file("d/b", "two").file("e/f", "three").file("g", "four");
    env.sync(&[]);
    env.tern(["verify", "dst"])
        .ok()
        .stdout_has("0 missing, 0 changed, 0 of another kind, 0 metadata, 0 extra");
    fs::write(env.dst().join("a"), "tampered").unwrap();
    fs::remove_file(env.dst().join("d/b")).unwrap();
    fs::remove_dir_all(env.dst().join("e")).unwrap();
    fs::write(env.dst().join("e"), "a file where a dir was").unwrap();
    fs::remove_file(env.dst().join("g")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", env.dst().join("g")).unwrap();
    fs::write(env.dst().join("extra"), "mine").unwrap();
    let done = env.tern(["verify", "dst"]).code(4);
    for line in ["changed  a:", "missing  d/b:", "kind     e:", "kind     g:", "extra    extra:"] {
        assert!(done.stdout().contains(line), "no {line:?}:\n{}", done.stdout());
    }
    let json = env.tern(["verify", "--format", "json", "dst"]).code(4);
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 7, "{v:#}");
    // with the source: the same findings, and nothing pending between source and manifest
    env.tern(["verify", "--source", "src", "dst"]).code(4).stdout_has("source: 0 changes pending");
    // repair re-sends what is wrong, keeps what it replaces in the trash, leaves the extra file
    env.tern(["verify", "--repair", "src", "dst"]).ok().stdout_has("repaired:");
    fs::remove_file(env.dst().join("extra")).unwrap();
    env.assert_replica();
    let trash = trash_files(&env.dst());
    assert!(
        trash.contains(&"a".to_string())
            && trash.contains(&"e".to_string())
            && trash.contains(&"g".to_string()),
        "{trash:?}"
    );
    env.tern(["verify", "dst"]).ok();
    env.tern(["verify", "--repair", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("--repair needs a source");
}

#[test]
fn undo_puts_back_deleted_and_overwritten_entries_and_is_itself_undoable() {
    let env = Env::new();
    env.tree("src").file("keep", "k").file("edit", "v1").file("gone/deep", "d");
    env.sync(&[]);
    env.tree("src").file("edit", "v2").remove("gone").file("new", "n");
    env.sync(&[]);
    let after = snapshot(&env.dst());
    let list = env.tern(["trash", "list", "--json", "dst"]).ok();
    let runs: serde_json::Value = serde_json::from_str(&list.stdout()).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let done = env.tern(["undo", "dst"]).ok().stdout_has("2 entries put back");
    // the old versions are back; `new`, which the run created, stays (undo restores, it does not delete)
    assert_eq!(fs::read(env.dst().join("edit")).unwrap(), b"v1");
    assert_eq!(fs::read(env.dst().join("gone/deep")).unwrap(), b"d");
    env.tern(["verify", "dst"]).ok();
    // the manifest follows: a plan from the source shows what the undo reverted
    env.tern(["plan", "src", "dst"])
        .ok()
        .stdout_has("> file    edit")
        .stdout_has("- dir     gone/");
    // undoing the undo returns to the synced state
    let run =
        done.stdout().split("trash run ").nth(1).unwrap().split(' ').next().unwrap().to_string();
    env.tern(["undo", "--run", &run, "dst"]).ok();
    let again = snapshot(&env.dst());
    assert_eq!(again.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    assert_eq!(fs::read(env.dst().join("edit")).unwrap(), b"v2");
    assert!(!env.dst().join("gone").exists());
    env.tern(["undo", "--run", "no-such-run", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("no trash run");
}

#[test]
fn trash_retention_and_purge() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    env.sync(&[]);
    env.tree("src").file("a", "2");
    env.sync(&[]);
    std::thread::sleep(Duration::from_millis(1100));
    env.tree("src").file("a", "3");
    // runs older than a second go after this sync commits; this run's own trash stays
    env.sync(&["--keep-trash", "1s"]);
    let runs = fs::read_dir(env.dst().join(".tern/trash"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(runs, 1, "only the newest run's trash is kept");
    assert_eq!(trash_files(&env.dst()), ["a"]);
    env.tern(["trash", "purge", "--older-than", "1h", "dst"])
        .ok()
        .stdout_has("purged 0 trash runs");
    env.tern(["trash", "purge", "dst"]).ok().stdout_has("purged 1 trash runs");
    env.tern(["trash", "list", "dst"]).ok().stdout_has("the trash is empty");
    env.tern(["sync", "--keep-trash", "soon", "src", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("--keep-trash");
}

#[test]
fn maintenance_over_ssh_runs_at_the_agent_and_sftp_says_it_cannot() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    env.tree("src").file("a", "v1");
    sshd.tern(&env, ["sync", "src", &url]).ok();
    env.tree("src").file("a", "v2");
    sshd.tern(&env, ["sync", "src", &url]).ok();
    fs::write(env.dst().join("a"), "damaged").unwrap();
    sshd.tern(&env, ["verify", &url]).code(4).stdout_has("changed  a:");
    sshd.tern(&env, ["verify", "--repair", "src", &url]).ok();
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"v2");
    sshd.tern(&env, ["trash", "list", &url]).ok().stdout_has("ENTRIES");
    sshd.tern(&env, ["undo", &url]).ok().stdout_has("put back");
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"damaged");
    sshd.tern(&env, ["verify", "--remote-tern", "/nonexistent", &url])
        .code(1)
        .stderr_has("falling back to SFTP")
        .stderr_has("tern: error: ")
        .stderr_has("install tern on the destination host");
}

/// A remote tern that aborts at `point` (the agent's own failpoints).
#[cfg(feature = "failpoints")]
fn failing_agent(env: &Env, point: &str) -> String {
    let wrapper = env.path(&format!("tern-fails-{point}"));
    fs::write(&wrapper, format!("#!/bin/sh\nTERN_FAILPOINT={point} exec {TERN} \"$@\"\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    wrapper.to_str().unwrap().to_string()
}

#[cfg(feature = "failpoints")]
#[test]
fn the_agent_killed_at_each_commit_step_leaves_old_or_new_and_the_next_run_completes() {
    for point in ["commit-midway", "before-manifest", "after-manifest", "disk-full"] {
        let env = Env::new();
        let sshd = Sshd::start(&env);
        let url = sshd.url(&env.dst());
        let mut t = env.tree("src");
        for i in 0..30 {
            t = t.file(format!("d{}/f{i}", i % 3), noise(i, 30_000));
        }
        sshd.tern(&env, ["sync", "src", &url]).ok();
        let old = snapshot(&env.dst());
        let manifest = fs::read(env.dst().join(".tern/manifest")).unwrap();
        let mut t = env.tree("src");
        for i in 0..30 {
            t = match i % 3 {
                0 => t.file(format!("d0/f{i}"), noise(500 + i, 30_000)),
                1 => t.remove(format!("d1/f{i}")),
                _ => t.file(format!("new/f{i}"), noise(900 + i, 10_000)),
            };
        }
        let new = snapshot(&env.src());
        let agent = failing_agent(&env, point);
        let done = sshd.tern(&env, ["sync", "--remote-tern", &agent, "src", &url]).output();
        assert!(!done.out.status.success(), "{point}: the sync did not fail\n{}", done.describe());
        if point == "disk-full" {
            let err = done.stderr();
            assert!(err.contains("No space left on device") && err.lines().count() == 1, "{err}");
            // nothing half-written: every file is its old version, the manifest untouched
            assert_eq!(snapshot(&env.dst()), old);
            assert_eq!(fs::read(env.dst().join(".tern/manifest")).unwrap(), manifest);
        }
        for (path, node) in snapshot(&env.dst()) {
            if !matches!(node, Node::Dir { .. }) {
                assert!(
                    old.get(&path) == Some(&node) || new.get(&path) == Some(&node),
                    "{point}: {}",
                    String::from_utf8_lossy(&path)
                );
            }
        }
        sshd.tern(&env, ["sync", "src", &url]).ok();
        env.assert_replica();
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn a_full_disk_locally_is_a_clear_error_and_loses_nothing() {
    let env = Env::new();
    env.tree("src").file("a", "old a").file("b", "old b");
    env.sync(&[]);
    let old = snapshot(&env.dst());
    env.tree("src").file("a", "new a").file("c", "new c");
    env.tern(["sync", "src", "dst"])
        .env("TERN_FAILPOINT", "disk-full")
        .code(1)
        .one_line_error()
        .stderr_has("No space left on device");
    assert_eq!(snapshot(&env.dst()), old);
    env.sync(&[]);
    env.assert_replica();
}

#[cfg(feature = "failpoints")]
#[test]
fn a_source_file_that_changes_while_sent_is_never_replicated_torn() {
    let env = Env::new();
    env.tree("src").file("a", "a1").file("b", noise(1, 100_000)).file("c", "c1");
    env.sync(&[]);
    env.tree("src").file("a", "a2").file("b", noise(2, 100_000)).file("c", "c2");
    std::thread::sleep(Duration::from_millis(60));
    // each file waits 700 ms before it is sent; b changes after the scan, before it is sent
    let src_b = env.src().join("b");
    let lock = env.dst().join(".tern/lock");
    let lock_before = fs::metadata(&lock).unwrap().modified().unwrap();
    let writer = std::thread::spawn(move || {
        // the lock is taken after the scan and the plan, right before staging starts
        while fs::metadata(&lock).unwrap().modified().unwrap() == lock_before {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(200));
        fs::write(&src_b, noise(10, 100_000)).unwrap();
    });
    let done = env
        .tern(["sync", "src", "dst"])
        .env("TERN_FAILPOINT_DELAY", "stage")
        .env("TERN_FAILPOINT_DELAY_MS", "700")
        .code(3);
    writer.join().unwrap();
    done.stderr_has("b: changed while being sent");
    // b keeps its old version (and manifest entry); a and c are new
    assert_eq!(fs::read(env.dst().join("b")).unwrap(), noise(1, 100_000));
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"a2");
    env.tern(["verify", "dst"]).ok();
    env.sync(&[]);
    env.assert_replica();
}

#[test]
fn check_dest_repairs_out_of_band_edits_deletions_and_replacements_in_a_plain_sync() {
    let env = Env::new();
    env.tree("src")
        .file("edited", "original")
        .file("deleted", "d")
        .file("d/replaced", "r")
        .file("same", "s");
    env.sync(&[]);
    std::thread::sleep(Duration::from_millis(20));
    fs::write(env.dst().join("edited"), "changed behind tern's back").unwrap();
    fs::remove_file(env.dst().join("deleted")).unwrap();
    fs::remove_dir_all(env.dst().join("d")).unwrap();
    std::os::unix::fs::symlink("/etc", env.dst().join("d")).unwrap();
    // without the check, the manifest is trusted: nothing to do
    env.sync(&[]).stdout_has("0 created, 0 updated");
    let done = env.sync(&["--check-dest"]);
    done.stderr_has("edited changed at the destination")
        .stderr_has("deleted changed at the destination");
    env.assert_replica();
    assert!(fs::symlink_metadata(env.dst().join("d")).unwrap().is_dir());
    // and the writes never went through the planted symlink
    assert!(!std::path::Path::new("/etc/replaced").exists());
    env.sync(&["--check-dest"])
        .stdout_has("0 created, 0 updated, 0 metadata, 0 replaced, 0 deleted");
}
