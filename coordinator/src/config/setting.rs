//! The table of settings: each key's environment variable, the kind of value it takes,
//! and the one parser per kind that the file, environment and flag layers all share.
//!
//! Keeping one table means a new setting is one line here plus one arm in
//! [`super::Config::apply`], and it is then loadable from every layer with the same
//! validation and the same error wording.

use std::time::Duration;

use toml::de::DeValue;

use super::duration;

/// One configurable value.
#[derive(Debug)]
pub struct Setting {
    /// Dotted key as written in `dev.toml`: `backend.port`.
    pub key: &'static str,
    /// The environment variable that overrides it.
    pub env: &'static str,
    pub kind: Kind,
}

/// Every setting, in the order `--print-config` shows them.
pub const SETTINGS: &[Setting] = &[
    s("backend.command", "DEV_BACKEND_COMMAND", Kind::Argv),
    s("backend.service", "DEV_BACKEND_SERVICE", Kind::Text),
    s("backend.host", "BACKEND_HOST", Kind::Host),
    s("backend.port", "BACKEND_PORT", Kind::Port),
    s(
        "backend.health_path",
        "DEV_BACKEND_HEALTH_PATH",
        Kind::HttpPath,
    ),
    s(
        "backend.startup_timeout",
        "DEV_BACKEND_STARTUP_TIMEOUT",
        Kind::Timeout,
    ),
    s(
        "backend.health_timeout",
        "DEV_BACKEND_HEALTH_TIMEOUT",
        Kind::Timeout,
    ),
    s("backend.attempts", "DEV_BACKEND_ATTEMPTS", Kind::Attempts),
    s(
        "backend.retry_delay",
        "DEV_BACKEND_RETRY_DELAY",
        Kind::Delay,
    ),
    s(
        "backend.accept_degraded",
        "DEV_BACKEND_ACCEPT_DEGRADED",
        Kind::Bool,
    ),
    s(
        "backend.requirements",
        "DEV_BACKEND_REQUIREMENTS",
        Kind::Path,
    ),
    s("backend.venv", "DEV_BACKEND_VENV", Kind::Path),
    s("frontend.command", "DEV_FRONTEND_COMMAND", Kind::Argv),
    s(
        "frontend.config_file",
        "DEV_FRONTEND_CONFIG_FILE",
        Kind::Path,
    ),
    s("frontend.port_key", "DEV_FRONTEND_PORT_KEY", Kind::Text),
    s("dev.shutdown_grace", "DEV_SHUTDOWN_GRACE", Kind::Delay),
    s("dev.log_dir", "DEV_LOG_DIR", Kind::Path),
];

const fn s(key: &'static str, env: &'static str, kind: Kind) -> Setting {
    Setting { key, env, kind }
}

/// Settings whose variable is not `DEV_<SECTION>_<KEY>` (they use the names the
/// frontend and backend already read) also answer to that name.
const ALIASES: &[(&str, &str)] = &[
    ("backend.port", "DEV_BACKEND_PORT"),
    ("backend.host", "DEV_BACKEND_HOST"),
];

/// The `DEV_<SECTION>_<KEY>` alias of a setting, if it has one.
pub fn alias(key: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, alias)| *alias)
}

/// Looks a dotted key up in [`SETTINGS`].
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

/// The shape a setting's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A program and its arguments: no shell is involved.
    Argv,
    Text,
    /// A loopback address: the coordinator only ever talks to this machine.
    Host,
    Port,
    /// An HTTP path starting with `/`.
    HttpPath,
    /// A duration greater than zero.
    Timeout,
    /// A duration, zero allowed.
    Delay,
    /// A number of tries, 1 to 10.
    Attempts,
    Bool,
    /// A path, relative to the checkout root unless absolute.
    Path,
}

/// A validated value, ready to be applied to a [`super::Config`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Argv(Vec<String>),
    Text(String),
    Port(u16),
    Duration(Duration),
    Count(u32),
    Bool(bool),
}

impl Kind {
    /// What a valid value looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Argv => r#"a non-empty array of strings, e.g. ["python", "backend/main.py"]"#,
            Kind::Text => "a non-empty string",
            Kind::Host => r#"a loopback address such as "127.0.0.1" or "::1""#,
            Kind::Port => "a port number from 1 to 65535",
            Kind::HttpPath => r#"a path starting with "/", e.g. "/health""#,
            Kind::Timeout => r#"a duration above zero such as "500ms", "30s" or "1m""#,
            Kind::Delay => r#"a duration such as "0s", "500ms" or "2s""#,
            Kind::Attempts => "a whole number from 1 to 10",
            Kind::Bool => "true or false",
            Kind::Path => "a non-empty path string",
        }
    }

    /// Validates a value from `dev.toml`.
    pub fn parse_toml(self, value: &DeValue<'_>) -> Option<Value> {
        match (self, value) {
            (Kind::Argv, DeValue::Array(items)) => {
                let argv: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.get_ref().as_str().map(str::to_owned))
                    .collect();
                argv_value(argv?)
            }
            (Kind::Port | Kind::Attempts, DeValue::Integer(int)) => {
                // TOML allows `8_000`; the digits are what count.
                let digits = int.as_str().replace('_', "");
                let number = i64::from_str_radix(&digits, int.radix()).ok()?;
                self.parse_number(number)
            }
            (Kind::Bool, DeValue::Boolean(flag)) => Some(Value::Bool(*flag)),
            (Kind::Argv | Kind::Port | Kind::Attempts | Kind::Bool, _) => None,
            (_, DeValue::String(text)) => self.parse_text(text),
            _ => None,
        }
    }

    /// Validates a value from the environment or a flag, where everything is text.
    pub fn parse_text(self, text: &str) -> Option<Value> {
        match self {
            Kind::Argv => argv_value(parse_argv(text)?),
            Kind::Text | Kind::Path => {
                (!text.trim().is_empty()).then(|| Value::Text(text.to_owned()))
            }
            Kind::Host => is_loopback(text).then(|| Value::Text(text.to_owned())),
            Kind::HttpPath => text.starts_with('/').then(|| Value::Text(text.to_owned())),
            Kind::Port | Kind::Attempts => self.parse_number(text.trim().parse().ok()?),
            Kind::Timeout => duration::parse(text)
                .filter(|d| !d.is_zero())
                .map(Value::Duration),
            Kind::Delay => duration::parse(text).map(Value::Duration),
            Kind::Bool => match text.trim() {
                "true" | "1" | "yes" => Some(Value::Bool(true)),
                "false" | "0" | "no" => Some(Value::Bool(false)),
                _ => None,
            },
        }
    }

    fn parse_number(self, number: i64) -> Option<Value> {
        match self {
            Kind::Port => u16::try_from(number)
                .ok()
                .filter(|port| *port != 0)
                .map(Value::Port),
            Kind::Attempts => u32::try_from(number)
                .ok()
                .filter(|n| (1..=10).contains(n))
                .map(Value::Count),
            _ => None,
        }
    }
}

fn argv_value(argv: Vec<String>) -> Option<Value> {
    (!argv.is_empty() && argv.iter().all(|arg| !arg.is_empty())).then_some(Value::Argv(argv))
}

/// Environment form of an argv: a TOML array (`["python", "main.py"]`) when it starts
/// with `[`, else words split on whitespace (no quoting: use the array form for spaces).
fn parse_argv(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if text.starts_with('[') {
        let value = DeValue::parse(text).ok()?;
        let items = value.get_ref().as_array()?;
        items
            .iter()
            .map(|item| item.get_ref().as_str().map(str::to_owned))
            .collect()
    } else {
        Some(text.split_whitespace().map(str::to_owned).collect())
    }
}

/// Loopback, or a wildcard bind address (whose health is then probed on loopback).
fn is_loopback(host: &str) -> bool {
    match host {
        "localhost" => true,
        _ => host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_per_kind() {
        let cases: &[(Kind, &str, Option<Value>)] = &[
            (Kind::Port, "8000", Some(Value::Port(8000))),
            (Kind::Port, "0", None),
            (Kind::Port, "70000", None),
            (Kind::Port, "abc", None),
            (
                Kind::Host,
                "127.0.0.1",
                Some(Value::Text("127.0.0.1".into())),
            ),
            (Kind::Host, "::1", Some(Value::Text("::1".into()))),
            (Kind::Host, "192.168.1.4", None),
            (Kind::Host, "example.com", None),
            (Kind::Attempts, "3", Some(Value::Count(3))),
            (Kind::Attempts, "0", None),
            (Kind::Timeout, "0s", None),
            (Kind::Delay, "0s", Some(Value::Duration(Duration::ZERO))),
            (Kind::Bool, "maybe", None),
            (Kind::HttpPath, "health", None),
            (
                Kind::Argv,
                r#"["python", "a b.py"]"#,
                Some(Value::Argv(vec!["python".into(), "a b.py".into()])),
            ),
            (
                Kind::Argv,
                "node server.js",
                Some(Value::Argv(vec!["node".into(), "server.js".into()])),
            ),
            (Kind::Argv, "  ", None),
        ];
        for (kind, text, expected) in cases {
            assert_eq!(&kind.parse_text(text), expected, "{kind:?} from {text:?}");
        }
    }

    #[test]
    fn every_env_name_is_unique() {
        for (i, a) in SETTINGS.iter().enumerate() {
            for b in &SETTINGS[i + 1..] {
                assert_ne!(a.env, b.env);
                assert_ne!(a.key, b.key);
            }
            for (_, alias) in ALIASES {
                assert_ne!(a.env, *alias);
            }
        }
    }
}
