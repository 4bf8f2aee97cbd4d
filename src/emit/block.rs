//! The fast path of YAML output: block mappings and sequences laid out the way
//! serde-saphyr lays them out, with every scalar's text taken from serde-saphyr itself.
//!
//! A fleet of ten thousand allocations is sixty thousand objects and 40 MB of YAML;
//! serde-saphyr decides the style of each key and value anew (a dozen scans of the
//! string for YAML 1.1 booleans, numbers, timestamps, indicators), and that was a third
//! of the fleet's time. Most of those strings repeat (keys, labels, sizes), so here each
//! distinct scalar is asked of serde-saphyr once per thread and its answer reused.
//!
//! Only what lays out on one line per scalar is taken: a string serde-saphyr writes as
//! a block scalar (several lines, or over 80 characters), a float, a sequence directly
//! in a sequence, a document that is not a mapping, anything unusual is [`Unsupported`],
//! and the caller writes that document with serde-saphyr instead. Tests and the `emit`
//! fuzz target hold both writers to the same bytes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};

use super::output::write_reference;

/// The object needs something this writer does not lay out; serde-saphyr writes it.
#[derive(Debug)]
pub struct Unsupported;

impl Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not laid out by the fast YAML writer")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: Display>(_: T) -> Self {
        Unsupported
    }
}

/// Appends `value`, which must serialize as a mapping, to `out` as one block-style YAML
/// document; on [`Unsupported`], `out` may hold part of it and the caller truncates.
pub fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Unsupported> {
    value.serialize(Node {
        out,
        slot: Slot::Root,
    })
}

/// Where a scalar stands, which decides how serde-saphyr writes it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Key = 0,
    Value = 1,
    Item = 2,
}

/// The scalars asked of serde-saphyr so far on this thread; bounded, since the values
/// of a fleet's allocations (names, URLs) are mostly each its own.
const CACHE_LIMIT: usize = 16 * 1024;

/// What serde-saphyr writes for each string asked (`None`: not on one line).
type Known = HashMap<Box<str>, Option<Box<str>>>;

thread_local! {
    static SCALARS: RefCell<[Known; 3]> = RefCell::default();
}

/// Appends the text serde-saphyr writes for the string `s` in `role`, when it fits on
/// the line.
fn scalar(role: Role, s: &str, out: &mut String) -> Result<(), Unsupported> {
    if obviously_plain(role, s) {
        out.push_str(s);
        return Ok(());
    }
    SCALARS.with(|cache| {
        let known = &mut cache.borrow_mut()[role as usize];
        if let Some(text) = known.get(s) {
            out.push_str(text.as_deref().ok_or(Unsupported)?);
            return Ok(());
        }
        if known.len() >= CACHE_LIMIT {
            known.clear();
        }
        let text = ask_saphyr(role, s);
        let written = text.as_deref().map(|t| out.push_str(t)).ok_or(Unsupported);
        known.insert(s.into(), text);
        written
    })
}

/// Whether serde-saphyr writes `s` as it is in `role`, as it does most of a manifest's
/// strings (names, labels, namespaces, URLs): at most 80 characters, of letters, digits
/// and `-._/` only (and `:` in a value, not last: serde-saphyr quotes a key with a
/// colon), starting with a letter, and not a word a YAML 1.1 reader takes for a boolean,
/// null or float. Held to serde-saphyr by a test over every short string of those
/// characters and by the `emit` fuzz target; what this does not vouch for, serde-saphyr
/// is asked.
fn obviously_plain(role: Role, s: &str) -> bool {
    const AMBIGUOUS: [&str; 11] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    let b = s.as_bytes();
    b.len() <= FOLD_BEYOND
        && b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.last() != Some(&b':')
        && b.iter().all(|&c| {
            c.is_ascii_alphanumeric()
                || matches!(c, b'-' | b'.' | b'_' | b'/')
                || (c == b':' && role != Role::Key)
        })
        && !AMBIGUOUS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// serde-saphyr writes a plain string longer than this as a folded block.
const FOLD_BEYOND: usize = 80;

/// serde-saphyr's text for `s` in `role`, cut out of a one-entry document; `None` when
/// it takes more than the one line.
fn ask_saphyr(role: Role, s: &str) -> Option<Box<str>> {
    let mut doc = String::new();
    let written = match role {
        Role::Key => write_reference(&mut doc, &BTreeMap::from([(s, 0u8)])),
        Role::Value => write_reference(&mut doc, &BTreeMap::from([("k", s)])),
        Role::Item => write_reference(&mut doc, &[s]),
    };
    written.ok()?;
    let (prefix, suffix) = match role {
        Role::Key => ("", ": 0\n"),
        Role::Value => ("k: ", "\n"),
        Role::Item => ("- ", "\n"),
    };
    let text = doc.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!text.is_empty() && !text.contains('\n')).then(|| text.into())
}

/// Where the next node goes.
#[derive(Clone, Copy)]
enum Slot {
    /// The document itself.
    Root,
    /// A mapping's key, after its indentation.
    Key,
    /// After `key:` of a mapping whose keys are indented this much.
    Value(usize),
    /// After `- ` of a sequence whose dashes are indented this much.
    Item(usize),
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Serializes one node into its slot.
struct Node<'o> {
    out: &'o mut String,
    slot: Slot,
}

impl<'o> Node<'o> {
    /// A scalar's text, already chosen, in its slot.
    fn plain(self, text: &str) -> Result<(), Unsupported> {
        match self.slot {
            Slot::Root | Slot::Key => return Err(Unsupported),
            Slot::Value(_) => self.out.push(' '),
            Slot::Item(_) => {}
        }
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    fn map(self) -> Result<Map<'o>, Unsupported> {
        let keys = match self.slot {
            Slot::Key => return Err(Unsupported),
            Slot::Root => 0,
            Slot::Value(k) => k + 2,
            Slot::Item(d) => d + 2,
        };
        Ok(Map {
            out: self.out,
            slot: self.slot,
            keys,
            entries: 0,
        })
    }

    fn seq(self) -> Result<Seq<'o>, Unsupported> {
        let Slot::Value(k) = self.slot else {
            return Err(Unsupported);
        };
        Ok(Seq {
            out: self.out,
            dashes: k + 2,
            items: 0,
        })
    }
}

macro_rules! integer {
    ($($method:ident: $t:ty),*) => {$(
        fn $method(self, v: $t) -> Result<(), Unsupported> {
            self.plain(&v.to_string())
        }
    )*};
}

impl<'o> ser::Serializer for Node<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Seq<'o>;
    type SerializeTuple = Seq<'o>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Map<'o>;
    type SerializeStruct = Map<'o>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.plain(if v { "true" } else { "false" })
    }

    integer!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        let role = match self.slot {
            Slot::Root => return Err(Unsupported),
            // A key ends at its colon, which the mapping writes.
            Slot::Key => return scalar(Role::Key, v, self.out),
            Slot::Value(_) => Role::Value,
            Slot::Item(_) => Role::Item,
        };
        if role == Role::Value {
            self.out.push(' ');
        }
        scalar(role, v, self.out)?;
        self.out.push('\n');
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.plain("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    // JSON's null.
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.plain("null")
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'o>, Unsupported> {
        self.seq()
    }

    // Arrays (`[&str; 2]`) are tuples to serde, and sequences to YAML.
    fn serialize_tuple(self, _: usize) -> Result<Seq<'o>, Unsupported> {
        self.seq()
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Map<'o>, Unsupported> {
        self.map()
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map<'o>, Unsupported> {
        self.map()
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

/// A block mapping. Its first key goes on the line of its slot (after `- `), or on a
/// line of its own (after `key:`); an empty one is `{}`.
struct Map<'o> {
    out: &'o mut String,
    slot: Slot,
    keys: usize,
    entries: usize,
}

impl Map<'_> {
    fn before_key(&mut self) {
        match (self.entries, self.slot) {
            (0, Slot::Value(_)) => {
                self.out.push('\n');
                indent(self.out, self.keys);
            }
            (0, _) => {}
            _ => indent(self.out, self.keys),
        }
        self.entries += 1;
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.out.push(':');
        value.serialize(Node {
            out: self.out,
            slot: Slot::Value(self.keys),
        })
    }

    fn close(self) {
        if self.entries == 0 {
            if let Slot::Value(_) = self.slot {
                self.out.push(' ');
            }
            self.out.push_str("{}\n");
        }
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.before_key();
        key.serialize(Node {
            out: self.out,
            slot: Slot::Key,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close();
        Ok(())
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.before_key();
        scalar(Role::Key, key, self.out)?;
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close();
        Ok(())
    }
}

/// A block sequence, its dashes two columns in from the key it belongs to; an empty
/// one is `[]`.
struct Seq<'o> {
    out: &'o mut String,
    dashes: usize,
    items: usize,
}

impl Seq<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if self.items == 0 {
            self.out.push('\n');
        }
        self.items += 1;
        indent(self.out, self.dashes);
        self.out.push_str("- ");
        value.serialize(Node {
            out: self.out,
            slot: Slot::Item(self.dashes),
        })
    }

    fn close(self) {
        if self.items == 0 {
            self.out.push_str(" []\n");
        }
    }
}

/// A sequence and an array (a tuple to serde) are both a YAML sequence.
macro_rules! sequence {
    ($($kind:ident),*) => {$(
        impl ser::$kind for Seq<'_> {
            type Ok = ();
            type Error = Unsupported;

            fn serialize_element<T: Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), Unsupported> {
                self.item(value)
            }

            fn end(self) -> Result<(), Unsupported> {
                self.close();
                Ok(())
            }
        }
    )*};
}

sequence!(SerializeSeq, SerializeTuple);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::output::to_yaml_reference;
    use serde_json::{Value, json};

    fn fast(v: &Value) -> Option<String> {
        let mut out = String::new();
        write(&mut out, v).ok().map(|()| out)
    }

    /// Both writers on `v`: the same bytes whenever the fast one answers.
    fn same(v: &Value) -> bool {
        let reference = to_yaml_reference(v).unwrap();
        match fast(v) {
            Some(text) => {
                assert_eq!(text, reference, "for {v}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn obviously_plain_strings_are_written_plain_by_serde_saphyr_in_every_role() {
        let alphabet: Vec<char> = "aynoeAYNOE019-._/:@ #".chars().collect();
        let mut strings = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = strings
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(longer);
        }
        for word in [
            "yes", "no", "on", "off", "true", "false", "null", "nan", "inf", "y", "n",
        ] {
            for variant in [word.to_owned(), word.to_uppercase(), {
                let mut c = word.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }] {
                strings.push(variant);
            }
        }
        strings.extend(
            [
                "https://git.example.com/acme/shop.git",
                "app.kubernetes.io/managed-by",
                "ghcr.io/acme/shop:1.4.2",
                "a".repeat(80).as_str(),
                "a".repeat(81).as_str(),
                "nan.x",
                "e5",
                "x:",
                "a:b",
            ]
            .map(str::to_owned),
        );
        let mut vouched = 0;
        for s in &strings {
            for role in [Role::Key, Role::Value, Role::Item] {
                if obviously_plain(role, s) {
                    vouched += 1;
                    assert_eq!(
                        ask_saphyr(role, s).as_deref(),
                        Some(s.as_str()),
                        "{s:?} as {}",
                        role as u8
                    );
                }
            }
        }
        assert!(vouched > 1000, "only {vouched} strings were vouched for");
    }

    #[test]
    fn the_fast_writer_writes_what_serde_saphyr_writes() {
        let cases = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop-env", "labels": {"app.kubernetes.io/name": "shop"}}, "data": {"A": "on", "B": "no", "C": "0777", "D": "1_000", "E": "~", "F": "1e3", "G": "plain", "H": "", "I": "-1", "J": "a: b", "K": "#x", "L": "x #y", "M": "'q'", "N": "\"dq\"", "O": " lead", "P": "tail ", "Q": "tab\there", "R": "é", "S": "\u{1b}[31m", "T": "@x", "U": "--- x", "V": "2026-11-30", "W": "12:30", "X": ".inf"}}),
            json!({"a": {}, "b": [], "c": [{"x": 1, "y": ["1", {"z": "on"}]}, {}, "s", 3, true, null], "d": null, "e": false, "f": -5, "g": {"h": {"i": [{"j": []}, {"k": {}}]}}}),
            json!({"": "empty key", "on": "quoted key", "y": 1, "k: x": 1, "-1": "-1", "a b": "c", "UPPER": "Yes"}),
            json!({"spec": {"containers": [{"name": "web", "args": ["--bind", "0.0.0.0:8000", "--workers=3"], "ports": [{"containerPort": 8000, "name": "http"}], "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}]}}),
            json!({"long_quoted": format!("#{}", "x".repeat(90))}),
        ];
        for case in &cases {
            assert!(same(case), "the fast writer refused {case}");
        }
    }

    #[test]
    fn typed_objects_with_arrays_options_and_empty_structs_are_laid_out() {
        #[derive(serde::Serialize)]
        struct Empty {}
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Spec {
            pod_selector: Empty,
            policy_types: [&'static str; 2],
            none: [&'static str; 0],
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            absent: Option<u8>,
            present: Option<u8>,
        }
        let spec = Spec {
            pod_selector: Empty {},
            policy_types: ["Ingress", "Egress"],
            none: [],
            skipped: None,
            absent: None,
            present: Some(3),
        };
        let mut fast = String::new();
        write(&mut fast, &BTreeMap::from([("spec", &spec)])).unwrap();
        let mut reference = String::new();
        write_reference(&mut reference, &BTreeMap::from([("spec", &spec)])).unwrap();
        assert_eq!(fast, reference);
    }

    #[test]
    fn what_the_fast_writer_does_not_lay_out_is_left_to_serde_saphyr() {
        for case in [
            json!({"script": "line one\nline two\n"}),
            json!({"long": "word ".repeat(30).trim_end()}),
            json!({"url": format!("https://example.com/{}", "x".repeat(70))}),
            json!({"ratio": 1.5}),
            json!({"matrix": [[1, 2], [3]]}),
            json!(["not", "a", "mapping"]),
            json!("scalar"),
        ] {
            assert!(!same(&case), "the fast writer took {case}");
        }
    }
}
