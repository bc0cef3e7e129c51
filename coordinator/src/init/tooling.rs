//! The tooling's own files in the app: the `xtask` and `coordinator` crates, the cargo
//! alias, and the workspace that holds them.
//!
//! The crates are copied with their manifests made self-contained: every
//! `*.workspace = true` is replaced by this repository's workspace value (edition,
//! versions and features, lints), so an app's workspace only has to list them as
//! members, whatever its own `[workspace.package]` and `[workspace.dependencies]` say.
//! The tidy test is not copied: its rules are about this repository (its README, its
//! tests crate), not about the app.

use std::path::Path;

use toml::Value;

use super::{InitError, Plan};

/// The crates copied, as folders of this repository and of the app.
const CRATES: &[&str] = &["xtask", "coordinator"];

/// The alias that makes `cargo xtask` run the copied binary.
const ALIAS: &str = "xtask = \"run --package xtask --quiet --\"";

/// Plans the crates, `.cargo/config.toml` and the root `Cargo.toml`. True when the
/// root `Cargo.toml` is created (the app had no Cargo workspace).
pub fn plan(source: &Path, plan: &mut Plan) -> Result<bool, InitError> {
    let workspace = read_workspace(source)?;
    for name in CRATES {
        foreign_crate(plan, name)?;
    }
    let created = root_manifest(source, plan)?;
    for name in CRATES {
        copy_crate(source, name, &workspace, plan)?;
    }
    cargo_alias(plan);
    Ok(created)
}

/// The header of a manifest `init` copied.
const COPIED: &str = "# Copied by `cargo xtask init`";

/// An `xtask/` or `coordinator/` of the app's own (not an earlier copy) is refused:
/// mixing two crates' files would break both.
fn foreign_crate(plan: &Plan, name: &str) -> Result<(), InitError> {
    let folder = plan.app.join(name);
    if !folder.exists() {
        return Ok(());
    }
    let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).unwrap_or_default();
    if manifest.starts_with(COPIED) {
        return Ok(());
    }
    Err(InitError {
        location: folder.display().to_string(),
        message: format!("the app has a `{name}/` of its own (not copied by `init`)"),
        fix: format!(
            "rename or move it (and its entry in the workspace members), then run init again; the tooling needs `{name}/`"
        ),
    })
}

/// This repository's `[workspace]` table (package fields, dependencies, lints).
fn read_workspace(source: &Path) -> Result<toml::Table, InitError> {
    let path = source.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|err| InitError {
        location: path.display().to_string(),
        message: format!("cannot read the tooling's workspace: {err}"),
        fix: "run `cargo xtask init` from a checkout of the tooling repository".into(),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|err| InitError {
        location: path.display().to_string(),
        message: format!("not valid TOML: {err}"),
        fix: "restore the tooling repository's Cargo.toml".into(),
    })?;
    match table.get("workspace") {
        Some(Value::Table(workspace)) => Ok(workspace.clone()),
        _ => Err(InitError {
            location: path.display().to_string(),
            message: "has no [workspace]".into(),
            fix: "run `cargo xtask init` from a checkout of the tooling repository".into(),
        }),
    }
}

/// Every file of `source/name` (no `target/`, no tidy), with its manifest resolved.
fn copy_crate(
    source: &Path,
    name: &str,
    workspace: &toml::Table,
    plan: &mut Plan,
) -> Result<(), InitError> {
    let root = source.join(name);
    let mut folders = vec![root.clone()];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|err| unreadable(&folder, &err))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let file_name = entry.file_name();
            if path.is_dir() {
                if file_name != "target" {
                    folders.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut differ = 0;
    for path in files {
        let relative = path.strip_prefix(source).expect("under the source");
        let shown = relative.display().to_string().replace('\\', "/");
        if shown == "xtask/src/tidy.rs" {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|err| unreadable(&path, &err))?;
        let content = match shown.as_str() {
            "xtask/src/lib.rs" => without_tidy(&bytes, &path)?,
            _ if shown.ends_with("/Cargo.toml") => resolve_manifest(&bytes, workspace, &path)?,
            _ => bytes,
        };
        if plan.differs(&shown, content, is_executable(&path)) {
            differ += 1;
        }
    }
    if differ > 0 {
        plan.kept.push(format!(
            "{name}/: {differ} file{} differ{} from this tooling's; left as {} (to update the tooling, see README.md, \"Use it in your app\")",
            if differ == 1 { "" } else { "s" },
            if differ == 1 { "s" } else { "" },
            if differ == 1 { "it is" } else { "they are" },
        ));
    }
    Ok(())
}

fn unreadable(path: &Path, err: &std::io::Error) -> InitError {
    InitError {
        location: path.display().to_string(),
        message: format!("cannot be read: {err}"),
        fix: "run `cargo xtask init` from a complete checkout of the tooling repository".into(),
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

/// `xtask/src/lib.rs` without its `mod tidy;` (the file is not copied).
fn without_tidy(bytes: &[u8], path: &Path) -> Result<Vec<u8>, InitError> {
    let text = String::from_utf8_lossy(bytes);
    let declaration = "#[cfg(test)]\nmod tidy;\n";
    if !text.contains(declaration) {
        return Err(InitError {
            location: path.display().to_string(),
            message: "has no `#[cfg(test)] mod tidy;` to leave out of the copy".into(),
            fix: "this is a bug in `init`: please report it".into(),
        });
    }
    Ok(text.replacen(declaration, "", 1).into_bytes())
}

/// A crate manifest with every `workspace = true` replaced by the workspace's value, a
/// path dependency made relative to the crate, and `[lints]` written out.
fn resolve_manifest(
    bytes: &[u8],
    workspace: &toml::Table,
    path: &Path,
) -> Result<Vec<u8>, InitError> {
    let text = String::from_utf8_lossy(bytes);
    if text.starts_with(COPIED) {
        // Already a copy (`init` run from an app that has the tooling): as it is.
        return Ok(bytes.to_vec());
    }
    let empty = toml::Table::new();
    let table = |key: &str| match workspace.get(key) {
        Some(Value::Table(table)) => table,
        _ => &empty,
    };
    let (package, dependencies, lints) = (table("package"), table("dependencies"), table("lints"));
    let mut out = format!("{COPIED}, with the tooling workspace's values written in.\n");
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "[lints]" && lines.peek().map(|l| l.trim()) == Some("workspace = true") {
            lines.next();
            for (i, (section, entries)) in lints.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&format!("[lints.{section}]\n"));
                if let Value::Table(entries) = entries {
                    for (name, level) in entries {
                        out.push_str(&format!("{} = {}\n", key(name), inline(level)));
                    }
                }
            }
            continue;
        }
        let Some((name, rest)) = trimmed.split_once('=') else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let name = name.trim();
        let rest = rest.trim();
        if let Some(field) = name.strip_suffix(".workspace")
            && rest == "true"
        {
            let resolved = match (package.get(field), dependencies.get(field)) {
                (Some(value), _) => inline(value),
                (None, Some(dep)) => inline(&relative_path(dep)),
                _ => return Err(unresolved(path, field)),
            };
            out.push_str(&format!("{field} = {resolved}\n"));
            continue;
        }
        if rest.starts_with('{') && rest.contains("workspace = true") {
            let parsed: toml::Table = toml::from_str(&format!("x = {rest}"))
                .map_err(|err| unresolved(path, &format!("{name} ({err})")))?;
            let Some(Value::Table(local)) = parsed.get("x") else {
                return Err(unresolved(path, name));
            };
            let dep = dependencies
                .get(name)
                .ok_or_else(|| unresolved(path, name))?;
            out.push_str(&format!("{name} = {}\n", inline(&merged(dep, local))));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out.into_bytes())
}

fn unresolved(path: &Path, what: &str) -> InitError {
    InitError {
        location: path.display().to_string(),
        message: format!("`{what}` is inherited from a workspace value that does not exist"),
        fix: "this is a bug in the tooling's manifests: please report it".into(),
    }
}

/// A workspace dependency with a crate's own keys on top (features are added to).
fn merged(dep: &Value, local: &toml::Table) -> Value {
    let mut table = match relative_path(dep) {
        Value::Table(table) => table,
        Value::String(version) => {
            toml::Table::from_iter([("version".into(), Value::String(version))])
        }
        other => return other,
    };
    for (key, value) in local {
        match (key.as_str(), value, table.get_mut("features")) {
            ("workspace", ..) => {}
            ("features", Value::Array(more), Some(Value::Array(features))) => {
                for feature in more {
                    if !features.contains(feature) {
                        features.push(feature.clone());
                    }
                }
            }
            _ => {
                table.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Table(table)
}

/// A workspace path dependency (`{ path = "coordinator" }`) as seen from a crate folder.
fn relative_path(dep: &Value) -> Value {
    let mut dep = dep.clone();
    if let Value::Table(table) = &mut dep
        && let Some(Value::String(path)) = table.get_mut("path")
    {
        *path = format!("../{path}");
    }
    dep
}

/// A key, quoted when it needs to be.
fn key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// A value as TOML, inline (the `toml` crate is built without its writer here).
fn inline(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        Value::Table(table) => format!(
            "{{ {} }}",
            table
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The root `Cargo.toml`: created as a virtual workspace of the two crates, or the
/// crates added to the app's workspace `members`; a root that is a package without a
/// `[workspace]` is refused. True when it is created.
fn root_manifest(source: &Path, plan: &mut Plan) -> Result<bool, InitError> {
    let path = plan.app.join("Cargo.toml");
    let Ok(before) = std::fs::read(&path) else {
        let manifest = "# The workspace of the dev tooling (`cargo xtask dev`), made by `cargo xtask init`.\n\
             [workspace]\nresolver = \"3\"\nmembers = [\"xtask\", \"coordinator\"]\n\n\
             # Line tables only for the tooling; no debug info, debug assertions or\n\
             # overflow checks for its dependencies; not incremental: a smaller debug\n\
             # build, and a faster first one.\n\
             [profile.dev]\ndebug = \"line-tables-only\"\nincremental = false\n\n\
             [profile.dev.package.\"*\"]\ndebug = false\ndebug-assertions = false\noverflow-checks = false\n";
        plan.create("Cargo.toml", manifest.as_bytes().to_vec(), false, "");
        lock_file(source, plan);
        plan.found
            .push("no Cargo workspace: creating one with the tooling crates".into());
        return Ok(true);
    };
    let text = String::from_utf8_lossy(&before).into_owned();
    let refuse = |message: String, fix: &str| InitError {
        location: path.display().to_string(),
        message,
        fix: fix.to_owned(),
    };
    let parsed: toml::Table = toml::from_str(&text).map_err(|err| {
        refuse(
            format!("not valid TOML: {}", err.message()),
            "correct it (cargo cannot read it either), then run init again",
        )
    })?;
    let Some(Value::Table(workspace)) = parsed.get("workspace") else {
        return Err(refuse(
            "is a package, not a workspace: the tooling crates need a workspace to live in".into(),
            "move the package into a folder of its own (e.g. `mv src Cargo.toml my-crate/`), then \
             run init again, which creates a workspace of it and the tooling; or add \
             `[workspace]` with `members = [\"xtask\", \"coordinator\"]` to this Cargo.toml",
        ));
    };
    let members: Vec<&str> = match workspace.get("members") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let missing: Vec<&str> = CRATES
        .iter()
        .copied()
        .filter(|name| !members.contains(name))
        .collect();
    lock_file(source, plan);
    if missing.is_empty() {
        plan.found
            .push("a Cargo workspace whose members have the tooling crates".into());
        return Ok(false);
    }
    plan.found
        .push("a Cargo workspace: adding the tooling crates to its members".into());
    let after = add_members(&text, &missing).ok_or_else(|| {
        refuse(
            "its [workspace] members could not be found to add to".into(),
            "add \"xtask\" and \"coordinator\" to [workspace] members by hand",
        )
    })?;
    plan.extend("Cargo.toml", before, after.into_bytes());
    if workspace.contains_key("default-members") {
        plan.check.push(
            "Cargo.toml has `default-members`: `cargo xtask` names its package, so it still works"
                .into(),
        );
    }
    Ok(false)
}

/// The tooling's `Cargo.lock` when the app has none, so that the app builds the
/// versions the tooling was tested with (cargo adds the app's own crates to it and drops
/// what no member uses). An app's own lock file is cargo's to update.
fn lock_file(source: &Path, plan: &mut Plan) {
    if plan.app.join("Cargo.lock").exists() {
        return;
    }
    if let Ok(lock) = std::fs::read(source.join("Cargo.lock")) {
        plan.create("Cargo.lock", lock, false, "cargo updates it as it builds");
    }
}

/// `text` with `names` added to `[workspace] members` (after its last entry, in its
/// style: one line, or one entry a line), or a `members` line added under
/// `[workspace]` when there is none.
fn add_members(text: &str, names: &[&str]) -> Option<String> {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let header = text
        .find("\n[workspace]")
        .map(|at| at + 1)
        .or_else(|| text.starts_with("[workspace]").then_some(0))?;
    let section_end = text[header + 1..]
        .find("\n[")
        .map_or(text.len(), |at| header + 1 + at);
    let section = &text[header..section_end];
    let Some(members) = section.find("members") else {
        let line_end = header + text[header..].find('\n').unwrap_or(text.len() - header);
        let mut out = text.to_owned();
        let insert = format!("\nmembers = [{}]", quoted.join(", "));
        out.insert_str(line_end, &insert);
        if line_end == text.len() {
            out.push('\n');
        }
        return Some(out);
    };
    let open = header + members + section[members..].find('[')?;
    let close = open + text[open..].find(']')?;
    let inner = &text[open + 1..close];
    let last = inner.trim_end();
    let at = open + 1 + last.len();
    let comma = if last.trim().is_empty() || last.ends_with(',') {
        ""
    } else {
        ","
    };
    let insert = if inner.contains('\n') {
        let indent = inner
            .lines()
            .find(|line| !line.trim().is_empty())
            .map_or("    ", |line| &line[..line.len() - line.trim_start().len()]);
        let entries: String = quoted.iter().map(|q| format!("\n{indent}{q},")).collect();
        format!("{comma}{entries}")
    } else {
        let space = if last.trim().is_empty() { "" } else { " " };
        format!("{comma}{space}{}", quoted.join(", "))
    };
    let mut out = text.to_owned();
    out.insert_str(at, &insert);
    Some(out)
}

/// `.cargo/config.toml` with the `xtask` alias: created, or the alias added to the
/// app's file (under its `[alias]`, or as a new `[alias]` at the end).
fn cargo_alias(plan: &mut Plan) {
    let path = plan.app.join(".cargo/config.toml");
    let Ok(before) = std::fs::read(&path) else {
        plan.create(
            ".cargo/config.toml",
            format!("[alias]\n{ALIAS}\n").into_bytes(),
            false,
            "",
        );
        return;
    };
    let text = String::from_utf8_lossy(&before).into_owned();
    let has_alias = text
        .lines()
        .any(|line| line.trim_start().starts_with("xtask") && line.contains('='));
    if has_alias {
        return;
    }
    let mut after = text.clone();
    match text.find("[alias]\n") {
        Some(at) => after.insert_str(at + "[alias]\n".len(), &format!("{ALIAS}\n")),
        None => {
            if !after.is_empty() && !after.ends_with('\n') {
                after.push('\n');
            }
            after.push_str(&format!("\n[alias]\n{ALIAS}\n"));
        }
    }
    plan.extend(".cargo/config.toml", before, after.into_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_added_in_the_style_of_the_list() {
        let names = ["xtask", "coordinator"];
        assert_eq!(
            add_members("[workspace]\nmembers = [\"a\"]\n", &names).as_deref(),
            Some("[workspace]\nmembers = [\"a\", \"xtask\", \"coordinator\"]\n")
        );
        assert_eq!(
            add_members("[workspace]\nmembers = [\n    \"crates/a\",\n]\n", &names).as_deref(),
            Some(
                "[workspace]\nmembers = [\n    \"crates/a\",\n    \"xtask\",\n    \"coordinator\",\n]\n"
            )
        );
        assert_eq!(
            add_members(
                "[package]\nname = \"x\"\n\n[workspace]\n\n[dependencies]\n",
                &names
            )
            .as_deref(),
            Some(
                "[package]\nname = \"x\"\n\n[workspace]\nmembers = [\"xtask\", \"coordinator\"]\n\n[dependencies]\n"
            )
        );
        assert_eq!(
            add_members("[workspace]\nmembers = []\n", &names[..1]).as_deref(),
            Some("[workspace]\nmembers = [\"xtask\"]\n")
        );
    }

    #[test]
    fn manifests_are_resolved_against_the_workspace() {
        let workspace: toml::Table = toml::from_str(
            r#"
package = { edition = "2024" }
dependencies = { coordinator = { path = "coordinator" }, nix = { version = "0.31", default-features = false, features = ["signal"] }, thiserror = "2.0" }
lints = { clippy = { unwrap_used = "deny" } }
"#,
        )
        .expect("valid");
        let manifest = "[package]\nname = \"xtask\"\nedition.workspace = true\n\n[dependencies]\ncoordinator.workspace = true\nthiserror.workspace = true\nnix = { workspace = true, features = [\"process\"] }\n\n[lints]\nworkspace = true\n";
        let out = resolve_manifest(manifest.as_bytes(), &workspace, Path::new("Cargo.toml"))
            .expect("resolved");
        let out = String::from_utf8(out).expect("text");
        assert!(out.contains("edition = \"2024\"\n"), "{out}");
        assert!(
            out.contains("coordinator = { path = \"../coordinator\" }\n"),
            "{out}"
        );
        assert!(out.contains("thiserror = \"2.0\"\n"), "{out}");
        assert!(
            out.contains("nix = { default-features = false, features = [\"signal\", \"process\"], version = \"0.31\" }\n"),
            "{out}"
        );
        assert!(
            out.contains("[lints.clippy]\nunwrap_used = \"deny\"\n"),
            "{out}"
        );
        assert!(!out.contains("workspace = true"), "{out}");
        assert!(!out.contains(".workspace"), "{out}");
    }
}
