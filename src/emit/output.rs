//! Rendered objects as YAML: one stream for stdout, or one file per object.
//!
//! Nothing is written until everything is rendered, so a failure never leaves partial
//! output behind.

use std::fs;
use std::path::Path;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// Why output could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The serializer refused an object (a bug, not a user error).
    #[error("cannot write YAML: {0}")]
    Yaml(String),
    /// The output directory holds files dovetail did not write.
    #[error("`{dir}` holds `{file}`, which dovetail did not write")]
    ForeignFile {
        /// The directory.
        dir: String,
        /// The file.
        file: String,
    },
    /// A rendered object is larger than the API server stores.
    #[error(
        "the {kind} `{name}` would be {} KiB of YAML, over the {} KiB etcd takes in one request: the API server would refuse it",
        bytes / 1024,
        MAX_OBJECT_BYTES / 1024
    )]
    TooLarge {
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// Its size as YAML.
        bytes: usize,
    },
    /// The OS refused.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// What was being written.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Largest rendered object, as YAML text: an object etcd would refuse to store (its
/// default request limit, 1.5 MiB) is refused here, before Argo CD syncs half an app.
/// Stored objects are smaller than their YAML, so nothing etcd takes is refused.
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

impl OutputError {
    /// What to do about it, for the errors a user's input causes.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            OutputError::TooLarge { .. } => Some(
                "shorten what is copied into it: a health command goes into three probes, env into every container, the pod fragment into every process; ship large files in the image",
            ),
            OutputError::ForeignFile { .. } => {
                Some("give -o an empty directory, or one dovetail wrote")
            }
            OutputError::Io { source, .. } => Some(crate::io_hint(source)),
            OutputError::Yaml(_) => None,
        }
    }

    /// Whether the inputs caused it (exit status 1), not the environment.
    pub fn is_input(&self) -> bool {
        matches!(self, OutputError::TooLarge { .. })
    }
}

/// Appends `object` as one document of a stream, `---` first, and refuses it past
/// [`MAX_OBJECT_BYTES`].
fn push_checked(out: &mut String, object: &Value) -> Result<(), OutputError> {
    let start = out.len();
    push_document(out, &GoReadable(object))?;
    let bytes = out.len() - start;
    if bytes > MAX_OBJECT_BYTES {
        return Err(OutputError::TooLarge {
            kind: object["kind"].as_str().unwrap_or("object").to_owned(),
            name: object["metadata"]["name"]
                .as_str()
                .unwrap_or("unnamed")
                .to_owned(),
            bytes,
        });
    }
    Ok(())
}

/// One object as a YAML document, without the `---` separator.
pub fn to_yaml(object: &Value) -> Result<String, OutputError> {
    let mut out = String::new();
    write_yaml(&mut out, &GoReadable(object))?;
    Ok(out)
}

/// Appends `object` as a YAML document, without the `---` separator, to `out`.
fn write_yaml<T: Serialize>(out: &mut String, object: &T) -> Result<(), OutputError> {
    let start = out.len();
    if super::block::write(out, object).is_ok() {
        return Ok(());
    }
    out.truncate(start);
    write_reference(out, object)
}

/// Appends `object` as serde-saphyr alone writes it: the layout and quoting the fast
/// [`super::block`] writer must match byte for byte.
pub(crate) fn write_reference<T: Serialize>(
    out: &mut String,
    object: &T,
) -> Result<(), OutputError> {
    // Lists indented under their key: the layout yamllint's default config and most
    // hand-written manifests use.
    let options = serde_saphyr::ser_options! { compact_list_indent: false };
    serde_saphyr::to_fmt_writer_with_options(out, object, options)
        .map_err(|e| OutputError::Yaml(e.to_string()))
}

/// `object` as serde-saphyr alone writes it, for holding the fast writer to it (tests
/// and the `emit` fuzz target).
pub fn to_yaml_reference(object: &Value) -> Result<String, OutputError> {
    let mut out = String::new();
    write_reference(&mut out, &GoReadable(object))?;
    Ok(out)
}

/// A rendered object whose strings are written so that Go's YAML parsers read them back:
/// go-yaml (behind kubectl, kustomize and Argo CD's repo-server) takes a block scalar's
/// indentation from its first non-empty line and stops at a tab there ("found a tab
/// character where an indentation space is expected"), and serde-saphyr gives such a
/// block no indentation indicator (it does for leading spaces). One env value or config
/// file starting with a tab would make the whole render unreadable to Argo CD, so such a
/// string is written double-quoted instead.
struct GoReadable<'a>(&'a Value);

impl Serialize for GoReadable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(text) if block_starts_with_tab(text) => {
                serde_saphyr::DoubleQuoted(text).serialize(s)
            }
            Value::Array(items) => s.collect_seq(items.iter().map(GoReadable)),
            Value::Object(map) => s.collect_map(map.iter().map(|(k, v)| (k, GoReadable(v)))),
            scalar => scalar.serialize(s),
        }
    }
}

/// Whether `text` would be a block scalar (it has several lines) whose first non-empty
/// line starts with a tab.
fn block_starts_with_tab(text: &str) -> bool {
    text.contains('\n')
        && text
            .split('\n')
            .find(|line| !line.is_empty())
            .is_some_and(|line| line.starts_with('\t'))
}

/// Appends `object` (anything that serializes as a Kubernetes object) to `out` as one
/// document of a stream, `---` first.
pub fn push_document<T: Serialize>(out: &mut String, object: &T) -> Result<(), OutputError> {
    out.push_str("---\n");
    write_yaml(out, object)
}

/// All objects as one multi-document stream.
pub fn stream(objects: &[Value]) -> Result<String, OutputError> {
    let mut out = String::new();
    for o in objects {
        push_checked(&mut out, o)?;
    }
    Ok(out)
}

/// The file an object is written to: `NN-kind-name.yaml`, numbered in stream order.
pub fn file_name(index: usize, object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("object").to_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or("unnamed");
    format!("{index:02}-{kind}-{name}.yaml")
}

fn ours(file: &str) -> bool {
    let Some(stem) = file.strip_suffix(".yaml") else {
        return false;
    };
    let mut parts = stem.splitn(3, '-');
    parts
        .next()
        .is_some_and(|n| n.len() >= 2 && n.bytes().all(|b| b.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.next().is_some_and(|n| !n.is_empty())
}

/// Writes one file per object into `dir`, replacing what an earlier render wrote there
/// (so an object that is gone does not linger) and refusing to touch anything else.
pub fn write_dir(dir: &Path, objects: &[Value]) -> Result<usize, OutputError> {
    let shown = dir.display().to_string();
    let io = |path: &Path, source| OutputError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut docs = Vec::with_capacity(objects.len());
    for (i, o) in objects.iter().enumerate() {
        let mut text = String::new();
        push_checked(&mut text, o)?;
        // A Secret's file holds the decrypted values: its owner's alone, whatever the
        // umask (0644 by default would let every user of the machine read them).
        let mode = if o["kind"] == "Secret" { 0o600 } else { 0o666 };
        docs.push((file_name(i + 1, o), text, mode));
    }
    if dir.exists() {
        let entries = fs::read_dir(dir).map_err(|e| io(dir, e))?;
        let mut stale = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(dir, e))?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if !ours(&file) || !entry.file_type().map_err(|e| io(dir, e))?.is_file() {
                return Err(OutputError::ForeignFile { dir: shown, file });
            }
            stale.push(entry.path());
        }
        for path in stale {
            fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
    } else {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    for (file, text, mode) in &docs {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = dir.join(file);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(*mode)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| io(&path, e))?;
    }
    Ok(docs.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_strings_are_quoted_for_yaml_1_1_readers() {
        let y = to_yaml(&json!({"data": {"A": "on", "B": "no", "C": "0777", "D": "1_000", "E": "~", "F": "1e3", "G": "plain"}})).unwrap();
        for quoted in [
            "\"on\"",
            "\"no\"",
            "\"0777\"",
            "\"1_000\"",
            "\"~\"",
            "\"1e3\"",
        ] {
            assert!(y.contains(quoted), "{quoted} not quoted in {y}");
        }
        assert!(y.contains("G: plain"));
    }

    #[test]
    fn an_object_etcd_would_refuse_is_refused_by_name_before_any_output() {
        let small = json!({"kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}});
        let big = json!({"kind": "Deployment", "metadata": {"name": "shop-worker"},
            "spec": {"command": ["x".repeat(MAX_OBJECT_BYTES)]}});
        let e = stream(&[small.clone(), big.clone()]).unwrap_err();
        assert!(matches!(&e, OutputError::TooLarge { kind, name, .. }
            if kind == "Deployment" && name == "shop-worker"));
        assert!(e.is_input());
        let dir = std::env::temp_dir().join(format!("dovetail-too-large-{}", std::process::id()));
        assert!(matches!(
            write_dir(&dir, &[small.clone(), big]),
            Err(OutputError::TooLarge { .. })
        ));
        assert!(!dir.exists(), "nothing written");
        let just_under = json!({"kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"k": "x".repeat(MAX_OBJECT_BYTES - 200)}});
        assert!(stream(&[small, just_under]).is_ok());
    }

    #[test]
    fn a_block_whose_first_line_starts_with_a_tab_is_double_quoted_for_go_parsers() {
        for text in ["\tgzip on;\n", "\n\tx\n", "\t\n", "\n\n\ta\nb"] {
            let y = to_yaml(&json!({"data": {"k": text, "list": [text]}})).unwrap();
            let quoted = serde_json::to_string(text).unwrap();
            assert_eq!(
                y,
                format!("data:\n  k: {quoted}\n  list:\n    - {quoted}\n"),
                "{text:?}"
            );
            assert_eq!(
                to_yaml_reference(&json!({"k": text})).unwrap(),
                format!("k: {quoted}\n")
            );
        }
        // Leading spaces get an indentation indicator, and a tab on a later line is
        // content: both stay block scalars.
        assert_eq!(to_yaml(&json!({"k": " \tx\n"})).unwrap(), "k: |2\n   \tx\n");
        assert_eq!(
            to_yaml(&json!({"k": "a\n\tb\n"})).unwrap(),
            "k: |\n  a\n  \tb\n"
        );
        assert_eq!(to_yaml(&json!({"k": "\ttab"})).unwrap(), "k: \"\\ttab\"\n");
    }

    #[test]
    fn file_names_are_recognised_as_ours() {
        let o = json!({"kind": "Deployment", "metadata": {"name": "shop-web"}});
        assert_eq!(file_name(3, &o), "03-deployment-shop-web.yaml");
        assert!(ours("03-deployment-shop-web.yaml"));
        assert!(!ours("kustomization.yaml"));
        assert!(!ours("notes.txt"));
    }
}
