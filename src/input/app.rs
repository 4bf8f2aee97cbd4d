//! The customer's side: the app directory's `dovetail.yaml`, the config files it names and
//! its secrets file, read and checked on their own. This is all the merge gets from the
//! customer repo: after this, nothing reads the repo again.

use crate::diag::{Code, Diagnostics, Doc};
use crate::input::doc::{parse_secrets_doc, read_doc, read_yaml_bytes, typed};
use crate::input::model::{App, SecretsFile};
use crate::input::ownership::{self, Owners};
use crate::input::schema::SchemaKind;
use crate::input::tree::{ReadError, Tree};
use crate::input::yaml::Path;

/// The app's own file, at the root of the app directory.
pub const APP_FILE: &str = "dovetail.yaml";

/// Largest config file mounted from the repo.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;

/// The customer's side of the merge.
#[derive(Debug)]
pub struct AppInputs {
    /// `dovetail.yaml`.
    pub doc: Doc,
    /// Its typed form (without the fields in error, when there were errors).
    pub app: App,
    /// The content of each `files:` entry, in order; `None` where it could not be read
    /// (which was reported).
    pub files: Vec<Option<Vec<u8>>>,
    /// The secrets file, when `secrets:` names one that could be read and typed.
    pub secrets: Option<SecretsInput>,
}

/// The secrets file, each value's form checked (nothing decrypted).
#[derive(Debug)]
pub struct SecretsInput {
    /// The file.
    pub doc: Doc,
    /// Its typed form.
    pub file: SecretsFile,
}

/// Reads and checks the app in `tree`: `dovetail.yaml` (ownership, schema, types), each
/// config file, and the secrets file with each value's form. Every problem goes to
/// `diags`; `None` only when `dovetail.yaml` cannot be read or typed at all.
pub fn load(tree: &Tree, owners: &Owners, diags: &mut Diagnostics) -> Option<AppInputs> {
    let shown = tree.shown(APP_FILE);
    let doc = read_doc(tree, APP_FILE, &shown, diags)?;
    ownership::check_app(&doc, owners, diags);
    let app: App = typed(SchemaKind::App, &doc, diags)?;
    let files = app
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let at = Path::root().key("files").index(i).key("path");
            match tree.read(&f.path, MAX_FILE_BYTES) {
                Ok(content) => Some(content),
                Err(e) => {
                    diags.push(
                        doc.value_error(Code::FileUnusable, &at, e.to_string())
                            .hint(match e {
                                ReadError::TooLarge { .. } => {
                                    "ship larger files in the image; config files are for small settings"
                                }
                                _ => "point it at a file of the app's own, inside the app directory",
                            }),
                    );
                    None
                }
            }
        })
        .collect();
    let secrets = load_secrets(tree, &doc, &app, diags);
    Some(AppInputs {
        doc,
        app,
        files,
        secrets,
    })
}

/// Reads the secrets file `app` names, checks it against its schema and every value's
/// form (without decrypting).
fn load_secrets(
    tree: &Tree,
    app_doc: &Doc,
    app: &App,
    diags: &mut Diagnostics,
) -> Option<SecretsInput> {
    let rel = app.secrets.as_deref()?;
    let dir = app_doc.file.strip_suffix(APP_FILE).unwrap_or_default();
    let shown = format!("{dir}{rel}");
    let bytes = match tree.read(rel, crate::input::tree::MAX_YAML_BYTES) {
        Ok(bytes) => bytes,
        // Missing, it is `secrets:` that is wrong; anything else is the file's problem.
        Err(crate::input::tree::ReadError::NotFound(_)) => {
            diags.push(
                app_doc
                    .value_error(
                        Code::SecretsFileMismatch,
                        &Path::root().key("secrets"),
                        format!("`{shown}` does not exist"),
                    )
                    .hint("create it with `dovetail secrets set KEY`, or remove `secrets:`"),
            );
            return None;
        }
        Err(_) => {
            read_yaml_bytes(tree, rel, &shown, diags);
            return None;
        }
    };
    let doc = parse_secrets_doc(bytes, &shown, diags)?;
    let file: SecretsFile = typed(SchemaKind::Secrets, &doc, diags)?;
    for (key, armored) in &file.data {
        if let Err(e) = crate::crypto::check_form(armored) {
            let path = Path::root().key("data").key(key);
            diags.push(doc.error(e.code(), &path, e.to_string()).hint(e.hint()));
        }
    }
    // A key whose value is in error was left out of the typed file: its own error says
    // what is wrong, and "not a key" would send the customer to add what is there.
    if let Some(pull) = &app.image_pull_secret
        && !file.data.contains_key(pull)
        && !diags.dropped(&doc.file, &Path::root().key("data").key(pull))
    {
        diags.push(
            app_doc
                .value_error(
                    Code::SecretsFileMismatch,
                    &Path::root().key("imagePullSecret"),
                    format!("`{pull}` is not a key of {shown}"),
                )
                .hint("add it with `dovetail secrets set`"),
        );
    }
    Some(SecretsInput { doc, file })
}
