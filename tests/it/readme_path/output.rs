//! What ferry prints, read back: the step lines of the plain output (off a
//! terminal), `ferry releases`, `ferry run`'s sections, the offline plan as
//! text and as JSON, and how a plan compares with the deploy after it.

/// One step's end as the plain output (off a terminal) prints it:
/// `TIME HOST STATUS: NAME (TIME)`, then its indented reason lines.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) host: String,
    pub(super) status: String,
    pub(super) name: String,
    pub(super) reason: String,
}

pub(super) fn steps(stdout: &str) -> Vec<Step> {
    let line = regex::Regex::new(r"^\S+ (\S+) ([a-z]+): (.*) \(\d+(?:\.\d+)?s\)$").unwrap();
    let mut steps: Vec<Step> = Vec::new();
    for text in stdout.lines() {
        if let Some(c) = line.captures(text).filter(|c| &c[2] != "done") {
            steps.push(Step {
                host: c[1].to_string(),
                status: c[2].to_string(),
                name: c[3].to_string(),
                reason: String::new(),
            });
        } else if let (true, Some(last)) = (text.starts_with("    "), steps.last_mut()) {
            last.reason.push_str(text.trim());
            last.reason.push('\n');
        }
    }
    steps
}

/// The steps of `host` named `name`.
pub(super) fn named<'a>(steps: &'a [Step], host: &str, name: &str) -> Vec<&'a Step> {
    steps
        .iter()
        .filter(|s| s.host == host && s.name == name)
        .collect()
}

/// The releases `ferry releases` lists for `host`: `(is current, id)`.
pub(super) fn releases_of(stdout: &str, host: &str) -> Vec<(bool, String)> {
    let mut listed = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if !line.starts_with(' ') {
            inside = line.trim() == host;
            continue;
        }
        if inside {
            let current = line.trim_start().starts_with('*');
            let id = line
                .trim_start()
                .trim_start_matches('*')
                .split_whitespace()
                .next();
            if let Some(id) = id {
                listed.push((current, id.to_string()));
            }
        }
    }
    listed
}

/// Where `deployed` differs from what `planned` said, one line per step:
/// steps are matched by host, name and how many of that name came before.
/// Unless `exactly`, only what the plan hid counts — a step that acted
/// where the plan said it would not, or a plan that failed or never got
/// there — and not a change foretold that an earlier step made needless
/// (on fresh hosts, loading the new programs starts them: the restart
/// then finds them serving).
/// Steps by host, name and occurrence (a loop repeats a name).
fn keyed(steps: &[Step]) -> std::collections::BTreeMap<(String, String, i32), &Step> {
    let mut seen = std::collections::HashMap::new();
    steps
        .iter()
        .map(|s| {
            let n = seen.entry((s.host.clone(), s.name.clone())).or_insert(0);
            *n += 1;
            ((s.host.clone(), s.name.clone(), *n), s)
        })
        .collect()
}

pub(super) fn mispredictions(planned: &[Step], deployed: &[Step], exactly: bool) -> Vec<String> {
    let (planned, deployed) = (keyed(planned), keyed(deployed));
    let mut lines = Vec::new();
    for (key, did) in &deployed {
        let said = planned.get(key).map_or("nothing", |s| s.status.as_str());
        let did_status = did.status.as_str();
        // What a plan cannot do and says so is no misprediction: a check
        // it could not run (`skipped`, with why) that the deploy ran and
        // found right (`ok`); a probe that exists for the plan only
        // (`when: ansible_check_mode`), which the deploy skips.
        let unrunnable_check = said == "skipped" && did_status == "ok";
        let plan_only = did_status == "skipped" && did.reason.contains("ansible_check_mode");
        let hidden = did_status == "changed" || said == "failed" || said == "nothing";
        if said != did_status && !unrunnable_check && !plan_only && (exactly || hidden) {
            lines.push(format!(
                "{} `{}`: planned {said}, did {did_status}",
                key.0, key.1
            ));
        }
    }
    for (key, said) in &planned {
        if !deployed.contains_key(key) {
            lines.push(format!(
                "{} `{}`: planned {}, never ran",
                key.0, key.1, said.status
            ));
        }
    }
    lines
}

/// Whether a skip reason is a `when:` on inventory or play variables only
/// (false on every run alike), not on a registered result.
pub(super) fn static_condition(reason: &str) -> bool {
    [
        "process_manager == 'systemd'",
        "nginx | default(true)",
        "certificates | default([])",
    ]
    .iter()
    .any(|c| reason.contains(&format!("`when: {c}` is false")))
}

/// What `ferry run` printed per host, in its `── HOST (rc 0) ──` sections
/// (the hosts whose command exited 0).
pub(super) fn run_outputs(stdout: &str) -> Vec<(String, String)> {
    let header = regex::Regex::new(r"^── (\S+) \(rc (\d+)\) ──$").unwrap();
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in stdout.lines() {
        if let Some(c) = header.captures(line) {
            inside = &c[2] == "0";
            if inside {
                sections.push((c[1].to_string(), String::new()));
            }
        } else if line.is_empty() || line.starts_with("host ") {
            inside = false;
        } else if let (true, Some(last)) = (inside, sections.last_mut()) {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    sections
}

/// Release ids carry the time of compiling: two plans differ in them only.
pub(super) fn strip_release_ids(text: &str) -> String {
    regex::Regex::new(r"\d{14}-[0-9a-f]{7}")
        .unwrap()
        .replace_all(text, "RELEASE")
        .into_owned()
}

/// The offline plan as data has the hosts and the steps of the text, each
/// with its loop item.
pub(super) fn assert_same_plan(text: &str, plan: &serde_json::Value) {
    let heading = regex::Regex::new(r"^  (\S+) \(").unwrap();
    let step = regex::Regex::new(r"^ +\d+\. (.*)$").unwrap();
    let kinds = regex::Regex::new(r"( \[[a-z._]+\])+$").unwrap();
    let mut from_text: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(c) = heading.captures(line) {
            from_text.push((c[1].to_string(), Vec::new()));
        } else if let (Some(c), Some(last)) = (step.captures(line), from_text.last_mut()) {
            last.1.push(kinds.replace(&c[1], "").into_owned());
        }
    }
    let mut from_json: Vec<(String, Vec<String>)> = Vec::new();
    for play in plan["plays"].as_array().cloned().unwrap_or_default() {
        for host in play["hosts"].as_array().cloned().unwrap_or_default() {
            let names = host["steps"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let name = s["name"].as_str().unwrap_or_default();
                    match &s["item"] {
                        serde_json::Value::Null => name.to_string(),
                        serde_json::Value::String(item) => format!("{name} (item={item})"),
                        item => format!("{name} (item={item})"),
                    }
                })
                .collect();
            from_json.push((host["host"].as_str().unwrap_or_default().to_string(), names));
        }
    }
    assert!(!from_text.is_empty(), "no host in the plan:\n{text}");
    assert_eq!(
        from_json, from_text,
        "`--json` gives another plan than the text"
    );
}
