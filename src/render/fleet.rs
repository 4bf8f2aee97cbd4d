//! The fleet's guardrails, per allocation: the Namespace (Pod Security *restricted*, the
//! app's identity as labels), its ResourceQuota and LimitRange (what its pods may use
//! together and each), a default-deny NetworkPolicy, the AppProject that confines the app
//! to its namespace (on its cluster) and the kinds dovetail renders, and the child
//! Application.
//!
//! Several clusters: an Argo CD Application has one destination, so the fleet's own
//! Application (in-cluster) cannot put a remote tenant's Namespace on its cluster. It
//! renders every AppProject and Application (they live in Argo CD's namespace) and the
//! guardrails of the in-cluster allocations, and for each remote cluster an allocation
//! names, an Application `dovetail-fleet-<cluster>` (with an AppProject of the same name
//! that admits only the guardrail kinds there) deploying the operator repo at the same
//! commit to that cluster with the plugin parameter `cluster: <cluster>`. Rendered with
//! that parameter, the fleet is only the guardrails of that cluster's allocations.
//!
//! The objects are typed rather than built as JSON values: a fleet of ten thousand
//! allocations renders sixty thousand of them, and building and dropping that many hash
//! maps cost more than writing them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::argocd::{
    CLUSTER_PARAM, OPERATOR_REVISION_PARAM, PLUGIN_NAME, cluster_fleet_name, normalize_path,
    remote_cluster,
};
use crate::emit::output::push_document as emit;
use crate::input::model::Platform;
use crate::input::operator::Member;
use crate::merge::sizes::Sizes;
use crate::render::RENDERED_KINDS;

/// Where the fleet's objects go.
#[derive(Debug, Clone)]
pub struct FleetTarget {
    /// The namespace of the fleet Application, where child Applications and AppProjects
    /// are created (ArgoCD's own, usually `argocd`).
    pub argocd_namespace: String,
    /// The operator repo's commit being rendered; child Applications pin it, and each
    /// cluster's fleet Application deploys it.
    pub operator_revision: String,
    /// The operator repo's URL as the fleet's own Application names it (Argo CD finds
    /// its credentials by this spelling), for each cluster's fleet Application.
    pub operator_repo: String,
    /// `None`: the fleet's own Application, in-cluster: the guardrails of the in-cluster
    /// allocations, every AppProject and Application. `Some(cluster)`: the fleet
    /// Application of a remote cluster: only the guardrails of that cluster's
    /// allocations.
    pub cluster: Option<String>,
}

/// A mapping written in the order given: labels and annotations, whose order is part of
/// the byte-identical output.
struct Pairs<'a>(Vec<(&'a str, &'a str)>);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// An object's metadata.
#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    labels: &'a Pairs<'a>,
    annotations: Pairs<'a>,
}

/// A whole object. The fleet's objects are typed rather than built as JSON values:
/// a fleet of ten thousand allocations renders fifty thousand of them, and building
/// and dropping that many hash maps cost more than writing them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a, S: Serialize> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Meta<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spec: Option<S>,
}

#[derive(Serialize)]
struct GroupKind<'a> {
    group: &'a str,
    kind: &'a str,
}

#[derive(Serialize)]
struct Destination<'a> {
    server: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppProjectSpec<'a> {
    description: String,
    source_repos: [&'a str; 1],
    destinations: [Destination<'a>; 1],
    cluster_resource_whitelist: Vec<GroupKind<'a>>,
    namespace_resource_whitelist: Vec<GroupKind<'a>>,
}

#[derive(Serialize)]
struct Parameter<'a> {
    name: &'a str,
    string: &'a str,
}

#[derive(Serialize)]
struct Plugin<'a> {
    name: &'a str,
    parameters: [Parameter<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Source<'a> {
    #[serde(rename = "repoURL")]
    repo_url: &'a str,
    target_revision: &'a str,
    path: &'a str,
    plugin: Plugin<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Automated {
    prune: bool,
    self_heal: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Backoff {
    duration: &'static str,
    factor: u32,
    max_duration: &'static str,
}

#[derive(Serialize)]
struct Retry {
    limit: u32,
    backoff: Backoff,
}

/// How a sync that reaches a remote cluster retries: its Application is created in the
/// same sync as the cluster's fleet Application, which may not have made the namespace
/// there yet, and Argo CD never retries a failed automated sync of the same revision on
/// its own. Ten attempts, 10s apart doubling up to 3 minutes: about 20 minutes in all.
const REMOTE_RETRY: Retry = Retry {
    limit: 10,
    backoff: Backoff {
        duration: "10s",
        factor: 2,
        max_duration: "3m",
    },
};

/// How Argo CD applies an app: into the namespace the fleet made (never one of its own),
/// and server-side. Client-side apply copies each object into its
/// `last-applied-configuration` annotation, which the API server caps at 256 KiB, so a
/// ConfigMap of config files near their 768 KiB cap could never sync.
const SYNC_OPTIONS: [&str; 2] = ["CreateNamespace=false", "ServerSideApply=true"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SyncPolicy<'a> {
    automated: Automated,
    sync_options: [&'a str; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<Retry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationSpec<'a> {
    project: &'a str,
    source: Source<'a>,
    destination: Destination<'a>,
    sync_policy: SyncPolicy<'a>,
}

#[derive(Serialize)]
struct Hard<'a> {
    hard: &'a BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Limits {
    limits: Value,
}

/// Selects every pod.
#[derive(Serialize)]
struct EmptySelector {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DenyAll {
    pod_selector: EmptySelector,
    policy_types: [&'static str; 2],
}

/// Appends the objects of one member that `target` renders to `out`, each as a YAML
/// document: its guardrails (Namespace, ResourceQuota, LimitRange, the default-deny
/// NetworkPolicy) where `target` is its cluster's fleet, and its AppProject and
/// Application, aimed at `server` (its cluster's API server), in the fleet's own.
pub fn write_member(
    platform: &Platform,
    m: &Member,
    server: &str,
    target: &FleetTarget,
    out: &mut String,
) -> Result<(), crate::emit::output::OutputError> {
    let remote = remote_cluster(m.allocation.cluster.as_deref());
    if remote == target.cluster.as_deref() {
        write_guardrails(platform, m, out)?;
    }
    if target.cluster.is_none() {
        write_argo(m, server, remote.is_some(), target, out)?;
    }
    Ok(())
}

/// The member's labels: managed by dovetail, and the app's identity (the controller
/// reads it from the Namespace's).
fn member_labels(m: &Member) -> Pairs<'_> {
    Pairs(vec![
        ("app.kubernetes.io/managed-by", "dovetail"),
        ("dovetail.dev/tenant", &m.identity.tenant),
        ("dovetail.dev/app", &m.identity.app),
    ])
}

fn wave(w: &'static str) -> Pairs<'static> {
    Pairs(vec![("argocd.argoproj.io/sync-wave", w)])
}

/// The Namespace, ResourceQuota, LimitRange and default-deny NetworkPolicy of a member,
/// on the cluster it runs on.
fn write_guardrails(
    platform: &Platform,
    m: &Member,
    out: &mut String,
) -> Result<(), crate::emit::output::OutputError> {
    let ns = m.allocation.namespace.as_str();
    let labels = member_labels(m);
    let mut ns_labels = Pairs(labels.0.clone());
    for (mode, version) in [
        (
            "pod-security.kubernetes.io/enforce",
            "pod-security.kubernetes.io/enforce-version",
        ),
        (
            "pod-security.kubernetes.io/audit",
            "pod-security.kubernetes.io/audit-version",
        ),
        (
            "pod-security.kubernetes.io/warn",
            "pod-security.kubernetes.io/warn-version",
        ),
    ] {
        ns_labels.0.push((mode, "restricted"));
        ns_labels.0.push((version, "latest"));
    }
    // Removing an allocation must not delete the app's data with its namespace: the
    // operator deletes a namespace by hand.
    emit(
        out,
        &Object::<()> {
            api_version: "v1",
            kind: "Namespace",
            metadata: Meta {
                name: ns,
                namespace: None,
                labels: &ns_labels,
                annotations: Pairs(vec![
                    ("argocd.argoproj.io/sync-wave", "-1"),
                    ("argocd.argoproj.io/sync-options", "Prune=false"),
                ]),
            },
            spec: None,
        },
    )?;
    let sizes = Sizes::of(platform, &m.allocation);
    emit(
        out,
        &Object {
            api_version: "v1",
            kind: "ResourceQuota",
            metadata: Meta {
                name: "dovetail",
                namespace: Some(ns),
                labels: &labels,
                annotations: wave("-1"),
            },
            spec: Some(Hard {
                hard: &sizes.quota(&m.allocation),
            }),
        },
    )?;
    emit(
        out,
        &Object {
            api_version: "v1",
            kind: "LimitRange",
            metadata: Meta {
                name: "dovetail",
                namespace: Some(ns),
                labels: &labels,
                annotations: wave("-1"),
            },
            spec: Some(Limits {
                limits: sizes.limits(platform),
            }),
        },
    )?;
    // Nothing reaches or leaves the namespace's pods unless a policy of the app's says
    // so: what the app's render allows is all there is, even for pods it did not make.
    emit(
        out,
        &Object {
            api_version: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: Meta {
                name: "dovetail-baseline",
                namespace: Some(ns),
                labels: &labels,
                annotations: wave("-1"),
            },
            spec: Some(DenyAll {
                pod_selector: EmptySelector {},
                policy_types: ["Ingress", "Egress"],
            }),
        },
    )?;
    Ok(())
}

/// The member's AppProject and Application, in Argo CD's namespace, aimed at `server`
/// (`remote`: another cluster than in-cluster).
fn write_argo(
    m: &Member,
    server: &str,
    remote: bool,
    target: &FleetTarget,
    out: &mut String,
) -> Result<(), crate::emit::output::OutputError> {
    let name = format!("{}-{}", m.identity.tenant, m.identity.app);
    let ns = m.allocation.namespace.as_str();
    let argocd_ns = Some(target.argocd_namespace.as_str());
    let labels = member_labels(m);
    emit(
        out,
        &Object {
            api_version: "argoproj.io/v1alpha1",
            kind: "AppProject",
            metadata: Meta {
                name: &name,
                namespace: argocd_ns,
                labels: &labels,
                annotations: wave("-1"),
            },
            spec: Some(AppProjectSpec {
                description: format!("dovetail app {}/{}", m.identity.tenant, m.identity.app),
                source_repos: [&m.allocation.repo],
                destinations: [Destination {
                    server,
                    namespace: Some(ns),
                }],
                cluster_resource_whitelist: Vec::new(),
                namespace_resource_whitelist: RENDERED_KINDS
                    .iter()
                    .map(|(group, kind)| GroupKind { group, kind })
                    .collect(),
            }),
        },
    )?;
    let path = normalize_path(m.allocation.path.as_deref().unwrap_or(""));
    emit(
        out,
        &Object {
            api_version: "argoproj.io/v1alpha1",
            kind: "Application",
            metadata: Meta {
                name: &name,
                namespace: argocd_ns,
                labels: &labels,
                annotations: wave("0"),
            },
            spec: Some(ApplicationSpec {
                project: &name,
                source: Source {
                    repo_url: &m.allocation.repo,
                    target_revision: m.allocation.revision.as_deref().unwrap_or("HEAD"),
                    path: if path.is_empty() { "." } else { &path },
                    plugin: Plugin {
                        name: PLUGIN_NAME,
                        parameters: [Parameter {
                            name: OPERATOR_REVISION_PARAM,
                            string: &target.operator_revision,
                        }],
                    },
                },
                destination: Destination {
                    server,
                    namespace: Some(ns),
                },
                sync_policy: SyncPolicy {
                    automated: Automated {
                        prune: true,
                        self_heal: true,
                    },
                    sync_options: SYNC_OPTIONS,
                    retry: remote.then_some(REMOTE_RETRY),
                },
            }),
        },
    )?;
    Ok(())
}

/// The kinds a cluster's fleet Application deploys: the guardrails and nothing else.
const GUARDRAIL_KINDS: [(&str, &str); 3] = [
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("networking.k8s.io", "NetworkPolicy"),
];

/// Appends, for a remote `cluster` at `server` that allocations name, the AppProject and
/// the Application `dovetail-fleet-<cluster>` that deploy its allocations' guardrails
/// there: the operator repo at the commit being rendered, with the plugin parameter
/// `cluster`. The project admits the operator repo only, that cluster only, and of kinds
/// only Namespaces and the guardrails.
pub fn write_cluster_fleet(
    cluster: &str,
    server: &str,
    target: &FleetTarget,
    out: &mut String,
) -> Result<(), crate::emit::output::OutputError> {
    let name = cluster_fleet_name(cluster);
    let argocd_ns = Some(target.argocd_namespace.as_str());
    let labels = Pairs(vec![
        ("app.kubernetes.io/managed-by", "dovetail"),
        ("dovetail.dev/cluster", cluster),
    ]);
    emit(
        out,
        &Object {
            api_version: "argoproj.io/v1alpha1",
            kind: "AppProject",
            metadata: Meta {
                name: &name,
                namespace: argocd_ns,
                labels: &labels,
                annotations: wave("-2"),
            },
            spec: Some(AppProjectSpec {
                description: format!("dovetail fleet guardrails on cluster {cluster}"),
                source_repos: [&target.operator_repo],
                // Any namespace: the tenants' namespaces are what it makes.
                destinations: [Destination {
                    server,
                    namespace: Some("*"),
                }],
                cluster_resource_whitelist: vec![GroupKind {
                    group: "",
                    kind: "Namespace",
                }],
                namespace_resource_whitelist: GUARDRAIL_KINDS
                    .iter()
                    .map(|(group, kind)| GroupKind { group, kind })
                    .collect(),
            }),
        },
    )?;
    // In wave -1, before the apps' Applications (wave 0) that need its namespaces.
    // Without a finalizer: deleting it (the last allocation leaving the cluster) leaves
    // the namespaces and their data, as removing an allocation does in-cluster.
    emit(
        out,
        &Object {
            api_version: "argoproj.io/v1alpha1",
            kind: "Application",
            metadata: Meta {
                name: &name,
                namespace: argocd_ns,
                labels: &labels,
                annotations: wave("-1"),
            },
            spec: Some(ApplicationSpec {
                project: &name,
                source: Source {
                    repo_url: &target.operator_repo,
                    target_revision: &target.operator_revision,
                    path: ".",
                    plugin: Plugin {
                        name: PLUGIN_NAME,
                        parameters: [Parameter {
                            name: CLUSTER_PARAM,
                            string: cluster,
                        }],
                    },
                },
                destination: Destination {
                    server,
                    namespace: None,
                },
                sync_policy: SyncPolicy {
                    automated: Automated {
                        prune: true,
                        self_heal: true,
                    },
                    sync_options: SYNC_OPTIONS,
                    retry: Some(REMOTE_RETRY),
                },
            }),
        },
    )
}
