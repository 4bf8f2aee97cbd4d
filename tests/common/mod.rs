//! Shared harness for the tests: [`scenario`] runs the pipeline in-process over in-memory
//! repos (most cases); the rest of this module spawns the binary, on a scratch copy of an
//! example to break, and captures exit status, stdout and stderr (the cases that need a
//! real process: usage mistakes, git servers, Argo CD's environment, the external tools).

#![allow(dead_code)]

pub mod scenario;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repo root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch copy of `examples/<name>` (its `app/` and `operator/`).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn example(name: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&root().join("examples").join(name), dir.path());
        Scratch { dir }
    }

    pub fn app(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    pub fn operator(&self) -> PathBuf {
        self.dir.path().join("operator")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Replaces `from` by `to` in `rel`, failing if `from` is not there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "`{from}` not in {rel}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// Appends to `rel`.
    pub fn append(&self, rel: &str, text: &str) {
        let mut t = self.read(rel);
        t.push_str(text);
        self.write(rel, &t);
    }

    /// `dovetail <cmd> --app APP --operator OPERATOR` plus `extra`.
    pub fn run(&self, cmd: &str, extra: &[&str]) -> Run {
        let app = self.app();
        let operator = self.operator();
        let mut args = vec![
            cmd,
            "--app",
            app.to_str().unwrap(),
            "--operator",
            operator.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let mut r = dovetail(&args, self.dir.path());
        r.stdout = self.rel(&r.stdout);
        r.stderr = self.rel(&r.stderr);
        r
    }

    /// Strips the scratch dir's path from `s`, for readable expectations.
    pub fn rel(&self, s: &str) -> String {
        s.replace(&format!("{}/", self.dir.path().display()), "")
    }
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What a run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// What a finished child printed.
    pub fn from_output(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Asserts success with something on stdout.
    pub fn ok(&self) -> &Run {
        assert_eq!(self.code, 0, "stderr:\n{}", self.stderr);
        assert!(!self.stdout.is_empty());
        self
    }

    /// Asserts a failure with exit status `code` (any non-zero one when `None`),
    /// nothing on stdout, and `expected` on stderr.
    pub fn fails(&self, code: Option<i32>, expected: &str) -> &Run {
        match code {
            Some(code) => assert_eq!(self.code, code, "exit status; stderr:\n{}", self.stderr),
            None => assert_ne!(self.code, 0, "must fail; stderr:\n{}", self.stderr),
        }
        assert_eq!(self.stdout, "", "stdout must stay empty on failure");
        assert!(
            self.stderr.contains(expected),
            "stderr lacks\n  {expected}\ngot:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts success with `expected` (a warning, say) on stderr.
    pub fn warns(&self, expected: &str) -> &Run {
        assert_eq!(self.code, 0, "must succeed; stderr:\n{}", self.stderr);
        assert!(
            self.stderr.contains(expected),
            "stderr lacks\n  {expected}\ngot:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts an input error: exit 1, nothing on stdout, and `expected` on stderr.
    pub fn invalid(&self, expected: &str) -> &Run {
        self.fails(Some(1), expected)
    }

    /// [`Run::invalid`] with each of `expected`.
    pub fn invalid_all(&self, expected: &[&str]) -> &Run {
        for line in expected {
            self.invalid(line);
        }
        self
    }
}

/// Runs the binary with `args` in `cwd`, without a shell and with a clean environment.
pub fn dovetail(args: &[&str], cwd: &Path) -> Run {
    dovetail_env(args, cwd, &[])
}

/// [`dovetail`] with variables `env` set.
pub fn dovetail_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_dovetail"))
        .args(args)
        .current_dir(cwd)
        .env_remove("DOVETAIL_OPERATOR_REPO")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from_output(out)
}

/// `dovetail generate` in the operator repo `dir`, as the fleet Application runs it
/// where the sidecar names that directory as the operator repo.
pub fn generate_fleet(dir: &Path) -> Run {
    dovetail_env(
        &["generate"],
        dir,
        &[
            ("DOVETAIL_OPERATOR_REPO", dir.to_str().unwrap()),
            ("ARGOCD_APP_NAME", "dovetail-fleet"),
            ("ARGOCD_APP_NAMESPACE", "argocd"),
            (
                "ARGOCD_APP_REVISION",
                "0123456789abcdef0123456789abcdef01234567",
            ),
        ],
    )
}

/// The fleet Application's environment for [`generate_fleet_with`]: the same as
/// [`generate_fleet`], its source the operator repo's URL so that the clusters' fleet
/// Applications name it.
pub const FLEET_REPO: &str = "ssh://git@git.example.com/platform/operator.git";

/// [`generate_fleet`] with more of Argo CD's variables: the operator repo's URL
/// ([`FLEET_REPO`]), and `extra` (`PARAM_CLUSTER`, another `ARGOCD_APP_NAME`), which
/// override what they repeat.
pub fn generate_fleet_with(dir: &Path, extra: &[(&str, &str)]) -> Run {
    let mut env = vec![
        ("DOVETAIL_OPERATOR_REPO", dir.to_str().unwrap()),
        ("ARGOCD_APP_NAME", "dovetail-fleet"),
        ("ARGOCD_APP_NAMESPACE", "argocd"),
        (
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("ARGOCD_APP_SOURCE_REPO_URL", FLEET_REPO),
    ];
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend_from_slice(extra);
    dovetail_env(&["generate"], dir, &env)
}

/// The clusters [`add_clusters`] declares: two that allocations use, one that none does.
pub const CLUSTERS: [(&str, &str); 3] = [
    ("eu-2", "https://eu-2.example.net:6443"),
    ("us-1", "https://10.20.0.1:6443"),
    ("ap-3", "https://ap-3.example.net"),
];

/// Spreads the operator repo at `operator` over several clusters: declares
/// [`CLUSTERS`] in its platform.yaml and, beside its allocation `tenant/app` (which
/// stays in-cluster), allocates copies of it with namespaces `<tenant>-<copy>`:
/// `blog` and `docs` on eu-2, `api` on us-1, `wiki` on `in-cluster` by name. Returns
/// the copies' names.
pub fn add_clusters(operator: &Path, tenant: &str, app: &str) -> [&'static str; 4] {
    let platform = operator.join("platform.yaml");
    let mut text = fs::read_to_string(&platform).unwrap();
    text.push_str("clusters:\n");
    for (name, server) in CLUSTERS {
        text.push_str(&format!("  {name}: {{server: \"{server}\"}}\n"));
    }
    fs::write(&platform, text).unwrap();
    let dir = operator.join("tenants").join(tenant);
    let original = fs::read_to_string(dir.join(format!("{app}.yaml"))).unwrap();
    let copies = [
        ("blog", "eu-2"),
        ("docs", "eu-2"),
        ("api", "us-1"),
        ("wiki", "in-cluster"),
    ];
    for (copy, cluster) in copies {
        let mut text: String = original
            .lines()
            .map(|l| {
                if l.starts_with("namespace: ") {
                    format!("namespace: {tenant}-{copy}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        text.push_str(&format!("cluster: {cluster}\n"));
        fs::write(dir.join(format!("{copy}.yaml")), text).unwrap();
    }
    copies.map(|(copy, _)| copy)
}

/// The documents of a YAML stream (separated by `---` lines), parsed.
pub fn documents(stream: &str) -> Vec<serde_json::Value> {
    let mut docs = vec![String::new()];
    for line in stream.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .filter(|d| !d.trim().is_empty())
        .map(|d| dovetail::input::yaml::parse(d).unwrap().to_json())
        .collect()
}

/// [`documents`] sorted by kind and name, for comparing what two tools print whatever
/// order they print it in.
pub fn sorted_documents(stream: &str) -> Vec<serde_json::Value> {
    let mut docs = documents(stream);
    docs.sort_by_key(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]));
    docs
}

/// A new age identity written at `path` as `age-keygen` writes it (a comment with the
/// public key, then the key line), and its recipient. Made with the `age` crate, so that
/// no test needs the age CLI for a key; tests/secrets.rs checks that the stock CLI reads
/// and writes what dovetail does.
pub fn age_keygen(path: &Path) -> String {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    fs::write(
        path,
        format!(
            "# public key: {public}\n{}\n",
            id.to_string().expose_secret()
        ),
    )
    .unwrap();
    public
}

/// `plaintext` encrypted to `recipient` and armored, as `age -a -r RECIPIENT` writes it,
/// with the `age` crate (tests/secrets.rs checks that the stock CLI reads the same).
pub fn age_encrypt(plaintext: &[u8], recipient: &str) -> String {
    use std::io::Write;
    let recipient: age::x25519::Recipient = recipient.parse().unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let armor =
        age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor).unwrap();
    let mut w = encryptor.wrap_output(armor).unwrap();
    w.write_all(plaintext).unwrap();
    String::from_utf8(w.finish().unwrap().finish().unwrap()).unwrap()
}

/// The tool at `path`, when it is there; otherwise the test fails with `how` to get it.
/// A test that calls this is `#[ignore = "needs <tool>: <how>; CI runs ignored tests"]`,
/// so that it never passes without its tool: plain `cargo test` lists it as ignored, and
/// `cargo test -- --include-ignored` (what CI runs) runs it and fails here, saying what to
/// install.
pub fn require(tool: &str, path: PathBuf, how: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{tool} is not at {}: {how} (or run `bash .ci/run`, which installs every tool)",
        path.display()
    );
    path
}

/// A program `name` on PATH, or the test fails with `how` to get it (see [`require`]).
pub fn require_on_path(name: &str, how: &str) -> PathBuf {
    let found = test_var("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    require(name, found.unwrap_or_else(|| PathBuf::from(name)), how)
}

/// A variable of the test's own environment: where CI (`.ci/run`) says its tools are.
/// dovetail itself reads the environment only through `cli::Environment`.
#[allow(
    clippy::disallowed_methods,
    reason = "tests find their tools through the variables .ci/run sets"
)]
pub fn test_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// `dovetail render` of `examples/<name>` from the repo root; asserts success.
pub fn render_example(name: &str) -> Run {
    let app = format!("examples/{name}/app");
    let operator = format!("examples/{name}/operator");
    let r = dovetail(&["render", "--app", &app, "--operator", &operator], &root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

/// Copies the executable `from` to `to` in a `cp` child process. Copied by this process,
/// the file would be open for writing here while another test's thread forks a child,
/// which holds that descriptor until it execs; running the copy then fails with "Text file
/// busy" (ETXTBSY), as a CI run saw.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success(), "cp {} {}", from.display(), to.display());
}

/// Runs `cmd` with `input` on its stdin and returns what it printed.
///
/// A command that refuses its arguments may exit before it reads stdin; the write then
/// meets a closed pipe, which is that command's answer, not a failure of the test.
pub fn piped(mut cmd: Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match child.stdin.take().unwrap().write_all(input) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            panic!("writing the command's stdin: {e}")
        }
        _ => {}
    }
    child.wait_with_output().unwrap()
}

/// Runs git in `dir` with a fixed identity and none of the machine's configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Makes `dir` a git repo on branch main whose one commit holds a copy of `from`;
/// returns the commit.
pub fn commit_copy(from: &Path, dir: &Path) -> String {
    copy_dir(from, dir);
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    git(dir, &["rev-parse", "HEAD"])
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `port` of 127.0.0.1.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `git daemon` on 127.0.0.1 serving every repo under a directory.
pub struct GitDaemon {
    base: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let mut d = GitDaemon {
            base: base.to_owned(),
            port: free_port(),
            child: None,
        };
        d.restart();
        d
    }

    pub fn restart(&mut self) {
        let base = self.base.to_str().unwrap().to_owned();
        // git-daemon itself, not `git daemon`: killing the `git` wrapper would leave the
        // daemon serving.
        let exec_path = git(&self.base, &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                "--listen=127.0.0.1",
                &format!("--port={}", self.port),
                &format!("--base-path={base}"),
                &base,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon");
        self.child = Some(child);
        wait_for_port(self.port, "git daemon");
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The URL of the repo `name` under the base directory.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The recipient of the examples' platform.yaml (its identity is not in the repo).
pub const EXAMPLE_RECIPIENT: &str =
    "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

/// `dovetail secrets set KEY` with `value` on stdin for the app in `app_dir` (allocation
/// acme/shop), encrypted to `recipient`; asserts success.
pub fn secrets_set(app_dir: &Path, key: &str, value: &str, recipient: &str) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dovetail"));
    cmd.args(["secrets", "set", key, "--allocation", "acme/shop"])
        .args(["--recipient", recipient, "--app"])
        .arg(app_dir);
    let out = piped(cmd, value.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the operator repo at `operator` decrypt at render time
/// (`secrets.decryption: render`): the mode the tests of rendered Secrets need.
pub fn decrypt_at_render(operator: &Path) {
    let path = operator.join("platform.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}secrets: {{decryption: render}}\n")).unwrap();
}
