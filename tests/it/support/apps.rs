//! Real app hosting for end-to-end deploys: a supervisord per test host,
//! the Python wheels the example apps install (downloaded by .ci/run, so
//! tests never leave loopback), and a copy of an example app in its own git
//! repository with an inventory for the test hosts.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ferry::{Project, repo_root};
use super::fleet::Fleet;
use super::git::{commit_all, git};
use super::sshd::TestHosts;

/// The wheelhouse `.ci/run` fills from `tests/apps/requirements.txt`.
pub fn wheelhouse() -> PathBuf {
    let dir = repo_root().join("target/wheelhouse");
    assert!(
        dir.join(".complete").exists() || std::fs::read_dir(&dir).is_ok_and(|d| d.count() > 3),
        "no Python wheels in {}: run `bash .ci/run` (or `python3 -m pip download --dest target/wheelhouse -r tests/apps/requirements.txt`) first",
        dir.display()
    );
    dir
}

/// One supervisord per test host, each with its own socket and `conf.d`.
pub struct Supervisors {
    children: Vec<Child>,
    /// Per host: (supervisord.conf, conf.d directory).
    pub configs: Vec<(PathBuf, PathBuf)>,
}

impl Supervisors {
    pub fn start(hosts: &TestHosts) -> Supervisors {
        let mut set = Supervisors {
            children: Vec::new(),
            configs: Vec::new(),
        };
        for host in &hosts.hosts {
            let dir = host.dir.join("supervisor");
            let conf_d = dir.join("conf.d");
            std::fs::create_dir_all(&conf_d).unwrap();
            let conf = dir.join("supervisord.conf");
            let d = dir.display();
            std::fs::write(
                &conf,
                format!(
                    "[unix_http_server]\nfile={d}/supervisor.sock\n\n\
                     [supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchilddir={d}\nchildlogdir={d}\n\n\
                     [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
                     [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n\
                     [include]\nfiles = {}/*.conf\n",
                    conf_d.display()
                ),
            )
            .unwrap();
            let child = Command::new("supervisord")
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start supervisord (apt-get install supervisor)");
            set.children.push(child);
            let socket = dir.join("supervisor.sock");
            let deadline = Instant::now() + Duration::from_secs(10);
            while !socket.exists() {
                assert!(Instant::now() < deadline, "supervisord did not start: {d}");
                std::thread::sleep(Duration::from_millis(50));
            }
            set.configs.push((conf, conf_d));
        }
        set
    }
}

impl Drop for Supervisors {
    fn drop(&mut self) {
        // TERM: supervisord stops its programs (process groups) and exits.
        for child in &self.children {
            terminate(child.id());
        }
        for child in &mut self.children {
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// The secret every test app's stage carries: it must never be printed.
pub const SECRET: &str = "s3cret-greeting-9f2c";

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An example app copied into a fresh git repository (one commit), with
/// `inventory/test.yml` placing it on `hosts`, supervised by `supervisors`.
pub struct App {
    pub project: Project,
    /// The first web port on each host (on the host's own address).
    pub port: u16,
}

impl App {
    pub fn new(example: &str, hosts: &TestHosts, supervisors: &Supervisors, extra: &str) -> App {
        let project = Project::example(example, "test", &format!("secret_key: {SECRET}\n"));
        let _ = std::fs::remove_dir_all(project.path().join("inventory"));
        let port = 20000 + (super::sshd::random() % 20000) as u16;
        let mut inventory = String::from("all:\n  children:\n    web:\n      hosts:\n");
        for (host, (conf, conf_d)) in hosts.hosts.iter().zip(&supervisors.configs) {
            inventory.push_str(&format!(
                "        {name}:\n          ansible_host: {addr}\n          ansible_port: {port_}\n          ansible_user: {user}\n          ansible_ssh_private_key_file: {key}\n          deploy_to: {deploy}\n          gunicorn_host: {addr}\n          supervisor_conf_dir: {conf_d}\n          supervisorctl: supervisorctl -c {conf}\n",
                name = host.name,
                addr = host.address,
                port_ = host.port,
                user = host.user,
                key = host.key.display(),
                deploy = host.dir.join("app").display(),
                conf_d = conf_d.display(),
                conf = conf.display(),
            ));
        }
        inventory.push_str(&format!(
            "  vars:\n    nginx: false\n    procfile_become: false\n    procfile_port: {port}\n    pip_args: --no-index --find-links {}\n{extra}",
            wheelhouse().display()
        ));
        project.file("inventory/test.yml", &inventory);
        App::commit_first(project, &hosts.known_hosts, port)
    }

    /// An example with the inventory it ships, `inventory/local.yml`, byte
    /// for byte, as README.md and examples/demo-local.sh use it: its hosts `web1`…
    /// are pointed at `hosts` (in order) by `inventory/host_vars/` files,
    /// which outrank what the bundled file says, with `vars` (YAML lines)
    /// added to each. Whatever the bundled file says beyond addresses, ports,
    /// key, port numbers and where each host's files live is what runs.
    pub fn bundled(example: &str, hosts: &TestHosts, vars: &str) -> App {
        let project = Project::example(example, "local", &format!("secret_key: {SECRET}\n"));
        let port = 20000 + (super::sshd::random() % 20000) as u16;
        for (n, host) in hosts.hosts.iter().enumerate() {
            project.file(
                &format!("inventory/host_vars/web{}.yml", n + 1),
                &format!(
                    "ansible_host: {addr}\nansible_port: {ssh}\nansible_user: {user}\nansible_ssh_private_key_file: {key}\ngunicorn_host: {addr}\nhost_root: {root}\nprocfile_port: {port}\npip_args: --no-index --find-links {wheels}\n{vars}",
                    addr = host.address,
                    ssh = host.port,
                    user = host.user,
                    key = host.key.display(),
                    root = host.dir.display(),
                    wheels = wheelhouse().display(),
                ),
            );
        }
        App::commit_first(project, &hosts.known_hosts, port)
    }

    /// An example on fleet servers, with `inventory` as `inventory/test.yml`
    /// (see [`Fleet::inventory`]) and `secrets` (YAML lines) beside the
    /// secret key; its web processes listen from `port` up.
    pub fn on_fleet(
        example: &str,
        fleet: &Fleet,
        inventory: &str,
        secrets: &str,
        port: u16,
    ) -> App {
        let project =
            Project::example(example, "test", &format!("secret_key: {SECRET}\n{secrets}"));
        let _ = std::fs::remove_dir_all(project.path().join("inventory"));
        project.file("inventory/test.yml", inventory);
        App::commit_first(project, &fleet.known_hosts, port)
    }

    /// Trusts the keys in `known_hosts` (the project is HOME) and commits
    /// everything as `v1`.
    fn commit_first(project: Project, known_hosts: &Path, port: u16) -> App {
        let known = std::fs::read_to_string(known_hosts).unwrap();
        project.file(".ssh/known_hosts", &known);
        commit_all(project.path(), "v1");
        App { project, port }
    }

    /// Writes `text` to `relative` and commits it as `message`.
    pub fn commit(&self, relative: &str, text: &str, message: &str) {
        self.project.file(relative, text);
        commit_all(self.project.path(), message);
    }

    pub fn head(&self) -> String {
        git(self.project.path(), &["rev-parse", "HEAD"])
    }
}

/// `GET path` from `address:port`: the status and body, or why not.
pub fn http_get(address: &str, port: u16, path: &str) -> Result<(u16, String), String> {
    http_get_as(address, port, address, path)
}

/// [`http_get`] naming the site `host` (the `Host:` header nginx picks a
/// server block by).
pub fn http_get_as(
    address: &str,
    port: u16,
    host: &str,
    path: &str,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(
        &format!("{address}:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .map_err(|e| e.to_string())?;
    stream
        // Slow is not dropped: on a loaded machine (containers booting
        // beside the test) an answer can take seconds.
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not HTTP: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Requests sent, one after another per address, while something happens:
/// how many were sent and what every failed one got.
pub struct Poller {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Poller {
    /// Polls `GET path` on each `(address, port)` every 20 ms until stopped.
    pub fn start(targets: &[(String, u16)], path: &str) -> Poller {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = targets
            .iter()
            .map(|(address, port)| {
                let (stop, address, port, path) =
                    (stop.clone(), address.clone(), *port, path.to_string());
                std::thread::spawn(move || {
                    let (mut sent, mut errors) = (0, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        sent += 1;
                        match http_get(&address, port, &path) {
                            Ok((200, _)) => {}
                            other => errors.push(format!("{address}:{port} {other:?}")),
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    (sent, errors)
                })
            })
            .collect();
        Poller { stop, threads }
    }

    /// Stops polling: (requests sent, the failures).
    pub fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut sent, mut errors) = (0, Vec::new());
        for thread in self.threads {
            let (n, mut e) = thread.join().unwrap();
            sent += n;
            errors.append(&mut e);
        }
        (sent, errors)
    }
}
