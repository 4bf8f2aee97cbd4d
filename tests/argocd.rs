//! `dovetail generate` run the way ArgoCD's cmp-server runs plugin.yaml: the whole
//! customer repo (with `.git`) packed into a tarball and extracted into a fresh
//! directory, the command executed without a shell in the app path, ArgoCD's variables
//! set beside the sidecar's own; the operator repo served by a `git daemon` on 127.0.0.1.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{GitDaemon, Run, commit_copy, git, root};
use dovetail::input::yaml;

/// plugin.yaml's generate command, as cmp-server reads it.
fn generate_command() -> Vec<String> {
    let text = fs::read_to_string(root().join("plugin.yaml")).unwrap();
    let doc = yaml::parse(&text).unwrap().to_json();
    assert_eq!(doc["kind"], "ConfigManagementPlugin");
    let generate = &doc["spec"]["generate"];
    let mut cmd: Vec<String> = generate["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    if let Some(args) = generate["args"].as_array() {
        cmd.extend(args.iter().map(|v| v.as_str().unwrap().to_owned()));
    }
    cmd
}

/// The platform: an operator repo served over git, and the sidecar's environment.
struct Platform {
    dir: tempfile::TempDir,
    daemon: GitDaemon,
    cache: tempfile::TempDir,
}

const REPO: &str = "https://git.example.com/acme/shop.git";

impl Platform {
    fn new() -> Platform {
        let dir = tempfile::tempdir().unwrap();
        commit_copy(
            &root().join("examples/django/operator"),
            &dir.path().join("operator"),
        );
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

    fn operator_head(&self) -> String {
        git(&self.operator(), &["rev-parse", "HEAD"])
    }

    /// Switches the platform to decrypting at render time, and commits.
    fn decrypt_at_render(&self) {
        common::decrypt_at_render(&self.operator());
        git(
            &self.operator(),
            &["commit", "-q", "-am", "render-time decryption"],
        );
    }

    /// Replaces `from` by `to` in the allocation and commits; returns the commit.
    fn edit_allocation(&self, from: &str, to: &str) -> String {
        let path = self.operator().join("tenants/acme/shop.yaml");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from));
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        git(&self.operator(), &["commit", "-q", "-am", "edit"]);
        self.operator_head()
    }

    /// The sidecar's own environment.
    fn sidecar_env(&self) -> Vec<(String, String)> {
        vec![
            ("DOVETAIL_OPERATOR_REPO".into(), self.daemon.url("operator")),
            (
                "DOVETAIL_CACHE_DIR".into(),
                self.cache.path().to_str().unwrap().into(),
            ),
            ("DOVETAIL_FETCH_TTL".into(), "0".into()),
        ]
    }
}

/// A customer repo: the Django example app at `deploy/`, committed.
fn customer_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir(&repo).unwrap();
    commit_copy(&root().join("examples/django/app"), &repo.join("deploy"));
    // commit_copy made deploy/ its own repo; make the repo root the repository instead.
    fs::remove_dir_all(repo.join("deploy/.git")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "app"]);
    dir
}

/// What ArgoCD sets for the Application `name` deploying `path` of `repo_url`.
fn argocd_env(name: &str, repo_url: &str, path: &str, revision: &str) -> Vec<(String, String)> {
    vec![
        ("ARGOCD_APP_NAME".into(), name.into()),
        ("ARGOCD_APP_NAMESPACE".into(), "acme-shop".into()),
        // The fleet puts each app's Application in an AppProject of the same name.
        (
            "ARGOCD_APP_PROJECT_NAME".into(),
            name.rsplit('_').next().unwrap().into(),
        ),
        ("ARGOCD_APP_REVISION".into(), revision.into()),
        ("ARGOCD_APP_REVISION_SHORT".into(), revision[..7].into()),
        ("ARGOCD_APP_SOURCE_REPO_URL".into(), repo_url.into()),
        ("ARGOCD_APP_SOURCE_PATH".into(), path.into()),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION".into(), "HEAD".into()),
        ("KUBE_VERSION".into(), "1.33.0".into()),
        // An Application's plugin env arrives prefixed; it must not reach dovetail's.
        (
            "ARGOCD_ENV_DOVETAIL_OPERATOR_REPO".into(),
            "git://127.0.0.1:1/evil".into(),
        ),
    ]
}

/// Packs `repo` (with `.git`) the way repo-server sends it, extracts it into a fresh
/// directory and runs plugin.yaml's command in `path` with `env`.
fn cmp_server(repo: &Path, path: &str, env: &[(String, String)]) -> Run {
    let work = tempfile::tempdir().unwrap();
    let tarball = work.path().join("repo.tar.gz");
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(repo)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let extracted = work.path().join("src");
    fs::create_dir(&extracted).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&extracted)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(extracted.join(".git").is_dir(), "the tarball carries .git");

    let cmd = generate_command();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_dovetail")).parent().unwrap();
    let path_var = format!("{}:/usr/bin:/bin", bin_dir.display());
    let out = Command::new(&cmd[0])
        .args(&cmd[1..])
        .current_dir(extracted.join(path))
        .env_clear()
        .env("PATH", path_var)
        .env("HOME", work.path())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    Run::from_output(out)
}

fn refused(r: &Run, expected: &str) {
    r.fails(None, expected);
}

/// The app rendered by hand from directories, at the allocation `path: deploy`.
fn rendered_by_hand(platform: &Platform) -> String {
    let r = common::dovetail(
        &[
            "render",
            "--app",
            "examples/django/app",
            "--operator",
            platform.operator().to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
}

/// The operator repo with the allocation at `path: deploy`, and a customer repo for it.
struct App {
    platform: Platform,
    _customer: tempfile::TempDir,
    repo: PathBuf,
}

impl App {
    fn new() -> App {
        let platform = Platform::new();
        platform.edit_allocation("namespace: acme-shop", "path: deploy\nnamespace: acme-shop");
        let customer = customer_repo();
        let repo = customer.path().join("repo");
        App {
            platform,
            _customer: customer,
            repo,
        }
    }

    /// Sidecar and ArgoCD environment for the Application `name` deploying `url`.
    fn env(&self, name: &str, url: &str) -> Vec<(String, String)> {
        let mut env = self.platform.sidecar_env();
        let head = git(&self.repo, &["rev-parse", "HEAD"]);
        env.extend(argocd_env(name, url, "deploy", &head));
        env
    }

    /// plugin.yaml's command on the customer repo, run as cmp-server runs it.
    fn run(&self, env: &[(String, String)]) -> Run {
        cmp_server(&self.repo, "deploy", env)
    }

    /// The customer commits a secret `value` (to `recipient`) and names the file.
    fn commit_secret(&self, value: &str, recipient: &str) {
        let deploy = self.repo.join("deploy");
        common::secrets_set(&deploy, "SECRET_KEY", value, recipient);
        let dovetail_yaml = deploy.join("dovetail.yaml");
        let text = fs::read_to_string(&dovetail_yaml).unwrap();
        fs::write(&dovetail_yaml, format!("{text}secrets: secrets.yaml\n")).unwrap();
        self.commit("secrets");
    }

    /// Commits everything in the customer repo.
    fn commit(&self, message: &str) {
        git(&self.repo, &["add", "-A"]);
        git(&self.repo, &["commit", "-q", "-m", message]);
    }

    /// The customer commits an operator repo of their own in the app path: a
    /// platform.yaml and an allocation granting themselves a namespace.
    fn commit_fleet_of_their_own(&self) {
        let deploy = self.repo.join("deploy");
        let operator = root().join("examples/django/operator");
        fs::copy(operator.join("platform.yaml"), deploy.join("platform.yaml")).unwrap();
        fs::create_dir_all(deploy.join("tenants/mallory")).unwrap();
        fs::copy(
            operator.join("tenants/acme/shop.yaml"),
            deploy.join("tenants/mallory/kube-system.yaml"),
        )
        .unwrap();
        self.commit("fleet of my own");
    }
}

/// Sets `key` in `env`, replacing what it held.
fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

#[test]
fn an_app_renders_as_cmp_server_runs_it() {
    let app = App::new();
    let r = app.run(&app.env("acme-shop", REPO));
    r.ok();
    assert_eq!(r.stdout, rendered_by_hand(&app.platform));
    assert!(
        r.stderr.contains(&app.platform.daemon.url("operator")),
        "{}",
        r.stderr
    );

    // The other spellings of the same repo, and an Application outside ArgoCD's namespace.
    for (name, url) in [
        ("acme-shop", "ssh://git@git.example.com/acme/shop"),
        ("acme-shop", "git@git.example.com:acme/shop.git"),
        ("acme-shop", "https://git.example.com/acme/shop/"),
        ("tenants_acme-shop", REPO),
    ] {
        app.run(&app.env(name, url)).ok();
    }
}

#[test]
fn override_files_in_the_app_path_are_refused() {
    for file in [".argocd-source.yaml", ".argocd-source-acme-shop.yaml"] {
        let app = App::new();
        fs::write(
            app.repo.join("deploy").join(file),
            "plugin:\n  parameters:\n    - name: operator-revision\n      string: main\n",
        )
        .unwrap();
        app.commit("override");
        let r = app.run(&app.env("acme-shop", REPO));
        refused(&r, &format!("refusing to render: `{file}` in the app path"));
    }
}

#[test]
fn an_application_for_another_repo_or_path_is_refused() {
    let app = App::new();
    let r = app.run(&app.env("acme-shop", "https://git.example.com/mallory/shop.git"));
    refused(
        &r,
        "Application `acme-shop` deploys https://git.example.com/mallory/shop.git, but its allocation",
    );

    let mut env = app.env("acme-shop", REPO);
    set(&mut env, "ARGOCD_APP_SOURCE_PATH", ".");
    refused(
        &app.run(&env),
        "deploys path `.` of its repo, but its allocation",
    );
    set(&mut env, "ARGOCD_APP_SOURCE_PATH", "");
    refused(
        &app.run(&env),
        "deploys path `` of its repo, but its allocation",
    );

    // Aimed at another namespace than the allocation's: not this app's Application.
    let mut env = app.env("acme-shop", REPO);
    set(&mut env, "ARGOCD_APP_NAMESPACE", "mallory");
    refused(
        &app.run(&env),
        "Application `acme-shop` deploys to namespace `mallory`, but its allocation",
    );
    set(&mut env, "ARGOCD_APP_NAMESPACE", "");
    refused(
        &app.run(&env),
        "Application `acme-shop` names no destination namespace (ARGOCD_APP_NAMESPACE is empty)",
    );

    // In another project than the fleet's for the app, Argo CD's own checks of repo and
    // destination are not the allocation's.
    let mut env = app.env("acme-shop", REPO);
    set(&mut env, "ARGOCD_APP_PROJECT_NAME", "default");
    refused(
        &app.run(&env),
        "Application `acme-shop` is in project `default`, but the fleet puts its allocation",
    );
}

/// Regression: the repo comparison took everything up to the first `/` as the host, so
/// an Application that Git and Argo CD fetch from another host (`?` and `#` end the
/// authority, whatever follows) passed as the allocation's repo; plain http and git://
/// compared equal to its https repo.
#[test]
fn an_application_fetching_from_another_host_or_over_plain_http_is_refused() {
    let app = App::new();
    let host_and_path = REPO.strip_prefix("https://").unwrap();
    for url in [
        format!("https://evil.example.org?@{host_and_path}"),
        format!("https://evil.example.org#@{host_and_path}"),
        format!("http://{host_and_path}"),
        format!("git://{host_and_path}"),
    ] {
        refused(
            &app.run(&app.env("acme-shop", &url)),
            "Application `acme-shop` deploys ",
        );
    }
}

#[test]
fn an_unknown_application_is_refused() {
    let app = App::new();
    let r = app.run(&app.env("acme-blog", REPO));
    refused(&r, "no allocation in the operator repo");
    assert!(
        r.stderr.contains("for Application `acme-blog`"),
        "{}",
        r.stderr
    );
    assert_eq!(r.code, 2);
}

#[test]
fn an_application_name_two_allocations_could_claim_is_refused() {
    let app = App::new();
    let op = app.platform.operator();
    // `acme` + `shop-x` and `acme-shop` + `x` are both Application `acme-shop-x`; the
    // lookup tries every split of the name, so it sees both.
    fs::create_dir_all(op.join("tenants/acme-shop")).unwrap();
    fs::copy(
        op.join("tenants/acme/shop.yaml"),
        op.join("tenants/acme/shop-x.yaml"),
    )
    .unwrap();
    fs::copy(
        op.join("tenants/acme/shop.yaml"),
        op.join("tenants/acme-shop/x.yaml"),
    )
    .unwrap();
    git(&op, &["add", "-A"]);
    git(&op, &["commit", "-q", "-m", "clash"]);
    let r = app.run(&app.env("acme-shop-x", REPO));
    refused(
        &r,
        "Application `acme-shop-x` matches 2 allocations (tenants/acme/shop-x.yaml, tenants/acme-shop/x.yaml)",
    );
}

/// The customer's files are named by their path in the repo (the Application's
/// `path: deploy`), where the customer finds them: not as if the repo held one app at
/// its root.
#[test]
fn argocd_errors_name_the_customers_files_by_their_path_in_the_repo() {
    let app = App::new();
    let dovetail_yaml = app.repo.join("deploy/dovetail.yaml");
    let text = fs::read_to_string(&dovetail_yaml).unwrap();
    let text = text.replace(
        "  GUNICORN_WORKERS: 3\n",
        "  GUNICORN_WORKERS: 3\n  DATABASE_URL: x\n",
    );
    fs::write(&dovetail_yaml, text).unwrap();
    app.commit("platform variable");
    let r = app.run(&app.env("acme-shop", REPO));
    refused(&r, "error: env.DATABASE_URL: set by the platform");
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("deploy/dovetail.yaml:22:3: error: env.DATABASE_URL")),
        "{}",
        r.stderr
    );
}

#[test]
fn a_customer_repo_cannot_select_fleet_mode() {
    let app = App::new();
    let deploy = app.repo.join("deploy");
    // With dovetail.yaml still there it is an app like any other: no fleet objects.
    app.commit_fleet_of_their_own();
    let r = app.run(&app.env("acme-shop", REPO));
    r.ok();
    assert!(!r.stdout.contains("kind: AppProject"), "{}", r.stdout);
    assert!(!r.stdout.contains("kind: Namespace"), "{}", r.stdout);

    // Deleted, or a link (dangling, or out of the checkout): refused, never the fleet.
    fs::remove_file(deploy.join("dovetail.yaml")).unwrap();
    app.commit("deleted");
    let r = app.run(&app.env("acme-shop", REPO));
    refused(&r, "holds no dovetail.yaml");
    std::os::unix::fs::symlink("missing.yaml", deploy.join("dovetail.yaml")).unwrap();
    app.commit("dangling");
    let r = app.run(&app.env("acme-shop", REPO));
    refused(
        &r,
        "dovetail.yaml:1:1: error: `dovetail.yaml` does not exist",
    );
    // Whether the sidecar has the file a link outside names must not show: the same
    // answer for one it has and one it has not.
    let mut answers = Vec::new();
    for target in ["/etc/passwd", "/nonexistent/dovetail.yaml"] {
        fs::remove_file(deploy.join("dovetail.yaml")).unwrap();
        std::os::unix::fs::symlink(target, deploy.join("dovetail.yaml")).unwrap();
        app.commit(target);
        let r = app.run(&app.env("acme-shop", REPO));
        refused(&r, "`dovetail.yaml` leads outside the repo");
        answers.push((r.code, r.stderr.replace(target, "")));
    }
    assert_eq!(answers[0], answers[1]);

    // A directory of that name: refused where it stands, and still never the fleet.
    fs::remove_file(deploy.join("dovetail.yaml")).unwrap();
    fs::create_dir(deploy.join("dovetail.yaml")).unwrap();
    fs::write(deploy.join("dovetail.yaml/x"), "x\n").unwrap();
    app.commit("a directory");
    let r = app.run(&app.env("acme-shop", REPO));
    refused(
        &r,
        "dovetail.yaml:1:1: error: `dovetail.yaml` is not a regular file",
    );
    assert!(!r.stdout.contains("kind: AppProject"), "{}", r.stdout);

    // Even named like the fleet Application, from the customer's repo.
    let mut env = app.env("dovetail-fleet", REPO);
    set(&mut env, "ARGOCD_APP_NAMESPACE", "argocd");
    let r = app.run(&env);
    assert_ne!(r.code, 0);
    assert!(!r.stdout.contains("kind: AppProject"), "{}", r.stdout);
}

/// A sidecar naming the operator repo by a relative directory would read it from the
/// Application's source, where a customer can commit a platform.yaml and allocations of
/// their own: refused as the sidecar's setting (exit 2), whatever the app path holds.
#[test]
fn a_relative_operator_directory_in_the_sidecar_is_refused() {
    let app = App::new();
    app.commit_fleet_of_their_own();
    for relative in [".", "deploy", "../deploy", "./operator"] {
        let mut env = app.env("acme-shop", REPO);
        set(&mut env, "DOVETAIL_OPERATOR_REPO", relative);
        let r = app.run(&env);
        r.fails(
            Some(2),
            &format!("DOVETAIL_OPERATOR_REPO `{relative}` is a relative directory"),
        );
        assert!(r.stderr.contains("operator repo's git URL"), "{}", r.stderr);
        assert!(!r.stderr.contains("platform.yaml"), "{}", r.stderr);
    }
}

#[test]
fn the_fleet_is_read_from_the_operator_repo_at_the_revision_argocd_resolved() {
    let platform = Platform::new();
    let op = platform.operator();
    // A checkout that holds more than the commit: what is rendered is the commit, as
    // the sidecar fetched it, not the files handed over.
    fs::create_dir_all(op.join("tenants/extra")).unwrap();
    fs::copy(
        op.join("tenants/acme/shop.yaml"),
        op.join("tenants/extra/app.yaml"),
    )
    .unwrap();
    let r = cmp_server(&op, "", &fleet_env(&platform));
    r.ok();
    assert_eq!(
        r.stdout.matches("\nkind: Namespace\n").count(),
        1,
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("extra-app"), "{}", r.stdout);
}

#[test]
fn the_operator_revision_parameter_pins_the_operator_repo() {
    let mut app = App::new();
    let pinned = app.platform.operator_head();
    let newer = app.platform.edit_allocation("replicas: 2", "replicas: 3");
    let mut env = app.env("acme-shop", REPO);

    let latest = app.run(&env);
    latest.ok();
    assert!(latest.stderr.contains(&newer), "{}", latest.stderr);
    assert!(latest.stdout.contains("replicas: 3"));

    set(&mut env, "PARAM_OPERATOR_REVISION", &pinned);
    let r = app.run(&env);
    r.ok();
    assert!(
        r.stderr.contains(&format!("at commit {pinned}")),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("replicas: 2"));
    assert!(!r.stdout.contains("replicas: 3"));

    // Pinned and cached: the operator's git server may be down.
    app.platform.daemon.stop();
    let again = app.run(&env);
    again.ok();
    assert_eq!(again.stdout, r.stdout);

    // Only a commit id: a branch, even one that exists, could be a change nobody merged.
    for rev in ["main;rm -rf /", "main"] {
        set(&mut env, "PARAM_OPERATOR_REVISION", rev);
        refused(
            &app.run(&env),
            &format!(
                "PARAM_OPERATOR_REVISION `{rev}` is not a full commit id (40 hexadecimal digits)"
            ),
        );
    }
}

#[test]
fn secrets_without_an_identity_are_never_deployed_redacted() {
    let app = App::new();
    app.platform.decrypt_at_render();
    // An armored age value is enough: without an identity it would be rendered redacted.
    app.commit_secret("s3cret", common::EXAMPLE_RECIPIENT);
    refused(
        &app.run(&app.env("acme-shop", REPO)),
        "refusing to deploy redacted Secrets",
    );
}

/// ArgoCD's environment for the fleet Application rendering the operator repo.
fn fleet_env(platform: &Platform) -> Vec<(String, String)> {
    let head = platform.operator_head();
    argocd_env(
        "dovetail-fleet",
        &platform.daemon.url("operator"),
        ".",
        &head,
    )
    .into_iter()
    .map(|(k, v)| match k.as_str() {
        "ARGOCD_APP_NAMESPACE" => (k, "argocd".to_owned()),
        _ => (k, v),
    })
    .chain(platform.sidecar_env())
    .collect()
}

#[test]
fn the_fleet_renders_guardrails_for_every_allocation() {
    let platform = Platform::new();
    let head = platform.operator_head();
    let r = cmp_server(&platform.operator(), "", &fleet_env(&platform));
    r.ok();
    let docs = common::documents(&r.stdout);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ResourceQuota",
            "LimitRange",
            "NetworkPolicy",
            "AppProject",
            "Application"
        ]
    );
    // A default-deny baseline: only what the app's own policies allow gets through.
    assert_eq!(docs[3]["metadata"]["name"], "dovetail-baseline");
    assert_eq!(docs[3]["spec"]["podSelector"], serde_json::json!({}));
    assert_eq!(
        docs[3]["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let ns = &docs[0];
    assert_eq!(ns["metadata"]["name"], "acme-shop");
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let project = &docs[4]["spec"];
    assert_eq!(project["sourceRepos"], serde_json::json!([REPO]));
    assert_eq!(
        project["destinations"],
        serde_json::json!([{"server": "https://kubernetes.default.svc", "namespace": "acme-shop"}])
    );
    assert_eq!(project["clusterResourceWhitelist"], serde_json::json!([]));
    let app = &docs[5];
    assert_eq!(app["metadata"]["namespace"], "argocd");
    assert_eq!(app["spec"]["project"], "acme-shop");
    assert_eq!(app["spec"]["source"]["repoURL"], REPO);
    assert_eq!(app["spec"]["source"]["plugin"]["name"], "dovetail");
    assert_eq!(
        app["spec"]["source"]["plugin"]["parameters"],
        serde_json::json!([{"name": "operator-revision", "string": head}])
    );
    // Every kind the app's own render produces is admitted by its project, and nothing else.
    let allowed: Vec<String> = project["namespaceResourceWhitelist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap().to_owned())
        .collect();
    for line in rendered_by_hand(&platform).lines() {
        if let Some(kind) = line.strip_prefix("kind: ") {
            assert!(
                allowed.iter().any(|k| k == kind),
                "{kind} is not in the project"
            );
        }
    }
}

#[test]
fn the_fleet_refuses_two_allocations_claiming_one_namespace_or_name() {
    let platform = Platform::new();
    let op = platform.operator();
    fs::create_dir_all(op.join("tenants/acme-shop")).unwrap();
    fs::copy(
        op.join("tenants/acme/shop.yaml"),
        op.join("tenants/acme/blog.yaml"),
    )
    .unwrap();
    git(&op, &["add", "-A"]);
    git(&op, &["commit", "-q", "-m", "blog"]);
    let r = cmp_server(&op, "", &fleet_env(&platform));
    refused(
        &r,
        "tenants/acme/shop.yaml:6:12: error: namespace: namespace `acme-shop` is already tenants/acme/blog.yaml's",
    );

    let text = fs::read_to_string(op.join("tenants/acme/blog.yaml")).unwrap();
    fs::write(
        op.join("tenants/acme/blog.yaml"),
        text.replace("namespace: acme-shop", "namespace: acme-blog"),
    )
    .unwrap();
    // `acme` + `shop-x` and `acme-shop` + `x` both make the Application name acme-shop-x.
    fs::copy(
        op.join("tenants/acme/blog.yaml"),
        op.join("tenants/acme/shop-x.yaml"),
    )
    .unwrap();
    let text = fs::read_to_string(op.join("tenants/acme/blog.yaml")).unwrap();
    fs::write(
        op.join("tenants/acme-shop/x.yaml"),
        text.replace("namespace: acme-blog", "namespace: acme-x"),
    )
    .unwrap();
    let text = fs::read_to_string(op.join("tenants/acme/shop-x.yaml")).unwrap();
    fs::write(
        op.join("tenants/acme/shop-x.yaml"),
        text.replace("namespace: acme-blog", "namespace: acme-shop-x"),
    )
    .unwrap();
    git(&op, &["add", "-A"]);
    git(&op, &["commit", "-q", "-m", "clash"]);
    let r = cmp_server(&op, "", &fleet_env(&platform));
    refused(&r, "its Application name `acme-shop-x` is also");
}

#[test]
fn the_fleet_renders_a_thousand_allocations() {
    let platform = Platform::new();
    let op = platform.operator();
    let template = fs::read_to_string(op.join("tenants/acme/shop.yaml")).unwrap();
    for i in 0..1000 {
        let dir = op.join(format!("tenants/t{:03}", i / 10));
        fs::create_dir_all(&dir).unwrap();
        let text = template
            .replace("namespace: acme-shop", &format!("namespace: t{i:04}"))
            .replace(".acme.", &format!(".t{:03}.", i / 10));
        fs::write(dir.join(format!("app{i}.yaml")), text).unwrap();
    }
    git(&op, &["add", "-A"]);
    git(&op, &["commit", "-q", "-m", "fleet"]);
    let r = cmp_server(&op, "", &fleet_env(&platform));
    r.ok();
    assert_eq!(r.stdout.matches("\nkind: Application\n").count(), 1001);
    assert_eq!(r.stdout.matches("\nkind: Namespace\n").count(), 1001);
}

#[test]
fn outside_argocd_generate_says_what_it_needs() {
    let r = common::dovetail(&["generate"], &root().join("examples/django/app"));
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.contains("ARGOCD_APP_NAME is not set"),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/); CI runs ignored tests"]
fn the_deploy_overlay_adds_a_locked_down_sidecar() {
    let kubectl = common::require_on_path(
        "kubectl",
        "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    );
    let out = Command::new(kubectl)
        .args(["kustomize", "deploy"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs = common::documents(&text);
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };

    let plugin = find("ConfigMap", "dovetail-plugin");
    assert_eq!(
        plugin["data"]["plugin.yaml"].as_str().unwrap(),
        fs::read_to_string(root().join("plugin.yaml")).unwrap(),
        "deploy/cmp-plugin.yaml must carry plugin.yaml byte for byte"
    );

    let pod = &find("Deployment", "argocd-repo-server")["spec"]["template"]["spec"];
    let sidecar = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "dovetail")
        .expect("the dovetail sidecar");
    assert_eq!(
        sidecar["command"],
        serde_json::json!(["/var/run/argocd/argocd-cmp-server"])
    );
    let sc = &sidecar["securityContext"];
    assert_eq!(sc["runAsUser"], 999);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    let mounts: Vec<(String, String)> = sidecar["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["mountPath"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, path) in [
        ("var-files", "/var/run/argocd"),
        ("plugins", "/home/argocd/cmp-server/plugins"),
        (
            "dovetail-plugin",
            "/home/argocd/cmp-server/config/plugin.yaml",
        ),
        ("dovetail-tmp", "/tmp"),
        ("dovetail-git", "/etc/dovetail/git"),
    ] {
        assert!(
            mounts.contains(&(name.to_owned(), path.to_owned())),
            "{name} at {path}"
        );
    }
    // The sidecar's /tmp is its own, not the repo-server's.
    let volumes = pod["volumes"].as_array().unwrap();
    let tmp = volumes
        .iter()
        .find(|v| v["name"] == "dovetail-tmp")
        .unwrap();
    assert!(tmp["emptyDir"].is_object());
    // Cluster decryption: the sidecar holds no age identity at all.
    assert!(!volumes.iter().any(|v| v["name"] == "dovetail-identity"));
    assert!(!text.contains("DOVETAIL_IDENTITY"));
    // Argo CD shows an AgeSecret whose values could not be delivered as Degraded.
    let cm = find("ConfigMap", "argocd-cm");
    let lua = cm["data"]["resource.customizations.health.dovetail.dev_AgeSecret"]
        .as_str()
        .expect("the AgeSecret health check");
    assert!(lua.contains("Degraded") && lua.contains("Healthy"), "{lua}");
    // Credentials and the operator repo come from the operator's objects.
    let env: Vec<&str> = sidecar["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for var in [
        "DOVETAIL_OPERATOR_REPO",
        "DOVETAIL_CACHE_DIR",
        "DOVETAIL_SSH_KEY",
        "DOVETAIL_SSH_KNOWN_HOSTS",
        "DOVETAIL_HTTPS_TOKEN_FILE",
    ] {
        assert!(env.contains(&var), "{var}");
    }
}

#[test]
fn secrets_are_decrypted_in_the_sidecar_and_never_reach_stderr() {
    const VALUE: &str = "correct-horse-battery-staple";
    let app = App::new();
    app.platform.decrypt_at_render();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("key.txt");
    let recipient = common::age_keygen(&key);
    app.commit_secret(VALUE, &recipient);

    let mut env = app.env("acme-shop", REPO);
    set(&mut env, "DOVETAIL_IDENTITY", key.to_str().unwrap());
    let r = app.run(&env);
    r.ok();
    assert!(r.stdout.contains("kind: Secret"));
    assert!(!r.stderr.contains(VALUE));

    // A sidecar holding another key fails, naming the secret, never its value.
    let other = keys.path().join("other.txt");
    common::age_keygen(&other);
    set(&mut env, "DOVETAIL_IDENTITY", other.to_str().unwrap());
    let r = app.run(&env);
    refused(&r, "SECRET_KEY");
    assert!(!r.stderr.contains(VALUE));
}

/// Cluster decryption (the default): the sidecar needs no key, and Argo CD gets the
/// ciphertexts exactly as committed, never a plaintext or a Secret.
#[test]
fn with_cluster_decryption_the_render_carries_ciphertexts_only() {
    const VALUE: &str = "correct-horse-battery-staple";
    let app = App::new();
    let keys = tempfile::tempdir().unwrap();
    let recipient = common::age_keygen(&keys.path().join("key.txt"));
    app.commit_secret(VALUE, &recipient);
    let r = app.run(&app.env("acme-shop", REPO));
    r.ok();
    let docs = common::documents(&r.stdout);
    assert!(!docs.iter().any(|d| d["kind"] == "Secret"), "{}", r.stdout);
    let age = docs
        .iter()
        .find(|d| d["kind"] == "AgeSecret")
        .expect("an AgeSecret");
    assert_eq!(age["apiVersion"], "dovetail.dev/v1alpha1");
    assert_eq!(age["metadata"]["name"], "shop");
    let committed = fs::read_to_string(app.repo.join("deploy/secrets.yaml")).unwrap();
    let committed = yaml::parse(&committed).unwrap().to_json();
    assert_eq!(
        age["spec"]["data"], committed["data"],
        "ciphertexts unchanged"
    );
    assert!(!r.stdout.contains(VALUE) && !r.stderr.contains(VALUE));
    // Deterministic: the same commit renders the same bytes.
    assert_eq!(app.run(&app.env("acme-shop", REPO)).stdout, r.stdout);
}

#[test]
fn the_fleet_quota_admits_exactly_the_load_balancers_the_allocation_allows() {
    let r = common::generate_fleet(&root().join("examples/helpdesk/operator"));
    let text = &r.ok().stdout;
    assert!(text.contains("services.loadbalancers: \"1\""), "{text}");
    // The LoadBalancer Service's own node port (`allocateLoadBalancerNodePorts`).
    assert!(text.contains("services.nodeports: \"1\""), "{text}");
    // The revision the allocation names is what the child Application deploys.
    assert!(text.contains("targetRevision: production"), "{text}");
}

/// `kubectl kustomize` of a kustomization written to a temporary directory, where `{deploy}`
/// stands for the checkout's `deploy/`.
fn kustomize(kustomization: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    // kustomize takes only relative paths to other kustomizations: up to `/`, then down.
    let up = "../".repeat(dir.path().components().count() - 1);
    let deploy = root().join("deploy");
    let deploy = format!("{up}{}", deploy.strip_prefix("/").unwrap().display());
    fs::write(
        dir.path().join("kustomization.yaml"),
        kustomization.replace("{deploy}", &deploy),
    )
    .unwrap();
    let kubectl = common::require_on_path(
        "kubectl",
        "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    );
    let out = Command::new(kubectl)
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::documents(&String::from_utf8(out.stdout).unwrap())
}

#[test]
#[ignore = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/); CI runs ignored tests"]
fn the_render_mode_component_gives_the_sidecar_the_identity() {
    let docs = kustomize("resources: [{deploy}]\ncomponents: [{deploy}/render-mode]\n");
    let repo_server = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "argocd-repo-server")
        .expect("argocd-repo-server");
    let containers = repo_server["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    for c in containers {
        let env = c["env"].to_string();
        // Only the dovetail sidecar reads the key; Argo CD's own container never sees it.
        assert_eq!(
            env.contains("DOVETAIL_IDENTITY"),
            c["name"] == "dovetail",
            "{}",
            c["name"]
        );
    }
}

#[test]
#[ignore = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/); CI runs ignored tests"]
fn the_controller_runs_the_sidecar_image_with_the_identity_and_least_privilege() {
    let docs = kustomize("resources: [{deploy}/controller]\n");
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let crd = find("CustomResourceDefinition");
    assert_eq!(crd["metadata"]["name"], "agesecrets.dovetail.dev");
    let pod = &find("Deployment")["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["command"], serde_json::json!(["dovetail-controller"]));
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["secret"]["secretName"] == "dovetail-identity"),
        "the identity comes from the Secret dovetail-identity"
    );
    // The ClusterRole reads AgeSecrets and writes Secrets, status and Events (and may
    // block an AgeSecret's deletion on the Secrets it owns: `update` on its finalizers,
    // which OwnerReferencesPermissionEnforcement asks for): no verb on anything else,
    // and never `*`.
    let role = find("ClusterRole");
    for rule in role["rules"].as_array().unwrap() {
        let text = rule.to_string();
        assert!(!text.contains("\"*\""), "{text}");
        for resource in rule["resources"].as_array().unwrap() {
            assert!(
                [
                    "agesecrets",
                    "agesecrets/status",
                    "agesecrets/finalizers",
                    "secrets",
                    "events",
                    "namespaces"
                ]
                .contains(&resource.as_str().unwrap()),
                "{resource}"
            );
        }
        if rule["resources"][0] == "agesecrets/finalizers" {
            assert_eq!(rule["verbs"], serde_json::json!(["update"]), "{text}");
        }
    }
}

// ------------------------------------------------------------------ several clusters --

/// The operator repo spread over several clusters (see [`common::add_clusters`]: acme/shop
/// in-cluster, acme/blog and acme/docs on eu-2, acme/api on us-1, acme/wiki on
/// `in-cluster` by name, ap-3 declared and unused), committed.
fn platform_with_clusters() -> Platform {
    let platform = Platform::new();
    common::add_clusters(&platform.operator(), "acme", "shop");
    git(&platform.operator(), &["add", "-A"]);
    git(&platform.operator(), &["commit", "-q", "-m", "clusters"]);
    platform
}

fn server(cluster: &str) -> &'static str {
    common::CLUSTERS
        .iter()
        .find(|(name, _)| *name == cluster)
        .map_or("https://kubernetes.default.svc", |(_, server)| server)
}

/// What Argo CD sets when it renders `app`, an Application the fleet made: its name,
/// source and destination namespace, its plugin parameters as `PARAM_*` (upper case,
/// `-` as `_`), beside the sidecar's own environment.
fn env_of_application(platform: &Platform, app: &serde_json::Value) -> Vec<(String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let source = &app["spec"]["source"];
    let revision = text(&source["targetRevision"]);
    let mut env = argocd_env(
        &text(&app["metadata"]["name"]),
        &text(&source["repoURL"]),
        &text(&source["path"]),
        &revision,
    );
    set(
        &mut env,
        "ARGOCD_APP_NAMESPACE",
        &text(&app["spec"]["destination"]["namespace"]),
    );
    set(&mut env, "ARGOCD_APP_SOURCE_TARGET_REVISION", &revision);
    for p in source["plugin"]["parameters"].as_array().unwrap() {
        let name = text(&p["name"]).to_ascii_uppercase().replace('-', "_");
        set(&mut env, &format!("PARAM_{name}"), &text(&p["string"]));
    }
    env.extend(platform.sidecar_env());
    env
}

fn kind_name(d: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        d["kind"].as_str().unwrap(),
        d["metadata"]["name"].as_str().unwrap()
    )
}

/// The fleet's own Application renders every AppProject and Application, each aimed at
/// its allocation's cluster, the guardrails of the in-cluster allocations, and for each
/// remote cluster in use a fleet Application that deploys the operator repo at the same
/// commit there with `cluster: <name>`; byte for byte the same on every run.
#[test]
fn the_fleet_reaches_every_cluster() {
    let platform = platform_with_clusters();
    let head = platform.operator_head();
    let url = platform.daemon.url("operator");
    let r = cmp_server(&platform.operator(), "", &fleet_env(&platform));
    r.ok();
    let again = cmp_server(&platform.operator(), "", &fleet_env(&platform));
    assert_eq!(again.stdout, r.stdout, "the fleet is not deterministic");
    let docs = common::documents(&r.stdout);
    let guarded_and_argo = |app: &str| {
        [
            format!("Namespace/acme-{app}"),
            "ResourceQuota/dovetail".to_owned(),
            "LimitRange/dovetail".to_owned(),
            "NetworkPolicy/dovetail-baseline".to_owned(),
            format!("AppProject/acme-{app}"),
            format!("Application/acme-{app}"),
        ]
    };
    let argo_only = |app: &str| {
        [
            format!("AppProject/acme-{app}"),
            format!("Application/acme-{app}"),
        ]
    };
    let mut expected: Vec<String> = [
        "AppProject/dovetail-fleet-eu-2",
        "Application/dovetail-fleet-eu-2",
        "AppProject/dovetail-fleet-us-1",
        "Application/dovetail-fleet-us-1",
    ]
    .map(str::to_owned)
    .to_vec();
    expected.extend(argo_only("api"));
    expected.extend(argo_only("blog"));
    expected.extend(argo_only("docs"));
    expected.extend(guarded_and_argo("shop"));
    expected.extend(guarded_and_argo("wiki"));
    assert_eq!(docs.iter().map(kind_name).collect::<Vec<_>>(), expected);
    // A declared cluster no allocation names gets nothing.
    assert!(!r.stdout.contains("ap-3"), "{}", r.stdout);

    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind}/{name}"))
    };
    for (app, cluster) in [
        ("shop", "in-cluster"),
        ("wiki", "in-cluster"),
        ("blog", "eu-2"),
        ("docs", "eu-2"),
        ("api", "us-1"),
    ] {
        let name = format!("acme-{app}");
        let destination = serde_json::json!({"server": server(cluster), "namespace": name});
        assert_eq!(
            find("AppProject", &name)["spec"]["destinations"],
            serde_json::json!([destination]),
            "{name}"
        );
        let application = &find("Application", &name)["spec"];
        assert_eq!(application["destination"], destination, "{name}");
        // Still pinned to the operator commit, wherever it runs.
        assert_eq!(
            application["source"]["plugin"]["parameters"],
            serde_json::json!([{"name": "operator-revision", "string": head}])
        );
        // An app on another cluster is synced in the same wave as that cluster's fleet
        // Application, which makes its namespace there: it retries until it exists.
        assert_eq!(
            application["syncPolicy"]["retry"].is_object(),
            cluster != "in-cluster",
            "{name}"
        );
    }
    for cluster in ["eu-2", "us-1"] {
        let name = format!("dovetail-fleet-{cluster}");
        let fleet = find("Application", &name);
        assert_eq!(fleet["metadata"]["namespace"], "argocd");
        assert_eq!(
            fleet["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"],
            "-1"
        );
        let spec = &fleet["spec"];
        assert_eq!(spec["project"], name.as_str());
        assert_eq!(
            spec["source"],
            serde_json::json!({
                "repoURL": url,
                "targetRevision": head,
                "path": ".",
                "plugin": {"name": "dovetail", "parameters": [{"name": "cluster", "string": cluster}]},
            })
        );
        assert_eq!(
            spec["destination"],
            serde_json::json!({"server": server(cluster)})
        );
        assert_eq!(spec["syncPolicy"]["automated"]["prune"], true);
        assert!(fleet["metadata"].get("finalizers").is_none());
        let project = &find("AppProject", &name)["spec"];
        assert_eq!(project["sourceRepos"], serde_json::json!([url]));
        assert_eq!(
            project["destinations"],
            serde_json::json!([{"server": server(cluster), "namespace": "*"}])
        );
        assert_eq!(
            project["clusterResourceWhitelist"],
            serde_json::json!([{"group": "", "kind": "Namespace"}])
        );
    }
}

/// Each remote cluster's fleet Application, rendered as Argo CD renders it (its name,
/// source and parameters in the environment), gives exactly the guardrails of that
/// cluster's allocations, each of a kind its AppProject admits; with the fleet's own,
/// every namespace of the fleet is made once, on its cluster.
#[test]
fn each_cluster_fleet_renders_the_guardrails_of_its_cluster() {
    let platform = platform_with_clusters();
    let root_fleet = cmp_server(&platform.operator(), "", &fleet_env(&platform));
    root_fleet.ok();
    let root_docs = common::documents(&root_fleet.stdout);
    let namespaces = |docs: &[serde_json::Value]| -> Vec<String> {
        docs.iter()
            .filter(|d| d["kind"] == "Namespace")
            .map(|d| d["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut made = namespaces(&root_docs);
    assert_eq!(made, ["acme-shop", "acme-wiki"]);
    for (cluster, expected) in [
        ("eu-2", vec!["acme-blog", "acme-docs"]),
        ("us-1", vec!["acme-api"]),
    ] {
        let name = format!("dovetail-fleet-{cluster}");
        let app = root_docs
            .iter()
            .find(|d| d["kind"] == "Application" && d["metadata"]["name"] == name.as_str())
            .unwrap();
        let project = root_docs
            .iter()
            .find(|d| d["kind"] == "AppProject" && d["metadata"]["name"] == name.as_str())
            .unwrap();
        let env = env_of_application(&platform, app);
        assert!(env.contains(&("PARAM_CLUSTER".to_owned(), cluster.to_owned())));
        let r = cmp_server(&platform.operator(), "", &env);
        r.ok();
        let docs = common::documents(&r.stdout);
        assert_eq!(namespaces(&docs), expected, "{cluster}");
        let admitted = |key: &str, d: &serde_json::Value| {
            project["spec"][key].as_array().unwrap().iter().any(|k| {
                k["kind"] == d["kind"]
                    && k["group"].as_str().unwrap()
                        == d["apiVersion"]
                            .as_str()
                            .unwrap()
                            .rsplit_once('/')
                            .map_or("", |(g, _)| g)
            })
        };
        for d in &docs {
            let ns = d["metadata"]["namespace"].as_str();
            assert!(
                match ns {
                    None => admitted("clusterResourceWhitelist", d),
                    Some(ns) => expected.contains(&ns) && admitted("namespaceResourceWhitelist", d),
                },
                "{cluster}: {} is not admitted by its project",
                kind_name(d)
            );
        }
        assert_eq!(
            docs.iter()
                .map(kind_name)
                .filter(|k| !k.starts_with("Namespace/"))
                .count(),
            3 * expected.len(),
            "{cluster}: a ResourceQuota, a LimitRange and a NetworkPolicy per namespace"
        );
        // The namespace carries the app's identity there too, for the controller.
        assert_eq!(docs[0]["metadata"]["labels"]["dovetail.dev/tenant"], "acme");
        made.extend(namespaces(&docs));
    }
    made.sort();
    assert_eq!(
        made,
        [
            "acme-api",
            "acme-blog",
            "acme-docs",
            "acme-shop",
            "acme-wiki"
        ]
    );
}

/// `PARAM_CLUSTER` is the fleet's: it must name a cluster in use that the platform
/// declares, only that cluster's fleet Application may carry it, and that Application
/// may not go without it. In a customer's Application it selects nothing.
#[test]
fn the_cluster_parameter_is_the_fleets_own() {
    let platform = platform_with_clusters();
    let run = |name: &str, cluster: Option<&str>| {
        let mut env = fleet_env(&platform);
        set(&mut env, "ARGOCD_APP_NAME", name);
        if let Some(c) = cluster {
            set(&mut env, "PARAM_CLUSTER", c);
        }
        cmp_server(&platform.operator(), "", &env)
    };
    run("dovetail-fleet-eu-2", Some("eu-2")).ok();
    run("dovetail-fleet-eu-9", Some("eu-9")).fails(
        Some(2),
        "error: PARAM_CLUSTER `eu-9` is not a cluster of the operator repo's platform.yaml (it declares: ap-3, eu-2, us-1); leave the parameter to the fleet",
    );
    run("dovetail-fleet-in-cluster", Some("in-cluster")).fails(
        Some(2),
        "PARAM_CLUSTER `in-cluster` is not a cluster of the operator repo's platform.yaml",
    );
    run("dovetail-fleet-ap-3", Some("ap-3")).fails(
        Some(2),
        "error: no allocation runs on cluster `ap-3`: its fleet would render nothing",
    );
    run("dovetail-fleet", Some("eu-2")).fails(
        Some(2),
        "error: Application `dovetail-fleet` asks for the guardrails of cluster `eu-2` (PARAM_CLUSTER), which only the fleet's Application `dovetail-fleet-eu-2` renders",
    );
    // Without its parameter, the Application on eu-2 would render the whole fleet,
    // Applications and all, into eu-2.
    run("dovetail-fleet-eu-2", None).fails(
        Some(2),
        "error: Application `dovetail-fleet-eu-2` is the fleet's Application for cluster `eu-2`, but has no cluster parameter (PARAM_CLUSTER)",
    );
    run("dovetail-fleet-eu-2", Some("eu-2\n"))
        .fails(Some(2), "PARAM_CLUSTER `eu-2\\n` is not a cluster name");

    // A customer's Application: an app like any other, whatever the parameter says.
    let app = App::new();
    let plain = app.run(&app.env("acme-shop", REPO));
    plain.ok();
    let mut env = app.env("acme-shop", REPO);
    set(&mut env, "PARAM_CLUSTER", "eu-2");
    let r = app.run(&env);
    r.ok();
    assert_eq!(r.stdout, plain.stdout);
}

/// Where an app runs changes nothing in its own objects (so `explain` has nothing to
/// attribute to `cluster`): the child Application of an app on eu-2 renders as it did
/// in-cluster.
#[test]
fn an_app_on_another_cluster_renders_as_in_cluster() {
    let app = App::new();
    let env = app.env("acme-shop", REPO);
    let before = app.run(&env);
    before.ok();
    let op = app.platform.operator();
    common::add_clusters(&op, "acme", "shop");
    app.platform.edit_allocation(
        "namespace: acme-shop\n",
        "namespace: acme-shop\ncluster: eu-2\n",
    );
    let mut env = app.env("acme-shop", REPO);
    set(
        &mut env,
        "PARAM_OPERATOR_REVISION",
        &app.platform.operator_head(),
    );
    let after = app.run(&env);
    after.ok();
    assert_eq!(after.stdout, before.stdout);
}

/// The line and column of the value of `key:` at the start of a line in `text`, where an
/// error about what the key holds points.
fn place_of(text: &str, key: &str) -> String {
    let (line, value) = text
        .lines()
        .enumerate()
        .find_map(|(n, l)| Some((n, l.strip_prefix(&format!("{key}:"))?)))
        .unwrap_or_else(|| panic!("no {key}: in\n{text}"));
    let blanks = value.len() - value.trim_start().len();
    format!("{}:{}", line + 1, key.len() + 2 + blanks)
}

/// An allocation on a cluster the platform does not declare is an error at its
/// `cluster:`, naming the clusters there are: in the fleet, in `validate --operator`
/// (with every other problem of the run), and in an app's render.
#[test]
fn an_unknown_cluster_is_an_error_at_the_allocation() {
    let platform = platform_with_clusters();
    let op = platform.operator();
    let blog = op.join("tenants/acme/blog.yaml");
    let text = fs::read_to_string(&blog)
        .unwrap()
        .replace("cluster: eu-2", "cluster: eu-9");
    fs::write(&blog, &text).unwrap();
    git(&op, &["commit", "-q", "-am", "eu-9"]);
    let at = place_of(&text, "cluster");
    let expected = format!(
        "tenants/acme/blog.yaml:{at}: error: cluster: no cluster `eu-9` in platform.yaml; use one of: in-cluster, ap-3, eu-2, us-1; or declare it in platform.yaml `clusters` [DT605]"
    );
    cmp_server(&op, "", &fleet_env(&platform)).invalid(&expected);

    // validate reports it with the fleet's other problems: here a namespace claimed twice.
    let docs = op.join("tenants/acme/docs.yaml");
    let text = fs::read_to_string(&docs).unwrap();
    fs::write(
        &docs,
        text.replace("namespace: acme-docs", "namespace: acme-api"),
    )
    .unwrap();
    let r = common::dovetail(&["validate", "--operator", "."], &op);
    r.invalid(&expected);
    assert!(r.stderr.contains("[DT603]"), "{}", r.stderr);
    let json = common::dovetail(&["validate", "--operator", ".", "--format", "json"], &op);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["errors"], 2, "{report}");
    let problem = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "DT605")
        .unwrap();
    assert_eq!(problem["field"], "cluster");
    assert_eq!(problem["file"], "tenants/acme/blog.yaml");

    // Rendering the app refuses it too.
    let r = common::dovetail(
        &[
            "render",
            "--app",
            root().join("examples/django/app").to_str().unwrap(),
            "--operator",
            ".",
            "--allocation",
            "acme/blog",
        ],
        &op,
    );
    r.invalid("error: cluster: no cluster `eu-9` in platform.yaml");

    // Without clusters declared, the hint says how to declare one.
    let platform_file = op.join("platform.yaml");
    let text = fs::read_to_string(&platform_file).unwrap();
    fs::write(&platform_file, &text[..text.find("clusters:").unwrap()]).unwrap();
    common::dovetail(&["validate", "--operator", "."], &op).invalid(
        "error: cluster: no cluster `eu-9` in platform.yaml; declare it in platform.yaml `clusters` with its API server's URL, or leave `cluster` out (in-cluster) [DT605]",
    );
}

/// A cluster's fleet Application lives beside the apps' in Argo CD's namespace: an
/// allocation whose Application name would be it is refused, and so is a cluster name
/// or server Argo CD could not use.
#[test]
fn cluster_names_and_servers_are_checked() {
    let platform = platform_with_clusters();
    let op = platform.operator();
    fs::create_dir_all(op.join("tenants/dovetail")).unwrap();
    let text = fs::read_to_string(op.join("tenants/acme/wiki.yaml")).unwrap();
    fs::write(
        op.join("tenants/dovetail/fleet-eu-2.yaml"),
        text.replace("namespace: acme-wiki", "namespace: fleet-eu-2"),
    )
    .unwrap();
    common::dovetail(&["validate", "--operator", "."], &op).invalid(
        "tenants/dovetail/fleet-eu-2.yaml:1:1: error: tenant and app names must be lowercase letters, digits and '-', at most 30 characters, an app's starting with a letter, and neither `dovetail` nor `dovetail-…` (the platform's own names); rename the tenant directory or the file [DT601]",
    );
    fs::remove_dir_all(op.join("tenants/dovetail")).unwrap();

    let platform_file = op.join("platform.yaml");
    let text = fs::read_to_string(&platform_file).unwrap();
    fs::write(
        &platform_file,
        format!(
            "{text}  EU_1: {{server: \"https://eu-1.example.net\"}}\n  eu-3: {{server: \"http://eu-3.example.net\"}}\n  in-cluster: {{server: \"https://eu-4.example.net\"}}\n"
        ),
    )
    .unwrap();
    let r = common::dovetail(&["validate", "--operator", "."], &op);
    r.invalid("error: clusters.EU_1: `EU_1` is not a cluster name");
    for expected in [
        "error: clusters.eu-3.server: `http://eu-3.example.net` is not the cluster's API server as an https URL",
        "error: clusters.in-cluster.server: must be `https://kubernetes.default.svc`",
    ] {
        assert!(r.stderr.contains(expected), "{expected}\n{}", r.stderr);
    }
    // in-cluster may be declared, as what it is.
    fs::write(
        &platform_file,
        format!("{text}  in-cluster: {{server: \"https://kubernetes.default.svc\"}}\n"),
    )
    .unwrap();
    let r = common::dovetail(&["validate", "--operator", "."], &op);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// The app path as a link into a submodule (`deploy -> sub/app`): the plugin runs where
/// the link leads, two levels below the root for a one-segment path, so counting the
/// path's segments up from there missed `sub`. A link to a directory of the repo itself
/// still renders.
#[test]
fn an_app_path_linked_into_a_submodule_is_refused() {
    let app = App::new();
    fs::create_dir(app.repo.join("sub")).unwrap();
    fs::rename(app.repo.join("deploy"), app.repo.join("sub/app")).unwrap();
    std::os::unix::fs::symlink("sub/app", app.repo.join("deploy")).unwrap();
    let env = app.env("acme-shop", REPO);
    let r = app.run(&env);
    assert_eq!(r.code, 0, "a link within the repo renders: {}", r.stderr);

    // What `git submodule update` leaves at the submodule's path.
    fs::write(app.repo.join("sub/.git"), "gitdir: ../.git/modules/sub\n").unwrap();
    app.run(&env).fails(
        Some(1),
        "refusing to render: `sub` in the customer repo is a git repository of its own (a submodule)",
    );
    // The same, with the link named like the directory it leads to.
    fs::remove_file(app.repo.join("deploy")).unwrap();
    std::os::unix::fs::symlink("sub/app", app.repo.join("app")).unwrap();
    let mut env = env;
    for (k, v) in &mut env {
        if k == "ARGOCD_APP_SOURCE_PATH" {
            *v = "app".into();
        }
    }
    app.platform.edit_allocation("path: deploy", "path: app");
    cmp_server(&app.repo, "app", &env).fails(
        Some(1),
        "refusing to render: `sub` in the customer repo is a git repository of its own (a submodule)",
    );
    // A link out of the checkout (Argo CD refuses those itself) leads nowhere above it.
    let outside = tempfile::tempdir().unwrap();
    common::copy_dir(&root().join("examples/django/app"), outside.path());
    fs::remove_file(app.repo.join("app")).unwrap();
    std::os::unix::fs::symlink(outside.path(), app.repo.join("app")).unwrap();
    cmp_server(&app.repo, "app", &env).fails(
        Some(1),
        "refusing to render: the app path `app` does not lead from the customer repo's checkout to the directory the plugin runs in",
    );
}

/// The app path checked out as a submodule (Argo CD checks them out, with the parent
/// repo's credentials): its files would be another repo's, rendered as this app.
#[test]
fn an_app_path_that_is_another_repository_is_refused() {
    let app = App::new();
    // What `git submodule update` leaves at the submodule's path.
    fs::write(
        app.repo.join("deploy/.git"),
        "gitdir: ../.git/modules/deploy\n",
    )
    .unwrap();
    let r = app.run(&app.env("acme-shop", REPO));
    r.fails(
        Some(1),
        "refusing to render: `deploy` in the customer repo is a git repository of its own (a submodule)",
    );
}
