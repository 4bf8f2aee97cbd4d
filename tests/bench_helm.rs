//! The render benchmark's second anchor: `helm template` on the chart in
//! `bench/helm/shop` must print the same objects as dovetail renders for
//! `examples/django`, or comparing their times is not fair.
//!
//! helm is the CLI that `bench/helm/build-helm` builds from its Go module and caches
//! (or `$DOVETAIL_HELM`). Building it takes minutes, so the test is ignored by default;
//! run it with `cargo test --test bench_helm -- --include-ignored`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::root;

/// Where `bench/helm/build-helm` caches helm:
/// `${DOVETAIL_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dovetail-test}/helm/<version>/helm`,
/// with the version the script builds; `$DOVETAIL_HELM` overrides it.
fn helm() -> PathBuf {
    let var = common::test_var;
    if let Some(path) = var("DOVETAIL_HELM") {
        return PathBuf::from(path);
    }
    let script = std::fs::read_to_string(root().join("bench/helm/build-helm")).unwrap();
    let version = script
        .lines()
        .find_map(|l| l.strip_prefix("version=${HELM_VERSION:-"))
        .and_then(|rest| rest.strip_suffix('}'))
        .expect("bench/helm/build-helm sets version=${HELM_VERSION:-vX.Y.Z}");
    let cache = var("DOVETAIL_TEST_CACHE").map_or_else(
        || {
            var("XDG_CACHE_HOME")
                .map_or_else(
                    || PathBuf::from(var("HOME").expect("HOME is set")).join(".cache"),
                    PathBuf::from,
                )
                .join("dovetail-test")
        },
        PathBuf::from,
    );
    cache.join("helm").join(version).join("helm")
}

/// The benchmark compares dovetail with `helm template` on a chart written for it; the
/// comparison is only fair while both produce the same objects.
#[test]
#[ignore = "needs helm: run bench/helm/build-helm (CI runs ignored tests)"]
fn benchmark_chart_renders_the_same_objects_as_dovetail() {
    let helm = helm();
    assert!(
        helm.is_file(),
        "{} not found: build it with `bench/helm/build-helm` (or set DOVETAIL_HELM)",
        helm.display()
    );
    let out = Command::new(&helm)
        .args([
            "template",
            "shop",
            "bench/helm/shop",
            "--namespace",
            "acme-shop",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = common::sorted_documents;
    let theirs = docs(&String::from_utf8(out.stdout).unwrap());
    let ours = docs(&common::render_example("django").stdout);
    let names = |v: &[serde_json::Value]| -> Vec<String> {
        v.iter()
            .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
            .collect()
    };
    assert_eq!(
        names(&ours),
        names(&theirs),
        "bench/helm/shop renders other objects than dovetail"
    );
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "bench/helm/shop differs from the render");
    }
}
