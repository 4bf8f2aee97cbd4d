//! The merge: the customer's app, the operator's allocation and the platform's policy
//! become one resolved app, or a list of every reason they cannot.
//!
//! Precedence, field by field: the customer decides what runs (image, commands, env,
//! files, fragments, wanted hosts); the allocation decides how much of it (replicas,
//! CPU and memory — a process's own entry, else `*`; explicit `cpu`/`memory` over the
//! named plan), where (namespace) and under which names (domains); the platform decides
//! classes, helper images and what images may run at all. Nothing a customer writes can
//! widen what the operator gave.

pub mod podcheck;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::diag::{Diagnostic, Diagnostics, Doc};
use crate::input::model::{
    Allocation, App, DatabaseProvider, InitMode, Platform, ProcessAllocation, Resources, Service,
    ServiceType,
};
use crate::quantity::Quantity;
use crate::input::tree::Tree;
use crate::input::yaml::Path;

/// Largest config file mounted from the repo.
pub const MAX_FILE_BYTES: u64 = 256 * 1024;
/// Largest total of config files; a ConfigMap holds at most 1 MiB.
pub const MAX_FILES_TOTAL: u64 = 768 * 1024;
/// Longest ConfigMap key, as Kubernetes validates it.
const MAX_CONFIG_KEY: usize = 253;

/// The app's identity, from the operator repo's file layout: `tenants/<tenant>/<app>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The tenant.
    pub tenant: String,
    /// The app.
    pub app: String,
}

/// Everything the merge reads.
pub struct Inputs<'a> {
    /// The app's identity.
    pub identity: &'a Identity,
    /// `dovetail.yaml`, parsed and typed.
    pub app_doc: &'a Doc,
    /// Its typed form.
    pub app: &'a App,
    /// The allocation file.
    pub allocation_doc: &'a Doc,
    /// Its typed form.
    pub allocation: &'a Allocation,
    /// `platform.yaml`.
    pub platform_doc: &'a Doc,
    /// Its typed form.
    pub platform: &'a Platform,
    /// The app directory, for `files:` and the secrets file.
    pub app_tree: &'a Tree,
    /// The operator's age identities; without them secret values are only checked for
    /// form and rendered redacted.
    pub identities: Option<&'a [age::x25519::Identity]>,
}

/// The merged app: everything the manifests are made of, and nothing more.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    /// Tenant and app.
    pub identity: Identity,
    /// Namespace of every object.
    pub namespace: String,
    /// The app's image.
    pub image: String,
    /// The processes, by name.
    pub processes: Vec<ResolvedProcess>,
    /// The init step.
    pub init: Option<ResolvedInit>,
    /// Plain env, by name, as written.
    pub env: BTreeMap<String, String>,
    /// Config files.
    pub files: Vec<ResolvedFile>,
    /// The static files volume.
    #[serde(rename = "static")]
    pub static_files: Option<ResolvedStatic>,
    /// The database.
    pub database: Option<ResolvedDatabase>,
    /// Redis.
    pub redis: Option<ResolvedRedis>,
    /// The Ingress of `web`.
    pub ingress: Option<ResolvedIngress>,
    /// Where ingress traffic comes from, for the NetworkPolicy.
    pub ingress_namespace: String,
    /// Resources of sidecars and helpers.
    pub sidecar_resources: Resources,
    /// The image that waits for the database (`images.wait`).
    pub wait_image: Option<String>,
    /// Prometheus scraping, when the platform has it.
    pub monitoring: Option<crate::input::model::Monitoring>,
    /// What the app's pods may reach, and who reaches its database.
    pub network: ResolvedNetwork,
    /// Decrypted secrets; kept out of the resolved document and of every message.
    #[serde(skip)]
    pub secrets: Option<ResolvedSecrets>,
}

/// The app's secrets, decrypted (or redacted when no identity was given).
#[derive(Clone)]
pub struct ResolvedSecrets {
    /// Values by key, the pull secret's key excluded; `None` when redacted.
    pub values: BTreeMap<String, Option<Vec<u8>>>,
    /// The dockerconfigjson for pulling the image, if `imagePullSecret` names one.
    pub pull: Option<Option<Vec<u8>>>,
    /// A digest of the ciphertexts: rolls pods when a value changes, and reveals nothing
    /// of any plaintext (a digest of plaintexts could be checked against guesses).
    pub checksum: String,
    /// A digest of each key's ciphertext, pull secret included: how `diff` tells a
    /// changed value without an identity.
    pub ciphertexts: BTreeMap<String, String>,
    /// The key of the pull secret in the secrets file, if any.
    pub pull_key: Option<String>,
}

impl ResolvedSecrets {
    /// Whether any value stands redacted, for want of an identity.
    pub fn is_redacted(&self) -> bool {
        self.values.values().any(Option::is_none) || matches!(self.pull, Some(None))
    }
}

impl std::fmt::Debug for ResolvedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSecrets")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One process with what the operator gave it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedProcess {
    /// Its name.
    pub name: String,
    /// Its command.
    pub command: Option<Vec<String>>,
    /// Its arguments.
    pub args: Option<Vec<String>>,
    /// Its port.
    pub port: Option<u16>,
    /// Its health check path.
    pub health_path: Option<String>,
    /// Its health check command.
    pub health_command: Option<Vec<String>>,
    /// Platform services it waits for.
    pub wait_for: Vec<Service>,
    /// How its Service is exposed.
    pub service_type: ServiceType,
    /// One pod, never two.
    pub singleton: bool,
    /// Pods (the minimum under autoscaling).
    pub replicas: u32,
    /// Autoscaling.
    pub autoscaling: Option<ResolvedAutoscaling>,
    /// Resources of its main container.
    pub resources: Resources,
    /// Patches to the main container, global fragment first.
    pub patches: Vec<Value>,
    /// Sidecar containers.
    pub sidecars: Vec<Value>,
    /// Init containers from fragments.
    pub init_containers: Vec<Value>,
    /// Volumes from fragments.
    pub volumes: Vec<Value>,
    /// Keys of the config files it mounts.
    pub files: Vec<String>,
    /// Whether it mounts the static volume.
    pub mounts_static: bool,
}

/// Autoscaling bounds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedAutoscaling {
    /// Fewest pods.
    pub min_replicas: u32,
    /// Most pods.
    pub max_replicas: u32,
    /// Target CPU use, percent.
    pub cpu_utilization: u32,
}

/// The init step with its resources.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedInit {
    /// The command.
    pub command: Vec<String>,
    /// Its arguments.
    pub args: Option<Vec<String>>,
    /// How it runs.
    pub mode: InitMode,
    /// Its resources.
    pub resources: Resources,
    /// Platform services it waits for.
    pub wait_for: Vec<Service>,
}

/// A config file with its content.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedFile {
    /// Its ConfigMap key.
    pub key: String,
    /// Its path in the repo.
    pub path: String,
    /// Where it is mounted.
    pub mount: String,
    /// Which processes mount it.
    pub processes: Vec<String>,
    /// The content.
    #[serde(skip)]
    pub content: Vec<u8>,
}

/// The static files volume.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedStatic {
    /// Mount path.
    pub mount: String,
    /// Size.
    pub size: String,
    /// `ReadWriteOnce` or `ReadWriteMany`.
    pub access_mode: String,
    /// StorageClass; the cluster default when absent.
    pub storage_class: Option<String>,
    /// Which processes mount it.
    pub processes: Vec<String>,
}

/// The database.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedDatabase {
    /// Who provides it.
    pub provider: DatabaseProvider,
    /// Volume size (CloudNativePG).
    pub size: Option<String>,
    /// Instances (CloudNativePG).
    pub instances: u32,
    /// CPU and memory per instance (CloudNativePG).
    pub resources: Resources,
    /// StorageClass.
    pub storage_class: Option<String>,
}

/// The network around the app: its egress rules, checked and with their exceptions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedNetwork {
    /// Blocks the app's pods may connect to.
    pub egress: Vec<ResolvedEgress>,
    /// Cluster DNS's namespace.
    pub dns_namespace: String,
    /// Cluster DNS's pod labels.
    pub dns_labels: BTreeMap<String, String>,
    /// The API server's blocks, for CloudNativePG's instances; empty: any address on
    /// ports 443 and 6443.
    pub api_server: Vec<String>,
    /// The CloudNativePG operator's namespace.
    pub database_operator_namespace: String,
}

/// One egress rule as rendered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedEgress {
    /// The block.
    pub cidr: String,
    /// Blocks inside it that stay closed: the operator's, the metadata service's, the
    /// cluster's.
    pub except: Vec<String>,
    /// TCP ports; all when empty.
    pub ports: Vec<u16>,
}

/// Redis.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRedis {
    /// Image.
    pub image: String,
    /// Memory limit.
    pub memory: String,
    /// `maxmemory`, bytes: a share of the limit, leaving room for Redis' own overhead.
    pub maxmemory: u64,
}

/// The Ingress.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedIngress {
    /// Hostnames.
    pub hosts: Vec<String>,
    /// IngressClass.
    pub class_name: String,
    /// cert-manager ClusterIssuer.
    pub cluster_issuer: Option<String>,
}

struct Ctx<'a> {
    inputs: &'a Inputs<'a>,
    diags: Diagnostics,
}

impl Ctx<'_> {
    fn app_err(&mut self, path: &Path, message: impl Into<String>, hint: &str) {
        let d = self.inputs.app_doc.error(path, message);
        self.push(d, hint);
    }
    fn alloc_err(&mut self, path: &Path, message: impl Into<String>, hint: &str) {
        let d = self.inputs.allocation_doc.error(path, message);
        self.push(d, hint);
    }
    fn platform_err(&mut self, path: &Path, message: impl Into<String>, hint: &str) {
        let d = self.inputs.platform_doc.error(path, message);
        self.push(d, hint);
    }
    fn push(&mut self, d: Diagnostic, hint: &str) {
        let d = if hint.is_empty() { d } else { d.hint(hint) };
        self.diags.push(d);
    }
    fn alloc_file(&self) -> &str {
        &self.inputs.allocation_doc.file
    }
}

/// Merges the inputs. Every problem found is returned, not just the first; the merged app
/// comes back only when none of them is an error (warnings may come with it).
pub fn resolve(inputs: &Inputs<'_>) -> (Option<Resolved>, Diagnostics) {
    let mut cx = Ctx {
        inputs,
        diags: Diagnostics::default(),
    };
    let app = inputs.app;
    let alloc = inputs.allocation;
    let platform = inputs.platform;
    let names: BTreeSet<&str> = app.processes.keys().map(String::as_str).collect();

    check_image(&mut cx, &app.image, &Path::root().key("image"));
    check_process_lists(&mut cx, &names);

    for name in alloc.processes.keys() {
        if name != "*" && name != "init" && !names.contains(name.as_str()) {
            let d = inputs
                .allocation_doc
                .error(
                    &Path::root().key("processes").key(name),
                    format!("the app has no process `{name}`"),
                )
                .hint("remove it, or check the name in the app's dovetail.yaml")
                .warning();
            cx.diags.push(d);
        }
    }

    let files = resolve_files(&mut cx, &names);
    let env = resolve_env(&mut cx);
    let static_files = resolve_static(&mut cx, &names);
    check_mount_clash(&mut cx, &files, static_files.as_ref());
    let network = resolve_network(&mut cx);
    let database = resolve_database(&mut cx);
    let redis = resolve_redis(&mut cx);
    let ingress = resolve_ingress(&mut cx);
    let secrets = resolve_secrets(&mut cx);

    let mut processes = Vec::new();
    for (name, process) in &app.processes {
        let ppath = Path::root().key("processes").key(name);
        let sized = match alloc
            .processes
            .get(name)
            .or_else(|| alloc.processes.get("*"))
        {
            Some(a) => Some((a, alloc_path_for(alloc, name))),
            None => {
                let file = cx.alloc_file().to_owned();
                cx.app_err(
                    &ppath,
                    format!(
                        "no allocation: {file} sizes no process `{name}` and has no `*` default"
                    ),
                    &format!("ask the operator to add processes.{name} to {file}"),
                );
                None
            }
        };
        let Some((pa, apath)) = sized else { continue };
        let resources = resources_for(&mut cx, pa, &apath);
        if process.service_type != ServiceType::ClusterIP {
            let kind = format!("{:?}", process.service_type);
            if process.port.is_none() {
                cx.app_err(
                    &ppath.key("serviceType"),
                    format!("a {kind} Service needs the process's `port`"),
                    "add port:, or drop serviceType",
                );
            } else if !pa.service_types.contains(&process.service_type) {
                let file = cx.alloc_file().to_owned();
                cx.app_err(
                    &ppath.key("serviceType"),
                    format!("{file} does not allow a {kind} Service for `{name}`"),
                    &format!(
                        "ask the operator to add serviceTypes: [{kind}] to {}, or use the Ingress",
                        apath
                    ),
                );
            }
        }
        let replicas = pa.replicas.unwrap_or(1);
        if process.singleton && replicas > 1 {
            cx.alloc_err(
                &apath.key("replicas"),
                format!("`{name}` is a singleton and runs at most one pod, not {replicas}"),
                "set replicas to 1 (or 0 to pause it)",
            );
        }
        let autoscaling = pa.autoscaling.as_ref().and_then(|a| {
            if process.singleton {
                cx.alloc_err(
                    &apath.key("autoscaling"),
                    format!("`{name}` is a singleton and cannot autoscale"),
                    "remove it",
                );
                return None;
            }
            let min = replicas.max(1);
            if a.max_replicas < min {
                cx.alloc_err(
                    &apath.key("autoscaling").key("maxReplicas"),
                    format!("{} is below replicas ({min})", a.max_replicas),
                    "raise maxReplicas or lower replicas",
                );
                return None;
            }
            Some(ResolvedAutoscaling {
                min_replicas: min,
                max_replicas: a.max_replicas,
                cpu_utilization: a.cpu_utilization.unwrap_or(80),
            })
        });
        if process.health.as_ref().is_some_and(|h| h.path.is_some()) && process.port.is_none() {
            cx.app_err(
                &ppath.key("health").key("path"),
                "an HTTP health check needs the process's `port`",
                "add port:, or check with `health: {command: [...]}`",
            );
        }
        let files_here: Vec<String> = files
            .iter()
            .filter(|f| f.processes.iter().any(|p| p == name))
            .map(|f| f.key.clone())
            .collect();
        let mounts_static = static_files
            .as_ref()
            .is_some_and(|s| s.processes.iter().any(|p| p == name));
        // The web pods also run an initContainer-mode init step, which mounts both.
        let runs_init = name == "web"
            && app
                .init
                .as_ref()
                .is_some_and(|i| i.mode == InitMode::InitContainer);
        let pod_volumes = PodVolumes {
            files: !files_here.is_empty() || (runs_init && !files.is_empty()),
            static_files: mounts_static || (runs_init && static_files.is_some()),
        };
        let (patches, sidecars, init_containers, volumes) = split_fragments(
            &mut cx,
            name,
            process.pod.as_ref(),
            &names,
            pod_volumes,
            &resources,
        );
        processes.push(ResolvedProcess {
            name: name.clone(),
            command: process.command.clone(),
            args: process.args.clone(),
            port: process.port,
            health_path: process.health.as_ref().and_then(|h| h.path.clone()),
            health_command: process.health.as_ref().and_then(|h| h.command.clone()),
            wait_for: process.wait_for.clone(),
            service_type: process.service_type,
            singleton: process.singleton,
            replicas: if process.singleton {
                replicas.min(1)
            } else {
                replicas
            },
            autoscaling,
            resources,
            patches,
            sidecars,
            init_containers,
            volumes,
            files: files_here,
            mounts_static,
        });
    }

    let init = app.init.as_ref().and_then(|init| {
        if init.mode == InitMode::InitContainer && !names.contains("web") {
            cx.app_err(
                &Path::root().key("init").key("mode"),
                "an initContainer runs in the pods of `web`, and the app has no `web` process",
                "use mode: job",
            );
        }
        let (pa, apath) = match alloc.processes.get("init") {
            Some(pa) => (pa, Path::root().key("processes").key("init")),
            None => {
                let fallback = if alloc.processes.contains_key("web") {
                    "web"
                } else {
                    "*"
                };
                (
                    alloc.processes.get(fallback)?,
                    Path::root().key("processes").key(fallback),
                )
            }
        };
        Some(ResolvedInit {
            command: init.command.clone(),
            args: init.args.clone(),
            mode: init.mode,
            resources: resources_for(&mut cx, pa, &apath),
            wait_for: init.wait_for.clone(),
        })
    });
    if app.init.is_some() && init.is_none() {
        let file = cx.alloc_file().to_owned();
        cx.app_err(
            &Path::root().key("init"),
            format!("no allocation: {file} sizes neither `init`, `web` nor `*`"),
            &format!("ask the operator to add processes.init to {file}"),
        );
    }

    check_single_attach(&mut cx, static_files.as_ref(), &processes, init.as_ref());
    check_wait_for(&mut cx);
    let sidecar_resources = platform.sidecar_resources();
    check_resources(
        &mut cx,
        &sidecar_resources,
        &Path::parse("policy.sidecarResources"),
        true,
    );

    if cx.diags.has_errors() {
        return (None, cx.diags);
    }
    let resolved = Resolved {
        identity: inputs.identity.clone(),
        namespace: alloc.namespace.clone(),
        image: app.image.clone(),
        processes,
        init,
        env,
        files,
        static_files,
        database,
        redis,
        ingress,
        ingress_namespace: platform
            .ingress
            .as_ref()
            .and_then(|i| i.controller_namespace.clone())
            .unwrap_or_else(|| "ingress-nginx".to_owned()),
        sidecar_resources,
        secrets,
        wait_image: platform.images.wait.clone(),
        monitoring: platform.monitoring.clone(),
        network,
    };
    (Some(resolved), cx.diags)
}

/// The platform's egress rules with the exceptions every rule gets: the cloud metadata
/// service and the cluster's own ranges. A rule inside one of those is refused.
fn resolve_network(cx: &mut Ctx<'_>) -> ResolvedNetwork {
    use crate::cidr::{self, Cidr, RuleError};
    let given = cx.inputs.platform.network.clone().unwrap_or_default();
    let at = Path::root().key("network");
    let mut forced: Vec<Cidr> = cidr::METADATA
        .iter()
        .filter_map(|s| Cidr::parse(s))
        .collect();
    forced.extend(given.cluster_cidrs.iter().filter_map(|s| Cidr::parse(s)));
    let rules: Vec<(Path, String, Vec<String>, Vec<u16>)> = match &given.egress {
        Some(rules) => rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    at.key("egress").index(i),
                    r.cidr.clone(),
                    r.except.clone(),
                    r.ports.clone(),
                )
            })
            .collect(),
        // The public internet: everything but the private, shared and link-local ranges.
        None => ["0.0.0.0/0", "::/0"]
            .into_iter()
            .map(|block| {
                let inside = Cidr::parse(block);
                let except = cidr::PRIVATE
                    .iter()
                    .filter(|p| {
                        inside
                            .zip(Cidr::parse(p))
                            .is_some_and(|(b, p)| b.contains(&p))
                    })
                    .map(|p| (*p).to_owned())
                    .collect();
                (at.clone(), block.to_owned(), except, Vec::new())
            })
            .collect(),
    };
    let mut egress = Vec::new();
    for (rule_at, block, except, ports) in rules {
        let Some(block_cidr) = Cidr::parse(&block) else {
            continue;
        };
        let given_except: Vec<Cidr> = except.iter().filter_map(|e| Cidr::parse(e)).collect();
        match cidr::exceptions(&block_cidr, &given_except, &forced) {
            Ok(except) => egress.push(ResolvedEgress {
                cidr: block,
                except: except.iter().map(ToString::to_string).collect(),
                ports,
            }),
            Err(RuleError::Forbidden { inside }) => cx.platform_err(
                &rule_at.key("cidr"),
                format!("`{block}` lies inside `{inside}`, which no app may reach (the cloud metadata service, or the cluster's own pods and services)"),
                "allow addresses outside it",
            ),
            Err(RuleError::ExceptOutside(e)) => cx.platform_err(
                &rule_at.key("except"),
                format!("`{e}` is not inside `{block}`"),
                "list only blocks inside the rule's cidr",
            ),
        }
    }
    let dns = given.dns.unwrap_or_else(|| crate::input::model::Dns {
        namespace: "kube-system".to_owned(),
        pod_labels: BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]),
    });
    ResolvedNetwork {
        egress,
        dns_namespace: dns.namespace,
        dns_labels: dns.pod_labels,
        api_server: given.api_server,
        database_operator_namespace: cx
            .inputs
            .platform
            .database
            .as_ref()
            .and_then(|d| d.operator_namespace.clone())
            .unwrap_or_else(|| "cnpg-system".to_owned()),
    }
}

/// A container may mount one thing at a path (the API server refuses two): a config file
/// at the static volume's mount, in a process that has both, is refused here.
fn check_mount_clash(
    cx: &mut Ctx<'_>,
    files: &[ResolvedFile],
    static_files: Option<&ResolvedStatic>,
) {
    let Some(s) = static_files else { return };
    let runs_init_in_web = cx
        .inputs
        .app
        .init
        .as_ref()
        .is_some_and(|i| i.mode == InitMode::InitContainer);
    for (i, f) in cx.inputs.app.files.iter().enumerate() {
        let Some(resolved) = files.iter().find(|r| r.path == f.path) else {
            continue;
        };
        // The init step mounts every file and the static volume.
        let together = cx.inputs.app.init.is_some()
            || resolved
                .processes
                .iter()
                .any(|p| s.processes.contains(p) || (runs_init_in_web && p == "web"));
        if f.mount == s.mount && together {
            cx.app_err(
                &Path::root().key("files").index(i).key("mount"),
                format!("`{}` is also where the static volume is mounted", f.mount),
                "mount the file elsewhere, or inside the static volume's directory",
            );
        }
    }
}

/// `waitFor` names services the app uses, and the platform has the images to wait with.
fn check_wait_for(cx: &mut Ctx<'_>) {
    let app = cx.inputs.app;
    let mut lists: Vec<(Path, &[Service])> = app
        .processes
        .iter()
        .map(|(name, p)| {
            (
                Path::root().key("processes").key(name).key("waitFor"),
                p.wait_for.as_slice(),
            )
        })
        .collect();
    if let Some(init) = &app.init {
        lists.push((Path::root().key("init").key("waitFor"), &init.wait_for));
    }
    let mut needs_wait_image = false;
    for (at, list) in lists {
        for (i, service) in list.iter().enumerate() {
            if !app.services.contains(service) {
                let name = match service {
                    Service::Postgres => "postgres",
                    Service::Redis => "redis",
                };
                cx.app_err(
                    &at.index(i),
                    format!("the app does not use `{name}`"),
                    &format!("add `{name}` to `services:`, or drop it here"),
                );
            }
            needs_wait_image |= *service == Service::Postgres;
        }
    }
    if needs_wait_image && cx.inputs.platform.images.wait.is_none() {
        cx.platform_err(
            &Path::parse("images"),
            "an app waits for its database, and no `images.wait` is set",
            "pin an image with sh and pg_isready (e.g. a postgres image) under images.wait",
        );
    }
}

/// A ReadWriteOnce volume attaches to one node. Pods sharing it would have to be pinned
/// together, and then a node drain hangs: the evicted pod can only return to the cordoned
/// node, and the disruption budget holds the other. So it may have one pod at most.
fn check_single_attach(
    cx: &mut Ctx<'_>,
    static_files: Option<&ResolvedStatic>,
    processes: &[ResolvedProcess],
    init: Option<&ResolvedInit>,
) {
    let Some(s) = static_files else { return };
    if s.access_mode != "ReadWriteOnce" {
        return;
    }
    // Each process that mounts it, at its most pods (the autoscaling maximum, if any).
    let mounting: Vec<(&str, u32)> = processes
        .iter()
        .filter(|p| s.processes.contains(&p.name))
        .map(|p| {
            let most = p
                .autoscaling
                .as_ref()
                .map_or(p.replicas, |a| a.max_replicas);
            (p.name.as_str(), most)
        })
        .collect();
    let mut total: u32 = mounting.iter().map(|(_, most)| most).sum();
    let mut pods: Vec<String> = mounting
        .iter()
        .map(|(name, most)| format!("{name} {most}"))
        .collect();
    if init.is_some_and(|i| i.mode == InitMode::Job) {
        total += 1;
        pods.push("init job 1".to_owned());
    }
    if total > 1 {
        let at = if cx
            .inputs
            .allocation_doc
            .root
            .at(&Path::parse("storage.static.shared"))
            .is_some()
        {
            Path::parse("storage.static.shared")
        } else {
            Path::parse("storage.static")
        };
        cx.alloc_err(
            &at,
            format!(
                "a ReadWriteOnce volume attaches to one node, and {total} pods mount it ({})",
                pods.join(", ")
            ),
            "set `shared: true`, or run one pod of what mounts it",
        );
    }
}

fn alloc_path_for(alloc: &Allocation, name: &str) -> Path {
    let key = if alloc.processes.contains_key(name) {
        name
    } else {
        "*"
    };
    Path::root().key("processes").key(key)
}

/// CPU and memory for a process: explicit values over the named plan.
fn resources_for(cx: &mut Ctx<'_>, pa: &ProcessAllocation, at: &Path) -> Resources {
    let sized = cx.inputs.platform.process_resources(pa);
    if let Some(p) = &sized.unknown_plan {
        let known: Vec<&str> = cx
            .inputs
            .platform
            .plans
            .keys()
            .map(String::as_str)
            .collect();
        let platform_file = cx.inputs.platform_doc.file.clone();
        cx.alloc_err(
            &at.key("plan"),
            format!("no plan `{p}` in {platform_file}"),
            &format!("use one of: {}", known.join(", ")),
        );
    }
    match (sized.cpu, sized.memory) {
        (Some(cpu), Some(memory)) => {
            let r = Resources {
                cpu,
                memory,
                ephemeral_storage: Some(sized.ephemeral_storage),
            };
            check_resources(cx, &r, at, false);
            r
        }
        _ => {
            if pa.plan.is_none() {
                cx.alloc_err(
                    at,
                    "neither a plan nor both cpu and memory",
                    "add `plan:` or `cpu:` and `memory:`",
                );
            }
            Resources {
                cpu: "0".into(),
                memory: "0".into(),
                ephemeral_storage: Some("0".into()),
            }
        }
    }
}

fn check_resources(cx: &mut Ctx<'_>, r: &Resources, at: &Path, platform: bool) {
    let ephemeral = r.ephemeral_storage.clone().unwrap_or_default();
    for (field, value) in [
        ("cpu", &r.cpu),
        ("memory", &r.memory),
        ("ephemeralStorage", &ephemeral),
    ] {
        if Quantity::parse(value).is_some_and(Quantity::is_zero) {
            let message = format!("`{value}` is zero");
            if platform {
                cx.platform_err(&at.key(field), message, "give more than zero");
            } else {
                cx.alloc_err(&at.key(field), message, "give more than zero");
            }
        }
    }
}

/// Images must carry a tag or digest and match the platform's registry patterns.
fn check_image(cx: &mut Ctx<'_>, image: &str, at: &Path) {
    let last = image.rsplit('/').next().unwrap_or(image);
    if !last.contains(':') && !last.contains('@') {
        cx.app_err(
            at,
            format!("`{image}` names no tag or digest"),
            "pin it, like `:1.4.2` or `@sha256:…`",
        );
    }
    let patterns = &cx.inputs.platform.policy.registries;
    if !patterns.iter().any(|p| glob(p, image)) {
        let file = cx.inputs.platform_doc.file.clone();
        cx.app_err(
            at,
            format!(
                "`{image}` is not from a registry the platform allows ({file}: policy.registries)"
            ),
            &format!("use an image matching one of: {}", patterns.join(", ")),
        );
    }
}

/// `*` matches any run of characters; everything else matches itself. A dozen lines do
/// not justify a glob crate.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// `processes:` lists under `files` and `static` must name processes of the app.
fn check_process_lists(cx: &mut Ctx<'_>, names: &BTreeSet<&str>) {
    let mut lists: Vec<(Path, Vec<String>)> = Vec::new();
    for (i, f) in cx.inputs.app.files.iter().enumerate() {
        if let Some(p) = &f.processes {
            lists.push((
                Path::root().key("files").index(i).key("processes"),
                p.clone(),
            ));
        }
    }
    if let Some(p) = cx
        .inputs
        .app
        .static_files
        .as_ref()
        .and_then(|s| s.processes.clone())
    {
        lists.push((Path::root().key("static").key("processes"), p));
    }
    for (path, list) in lists {
        for (j, name) in list.iter().enumerate() {
            if !names.contains(name.as_str()) {
                cx.app_err(
                    &path.index(j),
                    format!("the app has no process `{name}`"),
                    "name one of `processes:`",
                );
            }
        }
    }
}

fn resolve_env(cx: &mut Ctx<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let services = &cx.inputs.app.services;
    for key in cx.inputs.app.env.keys() {
        let path = Path::root().key("env").key(key);
        let reserved = match key.as_str() {
            "DATABASE_URL" if services.contains(&Service::Postgres) => Some("postgres"),
            "REDIS_URL" if services.contains(&Service::Redis) => Some("redis"),
            _ => None,
        };
        if let Some(service) = reserved {
            cx.app_err(
                &path,
                format!("set by the platform for `services: [{service}]`"),
                "remove it",
            );
            continue;
        }
        // The source text, so that `0777` and `1_000` reach the app as written.
        let text = cx
            .inputs
            .app_doc
            .root
            .at(&path)
            .and_then(|n| n.scalar_text())
            .unwrap_or_default()
            .to_owned();
        env.insert(key.clone(), text);
    }
    env
}

fn resolve_files(cx: &mut Ctx<'_>, names: &BTreeSet<&str>) -> Vec<ResolvedFile> {
    let mut out: Vec<ResolvedFile> = Vec::new();
    let mut total = 0u64;
    let mut mounts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, f) in cx.inputs.app.files.iter().enumerate() {
        let at = Path::root().key("files").index(i);
        if f.path.split('/').any(|c| c == ".git") {
            cx.app_err(
                &at.key("path"),
                format!("`{}` is inside git's own data", f.path),
                "mount files of the app, not of `.git`",
            );
            continue;
        }
        let content = match cx.inputs.app_tree.read(&f.path, MAX_FILE_BYTES) {
            Ok(c) => c,
            Err(e) => {
                cx.app_err(
                    &at.key("path"),
                    e.to_string(),
                    "point it at a file inside the app directory",
                );
                continue;
            }
        };
        total += content.len() as u64;
        if total > MAX_FILES_TOTAL {
            cx.app_err(
                &at.key("path"),
                format!("config files add up to more than {MAX_FILES_TOTAL} bytes"),
                "ship large files in the image instead",
            );
        }
        let processes: Vec<String> = match &f.processes {
            Some(p) => p.clone(),
            None => names.iter().map(|s| (*s).to_owned()).collect(),
        };
        for p in &processes {
            if let Some(first) = mounts.insert((p.clone(), f.mount.clone()), i) {
                cx.app_err(
                    &at.key("mount"),
                    format!(
                        "`{}` is already mounted by files[{first}] in `{p}`",
                        f.mount
                    ),
                    "mount each file at its own path",
                );
            }
        }
        let key = config_key(&f.path);
        if key.len() > MAX_CONFIG_KEY {
            cx.app_err(
                &at.key("path"),
                format!(
                    "is {} characters as a ConfigMap key (`/` becomes `_`); Kubernetes allows {MAX_CONFIG_KEY}",
                    key.len()
                ),
                "use a shorter path",
            );
            continue;
        }
        if let Some(other) = out.iter().find(|o| o.key == key) {
            let other_path = other.path.clone();
            cx.app_err(
                &at.key("path"),
                format!(
                    "`{}` and `{other_path}` map to the same ConfigMap key `{key}`",
                    f.path
                ),
                "rename one of them",
            );
        }
        out.push(ResolvedFile {
            key,
            path: f.path.clone(),
            mount: f.mount.clone(),
            processes,
            content,
        });
    }
    out
}

/// A ConfigMap key for a repo path: `config/nginx.conf` becomes `config_nginx.conf`.
fn config_key(path: &str) -> String {
    path.trim_start_matches("./")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn resolve_static(cx: &mut Ctx<'_>, names: &BTreeSet<&str>) -> Option<ResolvedStatic> {
    let wanted = cx.inputs.app.static_files.as_ref()?;
    let Some(given) = cx.inputs.allocation.storage.static_files.as_ref() else {
        let file = cx.alloc_file().to_owned();
        cx.app_err(
            &Path::root().key("static"),
            format!("the app asks for a static files volume, and {file} gives none"),
            &format!("ask the operator to add storage.static to {file}"),
        );
        return None;
    };
    let size_path = Path::parse("storage.static.size");
    if Quantity::parse(&given.size).is_some_and(Quantity::is_zero) {
        cx.alloc_err(
            &size_path,
            format!("`{}` is zero", given.size),
            "give more than zero",
        );
    }
    let classes = &cx.inputs.platform.storage;
    let (access_mode, storage_class) = if given.shared {
        ("ReadWriteMany", classes.shared.clone())
    } else {
        ("ReadWriteOnce", classes.block.clone())
    };
    if given.shared && storage_class.is_none() {
        cx.platform_err(
            &Path::root().key("storage"),
            "an allocation asks for a shared (ReadWriteMany) volume, and no `storage.shared` class is set",
            "add storage.shared",
        );
    }
    Some(ResolvedStatic {
        mount: wanted.mount.clone(),
        size: given.size.clone(),
        access_mode: access_mode.to_owned(),
        storage_class,
        processes: wanted
            .processes
            .clone()
            .unwrap_or_else(|| names.iter().map(|s| (*s).to_owned()).collect()),
    })
}

fn resolve_database(cx: &mut Ctx<'_>) -> Option<ResolvedDatabase> {
    if !cx.inputs.app.services.contains(&Service::Postgres) {
        return None;
    }
    let services = Path::root().key("services");
    let Some(db) = cx.inputs.platform.database.clone() else {
        let file = cx.inputs.platform_doc.file.clone();
        cx.app_err(
            &services,
            format!("the app needs postgres, and {file} sets no `database:` provider"),
            "ask the operator to configure databases",
        );
        return None;
    };
    let size = match (db.provider, &cx.inputs.allocation.storage.database) {
        (DatabaseProvider::Cnpg, None) => {
            let file = cx.alloc_file().to_owned();
            cx.app_err(
                &services,
                format!("the app needs postgres, and {file} gives no `storage.database`"),
                &format!("ask the operator to add storage.database.size to {file}"),
            );
            return None;
        }
        (_, d) => d.as_ref().map(|d| d.size.clone()),
    };
    if let Some(s) = &size
        && Quantity::parse(s).is_some_and(Quantity::is_zero)
    {
        cx.alloc_err(
            &Path::parse("storage.database.size"),
            format!("`{s}` is zero"),
            "give more than zero",
        );
    }
    Some(ResolvedDatabase {
        provider: db.provider,
        size,
        instances: db.instances.unwrap_or(1),
        resources: cx.inputs.platform.database_resources(),
        storage_class: cx.inputs.platform.storage.block.clone(),
    })
}

fn resolve_redis(cx: &mut Ctx<'_>) -> Option<ResolvedRedis> {
    if !cx.inputs.app.services.contains(&Service::Redis) {
        return None;
    }
    let services = Path::root().key("services");
    let Some(given) = cx.inputs.allocation.redis.clone() else {
        let file = cx.alloc_file().to_owned();
        cx.app_err(
            &services,
            format!("the app needs redis, and {file} gives no `redis.memory`"),
            &format!("ask the operator to add redis.memory to {file}"),
        );
        return None;
    };
    let Some(image) = cx.inputs.platform.images.redis.clone() else {
        cx.platform_err(
            &Path::root().key("images"),
            "an app needs redis, and no `images.redis` is set",
            "pin a Redis image under images.redis",
        );
        return None;
    };
    let bytes = Quantity::parse(&given.memory).map_or(0, Quantity::whole);
    if bytes < 16 << 20 {
        cx.alloc_err(
            &Path::parse("redis.memory"),
            format!("`{}` is less than Redis needs to start", given.memory),
            "give at least 16Mi",
        );
    }
    Some(ResolvedRedis {
        image,
        memory: given.memory,
        // 80% of the limit: Redis needs headroom for buffers and fragmentation.
        maxmemory: u64::try_from(bytes / 5 * 4).unwrap_or(u64::MAX),
    })
}

fn resolve_ingress(cx: &mut Ctx<'_>) -> Option<ResolvedIngress> {
    let wanted = cx.inputs.app.ingress.as_ref()?;
    let at = Path::root().key("ingress");
    let web_port = cx.inputs.app.processes.get("web").and_then(|p| p.port);
    if web_port.is_none() {
        cx.app_err(
            &at,
            "an Ingress routes to the `web` process's port, and there is none",
            "add a `web` process with a `port`",
        );
    }
    let domains = &cx.inputs.allocation.domains;
    let file = cx.alloc_file().to_owned();
    for (i, host) in wanted.hosts.iter().enumerate() {
        if !domains.iter().any(|d| host_allowed(d, host)) {
            let allowed = if domains.is_empty() {
                "none".to_owned()
            } else {
                domains.join(", ")
            };
            cx.app_err(
                &at.key("hosts").index(i),
                format!("`{host}` is outside the domains the operator allows ({file}: {allowed})"),
                "use an allowed hostname, or ask the operator to add it",
            );
        }
    }
    let Some(policy) = cx.inputs.platform.ingress.clone() else {
        let pfile = cx.inputs.platform_doc.file.clone();
        cx.app_err(
            &at,
            format!("the app asks for an Ingress, and {pfile} sets no `ingress:`"),
            "ask the operator to configure ingress",
        );
        return None;
    };
    Some(ResolvedIngress {
        hosts: wanted.hosts.clone(),
        class_name: policy.class_name,
        cluster_issuer: policy.cluster_issuer,
    })
}

/// A hostname is allowed by `example.com` only as itself, and by `*.example.com` as one
/// more label in front (`shop.example.com`, not `a.b.example.com` nor `example.com`).
fn host_allowed(domain: &str, host: &str) -> bool {
    match domain.strip_prefix("*.") {
        Some(parent) => host
            .strip_suffix(parent)
            .and_then(|h| h.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => domain == host,
    }
}

type Fragments = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>);

/// Splits the global and the process's pod fragments into patches of the main container,
/// sidecars, init containers and volumes, and checks what they refer to.
/// Which of dovetail's own volumes a process's pods have, for fragments to mount.
#[derive(Debug, Clone, Copy)]
struct PodVolumes {
    files: bool,
    static_files: bool,
}

fn split_fragments(
    cx: &mut Ctx<'_>,
    process: &str,
    own: Option<&Value>,
    names: &BTreeSet<&str>,
    pod_volumes: PodVolumes,
    resources: &Resources,
) -> Fragments {
    let mut patches = Vec::new();
    let mut sidecars = Vec::new();
    let mut inits = Vec::new();
    let mut volumes = Vec::new();
    let global = cx.inputs.app.pod.clone();
    let sources = [
        (global.as_ref(), Path::root().key("pod"), true),
        (
            own,
            Path::root().key("processes").key(process).key("pod"),
            false,
        ),
    ];
    for (fragment, at, is_global) in &sources {
        let (Some(fragment), is_global) = (fragment, *is_global) else {
            continue;
        };
        for (i, c) in list(fragment, "containers").iter().enumerate() {
            let cpath = at.key("containers").index(i);
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            check_container_refs(cx, c, &cpath);
            api_server_checks(cx, crate::merge::podcheck::container(c, false), &cpath);
            if name == process {
                patches.push(c.clone());
            } else if names.contains(name) {
                // A patch for another process: in the global fragment it is meant for
                // that process; in this process's own fragment it is a mistake.
                if !is_global {
                    cx.app_err(
                        &cpath.key("name"),
                        format!("`{name}` is another process's container"),
                        "patch it under that process, or rename the sidecar",
                    );
                }
            } else {
                if c.get("image").is_none() {
                    cx.app_err(
                        &cpath,
                        format!("sidecar `{name}` has no image"),
                        &format!(
                            "add image:, or name it `{process}` to patch the process's container"
                        ),
                    );
                }
                sidecars.push(c.clone());
            }
        }
        for (i, c) in list(fragment, "initContainers").iter().enumerate() {
            let cpath = at.key("initContainers").index(i);
            check_container_refs(cx, c, &cpath);
            api_server_checks(cx, crate::merge::podcheck::container(c, true), &cpath);
            if c.get("image").is_none() {
                cx.app_err(&cpath, "an init container needs an image", "add image:");
            }
            inits.push(c.clone());
        }
        for (i, v) in list(fragment, "volumes").iter().enumerate() {
            let vpath = at.key("volumes").index(i);
            check_volume_refs(cx, v, &vpath);
            api_server_checks(cx, crate::merge::podcheck::volume(v), &vpath);
            let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.starts_with("dovetail-") {
                cx.app_err(
                    &vpath.key("name"),
                    format!("`{name}` is a name dovetail reserves"),
                    "rename the volume",
                );
            } else if volumes
                .iter()
                .any(|o: &Value| o.get("name") == v.get("name"))
            {
                cx.app_err(
                    &vpath.key("name"),
                    format!("volume `{name}` is defined twice for `{process}`"),
                    "rename one of them",
                );
            }
            let mut v = v.clone();
            cap_empty_dir(cx, process, &mut v, &vpath, resources);
            volumes.push(v);
        }
    }
    check_pod_names(cx, process, &sources, &volumes, pod_volumes);
    (patches, sidecars, inits, volumes)
}

/// Reports what kube-apiserver's own validation would refuse in a fragment's container
/// or volume (see [`crate::merge::podcheck`]), at its place under `at`.
fn api_server_checks(cx: &mut Ctx<'_>, problems: Vec<crate::merge::podcheck::Problem>, at: &Path) {
    for p in problems {
        let mut path = at.clone();
        for seg in p.at {
            path = match seg {
                crate::merge::podcheck::Seg::Key(k) => path.key(&k),
                crate::merge::podcheck::Seg::Index(i) => path.index(i),
            };
        }
        cx.app_err(&path, p.message, &p.hint);
    }
}

/// An `emptyDir` of a fragment gets a size limit, and may not ask for more than the
/// operator gives the process: its local storage (its memory, for `medium: Memory`,
/// which the kernel counts as memory). Without a limit one pod could fill its node.
fn cap_empty_dir(cx: &mut Ctx<'_>, process: &str, v: &mut Value, at: &Path, resources: &Resources) {
    let Some(Value::Object(dir)) = v.get_mut("emptyDir") else {
        return;
    };
    let in_memory = dir.get("medium").and_then(Value::as_str) == Some("Memory");
    let (cap, what) = if in_memory {
        (resources.memory.clone(), "memory")
    } else {
        (
            resources.ephemeral_storage.clone().unwrap_or_default(),
            "local storage",
        )
    };
    let at = at.key("emptyDir").key("sizeLimit");
    match dir.get("sizeLimit") {
        None => {
            dir.insert("sizeLimit".into(), Value::String(cap));
        }
        Some(given) => {
            let text = match given {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            match (Quantity::parse(&text), Quantity::parse(&cap)) {
                (Some(g), Some(c)) if g > c => {
                    let file = cx.alloc_file().to_owned();
                    cx.app_err(
                        &at,
                        format!(
                            "`{text}` is more than the {cap} of {what} `{process}` gets ({file})"
                        ),
                        &format!("ask for at most {cap}, or leave sizeLimit out to get that much"),
                    );
                }
                (None, _) => cx.app_err(
                    &at,
                    format!(
                        "`{}` is not a quantity of bytes",
                        crate::diag::escaped(&text)
                    ),
                    "write it like 512Mi or 1Gi",
                ),
                _ => {}
            }
        }
    }
}

/// What Kubernetes would refuse at apply time, refused here with a place to point at:
/// two containers of one pod with the same name, and mounts of volumes the pod lacks.
fn check_pod_names(
    cx: &mut Ctx<'_>,
    process: &str,
    sources: &[(Option<&Value>, Path, bool); 2],
    volumes: &[Value],
    pod_volumes: PodVolumes,
) {
    // The names of the containers dovetail adds (the init step, the waits) are taken in
    // every pod, whether this one has them or not: a fragment that works today must not
    // break when the app starts waiting for its database.
    let mut seen: BTreeSet<String> = [process, "init", "wait-for-postgres", "wait-for-redis"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let names: BTreeSet<&str> = cx.inputs.app.processes.keys().map(String::as_str).collect();
    let mut known_volumes: BTreeSet<String> = volumes
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if pod_volumes.files {
        known_volumes.insert("dovetail-files".to_owned());
    }
    if pod_volumes.static_files {
        known_volumes.insert("dovetail-static".to_owned());
    }
    for (fragment, at, _) in sources {
        let Some(fragment) = fragment else { continue };
        for list_name in ["initContainers", "containers"] {
            for (i, c) in list(fragment, list_name).iter().enumerate() {
                let cpath = at.key(list_name).index(i);
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                let patch = list_name == "containers" && names.contains(name);
                if !patch && !seen.insert(name.to_owned()) {
                    cx.app_err(
                        &cpath.key("name"),
                        format!(
                            "a container named `{name}` already runs in the pods of `{process}`"
                        ),
                        "give it another name",
                    );
                }
                for (j, m) in list(c, "volumeMounts").iter().enumerate() {
                    let vname = m.get("name").and_then(Value::as_str).unwrap_or_default();
                    if !known_volumes.contains(vname) {
                        let hint = match vname {
                            "dovetail-static" => format!(
                                "list `{process}` under `static.processes` so its pods get the static volume"
                            ),
                            "dovetail-files" => format!(
                                "list `{process}` under a file's `processes` so its pods get the files"
                            ),
                            _ => {
                                "add it under `volumes:` of the same fragment or the global `pod:`"
                                    .to_owned()
                            }
                        };
                        cx.app_err(
                            &cpath.key("volumeMounts").index(j).key("name"),
                            format!("no volume `{vname}` in the pods of `{process}`"),
                            &hint,
                        );
                    }
                }
            }
        }
    }
}

fn list<'v>(v: &'v Value, key: &str) -> &'v [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// What a fragment's reference names.
#[derive(Clone, Copy)]
enum RefKind {
    Secret,
    ConfigMap,
}

/// A fragment may name only the Secrets and ConfigMaps dovetail renders for the app's
/// pods: not another app's, not the platform's (backup credentials), and not those
/// CloudNativePG keeps for itself (`<app>-db-superuser`, `-replication`, `-ca`, `-server`).
fn check_ref(cx: &mut Ctx<'_>, kind: RefKind, name: Option<&str>, at: &Path) {
    let Some(name) = name else { return };
    let app = &cx.inputs.identity.app;
    let allowed: [String; 2] = match kind {
        RefKind::Secret => [format!("{app}-secrets"), format!("{app}-db-app")],
        RefKind::ConfigMap => [format!("{app}-env"), format!("{app}-files")],
    };
    if !allowed.iter().any(|a| a == name) {
        let what = match kind {
            RefKind::Secret => "Secret",
            RefKind::ConfigMap => "ConfigMap",
        };
        cx.app_err(
            at,
            format!("`{name}` is not a {what} of this app's pods"),
            &format!("refer to `{}` or `{}`", allowed[0], allowed[1]),
        );
    }
}

fn check_container_refs(cx: &mut Ctx<'_>, c: &Value, at: &Path) {
    if let Some(image) = c.get("image").and_then(Value::as_str) {
        let image = image.to_owned();
        check_image(cx, &image, &at.key("image"));
    }
    for (i, e) in list(c, "env").iter().enumerate() {
        for (kind, ref_kind) in [
            ("secretKeyRef", RefKind::Secret),
            ("configMapKeyRef", RefKind::ConfigMap),
        ] {
            if let Some(r) = e.get("valueFrom").and_then(|v| v.get(kind)) {
                let p = at
                    .key("env")
                    .index(i)
                    .key("valueFrom")
                    .key(kind)
                    .key("name");
                check_ref(cx, ref_kind, r.get("name").and_then(Value::as_str), &p);
            }
        }
    }
    for (i, e) in list(c, "envFrom").iter().enumerate() {
        for (kind, ref_kind) in [
            ("secretRef", RefKind::Secret),
            ("configMapRef", RefKind::ConfigMap),
        ] {
            if let Some(r) = e.get(kind) {
                let p = at.key("envFrom").index(i).key(kind).key("name");
                check_ref(cx, ref_kind, r.get("name").and_then(Value::as_str), &p);
            }
        }
    }
}

fn check_volume_refs(cx: &mut Ctx<'_>, v: &Value, at: &Path) {
    if let Some(cm) = v.get("configMap") {
        check_ref(
            cx,
            RefKind::ConfigMap,
            cm.get("name").and_then(Value::as_str),
            &at.key("configMap").key("name"),
        );
    }
    if let Some(s) = v.get("secret") {
        check_ref(
            cx,
            RefKind::Secret,
            s.get("secretName").and_then(Value::as_str),
            &at.key("secret").key("secretName"),
        );
    }
    if let Some(p) = v.get("projected") {
        for (i, src) in list(p, "sources").iter().enumerate() {
            for (kind, ref_kind) in [
                ("configMap", RefKind::ConfigMap),
                ("secret", RefKind::Secret),
            ] {
                if let Some(r) = src.get(kind) {
                    let path = at
                        .key("projected")
                        .key("sources")
                        .index(i)
                        .key(kind)
                        .key("name");
                    check_ref(cx, ref_kind, r.get("name").and_then(Value::as_str), &path);
                }
            }
        }
    }
}

/// Reads the secrets file `app` names, checks it against its schema and every value's
/// form (without decrypting), and returns it with its document.
pub fn load_secrets(
    tree: &Tree,
    app_doc: &Doc,
    app: &App,
    diags: &mut Diagnostics,
) -> Option<(Doc, crate::input::model::SecretsFile)> {
    let rel = app.secrets.as_deref()?;
    let dir = app_doc
        .file
        .strip_suffix("dovetail.yaml")
        .unwrap_or_default();
    let shown = format!("{dir}{rel}");
    let doc = crate::input::doc::read_doc(tree, rel, &shown, diags)?;
    let file: crate::input::model::SecretsFile =
        crate::input::doc::typed(crate::input::schema::SchemaKind::Secrets, &doc, diags)?;
    let before = diags.error_count();
    for (key, armored) in &file.data {
        if let Err(e) = crate::crypto::check_form(armored) {
            let path = Path::root().key("data").key(key);
            diags.push(doc.error(&path, e.to_string()).hint(e.hint()));
        }
    }
    if let Some(pull) = &app.image_pull_secret
        && !file.data.contains_key(pull)
    {
        diags.push(
            app_doc
                .error(
                    &Path::root().key("imagePullSecret"),
                    format!("`{pull}` is not a key of {shown}"),
                )
                .hint("add it with `dovetail secrets set`"),
        );
    }
    (diags.error_count() == before).then_some((doc, file))
}

fn resolve_secrets(cx: &mut Ctx<'_>) -> Option<ResolvedSecrets> {
    let app = cx.inputs.app;
    if app.secrets.is_none() {
        if app.image_pull_secret.is_some() {
            cx.app_err(
                &Path::root().key("imagePullSecret"),
                "names a secret, and there is no `secrets:` file",
                "add `secrets: secrets.yaml`",
            );
        }
        return None;
    }
    let (doc, file) = load_secrets(cx.inputs.app_tree, cx.inputs.app_doc, app, &mut cx.diags)?;
    let parts: Vec<&[u8]> = file
        .data
        .iter()
        .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()])
        .collect();
    let checksum = sha256_hex(&parts);
    let identity = cx.inputs.identity;
    let mut values = BTreeMap::new();
    let mut pull = None;
    for key in file.data.keys() {
        let at = Path::root().key("data").key(key);
        // The platform's own variables are set in `env`, which wins over the Secret's
        // `envFrom`: a value here would be silently ignored.
        let platform_var = match key.as_str() {
            "DATABASE_URL" if app.services.contains(&Service::Postgres) => Some("postgres"),
            "REDIS_URL" if app.services.contains(&Service::Redis) => Some("redis"),
            _ => None,
        };
        if let Some(service) = platform_var {
            let d = doc
                .error(
                    &at,
                    format!("set by the platform for `services: [{service}]`"),
                )
                .hint("remove it; the platform's value is the one the app gets");
            cx.diags.push(d);
        } else if app.env.contains_key(key) {
            let d = doc
                .error(&at, "also a plain value under `env:` in dovetail.yaml")
                .hint("keep it in one place: secret values here, plain ones under `env:`");
            cx.diags.push(d);
        }
    }
    for (key, armored) in &file.data {
        let value = match cx.inputs.identities {
            None => None,
            Some(ids) => {
                let binding = crate::crypto::Binding {
                    tenant: &identity.tenant,
                    app: &identity.app,
                    key,
                };
                match crate::crypto::decrypt(armored, ids, &binding) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let d = doc
                            .error(&Path::root().key("data").key(key), e.to_string())
                            .hint(e.hint());
                        cx.diags.push(d);
                        continue;
                    }
                }
            }
        };
        if app.image_pull_secret.as_deref() == Some(key.as_str()) {
            if let Some(v) = &value
                && !is_docker_config(v)
            {
                let d = doc
                    .error(
                        &Path::root().key("data").key(key),
                        "the image pull secret is not a dockerconfigjson (a JSON object with `auths`)",
                    )
                    .hint("encrypt the content of a ~/.docker/config.json with only `auths`");
                cx.diags.push(d);
            }
            pull = Some(value);
        } else {
            values.insert(key.clone(), value);
        }
    }
    let ciphertexts = file
        .data
        .iter()
        .map(|(k, v)| (k.clone(), sha256_hex(&[v.as_bytes()])))
        .collect();
    Some(ResolvedSecrets {
        values,
        pull,
        checksum,
        ciphertexts,
        pull_key: app.image_pull_secret.clone(),
    })
}

fn is_docker_config(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .is_ok_and(|v| v.get("auths").is_some_and(Value::is_object))
}

/// A digest of bytes as lowercase hex, for checksum annotations.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_prefixes_and_everything() {
        assert!(glob("*", "anything/at:all"));
        assert!(glob(
            "registry.example.com/*",
            "registry.example.com/acme/shop:1"
        ));
        assert!(!glob(
            "registry.example.com/*",
            "evil.com/registry.example.com/x:1"
        ));
        assert!(glob(
            "docker.io/library/*:*",
            "docker.io/library/nginx:1.27"
        ));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("exact:1", "exact:1"));
    }

    #[test]
    fn wildcard_domains_allow_one_label() {
        assert!(host_allowed("*.apps.example.net", "shop.apps.example.net"));
        assert!(!host_allowed("*.apps.example.net", "a.b.apps.example.net"));
        assert!(!host_allowed("*.apps.example.net", "apps.example.net"));
        assert!(!host_allowed("*.apps.example.net", "evilapps.example.net"));
        assert!(host_allowed("shop.acme.example", "shop.acme.example"));
        assert!(!host_allowed("shop.acme.example", "x.shop.acme.example"));
    }

    #[test]
    fn config_keys_are_valid_configmap_keys() {
        assert_eq!(config_key("config/nginx.conf"), "config_nginx.conf");
        assert_eq!(config_key("./a b/c"), "a_b_c");
    }
}
