//! `tern sync` to a local directory: replication, mirroring, trash, metadata, names, symlinks.

use crate::harness::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn sample(env: &Env) {
    env.tree("src")
        .file("index.html", "<h1>hi</h1>")
        .file("css/site.css", "body{}")
        .file("big.bin", noise(1, 400_000))
        .dir("empty/dir")
        .symlink("css/link", "site.css")
        .symlink("dangling", "/nonexistent/target")
        .mode("index.html", 0o600)
        .mode("empty", 0o750)
        .mtime("css/site.css", 1_600_000_000, 123_456_789);
}

#[test]
fn first_sync_replicates_content_modes_mtimes_links_and_empty_dirs() {
    let env = Env::new();
    sample(&env);
    let done = env.sync(&[]);
    assert!(done.stdout().contains("synced: 8 created"), "{}", done.describe());
    // not a terminal: no progress bar noise, and nothing on stderr for a clean run
    assert_eq!(done.stderr(), "");
    env.assert_replica();
    assert!(env.dst().join(".tern/manifest").is_file());
}

#[test]
fn a_second_run_without_changes_reads_no_file_and_writes_nothing() {
    let env = Env::new();
    sample(&env);
    // let the files' ctimes age past the hash cache's same-tick guard
    std::thread::sleep(std::time::Duration::from_millis(60));
    env.sync(&[]);
    let manifest = env.dst().join(".tern/manifest");
    let before = fs::read(&manifest).unwrap();
    let before_mtime = fs::metadata(&manifest).unwrap().modified().unwrap();
    let done = env.sync(&["-v"]);
    assert!(
        done.stdout()
            .contains("synced: 0 created, 0 updated, 0 metadata, 0 replaced, 0 deleted; 0 B sent")
    );
    done.stderr_has("0 files hashed (0 B), 3 from cache");
    assert_eq!(fs::read(&manifest).unwrap(), before);
    assert_eq!(fs::metadata(&manifest).unwrap().modified().unwrap(), before_mtime);
    // --checksum re-reads everything but still finds nothing to do
    env.sync(&["-v", "--checksum"]).stderr_has("3 files hashed").stdout_has("0 created");
}

#[test]
fn modify_add_delete_rename_and_type_changes() {
    let env = Env::new();
    sample(&env);
    env.tree("src")
        .file("dir-to-file/x", "x")
        .file("file-to-dir", "f")
        .symlink("link-to-file", "t");
    env.sync(&[]);
    env.tree("src")
        .file("index.html", "<h1>changed</h1>")
        .file("new/deep/file.txt", "new")
        .remove("dangling")
        .rename("big.bin", "renamed.bin")
        .remove("dir-to-file")
        .file("dir-to-file", "now a file")
        .remove("file-to-dir")
        .file("file-to-dir/inner", "now a dir")
        .remove("link-to-file")
        .file("link-to-file", "now a file");
    let plan = env.tern(["plan", "src", "dst"]).ok();
    let text = plan.stdout();
    for line in [
        "> file    index.html",
        "+ file    new/deep/file.txt",
        "- symlink dangling",
        "R file    renamed.bin <- big.bin",
        "- file    big.bin",
        "~ file    dir-to-file (10 B, was dir)",
        "~ dir     file-to-dir/ (was file)",
        "~ file    link-to-file (10 B, was symlink)",
    ] {
        assert!(text.contains(line), "plan lacks {line:?}:\n{text}");
    }
    let done = env.sync(&[]);
    // only the 48 new bytes travel; the renamed 400 kB file is rebuilt from the destination's copy
    assert!(done.stdout().contains("; 48 B sent, 390.62 KiB reused"), "{}", done.describe());
    env.assert_replica();
    let trash = trash_files(&env.dst());
    for t in ["big.bin", "dangling", "dir-to-file/x", "file-to-dir", "index.html", "link-to-file"] {
        assert!(trash.iter().any(|x| x == t), "{t} not in trash {trash:?}");
    }
}

#[test]
fn overwritten_and_deleted_files_keep_their_old_content_in_the_trash() {
    let env = Env::new();
    env.tree("src").file("a.txt", "version 1").file("b.txt", "delete me");
    env.sync(&[]);
    env.tree("src").file("a.txt", "version 2").remove("b.txt");
    env.sync(&[]);
    let runs: Vec<_> = fs::read_dir(env.dst().join(".tern/trash"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(fs::read(run.join("a.txt")).unwrap(), b"version 1");
    assert_eq!(fs::read(run.join("b.txt")).unwrap(), b"delete me");
    env.assert_replica();
}

#[test]
fn no_delete_keeps_destination_extras() {
    let env = Env::new();
    env.tree("src").file("keep/me.txt", "1").file("stay.txt", "2");
    env.sync(&[]);
    env.tree("src").remove("keep").remove("stay.txt").file("new.txt", "3");
    env.sync(&["--no-delete"]).stdout_has("1 created").stdout_has("0 deleted");
    assert_eq!(fs::read(env.dst().join("keep/me.txt")).unwrap(), b"1");
    assert_eq!(fs::read(env.dst().join("new.txt")).unwrap(), b"3");
    // the kept entries stay known to tern: a later mirroring sync removes them
    env.sync(&[]).stdout_has("3 deleted");
    env.assert_replica();
}

#[test]
fn metadata_only_changes_send_no_data() {
    let env = Env::new();
    env.tree("src").file("f", "content").dir("d");
    env.sync(&[]);
    env.tree("src").mode("f", 0o640).mtime("f", 1_500_000_000, 42).mode("d", 0o700);
    let plan = env.tern(["plan", "-v", "src", "dst"]).ok();
    assert!(plan.stdout().contains(". file    f (mode 644 -> 640, mtime)"), "{}", plan.describe());
    env.sync(&[]).stdout_has("2 metadata").stdout_has("0 B sent");
    env.assert_replica();
    assert!(trash_files(&env.dst()).is_empty());
}

#[test]
fn odd_and_non_utf8_names_survive() {
    let env = Env::new();
    let long = vec![b'L'; 255];
    env.tree("src")
        .file("with space", "1")
        .file("new\nline", "2")
        .file("-leading-dash", "3")
        .file("caf\u{e9}/\u{1f980}", "4")
        .file(b"bad\xffutf8", "5")
        .file(&long, "6")
        .file("tab\there", "7")
        .file("back\\slash", "8");
    env.sync(&[]);
    env.assert_replica();
    env.tree("src").file(b"bad\xffutf8", "changed");
    let plan = env.tern(["plan", "src", "dst"]).ok();
    assert_eq!(plan.stdout().lines().next().unwrap(), "> file    bad\\xffutf8 (7 B)");
    env.tree("src").file("evil\n+ file    forged", "x");
    let plan = env.tern(["plan", "src", "dst"]).ok();
    assert!(
        plan.stdout().contains("+ file    evil\\n+ file    forged (1 B)"),
        "{}",
        plan.describe()
    );
    // two change lines, the summary and the guards: the newline in the name made no line of its own
    assert_eq!(plan.stdout().lines().count(), 4, "{}", plan.describe());
}

#[test]
fn source_symlinks_are_copied_not_followed() {
    let env = Env::new();
    env.tree("outside").file("secret", "do not copy");
    env.tree("src").symlink("escape", "../outside").file("f", "x");
    env.sync(&[]);
    let md = fs::symlink_metadata(env.dst().join("escape")).unwrap();
    assert!(md.file_type().is_symlink());
    assert!(!env.dst().join("escape").join("secret").exists() || md.file_type().is_symlink());
    env.assert_replica();
}

#[test]
fn a_symlink_planted_at_the_destination_never_redirects_a_write() {
    let env = Env::new();
    env.tree("src").file("d/f", "v1").file("g", "g1");
    env.sync(&[]);
    env.tree("outside").file("f", "outside data").file("g", "outside g");
    // out of band: the directory d and the file g become symlinks to outside the destination
    fs::remove_dir_all(env.dst().join("d")).unwrap();
    std::os::unix::fs::symlink(env.path("outside"), env.dst().join("d")).unwrap();
    fs::remove_file(env.dst().join("g")).unwrap();
    std::os::unix::fs::symlink(env.path("outside/g"), env.dst().join("g")).unwrap();
    env.tree("src").file("d/f", "v2").file("g", "g2");
    env.sync(&[]);
    assert_eq!(fs::read(env.path("outside/f")).unwrap(), b"outside data");
    assert_eq!(fs::read(env.path("outside/g")).unwrap(), b"outside g");
    env.assert_replica();
}

#[test]
fn bytes_changed_out_of_band_are_detected_when_reused_and_repaired() {
    let env = Env::new();
    let big = noise(7, 500_000);
    env.tree("src").file("big", &big);
    env.sync(&[]);
    // corrupt the destination copy behind tern's back (same size, so nothing looks different)
    let mut damaged = big.clone();
    damaged[250_000..250_100].fill(0);
    fs::write(env.dst().join("big"), &damaged).unwrap();
    // a small edit at the end: the plan reuses the (now damaged) middle chunks
    let mut edited = big.clone();
    edited.extend_from_slice(b"appended");
    env.tree("src").file("big", &edited).file("copy", &big);
    let done = env.sync(&[]);
    assert!(done.stdout().contains("2 repaired"), "{}", done.describe());
    env.assert_replica();
}

/// A reused range of several 1 MiB blocks is checked block by block while the blocks are copied:
/// damage in a middle block, or a file cut short before a later one, still fails the copy.
#[test]
fn damage_deep_inside_a_large_reused_range_is_found_and_repaired() {
    let env = Env::new();
    let big = noise(21, 4_500_000);
    let other = noise(22, 3_000_000);
    env.tree("src").file("big", &big).file("other", &other);
    env.sync(&[]);
    // behind tern's back: one byte in big's fourth MiB, and other cut short in its third
    let mut damaged = big.clone();
    damaged[3_300_000] ^= 0xff;
    fs::write(env.dst().join("big"), &damaged).unwrap();
    fs::write(env.dst().join("other"), &other[..2_200_000]).unwrap();
    // bytes appended to both: each is rebuilt from its own old chunks
    let (big2, other2) = ([&big[..], b"more"].concat(), [&other[..], b"more"].concat());
    env.tree("src").file("big", &big2).file("other", &other2);
    let done = env.sync(&[]);
    assert!(done.stdout().contains("2 repaired"), "{}", done.describe());
    env.assert_replica();
    assert_eq!(fs::read(env.dst().join("big")).unwrap(), big2);
}

#[test]
fn read_only_directories_are_replicated_and_still_updatable() {
    let env = Env::new();
    env.tree("src").file("ro/f", "1").mode("ro", 0o555);
    env.sync(&[]);
    env.assert_replica();
    fs::set_permissions(env.src().join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    env.tree("src").file("ro/g", "2").mode("ro", 0o555);
    env.sync(&[]);
    env.assert_replica();
}

#[test]
fn dry_run_and_plan_change_nothing() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    env.tern(["sync", "--dry-run", "src", "dst"]).ok().stdout_has("+ file    a (1 B)");
    assert!(!env.dst().exists());
    env.sync(&[]);
    env.tree("src").file("a", "2").file("b", "3");
    let manifest = fs::read(env.dst().join(".tern/manifest")).unwrap();
    env.tern(["plan", "src", "dst"]).ok().stdout_has("> file    a");
    env.tern(["sync", "-n", "--detailed-exitcode", "src", "dst"]).code(2);
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).code(2);
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"1");
    assert!(!env.dst().join("b").exists());
    assert_eq!(fs::read(env.dst().join(".tern/manifest")).unwrap(), manifest);
    env.sync(&[]);
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).code(0);
}

#[test]
fn files_the_destination_had_before_tern_are_kept_or_trashed_never_lost() {
    let env = Env::new();
    env.tree("dst").file("theirs.txt", "not tern's").file("clash.txt", "old clash");
    env.tree("src").file("clash.txt", "new clash");
    env.sync(&[]);
    assert_eq!(fs::read(env.dst().join("theirs.txt")).unwrap(), b"not tern's");
    assert_eq!(fs::read(env.dst().join("clash.txt")).unwrap(), b"new clash");
    assert_eq!(trash_files(&env.dst()), ["clash.txt"]);
}

#[test]
fn quiet_prints_nothing() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    let done = env.tern(["sync", "-q", "src", "dst"]).ok();
    assert_eq!(done.stdout(), "");
    assert_eq!(done.stderr(), "");
    env.assert_replica();
}

#[test]
fn a_damaged_destination_file_is_repaired_when_another_file_reuses_its_bytes() {
    let env = Env::new();
    let content = noise(9, 300_000);
    env.tree("src").file("original", &content);
    env.sync(&[]);
    // damaged behind tern's back; its source copy does not change
    let mut damaged = content.clone();
    damaged[100_000] ^= 0xff;
    fs::write(env.dst().join("original"), &damaged).unwrap();
    // a new copy makes tern reuse (and so verify) the damaged file's bytes
    env.tree("src").file("copy", &content);
    let done = env.sync(&[]);
    assert!(done.stdout().contains("2 repaired"), "{}", done.describe());
    assert_eq!(fs::read(env.dst().join("original")).unwrap(), content);
    assert_eq!(fs::read(env.dst().join("copy")).unwrap(), content);
    // the damaged version is kept in the trash, like anything tern overwrites
    assert_eq!(trash_files(&env.dst()), ["original"]);
}

#[test]
fn excluded_entries_are_not_replicated_and_not_deleted() {
    let env = Env::new();
    env.tree("src")
        .file("keep.txt", "k")
        .file("junk.tmp", "j")
        .file("sub/cache/blob", "c")
        .file("sub/x.tmp", "x");
    let args = ["sync", "--exclude", "*.tmp", "--exclude", "cache/", "src", "dst"];
    env.tern(args).ok().stdout_has("2 created");
    assert!(env.dst().join("keep.txt").exists());
    assert!(!env.dst().join("junk.tmp").exists());
    assert!(!env.dst().join("sub/cache").exists());
    assert!(!env.dst().join("sub/x.tmp").exists());
    // excluded entries that live at the destination are left alone
    env.tree("dst").file("local.tmp", "the replica's own").file("sub/cache/local", "own cache");
    env.tree("src").remove("keep.txt");
    env.tern(args).ok().stdout_has("1 deleted");
    assert_eq!(fs::read(env.dst().join("local.tmp")).unwrap(), b"the replica's own");
    assert_eq!(fs::read(env.dst().join("sub/cache/local")).unwrap(), b"own cache");
    // the same patterns from a file, with comments and blank lines
    fs::write(env.path("excludes"), "# build junk\n*.tmp\n\ncache/\n").unwrap();
    env.tern(["plan", "--detailed-exitcode", "--exclude-from", "excludes", "src", "dst"]).ok();
    env.tern(["plan", "--exclude-from", "missing-file", "src", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("cannot read exclude file");
    env.tern(["sync", "--exclude", "{a,b", "src", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("exclude pattern");
}

#[test]
fn very_deep_trees_and_long_names_replicate() {
    let env = Env::new();
    // 200 levels (a 2,000-byte path) and a 255-byte file name at the bottom
    let deep: String = (0..200).map(|i| format!("d{i:03}/")).collect();
    let name = "n".repeat(255);
    env.tree("src").file(format!("{deep}{name}"), "bottom").file("top", "t");
    env.sync(&[]);
    env.assert_replica();
    env.tree("src").remove("d000");
    env.sync(&[]).stdout_has("201 deleted");
    env.assert_replica();
}

#[test]
fn owners_and_groups_are_replicated_by_a_root_destination() {
    use std::os::unix::fs::{MetadataExt, lchown};
    let env = Env::new();
    env.tree("src").file("f", "x").dir("d").symlink("l", "f");
    let root = fs::metadata("/proc/self").unwrap().uid() == 0;
    if !root {
        // Only root can give files away; a non-root destination keeps its own user, as rsync does.
        env.sync(&[]);
        assert_eq!(
            fs::metadata(env.dst().join("f")).unwrap().uid(),
            fs::metadata("/proc/self").unwrap().uid()
        );
        return;
    }
    for p in ["f", "d", "l"] {
        lchown(env.src().join(p), Some(65534), Some(65533)).unwrap();
    }
    env.sync(&[]);
    for p in ["f", "d", "l"] {
        let md = fs::symlink_metadata(env.dst().join(p)).unwrap();
        assert_eq!((md.uid(), md.gid()), (65534, 65533), "{p}");
    }
    // an owner change alone is a metadata change, shown and applied
    lchown(env.src().join("f"), Some(0), Some(0)).unwrap();
    env.tern(["plan", "-v", "src", "dst"])
        .ok()
        .stdout_has(". file    f (owner 65534:65533 -> 0:0)");
    env.sync(&[]).stdout_has("1 metadata").stdout_has("0 B sent");
    assert_eq!(fs::metadata(env.dst().join("f")).unwrap().uid(), 0);
    env.tern(["verify", "dst"]).ok();
    // out of band, the owner is changed back: verify notices
    lchown(env.dst().join("f"), Some(1), Some(1)).unwrap();
    env.tern(["verify", "dst"]).code(4).stdout_has("metadata f:");
}

#[test]
fn more_files_than_one_staging_directory_holds_are_staged_and_cleaned_up() {
    let env = Env::new();
    // Staged files go 256 to a directory: 700 files need three.
    env.tree("src").files(700, 3, |i| format!("file {i}"));
    env.sync(&[]);
    env.assert_replica();
    let mut t = env.tree("src");
    for i in (0..700).step_by(2) {
        t = t.file(spread(i, 3), format!("file {i}, changed"));
    }
    let done = env.sync(&[]);
    assert!(done.stdout().contains("350 updated"), "{}", done.describe());
    env.assert_replica();
    let staging = env.dst().join(".tern/staging");
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0, "staging is emptied after a commit");
}

#[test]
fn the_staging_directory_spreads_new_files_over_the_file_system() {
    use rustix::fs::{IFlags, ioctl_getflags, ioctl_setflags};
    let env = Env::new();
    // Only where the file system has the flag at all (ext2/3/4): probe it on a directory of our own.
    let probe = env.path("probe");
    fs::create_dir(&probe).unwrap();
    let dir = fs::File::open(&probe).unwrap();
    let supported = ioctl_getflags(&dir)
        .and_then(|f| ioctl_setflags(&dir, f | IFlags::TOPDIR))
        .and_then(|()| ioctl_getflags(&dir))
        .is_ok_and(|f| f.contains(IFlags::TOPDIR));
    if !supported {
        eprintln!("skipped: this file system has no top-directory flag");
        return;
    }
    env.tree("src").file("a", "1");
    env.sync(&[]);
    let staging = fs::File::open(env.dst().join(".tern/staging")).unwrap();
    assert!(ioctl_getflags(&staging).unwrap().contains(IFlags::TOPDIR));
}

/// The hash cache helps, it is never a condition: where it cannot be written (its directory is a
/// file) the sync completes with a warning; a damaged one is ignored with a warning and
/// rebuilt; and it is one file, with nothing left beside it.
#[test]
fn a_hash_cache_that_cannot_be_written_or_read_is_a_warning() {
    let env = Env::new();
    env.tree("src").file("a", "1").file("d/b", "2").file("d/c", "3");
    fs::write(env.path("cache"), b"not a directory").unwrap();
    env.sync(&[]).stderr_has("warning: cannot write hash cache");
    env.assert_replica();

    fs::remove_file(env.path("cache")).unwrap();
    env.tree("src").file("a", "changed");
    env.sync(&[]);
    env.assert_replica();
    let listing = || -> Vec<String> {
        fs::read_dir(env.path("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let names = listing();
    assert!(names.len() == 1 && names[0].starts_with("scan-"), "{names:?}");
    let cache = env.path("cache").join(&names[0]);
    assert!(fs::read(&cache).unwrap().starts_with(b"TERNCACH"));

    fs::write(&cache, b"TERNCACH\x05\x00not zstd").unwrap();
    env.tree("src").file("d/b", "changed too");
    env.sync(&[]).stderr_has("warning: ignoring hash cache");
    env.assert_replica();
    assert_eq!(listing(), names);
    let rebuilt = fs::read(&cache).unwrap();
    assert!(rebuilt.starts_with(b"TERNCACH") && rebuilt.len() > 20, "{rebuilt:?}");
    let quiet = env.sync(&[]);
    assert!(!quiet.stderr().contains("hash cache"), "{}", quiet.describe());
}

/// A tree whose entries tern keeps in temporary files (more than 16,000): synced, then re-synced
/// after changes with `TMPDIR` pointing nowhere, where both trees' entries stay in memory, then
/// changed through a saved plan.
#[test]
fn a_large_tree_syncs_whether_or_not_its_entries_can_go_to_tmpdir() {
    let env = Env::new();
    env.tree("src").files(17_000, 40, |i| format!("content {i}"));
    env.sync(&[]).stdout_has("17040 created");
    env.assert_replica();
    env.tree("src").file("d00/f00000", "changed").file("d07/new", "new");
    fs::remove_file(env.src().join("d01/f00001")).unwrap();
    env.tern(["sync", "src", "dst"])
        .env("TMPDIR", env.path("nowhere"))
        .ok()
        .stdout_has("1 created, 1 updated");
    env.assert_replica();
    // A saved plan of it: its source entries are written and read back as they go.
    env.tree("src").file("d39/f16999", "planned");
    let plan_file = env.path("large.plan");
    env.tern(["plan", "--out", plan_file.to_str().unwrap(), "src", "dst"]).ok();
    env.tern(["apply", plan_file.to_str().unwrap()]).ok().stdout_has("0 created, 1 updated");
    env.assert_replica();
}

/// `--progress` prints a line per phase to a log (stderr not a terminal): files and bytes of the
/// scan, the files sent out of those to send, the changes committed; `--quiet` wins over it, and
/// without it a log gets no progress at all.
#[test]
fn progress_lines_per_phase_in_a_log() {
    let env = Env::new();
    env.tree("src").file("a", "one").file("d/b", "two").file("d/c", "x".repeat(5000));
    let done = env.tern(["sync", "--progress", "src", "dst"]).ok();
    let err = done.stderr();
    let line = |phase: &str| {
        err.lines()
            .find(|l| l.trim_start().starts_with(phase))
            .unwrap_or_else(|| panic!("no {phase} line\n{}", done.describe()))
            .to_string()
    };
    assert!(line("scanning").contains("3 files"), "{err}");
    assert!(line("sending").contains("3/3 files"), "{err}");
    assert!(line("sending").contains("4.89 KiB/4.89 KiB"), "{err}");
    assert!(line("committing").contains("4 changes"), "{err}");
    let order: Vec<usize> = ["scanning", "sending", "committing"]
        .iter()
        .map(|p| err.find(&format!("{p} ")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "phases out of order\n{err}");
    assert!(!err.contains('\x1b'), "a log gets no escape codes\n{err}");

    env.tree("src").file("a", "changed");
    let quiet = env.tern(["sync", "--progress", "--quiet", "src", "dst"]).ok();
    assert_eq!(quiet.stderr(), "", "{}", quiet.describe());
    env.tree("src").file("a", "again");
    let plain = env.tern(["sync", "src", "dst"]).ok();
    assert!(!plain.stderr().contains("scanning"), "{}", plain.describe());
    env.assert_replica();
}

/// On a terminal the lines are drawn in colour, and `NO_COLOR` turns the colour off.
#[test]
fn progress_on_a_terminal_honours_no_color() {
    let env = Env::new();
    env.tree("src").file("a", "one").file("b", "two");
    let on_tty = |dst: &str, no_color: bool| {
        // util-linux's `script` gives the command a pseudo-terminal.
        let cmd = format!("{TERN} sync src {dst}");
        let mut run = env.tern(["unused"]);
        run.cmd = std::process::Command::new("script");
        run.cmd.args(["-q", "-e", "-c", &cmd, "/dev/null"]).current_dir(env.path(""));
        run.cmd.env("TERN_CACHE_DIR", env.path("cache")).env_remove("NO_COLOR");
        if no_color {
            run.cmd.env("NO_COLOR", "1");
        }
        run.ok().stdout()
    };
    let coloured = on_tty("dst", false);
    assert!(coloured.contains("sending"), "{coloured:?}");
    assert!(coloured.contains("\x1b[1m"), "no bold prefix on a terminal: {coloured:?}");
    let plain = on_tty("dst2", true);
    assert!(plain.contains("sending"), "{plain:?}");
    assert!(!plain.contains("\x1b[1m") && !plain.contains("\x1b[36"), "NO_COLOR: {plain:?}");
    assert_same_tree(&env.src(), &env.path("dst2"));
}
