//! The operator's side: `platform.yaml` and `tenants/<tenant>/<app>.yaml`. The layout is
//! spelled out here and nowhere else: which file an app's allocation is, how an Argo CD
//! Application name or `--allocation` finds it, and how the fleet walks every one.

use std::collections::HashMap;

use crate::argocd::{
    IN_CLUSTER_NAME, cluster_fleet_name, cluster_server, declared_clusters, normalize_path,
    same_repo,
};
use crate::diag::{Code, Diagnostic, Diagnostics, Doc, Dropped};
use crate::input::doc::{parse_doc, read_doc, read_yaml_bytes, typed};
use crate::input::model::{Allocation, Identity, Platform};
use crate::input::ownership::Owners;
use crate::input::schema::SchemaKind;
use crate::input::tree::{ReadError, Tree};
use crate::input::yaml::{Path, Pos};

/// The platform's file, at the operator repo's root.
pub const PLATFORM_FILE: &str = "platform.yaml";

/// Longest tenant or app name: `<tenant>-<app>` must stay a valid object name with room
/// for suffixes.
pub const MAX_NAME: usize = 30;

/// How many allocations the fleet reads, checks and renders per round: enough to keep
/// every core busy, few enough that memory stays flat however large the fleet.
pub const FLEET_ROUND: usize = 1024;

/// Where the allocation of `<tenant>/<app>` lives in the operator repo.
pub fn allocation_path(tenant: &str, app: &str) -> String {
    format!("tenants/{tenant}/{app}.yaml")
}

/// Whether `e` only says the path is not there, or is not a directory (or file) of its
/// kind: what listing or reading allocations may meet without missing any.
fn is_absent(e: &ReadError) -> bool {
    match e {
        ReadError::NotFound(_) | ReadError::NotAFile(_) => true,
        ReadError::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
        ),
        _ => false,
    }
}

/// Whether `s` can name an app: a name as [`is_tenant_name`] that starts with a letter,
/// since the app's Services are named `<app>-<process>`, and a Service name must be a
/// DNS-1035 label on clusters before 1.36 (CloudNativePG asks the same of its Cluster).
pub fn is_app_name(s: &str) -> bool {
    is_tenant_name(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// Whether `s` can name a tenant: a name as [`is_name`], other than `dovetail` and
/// `dovetail-…`, which are the platform's: the fleet names its own objects so (the
/// Applications `dovetail-fleet` and `dovetail-fleet-<cluster>`, the NetworkPolicy
/// `dovetail-baseline` beside each app's), and an allocation of that name would render
/// objects that take theirs over.
pub fn is_tenant_name(s: &str) -> bool {
    is_name(s, MAX_NAME) && s != "dovetail" && !s.starts_with("dovetail-")
}

/// What [`is_tenant_name`] and [`is_app_name`] ask, for messages.
pub const NAME_RULE: &str = "tenant and app names must be lowercase letters, digits and '-', at most 30 characters, an app's starting with a letter, and neither `dovetail` nor `dovetail-…` (the platform's own names)";

/// Whether `s` is a DNS label short enough to name objects after.
pub fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An allocation's `cluster` must be in-cluster or one of the platform's `clusters`
/// (`platform_file` names the platform in the message): an app sent to a cluster Argo
/// CD does not know would never deploy, and one the fleet does not reach would have no
/// guardrails.
pub fn check_cluster(
    platform: &Platform,
    platform_file: &str,
    a: &Allocation,
    doc: &Doc,
    diags: &mut Diagnostics,
) {
    let Some(cluster) = a.cluster.as_deref() else {
        return;
    };
    if cluster_server(platform, Some(cluster)).is_some() {
        return;
    }
    let declared = declared_clusters(platform);
    let hint = if declared == "none" {
        format!(
            "declare it in {platform_file} `clusters` with its API server's URL, or leave `cluster` out ({IN_CLUSTER_NAME})"
        )
    } else {
        format!(
            "use one of: {IN_CLUSTER_NAME}, {declared}; or declare it in {platform_file} `clusters`"
        )
    };
    diags.push(
        doc.value_error(
            Code::UnknownCluster,
            &Path::root().key("cluster"),
            format!("no cluster `{cluster}` in {platform_file}"),
        )
        .hint(hint),
    );
}

/// The fleet's checks of one allocation on its own, given the platform and the fields
/// of `platform.yaml` in error (which a check must not blame on the allocation), then
/// the allocation, its document and its own fields in error: it is checked with the
/// rest, as the render checks it, and a check must not blame a field's absence on it.
pub type FleetCheck<'a> =
    dyn Fn(&Platform, &Dropped, &Allocation, &Doc, &Dropped, &mut Diagnostics) + Sync + 'a;

/// Why no single allocation could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum AllocationError {
    /// `--allocation TENANT/APP` names a file that is not there.
    #[error("no allocation `{0}` in the operator repo")]
    NotFound(String),
    /// No allocation makes the Application's name.
    #[error(
        "no allocation in the operator repo `{repo}` for Application `{name}` (tenants/<tenant>/<app>.yaml with <tenant>-<app> = {name})"
    )]
    NoneForApplication {
        /// The operator repo.
        repo: String,
        /// The Application.
        name: String,
    },
    /// Several allocations make the Application's name.
    #[error("Application `{name}` matches {} allocations ({})", files.len(), files.join(", "))]
    Ambiguous {
        /// The Application.
        name: String,
        /// The allocations.
        files: Vec<String>,
    },
    /// The operator repo holds no allocation at all.
    #[error("the operator repo `{0}` holds no allocation (tenants/<tenant>/<app>.yaml)")]
    Empty(String),
    /// Several allocations, and none named.
    #[error("the operator repo holds {0} allocations")]
    Several(usize),
    /// No allocation names the repo the app is checked out from, and there are several.
    #[error(
        "none of the operator repo's {count} allocations names the repo `{repo}` (the app's work tree's origin)"
    )]
    NoneForRepo {
        /// The app's repo, without credentials.
        repo: String,
        /// How many allocations there are.
        count: usize,
    },
    /// Allocations name the app's repo, but none at the app's path.
    #[error(
        "no allocation names `{repo}` at path `{path}`; {}",
        candidates.join(", ")
    )]
    OtherPaths {
        /// The app's repo, without credentials.
        repo: String,
        /// The app's path in it.
        path: String,
        /// The allocations of that repo, with their paths.
        candidates: Vec<String>,
    },
    /// Several allocations name the app's repo and path.
    #[error("{} allocations name `{repo}` at path `{path}`: {}", files.len(), files.join(", "))]
    SeveralForRepo {
        /// The app's repo, without credentials.
        repo: String,
        /// The app's path in it.
        path: String,
        /// The allocations.
        files: Vec<String>,
    },
    /// The only allocation has a name that cannot name objects.
    #[error("`{0}`: {NAME_RULE}")]
    BadName(String),
    /// A directory of allocations, or an allocation, cannot be read: which ones there
    /// are is not known.
    #[error("cannot read `{path}`: {reason}")]
    Unreadable {
        /// The directory or file, as messages name it.
        path: String,
        /// What the tree said.
        reason: String,
    },
}

impl AllocationError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            AllocationError::NotFound(_) => "check TENANT/APP against the operator repo's tenants/",
            AllocationError::NoneForApplication { .. } => {
                "the operator must allocate the app first (and the Application's name must be <tenant>-<app>)"
            }
            AllocationError::Ambiguous { .. } => "the operator must rename one of them",
            AllocationError::Empty(_) => {
                "add tenants/<tenant>/<app>.yaml, or point --operator at the right repo"
            }
            AllocationError::Several(_) => "pick one with --allocation TENANT/APP",
            AllocationError::NoneForRepo { .. } => {
                "pick one with --allocation TENANT/APP, or ask the operator to allocate this repo"
            }
            AllocationError::OtherPaths { .. } => {
                "run it on the directory the allocation names (--app), or pick one with --allocation TENANT/APP"
            }
            AllocationError::SeveralForRepo { .. } => {
                "pick one with --allocation TENANT/APP; the operator may give each its own path"
            }
            AllocationError::BadName(_) => "rename the tenant directory or the file",
            AllocationError::Unreadable { .. } => {
                "check the operator repo's permissions; tenants/ and its directories must be readable"
            }
        }
    }

    /// Whether the user can fix it on the command line (exit status 2 as usage).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            AllocationError::Several(_)
                | AllocationError::NotFound(_)
                | AllocationError::NoneForRepo { .. }
                | AllocationError::OtherPaths { .. }
                | AllocationError::SeveralForRepo { .. }
        )
    }
}

/// One allocation of the fleet.
#[derive(Debug, Clone)]
pub struct Member {
    /// `<tenant>/<app>`.
    pub identity: Identity,
    /// Its allocation.
    pub allocation: Allocation,
}

/// What listing `tenants/` found.
pub struct Listing {
    /// Every allocation as `(tenant, app)`, sorted; names not yet checked.
    pub found: Vec<(String, String)>,
    /// Files named like an allocation but for their extension (`tenants/acme/shop.yml`,
    /// `shop.YAML`), which are not read.
    pub misnamed: Vec<String>,
    /// Files and directories where no allocation is looked for (`tenants/shop.yaml`,
    /// `tenants/acme/shop/`), which are not read.
    pub misplaced: Vec<String>,
    /// The directories that could not be listed, with why.
    pub unreadable: Vec<(String, ReadError)>,
    /// Allocation files (`.yaml`, `.yml`) whose names are not UTF-8 (shown with U+FFFD
    /// for each bad byte), which cannot name an allocation.
    pub not_utf8: Vec<String>,
    /// Entries of `tenants/` whose names are not UTF-8: tenants, perhaps.
    pub maybe_not_utf8: Vec<String>,
}

/// The operator repo, read from a tree.
pub struct OperatorRepo<'t> {
    tree: &'t Tree,
}

impl<'t> OperatorRepo<'t> {
    /// The operator repo whose root is `tree`.
    pub fn new(tree: &'t Tree) -> Self {
        OperatorRepo { tree }
    }

    /// The tree it is read from.
    pub fn tree(&self) -> &'t Tree {
        self.tree
    }

    /// Every allocation as `(tenant, app)`, sorted (names not yet checked), and the
    /// directories under `tenants/` that could not be listed, with why. A missing
    /// `tenants/` holds no allocation, and a file beside the tenants' directories (a
    /// README) is none; any other failure means allocations may be missing, which the
    /// caller must not take for "none".
    pub fn allocations(&self) -> Listing {
        let mut found = Vec::new();
        let mut misnamed = Vec::new();
        let mut unreadable = Vec::new();
        let mut list = |dir: &str| match self.tree.list(dir) {
            Ok(names) => names,
            Err(e) => {
                if !is_absent(&e) {
                    unreadable.push((dir.to_owned(), e));
                }
                Vec::new()
            }
        };
        let mut not_utf8 = Vec::new();
        let mut maybe_not_utf8 = Vec::new();
        let mut misplaced = Vec::new();
        let is_yaml = |name: &str| {
            std::path::Path::new(name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
        };
        for tenant in list("tenants") {
            let dir = format!("tenants/{tenant}");
            // Listings replace bytes that are not UTF-8 with U+FFFD, which no name may
            // hold: such a directory cannot be read back by that name, nor named by one.
            // A YAML file is an allocation that cannot be read: an error. An entry of
            // `tenants/` cannot be looked at by its name: it may be a tenant or a stray
            // file, so it gets a warning.
            if tenant.contains(char::REPLACEMENT_CHARACTER) {
                maybe_not_utf8.push(dir);
                continue;
            }
            // An allocation written one level too high: no tenant's name has a dot.
            if is_yaml(&tenant) {
                misplaced.push(dir);
                continue;
            }
            for file in list(&dir) {
                let yaml = is_yaml(&file);
                if file.contains(char::REPLACEMENT_CHARACTER) {
                    if yaml {
                        not_utf8.push(format!("{dir}/{file}"));
                    }
                } else if let Some(app) = file.strip_suffix(".yaml") {
                    found.push((tenant.clone(), app.to_owned()));
                } else if yaml {
                    misnamed.push(format!("{dir}/{file}"));
                } else if self
                    .tree
                    .list(&format!("{dir}/{file}"))
                    .is_ok_and(|inside| inside.iter().any(|f| is_yaml(f)))
                {
                    // A directory of YAML files in a tenant's: allocations one level
                    // too deep (a directory without any is the operator's business).
                    misplaced.push(format!("{dir}/{file}"));
                }
            }
        }
        Listing {
            found,
            misnamed,
            misplaced,
            unreadable,
            not_utf8,
            maybe_not_utf8,
        }
    }

    /// [`OperatorRepo::allocations`], failing on the first directory that could not be
    /// listed.
    fn all_allocations(&self) -> Result<Vec<(String, String)>, AllocationError> {
        let Listing {
            found, unreadable, ..
        } = self.allocations();
        match unreadable.into_iter().next() {
            Some((dir, e)) => Err(self.unreadable(&dir, &e)),
            None => Ok(found),
        }
    }

    fn unreadable(&self, rel: &str, e: &ReadError) -> AllocationError {
        AllocationError::Unreadable {
            path: self.tree.shown(rel),
            reason: match e {
                ReadError::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            },
        }
    }

    /// Why the allocation file `rel`, which is not a readable file, cannot be read,
    /// when that is not simply its absence: a directory on its way may be unreadable.
    fn why_missing(&self, rel: &str) -> Option<AllocationError> {
        match self.tree.read(rel, 0) {
            Err(e) if !is_absent(&e) && !matches!(e, ReadError::TooLarge { .. }) => {
                Some(self.unreadable(rel, &e))
            }
            _ => None,
        }
    }

    /// The allocation whose `<tenant>-<app>` is Argo CD's Application name. Only the few
    /// ways of splitting the name at a `-` are looked up, never the whole `tenants/`
    /// tree: Argo CD runs this for every app on every refresh, whatever the size of the
    /// fleet. Every split is tried, so two allocations claiming one name are caught.
    pub fn for_application(&self, name: &str) -> Result<Identity, AllocationError> {
        let mut matches: Vec<Identity> = name
            .match_indices('-')
            .map(|(i, _)| (&name[..i], &name[i + 1..]))
            .filter(|(t, a)| is_tenant_name(t) && is_app_name(a))
            .filter(|(t, a)| self.tree.is_file(&allocation_path(t, a)))
            .map(|(t, a)| Identity {
                tenant: t.to_owned(),
                app: a.to_owned(),
            })
            .collect();
        // An allocation there whose name cannot name an app is its own problem, not a
        // missing allocation.
        if matches.is_empty()
            && let Some((t, a)) = name
                .match_indices('-')
                .map(|(i, _)| (&name[..i], &name[i + 1..]))
                .filter(|(t, a)| is_name(t, MAX_NAME) && is_name(a, MAX_NAME))
                .find(|(t, a)| self.tree.is_file(&allocation_path(t, a)))
        {
            return Err(AllocationError::BadName(
                self.tree.shown(&allocation_path(t, a)),
            ));
        }
        if matches.is_empty()
            && let Some(e) = name
                .match_indices('-')
                .map(|(i, _)| allocation_path(&name[..i], &name[i + 1..]))
                .find_map(|rel| self.why_missing(&rel))
        {
            return Err(e);
        }
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(AllocationError::NoneForApplication {
                repo: self.tree.describe(),
                name: name.to_owned(),
            }),
            _ => Err(AllocationError::Ambiguous {
                name: name.to_owned(),
                files: matches
                    .iter()
                    .map(|i| allocation_path(&i.tenant, &i.app))
                    .collect(),
            }),
        }
    }

    /// The allocation `--allocation TENANT/APP` names.
    pub fn named(&self, tenant: &str, app: &str) -> Result<Identity, AllocationError> {
        let rel = allocation_path(tenant, app);
        if !self.tree.is_file(&rel) {
            return Err(self
                .why_missing(&rel)
                .unwrap_or_else(|| AllocationError::NotFound(self.tree.shown(&rel))));
        }
        Ok(Identity {
            tenant: tenant.to_owned(),
            app: app.to_owned(),
        })
    }

    /// The only allocation there is.
    pub fn only(&self) -> Result<Identity, AllocationError> {
        let mut found = self.all_allocations()?;
        match found.len() {
            1 => {
                let (tenant, app) = found.remove(0);
                if !is_tenant_name(&tenant) || !is_app_name(&app) {
                    return Err(AllocationError::BadName(
                        self.tree.shown(&allocation_path(&tenant, &app)),
                    ));
                }
                Ok(Identity { tenant, app })
            }
            0 => Err(AllocationError::Empty(self.tree.describe())),
            n => Err(AllocationError::Several(n)),
        }
    }

    /// The allocation of the app checked out from `remote` at `path` inside it (CI's
    /// checkout of a customer repo, `--allocation` left out): the one whose `repo` and
    /// `path` are these, compared as Argo CD mode compares them. When no allocation
    /// names the repo at all, the repo's only allocation, as without a checkout. Every
    /// allocation is read: linear in the fleet, which CI can afford.
    pub fn for_checkout(&self, remote: &str, path: &str) -> Result<Identity, AllocationError> {
        let want_path = normalize_path(path);
        let mut in_repo: Vec<(Identity, String)> = Vec::new();
        for (tenant, app) in self.all_allocations()? {
            if !is_tenant_name(&tenant) || !is_app_name(&app) {
                continue;
            }
            let rel = allocation_path(&tenant, &app);
            // Another allocation's problems are not this app's: read what can be read.
            let mut ignored = Diagnostics::default();
            let Some(doc) = read_doc(self.tree, &rel, &self.tree.shown(&rel), &mut ignored) else {
                continue;
            };
            let field = |k: &str| {
                doc.root
                    .at(&Path::root().key(k))
                    .and_then(|n| n.scalar_text())
                    .map(str::to_owned)
            };
            if field("repo").is_some_and(|r| same_repo(&r, remote)) {
                let path = normalize_path(&field("path").unwrap_or_default());
                in_repo.push((Identity { tenant, app }, path));
            }
        }
        let shown_repo = crate::git::worktree::shown_url(remote);
        let shown_path = if want_path.is_empty() {
            ".".to_owned()
        } else {
            want_path.clone()
        };
        let mut exact: Vec<Identity> = in_repo
            .iter()
            .filter(|(_, p)| *p == want_path)
            .map(|(i, _)| i.clone())
            .collect();
        match (exact.len(), in_repo.is_empty()) {
            (1, _) => Ok(exact.remove(0)),
            (0, true) => self.only().map_err(|e| match e {
                AllocationError::Several(count) => AllocationError::NoneForRepo {
                    repo: shown_repo,
                    count,
                },
                other => other,
            }),
            (0, false) => Err(AllocationError::OtherPaths {
                repo: shown_repo,
                path: shown_path,
                candidates: in_repo
                    .iter()
                    .map(|(i, p)| {
                        format!(
                            "{} names path `{}`",
                            self.tree.shown(&allocation_path(&i.tenant, &i.app)),
                            if p.is_empty() { "." } else { p }
                        )
                    })
                    .collect(),
            }),
            _ => Err(AllocationError::SeveralForRepo {
                repo: shown_repo,
                path: shown_path,
                files: exact
                    .iter()
                    .map(|i| self.tree.shown(&allocation_path(&i.tenant, &i.app)))
                    .collect(),
            }),
        }
    }

    /// How messages name the operator's files, to say who owns a field.
    pub fn owners(&self, id: Option<&Identity>) -> Owners {
        Owners {
            allocation: id.map(|i| self.tree.shown(&allocation_path(&i.tenant, &i.app))),
            platform: self.tree.shown(PLATFORM_FILE),
        }
    }

    /// `platform.yaml`, read and typed (see [`typed`] for documents with errors).
    pub fn platform(&self, diags: &mut Diagnostics) -> Option<(Doc, Platform)> {
        let shown = self.tree.shown(PLATFORM_FILE);
        let doc = read_doc(self.tree, PLATFORM_FILE, &shown, diags)?;
        let platform = typed(SchemaKind::Platform, &doc, diags)?;
        Some((doc, platform))
    }

    /// The allocation of `id`, read and typed.
    pub fn allocation(&self, id: &Identity, diags: &mut Diagnostics) -> Option<(Doc, Allocation)> {
        let rel = allocation_path(&id.tenant, &id.app);
        let shown = self.tree.shown(&rel);
        let doc = read_doc(self.tree, &rel, &shown, diags)?;
        let allocation = typed(SchemaKind::Allocation, &doc, diags)?;
        Some((doc, allocation))
    }

    /// The platform (by `check_platform` too: what the merge finds wrong in it alone)
    /// and every allocation, checked one by one (by `check` too, with the platform and
    /// its fields in error: the merge's checks of an allocation on its own) and against
    /// each other
    /// (one namespace or one Application name claimed twice). Allocations are read in
    /// rounds of [`FLEET_ROUND`] and checked in parallel; only their typed form is kept,
    /// and only when `keep` asks for it (the fleet renders from it, `validate` does not).
    pub fn fleet(
        &self,
        keep: bool,
        check_platform: &dyn Fn(&Platform, &Doc, &mut Diagnostics),
        check: &FleetCheck<'_>,
        diags: &mut Diagnostics,
    ) -> (Option<Platform>, Vec<Member>) {
        let platform = self.platform(diags).map(|(doc, p)| {
            let dropped = diags.dropped_in(&doc.file);
            check_platform(&p, &doc, diags);
            (p, dropped)
        });
        let mut members = Vec::new();
        let mut namespaces: HashMap<String, String> = HashMap::new();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut domains = DomainClaims::default();
        // The fleet's Application for each cluster lives beside the apps' own, in Argo
        // CD's namespace: an app may not take its name.
        let platform_file = self.tree.shown(PLATFORM_FILE);
        for cluster in platform
            .iter()
            .flat_map(|(p, _)| p.clusters.keys())
            .filter(|c| *c != IN_CLUSTER_NAME)
        {
            names.insert(
                cluster_fleet_name(cluster),
                format!("the fleet's own, for cluster `{cluster}` of {platform_file}"),
            );
        }
        let Listing {
            found: all,
            misnamed,
            misplaced,
            unreadable,
            not_utf8,
            maybe_not_utf8,
        } = self.allocations();
        for rel in not_utf8 {
            diags.push(
                Diagnostic::at(
                    Code::AllocationName,
                    &self.tree.shown(&rel),
                    Pos::START,
                    format!(
                        "is not a UTF-8 name (shown with U+FFFD for each bad byte); {NAME_RULE}"
                    ),
                )
                .hint("rename it: it is not checked or rendered"),
            );
        }
        for rel in maybe_not_utf8 {
            diags.push(
                Diagnostic::at(
                    Code::AllocationName,
                    &self.tree.shown(&rel),
                    Pos::START,
                    "is not a UTF-8 name (shown with U+FFFD for each bad byte): if it is a tenant, none of its allocations is checked or rendered",
                )
                .hint("rename it, or remove it")
                .warning(),
            );
        }
        for rel in misnamed {
            let shown = self.tree.shown(&rel);
            diags.push(
                Diagnostic::at(
                    Code::Unreadable,
                    &shown,
                    Pos::START,
                    "is not read: allocations are named tenants/<tenant>/<app>.yaml",
                )
                .hint("rename it to .yaml")
                .warning(),
            );
        }
        for rel in misplaced {
            diags.push(
                Diagnostic::at(
                    Code::Unreadable,
                    &self.tree.shown(&rel),
                    Pos::START,
                    "is not read: allocations are files named tenants/<tenant>/<app>.yaml",
                )
                .hint("move each allocation to tenants/<tenant>/<app>.yaml, or remove it")
                .warning(),
            );
        }
        for (dir, e) in unreadable {
            let shown = self.tree.shown(&dir);
            diags.push(
                Diagnostic::at(Code::Unreadable, &shown, Pos::START, e.to_string()).hint(
                    "the allocations in it are not checked or rendered; check the operator repo's permissions",
                ),
            );
        }
        for round in all.chunks(FLEET_ROUND) {
            // Parsing and checking, the bulk of the work, run in parallel; so does reading
            // a directory (system calls, one file each). A git tree caches what it reads
            // in cells of its own and is read on this thread.
            let read: Vec<Unread> = match self.tree {
                Tree::Dir(dir) => crate::parallel::map(round, |(t, a)| {
                    let tree = Tree::Dir(dir.clone());
                    OperatorRepo::new(&tree).read_one(t, a)
                }),
                _ => round.iter().map(|(t, a)| self.read_one(t, a)).collect(),
            };
            let checked = crate::parallel::map(&read, |u| check_one(u, platform.as_ref(), check));
            drop(read);
            for c in checked {
                diags.extend(c.diags);
                // The Application's name is the file's, whatever it holds.
                if is_tenant_name(&c.tenant) && is_app_name(&c.app) {
                    let name = format!("{}-{}", c.tenant, c.app);
                    if let Some(first) = names.get(&name) {
                        diags.push(
                            Diagnostic::at(
                                Code::NameClaimedTwice,
                                &c.shown,
                                Pos::START,
                                format!("its Application name `{name}` is also {first}"),
                            )
                            .hint("rename the tenant or the app"),
                        );
                    } else {
                        names.insert(name, format!("{}'s", c.shown));
                    }
                }
                let Some((allocation, doc, in_error)) = c.allocation else {
                    continue;
                };
                let namespace_dropped = in_error
                    .as_ref()
                    .is_some_and(|d| d.covers(&Path::root().key("namespace")));
                match namespaces.get(&allocation.namespace) {
                    _ if namespace_dropped => {}
                    Some(first) => diags.push(
                        doc.value_error(
                            Code::NamespaceClaimedTwice,
                            &Path::root().key("namespace"),
                            format!("namespace `{}` is already {first}'s", allocation.namespace),
                        )
                        .hint("give each app its own namespace"),
                    ),
                    None => {
                        namespaces.insert(allocation.namespace.clone(), c.shown.clone());
                    }
                }
                // A `domains` entry in error left the whole list out.
                domains.claim(&c.tenant, &c.shown, &allocation, &doc, diags);
                if keep && in_error.is_none() {
                    members.push(Member {
                        identity: Identity {
                            tenant: c.tenant,
                            app: c.app,
                        },
                        allocation,
                    });
                }
            }
        }
        domains.check_wildcards(diags);
        (platform.map(|(p, _)| p), members)
    }

    fn read_one(&self, tenant: &str, app: &str) -> Unread {
        let rel = allocation_path(tenant, app);
        let shown = self.tree.shown(&rel);
        let mut diags = Diagnostics::default();
        let bytes = if is_tenant_name(tenant) && is_app_name(app) {
            read_yaml_bytes(self.tree, &rel, &shown, &mut diags)
        } else {
            diags.push(
                Diagnostic::at(
                    Code::AllocationName,
                    &shown,
                    Pos::START,
                    NAME_RULE.to_owned(),
                )
                .hint("rename the tenant directory or the file"),
            );
            None
        };
        Unread {
            tenant: tenant.to_owned(),
            app: app.to_owned(),
            shown,
            bytes,
            diags,
        }
    }
}

/// The hostnames the fleet's allocations let their apps use, by tenant: one tenant's
/// customer could otherwise claim another's host, and have a certificate issued for it.
/// A wildcard `*.p` covers one label under `p`. Kept small (the fleet streams): each
/// domain once, with where it was first listed.
#[derive(Default)]
struct DomainClaims {
    /// Each allocation that lists domains: its tenant and file.
    owners: Vec<(String, String)>,
    /// Each domain as written (`shop.acme.example`, `*.apps.example.net`), as first
    /// listed.
    by_domain: HashMap<String, Claim>,
    /// The first claims already reported: once each, however many allocations clash
    /// with one.
    reported: std::collections::HashSet<(usize, usize)>,
}

/// Where an allocation lists a domain: the allocation (an index into `owners`), the
/// index in its `domains` and the place in its file.
#[derive(Clone, Copy)]
struct Claim {
    owner: usize,
    index: usize,
    pos: Pos,
}

impl DomainClaims {
    /// Records `allocation`'s domains, refusing one another tenant listed already.
    fn claim(
        &mut self,
        tenant: &str,
        shown: &str,
        allocation: &Allocation,
        doc: &Doc,
        diags: &mut Diagnostics,
    ) {
        if allocation.domains.is_empty() {
            return;
        }
        let owner = self.owners.len();
        self.owners.push((tenant.to_owned(), shown.to_owned()));
        for (index, domain) in allocation.domains.iter().enumerate() {
            let here = Claim {
                owner,
                index,
                pos: doc.root.locate(&Path::root().key("domains").index(index)),
            };
            match self.by_domain.get(domain) {
                Some(first) if self.owners[first.owner].0 != tenant => {
                    let first = *first;
                    self.clash(domain, here, domain, first, diags);
                }
                Some(_) => {}
                None => {
                    self.by_domain.insert(domain.clone(), here);
                }
            }
        }
    }

    /// Once every allocation is in: an exact domain under another tenant's wildcard.
    fn check_wildcards(&mut self, diags: &mut Diagnostics) {
        let mut found = Vec::new();
        for (domain, claim) in &self.by_domain {
            if domain.starts_with("*.") {
                continue;
            }
            let Some((_, parent)) = domain.split_once('.') else {
                continue;
            };
            let wildcard = format!("*.{parent}");
            if let Some(w) = self.by_domain.get(&wildcard)
                && self.owners[w.owner].0 != self.owners[claim.owner].0
            {
                found.push((domain.clone(), *claim, wildcard, *w));
            }
        }
        // In the order of the files, whatever the map's.
        found.sort_by_key(|(_, c, _, _)| (c.owner, c.index));
        for (domain, claim, wildcard, w) in found {
            self.clash(&domain, claim, &wildcard, w, diags);
        }
    }

    /// The error at both claims (either allocation may be the one a change added), each
    /// claim reported once.
    fn clash(&mut self, a: &str, at_a: Claim, b: &str, at_b: Claim, diags: &mut Diagnostics) {
        for (domain, here, other_domain, other) in [(a, at_a, b, at_b), (b, at_b, a, at_a)] {
            if !self.reported.insert((here.owner, here.index)) {
                continue;
            }
            let (_, file) = &self.owners[here.owner];
            let (other_tenant, other_file) = &self.owners[other.owner];
            let message = format!(
                "`{domain}` overlaps `{other_domain}`, tenant `{other_tenant}`'s ({other_file}:{})",
                other.pos
            );
            diags.push(
                Diagnostic::at(Code::DomainClaimedTwice, file, here.pos, message)
                    .of_field(Path::root().key("domains").index(here.index))
                    .hint("give each tenant domains of its own"),
            );
        }
    }
}

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
    /// The typed allocation, with its document to point at its fields, and its fields
    /// in error when it has errors: then it was typed without them, and is checked
    /// against the others where they do not matter, but not rendered.
    allocation: Option<(Allocation, Doc, Option<Dropped>)>,
    diags: Diagnostics,
}

fn check_one(
    unread: &Unread,
    platform: Option<&(Platform, Dropped)>,
    check: &FleetCheck<'_>,
) -> Checked {
    let mut d = unread.diags.clone();
    let allocation = unread.bytes.clone().and_then(|b| {
        let doc = parse_doc(b, &unread.shown, &mut d)?;
        let allocation: Allocation = typed(SchemaKind::Allocation, &doc, &mut d)?;
        // An allocation in error is checked too, without its fields in error, so that
        // the operator's CI reports every problem in one run, as the render does.
        let dropped = d.dropped_in(&doc.file);
        if let Some((platform, platform_dropped)) = platform {
            check(
                platform,
                platform_dropped,
                &allocation,
                &doc,
                &dropped,
                &mut d,
            );
        }
        let in_error = d.has_errors_in(&doc.file).then_some(dropped);
        Some((allocation, doc, in_error))
    });
    Checked {
        tenant: unread.tenant.clone(),
        app: unread.app.clone(),
        shown: unread.shown.clone(),
        allocation,
        diags: d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_rule_states_the_length_allowed() {
        assert!(NAME_RULE.contains(&format!("at most {MAX_NAME} characters")));
        assert!(!is_tenant_name("dovetail") && !is_app_name("dovetail-baseline"));
        assert!(is_tenant_name("dovetailer") && is_app_name("shop") && !is_app_name("2shop"));
    }
}
