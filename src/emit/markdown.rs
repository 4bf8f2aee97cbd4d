//! `dovetail diff --format markdown`: the diff as a report for a pull-request or
//! merge-request comment. A summary table per kind; the app's topology as a mermaid
//! flowchart with what changed highlighted; then each object that differs, folded in
//! `<details>`, with who set each of its changed fields (the customer's or the
//! operator's `file:line`, from `explain`'s origin table) and its unified diff — the
//! same text `diff` prints, so secret values are redacted exactly as there.
//!
//! The first line is an HTML comment naming the app, which CI templates look for to
//! replace their previous comment instead of adding one per push.

use std::collections::BTreeMap;

use crate::emit::diff::{Change, ObjectDiff, Provenance, Side, Summary, changes, summary};
use crate::emit::explain::{Leaf, Origin, Owner, leaves, origin};
use crate::emit::output::OutputError;
use crate::emit::topology::{Status, Topology};

/// GitHub refuses comments over 65,536 characters; diffs past this budget are left out
/// (each says so) so that the report always posts.
const BUDGET: usize = 60_000;

/// Fields named per origin before the rest are counted.
const FIELDS_SHOWN: usize = 6;

/// Origins listed per object before the rest are counted.
const ORIGINS_SHOWN: usize = 12;

/// The first line of every report for `app` (`tenant/app`): what CI finds its previous
/// comment by.
pub fn marker(app: &str) -> String {
    format!("<!-- dovetail diff {app} -->")
}

/// The report, and what changed.
pub fn report(base: &Side, head: &Side) -> Result<(String, Summary), OutputError> {
    let changes = changes(base, head)?;
    let summary = summary(&changes);
    let app = head
        .provenance
        .as_ref()
        .or(base.provenance.as_ref())
        .map(|p| format!("{}/{}", p.resolved.identity.tenant, p.resolved.identity.app))
        .unwrap_or_default();

    let mut out = String::new();
    out.push_str(&marker(&app));
    out.push('\n');
    out.push_str(&format!("### dovetail diff: `{app}`\n\n"));
    if base.absent {
        out.push_str(
            "> The app is not in the base (its directory or its allocation is new), so every object is shown as added.\n\n",
        );
    }
    if let Some(problems) = base.unrendered {
        out.push_str(&format!(
            "> The base does not render ({}, listed in the job's log), so every object is shown as added.\n\n",
            crate::diag::counted(problems, "problem", "problems")
        ));
    }
    if summary.any() {
        out.push_str(&format!(
            "{} changed, {} added, {} removed.\n\n",
            summary.changed, summary.added, summary.removed
        ));
        out.push_str(&table(&changes));
    } else {
        out.push_str("Nothing changes in the rendered objects.\n");
    }

    // The picture: the head's objects and what only the base had.
    let mut drawn = head.objects.clone();
    drawn.extend(
        changes
            .iter()
            .filter(|c| c.change == Change::Removed)
            .filter_map(|c| c.base.clone()),
    );
    let topology = Topology::of(&drawn);
    if !topology.nodes.is_empty() {
        let by_object: BTreeMap<String, Status> = changes
            .iter()
            .map(|c| {
                let status = match c.change {
                    Change::Added => Status::Added,
                    Change::Changed => Status::Changed,
                    Change::Removed => Status::Removed,
                };
                (c.id.clone(), status)
            })
            .collect();
        let status = topology.statuses(&by_object);
        out.push_str("\n#### Topology\n\n```mermaid\n");
        out.push_str(&topology.mermaid(&status));
        out.push_str("```\n");
        if status.iter().any(Option::is_some) {
            out.push_str(
                "\n<sub>Highlighted: green added, amber changed (or something attached to it), red dashed removed.</sub>\n",
            );
        }
    }

    if !changes.is_empty() {
        out.push_str("\n#### Changes\n");
        for c in &changes {
            let owners = ownership(c, base.provenance.as_ref(), head.provenance.as_ref());
            let fence = fence_for(&c.unified);
            let diff = format!("{fence}diff\n{}{fence}\n", c.unified);
            let room = out.len() + owners.len() + diff.len() + 200 <= BUDGET;
            out.push_str(&format!(
                "\n<details>\n<summary>{} <code>{}</code></summary>\n\n",
                c.change.as_str(),
                html(&c.id)
            ));
            out.push_str(&owners);
            if room {
                out.push_str(&diff);
            } else {
                out.push_str(
                    "The diff is left out: the comment would be too long. Run `dovetail diff` to see it.\n",
                );
            }
            out.push_str("\n</details>\n");
        }
    }
    Ok((out, summary))
}

/// Added, changed and removed objects per kind, kinds in the order they first appear.
fn table(changes: &[ObjectDiff]) -> String {
    let mut kinds: Vec<(&str, [usize; 3])> = Vec::new();
    for c in changes {
        let at = if let Some(i) = kinds.iter().position(|(k, _)| *k == c.kind) {
            i
        } else {
            kinds.push((&c.kind, [0; 3]));
            kinds.len() - 1
        };
        kinds[at].1[match c.change {
            Change::Added => 0,
            Change::Changed => 1,
            Change::Removed => 2,
        }] += 1;
    }
    let mut out =
        String::from("| kind | added | changed | removed |\n| --- | ---: | ---: | ---: |\n");
    for (kind, [a, c, r]) in kinds {
        out.push_str(&format!("| {} | {a} | {c} | {r} |\n", cell(kind)));
    }
    out
}

/// Who set the fields that differ: one row per origin, customer first, then operator,
/// then dovetail's defaults.
fn ownership(c: &ObjectDiff, base: Option<&Provenance>, head: Option<&Provenance>) -> String {
    let old: Vec<Leaf> = c.base.as_ref().map(leaves).unwrap_or_default();
    let new: Vec<Leaf> = c.head.as_ref().map(leaves).unwrap_or_default();
    let old_by_path: BTreeMap<String, &Leaf> = old.iter().map(|l| (l.shown(), l)).collect();
    let new_by_path: BTreeMap<String, &Leaf> = new.iter().map(|l| (l.shown(), l)).collect();
    // Rows in the order their first field appears in the object, customer's first.
    let mut by_origin: BTreeMap<(Owner, Origin), (usize, Vec<String>)> = BTreeMap::new();
    let mut seen = 0;
    let mut note = |object: &serde_json::Value, leaf: &Leaf, p: Option<&Provenance>| {
        let Some(p) = p else { return };
        let o = origin(object, &leaf.path, &leaf.value, &p.resolved, &p.docs);
        seen += 1;
        by_origin
            .entry((o.owner(), o))
            .or_insert_with(|| (seen, Vec::new()))
            .1
            .push(leaf.shown());
    };
    if let Some(h) = &c.head {
        for leaf in &new {
            if old_by_path.get(&leaf.shown()).map(|l| &l.value) != Some(&leaf.value) {
                note(h, leaf, head);
            }
        }
    }
    if let Some(b) = &c.base {
        for leaf in &old {
            if !new_by_path.contains_key(&leaf.shown()) {
                note(b, leaf, base);
            }
        }
    }
    // A whole object added or removed is mostly dovetail's skeleton (kind, labels,
    // security context); what a reviewer asks is which input made it appear or go.
    if c.change != Change::Changed && by_origin.keys().any(|(owner, _)| *owner != Owner::Dovetail) {
        by_origin.retain(|(owner, _), _| *owner != Owner::Dovetail);
    }
    if by_origin.is_empty() {
        return String::new();
    }
    let mut rows: Vec<_> = by_origin.iter().collect();
    rows.sort_by_key(|((owner, _), (first, _))| (*owner, *first));
    let mut out = String::from("| owner | set at | fields |\n| --- | --- | --- |\n");
    let total = rows.len();
    for ((_, o), (_, fields)) in rows.into_iter().take(ORIGINS_SHOWN) {
        let mut shown: Vec<String> = fields.iter().take(FIELDS_SHOWN).map(|f| code(f)).collect();
        if fields.len() > FIELDS_SHOWN {
            shown.push(format!("and {} more", fields.len() - FIELDS_SHOWN));
        }
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            o.owner().as_str(),
            code(&o.place()),
            shown.join(", ")
        ));
    }
    if total > ORIGINS_SHOWN {
        out.push_str(&format!(
            "| | and {} more places | |\n",
            total - ORIGINS_SHOWN
        ));
    }
    out.push('\n');
    out
}

/// A code fence longer than any run of backticks in `text`, so a config file holding
/// one cannot end the block early.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// `text` as a code span inside a table cell: escaped like every message, `|` kept
/// from splitting the cell, and delimited by more backticks than it holds.
fn code(text: &str) -> String {
    let text = crate::diag::escaped(text).replace('|', "\\|");
    let ticks = "`".repeat(text.split(|c| c != '`').map(str::len).max().unwrap_or(0) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// Plain text in a table cell.
fn cell(text: &str) -> String {
    html(&crate::diag::escaped(text)).replace('|', "\\|")
}

/// Text inside HTML.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_and_code_spans_outlast_what_they_hold() {
        assert_eq!(fence_for("a\n```\nb"), "````");
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(code("data.A"), "`data.A`");
        assert_eq!(code("a`b|c"), "``a`b\\|c``");
    }
}
