//! A small JSON Schema validator for the schemas in `schemas/` (the event stream and
//! `status --json`): the subset they use (`$ref` into `$defs`, `oneOf`, `const`,
//! `enum`, `pattern`, `type`, `required`, `properties`, `additionalProperties: false`, `items`).
//! About 80 lines instead of a validator crate and its dependency tree; a keyword it
//! does not know fails the check rather than being skipped.

use serde_json::Value;

/// The schema `schemas/<name>`.
pub fn load(name: &str) -> Value {
    let path = crate::support::repo_root().join("schemas").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Checks `value` against `root`; the first violation, with where it is.
pub fn validate(root: &Value, value: &Value) -> Result<(), String> {
    check(root, root, value, "$")
}

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "oneOf",
    "const",
    "enum",
    "pattern",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
];

fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = schema
        .as_object()
        .ok_or(format!("{at}: schema is not an object"))?;
    if let Some(unknown) = schema.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!("{at}: the validator does not know {unknown:?}"));
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/$defs/")
            .ok_or(format!("{at}: {reference}"))?;
        let target = &root["$defs"][name];
        check(root, target, value, at)?;
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = options
            .iter()
            .filter_map(|option| check(root, option, value, at).err())
            .collect();
        let matched = options.len() - errors.len();
        if matched != 1 {
            return Err(format!("{at}: matches {matched} of oneOf: {errors:?}"));
        }
    }
    if let Some(expected) = schema.get("const")
        && value != expected
    {
        return Err(format!("{at}: {value} is not {expected}"));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) && !regex::Regex::new(pattern)
        .map_err(|err| format!("{at}: bad pattern {pattern:?}: {err}"))?
        .is_match(text)
    {
        return Err(format!("{at}: {value} does not match {pattern:?}"));
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type keyword")),
        };
        if !types.iter().any(|t| is_type(value, t)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = key.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                return Err(format!("{at}: {key:?} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, field) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(root, property, field, &format!("{at}.{key}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: {key:?} is not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (n, item) in array.iter().enumerate() {
            check(root, items, item, &format!("{at}[{n}]"))?;
        }
    }
    Ok(())
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// Checks each line of `stdout` against the event schema; the parsed events.
pub fn events(stdout: &str) -> Vec<Value> {
    let schema = load("events.schema.json");
    stdout
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not JSON ({err}): {line}\nstdout:\n{stdout}"));
            if let Err(why) = validate(&schema, &event) {
                panic!("against events.schema.json: {why}\nline: {line}");
            }
            event
        })
        .collect()
}

#[test]
fn the_validator_rejects_what_the_schema_does_not_allow() {
    let schema = load("events.schema.json");
    let good = serde_json::json!({"event": "reload", "version": 1, "correlation_id": "dev-1-abcdef",
        "time": "2026-12-05T21:00:00.000Z", "file": "backend/main.py"});
    assert_eq!(validate(&schema, &good), Ok(()));
    let mut extra = good.clone();
    extra["surprise"] = 1.into();
    assert!(validate(&schema, &extra).is_err());
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("time");
    assert!(validate(&schema, &missing).is_err());
    let mut wrong_version = good.clone();
    wrong_version["version"] = 2.into();
    assert!(validate(&schema, &wrong_version).is_err());
    let mut wrong_type = good;
    wrong_type["file"] = 3.into();
    assert!(validate(&schema, &wrong_type).is_err());
    let unknown_kind = serde_json::json!({"event": "exploded", "version": 1});
    assert!(validate(&schema, &unknown_kind).is_err());
}
