//! Real Debian servers for the tests that need what a VPS has: systemd as
//! PID 1, a `deploy` user with sudo, apt, system services. Each server is a
//! systemd-nspawn container booted by `tests/fleet/fleet` from a cached
//! Debian 12 image (plus the packages the test asks for), with its own
//! writable layer, fresh host keys and its own address `127.8.S.N` (S: a
//! slot this process holds a lock on, so parallel tests never share one).
//!
//! The network is the machine's: a service on a server must listen on the
//! server's address (or a unix socket), never on 0.0.0.0 or 127.0.0.1.
//! Servers are stopped by PID when the fleet is dropped, even after a panic,
//! and when the test process dies (the parent-death signal).

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository (the `fleet` script, the image cache in target/); this
/// file is also part of the benchmarks, which have no `support::ferry`.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What to boot: servers by name, each with the packages it needs.
pub struct FleetSpec {
    servers: Vec<(String, Vec<String>)>,
    sudo_password: Option<String>,
    key: Option<PathBuf>,
    /// Fresh servers: root only, with an apt repository.
    fresh: bool,
}

/// One booted server.
pub struct Server {
    pub name: String,
    pub address: String,
    /// Its writable layer and logs.
    pub dir: PathBuf,
    /// `ADDRESS ssh-ed25519 KEY`, for known_hosts.
    pub known_hosts_line: String,
    child: Child,
}

/// A set of booted servers; stopped when dropped.
pub struct Fleet {
    pub servers: Vec<Server>,
    /// The client key that logs in as `root` and `deploy` everywhere.
    pub key: PathBuf,
    /// A known_hosts file trusting exactly these servers.
    pub known_hosts: PathBuf,
    /// The password `deploy` gives sudo, when the fleet asks for one.
    pub sudo_password: Option<String>,
    /// Servers as a VPS provider hands them over: no `deploy` user.
    pub fresh: bool,
    pub root: PathBuf,
    /// The nftables table cutting servers off, when one is cut.
    cut_table: String,
    _slot: File,
}

impl FleetSpec {
    /// A server named `name` with `packages` installed (apt, in the image).
    pub fn server(mut self, name: &str, packages: &[&str]) -> FleetSpec {
        self.servers.push((
            name.to_string(),
            packages.iter().map(|p| p.to_string()).collect(),
        ));
        self
    }

    /// `deploy`'s sudo asks for this password (by default it asks none).
    pub fn sudo_password(mut self, password: &str) -> FleetSpec {
        self.sudo_password = Some(password.to_string());
        self
    }

    /// Servers as a VPS provider hands them over, for `ferry setup`: root
    /// logs in with the key, there is no `deploy` user, and apt's only
    /// source is a local repository holding what `ferry setup` installs and
    /// what that needs (fetched once from the Debian mirror, like the
    /// image), so that apt works on a network that stays on loopback.
    pub fn fresh(mut self) -> FleetSpec {
        self.fresh = true;
        self
    }

    /// Logs in with this key (its `.pub` beside it) instead of a new one.
    pub fn key(mut self, key: &std::path::Path) -> FleetSpec {
        self.key = Some(key.to_path_buf());
        self
    }

    /// Builds the images (once per package set, cached), boots every server
    /// at once and waits until each has finished booting.
    pub fn start(self) -> Fleet {
        assert!(
            unsafe { libc::geteuid() } == 0,
            "the fleet needs root (debootstrap, mount, systemd-nspawn): run the tests as root"
        );
        let (slot_number, slot) = take_slot();
        let root =
            std::env::temp_dir().join(format!("ferry-fleet-{}-{slot_number}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create fleet root");
        let key = match &self.key {
            Some(key) => key.clone(),
            None => {
                let key = root.join("client_ed25519");
                super::sshd::new_key(&key, "ed25519", "");
                key
            }
        };
        // The example apps' Python packages, at the same path inside.
        let binds = repo_root().join("target/wheelhouse");
        let apt_repo = self.fresh.then(|| fleet_output("repo", &[]));
        let mut servers = Vec::new();
        for (n, (name, packages)) in self.servers.iter().enumerate() {
            let image = image(packages);
            let address = format!("127.8.{slot_number}.{}", n + 1);
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).expect("server dir");
            let log = File::create(dir.join("boot.log")).expect("boot log");
            let mut command = Command::new(fleet_script());
            command
                .args(["boot"])
                .arg(&dir)
                .args([name, &address, &image])
                .arg(key.with_extension("pub"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            if binds.is_dir() {
                command.env("FLEET_BIND", &binds);
            }
            if let Some(password) = &self.sudo_password {
                command.env("FLEET_SUDO_PASSWORD", password);
            }
            if let Some(repo) = &apt_repo {
                command.env("FLEET_FRESH", "1").env("FLEET_REPO", repo);
            }
            // A test process that dies (a timeout's SIGKILL) takes its
            // servers with it: systemd-nspawn shuts down on SIGTERM.
            let keep = std::env::var_os("FERRY_FLEET_KEEP").is_some();
            unsafe {
                command.pre_exec(move || {
                    if keep {
                        return Ok(());
                    }
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = command.spawn().expect("run tests/fleet/fleet boot");
            servers.push(Server {
                name: name.clone(),
                address,
                dir,
                known_hosts_line: String::new(),
                child,
            });
        }
        let mut fleet = Fleet {
            servers,
            key,
            known_hosts: root.join("known_hosts"),
            sudo_password: self.sudo_password,
            fresh: self.fresh,
            cut_table: format!("ferry_fleet_{slot_number}"),
            root,
            _slot: slot,
        };
        let mut lines = String::new();
        for server in &mut fleet.servers {
            // Whole: ssh-keygen may be writing it.
            let public = wait_for(|| {
                std::fs::read_to_string(server.dir.join("ssh_host_ed25519_key.pub"))
                    .ok()
                    .filter(|text| text.ends_with('\n') && text.split_whitespace().count() >= 2)
            });
            let mut fields = public.split_whitespace();
            server.known_hosts_line = format!(
                "{} {} {}",
                server.address,
                fields.next().unwrap(),
                fields.next().unwrap()
            );
            lines.push_str(&server.known_hosts_line);
            lines.push('\n');
        }
        std::fs::write(&fleet.known_hosts, lines).expect("known_hosts");
        let started = Instant::now();
        std::thread::scope(|scope| {
            for server in &fleet.servers {
                let fleet = &fleet;
                scope.spawn(move || fleet.wait_booted(server));
            }
        });
        eprintln!(
            "fleet: {} servers booted in {:.1} s",
            fleet.servers.len(),
            started.elapsed().as_secs_f64()
        );
        fleet
    }
}

impl Fleet {
    pub fn spec() -> FleetSpec {
        FleetSpec {
            servers: Vec::new(),
            sudo_password: None,
            key: None,
            fresh: false,
        }
    }

    pub fn server(&self, name: &str) -> &Server {
        self.servers
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no server `{name}` in the fleet"))
    }

    /// The OpenSSH client logged in to `server` as `user`, trusting only the
    /// fleet's keys, never prompting. Add the command.
    pub fn ssh(&self, server: &Server, user: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "ConnectTimeout=10", "-i"])
            .arg(&self.key)
            .arg(format!("{user}@{}", server.address));
        cmd
    }

    /// Runs `script` as root on `server` and returns its stdout; panics with
    /// its stderr when it fails.
    pub fn root(&self, server: &str, script: &str) -> String {
        self.root_with_input(server, script, "")
    }

    /// [`Fleet::root`] with `input` on the script's stdin (what must not be
    /// on a command line: a password, SQL holding one).
    pub fn root_with_input(&self, server: &str, script: &str, input: &str) -> String {
        use std::io::Write as _;
        let mut child = self
            .ssh(self.server(server), "root")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("ssh");
        assert!(
            out.status.success(),
            "`{script}` on {server} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A YAML inventory placing servers in groups, reached as `user` with
    /// the fleet's key; `vars` (YAML lines, indented by 4) go to `all`.
    pub fn inventory(&self, user: &str, groups: &[(&str, &[&str])], vars: &str) -> String {
        let mut text = format!(
            "all:\n  vars:\n    ansible_user: {user}\n    ansible_ssh_private_key_file: {}\n{vars}  children:\n",
            self.key.display()
        );
        for (group, members) in groups {
            text.push_str(&format!("    {group}:\n      hosts:\n"));
            for name in *members {
                let server = self.server(name);
                text.push_str(&format!(
                    "        {name}: {{ ansible_host: {} }}\n",
                    server.address
                ));
            }
        }
        text
    }

    /// Shuts `server` down cleanly (as `poweroff` would) and waits.
    pub fn stop(&mut self, name: &str) {
        let server = self
            .servers
            .iter_mut()
            .find(|s| s.name == name)
            .expect("server");
        stop(&mut server.child);
    }

    /// Freezes every process of `server` (SIGSTOP): it keeps its address
    /// and open connections but answers nothing, like a hung machine.
    pub fn freeze(&self, name: &str) {
        signal_tree(self.server(name).child.id(), libc::SIGSTOP);
    }

    /// Lets a frozen server go on.
    pub fn thaw(&self, name: &str) {
        signal_tree(self.server(name).child.id(), libc::SIGCONT);
    }

    /// Cuts `server` off the network: nftables drops every packet to or
    /// from its address (so connections hang rather than being refused).
    pub fn cut(&self, name: &str) {
        let address = &self.server(name).address;
        let table = &self.cut_table;
        nft(&format!(
            "table ip {table} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    ip daddr {address} drop\n    ip saddr {address} drop\n  }}\n}}\n"
        ));
    }

    /// Lets every cut server back on the network.
    pub fn heal(&self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.cut_table])
            .stderr(Stdio::null())
            .status();
    }

    /// Waits until `server`'s sshd answers and its systemd has finished
    /// booting; panics with the boot log if it does not within a minute.
    fn wait_booted(&self, server: &Server) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let address = format!("{}:22", server.address);
        let fail = |why: &str| -> ! {
            let log = std::fs::read_to_string(server.dir.join("boot.log")).unwrap_or_default();
            panic!("server {} {why}; its boot log:\n{log}", server.name)
        };
        while TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(1)).is_err()
        {
            if Instant::now() > deadline {
                fail("did not open port 22 within 90 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // `--wait` blocks until boot has finished: `running`, or `degraded`
        // when a unit failed (reported, not fatal: the test decides).
        let out = self
            .ssh(server, "root")
            .args(["systemctl", "is-system-running", "--wait"])
            .stdin(Stdio::null())
            .output()
            .expect("ssh");
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if state != "running" {
            let failed = self
                .ssh(server, "root")
                .args(["systemctl", "--failed", "--no-legend"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if state != "degraded" {
                fail(&format!(
                    "did not boot: systemd is `{state}` ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            // Under heavy load a unit can time out while booting: started
            // again once, as an administrator would.
            eprintln!(
                "fleet: {} booted degraded, restarting its failed units:\n{failed}",
                server.name
            );
            let _ = self
                .ssh(server, "root")
                .arg("systemctl restart $(systemctl --failed --plain --no-legend | cut -d' ' -f1)")
                .stdin(Stdio::null())
                .output();
        }
        if self.fresh {
            return;
        }
        // The server is ready when `deploy` can log in.
        let login = self
            .ssh(server, "deploy")
            .arg("true")
            .stdin(Stdio::null())
            .output()
            .expect("ssh");
        if !login.status.success() {
            fail(&format!(
                "does not let `deploy` log in: {}",
                String::from_utf8_lossy(&login.stderr).trim()
            ));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::thread::panicking() && std::env::var_os("FERRY_FLEET_KEEP").is_some() {
            eprintln!(
                "fleet: FERRY_FLEET_KEEP: servers left running for a look (ssh -i {} root@ADDRESS); stop them with: tests/fleet/fleet down {}/*",
                self.key.display(),
                self.root.display()
            );
            for server in &mut self.servers {
                eprintln!(
                    "fleet:   {} {} pid {}",
                    server.name,
                    server.address,
                    server.child.id()
                );
            }
            std::mem::forget(std::mem::take(&mut self.servers));
            return;
        }
        self.heal();
        for server in &self.servers {
            signal_tree(server.child.id(), libc::SIGCONT);
            terminate(server.child.id());
        }
        for server in &mut self.servers {
            stop(&mut server.child);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The `fleet` script, shared with the demo and the benchmarks.
fn fleet_script() -> PathBuf {
    repo_root().join("tests/fleet/fleet")
}

/// The image (overlay lower directories) with `packages`, built on first use.
fn image(packages: &[String]) -> String {
    fleet_output("image", packages)
}

/// What `fleet image|repo PACKAGES` prints: built on first use, then cached.
fn fleet_output(what: &str, packages: &[String]) -> String {
    let out = Command::new(fleet_script())
        .arg(what)
        .args(packages)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/fleet/fleet image (apt-get install debootstrap systemd-container)");
    assert!(
        out.status.success(),
        "building the fleet image failed (see target/fleet/*.log)"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One of 250 address slots (`127.8.S.0/24`), held by a lock on a file for
/// as long as the fleet lives (the kernel drops it with the process, however
/// it ends). The files are machine-wide, not per checkout: the addresses
/// are. (Slot 0 is the demo's.)
fn take_slot() -> (u32, File) {
    use std::os::fd::AsRawFd as _;
    let dir = std::path::Path::new("/run/ferry-fleet-slots");
    std::fs::create_dir_all(dir).expect("slot dir");
    let first = (std::process::id() % 250) + 1;
    for i in 0..250 {
        let n = (first + i - 1) % 250 + 1;
        let file = File::create(dir.join(n.to_string())).expect("slot file");
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return (n, file);
        }
    }
    panic!("all 250 fleet slots are taken")
}

fn wait_for<T>(mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(pid: u32) {
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
}

/// SIGTERM (systemd-nspawn powers the container off), then after 30 s
/// SIGKILL to the container's processes and to systemd-nspawn, and reap.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    terminate(child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            // Its processes first: once systemd-nspawn is gone they would
            // be nobody's to find.
            signal_tree(child.id(), libc::SIGKILL);
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.wait();
}

/// `signal` to every process of a server: systemd-nspawn's descendants.
fn signal_tree(pid: u32, signal: i32) {
    for process in super::sshd::descendants(pid) {
        unsafe {
            libc::kill(process as i32, signal);
        }
    }
}

fn nft(rules: &str) {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft (apt-get install nftables)");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nft -f: {rules}");
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's sshd (its listener): the sessions it forks are its
    /// children, whose CPU time it collects.
    pub fn sshd_pid(&self) -> u32 {
        self.process("sshd")
    }

    /// `path` inside the server, as this machine sees it: through its
    /// systemd's root (`/proc/PID/root`), the one place its files show.
    pub fn view(&self, path: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.process("systemd")))
            .join(path.trim_start_matches('/'))
    }

    /// The first process under systemd-nspawn named `comm`.
    fn process(&self, comm: &str) -> u32 {
        super::sshd::descendants(self.child.id())
            .into_iter()
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|name| name.trim() == comm)
            })
            .unwrap_or_else(|| panic!("{}: no {comm} running", self.name))
    }
}
