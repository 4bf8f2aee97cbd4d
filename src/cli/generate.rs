//! `dovetail generate`: Argo CD plugin mode. The mode comes from trusted input only: the
//! fleet is rendered when the Application's source is the operator repo the sidecar
//! itself names (`DOVETAIL_OPERATOR_REPO`), and read from there; every other
//! Application is an app, whatever files its repo holds.

use std::path::{Path, PathBuf};

use super::{Environment, Io, UsageError, merged_app};
use crate::Error;
use crate::argocd::{
    ArgoEnv, ArgoError, IN_CLUSTER_NAME, cluster_fleet_name, cluster_server, declared_clusters,
    normalize_path, remote_cluster, same_repo,
};
use crate::emit::output;
use crate::emit::report::{Format, Reporter};
use crate::git::Rev;
use crate::input::model::Platform;
use crate::input::operator::{FLEET_ROUND, Member};
use crate::merge::ResolvedSecrets;
use crate::pipeline::{self, Location, Sources};
use crate::render::fleet::{FleetTarget, write_cluster_fleet, write_member};

pub(super) fn run(io: Io<'_>) -> Result<(), Error> {
    let env = ArgoEnv::from_vars(|k| {
        if k == "ARGOCD_APP_SOURCE_PATH" {
            io.env.var_raw(k)
        } else {
            io.env.var(k)
        }
    })?;
    let cwd = io.env.cwd()?;
    let operator_text = io
        .env
        .var("DOVETAIL_OPERATOR_REPO")
        .ok_or(ArgoError::NoOperatorRepo)?;
    let operator = Location::parse(&operator_text).map_err(UsageError::from)?;
    if let Location::Dir(dir) = &operator
        && dir.is_relative()
    {
        return Err(ArgoError::RelativeOperatorRepo(operator_text).into());
    }
    if is_operator_source(&env, &operator, &cwd) {
        return fleet(env, operator, &operator_text, io);
    }
    // Absent, it is no app; there but not a regular file (a FIFO, a directory, a link,
    // dangling or out of the repo), the pipeline's read refuses it at its place and says
    // why. Links are not followed here: whether the sidecar has the file a link names
    // outside the checkout must not change the answer.
    let app_file = cwd.join(crate::input::app::APP_FILE);
    if std::fs::symlink_metadata(&app_file).is_err() {
        return Err(ArgoError::NoApp(cwd.display().to_string()).into());
    }
    app(env, operator, &cwd, io)
}

/// Whether Argo CD is rendering the operator repo itself: the Application's source repo is
/// the one the sidecar's own `DOVETAIL_OPERATOR_REPO` names (a directory there, for local
/// use, must be the working directory). Nothing a customer commits can make this true.
fn is_operator_source(env: &ArgoEnv, operator: &Location, cwd: &Path) -> bool {
    match operator {
        Location::Git(spec) => env
            .source_repo_url
            .as_deref()
            .is_some_and(|url| same_repo(url, &spec.url)),
        Location::Dir(dir) => match (std::fs::canonicalize(dir), std::fs::canonicalize(cwd)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        Location::Revision { .. } | Location::Memory(_) => false,
    }
}

/// Identity files from the sidecar's `DOVETAIL_IDENTITY` (paths separated by `:`).
fn identity_files(env: &Environment) -> Vec<PathBuf> {
    env.var_os("DOVETAIL_IDENTITY")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Renders the customer app in `cwd` for the Application Argo CD names.
fn app(env: ArgoEnv, mut operator: Location, cwd: &Path, io: Io<'_>) -> Result<(), Error> {
    let overrides = crate::argocd::override_files(cwd);
    if !overrides.is_empty() {
        return Err(ArgoError::OverrideFiles(overrides).into());
    }
    crate::argocd::check_app_path(cwd, env.source_path.as_deref())?;
    if let Some(rev) = &env.operator_revision {
        match &mut operator {
            Location::Git(spec) => spec.rev = Rev::parse(rev).map_err(UsageError::from)?,
            Location::Dir(_) | Location::Revision { .. } | Location::Memory(_) => {
                return Err(ArgoError::PinnedDirectory.into());
            }
        }
    }
    let git = match &operator {
        Location::Git(_) => Some(io.env.git_settings()?),
        Location::Dir(_) | Location::Revision { .. } | Location::Memory(_) => None,
    };
    let sources = Sources {
        // `.`, so that messages name files as the app path's own (`dovetail.yaml:3:1`).
        app: Location::Dir(PathBuf::from(".")),
        app_given: true,
        operator: Some(operator),
        git,
        allocation: None,
        identities: identity_files(io.env),
        argocd: Some(env),
    };
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (resolved, _) = merged_app(&sources, &mut reporter, None)?;
    if resolved
        .secrets
        .as_ref()
        .is_some_and(ResolvedSecrets::is_redacted)
    {
        return Err(ArgoError::Redacted.into());
    }
    let objects = crate::render::render(&resolved);
    if objects.is_empty() {
        return Err(Error::Empty);
    }
    let text = output::stream(&objects)?;
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
}

/// Renders the fleet's guardrails from the operator repo, read where the sidecar's
/// `DOVETAIL_OPERATOR_REPO` (`operator_text`) says: a git repo at the commit Argo CD
/// resolved (so the fleet is exactly the operator's, never a copy handed over), or the
/// working directory. With `PARAM_CLUSTER`, only the guardrails of that cluster's
/// allocations (see [`crate::render::fleet`]).
fn fleet(env: ArgoEnv, operator: Location, operator_text: &str, io: Io<'_>) -> Result<(), Error> {
    let revision = env
        .revision
        .clone()
        .ok_or(ArgoError::Missing("ARGOCD_APP_REVISION"))?;
    // Each child takes only a commit as its operator revision (see `ArgoEnv`): a branch
    // here would be written into every child, and refused there, app by app.
    let Ok(Rev::Commit(revision)) = Rev::parse(&revision) else {
        return Err(ArgoError::FleetRevision(revision).into());
    };
    if let Some(path) = env.source_path.as_deref()
        && !normalize_path(path).is_empty()
    {
        return Err(ArgoError::FleetPath(path.to_owned()).into());
    }
    let (operator, git) = match operator {
        Location::Git(mut spec) => {
            spec.rev = Rev::Commit(revision.clone());
            (Location::Git(spec), Some(io.env.git_settings()?))
        }
        // A local operator repo (for trying the fleet by hand): files are named by their
        // path in the repo, whose root the working directory is.
        _ => (Location::Dir(PathBuf::from(".")), None),
    };
    let running_in = env.argocd_namespace().map(str::to_owned);
    // Argo CD's own spelling of the operator repo, which its repository credentials
    // match; by hand (a directory), what DOVETAIL_OPERATOR_REPO says.
    let operator_repo = env
        .source_repo_url
        .clone()
        .unwrap_or_else(|| operator_text.to_owned());
    let cluster = env.cluster.clone();
    let app_name = env.app_name.clone();
    let sources = Sources {
        app: Location::Dir(PathBuf::from(".")),
        app_given: false,
        operator: Some(operator),
        git,
        allocation: None,
        identities: Vec::new(),
        argocd: Some(env),
    };
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (platform, members, diags) = pipeline::fleet(&sources, true, &mut reporter)?;
    reporter.diagnostics(&diags).map_err(Error::Stderr)?;
    let Some(platform) = platform.filter(|_| !diags.has_errors()) else {
        return Err(Error::Invalid {
            count: diags.error_count().max(1),
        });
    };
    if members.is_empty() {
        return Err(Error::Empty);
    }
    let target = FleetTarget {
        // Where the fleet runs, else where the operator says Argo CD runs (the checks
        // refused the two differing).
        argocd_namespace: running_in
            .as_deref()
            .or(platform.argocd_namespace())
            .unwrap_or(crate::argocd::DEFAULT_NAMESPACE)
            .to_owned(),
        operator_revision: revision,
        operator_repo,
        cluster,
    };
    check_cluster_parameter(&platform, &app_name, target.cluster.as_deref(), &members)?;
    if target.cluster.is_none() {
        // Every remote cluster an allocation names gets its fleet Application, first
        // and in name order: the output stays byte-identical whatever the tenants' order.
        let mut used = std::collections::BTreeMap::new();
        for m in &members {
            if let Some(cluster) = remote_cluster(m.allocation.cluster.as_deref()) {
                used.insert(cluster, server_of(&platform, m)?);
            }
        }
        let mut text = String::new();
        for (cluster, server) in used {
            write_cluster_fleet(cluster, server, &target, &mut text)?;
        }
        io.out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    }
    // Everything was checked above; what is left cannot fail on the inputs, so the
    // objects are written as they are made instead of holding the fleet in memory.
    for round in members.chunks(FLEET_ROUND) {
        let texts = crate::parallel::map(round, |member| {
            let mut text = String::new();
            write_member(
                &platform,
                member,
                server_of(&platform, member)?,
                &target,
                &mut text,
            )?;
            Ok::<_, Error>(text)
        });
        for text in texts {
            io.out.write_all(text?.as_bytes()).map_err(Error::Stdout)?;
        }
    }
    Ok(())
}

/// The API server of the cluster a member runs on. The fleet's checks refused an
/// undeclared cluster (DT605) before anything is written; should that not hold, the
/// fleet is refused rather than an app sent to another cluster.
fn server_of<'p>(platform: &'p Platform, m: &Member) -> Result<&'p str, Error> {
    cluster_server(platform, m.allocation.cluster.as_deref()).ok_or(Error::Invalid { count: 1 })
}

/// `PARAM_CLUSTER` is the fleet's to set, on the Application it names for the cluster:
/// the parameter must name a remote cluster the platform declares and that allocations
/// use, and only `dovetail-fleet-<cluster>` may carry it — nor may that Application go
/// without it, which would render the whole fleet, Applications and all, into the
/// remote cluster.
fn check_cluster_parameter(
    platform: &Platform,
    app_name: &str,
    cluster: Option<&str>,
    members: &[Member],
) -> Result<(), ArgoError> {
    let declared = |c: &str| c != IN_CLUSTER_NAME && platform.clusters.contains_key(c);
    let Some(cluster) = cluster else {
        return match app_name.strip_prefix("dovetail-fleet-") {
            Some(c) if declared(c) => Err(ArgoError::ClusterParameterMissing {
                app: app_name.to_owned(),
                cluster: c.to_owned(),
            }),
            _ => Ok(()),
        };
    };
    if !declared(cluster) {
        return Err(ArgoError::UnknownCluster {
            cluster: cluster.to_owned(),
            declared: declared_clusters(platform),
        });
    }
    if app_name != cluster_fleet_name(cluster) {
        return Err(ArgoError::ClusterOfAnotherApplication {
            app: app_name.to_owned(),
            cluster: cluster.to_owned(),
        });
    }
    if !members
        .iter()
        .any(|m| remote_cluster(m.allocation.cluster.as_deref()) == Some(cluster))
    {
        return Err(ArgoError::NothingOnCluster(cluster.to_owned()));
    }
    Ok(())
}
