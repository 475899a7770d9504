//! Input errors with a location: `<what> at <file>:<line>:<col>`, the offending
//! source line and a caret, and an optional `did you mean`.
//!
//! Every error ferry finds while compiling (playbook, inventory, templates,
//! patterns) becomes a [`Diagnostic`] before any host is touched. The one place
//! that prints errors (`crate::run`) adds the leading `error: `.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file read as input, kept whole so that errors can quote its lines.
#[derive(Debug)]
pub struct Source {
    /// The path as the user would recognise it (relative where possible).
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Source> {
        Arc::new(Source {
            path: path.into(),
            text: text.into(),
        })
    }

    /// Reads a file; a missing or unreadable file is a diagnostic without a line.
    /// A file encrypted with Ansible Vault is decrypted (its text is then a
    /// secret: see `crate::vault`).
    pub fn read(path: &Path) -> Result<Arc<Source>, Diagnostic> {
        let bytes = std::fs::read(path).map_err(|err| {
            Diagnostic::plain(format!("cannot read `{}`: {}", path.display(), err))
        })?;
        let bytes = crate::vault::open_file(bytes, path)?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(path, text)),
            Err(_) => Err(Diagnostic::plain(format!(
                "cannot read `{}`: stream did not contain valid UTF-8",
                path.display()
            ))),
        }
    }

    /// The 1-based line `line`, without its newline.
    pub fn line(&self, line: u32) -> Option<&str> {
        self.text.lines().nth((line as usize).checked_sub(1)?)
    }
}

/// A position in a [`Source`]: 1-based line and column (in characters), and
/// the length of the marked text in characters (at least one caret is drawn).
#[derive(Debug, Clone)]
pub struct Span {
    pub source: Arc<Source>,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(source: Arc<Source>, line: u32, col: u32, len: u32) -> Span {
        Span {
            source,
            line,
            col,
            len,
        }
    }

    /// The span of the start of a source (for whole-file errors).
    pub fn file_start(source: Arc<Source>) -> Span {
        Span::new(source, 1, 1, 0)
    }

    /// A span `delta` lines below and at column `col` in the same source:
    /// used to point inside a multi-line value (a template in a block scalar).
    pub fn moved(&self, line: u32, col: u32, len: u32) -> Span {
        Span::new(self.source.clone(), line, col, len)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.source.path.display(),
            self.line,
            self.col
        )
    }
}

/// An input error, with where it is and what might fix it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            help: None,
        }
    }

    /// An error that belongs to no place in a file (a missing file, a bad argument).
    pub fn plain(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: None,
            help: None,
        }
    }

    /// Adds a hint printed under the snippet, e.g. `did you mean `command`?`.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds `did you mean` when a close candidate exists.
    pub fn suggest<'a>(
        self,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Diagnostic {
        match crate::suggestion::closest(wrong, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(span) = &self.span else {
            write!(f, "{}", self.message)?;
            if let Some(help) = &self.help {
                write!(f, "\n  = help: {help}")?;
            }
            return Ok(());
        };
        write!(f, "{} at {}", self.message, span)?;
        let number = span.line.to_string();
        let pad = " ".repeat(number.len());
        if let Some(text) = span.source.line(span.line) {
            let text = text.replace('\t', " ");
            let col = (span.col as usize).saturating_sub(1);
            let available = text.chars().count().saturating_sub(col).max(1);
            let carets = (span.len as usize).clamp(1, available);
            write!(
                f,
                "\n{pad} |\n{number} | {text}\n{pad} | {}{}",
                " ".repeat(col),
                "^".repeat(carets)
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let source = Source::new("deploy.yml", "- hosts: web\n  tasks:\n    - comand: ls\n");
        let diag = Diagnostic::new("unknown module `comand`", Span::new(source, 3, 7, 6))
            .suggest("comand", ["command", "shell"]);
        assert_eq!(
            diag.to_string(),
            "unknown module `comand` at deploy.yml:3:7\n  |\n3 |     - comand: ls\n  |       ^^^^^^\n  = help: did you mean `command`?"
        );
    }

    #[test]
    fn plain_diagnostic_has_no_snippet() {
        assert_eq!(
            Diagnostic::plain("no stage `prod`").to_string(),
            "no stage `prod`"
        );
    }
}
