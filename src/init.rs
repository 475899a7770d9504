//! `ferry init`: looks at the app in a directory (a Django project, a Flask
//! app, anything with a Procfile) and writes what deploying it needs — a
//! deploy.yml made of the built-in playbooks, a production inventory with
//! documentation addresses, a secrets file kept out of git — without ever
//! overwriting a file.
//!
//! The deploy.yml of the bundled examples is exactly what this writes for
//! them (a test holds it so), so the end-to-end tests of the examples are
//! tests of what `ferry init` gives a user.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

pub mod ci;

const DEPLOY: &str = include_str!("init/deploy.yml.in");
const INVENTORY: &str = include_str!("init/production.yml.in");
const SECRETS: &str = include_str!("init/secrets.yml.in");

/// What kind of app a directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Django,
    Flask,
    /// Any app run from its Procfile (Tornado, a worker, …).
    Procfile,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Django => "Django",
            Kind::Flask => "Flask",
            Kind::Procfile => "Procfile",
        }
    }
}

/// A file `init` writes.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Relative to the app's directory.
    pub path: PathBuf,
    pub text: String,
    /// 0600 for secrets.
    pub private: bool,
}

/// Everything `init` would do in a directory, decided before anything is
/// written.
#[derive(Debug, Clone)]
pub struct Scaffold {
    pub kind: Kind,
    pub app: String,
    pub files: Vec<NewFile>,
    /// `secrets/` is added to the app's .gitignore (when it is not there).
    pub ignore_secrets: bool,
    /// Things the user should fix before the first deploy.
    pub warnings: Vec<String>,
}

/// Decides what to write for the app in `dir`: `wanted` is the kind the
/// user asked for (`--django`, …), or `None` to detect it.
pub fn scaffold(dir: &Path, wanted: Option<Kind>) -> Result<Scaffold, Diagnostic> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let requirements = read("requirements.txt").unwrap_or_default().to_lowercase();
    let kind = match wanted {
        Some(kind) => kind,
        None => detect(dir, &requirements).ok_or_else(|| {
            Diagnostic::plain(format!(
                "cannot tell what app is in {}: no manage.py, no Procfile, no Flask app",
                shown(dir)
            ))
            .with_help("run `ferry init` in the app's directory, or say which: --django, --flask or --procfile")
        })?,
    };
    let app = app_name(dir);
    let python = kind != Kind::Procfile || read("requirements.txt").is_some();
    let mut warnings = Vec::new();
    let mut files = Vec::new();

    let procfile = read("Procfile");
    match (&procfile, kind) {
        (Some(_), _) => {}
        (None, Kind::Procfile) => {
            return Err(Diagnostic::plain(format!("no Procfile in {}", shown(dir)))
                .with_help("write one (`web: COMMAND`, one line per process type), or use --django or --flask"));
        }
        (None, Kind::Django) => {
            let module = django_wsgi_module(dir).ok_or_else(|| {
                Diagnostic::plain(format!(
                    "cannot find the Django project's wsgi.py in {}",
                    shown(dir)
                ))
                .with_help("run `ferry init` beside manage.py")
            })?;
            files.push(NewFile::new(
                "Procfile",
                format!("web: gunicorn --config gunicorn.conf.py {module}\n"),
            ));
        }
        (None, Kind::Flask) => {
            let module = if dir.join("wsgi.py").is_file() && !dir.join("app.py").is_file() {
                "wsgi:app"
            } else {
                "app:app"
            };
            files.push(NewFile::new(
                "Procfile",
                format!("web: gunicorn --config gunicorn.conf.py {module}\n"),
            ));
        }
    }
    if python {
        if requirements.is_empty() {
            warnings.push(
                "there is no requirements.txt: the virtualenv needs one (with gunicorn)".into(),
            );
        } else if !requirements.contains("gunicorn") {
            warnings.push("requirements.txt does not list gunicorn, which serves the app".into());
        }
    }
    if kind == Kind::Django {
        for (package, why) in [
            ("python-dotenv", "settings.py reads shared/.env with it"),
            ("dj-database-url", "settings.py reads DATABASE_URL with it"),
        ] {
            if !requirements.contains(package) {
                warnings.push(format!("requirements.txt does not list {package} ({why})"));
            }
        }
    }

    let tags: &[&str] = match kind {
        Kind::Django => &["django", "python"],
        Kind::Flask => &["flask", "python"],
        Kind::Procfile if python => &["python"],
        Kind::Procfile => &[],
    };
    let secret_key = new_secret_key();
    let fill = |text: &str| fill(text, tags, &app, &secret_key);
    files.push(NewFile::new("deploy.yml", fill(DEPLOY)));
    files.push(NewFile::new("inventory/production.yml", fill(INVENTORY)));
    files.push(NewFile {
        private: true,
        ..NewFile::new("secrets/production.yml", fill(SECRETS))
    });

    let existing: Vec<String> = files
        .iter()
        .filter(|f| dir.join(&f.path).exists())
        .map(|f| f.path.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Diagnostic::plain(format!(
            "{} already {}: `ferry init` never overwrites a file",
            existing.join(", "),
            if existing.len() == 1 {
                "exists"
            } else {
                "exist"
            }
        ))
        .with_help("move it aside to have it written anew"));
    }
    let ignore_secrets = !read(".gitignore")
        .unwrap_or_default()
        .lines()
        .any(|l| matches!(l.trim(), "secrets" | "secrets/" | "/secrets" | "/secrets/"));
    Ok(Scaffold {
        kind,
        app,
        files,
        ignore_secrets,
        warnings,
    })
}

/// Writes a scaffold's files (refusing, as [`scaffold`] did, to replace one).
pub fn write(dir: &Path, scaffold: &Scaffold) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    for file in &scaffold.files {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if file.private { 0o600 } else { 0o644 })
            .open(&path)?
            .write_all(file.text.as_bytes())?;
    }
    if scaffold.ignore_secrets {
        let path = dir.join(".gitignore");
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        let sep = if before.is_empty() || before.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        std::fs::write(
            &path,
            format!("{before}{sep}# ferry: secret values, one file per stage\nsecrets/\n"),
        )?;
    }
    Ok(())
}

impl NewFile {
    fn new(path: &str, text: String) -> NewFile {
        NewFile {
            path: PathBuf::from(path),
            text,
            private: false,
        }
    }
}

fn detect(dir: &Path, requirements: &str) -> Option<Kind> {
    if dir.join("manage.py").is_file() {
        Some(Kind::Django)
    } else if requirements
        .lines()
        .any(|l| l.trim_start().starts_with("flask"))
    {
        Some(Kind::Flask)
    } else if dir.join("Procfile").is_file() {
        Some(Kind::Procfile)
    } else {
        None
    }
}

/// `mysite.wsgi`, from manage.py's DJANGO_SETTINGS_MODULE, or else the one
/// directory beside manage.py that holds a wsgi.py.
fn django_wsgi_module(dir: &Path) -> Option<String> {
    let manage = std::fs::read_to_string(dir.join("manage.py")).unwrap_or_default();
    let from_manage = manage
        .split("DJANGO_SETTINGS_MODULE")
        .nth(1)
        .and_then(|rest| rest.split(['"', '\'']).nth(2))
        .and_then(|settings| settings.split('.').next())
        .filter(|package| dir.join(package).join("wsgi.py").is_file())
        .map(str::to_string);
    from_manage
        .or_else(|| {
            let mut packages: Vec<String> = std::fs::read_dir(dir)
                .ok()?
                .flatten()
                .filter(|e| e.path().join("wsgi.py").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            packages.sort();
            packages.into_iter().next()
        })
        .map(|package| format!("{package}.wsgi"))
}

/// The directory's name as an app name: lower case, `-` for anything else
/// than letters and digits.
fn app_name(dir: &Path) -> String {
    let base = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into());
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() { "app".into() } else { name }
}

/// The text of a scaffold file: `@app@` and `@secret_key@` replaced, and
/// lines tagged `@TAG ` kept (untagged) only when TAG is one of `tags`.
fn fill(text: &str, tags: &[&str], app: &str, secret_key: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.strip_prefix('@').and_then(|l| l.split_once(' ')) {
            Some((tag, rest)) if !tag.contains('@') => {
                if !tags.contains(&tag) {
                    continue;
                }
                rest
            }
            _ => line,
        };
        out.push_str(
            &line
                .replace("@app@", app)
                .replace("@secret_key@", secret_key),
        );
        out.push('\n');
    }
    out
}

/// 50 random characters from the kernel, for Django's SECRET_KEY (bytes
/// past the last whole multiple of the alphabet are dropped, so every
/// character is equally likely).
fn new_secret_key() -> String {
    use std::io::Read as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let limit = 256 - 256 % ALPHABET.len();
    let mut key = String::new();
    let mut random = std::fs::File::open("/dev/urandom").expect("/dev/urandom");
    while key.len() < 50 {
        let mut bytes = [0u8; 64];
        random.read_exact(&mut bytes).expect("read /dev/urandom");
        key.extend(
            bytes
                .iter()
                .filter(|b| (**b as usize) < limit)
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char),
        );
    }
    key.truncate(50);
    key
}

fn shown(dir: &Path) -> String {
    if dir.as_os_str().is_empty() || dir == Path::new(".") {
        "this directory".into()
    } else {
        dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_lines_are_kept_only_for_their_kind() {
        let text = "a @app@\n@django b\n@python     c: @app@\nd @secret_key@\n";
        assert_eq!(fill(text, &["django"], "notes", "k"), "a notes\nb\nd k\n");
        assert_eq!(fill(text, &["python"], "x", "k"), "a x\n    c: x\nd k\n");
    }

    #[test]
    fn app_names_are_directory_names_made_safe() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("My_Site 2");
        std::fs::create_dir(&app).unwrap();
        assert_eq!(app_name(&app), "my-site-2");
    }

    #[test]
    fn secret_keys_are_random() {
        let (a, b) = (new_secret_key(), new_secret_key());
        assert_eq!(a.len(), 50);
        assert_ne!(a, b);
    }
}
