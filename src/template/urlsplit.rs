//! Ansible's `urlsplit` filter (Python's `urllib.parse.urlsplit`): the
//! parts of a URL, e.g. the user, password and database name of a
//! `postgres://user:pass@host:5432/db` URL kept in the secrets file.

use minijinja::{Error, ErrorKind, Value};

const PARTS: &[&str] = &[
    "scheme", "netloc", "username", "password", "hostname", "port", "path", "query", "fragment",
];

/// Decodes `%XX` escapes, as a URL's user and password may hold them.
fn unquote(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split(url: &str) -> Vec<(&'static str, Value)> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => (String::new(), url),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (netloc, path) = match (url.contains("://"), rest.find('/')) {
        (true, Some(i)) => (&rest[..i], &rest[i..]),
        (true, None) => (rest, ""),
        (false, _) => ("", rest),
    };
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, pass)) => (Value::from(unquote(user)), Value::from(unquote(pass))),
            None => (Value::from(unquote(info)), Value::from(())),
        },
        None => (Value::from(()), Value::from(())),
    };
    let (hostname, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').unwrap_or((v6, ""));
        (
            host.to_string(),
            after.strip_prefix(':').unwrap_or_default(),
        )
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port),
            None => (hostport.to_string(), ""),
        }
    };
    vec![
        ("scheme", Value::from(scheme)),
        ("netloc", Value::from(netloc)),
        ("username", username),
        ("password", password),
        (
            "hostname",
            if hostname.is_empty() {
                Value::from(())
            } else {
                Value::from(hostname.to_ascii_lowercase())
            },
        ),
        (
            "port",
            port.parse::<u16>()
                .map(Value::from)
                .unwrap_or(Value::from(())),
        ),
        ("path", Value::from(path)),
        ("query", Value::from(query)),
        ("fragment", Value::from(fragment)),
    ]
}

/// `url | urlsplit` (every part, as a mapping) or `url | urlsplit('path')`.
pub(super) fn urlsplit(url: String, part: Option<String>) -> Result<Value, Error> {
    let parts = split(&url);
    match part {
        None => Ok(Value::from_iter(parts)),
        Some(part) => parts
            .into_iter()
            .find(|(name, _)| *name == part)
            .map(|(_, value)| value)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("`urlsplit` has no part `{part}`: {}", PARTS.join(", ")),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(url: &str, name: &str) -> String {
        urlsplit(url.into(), Some(name.into())).unwrap().to_string()
    }

    #[test]
    fn a_database_url_splits_as_python_splits_it() {
        let url = "postgres://notes:p%40ss@127.8.0.3:5432/notes?sslmode=disable";
        assert_eq!(part(url, "scheme"), "postgres");
        assert_eq!(part(url, "username"), "notes");
        assert_eq!(part(url, "password"), "p@ss");
        assert_eq!(part(url, "hostname"), "127.8.0.3");
        assert_eq!(part(url, "port"), "5432");
        assert_eq!(part(url, "path"), "/notes");
        assert_eq!(part(url, "query"), "sslmode=disable");
        assert_eq!(part("https://[::1]:8443/x", "hostname"), "::1");
        assert_eq!(
            part("sqlite:////tmp/db.sqlite3", "path"),
            "//tmp/db.sqlite3"
        );
        assert!(urlsplit(url.into(), Some("user".into())).is_err());
    }
}
