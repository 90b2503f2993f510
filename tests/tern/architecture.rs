//! The layout of `src/` keeps its promises: folders are layered, no module imports a module of a
//! higher folder, there is no import circle anywhere, and every file opens with a doc comment.
//!
//! The check reads the sources as text: every `use crate::…`/`use super::…` (braces expanded)
//! and every inline `crate::…`/`super::…` path outside comments and outside a file's
//! `#[cfg(test)]` module is an import of the longest module it names. Tests may reach upwards
//! (a unit test of the client runs a whole transfer); the code they test may not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders (and top-level files) of `src/`, lowest first. A module may import from its own
/// folder and from folders on earlier lines; folders on the same line are independent of each
/// other. A new folder must be placed here (and described in docs/architecture.md).
const LAYERS: &[&[&str]] = &[
    &["util", "exit"],
    &["tree"],
    &["plan"],
    &["transport"],
    &["remote"],
    &["sync"],
    &["watch"],
    &["report", "schedule"],
    &["cli"],
    &["app"],
];

fn layer_of(room: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&room))
}

/// Every module of the crate (`tree::scan`, `remote`, ...) with its source file; `lib.rs` and
/// `main.rs` are the crate itself, not a room.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<String, PathBuf>) {
        let mut entries: Vec<_> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if p.is_dir() {
                let mut next = prefix.to_vec();
                next.push(name);
                walk(&p, &next, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                let mut parts = prefix.to_vec();
                if stem != "mod" {
                    parts.push(stem.to_string());
                }
                if parts.is_empty() || (prefix.is_empty() && (stem == "lib" || stem == "main")) {
                    continue;
                }
                out.insert(parts.join("::"), p);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The code of a file that the layering applies to: without its `#[cfg(test)]` module and
/// without comments.
fn production_code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, w) in lines.windows(2).enumerate() {
        let next = w[1].trim_start();
        if w[0].trim() == "#[cfg(test)]"
            && (next.starts_with("mod ") || next.starts_with("pub(crate) mod "))
        {
            end = i;
            break;
        }
    }
    lines[..end]
        .iter()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::{b, c::{d, e as f}, self}` -> `a::b`, `a::c::d`, `a::c::e`, `a`.
fn expand_use(tree: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_into("", tree, &mut out);
    out
}

fn expand_into(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let join = |a: &str, b: &str| if a.is_empty() { b.to_string() } else { format!("{a}::{b}") };
    let tree = tree.trim();
    match tree.find('{') {
        Some(open) if tree.ends_with('}') => {
            let head = tree[..open].trim().trim_end_matches("::");
            let prefix = join(prefix, head);
            let inner = &tree[open + 1..tree.len() - 1];
            let (mut depth, mut start) = (0, 0);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand_into(&prefix, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand_into(&prefix, &inner[start..], out);
        }
        _ if tree.is_empty() => {}
        _ => {
            let item = tree.split_whitespace().next().unwrap_or(tree);
            if item == "self" {
                out.push(prefix.to_string());
            } else {
                out.push(join(prefix, item));
            }
        }
    }
}

/// Every `crate::`/`super::` path the code names, in `use` items or inline.
fn named_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let after = &rest[i + 4..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = after.find(';') else { break };
        let item = after[..end].trim();
        if item.starts_with("crate::") || item.starts_with("super::") {
            out.extend(expand_use(item));
        }
    }
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(root) {
            let at = from + i;
            from = at + root.len();
            if code[..at].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let tail: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(tail.trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module a path names: the longest known module it starts with.
fn resolve(current: &str, path: &str, known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let absolute = if let Some(rest) = path.strip_prefix("crate::") {
        rest.to_string()
    } else {
        let mut base: Vec<&str> = current.split("::").collect();
        let mut rest = path;
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        let rest = if rest == "super" { "" } else { rest };
        let base = base.join("::");
        match (base.is_empty(), rest.is_empty()) {
            (true, _) => rest.to_string(),
            (false, true) => base,
            (false, false) => format!("{base}::{rest}"),
        }
    };
    let parts: Vec<&str> = absolute.split("::").collect();
    (1..=parts.len()).rev().map(|n| parts[..n].join("::")).find(|m| known.contains_key(m))
}

/// The module import graph of the crate's production code.
fn import_graph(known: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (module, file) in known {
        let code = production_code(&std::fs::read_to_string(file).unwrap());
        let targets: BTreeSet<String> = named_paths(&code)
            .iter()
            .filter_map(|p| resolve(module, p, known))
            .filter(|t| t != module)
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

/// One circle of the graph, if there is any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node) {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn room(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_a_higher_folder() {
    let known = modules(&src_dir());
    let graph = import_graph(&known);
    let mut wrong = Vec::new();
    for (module, targets) in &graph {
        let Some(mine) = layer_of(room(module)) else { continue };
        for t in targets {
            if room(t) == room(module) {
                continue;
            }
            match layer_of(room(t)) {
                Some(theirs) if theirs < mine => {}
                _ => wrong.push(format!("{module} imports {t}")),
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering of LAYERS:\n{}", wrong.join("\n"));
}

#[test]
fn no_import_circle() {
    let graph = import_graph(&modules(&src_dir()));
    assert!(
        graph.values().map(BTreeSet::len).sum::<usize>() > 50,
        "the graph is implausibly small"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn every_folder_is_layered_and_described() {
    let known = modules(&src_dir());
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    let rooms: BTreeSet<&str> = known.keys().map(|m| room(m)).collect();
    for r in &rooms {
        assert!(
            layer_of(r).is_some(),
            "src/{r} has no place in LAYERS (tests/tern/architecture.rs)"
        );
        let is_dir = src_dir().join(r).is_dir();
        let named = if is_dir { format!("`{r}/`") } else { format!("`{r}.rs`") };
        assert!(doc.contains(&named), "docs/architecture.md does not describe {named}");
    }
    for r in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(rooms.contains(r), "LAYERS names {r}, which src/ does not have");
    }
}

#[test]
fn every_file_opens_with_a_doc_comment() {
    let mut files: Vec<PathBuf> = modules(&src_dir()).into_values().collect();
    files.push(src_dir().join("lib.rs"));
    files.push(src_dir().join("main.rs"));
    let bare: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().trim_start().starts_with("//!"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(bare.is_empty(), "files without a module doc comment: {bare:?}");
}

/// The checker itself: braces, `self`, renames, `super`, and a circle of three.
#[test]
fn the_checker_reads_imports_and_finds_circles() {
    assert_eq!(
        expand_use("crate::{a::{b, c as d}, e::{self, f}}"),
        ["crate::a::b", "crate::a::c", "crate::e", "crate::e::f"]
    );
    let code = production_code(
        "use crate::x::{Y, z::W};\nfn f() { crate::q::r(); } // crate::hidden\n#[cfg(test)]\nmod tests {\n    use crate::t;\n}\n",
    );
    assert_eq!(named_paths(&code), ["crate::x::Y", "crate::x::z::W", "crate::x", "crate::q::r"]);
    let known: BTreeMap<String, PathBuf> =
        ["a", "a::b", "c"].iter().map(|m| (m.to_string(), PathBuf::new())).collect();
    assert_eq!(resolve("a::b", "super::super::c::D", &known).as_deref(), Some("c"));
    assert_eq!(resolve("a::b", "crate::a::b::E", &known).as_deref(), Some("a::b"));
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c")])), None);
    let circle = find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(circle.len(), 4);
}
