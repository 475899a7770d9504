//! `nginx.reload` on a real nginx: the step returns once nginx serves the
//! new configuration, and fails, naming nginx's own error, when nginx keeps
//! the old one — which `nginx -t && nginx -s reload` reports as success.

use std::net::TcpListener;

use crate::support::apps::http_get;
use crate::support::ferry::{Project, step_ends};
use crate::support::nginx::start_nginx;
use crate::support::pebble::port_free_on;
use crate::support::sshd::TestHosts;

#[test]
fn nginx_reload_returns_once_the_new_site_serves_and_fails_when_nginx_keeps_the_old_one() {
    let hosts = TestHosts::start(1);
    let host = &hosts.hosts[0];
    let address = host.address.as_str();
    let (_, prefix, _nginx) = start_nginx(&host.dir);
    let project = Project::with_hosts(&hosts);
    project.file(
        "site.yml",
        &format!(
            r#"- hosts: web
  tasks:
    - name: Write the site
      copy:
        dest: {prefix}/sites/site.conf
        content: "server {{ listen {address}:{{{{ port }}}}; return 200 '{{{{ body }}}}'; }}\n"
      notify: Reload nginx
  handlers:
    - name: Reload nginx
      nginx.reload:
        config: {prefix}/nginx.conf
        prefix: {prefix}/
"#,
            prefix = prefix.display()
        ),
    );
    let run = |port: u16, body: &str| {
        let (port, body) = (format!("port={port}"), format!("body={body}"));
        let (out, events) = project.ferry_json(&[
            "playbook",
            "site.yml",
            "-i",
            "inventory/test.ini",
            "-e",
            &port,
            "-e",
            &body,
        ]);
        let steps: Vec<(String, String)> = step_ends(&events)
            .into_iter()
            .map(|(_, name, status)| (name, status))
            .collect();
        (out, steps)
    };
    let changed = |name: &str| (name.to_string(), "changed".to_string());

    // Each site is asked once, right after the run: no retry.
    let one = port_free_on(&[address]);
    let (out, steps) = run(one, "one");
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(steps, [changed("Write the site"), changed("Reload nginx")]);
    assert_eq!(http_get(address, one, "/"), Ok((200, "one".into())));

    let (out, steps) = run(one, "one");
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        steps,
        [("Write the site".into(), "ok".into())],
        "nothing to reload"
    );

    let two = port_free_on(&[address]);
    let (out, _) = run(two, "two");
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(http_get(address, two, "/"), Ok((200, "two".into())));

    // A port something else holds: `nginx -t` passes, the master cannot
    // bind and keeps its old workers.
    let holder = TcpListener::bind((address, 0)).unwrap();
    let held = holder.local_addr().unwrap().port();
    let (out, steps) = run(held, "held");
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        steps.last(),
        Some(&("Reload nginx".into(), "failed".into()))
    );
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("nginx kept its old configuration"), "{text}");
    assert!(text.contains("Address already in use"), "{text}");
    assert_eq!(
        http_get(address, two, "/"),
        Ok((200, "two".into())),
        "the old site still serves"
    );
}
