//! `apt_repository`: a source line for apt, present or absent, in a file
//! of `/etc/apt/sources.list.d` named as Ansible names it, and the package
//! index refreshed after a change (`update_cache`, on by default).
//!
//! The check is a `grep` for the line in every sources file, as Ansible's
//! module looks in all of them: a line already there (in any file) is
//! `ok`, and removing one removes it wherever it is.

use super::{Action, Args, Check, Mode};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "repo",
    "state",
    "filename",
    "update_cache",
    "update-cache",
    "mode",
];

/// Where apt reads its sources from (one-line format).
const SOURCES: &str = "/etc/apt/sources.list /etc/apt/sources.list.d/*.list";

pub fn apt_repository(args: &Args) -> Result<Action, Diagnostic> {
    let repo = args.required("repo", "apt_repository")?;
    let line = repo.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.starts_with("ppa:") {
        return Err(args.error_at(
            "repo",
            format!("`{line}`: ferry does not resolve PPAs (it would ask Launchpad); write the PPA's `deb` line, with `signed-by` naming its key"),
        ));
    }
    if !(line.starts_with("deb ") || line.starts_with("deb-src ")) {
        return Err(args.error_at(
            "repo",
            format!("`{line}` is not a source line (`deb URL SUITE [COMPONENT…]`)"),
        ));
    }
    let file = format!(
        "/etc/apt/sources.list.d/{}.list",
        match args.string("filename")? {
            Some(name) => name,
            None => suggested_name(&line),
        }
    );
    let mode = match args.mode()? {
        None => "644".to_string(),
        Some(Mode::Octal(m)) => m,
        Some(Mode::Symbolic(m)) => {
            return Err(args.error_at(
                "mode",
                format!("`apt_repository` needs an octal `mode`, not `{m}`"),
            ));
        }
    };
    let update = match args.flag("update_cache")? {
        Some(update) => update,
        None => args.flag("update-cache")?.unwrap_or(true),
    };
    let state = args.string("state")?.unwrap_or_else(|| "present".into());
    let q = quote(&line);
    let found = format!("grep -qsxF -- {q} {SOURCES}");
    let (check, satisfied, would, run) = match state.as_str() {
        "present" => (
            found,
            format!("`{line}` is already a source of apt"),
            format!("add `{line}` to `{file}`"),
            Command::new("printf")
                .args(["%s\\n", &line])
                .raw(">>")
                .arg(&file)
                .and(Command::new("chmod").args([&mode, &file])),
        ),
        "absent" => (
            format!("! {found}"),
            format!("`{line}` is not a source of apt"),
            format!("remove `{line}` from the sources"),
            Command::script(format!(
                "for f in {SOURCES}; do [ -f \"$f\" ] && grep -qxF -- {q} \"$f\" || continue; \
                 grep -vxF -- {q} \"$f\" >\"$f.ferry-tmp\"; \
                 if [ -s \"$f.ferry-tmp\" ] || [ \"$f\" = /etc/apt/sources.list ]; then \
                 chmod --reference=\"$f\" \"$f.ferry-tmp\" && mv -f -- \"$f.ferry-tmp\" \"$f\" || exit 1; \
                 else rm -f -- \"$f\" \"$f.ferry-tmp\"; fi; done"
            )),
        ),
        other => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present` or `absent`, not `{other}`"),
            ));
        }
    };
    let run = match update {
        true => run.and(Command::new("apt-get").args(["update", "-q"])),
        false => run,
    };
    Ok(Action::Remote {
        check: Some(Check {
            command: Command::script(check),
            satisfied,
            would: Some(would),
        }),
        run,
        upload: None,
    })
}

/// Ansible's file name for a source line: its URL without the scheme, the
/// options or any credentials, each run of other characters than letters
/// and digits made one `_`.
fn suggested_name(line: &str) -> String {
    let without_options = regex::Regex::new(r"\[[^\]]+\]")
        .expect("a valid pattern")
        .replace_all(line, "");
    let without_scheme = regex::Regex::new(r"\w+://")
        .expect("a valid pattern")
        .replace_all(&without_options, "");
    let url = without_scheme
        .split_whitespace()
        .find(|part| !matches!(*part, "deb" | "deb-src"))
        .unwrap_or_default();
    let url = url.rsplit_once('@').map_or(url, |(_, host)| host);
    url.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::suggested_name;

    #[test]
    fn file_names_are_ansibles() {
        assert_eq!(
            suggested_name(
                "deb [arch=amd64 signed-by=/etc/apt/keyrings/pg.asc] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main"
            ),
            "apt_postgresql_org_pub_repos_apt"
        );
        assert_eq!(
            suggested_name("deb https://user:pw@example.com/debian stable main"),
            "example_com_debian"
        );
        assert_eq!(
            suggested_name("deb http://127.0.0.1:8080 ./"),
            "127_0_0_1_8080"
        );
    }
}
