//! The release lifecycle inside a run: lock, probe, upload, the switch
//! barrier, rollback, cleanup, unlock.
//!
//! `ferry deploy` runs a plan like any other, but its release steps are
//! carried out here, with state shared by the hosts of a play: every host
//! prepares its new release at its own pace, and no host switches `current`
//! until every host is prepared (or the failures are within
//! `max_fail_percentage`). A failure before the switch leaves every host on
//! the release it had; a failure after it switches the hosts back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::Semaphore;

use super::event::Status;
use super::rendezvous::{Arrival, Decision, Rendezvous};
use super::shutdown::Shutdown;
use super::step::StepOutcome;
use super::turns::Turns;
use crate::modules::ReleaseStep;
use crate::release::layout::{self, HostState};
use crate::release::lock::{self, LockOwner};
use crate::release::remote::{self, HistoryLine};
use crate::release::{Manifest, SEED_UNUSABLE, Seed, Source};
use crate::shell::Command;
use crate::transport::{ExecOutput, Session};

/// What a deploy needs besides the plan.
pub struct DeployOptions {
    /// The tree of the revision being deployed.
    pub source: Source,
    /// The release id chosen once for every host.
    pub release_id: String,
    /// Redeploy even when a host's current release has this commit.
    pub force: bool,
    /// Who holds the locks this deploy takes.
    pub owner: LockOwner,
}

/// A host's release state during a deploy.
#[derive(Debug, Clone)]
pub struct HostRelease {
    pub deploy_to: String,
    /// What the host had when the deploy started.
    pub before: HostState,
    /// Its current release already has this commit: nothing to do.
    pub unchanged: bool,
    /// This deploy holds the host's lock (and gives it back at the end).
    pub locked: bool,
    /// The new release directory exists on the host.
    pub created: bool,
    /// `current` points at the new release.
    pub switched: bool,
    /// The connection was lost during or after the switch: which release
    /// `current` points at is not known.
    pub unverified: bool,
    /// Prepared, but not switched because other hosts failed.
    pub held_back: bool,
    /// Switched, passed its own steps, and went back because another host
    /// failed after the switch.
    pub rolled_back: bool,
    /// Bytes of file content sent to the host.
    pub sent_bytes: u64,
    /// Set when nothing after this host's switch can need its lock: the
    /// switch's command then also cleans up and unlocks.
    pub ends_at_switch: Option<EndsAtSwitch>,
    /// What the cleanup done with the switch removed, or why it failed.
    pub cleaned: Option<Result<Vec<String>, String>>,
}

impl HostRelease {
    /// Why a host whose connection was lost at or after the switch is not
    /// known to be on either release.
    pub fn unverified_why(&self, new_id: &str) -> String {
        format!(
            "unverified: the connection was lost during or after the switch, so `current` is `{}` or `{new_id}`; the next deploy brings it in line",
            self.before.current.as_deref().unwrap_or("nothing")
        )
    }
}

/// What a host's switch finishes when nothing after it can need the lock
/// (see [`super::host::ends_at_switch`]): the cleanup step that follows it,
/// if any, and the unlock, in the same command. The lock is held through
/// the cleanup, as always, and given back a round trip sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndsAtSwitch {
    /// The following `release.cleanup`'s `keep_releases`.
    pub keep_releases: Option<usize>,
}

/// Shared by the hosts of one batch.
pub struct Deploy<'a> {
    pub options: &'a DeployOptions,
    /// The barrier before the switch: every host of the batch with a
    /// `release.switch`, reachable or not.
    pub barrier: Rendezvous,
    /// After the switch: old releases are removed only once every host
    /// that switched has passed its steps after the switch.
    pub settled: Rendezvous,
    /// `serial:`: the batches switch in turns, after one barrier.
    turns: Option<Turns>,
    /// Bounds hosts at work, not hosts waiting at a meeting (`forks`).
    forks: &'a Semaphore,
    shutdown: &'a Shutdown,
    hosts: Mutex<HashMap<String, HostRelease>>,
    /// Compressed archives by the list of paths they hold: hosts on the
    /// same release need the same delta, built once.
    archives: Mutex<HashMap<Vec<String>, Arc<Vec<u8>>>>,
}

impl<'a> Deploy<'a> {
    /// The release lifecycle of one batch; `members` is how many of its
    /// hosts have a `release.switch` step.
    pub fn new(
        options: &'a DeployOptions,
        hosts: HashMap<String, HostRelease>,
        members: usize,
        max_fail_percentage: Option<u64>,
        turns: Option<Turns>,
        forks: &'a Semaphore,
        shutdown: &'a Shutdown,
    ) -> Deploy<'a> {
        Deploy {
            options,
            barrier: Rendezvous::new(members, max_fail_percentage),
            settled: Rendezvous::new(members, None),
            turns,
            forks,
            shutdown,
            hosts: Mutex::new(hosts),
            archives: Mutex::default(),
        }
    }

    /// The gzip-compressed tar of `paths` from the revision, made once per
    /// distinct set of paths.
    fn archive(&self, paths: &[String]) -> Result<Arc<Vec<u8>>, String> {
        let mut archives = self.archives.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(archive) = archives.get(paths) {
            return Ok(archive.clone());
        }
        // The default level, not the fastest: the archive is made once and
        // sent to every host, so its bytes count many times and its CPU once
        // (the benchmark's app: 41 KB at level 1, 16 KB at 6, ~10 ms more).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let source = &self.options.source;
        source
            .write_tar(Some(paths), &mut gz)
            .map_err(|e| e.to_string())?;
        // A second archive with the release's own files, so that one
        // command unpacks everything (tar reads on with --ignore-zeros).
        let mut own = tar::Builder::new(&mut gz);
        for (name, text) in [
            (layout::MANIFEST, source.manifest().to_text()),
            (layout::REVISION, format!("{}\n", source.commit())),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(jiff::Timestamp::now().as_second().max(0) as u64);
            header.set_cksum();
            own.append_data(&mut header, name, text.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        own.finish().map_err(|e| e.to_string())?;
        drop(own);
        let bytes = Arc::new(gz.finish().map_err(|e| e.to_string())?);
        archives.insert(paths.to_vec(), bytes.clone());
        Ok(bytes)
    }

    pub fn host(&self, name: &str) -> Option<HostRelease> {
        self.lock().get(name).cloned()
    }

    /// One fact of a host's state, without copying the rest (the probed
    /// releases and manifest): what every step of every host asks.
    pub fn host_is(&self, name: &str, f: impl FnOnce(&HostRelease) -> bool) -> bool {
        self.lock().get(name).is_some_and(f)
    }

    /// Records that `name` went back only because another host failed.
    pub fn mark_rolled_back(&self, name: &str) {
        self.update(name, |h| h.rolled_back = true);
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut HostRelease)) {
        if let Some(host) = self.lock().get_mut(name) {
            f(host);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HostRelease>> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every host's state, for the rollback phase and the summary.
    pub fn snapshot(&self) -> HashMap<String, HostRelease> {
        self.lock().clone()
    }
}

/// A release step on a host that was not locked and probed (it cannot
/// happen through `execute`, which probes every host with release steps).
fn no_state() -> StepOutcome {
    StepOutcome::failed("host has no release state (not locked and probed)")
}

/// Waits at a meeting of the batch's hosts. A host whose connection is
/// lost while it waits is withdrawn (it turns failed, if nothing is decided
/// yet); Ctrl-C decides, if nothing is decided yet, that no one goes on.
async fn wait_at(
    deploy: &Deploy<'_>,
    meeting: &Rendezvous,
    host: &str,
    session: &Session,
) -> Decision {
    let mut withdrawn = false;
    loop {
        tokio::select! {
            biased;
            decision = meeting.wait() => return decision,
            _ = deploy.shutdown.requested() => meeting.stop(),
            _ = tokio::time::sleep(LIVENESS_POLL), if !withdrawn => {
                if session.is_closed() {
                    withdrawn = true;
                    meeting.withdraw(host);
                }
            }
        }
    }
}

/// How often a waiting host looks at its connection (no round trip: the
/// transport's keepalives find a dead peer; this only reads the result).
const LIVENESS_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Bytes shared between hosts, readable through a `Cursor`.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Runs one command on a host, failing with its stderr.
async fn run(
    session: &Session,
    command: &Command,
    stdin: Option<Arc<Vec<u8>>>,
) -> Result<String, String> {
    let out = run_output(session, command, stdin).await?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`run`], keeping the whole output of a command that succeeded.
async fn run_output(
    session: &Session,
    command: &Command,
    stdin: Option<Arc<Vec<u8>>>,
) -> Result<ExecOutput, String> {
    // The archive is shared by every host that needs it: read, not copied.
    let stdin = stdin.map(|bytes| crate::transport::stdin_from(SharedBytes(bytes)));
    let out = session
        .exec(command.as_sent(), stdin, &mut |_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    if out.success() {
        Ok(out)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "exited with status {}: {}",
            out.status.map_or("?".to_string(), |s| s.to_string()),
            stderr.trim()
        ))
    }
}

/// The step's deploy variables (compiled into its arguments).
fn shared_paths(args: &Value, key: &str) -> Vec<String> {
    args[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// `release.upload`: a new release with the tree of the revision, seeded
/// from the current release so only changed files travel.
pub async fn upload(
    deploy: &Deploy<'_>,
    host: &str,
    session: &Session,
    args: &Value,
) -> StepOutcome {
    let Some(state) = deploy.host(host) else {
        return no_state();
    };
    let options = deploy.options;
    let commit = options.source.commit().to_string();
    if state.unchanged {
        return StepOutcome::new(
            Status::Ok,
            format!("current release already has commit {}", &commit[..7]),
        );
    }
    let new = options.source.manifest();
    let seed = state
        .before
        .current
        .as_ref()
        .zip(state.before.current_manifest.as_deref())
        .and_then(|(id, text)| Manifest::parse(text).ok().map(|m| (id.clone(), m)));
    let (seed_id, delta) = match &seed {
        Some((id, old)) => (Some(id.as_str()), new.delta(old)),
        None => (None, new.delta(&Manifest::default())),
    };
    let id = &options.release_id;
    let deploy_to = &state.deploy_to;
    let shared_files = shared_paths(args, "shared_files");
    let shared_dirs = shared_paths(args, "shared_dirs");
    let shared: Vec<String> = shared_files.iter().chain(&shared_dirs).cloned().collect();
    // The unchanged committed files come from the current release by hard
    // link; nothing else of it does (its build outputs, its markers).
    let mut seed = seed_id.and_then(|from| Seed::new(from, &delta.keep, &shared));
    let everything: Vec<String> = new.entries.iter().map(|e| e.path.clone()).collect();
    // Why the current release could not seed this one, once it could not.
    let mut unusable: Option<String> = None;
    // One round trip: make the release, unpack what changed with the
    // manifest and REVISION, link the unchanged files, link the shared
    // paths. A second only when the seed was unusable: then every file.
    // The id was checked to be new on this host when it was probed, so a
    // failure here leaves only this deploy's own, now failed, release.
    deploy.update(host, |h| h.created = true);
    let (sent, files) = loop {
        let paths = if unusable.is_some() {
            &everything
        } else {
            &delta.send
        };
        let from = seed.as_ref().map(Seed::from);
        let unpack = match remote::create(deploy_to, id, from, &shared_files, &shared_dirs) {
            Ok(command) => command,
            Err(bad) => return StepOutcome::failed(format!("refusing to deploy: {bad}")),
        };
        let tar = match deploy.archive(paths) {
            Ok(tar) => tar,
            Err(err) => {
                return StepOutcome::failed(format!("cannot read the revision's files: {err}"));
            }
        };
        let mut sent = tar.len() as u64;
        let stdin = match seed.as_ref().map(Seed::archive) {
            None => crate::transport::stdin_from(SharedBytes(tar)),
            Some(Ok(list)) => {
                sent += list.len() as u64;
                crate::release::stdin_then(tar, list)
            }
            Some(Err(err)) => return StepOutcome::failed(format!("cannot write the seed: {err}")),
        };
        let out = match session
            .exec(unpack.as_sent(), Some(stdin), &mut |_, _| {})
            .await
        {
            Ok(out) => out,
            Err(err) => return StepOutcome::failed(format!("cannot create release `{id}`: {err}")),
        };
        if out.success() {
            break (sent, paths.len());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if seed.is_some() && out.status == Some(SEED_UNUSABLE) {
            unusable = Some(stderr);
            seed = None;
            continue;
        }
        return StepOutcome::failed(format!(
            "cannot create release `{id}`: exited with status {}: {stderr}",
            out.status.map_or("?".to_string(), |s| s.to_string())
        ));
    };
    deploy.update(host, |h| h.sent_bytes = sent);
    let reused = match (&seed, &unusable) {
        (Some(seed), _) => format!("{} linked from `{}`", seed.paths().len(), seed.from()),
        (None, Some(why)) => format!(
            "none linked from `{}`, which differs from its manifest ({why})",
            seed_id.unwrap_or_default()
        ),
        (None, None) => "none linked".to_string(),
    };
    StepOutcome::new(
        Status::Changed,
        format!("release `{id}`: sent {files} file(s), {sent} bytes; {reused}"),
    )
}

/// What a release step would do on a host, from its probed state: the dry
/// run of `ferry deploy --dry-run` / `ferry plan`.
pub fn describe(deploy: &Deploy<'_>, host: &str, kind: ReleaseStep, args: &Value) -> StepOutcome {
    let Some(state) = deploy.host(host) else {
        return no_state();
    };
    let id = &deploy.options.release_id;
    if kind == ReleaseStep::Switch
        && let Some(why) = deploy.barrier.doomed()
    {
        return StepOutcome::failed(format!(
            "would not switch: {why} before the switch, so no host would switch"
        ));
    }
    if state.unchanged && kind != ReleaseStep::Cleanup {
        return StepOutcome::new(Status::Ok, "this release is already current");
    }
    let from = state
        .before
        .current
        .clone()
        .unwrap_or_else(|| "nothing".into());
    match kind {
        ReleaseStep::Upload => {
            let new = deploy.options.source.manifest();
            let old = state
                .before
                .current_manifest
                .as_deref()
                .and_then(|text| Manifest::parse(text).ok())
                .unwrap_or_default();
            let delta = new.delta(&old);
            let shared: Vec<String> = shared_paths(args, "shared_files")
                .into_iter()
                .chain(shared_paths(args, "shared_dirs"))
                .collect();
            let what = match &state.before.current {
                // As `upload` will: the unchanged committed files linked
                // (shared paths never are), if the current release still
                // matches its manifest when the deploy looks.
                Some(current) => format!(
                    "send {} file(s) ({} bytes), link {} unchanged from `{current}`",
                    delta.send.len(),
                    delta.send_bytes,
                    Seed::new(current, &delta.keep, &shared).map_or(0, |s| s.paths().len()),
                ),
                None => format!(
                    "send all {} files ({} bytes)",
                    delta.send.len(),
                    delta.send_bytes
                ),
            };
            StepOutcome::new(
                Status::Changed,
                format!("would create release `{id}`: {what}"),
            )
        }
        ReleaseStep::Switch => StepOutcome::new(
            Status::Changed,
            match &state.before.current {
                Some(_) => {
                    format!("would switch current: `{from}` → `{id}`, once every host is prepared")
                }
                None => format!(
                    "would point current at `{id}` (the first release), once every host is prepared"
                ),
            },
        ),
        ReleaseStep::Cleanup => {
            // What it would remove once the new release (if any) is current.
            let keep = args["keep_releases"].as_u64().unwrap_or(5) as usize;
            let future = HostRelease {
                created: !state.unchanged,
                ..state.clone()
            };
            let remove = layout::cleanup(&after_switch(deploy, &future, true), keep);
            if remove.is_empty() {
                StepOutcome::new(Status::Ok, format!("no more than {keep} releases to keep"))
            } else {
                StepOutcome::new(
                    Status::Changed,
                    format!("would remove {}", remove.join(", ")),
                )
            }
        }
    }
}

/// `release.switch`: the barrier, then the atomic switch.
pub async fn switch(deploy: &Deploy<'_>, host: &str, session: &Session) -> StepOutcome {
    let Some(state) = deploy.host(host) else {
        deploy.barrier.arrive(host, Arrival::Failed);
        return no_state();
    };
    deploy.barrier.arrive(host, Arrival::Ready);
    let decision = wait_at(deploy, &deploy.barrier, host, session).await;
    let id = &deploy.options.release_id;
    if !decision.proceed {
        let own = decision.failed.iter().any(|h| h == host);
        deploy.update(host, |h| h.held_back = !own);
        let _permit = deploy.forks.acquire().await.expect("never closed");
        mark_failed(deploy, host, session).await;
        return StepOutcome::failed(format!(
            "not switched: {} before the switch, so no host switched",
            decision.why_not()
        ));
    }
    if let Some(turns) = &deploy.turns {
        // Ctrl-C while a batch waits its turn: it does not switch (and
        // the batches that did are rolled back: the fleet ends alike).
        let turn = tokio::select! {
            turn = turns.wait(host) => turn.map_err(|failed| {
                format!("`{failed}` failed after its switch in an earlier batch")
            }),
            _ = deploy.shutdown.requested() => Err("the run was stopped".to_string()),
        };
        if let Err(why) = turn {
            deploy.update(host, |h| h.held_back = true);
            let _permit = deploy.forks.acquire().await.expect("never closed");
            mark_failed(deploy, host, session).await;
            return StepOutcome::failed(format!("not switched: {why}"));
        }
    }
    if state.unchanged {
        return StepOutcome::new(
            Status::Ok,
            format!(
                "`current` is `{}`, a complete release of this commit",
                state.before.current.as_deref().unwrap_or("?")
            ),
        );
    }
    let _permit = deploy.forks.acquire().await.expect("never closed");
    let deploy_to = &state.deploy_to;
    // One round trip: complete, switch, and record it (a history line that
    // cannot be written does not undo the switch); when nothing after the
    // switch can need the lock, clean up and unlock too.
    let line = history_line(deploy, "deploy", state.before.current.clone(), id);
    let mut switch = remote::mark_complete(deploy_to, id)
        .and(remote::switch(deploy_to, id))
        .raw("&& {")
        .raw(remote::history(deploy_to, &line).as_sent())
        .raw("|| true; }");
    let ends = state.ends_at_switch.filter(|_| state.locked);
    let remove = ends
        .and_then(|e| e.keep_releases)
        .map(|keep| layout::cleanup(&after_switch(deploy, &state, true), keep));
    if let Some(ids) = remove.as_ref().filter(|ids| !ids.is_empty()) {
        switch = switch
            .raw("&& { {")
            .raw(remote::remove(deploy_to, ids).as_sent())
            .raw(&format!("; }} && echo '{CLEANED}' || true; }}"));
    }
    if ends.is_some() {
        switch = switch
            .raw("&& {")
            .raw(lock::release(deploy_to, &deploy.options.owner).as_sent())
            .raw("; }");
    }
    let out = match run_output(session, &switch, None).await {
        Ok(out) => out,
        Err(err) if session.is_closed() => {
            // The command may or may not have run: `current` is unknown.
            deploy.update(host, |h| h.unverified = true);
            return StepOutcome::failed(format!("{}: {err}", state.unverified_why(id)));
        }
        Err(err) => return StepOutcome::failed(format!("cannot switch to release `{id}`: {err}")),
    };
    let cleaned = remove.map(|ids| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        if ids.is_empty() || stdout.lines().any(|l| l == CLEANED) {
            Ok(ids)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    });
    deploy.update(host, |h| {
        h.switched = true;
        h.locked &= ends.is_none();
        h.cleaned = cleaned;
    });
    let from = state.before.current.unwrap_or_else(|| "nothing".into());
    StepOutcome::new(Status::Changed, format!("current: `{from}` → `{id}`"))
}

/// Printed by a switch that removed the old releases it was given.
const CLEANED: &str = "::ferry-cleaned";

/// What a host has after this deploy: what it had, plus the new release —
/// complete and `current` when it `switched`, failed when not. The lock
/// keeps anyone else out, so no second probe.
fn after_switch(deploy: &Deploy<'_>, state: &HostRelease, switched: bool) -> HostState {
    let mut now = state.before.clone();
    if state.created {
        let id = deploy.options.release_id.clone();
        now.releases.push(layout::ReleaseInfo {
            id: id.clone(),
            state: if switched {
                layout::ReleaseState::Complete
            } else {
                layout::ReleaseState::Failed
            },
            commit: Some(deploy.options.source.commit().to_string()),
        });
        now.releases.sort_by(|a, b| a.id.cmp(&b.id));
        if switched {
            now.current = Some(id);
        }
    }
    now
}

/// A host that stops before the switch: it still passes the barrier (as
/// failed, so the others do not wait for it, and do not switch without
/// it), and its new release, if it made one, is marked failed.
pub async fn stopped_before_switch(deploy: &Deploy<'_>, host: &str, session: &Session) {
    deploy.barrier.arrive(host, Arrival::Failed);
    deploy.settled.arrive(host, Arrival::Absent);
    if let Some(turns) = &deploy.turns {
        turns.done(host, false);
    }
    if !session.is_closed() {
        mark_failed(deploy, host, session).await;
    }
}

/// A host that ends its play without reaching `release.cleanup` still
/// passes the meeting after the switch: failed when a step after its
/// switch failed (no host then removes old releases: the batch rolls
/// back), absent otherwise.
pub fn leave_after_switch(deploy: &Deploy<'_>, host: &str, failed: bool) {
    let failed = failed && deploy.host_is(host, |h| h.switched || h.unverified);
    if let Some(turns) = &deploy.turns {
        turns.done(host, failed);
    }
    let how = if failed {
        Arrival::Failed
    } else {
        Arrival::Absent
    };
    deploy.settled.arrive(host, how);
}

async fn mark_failed(deploy: &Deploy<'_>, host: &str, session: &Session) {
    if let Some(state) = deploy.host(host)
        && state.created
    {
        let id = &deploy.options.release_id;
        let _ = run(session, &remote::mark_failed(&state.deploy_to, id), None).await;
    }
}

/// `release.cleanup`: removes old and failed releases, keeping the newest
/// `keep_releases` complete ones, `current` and the one before it — once
/// every host of the batch that switched has passed its steps after the
/// switch; if one failed there, the batch rolls back and nothing is removed
/// anywhere, so the failed release is in the same state on every host.
pub async fn cleanup(
    deploy: &Deploy<'_>,
    host: &str,
    session: &Session,
    args: &Value,
) -> StepOutcome {
    let Some(state) = deploy.host(host) else {
        deploy.settled.arrive(host, Arrival::Failed);
        return no_state();
    };
    deploy.settled.arrive(host, Arrival::Ready);
    if let Some(turns) = &deploy.turns {
        turns.done(host, false);
    }
    let decision = wait_at(deploy, &deploy.settled, host, session).await;
    if !decision.proceed {
        return StepOutcome::skipped(format!(
            "old releases kept: {} after the switch",
            decision.why_not()
        ));
    }
    let keep = args["keep_releases"].as_u64().unwrap_or(5) as usize;
    let _permit = deploy.forks.acquire().await.expect("never closed");
    let removed = match state.cleaned {
        // Done by the switch's command, under the same lock.
        Some(cleaned) => cleaned,
        None => {
            let remove = layout::cleanup(&after_switch(deploy, &state, state.switched), keep);
            if remove.is_empty() {
                Ok(remove)
            } else if !state.locked {
                // A host already on this commit, run without its lock
                // (nothing else in the play needed it): leave them.
                return StepOutcome::skipped(format!(
                    "{} old release(s) beyond `keep_releases` left: this run did not lock the host; the next deploy removes them",
                    remove.len()
                ));
            } else {
                run(session, &remote::remove(&state.deploy_to, &remove), None)
                    .await
                    .map(|_| remove)
            }
        }
    };
    match removed {
        Ok(removed) if removed.is_empty() => {
            StepOutcome::new(Status::Ok, format!("no more than {keep} releases to keep"))
        }
        Ok(removed) => StepOutcome::new(Status::Changed, format!("removed {}", removed.join(", "))),
        Err(err) => StepOutcome::failed(format!("cannot remove old releases: {err}")),
    }
}

/// Appends a line to the host's `.ferry/history.log`. A failure to record
/// does not undo what was done; it is not reported as a step failure.
async fn history(
    deploy: &Deploy<'_>,
    session: &Session,
    deploy_to: &str,
    action: &str,
    from: Option<String>,
    to: &str,
) {
    let line = history_line(deploy, action, from, to);
    let _ = run(session, &remote::history(deploy_to, &line), None).await;
}

/// A line for `.ferry/history.log`: now, who, what, from which release to which.
fn history_line(deploy: &Deploy<'_>, action: &str, from: Option<String>, to: &str) -> HistoryLine {
    HistoryLine {
        time: jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        user: deploy.options.owner.who.clone(),
        action: action.to_string(),
        from,
        to: Some(to.to_string()),
        rev: Some(deploy.options.source.commit().to_string()),
    }
}

/// Switches a host back to the release it had before this deploy. A host
/// whose lock was given back with its switch takes it again first.
pub async fn switch_back(
    deploy: &Deploy<'_>,
    host: &str,
    session: &Session,
) -> Result<String, String> {
    let state = deploy.host(host).ok_or("host has no release state")?;
    let Some(previous) = state.before.current.clone() else {
        return Err("it had no release before this deploy".to_string());
    };
    let switch = remote::switch(&state.deploy_to, &previous);
    let command = if state.locked {
        switch
    } else {
        lock::acquire(&state.deploy_to, &deploy.options.owner).and(switch)
    };
    if let Err(err) = run(session, &command, None).await {
        if session.is_closed() {
            deploy.update(host, |h| h.unverified = true);
            return Err(state.unverified_why(&deploy.options.release_id));
        }
        return Err(err);
    }
    deploy.update(host, |h| {
        h.switched = false;
        h.locked = true;
    });
    mark_failed(deploy, host, session).await;
    let id = Some(deploy.options.release_id.clone());
    history(deploy, session, &state.deploy_to, "rollback", id, &previous).await;
    Ok(previous)
}

/// How [`lock_and_probe`] treats the host's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locking {
    /// A dry run changes nothing, not even the lock.
    None,
    /// Hold it until the deploy ends.
    Hold,
    /// Hold it, unless the current release already has the commit (and
    /// the plan does nothing else then): then it is not taken at all.
    HoldUnlessCurrent,
}

/// Takes the deploy lock on a host (see [`Locking`]) and reads its
/// releases, in one round trip.
pub async fn lock_and_probe(
    options: &DeployOptions,
    session: &Session,
    deploy_to: &str,
    locking: Locking,
) -> Result<HostRelease, String> {
    let commit = options.source.commit();
    let command = match locking {
        Locking::None => layout::probe(deploy_to),
        Locking::Hold => lock::acquire(deploy_to, &options.owner).and(layout::probe(deploy_to)),
        Locking::HoldUnlessCurrent => {
            lock::acquire_unless_current(deploy_to, &options.owner, commit)
                .and(layout::probe_after_lock(deploy_to))
        }
    };
    let out = session
        .exec(command.as_sent(), None, &mut |_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    let take_lock = locking != Locking::None;
    if take_lock && out.status == Some(lock::HELD_STATUS) {
        lock::parse_acquire(&out, &lock::this_host(), &lock::pid_running)
            .map_err(|held| held.to_string())?;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let locked = take_lock && !(out.success() && lock::unneeded(&stdout));
    let probed = if out.success() {
        layout::parse_probe(&stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    let before = match probed {
        Ok(state) => state,
        Err(err) => {
            if locked {
                unlock(options, session, deploy_to).await;
            }
            return Err(format!("cannot read the releases in `{deploy_to}`: {err}"));
        }
    };
    let unchanged = !options.force
        && before.current.as_ref().is_some_and(|current| {
            before.releases.iter().any(|r| {
                &r.id == current
                    && r.state == layout::ReleaseState::Complete
                    && r.commit.as_deref() == Some(commit)
            })
        });
    if take_lock && !locked && !unchanged {
        // The shell followed `current` wherever it points; the probe reads
        // it as a release under `releases/`. They disagree only when
        // `current` was pointed elsewhere by hand.
        return Err(format!(
            "`{deploy_to}/current` has commit {} but is not a complete release under `releases/`",
            &commit[..7.min(commit.len())]
        ));
    }
    if !unchanged && before.release(&options.release_id).is_some() {
        if locked {
            unlock(options, session, deploy_to).await;
        }
        return Err(format!(
            "release `{}` already exists in `{deploy_to}`: deploys of one commit less than a second apart share an id; run it again",
            options.release_id
        ));
    }
    Ok(HostRelease {
        deploy_to: deploy_to.to_string(),
        before,
        unchanged,
        locked,
        created: false,
        switched: false,
        unverified: false,
        held_back: false,
        rolled_back: false,
        sent_bytes: 0,
        ends_at_switch: None,
        cleaned: None,
    })
}

/// Releases this deploy's lock on a host (only if it is still ours).
pub async fn unlock(options: &DeployOptions, session: &Session, deploy_to: &str) {
    let _ = run(session, &lock::release(deploy_to, &options.owner), None).await;
}
