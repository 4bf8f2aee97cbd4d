//! `dovetail-fetch`, the helper process that does dovetail's git network work, and the
//! side of `dovetail` that calls it.
//!
//! Argo CD runs `dovetail` for every app on every refresh, and with a warm cache a render
//! only reads the object database ([`super::odb`]). What fetches, libgit2 with OpenSSL and
//! libssh2, is most of a binary's code and relocations, and loading it was a third of a
//! render's time; so only the helper links it, and `dovetail` starts it when the cache
//! cannot answer: a first fetch, a branch past its TTL, a revision of a local repository.
//!
//! The protocol is private to one build (the request carries the version, which the
//! helper checks): `dovetail` writes one JSON [`Request`] as a line to the helper's stdin
//! and keeps stdin open until it has the answer; the helper writes progress lines to
//! stderr, which `dovetail` passes on as they come (for fetches), and one JSON [`Reply`]
//! to stdout, both read at once so that neither pipe can fill and stall the other. The
//! helper exits when its stdin closes before it is done: a killed `dovetail` leaves no
//! helper behind holding a cache lock. Errors cross as [`GitError`]s, so they are
//! reported as if the render had hit them itself. The cache and credential settings
//! travel in the request, as `dovetail` read them; what libgit2 and OpenSSL read for
//! themselves (`HTTPS_PROXY`, `SSL_CERT_FILE`) reaches the helper through the environment
//! it inherits. The helper is looked for beside the running `dovetail` executable, where
//! `build-dist` and the image put it.

use std::io::{BufRead as _, BufReader, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Fetched, GitError, GitSettings, GitSpec, Resolved};

/// The helper's file name, beside `dovetail`.
pub const HELPER: &str = "dovetail-fetch";

/// What `dovetail` asks of the helper, and which build asks it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `dovetail`'s version: a helper of another version refuses the work.
    pub version: String,
    /// The work.
    pub work: Work,
}

/// The helper's work.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Work {
    /// Fetch `spec` into the cache `settings` describe (see [`super::Cache::fetch_locked`]).
    Fetch {
        /// The cache and credentials, as `dovetail` read them from its environment.
        settings: GitSettings,
        /// What to fetch.
        spec: GitSpec,
    },
    /// Resolve `rev` in the repository of the work tree `dir` is in.
    Resolve {
        /// A directory inside a work tree.
        dir: PathBuf,
        /// Any revision git understands.
        rev: String,
    },
}

/// This build's version, which both sides must share.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How many of the helper's last stderr lines a failure quotes.
const LAST_LINES: usize = 3;

/// The helper's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T> {
    /// It worked.
    Ok(T),
    /// It failed, for this reason.
    Err(GitError),
}

/// Fetches `spec` through the helper; `progress` hears each line it reports.
pub fn fetch(
    settings: &GitSettings,
    spec: &GitSpec,
    progress: &mut dyn FnMut(&str),
) -> Result<Fetched, GitError> {
    call(
        Work::Fetch {
            settings: settings.clone(),
            spec: spec.clone(),
        },
        progress,
    )
}

/// Resolves `rev` for the work tree `dir` is in, through the helper.
pub fn resolve(dir: &Path, rev: &str) -> Result<Resolved, GitError> {
    call(
        Work::Resolve {
            dir: dir.to_owned(),
            rev: rev.to_owned(),
        },
        &mut |_| {},
    )
}

/// Where the helper is: beside the running executable.
fn location() -> Result<PathBuf, GitError> {
    let exe = std::env::current_exe().map_err(|e| GitError::Helper {
        path: HELPER.to_owned(),
        message: format!("cannot tell where dovetail itself is: {e}"),
    })?;
    Ok(exe.with_file_name(HELPER))
}

fn call<T: DeserializeOwned + Send + 'static>(
    work: Work,
    progress: &mut dyn FnMut(&str),
) -> Result<T, GitError> {
    let path = location()?;
    let fail = |message: String| GitError::Helper {
        path: path.display().to_string(),
        message,
    };
    let request = Request {
        version: VERSION.to_owned(),
        work,
    };
    let mut body = serde_json::to_string(&request)
        .map_err(|e| fail(format!("cannot pass it the request: {e}")))?;
    body.push('\n');
    let mut child = Command::new(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    // Kept open until the answer is in: the helper takes its closing for our death.
    let mut stdin = child.stdin.take();
    if let Some(pipe) = stdin.as_mut() {
        // A helper that died before reading shows below, by its exit status.
        let _ = pipe.write_all(body.as_bytes()).and_then(|()| pipe.flush());
    }
    let stdout = child.stdout.take();
    let answer = thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let mut reply = Vec::new();
        if let Some(mut stdout) = stdout {
            stdout.read_to_end(&mut reply)?;
        }
        Ok(reply)
    });
    let mut last: Vec<String> = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        let mut stderr = BufReader::new(stderr);
        let mut line = Vec::new();
        while matches!(stderr.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end();
            if !text.is_empty() {
                progress(text);
                if last.len() == LAST_LINES {
                    last.remove(0);
                }
                last.push(text.to_owned());
            }
            line.clear();
        }
    }
    let reply = answer
        .join()
        .unwrap_or_else(|_| Ok(Vec::new()))
        .map_err(|e| fail(format!("cannot read its answer: {e}")))?;
    drop(stdin);
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for it: {e}")))?;
    let said = if last.is_empty() {
        String::new()
    } else {
        format!("; it said: {}", last.join(" / "))
    };
    match serde_json::from_slice::<Reply<T>>(&reply) {
        Ok(Reply::Ok(value)) => Ok(value),
        Ok(Reply::Err(e)) => Err(e),
        Err(_) if !status.success() => Err(fail(format!("it failed ({status}){said}"))),
        Err(e) => Err(fail(format!(
            "it answered something this dovetail does not understand ({e}); is it from another build?{said}"
        ))),
    }
}

/// The helper's whole work: takes the [`Request`] `dovetail` wrote as one line, reports
/// progress lines to `err`, writes the [`Reply`] to `out`. Returns the exit status: 0
/// when a reply was written, whether the work succeeded or not; 1 when it could not be
/// written; 2 when the request made no sense (or there were arguments: it takes none).
#[cfg(feature = "fetch")]
pub fn serve(
    args: &[std::ffi::OsString],
    request: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    if !args.is_empty() {
        let _ = writeln!(
            err,
            "{HELPER} is dovetail's git helper: dovetail starts it when it needs to fetch; it takes no arguments"
        );
        return 2;
    }
    let version = serde_json::from_str::<serde_json::Value>(request)
        .ok()
        .and_then(|v| v.get("version")?.as_str().map(str::to_owned));
    let reply = if version.as_deref().is_some_and(|v| v != VERSION) {
        serde_json::to_vec(&Reply::<()>::Err(GitError::Helper {
            path: HELPER.to_owned(),
            message: format!(
                "it is version {VERSION}, asked by dovetail {}; install both from one build",
                version.unwrap_or_default()
            ),
        }))
    } else {
        let work = match serde_json::from_str::<Request>(request) {
            Ok(r) => r.work,
            Err(e) => {
                let _ = writeln!(err, "{HELPER}: not a request from dovetail: {e}");
                return 2;
            }
        };
        let mut progress = |line: &str| {
            // Progress is best effort: a closed stderr must not fail a fetch.
            let _ = writeln!(err, "{line}");
        };
        match work {
            Work::Fetch { settings, spec } => {
                serde_json::to_vec(&match super::Cache::new(settings)
                    .fetch_locked(&spec, &mut progress)
                {
                    Ok(f) => Reply::Ok(f),
                    Err(e) => Reply::Err(e),
                })
            }
            Work::Resolve { dir, rev } => {
                serde_json::to_vec(&match super::fetch::resolve_local(&dir, &rev) {
                    Ok(r) => Reply::Ok(r),
                    Err(e) => Reply::Err(e),
                })
            }
        }
    };
    let written = reply.map_err(|e| e.to_string()).and_then(|bytes| {
        out.write_all(&bytes)
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())
    });
    match written {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "{HELPER}: cannot write the answer: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::Freshness;
    use std::time::Duration;

    fn round_trip<T: Serialize + DeserializeOwned>(reply: &Reply<T>) -> Reply<T> {
        serde_json::from_slice(&serde_json::to_vec(reply).unwrap()).unwrap()
    }

    #[test]
    fn errors_cross_the_helper_boundary_with_their_message_and_hint() {
        let sent = GitError::UnknownRef {
            url: "git://127.0.0.1/app".into(),
            rev: "mian".into(),
            known: "; it has main".into(),
        };
        let shown = (sent.to_string(), sent.hint());
        let Reply::<Fetched>::Err(got) = round_trip(&Reply::Err(sent)) else {
            panic!("an error came back as a success");
        };
        assert_eq!((got.to_string(), got.hint()), shown);
    }

    #[test]
    fn a_fetch_crosses_with_its_commit_and_freshness() {
        let commit = crate::git::odb::parse_id(&"0123456789abcdef".repeat(3)[..40]).unwrap();
        let sent = Fetched {
            commit,
            freshness: Freshness::Cached(Duration::from_secs(12)),
            rebuilt: Some("commit is missing".into()),
        };
        let Reply::Ok(got) = round_trip(&Reply::Ok(sent.clone())) else {
            panic!("a success came back as an error");
        };
        assert_eq!(got, sent);
        // A reply from a build that spells ids otherwise is refused, not misread.
        let bad = br#"{"ok":{"commit":"xyz","freshness":"Fetched","rebuilt":null}}"#;
        assert!(serde_json::from_slice::<Reply<Fetched>>(bad).is_err());
    }
}
