//! How a task loops, as written: `loop:`, one of Ansible's `with_*`
//! lookups, and `loop_control`. The items are computed when compiling
//! (`crate::plan::lookup`), before connecting.

use super::reader::{MapReader, bool_of};
use crate::diagnostic::Diagnostic;
use crate::yaml::Node;

/// Which lookup turns the written value into the list of items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopKind {
    /// `loop:`: the value is the list.
    Loop,
    /// `with_items`: flattened one level.
    Items,
    /// `with_list`: the list as it is.
    List,
    /// `with_dict`: a mapping, as `{key, value}` items.
    Dict,
    /// `with_fileglob`: the controller's files matching the patterns.
    Fileglob,
    /// `with_together`: lists zipped, the shorter padded with null.
    Together,
    /// `with_sequence`: numbers from a `start=… end=… format=…` spec.
    Sequence,
    /// `with_subelements`: each element paired with each of its sub-list.
    Subelements,
    /// `with_nested`/`with_cartesian`: every combination of the lists.
    Nested,
    /// `with_flattened`: flattened all the way.
    Flattened,
    /// `with_indexed_items`: `[index, item]` pairs.
    IndexedItems,
}

/// The `with_*` keys ferry reads, and what each means.
pub(crate) const WITH_KEYS: &[(&str, LoopKind)] = &[
    ("with_items", LoopKind::Items),
    ("with_list", LoopKind::List),
    ("with_dict", LoopKind::Dict),
    ("with_fileglob", LoopKind::Fileglob),
    ("with_together", LoopKind::Together),
    ("with_sequence", LoopKind::Sequence),
    ("with_subelements", LoopKind::Subelements),
    ("with_nested", LoopKind::Nested),
    ("with_cartesian", LoopKind::Nested),
    ("with_flattened", LoopKind::Flattened),
    ("with_indexed_items", LoopKind::IndexedItems),
];

const LOOP_CONTROL_KEYS: &[&str] = &[
    "loop_var",
    "label",
    "index_var",
    "extended",
    "extended_allitems",
];

/// A task's loop: the items as written, how to read them, and
/// `loop_control`.
#[derive(Debug, Clone)]
pub struct Looping {
    pub kind: LoopKind,
    pub items: Node,
    pub var: String,
    /// What the plan shows for each item instead of the whole item.
    pub label: Option<Node>,
    /// A variable holding the item's index (from 0).
    pub index_var: Option<String>,
    /// `extended`: `ansible_loop` with index, first, last, length, …
    pub extended: bool,
}

/// Takes `loop:` or a `with_*` key, and `loop_control`, from a task.
pub(super) fn looping(map: &mut MapReader<'_>) -> Result<Option<Looping>, Diagnostic> {
    let mut found: Vec<(&Node, &Node, LoopKind)> = Vec::new();
    if let Some((key, value)) = map.take_entry("loop") {
        found.push((key, value, LoopKind::Loop));
    }
    for (name, kind) in WITH_KEYS {
        if let Some((key, value)) = map.take_entry(name) {
            found.push((key, value, *kind));
        }
    }
    let unknown = map
        .remaining()
        .find(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("with_")));
    if let Some((key, _)) = unknown {
        let name = key.as_str().unwrap_or_default();
        let known: Vec<&str> = WITH_KEYS.iter().map(|(n, _)| *n).collect();
        return Err(key
            .error(format!("the lookup loop `{name}` is not supported"))
            .with_help(format!("ferry reads `loop:` and `{}`", known.join("`, `")))
            .suggest(name, known.iter().copied()));
    }
    if let Some((second, _, _)) = found.get(1) {
        let first = found[0].0.as_str().unwrap_or_default();
        let name = second.as_str().unwrap_or_default();
        return Err(second.error(format!(
            "a task loops once, but this one has both `{first}` and `{name}`"
        )));
    }
    let control = map.take("loop_control");
    // Ansible ignores `loop_control` on a task that does not loop.
    let Some((_, items, kind)) = found.pop() else {
        return Ok(None);
    };
    let mut looping = Looping {
        kind,
        items: items.clone(),
        var: "item".to_string(),
        label: None,
        index_var: None,
        extended: false,
    };
    if let Some(node) = control {
        let mut control = MapReader::new(node, "`loop_control`")?;
        if let Some(var) = control.string("loop_var")? {
            looping.var = var;
        }
        looping.label = control.take("label").cloned();
        looping.index_var = control.string("index_var")?;
        if let Some(flag) = control.take("extended") {
            looping.extended = bool_of(flag, "extended")?;
        }
        if let Some(flag) = control.take("extended_allitems") {
            bool_of(flag, "extended_allitems")?;
        }
        if let Some(pause) = control.take("pause") {
            return Err(pause
                .error("`pause` in `loop_control` is not supported")
                .with_help("ferry runs a loop's items one after another without waiting"));
        }
        control.finish("`loop_control`", LOOP_CONTROL_KEYS)?;
    }
    Ok(Some(looping))
}
