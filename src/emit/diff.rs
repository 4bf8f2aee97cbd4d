//! `dovetail diff`: what a change to either repo changes in the rendered objects, as one
//! unified diff per object. Secret values never appear: each is replaced by a marker that
//! says whether it changed, decided by comparing digests of the plaintexts (or, without
//! an identity, of the ciphertexts) that stay in memory.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::digest::sha256_hex;
use crate::emit::explain::SourceDocs;
use crate::emit::output::{OutputError, to_yaml};
use crate::emit::topology::object_id as id;
use crate::merge::Resolved;

/// One side of a diff: its objects and the digests of its secret values.
#[derive(Debug)]
pub struct Side {
    /// The rendered objects.
    pub objects: Vec<Value>,
    /// `(Secret name, key)` → digest of the value.
    pub secret_digests: BTreeMap<(String, String), String>,
    /// What the objects were made of, to tell who set a changed field (the Markdown
    /// report); `None` where nobody asks.
    pub provenance: Option<Provenance>,
    /// The number of problems that kept this side from rendering, when it did not: a
    /// base that does not render (a pull request fixing a broken main) is compared as
    /// no objects at all.
    pub unrendered: Option<usize>,
    /// Whether the app was not there to render: a base without the app's directory or
    /// its allocation (a pull request adding either) is compared as no objects at all.
    pub absent: bool,
}

/// The merged app and its documents: what `explain`'s origin table reads.
#[derive(Debug)]
pub struct Provenance {
    /// The merged app.
    pub resolved: Resolved,
    /// The documents it was made of.
    pub docs: SourceDocs,
}

impl Side {
    /// The render of `resolved`, with its secret digests.
    pub fn new(resolved: &Resolved, objects: Vec<Value>) -> Side {
        let mut secret_digests = BTreeMap::new();
        if let Some(sec) = &resolved.secrets {
            let app = &resolved.identity.app;
            let digest = |plain: &Option<Vec<u8>>, cipher: Option<&String>| match plain {
                Some(bytes) => format!("plain:{}", sha256_hex(&[bytes])),
                None => format!("cipher:{}", cipher.map_or("", String::as_str)),
            };
            for (key, value) in &sec.values {
                secret_digests.insert(
                    (format!("{app}-secrets"), key.clone()),
                    digest(value, sec.ciphertexts.get(key)),
                );
                // The AgeSecret (cluster decryption) is named after the app.
                secret_digests.insert(
                    (app.clone(), key.clone()),
                    digest(value, sec.ciphertexts.get(key)),
                );
            }
            if let Some(pull) = &sec.pull {
                let cipher = sec.pull_key.as_ref().and_then(|k| sec.ciphertexts.get(k));
                secret_digests.insert(
                    (format!("{app}-pull"), ".dockerconfigjson".to_owned()),
                    digest(pull, cipher),
                );
                if let Some(key) = &sec.pull_key {
                    secret_digests.insert((app.clone(), key.clone()), digest(pull, cipher));
                }
            }
        }
        Side {
            objects,
            secret_digests,
            provenance: None,
            unrendered: None,
            absent: false,
        }
    }

    /// A side that did not render for `problems` problems: no objects.
    pub fn unrendered(problems: usize) -> Side {
        Side {
            objects: Vec::new(),
            secret_digests: BTreeMap::new(),
            provenance: None,
            unrendered: Some(problems),
            absent: false,
        }
    }

    /// A side without the app: no objects.
    pub fn absent() -> Side {
        Side {
            objects: Vec::new(),
            secret_digests: BTreeMap::new(),
            provenance: None,
            unrendered: None,
            absent: true,
        }
    }
}

/// How one object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Only in the head.
    Added,
    /// In both, different.
    Changed,
    /// Only in the base.
    Removed,
}

impl Change {
    /// `added`, `changed` or `removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Removed => "removed",
        }
    }
}

/// One object that differs, with its secret values already redacted.
#[derive(Debug, Clone)]
pub struct ObjectDiff {
    /// `Kind/namespace/name`.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// How it differs.
    pub change: Change,
    /// The unified diff, with `base/…` and `head/…` headers.
    pub unified: String,
    /// The base's copy (redacted), unless added.
    pub base: Option<Value>,
    /// The head's copy (redacted), unless removed.
    pub head: Option<Value>,
}

/// What changed between two renders.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Objects in both, with differences.
    pub changed: usize,
    /// Objects only in the head.
    pub added: usize,
    /// Objects only in the base.
    pub removed: usize,
}

impl Summary {
    /// Whether anything differs.
    pub fn any(&self) -> bool {
        self.changed + self.added + self.removed > 0
    }
}

const REDACTED: &str = "<redacted>";
const REDACTED_CHANGED: &str = "<redacted, changed>";

/// Replaces every value of `object`'s `data` and `stringData` when it is a Secret (and of
/// `spec.data` when it is an AgeSecret, whose ciphertexts are noise in a diff): by
/// [`REDACTED_CHANGED`] when `changed` says so for its key, else by [`REDACTED`].
fn redact(object: &mut Value, changed: impl Fn(&str) -> bool) {
    let maps: Vec<&mut Value> = match object["kind"].as_str() {
        Some("Secret") => {
            let Value::Object(o) = object else { return };
            o.iter_mut()
                .filter(|(k, _)| *k == "data" || *k == "stringData")
                .map(|(_, v)| v)
                .collect()
        }
        Some(kind) if kind == crate::render::AGE_SECRET.2 => {
            object.pointer_mut("/spec/data").into_iter().collect()
        }
        _ => return,
    };
    for field in maps {
        if let Value::Object(map) = field {
            for (key, value) in map.iter_mut() {
                *value = json!(if changed(key) {
                    REDACTED_CHANGED
                } else {
                    REDACTED
                });
            }
        }
    }
}

/// The unified diff of `base` and `head`, object by object in the head's order (objects
/// only in the base last), and what changed.
pub fn diff(base: &Side, head: &Side) -> Result<(String, Summary), OutputError> {
    let changes = changes(base, head)?;
    let text = changes.iter().map(|c| c.unified.as_str()).collect();
    Ok((text, summary(&changes)))
}

/// How many objects were added, changed and removed.
pub fn summary(changes: &[ObjectDiff]) -> Summary {
    let mut summary = Summary::default();
    for c in changes {
        *match c.change {
            Change::Added => &mut summary.added,
            Change::Changed => &mut summary.changed,
            Change::Removed => &mut summary.removed,
        } += 1;
    }
    summary
}

/// Every object that differs between `base` and `head`, in the head's order (objects
/// only in the base last), secret values redacted.
pub fn changes(base: &Side, head: &Side) -> Result<Vec<ObjectDiff>, OutputError> {
    let secret_changed = |object: &Value, key: &str| {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let k = (name, key.to_owned());
        match (base.secret_digests.get(&k), head.secret_digests.get(&k)) {
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    };
    // Only the head's copy says "changed", so that the diff shows one line turning into
    // the other.
    let redacted = |object: &Value, is_head: bool| -> Result<(Value, String), OutputError> {
        let mut o = object.clone();
        redact(&mut o, |key| is_head && secret_changed(object, key));
        let text = to_yaml(&o)?;
        Ok((o, text))
    };
    let base_by_id: BTreeMap<String, &Value> = base.objects.iter().map(|o| (id(o), o)).collect();
    let head_ids: Vec<String> = head.objects.iter().map(id).collect();
    let mut out = Vec::new();
    for (object, oid) in head.objects.iter().zip(&head_ids) {
        let (new, new_text) = redacted(object, true)?;
        let (old, old_text) = match base_by_id.get(oid) {
            Some(b) => {
                let (o, t) = redacted(b, false)?;
                (Some(o), t)
            }
            None => (None, String::new()),
        };
        if old_text == new_text {
            continue;
        }
        let (from, change) = if old.is_some() {
            (format!("base/{oid}"), Change::Changed)
        } else {
            ("/dev/null".to_owned(), Change::Added)
        };
        out.push(ObjectDiff {
            id: oid.clone(),
            kind: object["kind"].as_str().unwrap_or("?").to_owned(),
            change,
            unified: unified(&old_text, &new_text, &from, &format!("head/{oid}")),
            base: old,
            head: Some(new),
        });
    }
    for object in &base.objects {
        let oid = id(object);
        if head_ids.contains(&oid) {
            continue;
        }
        let (old, old_text) = redacted(object, false)?;
        out.push(ObjectDiff {
            kind: object["kind"].as_str().unwrap_or("?").to_owned(),
            change: Change::Removed,
            unified: unified(&old_text, "", &format!("base/{oid}"), "/dev/null"),
            id: oid,
            base: Some(old),
            head: None,
        });
    }
    Ok(out)
}

fn unified(old: &str, new: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(objects: Vec<Value>, digests: &[(&str, &str, &str)]) -> Side {
        Side {
            objects,
            provenance: None,
            unrendered: None,
            absent: false,
            secret_digests: digests
                .iter()
                .map(|(n, k, d)| ((n.to_string(), k.to_string()), d.to_string()))
                .collect(),
        }
    }

    fn secret(value: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-secrets"},
               "data": {"A": value, "B": value}})
    }

    #[test]
    fn secret_values_never_show_and_changes_are_marked() {
        let base = side(
            vec![secret("c2VjcmV0LW9uZQ==")],
            &[("shop-secrets", "A", "1"), ("shop-secrets", "B", "2")],
        );
        let head = side(
            vec![secret("c2VjcmV0LXR3bw==")],
            &[("shop-secrets", "A", "1"), ("shop-secrets", "B", "3")],
        );
        let (text, summary) = diff(&base, &head).unwrap();
        assert_eq!(summary.changed, 1);
        assert!(!text.contains("c2VjcmV0"), "{text}");
        assert!(text.contains("-  B: <redacted>"), "{text}");
        assert!(text.contains("+  B: <redacted, changed>"), "{text}");
        assert!(!text.contains("A: <redacted, changed>"), "{text}");
    }

    #[test]
    fn added_and_removed_objects_are_whole() {
        let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        let (text, summary) = diff(&side(vec![cm("a")], &[]), &side(vec![cm("b")], &[])).unwrap();
        assert_eq!(
            summary,
            Summary {
                changed: 0,
                added: 1,
                removed: 1
            }
        );
        assert!(
            text.contains("--- /dev/null\n+++ head/ConfigMap/b"),
            "{text}"
        );
        assert!(
            text.contains("--- base/ConfigMap/a\n+++ /dev/null"),
            "{text}"
        );
        let (text, summary) = diff(&side(vec![cm("a")], &[]), &side(vec![cm("a")], &[])).unwrap();
        assert!(!summary.any());
        assert_eq!(text, "");
    }
}
