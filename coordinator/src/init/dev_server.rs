//! The dev servers `init` knows (Vite, Next, webpack-dev-server): how to tell one from
//! a `package.json` script, its port and strict-port flags, the command `dev` runs it
//! with, and the Vite major version an app asks for.

use std::path::Path;

use super::shown_path;

/// A dev server `init` knows: how to tell it from a script, and its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DevServer {
    pub(super) name: &'static str,
    /// A word of the script that names it.
    pub(super) word: &'static str,
    pub(super) port: u16,
    pub(super) port_flag: &'static str,
    pub(super) strict_flag: Option<&'static str>,
    pub(super) host_flag: &'static str,
}

/// The dev servers, in the order a script is matched against them.
const DEV_SERVERS: &[DevServer] = &[
    DevServer {
        name: "Vite",
        word: "vite",
        port: 5173,
        port_flag: "--port",
        strict_flag: Some("--strictPort"),
        host_flag: "--host",
    },
    DevServer {
        name: "Next",
        word: "next",
        port: 3000,
        port_flag: "-p",
        strict_flag: None,
        host_flag: "-H",
    },
    DevServer {
        name: "webpack-dev-server",
        word: "webpack",
        port: 8080,
        port_flag: "--port",
        strict_flag: None,
        host_flag: "--host",
    },
];

/// The strict-port flag of the dev server a command runs (`--strictPort` for Vite),
/// when it is one `init` knows and it has one: `dev` names it when a server moved.
pub(crate) fn strict_flag(command: &str) -> Option<&'static str> {
    dev_server(command)?.strict_flag
}

/// The dev server a script runs, if `init` knows it.
pub(super) fn dev_server(script: &str) -> Option<&'static DevServer> {
    DEV_SERVERS.iter().find(|server| {
        script
            .split_whitespace()
            .any(|word| word == server.word || word.ends_with(&format!("/{}", server.word)))
    })
}

/// `npm [--prefix DIR] run SCRIPT -- <port flag> {frontend_port} [strict] <host flag>
/// 127.0.0.1`: the script keeps its other flags; Node 17+ may bind `localhost` to ::1
/// only, and dev looks on 127.0.0.1.
pub(super) fn frontend_command(
    dir: &Path,
    script: &str,
    server: Option<&DevServer>,
) -> Vec<String> {
    let mut command = vec!["npm".to_owned()];
    if !dir.as_os_str().is_empty() {
        command.extend(["--prefix".to_owned(), shown_path(dir)]);
    }
    command.extend(["run".to_owned(), script.to_owned()]);
    if let Some(server) = server {
        command.extend(["--", server.port_flag, "{frontend_port}"].map(str::to_owned));
        command.extend(server.strict_flag.map(str::to_owned));
        command.extend([server.host_flag, "127.0.0.1"].map(str::to_owned));
    }
    command
}

/// The major version of Vite a `package.json` asks for (`"^8.3.4"`, `"~8.0.0"`, `"8"`).
pub(super) fn vite_major(json: &serde_json::Value) -> Option<u32> {
    let wanted = ["devDependencies", "dependencies"]
        .iter()
        .find_map(|table| json[*table]["vite"].as_str())?;
    let digits: String = wanted
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The number after `flag` (`--port 3000`, `--port=3000`, `-p 3000`) in a script.
pub(super) fn flag_value(script: &str, flag: &str) -> Option<u16> {
    if flag.is_empty() {
        return None;
    }
    let words: Vec<&str> = script.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, word)| {
        if *word == flag {
            words.get(i + 1)?.parse().ok()
        } else {
            word.strip_prefix(flag)?.strip_prefix('=')?.parse().ok()
        }
    })
}
