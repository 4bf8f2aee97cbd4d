//! Editing a secrets file in place: one entry added or replaced, every other byte kept,
//! so that a review of the change shows exactly one key.

use crate::input::yaml::{self, NodeKind};

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

/// `text` with `key` set to `armored`: the key's old entry replaced where it stood, or a
/// new entry at the end of `data`. `None` when `text` is not a secrets file with a
/// `data` mapping.
pub fn set(text: &str, key: &str, armored: &str) -> Option<String> {
    // A last line without its newline would run into the new entry.
    let owned;
    let text = if text.ends_with('\n') || text.is_empty() {
        text
    } else {
        owned = format!("{text}\n");
        &owned
    };
    let root = yaml::parse(text).ok()?;
    let NodeKind::Map(top) = &root.kind else {
        return None;
    };
    let data_index = top.iter().position(|e| e.key == "data")?;
    let data = &top[data_index];
    let NodeKind::Map(entries) = &data.value.kind else {
        return None;
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let after_data = top
        .get(data_index + 1)
        .map_or(lines.len(), |e| e.key_pos.line as usize - 1);
    if entries.is_empty() {
        // `data: {}` or `data:` with nothing under it: rewrite the `data` line.
        let line = data.key_pos.line as usize - 1;
        let replacement = format!("data:\n{}", entry(key, armored, 2));
        let mut out: String = lines[..line].concat();
        out.push_str(&replacement);
        out.push_str(&lines[line + 1..].concat());
        return Some(out);
    }
    let indent = entries[0].key_pos.col as usize - 1;
    let (start, end) = match entries.iter().position(|e| e.key == key) {
        Some(i) => (
            entries[i].key_pos.line as usize - 1,
            entries
                .get(i + 1)
                .map_or(after_data, |e| e.key_pos.line as usize - 1),
        ),
        None => (after_data, after_data),
    };
    let mut out: String = lines[..start].concat();
    out.push_str(&entry(key, armored, indent));
    out.push_str(&lines[end.min(lines.len())..].concat());
    Some(out)
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
}
