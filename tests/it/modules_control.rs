//! `wait_for`, `assert`, `fail` and `ping` on a real sshd host through
//! `ferry playbook`: they only look, so a dry run reports what the run
//! does, and a second run the same.

use std::net::TcpListener;

use crate::support::ferry::{Project, step_ends};
use crate::support::sshd::TestHosts;

fn ends(events: &[serde_json::Value]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "step_end")
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap_or_default().to_string();
            (text("name"), text("status"), text("reason"))
        })
        .collect()
}

#[test]
fn control_modules_look_and_report_the_same_in_a_dry_run_and_a_run() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let project = Project::with_hosts(&hosts);
    // A port that listens, on the host's own loopback address, and one
    // that does not (bound, then closed).
    let open = TcpListener::bind((host.address.as_str(), 0)).unwrap();
    let open_port = open.local_addr().unwrap().port();
    let closed_port = TcpListener::bind((host.address.as_str(), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let flag = host.dir.join("ready");
    std::fs::write(&flag, "booting\nstatus=ready\n").unwrap();
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: Ping
      ping: {{}}
      register: pinged
    - name: Open port
      wait_for: {{ host: "{addr}", port: {open_port}, timeout: 5 }}
      register: waited
    - name: Closed port
      ansible.builtin.wait_for: {{ host: "{addr}", port: {closed_port}, state: stopped, timeout: 5 }}
    - name: Ready line
      wait_for: {{ path: "{flag}", search_regex: "^status=ready$", timeout: 5 }}
    - name: Gone file
      wait_for: {{ path: "{flag}.missing", state: absent, timeout: 5 }}
    - name: Results
      assert:
        that:
          - pinged.ping == "pong"
          - waited.port == {open_port}
          - waited.elapsed < 5
        success_msg: the probes registered their results
    - name: Not failing
      fail: {{ msg: never }}
      when: pinged.ping != "pong"
"#,
            addr = host.address,
            flag = flag.display(),
        ),
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let expected: Vec<(String, String, String)> = [
        ("Ping", "ok", "the host runs commands".to_string()),
        (
            "Open port",
            "ok",
            format!("port {open_port} on {} is open", host.address),
        ),
        (
            "Closed port",
            "ok",
            format!("port {closed_port} on {} is closed", host.address),
        ),
        (
            "Ready line",
            "ok",
            format!("`{}` has a line matching `^status=ready$`", flag.display()),
        ),
        (
            "Gone file",
            "ok",
            format!("`{}.missing` does not exist", flag.display()),
        ),
        (
            "Results",
            "ok",
            "the probes registered their results".into(),
        ),
        (
            "Not failing",
            "skipped",
            "`when: pinged.ping != \"pong\"` is false".into(),
        ),
    ]
    .into_iter()
    .map(|(n, s, r)| (n.to_string(), s.to_string(), r))
    .collect();
    assert_eq!(ends(&run), expected);
    assert_eq!(ends(&check), expected, "the dry run looks as the run does");
    drop(open);
}

#[test]
fn wait_for_times_out_with_its_message_and_assert_and_fail_stop_the_host() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let project = Project::with_hosts(&hosts);
    let closed_port = TcpListener::bind((host.address.as_str(), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    project.file(
        "wait.yml",
        &format!(
            "- hosts: web\n  tasks:\n    - name: Wait\n      wait_for: {{ host: \"{}\", port: {closed_port}, timeout: 2 }}\n",
            host.address
        ),
    );
    let started = std::time::Instant::now();
    let (out, events) = project.ferry_json(&["playbook", "wait.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed().as_secs() >= 2, "it waited");
    assert_eq!(
        ends(&events),
        [(
            "Wait".to_string(),
            "failed".to_string(),
            format!(
                "timed out after 2s waiting for port {closed_port} on {} to open",
                host.address
            )
        )]
    );

    project.file(
        "assert.yml",
        "- hosts: web\n  vars:\n    workers: 2\n  tasks:\n    - name: Enough\n      assert:\n        that: [workers > 1, workers > 3]\n        fail_msg: too few workers\n    - name: Never\n      ping: {}\n",
    );
    let (out, events) = project.ferry_json(&["playbook", "assert.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        ends(&events),
        [(
            "Enough".to_string(),
            "failed".to_string(),
            "too few workers".to_string()
        )]
    );

    project.file(
        "fail.yml",
        "- hosts: web\n  tasks:\n    - name: Stop\n      ansible.builtin.fail: { msg: not on this host }\n",
    );
    let (out, events) = project.ferry_json(&[
        "playbook",
        "fail.yml",
        "-i",
        "inventory/test.ini",
        "--check",
    ]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        ends(&events),
        [(
            "Stop".to_string(),
            "failed".to_string(),
            "not on this host".to_string()
        )]
    );
}

/// What the loopback server serves at `/files/app.txt`.
const PAYLOAD: &str = "payload v1\n";

/// A loopback HTTP server that answers `GET /files/app.txt` with
/// [`PAYLOAD`], `GET /health` with JSON, `POST
/// /items` with 201 and counts the posts, and anything else with 404.
fn serve(address: &str) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = TcpListener::bind((address, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let posts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = posts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or_default();
            let mut length = 0;
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(n) = lower.strip_prefix("content-length:") {
                    length = n.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    auth = line.trim().to_string();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap_or_default();
            let (status, text) = if request.starts_with("GET /files/app.txt ") {
                ("200 OK", PAYLOAD.to_string())
            } else if request.starts_with("GET /health ") {
                ("200 OK", r#"{"ok": true, "workers": 3}"#.to_string())
            } else if request.starts_with("POST /items ") {
                seen.lock()
                    .unwrap()
                    .push(format!("{} {auth}", String::from_utf8_lossy(&body)));
                ("201 Created", r#"{"id": 7}"#.to_string())
            } else {
                ("404 Not Found", r#"{"error": "no"}"#.to_string())
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (port, posts)
}

#[test]
fn uri_gets_in_check_mode_too_and_posts_only_in_the_run() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let project = Project::with_hosts(&hosts);
    let (port, posts) = serve(&host.address);
    let base = format!("http://{}:{port}", host.address);
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: Health
      uri: {{ url: "{base}/health", return_content: true }}
      register: health
    - name: Workers
      assert:
        that: [health.json.workers == 3, health.status == 200, health.content_type == "application/json"]
    - name: Create
      ansible.builtin.uri:
        url: "{base}/items"
        method: POST
        body_format: json
        body: {{ name: "it's \"quoted\"" }}
        status_code: [200, 201]
        url_username: admin
        url_password: s3cret-pw
      register: created
    - name: Created
      debug: {{ msg: "status={{{{ created.status }}}} id={{{{ created.json.id | default('none') }}}}" }}
"#
        ),
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(posts.lock().unwrap().is_empty(), "the dry run posted");
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let health = (
        "Health".to_string(),
        "ok".to_string(),
        format!("GET `{base}/health` answered 200"),
    );
    assert_eq!(ends(&check)[0], health);
    assert_eq!(ends(&run)[0], health);
    assert_eq!(ends(&check)[1].1, "ok", "{:?}", ends(&check)[1]);
    assert_eq!(ends(&run)[1].1, "ok", "{:?}", ends(&run)[1]);
    assert_eq!(
        ends(&check)[2],
        (
            "Create".into(),
            "changed".into(),
            format!("would send POST to `{base}/items`")
        )
    );
    assert_eq!(
        ends(&run)[2],
        (
            "Create".into(),
            "changed".into(),
            format!("POST `{base}/items` answered 201")
        )
    );
    let shown = run
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == "Created")
        .unwrap()["output"]
        .clone();
    assert_eq!(shown, "status=201 id=7");
    assert_eq!(
        *posts.lock().unwrap(),
        [r#"{"name":"it's \"quoted\""} Authorization: Basic YWRtaW46czNjcmV0LXB3"#]
    );

    project.file(
        "missing.yml",
        &format!(
            "- hosts: web\n  tasks:\n    - name: Missing\n      uri: {{ url: \"{base}/nope\" }}\n"
        ),
    );
    let (out, events) =
        project.ferry_json(&["playbook", "missing.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        ends(&events)[0],
        (
            "Missing".into(),
            "failed".into(),
            format!("GET `{base}/nope` answered 404, not 200")
        )
    );
}

#[test]
fn get_url_downloads_once_verified_and_refuses_a_wrong_checksum() {
    use sha2::Digest as _;
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let project = Project::with_hosts(&hosts);
    let (port, _) = serve(&host.address);
    let url = format!("http://{}:{port}/files/app.txt", host.address);
    let sum: String = sha2::Sha256::digest(PAYLOAD.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = host.dir.join("dl");
    std::fs::create_dir_all(&dir).unwrap();
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: Fetch
      get_url: {{ url: "{url}", dest: "{dir}/", checksum: "sha256:{sum}", mode: "0600" }}
      register: fetched
    - name: Fetch again, forced
      ansible.builtin.get_url: {{ url: "{url}", dest: "{dir}/copy.txt", force: true }}
"#,
            dir = dir.display()
        ),
    );
    let args = ["playbook", "site.yml", "-i", "inventory/test.ini"];
    let (out, check) = project.ferry_json(&[&args[..], &["--check"]].concat());
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(!dir.join("app.txt").exists(), "the dry run downloaded");
    let (out, run) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let file = dir.join("app.txt");
    let expected = [
        (
            "Fetch".to_string(),
            "changed".to_string(),
            format!("download `{url}` to `{}`", file.display()),
        ),
        (
            "Fetch again, forced".to_string(),
            "changed".to_string(),
            format!("download `{url}` to `{}`", dir.join("copy.txt").display()),
        ),
    ];
    assert_eq!(ends(&run), expected);
    let predicted: Vec<_> = expected
        .iter()
        .map(|(n, s, r)| (n.clone(), s.clone(), format!("would {r}")))
        .collect();
    assert_eq!(ends(&check), predicted);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), PAYLOAD);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.join("copy.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );

    let (out, again) = project.ferry_json(&args);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        ends(&again),
        [
            (
                "Fetch".to_string(),
                "ok".to_string(),
                format!("`{}` has the sha256 checksum given", file.display())
            ),
            (
                "Fetch again, forced".to_string(),
                "ok".to_string(),
                format!(
                    "`{}` already has the content of `{url}`",
                    dir.join("copy.txt").display()
                )
            ),
        ]
    );

    let wrong = "0".repeat(64);
    project.file(
        "wrong.yml",
        &format!(
            "- hosts: web\n  tasks:\n    - name: Wrong\n      get_url: {{ url: \"{url}\", dest: \"{}/wrong.txt\", checksum: \"sha256:{wrong}\" }}\n",
            dir.display()
        ),
    );
    let (out, events) = project.ferry_json(&["playbook", "wrong.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    let end = events
        .iter()
        .find(|e| e["event"] == "step_end" && e["name"] == "Wrong")
        .unwrap();
    assert_eq!(end["status"], "failed");
    assert!(
        end["output"]
            .as_str()
            .unwrap()
            .contains(&format!("the download's checksum is {sum}, not {wrong}")),
        "{end}"
    );
    assert!(!dir.join("wrong.txt").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no temporary file is left: {leftovers:?}"
    );
}

/// `pause` waits its `seconds` (`minutes`) on the host, in check mode too,
/// and is `ok`; one with no duration would wait for a key, which ferry does
/// not ask for mid-run: refused before any host is touched.
#[test]
fn pause_waits_its_seconds_in_check_mode_too_and_a_prompt_is_refused_up_front() {
    let hosts = TestHosts::start(1);
    let project = Project::with_hosts(&hosts);
    project.file(
        "prompt.yml",
        "- hosts: web\n  tasks:\n    - name: Ask\n      pause: { prompt: Press enter }\n",
    );
    let out = project.ferry(&["playbook", "prompt.yml", "-i", "inventory/test.ini"]);
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(out.stderr.contains("prompt.yml:4:7"), "{}", out.stderr);
    assert!(
        out.stderr.contains("give it `seconds` or `minutes`"),
        "{}",
        out.stderr
    );
    assert!(
        !hosts.hosts[0].log().contains("Accepted"),
        "a host was contacted"
    );
    project.file(
        "pause.yml",
        "- hosts: web\n  tasks:\n    - name: Breathe\n      pause: { seconds: 2 }\n    - name: Again\n      ansible.builtin.pause: seconds=1\n",
    );
    for extra in [&["--check"][..], &[]] {
        let started = std::time::Instant::now();
        let args = [
            &["playbook", "pause.yml", "-i", "inventory/test.ini"][..],
            extra,
        ]
        .concat();
        let (out, events) = project.ferry_json(&args);
        assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(3),
            "{extra:?}"
        );
        let statuses: Vec<(String, String, String)> = step_ends(&events);
        assert!(statuses.iter().all(|(_, _, s)| s == "ok"), "{statuses:?}");
    }
}
