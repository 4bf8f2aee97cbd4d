//! `dovetail explain`: every field of the rendered objects with the place it came from
//! (a line of `dovetail.yaml`, of the allocation or of `platform.yaml`) or the built-in
//! default that set it.
//!
//! Provenance is worked out after rendering, from a table of which input field each
//! rendered field is made of, rather than threaded through the merge: the merge stays
//! simple. A field no input sets has a named default saying why it is what it is; one the
//! table does not know at all shows as [`FALLBACK`], never as a wrong place, and a test
//! renders every example and a maximal app to keep that from happening. Secret values
//! are never printed.

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

    /// The allocation entry that sizes process `p`, as the merge picks it: its own when
    /// the allocation names it, else `*`.
    fn entry(&self, p: &str) -> String {
        let own = format!("processes.{p}");
        if self.allocation.root.at(&Path::parse(&own)).is_some() {
            own
        } else {
            "processes.*".to_owned()
        }
    }

    /// `field` of the allocation entry that sizes process `p`.
    fn alloc_process(&self, p: &str, field: &str) -> Option<Origin> {
        self.alloc(&format!("{}.{field}", self.entry(p)))
    }

    /// CPU, memory or local storage (`what`, as the allocation spells it) of process
    /// `p`, by the merge's rule: the allocation's own figure, else its plan's, and for
    /// local storage the platform's after both
    /// ([`crate::input::model::Platform::process_resources`]).
    fn sizing(&self, p: &str, what: &str) -> Option<Origin> {
        self.alloc_process(p, what)
            .or_else(|| {
                let plan = self
                    .allocation
                    .root
                    .at(&Path::parse(&format!("{}.plan", self.entry(p))))
                    .and_then(|n| n.scalar_text())?
                    .to_owned();
                self.platform(&format!("plans.{plan}.{what}"))
            })
            .or_else(|| {
                (what == "ephemeralStorage")
                    .then(|| self.platform("policy.ephemeralStorage"))
                    .flatten()
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
    /// Whether `arg` names an object (`KIND/NAME`) rather than a field path.
    pub fn names_object(arg: &str) -> bool {
        object_selector(arg).is_some()
    }

    /// Narrows to `arg`, an object as `KIND/NAME` or else a field path (replacing the
    /// one of that sort given before).
    pub fn add(&mut self, arg: &str) {
        if let Some((kind, name)) = object_selector(arg) {
            self.object = Some((kind.to_owned(), name.to_owned()));
        } else {
            self.field = Some(FieldPath::parse(arg));
        }
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
            let origin = origin(o, &leaf.path, &leaf.value, resolved, docs);
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

/// What a field shows when no rule of this table knows it: a gap in the table (a test
/// renders every example and a maximal app and fails on it).
pub const FALLBACK: &str = "built-in";

impl SourceDocs {
    /// The item of the platform's list `field` that is `value`, when there is one.
    fn platform_item(&self, field: &str, value: &str) -> Option<Origin> {
        let items = self.platform.root.at(&Path::parse(field))?.items();
        let i = items.iter().position(|n| n.scalar_text() == Some(value))?;
        self.platform(&format!("{field}[{i}]"))
    }

    /// The item named `name` of a pod fragment's `list` (`containers`, `volumes`, …) for
    /// process `process`: the process's own fragment, or the global one.
    fn fragment_item(&self, process: &str, lists: &[&str], name: &str) -> Option<String> {
        [format!("processes.{process}.pod"), "pod".to_owned()]
            .into_iter()
            .flat_map(|pod| lists.iter().map(move |l| format!("{pod}.{l}")))
            .find_map(|list| {
                let items = self.app.root.at(&Path::parse(&list))?.items();
                items.iter().enumerate().find_map(|(i, node)| {
                    (node.get("name")?.scalar_text()? == name).then(|| format!("{list}[{i}]"))
                })
            })
    }
}

/// Where the field at `path` (whose value is `value`, as JSON) of the rendered object `o`
/// came from: the one table `explain` and `diff --format markdown` both read.
pub fn origin(o: &Value, path: &[String], value: &str, r: &Resolved, d: &SourceDocs) -> Origin {
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
        (
            _,
            ["metadata", "labels", ..]
            | ["spec", "selector", ..]
            | ["spec", "template", "metadata", "labels", ..],
        ) => {
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
        ("PersistentVolumeClaim", ["spec", "resources", ..]) if component == "redis" => {
            d.alloc("redis.persistence.size")
        }
        ("PersistentVolumeClaim", ["spec", "accessModes", ..]) if component == "redis" => {
            d.alloc("redis.persistence")
        }
        ("PersistentVolumeClaim", ["spec", "storageClassName"]) if component == "redis" => {
            d.platform("storage.block")
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
        ("Cluster", ["spec", "instances"]) => d.platform("database.instances").or(Some(
            Origin::Default("one instance unless database.instances says"),
        )),
        ("Cluster", ["spec", "storage", "size"]) => d.alloc("storage.database.size"),
        ("Cluster", ["spec", "plugins" | "externalClusters", .., "serverName"]) => d
            .alloc("storage.database.generation")
            .or(Some(Origin::Default(
                "backup generation 1 unless storage.database.generation says",
            ))),
        ("Cluster", ["spec", "plugins", ..]) => d.platform("database.backup"),
        ("Cluster", ["spec", "bootstrap", "recovery", "recoveryTarget", ..]) => {
            d.alloc("restore.database.pointInTime")
        }
        ("Cluster", ["spec", "bootstrap", "recovery", ..] | ["spec", "externalClusters", ..]) => {
            d.alloc("restore.database.from")
        }
        ("ObjectStore", ["spec", "configuration", "destinationPath"]) => {
            d.platform("database.backup.destinationPath")
        }
        ("ObjectStore", ["spec", "configuration", "endpointURL"]) => {
            d.platform("database.backup.endpointURL")
        }
        ("ObjectStore", ["spec", "configuration", "s3Credentials", _, "name"]) => {
            d.platform("database.backup.credentialsSecret")
        }
        ("ObjectStore", ["spec", "retentionPolicy"]) => d.platform("database.backup.retention"),
        ("ObjectStore", ["spec", "instanceSidecarConfiguration", "resources", _, what]) => {
            Some(sidecar_size(d, what))
        }
        ("ScheduledBackup", ["spec", "schedule"]) => d.platform("database.backup.schedule"),
        ("Cluster", ["spec", "storage", "storageClass"]) => d.platform("storage.block"),
        ("Cluster", ["spec", "resources", _, what]) => Some(database_size(d, what)),
        ("Cluster", ["spec", "ephemeralVolumesSizeLimit", _]) => {
            Some(database_size(d, "ephemeral-storage"))
        }
        ("Service", ["spec", "type"]) if component != "redis" => d
            .app(&format!("processes.{component}.serviceType"))
            .or(Some(Origin::Default(
                "ClusterIP unless the process asks for a type its allocation allows",
            ))),
        ("Service", ["spec", "ports", ..]) if component != "redis" => {
            d.app(&format!("processes.{component}.port"))
        }
        ("HorizontalPodAutoscaler", ["spec", "minReplicas"]) => {
            d.alloc_process(component, "replicas")
        }
        ("HorizontalPodAutoscaler", ["spec", "maxReplicas"]) => {
            d.alloc_process(component, "autoscaling.maxReplicas")
        }
        (
            "HorizontalPodAutoscaler",
            [
                "spec",
                "metrics",
                "resource",
                "target",
                "averageUtilization",
            ],
        ) => d
            .alloc_process(component, "autoscaling.cpuUtilization")
            .or(Some(Origin::Default(
                "80% CPU unless the allocation's autoscaling.cpuUtilization says",
            ))),
        ("Ingress", ["spec", "ingressClassName"]) => d.platform("ingress.className"),
        ("Ingress", ["metadata", "annotations", "cert-manager.io/cluster-issuer"]) => {
            d.platform("ingress.clusterIssuer")
        }
        ("Ingress", ["spec", "rules" | "tls", ..]) => d.app("ingress.hosts"),
        ("NetworkPolicy", ["spec", ..]) => policy_origin(name, component, path, value, r, d),
        ("Deployment", ["spec", "replicas"]) if component == "redis" => {
            Some(Origin::Default("Redis runs one pod"))
        }
        ("Deployment", ["spec", "replicas"]) => d
            .alloc_process(component, "replicas")
            .or(Some(Origin::Default("one pod unless the allocation says"))),
        ("Deployment" | "Job", ["spec", "template", "spec", "imagePullSecrets", ..]) => {
            d.app("imagePullSecret")
        }
        ("Deployment", ["spec", "template", "spec", "volumes", ..]) if component == "redis" => d
            .alloc("redis.persistence.size")
            .or_else(|| d.alloc("redis.memory")),
        ("Deployment" | "Job", ["spec", "template", "spec", "volumes", ..]) => {
            let volume = item(&path[3], "volumes").unwrap_or_default();
            match volume {
                "dovetail-files" => d.app("files"),
                "dovetail-static" => d.app("static"),
                _ => d
                    .fragment_item(component, &["volumes"], volume)
                    .and_then(|f| {
                        d.app(&format!("{f}.{}", p[4..].join(".")))
                            .or_else(|| d.app(&f))
                    }),
            }
        }
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
    found
        .or_else(|| named_default(kind, component, &p).map(Origin::Default))
        .unwrap_or(Origin::Default(FALLBACK))
}

/// `ephemeralStorage` for the `ephemeral-storage` of a container's resources; `cpu` and
/// `memory` as they are.
fn input_quantity(what: &str) -> &str {
    if what == "ephemeral-storage" {
        "ephemeralStorage"
    } else {
        what
    }
}

/// A CloudNativePG instance's CPU, memory or local storage (`what`, as Kubernetes spells
/// it), by [`crate::input::model::Platform::database_resources`]'s rule.
fn database_size(d: &SourceDocs, what: &str) -> Origin {
    let field = input_quantity(what);
    d.platform(&format!("database.resources.{field}"))
        .or_else(|| {
            (field == "ephemeralStorage")
                .then(|| d.platform("policy.ephemeralStorage"))
                .flatten()
        })
        .unwrap_or(Origin::Default(if field == "ephemeralStorage" {
            "1Gi: every container's local storage is bounded, unless database.resources or policy.ephemeralStorage says"
        } else {
            "500m CPU and 1Gi memory per instance unless database.resources says"
        }))
}

/// A sidecar's or helper's CPU, memory or local storage: the platform's sidecar size.
fn sidecar_size(d: &SourceDocs, what: &str) -> Origin {
    let field = input_quantity(what);
    d.platform(&format!("policy.sidecarResources.{field}"))
        .unwrap_or(Origin::Default(
            "256Mi: every sidecar's local storage is bounded, unless policy.sidecarResources says",
        ))
}

/// Where a field of one of the app's NetworkPolicies comes from: each policy by its name,
/// each rule by its place (see `render::network_policies`).
fn policy_origin(
    name: &str,
    component: &str,
    path: &[String],
    value: &str,
    r: &Resolved,
    d: &SourceDocs,
) -> Option<Origin> {
    let app = &r.identity.app;
    let text = value.trim_matches('"');
    let last = path.last().map(String::as_str).unwrap_or_default();
    // `ingress[i]` or `egress[i]`, and the rest of the path after it.
    let rule = path.get(1).map(String::as_str).unwrap_or_default();
    let at = |list: &str| item(rule, list).and_then(|i| i.parse::<usize>().ok());
    let inside = |seg: &str| path.iter().any(|s| s.split('[').next() == Some(seg));
    let dns = || {
        if inside("namespaceSelector") {
            d.platform("network.dns.namespace")
                .unwrap_or(Origin::Default(
                    "cluster DNS: the kube-system namespace unless network.dns says",
                ))
        } else if inside("podSelector") {
            d.platform("network.dns.podLabels")
                .unwrap_or(Origin::Default(
                    "cluster DNS: pods labelled k8s-app: kube-dns unless network.dns says",
                ))
        } else {
            Origin::Default("DNS, on port 53")
        }
    };
    // An `except` no platform rule lists is one every rule gets.
    let forced_except = || {
        d.platform_item("network.clusterCIDRs", text)
            .unwrap_or(Origin::Default(
                "the cloud metadata address (and the private ranges, by default) is excepted from every rule",
            ))
    };
    let cnpg = r
        .database
        .as_ref()
        .is_some_and(|db| db.provider == crate::input::model::DatabaseProvider::Cnpg);
    Some(if name == app.as_str() {
        match at("egress") {
            Some(1) => dns(),
            _ => Origin::Default(
                "the app's pods (Redis included) reach each other and cluster DNS, and only they reach each other",
            ),
        }
    } else if name == format!("{app}-egress") {
        let offset = usize::from(cnpg);
        match at("egress") {
            Some(k) if k < offset => d.app("services")?,
            Some(k) => {
                let j = k - offset;
                let given = format!("network.egress[{j}]");
                let platform_rule = d.platform(&given).is_some();
                if inside("except") {
                    d.platform_item(&format!("{given}.except"), text)
                        .unwrap_or_else(forced_except)
                } else if !platform_rule {
                    Origin::Default(
                        "the public internet, without the private, shared and link-local ranges (platform.yaml sets no network.egress)",
                    )
                } else if inside("ports") {
                    d.platform(&format!("{given}.ports"))?
                } else {
                    d.platform(&format!("{given}.cidr"))?
                }
            }
            None => {
                Origin::Default("every app pod but Redis, which serves the app and calls nobody")
            }
        }
    } else if name == format!("{app}-db") {
        let peers = "the database's instances reach each other (replication, status)";
        match (at("ingress"), at("egress")) {
            (Some(0), _) => d.app("services")?,
            (Some(1), _) | (_, Some(0)) => Origin::Default(peers),
            (Some(2), _) if inside("namespaceSelector") => d
                .platform("database.operatorNamespace")
                .unwrap_or(Origin::Default(
                    "CloudNativePG's operator, in cnpg-system unless database.operatorNamespace says",
                )),
            (Some(_), _) => Origin::Default("PostgreSQL and the instance manager's ports"),
            (_, Some(1)) => dns(),
            (_, Some(_)) if inside("except") => forced_except(),
            (_, Some(k)) if k >= 3 && last == "cidr" => d
                .platform_item("database.backup.egress", text)
                .unwrap_or(Origin::Default(
                    "the object store, for the Barman Cloud sidecar: anywhere outside the metadata service and the cluster's ranges, unless database.backup.egress says",
                )),
            (_, Some(k)) if k >= 3 => d.platform("database.backup.endpointURL").unwrap_or(
                Origin::Default("the object store's port: HTTPS, 443 (no database.backup.endpointURL)"),
            ),
            (_, Some(_)) if last == "cidr" => d
                .platform_item("network.apiServer", text)
                .unwrap_or(Origin::Default(
                    "the API server, for CloudNativePG's instance manager: anywhere outside the metadata service and the cluster's ranges, unless network.apiServer says",
                )),
            (_, Some(_)) => Origin::Default("the API server's ports, 443 and 6443"),
            (None, None) => Origin::Default(
                "the database's pods: reached by the app, each other and their operator",
            ),
        }
    } else if name == format!("{app}-web") {
        if inside("namespaceSelector") {
            d.platform("ingress.controllerNamespace")
                .unwrap_or(Origin::Default(
                    "the ingress controller, in ingress-nginx unless ingress.controllerNamespace says",
                ))
        } else if last == "port" {
            d.app("processes.web.port")?
        } else {
            Origin::Default("only the ingress controller reaches web's port")
        }
    } else if name == format!("{app}-{component}-metrics") {
        if inside("namespaceSelector") {
            d.platform("monitoring.namespace")?
        } else {
            Origin::Default(
                "the ports named metrics or *-metrics of the process's containers, to its own pods, from the monitoring namespace",
            )
        }
    } else if name == format!("{app}-{component}-external") {
        match last {
            "cidr" => d.app(&format!("processes.{component}.serviceType"))?,
            "port" => d.app(&format!("processes.{component}.port"))?,
            _ => Origin::Default(
                "a LoadBalancer or NodePort Service the allocation allows takes traffic from anywhere",
            ),
        }
    } else {
        return None;
    })
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
    let what = rest.last().copied().unwrap_or_default();
    if process == "redis" {
        return Some(match field {
            "image" => d.platform("images.redis")?,
            "resources" if what == "memory" => d.alloc("redis.memory")?,
            "resources" => sidecar_size(d, what),
            "volumeMounts" | "securityContext" | "imagePullPolicy" => return None,
            "args" => d.alloc("redis.persistence").unwrap_or(Origin::Default(
                "Redis as a cache: maxmemory 80% of its memory, least recently used keys evicted, nothing persisted",
            )),
            _ => Origin::Default("Redis, on its port 6379, probed there"),
        });
    }
    if let Some(service) = container.strip_prefix("wait-for-") {
        return match field {
            "image" if service == "postgres" => d.platform("images.wait"),
            "image" => d.platform("images.redis"),
            "resources" => Some(sidecar_size(d, what)),
            "securityContext" | "imagePullPolicy" => None,
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
        let fragment = d.fragment_item(process, &["containers", "initContainers"], container);
        return match field {
            "resources" => Some(sidecar_size(d, what)),
            "securityContext" | "imagePullPolicy" => None,
            _ => fragment.and_then(|f| d.app(&format!("{f}.{field}")).or_else(|| d.app(&f))),
        };
    };
    match field {
        "image" => d.app("image"),
        "command" | "args" => d.app(&format!("{base}.{field}")),
        "ports" => d.app(&format!("{base}.port")),
        "readinessProbe" | "livenessProbe" | "startupProbe" => d.app(&format!("{base}.health")),
        "resources" => d.sizing(sizing_for, input_quantity(what)).or_else(|| {
            (what == "ephemeral-storage").then_some(Origin::Default(
                "1Gi: every app container's local storage is bounded, unless the allocation, its plan or policy.ephemeralStorage says",
            ))
        }),
        "env" => d.app("services"),
        "envFrom" => d.app("env").or_else(|| d.app("secrets")),
        "name" => Some(Origin::Default(
            "named after its process, or `init` for the init step",
        )),
        _ => None,
    }
}

/// Why a field no input sets is what it is, for the fields dovetail always sets the
/// same way; `None` for a field this table does not know ([`FALLBACK`]).
fn named_default(kind: &str, component: &str, path: &[&str]) -> Option<&'static str> {
    Some(match (kind, path) {
        (_, ["apiVersion" | "kind"]) => "the kind and API version of this part of the app",
        (_, ["metadata", "name"]) => "named after the app and the part it is",
        (_, p) if p.contains(&"volumeMounts") || p.contains(&"volumes") => {
            "a writable /tmp, and the volumes the process's files and storage need"
        }
        (_, p) if p.contains(&"securityContext") => "Pod Security restricted",
        (_, p) if p.last() == Some(&"imagePullPolicy") => {
            "pull Always, so a private image needs the app's credentials"
        }
        (_, p) if p.contains(&"annotations") => "ArgoCD sync order and pod roll checksums",
        (_, ["spec", "strategy", ..]) => {
            "singletons and ReadWriteOnce volumes are replaced, everything else rolls one pod at a time"
        }
        ("ServiceAccount", ["automountServiceAccountToken"])
        | (
            "Deployment" | "Job",
            [
                "spec",
                "template",
                "spec",
                "automountServiceAccountToken" | "serviceAccountName",
            ],
        ) => "the app's own ServiceAccount, without an API token",
        ("Deployment" | "Job", ["spec", "template", "spec", "enableServiceLinks"]) => {
            "no Service variables in the environment: the app gets DATABASE_URL and REDIS_URL"
        }
        ("Deployment", ["spec", "revisionHistoryLimit"]) => {
            "five old ReplicaSets kept to roll back to"
        }
        (
            "Job",
            ["spec", "backoffLimit" | "activeDeadlineSeconds"]
            | ["spec", "template", "spec", "restartPolicy"],
        ) => {
            "the init step runs once per sync: 2 retries, 30 minutes at most, never restarted in place"
        }
        ("Secret", ["type"]) => {
            "Opaque for the app's values, kubernetes.io/dockerconfigjson for the image pull secret"
        }
        ("Cluster", ["spec", "bootstrap", ..]) => {
            "CloudNativePG creates the database `app`, owned by the role `app` whose URI the app gets"
        }
        ("Cluster", ["spec", "plugins", ..]) => {
            "backups through CloudNativePG's Barman Cloud plugin: WAL archived continuously to the app's ObjectStore"
        }
        ("ObjectStore", ["spec", "configuration", "wal" | "data", ..]) => {
            "WAL and base backups compressed with gzip"
        }
        ("ObjectStore", ["spec", "configuration", "s3Credentials", ..]) => {
            "the keys ACCESS_KEY_ID and ACCESS_SECRET_KEY of the operator's credentials Secret"
        }
        ("ScheduledBackup", ["spec", "immediate"]) => {
            "the first base backup at once: archived WAL alone restores nothing"
        }
        ("ScheduledBackup", ["spec", "backupOwnerReference"]) => {
            "each Backup object owned by the ScheduledBackup (the files in the store follow the retention policy)"
        }
        ("ScheduledBackup", ["spec", ..]) => {
            "base backups of the app's Cluster through the Barman Cloud plugin"
        }
        ("Cluster", ["spec", "enableSuperuserAccess"]) => {
            "no superuser: the app has its own role only"
        }
        ("PodDisruptionBudget", ["spec", "maxUnavailable"]) => {
            "one pod of the process down at a time during voluntary disruptions"
        }
        ("PodDisruptionBudget", ["spec", "unhealthyPodEvictionPolicy"]) => {
            "pods that are not ready may always be evicted, so the app cannot hold up node drains"
        }
        ("HorizontalPodAutoscaler", ["spec", "scaleTargetRef", ..]) => "the process's Deployment",
        ("HorizontalPodAutoscaler", ["spec", "metrics", ..]) => "scaled on CPU utilization",
        ("PodMonitor", ["spec", "podMetricsEndpoints", ..]) => {
            "each port named metrics or *-metrics of the process's containers, scraped at /metrics"
        }
        ("Service", ["spec", ..]) if component == "redis" => "Redis' port, inside the cluster only",
        _ => return None,
    })
}
