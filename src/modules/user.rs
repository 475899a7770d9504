//! `user` and `group`: accounts as Ansible's modules make them — present
//! with a shell, home, groups, uid and password hash, or absent.
//!
//! The check reads the account databases (`getent`, `id`) and passes only
//! when every attribute asked for already holds, so a second run is `ok`
//! and `--check` predicts the run. A password hash is set through
//! `chpasswd -e` on stdin, never on a command line.

use serde_json::Value;

use super::{Action, Args, Check, Upload};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const USER_KEYS: &[&str] = &[
    "name",
    "state",
    "shell",
    "home",
    "create_home",
    "createhome",
    "groups",
    "append",
    "group",
    "system",
    "uid",
    "password",
    "comment",
    "remove",
];

pub const GROUP_KEYS: &[&str] = &["name", "state", "gid", "system"];

pub fn user(args: &Args) -> Result<Action, Diagnostic> {
    let name = account_name(args)?;
    let q = quote(&name);
    let state = present(args)?;
    if !state {
        let remove = args.flag("remove")?.unwrap_or(false);
        let mut run = Command::new("userdel");
        if remove {
            run = run.arg("--remove");
        }
        return Ok(Action::Remote {
            check: Some(Check {
                command: Command::script(format!("! getent passwd {q} >/dev/null")),
                satisfied: format!("there is no user `{name}`"),
                would: None,
            }),
            run: run.arg(&name),
            upload: None,
        });
    }
    let shell = args.string("shell")?;
    let home = args.string("home")?;
    let comment = args.string("comment")?;
    let uid = number(args, "uid")?;
    let group = args.string("group")?;
    let create_home = args
        .flag("create_home")?
        .or(args.flag("createhome")?)
        .unwrap_or(true);
    let system = args.flag("system")?.unwrap_or(false);
    let append = args.flag("append")?.unwrap_or(false);
    let groups = args.list("groups")?;
    let password = args.string("password")?;

    // getent passwd: name:x:uid:gid:comment:home:shell
    let field = |n: usize| format!("$(getent passwd {q} | cut -d: -f{n})");
    let mut tests = vec![format!("getent passwd {q} >/dev/null")];
    if let Some(uid) = &uid {
        tests.push(format!("[ \"{}\" = {uid} ]", field(3)));
    }
    if let Some(comment) = &comment {
        tests.push(format!("[ \"{}\" = {} ]", field(5), quote(comment)));
    }
    if let Some(home) = &home {
        tests.push(format!("[ \"{}\" = {} ]", field(6), quote(home)));
    }
    if let Some(shell) = &shell {
        tests.push(format!("[ \"{}\" = {} ]", field(7), quote(shell)));
    }
    if let Some(group) = &group {
        tests.push(format!("[ \"$(id -gn {q})\" = {} ]", quote(group)));
    }
    for g in &groups {
        tests.push(format!("id -nG {q} | tr ' ' '\\n' | grep -qx {}", quote(g)));
    }
    if !append && !groups.is_empty() {
        // Exactly these supplementary groups (besides the primary one).
        let mut want = groups.clone();
        want.sort();
        want.dedup();
        tests.push(format!(
            "[ \"$(id -nG {q} | tr ' ' '\\n' | grep -vx \"$(id -gn {q})\" | sort -u | tr '\\n' ' ')\" = {} ]",
            quote(&format!("{} ", want.join(" ")))
        ));
    }
    if let Some(hash) = &password {
        // Compared by its digest: the hash itself stays off command lines.
        tests.push(format!(
            "[ \"$(getent shadow {q} | cut -d: -f2 | tr -d '\\n' | sha256sum | cut -c1-64)\" = {} ]",
            sha256_hex(hash.as_bytes())
        ));
    }

    let mut options: Vec<String> = Vec::new();
    let mut add = |flag: &str, value: &Option<String>| {
        if let Some(v) = value {
            options.push(flag.to_string());
            options.push(v.clone());
        }
    };
    add("--shell", &shell);
    add("--home", &home);
    add("--comment", &comment);
    add("--uid", &uid);
    add("--gid", &group);
    let mut create = Command::new("useradd").args(&options);
    if create_home {
        create = create.arg("--create-home");
    }
    if system {
        create = create.arg("--system");
    }
    if !groups.is_empty() {
        create = create.args(["--groups", &groups.join(",")]);
    }
    let mut modify = Command::new("usermod").args(&options);
    if !groups.is_empty() {
        if append {
            modify = modify.arg("--append");
        }
        modify = modify.args(["--groups", &groups.join(",")]);
    }
    let mut script = format!(
        "# user: {name}\nif getent passwd {q} >/dev/null; then\n  {}\nelse\n  {}\nfi",
        if options.is_empty() && groups.is_empty() {
            "true".to_string()
        } else {
            modify.arg(&name).as_sent().to_string()
        },
        create.arg(&name).as_sent()
    );
    let upload = match &password {
        Some(hash) => {
            script.push_str(" && chpasswd -e");
            let content = format!("{name}:{hash}\n").into_bytes();
            Some(Upload {
                dest: "chpasswd -e".to_string(),
                size: content.len(),
                sha256: sha256_hex(&content),
                from: "password".to_string(),
                content,
                read: None,
                mode: None,
            })
        }
        None => None,
    };
    Ok(Action::Remote {
        check: Some(Check {
            command: Command::script(tests.join(" && ")),
            satisfied: format!("user `{name}` exists as asked"),
            would: None,
        }),
        run: Command::script(script),
        upload,
    })
}

pub fn group(args: &Args) -> Result<Action, Diagnostic> {
    let name = account_name(args)?;
    let q = quote(&name);
    if !present(args)? {
        return Ok(Action::Remote {
            check: Some(Check {
                command: Command::script(format!("! getent group {q} >/dev/null")),
                satisfied: format!("there is no group `{name}`"),
                would: None,
            }),
            run: Command::new("groupdel").arg(&name),
            upload: None,
        });
    }
    let gid = number(args, "gid")?;
    let mut tests = vec![format!("getent group {q} >/dev/null")];
    let mut create = Command::new("groupadd");
    let mut modify = Command::new("groupmod");
    if let Some(gid) = &gid {
        tests.push(format!("[ \"$(getent group {q} | cut -d: -f3)\" = {gid} ]"));
        create = create.args(["--gid", gid]);
        modify = modify.args(["--gid", gid]);
    }
    if args.flag("system")?.unwrap_or(false) {
        create = create.arg("--system");
    }
    Ok(Action::Remote {
        check: Some(Check {
            command: Command::script(tests.join(" && ")),
            satisfied: format!("group `{name}` exists as asked"),
            would: None,
        }),
        run: Command::script(format!(
            "if getent group {q} >/dev/null; then {}; else {}; fi",
            if gid.is_some() {
                modify.arg(&name).as_sent().to_string()
            } else {
                "true".to_string()
            },
            create.arg(&name).as_sent()
        )),
        upload: None,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A user or group name as `useradd` takes it.
fn account_name(args: &Args) -> Result<String, Diagnostic> {
    let name = args
        .string("name")?
        .ok_or_else(|| args.error("the module needs `name`"))?;
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-$".contains(c));
    if !valid {
        return Err(args.error_at("name", format!("`{name}` is not a user or group name")));
    }
    Ok(name)
}

/// `state: present` (true) or `absent` (false).
fn present(args: &Args) -> Result<bool, Diagnostic> {
    match args.string("state")?.as_deref() {
        None | Some("present") => Ok(true),
        Some("absent") => Ok(false),
        Some(other) => Err(args.error_at(
            "state",
            format!("`state` must be `present` or `absent`, not `{other}`"),
        )),
    }
}

fn number(args: &Args, key: &str) -> Result<Option<String>, Diagnostic> {
    match args.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(Some(n.to_string())),
        Some(Value::String(s)) if s.parse::<u32>().is_ok() => Ok(Some(s.clone())),
        Some(other) => Err(args.error_at(key, format!("`{key}` must be a number, not {other}"))),
    }
}
