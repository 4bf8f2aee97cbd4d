//! Problems found in the inputs, each with its file, place, field, what is wrong and what
//! to do, gathered so that one run reports all of them.
//!
//! Text form: `dovetail.yaml:14:7: error: processes.web.resources: set by the operator
//! (tenants/acme/shop.yaml); remove it [DT301]`. Every diagnostic carries a stable
//! [`Code`]: CI can match on it, and the README lists them all.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::input::yaml::{Node, Path, Pos};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The input must change; nothing is rendered.
    Error,
    /// Worth a look; rendering goes on.
    Warning,
}

/// Declares the diagnostic codes: each a variant, its stable code and what it means.
macro_rules! codes {
    ($($variant:ident = $code:literal, $summary:literal;)*) => {
        /// What kind of problem a diagnostic is, with a code that never changes meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed, like `DT301`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// What the code means, for the README's table.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary,)*
                }
            }
        }
    };
}

codes! {
    Unreadable = "DT101", "a file cannot be read: missing, outside the repo, through `.git` or a submodule, not a regular file, or over its size cap";
    NotUtf8 = "DT102", "a YAML file is not UTF-8 text";
    YamlSyntax = "DT103", "a YAML file does not parse, or holds something dovetail does not read (tags, several documents, complex keys, unknown anchors)";
    DuplicateKey = "DT104", "a mapping has the same key twice";
    YamlTooBig = "DT105", "a YAML file is nested too deep, or expands (aliases included) to too many nodes or bytes";
    Unappliable = "DT106", "a value holds a character Kubernetes' server-side apply refuses (DEL, a C1 control, U+FFFE, U+FFFF)";
    MoreProblems = "DT109", "more problems in the same file than are shown";
    UnknownField = "DT201", "a field the schema does not know";
    MissingField = "DT202", "a required field is missing";
    WrongType = "DT203", "a value of the wrong type (a string for a number, a float for a whole number, …)";
    BadValue = "DT204", "a value the field does not take (not one of its values, not of its format)";
    OutOfRange = "DT205", "a value, list or text too small or too large";
    ReservedName = "DT206", "a name dovetail, CloudNativePG or the platform uses for its own objects";
    OperatorOwned = "DT301", "the customer sets a field the operator owns";
    Forbidden = "DT302", "a field nobody may set: host namespaces, privilege, placement, …";
    UnknownProcess = "DT401", "a list names a process the app does not have";
    NeedsPort = "DT402", "a Service type or an HTTP health check on a process without `port`";
    InitWithoutWeb = "DT403", "`init.mode: initContainer` in an app without a `web` process";
    ImageUnpinned = "DT404", "an image without a tag or digest";
    RegistryNotAllowed = "DT405", "an image from a registry `platform.yaml` does not allow";
    PlatformVariable = "DT406", "the app sets a variable the platform sets (`DATABASE_URL`, `REDIS_URL`), or a secret also set as plain env";
    FileUnusable = "DT407", "a config file that cannot be mounted: inside `.git`, unreadable, too large in total, or its ConfigMap key too long or taken";
    MountClash = "DT408", "two things mounted at one path in one container";
    FragmentContainer = "DT409", "a fragment's container that cannot be placed: without an image, or another process's";
    NameTaken = "DT410", "a container or volume name taken in the pod, or reserved by dovetail";
    NotInPod = "DT411", "a volume mount names a volume the pod does not have, a `resourceFieldRef` a container, or a probe or lifecycle hook a port its container does not declare";
    ForeignReference = "DT412", "a fragment refers to a Secret or ConfigMap that is not one of the app's pods' own, or to one (or a key) the app does not render";
    ApiServerRefuses = "DT413", "a fragment's container or volume the Kubernetes API server would refuse";
    EmptyDirTooLarge = "DT414", "an `emptyDir` larger than the local storage (or memory) the process gets";
    ServiceNotUsed = "DT415", "`waitFor` names a service the app does not use";
    SecretsFileMismatch = "DT416", "`imagePullSecret` or `secrets:` do not match the secrets file";
    PullSecretFormat = "DT417", "the image pull secret is not a dockerconfigjson";
    TooManySidecars = "DT418", "more sidecars in one process's pods than the platform's `policy.maxSidecars` allows";
    NotAllocated = "DT501", "the app asks for something its allocation does not give (a process, storage, a database, Redis, an Ingress)";
    NotAllowed = "DT502", "a Service type or a hostname the allocation does not allow";
    SingletonScaled = "DT503", "a singleton given more than one replica or autoscaling";
    AutoscalingBelowReplicas = "DT504", "`maxReplicas` below `replicas`";
    UnknownPlan = "DT505", "an allocation names a plan `platform.yaml` does not have";
    BadSize = "DT506", "a size that cannot be used: missing, zero, or too small for Redis";
    ReadWriteOnceShared = "DT507", "a ReadWriteOnce volume that more than one pod would mount";
    PlatformSettingMissing = "DT508", "`platform.yaml` lacks a setting an app needs (an image, a storage class, a database provider, an ingress class)";
    EgressRule = "DT509", "a `network.egress` rule that reaches what no app may, or whose `except` is outside it; a backup `endpointURL` the database may not reach";
    UnusedAllocation = "DT510", "the allocation sizes a process the app does not have";
    AppPathMissing = "DT511", "the allocation's `path` is not a directory of the customer repo at the commit rendered";
    AllocationName = "DT601", "a tenant or app name that cannot name objects";
    NameClaimedTwice = "DT602", "two allocations make the same Application name, or one makes the name of a cluster's fleet Application";
    NamespaceClaimedTwice = "DT603", "two allocations claim one namespace";
    QuotaTooSmall = "DT604", "an explicit quota the allocation's own pods and volumes cannot fit in";
    UnknownCluster = "DT605", "an allocation names a cluster `platform.yaml` does not declare";
    RestoreImpossible = "DT606", "an allocation's `restore` that cannot run: no backups for the app, or no new generation for the restored database to archive to";
    DomainClaimedTwice = "DT607", "two tenants' allocations may use one hostname: the same domain, or a wildcard over the other's";
    SecretForm = "DT701", "a secret value is not a well-formed age file for the platform (armor, size, recipient stanzas)";
    SecretUnreadable = "DT702", "a secret value the platform's key cannot open, or that was tampered with";
    SecretBinding = "DT703", "a secret value bound to another app or key";
    Internal = "DT901", "dovetail's own merge broke an invariant: a bug, please report it";
}

/// Most problems reported for one file: a hostile file with tens of thousands of bad
/// fields gets the first ones and a count of the rest, in linear time.
pub const MAX_PER_FILE: usize = 100;

/// `1 entry`, `2 entries`: a count and its noun, singular or plural as the count asks.
pub fn counted(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem it is.
    pub code: Code,
    /// The file as the user names it (relative to the repo it belongs to).
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// The field, dotted (`processes.web.port`); empty for the file as a whole.
    pub field: String,
    /// The field as a path into the document (the root for the file as a whole).
    pub path: Path,
    /// What is wrong.
    pub message: String,
    /// What to do about it, if there is more to say than the message does.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// One line, whatever the inputs held: control characters, newlines and the
    /// characters that reorder text are escaped, so that a key or value in a hostile
    /// file cannot forge another line (a CI `::error` command) or drive the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {level}: ", escaped(&self.file), self.pos)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", escaped(&self.field))?;
        }
        f.write_str(&escaped(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, "; {}", escaped(hint))?;
        }
        write!(f, " [{}]", self.code.as_str())
    }
}

/// `s` with every character that could break a line, steer a terminal or hide in text
/// written as an escape (see [`unsafe_char`]), and elided past [`MAX_SHOWN`] bytes.
pub fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_SHOWN && !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let push = |out: &mut String, c: char| match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    };
    let mut out = String::with_capacity(s.len().min(MAX_SHOWN) + 32);
    if s.len() <= MAX_SHOWN {
        s.chars().for_each(|c| push(&mut out, c));
    } else {
        // The start and the end: a message embedding a huge key still says what is
        // wrong with it.
        let head = floor_char_boundary(s, MAX_SHOWN / 2);
        let tail = ceil_char_boundary(s, s.len() - MAX_SHOWN / 2);
        s[..head].chars().for_each(|c| push(&mut out, c));
        out.push_str(&format!("…({} bytes)…", tail - head));
        s[tail..].chars().for_each(|c| push(&mut out, c));
    }
    std::borrow::Cow::Owned(out)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Most bytes of one piece of input shown in a message: a key of a quarter megabyte is
/// shown by its start.
const MAX_SHOWN: usize = 2048;

/// Characters a message never shows as they are: controls (C0, C1), line and paragraph
/// separators, and the format characters that reorder text or hide in it (bidirectional
/// controls, zero-width characters, the byte order mark, tag characters).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
}

/// A parsed input file: its name for messages and its tree for locating fields.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The file as the user names it.
    pub file: String,
    /// Its content.
    pub root: Node,
}

impl Doc {
    /// A problem at `path` in this file, pointing at the field's key.
    pub fn error(&self, code: Code, path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: self.file.clone(),
            pos: self.root.locate(path),
            field: path.to_string(),
            path: path.clone(),
            message: message.into(),
            hint: None,
        }
    }
    /// A problem with the value at `path` (its type, format or range), pointing at the
    /// value rather than its key: the two may stand on different lines.
    pub fn value_error(&self, code: Code, path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos: self.root.locate_value(path),
            ..self.error(code, path, message)
        }
    }
}

/// The problems of one run, in the order found. Every question asked of it takes
/// constant time, so that a file with thousands of problems costs linear time.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    seen: HashSet<Diagnostic>,
    /// `(file, field)` of every problem recorded.
    fields: HashSet<(String, String)>,
    /// Files with an error.
    files_with_errors: HashSet<String>,
    /// Problems kept, by file.
    kept: HashMap<String, usize>,
    /// Errors past [`MAX_PER_FILE`], counted but not kept, by file.
    dropped: BTreeMap<String, usize>,
    errors: usize,
}

impl Diagnostics {
    /// Records a problem; one reported twice at the same place is kept once, and past
    /// [`MAX_PER_FILE`] problems of one file only counted.
    pub fn push(&mut self, d: Diagnostic) {
        if self.seen.contains(&d) {
            return;
        }
        if d.severity == Severity::Error {
            self.errors += 1;
            self.files_with_errors.insert(d.file.clone());
        }
        self.fields.insert((d.file.clone(), d.field.clone()));
        if self.count_in(&d.file) >= MAX_PER_FILE {
            if d.severity == Severity::Error {
                *self.dropped.entry(d.file).or_default() += 1;
            }
            return;
        }
        *self.kept.entry(d.file.clone()).or_default() += 1;
        self.seen.insert(d.clone());
        self.items.push(d);
    }

    /// Records that `n` more errors of `file` were found but not described, because the
    /// file already has [`MAX_PER_FILE`].
    pub fn push_dropped(&mut self, file: &str, n: usize) {
        if n > 0 {
            self.errors += n;
            self.files_with_errors.insert(file.to_owned());
            *self.dropped.entry(file.to_owned()).or_default() += n;
        }
    }

    /// How many problems of `file` are kept.
    pub fn count_in(&self, file: &str) -> usize {
        self.kept.get(file).copied().unwrap_or(0)
    }

    /// Whether any error (not just warnings) was recorded.
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// Whether an error was already recorded in `file`.
    pub fn has_errors_in(&self, file: &str) -> bool {
        self.files_with_errors.contains(file)
    }

    /// The fields of `file` with an error, as paths into its document.
    pub fn error_paths_in<'a>(&'a self, file: &'a str) -> impl Iterator<Item = &'a Path> + 'a {
        self.items
            .iter()
            .filter(move |d| d.severity == Severity::Error && d.file == file)
            .map(|d| &d.path)
    }

    /// Whether the field at `path` of `file`, one inside it or one around it, had an
    /// error: it was left out of the file's typed form, or stood in for (see
    /// `doc::typed`), so a check that reads it must pass over it rather than blame its
    /// absence with the wrong fix. A file-level problem drops no field.
    pub fn dropped(&self, file: &str, path: &Path) -> bool {
        self.error_paths_in(file).any(|p| covers(p, path))
    }

    /// The fields of `file` in error, kept apart from these diagnostics: what a check
    /// run later, elsewhere (the fleet's, on each allocation) asks [`Dropped::covers`].
    pub fn dropped_in(&self, file: &str) -> Dropped {
        Dropped(self.error_paths_in(file).cloned().collect())
    }

    /// Whether a problem was already recorded for `field` of `file`.
    pub fn has_field(&self, file: &str, field: &str) -> bool {
        self.fields.contains(&(file.to_owned(), field.to_owned()))
    }

    /// The problems, sorted by file and place so that output is stable; a file with
    /// more than [`MAX_PER_FILE`] ends with one that counts the rest.
    pub fn sorted(&self) -> Vec<Diagnostic> {
        let mut v: Vec<Diagnostic> = self.items.clone();
        v.sort_by(|a, b| (&a.file, a.pos, &a.field).cmp(&(&b.file, b.pos, &b.field)));
        for (file, n) in &self.dropped {
            let at = v
                .iter()
                .rposition(|d| &d.file == file)
                .map_or(v.len(), |i| i + 1);
            let pos = v.get(at.wrapping_sub(1)).map_or(Pos::START, |d| d.pos);
            v.insert(
                at,
                Diagnostic::at(
                    Code::MoreProblems,
                    file,
                    pos,
                    format!(
                        "and {} in this file, not shown",
                        counted(*n, "more error", "more errors")
                    ),
                )
                .hint("fix the ones above first"),
            );
        }
        v
    }

    /// How many errors were recorded.
    pub fn error_count(&self) -> usize {
        self.errors
    }

    /// The problems `f` picks, taken out, and the rest (with the count of those past
    /// [`MAX_PER_FILE`]).
    pub fn partition(
        self,
        mut f: impl FnMut(&Diagnostic) -> bool,
    ) -> (Vec<Diagnostic>, Diagnostics) {
        let (picked, rest): (Vec<_>, Vec<_>) = self.items.into_iter().partition(|d| f(d));
        let mut others = Diagnostics::default();
        for d in rest {
            others.push(d);
        }
        for (file, n) in self.dropped {
            others.push_dropped(&file, n);
        }
        (picked, others)
    }

    /// Adds everything from `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.items {
            self.push(d);
        }
        for (file, n) in other.dropped {
            self.push_dropped(&file, n);
        }
    }
}

impl Diagnostic {
    /// An error about a file as a whole, or at a known place in it.
    pub fn at(code: Code, file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_owned(),
            pos,
            field: String::new(),
            path: Path::root(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same problem as one of the field at `path`: for a place found without the
    /// file's tree at hand (the fleet keeps positions, not documents).
    #[must_use]
    pub fn of_field(mut self, path: Path) -> Diagnostic {
        self.field = path.to_string();
        self.path = path;
        self
    }

    /// The same problem with advice on what to do.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// The same problem downgraded to a warning.
    #[must_use]
    pub fn warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }
}

/// The fields of one file that had an error (see [`Diagnostics::dropped`]).
#[derive(Debug, Clone, Default)]
pub struct Dropped(Vec<Path>);

impl Dropped {
    /// Whether the field at `path`, one inside it or one around it, had an error.
    pub fn covers(&self, path: &Path) -> bool {
        self.0.iter().any(|p| covers(p, path))
    }
}

/// Whether an error at `error` drops the field at `path`: it is that field, inside it,
/// or around it (but not the whole file).
fn covers(error: &Path, path: &Path) -> bool {
    error.0.starts_with(&path.0) || (!error.0.is_empty() && path.0.starts_with(&error.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::yaml;

    #[test]
    fn control_characters_cannot_forge_lines_or_steer_the_terminal() {
        let d = Diagnostic::at(
            Code::UnknownField,
            "dovetail.yaml",
            Pos::START,
            "key `a\n::error file=x::forged\u{1b}[31m\u{202e}`",
        );
        let text = d.to_string();
        assert!(!text.contains('\n') && !text.contains('\u{1b}') && !text.contains('\u{202e}'));
        assert!(
            text.contains("a\\n::error file=x::forged\\u{1b}[31m\\u{202e}"),
            "{text}"
        );
        assert_eq!(escaped("plain café"), "plain café");
    }

    #[test]
    fn text_form_matches_the_documented_shape() {
        let doc = Doc {
            file: "dovetail.yaml".into(),
            root: yaml::parse("processes:\n  web:\n    resources: {}\n").unwrap(),
        };
        let d = doc
            .error(
                Code::OperatorOwned,
                &Path::parse("processes.web.resources"),
                "set by the operator (tenants/acme/shop.yaml)",
            )
            .hint("remove it");
        assert_eq!(
            d.to_string(),
            "dovetail.yaml:3:5: error: processes.web.resources: set by the operator (tenants/acme/shop.yaml); remove it [DT301]"
        );
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} is used twice");
            assert!(
                s.len() == 5 && s.starts_with("DT") && s[2..].bytes().all(|b| b.is_ascii_digit()),
                "{s}"
            );
            assert!(!code.summary().is_empty());
        }
    }

    /// The README's table of codes must be exactly [`Code::ALL`], in order, each with its
    /// summary: a code added, renumbered or reworded without the README fails here, and
    /// the message holds the table to paste.
    #[test]
    fn the_readme_lists_exactly_the_codes_dovetail_has() {
        let want: Vec<String> = Code::ALL
            .iter()
            .map(|c| format!("| `{}` | {} |", c.as_str(), c.summary()))
            .collect();
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let listed: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `DT")).collect();
        assert!(
            listed == want,
            "README.md's table of diagnostic codes differs from diag::Code; it should read:\n\n| code | what it means |\n|---|---|\n{}",
            want.join("\n")
        );
    }

    #[test]
    fn invisible_and_line_breaking_characters_are_escaped_and_long_text_elided() {
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{feff}',
            '\u{200b}',
            '\u{e0041}',
            '\u{85}',
        ] {
            let s = format!("a{c}b");
            assert!(!escaped(&s).contains(c), "{c:?}");
        }
        let long = format!("`{}` is not a name", "x".repeat(100_000));
        let shown = escaped(&long);
        assert!(shown.len() < 5_000);
        assert!(shown.ends_with("` is not a name"), "{shown}");
    }
}
