//! Editing a secrets file in place: one entry added or replaced, every other byte kept,
//! so that a review of the change shows exactly one key.

use crate::input::yaml::{self, Entry, Node, NodeKind};

/// The file as `secrets set` creates it.
pub fn new_file(key: &str, armored: &str) -> String {
    format!(
        "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n{}",
        entry(key, armored, 2, "\n")
    )
}

fn entry(key: &str, armored: &str, indent: usize, nl: &str) -> String {
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{key}: |{nl}");
    for line in armored.lines() {
        out.push_str(&format!("{pad}  {line}{nl}"));
    }
    out
}

/// The line break `text` uses, by its first one: a file saved with `\r\n` gets its new
/// lines with `\r\n` too, not a mix that an editor shows as a change to the whole file.
pub fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if text[..i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// Why [`set`] cannot edit a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text is not a YAML mapping with a `data` mapping.
    #[error("not a secrets file with a `data:` mapping")]
    NotASecretsFile,
    /// `data` is written so that replacing the key's lines would change more than the key:
    /// flow style (`data: {A: x}`), `? KEY` entries, entries sharing a line.
    #[error("its `data:` is not a block mapping with each entry on lines of its own")]
    Layout,
}

/// `text` with `key` set to `armored`: the key's old entry replaced where it stood, or a
/// new entry at the end of `data`, every other line kept byte for byte.
///
/// The edit is by lines, so it is checked before it is returned: the result must read
/// back as the same file with only `data.<key>` set. [`EditError::Layout`] when it does
/// not, rather than a file with other entries changed or broken.
pub fn set(text: &str, key: &str, armored: &str) -> Result<String, EditError> {
    let nl = newline_of(text);
    // A last line without its line break would run into the new entry.
    let owned;
    let text = if text.ends_with(['\n', '\r']) || text.is_empty() {
        text
    } else {
        owned = format!("{text}{nl}");
        &owned
    };
    let root = yaml::parse(text).map_err(|_| EditError::NotASecretsFile)?;
    let lines = lines(text);
    let (data, entries, after_data) = data_block(&root, lines.len())?;
    let (start, end, replacement) = if entries.is_empty() {
        // `data: {}` or `data:` with nothing under it: rewrite the `data` line.
        let line = index(data.key_pos);
        (
            line,
            line + 1,
            format!("data:{nl}{}", entry(key, armored, 2, nl)),
        )
    } else {
        let indent = (entries[0].key_pos.col as usize).saturating_sub(1);
        let (start, end) = match entries.iter().position(|e| e.key == key) {
            Some(i) => {
                let start = index(entries[i].key_pos);
                let next = entries
                    .get(i + 1)
                    .map_or(after_data, |e| index(e.key_pos))
                    .min(lines.len());
                // The blank lines and comments before the next entry are the file's (a
                // comment there is about the next key): only the value's own go.
                let end = if start < next {
                    start + 1 + own_lines(&lines[start..next], indent)
                } else {
                    next
                };
                (start, end)
            }
            None => (after_data, after_data),
        };
        (start, end, entry(key, armored, indent, nl))
    };
    let (Some(before), Some(after)) = (lines.get(..start), lines.get(end.min(lines.len())..))
    else {
        return Err(EditError::Layout);
    };
    let out = format!("{}{replacement}{}", before.concat(), after.concat());
    if edited_only(&root, &out, key, armored) {
        Ok(out)
    } else {
        Err(EditError::Layout)
    }
}

/// `text` without the entries `keys` of `data`: each entry's own lines (its key's line
/// and its value's) cut out, every other line kept byte for byte, comments included,
/// the comment above a removed entry too (it may say more than that one key). With
/// no entry left, `data:` becomes `data: {}`, which the schema accepts and `data:`
/// alone (null) is not.
///
/// Every key must be in `data` (the caller says which are not, with the file's keys).
/// As with [`set`], the result is checked: it must read back as the same file without
/// those keys, else [`EditError::Layout`].
pub fn unset(text: &str, keys: &[&str]) -> Result<String, EditError> {
    let root = yaml::parse(text).map_err(|_| EditError::NotASecretsFile)?;
    let lines = lines(text);
    let (data, entries, after_data) = data_block(&root, lines.len())?;
    let mut cut = vec![false; lines.len()];
    for (i, e) in entries.iter().enumerate() {
        if !keys.contains(&e.key.as_str()) {
            continue;
        }
        let start = index(e.key_pos);
        if start <= index(data.key_pos) {
            // `data: {A: x}`: the entry is on the line of `data:` itself.
            return Err(EditError::Layout);
        }
        let end = entries
            .get(i + 1)
            .map_or(after_data, |next| index(next.key_pos))
            .min(lines.len());
        if start >= end {
            // Entries sharing a line: cutting one would cut the other.
            return Err(EditError::Layout);
        }
        let key_indent = (e.key_pos.col as usize).saturating_sub(1);
        let end = start + 1 + own_lines(&lines[start..end], key_indent);
        cut[start..end].fill(true);
    }
    let mut out = String::with_capacity(text.len());
    let left = entries
        .iter()
        .filter(|e| !keys.contains(&e.key.as_str()))
        .count();
    for (i, line) in lines.iter().enumerate() {
        if cut[i] {
            continue;
        }
        if left == 0 && i == index(data.key_pos) {
            out.push_str(&empty_data(line).ok_or(EditError::Layout)?);
        } else {
            out.push_str(line);
        }
    }
    if removed_only(&root, &out, keys) {
        Ok(out)
    } else {
        Err(EditError::Layout)
    }
}

/// Line N of a position is `lines[N - 1]`.
fn index(pos: yaml::Pos) -> usize {
    (pos.line as usize).saturating_sub(1)
}

/// The `data` entry of a parsed secrets file, its entries, and the index of the first
/// line after it (the next top-level key's, or `line_count`).
fn data_block(root: &Node, line_count: usize) -> Result<(&Entry, &[Entry], usize), EditError> {
    let NodeKind::Map(top) = &root.kind else {
        return Err(EditError::NotASecretsFile);
    };
    let data_index = top
        .iter()
        .position(|e| e.key == "data")
        .ok_or(EditError::NotASecretsFile)?;
    let data = &top[data_index];
    let NodeKind::Map(entries) = &data.value.kind else {
        return Err(EditError::NotASecretsFile);
    };
    let after_data = top
        .get(data_index + 1)
        .map_or(line_count, |e| index(e.key_pos));
    Ok((data, entries, after_data))
}

/// How many lines after an entry's key line (`span[0]`) hold its value: all up to the
/// next entry, less the blank lines and comments at the end, which are the file's, not
/// the value's. In a block scalar (`KEY: |`) a line starting with `#` is the value's when
/// it is indented as its content is.
fn own_lines(span: &[&str], key_indent: usize) -> usize {
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let after_colon = span[0]
        .get(key_indent..)
        .and_then(|l| l.split_once(':'))
        .map_or("", |(_, rest)| rest.trim_start());
    let content_indent = if after_colon.starts_with(['|', '>']) {
        span[1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .map_or(usize::MAX, |l| indent(l))
    } else {
        usize::MAX
    };
    let mut own = span.len() - 1;
    while own > 0 {
        let line = span[own];
        let comment = line.trim_start().starts_with('#') && indent(line) < content_indent;
        if line.trim().is_empty() || comment {
            own -= 1;
        } else {
            break;
        }
    }
    own
}

/// The `data:` line with ` {}` after its colon, its comment and line break kept; `None`
/// when something else follows the colon (a value on that line is not one to edit).
fn empty_data(line: &str) -> Option<String> {
    let colon = line.find(':')?;
    let (head, rest) = line.split_at(colon + 1);
    let body = rest.trim_end_matches(['\n', '\r']);
    let trimmed = body.trim_start();
    if !(trimmed.is_empty() || trimmed.starts_with('#')) {
        return None;
    }
    let comment = if trimmed.is_empty() { "" } else { body };
    Some(format!("{head} {{}}{comment}{}", &rest[body.len()..]))
}

/// The entries of `data`, as (key, value) in order.
type Entries = Vec<(String, serde_json::Value)>;

/// `data`'s entries of `old` and of `out` read back, when `out` parses and every other
/// top-level key of it is `old`'s, in the same order and value: what [`removed_only`]
/// and [`edited_only`] then compare.
fn data_read_back(old: &Node, out: &str) -> Option<(Entries, Entries)> {
    let new = yaml::parse(out).ok()?;
    let (NodeKind::Map(old_top), NodeKind::Map(new_top)) = (&old.kind, &new.kind) else {
        return None;
    };
    let same_top = old_top.len() == new_top.len()
        && old_top.iter().zip(new_top).all(|(a, b)| {
            a.key == b.key && (a.key == "data" || a.value.to_json() == b.value.to_json())
        });
    if !same_top {
        return None;
    }
    let entries = |n: &Node| -> Option<Entries> {
        match &n.get("data")?.kind {
            NodeKind::Map(entries) => Some(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
            _ => None,
        }
    };
    Some((entries(old)?, entries(&new)?))
}

/// Whether `out` reads as `old` without `data.<keys>` and nothing else changed: the same
/// top-level keys in the same order and values, the other entries of `data` the same
/// and in the same order.
fn removed_only(old: &Node, out: &str, keys: &[&str]) -> bool {
    let Some((mut want, got)) = data_read_back(old, out) else {
        return false;
    };
    want.retain(|(k, _)| !keys.contains(&k.as_str()));
    got == want
}

/// `text` cut after each line break as YAML counts them (`\n`, `\r\n` and a lone `\r`),
/// so that line N of a [`yaml::Pos`] is element N - 1.
fn lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let end = match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => i + 2,
            b'\n' | b'\r' => i + 1,
            _ => {
                i += 1;
                continue;
            }
        };
        out.push(&text[start..end]);
        (start, i) = (end, end);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Whether `out` reads as `old` with `data.<key>` set to `armored` and nothing else
/// changed: the same top-level keys in the same order, every other entry of `data` the
/// same and in place, the key where it was or last.
fn edited_only(old: &Node, out: &str, key: &str, armored: &str) -> bool {
    let Some((mut want, got)) = data_read_back(old, out) else {
        return false;
    };
    // What the literal block scalar `entry` writes reads back as.
    let mut text = String::with_capacity(armored.len() + 1);
    for line in armored.lines() {
        text.push_str(line);
        text.push('\n');
    }
    let value = serde_json::Value::String(text);
    match want.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => want.push((key.to_owned(), value)),
    }
    got == want
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARMOR: &str =
        "-----BEGIN AGE ENCRYPTED FILE-----\nNEW\n-----END AGE ENCRYPTED FILE-----\n";

    #[test]
    fn replaces_one_entry_and_keeps_the_rest_byte_for_byte() {
        let text = "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: |\n    old-a\n  # about B\n  B: |\n    old-b\n  C: |\n    old-c\n";
        let out = set(text, "B", ARMOR).unwrap();
        assert_eq!(
            out,
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: |\n    old-a\n  # about B\n  B: |\n    -----BEGIN AGE ENCRYPTED FILE-----\n    NEW\n    -----END AGE ENCRYPTED FILE-----\n  C: |\n    old-c\n"
        );
        let out = set(text, "D", ARMOR).unwrap();
        assert!(out.starts_with(text));
        assert!(out.ends_with("  D: |\n    -----BEGIN AGE ENCRYPTED FILE-----\n    NEW\n    -----END AGE ENCRYPTED FILE-----\n"));
    }

    /// Replacing an entry cut everything up to the next key, and so the comment above
    /// it (and a blank line between them), which `set` promises to keep.
    #[test]
    fn set_keeps_the_comment_and_blank_line_before_the_next_entry() {
        let text = "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: |\n    old-a\n    # part of A\n\n  # about B\n  B: |\n    old-b\n# about what follows\nother: 1\n";
        let out = set(text, "A", ARMOR).unwrap();
        assert_eq!(
            out,
            "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n  A: |\n    -----BEGIN AGE ENCRYPTED FILE-----\n    NEW\n    -----END AGE ENCRYPTED FILE-----\n\n  # about B\n  B: |\n    old-b\n# about what follows\nother: 1\n"
        );
        let out = set(text, "B", ARMOR).unwrap();
        assert!(
            out.ends_with("    -----END AGE ENCRYPTED FILE-----\n# about what follows\nother: 1\n"),
            "{out}"
        );
    }

    #[test]
    fn data_before_other_keys_and_empty_data() {
        let text = "data:\n  A: |\n    old\nkind: Secrets\napiVersion: dovetail/v1\n";
        let out = set(text, "B", ARMOR).unwrap();
        assert!(out.starts_with("data:\n  A: |\n    old\n  B: |\n"));
        assert!(out.ends_with("kind: Secrets\napiVersion: dovetail/v1\n"));
        let out = set(
            "apiVersion: dovetail/v1\nkind: Secrets\ndata: {}\n",
            "A",
            ARMOR,
        )
        .unwrap();
        assert_eq!(out, new_file("A", ARMOR));
    }

    #[test]
    fn unset_cuts_the_entries_and_keeps_every_comment() {
        let text = "# top\napiVersion: dovetail/v1\nkind: Secrets\ndata:  # values\n  # about A\n  A: |\n    old-a\n\n  # about B\n  B: |  # rotated\n    old-b\n    # part of B's value\n  C: x  # inline\n  # after C\nextra: 1\n";
        assert_eq!(
            unset(text, &["B"]).unwrap(),
            "# top\napiVersion: dovetail/v1\nkind: Secrets\ndata:  # values\n  # about A\n  A: |\n    old-a\n\n  # about B\n  C: x  # inline\n  # after C\nextra: 1\n"
        );
        assert_eq!(
            unset(text, &["A", "C"]).unwrap(),
            "# top\napiVersion: dovetail/v1\nkind: Secrets\ndata:  # values\n  # about A\n\n  # about B\n  B: |  # rotated\n    old-b\n    # part of B's value\n  # after C\nextra: 1\n"
        );
        // None left: `data: {}`, the comment on its line kept.
        assert_eq!(
            unset(text, &["A", "B", "C"]).unwrap(),
            "# top\napiVersion: dovetail/v1\nkind: Secrets\ndata: {}  # values\n  # about A\n\n  # about B\n  # after C\nextra: 1\n"
        );
    }

    #[test]
    fn unset_of_the_last_entry_and_other_line_breaks() {
        let out = unset(&new_file("A", ARMOR), &["A"]).unwrap();
        assert_eq!(out, "apiVersion: dovetail/v1\nkind: Secrets\ndata: {}\n");
        let crlf = "kind: Secrets\r\ndata:\r\n  A: |\r\n    x\r\n  B: |\r\n    y";
        assert_eq!(
            unset(crlf, &["B"]).unwrap(),
            "kind: Secrets\r\ndata:\r\n  A: |\r\n    x\r\n"
        );
        assert_eq!(
            unset(crlf, &["A", "B"]).unwrap(),
            "kind: Secrets\r\ndata: {}\r\n"
        );
        assert_eq!(
            unset("data:\r  A: x\r  B: y\r", &["A"]).unwrap(),
            "data:\r  B: y\r"
        );
    }

    #[test]
    fn unset_refuses_what_it_cannot_cut_cleanly() {
        for text in ["data: {A: x, B: y}\n", "data: {A: x,\n  B: y}\n"] {
            assert_eq!(unset(text, &["A"]), Err(EditError::Layout), "{text:?}");
        }
        // A `? KEY` entry that `set` could not replace in place is whole lines here.
        assert_eq!(
            unset("data:\n  ? A\n  : x\n  B: y\n", &["A"]).unwrap(),
            "data:\n  B: y\n"
        );
        assert_eq!(unset("[a]\n", &["A"]), Err(EditError::NotASecretsFile));
        assert_eq!(unset("data: x\n", &["A"]), Err(EditError::NotASecretsFile));
    }

    /// Found by the `secrets_file_set` fuzz target (`fuzz/regressions/secrets_file_set/`):
    /// YAML ends a line at a lone `\r` too, and lines cut at `\n` only did not match the
    /// parser's line numbers: a panic, or a second `SECRET_KEY` instead of the first replaced.
    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        let out = set("data:\r  A: x\rkind: Secrets\n", "SECRET_KEY", ARMOR).unwrap();
        assert_eq!(
            out,
            format!(
                "data:\r  A: x\r{}kind: Secrets\n",
                entry("SECRET_KEY", ARMOR, 2, "\n")
            )
        );
        let text = "data:\n  A: |\n    x\r  SECRET_KEY: |\n    y\n";
        let out = set(text, "SECRET_KEY", ARMOR).unwrap();
        assert_eq!(
            out,
            format!(
                "data:\n  A: |\n    x\r{}",
                entry("SECRET_KEY", ARMOR, 2, "\n")
            )
        );
        let crlf = "kind: Secrets\r\ndata:\r\n  A: |\r\n    x\r\nz: 1\r\n";
        let out = set(crlf, "A", ARMOR).unwrap();
        assert_eq!(
            out,
            format!(
                "kind: Secrets\r\ndata:\r\n{}z: 1\r\n",
                entry("A", ARMOR, 2, "\r\n")
            )
        );
    }

    /// A file saved with `\r\n` line breaks (a Windows editor) keeps them: the entry added
    /// or replaced, and the break added after a last line that had none, use `\r\n`, so
    /// the diff shows the one key and not a file of mixed line ends.
    #[test]
    fn a_file_with_crlf_line_breaks_gets_crlf_lines() {
        let crlf = "kind: Secrets\r\ndata:\r\n  A: |\r\n    x";
        let out = set(crlf, "B", ARMOR).unwrap();
        assert_eq!(
            out,
            format!(
                "kind: Secrets\r\ndata:\r\n  A: |\r\n    x\r\n{}",
                entry("B", ARMOR, 2, "\r\n")
            )
        );
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
        let out = set("kind: Secrets\r\ndata: {}\r\n", "B", ARMOR).unwrap();
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
    }

    /// Found by the `secrets_file_set` fuzz target: entries that do not each start a line
    /// of their own were cut through, giving a file that is not YAML or has other keys
    /// changed; they are refused instead.
    #[test]
    fn data_not_one_entry_per_line_is_refused() {
        for text in [
            "data: {A: x, B: y}\n",
            "data: {A: x,\n  B: y}\n",
            "data:\n ?\n",
            "data:\n  ? A\n  : x\n",
        ] {
            assert_eq!(set(text, "B", ARMOR), Err(EditError::Layout), "{text:?}");
        }
        assert_eq!(set("[a]\n", "A", ARMOR), Err(EditError::NotASecretsFile));
        assert_eq!(
            set("data: x\n", "A", ARMOR),
            Err(EditError::NotASecretsFile)
        );
        assert_eq!(
            set("data: [\n", "A", ARMOR),
            Err(EditError::NotASecretsFile)
        );
    }
}
