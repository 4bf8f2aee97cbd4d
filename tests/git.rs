//! Git sources against a real `git daemon` on 127.0.0.1: fetching, the cache and its TTL,
//! pinned commits without a network, unknown refs, unreachable hosts, force-pushes, a
//! corrupt cache, and the same file rules as directories. Over ssh, against a real `sshd`
//! on 127.0.0.1: host keys checked against `known_hosts`, and a refused key tried a
//! bounded number of times.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{GitDaemon, Run, copy_dir, dovetail_env, free_port, git, root, wait_for_port};

/// A `git daemon` serving the repos under a scratch directory, and a cache directory.
struct Server {
    base: tempfile::TempDir,
    cache: tempfile::TempDir,
    daemon: GitDaemon,
}

impl Server {
    /// Serves `app` and `operator` repos holding the Django example, one commit each.
    fn with_example() -> Server {
        let base = tempfile::tempdir().unwrap();
        for repo in ["app", "operator"] {
            common::commit_copy(
                &root().join("examples/django").join(repo),
                &base.path().join(repo),
            );
        }
        let daemon = GitDaemon::start(base.path());
        Server {
            base,
            cache: tempfile::tempdir().unwrap(),
            daemon,
        }
    }

    fn stop(&mut self) {
        self.daemon.stop();
    }

    fn url(&self, repo: &str) -> String {
        self.daemon.url(repo)
    }

    fn repo(&self, repo: &str) -> PathBuf {
        self.base.path().join(repo)
    }

    fn head(&self, repo: &str) -> String {
        git(&self.repo(repo), &["rev-parse", "HEAD"])
    }

    /// Replaces `from` by `to` in `file` of `repo` and commits.
    fn commit_edit(&self, repo: &str, file: &str, from: &str, to: &str) -> String {
        let path = self.repo(repo).join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` not in {file}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
        git(&self.repo(repo), &["commit", "-q", "-am", "edit"]);
        self.head(repo)
    }

    /// `dovetail render` of `app` and `operator` (each `URL` plus `suffix`), with a TTL.
    fn render(&self, app_rev: &str, operator_rev: &str, ttl: &str) -> Run {
        let app = format!("{}{app_rev}", self.url("app"));
        let operator = format!("{}{operator_rev}", self.url("operator"));
        dovetail_env(
            &["render", "--app", &app, "--operator", &operator],
            self.base.path(),
            &[
                ("DOVETAIL_CACHE_DIR", self.cache.path().to_str().unwrap()),
                ("DOVETAIL_FETCH_TTL", ttl),
            ],
        )
    }

    /// The cached bare repos, one per URL.
    fn cached_repos(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(self.cache.path().join("repos"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "git"))
            .collect();
        v.sort();
        v
    }
}

/// The example rendered from its directories.
fn from_directories() -> String {
    common::render_example("django").stdout
}

fn failed(r: &Run, expected: &str) {
    r.fails(Some(2), expected);
}

#[test]
fn first_clone_renders_what_the_directories_render_and_names_the_commits() {
    let server = Server::with_example();
    let r = server.render("", "#main", "60");
    r.ok();
    assert_eq!(r.stdout, from_directories());
    for repo in ["app", "operator"] {
        let head = server.head(repo);
        assert!(
            r.stderr
                .contains(&format!("at commit {head} (fetched now)")),
            "{}",
            r.stderr
        );
        assert!(
            !r.stdout.contains(&head),
            "revisions stay out of the objects"
        );
        assert!(!r.stdout.contains(&head[..12]));
    }
    assert_eq!(server.cached_repos().len(), 2);
    // No checkout: a bare repository and nothing of the app's files beside it.
    for repo in server.cached_repos() {
        assert!(repo.join("objects").is_dir());
        assert!(!repo.join("dovetail.yaml").exists());
        assert!(!repo.join("platform.yaml").exists());
    }
}

#[test]
fn a_new_commit_is_picked_up_only_after_the_ttl() {
    let server = Server::with_example();
    let first = server.render("#main", "", "1");
    first.ok();
    let new = server.commit_edit(
        "operator",
        "tenants/acme/shop.yaml",
        "replicas: 2",
        "replicas: 3",
    );

    let cached = server.render("#main", "", "1h");
    cached.ok();
    assert_eq!(
        cached.stdout, first.stdout,
        "within the TTL the cache is used"
    );
    assert!(
        cached.stderr.contains("from cache, fetched"),
        "{}",
        cached.stderr
    );

    std::thread::sleep(Duration::from_millis(1100));
    let after = server.render("#main", "", "1");
    after.ok();
    assert!(
        after
            .stderr
            .contains(&format!("at commit {new} (fetched now)")),
        "{}",
        after.stderr
    );
    assert_ne!(after.stdout, first.stdout);
    assert!(after.stdout.contains("replicas: 3"));
}

#[test]
fn a_pinned_commit_renders_from_the_cache_with_the_daemon_stopped() {
    let mut server = Server::with_example();
    let app = format!("#{}", server.head("app"));
    let operator = format!("#{}", server.head("operator"));
    let first = server.render(&app, &operator, "0");
    first.ok();
    server.stop();

    let again = server.render(&app, &operator, "0");
    again.ok();
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(
        again.stderr.matches("(from cache, no fetch)").count(),
        2,
        "{}",
        again.stderr
    );
    assert!(!again.stderr.contains("fetching"), "{}", again.stderr);

    // A branch whose TTL ran out needs the server, and says so.
    let branch = server.render("#main", &operator, "0");
    failed(&branch, "cannot reach git://127.0.0.1:");
}

#[test]
fn an_unknown_ref_or_commit_is_refused_with_what_exists() {
    let server = Server::with_example();
    let r = server.render("#no-such-branch", "", "60");
    failed(&r, "no branch or tag `no-such-branch`; it has main");
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let r = server.render(&format!("#{missing}"), "", "60");
    failed(&r, &format!("commit {missing} is not in the repo"));
    let r = server.render("#abc1234", "", "60");
    failed(&r, "no branch or tag `abc1234`");
    assert!(r.stderr.contains("give all 40 characters"), "{}", r.stderr);
}

/// Regression: an allocation `path` that is not a directory of the customer repo was
/// reported without saying where the path is written or what to do, then as a run
/// error (exit 2) starting `error: tenants/…`, which no problem matcher reads.
#[test]
fn an_app_path_missing_from_the_customer_repo_names_the_allocations_path() {
    let server = Server::with_example();
    server.commit_edit(
        "operator",
        "tenants/acme/shop.yaml",
        "namespace: acme-shop",
        "namespace: acme-shop\npath: deploy/shop",
    );
    let r = server.render("", "", "60");
    // A problem of the allocation (exit 1), in the form problem matchers read.
    let line = "tenants/acme/shop.yaml:7:7: error: path: git://";
    r.fails(Some(1), line);
    assert!(
        r.stderr.lines().any(|l| l.starts_with(line)),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("`deploy/shop` is not a directory at commit")
            && r.stderr.contains(
                "set the allocation's `path` to the app's directory in the customer repo"
            ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[DT511]"), "{}", r.stderr);
    // `validate` reports it as one more problem, in every format: a CI workflow's
    // annotations and a JSON report include it (they printed it as text on stderr).
    let validate = |format: &str| {
        dovetail_env(
            &[
                "validate",
                "--app",
                &server.url("app"),
                "--operator",
                &server.url("operator"),
                "--format",
                format,
            ],
            server.base.path(),
            &[("DOVETAIL_CACHE_DIR", server.cache.path().to_str().unwrap())],
        )
    };
    let r = validate("github");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "::error file=tenants/acme/shop.yaml,line=7,col=7,title=DT511 path::git://"
        ),
        "{}",
        r.stdout
    );
    let r = validate("json");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(report.to_string().contains("\"DT511\""), "{report:#}");
    let r = validate("text");
    r.fails(Some(1), line);
    assert!(
        r.stderr.contains("error: 1 problem in the inputs"),
        "{}",
        r.stderr
    );
}

/// A tag (plain or annotated) of a tree is the repo's content, not a corrupt cache: it
/// is refused as such, once, without rebuilding the cache over and over.
#[test]
fn a_ref_of_a_tree_is_refused_as_not_a_commit_not_as_a_corrupt_cache() {
    let server = Server::with_example();
    let app = server.repo("app");
    let tree = git(&app, &["rev-parse", "HEAD^{tree}"]);
    git(&app, &["tag", "plain-tree", tree.trim()]);
    git(
        &app,
        &["tag", "-a", "-m", "a tree", "annotated-tree", tree.trim()],
    );
    for tag in ["plain-tree", "annotated-tree"] {
        let r = server.render(&format!("#{tag}"), "", "60");
        failed(&r, &format!("`{tag}` names a tree, not a commit"));
        assert!(!r.stderr.contains("corrupt"), "{}", r.stderr);
        assert_eq!(
            r.stderr.matches("app: fetching").count(),
            1,
            "fetched once, not rebuilt: {}",
            r.stderr
        );
    }
}

/// A pinned id of a tag, tree or blob is the asker's mistake: refused as not a commit,
/// from the cache and from the server alike, and never taken for a corrupt cache. (It
/// was: any customer who knew an id of the operator repo's tags could wipe its shared
/// cache on every render, and leave it empty while the server was down.)
#[test]
fn a_pinned_id_of_a_tag_or_blob_is_refused_without_wiping_the_cache() {
    let mut server = Server::with_example();
    let operator = server.repo("operator");
    git(&operator, &["tag", "-a", "-m", "a release", "v1"]);
    let tag = git(&operator, &["rev-parse", "v1"]);
    let blob = git(&operator, &["rev-parse", "HEAD:platform.yaml"]);
    let head = format!("#{}", server.head("operator"));
    server.render("", &head, "60").ok();
    let cached = server.cached_repos();
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(p).unwrap());
    let before: Vec<u64> = cached.iter().map(|p| inode(p)).collect();

    // A tag made after the cache was filled: its id is looked for on the server.
    git(&operator, &["tag", "-a", "-m", "another release", "v2"]);
    let fresh_tag = git(&operator, &["rev-parse", "v2"]);
    for (id, kind) in [
        (tag.trim(), "tag"),
        (blob.trim(), "blob"),
        (fresh_tag.trim(), "tag"),
    ] {
        let r = server.render("", &format!("#{id}"), "60");
        failed(&r, &format!("`{id}` names a {kind}, not a commit"));
        assert!(!r.stderr.contains("corrupt"), "{}", r.stderr);
    }
    assert_eq!(server.cached_repos(), cached);
    let after: Vec<u64> = cached.iter().map(|p| inode(p)).collect();
    assert_eq!(after, before, "the cache was rebuilt");

    // With the server down, what was pinned before still renders.
    server.stop();
    server.render("", &head, "60").ok();
}

/// A commit or directory over the size dovetail reads is refused as such, every run the
/// same, not reported as a corrupt cache and rebuilt (fetched again) each time.
#[test]
fn a_commit_too_large_to_read_is_refused_as_such_not_as_corruption() {
    let server = Server::with_example();
    let app = server.repo("app");
    let message = server.base.path().join("message");
    fs::write(&message, "x".repeat(5 * 1024 * 1024)).unwrap();
    git(
        &app,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-F",
            message.to_str().unwrap(),
        ],
    );
    let commit = server.head("app");
    for _ in 0..2 {
        let r = server.render("#main", "", "0");
        failed(&r, "over the 4194304-byte limit");
        assert!(
            r.stderr.contains(&format!("commit {}", commit.trim())),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("corrupt"), "{}", r.stderr);
        assert_eq!(r.stderr.matches("app: fetching").count(), 1, "{}", r.stderr);
    }
}

/// The id of the tree `git mktree` makes in `repo` from `listing` (as `ls-tree` prints).
fn mktree(repo: &Path, listing: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .arg("mktree")
        .current_dir(repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(listing.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A directory whose git tree is over the read limit (here `config/`, 120,000 entries
/// beside the config file the app mounts) is refused as such, at the file read through
/// it, not taken for a corrupt cache.
#[test]
fn a_directory_too_large_to_read_is_refused_as_such_not_as_corruption() {
    let server = Server::with_example();
    let app = server.repo("app");
    let blob = git(&app, &["rev-parse", "HEAD:config/logging.ini"]);
    let mut listing = format!("100644 blob {}\tlogging.ini\n", blob.trim());
    for i in 0..120_000 {
        listing.push_str(&format!("100644 blob {}\tf{i:010}\n", blob.trim()));
    }
    let big = mktree(&app, &listing);
    let mut root = String::new();
    for line in git(&app, &["ls-tree", "HEAD"]).lines() {
        if line.ends_with("\tconfig") {
            root.push_str(&format!("040000 tree {big}\tconfig\n"));
        } else {
            root.push_str(line);
            root.push('\n');
        }
    }
    let tree = mktree(&app, &root);
    let commit = git(
        &app,
        &["commit-tree", tree.trim(), "-p", "HEAD", "-m", "big"],
    );
    git(&app, &["branch", "big", commit.trim()]);

    for _ in 0..2 {
        let r = server.render("#big", "", "0");
        r.invalid("files[0].path: `config/logging.ini` is reached through a directory that lists too many entries");
        assert!(!r.stderr.contains("corrupt"), "{}", r.stderr);
    }
}

/// A branch the cache mirrored and the server has since deleted does not block a later
/// fetch of a branch named under it (`wip` then `wip/x`: refs are files), pinned or by
/// name. The first such render failed as "cannot reach".
#[test]
fn a_branch_deleted_on_the_server_does_not_block_later_fetches() {
    let server = Server::with_example();
    let operator = server.repo("operator");
    git(&operator, &["branch", "wip"]);
    server
        .render("", &format!("#{}", server.head("operator")), "0")
        .ok();
    server.render("", "#wip", "0").ok();
    git(&operator, &["branch", "-D", "wip"]);
    git(&operator, &["branch", "wip/x"]);
    let head = server.commit_edit(
        "operator",
        "tenants/acme/shop.yaml",
        "web: {replicas: 2",
        "web: {replicas: 3",
    );
    // By name first (the named fetch clears its own way), then pinned (which mirrors
    // every branch, and clears them all).
    server.render("", "#wip/x", "0").ok();
    git(&operator, &["branch", "-D", "wip/x"]);
    git(&operator, &["branch", "wip"]);
    let pinned = server.render("", &format!("#{}", head.trim()), "0");
    pinned.ok();
    assert!(pinned.stdout.contains("replicas: 3"));
}

#[test]
fn an_unreachable_host_exits_2_with_a_clear_message() {
    let cache = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("git://127.0.0.1:{port}/operator");
    let r = dovetail_env(
        &["render", "--app", "examples/django/app", "--operator", &url],
        &root(),
        &[("DOVETAIL_CACHE_DIR", cache.path().to_str().unwrap())],
    );
    failed(&r, &format!("cannot reach {url}: 127.0.0.1:{port}"));
    assert!(
        r.stderr
            .contains("check the URL, the network and that the server is up")
    );
    assert_eq!(r.stderr.matches("error:").count(), 1, "{}", r.stderr);
}

#[test]
fn a_force_pushed_branch_is_followed_and_old_pins_still_render() {
    let server = Server::with_example();
    let old = server.commit_edit("app", "dovetail.yaml", "/healthz", "/old-health");
    let before = server.render("#main", "", "0");
    before.ok();
    assert!(before.stdout.contains("/old-health"));

    // Rewrite main: drop the last commit and put a different one in its place.
    let repo = server.repo("app");
    git(&repo, &["reset", "-q", "--hard", "HEAD~1"]);
    let new = server.commit_edit("app", "dovetail.yaml", "/healthz", "/new-health");
    assert_ne!(old, new);

    let after = server.render("#main", "", "0");
    after.ok();
    assert!(after.stdout.contains("/new-health"));
    assert!(!after.stdout.contains("/old-health"));
    assert!(
        after.stderr.contains(&format!("at commit {new}")),
        "{}",
        after.stderr
    );

    // The commit that was force-pushed away is still in the cache.
    let pinned = server.render(&format!("#{old}"), "", "0");
    pinned.ok();
    assert!(pinned.stdout.contains("/old-health"));
}

#[test]
fn a_corrupt_cache_is_rebuilt_and_never_rendered_from() {
    let mut server = Server::with_example();
    let expected = server.render("", "", "1h").ok().stdout.clone();

    // Damage every object the operator repo's cache holds.
    let operator_cache = server
        .cached_repos()
        .into_iter()
        .find(|p| p.to_str().unwrap().ends_with("-operator.git"))
        .unwrap();
    let mut damaged = 0;
    for dir in ["objects/pack"] {
        for entry in fs::read_dir(operator_cache.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pack") {
                let mut bytes = fs::read(&path).unwrap();
                for b in bytes.iter_mut().skip(12) {
                    *b ^= 0x5a;
                }
                fs::write(&path, bytes).unwrap();
                damaged += 1;
            }
        }
    }
    assert!(damaged > 0);

    let r = server.render("", "", "1h");
    r.ok();
    assert_eq!(r.stdout, expected);
    assert!(r.stderr.contains("is corrupt"), "{}", r.stderr);
    assert!(r.stderr.contains("rebuilding it"), "{}", r.stderr);

    // A repository that libgit2 and gitoxide cannot even open.
    fs::remove_file(operator_cache.join("HEAD")).unwrap();
    let r = server.render("", "", "1h");
    r.ok();
    assert_eq!(r.stdout, expected);
    assert!(r.stderr.contains("is corrupt"), "{}", r.stderr);

    // Corrupt, and no server to rebuild from: an error, nothing rendered.
    let pinned = format!("#{}", server.head("operator"));
    fs::remove_file(operator_cache.join("HEAD")).unwrap();
    server.stop();
    let r = server.render("", &pinned, "1h");
    failed(&r, "cannot reach");
    assert!(r.stderr.contains("is corrupt"), "{}", r.stderr);
}

#[test]
fn concurrent_renders_share_one_cache() {
    let server = Server::with_example();
    let expected = from_directories();
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..6)
            .map(|_| s.spawn(|| server.render("", "#main", "0")))
            .collect();
        for run in runs {
            let r = run.join().unwrap();
            r.ok();
            assert_eq!(r.stdout, expected);
        }
    });
    assert_eq!(server.cached_repos().len(), 2);
}

#[test]
fn the_customer_repo_is_read_at_the_allocations_path() {
    let server = Server::with_example();
    let repo = server.repo("app");
    fs::create_dir(repo.join("deploy")).unwrap();
    git(&repo, &["mv", "dovetail.yaml", "config", "deploy/"]);
    git(&repo, &["commit", "-q", "-m", "move into deploy/"]);
    let without = server.render("", "", "0");
    assert_eq!(without.code, 1, "{}", without.stderr);
    assert!(
        without.stderr.contains("`dovetail.yaml` does not exist"),
        "{}",
        without.stderr
    );

    server.commit_edit(
        "operator",
        "tenants/acme/shop.yaml",
        "namespace: acme-shop",
        "path: deploy\nnamespace: acme-shop",
    );
    let r = server.render("", "", "0");
    r.ok();
    assert_eq!(r.stdout, from_directories());

    // Problems are named by their path inside the repo.
    server.commit_edit("app", "deploy/dovetail.yaml", "/healthz", "healthz");
    let r = server.render("", "", "0");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("deploy/dovetail.yaml:"), "{}", r.stderr);
}

#[test]
fn git_trees_keep_the_directory_rules() {
    let server = Server::with_example();
    let repo = server.repo("app");
    let point_files_at = |path: &str| {
        server.commit_edit(
            "app",
            "dovetail.yaml",
            "path: config/logging.ini",
            &format!("path: {path}"),
        );
    };

    // A committed symlink that leads out of the repo.
    std::os::unix::fs::symlink("../../../../../../etc/passwd", repo.join("config/passwd")).unwrap();
    git(&repo, &["add", "config/passwd"]);
    point_files_at("config/passwd");
    let r = server.render("", "", "0");
    common_invalid(&r, "`config/passwd` leads outside the repo");

    // A link that stays inside is followed.
    std::os::unix::fs::symlink("logging.ini", repo.join("config/inner")).unwrap();
    git(&repo, &["add", "config/inner"]);
    server.commit_edit(
        "app",
        "dovetail.yaml",
        "path: config/passwd",
        "path: config/inner",
    );
    server.render("", "", "0").ok();

    // A submodule (its directory is there, unpopulated, as git leaves it).
    fs::create_dir(repo.join("config/sub")).unwrap();
    let head = server.head("app");
    git(
        &repo,
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{head},config/sub"),
        ],
    );
    server.commit_edit(
        "app",
        "dovetail.yaml",
        "path: config/inner",
        "path: config/sub",
    );
    let r = server.render("", "", "0");
    common_invalid(
        &r,
        "`config/sub` is in a git submodule or another repository inside this one; dovetail does not follow submodules",
    );

    // A blob over the size cap is refused from its header.
    fs::write(repo.join("config/big.ini"), vec![b'x'; 300 * 1024]).unwrap();
    git(&repo, &["add", "config/big.ini"]);
    server.commit_edit(
        "app",
        "dovetail.yaml",
        "path: config/sub",
        "path: config/big.ini",
    );
    let r = server.render("", "", "0");
    common_invalid(&r, "`config/big.ini` is 307200 bytes, over the");
}

fn common_invalid(r: &Run, expected: &str) {
    r.invalid(expected);
    assert!(r.stderr.contains("dovetail.yaml:"), "{}", r.stderr);
}

#[test]
fn secrets_commands_refuse_a_url_for_the_app() {
    let r = dovetail_env(
        &[
            "secrets",
            "set",
            "KEY",
            "--app",
            "git://127.0.0.1:1/app",
            "--allocation",
            "acme/shop",
            "--recipient",
            "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
        ],
        &root(),
        &[("DOVETAIL_CACHE_DIR", "/nonexistent")],
    );
    failed(&r, "--app is a URL; pass --app DIR");
}

#[test]
fn passwords_in_urls_are_refused_before_any_work() {
    let r = dovetail_env(
        &[
            "render",
            "--app",
            "examples/django/app",
            "--operator",
            "https://user:hunter2@git.example.com/ops.git",
        ],
        &root(),
        &[],
    );
    failed(&r, "the URL carries a password");
    assert!(!r.stderr.contains("hunter2"));
    // A token as the user name alone (GitHub and GitLab accept it) is refused too.
    let r = dovetail_env(
        &[
            "render",
            "--app",
            "examples/django/app",
            "--operator",
            "https://ghp_s3cret@git.example.com/ops.git",
        ],
        &root(),
        &[],
    );
    failed(
        &r,
        "the https URL carries a user name, which may be a token",
    );
    assert!(!r.stderr.contains("ghp_s3cret"), "{}", r.stderr);
}

/// An `sshd` on 127.0.0.1 that lets the current user in with one key; the test fails
/// with how to install OpenSSH's server when it is missing.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

const SSHD: &str = "/usr/sbin/sshd";

impl Sshd {
    fn start() -> Sshd {
        common::require(
            "sshd",
            PathBuf::from(SSHD),
            "install the Debian package openssh-server",
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host", "other_host", "client", "wrong_client"] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(d.join(key))
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        let port = free_port();
        fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {pid}\n\
                 MaxAuthTries 20\nLogLevel ERROR\n",
                host = d.join("host").display(),
                auth = d.join("authorized_keys").display(),
                pid = d.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        // Debian's sshd insists on its privilege separation directory.
        let _ = fs::create_dir_all("/run/sshd");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "sshd");
        Sshd { dir, port, child }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// A `known_hosts` file listing `key` (a `.pub` file) for this server.
    fn known_hosts(&self, key: &str) -> String {
        let public = fs::read_to_string(self.path(key)).unwrap();
        let mut fields = public.split_whitespace();
        let line = format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            fields.next().unwrap(),
            fields.next().unwrap()
        );
        let file = self.path(&format!("known_hosts_{key}"));
        fs::write(&file, line).unwrap();
        file
    }

    fn url(&self, repo: &Path) -> String {
        let user = Command::new("id").arg("-un").output().unwrap();
        let user = String::from_utf8(user.stdout).unwrap();
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            user.trim(),
            self.port,
            repo.display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn render_over_ssh(server: &Server, sshd: &Sshd, env: &[(&str, &str)]) -> Run {
    let operator = sshd.url(&server.repo("operator"));
    let mut all = vec![("DOVETAIL_CACHE_DIR", server.cache.path().to_str().unwrap())];
    all.extend_from_slice(env);
    dovetail_env(
        &[
            "render",
            "--app",
            "examples/django/app",
            "--operator",
            &operator,
        ],
        &root(),
        &all,
    )
}

#[test]
#[ignore = "needs sshd: install the Debian package openssh-server; CI runs ignored tests"]
fn ssh_fetches_with_a_key_and_a_checked_host_key() {
    let sshd = Sshd::start();
    let server = Server::with_example();
    let known = sshd.known_hosts("host.pub");
    let key = sshd.path("client");
    let r = render_over_ssh(
        &server,
        &sshd,
        &[
            ("DOVETAIL_SSH_KEY", &key),
            ("DOVETAIL_SSH_KNOWN_HOSTS", &known),
        ],
    );
    r.ok();
    assert_eq!(r.stdout, from_directories());
    assert!(r.stderr.contains("(fetched now)"), "{}", r.stderr);
}

#[test]
#[ignore = "needs sshd: install the Debian package openssh-server; CI runs ignored tests"]
fn ssh_host_keys_are_never_skipped() {
    let sshd = Sshd::start();
    let server = Server::with_example();
    let key = sshd.path("client");

    let r = render_over_ssh(&server, &sshd, &[("DOVETAIL_SSH_KEY", &key)]);
    failed(
        &r,
        "host key check failed: no known_hosts file to check 127.0.0.1's key against; set DOVETAIL_SSH_KNOWN_HOSTS",
    );

    let other = sshd.known_hosts("other_host.pub");
    let r = render_over_ssh(
        &server,
        &sshd,
        &[
            ("DOVETAIL_SSH_KEY", &key),
            ("DOVETAIL_SSH_KNOWN_HOSTS", &other),
        ],
    );
    failed(&r, "127.0.0.1 sent a ssh-ed25519 key that");
    assert!(r.stderr.contains("refusing to connect"), "{}", r.stderr);

    let empty = sshd.path("empty_known_hosts");
    fs::write(&empty, "").unwrap();
    let r = render_over_ssh(
        &server,
        &sshd,
        &[
            ("DOVETAIL_SSH_KEY", &key),
            ("DOVETAIL_SSH_KNOWN_HOSTS", &empty),
        ],
    );
    failed(&r, "127.0.0.1 (port");
    assert!(r.stderr.contains("is not in"), "{}", r.stderr);
}

#[test]
#[ignore = "needs sshd: install the Debian package openssh-server; CI runs ignored tests"]
fn a_refused_ssh_key_is_tried_a_bounded_number_of_times() {
    let sshd = Sshd::start();
    let server = Server::with_example();
    let known = sshd.known_hosts("host.pub");
    let wrong = sshd.path("wrong_client");
    let started = Instant::now();
    let r = render_over_ssh(
        &server,
        &sshd,
        &[
            ("DOVETAIL_SSH_KEY", &wrong),
            ("DOVETAIL_SSH_KNOWN_HOSTS", &known),
        ],
    );
    failed(
        &r,
        "authentication failed: the server refused the credential 2 times",
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    let r = render_over_ssh(&server, &sshd, &[("DOVETAIL_SSH_KNOWN_HOSTS", &known)]);
    failed(&r, "the server wants an SSH key; set DOVETAIL_SSH_KEY");
}

#[test]
fn one_repository_can_hold_both_the_operator_and_the_app() {
    // Regression: opening the app's copy of a repository the operator's render still held
    // waited on dovetail's own lock.
    let server = Server::with_example();
    let repo = server.repo("operator");
    copy_dir(&root().join("examples/django/app"), &repo.join("apps/shop"));
    git(&repo, &["add", "-A"]);
    server.commit_edit(
        "operator",
        "tenants/acme/shop.yaml",
        "namespace: acme-shop",
        "path: apps/shop\nnamespace: acme-shop",
    );
    let url = server.url("operator");
    let r = dovetail_env(
        &[
            "render",
            "--app",
            &url,
            "--operator",
            &format!("{url}#main"),
        ],
        server.base.path(),
        &[
            ("DOVETAIL_CACHE_DIR", server.cache.path().to_str().unwrap()),
            ("DOVETAIL_FETCH_TTL", "0"),
        ],
    );
    r.ok();
    assert_eq!(r.stdout, from_directories());
    assert_eq!(server.cached_repos().len(), 1);
}

/// A TLS git server on 127.0.0.1 (`tests/fixtures/git_https_server.py`) that wants a token,
/// with a self-signed certificate for 127.0.0.1 that only the tests trust.
struct Https {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

const TOKEN: &str = "s3cret-token-0123456789";

impl Https {
    fn start(root_dir: &Path) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
            ])
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::write(d.join("token"), format!("{TOKEN}\n")).unwrap();
        let mut child = Command::new("python3")
            .arg(common::root().join("tests/fixtures/git_https_server.py"))
            .arg(root_dir)
            .arg(d.join("cert.pem"))
            .arg(d.join("key.pem"))
            .arg("x-access-token")
            .arg(d.join("token"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        Https { dir, port, child }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn render_over_https(server: &Server, https: &Https, env: &[(&str, &str)]) -> Run {
    let operator = format!("https://127.0.0.1:{}/operator", https.port);
    let mut all = vec![("DOVETAIL_CACHE_DIR", server.cache.path().to_str().unwrap())];
    all.extend_from_slice(env);
    let r = dovetail_env(
        &[
            "render",
            "--app",
            "examples/django/app",
            "--operator",
            &operator,
        ],
        &root(),
        &all,
    );
    assert!(!r.stderr.contains(TOKEN), "the token leaked:\n{}", r.stderr);
    r
}

#[test]
fn https_fetches_with_a_token_over_verified_tls() {
    let server = Server::with_example();
    let https = Https::start(server.base.path());
    let cert = https.path("cert.pem");
    let token = https.path("token");
    let r = render_over_https(
        &server,
        &https,
        &[
            ("SSL_CERT_FILE", &cert),
            ("DOVETAIL_HTTPS_TOKEN_FILE", &token),
        ],
    );
    r.ok();
    assert_eq!(r.stdout, from_directories());
}

#[test]
fn https_credentials_and_certificates_fail_clearly() {
    let server = Server::with_example();
    let https = Https::start(server.base.path());
    let cert = https.path("cert.pem");
    let token = https.path("token");

    let wrong = https.path("wrong-token");
    fs::write(&wrong, "not-the-token\n").unwrap();
    let started = Instant::now();
    let r = render_over_https(
        &server,
        &https,
        &[
            ("SSL_CERT_FILE", &cert),
            ("DOVETAIL_HTTPS_TOKEN_FILE", &wrong),
        ],
    );
    failed(
        &r,
        "authentication failed: the server refused the credential 2 times",
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    let r = render_over_https(&server, &https, &[("SSL_CERT_FILE", &cert)]);
    failed(
        &r,
        "the server wants credentials; set DOVETAIL_HTTPS_TOKEN_FILE",
    );

    // The system's CAs do not know the test certificate: no connection, whatever the token.
    let r = render_over_https(&server, &https, &[("DOVETAIL_HTTPS_TOKEN_FILE", &token)]);
    failed(
        &r,
        "TLS with the server failed (the SSL certificate is invalid)",
    );
}

/// Whether the executable at `path` carries the OpenSSL built into libgit2: its version
/// text (`OpenSSL 3.x.y <date>`) is data that only linked code brings (symbol names can
/// show in debug info without the code).
fn links_libgit2(path: &Path) -> bool {
    let bytes = fs::read(path).unwrap();
    let needle = b"OpenSSL 3.";
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_render_binary_links_no_libgit2_and_the_helper_does() {
    // Loading libgit2 and its OpenSSL cost every render ~0.5 ms though a warm render never
    // fetches; only dovetail-fetch may link it.
    let dovetail = Path::new(env!("CARGO_BIN_EXE_dovetail"));
    assert!(
        !links_libgit2(dovetail),
        "{} links libgit2",
        dovetail.display()
    );
    let helper = Path::new(env!("CARGO_BIN_EXE_dovetail-fetch"));
    assert!(links_libgit2(helper), "{} lacks libgit2", helper.display());
}

#[test]
fn a_missing_fetch_helper_is_named_with_what_to_do() {
    let server = Server::with_example();
    let bin = tempfile::tempdir().unwrap();
    let lone = bin.path().join("dovetail");
    common::copy_executable(Path::new(env!("CARGO_BIN_EXE_dovetail")), &lone);
    let render = || {
        let out = Command::new(&lone)
            .args(["render", "--app", &server.url("app"), "--operator"])
            .arg(server.url("operator"))
            .current_dir(server.base.path())
            .env("DOVETAIL_CACHE_DIR", server.cache.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run::from_output(out)
    };
    let r = render();
    failed(
        &r,
        &format!(
            "the fetch helper {}",
            bin.path().join("dovetail-fetch").display()
        ),
    );
    r.fails(Some(2), "install dovetail-fetch beside dovetail");
    // With the helper beside it, the same copy fetches.
    common::copy_executable(
        Path::new(env!("CARGO_BIN_EXE_dovetail-fetch")),
        &bin.path().join("dovetail-fetch"),
    );
    let r = render();
    r.ok();
    assert_eq!(r.stdout, from_directories());
}

/// The helper's answer to `request` (one line), its stdin kept open as dovetail keeps it:
/// exit status, stdout, stderr.
fn ask_helper(request: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dovetail-fetch"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("{request}\n").as_bytes()).unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    drop(stdin);
    (child.wait().unwrap().code(), stdout, stderr)
}

#[test]
fn the_fetch_helper_refuses_anything_but_a_request_from_dovetail() {
    let helper = env!("CARGO_BIN_EXE_dovetail-fetch");
    let out = Command::new(helper)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dovetail starts it"));
    let (code, stdout, stderr) = ask_helper(r#"{"fetch": 1}"#);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("not a request from dovetail"), "{stderr}");
    // A request from another version is refused with an answer dovetail reports.
    let (code, stdout, _) = ask_helper(r#"{"version": "0.0.0-other", "work": {}}"#);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("asked by dovetail 0.0.0-other; install both from one build"),
        "{stdout}"
    );
}

/// `dovetail render` of `url` as both app and operator, started with `cache`.
fn render_from(url: &str, cache: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dovetail"))
        .args(["render", "--app", url, "--operator", url])
        .env("DOVETAIL_CACHE_DIR", cache)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_huge_error_from_a_git_server_does_not_hang_the_render() {
    // A git:// server that answers every request with an ERR packet of 65,000 `"`: the
    // helper's JSON answer (each `"` escaped) is twice the size of a pipe's buffer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut request = [0u8; 1024];
            let _ = std::io::Read::read(&mut conn, &mut request);
            let payload = format!("ERR {}", "\"".repeat(65_000));
            let packet = format!("{:04x}{payload}", payload.len() + 4);
            let _ = std::io::Write::write_all(&mut conn, packet.as_bytes());
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let url = format!("git://127.0.0.1:{port}/app");
    let mut child = render_from(&url, cache.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the render hung on the helper's answer");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let r = Run::from_output(child.wait_with_output().unwrap());
    failed(&r, &url);
}

#[test]
fn a_killed_render_leaves_no_helper_holding_the_cache_lock() {
    // A server that accepts and never answers: the helper's fetch waits on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            keep.lock().unwrap().push(conn);
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let url = format!("git://127.0.0.1:{port}/app");
    let mut child = render_from(&url, cache.path());
    // Wait for the helper's connection, then kill dovetail (not the helper).
    let deadline = Instant::now() + Duration::from_secs(20);
    while held.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the helper never connected");
        thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = fs::read_dir(cache.path().join("repos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "lock"))
        .expect("the cache entry's lock file");
    let file = fs::File::open(&lock).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while file.try_lock().is_err() {
        assert!(
            Instant::now() < deadline,
            "an orphaned helper still holds {}",
            lock.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn diff_without_the_fetch_helper_names_it() {
    let repo = tempfile::tempdir().unwrap();
    common::commit_copy(&root().join("examples/django/app"), repo.path());
    let bin = tempfile::tempdir().unwrap();
    let lone = bin.path().join("dovetail");
    common::copy_executable(Path::new(env!("CARGO_BIN_EXE_dovetail")), &lone);
    let out = Command::new(&lone)
        .args(["diff", "--app", ".", "--operator"])
        .arg(root().join("examples/django/operator"))
        .args(["--base", "HEAD"])
        .current_dir(repo.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    failed(
        &Run::from_output(out),
        &format!(
            "the fetch helper {}",
            bin.path().join("dovetail-fetch").display()
        ),
    );
}
