//! Reading files from a repo without letting the repo read anything else.
//!
//! A customer repo is untrusted: a path in it, or a symlink it commits, may try to lead
//! out of the app directory (`../../etc/passwd`, a link to `/proc/self/environ`), name a
//! FIFO that blocks forever, or be huge. Every read goes through [`Tree::read`], which
//! resolves links, refuses anything outside the tree's root or not a regular file, and
//! reads at most a cap of bytes.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest YAML input file read.
pub const MAX_YAML_BYTES: u64 = 256 * 1024;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No such file.
    #[error("`{0}` does not exist")]
    NotFound(String),
    /// The path, or a link on it, leads outside the tree.
    #[error("`{0}` leads outside the repo")]
    Outside(String),
    /// Not a regular file (a directory, FIFO, device).
    #[error("`{0}` is not a regular file")]
    NotAFile(String),
    /// Larger than the cap.
    #[error("`{path}` is {size} bytes, over the {cap}-byte limit")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// The path is absolute or has `..` in it.
    #[error("`{0}` must be a relative path without `..`")]
    BadPath(String),
    /// Anything else the OS said.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A directory tree that files are read from: a customer app directory or an operator repo.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
}

impl DirTree {
    /// Opens `dir` as a tree; fails when it is missing or not a directory.
    pub fn open(dir: &Path) -> std::io::Result<DirTree> {
        let root = fs::canonicalize(dir)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(DirTree { root })
    }

    /// Resolves `rel` inside the tree, following links, and refuses what leads outside.
    fn resolve(&self, rel: &str) -> Result<PathBuf, ReadError> {
        let p = Path::new(rel);
        let clean = !rel.is_empty()
            && p.components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !clean {
            return Err(ReadError::BadPath(rel.to_owned()));
        }
        let full = match fs::canonicalize(self.root.join(p)) {
            Ok(full) => full,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling link that points outside is reported as what it is.
                return Err(match fs::read_link(self.root.join(p)) {
                    Ok(target)
                        if !self.root.join(p).parent().is_some_and(|d| {
                            normalize(&d.join(&target)).starts_with(&self.root)
                        }) =>
                    {
                        ReadError::Outside(rel.to_owned())
                    }
                    _ => ReadError::NotFound(rel.to_owned()),
                });
            }
            Err(source) => {
                return Err(ReadError::Io {
                    path: rel.to_owned(),
                    source,
                });
            }
        };
        if !full.starts_with(&self.root) {
            return Err(ReadError::Outside(rel.to_owned()));
        }
        Ok(full)
    }

    /// Whether `rel` names something (file or directory) inside the tree.
    pub fn exists(&self, rel: &str) -> bool {
        self.resolve(rel).is_ok()
    }

    /// Reads the regular file `rel`, at most `cap` bytes.
    pub fn read(&self, rel: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
        let full = self.resolve(rel)?;
        let io = |source| ReadError::Io {
            path: rel.to_owned(),
            source,
        };
        let meta = fs::metadata(&full).map_err(io)?;
        if !meta.is_file() {
            return Err(ReadError::NotAFile(rel.to_owned()));
        }
        if meta.len() > cap {
            return Err(ReadError::TooLarge {
                path: rel.to_owned(),
                size: meta.len(),
                cap,
            });
        }
        let file = fs::File::open(&full).map_err(io)?;
        let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        // The cap holds even if the file grows between the stat and the read.
        file.take(cap + 1).read_to_end(&mut buf).map_err(io)?;
        if buf.len() as u64 > cap {
            return Err(ReadError::TooLarge {
                path: rel.to_owned(),
                size: buf.len() as u64,
                cap,
            });
        }
        Ok(buf)
    }

    /// The names of the entries of directory `rel` (`""` for the root), sorted.
    pub fn list(&self, rel: &str) -> Result<Vec<String>, ReadError> {
        let full = if rel.is_empty() {
            self.root.clone()
        } else {
            self.resolve(rel)?
        };
        let io = |source| ReadError::Io {
            path: rel.to_owned(),
            source,
        };
        let mut names: Vec<String> = fs::read_dir(&full)
            .map_err(io)?
            .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Removes `.` and `..` lexically, for judging where a dangling link points.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_out_of_the_tree_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ok.txt"), "fine").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("ok.txt", dir.path().join("inner")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("dangling")).unwrap();
        let tree = DirTree::open(dir.path()).unwrap();
        assert_eq!(tree.read("ok.txt", 100).unwrap(), b"fine");
        assert_eq!(tree.read("inner", 100).unwrap(), b"fine");
        assert!(matches!(tree.read("link", 100), Err(ReadError::Outside(_))));
        assert!(matches!(
            tree.read("dangling", 100),
            Err(ReadError::Outside(_))
        ));
        assert!(matches!(tree.read("../x", 100), Err(ReadError::BadPath(_))));
        assert!(matches!(
            tree.read("/etc/passwd", 100),
            Err(ReadError::BadPath(_))
        ));
        assert!(matches!(
            tree.read("missing", 100),
            Err(ReadError::NotFound(_))
        ));
    }

    #[test]
    fn size_cap_and_non_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("big"), vec![b'a'; 101]).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let tree = DirTree::open(dir.path()).unwrap();
        assert!(matches!(
            tree.read("big", 100),
            Err(ReadError::TooLarge { size: 101, .. })
        ));
        assert!(matches!(tree.read("sub", 100), Err(ReadError::NotAFile(_))));
    }
}
