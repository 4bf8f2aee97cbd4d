//! Day two for operators, in-process: database backups through the Barman Cloud plugin,
//! a restore from them, and Redis with an append-only file. The real API server's view of
//! the same objects is in tests/cluster.rs.

mod common;

use common::scenario::Scenario;
use common::{Scratch, generate_fleet};
use dovetail::emit::report::Format;
use serde_json::Value;

const ALLOC: &str = "operator/tenants/events/indico.yaml";

/// The Indico example: backups configured on the platform, Redis on a volume.
fn indico() -> Scenario {
    Scenario::example("indico")
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn restoring(s: &mut Scenario, at: Option<&str>) {
    s.edit(
        ALLOC,
        "  database: {size: 20Gi}\n",
        "  database: {size: 20Gi, generation: 2}\n",
    );
    let point = at
        .map(|t| format!(", pointInTime: \"{t}\""))
        .unwrap_or_default();
    s.append(
        ALLOC,
        &format!("restore: {{database: {{from: backup{point}}}}}\n"),
    );
}

#[test]
fn each_app_archives_to_its_own_path_and_generation() {
    let objects = indico().objects();
    let store = find(&objects, "ObjectStore", "indico-db").expect("an ObjectStore");
    assert_eq!(
        store["spec"]["configuration"]["destinationPath"],
        "s3://events-backups/postgres/events/indico"
    );
    assert_eq!(store["spec"]["retentionPolicy"], "30d");
    assert_eq!(
        store["spec"]["configuration"]["s3Credentials"]["accessKeyId"]["name"],
        "backup-store"
    );
    let cluster = find(&objects, "Cluster", "indico-db").unwrap();
    let plugin = &cluster["spec"]["plugins"][0];
    assert_eq!(plugin["name"], "barman-cloud.cloudnative-pg.io");
    assert_eq!(plugin["isWALArchiver"], true);
    assert_eq!(plugin["parameters"]["serverName"], "generation-1");
    assert!(cluster["spec"]["bootstrap"].get("initdb").is_some());
    let scheduled = find(&objects, "ScheduledBackup", "indico-db").expect("a ScheduledBackup");
    assert_eq!(scheduled["spec"]["schedule"], "0 0 3 * * *");
    assert_eq!(scheduled["spec"]["cluster"]["name"], "indico-db");
    assert_eq!(scheduled["spec"]["method"], "plugin");

    // Another tenant's app of the same platform writes elsewhere: the prefix is the
    // allocation's identity, which no customer file can change.
    let mut other = indico();
    let text = other.read(ALLOC);
    other
        .remove(ALLOC)
        .write("operator/tenants/press/indico.yaml", text);
    other.edit(
        "operator/tenants/press/indico.yaml",
        "namespace: events-indico",
        "namespace: press-indico",
    );
    let objects = other.objects();
    let store = find(&objects, "ObjectStore", "indico-db").unwrap();
    assert_eq!(
        store["spec"]["configuration"]["destinationPath"],
        "s3://events-backups/postgres/press/indico"
    );
}

#[test]
fn the_database_reaches_only_the_store_port_of_the_store() {
    // Pulp's platform pins the store to one address and port 9000.
    let objects = Scenario::example("pulp").objects();
    let policy = find(&objects, "NetworkPolicy", "pulp-db").unwrap();
    let egress = policy["spec"]["egress"].as_array().unwrap();
    let store = egress.last().unwrap();
    assert_eq!(store["to"][0]["ipBlock"]["cidr"], "10.20.0.15/32");
    assert_eq!(
        store["ports"],
        serde_json::json!([{"protocol": "TCP", "port": 9000}])
    );
    // Indico's names no address: anywhere but the metadata service, on HTTPS only.
    let objects = indico().objects();
    let policy = find(&objects, "NetworkPolicy", "indico-db").unwrap();
    // After the peers, DNS and the API server: the store, over IPv4 and IPv6.
    let store = policy["spec"]["egress"][3].clone();
    assert_eq!(store["to"][0]["ipBlock"]["cidr"], "0.0.0.0/0");
    assert_eq!(
        policy["spec"]["egress"][4]["to"][0]["ipBlock"]["cidr"],
        "::/0"
    );
    assert!(
        store["to"][0]["ipBlock"]["except"]
            .to_string()
            .contains("169.254.0.0/16")
    );
    assert_eq!(store["ports"][0]["port"], 443);
}

#[test]
fn an_allocation_may_opt_out_of_backups() {
    let mut s = indico();
    s.edit(
        ALLOC,
        "  database: {size: 20Gi}\n",
        "  database: {size: 20Gi, backup: false}\n",
    );
    let objects = s.objects();
    assert!(find(&objects, "ObjectStore", "indico-db").is_none());
    assert!(find(&objects, "ScheduledBackup", "indico-db").is_none());
    let cluster = find(&objects, "Cluster", "indico-db").unwrap();
    assert!(cluster["spec"].get("plugins").is_none());
    let policy = find(&objects, "NetworkPolicy", "indico-db").unwrap();
    assert_eq!(policy["spec"]["egress"].as_array().unwrap().len(), 3);
}

#[test]
fn a_restore_bootstraps_from_the_previous_generation_and_stops_archiving() {
    let mut s = indico();
    restoring(&mut s, Some("2026-11-30T06:00:00Z"));
    let objects = s.objects();
    let spec = &find(&objects, "Cluster", "indico-db").unwrap()["spec"];
    let recovery = &spec["bootstrap"]["recovery"];
    assert_eq!(recovery["source"], "backups");
    assert_eq!(recovery["database"], "app");
    assert_eq!(recovery["owner"], "app");
    assert_eq!(
        recovery["recoveryTarget"]["targetTime"],
        "2026-11-30T06:00:00Z"
    );
    assert!(spec["bootstrap"].get("initdb").is_none());
    let source = &spec["externalClusters"][0];
    assert_eq!(source["name"], "backups");
    assert_eq!(source["plugin"]["parameters"]["serverName"], "generation-1");
    assert_eq!(
        source["plugin"]["parameters"]["barmanObjectName"],
        "indico-db"
    );
    // The damaged database writes nothing into the generation that replaces it, and
    // nothing expires the backups being read.
    assert!(spec.get("plugins").is_none());
    assert!(find(&objects, "ScheduledBackup", "indico-db").is_none());
    let store = find(&objects, "ObjectStore", "indico-db").unwrap();
    assert!(store["spec"].get("retentionPolicy").is_none());

    // Without a point in time: the last archived change.
    let mut s = indico();
    restoring(&mut s, None);
    let objects = s.objects();
    let spec = &find(&objects, "Cluster", "indico-db").unwrap()["spec"];
    assert!(
        spec["bootstrap"]["recovery"]
            .get("recoveryTarget")
            .is_none()
    );
}

#[test]
fn explain_names_the_allocation_lines_of_a_restore() {
    let mut s = indico();
    restoring(&mut s, Some("2026-11-30T06:00:00Z"));
    let text = s.explain();
    let line = |field: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{field} = ")))
            .unwrap_or_else(|| panic!("no {field}:\n{text}"))
            .to_owned()
    };
    assert!(
        line("spec.bootstrap.recovery.recoveryTarget.targetTime")
            .contains("tenants/events/indico.yaml:19:36")
            && line("spec.bootstrap.recovery.recoveryTarget.targetTime")
                .contains("(restore.database.pointInTime)"),
        "{}",
        line("spec.bootstrap.recovery.recoveryTarget.targetTime")
    );
    assert!(
        line("spec.externalClusters[backups].plugin.parameters.serverName")
            .contains("(storage.database.generation)")
    );
    assert!(
        line("spec.configuration.destinationPath").contains("(database.backup.destinationPath)")
    );
}

#[test]
fn validate_operator_refuses_a_restore_without_backups() {
    // Django's platform configures no backups.
    let mut s = Scenario::example("django");
    let alloc = "operator/tenants/acme/shop.yaml";
    s.edit(
        alloc,
        "  database: {size: 10Gi}\n",
        "  database: {size: 10Gi, generation: 2}\n",
    );
    s.append(alloc, "restore: {database: {from: backup}}\n");
    let r = s.validate_operator(Format::Text);
    r.invalid("operator/tenants/acme/shop.yaml:15:28: error: restore.database.from:")
        .invalid("platform.yaml configures none (`database.backup`)")
        .invalid("[DT606]");
    // The app's render refuses it too, with the same words.
    s.render().invalid("platform.yaml configures none");
}

#[test]
fn a_restore_needs_backups_of_the_app_and_a_new_generation() {
    // Opted out: nothing to restore from.
    let mut s = indico();
    restoring(&mut s, None);
    s.edit(
        ALLOC,
        "{size: 20Gi, generation: 2}",
        "{size: 20Gi, generation: 2, backup: false}",
    );
    s.validate_operator(Format::Text)
        .invalid("the allocation opts out of them");
    // Generation 1 has none before it; the hint says what to write.
    let mut s = indico();
    s.append(ALLOC, "restore: {database: {from: backup}}\n");
    let r = s.validate_operator(Format::Text);
    r.invalid("generation 1 has no generation before it")
        .invalid("raise storage.database.generation to 2");
    // Every problem at once.
    let mut s = Scenario::example("django");
    s.append(
        "operator/tenants/acme/shop.yaml",
        "restore: {database: {from: backup}}\n",
    );
    let r = s.validate_operator(Format::Text);
    r.invalid("configures none")
        .invalid("generation 1 has no generation before it");
}

#[test]
fn a_bad_point_in_time_or_schedule_names_its_line() {
    let mut s = indico();
    restoring(&mut s, Some("yesterday"));
    s.validate_operator(Format::Text)
        .invalid("indico.yaml:")
        .invalid("restore.database.pointInTime");
    let mut s = indico();
    s.edit(
        "operator/platform.yaml",
        "schedule: \"0 0 3 * * *\"",
        "schedule: \"0 3 * * *\"",
    );
    s.validate_operator(Format::Text)
        .invalid("platform.yaml:")
        .invalid("database.backup.schedule");
}

#[test]
fn redis_with_persistence_is_a_durable_broker_on_its_own_volume() {
    let objects = indico().objects();
    let claim = find(&objects, "PersistentVolumeClaim", "indico-redis").expect("Redis' claim");
    assert_eq!(
        claim["spec"]["accessModes"],
        serde_json::json!(["ReadWriteOnce"])
    );
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "2Gi");
    assert_eq!(claim["spec"]["storageClassName"], "ceph-rbd");
    let redis = find(&objects, "Deployment", "indico-redis").unwrap();
    assert_eq!(redis["spec"]["replicas"], 1);
    assert_eq!(redis["spec"]["strategy"]["type"], "Recreate");
    let pod = &redis["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "indico-redis"
    );
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let after = |flag: &str| args[args.iter().position(|a| *a == flag).unwrap() + 1];
    assert_eq!(after("--appendonly"), "yes");
    assert_eq!(after("--appendfsync"), "everysec");
    // A broker must refuse writes when full, never drop queued tasks.
    assert_eq!(after("--maxmemory-policy"), "noeviction");

    // Without persistence, Redis stays a cache on scratch space.
    let objects = Scenario::example("django").objects();
    assert!(find(&objects, "PersistentVolumeClaim", "shop-redis").is_none());
    let redis = find(&objects, "Deployment", "shop-redis").unwrap();
    let pod = &redis["spec"]["template"]["spec"];
    assert!(pod["volumes"][0].get("emptyDir").is_some());
    assert!(
        pod["containers"][0]["args"]
            .to_string()
            .contains("allkeys-lru")
    );
}

#[test]
fn a_redis_volume_smaller_than_its_memory_is_refused() {
    let mut s = indico();
    s.edit(
        ALLOC,
        "persistence: {size: 2Gi}",
        "persistence: {size: 256Mi}",
    );
    s.render()
        .invalid("indico.yaml:")
        .invalid("redis.persistence.size");
    let mut s = indico();
    s.edit(
        ALLOC,
        "persistence: {size: 2Gi}",
        "persistence: {size: \"0\"}",
    );
    s.render().invalid("is zero");
}

/// `requests.storage` and `requests.cpu` of the fleet's quota for the Indico example.
fn fleet_quota(edit: impl FnOnce(&Scratch)) -> (String, String) {
    let s = Scratch::example("indico");
    edit(&s);
    let r = generate_fleet(&s.operator());
    r.ok();
    let quota = common::documents(&r.stdout)
        .into_iter()
        .find(|d| d["kind"] == "ResourceQuota")
        .expect("a ResourceQuota");
    let hard = &quota["spec"]["hard"];
    (
        hard["requests.storage"].as_str().unwrap().to_owned(),
        hard["requests.cpu"].as_str().unwrap().to_owned(),
    )
}

/// The quota has room in every pod for as many sidecars as fragments may add
/// (`policy.maxSidecars`, default 4), so that pods that render also schedule.
#[test]
fn the_fleet_quota_counts_policy_max_sidecars_in_every_pod() {
    let with = |n: Option<u32>| {
        fleet_quota(|s| {
            if let Some(n) = n {
                s.edit(
                    "operator/platform.yaml",
                    "  sidecarResources: {cpu: 50m, memory: 64Mi}\n",
                    &format!(
                        "  sidecarResources: {{cpu: 50m, memory: 64Mi}}\n  maxSidecars: {n}\n"
                    ),
                );
            }
        })
        .1
    };
    let millis = |q: &str| {
        q.strip_suffix('m')
            .map_or_else(|| q.parse::<u64>().unwrap() * 1000, |m| m.parse().unwrap())
    };
    let none = millis(&with(Some(0)));
    // 13 pods at most: web 4 + 1 surge, celery 2 + 1, beat 1 + 1, the init Job's 1 + 1,
    // and one init pod of the largest process; 50m per sidecar on this platform.
    assert_eq!(millis(&with(Some(1))) - none, 13 * 50);
    assert_eq!(millis(&with(Some(16))) - none, 16 * 13 * 50);
    assert_eq!(millis(&with(None)) - none, 4 * 13 * 50, "the default is 4");
}

#[test]
fn the_fleet_quota_counts_the_redis_volume_and_the_backup_sidecars() {
    let (storage, cpu) = fleet_quota(|_| {});
    let (storage_without, _) = fleet_quota(|s| {
        s.edit(
            "operator/tenants/events/indico.yaml",
            ", persistence: {size: 2Gi}",
            "",
        );
    });
    let (_, cpu_without) = fleet_quota(|s| {
        s.edit(
            "operator/tenants/events/indico.yaml",
            "  database: {size: 20Gi}\n",
            "  database: {size: 20Gi, backup: false}\n",
        );
    });
    // 50Gi static + 2 × 20Gi database + 2Gi Redis.
    assert_eq!(storage, "92Gi");
    assert_eq!(storage_without, "90Gi");
    // The plugin's sidecar (50m on this platform) in two instances and the bootstrap pod.
    let millis = |q: &str| {
        q.strip_suffix('m')
            .map_or_else(|| q.parse::<u64>().unwrap() * 1000, |m| m.parse().unwrap())
    };
    assert_eq!(
        millis(&cpu) - millis(&cpu_without),
        150,
        "{cpu} vs {cpu_without}"
    );
}
