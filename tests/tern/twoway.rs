//! Two-way sync (`--two-way A B`): every case of Unison's and Syncthing's documented behaviour,
//! locally and with B over the real sshd, each asserting both trees after the run; conflicts,
//! first runs, the plan and its exit codes, refused options, and a random property test.

use crate::harness::*;
use crate::sshd::Sshd;
use std::fs;
use std::path::Path;

/// Files named as conflict copies below `root`, sorted, with their contents.
fn copies(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = snapshot(root)
        .into_iter()
        .filter_map(|(k, n)| {
            let name = String::from_utf8_lossy(&k).into_owned();
            match n {
                Node::File { content, .. } if name.contains(".tern-conflict-") => {
                    Some((name, content))
                }
                _ => None,
            }
        })
        .collect();
    out.sort();
    out
}

/// One case: a tree both replicas hold after a first two-way sync, the edits each side makes,
/// and what both must hold after the next one.
struct Case {
    name: &'static str,
    base: &'static [(&'static str, &'static str)],
    edit_a: fn(Tree),
    edit_b: fn(Tree),
    /// The exit status: 0, or 5 for a conflict.
    code: i32,
    /// Paths and the content both replicas must hold there (`None`: absent).
    expect: &'static [(&'static str, Option<&'static str>)],
    /// Contents of the conflict copies both must hold.
    copies: &'static [&'static str],
}

const T_A: i64 = 2_000_000_000;
const T_B: i64 = 2_000_000_100;

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "create on one side",
            base: &[("keep", "k")],
            edit_a: |t| drop(t.file("new", "from a")),
            edit_b: |_| {},
            code: 0,
            expect: &[("new", Some("from a")), ("keep", Some("k"))],
            copies: &[],
        },
        Case {
            name: "create on both sides, same content",
            base: &[],
            edit_a: |t| drop(t.file("same", "x").mtime("same", T_A, 0)),
            edit_b: |t| drop(t.file("same", "x").mtime("same", T_B, 0)),
            code: 0,
            expect: &[("same", Some("x"))],
            copies: &[],
        },
        Case {
            name: "mode changed on both sides, differently",
            base: &[("m", "m")],
            edit_a: |t| drop(t.mode("m", 0o600).mtime("m", T_A, 0)),
            edit_b: |t| drop(t.mode("m", 0o640).mtime("m", T_B, 0)),
            code: 5,
            expect: &[("m", Some("m"))],
            copies: &[],
        },
        Case {
            name: "create on both sides, different content",
            base: &[],
            edit_a: |t| drop(t.file("n.txt", "from a").mtime("n.txt", T_A, 0)),
            edit_b: |t| drop(t.file("n.txt", "from b").mtime("n.txt", T_B, 0)),
            code: 5,
            expect: &[("n.txt", Some("from b"))],
            copies: &["from a"],
        },
        Case {
            name: "update on one side",
            base: &[("f", "old")],
            edit_a: |_| {},
            edit_b: |t| drop(t.file("f", "new from b")),
            code: 0,
            expect: &[("f", Some("new from b"))],
            copies: &[],
        },
        Case {
            name: "update on both sides, differently",
            base: &[("doc.txt", "old")],
            edit_a: |t| drop(t.file("doc.txt", "a's edit, newer").mtime("doc.txt", T_B, 0)),
            edit_b: |t| drop(t.file("doc.txt", "b's edit").mtime("doc.txt", T_A, 0)),
            code: 5,
            expect: &[("doc.txt", Some("a's edit, newer"))],
            copies: &["b's edit"],
        },
        Case {
            name: "update on both sides, alike",
            base: &[("f", "old")],
            edit_a: |t| drop(t.file("f", "same").mtime("f", T_A, 0)),
            edit_b: |t| drop(t.file("f", "same").mtime("f", T_A, 0)),
            code: 0,
            expect: &[("f", Some("same"))],
            copies: &[],
        },
        Case {
            name: "delete on one side",
            base: &[("gone", "g"), ("stay", "s")],
            edit_a: |t| drop(t.remove("gone")),
            edit_b: |_| {},
            code: 0,
            expect: &[("gone", None), ("stay", Some("s"))],
            copies: &[],
        },
        Case {
            name: "delete on both sides",
            base: &[("gone", "g")],
            edit_a: |t| drop(t.remove("gone")),
            edit_b: |t| drop(t.remove("gone")),
            code: 0,
            expect: &[("gone", None)],
            copies: &[],
        },
        Case {
            name: "delete against update",
            base: &[("f", "old")],
            edit_a: |t| drop(t.remove("f")),
            edit_b: |t| drop(t.file("f", "b's update")),
            code: 5,
            expect: &[("f", Some("b's update"))],
            copies: &[],
        },
        Case {
            name: "rename against update",
            base: &[("x", "old")],
            edit_a: |t| drop(t.rename("x", "y")),
            edit_b: |t| drop(t.file("x", "b's update")),
            code: 5,
            expect: &[("x", Some("b's update")), ("y", Some("old"))],
            copies: &[],
        },
        Case {
            name: "directory against file",
            base: &[],
            edit_a: |t| drop(t.file("p/inside", "i")),
            edit_b: |t| drop(t.file("p", "a file")),
            code: 5,
            expect: &[("p/inside", Some("i"))],
            copies: &["a file"],
        },
        Case {
            name: "directory deleted on one side, added to on the other",
            base: &[("d/old", "o")],
            edit_a: |t| drop(t.remove("d")),
            edit_b: |t| drop(t.file("d/new", "n")),
            code: 5,
            expect: &[("d/new", Some("n")), ("d/old", None)],
            copies: &[],
        },
        Case {
            name: "metadata only",
            base: &[("m", "m")],
            edit_a: |t| drop(t.mode("m", 0o600)),
            edit_b: |_| {},
            code: 0,
            expect: &[("m", Some("m"))],
            copies: &[],
        },
        Case {
            name: "case-only rename",
            base: &[("readme", "r")],
            edit_a: |t| drop(t.rename("readme", "README")),
            edit_b: |_| {},
            code: 0,
            expect: &[("README", Some("r")), ("readme", None)],
            copies: &[],
        },
        Case {
            name: "symlink retargeted",
            base: &[("t1", "1"), ("t2", "2")],
            edit_a: |t| drop(t.remove("t1")),
            edit_b: |t| drop(t.symlink("l", "t2")),
            code: 0,
            expect: &[("t1", None), ("t2", Some("2")), ("l", Some("2"))],
            copies: &[],
        },
    ]
}

/// Run every case with replica B at `b_of(env)`, through `run`.
fn run_cases(remote: Option<&Sshd>) {
    for case in cases() {
        let env = Env::new();
        let (a, b) = (env.path("a"), env.path("b"));
        let mut tree = env.tree("a").dir("");
        for (path, content) in case.base {
            tree = tree.file(path, content);
        }
        drop(tree);
        fs::create_dir(&b).unwrap();
        let b_arg = match remote {
            Some(sshd) => sshd.url(&b),
            None => b.display().to_string(),
        };
        let tern = |args: &[&str]| match remote {
            Some(sshd) => sshd.tern(&env, args),
            None => env.tern(args),
        };
        tern(&["sync", "--two-way", "a", &b_arg]).ok();
        assert_same_tree(&a, &b);
        (case.edit_a)(env.tree("a"));
        (case.edit_b)(env.tree("b"));
        let done = tern(&["sync", "--two-way", "a", &b_arg]).code(case.code);
        let what = format!("case {:?}: {}", case.name, done.describe());
        for side in [&a, &b] {
            for (path, content) in case.expect {
                let got = fs::read(side.join(path)).ok();
                assert_eq!(
                    got.as_deref(),
                    content.map(str::as_bytes),
                    "{path} at {}, {what}",
                    side.display()
                );
            }
            let kept: Vec<Vec<u8>> = copies(side).into_iter().map(|(_, c)| c).collect();
            let want: Vec<Vec<u8>> = case.copies.iter().map(|c| c.as_bytes().to_vec()).collect();
            assert_eq!(kept, want, "conflict copies at {}, {what}", side.display());
        }
        assert_same_tree(&a, &b);
        if case.code == 5 {
            assert!(done.stdout().contains("conflict: "), "{what}");
        }
        // Nothing is left to do, and nothing is reported as a conflict again.
        let again = tern(&["plan", "--two-way", "--detailed-exitcode", "a", &b_arg]).code(0);
        assert!(
            !again.stdout().contains("conflict:"),
            "case {:?}: {}",
            case.name,
            again.describe()
        );
    }
}

#[test]
fn every_documented_case_locally() {
    run_cases(None);
}

#[test]
fn every_documented_case_over_ssh() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    run_cases(Some(&sshd));
}

/// A small deterministic random source.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as usize % n.max(1)
    }
}

/// Every file below `root`, `.tern/trash` included, by content.
fn all_contents(root: &Path) -> std::collections::HashSet<Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            !e.path().starts_with(root.join(".tern"))
                || e.path().starts_with(root.join(".tern/trash"))
        })
        .filter_map(|e| fs::read(e.path()).ok())
        .collect()
}

/// Random edits on one side: writes, deletions, renames, mode changes and files replaced by
/// directories, on a few names so that both sides often touch the same ones. Returns the
/// contents the side holds after its edits that it wrote itself.
fn random_edits(root: &Path, side: &str, rng: &mut Rng, edits: usize) -> Vec<Vec<u8>> {
    const NAMES: [&str; 8] = ["f0", "f1", "f2", "d0/f0", "d0/f1", "d1/f0", "d1/d2/f0", "d0"];
    let mut written = Vec::new();
    for step in 0..edits {
        let p = root.join(NAMES[rng.below(NAMES.len())]);
        let parent_is_file = p.parent().is_some_and(|d| d.is_file());
        match rng.below(5) {
            0 | 1 if !parent_is_file && !p.is_dir() => {
                let content = format!("{side} step {step} {}", rng.below(1 << 20)).into_bytes();
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, &content).unwrap();
                written.push(content);
            }
            2 if p.is_dir() => fs::remove_dir_all(&p).unwrap(),
            2 if p.is_file() => fs::remove_file(&p).unwrap(),
            3 if p.is_file() => {
                let to = root.join(NAMES[rng.below(3)]);
                if !to.exists() {
                    fs::rename(&p, &to).unwrap();
                }
            }
            4 if p.is_file() => {
                use std::os::unix::fs::PermissionsExt;
                let mode = [0o600, 0o640, 0o644][rng.below(3)];
                fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            }
            _ => {}
        }
    }
    // What this side wrote and still holds when the sync starts.
    let now = all_contents(root);
    written.retain(|c| now.contains(c));
    written
}

/// Random edits on both sides, then two two-way syncs (keeping both versions of a conflict, or
/// with `--prefer newer`): both trees are equal, a third run has nothing to do, and every byte
/// either side wrote is still somewhere: in the tree, in a conflict copy, or in a replica's
/// trash.
#[test]
fn random_edits_on_both_sides_converge_and_lose_nothing() {
    let mut conflicted = 0;
    for seed in 1..=20u64 {
        let env = Env::new();
        let (a, b) = (env.path("a"), env.path("b"));
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        random_edits(&a, "base", &mut rng, 6);
        env.tern(["sync", "--two-way", "a", "b"]).ok();
        assert_same_tree(&a, &b);
        let mut wrote = random_edits(&a, "a", &mut rng, 8);
        wrote.extend(random_edits(&b, "b", &mut rng, 8));
        // Every third seed lets the newer version win, the other going to the trash only.
        let policy: &[&str] = if seed % 3 == 0 { &["--prefer", "newer"] } else { &[] };
        let first =
            env.tern(["sync", "--two-way"].iter().chain(policy).chain(&["a", "b"])).output();
        assert!(
            matches!(first.out.status.code(), Some(0 | 5)),
            "seed {seed}: {}",
            first.describe()
        );
        conflicted += usize::from(first.out.status.code() == Some(5));
        env.tern(["sync", "--two-way", "a", "b"]).ok();
        assert_same_tree(&a, &b);
        env.tern(["plan", "--two-way", "--detailed-exitcode", "a", "b"]).code(0);
        let kept: std::collections::HashSet<Vec<u8>> =
            all_contents(&a).into_iter().chain(all_contents(&b)).collect();
        for c in &wrote {
            assert!(kept.contains(c), "seed {seed}: {:?} was lost", String::from_utf8_lossy(c));
        }
    }
    // The edits are drawn so that both sides often touch the same names.
    assert!(conflicted >= 3, "only {conflicted} of 20 runs met a conflict");
}

/// Files and symlinks below `root` by path, with their content or target: what a two-way sync
/// must bring to both sides (directory mtimes depend on when things ran).
fn files_of(root: &Path) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter_map(|(k, n)| match n {
            Node::File { content, .. } => Some((k, content)),
            Node::Symlink { target, .. } => Some((k, target)),
            _ => None,
        })
        .collect()
}

/// Two replicas in step, then edits on both (`both`) or on A only: updates on both sides of
/// the same files, deletions, creations, and a deletion against an update.
#[cfg(feature = "failpoints")]
fn crash_scenario(env: &Env, both: bool) {
    let (a, b) = (env.path("a"), env.path("b"));
    let mut t = env.tree("a").dir("");
    for i in 0..20 {
        t = t.file(format!("d{}/f{i}", i % 3), noise(i, 30_000));
    }
    drop(t);
    env.tern(["sync", "--two-way", "a", "b"]).ok();
    let mut ta = env.tree("a");
    for i in 0..5 {
        let p = format!("d{}/f{i}", i % 3);
        ta = ta.file(&p, noise(100 + i, 30_000)).mtime(&p, T_A, 0);
    }
    drop(ta.remove("d2/f8").remove("d1/f10").file("new/a1", "from a"));
    if both {
        let mut tb = env.tree("b");
        for i in 3..8 {
            let p = format!("d{}/f{i}", i % 3);
            tb = tb.file(&p, noise(200 + i, 30_000)).mtime(&p, T_B, 0);
        }
        drop(tb.remove("d0/f9").file("d1/f10", "b's update").file("new/b1", "from b"));
    }
    assert!(a.is_dir() && b.is_dir());
}

/// A two-way run killed at each step of either commit, or between them, or between the two
/// bases: every file on each side is its version from before the run or the one the run
/// brings; the next run completes it, to the very tree an uninterrupted run makes, with no
/// conflict copy made twice; and the run after that has nothing to do.
#[cfg(feature = "failpoints")]
#[test]
fn a_two_way_run_killed_anywhere_is_completed_by_the_next() {
    for both in [true, false] {
        let reference = Env::new();
        crash_scenario(&reference, both);
        let code = if both { 5 } else { 0 };
        reference.tern(["sync", "--two-way", "a", "b"]).code(code);
        let want = files_of(&reference.path("a"));
        assert_eq!(files_of(&reference.path("b")), want);
        for point in [
            "before-commit",
            "commit-midway",
            "before-manifest",
            "after-manifest",
            "two-way-after-a",
            "two-way-between-bases",
        ] {
            let env = Env::new();
            crash_scenario(&env, both);
            let (a, b) = (env.path("a"), env.path("b"));
            let before = [files_of(&a), files_of(&b)];
            let done =
                env.tern(["sync", "--two-way", "a", "b"]).env("TERN_FAILPOINT", point).output();
            let what = format!("failpoint {point} (both sides edited: {both})");
            assert!(
                done.stderr().contains(&format!("failpoint {point}")),
                "{what}: {}",
                done.describe()
            );
            for (side, old) in [&a, &b].into_iter().zip(&before) {
                for (path, content) in files_of(side) {
                    assert!(
                        old.get(&path) == Some(&content) || want.get(&path) == Some(&content),
                        "{what}: {} at {} is neither its old nor its new version",
                        String::from_utf8_lossy(&path),
                        side.display()
                    );
                }
            }
            let next = env.tern(["sync", "--two-way", "a", "b"]).output();
            assert!(matches!(next.out.status.code(), Some(0 | 5)), "{what}: {}", next.describe());
            assert_eq!(files_of(&a), want, "{what}: a after the next run");
            assert_eq!(files_of(&b), want, "{what}: b after the next run");
            env.tern(["sync", "--two-way", "a", "b"]).ok().stdout_has("0 conflicts");
            env.tern(["plan", "--two-way", "--detailed-exitcode", "a", "b"]).code(0);
        }
    }
}

/// A mesh of three replicas (the hub here, one local, one over the real sshd) from a job file:
/// edits made at all three, a conflict between the two spokes among them, reach every replica
/// in one `tern run`; the conflict is decided once, at the hub, and its copy is everywhere.
#[test]
fn a_mesh_job_converges_edits_made_at_every_replica() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let (hub, r1, r2) = (env.path("hub"), env.path("r1"), env.path("r2"));
    drop(env.tree("hub").file("shared.txt", "v0").file("dir/keep", "k"));
    fs::create_dir(&r1).unwrap();
    fs::create_dir(&r2).unwrap();
    let config = env.path("tern.toml");
    let job = format!(
        "[[job]]\nname = \"mesh\"\nmode = \"mesh\"\nreplicas = [\"hub\", \"r1\", \"{}\"]\n",
        sshd.url(&r2)
    );
    fs::write(&config, job).unwrap();
    let config = config.display().to_string();
    let run = || sshd.tern(&env, ["run", "--config", &config, "mesh"]);
    run().ok();
    assert_same_tree(&hub, &r1);
    assert_same_tree(&hub, &r2);

    drop(env.tree("hub").file("from-hub", "h").remove("dir/keep"));
    drop(env.tree("r1").file("from-r1", "1").file("shared.txt", "r1's").mtime(
        "shared.txt",
        T_A,
        0,
    ));
    drop(env.tree("r2").file("dir/from-r2", "2").file("shared.txt", "r2's").mtime(
        "shared.txt",
        T_B,
        0,
    ));
    let done = run().ok();
    for replica in [&hub, &r1, &r2] {
        let files = files_of(replica);
        let get =
            |p: &str| files.get(p.as_bytes()).map(|c| String::from_utf8_lossy(c).into_owned());
        assert_eq!(get("from-hub").as_deref(), Some("h"), "{}", replica.display());
        assert_eq!(get("from-r1").as_deref(), Some("1"), "{}", replica.display());
        assert_eq!(get("dir/from-r2").as_deref(), Some("2"), "{}", replica.display());
        assert_eq!(get("dir/keep"), None, "{}", replica.display());
        assert_eq!(get("shared.txt").as_deref(), Some("r2's"), "{}", replica.display());
        let kept: Vec<_> = copies(replica).into_iter().map(|(_, c)| c).collect();
        assert_eq!(kept, [b"r1's".to_vec()], "{}: {}", replica.display(), done.describe());
    }
    assert_same_tree(&hub, &r1);
    assert_same_tree(&hub, &r2);
    // The conflict is in the log once, and a run with nothing new changes nothing.
    assert_eq!(done.stderr().matches("conflict: shared.txt").count(), 1, "{}", done.describe());
    let again = run().ok();
    assert!(!again.stderr().contains("conflict: "), "{}", again.describe());
    assert!(again.stderr().contains("0 conflicts"), "{}", again.describe());
}

/// A two-way job (`mode = "two-way"`, one destination) and the job file's refusals.
#[test]
fn two_way_jobs_and_their_errors() {
    let env = Env::new();
    drop(env.tree("a").file("x", "from a"));
    drop(env.tree("b").file("y", "from b"));
    let config = env.path("tern.toml");
    fs::write(&config, "[[job]]\nname = \"pair\"\nmode = \"two-way\"\nsource = \"a\"\ndestinations = [\"b\"]\nprefer = \"b\"\n").unwrap();
    let config = config.display().to_string();
    env.tern(["run", "--config", &config, "pair"]).ok();
    assert_same_tree(&env.path("a"), &env.path("b"));
    assert_eq!(fs::read(env.path("a/y")).unwrap(), b"from b");

    for (job, error) in [
        (
            "mode = \"two-way\"\nsource = \"a\"\ndestinations = [\"b\", \"c\"]",
            "a two-way job has one destination",
        ),
        ("mode = \"mesh\"\nreplicas = [\"a\"]", "a mesh needs at least two replicas"),
        (
            "mode = \"mesh\"\nreplicas = [\"a\", \"b\"]\nsource = \"a\"",
            "give either replicas or source and destinations",
        ),
        (
            "source = \"a\"\ndestinations = [\"b\"]\nprefer = \"a\"",
            "prefer is for two-way and mesh jobs",
        ),
        (
            "mode = \"two-way\"\nsource = \"a\"\ndestinations = [\"b\"]\nprefer = \"left\"",
            "prefer \"left\" is not",
        ),
        (
            "mode = \"two-way\"\nsource = \"a\"\ndestinations = [\"b\"]\ndelete = false",
            "delete = false does not apply",
        ),
    ] {
        let file = env.path("bad.toml");
        fs::write(&file, format!("[[job]]\nname = \"bad\"\n{job}\n")).unwrap();
        env.tern(["config", "check", "--config", file.to_str().unwrap()])
            .code(1)
            .stderr_has(error)
            .stderr_has("bad.toml:");
    }
}

/// Options and replicas that cannot work are refused with one line, before anything is
/// written.
#[test]
fn bad_two_way_arguments_are_one_line_errors() {
    let env = Env::new();
    drop(env.tree("a").file("x", "x"));
    env.tern(["sync", "--two-way", "--no-delete", "a", "b"])
        .code(1)
        .one_line_error()
        .stderr_has("--no-delete does not apply to a two-way sync");
    env.tern(["sync", "--two-way", "a", "a/inner"])
        .code(1)
        .one_line_error()
        .stderr_has("one inside the other");
    env.tern(["sync", "--two-way", "a", "missing/b"])
        .code(1)
        .one_line_error()
        .stderr_has("does not exist");
    env.tern(["sync", "--prefer", "a", "a", "b"]).code(64);
    assert!(!env.path("b").exists());
    // The same directory twice is one replica.
    std::os::unix::fs::symlink(env.path("a"), env.path("a-again")).unwrap();
    env.tern(["sync", "--two-way", "a", "a-again"]).code(1).one_line_error();
}

/// Over SSH: a host without tern is refused in one line before anything is written (the SFTP
/// fallback cannot scan); once in step, a change on one side sends about that change, not the
/// manifests (the remote scan and the new base go as deltas from the base both sides hold).
#[test]
fn over_ssh_only_changes_travel_and_a_host_without_tern_is_refused() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let mut t = env.tree("a");
    for i in 0..3000 {
        t = t.file(format!("d{}/f{i}", i % 30), format!("file {i}"));
    }
    drop(t);
    let b = env.path("b");
    fs::create_dir(&b).unwrap();
    let url = sshd.url(&b);
    sshd.tern(&env, ["sync", "--two-way", "--remote-tern", "/nonexistent/tern", "a", &url])
        .code(1)
        .stderr_has("cannot keep a two-way sync's state over sftp")
        .stderr_has("install tern on the host");
    let written: Vec<_> = fs::read_dir(&b).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(written.iter().all(|n| n == ".tern"), "something was written to b: {written:?}");

    let first = sshd.tern(&env, ["sync", "--two-way", "a", &url]).ok();
    assert_same_tree(&env.path("a"), &b);
    let wire = |done: &Done| -> f64 {
        let s = done.stdout();
        let figure = s.split(" on the wire").next().unwrap().rsplit("; ").next().unwrap();
        let (n, unit) = figure.split_once(' ').unwrap();
        n.parse::<f64>().unwrap()
            * match unit {
                "KiB" => 1024.0,
                "MiB" => 1048576.0,
                _ => 1.0,
            }
    };
    drop(env.tree("b").file("d7/f7", "changed at b"));
    drop(env.tree("a").file("d8/f8", "changed at a"));
    let second = sshd.tern(&env, ["sync", "--two-way", "a", &url]).ok();
    assert_same_tree(&env.path("a"), &b);
    assert_eq!(fs::read(env.path("a/d7/f7")).unwrap(), b"changed at b");
    // The first run sent every file and the base whole; the second, two small changes.
    assert!(wire(&first) > 100_000.0, "{}", first.describe());
    assert!(wire(&second) < 8_000.0, "{}", second.describe());

    // Many files changed at b come to a in batches of requests, a few deleted among them.
    let mut t = env.tree("b");
    for i in (0..3000).step_by(7) {
        let p = format!("d{}/f{i}", i % 30);
        t = if i % 5 == 0 { t.remove(&p) } else { t.file(&p, noise(i as u64, 5000 + i)) };
    }
    drop(t);
    sshd.tern(&env, ["sync", "--two-way", "a", &url])
        .ok()
        .stdout_has("b->a: 0 created, 343 updated");
    assert_same_tree(&env.path("a"), &b);
}

/// `tern plan --two-way --format json`: directions, conflicts and the first-run flag, as
/// docs/plan-json.md describes them.
#[test]
fn a_two_way_plan_in_json() {
    let env = Env::new();
    drop(env.tree("a").file("both", "a").mtime("both", T_A, 0).file("only-a", "x"));
    drop(env.tree("b").file("both", "b").mtime("both", T_B, 0));
    // A replica not made yet is planned as empty, and the plan does not make it.
    env.tern(["plan", "--two-way", "--detailed-exitcode", "a", "new"])
        .code(2)
        .stdout_has("a->b + file    only-a");
    assert!(!env.path("new").exists());
    let done = env
        .tern(["plan", "--two-way", "--format", "json", "--detailed-exitcode", "a", "b"])
        .code(5);
    let doc: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    assert_eq!(doc["two_way"], true);
    assert_eq!(doc["first_run"], true);
    assert_eq!(doc["in_sync"], false);
    assert_eq!(doc["summary"]["conflicts"], 1);
    let c = &doc["conflicts"][0];
    assert_eq!(
        (c["path"].as_str(), c["kind"].as_str(), c["winner"].as_str()),
        (Some("both"), Some("both-changed"), Some("b"))
    );
    assert!(c["copy"].as_str().unwrap().starts_with("both.tern-conflict-"), "{c}");
    let moves: Vec<(String, String, String)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["from"].as_str().unwrap().into(),
                c["to"].as_str().unwrap().into(),
                c["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(moves.contains(&("a".into(), "b".into(), "only-a".into())), "{moves:?}");
    assert!(moves.contains(&("b".into(), "a".into(), "both".into())), "{moves:?}");
    // Nothing was written by the plan.
    assert!(!env.path("a/.tern").exists() && !env.path("b/only-a").exists());
    env.tern(["plan", "--two-way", "--format", "markdown", "a", "b"])
        .ok()
        .stdout_has("**conflicts**");
}

/// Either side may be the remote one: a over the real sshd, b here.
#[test]
fn the_first_replica_may_be_the_remote_one() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    drop(env.tree("a").file("from-a", "1").file("both.txt", "a's").mtime("both.txt", T_B, 0));
    drop(env.tree("b").file("from-b", "2").file("both.txt", "b's").mtime("both.txt", T_A, 0));
    let url = sshd.url(&env.path("a"));
    let done = sshd.tern(&env, ["sync", "--two-way", &url, "b"]).code(5);
    assert!(done.stdout().contains("conflict: both.txt"), "{}", done.describe());
    assert_same_tree(&env.path("a"), &env.path("b"));
    assert_eq!(fs::read(env.path("b/both.txt")).unwrap(), b"a's");
    assert_eq!(fs::read(env.path("b/from-a")).unwrap(), b"1");
    assert_eq!(fs::read(env.path("a/from-b")).unwrap(), b"2");
    let kept: Vec<_> =
        copies(&env.path("a")).into_iter().map(|(n, c)| (n.contains("127_0_0_1"), c)).collect();
    assert_eq!(kept, [(false, b"b's".to_vec())], "b's copy is named after this host");
    sshd.tern(&env, ["plan", "--two-way", "--detailed-exitcode", &url, "b"]).code(0);
}

/// An entry one side cannot read is left as it is on both sides (exit 3, named on stderr), and
/// the base keeps it as it was, so the change the other side made goes through once it is
/// readable again.
#[test]
fn an_unreadable_entry_is_left_alone_on_both_sides_until_it_can_be_read() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = Env::new();
    drop(env.tree("a").file("ok.txt", "v1").file("secret.txt", "s1"));
    env.tern(["sync", "--two-way", "a", "b"]).ok();
    drop(env.tree("a").file("ok.txt", "v2").mode("secret.txt", 0o000));
    drop(env.tree("b").file("secret.txt", "b's"));
    let root = fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut run = env.tern(["sync", "--two-way", "a", "b"]);
    if root {
        // root reads everything: run tern as nobody, with both replicas and the cache theirs
        fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for e in walkdir::WalkDir::new(env.dir.path()).min_depth(1) {
            std::os::unix::fs::lchown(e.unwrap().path(), Some(65534), Some(65534)).unwrap();
        }
        run.cmd = std::process::Command::new("setpriv");
        run.cmd
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", TERN])
            .args(["sync", "--two-way", "a", "b"])
            .current_dir(env.dir.path())
            .env("TERN_CACHE_DIR", env.path("cache"));
    }
    run.code(3).stderr_has("cannot read secret.txt at a");
    assert_eq!(fs::read(env.path("b/ok.txt")).unwrap(), b"v2");
    assert_eq!(fs::read(env.path("b/secret.txt")).unwrap(), b"b's");
    fs::set_permissions(env.path("a/secret.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(fs::read(env.path("a/secret.txt")).unwrap(), b"s1");
    env.tern(["sync", "--two-way", "a", "b"]).ok();
    assert_eq!(fs::read(env.path("a/secret.txt")).unwrap(), b"b's");
    assert_same_tree(&env.path("a"), &env.path("b"));
}

/// A mesh replica that cannot be reached (here: held by another run's lock) fails its pair
/// while the others converge, and catches up, both ways, the first run it is back.
#[test]
fn a_mesh_replica_offline_catches_up_when_it_is_back() {
    let env = Env::new();
    drop(env.tree("hub").file("f", "v0"));
    fs::create_dir(env.path("r1")).unwrap();
    fs::create_dir(env.path("r2")).unwrap();
    let config = env.path("tern.toml");
    let job = "[[job]]\nname = \"m\"\nmode = \"mesh\"\nretries = 0\nreplicas = [\"hub\", \"r1\", \"r2\"]\n";
    fs::write(&config, job).unwrap();
    let config = config.display().to_string();
    env.tern(["run", "--config", &config, "m"]).ok();
    // r2 is out of reach with a change of its own; the others change things meanwhile.
    drop(env.tree("r2").file("from-r2", "2"));
    // `flock LOCK cat` holds the lock until its input closes.
    let mut holder = std::process::Command::new("flock")
        .arg(env.path("r2/.tern/lock"))
        .arg("cat")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let held = std::time::Instant::now();
    while std::process::Command::new("flock")
        .args(["-n", env.path("r2/.tern/lock").to_str().unwrap(), "true"])
        .status()
        .unwrap()
        .success()
    {
        assert!(held.elapsed().as_secs() < 10, "flock did not take the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(env.tree("r1").file("from-r1", "1"));
    drop(env.tree("hub").file("f", "v1"));
    let failed = env.tern(["run", "--config", &config, "m"]).code(1);
    assert!(failed.stdout().contains("r2: failed"), "{}", failed.describe());
    assert_same_tree(&env.path("hub"), &env.path("r1"));
    assert_eq!(fs::read(env.path("r1/f")).unwrap(), b"v1");
    assert_eq!(fs::read(env.path("r2/f")).unwrap(), b"v0");
    // Back: one run brings it everything and takes its change to the others.
    drop(holder.stdin.take());
    holder.wait().unwrap();
    env.tern(["run", "--config", &config, "m"]).ok();
    for r in ["hub", "r1", "r2"] {
        let files = files_of(&env.path(r));
        for (path, want) in [("f", "v1"), ("from-r1", "1"), ("from-r2", "2")] {
            let got = files.get(path.as_bytes()).map(Vec::as_slice);
            assert_eq!(got, Some(want.as_bytes()), "{path} at {r}");
        }
    }
    assert_same_tree(&env.path("hub"), &env.path("r2"));
}
