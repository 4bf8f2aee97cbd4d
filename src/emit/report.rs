//! The one reporter: everything dovetail says besides its product goes through it to
//! stderr — diagnostics, notes, progress of git fetches, the final `ok:` or `error:`
//! line. `validate --format json` and `--format github` are the exceptions the contract
//! makes: there the report is the product, on stdout, built here too ([`json`],
//! [`github`]).

use std::io::{self, Write};

use serde_json::json;

use crate::diag::{Diagnostics, Severity, escaped};

/// How problems are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: error: field: message; hint [code]`.
    Text,
    /// One JSON document with every problem, on stdout.
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

/// Writes to stderr for one run.
pub struct Reporter<'w> {
    err: &'w mut dyn Write,
    format: Format,
}

impl<'w> Reporter<'w> {
    /// A reporter writing to `err`, diagnostics in `format`.
    pub fn new(err: &'w mut dyn Write, format: Format) -> Self {
        Reporter { err, format }
    }

    /// Every diagnostic, sorted by file and place. With [`Format::Json`] and
    /// [`Format::Github`] nothing is written here: the command prints [`json`] or
    /// [`github`] on stdout.
    pub fn diagnostics(&mut self, diags: &Diagnostics) -> io::Result<()> {
        match self.format {
            Format::Text => {
                for d in diags.sorted() {
                    writeln!(self.err, "{d}")?;
                }
            }
            // Their reports are the product: the command prints them on stdout.
            Format::Github | Format::Json => {}
        }
        Ok(())
    }

    /// A diagnostics block under a heading (`base:` and `head:` of `diff`).
    pub fn diagnostics_under(&mut self, heading: &str, diags: &Diagnostics) -> io::Result<()> {
        if diags.has_errors() && self.format == Format::Text {
            writeln!(self.err, "{heading}: the inputs have problems:")?;
        }
        self.diagnostics(diags)
    }

    /// A note worth reading, that is not a problem.
    pub fn note(&mut self, message: &str) -> io::Result<()> {
        if self.format == Format::Json {
            return Ok(());
        }
        writeln!(self.err, "note: {}", escaped(message))
    }

    /// A progress line of a long step, as `role: line` (`operator: fetching …`).
    pub fn progress(&mut self, role: &str, line: &str) -> io::Result<()> {
        writeln!(self.err, "{role}: {}", escaped(line))
    }

    /// What a command did, when it said nothing else (`ok: …`, `wrote 16 objects …`).
    pub fn done(&mut self, message: &str) -> io::Result<()> {
        if self.format == Format::Json {
            return Ok(());
        }
        writeln!(self.err, "{message}")
    }

    /// The last line of a failed run: what went wrong and what to do.
    pub fn failure(&mut self, e: &crate::Error) -> io::Result<()> {
        // An error at an input's place reads as a diagnostic, `file:line:column: error:
        // field: …`, which editors and CI problem matchers pick up.
        if let Some(d) = e.diagnostic() {
            return writeln!(self.err, "{d}");
        }
        write!(self.err, "error: ")?;
        match e.hint() {
            Some(hint) => writeln!(self.err, "{}; {}", escaped(&e.to_string()), escaped(&hint)),
            None => writeln!(self.err, "{}", escaped(&e.to_string())),
        }
    }
}

/// Every diagnostic as a GitHub Actions workflow annotation, one per line:
/// `::error file=…,line=…,col=…,title=<code> <field>::<message>; <hint>`.
pub fn github(diags: &Diagnostics) -> String {
    let mut out = String::new();
    for d in diags.sorted() {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(h) = &d.hint {
            message.push_str("; ");
            message.push_str(h);
        }
        let title = if d.field.is_empty() {
            d.code.as_str().to_owned()
        } else {
            format!("{} {}", d.code.as_str(), d.field)
        };
        out.push_str(&format!(
            "::{level} file={},line={},col={},title={}::{}\n",
            escape_property(&d.file),
            d.pos.line,
            d.pos.col,
            escape_property(&title),
            escape_data(&message)
        ));
    }
    out
}

/// Every diagnostic as one JSON document: `{errors, warnings, problems: [{severity,
/// code, file, line, column, field, message, hint}]}`.
pub fn json(diags: &Diagnostics) -> String {
    let sorted = diags.sorted();
    let problems: Vec<serde_json::Value> = sorted
        .iter()
        .map(|d| {
            json!({
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "code": d.code.as_str(),
                "file": d.file,
                "line": d.pos.line,
                "column": d.pos.col,
                "field": d.field,
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    let errors = diags.error_count();
    let shown_errors = sorted
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let doc = json!({
        "errors": errors,
        "warnings": sorted.len() - shown_errors,
        "problems": problems,
    });
    format!("{doc}\n")
}

// GitHub's workflow command escaping: data escapes %, CR and LF; properties also : and ,.
// Other control characters are escaped as in the text format first.
fn escape_data(s: &str) -> String {
    escaped(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
