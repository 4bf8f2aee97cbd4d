//! `dovetail secrets set`, `rekey` and `unset`: edit the app's secrets file in a
//! checkout, encrypting each value for this app and key (or removing entries), and
//! leaving every other byte as it was.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;

use super::{Io, RepoArgs, SecretsArgs, SecretsRekeyArgs, SecretsSetArgs, SecretsUnsetArgs};
use crate::Error;
use crate::crypto::{self, Binding};
use crate::diag::{Code, Diagnostic, Diagnostics, Doc};
use crate::emit::report::{Format, Reporter};
use crate::input::app::APP_FILE;
use crate::input::doc::{parse_doc, typed};
use crate::input::model::{Identity, SecretsFile};
use crate::input::operator::OperatorRepo;
use crate::input::schema::SchemaKind;
use crate::input::secrets_file::EditError;
use crate::input::tree::{DirTree, MAX_YAML_BYTES, ReadError};
use crate::input::yaml::{Path, Pos, Seg};
use crate::pipeline::Location;
use crate::pipeline::{load_identities, open_tree};

/// What a secrets command cannot do.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A key given that is no secret name, named by its place among those given and never
    /// shown: it may be a value pasted where the key belongs.
    #[error("{which} is not a secret name: {fault} (it is not shown)")]
    BadKey {
        /// Which key: "the key given", "key 2 of the 3 given".
        which: String,
        /// What is wrong with it, from [`key_fault`].
        fault: &'static str,
    },
    /// `--app` is a URL.
    #[error("secrets commands edit the secrets file of a checkout, and --app is a URL")]
    NotACheckout,
    /// Neither `--allocation` nor an operator repo says which app.
    #[error("which app is this for?")]
    WhichApp,
    /// No recipients given, and no platform.yaml to take them from.
    #[error("no recipients")]
    NoRecipients,
    /// `--recipient` is not an X25519 recipient (as [`crypto::shown_key`] shows it).
    #[error("{0} is not an age X25519 recipient (age1…)")]
    BadRecipient(String),
    /// An input the command reads has problems, printed already: no file was changed.
    #[error("{} in the inputs; no file was changed", crate::diag::counted(*.count, "problem", "problems"))]
    Invalid {
        /// How many errors.
        count: usize,
    },
    /// The secrets file is not a secrets file.
    #[error("`{0}` is not a secrets file with a `data:` mapping")]
    NotASecretsFile(String),
    /// The secrets file's `data` cannot be edited line by line without touching other
    /// entries.
    #[error("cannot edit `{0}` in place: {1}")]
    NotEditable(String, crate::input::secrets_file::EditError),
    /// A value on the command line, after KEY.
    #[error(
        "secrets set takes the value on stdin, not as an argument (what was given is not shown)"
    )]
    ValueOnCommandLine,
    /// The value on stdin cannot be read.
    #[error("cannot read the value from stdin: {0}")]
    Stdin(std::io::Error),
    /// The value on stdin is over the cap.
    #[error("the value is larger than {} bytes", crypto::MAX_VALUE_BYTES)]
    TooLarge,
    /// Encryption failed.
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    /// `rekey` without an identity.
    #[error("rekey needs an identity that can read the values")]
    NoIdentity,
    /// `rekey` without a secrets file.
    #[error("there is no `{0}` to rekey")]
    NothingToRekey(String),
    /// `rekey` could not read every value, so it rewrote none.
    #[error("{} could not be read; nothing was rekeyed", crate::diag::counted(*.0, "value", "values"))]
    NotRekeyed(usize),
    /// The value on stdin is empty: an unset shell variable, most often.
    #[error("the value on stdin is empty")]
    EmptyValue,
    /// Stdin is a terminal: the value would be typed in plain sight.
    #[error("secrets set reads the value from stdin, and stdin is a terminal")]
    StdinIsTerminal,
    /// `unset` without a secrets file.
    #[error("there is no `{0}` to remove keys from")]
    NothingToUnset(String),
    /// `unset` of a key the file does not hold.
    #[error("{which} is not a key of `{file}`")]
    NotInFile {
        /// The file as messages name it.
        file: String,
        /// The key, quoted, when it is a typo away from one the file holds; else its
        /// place among the keys given ("key 2 of the 3 given"): a key that is none of
        /// the file's may be a value pasted in, and is not shown.
        which: String,
        /// What to do: the key meant, or the keys the file holds.
        hint: String,
    },
    /// `unset` of the key `imagePullSecret:` names: the app would no longer render.
    #[error("`{key}` is the image pull secret (`imagePullSecret:` in {app_file})")]
    PullSecret {
        /// The key.
        key: String,
        /// dovetail.yaml as messages name it.
        app_file: String,
    },
    /// `unset` found problems with some of its keys, each printed already; it removed none.
    #[error("{problems} of the {given} keys cannot be removed; nothing was removed")]
    NotUnset {
        /// How many problems.
        problems: usize,
        /// How many keys were given.
        given: usize,
    },
}

impl SecretsError {
    /// What to do about it.
    pub fn hint(&self) -> Cow<'static, str> {
        let hint = match self {
            SecretsError::BadKey { .. } => {
                "name it like an environment variable (letters, digits and '_', not starting with a digit, at most 128), e.g. SECRET_KEY; the value goes on stdin"
            }
            SecretsError::EmptyValue => {
                "pipe the value in: printf %s \"$VALUE\" | dovetail secrets set KEY; check that VALUE is set, or remove the key with `dovetail secrets unset KEY`"
            }
            SecretsError::StdinIsTerminal => {
                "read it unseen, then pipe it in: read -rs VALUE && printf %s \"$VALUE\" | dovetail secrets set KEY"
            }
            SecretsError::NotACheckout => "pass --app DIR, a checkout of the customer repo",
            SecretsError::WhichApp => "pass --allocation TENANT/APP or --operator DIR|URL",
            SecretsError::NoRecipients => {
                "pass --recipient age1… or --operator DIR|URL (its platform.yaml lists them)"
            }
            SecretsError::BadRecipient(_) => {
                "give an age1… public key, as `age-keygen -y KEYFILE` prints it"
            }
            SecretsError::NotASecretsFile(_) => "check it with `dovetail validate --app DIR`",
            SecretsError::NotEditable(..) => {
                "write `data:` as `secrets set` does, each `KEY: |` on a line of its own, then run it again"
            }
            SecretsError::Stdin(_) | SecretsError::ValueOnCommandLine => {
                "pipe the value in: printf %s \"$VALUE\" | dovetail secrets set KEY"
            }
            SecretsError::TooLarge => "keep secret values small; ship files in the image",
            SecretsError::Encrypt(_) => "check the recipients",
            SecretsError::NoIdentity => {
                "pass --identity FILE with the key the values are encrypted to now"
            }
            SecretsError::NothingToRekey(_) => "set a value first with `dovetail secrets set KEY`",
            SecretsError::NotRekeyed(_)
            | SecretsError::NotUnset { .. }
            | SecretsError::Invalid { .. } => "fix the problems above, then run it again",
            SecretsError::NothingToUnset(_) => {
                "check --app; `secrets:` in dovetail.yaml names the file (secrets.yaml if it names none)"
            }
            SecretsError::PullSecret { .. } => {
                "change or remove `imagePullSecret:` in dovetail.yaml first: the app does not render without its key"
            }
            SecretsError::NotInFile { hint, .. } => return hint.clone().into(),
        };
        hint.into()
    }
}

/// What makes `key` no secret name, said without quoting it; `None` for a good one.
/// A key argument is where a hurried paste of the value lands (`KEY=value`, a token, a
/// PEM block), and a message quoting it would put the value in the terminal, the shell's
/// scrollback and CI logs.
fn key_fault(key: &str) -> Option<&'static str> {
    Some(if key.is_empty() {
        "it is empty"
    } else if key.contains('=') {
        "it holds `=`, as `KEY=value` does"
    } else if key.chars().count() > crate::input::formats::MAX_SECRET_NAME {
        "it is longer than 128 characters"
    } else if key.as_bytes()[0].is_ascii_digit() {
        "it starts with a digit"
    } else if !crate::input::formats::env_name(key) {
        "it holds a character other than letters, digits and '_'"
    } else {
        return None;
    })
}

/// A key among `count` given, named by its place: "the key given", "key 2 of the 3 given".
fn key_place(index: usize, count: usize) -> String {
    if count == 1 {
        "the key given".to_owned()
    } else {
        format!("key {} of the {count} given", index + 1)
    }
}

/// `unset`'s problem with a key the file does not hold: the key is named, and the one
/// meant suggested, only when it is a typo away from a key of the file (a key the file
/// holds is no secret); any other is named by its place, with the keys the file holds
/// (the first few: a file may hold 256).
fn not_in_file(file: &str, key: &str, which: String, keys: &[String]) -> SecretsError {
    const SHOWN: usize = 12;
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    if let Some(near) = crate::input::schema::closest(key, &names) {
        return SecretsError::NotInFile {
            file: file.to_owned(),
            which: format!("`{key}`"),
            hint: format!("did you mean `{near}`?"),
        };
    }
    let hint = match names.len() {
        0 => "it holds no keys".to_owned(),
        n if n <= SHOWN => format!("it holds `{}`", names.join("`, `")),
        n => format!(
            "it holds `{}` and {} more",
            names[..SHOWN].join("`, `"),
            n - SHOWN
        ),
    };
    SecretsError::NotInFile {
        file: file.to_owned(),
        which,
        hint,
    }
}

/// Which app a secrets command is for, where its file is, and whom to encrypt to.
struct Target {
    file: SecretsPath,
    identity: Identity,
    recipients: Vec<age::x25519::Recipient>,
}

/// The app's secrets file in a checkout: the one dovetail.yaml names, or `secrets.yaml`.
struct SecretsPath {
    dir: DirTree,
    /// The file, relative to the app directory.
    rel: String,
    /// The file as messages name it.
    shown: String,
    /// Whether dovetail.yaml names the file (else `secrets.yaml` is assumed).
    named: bool,
    /// Where dovetail.yaml's `secrets:` value stands: a path that cannot be a file is
    /// reported there, where it is fixed.
    named_at: Option<Pos>,
    app_shown: String,
    /// The key dovetail.yaml's `imagePullSecret:` names.
    pull: Option<String>,
}

/// The secrets file of the checkout `--app` names (a directory, not a URL); `None` when
/// dovetail.yaml cannot say which, its problems added to `diags`.
fn secrets_path(
    args: &RepoArgs,
    io_env: &super::Environment,
    diags: &mut Diagnostics,
) -> Result<(Option<SecretsPath>, crate::pipeline::Sources), Error> {
    let sources = args.check(false, &[], io_env)?;
    let Location::Dir(app_dir) = &sources.app else {
        return Err(SecretsError::NotACheckout.into());
    };
    let dir = DirTree::open(app_dir).map_err(|source| Error::Open {
        action: "open",
        path: app_dir.display().to_string(),
        source,
    })?;
    let app_shown = dir.shown(APP_FILE);
    let Some(AppFields {
        secrets: named,
        secrets_at: named_at,
        pull,
    }) = app_fields(&dir, &app_shown, diags)
    else {
        return Ok((None, sources));
    };
    let rel = named.clone().unwrap_or_else(|| "secrets.yaml".to_owned());
    let file = SecretsPath {
        shown: dir.shown(&rel),
        dir,
        rel,
        named: named.is_some(),
        named_at,
        app_shown,
        pull,
    };
    Ok((Some(file), sources))
}

/// What the secrets commands read of dovetail.yaml.
#[derive(Default)]
struct AppFields {
    /// `secrets:`, the file to edit.
    secrets: Option<String>,
    /// Where `secrets:`'s value stands.
    secrets_at: Option<Pos>,
    /// `imagePullSecret:`, the key `unset` keeps.
    pull: Option<String>,
}

/// dovetail.yaml's `secrets:` (which file to edit) and `imagePullSecret:` (the key
/// `unset` must keep), each checked against the app schema first: a number there would
/// otherwise name a file `42`, and a dovetail.yaml that does not parse cannot say
/// which file it names. Its other problems are `validate`'s: a customer mid-edit, or an
/// operator rotating keys, can still set a value. No dovetail.yaml names no file.
fn app_fields(dir: &DirTree, shown: &str, diags: &mut Diagnostics) -> Option<AppFields> {
    const FIELDS: [&str; 2] = ["secrets", "imagePullSecret"];
    let errors = diags.error_count();
    // Only a dovetail.yaml that is not there names nothing: one that is a directory or
    // a link out of the checkout is an error, not a default (`unset` would then take
    // the pull secret's key for any other).
    let bytes = match dir.read(APP_FILE, MAX_YAML_BYTES) {
        Ok(bytes) => bytes,
        // A link to nothing is not "no dovetail.yaml" (which names no pull secret).
        Err(ReadError::NotFound(_))
            if std::fs::symlink_metadata(dir.root().join(APP_FILE)).is_ok() =>
        {
            diags.push(
                Diagnostic::at(
                    Code::Unreadable,
                    shown,
                    Pos::START,
                    format!("`{shown}` is a link to nothing"),
                )
                .hint("point the link at the app's dovetail.yaml, or put the file in its place"),
            );
            return None;
        }
        Err(ReadError::NotFound(_)) => return Some(AppFields::default()),
        Err(e) => {
            diags.push(crate::input::doc::unreadable(&e, shown));
            return None;
        }
    };
    let doc = parse_doc(bytes, shown, diags);
    if let Some(doc) = &doc {
        schema_problems(
            SchemaKind::App,
            doc,
            diags,
            |path| matches!(path.0.first(), Some(Seg::Key(k)) if FIELDS.contains(&k.as_str())),
        );
    }
    let doc = doc.filter(|_| diags.error_count() == errors)?;
    let text_of = |key: &str| {
        doc.root
            .get(key)
            .and_then(|n| n.scalar_text())
            .map(str::to_owned)
    };
    let secrets = text_of(FIELDS[0]);
    let secrets_at = secrets
        .is_some()
        .then(|| doc.root.locate_value(&Path::root().key(FIELDS[0])));
    Some(AppFields {
        secrets,
        secrets_at,
        pull: text_of(FIELDS[1]),
    })
}

/// Which app, its secrets file and whom to encrypt to. Every problem of dovetail.yaml's
/// fields and of platform.yaml is reported at once, not the first file's alone.
fn target(
    args: &SecretsArgs,
    io_env: &super::Environment,
    reporter: &mut Reporter<'_>,
) -> Result<Target, Error> {
    let mut diags = Diagnostics::default();
    match target_parts(args, io_env, reporter, &mut diags) {
        Ok(Some(target)) if !diags.has_errors() => {
            reporter.diagnostics(&diags).map_err(Error::Stderr)?;
            Ok(target)
        }
        Ok(_) => Err(reported(reporter, &diags)),
        Err(e) => {
            reporter.diagnostics(&diags).map_err(Error::Stderr)?;
            Err(e)
        }
    }
}

/// [`target`]'s work: `None` when a file's problems, added to `diags`, leave it unknown.
fn target_parts(
    args: &SecretsArgs,
    io_env: &super::Environment,
    reporter: &mut Reporter<'_>,
    diags: &mut Diagnostics,
) -> Result<Option<Target>, Error> {
    let (file, sources) = secrets_path(&args.repo, io_env, diags)?;
    let op_tree = match &sources.operator {
        Some(op) => Some(open_tree(
            op,
            "",
            sources.git.as_ref(),
            "operator",
            reporter,
        )?),
        None => None,
    };
    // The app's identity: named, or the operator repo's only allocation.
    let identity = match (&sources.allocation, &op_tree) {
        // The operator repo at hand must hold the allocation named: a typo there would
        // bind the value to an app that never opens it.
        (Some((tenant, app)), Some(op)) => OperatorRepo::new(op).named(tenant, app)?,
        (Some((tenant, app)), None) => Identity {
            tenant: tenant.clone(),
            app: app.clone(),
        },
        (None, Some(op)) => {
            crate::pipeline::unnamed_allocation(&OperatorRepo::new(op), &sources.app)?
        }
        (None, None) => return Err(SecretsError::WhichApp.into()),
    };
    // platform.yaml's recipients whenever the operator repo is at hand: a customer
    // adding a key of their own must not leave the platform unable to read the value.
    let mut recipients: Vec<age::x25519::Recipient> = Vec::new();
    if let Some(op) = &op_tree {
        let errors = diags.error_count();
        let platform = OperatorRepo::new(op).platform(diags);
        let Some((doc, platform)) = platform.filter(|_| diags.error_count() == errors) else {
            return Ok(None);
        };
        // Even with --recipient: the customer's own key alone makes a value that no
        // render on the platform opens, found out only at the next deploy.
        if platform.recipients.is_empty() {
            diags.push(
                doc.value_error(
                    Code::OutOfRange,
                    &Path::root().key("recipients"),
                    "lists no recipients, so no render on the platform could open a value set now",
                )
                .hint("the operator lists the platform's public keys here first (age1…, as age-keygen -y prints them); a --recipient of your own is added to them, never used alone"),
            );
            return Ok(None);
        }
        recipients.extend(platform.recipients.iter().filter_map(|r| r.parse().ok()));
    } else if args.recipient.is_empty() {
        return Err(SecretsError::NoRecipients.into());
    }
    for r in &args.recipient {
        let parsed: age::x25519::Recipient = r
            .parse()
            .map_err(|_| SecretsError::BadRecipient(crypto::shown_key(r)))?;
        if !recipients
            .iter()
            .any(|have| have.to_string() == parsed.to_string())
        {
            recipients.push(parsed);
        }
    }
    Ok(file.map(|file| Target {
        file,
        identity,
        recipients,
    }))
}

impl Target {
    fn binding<'a>(&'a self, key: &'a str) -> Binding<'a> {
        Binding {
            tenant: &self.identity.tenant,
            app: &self.identity.app,
            key,
        }
    }

    fn set(&self, text: Option<&str>, key: &str, armored: &str) -> Result<String, SecretsError> {
        match text {
            None => Ok(crate::input::secrets_file::new_file(key, armored)),
            Some(text) => crate::input::secrets_file::set(text, key, armored)
                .map_err(|e| self.file.edit_error(e)),
        }
    }

    fn encrypt(&self, key: &str, value: &[u8]) -> Result<String, SecretsError> {
        crypto::encrypt(value, &self.binding(key), &self.recipients)
            .map_err(|e| SecretsError::Encrypt(e.to_string()))
    }
}

impl SecretsPath {
    /// The file's text parsed as a secrets file is (no error quotes a value pasted in
    /// unencrypted), or its problems reported.
    fn parse(
        &self,
        text: &str,
        diags: &mut Diagnostics,
        reporter: &mut Reporter<'_>,
    ) -> Result<Doc, Error> {
        crate::input::doc::parse_secrets_doc(text.as_bytes().to_vec(), &self.shown, diags)
            .ok_or_else(|| reported(reporter, diags))
    }

    /// The file's text parsed, with its top-level fields checked against the schema
    /// (`data` a mapping, `kind: Secrets`), for the commands that edit entries by name.
    /// What is wrong inside `data` is left to `validate`: `set` may be the fix of a
    /// value, and `unset` the removal of one.
    fn parse_shape(&self, text: &str, reporter: &mut Reporter<'_>) -> Result<Doc, Error> {
        let mut diags = Diagnostics::default();
        let doc = self.parse(text, &mut diags, reporter)?;
        schema_problems(SchemaKind::Secrets, &doc, &mut diags, |path| {
            path.0.len() <= 1
        });
        if diags.has_errors() {
            return Err(reported(reporter, &diags));
        }
        Ok(doc)
    }

    fn edit_error(&self, e: EditError) -> SecretsError {
        match e {
            EditError::NotASecretsFile => SecretsError::NotASecretsFile(self.shown.clone()),
            EditError::Layout => SecretsError::NotEditable(self.shown.clone(), e),
        }
    }

    /// The file's text, or `None` when there is no file yet (and one can be made where
    /// it is named); what stands in the way is reported at the file's place.
    fn read(&self, reporter: &mut Reporter<'_>) -> Result<Option<String>, Error> {
        let mut diags = Diagnostics::default();
        match self.dir.read(&self.rel, MAX_YAML_BYTES) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => return Ok(Some(text)),
                // The parser says where the first byte that is not UTF-8 stands.
                Err(e) => {
                    crate::input::doc::parse_secrets_doc(e.into_bytes(), &self.shown, &mut diags);
                }
            },
            Err(ReadError::NotFound(_)) => match self.destination(false) {
                Ok(_) => return Ok(None),
                Err(d) => diags.push(*d),
            },
            Err(ReadError::NotAFile(_)) if self.named => diags.push(self.misnamed(
                format!("`{}` is not a regular file", self.shown),
                "name the secrets file in `secrets:`, like secrets.yaml or config/secrets.yaml",
            )),
            Err(e) => diags.push(crate::input::doc::unreadable(&e, &self.shown)),
        }
        Err(reported(reporter, &diags))
    }

    /// Where the file is written: the regular file its path leads to, links followed as
    /// a read follows them, so that a link (`secrets.yaml -> config/secrets.yaml`) stays
    /// a link and none leads out of the app directory. For a new file, its directory
    /// inside the app directory, whose missing parts `create` makes.
    fn destination(&self, create: bool) -> Result<PathBuf, Box<Diagnostic>> {
        let problem = |message: String, hint: &str| Box::new(self.misnamed(message, hint));
        let dangling = |rel: &std::path::Path| {
            let link = self.dir_shown(rel);
            Box::new(
                Diagnostic::at(
                    Code::Unreadable,
                    &link,
                    Pos::START,
                    format!("`{link}` is a link to nothing"),
                )
                .hint("remove the link, or point it at a file inside the app directory"),
            )
        };
        match self.dir.resolve(&self.rel) {
            Ok(path) => return Ok(path),
            Err(ReadError::NotFound(_)) => {}
            Err(e) => return Err(Box::new(crate::input::doc::unreadable(&e, &self.shown))),
        }
        let rel = std::path::Path::new(&self.rel);
        let Some(name) = rel.file_name() else {
            return Err(problem(
                format!("`{}` names no file", self.shown),
                "name a file in `secrets:` in dovetail.yaml, e.g. secrets.yaml",
            ));
        };
        let mut dir = self.dir.root().to_path_buf();
        let mut prefix = PathBuf::new();
        for part in rel
            .parent()
            .into_iter()
            .flat_map(std::path::Path::components)
        {
            prefix.push(part);
            dir = match self.dir.resolve(&prefix.to_string_lossy()) {
                Ok(found) if found.is_dir() => found,
                Ok(_) => {
                    return Err(problem(
                        format!("`{}` is a file, not a directory", self.dir_shown(&prefix)),
                        "name a file in a directory in `secrets:` in dovetail.yaml",
                    ));
                }
                Err(ReadError::NotFound(_)) => {
                    let new = dir.join(part);
                    if std::fs::symlink_metadata(&new).is_ok() {
                        return Err(dangling(&prefix));
                    }
                    if create {
                        std::fs::create_dir(&new).map_err(|e| {
                            problem(
                                format!("cannot create `{}`: {e}", self.dir_shown(&prefix)),
                                crate::io_hint(&e),
                            )
                        })?;
                    }
                    new
                }
                Err(e) => return Err(Box::new(crate::input::doc::unreadable(&e, &self.shown))),
            };
        }
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(dangling(rel));
        }
        Ok(path)
    }

    /// A path that cannot be a file, reported where it is fixed: at `secrets:` when
    /// dovetail.yaml names it, else at the file's place. (A link to nothing is reported
    /// at the link.)
    fn misnamed(&self, message: String, hint: &str) -> Diagnostic {
        match self.named_at {
            Some(pos) => Diagnostic {
                field: "secrets".to_owned(),
                path: Path::root().key("secrets"),
                ..Diagnostic::at(Code::Unreadable, &self.app_shown, pos, message)
            },
            None => Diagnostic::at(Code::Unreadable, &self.shown, Pos::START, message),
        }
        .hint(hint)
    }

    /// `rel` inside the app directory, as messages name it.
    fn dir_shown(&self, rel: &std::path::Path) -> String {
        self.dir.shown(&rel.to_string_lossy())
    }

    /// Written next to the file and renamed over it: never a half-written secrets file,
    /// and the file's mode kept (a file kept private stays private). The temporary file
    /// is always a new one (`O_EXCL`, which follows no link): a customer's repo may hold
    /// a link by any fixed name, and writing through it would overwrite whatever it
    /// points at with the operator's rights during a `rekey`.
    fn write(&self, text: &str, reporter: &mut Reporter<'_>) -> Result<(), Error> {
        use std::io::Write as _;
        let path = match self.destination(true) {
            Ok(path) => path,
            Err(d) => {
                let mut diags = Diagnostics::default();
                diags.push(*d);
                return Err(reported(reporter, &diags));
            }
        };
        let fail = |source| Error::Open {
            action: "write",
            path: self.shown.clone(),
            source,
        };
        let (tmp, mut file) = new_beside(&path).map_err(fail)?;
        let kept_mode = match std::fs::metadata(&path) {
            Ok(meta) => file.set_permissions(meta.permissions()),
            Err(_) => Ok(()),
        };
        let written = kept_mode
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(fail)
    }
}

/// The schema's problems with `doc` at the paths `wanted` picks, added to `diags`: the
/// fields a secrets command reads, not those it leaves to `validate`.
fn schema_problems(
    kind: SchemaKind,
    doc: &Doc,
    diags: &mut Diagnostics,
    wanted: impl Fn(&Path) -> bool,
) {
    let mut all = Diagnostics::default();
    crate::input::schema::check(kind, doc, &doc.root.to_json(), &mut all);
    for d in all.partition(|d| wanted(&d.path)).0 {
        diags.push(d);
    }
}

/// The error of a run whose input problems are `diags`, once they are reported.
fn reported(reporter: &mut Reporter<'_>, diags: &Diagnostics) -> Error {
    match reporter.diagnostics(diags) {
        Ok(()) => SecretsError::Invalid {
            count: diags.error_count().max(1),
        }
        .into(),
        Err(e) => Error::Stderr(e),
    }
}

/// A file created new beside `path` (never an existing file or link), and its path.
fn new_beside(path: &std::path::Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut attempt = 0;
    loop {
        let tmp = dir.join(format!(".{name}.{}-{attempt}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `dovetail secrets set KEY`: encrypts stdin for this app and KEY, and writes it into the
/// secrets file without touching any other entry.
pub(super) fn set(args: SecretsSetArgs, io: Io<'_>) -> Result<(), Error> {
    if !args.value_given.is_empty() {
        return Err(SecretsError::ValueOnCommandLine.into());
    }
    if let Some(fault) = key_fault(&args.key) {
        return Err(SecretsError::BadKey {
            which: key_place(0, 1),
            fault,
        }
        .into());
    }
    // Typed at a terminal, the value would show on the screen and stay in its
    // scrollback; refused before anything is read.
    if io.env.stdin_is_terminal() {
        return Err(SecretsError::StdinIsTerminal.into());
    }
    let mut reporter = Reporter::new(io.err, Format::Text);
    let target = target(&args.target, io.env, &mut reporter)?;
    // The file is read, and its YAML checked, before the value is: a broken file is
    // reported at its place, and the value is not taken for nothing.
    let text = target.file.read(&mut reporter)?;
    if let Some(text) = &text {
        target.file.parse_shape(text, &mut reporter)?;
    }
    let mut value = Vec::new();
    // The cap, a line end that is dropped, and one byte more: a value that goes on
    // after a line end at the cap is too large, not cut short there.
    io.input
        .take(crypto::MAX_VALUE_BYTES as u64 + 3)
        .read_to_end(&mut value)
        .map_err(SecretsError::Stdin)?;
    // A value piped from a Windows editor or `echo` ends its line with `\r\n`; the
    // `\r` would reach the app as part of the password.
    if value.ends_with(b"\r\n") {
        value.truncate(value.len() - 2);
    } else if value.ends_with(b"\n") {
        value.pop();
    }
    if value.len() > crypto::MAX_VALUE_BYTES {
        return Err(SecretsError::TooLarge.into());
    }
    // `printf %s "$VALUE"` with VALUE unset pipes nothing: an empty secret would deploy
    // and the app find out at its first login.
    if value.is_empty() {
        return Err(SecretsError::EmptyValue.into());
    }
    let armored = target.encrypt(&args.key, &value)?;
    let text = target.set(text.as_deref(), &args.key, &armored)?;
    target.file.write(&text, &mut reporter)?;
    reporter
        .done(&format!(
            "set {} in {} for {}/{} ({})",
            args.key,
            target.file.shown,
            target.identity.tenant,
            target.identity.app,
            crate::diag::counted(target.recipients.len(), "recipient", "recipients")
        ))
        .map_err(Error::Stderr)?;
    if !target.file.named {
        reporter
            .note(&format!(
                "add `secrets: {}` to {}",
                target.file.rel, target.file.app_shown
            ))
            .map_err(Error::Stderr)?;
    }
    Ok(())
}

/// `dovetail secrets rekey`: every value decrypted with the identities given and encrypted
/// again to the new recipients. Nothing is written unless every value could be read.
pub(super) fn rekey(args: SecretsRekeyArgs, io: Io<'_>) -> Result<(), Error> {
    let identities = load_identities(&args.identity.files)?.ok_or(SecretsError::NoIdentity)?;
    let mut reporter = Reporter::new(io.err, Format::Text);
    let target = target(&args.target, io.env, &mut reporter)?;
    let Some(mut text) = target.file.read(&mut reporter)? else {
        return Err(SecretsError::NothingToRekey(target.file.shown).into());
    };
    let mut diags = Diagnostics::default();
    let doc = target.file.parse(&text, &mut diags, &mut reporter)?;
    let file: Option<SecretsFile> = typed(SchemaKind::Secrets, &doc, &mut diags);
    let Some(file) = file.filter(|_| !diags.has_errors()) else {
        return Err(reported(&mut reporter, &diags));
    };
    let mut fresh = Vec::new();
    for (key, armored) in &file.data {
        match crypto::decrypt(armored, &identities, &target.binding(key)) {
            Ok(value) => fresh.push((key.clone(), target.encrypt(key, &value)?)),
            // In a rekey, no matching key means the identity given is not the one the
            // values are encrypted to, not that the value must be encrypted anew.
            Err(crypto::SecretError::NoMatchingKey) => diags.push(
                doc.error(
                    crypto::SecretError::NoMatchingKey.code(),
                    &Path::root().key("data").key(key),
                    "no identity given (--identity) opens it",
                )
                .hint("pass the key the values are encrypted to now: during a rotation, the old platform key"),
            ),
            Err(e) => diags.push(secret_problem(&doc, key, &e)),
        }
    }
    reporter.diagnostics(&diags).map_err(Error::Stderr)?;
    if diags.has_errors() {
        return Err(SecretsError::NotRekeyed(diags.error_count()).into());
    }
    for (key, armored) in &fresh {
        text = target.set(Some(&text), key, armored)?;
    }
    target.file.write(&text, &mut reporter)?;
    reporter
        .done(&format!(
            "rekeyed {} in {} to {}",
            crate::diag::counted(fresh.len(), "value", "values"),
            target.file.shown,
            crate::diag::counted(target.recipients.len(), "recipient", "recipients")
        ))
        .map_err(Error::Stderr)
}

/// `dovetail secrets unset KEY…`: the entries removed from the secrets file, every other
/// byte kept. All or nothing: every key is checked first, every problem reported, and
/// the file is written only when there is none.
pub(super) fn unset(args: SecretsUnsetArgs, io: Io<'_>) -> Result<(), Error> {
    let mut reporter = Reporter::new(io.err, Format::Text);
    // `set`'s --app, and nothing else of its: no app identity or recipients to find.
    let repo = RepoArgs {
        app: args.app,
        operator: None,
        allocation: None,
    };
    let mut diags = Diagnostics::default();
    let (file, _) = secrets_path(&repo, io.env, &mut diags)?;
    let Some(file) = file else {
        return Err(reported(&mut reporter, &diags));
    };
    let Some(text) = file.read(&mut reporter)? else {
        return Err(SecretsError::NothingToUnset(file.shown).into());
    };
    let doc = file.parse_shape(&text, &mut reporter)?;
    // Only the key names are needed: a file whose values are otherwise wrong (one
    // pasted unencrypted, say) can still lose an entry.
    let Some(crate::input::yaml::NodeKind::Map(entries)) = doc.root.get("data").map(|n| &n.kind)
    else {
        return Err(SecretsError::NotASecretsFile(file.shown).into());
    };
    let total = entries.len();
    // A key shown as hidden is none a command line can name, nor one to list.
    let have: Vec<String> = entries
        .iter()
        .filter(|e| e.key != crate::input::doc::HIDDEN_KEY)
        .map(|e| e.key.clone())
        .collect();
    let mut problems = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    for (i, key) in args.keys.iter().enumerate() {
        if let Some(fault) = key_fault(key) {
            problems.push(SecretsError::BadKey {
                which: key_place(i, args.keys.len()),
                fault,
            });
        } else if !have.contains(key) {
            problems.push(not_in_file(
                &file.shown,
                key,
                key_place(i, args.keys.len()),
                &have,
            ));
        } else if file.pull.as_ref() == Some(key) {
            problems.push(SecretsError::PullSecret {
                key: key.clone(),
                app_file: file.app_shown.clone(),
            });
        } else if !keys.contains(&key.as_str()) {
            keys.push(key);
        }
    }
    if problems.len() == 1 {
        return Err(problems.remove(0).into());
    }
    if !problems.is_empty() {
        // Each on a line of its own, as the final error is printed, then the count.
        let count = problems.len();
        for p in problems {
            reporter
                .failure(&Error::Secrets(p))
                .map_err(Error::Stderr)?;
        }
        return Err(SecretsError::NotUnset {
            problems: count,
            given: args.keys.len(),
        }
        .into());
    }
    let edited = crate::input::secrets_file::unset(&text, &keys).map_err(|e| file.edit_error(e))?;
    file.write(&edited, &mut reporter)?;
    reporter
        .done(&format!(
            "unset {} in {} ({} left)",
            keys.join(", "),
            file.shown,
            crate::diag::counted(total - keys.len(), "key", "keys")
        ))
        .map_err(Error::Stderr)
}

fn secret_problem(doc: &Doc, key: &str, e: &crypto::SecretError) -> crate::diag::Diagnostic {
    doc.error(e.code(), &Path::root().key("data").key(key), e.to_string())
        .hint(e.hint())
}
