//! `blockinfile`: a block of lines between two marker lines, kept as
//! written (or removed), as Ansible's module does it.

use serde::Serialize;

use super::edit::{self, Change, Edited, Place, bare, bool_arg, compile_regex, lines};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &[
    "path",
    "dest",
    "name",
    "block",
    "content",
    "marker",
    "marker_begin",
    "marker_end",
    "state",
    "insertafter",
    "insertbefore",
    "create",
    "mode",
    "owner",
    "group",
];

#[derive(Debug, Clone, Serialize)]
pub struct BlockInFile {
    pub begin: String,
    pub end: String,
    /// The block's lines; empty removes the block.
    pub block: String,
    pub place: Place,
}

pub fn blockinfile(args: &Args) -> Result<Action, Diagnostic> {
    let path = edit::path_arg(args, "blockinfile")?;
    let block = match args.string("block")? {
        Some(block) => block,
        None => args.string("content")?.unwrap_or_default(),
    };
    let block = match args.string("state")?.as_deref() {
        None | Some("present") => block,
        Some("absent") => String::new(),
        Some(other) => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let marker = args
        .string("marker")?
        .unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
    let mark = |key: &str, default: &str| -> Result<String, Diagnostic> {
        let word = args.string(key)?.unwrap_or_else(|| default.into());
        Ok(marker.replace("{mark}", &word))
    };
    let (begin, end) = (mark("marker_begin", "BEGIN")?, mark("marker_end", "END")?);
    if begin == end {
        return Err(args.error_at(
            "marker",
            format!(
                "the begin and end markers are the same line (`{begin}`): `marker` needs `{{mark}}`"
            ),
        ));
    }
    let place = Place::from_args(args, "blockinfile")?;
    let change = Change::Block(BlockInFile {
        begin,
        end,
        block,
        place,
    });
    let create = bool_arg(args, "create", false)?;
    Ok(Action::Edit {
        edit: edit::file_edit(args, path, change, create)?,
    })
}

impl BlockInFile {
    pub fn apply(&self, path: &str, before: Option<&str>, create: bool) -> Result<Edited, String> {
        let removing = self.block.is_empty();
        let text = match before {
            Some(text) => text,
            None if removing => {
                return Ok(Edited {
                    after: None,
                    msg: "file not present".into(),
                });
            }
            None if create => "",
            None => {
                return Err(format!(
                    "`{path}` does not exist (`create: true` creates it)"
                ));
            }
        };
        let mut all = lines(text);
        let last = |marker: &str| all.iter().rposition(|l| bare(l) == marker);
        let at = match (last(&self.begin), last(&self.end)) {
            (Some(b), Some(e)) => {
                let (from, to) = if b < e { (b, e) } else { (e, b) };
                all.drain(from..=to);
                from
            }
            _ => match &self.place {
                Place::End => all.len(),
                Place::Start => 0,
                Place::After(re) | Place::Before(re) => {
                    let re = compile_regex(re, false)?;
                    match all.iter().rposition(|l| re.is_match(bare(l))) {
                        None => all.len(),
                        Some(i) if matches!(self.place, Place::After(_)) => i + 1,
                        Some(i) => i,
                    }
                }
            },
        };
        if !removing {
            if at > 0 && !all[at - 1].ends_with('\n') {
                all[at - 1].push('\n');
            }
            let block = std::iter::once(self.begin.clone())
                .chain(self.block.lines().map(str::to_string))
                .chain(std::iter::once(self.end.clone()))
                .map(|l| format!("{l}\n"));
            all.splice(at..at, block);
        }
        let after = all.concat();
        let msg = match (after == text, before.is_none(), removing) {
            (true, _, true) => "no block to remove",
            (true, _, false) => "block already present",
            (false, true, _) => "file created",
            (false, false, true) => "block removed",
            (false, false, false) => "block inserted",
        };
        Ok(Edited {
            after: Some(after),
            msg: msg.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> BlockInFile {
        BlockInFile {
            begin: "# BEGIN X".into(),
            end: "# END X".into(),
            block: text.into(),
            place: Place::End,
        }
    }

    fn after(edit: &BlockInFile, text: &str) -> (String, String) {
        let edited = edit.apply("/f", Some(text), false).unwrap();
        (edited.after.unwrap(), edited.msg)
    }

    #[test]
    fn a_block_is_added_then_kept_then_replaced_in_place() {
        let edit = block("a=1\nb=2");
        let (first, msg) = after(&edit, "top\n");
        assert_eq!(first, "top\n# BEGIN X\na=1\nb=2\n# END X\n");
        assert_eq!(msg, "block inserted");
        assert_eq!(
            after(&edit, &first),
            (first.clone(), "block already present".into())
        );
        let changed = block("c=3");
        assert_eq!(
            after(&changed, &format!("{first}tail\n")).0,
            "top\n# BEGIN X\nc=3\n# END X\ntail\n"
        );
    }

    #[test]
    fn an_empty_block_or_absent_removes_it() {
        let edit = block("");
        assert_eq!(
            after(&edit, "a\n# BEGIN X\nx\n# END X\nb\n"),
            ("a\nb\n".into(), "block removed".into())
        );
        assert_eq!(after(&edit, "a\n").1, "no block to remove");
        assert_eq!(edit.apply("/f", None, true).unwrap().after, None);
    }

    #[test]
    fn insertafter_insertbefore_and_a_missing_last_newline() {
        let mut edit = block("x");
        edit.place = Place::After("^\\[s\\]".into());
        assert_eq!(
            after(&edit, "[s]\ny\n").0,
            "[s]\n# BEGIN X\nx\n# END X\ny\n"
        );
        edit.place = Place::Before("^y".into());
        assert_eq!(
            after(&edit, "[s]\ny\n").0,
            "[s]\n# BEGIN X\nx\n# END X\ny\n"
        );
        edit.place = Place::Start;
        assert_eq!(after(&edit, "a").0, "# BEGIN X\nx\n# END X\na");
        edit.place = Place::End;
        assert_eq!(after(&edit, "a").0, "a\n# BEGIN X\nx\n# END X\n");
    }

    #[test]
    fn a_missing_file_is_created_only_with_create() {
        let edit = block("x");
        assert!(edit.apply("/f", None, false).is_err());
        let made = edit.apply("/f", None, true).unwrap();
        assert_eq!(made.after.unwrap(), "# BEGIN X\nx\n# END X\n");
        assert_eq!(made.msg, "file created");
    }
}
