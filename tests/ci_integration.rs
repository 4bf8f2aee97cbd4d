//! The ready-to-use CI integration (`.pre-commit-hooks.yaml`, `examples/ci/`): every
//! dovetail command it runs is run here, on the examples, so a renamed flag or a changed
//! exit status breaks this test before it breaks someone's pipeline.

mod common;

use std::fs;

use common::{dovetail, root};
use dovetail::yaml;

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
            r.stderr, "",
            "github format prints nothing when all is well"
        );
    }
}
