//! Reading files from a repo without letting the repo read anything else.
//!
//! A customer repo is untrusted: a path in it, or a symlink it commits, may try to lead
//! out of the app directory (`../../etc/passwd`, a link to `/proc/self/environ`), name a
//! FIFO that blocks forever, or be huge. Every read goes through [`Tree::read`], which
//! resolves links, refuses anything outside the tree's root or not a regular file, and
//! reads at most a cap of bytes.
//!
//! A git source ([`GitTree`]) is read straight from the object database of the cached
//! repository under the same rules: a committed symlink is followed only while it stays
//! inside the tree, blobs over the cap are refused from their header before they are
//! inflated, and a submodule is never followed.
//!
//! A [`MemTree`] holds its files in memory, under the same rules again, so that the whole
//! pipeline can run in-process over inputs a test writes (the scenario tests), without a
//! directory per case.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use gix_object::tree::EntryKind;

use crate::git::odb::ReadFailure;

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
    /// A directory on the way to the path lists more than a git tree dovetail reads.
    #[error(
        "`{path}` is reached through a directory that lists too many entries (its git tree is {size} bytes, over the {cap}-byte limit)"
    )]
    DirTooLarge {
        /// The path asked for.
        path: String,
        /// The tree's size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// The path is absolute or has `..` in it.
    #[error("`{0}` must be a relative path without `..`")]
    BadPath(String),
    /// A git submodule (or another repository checked out inside this one): its files
    /// are another repo's, which dovetail does not read.
    #[error(
        "`{0}` is in a git submodule or another repository inside this one; dovetail does not follow submodules"
    )]
    Submodule(String),
    /// The path, links followed, leads into git's own data.
    #[error("`{0}` leads into git's own data (`.git`)")]
    GitData(String),
    /// A path more directories deep than an app's files are, links followed.
    #[error("`{0}` leads more than {MAX_PATH_DEPTH} directories deep (links followed)")]
    TooDeep(String),
    /// Symlinks pointing at symlinks, too deep to be honest.
    #[error("`{0}` goes through more than {MAX_LINKS} symlinks")]
    LinkLoop(String),
    /// The cached git repository failed to give an object it should have.
    #[error("cannot read `{path}` from the git cache: {message}")]
    Git {
        /// The file.
        path: String,
        /// What libgit2 said.
        message: String,
    },
    /// Anything else the OS said.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// How many symlinks one path may go through.
pub const MAX_LINKS: usize = 40;

/// How many directories deep a path may lead, links followed. Each link restarts the walk
/// from the root, so this with [`MAX_LINKS`] bounds the work of one read: a chain of
/// links at the bottom of thousands of directories took seconds a file.
pub const MAX_PATH_DEPTH: usize = 64;

fn shallow(rel: &str, parts: &[String]) -> Result<(), ReadError> {
    // The directories above the last part.
    if parts.len().saturating_sub(1) > MAX_PATH_DEPTH {
        return Err(ReadError::TooDeep(rel.to_owned()));
    }
    Ok(())
}

/// Where an input's files come from: a directory, a commit of a cached git repo, or
/// memory.
#[derive(Debug)]
pub enum Tree {
    /// A directory on this machine.
    Dir(DirTree),
    /// A directory inside a commit.
    Git(Box<GitTree>),
    /// Files held in memory.
    Memory(MemTree),
}

impl Tree {
    /// Whether `rel` names something (file or directory) inside the tree.
    pub fn exists(&self, rel: &str) -> bool {
        match self {
            Tree::Dir(t) => t.exists(rel),
            Tree::Git(t) => t.resolve(rel).is_ok(),
            Tree::Memory(t) => t.resolve(rel).is_ok(),
        }
    }

    /// Whether `rel` names a regular file inside the tree (links followed).
    pub fn is_file(&self, rel: &str) -> bool {
        match self {
            Tree::Dir(t) => t.resolve(rel).is_ok_and(|p| p.is_file()),
            Tree::Git(t) => matches!(t.resolve(rel), Ok(GitObject::Blob(_))),
            Tree::Memory(t) => matches!(t.resolve(rel), Ok(MemObject::File(_))),
        }
    }

    /// Reads the regular file `rel`, at most `cap` bytes.
    pub fn read(&self, rel: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
        match self {
            Tree::Dir(t) => t.read(rel, cap),
            Tree::Git(t) => t.read(rel, cap),
            Tree::Memory(t) => t.read(rel, cap),
        }
    }

    /// The names of the entries of directory `rel` (`""` for the root), sorted; a byte that
    /// is not UTF-8 is U+FFFD in them.
    pub fn list(&self, rel: &str) -> Result<Vec<String>, ReadError> {
        match self {
            Tree::Dir(t) => t.list(rel),
            Tree::Git(t) => t.list(rel),
            Tree::Memory(t) => t.list(rel),
        }
    }

    /// How messages name the file `rel`: the path the user would type for a directory,
    /// the path inside the repo for git.
    pub fn shown(&self, rel: &str) -> String {
        match self {
            Tree::Dir(t) => t.shown(rel),
            Tree::Git(t) => format!("{}{}{rel}", t.revision, t.prefix),
            Tree::Memory(t) => {
                let joined = Path::new(&t.name).join(rel);
                let s = joined.to_string_lossy();
                s.strip_prefix("./").unwrap_or(&s).to_owned()
            }
        }
    }

    /// How messages name the tree itself.
    pub fn describe(&self) -> String {
        match self {
            Tree::Dir(t) => t.given.display().to_string(),
            Tree::Git(t) => t.checkout.spec.to_string(),
            Tree::Memory(t) => t.name.clone(),
        }
    }

    /// Why a read from the git cache failed, if one did: the cache is then corrupt and
    /// nothing read from it may be rendered.
    pub fn broken(&self) -> Option<String> {
        match self {
            Tree::Dir(_) | Tree::Memory(_) => None,
            Tree::Git(t) => t.broken.borrow().clone(),
        }
    }
}

/// A directory tree that files are read from: a customer app directory or an operator repo.
#[derive(Debug, Clone)]
pub struct DirTree {
    root: PathBuf,
    /// The directory as the user named it, for messages.
    given: PathBuf,
    /// Directories inside the tree already found to be real directories (no link) that
    /// hold no `.git`: a fleet reads ten thousand files under `tenants/`, which need not
    /// be checked ten thousand times.
    checked: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<PathBuf>>>,
}

impl DirTree {
    /// The same tree, named in messages as `shown` (the path inside its repo).
    #[must_use]
    pub fn shown_as(mut self, shown: &Path) -> DirTree {
        shown.clone_into(&mut self.given);
        self
    }

    /// The tree's directory, links resolved.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How messages name the file `rel`: the path the user would type.
    pub fn shown(&self, rel: &str) -> String {
        let joined = self.given.join(rel);
        let s = joined.to_string_lossy();
        s.strip_prefix("./").unwrap_or(&s).to_owned()
    }

    /// Opens `dir` as a tree; fails when it is missing or not a directory.
    pub fn open(dir: &Path) -> std::io::Result<DirTree> {
        let root = fs::canonicalize(dir)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(DirTree {
            root,
            given: dir.to_owned(),
            checked: std::sync::Arc::default(),
        })
    }

    /// Resolves `rel` inside the tree, following links, and refuses what leads outside.
    ///
    /// Walked component by component from the root with `lstat`, links spliced in as a
    /// git tree does ([`splice_link`]): the path that comes out has no link and no `..`
    /// left, so the OS opens exactly what was checked. (`canonicalize` would also
    /// `readlink` every component of the root's own path, eleven system calls per file
    /// of a fleet of ten thousand.)
    pub(crate) fn resolve(&self, rel: &str) -> Result<PathBuf, ReadError> {
        let p = relative(rel)?;
        let mut parts: Vec<String> = p
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let io = |source| ReadError::Io {
            path: rel.to_owned(),
            source,
        };
        let mut links = 0;
        'walk: loop {
            shallow(rel, &parts)?;
            // The rules hold for where a path really leads, links followed: not into
            // git's own data (`.git/config` may hold a token), not into another repository
            // checked out inside this one (a submodule, which may not even be the
            // customer's).
            if parts.iter().any(|c| c.eq_ignore_ascii_case(".git")) {
                return Err(ReadError::GitData(rel.to_owned()));
            }
            let mut here = self.root.clone();
            for (i, part) in parts.iter().enumerate() {
                here.push(part);
                let last = i + 1 == parts.len();
                if !last && self.is_checked(&here) {
                    continue;
                }
                let meta = match fs::symlink_metadata(&here) {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(ReadError::NotFound(rel.to_owned()));
                    }
                    Err(e) => return Err(io(e)),
                };
                if meta.file_type().is_symlink() {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(ReadError::LinkLoop(rel.to_owned()));
                    }
                    let target = fs::read_link(&here).map_err(io)?;
                    let target = target
                        .to_str()
                        .ok_or_else(|| ReadError::Outside(rel.to_owned()))?;
                    parts = splice_link(rel, &parts, i, target)?;
                    continue 'walk;
                }
                if !last {
                    if !meta.is_dir() {
                        return Err(ReadError::NotFound(rel.to_owned()));
                    }
                    if fs::symlink_metadata(here.join(".git")).is_ok() {
                        return Err(ReadError::Submodule(rel.to_owned()));
                    }
                    self.checked
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(here.clone());
                }
            }
            return Ok(here);
        }
    }

    /// Whether `dir` is known to be a directory of the tree without a link or a `.git`.
    fn is_checked(&self, dir: &Path) -> bool {
        self.checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(dir)
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

    /// The names of the entries of directory `rel` (`""` for the root), sorted; a byte that
    /// is not UTF-8 is U+FFFD in them.
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
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A directory of a commit in the git cache.
pub struct GitTree {
    checkout: crate::git::Checkout,
    /// The directory's tree object.
    root: gix_hash::ObjectId,
    /// The directory's path inside the repo, with a trailing `/` (or empty), for messages.
    prefix: String,
    /// `REV:` when the tree is a local directory read at a revision (`dovetail diff`),
    /// as git names a file of a revision: its lines are the revision's, not the file's
    /// on disk.
    revision: String,
    /// The first failure of the object database, which makes the whole cache suspect.
    broken: std::cell::RefCell<Option<String>>,
    /// Tree objects already read and hashed: a lookup under `tenants/` must not inflate
    /// and hash a tree of ten thousand entries again for every allocation.
    trees: std::cell::RefCell<HashMap<gix_hash::ObjectId, Rc<CachedTree>>>,
}

/// A tree object read once. The first few lookups scan its bytes; more build a sorted
/// index, so one app's render pays a few scans of a large directory and the fleet's ten
/// thousand lookups pay one sort.
struct CachedTree {
    data: Vec<u8>,
    lookups: std::cell::Cell<u32>,
    index: std::cell::OnceCell<Vec<crate::git::odb::Entry>>,
}

/// Lookups in one tree answered by scanning before it is indexed: an app's render looks
/// up its allocation's directory a handful of times.
const SCANS_BEFORE_INDEX: u32 = 8;

impl CachedTree {
    fn find(&self, name: &[u8]) -> Result<Option<crate::git::odb::Entry>, String> {
        if self.index.get().is_none() && self.lookups.get() < SCANS_BEFORE_INDEX {
            self.lookups.set(self.lookups.get() + 1);
            return crate::git::odb::find_entry(&self.data, name);
        }
        let index = if let Some(index) = self.index.get() {
            index
        } else {
            let mut entries =
                crate::git::odb::entries(&self.data).collect::<Result<Vec<_>, _>>()?;
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            self.index.get_or_init(|| entries)
        };
        Ok(index
            .binary_search_by(|e| e.name.as_slice().cmp(name))
            .ok()
            .map(|i| index[i].clone()))
    }
}

impl std::fmt::Debug for GitTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTree")
            .field("checkout", &self.checkout)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// What a path inside a [`GitTree`] names.
enum GitObject {
    Tree(gix_hash::ObjectId),
    Blob(gix_hash::ObjectId),
}

/// Largest symlink target read.
const MAX_LINK_TARGET: u64 = 4096;

impl GitTree {
    /// The tree with its files named `REV:path`, as git names a revision's files.
    #[must_use]
    pub fn at_revision(mut self, rev: &str) -> GitTree {
        self.revision = format!("{rev}:");
        self
    }

    /// The directory `dir` (`""` for the root) of the checkout's commit. Links are not
    /// followed here: the directory is named by the operator and must be a real one.
    pub fn open(
        checkout: crate::git::Checkout,
        dir: &str,
    ) -> Result<GitTree, crate::git::GitError> {
        let parts: Vec<&str> = dir
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let mut root = checkout.tree;
        for part in &parts {
            let entries = checkout
                .objects
                .tree(&root)
                .map_err(|e| crate::git::object_failure(&checkout.spec.url, e))?;
            root = entries
                .into_iter()
                .find(|e| e.name == part.as_bytes() && e.kind == EntryKind::Tree)
                .ok_or_else(|| crate::git::GitError::NoSuchPath {
                    url: checkout.spec.url.clone(),
                    path: dir.to_owned(),
                    commit: checkout.commit.to_string(),
                    allocation: None,
                })?
                .id;
        }
        let prefix = parts.iter().flat_map(|p| [*p, "/"]).collect();
        Ok(GitTree {
            checkout,
            root,
            prefix,
            revision: String::new(),
            broken: std::cell::RefCell::new(None),
            trees: std::cell::RefCell::default(),
        })
    }

    /// The checkout this tree reads from.
    pub fn checkout(&self) -> &crate::git::Checkout {
        &self.checkout
    }

    fn git_error(&self, rel: &str, message: String) -> ReadError {
        self.broken
            .borrow_mut()
            .get_or_insert_with(|| message.clone());
        ReadError::Git {
            path: rel.to_owned(),
            message,
        }
    }

    /// Tree `id`, read and hashed once.
    fn tree(&self, rel: &str, id: &gix_hash::ObjectId) -> Result<Rc<CachedTree>, ReadError> {
        if let Some(tree) = self.trees.borrow().get(id) {
            return Ok(Rc::clone(tree));
        }
        let data = self.checkout.objects.tree_data(id).map_err(|e| match e {
            // The repo's content, not a damaged cache.
            ReadFailure::TooLarge { size, cap, .. } => ReadError::DirTooLarge {
                path: rel.to_owned(),
                size,
                cap,
            },
            e => self.git_error(rel, e.to_string()),
        })?;
        let tree = Rc::new(CachedTree {
            data,
            lookups: std::cell::Cell::new(0),
            index: std::cell::OnceCell::new(),
        });
        self.trees.borrow_mut().insert(*id, Rc::clone(&tree));
        Ok(tree)
    }

    /// Walks `rel` from the root, following links that stay inside the tree.
    fn resolve(&self, rel: &str) -> Result<GitObject, ReadError> {
        relative(rel)?;
        let mut parts: Vec<String> = rel
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_owned)
            .collect();
        let mut links = 0;
        'walk: loop {
            shallow(rel, &parts)?;
            let mut here = self.root;
            if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
                return Err(ReadError::GitData(rel.to_owned()));
            }
            for (i, part) in parts.iter().enumerate() {
                let Some(entry) = self
                    .tree(rel, &here)?
                    .find(part.as_bytes())
                    .map_err(|e| self.git_error(rel, e))?
                else {
                    return Err(ReadError::NotFound(rel.to_owned()));
                };
                let last = i + 1 == parts.len();
                match entry.kind {
                    EntryKind::Tree => here = entry.id,
                    EntryKind::Blob | EntryKind::BlobExecutable if last => {
                        return Ok(GitObject::Blob(entry.id));
                    }
                    EntryKind::Blob | EntryKind::BlobExecutable => {
                        return Err(ReadError::NotFound(rel.to_owned()));
                    }
                    EntryKind::Commit => return Err(ReadError::Submodule(rel.to_owned())),
                    EntryKind::Link => {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(ReadError::LinkLoop(rel.to_owned()));
                        }
                        let target = self.blob(rel, &entry.id, MAX_LINK_TARGET)?;
                        let target = String::from_utf8(target)
                            .map_err(|_| ReadError::Outside(rel.to_owned()))?;
                        parts = splice_link(rel, &parts, i, &target)?;
                        continue 'walk;
                    }
                }
            }
            return Ok(GitObject::Tree(here));
        }
    }

    /// Blob `id`, refused from its header when it is over `cap`.
    fn blob(&self, rel: &str, id: &gix_hash::oid, cap: u64) -> Result<Vec<u8>, ReadError> {
        match self.checkout.objects.read(id, gix_object::Kind::Blob, cap) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(self.git_error(rel, format!("object {id} is missing"))),
            Err(ReadFailure::TooLarge { size, cap, .. }) => Err(ReadError::TooLarge {
                path: rel.to_owned(),
                size,
                cap,
            }),
            Err(e) => Err(self.git_error(rel, e.to_string())),
        }
    }

    fn read(&self, rel: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
        match self.resolve(rel)? {
            GitObject::Blob(id) => self.blob(rel, &id, cap),
            GitObject::Tree(_) => Err(ReadError::NotAFile(rel.to_owned())),
        }
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, ReadError> {
        let id = if rel.is_empty() {
            self.root
        } else {
            match self.resolve(rel)? {
                GitObject::Tree(id) => id,
                GitObject::Blob(_) => return Err(ReadError::NotAFile(rel.to_owned())),
            }
        };
        let tree = self.tree(rel, &id)?;
        let mut names = Vec::new();
        for e in crate::git::odb::entries(&tree.data) {
            let e = e.map_err(|e| self.git_error(rel, e))?;
            names.push(String::from_utf8_lossy(&e.name).into_owned());
        }
        names.sort();
        Ok(names)
    }
}

/// A tree held in memory: files, directories and symlinks, read under the rules of a
/// directory and a git tree (relative paths only, links followed only while they stay
/// inside, nothing in `.git` or in a directory holding one, size caps). It stands for a
/// repo in the scenario tests, which run the pipeline in-process over files they write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemTree {
    /// How messages name the tree, as a directory's path names it.
    name: String,
    /// Every entry by its path (`/`-separated, without `.`, `..` or empty parts); the
    /// directories above a file are entries too.
    entries: BTreeMap<String, MemEntry>,
}

/// One entry of a [`MemTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemEntry {
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symlink and its target, as written (relative or absolute).
    Link(String),
}

/// What a path inside a [`MemTree`] names, links followed.
enum MemObject<'a> {
    Dir(String),
    File(&'a [u8]),
}

impl MemTree {
    /// An empty tree, named in messages as `name` (`app` gives `app/dovetail.yaml`).
    pub fn new(name: &str) -> MemTree {
        MemTree {
            name: name.to_owned(),
            entries: BTreeMap::new(),
        }
    }

    /// `rel` as an entry key.
    ///
    /// # Panics
    ///
    /// When `rel` is absolute or has `..`: the tree is written by a test, and such a
    /// path is a mistake in the test, not an input to refuse.
    fn key(rel: &str) -> String {
        assert!(
            !rel.starts_with('/') && !rel.split('/').any(|p| p == ".."),
            "`{rel}`: a MemTree entry is named by a path inside it"
        );
        rel.split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Adds `entry` at `rel`, with the directories above it, replacing what was there.
    fn put(&mut self, rel: &str, entry: MemEntry) -> &mut MemTree {
        let key = MemTree::key(rel);
        let mut at = 0;
        while let Some(i) = key[at..].find('/') {
            self.entries
                .entry(key[..at + i].to_owned())
                .or_insert(MemEntry::Dir);
            at += i + 1;
        }
        self.remove(&key);
        self.entries.insert(key, entry);
        self
    }

    /// Writes the file `rel` (creating the directories above it).
    ///
    /// # Panics
    ///
    /// When `rel` is absolute or has `..`.
    pub fn file(&mut self, rel: &str, content: impl Into<Vec<u8>>) -> &mut MemTree {
        self.put(rel, MemEntry::File(content.into()))
    }

    /// Makes the directory `rel` (and the ones above it).
    ///
    /// # Panics
    ///
    /// When `rel` is absolute or has `..`.
    pub fn dir(&mut self, rel: &str) -> &mut MemTree {
        self.put(rel, MemEntry::Dir)
    }

    /// Makes `rel` a symlink to `target`, which may lead anywhere: reading through it
    /// is what the rules judge.
    ///
    /// # Panics
    ///
    /// When `rel` is absolute or has `..`.
    pub fn symlink(&mut self, rel: &str, target: &str) -> &mut MemTree {
        self.put(rel, MemEntry::Link(target.to_owned()))
    }

    /// Removes `rel` and everything under it.
    ///
    /// # Panics
    ///
    /// When `rel` is absolute or has `..`.
    pub fn remove(&mut self, rel: &str) -> &mut MemTree {
        let key = MemTree::key(rel);
        let under = format!("{key}/");
        self.entries
            .retain(|k, _| *k != key && !k.starts_with(&under));
        self
    }

    /// The entry at `rel` itself, links not followed: for a test to look at what it
    /// wrote.
    ///
    /// # Panics
    ///
    /// When `rel` is absolute or has `..`.
    pub fn entry(&self, rel: &str) -> Option<&MemEntry> {
        self.entries.get(&MemTree::key(rel))
    }

    /// Whether directory `dir` (a key; `""` for the root) holds a `.git` of any case.
    fn holds_git(&self, dir: &str) -> bool {
        self.list_key(dir)
            .iter()
            .any(|n| n.eq_ignore_ascii_case(".git"))
    }

    /// The names directly under the directory `dir` (a key; `""` for the root), sorted.
    fn list_key(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut names: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| &k[prefix.len()..])
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    }

    /// Walks `rel` from the root as [`GitTree`] does, following links that stay inside
    /// the tree; a directory on the way that holds `.git` is another repository, as
    /// [`DirTree`] judges it.
    fn resolve(&self, rel: &str) -> Result<MemObject<'_>, ReadError> {
        relative(rel)?;
        let mut parts: Vec<String> = rel
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_owned)
            .collect();
        let mut links = 0;
        'walk: loop {
            shallow(rel, &parts)?;
            if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
                return Err(ReadError::GitData(rel.to_owned()));
            }
            let mut here = String::new();
            for (i, part) in parts.iter().enumerate() {
                let path = if here.is_empty() {
                    part.clone()
                } else {
                    format!("{here}/{part}")
                };
                let last = i + 1 == parts.len();
                match self.entries.get(&path) {
                    Some(MemEntry::Dir) => {
                        if !last && self.holds_git(&path) {
                            return Err(ReadError::Submodule(rel.to_owned()));
                        }
                        here = path;
                    }
                    Some(MemEntry::File(bytes)) if last => return Ok(MemObject::File(bytes)),
                    None | Some(MemEntry::File(_)) => {
                        return Err(ReadError::NotFound(rel.to_owned()));
                    }
                    Some(MemEntry::Link(target)) => {
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(ReadError::LinkLoop(rel.to_owned()));
                        }
                        parts = splice_link(rel, &parts, i, target)?;
                        continue 'walk;
                    }
                }
            }
            return Ok(MemObject::Dir(here));
        }
    }

    fn read(&self, rel: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
        match self.resolve(rel)? {
            MemObject::File(bytes) => {
                let size = bytes.len() as u64;
                if size > cap {
                    return Err(ReadError::TooLarge {
                        path: rel.to_owned(),
                        size,
                        cap,
                    });
                }
                Ok(bytes.to_vec())
            }
            MemObject::Dir(_) => Err(ReadError::NotAFile(rel.to_owned())),
        }
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, ReadError> {
        if rel.is_empty() {
            return Ok(self.list_key(""));
        }
        match self.resolve(rel)? {
            MemObject::Dir(key) => Ok(self.list_key(&key)),
            MemObject::File(_) => Err(ReadError::NotAFile(rel.to_owned())),
        }
    }
}

/// `rel` as a path, when it is relative and has no `..`.
fn relative(rel: &str) -> Result<&Path, ReadError> {
    let p = Path::new(rel);
    let clean = !rel.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if clean {
        Ok(p)
    } else {
        Err(ReadError::BadPath(rel.to_owned()))
    }
}

/// The path `parts` with its link at `i` replaced by the link's `target`, `..` resolved:
/// refused where the target is absolute or climbs out of the tree's root.
fn splice_link(
    rel: &str,
    parts: &[String],
    i: usize,
    target: &str,
) -> Result<Vec<String>, ReadError> {
    if target.starts_with('/') {
        return Err(ReadError::Outside(rel.to_owned()));
    }
    let mut next: Vec<String> = parts[..i].to_vec();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if next.pop().is_none() {
                    return Err(ReadError::Outside(rel.to_owned()));
                }
            }
            s => next.push(s.to_owned()),
        }
    }
    next.extend(parts[i + 1..].iter().cloned());
    Ok(next)
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

    /// Regression: `.git` was refused only as a literal path, so a link to
    /// `.git/config` rendered the git config (and any token in a remote URL).
    #[test]
    fn links_into_git_data_and_nested_repositories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/config"), "url = https://token@host/x").unwrap();
        std::os::unix::fs::symlink(".git/config", dir.path().join("cfg")).unwrap();
        std::os::unix::fs::symlink(".git", dir.path().join("g")).unwrap();
        std::os::unix::fs::symlink(".GIT", dir.path().join("upper")).unwrap();
        fs::create_dir_all(dir.path().join("vendor/lib")).unwrap();
        fs::write(
            dir.path().join("vendor/lib/.git"),
            "gitdir: ../../.git/modules/lib",
        )
        .unwrap();
        fs::write(dir.path().join("vendor/lib/app.ini"), "x").unwrap();
        fs::write(dir.path().join("ok.ini"), "x").unwrap();
        let tree = DirTree::open(dir.path()).unwrap();
        assert!(matches!(tree.read("cfg", 100), Err(ReadError::GitData(_))));
        assert!(matches!(
            tree.read("g/config", 100),
            Err(ReadError::GitData(_))
        ));
        assert!(matches!(
            tree.read(".git/config", 100),
            Err(ReadError::GitData(_))
        ));
        assert!(matches!(
            tree.read("vendor/lib/app.ini", 100),
            Err(ReadError::Submodule(_))
        ));
        assert_eq!(tree.read("ok.ini", 100).unwrap(), b"x");
    }

    /// A link at the bottom of thousands of directories made every read of it walk them
    /// all again after each of its links (seconds a file): a path, links followed, is
    /// at most [`MAX_PATH_DEPTH`] deep.
    #[test]
    fn a_path_leading_too_deep_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let deep = "d/".repeat(MAX_PATH_DEPTH + 1);
        fs::create_dir_all(dir.path().join(&deep)).unwrap();
        fs::write(dir.path().join(&deep).join("f"), "x").unwrap();
        std::os::unix::fs::symlink(format!("{deep}f"), dir.path().join("l")).unwrap();
        let shallow = "d/".repeat(MAX_PATH_DEPTH);
        fs::write(dir.path().join(&shallow).join("g"), "y").unwrap();
        let tree = DirTree::open(dir.path()).unwrap();
        assert_eq!(tree.read(&format!("{shallow}g"), 10).unwrap(), b"y");
        for path in [format!("{deep}f"), "l".to_owned()] {
            assert!(
                matches!(tree.read(&path, 10), Err(ReadError::TooDeep(_))),
                "{path}"
            );
        }
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
    /// The rules of [`links_out_of_the_tree_are_refused`], in memory.
    #[test]
    fn memory_links_out_of_the_tree_are_refused() {
        let mut mem = MemTree::new("app");
        mem.file("ok.txt", "fine")
            .symlink("link", "/etc/passwd")
            .symlink("up", "../outside/secret")
            .symlink("inner", "ok.txt")
            .symlink("sub/back", "../ok.txt")
            .symlink("dangling", "/nonexistent/x")
            .symlink("loop", "loop");
        let tree = Tree::Memory(mem);
        assert_eq!(tree.read("ok.txt", 100).unwrap(), b"fine");
        assert_eq!(tree.read("inner", 100).unwrap(), b"fine");
        assert_eq!(tree.read("sub/back", 100).unwrap(), b"fine");
        assert!(tree.is_file("inner"));
        for outside in ["link", "up", "dangling"] {
            assert!(
                matches!(tree.read(outside, 100), Err(ReadError::Outside(_))),
                "{outside}"
            );
        }
        assert!(matches!(
            tree.read("loop", 100),
            Err(ReadError::LinkLoop(_))
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
        assert_eq!(tree.shown("ok.txt"), "app/ok.txt");
    }

    /// The rules of [`links_into_git_data_and_nested_repositories_are_refused`], in
    /// memory.
    #[test]
    fn memory_links_into_git_data_and_nested_repositories_are_refused() {
        let mut mem = MemTree::new("app");
        mem.file(".git/config", "url = https://token@host/x")
            .symlink("cfg", ".git/config")
            .symlink("g", ".git")
            .symlink("upper", ".GIT")
            .file("vendor/lib/.git", "gitdir: ../../.git/modules/lib")
            .file("vendor/lib/app.ini", "x")
            .file("ok.ini", "x");
        let tree = Tree::Memory(mem);
        for git in ["cfg", "g/config", "upper/config", ".git/config"] {
            assert!(
                matches!(tree.read(git, 100), Err(ReadError::GitData(_))),
                "{git}"
            );
        }
        assert!(matches!(
            tree.read("vendor/lib/app.ini", 100),
            Err(ReadError::Submodule(_))
        ));
        assert_eq!(tree.read("ok.ini", 100).unwrap(), b"x");
    }

    #[test]
    fn memory_size_cap_non_files_and_listing() {
        let mut mem = MemTree::new("operator");
        mem.file("big", vec![b'a'; 101])
            .dir("sub")
            .file("tenants/acme/shop.yaml", "x")
            .file("tenants/acme/blog.yaml", "x")
            .file("tenants/acme-two/x.yaml", "x");
        let tree = Tree::Memory(mem);
        assert!(matches!(
            tree.read("big", 100),
            Err(ReadError::TooLarge { size: 101, .. })
        ));
        assert!(matches!(tree.read("sub", 100), Err(ReadError::NotAFile(_))));
        assert_eq!(tree.list("").unwrap(), ["big", "sub", "tenants"]);
        assert_eq!(tree.list("tenants").unwrap(), ["acme", "acme-two"]);
        assert_eq!(
            tree.list("tenants/acme").unwrap(),
            ["blog.yaml", "shop.yaml"]
        );
        assert!(tree.exists("tenants/acme") && !tree.is_file("tenants/acme"));
    }
}
