//! Writing the backend's address into the frontend's config file, so that the frontend
//! can never talk to a port the backend is not on.
//!
//! The format comes from the extension (`.json`, `.toml`, `.env`). Only the value's
//! own bytes change: everything else (key order, comments, formatting) is preserved
//! byte for byte, by replacing the value's span rather than re-serialising. Writes are
//! atomic (a temporary file in the same folder, then a rename), skipped when the value
//! is already right, and undone on exit only if the file still holds what was written.

mod json;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// A file format the writer understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
    Env,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".json") {
            Some(Format::Json)
        } else if name.ends_with(".toml") {
            Some(Format::Toml)
        } else if name == ".env" || name.ends_with(".env") || name.starts_with(".env.") {
            Some(Format::Env)
        } else {
            None
        }
    }
}

/// One value changed: `backend.port 8000 -> 8001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
}

/// What was written, so that it can be undone (also after a crash: it is saved).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Written {
    pub path: PathBuf,
    pub previous: Vec<u8>,
    pub written: Vec<u8>,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// The file already holds the address.
    Unchanged,
    Written {
        changes: Vec<Change>,
        undo: Written,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    Restored,
    /// Someone edited the file after `dev` wrote it: their edit wins.
    EditedMeanwhile,
    Failed(String),
}

/// The frontend config cannot be read, parsed or written. The file is untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FrontendConfigError {
    /// `frontend/config.json` or `frontend/config.json:3:7`.
    pub location: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for FrontendConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}\n  fix: {}",
            self.location, self.message, self.fix
        )
    }
}

/// The value at `key` as written (without quotes), `None` when the key is absent.
pub fn read(path: &Path, shown: &str, key: &str) -> Result<Option<String>, FrontendConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| FrontendConfigError {
        location: shown.to_owned(),
        message: format!("cannot read: {err}"),
        fix: "create it, or correct `frontend.config_file` in dev.toml".into(),
    })?;
    read_text(path, shown, &text, key)
}

/// [`read`] on content already in hand (a staged file); `path` gives the format.
pub fn read_text(
    path: &Path,
    shown: &str,
    text: &str,
    key: &str,
) -> Result<Option<String>, FrontendConfigError> {
    let format = Format::of(path).ok_or_else(|| FrontendConfigError {
        location: shown.to_owned(),
        message: "unknown format".into(),
        fix: "use a .json, .toml or .env file for `frontend.config_file`".into(),
    })?;
    let span = match format {
        Format::Json => find_json(text, shown, key)?,
        Format::Toml => find_toml(text, shown, key)?,
        Format::Env => find_env(text, key),
    };
    Ok(span.map(|span| {
        text[span]
            .trim_matches(|c| c == '"' || c == '\'')
            .to_owned()
    }))
}

/// Points the frontend config at `host:port`. `shown` is the path as messages print it.
pub fn point_at(
    path: &Path,
    shown: &str,
    port_key: &str,
    host: &str,
    port: u16,
) -> Result<Outcome, FrontendConfigError> {
    point_at_with_url(path, shown, port_key, host, port, None)
}

/// As [`point_at`], and also writes the backend's whole URL at `url`'s key (as a
/// string) when one is given: `frontend.url_key`, so that a frontend can learn the
/// scheme of a backend at `https://`.
pub fn point_at_with_url(
    path: &Path,
    shown: &str,
    port_key: &str,
    host: &str,
    port: u16,
    url: Option<(&str, &str)>,
) -> Result<Outcome, FrontendConfigError> {
    let error = |location: String, message: String, fix: &str| FrontendConfigError {
        location,
        message,
        fix: fix.to_owned(),
    };
    let format = Format::of(path).ok_or_else(|| {
        error(
            shown.to_owned(),
            "unknown format".into(),
            "use a .json, .toml or .env file for `frontend.config_file`",
        )
    })?;
    let bytes = std::fs::read(path).map_err(|err| {
        error(
            shown.to_owned(),
            format!("cannot read: {err}"),
            "create it, or correct `frontend.config_file` in dev.toml",
        )
    })?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| {
        error(
            shown.to_owned(),
            "not UTF-8 text".into(),
            "save it as UTF-8",
        )
    })?;
    let host_key = host_key_for(port_key);
    let mut edits: Vec<(Range<usize>, String, Change)> = Vec::new();
    // (key, value, required, always a string)
    let mut wanted = vec![(port_key.to_owned(), port.to_string(), true, false)];
    if let Some(host_key) = host_key {
        wanted.push((host_key, host.to_owned(), false, true));
    }
    if let Some((url_key, url)) = url {
        wanted.push((url_key.to_owned(), url.to_owned(), true, true));
    }
    for (key, value, required, string) in wanted {
        let found = match format {
            Format::Json => find_json(&text, shown, &key)?,
            Format::Toml => find_toml(&text, shown, &key)?,
            Format::Env => find_env(&text, &key),
        };
        let Some(span) = found else {
            if required && format == Format::Env {
                let insert = text.len()..text.len();
                let newline = if text.is_empty() || text.ends_with('\n') {
                    ""
                } else {
                    "\n"
                };
                let change = Change {
                    key: key.clone(),
                    old: "(unset)".into(),
                    new: value.clone(),
                };
                edits.push((insert, format!("{newline}{key}={value}\n"), change));
            } else if required && key == port_key {
                return Err(error(
                    shown.to_owned(),
                    format!("has no `{key}` to write the backend port into"),
                    &format!("add `{key}` to it, or set `frontend.port_key` in dev.toml"),
                ));
            } else if required {
                return Err(error(
                    shown.to_owned(),
                    format!("has no `{key}` to write the backend URL into"),
                    &format!("add `{key}` to it, or correct `frontend.url_key` in dev.toml"),
                ));
            }
            continue;
        };
        let old = &text[span.clone()];
        let quoted = old.starts_with('"') || old.starts_with('\'');
        let bare_old = old.trim_matches(|c| c == '"' || c == '\'');
        if bare_old == value {
            continue;
        }
        let new_text = match format {
            Format::Env => value.clone(),
            _ if quoted || string => format!("\"{value}\""),
            _ => value.clone(),
        };
        let change = Change {
            key,
            old: bare_old.to_owned(),
            new: value,
        };
        edits.push((span, new_text, change));
    }
    if edits.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    if std::fs::metadata(path).is_ok_and(|meta| meta.permissions().readonly()) {
        return Err(error(
            shown.to_owned(),
            "is read-only, so the backend port cannot be written into it".into(),
            "make it writable (chmod u+w), or pass the port it holds with --port",
        ));
    }
    edits.sort_by_key(|(span, _, _)| std::cmp::Reverse(span.start));
    let mut new = text.clone();
    let mut changes = Vec::new();
    for (span, replacement, change) in edits {
        new.replace_range(span, &replacement);
        changes.push(change);
    }
    changes.reverse();
    crate::atomic::write(path, new.as_bytes()).map_err(|err| {
        error(
            shown.to_owned(),
            format!("cannot be written: {err}"),
            "make the file and its folder writable",
        )
    })?;
    Ok(Outcome::Written {
        changes,
        undo: Written {
            path: path.to_path_buf(),
            previous: bytes,
            written: new.into_bytes(),
        },
    })
}

impl Written {
    /// Records a later write over this one: restoring still goes back to the content
    /// before the first write, but only if the file holds the latest write.
    pub fn rewritten(&mut self, later: Written) {
        self.written = later.written;
    }
}

/// Puts the previous content back if the file still holds exactly what was written.
pub fn restore(written: &Written) -> Restore {
    match std::fs::read(&written.path) {
        Ok(now) if now == written.written => {
            match crate::atomic::write(&written.path, &written.previous) {
                Ok(()) => Restore::Restored,
                Err(err) => Restore::Failed(err.to_string()),
            }
        }
        Ok(_) => Restore::EditedMeanwhile,
        Err(err) => Restore::Failed(err.to_string()),
    }
}

/// The sibling key that holds the host: `backend.port` -> `backend.host`,
/// `BACKEND_PORT` -> `BACKEND_HOST`.
fn host_key_for(port_key: &str) -> Option<String> {
    for (port, host) in [("port", "host"), ("PORT", "HOST"), ("Port", "Host")] {
        if let Some(stem) = port_key.strip_suffix(port) {
            return Some(format!("{stem}{host}"));
        }
    }
    None
}

fn find_json(
    text: &str,
    shown: &str,
    key: &str,
) -> Result<Option<Range<usize>>, FrontendConfigError> {
    if let Err(err) = serde_json::from_str::<serde_json::Value>(text) {
        return Err(malformed(
            shown,
            err.line(),
            err.column(),
            &err.to_string(),
            "JSON",
        ));
    }
    let path: Vec<&str> = key.split('.').collect();
    Ok(json::find(text, &path))
}

fn find_toml(
    text: &str,
    shown: &str,
    key: &str,
) -> Result<Option<Range<usize>>, FrontendConfigError> {
    let table = DeTable::parse(text).map_err(|err| {
        let at = err.span().map_or(0, |span| span.start);
        let before = &text[..at.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        malformed(shown, line, col, err.message(), "TOML")
    })?;
    let mut current = table.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == part)
            .map(|(_, v)| v);
        let Some(value) = value else {
            return Ok(None);
        };
        if parts.peek().is_none() {
            return Ok(Some(value.span()));
        }
        let DeValue::Table(inner) = value.get_ref() else {
            return Ok(None);
        };
        current = inner;
    }
    Ok(None)
}

/// The value of `KEY=value` or `export KEY=value`, without an inline ` # comment`.
fn find_env(text: &str, key: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start();
        let body = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        if let Some(after) = body
            .strip_prefix(key)
            .and_then(|rest| rest.trim_start().strip_prefix('='))
        {
            let value_start = offset + content.len() - after.len();
            let value = after.split(" #").next().unwrap_or(after).trim_end();
            let lead = value.len() - value.trim_start().len();
            return Some(value_start + lead..value_start + value.len());
        }
        offset += line.len();
    }
    None
}

fn malformed(
    shown: &str,
    line: usize,
    col: usize,
    detail: &str,
    format: &str,
) -> FrontendConfigError {
    FrontendConfigError {
        location: format!("{shown}:{line}:{col}"),
        message: format!("is not valid {format} ({detail}); it was left untouched"),
        fix: format!("correct the {format} syntax at that position"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys() {
        assert_eq!(
            host_key_for("backend.port").as_deref(),
            Some("backend.host")
        );
        assert_eq!(
            host_key_for("BACKEND_PORT").as_deref(),
            Some("BACKEND_HOST")
        );
        assert_eq!(host_key_for("apiPort").as_deref(), Some("apiHost"));
        assert_eq!(host_key_for("api_url"), None);
    }

    #[test]
    fn env_values_without_comments() {
        let text = "A=1\nexport BACKEND_PORT = 8000 # the api\nB=2";
        let span = find_env(text, "BACKEND_PORT").expect("found");
        assert_eq!(&text[span], "8000");
        assert_eq!(find_env(text, "BACKEND"), None);
        assert_eq!(find_env(text, "C"), None);
    }
}
