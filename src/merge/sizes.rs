//! What an allocation's pods and volumes add up to: the fleet's ResourceQuota and
//! LimitRange are derived from it, and an explicit quota is checked against it. Each
//! process is sized by the same rule the merge sizes containers by
//! ([`Platform::process_resources`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Problem;
use crate::diag::{Code, Diagnostics, Doc, Dropped};
use crate::input::model::{
    Allocation, Platform, ProcessAllocation, RedisAllocation, Resources, ServiceType,
};
use crate::input::yaml::Path;
use crate::quantity::Quantity;

/// The merge's checks of an allocation on its own, for the fleet: an explicit `quota`
/// must fit the allocation's own pods and volumes.
pub fn check_allocation(platform: &Platform, a: &Allocation, doc: &Doc, diags: &mut Diagnostics) {
    for (field, given, needed) in quota_shortfalls(platform, a, 1) {
        diags.push(
            doc.value_error(
                Code::QuotaTooSmall,
                &Path::root().key("quota").key(field),
                format!("`{given}` cannot fit the allocation's own pods and volumes, which need {needed} (most replicas, a rollout pod, sidecars, init, Redis, the database and its backup sidecars)"),
            )
            .hint("raise the quota, or leave it out to derive it"),
        );
    }
}

/// Where an allocation's explicit `quota` is below what its own processes, storage,
/// database and Redis need (as the fleet derives it, with `unnamed` processes under
/// `"*"`, which the fleet, not seeing the app, takes as one): `(field, given, needed)`.
pub fn quota_shortfalls(
    platform: &Platform,
    a: &Allocation,
    unnamed: u32,
) -> Vec<(&'static str, String, String)> {
    let Some(quota) = &a.quota else {
        return Vec::new();
    };
    let sizes = Sizes::with_unnamed(platform, a, unnamed);
    let mut out = Vec::new();
    let mut check = |field: &'static str,
                     given: &Option<String>,
                     need: Option<Quantity>,
                     text: fn(Quantity) -> String| {
        if let (Some(given), Some(need)) = (given, need)
            && Quantity::parse(given).is_some_and(|g| g < need)
        {
            out.push((field, given.clone(), text(need)));
        }
    };
    check("cpu", &quota.cpu, sizes.total.cpu, Quantity::cpu_text);
    check(
        "memory",
        &quota.memory,
        sizes.total.memory,
        Quantity::bytes_text,
    );
    check(
        "storage",
        &quota.storage,
        sizes.storage,
        Quantity::bytes_text,
    );
    check(
        "ephemeralStorage",
        &quota.ephemeral_storage,
        sizes.total.ephemeral,
        Quantity::bytes_text,
    );
    out
}

/// The CPU, memory and local storage the allocation's process entry `pa` (at `at`,
/// `processes.web`) gives, by [`Platform::process_resources`], and what is wrong with
/// them from the operator repo alone: a plan `platform_file` lacks (unless
/// `plan_dropped` says that plan was in error), neither a plan nor both cpu and memory
/// (unless `alloc_dropped` says one of them was in error: its own error says what is
/// wrong), a size of zero the entry gives (one its plan or the platform's default gives
/// is `platform.yaml`'s, see [`platform_zeros`]). No size without both cpu and memory.
pub fn process_size(
    platform: &Platform,
    platform_file: &str,
    pa: &ProcessAllocation,
    at: &Path,
    plan_dropped: &dyn Fn(&str) -> bool,
    alloc_dropped: &dyn Fn(&Path) -> bool,
) -> (Option<Resources>, Vec<Problem>) {
    let sized = platform.process_resources(pa);
    let mut problems = Vec::new();
    if let Some(p) = sized.unknown_plan.as_ref().filter(|p| !plan_dropped(p)) {
        let known: Vec<&str> = platform.plans.keys().map(String::as_str).collect();
        problems.push(Problem::new(
            Code::UnknownPlan,
            at.key("plan"),
            format!("no plan `{p}` in {platform_file}"),
            if known.is_empty() {
                format!(
                    "add it under `plans:` in {platform_file}, or give the process cpu and memory"
                )
            } else {
                format!("use one of: {}", known.join(", "))
            },
        ));
    }
    let (Some(cpu), Some(memory)) = (sized.cpu, sized.memory) else {
        let unsized_dropped = ["cpu", "memory", "plan"]
            .iter()
            .any(|k| alloc_dropped(&at.key(k)));
        if pa.plan.is_none() && !unsized_dropped {
            problems.push(Problem::new(
                Code::BadSize,
                at.clone(),
                "neither a plan nor both cpu and memory",
                "add `plan:` or `cpu:` and `memory:`",
            ));
        }
        return (None, problems);
    };
    let r = Resources {
        cpu,
        memory,
        ephemeral_storage: Some(sized.ephemeral_storage),
    };
    problems.extend(zero_problems(
        at,
        [
            ("cpu", pa.cpu.as_deref()),
            ("memory", pa.memory.as_deref()),
            ("ephemeralStorage", pa.ephemeral_storage.as_deref()),
        ],
    ));
    (Some(r), problems)
}

/// A size the allocation gives (`size`, at `at`) that is zero.
pub fn zero_size(size: &str, at: &Path) -> Option<Problem> {
    Quantity::parse(size).filter(|q| q.is_zero()).map(|_| {
        Problem::new(
            Code::BadSize,
            at.clone(),
            format!("`{size}` is zero"),
            "give more than zero",
        )
    })
}

/// Autoscaling of the allocation's process entry `pa` (at `at`) whose most pods are
/// fewer than its replicas (at least one).
pub fn autoscaling_below_replicas(pa: &ProcessAllocation, at: &Path) -> Option<Problem> {
    let a = pa.autoscaling.as_ref()?;
    let min = pa.replicas.unwrap_or(1).max(1);
    (a.max_replicas < min).then(|| {
        Problem::new(
            Code::AutoscalingBelowReplicas,
            at.key("autoscaling").key("maxReplicas"),
            format!("{} is below replicas ({min})", a.max_replicas),
            "raise maxReplicas or lower replicas",
        )
    })
}

/// What is wrong with the allocation's Redis: less memory than Redis needs to start, a
/// persistence volume of zero or smaller than the memory.
pub fn redis_problems(given: &RedisAllocation) -> Vec<Problem> {
    let mut out = Vec::new();
    let memory = Quantity::parse(&given.memory);
    if memory.map_or(0, Quantity::whole) < 16 << 20 {
        out.push(Problem::new(
            Code::BadSize,
            Path::parse("redis.memory"),
            format!("`{}` is less than Redis needs to start", given.memory),
            "give at least 16Mi",
        ));
    }
    if let Some(p) = &given.persistence {
        let size_at = Path::parse("redis.persistence.size");
        if let Some(zero) = zero_size(&p.size, &size_at) {
            out.push(zero);
        } else if let (Some(disk), Some(mem)) = (Quantity::parse(&p.size), memory)
            && disk < mem
        {
            // The append-only file holds at least every key in memory; rewriting it
            // needs room for a second copy.
            out.push(Problem::new(
                Code::BadSize,
                size_at,
                format!(
                    "`{}` is smaller than Redis' memory (`{}`), and the append-only file holds all of it",
                    p.size, given.memory
                ),
                format!(
                    "give at least the memory, better twice it ({}) for the file's rewrites",
                    mem.times(2).bytes_text()
                ),
            ));
        }
    }
    out
}

/// A [`zero_size`] problem for each of `fields` (name, value if given) under `at`.
fn zero_problems<'v>(
    at: &Path,
    fields: impl IntoIterator<Item = (&'static str, Option<&'v str>)>,
) -> impl Iterator<Item = Problem> {
    fields
        .into_iter()
        .filter_map(move |(field, value)| zero_size(value?, &at.key(field)))
}

/// The fields of `r`, for [`zero_problems`].
fn fields_of(r: &Resources) -> [(&'static str, Option<&str>); 3] {
    [
        ("cpu", Some(r.cpu.as_str())),
        ("memory", Some(r.memory.as_str())),
        ("ephemeralStorage", r.ephemeral_storage.as_deref()),
    ]
}

/// The sizes `platform.yaml` gives that are zero, each once, there: a plan's, the
/// sidecars' (`policy.sidecarResources`), the default local storage
/// (`policy.ephemeralStorage`), the database's (`database.resources`). A zero CPU or
/// storage limit is no limit at all, and one in a plan is no allocation's mistake.
pub fn platform_zeros(platform: &Platform) -> Vec<Problem> {
    let mut out = Vec::new();
    for (name, plan) in &platform.plans {
        let at = Path::root().key("plans").key(name);
        out.extend(zero_problems(&at, fields_of(plan)));
    }
    let policy = Path::root().key("policy");
    let sidecars = policy.key("sidecarResources");
    out.extend(zero_problems(
        &sidecars,
        fields_of(&platform.policy.sidecar_resources),
    ));
    let default_storage = platform.policy.ephemeral_storage.as_deref();
    out.extend(zero_problems(
        &policy,
        [("ephemeralStorage", default_storage)],
    ));
    if let Some(r) = platform
        .database
        .as_ref()
        .and_then(|d| d.resources.as_ref())
    {
        let at = Path::root().key("database").key("resources");
        out.extend(zero_problems(&at, fields_of(r)));
    }
    out
}

/// What the merge finds wrong with the allocation's sizes as it resolves an app, for
/// every entry and size the allocation gives (the render checks those the app uses):
/// `validate --operator` must refuse what that render would. [`process_size`] for each
/// process entry (`"*"` and `init` too), autoscaling below replicas, storage sizes of
/// zero, Redis too small, a shared volume without a class for it. Fields of the
/// platform in error (`dropped`) are not blamed on the allocation, nor the absence of
/// the allocation's own (`alloc_dropped`).
pub fn check_sizes(
    platform: &Platform,
    platform_file: &str,
    dropped: &Dropped,
    a: &Allocation,
    doc: &Doc,
    alloc_dropped: &Dropped,
    diags: &mut Diagnostics,
) {
    let plan_dropped = |p: &str| dropped.covers(&Path::root().key("plans").key(p));
    let entry_dropped = |p: &Path| alloc_dropped.covers(p);
    for (name, pa) in &a.processes {
        let at = Path::root().key("processes").key(name);
        let (_, problems) = process_size(
            platform,
            platform_file,
            pa,
            &at,
            &plan_dropped,
            &entry_dropped,
        );
        for p in problems
            .into_iter()
            .chain(autoscaling_below_replicas(pa, &at))
        {
            diags.push(p.of(doc));
        }
    }
    let storage = &a.storage;
    let sizes = [
        storage.static_files.as_ref().map(|s| (&s.size, "static")),
        storage.database.as_ref().map(|d| (&d.size, "database")),
    ];
    for (size, what) in sizes.into_iter().flatten() {
        let at = Path::root().key("storage").key(what).key("size");
        if let Some(p) = zero_size(size, &at) {
            diags.push(p.of(doc));
        }
    }
    // A Redis field in error left `redis` out, or its default in.
    let redis_dropped = alloc_dropped.covers(&Path::root().key("redis"));
    if !redis_dropped {
        for p in a.redis.iter().flat_map(redis_problems) {
            diags.push(p.of(doc));
        }
    }
    let shared_dropped = dropped.covers(&Path::root().key("storage").key("shared"));
    if storage.static_files.as_ref().is_some_and(|s| s.shared)
        && platform.storage.shared.is_none()
        && !shared_dropped
    {
        diags.push(
            doc.value_error(
                Code::PlatformSettingMissing,
                &Path::parse("storage.static.shared"),
                format!("a shared (ReadWriteMany) volume, and {platform_file} sets no `storage.shared` class"),
            )
            .hint(format!("add storage.shared to {platform_file}, or give a volume that is not shared")),
        );
    }
}

/// CPU and memory of one pod, or of all pods together.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    cpu: Option<Quantity>,
    memory: Option<Quantity>,
    ephemeral: Option<Quantity>,
}

impl Size {
    fn of(r: &crate::input::model::Resources) -> Size {
        Size {
            cpu: Quantity::parse(&r.cpu),
            memory: Quantity::parse(&r.memory),
            ephemeral: r.ephemeral_storage.as_deref().and_then(Quantity::parse),
        }
    }

    fn plus(self, other: Size) -> Size {
        let add = |a: Option<Quantity>, b: Option<Quantity>| match (a, b) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
        Size {
            cpu: add(self.cpu, other.cpu),
            memory: add(self.memory, other.memory),
            ephemeral: add(self.ephemeral, other.ephemeral),
        }
    }

    fn times(self, n: u32) -> Size {
        Size {
            cpu: self.cpu.map(|q| q.times(n)),
            memory: self.memory.map(|q| q.times(n)),
            ephemeral: self.ephemeral.map(|q| q.times(n)),
        }
    }

    fn max(self, other: Size) -> Size {
        Size {
            cpu: self.cpu.max(other.cpu),
            memory: self.memory.max(other.memory),
            ephemeral: self.ephemeral.max(other.ephemeral),
        }
    }
}

/// What one allocation's pods and volumes add up to.
pub struct Sizes {
    /// Every pod at once, with room for a rollout.
    total: Size,
    /// The largest single container.
    largest: Size,
    /// All volume claims.
    storage: Option<Quantity>,
    /// The largest single volume claim.
    largest_claim: Option<Quantity>,
}

impl Sizes {
    /// Sums what `dovetail render` can create for this allocation: each sized process at
    /// its most replicas plus one pod of rollout surge, each pod with room for as many
    /// sidecars of the platform's sidecar size as `policy.maxSidecars` allows (web's at
    /// least as large as a sized init step, which may run in them), one init pod of the
    /// largest process, Redis and its volume, and each database instance plus
    /// its bootstrap pod (with the Barman Cloud plugin's sidecar in each when the app is
    /// backed up). Each pod is at least one sidecar's size (its init containers of that
    /// size run before it). The `"*"` entry counts as one process; the merge refuses a
    /// second process under it unless the allocation's `quota` is explicit.
    pub fn of(platform: &Platform, a: &Allocation) -> Sizes {
        Sizes::with_unnamed(platform, a, 1)
    }

    /// [`Sizes::of`] with `unnamed` processes under `"*"` (at least one), as an app's
    /// render, which sees the app, counts them.
    fn with_unnamed(platform: &Platform, a: &Allocation, unnamed: u32) -> Sizes {
        let sidecar_resources = platform.sidecar_resources();
        let sidecar = Size::of(&sidecar_resources);
        // Every pod of a process may run `policy.maxSidecars` sidecars of the fragments'.
        let sidecars = sidecar.times(platform.max_sidecars());
        let mut total = Size::default();
        let mut largest = sidecar;
        let mut largest_pod = Size::default();
        // The same rule the merge sizes containers by.
        let size = |p| {
            let r = platform.process_resources(p);
            Size {
                cpu: r.cpu.as_deref().and_then(Quantity::parse),
                memory: r.memory.as_deref().and_then(Quantity::parse),
                ephemeral: Quantity::parse(&r.ephemeral_storage),
            }
        };
        // A sized init step may run as an init container in every pod of web (the app
        // chooses, and the fleet does not see the app): such a pod asks the quota for
        // the larger of its containers together and its init container.
        let init = a.processes.get("init").map(size);
        for (name, p) in &a.processes {
            // Init containers of the platform's sidecar size (`waitFor`'s, a fragment's)
            // run alone before the process starts: a pod asks for the larger.
            let mut pod = size(p).max(sidecar);
            if let Some(init) = init
                && matches!(name.as_str(), "web" | "*")
            {
                pod = pod.max(init);
            }
            let most = p
                .autoscaling
                .as_ref()
                .map_or(0, |s| s.max_replicas)
                .max(p.replicas.unwrap_or(1));
            let copies = if name == "*" { unnamed.max(1) } else { 1 };
            total = total.plus(
                pod.plus(sidecars)
                    .times(most.saturating_add(1))
                    .times(copies),
            );
            largest = largest.max(pod);
            largest_pod = largest_pod.max(pod);
        }
        total = total.plus(largest_pod.plus(sidecars));
        if let Some(redis) = &a.redis {
            let pod = Size::of(&crate::input::model::Resources {
                memory: redis.memory.clone(),
                ..sidecar_resources.clone()
            });
            total = total.plus(pod);
            largest = largest.max(pod);
        }
        let mut storage: Option<Quantity> = None;
        let mut largest_claim: Option<Quantity> = None;
        let mut claim = |size: &str, n: u32| {
            if let Some(q) = Quantity::parse(size) {
                storage = Some(storage.map_or(q.times(n), |s| s.plus(q.times(n))));
                largest_claim = largest_claim.max(Some(q));
            }
        };
        if let Some(s) = &a.storage.static_files {
            claim(&s.size, 1);
        }
        if let Some(p) = a.redis.as_ref().and_then(|r| r.persistence.as_ref()) {
            claim(&p.size, 1);
        }
        if let (Some(db), Some(d)) = (&platform.database, &a.storage.database)
            && db.provider == crate::input::model::DatabaseProvider::Cnpg
        {
            let instances = db.instances.unwrap_or(1);
            let r = platform.database_resources();
            let postgres = Size::of(&r);
            let mut pod = postgres;
            if super::database::backup_for(platform, a).is_some() {
                // CloudNativePG injects the plugin's sidecar, sized by the ObjectStore's
                // `instanceSidecarConfiguration`, into every instance and recovery pod.
                pod = pod.plus(sidecar);
            }
            total = total.plus(pod.times(instances + 1));
            largest = largest.max(postgres);
            claim(&d.size, instances);
        }
        Sizes {
            total,
            largest,
            storage,
            largest_claim,
        }
    }

    /// The namespace's ResourceQuota `hard` amounts: the allocation's explicit `quota`
    /// where it says, what its pods and volumes add up to elsewhere.
    pub fn quota(&self, a: &Allocation) -> BTreeMap<&'static str, String> {
        let explicit = a.quota.clone().unwrap_or_default();
        let mut hard = BTreeMap::new();
        let cpu = explicit
            .cpu
            .or_else(|| self.total.cpu.map(Quantity::cpu_text));
        let memory = explicit
            .memory
            .or_else(|| self.total.memory.map(Quantity::bytes_text));
        if let Some(cpu) = cpu {
            hard.insert("requests.cpu", cpu.clone());
            hard.insert("limits.cpu", cpu);
        }
        if let Some(memory) = memory {
            hard.insert("requests.memory", memory.clone());
            hard.insert("limits.memory", memory);
        }
        let ephemeral = explicit
            .ephemeral_storage
            .or_else(|| self.total.ephemeral.map(Quantity::bytes_text));
        if let Some(ephemeral) = ephemeral {
            hard.insert("requests.ephemeral-storage", ephemeral.clone());
            hard.insert("limits.ephemeral-storage", ephemeral);
        }
        let storage = explicit
            .storage
            .or_else(|| self.storage.map(Quantity::bytes_text))
            .unwrap_or_else(|| "0".to_owned());
        hard.insert("requests.storage", storage);
        // Only the LoadBalancer and NodePort Services the allocation allows: any other
        // would bypass the Ingress.
        let allowed = |kind: ServiceType| {
            a.processes
                .values()
                .filter(|p| p.service_types.contains(&kind))
                .count()
        };
        // A LoadBalancer Service takes a node port too (`allocateLoadBalancerNodePorts`
        // defaults to true, and many load balancers route through it), which the quota
        // counts: each allowed Service has one port.
        let lb = allowed(ServiceType::LoadBalancer);
        let np = allowed(ServiceType::NodePort);
        hard.insert("services.loadbalancers", lb.to_string());
        hard.insert("services.nodeports", (lb + np).to_string());
        hard
    }

    /// The namespace's LimitRange: sidecar-sized defaults, the largest container and
    /// claim as maxima.
    pub fn limits(&self, platform: &Platform) -> Value {
        // Containers that say nothing (CloudNativePG's helpers, say) get the sidecar size,
        // local storage included.
        let sidecar = platform.sidecar_resources();
        let amounts = json!({
            "cpu": sidecar.cpu,
            "memory": sidecar.memory,
            "ephemeral-storage": sidecar.ephemeral_storage,
        });
        let mut container = json!({
            "type": "Container",
            "default": amounts,
            "defaultRequest": amounts,
        });
        let mut max = serde_json::Map::new();
        if let Some(cpu) = self.largest.cpu {
            max.insert("cpu".to_owned(), json!(cpu.cpu_text()));
        }
        if let Some(memory) = self.largest.memory {
            max.insert("memory".to_owned(), json!(memory.bytes_text()));
        }
        if let Some(ephemeral) = self.largest.ephemeral {
            max.insert(
                "ephemeral-storage".to_owned(),
                json!(ephemeral.bytes_text()),
            );
        }
        if !max.is_empty() {
            container["max"] = Value::Object(max);
        }
        let mut limits = vec![container];
        if let Some(claim) = self.largest_claim {
            limits.push(json!({
                "type": "PersistentVolumeClaim",
                "max": {"storage": claim.bytes_text()},
            }));
        }
        json!(limits)
    }
}
