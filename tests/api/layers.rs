//! The house rules of the source tree, checked on the source itself: each layer imports
//! only layers below it (`domain` < `storage` < `view` < `auth` < `actors` < `http` <
//! `startup`), nothing outside `src/http` imports `crate::http` (only the start-up that
//! wires the server and the fuzz harness of its request types do), and no files import
//! each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// A top-level module's floor; a module may name only modules on its floor or below.
fn floor(module: &str) -> u8 {
    match module {
        "domain" | "config" | "metrics" => 0,
        "storage" | "telemetry" => 1,
        "view" => 2,
        "auth" => 3,
        "actors" => 4,
        "http" => 5,
        // error, admin, startup, fuzzing, main, lib: the top.
        _ => 6,
    }
}

/// Files that may import `crate::http` although they are outside it.
const HTTP_IMPORTERS: [&str; 2] = ["src/startup.rs", "src/fuzzing.rs"];

fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// The code of a file without its comments and its `#[cfg(test)]` module (tests may
/// reach anywhere).
fn code(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(i) => &source[..i],
        None => source,
    };
    source.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level module a file belongs to (`src/view/status.rs` → `view`).
fn module_of(file: &str) -> String {
    let rest = file.trim_start_matches("src/");
    rest.split('/').next().unwrap().trim_end_matches(".rs").to_owned()
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let reference = Regex::new(r"crate::([a-z_]+)").unwrap();
    let mut violations = Vec::new();
    for (file, source) in sources() {
        let own = module_of(&file);
        for c in reference.captures_iter(&code(&source)) {
            let target = &c[1];
            if target == own {
                continue;
            }
            if target == "http" && !HTTP_IMPORTERS.contains(&file.as_str()) {
                violations.push(format!("{file} imports crate::http"));
            } else if floor(target) > floor(&own) {
                violations.push(format!("{file} ({own}) reaches up to crate::{target}"));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(violations.is_empty(), "imports that run back up:\n{}", violations.join("\n"));
}

/// The file a module path names, if it is one of ours: `["view", "status"]` →
/// `src/view/status.rs`, else its nearest parent that is a file.
fn resolve(files: &BTreeSet<String>, parts: &[&str]) -> Option<String> {
    for n in (1..=parts.len()).rev() {
        let base: PathBuf = ["src"].iter().chain(&parts[..n]).collect();
        for candidate in [base.with_extension("rs"), base.join("mod.rs")] {
            let name = candidate.display().to_string();
            if files.contains(&name) {
                return Some(name);
            }
        }
    }
    None
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let sources = sources();
    let files: BTreeSet<String> = sources.keys().cloned().collect();
    let crate_path = Regex::new(r"crate::((?:[a-z_0-9]+::)*[a-z_0-9]+)").unwrap();
    let super_path = Regex::new(r"\bsuper::((?:[a-z_0-9]+::)*[a-z_0-9]+)").unwrap();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in &sources {
        let code = code(source);
        // Where `super` points: the folder of a mod.rs's parent, or the file's own folder.
        let dir: Vec<&str> = {
            let mut parts: Vec<&str> = file.trim_start_matches("src/").split('/').collect();
            parts.pop();
            if file.ends_with("mod.rs") {
                parts.pop();
            }
            parts
        };
        let mut targets = BTreeSet::new();
        for c in crate_path.captures_iter(&code) {
            let parts: Vec<&str> = c[1].split("::").collect();
            targets.extend(resolve(&files, &parts));
        }
        for c in super_path.captures_iter(&code) {
            let parts: Vec<&str> = dir.iter().copied().chain(c[1].split("::")).collect();
            targets.extend(resolve(&files, &parts));
        }
        // A folder's mod.rs is its face (declarations and re-exports), not a room that
        // takes part in circles; `lib.rs` and `main.rs` likewise.
        targets.retain(|t| t != file && !t.ends_with("mod.rs") && t != "src/lib.rs");
        if !file.ends_with("mod.rs") && file != "src/lib.rs" {
            edges.insert(file.clone(), targets);
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        found: &mut Vec<String>,
    ) {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                0 => visit(next, edges, state, stack, found),
                1 => {
                    let start = stack.iter().position(|s| s == next).unwrap();
                    found.push(format!("{} -> {next}", stack[start..].join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
    }
    let mut state = BTreeMap::new();
    let mut found = Vec::new();
    for node in edges.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            visit(node, &edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    assert!(found.is_empty(), "files that import each other:\n{}", found.join("\n"));
}
