//! Reading and checking the input documents: size cap, UTF-8, YAML, ownership, schema,
//! then typed values. Each step records what it finds and the next runs only where the
//! last one passed, so one run reports every problem it can.

use serde::de::DeserializeOwned;

use crate::diag::{Code, Diagnostic, Diagnostics, Doc};
use crate::input::formats;
use crate::input::schema::{self, SchemaKind};
use crate::input::tree::{MAX_YAML_BYTES, ReadError, Tree};
use crate::input::yaml::{self, Node, NodeKind, Path, Pos};

/// Reads and parses one YAML file; `None` (with diagnostics) when it is unusable.
pub fn read_doc(tree: &Tree, rel: &str, shown: &str, diags: &mut Diagnostics) -> Option<Doc> {
    let bytes = read_yaml_bytes(tree, rel, shown, diags)?;
    parse_doc(bytes, shown, diags)
}

/// The bytes of one YAML input file, within [`MAX_YAML_BYTES`]; `None` (with a
/// diagnostic) when it cannot be read.
pub fn read_yaml_bytes(
    tree: &Tree,
    rel: &str,
    shown: &str,
    diags: &mut Diagnostics,
) -> Option<Vec<u8>> {
    match tree.read(rel, MAX_YAML_BYTES) {
        Ok(b) => Some(b),
        Err(e) => {
            diags.push(unreadable(&e, shown));
            None
        }
    }
}

/// The diagnostic of an input file `shown` that cannot be read as `e` says.
pub fn unreadable(e: &ReadError, shown: &str) -> Diagnostic {
    let hint = match e {
        ReadError::TooLarge { .. } => "inputs are small YAML files; split or trim it",
        ReadError::NotFound(_) => "create it, or point dovetail at the right directory",
        ReadError::DirTooLarge { .. } => "keep the app's directories small",
        ReadError::TooDeep(_) => "use a path fewer directories deep",
        ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            "make it readable by the user dovetail runs as"
        }
        ReadError::Io { .. } | ReadError::Git { .. } => {
            "check the file and the disk, then run it again"
        }
        _ => "replace it with a regular file inside the repo",
    };
    Diagnostic::at(Code::Unreadable, shown, Pos::START, e.to_string()).hint(hint)
}

/// Where the first byte that is not UTF-8 stands: `valid` bytes of `bytes` are.
fn first_invalid(bytes: &[u8], valid: usize) -> Pos {
    Pos::after(std::str::from_utf8(&bytes[..valid]).unwrap_or_default())
}

/// Parses the bytes of a YAML input file; `None` (with a diagnostic) when they are not
/// UTF-8 or not YAML.
pub fn parse_doc(bytes: Vec<u8>, shown: &str, diags: &mut Diagnostics) -> Option<Doc> {
    parse(bytes, shown, false, diags)
}

/// [`parse_doc`] for a secrets file: no error quotes the file's text, since a value may
/// have been pasted in unencrypted.
pub fn parse_secrets_doc(bytes: Vec<u8>, shown: &str, diags: &mut Diagnostics) -> Option<Doc> {
    parse(bytes, shown, true, diags)
}

fn parse(bytes: Vec<u8>, shown: &str, secret: bool, diags: &mut Diagnostics) -> Option<Doc> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = first_invalid(e.as_bytes(), e.utf8_error().valid_up_to());
            diags.push(
                Diagnostic::at(Code::NotUtf8, shown, at, "is not UTF-8 text")
                    .hint("save it as UTF-8"),
            );
            return None;
        }
    };
    let describe = |e: yaml::YamlError| {
        let e = if secret { e.hiding_text() } else { e };
        let code = match e {
            yaml::YamlError::DuplicateKey { .. } => Code::DuplicateKey,
            yaml::YamlError::TooDeep { .. }
            | yaml::YamlError::TooManyNodes { .. }
            | yaml::YamlError::TooLarge { .. } => Code::YamlTooBig,
            _ => Code::YamlSyntax,
        };
        let hint = match e {
            // `init` writes no secrets file: a value set is how one starts.
            yaml::YamlError::Empty if secret => {
                "set a value with `dovetail secrets set KEY`, or remove `secrets:` from dovetail.yaml"
                    .to_owned()
            }
            _ => e.hint(),
        };
        Diagnostic::at(code, shown, e.pos(), e.to_string()).hint(hint)
    };
    match yaml::parse_input(&text, secret) {
        Ok((mut root, duplicates)) => {
            if secret {
                hide_keys(&mut root, false);
            }
            // The first of each duplicated key is kept, and the file checked on.
            for e in duplicates {
                diags.push(describe(e));
            }
            // A secret's value is ciphertext here and base64 once decrypted.
            if !secret {
                unappliable_characters(&root, &Path::root(), shown, diags);
            }
            Some(Doc {
                file: shown.to_owned(),
                root,
            })
        }
        Err(e) => {
            diags.push(describe(e));
            None
        }
    }
}

/// What a secrets file's key that may be a value is shown as.
pub const HIDDEN_KEY: &str = "(a key that is no secret name, not shown)";

/// Keys of a secrets file that may be a value renamed [`HIDDEN_KEY`]: under `data`
/// (`in_data`), every key that is no secret name (`SECRET_KEY=hunter2:`, as a shell or
/// `.env` file sets a value, or a URL with its password); elsewhere, a key holding `=`.
/// Whatever names a key (a schema error, its path in any report, the keys `unset`
/// lists) would show it.
fn hide_keys(node: &mut Node, in_data: bool) {
    let top = matches!(node.kind, NodeKind::Map(_)) && !in_data;
    match &mut node.kind {
        NodeKind::Scalar(_) => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| hide_keys(n, false)),
        NodeKind::Map(entries) => {
            for e in entries {
                let hide = if in_data {
                    !crate::input::formats::secret_name(&e.key)
                } else {
                    e.key.contains('=')
                };
                if hide {
                    HIDDEN_KEY.clone_into(&mut e.key);
                }
                hide_keys(&mut e.value, top && e.key == "data");
            }
        }
    }
}

/// Reports each key and string of `node` that holds a character the API server's apply
/// refuses ([`formats::unappliable`]); escapes (`"\x7F"`) are how they get in. The
/// message names the character, never the text around it.
fn unappliable_characters(node: &Node, path: &Path, shown: &str, diags: &mut Diagnostics) {
    match &node.kind {
        NodeKind::Scalar(s) => unappliable_in(&s.text, node.pos, path, shown, diags),
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                unappliable_characters(item, &path.index(i), shown, diags);
            }
        }
        NodeKind::Map(entries) => {
            for e in entries {
                let at = path.key(&e.key);
                unappliable_in(&e.key, e.key_pos, &at, shown, diags);
                unappliable_characters(&e.value, &at, shown, diags);
            }
        }
    }
}

/// [`unappliable_characters`] for one key or scalar.
fn unappliable_in(text: &str, pos: Pos, path: &Path, shown: &str, diags: &mut Diagnostics) {
    let Some((i, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| formats::unappliable(*c))
    else {
        return;
    };
    let mut d = Diagnostic::at(
        Code::Unappliable,
        shown,
        pos,
        format!(
            "character {} is U+{:04X}, which Kubernetes' server-side apply refuses",
            i + 1,
            u32::from(c)
        ),
    )
    .hint("remove it (a config file may hold it: that one is sent as binaryData)");
    d.field = path.to_string();
    d.path = path.clone();
    diags.push(d);
}

/// Checks `doc` against its schema and returns its typed form. A document with errors
/// (its own, or ownership's before it) is typed without the fields in error, so that
/// every later check still runs on the rest of it; what comes back then is for finding
/// more problems, never for rendering (the errors are in `diags`); a top-level field it
/// lacks is stood in for. `None` when even that cannot be typed.
pub fn typed<T: DeserializeOwned>(
    kind: SchemaKind,
    doc: &Doc,
    diags: &mut Diagnostics,
) -> Option<T> {
    let mut value = doc.root.to_json();
    schema::check(kind, doc, &value, diags);
    if diags.has_errors_in(&doc.file) {
        for path in diags.error_paths_in(&doc.file) {
            prune(&mut value, path);
        }
        // A field left out may be one its parent needs (`mount` of a `files` entry):
        // leave the parent out too, until what is left types, so that the checks after
        // this one still run and report their problems with this one's. The parent's
        // absence is the reported error's (see `merge`'s `dropped`). A top-level field
        // has no parent to leave out: one the model needs that is itself in error
        // (missing, or of the wrong kind) gets a stand-in instead, which the merge's
        // checks pass over as they do any field in error. One with an error inside it
        // (`redis.memory`) is left out as any other parent is, its error saying why: a
        // stand-in there would be checked as if it were a value the file gave.
        let in_error: Vec<&str> = diags
            .error_paths_in(&doc.file)
            .filter_map(|p| match p.0.as_slice() {
                [yaml::Seg::Key(top)] => Some(top.as_str()),
                _ => None,
            })
            .collect();
        for _ in 0..MAX_PRUNES {
            match serde_path_to_error::deserialize(&value) {
                Ok(t) => return Some(t),
                Err(e) => {
                    let at = match e.path().to_string().as_str() {
                        "." => yaml::Path::root(),
                        dotted => yaml::Path::parse(dotted),
                    };
                    let inner = e.inner().to_string();
                    let done = match stand_in_for(&at, &inner, &in_error) {
                        Some(field) => stand_in(&mut value, &field),
                        None => prune(&mut value, &at),
                    };
                    if !done {
                        return None;
                    }
                }
            }
        }
        return None;
    }
    match serde_path_to_error::deserialize(value) {
        Ok(t) => Some(t),
        Err(e) => {
            let path = yaml::Path::parse(&e.path().to_string());
            // A secrets file's values are never shown (see schema::check).
            let found = doc
                .root
                .at(&path)
                .filter(|_| kind != SchemaKind::Secrets)
                .and_then(yaml::Node::scalar_text)
                .map(|t| format!(", found `{}`", crate::diag::escaped(t)))
                .unwrap_or_default();
            let inner = e.inner().to_string();
            // serde says "invalid type: floating point `8000.0`, expected u16"; what
            // the user needs is the kind of value the field takes.
            let expected = if inner.contains("expected u") || inner.contains("expected i") {
                "a whole number".to_owned()
            } else {
                inner
                    .rsplit_once("expected ")
                    .map_or_else(|| "another kind of value".to_owned(), |(_, e)| e.to_owned())
            };
            let hint = match whole_number_hint(doc, &path, kind, &expected) {
                Some(hint) => hint,
                None => "write it as the field's documentation shows (`dovetail schema` prints it)"
                    .to_owned(),
            };
            diags.push(
                doc.value_error(
                    Code::WrongType,
                    &path,
                    format!("expected {expected}{found}"),
                )
                .hint(hint),
            );
            None
        }
    }
}

/// For a whole number written as a float (`8000.0`, `8e3`), how to write it.
fn whole_number_hint(
    doc: &Doc,
    path: &yaml::Path,
    kind: SchemaKind,
    expected: &str,
) -> Option<String> {
    if expected != "a whole number" || kind == SchemaKind::Secrets {
        return None;
    }
    let text = doc.root.at(path)?.scalar_text()?;
    let f: f64 = text.trim().parse().ok()?;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "checked to be a whole number well inside i64 first"
    )]
    let whole = (f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)?;
    Some(format!("write it as `{whole}`"))
}

/// How many parents [`typed`] leaves out, at most, after a document's errors.
const MAX_PRUNES: usize = 64;

/// Removes the field at `path` from `value`: the mapping key nearest the end of the
/// path, so that no list shifts and every other field keeps its place (and its
/// `file:line:column` in later messages). A path ending in a list item drops the list.
/// Whether it removed anything.
fn prune(value: &mut serde_json::Value, path: &yaml::Path) -> bool {
    let Some(last_key) = path.0.iter().rposition(|s| matches!(s, yaml::Seg::Key(_))) else {
        return false;
    };
    let Some(node) = node_at(value, &path.0[..last_key]) else {
        return false;
    };
    match (node, &path.0[last_key]) {
        (serde_json::Value::Object(map), yaml::Seg::Key(k)) => {
            map.shift_remove(k.as_str()).is_some()
        }
        _ => false,
    }
}

/// The node of `value` at `segs`, if there is one.
fn node_at<'v>(
    value: &'v mut serde_json::Value,
    segs: &[yaml::Seg],
) -> Option<&'v mut serde_json::Value> {
    segs.iter().try_fold(value, |node, seg| match seg {
        yaml::Seg::Key(k) => node.get_mut(k.as_str()),
        yaml::Seg::Index(i) => node.get_mut(*i),
    })
}

/// The field serde's error `inner` at `at` is about, when it is one of the top-level
/// fields `in_error` (or inside one): a field a stand-in is wanted for.
fn stand_in_for(at: &yaml::Path, inner: &str, in_error: &[&str]) -> Option<yaml::Path> {
    let field = match missing_field(inner) {
        Some(name) => at.key(name),
        None => at.clone(),
    };
    match field.0.first() {
        Some(yaml::Seg::Key(top)) if in_error.contains(&top.as_str()) => Some(field),
        _ => None,
    }
}

/// The field named by serde's "missing field `name`".
fn missing_field(inner: &str) -> Option<&str> {
    inner
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name)
}

/// The values a stand-in is tried as, in turn, until the model takes one: whatever
/// kind of value the field is, one of them is its emptiest.
fn stand_ins() -> [serde_json::Value; 5] {
    [
        serde_json::Value::String(String::new()),
        serde_json::Value::Object(serde_json::Map::new()),
        serde_json::Value::Array(Vec::new()),
        serde_json::Value::from(0),
        serde_json::Value::Bool(false),
    ]
}

/// Puts a stand-in at `field` (a top-level field in error, or under one): missing, the first of
/// [`stand_ins`]; there, the next one. Whether it put one.
fn stand_in(value: &mut serde_json::Value, field: &yaml::Path) -> bool {
    let Some((yaml::Seg::Key(name), parent)) = field.0.split_last() else {
        return false;
    };
    let Some(serde_json::Value::Object(map)) = node_at(value, parent) else {
        return false;
    };
    let next = match map.get(name.as_str()) {
        None => stand_ins().into_iter().next(),
        Some(current) => stand_ins().into_iter().skip_while(|v| v != current).nth(1),
    };
    match next {
        Some(v) => {
            map.insert(name.clone(), v);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_utf8_is_pointed_at_where_it_stops_being_so() {
        let mut diags = Diagnostics::default();
        let bytes = b"a: 1\nb: caf\xc3\xa9 \xff\n".to_vec();
        assert!(parse_doc(bytes, "x.yaml", &mut diags).is_none());
        let d = diags.sorted();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].pos, Pos { line: 2, col: 9 });
    }
}
