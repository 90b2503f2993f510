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
            edit_a: |t| drop(t.file("same", "x")),
            edit_b: |t| drop(t.file("same", "x")),
            code: 0,
            expect: &[("same", Some("x"))],
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
