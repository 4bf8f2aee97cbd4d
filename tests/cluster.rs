//! dovetail's output on a real Kubernetes control plane (DESIGN §7): kube-apiserver with
//! its admission (NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity,
//! ResourceQuota, …), kube-controller-manager and etcd, built from their published Go
//! modules by `tests/cluster/control-plane`, with the CRDs of CloudNativePG,
//! prometheus-operator and Argo CD installed from theirs.
//!
//! What it proves: the fleet and every example are accepted as they are (server-side
//! apply, strict field validation, the real CRD schemas); every pod the controllers make
//! from them passes Pod Security, the LimitRange and the ResourceQuota, through a rolling
//! update and at the autoscaler's maximum; the guardrails refuse what they must;
//! re-applying changes nothing; what dovetail refuses as "output the API server refuses",
//! the API server refuses too. What it does not: there is no scheduler and no kubelet
//! (pods stay Pending, nothing runs, no probe is tried) and no CloudNativePG, Argo CD or
//! Prometheus controller (their objects are validated, nothing acts on them).
//!
//! One control plane per test binary: `DOVETAIL_TEST_KUBECONFIG` names a running one
//! (CI may start it), otherwise `control-plane up` starts one in a temporary directory
//! and a detached watchdog runs `control-plane down` when this process exits. Every test
//! works in namespaces of its own (a scratch copy of the example whose tenant is renamed
//! `<tenant><suffix>`), so the tests run in parallel on one cluster.
//!
//! Every test is ignored by default: `cargo test` without Go only lists them. Run them with
//! `cargo test --test cluster -- --include-ignored` (the first run builds the control plane
//! from Go modules, see tests/cluster/README.md).

// What the control plane and each pod census report is worth seeing with --nocapture.
#![allow(clippy::print_stderr)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Run, Scratch, documents, generate_fleet, root};
use serde_json::{Value, json};

const EXAMPLES: [&str; 5] = ["django", "pretalx", "indico", "helpdesk", "pulp"];

// ------------------------------------------------------------------ the control plane --

static CLUSTER: OnceLock<Result<Kube, String>> = OnceLock::new();

/// The control plane of this test binary, started on first use.
fn kube() -> &'static Kube {
    match CLUSTER.get_or_init(start_cluster) {
        Ok(kube) => kube,
        Err(e) => panic!("{e}"),
    }
}

fn start_cluster() -> Result<Kube, String> {
    let kube = match common::test_var("DOVETAIL_TEST_KUBECONFIG") {
        Some(path) => Kube {
            kubeconfig: PathBuf::from(path),
        },
        None => Kube {
            kubeconfig: control_plane_up()?,
        },
    };
    let ready = kube.kubectl(&["get", "--raw", "/readyz"], None);
    if ready.code != 0 || ready.stdout.trim() != "ok" {
        return Err(format!(
            "the control plane at {} is not ready: {}{}",
            kube.kubeconfig.display(),
            ready.stdout,
            ready.stderr
        ));
    }
    // The fleet's Applications and AppProjects live in `argocd`.
    kube.apply_ok(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n",
        "namespace argocd",
    );
    // dovetail's own CRD, as deploy/controller installs it: renders with secrets carry
    // an AgeSecret.
    let crd = std::fs::read_to_string(root().join("deploy/controller/crd.yaml")).unwrap();
    kube.apply_ok(&crd, "the AgeSecret CRD");
    let established = kube.kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/agesecrets.dovetail.dev",
        ],
        None,
    );
    if established.code != 0 {
        return Err(format!("the AgeSecret CRD: {}", established.stderr));
    }
    Ok(kube)
}

/// `tests/cluster/control-plane up` in a new directory; a detached watchdog stops it when
/// this process exits (however it exits) and removes the directory.
fn control_plane_up() -> Result<PathBuf, String> {
    use std::os::unix::process::CommandExt;

    let script = root().join("tests/cluster/control-plane");
    let env = Command::new(&script)
        .arg("env")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let built = String::from_utf8_lossy(&env.stdout).contains("BUILT=yes");
    let has_go = Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !built && !has_go {
        return Err(
            "these tests need a Kubernetes control plane: tests/cluster/control-plane builds \
             kube-apiserver, kube-controller-manager and etcd from their Go modules once, and \
             `go` is not on PATH (install Go 1.26, see tests/cluster/README.md), or set \
             DOVETAIL_TEST_KUBECONFIG to the kubeconfig of a running one"
                .to_owned(),
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("dovetail-cluster-")
        .tempdir()
        .map_err(|e| e.to_string())?
        .keep();
    // Started before `up`, so that a test binary killed during `up` still stops what it
    // started. Its own process group: a Ctrl-C at the terminal does not reach it.
    Command::new("sh")
        .args([
            "-c",
            r#"while kill -0 "$1" 2>/dev/null; do sleep 1; done
               "$2" down "$3" >/dev/null 2>&1; rm -rf "$3""#,
            "dovetail-cluster-watchdog",
        ])
        .arg(std::process::id().to_string())
        .arg(&script)
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the watchdog: {e}"))?;
    let started = Instant::now();
    let up = Command::new(&script)
        .arg("up")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !up.status.success() {
        return Err(format!(
            "`tests/cluster/control-plane up {}` failed ({}):\n{}",
            dir.display(),
            up.status,
            String::from_utf8_lossy(&up.stderr)
        ));
    }
    eprintln!(
        "control plane up in {:.1}s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(dir.join("kubeconfig"))
}

// ------------------------------------------------------------------------ kubectl --

/// kubectl on the test control plane.
struct Kube {
    kubeconfig: PathBuf,
}

impl Kube {
    /// kubectl `args` with `stdin`; stderr without kubectl's version-skew notice.
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        let out = match stdin {
            Some(input) => common::piped(cmd, input.as_bytes()),
            None => cmd.stdin(Stdio::null()).output().expect("kubectl"),
        };
        let mut run = Run::from_output(out);
        run.stderr = run
            .stderr
            .lines()
            .filter(|l| !l.starts_with("WARNING: version difference between client"))
            .flat_map(|l| [l, "\n"])
            .collect();
        run
    }

    /// Server-side apply as Argo CD's sync would, with strict field validation.
    fn apply(&self, yaml: &str) -> Run {
        self.kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager=dovetail",
                "--validate=strict",
                "-f",
                "-",
            ],
            Some(yaml),
        )
    }

    /// [`Kube::apply`], asserting that every object of `yaml` was accepted without a
    /// warning, and that each one now exists.
    fn apply_ok(&self, yaml: &str, what: &str) {
        let docs = documents(yaml);
        let r = self.apply(yaml);
        assert!(
            r.code == 0 && r.stderr.trim().is_empty(),
            "the API server refused (part of) {what}:\n{}{}",
            r.stderr,
            r.stdout
        );
        let applied = r
            .stdout
            .lines()
            .filter(|l| l.ends_with(" serverside-applied"))
            .count();
        assert_eq!(
            applied,
            docs.len(),
            "{what}: not every object applied:\n{}",
            r.stdout
        );
        let got = self.kubectl(&["get", "-f", "-", "-o", "name"], Some(yaml));
        assert_eq!(
            got.code, 0,
            "{what}: objects missing after apply:\n{}",
            got.stderr
        );
        assert_eq!(
            got.stdout.lines().count(),
            docs.len(),
            "{what}:\n{}",
            got.stdout
        );
    }

    /// Server-side apply with `--dry-run=server`: the full admission chain, nothing stored.
    fn dry_run(&self, yaml: &str) -> Run {
        self.kubectl(
            &[
                "apply",
                "--server-side",
                "--field-manager=dovetail",
                "--validate=strict",
                "--dry-run=server",
                "-f",
                "-",
            ],
            Some(yaml),
        )
    }

    /// POSTs `obj` to the API server exactly as given (kubectl neither decodes nor
    /// re-encodes it: `containerPort: 9000.0` reaches the server as 9000.0), as a
    /// dry run with strict field validation.
    fn create_raw_dry_run(&self, obj: &Value) -> Run {
        let ns = obj["metadata"]["namespace"].as_str().unwrap();
        let path = match (obj["apiVersion"].as_str(), obj["kind"].as_str()) {
            (Some("v1"), Some("Pod")) => format!("/api/v1/namespaces/{ns}/pods"),
            (Some("apps/v1"), Some("Deployment")) => {
                format!("/apis/apps/v1/namespaces/{ns}/deployments")
            }
            other => panic!("no raw path for {other:?}"),
        };
        let url = format!("{path}?dryRun=All&fieldValidation=Strict");
        self.kubectl(
            &["create", "--raw", &url, "-f", "-"],
            Some(&serde_json::to_string(obj).unwrap()),
        )
    }

    /// Creates `obj` for real (`kubectl create`).
    fn create(&self, obj: &Value) -> Run {
        self.kubectl(
            &["create", "-f", "-"],
            Some(&serde_json::to_string(obj).unwrap()),
        )
    }

    /// `kubectl diff --server-side` of `yaml` against the live objects.
    fn diff(&self, yaml: &str) -> Run {
        self.kubectl(
            &[
                "diff",
                "--server-side",
                "--field-manager=dovetail",
                "-f",
                "-",
            ],
            Some(yaml),
        )
    }

    /// The items of `kubectl get KIND -n NS -o json`.
    fn get_json(&self, kind: &str, ns: &str) -> Vec<Value> {
        let r = self.kubectl(&["get", kind, "-n", ns, "-o", "json"], None);
        assert_eq!(r.code, 0, "kubectl get {kind} -n {ns}: {}", r.stderr);
        let list: Value = serde_json::from_str(&r.stdout).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `check` until it returns Ok or `timeout` passes (then panics with its last
    /// complaint).
    #[allow(
        clippy::unused_self,
        reason = "a wait reads as kube.wait_until(..), beside the control plane's other calls"
    )]
    fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            match check() {
                Ok(v) => return v,
                Err(e) if Instant::now() >= deadline => {
                    panic!("timed out after {timeout:?} waiting for {what}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// Deletes the namespace `ns` if a previous run (on a long-lived cluster) left it.
    fn delete_namespace(&self, ns: &str) {
        let r = self.kubectl(
            &[
                "delete",
                "namespace",
                ns,
                "--ignore-not-found",
                "--wait",
                "--timeout=180s",
            ],
            None,
        );
        assert_eq!(r.code, 0, "delete namespace {ns}: {}", r.stderr);
    }

    /// Events that say a controller could not create a pod (or admission forbade
    /// something), as `Kind/name: message`.
    fn refusals(&self, ns: &str) -> Vec<String> {
        let mut found = BTreeSet::new();
        for e in self.get_json("events", ns) {
            let message = e["message"].as_str().unwrap_or_default();
            if e["reason"] == "FailedCreate" || message.contains("is forbidden") {
                found.insert(format!(
                    "{}/{}: {message}",
                    e["involvedObject"]["kind"].as_str().unwrap_or("?"),
                    e["involvedObject"]["name"].as_str().unwrap_or("?")
                ));
            }
        }
        found.into_iter().collect()
    }

    /// Fails unless every ResourceQuota in `ns` has `used` within `hard`.
    fn quota_within_hard(&self, ns: &str) -> Result<(), String> {
        let quotas = self.get_json("resourcequota", ns);
        if quotas.is_empty() {
            return Err(format!("no ResourceQuota in {ns}"));
        }
        for q in quotas {
            let name = q["metadata"]["name"].as_str().unwrap();
            let (Some(hard), Some(used)) = (
                q["status"]["hard"].as_object(),
                q["status"]["used"].as_object(),
            ) else {
                return Err(format!("quota {name} has no status yet"));
            };
            for (k, h) in hard {
                let u = used.get(k).and_then(Value::as_str).unwrap_or("0");
                if quantity(u) > quantity(h.as_str().unwrap()) {
                    return Err(format!("quota {name}: {k} used {u} exceeds hard {h}"));
                }
            }
        }
        Ok(())
    }
}

/// A Kubernetes quantity (`250m`, `1Gi`, `3`) as a number.
fn quantity(s: &str) -> f64 {
    const SUFFIXES: [(&str, f64); 15] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(n) = s.strip_suffix(suffix)
            && let Ok(n) = n.parse::<f64>()
        {
            return n * factor;
        }
    }
    s.parse()
        .unwrap_or_else(|_| panic!("not a quantity: {s:?}"))
}

// --------------------------------------------------------------------- the examples --

/// A scratch copy of `examples/<name>` whose tenant is `<tenant><suffix>` and namespace
/// `<tenant><suffix>-<app>`, so that tests never share a namespace, an AppProject or an
/// Application (an empty suffix keeps the example's names).
struct Example {
    scratch: Scratch,
    ns: String,
}

impl Example {
    fn new(name: &str, suffix: &str) -> Example {
        let scratch = Scratch::example(name);
        let tenants = scratch.operator().join("tenants");
        let mut found = vec![];
        for t in std::fs::read_dir(&tenants).unwrap() {
            let t = t.unwrap().file_name().into_string().unwrap();
            for a in std::fs::read_dir(tenants.join(&t)).unwrap() {
                let a = a.unwrap().file_name().into_string().unwrap();
                found.push((t.clone(), a.strip_suffix(".yaml").unwrap().to_owned()));
            }
        }
        assert_eq!(found.len(), 1, "examples/{name}: one allocation expected");
        let (tenant, app) = found.pop().unwrap();
        let renamed = format!("{tenant}{suffix}");
        std::fs::rename(tenants.join(&tenant), tenants.join(&renamed)).unwrap();
        let ns = format!("{renamed}-{app}");
        scratch.edit(
            &format!("operator/tenants/{renamed}/{app}.yaml"),
            &format!("\nnamespace: {tenant}-{app}\n"),
            &format!("\nnamespace: {ns}\n"),
        );
        Example { scratch, ns }
    }

    /// The fleet of this operator repo, as the fleet Application generates it.
    fn fleet(&self) -> String {
        let r = generate_fleet(&self.scratch.operator());
        r.ok();
        r.stdout
    }

    fn render(&self) -> String {
        let r = self.scratch.run("render", &[]);
        r.ok();
        r.stdout
    }

    /// A fresh namespace made by the fleet, then the app applied into it.
    fn deploy(&self, kube: &Kube) -> String {
        kube.delete_namespace(&self.ns);
        kube.apply_ok(&self.fleet(), &format!("the fleet of {}", self.ns));
        let render = self.render();
        kube.apply_ok(&render, &format!("the render of {}", self.ns));
        render
    }
}

// ------------------------------------------------------------------------ 1. fleet --

/// Every example's operator repo, generated as the fleet Application does, applied with
/// server-side apply: every Namespace, ResourceQuota, LimitRange, NetworkPolicy, AppProject
/// and Application accepted by the API server and the Argo CD CRDs' schemas.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn fleet_of_every_example_is_accepted() {
    let kube = kube();
    let mut kinds = BTreeSet::new();
    for name in EXAMPLES {
        let operator = root().join("examples").join(name).join("operator");
        let r = generate_fleet(&operator);
        r.ok();
        for d in documents(&r.stdout) {
            kinds.insert(d["kind"].as_str().unwrap().to_owned());
        }
        kube.apply_ok(&r.stdout, &format!("the fleet of examples/{name}"));
        // Applying it again is a no-op.
        let diff = kube.diff(&r.stdout);
        assert_eq!(
            diff.code, 0,
            "fleet of {name} re-applied differs:\n{}{}",
            diff.stdout, diff.stderr
        );
    }
    let expected = [
        "AppProject",
        "Application",
        "LimitRange",
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
    ];
    assert_eq!(kinds, expected.iter().map(ToString::to_string).collect());
    // The Namespaces carry Pod Security restricted as the server stored them.
    for ns in kube.get_json("namespaces", "default") {
        let labels = &ns["metadata"]["labels"];
        if labels["app.kubernetes.io/managed-by"] == "dovetail" {
            assert_eq!(
                labels["pod-security.kubernetes.io/enforce"], "restricted",
                "{ns}"
            );
        }
    }
}

/// A fleet spread over several clusters (see `common::add_clusters`), on the one control
/// plane the tests have, which stands in for each remote cluster (what an API server
/// accepts does not depend on which cluster it is): the fleet's own Application's render
/// (every AppProject and Application aimed at its cluster, and each cluster's fleet
/// Application with its plugin parameter and pinned revision) and each cluster's
/// narrowed fleet are accepted by server-side apply with the Argo CD CRDs, as stored
/// they keep what Argo CD needs, re-applying them changes nothing, and an app on eu-2
/// deploys into the namespace eu-2's fleet made.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn a_fleet_on_several_clusters_is_accepted() {
    let kube = kube();
    let ex = Example::new("django", "k");
    let operator = ex.scratch.operator();
    let (tenant, app) = ex.ns.split_once('-').unwrap();
    let copies = common::add_clusters(&operator, tenant, app);
    kube.delete_namespace(&ex.ns);
    for copy in copies {
        kube.delete_namespace(&format!("{tenant}-{copy}"));
    }

    let own = common::generate_fleet_with(&operator, &[]);
    own.ok();
    kube.apply_ok(&own.stdout, "the fleet's own Application's render");
    let mut everything = own.stdout.clone();
    let mut on_clusters = BTreeMap::new();
    for (cluster, _) in &common::CLUSTERS[..2] {
        let name = format!("dovetail-fleet-{cluster}");
        let r = common::generate_fleet_with(
            &operator,
            &[("ARGOCD_APP_NAME", &name), ("PARAM_CLUSTER", cluster)],
        );
        r.ok();
        kube.apply_ok(&r.stdout, &format!("the fleet of cluster {cluster}"));
        let kinds: BTreeSet<String> = documents(&r.stdout)
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_owned())
            .collect();
        on_clusters.insert(*cluster, kinds);
        everything.push_str(&r.stdout);
    }
    let guardrails: BTreeSet<String> =
        ["LimitRange", "Namespace", "NetworkPolicy", "ResourceQuota"]
            .map(str::to_owned)
            .into();
    for (cluster, kinds) in &on_clusters {
        assert_eq!(kinds, &guardrails, "{cluster}");
    }
    let diff = kube.diff(&everything);
    assert!(
        diff.code == 0 && diff.stdout.is_empty(),
        "re-applying the fleet on several clusters would change:\n{}{}",
        diff.stdout,
        diff.stderr
    );

    // As the API server stored them: the fields Argo CD acts on, unpruned by the CRD.
    let stored = kube.get_json("applications.argoproj.io", "argocd");
    let find = |name: &str| {
        stored
            .iter()
            .find(|a| a["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Application {name}"))
    };
    for (cluster, server) in &common::CLUSTERS[..2] {
        let spec = &find(&format!("dovetail-fleet-{cluster}"))["spec"];
        assert_eq!(spec["destination"], json!({"server": server}));
        assert_eq!(
            spec["source"]["plugin"]["parameters"],
            json!([{"name": "cluster", "string": cluster}])
        );
        assert_eq!(
            spec["source"]["targetRevision"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(spec["source"]["repoURL"], common::FLEET_REPO);
        assert_eq!(spec["syncPolicy"]["retry"]["limit"], 10);
    }
    let blog = &find(&format!("{tenant}-blog"))["spec"]["destination"];
    assert_eq!(
        blog,
        &json!({"server": common::CLUSTERS[0].1, "namespace": format!("{tenant}-blog")})
    );

    // The app on eu-2, in the namespace eu-2's fleet made, within its quota and limits.
    let render = ex
        .scratch
        .run("render", &["--allocation", &format!("{tenant}/blog")]);
    render.ok();
    kube.apply_ok(&render.stdout, "the render of an app on eu-2");
}

// ---------------------------------------------------------------- 2. every example --

fn example_is_accepted(name: &str) {
    let kube = kube();
    let ex = Example::new(name, "a");
    ex.deploy(kube);
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn django_is_accepted() {
    example_is_accepted("django");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pretalx_is_accepted() {
    example_is_accepted("pretalx");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn indico_is_accepted() {
    example_is_accepted("indico");
}

/// Backups, a restore and a durable Redis as the real CRDs and the quota take them: the
/// Indico example (backups to the platform's store, Redis with an append-only file)
/// restoring its database from the generation before. The API server stores the
/// recovery bootstrap and the plugin's external cluster as rendered, the ObjectStore
/// keeps what the restore reads, no ScheduledBackup or archiving runs during the
/// restore, and the Redis and database volumes fit the quota the fleet derived.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn a_restore_with_a_durable_redis_is_accepted_under_the_quota() {
    let kube = kube();
    let ex = Example::new("indico", "restore");
    let alloc = "operator/tenants/eventsrestore/indico.yaml";
    ex.scratch.edit(
        alloc,
        "  database: {size: 20Gi}\n",
        "  database: {size: 20Gi, generation: 2}\n",
    );
    ex.scratch.append(
        alloc,
        "restore: {database: {from: backup, pointInTime: \"2026-11-30T06:00:00Z\"}}\n",
    );
    ex.deploy(kube);
    let clusters = kube.get_json("clusters.postgresql.cnpg.io", &ex.ns);
    assert_eq!(clusters.len(), 1);
    let spec = &clusters[0]["spec"];
    assert_eq!(spec["bootstrap"]["recovery"]["source"], "backups", "{spec}");
    assert_eq!(
        spec["bootstrap"]["recovery"]["recoveryTarget"]["targetTime"],
        "2026-11-30T06:00:00Z"
    );
    let plugin = &spec["externalClusters"][0]["plugin"];
    assert_eq!(plugin["name"], "barman-cloud.cloudnative-pg.io");
    assert_eq!(plugin["parameters"]["serverName"], "generation-1");
    assert_eq!(plugin["parameters"]["barmanObjectName"], "indico-db");
    assert!(
        spec.get("plugins").is_none(),
        "no archiving while restoring: {spec}"
    );
    assert!(
        kube.get_json("scheduledbackups.postgresql.cnpg.io", &ex.ns)
            .is_empty()
    );
    let stores = kube.get_json("objectstores.barmancloud.cnpg.io", &ex.ns);
    assert_eq!(stores.len(), 1);
    assert_eq!(
        stores[0]["spec"]["configuration"]["destinationPath"],
        "s3://events-backups/postgres/eventsrestore/indico"
    );
    assert!(
        stores[0]["spec"].get("retentionPolicy").is_none(),
        "nothing expires what a restore reads"
    );
    let claims: Vec<String> = kube
        .get_json("persistentvolumeclaims", &ex.ns)
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(claims.contains(&"indico-redis".to_owned()), "{claims:?}");
    kube.wait_until(
        "the quota to count the claims",
        Duration::from_secs(60),
        || {
            let quotas = kube.get_json("resourcequota", &ex.ns);
            let used = quotas[0]["status"]["used"]["requests.storage"]
                .as_str()
                .map(quantity)
                .unwrap_or_default();
            // The static volume (50Gi) and Redis' (2Gi); the database's claims are
            // CloudNativePG's to make.
            if used >= quantity("52Gi") {
                Ok(())
            } else {
                Err(format!("requests.storage used {used}"))
            }
        },
    );
    kube.quota_within_hard(&ex.ns).unwrap();
    // Back to normal: the restore removed, the generation kept; archiving resumes into
    // the new generation, with its schedule.
    ex.scratch.edit(
        alloc,
        "restore: {database: {from: backup, pointInTime: \"2026-11-30T06:00:00Z\"}}\n",
        "",
    );
    kube.apply_ok(&ex.render(), "the render after the restore");
    let spec = &kube.get_json("clusters.postgresql.cnpg.io", &ex.ns)[0]["spec"];
    assert_eq!(
        spec["plugins"][0]["parameters"]["serverName"],
        "generation-2"
    );
    assert_eq!(
        kube.get_json("scheduledbackups.postgresql.cnpg.io", &ex.ns)
            .len(),
        1
    );
}

// Regression: a LoadBalancer Service takes a node port too, which the fleet quota must
// count (it said services.nodeports: "0" and the API server refused helpdesk-web).
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn helpdesk_is_accepted() {
    example_is_accepted("helpdesk");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pulp_is_accepted() {
    example_is_accepted("pulp");
}

/// The CRD schemas really bite: strict validation refuses an unknown field and a wrong
/// type in a CloudNativePG Cluster and an Argo CD Application (so "accepted" above means
/// "valid against the real schemas").
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn crd_schemas_are_enforced() {
    let kube = kube();
    let ex = Example::new("django", "c");
    ex.deploy(kube);
    let render = documents(&ex.render());
    let fleet = documents(&ex.fleet());
    let cluster = render.iter().find(|d| d["kind"] == "Cluster").unwrap();
    let app = fleet.iter().find(|d| d["kind"] == "Application").unwrap();
    let cases: [(&Value, &str, Value, &str); 4] = [
        (
            cluster,
            "bogusField",
            json!(1),
            ".spec.bogusField: field not declared in schema",
        ),
        (cluster, "instances", json!("two"), "spec.instances"),
        (
            app,
            "bogusField",
            json!(1),
            ".spec.bogusField: field not declared in schema",
        ),
        (app, "project", json!(7), "spec.project"),
    ];
    for (doc, field, value, expected) in cases {
        let mut bad = doc.clone();
        bad["spec"][field] = value;
        let r = kube.dry_run(&serde_json::to_string(&bad).unwrap());
        assert_ne!(r.code, 0, "{} with spec.{field} accepted", doc["kind"]);
        assert!(r.stderr.contains(expected), "{}: {}", doc["kind"], r.stderr);
    }
}

// ------------------------------------------------------- 3. pods through admission --

/// The `dovetail/config-checksum` of a pod template (empty when it has none).
fn checksum(template: &Value) -> &str {
    template["metadata"]["annotations"]["dovetail/config-checksum"]
        .as_str()
        .unwrap_or("")
}

fn int_or(v: &Value, default: i64) -> i64 {
    match v {
        Value::Null => default,
        Value::Number(n) => n.as_i64().unwrap(),
        other => panic!("percentages are not handled here: {other}"),
    }
}

/// Checks that in `ns` every ReplicaSet has as many pods as it wants and every Job its
/// one pod, and that each Deployment stands where its strategy puts it when no pod ever
/// becomes ready: settled on its template, or, for those in `rolled` (whose template
/// changed), RollingUpdate (maxUnavailable 0) at replicas + maxSurge with at least the
/// surge pod on the new template, Recreate with all its pods on the new template.
/// Panics at once when a controller reports a pod it could not create.
fn census(kube: &Kube, ns: &str, rolled: &BTreeSet<String>) -> Result<String, String> {
    let refusals = kube.refusals(ns);
    assert!(
        refusals.is_empty(),
        "pods refused in {ns}:\n{}",
        refusals.join("\n")
    );
    let mut pods_of: BTreeMap<String, i64> = BTreeMap::new();
    for p in kube.get_json("pods", ns) {
        if !p["metadata"]["deletionTimestamp"].is_null() {
            continue;
        }
        for o in p["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
        {
            *pods_of
                .entry(o["uid"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let owner_uid = |o: &Value| -> String {
        o["metadata"]["ownerReferences"][0]["uid"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let sets = kube.get_json("replicasets", ns);
    for rs in &sets {
        let want = rs["spec"]["replicas"].as_i64().unwrap();
        let have = pods_of
            .get(rs["metadata"]["uid"].as_str().unwrap())
            .copied()
            .unwrap_or(0);
        if have != want {
            return Err(format!(
                "replicaset {}: {have} of {want} pods",
                rs["metadata"]["name"]
            ));
        }
    }
    let mut summary = vec![];
    for d in kube.get_json("deployments", ns) {
        let name = d["metadata"]["name"].as_str().unwrap();
        if d["status"]["observedGeneration"] != d["metadata"]["generation"] {
            return Err(format!("deployment {name} not yet observed"));
        }
        let replicas = d["spec"]["replicas"].as_i64().unwrap();
        let uid = d["metadata"]["uid"].as_str().unwrap();
        let current = checksum(&d["spec"]["template"]);
        let (mut new, mut old) = (0, 0);
        let mut has_new = false;
        for rs in sets.iter().filter(|rs| owner_uid(rs) == uid) {
            let n = rs["spec"]["replicas"].as_i64().unwrap();
            if checksum(&rs["spec"]["template"]) == current {
                has_new = true;
                new += n;
            } else {
                old += n;
            }
        }
        if !has_new {
            return Err(format!(
                "deployment {name}: no ReplicaSet for its template yet"
            ));
        }
        let strategy = &d["spec"]["strategy"];
        let ok = if strategy["type"] == "Recreate" || !rolled.contains(name) {
            old == 0 && new == replicas
        } else {
            let surge = int_or(&strategy["rollingUpdate"]["maxSurge"], 1);
            let unavailable = int_or(&strategy["rollingUpdate"]["maxUnavailable"], 0);
            assert_eq!(
                unavailable, 0,
                "{name}: this check assumes maxUnavailable 0"
            );
            new >= 1 && old > 0 && new + old == replicas + surge
        };
        if !ok {
            return Err(format!(
                "deployment {name} ({}, replicas {replicas}): {new} pods wanted on the new \
                 template, {old} on old ones",
                strategy["type"]
            ));
        }
        summary.push(format!("{name} {new}+{old}"));
    }
    for j in kube.get_json("jobs", ns) {
        let name = j["metadata"]["name"].as_str().unwrap();
        let have = pods_of
            .get(j["metadata"]["uid"].as_str().unwrap())
            .copied()
            .unwrap_or(0);
        if have != 1 {
            return Err(format!("job {name}: {have} pods, 1 wanted"));
        }
        summary.push(format!("{name} 1"));
    }
    kube.quota_within_hard(ns)?;
    Ok(summary.join(", "))
}

/// The rendered Deployments' template checksums, by name.
fn checksums(render: &str) -> BTreeMap<String, String> {
    documents(render)
        .iter()
        .filter(|d| d["kind"] == "Deployment")
        .map(|d| {
            (
                d["metadata"]["name"].as_str().unwrap().to_owned(),
                checksum(&d["spec"]["template"]).to_owned(),
            )
        })
        .collect()
}

/// Deletes the hooks of `render` whose delete policy is BeforeHookCreation, as Argo CD
/// does before it creates them again at each sync (a Job's template is immutable).
fn delete_hooks(kube: &Kube, render: &str) {
    for d in documents(render) {
        let annotations = &d["metadata"]["annotations"];
        if annotations["argocd.argoproj.io/hook"].is_null()
            || !annotations["argocd.argoproj.io/hook-delete-policy"]
                .as_str()
                .unwrap_or("")
                .contains("BeforeHookCreation")
        {
            continue;
        }
        let r = kube.kubectl(
            &[
                "delete",
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
                "-n",
                d["metadata"]["namespace"].as_str().unwrap(),
                "--ignore-not-found",
                "--cascade=foreground",
                "--wait",
                "--timeout=60s",
            ],
            None,
        );
        assert_eq!(r.code, 0, "deleting hook: {}", r.stderr);
    }
}

const SETTLE: Duration = Duration::from_secs(90);

fn pods_are_admitted(name: &str) {
    pods_are_admitted_with(name, "r", |_| {});
}

/// [`pods_are_admitted`] for `examples/<name>` as `edit` changes it, in the namespace of
/// tenant suffix `suffix`.
fn pods_are_admitted_with(name: &str, suffix: &str, edit: impl FnOnce(&Scratch)) {
    let kube = kube();
    let ex = Example::new(name, suffix);
    edit(&ex.scratch);
    let first = ex.deploy(kube);
    let ns = ex.ns.as_str();
    let none = BTreeSet::new();
    kube.wait_until("every pod of the first apply", SETTLE, || {
        census(kube, ns, &none)
    });
    // The HorizontalPodAutoscaler brings its Deployment (rendered without replicas) to
    // minReplicas.
    let hpas = kube.get_json("hpa", ns);
    for h in &hpas {
        let target = h["spec"]["scaleTargetRef"]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let min = h["spec"]["minReplicas"].as_i64().unwrap_or(1);
        kube.wait_until("the autoscaler's minReplicas", SETTLE, || {
            let d = kube.get_json("deployments", ns);
            let d = d
                .iter()
                .find(|d| d["metadata"]["name"] == target.as_str())
                .unwrap();
            match d["spec"]["replicas"].as_i64().unwrap() {
                n if n >= min => Ok(()),
                n => Err(format!("{target} has {n} replicas, minReplicas {min}")),
            }
        });
    }
    kube.wait_until("every pod at minReplicas", SETTLE, || {
        census(kube, ns, &none)
    });

    // A rolling update: an env value changes, so every app Deployment's checksum does.
    ex.scratch.edit(
        "app/dovetail.yaml",
        "\nenv:\n",
        "\nenv:\n  DOVETAIL_TEST_ROLLOUT: \"2\"\n",
    );
    let second = ex.render();
    let (before, after) = (checksums(&first), checksums(&second));
    let rolled: BTreeSet<String> = after
        .iter()
        .filter(|(n, c)| !c.is_empty() && before.get(*n) != Some(c))
        .map(|(n, _)| n.clone())
        .collect();
    let with_checksum = after.values().filter(|c| !c.is_empty()).count();
    assert!(
        !rolled.is_empty() && rolled.len() == with_checksum,
        "{rolled:?}"
    );
    delete_hooks(kube, &second);
    kube.apply_ok(&second, &format!("the changed render of {ns}"));
    kube.wait_until("the rolling update's surge pods", SETTLE, || {
        census(kube, ns, &rolled)
    });

    // Each autoscaled Deployment at its maximum, the rollout still under way.
    for h in &hpas {
        let target = h["spec"]["scaleTargetRef"]["name"].as_str().unwrap();
        let max = h["spec"]["maxReplicas"].as_i64().unwrap();
        let r = kube.kubectl(
            &[
                "scale",
                "deployment",
                target,
                "-n",
                ns,
                &format!("--replicas={max}"),
            ],
            None,
        );
        assert_eq!(r.code, 0, "scale {target}: {}", r.stderr);
        kube.wait_until("the autoscaler's maximum", SETTLE, || {
            let d = kube.get_json("deployments", ns);
            let d = d.iter().find(|d| d["metadata"]["name"] == target).unwrap();
            if d["spec"]["replicas"].as_i64() != Some(max) {
                return Err(format!("{target} not at {max}"));
            }
            census(kube, ns, &rolled)
        });
    }
    let summary = census(kube, ns, &rolled).unwrap();
    let quota = &kube.get_json("resourcequota", ns)[0]["status"];
    let used: Vec<String> = ["requests.cpu", "limits.memory", "limits.ephemeral-storage"]
        .iter()
        .map(|k| format!("{k} {} of {}", quota["used"][k], quota["hard"][k]))
        .collect();
    eprintln!("{ns}: {summary}; quota: {}", used.join(", "));
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn django_pods_are_admitted() {
    pods_are_admitted("django");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pretalx_pods_are_admitted() {
    pods_are_admitted("pretalx");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn indico_pods_are_admitted() {
    pods_are_admitted("indico");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn helpdesk_pods_are_admitted() {
    pods_are_admitted("helpdesk");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pulp_pods_are_admitted() {
    pods_are_admitted("pulp");
}

/// The fleet's quota has room for what fragments may add: every process of the Django
/// example runs as many sidecars as the platform allows (`policy.maxSidecars`, 4 by
/// default), at its most replicas and during a rollout. A quota that counted fewer (it
/// once counted one per pod) refuses the surge pods.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pods_with_every_sidecar_the_platform_allows_are_admitted() {
    pods_are_admitted_with("django", "s", |s| {
        let sidecars: Vec<String> = (1..=4)
            .map(|i| format!("{{name: side-{i}, image: registry.example.com/acme/side:{i}}}"))
            .collect();
        s.edit(
            "app/dovetail.yaml",
            "\nenv:\n",
            &format!("\npod: {{containers: [{}]}}\nenv:\n", sidecars.join(", ")),
        );
    });
}

/// An init step sized above web runs, as an init container, in every web pod, which
/// then asks the quota for the init container's size: the derived quota counts web's
/// pods at that size (it once counted web's own, and the fifth web pod was refused).
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn web_pods_with_an_init_step_larger_than_web_are_admitted() {
    // Not "i": django_reapply_changes_nothing deploys (deleting first) acmei-shop.
    pods_are_admitted_with("django", "init", |s| {
        s.edit(
            "operator/tenants/acmeinit/shop.yaml",
            "  web: {replicas: 2, plan: small}\n",
            "  web: {replicas: 6, plan: small}\n  init: {cpu: \"2\", memory: 3Gi}\n",
        );
    });
}

/// Regression: with `policy.maxSidecars: 0`, the derived quota counted each pod at its
/// process's size, but `waitFor`'s init containers run at the (larger) sidecar size, and
/// the pods of a rollout's surge and of the init Job were refused.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pods_whose_init_containers_outgrow_the_process_are_admitted() {
    pods_are_admitted_with("pretalx", "w", |s| {
        // Without sidecars (none allowed): web's fragment goes, nginx with it.
        let app = s.read("app/dovetail.yaml");
        let fragment = &app[app.find("    pod:\n").unwrap()..app.find("  worker:\n").unwrap()];
        s.edit("app/dovetail.yaml", fragment, "");
        s.edit(
            "app/dovetail.yaml",
            "    port: 8080                    # nginx's",
            "    port: 8000                    # gunicorn's",
        );
        s.edit(
            "operator/platform.yaml",
            "  sidecarResources: {cpu: 100m, memory: 128Mi}\n",
            "  sidecarResources: {cpu: 100m, memory: 128Mi}\n  maxSidecars: 0\n",
        );
        s.edit(
            "operator/platform.yaml",
            "  small: {cpu: 250m, memory: 512Mi}\n",
            "  small: {cpu: 50m, memory: 64Mi}\n",
        );
    });
}

/// Regression: a config file holding DEL or a C1 control went out in the ConfigMap's
/// `data`; kubectl sends those characters raw in JSON, and server-side apply refused
/// the patch ("control characters are not allowed"). Such a file goes in `binaryData`.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn config_files_with_characters_apply_refuses_are_applied() {
    // Its own tenant suffix: tests share the control plane and run in parallel.
    pods_are_admitted_with("django", "bin", |s| {
        s.write(
            "app/config/logging.ini",
            "[loggers]\nkeys=root\u{7f}\u{80}\u{9f}\u{ffff}\n",
        );
    });
}

// ------------------------------------------------------------------- 4. guardrails --

/// A pod that passes Pod Security restricted, with `cpu` as its limit.
fn restricted_pod(ns: &str, name: &str, cpu: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "automountServiceAccountToken": false,
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"}
            },
            "containers": [{
                "name": "app",
                "image": "registry.example.com/acme/probe:1",
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi", "ephemeral-storage": "64Mi"},
                    "limits": {"cpu": cpu, "memory": "64Mi", "ephemeral-storage": "64Mi"}
                },
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": {"drop": ["ALL"]}
                }
            }]
        }
    })
}

fn service(ns: &str, name: &str, kind: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": kind, "selector": {"app": "x"}, "ports": [{"name": "http", "port": 80}]}
    })
}

/// In a tenant namespace the fleet made, the API server refuses a privileged pod (Pod
/// Security), a pod whose limit exceeds the LimitRange's maximum, and Services of a type
/// the allocation does not allow (the quota); the same objects within bounds are created.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn guardrails_bite() {
    let kube = kube();
    let ex = Example::new("django", "g");
    let ns = ex.ns.as_str();
    kube.delete_namespace(ns);
    kube.apply_ok(&ex.fleet(), "the fleet");
    // Pods without a serviceAccountName need `default`, made by the controller-manager.
    kube.wait_until("serviceaccount default", SETTLE, || {
        let r = kube.kubectl(&["get", "serviceaccount", "default", "-n", ns], None);
        if r.code == 0 { Ok(()) } else { Err(r.stderr) }
    });
    let limits = kube.get_json("limitrange", ns);
    let max_cpu = limits[0]["spec"]["limits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["type"] == "Container")
        .and_then(|l| l["max"]["cpu"].as_str())
        .expect("the LimitRange has a container cpu maximum")
        .to_owned();

    let ok = kube.create(&restricted_pod(ns, "within-bounds", &max_cpu));
    assert_eq!(ok.code, 0, "a pod within bounds: {}", ok.stderr);

    let mut privileged = restricted_pod(ns, "privileged", "50m");
    privileged["spec"]["containers"][0]["securityContext"] =
        json!({"privileged": true, "allowPrivilegeEscalation": true});
    let r = kube.create(&privileged);
    assert_ne!(r.code, 0, "a privileged pod was admitted");
    assert!(
        r.stderr
            .contains("violates PodSecurity \"restricted:latest\"")
            && r.stderr.contains("privileged"),
        "{}",
        r.stderr
    );

    let over = format!("{}", quantity(&max_cpu) * 2.0);
    let r = kube.create(&restricted_pod(ns, "too-big", &over));
    assert_ne!(r.code, 0, "a pod over the LimitRange was admitted");
    assert!(
        r.stderr
            .contains(&format!("maximum cpu usage per Container is {max_cpu}")),
        "{}",
        r.stderr
    );

    let r = kube.create(&service(ns, "plain", "ClusterIP"));
    assert_eq!(r.code, 0, "a ClusterIP Service: {}", r.stderr);
    for (kind, resource) in [
        ("LoadBalancer", "services.loadbalancers"),
        ("NodePort", "services.nodeports"),
    ] {
        let r = kube.create(&service(ns, &kind.to_lowercase(), kind));
        assert_ne!(r.code, 0, "a {kind} Service was admitted");
        assert!(
            r.stderr.contains("exceeded quota: dovetail")
                && r.stderr.contains(&format!("limited: {resource}=0")),
            "{}",
            r.stderr
        );
    }
}

// ------------------------------------------------------------------ 5. idempotence --

fn reapply_changes_nothing(name: &str) {
    let kube = kube();
    let ex = Example::new(name, "i");
    let render = ex.deploy(kube);
    // Let the controllers act first (ReplicaSets, pods, the autoscaler's minReplicas).
    kube.wait_until("the controllers", SETTLE, || {
        census(kube, &ex.ns, &BTreeSet::new())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(ex.render(), render, "render is not deterministic");
    for (what, yaml) in [("render", render), ("fleet", ex.fleet())] {
        let r = kube.diff(&yaml);
        assert!(
            r.code == 0 && r.stdout.is_empty(),
            "re-applying the {what} of {} would change (exit {}):\n{}{}",
            ex.ns,
            r.code,
            r.stdout,
            r.stderr
        );
    }
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn django_reapply_changes_nothing() {
    reapply_changes_nothing("django");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pretalx_reapply_changes_nothing() {
    reapply_changes_nothing("pretalx");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn indico_reapply_changes_nothing() {
    reapply_changes_nothing("indico");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn helpdesk_reapply_changes_nothing() {
    reapply_changes_nothing("helpdesk");
}

#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn pulp_reapply_changes_nothing() {
    reapply_changes_nothing("pulp");
}

// ------------------------------------------- 6. parity with the API server's checks --

/// A web pod fragment for examples/django with one of each field the cases break.
const FRAGMENT: &str = r#"    health: {path: /healthz}
    pod:
      initContainers:
        - name: prep
          image: registry.example.com/acme/prep:1
          command: ["/prep"]
      containers:
        - name: side
          image: registry.example.com/acme/side:1
          ports: [{name: mx-ab, containerPort: 9000}]
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          volumeMounts:
            - {name: info, mountPath: /mnt/dup-one}
            - {name: info, mountPath: /mnt/dup-two}
          livenessProbe: {httpGet: {path: /h, port: 9000}, successThreshold: 1, periodSeconds: 21}
      volumes:
        - name: info
          downwardAPI:
            items:
              - {path: labels, fieldRef: {fieldPath: metadata.labels}}
  worker:"#;

/// One case of issue 12's class "output the API server refuses".
struct Case {
    what: &'static str,
    /// In dovetail.yaml (with [`FRAGMENT`]): `from` → the bad value / the nearest valid one.
    app: (&'static str, &'static str, &'static str),
    /// What dovetail's stderr names.
    dovetail_says: &'static str,
    /// In the render of [`FRAGMENT`]: what dovetail would have written for the bad value.
    out: (&'static str, &'static str),
    /// What the API server says.
    server_says: &'static str,
}

const CASES: &[Case] = &[
    Case {
        what: "port name with '--'",
        app: ("name: mx-ab", "name: a--b", "name: a-b"),
        dovetail_says: "ports[0].name",
        out: ("name: mx-ab", "name: a--b"),
        server_says: "must not contain consecutive hyphens",
    },
    Case {
        what: "port name of digits only",
        app: ("name: mx-ab", "name: \"1234\"", "name: p1234"),
        dovetail_says: "ports[0].name",
        out: ("name: mx-ab", "name: \"1234\""),
        server_says: "must contain at least one letter",
    },
    Case {
        what: "port name of 16 characters",
        app: (
            "name: mx-ab",
            "name: abcdefghijklmnop",
            "name: abcdefghijklmno",
        ),
        dovetail_says: "ports[0].name",
        out: ("name: mx-ab", "name: abcdefghijklmnop"),
        server_says: "must be no more than 15 characters",
    },
    Case {
        what: "one mountPath twice in a container",
        app: (
            "mountPath: /mnt/dup-two",
            "mountPath: /mnt/dup-one",
            "mountPath: /mnt/dup-one-b",
        ),
        dovetail_says: "volumeMounts[1].mountPath",
        out: ("mountPath: /mnt/dup-two", "mountPath: /mnt/dup-one"),
        server_says: "must be unique",
    },
    Case {
        what: "an init container named like the generated one",
        app: ("name: prep", "name: init", "name: init-2"),
        dovetail_says: "initContainers[0].name",
        out: ("name: prep", "name: init"),
        server_says: "Duplicate value: \"init\"",
    },
    Case {
        what: "env fieldRef fieldPath an env var cannot read",
        app: (
            "fieldPath: metadata.name}",
            "fieldPath: metadata.labels}",
            "fieldPath: \"metadata.labels['app']\"}",
        ),
        dovetail_says: "env[0].valueFrom.fieldRef.fieldPath",
        out: ("fieldPath: metadata.name", "fieldPath: metadata.labels"),
        server_says: "Unsupported value: \"metadata.labels\"",
    },
    Case {
        what: "downwardAPI fieldPath a volume cannot read",
        app: (
            "fieldPath: metadata.labels}",
            "fieldPath: spec.nodeName}",
            "fieldPath: metadata.annotations}",
        ),
        dovetail_says: "downwardAPI.items[0].fieldRef.fieldPath",
        out: ("fieldPath: metadata.labels", "fieldPath: spec.nodeName"),
        server_says: "Unsupported value: \"spec.nodeName\"",
    },
    Case {
        what: "a float containerPort",
        app: (
            "containerPort: 9000}",
            "containerPort: 9000.0}",
            "containerPort: 9001}",
        ),
        dovetail_says: "ports[0].containerPort",
        out: ("containerPort: 9000", "containerPort: 9000.0"),
        server_says: "cannot unmarshal number 9000.0",
    },
    Case {
        what: "a liveness probe's successThreshold 2",
        app: (
            "livenessProbe: {httpGet: {path: /h, port: 9000}, successThreshold: 1",
            "livenessProbe: {httpGet: {path: /h, port: 9000}, successThreshold: 2",
            "readinessProbe: {httpGet: {path: /h, port: 9000}, successThreshold: 2",
        ),
        dovetail_says: "livenessProbe.successThreshold",
        out: ("successThreshold: 1", "successThreshold: 2"),
        server_says: "must be 1",
    },
    Case {
        what: "a probe with two handlers",
        app: (
            "{httpGet: {path: /h, port: 9000}, successThreshold",
            "{httpGet: {path: /h, port: 9000}, tcpSocket: {port: 9000}, successThreshold",
            "{tcpSocket: {port: 9000}, successThreshold",
        ),
        dovetail_says: "livenessProbe",
        out: (
            "            successThreshold: 1\n",
            "            tcpSocket:\n              port: 9000\n            successThreshold: 1\n",
        ),
        server_says: "may not specify more than 1 handler type",
    },
];

/// `text` with the one occurrence of `from` replaced by `to`.
fn replace_once(text: &str, from: &str, to: &str, what: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "{what}: `{from}` must occur once"
    );
    text.replacen(from, to, 1)
}

/// The Deployment `shop-web` of `render`, and a Pod made of its template.
fn web_objects(render: &str) -> [Value; 2] {
    let deployment = documents(render)
        .into_iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "shop-web")
        .expect("shop-web");
    // Created under another name: the app's own shop-web is already there.
    let mut deployment = deployment;
    deployment["metadata"]["name"] = json!("shop-web-parity");
    let template = &deployment["spec"]["template"];
    let mut metadata = template["metadata"].clone();
    metadata["name"] = json!("shop-web-parity");
    metadata["namespace"] = deployment["metadata"]["namespace"].clone();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template["spec"].clone(),
    });
    [deployment, pod]
}

/// Issue 12 class 6 on the real API server: for each case dovetail refuses the input
/// (exit 1, at its field) and the API server refuses what dovetail would have rendered
/// (the Deployment and a Pod of its template); for the nearest valid input dovetail renders
/// and the API server accepts the result.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn dovetail_refuses_what_the_api_server_refuses() {
    let kube = kube();
    let ex = Example::new("django", "v");
    ex.scratch.edit(
        "app/dovetail.yaml",
        "    health: {path: /healthz}\n  worker:",
        FRAGMENT,
    );
    let app = ex.scratch.read("app/dovetail.yaml");
    // The namespace, and the app's ServiceAccount and ConfigMaps its pods refer to.
    let base = ex.deploy(kube);
    let accepted = |render: &str, what: &str| {
        let r = kube.dry_run(render);
        assert!(
            r.code == 0 && r.stderr.is_empty(),
            "{what}: the API server refuses the render:\n{}",
            r.stderr
        );
        for obj in web_objects(render) {
            let r = kube.create_raw_dry_run(&obj);
            assert_eq!(r.code, 0, "{what}: {} refused:\n{}", obj["kind"], r.stderr);
        }
    };
    accepted(&base, "the fragment");
    let mut failures = vec![];
    for case in CASES {
        let (from, bad, good) = case.app;
        // dovetail refuses the bad input at its field…
        ex.scratch.write(
            "app/dovetail.yaml",
            &replace_once(&app, from, bad, case.what),
        );
        let r = ex.scratch.run("render", &[]);
        if r.code != 1 || !r.stdout.is_empty() || !r.stderr.contains(case.dovetail_says) {
            failures.push(format!(
                "{}: dovetail did not refuse it (exit {}):\n{}",
                case.what, r.code, r.stderr
            ));
        } else {
            assert!(r.stderr.starts_with("app/dovetail.yaml:"), "{}", r.stderr);
        }
        // …and the API server refuses what it would have rendered.
        let out = replace_once(&base, case.out.0, case.out.1, case.what);
        for obj in web_objects(&out) {
            let r = kube.create_raw_dry_run(&obj);
            if r.code == 0 || !r.stderr.contains(case.server_says) {
                failures.push(format!(
                    "{}: the API server did not refuse the {} as expected (exit {}):\n{}",
                    case.what, obj["kind"], r.code, r.stderr
                ));
            }
        }
        // The nearest valid input renders, and the API server accepts the result.
        ex.scratch.write(
            "app/dovetail.yaml",
            &replace_once(&app, from, good, case.what),
        );
        let r = ex.scratch.run("render", &[]);
        if r.code != 0 {
            failures.push(format!(
                "{} (valid variant): dovetail refused it:\n{}",
                case.what, r.stderr
            ));
            continue;
        }
        accepted(&r.stdout, &format!("{} (valid variant)", case.what));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// ------------------------------------------------------------------- 7. controller --

/// `dovetail-controller` running against the test control plane, stopped when dropped;
/// its stderr goes to a file, which the test reads for leaks. It acts as the service
/// account `deploy/controller` gives it, bound to the cluster role shipped there
/// ([`as_controller`]): what it does here it may do in a real cluster, with the
/// `OwnerReferencesPermissionEnforcement` admission plugin on.
struct Controller {
    child: std::process::Child,
    log: PathBuf,
}

impl Controller {
    fn start(kube: &Kube, identities: &[&Path], log: PathBuf) -> Controller {
        let bin = Path::new(env!("CARGO_BIN_EXE_dovetail")).with_file_name("dovetail-controller");
        let kubeconfig = as_controller(kube, &log.with_file_name("controller.kubeconfig"));
        let mut cmd = Command::new(&bin);
        cmd.arg("--kubeconfig").arg(&kubeconfig);
        for id in identities {
            cmd.arg("--identity").arg(id);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = cmd
            .env_remove("DOVETAIL_IDENTITY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Controller { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The user the controller's ServiceAccount authenticates as.
const CONTROLLER_USER: &str = "system:serviceaccount:dovetail-system:dovetail-controller";

/// Applies the `Namespace`, `ServiceAccount`, `ClusterRole` and `ClusterRoleBinding` of
/// `deploy/controller`, and writes at `path` a kubeconfig that acts as that service
/// account (the admin's, impersonating it).
fn as_controller(kube: &Kube, path: &Path) -> PathBuf {
    let built = kube.kubectl(
        &[
            "kustomize",
            root().join("deploy/controller").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        built.code, 0,
        "kubectl kustomize deploy/controller: {}",
        built.stderr
    );
    let rbac: Vec<&str> = built
        .stdout
        .split("\n---\n")
        .filter(|doc| {
            doc.lines().any(|l| {
                matches!(
                    l,
                    "kind: Namespace"
                        | "kind: ServiceAccount"
                        | "kind: ClusterRole"
                        | "kind: ClusterRoleBinding"
                )
            })
        })
        .collect();
    assert_eq!(rbac.len(), 4, "{}", built.stdout);
    kube.apply_ok(
        &rbac.join("\n---\n"),
        "the controller's ServiceAccount and ClusterRole",
    );
    let admin = std::fs::read_to_string(&kube.kubeconfig).unwrap();
    assert_eq!(
        admin.matches("\n  user:\n").count(),
        1,
        "one user in\n{admin}"
    );
    let acting = admin.replacen(
        "\n  user:\n",
        &format!("\n  user:\n    as: {CONTROLLER_USER}\n"),
        1,
    );
    std::fs::write(path, acting).unwrap();
    path.to_owned()
}

/// `check` every 100 ms until it gives something, for at most `timeout`.
fn poll<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An age key pair in `dir`, made with the library (the stock CLI is tested elsewhere).
fn age_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    )
    .unwrap();
    (path, id.to_public().to_string())
}

/// A value sealed for `<tenant>/<app>` and `key`.
fn sealed(value: &str, tenant: &str, app: &str, key: &str, recipient: &str) -> String {
    dovetail::crypto::encrypt(
        value.as_bytes(),
        &dovetail::crypto::Binding { tenant, app, key },
        &[recipient.parse().unwrap()],
    )
    .unwrap()
}

/// An AgeSecret of app `app` in `ns` with `data`, as YAML.
fn age_secret(ns: &str, app: &str, data: &[(&str, &str)], pull: Option<&str>) -> String {
    let mut spec = serde_json::json!({"data": data.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect::<serde_json::Map<_, _>>()});
    if let Some(p) = pull {
        spec["imagePullSecret"] = Value::from(p);
    }
    serde_json::to_string(&serde_json::json!({
        "apiVersion": "dovetail.dev/v1alpha1",
        "kind": "AgeSecret",
        "metadata": {"name": app, "namespace": ns},
        "spec": spec,
    }))
    .unwrap()
}

/// The decoded data of Secret `name` in `ns`, when it exists.
fn secret_data(kube: &Kube, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
    use base64::Engine;
    let r = kube.kubectl(&["get", "secret", name, "-n", ns, "-o", "json"], None);
    if r.code != 0 {
        return None;
    }
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    Some(
        v["data"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.as_str().unwrap())
                            .unwrap();
                        (k.clone(), String::from_utf8(bytes).unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn age_status(kube: &Kube, ns: &str, name: &str) -> Value {
    let r = kube.kubectl(&["get", "agesecret", name, "-n", ns, "-o", "json"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["status"].clone()
}

fn resource_version(kube: &Kube, kind: &str, ns: &str, name: &str) -> String {
    let r = kube.kubectl(
        &[
            "get",
            kind,
            name,
            "-n",
            ns,
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ],
        None,
    );
    r.stdout
}

/// Everything `dovetail controller` promises, on the real API server, in order: the
/// Secret appears with the right values; a value copied from another app's repo or moved
/// to another key is refused and named; a changed value is delivered within 2 s; a
/// removed key leaves; a Secret it does not own is left alone and reported; a restart
/// changes nothing; old and new identities both open values during a rotation; an
/// AgeSecret in a namespace without the fleet's labels is refused; and no plaintext in
/// the controller's log, the status or the events.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn the_controller_delivers_values_and_refuses_the_rest() {
    let kube = kube();
    let keys = tempfile::tempdir().unwrap();
    let (old_key, old) = age_key(keys.path(), "old.txt");
    let (new_key, new) = age_key(keys.path(), "new.txt");

    // The fleet makes the namespace, with the app's identity as labels.
    let ex = Example::new("django", "ctl");
    kube.delete_namespace(&ex.ns);
    kube.apply_ok(&ex.fleet(), "the fleet");
    let tenant = ex.ns.strip_suffix("-shop").unwrap().to_owned();
    let ns = ex.ns.clone();
    let plain = [
        ("SECRET_KEY", "v1-secret-key-value"),
        ("API_TOKEN", "v1-api-token-value"),
    ];
    let auth = r#"{"auths": {"registry.example.com": {"auth": "eDp5"}}}"#;
    let data = vec![
        (
            "SECRET_KEY",
            sealed(plain[0].1, &tenant, "shop", "SECRET_KEY", &old),
        ),
        (
            "API_TOKEN",
            sealed(plain[1].1, &tenant, "shop", "API_TOKEN", &new),
        ),
        (
            "COPIED",
            sealed("value-of-another-app", "beta", "blog", "COPIED", &new),
        ),
        (
            "MOVED",
            sealed("value-of-another-key", &tenant, "shop", "ELSEWHERE", &new),
        ),
    ];
    let as_refs = |d: &[(&'static str, String)]| -> Vec<(&'static str, String)> { d.to_vec() };
    let yaml = |d: &[(&str, String)], pull: Option<&str>| {
        let refs: Vec<(&str, &str)> = d.iter().map(|(k, v)| (*k, v.as_str())).collect();
        age_secret(&ns, "shop", &refs, pull)
    };
    kube.apply_ok(&yaml(&as_refs(&data), None), "the AgeSecret");

    let log = keys.path().join("controller.log");
    let controller = Controller::start(kube, &[&old_key, &new_key], log.clone());

    // 1. The Secret appears with the right values, from either identity (rotation).
    let got = poll(Duration::from_secs(30), "the Secret shop-secrets", || {
        secret_data(kube, &ns, "shop-secrets").filter(|d| d.len() == 2)
    })
    .unwrap_or_else(|e| panic!("{e}\ncontroller log:\n{}", controller.log()));
    assert_eq!(got.get("SECRET_KEY").map(String::as_str), Some(plain[0].1));
    assert_eq!(got.get("API_TOKEN").map(String::as_str), Some(plain[1].1));

    // 2. The copied and the moved value are left out and named, without their content.
    let status = poll(Duration::from_secs(30), "the AgeSecret's status", || {
        let s = age_status(kube, &ns, "shop");
        (s["refused"].as_array().map(Vec::len) == Some(2)).then_some(s)
    })
    .unwrap();
    let refused: Vec<&str> = status["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["COPIED", "MOVED"]);
    let ready = &status["conditions"][0];
    assert_eq!(ready["type"], "Ready");
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "ValuesRefused");
    let events = kube
        .kubectl(&["get", "events", "-n", &ns, "-o", "json"], None)
        .stdout;
    assert!(events.contains("ValuesRefused"), "{events}");

    // 3. A changed value is delivered within 2 s; a removed key leaves the Secret.
    let mut data2: Vec<(&str, String)> = data[..2].to_vec();
    data2[0].1 = sealed("v2-secret-key-value", &tenant, "shop", "SECRET_KEY", &new);
    let applied = Instant::now();
    kube.apply_ok(&yaml(&data2[..1], None), "the changed AgeSecret");
    poll(Duration::from_secs(10), "the changed value", || {
        secret_data(kube, &ns, "shop-secrets").filter(|d| {
            d.get("SECRET_KEY").map(String::as_str) == Some("v2-secret-key-value")
                && !d.contains_key("API_TOKEN")
        })
    })
    .unwrap();
    let took = applied.elapsed();
    eprintln!(
        "a changed value reached its Secret in {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    poll(Duration::from_secs(10), "Ready", || {
        (age_status(kube, &ns, "shop")["conditions"][0]["status"] == "True").then_some(())
    })
    .unwrap();

    // 4. A Secret of the pull secret's name the controller does not own stays as it is.
    kube.apply_ok(
        &format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-pull\n  namespace: {ns}\nstringData:\n  mine: \"keep\"\n"),
        "a Secret the operator made",
    );
    let mut data3 = data2[..1].to_vec();
    data3.push(("AUTH", sealed(auth, &tenant, "shop", "AUTH", &new)));
    kube.apply_ok(
        &yaml(&data3, Some("AUTH")),
        "the AgeSecret with a pull secret",
    );
    let status = poll(Duration::from_secs(15), "SecretNotOwned", || {
        let s = age_status(kube, &ns, "shop");
        (s["conditions"][0]["reason"] == "SecretNotOwned").then_some(s)
    })
    .unwrap();
    assert!(
        status["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("shop-pull")
    );
    assert_eq!(
        secret_data(kube, &ns, "shop-pull")
            .unwrap()
            .get("mine")
            .map(String::as_str),
        Some("keep")
    );

    // 5. Once the foreign Secret is gone, the pull secret is delivered as a dockerconfigjson.
    assert_eq!(
        kube.kubectl(&["delete", "secret", "shop-pull", "-n", &ns], None)
            .code,
        0
    );
    let pull = poll(Duration::from_secs(15), "the pull secret", || {
        secret_data(kube, &ns, "shop-pull").filter(|d| d.contains_key(".dockerconfigjson"))
    })
    .unwrap();
    assert_eq!(pull[".dockerconfigjson"], auth);
    let kind = kube.kubectl(
        &[
            "get",
            "secret",
            "shop-pull",
            "-n",
            &ns,
            "-o",
            "jsonpath={.type}",
        ],
        None,
    );
    assert_eq!(kind.stdout, "kubernetes.io/dockerconfigjson");

    // 6. A restart changes nothing.
    poll(Duration::from_secs(10), "Ready", || {
        (age_status(kube, &ns, "shop")["conditions"][0]["status"] == "True").then_some(())
    })
    .unwrap();
    let before = [
        resource_version(kube, "secret", &ns, "shop-secrets"),
        resource_version(kube, "secret", &ns, "shop-pull"),
        resource_version(kube, "agesecret", &ns, "shop"),
    ];
    drop(controller);
    let controller = Controller::start(kube, &[&old_key, &new_key], log.clone());
    std::thread::sleep(Duration::from_secs(5));
    let after = [
        resource_version(kube, "secret", &ns, "shop-secrets"),
        resource_version(kube, "secret", &ns, "shop-pull"),
        resource_version(kube, "agesecret", &ns, "shop"),
    ];
    assert_eq!(before, after, "a restart rewrote something");

    // 7. An AgeSecret in a namespace the fleet did not make is refused.
    let stray = format!("{ns}-stray");
    kube.apply_ok(
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {stray}\n"),
        "a namespace without the fleet's labels",
    );
    let stray_data = [(
        "SECRET_KEY",
        sealed("stray-value", &tenant, "shop", "SECRET_KEY", &new),
    )];
    let refs: Vec<(&str, &str)> = stray_data.iter().map(|(k, v)| (*k, v.as_str())).collect();
    kube.apply_ok(
        &age_secret(&stray, "shop", &refs, None),
        "a stray AgeSecret",
    );
    poll(Duration::from_secs(15), "NoAppIdentity", || {
        (age_status(kube, &stray, "shop")["conditions"][0]["reason"] == "NoAppIdentity")
            .then_some(())
    })
    .unwrap();
    assert!(secret_data(kube, &stray, "shop-secrets").is_none());

    // 8. No plaintext anywhere but in the Secrets.
    let everything = format!(
        "{}\n{}\n{}",
        controller.log(),
        kube.kubectl(&["get", "agesecrets", "-A", "-o", "json"], None)
            .stdout,
        kube.kubectl(&["get", "events", "-A", "-o", "json"], None)
            .stdout,
    );
    for value in [
        plain[0].1,
        plain[1].1,
        "v2-secret-key-value",
        "value-of-another-app",
        "value-of-another-key",
        "stray-value",
        "eDp5",
    ] {
        assert!(!everything.contains(value), "{value} leaked");
    }
    drop(controller);
    kube.delete_namespace(&stray);
    kube.delete_namespace(&ns);
}

/// The user Argo CD's application controller applies the fleet's Namespaces as.
const FLEET_USER: &str = "system:serviceaccount:argocd:argocd-application-controller";

/// The user it applies them as on a cluster added with `argocd cluster add`.
const REMOTE_FLEET_USER: &str = "system:serviceaccount:kube-system:argocd-manager";

/// A Namespace `name` with `labels`, as YAML.
fn namespace(name: &str, labels: &[(&str, &str)]) -> String {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    serde_json::to_string(&json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels},
    }))
    .unwrap()
}

/// The controller takes an app's identity (which its secrets are bound to) from its
/// Namespace's labels; the `ValidatingAdmissionPolicy` that `deploy/controller` ships keeps
/// them the fleet's: nobody else may set, change or remove them. Bound here to this
/// test's namespaces alone, since the other tests apply their fleets as the admin, in
/// parallel on this cluster.
#[test]
#[ignore = "needs a Kubernetes control plane built from Go modules (tests/cluster/control-plane); CI runs ignored tests"]
fn namespace_identity_labels_are_the_fleets_alone() {
    let kube = kube();
    for ns in ["nsid-a", "nsid-b", "nsid-c", "nsid-d"] {
        kube.delete_namespace(ns);
    }
    let built = kube.kubectl(
        &[
            "kustomize",
            root().join("deploy/controller").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let policies: Vec<&str> = built
        .stdout
        .split("\n---\n")
        .filter(|doc| doc.lines().any(|l| l == "kind: ValidatingAdmissionPolicy"))
        .collect();
    assert_eq!(policies.len(), 1, "{}", built.stdout);
    let policy = policies[0].replace(
        "name: dovetail-namespace-identity\n",
        "name: dovetail-namespace-identity-test\n",
    );
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "dovetail-namespace-identity-test"},
        "spec": {
            "policyName": "dovetail-namespace-identity-test",
            "validationActions": ["Deny"],
            "matchResources": {"objectSelector": {"matchLabels": {"dovetail-test": "namespace-identity"}}},
        },
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "dovetail-test-namespaces"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces", "namespaces/status", "namespaces/finalize"], "verbs": ["get", "create", "update", "patch"]}],
    });
    let role_binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "dovetail-test-namespaces"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "dovetail-test-namespaces"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": FLEET_USER},
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": REMOTE_FLEET_USER},
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "someone"},
        ],
    });
    kube.apply_ok(
        &format!("{policy}\n---\n{binding}\n---\n{role}\n---\n{role_binding}"),
        "the namespace identity policy",
    );
    let test = ("dovetail-test", "namespace-identity");
    let identity = [
        test,
        ("dovetail.dev/tenant", "acme"),
        ("dovetail.dev/app", "shop"),
    ];
    let create = |user: &str, yaml: &str, dry: bool| {
        let mut args = vec!["--as", user, "create", "-f", "-"];
        if dry {
            args.push("--dry-run=server");
        }
        kube.kubectl(&args, Some(yaml))
    };
    let refused = |r: &Run, what: &str| {
        assert_ne!(r.code, 0, "{what} was allowed");
        assert!(
            r.stderr.contains("only the dovetail fleet"),
            "{what}: {}",
            r.stderr
        );
    };
    // The policy takes effect once the API server has loaded it.
    kube.wait_until("the policy", SETTLE, || {
        match create("someone", &namespace("nsid-a", &identity), true) {
            r if r.stderr.contains("only the dovetail fleet") => Ok(()),
            r => Err(format!("not refused by the policy yet: {}", r.stderr)),
        }
    });

    refused(
        &create("someone", &namespace("nsid-a", &identity), false),
        "a namespace labelled with an app's identity by someone else",
    );
    create("someone", &namespace("nsid-b", &[test]), false).ok();
    let label = |user: &str, ns: &str, change: &str| {
        kube.kubectl(
            &[
                "--as",
                user,
                "label",
                "namespace",
                ns,
                change,
                "--overwrite",
            ],
            None,
        )
    };
    refused(
        &label("someone", "nsid-b", "dovetail.dev/app=shop"),
        "adding an identity label",
    );
    // The API server also takes label changes through the status and finalize
    // subresources, which a rule on `namespaces` alone does not match.
    let labels = json!({"metadata": {"labels": {"dovetail.dev/tenant": "acme", "dovetail.dev/app": "shop"}}});
    refused(
        &kube.kubectl(
            &[
                "--as",
                "someone",
                "patch",
                "namespace",
                "nsid-b",
                "--subresource=status",
                "--type=merge",
                "-p",
                &labels.to_string(),
            ],
            None,
        ),
        "adding identity labels through namespaces/status",
    );
    let current = kube.kubectl(&["get", "namespace", "nsid-b", "-o", "json"], None);
    assert_eq!(current.code, 0, "{}", current.stderr);
    let mut relabelled: serde_json::Value = serde_json::from_str(&current.stdout).unwrap();
    relabelled["metadata"]["labels"]["dovetail.dev/tenant"] = json!("acme");
    relabelled["metadata"]["labels"]["dovetail.dev/app"] = json!("shop");
    refused(
        &kube.kubectl(
            &[
                "--as",
                "someone",
                "replace",
                "--raw",
                "/api/v1/namespaces/nsid-b/finalize",
                "-f",
                "-",
            ],
            Some(&relabelled.to_string()),
        ),
        "adding identity labels through namespaces/finalize",
    );
    create(FLEET_USER, &namespace("nsid-c", &identity), false).ok();
    create(REMOTE_FLEET_USER, &namespace("nsid-d", &identity), false).ok();
    refused(
        &label("someone", "nsid-c", "dovetail.dev/app=other"),
        "changing an identity label",
    );
    refused(
        &label("someone", "nsid-c", "dovetail.dev/tenant-"),
        "removing an identity label",
    );
    label("someone", "nsid-c", "team=web").ok();
    label(FLEET_USER, "nsid-c", "dovetail.dev/app=other").ok();

    for ns in ["nsid-b", "nsid-c", "nsid-d"] {
        kube.delete_namespace(ns);
    }
    kube.kubectl(
        &[
            "delete",
            "validatingadmissionpolicybinding,validatingadmissionpolicy",
            "dovetail-namespace-identity-test",
        ],
        None,
    )
    .ok();
}
