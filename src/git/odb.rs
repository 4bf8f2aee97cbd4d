//! Reading objects out of a cached bare repository, verified, with gitoxide.
//!
//! Fetching goes through git2 (libgit2), but libgit2 cannot start without initialising
//! OpenSSL and loading the system's whole CA bundle, about 30 ms per process, which a
//! warm-cache render (no network at all) must not pay. gitoxide's object database crates
//! read the same repository format without any TLS, so renders read with them and only a
//! fetch pays for libgit2. Every object read is hashed and compared with its id: a
//! corrupt cache shows up as an error here, never as content.

use std::path::Path;

use gix_hash::{ObjectId, oid};
use gix_object::{Find, FindHeader, Kind};

/// Largest commit or tree object read: a hostile repo must not make a render inflate
/// gigabytes to list a directory.
pub const MAX_META_BYTES: u64 = 4 * 1024 * 1024;

/// The object database of one bare repository.
pub struct Objects {
    odb: gix_odb::Handle,
}

/// Why an object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    /// Larger than the caller's cap (its header said so): the repo's content, not the
    /// cache's fault.
    #[error("{kind} {id} is {size} bytes, over the {cap}-byte limit")]
    TooLarge {
        /// The object.
        id: ObjectId,
        /// What it is.
        kind: Kind,
        /// Its size.
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// A sound object of another kind than asked for (a tag's or a blob's id given where
    /// a commit's is wanted): the asker's mistake, not the cache's fault.
    #[error("{id} is a {found}, not a {want}")]
    WrongKind {
        /// The object.
        id: ObjectId,
        /// What it is.
        found: Kind,
        /// What was asked for.
        want: Kind,
    },
    /// The database could not give it as its id promises.
    #[error("{0}")]
    Corrupt(String),
}

/// One entry of a tree object.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file name (not UTF-8 checked; git allows any bytes but `/` and NUL).
    pub name: Vec<u8>,
    /// What the entry is.
    pub kind: gix_object::tree::EntryKind,
    /// The object it names.
    pub id: ObjectId,
}

impl Objects {
    /// Opens the object database of the bare repository at `repo`.
    pub fn open(repo: &Path) -> Result<Objects, String> {
        let objects = repo.join("objects");
        if !repo.join("HEAD").is_file() || !objects.is_dir() {
            return Err("not a git repository (no HEAD or objects/)".to_owned());
        }
        let odb = gix_odb::at(objects, gix_hash::Kind::Sha1).map_err(|e| e.to_string())?;
        Ok(Objects { odb })
    }

    /// The object `id` of kind `want`, its hash checked; `None` when it is absent. An
    /// object over `cap` bytes is refused from its header, before it is inflated.
    pub fn read(&self, id: &oid, want: Kind, cap: u64) -> Result<Option<Vec<u8>>, ReadFailure> {
        match self.header(id).map_err(ReadFailure::Corrupt)? {
            None => return Ok(None),
            // The kind first: an id of another kind is refused as such whatever its size.
            Some((found, _)) if found != want => {
                return Err(ReadFailure::WrongKind {
                    id: id.to_owned(),
                    found,
                    want,
                });
            }
            Some((kind, size)) if size > cap => {
                return Err(ReadFailure::TooLarge {
                    id: id.to_owned(),
                    kind,
                    size,
                    cap,
                });
            }
            Some(_) => {}
        }
        let corrupt = |e: String| ReadFailure::Corrupt(e);
        let mut buf = Vec::new();
        let Some(data) = self
            .odb
            .try_find(id, &mut buf)
            .map_err(|e| corrupt(e.to_string()))?
        else {
            return Ok(None);
        };
        if !hash_matches(data.kind, data.data, id) {
            return Err(corrupt(format!(
                "object {id} does not hash to its id: the cache is corrupt"
            )));
        }
        if data.kind != want {
            return Err(ReadFailure::WrongKind {
                id: id.to_owned(),
                found: data.kind,
                want,
            });
        }
        let len = data.data.len();
        buf.truncate(len);
        Ok(Some(buf))
    }

    /// The kind and size of object `id` without inflating it, to refuse what is over a
    /// cap.
    fn header(&self, id: &oid) -> Result<Option<(Kind, u64)>, String> {
        Ok(self
            .odb
            .try_header(id)
            .map_err(|e| e.to_string())?
            .map(|h| (h.kind, h.size)))
    }

    /// The root tree of commit `id`, with the tree itself read once so that a commit
    /// whose tree is missing or damaged counts as corrupt here; `None` when the commit is
    /// absent. An object over [`MAX_META_BYTES`] or of another kind is its own failure,
    /// not corruption: rebuilding the cache would fetch the same object again.
    pub fn commit_tree(&self, id: &oid) -> Result<Option<ObjectId>, ReadFailure> {
        let Some(data) = self.read(id, Kind::Commit, MAX_META_BYTES)? else {
            return Ok(None);
        };
        let tree = gix_object::CommitRefIter::from_bytes(&data, gix_hash::Kind::Sha1)
            .tree_id()
            .map_err(|e| ReadFailure::Corrupt(format!("commit {id}: {e}")))?;
        match self.tree_data(&tree) {
            Ok(_) => Ok(Some(tree)),
            // The commit names its tree as a tree: anything else there is damage, not
            // an id given for the wrong kind.
            Err(ReadFailure::WrongKind { found, .. }) => Err(ReadFailure::Corrupt(format!(
                "commit {id} names {tree} as its tree, and it is a {found}"
            ))),
            Err(e) => Err(e),
        }
    }

    /// The entries of tree `id`; a missing tree is corruption, since we only ask for
    /// trees that a commit or tree we hold names.
    pub fn tree(&self, id: &oid) -> Result<Vec<Entry>, ReadFailure> {
        let data = self.tree_data(id)?;
        entries(&data)
            .collect::<Result<_, _>>()
            .map_err(ReadFailure::Corrupt)
    }

    /// The raw bytes of tree `id`, checked, for [`entries`] and [`find_entry`].
    pub fn tree_data(&self, id: &oid) -> Result<Vec<u8>, ReadFailure> {
        self.read(id, Kind::Tree, MAX_META_BYTES)
            .map_err(|e| match e {
                ReadFailure::Corrupt(e) => ReadFailure::Corrupt(format!("tree {id}: {e}")),
                other => other,
            })?
            .ok_or_else(|| ReadFailure::Corrupt(format!("tree {id} is missing")))
    }
}

/// The entries of a tree object's raw bytes, in git's order.
pub fn entries(data: &[u8]) -> impl Iterator<Item = Result<Entry, String>> + '_ {
    gix_object::TreeRefIter::from_bytes(data, gix_hash::Kind::Sha1).map(|e| {
        let e = e.map_err(|e| e.to_string())?;
        Ok(Entry {
            name: e.filename.to_vec(),
            kind: e.mode.kind(),
            id: e.oid.to_owned(),
        })
    })
}

/// The entry `name` of a tree object's raw bytes, found by one pass that copies nothing
/// but the match: a lookup in a directory of ten thousand entries costs a scan, not ten
/// thousand allocations.
pub fn find_entry(data: &[u8], name: &[u8]) -> Result<Option<Entry>, String> {
    for e in gix_object::TreeRefIter::from_bytes(data, gix_hash::Kind::Sha1) {
        let e = e.map_err(|e| e.to_string())?;
        if e.filename == name {
            return Ok(Some(Entry {
                name: e.filename.to_vec(),
                kind: e.mode.kind(),
                id: e.oid.to_owned(),
            }));
        }
    }
    Ok(None)
}

/// Whether `data` of kind `kind` is the object `id`: git's SHA-1 over the header
/// `<kind> <len>\0` and the content.
fn hash_matches(kind: Kind, data: &[u8], id: &oid) -> bool {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(kind.as_bytes());
    h.update(b" ");
    h.update(data.len().to_string().as_bytes());
    h.update([0u8]);
    h.update(data);
    h.finalize().as_slice() == id.as_bytes()
}

/// Reads a 40-hex commit id.
pub fn parse_id(hex: &str) -> Option<ObjectId> {
    ObjectId::from_hex(hex.as_bytes()).ok()
}
