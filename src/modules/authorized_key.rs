//! `authorized_key`: SSH public keys in a user's `authorized_keys`, as
//! Ansible's module keeps them. A key is the same key whatever its comment
//! or options: it is compared by type and base64 blob. The probe reads the
//! file; the run merges on the host (the keys on stdin, never a secret
//! anyway), creating `~/.ssh` 0700 and the file 0600, owned by the user.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::probed::{Decision, Probed, Prober};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "user",
    "key",
    "state",
    "exclusive",
    "path",
    "manage_dir",
    "key_options",
    "comment",
    "validate_certs",
    "follow",
];

#[derive(Debug, Clone, Serialize)]
pub struct AuthorizedKey {
    pub user: String,
    /// The key lines asked for (with `key_options` in front, if given).
    pub keys: Vec<String>,
    pub present: bool,
    pub exclusive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_options: Option<String>,
    pub manage_dir: bool,
}

/// `type blob`: what makes two lines the same key.
fn identity(line: &str) -> Option<(String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    // Options come first when the line has any: the type is the first word
    // that is followed by base64.
    words.windows(2).find_map(|w| {
        (w[0].starts_with("ssh-") || w[0].starts_with("ecdsa-") || w[0].starts_with("sk-"))
            .then(|| (w[0].to_string(), w[1].to_string()))
    })
}

pub fn authorized_key(args: &Args) -> Result<Action, Diagnostic> {
    let user = args.required("user", "authorized_key")?;
    let text = args.required("key", "authorized_key")?;
    if text.starts_with("http://") || text.starts_with("https://") {
        return Err(args.error_at(
            "key",
            "a `key` from a URL is not supported: read it on the controller (`lookup('file', …)`) and give the key itself",
        ));
    }
    let options = args.string("key_options")?;
    let mut keys = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if identity(line).is_none() {
            return Err(args.error_at(
                "key",
                format!("`{line}` is not an SSH public key (`TYPE BASE64 [COMMENT]`)"),
            ));
        }
        keys.push(match &options {
            Some(options) => format!("{options} {line}"),
            None => line.to_string(),
        });
    }
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
    if args.flag("manage_dir")? == Some(false) && args.string("path")?.is_none() {
        return Err(args.error_at(
            "manage_dir",
            "`manage_dir: false` needs `path`: ferry otherwise makes `~/.ssh` as the key needs it",
        ));
    }
    let module = AuthorizedKey {
        user,
        keys,
        present,
        exclusive: args.flag("exclusive")?.unwrap_or(false),
        path: args.string("path")?,
        key_options: options,
        manage_dir: args.flag("manage_dir")?.unwrap_or(true),
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: module.probe(),
            stdin: Some(module.keys.iter().map(|k| format!("{k}\n")).collect()),
            module: Prober::AuthorizedKey(module),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

/// Sets `$f` to the file and `$u` to the user, or says the user is missing.
fn locate(user: &str, path: Option<&str>) -> String {
    format!(
        "u={}\nhome=$(getent passwd \"$u\" | cut -d: -f6)\nf={}\n[ -n \"$f\" ] || f=$home/.ssh/authorized_keys\n",
        quote(user),
        quote(path.unwrap_or_default()),
    )
}

impl AuthorizedKey {
    fn probe(&self) -> Command {
        Command::script(format!(
            "# authorized_key: read the keys of `{}`\n{}\
             if [ -z \"$home\" ]; then echo user=missing; exit 0; fi\n\
             echo \"file=$f\"\n\
             [ -f \"$f\" ] && sed 's/^/line=/' \"$f\"\n\
             exit 0",
            self.user,
            locate(&self.user, self.path.as_deref())
        ))
    }

    pub fn describe(&self) -> String {
        let verb = if self.present { "authorize" } else { "remove" };
        format!("{verb} {} for `{}`", keys(self.keys.len()), self.user)
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let mut fields = Map::new();
        fields.insert("user".into(), json!(self.user));
        fields.insert("key".into(), json!(self.keys.join("\n")));
        fields.insert("exclusive".into(), json!(self.exclusive));
        fields.insert(
            "state".into(),
            json!(if self.present { "present" } else { "absent" }),
        );
        fields.insert("path".into(), json!(self.path));
        fields.insert("key_options".into(), json!(self.key_options));
        fields.insert("manage_dir".into(), json!(self.manage_dir));
        fields.insert("follow".into(), json!(false));
        fields.insert("validate_certs".into(), json!(true));
        if probe.lines().any(|l| l == "user=missing") {
            return if self.present {
                // In a run, an earlier step has made the user by now, or
                // the write fails saying so.
                (
                    Decision::Change {
                        what: format!(
                            "{} (the user does not exist yet: an earlier step must create it)",
                            self.describe()
                        ),
                        run: self.write(),
                    },
                    fields,
                )
            } else {
                (
                    Decision::Ok(format!("user `{}` does not exist", self.user)),
                    fields,
                )
            };
        }
        let file = probe
            .lines()
            .find_map(|l| l.strip_prefix("file="))
            .unwrap_or_default();
        fields.insert("keyfile".into(), json!(file));
        let have: Vec<(String, String)> = probe
            .lines()
            .filter_map(|l| l.strip_prefix("line="))
            .filter_map(identity)
            .collect();
        let wanted: Vec<(String, String)> = self.keys.iter().filter_map(|k| identity(k)).collect();
        let (missing, extra) = if self.present {
            let missing = wanted.iter().filter(|k| !have.contains(k)).count();
            let extra = if self.exclusive {
                have.iter().filter(|k| !wanted.contains(k)).count()
            } else {
                0
            };
            (missing, extra)
        } else {
            (0, wanted.iter().filter(|k| have.contains(k)).count())
        };
        if missing == 0 && extra == 0 {
            let why = if self.present {
                format!("`{file}` has {}", keys(wanted.len()))
            } else {
                format!("`{file}` has none of {}", keys(wanted.len()))
            };
            return (Decision::Ok(why), fields);
        }
        let lines: Vec<&str> = probe
            .lines()
            .filter_map(|l| l.strip_prefix("line="))
            .collect();
        fields.insert("diff".into(), self.diff(file, &lines));
        let mut what = Vec::new();
        if missing > 0 {
            what.push(format!("add {} to `{file}`", keys(missing)));
        }
        if extra > 0 {
            what.push(format!("remove {} from `{file}`", keys(extra)));
        }
        (
            Decision::Change {
                what: what.join(", "),
                run: self.write(),
            },
            fields,
        )
    }

    /// What `--diff` shows: the file as [`Self::write`] leaves it, worked
    /// out here the same way — the old lines not asked for (none when
    /// `exclusive`), then the keys asked for (none when `absent`).
    fn diff(&self, file: &str, lines: &[&str]) -> Value {
        let asked: Vec<(String, String)> = self.keys.iter().filter_map(|k| identity(k)).collect();
        let mut after: String = lines
            .iter()
            .filter(|l| {
                !(self.present && self.exclusive)
                    && identity(l).is_none_or(|id| !asked.contains(&id))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        if self.present {
            after.extend(self.keys.iter().map(|k| format!("{k}\n")));
        }
        let before: Option<String> =
            (!lines.is_empty()).then(|| lines.iter().map(|l| format!("{l}\n")).collect());
        json!({ "path": file, "before": before, "after": after })
    }

    /// Merges the keys on stdin into the file, as the user's own.
    fn write(&self) -> Command {
        // `keep` prints the lines to keep of the old file: all, those not
        // asked for (exclusive keeps none; absent drops the ones on stdin).
        let mode = match (self.present, self.exclusive) {
            (true, true) => "exclusive",
            (true, false) => "add",
            (false, _) => "remove",
        };
        Command::script(format!(
            "# authorized_key: {}\nset -e\n{}mode={mode}\n\
             [ -n \"$home\" ] || {{ echo \"user \\`$u\\` does not exist\" >&2; exit 1; }}\n\
             d=$(dirname \"$f\")\n\
             if [ ! -d \"$d\" ]; then install -d -m 700 -o \"$u\" -g \"$(id -gn \"$u\")\" \"$d\"; fi\n\
             new=$(cat)\n\
             tmp=$(mktemp \"$d/.authorized_keys.XXXXXX\")\n\
             key() {{ awk '{{for (i = 1; i < NF; i++) if ($i ~ /^(ssh-|ecdsa-|sk-)/) {{print $i, $(i+1); next}}}}'; }}\n\
             ids=$(printf '%s\\n' \"$new\" | key)\n\
             if [ -f \"$f\" ]; then\n\
               while IFS= read -r line; do\n\
                 id=$(printf '%s\\n' \"$line\" | key)\n\
                 asked=\n\
                 if [ -n \"$id\" ] && printf '%s\\n' \"$ids\" | grep -qxF \"$id\"; then asked=1; fi\n\
                 [ $mode = exclusive ] || [ -n \"$asked\" ] || printf '%s\\n' \"$line\"\n\
               done <\"$f\" >\"$tmp\"\n\
             fi\n\
             [ $mode = remove ] || printf '%s\\n' \"$new\" >>\"$tmp\"\n\
             chmod 600 \"$tmp\"\n\
             chown \"$u:$(id -gn \"$u\")\" \"$tmp\"\n\
             mv -f \"$tmp\" \"$f\"",
            self.describe(),
            locate(&self.user, self.path.as_deref()),
        ))
    }
}

fn keys(n: usize) -> String {
    if n == 1 {
        "1 key".into()
    } else {
        format!("{n} keys")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ssh-ed25519 AAAAkeyA a@laptop";
    const B: &str = "ssh-ed25519 AAAAkeyB b@ci";

    fn module(keys: &[&str], present: bool, exclusive: bool) -> AuthorizedKey {
        AuthorizedKey {
            user: "app".into(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            present,
            exclusive,
            path: None,
            key_options: None,
            manage_dir: true,
        }
    }

    fn decide(m: &AuthorizedKey, probe: &str) -> Decision {
        m.decide(probe).0
    }

    #[test]
    fn a_key_is_the_same_key_whatever_its_comment_or_options() {
        let probe =
            "file=/home/app/.ssh/authorized_keys\nline=no-pty ssh-ed25519 AAAAkeyA other comment\n";
        assert!(matches!(
            decide(&module(&[A], true, false), probe),
            Decision::Ok(_)
        ));
        let Decision::Change { what, .. } = decide(&module(&[A, B], true, false), probe) else {
            panic!("a missing key is a change")
        };
        assert_eq!(what, "add 1 key to `/home/app/.ssh/authorized_keys`");
    }

    #[test]
    fn exclusive_removes_the_keys_it_does_not_list_and_absent_the_ones_it_does() {
        let probe = format!("file=/f\nline={A}\nline={B}\n");
        let Decision::Change { what, .. } = decide(&module(&[B], true, true), &probe) else {
            panic!("an extra key is a change with exclusive")
        };
        assert_eq!(what, "remove 1 key from `/f`");
        assert!(matches!(
            decide(&module(&[B], true, false), &probe),
            Decision::Ok(_)
        ));
        let Decision::Change { what, .. } = decide(&module(&[A], false, false), &probe) else {
            panic!("a present key is a change with absent")
        };
        assert_eq!(what, "remove 1 key from `/f`");
    }

    #[test]
    fn a_user_that_does_not_exist_yet_is_a_change_an_earlier_step_makes_possible() {
        let Decision::Change { what, .. } = decide(&module(&[A], true, false), "user=missing\n")
        else {
            panic!("a change")
        };
        assert!(what.contains("an earlier step must create it"), "{what}");
        assert!(matches!(
            decide(&module(&[A], false, false), "user=missing\n"),
            Decision::Ok(_)
        ));
    }

    #[test]
    fn the_diff_is_the_file_as_the_write_leaves_it_and_the_fields_are_ansibles() {
        let probe = format!("file=/f\nline=# mine\nline={A}\nline={B}\n");
        let c = "ssh-ed25519 AAAAkeyC c@new";
        let (_, fields) = module(&[A, c], true, false).decide(&probe);
        // An asked-for key moves to the end, as the write appends it.
        assert_eq!(fields["diff"]["after"], format!("# mine\n{B}\n{A}\n{c}\n"));
        assert_eq!(fields["diff"]["before"], format!("# mine\n{A}\n{B}\n"));
        let (_, fields) = module(&[B], true, true).decide(&probe);
        assert_eq!(fields["diff"]["after"], format!("{B}\n"));
        let (_, fields) = module(&[A], false, false).decide(&probe);
        assert_eq!(fields["diff"]["after"], format!("# mine\n{B}\n"));
        assert_eq!(fields["state"], "absent");
        assert_eq!(fields["keyfile"], "/f");
        for key in [
            "user",
            "key",
            "exclusive",
            "path",
            "key_options",
            "manage_dir",
            "follow",
            "validate_certs",
        ] {
            assert!(fields.contains_key(key), "{key}");
        }
    }
}
