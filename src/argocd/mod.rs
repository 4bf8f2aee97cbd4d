//! ArgoCD plugin mode (`dovetail generate`): what ArgoCD's environment says, the checks
//! that keep a customer from steering the render through it, and the fleet's guardrail
//! objects.
//!
//! ArgoCD runs the plugin in the app path of a fresh copy of the customer repo with the
//! Application's name, repo URL and revision in `ARGOCD_APP_*` and its plugin parameters in
//! `PARAM_*`. The operator repo, the age identity, git credentials and the cache come
//! from the sidecar's own environment (`DOVETAIL_*`), which no Application can set: an
//! Application's plugin env arrives prefixed as `ARGOCD_ENV_*`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::input::model::{Allocation, Platform, ServiceType};
use crate::quantity::Quantity;
use crate::merge::Identity;

/// The plugin's name as `plugin.yaml` declares it and child Applications select it.
pub const PLUGIN_NAME: &str = "dovetail";

/// The parameter that pins the operator repo's revision.
pub const OPERATOR_REVISION_PARAM: &str = "operator-revision";

/// The in-cluster API server, where fleet Applications deploy.
pub const IN_CLUSTER: &str = "https://kubernetes.default.svc";

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
    /// The repo ArgoCD fetched (`ARGOCD_APP_SOURCE_REPO_URL`).
    pub source_repo_url: Option<String>,
    /// The path inside it (`ARGOCD_APP_SOURCE_PATH`).
    pub source_path: Option<String>,
    /// The commit being rendered (`ARGOCD_APP_REVISION`).
    pub revision: Option<String>,
    /// `PARAM_OPERATOR_REVISION`: the operator repo's revision to render with.
    pub operator_revision: Option<String>,
}

/// Something in ArgoCD's environment that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArgoError {
    /// Not run by ArgoCD, or by one that does not set the variable.
    #[error(
        "{0} is not set: `dovetail generate` runs as an ArgoCD plugin (use `dovetail render` by hand)"
    )]
    Missing(&'static str),
    /// A value that cannot be what ArgoCD sends.
    #[error("{var} `{value}` {problem}")]
    Bad {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: &'static str,
    },
}

impl ArgoEnv {
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
        if let Some(r) = &operator_revision
            && !crate::git::revision(r)
        {
            return Err(ArgoError::Bad {
                var: "PARAM_OPERATOR_REVISION",
                value: r.clone(),
                problem: "is not a branch, tag or full commit id",
            });
        }
        Ok(ArgoEnv {
            app_name,
            app_object_namespace,
            destination_namespace: nonempty("ARGOCD_APP_NAMESPACE"),
            source_repo_url: nonempty("ARGOCD_APP_SOURCE_REPO_URL"),
            // ArgoCD sends the variable even when the path is empty (the repo root), and
            // that is a path to check like any other.
            source_path: get("ARGOCD_APP_SOURCE_PATH"),
            revision: nonempty("ARGOCD_APP_REVISION"),
            operator_revision,
        })
    }
}

/// A repo URL reduced to `host[:port]/path`, so that the spellings of one repository
/// compare equal: https or ssh, `user@host:path`, with or without `.git`, a trailing `/`
/// or a default port, in any case.
pub fn normalize_repo_url(url: &str) -> String {
    let url = url.trim();
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

fn join_host_path(authority: &str, scheme: &str, path: &str) -> String {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default_port = match scheme {
        "https" => Some("443"),
        "http" => Some("80"),
        "ssh" | "git+ssh" => Some("22"),
        "git" => Some("9418"),
        _ => None,
    };
    let host = match host.rsplit_once(':') {
        Some((h, p)) if Some(p) == default_port => h,
        _ => host,
    };
    let mut path = path.trim_matches('/');
    path = path.strip_suffix(".git").unwrap_or(path);
    format!("{host}/{path}").to_ascii_lowercase()
}

/// A path inside a repo, as ArgoCD and allocations may spell it (`.`, `./deploy`,
/// `deploy/`), reduced to its segments.
pub fn normalize_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// The `.argocd-source*.yaml` files in `dir`: a customer who commits one changes the
/// Application's plugin env and parameters behind the operator's back.
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

/// One allocation of the fleet.
#[derive(Debug, Clone)]
pub struct Member {
    /// `<tenant>/<app>`.
    pub identity: Identity,
    /// Its allocation.
    pub allocation: Allocation,
}

/// Where the fleet's objects go.
#[derive(Debug, Clone)]
pub struct FleetTarget {
    /// The namespace of the fleet Application, where child Applications and AppProjects
    /// are created (ArgoCD's own, usually `argocd`).
    pub argocd_namespace: String,
    /// The operator repo's commit being rendered; child Applications pin it.
    pub operator_revision: String,
}

/// The kinds `dovetail render` produces, which is all an app's AppProject admits.
pub const RENDERED_KINDS: &[(&str, &str)] = &[
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "PersistentVolumeClaim"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("batch", "Job"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("postgresql.cnpg.io", "Cluster"),
    ("monitoring.coreos.com", "PodMonitor"),
];

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
    use crate::emit::output::push_document as emit;
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

/// Where an allocation's explicit `quota` is below what its own processes, storage,
/// database and Redis need (as the fleet derives it): `(field, given, needed)`.
pub fn quota_shortfalls(
    platform: &Platform,
    a: &Allocation,
) -> Vec<(&'static str, String, String)> {
    let Some(quota) = &a.quota else {
        return Vec::new();
    };
    let sizes = Sizes::of(platform, a);
    let mut out = Vec::new();
    let mut check = |field: &'static str,
                     given: &Option<String>,
                     need: Option<Quantity>,
                     text: fn(Quantity) -> String| {
        if let (Some(given), Some(need)) = (given, need)
            && Quantity::parse(given).is_some_and(|g| g < need)
        {
            out.push((field, given.clone(), text(need)));
        }
    };
    check("cpu", &quota.cpu, sizes.total.cpu, Quantity::cpu_text);
    check(
        "memory",
        &quota.memory,
        sizes.total.memory,
        Quantity::bytes_text,
    );
    check(
        "storage",
        &quota.storage,
        sizes.storage,
        Quantity::bytes_text,
    );
    out
}

/// CPU and memory of one pod, or of all pods together.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    cpu: Option<Quantity>,
    memory: Option<Quantity>,
    ephemeral: Option<Quantity>,
}

impl Size {
    fn of(r: &crate::input::model::Resources) -> Size {
        Size {
            cpu: Quantity::parse(&r.cpu),
            memory: Quantity::parse(&r.memory),
            ephemeral: r.ephemeral_storage.as_deref().and_then(Quantity::parse),
        }
    }

    fn plus(self, other: Size) -> Size {
        let add = |a: Option<Quantity>, b: Option<Quantity>| match (a, b) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
        Size {
            cpu: add(self.cpu, other.cpu),
            memory: add(self.memory, other.memory),
            ephemeral: add(self.ephemeral, other.ephemeral),
        }
    }

    fn times(self, n: u32) -> Size {
        Size {
            cpu: self.cpu.map(|q| q.times(n)),
            memory: self.memory.map(|q| q.times(n)),
            ephemeral: self.ephemeral.map(|q| q.times(n)),
        }
    }

    fn max(self, other: Size) -> Size {
        Size {
            cpu: self.cpu.max(other.cpu),
            memory: self.memory.max(other.memory),
            ephemeral: self.ephemeral.max(other.ephemeral),
        }
    }
}

/// What one allocation's pods and volumes add up to.
struct Sizes {
    /// Every pod at once, with room for a rollout.
    total: Size,
    /// The largest single container.
    largest: Size,
    /// All volume claims.
    storage: Option<Quantity>,
    /// The largest single volume claim.
    largest_claim: Option<Quantity>,
}

impl Sizes {
    /// Sums what `dovetail render` can create for this allocation: each sized process at
    /// its most replicas plus one pod of rollout surge, each pod with room for one
    /// sidecar of the platform's sidecar size, one init pod of the largest process,
    /// Redis, and each database instance plus its bootstrap pod. The `"*"` entry counts
    /// as one process; an app with more unnamed processes needs an explicit `quota`.
    fn of(platform: &Platform, a: &Allocation) -> Sizes {
        let sidecar_resources = platform.sidecar_resources();
        let sidecar = Size::of(&sidecar_resources);
        let mut total = Size::default();
        let mut largest = sidecar;
        let mut largest_pod = Size::default();
        for p in a.processes.values() {
            // The same rule the merge sizes containers by.
            let r = platform.process_resources(p);
            let pod = Size {
                cpu: r.cpu.as_deref().and_then(Quantity::parse),
                memory: r.memory.as_deref().and_then(Quantity::parse),
                ephemeral: Quantity::parse(&r.ephemeral_storage),
            };
            let most = p
                .autoscaling
                .as_ref()
                .map_or(0, |s| s.max_replicas)
                .max(p.replicas.unwrap_or(1));
            total = total.plus(pod.plus(sidecar).times(most.saturating_add(1)));
            largest = largest.max(pod);
            largest_pod = largest_pod.max(pod);
        }
        total = total.plus(largest_pod.plus(sidecar));
        if let Some(redis) = &a.redis {
            let pod = Size::of(&crate::input::model::Resources {
                memory: redis.memory.clone(),
                ..sidecar_resources.clone()
            });
            total = total.plus(pod);
            largest = largest.max(pod);
        }
        let mut storage: Option<Quantity> = None;
        let mut largest_claim: Option<Quantity> = None;
        let mut claim = |size: &str, n: u32| {
            if let Some(q) = Quantity::parse(size) {
                storage = Some(storage.map_or(q.times(n), |s| s.plus(q.times(n))));
                largest_claim = largest_claim.max(Some(q));
            }
        };
        if let Some(s) = &a.storage.static_files {
            claim(&s.size, 1);
        }
        if let (Some(db), Some(d)) = (&platform.database, &a.storage.database)
            && db.provider == crate::input::model::DatabaseProvider::Cnpg
        {
            let instances = db.instances.unwrap_or(1);
            let r = platform.database_resources();
            let pod = Size::of(&r);
            total = total.plus(pod.times(instances + 1));
            largest = largest.max(pod);
            claim(&d.size, instances);
        }
        Sizes {
            total,
            largest,
            storage,
            largest_claim,
        }
    }

    fn quota(&self, a: &Allocation) -> BTreeMap<&'static str, String> {
        let explicit = a.quota.clone().unwrap_or_default();
        let mut hard = BTreeMap::new();
        let cpu = explicit
            .cpu
            .or_else(|| self.total.cpu.map(Quantity::cpu_text));
        let memory = explicit
            .memory
            .or_else(|| self.total.memory.map(Quantity::bytes_text));
        if let Some(cpu) = cpu {
            hard.insert("requests.cpu", cpu.clone());
            hard.insert("limits.cpu", cpu);
        }
        if let Some(memory) = memory {
            hard.insert("requests.memory", memory.clone());
            hard.insert("limits.memory", memory);
        }
        let ephemeral = explicit
            .ephemeral_storage
            .or_else(|| self.total.ephemeral.map(Quantity::bytes_text));
        if let Some(ephemeral) = ephemeral {
            hard.insert("requests.ephemeral-storage", ephemeral.clone());
            hard.insert("limits.ephemeral-storage", ephemeral);
        }
        let storage = explicit
            .storage
            .or_else(|| self.storage.map(Quantity::bytes_text))
            .unwrap_or_else(|| "0".to_owned());
        hard.insert("requests.storage", storage);
        // Only the LoadBalancer and NodePort Services the allocation allows: any other
        // would bypass the Ingress.
        let allowed = |kind: ServiceType| {
            a.processes
                .values()
                .filter(|p| p.service_types.contains(&kind))
                .count()
        };
        // A LoadBalancer Service takes a node port too (`allocateLoadBalancerNodePorts`
        // defaults to true, and many load balancers route through it), which the quota
        // counts: each allowed Service has one port.
        let lb = allowed(ServiceType::LoadBalancer);
        let np = allowed(ServiceType::NodePort);
        hard.insert("services.loadbalancers", lb.to_string());
        hard.insert("services.nodeports", (lb + np).to_string());
        hard
    }

    fn limits(&self, platform: &Platform) -> Value {
        // Containers that say nothing (CloudNativePG's helpers, say) get the sidecar size,
        // local storage included.
        let sidecar = platform.sidecar_resources();
        let amounts = json!({
            "cpu": sidecar.cpu,
            "memory": sidecar.memory,
            "ephemeral-storage": sidecar.ephemeral_storage,
        });
        let mut container = json!({
            "type": "Container",
            "default": amounts,
            "defaultRequest": amounts,
        });
        let mut max = serde_json::Map::new();
        if let Some(cpu) = self.largest.cpu {
            max.insert("cpu".to_owned(), json!(cpu.cpu_text()));
        }
        if let Some(memory) = self.largest.memory {
            max.insert("memory".to_owned(), json!(memory.bytes_text()));
        }
        if let Some(ephemeral) = self.largest.ephemeral {
            max.insert(
                "ephemeral-storage".to_owned(),
                json!(ephemeral.bytes_text()),
            );
        }
        if !max.is_empty() {
            container["max"] = Value::Object(max);
        }
        let mut limits = vec![container];
        if let Some(claim) = self.largest_claim {
            limits.push(json!({
                "type": "PersistentVolumeClaim",
                "max": {"storage": claim.bytes_text()},
            }));
        }
        json!(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_url_spellings_compare_equal() {
        let canonical = normalize_repo_url("https://git.example.com/acme/shop.git");
        for same in [
            "https://git.example.com/acme/shop",
            "https://git.example.com/acme/shop/",
            "https://git.example.com:443/acme/shop.git",
            "https://GIT.example.com/Acme/Shop.git",
            "ssh://git@git.example.com/acme/shop.git",
            "ssh://git@git.example.com:22/acme/shop",
            "git@git.example.com:acme/shop.git",
            "git@git.example.com:/acme/shop",
        ] {
            assert_eq!(normalize_repo_url(same), canonical, "{same}");
        }
        for other in [
            "https://git.example.com/acme/shop2.git",
            "https://git.example.com:8443/acme/shop.git",
            "https://evil.example.com/acme/shop.git",
            "https://git.example.com/acme/shop/sub",
        ] {
            assert_ne!(normalize_repo_url(other), canonical, "{other}");
        }
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
}
