//! Who owns which field. The customer owns what the app *is*; the operator owns what it
//! *gets*; some things (host access, privilege, the pod's identity) nobody may hand to an
//! app. A customer value in a field it does not own is an error that names the field,
//! its owner and what to do — never a silent drop.
//!
//! This pass runs on the customer's tree before the schema, so that `resources:` in a
//! container reads "set by the operator", not "unknown field".

use crate::diag::{Code, Diagnostics, Doc};
use crate::input::yaml::{Node, NodeKind, Path};

/// Where the operator's files are, for naming the owner of a field in messages.
#[derive(Debug, Clone)]
pub struct Owners {
    /// The allocation file (`tenants/acme/shop.yaml`), when known.
    pub allocation: Option<String>,
    /// The platform file.
    pub platform: String,
}

impl Owners {
    fn allocation(&self) -> String {
        match &self.allocation {
            Some(f) => format!("set by the operator ({f})"),
            None => "set by the operator in the app's allocation".to_owned(),
        }
    }

    fn platform(&self) -> String {
        format!("set by the operator for every app ({})", self.platform)
    }
}

/// Fields of the allocation a customer might be tempted to write in `dovetail.yaml`.
const ALLOCATION_TOP: &[&str] = &[
    "namespace",
    "domains",
    "storage",
    "database",
    "redis",
    "replicas",
    "resources",
    "plan",
    "cpu",
    "memory",
    "autoscaling",
    "repo",
];
const PLATFORM_TOP: &[&str] = &["images", "policy", "recipients", "plans"];
const ALLOCATION_PROCESS: &[&str] = &[
    "replicas",
    "resources",
    "plan",
    "cpu",
    "memory",
    "autoscaling",
];
const PLACEMENT: &[&str] = &[
    "nodeName",
    "nodeSelector",
    "affinity",
    "tolerations",
    "priorityClassName",
    "priority",
    "runtimeClassName",
    "schedulerName",
    "topologySpreadConstraints",
];
const HOST_NAMESPACES: &[&str] = &["hostNetwork", "hostPID", "hostIPC", "hostUsers"];
const IDENTITY: &[&str] = &[
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
];
const PLATFORM_SECURITY: &[&str] = &[
    "seccompProfile",
    "seLinuxOptions",
    "procMount",
    "windowsOptions",
    "appArmorProfile",
];
/// Kubernetes volume types that are not allowed in a pod fragment.
const FOREIGN_VOLUMES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "image",
    "iscsi",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

/// Reports every field of the customer's `dovetail.yaml` that the customer does not own.
pub fn check_app(doc: &Doc, owners: &Owners, diags: &mut Diagnostics) {
    let root = &doc.root;
    let here = Path::root();
    for (key, path) in keys(root, &here) {
        if ALLOCATION_TOP.contains(&key) {
            owned(doc, &path, owners.allocation(), diags);
        } else if PLATFORM_TOP.contains(&key) {
            owned(doc, &path, owners.platform(), diags);
        }
    }
    if let Some(processes) = root.get("processes") {
        for (_, ppath) in keys(processes, &here.key("processes")) {
            let Some(process) = root.at(&ppath) else {
                continue;
            };
            for (key, path) in keys(process, &ppath) {
                if ALLOCATION_PROCESS.contains(&key) {
                    owned(doc, &path, owners.allocation(), diags);
                }
            }
            if let Some(pod) = process.get("pod") {
                check_pod(doc, pod, &ppath.key("pod"), owners, diags);
            }
        }
    }
    if let Some(static_files) = root.get("static") {
        for (key, path) in keys(static_files, &here.key("static")) {
            match key {
                "size" | "shared" | "accessMode" | "accessModes" => {
                    owned(doc, &path, owners.allocation(), diags);
                }
                "storageClass" | "storageClassName" => {
                    owned(doc, &path, owners.platform(), diags);
                }
                _ => {}
            }
        }
    }
    if let Some(ingress) = root.get("ingress") {
        for (key, path) in keys(ingress, &here.key("ingress")) {
            if matches!(
                key,
                "className" | "clusterIssuer" | "annotations" | "tls" | "ingressClassName"
            ) {
                owned(doc, &path, owners.platform(), diags);
            }
        }
    }
    if let Some(pod) = root.get("pod") {
        check_pod(doc, pod, &here.key("pod"), owners, diags);
    }
}

fn check_pod(doc: &Doc, pod: &Node, at: &Path, owners: &Owners, diags: &mut Diagnostics) {
    for (key, path) in keys(pod, at) {
        if HOST_NAMESPACES.contains(&key) {
            report(
                doc,
                &path,
                "host namespaces are never given to an app (Pod Security restricted)",
                "remove it",
                diags,
            );
        } else if IDENTITY.contains(&key) {
            report(
                doc,
                &path,
                "the pod's identity is the platform's: each app runs as its own ServiceAccount without an API token",
                "remove it",
                diags,
            );
        } else if PLACEMENT.contains(&key) {
            report(
                doc,
                &path,
                format!(
                    "placement is {}",
                    owners.allocation().replace("set by ", "")
                ),
                "remove it",
                diags,
            );
        } else if key == "securityContext" {
            report(
                doc,
                &path,
                "the pod's security context is the platform's (Pod Security restricted); per container, runAsUser, runAsGroup and readOnlyRootFilesystem: true may be set",
                "remove it",
                diags,
            );
        } else if key == "resources" || key == "overhead" {
            owned(doc, &path, owners.allocation(), diags);
        }
    }
    for list in ["containers", "initContainers"] {
        for (i, container) in items(pod.get(list)) {
            check_container(doc, container, &at.key(list).index(i), owners, diags);
        }
    }
    for (i, volume) in items(pod.get("volumes")) {
        let vpath = at.key("volumes").index(i);
        for (key, path) in keys(volume, &vpath) {
            if key == "hostPath" {
                report(
                    doc,
                    &path,
                    "host paths are never given to an app (Pod Security restricted)",
                    "use emptyDir, configMap, secret, projected or downwardAPI",
                    diags,
                );
            } else if key == "persistentVolumeClaim" {
                report(
                    doc,
                    &path,
                    format!(
                        "persistent storage is {}",
                        owners.allocation().replace("set by ", "")
                    ),
                    "ask for `static:` in dovetail.yaml and let the operator size it",
                    diags,
                );
            } else if FOREIGN_VOLUMES.contains(&key) {
                report(
                    doc,
                    &path,
                    format!("volume type `{key}` is not allowed in a pod fragment"),
                    "use emptyDir, configMap, secret, projected or downwardAPI",
                    diags,
                );
            }
        }
        if let Some(projected) = volume.get("projected") {
            let spath = vpath.key("projected").key("sources");
            for (j, source) in items(projected.get("sources")) {
                for (key, path) in keys(source, &spath.index(j)) {
                    if key == "serviceAccountToken"
                        || key == "clusterTrustBundle"
                        || key == "podCertificate"
                    {
                        let what = match key {
                            "serviceAccountToken" => "service account tokens",
                            "clusterTrustBundle" => "the cluster's trust bundles",
                            _ => "pod certificates",
                        };
                        report(
                            doc,
                            &path,
                            format!("{what} are the platform's to give, never an app's"),
                            "remove it",
                            diags,
                        );
                    }
                }
            }
        }
    }
}

fn check_container(doc: &Doc, c: &Node, at: &Path, owners: &Owners, diags: &mut Diagnostics) {
    if c.entry("resources").is_some() {
        owned(doc, &at.key("resources"), owners.allocation(), diags);
    }
    for (j, port) in items(c.get("ports")) {
        for key in ["hostPort", "hostIP"] {
            if port.get(key).is_some() {
                report(
                    doc,
                    &at.key("ports").index(j).key(key),
                    "host ports are never given to an app",
                    "remove it; the Service in front of the process carries traffic",
                    diags,
                );
            }
        }
    }
    if let Some(sc) = c.get("securityContext") {
        let spath = at.key("securityContext");
        for (key, path) in keys(sc, &spath) {
            match key {
                "privileged" => report(
                    doc,
                    &path,
                    "privileged containers are never allowed (Pod Security restricted)",
                    "remove it",
                    diags,
                ),
                "capabilities" => report(
                    doc,
                    &path,
                    "every container drops all capabilities and may add none (Pod Security restricted)",
                    "remove it",
                    diags,
                ),
                k if PLATFORM_SECURITY.contains(&k) => report(
                    doc,
                    &path,
                    "set by the platform (Pod Security restricted)",
                    "remove it",
                    diags,
                ),
                _ => {}
            }
        }
    }
    // A host in a probe or hook makes the kubelet connect wherever the app says.
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get(probe) {
            check_handler_host(doc, p, &at.key(probe), diags);
        }
    }
    if let Some(lifecycle) = c.get("lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lifecycle.get(hook) {
                check_handler_host(doc, h, &at.key("lifecycle").key(hook), diags);
            }
        }
    }
}

fn check_handler_host(doc: &Doc, handler: &Node, at: &Path, diags: &mut Diagnostics) {
    for action in ["httpGet", "tcpSocket"] {
        if handler.get(action).and_then(|a| a.get("host")).is_some() {
            report(
                doc,
                &at.key(action).key("host"),
                "a probe or hook may only reach its own pod",
                "remove it",
                diags,
            );
        }
    }
}

/// A field nobody may set.
fn report(doc: &Doc, path: &Path, message: impl Into<String>, hint: &str, diags: &mut Diagnostics) {
    diags.push(doc.error(Code::Forbidden, path, message).hint(hint));
}

/// A field the operator sets, named with its owner.
fn owned(doc: &Doc, path: &Path, owner: String, diags: &mut Diagnostics) {
    diags.push(
        doc.error(Code::OperatorOwned, path, owner)
            .hint("remove it"),
    );
}

fn keys<'a>(node: &'a Node, at: &Path) -> Vec<(&'a str, Path)> {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .map(|e| (e.key.as_str(), at.key(&e.key)))
            .collect(),
        _ => Vec::new(),
    }
}

fn items(node: Option<&Node>) -> impl Iterator<Item = (usize, &Node)> {
    let list: &[Node] = match node.map(|n| &n.kind) {
        Some(NodeKind::Seq(items)) => items,
        _ => &[],
    };
    list.iter().enumerate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::yaml;

    fn run(text: &str) -> Vec<String> {
        let doc = Doc {
            file: "dovetail.yaml".into(),
            root: yaml::parse(text).unwrap(),
        };
        let owners = Owners {
            allocation: Some("tenants/acme/shop.yaml".into()),
            platform: "platform.yaml".into(),
        };
        let mut diags = Diagnostics::default();
        check_app(&doc, &owners, &mut diags);
        diags.sorted().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn operator_fields_name_the_allocation_file() {
        let out =
            run("processes:\n  web:\n    command: [x]\n    resources: {cpu: 1}\nreplicas: 3\n");
        assert_eq!(
            out,
            [
                "dovetail.yaml:4:5: error: processes.web.resources: set by the operator (tenants/acme/shop.yaml); remove it [DT301]",
                "dovetail.yaml:5:1: error: replicas: set by the operator (tenants/acme/shop.yaml); remove it [DT301]",
            ]
        );
    }

    #[test]
    fn forbidden_pod_fields_are_each_reported() {
        let out = run(concat!(
            "pod:\n",
            "  hostNetwork: true\n",
            "  serviceAccountName: admin\n",
            "  nodeSelector: {a: b}\n",
            "  volumes:\n",
            "    - {name: h, hostPath: {path: /}}\n",
            "  containers:\n",
            "    - name: side\n",
            "      securityContext: {privileged: true, capabilities: {add: [NET_ADMIN]}}\n",
            "      ports: [{containerPort: 80, hostPort: 80}]\n",
            "      readinessProbe: {httpGet: {host: 169.254.169.254, port: 80}}\n",
        ));
        let fields: Vec<&str> = out.iter().map(|l| l.split(": ").nth(2).unwrap()).collect();
        assert_eq!(
            fields,
            [
                "pod.hostNetwork",
                "pod.serviceAccountName",
                "pod.nodeSelector",
                "pod.volumes[0].hostPath",
                "pod.containers[0].securityContext.privileged",
                "pod.containers[0].securityContext.capabilities",
                "pod.containers[0].ports[0].hostPort",
                "pod.containers[0].readinessProbe.httpGet.host",
            ]
        );
    }
}
