//! Checks the containers and volumes of a pod fragment the way kube-apiserver
//! (v1.37) validates them, so dovetail refuses at render time, with `file:line:column`,
//! what the API server would refuse at sync time.
//!
//! The JSON Schema (`schemas/app.schema.json`) checks shapes; it cannot say that a
//! port name needs a letter, that `successThreshold` must be 1 on a liveness probe,
//! or that `9000.0` is not an `int32`. These rules follow
//! `k8s.io/kubernetes/pkg/apis/core/validation/validation.go`: `validateContainerCommon`,
//! `validateContainers`, `validateInitContainers`, `validateContainerPorts`,
//! `ValidateEnv`, `validateEnvVarValueFrom`, `validateObjectFieldSelector`,
//! `validateContainerResourceFieldSelector`, `validateContainerResourceDivisor`,
//! `ValidateEnvFrom`, `ValidateVolumeMounts`, `validateMountPropagation`,
//! `validateMountRecursiveReadOnly`, `validateProbe` and its liveness/readiness/startup
//! wrappers, `validateHandler`, `validateLifecycle`, `validateHTTPGetAction`,
//! `ValidatePortNumOrName`, `validateSleepAction`, `ValidateSecurityContext`,
//! `ValidateVolumes`, `validateVolumeSource`, `validateKeyToPath`,
//! `validateDownwardAPIVolumeFile`, `validateProjectionSources` and
//! `ValidateLocalNonReservedPath`, together with `IsValidPortName`, `IsDNS1123Label`,
//! `IsDNS1123Subdomain`, `IsRelaxedEnvVarName`, `IsConfigMapKey`, `IsHTTPHeaderName` and
//! `IsQualifiedName` from `k8s.io/apimachinery/pkg/util/validation`. Values are judged
//! as the API server sees them after decoding and defaulting: a missing `protocol`,
//! `imagePullPolicy`, `httpGet.scheme` or a probe threshold of 0 is filled in by the
//! API server, so it is not a problem here either; a JSON number with a fraction
//! (`9000.0` from YAML) in an integer field fails decoding there, so it is one here.
//!
//! Where a rule depends on a feature gate, this module takes the side that clusters
//! from 1.33 on accept: it refuses container-level `restartPolicy` other than a
//! sidecar's `Always`, `restartPolicyRules`, `env[].valueFrom.fileKeyRef` and
//! `lifecycle.stopSignal`, although a 1.37 cluster with default gates takes some of
//! them. It refuses the projected sources `serviceAccountToken`, `clusterTrustBundle`
//! and `podCertificate` outright: they hand the pod credentials or trust that the
//! operator, not the customer, decides on.
//!
//! Fields that DESIGN §1 refuses for ownership (`hostPort`, `resources`, `hostPath`,
//! `privileged`, …) are left to the ownership check: they are read where another rule
//! needs them and otherwise ignored. Fields this module does not know are ignored too;
//! the JSON Schema refuses them.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

use crate::input::formats::beneath;

/// One segment of a field path relative to the value checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A key of a mapping.
    Key(String),
    /// A position in a list.
    Index(usize),
}

/// A problem: where (relative to the checked value), what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the bad value is, relative to the value that was checked.
    pub at: Vec<Seg>,
    /// What is wrong, lowercase, quoting the value when it is short and safe to show.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

/// The `terminationGracePeriodSeconds` of the pods dovetail renders: it leaves the
/// field unset, so the API server's default applies, and a `sleep` lifecycle handler
/// may not sleep longer than this.
pub const GRACE_PERIOD_SECONDS: i64 = 30;

/// Checks one container of a fragment (`init` true for initContainers).
///
/// A container without `image` is accepted: in a fragment it may patch a process
/// container, which brings its own image; an empty or padded `image` is refused.
/// Whether a `volumeMounts[].name` names a volume of the pod is checked by [`pod`].
pub fn container(c: &Value, init: bool) -> Vec<Problem> {
    let mut out = Vec::new();
    check_container(c, init, &[], &mut out);
    out
}

/// Checks one volume of a fragment.
pub fn volume(v: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    check_volume(v, &[], &mut out);
    out
}

/// Whether `name` is a valid port name (`IANA_SVC_NAME`).
pub fn is_port_name(name: &str) -> bool {
    crate::input::formats::port_name(name)
}

/// Checks a whole fragment (`{containers, initContainers, volumes}`): every container
/// and volume, plus what `ValidatePodSpec` checks across them: container names unique
/// over `containers` and `initContainers`, volume names unique. Paths start at the
/// fragment (`containers`, 0, …).
pub fn fragment(f: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    check_spec(f, false, &mut out);
    out
}

/// Checks a merged pod spec, after the fragment has been merged into the generated
/// pod: everything [`fragment`] checks, plus that every `volumeMounts[].name` names a
/// volume of the pod, which a fragment alone cannot know.
pub fn pod(spec: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    check_spec(spec, true, &mut out);
    out
}

// ---------------------------------------------------------------------------------
// Paths, problems and quoting.

type Path = Vec<Seg>;

fn key(p: &[Seg], k: &str) -> Path {
    let mut v = p.to_vec();
    v.push(Seg::Key(k.to_string()));
    v
}

fn idx(p: &[Seg], i: usize) -> Path {
    let mut v = p.to_vec();
    v.push(Seg::Index(i));
    v
}

fn push(out: &mut Vec<Problem>, at: Path, message: impl Into<String>, hint: impl Into<String>) {
    out.push(Problem {
        at,
        message: message.into(),
        hint: hint.into(),
    });
}

/// A value in backticks, cut at 64 characters, with control and invisible formatting
/// characters escaped: the message goes to terminals and CI logs, and a customer's
/// string must not move the cursor, recolour the output or reorder what follows.
fn q(s: &str) -> String {
    let mut r = String::from("`");
    for (n, c) in s.chars().enumerate() {
        if n == 64 {
            r.push('…');
            break;
        }
        match c {
            '\n' => r.push_str("\\n"),
            '\t' => r.push_str("\\t"),
            '\r' => r.push_str("\\r"),
            '`' => r.push_str("\\`"),
            c if c.is_control() || invisible(c) => r.push_str(&c.escape_unicode().to_string()),
            c => r.push(c),
        }
    }
    r.push('`');
    r
}

/// Format characters that change how the following text is shown (bidirectional
/// overrides, zero-width joiners, byte-order marks).
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn number_text(v: &Value) -> String {
    match v {
        Value::String(s) => q(s),
        other => q(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------------
// Typed access. The API server decodes into Go types first: a wrong JSON type is a
// decoding error there, so it is a problem here. `null` decodes to the zero value or
// a nil pointer, the same as leaving the field out.

fn get<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

fn as_obj<'a>(
    v: &'a Value,
    at: &[Seg],
    what: &str,
    out: &mut Vec<Problem>,
) -> Option<&'a Map<String, Value>> {
    if let Value::Object(o) = v {
        Some(o)
    } else {
        push(
            out,
            at.to_vec(),
            format!("{what} must be a mapping"),
            "write it as `key: value` lines",
        );
        None
    }
}

fn obj_field<'a>(
    o: &'a Map<String, Value>,
    k: &str,
    p: &[Seg],
    out: &mut Vec<Problem>,
) -> Option<&'a Map<String, Value>> {
    as_obj(get(o, k)?, &key(p, k), k, out)
}

fn str_field<'a>(
    o: &'a Map<String, Value>,
    k: &str,
    p: &[Seg],
    out: &mut Vec<Problem>,
) -> Option<&'a str> {
    if let Value::String(s) = get(o, k)? {
        Some(s)
    } else {
        push(
            out,
            key(p, k),
            format!("{k} must be a string"),
            format!("quote the value of {k}"),
        );
        None
    }
}

fn bool_field(o: &Map<String, Value>, k: &str, p: &[Seg], out: &mut Vec<Problem>) -> Option<bool> {
    if let Value::Bool(b) = get(o, k)? {
        Some(*b)
    } else {
        push(
            out,
            key(p, k),
            format!("{k} must be true or false"),
            format!("write {k}: true or {k}: false, without quotes"),
        );
        None
    }
}

fn list_field<'a>(
    o: &'a Map<String, Value>,
    k: &str,
    p: &[Seg],
    out: &mut Vec<Problem>,
) -> Option<&'a [Value]> {
    if let Value::Array(a) = get(o, k)? {
        Some(a)
    } else {
        push(
            out,
            key(p, k),
            format!("{k} must be a list"),
            format!("write {k} as a list, one `- item` per line"),
        );
        None
    }
}

/// A list of strings (`command`, `args`, `exec.command`); returns its length.
fn string_list(o: &Map<String, Value>, k: &str, p: &[Seg], out: &mut Vec<Problem>) -> usize {
    let Some(items) = list_field(o, k, p, out) else {
        return 0;
    };
    for (i, item) in items.iter().enumerate() {
        if !item.is_string() {
            push(
                out,
                idx(&key(p, k), i),
                format!("every item of {k} must be a string"),
                "quote the item",
            );
        }
    }
    items.len()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bits {
    I32,
    I64,
}

/// An integer field: `int32` or `int64` in the Go type. Fractions and exponents
/// (`9000.0`, `1e3`) fail the API server's decoding, and so do values out of range.
fn int_field(
    o: &Map<String, Value>,
    k: &str,
    p: &[Seg],
    bits: Bits,
    out: &mut Vec<Problem>,
) -> Option<i64> {
    let v = get(o, k)?;
    int_value(v, key(p, k), k, bits, out)
}

fn int_value(v: &Value, at: Path, name: &str, bits: Bits, out: &mut Vec<Problem>) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n,
        Value::String(s) => {
            let hint = if s.trim().parse::<i64>().is_ok() {
                format!("remove the quotes around {name}")
            } else {
                format!("write {name} as a whole number")
            };
            push(
                out,
                at,
                format!("{name} must be an integer, not the string {}", q(s)),
                hint,
            );
            return None;
        }
        _ => {
            push(
                out,
                at,
                format!("{name} must be an integer"),
                format!("write {name} as a whole number"),
            );
            return None;
        }
    };
    if let Some(i) = n.as_i64() {
        if bits == Bits::I32 && i32::try_from(i).is_err() {
            push(
                out,
                at,
                format!("{name} {i} does not fit in a 32-bit integer"),
                format!("write {name} between -2147483648 and 2147483647"),
            );
            return None;
        }
        return Some(i);
    }
    if n.is_u64() {
        push(
            out,
            at,
            format!("{name} {n} is too large"),
            format!("write a smaller {name}"),
        );
        return None;
    }
    let whole = n
        .as_f64()
        .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
        .map(|f| {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "a whole number below 10^15 is exact as an i64"
            )]
            let whole = f as i64;
            format!(", like `{whole}`")
        })
        .unwrap_or_default();
    push(
        out,
        at,
        format!("{name} must be an integer, not {}", number_text(v)),
        format!("write {name} without a decimal point or exponent{whole}"),
    );
    None
}

// ---------------------------------------------------------------------------------
// Name and path formats (k8s.io/apimachinery/pkg/util/validation).

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?` without a length limit.
fn label_chars(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&c| alnum(c) || c == b'-')
}

/// `IsDNS1123Label`.
fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && label_chars(s)
}

/// `IsDNS1123Subdomain`: at most 253 characters, labels of any length joined by dots.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(label_chars)
}

/// `NameIsDNSSubdomain` with `prefix` true: a generated-name prefix may end in '-'. The
/// API server masks the last two characters with one letter before checking, so
/// this does the same.
fn is_dns_subdomain_prefix(s: &str) -> bool {
    if s.len() > 1 && s.ends_with('-') {
        let cut = s.len() - 2;
        if !s.is_char_boundary(cut) {
            return false;
        }
        return is_dns_subdomain(&format!("{}a", &s[..cut]));
    }
    is_dns_subdomain(s)
}

/// `IsRelaxedEnvVarName`: printable ASCII (space included) except '='.
fn is_env_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'=')
}

/// `IsHTTPHeaderName`.
fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `IsQualifiedName`: `[prefix/]name`, prefix a DNS subdomain, name at most 63 of
/// `[A-Za-z0-9][-A-Za-z0-9_.]*` ending alphanumeric.
fn is_qualified_name(s: &str) -> bool {
    let name = match s.split('/').collect::<Vec<_>>()[..] {
        [name] => name,
        [prefix, name] => {
            if !is_dns_subdomain(prefix) {
                return false;
            }
            name
        }
        _ => return false,
    };
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// validateLocalDescendingPath: relative, no `..` element. Returns the problem.
fn descending_path_problem(s: &str) -> Option<&'static str> {
    if s.starts_with('/') {
        Some("must be a relative path")
    } else if s.split('/').any(|part| part == "..") {
        Some("must not contain '..'")
    } else {
        None
    }
}

/// `ValidateLocalNonReservedPath`: a descending path that also does not start with `..`
/// (kubelet keeps its own `..data` links there).
fn local_path_problem(s: &str) -> Option<&'static str> {
    descending_path_problem(s).or_else(|| s.starts_with("..").then_some("must not start with '..'"))
}

const PORT_NAME_RULE: &str = "at most 15 lowercase letters, digits and '-', with at least one letter, no '--' and no '-' at either end";

// ---------------------------------------------------------------------------------
// Pod-level checks across containers and volumes (ValidatePodSpec).

fn check_spec(v: &Value, mounts_must_resolve: bool, out: &mut Vec<Problem>) {
    let Some(o) = as_obj(v, &[], "the pod fragment", out) else {
        return;
    };
    // Problems come in document order: containers, initContainers, volumes.
    let volumes = get(o, "volumes").and_then(Value::as_array);
    let volume_names: BTreeSet<&str> = volumes
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    let mut container_names = BTreeSet::new();
    for (list, init) in [("containers", false), ("initContainers", true)] {
        let Some(cs) = list_field(o, list, &[], out) else {
            continue;
        };
        let p = key(&[], list);
        for (i, c) in cs.iter().enumerate() {
            let cp = idx(&p, i);
            check_container(c, init, &cp, out);
            if let Some(name) = c.get("name").and_then(Value::as_str)
                && !name.is_empty()
                && !container_names.insert(name)
            {
                push(
                    out,
                    key(&cp, "name"),
                    format!("container name {} is used twice in this pod", q(name)),
                    "give every container and init container its own name",
                );
            }
            if mounts_must_resolve {
                check_mount_targets(c, &cp, &volume_names, out);
            }
        }
    }
    let Some(vols) = list_field(o, "volumes", &[], out) else {
        return;
    };
    let p = key(&[], "volumes");
    let mut seen = BTreeSet::new();
    for (i, v) in vols.iter().enumerate() {
        let vp = idx(&p, i);
        check_volume(v, &vp, out);
        if let Some(name) = v.get("name").and_then(Value::as_str)
            && !seen.insert(name)
        {
            push(
                out,
                key(&vp, "name"),
                format!("volume name {} is used twice", q(name)),
                "give every volume its own name",
            );
        }
    }
}

fn check_mount_targets(c: &Value, p: &[Seg], volumes: &BTreeSet<&str>, out: &mut Vec<Problem>) {
    let Some(mounts) = c.get("volumeMounts").and_then(Value::as_array) else {
        return;
    };
    for (i, m) in mounts.iter().enumerate() {
        if let Some(name) = m.get("name").and_then(Value::as_str)
            && !name.is_empty()
            && !volumes.contains(name)
        {
            push(
                out,
                key(&idx(&key(p, "volumeMounts"), i), "name"),
                format!("volume {} is not a volume of this pod", q(name)),
                "add it under `volumes` or mount one of the pod's volumes",
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Containers (validateContainerCommon, validateContainers, validateInitContainers).

fn check_container(v: &Value, init: bool, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(c) = as_obj(v, p, "a container", out) else {
        return;
    };
    match str_field(c, "name", p, out) {
        Some(name) if !name.is_empty() && !is_dns_label(name) => push(
            out,
            key(p, "name"),
            format!(
                "container name {} is not valid: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
                q(name)
            ),
            "use a name like `nginx` or `metrics-exporter`",
        ),
        Some(name) if !name.is_empty() => {}
        Some(_) => push(
            out,
            key(p, "name"),
            "container name must not be empty",
            "give the container a name like `nginx`",
        ),
        None if get(c, "name").is_none() => push(
            out,
            key(p, "name"),
            "container name is required",
            "give the container a name like `nginx`",
        ),
        None => {}
    }
    if let Some(image) = str_field(c, "image", p, out) {
        if image.is_empty() {
            push(
                out,
                key(p, "image"),
                "image must not be empty",
                "write an image like `registry.example.com/acme/shop:1.4.2`, or leave `image` out to keep the process's image",
            );
        } else if image.trim() != image {
            push(
                out,
                key(p, "image"),
                format!("image {} has leading or trailing whitespace", q(image)),
                "remove the spaces around the image reference",
            );
        }
    }
    string_list(c, "command", p, out);
    string_list(c, "args", p, out);
    str_field(c, "workingDir", p, out);
    str_field(c, "terminationMessagePath", p, out);
    for b in ["stdin", "stdinOnce", "tty"] {
        bool_field(c, b, p, out);
    }
    enum_field(
        c,
        "terminationMessagePolicy",
        &["File", "FallbackToLogsOnError"],
        true,
        p,
        out,
    );
    enum_field(
        c,
        "imagePullPolicy",
        &["Always", "IfNotPresent", "Never"],
        true,
        p,
        out,
    );
    check_ports(c, p, out);
    check_env(c, p, out);
    check_env_from(c, p, out);
    let privileged = c
        .get("securityContext")
        .and_then(|s| s.get("privileged"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    check_mounts(c, privileged, p, out);
    if let Some(sc) = obj_field(c, "securityContext", p, out) {
        check_security_context(sc, &key(p, "securityContext"), out);
    }

    let restart = str_field(c, "restartPolicy", p, out);
    let sidecar = init && restart == Some("Always");
    if let Some(policy) = restart {
        if !init {
            push(
                out,
                key(p, "restartPolicy"),
                "restartPolicy may not be set on a container: only an init container takes it, as `Always` for a sidecar",
                "remove restartPolicy; the pod's restart policy applies",
            );
        } else if policy != "Always" {
            push(
                out,
                key(p, "restartPolicy"),
                format!(
                    "restartPolicy {} is not supported on an init container: only `Always`, which makes it a sidecar",
                    q(policy)
                ),
                "write restartPolicy: Always for a sidecar, or remove it",
            );
        }
    }
    if list_field(c, "restartPolicyRules", p, out).is_some_and(|r| !r.is_empty()) {
        push(
            out,
            key(p, "restartPolicyRules"),
            "restartPolicyRules are not supported: clusters before Kubernetes 1.35 refuse them",
            "remove restartPolicyRules",
        );
    }

    let probes = [
        ("livenessProbe", ProbeKind::Liveness),
        ("readinessProbe", ProbeKind::Readiness),
        ("startupProbe", ProbeKind::Startup),
    ];
    if init && !sidecar {
        for k in [
            "lifecycle",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
        ] {
            if get(c, k).is_some() {
                push(
                    out,
                    key(p, k),
                    format!(
                        "{k} may not be set on an init container, which runs to its end before the pod's containers start"
                    ),
                    format!("remove {k}; a helper that keeps running goes under `containers`"),
                );
            }
        }
        return;
    }
    if let Some(l) = obj_field(c, "lifecycle", p, out) {
        check_lifecycle(l, &key(p, "lifecycle"), out);
    }
    for (k, kind) in probes {
        if let Some(pr) = obj_field(c, k, p, out) {
            check_probe(pr, kind, &key(p, k), out);
        }
    }
}

/// A string enum; `defaulted` when the API server fills in an empty value.
fn enum_field(
    o: &Map<String, Value>,
    k: &str,
    allowed: &[&str],
    defaulted: bool,
    p: &[Seg],
    out: &mut Vec<Problem>,
) -> Option<()> {
    let v = str_field(o, k, p, out)?;
    if (defaulted && v.is_empty()) || allowed.contains(&v) {
        return Some(());
    }
    push(
        out,
        key(p, k),
        format!("{k} {} is not supported", q(v)),
        format!("write one of: {}", allowed.join(", ")),
    );
    None
}

fn check_ports(c: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(ports) = list_field(c, "ports", p, out) else {
        return;
    };
    let lp = key(p, "ports");
    let mut names = BTreeSet::new();
    // Server-side apply keys a container's ports by number and protocol.
    let mut numbers = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let pp = idx(&lp, i);
        let Some(o) = as_obj(port, &pp, "a port", out) else {
            continue;
        };
        if let Some(number) = get(o, "containerPort").and_then(Value::as_i64) {
            let protocol = get(o, "protocol").and_then(Value::as_str).unwrap_or("TCP");
            if !numbers.insert((number, protocol)) {
                push(
                    out,
                    key(&pp, "containerPort"),
                    format!(
                        "containerPort {number}/{protocol} is declared twice in this container"
                    ),
                    "declare each port once (a port serving TCP and UDP is two entries, one per protocol)",
                );
            }
        }
        if let Some(name) = str_field(o, "name", &pp, out)
            && !name.is_empty()
        {
            if !is_port_name(name) {
                push(
                    out,
                    key(&pp, "name"),
                    format!("port name {} is not valid: {PORT_NAME_RULE}", q(name)),
                    "use a name like `http` or `metrics`",
                );
            } else if !names.insert(name) {
                push(
                    out,
                    key(&pp, "name"),
                    format!("port name {} is used twice in this container", q(name)),
                    "give every port of the container its own name",
                );
            }
        }
        match int_field(o, "containerPort", &pp, Bits::I32, out) {
            Some(0) => push(
                out,
                key(&pp, "containerPort"),
                "containerPort must not be 0",
                "write the port the process listens on, from 1 to 65535",
            ),
            Some(n) => port_range(n, "containerPort", key(&pp, "containerPort"), out),
            None if get(o, "containerPort").is_none() => push(
                out,
                key(&pp, "containerPort"),
                "containerPort is required",
                "write the port the process listens on, from 1 to 65535",
            ),
            None => {}
        }
        enum_field(o, "protocol", &["TCP", "UDP", "SCTP"], true, &pp, out);
    }
}

fn port_range(n: i64, name: &str, at: Path, out: &mut Vec<Problem>) {
    if !(1..=65535).contains(&n) {
        push(
            out,
            at,
            format!("{name} {n} is out of range: ports go from 1 to 65535"),
            "write a port from 1 to 65535",
        );
    }
}

// ---------------------------------------------------------------------------------
// Environment (ValidateEnv, validateEnvVarValueFrom, ValidateEnvFrom).

/// Downward API paths an env var may read (validEnvDownwardAPIFieldPathExpressions).
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Downward API paths a volume file may read (validVolumeDownwardAPIFieldPathExpressions).
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.annotations",
    "metadata.uid",
];

const RESOURCE_FIELDS: &[&str] = &[
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
];

fn check_env(c: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(env) = list_field(c, "env", p, out) else {
        return;
    };
    let lp = key(p, "env");
    // Server-side apply, as Argo CD may sync, keys a container's env by name and
    // refuses a name listed twice.
    let mut names = BTreeSet::new();
    for (i, e) in env.iter().enumerate() {
        let ep = idx(&lp, i);
        let Some(o) = as_obj(e, &ep, "an env entry", out) else {
            continue;
        };
        if let Some(name) = get(o, "name").and_then(Value::as_str)
            && !name.is_empty()
            && !names.insert(name)
        {
            push(
                out,
                key(&ep, "name"),
                format!("env name {} is listed twice in this container", q(name)),
                "keep one entry per name",
            );
        }
        match str_field(o, "name", &ep, out) {
            Some(name) if !is_env_name(name) && !name.is_empty() => push(
                out,
                key(&ep, "name"),
                format!(
                    "env name {} is not valid: printable ASCII characters other than '=' only",
                    q(name)
                ),
                "use a name like `DJANGO_SETTINGS_MODULE`",
            ),
            Some(name) if !name.is_empty() => {}
            Some(_) => push(
                out,
                key(&ep, "name"),
                "env name must not be empty",
                "use a name like `DJANGO_SETTINGS_MODULE`",
            ),
            None if get(o, "name").is_none() => push(
                out,
                key(&ep, "name"),
                "env name is required",
                "use a name like `DJANGO_SETTINGS_MODULE`",
            ),
            None => {}
        }
        let value = str_field(o, "value", &ep, out).unwrap_or("");
        let Some(from) = obj_field(o, "valueFrom", &ep, out) else {
            continue;
        };
        let fp = key(&ep, "valueFrom");
        let mut sources = Vec::new();
        if let Some(f) = obj_field(from, "fieldRef", &fp, out) {
            sources.push("fieldRef");
            check_field_selector(f, ENV_FIELD_PATHS, "an env var", &key(&fp, "fieldRef"), out);
        }
        if let Some(r) = obj_field(from, "resourceFieldRef", &fp, out) {
            sources.push("resourceFieldRef");
            check_resource_selector(r, false, &key(&fp, "resourceFieldRef"), out);
        }
        for k in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(r) = obj_field(from, k, &fp, out) {
                sources.push(k);
                check_key_selector(r, k, &key(&fp, k), out);
            }
        }
        if get(from, "fileKeyRef").is_some() {
            sources.push("fileKeyRef");
            push(
                out,
                key(&fp, "fileKeyRef"),
                "fileKeyRef is not supported: clusters before Kubernetes 1.35 refuse it",
                "read the file in the process, or use configMapKeyRef or secretKeyRef",
            );
        }
        if sources.is_empty() {
            push(
                out,
                fp,
                "valueFrom must set one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef",
                "add one source, or use `value` instead of `valueFrom`",
            );
        } else if !value.is_empty() {
            push(
                out,
                fp,
                "valueFrom may not be set together with a non-empty value",
                "keep either `value` or `valueFrom`",
            );
        } else if sources.len() > 1 {
            push(
                out,
                fp,
                format!(
                    "valueFrom sets {} sources ({}); it takes exactly one",
                    sources.len(),
                    sources.join(", ")
                ),
                "keep one source, and use another env var for the other",
            );
        }
    }
}

/// validateObjectFieldSelector with podshelper.ConvertDownwardAPIFieldLabel and
/// fieldpath.SplitMaybeSubscriptedPath.
fn check_field_selector(
    o: &Map<String, Value>,
    allowed: &[&str],
    user: &str,
    p: &[Seg],
    out: &mut Vec<Problem>,
) {
    // ObjectFieldSelector.apiVersion defaults to "v1".
    let version = str_field(o, "apiVersion", p, out).filter(|v| !v.is_empty());
    if let Some(v) = version
        && v != "v1"
    {
        push(
            out,
            key(p, "apiVersion"),
            format!("fieldRef apiVersion {} is not supported: only `v1`", q(v)),
            "write apiVersion: v1, or leave it out",
        );
        return;
    }
    let path = match str_field(o, "fieldPath", p, out) {
        Some(s) if !s.is_empty() => s,
        Some(_) | None => {
            if get(o, "fieldPath").is_none_or(Value::is_string) {
                push(
                    out,
                    key(p, "fieldPath"),
                    "fieldRef needs a fieldPath",
                    format!(
                        "write a fieldPath like `metadata.name`; {user} may read {}",
                        allowed.join(", ")
                    ),
                );
            }
            return;
        }
    };
    if let Some((base, subscript)) = split_subscript(path) {
        let ok = match base {
            "metadata.annotations" => is_qualified_name(&subscript.to_lowercase()),
            "metadata.labels" => is_qualified_name(subscript),
            _ => {
                push(
                    out,
                    key(p, "fieldPath"),
                    format!(
                        "fieldPath {} does not support a subscript: only metadata.labels and metadata.annotations do",
                        q(path)
                    ),
                    "write metadata.labels['KEY'] or metadata.annotations['KEY']",
                );
                return;
            }
        };
        if !ok {
            push(
                out,
                key(p, "fieldPath"),
                format!(
                    "fieldPath {} names a key that is not a valid label or annotation key",
                    q(path)
                ),
                "the key is an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' and '.', like metadata.labels['app.kubernetes.io/name']",
            );
        }
        return;
    }
    // "spec.host" is the old name of "spec.nodeName", kept for old clients.
    let internal = if path == "spec.host" {
        "spec.nodeName"
    } else {
        path
    };
    if !allowed.contains(&internal) {
        push(
            out,
            key(p, "fieldPath"),
            format!("fieldPath {} is not supported for {user}", q(path)),
            format!(
                "{user} may read {}, metadata.labels['KEY'] or metadata.annotations['KEY']",
                allowed.join(", ")
            ),
        );
    }
}

fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let s = path.strip_suffix("']")?;
    let (base, sub) = s.split_once("['")?;
    (!base.is_empty()).then_some((base, sub))
}

/// validateContainerResourceFieldSelector and validateContainerResourceDivisor.
fn check_resource_selector(
    o: &Map<String, Value>,
    in_volume: bool,
    p: &[Seg],
    out: &mut Vec<Problem>,
) {
    let container = str_field(o, "containerName", p, out).unwrap_or("");
    let resource = str_field(o, "resource", p, out);
    if in_volume && container.is_empty() {
        push(
            out,
            key(p, "containerName"),
            "resourceFieldRef in a volume needs a containerName",
            "write the name of the container whose resources the file shows",
        );
    } else {
        match resource {
            Some(r) if !r.is_empty() => {
                if !RESOURCE_FIELDS.contains(&r)
                    && !r.starts_with("requests.hugepages-")
                    && !r.starts_with("limits.hugepages-")
                {
                    push(
                        out,
                        key(p, "resource"),
                        format!("resource {} is not supported", q(r)),
                        format!("write one of: {}", RESOURCE_FIELDS.join(", ")),
                    );
                }
            }
            _ => {
                if get(o, "resource").is_none_or(Value::is_string) {
                    push(
                        out,
                        key(p, "resource"),
                        "resourceFieldRef needs a resource",
                        format!("write one of: {}", RESOURCE_FIELDS.join(", ")),
                    );
                }
            }
        }
    }
    let Some(d) = get(o, "divisor") else {
        return;
    };
    let text = match d {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => {
            push(
                out,
                key(p, "divisor"),
                format!("divisor must be a quantity string, not {}", number_text(d)),
                "quote the divisor, like divisor: \"1Mi\"",
            );
            return;
        }
    };
    let Some(qty) = Quantity::parse(&text) else {
        push(
            out,
            key(p, "divisor"),
            format!("divisor {} is not a valid quantity", q(&text)),
            "write a divisor like `1`, `1m`, `1Ki` or `1Mi`",
        );
        return;
    };
    if qty.is_zero() {
        return;
    }
    let r = resource.unwrap_or("");
    let (allowed, what): (&[&str], &str) = match r {
        "limits.cpu" | "requests.cpu" => (CPU_DIVISORS, "cpu"),
        "limits.memory" | "requests.memory" => (BYTE_DIVISORS, "memory"),
        "limits.ephemeral-storage" | "requests.ephemeral-storage" => {
            (BYTE_DIVISORS, "ephemeral-storage")
        }
        _ if r.starts_with("requests.hugepages-") || r.starts_with("limits.hugepages-") => {
            (BYTE_DIVISORS, "hugepages")
        }
        _ => return,
    };
    if !qty.shows_as_one_of(&text, allowed) {
        push(
            out,
            key(p, "divisor"),
            format!(
                "divisor {} is not supported for the {what} resource",
                q(&text)
            ),
            format!("write one of: {}", allowed.join(", ")),
        );
    }
}

const CPU_DIVISORS: &[&str] = &["1m", "1"];
const BYTE_DIVISORS: &[&str] = &[
    "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei",
];

/// validateConfigMapKeySelector / validateSecretKeySelector.
fn check_key_selector(o: &Map<String, Value>, what: &str, p: &[Seg], out: &mut Vec<Problem>) {
    let name = str_field(o, "name", p, out);
    if get(o, "name").is_none_or(Value::is_string) && !is_dns_subdomain(name.unwrap_or("")) {
        push(
            out,
            key(p, "name"),
            match name {
                Some(n) if !n.is_empty() => format!(
                    "{what} name {} is not a valid object name: lowercase letters, digits, '-' and '.', at most 253",
                    q(n)
                ),
                _ => format!("{what} needs a name"),
            },
            "write the name of the ConfigMap or Secret, like `shop-config`",
        );
    }
    match str_field(o, "key", p, out) {
        Some(k) if !k.is_empty() => {
            if !crate::input::formats::data_key(k) {
                push(
                    out,
                    key(p, "key"),
                    format!(
                        "key {} is not valid: letters, digits, '-', '_' and '.', at most 253, not '.' and not starting with '..'",
                        q(k)
                    ),
                    "write a key like `DATABASE_URL` or `settings.ini`",
                );
            }
        }
        Some(_) | None => {
            if get(o, "key").is_none_or(Value::is_string) {
                push(
                    out,
                    key(p, "key"),
                    format!("{what} needs a key"),
                    "write the key to read, like `DATABASE_URL`",
                );
            }
        }
    }
}

#[allow(
    clippy::many_single_char_names,
    reason = "this file's names: c a container, p a path, o a mapping, e an entry, i its place"
)]
fn check_env_from(c: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(list) = list_field(c, "envFrom", p, out) else {
        return;
    };
    let lp = key(p, "envFrom");
    for (i, e) in list.iter().enumerate() {
        let ep = idx(&lp, i);
        let Some(o) = as_obj(e, &ep, "an envFrom entry", out) else {
            continue;
        };
        if let Some(prefix) = str_field(o, "prefix", &ep, out)
            && !prefix.is_empty()
            && !is_env_name(prefix)
        {
            push(
                out,
                key(&ep, "prefix"),
                format!(
                    "envFrom prefix {} is not valid: printable ASCII characters other than '=' only",
                    q(prefix)
                ),
                "use a prefix like `SHOP_`",
            );
        }
        let mut n = 0;
        for k in ["configMapRef", "secretRef"] {
            let Some(r) = obj_field(o, k, &ep, out) else {
                continue;
            };
            n += 1;
            let rp = key(&ep, k);
            match str_field(r, "name", &rp, out) {
                Some(name) if !name.is_empty() => {
                    if !is_dns_subdomain_prefix(name) {
                        push(
                            out,
                            key(&rp, "name"),
                            format!(
                                "{k} name {} is not a valid object name: lowercase letters, digits, '-' and '.', at most 253",
                                q(name)
                            ),
                            "write the name of the ConfigMap or Secret, like `shop-config`",
                        );
                    }
                }
                Some(_) | None => {
                    if get(r, "name").is_none_or(Value::is_string) {
                        push(
                            out,
                            key(&rp, "name"),
                            format!("{k} needs a name"),
                            "write the name of the ConfigMap or Secret, like `shop-config`",
                        );
                    }
                }
            }
        }
        match n {
            0 => push(
                out,
                ep,
                "envFrom entry must set configMapRef or secretRef",
                "add configMapRef: {name: …} or secretRef: {name: …}",
            ),
            1 => {}
            _ => push(
                out,
                ep,
                "envFrom entry sets both configMapRef and secretRef; it takes exactly one",
                "split it into two envFrom entries",
            ),
        }
    }
}

// ---------------------------------------------------------------------------------
// Volume mounts (ValidateVolumeMounts).

fn check_mounts(c: &Map<String, Value>, privileged: bool, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(mounts) = list_field(c, "volumeMounts", p, out) else {
        return;
    };
    let lp = key(p, "volumeMounts");
    let mut paths = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let mp = idx(&lp, i);
        let Some(o) = as_obj(m, &mp, "a volume mount", out) else {
            continue;
        };
        if str_field(o, "name", &mp, out).unwrap_or("").is_empty()
            && get(o, "name").is_none_or(Value::is_string)
        {
            push(
                out,
                key(&mp, "name"),
                "volume mount needs the name of a volume",
                "write the name of one of the pod's volumes",
            );
        }
        let read_only = bool_field(o, "readOnly", &mp, out).unwrap_or(false);
        match str_field(o, "mountPath", &mp, out) {
            Some(path) if !path.is_empty() => {
                if !paths.insert(path) {
                    push(
                        out,
                        key(&mp, "mountPath"),
                        format!("mountPath {} is used twice in this container", q(path)),
                        "mount each volume at its own path",
                    );
                }
            }
            Some(_) | None => {
                if get(o, "mountPath").is_none_or(Value::is_string) {
                    push(
                        out,
                        key(&mp, "mountPath"),
                        "volume mount needs a mountPath",
                        "write the absolute path inside the container, like `/etc/nginx/conf.d`",
                    );
                }
            }
        }
        let sub_path = str_field(o, "subPath", &mp, out).unwrap_or("");
        if let Some(why) = descending_path_problem(sub_path) {
            push(
                out,
                key(&mp, "subPath"),
                format!("subPath {} {why}", q(sub_path)),
                "write a path inside the volume, like `nginx.conf`",
            );
        }
        let expr = str_field(o, "subPathExpr", &mp, out).unwrap_or("");
        if !expr.is_empty() {
            if !sub_path.is_empty() {
                push(
                    out,
                    key(&mp, "subPathExpr"),
                    "subPathExpr and subPath may not both be set",
                    "keep one of them",
                );
            }
            if let Some(why) = descending_path_problem(expr) {
                push(
                    out,
                    key(&mp, "subPathExpr"),
                    format!("subPathExpr {} {why}", q(expr)),
                    "write a path inside the volume, like `$(POD_NAME)`",
                );
            }
        }
        let propagation = str_field(o, "mountPropagation", &mp, out);
        if let Some(mode) = propagation {
            if !["None", "HostToContainer", "Bidirectional"].contains(&mode) {
                push(
                    out,
                    key(&mp, "mountPropagation"),
                    format!("mountPropagation {} is not supported", q(mode)),
                    "write None or HostToContainer, or leave it out",
                );
            } else if mode == "Bidirectional" && !privileged {
                push(
                    out,
                    key(&mp, "mountPropagation"),
                    "mountPropagation Bidirectional is only for privileged containers",
                    "write None or HostToContainer, or leave it out",
                );
            }
        }
        if let Some(rro) = str_field(o, "recursiveReadOnly", &mp, out) {
            match rro {
                "Disabled" => {}
                "IfPossible" | "Enabled" => {
                    if !read_only {
                        push(
                            out,
                            key(&mp, "recursiveReadOnly"),
                            format!("recursiveReadOnly {rro} needs readOnly: true"),
                            "add readOnly: true, or remove recursiveReadOnly",
                        );
                    }
                    if propagation.is_some_and(|m| m != "None") {
                        push(
                            out,
                            key(&mp, "recursiveReadOnly"),
                            format!("recursiveReadOnly {rro} needs mountPropagation None or unset"),
                            "remove mountPropagation, or remove recursiveReadOnly",
                        );
                    }
                }
                other => push(
                    out,
                    key(&mp, "recursiveReadOnly"),
                    format!("recursiveReadOnly {} is not supported", q(other)),
                    "write Disabled, IfPossible or Enabled",
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Security context (ValidateSecurityContext).

fn check_security_context(sc: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    for k in ["runAsUser", "runAsGroup"] {
        if let Some(id) = int_field(sc, k, p, Bits::I64, out)
            && !(0..=i64::from(i32::MAX)).contains(&id)
        {
            push(
                out,
                key(p, k),
                format!("{k} {id} is out of range: ids go from 0 to 2147483647"),
                format!("write a {k} from 1 to 2147483647"),
            );
        }
    }
    for k in ["runAsNonRoot", "readOnlyRootFilesystem"] {
        bool_field(sc, k, p, out);
    }
    let privileged = bool_field(sc, "privileged", p, out);
    let escalation = bool_field(sc, "allowPrivilegeEscalation", p, out);
    let mut adds_sys_admin = false;
    if let Some(caps) = obj_field(sc, "capabilities", p, out) {
        let cp = key(p, "capabilities");
        for k in ["add", "drop"] {
            string_list(caps, k, &cp, out);
        }
        adds_sys_admin = caps
            .get("add")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c.as_str() == Some("CAP_SYS_ADMIN")));
    }
    if escalation == Some(false) && privileged == Some(true) {
        push(
            out,
            p.to_vec(),
            "allowPrivilegeEscalation: false and privileged: true contradict each other",
            "remove privileged",
        );
    }
    if escalation == Some(false) && adds_sys_admin {
        push(
            out,
            p.to_vec(),
            "allowPrivilegeEscalation: false and adding CAP_SYS_ADMIN contradict each other",
            "remove CAP_SYS_ADMIN from capabilities.add",
        );
    }
    if let Some(pm) = str_field(sc, "procMount", p, out) {
        match pm {
            "Default" => {}
            "Unmasked" => push(
                out,
                key(p, "procMount"),
                "procMount Unmasked needs hostUsers: false, which dovetail's pods do not set",
                "remove procMount",
            ),
            other => push(
                out,
                key(p, "procMount"),
                format!("procMount {} is not supported", q(other)),
                "write Default, or leave it out",
            ),
        }
    }
    if let Some(sp) = obj_field(sc, "seccompProfile", p, out) {
        check_profile(sp, "seccompProfile", &key(p, "seccompProfile"), out);
    }
    if let Some(ap) = obj_field(sc, "appArmorProfile", p, out) {
        check_profile(ap, "appArmorProfile", &key(p, "appArmorProfile"), out);
    }
}

/// validateSeccompProfileField and `ValidateAppArmorProfileField` share a shape.
fn check_profile(o: &Map<String, Value>, what: &str, p: &[Seg], out: &mut Vec<Problem>) {
    let kind = str_field(o, "type", p, out);
    let local = str_field(o, "localhostProfile", p, out);
    let has_local = get(o, "localhostProfile").is_some();
    match kind {
        Some("Localhost") => match local {
            None if !has_local => push(
                out,
                key(p, "localhostProfile"),
                format!("{what} of type Localhost needs a localhostProfile"),
                "write the profile's path or name on the node",
            ),
            None => {}
            Some(l) if what == "seccompProfile" => {
                if let Some(why) = descending_path_problem(l) {
                    push(
                        out,
                        key(p, "localhostProfile"),
                        format!("localhostProfile {} {why}", q(l)),
                        "write a path relative to the kubelet's seccomp directory",
                    );
                }
            }
            Some(l) => {
                if l.trim() != l {
                    push(
                        out,
                        key(p, "localhostProfile"),
                        format!(
                            "localhostProfile {} has leading or trailing whitespace",
                            q(l)
                        ),
                        "remove the spaces",
                    );
                } else if l.is_empty() {
                    push(
                        out,
                        key(p, "localhostProfile"),
                        format!("{what} of type Localhost needs a localhostProfile"),
                        "write the profile's name",
                    );
                } else if l.len() > 4095 {
                    push(
                        out,
                        key(p, "localhostProfile"),
                        "localhostProfile is longer than 4095 bytes",
                        "write a shorter profile name",
                    );
                }
            }
        },
        Some("RuntimeDefault" | "Unconfined") => {
            if has_local {
                push(
                    out,
                    key(p, "localhostProfile"),
                    format!("localhostProfile may only be set when the {what} type is Localhost"),
                    "remove localhostProfile",
                );
            }
        }
        Some("") | None => {
            if get(o, "type").is_none_or(Value::is_string) {
                push(
                    out,
                    key(p, "type"),
                    format!("{what} needs a type"),
                    "write type: RuntimeDefault",
                );
            }
        }
        Some(other) => push(
            out,
            key(p, "type"),
            format!("{what} type {} is not supported", q(other)),
            "write RuntimeDefault, Localhost or Unconfined",
        ),
    }
}

// ---------------------------------------------------------------------------------
// Probes and lifecycle (validateProbe, validateHandler, validateLifecycle).

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn check_probe(o: &Map<String, Value>, kind: ProbeKind, p: &[Seg], out: &mut Vec<Problem>) {
    check_handler(o, &["exec", "httpGet", "tcpSocket", "grpc"], p, out);
    // 0 is defaulted by the API server (timeout 1, period 10, thresholds 1 and 3).
    for k in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        let Some(n) = int_field(o, k, p, Bits::I32, out) else {
            continue;
        };
        if n < 0 {
            push(
                out,
                key(p, k),
                format!("{k} {n} must not be negative"),
                format!("write a {k} of 1 or more, or leave it out"),
            );
        } else if k == "successThreshold" && n > 1 && kind != ProbeKind::Readiness {
            let probe = if kind == ProbeKind::Liveness {
                "liveness"
            } else {
                "startup"
            };
            push(
                out,
                key(p, k),
                format!("successThreshold must be 1 for a {probe} probe, not {n}"),
                "write successThreshold: 1 or leave it out; only readiness probes take more",
            );
        }
    }
    if let Some(g) = int_field(o, "terminationGracePeriodSeconds", p, Bits::I64, out) {
        if kind == ProbeKind::Readiness {
            push(
                out,
                key(p, "terminationGracePeriodSeconds"),
                "terminationGracePeriodSeconds may not be set on a readiness probe",
                "remove it",
            );
        } else if g <= 0 {
            push(
                out,
                key(p, "terminationGracePeriodSeconds"),
                format!("terminationGracePeriodSeconds {g} must be greater than 0"),
                "write a number of seconds of 1 or more, or leave it out",
            );
        }
    }
}

fn check_lifecycle(o: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    for k in ["postStart", "preStop"] {
        if let Some(h) = obj_field(o, k, p, out) {
            // The API server takes it for compatibility, and the kubelet runs no such
            // hook: a failed postStart kills the container, every time.
            if get(h, "tcpSocket").is_some() {
                push(
                    out,
                    key(&key(p, k), "tcpSocket"),
                    "a lifecycle hook cannot be a tcpSocket: the kubelet does not run it, and the hook fails (a postStart's container is killed)",
                    "use exec, httpGet or sleep",
                );
                continue;
            }
            check_handler(
                h,
                &["exec", "httpGet", "tcpSocket", "sleep"],
                &key(p, k),
                out,
            );
        }
    }
    if get(o, "stopSignal").is_some() {
        push(
            out,
            key(p, "stopSignal"),
            "stopSignal needs the pod's spec.os.name, which dovetail's pods do not set",
            "remove stopSignal and handle SIGTERM in the process",
        );
    }
}

/// validateHandler: exactly one action, in the API server's order; the second and
/// later ones are refused without being checked, as there.
fn check_handler(o: &Map<String, Value>, actions: &[&str], p: &[Seg], out: &mut Vec<Problem>) {
    let set: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| get(o, a).is_some())
        .collect();
    let Some(first) = set.first() else {
        push(
            out,
            p.to_vec(),
            format!("no action: set one of {}", actions.join(", ")),
            format!("add one of {}", actions.join(", ")),
        );
        return;
    };
    for extra in &set[1..] {
        push(
            out,
            key(p, extra),
            format!("{first} and {extra} are both set; a handler takes exactly one action"),
            format!("keep {first} or {extra}, not both"),
        );
    }
    let Some(a) = obj_field(o, first, p, out) else {
        return;
    };
    let ap = key(p, first);
    match *first {
        "exec" => {
            let commands = string_list(a, "command", &ap, out);
            if commands == 0 && get(a, "command").is_none_or(Value::is_array) {
                push(
                    out,
                    key(&ap, "command"),
                    "exec needs a command",
                    "write the command as a list, like [\"/bin/healthcheck\"]",
                );
            }
        }
        "httpGet" => {
            str_field(a, "path", &ap, out);
            str_field(a, "host", &ap, out);
            int_or_port_name(a, &ap, out);
            enum_field(a, "scheme", &["HTTP", "HTTPS"], true, &ap, out);
            if let Some(headers) = list_field(a, "httpHeaders", &ap, out) {
                let hp = key(&ap, "httpHeaders");
                for (i, h) in headers.iter().enumerate() {
                    let Some(h) = as_obj(h, &idx(&hp, i), "an HTTP header", out) else {
                        continue;
                    };
                    let name = str_field(h, "name", &idx(&hp, i), out);
                    str_field(h, "value", &idx(&hp, i), out);
                    if get(h, "name").is_none_or(Value::is_string)
                        && !is_header_name(name.unwrap_or(""))
                    {
                        push(
                            out,
                            key(&idx(&hp, i), "name"),
                            format!(
                                "HTTP header name {} is not valid: letters, digits and '-' only",
                                q(name.unwrap_or(""))
                            ),
                            "write a header name like `X-Forwarded-Proto`",
                        );
                    }
                }
            }
        }
        "tcpSocket" => {
            str_field(a, "host", &ap, out);
            int_or_port_name(a, &ap, out);
        }
        "grpc" => {
            str_field(a, "service", &ap, out);
            match int_field(a, "port", &ap, Bits::I32, out) {
                Some(n) => port_range(n, "port", key(&ap, "port"), out),
                None if get(a, "port").is_none() => push(
                    out,
                    key(&ap, "port"),
                    "grpc needs a port",
                    "write the gRPC port number, from 1 to 65535",
                ),
                None => {}
            }
        }
        "sleep" => {
            // AllowPodLifecycleSleepActionZeroValue is on since 1.33: 0 is allowed.
            if let Some(s) = int_field(a, "seconds", &ap, Bits::I64, out)
                && !(0..=GRACE_PERIOD_SECONDS).contains(&s)
            {
                push(
                    out,
                    key(&ap, "seconds"),
                    format!(
                        "sleep seconds {s} is out of range: from 0 to the pod's terminationGracePeriodSeconds ({GRACE_PERIOD_SECONDS})"
                    ),
                    format!("write a number of seconds from 0 to {GRACE_PERIOD_SECONDS}"),
                );
            }
        }
        _ => {}
    }
}

/// `ValidatePortNumOrName` for an `IntOrString` `port`: a number from 1 to 65535, or a
/// port name. A quoted number is a name to the API server, and names need a letter.
fn int_or_port_name(a: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    let at = key(p, "port");
    match get(a, "port") {
        None => push(
            out,
            at,
            "port is required",
            "write a port number from 1 to 65535, or the name of a container port",
        ),
        Some(Value::String(s)) => {
            if !is_port_name(s) {
                let hint = if s.parse::<u32>().is_ok() {
                    "remove the quotes: a quoted number is read as a port name".to_string()
                } else {
                    "write a port number, or the name of a container port like `http`".to_string()
                };
                push(
                    out,
                    at,
                    format!("port name {} is not valid: {PORT_NAME_RULE}", q(s)),
                    hint,
                );
            }
        }
        Some(v) => {
            if let Some(n) = int_value(v, at.clone(), "port", Bits::I32, out) {
                port_range(n, "port", at, out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Volumes (ValidateVolumes, validateVolumeSource and the sources a fragment may use).

/// Every volume source of core/v1 `VolumeSource`, in the API server's order.
const VOLUME_TYPES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
];

#[allow(
    clippy::many_single_char_names,
    reason = "this file's names: v a volume, p a path, o a mapping, n a name, e an entry"
)]
fn check_volume(v: &Value, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(o) = as_obj(v, p, "a volume", out) else {
        return;
    };
    match str_field(o, "name", p, out) {
        Some(n) if !n.is_empty() => {
            if !is_dns_label(n) {
                push(
                    out,
                    key(p, "name"),
                    format!(
                        "volume name {} is not valid: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
                        q(n)
                    ),
                    "use a name like `nginx-conf`",
                );
            }
        }
        Some(_) | None => {
            if get(o, "name").is_none_or(Value::is_string) {
                push(
                    out,
                    key(p, "name"),
                    "volume needs a name",
                    "use a name like `nginx-conf`",
                );
            }
        }
    }
    // A volume without a source is defaulted to an emptyDir by the API server.
    let types: Vec<&str> = VOLUME_TYPES
        .iter()
        .copied()
        .filter(|t| get(o, t).is_some())
        .collect();
    let Some(first) = types.first() else {
        return;
    };
    for extra in &types[1..] {
        push(
            out,
            key(p, extra),
            format!("the volume sets both {first} and {extra}; a volume has exactly one type"),
            "split it into two volumes",
        );
    }
    let Some(s) = obj_field(o, first, p, out) else {
        return;
    };
    let sp = key(p, first);
    match *first {
        "emptyDir" => {
            str_field(s, "medium", &sp, out);
            if let Some(limit) = get(s, "sizeLimit") {
                let text = match limit {
                    Value::String(t) => Some(t.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                match text.as_deref().and_then(Quantity::parse) {
                    None => push(
                        out,
                        key(&sp, "sizeLimit"),
                        format!("sizeLimit {} is not a valid quantity", number_text(limit)),
                        "write a size like `64Mi` or `1Gi`",
                    ),
                    Some(qty) if qty.is_negative() => push(
                        out,
                        key(&sp, "sizeLimit"),
                        format!("sizeLimit {} must not be negative", number_text(limit)),
                        "write a size like `64Mi` or `1Gi`",
                    ),
                    Some(_) => {}
                }
            }
        }
        "secret" | "configMap" => {
            let name_key = if *first == "secret" {
                "secretName"
            } else {
                "name"
            };
            if str_field(s, name_key, &sp, out).unwrap_or("").is_empty()
                && get(s, name_key).is_none_or(Value::is_string)
            {
                push(
                    out,
                    key(&sp, name_key),
                    format!("{first} volume needs {name_key}"),
                    format!(
                        "write the name of the {}",
                        if *first == "secret" {
                            "Secret"
                        } else {
                            "ConfigMap"
                        }
                    ),
                );
            }
            bool_field(s, "optional", &sp, out);
            mode(s, "defaultMode", &sp, out);
            if let Some(items) = list_field(s, "items", &sp, out) {
                let mut paths = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    let at = idx(&key(&sp, "items"), i);
                    let path = check_key_to_path(item, &at, out);
                    written_once(&mut paths, path, at, out);
                }
            }
        }
        "downwardAPI" => {
            mode(s, "defaultMode", &sp, out);
            if let Some(items) = list_field(s, "items", &sp, out) {
                let mut paths = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    let at = idx(&key(&sp, "items"), i);
                    let path = check_downward_file(item, &at, out);
                    written_once(&mut paths, path, at, out);
                }
            }
        }
        "projected" => {
            mode(s, "defaultMode", &sp, out);
            check_projection(s, &sp, out);
        }
        // Every other source is refused by the ownership check.
        _ => {}
    }
}

/// An item's `path` that overlaps one seen in `paths` before: the same file, or a file
/// where another item needs a directory (`a` and `a/b`). The API server warns of both
/// (`overlapping paths`); only one of two such items lands, and the volume of the
/// second kind never mounts.
fn written_once(
    paths: &mut BTreeSet<String>,
    path: Option<String>,
    at: Path,
    out: &mut Vec<Problem>,
) {
    let Some(path) = path else { return };
    let path = path.trim_end_matches('/').to_owned();
    if let Some(seen) = paths
        .iter()
        .find(|p| **p == path || beneath(&path, p) || beneath(p, &path))
    {
        let message = if *seen == path {
            format!("path {} is written twice in this volume", q(&path))
        } else {
            format!(
                "path {} overlaps {} in this volume: one is a file, the other needs it to be a directory",
                q(&path),
                q(seen)
            )
        };
        push(
            out,
            key(&at, "path"),
            message,
            "give every item its own path",
        );
        return;
    }
    paths.insert(path);
}

/// A file mode: int32 from 0 to 0777. A YAML 1.2 reader takes `0644` as decimal 644,
/// which is out of range, so the hint offers the octal reading.
fn mode(o: &Map<String, Value>, k: &str, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(m) = int_field(o, k, p, Bits::I32, out) else {
        return;
    };
    if (0..=0o777).contains(&m) {
        return;
    }
    let digits = m.to_string();
    let hint = match i64::from_str_radix(&digits, 8) {
        Ok(octal) if m > 0 && (0..=0o777).contains(&octal) => {
            format!("did you mean octal 0{digits}? Write its decimal value {octal} instead")
        }
        _ => "write a mode from 0 to 511 (0777 octal), like 420 for 0644".to_string(),
    };
    push(
        out,
        key(p, k),
        format!("{k} {m} is out of range: file modes go from 0 to 0777 octal (511)"),
        hint,
    );
}

/// validateKeyToPath.
fn check_key_to_path(v: &Value, p: &[Seg], out: &mut Vec<Problem>) -> Option<String> {
    let o = as_obj(v, p, "an item", out)?;
    if str_field(o, "key", p, out).unwrap_or("").is_empty()
        && get(o, "key").is_none_or(Value::is_string)
    {
        push(
            out,
            key(p, "key"),
            "item needs a key",
            "write the key to project, like `nginx.conf`",
        );
    }
    mode(o, "mode", p, out);
    file_path(o, p, out)
}

/// The `path` of an item: required, relative, no `..` element, not starting with `..`.
fn file_path(o: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) -> Option<String> {
    let path = str_field(o, "path", p, out);
    match path {
        Some(s) if !s.is_empty() => {
            if let Some(why) = local_path_problem(s) {
                push(
                    out,
                    key(p, "path"),
                    format!("path {} {why}", q(s)),
                    "write a path relative to the volume, like `conf/app.ini`",
                );
            }
            Some(s.to_string())
        }
        _ => {
            if get(o, "path").is_none_or(Value::is_string) {
                push(
                    out,
                    key(p, "path"),
                    "item needs a path",
                    "write the file's path relative to the volume, like `app.ini`",
                );
            }
            None
        }
    }
}

/// validateDownwardAPIVolumeFile.
fn check_downward_file(v: &Value, p: &[Seg], out: &mut Vec<Problem>) -> Option<String> {
    let o = as_obj(v, p, "an item", out)?;
    let path = file_path(o, p, out);
    let field = obj_field(o, "fieldRef", p, out);
    let resource = obj_field(o, "resourceFieldRef", p, out);
    match (field, resource) {
        (Some(f), other) => {
            check_field_selector(
                f,
                VOLUME_FIELD_PATHS,
                "a volume file",
                &key(p, "fieldRef"),
                out,
            );
            if other.is_some() {
                push(
                    out,
                    p.to_vec(),
                    "fieldRef and resourceFieldRef may not both be set",
                    "keep one of them, and add another item for the other",
                );
            }
        }
        (None, Some(r)) => check_resource_selector(r, true, &key(p, "resourceFieldRef"), out),
        (None, None) => {
            if get(o, "fieldRef").is_none() && get(o, "resourceFieldRef").is_none() {
                push(
                    out,
                    p.to_vec(),
                    "item needs a fieldRef or a resourceFieldRef",
                    "add fieldRef: {fieldPath: metadata.name}, for example",
                );
            }
        }
    }
    mode(o, "mode", p, out);
    path
}

/// validateProjectionSources for the sources a fragment may use, refusing those that
/// hand the pod credentials or cluster trust.
fn check_projection(s: &Map<String, Value>, p: &[Seg], out: &mut Vec<Problem>) {
    let Some(sources) = list_field(s, "sources", p, out) else {
        return;
    };
    let lp = key(p, "sources");
    // Across all sources, as within one: the kubelet writes them into one directory.
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for (i, src) in sources.iter().enumerate() {
        let sp = idx(&lp, i);
        let Some(o) = as_obj(src, &sp, "a projected source", out) else {
            continue;
        };
        let kinds: Vec<&str> = [
            "secret",
            "configMap",
            "downwardAPI",
            "serviceAccountToken",
            "clusterTrustBundle",
            "podCertificate",
        ]
        .into_iter()
        .filter(|k| get(o, k).is_some())
        .collect();
        for k in &kinds {
            if matches!(
                *k,
                "serviceAccountToken" | "clusterTrustBundle" | "podCertificate"
            ) {
                push(
                    out,
                    key(&sp, k),
                    format!(
                        "projected source {k} is not allowed in a pod fragment: it gives the pod credentials or trust that the operator controls"
                    ),
                    "use secret, configMap or downwardAPI sources",
                );
            }
        }
        if kinds.len() > 1 {
            push(
                out,
                sp.clone(),
                format!(
                    "the source sets {}; a projected source has exactly one type",
                    kinds.join(" and ")
                ),
                "split it into one source per type",
            );
        }
        for k in ["secret", "configMap"] {
            let Some(r) = obj_field(o, k, &sp, out) else {
                continue;
            };
            let rp = key(&sp, k);
            if str_field(r, "name", &rp, out).unwrap_or("").is_empty()
                && get(r, "name").is_none_or(Value::is_string)
            {
                push(
                    out,
                    key(&rp, "name"),
                    format!("projected {k} needs a name"),
                    format!(
                        "write the name of the {}",
                        if k == "secret" { "Secret" } else { "ConfigMap" }
                    ),
                );
            }
            bool_field(r, "optional", &rp, out);
            if let Some(items) = list_field(r, "items", &rp, out) {
                for (j, item) in items.iter().enumerate() {
                    let ip = idx(&key(&rp, "items"), j);
                    let path = check_key_to_path(item, &ip, out);
                    written_once(&mut paths, path, ip, out);
                }
            }
        }
        if let Some(d) = obj_field(o, "downwardAPI", &sp, out) {
            let dp = key(&sp, "downwardAPI");
            if let Some(items) = list_field(d, "items", &dp, out) {
                for (j, item) in items.iter().enumerate() {
                    let ip = idx(&key(&dp, "items"), j);
                    let path = check_downward_file(item, &ip, out);
                    written_once(&mut paths, path, ip, out);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Quantities (k8s.io/apimachinery/pkg/api/resource), as far as these rules need them:
// whether a string parses, its sign, and the canonical text `String()` gives, which
// `validateContainerResourceDivisor` compares against a fixed list.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

#[derive(Debug)]
struct Quantity {
    negative: bool,
    /// Significant digits of integer part and fraction together, leading zeros removed.
    digits: String,
    /// The value is digits × 10^exp10 × 2^exp2.
    exp10: i64,
    exp2: u32,
    format: Format,
    /// The text `String()` returns unchanged, when `ParseQuantity` keeps it.
    kept: Option<String>,
}

// A port of apimachinery's `ParseQuantity` and `String()`: the casts are Go's. Lengths are
// of a quantity's text (a few dozen bytes at most), exponents the parser's own checked
// ones, and the one f32 expression reproduces Go's float32 rounding exactly.
#[allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "a faithful port of Go's integer and float32 arithmetic, on bounded values"
)]
impl Quantity {
    /// `ParseQuantity` after Quantity.UnmarshalJSON's `TrimSpace`.
    fn parse(raw: &str) -> Option<Quantity> {
        let s = raw.trim();
        let zero = |format| Quantity {
            negative: false,
            digits: String::new(),
            exp10: 0,
            exp2: 0,
            format,
            kept: None,
        };
        if s.is_empty() {
            return None;
        }
        let b = s.as_bytes();
        let end = b.len();
        let mut pos = 0;
        let mut negative = false;
        match b[0] {
            b'-' => {
                negative = true;
                pos = 1;
            }
            b'+' => pos = 1,
            _ => {}
        }
        while pos < end && b[pos] == b'0' {
            pos += 1;
        }
        if pos == end {
            return Some(zero(Format::DecimalSi));
        }
        let num_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let num = &s[num_start..pos];
        let mut denom = "";
        if pos < end && b[pos] == b'.' {
            pos += 1;
            let d = pos;
            while pos < end && b[pos].is_ascii_digit() {
                pos += 1;
            }
            denom = &s[d..pos];
        }
        let suffix_start = pos;
        while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos < end {
            return None;
        }
        let suffix = &s[suffix_start..];
        let (base2, exponent, format) = match suffix {
            "" => (false, 0, Format::DecimalSi),
            "n" => (false, -9, Format::DecimalSi),
            "u" => (false, -6, Format::DecimalSi),
            "m" => (false, -3, Format::DecimalSi),
            "k" => (false, 3, Format::DecimalSi),
            "M" => (false, 6, Format::DecimalSi),
            "G" => (false, 9, Format::DecimalSi),
            "T" => (false, 12, Format::DecimalSi),
            "P" => (false, 15, Format::DecimalSi),
            "E" => (false, 18, Format::DecimalSi),
            "Ki" => (true, 10, Format::BinarySi),
            "Mi" => (true, 20, Format::BinarySi),
            "Gi" => (true, 30, Format::BinarySi),
            "Ti" => (true, 40, Format::BinarySi),
            "Pi" => (true, 50, Format::BinarySi),
            "Ei" => (true, 60, Format::BinarySi),
            _ if suffix.len() > 1 && (suffix.starts_with('e') || suffix.starts_with('E')) => {
                let e: i64 = suffix[1..].parse().ok()?;
                let e = i32::try_from(e).ok()?;
                (false, i64::from(e), Format::DecimalExponent)
            }
            _ => return None,
        };
        let num = if num.is_empty() { "0" } else { num };
        let shifted = format!("{num}{denom}");
        let digits = shifted.trim_start_matches('0').to_string();
        let kept = Self::kept_text(s, num, denom, &shifted, base2, exponent);
        let (exp10, exp2) = if base2 {
            (-(denom.len() as i64), exponent as u32)
        } else {
            (exponent - denom.len() as i64, 0)
        };
        if digits.is_empty() {
            return Some(zero(format));
        }
        Some(Quantity {
            negative,
            digits,
            exp10,
            exp2,
            format,
            kept,
        })
    }

    /// `ParseQuantity`'s fast path keeps the input as the quantity's text when it looks
    /// canonical; `String()` then returns it as written, `+1` and `01` included.
    fn kept_text(
        s: &str,
        num: &str,
        denom: &str,
        shifted: &str,
        base2: bool,
        exponent: i64,
    ) -> Option<String> {
        let value: i64 = shifted.parse().ok()?;
        if base2 {
            let precision = 15 - num.len() as i64 - ((exponent as f32) * 3.0 / 10.0) as i64 - 1;
            let fits = value.checked_mul(1i64 << exponent).is_some();
            (denom.is_empty() && precision >= 0 && fits && exponent % 10 == 0 && value & 7 != 0)
                .then(|| s.to_string())
        } else {
            let precision = 18 - (num.len() + denom.len()) as i64;
            let scale = exponent - denom.len() as i64;
            (precision >= 0
                && scale >= -9
                && scale % 3 == 0
                && !shifted.ends_with("000")
                && !shifted.starts_with('0'))
            .then(|| s.to_string())
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// Whether `String()` of this quantity is one of `allowed` (all of the form "1<suffix>").
    fn shows_as_one_of(&self, raw: &str, allowed: &[&str]) -> bool {
        if let Some(kept) = &self.kept {
            debug_assert_eq!(kept, raw.trim());
            return allowed.contains(&kept.as_str());
        }
        self.canonical_one()
            .is_some_and(|c| allowed.contains(&c.as_str()))
    }

    /// The canonical text when it is "1" with a suffix; None for every other value.
    fn canonical_one(&self) -> Option<String> {
        const GIGA: u128 = 1_000_000_000;
        if self.negative || self.is_zero() {
            return None;
        }
        // The value in units of 10^-9, rounded up as ParseQuantity rounds.
        let nano = self.nano()?;
        let binary = self.format == Format::BinarySi && nano >= 1024 * GIGA && nano % GIGA == 0;
        if binary {
            let units = nano / GIGA;
            return (1..=6)
                .find(|k| units == 1u128 << (10 * k))
                .map(|k| format!("1{}", ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k - 1]));
        }
        let exp = (0..=9u32).find(|e| nano == 1000u128.pow(*e))?;
        let e10 = i64::from(exp) * 3 - 9;
        Some(if self.format == Format::DecimalExponent {
            if e10 == 0 {
                "1".to_string()
            } else {
                format!("1e{e10}")
            }
        } else {
            format!(
                "1{}",
                ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"][exp as usize]
            )
        })
    }

    /// ceil(digits × 2^exp2 × 10^(exp10 + 9)), or None when it is far above 10^30.
    fn nano(&self) -> Option<u128> {
        // Decimal digits, most significant first; doubled exp2 times.
        let mut d: Vec<u8> = self.digits.bytes().map(|b| b - b'0').collect();
        for _ in 0..self.exp2 {
            let mut carry = 0;
            for x in d.iter_mut().rev() {
                let v = *x * 2 + carry;
                *x = v % 10;
                carry = v / 10;
            }
            if carry > 0 {
                d.insert(0, carry);
            }
        }
        let e = self.exp10 + 9;
        let (int_part, round_up): (&[u8], bool) = if e >= 0 {
            if d.len() as i64 + e > 31 {
                return None;
            }
            (&d, false)
        } else {
            let k = usize::try_from(-e).unwrap_or(usize::MAX);
            if k >= d.len() {
                (&[], true)
            } else {
                let (int, frac) = d.split_at(d.len() - k);
                (int, frac.iter().any(|&x| x != 0))
            }
        };
        if int_part.len() > 31 {
            return None;
        }
        let mut v: u128 = 0;
        for &x in int_part {
            v = v * 10 + u128::from(x);
        }
        if e > 0 {
            v *= 10u128.pow(e as u32);
        }
        Some(v + u128::from(round_up))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(p: &[Problem]) -> Vec<String> {
        p.iter().map(|x| x.message.clone()).collect()
    }

    /// The container with `extra` merged in has exactly one problem, whose message
    /// contains `needle`; returns it.
    fn refused(extra: Value, init: bool, needle: &str) -> Problem {
        let mut c = json!({"name": "app", "image": "nginx:1.27"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let p = container(&c, init);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].message.contains(needle),
            "{:?} lacks {needle:?}",
            p[0].message
        );
        assert!(!p[0].hint.is_empty());
        p[0].clone()
    }

    fn accepted(extra: Value, init: bool) {
        let mut c = json!({"name": "app", "image": "nginx:1.27"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let p = container(&c, init);
        assert!(p.is_empty(), "{p:#?}");
    }

    fn vol_refused(v: Value, needle: &str) -> Problem {
        let p = volume(&v);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].message.contains(needle),
            "{:?} lacks {needle:?}",
            p[0].message
        );
        p[0].clone()
    }

    fn vol_accepted(v: Value) {
        let p = volume(&v);
        assert!(p.is_empty(), "{p:#?}");
    }

    fn k(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }

    #[test]
    fn port_names() {
        for ok in ["http", "metrics", "a", "h2c", "web-8080", "a1b2c3d4e5f6g7h"] {
            assert!(is_port_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a--b",
            "8080",
            "-http",
            "http-",
            "Http",
            "a_b",
            "abcdefghijklmnop",
            "ä",
        ] {
            assert!(!is_port_name(bad), "{bad}");
        }
    }

    #[test]
    fn container_ports() {
        accepted(
            json!({"ports": [{"containerPort": 8000, "name": "http", "protocol": "TCP"}, {"containerPort": 9000}]}),
            false,
        );
        accepted(
            json!({"ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 1, "protocol": "SCTP"}, {"containerPort": 65535, "protocol": ""}]}),
            false,
        );
        let p = refused(
            json!({"ports": [{"containerPort": 80, "name": "a--b"}]}),
            false,
            "port name `a--b` is not valid: at most 15 lowercase letters, digits and '-', with at least one letter, no '--' and no '-' at either end",
        );
        assert_eq!(p.at, vec![k("ports"), Seg::Index(0), k("name")]);
        refused(
            json!({"ports": [{"containerPort": 80, "name": "8080"}]}),
            false,
            "`8080` is not valid",
        );
        refused(
            json!({"ports": [{"containerPort": 80, "name": "abcdefghijklmnop"}]}),
            false,
            "is not valid",
        );
        refused(
            json!({"ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}),
            false,
            "used twice",
        );
        let p = refused(
            json!({"ports": [{"containerPort": 9000.0}]}),
            false,
            "must be an integer, not `9000.0`",
        );
        assert_eq!(p.at, vec![k("ports"), Seg::Index(0), k("containerPort")]);
        assert!(p.hint.contains("`9000`"));
        refused(
            json!({"ports": [{"containerPort": 1e3}]}),
            false,
            "must be an integer",
        );
        refused(
            json!({"ports": [{"containerPort": "8080"}]}),
            false,
            "not the string `8080`",
        );
        refused(
            json!({"ports": [{"containerPort": 0}]}),
            false,
            "must not be 0",
        );
        refused(
            json!({"ports": [{"name": "http"}]}),
            false,
            "containerPort is required",
        );
        refused(
            json!({"ports": [{"containerPort": 65536}]}),
            false,
            "out of range",
        );
        refused(
            json!({"ports": [{"containerPort": -1}]}),
            false,
            "out of range",
        );
        refused(
            json!({"ports": [{"containerPort": 4_294_967_297_u64}]}),
            false,
            "32-bit",
        );
        refused(
            json!({"ports": [{"containerPort": 80, "protocol": "tcp"}]}),
            false,
            "protocol `tcp` is not supported",
        );
        // hostPort belongs to the ownership check: not read here.
        accepted(
            json!({"ports": [{"containerPort": 80, "hostPort": 80.5}]}),
            false,
        );
    }

    #[test]
    fn names_and_images() {
        accepted(json!({}), false);
        assert!(
            container(&json!({"name": "patch"}), false).is_empty(),
            "a patch needs no image"
        );
        let c = json!({"name": "Bad_Name", "image": "x"});
        assert!(msgs(&container(&c, false))[0].contains("container name `Bad_Name` is not valid"));
        assert!(msgs(&container(&json!({"image": "x"}), false))[0].contains("name is required"));
        assert!(
            msgs(&container(&json!({"name": "", "image": "x"}), false))[0]
                .contains("must not be empty")
        );
        assert!(
            msgs(&container(
                &json!({"name": "a".repeat(64), "image": "x"}),
                false
            ))[0]
                .contains("not valid")
        );
        assert!(container(&json!({"name": "a".repeat(63), "image": "x"}), false).is_empty());
        refused(json!({"image": ""}), false, "image must not be empty");
        refused(
            json!({"image": " nginx"}),
            false,
            "leading or trailing whitespace",
        );
        refused(json!({"image": 5}), false, "image must be a string");
        assert!(msgs(&container(&json!(["x"]), false))[0].contains("must be a mapping"));
    }

    #[test]
    fn enums_and_plain_fields() {
        accepted(
            json!({"imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "FallbackToLogsOnError",
            "workingDir": "/app", "terminationMessagePath": "/dev/termination-log", "stdin": false, "tty": true, "stdinOnce": false,
            "command": ["/run"], "args": ["--port", "8000"]}),
            false,
        );
        accepted(
            json!({"imagePullPolicy": "", "terminationMessagePolicy": ""}),
            false,
        );
        refused(
            json!({"imagePullPolicy": "always"}),
            false,
            "imagePullPolicy `always` is not supported",
        );
        refused(
            json!({"terminationMessagePolicy": "Log"}),
            false,
            "terminationMessagePolicy `Log`",
        );
        refused(
            json!({"workingDir": 1}),
            false,
            "workingDir must be a string",
        );
        refused(json!({"tty": "yes"}), false, "tty must be true or false");
        refused(
            json!({"command": ["/run", 1]}),
            false,
            "every item of command",
        );
        refused(json!({"args": "--x"}), false, "args must be a list");
    }

    #[test]
    fn env_names() {
        accepted(
            json!({"env": [{"name": "A_B", "value": "x"}, {"name": "my.env-name"}, {"name": "1X"}, {"name": "a b"}]}),
            false,
        );
        refused(
            json!({"env": [{"name": "A=B"}]}),
            false,
            "env name `A=B` is not valid",
        );
        refused(json!({"env": [{"name": "A\u{1b}[31m"}]}), false, "\\u{1b}");
        refused(json!({"env": [{"name": "É"}]}), false, "not valid");
        refused(json!({"env": [{"name": ""}]}), false, "must not be empty");
        refused(
            json!({"env": [{"value": "x"}]}),
            false,
            "env name is required",
        );
        refused(
            json!({"env": [{"name": "A", "value": 1}]}),
            false,
            "value must be a string",
        );
    }

    #[test]
    fn env_field_refs() {
        for ok in [
            "metadata.name",
            "metadata.namespace",
            "metadata.uid",
            "spec.nodeName",
            "spec.host",
            "spec.serviceAccountName",
            "status.hostIP",
            "status.hostIPs",
            "status.podIP",
            "status.podIPs",
            "metadata.labels['app']",
            "metadata.labels['app.kubernetes.io/name']",
            "metadata.annotations['Example.COM/Key']",
        ] {
            accepted(
                json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": ok}}}]}),
                false,
            );
        }
        accepted(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]}),
            false,
        );
        for bad in [
            "metadata.labels",
            "metadata.annotations",
            "spec.restartPolicy",
            "status.phase",
            "metadata.generation",
            "spec.nodename",
        ] {
            refused(
                json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": bad}}}]}),
                false,
                "is not supported for an env var",
            );
        }
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "spec['x']"}}}]}),
            false,
            "does not support a subscript",
        );
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['']"}}}]}),
            false,
            "not a valid label",
        );
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['Bad Key']"}}}]}),
            false,
            "not a valid label",
        );
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a/b/c']"}}}]}),
            false,
            "not a valid label",
        );
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['EXAMPLE.com/k']"}}}]}),
            false,
            "not a valid label",
        );
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}}]}),
            false,
            "apiVersion `v2`",
        );
        refused(
            json!({"env": [{"name": "X", "valueFrom": {"fieldRef": {}}}]}),
            false,
            "needs a fieldPath",
        );
    }

    #[test]
    fn env_sources() {
        accepted(
            json!({"env": [
                {"name": "A", "valueFrom": {"secretKeyRef": {"name": "shop-secrets", "key": "DATABASE_URL"}}},
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "shop.config", "key": "settings.ini", "optional": true}}},
                {"name": "C", "value": "", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            ]}),
            false,
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {}}]}),
            false,
            "must set one of",
        );
        refused(
            json!({"env": [{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}),
            false,
            "non-empty value",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}, "configMapKeyRef": {"name": "c", "key": "k"}}}]}),
            false,
            "exactly one",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"key": "k"}}}]}),
            false,
            "secretKeyRef needs a name",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "Shop", "key": "k"}}}]}),
            false,
            "not a valid object name",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c"}}}]}),
            false,
            "needs a key",
        );
        for bad in ["a b", "..x", ".", "a/b"] {
            refused(
                json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": bad}}}]}),
                false,
                "is not valid",
            );
        }
        accepted(
            json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "a..b"}}}]}),
            false,
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"fileKeyRef": {"volumeName": "v", "path": "p", "key": "k"}}}]}),
            false,
            "fileKeyRef is not supported",
        );
    }

    #[test]
    fn resource_field_refs() {
        for (r, d) in [
            ("limits.cpu", "1m"),
            ("requests.cpu", "1"),
            ("limits.cpu", "1000m"),
            ("limits.cpu", "0.001"),
            ("limits.memory", "1Ki"),
            ("requests.memory", "1Gi"),
            ("limits.memory", "1024Ki"),
            ("limits.memory", "1000"),
            ("limits.memory", "1k"),
            ("limits.ephemeral-storage", "1E"),
            ("requests.hugepages-2Mi", "1Mi"),
            ("limits.memory", "0"),
            ("limits.memory", "1.0"),
            ("limits.cpu", "1000e-3"),
            ("limits.cpu", "0.0009999999999"),
        ] {
            accepted(
                json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": r, "divisor": d}}}]}),
                false,
            );
        }
        accepted(
            json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": 1}}}]}),
            false,
        );
        for (r, d) in [
            ("limits.cpu", "1Mi"),
            ("limits.cpu", "2"),
            ("limits.memory", "1m"),
            ("limits.memory", "1024"),
            ("limits.memory", "1e3"),
            ("limits.memory", "+1"),
            ("limits.memory", "01"),
            ("limits.memory", "2Ki"),
            ("limits.memory", "-1"),
        ] {
            refused(
                json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": r, "divisor": d}}}]}),
                false,
                "is not supported for the",
            );
        }
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "lots"}}}]}),
            false,
            "not a valid quantity",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": 1.5}}}]}),
            false,
            "quantity string",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}]}),
            false,
            "resource `limits.gpu` is not supported",
        );
        refused(
            json!({"env": [{"name": "A", "valueFrom": {"resourceFieldRef": {}}}]}),
            false,
            "needs a resource",
        );
    }

    #[test]
    fn env_from() {
        accepted(
            json!({"envFrom": [{"secretRef": {"name": "shop-secrets"}}, {"configMapRef": {"name": "cfg", "optional": true}, "prefix": "CFG_"}]}),
            false,
        );
        accepted(
            json!({"envFrom": [{"configMapRef": {"name": "cfg-"}}]}),
            false,
        );
        refused(
            json!({"envFrom": [{"prefix": "X"}]}),
            false,
            "must set configMapRef or secretRef",
        );
        refused(
            json!({"envFrom": [{"configMapRef": {"name": "a"}, "secretRef": {"name": "b"}}]}),
            false,
            "both",
        );
        refused(
            json!({"envFrom": [{"configMapRef": {"name": "a"}, "prefix": "A="}]}),
            false,
            "prefix `A=` is not valid",
        );
        refused(
            json!({"envFrom": [{"configMapRef": {"name": ""}}]}),
            false,
            "needs a name",
        );
        refused(
            json!({"envFrom": [{"secretRef": {"name": "Bad"}}]}),
            false,
            "not a valid object name",
        );
    }

    #[test]
    fn volume_mounts() {
        accepted(
            json!({"volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d", "readOnly": true, "subPath": "a/b",
            "recursiveReadOnly": "IfPossible"}, {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD_NAME)", "mountPropagation": "HostToContainer"}]}),
            false,
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/x"}]}),
            false,
            "mountPath `/x` is used twice",
        );
        refused(
            json!({"volumeMounts": [{"name": "a"}]}),
            false,
            "needs a mountPath",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": ""}]}),
            false,
            "needs a mountPath",
        );
        refused(
            json!({"volumeMounts": [{"mountPath": "/x"}]}),
            false,
            "needs the name",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "subPath": "/abs"}]}),
            false,
            "must be a relative path",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "subPath": "a/../b"}]}),
            false,
            "must not contain '..'",
        );
        accepted(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "subPath": "..a"}]}),
            false,
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "subPathExpr": "../$(X)"}]}),
            false,
            "must not contain '..'",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "subPath": "s", "subPathExpr": "e"}]}),
            false,
            "may not both be set",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "mountPropagation": "Bidirectional"}]}),
            false,
            "only for privileged",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "mountPropagation": "rshared"}]}),
            false,
            "not supported",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "recursiveReadOnly": "Enabled"}]}),
            false,
            "needs readOnly: true",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "readOnly": true, "recursiveReadOnly": "Enabled", "mountPropagation": "HostToContainer"}]}),
            false,
            "mountPropagation None",
        );
        refused(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "recursiveReadOnly": "Always"}]}),
            false,
            "not supported",
        );
        accepted(
            json!({"volumeMounts": [{"name": "a", "mountPath": "/x", "recursiveReadOnly": "Disabled"}]}),
            false,
        );
    }

    #[test]
    fn security_context() {
        accepted(
            json!({"securityContext": {"runAsUser": 1000, "runAsGroup": 2_147_483_647, "runAsNonRoot": true,
            "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false}}),
            false,
        );
        refused(
            json!({"securityContext": {"runAsUser": 2_147_483_648_u64}}),
            false,
            "out of range",
        );
        refused(
            json!({"securityContext": {"runAsGroup": -1}}),
            false,
            "out of range",
        );
        refused(
            json!({"securityContext": {"runAsUser": 1000.0}}),
            false,
            "must be an integer, not `1000.0`",
        );
        refused(
            json!({"securityContext": {"readOnlyRootFilesystem": "true"}}),
            false,
            "true or false",
        );
        refused(
            json!({"securityContext": {"allowPrivilegeEscalation": false, "privileged": true}}),
            false,
            "contradict",
        );
        refused(
            json!({"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["CAP_SYS_ADMIN"]}}}),
            false,
            "CAP_SYS_ADMIN",
        );
        refused(
            json!({"securityContext": {"procMount": "Unmasked"}}),
            false,
            "hostUsers",
        );
        refused(
            json!({"securityContext": {"procMount": "Weird"}}),
            false,
            "not supported",
        );
        accepted(
            json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-nginx"}}}),
            false,
        );
        refused(
            json!({"securityContext": {"seccompProfile": {}}}),
            false,
            "needs a type",
        );
        refused(
            json!({"securityContext": {"seccompProfile": {"type": "Localhost"}}}),
            false,
            "needs a localhostProfile",
        );
        refused(
            json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "../x"}}}),
            false,
            "'..'",
        );
        refused(
            json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault", "localhostProfile": "x"}}}),
            false,
            "only be set",
        );
        refused(
            json!({"securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": " x"}}}),
            false,
            "whitespace",
        );
        refused(
            json!({"securityContext": {"appArmorProfile": {"type": "Strict"}}}),
            false,
            "not supported",
        );
    }

    #[test]
    fn probes() {
        accepted(
            json!({
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8000, "scheme": "HTTPS", "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                    "periodSeconds": 10, "timeoutSeconds": 0, "successThreshold": 1, "failureThreshold": 3, "initialDelaySeconds": 0,
                    "terminationGracePeriodSeconds": 5},
                "readinessProbe": {"tcpSocket": {"port": "http"}, "successThreshold": 3},
                "startupProbe": {"exec": {"command": ["/bin/ok"]}, "successThreshold": 0},
            }),
            false,
        );
        accepted(
            json!({"livenessProbe": {"grpc": {"port": 9090, "service": "health"}}}),
            false,
        );
        accepted(
            json!({"livenessProbe": {"httpGet": {"port": "http", "path": ""}}}),
            false,
        );
        refused(
            json!({"livenessProbe": {"successThreshold": 2, "exec": {"command": ["x"]}}}),
            false,
            "successThreshold must be 1 for a liveness probe",
        );
        refused(
            json!({"startupProbe": {"successThreshold": 3, "exec": {"command": ["x"]}}}),
            false,
            "startup probe",
        );
        refused(
            json!({"livenessProbe": {"exec": {"command": ["x"]}, "httpGet": {"port": 80}}}),
            false,
            "exec and httpGet are both set",
        );
        refused(
            json!({"livenessProbe": {"periodSeconds": 10}}),
            false,
            "no action",
        );
        refused(
            json!({"livenessProbe": {"sleep": {"seconds": 1}}}),
            false,
            "no action",
        );
        refused(
            json!({"livenessProbe": {"exec": {"command": []}}}),
            false,
            "exec needs a command",
        );
        refused(
            json!({"livenessProbe": {"exec": {}}}),
            false,
            "exec needs a command",
        );
        refused(
            json!({"livenessProbe": {"exec": {"command": ["x"]}, "periodSeconds": -1}}),
            false,
            "must not be negative",
        );
        refused(
            json!({"livenessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 10.5}}),
            false,
            "must be an integer, not `10.5`",
        );
        refused(
            json!({"livenessProbe": {"exec": {"command": ["x"]}, "failureThreshold": 3_000_000_000_u64}}),
            false,
            "32-bit",
        );
        refused(
            json!({"readinessProbe": {"exec": {"command": ["x"]}, "terminationGracePeriodSeconds": 5}}),
            false,
            "readiness probe",
        );
        refused(
            json!({"livenessProbe": {"exec": {"command": ["x"]}, "terminationGracePeriodSeconds": 0}}),
            false,
            "greater than 0",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {"port": 0}}}),
            false,
            "out of range",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {"port": 70000}}}),
            false,
            "out of range",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {"port": 8000.0}}}),
            false,
            "must be an integer, not `8000.0`",
        );
        let p = refused(
            json!({"livenessProbe": {"httpGet": {"port": "8000"}}}),
            false,
            "port name `8000` is not valid",
        );
        assert!(p.hint.contains("remove the quotes"));
        refused(
            json!({"livenessProbe": {"httpGet": {"port": "a--b"}}}),
            false,
            "port name `a--b`",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {}}}),
            false,
            "port is required",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {"port": 80, "scheme": "http"}}}),
            false,
            "scheme `http`",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {"port": 80, "httpHeaders": [{"name": "X Bad", "value": "1"}]}}}),
            false,
            "HTTP header name `X Bad`",
        );
        refused(
            json!({"livenessProbe": {"httpGet": {"port": 80, "httpHeaders": [{"name": "", "value": "1"}]}}}),
            false,
            "HTTP header name ``",
        );
        refused(
            json!({"livenessProbe": {"tcpSocket": {"port": "-x"}}}),
            false,
            "not valid",
        );
        refused(
            json!({"livenessProbe": {"grpc": {"port": 0}}}),
            false,
            "out of range",
        );
        refused(
            json!({"livenessProbe": {"grpc": {}}}),
            false,
            "grpc needs a port",
        );
    }

    #[test]
    fn lifecycle() {
        accepted(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": 5}}, "postStart": {"exec": {"command": ["/hook"]}}}}),
            false,
        );
        accepted(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": 0}}}}),
            false,
        );
        accepted(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": 30}}}}),
            false,
        );
        accepted(
            json!({"lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/drain"}}}}),
            false,
        );
        refused(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": 31}}}}),
            false,
            "out of range",
        );
        refused(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": -1}}}}),
            false,
            "out of range",
        );
        refused(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": 5.0}}}}),
            false,
            "must be an integer",
        );
        refused(
            json!({"lifecycle": {"preStop": {"grpc": {"port": 80}}}}),
            false,
            "no action",
        );
        refused(
            json!({"lifecycle": {"preStop": {"exec": {"command": ["x"]}, "sleep": {"seconds": 1}}}}),
            false,
            "both set",
        );
        refused(
            json!({"lifecycle": {"stopSignal": "SIGUSR1"}}),
            false,
            "stopSignal",
        );
        // Regression: the API server takes it, and the kubelet runs no such hook.
        refused(
            json!({"lifecycle": {"postStart": {"tcpSocket": {"port": 8000}}}}),
            false,
            "a lifecycle hook cannot be a tcpSocket",
        );
    }

    #[test]
    fn init_containers_and_restart_policy() {
        accepted(json!({"command": ["/migrate"]}), true);
        refused(
            json!({"livenessProbe": {"exec": {"command": ["x"]}}}),
            true,
            "may not be set on an init container",
        );
        refused(
            json!({"lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}),
            true,
            "init container",
        );
        accepted(
            json!({"restartPolicy": "Always", "readinessProbe": {"exec": {"command": ["x"]}}, "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}),
            true,
        );
        // A sidecar's probes are checked like a container's.
        refused(
            json!({"restartPolicy": "Always", "livenessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}}),
            true,
            "must be 1",
        );
        refused(
            json!({"restartPolicy": "Never"}),
            true,
            "restartPolicy `Never` is not supported",
        );
        refused(
            json!({"restartPolicy": "Always"}),
            false,
            "only an init container takes it",
        );
        refused(
            json!({"restartPolicy": "Always", "restartPolicyRules": [{"action": "Restart"}]}),
            true,
            "restartPolicyRules",
        );
    }

    #[test]
    fn volumes_basic() {
        vol_accepted(json!({"name": "cache", "emptyDir": {}}));
        vol_accepted(json!({"name": "cache"}));
        vol_accepted(json!({"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}));
        vol_accepted(json!({"name": "shm", "emptyDir": {"sizeLimit": 1000}}));
        vol_accepted(json!({"name": "shm", "emptyDir": {"sizeLimit": "0"}}));
        vol_refused(
            json!({"name": "shm", "emptyDir": {"sizeLimit": "-1Gi"}}),
            "must not be negative",
        );
        vol_refused(
            json!({"name": "shm", "emptyDir": {"sizeLimit": "1GB"}}),
            "not a valid quantity",
        );
        vol_refused(
            json!({"name": "shm", "emptyDir": {"sizeLimit": true}}),
            "not a valid quantity",
        );
        vol_refused(
            json!({"name": "Bad", "emptyDir": {}}),
            "volume name `Bad` is not valid",
        );
        vol_refused(json!({"emptyDir": {}}), "needs a name");
        vol_refused(
            json!({"name": "x", "emptyDir": {}, "secret": {"secretName": "s"}}),
            "exactly one type",
        );
        // hostPath is the ownership check's: not read here.
        vol_accepted(json!({"name": "x", "hostPath": {"path": "/etc"}}));
        vol_refused(json!({"name": "x", "emptyDir": []}), "must be a mapping");
    }

    #[test]
    fn secret_and_config_map_volumes() {
        vol_accepted(
            json!({"name": "s", "secret": {"secretName": "shop-secrets", "defaultMode": 420, "optional": true,
            "items": [{"key": "tls.crt", "path": "certs/tls.crt", "mode": 256}, {"key": "x", "path": "x", "mode": 0}]}}),
        );
        vol_accepted(json!({"name": "c", "configMap": {"name": "cfg", "defaultMode": 511}}));
        vol_refused(json!({"name": "s", "secret": {}}), "needs secretName");
        vol_refused(
            json!({"name": "c", "configMap": {"name": ""}}),
            "needs name",
        );
        let p = vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "defaultMode": 644}}),
            "defaultMode 644 is out of range",
        );
        assert!(p.hint.contains("420"), "{}", p.hint);
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "defaultMode": -1}}),
            "out of range",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "defaultMode": 420.0}}),
            "must be an integer, not `420.0`",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "x", "mode": 512}]}}),
            "mode 512",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"path": "x"}]}}),
            "needs a key",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"key": "k"}]}}),
            "needs a path",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "/etc/x"}]}}),
            "relative",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "a/../../x"}]}}),
            "'..'",
        );
        vol_refused(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "..data"}]}}),
            "must not start with '..'",
        );
        vol_accepted(
            json!({"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "a..b"}]}}),
        );
    }

    #[test]
    fn downward_api_volumes() {
        vol_accepted(
            json!({"name": "info", "downwardAPI": {"defaultMode": 292, "items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 256},
                {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}},
            ]}}),
        );
        for bad in [
            "status.podIP",
            "spec.nodeName",
            "metadata.generation",
            "status.hostIP",
        ] {
            vol_refused(
                json!({"name": "i", "downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": bad}}]}}),
                "not supported for a volume file",
            );
        }
        vol_refused(
            json!({"name": "i", "downwardAPI": {"items": [{"path": "x", "resourceFieldRef": {"resource": "limits.cpu"}}]}}),
            "needs a containerName",
        );
        vol_refused(
            json!({"name": "i", "downwardAPI": {"items": [{"path": "x"}]}}),
            "fieldRef or a resourceFieldRef",
        );
        vol_refused(
            json!({"name": "i", "downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "metadata.name"},
            "resourceFieldRef": {"containerName": "a", "resource": "limits.cpu"}}]}}),
            "may not both be set",
        );
        vol_refused(
            json!({"name": "i", "downwardAPI": {"items": [{"path": "../x", "fieldRef": {"fieldPath": "metadata.name"}}]}}),
            "'..'",
        );
        vol_refused(
            json!({"name": "i", "downwardAPI": {"defaultMode": 1000, "items": []}}),
            "out of range",
        );
    }

    /// Regression: two items of a configMap, secret or downwardAPI volume written to one
    /// path, of which the API server warns (`overlapping paths`), were taken.
    #[test]
    fn items_write_each_path_once() {
        for kind in ["configMap", "secret"] {
            let name = if kind == "secret" {
                "secretName"
            } else {
                "name"
            };
            vol_refused(
                json!({"name": "v", kind: {name: "c", "items": [{"key": "a", "path": "a"}, {"key": "b", "path": "a"}]}}),
                "path `a` is written twice in this volume",
            );
            vol_accepted(
                json!({"name": "v", kind: {name: "c", "items": [{"key": "a", "path": "a"}, {"key": "a", "path": "b"}]}}),
            );
        }
        vol_refused(
            json!({"name": "v", "downwardAPI": {"items": [
            {"path": "x", "fieldRef": {"fieldPath": "metadata.name"}}, {"path": "x", "fieldRef": {"fieldPath": "metadata.uid"}}]}}),
            "written twice",
        );
        vol_refused(
            json!({"name": "v", "configMap": {"name": "c", "items": [{"key": "a", "path": "a"}, {"key": "b", "path": "a/b"}]}}),
            "path `a/b` overlaps `a` in this volume",
        );
        vol_refused(
            json!({"name": "v", "configMap": {"name": "c", "items": [{"key": "a", "path": "a/b"}, {"key": "b", "path": "a"}]}}),
            "path `a` overlaps `a/b`",
        );
        vol_accepted(
            json!({"name": "v", "configMap": {"name": "c", "items": [{"key": "a", "path": "a/b"}, {"key": "b", "path": "a/c"}, {"key": "c", "path": "ab"}]}}),
        );
    }

    #[test]
    fn projected_volumes() {
        vol_accepted(
            json!({"name": "p", "projected": {"defaultMode": 420, "sources": [
                {"secret": {"name": "s", "items": [{"key": "a", "path": "a"}]}},
                {"configMap": {"name": "c", "items": [{"key": "b", "path": "b"}]}},
                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            ]}}),
        );
        vol_refused(
            json!({"name": "p", "projected": {"sources": [{"secret": {"name": "s", "items": [{"key": "a", "path": "x"}]}},
            {"configMap": {"name": "c", "items": [{"key": "b", "path": "x"}]}}]}}),
            "written twice",
        );
        // Regression: a file where another source needs a directory passed, and the
        // kubelet could not write the volume: the pod never started.
        vol_refused(
            json!({"name": "p", "projected": {"sources": [{"configMap": {"name": "c", "items": [{"key": "a", "path": "a"}]}},
            {"secret": {"name": "s", "items": [{"key": "b", "path": "a/b"}]}}]}}),
            "path `a/b` overlaps `a` in this volume",
        );
        vol_refused(
            json!({"name": "p", "projected": {"sources": [{"downwardAPI": {"items": [
            {"path": "x", "fieldRef": {"fieldPath": "metadata.name"}}, {"path": "x", "fieldRef": {"fieldPath": "metadata.uid"}}]}}]}}),
            "written twice",
        );
        vol_refused(
            json!({"name": "p", "projected": {"sources": [{"secret": {"name": ""}}]}}),
            "needs a name",
        );
        let p = volume(
            &json!({"name": "p", "projected": {"sources": [{"secret": {"name": "s"}, "configMap": {"name": "c"}}]}}),
        );
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("exactly one type"));
        for refused_source in [
            "serviceAccountToken",
            "clusterTrustBundle",
            "podCertificate",
        ] {
            let p = vol_refused(
                json!({"name": "p", "projected": {"sources": [{refused_source: {"path": "t"}}]}}),
                "not allowed in a pod fragment",
            );
            assert_eq!(
                p.at,
                vec![
                    k("projected"),
                    k("sources"),
                    Seg::Index(0),
                    k(refused_source)
                ]
            );
        }
        vol_refused(
            json!({"name": "p", "projected": {"defaultMode": 4096, "sources": []}}),
            "out of range",
        );
    }

    #[test]
    fn fragments_and_pods() {
        let f = json!({
            "containers": [{"name": "web", "ports": [{"containerPort": 8000, "name": "http"}]}, {"name": "nginx", "image": "nginx:1.27",
                "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"}]}],
            "initContainers": [{"name": "wait", "image": "busybox:1"}],
            "volumes": [{"name": "conf", "configMap": {"name": "nginx"}}],
        });
        assert!(fragment(&f).is_empty());
        assert!(pod(&f).is_empty());
        let f = json!({
            "containers": [{"name": "web"}, {"name": "web"}],
            "initContainers": [{"name": "web", "image": "x"}],
            "volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}],
        });
        let p = fragment(&f);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert_eq!(p[0].at, vec![k("containers"), Seg::Index(1), k("name")]);
        assert_eq!(p[1].at, vec![k("initContainers"), Seg::Index(0), k("name")]);
        assert_eq!(p[2].at, vec![k("volumes"), Seg::Index(1), k("name")]);
        let f = json!({"containers": [{"name": "web", "volumeMounts": [{"name": "static", "mountPath": "/s"}]}]});
        assert!(
            fragment(&f).is_empty(),
            "a fragment may mount a generated volume"
        );
        let p = pod(&f);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].message
                .contains("volume `static` is not a volume of this pod")
        );
        let p =
            fragment(&json!({"containers": [{"name": "w", "ports": [{"containerPort": 1.5}]}]}));
        assert_eq!(
            p[0].at,
            vec![
                k("containers"),
                Seg::Index(0),
                k("ports"),
                Seg::Index(0),
                k("containerPort")
            ]
        );
    }

    #[test]
    fn ownership_fields_and_nulls_are_left_alone() {
        accepted(
            json!({"securityContext": {"privileged": true, "capabilities": {"add": ["NET_ADMIN"]}},
                "resources": {"limits": {"cpu": 1.5}}, "ports": [{"containerPort": 80, "hostPort": 80, "hostIP": "0.0.0.0"}],
                "volumeMounts": [{"name": "a", "mountPath": "/a", "mountPropagation": "Bidirectional"}]}),
            false,
        );
        accepted(
            json!({"image": null, "ports": null, "env": [{"name": "A", "value": null, "valueFrom": null}]}),
            false,
        );
        vol_accepted(
            json!({"name": "v", "configMap": {"name": "c", "defaultMode": null, "items": null}}),
        );
    }

    #[test]
    fn any_json_anywhere_does_not_panic() {
        fn walk(v: &Value, at: &mut Vec<Seg>, paths: &mut Vec<Vec<Seg>>) {
            paths.push(at.clone());
            match v {
                Value::Object(o) => {
                    for (k, x) in o {
                        at.push(Seg::Key(k.clone()));
                        walk(x, at, paths);
                        at.pop();
                    }
                }
                Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        at.push(Seg::Index(i));
                        walk(x, at, paths);
                        at.pop();
                    }
                }
                _ => {}
            }
        }
        fn replace(v: &mut Value, at: &[Seg], with: &Value) {
            match at.split_first() {
                None => *v = with.clone(),
                Some((Seg::Key(k), rest)) => replace(&mut v[k.as_str()], rest, with),
                Some((Seg::Index(i), rest)) => replace(&mut v[*i], rest, with),
            }
        }
        let odd = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(1e300),
            json!(u64::MAX),
            json!(""),
            json!("x"),
            json!("a".repeat(300)),
            json!([]),
            json!([1, "a", null]),
            json!({}),
            json!({"a": 1}),
        ];
        let c = json!({"name": "a", "image": "i", "command": ["c"], "args": ["a"], "workingDir": "/", "restartPolicy": "Always",
            "ports": [{"name": "p", "containerPort": 1, "protocol": "TCP"}],
            "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}, "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"},
                "secretKeyRef": {"name": "s", "key": "k"}}}],
            "envFrom": [{"prefix": "P", "secretRef": {"name": "s"}}],
            "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "s", "readOnly": true, "recursiveReadOnly": "Enabled"}],
            "livenessProbe": {"httpGet": {"port": 1, "httpHeaders": [{"name": "h", "value": "v"}]}, "periodSeconds": 1},
            "readinessProbe": {"grpc": {"port": 1}}, "startupProbe": {"exec": {"command": ["x"]}},
            "lifecycle": {"preStop": {"sleep": {"seconds": 1}}, "postStart": {"tcpSocket": {"port": "p"}}},
            "securityContext": {"runAsUser": 1, "seccompProfile": {"type": "Localhost", "localhostProfile": "p"}, "capabilities": {"add": []}}});
        let v = json!({"name": "v", "projected": {"defaultMode": 1, "sources": [{"secret": {"name": "s", "items": [{"key": "k", "path": "p", "mode": 1}]}},
            {"downwardAPI": {"items": [{"path": "q", "resourceFieldRef": {"containerName": "a", "resource": "limits.cpu", "divisor": "1"}}]}}]}});
        for base in [&c, &v] {
            let mut paths = Vec::new();
            walk(base, &mut Vec::new(), &mut paths);
            for path in paths {
                for o in &odd {
                    let mut x = base.clone();
                    replace(&mut x, &path, o);
                    let _ = container(&x, true);
                    let _ = container(&x, false);
                    let _ = volume(&x);
                    let _ = fragment(&json!({"containers": [x.clone()], "volumes": [x.clone()]}));
                    let _ = pod(&json!({"initContainers": [x.clone()], "volumes": [x]}));
                }
            }
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(q("a\u{1b}b\n"), "`a\\u{1b}b\\n`");
        assert_eq!(q("x\u{202e}y"), "`x\\u{202e}y`");
        assert_eq!(q("a`b"), "`a\\`b`");
        let long = "a".repeat(100);
        assert_eq!(q(&long), format!("`{}…`", "a".repeat(64)));
    }

    #[test]
    fn quantities() {
        for (s, neg) in [
            ("1", false),
            ("-1Gi", true),
            ("-0", false),
            ("0.5", false),
            (".5", false),
            ("1.", false),
            ("1.G", false),
            ("1e3", false),
            ("1E3", false),
            ("1E", false),
            ("+1k", false),
            (" 2Mi ", false),
            ("Ki", false),
            ("-", false),
        ] {
            let qty = Quantity::parse(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(qty.is_negative(), neg, "{s}");
        }
        for bad in ["", "1GB", "1K", "1e", "1.5.5", "abc", "1 Gi", "1i", "--1"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
        let one = |s: &str| {
            let qty = Quantity::parse(s).unwrap();
            qty.kept.clone().or_else(|| qty.canonical_one())
        };
        assert_eq!(one("1000m").as_deref(), Some("1"));
        assert_eq!(one("1024Mi").as_deref(), Some("1Gi"));
        assert_eq!(one("0.5Ki"), None);
        assert_eq!(one("0.9765625Ki").as_deref(), Some("1k"));
        assert_eq!(one("1e3").as_deref(), Some("1e3"));
        assert_eq!(one("1000e-3").as_deref(), Some("1"));
        assert_eq!(one("0.000000001").as_deref(), Some("1n"));
        assert_eq!(one("1e-12").as_deref(), Some("1e-9"), "rounds up to a nano");
        assert_eq!(one("0.0000000001").as_deref(), Some("1n"));
        assert_eq!(one("1048576Ki").as_deref(), Some("1Gi"));
        assert_eq!(one("1Ei").as_deref(), Some("1Ei"));
        assert_eq!(one("1e99").as_deref(), Some("1e99"));
        assert_eq!(one("1000000000000000000000000000000000000"), None);
    }

    #[test]
    fn problems_have_hints_and_lowercase_messages() {
        let c = json!({"name": "x", "image": "i", "ports": [{"containerPort": 9000.0, "name": "a--b"}],
            "env": [{"name": "=", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodename"}}}],
            "livenessProbe": {"exec": {"command": ["a"]}, "httpGet": {"port": 1}, "successThreshold": 2}});
        let p = container(&c, false);
        assert!(p.len() >= 5, "{p:#?}");
        for x in p {
            assert!(!x.hint.is_empty());
            let first = x.message.chars().next().unwrap();
            assert!(
                !first.is_uppercase() || x.message.starts_with("HTTP"),
                "{}",
                x.message
            );
        }
    }
}
