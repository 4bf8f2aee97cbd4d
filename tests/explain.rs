//! `dovetail explain`: each rendered field with the `file:line` it came from, or the
//! built-in default; secret values never. In-process over in-memory repos, but for the
//! secret, set through the binary.

mod common;

use common::scenario::Scenario;
use common::{Scratch, dovetail, root};

fn explain(example: &str) -> String {
    Scenario::example(example).explain()
}

/// The line explaining `field` of `object`.
fn line<'a>(text: &'a str, object: &str, field: &str) -> &'a str {
    let start = text
        .find(&format!("{object}\n"))
        .unwrap_or_else(|| panic!("no {object}"));
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .find(|l| l.trim_start().starts_with(&format!("{field} = ")))
        .unwrap_or_else(|| panic!("no {field} in {object}"))
}

#[test]
fn fields_point_at_the_customer_allocation_and_platform_lines() {
    let text = explain("django");
    let op = "operator";
    let app = "app/dovetail.yaml";
    for (object, field, origin) in [
        (
            "Deployment/shop-web",
            "spec.replicas",
            format!("{op}/tenants/acme/shop.yaml:9:9 (processes.web.replicas)"),
        ),
        (
            "Deployment/shop-web",
            "spec.template.spec.containers[web].image",
            format!("{app}:6:1 (image)"),
        ),
        (
            "Deployment/shop-web",
            "spec.template.spec.containers[web].command[0]",
            format!("{app}:12:5 (processes.web.command)"),
        ),
        (
            "Deployment/shop-web",
            "spec.template.spec.containers[web].resources.limits.memory",
            format!("{op}/platform.yaml:17:22 (plans.small.memory)"),
        ),
        (
            "Deployment/shop-worker",
            "spec.template.spec.containers[worker].resources.limits.cpu",
            format!("{op}/tenants/acme/shop.yaml:10:25 (processes.worker.cpu)"),
        ),
        (
            "ConfigMap/shop-env",
            "data.GUNICORN_WORKERS",
            format!("{app}:21:3 (env.GUNICORN_WORKERS)"),
        ),
        (
            "PersistentVolumeClaim/shop-static",
            "spec.storageClassName",
            format!("{op}/platform.yaml:11:28 (storage.shared)"),
        ),
        (
            "Ingress/shop-web",
            "spec.ingressClassName",
            format!("{op}/platform.yaml:10:"),
        ),
        (
            "NetworkPolicy/shop-web",
            "spec.ingress[0].ports[0].port",
            format!("{app}:13:5 (processes.web.port)"),
        ),
    ] {
        let l = line(&text, object, field);
        assert!(l.contains(&format!("<- {origin}")), "{object} {field}: {l}");
    }
    // What no input says is dovetail's, with the reason.
    let sc = line(
        &text,
        "Deployment/shop-web",
        "spec.template.spec.containers[web].securityContext.readOnlyRootFilesystem",
    );
    assert!(sc.ends_with("<- dovetail: Pod Security restricted"), "{sc}");
    // Local storage no input sizes is the built-in default, and says so.
    let local = line(
        &text,
        "Deployment/shop-web",
        "spec.template.spec.containers[web].resources.limits.ephemeral-storage",
    );
    assert!(
        local.contains(
            "= \"1Gi\"  <- dovetail: 1Gi: every app container's local storage is bounded"
        ),
        "{local}"
    );
    // The default egress rule says it is the default.
    let egress = line(
        &text,
        "NetworkPolicy/shop-egress",
        "spec.egress[1].to[0].ipBlock.cidr",
    );
    assert!(
        egress.contains("(platform.yaml sets no network.egress)"),
        "{egress}"
    );
}

#[test]
fn fragments_and_platform_helpers_point_at_their_lines() {
    let text = explain("pretalx");
    let nginx = line(
        &text,
        "Deployment/pretalx-web",
        "spec.template.spec.containers[nginx].image",
    );
    assert!(
        nginx.contains("dovetail.yaml:24:11 (processes.web.pod.containers[1].image)"),
        "{nginx}"
    );
    let wait = line(
        &text,
        "Deployment/pretalx-web",
        "spec.template.spec.initContainers[wait-for-postgres].image",
    );
    assert!(wait.contains("platform.yaml:10:3 (images.wait)"), "{wait}");
}

#[test]
fn secret_values_are_never_explained() {
    let s = Scratch::example("django");
    s.edit(
        "app/dovetail.yaml",
        "env:\n",
        "secrets: secrets.yaml\nenv:\n",
    );
    common::secrets_set(&s.app(), "SECRET_KEY", "hunter2", common::EXAMPLE_RECIPIENT);
    // Cluster decryption (the default): the AgeSecret's ciphertext is named, not shown.
    let r = s.run("explain", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let l = line(&r.stdout, "AgeSecret/shop", "spec.data.SECRET_KEY");
    assert!(l.contains("= <age ciphertext>"), "{l}");
    assert!(!r.stdout.contains("BEGIN AGE"));
    // Decrypted at render time: the value is redacted.
    common::decrypt_at_render(&s.path("operator"));
    let r = s.run("explain", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let l = line(&r.stdout, "Secret/shop-secrets", "stringData.SECRET_KEY");
    assert!(l.contains("= <redacted>  <- app/dovetail.yaml"), "{l}");
    assert!(!r.stdout.contains("hunter2"));
    assert!(!r.stdout.contains("BEGIN AGE"));
}

/// `dovetail explain` of the Django example, narrowed by `only`.
fn explain_only(only: &[&str]) -> common::Run {
    let mut args = vec![
        "explain",
        "--app",
        "examples/django/app",
        "--operator",
        "examples/django/operator",
    ];
    args.extend_from_slice(only);
    dovetail(&args, &root())
}

#[test]
fn one_object_and_one_field_answer_why_a_pod_has_512mi() {
    let r = explain_only(&[
        "Deployment/shop-web",
        "spec.template.spec.containers[0].resources.limits.memory",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Deployment/shop-web\n  spec.template.spec.containers[web].resources.limits.memory = \"512Mi\"  \
         <- examples/django/operator/platform.yaml:17:22 (plans.small.memory)\n"
    );
    // Either order; the kind in any case, like kubectl's; the item by its name.
    let same = explain_only(&[
        "spec.template.spec.containers[web].resources.limits.memory",
        "deployment/shop-web",
    ]);
    assert_eq!(same.stdout, r.stdout);
}

#[test]
fn a_prefix_covers_every_field_under_it() {
    let r = explain_only(&[
        "Deployment/shop-web",
        "spec.template.spec.containers[web].resources",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fields: Vec<&str> = r.stdout.lines().skip(1).collect();
    assert_eq!(fields.len(), 6, "{}", r.stdout);
    assert!(
        fields.iter().all(|l| l.contains(".resources.")),
        "{}",
        r.stdout
    );
    // A prefix ends at a key: `spec.rep` is no prefix of `spec.replicas`.
    explain_only(&["spec.rep"]).fails(Some(2), "no rendered field `spec.rep`");
    // Dotted keys are matched whole.
    let issuer = explain_only(&["metadata.annotations.cert-manager.io/cluster-issuer"]);
    assert!(
        issuer.stdout.starts_with("Ingress/shop-web\n")
            && issuer.stdout.contains("(ingress.clusterIssuer)"),
        "{}",
        issuer.stdout
    );
}

#[test]
fn a_field_alone_spans_every_object_and_an_unnamed_item_every_item() {
    let r = explain_only(&["spec.template.spec.containers.resources.limits.memory"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let objects: Vec<&str> = r.stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        objects,
        [
            "Deployment/shop-redis",
            "Deployment/shop-web",
            "Deployment/shop-worker"
        ]
    );
    assert!(
        r.stdout.contains("(processes.worker.memory)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(redis.memory)"), "{}", r.stdout);
}

#[test]
fn nothing_to_explain_is_a_usage_error() {
    explain_only(&["Deployment/shop-nope"])
        .fails(Some(2), "no rendered object Deployment/shop-nope");
    explain_only(&["Deployment/shop-web", "spec.nope"]).fails(
        Some(2),
        "no rendered field `spec.nope` in Deployment/shop-web",
    );
    explain_only(&["spec.replicas", "spec.selector"]).fails(Some(2), "are both field paths");
    explain_only(&["Deployment/shop-web", "Service/shop-web"]).fails(Some(2), "are both objects");
}

/// Every field of every example's render, and of an app with as much as dovetail
/// renders, comes from a line of an input or a named default: none falls through
/// explain's table to its fallback, which would say nothing about why it is there.
#[test]
fn every_rendered_field_has_an_origin_or_a_named_default() {
    let fallback = format!("  <- dovetail: {}", dovetail::emit::explain::FALLBACK);
    let mut cases = Scenario::examples();
    cases.push(("the maximal app".to_owned(), Scenario::maximal()));
    cases.push((
        "the maximal app decrypting at render".to_owned(),
        Scenario::maximal_decrypting_at_render(),
    ));
    for (what, s) in cases {
        let text = s.explain();
        assert!(text.lines().count() > 100, "{what}: {text}");
        let gaps: Vec<&str> = text.lines().filter(|l| l.ends_with(&fallback)).collect();
        assert!(
            gaps.is_empty(),
            "{what}: explain has no rule for these fields (add one to src/emit/explain.rs):\n{}",
            gaps.join("\n")
        );
    }
}
