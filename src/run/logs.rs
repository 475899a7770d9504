//! `ferry logs STAGE [PROCESS] [-f] [-n N]`: the app's process logs from
//! every host, each line prefixed with its host and process.
//!
//! Where the logs are is read on each host from what the deploy left
//! there (`logs.sh`): the systemd units procfile wrote for the release
//! directory's `current` (read with journalctl, whose entries carry their
//! time), and supervisor's program logs in `shared/log/` (plain files,
//! without one). History comes first, interleaved by time where the lines
//! have one; then, with `-f`, every host's new lines as they arrive, from
//! exactly where history ended, until Ctrl-C.

use std::path::Path;

use tokio::sync::mpsc;

use super::{ask_passphrases, compile_stage};
use crate::cli::{CompileArgs, LogsArgs};
use crate::error::Error;
use crate::plan::HostPlan;
use crate::shell::quote;
use crate::transport::ssh_config::SshConfig;
use crate::transport::{ConnectOptions, Session, Stream, Trust};

const SCRIPT: &str = include_str!("logs.sh");

/// One line of a log, from one host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    /// Microseconds since the epoch, for journal entries.
    time: Option<i64>,
    host: String,
    process: String,
    text: String,
}

/// What one host's history ended with: where to follow from.
#[derive(Debug, Default)]
struct HostState {
    /// The `C`/`P` lines to hand back to `logs.sh follow`.
    marks: Vec<String>,
    /// Unit name → process label (`flask-hello-web-1.service` → `web-1`).
    units: std::collections::HashMap<String, String>,
    pgid: Option<u32>,
}

pub(super) fn logs(dir: &Path, args: LogsArgs) -> Result<(), Error> {
    let compile = CompileArgs {
        limit: args.limit.clone(),
        ..CompileArgs::default()
    };
    let mut plan = compile_stage(dir, &args.stage, &compile, None)?;
    ask_passphrases(&mut plan)?;
    let mut seen = std::collections::HashSet::new();
    let hosts: Vec<(&HostPlan, String)> = plan
        .plays
        .iter()
        .flat_map(|p| &p.hosts)
        .filter_map(|h| h.deploy_to().map(|d| (h, d)))
        .filter(|(h, _)| seen.insert(h.host.clone()))
        .collect();
    if hosts.is_empty() {
        return Err(Error::Input(crate::diagnostic::Diagnostic::plain(format!(
            "stage `{}` has no host with release steps (`release.upload`) in deploy.yml: ferry finds an app's logs beside its releases",
            args.stage
        ))));
    }
    let ssh_config = SshConfig::load_user_default()
        .map_err(|e| Error::Input(crate::diagnostic::Diagnostic::plain(e.to_string())))?;
    let trust = Trust::user_default(Some(dir.join("known_hosts")).filter(|p| p.is_file()));
    let width = hosts.iter().map(|(h, _)| h.host.len()).max().unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::CannotStart(format!("cannot start the runtime: {e}")))?;
    let failed = runtime.block_on(async {
        let options = ConnectOptions::default();
        // Every host connects and reads its history at once.
        let reads = hosts.iter().map(|(host, deploy_to)| {
            let target = crate::executor::target(host, Some(&ssh_config));
            let (trust, options) = (&trust, &options);
            let process = args.process.clone().unwrap_or_default();
            async move {
                let session = Session::connect(&target, trust, options)
                    .await
                    .map_err(|e| format!("{}: {e}", host.host))?;
                let command = script(deploy_to, &process, args.lines, "history", &[]);
                let (records, state) = history(&session, &host.host, &command).await?;
                Ok::<_, String>((
                    session,
                    host.host.clone(),
                    deploy_to.clone(),
                    records,
                    state,
                ))
            }
        });
        let mut failed = false;
        let mut live = Vec::new();
        let mut all = Vec::new();
        for result in futures::future::join_all(reads).await {
            match result {
                Ok((session, host, deploy_to, records, state)) => {
                    all.extend(records);
                    live.push((session, host, deploy_to, state));
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    failed = true;
                }
            }
        }
        // Stable: lines without a time keep their host's file order.
        all.sort_by_key(|r| r.time);
        for record in &all {
            print_record(record, width);
        }
        if args.follow && !live.is_empty() {
            failed |= follow(&live, args.process.as_deref().unwrap_or(""), width).await;
        }
        for (session, ..) in live {
            session.close().await;
        }
        failed
    });
    if failed {
        Err(Error::Failed(
            "could not read the logs of every host".into(),
        ))
    } else {
        Ok(())
    }
}

/// `sh -c SCRIPT sh DEPLOY_TO PROCESS LINES MODE MARKS...`, quoted.
fn script(deploy_to: &str, process: &str, lines: usize, mode: &str, marks: &[String]) -> String {
    let mut words = vec![
        "sh".to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        "sh".to_string(),
        deploy_to.to_string(),
        process.to_string(),
        lines.to_string(),
        mode.to_string(),
    ];
    words.extend(marks.iter().cloned());
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Runs `logs.sh history` and reads its lines.
async fn history(
    session: &Session,
    host: &str,
    command: &str,
) -> Result<(Vec<Record>, HostState), String> {
    let mut ignore = |_: Stream, _: &[u8]| {};
    let out = session
        .exec(command, None, &mut ignore)
        .await
        .map_err(|e| format!("{host}: {e}"))?;
    if !out.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(format!("{host}: {why}"));
    }
    let mut state = HostState::default();
    let mut records = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(record) = parse_line(line, host, &mut state) {
            records.push(record);
        }
    }
    Ok((records, state))
}

/// Reads one tagged line of `logs.sh`: a log line becomes a record, the
/// others update `state`.
fn parse_line(line: &str, host: &str, state: &mut HostState) -> Option<Record> {
    let (tag, rest) = line.split_once(' ')?;
    match tag {
        "G" => state.pgid = rest.trim().parse().ok(),
        "U" => {
            let (unit, label) = rest.split_once(' ')?;
            state.units.insert(unit.to_string(), label.to_string());
        }
        "P" => state.marks.push(line.to_string()),
        "F" => {
            let (process, text) = rest.split_once(' ').unwrap_or((rest, ""));
            return Some(Record {
                time: None,
                host: host.to_string(),
                process: process.to_string(),
                text: text.to_string(),
            });
        }
        "J" => {
            let entry: serde_json::Value = serde_json::from_str(rest).ok()?;
            if let Some(cursor) = entry["__CURSOR"].as_str() {
                state.marks.retain(|m| !m.starts_with("C "));
                state.marks.push(format!("C {cursor}"));
            }
            // The unit's own output, or systemd's messages about the unit
            // (`Started …`, `Sent signal …`: from init.scope, `UNIT` set).
            let unit = ["_SYSTEMD_UNIT", "UNIT", "USER_UNIT"]
                .iter()
                .filter_map(|field| entry[*field].as_str())
                .find(|unit| state.units.contains_key(*unit))
                .or(entry["_SYSTEMD_UNIT"].as_str())
                .unwrap_or_default();
            let process = state
                .units
                .get(unit)
                .cloned()
                .unwrap_or_else(|| unit.trim_end_matches(".service").to_string());
            return Some(Record {
                time: entry["__REALTIME_TIMESTAMP"].as_str()?.parse().ok(),
                host: host.to_string(),
                process,
                text: journal_message(&entry["MESSAGE"]),
            });
        }
        _ => {}
    }
    None
}

/// A journal entry's `MESSAGE`: a string, or an array of bytes when it is
/// not UTF-8.
fn journal_message(message: &serde_json::Value) -> String {
    match message {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(bytes) => {
            let bytes: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64())
                .map(|b| b as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => String::new(),
    }
}

/// `web1  web-1 | text`.
fn print_record(record: &Record, width: usize) {
    use std::io::Write as _;
    let line = format!(
        "{:<width$}  {} | {}\n",
        record.host, record.process, record.text
    );
    let mut out = std::io::stdout().lock();
    if out
        .write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        // The reader has gone (`ferry logs -f | head`): so has the point.
        std::process::exit(0);
    }
}

/// Follows every host from where its history ended, printing lines as
/// they arrive, until Ctrl-C (or every host's stream ends). Returns
/// whether a host's stream failed. On Ctrl-C, each host's followers are
/// stopped there (their process group killed), not left to the next write.
async fn follow(
    live: &[(Session, String, String, HostState)],
    process: &str,
    width: usize,
) -> bool {
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<Record, String>>();
    let pgids: std::sync::Arc<std::sync::Mutex<Vec<(usize, u32)>>> = Default::default();
    let mut streams = Vec::new();
    for (i, (session, host, deploy_to, state)) in live.iter().enumerate() {
        let tx = tx.clone();
        let pgids = pgids.clone();
        let command = script(deploy_to, process, 0, "follow", &state.marks);
        let units = state.units.clone();
        streams.push(async move {
            let mut lines = crate::executor::Lines::default();
            let mut state = HostState {
                units,
                ..HostState::default()
            };
            let mut on_output = |stream: Stream, bytes: &[u8]| {
                if stream != Stream::Stdout {
                    return;
                }
                let Some(text) = lines.push(bytes) else {
                    return;
                };
                for line in text.lines() {
                    if let Some(record) = parse_line(line, host, &mut state) {
                        let _ = tx.send(Ok(record));
                    } else if let Some(pgid) = state.pgid.take() {
                        pgids
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((i, pgid));
                    }
                }
            };
            match session.exec(&command, None, &mut on_output).await {
                Ok(out) if !out.success() && out.status != Some(143) => {
                    let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                    let _ = tx.send(Err(format!("{host}: {why}")));
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(format!("{host}: {e}")));
                }
            }
        });
    }
    drop(tx);
    let all = futures::future::join_all(streams);
    tokio::pin!(all);
    let mut failed = false;
    let mut ended = false;
    // One listener for the whole follow: a Ctrl-C that arrives between two
    // lines must not fall between two listeners.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Some(Ok(record)) => print_record(&record, width),
                Some(Err(err)) => {
                    eprintln!("error: {err}");
                    failed = true;
                }
                None => break,
            },
            _ = &mut all, if !ended => ended = true,
            _ = &mut ctrl_c => break,
        }
    }
    // Stop what follows on each host: its process group, then the channel.
    let stops = pgids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .into_iter()
        .map(|(i, pgid)| {
            let session = &live[i].0;
            async move {
                // journalctl may run through sudo: root's to stop.
                let kill = format!(
                    "kill -TERM -- -{pgid} 2>/dev/null; sudo -n kill -TERM -- -{pgid} 2>/dev/null; true"
                );
                let mut ignore = |_: Stream, _: &[u8]| {};
                let stop = session.exec(&kill, None, &mut ignore);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stop).await;
            }
        })
        .collect::<Vec<_>>();
    futures::future::join_all(stops).await;
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_carry_their_time_and_process_and_the_cursor() {
        let mut state = HostState::default();
        assert_eq!(parse_line("G 4242", "web1", &mut state), None);
        assert_eq!(state.pgid, Some(4242));
        parse_line("U app-web-1.service web-1", "web1", &mut state);
        let line = r#"J {"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1765148400123456","_SYSTEMD_UNIT":"app-web-1.service","MESSAGE":"GET / 200"}"#;
        let record = parse_line(line, "web1", &mut state).unwrap();
        assert_eq!(record.time, Some(1765148400123456));
        assert_eq!(record.process, "web-1");
        assert_eq!(record.text, "GET / 200");
        assert_eq!(state.marks, ["C s=1;i=2"]);
        // systemd's own message about the unit is the unit's too.
        let line = r#"J {"__CURSOR":"s=1;i=3","__REALTIME_TIMESTAMP":"1765148400223456","_SYSTEMD_UNIT":"init.scope","UNIT":"app-web-1.service","MESSAGE":"Started app web 1."}"#;
        assert_eq!(
            parse_line(line, "web1", &mut state).unwrap().process,
            "web-1"
        );
        assert_eq!(state.marks, ["C s=1;i=3"]);
    }

    #[test]
    fn file_lines_have_no_time_and_sizes_are_kept_for_follow() {
        let mut state = HostState::default();
        let record = parse_line("F worker-1 started: ok", "web2", &mut state).unwrap();
        assert_eq!((record.time, record.process.as_str()), (None, "worker-1"));
        assert_eq!(record.text, "started: ok");
        parse_line("P worker-1 1234", "web2", &mut state);
        assert_eq!(state.marks, ["P worker-1 1234"]);
    }

    #[test]
    fn a_binary_journal_message_is_read_lossily() {
        let bytes = serde_json::json!([104, 105, 255]);
        assert_eq!(journal_message(&bytes), "hi\u{fffd}");
    }
}
