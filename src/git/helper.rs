//! `dovetail-fetch`, the helper process that does dovetail's git network work, and the
//! side of `dovetail` that calls it.
//!
//! Argo CD runs `dovetail` for every app on every refresh, and with a warm cache a render
//! only reads the object database ([`super::odb`]). What fetches, libgit2 with OpenSSL and
//! libssh2, is most of a binary's code and relocations, and loading it was a third of a
//! render's time; so only the helper links it, and `dovetail` starts it when the cache
//! cannot answer: a first fetch, a branch past its TTL, a revision of a local repository.
//!
//! The protocol is private to one build: `dovetail` writes one JSON [`Request`] to the
//! helper's stdin; the helper writes progress lines to stderr, which `dovetail` passes on
//! as they come, and one JSON [`Reply`] to stdout. Errors cross as [`GitError`]s, so they
//! are reported as if the render had hit them itself. The cache and credential settings
//! travel in the request, as `dovetail` read them; what libgit2 and OpenSSL read for
//! themselves (`HTTPS_PROXY`, `SSL_CERT_FILE`) reaches the helper through the environment
//! it inherits. The helper is looked for beside the running `dovetail` executable, where
//! `build-dist` and the image put it.

use std::io::{BufRead as _, BufReader, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Fetched, GitError, GitSettings, GitSpec, Resolved};

/// The helper's file name, beside `dovetail`.
pub const HELPER: &str = "dovetail-fetch";

/// What `dovetail` asks of the helper.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
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
        &Request::Fetch {
            settings: settings.clone(),
            spec: spec.clone(),
        },
        progress,
    )
}

/// Resolves `rev` for the work tree `dir` is in, through the helper.
pub fn resolve(dir: &Path, rev: &str) -> Result<Resolved, GitError> {
    call(
        &Request::Resolve {
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

fn call<T: DeserializeOwned>(
    request: &Request,
    progress: &mut dyn FnMut(&str),
) -> Result<T, GitError> {
    let path = location()?;
    let fail = |message: String| GitError::Helper {
        path: path.display().to_string(),
        message,
    };
    let mut child = Command::new(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    let body = serde_json::to_vec(request).map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that died before reading shows below, by its exit status.
        let _ = stdin.write_all(&body);
    }
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            match line {
                Ok(line) if !line.is_empty() => progress(&line),
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    let mut reply = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_end(&mut reply)
            .map_err(|e| fail(format!("cannot read its answer: {e}")))?;
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for it: {e}")))?;
    match serde_json::from_slice::<Reply<T>>(&reply) {
        Ok(Reply::Ok(value)) => Ok(value),
        Ok(Reply::Err(e)) => Err(e),
        Err(_) if !status.success() => Err(fail(format!("it failed ({status})"))),
        Err(e) => Err(fail(format!(
            "it answered something this dovetail does not understand ({e}); is it from another build?"
        ))),
    }
}

/// The helper's whole work: reads a [`Request`] from `input`, reports progress lines to
/// `err`, writes the [`Reply`] to `out`. Returns the exit status: 0 when a reply was
/// written, whether the work succeeded or not; 2 when the request made no sense.
#[cfg(feature = "fetch")]
pub fn serve(
    args: &[std::ffi::OsString],
    input: &mut dyn std::io::Read,
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
    let mut body = Vec::new();
    let request = match input
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice::<Request>(&body).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "{HELPER}: not a request from dovetail: {e}");
            return 2;
        }
    };
    let mut progress = |line: &str| {
        // Progress is best effort: a closed stderr must not fail a fetch.
        let _ = writeln!(err, "{line}");
    };
    let reply = match request {
        Request::Fetch { settings, spec } => serde_json::to_vec(&match super::Cache::new(settings)
            .fetch_locked(&spec, &mut progress)
        {
            Ok(f) => Reply::Ok(f),
            Err(e) => Reply::Err(e),
        }),
        Request::Resolve { dir, rev } => {
            serde_json::to_vec(&match super::fetch::resolve_local(&dir, &rev) {
                Ok(r) => Reply::Ok(r),
                Err(e) => Reply::Err(e),
            })
        }
    };
    match reply.map(|bytes| out.write_all(&bytes).and_then(|()| out.flush())) {
        Ok(Ok(())) => 0,
        _ => 1,
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
