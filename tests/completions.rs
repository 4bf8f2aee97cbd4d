//! `dovetail completions` and `dovetail man`: generated from the parser's own
//! definition, checked by the shells and by man-db.

mod common;

use std::process::Command;

use common::{dovetail, piped, root};

#[test]
fn the_bash_script_parses_and_completes_every_command() {
    let r = dovetail(&["completions", "bash"], &root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = piped(
        {
            let mut c = Command::new("bash");
            c.arg("-n");
            c
        },
        r.stdout.as_bytes(),
    );
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for word in [
        "render",
        "validate",
        "diff",
        "explain",
        "graph",
        "init",
        "--allocation",
        "--format",
    ] {
        assert!(r.stdout.contains(word), "{word}");
    }
}

#[test]
fn zsh_and_fish_scripts_are_generated_and_parse_where_the_shell_is() {
    for (shell, check) in [("zsh", vec!["-n"]), ("fish", vec!["--no-execute"])] {
        let r = dovetail(&["completions", shell], &root());
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("render"), "{shell}");
        if let Ok(mut c) = Command::new(shell)
            .arg("--version")
            .output()
            .map(|_| Command::new(shell))
        {
            c.args(&check);
            let out = piped(c, r.stdout.as_bytes());
            assert!(
                out.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    dovetail(&["completions", "tcsh"], &root()).fails(Some(2), "invalid value 'tcsh'");
}

/// Text without the overstrikes (`N\x08N`) man uses for bold when it writes to a pipe.
fn plain(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

#[test]
fn the_man_pages_are_roff_of_every_command() {
    for page in [vec!["man"], vec!["man", "render"], vec!["man", "diff"]] {
        let r = dovetail(&page, &root());
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.starts_with(".ie"), "roff: {}", &r.stdout[..40]);
    }
    let r = dovetail(&["man", "render"], &root());
    assert!(
        r.stdout.contains("dovetail\\-render"),
        "the subcommand's own page"
    );
    dovetail(&["man", "nope"], &root()).fails(Some(2), "dovetail has no command `nope`");
}

/// Regression: the pages' SEE ALSO named dovetail-secrets-set(1) and dovetail-help(1),
/// which `dovetail man` could not print. Every page a page names prints, spelt either
/// way.
#[test]
fn every_page_a_page_names_can_be_printed() {
    let mut todo = vec!["dovetail".to_owned()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut args = vec!["man"];
        let words: Vec<&str> = name.split('-').skip(1).collect();
        args.extend(&words);
        let r = dovetail(&args, &root());
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let th = r
            .stdout
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_default();
        assert!(
            th.replace("\\-", "-").starts_with(&format!(".TH {name} 1")),
            "{name}: {th}"
        );
        if words.len() > 1 {
            let joined = words.join("-");
            let again = dovetail(&["man", &joined], &root());
            assert_eq!(again.stdout, r.stdout, "{joined}");
        }
        // SEE ALSO lists pages as `dovetail\-secrets\-set(1)`.
        for part in r.stdout.split("(1)") {
            if let Some(at) = part.rfind("dovetail") {
                let named = part[at..].replace("\\-", "-");
                if named.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                    todo.push(named);
                }
            }
        }
    }
    assert!(seen.contains("dovetail-secrets-set"), "{seen:?}");
    assert!(seen.contains("dovetail-help"), "{seen:?}");
}

#[test]
#[ignore = "needs man-db (apt-get install man-db); CI runs ignored tests"]
fn the_man_pages_render_with_man() {
    let man = common::require_on_path("man", "apt-get install man-db");
    for page in [vec!["man"], vec!["man", "render"], vec!["man", "diff"]] {
        let r = dovetail(&page, &root());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let mut cmd = Command::new(&man);
        // Plain text, no pager, a fixed width; warnings of groff count as failures.
        cmd.args(["-l", "-"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .env("MANROFFOPT", "-ww");
        let out = piped(cmd, r.stdout.as_bytes());
        let text = plain(&String::from_utf8_lossy(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("warning"),
            "man -l: {stderr}"
        );
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
        assert!(
            text.contains("OPTIONS") || text.contains("SUBCOMMANDS"),
            "{text}"
        );
    }
}
