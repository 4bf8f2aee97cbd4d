//! The input documents as typed values, read from their JSON form after schema
//! validation passed (so a deserialisation error here means the schema and these types
//! disagree, which is a bug, not a user error).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The app's identity, from the operator repo's file layout: `tenants/<tenant>/<app>.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The tenant.
    pub tenant: String,
    /// The app.
    pub app: String,
}

/// `dovetail.yaml`: what the customer's app is.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct App {
    /// Always `dovetail/v1`.
    pub api_version: String,
    /// Always `App`.
    pub kind: String,
    /// The app's image.
    pub image: String,
    /// A step before the app starts.
    #[serde(default)]
    pub init: Option<Init>,
    /// One workload per process, by name.
    pub processes: BTreeMap<String, Process>,
    /// The file of age-encrypted values, relative to the app directory.
    #[serde(default)]
    pub secrets: Option<String>,
    /// A key of the secrets file holding a dockerconfigjson for pulling the image.
    #[serde(default)]
    pub image_pull_secret: Option<String>,
    /// Plain env for every process. Values are read from the source text instead, so
    /// that `0777` stays `0777`; this map only carries the keys.
    #[serde(default)]
    pub env: BTreeMap<String, Value>,
    /// Config files from the repo.
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// A volume for static and media files.
    #[serde(default, rename = "static")]
    pub static_files: Option<Static>,
    /// Platform services the app needs.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Wanted hostnames.
    #[serde(default)]
    pub ingress: Option<Ingress>,
    /// A pod fragment for every process.
    #[serde(default)]
    pub pod: Option<Value>,
}

/// How the init step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum InitMode {
    /// An init container in every pod of `web`.
    #[default]
    InitContainer,
    /// A Job run once per sync, as an ArgoCD PreSync hook.
    Job,
}

/// The init step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Init {
    /// The command.
    pub command: Vec<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// How it runs.
    #[serde(default)]
    pub mode: InitMode,
    /// Platform services to wait for first.
    #[serde(default)]
    pub wait_for: Vec<Service>,
}

/// One process of the app.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Process {
    /// The command; the image's entrypoint when absent.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Its arguments.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// The port it serves on; gets a Service.
    #[serde(default)]
    pub port: Option<u16>,
    /// A health check.
    #[serde(default)]
    pub health: Option<Health>,
    /// Exactly one pod, never two at once.
    #[serde(default)]
    pub singleton: bool,
    /// Platform services to wait for before starting.
    #[serde(default)]
    pub wait_for: Vec<Service>,
    /// How its Service is exposed.
    #[serde(default)]
    pub service_type: ServiceType,
    /// A pod fragment for this process.
    #[serde(default)]
    pub pod: Option<Value>,
}

/// A health check: one of an HTTP path or a command (the schema requires exactly one).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Health {
    /// The HTTP path probed on the process's port.
    #[serde(default)]
    pub path: Option<String>,
    /// A command run in the container; exit 0 means healthy.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// A config file mounted read-only.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileSpec {
    /// Where it is in the app directory.
    pub path: String,
    /// Where it appears in the container.
    pub mount: String,
    /// Which processes get it; all when absent.
    #[serde(default)]
    pub processes: Option<Vec<String>>,
}

/// The static files volume, as the customer asks for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Static {
    /// Where it is mounted.
    pub mount: String,
    /// Which processes mount it; all when absent.
    #[serde(default)]
    pub processes: Option<Vec<String>>,
}

/// How a process's Service is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ServiceType {
    /// Inside the cluster only (through the Ingress from outside).
    #[default]
    ClusterIP,
    /// A cloud load balancer.
    LoadBalancer,
    /// A port on every node.
    NodePort,
}

/// A service the platform provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Service {
    /// A PostgreSQL database; `DATABASE_URL`.
    Postgres,
    /// A Redis; `REDIS_URL`.
    Redis,
}

/// Wanted hostnames.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    /// The hostnames.
    pub hosts: Vec<String>,
}

/// `tenants/<tenant>/<app>.yaml`: what the app gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allocation {
    /// Always `dovetail/v1`.
    pub api_version: String,
    /// Always `Allocation`.
    pub kind: String,
    /// The customer repo this app must come from.
    pub repo: String,
    /// The app directory inside that repo.
    #[serde(default)]
    pub path: Option<String>,
    /// The customer repo's revision ArgoCD deploys (fleet mode); `HEAD` when absent.
    #[serde(default)]
    pub revision: Option<String>,
    /// The app's namespace.
    pub namespace: String,
    /// Hostnames the app may use.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Sizes per process; `*` for the rest.
    pub processes: BTreeMap<String, ProcessAllocation>,
    /// Storage sizes.
    #[serde(default)]
    pub storage: StorageAllocation,
    /// Redis memory.
    #[serde(default)]
    pub redis: Option<RedisAllocation>,
    /// The namespace's quota, instead of the derived one (fleet mode).
    #[serde(default)]
    pub quota: Option<QuotaAllocation>,
    /// A restore in progress: the database bootstrapped from its backups.
    #[serde(default)]
    pub restore: Option<Restore>,
    /// The cluster the app runs on: a key of the platform's `clusters`, or `in-cluster`
    /// (the default, Argo CD's own cluster).
    #[serde(default)]
    pub cluster: Option<String>,
}

/// What an allocation restores while it says so (temporary, see the README's runbook).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Restore {
    /// The database.
    pub database: RestoreDatabase,
}

/// The database restore.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreDatabase {
    /// Where from: the app's own backups.
    pub from: RestoreSource,
    /// Recover up to this moment (RFC 3339) instead of the last archived change.
    #[serde(default)]
    pub point_in_time: Option<String>,
}

/// Where a restore reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RestoreSource {
    /// The app's own backups, of the generation before the allocation's.
    Backup,
}

/// An explicit namespace quota; what is left out is derived.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaAllocation {
    /// CPU of all pods together.
    #[serde(default, deserialize_with = "quantity_opt")]
    pub cpu: Option<String>,
    /// Memory of all pods together.
    #[serde(default)]
    pub memory: Option<String>,
    /// Storage of all volume claims together.
    #[serde(default)]
    pub storage: Option<String>,
    /// Local storage of all containers together.
    #[serde(default)]
    pub ephemeral_storage: Option<String>,
}

/// What one process gets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessAllocation {
    /// Pods (the minimum, under autoscaling); 1 when absent.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// A plan of `platform.yaml`.
    #[serde(default)]
    pub plan: Option<String>,
    /// CPU per pod, over the plan's.
    #[serde(default, deserialize_with = "quantity_opt")]
    pub cpu: Option<String>,
    /// Memory per pod, over the plan's.
    #[serde(default)]
    pub memory: Option<String>,
    /// Local storage of the process's container, over the plan's and the platform's.
    #[serde(default)]
    pub ephemeral_storage: Option<String>,
    /// A HorizontalPodAutoscaler.
    #[serde(default)]
    pub autoscaling: Option<Autoscaling>,
    /// Service types beyond ClusterIP the app may use for this process.
    #[serde(default)]
    pub service_types: Vec<ServiceType>,
}

/// Autoscaling bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Autoscaling {
    /// The most pods.
    pub max_replicas: u32,
    /// Target CPU use in percent of the request.
    #[serde(default)]
    pub cpu_utilization: Option<u32>,
}

/// Storage sizes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageAllocation {
    /// The static files volume.
    #[serde(default, rename = "static")]
    pub static_files: Option<StaticAllocation>,
    /// The database volume.
    #[serde(default)]
    pub database: Option<DatabaseAllocation>,
}

/// The static files volume, as the operator sizes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticAllocation {
    /// Its size.
    pub size: String,
    /// ReadWriteMany when true, ReadWriteOnce otherwise.
    #[serde(default)]
    pub shared: bool,
}

/// The database volume, and whether and where its backups go.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseAllocation {
    /// Its size.
    pub size: String,
    /// `false` opts this app out of the platform's backups.
    #[serde(default)]
    pub backup: Option<bool>,
    /// The backup generation the database archives to (default 1); a restore reads the
    /// one before.
    #[serde(default)]
    pub generation: Option<u32>,
}

impl DatabaseAllocation {
    /// The generation the database archives to.
    pub fn generation(&self) -> u32 {
        self.generation.unwrap_or(1)
    }
}

/// Redis memory, and its volume when it must keep what it holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisAllocation {
    /// The memory limit.
    pub memory: String,
    /// An append-only file on a volume: queued jobs survive a restart.
    #[serde(default)]
    pub persistence: Option<RedisPersistence>,
}

/// Redis' volume.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisPersistence {
    /// Its size.
    pub size: String,
}

/// `platform.yaml`: defaults and policy for every app.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Platform {
    /// Always `dovetail/v1`.
    pub api_version: String,
    /// Always `Platform`.
    pub kind: String,
    /// The platform's age recipients.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Helper images.
    pub images: Images,
    /// Ingress settings.
    #[serde(default)]
    pub ingress: Option<IngressPolicy>,
    /// Storage classes.
    #[serde(default)]
    pub storage: StorageClasses,
    /// How databases are provided.
    #[serde(default)]
    pub database: Option<Database>,
    /// Prometheus scraping.
    #[serde(default)]
    pub monitoring: Option<Monitoring>,
    /// Policy.
    pub policy: Policy,
    /// Named sizes.
    pub plans: BTreeMap<String, Resources>,
    /// What apps may reach on the network, beyond their own pods, DNS and their
    /// database.
    #[serde(default)]
    pub network: Option<Network>,
    /// How the customers' secret values reach their pods.
    #[serde(default)]
    pub secrets: SecretsPolicy,
    /// Argo CD destinations besides in-cluster, by name.
    #[serde(default)]
    pub clusters: BTreeMap<String, Cluster>,
    /// Where Argo CD runs.
    #[serde(default)]
    pub argocd: Option<ArgoCd>,
}

/// Where Argo CD runs (`platform.yaml` `argocd`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCd {
    /// Argo CD's namespace, when it is not `argocd`.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A cluster apps may be allocated to besides Argo CD's own (`platform.yaml` `clusters`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// Its API server's URL, as Argo CD's cluster Secret for it names it: Argo CD
    /// matches an Application's destination to a registered cluster by this text.
    pub server: String,
}

/// How the customers' secret values reach their pods.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsPolicy {
    /// Where values are decrypted.
    #[serde(default)]
    pub decryption: Decryption,
}

/// Where the customers' secret values are decrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Decryption {
    /// In the cluster, by `dovetail controller`: the render carries the ciphertexts in an
    /// `AgeSecret`, and neither Argo CD nor its sidecar ever holds a plaintext or the key.
    #[default]
    Cluster,
    /// At render time, by the plugin, with the identity of its own environment: the
    /// render holds the Secret (and Argo CD's cache with it).
    Render,
}

/// The network around every app (each app's egress NetworkPolicies).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    /// Where app pods may connect, beyond their own pods, DNS and their database; the
    /// public internet (every address but the private, shared and link-local ranges)
    /// when absent, nothing when empty.
    #[serde(default)]
    pub egress: Option<Vec<EgressRule>>,
    /// The cluster's pod and service ranges: excepted from every egress rule, so that
    /// no rule an operator writes reaches other tenants' pods.
    #[serde(default, rename = "clusterCIDRs")]
    pub cluster_cidrs: Vec<String>,
    /// Where cluster DNS runs.
    #[serde(default)]
    pub dns: Option<Dns>,
    /// The API server's addresses, which CloudNativePG's instances must reach; any
    /// address on ports 443 and 6443 when absent.
    #[serde(default)]
    pub api_server: Vec<String>,
}

/// One block apps may connect to.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EgressRule {
    /// The block, like `0.0.0.0/0` or `203.0.113.0/24`.
    pub cidr: String,
    /// Blocks inside it that stay closed.
    #[serde(default)]
    pub except: Vec<String>,
    /// TCP ports; every port when absent.
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// Where cluster DNS runs: its namespace and its pods' labels.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dns {
    /// The namespace (default `kube-system`).
    pub namespace: String,
    /// The DNS pods' labels (default `k8s-app: kube-dns`).
    pub pod_labels: BTreeMap<String, String>,
}

/// Where Prometheus scrapes from.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Monitoring {
    /// Prometheus' namespace.
    pub namespace: String,
    /// Whether to render PodMonitors.
    #[serde(default)]
    pub pod_monitor: bool,
}

/// Helper images the platform adds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Images {
    /// nginx.
    #[serde(default)]
    pub nginx: Option<String>,
    /// Redis.
    #[serde(default)]
    pub redis: Option<String>,
    /// A small image used to wait for dependencies.
    #[serde(default)]
    pub wait: Option<String>,
}

/// Ingress settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressPolicy {
    /// The IngressClass.
    pub class_name: String,
    /// The cert-manager ClusterIssuer for TLS.
    #[serde(default)]
    pub cluster_issuer: Option<String>,
    /// The ingress controller's namespace.
    #[serde(default)]
    pub controller_namespace: Option<String>,
}

/// Storage classes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageClasses {
    /// For ReadWriteOnce volumes.
    #[serde(default)]
    pub block: Option<String>,
    /// For ReadWriteMany volumes.
    #[serde(default)]
    pub shared: Option<String>,
}

/// Database provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Database {
    /// `cnpg` or `external`.
    pub provider: DatabaseProvider,
    /// CloudNativePG instances.
    #[serde(default)]
    pub instances: Option<u32>,
    /// CPU and memory of each CloudNativePG instance.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// The CloudNativePG operator's namespace, allowed to reach each database's pods
    /// (default `cnpg-system`).
    #[serde(default)]
    pub operator_namespace: Option<String>,
    /// Continuous backups of every CloudNativePG database to an object store.
    #[serde(default)]
    pub backup: Option<Backup>,
}

/// Where and how often every app's database is backed up (the Barman Cloud plugin).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backup {
    /// The object store prefix (`s3://bucket/path`); each app's backups go under
    /// `<tenant>/<app>/` inside it.
    pub destination_path: String,
    /// The S3 endpoint, for stores other than AWS.
    #[serde(default, rename = "endpointURL")]
    pub endpoint_url: Option<String>,
    /// The Secret in each app's namespace with `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`.
    pub credentials_secret: String,
    /// When base backups run: a six-field cron expression (seconds first).
    pub schedule: String,
    /// How long backups are kept (`30d`, `4w`, `6m`).
    pub retention: String,
    /// Where the store is, for the database's egress policy; anywhere but the metadata
    /// service and the cluster's ranges when empty.
    #[serde(default)]
    pub egress: Vec<String>,
}

/// Who provides the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DatabaseProvider {
    /// A CloudNativePG `Cluster` per app.
    Cnpg,
    /// The operator provides `<app>-db-app` with key `uri`.
    External,
}

/// Policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Image patterns apps may use.
    pub registries: Vec<String>,
    /// Resources of every sidecar and helper container.
    pub sidecar_resources: Resources,
    /// How many sidecars a customer's fragments may add to each pod (default
    /// [`DEFAULT_MAX_SIDECARS`]).
    #[serde(default)]
    pub max_sidecars: Option<u32>,
    /// Local storage of each app container unless its plan or allocation says.
    #[serde(default)]
    pub ephemeral_storage: Option<String>,
}

/// CPU, memory and local (ephemeral) storage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU.
    #[serde(deserialize_with = "quantity")]
    pub cpu: String,
    /// Memory.
    pub memory: String,
    /// Local storage: the container's writable layer, its logs and the emptyDirs of its
    /// pod. Always set once resolved ([`Platform::process_resources`] and friends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<String>,
}

/// Local storage of an app container when neither its allocation, its plan nor the
/// platform (`policy.ephemeralStorage`) says: every container gets a limit, so that none
/// can fill its node's disk.
pub const DEFAULT_EPHEMERAL_STORAGE: &str = "1Gi";
/// How many sidecars a customer's fragments may add to each pod when `policy.maxSidecars`
/// does not say: enough for a web server in front of the app and a few exporters. Each
/// runs at `policy.sidecarResources` on top of what the allocation gives the process, so
/// without a bound fragments could take sixteen times that, and the fleet's
/// ResourceQuota could not be sized for what renders.
pub const DEFAULT_MAX_SIDECARS: u32 = 4;

/// Where the cluster DNS runs when `network.dns` does not say.
pub const DEFAULT_DNS_NAMESPACE: &str = "kube-system";
/// The most sidecars any operator may allow (`policy.maxSidecars`' schema maximum, and
/// as many containers as a pod fragment may list).
pub const MOST_SIDECARS: u32 = 16;
/// Local storage of a sidecar or helper container when `policy.sidecarResources` does
/// not say.
pub const DEFAULT_SIDECAR_EPHEMERAL_STORAGE: &str = "256Mi";

/// What one process's main container gets, by the one rule both the merge and the
/// fleet's quota follow: the allocation's explicit values over its plan's, and for local
/// storage the platform's default after both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessResources {
    /// CPU, if the allocation or its plan gives it.
    pub cpu: Option<String>,
    /// Memory, if the allocation or its plan gives it.
    pub memory: Option<String>,
    /// Local storage.
    pub ephemeral_storage: String,
    /// The plan named, when `platform.yaml` has no such plan.
    pub unknown_plan: Option<String>,
}

impl Platform {
    /// What a process sized by `pa` gets (see [`ProcessResources`]).
    pub fn process_resources(&self, pa: &ProcessAllocation) -> ProcessResources {
        let plan = pa.plan.as_ref().and_then(|p| self.plans.get(p));
        let unknown_plan = pa.plan.clone().filter(|_| plan.is_none());
        ProcessResources {
            cpu: pa.cpu.clone().or_else(|| plan.map(|p| p.cpu.clone())),
            memory: pa.memory.clone().or_else(|| plan.map(|p| p.memory.clone())),
            ephemeral_storage: pa
                .ephemeral_storage
                .clone()
                .or_else(|| plan.and_then(|p| p.ephemeral_storage.clone()))
                .or_else(|| self.policy.ephemeral_storage.clone())
                .unwrap_or_else(|| DEFAULT_EPHEMERAL_STORAGE.to_owned()),
            unknown_plan,
        }
    }

    /// Argo CD's namespace as the operator declares it, when they do.
    pub fn argocd_namespace(&self) -> Option<&str> {
        self.argocd.as_ref().and_then(|a| a.namespace.as_deref())
    }

    /// The ingress controller's namespace (default `ingress-nginx`).
    pub fn ingress_namespace(&self) -> &str {
        self.ingress
            .as_ref()
            .and_then(|i| i.controller_namespace.as_deref())
            .unwrap_or("ingress-nginx")
    }

    /// CloudNativePG's operator's namespace (default `cnpg-system`).
    pub fn database_operator_namespace(&self) -> &str {
        self.database
            .as_ref()
            .and_then(|d| d.operator_namespace.as_deref())
            .unwrap_or("cnpg-system")
    }

    /// The cluster DNS's namespace (default [`DEFAULT_DNS_NAMESPACE`]).
    pub fn dns_namespace(&self) -> &str {
        self.network
            .as_ref()
            .and_then(|n| n.dns.as_ref())
            .map_or(DEFAULT_DNS_NAMESPACE, |d| d.namespace.as_str())
    }

    /// How many sidecars a customer's fragments may add to each pod.
    pub fn max_sidecars(&self) -> u32 {
        self.policy.max_sidecars.unwrap_or(DEFAULT_MAX_SIDECARS)
    }

    /// What every sidecar and helper container gets, local storage filled in.
    pub fn sidecar_resources(&self) -> Resources {
        let mut r = self.policy.sidecar_resources.clone();
        r.ephemeral_storage
            .get_or_insert_with(|| DEFAULT_SIDECAR_EPHEMERAL_STORAGE.to_owned());
        r
    }

    /// What each CloudNativePG instance gets (default 500m, 1Gi, and the platform's
    /// default local storage).
    pub fn database_resources(&self) -> Resources {
        let mut r = self
            .database
            .as_ref()
            .and_then(|d| d.resources.clone())
            .unwrap_or_else(|| Resources {
                cpu: "500m".to_owned(),
                memory: "1Gi".to_owned(),
                ephemeral_storage: None,
            });
        if r.ephemeral_storage.is_none() {
            r.ephemeral_storage = Some(
                self.policy
                    .ephemeral_storage
                    .clone()
                    .unwrap_or_else(|| DEFAULT_EPHEMERAL_STORAGE.to_owned()),
            );
        }
        r
    }
}

/// A CPU quantity written as a string or a YAML number (`cpu: 1`), kept as text. The
/// schema's format checks only strings, so a number is held to the same rule here: `1e-7`
/// or `0.0009` would render as a quantity that rounds to zero CPU (a LimitRange with
/// `max.cpu: "0"`, a quota that admits nothing).
fn quantity<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) if crate::input::formats::cpu(&n.to_string()) => Ok(n.to_string()),
        Value::Number(_) => Err(serde::de::Error::custom(
            "expected a CPU quantity of at most three decimals, like 0.25 (or \"250m\")",
        )),
        other => Err(serde::de::Error::custom(format!(
            "expected a quantity, found {other}"
        ))),
    }
}

fn quantity_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    quantity(d).map(Some)
}

/// The customer's secrets file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsFile {
    /// Always `dovetail/v1`.
    pub api_version: String,
    /// Always `Secrets`.
    pub kind: String,
    /// Armored values by key.
    pub data: BTreeMap<String, String>,
}
