//! A `pyproject.toml`'s dependencies as PEP 621 declares them: `[project]
//! dependencies`, plus the `[project.optional-dependencies]` groups named by
//! `backend.extras`.
//!
//! Most FastAPI projects declare their packages here rather than in a
//! `requirements.txt`; the venv sync installs exactly these lines (without building the
//! project itself, which many apps are not set up to be), and `doctor` judges them with
//! the same PEP 440/508 rules as requirement lines.

use std::collections::BTreeMap;
use std::path::Path;

use crate::requirements::normalise;

/// The dependency declarations of one `pyproject.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    /// `[project] dependencies`, as written.
    pub dependencies: Vec<String>,
    /// `[project.optional-dependencies]`, by normalised extra name (PEP 685).
    pub optional: BTreeMap<String, Vec<String>>,
}

/// A `pyproject.toml` that cannot be used: where, what, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}\n  fix: {fix}")]
pub struct PyprojectError {
    /// `backend/pyproject.toml` or `backend/pyproject.toml:4:1`.
    pub location: String,
    pub message: String,
    pub fix: String,
}

#[derive(Debug, serde::Deserialize)]
struct File {
    project: Option<Table>,
    tool: Option<Tool>,
}

#[derive(Debug, serde::Deserialize)]
struct Tool {
    poetry: Option<toml::Value>,
}

#[derive(Debug, serde::Deserialize)]
struct Table {
    #[serde(default)]
    dependencies: Vec<String>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<String>>,
}

/// Reads `path` (shown to people as `shown`).
pub fn read(path: &Path, shown: &str) -> Result<Project, PyprojectError> {
    let text = std::fs::read_to_string(path).map_err(|err| PyprojectError {
        location: shown.to_owned(),
        message: format!("cannot read: {err}"),
        fix: "create it, or correct `backend.requirements` in dev.toml".into(),
    })?;
    parse(&text, shown)
}

/// [`read`] on text in hand.
pub fn parse(text: &str, shown: &str) -> Result<Project, PyprojectError> {
    let file: File = toml::from_str(text).map_err(|err| {
        let location = err.span().map_or_else(
            || shown.to_owned(),
            |span| {
                let (line, col) = crate::text::line_col(text, span.start);
                format!("{shown}:{line}:{col}")
            },
        );
        PyprojectError {
            location,
            message: format!("not a valid pyproject.toml: {}", err.message()),
            fix: "correct it so that `python -m pip install .` could read it".into(),
        }
    })?;
    let Some(project) = file.project else {
        let poetry = file.tool.and_then(|tool| tool.poetry).is_some();
        return Err(PyprojectError {
            location: shown.to_owned(),
            message: "has no [project] table (PEP 621), so it declares no dependencies".into(),
            fix: if poetry {
                "run `poetry lock` (a poetry.lock next to it makes dev install with Poetry), or move the dependencies to [project]".into()
            } else {
                "declare them in [project] dependencies, or point `backend.requirements` at a requirements file".into()
            },
        });
    };
    Ok(Project {
        dependencies: project.dependencies,
        optional: project
            .optional_dependencies
            .into_iter()
            .map(|(name, lines)| (normalise(&name), lines))
            .collect(),
    })
}

impl Project {
    /// The dependencies plus those of each extra, in order; an extra the file does not
    /// declare is an error naming the ones it does.
    pub fn wanted(&self, extras: &[String], shown: &str) -> Result<Vec<String>, PyprojectError> {
        let mut lines = self.dependencies.clone();
        for extra in extras {
            let Some(more) = self.optional.get(&normalise(extra)) else {
                let known: Vec<&str> = self.optional.keys().map(String::as_str).collect();
                return Err(PyprojectError {
                    location: shown.to_owned(),
                    message: format!("declares no optional dependencies `{extra}`"),
                    fix: if known.is_empty() {
                        "remove it from `backend.extras` (the file has no [project.optional-dependencies])".into()
                    } else {
                        format!(
                            "set `backend.extras` to some of: {}",
                            known
                                .iter()
                                .map(|k| format!("\"{k}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                });
            };
            lines.extend(more.iter().cloned());
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[project]
name = "shop"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["fastapi>=0.110", "uvicorn[standard]==0.30.1; python_version >= '3.10'"]

[project.optional-dependencies]
Dev_Tools = ["pytest>=8"]
"#;

    #[test]
    fn dependencies_and_extras_are_read() {
        let project = parse(FILE, "pyproject.toml").expect("valid");
        assert_eq!(project.dependencies.len(), 2);
        let all = project
            .wanted(&["dev-tools".into()], "pyproject.toml")
            .expect("known extra");
        assert_eq!(all.last().map(String::as_str), Some("pytest>=8"));
        let err = project
            .wanted(&["docs".into()], "pyproject.toml")
            .expect_err("unknown extra");
        assert_eq!(err.message, "declares no optional dependencies `docs`");
        assert_eq!(err.fix, "set `backend.extras` to some of: \"dev-tools\"");
    }

    #[test]
    fn bad_files_name_their_place_and_fix() {
        let err = parse("[project]\ndependencies = 3\n", "b/pyproject.toml").expect_err("bad");
        assert!(err.location.starts_with("b/pyproject.toml:2:"), "{err}");
        let err = parse("[tool.poetry]\nname = \"x\"\n", "pyproject.toml").expect_err("none");
        assert!(err.message.contains("no [project] table"), "{err}");
        assert!(err.fix.contains("poetry lock"), "{err}");
    }
}
