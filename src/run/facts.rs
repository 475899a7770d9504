//! Facts: what Ansible's `setup` module reports about a host, gathered in
//! one round trip with `facts.sh` (POSIX tools only: no Python needed on
//! the host), before the plan is compiled, only for the plays whose
//! templates read a fact. A host is gathered once per run, whichever plays
//! want it.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::{ExecArgs, run_plan};
use crate::error::Error;
use crate::plan::{self, Plan};

const SCRIPT: &str = include_str!("facts.sh");

/// Whether a command may gather facts, and with which options.
#[derive(Debug, Clone)]
pub enum Gathering {
    /// Connect to gather when a play reads a fact (the command's options,
    /// else quiet defaults).
    Connect(Option<ExecArgs>),
    /// The command connects to no host: reading a fact is an error that
    /// says this.
    Never(&'static str),
}

impl Default for Gathering {
    fn default() -> Gathering {
        Gathering::Connect(None)
    }
}

/// The name the gather step has in events and the recap.
pub(crate) const STEP: &str = "gather facts";

/// Gathers the facts of `hosts` (each once) from `plan`'s connections:
/// one step per host that runs `facts.sh` for real, even in a dry run (it
/// changes nothing). A host that cannot be reached is reported as a deploy
/// reports it, and nothing else runs.
pub(super) fn gather(
    plan: &Plan,
    hosts: &BTreeSet<String>,
    dir: &Path,
    exec: &ExecArgs,
) -> Result<HashMap<String, Map<String, Value>>, Error> {
    let mut probe = Plan {
        stage: plan.stage.clone(),
        release: plan.release.clone(),
        plays: Vec::new(),
        masker: plan.masker.clone(),
        wants_facts: BTreeSet::new(),
    };
    let mut seen = BTreeSet::new();
    for play in &plan.plays {
        let mut hosts_of_play = Vec::new();
        for host in play.hosts.iter().filter(|h| hosts.contains(&h.host)) {
            if !seen.insert(host.host.clone()) {
                continue;
            }
            let mut step =
                plan::Step::command(STEP, crate::shell::Command::script(command()), "out");
            step.module = "setup".into();
            step.check_mode = Some(false);
            hosts_of_play.push(plan::HostPlan {
                host: host.host.clone(),
                connection: host.connection.clone(),
                steps: vec![step],
                handlers: Vec::new(),
            });
        }
        if !hosts_of_play.is_empty() {
            probe.plays.push(plan::PlayPlan {
                name: STEP.into(),
                pattern: play.pattern.clone(),
                serial: Vec::new(),
                max_fail_percentage: None,
                rollback: play.rollback,
                facts_gathered: false,
                hosts: hosts_of_play,
            });
        }
    }
    // Quiet unless it fails: its recap would read as the run's.
    let quiet = ExecArgs {
        own_report: true,
        quiet: false,
        json: false,
        verbose: false,
        diff: false,
        ..exec.clone()
    };
    let mut facts = HashMap::new();
    let outcome = run_plan(&mut probe, dir, &quiet, false, |results, _| {
        for (host, registered) in results {
            let out = registered["out"]["stdout"].as_str().unwrap_or_default();
            facts.insert(host.clone(), parse(out));
        }
    })?;
    super::finish(&outcome)?;
    Ok(facts)
}

/// `sh -c SCRIPT`, quoted.
fn command() -> String {
    crate::shell::Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .to_string()
}

/// The sections of `facts.sh`'s output: name → lines.
fn sections(text: &str) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut current = "";
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("::") {
            current = name;
            out.entry(current).or_default();
        } else if !current.is_empty() && !line.is_empty() {
            out.entry(current).or_default().push(line);
        }
    }
    out
}

/// Ansible's facts (without the `ansible_` prefix) from `facts.sh`'s output.
pub(crate) fn parse(text: &str) -> Map<String, Value> {
    let s = sections(text);
    let lines = |name: &str| s.get(name).cloned().unwrap_or_default();
    let mut f = Map::new();
    let mut set = |key: &str, value: Value| {
        f.insert(key.to_string(), value);
    };

    let uname = lines("uname");
    let at = |i: usize| uname.get(i).copied().unwrap_or_default().to_string();
    let nodename = at(1);
    set("system", json!(at(0)));
    set("nodename", json!(nodename));
    set(
        "hostname",
        json!(nodename.split('.').next().unwrap_or_default()),
    );
    set("kernel", json!(at(2)));
    set("kernel_version", json!(at(3)));
    set("architecture", json!(at(4)));
    set("machine", json!(at(4)));
    let fqdn = fqdn(&lines("fqdn"), &nodename);
    set(
        "domain",
        json!(fqdn.split_once('.').map(|(_, d)| d).unwrap_or("")),
    );
    set("fqdn", json!(fqdn));

    for (key, value) in distribution(&lines("os-release"), &lines("debian_version")) {
        set(key, value);
    }
    set("lsb", lsb(&lines("lsb_release"), &lines("lsb-release")));
    for (key, value) in processors(&lines("cpuinfo"), &lines("nproc")) {
        set(key, value);
    }
    let meminfo = key_values(&lines("meminfo"), ':');
    let mb = |key: &str| {
        let kb: u64 = meminfo
            .get(key)
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        json!(kb / 1024)
    };
    set("memtotal_mb", mb("MemTotal"));
    set("memfree_mb", mb("MemFree"));
    set("swaptotal_mb", mb("SwapTotal"));
    set("swapfree_mb", mb("SwapFree"));
    set(
        "service_mgr",
        json!(service_mgr(
            lines("init").first().copied().unwrap_or_default(),
            !lines("systemd").is_empty()
        )),
    );
    if let Some(pkg) = pkg_mgr(&lines("pkg")) {
        set("pkg_mgr", json!(pkg));
    }
    if let Some((python, version)) = python(&lines("python")) {
        set("python", python);
        set("python_version", json!(version));
    }
    for (key, value) in user(&lines("user"), &lines("passwd")) {
        set(key, value);
    }
    set("env", env(&lines("env")));
    set("date_time", date_time(&lines("date")));
    for (key, value) in network(&lines("route"), &lines("addresses"), &lines("links")) {
        set(key, value);
    }
    for (key, value) in virtualization(&lines("virt")) {
        set(key, value);
    }
    f
}

/// `KEY<sep>VALUE` lines, values trimmed and unquoted.
fn key_values<'a>(lines: &[&'a str], sep: char) -> HashMap<&'a str, String> {
    lines
        .iter()
        .filter_map(|line| line.split_once(sep))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim(), v.to_string())
        })
        .collect()
}

/// Python's `socket.getfqdn()`: the first of the address's names that has a
/// dot, else its canonical name, else the node name.
fn fqdn(lines: &[&str], nodename: &str) -> String {
    let names: Vec<&str> = lines
        .first()
        .map(|l| l.split_whitespace().skip(1).collect())
        .unwrap_or_default();
    names
        .iter()
        .find(|n| n.contains('.'))
        .or(names.first())
        .map_or_else(|| nodename.to_string(), |n| n.to_string())
}

/// Ansible's name for an os-release `ID`, and its OS family.
fn distribution_names(id: &str, name: &str) -> (String, &'static str) {
    let known = [
        ("debian", "Debian", "Debian"),
        ("ubuntu", "Ubuntu", "Debian"),
        ("linuxmint", "Linux Mint", "Debian"),
        ("raspbian", "Debian", "Debian"),
        ("pop", "Pop!_OS", "Debian"),
        ("kali", "Kali", "Debian"),
        ("devuan", "Devuan", "Debian"),
        ("centos", "CentOS", "RedHat"),
        ("rhel", "RedHat", "RedHat"),
        ("fedora", "Fedora", "RedHat"),
        ("rocky", "Rocky", "RedHat"),
        ("almalinux", "AlmaLinux", "RedHat"),
        ("ol", "OracleLinux", "RedHat"),
        ("amzn", "Amazon", "RedHat"),
        ("opensuse-leap", "openSUSE Leap", "Suse"),
        ("opensuse-tumbleweed", "openSUSE Tumbleweed", "Suse"),
        ("sles", "SLES", "Suse"),
        ("arch", "Archlinux", "Archlinux"),
        ("alpine", "Alpine", "Alpine"),
    ];
    match known.iter().find(|(i, _, _)| *i == id) {
        Some((_, name, family)) => (name.to_string(), family),
        None => (
            name.split_whitespace().next().unwrap_or(id).to_string(),
            "Linux",
        ),
    }
}

/// `distribution*` and `os_family` from /etc/os-release; on Debian the
/// point release from /etc/debian_version, as Ansible reads it.
fn distribution(os_release: &[&str], debian_version: &[&str]) -> Vec<(&'static str, Value)> {
    let kv = key_values(os_release, '=');
    let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
    let (name, family) = distribution_names(&get("ID"), &get("NAME"));
    let mut version = get("VERSION_ID");
    let point = debian_version.first().copied().unwrap_or_default();
    if name == "Debian" && point.starts_with(|c: char| c.is_ascii_digit()) {
        version = point.to_string();
    }
    let major = version.split('.').next().unwrap_or_default().to_string();
    let release = match get("VERSION_CODENAME") {
        r if !r.is_empty() => r,
        _ => get("UBUNTU_CODENAME"),
    };
    vec![
        ("distribution", json!(name)),
        ("distribution_version", json!(version)),
        ("distribution_major_version", json!(major)),
        ("distribution_release", json!(release)),
        ("os_family", json!(family)),
    ]
}

/// `lsb`: from `lsb_release -a` when it exists, else /etc/lsb-release.
fn lsb(command: &[&str], file: &[&str]) -> Value {
    let mut out = Map::new();
    if !command.is_empty() {
        let kv = key_values(command, ':');
        for (from, to) in [
            ("Distributor ID", "id"),
            ("Description", "description"),
            ("Release", "release"),
            ("Codename", "codename"),
        ] {
            if let Some(v) = kv.get(from) {
                out.insert(to.into(), json!(v));
            }
        }
    } else {
        let kv = key_values(file, '=');
        for (from, to) in [
            ("DISTRIB_ID", "id"),
            ("DISTRIB_DESCRIPTION", "description"),
            ("DISTRIB_RELEASE", "release"),
            ("DISTRIB_CODENAME", "codename"),
        ] {
            if let Some(v) = kv.get(from) {
                out.insert(to.into(), json!(v));
            }
        }
    }
    if let Some(release) = out.get("release").and_then(Value::as_str) {
        let major = release.split('.').next().unwrap_or_default().to_string();
        out.insert("major_release".into(), json!(major));
    }
    Value::Object(out)
}

/// Ansible's processor counts (x86): sockets are the distinct `physical
/// id`s, cores per socket the first socket's `cpu cores`, threads per
/// core its `siblings` over that.
fn processors(cpuinfo: &[&str], nproc: &[&str]) -> Vec<(&'static str, Value)> {
    let mut logical = 0u64;
    let mut sockets: indexmap::IndexMap<String, (u64, u64)> = indexmap::IndexMap::new();
    let mut socket = String::new();
    for (key, value) in cpuinfo.iter().filter_map(|l| l.split_once(':')) {
        let value = value.trim();
        let number = value.parse::<u64>().unwrap_or(0);
        match key.trim() {
            "processor" => logical += 1,
            "physical id" => {
                socket = value.to_string();
                sockets.entry(socket.clone()).or_default();
            }
            "cpu cores" => sockets.entry(socket.clone()).or_default().0 = number,
            "siblings" => sockets.entry(socket.clone()).or_default().1 = number,
            _ => {}
        }
    }
    let count = if sockets.is_empty() {
        logical
    } else {
        sockets.len() as u64
    };
    let (cores, siblings) = sockets.values().next().copied().unwrap_or((0, 0));
    let cores = cores.max(1);
    let threads = (siblings / cores).max(1);
    let nproc: u64 = nproc
        .first()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(logical);
    vec![
        ("processor_count", json!(count)),
        ("processor_cores", json!(cores)),
        ("processor_threads_per_core", json!(threads)),
        ("processor_vcpus", json!(threads * count * cores)),
        ("processor_nproc", json!(nproc)),
    ]
}

/// PID 1's name, as Ansible takes it; a plain `init` or a shell says
/// nothing, and systemd's runtime directory decides.
fn service_mgr(init: &str, systemd_dir: bool) -> String {
    let init = init.trim();
    if init.is_empty() || init == "init" || init.ends_with("sh") {
        if systemd_dir { "systemd" } else { "service" }.to_string()
    } else {
        init.to_string()
    }
}

/// The first package manager found, with Ansible's names.
fn pkg_mgr(found: &[&str]) -> Option<&'static str> {
    let names = [
        ("apt-get", "apt"),
        ("dnf5", "dnf5"),
        ("dnf", "dnf"),
        ("yum", "yum"),
        ("zypper", "zypper"),
        ("pacman", "pacman"),
        ("apk", "apk"),
        ("pkg_info", "openbsd_pkg"),
    ];
    names
        .iter()
        .find(|(tool, _)| found.contains(tool))
        .map(|(_, name)| *name)
}

/// `python` and `python_version`, from python3 when the host has it.
fn python(lines: &[&str]) -> Option<(Value, String)> {
    let executable = lines.first()?;
    let parts: Vec<&str> = lines.get(1)?.split_whitespace().collect();
    let [major, minor, micro, level, serial] = parts[..] else {
        return None;
    };
    let n = |s: &str| s.parse::<u64>().unwrap_or(0);
    Some((
        json!({
            "executable": executable,
            "has_sslcontext": lines.get(3) == Some(&"True"),
            "type": lines.get(2).copied().unwrap_or_default(),
            "version": {"major": n(major), "minor": n(minor), "micro": n(micro),
                        "releaselevel": level, "serial": n(serial)},
            "version_info": [n(major), n(minor), n(micro), level, n(serial)],
        }),
        format!("{major}.{minor}.{micro}"),
    ))
}

fn user(id: &[&str], passwd: &[&str]) -> Vec<(&'static str, Value)> {
    let at = |i: usize| id.get(i).copied().unwrap_or_default();
    let n = |s: &str| s.parse::<u64>().map_or(Value::Null, |n| json!(n));
    let fields: Vec<&str> = passwd
        .first()
        .map(|l| l.split(':').collect())
        .unwrap_or_default();
    let field = |i: usize| fields.get(i).copied().unwrap_or_default();
    vec![
        ("user_id", json!(at(0))),
        ("user_uid", n(at(1))),
        ("user_gid", n(at(2))),
        ("user_gecos", json!(field(4))),
        ("user_dir", json!(field(5))),
        ("user_shell", json!(field(6))),
    ]
}

/// The environment, one variable a line (newlines inside values were
/// sent as \001).
fn env(lines: &[&str]) -> Value {
    Value::Object(
        lines
            .iter()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v.replace('\u{1}', "\n"))))
            .collect(),
    )
}

/// Ansible's `date_time`: local fields, and UTC for the ISO 8601 ones.
fn date_time(lines: &[&str]) -> Value {
    let local: Vec<&str> = lines
        .first()
        .map(|l| l.split('|').collect())
        .unwrap_or_default();
    let [
        year,
        month,
        day,
        hour,
        minute,
        second,
        epoch,
        tz,
        tz_offset,
        weekday,
        ..,
    ] = local[..]
    else {
        return json!({});
    };
    let weekday_number = local.get(13).copied().unwrap_or_default();
    let weeknumber = local.get(14).copied().unwrap_or_default();
    let utc = lines.get(1).copied().unwrap_or_default();
    // GNU date's nanoseconds; another date prints `N` or nothing.
    let micro = lines
        .get(2)
        .filter(|n| n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .map_or("000000", |n| &n[..6]);
    json!({
        "year": year, "month": month, "day": day,
        "hour": hour, "minute": minute, "second": second,
        "epoch": epoch, "epoch_int": epoch,
        "date": format!("{year}-{month}-{day}"),
        "time": format!("{hour}:{minute}:{second}"),
        "tz": tz, "tz_offset": tz_offset,
        "weekday": weekday, "weekday_number": weekday_number, "weeknumber": weeknumber,
        "iso8601": format!("{utc}Z"),
        "iso8601_micro": format!("{utc}.{micro}Z"),
        "iso8601_basic": format!("{year}{month}{day}T{hour}{minute}{second}{micro}"),
        "iso8601_basic_short": format!("{year}{month}{day}T{hour}{minute}{second}"),
    })
}

/// `default_ipv4` (the route to a public address, as Ansible asks `ip`
/// for it) and `all_ipv4_addresses` (every address but loopback's).
fn network(route: &[&str], addresses: &[&str], links: &[&str]) -> Vec<(&'static str, Value)> {
    // `N: IFACE inet A.B.C.D/P [brd B] ... scope S LABEL\ ...`
    let mut all = Vec::new();
    let mut by_interface: Vec<(String, String, u8, Option<String>, String)> = Vec::new();
    for line in addresses {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(pos) = words.iter().position(|w| *w == "inet") else {
            continue;
        };
        let Some((address, prefix)) = words.get(pos + 1).and_then(|a| a.split_once('/')) else {
            continue;
        };
        let device = words.get(1).copied().unwrap_or_default().to_string();
        let brd = words
            .iter()
            .position(|w| *w == "brd")
            .and_then(|i| words.get(i + 1))
            .map(|b| b.to_string());
        // The label ends the address part (`eth0`, `eth0:1`).
        let label = words
            .iter()
            .position(|w| *w == "scope")
            .and_then(|i| words.get(i + 2))
            .map(|l| l.trim_end_matches('\\').to_string())
            .filter(|l| !l.is_empty() && !l.contains("valid_lft"))
            .unwrap_or_else(|| device.clone());
        if !address.starts_with("127.") {
            all.push(json!(address));
        }
        by_interface.push((
            device,
            address.to_string(),
            prefix.parse().unwrap_or(32),
            brd,
            label,
        ));
    }
    let mut out = vec![("all_ipv4_addresses", Value::Array(all))];
    let words: Vec<&str> = route
        .first()
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .map(|w| w.to_string())
    };
    let mut default = Map::new();
    if let (Some(interface), Some(address)) = (after("dev"), after("src")) {
        default.insert("interface".into(), json!(interface));
        default.insert("address".into(), json!(address));
        if let Some(gateway) = after("via") {
            default.insert("gateway".into(), json!(gateway));
        }
        if let Some((_, _, prefix, brd, label)) = by_interface
            .iter()
            .find(|(d, a, ..)| *d == interface && *a == address)
        {
            let mask = if *prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(*prefix))
            };
            let ip: Ipv4Addr = address.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            default.insert("prefix".into(), json!(prefix.to_string()));
            default.insert("netmask".into(), json!(Ipv4Addr::from(mask).to_string()));
            default.insert(
                "network".into(),
                json!(Ipv4Addr::from(u32::from(ip) & mask).to_string()),
            );
            default.insert("broadcast".into(), json!(brd.clone().unwrap_or_default()));
            default.insert("alias".into(), json!(label));
        }
        if let Some(link) = links
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&interface.as_str()))
        {
            let kind = match link.get(3).copied() {
                Some("1") => "ether",
                Some("512") => "ppp",
                Some("772") => "loopback",
                _ => "unknown",
            };
            default.insert(
                "macaddress".into(),
                json!(link.get(1).copied().unwrap_or_default()),
            );
            let mtu = link.get(2).and_then(|m| m.parse::<u64>().ok());
            default.insert("mtu".into(), mtu.map_or(Value::Null, |m| json!(m)));
            default.insert("type".into(), json!(kind));
        }
    }
    out.push(("default_ipv4", Value::Object(default)));
    out
}

/// `virtualization_type` and `_role` for containers and virtual machines
/// the host can tell it runs in; a host that cannot tell reports neither.
fn virtualization(lines: &[&str]) -> Vec<(&'static str, Value)> {
    let kind = if lines.contains(&"docker-env") {
        Some("docker")
    } else if lines.contains(&"podman-env") {
        Some("podman")
    } else {
        lines
            .iter()
            .find(|l| !l.ends_with("-env") && **l != "none")
            .copied()
    };
    match kind {
        Some(kind) => vec![
            ("virtualization_type", json!(kind)),
            ("virtualization_role", json!("guest")),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `facts.sh` printed on a Debian 12 container (addresses from
    /// the documentation range).
    const SAMPLE: &str = "\n::uname\nLinux\nweb1.example.org\n6.1.0-28-amd64\n#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)\nx86_64\n\
::fqdn\n127.0.1.1       web1.example.org web1\n\
::os-release\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n\
::debian_version\n12.8\n::lsb-release\n::lsb_release\n\
::cpuinfo\nprocessor\t: 0\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\nprocessor\t: 1\nphysical id\t: 0\nsiblings\t: 4\ncpu cores\t: 2\n\
::nproc\n2\n::meminfo\nMemTotal:        2048000 kB\nMemFree:          1024000 kB\n\
::init\nsystemd\n::systemd\nyes\n::pkg\napt-get\n\
::python\n/usr/bin/python3\n3 11 2 final 0\ncpython\nTrue\n\
::user\ndeploy\n1000\n1000\ndeploy\n::passwd\ndeploy:x:1000:1000:Deploy,,,:/home/deploy:/bin/bash\n\
::env\nHOME=/home/deploy\nMULTI=a\u{1}b\n\
::date\n2026|12|08|02|24|58|1796696698|UTC|+0000|Tuesday|December|Dec|Tue|2|49|342|2\n2026-12-08T02:24:58\n411498340\n\
::route\n1.0.0.0 via 203.0.113.1 dev eth0 src 203.0.113.7 uid 1000\n    cache\n\
::addresses\n1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
2: eth0    inet 203.0.113.7/24 brd 203.0.113.255 scope global eth0\\       valid_lft forever preferred_lft forever\n\
::links\neth0 02:00:00:00:00:07 1500 1\nlo 00:00:00:00:00:00 65536 772\n\
::virt\nsystemd-nspawn\nsystemd-nspawn\n::end\n";

    #[test]
    fn facts_of_a_debian_host_are_ansibles() {
        let f = parse(SAMPLE);
        let get = |k: &str| f[k].clone();
        assert_eq!(get("os_family"), "Debian");
        assert_eq!(get("distribution"), "Debian");
        assert_eq!(get("distribution_version"), "12.8");
        assert_eq!(get("distribution_major_version"), "12");
        assert_eq!(get("distribution_release"), "bookworm");
        assert_eq!(get("hostname"), "web1");
        assert_eq!(get("nodename"), "web1.example.org");
        assert_eq!(get("fqdn"), "web1.example.org");
        assert_eq!(get("domain"), "example.org");
        assert_eq!(get("processor_count"), 1);
        assert_eq!(get("processor_cores"), 2);
        assert_eq!(get("processor_threads_per_core"), 2);
        assert_eq!(get("processor_vcpus"), 4);
        assert_eq!(get("memtotal_mb"), 2000);
        assert_eq!(get("service_mgr"), "systemd");
        assert_eq!(get("pkg_mgr"), "apt");
        assert_eq!(get("python_version"), "3.11.2");
        assert_eq!(get("python")["version"]["minor"], 11);
        assert_eq!(get("python")["has_sslcontext"], true);
        assert_eq!(get("python")["type"], "cpython");
        assert_eq!(get("user_dir"), "/home/deploy");
        assert_eq!(get("user_shell"), "/bin/bash");
        assert_eq!(get("user_uid"), 1000);
        assert_eq!(get("env")["MULTI"], "a\nb");
        assert_eq!(get("date_time")["iso8601"], "2026-12-08T02:24:58Z");
        assert_eq!(
            get("date_time")["iso8601_micro"],
            "2026-12-08T02:24:58.411498Z"
        );
        assert_eq!(get("all_ipv4_addresses"), json!(["203.0.113.7"]));
        assert_eq!(
            get("default_ipv4"),
            json!({"interface": "eth0", "address": "203.0.113.7", "gateway": "203.0.113.1",
                   "prefix": "24", "netmask": "255.255.255.0", "network": "203.0.113.0",
                   "broadcast": "203.0.113.255", "alias": "eth0",
                   "macaddress": "02:00:00:00:00:07", "mtu": 1500, "type": "ether"})
        );
        assert_eq!(get("virtualization_type"), "systemd-nspawn");
    }

    #[test]
    fn a_host_without_python_or_iproute_has_no_such_facts() {
        let f =
            parse("::uname\nLinux\nbox\n6\n#1\naarch64\n::python\n::route\n::addresses\n::end\n");
        assert!(!f.contains_key("python"));
        assert_eq!(f["default_ipv4"], json!({}));
        assert_eq!(f["fqdn"], "box");
        assert_eq!(f["architecture"], "aarch64");
    }

    #[test]
    fn the_script_runs_here() {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .output()
            .unwrap();
        assert!(out.status.success());
        let f = parse(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(f["system"], "Linux");
        assert!(f["memtotal_mb"].as_u64().unwrap() > 0);
    }
}
