//! The merge: the customer's app, the operator's allocation and the platform's policy
//! become one resolved app, or a list of every reason they cannot. It reads nothing:
//! both repos were read by [`crate::input`], and what comes out is [`Resolved`].
//!
//! Precedence, field by field: the customer decides what runs (image, commands, env,
//! files, fragments, wanted hosts); the allocation decides how much of it (replicas; CPU,
//! memory and local storage — a process's own entry, else `*`; explicit values over the
//! named plan, over the platform's default local storage; see
//! [`crate::input::model::Platform::process_resources`]), where (namespace) and under
//! which names (domains); the platform decides classes, helper images, the network and
//! what images may run at all. Nothing a customer writes can widen what the operator
//! gave.

pub mod database;
mod fragments;
mod network;
pub mod podcheck;
#[cfg(test)]
mod precedence;
pub mod resolved;
mod secrets;
mod services;
pub mod sizes;
mod stand_in;
mod storage;

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Code, Diagnostic, Diagnostics, Doc};
use crate::input::app::AppInputs;
use crate::input::model::{
    Allocation, Identity, InitMode, Platform, ProcessAllocation, Resources, Service, ServiceType,
};
use crate::input::yaml::Path;

pub use network::check_namespace;
pub use resolved::*;
pub use stand_in::check_app_alone;

/// Everything the merge reads.
pub struct Inputs<'a> {
    /// The app's identity.
    pub identity: &'a Identity,
    /// The customer's side: `dovetail.yaml`, its files, its secrets file.
    pub app: &'a AppInputs,
    /// The allocation file.
    pub allocation_doc: &'a Doc,
    /// Its typed form.
    pub allocation: &'a Allocation,
    /// `platform.yaml`.
    pub platform_doc: &'a Doc,
    /// Its typed form.
    pub platform: &'a Platform,
    /// The operator's age identities; without them secret values are only checked for
    /// form and rendered redacted.
    pub identities: Option<&'a [age::x25519::Identity]>,
    /// Whether the operator's side is a stand-in ([`check_app_alone`]): checks that
    /// need the real app name are made on what it can be, not what it is.
    pub stand_in: bool,
    /// The problems found while loading these inputs: a field in error was left out of
    /// its typed form, and the checks that need it are not made (see [`Ctx::dropped`]).
    pub prior: &'a Diagnostics,
}

struct Ctx<'a> {
    inputs: &'a Inputs<'a>,
    diags: Diagnostics,
}

impl Ctx<'_> {
    // The merge's problems are with what a field holds (a plan that does not exist, an
    // image from another registry), so they point at the value where it is a scalar;
    // a mapping's problem still points at its key.
    fn app_err(&mut self, code: Code, path: &Path, message: impl Into<String>, hint: &str) {
        let d = self.inputs.app.doc.value_error(code, path, message);
        self.push(d, hint);
    }
    fn alloc_err(&mut self, code: Code, path: &Path, message: impl Into<String>, hint: &str) {
        let d = self.inputs.allocation_doc.value_error(code, path, message);
        self.push(d, hint);
    }
    fn platform_err(&mut self, code: Code, path: &Path, message: impl Into<String>, hint: &str) {
        let d = self.inputs.platform_doc.value_error(code, path, message);
        self.push(d, hint);
    }
    /// Reports problems of `platform.yaml`.
    fn push_platform(&mut self, problems: impl IntoIterator<Item = Problem>) {
        for p in problems {
            let d = p.of(self.inputs.platform_doc);
            self.diags.push(d);
        }
    }
    /// Reports problems of the allocation.
    fn push_alloc(&mut self, problems: impl IntoIterator<Item = Problem>) {
        for p in problems {
            let d = p.of(self.inputs.allocation_doc);
            self.diags.push(d);
        }
    }
    fn push(&mut self, d: Diagnostic, hint: &str) {
        let d = if hint.is_empty() { d } else { d.hint(hint) };
        self.diags.push(d);
    }
    fn alloc_file(&self) -> &str {
        &self.inputs.allocation_doc.file
    }
    /// Whether the field at `path` of `doc` had an error when it was loaded (see
    /// [`Diagnostics::dropped`]): a check that needs it would see it missing, or see
    /// its stand-in, and blame its absence (`add port:` under a port that is only
    /// misspelt), repeating that error with the wrong fix.
    fn dropped(&self, doc: &Doc, path: &Path) -> bool {
        self.inputs.prior.dropped(&doc.file, path)
    }
    /// [`Ctx::dropped`] for the allocation, at a dotted path (`storage.database`).
    fn alloc_dropped(&self, dotted: &str) -> bool {
        self.dropped(self.inputs.allocation_doc, &Path::parse(dotted))
    }
    /// [`Ctx::dropped`] for `platform.yaml`, at a dotted path (`images.redis`).
    fn platform_dropped(&self, dotted: &str) -> bool {
        self.dropped(self.inputs.platform_doc, &Path::parse(dotted))
    }
    /// [`Ctx::dropped`] for the app's `dovetail.yaml`.
    fn app_dropped(&self, path: &Path) -> bool {
        self.dropped(&self.inputs.app.doc, path)
    }
    /// Whether the app's process `name` is missing from the typed app only because it
    /// (or a field of it) was in error: what names it must not report it missing too.
    fn process_dropped(&self, name: &str) -> bool {
        self.app_dropped(&Path::root().key("processes").key(name))
    }
}

/// One problem found in the operator repo's inputs alone: where (in `platform.yaml` or
/// the allocation, as the function that found it says), what, and what to do. The merge
/// reports it as it resolves an app; the fleet and `validate --operator` without one.
#[derive(Debug, Clone)]
pub struct Problem {
    /// What kind of problem.
    pub code: Code,
    /// The field.
    pub path: Path,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(
        code: Code,
        path: Path,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Problem {
        Problem {
            code,
            path,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// This problem as a diagnostic of `doc`, pointing at the value.
    pub fn of(self, doc: &Doc) -> Diagnostic {
        doc.value_error(self.code, &self.path, self.message)
            .hint(self.hint)
    }
}

/// What is wrong in `platform.yaml` alone, whatever app it is rendered for: its sizes
/// of zero and its egress rules. The fleet and `validate --operator` report these once;
/// the merge finds the same as it resolves an app.
pub fn platform_problems(platform: &Platform) -> Vec<Problem> {
    let mut out = sizes::platform_zeros(platform);
    out.extend(network::resolve_network(platform).1);
    if let Some(b) = platform.database.as_ref().and_then(|d| d.backup.as_ref()) {
        out.extend(database::store_egress(platform, b).1);
    }
    out
}

/// Warns of what an allocation's `processes.init` sets that cannot apply to it: the init
/// step runs once per rollout, as a Job or in web's pods, so what scales or exposes a
/// process would be silently ignored. The app's render and the fleet both check it.
pub fn check_init_allocation(alloc: &Allocation, doc: &Doc, diags: &mut Diagnostics) {
    let Some(pa) = alloc.processes.get("init") else {
        return;
    };
    let set = [
        ("replicas", pa.replicas.is_some()),
        ("autoscaling", pa.autoscaling.is_some()),
        ("serviceTypes", !pa.service_types.is_empty()),
    ];
    for (field, _) in set.into_iter().filter(|(_, set)| *set) {
        diags.push(
            doc.error(
                Code::UnusedAllocation,
                &Path::root().key("processes").key("init").key(field),
                format!("the init step runs once per rollout: `{field}` does not apply to it"),
            )
            .hint("remove it; only its plan, cpu, memory and ephemeralStorage are used")
            .warning(),
        );
    }
}

/// Merges the inputs. Every problem found is returned, not just the first; the merged app
/// comes back only when none of them is an error (warnings may come with it).
pub fn resolve(inputs: &Inputs<'_>) -> (Option<Resolved>, Diagnostics) {
    let mut cx = Ctx {
        inputs,
        diags: Diagnostics::default(),
    };
    let app = &inputs.app.app;
    let alloc = inputs.allocation;
    let platform = inputs.platform;
    let names: BTreeSet<&str> = app.processes.keys().map(String::as_str).collect();

    check_image(&mut cx, &app.image, &Path::root().key("image"));
    check_process_lists(&mut cx, &names);

    for name in alloc.processes.keys() {
        if name != "*"
            && name != "init"
            && !names.contains(name.as_str())
            && !cx.process_dropped(name)
        {
            let d = inputs
                .allocation_doc
                .error(
                    Code::UnusedAllocation,
                    &Path::root().key("processes").key(name),
                    format!("the app has no process `{name}`"),
                )
                .hint("remove it, or check the name in the app's dovetail.yaml")
                .warning();
            cx.diags.push(d);
        }
    }

    check_init_allocation(alloc, inputs.allocation_doc, &mut cx.diags);
    if !inputs.stand_in {
        check_namespace(
            inputs.platform,
            alloc,
            inputs.allocation_doc,
            &mut cx.diags,
            None,
        );
    }

    let files = storage::resolve_files(&mut cx, &names);
    let env = resolve_env(&mut cx);
    let static_files = storage::resolve_static(&mut cx, &names);
    storage::check_mount_clash(&mut cx, &files, static_files.as_ref());
    let (network, problems) = network::resolve_network(platform);
    cx.push_platform(problems);
    let database = database::resolve_database(&mut cx);
    let redis = services::resolve_redis(&mut cx);
    let ingress = services::resolve_ingress(&mut cx);
    let secrets = secrets::resolve_secrets(&mut cx);

    if !inputs.stand_in {
        // What the fleet finds too small in the quota, the app's render finds too: a
        // check of the app with its allocation must not pass what the fleet refuses.
        if !cx.alloc_dropped("quota") {
            sizes::check_allocation(platform, alloc, inputs.allocation_doc, &mut cx.diags);
        }
        check_star_quota(&mut cx);
    }
    let mut processes = Vec::new();
    let mut global_problems = fragments::GlobalProblems::default();
    for (name, process) in &app.processes {
        let ppath = Path::root().key("processes").key(name);
        let sized = if let Some(a) = alloc
            .processes
            .get(name)
            .or_else(|| alloc.processes.get("*"))
        {
            Some((a, alloc_path_for(alloc, name)))
        } else if cx.alloc_dropped(&format!("processes.{name}")) || cx.alloc_dropped("processes.*")
        {
            None
        } else {
            let file = cx.alloc_file().to_owned();
            cx.app_err(
                Code::NotAllocated,
                &ppath,
                format!("no allocation: {file} sizes no process `{name}` and has no `*` default"),
                &format!("ask the operator to add processes.{name} to {file}"),
            );
            None
        };
        let Some((pa, apath)) = sized else { continue };
        let resources = resources_for(&mut cx, pa, &apath);
        if process.service_type != ServiceType::ClusterIP {
            let kind = format!("{:?}", process.service_type);
            if process.port.is_none() {
                if !cx.app_dropped(&ppath.key("port")) {
                    cx.app_err(
                        Code::NeedsPort,
                        &ppath.key("serviceType"),
                        format!("a {kind} Service needs the process's `port`"),
                        "add port:, or drop serviceType",
                    );
                }
            } else if !pa.service_types.contains(&process.service_type) {
                let file = cx.alloc_file().to_owned();
                cx.app_err(
                    Code::NotAllowed,
                    &ppath.key("serviceType"),
                    format!("{file} does not allow a {kind} Service for `{name}`"),
                    &format!(
                        "ask the operator to add serviceTypes: [{kind}] to {apath}, or use the Ingress"
                    ),
                );
            }
        }
        let replicas = pa.replicas.unwrap_or(1);
        if process.singleton && replicas > 1 {
            cx.alloc_err(
                Code::SingletonScaled,
                &apath.key("replicas"),
                format!("`{name}` is a singleton and runs at most one pod, not {replicas}"),
                "set replicas to 1 (or 0 to pause it)",
            );
        }
        let autoscaling = pa.autoscaling.as_ref().and_then(|a| {
            if process.singleton {
                cx.alloc_err(
                    Code::SingletonScaled,
                    &apath.key("autoscaling"),
                    format!("`{name}` is a singleton and cannot autoscale"),
                    "remove it",
                );
                return None;
            }
            let min = replicas.max(1);
            if let Some(p) = sizes::autoscaling_below_replicas(pa, &apath) {
                cx.push_alloc([p]);
                return None;
            }
            Some(ResolvedAutoscaling {
                min_replicas: min,
                max_replicas: a.max_replicas,
                cpu_utilization: a.cpu_utilization.unwrap_or(80),
            })
        });
        if process.health.as_ref().is_some_and(|h| h.path.is_some())
            && process.port.is_none()
            && !cx.app_dropped(&ppath.key("port"))
        {
            cx.app_err(
                Code::NeedsPort,
                &ppath.key("health").key("path"),
                "an HTTP health check needs the process's `port`",
                "add port:, or check with `health: {command: [...]}`",
            );
        }
        let files_here: Vec<String> = files
            .iter()
            .filter(|f| f.processes.iter().any(|p| p == name))
            .map(|f| f.key.clone())
            .collect();
        let mounts_static = static_files
            .as_ref()
            .is_some_and(|s| s.processes.iter().any(|p| p == name));
        // The web pods also run an initContainer-mode init step, which mounts both.
        let runs_init = name == "web"
            && app
                .init
                .as_ref()
                .is_some_and(|i| i.mode == InitMode::InitContainer);
        let mut mounts: Vec<(String, bool)> = files
            .iter()
            .filter(|f| f.processes.iter().any(|p| p == name))
            .map(|f| (f.mount.clone(), true))
            .collect();
        if let Some(s) = static_files.as_ref().filter(|_| mounts_static) {
            mounts.push((s.mount.clone(), false));
        }
        let pod_volumes = fragments::PodVolumes {
            files: !files_here.is_empty() || (runs_init && !files.is_empty()),
            static_files: mounts_static || (runs_init && static_files.is_some()),
            mounts,
        };
        let outer = std::mem::take(&mut cx.diags);
        let (patches, sidecars, init_containers, volumes) = fragments::split_fragments(
            &mut cx,
            name,
            process.pod.as_ref(),
            &names,
            &pod_volumes,
            &resources,
        );
        let found = std::mem::replace(&mut cx.diags, outer);
        let rest = global_problems.take(name, found);
        cx.diags.extend(rest);
        processes.push(ResolvedProcess {
            name: name.clone(),
            command: process.command.clone(),
            args: process.args.clone(),
            port: process.port,
            health_path: process.health.as_ref().and_then(|h| h.path.clone()),
            health_command: process.health.as_ref().and_then(|h| h.command.clone()),
            wait_for: process.wait_for.clone(),
            service_type: process.service_type,
            singleton: process.singleton,
            replicas: if process.singleton {
                replicas.min(1)
            } else {
                replicas
            },
            autoscaling,
            resources,
            patches,
            sidecars,
            init_containers,
            volumes,
            files: files_here,
            mounts_static,
        });
    }
    global_problems.report(&mut cx.diags);

    let init = app.init.as_ref().and_then(|init| {
        if init.mode == InitMode::InitContainer
            && !names.contains("web")
            && !cx.process_dropped("web")
        {
            cx.app_err(
                Code::InitWithoutWeb,
                &Path::root().key("init").key("mode"),
                "an initContainer runs in the pods of `web`, and the app has no `web` process",
                "use mode: job",
            );
        }
        let (pa, apath) = if let Some(pa) = alloc.processes.get("init") {
            (pa, Path::root().key("processes").key("init"))
        } else {
            let fallback = if alloc.processes.contains_key("web") {
                "web"
            } else {
                "*"
            };
            (
                alloc.processes.get(fallback)?,
                Path::root().key("processes").key(fallback),
            )
        };
        Some(ResolvedInit {
            command: init.command.clone(),
            args: init.args.clone(),
            mode: init.mode,
            resources: resources_for(&mut cx, pa, &apath),
            wait_for: init.wait_for.clone(),
        })
    });
    if app.init.is_some()
        && init.is_none()
        && !["init", "web", "*"]
            .iter()
            .any(|p| cx.alloc_dropped(&format!("processes.{p}")))
    {
        let file = cx.alloc_file().to_owned();
        cx.app_err(
            Code::NotAllocated,
            &Path::root().key("init"),
            format!("no allocation: {file} sizes neither `init`, `web` nor `*`"),
            &format!("ask the operator to add processes.init to {file}"),
        );
    }

    storage::check_single_attach(&mut cx, static_files.as_ref(), &processes, init.as_ref());
    services::check_wait_for(&mut cx);
    let sidecar_resources = platform.sidecar_resources();
    cx.push_platform(sizes::platform_zeros(platform));

    if cx.diags.has_errors() {
        return (None, cx.diags);
    }
    let resolved = Resolved {
        identity: inputs.identity.clone(),
        namespace: alloc.namespace.clone(),
        image: app.image.clone(),
        processes,
        init,
        env,
        files,
        static_files,
        database,
        redis,
        ingress,
        ingress_namespace: platform.ingress_namespace().to_owned(),
        sidecar_resources,
        secrets,
        wait_image: platform.images.wait.clone(),
        monitoring: platform.monitoring.clone(),
        network,
    };
    (Some(resolved), cx.diags)
}

fn alloc_path_for(alloc: &Allocation, name: &str) -> Path {
    let key = if alloc.processes.contains_key(name) {
        name
    } else {
        "*"
    };
    Path::root().key("processes").key(key)
}

/// CPU and memory for a process: explicit values over the named plan.
fn resources_for(cx: &mut Ctx<'_>, pa: &ProcessAllocation, at: &Path) -> Resources {
    let platform_doc = cx.inputs.platform_doc;
    let plan_dropped = |p: &str| cx.dropped(platform_doc, &Path::root().key("plans").key(p));
    let alloc_dropped = |path: &Path| cx.dropped(cx.inputs.allocation_doc, path);
    let (sized, problems) = sizes::process_size(
        cx.inputs.platform,
        &platform_doc.file,
        pa,
        at,
        &plan_dropped,
        &alloc_dropped,
    );
    cx.push_alloc(problems);
    sized.unwrap_or_else(|| Resources {
        cpu: "0".into(),
        memory: "0".into(),
        ephemeral_storage: Some("0".into()),
    })
}

/// Images must carry a tag or digest and match the platform's registry patterns.
fn check_image(cx: &mut Ctx<'_>, image: &str, at: &Path) {
    // A missing `image:` is the schema's error; the stand-in it types with names none.
    if cx.app_dropped(at) {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if !last.contains(':') && !last.contains('@') {
        cx.app_err(
            Code::ImageUnpinned,
            at,
            format!("`{image}` names no tag or digest"),
            "pin it, like `:1.4.2` or `@sha256:…`",
        );
    }
    let patterns = &cx.inputs.platform.policy.registries;
    if !patterns.iter().any(|p| glob(p, image)) && !cx.platform_dropped("policy.registries") {
        let file = cx.inputs.platform_doc.file.clone();
        cx.app_err(
            Code::RegistryNotAllowed,
            at,
            format!(
                "`{image}` is not from a registry the platform allows ({file}: policy.registries)"
            ),
            &format!("use an image matching one of: {}", patterns.join(", ")),
        );
    }
}

/// `*` matches any run of characters; everything else matches itself. A dozen lines do
/// not justify a glob crate.
fn glob(pattern: &str, text: &str) -> bool {
    // The registry host is matched on its own, where `*` stays within the host: a
    // pattern `*.example.com/*` must not let `evil.com/x.example.com/y:1` through.
    match (pattern.split_once('/'), text.split_once('/')) {
        (Some((pattern_host, pattern_rest)), Some((host, rest))) => {
            !host.contains('/') && glob_any(pattern_host, host) && glob_any(pattern_rest, rest)
        }
        (None, _) => glob_any(pattern, text),
        (Some(_), None) => false,
    }
}

/// `*` matching any text.
fn glob_any(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// `processes:` lists under `files` and `static` must name processes of the app.
fn check_process_lists(cx: &mut Ctx<'_>, names: &BTreeSet<&str>) {
    let mut lists: Vec<(Path, Vec<String>)> = Vec::new();
    for (i, f) in cx.inputs.app.app.files.iter().enumerate() {
        if let Some(p) = &f.processes {
            lists.push((
                Path::root().key("files").index(i).key("processes"),
                p.clone(),
            ));
        }
    }
    if let Some(p) = cx
        .inputs
        .app
        .app
        .static_files
        .as_ref()
        .and_then(|s| s.processes.clone())
    {
        lists.push((Path::root().key("static").key("processes"), p));
    }
    for (path, list) in lists {
        for (j, name) in list.iter().enumerate() {
            if !names.contains(name.as_str()) && !cx.process_dropped(name) {
                cx.app_err(
                    Code::UnknownProcess,
                    &path.index(j),
                    format!("the app has no process `{name}`"),
                    "name one of `processes:`",
                );
            }
        }
    }
}

/// The fleet's derived quota counts the allocation's `"*"` entry as one process (the
/// fleet does not see the app): a second process sized by it would run on the rollout,
/// init and sidecar headroom of the others, and an app with several would have its pods
/// refused by the quota. Without a quota of its own for each amount, one such process.
fn check_star_quota(cx: &mut Ctx<'_>) {
    let alloc = cx.inputs.allocation;
    if !alloc.processes.contains_key("*") {
        return;
    }
    let explicit = alloc
        .quota
        .as_ref()
        .is_some_and(|q| q.cpu.is_some() && q.memory.is_some() && q.ephemeral_storage.is_some());
    let unnamed: Vec<&String> = cx
        .inputs
        .app
        .app
        .processes
        .keys()
        .filter(|name| !alloc.processes.contains_key(name.as_str()))
        .collect();
    if explicit {
        // The quota must then fit every one of them: what the fleet checks counts one.
        let count = u32::try_from(unnamed.len()).unwrap_or(u32::MAX);
        let once = sizes::quota_shortfalls(cx.inputs.platform, alloc, 1);
        for (field, given, needed) in sizes::quota_shortfalls(cx.inputs.platform, alloc, count) {
            if once.iter().any(|(f, ..)| *f == field) {
                continue;
            }
            cx.alloc_err(
                Code::QuotaTooSmall,
                &Path::root().key("quota").key(field),
                format!(
                    "`{given}` cannot fit the app's {count} processes sized by `*` with the rest of the allocation, which need {needed}"
                ),
                "raise the quota, or size each process in the allocation",
            );
        }
        return;
    }
    if let [first, rest @ ..] = unnamed.as_slice() {
        let file = cx.alloc_file().to_owned();
        for name in rest {
            cx.app_err(
                Code::NotAllocated,
                &Path::root().key("processes").key(name),
                format!(
                    "`{name}` is sized by the `*` entry of {file}, like `{first}`: the quota the fleet derives counts one such process"
                ),
                &format!(
                    "ask the operator to size processes.{name} in {file}, or to give it quota: {{cpu, memory, ephemeralStorage}}"
                ),
            );
        }
    }
}

fn resolve_env(cx: &mut Ctx<'_>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let services = &cx.inputs.app.app.services;
    for key in cx.inputs.app.app.env.keys() {
        let path = Path::root().key("env").key(key);
        let reserved = match key.as_str() {
            "DATABASE_URL" if services.contains(&Service::Postgres) => Some("postgres"),
            "REDIS_URL" if services.contains(&Service::Redis) => Some("redis"),
            _ => None,
        };
        if let Some(service) = reserved {
            // The variable's name is the problem, so this points at the key.
            let d = cx.inputs.app.doc.error(
                Code::PlatformVariable,
                &path,
                format!("set by the platform for `services: [{service}]`"),
            );
            cx.push(d, "remove it");
            continue;
        }
        // The source text, so that `0777` and `1_000` reach the app as written.
        let text = cx
            .inputs
            .app
            .doc
            .root
            .at(&path)
            .and_then(|n| n.scalar_text())
            .unwrap_or_default()
            .to_owned();
        env.insert(key.clone(), text);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_prefixes_and_everything() {
        assert!(glob("*", "anything/at:all"));
        assert!(glob(
            "registry.example.com/*",
            "registry.example.com/acme/shop:1"
        ));
        assert!(!glob(
            "registry.example.com/*",
            "evil.com/registry.example.com/x:1"
        ));
        assert!(glob(
            "docker.io/library/*:*",
            "docker.io/library/nginx:1.27"
        ));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("exact:1", "exact:1"));
    }

    /// Regression: `*` in the registry host crossed `/`, so `*.example.com/*` allowed
    /// `evil.com/x.example.com/y:1`.
    #[test]
    fn a_wildcard_host_stays_within_the_host() {
        assert!(glob("*.example.com/*", "registry.example.com/acme/shop:1"));
        assert!(!glob("*.example.com/*", "evil.com/x.example.com/y:1"));
        assert!(!glob("*.example.com/*", "example.com/x:1"));
    }
}
