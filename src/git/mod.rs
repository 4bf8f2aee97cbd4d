//! Git sources: a repo named by URL and revision, fetched into a local cache of bare
//! repositories and read straight from the object database (see [`crate::input::tree::GitTree`]).
//!
//! Fetches run in a helper process, `dovetail-fetch` (see [`helper`]), the only binary
//! that links git2 (libgit2 and OpenSSL, [`fetch`]); reads, including the checks of what
//! the cache holds, use [`crate::git::odb`] in the process that renders.
//!
//! The cache holds one bare repository per URL under `DOVETAIL_CACHE_DIR`. A full commit
//! id already there is used without any network; a branch or tag is fetched at most once
//! per TTL. Each repository has a lock file: renders that only read share it, a fetch or a
//! rebuild takes it alone, so a render never reads a repository that is being replaced.
//! Anything the cache cannot vouch for (a repository that cannot be opened, a commit the
//! state file names but the object database lacks, an object that fails its hash) is
//! treated as corrupt: the repository is deleted and fetched again, never rendered from.

#[cfg(feature = "fetch")]
pub mod fetch;
pub mod helper;
pub mod known_hosts;
pub mod odb;
pub mod worktree;

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gix_hash::ObjectId;
use serde::{Deserialize, Serialize};

use odb::{Objects, ReadFailure};

/// How long a fetched branch or tag is trusted before it is fetched again, unless
/// `DOVETAIL_FETCH_TTL` says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// How long a connection to a git server may take before it counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a render waits for another process's fetch of the same repository; below
/// ArgoCD's 60 s plugin deadline, so that the message ArgoCD shows is ours.
pub const LOCK_WAIT: Duration = Duration::from_secs(45);

/// How many times a credential is offered to a server that keeps refusing it: libgit2
/// asks again after each refusal and would loop forever.
pub const MAX_AUTH_ATTEMPTS: u32 = 2;

impl GitSpec {
    /// Reads `URL` or `URL#REF`, where `s` is a URL: anything with a scheme (`https://`,
    /// `ssh://`, `git://`, `http://`, `file://`) or the scp-like `user@host:path`.
    /// `Ok(None)` for anything else, which names a directory.
    pub fn parse(s: &str) -> Result<Option<GitSpec>, LocationError> {
        let scp_like = s.split_once(':').is_some_and(|(before, _)| {
            before.contains('@') && !before.contains('/') && !before.starts_with('.')
        });
        if !s.contains("://") && !scp_like {
            return Ok(None);
        }
        let (url, rev) = match s.rsplit_once('#') {
            Some((url, rev)) => (url, Some(rev)),
            None => (s, None),
        };
        let endpoint = Endpoint::parse(url).ok_or_else(|| LocationError::BadUrl(s.to_owned()))?;
        if endpoint.password {
            return Err(LocationError::PasswordInUrl);
        }
        if endpoint.user && matches!(endpoint.scheme, Scheme::Https | Scheme::Http) {
            // GitHub and GitLab take a token as the user name alone.
            return Err(LocationError::UserInUrl);
        }
        let rev = match rev {
            None => Rev::Default,
            Some(r) => Rev::parse(r)?,
        };
        Ok(Some(GitSpec {
            url: url.to_owned(),
            rev,
        }))
    }
}

/// A `--app` or `--operator` value that is not a usable location.
#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    /// Not a URL we can fetch from.
    #[error(
        "`{0}` is not a git URL dovetail can fetch (https://, ssh://, git://, http://, file:// or user@host:path)"
    )]
    BadUrl(String),
    /// A password or token inside the URL would show in every message and process list.
    #[error(
        "the URL carries a password; put the token in a file and set DOVETAIL_HTTPS_TOKEN_FILE instead"
    )]
    PasswordInUrl,
    /// A user name in an https URL may be a token, and would show as one.
    #[error(
        "the https URL carries a user name, which may be a token and would show in every message; set DOVETAIL_HTTPS_USER, and the token's file in DOVETAIL_HTTPS_TOKEN_FILE, instead"
    )]
    UserInUrl,
    /// `#REF` is neither a ref name nor a full commit id.
    #[error(
        "`#{0}` is not a branch, a tag or a full 40-character commit id (abbreviated ids are not accepted)"
    )]
    BadRev(String),
}

/// A git repository and the revision wanted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSpec {
    /// The URL as given, without `#REF`.
    pub url: String,
    /// Which revision.
    pub rev: Rev,
}

/// A revision of a git repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rev {
    /// The remote's default branch (its `HEAD`).
    Default,
    /// A branch or tag name.
    Named(String),
    /// A full commit id, lowercase hex.
    Commit(String),
}

impl Rev {
    /// How messages name it: the branch, tag or commit id, or `HEAD` for the default
    /// branch.
    pub fn shown(&self) -> &str {
        match self {
            Rev::Named(r) | Rev::Commit(r) => r,
            Rev::Default => "HEAD",
        }
    }

    /// A branch, tag or full commit id.
    pub fn parse(r: &str) -> Result<Rev, LocationError> {
        if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Rev::Commit(r.to_ascii_lowercase()))
        } else if revision(r) {
            Ok(Rev::Named(r.to_owned()))
        } else {
            Err(LocationError::BadRev(r.to_owned()))
        }
    }
}

impl fmt::Display for GitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rev {
            Rev::Default => write!(f, "{}", self.url),
            Rev::Named(r) | Rev::Commit(r) => write!(f, "{}#{r}", self.url),
        }
    }
}

/// Whether `r` can name a revision: a ref name git would accept (`git check-ref-format
/// --branch`, roughly), which a full commit id also is.
#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "git's own rule: a ref may not end in `.lock`, spelled so"
)]
pub fn revision(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && !r.starts_with(['-', '/', '.'])
        && !r.ends_with(['/', '.'])
        && !r.ends_with(".lock")
        && !r.contains("..")
        && !r.contains("@{")
        && !r.contains("//")
        && r.bytes()
            .all(|b| b > b' ' && b != 0x7f && !b"~^:?*[\\".contains(&b))
}

/// The transport of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "fetch"),
    allow(dead_code, reason = "only fetching tells them apart")
)]
enum Scheme {
    Https,
    Http,
    Ssh,
    Git,
    File,
}

/// Where a URL connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "fetch"),
    allow(dead_code, reason = "only fetching connects")
)]
struct Endpoint {
    scheme: Scheme,
    host: String,
    port: u16,
    /// Whether the URL has `user:password@`.
    password: bool,
    /// Whether the URL has `user@` (with or without a password).
    user: bool,
}

impl Endpoint {
    fn parse(url: &str) -> Option<Endpoint> {
        let Some((scheme, rest)) = url.split_once("://") else {
            // user@host:path
            let (authority, path) = url.split_once(':')?;
            let (_, host) = authority.rsplit_once('@')?;
            if host.is_empty() || path.is_empty() {
                return None;
            }
            return Some(Endpoint {
                scheme: Scheme::Ssh,
                host: host.to_owned(),
                port: 22,
                password: false,
                user: true,
            });
        };
        let (scheme, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "https" => (Scheme::Https, 443),
            "http" => (Scheme::Http, 80),
            "ssh" | "git+ssh" => (Scheme::Ssh, 22),
            "git" => (Scheme::Git, 9418),
            "file" => {
                return Some(Endpoint {
                    scheme: Scheme::File,
                    host: String::new(),
                    port: 0,
                    password: false,
                    user: false,
                });
            }
            _ => return None,
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().ok().filter(|&p| p != 0)?,
            None => default_port,
        };
        if host.is_empty() || !rest.contains('/') {
            return None;
        }
        Some(Endpoint {
            scheme,
            host: host.to_owned(),
            port,
            password: userinfo.is_some_and(|u| u.contains(':')),
            user: userinfo.is_some(),
        })
    }
}

/// Cache and credentials, from the environment of whoever runs dovetail (for ArgoCD, the
/// sidecar's own, which no Application can change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitSettings {
    /// `DOVETAIL_CACHE_DIR`, else `$XDG_CACHE_HOME/dovetail`, else `~/.cache/dovetail`.
    pub cache_dir: PathBuf,
    /// `DOVETAIL_FETCH_TTL`: seconds (`60`, `60s`, `5m`); `0` fetches every time.
    pub ttl: Duration,
    /// `DOVETAIL_SSH_KEY`: private key file for ssh URLs.
    pub ssh_key: Option<PathBuf>,
    /// `DOVETAIL_SSH_KNOWN_HOSTS`: the host keys ssh servers are checked against.
    pub known_hosts: Option<PathBuf>,
    /// `DOVETAIL_HTTPS_TOKEN_FILE`: a token sent as the password over https.
    pub https_token: Option<PathBuf>,
    /// `DOVETAIL_HTTPS_USER`: the user name sent with the token.
    pub https_user: String,
    /// Whether an HTTP(S) proxy is set (`HTTPS_PROXY` and friends): then the proxy, not
    /// the git server, is what a connection reaches first.
    pub proxied: bool,
}

/// A setting in the environment that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct SettingsError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong with it.
    pub message: String,
    /// What to do about it.
    pub hint: &'static str,
}

impl GitSettings {
    /// Reads the settings through `get`, which looks a variable up.
    pub fn from_vars(get: impl Fn(&str) -> Option<OsString>) -> Result<GitSettings, SettingsError> {
        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        let cache_dir = match nonempty("DOVETAIL_CACHE_DIR") {
            Some(d) => PathBuf::from(d),
            None => match (nonempty("XDG_CACHE_HOME"), nonempty("HOME")) {
                (Some(x), _) => PathBuf::from(x).join("dovetail"),
                (None, Some(h)) => PathBuf::from(h).join(".cache/dovetail"),
                (None, None) => {
                    return Err(SettingsError {
                        var: "DOVETAIL_CACHE_DIR",
                        message: "not set, and neither XDG_CACHE_HOME nor HOME is, to put the cache under".to_owned(),
                        hint: "set DOVETAIL_CACHE_DIR to a writable directory",
                    });
                }
            },
        };
        let ttl = match nonempty("DOVETAIL_FETCH_TTL") {
            None => DEFAULT_TTL,
            Some(v) => {
                let v = v.to_string_lossy().into_owned();
                parse_duration(&v).ok_or_else(|| SettingsError {
                    var: "DOVETAIL_FETCH_TTL",
                    message: format!("`{v}` is not a duration like 60, 60s or 5m"),
                    hint: "fix the variable, or unset it for the default",
                })?
            }
        };
        // The fetch helper gets these paths as JSON text (see `helper`).
        let text = |var: &'static str, path: PathBuf| {
            if path.to_str().is_some() {
                Ok(path)
            } else {
                Err(SettingsError {
                    var,
                    message: format!("`{}` is not valid UTF-8", path.display()),
                    hint: "use a path that is",
                })
            }
        };
        let file = |var: &'static str| nonempty(var).map(|v| text(var, v.into())).transpose();
        Ok(GitSettings {
            cache_dir: text("DOVETAIL_CACHE_DIR", cache_dir)?,
            ttl,
            ssh_key: file("DOVETAIL_SSH_KEY")?,
            known_hosts: file("DOVETAIL_SSH_KNOWN_HOSTS")?,
            https_token: file("DOVETAIL_HTTPS_TOKEN_FILE")?,
            https_user: nonempty("DOVETAIL_HTTPS_USER").map_or_else(
                || "x-access-token".to_owned(),
                |u| u.to_string_lossy().into_owned(),
            ),
            proxied: [
                "HTTPS_PROXY",
                "https_proxy",
                "HTTP_PROXY",
                "http_proxy",
                "ALL_PROXY",
                "all_proxy",
            ]
            .iter()
            .any(|k| nonempty(k).is_some()),
        })
    }
}

/// `60`, `60s`, `5m`, `1h`.
fn parse_duration(s: &str) -> Option<Duration> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Why a git source could not be used. Each names the URL and what to do. Serialized
/// when the `dovetail-fetch` helper hands it to the process that reports it.
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GitError {
    /// No connection to the server.
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The repo.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server refused every credential offered, or none was configured.
    #[error("{url}: authentication failed: {message}")]
    Auth {
        /// The repo.
        url: String,
        /// What was tried and what to do.
        message: String,
    },
    /// The ssh server's host key is not the one `known_hosts` lists.
    #[error("{url}: host key check failed: {message}")]
    HostKey {
        /// The repo.
        url: String,
        /// Why.
        message: String,
    },
    /// The https server's certificate did not verify.
    #[error("{url}: TLS with the server failed ({message})")]
    Certificate {
        /// The repo.
        url: String,
        /// What OpenSSL said.
        message: String,
    },
    /// No such branch or tag.
    #[error("{url}: no branch or tag `{rev}`{known}")]
    UnknownRef {
        /// The repo.
        url: String,
        /// The name asked for.
        rev: String,
        /// Some names that do exist.
        known: String,
    },
    /// A commit id that no branch or tag of the repo contains.
    #[error("{url}: commit {rev} is not in the repo (not on any branch or tag)")]
    UnknownCommit {
        /// The repo.
        url: String,
        /// The commit id.
        rev: String,
    },
    /// A branch or tag that names a tree or a blob, not a commit (`git tag t HEAD^{tree}`).
    #[error("{url}: `{rev}` names a {object}, not a commit")]
    NotACommit {
        /// The repo.
        url: String,
        /// The branch or tag.
        rev: String,
        /// What it names: `tree`, `blob`.
        object: String,
    },
    /// A commit or directory of the repo is larger than dovetail reads.
    #[error("{url}: {message}")]
    TooLarge {
        /// The repo.
        url: String,
        /// Which object, its size and the limit.
        message: String,
    },
    /// The cache could not be trusted, even after rebuilding it.
    #[error("the cache of {url} is corrupt: {message}")]
    Corrupt {
        /// The repo.
        url: String,
        /// What libgit2 said.
        message: String,
    },
    /// Another process held the repository's cache too long.
    #[error("the cache of {url} stayed locked for {waited}s by another dovetail process")]
    Locked {
        /// The repo.
        url: String,
        /// How long we waited, in seconds.
        waited: u64,
    },
    /// The cache directory itself is unusable.
    #[error("cache directory {path}: {message}")]
    CacheDir {
        /// The directory.
        path: String,
        /// What failed.
        message: String,
    },
    /// The app path inside the repo is not a directory at that commit. Reported at the
    /// allocation's `path` when one gave it ([`GitError::place`]).
    #[error("{url}: `{path}` is not a directory at commit {commit}")]
    NoSuchPath {
        /// The repo.
        url: String,
        /// The path inside it.
        path: String,
        /// The commit.
        commit: String,
        /// Where the allocation gives the path (its file, and the value's place there),
        /// when it does.
        allocation: Option<(String, crate::input::yaml::Pos)>,
    },
    /// Any other failure of the fetch.
    #[error("{url}: fetch failed: {message}")]
    Fetch {
        /// The repo.
        url: String,
        /// What libgit2 said.
        message: String,
    },
    /// The `dovetail-fetch` helper could not be run, or did not answer.
    #[error("the fetch helper {path}: {message}")]
    Helper {
        /// Where it was looked for.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Where an input gives what failed, for an error that is that input's problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    /// The file, as messages name it.
    pub file: &'a str,
    /// The value's place in it.
    pub pos: crate::input::yaml::Pos,
    /// The field there.
    pub field: &'static str,
    /// The problem's code, as a diagnostic there would carry.
    pub code: crate::diag::Code,
}

impl GitError {
    /// Where an input gives what failed: an allocation's `path` the customer repo lacks
    /// is a problem of the allocation, at its `path:`.
    pub fn place(&self) -> Option<Place<'_>> {
        match self {
            GitError::NoSuchPath {
                allocation: Some((file, pos)),
                ..
            } => Some(Place {
                file,
                pos: *pos,
                field: "path",
                code: crate::diag::Code::AppPathMissing,
            }),
            _ => None,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            GitError::Unreachable { .. } => "check the URL, the network and that the server is up",
            GitError::Auth { .. } => {
                "check DOVETAIL_SSH_KEY, or DOVETAIL_HTTPS_TOKEN_FILE and DOVETAIL_HTTPS_USER"
            }
            GitError::HostKey { .. } => {
                "add the server's key to the file DOVETAIL_SSH_KNOWN_HOSTS names (ssh-keyscan prints it)"
            }
            GitError::Certificate { .. } => {
                "if the server's certificate comes from a private CA, point SSL_CERT_FILE at that CA's certificate"
            }
            GitError::UnknownRef { .. } => "check the branch or tag name",
            GitError::UnknownCommit { .. } => "check the id, or whether it was force-pushed away",
            GitError::NotACommit { .. } => "name a branch, a tag of a commit, or a commit id",
            GitError::TooLarge { .. } => {
                "a commit message or a directory listing this large is not read; use another commit, and keep the app's directories small"
            }
            GitError::Corrupt { .. } => "it is rebuilt on the next run",
            GitError::Locked { .. } => "is a fetch stuck? try again",
            GitError::CacheDir { .. } => "set DOVETAIL_CACHE_DIR to a writable directory",
            GitError::NoSuchPath {
                allocation: Some(_),
                ..
            } => {
                "set the allocation's `path` to the app's directory in the customer repo (where its dovetail.yaml is), or check the revision"
            }
            GitError::NoSuchPath {
                allocation: None, ..
            } => "check the path and the revision",
            GitError::Helper { .. } => {
                "install dovetail-fetch beside dovetail: both come from the same build"
            }
            GitError::Fetch { .. } => return None,
        })
    }
}

/// How the commit of a checkout was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Freshness {
    /// A full commit id found in the cache: no network.
    Pinned,
    /// A branch or tag fetched this long ago, within the TTL: no network.
    Cached(Duration),
    /// Fetched now.
    Fetched,
}

/// A commit of a cached repository, ready to read. Holds the repository's lock, so the
/// cache entry stays as it is while this lives.
pub struct Checkout {
    /// The object database of the cached bare repository.
    pub objects: Objects,
    /// The commit resolved from the revision.
    pub commit: ObjectId,
    /// The commit's root tree.
    pub tree: ObjectId,
    /// What was asked for.
    pub spec: GitSpec,
    /// How the commit was found.
    pub freshness: Freshness,
    /// Why the cache entry was rebuilt on the way, if it was.
    pub rebuilt: Option<String>,
    /// The cache entry's lock, held while the checkout is read; `None` for a local work
    /// tree's repository.
    lock: Option<fs::File>,
}

impl fmt::Debug for Checkout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkout")
            .field("spec", &self.spec)
            .field("commit", &self.commit)
            .field("freshness", &self.freshness)
            .finish_non_exhaustive()
    }
}

impl Checkout {
    /// One line for stderr: which commit of which repo, and how it was found.
    pub fn describe(&self) -> String {
        let rev = match &self.spec.rev {
            Rev::Default => "default branch".to_owned(),
            Rev::Named(n) => n.clone(),
            Rev::Commit(_) => "pinned".to_owned(),
        };
        if self.lock.is_none() {
            return format!(
                "{} at {} = commit {} (local repository)",
                self.spec.url, rev, self.commit
            );
        }
        let how = match self.freshness {
            Freshness::Pinned => "from cache, no fetch".to_owned(),
            Freshness::Cached(age) => format!("from cache, fetched {}s ago", age.as_secs()),
            Freshness::Fetched => "fetched now".to_owned(),
        };
        format!(
            "{} ({rev}) at commit {} ({how})",
            self.spec.url, self.commit
        )
    }
}

/// The cache of bare repositories.
#[derive(Debug, Clone)]
pub struct Cache {
    settings: GitSettings,
}

/// A commit found in the cache, with what reads it.
struct Found {
    objects: Objects,
    commit: ObjectId,
    tree: ObjectId,
    freshness: Freshness,
}

impl Found {
    fn into_checkout(self, spec: &GitSpec, lock: fs::File, rebuilt: Option<String>) -> Checkout {
        Checkout {
            objects: self.objects,
            commit: self.commit,
            tree: self.tree,
            spec: spec.clone(),
            freshness: self.freshness,
            rebuilt,
            lock: Some(lock),
        }
    }
}

/// What the cache holds for a spec before any network.
#[cfg_attr(
    not(feature = "fetch"),
    allow(dead_code, reason = "why it is corrupt is the fetch's to report")
)]
enum Local {
    /// Usable as it is.
    Ready(Box<Found>),
    /// The repository is fine but the revision needs a fetch.
    Stale,
    /// No repository yet.
    Missing,
    /// The repository cannot be trusted.
    Corrupt(String),
    /// The repository is sound but what the spec names cannot be used: no fetch would
    /// change that.
    Refused(GitError),
}

impl Cache {
    /// A cache with these settings; nothing is touched until [`Cache::open`].
    pub fn new(settings: GitSettings) -> Cache {
        Cache { settings }
    }

    /// The directory of the bare repository for `url`: a hash of the URL, for uniqueness,
    /// and its last path segment, for people looking at the cache.
    fn repo_dir(&self, url: &str) -> PathBuf {
        let hash = crate::digest::sha256_hex(&[url.as_bytes()]);
        let tail: String = url
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .unwrap_or_default()
            .trim_end_matches(".git")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(40)
            .collect();
        self.settings
            .cache_dir
            .join("repos")
            .join(format!("{}-{tail}.git", &hash[..16]))
    }

    fn lock(&self, url: &str) -> Result<(fs::File, PathBuf), GitError> {
        let dir = self.repo_dir(url);
        let parent = dir.parent().unwrap_or(&self.settings.cache_dir);
        let cache_err = |e: std::io::Error| GitError::CacheDir {
            path: self.settings.cache_dir.display().to_string(),
            message: e.to_string(),
        };
        {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(cache_err)?;
        }
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.with_extension("lock"))
            .map_err(cache_err)?;
        Ok((lock, dir))
    }

    /// The commit `spec` names, from the cache when it can vouch for it, else fetched by
    /// the `dovetail-fetch` helper (see [`helper`]). `progress` hears about network work
    /// before it starts.
    pub fn open(
        &self,
        spec: &GitSpec,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Checkout, GitError> {
        let (lock, dir) = self.lock(&spec.url)?;
        lock_within(&lock, false, &spec.url)?;
        match self.local(spec, &dir) {
            Local::Ready(found) => return Ok(found.into_checkout(spec, lock, None)),
            Local::Refused(e) => return Err(e),
            Local::Stale | Local::Missing | Local::Corrupt(_) => {}
        }
        // The helper takes the lock alone (flock has no atomic upgrade anyway, and the
        // helper looks again once it holds it); what it fetched is read back under ours,
        // as every render reads it.
        let mut fetch_and_read = || -> Result<(Fetched, Result<Found, GitError>), GitError> {
            lock.unlock().map_err(|e| GitError::CacheDir {
                path: self.settings.cache_dir.display().to_string(),
                message: format!("cannot unlock: {e}"),
            })?;
            let fetched = helper::fetch(&self.settings, spec, progress)?;
            lock_within(&lock, false, &spec.url)?;
            let found = verified(&dir, &spec.url, fetched.commit);
            Ok((fetched, found))
        };
        // Another process may have purged or rebuilt the repository between the helper's
        // exit and our lock: then fetch once more.
        let (mut fetched, mut found) = fetch_and_read()?;
        if found.is_err() {
            (fetched, found) = fetch_and_read()?;
        }
        let mut found = found?;
        found.freshness = fetched.freshness;
        Ok(found.into_checkout(spec, lock, fetched.rebuilt))
    }

    /// Deletes the cached repository of `url`, waiting for readers to finish.
    pub fn purge(&self, url: &str) -> Result<(), GitError> {
        let (lock, dir) = self.lock(url)?;
        lock_within(&lock, true, url)?;
        remove(&dir).map_err(|e| GitError::CacheDir {
            path: dir.display().to_string(),
            message: format!("cannot remove: {e}"),
        })
    }

    fn local(&self, spec: &GitSpec, dir: &Path) -> Local {
        if !dir.exists() {
            return Local::Missing;
        }
        let objects = match Objects::open(dir) {
            Ok(objects) => objects,
            Err(e) => return Local::Corrupt(e),
        };
        let (oid, freshness) = match &spec.rev {
            Rev::Commit(hex) => match odb::parse_id(hex) {
                Some(oid) => (oid, Freshness::Pinned),
                None => return Local::Corrupt(format!("`{hex}` is not a commit id")),
            },
            rev => {
                let key = state_key(rev).unwrap_or_default();
                let Some((oid, at)) = State::read(dir).get(&key) else {
                    return Local::Stale;
                };
                let age = now_secs().saturating_sub(at);
                if at > now_secs() || Duration::from_secs(age) >= self.settings.ttl {
                    return Local::Stale;
                }
                (oid, Freshness::Cached(Duration::from_secs(age)))
            }
        };
        let pinned = freshness == Freshness::Pinned;
        match objects.commit_tree(&oid) {
            Ok(Some(tree)) => Local::Ready(Box::new(Found {
                objects,
                commit: oid,
                tree,
                freshness,
            })),
            // A pinned commit we never fetched: fetch it.
            Ok(None) if pinned => Local::Stale,
            // The state file vouches for a commit the object database cannot give.
            Ok(None) => Local::Corrupt(format!("commit {oid} is missing")),
            // A sound object the id names, of another kind: the id is wrong, and a
            // rebuilt cache would hold the same object (anyone who knows an id of the
            // repo's tags, trees or blobs could otherwise wipe the cache at will).
            Err(ReadFailure::WrongKind { found, .. }) if pinned => {
                Local::Refused(GitError::NotACommit {
                    url: spec.url.clone(),
                    rev: spec.rev.shown().to_owned(),
                    object: found.to_string(),
                })
            }
            Err(e @ ReadFailure::TooLarge { .. }) => Local::Refused(object_failure(&spec.url, e)),
            Err(e) => Local::Corrupt(e.to_string()),
        }
    }
}

/// What the helper's fetch found: the commit, how, and why the cache was rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// The commit the revision names.
    #[serde(with = "hex_id")]
    pub commit: ObjectId,
    /// Fetched now, or found in the cache after all (another process fetched it).
    pub freshness: Freshness,
    /// Why the cache was rebuilt on the way, if it was.
    pub rebuilt: Option<String>,
}

/// A local directory's repository at a revision, as the helper resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The repository's git directory (a linked work tree's own).
    pub git_dir: PathBuf,
    /// The directory holding its objects (the main repository's, for a linked work tree).
    pub common_dir: PathBuf,
    /// The directory's path inside the work tree.
    pub inside: String,
    /// The commit the revision names.
    #[serde(with = "hex_id")]
    pub commit: ObjectId,
}

/// Object ids as the 40 hex digits git prints.
mod hex_id {
    use gix_hash::ObjectId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &ObjectId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectId, D::Error> {
        let hex = String::deserialize(d)?;
        super::odb::parse_id(&hex)
            .ok_or_else(|| serde::de::Error::custom(format!("`{hex}` is not an object id")))
    }
}

/// `dir` (inside a local git work tree) at revision `rev`, as [`resolve_revision`]
/// resolved it: the checkout of its repository's commit, and `dir`'s path inside the
/// repository.
pub fn open_local(
    dir: &Path,
    rev: &str,
    resolved: &Resolved,
) -> Result<(Checkout, String), GitError> {
    let shown = dir.display().to_string();
    let fail = |message: String| GitError::Fetch {
        url: shown.clone(),
        message,
    };
    let objects = Objects::open(&resolved.git_dir)
        .or_else(|_| Objects::open(&resolved.common_dir))
        .map_err(fail)?;
    let commit = resolved.commit;
    let tree = objects
        .commit_tree(&commit)
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail(format!("commit {commit} is missing")))?;
    Ok((
        Checkout {
            objects,
            commit,
            tree,
            spec: GitSpec {
                url: shown.clone(),
                rev: Rev::Named(rev.to_owned()),
            },
            freshness: Freshness::Pinned,
            rebuilt: None,
            lock: None,
        },
        resolved.inside.clone(),
    ))
}

/// `rev` in the repository of the git work tree `dir` is in, resolved by the helper
/// (git's revision syntax is libgit2's to read); `None` when `dir` is in no work tree or
/// its repository does not know `rev`. Outside any work tree the answer is `None` without
/// asking the helper; a helper that cannot be run is an error, not a `None`.
pub fn resolve_revision(dir: &Path, rev: &str) -> Result<Option<Resolved>, GitError> {
    if worktree::discover(dir).is_none() {
        return Ok(None);
    }
    match helper::resolve(dir, rev) {
        Ok(resolved) => Ok(Some(resolved)),
        Err(e @ GitError::Helper { .. }) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Takes the lock of a cached repository, waiting at most [`LOCK_WAIT`]: a fetch stuck on
/// a silent server must not hang every render behind it.
fn lock_within(lock: &fs::File, exclusive: bool, url: &str) -> Result<(), GitError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let tried = if exclusive {
            lock.try_lock()
        } else {
            lock.try_lock_shared()
        };
        match tried {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(GitError::Locked {
                    url: url.to_owned(),
                    waited: LOCK_WAIT.as_secs(),
                });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(GitError::CacheDir {
                    path: url.to_owned(),
                    message: format!("cannot lock its cache: {e}"),
                });
            }
        }
    }
}

/// The fetched commit, read back through [`crate::git::odb`] as every render will read it.
fn verified(dir: &Path, url: &str, commit: ObjectId) -> Result<Found, GitError> {
    let corrupt = |message: String| GitError::Corrupt {
        url: url.to_owned(),
        message,
    };
    let objects = Objects::open(dir).map_err(corrupt)?;
    match objects.commit_tree(&commit) {
        Ok(Some(tree)) => Ok(Found {
            objects,
            commit,
            tree,
            freshness: Freshness::Fetched,
        }),
        Ok(None) => Err(corrupt(format!(
            "commit {commit} is missing after the fetch"
        ))),
        Err(e) => Err(object_failure(url, e)),
    }
}

/// What a commit or tree of the repo at `url` that could not be read means: one over
/// [`odb::MAX_META_BYTES`] is the repo's content, refused as such rather than taken for
/// a corrupt cache (which would be rebuilt, and fetched again, on every run); anything
/// else is the cache's corruption.
pub(crate) fn object_failure(url: &str, failure: ReadFailure) -> GitError {
    match failure {
        ReadFailure::TooLarge { .. } => GitError::TooLarge {
            url: url.to_owned(),
            message: failure.to_string(),
        },
        other => GitError::Corrupt {
            url: url.to_owned(),
            message: other.to_string(),
        },
    }
}

fn read_capped(path: &Path, cap: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    fs::File::open(path)?.take(cap).read_to_string(&mut text)?;
    Ok(text)
}

fn remove(dir: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The state file's key for a revision that moves; pinned commits need none.
fn state_key(rev: &Rev) -> Option<String> {
    match rev {
        Rev::Default => Some("HEAD".to_owned()),
        Rev::Named(n) => Some(format!("ref {n}")),
        Rev::Commit(_) => None,
    }
}

/// When each moving revision was last fetched and what it pointed at: one line per
/// revision, `<commit> <unix seconds> <key>`. A line that does not read is as good as
/// absent, which only costs a fetch.
#[derive(Debug, Default)]
struct State {
    entries: Vec<(String, ObjectId, u64)>,
}

const STATE_FILE: &str = "dovetail-fetched";

impl State {
    fn read(dir: &Path) -> State {
        let text = read_capped(&dir.join(STATE_FILE), 1024 * 1024).unwrap_or_default();
        let entries = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                let oid = odb::parse_id(parts.next()?)?;
                let at = parts.next()?.parse().ok()?;
                Some((parts.next()?.to_owned(), oid, at))
            })
            .collect();
        State { entries }
    }

    fn get(&self, key: &str) -> Option<(ObjectId, u64)> {
        self.entries
            .iter()
            .find(|(k, ..)| k == key)
            .map(|&(_, oid, at)| (oid, at))
    }

    #[cfg_attr(
        not(feature = "fetch"),
        allow(dead_code, reason = "only a fetch records one")
    )]
    fn set(&mut self, key: &str, oid: ObjectId, at: u64) {
        self.entries.retain(|(k, ..)| k != key);
        self.entries.push((key.to_owned(), oid, at));
    }

    /// Written beside and renamed over, so a reader sees the old state or the new.
    #[cfg_attr(
        not(feature = "fetch"),
        allow(dead_code, reason = "only a fetch records one")
    )]
    fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{STATE_FILE}.tmp-{}", std::process::id()));
        let mut f = fs::File::create(&tmp)?;
        for (key, oid, at) in &self.entries {
            writeln!(f, "{oid} {at} {key}")?;
        }
        f.sync_all()?;
        fs::rename(&tmp, dir.join(STATE_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_directories() {
        assert_eq!(GitSpec::parse("examples/django/app").unwrap(), None);
        assert_eq!(GitSpec::parse("./a:b").unwrap(), None);
        let spec = GitSpec::parse("https://git.example.com/acme/shop.git#main")
            .unwrap()
            .unwrap();
        assert_eq!(spec.url, "https://git.example.com/acme/shop.git");
        assert_eq!(spec.rev, Rev::Named("main".into()));
        let spec = GitSpec::parse(&format!(
            "git@git.example.com:acme/shop.git#{}",
            "A".repeat(40)
        ))
        .unwrap()
        .unwrap();
        assert_eq!(spec.rev, Rev::Commit("a".repeat(40)));
        assert!(matches!(
            GitSpec::parse("https://user:hunter2@git.example.com/x.git"),
            Err(LocationError::PasswordInUrl)
        ));
        assert!(matches!(
            GitSpec::parse("https://ghp_s3cret@github.com/acme/x.git"),
            Err(LocationError::UserInUrl)
        ));
        // ssh URLs name their user; that is no secret.
        assert!(GitSpec::parse("ssh://git@git.example.com/x.git").is_ok());
        assert!(matches!(
            GitSpec::parse("https://git.example.com/x.git#a..b"),
            Err(LocationError::BadRev(_))
        ));
        assert!(matches!(
            GitSpec::parse("gopher://git.example.com/x.git"),
            Err(LocationError::BadUrl(_))
        ));
    }

    #[test]
    fn endpoints_carry_default_ports() {
        let e = Endpoint::parse("ssh://git@[::1]:2222/repo.git").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 2222));
        let e = Endpoint::parse("git@github.com:acme/repo.git").unwrap();
        assert_eq!((e.scheme, e.port), (Scheme::Ssh, 22));
        let e = Endpoint::parse("git://127.0.0.1/repo").unwrap();
        assert_eq!(e.port, 9418);
        assert!(Endpoint::parse("https://host:0/x").is_none());
    }

    #[test]
    fn ttl_and_cache_dir_come_from_the_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let s = GitSettings::from_vars(vars(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/home/u/.cache/dovetail"));
        assert_eq!(s.ttl, DEFAULT_TTL);
        let s = GitSettings::from_vars(vars(&[
            ("DOVETAIL_CACHE_DIR", "/c"),
            ("DOVETAIL_FETCH_TTL", "5m"),
        ]))
        .unwrap();
        assert_eq!(
            (s.cache_dir, s.ttl),
            ("/c".into(), Duration::from_secs(300))
        );
        assert!(
            GitSettings::from_vars(vars(&[("HOME", "/h"), ("DOVETAIL_FETCH_TTL", "soon")]))
                .is_err()
        );
        // Regression: with nowhere to put the cache, the message said to set the variable
        // and the hint to unset it for the default, which does not exist.
        let e = GitSettings::from_vars(vars(&[])).unwrap_err();
        assert_eq!(
            (e.to_string().as_str(), e.hint),
            (
                "DOVETAIL_CACHE_DIR: not set, and neither XDG_CACHE_HOME nor HOME is, to put the cache under",
                "set DOVETAIL_CACHE_DIR to a writable directory"
            )
        );
        let latin1 = |k: &str| {
            use std::os::unix::ffi::OsStringExt;
            match k {
                "HOME" => Some(OsString::from("/h")),
                "DOVETAIL_SSH_KEY" => Some(OsString::from_vec(b"/keys/cl\xe9".to_vec())),
                _ => None,
            }
        };
        let e = GitSettings::from_vars(latin1).unwrap_err();
        assert_eq!(e.var, "DOVETAIL_SSH_KEY");
        assert!(e.message.contains("not valid UTF-8"), "{e}");
    }

    #[test]
    fn state_survives_a_round_trip_and_ignores_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::default();
        let oid = odb::parse_id(&"ab".repeat(20)).unwrap();
        s.set("ref main", oid, 42);
        s.write(dir.path()).unwrap();
        assert_eq!(State::read(dir.path()).get("ref main"), Some((oid, 42)));
        fs::write(dir.path().join(STATE_FILE), "garbage\n\0\0").unwrap();
        assert_eq!(State::read(dir.path()).get("ref main"), None);
    }
}
