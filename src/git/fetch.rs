//! The half of the git cache that talks to servers, through git2 (libgit2, with OpenSSL
//! and libssh2): fetching into the cache and resolving a local repository's revision.
//!
//! Only the `dovetail-fetch` helper links it (see [`super::helper`]): libgit2 and the
//! OpenSSL built into it are ~8 MB of code and 30,000 relocations that the dynamic loader
//! would apply at every start of `dovetail`, ~0.9 ms of each render (3.4 against 2.5 ms),
//! though a render with a warm cache never fetches.

use std::cell::{Cell, RefCell};
use std::fs;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, ErrorClass, ErrorCode,
    FetchOptions, Oid, ProxyOptions, RemoteCallbacks, Repository,
};
use gix_hash::ObjectId;

use super::known_hosts::{self, Verdict};
use super::{
    CONNECT_TIMEOUT, Cache, Endpoint, Fetched, Freshness, GitError, GitSpec, Local,
    MAX_AUTH_ATTEMPTS, Resolved, Rev, Scheme, State, lock_within, now_secs, odb, read_capped,
    remove, state_key, verified,
};
use crate::input::formats::beneath;

/// Largest `known_hosts` file read.
const MAX_KNOWN_HOSTS_BYTES: u64 = 1024 * 1024;

/// Largest token file read.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

impl Cache {
    /// Under the repository's lock held alone: the commit `spec` names, from the cache if
    /// another process fetched it meanwhile, else fetched now (rebuilding a corrupt cache
    /// once). What the `dovetail-fetch` helper runs for [`Cache::open`].
    pub fn fetch_locked(
        &self,
        spec: &GitSpec,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Fetched, GitError> {
        let (lock, dir) = self.lock(&spec.url)?;
        lock_within(&lock, true, &spec.url)?;
        let mut rebuilt = None;
        let repo = match self.local(spec, &dir) {
            Local::Ready(found) => {
                return Ok(Fetched {
                    commit: found.commit,
                    freshness: found.freshness,
                    rebuilt: None,
                });
            }
            Local::Refused(e) => return Err(e),
            Local::Stale => Repository::open_bare(&dir).map_err(|e| GitError::Corrupt {
                url: spec.url.clone(),
                message: e.message().to_owned(),
            })?,
            Local::Missing => Self::create(&dir, &spec.url)?,
            Local::Corrupt(why) => {
                progress(&format!(
                    "the cache of {} is corrupt ({why}); rebuilding it",
                    spec.url
                ));
                rebuilt = Some(why);
                Self::recreate(&dir, &spec.url)?
            }
        };
        progress(&format!("fetching {spec}"));
        let fetched = self
            .fetch(&repo, spec)
            .and_then(|commit| verified(&dir, &spec.url, commit));
        let found = match fetched {
            Err(GitError::Corrupt { message, .. }) if rebuilt.is_none() => {
                // The objects we have confused the fetch; start from nothing once.
                progress(&format!(
                    "the cache of {} is corrupt ({message}); rebuilding it",
                    spec.url
                ));
                rebuilt = Some(message);
                drop(repo);
                let repo = Self::recreate(&dir, &spec.url)?;
                let commit = self.fetch(&repo, spec)?;
                verified(&dir, &spec.url, commit)?
            }
            other => other?,
        };
        if let Some(key) = state_key(&spec.rev) {
            let mut state = State::read(&dir);
            state.set(&key, found.commit, now_secs());
            state.write(&dir).map_err(|e| GitError::CacheDir {
                path: dir.display().to_string(),
                message: format!("cannot write the fetch state: {e}"),
            })?;
        }
        drop(lock);
        Ok(Fetched {
            commit: found.commit,
            freshness: Freshness::Fetched,
            rebuilt,
        })
    }

    /// A new empty bare repository at `dir`, made beside it and renamed into place so a
    /// crash never leaves half of one.
    fn create(dir: &Path, url: &str) -> Result<Repository, GitError> {
        let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
        let err = |e: String| GitError::CacheDir {
            path: dir.display().to_string(),
            message: e,
        };
        remove(&tmp).map_err(|e| err(e.to_string()))?;
        Repository::init_bare(&tmp).map_err(|e| err(e.message().to_owned()))?;
        fs::rename(&tmp, dir).map_err(|e| err(e.to_string()))?;
        Repository::open_bare(dir).map_err(|e| GitError::Corrupt {
            url: url.to_owned(),
            message: e.message().to_owned(),
        })
    }

    fn recreate(dir: &Path, url: &str) -> Result<Repository, GitError> {
        remove(dir).map_err(|e| GitError::CacheDir {
            path: dir.display().to_string(),
            message: format!("cannot remove the corrupt cache: {e}"),
        })?;
        Self::create(dir, url)
    }

    /// Fetches what `spec` needs into `repo` and returns its commit.
    fn fetch(&self, repo: &Repository, spec: &GitSpec) -> Result<ObjectId, GitError> {
        let url = spec.url.as_str();
        let endpoint = Endpoint::parse(url).ok_or_else(|| GitError::Fetch {
            url: url.to_owned(),
            message: "not a URL dovetail can fetch".to_owned(),
        })?;
        reachable(&endpoint, self.settings.proxied).map_err(|message| GitError::Unreachable {
            url: url.to_owned(),
            message,
        })?;
        let specs: Vec<String> = match &spec.rev {
            Rev::Default => vec!["+HEAD:refs/dovetail/HEAD".to_owned()],
            Rev::Named(n) => vec![
                format!("+refs/heads/{n}:refs/dovetail/heads/{n}"),
                format!("+refs/tags/{n}:refs/dovetail/tags/{n}"),
            ],
            Rev::Commit(_) => vec![
                "+refs/heads/*:refs/dovetail/heads/*".to_owned(),
                "+refs/tags/*:refs/dovetail/tags/*".to_owned(),
            ],
        };
        clear_in_the_way(repo, &spec.rev);
        let failure = RefCell::new(None);
        let attempts = Cell::new(0);
        let mut remote = repo.remote_anonymous(url).map_err(|e| GitError::Fetch {
            url: url.to_owned(),
            message: e.message().to_owned(),
        })?;
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(self.callbacks(url, &endpoint, &failure, &attempts))
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        let mut proxy = ProxyOptions::new();
        proxy.auto();
        opts.proxy_options(proxy);
        if let Err(e) = remote.fetch(&specs, Some(&mut opts), None) {
            return Err(failure.take().unwrap_or_else(|| classify(url, &e)));
        }
        let heads = remote.list().map_err(|e| GitError::Fetch {
            url: url.to_owned(),
            message: e.message().to_owned(),
        })?;
        let advertised = |name: &str| {
            heads
                .iter()
                .find(|h| h.name() == name)
                .map(git2::RemoteHead::oid)
        };
        let target = match &spec.rev {
            Rev::Default => advertised("HEAD"),
            Rev::Named(n) => advertised(&format!("refs/heads/{n}"))
                .or_else(|| advertised(&format!("refs/tags/{n}^{{}}")))
                .or_else(|| advertised(&format!("refs/tags/{n}"))),
            Rev::Commit(hex) => Oid::from_str(hex).ok(),
        };
        let Some(target) = target else {
            let mut names: Vec<&str> = heads
                .iter()
                .filter_map(|h| {
                    h.name()
                        .strip_prefix("refs/heads/")
                        .or_else(|| h.name().strip_prefix("refs/tags/"))
                })
                .filter(|n| !n.ends_with("^{}"))
                .collect();
            names.sort_unstable();
            let known = if names.is_empty() {
                " (the repo has no branches)".to_owned()
            } else {
                let more = names.len().saturating_sub(10);
                let mut s = format!("; it has {}", names[..names.len().min(10)].join(", "));
                if more > 0 {
                    s.push_str(&format!(" and {more} more"));
                }
                s
            };
            let known = match &spec.rev {
                Rev::Named(n) if n.len() < 40 && n.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    format!("{known}; if `{n}` is an abbreviated commit id, give all 40 characters")
                }
                _ => known,
            };
            return Err(GitError::UnknownRef {
                url: url.to_owned(),
                rev: spec.rev.shown().to_owned(),
                known,
            });
        };
        // What the ref names, through annotated tags: a ref of a tree or a blob is the
        // repo's own content, not our cache's fault, and rebuilding the cache would
        // fetch the same ref again (and again) and still find no commit.
        // A pinned id must be a commit's, not a tag's: renders read pinned ids straight
        // from the cache, which does not peel tags.
        let pinned = matches!(spec.rev, Rev::Commit(_));
        let named = repo.find_object(target, None).and_then(|o| match o.kind() {
            Some(git2::ObjectType::Tag) if !pinned => o.peel(git2::ObjectType::Any),
            _ => Ok(o),
        });
        if let Ok(o) = &named
            && let Some(kind) = o.kind().filter(|k| *k != git2::ObjectType::Commit)
        {
            return Err(GitError::NotACommit {
                url: url.to_owned(),
                rev: spec.rev.shown().to_owned(),
                object: kind.to_string(),
            });
        }
        let commit = named.and_then(|o| o.peel_to_commit());
        let commit = match commit {
            Ok(c) => c,
            Err(e) if e.code() == ErrorCode::NotFound => {
                return Err(match &spec.rev {
                    Rev::Commit(hex) => GitError::UnknownCommit {
                        url: url.to_owned(),
                        rev: hex.clone(),
                    },
                    // The server advertised it and the fetch succeeded, yet it is not
                    // here: our object database lied during negotiation.
                    _ => GitError::Corrupt {
                        url: url.to_owned(),
                        message: e.message().to_owned(),
                    },
                });
            }
            Err(e) => {
                return Err(GitError::Corrupt {
                    url: url.to_owned(),
                    message: e.message().to_owned(),
                });
            }
        };
        if let Err(e) = commit.tree() {
            return Err(GitError::Corrupt {
                url: url.to_owned(),
                message: e.message().to_owned(),
            });
        }
        if let Rev::Commit(hex) = &spec.rev {
            // A ref keeps the commit's objects among the "haves" of later fetches.
            let _ = repo.reference(
                &format!("refs/dovetail/pinned/{hex}"),
                commit.id(),
                true,
                "dovetail: pinned",
            );
        }
        odb::parse_id(&commit.id().to_string()).ok_or_else(|| GitError::Corrupt {
            url: url.to_owned(),
            message: format!("libgit2 gave the commit id `{}`", commit.id()),
        })
    }

    fn callbacks<'a>(
        &'a self,
        url: &'a str,
        endpoint: &'a Endpoint,
        failure: &'a RefCell<Option<GitError>>,
        attempts: &'a Cell<u32>,
    ) -> RemoteCallbacks<'a> {
        let mut cbs = RemoteCallbacks::new();
        let fail_auth = move |message: String| {
            let err = git2::Error::from_str(&message);
            *failure.borrow_mut() = Some(GitError::Auth {
                url: url.to_owned(),
                message,
            });
            Err(err)
        };
        cbs.credentials(move |_, user, allowed| {
            if allowed.contains(CredentialType::USERNAME) {
                return Cred::username(user.unwrap_or("git"));
            }
            let n = attempts.get() + 1;
            attempts.set(n);
            if n > MAX_AUTH_ATTEMPTS {
                return fail_auth(format!(
                    "the server refused the credential {MAX_AUTH_ATTEMPTS} times; check that it is valid and has read access to the repo"
                ));
            }
            if allowed.contains(CredentialType::SSH_KEY) {
                let Some(key) = &self.settings.ssh_key else {
                    return fail_auth(
                        "the server wants an SSH key; set DOVETAIL_SSH_KEY to a private key file"
                            .to_owned(),
                    );
                };
                if !key.is_file() {
                    return fail_auth(format!(
                        "DOVETAIL_SSH_KEY {} is not a readable file",
                        crate::crypto::shown_path(key)
                    ));
                }
                return Cred::ssh_key(user.unwrap_or("git"), None, key, None);
            }
            if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                if endpoint.scheme != Scheme::Https {
                    return fail_auth(
                        "the server asks for a password over an unencrypted connection; dovetail sends credentials over https and ssh only".to_owned(),
                    );
                }
                let Some(file) = &self.settings.https_token else {
                    return fail_auth(
                        "the server wants credentials; set DOVETAIL_HTTPS_TOKEN_FILE to a file holding a read-only access token".to_owned(),
                    );
                };
                let token = match read_capped(file, MAX_TOKEN_BYTES) {
                    Ok(t) => t,
                    Err(e) => {
                        return fail_auth(format!(
                            "cannot read DOVETAIL_HTTPS_TOKEN_FILE {}: {e}",
                            crate::crypto::shown_path(file)
                        ));
                    }
                };
                return Cred::userpass_plaintext(&self.settings.https_user, token.trim());
            }
            fail_auth("the server asks for a kind of credential dovetail does not offer".to_owned())
        });
        cbs.certificate_check(move |cert, host| {
            let Some(hostkey) = cert.as_hostkey() else {
                // TLS: libgit2 and OpenSSL have verified the chain and name; keep their
                // verdict.
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            let fail = |message: String| {
                let err = git2::Error::from_str(&message);
                *failure.borrow_mut() = Some(GitError::HostKey {
                    url: url.to_owned(),
                    message,
                });
                Err(err)
            };
            let Some(file) = &self.settings.known_hosts else {
                return fail(format!(
                    "no known_hosts file to check {host}'s key against; set DOVETAIL_SSH_KNOWN_HOSTS (e.g. to the output of `ssh-keyscan -p {} {host}`)",
                    endpoint.port
                ));
            };
            let text = match read_capped(file, MAX_KNOWN_HOSTS_BYTES) {
                Ok(t) => t,
                Err(e) => {
                    return fail(format!(
                        "cannot read DOVETAIL_SSH_KNOWN_HOSTS `{}`: {e}",
                        file.display()
                    ));
                }
            };
            let (Some(key), Some(kind)) = (hostkey.hostkey(), hostkey.hostkey_type()) else {
                return fail("the server sent a host key libgit2 cannot show".to_owned());
            };
            match known_hosts::check(&text, host, endpoint.port, kind.name(), key) {
                Verdict::Match => Ok(CertificateCheckStatus::CertificateOk),
                Verdict::Revoked => fail(format!("{host}'s {} key is marked @revoked", kind.name())),
                Verdict::Mismatch => fail(format!(
                    "{host} sent a {} key that `{}` does not list for it; the key changed or someone is in between — refusing to connect",
                    kind.name(),
                    file.display()
                )),
                Verdict::Unknown { hashed_entries } => fail(format!(
                    "{host} (port {}) is not in `{}`{}; add its key (ssh-keyscan)",
                    endpoint.port,
                    file.display(),
                    if hashed_entries {
                        " (hashed |1| entries are not supported; write plain ones)"
                    } else {
                        ""
                    }
                )),
            }
        });
        cbs
    }
}

/// `dir` (inside a local git work tree) at revision `rev`: its repository, its path
/// inside the work tree and the commit.
pub fn resolve_local(dir: &Path, rev: &str) -> Result<Resolved, GitError> {
    let shown = dir.display().to_string();
    let fail = |message: String| GitError::Fetch {
        url: shown.clone(),
        message,
    };
    let repo = Repository::discover(dir).map_err(|e| fail(e.message().to_owned()))?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| fail("is in a bare repository".to_owned()))?;
    let full = fs::canonicalize(dir).map_err(|e| fail(e.to_string()))?;
    let root = fs::canonicalize(workdir).map_err(|e| fail(e.to_string()))?;
    let inside = full
        .strip_prefix(&root)
        .map_err(|_| fail("is outside its repository's work tree".to_owned()))?
        .to_string_lossy()
        .into_owned();
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| GitError::UnknownRef {
            url: shown.clone(),
            rev: rev.to_owned(),
            known: format!(" ({})", e.message()),
        })?
        .id();
    let commit = odb::parse_id(&commit.to_string())
        .ok_or_else(|| fail(format!("libgit2 gave the commit id `{commit}`")))?;
    Ok(Resolved {
        git_dir: repo.path().to_owned(),
        common_dir: repo.commondir().to_owned(),
        inside,
        commit,
    })
}

/// Deletes the mirrored branch and tag refs that could stand in the way of the fetch's:
/// refs are files, so a cached `heads/a` of a branch the server has since deleted keeps
/// `heads/a/b` from being written (and the other way round), and the fetch failed. A
/// pinned fetch mirrors every branch and tag, so all go; a named one clears only its
/// own name's way. They serve only as what the cache already has when the server
/// negotiates: the commits renders read are kept by the state file's and the pinned refs.
fn clear_in_the_way(repo: &Repository, rev: &Rev) {
    let wanted: Vec<String> = match rev {
        Rev::Default => return,
        Rev::Named(n) => vec![
            format!("refs/dovetail/heads/{n}"),
            format!("refs/dovetail/tags/{n}"),
        ],
        Rev::Commit(_) => Vec::new(),
    };
    let Ok(refs) = repo.references() else { return };
    let in_the_way = |name: &str| {
        wanted.is_empty()
            && (name.starts_with("refs/dovetail/heads/") || name.starts_with("refs/dovetail/tags/"))
            || wanted.iter().any(|w| beneath(name, w) || beneath(w, name))
    };
    let doomed: Vec<String> = refs
        .flatten()
        .filter_map(|r| r.name().ok().map(str::to_owned))
        .filter(|name| in_the_way(name))
        .collect();
    for name in doomed {
        if let Ok(mut r) = repo.find_reference(&name) {
            // Best effort: a ref that stays in the way fails the fetch, which says so.
            let _ = r.delete();
        }
    }
}

/// Names a libgit2 failure that our callbacks did not already explain.
fn classify(url: &str, e: &git2::Error) -> GitError {
    let message = e.message().trim().to_owned();
    if e.code() == ErrorCode::Certificate || e.class() == ErrorClass::Ssl {
        return GitError::Certificate {
            url: url.to_owned(),
            message,
        };
    }
    match e.class() {
        ErrorClass::Odb | ErrorClass::Zlib | ErrorClass::Object | ErrorClass::Indexer => {
            GitError::Corrupt {
                url: url.to_owned(),
                message,
            }
        }
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssh => GitError::Unreachable {
            url: url.to_owned(),
            message,
        },
        _ if e.code() == ErrorCode::Auth => GitError::Auth {
            url: url.to_owned(),
            message,
        },
        _ => GitError::Fetch {
            url: url.to_owned(),
            message,
        },
    }
}

/// Tries a TCP connection first, with a timeout: libgit2 would otherwise wait for the
/// operating system's (minutes) on a host that drops packets. Skipped where a proxy is
/// configured, since the proxy is what we would connect to.
fn reachable(endpoint: &Endpoint, proxy: bool) -> Result<(), String> {
    if endpoint.scheme == Scheme::File {
        return Ok(());
    }
    let proxied = matches!(endpoint.scheme, Scheme::Https | Scheme::Http) && proxy;
    if proxied {
        return Ok(());
    }
    let addrs: Vec<_> = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host `{}`: {e}", endpoint.host))?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => format!(
            "no answer from {}:{} within {}s",
            endpoint.host,
            endpoint.port,
            CONNECT_TIMEOUT.as_secs()
        ),
        Some(e) => format!("{}:{}: {e}", endpoint.host, endpoint.port),
        None => format!("host `{}` has no address", endpoint.host),
    })
}
