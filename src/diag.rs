//! Problems found in the inputs, each with its file, place, field, what is wrong and what
//! to do, gathered so that one run reports all of them.
//!
//! Text form: `dovetail.yaml:14:7: error: processes.web.resources: set by the operator
//! (tenants/acme/shop.yaml); remove it`.

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

/// Most problems reported for one file: a hostile file with tens of thousands of bad
/// fields gets the first ones and a count of the rest, in linear time.
pub const MAX_PER_FILE: usize = 100;

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// The file as the user names it (relative to the repo it belongs to).
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// The field, dotted (`processes.web.port`); empty for the file as a whole.
    pub field: String,
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
        Ok(())
    }
}

/// `s` with every character that could break a line or steer a terminal written as an
/// escape: C0 and C1 controls (newlines and ESC among them) and the bidirectional
/// formatting characters that make text read differently than it is stored.
pub fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
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
    pub fn error(&self, path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: self.file.clone(),
            pos: self.root.locate(path),
            field: path.to_string(),
            message: message.into(),
            hint: None,
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
                    file,
                    pos,
                    format!("and {n} more error(s) in this file, not shown"),
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
    pub fn at(file: &str, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_owned(),
            pos,
            field: String::new(),
            message: message.into(),
            hint: None,
        }
    }

    /// The same problem with advice on what to do.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// The same problem downgraded to a warning.
    pub fn warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::yaml;

    #[test]
    fn control_characters_cannot_forge_lines_or_steer_the_terminal() {
        let d = Diagnostic::at(
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
                &Path::parse("processes.web.resources"),
                "set by the operator (tenants/acme/shop.yaml)",
            )
            .hint("remove it");
        assert_eq!(
            d.to_string(),
            "dovetail.yaml:3:5: error: processes.web.resources: set by the operator (tenants/acme/shop.yaml); remove it"
        );
    }
}
