//! `replace`: every match of a regular expression in a file replaced (in
//! multi-line mode, with Python's `\1` and `\g<name>` in the replacement),
//! optionally only in the part after `after` and before `before`.

use serde::Serialize;

use super::edit::{self, Change, Edited, compile_regex, python_template};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &[
    "path", "dest", "name", "regexp", "replace", "after", "before", "mode", "owner", "group",
];

#[derive(Debug, Clone, Serialize)]
pub struct Replace {
    pub regexp: String,
    pub replace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

pub fn replace(args: &Args) -> Result<Action, Diagnostic> {
    let path = edit::path_arg(args, "replace")?;
    let regexp = edit::regex_arg(args, "regexp", true)?
        .ok_or_else(|| args.error("module `replace` needs `regexp`"))?;
    let change = Change::Replace(Replace {
        regexp,
        replace: args.string("replace")?.unwrap_or_default(),
        after: edit::regex_arg(args, "after", false)?,
        before: edit::regex_arg(args, "before", false)?,
    });
    Ok(Action::Edit {
        edit: edit::file_edit(args, path, change, false)?,
    })
}

impl Replace {
    pub fn apply(&self, path: &str, before: Option<&str>) -> Result<Edited, String> {
        let Some(text) = before else {
            return Err(format!("`{path}` does not exist"));
        };
        let unchanged = |msg: String| Edited {
            after: Some(text.to_string()),
            msg,
        };
        // The section to work in: after the end of `after`'s first match,
        // before the start of `before`'s first match after it.
        let start = match &self.after {
            None => 0,
            Some(re) => match compile_regex(re, false)?.find(text) {
                Some(m) => m.end(),
                None => {
                    return Ok(unchanged(format!(
                        "`after` ({re}) matches nothing: nothing replaced"
                    )));
                }
            },
        };
        let end = match &self.before {
            None => text.len(),
            Some(re) => match compile_regex(re, false)?.find(&text[start..]) {
                Some(m) => start + m.start(),
                None => {
                    return Ok(unchanged(format!(
                        "`before` ({re}) matches nothing: nothing replaced"
                    )));
                }
            },
        };
        let re = compile_regex(&self.regexp, true)?;
        let section = &text[start..end];
        let count = re.find_iter(section).count();
        let replaced = re.replace_all(section, python_template(&self.replace).as_str());
        if count == 0 || replaced == section {
            return Ok(unchanged(if count == 0 {
                "no match: nothing replaced".into()
            } else {
                "every match already reads as its replacement".into()
            }));
        }
        Ok(Edited {
            after: Some(format!("{}{replaced}{}", &text[..start], &text[end..])),
            msg: format!("{count} replacements made"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(regexp: &str, with: &str) -> Replace {
        Replace {
            regexp: regexp.into(),
            replace: with.into(),
            after: None,
            before: None,
        }
    }

    fn after(edit: &Replace, text: &str) -> (String, String) {
        let edited = edit.apply("/f", Some(text)).unwrap();
        (edited.after.unwrap(), edited.msg)
    }

    #[test]
    fn every_match_is_replaced_with_python_groups() {
        let edit = replace(r"^(\w+)=old$", r"\1=new");
        assert_eq!(
            after(&edit, "a=old\nb=old\nc=keep\n"),
            (
                "a=new\nb=new\nc=keep\n".into(),
                "2 replacements made".into()
            )
        );
        assert_eq!(after(&edit, "a=new\n").1, "no match: nothing replaced");
    }

    #[test]
    fn a_replacement_equal_to_the_match_changes_nothing() {
        let edit = replace("x+", "x");
        assert_eq!(
            after(&edit, "x\n"),
            (
                "x\n".into(),
                "every match already reads as its replacement".into()
            )
        );
    }

    #[test]
    fn after_and_before_bound_the_section() {
        let mut edit = replace("on", "off");
        edit.after = Some(r"\[b\]".into());
        edit.before = Some(r"\[c\]".into());
        let text = "[a]\non\n[b]\non\n[c]\non\n";
        assert_eq!(after(&edit, text).0, "[a]\non\n[b]\noff\n[c]\non\n");
        edit.after = Some("nowhere".into());
        assert_eq!(after(&edit, text).0, text);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        assert_eq!(
            replace("a", "b").apply("/f", None).unwrap_err(),
            "`/f` does not exist"
        );
    }
}
