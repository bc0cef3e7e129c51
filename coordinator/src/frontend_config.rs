//! Writing the backend's address into the frontend's config file, so that the frontend
//! can never talk to a port the backend is not on.
//!
//! The format comes from the extension (`.json`, `.toml`, `.env`). Only the value's
//! own bytes change: everything else (key order, comments, formatting) is preserved
//! byte for byte, by replacing the value's span rather than re-serialising. Writes are
//! atomic (a temporary file in the same folder, then a rename), skipped when the value
//! is already right. A value that is a URL keeps everything but its address (see
//! [`url`]). Undoing is per value ([`restore_values`]): each value that still holds
//! what dev wrote gets its old text back, whatever else changed in the file meanwhile,
//! and a value someone changed is left as they set it. A `.env` file that does not
//! exist is created for the run and removed after it when nobody wrote to it.

mod json;
pub mod url;

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
    /// The file did not exist: dev created it for the run (`previous` is empty).
    #[serde(default)]
    pub created: bool,
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
    let text = crate::user_file::read_to_string(path).map_err(|err| FrontendConfigError {
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
    let span = locate(format, text, shown, key)?;
    Ok(span.map(|span| {
        let value = unquote(&text[span]);
        // A TOML integer may group digits (`8_000`): the number is what the frontend
        // reads.
        let grouped = format == Format::Toml
            && value.contains('_')
            && value.chars().all(|c| c.is_ascii_digit() || c == '_');
        if grouped {
            value.replace('_', "")
        } else {
            value.to_owned()
        }
    }))
}

/// A value without its quotes: `"8000"` and `'8000'` read as `8000`.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// The span of `key`'s value, as the frontend reads it: the last of duplicate keys
/// (what `JSON.parse`, dotenv and Node's `util.parseEnv` use), after a UTF-8 byte
/// order mark (which browsers and `fetch().json()` accept). A key naming a table,
/// object or array is refused: writing a port over it would destroy it.
fn locate(
    format: Format,
    text: &str,
    shown: &str,
    key: &str,
) -> Result<Option<Range<usize>>, FrontendConfigError> {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[bom..];
    let span = match format {
        Format::Json => find_json(body, shown, key)?,
        Format::Toml => find_toml(body, shown, key)?,
        Format::Env => find_env(body, key),
    };
    let Some(span) = span else {
        return Ok(None);
    };
    let value = &body[span.clone()];
    let kind = match value.as_bytes().first() {
        Some(b'{') if format == Format::Json => Some("an object"),
        Some(b'[') if format != Format::Env => Some("an array"),
        Some(b'{') if format == Format::Toml => Some("an inline table"),
        _ => None,
    };
    if let Some(kind) = kind {
        let (line, col) = crate::text::line_col(body, span.start);
        return Err(FrontendConfigError {
            location: format!("{shown}:{line}:{col}"),
            message: format!("`{key}` is {kind}, not a port value; it was left untouched"),
            fix: format!(
                "set `frontend.port_key` in dev.toml to the key that holds the port number (e.g. `{key}.port`)"
            ),
        });
    }
    Ok(Some(span.start + bom..span.end + bom))
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
    let format = Format::of(path).ok_or_else(|| {
        file_error(
            shown,
            "unknown format".into(),
            "use a .json, .toml or .env file for `frontend.config_file`",
        )
    })?;
    // A `.env` file the app's template gitignores (`.env.development.local`) is missing
    // from a fresh clone: it is created for the run, holding only dev's keys.
    let created =
        format == Format::Env && !path.exists() && std::fs::symlink_metadata(path).is_err();
    let (bytes, text) = if created {
        (Vec::new(), String::new())
    } else {
        read_utf8(path, shown)?
    };
    let edits = plan_edits(format, &text, shown, port_key, (host, port), url)?;
    if edits.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    if std::fs::metadata(path).is_ok_and(|meta| meta.permissions().readonly()) {
        return Err(file_error(
            shown,
            "is read-only, so the backend port cannot be written into it".into(),
            "make it writable (chmod u+w), or pass the port it holds with --port",
        ));
    }
    let (new, changes) = apply_edits(&text, edits);
    crate::atomic::write(path, new.as_bytes()).map_err(|err| {
        file_error(
            shown,
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
            created,
        },
    })
}

/// An error about the file as a whole (no line or column).
fn file_error(shown: &str, message: String, fix: &str) -> FrontendConfigError {
    FrontendConfigError {
        location: shown.to_owned(),
        message,
        fix: fix.to_owned(),
    }
}

/// The file's bytes (kept to undo the write) and the same content as text.
fn read_utf8(path: &Path, shown: &str) -> Result<(Vec<u8>, String), FrontendConfigError> {
    let bytes = crate::user_file::read(path).map_err(|err| {
        let fix = if err.kind() == std::io::ErrorKind::InvalidInput {
            "point `frontend.config_file` in dev.toml at a regular file"
        } else {
            "create it, or correct `frontend.config_file` in dev.toml"
        };
        file_error(shown, format!("cannot read: {err}"), fix)
    })?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| file_error(shown, "not UTF-8 text".into(), "save it as UTF-8"))?;
    Ok((bytes, text))
}

/// One planned edit: the span of `text` to replace, its replacement, and the change
/// it makes.
type Edit = (Range<usize>, String, Change);

/// One value to write: its key, the value, whether the file must have the key, and
/// whether the value is always a string (a host, a URL; a port keeps its form).
struct Wanted {
    key: String,
    value: String,
    required: bool,
    string: bool,
    /// The backend's host and port, for a value that turns out to be a URL (the port
    /// key's and the URL key's): only its address is replaced.
    address: Option<(String, u16)>,
    /// The URL key's: the backend's scheme, which replaces the value's own.
    scheme: Option<String>,
}

/// The edits that make `text` hold `port` at `port_key` (required), `host` at the
/// matching host key (if there is one, and only if the file has it), and the whole URL
/// at its key when one is given (required). Empty when the file already holds them.
fn plan_edits(
    format: Format,
    text: &str,
    shown: &str,
    port_key: &str,
    (host, port): (&str, u16),
    url: Option<(&str, &str)>,
) -> Result<Vec<Edit>, FrontendConfigError> {
    let address = Some((host.to_owned(), port));
    let want = |key: String, value: String, required, string, address| Wanted {
        key,
        value,
        required,
        string,
        address,
        scheme: None,
    };
    // A port key the file lacks whose name says it holds a URL (`VITE_API_URL`) gets
    // the backend's URL, never a bare port number.
    let port_value = if names_a_url(port_key) {
        url.map_or_else(|| http_url(host, port), |(_, url)| url.to_owned())
    } else {
        port.to_string()
    };
    let mut wanted = vec![want(
        port_key.to_owned(),
        port_value,
        true,
        false,
        address.clone(),
    )];
    if let Some(host_key) = host_key_for(port_key) {
        wanted.push(want(host_key, host.to_owned(), false, true, None));
    }
    if let Some((url_key, url)) = url {
        // The URL key's address is the backend URL's own (a remote backend's host).
        let url_address = url::address(url).and_then(|(h, p)| Some((h, p?)));
        wanted.push(Wanted {
            scheme: url::scheme(url).map(str::to_owned),
            ..want(
                url_key.to_owned(),
                url.to_owned(),
                true,
                true,
                url_address.or(address),
            )
        });
    }
    let mut edits = Vec::new();
    for wanted in wanted {
        let edit = match locate(format, text, shown, &wanted.key)? {
            Some(span) => replace_value(format, text, span, wanted),
            None if wanted.required => {
                let what = if wanted.key == port_key {
                    ("port", "set `frontend.port_key`")
                } else {
                    ("URL", "correct `frontend.url_key`")
                };
                Some(add_missing(format, text, shown, wanted, what)?)
            }
            None => None,
        };
        edits.extend(edit);
    }
    Ok(edits)
}

/// Whether a key's name says its value is a URL: `VITE_API_URL`, `apiUrl`, `api.url`.
fn names_a_url(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.ends_with("url") || lower.ends_with("uri")
}

/// `http://127.0.0.1:8000`, `http://[::1]:8000`.
fn http_url(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    }
}

/// The edit for a required key the file lacks: appended to a `.env` file, refused
/// in the other formats (where it would mean guessing the structure).
fn add_missing(
    format: Format,
    text: &str,
    shown: &str,
    Wanted { key, value, .. }: Wanted,
    (what, setting): (&str, &str),
) -> Result<Edit, FrontendConfigError> {
    if format != Format::Env {
        return Err(file_error(
            shown,
            format!("has no `{key}` to write the backend {what} into"),
            &format!("add `{key}` to it, or {setting} in dev.toml"),
        ));
    }
    let insert = text.len()..text.len();
    let newline = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let line = format!("{newline}{key}={value}\n");
    let change = Change {
        key,
        old: "(unset)".into(),
        new: value,
    };
    Ok((insert, line, change))
}

/// The edit that writes the wanted value over the value at `span`, `None` when it is
/// already that value.
fn replace_value(
    format: Format,
    text: &str,
    span: Range<usize>,
    Wanted {
        key,
        value,
        string,
        address,
        scheme,
        ..
    }: Wanted,
) -> Option<Edit> {
    let old = &text[span.clone()];
    let bare_old = unquote(old);
    // A URL keeps its scheme, path and the rest: only its address is pointed at the
    // backend (`VITE_API_URL` as the port key must never become a bare number).
    let value = match &address {
        Some((host, port)) => {
            url::with_origin(bare_old, scheme.as_deref(), host, *port).unwrap_or(value)
        }
        None => value,
    };
    if bare_old == value {
        return None;
    }
    // Keep the value's quoting: a quoted port stays quoted (the frontend may read
    // it as a string), and a host is always a string outside `.env`.
    let quote = old
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'' && format != Format::Json);
    let new_text = match (quote, format) {
        (Some(quote), _) => format!("{quote}{value}{quote}"),
        (None, Format::Env) => value.clone(),
        (None, _) if string => format!("\"{value}\""),
        (None, _) => value.clone(),
    };
    let change = Change {
        key,
        old: bare_old.to_owned(),
        new: value,
    };
    Some((span, new_text, change))
}

/// `text` with the edits made, and their changes in file order. Edits are made from
/// the end backwards so that each span is still where it was found.
fn apply_edits(text: &str, mut edits: Vec<Edit>) -> (String, Vec<Change>) {
    edits.sort_by_key(|(span, _, _)| std::cmp::Reverse(span.start));
    let mut new = text.to_owned();
    let mut changes = Vec::new();
    for (span, replacement, change) in edits {
        new.replace_range(span, &replacement);
        changes.push(change);
    }
    changes.reverse();
    (new, changes)
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
    match crate::user_file::read(&written.path) {
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

/// The keys whose values dev writes: the port key, its host sibling, the URL key.
pub fn written_keys(port_key: &str, url_key: Option<&str>) -> Vec<String> {
    let mut keys = vec![port_key.to_owned()];
    keys.extend(host_key_for(port_key));
    keys.extend(url_key.map(str::to_owned));
    keys
}

/// How [`restore_values`] left the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesRestored {
    /// The content to write.
    pub content: Vec<u8>,
    /// The keys that got their old value back (or, appended by dev, were taken out).
    pub restored: Vec<String>,
    /// The values someone changed after dev wrote them: `(key, value)`, left as set.
    pub kept: Vec<(String, String)>,
}

/// Undoes dev's write value by value, on a file that was edited meanwhile: each of
/// `keys` whose value in `now` is still what dev wrote (`written`) gets its value in
/// `original` back (a `.env` line dev appended is taken out); any other line stays as
/// it is now. `None` when the texts cannot be read as the format (nothing is written).
pub fn restore_values(
    path: &Path,
    original: &[u8],
    written: &[u8],
    now: &[u8],
    keys: &[String],
) -> Option<ValuesRestored> {
    let format = Format::of(path)?;
    let original = std::str::from_utf8(original).ok()?;
    let written = std::str::from_utf8(written).ok()?;
    let now = std::str::from_utf8(now).ok()?;
    let span = |text: &str, key: &str| locate(format, text, "", key).ok().flatten();
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let (mut restored, mut kept) = (Vec::new(), Vec::new());
    for key in keys {
        let Some(mine) = span(written, key).map(|s| &written[s]) else {
            continue;
        };
        let before = span(original, key).map(|s| &original[s]);
        if before == Some(mine) {
            continue;
        }
        let Some(at) = span(now, key) else {
            // Taken out meanwhile: nothing of dev's is left there.
            continue;
        };
        if &now[at.clone()] != mine {
            kept.push((key.clone(), unquote(&now[at]).to_owned()));
            continue;
        }
        match before {
            Some(before) => edits.push((at, before.to_owned())),
            None if format == Format::Env => edits.push((line_of(now, at), String::new())),
            None => {
                kept.push((key.clone(), unquote(&now[at]).to_owned()));
                continue;
            }
        }
        restored.push(key.clone());
    }
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut content = now.to_owned();
    for (span, value) in edits {
        content.replace_range(span, &value);
    }
    Some(ValuesRestored {
        content: content.into_bytes(),
        restored,
        kept,
    })
}

/// The whole line (its newline included) around `span`.
fn line_of(text: &str, span: Range<usize>) -> Range<usize> {
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i + 1);
    start..end
}

/// Whether `to` is `from` with nothing changed but the values dev writes: the one at
/// `port_key`, its host sibling, and the one at `url_key`; in a `.env` file also such a
/// line appended or taken away (dev appends a missing `KEY=value`). What a run record
/// says the file held is written back only when this holds, so a record (planted, or
/// from a dev that went wrong) can restore a port, never replace the file.
pub fn only_values_differ(
    path: &Path,
    from: &[u8],
    to: &[u8],
    port_key: &str,
    url_key: Option<&str>,
) -> bool {
    let (Ok(from), Ok(to), Some(format)) = (
        std::str::from_utf8(from),
        std::str::from_utf8(to),
        Format::of(path),
    ) else {
        return false;
    };
    let keys = written_keys(port_key, url_key);
    let span = |text: &str, key: &str| locate(format, text, "", key).map_err(drop);
    let (mut from, mut to) = (from.to_owned(), to.to_owned());
    // A key on one side only: a `.env` line dev appended (the whole line goes), else a
    // difference dev never makes.
    for key in &keys {
        let (Ok(a), Ok(b)) = (span(&from, key), span(&to, key)) else {
            return false;
        };
        match (a, b) {
            (Some(_), None) if format == Format::Env => from = without_line(&from, key),
            (None, Some(_)) if format == Format::Env => to = without_line(&to, key),
            (Some(_), None) | (None, Some(_)) => return false,
            _ => {}
        }
    }
    let mut edits = Vec::new();
    for key in &keys {
        if let (Ok(Some(a)), Ok(Some(b))) = (span(&from, key), span(&to, key)) {
            edits.push((a, to[b].to_owned()));
        }
    }
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    for (span, value) in edits {
        from.replace_range(span, &value);
    }
    from == to || from.trim_end_matches('\n') == to.trim_end_matches('\n')
}

/// `text` without the `.env` line that sets `key` (the last, as dev writes it).
fn without_line(text: &str, key: &str) -> String {
    let Some(span) = find_env(text, key) else {
        return text.to_owned();
    };
    let line = line_of(text, span);
    format!("{}{}", &text[..line.start], &text[line.end..])
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
        if err.to_string().starts_with("recursion limit exceeded") {
            let (line, col) = (err.line(), err.column());
            return Err(FrontendConfigError {
                location: format!("{shown}:{line}:{col}"),
                message: format!(
                    "is too deeply nested (more than {} levels) to be read; it was left untouched",
                    crate::health::MAX_JSON_DEPTH
                ),
                fix: "nest the config less deeply".into(),
            });
        }
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
        let (line, col) = crate::text::line_col(text, at);
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
            if let DeValue::Table(_) = value.get_ref() {
                // A `[section]` table has no value span to replace.
                return Err(FrontendConfigError {
                    location: shown.to_owned(),
                    message: format!("`{key}` is a table, not a port value; it was left untouched"),
                    fix: format!(
                        "set `frontend.port_key` in dev.toml to the key that holds the port number (e.g. `{key}.port`)"
                    ),
                });
            }
            return Ok(Some(value.span()));
        }
        let DeValue::Table(inner) = value.get_ref() else {
            return Ok(None);
        };
        current = inner;
    }
    Ok(None)
}

/// The value of the last `KEY=value` or `export KEY=value` line (the one dotenv and
/// Node read), quotes included. An unquoted value ends at `#` (a comment, as dotenv
/// reads `8000#x` as `8000`); a quoted one at its closing quote.
fn find_env(text: &str, key: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    let mut found = None;
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
            let lead = after.len() - after.trim_start().len();
            let value = &after[lead..];
            let len = match value.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    closing_quote(value, quote).map_or(value.len(), |end| end + 1)
                }
                _ => value.split('#').next().unwrap_or(value).trim_end().len(),
            };
            found = Some(value_start + lead..value_start + lead + len);
        }
        offset += line.len();
    }
    found
}

/// The byte index of the quote closing the one that starts `value` (a backslash
/// escapes a double quote, as in dotenv).
fn closing_quote(value: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in value.char_indices().skip(1) {
        match c {
            '\\' if quote == '"' && !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
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
    fn a_saved_original_is_believed_only_as_the_values_it_describes() {
        let json = Path::new("config.json");
        let original = b"{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}, \"x\": 1}\n";
        let written = b"{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8001}, \"x\": 1}\n";
        let key = "backend.port";
        assert!(only_values_differ(json, written, original, key, None));
        assert!(only_values_differ(json, written, written, key, None));
        let other = b"{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}, \"x\": 2}\n";
        assert!(!only_values_differ(json, written, other, key, None));
        assert!(!only_values_differ(
            json,
            written,
            b"totally different content, not JSON",
            key,
            None
        ));
        let env = Path::new(".env");
        assert!(only_values_differ(
            env,
            b"A=1\nBACKEND_PORT=8001\n",
            b"A=1\n",
            "BACKEND_PORT",
            None
        ));
        assert!(only_values_differ(
            env,
            b"A=1\nBACKEND_PORT=8001\n",
            b"A=1",
            "BACKEND_PORT",
            None
        ));
        assert!(!only_values_differ(
            env,
            b"A=1\nBACKEND_PORT=8001\n",
            b"A=2\n",
            "BACKEND_PORT",
            None
        ));
        let toml = Path::new("c.toml");
        assert!(only_values_differ(
            toml,
            b"[backend]\nport = 8001 # dev\nurl = \"http://127.0.0.1:8001\"\n",
            b"[backend]\nport = 8_000 # dev\nurl = \"http://localhost:8000\"\n",
            key,
            Some("backend.url"),
        ));
    }

    #[test]
    fn restore_is_per_value_and_keeps_the_users_edits() {
        let env = Path::new(".env.development.local");
        let keys = written_keys("VITE_API_PORT", Some("VITE_API_URL"));
        let original = b"# api\nVITE_API_PORT=8000\nVITE_API_URL=\"http://127.0.0.1:8000/api\"\n";
        let written = b"# api\nVITE_API_PORT=8002\nVITE_API_URL=\"http://127.0.0.1:8002/api\"\n";
        // A line added during the run: dev's values go back, the line stays.
        let now =
            b"# api\nVITE_API_PORT=8002\nVITE_API_URL=\"http://127.0.0.1:8002/api\"\nVITE_FLAG=1\n";
        let done = restore_values(env, original, written, now, &keys).expect("env");
        assert_eq!(
            String::from_utf8(done.content).expect("utf-8"),
            "# api\nVITE_API_PORT=8000\nVITE_API_URL=\"http://127.0.0.1:8000/api\"\nVITE_FLAG=1\n"
        );
        assert_eq!(done.restored, ["VITE_API_PORT", "VITE_API_URL"]);
        assert!(done.kept.is_empty());
        // A value the user set wins, and is named; the other one goes back.
        let now = b"# api\nVITE_API_PORT=9000\nVITE_API_URL=\"http://127.0.0.1:8002/api\"\n";
        let done = restore_values(env, original, written, now, &keys).expect("env");
        assert_eq!(
            String::from_utf8(done.content).expect("utf-8"),
            "# api\nVITE_API_PORT=9000\nVITE_API_URL=\"http://127.0.0.1:8000/api\"\n"
        );
        assert_eq!(done.kept, [("VITE_API_PORT".to_owned(), "9000".to_owned())]);
        // A line dev appended is taken out again.
        let done = restore_values(
            env,
            b"A=1\n",
            b"A=1\nVITE_API_PORT=8002\n",
            b"A=2\nVITE_API_PORT=8002\n",
            &keys,
        )
        .expect("env");
        assert_eq!(done.content, b"A=2\n");
    }

    #[test]
    fn env_values_without_comments() {
        let text = "A=1\nexport BACKEND_PORT = 8000 # the api\nB=2";
        let span = find_env(text, "BACKEND_PORT").expect("found");
        assert_eq!(&text[span], "8000");
        assert_eq!(find_env(text, "BACKEND"), None);
        assert_eq!(find_env(text, "C"), None);
        let span = find_env("P=8000#x\n", "P").expect("found");
        assert_eq!(span, 2..6);
        let text = "P=\"80 # 00\" # c\nP=1\nP='9'\n";
        let span = find_env(text, "P").expect("the last one");
        assert_eq!(&text[span], "'9'");
        let text = "P=\"80 # 00\" # c\n";
        assert_eq!(&text[find_env(text, "P").expect("quoted")], "\"80 # 00\"");
    }
}
