//! Where each key and list item of a YAML file is: a map from paths like `tasks[1].models[0]` to
//! line and column, built from yaml-rust2's marked events.
//!
//! serde gives positions only for the errors it finds itself; the validator's own findings
//! (an unknown model id, a missing file) look their position up here.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct Locations {
    map: HashMap<String, Position>,
    /// Nodes of the document once every alias is expanded (what serde will build).
    pub expanded_nodes: u64,
    /// The alias at which the expansion first passed [`MAX_EXPANDED_NODES`].
    pub expansion_overflow: Option<Position>,
}

/// The most nodes a suite may expand to. A real suite has hundreds; a few kilobytes of nested
/// aliases ("billion laughs") can expand to billions, which serde would build in memory.
pub const MAX_EXPANDED_NODES: u64 = 200_000;

enum Frame {
    Map { prefix: String, expecting_key: bool, key: Option<String> },
    Seq { prefix: String, index: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    map: HashMap<String, Position>,
    /// Nodes so far with aliases expanded, the expanded size of each anchor, and the open
    /// collections' (anchor, nodes at their start).
    nodes: u64,
    anchors: HashMap<usize, u64>,
    open: Vec<(usize, u64)>,
    overflow: Option<Position>,
}

impl Builder {
    fn count(&mut self, n: u64, pos: Position) {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_EXPANDED_NODES && self.overflow.is_none() {
            self.overflow = Some(pos);
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") }
}

impl Builder {
    /// The path of the node that starts now, recording its position; advances the parent.
    fn enter_node(&mut self, pos: Position) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { prefix, index }) => {
                let path = format!("{prefix}[{index}]");
                *index += 1;
                self.map.insert(path.clone(), pos);
                Some(path)
            }
            Some(Frame::Map { prefix, expecting_key, key }) => {
                if *expecting_key {
                    None // a key; handled by the scalar branch
                } else {
                    *expecting_key = true;
                    let path = join(prefix, key.as_deref().unwrap_or(""));
                    Some(path)
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Position { line: mark.line(), column: mark.col() + 1 };
        match &ev {
            Event::Scalar(_, _, anchor, _) => {
                self.count(1, pos);
                if *anchor > 0 {
                    self.anchors.insert(*anchor, 1);
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                self.count(1, pos);
                self.open.push((*anchor, self.nodes - 1));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some((anchor, start)) = self.open.pop().filter(|(a, _)| *a > 0) {
                    self.anchors.insert(anchor, self.nodes - start);
                }
            }
            Event::Alias(anchor) => {
                let size = self.anchors.get(anchor).copied().unwrap_or(1);
                self.count(size, pos);
            }
            _ => {}
        }
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { prefix, expecting_key: true, key }) = self.stack.last_mut() {
                    let path = join(prefix, &value);
                    self.map.entry(path).or_insert(pos);
                    *key = Some(value);
                    if let Some(Frame::Map { expecting_key, .. }) = self.stack.last_mut() {
                        *expecting_key = false;
                    }
                } else {
                    self.enter_node(pos);
                }
            }
            Event::MappingStart(..) => {
                let prefix = self.enter_node(pos).unwrap_or_default();
                self.stack.push(Frame::Map { prefix, expecting_key: true, key: None });
            }
            Event::SequenceStart(..) => {
                let prefix = self.enter_node(pos).unwrap_or_default();
                self.stack.push(Frame::Seq { prefix, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::Alias(..) => {
                self.enter_node(pos);
            }
            _ => {}
        }
    }
}

impl Locations {
    /// Indexes `source`; a file yaml-rust2 cannot parse gives an empty index (serde reports why).
    pub fn index(source: &str) -> Locations {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(source);
        if parser.load(&mut builder, false).is_err() {
            return Locations::default();
        }
        Locations { map: builder.map, expanded_nodes: builder.nodes, expansion_overflow: builder.overflow }
    }

    /// The position of `path`, else of its nearest recorded ancestor.
    pub fn find(&self, path: &str) -> Position {
        let mut p = path.to_owned();
        loop {
            if let Some(&pos) = self.map.get(&p) {
                return pos;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return Position { line: 1, column: 1 },
            }
        }
    }

    /// The first key named `key` at or after `from`, used to sharpen serde's positions.
    pub fn key_after(&self, key: &str, from: Position) -> Option<Position> {
        self.map
            .iter()
            .filter(|(path, pos)| {
                path.rsplit(['.', ']']).next() == Some(key) && (pos.line, pos.column) >= (from.line, from.column)
            })
            .map(|(_, &pos)| pos)
            .min_by_key(|pos| (pos.line, pos.column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_expansion_is_counted() {
        let mut src = format!("a: &a [{}]\n", ["x"; 10].join(", "));
        for k in 1..8 {
            let prev = if k == 1 { "a".to_string() } else { format!("b{}", k - 1) };
            src.push_str(&format!("b{k}: &b{k} [{}]\n", vec![format!("*{prev}"); 10].join(", ")));
        }
        let loc = Locations::index(&src);
        assert!(loc.expanded_nodes > MAX_EXPANDED_NODES, "{}", loc.expanded_nodes);
        assert_eq!(loc.expansion_overflow.map(|p| p.line), Some(6));
        let plain = Locations::index("a: &a [1, 2]\nb: *a\n");
        assert_eq!(plain.expanded_nodes, 1 + 3 + 3 + 2);
        assert!(plain.expansion_overflow.is_none());
    }

    #[test]
    fn an_aliased_task_counts_whole_each_time() {
        let task = "  - &t {id: t, type: perplexity, dataset: {path: x.txt, limit: 5}, models: [kn, kn], metrics: [bits_per_byte]}\n";
        let src = format!("version: 1\ntasks:\n{task}{}", "  - *t\n".repeat(3));
        let loc = Locations::index(&src);
        // map, 2 keys, version value, the task list, the task (20 nodes) and 3 aliases of it.
        assert_eq!(loc.expanded_nodes, 1 + 2 + 1 + 1 + 18 * 4, "{loc:?}");
        let bomb = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/hostile/cases/suite-yaml-alias-bomb/suite.yaml"
        ))
        .unwrap();
        let loc = Locations::index(&bomb);
        assert!(loc.expansion_overflow.is_some(), "{}", loc.expanded_nodes);
    }

    #[test]
    fn paths_have_positions() {
        let src =
            "name: x\nmodels:\n  - id: a\n    kind: ngram\n  - {id: b, kind: ngram}\ntasks:\n  - models: [a, zz]\n";
        let loc = Locations::index(src);
        assert_eq!(loc.find("name"), Position { line: 1, column: 1 });
        assert_eq!(loc.find("models[0].id"), Position { line: 3, column: 5 });
        assert_eq!(loc.find("models[1].kind").line, 5);
        assert_eq!(loc.find("tasks[0].models[1]"), Position { line: 7, column: 17 });
        assert_eq!(loc.find("tasks[0].nothing").line, 7);
    }
}
