//! `tern plan` for CI: the three report formats (snapshots), the JSON schema document, exit codes,
//! saved plans and `tern apply`, deletion guardrails, and hostile names in every format.

use crate::harness::*;
use base64::Engine;
use std::fs;

/// A destination synced from a first tree, and a source changed in every way a plan can show.
fn fixed(env: &Env) {
    let t = env
        .tree("src")
        .file("index.html", "<h1>v1</h1>")
        .file("docs/guide.txt", "guide")
        .file("docs/old.txt", "old words")
        .file("assets/logo.bin", noise(5, 70_000))
        .file("to-dir", "a file first")
        .dir("empty");
    let _ = t;
    set_all_mtimes(env, "src", 1_700_000_000);
    env.sync(&[]);
    env.tree("src")
        .file("index.html", "<h1>v2</h1>")
        .rename("assets/logo.bin", "assets/logo-renamed.bin")
        .remove("docs/old.txt")
        .file("docs/new.txt", "new words")
        .remove("to-dir")
        .file("to-dir/inside", "now a dir")
        .mode("docs/guide.txt", 0o600)
        .symlink("latest", "index.html");
    set_all_mtimes(env, "src", 1_700_000_500);
    // the rename keeps its content's old mtime, so only the path changes
    env.tree("src").mtime("assets/logo-renamed.bin", 1_700_000_000, 0);
}

/// Give every entry below `rel` the same mtime, so reports are reproducible.
fn set_all_mtimes(env: &Env, rel: &str, secs: i64) {
    let root = env.path(rel);
    let mut paths: Vec<_> = walkdir::WalkDir::new(&root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .collect();
    // children before their directories, whose mtime they would change
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in paths {
        let t = filetime::FileTime::from_unix_time(secs, 0);
        filetime::set_symlink_file_times(&p, t, t).unwrap();
    }
}

fn redact(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let at = v["generated_at"].as_str().unwrap().to_string();
    assert_eq!(at.len(), 20, "RFC 3339 UTC: {at}");
    json.replace(&at, "<generated_at>").replace(env!("CARGO_PKG_VERSION"), "<version>")
}

#[test]
fn text_report_snapshot() {
    let env = Env::new();
    fixed(&env);
    let done = env.tern(["plan", "-v", "src", "dst"]).ok();
    insta::assert_snapshot!("plan_text", done.stdout());
}

#[test]
fn json_report_snapshot_and_schema_document() {
    let env = Env::new();
    fixed(&env);
    let done = env.tern(["plan", "--format", "json", "--max-delete", "5", "src", "dst"]).ok();
    insta::assert_snapshot!("plan_json", redact(&done.stdout()));
    // every key tern emits is documented in docs/plan-json.md
    let doc =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plan-json.md")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    fn collect(v: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    keys.insert(k.clone());
                    collect(v, keys);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, keys)),
            _ => {}
        }
    }
    collect(&v, &mut keys);
    for k in &keys {
        assert!(doc.contains(&format!("`{k}`")), "docs/plan-json.md does not document `{k}`");
    }
    // and the document's example is valid JSON of the current schema
    let example = doc.split("```json").nth(1).unwrap().split("```").next().unwrap();
    let ex: serde_json::Value =
        serde_json::from_str(example).expect("the example in docs/plan-json.md parses");
    assert_eq!(ex["schema_version"], v["schema_version"]);
}

#[test]
fn markdown_report_snapshot() {
    let env = Env::new();
    fixed(&env);
    let done = env.tern(["plan", "--format", "markdown", "--limit", "4", "src", "dst"]).ok();
    insta::assert_snapshot!("plan_markdown", done.stdout());
}

#[test]
fn detailed_exit_codes() {
    let env = Env::new();
    env.tree("src").file("a", "1");
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).code(2);
    env.sync(&[]);
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).code(0);
    env.tern(["plan", "--detailed-exitcode", "--format", "json", "src", "dst"]).code(0);
    env.tern(["plan", "--detailed-exitcode", "missing", "dst"]).code(1);
    // a plan a guard would refuse is an error: CI must not go on to sync it
    env.tree("src").remove("a");
    env.tern(["plan", "--detailed-exitcode", "src", "dst"])
        .code(1)
        .stdout_has("empty-source REFUSED")
        .stderr_has("refused by the empty-source guard");
}

#[test]
fn saved_plans_apply_exactly_or_refuse() {
    let env = Env::new();
    env.tree("src").file("a", "1").file("b", "2");
    env.sync(&[]);
    env.tree("src").file("a", "changed").remove("b").file("c", "new");
    let plan_file = env.path("site.plan");
    env.tern(["plan", "--out", plan_file.to_str().unwrap(), "src", "dst"])
        .ok()
        .stderr_has("plan saved to");
    // nothing applied yet
    assert_eq!(fs::read(env.dst().join("a")).unwrap(), b"1");
    let done = env.tern(["apply", plan_file.to_str().unwrap()]).ok();
    assert!(done.stdout().contains("1 created, 1 updated"), "{}", done.describe());
    env.assert_replica();
    // applying it again: the destination moved on
    env.tern(["apply", plan_file.to_str().unwrap()])
        .code(1)
        .one_line_error()
        .stderr_has("the destination dst changed")
        .stderr_has("make a new plan");

    // a source file the plan would send changed after planning: refused, nothing written
    env.tree("src").file("a", "planned");
    env.tern(["plan", "--out", plan_file.to_str().unwrap(), "src", "dst"]).ok();
    env.tree("src").file("a", "edited after the plan");
    let before = snapshot(&env.dst());
    env.tern(["apply", plan_file.to_str().unwrap()])
        .code(1)
        .one_line_error()
        .stderr_has("source entry a changed");
    assert_eq!(snapshot(&env.dst()), before);

    // garbage is not a plan
    fs::write(&plan_file, "not a plan").unwrap();
    env.tern(["apply", plan_file.to_str().unwrap()])
        .code(1)
        .one_line_error()
        .stderr_has("is not a usable tern plan");
}

#[test]
fn max_delete_guard_refuses_and_writes_nothing() {
    let env = Env::new();
    let mut t = env.tree("src");
    for i in 0..20 {
        t = t.file(format!("f{i:02}"), format!("{i}"));
    }
    env.sync(&[]);
    for i in 0..5 {
        env.tree("src").remove(format!("f{i:02}"));
    }
    let before = snapshot(&env.dst());
    let manifest = fs::read(env.dst().join(".tern/manifest")).unwrap();
    env.tern(["sync", "--max-delete", "4", "src", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("refused by the max-delete guard: 5 entries to delete, limit 4")
        .stderr_has("raise --max-delete");
    env.tern(["sync", "--max-delete", "20%", "src", "dst"]).code(1).stderr_has("limit 4");
    assert_eq!(snapshot(&env.dst()), before);
    assert_eq!(fs::read(env.dst().join(".tern/manifest")).unwrap(), manifest);
    assert!(!env.dst().join(".tern/trash").exists());
    let plan = env.tern(["plan", "--format", "json", "--max-delete", "4", "src", "dst"]).code(1);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout()).unwrap();
    assert_eq!(v["refused"], true);
    assert_eq!(v["guards"][1]["guard"], "max-delete");
    assert_eq!(v["guards"][1]["passed"], false);
    env.tern(["sync", "--max-delete", "25%", "src", "dst"]).ok().stdout_has("5 deleted");
    env.assert_replica();
    env.tern(["sync", "--max-delete", "nonsense", "src", "dst"]).code(64);
}

#[test]
fn an_empty_source_is_not_mirrored_without_force() {
    let env = Env::new();
    env.tree("src").file("a", "1").file("d/b", "2");
    env.sync(&[]);
    fs::remove_dir_all(env.src()).unwrap();
    fs::create_dir(env.src()).unwrap();
    env.tern(["sync", "src", "dst"])
        .code(1)
        .one_line_error()
        .stderr_has("refused by the empty-source guard")
        .stderr_has("--force");
    assert_eq!(fs::read(env.dst().join("d/b")).unwrap(), b"2");
    env.tern(["sync", "--force", "src", "dst"]).ok().stdout_has("3 deleted");
    env.assert_replica();
    assert_eq!(trash_files(&env.dst()), ["a", "d/b"]);
}

#[test]
fn hostile_names_in_every_format() {
    let env = Env::new();
    env.tree("src")
        .file("evil\n+ file    forged", "1")
        .file("fence ``` | pipe", "2")
        .file(b"bytes\xff\xfe", "3");
    let text = env.tern(["plan", "src", "dst"]).ok().stdout();
    assert!(text.contains("+ file    evil\\n+ file    forged (1 B)"), "{text}");
    assert!(text.contains("+ file    bytes\\xff\\xfe (1 B)"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");

    let json = env.tern(["plan", "--format", "json", "src", "dst"]).ok().stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let changes = v["changes"].as_array().unwrap();
    let by_path = |p: &str| {
        changes.iter().find(|c| c["path"] == p).unwrap_or_else(|| panic!("{p} missing: {json}"))
    };
    // UTF-8 names are exact (JSON escapes the newline itself)
    assert!(by_path("evil\n+ file    forged").get("path_base64").is_none());
    // other names are escaped for reading and exact in base64
    let raw = by_path("bytes\\xff\\xfe");
    assert_eq!(raw["path_utf8"], false);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw["path_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, b"bytes\xff\xfe");

    let md = env.tern(["plan", "--format", "markdown", "src", "dst"]).ok().stdout();
    // the block fence is longer than any run of backticks in a name, so no name can close it
    assert!(md.contains("````\n"), "{md}");
    assert!(md.contains("+ file    fence ``` | pipe (1 B)"), "{md}");
    assert!(!md.contains("\n+ file    forged"), "{md}");
}
