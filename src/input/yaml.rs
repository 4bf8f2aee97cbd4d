//! YAML input: a tree of nodes that remember where they stand in the file.
//!
//! Every input file is untrusted, so the tree is built here from saphyr-parser's events
//! rather than by a general-purpose loader: we need the source text and style of each
//! scalar (so `0777` stays `0777`), both places of a duplicate key, a depth cap and a
//! budget on alias expansion (a "billion laughs" file must fail fast, not eat memory).
//! Scalars resolve by the YAML 1.2 core schema, so `on` and `yes` are strings.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Deepest nesting of mappings and sequences accepted in an input file.
pub const MAX_DEPTH: usize = 64;
/// Most nodes one file may expand to, aliases included.
pub const MAX_NODES: usize = 50_000;
/// Most bytes of scalar text (keys and values) one file may expand to, aliases included:
/// a small file that aliases one large scalar thousands of times stays under
/// [`MAX_NODES`] and would still expand to gigabytes.
/// No more than the file itself may hold ([`crate::input::tree::MAX_YAML_BYTES`]): a
/// value aliased into many places is copied into every one of them in the output too.
/// Checked once an alias was expanded: the text of a file without aliases is no larger
/// than the file.
pub const MAX_EXPANDED_BYTES: usize = 256 * 1024;

/// A place in a file: 1-based line and column. Serialisable because a git error the
/// fetch helper sends back may carry one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
}

impl Pos {
    /// The start of a file, for problems with the file as a whole.
    pub const START: Pos = Pos { line: 1, col: 1 };

    /// The place just after `before`, the text of a file up to it: its line, and its
    /// column counted in characters.
    pub fn after(before: &str) -> Pos {
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Pos {
            line: to_u32(before.matches('\n').count()).saturating_add(1),
            col: to_u32(before[line_start..].chars().count()).saturating_add(1),
        }
    }

    fn from_span(span: &Span) -> Pos {
        Pos {
            line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
            col: u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarValue {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false` (any of the three spellings).
    Bool(bool),
    /// A decimal, `0o` octal or `0x` hex integer that fits in 64 bits.
    Int(i64),
    /// A float, `.inf` or `.nan`.
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    Str,
}

/// A scalar with its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The scalar's text after YAML unescaping, as the user wrote it.
    pub text: String,
    /// Its meaning.
    pub value: ScalarValue,
}

/// One node of an input file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: NodeKind,
}

/// The three shapes of YAML data.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A leaf value.
    Scalar(Scalar),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping with string keys, in file order.
    Map(Vec<Entry>),
}

/// A key and its value in a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key's text.
    pub key: String,
    /// Where the key starts: the place to point at for problems with the field itself.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

/// One step of a path into a tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the root of a document to one of its nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// The root of a document.
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// This path extended by a key.
    #[must_use]
    pub fn key(&self, key: &str) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_owned()));
        p
    }

    /// This path extended by an index.
    #[must_use]
    pub fn index(&self, i: usize) -> Path {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// A path from its dotted form, `processes.web.port` or `files[0].path` (as
    /// [`Display`](fmt::Display) writes it); for tests and built-in tables.
    pub fn parse(dotted: &str) -> Path {
        if dotted.is_empty() {
            return Path::root();
        }
        let mut segs = Vec::new();
        for part in dotted.split('.') {
            let mut rest = part;
            let key_end = rest.find('[').unwrap_or(rest.len());
            segs.push(Seg::Key(rest[..key_end].to_owned()));
            rest = &rest[key_end..];
            while let Some(inner) = rest.strip_prefix('[') {
                let Some((index, after)) = inner.split_once(']') else {
                    break;
                };
                match index.parse() {
                    Ok(i) => segs.push(Seg::Index(i)),
                    Err(_) => break,
                }
                rest = after;
            }
        }
        Path(segs)
    }
}

impl fmt::Display for Path {
    /// Dotted, with indexes in brackets: `pod.containers[0].securityContext`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// Why a file is not usable YAML. Every variant knows where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum YamlError {
    /// The parser refused the text.
    #[error("invalid YAML: {message}")]
    Syntax {
        /// Where the parser stopped.
        pos: Pos,
        /// What is wrong: in plain words where [`plain_syntax`] knows the parser's,
        /// else the parser's own.
        message: String,
        /// What to do, where the problem is known; a general hint otherwise.
        hint: Option<&'static str>,
    },
    /// A mapping has the same key twice.
    #[error("duplicate key `{key}` (first at line {first_line})")]
    DuplicateKey {
        /// Where the second one is.
        pos: Pos,
        /// The key.
        key: String,
        /// Line of the first one.
        first_line: u32,
    },
    /// Nesting is deeper than [`MAX_DEPTH`].
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep {
        /// Where the limit was crossed.
        pos: Pos,
    },
    /// The file expands to more than [`MAX_NODES`] nodes.
    #[error("{} more than {MAX_NODES} nodes",
        if *.aliased { "expands (through its aliases) to" } else { "holds" })]
    TooManyNodes {
        /// Where the limit was crossed.
        pos: Pos,
        /// Whether aliases were expanded on the way.
        aliased: bool,
    },
    /// The file's text expands to more than [`MAX_EXPANDED_BYTES`], aliases included.
    #[error(
        "expands to more than {} KiB of text through its aliases",
        MAX_EXPANDED_BYTES / 1024
    )]
    TooLarge {
        /// Where the limit was crossed.
        pos: Pos,
    },
    /// An alias names no anchor.
    #[error("{}", if .name.is_empty() { "alias to an unknown anchor".to_owned() } else {
        format!("alias `*{}` names no anchor", crate::diag::escaped(.name))
    })]
    UnknownAlias {
        /// The alias.
        pos: Pos,
        /// The anchor's name as the alias writes it; empty where the file's text is
        /// not shown.
        name: String,
    },
    /// An alias in a secrets file ([`parse_input`]).
    #[error("a secrets file may not use aliases (`*name`)")]
    SecretsAlias {
        /// The alias.
        pos: Pos,
    },
    /// A key is a mapping or a list.
    #[error("a mapping key must be a plain string")]
    ComplexKey {
        /// The key.
        pos: Pos,
    },
    /// A merge key (`<<: *base`), which YAML 1.1 has and 1.2 does not.
    #[error("`<<` merge keys are YAML 1.1, and dovetail reads YAML 1.2")]
    MergeKey {
        /// The key.
        pos: Pos,
    },
    /// A tag in a secrets file, not shown: a value pasted there unencrypted that starts
    /// with `!` reads as a tag.
    #[error("a tag (`!…`) is not supported here")]
    HiddenTag {
        /// The tagged node.
        pos: Pos,
    },
    /// A tag other than the core schema's.
    #[error("tag `{tag}` is not supported")]
    Tag {
        /// The tagged node.
        pos: Pos,
        /// The tag as written.
        tag: String,
    },
    /// A scalar whose core tag (`!!int`) its text does not match. The text is not
    /// shown: it may be a secrets file's value.
    #[error("the value is not {what}, as its tag `{tag}` says")]
    TagMismatch {
        /// The scalar.
        pos: Pos,
        /// The tag as written.
        tag: String,
        /// What the tag asks for.
        what: &'static str,
    },
    /// A `%YAML` directive for another version than the 1.2 dovetail reads: a file
    /// written for YAML 1.1 means other things by `yes`, `0755` or `<<`.
    #[error(
        "the file asks for YAML {}, and dovetail reads YAML 1.2",
        crate::diag::escaped(.version)
    )]
    Version {
        /// The directive.
        pos: Pos,
        /// The version it names.
        version: String,
    },
    /// More than one document (`---`) in a file.
    #[error("holds more than one YAML document")]
    MultipleDocuments {
        /// The second document.
        pos: Pos,
    },
    /// No document at all.
    #[error("is empty")]
    Empty,
}

impl YamlError {
    /// Where the problem is.
    pub fn pos(&self) -> Pos {
        match self {
            YamlError::Syntax { pos, .. }
            | YamlError::DuplicateKey { pos, .. }
            | YamlError::TooDeep { pos }
            | YamlError::TooManyNodes { pos, .. }
            | YamlError::TooLarge { pos }
            | YamlError::UnknownAlias { pos, .. }
            | YamlError::SecretsAlias { pos }
            | YamlError::ComplexKey { pos }
            | YamlError::MergeKey { pos }
            | YamlError::Tag { pos, .. }
            | YamlError::HiddenTag { pos }
            | YamlError::TagMismatch { pos, .. }
            | YamlError::Version { pos, .. }
            | YamlError::MultipleDocuments { pos } => *pos,
            YamlError::Empty => Pos::START,
        }
    }

    /// What to do about it: every variant has advice, kept out of the message so that
    /// JSON and GitHub output carry it as the hint.
    pub fn hint(&self) -> String {
        match self {
            YamlError::Syntax { hint: Some(h), .. } => (*h).to_owned(),
            YamlError::Syntax { hint: None, .. } => {
                "check the YAML just before this place: indentation with spaces, a space after each ':' and '-', closed quotes and brackets".to_owned()
            }
            YamlError::DuplicateKey { .. } | YamlError::MultipleDocuments { .. } => {
                "keep one".to_owned()
            }
            YamlError::TooDeep { .. } => {
                "flatten it: dovetail's inputs nest a few levels, not dozens".to_owned()
            }
            YamlError::TooManyNodes { aliased: true, .. } => {
                "input files are small, so trim it or remove the aliases".to_owned()
            }
            YamlError::TooManyNodes { aliased: false, .. } => {
                "input files are small, so trim it".to_owned()
            }
            YamlError::TooLarge { .. } => "write the values out or remove the aliases".to_owned(),
            // `hosts: [*.acme.example]`: a wildcard host written plain.
            YamlError::UnknownAlias { name, .. } if name.starts_with('.') => format!(
                "a plain value starting with `*` is an alias in YAML: quote it, like \"*{}\"",
                crate::diag::escaped(name)
            ),
            YamlError::UnknownAlias { .. } => {
                "put the anchor (`&name`) on a value above the alias that uses it, or write the value out".to_owned()
            }
            YamlError::SecretsAlias { .. } => {
                "write each key and value out, as `dovetail secrets set` does".to_owned()
            }
            YamlError::ComplexKey { .. } => "write the key as plain text".to_owned(),
            YamlError::MergeKey { .. } => {
                "write the fields out (an alias `*name` can still stand for a whole value)".to_owned()
            }
            YamlError::HiddenTag { .. } => {
                "a value is an age-encrypted block (`|` then the armored text), which `dovetail secrets set` writes".to_owned()
            }
            YamlError::Tag { .. } => "remove it".to_owned(),
            YamlError::TagMismatch { what, .. } => format!("remove the tag, or write {what}"),
            YamlError::Version { .. } => {
                "remove the directive, or write the file for YAML 1.2 (`%YAML 1.2`)".to_owned()
            }
            YamlError::Empty => {
                "fill it in; `dovetail init --app DIR` (or `--operator DIR`) writes a commented starting point".to_owned()
            }
        }
    }

    /// The same error without any of the file's own text, for a secrets file whose values
    /// may have been pasted in unencrypted: a tag is not named, and the parser's
    /// "unexpected character" does not say which.
    #[must_use]
    pub fn hiding_text(self) -> YamlError {
        match self {
            YamlError::Tag { pos, .. } => YamlError::HiddenTag { pos },
            YamlError::UnknownAlias { pos, .. } => YamlError::UnknownAlias {
                pos,
                name: String::new(),
            },
            YamlError::DuplicateKey {
                pos,
                key,
                first_line,
            } if !crate::input::formats::secret_name(&key) => YamlError::DuplicateKey {
                pos,
                key: crate::input::doc::HIDDEN_KEY.to_owned(),
                first_line,
            },
            YamlError::Syntax { pos, message, hint } => YamlError::Syntax {
                pos,
                hint,
                message: match message.split_once(": `") {
                    Some((what, _)) => what.to_owned(),
                    None => message,
                },
            },
            other => other,
        }
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key whose value comes next, and whether it is a duplicate (whose value
        /// is left out: the first is kept).
        pending_key: Option<(String, Pos, bool)>,
        /// The line of each key so far: a duplicate is found in constant time, so a
        /// mapping of tens of thousands of keys is refused as fast as it is read.
        seen: HashMap<String, u32>,
    },
}

/// What a node costs once expanded: its nodes and the bytes of its scalars' text; and,
/// for an anchored node, how many levels of collections it nests (0 for a scalar), which
/// an alias to it adds to the depth where it stands.
#[derive(Clone, Copy, Default)]
struct Weight {
    nodes: usize,
    bytes: usize,
    depth: usize,
}

/// The running totals of a parse, checked against the caps as they grow.
#[derive(Default)]
struct Budget {
    spent: Weight,
    /// Whether an alias was expanded.
    aliased: bool,
}

impl Budget {
    fn spend(&mut self, w: Weight, pos: Pos) -> Result<(), YamlError> {
        self.spent.nodes = self.spent.nodes.saturating_add(w.nodes);
        self.spent.bytes = self.spent.bytes.saturating_add(w.bytes);
        if self.spent.nodes > MAX_NODES {
            return Err(YamlError::TooManyNodes {
                pos,
                aliased: self.aliased,
            });
        }
        // Without aliases the text is no larger than the file, which its reader caps.
        if self.aliased && self.spent.bytes > MAX_EXPANDED_BYTES {
            return Err(YamlError::TooLarge { pos });
        }
        Ok(())
    }
}

/// Parses one YAML document into a [`Node`] tree, within [`MAX_DEPTH`] and [`MAX_NODES`].
/// A duplicate key is an error.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut duplicates = Vec::new();
    let node = parse_with(text, true, &mut duplicates)?;
    duplicates.into_iter().next().map_or(Ok(node), Err)
}

/// [`parse`] for an input file, whose every problem is reported at once: the tree with
/// the first of each duplicated key (every duplicate, [`YamlError::DuplicateKey`], comes
/// with it), so that the rest of the file is still checked. A secrets file (`secrets`)
/// refuses aliases: an alias copies its anchor's text where it stands, and as a key
/// (`*v : x`) a value pasted in unencrypted would be named back as "not a secret name"
/// in the error.
pub fn parse_input(text: &str, secrets: bool) -> Result<(Node, Vec<YamlError>), YamlError> {
    let mut duplicates = Vec::new();
    let node = parse_with(text, !secrets, &mut duplicates)?;
    Ok((node, duplicates))
}

fn parse_with(
    text: &str,
    aliases: bool,
    duplicates: &mut Vec<YamlError>,
) -> Result<Node, YamlError> {
    check_nul(text)?;
    check_version(text)?;
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchored node with what one alias to it costs, counted once when it closes.
    let mut anchors: HashMap<usize, (Node, Weight)> = HashMap::new();
    let mut budget = Budget::default();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let pos = Pos {
                line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                col: u32::try_from(e.marker().col() + 1).unwrap_or(u32::MAX),
            };
            plain_syntax(text, pos, e.info())
        })?;
        let pos = Pos::from_span(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError::MultipleDocuments { pos });
                }
                None
            }
            Event::Alias(_) if !aliases => return Err(YamlError::SecretsAlias { pos }),
            Event::Alias(id) => {
                let (target, weight) = anchors.get(&id).ok_or_else(|| YamlError::UnknownAlias {
                    pos,
                    name: alias_name(text, pos),
                })?;
                // An alias nests its anchor's collections where it stands: `[*a]` is one
                // level deeper than `a`, and each file's tree must stay within the cap.
                if stack.len().saturating_add(weight.depth) > MAX_DEPTH {
                    return Err(YamlError::TooDeep { pos });
                }
                // Charged before the copy is made: the copy is what would eat memory.
                budget.aliased = true;
                budget.spend(*weight, pos)?;
                let mut copy = target.clone();
                copy.pos = pos;
                Some((copy, 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                budget.spend(
                    Weight {
                        nodes: 1,
                        bytes: text.len(),
                        depth: 0,
                    },
                    pos,
                )?;
                let value = match tag.as_deref() {
                    None => resolve(&text, style),
                    Some(t) if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" => {
                        match (t.suffix.as_str(), resolve(&text, ScalarStyle::Plain)) {
                            ("str", _) => ScalarValue::Str,
                            // `!!float 9000` stays the whole number it is written as,
                            // so that a port tagged so is written back as `9000`.
                            ("int", v @ ScalarValue::Int(_))
                            | ("float", v @ (ScalarValue::Float(_) | ScalarValue::Int(_)))
                            | ("bool", v @ ScalarValue::Bool(_))
                            | ("null", v @ ScalarValue::Null) => v,
                            (suffix, _) => {
                                return Err(match core_kind(suffix) {
                                    Some(what) => YamlError::TagMismatch {
                                        pos,
                                        tag: format!("!!{suffix}"),
                                        what,
                                    },
                                    None => tag_error(pos, &t.handle, &t.suffix),
                                });
                            }
                        }
                    }
                    Some(t) if t.handle == "!" && t.suffix.is_empty() => ScalarValue::Str,
                    Some(t) => return Err(tag_error(pos, &t.handle, &t.suffix)),
                };
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        value,
                    }),
                };
                Some((node, anchor))
            }
            Event::SequenceStart(anchor, tag) => {
                open_collection(pos, tag.as_deref(), "seq", &mut budget, stack.len())?;
                stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                open_collection(pos, tag.as_deref(), "map", &mut budget, stack.len())?;
                stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    seen: HashMap::new(),
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Some((
                    Node {
                        pos,
                        kind: NodeKind::Seq(items),
                    },
                    anchor,
                )),
                _ => return Err(unbalanced(pos)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    ..
                }) => Some((
                    Node {
                        pos,
                        kind: NodeKind::Map(entries),
                    },
                    anchor,
                )),
                _ => return Err(unbalanced(pos)),
            },
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            let weight = weigh(&node);
            anchors.insert(anchor, (node.clone(), weight));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                seen,
                ..
            }) => match pending_key.take() {
                None => {
                    let NodeKind::Scalar(s) = node.kind else {
                        return Err(YamlError::ComplexKey { pos: node.pos });
                    };
                    if s.text == "<<" {
                        return Err(YamlError::MergeKey { pos: node.pos });
                    }
                    let duplicate = if let Some(first_line) = seen.get(&s.text) {
                        duplicates.push(YamlError::DuplicateKey {
                            pos: node.pos,
                            key: s.text.clone(),
                            first_line: *first_line,
                        });
                        true
                    } else {
                        seen.insert(s.text.clone(), node.pos.line);
                        false
                    };
                    *pending_key = Some((s.text, node.pos, duplicate));
                }
                Some((_, _, true)) => {}
                Some((key, key_pos, false)) => entries.push(Entry {
                    key,
                    key_pos,
                    value: node,
                }),
            },
        }
    }
    root.ok_or(YamlError::Empty)
}

/// The parser's error in words a user of the file knows, with what to do, where its
/// cause is certain from its words; otherwise the parser's own words. Tab messages are
/// placed at the tab itself: the parser stops on the character after it.
fn plain_syntax(text: &str, pos: Pos, info: &str) -> YamlError {
    let line_text = line_at(text, pos);
    let syntax = |pos, message: &str, hint| YamlError::Syntax {
        pos,
        message: message.to_owned(),
        hint: Some(hint),
    };
    if info.contains("tab") && !info.contains("block scalar") {
        // The first tab in the line's indentation, or else the first after a ':'.
        let indent_tab = line_text
            .chars()
            .take_while(|c| c.is_whitespace())
            .position(|c| c == '\t');
        let pos = indent_tab.map_or(pos, |i| Pos {
            line: pos.line,
            col: u32::try_from(i + 1).unwrap_or(u32::MAX),
        });
        return if indent_tab.is_some() {
            syntax(
                pos,
                "a tab in the indentation",
                "indent with spaces: YAML does not allow tabs there",
            )
        } else {
            syntax(
                pos,
                "a tab where YAML needs a space",
                "use spaces, not tabs",
            )
        };
    }
    if info == "':' must be followed by a valid YAML whitespace" {
        return if let Some(at) = line_text.find(":\t") {
            let tab = Pos {
                line: pos.line,
                col: u32::try_from(line_text[..at].chars().count() + 2).unwrap_or(u32::MAX),
            };
            syntax(tab, "a tab after ':'", "use a space, not a tab, after ':'")
        } else {
            syntax(
                pos,
                "':' must be followed by a space",
                "add a space after ':', or quote the value if the ':' is part of it",
            )
        };
    }
    if info == "while parsing node, found unknown anchor" {
        return YamlError::UnknownAlias {
            pos,
            name: alias_name(text, pos),
        };
    }
    if let Some(c) = info
        .strip_prefix("unexpected character: `")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return syntax(
            pos,
            // A secrets file's error drops what follows ": `" (`hiding_text`): the
            // character may be the first of a value pasted in plain.
            &format!("a value that is not quoted starts with a character YAML reserves: `{c}`"),
            // Naming the characters here would tell a secrets file's reader which one its
            // pasted value starts with.
            "quote the value: YAML keeps this character for itself at the start of one",
        );
    }
    let known = match info {
        "while parsing a block collection, did not find expected '-' indicator" => Some((
            "a list item (`- …`) and a mapping key (`name:`) at one level",
            "write each level as either a list (`- item` lines) or a mapping (`key: value` lines), not both; `dovetail schema` shows which a field takes",
        )),
        "while parsing a block mapping, did not find expected key" => Some((
            "a line indented differently from the keys around it",
            "line up each key with the keys beside it, indented with spaces",
        )),
        "invalid indentation in quoted scalar"
        | "while scanning a quoted scalar, found unexpected end of stream"
        | "while scanning a quoted scalar, found unexpected document indicator" => Some((
            "a quoted value that is not closed",
            "end it with the same quote it starts with, on the same line",
        )),
        "while parsing a flow mapping, did not find expected ',' or '}'" => Some((
            "a `{…}` mapping that is not closed, or lacks a ',' between its entries",
            "separate its entries with ', ' and close it with '}'",
        )),
        "while parsing a flow sequence, expected ',' or ']'" => Some((
            "a `[…]` list that is not closed, or lacks a ',' between its items",
            "separate its items with ', ' and close it with ']'",
        )),
        "block sequence entries are not allowed in this context" => Some((
            "a list item (`- `) on the line of the key it belongs to",
            "start the list on the next line, indented, or write it as `[a, b]`; quote the value if the `- ` is part of it",
        )),
        "simple key expect ':'" => Some((
            "a line that is neither `key: value` nor a list item",
            "add ': ' after the key, or indent the line as part of the value above it",
        )),
        "while parsing a node, did not find expected node content" => Some((
            "a value is missing where one was expected",
            "write the value, or close the `[` or `{` that opens before it",
        )),
        "misplaced bracket" => Some((
            "a closing `]` or `}` that no bracket opens",
            "remove it, or open the list or mapping it closes",
        )),
        "invalid trailing content after double-quoted scalar" => Some((
            "text after the closing quote of a quoted value",
            "put the whole value inside the quotes",
        )),
        "while parsing a quoted scalar, found unknown escape character" => Some((
            "an unknown escape (`\\` and a character) in a double-quoted value",
            "write `\\\\` for a backslash, or use single quotes, in which `\\` is an ordinary character",
        )),
        "while parsing a quoted scalar, did not find expected hexadecimal number"
        | "while parsing a quoted scalar, found invalid Unicode character escape code" => Some((
            "a `\\x`, `\\u` or `\\U` escape without its hexadecimal digits, or not a character",
            "give its digits (`\\x41` is `A`), or write `\\\\` for a backslash",
        )),
        "while scanning an anchor or alias, did not find expected alphabetic or numeric character" => {
            Some((
                "an anchor (`&`) or alias (`*`) without a name",
                "quote the value if it starts with `&` or `*`",
            ))
        }
        "while scanning a block scalar, found an indentation indicator equal to 0" => Some((
            "a block value's indentation indicator of 0",
            "use a digit from 1 to 9 after `|` or `>`, or leave it out",
        )),
        "mapping values are not allowed in this context" => Some((
            "a ': ' where a value was expected to end",
            "quote the value if the ': ' is part of it, or start a new line for a new key",
        )),
        _ => None,
    };
    match known {
        Some((message, hint)) => syntax(pos, message, hint),
        None => YamlError::Syntax {
            pos,
            message: info.to_owned(),
            hint: None,
        },
    }
}

/// The line of `text` that `pos` stands on; empty past the end.
fn line_at(text: &str, pos: Pos) -> &str {
    text.lines()
        .nth(pos.line.saturating_sub(1) as usize)
        .unwrap_or_default()
}

/// The name an alias at `pos` writes (`*base` gives `base`); empty if none is there.
fn alias_name(text: &str, pos: Pos) -> String {
    // The parser's columns do not count a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest: String = line_at(text, pos)
        .chars()
        .skip(pos.col.saturating_sub(1) as usize)
        .collect();
    match rest.strip_prefix('*') {
        Some(name) => name
            .chars()
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .take(100)
            .collect(),
        None => String::new(),
    }
}

/// A NUL byte, which YAML does not allow anywhere, at its own place: the parser stops
/// there as at the end of the text, and then speaks of a tab or an unclosed quote.
fn check_nul(text: &str) -> Result<(), YamlError> {
    // Columns are counted as the parser counts them, without a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(at) = text.find('\0') else {
        return Ok(());
    };
    Err(YamlError::Syntax {
        pos: Pos::after(&text[..at]),
        message: "a NUL byte, which YAML does not allow".to_owned(),
        hint: Some(
            "remove it; a file full of them is binary, or saved as UTF-16: save it as UTF-8 text",
        ),
    })
}

/// Refuses a `%YAML` directive for any version but 1.2, which the parser would read as
/// 1.2 regardless. Directives stand at the start of a line before the document's `---`,
/// among comments and blank lines; the first other line ends them.
fn check_version(text: &str) -> Result<(), YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix('%') else {
            break;
        };
        let mut words = rest.split_whitespace();
        if words.next() != Some("YAML") {
            continue;
        }
        let version = words.next().unwrap_or_default();
        if version != "1.2" {
            return Err(YamlError::Version {
                pos: Pos {
                    line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    col: 1,
                },
                version: version.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks a collection's tag and the depth and node budgets before it opens.
fn open_collection(
    pos: Pos,
    tag: Option<&saphyr_parser::Tag>,
    core: &str,
    budget: &mut Budget,
    depth: usize,
) -> Result<(), YamlError> {
    if let Some(t) = tag {
        let is_core_handle = t.handle == "!!" || t.handle == "tag:yaml.org,2002:";
        if !is_core_handle {
            return Err(tag_error(pos, &t.handle, &t.suffix));
        }
        if t.suffix != core {
            return Err(match core_kind(&t.suffix) {
                Some(what) => YamlError::TagMismatch {
                    pos,
                    tag: format!("!!{}", t.suffix),
                    what,
                },
                None => tag_error(pos, &t.handle, &t.suffix),
            });
        }
    }
    budget.spend(
        Weight {
            nodes: 1,
            bytes: 0,
            depth: 0,
        },
        pos,
    )?;
    if depth >= MAX_DEPTH {
        return Err(YamlError::TooDeep { pos });
    }
    Ok(())
}

/// The parser promises balanced start and end events; should it ever break that promise,
/// the file is refused rather than the process brought down.
fn unbalanced(pos: Pos) -> YamlError {
    YamlError::Syntax {
        pos,
        message: "unbalanced collection".to_owned(),
        hint: None,
    }
}

/// What a core schema tag (`!!int`, `!!seq`) asks its value to be, for a value that is
/// not; none for a tag outside the core schema.
fn core_kind(suffix: &str) -> Option<&'static str> {
    Some(match suffix {
        "str" => "a string",
        "int" => "an integer",
        "float" => "a number",
        "bool" => "true or false",
        "null" => "null",
        "seq" => "a list",
        "map" => "a mapping",
        _ => return None,
    })
}

fn tag_error(pos: Pos, handle: &str, suffix: &str) -> YamlError {
    let tag = if handle == "tag:yaml.org,2002:" {
        format!("!!{suffix}")
    } else {
        format!("{handle}{suffix}")
    };
    YamlError::Tag { pos, tag }
}

/// What one more copy of `node` costs, and how deep it nests. Linear in the node, and run
/// once per anchor.
fn weigh(node: &Node) -> Weight {
    let collection = Weight {
        nodes: 1,
        bytes: 0,
        depth: 1,
    };
    let add = |a: Weight, key: usize, v: Weight| Weight {
        nodes: a.nodes.saturating_add(key).saturating_add(v.nodes),
        bytes: a.bytes.saturating_add(v.bytes),
        depth: a.depth.max(v.depth.saturating_add(1)),
    };
    match &node.kind {
        NodeKind::Scalar(s) => Weight {
            nodes: 1,
            bytes: s.text.len(),
            depth: 0,
        },
        NodeKind::Seq(items) => items
            .iter()
            .fold(collection, |a, item| add(a, 0, weigh(item))),
        NodeKind::Map(entries) => entries.iter().fold(collection, |a, e| {
            let v = weigh(&e.value);
            let with_key = add(a, 1, v);
            Weight {
                bytes: with_key.bytes.saturating_add(e.key.len()),
                ..with_key
            }
        }),
    }
}

/// Resolves a scalar by the YAML 1.2 core schema; quoted and block scalars are strings.
fn resolve(text: &str, style: ScalarStyle) -> ScalarValue {
    if style != ScalarStyle::Plain {
        return ScalarValue::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarValue::Null,
        "true" | "True" | "TRUE" => return ScalarValue::Bool(true),
        "false" | "False" | "FALSE" => return ScalarValue::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarValue::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarValue::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarValue::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return i64::from_str_radix(hex, 16).map_or(ScalarValue::Str, ScalarValue::Int);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return i64::from_str_radix(oct, 8).map_or(ScalarValue::Str, ScalarValue::Int);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // Still a number when past i64 (the core schema's integers are unbounded): read
        // as a float, a field's range check then says it is too large, not that it is
        // a string.
        return text.parse::<i64>().map_or_else(
            |_| {
                text.parse::<f64>()
                    .map_or(ScalarValue::Str, ScalarValue::Float)
            },
            ScalarValue::Int,
        );
    }
    if is_core_float(unsigned) {
        return text
            .parse::<f64>()
            .map_or(ScalarValue::Str, ScalarValue::Float);
    }
    ScalarValue::Str
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without its sign.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() && digits(frac)) || (digits(int) && (frac.is_empty() || digits(frac)))
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

impl Node {
    /// The value at `key`, if this is a mapping holding it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry at `key`, if this is a mapping holding it.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The items of a sequence; none for anything else.
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The node at `path`, if there is one.
    pub fn at(&self, path: &Path) -> Option<&Node> {
        let mut node = self;
        for seg in &path.0 {
            node = match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(_)) => node.get(k)?,
                (Seg::Index(i), NodeKind::Seq(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The best place to point at for a problem at `path`: the key of a mapping entry (the
    /// field itself), a list item, or the nearest ancestor that exists.
    pub fn locate(&self, path: &Path) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        for seg in &path.0 {
            match (seg, &node.kind) {
                (Seg::Key(k), NodeKind::Map(_)) => match node.entry(k) {
                    Some(e) => {
                        pos = e.key_pos;
                        node = &e.value;
                    }
                    None => return pos,
                },
                (Seg::Index(i), NodeKind::Seq(items)) => match items.get(*i) {
                    Some(n) => {
                        pos = n.pos;
                        node = n;
                    }
                    None => return pos,
                },
                _ => return pos,
            }
        }
        pos
    }

    /// The best place to point at for a problem with the value at `path` (its type, format
    /// or range): the value itself when it is a scalar, which may stand on the line after
    /// its key; otherwise [`Node::locate`]'s place. A value left out (`port:` and nothing)
    /// has no text to point at, so the key stands for it.
    pub fn locate_value(&self, path: &Path) -> Pos {
        match self.at(path) {
            Some(node) if !path.0.is_empty() && node.written() => node.pos,
            _ => self.locate(path),
        }
    }

    /// Whether this is a scalar with text in the file, not an empty value.
    fn written(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if !s.text.is_empty() || s.value != ScalarValue::Null)
    }

    /// The text of a scalar node as the user wrote it, whatever it resolved to.
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The node as JSON, for schema validation and typed deserialisation. NaN and
    /// infinities, which JSON lacks, become their YAML spelling as a string.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar(s) => match s.value {
                ScalarValue::Null => Value::Null,
                ScalarValue::Bool(b) => Value::Bool(b),
                ScalarValue::Int(i) => Value::Number(i.into()),
                ScalarValue::Float(f) => {
                    Number::from_f64(f).map_or_else(|| Value::String(s.text.clone()), Value::Number)
                }
                ScalarValue::Str => Value::String(s.text.clone()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> ScalarValue {
        match parse(&format!("k: {text}\n"))
            .unwrap()
            .get("k")
            .unwrap()
            .kind
            .clone()
        {
            NodeKind::Scalar(s) => s.value,
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn yaml_1_1_booleans_and_octals_stay_strings() {
        for s in [
            "on", "off", "yes", "no", "y", "n", "0777x", "1_000", "0b11", "12:30",
        ] {
            assert_eq!(scalar(s), ScalarValue::Str, "{s}");
        }
        assert_eq!(scalar("0777"), ScalarValue::Int(777));
        assert_eq!(scalar("true"), ScalarValue::Bool(true));
        assert_eq!(scalar("~"), ScalarValue::Null);
        assert_eq!(scalar("0x1F"), ScalarValue::Int(31));
        assert_eq!(scalar("99999999999999999999"), ScalarValue::Float(1e20));
        assert_eq!(scalar("-99999999999999999999"), ScalarValue::Float(-1e20));
        assert_eq!(scalar("1.5e3"), ScalarValue::Float(1500.0));
        assert_eq!(scalar("'true'"), ScalarValue::Str);
    }

    /// Regression: a NUL byte was reported as "a tab where YAML needs a space", or
    /// inside quotes as a quoted value not closed, because the parser stops at it.
    #[test]
    fn a_nul_byte_is_reported_as_itself_at_its_place() {
        for (text, line, col) in [
            ("a: 1\nk: a\0b\n", 2, 5),
            ("a: 1\nk: \"\u{e9}\0\"\n", 2, 6),
            ("\0k: 1\n", 1, 1),
            // A byte-order mark is no column, as the parser counts them.
            ("\u{feff}k: a\0\n", 1, 5),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.pos(), Pos { line, col }, "{text:?}");
            assert!(e.to_string().contains("a NUL byte"), "{text:?}: {e}");
        }
    }

    /// Regression: after a byte-order mark, an alias on the first line was looked for one
    /// column off, and its name (and with it the wildcard-host hint) was lost.
    #[test]
    fn an_alias_after_a_byte_order_mark_is_named() {
        let e = parse("\u{feff}k: [x, *.a]\n").unwrap_err();
        assert_eq!(e.to_string(), "alias `*.a` names no anchor");
        assert!(e.hint().contains("quote it, like \"*.a\""), "{}", e.hint());
    }

    #[test]
    fn source_text_is_kept_for_numbers() {
        let n = parse("k: 0777\n").unwrap();
        assert_eq!(n.get("k").unwrap().scalar_text(), Some("0777"));
    }

    #[test]
    fn duplicate_key_names_both_lines() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            e,
            YamlError::DuplicateKey {
                pos: Pos { line: 3, col: 1 },
                key: "a".into(),
                first_line: 1
            }
        );
    }

    /// An input file's duplicates are reported with the tree, which keeps the first of
    /// each key: the rest of the file is still checked.
    #[test]
    fn an_inputs_duplicate_keys_come_with_the_tree_keeping_the_first() {
        let (node, duplicates) = parse_input("a: 1\nb: {c: 2, c: 3}\na: 4\n", false).unwrap();
        assert_eq!(node.get("a").unwrap().scalar_text(), Some("1"));
        assert_eq!(
            node.get("b").unwrap().get("c").unwrap().scalar_text(),
            Some("2")
        );
        let lines: Vec<u32> = duplicates.iter().map(|e| e.pos().line).collect();
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(matches!(parse(&text), Err(YamlError::TooManyNodes { .. })));
    }

    #[test]
    fn aliases_to_a_large_scalar_are_refused_by_bytes() {
        // Under the node cap, but 2,000 copies of 1 KiB would be 2 MiB of text.
        let mut text = format!("a: &big {}\nl: [", "x".repeat(1024));
        text.push_str(&vec!["*big"; 2000].join(", "));
        text.push_str("]\n");
        assert!(matches!(parse(&text), Err(YamlError::TooLarge { .. })));
    }

    #[test]
    fn large_mappings_are_refused_at_the_node_cap_and_duplicates_anywhere() {
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("k{i}: 1\n"));
        }
        assert!(matches!(parse(&text), Err(YamlError::TooManyNodes { .. })));
        let mut dup = String::new();
        for i in 0..20_000 {
            dup.push_str(&format!("k{i}: 1\n"));
        }
        dup.push_str("k0: 2\n");
        assert_eq!(
            parse(&dup),
            Err(YamlError::DuplicateKey {
                pos: Pos {
                    line: 20_001,
                    col: 1
                },
                key: "k0".into(),
                first_line: 1
            })
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(parse(&text), Err(YamlError::TooDeep { .. })));
    }

    /// Found by the `yaml` fuzz target: an alias to a deeply nested anchor, inside one
    /// more level, built a tree past the cap (`fuzz/regressions/yaml/`).
    #[test]
    fn aliases_count_towards_the_depth_cap() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let past = format!("a: &a {}\nb: [*a]\n", nested(MAX_DEPTH - 1));
        assert!(matches!(parse(&past), Err(YamlError::TooDeep { .. })));
        let at = format!("a: &a {}\nb: *a\n", nested(MAX_DEPTH - 1));
        assert!(parse(&at).is_ok());
    }

    #[test]
    fn unknown_tags_and_second_documents_are_refused() {
        assert!(matches!(
            parse("a: !python/object x\n"),
            Err(YamlError::Tag { .. })
        ));
        assert!(matches!(
            parse("a: 1\n---\nb: 2\n"),
            Err(YamlError::MultipleDocuments { .. })
        ));
        assert_eq!(parse(""), Err(YamlError::Empty));
        assert_eq!(parse("# only a comment\n"), Err(YamlError::Empty));
    }

    /// A core tag that the value does not match was read as if absent: `port: !!null
    /// 8000` gave port 8000, `!!int x` the string `x`.
    #[test]
    fn a_core_tag_the_value_does_not_match_is_refused() {
        let value = |text: &str| match parse(text).unwrap().kind {
            NodeKind::Map(entries) => match &entries[0].value.kind {
                NodeKind::Scalar(s) => s.value.clone(),
                _ => unreachable!(),
            },
            _ => unreachable!(),
        };
        assert_eq!(value("a: !!int 8000\n"), ScalarValue::Int(8000));
        assert_eq!(value("a: !!float 8000\n"), ScalarValue::Int(8000));
        assert_eq!(value("a: !!float 8e3\n"), ScalarValue::Float(8000.0));
        assert_eq!(value("a: !!bool true\n"), ScalarValue::Bool(true));
        assert_eq!(value("a: !!null ~\n"), ScalarValue::Null);
        assert_eq!(value("a: !!str 8000\n"), ScalarValue::Str);
        for (text, what) in [
            ("a: !!null 8000\n", "null"),
            ("a: !!bool hello\n", "true or false"),
            ("a: !!int x\n", "an integer"),
            ("a: !!int 1.5\n", "an integer"),
            ("a: !!float secret\n", "a number"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(&e, YamlError::TagMismatch { what: w, pos, .. } if *w == what && pos.col == 4),
                "{text}: {e:?}"
            );
            assert!(
                !e.to_string().contains("secret"),
                "the value is never shown"
            );
        }
    }

    /// A core tag on a value of another shape (`!!str [1]`, `!!seq x`) was called an
    /// unsupported tag.
    #[test]
    fn a_core_tag_on_a_value_of_another_shape_says_what_it_asks_for() {
        assert!(
            parse(
                "a: !!seq [1]
b: !!map {c: 1}
"
            )
            .is_ok()
        );
        for (text, what) in [
            (
                "a: !!str [1]
",
                "a string",
            ),
            (
                "a: !!int {b: 1}
",
                "an integer",
            ),
            (
                "a: !!map [1]
",
                "a mapping",
            ),
            (
                "a: !!seq x
",
                "a list",
            ),
            (
                "a: !!map x
",
                "a mapping",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(&e, YamlError::TagMismatch { what: w, pos, .. } if *w == what && pos.col == 4),
                "{text}: {e:?}"
            );
        }
        assert!(matches!(
            parse(
                "a: !!set {b: ~}
"
            ),
            Err(YamlError::Tag { .. })
        ));
    }

    /// `%YAML 1.1` was accepted and the file read as YAML 1.2.
    #[test]
    fn a_yaml_directive_for_another_version_is_refused() {
        assert!(parse("%YAML 1.2\n---\na: yes\n").is_ok());
        assert!(
            parse("# a comment\n%YAML 1.2 # the version\n%TAG ! tag:x,2000:\n---\na: 1\n").is_ok()
        );
        for (text, line) in [
            ("%YAML 1.1\n---\na: yes\n", 1),
            ("\u{feff}# written for PyYAML\n\n%YAML 1.1\n---\na: 1\n", 3),
            ("%YAML 2.0\n---\na: 1\n", 1),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(&e, YamlError::Version { pos, .. } if pos.line == line && pos.col == 1),
                "{text:?}: {e:?}"
            );
            assert!(e.to_string().contains("dovetail reads YAML 1.2"), "{e}");
        }
        // Past the directives, a `%` at the start of a line is text.
        assert!(parse("a: |\n  %YAML 1.1\n").is_ok());
    }

    #[test]
    fn merge_keys_are_refused_as_yaml_1_1() {
        let e = parse("base: &b {a: 1}\nc:\n  <<: *b\n  d: 2\n").unwrap_err();
        assert_eq!(
            e,
            YamlError::MergeKey {
                pos: Pos { line: 3, col: 3 }
            }
        );
        assert!(e.hint().contains("write the fields out"));
    }

    #[test]
    fn locate_points_at_keys_and_falls_back_to_parents() {
        let n = parse("a:\n  b: 1\n  c: [x, y]\n").unwrap();
        assert_eq!(n.locate(&Path::parse("a.b")), Pos { line: 2, col: 3 });
        assert_eq!(
            n.locate(&Path::parse("a.c").index(1)),
            Pos { line: 3, col: 10 }
        );
        assert_eq!(n.locate(&Path::parse("a.zz")), Pos { line: 1, col: 1 });
    }

    /// `port:\n  "8000x"` was reported at `port`, a line above the bad value.
    #[test]
    fn locate_value_points_at_a_scalar_wherever_it_stands() {
        let n = parse("a:\n  b: 1\n  c:\n    \"x\"\n  d: {e: f}\n  g:\n  h: ''\n").unwrap();
        assert_eq!(n.locate_value(&Path::parse("a.b")), Pos { line: 2, col: 6 });
        assert_eq!(n.locate_value(&Path::parse("a.c")), Pos { line: 4, col: 5 });
        assert_eq!(
            n.locate_value(&Path::parse("a.d.e")),
            Pos { line: 5, col: 10 }
        );
        // A collection, or a value left out, is pointed at by its key.
        assert_eq!(n.locate_value(&Path::parse("a.d")), Pos { line: 5, col: 3 });
        assert_eq!(n.locate_value(&Path::parse("a.g")), Pos { line: 6, col: 3 });
        // An empty string is written, as its quotes.
        assert_eq!(n.locate_value(&Path::parse("a.h")), Pos { line: 7, col: 6 });
        assert_eq!(
            n.locate_value(&Path::parse("a.zz")),
            Pos { line: 1, col: 1 }
        );
    }

    /// Customers saw the parser's words ("did not find expected '-' indicator", "found
    /// unknown anchor" without its name, "':' must be followed by a valid YAML
    /// whitespace" for a tab), and a tab at column 1 was placed at column 2.
    #[test]
    fn parser_errors_are_said_plainly_and_placed_at_their_cause() {
        let err = |text: &str| {
            let e = parse(text).unwrap_err();
            (e.pos(), e.to_string(), e.hint())
        };
        let (pos, message, hint) = err("a:\n\tb: 1\n");
        assert_eq!(pos, Pos { line: 2, col: 1 });
        assert_eq!(message, "invalid YAML: a tab in the indentation");
        assert!(hint.contains("indent with spaces"), "{hint}");
        let (pos, message, hint) = err("port:\t8000\nb: *x\n");
        assert_eq!(pos, Pos { line: 1, col: 6 });
        assert_eq!(message, "invalid YAML: a tab after ':'");
        assert_eq!(hint, "use a space, not a tab, after ':'");
        let (pos, message, _) = err("a: 1\nb: *base\n");
        assert_eq!(pos, Pos { line: 2, col: 4 });
        assert_eq!(message, "alias `*base` names no anchor");
        let (_, message, _) = err("p:\n  - web:\n    a: 1\n  worker:\n    a: 2\n");
        assert!(
            message.contains("a list item (`- …`) and a mapping key"),
            "{message}"
        );
        let (_, message, hint) = err("env:\n  A: \"x\n  B: y\n");
        assert_eq!(message, "invalid YAML: a quoted value that is not closed");
        assert!(hint.contains("quote"), "{hint}");
        // Each mistake a customer makes by hand gets its own words; none gets the
        // parser's, which name its grammar ("simple key", "node content", "scalar").
        for (text, pos, words) in [
            (
                "env:\n  A: @foo\n",
                (2, 6),
                "starts with a character YAML reserves: `@`",
            ),
            (
                "env:\n  A: - b\n",
                (2, 6),
                "a list item (`- `) on the line of the key",
            ),
            (
                "env:\n  A:\n  - b\n  C\n",
                (5, 1),
                "neither `key: value` nor a list item",
            ),
            (
                "env: {A: [}\n",
                (1, 11),
                "a value is missing where one was expected",
            ),
            (
                "env: }\n",
                (1, 6),
                "a closing `]` or `}` that no bracket opens",
            ),
            (
                "env:\n  A: \"x\" y\n",
                (2, 10),
                "text after the closing quote",
            ),
            (
                "env:\n  A: \"a\\qb\"\n",
                (2, 6),
                "an unknown escape (`\\` and a character)",
            ),
            (
                "env:\n  A: \"\\x4\"\n",
                (2, 6),
                "escape without its hexadecimal digits",
            ),
            (
                "env:\n  A: *\n",
                (2, 6),
                "an anchor (`&`) or alias (`*`) without a name",
            ),
            (
                "env:\n  A: |0\n   x\n",
                (2, 6),
                "indentation indicator of 0",
            ),
        ] {
            let (at, message, hint) = err(text);
            assert_eq!((at.line, at.col), pos, "{text:?}: {message}");
            assert!(message.contains(words), "{text:?}: {message}");
            assert!(
                !hint.contains("check the YAML just before"),
                "{text:?}: {hint}"
            );
            for grammar in [
                "scalar",
                "simple key",
                "node content",
                "parsing",
                "scanning",
            ] {
                assert!(!message.contains(grammar), "{text:?}: {message}");
            }
        }
        // A secrets file's error never names what it quotes.
        assert_eq!(
            parse("A: @pasted\n").unwrap_err().hiding_text().to_string(),
            "invalid YAML: a value that is not quoted starts with a character YAML reserves"
        );
        assert_eq!(
            parse("a: *pasted\n").unwrap_err().hiding_text().to_string(),
            "alias to an unknown anchor"
        );
    }

    /// Regression guard for untrusted input: no truncation or single-byte change of a
    /// real input file may panic the parser or the locator; each must give a tree or an
    /// error.
    #[test]
    fn truncated_and_mutated_inputs_never_panic() {
        let source = include_str!("../../examples/django/app/dovetail.yaml");
        let bytes = source.as_bytes();
        let check = |text: &str| {
            if let Ok(node) = parse(text) {
                let _ = node.to_json();
                let _ = node.locate(&Path::parse("processes.web.port"));
            }
        };
        for end in 0..bytes.len() {
            if let Ok(prefix) = std::str::from_utf8(&bytes[..end]) {
                check(prefix);
            }
        }
        for i in 0..bytes.len() {
            for b in [
                b'[', b'{', b'&', b'*', b'!', b':', b'-', b'"', b'\'', b'\t', b'|', b'>', b'%',
                b'@',
            ] {
                let mut m = bytes.to_vec();
                m[i] = b;
                if let Ok(text) = std::str::from_utf8(&m) {
                    check(text);
                }
            }
        }
    }
}
