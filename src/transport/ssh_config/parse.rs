//! Reading ssh_config files into entries: a keyword and its arguments per
//! line (`Key value`, `Key=value`, double or single quotes, `#` comments),
//! with `Include`d files read in place (globs, `~`, paths relative to
//! `~/.ssh` for the user's config and `/etc/ssh` for the system's).

use std::path::{Path, PathBuf};

use super::super::TransportError;

/// Where a line is, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One line of a config, or an included file's lines.
#[derive(Debug, Clone)]
pub(super) enum Entry {
    /// `Host` or `Match` (keyword lowercased) and the rest of the line.
    Block {
        keyword: String,
        args: Vec<String>,
        at: Location,
    },
    /// An option: its keyword as written and its arguments.
    Option {
        keyword: String,
        args: Vec<String>,
        at: Location,
    },
    /// The entries of each file an `Include` line names, in order.
    Include { files: Vec<Vec<Entry>> },
}

/// OpenSSH's limit on nested `Include`s.
const MAX_DEPTH: usize = 16;

/// Reads `path`; relative `Include`s resolve against `base`.
pub(super) fn file(path: &Path, base: &Path, home: &str) -> Result<Vec<Entry>, TransportError> {
    read(path, base, home, 0)
}

fn read(path: &Path, base: &Path, home: &str, depth: usize) -> Result<Vec<Entry>, TransportError> {
    let error = |line: usize, reason: String| TransportError::SshConfig {
        path: path.to_path_buf(),
        reason: if line == 0 {
            reason
        } else {
            format!("line {line}: {reason}")
        },
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(0, e.to_string()))?;
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let at = Location {
            file: path.to_path_buf(),
            line: index + 1,
        };
        let Some((keyword, args)) = split_line(raw).map_err(|e| error(at.line, e))? else {
            continue;
        };
        let lower = keyword.to_ascii_lowercase();
        match lower.as_str() {
            "host" | "match" => entries.push(Entry::Block {
                keyword: lower,
                args,
                at,
            }),
            "include" => {
                if depth >= MAX_DEPTH {
                    return Err(error(at.line, "`Include` nested too deeply".to_string()));
                }
                let mut files = Vec::new();
                for arg in &args {
                    for included in glob(arg, base, home) {
                        files.push(read(&included, base, home, depth + 1)?);
                    }
                }
                entries.push(Entry::Include { files });
            }
            _ => {
                validate(&keyword, &args).map_err(|e| error(at.line, e))?;
                entries.push(Entry::Option { keyword, args, at });
            }
        }
    }
    Ok(entries)
}

/// Checks the value of an option ferry acts on, as OpenSSH refuses a bad
/// one whether or not its block applies (a bad port is not port 22).
pub(crate) fn validate(keyword: &str, args: &[String]) -> Result<(), String> {
    let value = args.first().map(String::as_str).unwrap_or_default();
    let bad = |what: &str| Err(format!("`{keyword}`: {what}, not `{value}`"));
    match keyword.to_ascii_lowercase().as_str() {
        "port" => match value.parse::<u16>() {
            Ok(port) if port > 0 => Ok(()),
            _ => bad("a port number"),
        },
        "identitiesonly" | "hashknownhosts" => match value.to_ascii_lowercase().as_str() {
            "yes" | "no" | "true" | "false" => Ok(()),
            _ => bad("`yes` or `no`"),
        },
        "stricthostkeychecking" => match super::super::StrictHostKeyChecking::parse(value) {
            Some(_) => Ok(()),
            None => bad("`yes`, `accept-new`, `no` or `ask`"),
        },
        "connecttimeout" if value.eq_ignore_ascii_case("none") => Ok(()),
        "connecttimeout" | "serveraliveinterval" | "serveralivecountmax" => {
            match value.parse::<u64>() {
                Ok(_) => Ok(()),
                Err(_) => bad("a number of seconds"),
            }
        }
        _ => Ok(()),
    }
}

/// The files an `Include` argument names, sorted as glob(3) sorts them; a
/// pattern that names nothing is no error (as in OpenSSH).
fn glob(arg: &str, base: &Path, home: &str) -> Vec<PathBuf> {
    let expanded = match arg.strip_prefix("~/") {
        Some(rest) => Path::new(home).join(rest),
        None => PathBuf::from(arg),
    };
    let pattern = if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    };
    let Some(name) = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Vec::new();
    };
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    if !name.contains(['*', '?']) {
        return if pattern.is_file() {
            vec![pattern]
        } else {
            Vec::new()
        };
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !n.starts_with('.') && super::pattern::wildcard(&n, &name)
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
}

/// The keyword and arguments of a line; `None` for a blank or comment
/// line. OpenSSH's rules: the keyword ends at whitespace or `=`, then
/// arguments split at whitespace, `"…"` and `'…'` group, and an unquoted
/// `#` starting an argument ends the line.
pub(super) fn split_line(line: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..end].to_string();
    let mut rest = line[end..].trim_start();
    if let Some(after) = rest.strip_prefix('=') {
        rest = after.trim_start();
    }
    if keyword.eq_ignore_ascii_case("proxycommand") {
        // A command for the shell: the rest of the line as written.
        return Ok(Some((keyword, vec![rest.to_string()])));
    }
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => arg.push(c),
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c.is_whitespace() => break,
                None if c == '\\' => {
                    chars.next();
                    match chars.peek() {
                        Some(&next @ ('"' | '\'' | '\\' | ' ')) => arg.push(next),
                        Some(&next) => {
                            arg.push('\\');
                            arg.push(next);
                        }
                        None => arg.push('\\'),
                    }
                }
                None => arg.push(c),
            }
            chars.next();
        }
        if let Some(q) = quote {
            return Err(format!("unterminated `{q}` quote"));
        }
        args.push(arg);
    }
    Ok(Some((keyword, args)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> (String, Vec<String>) {
        split_line(line).unwrap().unwrap()
    }

    #[test]
    fn keyword_and_arguments() {
        assert_eq!(split("  Port 22"), ("Port".into(), vec!["22".into()]));
        assert_eq!(split("Port=22"), ("Port".into(), vec!["22".into()]));
        assert_eq!(
            split("Port = 22 # a comment"),
            ("Port".into(), vec!["22".into()])
        );
        assert_eq!(
            split("IdentityFile \"/a b\" '/c d'"),
            ("IdentityFile".into(), vec!["/a b".into(), "/c d".into()])
        );
        assert_eq!(
            split("ProxyCommand=sh -c \"nc %h  %p\""),
            ("ProxyCommand".into(), vec!["sh -c \"nc %h  %p\"".into()])
        );
        assert_eq!(split_line("# Host x").unwrap(), None);
        assert_eq!(split_line("   ").unwrap(), None);
        assert!(split_line("IdentityFile \"/a b").is_err());
    }

    #[test]
    fn include_globs_relative_to_base_and_missing_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(dir.path().join("conf.d/b.conf"), "Port 2\n").unwrap();
        std::fs::write(dir.path().join("conf.d/a.conf"), "Port 1\n").unwrap();
        std::fs::write(
            dir.path().join("config"),
            "Include conf.d/*.conf missing.conf\n",
        )
        .unwrap();
        let entries = file(&dir.path().join("config"), dir.path(), "/nonexistent").unwrap();
        let [Entry::Include { files }] = entries.as_slice() else {
            panic!("{entries:?}")
        };
        let ports: Vec<&str> = files
            .iter()
            .map(|f| match &f[0] {
                Entry::Option { args, .. } => args[0].as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ports, ["1", "2"]);
    }
}
