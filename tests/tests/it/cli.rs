//! The command line itself: `--version` on `cargo xtask` and on every subcommand, and
//! `cargo xtask completions <shell>`.

use crate::support::xtask_command;

/// Every subcommand, as typed.
const SUBCOMMANDS: &[&str] = &[
    "dev",
    "doctor",
    "pre-commit",
    "install-hooks",
    "port",
    "bench",
    "completions",
];

/// `(exit code, stdout, stderr)` of `dev-xtask <args>` in an empty folder (no
/// `dev.toml`: neither flag may need one).
fn run(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = xtask_command(dir.path(), args).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn version_on_the_command_and_every_subcommand() {
    let (code, out, err) = run(&["--version"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let version = out
        .strip_prefix("cargo xtask ")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|n| n.parse::<u32>().is_ok()),
        "{out:?}"
    );
    for sub in SUBCOMMANDS {
        let (code, out, err) = run(&[sub, "--version"]);
        assert_eq!((code, err.as_str()), (0, ""), "{sub}: {out}");
        assert_eq!(out, format!("cargo xtask {sub} {version}\n"), "{sub}");
    }
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, script, err) = run(&["completions", shell]);
        assert_eq!((code, err.as_str()), (0, ""), "{shell}");
        assert!(script.contains("xtask"), "{shell}: {script}");
        for sub in SUBCOMMANDS {
            assert!(
                script.contains(sub),
                "{shell}: {sub} missing from\n{script}"
            );
        }
        // The flags of a subcommand too, not only the names.
        assert!(script.contains("print-config"), "{shell}");
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("possible values"), "{err}");
}
