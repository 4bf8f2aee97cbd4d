//! The rendered output of every example, checked by independent tools: kubernetes-validate
//! (strict, newest Kubernetes it ships), yamllint, and PyYAML as the YAML 1.1 reader
//! ArgoCD-era tooling uses.
//!
//! The tools come from `$DOVETAIL_CHECKERS` or `.venv/bin`, checkov from
//! `$DOVETAIL_CHECKOV` or `.venv-checkov/bin` (`.ci/run` installs them all). Each test
//! here is `#[ignore]`d with what it needs, so that a plain `cargo test` lists it as
//! ignored rather than passing without its tool; CI runs them (`-- --include-ignored`),
//! and a missing tool fails them with how to install it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{dovetail, root};

/// The newest Kubernetes version kubernetes-validate 1.37.0 ships schemas for.
const KUBERNETES: &str = "1.37";

/// How to get kubectl.
const KUBECTL: &str = "install kubectl (https://kubernetes.io/docs/tasks/tools/)";

/// How to get kubernetes-validate and yamllint.
const VENV: &str = "python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt";

/// The directory holding kubernetes-validate, yamllint and their python; the test fails
/// with how to install them when they are missing.
fn checkers() -> PathBuf {
    let dir = common::test_var("DOVETAIL_CHECKERS")
        .map_or_else(|| root().join(".venv/bin"), PathBuf::from);
    for tool in ["kubernetes-validate", "yamllint", "python"] {
        common::require(tool, dir.join(tool), VENV);
    }
    dir
}

/// Every example: a directory under `examples/` with `app/` and `operator/`.
fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("app").is_dir() && p.join("operator").is_dir())
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn rendered(example: &Path, dir: &Path) -> PathBuf {
    let r = dovetail(
        &[
            "render",
            "--app",
            example.join("app").to_str().unwrap(),
            "--operator",
            example.join("operator").to_str().unwrap(),
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let name = example.file_name().unwrap().to_str().unwrap();
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, r.stdout).unwrap();
    file
}

fn run(tool: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn kubernetes_validate(bin: &Path, file: &Path) -> (bool, String) {
    run(
        &bin.join("kubernetes-validate"),
        &[
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES,
            file.to_str().unwrap(),
        ],
    )
}

fn yamllint(bin: &Path, file: &Path) -> (bool, String) {
    let config = root().join(".yamllint.yaml");
    run(
        &bin.join("yamllint"),
        &[
            "--strict",
            "-c",
            config.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    )
}

/// The custom resources an app's render may hold (kind, apiVersion): kubernetes-validate
/// has no schema for them (the control-plane tests check them against the real CRDs).
const CUSTOM_KINDS: &[(&str, &str)] = &[
    ("Cluster", "postgresql.cnpg.io/v1"),
    ("ScheduledBackup", "postgresql.cnpg.io/v1"),
    ("ObjectStore", "barmancloud.cnpg.io/v1"),
    ("PodMonitor", "monitoring.coreos.com/v1"),
    ("AgeSecret", "dovetail.dev/v1alpha1"),
];

#[test]
#[ignore = "needs kubernetes-validate and yamllint: python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt; CI runs ignored tests"]
fn every_example_passes_kubernetes_validate_strict() {
    let bin = checkers();
    let tmp = tempfile::tempdir().unwrap();
    for example in examples() {
        let file = rendered(&example, tmp.path());
        let (ok, text) = kubernetes_validate(&bin, &file);
        assert!(ok, "{}: {text}", example.display());
        // kubernetes-validate only warns about a kind it has no schema for; any warning
        // but the custom resources dovetail renders is a misspelt kind or apiVersion that
        // would otherwise slip through.
        for line in text.lines().filter(|l| l.contains("WARN")) {
            assert!(
                CUSTOM_KINDS.iter().any(|(kind, version)| {
                    line.contains(&format!("kind {kind} with api version {version} "))
                }),
                "{}: unexpected warning: {line}",
                example.display()
            );
        }
    }
}

#[test]
#[ignore = "needs kubernetes-validate and yamllint: python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt; CI runs ignored tests"]
fn every_example_passes_yamllint_strict() {
    let bin = checkers();
    let tmp = tempfile::tempdir().unwrap();
    for example in examples() {
        let file = rendered(&example, tmp.path());
        let (ok, text) = yamllint(&bin, &file);
        assert!(ok, "{}: {text}", example.display());
    }
}

/// PyYAML reads YAML 1.1, where `on`, `no`, `0777` and `1_000` are not strings. Every
/// value it reads must equal what a YAML 1.2 reader (dovetail's own) reads.
#[test]
#[ignore = "needs kubernetes-validate and yamllint: python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt; CI runs ignored tests"]
fn a_yaml_1_1_reader_reads_every_value_back_unchanged() {
    let bin = checkers();
    let tmp = tempfile::tempdir().unwrap();
    let s = common::Scratch::example("django");
    s.edit(
        "app/dovetail.yaml",
        "  STATIC_ROOT: /app/static\n",
        "  STATIC_ROOT: /app/static\n  A: on\n  B: no\n  C: 0777\n  D: 1_000\n  E: y\n  F: 12:30:00\n  G: 2001-12-14\n  H: .inf\n  I: \"0x1F\"\n  J: \"~\"\n  K: \"\"\n  L: \"1e3\"\n",
    );
    let r = s.run("render", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let yaml = tmp.path().join("out.yaml");
    std::fs::write(&yaml, &r.stdout).unwrap();
    let expected: Vec<serde_json::Value> = r
        .stdout
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| dovetail::input::yaml::parse(d).unwrap().to_json())
        .collect();
    let json = tmp.path().join("expected.json");
    std::fs::write(&json, serde_json::to_string(&expected).unwrap()).unwrap();
    let script = "import json, sys, yaml\n\
        docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n\
        want = json.load(open(sys.argv[2]))\n\
        if docs != want:\n\
        \x20   for a, b in zip(docs, want):\n\
        \x20       if a != b: print('differs:', a.get('kind'), a.get('metadata', {}).get('name'))\n\
        \x20   sys.exit(1)\n";
    let (ok, text) = run(
        &bin.join("python"),
        &["-c", script, yaml.to_str().unwrap(), json.to_str().unwrap()],
    );
    assert!(ok, "{text}");
}

/// The benchmark compares dovetail with `kubectl kustomize` on a hand-written overlay;
/// the comparison is only fair while both produce the same objects.
#[test]
#[ignore = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/); CI runs ignored tests"]
fn benchmark_overlay_builds_the_same_objects_as_dovetail() {
    let kubectl = common::require_on_path("kubectl", KUBECTL);
    let out = Command::new(kubectl)
        .args(["kustomize", "bench/kustomize/overlay"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = common::sorted_documents;
    let ours = common::render_example("django");
    let theirs = docs(&String::from_utf8(out.stdout).unwrap());
    let ours = docs(&ours.stdout);
    assert_eq!(theirs.len(), ours.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "bench/kustomize/overlay differs from the render");
    }
}

/// Argo CD, kubectl and kustomize read the render with Go's YAML parsers, which refuse
/// some YAML that PyYAML and dovetail's own reader take: a block scalar whose first line
/// starts with a tab stopped them at "found a tab character where an indentation space is
/// expected", so one env value or config file made the whole render unreadable. Every
/// value a customer can write must come back from `kubectl kustomize` unchanged.
#[test]
#[ignore = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/); CI runs ignored tests"]
fn go_yaml_parsers_read_every_customer_value_back_unchanged() {
    let kubectl = common::require_on_path("kubectl", KUBECTL);
    let s = common::Scratch::example("django");
    s.edit(
        "app/dovetail.yaml",
        "  STATIC_ROOT: /app/static\n",
        "  STATIC_ROOT: /app/static\n  T1: \"\\tgzip on;\\n\"\n  T2: \"\\n\\tx\\n\"\n  T3: \"\\t\\n\"\n  T4: \" \\tx\\n\"\n  T5: \"a\\n\\tb\\n\"\n  T6: \"crlf\\r\\nline\\r\\n\"\n  T7: \"trailing  \\nspaces \\n\"\n  T8: \"\\n\\n  indented\\n\"\n  T9: \"\\ttab only\"\n",
    );
    s.write(
        "app/config/gzip.conf",
        "\tgzip on;\n\tgzip_types text/css;\n",
    );
    s.edit(
        "app/dovetail.yaml",
        "files:\n",
        "files:\n  - {path: config/gzip.conf, mount: /app/config/gzip.conf}\n",
    );
    let r = s.run("render", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("gzip on;"),
        "the tab-led values are in the render"
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("render.yaml"), &r.stdout).unwrap();
    std::fs::write(
        tmp.path().join("kustomization.yaml"),
        "resources: [render.yaml]\n",
    )
    .unwrap();
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize cannot read the render: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = common::sorted_documents;
    let ours = docs(&r.stdout);
    let theirs = docs(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "kubectl read a different object back");
    }
}

/// Rendered Secrets (decrypted, and redacted without an identity) pass the same checks.
#[test]
#[ignore = "needs kubernetes-validate and yamllint: python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt; CI runs ignored tests"]
fn secrets_pass_kubernetes_validate_and_yamllint() {
    let bin = checkers();
    let s = common::Scratch::example("django");
    let id = age::x25519::Identity::generate();
    s.write(
        "key.txt",
        &format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    );
    s.edit(
        "operator/platform.yaml",
        "recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]",
        &format!("recipients: [{}]", id.to_public()),
    );
    s.edit(
        "app/dovetail.yaml",
        "env:\n",
        "secrets: secrets.yaml\nimagePullSecret: REGISTRY_AUTH\nenv:\n",
    );
    let mut text = String::from("apiVersion: dovetail/v1\nkind: Secrets\ndata:\n");
    for (key, value) in [
        ("SECRET_KEY", "on"),
        (
            "REGISTRY_AUTH",
            r#"{"auths":{"r.example.com":{"auth":"dTpw"}}}"#,
        ),
    ] {
        let binding = dovetail::crypto::Binding {
            tenant: "acme",
            app: "shop",
            key,
        };
        let armored =
            dovetail::crypto::encrypt(value.as_bytes(), &binding, &[id.to_public()]).unwrap();
        text.push_str(&format!("  {key}: |\n"));
        for line in armored.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    s.write("app/secrets.yaml", &text);
    let key = s.path("key.txt");
    for extra in [vec!["--identity", key.to_str().unwrap()], vec![]] {
        let r = s.run("render", &extra);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let file = s.path("out.yaml");
        std::fs::write(&file, &r.stdout).unwrap();
        let (ok, text) = kubernetes_validate(&bin, &file);
        assert!(ok, "{text}");
        let (ok, text) = yamllint(&bin, &file);
        assert!(ok, "{text}");
    }
}

#[test]
#[ignore = "needs kubernetes-validate and yamllint: python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt; CI runs ignored tests"]
fn the_fleet_passes_kubernetes_validate_and_yamllint() {
    let bin = checkers();
    let tmp = tempfile::tempdir().unwrap();
    for example in examples() {
        let r = common::generate_fleet(&example.join("operator"));
        let file = tmp.path().join("fleet.yaml");
        std::fs::write(&file, &r.ok().stdout).unwrap();
        let (ok, text) = kubernetes_validate(&bin, &file);
        assert!(ok, "{}: {text}", example.display());
        // Argo CD's own kinds have no schema in kubernetes-validate; everything else
        // (Namespace, ResourceQuota, LimitRange) is checked.
        for line in text.lines().filter(|l| l.contains("WARN")) {
            assert!(
                line.contains("with api version argoproj.io/v1alpha1"),
                "{}: unexpected warning: {line}",
                example.display()
            );
        }
        let (ok, text) = yamllint(&bin, &file);
        assert!(ok, "{}: {text}", example.display());
    }
}

/// checkov from `$DOVETAIL_CHECKOV` or `.venv-checkov/bin`; the test fails with how to
/// install it when it is missing.
fn checkov() -> PathBuf {
    let bin = common::test_var("DOVETAIL_CHECKOV")
        .map_or_else(|| root().join(".venv-checkov/bin/checkov"), PathBuf::from);
    common::require(
        "checkov",
        bin,
        "python3 -m venv .venv-checkov && .venv-checkov/bin/pip install -r .ci/checkov-requirements.txt",
    )
}

#[test]
#[ignore = "needs checkov: python3 -m venv .venv-checkov && .venv-checkov/bin/pip install -r .ci/checkov-requirements.txt; CI runs ignored tests"]
fn every_example_passes_checkov() {
    let bin = checkov();
    // Not tempfile's default `.tmpXXXX`: checkov skips hidden directories.
    let tmp = tempfile::Builder::new()
        .prefix("checkov-")
        .tempdir()
        .unwrap();
    for example in examples() {
        rendered(&example, tmp.path());
    }
    let config = root().join(".checkov.yaml");
    let out = Command::new(&bin)
        .args(["--config-file", config.to_str().unwrap()])
        .args(["--directory", tmp.path().to_str().unwrap()])
        .args(["--compact", "--quiet", "--output", "cli"])
        // No network: checkov's guideline download fails fast and is not needed.
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Failed checks: 0"),
        "checkov failed checks:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every example was checked, not an empty directory.
    let passed: usize = text
        .split("Passed checks: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(passed > 1000, "only {passed} checks passed:\n{text}");
}
