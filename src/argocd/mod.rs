//! Argo CD plugin mode (`dovetail generate`): what Argo CD's environment says, and the
//! checks that keep a customer from steering the render through it.
//!
//! Argo CD runs the plugin in the app path of a fresh copy of the customer repo with the
//! Application's name, repo URL and revision in `ARGOCD_APP_*` and its plugin parameters in
//! `PARAM_*`. The operator repo, the age identity, git credentials and the cache come
//! from the sidecar's own environment (`DOVETAIL_*`), which no Application can set: an
//! Application's plugin env arrives prefixed as `ARGOCD_ENV_*`.

use std::path::Path;

use crate::input::model::Platform;

/// The plugin's name as `plugin.yaml` declares it and child Applications select it.
pub const PLUGIN_NAME: &str = "dovetail";

/// The parameter that pins the operator repo's revision.
pub const OPERATOR_REVISION_PARAM: &str = "operator-revision";

/// Argo CD's namespace when its environment does not say (its install's default).
pub const DEFAULT_NAMESPACE: &str = "argocd";

/// The in-cluster API server, where fleet Applications deploy.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

/// Argo CD's name for its own cluster: an allocation without `cluster` runs there, and
/// the fleet's own Application renders its guardrails.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// The parameter that narrows the fleet to one cluster's guardrails (`PARAM_CLUSTER`).
pub const CLUSTER_PARAM: &str = "cluster";

/// The fleet Application (and its AppProject) for a cluster besides in-cluster:
/// `dovetail-fleet-<cluster>`. The name binds the `cluster` parameter: only the
/// Application of this name may render that cluster's guardrails.
pub fn cluster_fleet_name(cluster: &str) -> String {
    format!("dovetail-fleet-{cluster}")
}

/// The cluster an allocation's `cluster` names, when it is not in-cluster (the fleet
/// reaches it through its own fleet Application).
pub fn remote_cluster(cluster: Option<&str>) -> Option<&str> {
    cluster.filter(|c| *c != IN_CLUSTER_NAME)
}

/// The API server of the cluster an allocation's `cluster` names: in-cluster's when it
/// names none (or in-cluster), else the platform's `clusters.<name>.server`; `None` for
/// a name the platform does not declare.
pub fn cluster_server<'p>(platform: &'p Platform, cluster: Option<&str>) -> Option<&'p str> {
    match remote_cluster(cluster) {
        None => Some(IN_CLUSTER),
        Some(name) => platform.clusters.get(name).map(|c| c.server.as_str()),
    }
}

/// The clusters besides in-cluster that `platform.yaml` declares, for messages: `eu-2,
/// us-1`, or `none`.
pub fn declared_clusters(platform: &Platform) -> String {
    let names: Vec<&str> = platform
        .clusters
        .keys()
        .map(String::as_str)
        .filter(|c| *c != IN_CLUSTER_NAME)
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// What ArgoCD tells the plugin about the Application being rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoEnv {
    /// The Application's name, without the `<namespace>_` prefix ArgoCD adds for
    /// Applications outside its own namespace.
    pub app_name: String,
    /// The namespace of the Application, when ArgoCD named it (`<namespace>_<name>`).
    pub app_object_namespace: Option<String>,
    /// The destination namespace (`ARGOCD_APP_NAMESPACE`).
    pub destination_namespace: Option<String>,
    /// The Application's AppProject (`ARGOCD_APP_PROJECT_NAME`, which Argo CD versions
    /// before 2.11 do not send).
    pub project: Option<String>,
    /// The repo ArgoCD fetched (`ARGOCD_APP_SOURCE_REPO_URL`).
    pub source_repo_url: Option<String>,
    /// The path inside it (`ARGOCD_APP_SOURCE_PATH`).
    pub source_path: Option<String>,
    /// The commit being rendered (`ARGOCD_APP_REVISION`).
    pub revision: Option<String>,
    /// `PARAM_OPERATOR_REVISION`: the operator repo's revision to render with.
    pub operator_revision: Option<String>,
    /// `PARAM_CLUSTER`: in fleet mode, render only the guardrails of this cluster's
    /// allocations (the Application `dovetail-fleet-<cluster>` the fleet made for it).
    pub cluster: Option<String>,
}

/// Something in Argo CD's environment, or in what an Application asks for, that cannot
/// be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    /// Not run by Argo CD, or by one that does not set the variable.
    #[error("{0} is not set: `dovetail generate` runs as an Argo CD plugin")]
    Missing(&'static str),
    /// A value that cannot be what Argo CD sends.
    #[error("{var} `{}` {problem}", crate::diag::escaped(value))]
    Bad {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The sidecar does not name the operator repo.
    #[error("DOVETAIL_OPERATOR_REPO is not set in the sidecar")]
    NoOperatorRepo,
    /// The sidecar names the operator repo by a relative directory, which the plugin,
    /// running in the Application's source, would read from the customer's checkout.
    #[error(
        "DOVETAIL_OPERATOR_REPO `{}` is a relative directory: the plugin runs in the Application's source, so it would be read from there",
        crate::diag::escaped(.0)
    )]
    RelativeOperatorRepo(String),
    /// `PARAM_OPERATOR_REVISION` with an operator repo that is a directory.
    #[error(
        "PARAM_OPERATOR_REVISION pins a git revision, but DOVETAIL_OPERATOR_REPO is a directory"
    )]
    PinnedDirectory,
    /// The customer repo commits files that change the Application's parameters.
    #[error(
        "refusing to render: `{}` in the app path would let the repo change the Application's plugin parameters and env, which only the operator sets",
        .0.join("`, `")
    )]
    OverrideFiles(Vec<String>),
    /// The app path has no `dovetail.yaml` (and the Application is not the fleet's).
    #[error("`{0}` holds no dovetail.yaml")]
    NoApp(String),
    /// The app path is, or is inside, another repository's checkout (a submodule).
    #[error(
        "refusing to render: `{0}` in the customer repo is a git repository of its own (a submodule), whose files are not the customer repo's"
    )]
    NestedRepository(String),
    /// The app path leads out of the checkout (through a link), or not to where the
    /// plugin runs.
    #[error(
        "refusing to render: the app path `{}` does not lead from the customer repo's checkout to the directory the plugin runs in",
        crate::diag::escaped(.0)
    )]
    AppPathOutside(String),
    /// The Application deploys another repo than its allocation names.
    #[error(
        "Application `{app}` deploys {}, but its allocation {allocation} names {wanted}",
        crate::diag::escaped(url)
    )]
    OtherRepo {
        /// The Application.
        app: String,
        /// What it deploys.
        url: String,
        /// The allocation file.
        allocation: String,
        /// What the allocation names.
        wanted: String,
    },
    /// The Application deploys another path of its repo than its allocation names.
    #[error(
        "Application `{app}` deploys path `{}` of its repo, but its allocation {allocation} names `{wanted}`",
        crate::diag::escaped(path)
    )]
    OtherPath {
        /// The Application.
        app: String,
        /// What it deploys.
        path: String,
        /// The allocation file.
        allocation: String,
        /// What the allocation names.
        wanted: String,
    },
    /// The Application deploys to another namespace than its allocation gives.
    #[error(
        "Application `{app}` deploys to namespace `{}`, but its allocation {allocation} gives it `{wanted}`",
        crate::diag::escaped(namespace)
    )]
    OtherNamespace {
        /// The Application.
        app: String,
        /// Its destination.
        namespace: String,
        /// The allocation file.
        allocation: String,
        /// The allocation's namespace.
        wanted: String,
    },
    /// The Application names no destination namespace.
    #[error(
        "Application `{app}` names no destination namespace (ARGOCD_APP_NAMESPACE is empty); its allocation {allocation} gives it `{wanted}`"
    )]
    NoDestinationNamespace {
        /// The Application.
        app: String,
        /// The allocation file.
        allocation: String,
        /// The allocation's namespace.
        wanted: String,
    },
    /// The Application is in another AppProject than the one the fleet made for the app,
    /// which is what confines it to the allocation's repo and destination.
    #[error(
        "Application `{app}` is in project `{}`, but the fleet puts its allocation {allocation} in project `{wanted}`",
        crate::diag::escaped(project)
    )]
    OtherProject {
        /// The Application.
        app: String,
        /// Its project.
        project: String,
        /// The allocation file.
        allocation: String,
        /// The project the fleet makes for it.
        wanted: String,
    },
    /// The fleet Application deploys a path of the operator repo, not its root.
    #[error(
        "the fleet Application deploys path `{}` of the operator repo, not its root",
        crate::diag::escaped(.0)
    )]
    FleetPath(String),
    /// Fleet mode given a revision other than a full commit id: every child would be
    /// pinned to it, and refuse it.
    #[error(
        "ARGOCD_APP_REVISION `{}` is not a full commit id (40 hexadecimal digits), which the fleet pins every app's render to",
        crate::diag::escaped(.0)
    )]
    FleetRevision(String),
    /// `PARAM_CLUSTER` names no cluster besides in-cluster that the platform declares.
    #[error(
        "PARAM_CLUSTER `{}` is not a cluster of the operator repo's platform.yaml (it declares: {declared})",
        crate::diag::escaped(cluster)
    )]
    UnknownCluster {
        /// The parameter's value.
        cluster: String,
        /// The clusters the platform declares, for the message.
        declared: String,
    },
    /// An Application other than the cluster's own fleet Application asks for a
    /// cluster's guardrails.
    #[error(
        "Application `{app}` asks for the guardrails of cluster `{cluster}` (PARAM_CLUSTER), which only the fleet's Application `dovetail-fleet-{cluster}` renders"
    )]
    ClusterOfAnotherApplication {
        /// The Application.
        app: String,
        /// The parameter's value.
        cluster: String,
    },
    /// A cluster's fleet Application without its `cluster` parameter would render the
    /// whole fleet into that cluster.
    #[error(
        "Application `{app}` is the fleet's Application for cluster `{cluster}`, but has no cluster parameter (PARAM_CLUSTER)"
    )]
    ClusterParameterMissing {
        /// The Application.
        app: String,
        /// The cluster its name is for.
        cluster: String,
    },
    /// No allocation runs on the cluster whose guardrails were asked for.
    #[error("no allocation runs on cluster `{0}`: its fleet would render nothing")]
    NothingOnCluster(String),
    /// The app has secrets to decrypt at render time and the sidecar has no key.
    #[error(
        "the app has secrets but the sidecar has no identity (DOVETAIL_IDENTITY); refusing to deploy redacted Secrets"
    )]
    Redacted,
}

impl ArgoError {
    /// Whether the customer repo must change (exit status 1), rather than the sidecar's
    /// or the Application's settings (2).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            ArgoError::OverrideFiles(_)
                | ArgoError::NoApp(_)
                | ArgoError::NestedRepository(_)
                | ArgoError::AppPathOutside(_)
        )
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ArgoError::Missing(_) | ArgoError::Bad { .. } => {
                "run it from Argo CD (plugin.yaml); by hand, use `dovetail render`"
            }
            ArgoError::NoOperatorRepo => {
                "give it the operator repo's git URL in the sidecar's env, as deploy/ does"
            }
            ArgoError::PinnedDirectory => "name the operator repo by its git URL",
            ArgoError::RelativeOperatorRepo(_) => {
                "set DOVETAIL_OPERATOR_REPO in the sidecar to the operator repo's git URL (by hand, an absolute directory)"
            }
            ArgoError::OverrideFiles(_) => "remove them from the repo",
            ArgoError::NestedRepository(_) => {
                "commit the app's files in the customer repo itself; dovetail does not follow submodules"
            }
            ArgoError::AppPathOutside(_) => {
                "point the Application's path at a directory of the customer repo, not at a link out of it"
            }
            ArgoError::NoApp(_) => {
                "check the Application's path: it deploys a customer app's directory (or, from the operator repo DOVETAIL_OPERATOR_REPO names, the fleet)"
            }
            ArgoError::OtherRepo { .. }
            | ArgoError::OtherPath { .. }
            | ArgoError::OtherNamespace { .. } => {
                "only the repo, path and namespace the allocation names may be deployed as this app"
            }
            ArgoError::NoDestinationNamespace { .. } => {
                "set the Application's spec.destination.namespace to the allocation's namespace (the fleet's Applications do)"
            }
            ArgoError::OtherProject { .. } => {
                "deploy the app through the Application the fleet makes for it, in its own project"
            }
            ArgoError::FleetPath(_) => "deploy the operator repo's root (path `.`)",
            ArgoError::FleetRevision(_) => {
                "Argo CD sends the commit it resolved; by hand, give a full commit id (in a git checkout of the operator repo, $(git rev-parse HEAD))"
            }
            ArgoError::UnknownCluster { .. } | ArgoError::ClusterOfAnotherApplication { .. } => {
                "leave the parameter to the fleet: it gives each cluster of platform.yaml `clusters` that allocations use an Application dovetail-fleet-<name> with `cluster: <name>`, and its own Application has none"
            }
            ArgoError::ClusterParameterMissing { .. } => {
                "the fleet's own Application sets it: sync that one, and leave dovetail-fleet-<name> to it"
            }
            ArgoError::NothingOnCluster(_) => {
                "sync the fleet's own Application: it removes dovetail-fleet-<name> once no allocation names the cluster"
            }
            ArgoError::Redacted => {
                "give the sidecar the platform's identity, or use secrets.decryption: cluster"
            }
        }
    }
}

impl ArgoEnv {
    /// Argo CD's namespace as this Application shows it: the one the Application object
    /// is in (`<namespace>_<name>`), else the one it deploys to (the fleet's Application
    /// deploys into Argo CD's own); `None` when neither is set.
    pub fn argocd_namespace(&self) -> Option<&str> {
        self.app_object_namespace
            .as_deref()
            .or(self.destination_namespace.as_deref())
    }

    /// Reads the variables through `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<ArgoEnv, ArgoError> {
        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        let full = nonempty("ARGOCD_APP_NAME").ok_or(ArgoError::Missing("ARGOCD_APP_NAME"))?;
        // Applications outside ArgoCD's namespace are named `<namespace>_<name>`; `_` is in
        // neither a namespace nor an Application name, so the split is unambiguous.
        let (app_object_namespace, app_name) = match full.split_once('_') {
            Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
            None => (None, full.clone()),
        };
        let label = |s: &str| crate::input::formats::dns_subdomain(s) && s.len() <= 253;
        if !label(&app_name) || app_object_namespace.as_deref().is_some_and(|n| !label(n)) {
            return Err(ArgoError::Bad {
                var: "ARGOCD_APP_NAME",
                value: full,
                problem: "is not an Application name (`<name>` or `<namespace>_<name>`)",
            });
        }
        let operator_revision = nonempty("PARAM_OPERATOR_REVISION");
        // Only a full commit id, which is all the fleet sets: Argo CD keys its manifest
        // cache on the parameter's text, so a branch name would keep serving what the
        // branch held when it was first rendered.
        if let Some(r) = &operator_revision
            && !matches!(crate::git::Rev::parse(r), Ok(crate::git::Rev::Commit(_)))
        {
            return Err(ArgoError::Bad {
                var: "PARAM_OPERATOR_REVISION",
                value: r.clone(),
                problem: "is not a full commit id (40 hexadecimal digits), which is all the fleet sets it to",
            });
        }
        let cluster = nonempty("PARAM_CLUSTER");
        if let Some(c) = &cluster
            && !crate::input::formats::dns_label(c)
        {
            return Err(ArgoError::Bad {
                var: "PARAM_CLUSTER",
                value: c.clone(),
                problem: "is not a cluster name (lowercase letters, digits and '-')",
            });
        }
        Ok(ArgoEnv {
            app_name,
            app_object_namespace,
            destination_namespace: nonempty("ARGOCD_APP_NAMESPACE"),
            project: nonempty("ARGOCD_APP_PROJECT_NAME"),
            source_repo_url: nonempty("ARGOCD_APP_SOURCE_REPO_URL"),
            // ArgoCD sends the variable even when the path is empty (the repo root), and
            // that is a path to check like any other.
            source_path: get("ARGOCD_APP_SOURCE_PATH"),
            revision: nonempty("ARGOCD_APP_REVISION"),
            operator_revision,
            cluster,
        })
    }
}

/// Whether two repo URLs name one repository, as [`normalize_repo_url`] spells them;
/// never for a URL it does not take.
pub fn same_repo(a: &str, b: &str) -> bool {
    match (normalize_repo_url(a), normalize_repo_url(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A repo URL reduced to `transport:host[:port]/path`, so that the spellings of one
/// repository compare equal: https or ssh (both authenticated, so one class), `user@host:
/// path`, with or without `.git`, a trailing `/` or a default port, the host in any case.
/// The path keeps its case (servers differ on whether it matters), and plain `http` and
/// `git` stay their own: an Application fetching over them is not the allocation's
/// https repo.
///
/// `None` for what Git and Argo CD would not read as this text reads: a `?`, `#` or `\`,
/// whitespace or a control character (`https://evil.example?@git.example.com/a/b` is
/// fetched from `evil.example`), or an authority that is not `[user@]host[:port]`.
pub fn normalize_repo_url(url: &str) -> Option<String> {
    if url
        .chars()
        .any(|c| matches!(c, '?' | '#' | '\\') || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => match url.split_once(':') {
            // user@host:path
            Some((authority, path)) if !authority.contains('/') => {
                return join_host_path(authority, "ssh", path);
            }
            _ => (String::new(), url),
        },
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    join_host_path(authority, &scheme, path)
}

fn join_host_path(authority: &str, scheme: &str, path: &str) -> Option<String> {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (class, default_port) = match scheme {
        "https" => ("secure", Some("443")),
        "ssh" | "git+ssh" | "ssh+git" => ("secure", Some("22")),
        "http" => ("http", Some("80")),
        "git" => ("git", Some("9418")),
        "file" | "" => ("local", None),
        other => (other, None),
    };
    let host = match host.rsplit_once(':') {
        Some((h, p)) if Some(p) == default_port => h,
        _ => host,
    };
    // `[v6]:port`, `name:port`, or either without a port.
    let (name, is_v6, port) = match host.strip_prefix('[') {
        Some(bracketed) => {
            let (v6, rest) = bracketed.split_once(']')?;
            let port = match rest {
                "" => None,
                _ => Some(rest.strip_prefix(':')?),
            };
            (v6, true, port)
        }
        None => match host.rsplit_once(':') {
            Some((h, p)) => (h, false, Some(p)),
            None => (host, false, None),
        },
    };
    let name_ok = if is_v6 {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_hexdigit() || c == ':')
    } else {
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if !name_ok || !port_ok {
        return None;
    }
    let mut path = path.trim_matches('/');
    path = path.strip_suffix(".git").unwrap_or(path);
    Some(format!("{class}:{}/{path}", host.to_ascii_lowercase()))
}

/// A path inside a repo, as ArgoCD and allocations may spell it (`.`, `./deploy`,
/// `deploy/`), reduced to its segments.
pub fn normalize_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Checks that the app path `cwd` is a directory of the customer repo itself: no
/// directory between it and the root of the checkout (`source_path` above it) holds a
/// `.git` of its own. Such a directory is a submodule, which Argo CD checks out with the
/// parent repo's credentials, so a customer could point it at another repo on the same
/// host. Inside the app path, the tree's reads refuse such directories; this covers the
/// path itself.
///
/// The working directory is where links lead (`deploy -> sub/app` puts it in `sub/app`),
/// so the root is not found by counting `source_path`'s segments up from it: it is the
/// highest directory above from which `source_path` leads to the working directory.
/// Only the operator's file system is above the checkout, so a customer's links cannot
/// make a lower one pass for it.
pub fn check_app_path(cwd: &Path, source_path: Option<&str>) -> Result<(), ArgoError> {
    let given = source_path.unwrap_or_default();
    let path = normalize_path(given);
    if path.is_empty() {
        return Ok(());
    }
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let leads_here = |dir: &Path| dir.join(&path).canonicalize().is_ok_and(|p| p == cwd);
    let ancestors: Vec<&Path> = cwd.ancestors().skip(1).collect();
    let Some(root) = ancestors.into_iter().rev().find(|dir| leads_here(dir)) else {
        // As Argo CD gives it: `/abs` shown as `abs` is not what the Application says.
        return Err(ArgoError::AppPathOutside(given.to_owned()));
    };
    let nested = cwd
        .ancestors()
        .take_while(|dir| *dir != root)
        .find(|dir| std::fs::symlink_metadata(dir.join(".git")).is_ok());
    match nested {
        Some(dir) => Err(ArgoError::NestedRepository(
            dir.strip_prefix(root).unwrap_or(dir).display().to_string(),
        )),
        None => Ok(()),
    }
}

/// The `.argocd-source*.yaml` files in `dir`: a customer who commits one changes the
/// Application's plugin env and parameters behind the operator's back.
#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "Argo CD reads exactly `.argocd-source-<app>.yaml`, spelled so"
)]
pub fn override_files(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| {
                    n == ".argocd-source.yaml"
                        || (n.starts_with(".argocd-source-") && n.ends_with(".yaml"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_url_spellings_compare_equal() {
        let canonical = "https://git.example.com/acme/shop.git";
        for same in [
            "https://git.example.com/acme/shop",
            "https://git.example.com/acme/shop/",
            "https://git.example.com:443/acme/shop.git",
            "https://GIT.example.com/acme/shop.git",
            "https://user@git.example.com/acme/shop.git",
            "ssh://git@git.example.com/acme/shop.git",
            "ssh://git@git.example.com:22/acme/shop",
            "git@git.example.com:acme/shop.git",
            "git@git.example.com:/acme/shop",
        ] {
            assert!(same_repo(same, canonical), "{same}");
        }
        for other in [
            "https://git.example.com/acme/shop2.git",
            "https://git.example.com:8443/acme/shop.git",
            "https://evil.example.com/acme/shop.git",
            "https://git.example.com/acme/shop/sub",
            "https://git.example.com/Acme/Shop.git",
        ] {
            assert!(!same_repo(other, canonical), "{other}");
        }
    }

    /// Regression: the authority ended at the first `/` only, so a URL Git and Argo CD
    /// fetch from another host compared equal to the allocation's.
    #[test]
    fn repo_urls_that_fetch_from_elsewhere_never_compare_equal() {
        let canonical = "https://git.example.com/acme/shop.git";
        for other in [
            "https://evil.example.org?@git.example.com/acme/shop.git",
            "https://evil.example.org#@git.example.com/acme/shop.git",
            "https://evil.example.org\\@git.example.com/acme/shop.git",
            "https://evil.example.org @git.example.com/acme/shop.git",
            "https://git.example.com/acme/shop.git?ref=x",
            "https://git.example.com/acme/shop.git#main",
            "https://git.example.com:x/acme/shop.git",
            "https://[::1/acme/shop.git",
        ] {
            assert!(!same_repo(other, canonical), "{other}");
            assert!(!same_repo(other, other), "{other} is not taken at all");
        }
        for other_host in [
            "https://git.example.com@evil.example.org/acme/shop.git",
            "https://git.example.com%2F@evil.example.org/acme/shop.git",
        ] {
            assert!(!same_repo(other_host, canonical), "{other_host}");
        }
        // Unauthenticated transports are not the allocation's https or ssh repo.
        for downgraded in [
            "http://git.example.com/acme/shop.git",
            "git://git.example.com/acme/shop.git",
        ] {
            assert!(!same_repo(downgraded, canonical), "{downgraded}");
            assert!(same_repo(downgraded, downgraded), "{downgraded}");
        }
        assert!(same_repo("file:///srv/op", "/srv/op"));
        assert!(same_repo(
            "https://[::1]:8443/a/b",
            "https://[::1]:8443/a/b.git"
        ));
    }

    #[test]
    fn app_names_may_carry_their_namespace() {
        let env = |name: &'static str| {
            ArgoEnv::from_vars(move |k| (k == "ARGOCD_APP_NAME").then(|| name.to_owned()))
        };
        let e = env("acme-shop").unwrap();
        assert_eq!(
            (e.app_name.as_str(), e.app_object_namespace),
            ("acme-shop", None)
        );
        let e = env("tenants_acme-shop").unwrap();
        assert_eq!(e.app_name, "acme-shop");
        assert_eq!(e.app_object_namespace.as_deref(), Some("tenants"));
        assert!(env("acme/shop").is_err());
        assert!(matches!(
            ArgoEnv::from_vars(|_| None),
            Err(ArgoError::Missing("ARGOCD_APP_NAME"))
        ));
    }

    #[test]
    fn paths_compare_by_segments() {
        assert_eq!(normalize_path("./deploy/"), "deploy");
        assert_eq!(normalize_path("."), "");
        assert_eq!(normalize_path(""), "");
    }

    /// Regression: the path that leads nowhere was shown normalised, `/abs` as `abs`,
    /// which is not what the Application says.
    #[test]
    fn an_app_path_leading_elsewhere_is_shown_as_given() {
        let dir = tempfile::tempdir().unwrap();
        for given in ["/abs", "./deploy/"] {
            match check_app_path(dir.path(), Some(given)) {
                Err(ArgoError::AppPathOutside(shown)) => assert_eq!(shown, given),
                other => panic!("{given}: {other:?}"),
            }
        }
    }
}
