//! TLS for a deploy, end to end: the built-in nginx site and `certs`
//! together, as the examples use them, with a real nginx per host (on the
//! host's own address: pebble's HTTP port plays port 80, another port 443)
//! and pebble issuing. The first run starts from nothing — no site, no
//! certificate — which is the case a deploy must get right: the site names
//! certificate files that do not exist yet.

use std::process::{Command, Stdio};

use crate::support::apps::http_get;
use crate::support::ferry::{Project, line_count, step_ends};
use crate::support::nginx::{Started, start_nginx};
use crate::support::pebble::{Pebble, https_get, port_free_on};
use crate::support::sshd::TestHosts;

/// The `Location` of a plain-HTTP request for `name`.
fn redirect(name: &str, address: &str, port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect((address, port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {name}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = response
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .unwrap_or_default()
        .to_string();
    (status, location)
}

#[test]
fn a_deploy_gets_tls_from_nothing_and_nginx_reloads_only_when_a_certificate_changed() {
    if Command::new("nginx").arg("-v").output().is_err() {
        panic!("nginx is not installed: run `bash .ci/run` (it installs nginx-light)");
    }
    let hosts = TestHosts::start(2);
    let elsewhere = hosts.spare_address();
    let addresses: Vec<&str> = hosts.hosts.iter().map(|h| h.address.as_str()).collect();
    let mut pebble = Pebble::start(None, &addresses);
    let tls_port = port_free_on(&addresses);
    let project = Project::with_hosts(&hosts);
    let mut running = Vec::new();
    for h in &hosts.hosts {
        // The app: one web process answering with its host's name.
        let app = h.dir.join("app-root");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("index.html"), format!("from {}\n", h.name)).unwrap();
        let app_port = port_free_on(&[h.address.as_str()]);
        running.push(Started(
            Command::new("python3")
                .args(["-m", "http.server", "--bind", &h.address])
                .arg(app_port.to_string())
                .current_dir(&app)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ));
        let (nginx, prefix, started) = start_nginx(&h.dir);
        running.push(started);
        project.file(
            &format!("inventory/host_vars/{}.yml", h.name),
            &format!(
                "deploy_to: {dir}/app\ncurrent_path: {dir}/app/current\n\
                 gunicorn_host: {address}\nprocfile_port: {app_port}\n\
                 nginx_listen: [\"{address}:{http}\"]\nnginx_tls_listen: [\"{address}:{tls_port} ssl\"]\n\
                 nginx_cmd: \"{nginx}\"\nnginx_prefix: {prefix}\n\
                 certs_webroot: {dir}/www\ncerts_dir: {dir}/ssl\nreload_log: {dir}/reloads\n",
                dir = h.dir.display(),
                address = h.address,
                http = pebble.http_port,
                prefix = prefix.display(),
            ),
        );
    }
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  vars:
    app_name: site
    server_names: [site.test, www.site.test]
    processes: {{ web: 1 }}
    certificates:
      - [site.test, www.site.test]
    acme_directory: {directory}
    acme_ca_bundle: "{bundle}"
    certs_owner: ""
    certs_group: ""
    certs_reload: "{{{{ nginx_cmd }}}} -t && {{{{ nginx_cmd }}}} -s reload && echo reloaded >> {{{{ reload_log }}}}"
  tasks:
    - name: Write the nginx site
      template:
        src: nginx/site.conf.j2
        dest: "{{{{ nginx_prefix }}}}/sites/site.conf"
        mode: "0644"
      notify: reload web server
    - include: certs
"#,
            directory = pebble.directory,
            bundle = pebble.ca_bundle.display(),
        ),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["playbook", "site.yml", "-i", "inventory/test.ini"];
        args.extend_from_slice(extra);
        let (out, events) = project.ferry_json(&args);

        (out, step_ends(&events))
    };
    let reloads = |i: usize| line_count(&hosts.hosts[i].dir.join("reloads"));
    let chain = |i: usize| hosts.hosts[i].dir.join("ssl/site.test/fullchain.pem");
    let (h1, h2) = (&hosts.hosts[0].address, &hosts.hosts[1].address);

    // 1. `www.site.test` does not lead to these hosts yet: the order fails,
    // but each host keeps a placeholder, so its site loads and nginx runs.
    pebble.point("site.test", h1);
    pebble.point("www.site.test", &elsewhere);
    let (out, steps) = run(&[]);
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    let text = out.stdout.clone() + &out.stderr;
    assert!(
        text.contains("a self-signed placeholder stands in until it is issued"),
        "{text}"
    );
    assert!(
        steps
            .iter()
            .any(|(_, n, st)| n == "Write the nginx site" && st == "changed"),
        "{steps:?}"
    );
    for i in 0..2 {
        let leaf = ferry::certs::leaf(&std::fs::read_to_string(chain(i)).unwrap()).unwrap();
        assert!(leaf.placeholder, "host {i} serves a placeholder");
        // Reloaded once, by `prepare`, before the order: the handler does
        // not run on a failed host.
        assert_eq!(reloads(i), 1, "host {i}");
    }
    let (status, _) = redirect("site.test", h1, pebble.http_port, "/");
    assert_eq!(status, 301, "the new site is live on host1");

    // 2. Fixed: the placeholder is replaced everywhere, through both
    // hosts' nginx, and nginx reloads to serve it.
    pebble.point("www.site.test", h2);
    let (out, steps) = run(&[]);
    assert_eq!(
        out.status,
        0,
        "{}{}\n{}",
        out.stdout,
        out.stderr,
        pebble.log()
    );
    assert!(
        out.stdout
            .contains("only a placeholder on `host1`, `host2`"),
        "{}",
        out.stdout
    );
    assert!(
        steps
            .iter()
            .any(|(_, n, st)| n == "Write the nginx site" && st == "ok"),
        "{steps:?}"
    );
    let root = pebble.dir.join("root.pem");
    std::fs::write(&root, pebble.root_pem()).unwrap();
    for (i, h) in hosts.hosts.iter().enumerate() {
        assert_eq!(reloads(i), 3, "prepare and the handler on host {i}");
        for name in ["site.test", "www.site.test"] {
            assert_eq!(
                https_get(name, &h.address, tls_port, &root),
                Ok(format!("from {}\n", h.name)),
                "https://{name} on {}",
                h.name
            );
        }
        // Plain HTTP: challenges only, everything else to HTTPS.
        assert_eq!(
            redirect("www.site.test", &h.address, pebble.http_port, "/x?y=1"),
            (301, "https://www.site.test/x?y=1".to_string())
        );
        let (status, _) = http_get(
            &h.address,
            pebble.http_port,
            "/.well-known/acme-challenge/missing",
        )
        .unwrap();
        assert_eq!(status, 404, "challenges are not redirected");
    }

    // 3. Again, with pebble gone: nothing due, nothing reloads.
    pebble.stop();
    let (out, steps) = run(&[]);
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        steps.iter().all(|(_, _, st)| st == "ok"),
        "{steps:?}\n{}",
        out.stdout
    );
    for i in 0..2 {
        assert_eq!(reloads(i), 3, "no reload on host {i}");
    }
    drop(running);
}
