//! The SSH transport against real OpenSSH sshd processes on 127.x.y.z.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::sshd::{TestHosts, new_key, random};
use ferry::transport::{ConnectOptions, ExecOutput, Session, Target, TransportError, Trust};

async fn connect(target: &Target, trust: &Trust) -> Result<Session, TransportError> {
    Session::connect(target, trust, &ConnectOptions::default()).await
}

async fn run(session: &Session, command: &str) -> ExecOutput {
    session
        .exec(command, None, &mut |_, _| {})
        .await
        .unwrap_or_else(|e| panic!("`{command}` failed: {e}"))
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8 output")
}

/// `SHA256:…` as `ssh-keygen -l` prints it for a host's public key.
fn fingerprint(dir: &Path) -> String {
    let output = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("host_ed25519.pub"))
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string()
}

fn trust_file(path: PathBuf, accept_new: bool) -> Trust {
    Trust {
        known_hosts: vec![path],
        accept_new,
        ..Trust::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_on_20_hosts_concurrently() {
    let hosts = TestHosts::start(20);
    let trust = hosts.trust();
    let runs = hosts.hosts.iter().map(|host| {
        let trust = trust.clone();
        let target = host.target();
        async move {
            let session = connect(&target, &trust).await.unwrap();
            let output = run(&session, "echo $((6 * 7)) on $SSH_CONNECTION").await;
            session.close().await;
            output
        }
    });
    let outputs = futures_join_all(runs).await;
    for (host, output) in hosts.hosts.iter().zip(outputs) {
        assert_eq!(output.status, Some(0));
        let stdout = text(&output.stdout);
        assert!(stdout.starts_with("42 on "), "{stdout}");
        assert!(
            stdout.contains(&format!("{} {}", host.address, host.port)),
            "{stdout}"
        );
    }
}

/// Runs futures concurrently on the runtime and returns their results in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn exec_reports_stdout_stderr_status_and_signal() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts.hosts[0].target(), &hosts.trust())
        .await
        .unwrap();
    let mut chunks = Vec::new();
    let output = session
        .exec(
            "echo out; echo err >&2; exit 3",
            None,
            &mut |stream, bytes| chunks.push((stream, bytes.to_vec())),
        )
        .await
        .unwrap();
    assert_eq!((output.status, output.signal.as_deref()), (Some(3), None));
    assert_eq!(text(&output.stdout), "out\n");
    assert_eq!(text(&output.stderr), "err\n");
    assert!(!chunks.is_empty());

    let killed = run(&session, "kill -TERM $$").await;
    assert_eq!(
        (killed.status, killed.signal.as_deref()),
        (None, Some("TERM"))
    );

    // A command that reads stdin gets EOF at once instead of hanging.
    let cat = run(&session, "cat; echo done").await;
    assert_eq!(text(&cat.stdout), "done\n");
    session.close().await;
}

#[tokio::test]
async fn stdin_streams_megabytes_into_cat_and_tar() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let session = connect(&host.target(), &hosts.trust()).await.unwrap();

    // 6 MB of varied bytes through `cat > file`, compared by checksum.
    let mut blob = Vec::with_capacity(6 << 20);
    let mut state = random();
    while blob.len() < 6 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        blob.extend_from_slice(&state.to_le_bytes());
    }
    let local = host.dir.join("blob.local");
    std::fs::write(&local, &blob).unwrap();
    let expected = Command::new("sha256sum")
        .arg(&local)
        .output()
        .unwrap()
        .stdout;
    let expected = text(&expected).split(' ').next().unwrap().to_string();
    let remote = host.dir.join("blob.remote");
    let command = format!("cat > {0} && sha256sum < {0}", remote.display());
    let output = session
        .exec(
            &command,
            Some(Box::new(std::io::Cursor::new(blob))),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(output.status, Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).split(' ').next(),
        Some(expected.as_str())
    );

    // A tar archive unpacked remotely keeps contents, modes and symlinks.
    let tree = host.dir.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("bin/run"), "#!/bin/sh\necho ran\n").unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(tree.join("bin/run"))
        .status()
        .unwrap();
    std::os::unix::fs::symlink("bin/run", tree.join("run")).unwrap();
    let archive = Command::new("tar")
        .arg("-C")
        .arg(&tree)
        .args(["-c", "."])
        .output()
        .unwrap();
    let unpacked = host.dir.join("unpacked");
    let command = format!(
        "mkdir -p {0} && tar -x -C {0} && {0}/run",
        unpacked.display()
    );
    let output = session
        .exec(
            &command,
            Some(Box::new(std::io::Cursor::new(archive.stdout))),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(output.status, Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "ran\n");

    // A command that exits without reading its stdin does not hang the upload.
    let output = session
        .exec(
            "exit 0",
            Some(Box::new(std::io::Cursor::new(vec![0u8; 8 << 20]))),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(output.status, Some(0));
    session.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_concurrent_execs_share_one_session_below_max_sessions() {
    let hosts = TestHosts::start(1);
    let session = connect(&hosts.hosts[0].target(), &hosts.trust())
        .await
        .unwrap();
    let runs = (0..30).map(|i| {
        let session = session.clone();
        async move {
            session
                .exec(&format!("sleep 0.2; echo {i}"), None, &mut |_, _| {})
                .await
        }
    });
    let outputs: Vec<_> = futures_join_all(runs)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}\n{}", hosts.hosts[0].log())))
        .collect();
    for (i, output) in outputs.iter().enumerate() {
        assert_eq!(output.status, Some(0));
        assert_eq!(text(&output.stdout), format!("{i}\n"));
    }
    session.close().await;

    // sshd frees a session slot a poll loop after the channel's close, so
    // even below MaxSessions an open can be refused ("no more sessions");
    // refused opens are retried. Without the cap at all, they still finish.
    let uncapped = ConnectOptions {
        max_channels: 30,
        ..ConnectOptions::default()
    };
    let session = Session::connect(&hosts.hosts[0].target(), &hosts.trust(), &uncapped)
        .await
        .unwrap();
    let runs = (0..30).map(|_| {
        let session = session.clone();
        async move { session.exec("sleep 0.2", None, &mut |_, _| {}).await }
    });
    for result in futures_join_all(runs).await {
        assert_eq!(result.unwrap().status, Some(0));
    }
}

#[tokio::test]
async fn unknown_host_key_is_refused_with_its_fingerprint() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let empty = host.dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let error = connect(&host.target(), &trust_file(empty.clone(), false))
        .await
        .unwrap_err();
    let TransportError::UnknownHostKey {
        fingerprint: seen,
        known_hosts_file,
        ..
    } = &error
    else {
        panic!("expected an unknown host key, got {error}");
    };
    assert_eq!(*seen, fingerprint(&host.dir));
    assert_eq!(*known_hosts_file, empty);
    let message = error.to_string();
    assert!(message.contains("--accept-new-host-keys"), "{message}");
    assert!(message.contains(seen.as_str()), "{message}");
}

#[tokio::test]
async fn accept_new_records_the_key_and_the_next_connect_trusts_it() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let file = host.dir.join("new/known_hosts");
    let session = connect(&host.target(), &trust_file(file.clone(), true))
        .await
        .unwrap();
    session.close().await;
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        host.known_hosts_line() + "\n"
    );
    let session = connect(&host.target(), &trust_file(file, false))
        .await
        .unwrap();
    assert_eq!(run(&session, "true").await.status, Some(0));
}

#[tokio::test]
async fn changed_host_key_is_refused_naming_file_and_line() {
    let hosts = TestHosts::start(2);
    let (host, other) = (&hosts.hosts[0], &hosts.hosts[1]);
    let file = host.dir.join("known_hosts_changed");
    let stale = format!("[{}]:{} {}", host.address, host.port, other.host_key);
    std::fs::write(&file, format!("# ours\n\n{stale}\n")).unwrap();
    // Even with accept_new, a changed key is never replaced.
    let error = connect(&host.target(), &trust_file(file.clone(), true))
        .await
        .unwrap_err();
    let TransportError::ChangedHostKey {
        file: named, line, ..
    } = &error
    else {
        panic!("expected a changed host key, got {error}");
    };
    assert_eq!((named, *line), (&file, 3));
    assert!(error.to_string().contains(&format!("{}:3", file.display())));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("# ours\n\n{stale}\n")
    );
}

#[tokio::test]
async fn revoked_host_key_is_refused() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let file = host.dir.join("known_hosts_revoked");
    std::fs::write(
        &file,
        format!(
            "{}\n@revoked * {}\n",
            host.known_hosts_line(),
            host.host_key
        ),
    )
    .unwrap();
    let error = connect(&host.target(), &trust_file(file, false))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TransportError::RevokedHostKey { line: 2, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn hashed_known_hosts_entry_is_accepted() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let file = host.dir.join("known_hosts_hashed");
    std::fs::write(&file, host.known_hosts_line() + "\n").unwrap();
    let status = Command::new("ssh-keygen")
        .arg("-Hf")
        .arg(&file)
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("|1|"));
    let session = connect(&host.target(), &trust_file(file, false))
        .await
        .unwrap();
    assert_eq!(run(&session, "true").await.status, Some(0));
}

#[tokio::test]
async fn encrypted_key_wrong_passphrase_is_said_plainly() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let key = host.dir.join("locked_ed25519");
    hosts.authorize_new_key(&key, "sesame");

    let mut target = host.target();
    target.identity_files = vec![key.clone()];
    target.passphrase = Some("open".to_string());
    let error = connect(&target, &hosts.trust()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("wrong passphrase for key `{}`", key.display())
    );
    target.passphrase = None;
    let error = connect(&target, &hosts.trust()).await.unwrap_err();
    assert!(
        matches!(error, TransportError::KeyIsEncrypted { .. }),
        "{error}"
    );
    target.passphrase = Some("sesame".to_string());
    let session = connect(&target, &hosts.trust()).await.unwrap();
    assert_eq!(run(&session, "true").await.status, Some(0));
}

#[tokio::test]
async fn key_not_in_authorized_keys_fails_auth_listing_what_was_tried() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let key = host.dir.join("stranger_rsa");
    new_key(&key, "rsa", "");
    let mut target = host.target();
    target.identity_files = vec![key.clone()];
    let error = connect(&target, &hosts.trust()).await.unwrap_err();
    let TransportError::AuthFailed { user, tried, .. } = &error else {
        panic!("expected an auth failure, got {error}");
    };
    assert_eq!(user, &host.user);
    assert!(
        tried.contains(&format!("key `{}`", key.display())),
        "{tried:?}"
    );
}

#[tokio::test]
async fn rsa_key_logs_in_with_a_sha2_signature() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let key = host.dir.join("id_rsa");
    new_key(&key, "rsa", "");
    hosts.authorize(&key);
    let mut target = host.target();
    target.identity_files = vec![key];
    let session = connect(&target, &hosts.trust()).await.unwrap();
    assert_eq!(run(&session, "true").await.status, Some(0));
}

#[tokio::test]
async fn nothing_listening_fails_fast_as_unreachable() {
    let address = format!("127.{}.{}.9", 16 + random() % 200, 1 + random() % 250);
    let port = {
        let listener = std::net::TcpListener::bind((address.as_str(), 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let error = connect(
        &Target::new("ghost", &address, port, "root"),
        &Trust::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, TransportError::Unreachable { .. }),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        error.to_string().starts_with("cannot reach `ghost`"),
        "{error}"
    );
}

#[tokio::test]
async fn server_that_never_sends_a_banner_times_out() {
    let address = format!("127.{}.{}.8", 16 + random() % 200, 1 + random() % 250);
    let listener = tokio::net::TcpListener::bind((address.as_str(), 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let opts = ConnectOptions {
        connect_timeout: Duration::from_millis(700),
        ..ConnectOptions::default()
    };
    let started = Instant::now();
    let error = Session::connect(
        &Target::new("mute", &address, port, "root"),
        &Trust::default(),
        &opts,
    )
    .await
    .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, TransportError::Timeout { .. }), "{error}");
    assert!(elapsed >= Duration::from_millis(700) && elapsed < Duration::from_millis(1500));
    silent.abort();
}

#[tokio::test]
async fn proxy_jump_through_one_host_to_another() {
    let hosts = TestHosts::start(2);
    let mut target = hosts.hosts[1].target();
    target.jump = Some(Box::new(hosts.hosts[0].target()));
    let session = connect(&target, &hosts.trust()).await.unwrap();
    let output = run(&session, "echo $SSH_CONNECTION").await;
    let seen = text(&output.stdout);
    // The target sees the connection coming from the jump host's sshd.
    assert!(
        seen.contains(&format!(
            "{} {}",
            hosts.hosts[1].address, hosts.hosts[1].port
        )),
        "{seen}"
    );
    let started = Instant::now();
    for _ in 0..10 {
        assert_eq!(run(&session, "true").await.status, Some(0));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    session.close().await;
}

/// Figures for the docs: `cargo test --release --test transport -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn measure_connect_round_trip_and_fan_out() {
    let hosts = TestHosts::start(50);
    let trust = hosts.trust();
    let target = hosts.hosts[0].target();
    let mut connects = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let session = connect(&target, &trust).await.unwrap();
        connects.push(started.elapsed());
        session.close().await;
    }
    connects.sort();
    // The OpenSSH client under the same load, for a ratio.
    let mut openssh = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let status = hosts.ssh(&hosts.hosts[0]).arg("true").status().unwrap();
        assert!(status.success());
        openssh.push(started.elapsed());
    }
    openssh.sort();
    println!("openssh `ssh host true` p50 {:?}", openssh[2]);
    let session = connect(&target, &trust).await.unwrap();
    let mut trips = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        run(&session, "true").await;
        trips.push(started.elapsed());
    }
    trips.sort();
    let blob = vec![7u8; 64 << 20];
    let started = Instant::now();
    let upload = session
        .exec(
            "cat > /dev/null",
            Some(Box::new(std::io::Cursor::new(blob))),
            &mut |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(upload.status, Some(0));
    let upload_rate = 64.0 / started.elapsed().as_secs_f64();
    session.close().await;

    let started = Instant::now();
    let runs = hosts.hosts.iter().map(|host| {
        let (target, trust) = (host.target(), trust.clone());
        async move {
            let session = connect(&target, &trust).await.unwrap();
            for _ in 0..20 {
                assert_eq!(run(&session, "true").await.status, Some(0));
            }
            session.close().await;
        }
    });
    futures_join_all(runs).await;
    let fan_out = started.elapsed();
    println!(
        "connect 1 host p50 {:?} (min {:?}); `true` round trip p50 {:?} p90 {:?}; \
         64 MiB stdin {upload_rate:.0} MiB/s; 50 hosts x 20 commands {:?}",
        connects[connects.len() / 2],
        connects[0],
        trips[trips.len() / 2],
        trips[trips.len() * 9 / 10],
        fan_out
    );
}

#[tokio::test]
async fn agent_key_is_used_after_the_key_files_fail() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let socket = host.dir.join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The socket file appears when the agent binds it, a moment before it
    // listens: `ssh-add` is retried until the agent answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    let added = loop {
        let added = socket.exists()
            && Command::new("ssh-add")
                .arg("-q")
                .arg(&hosts.key)
                .env("SSH_AUTH_SOCK", &socket)
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
        if added || Instant::now() > deadline {
            break added;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(added, "ssh-agent took the key");
    let stranger = host.dir.join("stranger_ed25519");
    new_key(&stranger, "ed25519", "");
    let mut target = host.target();
    target.identity_files = vec![stranger];
    let opts = ConnectOptions {
        agent_socket: Some(socket),
        ..ConnectOptions::default()
    };
    let result = Session::connect(&target, &hosts.trust(), &opts).await;
    let _ = agent.kill();
    let _ = agent.wait();
    let session = result.unwrap();
    assert_eq!(run(&session, "true").await.status, Some(0));
}

#[tokio::test]
async fn frozen_server_is_detected_by_keepalive() {
    let hosts = TestHosts::start(1);
    // Three missed keepalives: 1 s apart here (15 s by default) keeps the
    // test short.
    let opts = ConnectOptions {
        keepalive: Duration::from_secs(1),
        ..ConnectOptions::default()
    };
    let session = Session::connect(&hosts.hosts[0].target(), &hosts.trust(), &opts)
        .await
        .unwrap();
    // The sshd process serving this connection: the nearest ancestor named
    // sshd (commands run in ferry's shell, itself a child of sshd).
    let output = run(
        &session,
        "p=$PPID; while [ \"$(cat /proc/$p/comm)\" != sshd ]; do \
         p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status); done; echo $p",
    )
    .await;
    let server_pid = text(&output.stdout).trim().to_string();
    let stop = Command::new("kill")
        .args(["-STOP", &server_pid])
        .status()
        .unwrap();
    assert!(stop.success());
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        session.exec("true", None, &mut |_, _| {}),
    )
    .await;
    let elapsed = started.elapsed();
    let _ = Command::new("kill").args(["-KILL", &server_pid]).status();
    let error = result.expect("keepalive ends the exec").unwrap_err();
    assert!(
        matches!(error, TransportError::Disconnected { .. }),
        "{error}"
    );
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
}

/// OpenSSH refuses `signal` requests for root sessions ("session signalling
/// requires privilege separation"): as root the abandoned command runs on
/// (holding an sshd session slot until it ends); for other users it stops.
#[tokio::test]
async fn abandoned_exec_is_signalled_and_the_session_stays_usable() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let session = connect(&host.target(), &hosts.trust()).await.unwrap();
    let pid_file = host.dir.join("sleeper.pid");
    let command = format!("echo $$ > {}; exec sleep 5", pid_file.display());
    let abandoned = tokio::time::timeout(
        Duration::from_millis(500),
        session.exec(&command, None, &mut |_, _| {}),
    )
    .await;
    assert!(abandoned.is_err(), "sleep 5 finished early");
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let check = format!(
        "for i in $(seq 30); do kill -0 {pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
    );
    let stopped = run(&session, &check).await.status == Some(0);
    assert_eq!(stopped, host.user != "root", "{}", host.log());
}

#[tokio::test]
async fn ssh_config_alias_with_proxy_jump_connects() {
    let hosts = TestHosts::start(2);
    let (jump, app) = (&hosts.hosts[0], &hosts.hosts[1]);
    let config = hosts.root.join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host bastion\n  HostName {}\n  Port {}\n  IdentityFile {}\n\n\
             Host app\n  HostName {}\n  Port {}\n  ProxyJump bastion\n\n\
             Host *\n  User {}\n  IdentityFile {}\n",
            jump.address,
            jump.port,
            hosts.key.display(),
            app.address,
            app.port,
            app.user,
            hosts.key.display(),
        ),
    )
    .unwrap();
    let config = ferry::transport::ssh_config::SshConfig::load(&config).unwrap();
    let target = config.target("app", "nobody");
    assert_eq!(target.jump.as_ref().unwrap().address, jump.address);
    let session = connect(&target, &hosts.trust()).await.unwrap();
    assert_eq!(text(&run(&session, "echo ok").await.stdout), "ok\n");
}

/// sshd drops handshakes beyond `MaxStartups`; several inventory hosts on
/// one machine reach it when connecting all at once.
#[tokio::test(flavor = "multi_thread")]
async fn handshakes_dropped_by_max_startups_are_retried() {
    let hosts = TestHosts::start_with(1, "MaxStartups 2:100:2\nLogLevel VERBOSE");
    let trust = hosts.trust();
    let runs = (0..30).map(|i| {
        let (trust, mut target) = (trust.clone(), hosts.hosts[0].target());
        target.name = format!("app{i}");
        async move { connect(&target, &trust).await.map(|_| ()) }
    });
    for result in futures_join_all(runs).await {
        result.unwrap_or_else(|e| panic!("{e}\n{}", hosts.hosts[0].log()));
    }
    assert!(
        hosts.hosts[0].log().contains("MaxStartups"),
        "{}",
        hosts.hosts[0].log()
    );
}

#[test]
fn test_hosts_describe_themselves_for_openssh_and_ansible() {
    let hosts = TestHosts::start(2);
    let config = hosts.write_ssh_config();
    // The real OpenSSH client agrees with the files written.
    let output = Command::new("ssh")
        .args(["-F"])
        .arg(&config)
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "host2",
            "echo",
            "hi",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout), "hi\n", "{}", text(&output.stderr));
    let inventory = hosts.inventory_ini("web");
    assert!(
        inventory.starts_with("[web]\nhost1 ansible_host=127."),
        "{inventory}"
    );
    assert_eq!(inventory.lines().count(), 3);
}
