//! The fleet's guardrails, per allocation: the Namespace (Pod Security *restricted*, the
//! app's identity as labels), its ResourceQuota and LimitRange (what its pods may use
//! together and each), a default-deny NetworkPolicy, the AppProject that confines the app
//! to its namespace and the kinds dovetail renders, and the child Application.
//!
//! The objects are typed rather than built as JSON values: a fleet of ten thousand
//! allocations renders sixty thousand of them, and building and dropping that many hash
//! maps cost more than writing them.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

use crate::argocd::{IN_CLUSTER, OPERATOR_REVISION_PARAM, PLUGIN_NAME, normalize_path};
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
    /// The operator repo's commit being rendered; child Applications pin it.
    pub operator_revision: String,
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
    namespace: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppProjectSpec<'a> {
    description: String,
    source_repos: [&'a str; 1],
    destinations: [Destination<'a>; 1],
    cluster_resource_whitelist: [GroupKind<'a>; 0],
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
struct SyncPolicy<'a> {
    automated: Automated,
    sync_options: [&'a str; 1],
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

/// Appends the guardrail objects of one member to `out`, each as a YAML document:
/// Namespace, ResourceQuota, LimitRange, the default-deny NetworkPolicy, AppProject,
/// Application.
pub fn write_member(
    platform: &Platform,
    m: &Member,
    target: &FleetTarget,
    out: &mut String,
) -> Result<(), crate::emit::output::OutputError> {
    let name = format!("{}-{}", m.identity.tenant, m.identity.app);
    let ns = m.allocation.namespace.as_str();
    let argocd_ns = Some(target.argocd_namespace.as_str());
    let labels = Pairs(vec![
        ("app.kubernetes.io/managed-by", "dovetail"),
        ("dovetail.dev/tenant", &m.identity.tenant),
        ("dovetail.dev/app", &m.identity.app),
    ]);
    let wave = |w: &'static str| Pairs(vec![("argocd.argoproj.io/sync-wave", w)]);
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
                    server: IN_CLUSTER,
                    namespace: ns,
                }],
                cluster_resource_whitelist: [],
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
                    server: IN_CLUSTER,
                    namespace: ns,
                },
                sync_policy: SyncPolicy {
                    automated: Automated {
                        prune: true,
                        self_heal: true,
                    },
                    sync_options: ["CreateNamespace=false"],
                },
            }),
        },
    )?;
    Ok(())
}
