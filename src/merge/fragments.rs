//! Pod fragments: what the customer adds to a process's pods (patches to its container,
//! sidecars, init containers, volumes), split, and checked for what ownership and the
//! schema cannot see: names taken in the pod, mounts of volumes it lacks, references to
//! Secrets and ConfigMaps that are not the app's pods' own, what the API server's own
//! validation refuses, and `emptyDir`s larger than the process's share.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Ctx, check_image};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::input::model::Resources;
use crate::input::yaml::Path;
use crate::quantity::Quantity;

pub(super) type Fragments = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<Value>);

/// Stands for the process's name in a problem of the global fragment, until every
/// process it was found in is known.
const PROCESS: &str = "\u{1}";

/// Problems of the global `pod:` fragment, which is checked once for each process it
/// applies to: each is reported once, naming every process it was found in (`web` and
/// `worker`), not once per process with a hint that depends on which.
#[derive(Default)]
pub(super) struct GlobalProblems(Vec<(Diagnostic, Vec<String>)>);

impl GlobalProblems {
    /// Keeps the problems of the global fragment among `found` (those of `process`'s
    /// pods) and returns the rest.
    pub(super) fn take(&mut self, process: &str, found: Diagnostics) -> Diagnostics {
        let global = Path::root().key("pod");
        let (picked, rest) = found.partition(|d| d.path.0.starts_with(&global.0));
        let named = format!("`{process}`");
        for mut d in picked {
            d.message = d.message.replace(&named, PROCESS);
            d.hint = d.hint.map(|h| h.replace(&named, PROCESS));
            match self.0.iter_mut().find(|(seen, _)| *seen == d) {
                Some((_, processes)) => processes.push(process.to_owned()),
                None => self.0.push((d, vec![process.to_owned()])),
            }
        }
        rest
    }

    /// Reports each problem once, with the processes it was found in.
    pub(super) fn report(self, diags: &mut Diagnostics) {
        for (mut d, processes) in self.0 {
            let names: Vec<String> = processes.iter().map(|p| format!("`{p}`")).collect();
            let list = match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                None => String::new(),
            };
            d.message = d.message.replace(PROCESS, &list);
            d.hint = d.hint.map(|h| h.replace(PROCESS, &list));
            diags.push(d);
        }
    }
}

/// Splits the global and the process's pod fragments into patches of the main container,
/// sidecars, init containers and volumes, and checks what they refer to.
/// Which of dovetail's own volumes a process's pods have, for fragments to mount, and
/// where dovetail mounts what in the process's container.
#[derive(Debug, Clone)]
pub(super) struct PodVolumes {
    pub(super) files: bool,
    pub(super) static_files: bool,
    /// The process container's own mounts: each path, and whether a file is mounted
    /// there (a config file) rather than a directory (the static volume, `/tmp`).
    pub(super) mounts: Vec<(String, bool)>,
}

pub(super) fn split_fragments(
    cx: &mut Ctx<'_>,
    process: &str,
    own: Option<&Value>,
    names: &BTreeSet<&str>,
    pod_volumes: &PodVolumes,
    resources: &Resources,
) -> Fragments {
    let mut patches = Vec::new();
    let mut sidecars = Vec::new();
    let mut inits = Vec::new();
    let mut volumes = Vec::new();
    // Where each sidecar is written: the first past the platform's bound is pointed at.
    let mut sidecar_paths = Vec::new();
    let global = cx.inputs.app.app.pod.clone();
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
                check_platform_env(cx, c, &cpath);
                patches.push(c.clone());
            } else if names.contains(name) {
                // A patch for another process: in the global fragment it is meant for
                // that process; in this process's own fragment it is a mistake.
                if !is_global {
                    cx.app_err(
                        Code::FragmentContainer,
                        &cpath.key("name"),
                        format!("`{name}` is another process's container"),
                        "patch it under that process, or rename the sidecar",
                    );
                }
            } else {
                if image_missing(cx, c, &cpath) {
                    cx.app_err(
                        Code::FragmentContainer,
                        &cpath,
                        format!("sidecar `{name}` has no image"),
                        &if is_global {
                            "add image:, or name it after a process to patch that process's container".to_owned()
                        } else {
                            format!(
                                "add image:, or name it `{process}` to patch the process's container"
                            )
                        },
                    );
                }
                sidecars.push(c.clone());
                sidecar_paths.push(cpath);
            }
        }
        for (i, c) in list(fragment, "initContainers").iter().enumerate() {
            let cpath = at.key("initContainers").index(i);
            check_container_refs(cx, c, &cpath);
            api_server_checks(cx, crate::merge::podcheck::container(c, true), &cpath);
            if image_missing(cx, c, &cpath) {
                cx.app_err(
                    Code::FragmentContainer,
                    &cpath,
                    "an init container needs an image",
                    "add image:",
                );
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
                    Code::NameTaken,
                    &vpath.key("name"),
                    format!("`{name}` is a name dovetail reserves"),
                    "rename the volume",
                );
            } else if volumes
                .iter()
                .any(|o: &Value| o.get("name") == v.get("name"))
            {
                cx.app_err(
                    Code::NameTaken,
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
    check_mounts_in_files(cx, process, &sources, &volumes, pod_volumes);
    check_container_name_refs(cx, process, &sources);
    check_handler_ports(cx, process, &sources);
    check_sidecar_count(cx, process, &sidecar_paths);
    (patches, sidecars, inits, volumes)
}

/// Whether the fragment container `c` at `at` has no image: an image in error was left
/// out of the typed input, and is reported as what it is, not as missing.
fn image_missing(cx: &Ctx<'_>, c: &Value, at: &Path) -> bool {
    c.get("image").is_none() && !cx.app_dropped(&at.key("image"))
}

/// Refuses more sidecars in one process's pods than the platform's `policy.maxSidecars`:
/// each runs at the platform's sidecar size on top of what the allocation gives the
/// process, so the bound is what keeps a pod within what the operator sized (and the
/// fleet's ResourceQuota, which counts that many per pod, from refusing its pods).
fn check_sidecar_count(cx: &mut Ctx<'_>, process: &str, paths: &[Path]) {
    let max = cx.inputs.platform.max_sidecars();
    let Some(first_over) = usize::try_from(max).ok().and_then(|m| paths.get(m)) else {
        return;
    };
    let allowed = match max {
        0 => "no sidecar".to_owned(),
        1 => "1 sidecar".to_owned(),
        n => format!("{n} sidecars"),
    };
    cx.app_err(
        Code::TooManySidecars,
        first_over,
        format!(
            "the pods of `{process}` would run {} sidecars; the platform allows {allowed} per pod (policy.maxSidecars)",
            paths.len()
        ),
        "run the extra work in one sidecar or in another process, or ask the platform operator to raise policy.maxSidecars",
    );
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
        // A field the schema refused was left out: "required" would only blame that.
        if !cx.app_dropped(&path) {
            cx.app_err(Code::ApiServerRefuses, &path, p.message, &p.hint);
        }
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
                        Code::EmptyDirTooLarge,
                        &at,
                        format!(
                            "`{text}` is more than the {cap} of {what} the pods of `{process}` get ({file})"
                        ),
                        &format!("ask for at most {cap}, or leave sizeLimit out to get that much"),
                    );
                }
                (None, _) => cx.app_err(
                    Code::BadValue,
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

/// Refuses a port of `container` that another container of the pod already declares,
/// by number and protocol or by name (see `check_pod_names`). The process's own
/// container is declared in parts (its `port`, the global and the process's patches),
/// merged by number: a port seen again in it is the same port.
fn check_pod_port(
    cx: &mut Ctx<'_>,
    port: &Value,
    at: &Path,
    container: &str,
    pod_ports: &mut BTreeMap<(i64, String), String>,
    pod_port_names: &mut BTreeMap<String, String>,
) {
    if let Some(number) = port.get("containerPort").and_then(Value::as_i64) {
        let protocol = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP");
        if let Some(owner) =
            declared_by_another(pod_ports, (number, protocol.to_owned()), container)
        {
            cx.app_err(
                Code::NameTaken,
                &at.key("containerPort"),
                format!("port {number}/{protocol} is already declared by the container `{owner}` of the same pods, and the API server warns of a port declared twice in a pod"),
                "declare each port of a pod once (an init container may listen on a port it does not declare)",
            );
        }
    }
    if let Some(pname) = port.get("name").and_then(Value::as_str)
        && let Some(owner) = declared_by_another(pod_port_names, pname.to_owned(), container)
    {
        cx.app_err(
            Code::NameTaken,
            &at.key("name"),
            format!("port name `{pname}` is already a port of the container `{owner}` of the same pods"),
            "give every port of the pod its own name: a PodMonitor or Service selecting it by name would get only one",
        );
    }
}

/// The container that declared `key` first, when it is not `container`; the first
/// declaration makes `container` its owner.
fn declared_by_another<K: Ord>(
    owners: &mut BTreeMap<K, String>,
    key: K,
    container: &str,
) -> Option<String> {
    let owner = owners.entry(key).or_insert_with(|| container.to_owned());
    (owner != container).then(|| owner.clone())
}

/// The containers dovetail adds to a process's pods: their names are taken in every
/// pod, whether this one has them or not, so that a fragment that works today does not
/// break when the app starts waiting for its database.
const DOVETAIL_CONTAINERS: [&str; 3] = ["init", "wait-for-postgres", "wait-for-redis"];

/// What Kubernetes would refuse at apply time, or the runtime fail on, refused here with
/// a place to point at: two containers of one pod with the same name, ports declared
/// twice, mounts of volumes the pod lacks, and a `subPath` naming no file of its volume.
fn check_pod_names(
    cx: &mut Ctx<'_>,
    process: &str,
    sources: &[(Option<&Value>, Path, bool); 2],
    volumes: &[Value],
    pod_volumes: &PodVolumes,
) {
    let mut seen: BTreeSet<String> = BTreeSet::from([process.to_owned()]);
    let names: BTreeSet<&str> = cx
        .inputs
        .app
        .app
        .processes
        .keys()
        .map(String::as_str)
        .collect();
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
    let port = cx
        .inputs
        .app
        .app
        .processes
        .get(process)
        .and_then(|p| p.port);
    let serves = port.is_some();
    let port_number = port.map(i64::from);
    // The global fragment's patch of the process's container and the process's own are
    // merged port by port (by number): a name must stay one port's across both.
    let mut patch_ports: BTreeMap<String, i64> = BTreeMap::new();
    // Across a pod's containers and init containers, a port (number and protocol) and a
    // port name are declared once: the API server warns of a second, two containers
    // cannot listen on one port, and a PodMonitor or Service selecting a port by name
    // gets one of them. The process's port is its container's unless a sidecar serves it,
    // as the render decides: by declaring it over TCP, what the Service sends.
    let served_by_sidecar = sources.iter().any(|(fragment, _, _)| {
        fragment.is_some_and(|f| {
            list(f, "containers").iter().any(|c| {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                !names.contains(name) && port.is_some_and(|n| crate::render::declares_port(c, n))
            })
        })
    });
    let mut pod_ports: BTreeMap<(i64, String), String> = BTreeMap::new();
    if let (Some(n), false) = (port_number, served_by_sidecar) {
        pod_ports.insert((n, "TCP".to_owned()), process.to_owned());
    }
    let mut pod_port_names: BTreeMap<String, String> = BTreeMap::new();
    for (fragment, at, _) in sources {
        let Some(fragment) = fragment else { continue };
        for list_name in ["initContainers", "containers"] {
            for (i, c) in list(fragment, list_name).iter().enumerate() {
                let cpath = at.key(list_name).index(i);
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                let patch = list_name == "containers" && names.contains(name);
                if !patch && DOVETAIL_CONTAINERS.contains(&name) {
                    cx.app_err(
                        Code::NameTaken,
                        &cpath.key("name"),
                        format!("`{name}` is the name of a container dovetail adds to pods (the app's `init` step, the waits for `waitFor`), reserved in every pod"),
                        "give it another name",
                    );
                } else if !patch && !seen.insert(name.to_owned()) {
                    cx.app_err(
                        Code::NameTaken,
                        &cpath.key("name"),
                        format!(
                            "a container named `{name}` already runs in the pods of `{process}`"
                        ),
                        "give it another name",
                    );
                }
                // dovetail names the port it serves the process on `http` (in the app's
                // container, or the sidecar that declares it), and the Service targets
                // that name: a second `http` would be refused, or take the traffic.
                for (j, port_value) in list(c, "ports").iter().enumerate() {
                    let pname = port_value.get("name").and_then(Value::as_str);
                    let number = port_value.get("containerPort").and_then(Value::as_i64);
                    let ppath = cpath.key("ports").index(j);
                    // The sidecar serving the process's port may call it `http`
                    // itself: the render names it so.
                    let serving = !patch
                        && list_name == "containers"
                        && port.is_some_and(|n| crate::render::is_tcp_port(port_value, n));
                    if serves && pname == Some("http") && !serving {
                        cx.app_err(
                            Code::NameTaken,
                            &ppath.key("name"),
                            format!(
                                "`http` is the name of the port `{process}` serves, which its Service targets"
                            ),
                            "name this port otherwise; a sidecar that declares the process's port serves it under `http`",
                        );
                        continue;
                    }
                    // The serving sidecar's port is renamed `http`: a metrics name on it
                    // would send the PodMonitor to a port the pod does not have, and open
                    // the serving port to monitoring.
                    if serving
                        && let Some(pname) =
                            pname.filter(|n| crate::render::is_metrics_port_name(n))
                    {
                        cx.app_err(
                            Code::NameTaken,
                            &ppath.key("name"),
                            format!(
                                "`{pname}` names the port `{process}` serves, which dovetail names `http`"
                            ),
                            "serve metrics on a port of their own, named `metrics`",
                        );
                        continue;
                    }
                    // Another process's container is patched in its own pods only.
                    if !patch || name == process {
                        check_pod_port(
                            cx,
                            port_value,
                            &ppath,
                            if patch { process } else { name },
                            &mut pod_ports,
                            &mut pod_port_names,
                        );
                    }
                    if name != process || !patch {
                        continue;
                    }
                    // A patch of the port would take its `http` name, which the Service
                    // and the probes target, and leave them pointing at nothing.
                    if let (Some(n), Some(own)) = (number, port_number)
                        && n == own
                    {
                        cx.app_err(
                            Code::NameTaken,
                            &ppath.key("containerPort"),
                            format!(
                                "{n} is `{process}`'s own `port`, which dovetail declares as `http`"
                            ),
                            "leave it out of the fragment; `port:` declares it",
                        );
                    } else if let (Some(pname), Some(n)) = (pname, number)
                        && let Some(other) = patch_ports.insert(pname.to_owned(), n)
                        && other != n
                    {
                        cx.app_err(
                            Code::NameTaken,
                            &ppath.key("name"),
                            format!("port name `{pname}` is already port {other} of `{process}`'s container (the global and the process's fragments are merged)"),
                            "give every port of the container its own name",
                        );
                    }
                }
                // Another process's container is mounted in its own pods only.
                if patch && name != process {
                    continue;
                }
                for (j, m) in list(c, "volumeMounts").iter().enumerate() {
                    let vname = m.get("name").and_then(Value::as_str).unwrap_or_default();
                    // Files or a static volume in error were left out: their volumes
                    // are missing for that reason alone.
                    let dropped = match vname {
                        "dovetail-files" => cx.app_dropped(&Path::root().key("files")),
                        "dovetail-static" => cx.app_dropped(&Path::root().key("static")),
                        _ => false,
                    };
                    if !known_volumes.contains(vname) && !dropped {
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
                            Code::NotInPod,
                            &cpath.key("volumeMounts").index(j).key("name"),
                            format!("no volume `{vname}` in the pods of `{process}`"),
                            &hint,
                        );
                    } else {
                        let volume = volumes
                            .iter()
                            .find(|v| v.get("name").and_then(Value::as_str) == Some(vname));
                        let at = cpath.key("volumeMounts").index(j);
                        check_sub_path(cx, m, &at, vname, volume);
                    }
                }
            }
        }
    }
}

/// Refuses a mount of one file (`subPath`) of a ConfigMap or Secret volume that holds
/// no such file: `dovetail-files`, or a fragment's volume of the app's own objects or
/// with `items`. The runtime has nothing to mount there: it makes an empty directory, or
/// the container does not start. The path is compared as the kubelet joins it, cleaned
/// (`./x` and `x/` are `x`), and may go through the volume's `..data` directory.
fn check_sub_path(
    cx: &mut Ctx<'_>,
    mount: &Value,
    at: &Path,
    volume_name: &str,
    volume: Option<&Value>,
) {
    let Some(sub_path) = mount
        .get("subPath")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return;
    };
    let cleaned = file_in_volume(sub_path);
    let cleaned = cleaned.as_str();
    if cleaned.is_empty() {
        return;
    }
    // What the volume holds, and what the hint says of it.
    let (files, whose, how): (BTreeSet<String>, String, &str) = if volume_name == "dovetail-files" {
        let Rendered::Keys(keys) = rendered(cx, "files") else {
            return;
        };
        (
            keys,
            "the app's files have no key".to_owned(),
            " (a file's key is its path with `/` and every other character outside `-._a-zA-Z0-9` written `_`)",
        )
    } else {
        let Some((kind, source, name_field)) = volume.and_then(|v| {
            [
                (RefKind::ConfigMap, "configMap", "name"),
                (RefKind::Secret, "secret", "secretName"),
            ]
            .into_iter()
            .find_map(|(kind, field, name_field)| Some((kind, v.get(field)?, name_field)))
        }) else {
            return;
        };
        if source.get("optional").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let items = list(source, "items");
        let files: BTreeSet<String> = if items.is_empty() {
            let name = source
                .get(name_field)
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(Rendered::Keys(keys)) = own_suffix(cx, kind, name).map(|s| rendered(cx, s))
            else {
                return;
            };
            keys
        } else {
            items
                .iter()
                .filter_map(|i| i.get("path").and_then(Value::as_str))
                .map(crate::input::formats::cleaned_relative)
                .collect()
        };
        (files, format!("the volume `{volume_name}` has no file"), "")
    };
    // A file, or a directory the items' paths make.
    let held = files.contains(cleaned)
        || files
            .iter()
            .any(|f| crate::input::formats::beneath(f, cleaned));
    if !held {
        let known: Vec<&str> = files.iter().map(String::as_str).collect();
        cx.app_err(
            Code::ForeignReference,
            &at.key("subPath"),
            format!("{whose} `{sub_path}`; the runtime has nothing to mount here"),
            &format!("use one of: {}{how}", known.join(", ")),
        );
    }
}

/// What a `subPath` names in a ConfigMap or Secret volume: the path cleaned as the
/// kubelet joins it (`./x/` is `x`), through the volume's `..data` directory or not.
fn file_in_volume(sub_path: &str) -> String {
    let cleaned = crate::input::formats::cleaned_relative(sub_path);
    match cleaned.strip_prefix("..data/") {
        Some(file) => file.to_owned(),
        None => cleaned,
    }
}

/// A fragment container of one process's pods.
struct PodContainer<'v> {
    /// `containers` or `initContainers`.
    list: &'static str,
    at: Path,
    c: &'v Value,
    /// Whether it is the global fragment's.
    global: bool,
}

impl<'v> PodContainer<'v> {
    fn name(&self) -> &'v str {
        self.c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// The fragment containers that run in `process`'s pods, from both fragments, in order:
/// a patch of another process's container is patched in that process's pods only.
fn pod_containers<'v>(
    cx: &Ctx<'_>,
    process: &str,
    sources: &[(Option<&'v Value>, Path, bool); 2],
) -> Vec<PodContainer<'v>> {
    let processes = &cx.inputs.app.app.processes;
    let mut found = Vec::new();
    for (fragment, at, global) in sources {
        let Some(fragment) = fragment else { continue };
        for list_name in ["containers", "initContainers"] {
            for (i, c) in list(fragment, list_name).iter().enumerate() {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                if list_name == "initContainers" || name == process || !processes.contains_key(name)
                {
                    let at = at.key(list_name).index(i);
                    found.push(PodContainer {
                        list: list_name,
                        at,
                        c,
                        global: *global,
                    });
                }
            }
        }
    }
    found
}

/// A mount of one container: its path, whether a file is mounted there, and the
/// fragment's place for it (none for dovetail's own).
type Mount = (String, bool, Option<Path>);

/// Refuses a mount inside a file's mount in one container of `process`'s pods: the
/// runtime cannot make a directory inside a file, and the container does not start. A
/// file is mounted where dovetail mounts a config file, and where a fragment mounts one
/// key of a ConfigMap or Secret volume (`subPath` without `/`); the problem is pointed
/// at the fragment's mount, inside or around dovetail's.
fn check_mounts_in_files(
    cx: &mut Ctx<'_>,
    process: &str,
    sources: &[(Option<&Value>, Path, bool); 2],
    volumes: &[Value],
    pod_volumes: &PodVolumes,
) {
    let keyed: BTreeSet<&str> = volumes
        .iter()
        .filter(|v| v.get("configMap").is_some() || v.get("secret").is_some())
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .chain(["dovetail-files"])
        .collect();
    // Each container of the pod, by name, with its mounts.
    let mut containers: BTreeMap<String, Vec<Mount>> = BTreeMap::new();
    containers.insert(
        process.to_owned(),
        pod_volumes
            .mounts
            .iter()
            .map(|(path, file)| (path.clone(), *file, None))
            .collect(),
    );
    for pc in pod_containers(cx, process, sources) {
        let key = if pc.list == "containers" {
            pc.name().to_owned()
        } else {
            format!("init {}", pc.name())
        };
        let mounts = containers.entry(key).or_default();
        for (j, m) in list(pc.c, "volumeMounts").iter().enumerate() {
            let Some(path) = m.get("mountPath").and_then(Value::as_str) else {
                continue;
            };
            let volume = m.get("name").and_then(Value::as_str).unwrap_or_default();
            // A key of a ConfigMap or Secret is a file.
            let sub_path = m.get("subPath").and_then(Value::as_str).unwrap_or_default();
            let sub_path = file_in_volume(sub_path);
            let file = !sub_path.is_empty() && !sub_path.contains('/') && keyed.contains(volume);
            let mpath = pc.at.key("volumeMounts").index(j);
            mounts.push((path.to_owned(), file, Some(mpath.key("mountPath"))));
        }
    }
    for mounts in containers.values() {
        for (outer, _, outer_at) in mounts.iter().filter(|(_, file, _)| *file) {
            for (inner, _, inner_at) in mounts {
                if !crate::input::formats::beneath(inner, outer) {
                    continue;
                }
                let (at, message) = match (inner_at, outer_at) {
                    (Some(at), _) => (
                        at,
                        format!(
                            "`{inner}` is inside `{outer}`, where a file is mounted in the same container"
                        ),
                    ),
                    (None, Some(at)) => (
                        at,
                        format!("a file mounted here would hold dovetail's mount at `{inner}`"),
                    ),
                    (None, None) => continue,
                };
                cx.app_err(
                    Code::MountClash,
                    at,
                    format!("{message}; the runtime cannot make a directory inside a file, and the container does not start"),
                    "mount it elsewhere",
                );
            }
        }
    }
}

/// Refuses a `resourceFieldRef.containerName` (in a container's env, a `downwardAPI`
/// volume or a `projected` one) that names no container of `process`'s pods: the API
/// server takes the pod, and the kubelet cannot start it ("container not found"). The
/// names a reference may take are the process's container and the fragments' sidecars
/// and init containers; the containers dovetail adds (`init`, the waits) are the
/// platform's, and in some pods only.
fn check_container_name_refs(
    cx: &mut Ctx<'_>,
    process: &str,
    sources: &[(Option<&Value>, Path, bool); 2],
) {
    let pod = pod_containers(cx, process, sources);
    let mut containers: BTreeSet<&str> = BTreeSet::from([process]);
    containers.extend(pod.iter().map(PodContainer::name).filter(|n| !n.is_empty()));
    // What may hold a `resourceFieldRef`: an env var's `valueFrom`, a downward API item.
    let mut holders: Vec<(Path, &Value)> = Vec::new();
    for pc in &pod {
        let env_at = pc.at.key("env");
        for (j, e) in list(pc.c, "env").iter().enumerate() {
            if let Some(from) = e.get("valueFrom") {
                holders.push((env_at.index(j).key("valueFrom"), from));
            }
        }
    }
    for (fragment, at, _) in sources {
        let Some(fragment) = fragment else { continue };
        for (i, v) in list(fragment, "volumes").iter().enumerate() {
            let vpath = at.key("volumes").index(i);
            if let Some(d) = v.get("downwardAPI") {
                downward_items(d, &vpath.key("downwardAPI"), &mut holders);
            }
            let sources = v.get("projected").map_or(&[][..], |p| list(p, "sources"));
            for (j, source) in sources.iter().enumerate() {
                if let Some(d) = source.get("downwardAPI") {
                    let spath = vpath.key("projected").key("sources").index(j);
                    downward_items(d, &spath.key("downwardAPI"), &mut holders);
                }
            }
        }
    }
    let refs = holders.into_iter().filter_map(|(at, holder)| {
        let name = holder
            .get("resourceFieldRef")?
            .get("containerName")?
            .as_str()
            .filter(|n| !n.is_empty() && !containers.contains(n))?;
        Some((
            at.key("resourceFieldRef").key("containerName"),
            name.to_owned(),
        ))
    });
    let refs: Vec<(Path, String)> = refs.collect();
    let others: Vec<String> = containers
        .iter()
        .filter(|c| **c != process)
        .map(|c| format!("`{c}`"))
        .collect();
    // The process's own name stands apart: the global fragment's problem names every
    // process it was found in there (see `GlobalProblems`).
    let hint = if others.is_empty() {
        format!("name the process's own container, `{process}`")
    } else {
        format!(
            "name the process's own container (`{process}`) or one of the fragments': {}",
            others.join(", ")
        )
    };
    for (at, name) in refs {
        cx.app_err(
            Code::NotInPod,
            &at,
            format!(
                "no container `{name}` in the pods of `{process}`; the kubelet could not start them"
            ),
            &hint,
        );
    }
}

/// A container's ports by their merge key (number and protocol), each with its name.
type ContainerPorts<'v> = BTreeMap<(Option<i64>, &'v str), Option<&'v str>>;

/// Refuses a probe or lifecycle handler of a fragment container that names a port
/// (`port: metrics`) its own container does not declare in the rendered pod: the API
/// server takes the pod, and the kubelet finds no such port, so the probe fails for ever
/// (the pod is never ready, or restarted without end). The names are the render's: the
/// process's container has its patches' ports merged by number (a later name replaces
/// an earlier), and the process's port is `http` in the container that serves it, the
/// process's own or the first sidecar declaring that port, whose own probes the
/// process's replace (unless a health command keeps them in the app's container).
fn check_handler_ports(
    cx: &mut Ctx<'_>,
    process: &str,
    sources: &[(Option<&Value>, Path, bool); 2],
) {
    let processes = &cx.inputs.app.app.processes;
    let own = processes.get(process);
    let port = own.and_then(|p| p.port);
    let health_command = own
        .and_then(|p| p.health.as_ref())
        .is_some_and(|h| h.command.is_some());
    let pod = pod_containers(cx, process, sources);
    let sidecar =
        |pc: &PodContainer<'_>| pc.list == "containers" && !processes.contains_key(pc.name());
    let serving_port = |pc: &PodContainer<'_>, p: &Value| {
        sidecar(pc) && port.is_some_and(|n| crate::render::is_tcp_port(p, n))
    };
    let server = pod
        .iter()
        .position(|pc| list(pc.c, "ports").iter().any(|p| serving_port(pc, p)));
    // Each container's ports, by number and protocol (the render's merge key for the
    // process's patches), with the name the render gives each.
    let mut declared: BTreeMap<(&str, &str), ContainerPorts<'_>> = BTreeMap::new();
    if let (Some(n), None) = (port, server) {
        declared
            .entry(("containers", process))
            .or_default()
            .insert((Some(i64::from(n)), "TCP"), Some("http"));
    }
    for (i, pc) in pod.iter().enumerate() {
        let ports = declared.entry((pc.list, pc.name())).or_default();
        for p in list(pc.c, "ports") {
            let number = crate::render::port_key(p);
            let name = if Some(i) == server && serving_port(pc, p) {
                Some("http")
            } else {
                p.get("name").and_then(Value::as_str)
            };
            ports.insert(number, name);
        }
    }
    let mut refused: Vec<(Path, String, String)> = Vec::new();
    for (i, pc) in pod.iter().enumerate() {
        let (c, name) = (pc.c, pc.name());
        // The serving sidecar's own probes give way to the process's.
        let probes: &[&str] = if Some(i) == server && !health_command {
            &[]
        } else {
            &["livenessProbe", "readinessProbe", "startupProbe"]
        };
        // A hook's tcpSocket is refused as such (podcheck): its port is not looked at.
        let handlers = probes
            .iter()
            .filter_map(|k| Some((c.get(*k)?, pc.at.key(k), &["httpGet", "tcpSocket"][..])))
            .chain(["postStart", "preStop"].into_iter().filter_map(|k| {
                let hook = c.get("lifecycle")?.get(k)?;
                Some((hook, pc.at.key("lifecycle").key(k), &["httpGet"][..]))
            }));
        let ports = declared.get(&(pc.list, name));
        let known: Vec<&str> = ports
            .into_iter()
            .flat_map(BTreeMap::values)
            .flatten()
            .copied()
            .collect();
        for (handler, hpath, actions) in handlers {
            for action in actions {
                let Some(pname) = handler
                    .get(action)
                    .and_then(|a| a.get("port"))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                if known.contains(&pname) {
                    continue;
                }
                let renamed = (Some(i) == server)
                    .then(|| {
                        list(c, "ports").iter().find(|p| {
                            serving_port(pc, p)
                                && p.get("name").and_then(Value::as_str) == Some(pname)
                        })
                    })
                    .flatten();
                // A global sidecar serves the port in some processes' pods only, where
                // its port is `http`: elsewhere the port keeps its own name.
                let global = pc.global && (pc.list == "initContainers" || sidecar(pc));
                let message = format!(
                    "the container `{name}` declares no port named `{pname}` in the pods of `{process}`, so the kubelet can never reach it"
                );
                let (message, hint) = if let (Some(_), Some(n)) = (renamed, port) {
                    (
                        format!(
                            "the port `{pname}` of `{name}` serves `{process}`, and is named `http` there, so the kubelet finds no port `{pname}`"
                        ),
                        if global {
                            format!(
                                "give the port's number ({n}), the same in every process's pods"
                            )
                        } else {
                            format!("give the port's number ({n}), or name it `http`")
                        },
                    )
                } else {
                    let known: Vec<String> = known
                        .iter()
                        .filter(|p| !(global && Some(i) == server && **p == "http"))
                        .map(|p| format!("`{p}`"))
                        .collect();
                    let hint = if !known.is_empty() {
                        format!(
                            "name one of its ports there ({}), or give the port's number",
                            known.join(", ")
                        )
                    } else if pc.list == "containers" && name == process && port.is_none() {
                        format!(
                            "`{process}` has no `port`; give the port's number, or declare it under the container's `ports:`"
                        )
                    } else {
                        "give the port's number, or declare it under the container's `ports:`"
                            .to_owned()
                    };
                    (message, hint)
                };
                refused.push((hpath.key(action).key("port"), message, hint));
            }
        }
    }
    for (at, message, hint) in refused {
        cx.app_err(Code::NotInPod, &at, message, &hint);
    }
}

/// The items of the `downwardAPI` source `d` at `at`, each with its place.
fn downward_items<'v>(d: &'v Value, at: &Path, holders: &mut Vec<(Path, &'v Value)>) {
    for (k, item) in list(d, "items").iter().enumerate() {
        holders.push((at.key("items").index(k), item));
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

/// A fragment's reference to a Secret or ConfigMap: the object that holds it
/// (`secretKeyRef`, a `configMap` volume, a projected source, …) at `at`, the field of
/// it that names the object, and where the keys it reads are.
struct Ref<'v> {
    kind: RefKind,
    holder: &'v Value,
    at: Path,
    name_field: &'static str,
    keys: KeysAt,
}

impl<'v> Ref<'v> {
    fn new(
        kind: RefKind,
        holder: &'v Value,
        at: Path,
        name_field: &'static str,
        keys: KeysAt,
    ) -> Ref<'v> {
        Ref {
            kind,
            holder,
            at,
            name_field,
            keys,
        }
    }
}

/// Where a reference names the keys it reads.
#[derive(Clone, Copy)]
enum KeysAt {
    /// In `items[].key` (a volume: without `items`, every key).
    Items,
    /// In `key` (`secretKeyRef`, `configMapKeyRef`).
    Key,
    /// Nowhere: it reads every key (`envFrom`).
    None,
}

/// What dovetail renders of one of the app's Secrets or ConfigMaps.
enum Rendered {
    /// Nothing, for the reason given: the app has no env, no files, no secrets, no
    /// postgres.
    Absent(&'static str),
    /// The object, with these keys.
    Keys(BTreeSet<String>),
    /// The object, with keys dovetail does not decide (CloudNativePG's), or unknown
    /// because the field that decides them was in error.
    Unknown,
}

/// A fragment may name only the Secrets and ConfigMaps dovetail renders for the app's
/// pods: not another app's, not the platform's (backup credentials), and not those
/// CloudNativePG keeps for itself (`<app>-db-superuser`, `-replication`, `-ca`, `-server`).
/// Unless the reference is `optional`, what it names must be rendered and hold the keys
/// it reads: the API server takes the pod, and the kubelet cannot start it.
fn check_ref(cx: &mut Ctx<'_>, r: &Ref<'_>) {
    let Some(name) = r.holder.get(r.name_field).and_then(Value::as_str) else {
        return;
    };
    let at = r.at.key(r.name_field);
    let app = &cx.inputs.identity.app;
    let suffixes = suffixes(r.kind);
    let Some(suffix) = own_suffix(cx, r.kind, name) else {
        let what = match r.kind {
            RefKind::Secret => "Secret",
            RefKind::ConfigMap => "ConfigMap",
        };
        // Without the operator repo, the stand-in's name would be a wrong answer.
        let [first, second] = if cx.inputs.stand_in {
            suffixes.map(|s| format!("<app>-{s}"))
        } else {
            suffixes.map(|s| format!("{app}-{s}"))
        };
        cx.app_err(
            Code::ForeignReference,
            &at,
            format!("`{name}` is not a {what} of this app's pods"),
            &format!("refer to `{first}` or `{second}`"),
        );
        return;
    };
    if r.holder.get("optional").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let keys = match rendered(cx, suffix) {
        Rendered::Unknown => return,
        Rendered::Absent(why) => {
            cx.app_err(
                Code::ForeignReference,
                &at,
                format!("`{name}` is not rendered: {why}; the kubelet could not start the pod"),
                "refer to what the app has, or mark the reference `optional: true`",
            );
            return;
        }
        Rendered::Keys(keys) => keys,
    };
    let read: Vec<(Path, &str)> = match r.keys {
        KeysAt::None => Vec::new(),
        KeysAt::Key => r
            .holder
            .get("key")
            .and_then(Value::as_str)
            .map(|k| (r.at.key("key"), k))
            .into_iter()
            .collect(),
        KeysAt::Items => list(r.holder, "items")
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let k = item.get("key").and_then(Value::as_str)?;
                Some((r.at.key("items").index(i).key("key"), k))
            })
            .collect(),
    };
    for (key_at, key) in read {
        if !keys.contains(key) {
            let known: Vec<&str> = keys.iter().map(String::as_str).collect();
            cx.app_err(
                Code::ForeignReference,
                &key_at,
                format!("`{name}` has no key `{key}`; the kubelet could not start the pod"),
                &format!("use one of: {}", known.join(", ")),
            );
        }
    }
}

/// The app's own objects of `kind` a fragment may name, by the suffix after `<app>-`.
fn suffixes(kind: RefKind) -> [&'static str; 2] {
    match kind {
        RefKind::Secret => ["secrets", "db-app"],
        RefKind::ConfigMap => ["env", "files"],
    }
}

/// Which of the app's own objects of `kind` `name` is, by its suffix. Without the
/// operator repo the app's name is not known: any name it could have.
fn own_suffix(cx: &Ctx<'_>, kind: RefKind, name: &str) -> Option<&'static str> {
    let app = &cx.inputs.identity.app;
    suffixes(kind).into_iter().find(|s| {
        let base = name.strip_suffix(s).and_then(|n| n.strip_suffix('-'));
        if cx.inputs.stand_in {
            base.is_some_and(crate::input::operator::is_app_name)
        } else {
            base.is_some_and(|n| n == app)
        }
    })
}

/// What dovetail renders as the app's `<app>-<suffix>` (see [`Rendered`]).
fn rendered(cx: &Ctx<'_>, suffix: &str) -> Rendered {
    let app = &cx.inputs.app.app;
    let dropped = |field: &str| cx.app_dropped(&Path::root().key(field));
    let keys = |keys: BTreeSet<String>, why: &'static str| {
        if keys.is_empty() {
            Rendered::Absent(why)
        } else {
            Rendered::Keys(keys)
        }
    };
    match suffix {
        "env" if !dropped("env") => {
            keys(app.env.keys().cloned().collect(), "the app sets no `env:`")
        }
        "files" if !dropped("files") => keys(
            app.files
                .iter()
                .map(|f| super::storage::config_key(&f.path))
                .collect(),
            "the app has no `files:`",
        ),
        "secrets" if !dropped("secrets") && !dropped("imagePullSecret") => {
            let Some(loaded) = &cx.inputs.app.secrets else {
                // No `secrets:`, or a file that could not be read (reported).
                return if app.secrets.is_none() {
                    Rendered::Absent("the app has no `secrets:`")
                } else {
                    Rendered::Unknown
                };
            };
            if cx.inputs.prior.has_errors_in(&loaded.doc.file) {
                return Rendered::Unknown;
            }
            let pull = app.image_pull_secret.as_deref();
            keys(
                loaded
                    .file
                    .data
                    .keys()
                    .filter(|k| Some(k.as_str()) != pull)
                    .cloned()
                    .collect(),
                "the secrets file holds no value but the image pull secret",
            )
        }
        "db-app" if !dropped("services") => {
            if app
                .services
                .contains(&crate::input::model::Service::Postgres)
            {
                Rendered::Unknown
            } else {
                Rendered::Absent("the app uses no database (`services: [postgres]`)")
            }
        }
        _ => Rendered::Unknown,
    }
}

/// A patch to a process's container may not set what the platform sets in it: env
/// entries replace by name, and `DATABASE_URL` or `REDIS_URL` would silently point the
/// app elsewhere.
fn check_platform_env(cx: &mut Ctx<'_>, c: &Value, at: &Path) {
    use crate::input::model::Service;
    let services = &cx.inputs.app.app.services;
    for (i, e) in list(c, "env").iter().enumerate() {
        let (name, service) = match e.get("name").and_then(Value::as_str) {
            Some(n @ "DATABASE_URL") if services.contains(&Service::Postgres) => (n, "postgres"),
            Some(n @ "REDIS_URL") if services.contains(&Service::Redis) => (n, "redis"),
            _ => continue,
        };
        cx.app_err(
            Code::PlatformVariable,
            &at.key("env").index(i).key("name"),
            format!("`{name}` is set by the platform for `services: [{service}]`"),
            "remove it; the platform's value is the one the app gets",
        );
    }
}

fn check_container_refs(cx: &mut Ctx<'_>, c: &Value, at: &Path) {
    if let Some(image) = c.get("image").and_then(Value::as_str) {
        let image = image.to_owned();
        check_image(cx, &image, &at.key("image"));
    }
    let mut refs = Vec::new();
    for (i, e) in list(c, "env").iter().enumerate() {
        for (field, kind) in [
            ("secretKeyRef", RefKind::Secret),
            ("configMapKeyRef", RefKind::ConfigMap),
        ] {
            if let Some(holder) = e.get("valueFrom").and_then(|v| v.get(field)) {
                let at = at.key("env").index(i).key("valueFrom").key(field);
                refs.push(Ref::new(kind, holder, at, "name", KeysAt::Key));
            }
        }
    }
    for (i, e) in list(c, "envFrom").iter().enumerate() {
        for (field, kind) in [
            ("secretRef", RefKind::Secret),
            ("configMapRef", RefKind::ConfigMap),
        ] {
            if let Some(holder) = e.get(field) {
                let at = at.key("envFrom").index(i).key(field);
                refs.push(Ref::new(kind, holder, at, "name", KeysAt::None));
            }
        }
    }
    for r in &refs {
        check_ref(cx, r);
    }
}

fn check_volume_refs(cx: &mut Ctx<'_>, v: &Value, at: &Path) {
    let mut refs = Vec::new();
    if let Some(holder) = v.get("configMap") {
        let at = at.key("configMap");
        refs.push(Ref::new(
            RefKind::ConfigMap,
            holder,
            at,
            "name",
            KeysAt::Items,
        ));
    }
    if let Some(holder) = v.get("secret") {
        let at = at.key("secret");
        refs.push(Ref::new(
            RefKind::Secret,
            holder,
            at,
            "secretName",
            KeysAt::Items,
        ));
    }
    if let Some(p) = v.get("projected") {
        for (i, src) in list(p, "sources").iter().enumerate() {
            for (field, kind) in [
                ("configMap", RefKind::ConfigMap),
                ("secret", RefKind::Secret),
            ] {
                if let Some(holder) = src.get(field) {
                    let at = at.key("projected").key("sources").index(i).key(field);
                    refs.push(Ref::new(kind, holder, at, "name", KeysAt::Items));
                }
            }
        }
    }
    for r in &refs {
        check_ref(cx, r);
    }
}
