//! A YAML tree that remembers where every node came from.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr::{Scalar, ScalarStyle};
use saphyr_parser::{Event, Parser, Span};

use super::env;
use crate::diagnostic::{Diagnostic, Loc, SourceFile};

/// A YAML node and its position.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub loc: Loc,
}

/// The value of a [`Node`], scalars resolved by YAML 1.2's core schema.
#[derive(Clone, Debug)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; keys are string nodes.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A null node at `loc`.
    pub fn null(loc: Loc) -> Self {
        Node { value: Value::Null, loc }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key`, if this is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, v)| (k, v))
    }

    /// What kind of value this is, for messages: `a string`, `a mapping`, ...
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a sequence",
            Value::Map(_) => "a mapping",
        }
    }

    /// The same value as JSON, for typed deserialization and schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.to_json())).collect(),
            ),
        }
    }

    /// The node at a path of keys and indexes below this one. When the last step is a key
    /// that does not exist, or `at_key` is set, the key itself is returned (so an unknown
    /// field is underlined where it is written). Steps that lead nowhere stop at the
    /// deepest node found.
    pub fn locate(&self, path: &[PathStep], at_key: bool) -> &Node {
        let mut node = self;
        for (i, step) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            match (step, &node.value) {
                (PathStep::Key(key), Value::Map(entries)) => {
                    match entries.iter().find(|(k, _)| k.as_str() == Some(key)) {
                        Some((k, _)) if last && at_key => return k,
                        Some((_, v)) => node = v,
                        None => return node,
                    }
                }
                (PathStep::Index(index), Value::Seq(items)) => match items.get(*index) {
                    Some(item) => node = item,
                    None => return node,
                },
                _ => return node,
            }
        }
        node
    }

    /// Finds the first scalar string node equal to `text` below this node.
    pub fn find_string(&self, text: &str) -> Option<&Node> {
        match &self.value {
            Value::String(s) if s == text => Some(self),
            Value::Seq(items) => items.iter().find_map(|n| n.find_string(text)),
            Value::Map(entries) => entries.iter().find_map(|(_, v)| v.find_string(text)),
            _ => None,
        }
    }
}

pub use seam_core::PathStep;

/// Parses `file`'s text into a tree, replacing `${VAR}` and `${VAR:-default}` in scalars.
/// Problems (syntax, duplicate keys, unset variables) are returned all together.
pub fn parse(file: &Arc<SourceFile>) -> Result<Node, Vec<Diagnostic>> {
    let mut builder = Builder {
        file: file.clone(),
        anchors: HashMap::new(),
        errors: Vec::new(),
        depth: 0,
        expanded: 0,
        keys: Vec::new(),
    };
    let mut parser = Parser::new_from_str(&file.text);
    let root = builder.document(&mut parser);
    match root {
        Ok(node) if builder.errors.is_empty() => Ok(node),
        Ok(_) => Err(builder.errors),
        Err(e) => {
            builder.errors.push(e);
            Err(builder.errors)
        }
    }
}

/// How deep mappings and sequences may nest (a gateway document needs a handful of levels).
pub const MAX_DEPTH: usize = 128;

/// How many nodes aliases may copy in all, so an alias bomb ("billion laughs") is refused
/// instead of eating memory.
pub const MAX_ALIAS_NODES: usize = 100_000;

struct Builder {
    file: Arc<SourceFile>,
    /// Anchored nodes and how many nodes each holds.
    anchors: HashMap<usize, (Node, usize)>,
    errors: Vec<Diagnostic>,
    /// Mappings and sequences open around the current node.
    depth: usize,
    /// Nodes copied by aliases so far.
    expanded: usize,
    /// The mapping keys leading to the current node.
    keys: Vec<String>,
}

/// How many nodes `node` holds, itself included.
fn size(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
        _ => 1,
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

type Events<'a> = Parser<'a, saphyr_parser::StrInput<'a>>;

impl Builder {
    fn loc(&self, span: &Span) -> Loc {
        let (start, end) = (span.start, span.end);
        let width = if end.line() == start.line() { end.index().saturating_sub(start.index()) } else { 1 };
        Loc {
            file: self.file.clone(),
            line: clamp(start.line()),
            column: clamp(start.col() + 1),
            width: clamp(width.max(1)),
        }
    }

    fn next<'a>(&mut self, parser: &mut Events<'a>) -> Result<(Event<'a>, Span), Diagnostic> {
        match parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => {
                let m = e.marker();
                let loc = Loc { file: self.file.clone(), line: clamp(m.line()), column: clamp(m.col() + 1), width: 1 };
                Err(Diagnostic::error(format!("invalid YAML: {}", e.info())).at(&loc))
            }
            None => {
                let loc = Loc { file: self.file.clone(), line: 1, column: 1, width: 1 };
                Err(Diagnostic::error("invalid YAML: unexpected end of input").at(&loc))
            }
        }
    }

    fn document(&mut self, parser: &mut Events<'_>) -> Result<Node, Diagnostic> {
        let start = Loc { file: self.file.clone(), line: 1, column: 1, width: 1 };
        let mut root = None;
        loop {
            let (event, span) = self.next(parser)?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(Diagnostic::error(
                            "a config file holds one YAML document; split the others into files of their own",
                        )
                        .at(&self.loc(&span)));
                    }
                    let (event, span) = self.next(parser)?;
                    root = Some(self.node(parser, event, span)?);
                }
                other => {
                    root = Some(self.node(parser, other, span)?);
                }
            }
        }
        Ok(root.unwrap_or_else(|| Node::null(start)))
    }

    fn node<'a>(&mut self, parser: &mut Events<'a>, event: Event<'a>, span: Span) -> Result<Node, Diagnostic> {
        let loc = self.loc(&span);
        let (node, anchor) = match event {
            Event::Alias(id) => {
                let (node, nodes) = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| Diagnostic::error("invalid YAML: alias to an unknown anchor").at(&loc))?;
                self.expanded = self.expanded.saturating_add(*nodes);
                if self.expanded > MAX_ALIAS_NODES {
                    return Err(Diagnostic::error(format!(
                        "aliases in this document expand to more than {MAX_ALIAS_NODES} nodes; it is refused"
                    ))
                    .at(&loc)
                    .help("a gateway document needs few aliases; write the repeated parts out or use fewer levels"));
                }
                return Ok(Node { loc, ..node.clone() });
            }
            Event::Scalar(text, style, anchor, tag) => {
                (Node { value: self.scalar(&text, style, tag.as_deref(), &loc), loc }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(&loc)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next(parser)?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(parser, event, span)?);
                }
                self.depth -= 1;
                (Node { value: Value::Seq(items), loc }, anchor)
            }
            Event::MappingStart(anchor, _) => {
                self.enter(&loc)?;
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let mut seen: HashMap<String, usize> = HashMap::new();
                loop {
                    let (event, span) = self.next(parser)?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let mut key = self.node(parser, event, span)?;
                    key.value = Value::String(match key.value {
                        Value::String(s) => s,
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => String::new(),
                        Value::Seq(_) | Value::Map(_) => {
                            self.errors.push(Diagnostic::error("a mapping key must be a plain value").at(&key.loc));
                            String::new()
                        }
                    });
                    let (event, span) = self.next(parser)?;
                    self.keys.push(key.as_str().unwrap_or_default().to_owned());
                    let value = self.node(parser, event, span);
                    self.keys.pop();
                    let value = value?;
                    let name = key.as_str().unwrap_or_default().to_owned();
                    if let Some(&first) = seen.get(&name) {
                        let first: &Node = &entries[first].0;
                        self.errors.push(
                            Diagnostic::error(format!("duplicate key `{name}` in one mapping"))
                                .at(&key.loc)
                                .related(format!("`{name}` is first defined here"), &first.loc),
                        );
                        continue;
                    }
                    seen.insert(name, entries.len());
                    entries.push((key, value));
                }
                self.depth -= 1;
                (Node { value: Value::Map(entries), loc }, anchor)
            }
            _ => return Err(Diagnostic::error("invalid YAML: unexpected event").at(&loc)),
        };
        if anchor > 0 {
            let nodes = size(&node);
            self.anchors.insert(anchor, (node.clone(), nodes));
        }
        Ok(node)
    }

    /// One more level of nesting, refused beyond [`MAX_DEPTH`] (before the recursion could
    /// exhaust the stack).
    fn enter(&mut self, loc: &Loc) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(
                Diagnostic::error(format!("the document nests deeper than {MAX_DEPTH} levels; it is refused")).at(loc)
            );
        }
        Ok(())
    }

    /// Whether the current scalar is a component's template field (`middlewares.<name>.
    /// config.<field>` where a component of that kind declares `field` a template): its
    /// `${...}` belong to the component.
    fn in_template(&self) -> bool {
        match self.keys.as_slice() {
            [section, _, config, field] if config == "config" => crate::templates::kind_of_section(section)
                .is_some_and(|kind| crate::templates::fields_of_kind(kind).contains(field)),
            _ => false,
        }
    }

    fn scalar(&mut self, text: &str, style: ScalarStyle, tag: Option<&saphyr_parser::Tag>, loc: &Loc) -> Value {
        if text.contains("${") && tag.is_none() && self.in_template() {
            return Value::String(text.to_owned());
        }
        let substituted = match env::substitute(text) {
            Ok(s) => s,
            Err(message) => {
                self.errors.push(Diagnostic::error(message).at(loc));
                return Value::String(text.to_owned());
            }
        };
        let tag = tag.map(|t| std::borrow::Cow::Owned(t.clone()));
        match Scalar::parse_from_cow_and_metadata(substituted.clone().into(), style, tag.as_ref()) {
            Some(Scalar::Null) => Value::Null,
            Some(Scalar::Boolean(b)) => Value::Bool(b),
            Some(Scalar::Integer(i)) => Value::Int(i),
            Some(Scalar::FloatingPoint(f)) => Value::Float(f.into_inner()),
            Some(Scalar::String(s)) => Value::String(s.into_owned()),
            None => {
                self.errors.push(Diagnostic::error(format!("`{substituted}` does not match its tag")).at(loc));
                Value::String(substituted)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Vec<Diagnostic>> {
        parse(&Arc::new(SourceFile { path: "t.yaml".into(), text: text.into() }))
    }

    #[test]
    fn deep_nesting_is_refused_without_a_crash() {
        // Flow style: saphyr's own limit, or ours, whichever comes first; never a crash.
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let text = format!("{}1{}", open.repeat(200_000), close.repeat(200_000));
            let errors = parse_str(&text).unwrap_err();
            let message = &errors[0].message;
            assert!(
                message.contains("nests deeper than 128 levels") || message.contains("recursion limit"),
                "{message}"
            );
            assert_eq!(errors[0].loc.as_ref().map(|l| l.line), Some(1));
        }
        // Block style: ours, at the line where the limit is crossed.
        let text: String = (0..1000).map(|i| format!("{}a:\n", "  ".repeat(i))).collect();
        let errors = parse_str(&text).unwrap_err();
        assert!(errors[0].message.contains("nests deeper than 128 levels"), "{}", errors[0].message);
        assert_eq!(errors[0].loc.as_ref().map(|l| l.line), Some(129));
        let fine = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_str(&fine).is_ok());
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
        }
        let errors = parse_str(&text).unwrap_err();
        assert!(errors[0].message.contains("expand to more than"), "{}", errors[0].message);
        // A few aliases are fine.
        assert!(parse_str("base: &b {x: 1}\none: *b\ntwo: *b\n").is_ok());
    }

    #[test]
    fn positions_and_types() {
        let node = parse_str("a:\n  b: 1\n  c: \"1\"\n  d: [x, ~]\n").unwrap();
        let b = node.get("a").unwrap().get("b").unwrap();
        assert!(matches!(b.value, Value::Int(1)));
        assert_eq!((b.loc.line, b.loc.column), (2, 6));
        assert!(matches!(node.get("a").unwrap().get("c").unwrap().value, Value::String(_)));
        let key = node.locate(&[PathStep::Key("a".into()), PathStep::Key("d".into())], true);
        assert_eq!((key.loc.line, key.loc.column), (4, 3));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors() {
        let errs = parse_str("a: 1\na: 2\n").unwrap_err();
        assert!(errs[0].message.contains("duplicate key `a`"));
        let errs = parse_str("a: [1, 2\n").unwrap_err();
        assert!(errs[0].message.starts_with("invalid YAML"));
    }

    #[test]
    fn env_substitution_retypes_plain_scalars() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("SEAM_NODE_TEST_PORT", "6380") };
        let node =
            parse_str("p: ${SEAM_NODE_TEST_PORT}\nq: \"${SEAM_NODE_TEST_PORT}\"\nr: ${SEAM_NODE_UNSET:-x}\n").unwrap();
        assert!(matches!(node.get("p").unwrap().value, Value::Int(6380)));
        assert_eq!(node.get("q").unwrap().as_str(), Some("6380"));
        assert_eq!(node.get("r").unwrap().as_str(), Some("x"));
        let errs = parse_str("p: ${SEAM_NODE_UNSET_TOO}\n").unwrap_err();
        assert!(errs[0].message.contains("SEAM_NODE_UNSET_TOO"));
    }
}
