//! The built-in systemd units of the `procfile` playbook, rendered as a
//! deploy renders them and checked by systemd's own `systemd-analyze
//! verify` (no running systemd needed).

use std::process::Command;

use ferry::diagnostic::{Source, Span};
use ferry::template::Templates;
use serde_json::json;

fn render(name: &str, vars: serde_json::Value) -> String {
    let text = std::fs::read_to_string(
        crate::support::ferry::repo_root()
            .join("templates")
            .join(name),
    )
    .unwrap();
    let serde_json::Value::Object(vars) = vars else {
        unreachable!()
    };
    let span = Span::new(Source::new(name, text.clone()), 1, 1, 1);
    Templates::new().render(&text, &vars, &span).unwrap()
}

#[test]
fn the_procfile_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let common = json!({
        "app_name": "notes",
        "current_path": dir.path().join("current"),
        "procfile_herd": dir.path().join("shared/bin/herd.sh"),
        "procfile_run_dir": dir.path().join("shared/run"),
        "app_user": "root",
    });
    let mut units = Vec::new();
    for n in 1..=2 {
        let mut vars = common.clone();
        let extra = json!({
            "process": "web",
            "n": n,
            "port": 8000 + n,
            // A `%` is a systemd specifier: it must come out as `%%`.
            "command": "gunicorn --config gunicorn.conf.py --access-logformat '%(h)s' notes.wsgi",
        });
        vars.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let path = dir.path().join(format!("notes-web-{n}.service"));
        std::fs::write(&path, render("systemd/process.service.j2", vars)).unwrap();
        units.push(path);
    }
    let mut vars = common.clone();
    vars.as_object_mut().unwrap().extend(
        json!({"process": "web", "count": 2})
            .as_object()
            .unwrap()
            .clone(),
    );
    let target = dir.path().join("notes-web.target");
    std::fs::write(&target, render("systemd/process.target.j2", vars)).unwrap();
    units.push(target);

    let unit = std::fs::read_to_string(&units[0]).unwrap();
    assert!(unit.contains("%%(h)s"), "{unit}");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("notes-web")).collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}
