//! `--allocation` left out in a checkout of the customer repo (what CI runs): the
//! allocation is the one whose `repo` and `path` are the work tree's `origin` and the
//! app's directory in it, among every allocation of the operator repo.

mod common;

use std::path::PathBuf;

use common::{Scratch, copy_dir, dovetail, dovetail_env, git, root};

/// An operator repo of several allocations, and a customer repo checked out from
/// `origin` with the app in `deploy/`.
struct Platform {
    s: Scratch,
}

impl Platform {
    fn new(origin: &str) -> Platform {
        let s = Scratch::example("django");
        // The example's allocation is acme/shop: https://git.example.com/acme/shop.git, at
        // the root. Put the app in deploy/ and say so; add two other tenants' apps.
        s.edit(
            "operator/tenants/acme/shop.yaml",
            "repo: https://git.example.com/acme/shop.git\n",
            "repo: https://git.example.com/acme/shop.git\npath: deploy\n",
        );
        for (tenant, app) in [("beta", "blog"), ("gamma", "wiki")] {
            let text = s
                .read("operator/tenants/acme/shop.yaml")
                .replace("acme/shop.git", &format!("{tenant}/{app}.git"))
                .replace(
                    "namespace: acme-shop",
                    &format!("namespace: {tenant}-{app}"),
                )
                .replace("shop.acme.example", &format!("{app}.{tenant}.example"));
            s.write(&format!("operator/tenants/{tenant}/{app}.yaml"), &text);
        }
        let repo = s.path("customer");
        copy_dir(&s.app(), &repo.join("deploy"));
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["remote", "add", "origin", origin]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "first"]);
        Platform { s }
    }

    fn customer(&self) -> PathBuf {
        self.s.path("customer")
    }

    /// `dovetail CMD --app deploy --operator OPERATOR`, in the customer checkout, as the
    /// CI templates run it.
    fn run(&self, cmd: &str, extra: &[&str]) -> common::Run {
        let operator = self.s.operator();
        let mut args = vec![cmd, "--app", "deploy"];
        args.extend_from_slice(extra);
        let mut r = dovetail_env(
            &args,
            &self.customer(),
            &[("DOVETAIL_OPERATOR_REPO", operator.to_str().unwrap())],
        );
        r.stderr = self.s.rel(&r.stderr);
        r
    }
}

#[test]
fn the_allocation_is_found_by_the_checkouts_origin_and_path() {
    for origin in [
        "https://git.example.com/acme/shop.git",
        // Other spellings of the same repo, as Argo CD mode compares them.
        "git@git.example.com:acme/shop.git",
        "https://GIT.example.com/acme/shop/",
    ] {
        let p = Platform::new(origin);
        let r = p.run("render", &[]);
        assert_eq!(r.code, 0, "{origin}: {}", r.stderr);
        assert!(r.stdout.contains("namespace: acme-shop\n"), "{origin}");
        let v = p.run("validate", &[]);
        assert_eq!(v.code, 0, "{origin}: {}", v.stderr);
    }
}

#[test]
fn the_ci_templates_diff_runs_without_allocation() {
    let p = Platform::new("https://git.example.com/acme/shop.git");
    let customer = p.customer();
    git(&customer, &["checkout", "-q", "-b", "change"]);
    let file = customer.join("deploy/dovetail.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("GUNICORN_WORKERS: 3", "GUNICORN_WORKERS: 4"),
    )
    .unwrap();
    git(&customer, &["commit", "-qam", "more workers"]);
    // The line of examples/ci/customer/github-workflow.yml, with its base.
    let r = p.run("diff", &["--base", "main", "--format", "markdown"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("<!-- dovetail diff acme/shop -->"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("deploy/dovetail.yaml:21:3 (env.GUNICORN_WORKERS)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_repo_no_allocation_names_is_refused_with_the_count() {
    let p = Platform::new("https://gitlab-ci-token:glcbt-s3cret@git.example.com/delta/shop.git");
    let r = p.run("render", &[]);
    r.fails(
        Some(2),
        "none of the operator repo's 3 allocations names the repo `https://git.example.com/delta/shop.git`",
    );
    assert!(
        r.stderr.contains("pick one with --allocation TENANT/APP"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("s3cret"),
        "a token in the origin never shows"
    );
    // --allocation still decides.
    let named = p.run("render", &["--allocation", "acme/shop"]);
    assert_eq!(named.code, 0, "{}", named.stderr);
}

#[test]
fn the_wrong_path_is_refused_with_the_candidates() {
    let p = Platform::new("https://git.example.com/acme/shop.git");
    let operator = p.s.operator();
    let r = dovetail_env(
        &["render", "--app", "."],
        &p.customer().join("deploy"),
        &[("DOVETAIL_OPERATOR_REPO", operator.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "the app's own directory: {}", r.stderr);
    std::fs::create_dir_all(p.customer().join("other")).unwrap();
    copy_dir(&p.customer().join("deploy"), &p.customer().join("other"));
    let r = dovetail_env(
        &["validate", "--app", "other"],
        &p.customer(),
        &[("DOVETAIL_OPERATOR_REPO", operator.to_str().unwrap())],
    );
    let r = common::Run {
        stderr: p.s.rel(&r.stderr),
        ..r
    };
    r.fails(
        Some(2),
        "no allocation names `https://git.example.com/acme/shop.git` at path `other`; operator/tenants/acme/shop.yaml names path `deploy`",
    );
}

#[test]
fn two_allocations_of_one_repo_and_path_are_refused_with_both() {
    let p = Platform::new("https://git.example.com/acme/shop.git");
    let text =
        p.s.read("operator/tenants/acme/shop.yaml")
            .replace("namespace: acme-shop", "namespace: acme-shop2");
    p.s.write("operator/tenants/acme/shop2.yaml", &text);
    p.run("render", &[]).fails(
        Some(2),
        "2 allocations name `https://git.example.com/acme/shop.git` at path `deploy`: operator/tenants/acme/shop.yaml, operator/tenants/acme/shop2.yaml",
    );
}

#[test]
fn outside_a_work_tree_the_only_allocation_is_used_as_before() {
    // The examples: in this repo's work tree, whose origin no allocation names, and the
    // operator repo holds one allocation.
    let r = dovetail(
        &[
            "render",
            "--app",
            "examples/django/app",
            "--operator",
            "examples/django/operator",
        ],
        &root(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}
