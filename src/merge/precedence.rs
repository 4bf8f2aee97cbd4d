//! The merge's precedence, pinned: YAML in, resolved app out, the way kube-rs pins
//! `Kubeconfig::merge`. Each case writes the three documents it needs (read by the same
//! loaders the pipeline uses, from in-memory trees) and checks the resolved fields its
//! rule decides, or the diagnostic that refuses it.

use super::{Inputs, Resolved, ResolvedProcess, resolve};
use crate::diag::{Code, Diagnostics};
use crate::input::app;
use crate::input::model::{DEFAULT_EPHEMERAL_STORAGE, Identity};
use crate::input::operator::OperatorRepo;
use crate::input::tree::{MemTree, Tree};

/// A platform with two plans, one of which gives local storage.
const PLATFORM: &str = "\
apiVersion: dovetail/v1
kind: Platform
images: {redis: docker.io/library/redis:7.4.1, wait: docker.io/library/postgres:17.2-alpine}
ingress: {className: nginx}
storage: {block: ceph-rbd, shared: cephfs}
database: {provider: cnpg}
policy:
  registries: [\"*\"]
  sidecarResources: {cpu: 50m, memory: 64Mi}
plans:
  small: {cpu: 250m, memory: 512Mi}
  big: {cpu: \"2\", memory: 4Gi, ephemeralStorage: 8Gi}
";

/// An allocation of `acme/shop` with `processes` (indented entries) and `rest`.
fn allocation(processes: &str, rest: &str) -> String {
    format!(
        "apiVersion: dovetail/v1\nkind: Allocation\nrepo: https://git.example.com/acme/shop.git\n\
         namespace: acme-shop\ndomains: [shop.acme.example, \"*.apps.example.net\"]\n\
         processes:\n{processes}{rest}"
    )
}

/// An app whose `processes:` are `body` (indented entries, then any top-level fields).
fn app(body: &str) -> String {
    format!(
        "apiVersion: dovetail/v1\nkind: App\nimage: registry.example.com/acme/shop:1\n\
         processes:\n{body}"
    )
}

/// The app of `app_body` (see [`app`]), the allocation and the platform merged as the
/// pipeline merges them: the resolved app, or every problem found (the loaders' and the
/// merge's).
fn merge(
    app_body: &str,
    allocation_yaml: &str,
    platform_yaml: &str,
) -> (Option<Resolved>, Diagnostics) {
    let mut op = MemTree::new("operator");
    op.file("platform.yaml", platform_yaml)
        .file("tenants/acme/shop.yaml", allocation_yaml);
    let op = Tree::Memory(op);
    let repo = OperatorRepo::new(&op);
    let identity = Identity {
        tenant: "acme".to_owned(),
        app: "shop".to_owned(),
    };
    let mut diags = Diagnostics::default();
    let alloc = repo.allocation(&identity, &mut diags);
    let platform = repo.platform(&mut diags);
    let mut customer = MemTree::new("app");
    customer.file("dovetail.yaml", app(app_body));
    let loaded = app::load(
        &Tree::Memory(customer),
        &repo.owners(Some(&identity)),
        &mut diags,
    );
    let (Some(loaded), Some((allocation_doc, allocation)), Some((platform_doc, platform))) =
        (loaded, alloc, platform)
    else {
        return (None, diags);
    };
    let (resolved, more) = resolve(&Inputs {
        identity: &identity,
        app: &loaded,
        allocation_doc: &allocation_doc,
        allocation: &allocation,
        platform_doc: &platform_doc,
        platform: &platform,
        identities: None,
        stand_in: false,
        prior: &diags,
    });
    diags.extend(more);
    (resolved.filter(|_| !diags.has_errors()), diags)
}

/// [`merge`], which must succeed.
fn merged(app_body: &str, allocation_yaml: &str, platform_yaml: &str) -> Resolved {
    let (resolved, diags) = merge(app_body, allocation_yaml, platform_yaml);
    resolved.unwrap_or_else(|| panic!("the merge failed: {:#?}", diags.sorted()))
}

/// [`merge`], which must fail: each error as `(code, file, field)`.
fn refused(
    app_body: &str,
    allocation_yaml: &str,
    platform_yaml: &str,
) -> Vec<(Code, String, String)> {
    let (resolved, diags) = merge(app_body, allocation_yaml, platform_yaml);
    assert!(resolved.is_none(), "the merge succeeded");
    diags
        .sorted()
        .into_iter()
        .filter(|d| d.severity == crate::diag::Severity::Error)
        .map(|d| (d.code, d.file, d.field))
        .collect()
}

fn process<'r>(r: &'r Resolved, name: &str) -> &'r ResolvedProcess {
    r.processes
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no process {name}"))
}

/// `(cpu, memory, ephemeral storage)` of process `name`.
fn size(r: &Resolved, name: &str) -> (String, String, String) {
    let res = &process(r, name).resources;
    (
        res.cpu.clone(),
        res.memory.clone(),
        res.ephemeral_storage.clone().unwrap_or_default(),
    )
}

fn triple(cpu: &str, memory: &str, ephemeral: &str) -> (String, String, String) {
    (cpu.to_owned(), memory.to_owned(), ephemeral.to_owned())
}

const WEB: &str = "  web: {command: [/run]}\n";
const WEB_WORKER: &str = "  web: {command: [/run]}\n  worker: {command: [/async]}\n";

#[test]
fn an_allocations_explicit_sizes_win_over_its_plan_field_by_field() {
    let r = merged(
        WEB_WORKER,
        &allocation(
            "  web: {plan: big, cpu: 500m, memory: 1Gi, ephemeralStorage: 2Gi}\n  worker: {plan: big, memory: 1Gi}\n",
            "",
        ),
        PLATFORM,
    );
    assert_eq!(size(&r, "web"), triple("500m", "1Gi", "2Gi"));
    // Only what is given replaces the plan's: the rest is still the plan's.
    assert_eq!(size(&r, "worker"), triple("2", "1Gi", "8Gi"));
}

#[test]
fn local_storage_is_the_plans_then_the_platforms_then_the_built_in_default() {
    let r = merged(
        WEB_WORKER,
        &allocation("  web: {plan: big}\n  worker: {plan: small}\n", ""),
        PLATFORM,
    );
    assert_eq!(size(&r, "web"), triple("2", "4Gi", "8Gi"));
    assert_eq!(
        size(&r, "worker"),
        triple("250m", "512Mi", DEFAULT_EPHEMERAL_STORAGE)
    );

    let platform = PLATFORM.replace(
        "  sidecarResources:",
        "  ephemeralStorage: 3Gi\n  sidecarResources:",
    );
    let r = merged(
        WEB_WORKER,
        &allocation("  web: {plan: big}\n  worker: {plan: small}\n", ""),
        &platform,
    );
    assert_eq!(size(&r, "web").2, "8Gi", "the plan's over the platform's");
    assert_eq!(size(&r, "worker").2, "3Gi");
    // Sidecars and helpers: their own default, not the app containers'.
    assert_eq!(
        r.sidecar_resources.ephemeral_storage.as_deref(),
        Some("256Mi")
    );
}

#[test]
fn a_process_without_a_plan_needs_both_cpu_and_memory() {
    assert_eq!(
        refused(WEB, &allocation("  web: {cpu: 500m}\n", ""), PLATFORM),
        [(
            Code::BadSize,
            "operator/tenants/acme/shop.yaml".to_owned(),
            "processes.web".to_owned()
        )]
    );
    assert_eq!(
        refused(WEB, &allocation("  web: {plan: huge}\n", ""), PLATFORM),
        [(
            Code::UnknownPlan,
            "operator/tenants/acme/shop.yaml".to_owned(),
            "processes.web.plan".to_owned()
        )]
    );
}

#[test]
fn the_star_entry_sizes_every_process_not_named() {
    let three =
        "  web: {command: [/run]}\n  worker: {command: [/async]}\n  beat: {command: [/beat]}\n";
    let star = "  web: {replicas: 2, plan: big}\n  \"*\": {replicas: 3, plan: small}\n";
    let r = merged(
        three,
        &allocation(
            star,
            "quota: {cpu: \"20\", memory: 40Gi, ephemeralStorage: 64Gi}\n",
        ),
        PLATFORM,
    );
    assert_eq!(
        (process(&r, "web").replicas, size(&r, "web").0),
        (2, "2".to_owned())
    );
    for name in ["worker", "beat"] {
        assert_eq!(
            (process(&r, name).replicas, size(&r, name).0),
            (3, "250m".to_owned()),
            "{name}"
        );
    }
    // The derived quota counts `*` once: a second process under it needs a quota of
    // the allocation's own for every amount it derives.
    for quota in ["", "quota: {cpu: \"20\", memory: 40Gi}\n"] {
        assert_eq!(
            refused(three, &allocation(star, quota), PLATFORM),
            [(
                Code::NotAllocated,
                "app/dovetail.yaml".to_owned(),
                "processes.worker".to_owned()
            )],
            "{quota}"
        );
    }
    // An explicit quota must fit every process under `*`: the fleet, which checks it
    // against the allocation alone, counts one.
    let star_only = "  \"*\": {replicas: 1, plan: small}\n";
    let quota = "quota: {cpu: \"1.5\", memory: 3Gi, ephemeralStorage: 100Gi}\n";
    let one = "  web: {command: [/run]}\n";
    merged(one, &allocation(star_only, quota), PLATFORM);
    assert_eq!(
        refused(three, &allocation(star_only, quota), PLATFORM),
        [
            (
                Code::QuotaTooSmall,
                "operator/tenants/acme/shop.yaml".to_owned(),
                "quota.cpu".to_owned()
            ),
            (
                Code::QuotaTooSmall,
                "operator/tenants/acme/shop.yaml".to_owned(),
                "quota.memory".to_owned()
            ),
        ]
    );
    // Without `*`, a process not named is the app's error, pointing at the allocation.
    assert_eq!(
        refused(
            WEB_WORKER,
            &allocation("  web: {plan: small}\n", ""),
            PLATFORM
        ),
        [(
            Code::NotAllocated,
            "app/dovetail.yaml".to_owned(),
            "processes.worker".to_owned()
        )]
    );
}

#[test]
fn replicas_default_to_one() {
    let r = merged(WEB, &allocation("  web: {plan: small}\n", ""), PLATFORM);
    assert_eq!(process(&r, "web").replicas, 1);
}

#[test]
fn init_is_sized_by_processes_init_else_web_else_star() {
    let init = "init: {command: [/init], mode: job}\n";
    let init_size = |processes: &str, alloc: &str| {
        merged(processes, &allocation(alloc, ""), PLATFORM)
            .init
            .expect("init")
            .resources
            .cpu
    };
    assert_eq!(
        init_size(
            &format!("{WEB_WORKER}{init}"),
            "  init: {cpu: 100m, memory: 128Mi}\n  web: {plan: small}\n  \"*\": {plan: big}\n"
        ),
        "100m"
    );
    assert_eq!(
        init_size(
            &format!("{WEB_WORKER}{init}"),
            "  web: {plan: small}\n  \"*\": {plan: big}\n"
        ),
        "250m",
        "web's, before `*`"
    );
    assert_eq!(
        init_size(
            &format!("  worker: {{command: [/async]}}\n{init}"),
            "  \"*\": {plan: big}\n"
        ),
        "2"
    );
    // Neither: refused at `init`.
    assert_eq!(
        refused(
            &format!("  worker: {{command: [/async]}}\n{init}"),
            &allocation("  worker: {plan: small}\n", ""),
            PLATFORM
        ),
        [(
            Code::NotAllocated,
            "app/dovetail.yaml".to_owned(),
            "init".to_owned()
        )]
    );
}

#[test]
fn a_singleton_runs_at_most_one_pod() {
    let beat = "  beat: {command: [/beat], singleton: true}\n";
    let replicas =
        |alloc: &str| process(&merged(beat, &allocation(alloc, ""), PLATFORM), "beat").replicas;
    assert_eq!(replicas("  beat: {plan: small}\n"), 1);
    assert_eq!(
        replicas("  beat: {replicas: 0, plan: small}\n"),
        0,
        "0 pauses it"
    );
    assert_eq!(replicas("  beat: {replicas: 1, plan: small}\n"), 1);
    assert_eq!(
        refused(
            beat,
            &allocation("  beat: {replicas: 2, plan: small}\n", ""),
            PLATFORM
        ),
        [(
            Code::SingletonScaled,
            "operator/tenants/acme/shop.yaml".to_owned(),
            "processes.beat.replicas".to_owned()
        )]
    );
    assert_eq!(
        refused(
            beat,
            &allocation("  beat: {plan: small, autoscaling: {maxReplicas: 3}}\n", ""),
            PLATFORM
        ),
        [(
            Code::SingletonScaled,
            "operator/tenants/acme/shop.yaml".to_owned(),
            "processes.beat.autoscaling".to_owned()
        )]
    );
}

#[test]
fn autoscaling_runs_from_replicas_to_max_replicas() {
    let scaling = |alloc: &str| {
        let r = merged(WEB, &allocation(alloc, ""), PLATFORM);
        let a = process(&r, "web").autoscaling.clone().expect("autoscaling");
        (a.min_replicas, a.max_replicas, a.cpu_utilization)
    };
    assert_eq!(
        scaling("  web: {replicas: 2, plan: small, autoscaling: {maxReplicas: 6}}\n"),
        (2, 6, 80),
        "80% CPU unless said"
    );
    assert_eq!(
        scaling("  web: {plan: small, autoscaling: {maxReplicas: 4, cpuUtilization: 50}}\n"),
        (1, 4, 50)
    );
    assert_eq!(
        scaling("  web: {replicas: 0, plan: small, autoscaling: {maxReplicas: 4}}\n"),
        (1, 4, 80),
        "an HPA never scales to zero"
    );
    assert_eq!(
        refused(
            WEB,
            &allocation(
                "  web: {replicas: 3, plan: small, autoscaling: {maxReplicas: 2}}\n",
                ""
            ),
            PLATFORM
        ),
        [(
            Code::AutoscalingBelowReplicas,
            "operator/tenants/acme/shop.yaml".to_owned(),
            "processes.web.autoscaling.maxReplicas".to_owned()
        )]
    );
}

#[test]
fn the_static_volumes_access_mode_and_class_follow_shared() {
    let static_of = |shared: bool| {
        let r = merged(
            &format!("{WEB}static: {{mount: /app/static}}\n"),
            &allocation(
                "  web: {plan: small}\n",
                &format!("storage:\n  static: {{size: 5Gi, shared: {shared}}}\n"),
            ),
            PLATFORM,
        );
        let s = r.static_files.expect("static");
        (s.access_mode, s.storage_class, s.size)
    };
    assert_eq!(
        static_of(true),
        (
            "ReadWriteMany".to_owned(),
            Some("cephfs".to_owned()),
            "5Gi".to_owned()
        )
    );
    assert_eq!(
        static_of(false),
        (
            "ReadWriteOnce".to_owned(),
            Some("ceph-rbd".to_owned()),
            "5Gi".to_owned()
        )
    );
}

#[test]
fn database_and_redis_sizes_come_from_the_allocation_and_the_platform() {
    let services = "services: [postgres, redis]\n";
    let storage = "storage:\n  database: {size: 10Gi}\nredis: {memory: 256Mi}\n";
    let r = merged(
        &format!("{WEB}{services}"),
        &allocation("  web: {plan: small}\n", storage),
        PLATFORM,
    );
    let db = r.database.expect("database");
    assert_eq!(db.size.as_deref(), Some("10Gi"));
    assert_eq!(db.instances, 1);
    assert_eq!(
        (
            db.resources.cpu.as_str(),
            db.resources.memory.as_str(),
            db.resources.ephemeral_storage.as_deref()
        ),
        ("500m", "1Gi", Some(DEFAULT_EPHEMERAL_STORAGE)),
        "the platform's defaults"
    );
    let redis = r.redis.expect("redis");
    assert_eq!(redis.memory, "256Mi");
    assert_eq!(
        redis.maxmemory,
        256 * 1024 * 1024 / 5 * 4,
        "80% of the limit"
    );

    let platform = PLATFORM.replace(
        "database: {provider: cnpg}",
        "database: {provider: cnpg, instances: 2, resources: {cpu: \"1\", memory: 2Gi}}",
    );
    let db = merged(
        &format!("{WEB}{services}"),
        &allocation("  web: {plan: small}\n", storage),
        &platform,
    )
    .database
    .expect("database");
    assert_eq!(
        (
            db.instances,
            db.resources.cpu.as_str(),
            db.resources.memory.as_str()
        ),
        (2, "1", "2Gi")
    );

    // Without the allocation's sizes, the app's `services:` are refused.
    let refusals = refused(
        &format!("{WEB}{services}"),
        &allocation("  web: {plan: small}\n", ""),
        PLATFORM,
    );
    assert_eq!(
        refusals,
        [
            (
                Code::NotAllocated,
                "app/dovetail.yaml".to_owned(),
                "services".to_owned()
            ),
            (
                Code::NotAllocated,
                "app/dovetail.yaml".to_owned(),
                "services".to_owned()
            )
        ]
    );
}

#[test]
fn a_wildcard_domain_allows_exactly_one_label_in_front() {
    let hosts = |list: &str| {
        format!("  web: {{command: [/run], port: 8000}}\ningress: {{hosts: [{list}]}}\n")
    };
    let alloc = allocation("  web: {plan: small}\n", "");
    let r = merged(
        &hosts("shop.acme.example, a.apps.example.net"),
        &alloc,
        PLATFORM,
    );
    assert_eq!(
        r.ingress.expect("ingress").hosts,
        ["shop.acme.example", "a.apps.example.net"]
    );
    let refusals = refused(
        &hosts("a.b.apps.example.net, apps.example.net, x.shop.acme.example"),
        &alloc,
        PLATFORM,
    );
    let fields: Vec<&str> = refusals.iter().map(|(_, _, f)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["ingress.hosts[0]", "ingress.hosts[1]", "ingress.hosts[2]"]
    );
    assert!(refusals.iter().all(|(c, _, _)| *c == Code::NotAllowed));
}

/// The fleet's LimitRange caps a container at the largest one its allocation sizes
/// ([`super::sizes::Sizes`]), and its quota counts each process at that size: both must
/// size a process exactly as the merge does, by every rule (explicit over plan, the
/// plan's local storage, the platform's, the built-in default).
#[test]
fn the_merge_and_the_fleet_quota_agree_on_a_processs_size() {
    use crate::quantity::Quantity;
    let platform_yaml = PLATFORM.replace(
        "  sidecarResources:",
        "  ephemeralStorage: 3Gi\n  sidecarResources:",
    );
    let mut diags = Diagnostics::default();
    let mut op = MemTree::new("operator");
    op.file("platform.yaml", platform_yaml.as_str());
    let op = Tree::Memory(op);
    let (_, platform) = OperatorRepo::new(&op)
        .platform(&mut diags)
        .expect("platform");
    for entry in [
        "{plan: big, cpu: 500m, memory: 1Gi, ephemeralStorage: 2Gi}",
        "{plan: big, memory: 1Gi}",
        "{plan: big}",
        "{plan: small}",
        "{cpu: \"3\", memory: 5Gi}",
    ] {
        let alloc_yaml = allocation(&format!("  web: {entry}\n"), "");
        let merged_size = size(&merged(WEB, &alloc_yaml, &platform_yaml), "web");
        let alloc_tree = {
            let mut t = MemTree::new("operator");
            t.file("tenants/acme/shop.yaml", alloc_yaml.as_str());
            Tree::Memory(t)
        };
        let identity = Identity {
            tenant: "acme".to_owned(),
            app: "shop".to_owned(),
        };
        let (_, allocation) = OperatorRepo::new(&alloc_tree)
            .allocation(&identity, &mut diags)
            .expect("allocation");
        let limits = super::sizes::Sizes::of(&platform, &allocation).limits(&platform);
        let max = &limits[0]["max"];
        let q = |v: &serde_json::Value| Quantity::parse(v.as_str().unwrap_or_default());
        assert_eq!(
            (
                q(&max["cpu"]),
                q(&max["memory"]),
                q(&max["ephemeral-storage"])
            ),
            (
                Quantity::parse(&merged_size.0),
                Quantity::parse(&merged_size.1),
                Quantity::parse(&merged_size.2)
            ),
            "web: {entry}"
        );
    }
    assert!(!diags.has_errors(), "{:?}", diags.sorted());
}
