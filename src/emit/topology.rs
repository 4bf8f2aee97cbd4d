//! The app's topology, drawn from its rendered objects: the Ingress, the Services it and
//! the outside reach, the processes behind them, and what those use — the database,
//! Redis, the static volume. `dovetail graph` prints it on its own (mermaid or Graphviz
//! dot); `dovetail diff --format markdown` prints it with what changed highlighted.
//!
//! It is read from the objects rather than from the merged app so that both sides of a
//! diff draw the same way, and an object only the base has (a removed process) can
//! still be drawn, as removed.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a node stands for; it decides the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An Ingress.
    Ingress,
    /// A Service of a process.
    Service,
    /// A process's Deployment.
    Process,
    /// The init Job.
    Job,
    /// The CloudNativePG database.
    Database,
    /// Redis (its Deployment and Service).
    Redis,
    /// A PersistentVolumeClaim.
    Volume,
    /// The database's backups: its ObjectStore (and ScheduledBackup).
    Backups,
}

/// How a node compares with the base of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Only in the head.
    Added,
    /// In both, different (or something attached to it is).
    Changed,
    /// Only in the base.
    Removed,
}

impl Status {
    fn class(self) -> &'static str {
        match self {
            Status::Added => "added",
            Status::Changed => "changed",
            Status::Removed => "removed",
        }
    }
}

/// One box of the picture.
#[derive(Debug, Clone)]
pub struct Node {
    /// An identifier safe in mermaid and dot: letters, digits and `_`.
    pub id: String,
    /// What it is.
    pub role: Role,
    /// `Kind name`.
    pub title: String,
    /// Short facts: hosts, ports, replicas and sizes.
    pub details: Vec<String>,
    /// The ids (`Kind/namespace/name`) of the objects it stands for; the first is its own.
    pub objects: Vec<String>,
}

/// How two nodes connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Traffic: ingress to service, service to pods, pods to a database or Redis.
    Traffic,
    /// A volume the pods mount.
    Mount,
    /// The database archiving to its object store.
    Backup,
}

/// The nodes and edges of one app.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// The namespace the objects are in (the frame around them).
    pub namespace: String,
    /// In drawing order.
    pub nodes: Vec<Node>,
    /// `(from, to, how)`, as indices into `nodes`.
    pub edges: Vec<(usize, usize, Link)>,
}

/// `Kind/namespace/name` (or `Kind/name`), how `diff` names an object.
pub fn object_id(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

fn component(o: &Value) -> &str {
    o["metadata"]["labels"]["app.kubernetes.io/component"]
        .as_str()
        .unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

/// `a_b_c` from `a-b.c`: node ids stay clear of mermaid's arrow syntax and keywords.
fn node_id(prefix: &str, name: &str) -> String {
    let tail: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{tail}")
}

/// The pod spec of a Deployment or Job.
fn pod(o: &Value) -> &Value {
    &o["spec"]["template"]["spec"]
}

/// Every container of a pod spec, init containers first.
fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |l| pod[l].as_array().into_iter().flatten())
}

/// CPU and memory limits of the container named `main` (the process's own).
fn sizing(pod: &Value, main: &str) -> Option<String> {
    let c = pod["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == main)?;
    let limits = &c["resources"]["limits"];
    Some(format!(
        "{} CPU, {}",
        limits["cpu"].as_str()?,
        limits["memory"].as_str()?
    ))
}

impl Topology {
    /// The topology of `objects`, the render of one app (and, for a diff, the objects
    /// only the base has).
    pub fn of(objects: &[Value]) -> Topology {
        let mut t = Topology {
            namespace: objects
                .iter()
                .find_map(|o| o["metadata"]["namespace"].as_str())
                .unwrap_or_default()
                .to_owned(),
            ..Topology::default()
        };
        let by_role = |role: Role| objects.iter().filter(move |o| t_role(o) == Some(role));

        // Ingresses first, then services, processes and what they use: the order of
        // the picture, left to right.
        for o in by_role(Role::Ingress) {
            let hosts: Vec<String> = o["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["host"].as_str().map(str::to_owned))
                .collect();
            t.push(o, Role::Ingress, "ingress", hosts);
        }
        for o in by_role(Role::Service) {
            let mut details: Vec<String> = o["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["port"].as_u64().map(|n| format!("port {n}")))
                .collect();
            if let Some(ty) = o["spec"]["type"].as_str().filter(|t| *t != "ClusterIP") {
                details.push(ty.to_owned());
            }
            t.push(o, Role::Service, "svc", details);
        }
        for o in by_role(Role::Process).chain(by_role(Role::Job)) {
            let role = t_role(o).unwrap_or(Role::Process);
            let mut details = Vec::new();
            if role == Role::Process {
                let hpa = objects.iter().find(|h| {
                    kind(h) == "HorizontalPodAutoscaler"
                        && h["spec"]["scaleTargetRef"]["name"] == o["metadata"]["name"]
                });
                // An autoscaled Deployment leaves `replicas` to its autoscaler.
                let replicas = hpa
                    .and_then(|h| h["spec"]["minReplicas"].as_u64())
                    .or_else(|| o["spec"]["replicas"].as_u64())
                    .unwrap_or(1);
                details.push(match hpa.and_then(|h| h["spec"]["maxReplicas"].as_u64()) {
                    Some(max) => format!("{replicas} to {max} replicas"),
                    None if replicas == 1 => "1 replica".to_owned(),
                    None => format!("{replicas} replicas"),
                });
            }
            let main = if role == Role::Job {
                "init"
            } else {
                component(o)
            };
            details.extend(sizing(pod(o), main));
            let prefix = if role == Role::Job { "job" } else { "proc" };
            let i = t.push(o, role, prefix, details);
            // What moves with a process: its autoscaler, disruption budget, pod monitor.
            for other in objects {
                let attached = matches!(
                    kind(other),
                    "HorizontalPodAutoscaler" | "PodDisruptionBudget" | "PodMonitor"
                ) && name(other) == name(o);
                if attached {
                    t.nodes[i].objects.push(object_id(other));
                }
            }
        }
        for o in by_role(Role::Database) {
            let instances = o["spec"]["instances"].as_u64().unwrap_or(1);
            let mut details = vec![format!(
                "{instances} instance{}",
                if instances == 1 { "" } else { "s" }
            )];
            details.extend(o["spec"]["storage"]["size"].as_str().map(str::to_owned));
            t.push(o, Role::Database, "db", details);
        }
        for o in by_role(Role::Redis) {
            let details = sizing(pod(o), "redis").into_iter().collect();
            let i = t.push(o, Role::Redis, "redis", details);
            // Redis is one box: its Service goes with its Deployment.
            for s in objects {
                if kind(s) == "Service" && component(s) == "redis" {
                    t.nodes[i].objects.push(object_id(s));
                }
            }
        }
        for o in by_role(Role::Volume) {
            let mut details: Vec<String> = o["spec"]["resources"]["requests"]["storage"]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect();
            details.extend(
                o["spec"]["accessModes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
            t.push(o, Role::Volume, "vol", details);
        }
        for o in by_role(Role::Backups) {
            let mut details: Vec<String> = o["spec"]["configuration"]["destinationPath"]
                .as_str()
                .map(str::to_owned)
                .into_iter()
                .collect();
            let scheduled = objects
                .iter()
                .find(|b| kind(b) == "ScheduledBackup" && name(b) == name(o));
            match scheduled.and_then(|b| b["spec"]["schedule"].as_str()) {
                Some(schedule) => details.push(format!("base backups {schedule}")),
                None => details.push("not archiving (restoring)".to_owned()),
            }
            details.extend(
                o["spec"]["retentionPolicy"]
                    .as_str()
                    .map(|r| format!("kept {r}")),
            );
            let i = t.push(o, Role::Backups, "backups", details);
            if let Some(b) = scheduled {
                t.nodes[i].objects.push(object_id(b));
            }
        }
        t.connect(objects);
        // Left to right in the order of the nodes, whatever the order of the objects.
        t.edges.sort_by_key(|&(a, b, _)| (a, b));
        t
    }

    fn push(&mut self, o: &Value, role: Role, prefix: &str, details: Vec<String>) -> usize {
        self.nodes.push(Node {
            id: node_id(prefix, name(o)),
            role,
            title: format!("{} {}", title_kind(role), name(o)),
            details,
            objects: vec![object_id(o)],
        });
        self.nodes.len() - 1
    }

    fn find(&self, role: Role, name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.role == role && n.objects[0].rsplit('/').next() == Some(name))
    }

    fn edge(&mut self, from: Option<usize>, to: Option<usize>, link: Link) {
        if let (Some(a), Some(b)) = (from, to)
            && !self.edges.contains(&(a, b, link))
        {
            self.edges.push((a, b, link));
        }
    }

    fn connect(&mut self, objects: &[Value]) {
        for o in objects {
            match t_role(o) {
                Some(Role::Ingress) => {
                    let backends: Vec<String> = o["spec"]["rules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|r| r["http"]["paths"].as_array().into_iter().flatten())
                        .filter_map(|p| p["backend"]["service"]["name"].as_str())
                        .map(str::to_owned)
                        .collect();
                    let from = self.find(Role::Ingress, name(o));
                    for b in backends {
                        let to = self.find(Role::Service, &b);
                        self.edge(from, to, Link::Traffic);
                    }
                }
                Some(Role::Service) => {
                    // A Service selects its process's pods by the component label.
                    let target = o["spec"]["selector"]["app.kubernetes.io/component"].as_str();
                    let from = self.find(Role::Service, name(o));
                    let to = objects
                        .iter()
                        .filter(|d| t_role(d) == Some(Role::Process))
                        .find(|d| Some(component(d)) == target)
                        .and_then(|d| self.find(Role::Process, name(d)));
                    self.edge(from, to, Link::Traffic);
                }
                Some(Role::Database) => {
                    // Archiving through the plugin, or recovering from the store.
                    let from = self.find(Role::Database, name(o));
                    let stores = o["spec"]["plugins"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(
                            o["spec"]["externalClusters"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|c| &c["plugin"]),
                        )
                        .filter_map(|p| p["parameters"]["barmanObjectName"].as_str())
                        .map(str::to_owned)
                        .collect::<Vec<_>>();
                    for store in stores {
                        let to = self.find(Role::Backups, &store);
                        self.edge(from, to, Link::Backup);
                    }
                }
                Some(Role::Redis) => {
                    let from = self.find(Role::Redis, name(o));
                    for v in pod(o)["volumes"].as_array().into_iter().flatten() {
                        if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                            let to = self.find(Role::Volume, claim);
                            self.edge(from, to, Link::Mount);
                        }
                    }
                }
                Some(role @ (Role::Process | Role::Job)) => {
                    let from = self.find(role, name(o));
                    let spec = pod(o);
                    for c in containers(spec) {
                        for e in c["env"].as_array().into_iter().flatten() {
                            // DATABASE_URL comes from CloudNativePG's `<cluster>-app`
                            // Secret; REDIS_URL names Redis's Service.
                            if let Some(secret) = e["valueFrom"]["secretKeyRef"]["name"].as_str()
                                && let Some(db) = secret.strip_suffix("-app")
                            {
                                let to = self.find(Role::Database, db);
                                self.edge(from, to, Link::Traffic);
                            }
                            if e["name"] == "REDIS_URL"
                                && let Some(url) = e["value"].as_str()
                            {
                                let to = self.nodes.iter().position(|n| {
                                    n.role == Role::Redis
                                        && n.objects[0]
                                            .rsplit('/')
                                            .next()
                                            .is_some_and(|r| url.contains(&format!("//{r}:")))
                                });
                                self.edge(from, to, Link::Traffic);
                            }
                        }
                    }
                    for v in spec["volumes"].as_array().into_iter().flatten() {
                        if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                            let to = self.find(Role::Volume, claim);
                            self.edge(from, to, Link::Mount);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Each node's status, from the status of the objects it stands for: its own, or
    /// changed when only something attached to it (its autoscaler, say) is.
    pub fn statuses(&self, objects: &BTreeMap<String, Status>) -> Vec<Option<Status>> {
        self.nodes
            .iter()
            .map(|n| match objects.get(&n.objects[0]) {
                Some(s) => Some(*s),
                None => n
                    .objects
                    .iter()
                    .any(|o| objects.contains_key(o))
                    .then_some(Status::Changed),
            })
            .collect()
    }

    /// A mermaid flowchart, nodes classed by `status` (see [`Topology::statuses`]).
    pub fn mermaid(&self, status: &[Option<Status>]) -> String {
        let mut out = String::from("flowchart LR\n");
        if status.iter().any(Option::is_some) {
            out.push_str(
                "  classDef added fill:#dcfce7,stroke:#15803d,stroke-width:2px\n\
                 \x20 classDef changed fill:#fef3c7,stroke:#b45309,stroke-width:2px\n\
                 \x20 classDef removed fill:#fee2e2,stroke:#b91c1c,stroke-width:2px,stroke-dasharray:5 3\n",
            );
        }
        let framed = !self.namespace.is_empty();
        if framed {
            out.push_str(&format!(
                "  subgraph ns[\"{}\"]\n",
                mermaid_text(&format!("namespace {}", self.namespace))
            ));
        }
        let indent = if framed { "    " } else { "  " };
        for n in &self.nodes {
            let mut label = mermaid_text(&n.title);
            for d in &n.details {
                label.push_str("<br/>");
                label.push_str(&mermaid_text(d));
            }
            let (open, close) = match n.role {
                Role::Ingress => ("{{", "}}"),
                Role::Service => ("([", "])"),
                Role::Process => ("[", "]"),
                Role::Job => ("[[", "]]"),
                Role::Database | Role::Redis => ("[(", ")]"),
                Role::Volume => ("[/", "/]"),
                Role::Backups => (">", "]"),
            };
            out.push_str(&format!("{indent}{}{open}\"{label}\"{close}\n", n.id));
        }
        if framed {
            out.push_str("  end\n");
        }
        for (a, b, link) in &self.edges {
            let arrow = match link {
                Link::Traffic => "-->",
                Link::Mount => "-. mounts .->",
                Link::Backup => "-. backs up .->",
            };
            out.push_str(&format!(
                "  {} {arrow} {}\n",
                self.nodes[*a].id, self.nodes[*b].id
            ));
        }
        for class in [Status::Added, Status::Changed, Status::Removed] {
            let ids: Vec<&str> = self
                .nodes
                .iter()
                .zip(status)
                .filter(|(_, s)| **s == Some(class))
                .map(|(n, _)| n.id.as_str())
                .collect();
            if !ids.is_empty() {
                out.push_str(&format!("  class {} {}\n", ids.join(","), class.class()));
            }
        }
        out
    }

    /// A Graphviz digraph, nodes filled by `status` as in [`Topology::mermaid`].
    pub fn dot(&self, status: &[Option<Status>]) -> String {
        let mut out = String::from("digraph dovetail {\n");
        out.push_str("  rankdir=LR;\n");
        out.push_str("  fontname=\"Helvetica\";\n");
        out.push_str(
            "  node [fontname=\"Helvetica\", fontsize=11, style=filled, fillcolor=\"#f8fafc\", color=\"#475569\"];\n",
        );
        out.push_str("  edge [color=\"#475569\"];\n");
        let framed = !self.namespace.is_empty();
        if framed {
            out.push_str("  subgraph cluster_namespace {\n");
            out.push_str(&format!(
                "    label=\"{}\";\n    style=rounded;\n    color=\"#94a3b8\";\n",
                dot_text(&format!("namespace {}", self.namespace))
            ));
        }
        let indent = if framed { "    " } else { "  " };
        for (i, n) in self.nodes.iter().enumerate() {
            let mut label = dot_text(&n.title);
            for d in &n.details {
                label.push_str("\\n");
                label.push_str(&dot_text(d));
            }
            let shape = match n.role {
                Role::Ingress => "hexagon",
                Role::Service => "ellipse",
                Role::Process => "box",
                Role::Job => "component",
                Role::Database | Role::Redis => "cylinder",
                Role::Volume => "folder",
                Role::Backups => "tab",
            };
            let fill = match status.get(i).copied().flatten() {
                Some(Status::Added) => ", fillcolor=\"#dcfce7\", color=\"#15803d\", penwidth=2",
                Some(Status::Changed) => ", fillcolor=\"#fef3c7\", color=\"#b45309\", penwidth=2",
                Some(Status::Removed) => {
                    ", fillcolor=\"#fee2e2\", color=\"#b91c1c\", penwidth=2, style=\"filled,dashed\""
                }
                None => "",
            };
            out.push_str(&format!(
                "{indent}{} [label=\"{label}\", shape={shape}{fill}];\n",
                n.id
            ));
        }
        if framed {
            out.push_str("  }\n");
        }
        for (a, b, link) in &self.edges {
            let style = match link {
                Link::Traffic => "",
                Link::Mount => {
                    " [style=dashed, label=\"mounts\", fontname=\"Helvetica\", fontsize=9]"
                }
                Link::Backup => {
                    " [style=dashed, label=\"backs up\", fontname=\"Helvetica\", fontsize=9]"
                }
            };
            out.push_str(&format!(
                "  {} -> {}{style};\n",
                self.nodes[*a].id, self.nodes[*b].id
            ));
        }
        out.push_str("}\n");
        out
    }
}

/// The role of an object that is drawn, `None` for the rest (config, policies, …).
fn t_role(o: &Value) -> Option<Role> {
    Some(match (kind(o), component(o)) {
        ("Ingress", _) => Role::Ingress,
        ("Service", "redis") => return None,
        ("Service", _) => Role::Service,
        ("Deployment", "redis") => Role::Redis,
        ("Deployment", _) => Role::Process,
        ("Job", _) => Role::Job,
        ("Cluster", _) => Role::Database,
        ("PersistentVolumeClaim", _) => Role::Volume,
        ("ObjectStore", _) => Role::Backups,
        _ => return None,
    })
}

fn title_kind(role: Role) -> &'static str {
    match role {
        Role::Ingress => "Ingress",
        Role::Service => "Service",
        Role::Process => "Deployment",
        Role::Job => "Job",
        Role::Database => "PostgreSQL",
        Role::Redis => "Redis",
        Role::Volume => "volume",
        Role::Backups => "backups",
    }
}

/// Text inside a quoted mermaid label: mermaid's own entity codes for what would end
/// the label or read as markup, so that a value can never break out of its box.
fn mermaid_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a quoted dot label.
fn dot_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_their_box() {
        assert_eq!(mermaid_text("a\"]b<c>#d&"), "a#quot;]b#lt;c#gt;#35;d#amp;");
        assert_eq!(dot_text("a\"b\\c\nd"), "a\\\"b\\\\c d");
    }

    #[test]
    fn node_ids_are_plain() {
        assert_eq!(node_id("proc", "shop-web"), "proc_shop_web");
        assert_eq!(node_id("vol", "a.b-c"), "vol_a_b_c");
    }
}
