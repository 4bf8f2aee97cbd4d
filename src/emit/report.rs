//! The one path diagnostics take to stderr, in the three formats of `--format`.

use std::io::{self, Write};

use crate::cli::Format;
use crate::diag::{Diagnostics, Severity, escaped};

/// Writes every diagnostic in `format`, then (for text) a summary line.
pub fn emit(diags: &Diagnostics, format: Format, w: &mut dyn Write) -> io::Result<()> {
    let sorted = diags.sorted();
    match format {
        Format::Text => {
            for d in &sorted {
                writeln!(w, "{d}")?;
            }
        }
        Format::Github => {
            for d in &sorted {
                let level = match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let mut message = d.message.clone();
                if let Some(h) = &d.hint {
                    message.push_str("; ");
                    message.push_str(h);
                }
                writeln!(
                    w,
                    "::{level} file={},line={},col={},title={}::{}",
                    escape_property(&d.file),
                    d.pos.line,
                    d.pos.col,
                    escape_property(if d.field.is_empty() {
                        "dovetail"
                    } else {
                        &d.field
                    }),
                    escape_data(&message)
                )?;
            }
        }
        Format::Json => {
            let problems: Vec<serde_json::Value> = sorted
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                        "file": d.file,
                        "line": d.pos.line,
                        "column": d.pos.col,
                        "field": d.field,
                        "message": d.message,
                        "hint": d.hint,
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "errors": diags.error_count(),
                "warnings": sorted.len() - diags.error_count(),
                "problems": problems,
            });
            writeln!(w, "{doc}")?;
        }
    }
    Ok(())
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
