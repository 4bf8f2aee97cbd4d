//! Kubernetes objects from a resolved app.
//!
//! Every object is built in a fixed key order and the objects come in a fixed order
//! (dependencies first, then by name), so the same inputs give the same bytes. Every
//! container, sidecars and init containers too, meets Pod Security *restricted*: whatever
//! a fragment says, its `securityContext` is rebuilt from the platform's defaults plus the
//! few fields that only tighten them, and its resources are the operator's.

pub mod fleet;
pub mod value;

use serde_json::{Map, Value};

use self::value::value;

use crate::digest::sha256_hex;
use crate::input::model::{DatabaseProvider, InitMode, Resources, Service, ServiceType};
use crate::merge::{Resolved, ResolvedProcess};

/// The user and group containers run as unless the app tightens it to another non-root id.
pub const DEFAULT_UID: u64 = 10001;
/// Annotation on pod templates whose value changes whenever env or files change.
pub const CHECKSUM_ANNOTATION: &str = "dovetail/config-checksum";
const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// The kinds `dovetail render` produces, which is all an app's AppProject admits.
pub const RENDERED_KINDS: &[(&str, &str)] = &[
    ("", "ServiceAccount"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("dovetail.dev", "AgeSecret"),
    ("", "PersistentVolumeClaim"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("batch", "Job"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("postgresql.cnpg.io", "Cluster"),
    ("postgresql.cnpg.io", "ScheduledBackup"),
    ("barmancloud.cnpg.io", "ObjectStore"),
    ("monitoring.coreos.com", "PodMonitor"),
];

/// Renders every object of the app, in output order.
pub fn render(r: &Resolved) -> Vec<Value> {
    let mut out = Vec::new();
    out.push(service_account(r));
    if !r.env.is_empty() {
        out.push(env_config_map(r));
    }
    if !r.files.is_empty() {
        out.push(files_config_map(r));
    }
    out.extend(secrets(r));
    if let Some(s) = &r.static_files {
        let mut spec = value!({
            "accessModes": [&s.access_mode],
            "resources": {"requests": {"storage": &s.size}},
        });
        if let Some(class) = &s.storage_class {
            spec["storageClassName"] = value!(class);
        }
        out.push(object(
            r,
            "v1",
            "PersistentVolumeClaim",
            &name(r, "static"),
            "static",
            Some(spec),
            true,
        ));
    }
    if let Some(db) = &r.database
        && db.provider == DatabaseProvider::Cnpg
    {
        out.extend(database(r, db));
    }
    if let Some(persistence) = r.redis.as_ref().and_then(|x| x.persistence.as_ref()) {
        let mut spec = value!({
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": &persistence.size}},
        });
        if let Some(class) = &persistence.storage_class {
            spec["storageClassName"] = value!(class);
        }
        out.push(object(
            r,
            "v1",
            "PersistentVolumeClaim",
            &name(r, "redis"),
            "redis",
            Some(spec),
            true,
        ));
    }
    if r.redis.is_some() {
        out.push(redis_service(r));
    }
    for p in &r.processes {
        if let Some(port) = p.port {
            out.push(service(r, &p.name, port, p.service_type));
        }
    }
    if r.redis.is_some() {
        out.push(redis_deployment(r));
    }
    for p in &r.processes {
        out.push(deployment(r, p));
    }
    if let Some(init) = &r.init
        && init.mode == InitMode::Job
    {
        out.push(init_job(r));
    }
    for p in &r.processes {
        if let Some(a) = &p.autoscaling {
            let spec = value!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name(r, &p.name)},
                "minReplicas": a.min_replicas,
                "maxReplicas": a.max_replicas,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": a.cpu_utilization}}}],
            });
            out.push(object(
                r,
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                &name(r, &p.name),
                &p.name,
                Some(spec),
                false,
            ));
        }
    }
    for p in &r.processes {
        let least = p
            .autoscaling
            .as_ref()
            .map_or(p.replicas, |a| a.min_replicas);
        if least > 1 {
            // The customer decides when a pod is ready: under the default policy
            // (IfHealthyBudget) pods kept unready on purpose would block every eviction,
            // and so node drains and upgrades for every tenant on their nodes.
            let spec = value!({
                "maxUnavailable": 1,
                "selector": {"matchLabels": selector(r, &p.name)},
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            });
            out.push(object(
                r,
                "policy/v1",
                "PodDisruptionBudget",
                &name(r, &p.name),
                &p.name,
                Some(spec),
                false,
            ));
        }
    }
    if let Some(ing) = &r.ingress {
        out.push(ingress(r, ing));
    }
    out.extend(network_policies(r));
    out.extend(pod_monitors(r));
    out
}

fn name(r: &Resolved, suffix: &str) -> String {
    format!("{}-{suffix}", r.identity.app)
}

fn instance(r: &Resolved) -> String {
    format!("{}-{}", r.identity.tenant, r.identity.app)
}

fn labels(r: &Resolved, component: &str) -> Value {
    value!({
        "app.kubernetes.io/name": &r.identity.app,
        "app.kubernetes.io/instance": instance(r),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": &r.identity.app,
        "app.kubernetes.io/managed-by": "dovetail",
    })
}

fn selector(r: &Resolved, component: &str) -> Value {
    value!({
        "app.kubernetes.io/name": &r.identity.app,
        "app.kubernetes.io/instance": instance(r),
        "app.kubernetes.io/component": component,
    })
}

/// An object with the common metadata. `early` objects are what the init Job needs to
/// exist before it runs, so they go into an earlier ArgoCD sync wave.
fn object(
    r: &Resolved,
    api_version: &str,
    kind: &str,
    name: &str,
    component: &str,
    spec: Option<Value>,
    early: bool,
) -> Value {
    let mut metadata = value!({
        "name": name,
        "namespace": &r.namespace,
        "labels": labels(r, component),
    });
    if early {
        metadata["annotations"] = value!({SYNC_WAVE: "-2"});
    }
    let mut o = value!({"apiVersion": api_version, "kind": kind, "metadata": metadata});
    if let Some(spec) = spec {
        o["spec"] = spec;
    }
    o
}

fn service_account(r: &Resolved) -> Value {
    let mut o = object(
        r,
        "v1",
        "ServiceAccount",
        &r.identity.app,
        "app",
        None,
        true,
    );
    o["automountServiceAccountToken"] = value!(false);
    o
}

fn env_config_map(r: &Resolved) -> Value {
    let mut o = object(r, "v1", "ConfigMap", &name(r, "env"), "config", None, true);
    o["data"] = Value::Object(r.env.iter().map(|(k, v)| (k.clone(), value!(v))).collect());
    o
}

fn files_config_map(r: &Resolved) -> Value {
    let mut o = object(
        r,
        "v1",
        "ConfigMap",
        &name(r, "files"),
        "config",
        None,
        true,
    );
    let mut data = Map::new();
    let mut binary = Map::new();
    let mut files: Vec<_> = r.files.iter().collect();
    files.sort_by(|a, b| a.key.cmp(&b.key));
    for f in files {
        // `data` must be UTF-8 and hold nothing the API server's apply refuses.
        match std::str::from_utf8(&f.content) {
            Ok(text) if !text.contains(crate::input::formats::unappliable) => {
                data.insert(f.key.clone(), value!(text))
            }
            _ => binary.insert(f.key.clone(), value!(base64(&f.content))),
        };
    }
    if !data.is_empty() {
        o["data"] = Value::Object(data);
    }
    if !binary.is_empty() {
        o["binaryData"] = Value::Object(binary);
    }
    o
}

/// Standard base64 with padding, as ConfigMap `binaryData` and Secret `data` take it.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The app's Secret (values as env for every process) and its image pull Secret. Without
/// an identity the values are replaced by a marker, in `stringData` so it stays readable.
/// The API group, version and kind of the object that carries an app's ciphertexts to
/// `dovetail controller`.
pub const AGE_SECRET: (&str, &str, &str) = ("dovetail.dev", "v1alpha1", "AgeSecret");

fn secrets(r: &Resolved) -> Vec<Value> {
    let Some(sec) = &r.secrets else {
        return Vec::new();
    };
    if sec.decryption == crate::input::model::Decryption::Cluster {
        return vec![age_secret(r, sec)];
    }
    let mut out = Vec::new();
    let fill = |o: &mut Value, entries: Vec<(String, &Option<Vec<u8>>)>| {
        let redacted = entries.iter().any(|(_, v)| v.is_none());
        let map: Map<String, Value> = entries
            .into_iter()
            .map(|(k, v)| {
                let shown = match v {
                    Some(bytes) => value!(base64(bytes)),
                    None => value!("<redacted: rendered without an identity>"),
                };
                (k, shown)
            })
            .collect();
        o[if redacted { "stringData" } else { "data" }] = Value::Object(map);
    };
    if !sec.values.is_empty() {
        let mut o = object(r, "v1", "Secret", &name(r, "secrets"), "config", None, true);
        o["type"] = value!("Opaque");
        fill(
            &mut o,
            sec.values.iter().map(|(k, v)| (k.clone(), v)).collect(),
        );
        out.push(o);
    }
    if let Some(pull) = &sec.pull {
        let mut o = object(r, "v1", "Secret", &name(r, "pull"), "config", None, true);
        o["type"] = value!("kubernetes.io/dockerconfigjson");
        fill(&mut o, vec![(".dockerconfigjson".to_owned(), pull)]);
        out.push(o);
    }
    out
}

/// The app's ciphertexts, unchanged, for `dovetail controller` to decrypt in the app's
/// namespace into the Secrets `<app>-secrets` and `<app>-pull`: the render holds nothing
/// that is not already in git.
fn age_secret(r: &Resolved, secrets: &crate::merge::ResolvedSecrets) -> Value {
    let (group, version, kind) = AGE_SECRET;
    let mut spec = value!({"data": &secrets.armored});
    if let Some(pull) = &secrets.pull_key {
        spec["imagePullSecret"] = value!(pull);
    }
    object(
        r,
        &format!("{group}/{version}"),
        kind,
        &r.identity.app,
        "config",
        Some(spec),
        true,
    )
}

fn has_secret_env(r: &Resolved) -> bool {
    r.secrets.as_ref().is_some_and(|s| !s.values.is_empty())
}

fn service(r: &Resolved, process: &str, port: u16, kind: ServiceType) -> Value {
    let spec = value!({
        "type": format!("{kind:?}"),
        "selector": selector(r, process),
        "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
    });
    object(
        r,
        "v1",
        "Service",
        &name(r, process),
        process,
        Some(spec),
        false,
    )
}

fn resources(res: &Resources) -> Value {
    // Requests equal limits: each pod gets exactly what the operator allocated
    // (Guaranteed QoS), no more under contention and no less. Local storage has a limit
    // too, so that no container can fill its node's disk.
    let mut amounts = value!({"cpu": &res.cpu, "memory": &res.memory});
    if let Some(e) = &res.ephemeral_storage {
        amounts["ephemeral-storage"] = value!(e);
    }
    value!({"requests": &amounts, "limits": amounts})
}

/// The restricted security context, with the fields a fragment may tighten applied.
/// The root filesystem is always read-only: code that an attacker gets to run cannot
/// change the image's programs; `/tmp` is writable ([`with_tmp`]) and an app mounts an
/// `emptyDir` wherever else it must write.
fn container_security(tightened: Option<&Value>) -> Value {
    let mut sc = value!({
        "allowPrivilegeEscalation": false,
        "privileged": false,
        "readOnlyRootFilesystem": true,
        "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    if let Some(Value::Object(t)) = tightened {
        for key in ["runAsUser", "runAsGroup"] {
            if let Some(v) = t.get(key) {
                sc[key] = v.clone();
            }
        }
    }
    sc
}

/// Env every app container gets: the env ConfigMap and the platform services' URLs.
fn app_env(r: &Resolved, c: &mut Map<String, Value>) {
    let mut env = Vec::new();
    if r.database.is_some() {
        env.push(value!({"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": name(r, "db-app"), "key": "uri"}}}));
    }
    if r.redis.is_some() {
        env.push(
            value!({"name": "REDIS_URL", "value": format!("redis://{}:6379/0", name(r, "redis"))}),
        );
    }
    if !env.is_empty() {
        c.insert("env".into(), Value::Array(env));
    }
    let mut from = Vec::new();
    if !r.env.is_empty() {
        from.push(value!({"configMapRef": {"name": name(r, "env")}}));
    }
    if has_secret_env(r) {
        from.push(value!({"secretRef": {"name": name(r, "secrets")}}));
    }
    if !from.is_empty() {
        c.insert("envFrom".into(), Value::Array(from));
    }
}

fn mounts(r: &Resolved, files: &[String], mounts_static: bool) -> Vec<Value> {
    let mut v = Vec::new();
    for f in r.files.iter().filter(|f| files.contains(&f.key)) {
        v.push(value!({"name": "dovetail-files", "mountPath": &f.mount, "subPath": &f.key, "readOnly": true}));
    }
    if mounts_static && let Some(s) = &r.static_files {
        v.push(value!({"name": "dovetail-static", "mountPath": &s.mount}));
    }
    v
}

/// Whether container `c` declares `port` over TCP among its container ports: the one
/// that does serves the process's port (the fragment checks ask the same).
pub(crate) fn declares_port(c: &Value, port: u16) -> bool {
    c.get("ports")
        .and_then(Value::as_array)
        .is_some_and(|ports| ports.iter().any(|p| is_tcp_port(p, port)))
}

/// Whether container port `p` is `port` over TCP, what the process's Service sends.
pub(crate) fn is_tcp_port(p: &Value, port: u16) -> bool {
    p.get("containerPort").and_then(Value::as_u64) == Some(u64::from(port))
        && p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == "TCP"
}

/// The process's probes, on the container that serves its port (or runs its health
/// command): readiness, liveness and a generous start-up probe.
fn probes(p: &ResolvedProcess, c: &mut Map<String, Value>) {
    let action = match (&p.health_command, &p.health_path, p.port) {
        (Some(cmd), _, _) => value!({"exec": {"command": cmd}}),
        (None, Some(path), Some(_)) => value!({"httpGet": {"path": path, "port": "http"}}),
        (None, _, Some(_)) => value!({"tcpSocket": {"port": "http"}}),
        (None, _, None) => return,
    };
    let probe = |extra: Value| {
        let mut pr = action.clone();
        if let (Value::Object(pr), Value::Object(extra)) = (&mut pr, extra) {
            pr.extend(extra);
        }
        pr
    };
    c.insert(
        "readinessProbe".into(),
        probe(value!({"periodSeconds": 5, "failureThreshold": 3})),
    );
    c.insert(
        "livenessProbe".into(),
        probe(value!({"periodSeconds": 10, "failureThreshold": 6})),
    );
    // Generous start-up: migrations-heavy frameworks can take minutes on first boot.
    c.insert(
        "startupProbe".into(),
        probe(value!({"periodSeconds": 5, "failureThreshold": 60})),
    );
}

/// Makes sidecar `c` the one that serves the process's port (a web server in front of
/// the app server): its port becomes `http`, which the Service targets, and it gets the
/// process's probes.
fn serve_from(c: &mut Value, p: &ResolvedProcess) {
    let Some(port) = p.port else { return };
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for pt in ports.iter_mut().filter(|pt| is_tcp_port(pt, port)) {
            pt["name"] = value!("http");
        }
    }
    if let Value::Object(m) = c
        && p.health_command.is_none()
    {
        probes(p, m);
    }
}

fn main_container(r: &Resolved, p: &ResolvedProcess, serves: bool) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), value!(&p.name));
    c.insert("image".into(), value!(&r.image));
    c.insert("imagePullPolicy".into(), value!("Always"));
    if let Some(cmd) = &p.command {
        c.insert("command".into(), value!(cmd));
    }
    if let Some(args) = &p.args {
        c.insert("args".into(), value!(args));
    }
    if let (Some(port), true) = (p.port, serves) {
        c.insert(
            "ports".into(),
            value!([{"name": "http", "containerPort": port, "protocol": "TCP"}]),
        );
    }
    app_env(r, &mut c);
    c.insert("resources".into(), resources(&p.resources));
    let m = mounts(r, &p.files, p.mounts_static);
    if !m.is_empty() {
        c.insert("volumeMounts".into(), Value::Array(m));
    }
    // A health command checks the app itself; an HTTP or TCP check goes to whoever
    // serves the port.
    if serves || p.health_command.is_some() {
        probes(p, &mut c);
    }
    let mut c = Value::Object(c);
    for patch in &p.patches {
        apply_patch(&mut c, patch);
    }
    let tightened = p
        .patches
        .iter()
        .rev()
        .find_map(|pt| pt.get("securityContext"));
    c["securityContext"] = container_security(tightened);
    c
}

/// Merges a fragment's container into the process's container: scalars and probes
/// replace, `env` merges by name, `volumeMounts` by mount path, `ports` by number and
/// protocol, and
/// `envFrom` appends. Resources and the security context are never taken from a patch.
fn apply_patch(c: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        return;
    };
    for (key, value) in patch {
        match key.as_str() {
            "name" | "resources" | "securityContext" => {}
            "env" => merge_list(c, key, value, "name"),
            "volumeMounts" => merge_list(c, key, value, "mountPath"),
            "ports" => merge_ports(c, value),
            "envFrom" => {
                let list = c[key.as_str()].as_array().cloned().unwrap_or_default();
                let mut list = list;
                list.extend(value.as_array().cloned().unwrap_or_default());
                c[key.as_str()] = Value::Array(list);
            }
            _ => c[key.as_str()] = value.clone(),
        }
    }
}

/// Merges a patch's `ports` into the container's by number and protocol, Kubernetes'
/// merge key for them: 53/TCP and 53/UDP are two ports.
fn merge_ports(c: &mut Value, value: &Value) {
    let mut list = c["ports"].as_array().cloned().unwrap_or_default();
    for item in value.as_array().into_iter().flatten() {
        match list.iter_mut().find(|old| port_key(old) == port_key(item)) {
            Some(old) => *old = item.clone(),
            None => list.push(item.clone()),
        }
    }
    c["ports"] = Value::Array(list);
}

/// A container port's merge key: its number and protocol (TCP when not given).
pub(crate) fn port_key(p: &Value) -> (Option<i64>, &str) {
    (
        p.get("containerPort").and_then(Value::as_i64),
        p.get("protocol").and_then(Value::as_str).unwrap_or("TCP"),
    )
}

fn merge_list(c: &mut Value, key: &str, value: &Value, by: &str) {
    let mut list = c[key].as_array().cloned().unwrap_or_default();
    for item in value.as_array().into_iter().flatten() {
        match list.iter_mut().find(|old| old.get(by) == item.get(by)) {
            Some(old) => *old = item.clone(),
            None => list.push(item.clone()),
        }
    }
    c[key] = Value::Array(list);
}

/// A fragment's own container (sidecar or init) with the platform's resources and
/// security context in place of whatever it said.
fn extra_container(r: &Resolved, c: &Value) -> Value {
    let mut c = c.clone();
    if c.get("imagePullPolicy").is_none()
        && let Value::Object(m) = &mut c
    {
        // Keep `imagePullPolicy` next to `image` for readability.
        let mut ordered = Map::new();
        for (k, v) in std::mem::take(m) {
            let is_image = k == "image";
            ordered.insert(k, v);
            if is_image {
                ordered.insert("imagePullPolicy".into(), value!("Always"));
            }
        }
        *m = ordered;
    }
    c["resources"] = resources(&r.sidecar_resources);
    let tightened = c.get("securityContext").cloned();
    c["securityContext"] = container_security(tightened.as_ref());
    c
}

/// Init containers that hold a pod back until the services in `waits` answer: the
/// database accepts connections (`pg_isready` in the platform's wait image), Redis
/// answers PING (`redis-cli` in the platform's Redis image). They read the same
/// `DATABASE_URL` and `REDIS_URL` the app does.
fn wait_containers(r: &Resolved, waits: &[Service]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for service in waits {
        if seen.contains(service) {
            continue;
        }
        seen.push(*service);
        let (container, image, env, script) = match service {
            Service::Postgres => (
                "wait-for-postgres",
                r.wait_image.clone(),
                value!({"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": name(r, "db-app"), "key": "uri"}}}),
                "until pg_isready -q -d \"$DATABASE_URL\"; do sleep 2; done",
            ),
            Service::Redis => (
                "wait-for-redis",
                r.redis.as_ref().map(|x| x.image.clone()),
                value!({"name": "REDIS_URL", "value": format!("redis://{}:6379/0", name(r, "redis"))}),
                "until redis-cli -u \"$REDIS_URL\" ping | grep -q PONG; do sleep 2; done",
            ),
        };
        let Some(image) = image else { continue };
        out.push(value!({
            "name": container,
            "image": image,
            "imagePullPolicy": "Always",
            "command": ["sh", "-c", script],
            "env": [env],
            "resources": resources(&r.sidecar_resources),
            "securityContext": container_security(None),
        }));
    }
    out
}

fn init_container(r: &Resolved) -> Option<Value> {
    let init = r.init.as_ref()?;
    let mut c = Map::new();
    c.insert("name".into(), value!("init"));
    c.insert("image".into(), value!(&r.image));
    c.insert("imagePullPolicy".into(), value!("Always"));
    c.insert("command".into(), value!(&init.command));
    if let Some(args) = &init.args {
        c.insert("args".into(), value!(args));
    }
    app_env(r, &mut c);
    c.insert("resources".into(), resources(&init.resources));
    let all_files: Vec<String> = r.files.iter().map(|f| f.key.clone()).collect();
    let m = mounts(r, &all_files, r.static_files.is_some());
    if !m.is_empty() {
        c.insert("volumeMounts".into(), Value::Array(m));
    }
    c.insert("securityContext".into(), container_security(None));
    Some(Value::Object(c))
}

fn volumes(r: &Resolved, files: bool, static_files: bool) -> Vec<Value> {
    let mut v = Vec::new();
    if files {
        v.push(value!({"name": "dovetail-files", "configMap": {"name": name(r, "files")}}));
    }
    if static_files {
        v.push(value!({"name": "dovetail-static", "persistentVolumeClaim": {"claimName": name(r, "static")}}));
    }
    v
}

/// Gives every container of a pod spec a writable `/tmp` (an `emptyDir` capped at
/// `size`, the local storage of the pod's main container), unless it mounts something
/// there itself: with a read-only root, Python, gunicorn and most runtimes still need a
/// scratch directory.
fn with_tmp(spec: &mut Map<String, Value>, size: Option<&str>) {
    let mut used = false;
    for list in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for c in containers {
            let has_tmp = c
                .get("volumeMounts")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|m| m["mountPath"] == "/tmp"));
            if has_tmp {
                continue;
            }
            used = true;
            let mount = value!({"name": "dovetail-tmp", "mountPath": "/tmp"});
            match c.get_mut("volumeMounts") {
                Some(Value::Array(m)) => m.push(mount),
                _ => c["volumeMounts"] = value!([mount]),
            }
        }
    }
    if used {
        let volume =
            value!({"name": "dovetail-tmp", "emptyDir": {"sizeLimit": size.unwrap_or(TMP_SIZE)}});
        match spec.get_mut("volumes") {
            Some(Value::Array(v)) => v.push(volume),
            _ => {
                spec.insert("volumes".into(), value!([volume]));
            }
        }
    }
}

/// How much a pod may write to `/tmp` when its main container's local storage is unknown.
const TMP_SIZE: &str = crate::input::model::DEFAULT_EPHEMERAL_STORAGE;

fn pull_secrets(r: &Resolved, spec: &mut Map<String, Value>) {
    if r.secrets.as_ref().is_some_and(|s| s.pull.is_some()) {
        spec.insert(
            "imagePullSecrets".into(),
            value!([{"name": name(r, "pull")}]),
        );
    }
}

fn pod_security() -> Value {
    value!({
        "runAsNonRoot": true,
        "runAsUser": DEFAULT_UID,
        "runAsGroup": DEFAULT_UID,
        "fsGroup": DEFAULT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    })
}

/// What a process's pods must roll on: env, secrets and every file the pod reads. The
/// files are mounted by `subPath`, which the kubelet never refreshes: a pod that reads a
/// file, and does not roll when it changes, runs on the old one. (The fragments are in
/// the pod template itself, whose change rolls the pods anyway.)
fn checksum(r: &Resolved, p: &ResolvedProcess, runs_init: bool) -> String {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for (k, v) in &r.env {
        parts.push(k.as_bytes().to_vec());
        parts.push(v.as_bytes().to_vec());
    }
    // The init step sees every file; a fragment may mount any of them.
    let every_file = runs_init || fragments_mount_files(r, p);
    for f in r
        .files
        .iter()
        .filter(|f| every_file || p.files.contains(&f.key))
    {
        parts.push(f.key.as_bytes().to_vec());
        parts.push(f.content.clone());
    }
    if let Some(sec) = &r.secrets {
        parts.push(sec.checksum.as_bytes().to_vec());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    sha256_hex(&refs)
}

/// Whether a fragment of `p` mounts the app's files ConfigMap: through dovetail's
/// `dovetail-files` volume, or a volume of its own that names `<app>-files` (directly or
/// among a projected volume's sources).
fn fragments_mount_files(r: &Resolved, p: &ResolvedProcess) -> bool {
    fn names_config_map(v: &Value, wanted: &str) -> bool {
        match v {
            Value::Object(m) => m.iter().any(|(k, v)| {
                (k == "configMap" && v.get("name").and_then(Value::as_str) == Some(wanted))
                    || names_config_map(v, wanted)
            }),
            Value::Array(items) => items.iter().any(|v| names_config_map(v, wanted)),
            _ => false,
        }
    }
    let files = name(r, "files");
    let mut volumes: Vec<&str> = vec!["dovetail-files"];
    volumes.extend(
        p.volumes
            .iter()
            .filter(|v| names_config_map(v, &files))
            .filter_map(|v| v.get("name").and_then(Value::as_str)),
    );
    p.sidecars
        .iter()
        .chain(&p.init_containers)
        .chain(&p.patches)
        .filter_map(|c| c.get("volumeMounts").and_then(Value::as_array))
        .flatten()
        .filter_map(|m| m.get("name").and_then(Value::as_str))
        .any(|n| volumes.contains(&n))
}

fn deployment(r: &Resolved, p: &ResolvedProcess) -> Value {
    // The dovetail init step runs in the pods of `web` and sees every file and the
    // static volume (migrations, collectstatic).
    let runs_init = p.name == "web"
        && r.init
            .as_ref()
            .is_some_and(|i| i.mode == InitMode::InitContainer);
    // At most one pod mounts a ReadWriteOnce volume (resolve checks it): replace it
    // rather than surge a second pod that could not attach the volume.
    let static_rwo = (p.mounts_static || runs_init)
        && r.static_files
            .as_ref()
            .is_some_and(|s| s.access_mode == "ReadWriteOnce");
    let mut waits: Vec<Service> = p.wait_for.clone();
    if runs_init && let Some(init) = &r.init {
        waits.extend(init.wait_for.iter().copied());
    }
    let mut init_containers = wait_containers(r, &waits);
    if runs_init {
        init_containers.extend(init_container(r));
    }
    init_containers.extend(p.init_containers.iter().map(|c| extra_container(r, c)));
    // A sidecar that declares the process's port serves it (nginx in front of gunicorn).
    let server = p
        .port
        .and_then(|port| p.sidecars.iter().position(|c| declares_port(c, port)));
    let mut containers = vec![main_container(r, p, server.is_none())];
    containers.extend(p.sidecars.iter().enumerate().map(|(i, c)| {
        let mut c = extra_container(r, c);
        if Some(i) == server {
            serve_from(&mut c, p);
        }
        c
    }));
    let mut vols = volumes(
        r,
        !p.files.is_empty() || (runs_init && !r.files.is_empty()),
        p.mounts_static || (runs_init && r.static_files.is_some()),
    );
    vols.extend(p.volumes.iter().cloned());

    let mut spec = Map::new();
    spec.insert("serviceAccountName".into(), value!(&r.identity.app));
    spec.insert("automountServiceAccountToken".into(), value!(false));
    spec.insert("enableServiceLinks".into(), value!(false));
    spec.insert("securityContext".into(), pod_security());
    pull_secrets(r, &mut spec);
    if !init_containers.is_empty() {
        spec.insert("initContainers".into(), Value::Array(init_containers));
    }
    spec.insert("containers".into(), Value::Array(containers));
    if !vols.is_empty() {
        spec.insert("volumes".into(), Value::Array(vols));
    }
    with_tmp(&mut spec, p.resources.ephemeral_storage.as_deref());

    let template = value!({
        "metadata": {
            "labels": labels(r, &p.name),
            "annotations": {
                CHECKSUM_ANNOTATION: checksum(r, p, runs_init),
                "kubectl.kubernetes.io/default-container": &p.name,
            },
        },
        "spec": Value::Object(spec),
    });
    let strategy = if p.singleton || static_rwo {
        value!({"type": "Recreate"})
    } else {
        value!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    };
    let mut dspec = Map::new();
    if p.autoscaling.is_none() {
        dspec.insert("replicas".into(), value!(p.replicas));
    }
    dspec.insert("revisionHistoryLimit".into(), value!(5));
    dspec.insert(
        "selector".into(),
        value!({"matchLabels": selector(r, &p.name)}),
    );
    dspec.insert("strategy".into(), strategy);
    dspec.insert("template".into(), template);
    object(
        r,
        "apps/v1",
        "Deployment",
        &name(r, &p.name),
        &p.name,
        Some(Value::Object(dspec)),
        false,
    )
}

fn init_job(r: &Resolved) -> Value {
    let Some(c) = init_container(r) else {
        return Value::Null;
    };
    let mut spec = Map::new();
    spec.insert("serviceAccountName".into(), value!(&r.identity.app));
    spec.insert("automountServiceAccountToken".into(), value!(false));
    spec.insert("enableServiceLinks".into(), value!(false));
    spec.insert("restartPolicy".into(), value!("Never"));
    spec.insert("securityContext".into(), pod_security());
    pull_secrets(r, &mut spec);
    let waits = r
        .init
        .as_ref()
        .map(|i| i.wait_for.clone())
        .unwrap_or_default();
    let waits = wait_containers(r, &waits);
    if !waits.is_empty() {
        spec.insert("initContainers".into(), Value::Array(waits));
    }
    spec.insert("containers".into(), value!([c]));
    let vols = volumes(r, !r.files.is_empty(), r.static_files.is_some());
    if !vols.is_empty() {
        spec.insert("volumes".into(), Value::Array(vols));
    }
    with_tmp(
        &mut spec,
        r.init
            .as_ref()
            .and_then(|i| i.resources.ephemeral_storage.as_deref()),
    );
    let mut o = object(r, "batch/v1", "Job", &name(r, "init"), "init", None, false);
    // A Sync hook one wave after the objects it needs (ConfigMaps, the database) and
    // before the Deployments: migrations run once per sync, before new code starts.
    o["metadata"]["annotations"] = value!({
        "argocd.argoproj.io/hook": "Sync",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
        SYNC_WAVE: "-1",
    });
    o["spec"] = value!({
        "backoffLimit": 2,
        "activeDeadlineSeconds": 1800,
        "template": {
            "metadata": {"labels": labels(r, "init")},
            "spec": Value::Object(spec),
        },
    });
    o
}

/// CloudNativePG's plugin for backups to an object store (Barman Cloud).
const BARMAN_PLUGIN: &str = "barman-cloud.cloudnative-pg.io";

/// The CloudNativePG database: its Cluster, and with backups the ObjectStore it archives
/// to and the ScheduledBackup of base backups. A restore bootstraps the Cluster from
/// the previous generation's backups and stops archiving until it is over.
fn database(r: &Resolved, db: &crate::merge::ResolvedDatabase) -> Vec<Value> {
    let db_name = name(r, "db");
    let mut out = Vec::new();
    let mut storage = value!({"size": &db.size});
    if let Some(class) = &db.storage_class {
        storage["storageClass"] = value!(class);
    }
    let mut spec = value!({
        "instances": db.instances,
        "resources": resources(&db.resources),
    });
    // CloudNativePG's scratch volumes (/controller, /run, /tmp) are emptyDirs: bound
    // them like every other volume.
    if let Some(e) = &db.resources.ephemeral_storage {
        spec["ephemeralVolumesSizeLimit"] = value!({"temporaryData": e});
    }
    spec["enableSuperuserAccess"] = value!(false);
    spec["bootstrap"] = match &db.restore {
        None => value!({"initdb": {"database": "app", "owner": "app"}}),
        Some(restore) => {
            let mut recovery = value!({"source": "backups", "database": "app", "owner": "app"});
            if let Some(at) = &restore.point_in_time {
                recovery["recoveryTarget"] = value!({"targetTime": at});
            }
            spec["externalClusters"] = value!([{
                "name": "backups",
                "plugin": {
                    "name": BARMAN_PLUGIN,
                    "parameters": {"barmanObjectName": &db_name, "serverName": &restore.server_name},
                },
            }]);
            value!({"recovery": recovery})
        }
    };
    spec["storage"] = storage;
    if let Some(b) = db.backup.as_ref().filter(|b| b.archiving) {
        spec["plugins"] = value!([{
            "name": BARMAN_PLUGIN,
            "isWALArchiver": true,
            "parameters": {"barmanObjectName": &db_name, "serverName": &b.server_name},
        }]);
    }
    if let Some(b) = &db.backup {
        out.push(object_store(r, b));
    }
    out.push(object(
        r,
        "postgresql.cnpg.io/v1",
        "Cluster",
        &db_name,
        "database",
        Some(spec),
        true,
    ));
    if let Some(b) = db.backup.as_ref().filter(|b| b.archiving) {
        let spec = value!({
            "schedule": &b.schedule,
            "cluster": {"name": &db_name},
            "method": "plugin",
            "pluginConfiguration": {"name": BARMAN_PLUGIN},
            "backupOwnerReference": "self",
            // The first base backup at once: until it exists, the archived WAL alone
            // cannot restore anything.
            "immediate": true,
        });
        out.push(object(
            r,
            "postgresql.cnpg.io/v1",
            "ScheduledBackup",
            &db_name,
            "database",
            Some(spec),
            false,
        ));
    }
    out
}

/// The app's own prefix of the platform's object store. While a restore reads it (the
/// backups are not archiving), the retention policy is left out: nothing may delete the
/// backups being restored from.
fn object_store(r: &Resolved, b: &crate::merge::ResolvedBackup) -> Value {
    let key = |k: &str| value!({"name": &b.credentials_secret, "key": k});
    let mut configuration = value!({
        "destinationPath": &b.destination_path,
        "s3Credentials": {
            "accessKeyId": key("ACCESS_KEY_ID"),
            "secretAccessKey": key("ACCESS_SECRET_KEY"),
        },
        "wal": {"compression": "gzip"},
        "data": {"compression": "gzip"},
    });
    if let Some(url) = &b.endpoint_url {
        configuration["endpointURL"] = value!(url);
    }
    let mut spec = value!({
        "configuration": configuration,
        "instanceSidecarConfiguration": {"resources": resources(&b.sidecar_resources)},
    });
    if b.archiving {
        spec["retentionPolicy"] = value!(&b.retention);
    }
    object(
        r,
        "barmancloud.cnpg.io/v1",
        "ObjectStore",
        &name(r, "db"),
        "database",
        Some(spec),
        true,
    )
}

fn redis_service(r: &Resolved) -> Value {
    let spec = value!({
        "type": "ClusterIP",
        "selector": selector(r, "redis"),
        "ports": [{"name": "redis", "port": 6379, "targetPort": "redis", "protocol": "TCP"}],
    });
    object(
        r,
        "v1",
        "Service",
        &name(r, "redis"),
        "redis",
        Some(spec),
        true,
    )
}

/// Redis' command line. Without a volume it is a cache: it evicts the least recently
/// used keys when full and writes nothing. With one it is a durable broker: every write
/// goes to the append-only file (fsync each second), and a full Redis refuses writes
/// instead of evicting queued tasks.
fn redis_args(redis: &crate::merge::ResolvedRedis) -> Value {
    let maxmemory = redis.maxmemory.to_string();
    if redis.persistence.is_some() {
        value!([
            "--maxmemory",
            maxmemory,
            "--maxmemory-policy",
            "noeviction",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec"
        ])
    } else {
        value!([
            "--maxmemory",
            maxmemory,
            "--maxmemory-policy",
            "allkeys-lru",
            "--save",
            "",
            "--appendonly",
            "no"
        ])
    }
}

/// Redis' `/data`: its claim when it keeps an append-only file, else scratch space.
fn redis_volume(r: &Resolved, redis: &crate::merge::ResolvedRedis) -> Value {
    if redis.persistence.is_some() {
        value!({"name": "data", "persistentVolumeClaim": {"claimName": name(r, "redis")}})
    } else {
        value!({"name": "data", "emptyDir": {"sizeLimit": &redis.memory}})
    }
}

fn redis_deployment(r: &Resolved) -> Value {
    let Some(redis) = &r.redis else {
        return Value::Null;
    };
    let res = Resources {
        cpu: r.sidecar_resources.cpu.clone(),
        memory: redis.memory.clone(),
        ephemeral_storage: r.sidecar_resources.ephemeral_storage.clone(),
    };
    let sc = container_security(None);
    let container = value!({
        "name": "redis",
        "image": &redis.image,
        "imagePullPolicy": "Always",
        "args": redis_args(redis),
        "ports": [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}],
        "resources": resources(&res),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 10, "failureThreshold": 6},
        "securityContext": sc,
    });
    let spec = value!({
        "replicas": 1,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(r, "redis")},
        "strategy": {"type": "Recreate"},
        "template": {
            "metadata": {"labels": labels(r, "redis")},
            "spec": {
                "serviceAccountName": &r.identity.app,
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "securityContext": pod_security(),
                "containers": [container],
                "volumes": [redis_volume(r, redis)],
            },
        },
    });
    object(
        r,
        "apps/v1",
        "Deployment",
        &name(r, "redis"),
        "redis",
        Some(spec),
        true,
    )
}

fn ingress(r: &Resolved, ing: &crate::merge::ResolvedIngress) -> Value {
    let mut o = object(
        r,
        "networking.k8s.io/v1",
        "Ingress",
        &name(r, "web"),
        "web",
        None,
        false,
    );
    if let Some(issuer) = &ing.cluster_issuer {
        o["metadata"]["annotations"] = value!({"cert-manager.io/cluster-issuer": issuer});
    }
    let rules: Vec<Value> = ing
        .hosts
        .iter()
        .map(|h| {
            value!({"host": h, "http": {"paths": [{
                "path": "/",
                "pathType": "Prefix",
                "backend": {"service": {"name": name(r, "web"), "port": {"name": "http"}}},
            }]}})
        })
        .collect();
    o["spec"] = value!({
        "ingressClassName": &ing.class_name,
        "tls": [{"hosts": &ing.hosts, "secretName": name(r, "tls")}],
        "rules": rules,
    });
    o
}

/// The database's pods: reached by the app's pods, by each other (replication) and by
/// the CloudNativePG operator; reaching each other, DNS and the API server (the
/// instance manager watches its Cluster), which the platform may pin down.
fn database_policy(r: &Resolved, app_pods: &Value, db_pods: &Value, dns: &Value) -> Value {
    let both = value!([
        {"protocol": "TCP", "port": POSTGRES_PORT},
        {"protocol": "TCP", "port": CNPG_STATUS_PORT},
    ]);
    let api_ports = value!([{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]);
    let api = value!({
        "to": r
            .network
            .api_server
            .iter()
            .map(|rule| value!({"ipBlock": ip_block(rule)}))
            .collect::<Vec<_>>(),
        "ports": api_ports,
    });
    let mut spec = value!({
        "podSelector": db_pods,
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [
            {"from": [{"podSelector": app_pods}], "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]},
            {"from": [{"podSelector": db_pods}], "ports": &both},
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": &r.network.database_operator_namespace}}}],
                "ports": &both,
            },
        ],
        "egress": [
            {"to": [{"podSelector": db_pods}], "ports": both},
            dns,
            api,
        ],
    });
    // The Barman Cloud sidecar in each instance writes to (or, restoring, reads from)
    // the object store.
    let store = r
        .database
        .as_ref()
        .and_then(|db| db.backup.as_ref())
        .map(|b| b.egress.iter().map(egress_rule).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(Value::Array(rules)) = spec.get_mut("egress") {
        rules.extend(store);
    }
    object(
        r,
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &name(r, "db"),
        "database",
        Some(spec),
        true,
    )
}

/// A port named `metrics` or `<something>-metrics` of a process's container.
struct MetricsPort {
    name: String,
    number: u64,
    /// As the container declares it; Kubernetes' default, TCP, when it does not.
    protocol: String,
}

/// Whether a container port's name marks it as one to scrape: `metrics` or
/// `<something>-metrics`.
pub(crate) fn is_metrics_port_name(name: &str) -> bool {
    name == "metrics" || name.ends_with("-metrics")
}

/// The ports named `metrics` or `<something>-metrics` of a process's containers (sidecar
/// exporters, or the app's own).
fn metrics_ports(p: &ResolvedProcess) -> Vec<MetricsPort> {
    let mut out = Vec::new();
    for c in p.sidecars.iter().chain(&p.patches) {
        for port in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = port.get("name").and_then(Value::as_str).unwrap_or_default();
            let number = port.get("containerPort").and_then(Value::as_u64);
            if let (true, Some(number)) = (is_metrics_port_name(name), number) {
                let protocol = port.get("protocol").and_then(Value::as_str);
                out.push(MetricsPort {
                    name: name.to_owned(),
                    number,
                    protocol: protocol.unwrap_or("TCP").to_owned(),
                });
            }
        }
    }
    out
}

/// A prometheus-operator PodMonitor per process with metrics ports, when the platform
/// asks for them.
fn pod_monitors(r: &Resolved) -> Vec<Value> {
    if !r.monitoring.as_ref().is_some_and(|m| m.pod_monitor) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in &r.processes {
        let ports = metrics_ports(p);
        if ports.is_empty() {
            continue;
        }
        let endpoints: Vec<Value> = ports
            .iter()
            .map(|port| value!({"port": &port.name, "path": "/metrics"}))
            .collect();
        let spec = value!({
            "selector": {"matchLabels": selector(r, &p.name)},
            "podMetricsEndpoints": endpoints,
        });
        out.push(object(
            r,
            "monitoring.coreos.com/v1",
            "PodMonitor",
            &name(r, &p.name),
            &p.name,
            Some(spec),
            false,
        ));
    }
    out
}

/// A NetworkPolicy `ipBlock`: the rule's block, without its `except` list when empty.
fn ip_block(rule: &crate::merge::ResolvedEgress) -> Value {
    let mut block = value!({"cidr": &rule.cidr});
    if !rule.except.is_empty() {
        block["except"] = value!(&rule.except);
    }
    block
}

/// The port CloudNativePG's instances serve PostgreSQL on.
const POSTGRES_PORT: u16 = 5432;
/// The port of CloudNativePG's instance manager (status, probes, backups), which the
/// operator and the other instances call.
const CNPG_STATUS_PORT: u16 = 8000;

/// A NetworkPolicy egress rule to an address block (on its ports, or all).
fn egress_rule(rule: &crate::merge::ResolvedEgress) -> Value {
    let mut e = value!({"to": [{"ipBlock": ip_block(rule)}]});
    if !rule.ports.is_empty() {
        e["ports"] = Value::Array(
            rule.ports
                .iter()
                .map(|p| value!({"protocol": "TCP", "port": p}))
                .collect(),
        );
    }
    e
}

/// The app's pods talk to each other and to cluster DNS, and nothing else reaches them.
/// The rules below add what else each may do: app pods (not Redis) reach their database
/// and what `platform.yaml` allows; `web` is reached by the ingress controller; metrics
/// ports by monitoring; the database's pods by the app, each other and their operator.
/// No rule reaches other tenants' namespaces or the cloud metadata address.
fn network_policies(r: &Resolved) -> Vec<Value> {
    let own = value!({"matchLabels": {"app.kubernetes.io/instance": instance(r)}});
    let dns = value!({
        "to": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": &r.network.dns_namespace}},
            "podSelector": {"matchLabels": &r.network.dns_labels},
        }],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    });
    let spec = value!({
        "podSelector": &own,
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": &own}]}],
        "egress": [{"to": [{"podSelector": &own}]}, &dns],
    });
    let mut out = vec![object(
        r,
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &r.identity.app,
        "app",
        Some(spec),
        true,
    )];
    let cnpg = r
        .database
        .as_ref()
        .is_some_and(|db| db.provider == DatabaseProvider::Cnpg);
    let db_pods = value!({"matchLabels": {"cnpg.io/cluster": name(r, "db")}});
    let mut egress = Vec::new();
    if cnpg {
        egress.push(value!({
            "to": [{"podSelector": &db_pods}],
            "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
        }));
    }
    egress.extend(r.network.egress.iter().map(egress_rule));
    if !egress.is_empty() {
        // Redis serves the app and calls nobody.
        let spec = value!({
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/instance": instance(r)},
                "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["redis"]}],
            },
            "policyTypes": ["Egress"],
            "egress": egress,
        });
        out.push(object(
            r,
            "networking.k8s.io/v1",
            "NetworkPolicy",
            &name(r, "egress"),
            "app",
            Some(spec),
            true,
        ));
    }
    if cnpg {
        out.push(database_policy(r, &own, &db_pods, &dns));
    }
    if r.ingress.is_some()
        && let Some(port) = r
            .processes
            .iter()
            .find(|p| p.name == "web")
            .and_then(|p| p.port)
    {
        let spec = value!({
            "podSelector": {"matchLabels": selector(r, "web")},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": &r.ingress_namespace}}}],
                "ports": [{"protocol": "TCP", "port": port}],
            }],
        });
        out.push(object(
            r,
            "networking.k8s.io/v1",
            "NetworkPolicy",
            &name(r, "web"),
            "web",
            Some(spec),
            false,
        ));
    }
    // One policy per process, for its pods alone: a port number that is a metrics port
    // in one process opens nothing in another's pods, nor in Redis's (a metrics port
    // declared as 6379 must not reach it).
    if let Some(m) = &r.monitoring {
        for p in &r.processes {
            let ports: Vec<Value> = metrics_ports(p)
                .iter()
                .map(|port| (port.number, port.protocol.as_str()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(|(number, protocol)| value!({"protocol": protocol, "port": number}))
                .collect();
            if ports.is_empty() {
                continue;
            }
            let spec = value!({
                "podSelector": {"matchLabels": selector(r, &p.name)},
                "policyTypes": ["Ingress"],
                "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": &m.namespace}}}],
                    "ports": ports,
                }],
            });
            out.push(object(
                r,
                "networking.k8s.io/v1",
                "NetworkPolicy",
                &name(r, &format!("{}-metrics", p.name)),
                &p.name,
                Some(spec),
                false,
            ));
        }
    }
    // A LoadBalancer or NodePort Service the operator allowed brings traffic from
    // outside the cluster, which the policies above would drop: admit it to that port.
    for p in &r.processes {
        let (Some(port), true) = (p.port, p.service_type != ServiceType::ClusterIP) else {
            continue;
        };
        let spec = value!({
            "podSelector": {"matchLabels": selector(r, &p.name)},
            "policyTypes": ["Ingress"],
            "ingress": [{
                "from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}],
                "ports": [{"protocol": "TCP", "port": port}],
            }],
        });
        out.push(object(
            r,
            "networking.k8s.io/v1",
            "NetworkPolicy",
            &name(r, &format!("{}-external", p.name)),
            &p.name,
            Some(spec),
            false,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    /// The engine is the standard alphabet with padding (RFC 4648 §4), which the API
    /// server decodes; URL-safe or unpadded output would be refused.
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn patches_merge_env_by_name_and_never_take_resources() {
        let mut c = json!({"name": "web", "env": [{"name": "A", "value": "1"}], "resources": {"limits": {"cpu": "1"}}});
        apply_patch(
            &mut c,
            &json!({"name": "web", "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}], "resources": {"limits": {"cpu": "64"}}, "workingDir": "/srv"}),
        );
        assert_eq!(
            c["env"],
            json!([{"name": "A", "value": "2"}, {"name": "B", "value": "3"}])
        );
        assert_eq!(c["resources"]["limits"]["cpu"], "1");
        assert_eq!(c["workingDir"], "/srv");
    }

    #[test]
    fn security_context_keeps_only_tightening_fields() {
        let sc = container_security(Some(
            &json!({"runAsUser": 1234, "privileged": true, "readOnlyRootFilesystem": true}),
        ));
        assert_eq!(sc["runAsUser"], 1234);
        assert_eq!(sc["privileged"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    }
}
