//! What is on a host under `deploy_to`, read in one round trip ([`probe`]),
//! and the choices made from it: the rollback target ([`previous`]) and the
//! releases to delete ([`cleanup`]). Everything after the probe is pure.
//!
//! ```text
//! {deploy_to}/releases/<id>/                    the commit's tree, REVISION, .ferry-manifest,
//!                                               .ferry-complete | .ferry-failed, shared links,
//!                                               and what the release's own build steps wrote
//! {deploy_to}/shared/                           symlinked into each release
//! {deploy_to}/current -> releases/<id>
//! {deploy_to}/.ferry/lock/owner, .ferry/history.log
//! ```

use crate::shell::Command;

/// Marker written once every pre-switch step passed.
pub const COMPLETE_MARKER: &str = ".ferry-complete";
/// Marker written when a release failed.
pub const FAILED_MARKER: &str = ".ferry-failed";
/// The file manifest the controller wrote for the release.
pub const MANIFEST: &str = ".ferry-manifest";
/// The deployed commit.
pub const REVISION: &str = "REVISION";

/// The names ferry writes at the top of a release: never taken from a
/// previous release, and refused in a commit (see
/// [`super::check::check_release_paths`]).
pub const OWN_NAMES: &[&str] = &[
    REVISION,
    MANIFEST,
    COMPLETE_MARKER,
    FAILED_MARKER,
    super::remote::MIGRATIONS_FILE,
    super::seed::SEED_FILE,
];

/// First line of the probe's output; anything a login script printed
/// before it is ignored.
const HEADER: &str = "::ferry-probe 1";

/// Whether `name` can be a release directory name: letters, digits, `.`,
/// `_`, `-`, not starting with `.`. Anything else under `releases/` is not
/// ferry's and is never listed, switched to or removed.
pub fn is_release_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// A release's state, from its markers. Failed wins over complete: a
/// release that passed and was later judged bad is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseState {
    Complete,
    Failed,
    /// Neither marker: being prepared, or left by a run that died.
    Incomplete,
}

/// One directory under `releases/`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseInfo {
    pub id: String,
    pub state: ReleaseState,
    /// First line of its `REVISION`, if any.
    pub commit: Option<String>,
}

/// What [`probe`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HostState {
    /// Whether `deploy_to` exists at all.
    pub exists: bool,
    /// The release id `current` points at.
    pub current: Option<String>,
    /// Sorted by id, which sorts by time.
    pub releases: Vec<ReleaseInfo>,
    /// The current release's `.ferry-manifest`.
    pub current_manifest: Option<String>,
    /// Free space on the file system of `deploy_to` (or of its nearest
    /// existing parent), in KiB.
    pub free_kb: Option<u64>,
}

impl HostState {
    pub fn release(&self, id: &str) -> Option<&ReleaseInfo> {
        self.releases.iter().find(|r| r.id == id)
    }
}

/// The probe's output did not read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the probe printed no `{HEADER}` line: is the login shell POSIX?")]
    NoHeader,
    #[error("unexpected line {line} in the probe's output: `{text}`")]
    Malformed { line: usize, text: String },
    #[error("the current release's manifest was cut short ({got} of {expected} bytes)")]
    Truncated { expected: usize, got: usize },
}

/// One round trip that prints, after a header line: `exists yes|no`,
/// `current <link target>` if the link exists, `release <state> <id>
/// <revision>` per release, `df <df -Pk line>`, and last, so that its
/// content needs no escaping, `manifest <bytes>` and the manifest.
pub fn probe(deploy_to: &str) -> Command {
    probe_then(deploy_to, READ_CURRENT, "")
}

/// Shell that sets `var` to the last part of the directory `link` (a shell
/// word, e.g. `"$2"`) resolves to — the id of the release `current` points
/// at — without a `readlink` process: `cd -P` resolves the link and `PWD`
/// names it. Fails, quietly, when the link leads nowhere.
pub fn current_id_into(link: &str, var: &str) -> String {
    format!("{{ cd -P -- {link} 2>/dev/null && {var}=${{PWD##*/}} && cd \"$OLDPWD\"; }}")
}

/// Prints `current <link target>`.
const READ_CURRENT: &str =
    "if [ -L \"$1/current\" ]; then printf 'current %s\\n' \"$(readlink \"$1/current\")\"; fi;";

/// [`probe`] after [`crate::release::lock::acquire_unless_current`]: when
/// that found the lock unneeded (the current release is the one being
/// deployed), the free space and the manifest, which only an upload needs,
/// are not read, and the current release's id is the one it found — four
/// processes fewer on the host.
pub fn probe_after_lock(deploy_to: &str) -> Command {
    probe_then(
        deploy_to,
        &format!(
            "if [ \"$ferry_unneeded\" = 1 ]; then printf 'current releases/%s\\n' \"$ferry_current\"; else {READ_CURRENT} fi;"
        ),
        "[ \"$ferry_unneeded\" = 1 ] ||",
    )
}

/// The probe: `read_current` prints the `current` line, and `guard` goes
/// before the part that only an upload needs.
fn probe_then(deploy_to: &str, read_current: &str, guard: &str) -> Command {
    Command::new("set")
        .arg("--")
        .arg(deploy_to)
        .raw(concat!(
            "; echo '::ferry-probe 1';",
            " if [ -d \"$1\" ]; then echo 'exists yes'; else echo 'exists no'; fi;",
        ))
        .raw(read_current)
        .raw(concat!(
            "for r in \"$1\"/releases/*; do [ -d \"$r\" ] || continue; id=${r##*/};",
            " case $id in *[!A-Za-z0-9._-]*) continue;; esac;",
            " if [ -e \"$r/.ferry-failed\" ]; then s=failed;",
            " elif [ -e \"$r/.ferry-complete\" ]; then s=complete; else s=incomplete; fi;",
            " rev=; if [ -f \"$r/REVISION\" ]; then IFS= read -r rev < \"$r/REVISION\" || :; fi;",
            " printf 'release %s %s %s\\n' \"$s\" \"$id\" \"$rev\"; done;",
        ))
        .raw(guard)
        .raw(concat!(
            "{ p=$1; while [ ! -e \"$p\" ] && [ \"$p\" != / ] && [ \"$p\" != . ]; do p=$(dirname \"$p\"); done;",
            " df -Pk \"$p\" 2>/dev/null | { read -r _ && read -r l && echo \"df $l\"; };",
            " m=\"$1/current/.ferry-manifest\";",
            " if [ -L \"$1/current\" ] && [ -f \"$m\" ]; then printf 'manifest %s\\n' \"$(wc -c < \"$m\")\"; cat \"$m\"; fi; }"
        ))
}

/// Reads [`probe`]'s output.
pub fn parse_probe(stdout: &str) -> Result<HostState, ProbeError> {
    let start = stdout
        .match_indices(HEADER)
        .find(|(at, _)| *at == 0 || stdout.as_bytes()[at - 1] == b'\n')
        .map(|(at, _)| at)
        .ok_or(ProbeError::NoHeader)?;
    let mut rest = &stdout[start..];
    let mut state = HostState::default();
    let mut number = 0;
    while let Some((line, after)) = rest.split_once('\n') {
        rest = after;
        number += 1;
        let malformed = || ProbeError::Malformed {
            line: number,
            text: line.to_string(),
        };
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            _ if line == HEADER => {}
            "exists" => state.exists = value == "yes",
            "current" => {
                let target = value.trim_end_matches('/');
                let id = target.rsplit('/').next().unwrap_or(target);
                state.current = Some(id.to_string()).filter(|id| !id.is_empty());
            }
            "release" => {
                let mut parts = value.splitn(3, ' ');
                let state_word = parts.next().unwrap_or_default();
                let id = parts.next().filter(|id| is_release_name(id));
                let commit = parts.next().unwrap_or_default().trim();
                let release_state = match state_word {
                    "complete" => ReleaseState::Complete,
                    "failed" => ReleaseState::Failed,
                    "incomplete" => ReleaseState::Incomplete,
                    _ => return Err(malformed()),
                };
                state.releases.push(ReleaseInfo {
                    id: id.ok_or_else(malformed)?.to_string(),
                    state: release_state,
                    commit: Some(commit.to_string()).filter(|c| !c.is_empty()),
                });
            }
            // Filesystem 1024-blocks Used Available Capacity Mounted-on
            "df" => state.free_kb = value.split_whitespace().nth(3).and_then(|n| n.parse().ok()),
            "manifest" => {
                let expected: usize = value.trim().parse().map_err(|_| malformed())?;
                let manifest = rest.get(..expected).ok_or(ProbeError::Truncated {
                    expected,
                    got: rest.len(),
                })?;
                state.current_manifest = Some(manifest.to_string());
                break;
            }
            _ => return Err(malformed()),
        }
    }
    state.releases.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(state)
}

/// The rollback target: the newest complete release older than `current`,
/// skipping failed and incomplete ones. `None` without a current release.
pub fn previous(state: &HostState) -> Option<&ReleaseInfo> {
    let current = state.current.as_deref()?;
    state
        .releases
        .iter()
        .rev()
        .find(|r| r.id.as_str() < current && r.state == ReleaseState::Complete)
}

/// The releases to delete, oldest first: complete ones beyond the newest
/// `keep`, and failed leftovers; never `current`, never [`previous`] (so
/// a rollback target always survives, even with `keep` at 0 or 1).
///
/// Incomplete releases are removed only when older than `current`. One
/// newer than `current` is what a deploy in progress looks like; the lock
/// keeps a second deploy out while cleanup runs (cleanup runs before
/// unlocking), so such a release is normally a leftover, but keeping it
/// costs only one deploy's delay: once the next deploy switches, it is
/// older than `current` and goes. Without a `current`, nothing was ever
/// switched to, and every incomplete release is a leftover.
pub fn cleanup(state: &HostState, keep: usize) -> Vec<String> {
    let current = state.current.as_deref();
    let protected = |id: &str| Some(id) == current || previous(state).is_some_and(|p| p.id == id);
    let kept_complete: Vec<&str> = state
        .releases
        .iter()
        .rev()
        .filter(|r| r.state == ReleaseState::Complete)
        .take(keep)
        .map(|r| r.id.as_str())
        .collect();
    state
        .releases
        .iter()
        .filter(|r| !protected(&r.id))
        .filter(|r| match r.state {
            ReleaseState::Complete => !kept_complete.contains(&r.id.as_str()),
            ReleaseState::Failed => true,
            ReleaseState::Incomplete => current.is_none_or(|current| r.id.as_str() < current),
        })
        .map(|r| r.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReleaseState::*;

    fn state(current: Option<&str>, releases: &[(&str, ReleaseState)]) -> HostState {
        HostState {
            exists: true,
            current: current.map(str::to_string),
            releases: releases
                .iter()
                .map(|(id, state)| ReleaseInfo {
                    id: id.to_string(),
                    state: *state,
                    commit: None,
                })
                .collect(),
            ..HostState::default()
        }
    }

    #[test]
    fn parses_a_missing_deploy_dir() {
        let out = "::ferry-probe 1\nexists no\ndf /dev/vda 100 50 4242 50% /\n";
        let parsed = parse_probe(out).unwrap();
        assert_eq!(
            parsed,
            HostState {
                exists: false,
                free_kb: Some(4242),
                ..HostState::default()
            }
        );
    }

    #[test]
    fn parses_releases_current_and_manifest() {
        let manifest = "a.py 0644 abc\nrelease x\n::ferry-probe 1\n";
        let out = format!(
            "motd noise\n::ferry-probe 1\nexists yes\ncurrent /srv/app/releases/002-b/\n\
             release incomplete 003-c \nrelease complete 002-b 2b2b two words\n\
             release failed 001-a 1a1a\ndf fs 10 5 77 50% /srv\nmanifest {}\n{manifest}",
            manifest.len()
        );
        let parsed = parse_probe(&out).unwrap();
        assert_eq!(parsed.current.as_deref(), Some("002-b"));
        let ids: Vec<_> = parsed.releases.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["001-a", "002-b", "003-c"]);
        assert_eq!(parsed.releases[1].commit.as_deref(), Some("2b2b two words"));
        assert_eq!(parsed.releases[2].commit, None);
        assert_eq!(parsed.releases[0].state, Failed);
        assert_eq!(parsed.current_manifest.as_deref(), Some(manifest));
        assert_eq!(parsed.free_kb, Some(77));
    }

    #[test]
    fn relative_current_link_and_errors() {
        let parsed = parse_probe("::ferry-probe 1\nexists yes\ncurrent releases/x\n").unwrap();
        assert_eq!(parsed.current.as_deref(), Some("x"));
        assert_eq!(parse_probe("exists yes\n"), Err(ProbeError::NoHeader));
        assert!(matches!(
            parse_probe("::ferry-probe 1\nwhat\n"),
            Err(ProbeError::Malformed { line: 2, .. })
        ));
        assert!(matches!(
            parse_probe("::ferry-probe 1\nmanifest 10\nabc"),
            Err(ProbeError::Truncated {
                expected: 10,
                got: 3
            })
        ));
    }

    #[test]
    fn previous_skips_failed_and_incomplete() {
        let s = state(
            Some("4"),
            &[
                ("1", Complete),
                ("2", Failed),
                ("3", Incomplete),
                ("4", Complete),
            ],
        );
        assert_eq!(previous(&s).map(|r| r.id.as_str()), Some("1"));
        assert_eq!(previous(&state(Some("1"), &[("1", Complete)])), None);
        assert_eq!(previous(&state(None, &[("1", Complete)])), None);
        // After a rollback, a newer complete release is not "previous".
        let s = state(
            Some("2"),
            &[("1", Complete), ("2", Complete), ("3", Complete)],
        );
        assert_eq!(previous(&s).map(|r| r.id.as_str()), Some("1"));
    }

    #[test]
    fn cleanup_keeps_newest_complete_current_and_previous() {
        let s = state(
            Some("5"),
            &[
                ("1", Complete),
                ("2", Complete),
                ("3", Complete),
                ("4", Complete),
                ("5", Complete),
            ],
        );
        assert_eq!(cleanup(&s, 3), ["1", "2"]);
        // keep=1 still keeps the rollback target.
        assert_eq!(cleanup(&s, 1), ["1", "2", "3"]);
        assert_eq!(cleanup(&s, 0), ["1", "2", "3"]);
    }

    #[test]
    fn cleanup_never_removes_current_or_previous_even_when_old() {
        // Rolled back to 2: 3 and 4 are newer and complete.
        let s = state(
            Some("2"),
            &[
                ("1", Complete),
                ("2", Complete),
                ("3", Complete),
                ("4", Complete),
            ],
        );
        let removed = cleanup(&s, 1);
        assert_eq!(removed, ["3"]);
        assert!(!removed.contains(&"1".to_string()) && !removed.contains(&"2".to_string()));
    }

    #[test]
    fn cleanup_removes_failed_and_old_incomplete_leftovers() {
        let s = state(
            Some("4"),
            &[
                ("1", Complete),
                ("2", Failed),
                ("3", Incomplete),
                ("4", Complete),
                ("5", Failed),
                ("6", Incomplete),
            ],
        );
        // 6 is newer than current: maybe a deploy in progress, kept.
        assert_eq!(cleanup(&s, 5), ["2", "3", "5"]);
        // keep=1: 1 is previous, kept anyway.
        assert_eq!(cleanup(&s, 1), ["2", "3", "5"]);
    }

    #[test]
    fn cleanup_without_current_removes_every_leftover() {
        let s = state(None, &[("1", Failed), ("2", Incomplete)]);
        assert_eq!(cleanup(&s, 1), ["1", "2"]);
        assert!(cleanup(&HostState::default(), 1).is_empty());
    }

    #[test]
    fn release_names() {
        assert!(is_release_name("20261124101500-1a2b3c4"));
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", "a\nb"] {
            assert!(!is_release_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn probe_quotes_the_path() {
        assert!(
            probe("/srv/it's")
                .to_string()
                .starts_with("set -- '/srv/it'\"'\"'s' ;")
        );
    }
}
