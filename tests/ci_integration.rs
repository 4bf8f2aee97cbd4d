//! The ready-to-use CI integration (`.pre-commit-hooks.yaml`, `examples/ci/`): every
//! dovetail command it runs is run here, on the examples, so a renamed flag or a changed
//! exit status breaks this test before it breaks someone's pipeline.

mod common;

use std::fs;

use common::{dovetail, root};
use dovetail::input::yaml;

#[test]
fn each_pre_commit_hook_passes_on_the_example_it_is_for() {
    let text = fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks = yaml::parse(&text).unwrap().to_json();
    let hooks = hooks.as_array().unwrap();
    assert_eq!(hooks.len(), 2);
    for hook in hooks {
        let id = hook["id"].as_str().unwrap();
        let entry: Vec<&str> = hook["entry"].as_str().unwrap().split(' ').collect();
        assert_eq!(entry[0], "dovetail", "{id}");
        let mut args: Vec<&str> = entry[1..].to_vec();
        args.extend(
            hook["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap()),
        );
        let dir = match id {
            "dovetail-validate-app" => "examples/django/app",
            "dovetail-validate-operator" => "examples/django/operator",
            other => panic!("unknown hook {other}"),
        };
        let r = dovetail(&args, &root().join(dir));
        assert_eq!(r.code, 0, "{id}: {}", r.stderr);
        assert!(r.stderr.starts_with("ok: "), "{id}: {}", r.stderr);
    }
}

/// The `dovetail …` command lines of a CI file, joined where a line ends in `\`.
fn commands(file: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join(file)).unwrap();
    // The file must be YAML our own reader accepts.
    yaml::parse(&text).unwrap();
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("- ")
                .trim_start_matches("run: ")
        })
        .filter(|l| l.starts_with("dovetail "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_ci_templates_run_commands_that_exist() {
    for file in [
        "examples/ci/customer/github-workflow.yml",
        "examples/ci/customer/gitlab-ci.yml",
        "examples/ci/operator/github-workflow.yml",
        "examples/ci/operator/gitlab-ci.yml",
    ] {
        let found = commands(file);
        assert!(!found.is_empty(), "{file}");
        for line in found {
            // Every subcommand, flag and value must parse: with `--help` last, clap
            // checks them all before it prints the help. Shell variables stand as `x`.
            let mut line = line.clone();
            while let (Some(a), Some(b)) = (line.find("${{"), line.find("}}")) {
                line.replace_range(a..b + 2, "x");
            }
            let words: Vec<String> = line
                .split_whitespace()
                .take_while(|w| !w.starts_with('>') && !w.starts_with('|'))
                .map(|w| w.trim_matches('"'))
                .skip(1)
                .map(|w| {
                    if w.contains('$') {
                        "x".to_owned()
                    } else {
                        w.to_owned()
                    }
                })
                .collect();
            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
            args.push("--help");
            let r = dovetail(&args, &root());
            assert_eq!(r.code, 0, "{file}: `{line}`: {}", r.stderr);
        }
    }
}

#[test]
fn the_operator_template_passes_on_the_examples() {
    for example in ["django", "pretalx", "indico", "helpdesk", "pulp"] {
        let dir = root().join("examples").join(example).join("operator");
        let r = dovetail(&["validate", "--operator", ".", "--format", "github"], &dir);
        assert_eq!(r.code, 0, "{example}: {}", r.stderr);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str()),
            ("", ""),
            "github format prints nothing when all is well"
        );
    }
}

/// A customer file with two problems, checked in each format.
fn broken_app() -> common::Scratch {
    let s = common::Scratch::example("django");
    s.edit(
        "app/dovetail.yaml",
        "    port: 8000",
        "    port: 8000\n    replicas: 9",
    );
    s.edit("app/dovetail.yaml", "STATIC_ROOT", "STATIC-ROOT");
    s
}

#[test]
fn validate_reports_every_problem_in_each_format() {
    let s = broken_app();
    let app = s.app();
    let app = app.to_str().unwrap();

    let text = s.run("validate", &["--format", "text"]);
    assert_eq!(text.code, 1);
    assert!(
        text.stderr
            .contains("app/dovetail.yaml:14:5: error: processes.web.replicas: set by the operator"),
        "{}",
        text.stderr
    );
    assert!(
        text.stderr
            .contains("app/dovetail.yaml:23:3: error: env.STATIC-ROOT:"),
        "{}",
        text.stderr
    );

    let json = dovetail(
        &["validate", "--app", app, "--format", "json"],
        s.dir.path(),
    );
    assert_eq!(json.code, 1);
    // The report is validate's product: exactly one JSON document on stdout.
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(
        !json.stderr.contains('{'),
        "nothing of the report on stderr: {}",
        json.stderr
    );
    assert_eq!(doc["errors"], 2);
    assert_eq!(doc["warnings"], 0);
    let first = &doc["problems"][0];
    for key in [
        "severity", "code", "file", "line", "column", "field", "message", "hint",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(first["severity"], "error");
    assert_eq!(first["line"], 14);
    assert_eq!(first["field"], "processes.web.replicas");
    assert_eq!(first["code"], "DT301");

    let github = dovetail(
        &["validate", "--app", app, "--format", "github"],
        s.dir.path(),
    );
    assert_eq!(github.code, 1);
    // The annotations are validate's report, on stdout, as the README says: a CI step
    // that keeps stdout apart still has them. Nothing but them is there.
    let annotations: Vec<&str> = github.stdout.lines().collect();
    assert!(
        annotations.iter().all(|l| l.starts_with("::error ")),
        "{}",
        github.stdout
    );
    assert!(!github.stderr.contains("::error"), "{}", github.stderr);
    assert_eq!(annotations.len(), 2, "{}", github.stdout);
    assert!(
        annotations[0].contains(",line=14,col=5,title=DT301 processes.web.replicas::"),
        "{}",
        annotations[0]
    );
}

#[test]
fn the_ci_templates_use_the_released_binary_and_post_the_report() {
    for file in [
        "examples/ci/customer/github-workflow.yml",
        "examples/ci/customer/gitlab-ci.yml",
        "examples/ci/operator/github-workflow.yml",
        "examples/ci/operator/gitlab-ci.yml",
    ] {
        let text = fs::read_to_string(root().join(file)).unwrap();
        assert!(
            !text.contains("cargo install"),
            "{file} builds dovetail on every run"
        );
        assert!(
            text.contains("registry.example.com/platform/dovetail:"),
            "{file}"
        );
        // Copied out of the image, dovetail needs its git helper beside it to fetch the
        // operator repo or read the base revision.
        assert!(
            !text.contains("docker cp") || text.contains("dovetail dovetail-fetch"),
            "{file} copies dovetail without dovetail-fetch"
        );
    }
    for file in [
        "examples/ci/customer/github-workflow.yml",
        "examples/ci/customer/gitlab-ci.yml",
    ] {
        let found = commands(file);
        let diff = found
            .iter()
            .find(|l| l.starts_with("dovetail diff "))
            .unwrap_or_else(|| panic!("{file} runs no diff"));
        assert!(diff.contains("--format markdown"), "{file}: {diff}");
        assert!(
            !diff.contains("--allocation"),
            "{file}: found by the checkout"
        );
        let text = fs::read_to_string(root().join(file)).unwrap();
        // The previous comment is found by the report's first line, and replaced.
        assert!(text.contains("startswith(marker)") || text.contains("startsWith(marker)"));
        assert!(
            text.contains("updateComment") || text.contains("\"PUT\""),
            "{file}"
        );
    }
}
