//! The pipeline every command runs over the two repos: open each where it is (a
//! directory, a commit of the git cache, a revision of a local work tree, or memory),
//! read the operator's side, pick the allocation, read the app's side, merge. Every
//! problem of every stage comes back together, in one [`Diagnostics`].

use std::path::PathBuf;

use crate::Error;
use crate::argocd::{ArgoEnv, ArgoError, normalize_path, same_repo};
use crate::diag::{Code, Diagnostic, Diagnostics, Doc, Dropped};
use crate::emit::explain::SourceDocs;
use crate::emit::report::Reporter;
use crate::git::worktree::WorkTree;
use crate::git::{Cache, GitError, GitSettings, GitSpec, LocationError};
use crate::input::app;
use crate::input::model::Identity;
use crate::input::model::{Allocation, Platform};
use crate::input::operator::{AllocationError, Member, OperatorRepo, PLATFORM_FILE, check_cluster};
use crate::input::ownership::Owners;
use crate::input::schema::SchemaKind;
use crate::input::tree::{DirTree, GitTree, MemTree, Tree};
use crate::input::yaml::{self, Pos};
use crate::merge::{self, Resolved};

/// Sources that cannot be read as they were given.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// A command that needs the operator repo, without it.
    #[error("no operator repo")]
    NoOperator,
    /// A git source, and no git settings were read for it (a bug in the caller).
    #[error("a git source without git settings")]
    NoGitSettings,
}

impl SourcesError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            SourcesError::NoOperator => {
                Some("pass --operator DIR|URL or set DOVETAIL_OPERATOR_REPO")
            }
            SourcesError::NoGitSettings => None,
        }
    }
}

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on this machine.
    Dir(PathBuf),
    /// A git URL and revision.
    Git(GitSpec),
    /// A directory of a local git work tree as it was at a revision (`dovetail diff`).
    Revision {
        /// The directory, inside a git work tree.
        dir: PathBuf,
        /// Anything `git rev-parse` takes: a branch, tag, `origin/main`, `HEAD~1`, a sha.
        rev: String,
        /// What `rev` resolved to, once, when the location was made.
        resolved: Box<crate::git::Resolved>,
    },
    /// Files held in memory: never named on a command line, but what the scenario
    /// tests hand the pipeline to run it in-process. Read like a directory: the app's
    /// tree is the app directory itself, whatever the allocation's `path`.
    Memory(MemTree),
}

impl Location {
    /// Reads `DIR`, `URL` or `URL#REF` (see [`GitSpec::parse`] for what is a URL).
    pub fn parse(s: &str) -> Result<Location, LocationError> {
        Ok(match GitSpec::parse(s)? {
            Some(spec) => Location::Git(spec),
            None => Location::Dir(PathBuf::from(s)),
        })
    }
}

/// Where the inputs are, and the keys to read their secrets: what a command line (or
/// Argo CD's environment) comes down to, checked.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The app directory or repo.
    pub app: Location,
    /// Whether the app was named (and not just defaulted to `.`).
    pub app_given: bool,
    /// The operator repo, if any.
    pub operator: Option<Location>,
    /// Cache and credentials, when a git source is named.
    pub git: Option<GitSettings>,
    /// The allocation, as `(tenant, app)`.
    pub allocation: Option<(String, String)>,
    /// Identity files, in the order given.
    pub identities: Vec<PathBuf>,
    /// In Argo CD plugin mode: the Application that picks the allocation, and the repo,
    /// path and namespace the allocation must name.
    pub argocd: Option<ArgoEnv>,
}

/// The merged app, with what it was made of, and every problem found on the way.
#[derive(Debug)]
pub struct Merged {
    /// The merged app, when there were no errors.
    pub resolved: Option<Resolved>,
    /// The documents it was made of (for `explain`), when there were no errors.
    pub docs: Option<SourceDocs>,
    /// Every problem of every stage.
    pub diags: Diagnostics,
}

/// Reads both repos and merges them.
pub fn merge(sources: &Sources, reporter: &mut Reporter<'_>) -> Result<Merged, Error> {
    let identities = load_identities(&sources.identities)?;
    retrying_corrupt(sources, reporter, |reporter| {
        merge_once(sources, identities.as_deref(), reporter)
    })
}

fn merge_once(
    sources: &Sources,
    identities: Option<&[age::x25519::Identity]>,
    reporter: &mut Reporter<'_>,
) -> Result<Merged, Error> {
    let operator = sources.operator.as_ref().ok_or(SourcesError::NoOperator)?;
    let op_tree = open_tree(operator, "", sources.git.as_ref(), "operator", reporter)?;
    let repo = OperatorRepo::new(&op_tree);
    let identity = match (&sources.argocd, &sources.allocation) {
        (Some(env), _) => repo.for_application(&env.app_name)?,
        (None, Some((tenant, app))) => repo.named(tenant, app)?,
        (None, None) => unnamed_allocation(&repo, &sources.app)?,
    };
    let mut diags = Diagnostics::default();
    let owners = repo.owners(Some(&identity));
    let alloc = repo.allocation(&identity, &mut diags);
    let platform = repo.platform(&mut diags);
    trusted(&op_tree)?;
    if let (Some(env), Some((doc, allocation))) = (&sources.argocd, &alloc) {
        check_application(env, allocation, &doc.file)?;
    }
    // Release the operator repo's cache before opening the customer's: when both are
    // one repository, a fetch for the second would wait on our own lock.
    drop(op_tree);

    // A customer repo from git is read at the allocation's app path.
    let app_path = alloc
        .as_ref()
        .and_then(|(_, a)| a.path.clone())
        .unwrap_or_default();
    let app_tree = open_tree(
        &sources.app,
        &app_path,
        sources.git.as_ref(),
        "app",
        reporter,
    )
    .map_err(|e| match (e, &alloc) {
        // The path is the allocation's: say where it is written.
        (
            Error::Git(GitError::NoSuchPath {
                url, path, commit, ..
            }),
            Some((doc, _)),
        ) => {
            let pos = doc.root.locate_value(&yaml::Path::root().key("path"));
            Error::Git(GitError::NoSuchPath {
                url,
                path,
                commit,
                allocation: Some((doc.file.clone(), pos)),
            })
        }
        (e, _) => e,
    })?;
    // In Argo CD the working directory is the app's path in its repo: name its files by
    // their path in the repo, as the customer finds them (and as the operator repo's
    // are named), not as if each repo held one app at its root.
    let app_tree = match (app_tree, argocd_app_path(sources)) {
        (Tree::Dir(dir), Some(path)) => Tree::Dir(dir.shown_as(std::path::Path::new(&path))),
        (tree, _) => tree,
    };
    let app = app::load(&app_tree, &owners, &mut diags);
    trusted(&app_tree)?;
    drop(app_tree);

    let (Some(app), Some((alloc_doc, allocation)), Some((platform_doc, platform))) =
        (app, alloc, platform)
    else {
        return Ok(Merged {
            resolved: None,
            docs: None,
            diags,
        });
    };
    let (resolved, more) = merge::resolve(&merge::Inputs {
        identity: &identity,
        app: &app,
        allocation_doc: &alloc_doc,
        allocation: &allocation,
        platform_doc: &platform_doc,
        platform: &platform,
        identities,
        stand_in: false,
        prior: &diags,
    });
    diags.extend(more);
    // Where the app runs changes nothing in its objects, but a cluster the platform does
    // not declare is the allocation's mistake wherever it is read (unless the
    // platform's `clusters` is in error, and which it declares unknown).
    if !diags.dropped(&platform_doc.file, &yaml::Path::root().key("clusters")) {
        check_cluster(
            &platform,
            &platform_doc.file,
            &allocation,
            &alloc_doc,
            &mut diags,
        );
    }
    let resolved = resolved.filter(|_| !diags.has_errors());
    if let Some(r) = &resolved {
        check_resolved(r, &app.doc, &mut diags);
    }
    if diags.has_errors() {
        return Ok(Merged {
            resolved: None,
            docs: None,
            diags,
        });
    }
    Ok(Merged {
        resolved,
        docs: Some(SourceDocs {
            app: app.doc,
            allocation: alloc_doc,
            platform: platform_doc,
        }),
        diags,
    })
}

/// The allocation of an app when `--allocation` is left out: where the app is a
/// directory in a git work tree with an `origin`, the allocation naming that repo and
/// the app's path in it (see [`OperatorRepo::for_checkout`]); elsewhere the operator
/// repo's only allocation.
pub fn unnamed_allocation(
    repo: &OperatorRepo<'_>,
    app: &Location,
) -> Result<Identity, AllocationError> {
    let dir = match app {
        Location::Dir(dir) | Location::Revision { dir, .. } => dir,
        Location::Git(_) | Location::Memory(_) => return repo.only(),
    };
    match crate::git::worktree::discover(dir) {
        Some(WorkTree {
            origin: Some(remote),
            inside,
            ..
        }) => repo.for_checkout(&remote, &inside),
        _ => repo.only(),
    }
}

/// The customer-side checks a customer can run without the operator repo: every check
/// `render` makes of the app on its own (see [`merge::check_app_alone`]).
pub fn check_app_only(
    sources: &Sources,
    reporter: &mut Reporter<'_>,
) -> Result<Diagnostics, Error> {
    retrying_corrupt(sources, reporter, |reporter| {
        let tree = open_tree(&sources.app, "", sources.git.as_ref(), "app", reporter)?;
        let mut diags = Diagnostics::default();
        let owners = Owners {
            allocation: None,
            platform: "platform.yaml".to_owned(),
        };
        // The merge runs over what loaded (fields in error left out), as render's does:
        // every problem at once, not the schema's first and the merge's after a fix.
        if let Some(app) = app::load(&tree, &owners, &mut diags) {
            let alone = merge::check_app_alone(&app, &diags);
            diags.extend(alone);
        }
        trusted(&tree)?;
        Ok(diags)
    })
}

/// The operator-side checks of the operator repo alone: the platform, every allocation,
/// and what only shows across them.
pub fn check_operator_only(
    sources: &Sources,
    reporter: &mut Reporter<'_>,
) -> Result<Diagnostics, Error> {
    let (_, _, diags) = fleet(sources, false, reporter)?;
    Ok(diags)
}

/// The platform and every allocation of the operator repo (their typed forms only when
/// `keep`), checked one by one and against each other.
pub fn fleet(
    sources: &Sources,
    keep: bool,
    reporter: &mut Reporter<'_>,
) -> Result<(Option<Platform>, Vec<Member>, Diagnostics), Error> {
    let operator = sources.operator.as_ref().ok_or(SourcesError::NoOperator)?;
    retrying_corrupt(sources, reporter, |reporter| {
        let tree = open_tree(operator, "", sources.git.as_ref(), "operator", reporter)?;
        let mut diags = Diagnostics::default();
        let platform_file = tree.shown(PLATFORM_FILE);
        // Argo CD's namespace, where the fleet's Application is (or the one it deploys
        // to); none when the fleet is checked by hand.
        let argocd = sources.argocd.as_ref().and_then(ArgoEnv::argocd_namespace);
        // Each check passes over the fields in error of the platform (`dropped`) and of
        // the allocation (`own`), as the merge's do.
        let check = |p: &Platform,
                     dropped: &Dropped,
                     a: &Allocation,
                     doc: &Doc,
                     own: &Dropped,
                     diags: &mut Diagnostics| {
            let top = |field: &str| yaml::Path::root().key(field);
            if !own.covers(&top("quota")) {
                merge::sizes::check_allocation(p, a, doc, diags);
            }
            merge::sizes::check_sizes(p, &platform_file, dropped, a, doc, own, diags);
            if !own.covers(&top("namespace")) {
                merge::check_namespace(p, a, doc, diags, argocd);
            }
            merge::check_init_allocation(a, doc, diags);
            let database_dropped = dropped.covers(&top("database"));
            merge::database::check_restore(p, database_dropped, a, doc, own, diags);
            // Which clusters a platform with `clusters` in error declares is unknown.
            if !dropped.covers(&top("clusters")) && !own.covers(&top("cluster")) {
                check_cluster(p, &platform_file, a, doc, diags);
            }
        };
        let check_platform = |p: &Platform, doc: &Doc, diags: &mut Diagnostics| {
            for problem in merge::platform_problems(p) {
                diags.push(problem.of(doc));
            }
            // The namespace the operator declares is the one the checks above and
            // operator CI took for Argo CD's: a fleet elsewhere would protect another.
            if let (Some(running), Some(declared)) = (argocd, p.argocd_namespace())
                && running != declared
            {
                let at = yaml::Path::root().key("argocd").key("namespace");
                diags.push(
                    doc.value_error(
                        Code::BadValue,
                        &at,
                        format!(
                            "the fleet runs in Argo CD's namespace `{running}`, not `{declared}`"
                        ),
                    )
                    .hint("set argocd.namespace to the namespace Argo CD runs in"),
                );
            }
        };
        let (platform, members) =
            OperatorRepo::new(&tree).fleet(keep, &check_platform, &check, &mut diags);
        trusted(&tree)?;
        Ok((platform, members, diags))
    })
}

/// The app's path in its repo, in Argo CD mode when it is not the repo's root.
fn argocd_app_path(sources: &Sources) -> Option<String> {
    let path = normalize_path(sources.argocd.as_ref()?.source_path.as_deref()?);
    (!path.is_empty()).then_some(path)
}

/// Opens an input as a tree: a directory as it is, a git source through the cache at
/// `subdir` of its commit. Network work and the commit used are reported as progress.
pub fn open_tree(
    loc: &Location,
    subdir: &str,
    git: Option<&GitSettings>,
    role: &str,
    reporter: &mut Reporter<'_>,
) -> Result<Tree, Error> {
    match loc {
        Location::Dir(dir) => DirTree::open(dir)
            .map(Tree::Dir)
            .map_err(|source| Error::Open {
                action: "open",
                path: dir.display().to_string(),
                source,
            }),
        Location::Git(spec) => {
            let settings = git.ok_or(SourcesError::NoGitSettings)?.clone();
            let checkout = Cache::new(settings).open(spec, &mut |line: &str| {
                // Progress is best effort: a closed stderr must not fail a fetch.
                let _ = reporter.progress(role, line);
            })?;
            let tree = GitTree::open(checkout, subdir)?;
            reporter
                .progress(role, &tree.checkout().describe())
                .map_err(Error::Stderr)?;
            Ok(Tree::Git(Box::new(tree)))
        }
        Location::Revision { dir, rev, resolved } => {
            // The directory as it was at `rev`, wherever it sits in its repository.
            let (checkout, inside) = crate::git::open_local(dir, rev, resolved)?;
            let tree = GitTree::open(checkout, &inside)?.at_revision(rev);
            reporter
                .progress(role, &tree.checkout().describe())
                .map_err(Error::Stderr)?;
            Ok(Tree::Git(Box::new(tree)))
        }
        Location::Memory(tree) => Ok(Tree::Memory(tree.clone())),
    }
}

/// Every identity of every file, or `None` when no file was given.
pub fn load_identities(files: &[PathBuf]) -> Result<Option<Vec<age::x25519::Identity>>, Error> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for f in files {
        all.extend(crate::crypto::read_identities(f)?);
    }
    Ok(Some(all))
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
    sources: &Sources,
    reporter: &mut Reporter<'_>,
    mut work: impl FnMut(&mut Reporter<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    match work(reporter) {
        Err(Error::Git(GitError::Corrupt { url, message })) if sources.git.is_some() => {
            reporter
                .note(&format!(
                    "the cache of {url} is corrupt ({message}); rebuilding it"
                ))
                .map_err(Error::Stderr)?;
            if let Some(settings) = &sources.git {
                Cache::new(settings.clone()).purge(&url)?;
            }
            work(reporter)
        }
        other => other,
    }
}

/// In Argo CD: the Application must deploy the repo, path and namespace its allocation
/// names, or a customer could point their Application at another repo and still get
/// this app's identity, secrets and resources.
fn check_application(env: &ArgoEnv, allocation: &Allocation, shown: &str) -> Result<(), ArgoError> {
    let Some(url) = &env.source_repo_url else {
        return Err(ArgoError::Missing("ARGOCD_APP_SOURCE_REPO_URL"));
    };
    if !same_repo(url, &allocation.repo) {
        return Err(ArgoError::OtherRepo {
            app: env.app_name.clone(),
            url: url.clone(),
            allocation: shown.to_owned(),
            wanted: allocation.repo.clone(),
        });
    }
    // The objects carry the allocation's namespace; an Application aimed elsewhere (or
    // nowhere in particular) is someone else's, and must not get this app's Secrets
    // rendered for it.
    let Some(ns) = &env.destination_namespace else {
        return Err(ArgoError::NoDestinationNamespace {
            app: env.app_name.clone(),
            allocation: shown.to_owned(),
            wanted: allocation.namespace.clone(),
        });
    };
    if *ns != allocation.namespace {
        return Err(ArgoError::OtherNamespace {
            app: env.app_name.clone(),
            namespace: ns.clone(),
            allocation: shown.to_owned(),
            wanted: allocation.namespace.clone(),
        });
    }
    // The fleet's AppProject `<tenant>-<app>` admits only the allocation's repo and
    // destination, checked by Argo CD itself: in any other project, only the checks
    // here stand between an Application and this app's identity.
    if let Some(project) = &env.project
        && *project != env.app_name
    {
        return Err(ArgoError::OtherProject {
            app: env.app_name.clone(),
            project: project.clone(),
            allocation: shown.to_owned(),
            wanted: env.app_name.clone(),
        });
    }
    let wanted = normalize_path(allocation.path.as_deref().unwrap_or(""));
    if let Some(path) = &env.source_path
        && normalize_path(path) != wanted
    {
        return Err(ArgoError::OtherPath {
            app: env.app_name.clone(),
            path: path.clone(),
            allocation: shown.to_owned(),
            wanted: if wanted.is_empty() {
                ".".to_owned()
            } else {
                wanted
            },
        });
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
        diags.push(
            Diagnostic::at(
                Code::Internal,
                &app_doc.file,
                Pos::START,
                format!(
                    "the merged app breaks its schema at {}: {}",
                    d.field, d.message
                ),
            )
            .hint("this is a bug in dovetail; please report it"),
        );
    }
}

/// The inputs of `sources` with every local directory whose git repository knows `rev`
/// read at `rev` instead (`dovetail diff`); `None` when none does.
pub fn at_revision(sources: &Sources, rev: &str) -> Result<Option<Sources>, GitError> {
    let mut out = sources.clone();
    let mut found = false;
    for loc in std::iter::once(&mut out.app).chain(out.operator.as_mut()) {
        if let Location::Dir(dir) = loc
            && let Some(resolved) = crate::git::resolve_revision(dir, rev)?
        {
            *loc = Location::Revision {
                dir: dir.clone(),
                rev: rev.to_owned(),
                resolved: Box::new(resolved),
            };
            found = true;
        }
    }
    Ok(found.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::Rev;

    #[test]
    fn locations_tell_directories_from_urls() {
        assert_eq!(
            Location::parse("examples/django/app").unwrap(),
            Location::Dir("examples/django/app".into())
        );
        assert_eq!(
            Location::parse("./a:b").unwrap(),
            Location::Dir("./a:b".into())
        );
        let Location::Git(spec) =
            Location::parse("https://git.example.com/acme/shop.git#main").unwrap()
        else {
            panic!("not git")
        };
        assert_eq!(spec.url, "https://git.example.com/acme/shop.git");
        assert_eq!(spec.rev, Rev::Named("main".into()));
        assert!(matches!(
            Location::parse("https://user:hunter2@git.example.com/x.git"),
            Err(LocationError::PasswordInUrl)
        ));
    }
}
