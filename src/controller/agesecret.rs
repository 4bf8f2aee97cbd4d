//! The `AgeSecret` resource (`dovetail.dev/v1alpha1`) and what one should become: the
//! Secrets `<app>-secrets` and `<app>-pull`, with every value that opens with the
//! platform's identities and is bound to this app and key, and the keys that do not,
//! named without any byte of their content. This part is pure: the cluster is in
//! [`super`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::crypto::{self, Binding, check_form};
use crate::input::model::Identity;

/// An app's age ciphertexts, as `dovetail render` writes them in cluster mode.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AgeSecret {
    /// Name, namespace, uid.
    pub metadata: ObjectMeta,
    /// The ciphertexts.
    pub spec: AgeSecretSpec,
    /// What the controller made of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgeSecretStatus>,
}

/// What an `AgeSecret` carries.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeSecretSpec {
    /// Armored age ciphertexts by key, each bound to `<tenant>/<app>` and its key.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// The key of `data` holding a dockerconfigjson, delivered as `<app>-pull`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
}

/// What the controller made of an `AgeSecret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeSecretStatus {
    /// The generation this status is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: whether every value was delivered.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The keys left out, and why (never a byte of a value).
    #[serde(default)]
    pub refused: Vec<Refused>,
}

/// A status condition, as Kubernetes' conventions have them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    /// A CamelCase reason.
    pub reason: String,
    /// What it means, for people.
    pub message: String,
    /// The generation it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A key left out of the Secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Refused {
    /// The key.
    pub key: String,
    /// Why, without any byte of the value.
    pub reason: String,
}

impl kube::Resource for AgeSecret {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind((): &()) -> Cow<'_, str> {
        Cow::Borrowed(crate::render::AGE_SECRET.2)
    }
    fn group((): &()) -> Cow<'_, str> {
        Cow::Borrowed(crate::render::AGE_SECRET.0)
    }
    fn version((): &()) -> Cow<'_, str> {
        Cow::Borrowed(crate::render::AGE_SECRET.1)
    }
    fn plural((): &()) -> Cow<'_, str> {
        Cow::Borrowed("agesecrets")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// What an `AgeSecret` becomes, before any Secret is written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// The values of `<app>-secrets`, pull secret excluded.
    pub values: BTreeMap<String, Vec<u8>>,
    /// The dockerconfigjson of `<app>-pull`, when the spec names one that opened.
    pub pull: Option<Vec<u8>>,
    /// The keys left out.
    pub refused: Vec<Refused>,
}

/// Decrypts every value of `spec` for `app` with `identities`, each checked against its
/// binding line; a value that fails is left out and named.
pub fn desired(
    spec: &AgeSecretSpec,
    app: &Identity,
    identities: &[age::x25519::Identity],
) -> Desired {
    let mut out = Desired::default();
    for (key, armored) in &spec.data {
        // Only a key a Secret can hold: the API server would refuse the whole Secret,
        // and every value of the app would wait on the one.
        if !crate::input::formats::data_key(key) {
            out.refused.push(Refused {
                key: key.clone(),
                reason: "not a Secret key (letters, digits, '-', '_' and '.', at most 253, not `.`, `..` or starting with `..`)"
                    .to_owned(),
            });
            continue;
        }
        let binding = Binding {
            tenant: &app.tenant,
            app: &app.app,
            key,
        };
        let opened =
            check_form(armored).and_then(|()| crypto::decrypt(armored, identities, &binding));
        match opened {
            Ok(value) if spec.image_pull_secret.as_deref() == Some(key.as_str()) => {
                if is_docker_config(&value) {
                    out.pull = Some(value);
                } else {
                    out.refused.push(Refused {
                        key: key.clone(),
                        reason: "the image pull secret is not a dockerconfigjson (a JSON object with `auths`)".to_owned(),
                    });
                }
            }
            Ok(value) => {
                out.values.insert(key.clone(), value);
            }
            Err(e) => out.refused.push(Refused {
                key: key.clone(),
                reason: e.to_string(),
            }),
        }
    }
    if let Some(pull) = &spec.image_pull_secret
        && !spec.data.contains_key(pull)
    {
        out.refused.push(Refused {
            key: pull.clone(),
            reason: "`imagePullSecret` names a key `data` does not have".to_owned(),
        });
    }
    out
}

fn is_docker_config(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|v| v.get("auths").is_some_and(serde_json::Value::is_object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Identity {
        Identity {
            tenant: "acme".into(),
            app: "shop".into(),
        }
    }

    fn sealed(
        value: &str,
        tenant: &str,
        app: &str,
        key: &str,
        to: &age::x25519::Identity,
    ) -> String {
        crypto::encrypt(
            value.as_bytes(),
            &Binding { tenant, app, key },
            &[to.to_public()],
        )
        .unwrap()
    }

    #[test]
    fn values_bound_elsewhere_are_left_out_and_named_without_their_content() {
        let key = age::x25519::Identity::generate();
        let mut spec = AgeSecretSpec::default();
        spec.data.insert(
            "GOOD".into(),
            sealed("hunter2", "acme", "shop", "GOOD", &key),
        );
        spec.data.insert(
            "COPIED".into(),
            sealed("stolen-from-blog", "beta", "blog", "COPIED", &key),
        );
        spec.data.insert(
            "MOVED".into(),
            sealed("moved-value", "acme", "shop", "OTHER", &key),
        );
        spec.data.insert("BROKEN".into(), "not age".into());
        let d = desired(&spec, &app(), std::slice::from_ref(&key));
        assert_eq!(
            d.values,
            BTreeMap::from([("GOOD".into(), b"hunter2".to_vec())])
        );
        let refused: Vec<&str> = d.refused.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(refused, ["BROKEN", "COPIED", "MOVED"]);
        let reasons = format!("{:?}", d.refused);
        for secret in ["stolen", "moved-value", "hunter2"] {
            assert!(!reasons.contains(secret), "{reasons}");
        }
    }

    /// Regression: a key a Secret cannot hold (written into an AgeSecret by hand) was
    /// decrypted and sent, and the API server refused the whole Secret on every retry.
    #[test]
    fn keys_a_secret_cannot_hold_are_refused_before_decrypting() {
        let key = age::x25519::Identity::generate();
        let mut spec = AgeSecretSpec::default();
        let forged = "X\ndovetail-controller: beta-blog/blog: refused\n\u{1b}[2J";
        spec.data
            .insert(forged.into(), sealed("v", "acme", "shop", forged, &key));
        spec.data
            .insert("GOOD".into(), sealed("1", "acme", "shop", "GOOD", &key));
        for dots in [".", "..", "..x"] {
            spec.data
                .insert(dots.into(), sealed("v", "acme", "shop", dots, &key));
        }
        let d = desired(&spec, &app(), std::slice::from_ref(&key));
        assert_eq!(d.values.keys().collect::<Vec<_>>(), ["GOOD"]);
        assert_eq!(d.refused.len(), 4);
        assert!(d.refused[0].reason.starts_with("not a Secret key"));
    }

    #[test]
    fn old_and_new_identities_both_open_values_during_a_rotation() {
        let (old, new) = (
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
        );
        let mut spec = AgeSecretSpec::default();
        spec.data
            .insert("A".into(), sealed("1", "acme", "shop", "A", &old));
        spec.data
            .insert("B".into(), sealed("2", "acme", "shop", "B", &new));
        let d = desired(&spec, &app(), &[old, new]);
        assert_eq!(d.values.len(), 2);
        assert!(d.refused.is_empty());
    }

    #[test]
    fn the_pull_secret_is_kept_apart_and_must_be_a_docker_config() {
        let key = age::x25519::Identity::generate();
        let mut spec = AgeSecretSpec {
            image_pull_secret: Some("AUTH".into()),
            ..AgeSecretSpec::default()
        };
        spec.data.insert(
            "AUTH".into(),
            sealed(r#"{"auths": {}}"#, "acme", "shop", "AUTH", &key),
        );
        let d = desired(&spec, &app(), std::slice::from_ref(&key));
        assert!(d.values.is_empty());
        assert_eq!(d.pull.as_deref(), Some(br#"{"auths": {}}"#.as_slice()));
        spec.data
            .insert("AUTH".into(), sealed("plain", "acme", "shop", "AUTH", &key));
        let d = desired(&spec, &app(), &[key]);
        assert_eq!(d.pull, None);
        assert_eq!(d.refused[0].key, "AUTH");
    }
}
