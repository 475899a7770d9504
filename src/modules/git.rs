//! `git`: a clone of `repo` in `dest`, checked out at `version` (a branch,
//! a tag, a commit, or the remote's `HEAD`), as Ansible's module keeps it.
//!
//! The probe reads the clone (its commit, its `origin`, local changes) and
//! asks the remote what `version` is now (`git ls-remote`); ferry then
//! decides: `ok` when the clone is already there, clean, from that remote,
//! at that commit; an error for local changes without `force`; else the
//! clone or update it names, with the commits before and after.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::edit::bool_arg;
use super::probed::{Decision, Probed, Prober, fields};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "repo",
    "name",
    "dest",
    "version",
    "force",
    "depth",
    "update",
    "accept_hostkey",
    "accept_newhostkey",
    "key_file",
    "ssh_opts",
    "remote",
    "recursive",
    "executable",
];

#[derive(Debug, Clone, Serialize)]
pub struct Git {
    pub repo: String,
    pub dest: String,
    pub version: String,
    pub remote: String,
    pub force: bool,
    pub update: bool,
    pub recursive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    /// `git` itself (Ansible's `executable`).
    pub git: String,
    /// The `GIT_SSH_COMMAND` that `accept_hostkey`, `key_file` and
    /// `ssh_opts` make, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
}

pub fn git(args: &Args) -> Result<Action, Diagnostic> {
    let repo = match args.string("repo")? {
        Some(repo) => repo,
        None => args
            .string("name")?
            .ok_or_else(|| args.error("module `git` needs `repo`"))?,
    };
    let dest = args.required("dest", "git")?;
    let depth = match args.get("depth") {
        None => None,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if n > 0 => Some(n),
            _ => return Err(args.error_at("depth", "`depth` must be a positive number of commits")),
        },
    };
    let accept =
        bool_arg(args, "accept_hostkey", false)? || bool_arg(args, "accept_newhostkey", false)?;
    let mut ssh = Vec::new();
    if accept {
        // Trust on first use, but a changed key still stops the clone.
        ssh.push("-o StrictHostKeyChecking=accept-new".to_string());
    }
    if let Some(key) = args.string("key_file")? {
        ssh.push(format!("-i {} -o IdentitiesOnly=yes", quote(&key)));
    }
    if let Some(opts) = args.string("ssh_opts")? {
        ssh.push(opts);
    }
    let ssh = (!ssh.is_empty()).then(|| format!("ssh -o BatchMode=yes {}", ssh.join(" ")));
    let spec = Git {
        version: args.string("version")?.unwrap_or_else(|| "HEAD".into()),
        remote: args.string("remote")?.unwrap_or_else(|| "origin".into()),
        force: bool_arg(args, "force", false)?,
        update: bool_arg(args, "update", true)?,
        recursive: bool_arg(args, "recursive", true)?,
        git: args.string("executable")?.unwrap_or_else(|| "git".into()),
        repo,
        dest,
        depth,
        ssh,
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: spec.probe(),
            module: Prober::Git(spec),
            stdin: None,
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

/// A full commit id: asked of no remote.
fn is_full_sha(version: &str) -> bool {
    version.len() == 40 && version.chars().all(|c| c.is_ascii_hexdigit())
}

/// What could be an abbreviated commit id.
fn is_short_sha(version: &str) -> bool {
    (4..40).contains(&version.len()) && version.chars().all(|c| c.is_ascii_hexdigit())
}

impl Git {
    /// `repo=… dest=…` lines that every script of this step starts with,
    /// and the environment git runs in: no prompt, ferry's ssh options.
    fn preamble(&self, what: &str) -> String {
        let mut text = format!(
            "# git: {what}\nrepo={} dest={} version={} remote={} git={}\nexport GIT_TERMINAL_PROMPT=0\n",
            quote(&self.repo),
            quote(&self.dest),
            quote(&self.version),
            quote(&self.remote),
            quote(&self.git),
        );
        if let Some(ssh) = &self.ssh {
            text.push_str(&format!("export GIT_SSH_COMMAND={}\n", quote(ssh)));
        }
        text
    }

    fn probe(&self) -> Command {
        let mut script = self.preamble(&format!("probe `{}` and `{}`", self.dest, self.repo));
        script.push_str(
            r#"if [ -d "$dest/.git" ]; then
  echo exists=1
  echo head=$("$git" -C "$dest" rev-parse --verify -q HEAD)
  echo url=$("$git" -C "$dest" remote get-url "$remote" 2>/dev/null)
  [ -z "$("$git" -C "$dest" status --porcelain --untracked-files=no)" ] || echo dirty=1
  echo local=$("$git" -C "$dest" rev-parse --verify -q "$version^{commit}" 2>/dev/null)
elif [ -e "$dest" ] && [ -n "$(ls -A -- "$dest" 2>/dev/null)" ]; then
  echo nonempty=1
fi
"#,
        );
        if !is_full_sha(&self.version) && !is_short_sha(&self.version) {
            // With `update: no` an existing clone is left as it is: only a
            // missing one needs to know what `version` is.
            if !self.update {
                script.push_str("[ -d \"$dest/.git\" ] && exit 0\n");
            }
            script.push_str(
                r#"if [ "$version" = HEAD ]; then
  refs=$("$git" ls-remote --symref -- "$repo" HEAD) || exit 1
else
  refs=$("$git" ls-remote -- "$repo" "refs/heads/$version" "refs/tags/$version" "refs/tags/$version^{}") || exit 1
fi
printf '%s\n' "$refs" | while read -r a b c; do
  if [ "$a" = ref: ]; then echo "symref=$b"; elif [ -n "$b" ]; then echo "ref:$b=$a"; fi
done
"#,
            );
        }
        Command::script(script)
    }

    pub fn describe(&self) -> String {
        format!(
            "git: a clone of `{}` at `{}` in `{}` (probe the clone and the remote, then clone or update if it differs)",
            self.repo, self.version, self.dest
        )
    }

    /// What `version` is on the remote: `(kind, name, commit)`, kind
    /// `branch`, `tag` or `commit`.
    fn wanted(
        &self,
        probe: &std::collections::HashMap<&str, &str>,
    ) -> Option<(&'static str, String, String)> {
        let v = &self.version;
        if is_full_sha(v) {
            return Some(("commit", v.clone(), v.to_lowercase()));
        }
        if is_short_sha(v) {
            return probe
                .get("local")
                .filter(|s| !s.is_empty())
                .map(|sha| ("commit", v.clone(), sha.to_string()));
        }
        let branch = |name: &str| {
            probe
                .get(format!("ref:refs/heads/{name}").as_str())
                .map(|sha| ("branch", name.to_string(), sha.to_string()))
        };
        if v == "HEAD" {
            let head = probe.get("symref")?.strip_prefix("refs/heads/")?;
            let sha = probe.get("ref:HEAD")?;
            return Some(("branch", head.to_string(), sha.to_string()));
        }
        branch(v).or_else(|| {
            probe
                .get(format!("ref:refs/tags/{v}^{{}}").as_str())
                .or_else(|| probe.get(format!("ref:refs/tags/{v}").as_str()))
                .map(|sha| ("tag", v.clone(), sha.to_string()))
        })
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let found = fields(probe);
        let exists = found.contains_key("exists");
        let head = found
            .get("head")
            .filter(|h| !h.is_empty())
            .map(|h| h.to_string());
        let mut out = Map::new();
        out.insert("before".into(), json!(head));
        let dest = &self.dest;
        if !exists && found.contains_key("nonempty") {
            return (
                Decision::Fail(format!(
                    "`{dest}` exists and is not an empty directory: git cannot clone into it"
                )),
                out,
            );
        }
        if exists && !self.update {
            out.insert("after".into(), json!(head));
            return (
                Decision::Ok(format!("`{dest}` is a clone (`update: no`)")),
                out,
            );
        }
        let dirty = found.contains_key("dirty");
        if dirty && !self.force {
            return (
                Decision::Fail(format!(
                    "local modifications exist in `{dest}` (`force: true` discards them)"
                )),
                out,
            );
        }
        let wanted = self.wanted(&found);
        let url = found.get("url").copied().unwrap_or_default();
        out.insert(
            "remote_url_changed".into(),
            json!(exists && url != self.repo),
        );
        let Some((kind, name, sha)) = wanted else {
            if is_short_sha(&self.version) {
                // Not in the clone yet: fetched, then resolved.
                return (
                    self.change(
                        ("commit", self.version.clone(), String::new()),
                        head.as_deref(),
                    ),
                    out,
                );
            }
            return (
                Decision::Fail(format!(
                    "`{}` has no branch or tag `{}`",
                    self.repo, self.version
                )),
                out,
            );
        };
        out.insert("after".into(), json!(sha));
        let short = &sha[..sha.len().min(7)];
        if exists && head.as_deref() == Some(sha.as_str()) && url == self.repo && !dirty {
            return (
                Decision::Ok(format!("`{dest}` is at `{}` ({short})", self.version)),
                out,
            );
        }
        (self.change((kind, name, sha), head.as_deref()), out)
    }

    fn change(&self, (kind, name, sha): (&str, String, String), head: Option<&str>) -> Decision {
        let short = &sha[..sha.len().min(7)];
        let at = if short.is_empty() {
            format!("`{}`", self.version)
        } else {
            format!("`{}` ({short})", self.version)
        };
        let what = match head {
            None => format!("clone `{}` at {at} into `{}`", self.repo, self.dest),
            Some(head) => format!(
                "update `{}` from {} to {at}",
                self.dest,
                &head[..head.len().min(7)]
            ),
        };
        let depth = self
            .depth
            .map(|d| format!(" --depth {d}"))
            .unwrap_or_default();
        let force = if self.force { " -f" } else { "" };
        let mut script = self.preamble(&what);
        script.push_str(&format!(
            "kind={} name={} sha={}\n",
            quote(kind),
            quote(&name),
            quote(&sha)
        ));
        script.push_str(&format!(
            r#"set -e
if [ ! -d "$dest/.git" ]; then
  mkdir -p -- "$dest"
  "$git" init -q -- "$dest"
  "$git" -C "$dest" remote add "$remote" "$repo"
fi
"$git" -C "$dest" remote set-url "$remote" "$repo"
"$git" -C "$dest" fetch -q{depth} --tags --force "$remote" "+refs/heads/*:refs/remotes/$remote/*"
case "$kind" in
  branch) "$git" -C "$dest" checkout -q{force} -B "$name" "refs/remotes/$remote/$name" ;;
  tag) "$git" -C "$dest" checkout -q{force} --detach "refs/tags/$name" ;;
  commit)
    "$git" -C "$dest" cat-file -e "$name^{{commit}}" 2>/dev/null || "$git" -C "$dest" fetch -q{depth} "$remote" "$name"
    "$git" -C "$dest" checkout -q{force} --detach "$name^{{commit}}" ;;
esac
[ ! -f "$dest/.gitmodules" ] || [ {recursive} = no ] || "$git" -C "$dest" submodule update -q --init --recursive
echo after=$("$git" -C "$dest" rev-parse HEAD)
"#,
            recursive = if self.recursive { "yes" } else { "no" },
        ));
        Decision::Change {
            what,
            run: Command::script(script),
        }
    }

    pub fn finish(&self, stdout: &str, out: &mut Map<String, Value>) {
        if let Some(after) = fields(stdout).get("after") {
            out.insert("after".into(), json!(after));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(version: &str) -> Git {
        Git {
            repo: "ssh://git@example.org/app.git".into(),
            dest: "/srv/app".into(),
            version: version.into(),
            remote: "origin".into(),
            force: false,
            update: true,
            recursive: true,
            depth: None,
            git: "git".into(),
            ssh: None,
        }
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn what(decision: &Decision) -> &str {
        match decision {
            Decision::Change { what, .. } => what,
            Decision::Ok(why) | Decision::Fail(why) | Decision::Done(why) => why,
        }
    }

    #[test]
    fn a_missing_clone_is_cloned_at_the_branch_the_remote_names() {
        let probe = format!("symref=refs/heads/main\nref:HEAD={A}\n");
        let (decision, out) = spec("HEAD").decide(&probe);
        assert_eq!(
            what(&decision),
            "clone `ssh://git@example.org/app.git` at `HEAD` (aaaaaaa) into `/srv/app`"
        );
        assert_eq!(out["before"], Value::Null);
        assert_eq!(out["after"], A);
        let Decision::Change { run, .. } = decision else {
            panic!()
        };
        assert!(
            run.as_sent().contains("kind=branch name=main sha=aaaa"),
            "{run}"
        );
    }

    #[test]
    fn a_clone_at_the_wanted_commit_is_ok_and_one_behind_is_updated() {
        let repo = "ssh://git@example.org/app.git";
        let at_a = format!("exists=1\nhead={A}\nurl={repo}\nlocal=\nref:refs/heads/main={A}\n");
        let (decision, _) = spec("main").decide(&at_a);
        assert_eq!(
            decision,
            Decision::Ok("`/srv/app` is at `main` (aaaaaaa)".into())
        );
        let moved = at_a.replace(&format!("main={A}"), &format!("main={B}"));
        let (decision, out) = spec("main").decide(&moved);
        assert_eq!(
            what(&decision),
            "update `/srv/app` from aaaaaaa to `main` (bbbbbbb)"
        );
        assert_eq!(
            (out["before"].as_str(), out["after"].as_str()),
            (Some(A), Some(B))
        );
        let other_url = at_a.replace(repo, "/elsewhere");
        assert!(matches!(
            spec("main").decide(&other_url).0,
            Decision::Change { .. }
        ));
    }

    #[test]
    fn local_changes_fail_without_force_and_are_discarded_with_it() {
        let probe = format!("exists=1\nhead={A}\nurl=x\ndirty=1\nref:refs/heads/main={A}\n");
        assert_eq!(
            spec("main").decide(&probe).0,
            Decision::Fail(
                "local modifications exist in `/srv/app` (`force: true` discards them)".into()
            )
        );
        let mut forced = spec("main");
        forced.force = true;
        let Decision::Change { run, .. } = forced.decide(&probe).0 else {
            panic!()
        };
        assert!(run.as_sent().contains("checkout -q -f -B"), "{run}");
    }

    #[test]
    fn tags_commits_and_unknown_versions() {
        let probe = format!("ref:refs/tags/v1={B}\nref:refs/tags/v1^{{}}={A}\n");
        let (decision, out) = spec("v1").decide(&probe);
        assert_eq!(out["after"], A, "an annotated tag names its commit");
        assert!(what(&decision).contains("`v1` (aaaaaaa)"));
        assert_eq!(spec(A).decide("").1["after"], A);
        assert_eq!(
            spec("nope").decide("").0,
            Decision::Fail("`ssh://git@example.org/app.git` has no branch or tag `nope`".into())
        );
        let mut fixed = spec("main");
        fixed.update = false;
        assert!(
            fixed
                .probe()
                .as_sent()
                .contains("[ -d \"$dest/.git\" ] && exit 0\nif [ \"$version\" = HEAD ]")
        );
        assert!(
            matches!(
                fixed
                    .decide(&format!("symref=x\nref:refs/heads/main={A}\n"))
                    .0,
                Decision::Change { .. }
            ),
            "a missing clone is made even with `update: no`"
        );
        assert_eq!(
            fixed.decide(&format!("exists=1\nhead={A}\n")).0,
            Decision::Ok("`/srv/app` is a clone (`update: no`)".into())
        );
        assert!(matches!(
            spec("main").decide("nonempty=1\n").0,
            Decision::Fail(_)
        ));
    }
}
