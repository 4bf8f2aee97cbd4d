//! `dovetail explain`: every field of the rendered objects with the place it came from
//! (a line of `dovetail.yaml`, of the allocation or of `platform.yaml`) or the built-in
//! default that set it.
//!
//! Provenance is worked out after rendering, from a table of which input field each
//! rendered field is made of, rather than threaded through the merge: the merge stays
//! simple, and a field this table does not know shows as dovetail's own default, never
//! as a wrong place. Secret values are never printed.

use serde_json::Value;

use crate::diag::{Doc, escaped};
use crate::input::yaml::Path;
use crate::merge::Resolved;

/// The documents a render was made of.
#[derive(Debug)]
pub struct SourceDocs {
    /// `dovetail.yaml`.
    pub app: Doc,
    /// The allocation.
    pub allocation: Doc,
    /// `platform.yaml`.
    pub platform: Doc,
}

/// Where a rendered field came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// A field of an input file: `file:line:col (field)`.
    Input(String),
    /// Set by dovetail itself, for the reason given.
    Default(&'static str),
}

impl SourceDocs {
    /// `field` of `doc`, when the document has it.
    fn field(doc: &Doc, field: &str) -> Option<Origin> {
        let path = Path::parse(field);
        doc.root.at(&path)?;
        let pos = doc.root.locate(&path);
        Some(Origin::Input(format!(
            "{}:{}:{} ({field})",
            doc.file, pos.line, pos.col
        )))
    }

    fn app(&self, field: &str) -> Option<Origin> {
        Self::field(&self.app, field)
    }

    fn alloc(&self, field: &str) -> Option<Origin> {
        Self::field(&self.allocation, field)
    }

    fn platform(&self, field: &str) -> Option<Origin> {
        Self::field(&self.platform, field)
    }

    /// The allocation entry that sizes process `p`: its own, or `*`.
    fn alloc_process(&self, p: &str, field: &str) -> Option<Origin> {
        self.alloc(&format!("processes.{p}.{field}"))
            .or_else(|| self.alloc(&format!("processes.*.{field}")))
    }

    /// CPU or memory of process `p`: the allocation's own figure, or its plan's.
    fn sizing(&self, p: &str, what: &str) -> Option<Origin> {
        self.alloc_process(p, what).or_else(|| {
            let plan = [p, "*"].iter().find_map(|k| {
                self.allocation
                    .root
                    .at(&Path::parse(&format!("processes.{k}.plan")))
                    .and_then(|n| n.scalar_text())
                    .map(str::to_owned)
            })?;
            self.platform(&format!("plans.{plan}.{what}"))
        })
    }
}

/// Longest value shown whole; longer ones (config files) are cut.
const MAX_SHOWN: usize = 60;

/// One line per rendered field: `Kind/name  path = value  <- origin`.
pub fn explain(objects: &[Value], resolved: &Resolved, docs: &SourceDocs) -> String {
    let mut out = String::new();
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or("?");
        let name = o["metadata"]["name"].as_str().unwrap_or("?");
        out.push_str(&format!("{kind}/{name}\n"));
        let mut leaves = Vec::new();
        walk(o, &mut Vec::new(), &mut leaves);
        for (path, value) in leaves {
            let origin = origin(o, &path, resolved, docs);
            let shown = if kind == "Secret"
                && matches!(
                    path.first().map(String::as_str),
                    Some("data" | "stringData")
                ) {
                "<redacted>".to_owned()
            } else if kind == crate::render::AGE_SECRET.2
                && path.first().map(String::as_str) == Some("spec")
                && path.get(1).map(String::as_str) == Some("data")
            {
                // Only ciphertext, but pages of it: shown for what it is.
                "<age ciphertext>".to_owned()
            } else if value.chars().count() > MAX_SHOWN {
                let head: String = value.chars().take(MAX_SHOWN).collect();
                format!("{head}… ({} characters)", value.chars().count())
            } else {
                value
            };
            let from = match origin {
                Origin::Input(at) => at,
                Origin::Default(why) => format!("dovetail: {why}"),
            };
            // Values and keys are the inputs' own: escaped like every message, so that
            // one line stays one line and shows what it holds.
            out.push_str(&format!(
                "  {} = {}  <- {}\n",
                escaped(&path.join(".")),
                escaped(&shown),
                escaped(&from)
            ));
        }
    }
    out
}

/// Every scalar of `v` with its path; list items of containers, volumes and ports are
/// named by their `name` where they have one.
fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.push(k.clone());
                walk(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let last = path.pop().unwrap_or_default();
                let label = match item.get("name").and_then(Value::as_str) {
                    Some(n) => format!("{last}[{n}]"),
                    None => format!("{last}[{i}]"),
                };
                path.push(label);
                walk(item, path, out);
                path.pop();
                path.push(last);
            }
        }
        other => out.push((path.clone(), other.to_string())),
    }
}

/// The name inside `seg` = `list[name]`, when `seg` is an item of `list`.
fn item<'a>(seg: &'a str, list: &str) -> Option<&'a str> {
    seg.strip_prefix(list)?.strip_prefix('[')?.strip_suffix(']')
}

fn origin(o: &Value, path: &[String], r: &Resolved, d: &SourceDocs) -> Origin {
    let kind = o["kind"].as_str().unwrap_or_default();
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let component = o["metadata"]["labels"]["app.kubernetes.io/component"]
        .as_str()
        .unwrap_or_default();
    let app = &r.identity.app;
    // Matched without the `[name]` of list items; a container's name is read apart.
    let p: Vec<&str> = path
        .iter()
        .map(|s| s.split('[').next().unwrap_or_default())
        .collect();
    let found = match (kind, p.as_slice()) {
        (_, ["metadata", "namespace"]) => d.alloc("namespace"),
        (_, ["metadata", "labels", ..]) | (_, ["spec", "selector", ..]) => {
            return Origin::Default("recommended labels, from the app's identity");
        }
        ("ConfigMap", ["data", key]) if name == format!("{app}-env") => {
            d.app(&format!("env.{key}"))
        }
        ("ConfigMap", ["data" | "binaryData", key]) => r
            .files
            .iter()
            .position(|f| f.key == *key)
            .and_then(|i| d.app(&format!("files[{i}].path"))),
        ("Secret", ["data" | "stringData", _]) => {
            d.app("secrets").or_else(|| d.app("imagePullSecret"))
        }
        ("PersistentVolumeClaim", ["spec", "resources", ..]) => d.alloc("storage.static.size"),
        ("PersistentVolumeClaim", ["spec", "accessModes", ..]) => d.alloc("storage.static.shared"),
        ("PersistentVolumeClaim", ["spec", "storageClassName"]) => d
            .platform("storage.shared")
            .filter(|_| {
                r.static_files
                    .as_ref()
                    .is_some_and(|s| s.access_mode == "ReadWriteMany")
            })
            .or_else(|| d.platform("storage.block")),
        ("Cluster", ["spec", "instances"]) => d.platform("database.instances"),
        ("Cluster", ["spec", "storage", "size"]) => d.alloc("storage.database.size"),
        ("Cluster", ["spec", "storage", "storageClass"]) => d.platform("storage.block"),
        ("Cluster", ["spec", "resources", ..]) => d.platform("database.resources"),
        ("Service", ["spec", "type"]) => d.app(&format!("processes.{component}.serviceType")),
        ("Service", ["spec", "ports", ..]) if component != "redis" => {
            d.app(&format!("processes.{component}.port"))
        }
        ("HorizontalPodAutoscaler", ["spec", "minReplicas"]) => {
            d.alloc_process(component, "replicas")
        }
        ("HorizontalPodAutoscaler", ["spec", "maxReplicas"]) => {
            d.alloc_process(component, "autoscaling.maxReplicas")
        }
        ("HorizontalPodAutoscaler", ["spec", "metrics", ..]) => {
            d.alloc_process(component, "autoscaling.cpuUtilization")
        }
        ("Ingress", ["spec", "ingressClassName"]) => d.platform("ingress.className"),
        ("Ingress", ["metadata", "annotations", "cert-manager.io/cluster-issuer"]) => {
            d.platform("ingress.clusterIssuer")
        }
        ("Ingress", ["spec", "rules" | "tls", ..]) => d.app("ingress.hosts"),
        ("NetworkPolicy", [.., "ports", "port"])
            if component != "metrics" && component != "app" =>
        {
            d.app(&format!("processes.{component}.port"))
        }
        ("NetworkPolicy", [.., "ipBlock", "cidr"]) => {
            d.app(&format!("processes.{component}.serviceType"))
        }
        ("NetworkPolicy", [.., "kubernetes.io/metadata.name"]) if component == "metrics" => {
            d.platform("monitoring.namespace")
        }
        ("NetworkPolicy", [.., "kubernetes.io/metadata.name"]) => {
            d.platform("ingress.controllerNamespace")
        }
        ("Deployment" | "Job", ["spec", "replicas"]) if component == "redis" => None,
        ("Deployment", ["spec", "replicas"]) => d.alloc_process(component, "replicas"),
        (
            "Deployment" | "Job",
            [
                "spec",
                "template",
                "spec",
                "containers" | "initContainers",
                rest @ ..,
            ],
        ) => {
            let list = path[3].as_str();
            let container = item(list, "containers")
                .or_else(|| item(list, "initContainers"))
                .unwrap_or_default();
            let mount = path.get(4).and_then(|s| item(s, "volumeMounts"));
            container_origin(component, container, rest, mount, d)
        }
        _ => None,
    };
    found.unwrap_or(Origin::Default(default_reason(kind, &p)))
}

fn container_origin(
    process: &str,
    container: &str,
    rest: &[&str],
    mount: Option<&str>,
    d: &SourceDocs,
) -> Option<Origin> {
    match mount {
        Some("dovetail-tmp") => return None,
        Some("dovetail-static") => return d.app("static"),
        Some("dovetail-files") => return d.app("files"),
        _ => {}
    }
    let field = rest.first().copied().unwrap_or_default();
    if process == "redis" {
        return match field {
            "image" => d.platform("images.redis"),
            "resources" if rest.last() == Some(&"memory") => d.alloc("redis.memory"),
            "resources" => d.platform("policy.sidecarResources.cpu"),
            _ => None,
        };
    }
    if let Some(service) = container.strip_prefix("wait-for-") {
        return match field {
            "image" if service == "postgres" => d.platform("images.wait"),
            "image" => d.platform("images.redis"),
            "resources" => d.platform("policy.sidecarResources"),
            _ => d
                .app(&format!("processes.{process}.waitFor"))
                .or_else(|| d.app("init.waitFor")),
        };
    }
    let (base, sizing_for) = if container == "init" {
        (
            "init".to_owned(),
            ["init", "web"]
                .into_iter()
                .find(|k| d.alloc(&format!("processes.{k}")).is_some())
                .unwrap_or("*"),
        )
    } else if container == process {
        (format!("processes.{process}"), process)
    } else {
        // A container of a pod fragment: the process's own, or the global one.
        let fragment = [format!("processes.{process}.pod"), "pod".to_owned()]
            .into_iter()
            .flat_map(|pod| ["containers", "initContainers"].map(|l| format!("{pod}.{l}")))
            .find_map(|list| {
                let items = d.app.root.at(&Path::parse(&list))?.items();
                items.iter().enumerate().find_map(|(i, node)| {
                    (node.get("name")?.scalar_text()? == container).then(|| format!("{list}[{i}]"))
                })
            });
        return match field {
            "resources" => d.platform("policy.sidecarResources"),
            "securityContext" => None,
            _ => fragment.and_then(|f| d.app(&format!("{f}.{field}")).or_else(|| d.app(&f))),
        };
    };
    match field {
        "image" => d.app("image"),
        "command" | "args" => d.app(&format!("{base}.{field}")),
        "ports" => d.app(&format!("{base}.port")),
        "readinessProbe" | "livenessProbe" | "startupProbe" => d.app(&format!("{base}.health")),
        "resources" => {
            let what = if rest.last() == Some(&"memory") {
                "memory"
            } else {
                "cpu"
            };
            d.sizing(sizing_for, what)
        }
        "env" => d.app("services"),
        "envFrom" => d.app("env").or_else(|| d.app("secrets")),
        "volumeMounts" => None,
        _ => None,
    }
}

fn default_reason(kind: &str, path: &[&str]) -> &'static str {
    if path.contains(&"volumeMounts") || path.contains(&"volumes") {
        "a writable /tmp, and the volumes the process's files and storage need"
    } else if path.contains(&"securityContext") {
        "Pod Security restricted"
    } else if path.last() == Some(&"imagePullPolicy") {
        "pull Always, so a private image needs the app's credentials"
    } else if path.contains(&"resources") {
        "the platform's sizes"
    } else if path.contains(&"annotations") {
        "ArgoCD sync order and pod roll checksums"
    } else if path.first() == Some(&"spec") && path.get(1) == Some(&"strategy") {
        "singletons and ReadWriteOnce volumes are replaced, everything else rolls one pod at a time"
    } else if kind == "NetworkPolicy" {
        "only the app's own pods and the ingress controller reach it"
    } else {
        "built-in"
    }
}
