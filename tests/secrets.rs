//! Secrets end to end, interoperating with the stock `age` CLI both ways, and every way a
//! value can be wrong: each exits 1 naming file, line and key, prints nothing on stdout,
//! and never shows a plaintext.
//!
//! Values are encrypted with the `age` crate, as the stock CLI encrypts them; the two
//! interoperability tests run the CLI itself, so they are `#[ignore]`d on a plain
//! `cargo test` and run by CI (`-- --include-ignored`), where a missing CLI fails them.

mod common;

use std::fs;
use std::process::Command;

use base64::Engine as _;

use common::{Scratch, dovetail, piped};

const PLAIN: &str = "correct-horse-battery-staple";

/// How to get what the interoperability tests need.
const NEEDS_AGE: &str = "install the age CLI (Debian package `age`)";

/// A scratch Django app with a new platform key at `key.txt`.
struct Keys {
    s: Scratch,
    recipient: String,
}

fn setup() -> Keys {
    let s = Scratch::example("django");
    let recipient = common::age_keygen(&s.path("key.txt"));
    s.edit(
        "operator/platform.yaml",
        "recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]",
        &format!("recipients: [{recipient}]"),
    );
    s.edit(
        "app/dovetail.yaml",
        "env:\n",
        "secrets: secrets.yaml\nenv:\n",
    );
    // These tests are about values decrypted at render time; cluster decryption has
    // its own (tests/cluster.rs, and the AgeSecret tests below).
    common::decrypt_at_render(&s.path("operator"));
    Keys { s, recipient }
}

/// `value` after the binding line `binding`, encrypted to `recipient`: what the README's
/// stock-CLI one-liner makes.
fn encrypt(binding: &str, value: &str, recipient: &str) -> String {
    common::age_encrypt(format!("{binding}\n{value}").as_bytes(), recipient)
}

/// The README's stock-CLI one-liner, run.
fn stock_encrypt(binding: &str, value: &str, recipient: &str) -> String {
    common::require_on_path("age", NEEDS_AGE);
    let out = Command::new("sh")
        .arg("-c")
        .arg("printf '%s\\n%s' \"$B\" \"$V\" | age -a -r \"$R\"")
        .env("B", binding)
        .env("V", value)
        .env("R", recipient)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn secrets_file(entries: &[(&str, &str)]) -> String {
    let mut text = String::from("apiVersion: dovetail/v1\nkind: Secrets\ndata:\n");
    for (key, armored) in entries {
        text.push_str(&format!("  {key}: |\n"));
        for line in armored.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

fn with_identity(k: &Keys, extra: &[&str]) -> common::Run {
    let key = k.s.path("key.txt");
    let mut args = vec!["--identity", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    k.s.run("render", &args)
}

fn no_plaintext(r: &common::Run) {
    assert!(
        !r.stdout.contains(PLAIN) && !r.stderr.contains(PLAIN),
        "plaintext leaked"
    );
}

#[test]
#[ignore = "needs the age CLI: install the Debian package `age`; CI runs ignored tests"]
fn value_from_the_stock_age_cli_renders_into_a_secret() {
    let k = setup();
    let armored = stock_encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &armored)]),
    );
    let r = with_identity(&k, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    let all: Vec<serde_json::Value> = r
        .stdout
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| dovetail::input::yaml::parse(d).unwrap().to_json())
        .collect();
    let secret = all
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "shop-secrets")
        .unwrap();
    assert_eq!(secret["type"], "Opaque");
    // base64 of the plaintext, as Kubernetes stores it.
    assert_eq!(
        secret["data"]["SECRET_KEY"],
        "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5LXN0YXBsZQ=="
    );
    let web = all
        .iter()
        .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "shop-web")
        .unwrap();
    let env_from = &web["spec"]["template"]["spec"]["containers"][0]["envFrom"];
    assert!(
        env_from
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["secretRef"]["name"] == "shop-secrets")
    );
    // The checksum annotation does not reveal the plaintext's digest.
    let plain_digest = dovetail::digest::sha256_hex(&[PLAIN.as_bytes()]);
    assert!(!r.stdout.contains(&plain_digest));
}

#[test]
fn pods_roll_when_a_secret_changes() {
    let k = setup();
    let checksum = |k: &Keys| {
        let r = with_identity(k, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .find(|l| l.contains("dovetail/config-checksum"))
            .unwrap()
            .to_owned()
    };
    let a = encrypt("dovetail/v1 acme/shop SECRET_KEY", "one", &k.recipient);
    k.s.write("app/secrets.yaml", &secrets_file(&[("SECRET_KEY", &a)]));
    let first = checksum(&k);
    let b = encrypt("dovetail/v1 acme/shop SECRET_KEY", "two", &k.recipient);
    k.s.write("app/secrets.yaml", &secrets_file(&[("SECRET_KEY", &b)]));
    assert_ne!(first, checksum(&k));
}

#[test]
#[ignore = "needs the age CLI: install the Debian package `age`; CI runs ignored tests"]
fn value_set_by_dovetail_decrypts_with_the_stock_age_cli() {
    let k = setup();
    let set = |key: &str, value: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dovetail"));
        cmd.args(["secrets", "set", key, "--app"])
            .arg(k.s.app())
            .arg("--operator")
            .arg(k.s.operator());
        let out = piped(cmd, value.as_bytes());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        assert!(!String::from_utf8_lossy(&out.stderr).contains(value));
    };
    set("DB_PASSWORD", &format!("{PLAIN}\n"));
    let first = k.s.read("app/secrets.yaml");
    set("API_TOKEN", "tok");
    let both = k.s.read("app/secrets.yaml");
    assert!(
        both.starts_with(&first),
        "the first entry is kept byte for byte"
    );

    let doc = dovetail::input::yaml::parse(&both).unwrap().to_json();
    let armored = doc["data"]["DB_PASSWORD"].as_str().unwrap();
    let mut cmd = Command::new(common::require_on_path("age", NEEDS_AGE));
    cmd.arg("-d").arg("-i").arg(k.s.path("key.txt"));
    let out = piped(cmd, armored.as_bytes());
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("dovetail/v1 acme/shop DB_PASSWORD\n{PLAIN}")
    );

    // And dovetail reads what it wrote.
    let r = with_identity(&k, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_plaintext(&r);
}

#[test]
fn without_an_identity_values_are_redacted_and_only_checked_for_form() {
    let k = setup();
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &armored)]),
    );
    let r = k.s.run("render", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no identity (--identity or DOVETAIL_IDENTITY): secret values are redacted")
    );
    assert!(
        r.stdout
            .contains("SECRET_KEY: '<redacted: rendered without an identity>'")
            || r.stdout
                .contains("SECRET_KEY: \"<redacted: rendered without an identity>\""),
        "{}",
        r.stdout
    );
    let r = k.s.run("validate", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Form errors are found without the key.
    let spaced = armored.replacen('\n', "   \n", 1);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &spaced)]),
    );
    let app = k.s.app();
    let r = dovetail(
        &["validate", "--app", app.to_str().unwrap()],
        k.s.dir.path(),
    );
    r.invalid("secrets.yaml:4:3: error: data.SECRET_KEY: line 1 of the armor ends in whitespace; remove the trailing spaces");
}

/// Writes `armored` as `SECRET_KEY`, renders with the key, and checks the refusal.
fn refused(k: &Keys, armored: &str, expected: &str) {
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", armored)]),
    );
    let r = with_identity(k, &[]);
    r.invalid("app/secrets.yaml:4:3: error: data.SECRET_KEY: ")
        .invalid(expected);
    no_plaintext(&r);
}

#[test]
fn value_copied_from_another_app_is_refused() {
    let k = setup();
    let armored = encrypt("dovetail/v1 beta/blog SECRET_KEY", PLAIN, &k.recipient);
    refused(&k, &armored, "bound to app `beta/blog`, not to `acme/shop`");
}

#[test]
fn value_moved_to_another_key_is_refused() {
    let k = setup();
    let armored = encrypt("dovetail/v1 acme/shop DB_PASSWORD", PLAIN, &k.recipient);
    refused(&k, &armored, "bound to another key, not to `SECRET_KEY`");
}

#[test]
fn value_without_a_binding_line_is_refused_without_showing_it() {
    let k = setup();
    refused(
        &k,
        &common::age_encrypt(PLAIN.as_bytes(), &k.recipient),
        "does not start with the binding line",
    );
}

#[test]
fn value_not_encrypted_to_the_platform_key_is_refused() {
    let k = setup();
    let other = k.s.path("other.txt");
    let r = common::age_keygen(&other);
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &r);
    // The platform's key was given: the value is what must change.
    refused(
        &k,
        &armored,
        "not encrypted to the platform's key (no identity matches); encrypt it to the recipients in platform.yaml",
    );
}

#[test]
fn tampered_and_truncated_ciphertexts_are_refused() {
    let k = setup();
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    let mut lines: Vec<String> = armored.lines().map(str::to_owned).collect();
    // Flip a character of the payload (the last body line).
    let n = lines.len() - 2;
    let mut last: Vec<char> = lines[n].chars().collect();
    last[2] = if last[2] == 'A' { 'B' } else { 'A' };
    lines[n] = last.into_iter().collect();
    refused(&k, &(lines.join("\n") + "\n"), "error");
    let r = with_identity(&k, &[]);
    assert!(
        r.stderr.contains("damaged") || r.stderr.contains("not an ASCII-armored"),
        "{}",
        r.stderr
    );
    // Drop the last body line.
    let mut lines: Vec<&str> = armored.lines().collect();
    lines.remove(lines.len() - 2);
    refused(&k, &(lines.join("\n") + "\n"), "error");
}

#[test]
fn trailing_spaces_get_a_hint() {
    let k = setup();
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    refused(
        &k,
        &armored.replacen('\n', "  \n", 2),
        "line 1 of the armor ends in whitespace; remove the trailing spaces",
    );
}

/// `data` in age's ASCII armor, as age writes it: base64, 64 characters a line.
fn armor(data: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(data);
    let mut armored = String::from("-----BEGIN AGE ENCRYPTED FILE-----\n");
    for chunk in body.as_bytes().chunks(64) {
        armored.push_str(std::str::from_utf8(chunk).unwrap());
        armored.push('\n');
    }
    armored.push_str("-----END AGE ENCRYPTED FILE-----\n");
    armored
}

#[test]
fn ten_thousand_recipient_stanzas_are_refused_fast() {
    let k = setup();
    let mut header = String::from("age-encryption.org/v1\n");
    for _ in 0..10_000 {
        header.push_str("-> X25519 A\nA\n");
    }
    header.push_str("--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    let armored = armor(header.as_bytes());
    let started = std::time::Instant::now();
    refused(&k, &armored, "over the 16384-byte limit");
    assert!(started.elapsed().as_millis() < 1000);
    // Under the size cap, the stanza count is refused on its own.
    let mut small = String::from("age-encryption.org/v1\n");
    for _ in 0..40 {
        small.push_str("-> X25519 AAAA\nAAAA\n");
    }
    small.push_str("--- AAAA\n");
    let armored = armor(small.as_bytes());
    refused(
        &k,
        &armored,
        "the header has 40 recipient stanzas, more than the 16 allowed",
    );
}

#[test]
fn passphrase_encrypted_value_is_refused() {
    let k = setup();
    // An scrypt stanza, as `age -p` writes it.
    let header = "age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 18\nAAAA\n--- AAAA\n";
    refused(
        &k,
        &armor(header.as_bytes()),
        "encrypted with a `scrypt` recipient; only X25519 recipients (age1…) are accepted",
    );
}

#[test]
fn oversized_value_is_refused() {
    let k = setup();
    let big = "A".repeat(20_000);
    let armored =
        format!("-----BEGIN AGE ENCRYPTED FILE-----\n{big}\n-----END AGE ENCRYPTED FILE-----\n");
    refused(&k, &armored, "over the 16384-byte limit");
}

/// Operators set `DOVETAIL_IDENTITY` to the key itself, as `SOPS_AGE_KEY` takes it, and the
/// error named the "file": the key that opens every tenant's secrets, in an error that
/// Argo CD shows every tenant.
#[test]
fn a_key_given_where_its_file_belongs_is_not_printed() {
    let k = setup();
    let key_text = k.s.read("key.txt");
    let key = key_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap();
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &armored)]),
    );
    for cmd in ["render", "validate"] {
        let r = k.s.run(cmd, &["--identity", key]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert_eq!(r.stdout, "");
        assert!(
            r.stderr.contains("cannot read identity file (not shown"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("not the key itself"), "{}", r.stderr);
        let body = &key["AGE-SECRET-KEY-1".len()..];
        assert!(
            !r.stderr.to_uppercase().contains(&body[..8]),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn missing_or_unreadable_identity_exits_2() {
    let k = setup();
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &armored)]),
    );
    let r = k.s.run("render", &["--identity", "/nonexistent/key.txt"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr
            .contains("cannot read identity file `/nonexistent/key.txt`:"),
        "{}",
        r.stderr
    );
    let dir = k.s.path("app");
    let r = k.s.run("render", &["--identity", dir.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read identity file"),
        "{}",
        r.stderr
    );
    k.s.write("plugin.txt", "AGE-PLUGIN-YUBIKEY-1QQQQQQ\n");
    let plugin = k.s.path("plugin.txt");
    let r = k.s.run("render", &["--identity", plugin.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("a plugin identity; only age X25519 identities"),
        "{}",
        r.stderr
    );
}

#[test]
fn rotation_tries_every_identity() {
    let k = setup();
    let new_key = k.s.path("new.txt");
    let new_r = common::age_keygen(&new_key);
    let old = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    let new = encrypt("dovetail/v1 acme/shop API_TOKEN", "tok", &new_r);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &old), ("API_TOKEN", &new)]),
    );
    let both = format!("{}:{}", k.s.path("key.txt").display(), new_key.display());
    let r = k.s.run("render", &["--identity", &both]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn image_pull_secret_becomes_a_dockerconfigjson_secret() {
    let k = setup();
    let auth = r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#;
    let armored = encrypt("dovetail/v1 acme/shop REGISTRY_AUTH", auth, &k.recipient);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("REGISTRY_AUTH", &armored)]),
    );
    k.s.edit(
        "app/dovetail.yaml",
        "secrets: secrets.yaml\n",
        "secrets: secrets.yaml\nimagePullSecret: REGISTRY_AUTH\n",
    );
    let r = with_identity(&k, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("type: kubernetes.io/dockerconfigjson"));
    assert!(
        r.stdout
            .contains("imagePullSecrets:\n        - name: shop-pull")
    );
    assert!(
        !r.stdout.contains("name: shop-secrets\n  namespace"),
        "the pull secret is not env"
    );
}

#[test]
fn rekey_rotates_every_value_to_the_new_platform_key() {
    let k = setup();
    let a = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    let b = encrypt("dovetail/v1 acme/shop API_TOKEN", "tok", &k.recipient);
    let mut text = secrets_file(&[("SECRET_KEY", &a), ("API_TOKEN", &b)]);
    text.insert_str(0, "# rotated yearly\n");
    k.s.write("app/secrets.yaml", &text);

    // The operator makes a new key and lists it as the platform's recipient.
    let new_key = k.s.path("new.txt");
    let new_r = common::age_keygen(&new_key);
    k.s.edit("operator/platform.yaml", &k.recipient, &new_r);

    let old_key = k.s.path("key.txt");
    let rekey_with_old_key = || {
        dovetail(
            &[
                "secrets",
                "rekey",
                "--app",
                k.s.app().to_str().unwrap(),
                "--operator",
                k.s.operator().to_str().unwrap(),
                "--identity",
                old_key.to_str().unwrap(),
            ],
            k.s.dir.path(),
        )
    };
    let r = rekey_with_old_key();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("rekeyed 2 values"));
    no_plaintext(&r);
    let rekeyed = k.s.read("app/secrets.yaml");
    assert!(rekeyed.starts_with("# rotated yearly\napiVersion: dovetail/v1\n"));

    let r =
        k.s.run("render", &["--identity", new_key.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Regression: the key given being no platform key, the hint asked the customer to
    // encrypt every value again, when the key given is what is wrong.
    k.s.run("render", &["--identity", old_key.to_str().unwrap()])
        .invalid("not encrypted to the platform's key (no identity matches); no identity given (--identity or DOVETAIL_IDENTITY) is the key of a recipient platform.yaml lists: give the platform's key");

    // Again with the old key, which opens none of them now: the message is a rekey's
    // (pass the key they are encrypted to), not a render's (encrypt them anew), and
    // nothing is written.
    let r = rekey_with_old_key();
    r.invalid("data.SECRET_KEY: no identity given (--identity) opens it; pass the key the values are encrypted to now");
    assert!(
        r.stderr
            .contains("error: 2 values could not be read; nothing was rekeyed"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("rendered"), "{}", r.stderr);
    assert_eq!(k.s.read("app/secrets.yaml"), rekeyed);
}

/// `rekey` (run by the operator, holding the old platform key, in every customer's
/// checkout) writes only the secrets file: a link the customer committed where the
/// temporary file used to go is neither followed nor left pointing at anything.
#[test]
fn rekey_never_writes_through_a_link_the_customer_committed() {
    let k = setup();
    let a = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    k.s.write("app/secrets.yaml", &secrets_file(&[("SECRET_KEY", &a)]));
    let victim = k.s.path("old-platform-key.txt");
    fs::write(&victim, "the operator's file\n").unwrap();
    let app = k.s.app();
    std::os::unix::fs::symlink("../old-platform-key.txt", app.join("secrets.yaml.tmp")).unwrap();
    let before: Vec<_> = fs::read_dir(&app)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();

    let new_r = common::age_keygen(&k.s.path("new.txt"));
    k.s.edit("operator/platform.yaml", &k.recipient, &new_r);
    let r = dovetail(
        &[
            "secrets",
            "rekey",
            "--app",
            app.to_str().unwrap(),
            "--operator",
            k.s.operator().to_str().unwrap(),
            "--identity",
            k.s.path("key.txt").to_str().unwrap(),
        ],
        k.s.dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "the operator's file\n"
    );
    let written = fs::symlink_metadata(app.join("secrets.yaml")).unwrap();
    assert!(written.file_type().is_file(), "secrets.yaml is a link now");
    assert!(k.s.read("app/secrets.yaml").contains("SECRET_KEY:"));
    let mut after: Vec<_> = fs::read_dir(&app)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(after, before, "a temporary file was left behind");
}

/// Writes `data` (the lines under `data:`) as the secrets file, and checks that
/// `validate` in every format and `render` with the identity refuse it with `expected`,
/// `secret` nowhere in any stream. The `validate` runs and the `render` run, for more
/// checks.
fn refused_without_showing(
    k: &Keys,
    data: &str,
    expected: &str,
    secret: &str,
) -> (Vec<common::Run>, common::Run) {
    k.s.write(
        "app/secrets.yaml",
        &format!("apiVersion: dovetail/v1\nkind: Secrets\ndata:\n{data}"),
    );
    let mut runs = Vec::new();
    for format in ["text", "json", "github"] {
        let r = k.s.run("validate", &["--format", format]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        // validate's report is its product: stdout.
        let shown = format!("{}{}", r.stdout, r.stderr);
        assert!(shown.contains(expected), "{format}: {shown}");
        assert!(
            !shown.contains(secret),
            "{secret} shown in {format}: {shown}"
        );
        runs.push(r);
    }
    let r = with_identity(k, &[]);
    r.invalid(expected);
    assert!(!r.stderr.contains(secret), "{}", r.stderr);
    (runs, r)
}

/// A value pasted into the secrets file unencrypted is refused without a byte of it in
/// any stream or format: one starting with `!` reads as a YAML tag (whose error named the
/// whole tag, so the whole value), one starting with `@` or a backtick as a character no
/// plain scalar may start with (whose error named the character).
#[test]
fn a_value_pasted_unencrypted_is_never_shown_in_yaml_errors() {
    let k = setup();
    for (value, expected) in [
        ("!P@ss#w0rd;x=1&y(2)", "a tag (`!…`) is not supported here"),
        ("!!Zq9secret", "a tag (`!…`) is not supported here"),
        ("!<Zq9secret>", "a tag (`!…`) is not supported here"),
        (
            "@Zq9secret",
            "invalid YAML: a value that is not quoted starts with a character YAML reserves",
        ),
        (
            "`Zq9secret",
            "invalid YAML: a value that is not quoted starts with a character YAML reserves",
        ),
    ] {
        let data = format!("  PASSWORD: {value}\n");
        let (runs, _) = refused_without_showing(&k, &data, expected, &value[1..]);
        for r in runs {
            assert!(
                !r.stderr.contains(&value[..1]) || value.starts_with('!'),
                "{}",
                r.stderr
            );
        }
    }
}

/// Regression: an alias copies its anchor's text where it stands, and as a key
/// (`*v : x`) a value pasted in unencrypted was named back: "data.Zq9… is not a secret
/// name". A secrets file may not use aliases at all.
#[test]
fn an_alias_in_the_secrets_file_is_refused_without_its_text() {
    let k = setup();
    for data in [
        "  SECRET_KEY: &v Zq9secret-pasted\n  *v : x\n",
        "  SECRET_KEY: &v Zq9secret-pasted\n  OTHER: *v\n",
    ] {
        let expected = "a secrets file may not use aliases";
        let (_, render) = refused_without_showing(&k, data, expected, "Zq9secret");
        render
            .invalid("app/secrets.yaml:5:")
            .invalid("error: a secrets file may not use aliases");
    }
}

/// `render --output-dir` writes the decrypted Secret for its owner alone, whatever the
/// umask; the other objects as any file is written.
#[test]
fn output_dir_writes_decrypted_secrets_for_the_owner_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let k = setup();
    let armored = encrypt("dovetail/v1 acme/shop SECRET_KEY", PLAIN, &k.recipient);
    k.s.write(
        "app/secrets.yaml",
        &secrets_file(&[("SECRET_KEY", &armored)]),
    );
    let out = k.s.path("out");
    let r = with_identity(&k, &["--output-dir", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut secrets = 0;
    for entry in fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if text.contains("\nkind: Secret\n") {
            secrets += 1;
            assert_eq!(mode, 0o600, "{}", path.display());
        } else {
            assert_ne!(mode & 0o600, 0, "{}", path.display());
        }
    }
    assert!(secrets >= 1);
}

/// Regression: `--recipient` replaced platform.yaml's recipients even with the operator
/// repo at hand, so a customer adding a key of their own shipped a value the platform
/// could not read (and `validate` without an identity passed it).
#[test]
fn a_key_of_your_own_is_added_to_the_platforms() {
    let k = setup();
    let own = common::age_keygen(&k.s.path("own.txt"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dovetail"));
    cmd.args(["secrets", "set", "DB_PASSWORD", "--app"])
        .arg(k.s.app())
        .arg("--operator")
        .arg(k.s.operator())
        .args(["--recipient", &own]);
    let out = common::piped(cmd, PLAIN.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("(2 recipients)"), "{stderr}");
    // The platform reads it, and so does its owner.
    for key in ["key.txt", "own.txt"] {
        let r =
            k.s.run("render", &["--identity", k.s.path(key).to_str().unwrap()]);
        assert_eq!(r.code, 0, "{key}: {}", r.stderr);
        no_plaintext(&r);
    }
}

/// Regression: a value piped with a Windows line ending kept its `\r`, which then
/// reached the app as part of the password; and a value given as an argument after
/// KEY was printed back by the argument parser's error.
#[test]
fn set_drops_a_crlf_line_ending_and_refuses_a_value_argument_unseen() {
    let k = setup();
    let run = |args: &[&str], stdin: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dovetail"));
        cmd.args(["secrets", "set"])
            .args(args)
            .arg("--app")
            .arg(k.s.app())
            .arg("--operator")
            .arg(k.s.operator());
        piped(cmd, stdin.as_bytes())
    };
    for args in [
        &["DB_PASSWORD", "hunter2-on-the-command-line"][..],
        &["DB_PASSWORD", "--hunter2"],
        &["DB_PASSWORD", "-hunter2"],
        &["DB_PASSWORD=hunter2"],
    ] {
        let out = run(args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("on stdin"), "{args:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{args:?}: {stderr}");
        assert!(!k.s.path("app/secrets.yaml").exists());
    }

    let out = run(&["DB_PASSWORD"], "p4ss\r\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(decrypted(&k, "DB_PASSWORD"), b"p4ss");
}

/// The value of `key` in app/secrets.yaml, decrypted with the test's identity.
fn decrypted(k: &Keys, key: &str) -> Vec<u8> {
    let doc = dovetail::input::yaml::parse(&k.s.read("app/secrets.yaml"))
        .unwrap()
        .to_json();
    let ids = dovetail::crypto::read_identities(&k.s.path("key.txt")).unwrap();
    let binding = dovetail::crypto::Binding {
        tenant: "acme",
        app: "shop",
        key,
    };
    dovetail::crypto::decrypt(doc["data"][key].as_str().unwrap(), &ids, &binding).unwrap()
}

/// `dovetail secrets unset ARGS --app app`, run in the scratch dir.
fn unset(k: &Keys, keys: &[&str]) -> common::Run {
    let mut args = vec!["secrets", "unset"];
    args.extend_from_slice(keys);
    args.extend_from_slice(&["--app", "app"]);
    dovetail(&args, k.s.dir.path())
}

/// A secrets file of three values with comments around and between them, and
/// `imagePullSecret:` naming the third.
fn three_values(k: &Keys) -> (String, [String; 3]) {
    let values = ["SECRET_KEY", "API_TOKEN", "REGISTRY_AUTH"].map(|key| {
        let value = if key == "REGISTRY_AUTH" {
            r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#
        } else {
            PLAIN
        };
        encrypt(&format!("dovetail/v1 acme/shop {key}"), value, &k.recipient)
    });
    let mut text = secrets_file(&[
        ("SECRET_KEY", &values[0]),
        ("API_TOKEN", &values[1]),
        ("REGISTRY_AUTH", &values[2]),
    ]);
    text.insert_str(0, "# rotated yearly\n");
    text = text.replace("data:\n", "data:  # keep sorted\n");
    text = text.replace(
        "  API_TOKEN: |\n",
        "\n  # for the payments API\n  API_TOKEN: |\n",
    );
    text.push_str("# end\n");
    k.s.write("app/secrets.yaml", &text);
    k.s.edit(
        "app/dovetail.yaml",
        "secrets: secrets.yaml\n",
        "secrets: secrets.yaml\nimagePullSecret: REGISTRY_AUTH\n",
    );
    (text, values)
}

/// The lines `set` writes for one entry.
fn entry_lines(key: &str, armored: &str) -> String {
    let mut out = format!("  {key}: |\n");
    for line in armored.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

#[test]
fn unset_removes_the_entries_and_keeps_every_other_byte() {
    let k = setup();
    let (text, values) = three_values(&k);
    let r = unset(&k, &["API_TOKEN"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "unset API_TOKEN in app/secrets.yaml (2 keys left)\n"
    );
    // Exactly the entry's lines are gone; its comment, the blank line and the other
    // entries stay as they were.
    let expected = text.replace(&entry_lines("API_TOKEN", &values[1]), "");
    assert_ne!(expected, text);
    assert_eq!(k.s.read("app/secrets.yaml"), expected);
    assert!(expected.contains("\n  # for the payments API\n  REGISTRY_AUTH: |\n"));
    let r = with_identity(&k, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("API_TOKEN"));
    assert!(r.stdout.contains("SECRET_KEY"));

    // The last keys, once imagePullSecret names none: `data: {}`, which renders.
    k.s.edit("app/dovetail.yaml", "imagePullSecret: REGISTRY_AUTH\n", "");
    let r = unset(&k, &["SECRET_KEY", "REGISTRY_AUTH"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        "unset SECRET_KEY, REGISTRY_AUTH in app/secrets.yaml (0 keys left)\n"
    );
    assert_eq!(
        k.s.read("app/secrets.yaml"),
        "# rotated yearly\napiVersion: dovetail/v1\nkind: Secrets\ndata: {}  # keep sorted\n\n  # for the payments API\n# end\n"
    );
    let r = with_identity(&k, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("shop-secrets"), "{}", r.stdout);
    let r = k.s.run("validate", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn unset_of_a_key_not_in_the_file_names_both_and_suggests() {
    let k = setup();
    let (text, _) = three_values(&k);
    unset(&k, &["SECRT_KEY"]).fails(
        Some(2),
        "error: `SECRT_KEY` is not a key of `app/secrets.yaml`; did you mean `SECRET_KEY`?\n",
    );
    // Not a typo of one: it may be a value, and is named by its place alone.
    unset(&k, &["DB_PASSWORD"]).fails(
        Some(2),
        "error: the key given is not a key of `app/secrets.yaml`; it holds `SECRET_KEY`, `API_TOKEN`, `REGISTRY_AUTH`\n",
    );
    assert_eq!(k.s.read("app/secrets.yaml"), text);
    // No file at all.
    fs::remove_file(k.s.path("app/secrets.yaml")).unwrap();
    unset(&k, &["SECRET_KEY"]).fails(Some(2), "there is no `app/secrets.yaml`");
}

/// Several keys: every problem reported at once, and nothing removed unless every key
/// can be; the key imagePullSecret names cannot. No byte of a value, and no ciphertext,
/// in any message.
#[test]
fn unset_is_all_or_nothing_and_keeps_the_image_pull_secret() {
    let k = setup();
    let (text, values) = three_values(&k);
    let r = unset(
        &k,
        &[
            "SECRET_KEY",
            "API_TOKN",
            "REGISTRY_AUTH",
            "DB_PASSWORD=hunter2",
        ],
    );
    r.fails(
        Some(2),
        "error: `API_TOKN` is not a key of `app/secrets.yaml`; did you mean `API_TOKEN`?\n\
         error: `REGISTRY_AUTH` is the image pull secret (`imagePullSecret:` in app/dovetail.yaml); change or remove `imagePullSecret:` in dovetail.yaml first\
         : the app does not render without its key\n\
         error: key 4 of the 4 given is not a secret name: it holds `=`, as `KEY=value` does (it is not shown)",
    )
    .fails(
        Some(2),
        "error: 3 of the 4 keys cannot be removed; nothing was removed",
    );
    assert_eq!(k.s.read("app/secrets.yaml"), text, "nothing was written");
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    for armored in &values {
        for line in armored.lines().skip(1) {
            assert!(!r.stderr.contains(line) || line.starts_with("-----"));
        }
    }
    // Alone, the pull secret's key is refused all the same.
    unset(&k, &["REGISTRY_AUTH"]).fails(Some(2), "is the image pull secret");
    assert_eq!(k.s.read("app/secrets.yaml"), text);
    with_identity(&k, &[]).ok();
}

/// `printf %s VALUE | dovetail secrets set ARGS --app app --operator operator`, in the
/// scratch dir.
fn set(k: &Keys, args: &[&str], value: &str) -> common::Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dovetail"));
    cmd.args(["secrets", "set"])
        .args(args)
        .args(["--app", "app", "--operator", "operator"])
        .current_dir(k.s.dir.path());
    common::Run::from_output(piped(cmd, value.as_bytes()))
}

/// Regression: `set` on a secrets file with a YAML error said "not a secrets file"
/// with no place (exit 2), and `unset` ended with "nothing was rendered".
#[test]
fn set_and_unset_on_a_broken_secrets_file_name_the_place_and_change_nothing() {
    let k = setup();
    let broken = "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: \"x\n";
    k.s.write("app/secrets.yaml", broken);
    for r in [set(&k, &["A"], PLAIN), unset(&k, &["A"])] {
        r.invalid("app/secrets.yaml:4:6: error: invalid YAML: a quoted value that is not closed")
            .invalid("error: 1 problem in the inputs; no file was changed");
        assert!(!r.stderr.contains("rendered"), "{}", r.stderr);
        no_plaintext(&r);
        assert_eq!(k.s.read("app/secrets.yaml"), broken);
    }
    // `data` that is not a mapping is the schema's error, at `data:`.
    let scalar = "apiVersion: dovetail/v1\nkind: Secrets\ndata: 5\n";
    k.s.write("app/secrets.yaml", scalar);
    for r in [set(&k, &["A"], PLAIN), unset(&k, &["A"])] {
        r.invalid("app/secrets.yaml:3:7: error: data: expected a mapping, found a number");
        assert_eq!(k.s.read("app/secrets.yaml"), scalar);
    }
}

/// Regression: a value pasted unencrypted is `validate`'s problem, not `set`'s: setting
/// that key is how it gets fixed.
#[test]
fn set_replaces_a_value_pasted_unencrypted() {
    let k = setup();
    k.s.write(
        "app/secrets.yaml",
        &format!("apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  SECRET_KEY: {PLAIN}\n"),
    );
    let r = set(&k, &["SECRET_KEY"], "fresh-value");
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_plaintext(&r);
    assert!(!k.s.read("app/secrets.yaml").contains(PLAIN));
    with_identity(&k, &[]).ok();
}

/// Regression: `secrets: 42` in dovetail.yaml made `set` write a file named `42`, and a
/// dovetail.yaml that did not parse got a note to add `secrets:` it may well have had.
#[test]
fn set_refuses_a_dovetail_yaml_that_cannot_say_which_file_and_writes_nothing() {
    let k = setup();
    let app = k.s.read("app/dovetail.yaml");
    k.s.write(
        "app/dovetail.yaml",
        &app.replace("secrets: secrets.yaml", "secrets: 42"),
    );
    set(&k, &["A"], PLAIN)
        .invalid("app/dovetail.yaml:")
        .invalid("error: secrets: expected a string, found a number `42`")
        .invalid("no file was changed");
    assert!(!k.s.path("app/42").exists() && !k.s.path("app/secrets.yaml").exists());

    k.s.write("app/dovetail.yaml", &format!("{app}env: [\n"));
    let r = set(&k, &["A"], PLAIN);
    r.invalid("error: invalid YAML");
    assert!(!r.stderr.contains("add `secrets:"), "{}", r.stderr);
    assert!(!k.s.path("app/secrets.yaml").exists());

    // Problems elsewhere in dovetail.yaml are `validate`'s: a value can still be set.
    k.s.write("app/dovetail.yaml", &app.replace("image: ", "imag: "));
    let r = set(&k, &["A"], PLAIN);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(k.s.path("app/secrets.yaml").exists());
}

/// Regression: with the operator repo at hand, `--allocation` naming an app it lacks
/// bound the value to that app; no render would ever open it.
#[test]
fn set_refuses_an_allocation_the_operator_repo_lacks() {
    let k = setup();
    set(&k, &["A", "--allocation", "other/app"], PLAIN)
        .fails(Some(2), "no allocation `operator/tenants/other/app.yaml`");
    assert!(!k.s.path("app/secrets.yaml").exists());
    let r = set(&k, &["A", "--allocation", "acme/shop"], PLAIN);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Regression: an empty secrets file was told that `dovetail init` writes a starting
/// point, which it does not write for secrets.
#[test]
fn an_empty_secrets_file_is_told_how_to_set_a_value() {
    let k = setup();
    k.s.write("app/secrets.yaml", "");
    with_identity(&k, &[]).invalid(
        "app/secrets.yaml:1:1: error: is empty; set a value with `dovetail secrets set KEY`, or remove `secrets:` from dovetail.yaml",
    );
}

/// Regression: the image pull secret's key with a value of the wrong type was also
/// reported "not a key of secrets.yaml", sending the customer to add what is there.
#[test]
fn a_pull_secret_of_the_wrong_type_is_reported_once() {
    let k = setup();
    k.s.edit(
        "app/dovetail.yaml",
        "secrets: secrets.yaml\n",
        "secrets: secrets.yaml\nimagePullSecret: REGISTRY_AUTH\n",
    );
    k.s.write(
        "app/secrets.yaml",
        "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  REGISTRY_AUTH: [x]\n",
    );
    let r = with_identity(&k, &[]);
    r.invalid("app/secrets.yaml:4:3: error: data.REGISTRY_AUTH: expected a string, found a list")
        .invalid("error: 1 problem in the inputs");
    assert!(!r.stderr.contains("is not a key"), "{}", r.stderr);
    // Absent, it is still not a key.
    k.s.write(
        "app/secrets.yaml",
        "apiVersion: dovetail/v1\nkind: Secrets\ndata: {}\n",
    );
    with_identity(&k, &[])
        .invalid("imagePullSecret: `REGISTRY_AUTH` is not a key of app/secrets.yaml");
}

/// Regression: a value pasted in as a shell sets it, `SECRET_KEY=hunter2:` as a key,
/// was named back in full: in the schema error, its field path in every report, the
/// duplicate-key error and the keys `unset` lists.
#[test]
fn a_key_holding_an_assignment_is_never_shown() {
    let k = setup();
    for text in [
        "apiVersion: dovetail/v1\nkind: Secrets\ndata: {SECRET_KEY=hunter2, B=hunter2}\n",
        "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  SECRET_KEY=hunter2: x\n  SECRET_KEY=hunter2: y\n",
        "apiVersion: dovetail/v1\nkind: Secrets\nSECRET_KEY=hunter2: x\ndata: {}\n",
        "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  postgres://app:hunter2@db: x\n",
    ] {
        k.s.write("app/secrets.yaml", text);
        let runs = [
            with_identity(&k, &[]),
            k.s.run("validate", &["--format", "json"]),
            k.s.run("validate", &["--format", "github"]),
            unset(&k, &["SECRET_KEY"]),
        ];
        for r in &runs {
            assert_ne!(r.code, 0, "{text}: {}", r.stderr);
            assert!(
                !r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"),
                "{text}:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        assert!(
            runs[0]
                .stderr
                .contains("(a key that is no secret name, not shown)"),
            "{}",
            runs[0].stderr
        );
    }
}

/// Regression: a secrets file kept as a link inside the app (`secrets.yaml ->
/// config/secrets.yaml`) was replaced by a regular file, and a file kept private
/// (`chmod 600`) came back readable by all.
#[test]
fn set_writes_through_a_link_inside_the_app_and_keeps_the_files_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let k = setup();
    set(&k, &["A"], PLAIN);
    let real = k.s.path("app/config/secrets.yaml");
    fs::rename(k.s.path("app/secrets.yaml"), &real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("config/secrets.yaml", k.s.path("app/secrets.yaml")).unwrap();

    let r = set(&k, &["B"], "other");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let link = fs::symlink_metadata(k.s.path("app/secrets.yaml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let text = fs::read_to_string(&real).unwrap();
    assert!(text.contains("  A: |") && text.contains("  B: |"), "{text}");
    let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    with_identity(&k, &[]).ok();
}

/// Regression: a secrets file that is a directory, a link out of the app or not UTF-8
/// stopped `set`, `unset` and `rekey` with exit 2 and no place; a link to nothing was
/// replaced by a file. Each is an input problem at the file's place (exit 1), and no
/// file is changed.
#[test]
fn a_secrets_file_that_cannot_be_read_is_reported_at_its_place() {
    let k = setup();
    let outside = k.s.path("elsewhere.yaml");
    fs::write(&outside, "data: {}\n").unwrap();
    let secrets = k.s.path("app/secrets.yaml");
    let rekey = |k: &Keys| {
        dovetail(
            &[
                "secrets",
                "rekey",
                "--app",
                "app",
                "--operator",
                "operator",
                "--identity",
                "key.txt",
            ],
            k.s.dir.path(),
        )
    };
    let cases: [(&str, &dyn Fn(), &str); 4] = [
        (
            "a directory",
            &|| fs::create_dir(&secrets).unwrap(),
            ": error: secrets: `app/secrets.yaml` is not a regular file; name the secrets file in `secrets:`",
        ),
        (
            "a link out",
            &|| std::os::unix::fs::symlink(&outside, &secrets).unwrap(),
            "app/secrets.yaml:1:1: error: `secrets.yaml` leads outside the repo",
        ),
        (
            "not UTF-8",
            &|| fs::write(&secrets, b"data:\n  A: \xff\n").unwrap(),
            "app/secrets.yaml:2:6: error: is not UTF-8 text",
        ),
        (
            "a link to nothing",
            &|| std::os::unix::fs::symlink("nothing.yaml", &secrets).unwrap(),
            "app/secrets.yaml:1:1: error: `app/secrets.yaml` is a link to nothing",
        ),
    ];
    for (what, make, expected) in cases {
        make();
        for r in [set(&k, &["A"], PLAIN), unset(&k, &["A"]), rekey(&k)] {
            r.invalid(expected)
                .invalid("error: 1 problem in the inputs; no file was changed");
        }
        assert_eq!(
            fs::read_to_string(&outside).unwrap(),
            "data: {}\n",
            "{what}"
        );
        let meta = fs::symlink_metadata(&secrets).unwrap();
        assert!(
            !meta.file_type().is_file() || what == "not UTF-8",
            "{what}: replaced"
        );
        if meta.is_dir() {
            fs::remove_dir(&secrets).unwrap();
        } else {
            fs::remove_file(&secrets).unwrap();
        }
    }
}

/// Regression: `secrets: sub/new.yaml` naming a directory not made yet failed after the
/// value was read, writing nothing; and a file standing where the directory belongs was
/// told only that it could not be written.
#[test]
fn set_makes_the_directory_secrets_names_inside_the_app() {
    let k = setup();
    k.s.edit(
        "app/dovetail.yaml",
        "secrets: secrets.yaml",
        "secrets: private/prod/secrets.yaml",
    );
    let r = set(&k, &["A"], PLAIN);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(k.s.read("app/private/prod/secrets.yaml").contains("  A: |"));
    with_identity(&k, &[]).ok();

    k.s.edit(
        "app/dovetail.yaml",
        "private/prod/secrets.yaml",
        "dovetail.yaml/secrets.yaml",
    );
    // Reported where it is fixed: at `secrets:`.
    let line =
        k.s.read("app/dovetail.yaml")
            .lines()
            .position(|l| l.starts_with("secrets:"))
            .unwrap()
            + 1;
    set(&k, &["A"], PLAIN)
        .invalid(&format!(
            "app/dovetail.yaml:{line}:10: error: secrets: `app/dovetail.yaml` is a file, not a directory"
        ))
        .invalid("no file was changed");
}

/// Regression: a dovetail.yaml that is a directory or a link out of the app was taken
/// for none, so `unset` removed the key `imagePullSecret:` names, and `set` wrote to
/// `secrets.yaml` whatever `secrets:` said.
#[test]
fn a_dovetail_yaml_that_cannot_be_read_stops_the_secrets_commands() {
    let k = setup();
    set(&k, &["A"], PLAIN);
    let before = k.s.read("app/secrets.yaml");
    let app = k.s.path("app/dovetail.yaml");
    fs::rename(&app, k.s.path("dovetail.yaml")).unwrap();
    std::os::unix::fs::symlink("../dovetail.yaml", &app).unwrap();
    for r in [set(&k, &["B"], PLAIN), unset(&k, &["A"])] {
        r.invalid("app/dovetail.yaml:1:1: error: `dovetail.yaml` leads outside the repo")
            .invalid("no file was changed");
    }
    // A link to nothing is not "no dovetail.yaml", which would name no pull secret.
    fs::remove_file(&app).unwrap();
    std::os::unix::fs::symlink("nothing.yaml", &app).unwrap();
    for r in [set(&k, &["B"], PLAIN), unset(&k, &["A"])] {
        r.invalid("app/dovetail.yaml:1:1: error: `app/dovetail.yaml` is a link to nothing")
            .invalid("no file was changed");
    }
    fs::remove_file(&app).unwrap();
    fs::create_dir(&app).unwrap();
    unset(&k, &["A"]).invalid("error: `dovetail.yaml` is not a regular file");
    assert_eq!(k.s.read("app/secrets.yaml"), before);
}

/// Regression: with the operator repo at hand and `recipients: []` in platform.yaml, a
/// `--recipient` of the customer's own made a value that no render on the platform
/// could open.
#[test]
fn set_refuses_a_platform_without_recipients_even_with_a_key_of_ones_own() {
    let k = setup();
    k.s.edit(
        "operator/platform.yaml",
        &format!("recipients: [{}]", k.recipient),
        "recipients: []",
    );
    let own = common::age_keygen(&k.s.path("own.txt"));
    for extra in [&[][..], &["--recipient", own.as_str()][..]] {
        let mut args = vec!["A"];
        args.extend_from_slice(extra);
        set(&k, &args, PLAIN)
            .invalid(
                "operator/platform.yaml:5:",
            )
            .invalid(
                ": error: recipients: lists no recipients, so no render on the platform could open a value set now",
            )
            .invalid("a --recipient of your own is added to them, never used alone")
            .invalid("error: 1 problem in the inputs; no file was changed");
    }
    assert!(!k.s.path("app/secrets.yaml").exists());
}

/// A secrets file saved with `\r\n` line breaks keeps them when a value is set.
#[test]
fn set_keeps_a_files_crlf_line_breaks() {
    let k = setup();
    set(&k, &["A"], PLAIN);
    let crlf = k.s.read("app/secrets.yaml").replace('\n', "\r\n");
    k.s.write("app/secrets.yaml", &crlf);
    let r = set(&k, &["B"], PLAIN);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = k.s.read("app/secrets.yaml");
    assert!(text.starts_with(&crlf), "{text:?}");
    assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
    with_identity(&k, &[]).ok();
}

/// Regression: a value pasted where the key belongs was printed back: by clap as an
/// unknown flag (`set -----BEGIN…`), as "`…` is not a secret name", and by `unset` as
/// "`…` is not a key". A key that is no secret name, or none of the file's and no typo
/// of one, is named by its place; nothing is written.
#[test]
fn a_value_given_as_the_key_is_never_printed_back() {
    let k = setup();
    let (text, _) = three_values(&k);
    let long = format!("ghp_{}", "Z".repeat(140));
    let cases: [(&[&str], &str); 7] = [
        (
            &["-----BEGIN-hunter2"],
            "the key given is not a secret name: it holds a character other than letters",
        ),
        (
            &["--hunter2"],
            "the key given is not a secret name: it holds a character other than letters",
        ),
        (
            &["A", "--hunter2"],
            "secrets set takes the value on stdin, not as an argument (what was given is not shown)",
        ),
        (
            &["hunter2!pass"],
            "the key given is not a secret name: it holds a character other than letters, digits and '_' (it is not shown)",
        ),
        (
            &["2hunter2"],
            "the key given is not a secret name: it starts with a digit",
        ),
        (
            &["X=hunter2"],
            "the key given is not a secret name: it holds `=`",
        ),
        (
            &[long.as_str()],
            "the key given is not a secret name: it is longer than 128 characters",
        ),
    ];
    for (args, expected) in cases {
        let r = set(&k, args, PLAIN);
        r.fails(Some(2), expected);
        assert!(!r.stderr.contains("hunter2"), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("ZZZZ"), "{args:?}: {}", r.stderr);
        no_plaintext(&r);
        assert_eq!(k.s.read("app/secrets.yaml"), text, "{args:?}");
    }
    // `-hunter2` was read as `-h` and printed help, exit 0.
    set(&k, &["-hunter2"], PLAIN).fails(
        Some(2),
        "the key given is not a secret name: it holds a character other than letters",
    );
    // `-hunter2` read as `-h` printed help, exit 0.
    for args in [
        &["-----BEGIN-hunter2"][..],
        &["API_TOKEN", "--hunter2"],
        &["-hunter2"],
    ] {
        unset(&k, args).fails(Some(2), "it may be a secret value");
    }
    for args in [
        &["help", "secrets", "set", "hunter2"][..],
        &["man", "secrets", "set", "hunter2"],
        &["secrets", "set", "A", "--app", "app", "--app", "hunter2"],
    ] {
        let r = dovetail(args, k.s.dir.path());
        r.fails(Some(2), "not shown");
        assert!(!r.stderr.contains("hunter2"), "{args:?}: {}", r.stderr);
    }
    let r = unset(&k, &["API_TOKEN", "hunter2pass", "hunter2!"]);
    r.fails(
        Some(2),
        "error: key 2 of the 3 given is not a key of `app/secrets.yaml`; it holds `SECRET_KEY`, `API_TOKEN`, `REGISTRY_AUTH`\n\
         error: key 3 of the 3 given is not a secret name: it holds a character other than letters, digits and '_' (it is not shown)",
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    assert_eq!(k.s.read("app/secrets.yaml"), text);
}

/// Regression: `printf %s "$VALUE" | dovetail secrets set KEY` with VALUE unset set an
/// empty secret, which deployed and failed at the app's first login.
#[test]
fn set_refuses_an_empty_value() {
    let k = setup();
    for value in ["", "\n", "\r\n"] {
        set(&k, &["SECRET_KEY"], value).fails(Some(2), "error: the value on stdin is empty; ");
        assert!(!k.s.path("app/secrets.yaml").exists());
    }
}

/// Regression: with a terminal for stdin, `set` waited for the value to be typed in plain
/// sight, where it stayed in the scrollback. It is refused before anything is read: the
/// test gives it a terminal that never sends a byte, so a `set` that reads would wait
/// until `timeout` kills it (exit 124).
#[test]
fn set_refuses_a_terminal_for_stdin() {
    let k = setup();
    let script = "import os, pty, sys\n\
        pid, fd = pty.fork()\n\
        if pid == 0:\n    os.execvp(sys.argv[1], sys.argv[1:])\n\
        out = b''\n\
        while True:\n    try:\n        chunk = os.read(fd, 4096)\n    except OSError:\n        break\n    if not chunk:\n        break\n    out += chunk\n\
        _, status = os.waitpid(pid, 0)\n\
        sys.stdout.write(out.decode())\n\
        sys.exit(os.waitstatus_to_exitcode(status))\n";
    let out = Command::new("timeout")
        .args([
            "20",
            "python3",
            "-c",
            script,
            env!("CARGO_BIN_EXE_dovetail"),
        ])
        .args([
            "secrets",
            "set",
            "SECRET_KEY",
            "--app",
            "app",
            "--operator",
            "operator",
        ])
        .current_dir(k.s.dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains(
            "error: secrets set reads the value from stdin, and stdin is a terminal; read it unseen"
        ),
        "{printed}"
    );
    assert!(!k.s.path("app/secrets.yaml").exists());
}

/// Regression: `set` stopped at dovetail.yaml's first problem, and the operator learnt of
/// platform.yaml's only on the next run. Every problem of both is reported at once.
#[test]
fn set_reports_dovetail_yaml_and_platform_problems_at_once() {
    let k = setup();
    k.s.edit("app/dovetail.yaml", "secrets: secrets.yaml", "secrets: 42");
    k.s.edit(
        "operator/platform.yaml",
        &format!("recipients: [{}]", k.recipient),
        &format!("recipients: [age1bad, {}]", k.recipient),
    );
    let r = set(&k, &["A"], PLAIN);
    r.invalid("app/dovetail.yaml:")
        .invalid(": error: secrets: expected a string, found a number `42`")
        .invalid("operator/platform.yaml:")
        .invalid(": error: recipients[0]: `age1bad` is not an age x25519 recipient")
        .invalid("error: 2 problems in the inputs; no file was changed");
    no_plaintext(&r);
    assert!(!k.s.path("app/secrets.yaml").exists());
    assert!(!k.s.path("app/42").exists());
}

/// Regression: stdin was read up to the cap and a line end, and a value that went on
/// after a line end at the cap was set cut short there, without a word. A value of
/// exactly the cap, with or without its line end, is set whole.
#[test]
fn a_value_over_the_cap_is_refused_not_cut_short() {
    let k = setup();
    let cap = dovetail::crypto::MAX_VALUE_BYTES;
    let at_cap = "A".repeat(cap);
    for value in [
        format!("{at_cap}\r\nTAIL"),
        format!("{at_cap}\nTAIL"),
        format!("{at_cap}B"),
    ] {
        set(&k, &["BIG"], &value).fails(Some(2), "error: the value is larger than 8192 bytes");
        assert!(!k.s.path("app/secrets.yaml").exists());
    }
    for value in [at_cap.clone(), format!("{at_cap}\r\n")] {
        let r = set(&k, &["BIG"], &value);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(decrypted(&k, "BIG"), at_cap.as_bytes());
}
