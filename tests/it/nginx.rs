//! The built-in nginx site, rendered as a deploy renders it and served by a
//! real nginx on loopback: static files straight from `current`, everything
//! else proxied to the app's web processes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::diagnostic::{Source, Span};
use ferry::template::Templates;
use serde_json::json;

use crate::support::apps::http_get;
use crate::support::sshd::random;

/// A process of this test's, stopped by its PID when dropped.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(address: &str, port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect((address, port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing on {address}:{port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_nginx_site_serves_static_files_from_current_and_proxies_the_rest() {
    if Command::new("nginx").arg("-v").output().is_err() {
        panic!("nginx is not installed: run `bash .ci/run` (it installs nginx-light)");
    }
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("current");
    std::fs::create_dir_all(current.join("static/notes")).unwrap();
    std::fs::write(
        current.join("static/notes/style.css"),
        "body { margin: 0 }\n",
    )
    .unwrap();
    // Below Linux's ephemeral ports (32768 and up): a port an outgoing
    // connection of another test holds would let `wait_for` meet it, not
    // nginx (a CI run failed so).
    let base = 20000 + (random() % 12000) as u16;
    let (nginx_port, app_port) = (base, base + 1);
    let address = "127.0.0.1";

    // The app: two "web processes" (python's http.server) on consecutive ports.
    let app_dir = dir.path().join("app");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(app_dir.join("index.html"), "from the app\n").unwrap();
    let _apps: Vec<Stopped> = (0..2)
        .map(|n| {
            Stopped(
                Command::new("python3")
                    .args(["-m", "http.server", "--bind", address])
                    .arg((app_port + n).to_string())
                    .current_dir(&app_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();

    let template = std::fs::read_to_string(
        crate::support::ferry::repo_root().join("templates/nginx/site.conf.j2"),
    )
    .unwrap();
    let serde_json::Value::Object(vars) = json!({
        "app_name": "notes",
        "inventory_hostname": "web1",
        "current_path": current,
        "server_names": ["localhost", "notes.test"],
        "processes": {"web": 2},
        "procfile_port": app_port,
        "gunicorn_host": address,
        "nginx_listen": [format!("{address}:{nginx_port}")],
    }) else {
        unreachable!()
    };
    let source = Source::new("templates/nginx/site.conf.j2", template.clone());
    let span = Span::new(source, 1, 1, 1);
    let site = Templates::new().render(&template, &vars, &span).unwrap();
    assert!(
        !site.contains("ssl_certificate"),
        "no TLS without certificates:\n{site}"
    );

    let prefix = dir.path().join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    std::fs::write(prefix.join("site.conf"), &site).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
               include {p}/site.conf;\n}}\n",
            p = prefix.display()
        ),
    )
    .unwrap();
    let check = Command::new("nginx")
        .arg("-t")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nginx -t: {}\n{site}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _nginx = Stopped(
        Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(&prefix)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(address, nginx_port);
    for n in 0..2 {
        wait_for(address, app_port + n);
    }

    let (status, body) = http_get(address, nginx_port, "/static/notes/style.css").unwrap();
    assert_eq!((status, body.as_str()), (200, "body { margin: 0 }\n"));
    // The rest goes to the upstreams.
    for _ in 0..4 {
        let (status, body) = http_get(address, nginx_port, "/index.html").unwrap();
        assert_eq!((status, body.as_str()), (200, "from the app\n"));
    }
    let (status, _) = http_get(address, nginx_port, "/static/missing.css").unwrap();
    assert_eq!(status, 404);
}
