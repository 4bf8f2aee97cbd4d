//! `dovetail graph`: the app's topology as mermaid and Graphviz dot, checked by
//! Graphviz itself; the picture in the README is this command's output.

// A skipped check must say so where the developer sees it.
#![allow(clippy::print_stderr)]

mod common;

use std::process::Command;

use common::{dovetail, piped, root};

const EXAMPLES: [&str; 5] = ["django", "pretalx", "indico", "helpdesk", "pulp"];

fn graph(example: &str, format: &str) -> String {
    let app = format!("examples/{example}/app");
    let operator = format!("examples/{example}/operator");
    let r = dovetail(
        &[
            "graph",
            "--app",
            &app,
            "--operator",
            &operator,
            "--format",
            format,
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{example}: {}", r.stderr);
    assert_eq!(r.stderr, "", "nothing but the graph");
    r.stdout
}

#[test]
fn django_as_mermaid_and_dot() {
    insta::assert_snapshot!("django_mermaid", graph("django", "mermaid"));
    insta::assert_snapshot!("django_dot", graph("django", "dot"));
}

#[test]
fn mermaid_is_the_default_and_every_process_is_drawn() {
    let app = "examples/pulp/app";
    let operator = "examples/pulp/operator";
    let r = dovetail(&["graph", "--app", app, "--operator", operator], &root());
    assert!(r.stdout.starts_with("flowchart LR\n"), "{}", r.stdout);
    for node in [
        "ingress_pulp_web{{",
        "svc_pulp_content([",
        "proc_pulp_worker[\"Deployment pulp-worker<br/>2 to 6 replicas",
        "db_pulp_db[(",
        "redis_pulp_redis[(",
        "vol_pulp_static[/",
        "vol_pulp_redis[/",
        "backups_pulp_db>\"backups pulp-db<br/>s3://pg-backups/content/pulp<br/>base backups @daily<br/>kept 4w\"]",
    ] {
        assert!(r.stdout.contains(node), "{node}:\n{}", r.stdout);
    }
    for edge in [
        "ingress_pulp_web --> svc_pulp_web",
        "svc_pulp_web --> proc_pulp_web",
        "proc_pulp_worker --> db_pulp_db",
        "proc_pulp_worker --> redis_pulp_redis",
        "proc_pulp_worker -. mounts .-> vol_pulp_static",
        "redis_pulp_redis -. mounts .-> vol_pulp_redis",
        "db_pulp_db -. backs up .-> backups_pulp_db",
    ] {
        assert!(r.stdout.contains(edge), "{edge}:\n{}", r.stdout);
    }
}

#[test]
#[ignore = "needs Graphviz's dot (apt-get install graphviz); CI runs ignored tests"]
fn graphviz_accepts_every_example() {
    let dot = common::require_on_path("dot", "apt-get install graphviz");
    for example in EXAMPLES {
        let mut cmd = Command::new(&dot);
        cmd.arg("-Tsvg");
        let out = piped(cmd, graph(example, "dot").as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "{example}: {stderr}"
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("<svg"),
            "{example}"
        );
    }
}

#[test]
fn the_readme_picture_is_the_commands_output() {
    let committed = std::fs::read_to_string(root().join("docs/topology-django.dot")).unwrap();
    assert_eq!(
        committed,
        graph("django", "dot"),
        "regenerate docs/topology-django.dot and .svg (see README, `dovetail graph`)"
    );
    let svg = std::fs::read_to_string(root().join("docs/topology-django.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("Deployment shop&#45;web"),
        "the SVG is of the example"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("docs/topology-django.svg"));
}
