//! Writes the fixtures (`fuzz/fixtures/`) and the seed inputs of every target from the
//! repo's real files. Age encryption is randomised, so the outputs differ on each run;
//! they are made once and kept.
//!
//! ```sh
//! cargo +nightly run --manifest-path fuzz/Cargo.toml --example seeds -- fixtures
//! cargo +nightly run --manifest-path fuzz/Cargo.toml --example seeds -- seeds /tmp/seeds
//! ```
//!
//! `fixtures` rewrites fuzz/fixtures (and so changes what the `documents` target reads);
//! `seeds DIR` writes DIR/<target>/<name> for `cargo fuzz run <target> DIR/<target>`.

use std::fs;
use std::path::{Path, PathBuf};

use dovetail::crypto::{Binding, encrypt};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn identity() -> age::x25519::Identity {
    dovetail_fuzz::IDENTITY.parse().unwrap()
}

fn enc(tenant: &str, app: &str, key: &str, value: &[u8]) -> String {
    let binding = Binding { tenant, app, key };
    encrypt(value, &binding, &[identity().to_public()]).unwrap()
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

fn fixtures() {
    let dir = repo().join("fuzz/fixtures");
    fs::create_dir_all(&dir).unwrap();
    let armored = enc(
        "acme",
        "shop",
        "SECRET_KEY",
        b"correct-horse-battery-staple",
    );
    fs::write(dir.join("armored.txt"), &armored).unwrap();
    let api = enc("acme", "shop", "API_TOKEN", b"tok-123");
    fs::write(
        dir.join("secrets.yaml"),
        secrets_file(&[("SECRET_KEY", &armored), ("API_TOKEN", &api)]),
    )
    .unwrap();
}

struct Seeds {
    root: PathBuf,
}

impl Seeds {
    fn put(&self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Every YAML file of the examples and the repo's other YAML inputs, with a short name.
fn yaml_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![repo().join("examples"), repo().join("deploy")];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                let rel = p
                    .strip_prefix(repo())
                    .unwrap()
                    .to_string_lossy()
                    .replace('/', "_");
                out.push((rel, fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn seeds(root: PathBuf) {
    use dovetail_fuzz::{ARMORED, Which, base_document};
    let s = Seeds { root };
    let files = yaml_files();

    // yaml: every real YAML file, plus the shapes the reader has rules for.
    for (name, text) in &files {
        s.put("yaml", name, text);
    }
    for (name, text) in [
        (
            "anchors",
            "a: &x {k: [1, 2]}\nb: *x\nc: &s text\nd: [*s, *s]\n",
        ),
        (
            "scalars",
            "a: 0777\nb: 0x1F\nc: 0o17\nd: .inf\ne: -.Inf\nf: .nan\ng: on\nh: ~\ni: 1.5e3\nj: '1'\nk: \"\\x41\\u263a\"\nl: |\n  block\nm: >-\n  folded\n",
        ),
        (
            "tags",
            "a: !!str 1\nb: !!int 2\nc: !!map {x: 1}\nd: !!seq [1]\ne: ! x\n",
        ),
        ("flow", "{a: [1, {b: c}], d: {e: [f, g]}}\n"),
        ("multi", "a: 1\n---\nb: 2\n"),
        ("complex_key", "? [a]\n: b\n"),
        ("dup", "a: 1\nb: 2\na: 3\n"),
        ("deep", &format!("{}{}", "[".repeat(70), "]".repeat(70))),
    ] {
        s.put("yaml", name, text);
    }

    // documents: each example's app, allocation and platform in the django setup, and
    // the secrets fixture; first byte '0' app, '1' allocation, '2' platform, '3' secrets.
    let which_byte = |w: Which| match w {
        Which::App => b'0',
        Which::Allocation => b'1',
        Which::Platform => b'2',
        Which::Secrets => b'3',
    };
    for w in [
        Which::App,
        Which::Allocation,
        Which::Platform,
        Which::Secrets,
    ] {
        let mut v = vec![which_byte(w)];
        v.extend_from_slice(base_document(w).as_bytes());
        s.put("documents", &format!("base_{w:?}"), v);
    }
    for (name, text) in &files {
        let w = if name.ends_with("dovetail.yaml") {
            Which::App
        } else if name.ends_with("platform.yaml") {
            Which::Platform
        } else if name.contains("tenants_") {
            Which::Allocation
        } else {
            continue;
        };
        let mut v = vec![which_byte(w)];
        v.extend_from_slice(text.as_bytes());
        s.put("documents", name, v);
    }
    // An app with pod fragments, sidecars and every top-level field the README shows.
    let readme_app = "0apiVersion: dovetail/v1\nkind: App\nimage: registry.example.com/acme/shop:1.4.2\ninit:\n  command: [\"/init\"]\n  mode: job\n  waitFor: [postgres]\nprocesses:\n  web:\n    command: [\"/run\"]\n    port: 8000\n    health: {path: /healthz}\n    waitFor: [postgres, redis]\n    serviceType: ClusterIP\n    pod:\n      containers:\n        - name: nginx\n          image: docker.io/nginxinc/nginx-unprivileged:1.27.3\n          ports: [{containerPort: 8000, name: http}]\n          volumeMounts: [{name: dovetail-files, mountPath: /etc/nginx/conf.d/default.conf, subPath: config_logging.ini}]\n  worker:\n    command: [\"/async\"]\n    health: {command: [\"sh\", \"-c\", \"true\"]}\n  beat:\n    command: [\"celery\", \"beat\"]\n    singleton: true\nenv:\n  DJANGO_SETTINGS_MODULE: shop.settings\n  DEBUG: off\n  MODE: 0777\nfiles:\n  - {path: config/logging.ini, mount: /etc/app/logging.ini, processes: [web]}\nstatic: {mount: /app/static, processes: [web]}\nservices: [postgres, redis]\ningress: {hosts: [shop.acme.example]}\nsecrets: secrets.yaml\nimagePullSecret: API_TOKEN\npod:\n  securityContext: {fsGroup: 1000}\n  volumes: [{name: scratch, emptyDir: {sizeLimit: 1Gi}}]\n";
    s.put("documents", "readme_app", readme_app);
    let one = format!("3{}", secrets_file(&[("SECRET_KEY", ARMORED)]));
    s.put("documents", "secrets_one", one);
    let wrong = enc("acme", "shop", "OTHER", b"x");
    s.put(
        "documents",
        "secrets_wrong_binding",
        format!("3{}", secrets_file(&[("SECRET_KEY", &wrong)])),
    );

    // secrets_form: real values, right and wrong, and the forms check_form refuses.
    let id = identity();
    let right = enc("acme", "shop", "SECRET_KEY", b"value");
    s.put("secrets_form", "right", &right);
    s.put(
        "secrets_form",
        "empty_value",
        enc("acme", "shop", "SECRET_KEY", b""),
    );
    s.put(
        "secrets_form",
        "wrong_key",
        enc("acme", "shop", "OTHER", b"value"),
    );
    s.put(
        "secrets_form",
        "wrong_app",
        enc("evil", "shop", "SECRET_KEY", b"value"),
    );
    let other = age::x25519::Identity::generate();
    let binding = Binding {
        tenant: "acme",
        app: "shop",
        key: "SECRET_KEY",
    };
    s.put(
        "secrets_form",
        "two_recipients",
        encrypt(b"value", &binding, &[other.to_public(), id.to_public()]).unwrap(),
    );
    s.put(
        "secrets_form",
        "other_recipient",
        encrypt(b"value", &binding, &[other.to_public()]).unwrap(),
    );
    s.put(
        "secrets_form",
        "no_binding",
        raw_encrypt(b"just a value", &id),
    );
    s.put(
        "secrets_form",
        "scrypt",
        scrypt_encrypt(b"dovetail/v1 acme/shop SECRET_KEY\nv"),
    );
    s.put(
        "secrets_form",
        "big",
        enc("acme", "shop", "SECRET_KEY", &[b'x'; 6000]),
    );
    s.put("secrets_form", "truncated", &right[..right.len() / 2]);
    s.put("secrets_form", "garbage", "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBhYmMKZGVmCi0tLSBnaGkK\n-----END AGE ENCRYPTED FILE-----\n");

    // secrets_file_set: KEY line, then a file.
    for (name, text) in [
        (
            "replace_middle",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: |\n    old-a\n  # about B\n  SECRET_KEY: |\n    old-b\n  C: |\n    old-c\n",
        ),
        (
            "append",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: |\n    old-a\n",
        ),
        (
            "data_first",
            "data:\n  A: |\n    old\nkind: Secrets\napiVersion: dovetail/v1\n",
        ),
        (
            "empty_data",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata: {}\n",
        ),
        (
            "null_data",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n",
        ),
        (
            "no_newline",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: x",
        ),
        (
            "indent4",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n    A: |\n        old\n    SECRET_KEY: >\n        folded\n",
        ),
        (
            "comments",
            "# header\napiVersion: dovetail/v1 # c\nkind: Secrets\ndata: # d\n  A: \"quoted\"   # trailing\n\n  # between\n  SECRET_KEY: 'single'\n# footer\n",
        ),
        (
            "flow",
            "apiVersion: dovetail/v1\nkind: Secrets\ndata: {A: x, B: y}\n",
        ),
        (
            "crlf",
            "apiVersion: dovetail/v1\r\nkind: Secrets\r\ndata:\r\n  A: x\r\n",
        ),
    ] {
        s.put("secrets_file_set", name, format!("SECRET_KEY\n{text}"));
    }
    s.put(
        "secrets_file_set",
        "fixture",
        format!("SECRET_KEY\n{}", base_document(Which::Secrets)),
    );
    s.put(
        "secrets_file_set",
        "fixture_new_key",
        format!("NEW_KEY\n{}", base_document(Which::Secrets)),
    );

    // known_hosts: port byte, host line, file.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(dovetail_fuzz::HOST_KEY);
    let other_b64 = base64::engine::general_purpose::STANDARD.encode(b"another key");
    for (name, port, host, text) in [
        (
            "match",
            b'0',
            "git.example.com",
            format!("git.example.com ssh-ed25519 {b64}\n"),
        ),
        (
            "list",
            b'0',
            "git.example.com",
            format!("# c\nother.example,git.example.com,10.0.0.1 ssh-ed25519 {b64} comment\n"),
        ),
        (
            "port",
            b'1',
            "127.0.0.1",
            format!("[127.0.0.1]:2222 ssh-ed25519 {b64}\n"),
        ),
        (
            "wildcard",
            b'0',
            "git.example.com",
            format!(
                "*.example.com,!evil.example.com ssh-ed25519 {b64}\nh?st.example ssh-rsa {other_b64}\n"
            ),
        ),
        (
            "revoked",
            b'0',
            "old.example.com",
            format!(
                "@revoked old.example.com ssh-ed25519 {b64}\nold.example.com ssh-ed25519 {b64}\n"
            ),
        ),
        (
            "cert",
            b'0',
            "git.example.com",
            format!("@cert-authority *.example.com ssh-ed25519 {b64}\n"),
        ),
        (
            "hashed",
            b'0',
            "git.example.com",
            "|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA\n".to_owned(),
        ),
        (
            "mismatch",
            b'0',
            "git.example.com",
            format!(
                "git.example.com ssh-ed25519 {other_b64}\ngit.example.com ecdsa-sha2-nistp256 {b64}\n"
            ),
        ),
    ] {
        s.put(
            "known_hosts",
            name,
            format!("{}{host}\n{text}", port as char),
        );
    }
    // The known_hosts format as ssh-keyscan writes it.
    s.put(
        "known_hosts",
        "keyscan",
        "0github.com\ngithub.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\ngithub.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=\n",
    );

    // git_url: every form GitSpec::parse and normalize_repo_url know, and ArgoCD's
    // variables (NUL-separated).
    for (i, u) in [
        "https://git.example.com/acme/shop.git",
        "https://git.example.com/acme/shop.git#main",
        "https://git.example.com:443/Acme/Shop/#v1.2.3",
        "http://user@git.example.com:8080/acme/shop#0123456789abcdef0123456789abcdef01234567",
        "ssh://git@git.example.com:2222/acme/shop.git#refs/heads/main",
        "git+ssh://git@[::1]:22/repo.git",
        "git@github.com:acme/shop.git#release/1.x",
        "git://127.0.0.1/repo",
        "file:///srv/git/repo.git#main",
        "https://user:pass@git.example.com/x.git",
        "examples/django/app",
        "./a:b",
        "  HTTPS://Git.Example.COM/acme/shop.GIT/  ",
        "acme-shop\0acme-shop\0https://git.example.com/acme/shop.git\0deploy/./app/\0abc\0main",
        "argocd_acme-shop\0\0\0\0\0bad..rev",
        "/a//./b/../c/",
    ]
    .iter()
    .enumerate()
    {
        s.put("git_url", &format!("u{i:02}"), u);
    }

    // formats: strings of each format, valid and near misses.
    for (i, v) in [
        "250m", "1", "0.5", "1024", "512Mi", "1.5Gi", "2G", "999999.999Pi", "123456m",
        "1234.123", "0", "1.", ".5", "1e3", "-1", "web", "a23456789012345678bc", "_A1",
        "shop.acme.example", "*.acme.example", "config/a.ini", "/app/static", "/healthz",
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
        "registry.example.com/acme/shop:1.4.2", "localhost:5000/app:v1",
        "docker.io/library/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "refs/heads/main", "v1.2.3", "a..b", "ceph-rbd", "small", "x-metrics", "*",
    ]
    .iter()
    .enumerate()
    {
        s.put("formats", &format!("f{i:02}"), v);
    }

    // emit: every YAML file above as JSON (maps, lists, strings of every kind), and
    // strings on their own, which the target puts as a key, a value and a list item.
    for (name, text) in yaml_files() {
        if let Ok(root) = dovetail::input::yaml::parse(&text) {
            s.put("emit", &format!("j-{name}"), root.to_json().to_string());
        }
    }
    for (i, v) in [
        "on", "No", "~", "0777", "1_000", "1e3", ".inf", "-1", "2026-11-30", "12:30", "a: b",
        "x #y", "#x", "'q'", "\"q\"", " lead", "tail ", "tab\there", "é", "\u{1b}[31m", "@x",
        "--- x", "line one\nline two\n", "https://git.example.com/acme/shop.git",
        "app.kubernetes.io/managed-by", "",
    ]
    .iter()
    .enumerate()
    {
        s.put("emit", &format!("s{i:02}"), v);
    }
}

/// An armored age file whose plaintext has no binding line.
fn raw_encrypt(plain: &[u8], id: &age::x25519::Identity) -> String {
    armored(&id.to_public(), plain)
}

/// A passphrase-encrypted value (an scrypt stanza), which check_form must refuse.
fn scrypt_encrypt(plain: &[u8]) -> String {
    let mut r = age::scrypt::Recipient::new(age::secrecy::SecretString::from("pw".to_owned()));
    r.set_work_factor(2);
    armored(&r, plain)
}

/// `plain` encrypted to `recipient` alone, ASCII-armored, with nothing added to it.
fn armored(recipient: &dyn age::Recipient, plain: &[u8]) -> String {
    use std::io::Write;
    let e = age::Encryptor::with_recipients(std::iter::once(recipient)).unwrap();
    let mut out = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut w = e.wrap_output(armor).unwrap();
    w.write_all(plain).unwrap();
    w.finish().and_then(|a| a.finish()).unwrap();
    String::from_utf8(out).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fixtures") => fixtures(),
        Some("seeds") => seeds(PathBuf::from(args.get(1).expect("seeds DIR"))),
        _ => {
            eprintln!("usage: seeds fixtures | seeds DIR");
            std::process::exit(2);
        }
    }
}
