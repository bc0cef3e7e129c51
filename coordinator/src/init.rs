//! `cargo xtask init <APP_DIR>`: installs this tooling into an existing app.
//!
//! Everything is planned first, as a list of writes ([`Plan`]), and only then applied,
//! so that `--dry-run` shows exactly what a real run writes, and a refusal (a root
//! `Cargo.toml` that is a package) leaves the app untouched. A file the app already
//! has is never replaced: it is either left as it is (and named), or, for the
//! few files `init` must extend (`.gitignore`, the workspace's `members`, the cargo
//! alias), only added to, so every byte the app wrote stays. A second run plans
//! nothing.

mod detect;
mod dev_server;
mod tooling;

use std::fmt;
use std::path::{Path, PathBuf};

pub use detect::Detected;
pub(crate) use dev_server::strict_flag;

/// One file `init` writes: created (`before` is `None`) or extended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Relative to the app.
    pub path: PathBuf,
    pub before: Option<Vec<u8>>,
    pub after: Vec<u8>,
    /// Keep the executable bit of a copied file.
    pub executable: bool,
}

/// What `init` found, guessed and wants checked, and the writes that follow.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub app: PathBuf,
    pub writes: Vec<Write>,
    /// Files the app has that `init` would otherwise have written: left as they are.
    pub kept: Vec<String>,
    pub found: Vec<String>,
    pub guessed: Vec<String>,
    pub check: Vec<String>,
}

/// `init` cannot go on; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InitError {
    pub location: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}\n  fix: {}",
            self.location, self.message, self.fix
        )
    }
}

/// The app-relative files `init` manages, and the sentence for one kept as it is.
fn kept_note(path: &str, why: &str) -> String {
    if why.is_empty() {
        format!("{path}: the app has it; left as it is")
    } else {
        format!("{path}: the app has it; left as it is ({why})")
    }
}

impl Plan {
    /// Plans a new file at `path`, unless the app has one: then it is named in `kept`
    /// (silently when it already holds exactly these bytes, as after an earlier `init`).
    fn create(&mut self, path: &str, content: Vec<u8>, executable: bool, why: &str) {
        if self.differs(path, content, executable) {
            self.kept.push(kept_note(path, why));
        }
    }

    /// [`Plan::create`] without the note: true when the app has a different file there.
    fn differs(&mut self, path: &str, content: Vec<u8>, executable: bool) -> bool {
        match std::fs::read(self.app.join(path)) {
            Ok(existing) => existing != content,
            Err(_) if self.app.join(path).exists() => true,
            Err(_) => {
                self.writes.push(Write {
                    path: path.into(),
                    before: None,
                    after: content,
                    executable,
                });
                false
            }
        }
    }

    /// Plans `after` over the app's `before` (which `after` only adds to).
    fn extend(&mut self, path: &str, before: Vec<u8>, after: Vec<u8>) {
        if before != after {
            self.writes.push(Write {
                path: path.into(),
                before: Some(before),
                after,
                executable: false,
            });
        }
    }
}

/// Plans the installation of the tooling at `source` (this repository) into `app`.
pub fn plan(source: &Path, app: &Path) -> Result<Plan, InitError> {
    let app = std::fs::canonicalize(app).map_err(|err| InitError {
        location: app.display().to_string(),
        message: format!("cannot be opened: {err}"),
        fix: "give the folder of an existing app".into(),
    })?;
    if !app.is_dir() {
        return Err(InitError {
            location: app.display().to_string(),
            message: "is not a folder".into(),
            fix: "give the folder of an existing app".into(),
        });
    }
    let source = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    if source == app {
        return Err(InitError {
            location: app.display().to_string(),
            message: "is this repository itself".into(),
            fix: "give the folder of another app: `cargo xtask init ../my-app`".into(),
        });
    }
    let mut plan = Plan {
        app: app.clone(),
        ..Plan::default()
    };
    let created_workspace = tooling::plan(&source, &mut plan)?;
    let detected = detect::detect(&app);
    plan.found.extend(detected.found.iter().cloned());
    plan.guessed.extend(detected.guessed.iter().cloned());
    plan.check.extend(detected.check.iter().cloned());
    plan.create(
        "dev.toml",
        detected.dev_toml().into_bytes(),
        false,
        "compare it with `cargo xtask dev --print-config`",
    );
    if let Some((file, lines)) = &detected.env_lines {
        env_lines(&mut plan, &shown_path(file), lines);
    }
    gitignore(&mut plan, &detected, created_workspace);
    Ok(plan)
}

/// The frontend config with `lines` (`KEY=value`, and a comment before them): created,
/// or the keys it lacks appended.
fn env_lines(plan: &mut Plan, path: &str, lines: &str) {
    let Ok(before) = std::fs::read(plan.app.join(path)) else {
        plan.create(path, lines.as_bytes().to_vec(), false, "");
        return;
    };
    let text = String::from_utf8_lossy(&before).into_owned();
    let has = |key: &str| {
        text.lines().any(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line);
            line.split_once('=').is_some_and(|(k, _)| k.trim() == key)
        })
    };
    let missing: Vec<&str> = lines
        .lines()
        .filter(|line| {
            line.split_once('=')
                .is_some_and(|(key, _)| !has(key.trim()))
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut after = text.clone();
    if !after.is_empty() && !after.ends_with('\n') {
        after.push('\n');
    }
    after.extend(
        lines
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n")),
    );
    after.extend(missing.iter().map(|l| format!("{l}\n")));
    plan.extend(path, before, after.into_bytes());
}

/// `.dev/`, the venv and (for a workspace `init` creates) `target/` in `.gitignore`,
/// each unless a line already ignores it.
fn gitignore(plan: &mut Plan, detected: &Detected, created_workspace: bool) {
    let path = plan.app.join(".gitignore");
    let existing = std::fs::read(&path).ok();
    let before = existing.clone().unwrap_or_default();
    let text = String::from_utf8_lossy(&before).into_owned();
    let mut wanted = vec![".dev/".to_owned(), format!("{}/", detected.venv)];
    if created_workspace {
        wanted.push("target/".into());
    }
    let mut missing: Vec<&String> = wanted
        .iter()
        .filter(|entry| !ignores(&text, entry))
        .collect();
    missing.extend(
        detected
            .ignore_files
            .iter()
            .filter(|file| !ignores_file(&plan.app, &text, file)),
    );
    if missing.is_empty() {
        return;
    }
    let mut after = text.clone();
    if !after.is_empty() && !after.ends_with('\n') {
        after.push('\n');
    }
    after.push_str(
        "# cargo xtask dev: its run logs and records, the backend's venv, what it writes for a run\n",
    );
    for entry in missing {
        after.push_str(&format!("/{entry}\n"));
    }
    match existing {
        Some(before) => plan.extend(".gitignore", before, after.into_bytes()),
        None => plan.create(".gitignore", after.into_bytes(), false, ""),
    }
}

/// True when the file `file` (relative to the app) is ignored: a line of the app's
/// `.gitignore` names it, or a `*.local` line there or in a `.gitignore` of its folder
/// (Vite's template has one) matches it.
fn ignores_file(app: &Path, root_gitignore: &str, file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    let matches = |text: &str, own_folder: bool| {
        text.lines().map(str::trim).any(|line| {
            line == file
                || line.strip_prefix('/') == Some(file)
                || (line == name && (own_folder || !line.contains('/')))
                || (line == "*.local" && name.ends_with(".local"))
        })
    };
    let folder = Path::new(file).parent().unwrap_or(Path::new(""));
    let own = std::fs::read_to_string(app.join(folder).join(".gitignore")).unwrap_or_default();
    matches(root_gitignore, false) || matches(&own, true)
}

/// True when a line of `.gitignore` ignores the folder `entry` (`a/b/`): written with or
/// without the leading or trailing `/`, or its last name alone (`.venv`, which ignores
/// every `.venv`).
fn ignores(gitignore: &str, entry: &str) -> bool {
    let bare = entry.trim_matches('/');
    let last = bare.rsplit('/').next().unwrap_or(bare);
    gitignore.lines().map(str::trim).any(|line| {
        let line = line.trim_end_matches('/');
        line == bare
            || line.strip_prefix('/') == Some(bare)
            || (line == last && !line.contains('/'))
    })
}

/// Applies the plan: parent folders created, each file written atomically.
pub fn apply(plan: &Plan) -> Result<(), InitError> {
    for write in &plan.writes {
        let path = plan.app.join(&write.path);
        let failed = |err: std::io::Error| {
            InitError {
            location: path.display().to_string(),
            message: format!("cannot be written: {err}"),
            fix: "make the app's folder writable, then run `init` again (it goes on where it stopped)".into(),
        }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        crate::atomic::write(&path, &write.after).map_err(failed)?;
        #[cfg(unix)]
        if write.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(failed)?;
        }
    }
    Ok(())
}

impl Write {
    /// The write as a unified diff (`--- /dev/null` for a new file); the lines both
    /// sides share at the start and the end are left out, but for three of context.
    pub fn diff(&self) -> String {
        let path = self.path.display();
        let after = String::from_utf8_lossy(&self.after);
        let Some(before) = &self.before else {
            let lines: Vec<&str> = after.lines().collect();
            let mut out = format!(
                "--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
                lines.len()
            );
            for line in lines {
                out.push_str(&format!("+{line}\n"));
            }
            return out;
        };
        let before = String::from_utf8_lossy(before);
        let (old, new): (Vec<&str>, Vec<&str>) =
            (before.lines().collect(), after.lines().collect());
        let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let suffix = old[prefix..]
            .iter()
            .rev()
            .zip(new[prefix..].iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let start = prefix.saturating_sub(3);
        let old_end = (old.len() - suffix + 3).min(old.len());
        let new_end = (new.len() - suffix + 3).min(new.len());
        let mut out = format!(
            "--- a/{path}\n+++ b/{path}\n@@ -{},{} +{},{} @@\n",
            start + 1,
            old_end - start,
            start + 1,
            new_end - start
        );
        for line in &old[start..prefix] {
            out.push_str(&format!(" {line}\n"));
        }
        for line in &old[prefix..old.len() - suffix] {
            out.push_str(&format!("-{line}\n"));
        }
        for line in &new[prefix..new.len() - suffix] {
            out.push_str(&format!("+{line}\n"));
        }
        for line in &new[new.len() - suffix..new_end] {
            out.push_str(&format!(" {line}\n"));
        }
        out
    }
}

/// An app-relative path as `dev.toml` and the messages show it: `/` between parts, `.`
/// for the app itself.
fn shown_path(path: &Path) -> String {
    let text = path.display().to_string().replace('\\', "/");
    if text.is_empty() { ".".into() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_lines_are_recognised_in_their_usual_forms() {
        for line in [".dev", "/.dev/", ".dev/", "/.dev"] {
            assert!(
                ignores(&format!("node_modules\n{line}\n"), ".dev/"),
                "{line}"
            );
        }
        assert!(ignores(".venv\n", "backend/.venv/"));
        assert!(ignores("backend/.venv/\n", "backend/.venv/"));
        assert!(!ignores("other/.venv\n", "backend/.venv/"));
        assert!(!ignores("# .dev\n", ".dev/"));
    }

    #[test]
    fn a_diff_shows_the_added_lines_with_context() {
        let write = Write {
            path: ".gitignore".into(),
            before: Some(b"a\nb\nc\nd\n".to_vec()),
            after: b"a\nb\nc\nd\n/.dev/\n".to_vec(),
            executable: false,
        };
        assert_eq!(
            write.diff(),
            "--- a/.gitignore\n+++ b/.gitignore\n@@ -2,3 +2,4 @@\n b\n c\n d\n+/.dev/\n"
        );
    }
}
