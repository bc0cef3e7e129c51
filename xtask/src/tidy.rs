//! Tidy: the codebase checks itself inside `cargo test` (as rust-analyzer's
//! `xtask/src/tidy.rs` does), so that a rule written in ARCHITECTURE.md or
//! CONTRIBUTING.md cannot quietly stop being true.
//!
//! Each rule is a pure function from a file's path and text to its violations, tested on
//! a deliberately broken sample, and run over the workspace by one `#[test]`.

use std::path::{Path, PathBuf};

/// The files that may start processes: the two modules that own it (short commands with
/// a deadline; long-running supervised groups) and the bench, whose job is to start the
/// tools it times. The `tests` crate's harness is not product code and is not checked.
const SPAWNERS: &[&str] = &[
    "coordinator/src/exec.rs",
    "coordinator/src/process.rs",
    "coordinator/src/process/",
    "xtask/src/bench.rs",
    "xtask/src/bench/",
];

/// Every `.rs` file opens with a `//!` line that says why it exists.
fn module_doc(path: &str, text: &str) -> Vec<String> {
    if text.starts_with("//!") {
        Vec::new()
    } else {
        vec![format!("{path}: does not open with a `//!` line")]
    }
}

/// `Command::new` (std or tokio), `CommandWrap` and `.spawn()` only where processes are
/// owned.
fn spawns(path: &str, text: &str) -> Vec<String> {
    let needles = [
        ["Command", "::new("].concat(),
        ["Command", "Wrap"].concat(),
        [".spawn", "()"].concat(),
    ];
    only_where_owned(
        path,
        text,
        &needles,
        "starts a process; use `coordinator::exec::Cmd` (short commands) or `coordinator::process::spawn` (supervised ones)",
    )
}

/// Signals are sent only where processes are owned (the same files that may start
/// them): `stop` asks a run to stop through `process::ask_to_stop`, never with a `kill`
/// of its own.
fn signals(path: &str, text: &str) -> Vec<String> {
    let needles = [
        ["signal", "::kill("].concat(),
        ["signal", "::killpg("].concat(),
    ];
    only_where_owned(
        path,
        text,
        &needles,
        "sends a signal; use `coordinator::process` (`terminate`, `ask_to_stop`)",
    )
}

/// Each code line of a file of the crates, outside the files that own processes
/// (`SPAWNERS`), that holds one of `needles`: `what` is said of it.
fn only_where_owned(path: &str, text: &str, needles: &[String], what: &str) -> Vec<String> {
    let in_crates = path.starts_with("coordinator/") || path.starts_with("xtask/");
    if !in_crates || SPAWNERS.iter().any(|allowed| path.starts_with(allowed)) {
        return Vec::new();
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            needles.iter().any(|n| line.contains(n.as_str()))
                && !line.trim_start().starts_with("//")
        })
        .map(|(i, _)| format!("{path}:{}: {what}", i + 1))
        .collect()
}

/// No comment points at a document outside the repository: a reader of the code has
/// only the repository.
fn outside_documents(path: &str, text: &str) -> Vec<String> {
    let outside = [
        ["DESIGN", " section"].concat(),
        ["DESIGN", ".md"].concat(),
        ["STYLE", ".md"].concat(),
        ["DEPENDENCIES", ".md"].concat(),
    ];
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let trimmed = line.trim_start();
            trimmed.starts_with("//") && outside.iter().any(|o| trimmed.contains(o.as_str()))
        })
        .map(|(i, _)| {
            format!(
                "{path}:{}: refers to a document outside the repository",
                i + 1
            )
        })
        .collect()
}

/// Exit codes are decided in one place (`xtask::exit`): nothing else builds an
/// `ExitCode` or calls `process::exit`.
fn exit_codes(path: &str, text: &str) -> Vec<String> {
    if path == "xtask/src/lib.rs"
        || !(path.starts_with("coordinator/") || path.starts_with("xtask/"))
    {
        return Vec::new();
    }
    let needles = [
        ["ExitCode", "::from("].concat(),
        ["process", "::exit("].concat(),
    ];
    text.lines()
        .enumerate()
        .filter(|(_, line)| needles.iter().any(|n| line.contains(n.as_str())))
        .map(|(i, _)| format!("{path}:{}: exit codes are decided in `xtask::exit`", i + 1))
        .collect()
}

/// Every wait in `dev` also waits on `Shutdown`: a stop is never given a hurry that can
/// never come.
fn waits_on_shutdown(path: &str, text: &str) -> Vec<String> {
    if !path.starts_with("coordinator/src/dev") && path != "coordinator/src/backend.rs" {
        return Vec::new();
    }
    let needle = ["future::", "pending(), ||"].concat();
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(&needle))
        .map(|(i, _)| {
            format!(
                "{path}:{}: a stop that a second Ctrl-C cannot hurry; pass the shutdown",
                i + 1
            )
        })
        .collect()
}

/// ARCHITECTURE's code map names every module of the library: `name` for
/// `coordinator/src/name.rs` (or `name/mod.rs`), `dir/name.rs` for one inside a folder.
fn code_map_names(path: &str, architecture: &str) -> Vec<String> {
    let Some(inside) = path.strip_prefix("coordinator/src/") else {
        return Vec::new();
    };
    if inside == "lib.rs" || inside.ends_with("/mod.rs") {
        return Vec::new();
    }
    let named = match inside.split_once('/') {
        None => architecture.contains(&format!("`{}`", inside.trim_end_matches(".rs"))),
        Some(_) => architecture.contains(inside),
    };
    if named {
        Vec::new()
    } else {
        vec![format!("{path}: not named in ARCHITECTURE.md's code map")]
    }
}

/// The most lines a file may have: its ceiling in `xtask/src/tidy/ceilings.txt` (the
/// files that were longer than [`SIZE_LIMIT`] when it was written), else the limit.
/// A ceiling only goes down: one above its file's length must be lowered to it, so that
/// the room a shrink made is not grown back into.
const SIZE_LIMIT: usize = 600;

fn sizes(path: &str, text: &str, ceilings: &str) -> Vec<String> {
    let lines = text.lines().count();
    let ceiling = ceilings.lines().find_map(|line| {
        let (file, most) = line.split_once(' ')?;
        (file == path).then(|| most.trim().parse::<usize>().ok())?
    });
    match ceiling {
        Some(most) if lines > most => vec![format!(
            "{path}: {lines} lines, over its ceiling of {most}: split it"
        )],
        Some(most) if lines < most => vec![format!(
            "{path}: {lines} lines, under its ceiling of {most}: lower the ceiling in xtask/src/tidy/ceilings.txt to {lines}"
        )],
        Some(_) => Vec::new(),
        None if lines > SIZE_LIMIT => vec![format!(
            "{path}: {lines} lines, over {SIZE_LIMIT}: split it"
        )],
        None => Vec::new(),
    }
}

/// The library's modules import each other without a circle, at every level: an edge
/// is a `crate::`, `super::` or `self::` path of a file (outside comments, string
/// literals and the test module; `use` groups expanded; an item re-exported by a
/// parent counted where it is defined) that names another module's item, drawn
/// between the two sibling modules that hold them (`dev::extra` using
/// `dev::processes::Processes` is `dev::extra -> dev::processes`; `backend::listener`
/// using `report` is `backend -> report`). A module may use what its parent defines
/// (the family's own types), except that nothing under `dev/` takes from `dev.rs`, the
/// run's entry (what the steps share is in `dev/outcome.rs`). A circle is named by its
/// modules in order.
fn import_circles(files: &[(String, String)]) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let module_of = |path: &str| -> Option<Vec<String>> {
        let inside = path.strip_prefix("coordinator/src/")?.strip_suffix(".rs")?;
        Some(match inside {
            "lib" => Vec::new(),
            _ => inside.split('/').map(str::to_owned).collect(),
        })
    };
    // A folder is a module too (`b/c.rs` makes `b`), whether or not `b.rs` is given.
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .filter_map(|(p, _)| module_of(p))
        .flat_map(|m| (0..=m.len()).map(move |n| m[..n].to_vec()))
        .collect();
    let sources: Vec<(&String, Vec<String>, String)> = files
        .iter()
        .filter_map(|(path, text)| Some((path, module_of(path)?, code_of(text))))
        .collect();
    let mut reexports = Reexports::new();
    for (_, module, code) in &sources {
        reexports.extend(reexported(module, code, &modules));
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut found = Vec::new();
    for (path, module, code) in &sources {
        for used in paths_in(code) {
            let Some(target) = resolve(module, &used, &modules, &reexports) else {
                continue;
            };
            let shared = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == target.len() && target == ["dev"] && module.len() > 1 {
                found.push(format!(
                    "{path} takes {used} from dev.rs: move it to dev/outcome.rs"
                ));
            }
            if shared == module.len() || shared == target.len() {
                continue;
            }
            edges
                .entry(module[..=shared].join("::"))
                .or_default()
                .insert(target[..=shared].join("::"));
        }
    }
    // A depth-first walk; a module met again on the current path closes a circle.
    fn walk(
        module: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module.to_owned());
            found.push(format!("import circle: {}", circle.join(" -> ")));
            return;
        }
        if !done.insert(module.to_owned()) {
            return;
        }
        path.push(module.to_owned());
        for next in edges.get(module).into_iter().flatten() {
            walk(next, edges, path, done, found);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        walk(module, &edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

/// A file's code as the import rule reads it: up to its test module (`#[cfg(test)]`
/// on the line before a `mod`), with comments, string and character literals blanked
/// out (a path in a message or a comment is no import) and `pub(in ...)` visibilities
/// dropped (they name a module without using it).
fn code_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|&i| {
            lines[i].trim() == "#[cfg(test)]"
                && lines
                    .get(i + 1)
                    .is_some_and(|l| l.trim_start().starts_with("mod "))
        })
        .unwrap_or(lines.len());
    let text = lines[..end].join("\n");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        let skip_to = if c == '/' && next == Some('/') {
            chars[i..]
                .iter()
                .position(|c| *c == '\n')
                .map_or(chars.len(), |n| i + n)
        } else if c == '/' && next == Some('*') {
            (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                .map_or(chars.len(), |j| j + 2)
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            let hashes = chars[i + 1..].iter().take_while(|c| **c == '#').count();
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let open = i + 1 + hashes;
            if chars.get(open) == Some(&'"') {
                let rest: String = chars[open + 1..].iter().collect();
                rest.find(&close).map_or(chars.len(), |n| {
                    open + 1 + rest[..n].chars().count() + close.len()
                })
            } else {
                i + 1
            }
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            j + 1
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('"', '\''), not a lifetime.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            j + 1
        } else {
            i + 1
        };
        if skip_to == i + 1 {
            out.push(c);
        } else {
            // Blanked, keeping line breaks.
            out.extend(
                chars[i..skip_to.min(chars.len())]
                    .iter()
                    .map(|c| if *c == '\n' { '\n' } else { ' ' }),
            );
        }
        i = skip_to;
    }
    while let Some(at) = out.find("pub(in ") {
        let end = out[at..].find(')').map_or(out.len(), |e| at + e + 1);
        out.replace_range(at..end, "pub");
    }
    out
}

/// Items a module re-exports from one of its own descendants, by the name they go by
/// (`pub use os::{Entry, ProcessInfo}` in `process.rs`): module and name -> the module
/// that defines it.
type Reexports = std::collections::BTreeMap<(Vec<String>, String), Vec<String>>;

fn reexported(
    module: &[String],
    code: &str,
    modules: &std::collections::BTreeSet<Vec<String>>,
) -> Reexports {
    let mut found = Reexports::new();
    for (at, _) in code.match_indices("use ") {
        let head = code[..at].trim_end();
        if !(head.ends_with("pub") || head.ends_with("pub(crate)") || head.ends_with("pub(super)"))
        {
            continue;
        }
        let end = code[at..].find(';').map_or(code.len(), |e| at + e);
        for tree in expand(&code[at + 4..end]) {
            let (path, alias) = match tree.split_once(" as ") {
                Some((path, alias)) => (path.trim(), alias.trim()),
                None => (tree.as_str(), tree.rsplit("::").next().unwrap_or_default()),
            };
            let mut parts: Vec<String> = module.to_vec();
            parts.extend(
                path.trim_start_matches("self::")
                    .split("::")
                    .map(str::to_owned),
            );
            let Some(defining) = (module.len() + 1..parts.len())
                .rev()
                .map(|n| parts[..n].to_vec())
                .find(|candidate| modules.contains(candidate))
            else {
                continue;
            };
            found.insert((module.to_vec(), alias.to_owned()), defining);
        }
    }
    found
}

/// `use` tree text with its `{...}` groups expanded (`super::{a::B, c}` is `super::a::B`
/// and `super::c`), each path with its `as` alias if it has one.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.replace(":: {", "::{").replace(" ::", "::");
    let Some(open) = tree.find('{') else {
        return vec![tree.trim().to_owned()];
    };
    let (prefix, body) = (
        &tree[..open],
        &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())],
    );
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (at, c) in body.char_indices().chain([(body.len(), ',')]) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                let item = body[start..at].trim();
                if !item.is_empty() {
                    out.extend(expand(item).into_iter().map(|p| format!("{prefix}{p}")));
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    out
}

/// The `crate::`, `super::` and `self::` paths in `code`: inline ones, and each path of
/// a `use` with its `{...}` groups expanded.
fn paths_in(code: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut paths = Vec::new();
    for root in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let tail: String = code[at..].chars().take_while(|c| word(*c)).collect();
            let after = code[at + tail.len()..].trim_start();
            if tail.ends_with("::") && after.starts_with('{') {
                let end = code[at..].find(';').map_or(code.len(), |e| at + e);
                paths.extend(
                    expand(&code[at..end])
                        .into_iter()
                        .map(|p| p.split(" as ").next().unwrap_or_default().trim().to_owned()),
                );
            } else {
                paths.push(tail.trim_end_matches(':').to_owned());
            }
        }
    }
    paths
}

/// The module a path names an item of, from the module `from`: the longest prefix that
/// is a module, or the module that defines an item that one re-exports. None for a
/// path into `from` itself.
fn resolve(
    from: &[String],
    used: &str,
    modules: &std::collections::BTreeSet<Vec<String>>,
    reexports: &Reexports,
) -> Option<Vec<String>> {
    let mut parts = used.split("::").filter(|p| !p.is_empty()).peekable();
    let mut base: Vec<String> = match parts.next()? {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    while parts.peek() == Some(&"super") {
        parts.next();
        base.pop();
    }
    base.extend(parts.map(str::to_owned));
    let module = (0..=base.len())
        .rev()
        .map(|n| base[..n].to_vec())
        .find(|candidate| modules.contains(candidate))?;
    let target = base
        .get(module.len())
        .and_then(|item| reexports.get(&(module.clone(), item.clone())))
        .cloned()
        .unwrap_or(module);
    (target.as_slice() != from).then_some(target)
}

/// Every setting is shown by `--print-config` and documented in the README's table.
fn settings_documented(print_config: &str, readme: &str) -> Vec<String> {
    coordinator::config::SETTINGS
        .iter()
        .flat_map(|setting| {
            let mut missing = Vec::new();
            if !print_config
                .lines()
                .any(|line| line.starts_with(&format!("{} ", setting.key)))
            {
                missing.push(format!("{}: not shown by --print-config", setting.key));
            }
            let row = format!("| `{}` |", setting.key);
            if !readme.lines().any(|line| line.starts_with(&row)) {
                missing.push(format!(
                    "{}: no row in README.md's configuration table",
                    setting.key
                ));
            }
            missing
        })
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// The `.rs` files of the workspace's crates, as `(relative path, text)`.
fn sources(root: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut folders: Vec<PathBuf> = ["coordinator/src", "xtask/src", "tests/src", "tests/tests"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .display()
                    .to_string();
                found.push((relative, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_workspace_is_tidy() {
    let root = workspace();
    let rules: [fn(&str, &str) -> Vec<String>; 6] = [
        module_doc,
        spawns,
        signals,
        outside_documents,
        exit_codes,
        waits_on_shutdown,
    ];
    // This file names what the rules look for, in its samples.
    let mut problems: Vec<String> = sources(&root)
        .iter()
        .filter(|(path, _)| path != "xtask/src/tidy.rs")
        .flat_map(|(path, text)| rules.iter().flat_map(move |rule| rule(path, text)))
        .collect();
    problems.extend(import_circles(&sources(&root)));
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let ceilings = include_str!("tidy/ceilings.txt");
    for (path, text) in sources(&root) {
        problems.extend(code_map_names(&path, &architecture));
        if path.starts_with("coordinator/src/") {
            problems.extend(sizes(&path, &text, ceilings));
        }
    }
    let config = coordinator::config::Config::defaults(&root);
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    problems.extend(settings_documented(&config.describe(), &readme));
    assert!(problems.is_empty(), "untidy:\n{}", problems.join("\n"));
}

#[test]
fn each_rule_catches_what_it_is_about() {
    let broken = "use std::process::Command;\nfn main() {\n    // See DESIGN section 6.\n    let _ = Command::new(\"ls\");\n    std::process::exit(3);\n}\n";
    let path = "coordinator/src/broken.rs";
    assert_eq!(module_doc(path, broken).len(), 1);
    assert_eq!(spawns(path, broken).len(), 1);
    assert_eq!(outside_documents(path, broken).len(), 1);
    assert_eq!(exit_codes(path, broken).len(), 1);
    let signal = "//! x
let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
";
    assert_eq!(signals("coordinator/src/control.rs", signal).len(), 1);
    assert!(signals("coordinator/src/process/unix.rs", signal).is_empty());
    let stop = "//! x\nterminate(&t, grace, std::future::pending(), || {}).await;\n";
    assert_eq!(waits_on_shutdown("coordinator/src/dev/x.rs", stop).len(), 1);
    let wrapped = "//! x\nlet child = CommandWrap::with_new(\"ls\", |_| {}).spawn()?;\n";
    assert_eq!(spawns("coordinator/src/dev.rs", wrapped).len(), 1);
    let map = "- `backend`: ...\n- `dev` (+ `dev/supervise.rs`)";
    assert!(code_map_names("coordinator/src/backend.rs", map).is_empty());
    assert!(code_map_names("coordinator/src/dev/supervise.rs", map).is_empty());
    assert_eq!(
        code_map_names("coordinator/src/dev/remote.rs", map).len(),
        1
    );
    assert_eq!(code_map_names("coordinator/src/connect.rs", map).len(), 1);
    let circle = [
        (
            "coordinator/src/a.rs".to_owned(),
            "use crate::b::X;\n".to_owned(),
        ),
        (
            "coordinator/src/b/c.rs".to_owned(),
            "// crate::d\nuse crate::a::Y;\n".to_owned(),
        ),
        (
            "coordinator/src/d.rs".to_owned(),
            "use crate::a::Z;\n".to_owned(),
        ),
    ];
    assert_eq!(
        import_circles(&circle),
        vec!["import circle: a -> b -> a".to_owned()]
    );
    assert!(import_circles(&circle[..1]).is_empty());
    // Siblings at any depth, through `super::` and `use` groups; a child's use of its
    // parent is no circle, but nothing under dev/ may take from dev.rs.
    let nested = [
        (
            "coordinator/src/dev/x.rs".to_owned(),
            "use super::{y::Y, outcome::Flow};\nfn f() { super::helper(); }\n".to_owned(),
        ),
        (
            "coordinator/src/dev/y.rs".to_owned(),
            "fn g() -> super::x::X { todo() }\n".to_owned(),
        ),
        ("coordinator/src/dev/outcome.rs".to_owned(), String::new()),
        ("coordinator/src/dev.rs".to_owned(), String::new()),
    ];
    assert_eq!(
        import_circles(&nested),
        vec![
            "coordinator/src/dev/x.rs takes super::helper from dev.rs: move it to dev/outcome.rs"
                .to_owned(),
            "import circle: dev::x -> dev::y -> dev::x".to_owned(),
        ]
    );
    let mut mended = nested.clone();
    mended[0].1 = "use super::outcome::Flow;\n".to_owned();
    assert!(import_circles(&mended).is_empty());
    // Not imports: comments (inside a `use` group too), strings, a path into the module
    // itself, a `pub(in ...)` visibility; a test-only helper before the test module is
    // code, the test module is not.
    let quiet = [
        (
            "coordinator/src/dev/x.rs".to_owned(),
            "use super::{\n    outcome::Flow, // why: super::y\n    outcome::Run,\n};\n\
             /* super::y::Y */ const S: &str = \"super::y::Y\"; const C: char = '\"';\n\
             fn f() { self::g(); crate::dev::x::g(); }\npub(in super::super) fn g() {}\n\
             #[cfg(test)]\nfn helper() {}\n#[cfg(test)]\nmod tests { use super::super::y::Y; }\n"
                .to_owned(),
        ),
        (
            "coordinator/src/dev/y.rs".to_owned(),
            "use super::x::X;\n".to_owned(),
        ),
        ("coordinator/src/dev/outcome.rs".to_owned(), String::new()),
        ("coordinator/src/dev.rs".to_owned(), String::new()),
    ];
    assert!(
        import_circles(&quiet).is_empty(),
        "{:?}",
        import_circles(&quiet)
    );
    // An item re-exported by the parent counts where it is defined.
    let reexported = [
        (
            "coordinator/src/c.rs".to_owned(),
            "pub use s::S;\nmod p;\nmod s;\n".to_owned(),
        ),
        (
            "coordinator/src/c/p.rs".to_owned(),
            "use super::S;\n".to_owned(),
        ),
        (
            "coordinator/src/c/s.rs".to_owned(),
            "use super::p::P;\n".to_owned(),
        ),
    ];
    assert_eq!(
        import_circles(&reexported),
        vec!["import circle: c::p -> c::s -> c::p".to_owned()]
    );
    let long = "x\n".repeat(SIZE_LIMIT + 1);
    assert_eq!(sizes("coordinator/src/a.rs", &long, "").len(), 1);
    assert!(sizes("coordinator/src/a.rs", &long, "coordinator/src/a.rs 601\n").is_empty());
    assert_eq!(
        sizes("coordinator/src/a.rs", "x\n", "coordinator/src/a.rs 601\n").len(),
        1
    );
    let allowed = "//! x\nlet _ = Command::new(\"ls\");\n";
    assert!(spawns("coordinator/src/exec.rs", allowed).is_empty());
    assert!(spawns("tests/tests/it/support.rs", allowed).is_empty());
    let missing = settings_documented("backend.port = 8000\n", "| `backend.port` | 8000 |\n");
    assert!(
        missing
            .iter()
            .any(|m| m.starts_with("backend.host: not shown")),
        "{missing:?}"
    );
    assert!(
        !missing.iter().any(|m| m.starts_with("backend.port")),
        "{missing:?}"
    );
}
