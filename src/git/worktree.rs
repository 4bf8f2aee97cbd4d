//! The git work tree a local app directory sits in: where its root is, the app's path
//! inside it, and the URL of its `origin` remote — what CI's checkout of a customer repo
//! says about which app it is, so that `--allocation` can be left out.
//!
//! Read by hand from `.git` and the repository's `config` file rather than through
//! libgit2: starting libgit2 loads the system's CA bundle (~30 ms), which every render
//! from a directory would otherwise pay.

use std::fs;
use std::path::{Path, PathBuf};

/// A directory inside a git work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkTree {
    /// The work tree's root (the directory holding `.git`).
    pub root: PathBuf,
    /// The directory's path inside it, `/`-separated; empty for the root.
    pub inside: String,
    /// The URL of the `origin` remote, as the config spells it.
    pub origin: Option<String>,
}

/// The work tree `dir` is in, or `None` when it is in none (or cannot be told).
pub fn discover(dir: &Path) -> Option<WorkTree> {
    let dir = fs::canonicalize(dir).ok()?;
    let mut root = dir.as_path();
    let git = loop {
        let candidate = root.join(".git");
        if candidate.symlink_metadata().is_ok() {
            break candidate;
        }
        root = root.parent()?;
    };
    let git_dir = if git.is_dir() {
        git
    } else {
        // A linked work tree or a submodule: `.git` is a file naming the git directory.
        let text = fs::read_to_string(&git).ok()?;
        let named = text.trim().strip_prefix("gitdir:")?.trim();
        root.join(named)
    };
    // A linked work tree keeps its config in the repository it belongs to.
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir,
    };
    let origin = fs::read_to_string(common.join("config"))
        .ok()
        .and_then(|config| remote_url(&config, "origin"));
    let inside = dir
        .strip_prefix(root)
        .ok()?
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Some(WorkTree {
        root: root.to_owned(),
        inside,
        origin,
    })
}

/// `remote.<name>.url` of a git config file: the last one set, as git reads it.
/// Sections are matched as git does: the section name without case, the subsection
/// (`"origin"`) exactly; values may be quoted, and comments start with `#` or `;`.
fn remote_url(config: &str, name: &str) -> Option<String> {
    let mut in_remote = false;
    let mut url = None;
    for line in config.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.split(']').next().unwrap_or_default();
            in_remote = match header.split_once(char::is_whitespace) {
                Some((section, sub)) => {
                    section.eq_ignore_ascii_case("remote")
                        && sub
                            .trim()
                            .strip_prefix('"')
                            .and_then(|s| s.strip_suffix('"'))
                            == Some(name)
                }
                None => false,
            };
            continue;
        }
        if !in_remote {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("url") {
            url = Some(config_value(value));
        }
    }
    url.filter(|u| !u.is_empty())
}

/// A config value: unquoted, with its comment dropped and `\"`, `\\` unescaped.
fn config_value(raw: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = raw.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(match n {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
            }
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
    }
    out.trim_end().to_owned()
}

/// `url` without a user name or password (`https://user:token@host/…` becomes
/// `https://host/…`): what messages may show of a remote. CI checkouts put a token there
/// (GitLab's `gitlab-ci-token:…@`).
pub fn shown_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        // `user@host:path` has no password to hide; the user name stays.
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_url_is_read_as_git_reads_it() {
        let config = r#"
[core]
	bare = false
[remote "upstream"]
	url = https://example.com/other.git
[Remote "origin"]
	url = "git@git.example.com:acme/shop.git" ; the customer repo
	fetch = +refs/heads/*:refs/remotes/origin/*
[branch "main"]
	remote = origin
"#;
        assert_eq!(
            remote_url(config, "origin").as_deref(),
            Some("git@git.example.com:acme/shop.git")
        );
        assert_eq!(remote_url("[remote \"origin\"]\n", "origin"), None);
        assert_eq!(
            remote_url(
                "[remote \"origin\"]\nurl = a\nurl = b # later wins\n",
                "origin"
            )
            .as_deref(),
            Some("b")
        );
    }

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            shown_url("https://gitlab-ci-token:glcbt-secret@gitlab.example.com/acme/shop.git"),
            "https://gitlab.example.com/acme/shop.git"
        );
        assert_eq!(
            shown_url("git@github.com:acme/shop.git"),
            "git@github.com:acme/shop.git"
        );
    }

    #[test]
    fn a_directory_knows_its_path_in_the_work_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(
            root.join(".git/config"),
            "[remote \"origin\"]\n\turl = https://git.example.com/acme/shop.git\n",
        )
        .unwrap();
        fs::create_dir_all(root.join("deploy/app")).unwrap();
        let wt = discover(&root.join("deploy/app")).unwrap();
        assert_eq!(wt.inside, "deploy/app");
        assert_eq!(
            wt.origin.as_deref(),
            Some("https://git.example.com/acme/shop.git")
        );
        assert_eq!(discover(root).unwrap().inside, "");

        // A linked work tree: `.git` is a file, the config is in the common directory.
        let linked = root.join("linked");
        fs::create_dir_all(root.join(".git/worktrees/linked")).unwrap();
        fs::write(root.join(".git/worktrees/linked/commondir"), "../..\n").unwrap();
        fs::create_dir_all(&linked).unwrap();
        fs::write(
            linked.join(".git"),
            format!("gitdir: {}\n", root.join(".git/worktrees/linked").display()),
        )
        .unwrap();
        let wt = discover(&linked).unwrap();
        assert_eq!(wt.inside, "");
        assert!(wt.origin.is_some());
    }
}
