//! The JSON forms `auto` recognises, by their `status` values (and the IETF media
//! type), in the order of `format`'s docs, and the failing parts each names.

use serde_json::{Map, Value};

use super::{Condition, Form, HealthReport, Part};

/// Recognises a JSON health answer, in the order of the module docs.
pub(super) fn recognise(value: &Value, ietf_type: bool) -> Option<HealthReport> {
    let object = value.as_object()?;
    let status = object.get("status")?.as_str()?;
    let (form, condition) = classify_status(status, object, ietf_type)?;
    let parts = match form {
        Form::Contract => named_parts(object.get("services")),
        Form::Ietf => ietf_checks(object.get("checks")),
        Form::Spring => named_parts(object.get("components")),
        Form::Plain | Form::StatusCode => Vec::new(),
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(HealthReport {
        form,
        status: status.to_owned(),
        condition,
        service: text("service"),
        version: text("version"),
        pid: object
            .get("pid")
            .and_then(Value::as_u64)
            .and_then(|pid| u32::try_from(pid).ok()),
        workspace: text("workspace"),
        parts,
        message: ["error", "message", "detail", "output"]
            .iter()
            .find_map(|key| object.get(*key).and_then(Value::as_str))
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
    })
}

fn classify_status(
    status: &str,
    object: &Map<String, Value>,
    ietf_type: bool,
) -> Option<(Form, Condition)> {
    use Condition::{Bad, Degraded, Good};
    let contract = match status {
        "healthy" => Some(Good),
        "degraded" => Some(Degraded),
        "starting" => Some(Bad),
        _ => None,
    };
    if let Some(condition) = contract {
        return Some((Form::Contract, condition));
    }
    // The draft's aliases (`ok`, `up`; `error`, `down`) count only under its media
    // type: without it they are the plain form's.
    let ietf = match status {
        "pass" => Some(Good),
        "warn" => Some(Degraded),
        "fail" => Some(Bad),
        "ok" | "up" if ietf_type => Some(Good),
        "error" | "down" if ietf_type => Some(Bad),
        _ => None,
    };
    if let Some(condition) = ietf {
        return Some((Form::Ietf, condition));
    }
    if ietf_type {
        // The media type says IETF, but the status is none of its values.
        return None;
    }
    // Spring writes these in upper case; with `components` any case is Spring's.
    let upper = status.to_ascii_uppercase();
    let spring_case = status == upper || object.contains_key("components");
    let spring = match upper.as_str() {
        "UP" => Some(Good),
        "DOWN" | "OUT_OF_SERVICE" | "UNKNOWN" => Some(Bad),
        _ => None,
    };
    if let (Some(condition), true) = (spring, spring_case) {
        return Some((Form::Spring, condition));
    }
    let plain = match status.to_ascii_lowercase().as_str() {
        "ok" | "up" | "healthy" => Some(Good),
        "error" | "down" | "unhealthy" | "failed" | "unavailable" => Some(Bad),
        _ => None,
    };
    plain.map(|condition| (Form::Plain, condition))
}

/// `{name: {"status": .., "error"|"details": ..}}`: the contract's `services` and
/// Spring's `components`.
fn named_parts(value: Option<&Value>) -> Vec<Part> {
    let Some(map) = value.and_then(Value::as_object) else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(name, part)| {
            let status = part.get("status")?.as_str()?.to_owned();
            let error = part
                .get("error")
                .and_then(Value::as_str)
                .or_else(|| part.pointer("/details/error").and_then(Value::as_str))
                .map(str::to_owned);
            Some(Part {
                name: name.clone(),
                status,
                error,
            })
        })
        .collect()
}

/// IETF `checks`: `{"name:measurement": [{"status": .., "output": ..}, ..]}`.
fn ietf_checks(value: Option<&Value>) -> Vec<Part> {
    let Some(map) = value.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    for (name, entries) in map {
        let entries = match entries {
            Value::Array(entries) => entries.iter().collect(),
            single => vec![single],
        };
        for entry in entries {
            let Some(status) = entry.get("status").and_then(Value::as_str) else {
                continue;
            };
            let name = match entry.get("componentId").and_then(Value::as_str) {
                Some(id) => format!("{name} ({id})"),
                None => name.clone(),
            };
            parts.push(Part {
                name,
                status: status.to_owned(),
                error: entry
                    .get("output")
                    .and_then(Value::as_str)
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned),
            });
        }
    }
    parts
}

pub(super) fn is_good_part(form: Form, status: &str) -> bool {
    match form {
        Form::Ietf => status == "pass",
        Form::Spring => status.eq_ignore_ascii_case("UP"),
        _ => matches!(
            status.to_ascii_lowercase().as_str(),
            "ok" | "up" | "healthy" | "pass"
        ),
    }
}
