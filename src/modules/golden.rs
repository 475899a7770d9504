//! Golden tests: what a module call compiles to, as `ferry playbook --plan
//! --json` shows it — the exact commands sent to the host, every user
//! value quoted by the command builder.

use serde_json::{Value, json};

use super::{Action, Context, compile};
use crate::diagnostic::{Diagnostic, Source, Span};
use crate::yaml::{Node, Value as Yaml};

fn compiled(module: &str, args: Value) -> Result<Value, Diagnostic> {
    let at = Node {
        value: Yaml::Null,
        span: Span::file_start(Source::new("site.yml", "")),
    };
    let render = |source: &std::sync::Arc<Source>| Ok(source.text.clone());
    let lookup = |_: &str| None;
    let cx = Context {
        at: &at,
        args: None,
        project_dir: std::path::Path::new("."),
        render: &render,
        lookup: &lookup,
    };
    let action: Action = compile(module, &args, &cx)?;
    Ok(serde_json::to_value(action).unwrap())
}

#[test]
fn lineinfile_compiles_to_a_read_an_edit_and_an_atomic_write() {
    let got = compiled(
        "lineinfile",
        json!({ "path": "/etc/my app.conf", "regexp": "^port=", "line": "port=8080", "mode": "0640", "owner": "www-data" }),
    )
    .unwrap();
    assert_eq!(
        got,
        json!({
            "kind": "edit",
            "edit": {
                "path": "/etc/my app.conf",
                "change": {
                    "module": "lineinfile",
                    "line": "port=8080",
                    "finder": { "regexp": "^port=" },
                    "present": true,
                    "place": "end",
                    "backrefs": false,
                    "firstmatch": false
                },
                "create": false,
                "mode": "640",
                "owner": "www-data",
                "read": "if [ -f '/etc/my app.conf' ]; then stat -L -c 'present %a %U %G' -- '/etc/my app.conf' && cat -- '/etc/my app.conf'; elif [ -e '/etc/my app.conf' ] || [ -L '/etc/my app.conf' ]; then echo '`/etc/my app.conf` exists and is not a regular file' >&2; exit 1; else echo absent; fi",
                "write": "target=$(readlink -m -- '/etc/my app.conf' ) && tmp=\"$target.ferry-tmp\" && cat > \"$tmp\" && { [ ! -e \"$target\" ] || { chmod --reference=\"$target\" \"$tmp\" && { [ \"$(id -u)\" != 0 ] || chown --reference=\"$target\" \"$tmp\"; }; }; } && chmod 640 \"$tmp\" && chown www-data \"$tmp\" && mv -f -- \"$tmp\" \"$target\"",
                "fix": "chmod 640 '/etc/my app.conf' && chown www-data '/etc/my app.conf'"
            }
        })
    );
}

#[test]
fn a_created_file_gets_its_directory_and_a_hostile_path_stays_one_word() {
    let got = compiled(
        "blockinfile",
        json!({ "path": "/tmp/$(reboot)/x", "block": "a", "create": "yes" }),
    )
    .unwrap();
    let write = got["edit"]["write"].as_str().unwrap();
    assert!(
        write.starts_with("target=$(readlink -m -- '/tmp/$(reboot)/x' ) && tmp=\"$target.ferry-tmp\" && mkdir -p -- \"$(dirname -- \"$target\")\" && cat >"),
        "{write}"
    );
    assert_eq!(
        got["edit"]["change"],
        json!({
            "module": "blockinfile",
            "begin": "# BEGIN ANSIBLE MANAGED BLOCK",
            "end": "# END ANSIBLE MANAGED BLOCK",
            "block": "a",
            "place": "end"
        })
    );
    assert!(got["edit"].get("fix").is_none(), "no attributes wanted");
}

#[test]
fn replace_and_stat_compile_to_their_probes() {
    let got = compiled(
        "replace",
        json!({ "path": "/etc/hosts", "regexp": "\\bold\\b", "replace": "new", "after": "^# start" }),
    )
    .unwrap();
    assert_eq!(
        got["edit"]["change"],
        json!({ "module": "replace", "regexp": "\\bold\\b", "replace": "new", "after": "^# start" })
    );
    let got = compiled("stat", json!({ "path": "/srv/a b" })).unwrap();
    assert_eq!(
        got,
        json!({
            "kind": "stat",
            "stat": {
                "path": "/srv/a b",
                "command": "if [ -e '/srv/a b' ] || [ -L '/srv/a b' ]; then stat -c '%f|%u|%g|%U|%G|%s|%X|%Y|%Z|%h|%i|%d' -- '/srv/a b' || exit 1; readlink -- '/srv/a b' || echo; readlink -f -- '/srv/a b' || echo; { [ -r '/srv/a b' ] && printf r; [ -w '/srv/a b' ] && printf w; [ -x '/srv/a b' ] && printf x; echo; }; if [ -f '/srv/a b' ] && [ ! -L '/srv/a b' ] && [ -r '/srv/a b' ]; then sha1sum -- '/srv/a b' | cut -d' ' -f1; else echo; fi; else echo absent; fi"
            }
        })
    );
}

#[test]
fn bad_arguments_are_errors_that_say_what_is_wrong() {
    let cases = [
        (
            "lineinfile",
            json!({ "path": "/x" }),
            "`lineinfile` with `state: present` needs `line`",
        ),
        (
            "lineinfile",
            json!({ "path": "/x", "line": "a", "regexp": "(" }),
            "`regexp` is not a regular expression ferry can use",
        ),
        (
            "lineinfile",
            json!({ "path": "/x", "line": "a", "backrefs": true }),
            "`backrefs` needs `regexp`",
        ),
        (
            "lineinfile",
            json!({ "path": "/x", "line": "a", "state": "gone" }),
            "`state` must be `present` or `absent`, not `gone`",
        ),
        (
            "replace",
            json!({ "path": "/x" }),
            "module `replace` needs `regexp`",
        ),
        (
            "blockinfile",
            json!({ "path": "/x", "marker": "# fixed" }),
            "the begin and end markers are the same line",
        ),
        (
            "stat",
            json!({ "path": "/x", "checksum_algorithm": "crc" }),
            "`checksum_algorithm` must be one of",
        ),
        ("stat", json!({}), "module `stat` needs `path`"),
    ];
    for (module, args, message) in cases {
        let err = compiled(module, args.clone()).unwrap_err();
        assert!(
            err.message.contains(message),
            "{module} {args}: {}",
            err.message
        );
    }
}

#[test]
fn git_compiles_to_a_probe_of_the_clone_and_the_remote() {
    let got = compiled(
        "git",
        json!({ "repo": "ssh://git@example.org/app.git", "dest": "/srv/app", "version": "main", "accept_hostkey": true, "depth": 1 }),
    )
    .unwrap();
    assert_eq!(got["kind"], "probed");
    assert_eq!(
        got["probed"]["module"],
        json!({
            "module": "git",
            "repo": "ssh://git@example.org/app.git",
            "dest": "/srv/app",
            "version": "main",
            "remote": "origin",
            "force": false,
            "update": true,
            "recursive": true,
            "depth": 1,
            "git": "git",
            "ssh": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
        })
    );
    let probe = got["probed"]["probe"].as_str().unwrap();
    assert!(
        probe.starts_with(
            "# git: probe `/srv/app` and `ssh://git@example.org/app.git`\nrepo=ssh://git@example.org/app.git dest=/srv/app version=main remote=origin git=git\nexport GIT_TERMINAL_PROMPT=0\nexport GIT_SSH_COMMAND='ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new'\n"
        ),
        "{probe}"
    );
    assert!(
        probe.contains(r#"ls-remote -- "$repo" "refs/heads/$version""#),
        "{probe}"
    );
}

#[test]
fn pip_compiles_to_pips_own_dry_run() {
    let got = compiled(
        "pip",
        json!({ "requirements": "/srv/app/requirements.txt", "virtualenv": "/srv/venv", "virtualenv_command": "python3 -m venv", "extra_args": "--no-index --find-links '/srv/wheels dir'" }),
    )
    .unwrap();
    assert_eq!(
        got["probed"]["probe"],
        "# pip: probe the requirements in `/srv/app/requirements.txt` in `/srv/venv`\n[ -x /srv/venv/bin/python ] || { echo venv=missing; exit 0; }\necho venv=ok\n/srv/venv/bin/pip install --dry-run --quiet --disable-pip-version-check --report - --no-index --find-links '/srv/wheels dir' -r /srv/app/requirements.txt"
    );
    assert_eq!(
        got["probed"]["module"]["virtualenv_command"],
        json!(["python3", "-m", "venv"])
    );
}

#[test]
fn control_modules_compile_to_what_they_check() {
    let got = compiled("wait_for", json!({ "port": 8000, "timeout": 10 })).unwrap();
    let probe = got["probed"]["probe"].as_str().unwrap();
    assert!(
        probe.starts_with(
            "# wait_for: port 8000 on 127.0.0.1 to open\ndelay=0 pause=1 timeout=10\n"
        ),
        "{probe}"
    );
    assert!(
        probe.contains("if timeout 5 bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' 127.0.0.1 8000 2>/dev/null; then echo result=ok"),
        "{probe}"
    );
    let got = compiled("ping", json!({})).unwrap();
    assert_eq!(got["probed"]["probe"], "echo pong");
    let got = compiled("fail", json!({ "msg": "stop here" })).unwrap();
    assert_eq!(got, json!({ "kind": "fail", "msg": "stop here" }));
    let got = compiled("assert", json!({ "that": ["a > 1", true] })).unwrap();
    assert_eq!(got["assertion"]["that"][0]["expr"], "a > 1");
    assert_eq!(got["assertion"]["that"][1]["expr"], "true");
}

#[test]
fn get_url_compiles_to_a_probe_of_dest_and_keeps_the_url_off_the_command_line() {
    let got = compiled(
        "get_url",
        json!({ "url": "https://user:pw@example.org/a.tgz", "dest": "/srv/", "checksum": "sha256:ABCDEF" }),
    )
    .unwrap();
    assert_eq!(got["probed"]["module"]["dest"], "/srv/a.tgz");
    assert_eq!(
        got["probed"]["module"]["checksum"],
        json!(["sha256", "abcdef"])
    );
    let probe = got["probed"]["probe"].as_str().unwrap();
    assert!(
        probe.starts_with("# get_url: probe `/srv/a.tgz`\ndest=/srv/a.tgz sum=sha256sum\n"),
        "{probe}"
    );
    assert!(!probe.contains("user:pw"), "{probe}");
    let err = compiled("get_url", json!({ "url": "http://x/", "dest": "/srv/" })).unwrap_err();
    assert!(
        err.message.contains("the URL names no file"),
        "{}",
        err.message
    );
}

#[test]
fn copy_validates_and_backs_up_before_the_rename_and_force_no_only_checks_existence() {
    let got = compiled(
        "copy",
        json!({ "dest": "/etc/sudoers.d/app", "content": "x\n", "validate": "visudo -cf %s", "backup": true, "mode": "0440" }),
    )
    .unwrap();
    assert_eq!(
        got["run"],
        "cat > /etc/sudoers.d/app.ferry-tmp && { [ ! -e /etc/sudoers.d/app ] || chmod --reference=/etc/sudoers.d/app /etc/sudoers.d/app.ferry-tmp ; } && chmod 440 /etc/sudoers.d/app.ferry-tmp && { visudo -cf /etc/sudoers.d/app.ferry-tmp || { rc=$?; rm -f -- /etc/sudoers.d/app.ferry-tmp ; echo '`validate` refused the new content of `/etc/sudoers.d/app`: `visudo -cf %s`' >&2; exit $rc; }; } && { [ ! -f /etc/sudoers.d/app ] || { b=/etc/sudoers.d/app\".$$.$(date +%Y-%m-%d@%H:%M:%S)~\" && cp -p -- /etc/sudoers.d/app \"$b\" && echo \"__ferry_backup=$b\"; }; } && mv -f /etc/sudoers.d/app.ferry-tmp /etc/sudoers.d/app"
    );
    let kept = compiled(
        "template",
        json!({ "src": "Cargo.toml", "dest": "/etc/x", "force": "no" }),
    );
    let kept = kept.unwrap();
    assert_eq!(kept["check"]["command"], "test -e /etc/x");
    let bad = compiled(
        "copy",
        json!({ "dest": "/x", "content": "", "validate": "nginx -t" }),
    );
    assert!(bad.unwrap_err().message.contains("`%s`"));
}

#[test]
fn file_hard_links_beside_the_path_and_recurse_checks_everything_under_it() {
    let hard = compiled(
        "file",
        json!({ "path": "/srv/a b/link", "src": "target", "state": "hard" }),
    )
    .unwrap();
    assert_eq!(
        hard["check"]["command"],
        "[ '/srv/a b/link' -ef '/srv/a b/target' ]"
    );
    assert_eq!(
        hard["run"],
        "[ -e '/srv/a b/target' ] || { echo 'src `target` does not exist (a hard link needs its file)' >&2; exit 1; } && if [ -d '/srv/a b/link' ] && [ ! -L '/srv/a b/link' ]; then { echo '`/srv/a b/link` is a directory: it is not replaced by a hard link without `force: yes`' >&2; exit 1; }; elif [ -e '/srv/a b/link' ] && [ ! -L '/srv/a b/link' ]; then { echo '`/srv/a b/link` exists: it is not replaced by a hard link without `force: yes`' >&2; exit 1; }; fi && ln -f -- '/srv/a b/target' '/srv/a b/link'"
    );
    let tree = compiled(
        "file",
        json!({ "path": "/srv/app", "state": "directory", "recurse": true, "mode": 488, "owner": "app" }),
    )
    .unwrap();
    assert_eq!(
        tree["check"]["command"],
        "[ -d /srv/app ] && [ -z \"$(find /srv/app \\( ! -perm 0750 -o ! -user app \\) -print -quit)\" ]"
    );
    assert_eq!(
        tree["run"],
        "mkdir -p /srv/app && chmod -R 750 /srv/app && chown -R app /srv/app"
    );
}

#[test]
fn copy_of_a_directory_sends_one_archive_and_checks_every_file_by_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("site/css")).unwrap();
    std::fs::write(dir.path().join("site/css/a b.css"), "x").unwrap();
    let src = format!("{}/site", dir.path().display());
    let got = compiled("copy", json!({ "src": src, "dest": "/srv/www/" })).unwrap();
    assert_eq!(
        got["check"]["command"],
        "cd -- /srv/www/site 2>/dev/null && [ -d css ] && printf '%s\\n' '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881  ./css/a b.css' | sha256sum -c --status --strict -"
    );
    assert_eq!(
        got["run"],
        "mkdir -p -- /srv/www/site && tar -x -m --no-same-owner -f - -C /srv/www/site"
    );
    assert_eq!(got["upload"]["dest"], "/srv/www/site");
    let contents = compiled(
        "copy",
        json!({ "src": format!("{src}/"), "dest": "/srv/www" }),
    )
    .unwrap();
    assert_eq!(contents["upload"]["dest"], "/srv/www");
    let moded = compiled(
        "copy",
        json!({ "src": src, "dest": "/srv", "mode": "0644" }),
    );
    assert!(moded.unwrap_err().message.contains("does not take `mode`"));
}

#[test]
fn copy_with_remote_src_compares_and_copies_on_the_host() {
    let got = compiled(
        "copy",
        json!({ "src": "/etc/a", "dest": "/etc/b", "remote_src": true }),
    )
    .unwrap();
    assert_eq!(got["check"]["command"], "cmp -s -- /etc/a /etc/b");
    assert_eq!(
        got["run"],
        "cp -- /etc/a /etc/b.ferry-tmp && { [ ! -e /etc/b ] || chmod --reference=/etc/b /etc/b.ferry-tmp ; } && mv -f /etc/b.ferry-tmp /etc/b"
    );
    assert!(got.get("upload").is_none());
}

#[test]
fn dnf_checks_with_rpm_and_check_update_and_package_asks_the_host_which_manager_it_has() {
    let got = compiled(
        "dnf",
        json!({ "name": ["nginx", "python3-pip"], "state": "latest", "update_cache": true }),
    )
    .unwrap();
    assert_eq!(
        got["check"]["command"],
        "rpm -q --whatprovides nginx >/dev/null 2>&1 && rpm -q --whatprovides python3-pip >/dev/null 2>&1 && { dnf -q check-update nginx python3-pip >/dev/null 2>&1; [ $? -eq 0 ]; }"
    );
    assert_eq!(
        got["run"],
        "dnf -y -q --refresh install nginx python3-pip && dnf -y -q --refresh upgrade nginx python3-pip"
    );
    let yum = compiled("yum", json!({ "name": "httpd", "state": "absent" })).unwrap();
    assert_eq!(
        yum["check"]["command"],
        "! rpm -q --whatprovides httpd >/dev/null 2>&1"
    );
    assert_eq!(yum["run"], "yum -y -q remove httpd");

    let got = compiled("package", json!({ "name": "nginx" })).unwrap();
    assert_eq!(
        got["check"]["command"],
        "if command -v apt-get >/dev/null 2>&1; then\n[ \"$(dpkg-query -W -f='${db:Status-Status}' nginx 2>/dev/null)\" = installed ]\nelif command -v dnf >/dev/null 2>&1; then\nrpm -q --whatprovides nginx >/dev/null 2>&1\nelif command -v yum >/dev/null 2>&1; then\nrpm -q --whatprovides nginx >/dev/null 2>&1\nelse false\nfi"
    );
    let run = got["run"].as_str().unwrap();
    assert!(
        run.starts_with("if command -v apt-get >/dev/null 2>&1; then\n# apt: present nginx\n"),
        "{run}"
    );
    assert!(run.ends_with("elif command -v yum >/dev/null 2>&1; then\nyum -y -q install nginx\nelse echo '`package` found no `apt-get` or `dnf` or `yum` on the host' >&2; exit 1\nfi"), "{run}");
    assert_eq!(got["check"]["satisfied"], "`nginx` installed");
}

#[test]
fn apt_repository_appends_the_line_to_ansibles_file_and_refreshes_and_apt_key_writes_a_keyring() {
    let got = compiled(
        "apt_repository",
        json!({ "repo": "deb  [signed-by=/etc/apt/keyrings/pg.asc] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" }),
    )
    .unwrap();
    let line = "'deb [signed-by=/etc/apt/keyrings/pg.asc] http://apt.postgresql.org/pub/repos/apt bookworm-pgdg main'";
    assert_eq!(
        got["check"]["command"],
        format!("grep -qsxF -- {line} /etc/apt/sources.list /etc/apt/sources.list.d/*.list")
    );
    assert_eq!(
        got["run"],
        format!(
            "printf '%s\\n' {line} >> /etc/apt/sources.list.d/apt_postgresql_org_pub_repos_apt.list && chmod 644 /etc/apt/sources.list.d/apt_postgresql_org_pub_repos_apt.list && apt-get update -q"
        )
    );
    let ppa = compiled("apt_repository", json!({ "repo": "ppa:deadsnakes/ppa" }));
    assert!(ppa.unwrap_err().message.contains("does not resolve PPAs"));

    let key = compiled(
        "apt_key",
        json!({ "url": "https://example.com/key.asc", "keyring": "/etc/apt/keyrings/x.asc" }),
    )
    .unwrap();
    assert_eq!(key["kind"], "probed");
    assert_eq!(key["probed"]["module"]["module"], "get_url");
    let data = compiled(
        "apt_key",
        json!({ "data": "KEY", "keyring": "/etc/apt/keyrings/x.asc" }),
    )
    .unwrap();
    assert_eq!(data["upload"]["dest"], "/etc/apt/keyrings/x.asc");
    let old = compiled("apt_key", json!({ "url": "https://example.com/key.asc" }));
    assert!(old.unwrap_err().message.contains("needs `keyring`"));
}

#[test]
fn cron_reads_and_installs_the_users_crontab_through_crontab_itself() {
    let got = compiled(
        "cron",
        json!({ "name": "backup", "user": "deploy", "hour": 3, "minute": "0", "job": "/srv/backup.sh" }),
    )
    .unwrap();
    assert_eq!(
        got["edit"]["read"],
        "if crontab -u deploy -l >/dev/null 2>&1; then echo present 600 deploy crontab && crontab -u deploy -l; else echo absent; fi"
    );
    assert_eq!(got["edit"]["write"], "crontab -u deploy -");
    assert_eq!(
        got["edit"]["change"],
        json!({ "module": "cron", "name": "backup", "line": "0 3 * * * /srv/backup.sh" })
    );
    let file = compiled(
        "cron",
        json!({ "name": "sweep", "cron_file": "sweep", "user": "root", "special_time": "hourly", "job": "x" }),
    )
    .unwrap();
    assert_eq!(file["edit"]["path"], "/etc/cron.d/sweep");
    assert_eq!(file["edit"]["change"]["line"], "@hourly root x");
    let no_user = compiled("cron", json!({ "name": "s", "cron_file": "s", "job": "x" }));
    assert!(no_user.unwrap_err().message.contains("needs `user`"));
}

#[test]
fn supervisorctl_checks_status_and_starts_only_what_is_not_running() {
    let got = compiled(
        "supervisorctl",
        json!({ "name": "web:", "state": "started", "config": "/etc/supervisor/supervisord.conf" }),
    )
    .unwrap();
    let sc = "supervisorctl -c /etc/supervisor/supervisord.conf";
    assert_eq!(
        got["check"]["command"],
        format!(
            "{sc} status 'web:*' 2>&1 | awk '{{ n++ }} $2 == \"ERROR\" || !($2 == \"RUNNING\") {{ bad = 1 }} END {{ exit (n == 0 || bad) }}'"
        )
    );
    let run = got["run"].as_str().unwrap();
    assert!(
        run.ends_with(&format!("| awk '!($2 == \"RUNNING\") {{ print $1 }}' | while read -r p; do {sc} start \"$p\" || exit 1; done")),
        "{run}"
    );
    assert!(
        run.contains(&format!("{sc} reread && {sc} add web;")),
        "{run}"
    );
    let restart = compiled(
        "supervisorctl",
        json!({ "name": "app", "state": "restarted" }),
    )
    .unwrap();
    assert!(restart.get("check").is_none());
    assert_eq!(
        super::canonical("community.general.supervisorctl"),
        Some("supervisorctl")
    );
    assert_eq!(super::canonical("community.general.copy"), None);
}

#[test]
fn nginx_reload_quotes_the_nginx_command_line_into_its_script() {
    let got = compiled(
        "nginx.reload",
        json!({"binary": "/opt/my nginx/sbin/nginx", "prefix": "/srv/a b", "config": "/srv/a b/nginx.conf", "timeout": 5}),
    )
    .unwrap();
    assert_eq!(got["kind"], "remote");
    let script = got["run"].as_str().unwrap();
    assert!(script.contains("timeout=5 prefix='/srv/a b'\n"), "{script}");
    assert!(
        script
            .contains("set -- '/opt/my nginx/sbin/nginx' -p '/srv/a b' -c '/srv/a b/nginx.conf'\n"),
        "{script}"
    );
    let err = compiled("nginx.reload", json!({"timeout": "soon"})).unwrap_err();
    assert!(err.to_string().contains("whole number of seconds"), "{err}");
}
