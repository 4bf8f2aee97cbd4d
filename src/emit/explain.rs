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

/// Who set a rendered field: the side of the ownership split its input file is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// The customer repo (`dovetail.yaml`).
    Customer,
    /// The operator repo (the allocation or `platform.yaml`).
    Operator,
    /// No input: dovetail's own default.
    Dovetail,
}

impl Owner {
    /// `customer`, `operator` or `dovetail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Customer => "customer",
            Owner::Operator => "operator",
            Owner::Dovetail => "dovetail",
        }
    }
}

/// Where a rendered field came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A field of an input file.
    Input {
        /// The customer's file or the operator's.
        owner: Owner,
        /// `file:line:col (field)`.
        at: String,
    },
    /// Set by dovetail itself, for the reason given.
    Default(&'static str),
}

impl Origin {
    /// Whose input set it.
    pub fn owner(&self) -> Owner {
        match self {
            Origin::Input { owner, .. } => *owner,
            Origin::Default(_) => Owner::Dovetail,
        }
    }

    /// `file:line:col (field)`, or `dovetail: <why>`.
    pub fn place(&self) -> String {
        match self {
            Origin::Input { at, .. } => at.clone(),
            Origin::Default(why) => format!("dovetail: {why}"),
        }
    }
}

impl SourceDocs {
    /// `field` of `doc`, when the document has it.
    fn field(doc: &Doc, owner: Owner, field: &str) -> Option<Origin> {
        let path = Path::parse(field);
        doc.root.at(&path)?;
        let pos = doc.root.locate(&path);
        Some(Origin::Input {
            owner,
            at: format!("{}:{}:{} ({field})", doc.file, pos.line, pos.col),
        })
    }

    fn app(&self, field: &str) -> Option<Origin> {
        Self::field(&self.app, Owner::Customer, field)
    }

    fn alloc(&self, field: &str) -> Option<Origin> {
        Self::field(&self.allocation, Owner::Operator, field)
    }

    fn platform(&self, field: &str) -> Option<Origin> {
        Self::field(&self.platform, Owner::Operator, field)
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

/// One scalar of a rendered object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Its path; a list item is named by its `name` where it has one
    /// (`containers[web]`), else by its index (`command[0]`).
    pub path: Vec<String>,
    /// The index of each list item in `path`, segment by segment (`containers[web]` is
    /// item 0), so that a path may name it either way.
    pub indices: Vec<Vec<usize>>,
    /// The value, as JSON.
    pub value: String,
}

impl Leaf {
    /// The path as `explain` prints it: `spec.template.spec.containers[web].image`.
    pub fn shown(&self) -> String {
        self.path.join(".")
    }
}

/// What `explain` prints: every object and field, or those a selection names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `(kind, name)`; the kind compares without case, like kubectl's.
    pub object: Option<(String, String)>,
    /// A field path or a prefix of it.
    pub field: Option<FieldPath>,
}

impl Selection {
    /// The selection of `explain`'s arguments: at most one `KIND/NAME` and one field
    /// path, in either order.
    pub fn parse(args: &[String]) -> Result<Selection, crate::cli::UsageError> {
        let mut sel = Selection::default();
        let mut seen: [Option<&String>; 2] = [None, None];
        for arg in args {
            if let Some((kind, name)) = object_selector(arg) {
                if let Some(first) = seen[0] {
                    return Err(crate::cli::UsageError::TwoSelectors(
                        first.clone(),
                        arg.clone(),
                        "objects",
                    ));
                }
                seen[0] = Some(arg);
                sel.object = Some((kind.to_owned(), name.to_owned()));
            } else {
                if let Some(first) = seen[1] {
                    return Err(crate::cli::UsageError::TwoSelectors(
                        first.clone(),
                        arg.clone(),
                        "field paths",
                    ));
                }
                seen[1] = Some(arg);
                sel.field = Some(FieldPath::parse(arg));
            }
        }
        Ok(sel)
    }

    /// Whether it selects everything.
    pub fn is_all(&self) -> bool {
        self.object.is_none() && self.field.is_none()
    }

    fn object(&self, kind: &str, name: &str) -> bool {
        self.object
            .as_ref()
            .is_none_or(|(k, n)| k.eq_ignore_ascii_case(kind) && n == name)
    }

    fn field(&self, leaf: &Leaf) -> bool {
        self.field.as_ref().is_none_or(|f| f.covers(leaf))
    }

    /// What it names, for the message that nothing matched.
    pub fn describe(&self) -> String {
        let object = self.object.as_ref().map(|(k, n)| format!("{k}/{n}"));
        match (object, &self.field) {
            (Some(o), Some(f)) => format!("field `{}` in {o}", f.text),
            (Some(o), None) => format!("object {o}"),
            (None, Some(f)) => format!("field `{}`", f.text),
            (None, None) => "object".to_owned(),
        }
    }
}

/// `Kind/name`, when `arg` reads as one: letters, a `/`, and an object name. A field
/// path never does: its first segment is lowercase and its keys with a `/` hold dots
/// before it (`metadata.annotations.cert-manager.io/cluster-issuer`).
fn object_selector(arg: &str) -> Option<(&str, &str)> {
    let (kind, name) = arg.split_once('/')?;
    let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphabetic());
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    (kind_ok && name_ok).then_some((kind, name))
}

/// A field path as a person types it: keys separated by `.`, list items as `[0]`, by
/// name as `[web]`, or `[*]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    atoms: Vec<Atom>,
}

/// One step of a path: a key (dotted keys are split the same way on both sides, so
/// `cert-manager.io/cluster-issuer` matches itself), or a list item.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Key(String),
    Item(String),
}

impl FieldPath {
    /// Reads `text`; anything is a path, and one that names nothing matches nothing.
    pub fn parse(text: &str) -> FieldPath {
        FieldPath {
            text: text.to_owned(),
            atoms: atoms(text),
        }
    }

    /// Whether `leaf` is this path or lies under it. A list item the path does not
    /// name (`containers.resources`) stands for every item.
    fn covers(&self, leaf: &Leaf) -> bool {
        let mut want = self.atoms.iter().peekable();
        for (seg, indices) in leaf.path.iter().zip(&leaf.indices) {
            let have = atoms(seg);
            let mut items = indices.iter();
            for atom in have {
                let Some(next) = want.peek() else {
                    return true;
                };
                match (&atom, next) {
                    (Atom::Key(a), Atom::Key(b)) if a == b => {
                        want.next();
                    }
                    (Atom::Item(name), Atom::Item(sel)) => {
                        let index = items.next().map(usize::to_string).unwrap_or_default();
                        if sel != "*" && *sel != index && sel != name {
                            return false;
                        }
                        want.next();
                    }
                    (Atom::Item(_), Atom::Key(_)) => {
                        items.next();
                    }
                    _ => return false,
                }
            }
        }
        want.peek().is_none()
    }
}

/// The atoms of a path or of one segment of it.
fn atoms(text: &str) -> Vec<Atom> {
    let mut out = Vec::new();
    let mut key = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !key.is_empty() {
                    out.push(Atom::Key(std::mem::take(&mut key)));
                }
            }
            '[' => {
                if !key.is_empty() {
                    out.push(Atom::Key(std::mem::take(&mut key)));
                }
                out.push(Atom::Item(
                    chars.by_ref().take_while(|&c| c != ']').collect(),
                ));
            }
            c => key.push(c),
        }
    }
    if !key.is_empty() {
        out.push(Atom::Key(key));
    }
    out
}

/// One line per rendered field: `Kind/name  path = value  <- origin`; with a selection,
/// only the objects and fields it names (`None` when that is nothing).
pub fn explain(
    objects: &[Value],
    resolved: &Resolved,
    docs: &SourceDocs,
    selection: &Selection,
) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or("?");
        let name = o["metadata"]["name"].as_str().unwrap_or("?");
        if !selection.object(kind, name) {
            continue;
        }
        let leaves: Vec<Leaf> = leaves(o)
            .into_iter()
            .filter(|l| selection.field(l))
            .collect();
        if leaves.is_empty() {
            continue;
        }
        any = true;
        out.push_str(&format!("{kind}/{name}\n"));
        for leaf in leaves {
            let origin = origin(o, &leaf.path, resolved, docs);
            let shown = if kind == "Secret"
                && matches!(
                    leaf.path.first().map(String::as_str),
                    Some("data" | "stringData")
                ) {
                "<redacted>".to_owned()
            } else if kind == crate::render::AGE_SECRET.2
                && leaf.path.first().map(String::as_str) == Some("spec")
                && leaf.path.get(1).map(String::as_str) == Some("data")
            {
                // Only ciphertext, but pages of it: shown for what it is.
                "<age ciphertext>".to_owned()
            } else if leaf.value.chars().count() > MAX_SHOWN {
                let head: String = leaf.value.chars().take(MAX_SHOWN).collect();
                format!("{head}… ({} characters)", leaf.value.chars().count())
            } else {
                leaf.value.clone()
            };
            // Values and keys are the inputs' own: escaped like every message, so that
            // one line stays one line and shows what it holds.
            out.push_str(&format!(
                "  {} = {}  <- {}\n",
                escaped(&leaf.shown()),
                escaped(&shown),
                escaped(&origin.place())
            ));
        }
    }
    any.then_some(out)
}

/// Every scalar of `object`, in order.
pub fn leaves(object: &Value) -> Vec<Leaf> {
    let mut out = Vec::new();
    walk(object, &mut Vec::new(), &mut Vec::new(), &mut out);
    out
}

/// Every scalar of `v` with its path; list items of containers, volumes and ports are
/// named by their `name` where they have one.
fn walk(v: &Value, path: &mut Vec<String>, indices: &mut Vec<Vec<usize>>, out: &mut Vec<Leaf>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.push(k.clone());
                indices.push(Vec::new());
                walk(v, path, indices, out);
                path.pop();
                indices.pop();
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
                if let Some(ix) = indices.last_mut() {
                    ix.push(i);
                }
                walk(item, path, indices, out);
                if let Some(ix) = indices.last_mut() {
                    ix.pop();
                }
                path.pop();
                path.push(last);
            }
        }
        other => out.push(Leaf {
            path: path.clone(),
            indices: indices.clone(),
            value: other.to_string(),
        }),
    }
}

/// The name inside `seg` = `list[name]`, when `seg` is an item of `list`.
fn item<'a>(seg: &'a str, list: &str) -> Option<&'a str> {
    seg.strip_prefix(list)?.strip_prefix('[')?.strip_suffix(']')
}

/// Where the field at `path` of the rendered object `o` came from: the one table
/// `explain` and `diff --format markdown` both read.
pub fn origin(o: &Value, path: &[String], r: &Resolved, d: &SourceDocs) -> Origin {
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
        ("AgeSecret", ["spec", "data", ..]) => d.app("secrets"),
        ("AgeSecret", ["spec", "imagePullSecret", ..]) => d.app("imagePullSecret"),
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
