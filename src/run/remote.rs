//! `ferry remote add|remove STAGE`: `git push STAGE main` as a way to
//! deploy, with the deploy's verdict as the push's verdict.
//!
//! The push target lives on one host of the stage, the deploy host (the
//! first of an inventory group `push`, or the first host the stage's deploy
//! reaches, or `--host`), in one directory (`ferry_push_dir`, relative to
//! the login user's home unless absolute; default `ferry-push/APP-STAGE`):
//!
//! ```text
//! repo.git/                  bare repository; hooks/pre-receive deploys
//! bin/ferry                  this very binary (the hosts need no internet)
//! push.conf                  the stage, the branch, the project's subdirectory
//! project/                   what git does not carry: secrets/STAGE.yml
//!                            (0600), the inventory when it is not committed
//! home/.ssh/                 the deploy host's own key (authorised on every
//!                            host of the stage) and known_hosts (the
//!                            controller's lines for those hosts: its trust)
//! hook.log                   every push's deploy output, masked as ferry masks
//! ```
//!
//! Everything else — deploy.yml, playbooks/, the committed inventory — comes
//! from the pushed commit, as it would from a clone: a push that changes the
//! playbook deploys with the changed playbook. The setup is two runs of
//! ferry's own modules (so each file is checked before it is written, and a
//! re-run that changes nothing says so): one on the deploy host that makes
//! its key and says where it is, then one that writes the files there and
//! authorises the key on every host of the stage. `remove` undoes it: the
//! key is revoked, the directory (bare repository included: it holds copies
//! of the pusher's commits, nothing else) is removed, and so is the git
//! remote.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{ExecArgs, compile_stage, compile_synthetic, finish, run_plan};
use crate::cli::{CompileArgs, RemoteAction, RemoteAddArgs, RemoteArgs, StageArgs};
use crate::error::Error;
use crate::plan::Plan;
use crate::shell::quote;
use crate::transport::known_hosts::host_name;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{Target, Trust};

/// The pre-receive hook every push target gets.
const HOOK: &str = include_str!("remote/hook.sh");
/// The name of the deploy host's key, under the push directory's home.
const KEY: &str = "home/.ssh/id_ed25519";
/// The lines the first run prints when it made the directory, the key.
const CREATED: &str = "ferry-push: created";
const GENERATED: &str = "ferry-push: generated";

pub(super) fn remote(dir: &Path, args: RemoteArgs) -> Result<(), Error> {
    match args.action {
        RemoteAction::Add(args) => add(dir, args),
        RemoteAction::Remove(args) => remove(dir, args),
    }
}

fn input(message: String) -> Error {
    Error::Input(crate::diagnostic::Diagnostic::plain(message))
}

/// What the stage's deploy reaches, and where the push target goes.
struct Stage {
    /// The hosts the deploy connects to, in order, each once.
    hosts: Vec<Target>,
    /// The deploy host.
    host: Target,
    /// `ferry_push_dir` as the inventory gives it (or the default).
    push_dir: String,
}

fn stage(dir: &Path, stage: &str, host: Option<&str>) -> Result<Stage, Error> {
    let plan: Plan = compile_stage(dir, stage, &CompileArgs::default(), None)?;
    let ssh_config = SshConfig::load_user_default()
        .map_err(|e| Error::Input(crate::diagnostic::Diagnostic::plain(e.to_string())))?;
    let mut hosts: Vec<Target> = Vec::new();
    for h in plan.plays.iter().flat_map(|p| &p.hosts) {
        if !hosts.iter().any(|t| t.name == h.host) {
            hosts.push(crate::executor::target(h, Some(&ssh_config)));
        }
    }
    let inventory = crate::inventory::Inventory::load(&crate::stage::inventory_path(dir, stage)?)?;
    let chosen = match host {
        Some(name) => name.to_string(),
        None if inventory.groups().any(|g| g == "push") => inventory
            .select("push", None)?
            .into_iter()
            .next()
            .ok_or_else(|| input(format!("group `push` of stage `{stage}` has no host")))?,
        None => hosts
            .first()
            .map(|t| t.name.clone())
            .ok_or_else(|| input(format!("stage `{stage}`'s deploy reaches no host")))?,
    };
    let host = hosts
        .iter()
        .find(|t| t.name == chosen)
        .cloned()
        .ok_or_else(|| {
            input(format!(
                "`{chosen}` is not a host that stage `{stage}`'s deploy reaches: {}",
                names(&hosts)
            ))
        })?;
    let app = app_name(dir);
    let push_dir = inventory
        .host_vars(&host.name)
        .get("ferry_push_dir")
        .and_then(Value::as_str)
        .map_or_else(|| format!("ferry-push/{app}-{stage}"), str::to_string);
    Ok(Stage {
        hosts,
        host,
        push_dir,
    })
}

fn names(hosts: &[Target]) -> String {
    hosts
        .iter()
        .map(|t| format!("`{}`", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The project directory's name: the app, in the push directory's name.
fn app_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_string())
}

/// The project's git repository: its top, and where the project lies in it.
struct Repo {
    top: PathBuf,
    subdir: String,
}

fn repo(dir: &Path) -> Result<Repo, Error> {
    let repo = git2::Repository::discover(dir).map_err(|e| {
        input(format!(
            "`{}` is not in a git repository: a push target deploys what is pushed to it ({})",
            dir.display(),
            e.message()
        ))
    })?;
    let top = repo
        .workdir()
        .ok_or_else(|| input("the project's repository is bare: run this in a clone".into()))?
        .canonicalize()
        .map_err(|e| Error::Failed(format!("cannot resolve the repository's path: {e}")))?;
    let project = dir
        .canonicalize()
        .map_err(|e| Error::Failed(format!("cannot resolve `{}`: {e}", dir.display())))?;
    let subdir = project
        .strip_prefix(&top)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Repo { top, subdir })
}

/// Whether git tracks `path` (in the index of the repository at `top`).
fn tracked(top: &Path, path: &Path) -> bool {
    let (Ok(repo), Ok(path)) = (git2::Repository::open(top), path.canonicalize()) else {
        return false;
    };
    let Ok(relative) = path.strip_prefix(top) else {
        return false;
    };
    repo.index()
        .is_ok_and(|index| index.get_path(relative, 0).is_some())
}

/// The controller's known_hosts lines for `hosts`, as OpenSSH finds them
/// (`ssh-keygen -F`: hashed lines, wildcards and `[host]:port` included).
fn known_hosts_lines(hosts: &[Target], trust: &Trust) -> Result<String, Error> {
    let mut text = String::new();
    for target in hosts {
        let name = host_name(&target.address, target.port);
        let mut found = false;
        for file in trust.files_for(target).0.iter().filter(|f| f.is_file()) {
            let out = std::process::Command::new("ssh-keygen")
                .arg("-F")
                .arg(&name)
                .arg("-f")
                .arg(file)
                .output()
                .map_err(|e| Error::CannotStart(format!("cannot run `ssh-keygen`: {e}")))?;
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if !line.starts_with('#') && !line.trim().is_empty() && !text.contains(line) {
                    text.push_str(line);
                    text.push('\n');
                    found = true;
                }
            }
        }
        if !found {
            return Err(Error::CannotStart(format!(
                "the controller does not know `{}`'s host key ({name}): the deploy host trusts what the controller trusts; run `ferry check` (with `--accept-new-host-keys` if you trust it) first",
                target.name
            )));
        }
    }
    Ok(text)
}

/// Run 1: the deploy host makes its directory and key, and says where it is.
struct Prepared {
    dir: String,
    key: String,
}

fn prepare(dir: &Path, stage_name: &str, st: &Stage, exec: &ExecArgs) -> Result<Prepared, Error> {
    let p = quote(&st.push_dir);
    let script = format!(
        "set -e; cd\n\
         command -v git >/dev/null 2>&1 || {{ echo 'git is not installed here: the push target is a git repository (apt-get install git)' >&2; exit 1; }}\n\
         [ -d {p} ] || echo {CREATED}\n\
         mkdir -p {p}/bin {p}/home/.ssh {p}/project/secrets {p}/project/inventory {p}/work\n\
         chmod 700 {p}/home {p}/home/.ssh {p}/project {p}/project/secrets\n\
         if [ ! -f {p}/{KEY} ]; then ssh-keygen -q -t ed25519 -N '' -C \"ferry-push@$(hostname)\" -f {p}/{KEY} >/dev/null; echo {GENERATED}; fi\n\
         echo \"dir=$(cd {p} && pwd)\"\n\
         echo \"arch=$(uname -m)\"\n\
         echo \"key=$(cat {p}/{KEY}.pub)\"\n"
    );
    let playbook = json!([{
        "name": "push target: directory and key",
        "hosts": st.host.name,
        "tasks": [{
            "name": "push directory and key",
            "shell": script,
            "register": "prep",
            "changed_when": format!("'{CREATED}' in prep.stdout or '{GENERATED}' in prep.stdout"),
        }],
    }]);
    let mut plan = compile_synthetic(
        dir,
        stage_name,
        "<ferry remote add>",
        &playbook,
        &CompileArgs::default(),
    )?;
    let mut stdout = String::new();
    let quiet = ExecArgs {
        own_report: true,
        json: false,
        verbose: false,
        quiet: false,
        ..exec.clone()
    };
    let outcome = run_plan(&mut plan, dir, &quiet, false, |results, _| {
        if let Some(out) = results.get(&st.host.name).and_then(|r| r.get("prep")) {
            stdout = out["stdout"].as_str().unwrap_or_default().to_string();
        }
    })?;
    finish(&outcome)?;
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    let arch = field("arch");
    if !same_arch(&arch) {
        return Err(Error::Failed(format!(
            "`{}` is `{arch}`, and this ferry is built for `{}`: the push target runs this very binary, so set it up from a controller of the same architecture (or pick another deploy host with `--host`)",
            st.host.name,
            std::env::consts::ARCH
        )));
    }
    if stdout.lines().any(|l| l == CREATED) {
        say(
            exec,
            &format!("created the push directory on `{}`", st.host.name),
        );
    }
    if stdout.lines().any(|l| l == GENERATED) {
        say(
            exec,
            &format!("generated the push key on `{}`", st.host.name),
        );
    }
    Ok(Prepared {
        dir: field("dir"),
        key: field("key"),
    })
}

/// Whether `uname -m` names the architecture this binary is built for.
fn same_arch(uname: &str) -> bool {
    let uname = match uname {
        "arm64" => "aarch64",
        "i686" | "i386" => "x86",
        other => other,
    };
    uname == std::env::consts::ARCH
}

fn add(dir: &Path, args: RemoteAddArgs) -> Result<(), Error> {
    let repo = repo(dir)?;
    let st = stage(dir, &args.stage, args.host.as_deref())?;
    check_git_remote(&repo.top, &args.stage)?;
    let trust = Trust::user_default(Some(dir.join("known_hosts")).filter(|p| p.is_file()));
    let known_hosts = known_hosts_lines(&st.hosts, &trust)?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::CannotStart(format!("cannot find ferry's own executable: {e}")))?;
    let prepared = prepare(dir, &args.stage, &st, &args.exec)?;
    let p = &prepared.dir;
    let conf = format!(
        "FERRY_STAGE={}\nFERRY_BRANCH={}\nFERRY_SUBDIR={}\n",
        quote(&args.stage),
        quote(&args.branch),
        quote(&repo.subdir)
    );
    let version = env!("FERRY_VERSION");
    let check_binary = format!(
        "out=$({p}/bin/ferry --version 2>&1) || {{ echo \"this ferry (built for {arch}-{os}) does not run on this host: $out\" >&2; exit 1; }}\n\
         [ \"$out\" = {want} ] || {{ echo \"{p}/bin/ferry says $out, not {version}\" >&2; exit 1; }}",
        p = quote(p),
        arch = std::env::consts::ARCH,
        os = std::env::consts::OS,
        want = quote(&format!("ferry {version}")),
    );
    let mut tasks = vec![
        json!({ "name": "bare repository", "command": { "argv": ["git", "init", "-q", "--bare", format!("{p}/repo.git")], "creates": format!("{p}/repo.git/HEAD") } }),
        json!({ "name": "ferry binary", "copy": { "src": exe.display().to_string(), "dest": format!("{p}/bin/ferry"), "mode": "0755" } }),
        json!({ "name": "ferry runs there", "shell": check_binary, "changed_when": false }),
        json!({ "name": "pre-receive hook", "copy": { "content": HOOK, "dest": format!("{p}/repo.git/hooks/pre-receive"), "mode": "0755" } }),
        json!({ "name": "push settings", "copy": { "content": conf, "dest": format!("{p}/push.conf"), "mode": "0644" } }),
        json!({ "name": "known hosts", "copy": { "content": known_hosts, "dest": format!("{p}/home/.ssh/known_hosts"), "mode": "0600" } }),
    ];
    // What git does not carry: the secrets file, and the inventory when it
    // is not committed (a committed one comes with the push).
    let secrets = crate::secrets::path(dir, &args.stage);
    for ext in ["yml", "yaml"] {
        let name = format!("secrets/{}.{ext}", args.stage);
        let dest = format!("{p}/project/{name}");
        tasks.push(match &secrets {
            Some(file) if file.extension().is_some_and(|e| e == ext) => {
                json!({ "name": format!("secrets file {name}"), "copy": { "src": absolute(file), "dest": dest, "mode": "0600" } })
            }
            _ => {
                json!({ "name": format!("no secrets file {name}"), "file": { "path": dest, "state": "absent" } })
            }
        });
    }
    let inventory = crate::stage::inventory_path(dir, &args.stage)?;
    let relative = absolute(&inventory)
        .strip_prefix(absolute(dir))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| inventory.clone());
    let inventory_dest = format!("{p}/project/{}", relative.display());
    let inventory_task = if tracked(&repo.top, &inventory) {
        json!({ "name": "inventory: the pushed commit's", "file": { "path": inventory_dest, "state": "absent" } })
    } else {
        json!({ "name": "inventory (not committed)", "copy": { "src": absolute(&inventory), "dest": inventory_dest, "mode": "0600" } })
    };
    tasks.push(inventory_task);
    let users: serde_json::Map<String, Value> = st
        .hosts
        .iter()
        .map(|t| (t.name.clone(), json!(t.user)))
        .collect();
    let playbook = json!([
        { "name": "push target", "hosts": st.host.name, "tasks": tasks },
        {
            "name": "push key authorised",
            "hosts": st.hosts.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(":"),
            "tasks": [{
                "name": "deploy host's key",
                "authorized_key": { "user": "{{ ferry_push_users[inventory_hostname] }}", "key": prepared.key },
            }],
        },
    ]);
    let compile = CompileArgs {
        extra_vars: vec![json!({ "ferry_push_users": users }).to_string()],
        ..CompileArgs::default()
    };
    let mut plan = compile_synthetic(dir, &args.stage, "<ferry remote add>", &playbook, &compile)?;
    let outcome = run_plan(&mut plan, dir, &args.exec, false, |_, _| {})?;
    finish(&outcome)?;
    let url = url(&st.host, p);
    let remote_changed = set_git_remote(&repo.top, &args.stage, &url, &st.host.name, p)?;
    let unchanged = if remote_changed { "" } else { " (unchanged)" };
    say(
        &args.exec,
        &format!("git remote `{}`: {url}{unchanged}", args.stage),
    );
    reachable_by_git(&repo.top, &args.stage, &args.exec);
    say(
        &args.exec,
        &format!(
            "`git push {} {}` now deploys stage `{}`; the push is accepted only if the deploy succeeds",
            args.stage, args.branch, args.stage
        ),
    );
    Ok(())
}

/// A line of the setup's own report: on stderr under `--json`, whose
/// stdout is events only.
fn say(exec: &ExecArgs, line: &str) {
    if exec.json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// The ssh URL git pushes to.
fn url(host: &Target, dir: &str) -> String {
    let address = if host.address.contains(':') {
        format!("[{}]", host.address)
    } else {
        host.address.clone()
    };
    format!("ssh://{}@{address}:{}{dir}/repo.git", host.user, host.port)
}

fn git(top: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .arg("-C")
        .arg(top)
        .args(args)
        .output()
        .unwrap_or_else(|e| std::process::Output {
            status: std::process::ExitStatus::default(),
            stdout: Vec::new(),
            stderr: format!("cannot run git: {e}").into_bytes(),
        })
}

fn git_config(top: &Path, key: &str) -> Option<String> {
    let out = git(top, &["config", "--get", key]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Refuses to take over a git remote that ferry did not make.
fn check_git_remote(top: &Path, stage: &str) -> Result<(), Error> {
    let url = git_config(top, &format!("remote.{stage}.url"));
    let ours = git_config(top, &format!("remote.{stage}.ferryhost")).is_some();
    match url {
        Some(url) if !ours => Err(input(format!(
            "the repository has a git remote `{stage}` already ({url}), not made by ferry: remove or rename it first (`git remote rename {stage} OTHER`)"
        ))),
        _ => Ok(()),
    }
}

/// Adds (or updates) the git remote; whether anything changed.
fn set_git_remote(
    top: &Path,
    stage: &str,
    url: &str,
    host: &str,
    dir: &str,
) -> Result<bool, Error> {
    let had = git_config(top, &format!("remote.{stage}.url"));
    if had.as_deref() == Some(url)
        && git_config(top, &format!("remote.{stage}.ferryhost")).as_deref() == Some(host)
    {
        return Ok(false);
    }
    let out = if had.is_some() {
        git(top, &["remote", "set-url", stage, url])
    } else {
        git(top, &["remote", "add", stage, url])
    };
    let failed = |out: &std::process::Output| {
        Error::Failed(format!(
            "cannot set the git remote `{stage}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    };
    if !out.status.success() {
        return Err(failed(&out));
    }
    for (key, value) in [("ferryhost", host), ("ferrydir", dir)] {
        let out = git(top, &["config", &format!("remote.{stage}.{key}"), value]);
        if !out.status.success() {
            return Err(failed(&out));
        }
    }
    Ok(true)
}

/// Checks that git itself reaches the push target (git uses the user's
/// own ssh, not ferry's connection), and says how to fix it if not.
fn reachable_by_git(top: &Path, stage: &str, exec: &ExecArgs) {
    let out = git(top, &["ls-remote", "--heads", stage]);
    if out.status.success() {
        say(
            exec,
            &format!("ok: `git ls-remote {stage}` reaches the push target"),
        );
    } else {
        eprintln!(
            "warning: `git ls-remote {stage}` failed: {}\n  git reaches the deploy host with your own ssh (~/.ssh/config, ssh-agent), not with ferry's inventory settings: give ssh the host's key there",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

fn remove(dir: &Path, args: StageArgs) -> Result<(), Error> {
    let repo = repo(dir)?;
    let stage_name = &args.stage;
    let host = git_config(&repo.top, &format!("remote.{stage_name}.ferryhost"));
    let push_dir = git_config(&repo.top, &format!("remote.{stage_name}.ferrydir"));
    let (Some(host), Some(push_dir)) = (host, push_dir) else {
        return Err(input(format!(
            "there is no push target `{stage_name}` here (no git remote `{stage_name}` made by `ferry remote add`)"
        )));
    };
    let st = stage(dir, stage_name, Some(&host))?;
    let p = quote(&push_dir);
    let read_key = json!([{
        "name": "push target: key",
        "hosts": host,
        "tasks": [{ "name": "read the push key", "shell": format!("cat {p}/{KEY}.pub 2>/dev/null || true"), "register": "key", "changed_when": false }],
    }]);
    let mut plan = compile_synthetic(
        dir,
        stage_name,
        "<ferry remote remove>",
        &read_key,
        &CompileArgs::default(),
    )?;
    let mut key = String::new();
    let exec = ExecArgs::quiet();
    let outcome = run_plan(&mut plan, dir, &exec, false, |results, _| {
        if let Some(out) = results.get(&host).and_then(|r| r.get("key")) {
            key = out["stdout"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_string();
        }
    })?;
    finish(&outcome)?;
    let mut plays = Vec::new();
    if !key.is_empty() {
        let users: serde_json::Map<String, Value> = st
            .hosts
            .iter()
            .map(|t| (t.name.clone(), json!(t.user)))
            .collect();
        plays.push(json!({
            "name": "push key revoked",
            "hosts": st.hosts.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(":"),
            "vars": { "ferry_push_users": users },
            "tasks": [{ "name": "deploy host's key", "authorized_key": { "user": "{{ ferry_push_users[inventory_hostname] }}", "key": key, "state": "absent" } }],
        }));
    }
    plays.push(json!({
        "name": "push target removed",
        "hosts": host,
        "tasks": [{ "name": "push directory", "file": { "path": push_dir, "state": "absent" } }],
    }));
    let mut plan = compile_synthetic(
        dir,
        stage_name,
        "<ferry remote remove>",
        &json!(plays),
        &CompileArgs::default(),
    )?;
    let outcome = run_plan(&mut plan, dir, &args_exec(), false, |_, _| {})?;
    finish(&outcome)?;
    let out = git(&repo.top, &["remote", "remove", stage_name]);
    if !out.status.success() {
        return Err(Error::Failed(format!(
            "cannot remove the git remote `{stage_name}`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    println!(
        "removed the push target `{stage_name}` from `{host}` ({push_dir}, its repository included) and the git remote `{stage_name}`"
    );
    Ok(())
}

/// The run options of `remove`, which takes none: steps and recap shown.
fn args_exec() -> ExecArgs {
    ExecArgs {
        own_report: false,
        ..ExecArgs::quiet()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_user_port_and_absolute_path() {
        let host = Target::new("web1", "203.0.113.5", 2222, "deploy");
        assert_eq!(
            url(&host, "/home/deploy/ferry-push/shop-prod"),
            "ssh://deploy@203.0.113.5:2222/home/deploy/ferry-push/shop-prod/repo.git"
        );
        let v6 = Target::new("web1", "2001:db8::5", 22, "deploy");
        assert_eq!(
            url(&v6, "/srv/p"),
            "ssh://deploy@[2001:db8::5]:22/srv/p/repo.git"
        );
    }

    #[test]
    fn uname_names_are_rusts() {
        assert!(same_arch(std::env::consts::ARCH));
        assert_eq!(same_arch("arm64"), std::env::consts::ARCH == "aarch64");
        assert_eq!(same_arch("x86_64"), std::env::consts::ARCH == "x86_64");
    }
}
