//! The app's `Procfile`: one process type a line, `web: gunicorn app:app`.
//!
//! Read from the commit being deployed (not the working tree), so the
//! process units ferry writes match the code they run. Parsed as Heroku and
//! foreman read it: `name: command`, names of letters, digits, `-` and `_`;
//! blank lines and `#` comments skipped; a repeated name keeps the last.

use indexmap::IndexMap;
use serde::Serialize;

/// Process types in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Procfile(pub IndexMap<String, String>);

impl Procfile {
    pub fn parse(text: &str) -> Procfile {
        let mut types = IndexMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, command)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if valid && !command.trim().is_empty() {
                types.insert(name.to_string(), command.trim().to_string());
            }
        }
        Procfile(types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_in_order_skipping_comments_and_junk() {
        let procfile = Procfile::parse(
            "# the app\nweb: gunicorn app:app --bind 127.0.0.1:$PORT\n\nworker:python worker.py\nrelease: python manage.py migrate\nnot a line\nbad name: x\nweb: gunicorn other:app\n",
        );
        let names: Vec<_> = procfile.0.keys().map(String::as_str).collect();
        assert_eq!(names, ["web", "worker", "release"]);
        assert_eq!(procfile.0["web"], "gunicorn other:app");
        assert_eq!(procfile.0["worker"], "python worker.py");
    }
}
