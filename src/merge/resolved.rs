//! The merged app: what the manifests are made of, and nothing more. [`super::resolve`]
//! builds it; `render` reads it; its JSON form is checked against
//! `schemas/resolved.schema.json` before anything is rendered.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::input::model::{DatabaseProvider, Identity, InitMode, Resources, Service, ServiceType};

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
    /// Where the values are decrypted: in the cluster (the render carries `armored`) or
    /// at render time (the render carries `values`).
    pub decryption: crate::input::model::Decryption,
    /// Every armored ciphertext by key, pull secret included, as the customer committed
    /// it: what an `AgeSecret` carries.
    pub armored: BTreeMap<String, String>,
}

impl ResolvedSecrets {
    /// Whether a rendered Secret would hold a value redacted, for want of an identity:
    /// never when values are decrypted in the cluster, where the render holds none.
    pub fn is_redacted(&self) -> bool {
        if self.decryption == crate::input::model::Decryption::Cluster {
            return false;
        }
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
    /// Continuous backups, unless the platform has none or the allocation opts out.
    pub backup: Option<ResolvedBackup>,
    /// A restore in progress: bootstrap from the previous generation's backups.
    pub restore: Option<ResolvedRestore>,
}

/// The database's backups: the app's own path of the platform's object store.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedBackup {
    /// The app's own prefix: the platform's `destinationPath` and `<tenant>/<app>`.
    pub destination_path: String,
    /// The S3 endpoint.
    #[serde(rename = "endpointURL")]
    pub endpoint_url: Option<String>,
    /// The Secret with the store's keys, in the app's namespace.
    pub credentials_secret: String,
    /// Six-field cron of base backups.
    pub schedule: String,
    /// How long backups are kept.
    pub retention: String,
    /// The folder of this generation inside the app's prefix (`generation-N`).
    pub server_name: String,
    /// Whether WAL archiving and scheduled backups run: not during a restore, so that
    /// the damaged database never writes into the generation that replaces it.
    pub archiving: bool,
    /// Resources of the plugin's sidecar in each instance pod.
    pub sidecar_resources: Resources,
    /// Where the database's pods may reach the store (its port only).
    pub egress: Vec<ResolvedEgress>,
}

/// A restore in progress.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRestore {
    /// The generation folder the database is recovered from.
    pub server_name: String,
    /// The moment to recover to; the last archived change when absent.
    pub point_in_time: Option<String>,
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
    /// The API server's blocks, for CloudNativePG's instances (ports 443 and 6443).
    pub api_server: Vec<ResolvedEgress>,
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
    /// Its volume, when Redis keeps an append-only file.
    pub persistence: Option<ResolvedRedisPersistence>,
}

/// Redis' volume.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRedisPersistence {
    /// Its size.
    pub size: String,
    /// The platform's block (ReadWriteOnce) class.
    pub storage_class: Option<String>,
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
