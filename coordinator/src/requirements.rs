//! Requirements files read the way pip reads them, and requirements judged by the
//! packaging standards (PEP 508 for the line, PEP 440 for versions and specifiers).
//!
//! pip first joins lines that end in `\`, then drops comments (a `#` at the start or
//! after white space), then splits a requirement from its per-line options (`--hash`,
//! `--config-settings`) at the first word that starts with `-`. `pip-compile
//! --generate-hashes` writes every pin that way, so a line-by-line reader sees
//! `fastapi==0.162.5 \` and a dangling `--hash=...` line.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, Requirement, VersionOrUrl};

/// One logical line of a requirements file that means something to pip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `-r file` (or `-c file` when `constraint`): the path as written, relative to the
    /// including file.
    Include { path: String, constraint: bool },
    /// A requirement; `text` is the line without its options, as shown to people.
    Requirement {
        text: String,
        requirement: Box<Requirement>,
    },
    /// A line pip acts on that names no package by itself (`--index-url`, `-e .`).
    Option(String),
    /// Not a PEP 508 requirement (a bare path or URL): pip may install it, but nothing
    /// here can tell which distribution it is.
    Unreadable { text: String, why: String },
}

/// The logical lines of `text`: continuations joined, comments and blank lines dropped.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for physical in text.lines() {
        // A comment line ends a continuation, as in pip's `join_lines`.
        if let Some(joined) = physical
            .strip_suffix('\\')
            .filter(|_| !is_comment(physical))
        {
            current.push_str(joined);
            current.push(' ');
            continue;
        }
        if !is_comment(physical) {
            current.push_str(physical);
        }
        lines.push(std::mem::take(&mut current));
    }
    lines.push(current);
    lines
        .iter()
        .map(|line| strip_comment(line).trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// `line` up to its comment: a `#` at the start or after white space (pip's
/// `(^|\s+)#.*$`), so that `pkg @ https://host/x#egg=pkg` keeps its fragment.
fn strip_comment(line: &str) -> &str {
    let mut previous_is_space = true;
    for (at, c) in line.char_indices() {
        if c == '#' && previous_is_space {
            return &line[..at];
        }
        previous_is_space = c.is_whitespace();
    }
    line
}

/// Every logical line of `text`, read.
pub fn parse(text: &str) -> Vec<Line> {
    logical_lines(text)
        .iter()
        .map(|line| read_line(line))
        .collect()
}

/// The files `text` includes, and whether each is a constraints file.
pub fn includes(text: &str) -> Vec<(String, bool)> {
    logical_lines(text)
        .iter()
        .filter_map(|line| include(line).map(|(path, constraint)| (path.to_owned(), constraint)))
        .collect()
}

/// One logical line.
pub fn read_line(line: &str) -> Line {
    if let Some((path, constraint)) = include(line) {
        return Line::Include {
            path: path.to_owned(),
            constraint,
        };
    }
    if line.starts_with('-') {
        return Line::Option(line.to_owned());
    }
    // pip's `break_args_options`: the requirement ends at the first word that starts
    // with `-` (`--hash=sha256:...`, `--config-settings ...`).
    let text = line
        .split(' ')
        .take_while(|word| !word.starts_with('-'))
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned();
    match Requirement::from_str(&text) {
        Ok(requirement) => Line::Requirement {
            text,
            requirement: Box::new(requirement),
        },
        Err(err) => Line::Unreadable {
            why: err.message.to_string(),
            text,
        },
    }
}

/// The file a line includes, and whether as constraints: `-r f`, `-rf`,
/// `--requirement f`, `--requirement=f`, and the same for `-c`/`--constraint`.
fn include(line: &str) -> Option<(&str, bool)> {
    for (short, long, constraint) in [("-r", "--requirement", false), ("-c", "--constraint", true)]
    {
        let rest = if let Some(rest) = line.strip_prefix(long) {
            rest.strip_prefix('=').unwrap_or(rest)
        } else if let Some(rest) = line.strip_prefix(short) {
            rest
        } else {
            continue;
        };
        let rest = rest.trim();
        if !rest.is_empty() {
            return Some((rest, constraint));
        }
    }
    None
}

/// How one requirement stands in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Satisfied,
    /// Its markers exclude this interpreter (`tomli; python_version < "3.11"` on 3.12):
    /// pip would not install it, so its absence is right.
    NotForThisPython,
    /// Its markers could not be evaluated (the interpreter did not say its environment).
    Undecided,
    Missing,
    /// Installed, but at a version the specifiers exclude (or one that is not a PEP 440
    /// version, which no specifier can admit).
    WrongVersion {
        installed: String,
    },
}

/// Judges `requirement` against the installed distributions (normalised name to
/// version) and the interpreter's markers (`None` when they are not known).
pub fn judge(
    requirement: &Requirement,
    installed: &BTreeMap<String, String>,
    markers: Option<&MarkerEnvironment>,
) -> Verdict {
    if !requirement.marker.is_true() {
        match markers {
            None => return Verdict::Undecided,
            Some(env) if !requirement.evaluate_markers(env, &[]) => {
                return Verdict::NotForThisPython;
            }
            Some(_) => {}
        }
    }
    let Some(installed) = installed.get(requirement.name.as_ref()) else {
        return Verdict::Missing;
    };
    let Some(VersionOrUrl::VersionSpecifier(specifiers)) = &requirement.version_or_url else {
        // No specifier, or a URL: any installed version is the one asked for.
        return Verdict::Satisfied;
    };
    match Version::from_str(installed) {
        Ok(version) if specifiers.contains(&version) => Verdict::Satisfied,
        _ => Verdict::WrongVersion {
            installed: installed.clone(),
        },
    }
}

/// PEP 503 name normalisation: lower case, runs of `-_.` become `-` (the form
/// [`judge`] looks installed names up by).
pub fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if "-_.".contains(c) {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Prints the PEP 508 environment markers of the interpreter that runs it, as JSON
/// (the field names of `MarkerEnvironment`); the values are computed as the standard
/// says.
pub const MARKERS_SCRIPT: &str = r#"
import json, os, platform, sys
def version(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        text += info.releaselevel[0] + str(info.serial)
    return text
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": version(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"#;

/// Reads what [`MARKERS_SCRIPT`] printed.
pub fn read_markers(json: &str) -> Result<MarkerEnvironment, String> {
    serde_json::from_str(json.trim()).map_err(|err| format!("unexpected marker output: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep508_rs::MarkerEnvironmentBuilder;

    fn env(python_full_version: &str, sys_platform: &str) -> MarkerEnvironment {
        let python_version = python_full_version
            .rsplit_once('.')
            .map_or(python_full_version, |(major_minor, _)| major_minor);
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: python_full_version,
            os_name: if sys_platform == "win32" {
                "nt"
            } else {
                "posix"
            },
            platform_machine: "x86_64",
            platform_python_implementation: "CPython",
            platform_release: "6.1.0",
            platform_system: if sys_platform == "win32" {
                "Windows"
            } else {
                "Linux"
            },
            platform_version: "#1 SMP",
            python_full_version,
            python_version,
            sys_platform,
        })
        .expect("valid versions")
    }

    fn requirement(line: &str) -> Requirement {
        match read_line(line) {
            Line::Requirement { requirement, .. } => *requirement,
            other => panic!("{line:?} read as {other:?}"),
        }
    }

    /// The cases of the issue that filed this, and their neighbours: (requirement,
    /// installed version or none, interpreter, expected verdict).
    #[test]
    fn requirements_are_judged_by_pep_440_and_508() {
        use Verdict::{Missing, NotForThisPython, Satisfied};
        let wrong = |installed: &str| Verdict::WrongVersion {
            installed: installed.to_owned(),
        };
        let cases: &[(&str, Option<&str>, &str, Verdict)] = &[
            ("torch==2.1.0", Some("2.1.0+cu121"), "3.12.1", Satisfied),
            (
                "torch==2.1.0+cu118",
                Some("2.1.0+cu121"),
                "3.12.1",
                wrong("2.1.0+cu121"),
            ),
            ("requests~=2.28", Some("3.0"), "3.12.1", wrong("3.0")),
            ("requests~=2.28", Some("2.31.0"), "3.12.1", Satisfied),
            ("requests~=2.28", Some("2.27"), "3.12.1", wrong("2.27")),
            ("django==4.*", Some("40.0"), "3.12.1", wrong("40.0")),
            ("django==4.*", Some("4.2.7"), "3.12.1", Satisfied),
            ("pkg>=1.0", Some("1.0rc1"), "3.12.1", wrong("1.0rc1")),
            ("pkg>=1.0", Some("1.0"), "3.12.1", Satisfied),
            ("pkg>=0.9", Some("0.10.2"), "3.12.1", Satisfied),
            ("pkg!=1.0", Some("1.0.0"), "3.12.1", wrong("1.0.0")),
            (
                "typing_extensions>=4.10,<5",
                Some("4.12.2"),
                "3.12.1",
                Satisfied,
            ),
            (
                "typing_extensions>=4.10,<5",
                Some("5.0"),
                "3.12.1",
                wrong("5.0"),
            ),
            (
                "Uvicorn[standard]==0.54.0",
                Some("0.54.0"),
                "3.12.1",
                Satisfied,
            ),
            (
                "pkg==1.0",
                Some("not-a-version"),
                "3.12.1",
                wrong("not-a-version"),
            ),
            ("pkg", None, "3.12.1", Missing),
            (
                "pkg @ https://example.com/pkg-1.0.tar.gz",
                Some("1.0"),
                "3.12.1",
                Satisfied,
            ),
            (
                r#"tomli; python_version < "3.11""#,
                None,
                "3.12.1",
                NotForThisPython,
            ),
            (
                r#"tomli; python_version < "3.11""#,
                None,
                "3.11.0",
                NotForThisPython,
            ),
            (
                r#"tomli; python_version < "3.11""#,
                None,
                "3.10.13",
                Missing,
            ),
            (
                r#"tomli>=1.1; python_version < "3.11""#,
                Some("2.0.1"),
                "3.10.13",
                Satisfied,
            ),
            (
                r#"pywin32; sys_platform == "win32""#,
                None,
                "3.12.1",
                NotForThisPython,
            ),
            (
                r#"uvloop; sys_platform != "win32" and python_full_version >= "3.8.1""#,
                None,
                "3.12.1",
                Missing,
            ),
        ];
        for (line, installed_version, python, expected) in cases {
            let installed: BTreeMap<String, String> = installed_version
                .map(|v| {
                    let name = requirement(line).name.to_string();
                    BTreeMap::from([(name, v.to_owned())])
                })
                .unwrap_or_default();
            let markers = env(python, "linux");
            assert_eq!(
                &judge(&requirement(line), &installed, Some(&markers)),
                expected,
                "{line} with {installed_version:?} on Python {python}"
            );
        }
    }

    #[test]
    fn markers_that_cannot_be_evaluated_are_undecided_not_missing() {
        let tomli = requirement(r#"tomli; python_version < "3.11""#);
        assert_eq!(judge(&tomli, &BTreeMap::new(), None), Verdict::Undecided);
        let plain = requirement("fastapi");
        assert_eq!(judge(&plain, &BTreeMap::new(), None), Verdict::Missing);
    }

    #[test]
    fn pip_compile_continuations_hashes_and_comments() {
        let text = "\
# This file is autogenerated by pip-compile
fastapi==0.162.5 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
    # via -r requirements.in
uvicorn[standard]==0.54.0  # the server
-r base.txt
--requirement=more.txt
-cpins.txt
--index-url https://pypi.org/simple
pkg @ https://host/pkg.zip#egg=pkg
./local/path
\\
";
        assert_eq!(
            logical_lines(text),
            [
                "fastapi==0.162.5      --hash=sha256:aaaa      --hash=sha256:bbbb",
                "uvicorn[standard]==0.54.0",
                "-r base.txt",
                "--requirement=more.txt",
                "-cpins.txt",
                "--index-url https://pypi.org/simple",
                "pkg @ https://host/pkg.zip#egg=pkg",
                "./local/path",
            ]
        );
        let lines = parse(text);
        let shown: Vec<String> = lines
            .iter()
            .map(|line| match line {
                Line::Requirement { text, requirement } => {
                    format!("requirement {text} ({})", requirement.name)
                }
                Line::Include { path, constraint } => format!("include {path} {constraint}"),
                Line::Option(text) => format!("option {text}"),
                Line::Unreadable { text, .. } => format!("unreadable {text}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "requirement fastapi==0.162.5 (fastapi)",
                "requirement uvicorn[standard]==0.54.0 (uvicorn)",
                "include base.txt false",
                "include more.txt false",
                "include pins.txt true",
                "option --index-url https://pypi.org/simple",
                "requirement pkg @ https://host/pkg.zip#egg=pkg (pkg)",
                "unreadable ./local/path",
            ]
        );
        assert_eq!(
            includes(text),
            [
                ("base.txt".to_owned(), false),
                ("more.txt".to_owned(), false),
                ("pins.txt".to_owned(), true),
            ]
        );
        assert_eq!(
            includes("-r base.txt  # shared\n"),
            [("base.txt".to_owned(), false)]
        );
        // An include split over two lines is still an include.
        assert_eq!(
            includes("-r \\\nbase.txt\n"),
            [("base.txt".to_owned(), false)]
        );
        assert_eq!(includes("requests==2\n"), []);
    }

    #[test]
    fn names_are_normalised_as_pep_503_says() {
        assert_eq!(normalise("Typing_Extensions"), "typing-extensions");
        assert_eq!(normalise("zope.interface"), "zope-interface");
        assert_eq!(normalise("a--_b"), "a-b");
        assert_eq!(
            requirement("Typing_Extensions").name.as_ref(),
            "typing-extensions"
        );
    }

    #[test]
    fn the_markers_an_interpreter_prints_are_read() {
        let json = r##"{"implementation_name": "cpython", "implementation_version": "3.12.1", "os_name": "posix", "platform_machine": "x86_64", "platform_python_implementation": "CPython", "platform_release": "6.1.0", "platform_system": "Linux", "platform_version": "#1 SMP", "python_full_version": "3.12.1", "python_version": "3.12", "sys_platform": "linux"}"##;
        let markers = read_markers(json).expect("read");
        assert_eq!(markers, env("3.12.1", "linux"));
        assert!(read_markers("3.12").is_err());
    }
}
