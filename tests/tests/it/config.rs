//! Config layering and every config error, with the exact messages people see.

use std::collections::HashMap;
use std::time::Duration;

use coordinator::config::{Config, FlagValue, Source, Value};

use crate::support::Checkout;

fn load(checkout: &Checkout, env: &[(&str, &str)], flags: &[FlagValue]) -> Result<Config, String> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::load(checkout.path(), &|name| env.get(name).cloned(), flags)
        .map_err(|err| err.to_string())
}

fn error_for(toml: &str) -> String {
    let checkout = Checkout::new();
    checkout.write("dev.toml", toml);
    load(&checkout, &[], &[]).expect_err("the config is invalid")
}

#[test]
fn layers_apply_in_order_and_remember_their_source() {
    let checkout = Checkout::new();
    checkout.write(
        "dev.toml",
        "[backend]\nport = 8100\nhost = \"127.0.0.1\"\nstartup_timeout = \"10s\"\n",
    );
    let config = load(&checkout, &[], &[]).unwrap();
    assert_eq!(config.backend.port, 8100);
    assert_eq!(
        config.backend.attempts, 3,
        "untouched keys keep their default"
    );
    assert_eq!(config.backend.startup_timeout, Duration::from_secs(10));
    assert_eq!(
        config.source("backend.port"),
        &Source::File {
            path: "dev.toml".into(),
            line: 2
        }
    );
    assert_eq!(config.source("backend.attempts"), &Source::Default);

    let env = [
        ("BACKEND_PORT", "8200"),
        ("DEV_BACKEND_ATTEMPTS", "5"),
        ("DEV_FRONTEND_COMMAND", r#"["npm", "run", "dev"]"#),
    ];
    let config = load(&checkout, &env, &[]).unwrap();
    assert_eq!(config.backend.port, 8200, "environment beats the file");
    assert_eq!(config.backend.attempts, 5);
    assert_eq!(config.frontend.command, ["npm", "run", "dev"]);
    assert_eq!(
        config.source("backend.port"),
        &Source::Env("BACKEND_PORT".into())
    );

    let flag = FlagValue {
        key: "backend.port",
        flag: "--port",
        value: Value::Port(8300),
    };
    let config = load(&checkout, &env, &[flag]).unwrap();
    assert_eq!(config.backend.port, 8300, "a flag beats the environment");
    assert_eq!(
        config.source("backend.port"),
        &Source::Flag("--port".into())
    );
    assert_eq!(config.root, checkout.path());
    assert_eq!(config.backend.venv, checkout.path().join("backend/.venv"));
}

#[test]
fn the_config_file_is_found_from_a_subfolder() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 8123\n");
    checkout.write("frontend/src/.keep", "");
    let env = HashMap::<String, String>::new();
    let config = Config::load(
        &checkout.file("frontend/src"),
        &|n| env.get(n).cloned(),
        &[],
    )
    .unwrap();
    assert_eq!(config.backend.port, 8123);
    assert_eq!(config.root, checkout.path());
}

#[test]
fn an_empty_config_file_gives_the_defaults() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    let config = load(&checkout, &[], &[]).unwrap();
    assert_eq!(config.backend.port, 8000);
    assert_eq!(config.backend.command, ["python", "backend/main.py"]);
    assert_eq!(config.file, Some(checkout.file("dev.toml")));
}

#[test]
fn unknown_key_names_file_line_column_and_the_valid_keys() {
    assert_eq!(
        error_for("[backend]\nport = 8000\n  prot = 8001\n"),
        "dev.toml:3:3: unknown key `backend.prot`\n  fix: [backend] accepts: command, after, service, \
         host, port, health_path, health_format, startup_timeout, health_timeout, attempts, \
         retry_delay, accept_degraded, show_health_logs, requirements, venv, extras, \
         liveness_interval, liveness_failures, max_retry_delay, max_restarts, watch, watch_ignore, \
         watch_debounce, url, ca_file"
    );
}

#[test]
fn unknown_section_is_an_error() {
    assert_eq!(
        error_for("[backnd]\nport = 1\n"),
        "dev.toml:1:2: unknown section [backnd]\n  fix: the sections are [backend], [frontend], [dev] and [process.NAME]"
    );
}

#[test]
fn wrong_type_names_the_expected_form() {
    assert_eq!(
        error_for("[backend]\nport = \"8000\"\n"),
        "dev.toml:2:8: invalid value \"8000\" for `backend.port`: expected a port number from 1 \
         to 65535\n  fix: set `backend.port` to a port number from 1 to 65535"
    );
    assert_eq!(
        error_for("[frontend]\ncommand = \"node server.js\"\n"),
        "dev.toml:2:11: invalid value \"node server.js\" for `frontend.command`: expected a \
         non-empty array of strings, e.g. [\"python\", \"backend/main.py\"]\n  fix: set \
         `frontend.command` to a non-empty array of strings, e.g. [\"python\", \"backend/main.py\"]"
    );
}

#[test]
fn out_of_range_ports_are_errors() {
    for bad in ["70000", "0", "-1"] {
        let message = error_for(&format!("[backend]\nport = {bad}\n"));
        assert!(
            message.starts_with(&format!(
                "dev.toml:2:8: invalid value {bad} for `backend.port`: expected a port number from 1 to 65535"
            )),
            "{message}"
        );
    }
}

#[test]
fn unparsable_durations_are_errors() {
    assert_eq!(
        error_for("[backend]\nstartup_timeout = 30\nretry_delay = \"2 seconds\"\n"),
        "dev.toml:2:19: invalid value 30 for `backend.startup_timeout`: expected a duration \
         from 1ms to 24h such as \"500ms\", \"30s\" or \"1m\"\n  fix: set `backend.startup_timeout` \
         to a duration from 1ms to 24h such as \"500ms\", \"30s\" or \"1m\"\n\
         dev.toml:3:15: invalid value \"2 seconds\" for `backend.retry_delay`: expected \
         \"0s\" or a duration from 1ms to 24h such as \"500ms\" or \"2s\"\n  fix: set \
         `backend.retry_delay` to \"0s\" or a duration from 1ms to 24h such as \"500ms\" or \"2s\""
    );
}

#[test]
fn toml_syntax_errors_point_at_the_position() {
    let message = error_for("[backend]\nport = = 8000\n");
    assert!(message.starts_with("dev.toml:2:"), "{message}");
    assert!(message.contains("invalid TOML"), "{message}");
}

#[test]
fn invalid_environment_overrides_name_the_variable() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    for (var, value, expected) in [
        ("BACKEND_PORT", "abc", "a port number from 1 to 65535"),
        ("BACKEND_PORT", "0", "a port number from 1 to 65535"),
        ("BACKEND_PORT", "70000", "a port number from 1 to 65535"),
        ("BACKEND_HOST", "10.0.0.8", "a loopback address"),
        (
            "DEV_BACKEND_STARTUP_TIMEOUT",
            "soon",
            "a duration from 1ms to 24h",
        ),
    ] {
        let message = load(&checkout, &[(var, value)], &[]).expect_err("invalid env");
        assert!(
            message.starts_with(&format!(
                "environment variable {var}: invalid value {value:?}"
            )),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
        assert!(
            message.contains(&format!("fix: unset {var} or set it to")),
            "{message}"
        );
    }
}

#[test]
fn the_cli_exits_2_on_a_config_error_and_names_the_place() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 70000\n");
    let (status, output) = checkout.run(&["dev", "--no-sync"], Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("dev.toml:2:8: invalid value 70000"),
        "{output}"
    );

    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    let mut command = checkout.command(&["dev", "--print-config"]);
    command.env("BACKEND_PORT", "abc");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("environment variable BACKEND_PORT"),
        "{stderr}"
    );
}

#[test]
fn print_config_shows_values_and_sources() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nattempts = 4\n");
    let mut command = checkout.command(&["dev", "--print-config", "--port", "8555"]);
    command.env("DEV_BACKEND_RETRY_DELAY", "1s");
    let output = command.output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("backend.attempts").contains("= 4"), "{stdout}");
    assert!(
        line("backend.attempts").contains("# dev.toml:2"),
        "{stdout}"
    );
    assert!(line("backend.port").contains("# flag --port"), "{stdout}");
    assert!(
        line("backend.retry_delay").contains("# env DEV_BACKEND_RETRY_DELAY"),
        "{stdout}"
    );
    assert!(line("backend.host").contains("# default"), "{stdout}");
}

#[test]
fn the_frontend_port_comes_from_the_file_either_variable_or_the_flag_and_can_be_off() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    let config = load(&checkout, &[], &[]).unwrap();
    assert_eq!(config.frontend.port, Some(5173), "the default");
    assert_eq!(config.frontend.host, "127.0.0.1");
    assert_eq!(
        config.frontend_url().as_deref(),
        Some("http://127.0.0.1:5173")
    );

    checkout.write(
        "dev.toml",
        "[frontend]\nport = false\norigins = [\"app://-\"]\nready_path = \"/ready\"\n",
    );
    let config = load(&checkout, &[], &[]).unwrap();
    assert_eq!(config.frontend.port, None);
    assert_eq!(config.frontend_url(), None);
    assert_eq!(config.frontend.origins, ["app://-"]);
    assert_eq!(config.frontend.ready_path.as_deref(), Some("/ready"));

    let config = load(&checkout, &[("FRONTEND_PORT", "5200")], &[]).unwrap();
    assert_eq!(config.frontend.port, Some(5200));
    let config = load(&checkout, &[("DEV_FRONTEND_PORT", "5300")], &[]).unwrap();
    assert_eq!(
        config.frontend.port,
        Some(5300),
        "the scheme's name works too"
    );
    assert_eq!(
        config.source("frontend.port"),
        &Source::Env("DEV_FRONTEND_PORT".into())
    );
    let both = [("FRONTEND_PORT", "5200"), ("DEV_FRONTEND_PORT", "5300")];
    let err = load(&checkout, &both, &[]).unwrap_err();
    assert!(
        err.contains("both set `frontend.port`"),
        "two values: {err}"
    );
    let flag = FlagValue {
        key: "frontend.port",
        flag: "--frontend-port",
        value: Value::OptionalPort(Some(5400)),
    };
    let config = load(&checkout, &[("FRONTEND_PORT", "5200")], &[flag]).unwrap();
    assert_eq!(config.frontend.port, Some(5400), "the flag wins");

    let err = load(&checkout, &[("DEV_FRONTEND_PORT", "70000")], &[]).unwrap_err();
    assert!(
        err.contains("environment variable DEV_FRONTEND_PORT"),
        "{err}"
    );
    let err = error_for("[frontend]\norigins = [\"*\"]\n");
    assert!(
        err.contains("invalid value [\"*\"] for `frontend.origins`"),
        "{err}"
    );
}

#[test]
fn dev_doctor_and_port_outside_a_checkout_exit_2_and_create_nothing() {
    let outside = Checkout::new();
    for args in [
        &["dev"][..],
        &["doctor"],
        &["port"],
        &["dev", "--print-config"],
    ] {
        let output = outside.command(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "no dev.toml in {} or any parent",
                outside.path().display()
            )),
            "{args:?}: {stderr}"
        );
    }
    let created: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(created.is_empty(), "created {created:?}");
}

#[test]
fn a_dangling_or_folder_dev_toml_is_an_error_not_a_reason_to_use_the_parents() {
    let parent = Checkout::new();
    parent.write("dev.toml", "[backend]\nport = 8100\n");
    let child = parent.file("child");
    std::fs::create_dir_all(&child).unwrap();
    std::os::unix::fs::symlink("missing.toml", child.join("dev.toml")).unwrap();
    let err = Config::load(&child, &|_| None, &[]).expect_err("dangling");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: is a symlink to missing.toml, which cannot be read",
            child.join("dev.toml").display()
        )),
        "{text}"
    );
    let output = crate::support::xtask_command(&child, &["dev", "--print-config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));

    std::fs::remove_file(child.join("dev.toml")).unwrap();
    std::fs::create_dir(child.join("dev.toml")).unwrap();
    let err = Config::load(&child, &|_| None, &[]).expect_err("a folder");
    assert!(
        err.to_string()
            .contains("dev.toml: is a folder, not a config file"),
        "{err}"
    );

    // A symlink to a real file is accepted, as before.
    std::fs::remove_dir(child.join("dev.toml")).unwrap();
    std::os::unix::fs::symlink("../dev.toml", child.join("dev.toml")).unwrap();
    let config = Config::load(&child, &|_| None, &[]).unwrap();
    assert_eq!(config.backend.port, 8100);
    assert_eq!(config.root, child);
}

#[test]
fn print_config_into_a_closed_pipe_exits_0_without_a_panic() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 8100\n");
    // `| head -1` that already exited: the read end is closed before anything is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = checkout
        .command(&["dev", "--print-config"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn dev_backend_port_is_read_as_the_scheme_says_and_a_conflict_is_an_error() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 8100\n");
    let config = load(&checkout, &[("DEV_BACKEND_PORT", "8200")], &[]).unwrap();
    assert_eq!(config.backend.port, 8200);
    assert_eq!(
        config.source("backend.port"),
        &Source::Env("DEV_BACKEND_PORT".into())
    );
    let message = load(
        &checkout,
        &[("DEV_BACKEND_PORT", "8200"), ("BACKEND_PORT", "8300")],
        &[],
    )
    .expect_err("two values");
    assert!(
        message.starts_with(
            "environment variables BACKEND_PORT and DEV_BACKEND_PORT: both set `backend.port`"
        ),
        "{message}"
    );
    let config = load(
        &checkout,
        &[("DEV_BACKEND_PORT", "8300"), ("BACKEND_PORT", "8300")],
        &[],
    )
    .unwrap();
    assert_eq!(config.backend.port, 8300);
}

#[test]
fn extras_are_pep_685_names_from_the_file_or_the_environment() {
    let checkout = Checkout::new();
    checkout.write(
        "dev.toml",
        "[backend]\nextras = [\"dev\", \"Test_Tools\"]\n",
    );
    let config = load(&checkout, &[], &[]).unwrap();
    assert_eq!(config.backend.extras, ["dev", "Test_Tools"]);
    let config = load(&checkout, &[("DEV_BACKEND_EXTRAS", "docs lint")], &[]).unwrap();
    assert_eq!(config.backend.extras, ["docs", "lint"]);
    let err = error_for("[backend]\nextras = [\"dev\", \"-x\"]\n");
    assert!(err.starts_with("dev.toml:2:10: "), "{err}");
    assert!(err.contains("optional-dependency names"), "{err}");
}
