//! The deploy lock, `{deploy_to}/.ferry/lock/`: a directory, because
//! `mkdir` either creates it or fails, atomically, where test-then-write
//! lets two deploys both see "free". Its `owner` file says who holds it.
//!
//! The commands here run on the server; the parsers read what they printed.
//! Whether a held lock is *stale* is decided on the controller
//! ([`is_stale`]): the server cannot see the controller's processes.

use std::time::Duration;

use super::layout;
use crate::shell::Command;
use crate::transport::ExecOutput;

/// Exit status of [`acquire`] when the lock is already held (`EX_TEMPFAIL`).
pub const HELD_STATUS: u32 = 75;

/// A lock older than this is stale whoever holds it: no deploy takes six
/// hours, and a stale lock is only *named* as such (with how to clear it),
/// never broken by ferry on its own, so erring early costs nothing.
pub const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// A lock with no `owner` file this old was left by a run that died between
/// `mkdir` and writing the owner (a few milliseconds apart).
const OWNERLESS_STALE_AFTER: Duration = Duration::from_secs(60);

/// First line [`acquire`] prints when the lock is held.
const HELD_MARKER: &str = "ferry-lock: held";

/// Who holds a lock, as recorded in its `owner` file (`key=value` lines).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockOwner {
    /// `user@controller-host`.
    pub who: String,
    /// Process id of ferry on the controller.
    pub pid: u32,
    /// When the lock was taken, UTC RFC 3339 (`2026-11-24T10:40:00Z`).
    pub time: String,
    /// The commit being deployed, if known.
    pub rev: Option<String>,
    /// The release id being deployed.
    pub release: String,
}

impl LockOwner {
    /// This process, deploying `release` (of `rev`), now.
    pub fn this_process(rev: Option<&str>, release: &str) -> LockOwner {
        LockOwner {
            who: format!("{}@{}", this_user(), this_host()),
            pid: std::process::id(),
            time: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            rev: rev.map(str::to_string),
            release: release.to_string(),
        }
    }

    /// The controller host part of [`LockOwner::who`].
    pub fn host(&self) -> &str {
        self.who.rsplit_once('@').map_or("", |(_, host)| host)
    }

    /// The `owner` file's text: one `key=value` line each, newlines in
    /// values replaced so that each stays one line.
    pub fn to_text(&self) -> String {
        let one_line = |value: &str| value.replace(['\n', '\r'], " ");
        let mut text = format!(
            "who={}\npid={}\ntime={}\n",
            one_line(&self.who),
            self.pid,
            one_line(&self.time)
        );
        if let Some(rev) = &self.rev {
            text.push_str(&format!("rev={}\n", one_line(rev)));
        }
        text.push_str(&format!("release={}\n", one_line(&self.release)));
        text
    }

    /// Reads an `owner` file; `None` unless `who`, `pid`, `time` and
    /// `release` are all there.
    pub fn parse(text: &str) -> Option<LockOwner> {
        let mut who = None;
        let mut pid = None;
        let mut time = None;
        let mut rev = None;
        let mut release = None;
        for line in text.lines() {
            let (key, value) = line.split_once('=')?;
            let value = Some(value.to_string());
            match key {
                "who" => who = value,
                "pid" => pid = value?.parse().ok(),
                "time" => time = value,
                "rev" => rev = value,
                "release" => release = value,
                _ => {}
            }
        }
        Some(LockOwner {
            who: who?,
            pid: pid?,
            time: time?,
            rev,
            release: release?,
        })
    }
}

impl std::fmt::Display for LockOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {}) since {}, deploying `{}`",
            self.who, self.pid, self.time, self.release
        )?;
        if let Some(rev) = &self.rev {
            write!(f, " of `{rev}`")?;
        }
        Ok(())
    }
}

/// What a held lock's `owner` file said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Known(LockOwner),
    /// Missing, empty or not ferry's format: the text as found.
    Unreadable(String),
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Known(owner) => owner.fmt(f),
            Holder::Unreadable(text) if text.trim().is_empty() => f.write_str("an unknown owner"),
            Holder::Unreadable(text) => write!(f, "an unknown owner (`{}`)", text.trim()),
        }
    }
}

/// Why a held lock looks abandoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Taken from this controller by a process that is no longer running.
    DeadProcess { pid: u32 },
    /// Held for longer than [`STALE_AFTER`].
    Old { age: Duration },
    /// No owner recorded, and the lock is older than a minute.
    Ownerless { age: Duration },
}

/// The lock is held by someone else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", held_message(self))]
pub struct LockHeld {
    pub holder: Holder,
    /// How long it has been held, by the server's clock.
    pub age: Option<Duration>,
    pub stale: Option<Stale>,
}

/// Why [`acquire`] did not take the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    #[error(transparent)]
    Held(Box<LockHeld>),
    /// The command itself failed (permissions, disk full, …).
    #[error("cannot take the deploy lock (exit status {status:?}): {stderr}")]
    Failed { status: Option<u32>, stderr: String },
}

fn held_message(held: &LockHeld) -> String {
    let mut text = format!("deploy lock held by {}", held.holder);
    if let Some(age) = held.age {
        text.push_str(&format!(" for {}", age_text(age)));
    }
    match &held.stale {
        Some(Stale::DeadProcess { pid }) => text.push_str(&format!(
            "; the lock is stale: process {pid} is no longer running on this machine"
        )),
        Some(Stale::Old { .. }) => text.push_str(&format!(
            "; the lock is stale: older than {}",
            age_text(STALE_AFTER)
        )),
        Some(Stale::Ownerless { .. }) => {
            text.push_str("; the lock is stale: no owner was ever recorded")
        }
        None => {}
    }
    if held.stale.is_some() {
        text.push_str(": clear it with `ferry unlock STAGE`");
    }
    text
}

fn age_text(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// `{deploy_to}/.ferry/lock`.
fn lock_dir(deploy_to: &str) -> String {
    format!("{deploy_to}/.ferry/lock")
}

/// Takes the lock: `mkdir` decides. On success it writes `owner` (and
/// removes the lock again if it cannot, rather than leave one nobody
/// owns); when the lock is held it prints a marker, the lock's age in
/// seconds (by the server's clock, so the controller's does not matter)
/// and the owner file, and exits with [`HELD_STATUS`].
pub fn acquire(deploy_to: &str, owner: &LockOwner) -> Command {
    let lock = lock_dir(deploy_to);
    let write_owner = Command::new("printf")
        .arg("%s")
        .arg(owner.to_text())
        .raw(">")
        .arg(format!("{lock}/owner"));
    // `mkdir -p` only when `.ferry` is missing: a process less per deploy.
    Command::new("set")
        .arg("--")
        .arg(&lock)
        .raw("; { [ -d \"${1%/*}\" ] || mkdir -p \"${1%/*}\"; }")
        .raw("&& { if mkdir \"$1\" 2>/dev/null; then")
        .raw(write_owner.as_sent())
        // A lock without an owner would block every deploy: give it back.
        .raw("|| { rm -rf \"$1\"; exit 1; }; else")
        .raw(&format!("echo '{HELD_MARKER}';"))
        .raw("echo \"age=$(( $(date +%s) - $(stat -c %Y \"$1\" 2>/dev/null || date +%s) ))\";")
        .raw(&format!(
            "cat \"$1/owner\" 2>/dev/null; exit {HELD_STATUS}; fi; }}"
        ))
}

/// Like [`acquire`], but when the lock is free and `current` already is a
/// complete release of `commit`, the lock is not taken at all and
/// [`UNNEEDED`] is printed: a redeploy with nothing to do then costs a host
/// one command instead of two (lock, then unlock), and no process besides
/// the shell. Nothing is changed on such a host, so seeing the lock free
/// is enough: a deploy in progress elsewhere is still reported as holding
/// it. Sets `ferry_unneeded` and `ferry_current` (the release's id) for
/// [`crate::release::layout::probe_after_lock`].
///
/// Only for plans whose hosts do nothing else when their release is
/// current: a step before the upload, or a `certs` step, needs the lock.
pub fn acquire_unless_current(deploy_to: &str, owner: &LockOwner, commit: &str) -> Command {
    let check = Command::script("ferry_unneeded=0; set --")
        .arg(lock_dir(deploy_to))
        .arg(format!("{deploy_to}/current"))
        .arg(commit)
        .raw(concat!(
            "; if [ ! -d \"$1\" ] && [ -L \"$2\" ] && [ -e \"$2/.ferry-complete\" ]",
            " && [ ! -e \"$2/.ferry-failed\" ] && [ -f \"$2/REVISION\" ]",
            " && IFS= read -r ferry_rev < \"$2/REVISION\" && [ \"$ferry_rev\" = \"$3\" ] &&",
        ))
        .raw(&layout::current_id_into("\"$2\"", "ferry_current"))
        // `-ef`: `current` is that release under `releases/`.
        .raw(concat!(
            " && [ \"$2\" -ef \"${2%/current}/releases/$ferry_current\" ];",
            " then ferry_unneeded=1;"
        ))
        .raw(&format!("echo '{UNNEEDED}'; else"))
        .raw(acquire(deploy_to, owner).as_sent())
        .raw("; fi");
    Command::script("{").raw(check.as_sent()).raw("; }")
}

/// Printed by [`acquire_unless_current`] when it did not take the lock.
pub const UNNEEDED: &str = "::ferry-lock not taken: current is this commit";

/// Whether the output of [`acquire_unless_current`] says it did not take
/// the lock: the marker on a line of its own, before the probe's output.
pub fn unneeded(stdout: &str) -> bool {
    stdout
        .lines()
        .take_while(|line| !line.starts_with("::ferry-probe"))
        .any(|line| line == UNNEEDED)
}

/// Reads what [`acquire`] left: `Ok` when the lock is ours now. `this_host`
/// and `running` (is a pid alive on this controller: [`pid_running`]) decide
/// staleness, see [`is_stale`].
pub fn parse_acquire(
    output: &ExecOutput,
    this_host: &str,
    running: &dyn Fn(u32) -> bool,
) -> Result<(), LockError> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.success() {
        return Ok(());
    }
    let held = output.status == Some(HELD_STATUS) && stdout.lines().any(|line| line == HELD_MARKER);
    if !held {
        return Err(LockError::Failed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let after = stdout
        .split_once(&format!("{HELD_MARKER}\n"))
        .map_or("", |(_, rest)| rest);
    let (age, owner_text) = match after.split_once('\n') {
        Some((first, rest)) if first.starts_with("age=") => (
            first["age=".len()..]
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs),
            rest,
        ),
        _ => (None, after),
    };
    let holder = match LockOwner::parse(owner_text) {
        Some(owner) => Holder::Known(owner),
        None => Holder::Unreadable(owner_text.to_string()),
    };
    let stale = is_stale(&holder, age, this_host, running);
    Err(LockError::Held(Box::new(LockHeld { holder, age, stale })))
}

/// Whether a held lock is abandoned: taken from `this_host` by a pid that
/// is not `running` here; or older than [`STALE_AFTER`]; or without an
/// owner for more than a minute. A recycled pid makes a dead owner look
/// alive, which errs on the safe side (not stale).
pub fn is_stale(
    holder: &Holder,
    age: Option<Duration>,
    this_host: &str,
    running: &dyn Fn(u32) -> bool,
) -> Option<Stale> {
    match holder {
        Holder::Known(owner) if owner.host() == this_host && !running(owner.pid) => {
            return Some(Stale::DeadProcess { pid: owner.pid });
        }
        Holder::Unreadable(_) => {
            if let Some(age) = age.filter(|age| *age > OWNERLESS_STALE_AFTER) {
                return Some(Stale::Ownerless { age });
            }
        }
        Holder::Known(_) => {}
    }
    age.filter(|age| *age > STALE_AFTER)
        .map(|age| Stale::Old { age })
}

/// Whether process `pid` runs on this (Linux) controller.
pub fn pid_running(pid: u32) -> bool {
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// What [`release`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Released {
    /// It was ours and is gone.
    Released,
    /// There was no lock.
    NotHeld,
    /// Someone else holds it (after `ferry unlock` and a new deploy): left alone.
    HeldByOther(Holder),
}

/// Removes the lock only if its `owner` is still exactly `owner`'s text.
/// Prints `released`, `absent`, or `other` and the owner file; exits 0 in
/// all three cases. The check and the removal are two steps: only a
/// `ferry unlock` followed by a new deploy's `mkdir` between them could
/// slip in, and both are deliberate human acts.
pub fn release(deploy_to: &str, owner: &LockOwner) -> Command {
    // The owner file is read by the shell itself (no `cat` process), a
    // line at a time, each ended by a newline as `to_text` ends them.
    Command::new("set")
        .arg("--")
        .arg(lock_dir(deploy_to))
        .arg(owner.to_text())
        .raw(
            "; if [ ! -d \"$1\" ]; then echo absent; else ferry_owner=;\
             if [ -f \"$1/owner\" ]; then while IFS= read -r l || [ -n \"$l\" ]; do \
             ferry_owner=\"$ferry_owner$l\n\"; done < \"$1/owner\"; fi;\
             if [ \"$ferry_owner\" = \"$2\" ]; then rm -rf \"$1\" && echo released; \
             else echo other; printf '%s' \"$ferry_owner\"; fi; fi",
        )
}

/// Reads [`release`]'s output.
pub fn parse_release(output: &ExecOutput) -> Result<Released, LockError> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failed = || LockError::Failed {
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    };
    if !output.success() {
        return Err(failed());
    }
    let (first, rest) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    match first {
        "released" => Ok(Released::Released),
        "absent" => Ok(Released::NotHeld),
        "other" => Ok(Released::HeldByOther(holder_of(rest))),
        _ => Err(failed()),
    }
}

/// Removes the lock whoever holds it (`ferry unlock`), printing `held` and
/// the owner file first, or `absent`.
pub fn force_release(deploy_to: &str) -> Command {
    Command::new("set").arg("--").arg(lock_dir(deploy_to)).raw(
        "; if [ -d \"$1\" ]; then echo held; cat \"$1/owner\" 2>/dev/null; \
         rm -rf \"$1\"; else echo absent; fi",
    )
}

/// Whose lock [`force_release`] removed; `None` when there was none.
pub fn parse_force_release(output: &ExecOutput) -> Result<Option<Holder>, LockError> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (first, rest) = stdout.split_once('\n').unwrap_or((&stdout, ""));
    match first {
        _ if !output.success() => Err(LockError::Failed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }),
        "held" => Ok(Some(holder_of(rest))),
        _ => Ok(None),
    }
}

fn holder_of(text: &str) -> Holder {
    LockOwner::parse(text).map_or_else(|| Holder::Unreadable(text.to_string()), Holder::Known)
}

fn this_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The controller's host name, as recorded in lock owners.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> LockOwner {
        LockOwner {
            who: "alice@laptop".into(),
            pid: 4242,
            time: "2026-11-24T10:40:00Z".into(),
            rev: Some("1a2b3c4".into()),
            release: "20261124104000-1a2b3c4".into(),
        }
    }

    fn out(status: u32, stdout: &str) -> ExecOutput {
        ExecOutput {
            status: Some(status),
            stdout: stdout.as_bytes().to_vec(),
            ..ExecOutput::default()
        }
    }

    #[test]
    fn owner_round_trips_and_keeps_to_one_line_per_key() {
        let mut o = owner();
        assert_eq!(LockOwner::parse(&o.to_text()), Some(o.clone()));
        o.rev = Some("evil\nwho=mallory@x".into());
        let parsed = LockOwner::parse(&o.to_text()).unwrap();
        assert_eq!(parsed.who, "alice@laptop");
        assert_eq!(o.host(), "laptop");
    }

    #[test]
    fn acquired_when_the_command_succeeds() {
        assert_eq!(parse_acquire(&out(0, ""), "laptop", &|_| true), Ok(()));
    }

    #[test]
    fn held_lock_names_its_owner_and_age() {
        let text = format!("{HELD_MARKER}\nage=90\n{}", owner().to_text());
        let err = parse_acquire(&out(HELD_STATUS, &text), "other-host", &|_| false);
        let Err(LockError::Held(held)) = err else {
            panic!("{err:?}")
        };
        assert_eq!(held.holder, Holder::Known(owner()));
        assert_eq!(held.age, Some(Duration::from_secs(90)));
        assert_eq!(held.stale, None);
        let message = held.to_string();
        assert!(message.contains("`alice@laptop` (pid 4242)"), "{message}");
        assert!(!message.contains("ferry unlock"), "{message}");
    }

    #[test]
    fn lock_of_a_dead_process_on_this_controller_is_stale() {
        let text = format!("{HELD_MARKER}\nage=5\n{}", owner().to_text());
        let err = parse_acquire(&out(HELD_STATUS, &text), "laptop", &|_| false).unwrap_err();
        let LockError::Held(held) = err else { panic!() };
        assert_eq!(held.stale, Some(Stale::DeadProcess { pid: 4242 }));
        assert!(held.to_string().contains("`ferry unlock STAGE`"));
        let alive = parse_acquire(&out(HELD_STATUS, &text), "laptop", &|_| true).unwrap_err();
        assert!(matches!(
            alive,
            LockError::Held(held) if held.stale.is_none()
        ));
    }

    #[test]
    fn old_lock_is_stale_from_any_controller() {
        let age = STALE_AFTER.as_secs() + 1;
        let text = format!("{HELD_MARKER}\nage={age}\n{}", owner().to_text());
        let err = parse_acquire(&out(HELD_STATUS, &text), "elsewhere", &|_| true).unwrap_err();
        assert!(matches!(
            err,
            LockError::Held(held) if matches!(held.stale, Some(Stale::Old { .. }))
        ));
    }

    #[test]
    fn ownerless_lock_is_stale_after_a_minute_only() {
        let young = out(HELD_STATUS, &format!("{HELD_MARKER}\nage=2\n"));
        let old = out(HELD_STATUS, &format!("{HELD_MARKER}\nage=600\n"));
        let stale = |o: &ExecOutput| match parse_acquire(o, "h", &|_| true) {
            Err(LockError::Held(held)) => held.stale,
            other => panic!("{other:?}"),
        };
        assert_eq!(stale(&young), None);
        assert!(matches!(stale(&old), Some(Stale::Ownerless { .. })));
    }

    #[test]
    fn other_failures_are_not_a_held_lock() {
        let mut output = out(1, "");
        output.stderr = b"mkdir: cannot create directory: Permission denied\n".to_vec();
        let err = parse_acquire(&output, "h", &|_| true).unwrap_err();
        assert!(matches!(
            err,
            LockError::Failed {
                status: Some(1),
                ..
            }
        ));
        // Status 75 from something else than the held branch.
        assert!(matches!(
            parse_acquire(&out(HELD_STATUS, "x\n"), "h", &|_| true),
            Err(LockError::Failed { .. })
        ));
    }

    #[test]
    fn release_outputs() {
        assert_eq!(parse_release(&out(0, "released\n")), Ok(Released::Released));
        assert_eq!(parse_release(&out(0, "absent\n")), Ok(Released::NotHeld));
        assert_eq!(
            parse_release(&out(0, &format!("other\n{}", owner().to_text()))),
            Ok(Released::HeldByOther(Holder::Known(owner())))
        );
        assert!(parse_release(&out(1, "")).is_err());
    }

    #[test]
    fn force_release_outputs() {
        assert_eq!(parse_force_release(&out(0, "absent\n")), Ok(None));
        assert_eq!(
            parse_force_release(&out(0, "held\n")),
            Ok(Some(Holder::Unreadable(String::new())))
        );
        assert_eq!(
            parse_force_release(&out(0, &format!("held\n{}", owner().to_text()))),
            Ok(Some(Holder::Known(owner())))
        );
    }

    #[test]
    fn commands_quote_the_deploy_path() {
        let cmd = acquire("/srv/my app", &owner()).to_string();
        assert!(
            cmd.starts_with(
                "set -- '/srv/my app/.ferry/lock' ; { [ -d \"${1%/*}\" ] || mkdir -p \"${1%/*}\"; } && { if mkdir \"$1\""
            ),
            "{cmd}"
        );
        let cmd = force_release("/srv/$(x)").to_string();
        assert!(cmd.starts_with("set -- '/srv/$(x)/.ferry/lock' ;"), "{cmd}");
    }
}
