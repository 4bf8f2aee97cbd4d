//! plugin.yaml's `generate` through Argo CD's real cmp-server: the argocd binary built
//! from `github.com/argoproj/argo-cd/v3` by `tests/cmp/build` (cached by version), run as
//! `argocd-cmp-server` with the repo's `plugin.yaml` as its config and the sidecar's
//! environment, and driven over its unix socket by the repo-server's own
//! `GenerateManifests` (`tests/cmp/repo-server`): ArgoCD's variables, plugin discovery or
//! selection by name, the parameters as `PARAM_*`, the repo streamed as a tarball, the
//! output parsed into objects. What comes back must be what `dovetail generate` prints
//! when run directly; a failure must come back as the plugin error with dovetail's message.
//!
//! The build takes minutes the first time, so the tests are ignored by default (CI runs
//! them); `$DOVETAIL_CMP_BIN` names a directory holding the binaries `tests/cmp/build`
//! prints.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{GitDaemon, Run, commit_copy, git, root};
use serde_json::{Value, json};

const IGNORED: &str =
    "needs Go: builds Argo CD's cmp-server (tests/cmp/build); CI runs ignored tests";

/// The directory of `argocd-cmp-server` and `repo-server`: `$DOVETAIL_CMP_BIN`, or what
/// `tests/cmp/build` prints (building them the first time).
fn cmp_bin() -> PathBuf {
    if let Some(dir) = common::test_var("DOVETAIL_CMP_BIN") {
        return PathBuf::from(dir);
    }
    let script = root().join("tests/cmp/build");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{IGNORED}: `{}` failed ({})",
        script.display(),
        out.status
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// PATH for the sidecar: the dovetail under test first.
fn sidecar_path() -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_dovetail")).parent().unwrap();
    format!("{}:/usr/bin:/bin", bin_dir.display())
}

/// A running `argocd-cmp-server` with plugin.yaml, in the sidecar's environment; stopped
/// when dropped.
struct CmpServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Child,
}

impl CmpServer {
    fn start(sidecar_env: &[(String, String)]) -> CmpServer {
        let bin = cmp_bin();
        let dir = tempfile::tempdir().unwrap();
        // Where the sidecar mounts it: the config directory holds plugin.yaml.
        fs::create_dir(dir.path().join("config")).unwrap();
        fs::copy(
            root().join("plugin.yaml"),
            dir.path().join("config/plugin.yaml"),
        )
        .unwrap();
        fs::create_dir(dir.path().join("plugins")).unwrap();
        fs::create_dir(dir.path().join("work")).unwrap();
        let log = fs::File::create(dir.path().join("cmp-server.log")).unwrap();
        let child = Command::new(bin.join("argocd-cmp-server"))
            .arg("--config-dir-path")
            .arg(dir.path().join("config"))
            .args(["--logformat", "text", "--loglevel", "info"])
            .env_clear()
            .env("PATH", sidecar_path())
            .env("HOME", dir.path())
            .env("ARGOCD_PLUGINSOCKFILEPATH", dir.path().join("plugins"))
            .env("ARGOCD_CMP_WORKDIR", dir.path().join("work"))
            .envs(sidecar_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = CmpServer { dir, bin, child };
        server.wait_for_socket();
        server
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("cmp-server.log")).unwrap_or_default()
    }

    /// cmp-server names its socket after the plugin: `dovetail.sock`.
    fn wait_for_socket(&mut self) {
        let socket = self.dir.path().join("plugins/dovetail.sock");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !socket.exists() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("argocd-cmp-server exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "argocd-cmp-server did not open {}:\n{}",
                socket.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The repo-server's `GenerateManifests` for `request` (see tests/cmp/repo-server):
    /// the objects, or the error ArgoCD would show.
    fn generate(&self, request: &Value) -> Result<Vec<Value>, String> {
        let mut cmd = Command::new(self.bin.join("repo-server"));
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("ARGOCD_PLUGINSOCKFILEPATH", self.dir.path().join("plugins"));
        let out = common::piped(cmd, request.to_string().as_bytes());
        let r = Run::from_output(out);
        if r.code != 0 {
            assert_eq!(r.stdout, "", "nothing on stdout on failure");
            return Err(r.stderr);
        }
        let res: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(res["sourceType"], "Plugin", "{res}");
        Ok(res["manifests"].as_array().unwrap().clone())
    }
}

impl Drop for CmpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dovetail generate` run directly in `dir` with `env` and nothing else: what the
/// cmp-server runs, without it.
fn generate_directly(dir: &Path, env: &[(String, String)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_dovetail"))
        .arg("generate")
        .current_dir(dir)
        .env_clear()
        .env("PATH", sidecar_path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from_output(out)
}

/// What the repo-server sets for `request` (reposerver/repository's `newEnv`) and the
/// plugin's parameters as cmp-server passes them.
fn argocd_env(request: &Value) -> Vec<(String, String)> {
    let s = |k: &str| request[k].as_str().unwrap_or_default().to_owned();
    let revision = s("revision");
    let mut env = vec![
        ("ARGOCD_APP_NAME".into(), s("appName")),
        ("ARGOCD_APP_NAMESPACE".into(), s("namespace")),
        ("ARGOCD_APP_PROJECT_NAME".into(), s("project")),
        ("ARGOCD_APP_REVISION".into(), revision.clone()),
        ("ARGOCD_APP_REVISION_SHORT".into(), revision[..7].into()),
        ("ARGOCD_APP_SOURCE_REPO_URL".into(), s("repoURL")),
        ("ARGOCD_APP_SOURCE_PATH".into(), s("path")),
        (
            "ARGOCD_APP_SOURCE_TARGET_REVISION".into(),
            s("targetRevision"),
        ),
    ];
    if let Some(params) = request["parameters"].as_object() {
        for (name, value) in params {
            env.push((
                format!("PARAM_{}", name.to_uppercase().replace('-', "_")),
                value.as_str().unwrap().to_owned(),
            ));
        }
    }
    env
}

/// The operator repo (the Django example, its allocation at `path: deploy`) served by a
/// `git daemon`, a customer repo for it, and the sidecar's environment.
struct Platform {
    dir: tempfile::TempDir,
    daemon: GitDaemon,
    cache: tempfile::TempDir,
}

impl Platform {
    fn new() -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let operator = dir.path().join("operator");
        commit_copy(&root().join("examples/django/operator"), &operator);
        let allocation = operator.join("tenants/acme/shop.yaml");
        let text = fs::read_to_string(&allocation).unwrap();
        fs::write(
            &allocation,
            text.replacen(
                "namespace: acme-shop",
                "path: deploy\nnamespace: acme-shop",
                1,
            ),
        )
        .unwrap();
        git(&operator, &["commit", "-q", "-am", "the app at deploy/"]);

        // The customer repo, the example app at deploy/.
        let customer = dir.path().join("customer");
        fs::create_dir(&customer).unwrap();
        common::copy_dir(
            &root().join("examples/django/app"),
            &customer.join("deploy"),
        );
        git(&customer, &["init", "-q", "-b", "main"]);
        git(&customer, &["add", "-A"]);
        git(&customer, &["commit", "-q", "-m", "app"]);

        let daemon = GitDaemon::start(dir.path());
        Platform {
            dir,
            daemon,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn operator(&self) -> PathBuf {
        self.dir.path().join("operator")
    }

    fn customer(&self) -> PathBuf {
        self.dir.path().join("customer")
    }

    fn operator_url(&self) -> String {
        self.daemon.url("operator")
    }

    /// The sidecar's own environment (deploy/sidecar.yaml's, pointed at the test's repos).
    fn sidecar_env(&self) -> Vec<(String, String)> {
        vec![
            ("DOVETAIL_OPERATOR_REPO".into(), self.operator_url()),
            (
                "DOVETAIL_CACHE_DIR".into(),
                self.cache.path().to_str().unwrap().into(),
            ),
            ("DOVETAIL_FETCH_TTL".into(), "0".into()),
        ]
    }

    /// The fleet Application (deploy/fleet/application.yaml) on the operator repo.
    fn fleet_request(&self) -> Value {
        json!({
            "repoRoot": self.operator(),
            "path": ".",
            "repoURL": self.operator_url(),
            "targetRevision": "main",
            "revision": git(&self.operator(), &["rev-parse", "HEAD"]),
            "appName": "dovetail-fleet",
            "namespace": "argocd",
            "project": "default",
            "plugin": "dovetail",
        })
    }

    /// The request for the child Application `app` of the fleet's render, on the
    /// customer repo's head.
    fn app_request(&self, app: &Value) -> Value {
        let source = &app["spec"]["source"];
        let plugin = &source["plugin"];
        let parameters: serde_json::Map<String, Value> = plugin["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_owned(), p["string"].clone()))
            .collect();
        json!({
            "repoRoot": self.customer(),
            "path": source["path"],
            "repoURL": source["repoURL"],
            "targetRevision": source["targetRevision"],
            "revision": git(&self.customer(), &["rev-parse", "HEAD"]),
            "appName": app["metadata"]["name"],
            "namespace": app["spec"]["destination"]["namespace"],
            "project": app["spec"]["project"],
            "plugin": plugin["name"],
            "parameters": parameters,
        })
    }

    /// `dovetail generate` run directly for `request`, as the sidecar would run it.
    fn generate_directly(&self, request: &Value) -> Run {
        let mut env = self.sidecar_env();
        env.extend(argocd_env(request));
        let dir = Path::new(request["repoRoot"].as_str().unwrap())
            .join(request["path"].as_str().unwrap());
        generate_directly(&dir, &env)
    }
}

/// The objects `dovetail generate` printed.
fn objects(r: &Run) -> Vec<Value> {
    r.ok();
    common::documents(&r.stdout)
}

fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            format!("{}/{}", s(&o["kind"]), s(&o["metadata"]["name"]))
        })
        .collect()
}

#[test]
#[ignore = "needs Go: builds Argo CD's cmp-server (tests/cmp/build); CI runs ignored tests"]
fn the_fleet_and_its_app_render_through_cmp_server_as_generate_prints_them() {
    let platform = Platform::new();
    let server = CmpServer::start(&platform.sidecar_env());

    // The fleet: the operator repo as the source, selected by the sidecar's environment.
    let fleet = platform.fleet_request();
    let through_cmp = server
        .generate(&fleet)
        .unwrap_or_else(|e| panic!("the fleet through cmp-server: {e}\n{}", server.log()));
    let direct = objects(&platform.generate_directly(&fleet));
    assert_eq!(names(&through_cmp), names(&direct));
    assert_eq!(through_cmp, direct);
    let app = through_cmp
        .iter()
        .find(|o| o["kind"] == "Application" && o["metadata"]["name"] == "acme-shop")
        .unwrap_or_else(|| panic!("no Application acme-shop in {:?}", names(&through_cmp)));

    // The app, as the fleet's Application acme-shop asks for it: by plugin name, with
    // the operator revision as its parameter.
    let request = platform.app_request(app);
    assert_eq!(request["plugin"], "dovetail", "{request}");
    assert_eq!(
        request["parameters"]["operator-revision"], fleet["revision"],
        "{request}"
    );
    let through_cmp = server
        .generate(&request)
        .unwrap_or_else(|e| panic!("the app through cmp-server: {e}\n{}", server.log()));
    let direct = objects(&platform.generate_directly(&request));
    assert!(
        names(&direct).iter().any(|n| n.starts_with("Deployment/")),
        "{:?}",
        names(&direct)
    );
    assert_eq!(names(&through_cmp), names(&direct));
    assert_eq!(through_cmp, direct);

    // Without a plugin name the repo-server asks each plugin whether it matches the repo:
    // plugin.yaml's discovery (dovetail.yaml in the app path) claims it.
    let mut discovered = request.clone();
    discovered["plugin"] = json!("");
    assert_eq!(server.generate(&discovered).unwrap(), direct);
}

#[test]
#[ignore = "needs Go: builds Argo CD's cmp-server (tests/cmp/build); CI runs ignored tests"]
fn a_failing_render_comes_back_as_the_plugin_error_with_dovetails_message() {
    let platform = Platform::new();
    let server = CmpServer::start(&platform.sidecar_env());
    let customer = platform.customer();
    let dovetail_yaml = customer.join("deploy/dovetail.yaml");
    let text = fs::read_to_string(&dovetail_yaml).unwrap();
    fs::write(&dovetail_yaml, format!("{text}replicas: 40\n")).unwrap();
    git(
        &customer,
        &["commit", "-q", "-am", "a field the customer may not set"],
    );

    let fleet = platform.fleet_request();
    let app = server
        .generate(&fleet)
        .unwrap()
        .into_iter()
        .find(|o| o["kind"] == "Application" && o["metadata"]["name"] == "acme-shop")
        .unwrap();
    let request = platform.app_request(&app);
    let direct = platform.generate_directly(&request);
    direct.fails(Some(1), "dovetail.yaml:");
    let message = direct.stderr.trim();

    let err = server.generate(&request).unwrap_err();
    assert!(
        err.contains("`dovetail generate` failed exit status 1: ") && err.contains(message),
        "the plugin error lacks dovetail's message\n  {message}\ngot:\n{err}"
    );
}

#[test]
#[ignore = "needs Go: builds Argo CD's cmp-server (tests/cmp/build); CI runs ignored tests"]
fn an_override_file_the_repo_server_merges_is_refused() {
    let platform = Platform::new();
    let server = CmpServer::start(&platform.sidecar_env());
    let customer = platform.customer();
    // The repo-server merges it into the Application's source before the plugin runs:
    // the customer would pick the operator revision (a commit id: only those pass).
    fs::write(
        customer.join("deploy/.argocd-source.yaml"),
        "plugin:\n  parameters:\n    - name: operator-revision\n      string: 0123456789abcdef0123456789abcdef01234567\n",
    )
    .unwrap();
    git(&customer, &["add", "-A"]);
    git(&customer, &["commit", "-q", "-m", "override"]);

    let fleet = platform.fleet_request();
    let app = server
        .generate(&fleet)
        .unwrap()
        .into_iter()
        .find(|o| o["kind"] == "Application" && o["metadata"]["name"] == "acme-shop")
        .unwrap();
    let err = server.generate(&platform.app_request(&app)).unwrap_err();
    assert!(
        err.contains("refusing to render: `.argocd-source.yaml` in the app path"),
        "{err}"
    );
}
