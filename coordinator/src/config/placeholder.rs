//! Placeholders in commands: `{host}`, `{port}`, `{url}` and `{frontend_port}` become
//! the values `dev` chose, and `{NAME.port}` / `{NAME.url}` those of a `[process.NAME]`
//! with a port, without a shell (`--port $BACKEND_PORT` would be passed literally). `{{`
//! and `}}` are a literal brace. Only `{name}` with a name of letters, digits and `_`
//! (and `NAME.field` with `-` allowed in `NAME`) is a placeholder, so a JSON argument
//! such as `{"a": 1}` passes as is.

/// The placeholders a command may use.
pub const NAMES: &[&str] = &["host", "port", "url", "frontend_port"];

/// One piece of an argument.
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Placeholder(&'a str),
}

fn pieces(arg: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..i]));
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Brace(tail.as_bytes()[0] as char));
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('{')
            && let Some(end) = tail.find('}')
            && is_name(&tail[1..end])
        {
            out.push(Piece::Placeholder(&tail[1..end]));
            rest = &tail[end + 1..];
            continue;
        }
        out.push(Piece::Text(&tail[..1]));
        rest = &tail[1..];
    }
    out.push(Piece::Text(rest));
    out
}

fn is_name(text: &str) -> bool {
    let word = |text: &str, dash: bool| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || (dash && c == '-'))
            && !text.starts_with(|c: char| c.is_ascii_digit() || c == '-')
    };
    match text.split_once('.') {
        Some((process, field)) => word(process, true) && word(field, false),
        None => word(text, false),
    }
}

/// The placeholders in `arg` that are neither in [`NAMES`] nor in `more` (the
/// `NAME.port` and `NAME.url` of the processes with a port).
pub fn unknown(arg: &str, more: &[String]) -> Vec<String> {
    pieces(arg)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Placeholder(name)
                if !NAMES.contains(&name) && !more.iter().any(|m| m == name) =>
            {
                Some(format!("{{{name}}}"))
            }
            _ => None,
        })
        .collect()
}

/// `arg` with each placeholder replaced by its value (an unknown one is left as it is;
/// the config loader refuses those before anything runs).
pub fn expand(arg: &str, values: &[(&str, String)]) -> String {
    pieces(arg)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.to_owned(),
            Piece::Brace(brace) => brace.to_string(),
            Piece::Placeholder(name) => values
                .iter()
                .find(|(key, _)| *key == name)
                .map_or_else(|| format!("{{{name}}}"), |(_, value)| value.clone()),
        })
        .collect()
}

/// Commands may use only the known placeholders; each unknown one is a problem at
/// the place the command was set.
pub(super) fn check(config: &super::Config, problems: &mut Vec<super::Problem>) {
    let more: Vec<String> = config
        .processes
        .iter()
        .filter(|p| p.port.is_some())
        .flat_map(|p| [format!("{}.port", p.name), format!("{}.url", p.name)])
        .collect();
    let mut commands = vec![
        ("backend.command".to_owned(), &config.backend.command, None),
        (
            "frontend.command".to_owned(),
            &config.frontend.command,
            None,
        ),
    ];
    for p in &config.processes {
        let at = p.sources.get("command").cloned();
        commands.push((format!("process.{}.command", p.name), &p.command, at));
    }
    for (key, argv, at) in commands {
        for name in argv.iter().flat_map(|arg| unknown(arg, &more)) {
            let location = match at.as_ref().unwrap_or_else(|| config.source(&key)) {
                super::Source::File { path, line } => format!("{}:{line}", path.display()),
                super::Source::Env(var) => format!("environment variable {var}"),
                other => other.to_string(),
            };
            let known = NAMES
                .iter()
                .map(|n| (*n).to_owned())
                .chain(more.iter().cloned())
                .map(|n| format!("{{{n}}}"))
                .collect::<Vec<_>>();
            let bare = name.trim_matches(|c| c == '{' || c == '}');
            let portless = bare.split_once('.').and_then(|(process, field)| {
                let found = config
                    .processes
                    .iter()
                    .any(|p| p.name == process && p.port.is_none());
                (found && matches!(field, "port" | "url")).then_some(process)
            });
            if let Some(process) = portless {
                problems.push(super::Problem {
                    location,
                    message: format!("`{name}` in `{key}`: [process.{process}] has no `port`"),
                    fix: format!("give [process.{process}] a `port`, or remove `{name}`"),
                });
                continue;
            }
            problems.push(super::Problem {
                location,
                message: format!("unknown placeholder `{name}` in `{key}`"),
                fix: format!(
                    "use {} (or write {{{{ for a literal brace)",
                    known.join(", ")
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_escapes_and_json() {
        let values = [
            ("host", "127.0.0.1".to_owned()),
            ("port", "8001".to_owned()),
        ];
        let cases = [
            ("--port={port}", "--port=8001"),
            ("{host}:{port}", "127.0.0.1:8001"),
            ("{{port}}", "{port}"),
            (r#"{"a": 1}"#, r#"{"a": 1}"#),
            ("plain", "plain"),
            ("}{", "}{"),
        ];
        for (arg, expected) in cases {
            assert_eq!(expand(arg, &values), expected, "{arg}");
        }
        assert_eq!(unknown("--port={prot}", &[]), ["{prot}"]);
        assert!(unknown("{{prot}} {port} {\"x\": 1}", &[]).is_empty());
        let more = ["redis.port".to_owned()];
        assert!(unknown("--port={redis.port}", &more).is_empty());
        assert_eq!(unknown("{redis.url} {a-b}", &more), ["{redis.url}"]);
        assert_eq!(
            expand("{electron-main.url}", &[("electron-main.url", "x".into())]),
            "x"
        );
    }
}
