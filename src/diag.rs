//! Problems found in the inputs, each with its file, place, field, what is wrong and what
//! to do, gathered so that one run reports all of them.
//!
//! Text form: `dovetail.yaml:14:7: error: processes.web.resources: set by the operator
//! (tenants/acme/shop.yaml); remove it`.

use std::fmt;

use crate::yaml::{Node, Path, Pos};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The input must change; nothing is rendered.
    Error,
    /// Worth a look; rendering goes on.
    Warning,
}

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {level}: ", self.file, self.pos)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
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

/// The problems of one run, in the order found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records a problem; one reported twice at the same place is kept once.
    pub fn push(&mut self, d: Diagnostic) {
        if !self.items.contains(&d) {
            self.items.push(d);
        }
    }

    /// Whether any error (not just warnings) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Whether an error was already recorded in `file`.
    pub fn has_errors_in(&self, file: &str) -> bool {
        self.items
            .iter()
            .any(|d| d.severity == Severity::Error && d.file == file)
    }

    /// Whether a problem was already recorded for `field` of `file`.
    pub fn has_field(&self, file: &str, field: &str) -> bool {
        self.items
            .iter()
            .any(|d| d.file == file && d.field == field)
    }

    /// The problems, sorted by file and place so that output is stable.
    pub fn sorted(&self) -> Vec<&Diagnostic> {
        let mut v: Vec<&Diagnostic> = self.items.iter().collect();
        v.sort_by(|a, b| (&a.file, a.pos, &a.field).cmp(&(&b.file, b.pos, &b.field)));
        v
    }

    /// How many errors were recorded.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Adds everything from `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.items {
            self.push(d);
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
    use crate::yaml;

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
