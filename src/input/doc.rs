//! Reading and checking the input documents: size cap, UTF-8, YAML, ownership, schema,
//! then typed values. Each step records what it finds and the next runs only where the
//! last one passed, so one run reports every problem it can.

use serde::de::DeserializeOwned;

use crate::diag::{Diagnostic, Diagnostics, Doc};
use crate::input::schema::{self, SchemaKind};
use crate::input::tree::{MAX_YAML_BYTES, ReadError, Tree};
use crate::input::yaml::{self, Pos};

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
            let hint = match e {
                ReadError::TooLarge { .. } => "inputs are small YAML files; split or trim it",
                ReadError::NotFound(_) => "create it, or point dovetail at the right directory",
                _ => "replace it with a regular file inside the repo",
            };
            diags.push(Diagnostic::at(shown, Pos::START, e.to_string()).hint(hint));
            None
        }
    }
}

/// Parses the bytes of a YAML input file; `None` (with a diagnostic) when they are not
/// UTF-8 or not YAML.
pub fn parse_doc(bytes: Vec<u8>, shown: &str, diags: &mut Diagnostics) -> Option<Doc> {
    let Ok(text) = String::from_utf8(bytes) else {
        diags.push(Diagnostic::at(shown, Pos::START, "is not UTF-8 text").hint("save it as UTF-8"));
        return None;
    };
    match yaml::parse(&text) {
        Ok(root) => Some(Doc {
            file: shown.to_owned(),
            root,
        }),
        Err(e) => {
            diags.push(Diagnostic::at(shown, e.pos(), e.to_string()));
            None
        }
    }
}

/// Checks `doc` against its schema and, when it passes, returns its typed form.
pub fn typed<T: DeserializeOwned>(
    kind: SchemaKind,
    doc: &Doc,
    diags: &mut Diagnostics,
) -> Option<T> {
    let value = doc.root.to_json();
    let before = diags.error_count();
    schema::check(kind, doc, &value, diags);
    if diags.error_count() > before {
        return None;
    }
    match serde_path_to_error::deserialize(value) {
        Ok(t) => Some(t),
        // The schema admits operator-owned fields so that ownership can name their
        // owner; that error is already reported, and this one would only confuse.
        Err(_) if diags.has_errors_in(&doc.file) => None,
        Err(e) => {
            let path = yaml::Path::parse(&e.path().to_string());
            let found = doc
                .root
                .at(&path)
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
            diags.push(
                doc.error(&path, format!("expected {expected}{found}"))
                    .hint(
                        "write it as the field's documentation shows (`dovetail schema` prints it)",
                    ),
            );
            None
        }
    }
}
