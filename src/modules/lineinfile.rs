//! `lineinfile`: one line of a text file present (replacing the line a
//! `regexp` or `search_string` finds, or added after `insertafter` /
//! before `insertbefore`) or absent, as Ansible's module does it.

use serde::Serialize;

use super::edit::{
    self, Change, Edited, Place, bare, bool_arg, compile_regex, lines, python_template,
};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;

pub const KEYS: &[&str] = &[
    "path",
    "dest",
    "name",
    "line",
    "value",
    "regexp",
    "search_string",
    "state",
    "insertafter",
    "insertbefore",
    "create",
    "backrefs",
    "firstmatch",
    "mode",
    "owner",
    "group",
];

/// Finds the line to replace or remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finder {
    Regexp(String),
    SearchString(String),
    /// The line itself, compared whole.
    Exact,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineInFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    pub finder: Finder,
    pub present: bool,
    pub place: Place,
    pub backrefs: bool,
    pub firstmatch: bool,
}

pub fn lineinfile(args: &Args) -> Result<Action, Diagnostic> {
    let path = edit::path_arg(args, "lineinfile")?;
    let line = match args.string("line")? {
        Some(line) => Some(line),
        None => args.string("value")?,
    };
    let present = match args.string("state")?.as_deref() {
        None | Some("present") => true,
        Some("absent") => false,
        Some(other) => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let finder = match (
        edit::regex_arg(args, "regexp", false)?,
        args.string("search_string")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(args.error("give `lineinfile` `regexp` or `search_string`, not both"));
        }
        (Some(re), None) => Finder::Regexp(re),
        (None, Some(s)) => Finder::SearchString(s),
        (None, None) => Finder::Exact,
    };
    if line.is_none() && (present || finder == Finder::Exact) {
        return Err(args.error(if present {
            "`lineinfile` with `state: present` needs `line`".to_string()
        } else {
            "`lineinfile` with `state: absent` needs `line`, `regexp` or `search_string`"
                .to_string()
        }));
    }
    let backrefs = bool_arg(args, "backrefs", false)?;
    if backrefs && !matches!(finder, Finder::Regexp(_)) {
        return Err(args.error_at("backrefs", "`backrefs` needs `regexp`"));
    }
    let place = Place::from_args(args, "lineinfile")?;
    let change = Change::Line(LineInFile {
        line,
        finder,
        present,
        place,
        backrefs,
        firstmatch: bool_arg(args, "firstmatch", false)?,
    });
    let create = bool_arg(args, "create", false)?;
    Ok(Action::Edit {
        edit: edit::file_edit(args, path, change, create)?,
    })
}

impl LineInFile {
    pub fn apply(&self, path: &str, before: Option<&str>, create: bool) -> Result<Edited, String> {
        match (before, self.present) {
            (None, false) => Ok(Edited {
                after: None,
                msg: "file not present".into(),
            }),
            (Some(text), false) => self.remove(text),
            (before, true) => self.insert(path, before.or(create.then_some(""))),
        }
    }

    /// Whether a line is the one `regexp`, `search_string` or `line` finds.
    fn finder(&self) -> Result<impl Fn(&str) -> bool + '_, String> {
        let re = match &self.finder {
            Finder::Regexp(re) => Some(compile_regex(re, false)?),
            _ => None,
        };
        Ok(move |line: &str| match (&self.finder, &re) {
            (_, Some(re)) => re.is_match(bare(line)),
            (Finder::SearchString(s), _) => line.contains(s.as_str()),
            _ => Some(bare(line)) == self.line.as_deref(),
        })
    }

    fn remove(&self, text: &str) -> Result<Edited, String> {
        let finds = self.finder()?;
        let all = lines(text);
        let kept: Vec<&String> = all.iter().filter(|l| !finds(l)).collect();
        let removed = all.len() - kept.len();
        Ok(Edited {
            after: Some(kept.into_iter().map(String::as_str).collect()),
            msg: if removed == 0 {
                "no line matches: nothing to remove".into()
            } else {
                format!("{removed} line(s) removed")
            },
        })
    }

    fn insert(&self, path: &str, before: Option<&str>) -> Result<Edited, String> {
        let Some(text) = before else {
            return Err(format!(
                "`{path}` does not exist (`create: true` creates it)"
            ));
        };
        let line = self.line.clone().unwrap_or_default();
        let mut all = lines(text);
        let unchanged = |msg: &str| Edited {
            after: Some(text.to_string()),
            msg: msg.to_string(),
        };
        // The line `regexp` or `search_string` finds: the last one, or the
        // first with `firstmatch`.
        let found = match &self.finder {
            Finder::Exact => None,
            _ => {
                let finds = self.finder()?;
                let mut hits = all.iter().enumerate().filter(|(_, l)| finds(l));
                if self.firstmatch {
                    hits.next()
                } else {
                    hits.next_back()
                }
                .map(|(i, _)| i)
            }
        };
        if let Some(i) = found {
            let new = match (&self.finder, self.backrefs) {
                (Finder::Regexp(re), true) => {
                    let re = compile_regex(re, false)?;
                    let current = bare(&all[i]);
                    let caps = re.captures(current).ok_or("the regexp no longer matches")?;
                    let mut out = String::new();
                    caps.expand(&python_template(&line), &mut out);
                    out
                }
                _ => line.clone(),
            };
            let new = format!("{new}\n");
            if all[i] == new {
                return Ok(unchanged("line already present"));
            }
            all[i] = new;
            return Ok(Edited {
                after: Some(all.concat()),
                msg: "line replaced".into(),
            });
        }
        if self.backrefs {
            // Without a match there are no groups to fill the line with.
            return Ok(unchanged(
                "the regexp matches no line (`backrefs`: nothing added)",
            ));
        }
        if all.iter().any(|l| bare(l) == line) {
            return Ok(unchanged("line already present"));
        }
        let anchor = |re: &str| -> Result<Option<usize>, String> {
            let re = compile_regex(re, false)?;
            let mut hits = all.iter().enumerate().filter(|(_, l)| re.is_match(bare(l)));
            Ok(if self.firstmatch {
                hits.next()
            } else {
                hits.next_back()
            }
            .map(|(i, _)| i))
        };
        let at = match &self.place {
            Place::Start => 0,
            Place::End => all.len(),
            Place::After(re) => anchor(re)?.map_or(all.len(), |i| i + 1),
            Place::Before(re) => anchor(re)?.unwrap_or(all.len()),
        };
        if at == all.len()
            && let Some(last) = all.last_mut()
            && !last.ends_with('\n')
        {
            last.push('\n');
        }
        all.insert(at, format!("{line}\n"));
        Ok(Edited {
            after: Some(all.concat()),
            msg: "line added".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(line: &str) -> LineInFile {
        LineInFile {
            line: Some(line.into()),
            finder: Finder::Exact,
            present: true,
            place: Place::End,
            backrefs: false,
            firstmatch: false,
        }
    }

    fn after(edit: &LineInFile, text: &str) -> (String, String) {
        let edited = edit.apply("/f", Some(text), false).unwrap();
        (edited.after.unwrap(), edited.msg)
    }

    #[test]
    fn a_missing_line_is_added_at_the_end_and_a_present_one_left() {
        let edit = line("b=2");
        assert_eq!(
            after(&edit, "a=1\n"),
            ("a=1\nb=2\n".into(), "line added".into())
        );
        assert_eq!(
            after(&edit, "a=1"),
            ("a=1\nb=2\n".into(), "line added".into())
        );
        assert_eq!(after(&edit, ""), ("b=2\n".into(), "line added".into()));
        assert_eq!(
            after(&edit, "b=2\na=1\n"),
            ("b=2\na=1\n".into(), "line already present".into())
        );
    }

    #[test]
    fn regexp_replaces_the_last_match_or_the_first_with_firstmatch() {
        let mut edit = line("port=8080");
        edit.finder = Finder::Regexp("^port=".into());
        assert_eq!(
            after(&edit, "port=1\nx\nport=2\n"),
            ("port=1\nx\nport=8080\n".into(), "line replaced".into())
        );
        edit.firstmatch = true;
        assert_eq!(
            after(&edit, "port=1\nx\nport=2\n"),
            ("port=8080\nx\nport=2\n".into(), "line replaced".into())
        );
        assert_eq!(
            after(&edit, "port=8080\n").1,
            "line already present",
            "the regexp finds the line as it is wanted"
        );
        assert_eq!(
            after(&edit, "x\n"),
            ("x\nport=8080\n".into(), "line added".into())
        );
    }

    #[test]
    fn insertafter_and_insertbefore_anchor_a_missing_line() {
        let mut edit = line("new");
        edit.place = Place::After("^\\[main\\]".into());
        assert_eq!(after(&edit, "[main]\nx\n").0, "[main]\nnew\nx\n");
        assert_eq!(after(&edit, "y\n").0, "y\nnew\n", "no anchor: at the end");
        edit.place = Place::Before("^x".into());
        assert_eq!(after(&edit, "[main]\nx\n").0, "[main]\nnew\nx\n");
        edit.place = Place::Start;
        assert_eq!(after(&edit, "a\n").0, "new\na\n");
    }

    #[test]
    fn backrefs_fill_the_line_from_the_match_and_add_nothing_without_one() {
        let mut edit = line(r"listen \1:8000");
        edit.finder = Finder::Regexp(r"^listen (\S+):\d+$".into());
        edit.backrefs = true;
        assert_eq!(
            after(&edit, "listen 0.0.0.0:80\n").0,
            "listen 0.0.0.0:8000\n"
        );
        assert_eq!(after(&edit, "other\n").0, "other\n");
    }

    #[test]
    fn absent_removes_every_matching_line() {
        let mut edit = line("");
        edit.present = false;
        edit.finder = Finder::SearchString("debug".into());
        assert_eq!(
            after(&edit, "debug=1\nx\n# debug\n"),
            ("x\n".into(), "2 line(s) removed".into())
        );
        assert_eq!(edit.apply("/f", None, true).unwrap().after, None);
    }

    #[test]
    fn a_missing_file_is_an_error_unless_created() {
        let edit = line("x");
        let err = edit.apply("/etc/f", None, false).unwrap_err();
        assert_eq!(err, "`/etc/f` does not exist (`create: true` creates it)");
        assert_eq!(
            edit.apply("/etc/f", None, true).unwrap().after.unwrap(),
            "x\n"
        );
    }
}
