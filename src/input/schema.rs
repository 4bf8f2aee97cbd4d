//! The JSON Schemas in `schemas/`: compiled into the binary at build time, printed by
//! `dovetail schema`, and turned from validation errors into diagnostics that name the
//! file, line and column and say what to write instead.

use serde_json::Value;

use crate::diag::{Code, Diagnostic, Diagnostics, Doc, MAX_PER_FILE, counted};
use crate::input::yaml::{NodeKind, Path, ScalarValue, Seg};

use jsonschema::error::ValidationErrorKind;

// The schemas are compiled by a proc macro; `include_str!` of the same files both embeds
// them for `dovetail schema` and makes cargo rebuild when one changes.
const APP_TEXT: &str = include_str!("../../schemas/app.schema.json");
const ALLOCATION_TEXT: &str = include_str!("../../schemas/allocation.schema.json");
const PLATFORM_TEXT: &str = include_str!("../../schemas/platform.schema.json");
const RESOLVED_TEXT: &str = include_str!("../../schemas/resolved.schema.json");
const SECRETS_TEXT: &str = include_str!("../../schemas/secrets.schema.json");
const AGE_SECRET_TEXT: &str = include_str!("../../schemas/agesecret.schema.json");

/// A validator compiled from a schema file, with dovetail's formats checked in Rust.
macro_rules! validator {
    ($name:ident, $path:literal) => {
        #[jsonschema::validator(
                                    path = $path,
                                    draft = Draft202012,
                                    validate_formats = true,
                                    ignore_unknown_formats = false,
                                    formats = {
                                        "dovetail-absolute-path" => crate::input::formats::absolute_path,
                                        "dovetail-clean-mount-path" => crate::input::formats::clean_mount_path,
                                        "dovetail-age-recipient" => crate::input::formats::age_recipient,
                                        "dovetail-cidr" => crate::input::formats::cidr,
                                        "dovetail-bytes" => crate::input::formats::bytes,
                                        "dovetail-memory" => crate::input::formats::memory,
                                        "dovetail-config-key" => crate::input::formats::config_key,
                                        "dovetail-cpu" => crate::input::formats::cpu,
                                        "dovetail-divisor" => crate::input::formats::divisor,
                                        "dovetail-dns-label" => crate::input::formats::dns_label,
                                        "dovetail-dns-subdomain" => crate::input::formats::dns_subdomain,
                                        "dovetail-domain" => crate::input::formats::domain,
                                        "dovetail-env-name" => crate::input::formats::env_name,
                                        "dovetail-exec-text" => crate::input::formats::exec_text,
                                        "dovetail-git-revision" => crate::input::formats::git_revision,
                                        "dovetail-hostname" => crate::input::formats::hostname,
                                        "dovetail-http-path" => crate::input::formats::http_path,
                                        "dovetail-https-url" => crate::input::formats::https_url,
                                        "dovetail-image" => crate::input::formats::image,
                                        "dovetail-pinned-image" => crate::input::formats::pinned_image,
                                        "dovetail-plan-name" => crate::input::formats::plan_name,
                                        "dovetail-port-name" => crate::input::formats::port_name,
                                        "dovetail-printable" => crate::input::formats::printable,
                                        "dovetail-process-key" => crate::input::formats::process_key,
                                        "dovetail-process-name" => crate::input::formats::process_name,
                                        "dovetail-relative-path" => crate::input::formats::relative_path,
                                        "dovetail-app-path" => crate::input::formats::app_path,
                                        "dovetail-repo-url" => crate::input::formats::repo_url,
                                        "dovetail-object-store-path" => crate::input::formats::object_store_path,
                                        "dovetail-http-url" => crate::input::formats::http_url,
                                        "dovetail-label-key" => crate::input::formats::label_key,
                                        "dovetail-label-value" => crate::input::formats::label_value,
                                        "dovetail-cron" => crate::input::formats::cron,
                                        "dovetail-retention" => crate::input::formats::retention,
                                        "dovetail-timestamp" => crate::input::formats::timestamp,
                                    }
                                )]
        struct $name;
    };
}

validator!(AppSchema, "schemas/app.schema.json");
validator!(AllocationSchema, "schemas/allocation.schema.json");
validator!(PlatformSchema, "schemas/platform.schema.json");
validator!(ResolvedSchema, "schemas/resolved.schema.json");
validator!(SecretsSchema, "schemas/secrets.schema.json");
validator!(AgeSecretSchema, "schemas/agesecret.schema.json");

/// The documents dovetail has a schema for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// `dovetail.yaml` in the customer repo.
    App,
    /// `tenants/<tenant>/<app>.yaml` in the operator repo.
    Allocation,
    /// `platform.yaml` in the operator repo.
    Platform,
    /// The merged app, before it becomes manifests.
    Resolved,
    /// The customer's age-encrypted secrets file.
    Secrets,
    /// The AgeSecret resource `dovetail controller` decrypts (its CRD's schema).
    #[value(name = "agesecret")]
    AgeSecret,
}

impl SchemaKind {
    /// The schema's text, as shipped in `schemas/`.
    pub fn text(self) -> &'static str {
        match self {
            SchemaKind::App => APP_TEXT,
            SchemaKind::Allocation => ALLOCATION_TEXT,
            SchemaKind::Platform => PLATFORM_TEXT,
            SchemaKind::Resolved => RESOLVED_TEXT,
            SchemaKind::Secrets => SECRETS_TEXT,
            SchemaKind::AgeSecret => AGE_SECRET_TEXT,
        }
    }

    /// The name `dovetail schema` takes for it.
    pub fn name(self) -> &'static str {
        match self {
            SchemaKind::App => "app",
            SchemaKind::Allocation => "allocation",
            SchemaKind::Platform => "platform",
            SchemaKind::Resolved => "resolved",
            SchemaKind::Secrets => "secrets",
            SchemaKind::AgeSecret => "agesecret",
        }
    }

    fn errors(self, value: &Value) -> jsonschema::ErrorIterator<'_> {
        match self {
            SchemaKind::App => AppSchema::iter_errors(value),
            SchemaKind::Allocation => AllocationSchema::iter_errors(value),
            SchemaKind::Platform => PlatformSchema::iter_errors(value),
            SchemaKind::Resolved => ResolvedSchema::iter_errors(value),
            SchemaKind::Secrets => SecretsSchema::iter_errors(value),
            SchemaKind::AgeSecret => AgeSecretSchema::iter_errors(value),
        }
    }

    /// Whether `value` is valid, without building any diagnostics.
    pub fn is_valid(self, value: &Value) -> bool {
        match self {
            SchemaKind::App => AppSchema::is_valid(value),
            SchemaKind::Allocation => AllocationSchema::is_valid(value),
            SchemaKind::Platform => PlatformSchema::is_valid(value),
            SchemaKind::Resolved => ResolvedSchema::is_valid(value),
            SchemaKind::Secrets => SecretsSchema::is_valid(value),
            SchemaKind::AgeSecret => AgeSecretSchema::is_valid(value),
        }
    }
}

/// Validates `value` (the JSON form of `doc`) and records each violation as a diagnostic
/// at its place in `doc`. A field that already has a diagnostic (an ownership error, say)
/// gets no second, vaguer one.
pub fn check(kind: SchemaKind, doc: &Doc, value: &Value, diags: &mut Diagnostics) {
    if kind.is_valid(value) {
        return;
    }
    // Parsed only on the error path: the text is needed for hints, not for validation.
    let schema: Value = serde_json::from_str(kind.text()).unwrap_or(Value::Null);
    let mut found = Vec::new();
    // Locating a field walks the document, so only the problems that will be shown
    // are described; the rest are counted. A file with thousands of bad fields costs
    // linear time, not quadratic.
    let room = MAX_PER_FILE.saturating_sub(diags.count_in(&doc.file));
    let mut undescribed = 0;
    for error in kind.errors(value) {
        if found.len() >= room {
            undescribed += match error.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => unexpected.len(),
                _ => 1,
            };
            continue;
        }
        let path = to_path(doc, &error.instance_path().to_string());
        let schema_path = error.schema_path().to_string();
        let at = Place {
            doc,
            path: &path,
            schema_path: &schema_path,
            // A secrets file's values are ciphertexts, or a plaintext written there by
            // mistake: no message shows one.
            redact: kind == SchemaKind::Secrets,
            kind,
        };
        undescribed += describe(&at, &schema, &error, room, &mut found);
    }
    if found.len() > room {
        undescribed += found.len() - room;
        found.truncate(room);
    }
    for d in found {
        if !diags.has_field(&d.file, &d.field) {
            diags.push(d);
        }
    }
    diags.push_dropped(&doc.file, undescribed);
}

/// Where a validation error is: its document, the path in it, the schema keyword's
/// path, and whether the document's values may be shown.
struct Place<'a> {
    doc: &'a Doc,
    path: &'a Path,
    schema_path: &'a str,
    redact: bool,
    /// The schema's name for `dovetail schema NAME`.
    kind: SchemaKind,
}

fn describe(
    at: &Place<'_>,
    schema: &Value,
    error: &jsonschema::ValidationError<'_>,
    room: usize,
    out: &mut Vec<Diagnostic>,
) -> usize {
    let (doc, path) = (at.doc, at.path);
    let mut extra = 0;
    let instance = error.instance();
    let keyword_parent = at.schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    let node = schema.pointer(keyword_parent).unwrap_or(&Value::Null);
    let description = node.get("description").and_then(Value::as_str);
    // What to do when a list or mapping is past its cap: the schema says, beside the cap
    // (`x-hint`, a keyword validators ignore).
    let cap_hint = node.get("x-hint").and_then(Value::as_str);
    // As written: `99999999999999999999`, not the `1e+20` it was read as.
    let shown = if at.redact
        || instance
            .as_str()
            .is_some_and(crate::input::formats::carries_credentials)
    {
        "the value".to_owned()
    } else {
        match doc
            .root
            .at(path)
            .and_then(crate::input::yaml::Node::scalar_text)
        {
            Some(text) if instance.is_number() => show(&Value::String(text.to_owned())),
            _ => show(instance),
        }
    };
    // Compiled validators report a bad mapping key (`propertyNames`) at the mapping, with
    // the key as the instance: point at the key instead.
    if let Some(key) = instance.as_str()
        && doc.root.at(path).and_then(|n| n.entry(key)).is_some()
    {
        let what = description.unwrap_or("a valid name");
        let (code, message, hint) = if key == crate::input::doc::HIDDEN_KEY {
            (
                Code::BadValue,
                "a key is no secret name, and is not shown: it may be a value pasted in".to_owned(),
                "name it like an environment variable (letters, digits and '_', not starting with a digit, at most 128); if it is a value, remove the line and set it with `dovetail secrets set KEY`".to_owned(),
            )
        } else if let ValidationErrorKind::Not { .. } = error.kind() {
            (
                Code::ReservedName,
                format!("`{key}` is a reserved name"),
                "rename it: dovetail or CloudNativePG names its own objects or containers so"
                    .to_owned(),
            )
        } else {
            let (noun, rule) = split_rule(what);
            (
                Code::BadValue,
                format!("`{key}` is not {noun}"),
                format!("rename it: {}", rule.unwrap_or(noun)),
            )
        };
        out.push(doc.error(code, &path.key(key), message).hint(hint));
        return extra;
    }
    // Each kind below but those of keys (unknown, missing) is about the value: point at
    // it, not at its key, which may stand a line above.
    let d = |code: Code, message: String| doc.value_error(code, path, message);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known: Vec<&str> = node
                .get("properties")
                .and_then(Value::as_object)
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            // Past `room` the keys are only counted.
            let room_left = room.saturating_sub(out.len());
            extra += unexpected.len().saturating_sub(room_left);
            for key in unexpected.iter().take(room_left) {
                let field = path.key(key);
                let mut diag = doc.error(Code::UnknownField, &field, "unknown field");
                diag.hint = Some(match closest(key, &known) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if known.is_empty() => "remove it".to_owned(),
                    None => format!("expected one of: {}", known.join(", ")),
                });
                out.push(diag);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let mut diag = doc.error(
                Code::MissingField,
                path,
                // The field's name is the line's own prefix: not said again here.
                "required field missing",
            );
            diag.field = path.key(name).to_string();
            // A missing top-level field is this error's, as a field in error is: it is
            // stood in for when the document is typed (see `doc::typed`), and the
            // merge's checks pass over it. Below the root the parent stays the path,
            // being what is left out.
            if path.0.is_empty() {
                diag.path = path.key(name);
            }
            diag.hint = Some(format!(
                "add `{name}:` (`dovetail schema {}` shows what it takes)",
                at.kind.name()
            ));
            out.push(diag);
        }
        ValidationErrorKind::Type { .. } => {
            let expected = match node.get("type") {
                Some(Value::String(t)) => article(t),
                Some(Value::Array(ts)) => {
                    let names: Vec<String> =
                        ts.iter().filter_map(Value::as_str).map(article).collect();
                    match names.split_last() {
                        Some((last, rest)) if !rest.is_empty() => {
                            format!("{} or {last}", rest.join(", "))
                        }
                        _ => names.concat(),
                    }
                }
                _ => "another type".to_owned(),
            };
            // NaN and infinities reach the schema as their spelling (JSON has no such
            // numbers); they were written as numbers, and are named so.
            let non_finite = doc.root.at(path).and_then(|n| match &n.kind {
                NodeKind::Scalar(s) => match s.value {
                    ScalarValue::Float(f) if f.is_nan() => Some("not a number"),
                    ScalarValue::Float(f) if f.is_infinite() => Some("a number out of range"),
                    _ => None,
                },
                _ => None,
            });
            let found = match (non_finite, at.redact) {
                (Some(what), true) => what.to_owned(),
                (Some(what), false) => format!("{} ({what})", show(instance)),
                (None, true) => kind_of(instance).to_owned(),
                (None, false) => found_type(instance),
            };
            let mut diag = d(
                Code::WrongType,
                format!("expected {expected}, found {found}"),
            );
            if at.redact && expected.contains("string") {
                diag.hint = Some(
                    "a secret's value is age-encrypted: remove it here and set it with `dovetail secrets set KEY`"
                        .to_owned(),
                );
            } else if expected.contains("boolean") && instance.is_string() {
                diag.hint = Some("write true or false".to_owned());
            } else if let (
                Some(format @ ("dovetail-bytes" | "dovetail-memory")),
                Value::Number(n),
            ) = (node.get("format").and_then(Value::as_str), &**instance)
            {
                // Quoted as it stands, `10` is ten bytes: a unit was almost surely meant.
                // A number past six digits, or a fraction, takes no unit as it stands.
                // Zero takes no unit that makes it usable: "0Mi" is refused in turn.
                let short = n.as_u64().is_some_and(|v| (1..=999_999).contains(&v));
                diag.hint = Some(match (short, format) {
                    (true, "dovetail-bytes") => format!(
                        "write it with its unit, like \"{n}Mi\" or \"{n}Gi\" (a bare number of bytes must be quoted)"
                    ),
                    (true, _) => format!("write it with its unit, like \"{n}Mi\" or \"{n}Gi\""),
                    (false, _) => {
                        "write it quoted with a unit, like \"512Mi\" or \"2Gi\"".to_owned()
                    }
                });
            } else if expected.contains("string") {
                diag.hint = Some(
                    match &**instance {
                        Value::Bool(_) | Value::Number(_) => "quote the value",
                        Value::Null => "write a value, or remove the field",
                        Value::String(_) | Value::Array(_) | Value::Object(_) => {
                            "write a single value here, not a list or mapping"
                        }
                    }
                    .to_owned(),
                );
            }
            if diag.hint.is_none() {
                let numeric = expected.contains("number") || expected.contains("integer");
                diag.hint = Some(if non_finite.is_some() && numeric {
                    range_hint(node)
                } else {
                    type_hint(&expected, instance)
                });
            }
            out.push(diag);
        }
        ValidationErrorKind::Constant { expected_value } => {
            let want = plain(expected_value);
            out.push(
                d(Code::BadValue, format!("must be `{want}`")).hint(format!("write `{want}`")),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let choices: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(plain).collect())
                .unwrap_or_default();
            let list = choices.join("`, `");
            let names: Vec<&str> = choices.iter().map(String::as_str).collect();
            let hint = match instance.as_str().and_then(|v| closest(v, &names)) {
                Some(near) if !at.redact => format!("did you mean `{near}`?"),
                _ => "write one of them, spelled as shown".to_owned(),
            };
            out.push(d(Code::BadValue, format!("{shown} is not one of `{list}`")).hint(hint));
        }
        // A memory that is a size, only too small: say so, not that it is no quantity.
        ValidationErrorKind::Format { .. }
            if node.get("format").and_then(Value::as_str) == Some("dovetail-memory")
                && instance.as_str().is_some_and(crate::input::formats::bytes) =>
        {
            let least = format!("{}Mi", crate::input::formats::MIN_MEMORY >> 20);
            // A bare number is bytes: a unit forgotten far more often than meant.
            let bare = instance
                .as_str()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                // Zero with a unit is still zero.
                .filter(|s| s.bytes().any(|b| b != b'0'));
            let (message, hint) = match bare {
                Some(n) => (
                    format!(
                        "{shown} is {n} bytes, less than the {least} a container needs to start"
                    ),
                    format!("write it with its unit, like {n}Mi or {n}Gi"),
                ),
                None => (
                    format!("{shown} is less than the {least} a container needs to start"),
                    format!("give at least {least}"),
                ),
            };
            out.push(d(Code::BadValue, message).hint(hint));
        }
        // The value is not shown: the NUL would be, and the rest adds nothing.
        ValidationErrorKind::Format { .. }
            if node.get("format").and_then(Value::as_str) == Some("dovetail-exec-text") =>
        {
            out.push(
                d(
                    Code::BadValue,
                    "holds a NUL byte (\\0), where the kernel cuts a program's arguments and environment short: the API server takes it, and the container does not start".to_owned(),
                )
                .hint("remove the \\0; binary data belongs in a file (files:) or a secret"),
            );
        }
        ValidationErrorKind::Pattern { .. } | ValidationErrorKind::Format { .. } => {
            out.push(match description {
                Some(what) => {
                    let (noun, rule) = split_rule(what);
                    let (noun, hint) = match rule {
                        Some(r) => (noun.to_owned(), format!("use {r}")),
                        // The examples go to the hint, which would otherwise repeat them.
                        None => (without_examples(noun), format_hint(what)),
                    };
                    d(Code::BadValue, format!("{shown} is not {noun}")).hint(hint)
                }
                None => d(Code::BadValue, format!("{shown} is not valid here"))
                    .hint(schema_hint(at.kind)),
            });
        }
        ValidationErrorKind::Not { .. } => {
            out.push(d(Code::ReservedName, format!("{shown} is reserved")).hint(
                "choose another: Kubernetes, the platform or dovetail uses it for its own objects",
            ));
        }
        ValidationErrorKind::Minimum { limit } => {
            out.push(
                d(
                    Code::OutOfRange,
                    format!("{shown} is below the minimum of {limit}"),
                )
                .hint(range_hint(node)),
            );
        }
        ValidationErrorKind::Maximum { limit } => {
            out.push(
                d(
                    Code::OutOfRange,
                    format!("{shown} is above the maximum of {limit}"),
                )
                .hint(range_hint(node)),
            );
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            let most = node.get("maximum").filter(|v| v.is_number());
            let range = most.map_or_else(
                || format!("use more than {limit}"),
                |hi| format!("use more than {limit} and at most {hi}"),
            );
            out.push(
                d(
                    Code::OutOfRange,
                    format!("{shown} must be more than {limit}"),
                )
                .hint(with_examples(range, description)),
            );
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            out.push(
                d(
                    Code::OutOfRange,
                    format!("{shown} must be less than {limit}"),
                )
                .hint(with_examples(format!("use less than {limit}"), description)),
            );
        }
        ValidationErrorKind::MinItems { limit } => {
            out.push(
                d(
                    Code::OutOfRange,
                    format!(
                        "needs at least {}",
                        counted(
                            usize::try_from(*limit).unwrap_or(usize::MAX),
                            "item",
                            "items"
                        )
                    ),
                )
                .hint("add to the list, or remove the field if it is optional"),
            );
        }
        ValidationErrorKind::MaxItems { limit } => {
            let mut diag = d(Code::OutOfRange, format!("has more than {limit} items"));
            diag.hint =
                Some(cap_hint.map_or_else(|| format!("keep at most {limit}"), str::to_owned));
            out.push(diag);
        }
        ValidationErrorKind::MinProperties { limit } => {
            out.push(
                d(
                    Code::OutOfRange,
                    format!(
                        "needs at least {}",
                        counted(
                            usize::try_from(*limit).unwrap_or(usize::MAX),
                            "entry",
                            "entries"
                        )
                    ),
                )
                .hint("give it an entry, or remove the field if it is optional"),
            );
        }
        ValidationErrorKind::MaxProperties { limit } => {
            let mut diag = d(
                Code::OutOfRange,
                match (limit, description) {
                    (1, Some(what)) => format!("give one of its fields, not several ({what})"),
                    _ => format!("has more than {limit} entries"),
                },
            );
            diag.hint = Some(cap_hint.map_or_else(
                || match (limit, description) {
                    (1, Some(_)) => "keep one of them".to_owned(),
                    _ => format!("keep at most {limit}"),
                },
                str::to_owned,
            ));
            out.push(diag);
        }
        ValidationErrorKind::MinLength { limit } => {
            let diag = if *limit == 1 {
                d(Code::OutOfRange, "is empty".to_owned())
                    .hint("write a value, or remove the field if it is optional")
            } else {
                d(
                    Code::OutOfRange,
                    format!("must be at least {limit} characters long"),
                )
                .hint(format!("write at least {limit} characters"))
            };
            out.push(diag);
        }
        ValidationErrorKind::MaxLength { limit } => {
            out.push(
                d(
                    Code::OutOfRange,
                    format!("is longer than {limit} characters"),
                )
                .hint(format!("shorten it to {limit} characters or fewer")),
            );
        }
        ValidationErrorKind::UniqueItems => {
            // At the item given again, and where it first stands; its value is not shown
            // (a list may hold URLs with credentials).
            let items = instance.as_array().map_or(&[][..], Vec::as_slice);
            let twice = (1..items.len()).find_map(|j| {
                items[..j]
                    .iter()
                    .position(|a| *a == items[j])
                    .map(|i| (i, j))
            });
            out.push(match twice {
                Some((first, again)) => {
                    let line = doc
                        .root
                        .at(&path.index(first))
                        .map(|n| format!(", line {}", n.pos.line))
                        .unwrap_or_default();
                    doc.value_error(
                        Code::OutOfRange,
                        &path.index(again),
                        format!("the same as item {} of the list{line}", first + 1),
                    )
                    .hint("list each item once: remove this one")
                }
                None => d(Code::OutOfRange, "has duplicate items".to_owned())
                    .hint("list each item once"),
            });
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
            out.push(match description {
                Some(what) => d(Code::BadValue, format!("{shown} matches none of {what}"))
                    .hint(format_hint(what)),
                None => d(
                    Code::BadValue,
                    format!("{shown} matches none of the allowed forms"),
                )
                .hint(schema_hint(at.kind)),
            });
        }
        _ => out.push(
            d(Code::BadValue, format!("{shown} is not valid here")).hint(schema_hint(at.kind)),
        ),
    }
    extra
}

/// A format's description split into what it is and, when it says so after a colon, the
/// rule it follows: `a Kubernetes name: lowercase letters, …`. The message names the
/// first, the hint says the second.
fn split_rule(description: &str) -> (&str, Option<&str>) {
    match description.split_once(": ") {
        Some((noun, rule)) => (noun, Some(rule)),
        None => (description, None),
    }
}

/// What to write instead of a value that is not of its format, from the format's own
/// description: its examples where it gives some (`a size, like 64Mi or 1Gi (…)`), else
/// the description itself.
fn format_hint(description: &str) -> String {
    match examples(description) {
        Some(examples) => format!("write it like {examples}"),
        None => format!("write {description}"),
    }
}

/// The examples a field's description gives after `like `, if any.
fn examples(description: &str) -> Option<&str> {
    examples_at(description).map(|r| &description[r])
}

/// `description` without its `, like …` examples: the noun a message names when the
/// hint gives them.
fn without_examples(description: &str) -> String {
    match examples_at(description) {
        Some(r) => {
            let like = description[..r.start].trim_end_matches("like ").trim_end();
            let like = like.strip_suffix(',').unwrap_or(like);
            format!("{like}{}", &description[r.end..])
        }
        None => description.to_owned(),
    }
}

/// Where the examples a description gives after `like ` are.
fn examples_at(description: &str) -> Option<std::ops::Range<usize>> {
    let (before, after) = description.split_once("like ")?;
    // The examples end where the prose does: at `(`, `;`, `: ` or a `, ` before a word.
    // A colon inside an example (a URL, a time, an IPv6 block) and a comma between
    // examples (`250m, 1 or 0.5`) stay.
    let bytes = after.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| match bytes[i] {
            b'(' | b';' => true,
            b':' => bytes.get(i + 1) == Some(&b' '),
            b',' => {
                bytes.get(i + 1) == Some(&b' ')
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_alphabetic)
            }
            _ => false,
        })
        .unwrap_or(after.len());
    let start = before.len() + "like ".len();
    let text = &after[..end];
    let lead = text.len() - text.trim_start().len();
    let r = start + lead..start + text.trim_end().len();
    (!r.is_empty()).then_some(r)
}

/// `hint`, and the examples the field's description gives (`like 250m, 1 or 0.5`), if any.
fn with_examples(hint: String, description: Option<&str>) -> String {
    match description.and_then(examples) {
        Some(examples) => format!("{hint}, like {examples}"),
        None => hint,
    }
}

/// Where to read what a field takes, for a value no more specific hint fits.
fn schema_hint(kind: SchemaKind) -> String {
    format!(
        "`dovetail schema {}` shows what the field takes",
        kind.name()
    )
}

/// The range a number must be in, from the bounds beside the one it crossed.
fn range_hint(node: &Value) -> String {
    let bound = |k: &str| {
        node.get(k)
            .filter(|v| v.is_number())
            .map(ToString::to_string)
    };
    match (bound("minimum"), bound("maximum")) {
        (Some(lo), Some(hi)) => format!("use a value from {lo} to {hi}"),
        (Some(lo), None) => format!("use {lo} or more"),
        (None, Some(hi)) => format!("use at most {hi}"),
        (None, None) => "write a finite number".to_owned(),
    }
}

/// What to write for a value of the wrong type, where no more specific hint applies.
fn type_hint(expected: &str, found: &Value) -> String {
    let numeric = expected.contains("integer") || expected.contains("number");
    match found {
        Value::Null if expected == "a mapping" => {
            "write its fields indented on the lines below it, or remove it".to_owned()
        }
        Value::Null => "write a value, or remove the field".to_owned(),
        Value::String(s) if numeric && s.trim().parse::<f64>().is_ok() => {
            "remove the quotes".to_owned()
        }
        Value::Number(_) if expected.contains("integer") => {
            "write a whole number, without a fraction or exponent".to_owned()
        }
        _ if expected == "a mapping" => {
            "write its fields indented on the lines below it, or as {field: value}".to_owned()
        }
        _ if expected == "a list" => {
            "write the items as [a, b], or one `- item` per line below it".to_owned()
        }
        _ if expected.contains("integer") => "write a whole number, without quotes".to_owned(),
        _ if numeric => "write a number, without quotes".to_owned(),
        _ => format!("write {expected}"),
    }
}

/// Turns a JSON pointer into a path, telling list indexes from keys by the document.
fn to_path(doc: &Doc, pointer: &str) -> Path {
    let mut path = Path::root();
    if pointer.is_empty() {
        return path;
    }
    for raw in pointer.trim_start_matches('/').split('/') {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        let is_seq = matches!(doc.root.at(&path).map(|n| &n.kind), Some(NodeKind::Seq(_)));
        match seg.parse::<usize>() {
            Ok(i) if is_seq => path.0.push(Seg::Index(i)),
            _ => path.0.push(Seg::Key(seg)),
        }
    }
    path
}

fn article(t: &str) -> String {
    match t {
        "integer" => "an integer".to_owned(),
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        other => format!("a {other}"),
    }
}

fn found_type(v: &Value) -> String {
    match v {
        Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            format!("{} {}", kind_of(v), show(v))
        }
        Value::Null | Value::Array(_) | Value::Object(_) => kind_of(v).to_owned(),
    }
}

/// What kind of value `v` is, without its value.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A value for a message: scalars in backticks, cut short; collections by their kind;
/// never an age private key, whatever file it was pasted into.
fn show(v: &Value) -> String {
    match v {
        Value::Array(_) => "the list".to_owned(),
        Value::Object(_) => "the mapping".to_owned(),
        Value::String(s) if crate::crypto::is_identity(s) => crate::crypto::HIDDEN_KEY.to_owned(),
        other => {
            let text = plain(other);
            let cut: String = text.chars().take(60).collect();
            if cut.len() < text.len() {
                format!("`{cut}…`")
            } else {
                format!("`{cut}`")
            }
        }
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The known name nearest to `key`, if a typo away: one edit per three characters of
/// `key`, at least one, so that `comand` finds `command` while `foo`, two edits from
/// `pod`, finds nothing (a suggestion for an unrelated name is noise).
pub(crate) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let most = (key.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (distance(&key.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= most)
        .min()
        .map(|(_, k)| k)
}

/// Edit distance counting a swap of neighbours as one edit (optimal string alignment),
/// so that `prot` is nearer `port` than `pod`. Small enough to write here rather than
/// take a crate for.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::yaml;

    /// Regression: the examples were cut at the first colon, so a URL's hint read
    /// "write it like https" and a time's "write it like 2026-11-30T06".
    #[test]
    fn a_formats_examples_are_its_hint_colons_and_all() {
        for (description, hint) in [
            (
                "the object store's http(s) URL, like http://10.20.0.15:9000, with no user",
                "write it like http://10.20.0.15:9000",
            ),
            (
                "a time, like 2026-11-30T06:00:00Z: recover up to this moment",
                "write it like 2026-11-30T06:00:00Z",
            ),
            (
                "a block, like 203.0.113.0/24 or 2001:db8::/32 (no host bits set)",
                "write it like 203.0.113.0/24 or 2001:db8::/32",
            ),
            (
                "a CPU amount, like 250m, 1 or 0.5",
                "write it like 250m, 1 or 0.5",
            ),
            ("a size, like 1Gi: the container's", "write it like 1Gi"),
            ("a plain thing", "write a plain thing"),
        ] {
            assert_eq!(format_hint(description), hint);
        }
    }

    /// Regression: a hostname "is not a lowercase DNS hostname, like shop.acme.example
    /// (an IP address is not one); write it like shop.acme.example": the examples go to
    /// the hint alone.
    #[test]
    fn a_formats_examples_are_given_once() {
        for (description, noun) in [
            (
                "a lowercase DNS hostname, like shop.acme.example (an IP address is not one)",
                "a lowercase DNS hostname (an IP address is not one)",
            ),
            ("a CPU amount, like 250m, 1 or 0.5", "a CPU amount"),
            ("a plain thing", "a plain thing"),
        ] {
            assert_eq!(without_examples(description), noun);
        }
    }

    /// Regression: a format whose description gave neither examples (`like …`) nor a
    /// rule (`noun: rule`) got the description back as its hint, so that a bad
    /// `destinationPath` "is not the object store bucket and prefix, `s3://bucket/path`;
    /// write the object store bucket and prefix, `s3://bucket/path`", which says nothing
    /// of what is wrong.
    #[test]
    fn every_formats_hint_says_more_than_its_message() {
        fn walk(v: &Value, at: &str, bare: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let (Some(_), Some(Value::String(d))) = (
                        m.get("format").or_else(|| m.get("pattern")),
                        m.get("description"),
                    ) && split_rule(d).1.is_none()
                        && format_hint(d) == format!("write {d}")
                    {
                        bare.push(format!("{at}: {d}"));
                    }
                    for (k, v) in m {
                        walk(v, &format!("{at}/{k}"), bare);
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, at, bare)),
                _ => {}
            }
        }
        let mut bare = Vec::new();
        for kind in SHIPPED {
            let v: Value = serde_json::from_str(kind.text()).unwrap();
            walk(&v, kind.name(), &mut bare);
        }
        assert!(bare.is_empty(), "hints restating their message: {bare:#?}");
    }

    /// The schemas `schemas/` ships to editors.
    const SHIPPED: [SchemaKind; 5] = [
        SchemaKind::App,
        SchemaKind::Allocation,
        SchemaKind::Platform,
        SchemaKind::Resolved,
        SchemaKind::Secrets,
    ];

    fn run(kind: SchemaKind, text: &str) -> Vec<String> {
        let doc = Doc {
            file: "f.yaml".into(),
            root: yaml::parse(text).unwrap(),
        };
        let mut diags = Diagnostics::default();
        check(kind, &doc, &doc.root.to_json(), &mut diags);
        diags.sorted().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_schema_is_valid_json_with_a_draft_2020_12_header() {
        for kind in SHIPPED {
            let v: Value = serde_json::from_str(kind.text()).unwrap();
            assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
        }
    }

    /// The stand-in allocation of `validate --app` allows as many sidecars as any
    /// operator can: the schemas' bound and the constant must not drift apart.
    #[test]
    fn the_most_sidecars_is_what_the_schemas_allow() {
        let platform: Value = serde_json::from_str(SchemaKind::Platform.text()).unwrap();
        let app: Value = serde_json::from_str(SchemaKind::App.text()).unwrap();
        let most = u64::from(crate::input::model::MOST_SIDECARS);
        assert_eq!(
            platform
                .pointer("/properties/policy/properties/maxSidecars/maximum")
                .and_then(Value::as_u64),
            Some(most)
        );
        assert_eq!(
            app.pointer("/$defs/podFragment/properties/containers/maxItems")
                .and_then(Value::as_u64),
            Some(most)
        );
    }

    #[test]
    fn typo_gets_a_suggestion_at_the_key() {
        let out = run(
            SchemaKind::App,
            "apiVersion: dovetail/v1\nkind: App\nimage: a/b:1\nprocesses:\n  web:\n    comand: [x]\n",
        );
        assert_eq!(
            out,
            [
                "f.yaml:6:5: error: processes.web.comand: unknown field; did you mean `command`? [DT201]"
            ]
        );
    }

    #[test]
    fn wrong_types_missing_fields_and_patterns_are_all_reported() {
        let out = run(
            SchemaKind::App,
            "apiVersion: dovetail/v1\nkind: App\nprocesses:\n  web:\n    port: eighty\n    singleton: yes\n  Bad_Name: {}\n",
        );
        assert_eq!(
            out,
            [
                "f.yaml:1:1: error: image: required field missing; add `image:` (`dovetail schema app` shows what it takes) [DT202]",
                "f.yaml:5:11: error: processes.web.port: expected an integer, found a string `eighty`; write a whole number, without quotes [DT203]",
                "f.yaml:6:16: error: processes.web.singleton: expected a boolean, found a string `yes`; write true or false [DT203]",
                "f.yaml:7:3: error: processes.Bad_Name: `Bad_Name` is not a process name; rename it: lowercase letters, digits and '-', starting with a letter, at most 20 characters; not one that names dovetail's or CloudNativePG's own objects or containers (init, db or db-…, redis, static, env, files, secrets, pull, tls, metrics, egress, wait-for-postgres, wait-for-redis) [DT204]",
            ]
        );
    }

    /// `1e400` and `.nan` were called strings (JSON has no such numbers), and a null
    /// or a list in a string field was told to quote the value.
    #[test]
    fn non_finite_numbers_nulls_and_lists_are_named_for_what_they_are() {
        let out = run(
            SchemaKind::App,
            "apiVersion: dovetail/v1\nkind: App\nimage: ~\nprocesses:\n  web:\n    port: 1e400\n    command: [x, [y]]\n  api:\n    port: .nan\n",
        );
        assert_eq!(
            out,
            [
                "f.yaml:3:8: error: image: expected a string, found nothing (null); write a value, or remove the field [DT203]",
                "f.yaml:6:11: error: processes.web.port: expected an integer, found `1e400` (a number out of range); use a value from 1 to 65535 [DT203]",
                "f.yaml:7:18: error: processes.web.command[1]: expected a string, found a list; write a single value here, not a list or mapping [DT203]",
                "f.yaml:9:11: error: processes.api.port: expected an integer, found `.nan` (not a number); use a value from 1 to 65535 [DT203]",
            ]
        );
        // Regression: `.nan` where a mapping belongs was told to "write a finite number".
        assert_eq!(
            run(
                SchemaKind::App,
                "apiVersion: dovetail/v1\nkind: App\nimage: a/b:1\nprocesses:\n  web: {command: [x]}\nstatic: .nan\n",
            ),
            [
                "f.yaml:6:9: error: static: expected a mapping, found `.nan` (not a number); write its fields indented on the lines below it, or as {field: value} [DT203]",
            ]
        );
    }

    /// A field of several types read "a string or a number or a boolean".
    #[test]
    fn several_types_are_listed_as_a_sentence_would() {
        let out = run(
            SchemaKind::App,
            "apiVersion: dovetail/v1\nkind: App\nimage: a/b:1\nprocesses:\n  web:\n    command: [x]\nenv:\n  A: [x]\n",
        );
        assert_eq!(
            out,
            [
                "f.yaml:8:3: error: env.A: expected a string, a number or a boolean, found a list; write a single value here, not a list or mapping [DT203]"
            ]
        );
    }

    /// The caps of `env:`, `files:` and commands said what was wrong, not what to do.
    #[test]
    fn a_list_or_mapping_past_its_cap_says_what_to_do() {
        use std::fmt::Write as _;
        let mut text = "apiVersion: dovetail/v1\nkind: App\nimage: a/b:1\nprocesses:\n  web:\n    command: [run]\nenv:\n".to_owned();
        for i in 0..257 {
            writeln!(text, "  K{i}: v").unwrap();
        }
        text.push_str("files:\n");
        for i in 0..65 {
            writeln!(text, "  - {{path: f{i}, mount: /etc/f{i}}}").unwrap();
        }
        let out = run(SchemaKind::App, &text);
        assert_eq!(
            out,
            [
                "f.yaml:7:1: error: env: has more than 256 entries; put settings the app reads in bulk in a config file (files:), or in the image [DT205]",
                "f.yaml:265:1: error: files: has more than 64 items; ship files that do not change between deployments in the image, or join small ones into one [DT205]",
            ]
        );
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("comand", "command"), 1);
        assert_eq!(distance("prot", "port"), 1);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(closest("replica", &["replicas", "plan"]), Some("replicas"));
        assert_eq!(closest("prot", &["port", "pod"]), Some("port"));
        assert_eq!(closest("foo", &["pod", "port"]), None);
        assert_eq!(closest("tcp", &["TCP", "UDP"]), Some("TCP"));
    }
}
