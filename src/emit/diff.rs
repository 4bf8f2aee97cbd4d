//! `dovetail diff`: what a change to either repo changes in the rendered objects, as one
//! unified diff per object. Secret values never appear: each is replaced by a marker that
//! says whether it changed, decided by comparing digests of the plaintexts (or, without
//! an identity, of the ciphertexts) that stay in memory.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::digest::sha256_hex;
use crate::emit::output::{OutputError, to_yaml};
use crate::merge::Resolved;

/// One side of a diff: its objects and the digests of its secret values.
#[derive(Debug)]
pub struct Side {
    /// The rendered objects.
    pub objects: Vec<Value>,
    /// `(Secret name, key)` → digest of the value.
    pub secret_digests: BTreeMap<(String, String), String>,
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
        }
    }
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

/// `kind/name` (with the namespace when there is one), which identifies an object.
fn id(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// The unified diff of `base` and `head`, object by object in the head's order (objects
/// only in the base last), and what changed.
pub fn diff(base: &Side, head: &Side) -> Result<(String, Summary), OutputError> {
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
    let text = |object: &Value, is_head: bool| -> Result<String, OutputError> {
        let mut o = object.clone();
        redact(&mut o, |key| is_head && secret_changed(object, key));
        to_yaml(&o)
    };
    let base_by_id: BTreeMap<String, &Value> = base.objects.iter().map(|o| (id(o), o)).collect();
    let head_ids: Vec<String> = head.objects.iter().map(id).collect();
    let mut out = String::new();
    let mut summary = Summary::default();
    for (object, oid) in head.objects.iter().zip(&head_ids) {
        let new = text(object, true)?;
        let old = match base_by_id.get(oid) {
            Some(b) => text(b, false)?,
            None => String::new(),
        };
        if old == new {
            continue;
        }
        let (from, counter) = if base_by_id.contains_key(oid) {
            (format!("base/{oid}"), &mut summary.changed)
        } else {
            ("/dev/null".to_owned(), &mut summary.added)
        };
        *counter += 1;
        out.push_str(&unified(&old, &new, &from, &format!("head/{oid}")));
    }
    for object in &base.objects {
        let oid = id(object);
        if head_ids.contains(&oid) {
            continue;
        }
        summary.removed += 1;
        let old = text(object, false)?;
        out.push_str(&unified(&old, "", &format!("base/{oid}"), "/dev/null"));
    }
    Ok((out, summary))
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
