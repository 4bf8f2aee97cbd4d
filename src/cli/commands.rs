//! The commands: load, check, merge, render, print.

use std::io::Write;
use std::path::{Path as FsPath, PathBuf};

use crate::argocd::ArgoEnv;
use crate::cli::{self, Command, Format, MAX_NAME, is_name};
use crate::diag::{Diagnostic, Diagnostics, Doc};
use crate::git::{Cache, GitError, GitSettings, Location};
use crate::input::doc::{read_doc, typed};
use crate::input::model::{Allocation, App, Platform};
use crate::input::ownership::{self, Owners};
use crate::merge::{self, Identity, Resolved, ResolvedSecrets};
use crate::input::schema::SchemaKind;
use crate::input::tree::{DirTree, GitTree, Tree};
use crate::input::yaml::Pos;
use crate::emit::{output, report};
use crate::{Error, render};

/// Where a command reads and writes: values from `input`, manifests to `out`,
/// everything else to `err`.
pub struct Io<'a> {
    /// Standard input (secret values for `secrets set`).
    pub input: &'a mut dyn std::io::Read,
    /// Manifests only.
    pub out: &'a mut dyn Write,
    /// Diagnostics and progress.
    pub err: &'a mut dyn Write,
}

/// Runs one parsed command line.
pub fn run(cli: cli::Cli, io: Io<'_>) -> Result<(), Error> {
    match cli.command {
        Command::Schema { name } => {
            io.out
                .write_all(name.text().as_bytes())
                .map_err(Error::Stdout)?;
            Ok(())
        }
        Command::Generate => generate(io),
        Command::Diff(args) => diff(args, io),
        Command::Explain(args) => {
            let inputs = args.input.check(true)?;
            let (resolved, docs) = load_reported(&inputs, io.err, None)?;
            let objects = render::render(&resolved);
            let text = crate::emit::explain::explain(&objects, &resolved, &docs);
            io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
        }
        Command::Render(args) => {
            let inputs = args.input.check(true)?;
            let (resolved, _) = load_reported(&inputs, io.err, None)?;
            if resolved
                .secrets
                .as_ref()
                .is_some_and(ResolvedSecrets::is_redacted)
            {
                writeln!(
                    io.err,
                    "note: no identity (--identity or DOVETAIL_IDENTITY): secret values are redacted and only their form was checked"
                )
                .map_err(Error::Stderr)?;
            }
            let objects = render::render(&resolved);
            if objects.is_empty() {
                return Err(Error::Empty);
            }
            match args.output_dir {
                Some(dir) => {
                    let n = output::write_dir(&dir, &objects)?;
                    writeln!(io.err, "wrote {n} objects to {}", dir.display())
                        .map_err(Error::Stderr)?;
                }
                None => {
                    let text = output::stream(&objects)?;
                    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
                }
            }
            Ok(())
        }
        Command::Secrets(cli::SecretsCommand::Set(args)) => secrets_set(args, io),
        Command::Secrets(cli::SecretsCommand::Rekey(args)) => secrets_rekey(args, io),
        Command::Validate(args) => {
            let inputs = args.input.check(false)?;
            let operator_only = inputs.operator.is_some() && !inputs.app_given;
            let diags = if operator_only {
                check_operator_only(&inputs, io.err)?
            } else if inputs.operator.is_some() {
                load_and_resolve(&inputs, io.err)?.1
            } else {
                check_app_only(&inputs, io.err)?
            };
            report::emit(&diags, args.format, io.err).map_err(Error::Stderr)?;
            if diags.has_errors() {
                return Err(Error::Invalid {
                    count: diags.error_count(),
                });
            }
            if args.format == Format::Text {
                let scope = if operator_only {
                    "operator repo (platform and every allocation)"
                } else if inputs.operator.is_some() {
                    "app, allocation and platform"
                } else {
                    "app (customer side only; pass --operator for the rest)"
                };
                writeln!(io.err, "ok: {scope} valid").map_err(Error::Stderr)?;
            }
            Ok(())
        }
    }
}

/// Every identity of every file, or `None` when no file was given.
fn load_identities(files: &[PathBuf]) -> Result<Option<Vec<age::x25519::Identity>>, Error> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for f in files {
        all.extend(
            crate::crypto::read_identities(f).map_err(|e| Error::Environment(e.to_string()))?,
        );
    }
    Ok(Some(all))
}

/// Opens an input as a tree: a directory as it is, a git source through the cache at
/// `subdir` of its commit. Network work and the commit used are reported on `err`.
fn open_tree(
    loc: &Location,
    subdir: &str,
    git: Option<&GitSettings>,
    role: &str,
    err: &mut dyn Write,
) -> Result<Tree, Error> {
    match loc {
        Location::Dir(dir) => DirTree::open(dir)
            .map(Tree::Dir)
            .map_err(|e| Error::Environment(format!("cannot open `{}`: {e}", dir.display()))),
        Location::Git(spec) => {
            let settings = settings(git)?;
            let mut progress = |line: &str| {
                let _ = writeln!(err, "{role}: {line}");
            };
            let checkout = Cache::new(settings).open(spec, &mut progress)?;
            let tree = GitTree::open(checkout, subdir)?;
            writeln!(err, "{role}: {}", tree.checkout().describe()).map_err(Error::Stderr)?;
            Ok(Tree::Git(Box::new(tree)))
        }
        Location::Revision { dir, rev } => {
            // The directory as it was at `rev`, wherever it sits in its repository.
            let (checkout, inside) = crate::git::open_local(dir, rev)?;
            let tree = GitTree::open(checkout, &inside)?;
            writeln!(err, "{role}: {}", tree.checkout().describe()).map_err(Error::Stderr)?;
            Ok(Tree::Git(Box::new(tree)))
        }
    }
}

/// The git settings the command line checked, or the environment's.
fn settings(checked: Option<&GitSettings>) -> Result<GitSettings, Error> {
    match checked {
        Some(s) => Ok(s.clone()),
        None => Ok(GitSettings::from_env().map_err(cli::UsageError::from)?),
    }
}

/// Fails when a git tree met a corrupt object while it was read: what came out of it
/// cannot be trusted, even as error messages.
fn trusted(tree: &Tree) -> Result<(), Error> {
    match (tree, tree.broken()) {
        (Tree::Git(t), Some(message)) => Err(Error::Git(GitError::Corrupt {
            url: t.checkout().spec.url.clone(),
            message,
        })),
        _ => Ok(()),
    }
}

/// Runs `work` once, and once more after rebuilding the cache of a repo it found
/// corrupt: a corrupt cache is rebuilt, never rendered from.
fn retrying_corrupt<T>(
    inputs: &cli::Inputs,
    err: &mut dyn Write,
    mut work: impl FnMut(&mut dyn Write) -> Result<T, Error>,
) -> Result<T, Error> {
    match work(err) {
        Err(Error::Git(GitError::Corrupt { url, message })) => {
            writeln!(
                err,
                "warning: the cache of {url} is corrupt ({message}); rebuilding it"
            )
            .map_err(Error::Stderr)?;
            Cache::new(settings(inputs.git.as_ref())?).purge(&url)?;
            work(err)
        }
        other => other,
    }
}

/// The operator-side checks of a change to the operator repo: the platform, every
/// allocation, and what only shows across them (one namespace or Application name
/// claimed twice, a quota its own allocation cannot fit in).
fn check_operator_only(inputs: &cli::Inputs, err: &mut dyn Write) -> Result<Diagnostics, Error> {
    let operator = inputs
        .operator
        .as_ref()
        .ok_or(cli::UsageError::NoOperator)?;
    retrying_corrupt(inputs, err, |err| {
        let tree = open_tree(operator, "", inputs.git.as_ref(), "operator", err)?;
        let (_, _, diags) = load_fleet(&tree, false);
        trusted(&tree)?;
        Ok(diags)
    })
}

/// The customer-side checks a customer can run without the operator repo.
fn check_app_only(inputs: &cli::Inputs, err: &mut dyn Write) -> Result<Diagnostics, Error> {
    retrying_corrupt(inputs, err, |err| {
        let tree = open_tree(&inputs.app, "", inputs.git.as_ref(), "app", err)?;
        let diags = check_app_tree(&tree);
        trusted(&tree)?;
        Ok(diags)
    })
}

fn check_app_tree(tree: &Tree) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let owners = Owners {
        allocation: None,
        platform: "platform.yaml".to_owned(),
    };
    let shown = tree.shown("dovetail.yaml");
    if let Some(doc) = read_doc(tree, "dovetail.yaml", &shown, &mut diags) {
        ownership::check_app(&doc, &owners, &mut diags);
        if let Some(app) = typed::<App>(SchemaKind::App, &doc, &mut diags) {
            merge::load_secrets(tree, &doc, &app, &mut diags);
            for (i, f) in app.files.iter().enumerate() {
                if let Err(e) = tree.read(&f.path, merge::MAX_FILE_BYTES) {
                    let path = crate::input::yaml::Path::root().key("files").index(i).key("path");
                    diags.push(
                        doc.error(&path, e.to_string())
                            .hint("point it at a file inside the app directory"),
                    );
                }
            }
        }
    }
    diags
}

/// Every allocation of the operator repo, as `(tenant, app)`, sorted.
fn allocations(tree: &Tree) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for tenant in tree.list("tenants").unwrap_or_default() {
        let dir = format!("tenants/{tenant}");
        for file in tree.list(&dir).unwrap_or_default() {
            if let Some(app) = file.strip_suffix(".yaml") {
                found.push((tenant.clone(), app.to_owned()));
            }
        }
    }
    found
}

/// The allocation whose `<tenant>-<app>` is ArgoCD's Application name. Only the few
/// ways of splitting the name at a `-` are looked up, never the whole `tenants/` tree:
/// Argo CD runs this for every app on every refresh, whatever the size of the fleet.
/// Every split is tried, so two allocations claiming one name are still caught.
fn allocation_for_application(tree: &Tree, name: &str) -> Result<(Identity, String), Error> {
    let mut matches: Vec<(String, String)> = name
        .match_indices('-')
        .map(|(i, _)| (&name[..i], &name[i + 1..]))
        .filter(|(t, a)| is_name(t, MAX_NAME) && is_name(a, MAX_NAME))
        .filter(|(t, a)| tree.is_file(&allocation_path(t, a)))
        .map(|(t, a)| (t.to_owned(), a.to_owned()))
        .collect();
    match matches.len() {
        1 => {
            let (tenant, app) = matches.remove(0);
            let rel = allocation_path(&tenant, &app);
            Ok((Identity { tenant, app }, rel))
        }
        0 => Err(Error::Environment(format!(
            "no allocation in the operator repo `{}` for Application `{name}` (tenants/<tenant>/<app>.yaml with <tenant>-<app> = {name}); the operator must allocate it first",
            tree.describe()
        ))),
        _ => Err(Error::Environment(format!(
            "Application `{name}` matches {} allocations ({}); the operator must rename one",
            matches.len(),
            matches
                .iter()
                .map(|(t, a)| allocation_path(t, a))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Where the allocation of `<tenant>/<app>` lives in the operator repo.
fn allocation_path(tenant: &str, app: &str) -> String {
    format!("tenants/{tenant}/{app}.yaml")
}

/// Finds the allocation: the one named, or the only one there is.
fn find_allocation(
    tree: &Tree,
    wanted: Option<&(String, String)>,
) -> Result<(Identity, String), Error> {
    if let Some((tenant, app)) = wanted {
        let rel = format!("tenants/{tenant}/{app}.yaml");
        if !tree.exists(&rel) {
            return Err(Error::Environment(format!(
                "no allocation `{}` in the operator repo",
                tree.shown(&rel)
            )));
        }
        return Ok((
            Identity {
                tenant: tenant.clone(),
                app: app.clone(),
            },
            rel,
        ));
    }
    let mut found = allocations(tree);
    match found.len() {
        1 => {
            let (tenant, app) = found.remove(0);
            let rel = format!("tenants/{tenant}/{app}.yaml");
            if !is_name(&tenant, MAX_NAME) || !is_name(&app, MAX_NAME) {
                return Err(Error::Environment(format!(
                    "`{}`: tenant and app names must be lowercase letters, digits and '-', at most {MAX_NAME} characters",
                    tree.shown(&rel)
                )));
            }
            Ok((Identity { tenant, app }, rel))
        }
        0 => Err(Error::Environment(format!(
            "the operator repo `{}` holds no allocation (tenants/<tenant>/<app>.yaml)",
            tree.describe()
        ))),
        n => Err(Error::Environment(format!(
            "the operator repo holds {n} allocations; pick one with --allocation TENANT/APP"
        ))),
    }
}

/// Loads every input, checks it, and merges; returns the merged app when there were no
/// errors, and every diagnostic either way. Git sources are reported on `err`.
pub fn load_and_resolve(
    inputs: &cli::Inputs,
    err: &mut dyn Write,
) -> Result<(Option<Resolved>, Diagnostics), Error> {
    let (resolved, diags) = load_with_docs(inputs, err)?;
    Ok((resolved.map(|(r, _)| r), diags))
}

/// [`load_and_resolve`], keeping the parsed inputs the merged app was made of.
fn load_with_docs(
    inputs: &cli::Inputs,
    err: &mut dyn Write,
) -> Result<(Option<(Resolved, crate::emit::explain::SourceDocs)>, Diagnostics), Error> {
    let identities = load_identities(&inputs.identity)?;
    retrying_corrupt(inputs, err, |err| {
        load_once(inputs, identities.as_deref(), err)
    })
}

/// Loads and merges, and reports every problem on `err` (under `heading`, when there
/// are errors and one is given); the merged app and its inputs, or `Invalid`.
fn load_reported(
    inputs: &cli::Inputs,
    err: &mut dyn Write,
    heading: Option<&str>,
) -> Result<(Resolved, crate::emit::explain::SourceDocs), Error> {
    let (loaded, diags) = load_with_docs(inputs, err)?;
    if let (Some(heading), true) = (heading, diags.has_errors()) {
        writeln!(err, "{heading}: the inputs have problems:").map_err(Error::Stderr)?;
    }
    report::emit(&diags, Format::Text, err).map_err(Error::Stderr)?;
    loaded.ok_or(Error::Invalid {
        count: diags.error_count(),
    })
}

fn load_once(
    inputs: &cli::Inputs,
    identities: Option<&[age::x25519::Identity]>,
    err: &mut dyn Write,
) -> Result<(Option<(Resolved, crate::emit::explain::SourceDocs)>, Diagnostics), Error> {
    let operator = inputs
        .operator
        .as_ref()
        .ok_or(cli::UsageError::NoOperator)?;
    let op_tree = open_tree(operator, "", inputs.git.as_ref(), "operator", err)?;
    let (identity, alloc_rel) = match &inputs.argocd {
        Some(env) => allocation_for_application(&op_tree, &env.app_name)?,
        None => find_allocation(&op_tree, inputs.allocation.as_ref())?,
    };
    let mut diags = Diagnostics::default();

    let alloc_shown = op_tree.shown(&alloc_rel);
    let platform_shown = op_tree.shown("platform.yaml");
    let owners = Owners {
        allocation: Some(alloc_shown.clone()),
        platform: platform_shown.clone(),
    };
    let alloc_doc = read_doc(&op_tree, &alloc_rel, &alloc_shown, &mut diags);
    let allocation = alloc_doc
        .as_ref()
        .and_then(|doc| typed::<Allocation>(SchemaKind::Allocation, doc, &mut diags));
    let platform_doc = read_doc(&op_tree, "platform.yaml", &platform_shown, &mut diags);
    let platform = platform_doc
        .as_ref()
        .and_then(|doc| typed::<Platform>(SchemaKind::Platform, doc, &mut diags));
    trusted(&op_tree)?;
    if let (Some(env), Some(allocation)) = (&inputs.argocd, &allocation) {
        check_application_source(env, allocation, &alloc_shown)?;
    }
    // Release the operator repo's cache before opening the customer's: when both are
    // one repository, a fetch for the second would wait on our own lock.
    drop(op_tree);

    // A customer repo from git is read at the allocation's app path.
    let app_path = allocation
        .as_ref()
        .and_then(|a| a.path.clone())
        .unwrap_or_default();
    let app_tree = open_tree(&inputs.app, &app_path, inputs.git.as_ref(), "app", err)?;
    let app_shown = app_tree.shown("dovetail.yaml");
    let app_doc = read_doc(&app_tree, "dovetail.yaml", &app_shown, &mut diags);
    let app = app_doc.as_ref().and_then(|doc| {
        ownership::check_app(doc, &owners, &mut diags);
        typed::<App>(SchemaKind::App, doc, &mut diags)
    });
    trusted(&app_tree)?;

    let (
        Some(app_doc),
        Some(app),
        Some(platform_doc),
        Some(platform),
        Some(alloc_doc),
        Some(allocation),
    ) = (app_doc, app, platform_doc, platform, alloc_doc, allocation)
    else {
        return Ok((None, diags));
    };
    if diags.has_errors() {
        return Ok((None, diags));
    }
    let (resolved, more) = merge::resolve(&merge::Inputs {
        identity: &identity,
        app_doc: &app_doc,
        app: &app,
        allocation_doc: &alloc_doc,
        allocation: &allocation,
        platform_doc: &platform_doc,
        platform: &platform,
        app_tree: &app_tree,
        identities,
    });
    trusted(&app_tree)?;
    diags.extend(more);
    let Some(resolved) = resolved else {
        return Ok((None, diags));
    };
    check_resolved(&resolved, &app_doc, &mut diags);
    if diags.has_errors() {
        return Ok((None, diags));
    }
    let docs = crate::emit::explain::SourceDocs {
        app: app_doc,
        allocation: alloc_doc,
        platform: platform_doc,
    };
    Ok((Some((resolved, docs)), diags))
}

/// In ArgoCD: the Application must deploy the repo and path its allocation names, or a
/// customer could point their Application at another repo and still get this app's
/// identity, secrets and resources.
fn check_application_source(
    env: &crate::argocd::ArgoEnv,
    allocation: &Allocation,
    shown: &str,
) -> Result<(), Error> {
    use crate::argocd::{normalize_path, normalize_repo_url};
    let Some(url) = &env.source_repo_url else {
        return Err(Error::Environment(
            "ARGOCD_APP_SOURCE_REPO_URL is not set; cannot check the Application's repo against its allocation".to_owned(),
        ));
    };
    if normalize_repo_url(url) != normalize_repo_url(&allocation.repo) {
        return Err(Error::Environment(format!(
            "Application `{}` deploys {url}, but its allocation {shown} names {}; only that repo may be deployed as this app",
            env.app_name, allocation.repo
        )));
    }
    // The objects carry the allocation's namespace; an Application aimed elsewhere is
    // someone else's, and must not get this app's decrypted Secrets rendered for it.
    if let Some(ns) = &env.destination_namespace
        && *ns != allocation.namespace
    {
        return Err(Error::Environment(format!(
            "Application `{}` deploys to namespace `{ns}`, but its allocation {shown} gives it `{}`",
            env.app_name, allocation.namespace
        )));
    }
    let wanted = normalize_path(allocation.path.as_deref().unwrap_or(""));
    if let Some(path) = &env.source_path
        && normalize_path(path) != wanted
    {
        return Err(Error::Environment(format!(
            "Application `{}` deploys path `{path}` of its repo, but its allocation {shown} names `{}`",
            env.app_name,
            if wanted.is_empty() { "." } else { &wanted }
        )));
    }
    Ok(())
}

/// The merged app against its own schema: a failure here is dovetail's bug, reported as
/// such instead of rendered.
fn check_resolved(resolved: &Resolved, app_doc: &Doc, diags: &mut Diagnostics) {
    let value = serde_json::to_value(resolved).unwrap_or_default();
    if SchemaKind::Resolved.is_valid(&value) {
        return;
    }
    let mut inner = Diagnostics::default();
    let doc = Doc {
        file: "(merged app)".to_owned(),
        root: crate::input::yaml::parse(&serde_json::to_string(&value).unwrap_or_default())
            .unwrap_or_else(|_| app_doc.root.clone()),
    };
    crate::input::schema::check(SchemaKind::Resolved, &doc, &value, &mut inner);
    for d in inner.sorted() {
        diags.push(Diagnostic::at(
            &app_doc.file,
            Pos::START,
            format!(
                "internal error: the merged app breaks its schema at {}: {}; please report it",
                d.field, d.message
            ),
        ));
    }
}

/// Which app a secrets command is for, where its file is, and whom to encrypt to.
struct SecretsTarget {
    app_dir: PathBuf,
    tree: Tree,
    identity: Identity,
    recipients: Vec<age::x25519::Recipient>,
    /// The file, relative to the app directory.
    rel: String,
    /// The file as messages name it.
    shown: String,
    /// Whether dovetail.yaml names the file (else `secrets.yaml` is assumed).
    named: bool,
    app_shown: String,
}

fn secrets_target(args: &cli::SecretsArgs, err: &mut dyn Write) -> Result<SecretsTarget, Error> {
    let input = args.repo.check(false, &[])?;
    let Location::Dir(app_dir) = &input.app else {
        return Err(Error::Environment(
            "secrets commands edit the secrets file of a checkout; pass --app DIR, not a URL"
                .to_owned(),
        ));
    };
    let tree =
        Tree::Dir(DirTree::open(app_dir).map_err(|e| {
            Error::Environment(format!("cannot open `{}`: {e}", app_dir.display()))
        })?);
    let op_tree = match &input.operator {
        Some(op) => Some(open_tree(op, "", input.git.as_ref(), "operator", err)?),
        None => None,
    };
    // The app's identity: named, or the operator repo's only allocation.
    let identity = match (&input.allocation, &op_tree) {
        (Some((tenant, app)), _) => Identity {
            tenant: tenant.clone(),
            app: app.clone(),
        },
        (None, Some(op)) => find_allocation(op, None)?.0,
        (None, None) => {
            return Err(Error::Environment(
                "which app is this for? pass --allocation TENANT/APP or --operator DIR".to_owned(),
            ));
        }
    };
    let recipients: Vec<age::x25519::Recipient> = if args.recipient.is_empty() {
        let Some(op) = &op_tree else {
            return Err(Error::Environment(
                "no recipients: pass --recipient age1… or --operator DIR (its platform.yaml lists them)".to_owned(),
            ));
        };
        let mut diags = Diagnostics::default();
        let shown = op.shown("platform.yaml");
        let platform = read_doc(op, "platform.yaml", &shown, &mut diags)
            .and_then(|doc| typed::<Platform>(SchemaKind::Platform, &doc, &mut diags));
        report::emit(&diags, Format::Text, err).map_err(Error::Stderr)?;
        let Some(platform) = platform else {
            return Err(Error::Invalid {
                count: diags.error_count(),
            });
        };
        if platform.recipients.is_empty() {
            return Err(Error::Environment(format!(
                "{shown} lists no `recipients:`"
            )));
        }
        platform
            .recipients
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect()
    } else {
        let mut v = Vec::new();
        for r in &args.recipient {
            v.push(r.parse().map_err(|_| {
                Error::Environment(format!("`{r}` is not an age X25519 recipient (age1…)"))
            })?);
        }
        v
    };
    // The file dovetail.yaml names, or secrets.yaml.
    let app_shown = tree.shown("dovetail.yaml");
    let named = read_doc(
        &tree,
        "dovetail.yaml",
        &app_shown,
        &mut Diagnostics::default(),
    )
    .and_then(|doc| {
        doc.root
            .get("secrets")
            .and_then(|n| n.scalar_text())
            .map(str::to_owned)
    });
    let rel = named.clone().unwrap_or_else(|| "secrets.yaml".to_owned());
    if !crate::input::formats::relative_path(&rel) {
        return Err(Error::Environment(format!(
            "`{rel}` is not a path inside the app directory"
        )));
    }
    Ok(SecretsTarget {
        shown: tree.shown(&rel),
        app_dir: app_dir.clone(),
        tree,
        identity,
        recipients,
        rel,
        named: named.is_some(),
        app_shown,
    })
}

impl SecretsTarget {
    fn binding<'a>(&'a self, key: &'a str) -> crate::crypto::Binding<'a> {
        crate::crypto::Binding {
            tenant: &self.identity.tenant,
            app: &self.identity.app,
            key,
        }
    }

    /// The file's text, or `None` when there is no file yet.
    fn read(&self) -> Result<Option<String>, Error> {
        match self.tree.read(&self.rel, crate::input::tree::MAX_YAML_BYTES) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Error::Environment(format!("`{}` is not UTF-8 text", self.shown))),
            Err(crate::input::tree::ReadError::NotFound(_)) => Ok(None),
            Err(e) => Err(Error::Environment(e.to_string())),
        }
    }

    /// Written next to the file and renamed over it: never a half-written secrets file.
    fn write(&self, text: &str) -> Result<(), Error> {
        let path = self.app_dir.join(&self.rel);
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::Environment(format!("cannot write `{}`: {e}", self.shown)))
    }

    fn set(&self, text: Option<&str>, key: &str, armored: &str) -> Result<String, Error> {
        match text {
            None => Ok(crate::input::secrets_file::new_file(key, armored)),
            Some(text) => crate::input::secrets_file::set(text, key, armored).ok_or_else(|| {
                Error::Environment(format!(
                    "`{}` is not a secrets file with a `data:` mapping; fix it with `dovetail validate`",
                    self.shown
                ))
            }),
        }
    }

    fn encrypt(&self, key: &str, value: &[u8]) -> Result<String, Error> {
        crate::crypto::encrypt(value, &self.binding(key), &self.recipients)
            .map_err(|e| Error::Environment(format!("cannot encrypt: {e}")))
    }
}

/// `dovetail secrets set KEY`: encrypts stdin for this app and KEY, and writes it into the
/// secrets file without touching any other entry.
fn secrets_set(args: cli::SecretsSetArgs, io: Io<'_>) -> Result<(), Error> {
    use std::io::Read;
    if !crate::input::formats::env_name(&args.key) {
        return Err(Error::Environment(format!(
            "`{}` is not a secret name: letters, digits and '_', not starting with a digit",
            args.key
        )));
    }
    let target = secrets_target(&args.target, io.err)?;
    let mut value = Vec::new();
    io.input
        .take(crate::crypto::MAX_VALUE_BYTES as u64 + 2)
        .read_to_end(&mut value)
        .map_err(|e| Error::Environment(format!("cannot read the value from stdin: {e}")))?;
    if value.ends_with(b"\n") {
        value.pop();
    }
    if value.len() > crate::crypto::MAX_VALUE_BYTES {
        return Err(Error::Environment(format!(
            "the value is larger than {} bytes",
            crate::crypto::MAX_VALUE_BYTES
        )));
    }
    let armored = target.encrypt(&args.key, &value)?;
    let text = target.set(target.read()?.as_deref(), &args.key, &armored)?;
    target.write(&text)?;
    writeln!(
        io.err,
        "set {} in {} for {}/{} ({} recipient(s))",
        args.key,
        target.shown,
        target.identity.tenant,
        target.identity.app,
        target.recipients.len()
    )
    .map_err(Error::Stderr)?;
    if !target.named {
        writeln!(
            io.err,
            "hint: add `secrets: {}` to {}",
            target.rel, target.app_shown
        )
        .map_err(Error::Stderr)?;
    }
    Ok(())
}

/// `dovetail secrets rekey`: every value decrypted with the identities given and encrypted
/// again to the new recipients. Nothing is written unless every value could be read.
fn secrets_rekey(args: cli::SecretsRekeyArgs, io: Io<'_>) -> Result<(), Error> {
    let identities = load_identities(&args.identity.files)?.ok_or_else(|| {
        Error::Environment(
            "rekey needs an identity that can read the values: pass --identity FILE".to_owned(),
        )
    })?;
    let target = secrets_target(&args.target, io.err)?;
    let Some(mut text) = target.read()? else {
        return Err(Error::Environment(format!(
            "there is no `{}` to rekey",
            target.shown
        )));
    };
    let mut diags = Diagnostics::default();
    let doc = Doc {
        file: target.shown.clone(),
        root: crate::input::yaml::parse(&text)
            .map_err(|e| Error::Environment(format!("{}: {e}", target.shown)))?,
    };
    let Some(file) = typed::<crate::input::model::SecretsFile>(SchemaKind::Secrets, &doc, &mut diags)
    else {
        report::emit(&diags, Format::Text, io.err).map_err(Error::Stderr)?;
        return Err(Error::Invalid {
            count: diags.error_count(),
        });
    };
    let mut fresh = Vec::new();
    for (key, armored) in &file.data {
        match crate::crypto::decrypt(armored, &identities, &target.binding(key)) {
            Ok(value) => fresh.push((key.clone(), target.encrypt(key, &value)?)),
            Err(e) => diags.push(
                doc.error(
                    &crate::input::yaml::Path::root().key("data").key(key),
                    e.to_string(),
                )
                .hint(e.hint()),
            ),
        }
    }
    report::emit(&diags, Format::Text, io.err).map_err(Error::Stderr)?;
    if diags.has_errors() {
        return Err(Error::Invalid {
            count: diags.error_count(),
        });
    }
    for (key, armored) in &fresh {
        text = target.set(Some(&text), key, armored)?;
    }
    target.write(&text)?;
    writeln!(
        io.err,
        "rekeyed {} value(s) in {} to {} recipient(s)",
        fresh.len(),
        target.shown,
        target.recipients.len()
    )
    .map_err(Error::Stderr)?;
    Ok(())
}

/// `dovetail generate`: ArgoCD plugin mode. The mode comes from trusted input only:
/// the fleet is rendered when the Application's source is the operator repo the sidecar
/// itself names (`DOVETAIL_OPERATOR_REPO`), and read from there; every other Application
/// is an app, whatever files its repo holds.
fn generate(io: Io<'_>) -> Result<(), Error> {
    let env = ArgoEnv::from_vars(|k| std::env::var(k).ok())
        .map_err(|e| Error::Environment(e.to_string()))?;
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Environment(format!("cannot tell the working directory: {e}")))?;
    let operator = std::env::var("DOVETAIL_OPERATOR_REPO")
        .ok()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            Error::Environment(
                "DOVETAIL_OPERATOR_REPO is not set in the sidecar: it names the operator repo (a git URL)".to_owned(),
            )
        })?;
    let operator = Location::parse(&operator).map_err(cli::UsageError::from)?;
    if is_operator_source(&env, &operator, &cwd) {
        return generate_fleet(env, operator, io);
    }
    if !cwd.join("dovetail.yaml").is_file() {
        return Err(Error::Environment(format!(
            "`{}` holds no dovetail.yaml: an Application of this plugin deploys a customer app (or, from the operator repo that DOVETAIL_OPERATOR_REPO names, the fleet); check the Application's path",
            cwd.display()
        )));
    }
    generate_app(env, operator, &cwd, io)
}

/// Whether ArgoCD is rendering the operator repo itself: the Application's source repo is
/// the one the sidecar's own `DOVETAIL_OPERATOR_REPO` names (a directory there, for local
/// use, must be the working directory). Nothing a customer commits can make this true.
fn is_operator_source(env: &ArgoEnv, operator: &Location, cwd: &FsPath) -> bool {
    use crate::argocd::normalize_repo_url;
    match operator {
        Location::Git(spec) => env
            .source_repo_url
            .as_deref()
            .is_some_and(|url| normalize_repo_url(url) == normalize_repo_url(&spec.url)),
        Location::Dir(dir) => match (std::fs::canonicalize(dir), std::fs::canonicalize(cwd)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        Location::Revision { .. } => false,
    }
}

/// Renders the customer app in `cwd` for the Application ArgoCD names.
fn generate_app(
    env: ArgoEnv,
    mut operator: Location,
    cwd: &FsPath,
    io: Io<'_>,
) -> Result<(), Error> {
    let overrides = crate::argocd::override_files(cwd);
    if !overrides.is_empty() {
        return Err(Error::Environment(format!(
            "refusing to render: `{}` in the app path would let the repo change the Application's plugin parameters and env, which only the operator sets; remove it from the repo",
            overrides.join("`, `")
        )));
    }
    if let Some(rev) = &env.operator_revision {
        match &mut operator {
            Location::Git(spec) => {
                spec.rev = crate::git::Rev::parse(rev).map_err(cli::UsageError::from)?;
            }
            Location::Dir(_) | Location::Revision { .. } => {
                return Err(Error::Environment(
                    "PARAM_OPERATOR_REVISION pins a git revision, but DOVETAIL_OPERATOR_REPO is a directory".to_owned(),
                ));
            }
        }
    }
    let git = match &operator {
        Location::Git(_) => Some(GitSettings::from_env().map_err(cli::UsageError::from)?),
        Location::Dir(_) | Location::Revision { .. } => None,
    };
    let identity = std::env::var_os("DOVETAIL_IDENTITY")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    let inputs = cli::Inputs {
        // `.`, so that messages name files as the app path's own (`dovetail.yaml:3:1`).
        app: Location::Dir(PathBuf::from(".")),
        app_given: true,
        operator: Some(operator),
        git,
        allocation: None,
        identity,
        argocd: Some(env),
    };
    let (resolved, _) = load_reported(&inputs, io.err, None)?;
    if resolved
        .secrets
        .as_ref()
        .is_some_and(ResolvedSecrets::is_redacted)
    {
        return Err(Error::Environment(
            "the app has secrets but the sidecar has no identity (DOVETAIL_IDENTITY); refusing to deploy redacted Secrets".to_owned(),
        ));
    }
    let objects = render::render(&resolved);
    if objects.is_empty() {
        return Err(Error::Empty);
    }
    let text = output::stream(&objects)?;
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
}

/// Renders the fleet's guardrails from the operator repo, read where the sidecar's
/// `DOVETAIL_OPERATOR_REPO` says: a git repo at the commit ArgoCD resolved (so the fleet
/// is exactly the operator's, never a copy handed over), or the working directory.
fn generate_fleet(env: ArgoEnv, operator: Location, io: Io<'_>) -> Result<(), Error> {
    let revision = env.revision.clone().ok_or_else(|| {
        Error::Environment(
            "ARGOCD_APP_REVISION is not set; fleet mode pins every child Application to it"
                .to_owned(),
        )
    })?;
    if env
        .source_path
        .as_deref()
        .is_some_and(|p| !crate::argocd::normalize_path(p).is_empty())
    {
        return Err(Error::Environment(
            "the fleet Application must deploy the operator repo's root (path `.`)".to_owned(),
        ));
    }
    let (operator, git) = match operator {
        Location::Git(mut spec) => {
            spec.rev = crate::git::Rev::parse(&revision).map_err(cli::UsageError::from)?;
            let settings = GitSettings::from_env().map_err(cli::UsageError::from)?;
            (Location::Git(spec), Some(settings))
        }
        // A local operator repo (for trying the fleet by hand): files are named by their
        // path in the repo, whose root the working directory is.
        other => (other, None),
    };
    let inputs = cli::Inputs {
        app: Location::Dir(PathBuf::from(".")),
        app_given: false,
        operator: Some(operator),
        git,
        allocation: None,
        identity: Vec::new(),
        argocd: Some(env.clone()),
    };
    let target = crate::argocd::FleetTarget {
        argocd_namespace: env
            .app_object_namespace
            .or(env.destination_namespace)
            .unwrap_or_else(|| "argocd".to_owned()),
        operator_revision: revision,
    };
    let (platform, members, diags) = retrying_corrupt(&inputs, io.err, |err| {
        let Some(operator) = &inputs.operator else {
            return Err(Error::Usage(cli::UsageError::NoOperator));
        };
        let tree = match operator {
            Location::Dir(_) => Tree::Dir(
                DirTree::open_as(FsPath::new("."), FsPath::new(".")).map_err(|e| {
                    Error::Environment(format!("cannot open the working directory: {e}"))
                })?,
            ),
            _ => open_tree(operator, "", inputs.git.as_ref(), "operator", err)?,
        };
        let loaded = load_fleet(&tree, true);
        trusted(&tree)?;
        Ok(loaded)
    })?;
    report::emit(&diags, Format::Text, io.err).map_err(Error::Stderr)?;
    let Some(platform) = platform.filter(|_| !diags.has_errors()) else {
        return Err(Error::Invalid {
            count: diags.error_count().max(1),
        });
    };
    if members.is_empty() {
        return Err(Error::Empty);
    }
    // Everything was checked above; what is left cannot fail on the inputs, so the
    // objects are written as they are made instead of holding the fleet in memory.
    for round in members.chunks(FLEET_ROUND) {
        let texts = crate::parallel::map(round, |member| {
            let mut text = String::new();
            crate::argocd::write_member(&platform, member, &target, &mut text).map(|()| text)
        });
        for text in texts {
            io.out.write_all(text?.as_bytes()).map_err(Error::Stdout)?;
        }
    }
    Ok(())
}

/// How many allocations are read, checked and rendered per round: enough to keep every
/// core busy, few enough that memory stays flat however large the fleet.
const FLEET_ROUND: usize = 1024;

/// One allocation of the fleet as read, before it is parsed and checked.
struct Unread {
    tenant: String,
    app: String,
    shown: String,
    bytes: Option<Vec<u8>>,
    diags: Diagnostics,
}

/// One allocation of the fleet, checked on its own.
struct Checked {
    tenant: String,
    app: String,
    shown: String,
    /// The typed allocation, with its document to point at its fields.
    allocation: Option<(Allocation, Doc)>,
    diags: Diagnostics,
}

/// The platform and every allocation of an operator repo, checked one by one and against
/// each other (one namespace or one Application name claimed twice). Allocations are
/// read in rounds and checked in parallel; only their typed form is kept, and only when
/// `keep` asks for it (the fleet renders from it, `validate` does not).
fn load_fleet(
    tree: &Tree,
    keep: bool,
) -> (Option<Platform>, Vec<crate::argocd::Member>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let shown = tree.shown("platform.yaml");
    let platform = read_doc(tree, "platform.yaml", &shown, &mut diags)
        .and_then(|doc| typed::<Platform>(SchemaKind::Platform, &doc, &mut diags));
    let mut members = Vec::new();
    let mut namespaces: std::collections::HashMap<String, String> = Default::default();
    let mut names: std::collections::HashMap<String, String> = Default::default();
    let all = allocations(tree);
    for round in all.chunks(FLEET_ROUND) {
        // Reading stays on this thread (a git tree caches what it reads); parsing and
        // checking, the bulk of the work, run in parallel.
        let read: Vec<Unread> = round
            .iter()
            .map(|(tenant, app)| {
                let rel = allocation_path(tenant, app);
                let shown = tree.shown(&rel);
                let mut d = Diagnostics::default();
                let bytes = if is_name(tenant, MAX_NAME) && is_name(app, MAX_NAME) {
                    crate::input::doc::read_yaml_bytes(tree, &rel, &shown, &mut d)
                } else {
                    d.push(Diagnostic::at(
                        &shown,
                        Pos::START,
                        format!("tenant and app names must be lowercase letters, digits and '-', at most {MAX_NAME} characters"),
                    ));
                    None
                };
                Unread {
                    tenant: tenant.clone(),
                    app: app.clone(),
                    shown,
                    bytes,
                    diags: d,
                }
            })
            .collect();
        let checked = crate::parallel::map(&read, |unread| {
            let mut d = unread.diags.clone();
            let allocation = unread.bytes.clone().and_then(|b| {
                let doc = crate::input::doc::parse_doc(b, &unread.shown, &mut d)?;
                let allocation = typed::<Allocation>(SchemaKind::Allocation, &doc, &mut d)?;
                if let Some(platform) = &platform {
                    for (field, given, needed) in crate::argocd::quota_shortfalls(platform, &allocation) {
                        d.push(
                            doc.error(
                                &crate::input::yaml::Path::root().key("quota").key(field),
                                format!("`{given}` cannot fit the allocation's own pods and volumes, which need {needed} (most replicas, a rollout pod, sidecars, init, Redis and the database)"),
                            )
                            .hint("raise the quota, or leave it out to derive it"),
                        );
                    }
                }
                Some((allocation, doc))
            });
            Checked {
                tenant: unread.tenant.clone(),
                app: unread.app.clone(),
                shown: unread.shown.clone(),
                allocation,
                diags: d,
            }
        });
        drop(read);
        for c in checked {
            diags.extend(c.diags);
            let Some((allocation, doc)) = c.allocation else {
                continue;
            };
            let name = format!("{}-{}", c.tenant, c.app);
            if let Some(first) = names.get(&name) {
                diags.push(
                    Diagnostic::at(
                        &c.shown,
                        Pos::START,
                        format!("its Application name `{name}` is also {first}'s"),
                    )
                    .hint("rename the tenant or the app"),
                );
            } else {
                names.insert(name, c.shown.clone());
            }
            if let Some(first) = namespaces.get(&allocation.namespace) {
                diags.push(
                    doc.error(
                        &crate::input::yaml::Path::root().key("namespace"),
                        format!("namespace `{}` is already {first}'s", allocation.namespace),
                    )
                    .hint("give each app its own namespace"),
                );
            } else {
                namespaces.insert(allocation.namespace.clone(), c.shown.clone());
            }
            if keep {
                members.push(crate::argocd::Member {
                    identity: Identity {
                        tenant: c.tenant,
                        app: c.app,
                    },
                    allocation,
                });
            }
        }
    }
    (platform, members, diags)
}

/// `dovetail diff`: renders the base and the head, and prints what differs.
fn diff(args: cli::DiffArgs, io: Io<'_>) -> Result<(), Error> {
    let inputs = args.input.check(true)?;
    let base = at_revision(&inputs, &args.base)?;
    let head = match &args.head {
        Some(rev) => at_revision(&inputs, rev)?,
        None => inputs.clone(),
    };
    let base = render_side(&base, "base", io.err)?;
    let head = render_side(&head, "head", io.err)?;
    let (text, summary) = crate::emit::diff::diff(&base, &head)?;
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    writeln!(
        io.err,
        "{} changed, {} added, {} removed",
        summary.changed, summary.added, summary.removed
    )
    .map_err(Error::Stderr)?;
    if summary.any() {
        return Err(Error::Changed);
    }
    Ok(())
}

/// `inputs` with every local directory whose git repository knows `rev` read at `rev`.
fn at_revision(inputs: &cli::Inputs, rev: &str) -> Result<cli::Inputs, Error> {
    let mut out = inputs.clone();
    let mut found = false;
    for loc in std::iter::once(&mut out.app).chain(out.operator.as_mut()) {
        if let Location::Dir(dir) = loc
            && crate::git::knows_revision(dir, rev)
        {
            *loc = Location::Revision {
                dir: dir.clone(),
                rev: rev.to_owned(),
            };
            found = true;
        }
    }
    if !found {
        return Err(Error::Environment(format!(
            "neither --app nor --operator is a directory in a git repository that knows `{rev}`"
        )));
    }
    Ok(out)
}

/// One side of a diff, rendered; its problems are reported under its name.
fn render_side(
    inputs: &cli::Inputs,
    side: &str,
    err: &mut dyn Write,
) -> Result<crate::emit::diff::Side, Error> {
    let (resolved, _) = load_reported(inputs, err, Some(side))?;
    let objects = render::render(&resolved);
    Ok(crate::emit::diff::Side::new(&resolved, objects))
}
