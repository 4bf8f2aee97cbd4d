//! The checks behind dovetail's fuzz targets, one function per target.
//!
//! Each function takes the raw fuzz input and panics only when an invariant breaks, so a
//! fuzz target is one line and the same function can replay the kept corpus and every
//! saved crash in a normal `cargo test` (`tests/fuzz_corpus.rs` includes this file with
//! `#[path]`). It therefore uses only what dovetail's own tests can use:
//! dovetail, its dependencies (`age`, `base64`, `serde_json`, `clap`) and dev-dependencies
//! (tempfile). The fixed inputs come from `examples/` and `fuzz/fixtures/` through
//! `include_str!`, which resolves relative to this file wherever it is included from.

use std::cell::RefCell;
use std::path::PathBuf;

use clap::Parser as _;
use dovetail::input::yaml::{self, Node, NodeKind, Path as YPath, Pos, YamlError};

/// The age identity the fixed secrets are encrypted to (a fuzzing key, not a secret).
pub const IDENTITY: &str =
    "AGE-SECRET-KEY-18QFVJGCU9RTD7CXXS3QF66600Q9EK34ERLNTQ50KGFN80JXR0QHQ0VYSPV";
/// The app the fixed secrets are bound to: examples/django's allocation.
pub const TENANT: &str = "acme";
pub const APP: &str = "shop";
/// The key `secrets_form` decrypts as.
pub const KEY: &str = "SECRET_KEY";

/// A real armored value: `dovetail/v1 acme/shop SECRET_KEY` + a value, to [`IDENTITY`].
pub const ARMORED: &str = include_str!("../fixtures/armored.txt");

const APP_YAML: &str = include_str!("../../examples/django/app/dovetail.yaml");
const LOGGING_INI: &str = include_str!("../../examples/django/app/config/logging.ini");
const PLATFORM_YAML: &str = include_str!("../../examples/django/operator/platform.yaml");
const ALLOCATION_YAML: &str = include_str!("../../examples/django/operator/tenants/acme/shop.yaml");
const SECRETS_YAML: &str = include_str!("../fixtures/secrets.yaml");

pub fn identity() -> age::x25519::Identity {
    IDENTITY.parse().expect("the fixed identity parses")
}

// ---------------------------------------------------------------------------------------
// yaml

/// `yaml::parse` on any UTF-8: never panics; a tree it returns is within the caps the
/// module documents (nodes, expanded bytes, nesting depth, aliases included), converts to
/// JSON, and `locate` finds every path of it where it is.
pub fn yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(root) = yaml::parse(text) else {
        return;
    };
    let mut size = Size::default();
    measure(&root, 0, &mut size);
    assert!(
        size.nodes <= yaml::MAX_NODES,
        "{} nodes, over MAX_NODES",
        size.nodes
    );
    assert!(
        size.bytes <= yaml::MAX_EXPANDED_BYTES,
        "{} bytes of scalar text, over MAX_EXPANDED_BYTES",
        size.bytes
    );
    assert!(
        size.depth <= yaml::MAX_DEPTH,
        "nested {} levels deep, over MAX_DEPTH",
        size.depth
    );
    let _ = root.to_json();
    let mut paths = Vec::new();
    collect_paths(&root, &YPath::root(), root.pos, &mut paths);
    for (path, want) in &paths {
        assert!(root.at(path).is_some(), "at({path}) found nothing");
        assert_eq!(root.locate(path), *want, "locate({path})");
        // A missing child points at the nearest ancestor that exists.
        let missing = path.key("\u{0}missing");
        assert_eq!(root.locate(&missing), *want, "locate({missing})");
        assert_eq!(root.locate(&path.index(usize::MAX)), *want);
    }
}

#[derive(Default)]
struct Size {
    nodes: usize,
    bytes: usize,
    depth: usize,
}

/// Counts as `yaml::parse`'s budget does: every node, keys included, and the text of
/// every key and scalar; `depth` is the deepest collection nesting (the root collection
/// is level 1).
fn measure(node: &Node, depth: usize, size: &mut Size) {
    size.nodes += 1;
    match &node.kind {
        NodeKind::Scalar(s) => size.bytes += s.text.len(),
        NodeKind::Seq(items) => {
            size.depth = size.depth.max(depth + 1);
            for n in items {
                measure(n, depth + 1, size);
            }
        }
        NodeKind::Map(entries) => {
            size.depth = size.depth.max(depth + 1);
            for e in entries {
                size.nodes += 1;
                size.bytes += e.key.len();
                measure(&e.value, depth + 1, size);
            }
        }
    }
}

/// Every path of the tree with where `locate` must point for it (at most a few thousand).
fn collect_paths(node: &Node, path: &YPath, at: Pos, out: &mut Vec<(YPath, Pos)>) {
    if out.len() >= 4096 {
        return;
    }
    out.push((path.clone(), at));
    match &node.kind {
        NodeKind::Scalar(_) => {}
        NodeKind::Seq(items) => {
            for (i, n) in items.iter().enumerate() {
                collect_paths(n, &path.index(i), n.pos, out);
            }
        }
        NodeKind::Map(entries) => {
            for e in entries {
                collect_paths(&e.value, &path.key(&e.key), e.key_pos, out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// documents

/// Which input file the fuzz input replaces: the first byte, modulo 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `app/dovetail.yaml` (the customer's).
    App,
    /// `operator/tenants/acme/shop.yaml`.
    Allocation,
    /// `operator/platform.yaml`.
    Platform,
    /// `app/secrets.yaml` (the customer's, named by the fixed app).
    Secrets,
}

impl Which {
    pub fn from_byte(b: u8) -> Which {
        match b % 4 {
            0 => Which::App,
            1 => Which::Allocation,
            2 => Which::Platform,
            _ => Which::Secrets,
        }
    }

    fn rel(self) -> &'static str {
        match self {
            Which::App => "app/dovetail.yaml",
            Which::Allocation => "operator/tenants/acme/shop.yaml",
            Which::Platform => "operator/platform.yaml",
            Which::Secrets => "app/secrets.yaml",
        }
    }

    fn base(self) -> String {
        match self {
            // The example app, with the secrets file named.
            Which::App => format!("{APP_YAML}secrets: secrets.yaml\n"),
            Which::Allocation => ALLOCATION_YAML.to_owned(),
            Which::Platform => PLATFORM_YAML.to_owned(),
            Which::Secrets => SECRETS_YAML.to_owned(),
        }
    }
}

/// The base text of each input file, for seeding: the fuzz input that renders the
/// example unchanged except for `which`.
pub fn base_document(which: Which) -> String {
    which.base()
}

/// A scratch copy of examples/django (app with a secrets file, operator repo, identity),
/// one per thread, made once; each run overwrites one file and puts it back after.
struct Workspace {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// The file holding a fuzz input, if a run did not put it back (it panicked).
    dirty: Option<Which>,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("dovetail-fuzz-")
            .tempdir()
            .expect("a temp dir");
        let root = dir.path().to_path_buf();
        for d in ["app/config", "operator/tenants/acme"] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("app/config/logging.ini"), LOGGING_INI).expect("write");
        std::fs::write(root.join("key.txt"), format!("{IDENTITY}\n")).expect("write");
        for w in [
            Which::App,
            Which::Allocation,
            Which::Platform,
            Which::Secrets,
        ] {
            std::fs::write(root.join(w.rel()), w.base()).expect("write");
        }
        Workspace {
            _dir: dir,
            root,
            dirty: None,
        }
    }

    fn arg(&self, rel: &str) -> String {
        self.root
            .join(rel)
            .to_str()
            .expect("UTF-8 temp path")
            .to_owned()
    }
}

thread_local! {
    static WORKSPACE: RefCell<Option<Workspace>> = const { RefCell::new(None) };
}

/// One command line, run in-process the way `main` runs it: the result, stdout, stderr.
/// The environment is empty (nothing from the fuzzing process's own leaks in) and the
/// working directory is the workspace.
fn run_cli(ws: &Workspace, args: &[&str]) -> (Result<(), dovetail::Error>, Vec<u8>, String) {
    let cli = dovetail::cli::Cli::try_parse_from(args).expect("the harness's command line parses");
    let env = dovetail::cli::Environment::of(&[], Some(ws.root.clone()));
    let mut input = std::io::empty();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let result = dovetail::run(
        cli,
        dovetail::Io {
            input: &mut input,
            out: &mut out,
            err: &mut err,
            env: &env,
        },
    );
    (result, out, String::from_utf8_lossy(&err).into_owned())
}

/// The app, allocation, platform and secrets documents end to end: the first byte picks
/// the file (see [`Which`]), the rest is its content; the other three are
/// examples/django's (the app naming `secrets.yaml`, whose values decrypt with
/// [`IDENTITY`]). Runs `render` as the CLI does, then `explain` when it rendered, and
/// the customer-only `validate --format github` when the customer's files changed.
///
/// Invariants: nothing panics; no diagnostic is dovetail's own bug (code DT901, "please
/// report it"); a refusal names at least one problem; a render is non-empty and every
/// document of it reads back as YAML; `explain` works wherever `render` did; GitHub
/// annotations stay one per line.
pub fn documents(data: &[u8]) {
    let Some((&first, content)) = data.split_first() else {
        return;
    };
    let which = Which::from_byte(first);
    WORKSPACE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ws = slot.get_or_insert_with(Workspace::new);
        if let Some(w) = ws.dirty.take() {
            std::fs::write(ws.root.join(w.rel()), w.base()).expect("restore a base file");
        }
        let file = ws.root.join(which.rel());
        ws.dirty = Some(which);
        std::fs::write(&file, content).expect("write the fuzz input");
        check_documents(ws, which);
        std::fs::write(&file, which.base()).expect("restore the base file");
        ws.dirty = None;
    });
}

fn check_documents(ws: &Workspace, which: Which) {
    let app = ws.arg("app");
    let operator = ws.arg("operator");
    let key = ws.arg("key.txt");
    let inputs = [
        "--app",
        app.as_str(),
        "--operator",
        operator.as_str(),
        "--allocation",
        "acme/shop",
        "--identity",
        key.as_str(),
    ];
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter()
            .chain(inputs.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    let args = with(&["dovetail", "render"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (result, out, err) = run_cli(ws, &args);
    no_internal_error(&err);
    let rendered = match result {
        Ok(()) => {
            assert!(!out.is_empty(), "render succeeded with no output");
            let text = std::str::from_utf8(&out).expect("the render is UTF-8");
            check_stream(text);
            true
        }
        Err(dovetail::Error::Invalid { count }) => {
            assert!(count > 0, "refused with no problem counted; stderr:\n{err}");
            assert!(err.contains("error"), "refused without saying why:\n{err}");
            false
        }
        Err(dovetail::Error::Empty) => false,
        Err(e) => panic!("render failed other than on its inputs: {e}\nstderr:\n{err}"),
    };
    if rendered {
        let args = with(&["dovetail", "explain"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (result, out, err) = run_cli(ws, &args);
        no_internal_error(&err);
        assert!(
            result.is_ok(),
            "render worked but explain failed: {result:?}\n{err}"
        );
        assert!(!out.is_empty(), "explain printed nothing");
    }
    if matches!(which, Which::App | Which::Secrets) {
        // The customer's own check, without the operator repo, in CI's format.
        let (result, _, err) = run_cli(
            ws,
            &[
                "dovetail",
                "validate",
                "--app",
                app.as_str(),
                "--format",
                "github",
            ],
        );
        no_internal_error(&err);
        match result {
            Ok(()) | Err(dovetail::Error::Invalid { .. } | dovetail::Error::Problems { .. }) => {}
            Err(e) => panic!("validate failed other than on its inputs: {e}\nstderr:\n{err}"),
        }
        for line in err.lines() {
            assert!(
                line.starts_with("::error ")
                    || line.starts_with("::warning ")
                    || line.starts_with("note: "),
                "a GitHub annotation spans lines or another line got in: {line:?}"
            );
        }
    }
}

/// Code DT901 (`diag::Code::Internal`) and "please report it" are dovetail's words for
/// its own bug.
fn no_internal_error(err: &str) {
    assert!(
        !err.contains("DT901") && !err.contains("please report it"),
        "dovetail reported its own bug:\n{err}"
    );
}

/// Every document of a rendered stream reads back with dovetail's own YAML reader.
fn check_stream(text: &str) {
    let mut docs = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if line == "---\n" {
            if !current.is_empty() {
                docs.push(std::mem::take(&mut current));
            }
        } else {
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        docs.push(current);
    }
    assert!(!docs.is_empty(), "the render holds no document");
    for doc in docs {
        match yaml::parse(&doc) {
            Ok(node) => assert!(
                matches!(node.kind, NodeKind::Map(_)),
                "a rendered document is not a mapping:\n{doc}"
            ),
            // Our reader's caps are for input files; a big ConfigMap may exceed them.
            Err(YamlError::TooManyNodes { .. } | YamlError::TooLarge { .. }) => {}
            Err(e) => panic!("a rendered document does not read back ({e}):\n{doc}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// secrets_form

/// `secrets::check_form` and `secrets::decrypt` (with [`IDENTITY`] and the binding
/// `acme/shop SECRET_KEY`) on any UTF-8: never panic; `decrypt` refuses whatever
/// `check_form` refuses, with the same error; an error is one line.
pub fn secrets_form(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let form = dovetail::crypto::check_form(text);
    let binding = dovetail::crypto::Binding {
        tenant: TENANT,
        app: APP,
        key: KEY,
    };
    let ids = [identity()];
    let result = dovetail::crypto::decrypt(text, &ids, &binding);
    match (&form, &result) {
        (Err(f), Err(d)) => assert_eq!(f, d, "decrypt and check_form disagree"),
        (Err(f), Ok(_)) => panic!("decrypt accepted what check_form refused: {f}"),
        (Ok(()), _) => {}
    }
    if let Err(e) = &result {
        let _ = e.hint();
        let message = e.to_string();
        assert!(!message.contains('\n'), "a multi-line error: {message:?}");
    }
}

// ---------------------------------------------------------------------------------------
// secrets_file_set

/// `secrets_file::set(text, key, ARMORED)`: the first line of the input is the key (only
/// names `secrets set` accepts, `formats::env_name`), the rest the file. When it gives a
/// file, that file reads as YAML with the same top-level keys in the same order, `data`
/// holds the key with exactly the armored value (in place if it was there, else last)
/// and every other entry unchanged and in order, and the text differs from the old one
/// (with a final newline) in one run of lines: the new entry's.
pub fn secrets_file_set(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (key, text) = input.split_once('\n').unwrap_or((input, ""));
    if !dovetail::input::formats::env_name(key) {
        return;
    }
    let Ok(out) = dovetail::input::secrets_file::set(text, key, ARMORED) else {
        return;
    };
    // `set` ends the last line as the file ends its first: a CRLF file gets `\r\n`.
    let before = if text.ends_with(['\n', '\r']) || text.is_empty() {
        text.to_owned()
    } else {
        format!("{text}{}", dovetail::input::secrets_file::newline_of(text))
    };
    let Some((old_entries, new_entries)) = edited_secrets_file(&before, &out) else {
        return;
    };
    let mut want = old_entries.clone();
    let value = serde_json::Value::String(ARMORED.to_owned());
    match want.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => want.push((key.to_owned(), value)),
    }
    assert_eq!(
        new_entries, want,
        "`data` is not the old one with `{key}` set:\n{out}"
    );
    // Byte for byte: one contiguous run of lines replaced by the new entry's lines.
    let a = yaml_lines(&before);
    let b = yaml_lines(&out);
    let max = a.len().min(b.len());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max - prefix)
        .take_while(|(x, y)| x == y)
        .count();
    // The key line and the value's lines; an empty `data` has its own line rewritten too.
    let entry_lines = ARMORED.lines().count() + 1 + usize::from(old_entries.is_empty());
    assert!(
        b.len() - prefix - suffix <= entry_lines,
        "more than the new entry changed ({} of {} lines differ):\n--- before\n{before}--- after\n{out}",
        b.len() - prefix - suffix,
        b.len()
    );
}

// ---------------------------------------------------------------------------------------
// secrets_file_unset

/// `secrets_file::unset(text, keys)`: the first line of the input is the keys, separated
/// by spaces (only names `secrets unset` accepts, `formats::env_name`), the rest the
/// file. When it gives a file, that file reads as YAML with the same top-level keys in
/// the same order and values, `data` holds every other entry unchanged and in order,
/// and the text is the old one with at most one run of lines cut out per key (the
/// `data:` line alone may change, to `data: {}`, when no entry is left).
pub fn secrets_file_unset(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (first, text) = input.split_once('\n').unwrap_or((input, ""));
    let mut keys: Vec<&str> = first
        .split(' ')
        .filter(|k| dovetail::input::formats::env_name(k))
        .collect();
    keys.dedup();
    if keys.is_empty() {
        return;
    }
    let Ok(out) = dovetail::input::secrets_file::unset(text, &keys) else {
        return;
    };
    let Some((old_entries, new_entries)) = edited_secrets_file(text, &out) else {
        return;
    };
    let want: Vec<_> = old_entries
        .into_iter()
        .filter(|(k, _)| !keys.contains(&k.as_str()))
        .collect();
    assert_eq!(
        new_entries, want,
        "`data` is not the old one without {keys:?}:\n{out}"
    );
    // Byte for byte: the new lines are the old ones in order, with lines cut out; only
    // the `data:` line may be written anew (`data: {}`), once no entry is left.
    let a = yaml_lines(text);
    let b = yaml_lines(&out);
    let bare = |l: &str| l.trim_end_matches(['\n', '\r']).to_owned();
    let data_line = |l: &str| {
        let quotes = ['"', '\''];
        // A byte-order mark may open the file, before `data`.
        l.trim_start_matches('\u{feff}')
            .trim_start_matches(quotes)
            .strip_prefix("data")
            .is_some_and(|r| r.trim_start_matches(quotes).trim_start().starts_with(':'))
    };
    let mut old_lines = a.iter();
    for line in &b {
        let kept = old_lines
            .any(|o| bare(o) == bare(line) || (want.is_empty() && data_line(o) && data_line(line)));
        assert!(
            kept,
            "a line that was not there, or out of order: {line:?}\n--- before\n{text}--- after\n{out}"
        );
    }
}

/// A secrets file's `data` entries, in order, as JSON.
type DataEntries = Vec<(String, serde_json::Value)>;

/// The `data` entries of a secrets file before and after an edit (`None` when the edit
/// outgrew the parser's limits), once checked that the edit changed nothing else: the
/// same top-level keys in the same order, each but `data` with the same value.
fn edited_secrets_file(before: &str, out: &str) -> Option<(DataEntries, DataEntries)> {
    let old = yaml::parse(before).expect("the edit gave a file for text that is not YAML");
    let new = match yaml::parse(out) {
        Ok(n) => n,
        Err(YamlError::TooManyNodes { .. } | YamlError::TooLarge { .. }) => return None,
        Err(e) => panic!("the edited file is not YAML ({e}):\n{out}"),
    };
    let top = |n: &Node| -> Vec<String> {
        match &n.kind {
            NodeKind::Map(entries) => entries.iter().map(|e| e.key.clone()).collect(),
            _ => Vec::new(),
        }
    };
    assert_eq!(top(&old), top(&new), "the top-level keys changed:\n{out}");
    for k in top(&old) {
        if k != "data" {
            assert_eq!(
                old.get(&k).map(Node::to_json),
                new.get(&k).map(Node::to_json),
                "`{k}` changed:\n{out}"
            );
        }
    }
    let entries = |n: &Node| -> DataEntries {
        match n.get("data").map(|d| &d.kind) {
            Some(NodeKind::Map(entries)) => entries
                .iter()
                .map(|e| (e.key.clone(), e.value.to_json()))
                .collect(),
            _ => Vec::new(),
        }
    };
    Some((entries(&old), entries(&new)))
}

/// `text` cut after each line break as YAML counts them: `\n`, `\r\n`, and a lone `\r`.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\n', '\r']) {
        let end = if rest[i..].starts_with("\r\n") {
            i + 2
        } else {
            i + 1
        };
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

// ---------------------------------------------------------------------------------------
// known_hosts

/// The fixed host key the `known_hosts` target looks up (an ssh-ed25519 key blob).
pub const HOST_KEY: &[u8] =
    b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";

/// `known_hosts::check`: the first byte picks the port (22 when even, else 2222), the
/// first line the host, the rest is the file. Invariants: no panic; no lookup takes a
/// second; the verdict is the same for the host in upper case; a file with a line for
/// exactly this host and key appended says Match (or Revoked, if a revoked line already
/// matched); a revocation prepended always wins.
pub fn known_hosts(data: &[u8]) {
    use base64::Engine as _;
    use dovetail::git::known_hosts::{Verdict, check};
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let port: u16 = if first % 2 == 0 { 22 } else { 2222 };
    let (host, text) = rest.split_once('\n').unwrap_or((rest, ""));
    let kind = "ssh-ed25519";
    // Linear work: a file of a few kB is read in microseconds, even in a debug build.
    let check = |text: &str, host: &str, port: u16, kind: &str, key: &[u8]| {
        let start = std::time::Instant::now();
        let verdict = check(text, host, port, kind, key);
        let took = start.elapsed();
        assert!(
            took < std::time::Duration::from_secs(1),
            "known_hosts::check took {took:?} for a {}-byte file and host {host:?}",
            text.len()
        );
        verdict
    };
    let verdict = check(text, host, port, kind, HOST_KEY);
    assert_eq!(
        check(text, &host.to_ascii_uppercase(), port, kind, HOST_KEY),
        verdict,
        "the verdict depends on the host's case"
    );
    // The properties below hold for host names that are literal patterns.
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return;
    }
    let name = if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(HOST_KEY);
    let listed = format!("{text}\n{name} {kind} {b64}\n");
    let after = check(&listed, host, port, kind, HOST_KEY);
    match verdict {
        Verdict::Revoked => assert_eq!(after, Verdict::Revoked),
        _ => assert_eq!(
            after,
            Verdict::Match,
            "a line for exactly this host and key"
        ),
    }
    let revoked = format!("@revoked {name} {kind} {b64}\n{text}");
    assert_eq!(
        check(&revoked, host, port, kind, HOST_KEY),
        Verdict::Revoked,
        "a revoked key was accepted"
    );
}

// ---------------------------------------------------------------------------------------
// git_url

/// `git::GitSpec::parse`, `argocd::normalize_repo_url`, `argocd::normalize_path`,
/// `git::Rev::parse` and `argocd::ArgoEnv::from_vars` on any UTF-8. Invariants: no
/// panic; a git location prints back (`URL#REF`) as the same location; a normalized URL
/// holds none of what ends a URL's authority, and its host is lowercase; normalized
/// paths are fixed points without empty or `.` segments; ArgoCD's variables give an
/// Application name that is a DNS subdomain.
pub fn git_url(data: &[u8]) {
    use dovetail::git::{GitSpec, Rev};
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(Some(spec)) = GitSpec::parse(s) {
        let again = GitSpec::parse(&spec.to_string());
        assert!(
            matches!(&again, Ok(Some(g)) if *g == spec),
            "`{spec}` reads back as {again:?}"
        );
    }
    if let Ok(Rev::Commit(c)) = Rev::parse(s) {
        assert!(c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    if let Some(n) = dovetail::argocd::normalize_repo_url(s) {
        assert!(
            !n.chars()
                .any(|c| matches!(c, '?' | '#' | '\\') || c.is_whitespace() || c.is_control()),
            "`{n}`"
        );
        let host = n.split_once(':').map_or("", |(_, rest)| {
            rest.split_once('/').map_or(rest, |(host, _)| host)
        });
        assert_eq!(host, host.to_ascii_lowercase(), "`{n}`");
    }
    let p = dovetail::argocd::normalize_path(s);
    assert_eq!(dovetail::argocd::normalize_path(&p), p);
    assert!(p.is_empty() || !p.split('/').any(|seg| seg.is_empty() || seg == "."));
    // ArgoCD's variables, NUL-separated, in the order below.
    let mut parts = s.split('\0');
    let vars = [
        "ARGOCD_APP_NAME",
        "ARGOCD_APP_NAMESPACE",
        "ARGOCD_APP_SOURCE_REPO_URL",
        "ARGOCD_APP_SOURCE_PATH",
        "ARGOCD_APP_REVISION",
        "PARAM_OPERATOR_REVISION",
    ];
    let values: Vec<(&str, Option<&str>)> = vars.iter().map(|v| (*v, parts.next())).collect();
    let get = |k: &str| {
        values
            .iter()
            .find(|(v, _)| *v == k)
            .and_then(|(_, x)| x.map(str::to_owned))
    };
    if let Ok(env) = dovetail::argocd::ArgoEnv::from_vars(get) {
        assert!(dovetail::input::formats::dns_subdomain(&env.app_name));
        if let Some(r) = &env.operator_revision {
            assert!(dovetail::git::revision(r));
        }
    }
}

// ---------------------------------------------------------------------------------------
// formats

/// The schema formats of `input/formats.rs`, `quantity::Quantity` and `cidr::Cidr` on any
/// UTF-8. Invariants: no panic; every CPU and byte size the schema's formats accept is a
/// quantity dovetail can compute with; quantities print back as themselves (CPU) or as
/// the next whole byte (bytes); sums and products saturate instead of wrapping; see
/// [`cidrs`] for IP blocks.
pub fn formats(data: &[u8]) {
    use dovetail::input::formats as f;
    use dovetail::quantity::Quantity;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let checks: [fn(&str) -> bool; 22] = [
        f::cidr,
        f::dns_label,
        f::dns_subdomain,
        f::process_name,
        f::process_key,
        f::port_name,
        f::env_name,
        f::config_key,
        f::plan_name,
        f::hostname,
        f::domain,
        f::git_revision,
        f::relative_path,
        f::absolute_path,
        f::http_path,
        f::printable,
        f::age_recipient,
        f::cpu,
        f::bytes,
        f::divisor,
        f::image,
        dovetail::git::revision,
    ];
    for check in checks {
        let _ = check(s);
    }
    cidrs(s);
    let q = Quantity::parse(s);
    if f::cpu(s) || f::bytes(s) {
        assert!(
            q.is_some(),
            "the schema accepts `{s}` but Quantity::parse refuses it"
        );
    }
    let Some(q) = q else {
        return;
    };
    let _ = (q.is_zero(), q.whole(), q.milli());
    let _ = q.plus(q).times(u32::MAX).plus(q);
    if f::cpu(s) {
        let text = q.cpu_text();
        assert_eq!(Quantity::parse(&text), Some(q), "`{s}` prints as `{text}`");
    }
    let text = q.bytes_text();
    if let Some(back) = Quantity::parse(&text) {
        assert!(
            back >= q && back.milli() < q.milli() + 1000,
            "`{s}` prints as bytes `{text}`"
        );
    }
}

/// `cidr::Cidr::parse` on each line, and `cidr::exceptions` for the first as the rule,
/// the rest as the operator's `except`, and the metadata and private blocks as the forced
/// ones. Invariants: a block prints back as itself and is never IPv4-mapped IPv6; what
/// `formats::cidr` accepts parses; an accepted rule reaches no forced block: each forced
/// block inside the rule is inside one of its exceptions, and no forced block holds the
/// rule; every exception lies strictly inside the rule.
pub fn cidrs(s: &str) {
    use dovetail::cidr::{self, Cidr};
    let blocks: Vec<Cidr> = s.lines().filter_map(Cidr::parse).collect();
    for line in s.lines() {
        let parsed = Cidr::parse(line);
        if dovetail::input::formats::cidr(line) {
            assert!(
                parsed.is_some(),
                "formats::cidr accepts `{line}`, Cidr::parse refuses it"
            );
        }
        if let Some(c) = parsed {
            let text = c.to_string();
            assert_eq!(Cidr::parse(&text), Some(c), "`{line}` prints as `{text}`");
            assert!(c.contains(&c));
            assert!(
                !text.contains("::ffff:") || !text.contains('.'),
                "an IPv4-mapped block: {text}"
            );
        }
    }
    let Some((rule, given)) = blocks.split_first() else {
        return;
    };
    for forced in [cidr::METADATA, cidr::PRIVATE] {
        let forced: Vec<Cidr> = forced
            .iter()
            .map(|f| Cidr::parse(f).expect("a built-in block"))
            .collect();
        if let Ok(except) = cidr::exceptions(rule, given, &forced) {
            for f in &forced {
                assert!(
                    !f.contains(rule),
                    "rule {rule} lies inside forced {f} and was accepted"
                );
                if rule.contains(f) {
                    assert!(
                        except.iter().any(|e| e.contains(f)),
                        "rule {rule} reaches forced {f}: except {except:?}"
                    );
                }
            }
            for e in &except {
                assert!(
                    rule.contains(e) && e != rule,
                    "exception {e} not strictly inside {rule}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// emit

/// The YAML writer (`emit::output::to_yaml`: the fast block writer, serde-saphyr where it
/// declines) against serde-saphyr alone, on a JSON document, or on any other UTF-8 put as
/// a key, a value and a list item. Invariant: byte-identical results, errors included.
pub fn emit(data: &[u8]) {
    use dovetail::emit::output::{to_yaml, to_yaml_reference};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let value = serde_json::from_str::<serde_json::Value>(text).unwrap_or_else(
        |_| serde_json::json!({ text: text, "value": text, "list": [text, {"key": text}] }),
    );
    let fast = to_yaml(&value).map_err(|e| e.to_string());
    let reference = to_yaml_reference(&value).map_err(|e| e.to_string());
    assert_eq!(fast, reference, "for {value}");
}
