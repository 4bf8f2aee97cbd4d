//! The app's secrets: each value decrypted with the platform's identities and checked
//! against its binding, or (without identities) only its form checked; never a byte of
//! a value in a message.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Ctx;
use super::resolved::ResolvedSecrets;
use crate::diag::Code;
use crate::digest::sha256_hex;
use crate::input::model::Service;
use crate::input::yaml::Path;

pub(super) fn resolve_secrets(cx: &mut Ctx<'_>) -> Option<ResolvedSecrets> {
    let app = &cx.inputs.app.app;
    if app.secrets.is_none() {
        if app.image_pull_secret.is_some() && !cx.app_dropped(&Path::root().key("secrets")) {
            cx.app_err(
                Code::SecretsFileMismatch,
                &Path::root().key("imagePullSecret"),
                "names a secret, and there is no `secrets:` file",
                "add `secrets: secrets.yaml`",
            );
        }
        return None;
    }
    let secrets = cx.inputs.app.secrets.as_ref()?;
    let (doc, file) = (&secrets.doc, &secrets.file);
    let parts: Vec<&[u8]> = file
        .data
        .iter()
        .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()])
        .collect();
    let checksum = sha256_hex(&parts);
    let identity = cx.inputs.identity;
    let mut values = BTreeMap::new();
    let mut pull = None;
    for key in file.data.keys() {
        let at = Path::root().key("data").key(key);
        // The platform's own variables are set in `env`, which wins over the Secret's
        // `envFrom`: a value here would be silently ignored.
        let platform_var = match key.as_str() {
            "DATABASE_URL" if app.services.contains(&Service::Postgres) => Some("postgres"),
            "REDIS_URL" if app.services.contains(&Service::Redis) => Some("redis"),
            _ => None,
        };
        if let Some(service) = platform_var {
            let d = doc
                .error(
                    Code::PlatformVariable,
                    &at,
                    format!("set by the platform for `services: [{service}]`"),
                )
                .hint("remove it; the platform's value is the one the app gets");
            cx.diags.push(d);
        } else if app.env.contains_key(key) {
            let d = doc
                .error(
                    Code::PlatformVariable,
                    &at,
                    "also a plain value under `env:` in dovetail.yaml",
                )
                .hint("keep it in one place: secret values here, plain ones under `env:`");
            cx.diags.push(d);
        }
    }
    // Whether some identity given is the key of a recipient platform.yaml lists. When
    // none is, a value no identity opens is most likely fine, and the key given wrong
    // (a sidecar's, or CI's): the hint says so instead of asking the customer to
    // encrypt every value again. (A customer's own key, added with `--recipient`, is
    // no platform recipient, and opens what was encrypted to it too.) Asked only once a
    // value fails to open: deriving each identity's public key costs a scalar
    // multiplication, which a render that opens every value need not pay.
    let recipients = &cx.inputs.platform.recipients;
    let mut known: Option<bool> = None;
    let mut platform_key_given = |ids: &[age::x25519::Identity]| {
        *known.get_or_insert_with(|| {
            ids.iter()
                .any(|i| recipients.contains(&i.to_public().to_string()))
        })
    };
    for (key, armored) in &file.data {
        // A value of the wrong form was reported when the file was read.
        if crate::crypto::check_form(armored).is_err() {
            continue;
        }
        let value = match cx.inputs.identities {
            None => None,
            Some(ids) => {
                let binding = crate::crypto::Binding {
                    tenant: &identity.tenant,
                    app: &identity.app,
                    key,
                };
                match crate::crypto::decrypt(armored, ids, &binding) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let hint = match e {
                            crate::crypto::SecretError::NoMatchingKey
                                if !platform_key_given(ids) =>
                            {
                                "no identity given (--identity or DOVETAIL_IDENTITY) is the key of a recipient platform.yaml lists: give the platform's key (`age-keygen -y KEYFILE` prints its recipient), or encrypt the value to the one given"
                            }
                            _ => e.hint(),
                        };
                        let d = doc
                            .error(e.code(), &Path::root().key("data").key(key), e.to_string())
                            .hint(hint);
                        cx.diags.push(d);
                        continue;
                    }
                }
            }
        };
        if app.image_pull_secret.as_deref() == Some(key.as_str()) {
            if let Some(v) = &value
                && !is_docker_config(v)
            {
                let d = doc
                    .error(
                        Code::PullSecretFormat,
                        &Path::root().key("data").key(key),
                        "the image pull secret is not a dockerconfigjson (a JSON object with `auths`)",
                    )
                    .hint("encrypt the content of a ~/.docker/config.json with only `auths`");
                cx.diags.push(d);
            }
            pull = Some(value);
        } else {
            values.insert(key.clone(), value);
        }
    }
    let ciphertexts = file
        .data
        .iter()
        .map(|(k, v)| (k.clone(), sha256_hex(&[v.as_bytes()])))
        .collect();
    Some(ResolvedSecrets {
        values,
        pull,
        checksum,
        ciphertexts,
        pull_key: app.image_pull_secret.clone(),
        decryption: cx.inputs.platform.secrets.decryption,
        armored: file.data.clone(),
    })
}

fn is_docker_config(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .is_ok_and(|v| v.get("auths").is_some_and(Value::is_object))
}
