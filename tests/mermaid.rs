//! Every mermaid block dovetail prints parses with mermaid's own parser: `graph` of each
//! example, the reports `diff --format markdown` prints (added, changed and removed
//! nodes highlighted), and the blocks of the committed snapshots.
//!
//! The parser is the npm package `mermaid`, run headless by Node with jsdom giving its
//! label sanitizer (`DOMPurify`) a window: `tests/tools/mermaid-parse.mjs`, installed by
//! `tests/tools/install-mermaid` into `.tools/` (CI's .ci/run calls it).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Scratch, dovetail, git, piped, root};

/// The mermaid blocks of a Markdown text.
fn blocks(text: &str) -> Vec<String> {
    text.split("```mermaid\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(b, _)| b.to_owned()))
        .collect()
}

/// A report with a process added (`beat`), one removed (`worker`) and one changed.
fn report_of_every_kind_of_change() -> String {
    let s = Scratch::example("django");
    for repo in ["app", "operator"] {
        let dir = s.path(repo);
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "base"]);
    }
    let text = s.read("app/dovetail.yaml");
    let mut kept = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line == "  worker:" {
            skipping = true;
            kept.push_str("  beat:\n    command: [\"celery\", \"beat\"]\n    singleton: true\n");
            continue;
        }
        if skipping && line.starts_with("    ") {
            continue;
        }
        skipping = false;
        kept.push_str(line);
        kept.push('\n');
    }
    s.write(
        "app/dovetail.yaml",
        &kept.replace("GUNICORN_WORKERS: 3", "GUNICORN_WORKERS: 4"),
    );
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "  worker: {replicas: 1, cpu: 500m, memory: 1Gi}",
        "  worker: {replicas: 1, cpu: 500m, memory: 1Gi}\n  beat: {replicas: 1, plan: small}",
    );
    let r = s.run("diff", &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    for class in ["added", "changed", "removed"] {
        assert!(
            r.stdout.contains(&format!(" {class}\n")),
            "{class}: {}",
            r.stdout
        );
    }
    r.stdout
}

#[test]
#[ignore = "needs Node and the mermaid package (bash tests/tools/install-mermaid); CI runs ignored tests"]
fn every_mermaid_block_parses_with_mermaid() {
    let tools = common::test_var("DOVETAIL_TEST_TOOLS")
        .map_or_else(|| root().join(".tools"), PathBuf::from);
    assert!(
        tools.join("node_modules/mermaid").is_dir(),
        "no mermaid in {}: run `bash tests/tools/install-mermaid`",
        tools.display()
    );
    let mut all: Vec<(String, String)> = Vec::new();
    for example in ["django", "pretalx", "indico", "helpdesk", "pulp"] {
        let app = format!("examples/{example}/app");
        let operator = format!("examples/{example}/operator");
        let r = dovetail(&["graph", "--app", &app, "--operator", &operator], &root());
        assert_eq!(r.code, 0, "{}", r.stderr);
        all.push((format!("graph {example}"), r.stdout));
    }
    for (i, b) in blocks(&report_of_every_kind_of_change())
        .into_iter()
        .enumerate()
    {
        all.push((format!("report {i}"), b));
    }
    for entry in std::fs::read_dir(root().join("tests/snapshots")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, b) in blocks(&text).into_iter().enumerate() {
            all.push((format!("{} block {i}", path.display()), b));
        }
    }
    assert!(all.len() > 7, "the snapshots hold mermaid blocks too");
    let input: Vec<serde_json::Value> = all
        .iter()
        .map(|(name, source)| serde_json::json!({"name": name, "source": source}))
        .collect();
    let mut node = Command::new("node");
    node.arg(root().join("tests/tools/mermaid-parse.mjs"))
        .arg(&tools);
    let out = piped(node, serde_json::to_string(&input).unwrap().as_bytes());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        all.len(),
        "{report}"
    );
}
