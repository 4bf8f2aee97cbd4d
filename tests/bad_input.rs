//! Bad input, run in-process over in-memory repos ([`common::scenario`]): every case
//! exits 1 (or 2 for the environment), prints nothing on stdout, and names the file,
//! line, column and field with what to do. The usage mistakes of the command line itself
//! (a missing directory, no operator repo, a malformed `--allocation`) are in
//! tests/cli.rs, through the binary.

mod common;

use common::scenario::Scenario;
use dovetail::emit::report::Format;

const APP: &str = "app/dovetail.yaml";
const ALLOC: &str = "operator/tenants/acme/shop.yaml";
const PLATFORM: &str = "operator/platform.yaml";

fn django() -> Scenario {
    Scenario::example("django")
}

#[test]
fn malformed_yaml_names_the_place() {
    let mut s = django();
    s.edit(APP, "  web:\n", "  web: [\n");
    s.render()
        .invalid("app/dovetail.yaml:")
        .invalid("error: invalid YAML:");
}

#[test]
fn duplicate_keys_name_both_lines() {
    let mut s = django();
    s.edit(APP, "kind: App\n", "kind: App\nimage: other/image:1\n");
    s.render()
        .invalid("app/dovetail.yaml:7:1: error: duplicate key `image` (first at line 6); keep one");
}

#[test]
fn unknown_fields_suggest_the_near_name() {
    let mut s = django();
    s.edit(APP, "    port: 8000\n", "    prot: 8000\n");
    s.render().invalid(
        "app/dovetail.yaml:13:5: error: processes.web.prot: unknown field; did you mean `port`?",
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    let mut s = django();
    s.edit(APP, "    port: 8000\n", "    port: \"8000\"\n");
    s.render().invalid(
        "app/dovetail.yaml:13:11: error: processes.web.port: expected an integer, found a string `8000`",
    );
}

/// A value on the line after its key was reported at the key, a line above the bad token
/// (and a GitHub annotation landed on the wrong line); an unknown key stays at the key.
#[test]
fn value_errors_point_at_the_value_and_key_errors_at_the_key() {
    let mut s = django();
    s.edit(
        APP,
        "    port: 8000\n",
        "    port:\n      \"8000x\"\n    prot: 1\n",
    );
    s.render()
        .invalid("app/dovetail.yaml:14:7: error: processes.web.port: expected an integer, found a string `8000x`")
        .invalid("app/dovetail.yaml:15:5: error: processes.web.prot: unknown field");
}

/// Most codes came with no hint (DT103-DT105, DT202, DT204-DT206, most DT203), and
/// DT103/DT104 wrote their remedy into the message, where JSON and GitHub consumers
/// showing `hint` apart did not find it.
#[test]
fn every_problem_has_a_hint_of_its_own() {
    let cases: [(&str, &str, &str, &str); 11] = [
        (APP, "    port: 8000\n", "    port: \"8000x\"\n", "DT203"),
        (
            APP,
            "image: registry.example.com/acme/shop:1.4.2\n",
            "",
            "DT202",
        ),
        (APP, "kind: App\n", "kind: App\nimage: x\n", "DT104"),
        (APP, "  web:\n", "  web: [\n", "DT103"),
        (APP, "  web:\n", "  redis:\n", "DT206"),
        (APP, "    port: 8000\n", "    port: 0\n", "DT205"),
        (
            ALLOC,
            "cpu: 500m, memory: 1Gi",
            "cpu: 500m, memory: 1GB",
            "DT204",
        ),
        (
            ALLOC,
            "namespace: acme-shop",
            "namespace: kube-system",
            "DT206",
        ),
        (
            APP,
            "services: [postgres, redis]",
            "services: [postgres, redis, mysql]",
            "DT204",
        ),
        (APP, "kind: App\n", "kind: Ap\n", "DT204"),
        (APP, "processes:\n", "processes: {}\nx:\n", "DT205"),
    ];
    for (file, from, to, code) in cases {
        let mut s = django();
        s.edit(file, from, to);
        let run = s.validate_as(Format::Json);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let problems = doc["problems"].as_array().unwrap();
        assert!(
            problems.iter().any(|p| p["code"] == code),
            "{to:?}: no {code} in {problems:#?}"
        );
        for p in problems {
            let hint = p["hint"].as_str().unwrap_or_default();
            assert!(!hint.is_empty(), "{to:?}: no hint in {p:#}");
            let message = p["message"].as_str().unwrap();
            assert!(
                !message.ends_with("; keep one") && !message.ends_with("; remove it"),
                "{to:?}: the remedy is in the message: {p:#}"
            );
        }
    }
}

#[test]
fn alias_bomb_is_refused_quickly() {
    let mut s = django();
    let mut bomb = String::from("x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "x{i}: &x{i} [*x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}, *x{p}]\n"
        ));
    }
    s.write(APP, bomb);
    let started = std::time::Instant::now();
    s.render()
        .invalid("more than 50000 nodes; input files are small, so trim it");
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    let mut s = django();
    s.append(APP, &format!("# {}\n", "x".repeat(300 * 1024)));
    s.render().invalid(
        "app/dovetail.yaml:1:1: error: `dovetail.yaml` is 308167 bytes, over the 262144-byte limit",
    );
}

#[test]
fn files_path_with_dotdot_is_refused_by_the_schema() {
    let mut s = django();
    s.edit(
        APP,
        "path: config/logging.ini",
        "path: ../operator/platform.yaml",
    );
    s.render().invalid(
        "app/dovetail.yaml:24:12: error: files[0].path: `../operator/platform.yaml` is not a path relative to the app directory; use names joined by '/', not starting with '/', with no '..' part [DT204]",
    );
}

#[test]
fn files_symlink_out_of_the_repo_is_refused() {
    // On disk too: tests/cli.rs.
    let mut s = django();
    s.symlink("app/config/logging.ini", "../../outside-secret");
    let r = s.render();
    r.invalid(
        "app/dovetail.yaml:24:12: error: files[0].path: `config/logging.ini` leads outside the repo",
    );
}

#[test]
fn dovetail_yaml_symlink_out_of_the_repo_is_refused() {
    let mut s = django();
    s.symlink(APP, "/etc/passwd");
    s.render()
        .invalid("app/dovetail.yaml:1:1: error: `dovetail.yaml` leads outside the repo");
}

/// Each field DESIGN §1 forbids in a pod fragment, with the words that name its owner.
const FORBIDDEN: &[(&str, &str, &str)] = &[
    (
        "volumes: [{name: h, hostPath: {path: /}}]",
        "pod.volumes[0].hostPath",
        "host paths are never given to an app",
    ),
    (
        "hostNetwork: true",
        "pod.hostNetwork",
        "host namespaces are never given to an app",
    ),
    (
        "hostPID: true",
        "pod.hostPID",
        "host namespaces are never given to an app",
    ),
    (
        "hostIPC: true",
        "pod.hostIPC",
        "host namespaces are never given to an app",
    ),
    (
        "containers: [{name: web, securityContext: {privileged: true}}]",
        "pod.containers[0].securityContext.privileged",
        "privileged containers are never allowed",
    ),
    (
        "containers: [{name: web, securityContext: {capabilities: {add: [NET_ADMIN]}}}]",
        "pod.containers[0].securityContext.capabilities",
        "every container drops all capabilities and may add none",
    ),
    (
        "serviceAccountName: admin",
        "pod.serviceAccountName",
        "the pod's identity is the platform's",
    ),
    (
        "automountServiceAccountToken: true",
        "pod.automountServiceAccountToken",
        "the pod's identity is the platform's",
    ),
    (
        "nodeName: node-1",
        "pod.nodeName",
        "placement is the operator",
    ),
    (
        "nodeSelector: {disk: ssd}",
        "pod.nodeSelector",
        "placement is the operator",
    ),
    ("affinity: {}", "pod.affinity", "placement is the operator"),
    (
        "tolerations: []",
        "pod.tolerations",
        "placement is the operator",
    ),
    (
        "priorityClassName: high",
        "pod.priorityClassName",
        "placement is the operator",
    ),
    (
        "runtimeClassName: runc",
        "pod.runtimeClassName",
        "placement is the operator",
    ),
    (
        "containers: [{name: web, resources: {limits: {cpu: 64}}}]",
        "pod.containers[0].resources",
        "set by the operator",
    ),
    (
        "containers: [{name: web, ports: [{containerPort: 80, hostPort: 80}]}]",
        "pod.containers[0].ports[0].hostPort",
        "host ports are never given to an app",
    ),
];

#[test]
fn each_forbidden_pod_field_is_refused_with_its_owner() {
    for (fragment, field, owner) in FORBIDDEN {
        let mut s = django();
        s.append(APP, &format!("pod: {{{fragment}}}\n"));
        let r = s.render();
        r.invalid("app/dovetail.yaml:29:")
            .invalid(&format!("error: {field}: {owner}"));
        assert_eq!(
            r.stderr.matches("error:").count(),
            2,
            "one problem plus the summary: {}",
            r.stderr
        );
    }
}

#[test]
fn forbidden_fields_are_refused_by_validate_without_the_operator_repo() {
    let mut s = django();
    s.append(APP, "pod: {hostNetwork: true}\n");
    s.validate_app().invalid("app/dovetail.yaml:29:7: error: pod.hostNetwork: host namespaces are never given to an app (Pod Security restricted); remove it");
}

#[test]
fn negative_and_malformed_quantities_in_operator_files() {
    let mut s = django();
    s.edit(ALLOC, "cpu: 500m, memory: 1Gi", "cpu: -1, memory: 12XB");
    s.edit(
        PLATFORM,
        "medium: {cpu: \"1\", memory: 2Gi}",
        "medium: {cpu: \"1\", memory: lots}",
    );
    s.render()
        .invalid("operator/tenants/acme/shop.yaml:10:30: error: processes.worker.cpu: `-1` must be more than 0; use more than 0 and at most 1024, like 250m, 1 or 0.5 [DT205]")
        .invalid("operator/tenants/acme/shop.yaml:10:42: error: processes.worker.memory: `12XB` is not a memory quantity; use a number of up to six digits and its unit, like 512Mi or 2Gi")
        .invalid("operator/platform.yaml:18:30: error: plans.medium.memory: `lots` is not a memory quantity; use a number of up to six digits and its unit, like 512Mi or 2Gi");
}

#[test]
fn memory_without_its_unit_is_refused() {
    let mut s = django();
    s.edit(
        ALLOC,
        "cpu: 500m, memory: 1Gi",
        "cpu: 500m, memory: \"512\"",
    );
    s.edit(ALLOC, "database: {size: 10Gi}", "database: {size: 10}");
    s.render()
        .invalid("operator/tenants/acme/shop.yaml:10:44: error: processes.worker.memory: `512` is 512 bytes, less than the 6Mi a container needs to start; write it with its unit, like 512Mi or 512Gi")
        .invalid("operator/tenants/acme/shop.yaml:13:20: error: storage.database.size: expected a string, found a number `10`; write it with its unit, like \"10Mi\" or \"10Gi\"");
}

/// Regression: a memory of zero was told to take a unit, "like \"0Mi\" or \"0Gi\"",
/// which is refused in turn.
#[test]
fn a_memory_of_zero_is_not_told_to_add_a_unit() {
    for (zero, expected) in [
        (
            "0",
            "processes.worker.memory: expected a string, found a number `0`; write it quoted with a unit, like \"512Mi\" or \"2Gi\"",
        ),
        (
            "\"0\"",
            "processes.worker.memory: `0` is less than the 6Mi a container needs to start; give at least 6Mi",
        ),
    ] {
        let mut s = django();
        s.edit(
            ALLOC,
            "cpu: 500m, memory: 1Gi",
            &format!("cpu: 500m, memory: {zero}"),
        );
        let r = s.render();
        r.invalid(expected);
        assert!(!r.stderr.contains("0Mi"), "{}", r.stderr);
    }
}

/// An operator value in error was left out of the typed input, and the app's
/// checks then told the customer to ask for what the operator had given.
#[test]
fn an_operator_value_in_error_is_not_also_reported_missing() {
    let mut s = django();
    s.edit(
        ALLOC,
        "static: {size: 5Gi, shared: true}",
        "static: {size: 5GB, shared: true}",
    );
    s.edit(ALLOC, "database: {size: 10Gi}", "database: {size: 10GB}");
    s.edit(ALLOC, "redis: {memory: 256Mi}", "redis: {memory: 256MB}");
    s.edit(ALLOC, "web: {replicas: 2, plan: small}", "web: 2");
    s.edit(
        ALLOC,
        "domains: [\"shop.acme.example\"",
        "domains: [3, \"shop.acme.example\"",
    );
    s.edit(
        PLATFORM,
        "small: {cpu: 250m, memory: 512Mi}",
        "small: {cpu: 250m, memory: 512MB}",
    );
    s.edit(PLATFORM, "redis:7.4.1", "redis:latest");
    let r = s.render();
    r.invalid("operator/tenants/acme/shop.yaml:7:11: error: domains[0]: expected a string")
        .invalid("operator/platform.yaml:17:30: error: plans.small.memory: `512MB` is not a memory quantity");
    assert!(!r.stderr.contains("app/dovetail.yaml"), "{}", r.stderr);
    assert!(!r.stderr.contains("no plan"), "{}", r.stderr);
    assert!(!r.stderr.contains("is set"), "{}", r.stderr);
    assert!(r.stderr.contains("error: 7 problems"), "{}", r.stderr);
}

#[test]
fn zero_quantity_is_refused() {
    let mut s = django();
    s.edit(ALLOC, "cpu: 500m", "cpu: 0m");
    s.render()
        .invalid("operator/tenants/acme/shop.yaml:10:30: error: processes.worker.cpu: `0m` is zero; give more than zero");
}

#[test]
fn operator_field_in_the_customer_file_names_the_allocation() {
    let mut s = django();
    s.edit(
        APP,
        "    command: [\"/async\"]",
        "    command: [\"/async\"]\n    resources: {limits: {cpu: \"8\"}}",
    );
    s.render().invalid(
        "app/dovetail.yaml:17:5: error: processes.worker.resources: set by the operator (operator/tenants/acme/shop.yaml); remove it",
    );
    // The schema admits the field so that ownership can name its owner; no second,
    // confusing "internal error" about it.
    let r = s.render();
    assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
}

#[test]
fn process_without_allocation_is_an_error() {
    let mut s = django();
    s.edit(
        APP,
        "env:\n",
        "  beat:\n    command: [celery, beat]\n    singleton: true\nenv:\n",
    );
    s.render().invalid(
        "app/dovetail.yaml:18:3: error: processes.beat: no allocation: operator/tenants/acme/shop.yaml sizes no process `beat` and has no `*` default; ask the operator to add processes.beat to operator/tenants/acme/shop.yaml",
    );
}

#[test]
fn hostname_outside_the_allowed_domains_is_an_error() {
    let mut s = django();
    s.edit(
        APP,
        "hosts: [shop.acme.example]",
        "hosts: [shop.acme.example, evil.example.com, a.b.acme.apps.example.net]",
    );
    s.render()
        .invalid("app/dovetail.yaml:28:30: error: ingress.hosts[1]: `evil.example.com` is outside the domains the operator allows")
        .invalid("app/dovetail.yaml:28:48: error: ingress.hosts[2]: `a.b.acme.apps.example.net` is outside");
}

#[test]
fn all_problems_of_a_run_are_reported_together() {
    let mut s = django();
    s.edit(
        APP,
        "    port: 8000\n",
        "    port: \"8000\"\n    replicas: 3\n",
    );
    s.edit(APP, "  STATIC_ROOT", "  STATIC-ROOT");
    s.edit(ALLOC, "namespace: acme-shop", "namespace: Acme_Shop");
    s.edit(PLATFORM, "className: nginx", "classname: nginx");
    let r = s.validate();
    r.invalid("app/dovetail.yaml:13:11: error: processes.web.port: expected an integer")
        .invalid("app/dovetail.yaml:14:5: error: processes.web.replicas: set by the operator")
        .invalid("app/dovetail.yaml:23:3: error: env.STATIC-ROOT: `STATIC-ROOT` is not an environment variable name")
        .invalid("operator/tenants/acme/shop.yaml:6:12: error: namespace: `Acme_Shop` is not a Kubernetes namespace name")
        .invalid("operator/platform.yaml:10:11: error: ingress.classname: unknown field; did you mean `className`?")
        .invalid("operator/platform.yaml:10:1: error: ingress.className: required field missing")
        .invalid("error: 6 problems in the inputs; fix the problems above");
}

/// One file, five kinds of problem from five stages (schema, ownership, policy, the
/// merge's domains, the pod fragment check): one run reports them all.
#[test]
fn five_problems_of_five_stages_in_one_file_are_reported_in_one_run() {
    let mut s = django();
    s.edit(
        APP,
        "image: registry.example.com/acme/shop:1.4.2",
        "image: registry.example.com/acme/shop",
    );
    s.edit(
        APP,
        "    port: 8000\n",
        "    port: 8000\n    replicas: 3\n    colour: blue\n",
    );
    s.edit(
        APP,
        "hosts: [shop.acme.example]",
        "hosts: [shop.acme.example, evil.example.com]",
    );
    s.append(APP, "pod: {hostNetwork: true}\n");
    for run in [s.render(), s.validate(), s.validate_app()] {
        run.invalid("processes.web.colour: unknown field")
            .invalid("image: `registry.example.com/acme/shop` names no tag or digest")
            .invalid("processes.web.replicas: set by the operator")
            .invalid("pod.hostNetwork");
    }
    // The allowed domains are the allocation's: `validate --app` alone cannot know them.
    for run in [s.render(), s.validate()] {
        run.invalid("ingress.hosts[1]: `evil.example.com` is outside the domains")
            .invalid("error: 5 problems in the inputs");
    }
    s.validate_app().invalid("error: 4 problems in the inputs");
}

#[test]
fn image_from_a_registry_the_platform_does_not_allow() {
    let mut s = django();
    s.edit(
        APP,
        "image: registry.example.com/acme/shop:1.4.2",
        "image: docker.io/evil/miner:latest",
    );
    s.render().invalid(
        "app/dovetail.yaml:6:8: error: image: `docker.io/evil/miner:latest` is not from a registry the platform allows (operator/platform.yaml: policy.registries)",
    );
}

/// What the merge finds wrong with a value (an image from another registry, a plan the
/// platform lacks, a zero size) points at the value, which may stand on the line after
/// its key; what is wrong with a name (a platform variable under `env:`) at the key.
#[test]
fn merge_errors_point_at_the_value_they_are_about() {
    let mut s = django();
    s.edit(
        APP,
        "image: registry.example.com/acme/shop:1.4.2",
        "image:\n  docker.io/evil/miner:latest",
    );
    s.edit(
        ALLOC,
        "  web: {replicas: 2, plan: small}",
        "  web:\n    replicas: 2\n    plan:\n      huge",
    );
    s.edit(ALLOC, "database: {size: 10Gi}", "database: {size:   0Gi}");
    s.edit(
        APP,
        "  STATIC_ROOT: /app/static",
        "  STATIC_ROOT: /app/static\n  DATABASE_URL: postgres://elsewhere",
    );
    s.render()
        .invalid("app/dovetail.yaml:7:3: error: image: `docker.io/evil/miner:latest`")
        .invalid("operator/tenants/acme/shop.yaml:12:7: error: processes.web.plan: no plan `huge`")
        .invalid(
            "operator/tenants/acme/shop.yaml:16:22: error: storage.database.size: `0Gi` is zero",
        )
        .invalid("app/dovetail.yaml:24:3: error: env.DATABASE_URL: set by the platform");
}

#[test]
fn secret_of_another_app_cannot_be_referenced() {
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: web, envFrom: [{secretRef: {name: billing-db-app}}]}]}\n",
    );
    s.render().invalid(
        "app/dovetail.yaml:29:61: error: pod.containers[0].envFrom[0].secretRef.name: `billing-db-app` is not a Secret of this app's pods",
    );
}

#[test]
fn probe_host_cannot_point_the_kubelet_elsewhere() {
    let mut s = django();
    s.append(APP, "pod: {containers: [{name: web, livenessProbe: {httpGet: {host: 169.254.169.254, port: 80}}}]}\n");
    s.render().invalid(
        "pod.containers[0].livenessProbe.httpGet.host: a probe or hook may only reach its own pod",
    );
}

#[test]
fn several_allocations_need_a_choice() {
    // A malformed `--allocation` is the command line's: tests/cli.rs.
    let mut s = django();
    let alloc = s.read(ALLOC);
    s.write(
        "operator/tenants/beta/blog.yaml",
        alloc.replace("acme-shop", "beta-blog"),
    );
    let r = s.render();
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("holds 2 allocations; pick one with --allocation TENANT/APP")
    );
    let r = s.allocation("beta", "blog").render();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("namespace: beta-blog"));
}

#[test]
fn files_cannot_reach_into_git_internals() {
    let mut s = django();
    s.write(
        "app/.git/config",
        "[remote \"origin\"]\n\turl = https://token@git.example.com/x\n",
    );
    s.edit(APP, "path: config/logging.ini", "path: .git/config");
    let r = s.render();
    r.invalid(
        "app/dovetail.yaml:24:12: error: files[0].path: `.git/config` leads into git's own data (`.git`)",
    );
    assert!(!r.stderr.contains("token@"));
}

#[test]
fn container_name_collisions_and_unknown_volumes_are_caught_before_apply() {
    let mut s = django();
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  initContainers: [{name: init, image: registry.example.com/acme/wait:1}]\n",
            "  containers: [{name: side, image: registry.example.com/acme/side:1, volumeMounts: [{name: nowhere, mountPath: /x}]}]\n",
            "  volumes: [{name: dovetail-files, emptyDir: {}}]\n",
        ),
    );
    s.render()
        .invalid("app/dovetail.yaml:30:27: error: pod.initContainers[0].name: `init` is the name of a container dovetail adds to pods (the app's `init` step, the waits for `waitFor`), reserved in every pod")
        .invalid("pod.containers[0].volumeMounts[0].name: no volume `nowhere` in the pods of `web`")
        .invalid("pod.volumes[0].name: `dovetail-files` is a name dovetail reserves");
}

#[test]
fn a_sidecar_cannot_mount_the_static_volume_of_a_process_without_it() {
    // Regression: the volume name was accepted for every process, and a worker pod with
    // a sidecar mounting it would have been refused by Kubernetes at apply time.
    let mut s = django();
    s.edit(
        APP,
        "  worker:\n",
        "  worker:\n    pod:\n      containers: [{name: uploader, image: registry.example.com/acme/up:1, volumeMounts: [{name: dovetail-static, mountPath: /data}]}]\n",
    );
    s.render()
        .invalid("processes.worker.pod.containers[0].volumeMounts[0].name: no volume `dovetail-static` in the pods of `worker`; list `worker` under `static.processes`");
}

/// Regression: a fragment could mount a directory inside one of dovetail's config file
/// mounts, or a ConfigMap key (a file) over the directories dovetail mounts into; and a
/// mount in `/proc` was taken. The API server accepts each, and the container does not
/// start: the runtime cannot make a directory inside a file, and runc refuses `/proc`.
#[test]
fn a_fragment_mounts_nothing_inside_a_file_or_proc() {
    let mut s = django();
    s.edit(
        APP,
        "    health: {path: /healthz}\n",
        concat!(
            "    health: {path: /healthz}\n",
            "    pod:\n",
            "      containers:\n",
            "        - name: web\n",
            "          volumeMounts: [{name: dovetail-files, mountPath: /app, subPath: config_logging.ini}]\n",
        ),
    );
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: worker\n",
            "      volumeMounts: [{name: scratch, mountPath: /app/config/logging.ini/sub}, {name: scratch, mountPath: /proc/sys}]\n",
            "  volumes: [{name: scratch, emptyDir: {}}]\n",
        ),
    );
    s.render()
        .invalid("app/dovetail.yaml:18:60: error: processes.web.pod.containers[0].volumeMounts[0].mountPath: a file mounted here would hold dovetail's mount at `/app/config/logging.ini`; the runtime cannot make a directory inside a file")
        .invalid("app/dovetail.yaml:18:60: error: processes.web.pod.containers[0].volumeMounts[0].mountPath: a file mounted here would hold dovetail's mount at `/app/static`")
        .invalid("app/dovetail.yaml:36:49: error: pod.containers[0].volumeMounts[0].mountPath: `/app/config/logging.ini/sub` is inside `/app/config/logging.ini`, where a file is mounted in the same container")
        .invalid("pod.containers[0].volumeMounts[1].mountPath: `/proc/sys` is not an absolute path inside the container, other than `/` itself and outside `/proc`")
        .invalid("error: 4 problems");
}

/// Regression: a fragment could read `<app>-secrets` in an app without secrets,
/// `<app>-db-app` in one without postgres, or a key the app's `<app>-env` or
/// `<app>-files` does not hold: the API server takes the pod, and the kubelet cannot
/// start it (`CreateContainerConfigError`). An `optional` reference may name what is not
/// there, as Kubernetes allows.
#[test]
fn a_fragment_reads_only_what_the_app_renders() {
    let mut s = django();
    s.edit(APP, "services: [postgres, redis]", "services: [redis]");
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: worker\n",
            "      envFrom: [{secretRef: {name: shop-secrets}}, {secretRef: {name: shop-secrets, optional: true}}]\n",
            "      env:\n",
            "        - {name: DB, valueFrom: {secretKeyRef: {name: shop-db-app, key: uri}}}\n",
            "        - {name: X, valueFrom: {configMapKeyRef: {name: shop-env, key: NOPE}}}\n",
            "        - {name: Y, valueFrom: {configMapKeyRef: {name: shop-env, key: DJANGO_DEBUG}}}\n",
            "  volumes:\n",
            "    - {name: cfg, configMap: {name: shop-files, items: [{key: config_logging.ini, path: a}, {key: config_nope.ini, path: b}]}}\n",
        ),
    );
    s.render()
        .invalid("app/dovetail.yaml:32:36: error: pod.containers[0].envFrom[0].secretRef.name: `shop-secrets` is not rendered: the app has no `secrets:`; the kubelet could not start the pod")
        .invalid("app/dovetail.yaml:34:55: error: pod.containers[0].env[0].valueFrom.secretKeyRef.name: `shop-db-app` is not rendered: the app uses no database (`services: [postgres]`)")
        .invalid("app/dovetail.yaml:35:72: error: pod.containers[0].env[1].valueFrom.configMapKeyRef.key: `shop-env` has no key `NOPE`; the kubelet could not start the pod; use one of: DJANGO_DEBUG, DJANGO_SETTINGS_MODULE, GUNICORN_WORKERS, STATIC_ROOT")
        .invalid("app/dovetail.yaml:38:99: error: pod.volumes[0].configMap.items[1].key: `shop-files` has no key `config_nope.ini`; the kubelet could not start the pod; use one of: config_logging.ini")
        .invalid("error: 4 problems");
    // The customer's check without the operator repo finds the same.
    s.validate_app()
        .invalid("pod.containers[0].envFrom[0].secretRef.name: `shop-secrets` is not rendered")
        .invalid("error: 4 problems");
}

/// Regression: a `resourceFieldRef.containerName` naming no container of the pod was
/// accepted, as the API server accepts it; the kubelet then cannot start the pod
/// ("container not found"). A global sidecar naming `web` is fine in web's pods only.
#[test]
fn a_resource_field_ref_must_name_a_container_of_the_pod() {
    let mut s = django();
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: side\n",
            "      image: registry.example.com/acme/side:1\n",
            "      env: [{name: WEB_CPU, valueFrom: {resourceFieldRef: {containerName: web, resource: limits.cpu}}}]\n",
            "  volumes:\n",
            "    - name: limits\n",
            "      downwardAPI: {items: [{path: mem, resourceFieldRef: {containerName: side, resource: limits.memory}}]}\n",
            "    - name: both\n",
            "      projected: {sources: [{downwardAPI: {items: [{path: cpu, resourceFieldRef: {containerName: nginx, resource: limits.cpu}}]}}]}\n",
        ),
    );
    s.render()
        .invalid("app/dovetail.yaml:33:75: error: pod.containers[0].env[0].valueFrom.resourceFieldRef.containerName: no container `web` in the pods of `worker`; the kubelet could not start them; name the process's own container (`worker`) or one of the fragments': `side`")
        .invalid("app/dovetail.yaml:38:98: error: pod.volumes[1].projected.sources[0].downwardAPI.items[0].resourceFieldRef.containerName: no container `nginx` in the pods of `web` and `worker`; the kubelet could not start them; name the process's own container (`web` and `worker`) or one of the fragments': `side`")
        .invalid("error: 2 problems");
}

/// Regression: a probe or lifecycle hook naming a port its container does not declare
/// was accepted, as the API server accepts it; the kubelet finds no such port, and the
/// pod is never ready. The names are the rendered pod's: `http` is the port of the
/// container serving the process (here the sidecar `proxy`, whose own probes give way to
/// the process's), and the process's container has its patches' ports merged by number.
#[test]
fn a_probe_names_a_port_of_its_own_container() {
    let mut s = django();
    s.edit(
        APP,
        "    health: {path: /healthz}\n",
        concat!(
            "    health: {path: /healthz}\n",
            "    pod:\n",
            "      containers:\n",
            "        - name: proxy\n",
            "          image: registry.example.com/acme/nginx:1.27\n",
            "          ports: [{containerPort: 8000, name: front}]\n",
            "          readinessProbe: {tcpSocket: {port: front}}\n",
            "          lifecycle: {preStop: {httpGet: {port: front, path: /}}}\n",
            "        - name: stats\n",
            "          image: registry.example.com/acme/stats:1\n",
            "          ports: [{containerPort: 9000, name: stats}]\n",
            "          livenessProbe: {httpGet: {port: stats, path: /}}\n",
            "          startupProbe: {httpGet: {port: nosuch, path: /}}\n",
            "        - name: web\n",
            "          ports: [{containerPort: 9100, name: prom}]\n",
            "          livenessProbe: {httpGet: {port: http, path: /}}\n",
        ),
    );
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: worker\n",
            "      livenessProbe: {httpGet: {port: http, path: /}}\n",
            "    - name: web\n",
            "      ports: [{containerPort: 9100, name: metrics}]\n",
            "      readinessProbe: {httpGet: {port: metrics, path: /}}\n",
            "    - name: side\n",
            "      image: registry.example.com/acme/side:1\n",
            "      ports: [{containerPort: 9200, name: side}]\n",
            "      readinessProbe: {tcpSocket: {port: nope}}\n",
        ),
    );
    s.render().invalid_all(&[
        "app/dovetail.yaml:21:49: error: processes.web.pod.containers[0].lifecycle.preStop.httpGet.port: the port `front` of `proxy` serves `web`, and is named `http` there, so the kubelet finds no port `front`; give the port's number (8000), or name it `http` [DT411]",
        "app/dovetail.yaml:26:42: error: processes.web.pod.containers[1].startupProbe.httpGet.port: the container `stats` declares no port named `nosuch` in the pods of `web`, so the kubelet can never reach it; name one of its ports there (`stats`), or give the port's number [DT411]",
        "app/dovetail.yaml:29:43: error: processes.web.pod.containers[2].livenessProbe.httpGet.port: the container `web` declares no port named `http` in the pods of `web`, so the kubelet can never reach it; name one of its ports there (`prom`), or give the port's number",
        "app/dovetail.yaml:47:39: error: pod.containers[0].livenessProbe.httpGet.port: the container `worker` declares no port named `http` in the pods of `worker`, so the kubelet can never reach it; `worker` has no `port`; give the port's number, or declare it under the container's `ports:`",
        "app/dovetail.yaml:50:40: error: pod.containers[1].readinessProbe.httpGet.port: the container `web` declares no port named `metrics` in the pods of `web`",
        "app/dovetail.yaml:54:42: error: pod.containers[2].readinessProbe.tcpSocket.port: the container `side` declares no port named `nope` in the pods of `web` and `worker`, so the kubelet can never reach it; name one of its ports there (`side`), or give the port's number [DT411]",
        "error: 6 problems",
    ]);
}

/// Regression: a fragment mounting one file (`subPath`) of a ConfigMap or Secret volume
/// that holds no such file got an empty directory there, or a container that does not
/// start: `dovetail-files`, a volume of the app's own objects, or one with `items`. The
/// path is compared as the kubelet joins it, cleaned, and may go through `..data`.
#[test]
fn a_sub_path_names_a_file_the_volume_holds() {
    let mut s = django();
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  volumes:\n",
            "    - {name: cfg, configMap: {name: shop-files}}\n",
            "    - {name: env, configMap: {name: shop-env}}\n",
            "    - {name: some, configMap: {name: shop-files, items: [{key: config_logging.ini, path: conf/a.ini}]}}\n",
            "    - {name: opt, configMap: {name: shop-files, optional: true}}\n",
            "  containers:\n",
            "    - name: web\n",
            "      volumeMounts:\n",
            "        - {name: dovetail-files, mountPath: /etc/a.ini, subPath: config_logging.ini}\n",
            "        - {name: dovetail-files, mountPath: /etc/b.ini, subPath: config/logging.ini}\n",
            // The kubelet cleans the path it joins: these are the key.
            "        - {name: dovetail-files, mountPath: /etc/c.ini, subPath: ./config_logging.ini/}\n",
            "        - {name: cfg, mountPath: /etc/d.ini, subPath: ..data/config_logging.ini}\n",
            "        - {name: cfg, mountPath: /etc/e.ini, subPath: nope}\n",
            "        - {name: env, mountPath: /etc/f, subPath: NOPE}\n",
            "        - {name: some, mountPath: /etc/g, subPath: conf}\n",
            "        - {name: some, mountPath: /etc/h, subPath: config_logging.ini}\n",
            "        - {name: opt, mountPath: /etc/i, subPath: whatever}\n",
        ),
    );
    s.render().invalid_all(&[
        "app/dovetail.yaml:39:66: error: pod.containers[0].volumeMounts[1].subPath: the app's files have no key `config/logging.ini`; the runtime has nothing to mount here; use one of: config_logging.ini (a file's key is its path with `/` and every other character outside `-._a-zA-Z0-9` written `_`) [DT412]",
        "app/dovetail.yaml:42:55: error: pod.containers[0].volumeMounts[4].subPath: the volume `cfg` has no file `nope`; the runtime has nothing to mount here; use one of: config_logging.ini [DT412]",
        "app/dovetail.yaml:43:51: error: pod.containers[0].volumeMounts[5].subPath: the volume `env` has no file `NOPE`; the runtime has nothing to mount here; use one of: DJANGO_DEBUG, DJANGO_SETTINGS_MODULE, GUNICORN_WORKERS, STATIC_ROOT [DT412]",
        "app/dovetail.yaml:45:52: error: pod.containers[0].volumeMounts[7].subPath: the volume `some` has no file `config_logging.ini`; the runtime has nothing to mount here; use one of: conf/a.ini [DT412]",
        "error: 4 problems",
    ]);
}

/// Regression: a sidecar declaring one number under two protocols had its probe's port
/// name looked up among the last only; a process's patches so declared kept one port in
/// the render. Kubernetes keys ports by number and protocol.
#[test]
fn one_port_number_under_two_protocols_is_two_ports() {
    let mut s = django();
    s.append(
        APP,
        concat!(
            "pod:\n",
            "  containers:\n",
            "    - name: dns\n",
            "      image: registry.example.com/acme/dns:1\n",
            "      ports: [{containerPort: 53, name: dns-tcp}, {containerPort: 53, protocol: UDP, name: dns}]\n",
            "      readinessProbe: {tcpSocket: {port: dns-tcp}}\n",
            "    - name: worker\n",
            "      ports: [{containerPort: 5353, name: m-tcp}]\n",
        ),
    );
    s.edit(
        APP,
        "    command: [\"/async\"]",
        "    command: [\"/async\"]\n    pod: {containers: [{name: worker, ports: [{containerPort: 5353, protocol: UDP, name: m-udp}]}]}",
    );
    let all = s.objects();
    let worker = all
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "shop-worker")
        .unwrap();
    let containers = worker["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let ports = &containers.iter().find(|c| c["name"] == "worker").unwrap()["ports"];
    assert_eq!(
        ports,
        &serde_json::json!([
            {"containerPort": 5353, "name": "m-tcp"},
            {"containerPort": 5353, "protocol": "UDP", "name": "m-udp"}
        ])
    );
}

/// Regression: a global patch of one process's container was checked against another
/// process's pods: mounting `web`'s static volume was "no volume" in `worker`'s.
#[test]
fn a_patch_is_checked_in_its_own_processs_pods_only() {
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: web, volumeMounts: [{name: dovetail-static, mountPath: /srv/more-static}]}]}\n",
    );
    s.render().ok();
}

/// Regression: a `tcpSocket` lifecycle hook was accepted, as the API server accepts it;
/// the kubelet runs no such hook, and a failed postStart kills the container every time.
#[test]
fn a_lifecycle_hook_is_not_a_tcp_socket() {
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: web, lifecycle: {postStart: {tcpSocket: {port: 8000}}}}]}\n",
    );
    s.render()
        .invalid("app/dovetail.yaml:29:56: error: pod.containers[0].lifecycle.postStart.tcpSocket: a lifecycle hook cannot be a tcpSocket: the kubelet does not run it, and the hook fails (a postStart's container is killed); use exec, httpGet or sleep [DT413]")
        .invalid("error: 1 problem");
}

/// Regression: an image whose path joins its parts with separators outside the
/// reference grammar passed, and every pull failed with `InvalidImageName`.
#[test]
fn an_image_reference_follows_the_reference_grammar() {
    let mut s = django();
    s.edit(APP, "acme/shop:1.4.2", "acme.-x/shop:1.4.2");
    s.render()
        .invalid("app/dovetail.yaml:6:8: error: image: `registry.example.com/acme.-x/shop:1.4.2` is not an image reference")
        .invalid("error: 1 problem");
}

#[test]
fn wait_for_needs_the_service_and_the_platforms_wait_image() {
    let mut s = django();
    s.edit(APP, "services: [postgres, redis]", "services: [redis]");
    s.edit(
        APP,
        "    command: [\"/async\"]",
        "    command: [\"/async\"]\n    waitFor: [postgres]",
    );
    s.render()
        .invalid("processes.worker.waitFor[0]: the app does not use `postgres`; add `postgres` to `services:`");

    let mut s = django();
    s.edit(
        APP,
        "    command: [\"/async\"]",
        "    command: [\"/async\"]\n    waitFor: [postgres]",
    );
    s.edit(
        PLATFORM,
        "  wait: docker.io/library/postgres:17.2-alpine\n",
        "",
    );
    s.render()
        .invalid("images: an app waits for its database, and no `images.wait` is set");
}

#[test]
fn an_http_health_check_needs_a_port_and_health_takes_one_kind() {
    let worker_health = "    health: {command: [\"sh\", \"-c\", \"celery -A shop inspect ping -d celery@$HOSTNAME --timeout 10\"]}";
    let mut s = django();
    s.edit(APP, worker_health, "    health: {path: /up}");
    s.render().invalid(
        "app/dovetail.yaml:17:20: error: processes.worker.health.path: an HTTP health check needs the process's `port`; add port:, or check with `health: {command: [...]}`",
    );

    let mut s = django();
    s.edit(
        APP,
        worker_health,
        "    health: {path: /up, command: [true]}",
    );
    s.render()
        .invalid("processes.worker.health: give one of its fields, not several (how to tell the process is healthy: an HTTP path on its port, or a command that exits 0");
}

#[test]
fn validate_with_the_operator_alone_checks_every_allocation() {
    let mut s = django();
    // A second allocation claiming the first one's namespace, and a quota its own pods
    // cannot fit in.
    let alloc = s.read(ALLOC);
    s.write("operator/tenants/acme/blog.yaml", alloc);
    s.append(ALLOC, "quota: {cpu: \"1\", ephemeralStorage: 1Mi}\n");
    let r = s.validate_operator(Format::Github);
    assert_eq!(r.code, 1, "{}", r.stderr);
    for annotation in [
        "::error file=operator/tenants/acme/shop.yaml,line=6,col=12,title=DT603 namespace::namespace `acme-shop` is already operator/tenants/acme/blog.yaml's",
        "title=DT604 quota.cpu::`1` cannot fit the allocation's own pods and volumes, which need 4500m",
        "title=DT604 quota.ephemeralStorage::`1Mi` cannot fit the allocation's own pods and volumes, which need",
    ] {
        assert!(r.stdout.contains(annotation), "{annotation}\n{}", r.stdout);
    }

    let r = django().validate_operator(Format::Text);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("ok: operator repo (platform and every allocation) valid")
    );
}

/// A field in error is left out of the typed input so that the rest is still checked;
/// checks that need the field must then stay silent instead of blaming its absence with
/// the wrong fix (`add port:` under a port that is only quoted). Each case reports its
/// one real error and nothing else, from the render and from `validate --app` alone.
#[test]
fn a_field_in_error_brings_no_follow_up_errors_about_its_absence() {
    let indico = || Scenario::example("indico");
    let ialloc = "operator/tenants/events/indico.yaml";
    let cases: Vec<(Scenario, &str)> = vec![
        (
            {
                let mut s = django();
                s.edit(APP, "    port: 8000\n", "    port: \"8000\"\n");
                s
            },
            "app/dovetail.yaml:13:11: error: processes.web.port: expected an integer",
        ),
        (
            {
                let mut s = indico();
                s.edit(
                    APP,
                    "services: [postgres, redis]",
                    "services: [postgres, redis, mysql]",
                );
                s
            },
            "error: services[2]: `mysql` is not one of `postgres`, `redis`",
        ),
        (
            {
                let mut s = indico();
                s.remove("app/config/indico.conf")
                    .remove("app/config/uwsgi.ini")
                    .remove("app/config/nginx.conf");
                s
            },
            "error: files[2].path: `config/nginx.conf` does not exist",
        ),
        (
            {
                let mut s = indico();
                s.edit(APP, "secrets: secrets.yaml", "secrets: /etc/secrets.yaml");
                s
            },
            "error: secrets: `/etc/secrets.yaml` is not a path relative to the app directory",
        ),
        (
            {
                let mut s = indico();
                s.edit(ialloc, "shared: true", "shared: \"yes\"");
                s
            },
            "error: storage.static.shared: expected a boolean, found a string `yes`",
        ),
    ];
    for (s, error) in cases {
        let r = s.validate();
        let count = if error.contains("files[2]") {
            "3 problems"
        } else {
            "1 problem"
        };
        // validate renders nothing by design, so it does not say so.
        r.invalid(error).invalid(&format!(
            "error: {count} in the inputs; fix the problems above"
        ));
        assert!(!r.stderr.contains("nothing was rendered"), "{}", r.stderr);
    }
}

/// Regression: `validate --operator` took an allocation `path` inside `.git`, or with a
/// `\` or a control character, which no checkout of the customer repo has.
#[test]
fn an_allocation_path_names_a_directory_a_checkout_can_have() {
    let mut s = django();
    for bad in [".git", "apps/.GIT/shop", "'apps\\shop'", "\"apps\\bshop\""] {
        s.edit(
            ALLOC,
            "namespace: acme-shop",
            &format!("namespace: acme-shop\npath: {bad}"),
        );
        s.validate_operator(Format::Text)
            .invalid("operator/tenants/acme/shop.yaml:7:7: error: path: `")
            .invalid("is not the app's directory inside the customer repo (not absolute, and no '..', '.git', '\\' or control character in it); write it like apps/shop [DT204]");
        s.edit(ALLOC, &format!("\npath: {bad}"), "");
    }
}

/// A tenant directory the operator repo cannot list (a link out of the repo here; an
/// unreadable directory on disk) hides its allocations: that is an error naming it,
/// never "no allocation" or a fleet silently without them.
#[test]
fn a_tenant_directory_that_cannot_be_listed_is_an_error_not_an_empty_fleet() {
    let mut s = django();
    s.symlink("operator/tenants/beta", "/etc");
    s.validate_operator(Format::Text)
        .invalid("operator/tenants/beta:1:1: error: `tenants/beta` leads outside the repo");
    // Without --allocation, the only allocation cannot be told: one may be in there.
    s.render().fails(
        Some(2),
        "error: cannot read `operator/tenants/beta`: `tenants/beta` leads outside the repo",
    );
    // Named, the app's own allocation is still found.
    s.allocation("acme", "shop");
    s.render().ok();
}

/// A whole number too large for 64 bits is still a number: it is out of range (shown as
/// written), not "a string", and the field it was dropped from is not then "required".
#[test]
fn a_number_past_64_bits_is_out_of_range_as_written() {
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: web, ports: [{name: x, containerPort: 99999999999999999999}]}]}\n",
    );
    s.edit(ALLOC, "replicas: 2", "replicas: 99999999999999999999");
    s.validate()
        .invalid("app/dovetail.yaml:29:65: error: pod.containers[0].ports[0].containerPort: `99999999999999999999` is above the maximum of 65535")
        .invalid("operator/tenants/acme/shop.yaml:9:19: error: processes.web.replicas: `99999999999999999999` is above the maximum of 100")
        .invalid("error: 2 problems in the inputs");
}

/// An allocation saved as `.yml` is not read; `validate --operator` says so instead of
/// leaving the operator to wonder where the app went.
#[test]
fn an_allocation_named_yml_is_reported_not_silently_skipped() {
    let mut s = django();
    let text = s.read(ALLOC);
    s.write("operator/tenants/beta/blog.yml", text);
    s.validate_operator(Format::Text).warns(
        "operator/tenants/beta/blog.yml:1:1: warning: is not read: allocations are named tenants/<tenant>/<app>.yaml; rename it to .yaml",
    );
}

/// Regression: an allocation one level too high (`tenants/blog.yaml`) or too deep
/// (`tenants/beta/blog/x.yaml`) was skipped without a word; a README beside them, or a
/// directory without YAML, is nothing to warn of.
#[test]
fn an_allocation_in_the_wrong_place_is_reported_not_silently_skipped() {
    let mut s = django();
    let text = s.read(ALLOC);
    s.write("operator/tenants/blog.yaml", text.clone());
    s.write("operator/tenants/beta/blog/x.yaml", text);
    s.write("operator/tenants/README.md", "The tenants.\n".to_owned());
    s.write("operator/tenants/acme/README.md", "Acme.\n".to_owned());
    s.write("operator/tenants/acme/docs/notes.md", "Notes.\n".to_owned());
    let r = s.validate_operator(Format::Text);
    for place in ["tenants/blog.yaml", "tenants/beta/blog"] {
        r.warns(&format!(
            "operator/{place}:1:1: warning: is not read: allocations are files named tenants/<tenant>/<app>.yaml; move each allocation to tenants/<tenant>/<app>.yaml, or remove it [DT101]"
        ));
    }
    assert!(
        !r.stderr.contains("README") && !r.stderr.contains("docs"),
        "{}",
        r.stderr
    );
}

/// Regression: a backup endpoint written as an address outside `database.backup.egress`
/// passed every check, and the database's NetworkPolicy then blocked WAL archiving and
/// base backups, found out only when a restore had nothing to restore.
#[test]
fn a_backup_endpoint_address_must_be_one_the_database_may_reach() {
    let mut s = Scenario::example("pulp");
    let valid = "ok: operator repo (platform and every allocation) valid";
    s.validate_operator(Format::Text).warns(valid);
    s.edit(
        "operator/platform.yaml",
        "egress: [10.20.0.15/32]",
        "egress: [10.30.0.0/16]",
    );
    let outside = "operator/platform.yaml:18:18: error: database.backup.endpointURL: the object store's address 10.20.0.15 is outside `database.backup.egress` (less the metadata service's and the cluster's own ranges): the database's NetworkPolicy would block WAL archiving and base backups; add the object store's block to `database.backup.egress`, or fix the URL [DT509]";
    s.validate_operator(Format::Text).invalid(outside);
    s.render().invalid(outside);
    // Without `egress`, anywhere but the metadata service and the cluster's ranges.
    s.edit("operator/platform.yaml", "    egress: [10.30.0.0/16]\n", "");
    s.validate_operator(Format::Text).warns(valid);
    s.edit(
        "operator/platform.yaml",
        "10.20.0.15:9000",
        "169.254.169.254:9000",
    );
    s.validate_operator(Format::Text)
        .invalid("the object store's address 169.254.169.254 lies in the metadata service's or the cluster's own ranges");
}

/// `processes.init` of an allocation sizes the init step; what scales or exposes a
/// process cannot apply to a step that runs once, and is not silently dropped.
#[test]
fn replicas_for_the_init_step_are_reported_as_unused() {
    let mut s = django();
    s.edit(
        ALLOC,
        "processes:\n",
        "processes:\n  init: {plan: small, replicas: 3}\n",
    );
    let expected = "operator/tenants/acme/shop.yaml:9:23: warning: processes.init.replicas: the init step runs once per rollout: `replicas` does not apply to it";
    s.validate().warns(expected);
    s.validate_operator(Format::Text).warns(expected);
}

/// A process's pods run the global fragment's sidecars and its own; together they may
/// not outnumber `policy.maxSidecars`, which only the operator raises.
#[test]
fn sidecars_past_policy_max_sidecars_are_refused_at_the_first_one_over() {
    let sidecar =
        |name: &str| format!("{{name: {name}, image: registry.example.com/acme/{name}:1}}");
    let fragments = format!(
        "pod: {{containers: [{}, {}, {}]}}\n",
        sidecar("a"),
        sidecar("b"),
        sidecar("c")
    );
    let own = format!(
        "    pod: {{containers: [{}, {}]}}\n",
        sidecar("d"),
        sidecar("e")
    );
    let mut s = django();
    s.append(APP, &fragments);
    s.edit(
        APP,
        "    health: {path: /healthz}\n",
        &format!("    health: {{path: /healthz}}\n{own}"),
    );
    s.render().invalid(
        "app/dovetail.yaml:15:73: error: processes.web.pod.containers[1]: the pods of `web` would run 5 sidecars; the platform allows 4 sidecars per pod (policy.maxSidecars); run the extra work in one sidecar or in another process, or ask the platform operator to raise policy.maxSidecars [DT418]",
    );

    // The worker runs the three global ones only; raised to 5, web's five are allowed.
    s.edit(
        PLATFORM,
        "  sidecarResources: {cpu: 50m, memory: 64Mi}\n",
        "  sidecarResources: {cpu: 50m, memory: 64Mi}\n  maxSidecars: 5\n",
    );
    let rendered = s.render();
    assert_eq!(rendered.code, 0, "{}", rendered.stderr);

    // None at all: the first global sidecar is refused, for every process.
    s.edit(PLATFORM, "  maxSidecars: 5\n", "  maxSidecars: 0\n");
    s.render()
        .invalid("pod.containers[0]: the pods of `web` would run 5 sidecars; the platform allows no sidecar per pod")
        .invalid("pod.containers[0]: the pods of `worker` would run 3 sidecars; the platform allows no sidecar per pod");
}

/// A fragment container's image in error is left out of the typed input; it must be
/// reported once, as what it is, not again (once per process) as missing with the advice
/// to add one.
#[test]
fn a_fragment_image_in_error_is_not_also_reported_missing() {
    let mut s = django();
    s.append(
        APP,
        "pod:\n  containers:\n    - {name: s, image: \"registry.example.com/acme/side:1 \"}\n  initContainers:\n    - {name: i, image: bad image}\n",
    );
    let r = s.render();
    r.invalid(
        "pod.containers[0].image: `registry.example.com/acme/side:1 ` is not an image reference",
    )
    .invalid("pod.initContainers[0].image: `bad image` is not an image reference")
    .invalid("error: 2 problems in the inputs");
    assert!(!r.stderr.contains("has no image"), "{}", r.stderr);
    assert!(!r.stderr.contains("needs an image"), "{}", r.stderr);
}

/// A process in error is left out of the typed app; what names it (the allocation's
/// sizes, `static.processes`, the Ingress, an initContainer init) must not also report
/// it missing, each with a wrong fix.
#[test]
fn a_process_in_error_is_not_also_reported_missing() {
    let mut s = django();
    s.edit(
        APP,
        "  web:\n    command: [\"/run\"]           # gunicorn\n    port: 8000\n    health: {path: /healthz}\n",
        "  web: ~\n",
    );
    let r = s.render();
    r.invalid("processes.web: expected a mapping, found nothing (null); write its fields indented on the lines below it, or remove it [DT203]")
        .invalid("error: 1 problem in the inputs; nothing was rendered");
    assert!(!r.stderr.contains("has no process"), "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

/// Platform values written into label selectors and namespace labels are checked as the
/// API server checks labels: a DNS pod label it refuses would make every app's
/// NetworkPolicy unappliable, a dotted ingress namespace would never match.
#[test]
fn platform_labels_and_namespaces_are_checked_as_the_api_server_checks_them() {
    let mut s = django();
    s.append(
        PLATFORM,
        "network:\n  dns: {namespace: kube-system, podLabels: {k8s-app: \"kube-dns-\", \"k8s app\": x, \"a/b/c\": y}}\n",
    );
    s.edit(
        PLATFORM,
        "clusterIssuer: letsencrypt}",
        "clusterIssuer: letsencrypt, controllerNamespace: ingress.nginx}",
    );
    s.render()
        .invalid("error: ingress.controllerNamespace: `ingress.nginx` is not a namespace name (a DNS label")
        .invalid("error: network.dns.podLabels.k8s-app: `kube-dns-` is not a label value")
        .invalid("error: network.dns.podLabels.k8s app: `k8s app` is not a label key")
        .invalid("error: network.dns.podLabels.a/b/c: `a/b/c` is not a label key");
    s.edit(
        PLATFORM,
        "{k8s-app: \"kube-dns-\", \"k8s app\": x, \"a/b/c\": y}",
        "{k8s-app: kube-dns, app.kubernetes.io/name: coredns}",
    )
    .edit(
        PLATFORM,
        "controllerNamespace: ingress.nginx",
        "controllerNamespace: ingress-nginx",
    );
    s.rendered();
}

/// A volume over `/` hides the image: the container cannot start.
#[test]
fn a_mount_at_the_root_is_refused() {
    let mut s = django();
    s.edit(APP, "mount: /app/static", "mount: /");
    s.render()
        .invalid("error: static.mount: `/` is not an absolute path inside the container, other than `/` itself");
}

/// An app's Services are `<app>-<process>`, and clusters before 1.36 refuse a Service
/// name that starts with a digit: such an allocation is refused by name, as is
/// `--allocation` naming it.
#[test]
fn an_app_name_starting_with_a_digit_is_refused() {
    let mut s = django();
    let text = s.read(ALLOC);
    s.write("operator/tenants/acme/1shop.yaml", text);
    s.remove(ALLOC);
    s.render().fails(
        Some(2),
        "`operator/tenants/acme/1shop.yaml`: tenant and app names must be lowercase letters, digits and '-', at most 30 characters, an app's starting with a letter, and neither `dovetail` nor `dovetail-…`",
    );
}

/// Every app's NetworkPolicies admit the platform's components by their namespace's
/// name: an app placed in one (CloudNativePG's, the ingress controller's, Prometheus')
/// could reach every tenant's database or pods, and the fleet would put its deny-all,
/// quota and LimitRange on the component. Such a namespace is refused.
#[test]
fn an_allocation_in_a_namespace_of_the_platform_is_refused() {
    for (ns, whose) in [
        (
            "cnpg-system",
            "CloudNativePG's (database.operatorNamespace)",
        ),
        (
            "ingress-nginx",
            "the ingress controller's (ingress.controllerNamespace)",
        ),
        ("dovetail-system", "dovetail's controller's"),
    ] {
        let mut s = django();
        s.edit(ALLOC, "namespace: acme-shop", &format!("namespace: {ns}"));
        let expected = format!("error: namespace: `{ns}` is {whose} namespace");
        s.validate_operator(Format::Text).invalid(&expected);
        // The app's own render too.
        s.render().invalid(&expected);
    }
}

/// The fleet's AppProject admits the allocation's repo as its only source, and Argo CD
/// reads `*`, `?`, `[`… there as a pattern: a repo holding one would admit every repo it
/// matches.
#[test]
fn an_allocation_repo_with_pattern_characters_is_refused() {
    let mut s = django();
    s.edit(
        ALLOC,
        "repo: https://git.example.com/acme/shop.git",
        "repo: https://git.example.com/acme/*",
    );
    s.validate_operator(Format::Text)
        .invalid("error: repo: `https://git.example.com/acme/*` is not the customer repo's URL");
}

/// A CPU written as a YAML number escaped the quantity format (which checks strings):
/// `0.0009` rounded to a zero CPU limit, `1e-7` came out as the text `"1e-7"`. A number
/// is held to the format's rule.
#[test]
fn cpu_numbers_are_held_to_the_quantity_format() {
    let mut s = django();
    s.edit(ALLOC, "cpu: 500m", "cpu: 0.0009");
    s.render()
        .invalid("error: processes.worker.cpu: expected a CPU quantity of at most three decimals, like 0.25 (or \"250m\"), found `0.0009`");
    let mut s = django();
    s.append(ALLOC, "quota: {cpu: 1e-7}\n");
    s.render()
        .invalid("error: quota.cpu: expected a CPU quantity of at most three decimals, like 0.25 (or \"250m\"), found `1e-7`");
    let mut s = django();
    s.edit(ALLOC, "cpu: 500m", "cpu: 0.5");
    s.rendered();
}

/// Regression: a field in error was left out of the typed app, and when it was one its
/// parent needs (a `files` entry's `mount`), the whole app failed to type and the
/// merge's problems went unreported until the first was fixed.
#[test]
fn a_required_field_in_error_does_not_hide_the_merges_problems() {
    let mut s = django();
    s.edit(APP, "mount: /app/config/logging.ini", "mount: app/x");
    s.edit(
        APP,
        "  GUNICORN_WORKERS: 3\n",
        "  GUNICORN_WORKERS: 3\n  DATABASE_URL: x\n",
    );
    s.render()
        .invalid("files[0].mount: `app/x` is not an absolute path")
        .invalid("env.DATABASE_URL: set by the platform for `services: [postgres]`");
}

/// Regression: a top-level field left out (one each file's schema requires) stopped the
/// merge, so that what it found wrong in the rest came only on the next run. The field
/// is stood in for and the merge's checks pass over it: one run gives the missing field
/// and the merge's problem, and nothing the stand-in would have caused.
#[test]
fn a_missing_top_level_field_does_not_hide_the_merges_problems() {
    let cases = [
        (
            APP,
            "image: registry.example.com/acme/shop:1.4.2\n",
            "image",
            "4:1",
        ),
        (
            APP,
            "processes:\n  web:\n    command: [\"/run\"]           # gunicorn\n    port: 8000\n    health: {path: /healthz}\n  worker:\n    command: [\"/async\"]         # celery worker\n    health: {command: [\"sh\", \"-c\", \"celery -A shop inspect ping -d celery@$HOSTNAME --timeout 10\"]}\n",
            "processes",
            "4:1",
        ),
        (
            ALLOC,
            "repo: https://git.example.com/acme/shop.git\n",
            "repo",
            "3:1",
        ),
        (ALLOC, "namespace: acme-shop\n", "namespace", "3:1"),
        (
            ALLOC,
            "processes:\n  web: {replicas: 2, plan: small}\n  worker: {replicas: 1, cpu: 500m, memory: 1Gi}\n",
            "processes",
            "3:1",
        ),
        (
            PLATFORM,
            "images:\n  nginx: docker.io/nginxinc/nginx-unprivileged:1.27.3\n  redis: docker.io/library/redis:7.4.1\n  wait: docker.io/library/postgres:17.2-alpine\n",
            "images",
            "3:1",
        ),
        (
            PLATFORM,
            "policy:\n  registries: [\"registry.example.com/*\"]\n  sidecarResources: {cpu: 50m, memory: 64Mi}\n",
            "policy",
            "3:1",
        ),
        (
            PLATFORM,
            "plans:\n  small: {cpu: 250m, memory: 512Mi}\n  medium: {cpu: \"1\", memory: 2Gi}\n",
            "plans",
            "3:1",
        ),
    ];
    for (file, text, field, at) in cases {
        let mut s = django();
        s.edit(file, text, "");
        s.edit(
            APP,
            "  GUNICORN_WORKERS: 3\n",
            "  GUNICORN_WORKERS: 3\n  DATABASE_URL: x\n",
        );
        let r = s.render();
        r.invalid(&format!(
            "{file}:{at}: error: {field}: required field missing"
        ))
        .invalid("env.DATABASE_URL: set by the platform for `services: [postgres]`");
        assert!(
            r.stderr.contains("error: 2 problems in the inputs"),
            "{file} without `{field}`: only the two problems are wanted:\n{}",
            r.stderr
        );
    }
}

/// As above, for top-level fields of the wrong kind, in all three files at once.
#[test]
fn top_level_fields_of_the_wrong_kind_do_not_hide_the_merges_problems() {
    let mut s = django();
    s.edit(
        APP,
        "image: registry.example.com/acme/shop:1.4.2",
        "image: [a]",
    );
    s.edit(
        APP,
        "  GUNICORN_WORKERS: 3\n",
        "  GUNICORN_WORKERS: 3\n  DATABASE_URL: x\n",
    );
    s.edit(ALLOC, "namespace: acme-shop", "namespace: {}");
    s.edit(PLATFORM, "policy:\n", "policy: 3\nretired:\n");
    let r = s.render();
    r.invalid("app/dovetail.yaml:6:1: error: image: expected a string, found a list")
        .invalid("app/dovetail.yaml:22:3: error: env.DATABASE_URL: set by the platform")
        .invalid("operator/tenants/acme/shop.yaml:6:1: error: namespace: expected a string")
        .invalid("operator/platform.yaml:13:9: error: policy: expected a mapping")
        .invalid("operator/platform.yaml:14:1: error: retired: unknown field")
        .invalid("error: 5 problems in the inputs");
}

/// Regression: a `services` list in error was left out, and the allocation's restore was
/// then refused for an app that "uses no database".
#[test]
fn a_services_list_in_error_is_not_taken_for_no_database() {
    let mut s = django();
    s.edit(
        APP,
        "services: [postgres, redis]",
        "services: [postgres, redis, mongo]",
    );
    s.append(ALLOC, "restore: {database: {from: backup}}\n");
    let r = s.render();
    r.invalid("services[2]: `mongo` is not one of");
    assert!(!r.stderr.contains("the app uses none"), "{}", r.stderr);
}

/// Regression: two tenants' allocations could let their apps use one hostname (the
/// same domain, or a wildcard over the other's), and one tenant's customer could then
/// claim the other's host and have a certificate issued for it. The same tenant's apps
/// may share.
#[test]
fn two_tenants_may_not_use_one_hostname() {
    let blog = |domains: &str| {
        let mut s = django();
        let shop = s.read(ALLOC);
        s.write(
            "operator/tenants/beta/blog.yaml",
            shop.replace("namespace: acme-shop", "namespace: beta-blog")
                .replace(
                    "domains: [\"shop.acme.example\", \"*.acme.apps.example.net\"]",
                    &format!("domains: {domains}"),
                ),
        );
        s
    };
    // Reported at both ends: either may be the allocation a change added.
    blog("[shop.acme.example]")
        .validate_operator(Format::Text)
        .invalid(
            "operator/tenants/beta/blog.yaml:7:11: error: domains[0]: `shop.acme.example` overlaps `shop.acme.example`, tenant `acme`'s (operator/tenants/acme/shop.yaml:7:11); give each tenant domains of its own [DT607]",
        )
        .invalid(
            "operator/tenants/acme/shop.yaml:7:11: error: domains[0]: `shop.acme.example` overlaps `shop.acme.example`, tenant `beta`'s (operator/tenants/beta/blog.yaml:7:11)",
        );
    // However many clash with one domain, its own allocation hears of it once.
    let mut three = blog("[shop.acme.example]");
    let shop = three.read(ALLOC);
    three.write(
        "operator/tenants/gamma/wiki.yaml",
        shop.replace("namespace: acme-shop", "namespace: gamma-wiki"),
    );
    let r = three.validate_operator(Format::Text);
    assert_eq!(
        r.stderr
            .matches("operator/tenants/acme/shop.yaml:7:11: error")
            .count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "operator/tenants/gamma/wiki.yaml:7:11: error: domains[0]: `shop.acme.example` overlaps"
        ),
        "{}",
        r.stderr
    );
    blog("[\"*.acme.example\"]")
        .validate_operator(Format::Text)
        .invalid("domains[0]: `*.acme.example` overlaps `shop.acme.example`, tenant `acme`'s");
    blog("[x.acme.apps.example.net]").validate_operator(Format::Text).invalid(
        "domains[0]: `x.acme.apps.example.net` overlaps `*.acme.apps.example.net`, tenant `acme`'s",
    );
    let r = blog("[blog.beta.example, \"*.apps.example.net\", x.y.acme.apps.example.net]")
        .validate_operator(Format::Text);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut same_tenant = django();
    let shop = same_tenant.read(ALLOC);
    same_tenant.write(
        "operator/tenants/acme/blog.yaml",
        shop.replace("namespace: acme-shop", "namespace: acme-blog"),
    );
    let r = same_tenant.validate_operator(Format::Text);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Regression: DEL and C1 controls, written as YAML escapes, reached the manifests, and
/// the API server's server-side apply refused them ("control characters are not
/// allowed"): an Argo CD sync failed half-way. Config files holding them go in
/// `binaryData` instead.
#[test]
fn characters_server_side_apply_refuses_are_refused_at_their_place() {
    let mut s = django();
    s.edit(
        APP,
        "  STATIC_ROOT: /app/static",
        "  STATIC_ROOT: \"/app/st\\x7Fatic\"",
    );
    s.edit(
        APP,
        "    command: [\"/run\"]",
        "    command: [\"/run\\u0085\\u0090\"]",
    );
    let r = s.validate();
    r.invalid("app/dovetail.yaml:22:16: error: env.STATIC_ROOT: character 8 is U+007F, which Kubernetes' server-side apply refuses; remove it")
        .invalid("app/dovetail.yaml:12:15: error: processes.web.command[0]: character 6 is U+0090");
    assert!(r.stderr.contains("error: 2 problems"), "{}", r.stderr);

    let mut s = django();
    s.write("app/config/logging.ini", "keys=root\u{7f}\n");
    let r = s.render();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("binaryData:\n  config_logging.ini: a2V5cz1yb290fwo=\n"),
        "{}",
        r.stdout
    );
}

/// Regression (review of the change that made an error on an enclosing field count as
/// dropping its fields): a domain in error hid the host check of every host, and a plan
/// name with a dot was split into a path.
#[test]
fn a_value_in_error_hides_only_what_it_could_have_allowed() {
    let mut s = django();
    s.edit(
        ALLOC,
        "domains: [\"shop.acme.example\"",
        "domains: [\"Bad..Domain\", \"shop.acme.example\"",
    );
    s.edit(
        APP,
        "hosts: [shop.acme.example]",
        "hosts: [shop.acme.example, evil.other.example]",
    );
    let r = s.validate();
    r.invalid("app/dovetail.yaml:28:30: error: ingress.hosts[1]: `evil.other.example` is outside the domains the operator allows (operator/tenants/acme/shop.yaml: shop.acme.example, *.acme.apps.example.net)");
    assert!(r.stderr.contains("error: 2 problems"), "{}", r.stderr);

    let mut s = django();
    s.edit(
        PLATFORM,
        "small: {cpu: 250m, memory: 512Mi}",
        "small.v2: {cpu: 250m, memory: 5Mi}",
    );
    s.edit(ALLOC, "plan: small}", "plan: small.v2}");
    let r = s.validate_operator(Format::Text);
    r.invalid("operator/platform.yaml:17:33: error: plans.small.v2.memory: `5Mi` is less than the 6Mi a container needs to start; give at least 6Mi");
    assert!(!r.stderr.contains("no plan"), "{}", r.stderr);
    assert!(r.stderr.contains("error: 1 problem "), "{}", r.stderr);
}

/// Regression: `validate --operator` passed sizes that every render of the app then
/// refused (a plan the platform lacks, a size of zero, an entry sized by neither a plan
/// nor cpu and memory): the operator's CI let them through to every refresh of the app.
#[test]
fn validate_operator_refuses_the_sizes_the_apps_render_refuses() {
    let mut s = django();
    s.edit(ALLOC, "plan: small}", "plan: large}");
    s.edit(ALLOC, "cpu: 500m", "cpu: \"0\"");
    s.edit(
        ALLOC,
        "processes:\n",
        "processes:\n  \"*\": {replicas: 1}\n",
    );
    let large = "operator/tenants/acme/shop.yaml:10:28: error: processes.web.plan: no plan `large` in operator/platform.yaml; use one of: medium, small";
    let zero = "operator/tenants/acme/shop.yaml:11:30: error: processes.worker.cpu: `0` is zero";
    s.validate_operator(Format::Text)
        .invalid(large)
        .invalid(zero)
        .invalid("operator/tenants/acme/shop.yaml:9:3: error: processes.*: neither a plan nor both cpu and memory")
        .invalid("error: 3 problems in the inputs");
    // The app has no process under `*`: its render sizes only the other two.
    s.render()
        .invalid(large)
        .invalid(zero)
        .invalid("error: 2 problems in the inputs");
}

/// Regression: a platform field in error (`clusters: 3`) was read as empty, and every
/// allocation naming a cluster was then blamed for it ("no cluster `eu-2`"), one
/// error per tenant with the wrong fix; so were allocations naming a plan when `plans`
/// was in error, or restoring a database when `database` was.
#[test]
fn platform_fields_in_error_are_not_blamed_on_each_allocation() {
    let mut s = django();
    s.edit(
        PLATFORM,
        "plans:\n  small: {cpu: 250m, memory: 512Mi}\n  medium: {cpu: \"1\", memory: 2Gi}\n",
        "plans: 3\nclusters: 3\n",
    );
    s.edit(
        PLATFORM,
        "database: {provider: cnpg, instances: 1}",
        "database: {provider: cnpg, instances: 1, backup: 3}",
    );
    s.append(
        ALLOC,
        "cluster: eu-2\nrestore: {database: {from: backup}}\n",
    );
    s.edit(
        ALLOC,
        "database: {size: 10Gi}",
        "database: {size: 10Gi, generation: 2}",
    );
    let expected = [
        "operator/platform.yaml:12:",
        "operator/platform.yaml:16:8: error: plans: expected a mapping",
        "operator/platform.yaml:17:11: error: clusters: expected a mapping",
        "error: 3 problems in the inputs",
    ];
    for r in [s.validate_operator(Format::Text), s.render()] {
        for line in expected {
            r.invalid(line);
        }
    }
    // What the allocation alone gets wrong is still reported.
    s.edit(ALLOC, ", generation: 2}", "}");
    for r in [s.validate_operator(Format::Text), s.render()] {
        r.invalid("error: storage.database.generation: the restored database archives to a new backup generation")
            .invalid("error: 4 problems in the inputs");
    }
}

/// Regression: a nested field in error (`redis.memory` below what a container needs)
/// was stood in for like a missing top-level field, and the merge then checked the
/// stand-in: an empty value "is less than Redis needs to start", a second error.
#[test]
fn a_nested_field_in_error_is_reported_once_not_checked_as_empty() {
    let mut s = django();
    s.edit(ALLOC, "redis: {memory: 256Mi}", "redis: {memory: 1Mi}");
    let r = s.render();
    r.invalid("operator/tenants/acme/shop.yaml:14:17: error: redis.memory: `1Mi` is less than the 6Mi a container needs")
        .invalid("error: 1 problem in the inputs");
    assert!(!r.stderr.contains("``"), "{}", r.stderr);
}

/// Regression: `validate --operator` passed allocations every render of the app then
/// refused: autoscaling below replicas, a storage size of zero, Redis too small to
/// start or with a zero volume, a shared volume on a platform without a class for one.
#[test]
fn validate_operator_refuses_what_every_render_of_the_allocation_refuses() {
    let mut s = django();
    s.edit(
        ALLOC,
        "web: {replicas: 2, plan: small}",
        "web: {replicas: 4, plan: small, autoscaling: {maxReplicas: 3}}",
    );
    s.edit(ALLOC, "static: {size: 5Gi,", "static: {size: \"0\",");
    s.edit(
        ALLOC,
        "redis: {memory: 256Mi}",
        "redis: {memory: 10Mi, persistence: {size: \"0\"}}",
    );
    s.edit(
        PLATFORM,
        "storage: {block: ceph-rbd, shared: cephfs}",
        "storage: {block: ceph-rbd}",
    );
    let allocation = [
        "operator/tenants/acme/shop.yaml:9:62: error: processes.web.autoscaling.maxReplicas: 3 is below replicas (4)",
        "operator/tenants/acme/shop.yaml:12:18: error: storage.static.size: `0` is zero",
        "operator/tenants/acme/shop.yaml:14:17: error: redis.memory: `10Mi` is less than Redis needs to start",
        "operator/tenants/acme/shop.yaml:14:43: error: redis.persistence.size: `0` is zero",
    ];
    s.validate_operator(Format::Text)
        .invalid_all(&allocation)
        .invalid("operator/tenants/acme/shop.yaml:12:31: error: storage.static.shared: a shared (ReadWriteMany) volume, and operator/platform.yaml sets no `storage.shared` class")
        .invalid("error: 5 problems in the inputs");
    s.render()
        .invalid_all(&allocation)
        .invalid("operator/platform.yaml:11:1: error: storage: an allocation asks for a shared (ReadWriteMany) volume")
        .invalid("error: 5 problems in the inputs");
}

/// Regression: sizes of zero in `platform.yaml` and egress rules no app may have passed
/// `validate --operator`, and then every render failed: the database's with "a bug in
/// dovetail" at the customer's `dovetail.yaml:1:1` (or, spelt `0.0`, rendered with no
/// CPU limit at all), a plan's blamed on every allocation naming it, once per process.
/// Each is `platform.yaml`'s problem, reported there once, by both.
#[test]
fn platform_sizes_of_zero_and_bad_egress_are_reported_once_at_platform_yaml() {
    let mut s = django();
    s.edit(
        PLATFORM,
        "database: {provider: cnpg, instances: 1}",
        "database: {provider: cnpg, instances: 1, resources: {cpu: \"0.0\", memory: 1Gi, ephemeralStorage: 0Gi}}",
    );
    s.edit(PLATFORM, "small: {cpu: 250m,", "small: {cpu: \"0m\",");
    s.edit(
        PLATFORM,
        "  sidecarResources: {cpu: 50m, memory: 64Mi}\n",
        "  sidecarResources: {cpu: 50m, memory: 64Mi}\n  ephemeralStorage: \"0\"\n",
    );
    s.append(
        PLATFORM,
        "network: {egress: [{cidr: 169.254.0.0/16}, {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]}\n",
    );
    for r in [s.validate_operator(Format::Text), s.render()] {
        r.invalid("operator/platform.yaml:12:59: error: database.resources.cpu: `0.0` is zero")
            .invalid("operator/platform.yaml:12:97: error: database.resources.ephemeralStorage: `0Gi` is zero")
            .invalid("operator/platform.yaml:16:21: error: policy.ephemeralStorage: `0` is zero")
            .invalid("operator/platform.yaml:18:16: error: plans.small.cpu: `0m` is zero")
            .invalid("operator/platform.yaml:20:27: error: network.egress[0].cidr: `169.254.0.0/16` lies inside")
            .invalid("operator/platform.yaml:20:63: error: network.egress[1].except: `192.168.0.0/16` is not inside `10.0.0.0/8`")
            .invalid("error: 6 problems in the inputs");
        assert!(!r.stderr.contains("tenants/acme"), "{}", r.stderr);
    }
}

/// Regression: an explicit quota too small for the allocation's own pods failed the
/// fleet and `validate --operator`, and passed the app's render and `validate` with both
/// repos, the check customers and operators run before a merge.
#[test]
fn a_quota_the_fleet_refuses_is_refused_by_the_apps_render_too() {
    let mut s = django();
    s.append(ALLOC, "quota: {cpu: \"1\"}\n");
    let expected = "operator/tenants/acme/shop.yaml:15:14: error: quota.cpu: `1` cannot fit the allocation's own pods and volumes";
    s.validate_operator(Format::Text).invalid(expected);
    s.validate().invalid(expected).invalid("error: 1 problem");
    s.render().invalid(expected);
}

/// Regression: `validate --operator` and the fleet skipped every check of an allocation
/// with any schema error, so an unknown plan beside an unknown field came a run later
/// (the render reported both), and an allocation that did not parse escaped the
/// "Application name claimed twice" check, which reads only its file's name. The fields
/// in error themselves are not blamed for their absence (a cpu in error is not "neither
/// a plan nor both cpu and memory", a generation in error no restore from generation 1).
#[test]
fn an_allocation_in_error_is_still_checked_in_full_by_validate_operator() {
    let mut s = django();
    s.edit(ALLOC, "plan: small}", "plan: huge}");
    s.edit(
        ALLOC,
        "redis: {memory: 256Mi}",
        "redis: {memory: 8Mi}\nfoo: 1",
    );
    s.edit(ALLOC, "cpu: 500m,", "cpu: 5x,");
    s.edit(
        ALLOC,
        "database: {size: 10Gi}",
        "database: {size: 10Gi, generation: x}\nrestore: {database: {from: backup}}",
    );
    let expected = [
        "operator/tenants/acme/shop.yaml:9:28: error: processes.web.plan: no plan `huge`",
        "operator/tenants/acme/shop.yaml:10:30: error: processes.worker.cpu: `5x` is not a CPU quantity",
        "operator/tenants/acme/shop.yaml:13:38: error: storage.database.generation: expected an integer",
        "operator/tenants/acme/shop.yaml:14:28: error: restore.database.from: the restore reads the app's backups, and platform.yaml configures none",
        "operator/tenants/acme/shop.yaml:15:17: error: redis.memory: `8Mi` is less than Redis needs to start",
        "operator/tenants/acme/shop.yaml:16:1: error: foo: unknown field",
    ];
    for r in [s.validate_operator(Format::Text), s.render()] {
        r.invalid_all(&expected)
            .invalid("error: 6 problems in the inputs");
    }

    s.write("operator/tenants/acme-shop/x.yaml", "kind: [\n");
    s.write("operator/tenants/acme/shop-x.yaml", "kind: Allocation\n");
    s.validate_operator(Format::Text)
        .invalid("operator/tenants/acme-shop/x.yaml:1:1: error: its Application name `acme-shop-x` is also operator/tenants/acme/shop-x.yaml's")
        .invalid("operator/tenants/acme-shop/x.yaml:2:1: error: invalid YAML");
}

/// Regression: a Redis image the platform lacks hid the allocation's Redis sizes, which
/// came only once the image was fixed.
#[test]
fn the_redis_image_in_error_does_not_hide_the_allocations_redis_sizes() {
    let mut s = django();
    s.edit(
        PLATFORM,
        "  redis: docker.io/library/redis:7.4.1\n",
        "  redis: docker.io/library/redis\n",
    );
    s.edit(ALLOC, "redis: {memory: 256Mi}", "redis: {memory: 10Mi}");
    s.render()
        .invalid("operator/platform.yaml:8:10: error: images.redis:")
        .invalid("operator/tenants/acme/shop.yaml:14:17: error: redis.memory: `10Mi` is less than Redis needs to start")
        .invalid("error: 2 problems");
}

/// Regression: a mount written unclean (`/etc/indico/`) was reported, and then checked
/// as if it were `/`: every other mount was "inside this file", three false errors.
/// A fragment's `mountPath` must be written clean too: `/tmp/` beside dovetail's `/tmp`
/// passed as another place, and the container could not start.
#[test]
fn an_unclean_mount_is_one_error_and_a_fragments_must_be_clean_too() {
    let mut s = Scenario::example("indico");
    s.edit(
        "app/dovetail.yaml",
        "mount: /etc/indico/indico.conf}",
        "mount: /etc/indico/}",
    );
    s.validate_app()
        .invalid("app/dovetail.yaml:68:39: error: files[0].mount: `/etc/indico/` is not an absolute path inside the container, other than `/` itself and outside `/proc`, written clean")
        .invalid("error: 1 problem in the inputs");
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: web, volumeMounts: [{name: dovetail-files, mountPath: '/tmp/', subPath: config_logging.ini}]}]}\n",
    );
    s.render()
        .invalid("app/dovetail.yaml:29:81: error: pod.containers[0].volumeMounts[0].mountPath: `/tmp/` is not an absolute path inside the container, other than `/` itself and outside `/proc`, written clean")
        .invalid("error: 1 problem in the inputs");
}

/// Regression: without the operator repo, a fragment naming a Secret that is not the
/// app's was told to name the stand-in's (`stand-in-secrets`), which no render has.
#[test]
fn validate_app_alone_suggests_the_apps_secret_names_not_the_stand_ins() {
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: web, envFrom: [{secretRef: {name: shop-db-superuser}}]}]}\n",
    );
    let r = s.validate_app();
    r.invalid("`shop-db-superuser` is not a Secret of this app's pods; refer to `<app>-secrets` or `<app>-db-app`");
    assert!(!r.stderr.contains("stand-in"), "{}", r.stderr);
    s.render()
        .invalid("`shop-db-superuser` is not a Secret of this app's pods; refer to `shop-secrets` or `shop-db-app`");
}

/// Regression: a problem of the global `pod:` fragment was reported once per process it
/// applies to, at one place, with hints that contradicted each other ("name it `web`",
/// "name it `worker`"). It is one problem, naming the processes it was found in.
#[test]
fn a_global_fragments_problem_is_reported_once_for_every_process() {
    let mut s = django();
    s.append(
        APP,
        "pod: {containers: [{name: side}, {name: other, image: registry.example.com/x:1, volumeMounts: [{name: nope, mountPath: /x}]}]}\n",
    );
    s.render()
        .invalid("app/dovetail.yaml:29:20: error: pod.containers[0]: sidecar `side` has no image; add image:, or name it after a process to patch that process's container")
        .invalid("error: pod.containers[1].volumeMounts[0].name: no volume `nope` in the pods of `web` and `worker`")
        .invalid("error: 2 problems in the inputs");
}

/// Regression: a duplicate key stopped its file, and with it every other file's merge
/// checks: the port out of range and the allocation's own duplicate came a run later
/// each. The first of each key is kept, and the rest is checked.
#[test]
fn a_duplicate_key_does_not_hide_the_other_problems() {
    let mut s = django();
    s.edit(
        APP,
        "  GUNICORN_WORKERS: 3\n",
        "  GUNICORN_WORKERS: 3\n  GUNICORN_WORKERS: 4\n",
    );
    s.edit(APP, "    port: 8000", "    port: 80000");
    s.edit(
        ALLOC,
        "namespace: acme-shop\n",
        "namespace: acme-shop\nnamespace: x\n",
    );
    s.render()
        .invalid("app/dovetail.yaml:13:11: error: processes.web.port: `80000` is above the maximum of 65535")
        .invalid("app/dovetail.yaml:22:3: error: duplicate key `GUNICORN_WORKERS` (first at line 21)")
        .invalid("operator/tenants/acme/shop.yaml:7:1: error: duplicate key `namespace` (first at line 6)")
        .invalid("error: 3 problems in the inputs");
}

/// Regression: an allocation's `repo` with a password (or an https user name, a token to
/// GitHub and GitLab) passed, and the fleet wrote it into the AppProject and Application
/// every tenant of Argo CD can read. Refused now, without showing it.
#[test]
fn an_allocation_repo_with_credentials_is_refused_unshown() {
    for repo in [
        "https://u:hunter2@git.example.com/acme/shop.git",
        "https://hunter2@git.example.com/acme/shop.git",
        "ssh://git:hunter2@git.example.com/acme/shop.git",
    ] {
        let mut s = django();
        s.edit(
            ALLOC,
            "repo: https://git.example.com/acme/shop.git",
            &format!("repo: {repo}"),
        );
        let r = s.validate_operator(Format::Text);
        r.invalid("shop.yaml:5:7: error: repo: the value is not the customer repo's URL; use a git URL without spaces, credentials (a password, or a user in an http(s) URL)");
        assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    }
}

/// Regression: with no plan left to name (the platform's `plans:` given twice, its first
/// all in error), the hint read "use one of: " and nothing.
#[test]
fn an_unknown_plan_with_no_plans_is_told_to_add_one() {
    let mut s = django();
    s.edit(PLATFORM, "images:", "plans:");
    s.render().invalid(
        "processes.web.plan: no plan `small` in operator/platform.yaml; add it under `plans:` in operator/platform.yaml, or give the process cpu and memory [DT505]",
    );
}

/// Regression: a NUL byte (`"\0"` in a double-quoted YAML string) in an env value, a
/// command or args item, or a fragment's env value passed every check and the API
/// server; the container then could not start, as `execve` ends each string at its
/// first NUL. Each is refused at its place, and the value is not shown.
#[test]
fn a_nul_byte_a_program_would_be_given_is_refused_at_its_place() {
    const NUL: &str =
        "holds a NUL byte (\\0), where the kernel cuts a program's arguments and environment short";
    let mut s = django();
    s.edit(APP, "shop.settings", "\"shop.set\\0tings\"");
    s.edit(
        APP,
        "command: [\"/run\"]",
        "command: [\"/run\", \"--bind\\0\"]",
    );
    s.append(
        APP,
        "pod: {containers: [{name: web, env: [{name: TZ, value: \"UTC\\0\"}], args: [\"-v\\0\"]}]}\n",
    );
    let r = s.render();
    r.invalid(&format!(
        "app/dovetail.yaml:12:23: error: processes.web.command[1]: {NUL}"
    ))
    .invalid(&format!(
        "app/dovetail.yaml:19:27: error: env.DJANGO_SETTINGS_MODULE: {NUL}"
    ))
    .invalid(&format!("error: pod.containers[0].env[0].value: {NUL}"))
    .invalid(&format!("error: pod.containers[0].args[0]: {NUL}"))
    .invalid("remove the \\0; binary data belongs in a file (files:) or a secret [DT204]");
    assert!(!r.stderr.contains("tings"), "{}", r.stderr);
}

/// Regressions of messages that sent the user the wrong way: a wildcard host written
/// plain (`*.x` is a YAML alias) got the advice on anchors alone; `port: 8000.0` was told
/// to read the schema; an item listed twice was reported at the list as "has duplicate
/// items", not at the item.
#[test]
fn messages_say_what_to_write() {
    let mut s = django();
    s.edit(APP, "hosts: [shop.acme.example]", "hosts: [*.acme.example]");
    s.render().invalid(
        "app/dovetail.yaml:28:11: error: alias `*.acme.example` names no anchor; a plain value starting with `*` is an alias in YAML: quote it, like \"*.acme.example\" [DT103]",
    );
    for (port, hint) in [
        ("8000.0", "write it as `8000`"),
        ("8e3", "write it as `8000`"),
    ] {
        let mut s = django();
        s.edit(APP, "port: 8000", &format!("port: {port}"));
        s.render().invalid(&format!(
            "app/dovetail.yaml:13:11: error: processes.web.port: expected a whole number, found `{port}`; {hint} [DT203]"
        ));
    }
    let mut s = django();
    s.edit(
        APP,
        "services: [postgres, redis]",
        "services:\n  - postgres\n  - redis\n  - postgres",
    );
    s.render().invalid(
        "app/dovetail.yaml:29:5: error: services[2]: the same as item 1 of the list, line 27; list each item once: remove this one [DT205]",
    );
}

/// Regression: `validate --format json|github` ended its stderr with "fix the problems
/// above", where nothing is: the report is on stdout.
#[test]
fn a_report_on_stdout_is_pointed_at_there() {
    let mut s = django();
    s.edit(APP, "    port: 8000\n", "    prot: 8000\n");
    for format in [Format::Json, Format::Github] {
        let r = s.validate_as(format);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stdout.contains("prot"), "{}", r.stdout);
        assert_eq!(
            r.stderr,
            "error: 3 problems in the inputs; fix the problems the report on stdout lists\n"
        );
    }
}

/// Regression: a sidecar serving the process's port under the name `metrics` was
/// accepted; the render names that port `http`, so the PodMonitor scraped a port the
/// pod does not have, and the metrics NetworkPolicy opened the serving port.
#[test]
fn a_metrics_name_on_the_served_port_is_refused() {
    let mut s = django();
    s.edit(
        APP,
        "    health: {path: /healthz}\n",
        "    health: {path: /healthz}\n    pod: {containers: [{name: nginx, image: registry.example.com/acme/nginx:1, ports: [{name: metrics, containerPort: 8000}]}]}\n",
    );
    s.render().invalid(
        "error: processes.web.pod.containers[0].ports[0].name: `metrics` names the port `web` serves, which dovetail names `http`; serve metrics on a port of their own, named `metrics`",
    );
}
