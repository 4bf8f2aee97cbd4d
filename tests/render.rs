//! What `dovetail render` promises about its output: the objects, their determinism,
//! their quoting, and how the operator's choices shape them. The examples' snapshots and
//! determinism go through the binary (the bytes a user gets); every other case runs
//! in-process over in-memory repos ([`common::scenario`]).

mod common;

use common::scenario::Scenario;
use serde_json::Value;

fn find<'a>(all: &'a [Value], kind: &str, name: &str) -> &'a Value {
    all.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Every container of every pod template: (object name, container).
fn containers(all: &[Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for o in all {
        let spec = &o["spec"]["template"]["spec"];
        for list in ["initContainers", "containers"] {
            for c in spec[list].as_array().into_iter().flatten() {
                out.push((
                    o["metadata"]["name"].as_str().unwrap().to_owned(),
                    c.clone(),
                ));
            }
        }
    }
    out
}

/// The documents of a stream, each as (kind, name, text).
fn objects(stream: &str) -> Vec<(String, String, String)> {
    stream
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| {
            let field = |key: &str| {
                d.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            (field("kind: "), field("  name: "), d.to_owned())
        })
        .collect()
}

fn object<'a>(all: &'a [(String, String, String)], kind: &str, name: &str) -> &'a str {
    &all.iter()
        .find(|(k, n, _)| k == kind && n == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .2
}

#[test]
fn django_example_snapshot() {
    let r = common::render_example("django");
    assert_eq!(r.stderr, "");
    insta::assert_snapshot!("django", r.stdout);
}

#[test]
fn same_input_gives_byte_identical_output() {
    let a = common::render_example("django");
    let b = common::render_example("django");
    assert_eq!(a.stdout, b.stdout);
    // In-process over memory, the same bytes as the binary over directories.
    assert_eq!(Scenario::example("django").rendered(), a.stdout);
}

/// The fast YAML writer (src/emit/block.rs) writes what serde-saphyr writes: every
/// example's render and fleet, read back and written again by serde-saphyr alone, is the
/// same stream byte for byte.
#[test]
fn every_example_is_written_as_serde_saphyr_writes_it() {
    use dovetail::emit::output::to_yaml_reference;
    for name in ["django", "helpdesk", "indico", "pretalx", "pulp"] {
        let fleet =
            common::generate_fleet(&common::root().join("examples").join(name).join("operator"));
        assert_eq!(fleet.code, 0, "{}", fleet.stderr);
        for (what, stream) in [
            ("render", common::render_example(name).stdout),
            ("fleet", fleet.stdout),
        ] {
            let mut reference = String::new();
            for object in common::documents(&stream) {
                reference.push_str("---\n");
                reference.push_str(&to_yaml_reference(&object).unwrap());
            }
            assert!(
                stream == reference,
                "{name}'s {what} differs from serde-saphyr's"
            );
        }
    }
}

#[test]
fn every_object_of_the_design_is_there() {
    let out = Scenario::example("django").rendered();
    let all = objects(&out);
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|(k, n, _)| (k.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ServiceAccount", "shop"),
            ("ConfigMap", "shop-env"),
            ("ConfigMap", "shop-files"),
            ("PersistentVolumeClaim", "shop-static"),
            ("Cluster", "shop-db"),
            ("Service", "shop-redis"),
            ("Service", "shop-web"),
            ("Deployment", "shop-redis"),
            ("Deployment", "shop-web"),
            ("Deployment", "shop-worker"),
            ("PodDisruptionBudget", "shop-web"),
            ("Ingress", "shop-web"),
            ("NetworkPolicy", "shop"),
            ("NetworkPolicy", "shop-egress"),
            ("NetworkPolicy", "shop-db"),
            ("NetworkPolicy", "shop-web"),
        ]
    );
    for (_, _, text) in &all {
        assert!(text.contains("  namespace: acme-shop\n"));
        for label in ["name", "instance", "component", "part-of", "managed-by"] {
            assert!(
                text.contains(&format!("app.kubernetes.io/{label}: ")),
                "{text}"
            );
        }
    }
}

#[test]
fn yaml_1_1_lookalikes_are_quoted() {
    let mut s = Scenario::example("django");
    s.edit(
        "app/dovetail.yaml",
        "  STATIC_ROOT: /app/static\n",
        "  STATIC_ROOT: /app/static\n  A_ON: on\n  B_NO: no\n  C_OCTAL: 0777\n  D_UNDERSCORE: 1_000\n  E_Y: y\n  F_NULL: \"null\"\n  G_TILDE: \"~\"\n  H_TIME: 12:30\n",
    );
    let out = s.rendered();
    for line in [
        "  A_ON: \"on\"\n",
        "  B_NO: \"no\"\n",
        "  C_OCTAL: \"0777\"\n",
        "  D_UNDERSCORE: \"1_000\"\n",
        "  E_Y: \"y\"\n",
        "  F_NULL: \"null\"\n",
        "  G_TILDE: \"~\"\n",
        "  H_TIME: \"12:30\"\n",
        "  GUNICORN_WORKERS: \"3\"\n",
    ] {
        assert!(out.contains(line), "missing {line:?}");
    }
}

#[test]
fn operator_resources_and_replicas_reach_the_deployments() {
    let out = Scenario::example("django").rendered();
    let all = objects(&out);
    let web = object(&all, "Deployment", "shop-web");
    assert!(web.contains("  replicas: 2\n"));
    assert!(web.contains("cpu: 250m") && web.contains("memory: 512Mi"));
    let worker = object(&all, "Deployment", "shop-worker");
    assert!(worker.contains("  replicas: 1\n"));
    assert!(worker.contains("cpu: 500m") && worker.contains("memory: 1Gi"));
}

#[test]
fn every_container_meets_pod_security_restricted() {
    let mut s = Scenario::example("django");
    s.append(
        "app/dovetail.yaml",
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: metrics\n",
            "      image: registry.example.com/acme/exporter:1\n",
            "      securityContext: {runAsUser: 2000, readOnlyRootFilesystem: true}\n",
            "  initContainers:\n",
            "    - {name: wait, image: registry.example.com/acme/wait:1}\n",
        ),
    );
    let all = s.objects();
    let cs = containers(&all);
    // redis; web: init, wait, web, metrics; worker: wait, worker, metrics.
    assert_eq!(cs.len(), 8);
    for (owner, c) in &cs {
        let sc = &c["securityContext"];
        let what = format!("{owner}/{}", c["name"]);
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
        assert_eq!(sc["privileged"], false, "{what}");
        assert_eq!(sc["runAsNonRoot"], true, "{what}");
        assert_eq!(
            sc["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{what}"
        );
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
        assert!(c["resources"]["limits"]["cpu"].is_string(), "{what}");
        assert!(c["resources"]["limits"]["memory"].is_string(), "{what}");
        if c["name"] == "metrics" || c["name"] == "wait" {
            // The platform's sidecar resources, not anything the fragment asked for.
            assert_eq!(c["resources"]["limits"]["cpu"], "50m", "{what}");
            assert_eq!(c["resources"]["limits"]["memory"], "64Mi", "{what}");
        }
        if c["name"] == "metrics" {
            assert_eq!(sc["runAsUser"], 2000, "a fragment may tighten runAsUser");
            assert_eq!(sc["readOnlyRootFilesystem"], true);
        }
    }
    for o in &all {
        let spec = &o["spec"]["template"]["spec"];
        if spec.is_object() {
            assert_eq!(spec["automountServiceAccountToken"], false);
            assert_eq!(spec["serviceAccountName"], "shop");
            assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
            assert_eq!(
                spec["securityContext"]["seccompProfile"]["type"],
                "RuntimeDefault"
            );
        }
    }
}

#[test]
fn checksum_rolls_pods_when_env_or_files_change() {
    // Web's and the worker's, from one render.
    let checksums = |s: &Scenario| {
        let out = s.rendered();
        let all = objects(&out);
        let of = |deployment: &str| {
            object(&all, "Deployment", deployment)
                .lines()
                .find_map(|l| l.trim().strip_prefix("dovetail/config-checksum: "))
                .unwrap()
                .to_owned()
        };
        (of("shop-web"), of("shop-worker"))
    };
    let mut s = Scenario::example("django");
    let before = checksums(&s);
    s.edit(
        "app/dovetail.yaml",
        "DJANGO_DEBUG: \"off\"",
        "DJANGO_DEBUG: \"on\"",
    );
    let after_env = checksums(&s);
    assert_ne!(before.0, after_env.0);
    assert_ne!(before.1, after_env.1);
    s.append("app/config/logging.ini", "# more\n");
    let after_file = checksums(&s);
    assert_ne!(after_env.0, after_file.0);
    // A file mounted only by web rolls only web.
    s.edit(
        "app/dovetail.yaml",
        "mount: /app/config/logging.ini}",
        "mount: /app/config/logging.ini, processes: [web]}",
    );
    let scoped = checksums(&s);
    s.append("app/config/logging.ini", "# again\n");
    let after_scoped = checksums(&s);
    assert_ne!(scoped.0, after_scoped.0);
    assert_eq!(scoped.1, after_scoped.1);

    // Regression: web's pods read a file listed for the worker alone (the init step
    // sees every file, and a sidecar mounts it by subPath), yet did not roll when it
    // changed, and ran on the old file.
    s.edit(
        "app/dovetail.yaml",
        "processes: [web]}",
        "processes: [worker]}",
    );
    let before = checksums(&s);
    s.append("app/config/logging.ini", "# and again\n");
    let after = checksums(&s);
    assert_ne!(before.0, after.0, "web's init step reads the file");
    assert_ne!(before.1, after.1);
    // Without the init step, a fragment's mount of the files volume counts alike: web
    // lists a file of its own, and its sidecar mounts the worker's by subPath.
    s.edit(
        "app/dovetail.yaml",
        "  mode: initContainer\n",
        "  mode: job\n",
    );
    s.write("app/config/web.ini", "[web]\n");
    s.edit(
        "app/dovetail.yaml",
        "files:\n",
        "files:\n  - {path: config/web.ini, mount: /app/config/web.ini, processes: [web]}\n",
    );
    s.edit(
        "app/dovetail.yaml",
        "    health: {path: /healthz}\n",
        "    health: {path: /healthz}\n    pod: {containers: [{name: logship, image: registry.example.com/acme/logship:1, volumeMounts: [{name: dovetail-files, mountPath: /etc/logship.ini, subPath: config_logging.ini, readOnly: true}]}]}\n",
    );
    let before = checksums(&s).0;
    s.append("app/config/logging.ini", "# once more\n");
    assert_ne!(before, checksums(&s).0, "the sidecar reads the file");
}

#[test]
fn access_mode_and_strategy_follow_the_operator() {
    let mut s = Scenario::example("django");
    let all = s.objects();
    let pvc = find(&all, "PersistentVolumeClaim", "shop-static");
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );
    assert_eq!(pvc["spec"]["storageClassName"], "cephfs");
    let web = find(&all, "Deployment", "shop-web");
    assert_eq!(
        web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );

    // ReadWriteOnce: one pod of web, replaced rather than surged.
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "shared: true",
        "shared: false",
    );
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "web: {replicas: 2",
        "web: {replicas: 1",
    );
    let all = s.objects();
    let pvc = find(&all, "PersistentVolumeClaim", "shop-static");
    assert_eq!(
        pvc["spec"]["accessModes"],
        serde_json::json!(["ReadWriteOnce"])
    );
    assert_eq!(pvc["spec"]["storageClassName"], "ceph-rbd");
    assert_eq!(
        find(&all, "Deployment", "shop-web")["spec"]["strategy"]["type"],
        "Recreate"
    );
    assert_eq!(
        find(&all, "Deployment", "shop-worker")["spec"]["strategy"]["type"],
        "RollingUpdate",
        "the worker does not mount it"
    );
}

#[test]
fn read_write_once_volume_for_several_pods_is_refused() {
    let mut s = Scenario::example("django");
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "shared: true",
        "shared: false",
    );
    s.render().invalid(
        "operator/tenants/acme/shop.yaml:12:31: error: storage.static.shared: a ReadWriteOnce volume attaches to one node, and 2 pods mount it (web 2); set `shared: true`, or run one pod of what mounts it",
    );
}

/// The init step in web's pods mounts the static volume even when only the worker asks
/// for it: web's pods count among those a ReadWriteOnce volume would attach to.
#[test]
fn read_write_once_volume_counts_the_pods_the_init_step_runs_in() {
    let mut s = Scenario::example("django");
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "shared: true",
        "shared: false",
    );
    s.edit(
        "app/dovetail.yaml",
        "static: {mount: /app/static, processes: [web]}",
        "static: {mount: /app/static, processes: [worker]}",
    );
    s.render().invalid(
        "storage.static.shared: a ReadWriteOnce volume attaches to one node, and 3 pods mount it (web 2, worker 1)",
    );
    // One pod of web with the init step in it, the worker scaled to zero: web is
    // replaced, not surged.
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "worker: {replicas: 1",
        "worker: {replicas: 0",
    );
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "web: {replicas: 2",
        "web: {replicas: 1",
    );
    let all = s.objects();
    assert_eq!(
        find(&all, "Deployment", "shop-web")["spec"]["strategy"]["type"],
        "Recreate"
    );
}

#[test]
fn init_as_a_job_runs_before_the_deployments() {
    let mut s = Scenario::example("django");
    s.edit("app/dovetail.yaml", "mode: initContainer", "mode: job");
    let out = s.rendered();
    let all = objects(&out);
    let job = object(&all, "Job", "shop-init");
    assert!(job.contains("argocd.argoproj.io/hook: Sync\n"));
    assert!(job.contains("argocd.argoproj.io/sync-wave: \"-1\"\n"));
    assert!(job.contains("restartPolicy: Never"));
    assert!(!object(&all, "Deployment", "shop-web").contains("initContainers"));
    // What the Job needs exists one wave earlier.
    assert!(object(&all, "ConfigMap", "shop-env").contains("sync-wave: \"-2\""));
    assert!(object(&all, "Cluster", "shop-db").contains("sync-wave: \"-2\""));
}

#[test]
fn singleton_is_recreated_and_autoscaling_gets_an_hpa() {
    let mut s = Scenario::example("django");
    s.edit(
        "app/dovetail.yaml",
        "env:\n",
        "  beat:\n    command: [celery, beat]\n    singleton: true\nenv:\n",
    );
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "  web: {replicas: 2, plan: small}",
        "  web: {replicas: 2, plan: small, autoscaling: {maxReplicas: 6}}\n  \"*\": {plan: small}",
    );
    let all = s.objects();
    let beat = find(&all, "Deployment", "shop-beat");
    assert_eq!(beat["spec"]["replicas"], 1);
    assert_eq!(beat["spec"]["strategy"]["type"], "Recreate");
    let hpa = find(&all, "HorizontalPodAutoscaler", "shop-web");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
    assert!(
        find(&all, "Deployment", "shop-web")["spec"]
            .get("replicas")
            .is_none(),
        "the HPA owns replicas"
    );
    assert!(
        !all.iter()
            .any(|o| o["kind"] == "PodDisruptionBudget" && o["metadata"]["name"] == "shop-beat")
    );

    s.edit(
        "operator/tenants/acme/shop.yaml",
        "  \"*\": {plan: small}",
        "  \"*\": {plan: small}\n  beat: {replicas: 2, plan: small}",
    );
    s.render().invalid(
        "operator/tenants/acme/shop.yaml:11:20: error: processes.beat.replicas: `beat` is a singleton and runs at most one pod, not 2; set replicas to 1 (or 0 to pause it)",
    );
}

#[test]
fn sidecar_patch_and_volume_fragments_are_merged() {
    let mut s = Scenario::example("django");
    s.append(
        "app/dovetail.yaml",
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: web\n",
            "      env: [{name: EXTRA, value: \"yes\"}]\n",
            "      volumeMounts: [{name: cache, mountPath: /cache}]\n",
            "  volumes:\n",
            "    - {name: cache, emptyDir: {sizeLimit: 1Gi}}\n",
        ),
    );
    // The process's own fragment patches after the global one.
    s.edit(
        "app/dovetail.yaml",
        "    health: {path: /healthz}\n",
        "    health: {path: /healthz}\n    pod: {containers: [{name: web, env: [{name: EXTRA, value: \"no\"}]}]}\n",
    );
    let all = s.objects();
    let web = &find(&all, "Deployment", "shop-web")["spec"]["template"]["spec"];
    let main = &web["containers"][0];
    let env = main["env"].as_array().unwrap();
    assert!(
        env.contains(&serde_json::json!({"name": "EXTRA", "value": "no"})),
        "a patch replaces an env entry by name"
    );
    assert_eq!(env.iter().filter(|e| e["name"] == "EXTRA").count(), 1);
    // The platform's own entries stay (a patch may not set them: see tests/attacks.rs).
    assert!(
        env.contains(
            &serde_json::json!({"name": "REDIS_URL", "value": "redis://shop-redis:6379/0"})
        )
    );
    assert!(
        main["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/cache")
    );
    assert!(
        web["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "cache")
    );
    // The global fragment's patch of `web` adds nothing to the worker.
    let worker = &find(&all, "Deployment", "shop-worker")["spec"]["template"]["spec"];
    assert_eq!(worker["containers"].as_array().unwrap().len(), 1);
    assert!(
        !worker["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "EXTRA")
    );
}

#[test]
fn reference_workload_snapshots() {
    for name in ["pretalx", "indico", "helpdesk", "pulp"] {
        let r = common::render_example(name);
        insta::assert_snapshot!(name, r.stdout);
    }
}

const APP: &str = "app/dovetail.yaml";
const PLATFORM: &str = "operator/platform.yaml";

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|l| pod[*l].as_array().into_iter().flatten())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn every_container_has_a_read_only_root_and_a_writable_tmp() {
    let all = Scenario::example("pulp").objects();
    let found = containers(&all);
    assert!(found.len() > 10);
    for (object, c) in &found {
        assert_eq!(
            c["securityContext"]["readOnlyRootFilesystem"], true,
            "{object}/{}",
            c["name"]
        );
    }
    let web = &find(&all, "Deployment", "pulp-web")["spec"]["template"]["spec"];
    let tmp = container(web, "web")["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/tmp")
        .expect("a /tmp mount");
    assert_eq!(tmp["name"], "dovetail-tmp");
    assert!(
        web["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "dovetail-tmp" && v["emptyDir"]["sizeLimit"] == "1Gi")
    );
}

#[test]
fn wait_for_holds_pods_until_the_database_and_redis_answer() {
    let mut s = Scenario::example("django");
    s.edit(
        APP,
        "    command: [\"/async\"]",
        "    command: [\"/async\"]\n    waitFor: [postgres, redis]",
    );
    let all = s.objects();
    let pod = &find(&all, "Deployment", "shop-worker")["spec"]["template"]["spec"];
    let inits: Vec<&str> = pod["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(inits, ["wait-for-postgres", "wait-for-redis"]);
    let pg = container(pod, "wait-for-postgres");
    assert_eq!(pg["image"], "docker.io/library/postgres:17.2-alpine");
    assert!(pg["command"][2].as_str().unwrap().contains("pg_isready"));
    assert_eq!(
        pg["env"][0]["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "shop-db-app", "key": "uri"})
    );
    let redis = container(pod, "wait-for-redis");
    assert_eq!(redis["image"], "docker.io/library/redis:7.4.1");
    assert_eq!(redis["env"][0]["value"], "redis://shop-redis:6379/0");
    assert_eq!(redis["securityContext"]["runAsNonRoot"], true);
}

#[test]
fn a_health_command_becomes_exec_probes() {
    let all = Scenario::example("django").objects();
    let pod = &find(&all, "Deployment", "shop-worker")["spec"]["template"]["spec"];
    let worker = container(pod, "worker");
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert_eq!(worker[probe]["exec"]["command"][0], "sh", "{probe}");
    }
    assert!(worker.get("ports").is_none());
}

/// Regression: the sidecar serving the process's port, declaring it under the name
/// `http` itself, was refused as taking the process's port name, with a hint that never
/// said to leave the name out. It is the name the render gives that port anyway.
#[test]
fn the_sidecar_serving_the_port_may_name_it_http() {
    let mut s = Scenario::example("pretalx");
    s.edit(
        "app/dovetail.yaml",
        "ports: [{containerPort: 8080}]",
        "ports: [{containerPort: 8080, name: http}]",
    );
    let all = s.objects();
    let pod = &find(&all, "Deployment", "pretalx-web")["spec"]["template"]["spec"];
    assert_eq!(
        container(pod, "nginx")["ports"],
        serde_json::json!([{"containerPort": 8080, "name": "http"}])
    );
    // Elsewhere `http` stays the process's: on a sidecar's other port it is refused.
    s.edit(
        "app/dovetail.yaml",
        "ports: [{containerPort: 8080, name: http}]",
        "ports: [{containerPort: 8080}, {containerPort: 9000, name: http}]",
    );
    s.render()
        .invalid("`http` is the name of the port `web` serves, which its Service targets");
}

#[test]
fn a_sidecar_declaring_the_port_serves_the_process() {
    let all = Scenario::example("pretalx").objects();
    let pod = &find(&all, "Deployment", "pretalx-web")["spec"]["template"]["spec"];
    let nginx = container(pod, "nginx");
    assert_eq!(
        nginx["ports"],
        serde_json::json!([{"containerPort": 8080, "name": "http"}])
    );
    assert_eq!(nginx["readinessProbe"]["httpGet"]["path"], "/healthz");
    let web = container(pod, "web");
    assert!(
        web.get("ports").is_none(),
        "the app container declares no port"
    );
    assert_eq!(web["readinessProbe"]["tcpSocket"]["port"], 8000);
    let svc = find(&all, "Service", "pretalx-web");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
}

#[test]
fn a_load_balancer_is_rendered_only_where_the_allocation_allows_it() {
    let all = Scenario::example("helpdesk").objects();
    assert_eq!(
        find(&all, "Service", "helpdesk-web")["spec"]["type"],
        "LoadBalancer"
    );
    let np = find(&all, "NetworkPolicy", "helpdesk-web-external");
    assert_eq!(
        np["spec"]["ingress"][0]["from"][0]["ipBlock"]["cidr"],
        "0.0.0.0/0"
    );
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], 8080);
    assert_eq!(
        find(&all, "Service", "helpdesk-redis")["spec"]["type"],
        "ClusterIP"
    );

    let mut s = Scenario::example("helpdesk");
    s.edit(
        "operator/tenants/support/helpdesk.yaml",
        ", serviceTypes: [LoadBalancer]",
        "",
    );
    s.render().invalid(
        "processes.web.serviceType: operator/tenants/support/helpdesk.yaml does not allow a LoadBalancer Service for `web`",
    );
}

/// The ports of the NetworkPolicy `name` of `all`, as (protocol, number), with the
/// component its pod selector names and the namespace it admits.
fn metrics_policy(all: &[Value], name: &str) -> (String, String, Vec<(String, u64)>) {
    let np = find(all, "NetworkPolicy", name);
    let from = &np["spec"]["ingress"][0]["from"][0];
    let ports = np["spec"]["ingress"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap().to_owned(),
                p["port"].as_u64().unwrap(),
            )
        })
        .collect();
    (
        np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            .as_str()
            .unwrap()
            .to_owned(),
        from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            .as_str()
            .unwrap()
            .to_owned(),
        ports,
    )
}

#[test]
fn metrics_ports_are_scrapeable_from_the_monitoring_namespace() {
    let all = Scenario::example("indico").objects();
    let tcp = |n: u64| ("TCP".to_owned(), n);
    assert_eq!(
        metrics_policy(&all, "indico-web-metrics"),
        (
            "web".to_owned(),
            "monitoring".to_owned(),
            vec![tcp(9102), tcp(9113)]
        ),
        "the statsd input port stays closed"
    );
    assert_eq!(
        metrics_policy(&all, "indico-celery-metrics"),
        (
            "celery".to_owned(),
            "monitoring".to_owned(),
            vec![tcp(9808)]
        ),
    );
    let web = find(&all, "PodMonitor", "indico-web");
    let endpoints: Vec<&str> = web["spec"]["podMetricsEndpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["port"].as_str().unwrap())
        .collect();
    assert_eq!(endpoints, ["nginx-metrics", "statsd-metrics"]);
    find(&all, "PodMonitor", "indico-celery");

    // Without the platform's monitoring, no policy opens the ports.
    let mut s = Scenario::example("indico");
    s.edit(
        PLATFORM,
        "monitoring: {namespace: monitoring, podMonitor: true}\n",
        "",
    );
    let all = s.objects();
    assert!(!all.iter().any(|o| {
        o["kind"] == "PodMonitor"
            || (o["kind"] == "NetworkPolicy"
                && o["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .ends_with("-metrics"))
    }));
}

/// A metrics port opens its number on the pods of the process that declares it, and
/// nowhere else: declared as 6379 it must not open Redis (whose pods carry the app's
/// instance label too), nor the same number on another process's pods. A UDP metrics
/// port is opened as UDP.
#[test]
fn a_metrics_port_opens_only_its_own_processs_pods_with_its_protocol() {
    let mut s = Scenario::example("indico");
    s.edit(
        "app/dovetail.yaml",
        "ports: [{name: celery-metrics, containerPort: 9808}]",
        "ports: [{name: celery-metrics, containerPort: 9808}, {name: metrics, containerPort: 6379}, {name: udp-metrics, containerPort: 8125, protocol: UDP}]",
    );
    let all = s.objects();
    let (component, _, ports) = metrics_policy(&all, "indico-celery-metrics");
    assert_eq!(component, "celery");
    assert_eq!(
        ports,
        [
            ("TCP".to_owned(), 6379),
            ("UDP".to_owned(), 8125),
            ("TCP".to_owned(), 9808)
        ]
    );
    let (component, _, ports) = metrics_policy(&all, "indico-web-metrics");
    assert_eq!(component, "web");
    assert!(
        !ports.iter().any(|(_, n)| *n == 6379 || *n == 8125),
        "{ports:?}"
    );
    for np in all.iter().filter(|o| o["kind"] == "NetworkPolicy") {
        let from_monitoring = np["spec"]["ingress"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rule| rule.to_string().contains("\"monitoring\""));
        if from_monitoring {
            assert!(
                np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"].is_string(),
                "a policy from monitoring selects every pod of the app: {np}"
            );
        }
    }
}

/// The AppProject of every app admits the kinds `render::RENDERED_KINDS` lists: that
/// list must be exactly what render emits, over every example and an app with as much as
/// dovetail renders. A kind emitted and not listed would be refused at sync; one listed
/// and never emitted is a permission no app needs.
#[test]
fn the_app_project_admits_exactly_the_kinds_render_emits() {
    use std::collections::BTreeSet;
    let mut cases = Scenario::examples();
    cases.push(("the maximal app".to_owned(), Scenario::maximal()));
    cases.push((
        "the maximal app decrypting at render".to_owned(),
        Scenario::maximal_decrypting_at_render(),
    ));
    let mut emitted = BTreeSet::new();
    for (what, s) in cases {
        for o in s.objects() {
            let api = o["apiVersion"].as_str().unwrap();
            let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
            let kind = o["kind"].as_str().unwrap().to_owned();
            assert!(
                dovetail::render::RENDERED_KINDS
                    .iter()
                    .any(|(g, k)| *g == group && *k == kind),
                "{what} renders {group}/{kind}, which RENDERED_KINDS (and so the AppProject) lacks"
            );
            emitted.insert((group, kind));
        }
    }
    for (group, kind) in dovetail::render::RENDERED_KINDS {
        assert!(
            emitted.contains(&((*group).to_owned(), (*kind).to_owned())),
            "RENDERED_KINDS lists {group}/{kind}, which no scenario renders: drop it, or add it to Scenario::maximal"
        );
    }
}
