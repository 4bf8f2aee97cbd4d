//! `dovetail diff --base REV [--head REV]`: a change in the customer repo, in the
//! operator repo, to a secret (with and without the identity), and nothing at all.

mod common;

use std::fs;
use std::path::Path;

use common::{Run, Scratch, git};

/// The Django example with its app and its operator repo each a git repository.
fn repos() -> Scratch {
    let s = Scratch::example("django");
    for repo in ["app", "operator"] {
        let dir = s.path(repo);
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", "base"]);
    }
    s
}

/// `repos()` whose platform decrypts at render time (`secrets.decryption: render`), in
/// the operator repo's one commit so that both sides of a diff do.
fn repos_decrypting_at_render() -> Scratch {
    let s = repos();
    common::decrypt_at_render(&s.path("operator"));
    git(
        &s.path("operator"),
        &["commit", "-q", "--amend", "-a", "--no-edit"],
    );
    s
}

/// Repos decrypting at render whose committed app has `SECRET_KEY` `first-value` and
/// `API_TOKEN` `same-value`, and whose files on disk change `SECRET_KEY` to `second-value`.
fn a_changed_secret_on_disk() -> Scratch {
    let s = repos_decrypting_at_render();
    s.edit(
        "app/dovetail.yaml",
        "env:\n",
        "secrets: secrets.yaml\nenv:\n",
    );
    set_secret(&s, "SECRET_KEY", "first-value", EXAMPLE_RECIPIENT);
    set_secret(&s, "API_TOKEN", "same-value", EXAMPLE_RECIPIENT);
    commit(&s.app());
    set_secret(&s, "SECRET_KEY", "second-value", EXAMPLE_RECIPIENT);
    s
}

fn commit(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "change"]);
}

fn diff(s: &Scratch, extra: &[&str]) -> Run {
    s.run("diff", extra)
}

fn set_secret(s: &Scratch, key: &str, value: &str, recipient: &str) {
    common::secrets_set(&s.app(), key, value, recipient);
}

const EXAMPLE_RECIPIENT: &str = common::EXAMPLE_RECIPIENT;

#[test]
fn a_change_in_the_customer_repo_shows_per_object() {
    let s = repos();
    s.edit(
        "app/dovetail.yaml",
        "GUNICORN_WORKERS: 3",
        "GUNICORN_WORKERS: 4",
    );
    commit(&s.app());
    let r = diff(&s, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(r.code, 3, "exit 3 means changed; stderr:\n{}", r.stderr);
    assert!(
        r.stdout.contains(
            "--- base/ConfigMap/acme-shop/shop-env\n+++ head/ConfigMap/acme-shop/shop-env"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("-  GUNICORN_WORKERS: \"3\"\n+  GUNICORN_WORKERS: \"4\"")
    );
    // The pods roll: their checksum annotation changes too.
    assert!(r.stdout.contains("+++ head/Deployment/acme-shop/shop-web"));
    assert!(
        r.stderr.contains("3 changed, 0 added, 0 removed"),
        "{}",
        r.stderr
    );

    // The head defaults to the files on disk, uncommitted changes included.
    s.edit(
        "app/dovetail.yaml",
        "GUNICORN_WORKERS: 4",
        "GUNICORN_WORKERS: 5",
    );
    let r = diff(&s, &["--base", "HEAD"]);
    assert_eq!(r.code, 3);
    assert!(r.stdout.contains("+  GUNICORN_WORKERS: \"5\""));
}

#[test]
fn a_change_in_the_operator_repo_shows_added_and_changed_objects() {
    let s = repos();
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "web: {replicas: 2, plan: small}",
        "web: {replicas: 2, plan: small, autoscaling: {maxReplicas: 5}}",
    );
    commit(&s.operator());
    let r = diff(&s, &["--base", "HEAD~1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("--- /dev/null\n+++ head/HorizontalPodAutoscaler/acme-shop/shop-web"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("-  replicas: 2\n"), "{}", r.stdout);
    assert!(
        r.stderr.contains("1 changed, 1 added, 0 removed"),
        "{}",
        r.stderr
    );
}

#[test]
fn nothing_changed_is_exit_0_and_no_output() {
    let s = repos();
    let r = diff(&s, &["--base", "HEAD"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("0 changed, 0 added, 0 removed"));
}

#[test]
fn a_changed_secret_is_reported_without_its_value() {
    let s = a_changed_secret_on_disk();
    commit(&s.app());

    // No identity: the values are redacted on both sides, and the change is told by
    // the ciphertext.
    let r = diff(&s, &["--base", "HEAD~1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("-  SECRET_KEY: <redacted>\n+  SECRET_KEY: <redacted, changed>"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("API_TOKEN: <redacted, changed>"));
    for shown in [&r.stdout, &r.stderr] {
        assert!(!shown.contains("first-value") && !shown.contains("second-value"));
        assert!(!shown.contains("BEGIN AGE"), "no ciphertext either");
    }
}

#[test]
fn with_the_identity_the_plaintexts_decide_and_never_show() {
    let s = repos_decrypting_at_render();
    let key = s.path("key.txt");
    let recipient = common::age_keygen(&key);
    s.edit(
        "app/dovetail.yaml",
        "env:\n",
        "secrets: secrets.yaml\nenv:\n",
    );
    set_secret(&s, "SECRET_KEY", "first-value", &recipient);
    set_secret(&s, "API_TOKEN", "same-value", &recipient);
    commit(&s.app());
    // Re-encrypting the same value changes the ciphertext, not the secret.
    set_secret(&s, "API_TOKEN", "same-value", &recipient);
    set_secret(&s, "SECRET_KEY", "second-value", &recipient);
    commit(&s.app());

    let r = diff(
        &s,
        &["--base", "HEAD~1", "--identity", key.to_str().unwrap()],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.contains("+  SECRET_KEY: <redacted, changed>"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains("API_TOKEN: <redacted, changed>"),
        "{}",
        r.stdout
    );
    let encoded = ["first-value", "second-value", "same-value"];
    for shown in [&r.stdout, &r.stderr] {
        for v in encoded {
            assert!(!shown.contains(v));
        }
        assert!(!shown.contains("Zmlyc3QtdmFsdWU"), "nor their base64");
    }
}

#[test]
fn an_unknown_revision_is_a_usage_error() {
    let s = repos();
    let r = diff(&s, &["--base", "no-such-branch"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.contains("neither --app nor --operator is a directory in a git repository that knows `no-such-branch`"),
        "{}",
        r.stderr
    );
    fs::remove_dir_all(s.path("app/.git")).unwrap();
    fs::remove_dir_all(s.path("operator/.git")).unwrap();
    let r = diff(&s, &["--base", "HEAD"]);
    assert_eq!(r.code, 2);
}

/// The one mermaid block of a Markdown report.
fn mermaid_block(report: &str) -> &str {
    let start = report.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let end = start + report[start..].find("```\n").expect("its end");
    &report[start..end]
}

#[test]
fn markdown_report_of_a_change_to_both_repos() {
    let s = repos();
    s.edit(
        "app/dovetail.yaml",
        "GUNICORN_WORKERS: 3",
        "GUNICORN_WORKERS: 4",
    );
    s.edit(
        "operator/tenants/acme/shop.yaml",
        "web: {replicas: 2, plan: small}",
        "web: {replicas: 2, plan: small, autoscaling: {maxReplicas: 5}}",
    );
    let r = diff(&s, &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!(r.code, 3, "exit 3 as with text; stderr:\n{}", r.stderr);
    assert!(r.stdout.starts_with("<!-- dovetail diff acme/shop -->\n"));
    // Who set what changed: the customer's line and the operator's.
    assert!(
        r.stdout.contains(
            "| customer | `app/dovetail.yaml:21:3 (env.GUNICORN_WORKERS)` | `data.GUNICORN_WORKERS` |"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("| operator | `operator/tenants/acme/shop.yaml:9:49 (processes.web.autoscaling.maxReplicas)` | `spec.maxReplicas` |"),
        "{}",
        r.stdout
    );
    insta::assert_snapshot!("markdown_changed_and_added", r.stdout);
}

#[test]
fn markdown_report_of_a_removed_process() {
    let s = repos();
    s.edit(
        "app/dovetail.yaml",
        "  worker:\n    command: [\"/async\"]         # celery worker\n",
        "",
    );
    let text = fs::read_to_string(s.path("app/dovetail.yaml")).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.contains("celery -A shop inspect ping"))
        .flat_map(|l| [l, "\n"])
        .collect();
    fs::write(s.path("app/dovetail.yaml"), text).unwrap();
    let r = diff(&s, &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stdout.contains("| Deployment | 0 | 0 | 1 |"),
        "{}",
        r.stdout
    );
    let block = mermaid_block(&r.stdout);
    assert!(block.contains("class proc_shop_worker removed"), "{block}");
    assert!(
        r.stdout
            .contains("<summary>removed <code>Deployment/acme-shop/shop-worker</code></summary>")
    );
    insta::assert_snapshot!("markdown_removed", r.stdout);
}

#[test]
fn markdown_report_of_no_change_says_so() {
    let s = repos();
    let r = diff(&s, &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Nothing changes in the rendered objects.\n")
    );
    assert!(!r.stdout.contains("#### Changes"));
    assert!(
        !mermaid_block(&r.stdout).contains("classDef"),
        "nothing highlighted"
    );
}

#[test]
fn markdown_redacts_secrets_exactly_as_the_text_diff() {
    let s = a_changed_secret_on_disk();
    let text = diff(&s, &["--base", "HEAD"]);
    let markdown = diff(&s, &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!((text.code, markdown.code), (3, 3), "{}", markdown.stderr);
    // Every unified diff of the text output is in the report, byte for byte.
    for object in text.stdout.split("--- ").filter(|d| !d.is_empty()) {
        let unified = format!("--- {object}");
        assert!(markdown.stdout.contains(&unified), "missing:\n{unified}");
    }
    assert!(
        markdown
            .stdout
            .contains("+  SECRET_KEY: <redacted, changed>")
    );
    assert!(
        markdown.stdout.contains("`stringData.SECRET_KEY`"),
        "the changed key is named with its owner: {}",
        markdown.stdout
    );
    for v in ["first-value", "second-value", "same-value", "BEGIN AGE"] {
        assert!(
            !markdown.stdout.contains(v) && !markdown.stderr.contains(v),
            "{v}"
        );
    }
}

/// `diff --base HEAD` where the base is compared as no objects: exit 3, `note` on
/// stderr, every object of the head added, and the Markdown report's `quote`. Returns
/// the text run.
fn diff_against_nothing(s: &Scratch, note: &str, quote: &str) -> Run {
    let r = diff(s, &["--base", "HEAD"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(note), "{}", r.stderr);
    assert!(
        r.stdout
            .contains("--- /dev/null\n+++ head/Deployment/acme-shop/shop-web\n"),
        "{}",
        r.stdout
    );
    let markdown = diff(s, &["--base", "HEAD", "--format", "markdown"]);
    assert_eq!(markdown.code, 3, "{}", markdown.stderr);
    assert!(markdown.stdout.contains(quote), "{}", markdown.stdout);
    r
}

/// Regression: a pull request fixing a broken main got no report (exit 1), and the
/// base's problems were named as files on disk, with the base's line numbers.
#[test]
fn a_base_that_does_not_render_is_compared_as_nothing() {
    let s = repos();
    s.edit("app/dovetail.yaml", "    port: 8000", "    port: \"x\"");
    commit(&s.app());
    s.edit("app/dovetail.yaml", "    port: \"x\"", "    port: 8000");
    s.edit("app/dovetail.yaml", "apiVersion:", "# fixed\napiVersion:");
    let r = diff_against_nothing(
        &s,
        "note: the base does not render (1 problem above), so every object of the head is shown as added",
        "> The base does not render (1 problem",
    );
    assert!(
        r.stderr
            .contains("HEAD:dovetail.yaml:13:11: error: processes.web.port:"),
        "{}",
        r.stderr
    );

    // A head that does not render is still an error.
    s.edit("app/dovetail.yaml", "    port: 8000", "    port: \"y\"");
    let r = diff(&s, &["--base", "HEAD"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "");
}

/// Regression: a pull request adding an app's allocation (or the app's directory) had
/// no base to render, and `diff` failed with exit 2 on the first pull request of every
/// new app or tenant. The app not in the base is compared as no objects.
#[test]
fn a_base_without_the_app_is_compared_as_nothing() {
    let s = repos();
    let operator = s.path("operator");
    git(&operator, &["rm", "-q", "tenants/acme/shop.yaml"]);
    git(&operator, &["commit", "-q", "-m", "no shop yet"]);
    git(
        &operator,
        &["checkout", "-q", "HEAD~1", "--", "tenants/acme/shop.yaml"],
    );
    diff_against_nothing(
        &s,
        "note: the app is not in the base (the operator repo `operator#HEAD` holds no allocation",
        "> The app is not in the base",
    );
    // A head without it is still an error.
    fs::remove_file(operator.join("tenants/acme/shop.yaml")).unwrap();
    assert_eq!(diff(&s, &["--base", "HEAD"]).code, 2);
}
