//! `dovetail init`: files to start from that validate as written, and that it never
//! overwrites anything.

mod common;

use std::fs;

use common::dovetail;

#[test]
fn an_app_and_an_operator_repo_that_validate_and_render_together() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = dovetail(&["init", "--app", "app", "--operator", "ops"], d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "files, not output");
    assert!(r.stderr.contains("wrote app/dovetail.yaml"), "{}", r.stderr);

    let app = fs::read_to_string(d.join("app/dovetail.yaml")).unwrap();
    assert!(
        app.starts_with("# yaml-language-server: $schema=.dovetail/app.schema.json\n"),
        "the modeline first: {app}"
    );
    for process in ["  web:", "  worker:", "  beat:"] {
        assert!(app.contains(process), "{process}");
    }
    assert!(app.contains("celery"));
    let schema = fs::read_to_string(d.join("app/.dovetail/app.schema.json")).unwrap();
    assert_eq!(schema, dovetail::input::schema::SchemaKind::App.text());
    let allocation = fs::read_to_string(d.join("ops/tenants/acme/shop.yaml")).unwrap();
    assert!(
        allocation.starts_with(
            "# yaml-language-server: $schema=../../.dovetail/allocation.schema.json\n"
        )
    );
    assert!(d.join("ops/.dovetail/allocation.schema.json").is_file());
    let platform = fs::read_to_string(d.join("ops/platform.yaml")).unwrap();
    assert!(
        platform.starts_with("# yaml-language-server: $schema=.dovetail/platform.schema.json\n")
    );

    let v = dovetail(&["validate", "--app", "app"], d);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let v = dovetail(&["validate", "--operator", "ops"], d);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let r = dovetail(&["render", "--app", "app", "--operator", "ops"], d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for object in [
        "name: shop-web",
        "name: shop-worker",
        "name: shop-beat",
        "kind: Cluster",
        "kind: Ingress",
    ] {
        assert!(r.stdout.contains(object), "{object}");
    }
}

#[test]
fn the_allocation_repo_and_recipient_are_filled_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let recipient = common::EXAMPLE_RECIPIENT;
    let r = dovetail(
        &[
            "init",
            "--operator",
            "ops",
            "--app",
            "app",
            "--allocation",
            "blue/wiki",
            "--repo",
            "git@git.example.com:blue/wiki.git",
            "--recipient",
            recipient,
        ],
        d,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let allocation = fs::read_to_string(d.join("ops/tenants/blue/wiki.yaml")).unwrap();
    assert!(
        allocation.contains("repo: \"git@git.example.com:blue/wiki.git\"\n"),
        "{allocation}"
    );
    assert!(allocation.contains("namespace: blue-wiki\n"));
    let platform = fs::read_to_string(d.join("ops/platform.yaml")).unwrap();
    assert!(platform.contains(&format!("recipients: [{recipient}]\n")));
    let r = dovetail(&["render", "--app", "app", "--operator", "ops"], d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("wiki.blue.example"));

    dovetail(&["init", "--operator", "x", "--recipient", "age1nope"], d)
        .fails(Some(2), "`age1nope` is not an age X25519 recipient");
    dovetail(&["init", "--operator", "x", "--allocation", "Blue/wiki"], d)
        .fails(Some(2), "--allocation `Blue/wiki` is not TENANT/APP");
    assert!(!d.join("x").exists(), "nothing written on a usage error");
}

#[test]
fn it_never_overwrites_a_file_and_then_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("ops/tenants/acme")).unwrap();
    fs::write(d.join("ops/tenants/acme/shop.yaml"), "mine\n").unwrap();
    let r = dovetail(&["init", "--app", "app", "--operator", "ops"], d);
    r.fails(
        Some(2),
        "`ops/tenants/acme/shop.yaml` exists; init never overwrites a file, and wrote nothing",
    );
    assert_eq!(
        fs::read_to_string(d.join("ops/tenants/acme/shop.yaml")).unwrap(),
        "mine\n"
    );
    assert!(!d.join("app").exists() && !d.join("ops/platform.yaml").exists());
    // A link counts as a file: it is not followed to overwrite what it points at.
    fs::create_dir_all(d.join("app2")).unwrap();
    std::os::unix::fs::symlink(d.join("elsewhere.yaml"), d.join("app2/dovetail.yaml")).unwrap();
    dovetail(&["init", "--app", "app2"], d).fails(Some(2), "app2/dovetail.yaml` exists");
    assert!(!d.join("elsewhere.yaml").exists());
    dovetail(&["init"], d).fails(Some(2), "--app <DIR>");
}

/// Regression: `init --repo` wrote any text into the allocation, a URL with a password
/// included, which `validate --operator` then refused (or, for the password, passed and
/// the fleet wrote into its AppProject for every tenant to read).
#[test]
fn a_repo_the_allocation_would_refuse_is_refused_unshown_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (repo, message) in [
        (
            "https://u:hunter2@git.example.com/acme/shop.git",
            "the URL carries a password",
        ),
        (
            "https://hunter2@git.example.com/acme/shop.git",
            "the https URL carries a user name",
        ),
        (
            "not a url",
            "--repo `not a url` is not a URL an allocation takes",
        ),
    ] {
        let r = dovetail(&["init", "--operator", "ops", "--repo", repo], d);
        r.fails(Some(2), message);
        assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
        assert!(!d.join("ops").exists(), "nothing written on a usage error");
    }
    // ssh's user is no credential.
    dovetail(
        &[
            "init",
            "--operator",
            "ops",
            "--repo",
            "ssh://git@git.example.com/acme/shop.git",
        ],
        d,
    )
    .warns("wrote");
    dovetail(&["validate", "--operator", "ops"], d).warns("valid");
}
