//! `apt`: Debian packages present, at their latest version, or absent, with
//! the package index refreshed first when asked (Ansible's `apt` module:
//! `name`/`pkg`, `state`, `update_cache`, `cache_valid_time`,
//! `install_recommends`, `purge`).
//!
//! The check asks dpkg (and, for `latest`, apt's policy) whether every
//! package is already as wanted, and with `cache_valid_time` whether the
//! index is recent enough: it reads, never writes, so `--check` and `plan`
//! run it for real and what they predict is what a run does. Packages are
//! installed non-interactively, keeping configuration files a user changed.

use serde_json::Value;

use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "name",
    "pkg",
    "package",
    "state",
    "update_cache",
    "cache_valid_time",
    "install_recommends",
    "purge",
];

/// How long ago apt last refreshed its index, in seconds: the stamp apt's
/// own periodic job (and this module) touches after a successful `apt-get
/// update`, else the lists directory, as Ansible reads it — but no index at
/// all (a fresh image's emptied lists, whose directory was just touched) is
/// never fresh.
const CACHE_AGE: &str = "if ! ls /var/lib/apt/lists/ 2>/dev/null | grep -q '_Packages'; then echo 999999999; else f=/var/lib/apt/periodic/update-success-stamp; [ -e \"$f\" ] || f=/var/lib/apt/lists; echo $(( $(date +%s) - $(stat -c %Y \"$f\") )); fi";

pub fn apt(args: &Args) -> Result<Action, Diagnostic> {
    let names = names(args)?;
    let state = args.string("state")?.unwrap_or_else(|| "present".into());
    let state = match state.as_str() {
        "present" | "installed" => "present",
        "latest" => "latest",
        "absent" | "removed" => "absent",
        other => {
            return Err(args.error_at(
                "state",
                format!("`state` must be `present`, `latest` or `absent`, not `{other}`"),
            ));
        }
    };
    let update = args.flag("update_cache")?.unwrap_or(false);
    let valid = match args.get("cache_valid_time") {
        None => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => s.parse().ok(),
        Some(other) => {
            return Err(args.error_at(
                "cache_valid_time",
                format!("`cache_valid_time` must be a number of seconds, not {other}"),
            ));
        }
    };
    let purge = args.flag("purge")?.unwrap_or(false);
    let recommends = args.flag("install_recommends")?;
    if names.is_empty() && !update {
        return Err(args.error("module `apt` needs `name` (a package or a list) or `update_cache`"));
    }
    if state == "latest" && names.iter().any(|n| n.contains('=')) {
        return Err(args.error_at(
            "name",
            "`state: latest` takes package names without `=VERSION`",
        ));
    }

    // What is already true, each a read-only test.
    let mut tests = Vec::new();
    let mut satisfied = Vec::new();
    if update {
        match valid {
            Some(seconds) => {
                tests.push(format!("[ \"$({CACHE_AGE})\" -lt {seconds} ]"));
                satisfied.push(format!("the package index is less than {seconds} s old"));
            }
            // Refreshed every time, as Ansible does without a valid time.
            None => tests.push("false".to_string()),
        }
    }
    if !names.is_empty() {
        tests.push(package_test(state, purge, &names));
        satisfied.push(match state {
            "present" => format!("{} installed", list(&names)),
            "latest" => format!("{} installed at the candidate version", list(&names)),
            _ => format!("{} not installed", list(&names)),
        });
    }

    let mut script = String::from("export DEBIAN_FRONTEND=noninteractive\n");
    if update {
        let refresh = "apt-get update -q && { touch /var/lib/apt/periodic/update-success-stamp 2>/dev/null || true; }";
        match valid {
            Some(seconds) => script.push_str(&format!(
                "[ \"$({CACHE_AGE})\" -lt {seconds} ] 2>/dev/null || {{ {refresh}; }} || exit\n"
            )),
            None => script.push_str(&format!("{refresh} || exit\n")),
        }
    }
    if !names.is_empty() {
        let apt_get = Command::new("apt-get").args(["-y", "-q"]);
        let apt_get = match recommends {
            Some(true) => apt_get.arg("--install-recommends"),
            Some(false) => apt_get.arg("--no-install-recommends"),
            None => apt_get,
        };
        let run = match state {
            "absent" => apt_get
                .arg(if purge { "purge" } else { "remove" })
                .args(&names),
            _ => apt_get
                .args([
                    "-o",
                    "Dpkg::Options::=--force-confdef",
                    "-o",
                    "Dpkg::Options::=--force-confold",
                    "install",
                ])
                .args(&names),
        };
        script.push_str(run.as_sent());
        script.push('\n');
    }
    let check = (!tests.is_empty() && !tests.iter().any(|t| t == "false")).then(|| Check {
        command: Command::script(tests.join(" && ")),
        satisfied: satisfied.join("; "),
        would: Some(match (state, names.is_empty()) {
            (_, true) => "refresh the package index".to_string(),
            ("absent", _) => format!("remove {}", list(&names)),
            _ => format!("install {}", list(&names)),
        }),
    });
    Ok(Action::Remote {
        check,
        run: Command::script(format!("# apt: {state} {}\n{script}", names.join(" "))),
        upload: None,
    })
}

/// The test that every package is as `state` wants: dpkg's own status (and
/// version, for `name=VERSION`); for `latest`, apt's installed version is
/// its candidate.
fn package_test(state: &str, purge: bool, names: &[String]) -> String {
    let each = |name: &String| {
        let (package, version) = match name.split_once('=') {
            Some((p, v)) => (p, Some(v)),
            None => (name.as_str(), None),
        };
        let q = quote(package);
        let status = format!("dpkg-query -W -f='${{db:Status-Status}}' {q} 2>/dev/null");
        match (state, version) {
            ("present", None) => format!("[ \"$({status})\" = installed ]"),
            ("present", Some(v)) => format!(
                "[ \"$(dpkg-query -W -f='${{db:Status-Status}} ${{Version}}' {q} 2>/dev/null)\" = {} ]",
                quote(&format!("installed {v}"))
            ),
            ("latest", _) => format!(
                "[ \"$(LC_ALL=C apt-cache policy {q} | awk '/Installed:/ {{i=$2}} /Candidate:/ {{c=$2}} END {{print (i != \"\" && i != \"(none)\" && i == c) ? \"latest\" : \"no\"}}')\" = latest ]"
            ),
            // Removed leaves the configuration (`config-files`); purged
            // leaves nothing dpkg knows of.
            _ if purge => format!("[ -z \"$({status})\" ] || [ \"$({status})\" = not-installed ]"),
            _ => format!("[ \"$({status})\" != installed ]"),
        }
    };
    names.iter().map(each).collect::<Vec<_>>().join(" && ")
}

/// `name` (or `pkg`, `package`): one package, a list, or a comma-separated
/// string, as Ansible takes them.
fn names(args: &Args) -> Result<Vec<String>, Diagnostic> {
    let key = ["name", "pkg", "package"]
        .into_iter()
        .find(|k| args.get(k).is_some());
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    let names = args.list(key)?;
    if let Some(bad) = names.iter().find(|n| {
        !n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.:=~_".contains(c))
    }) {
        return Err(args.error_at(key, format!("`{bad}` is not a Debian package name")));
    }
    Ok(names)
}

/// `a`, `a and b`, `a, b and c`, each in backticks.
pub(crate) fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
