//! The command line itself, through the binary: `--help` of every subcommand
//! (snapshots), the usage mistakes that exit 2 before any work, and a few smoke cases of
//! what the in-process scenarios cannot show (files on a real disk, `-o DIR`, the schema
//! command).

mod common;

use std::process::{Command, Stdio};

use common::{Scratch, dovetail, root};

/// `dovetail ARGS` in an empty environment: clap shows a set `DOVETAIL_*` variable's
/// value in the help, which must not depend on the machine.
fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dovetail"))
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    assert!(out.stderr.is_empty(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_of_every_subcommand_snapshot() {
    insta::assert_snapshot!("help", help(&["--help"]));
    insta::assert_snapshot!("render_help", help(&["render", "--help"]));
    insta::assert_snapshot!("validate_help", help(&["validate", "--help"]));
    insta::assert_snapshot!("secrets_help", help(&["secrets", "--help"]));
    insta::assert_snapshot!("secrets_set_help", help(&["secrets", "set", "--help"]));
    insta::assert_snapshot!("secrets_rekey_help", help(&["secrets", "rekey", "--help"]));
    insta::assert_snapshot!("secrets_unset_help", help(&["secrets", "unset", "--help"]));
    insta::assert_snapshot!("explain_help", help(&["explain", "--help"]));
    insta::assert_snapshot!("diff_help", help(&["diff", "--help"]));
    insta::assert_snapshot!("generate_help", help(&["generate", "--help"]));
    insta::assert_snapshot!("schema_help", help(&["schema", "--help"]));
    insta::assert_snapshot!("graph_help", help(&["graph", "--help"]));
    insta::assert_snapshot!("init_help", help(&["init", "--help"]));
    insta::assert_snapshot!("completions_help", help(&["completions", "--help"]));
    insta::assert_snapshot!("man_help", help(&["man", "--help"]));
    insta::assert_snapshot!("controller_help", help(&["controller", "--help"]));
}

/// Every subcommand clap knows has a snapshot above: a new one cannot ship without it.
#[test]
fn every_subcommand_is_snapshotted() {
    use clap::CommandFactory;
    let cli = dovetail::cli::Cli::command();
    let mut names = Vec::new();
    for sub in cli.get_subcommands() {
        names.push(sub.get_name().to_owned());
        for inner in sub.get_subcommands() {
            names.push(format!("{}_{}", sub.get_name(), inner.get_name()));
        }
    }
    for name in names {
        let snap = root().join(format!("tests/snapshots/cli__{name}_help.snap"));
        assert!(snap.is_file(), "no --help snapshot for `{name}`");
    }
}

#[test]
fn missing_input_directory_exits_2() {
    let s = Scratch::example("django");
    let r = dovetail(
        &[
            "render",
            "--app",
            "/nonexistent/app",
            "--operator",
            s.operator().to_str().unwrap(),
        ],
        s.dir.path(),
    );
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("error: --app `/nonexistent/app` is not a directory"),
        "{}",
        r.stderr
    );
    let app = s.app();
    let r = dovetail(
        &[
            "render",
            "--app",
            app.to_str().unwrap(),
            "--operator",
            "/nonexistent/op",
        ],
        s.dir.path(),
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--operator `/nonexistent/op` is not a directory"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_operator_repo_is_a_usage_error() {
    let s = Scratch::example("django");
    let app = s.app();
    let r = dovetail(&["render", "--app", app.to_str().unwrap()], s.dir.path());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no operator repo; pass --operator DIR|URL or set DOVETAIL_OPERATOR_REPO")
    );
}

#[test]
fn a_malformed_allocation_is_a_usage_error() {
    let s = Scratch::example("django");
    let r = s.run("render", &["--allocation", "beta/../acme"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not TENANT/APP"), "{}", r.stderr);
}

#[test]
fn files_symlink_out_of_the_repo_on_disk_is_refused() {
    let s = Scratch::example("django");
    let target = s.path("outside-secret");
    std::fs::write(&target, "operator-only").unwrap();
    std::fs::remove_file(s.path("app/config/logging.ini")).unwrap();
    std::os::unix::fs::symlink(&target, s.path("app/config/logging.ini")).unwrap();
    let r = s.run("render", &[]);
    r.invalid(
        "app/dovetail.yaml:24:12: error: files[0].path: `config/logging.ini` leads outside the repo",
    );
    assert!(!r.stderr.contains("operator-only"));
}

#[test]
fn validate_passes_on_the_example_and_with_app_alone() {
    let s = Scratch::example("django");
    let r = s.run("validate", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("ok: app, allocation and platform valid"));
    let app = s.app();
    let r = dovetail(&["validate", "--app", app.to_str().unwrap()], s.dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("customer side only"));
}

#[test]
fn schema_command_prints_each_schema() {
    for name in ["app", "allocation", "platform", "resolved"] {
        let r = dovetail(&["schema", name], &root());
        assert_eq!(r.code, 0);
        let file =
            std::fs::read_to_string(root().join(format!("schemas/{name}.schema.json"))).unwrap();
        assert_eq!(r.stdout, file);
    }
}

#[test]
fn output_dir_gets_one_file_per_object_and_nothing_foreign_is_touched() {
    let s = Scratch::example("django");
    let out = s.path("out");
    let r = s.run("render", &["-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 16);
    assert_eq!(files[0], "01-serviceaccount-shop.yaml");
    assert_eq!(files[15], "16-networkpolicy-shop-web.yaml");
    // A second render replaces its own files ...
    assert_eq!(s.run("render", &["-o", out.to_str().unwrap()]).code, 0);
    // ... but refuses a directory holding anything else.
    std::fs::write(out.join("kustomization.yaml"), "x").unwrap();
    let r = s.run("render", &["-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("holds `kustomization.yaml`, which dovetail did not write")
    );
}

/// Regression: `-o` naming a file got no hint, and `init --app` naming one said "cannot
/// write `FILE/dovetail.yaml`: File exists", of a file it had not tried to write.
#[test]
fn a_file_where_a_directory_is_wanted_is_named_with_what_to_do() {
    let s = Scratch::example("django");
    std::fs::write(s.path("taken"), "x").unwrap();
    s.run("render", &["-o", "taken"]).fails(
        Some(2),
        "error: cannot write `taken`: Not a directory (os error 20); a file is in the way: give the path of a directory, or of one to create",
    );
    s.run("render", &["-o", "taken/sub"])
        .fails(Some(2), "a file is in the way");
    let r = dovetail(&["init", "--app", "taken"], s.dir.path());
    r.fails(
        Some(2),
        "error: cannot create the directory `taken`: File exists (os error 17); a file is in the way",
    );
    assert_eq!(std::fs::read_to_string(s.path("taken")).unwrap(), "x");
}

/// Regression: without `--kubeconfig` the controller tried the in-cluster service account
/// only (ignoring `$KUBECONFIG` and `~/.kube/config`), and its error said nothing of
/// what to do.
#[test]
fn the_controller_without_a_cluster_says_how_to_name_one() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("key.txt");
    common::age_keygen(&key);
    let bin =
        std::path::Path::new(env!("CARGO_BIN_EXE_dovetail")).with_file_name("dovetail-controller");
    let out = Command::new(bin)
        .arg("--identity")
        .arg(&key)
        .env_clear()
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("error: cannot set up the Kubernetes client")
            && stderr.contains("pass --kubeconfig FILE (or set KUBECONFIG)"),
        "{stderr}"
    );
}

/// Regression: with the API server unreachable, the controller ignored SIGTERM (kube-rs's
/// graceful shutdown waited on its retries), so its pod took the whole grace period to
/// stop and was then killed. It stops within its own grace of 5 s now.
#[test]
fn the_controller_stops_on_sigterm_while_the_api_server_is_unreachable() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("key.txt");
    common::age_keygen(&key);
    // Port 1 on loopback: nothing listens, every request is refused at once.
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let bin =
        std::path::Path::new(env!("CARGO_BIN_EXE_dovetail")).with_file_name("dovetail-controller");
    let log = home.path().join("log");
    let mut child = Command::new(bin)
        .arg("--identity")
        .arg(&key)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env_clear()
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let read = || std::fs::read_to_string(&log).unwrap();
    // It has tried the API server (and so installed its signal handlers) once it says so.
    while !read().contains("reconcile failed") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{}",
            read()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let signalled = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > std::time::Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("still running 15 s after SIGTERM:\n{}", read());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "{}", read());
    assert!(read().contains("stopped"), "{}", read());
}
