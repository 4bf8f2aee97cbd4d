//! Editing a secrets file in place: one entry added or replaced, every other byte kept,
//! so that a review of the change shows exactly one key.

use crate::input::yaml::{self, Node, NodeKind};

/// The file as `secrets set` creates it.
pub fn new_file(key: &str, armored: &str) -> String {
    format!(
        "apiVersion: dovetail/v1\nkind: Secrets\ndata:\n{}",
        entry(key, armored, 2)
    )
}

fn entry(key: &str, armored: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{key}: |\n");
    for line in armored.lines() {
        out.push_str(&format!("{pad}  {line}\n"));
    }
    out
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
    // A last line without its line break would run into the new entry.
    let owned;
    let text = if text.ends_with(['\n', '\r']) || text.is_empty() {
        text
    } else {
        owned = format!("{text}\n");
        &owned
    };
    let root = yaml::parse(text).map_err(|_| EditError::NotASecretsFile)?;
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
    let lines = lines(text);
    // Line N of a position is `lines[N - 1]`.
    let index = |pos: yaml::Pos| (pos.line as usize).saturating_sub(1);
    let after_data = top
        .get(data_index + 1)
        .map_or(lines.len(), |e| index(e.key_pos));
    let (start, end, replacement) = if entries.is_empty() {
        // `data: {}` or `data:` with nothing under it: rewrite the `data` line.
        let line = index(data.key_pos);
        (line, line + 1, format!("data:\n{}", entry(key, armored, 2)))
    } else {
        let indent = (entries[0].key_pos.col as usize).saturating_sub(1);
        let (start, end) = match entries.iter().position(|e| e.key == key) {
            Some(i) => (
                index(entries[i].key_pos),
                entries.get(i + 1).map_or(after_data, |e| index(e.key_pos)),
            ),
            None => (after_data, after_data),
        };
        (start, end, entry(key, armored, indent))
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
    let Ok(new) = yaml::parse(out) else {
        return false;
    };
    let (NodeKind::Map(old_top), NodeKind::Map(new_top)) = (&old.kind, &new.kind) else {
        return false;
    };
    let same_top = old_top.len() == new_top.len()
        && old_top.iter().zip(new_top).all(|(a, b)| {
            a.key == b.key && (a.key == "data" || a.value.to_json() == b.value.to_json())
        });
    if !same_top {
        return false;
    }
    let entries = |n: &Node| -> Option<Vec<(String, serde_json::Value)>> {
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
    let (Some(mut want), Some(got)) = (entries(old), entries(&new)) else {
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
                entry("SECRET_KEY", ARMOR, 2)
            )
        );
        let text = "data:\n  A: |\n    x\r  SECRET_KEY: |\n    y\n";
        let out = set(text, "SECRET_KEY", ARMOR).unwrap();
        assert_eq!(
            out,
            format!("data:\n  A: |\n    x\r{}", entry("SECRET_KEY", ARMOR, 2))
        );
        let crlf = "kind: Secrets\r\ndata:\r\n  A: |\r\n    x\r\nz: 1\r\n";
        let out = set(crlf, "A", ARMOR).unwrap();
        assert_eq!(
            out,
            format!("kind: Secrets\r\ndata:\r\n{}z: 1\r\n", entry("A", ARMOR, 2))
        );
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
