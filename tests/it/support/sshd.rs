//! Real OpenSSH sshd hosts on loopback addresses, for end-to-end tests.
//!
//! `TestHosts::start(n)` runs `n` `/usr/sbin/sshd -D` processes, each with
//! a fresh ed25519 host key, on its own 127.x.y.z address and a free port,
//! all accepting one client key, and writes a known_hosts file for them.
//! Dropping it kills exactly those sshd processes and removes their files.
//!
//! Tests run as separate processes in parallel (nextest), so the address
//! range is derived from the process id plus a random offset, and a host
//! whose port turns out to be taken is retried on another one.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::transport::{Target, Trust};

/// One running sshd.
#[derive(Debug)]
pub struct TestHost {
    /// Inventory-style name: `host1`, `host2`, …
    pub name: String,
    pub address: String,
    pub port: u16,
    /// The user to log in as (the one running the tests).
    pub user: String,
    /// Private key accepted by every host of the set.
    pub key: PathBuf,
    /// A directory of this host's own, for its config, key, log and files.
    pub dir: PathBuf,
    /// The host's public key, `ssh-ed25519 AAAA…`.
    pub host_key: String,
    child: Child,
}

impl TestHost {
    /// A [`Target`] that logs in with the set's client key.
    pub fn target(&self) -> Target {
        let mut target = Target::new(&self.name, &self.address, self.port, &self.user);
        target.identity_files = vec![self.key.clone()];
        target
    }

    /// The known_hosts line for this host.
    pub fn known_hosts_line(&self) -> String {
        format!("[{}]:{} {}", self.address, self.port, self.host_key)
    }

    /// The sshd listener's process id (its sessions are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to this host's sshd and every session under it, as a
    /// host that dies (`SIGKILL`: its connections drop at once) or freezes
    /// (`SIGSTOP`: they go silent) would. Only these processes, by pid.
    pub fn signal_all(&self, signal: i32) {
        for pid in descendants(self.child.id()).into_iter().rev() {
            unsafe { libc::kill(pid as i32, signal) };
        }
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// sshd's log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

/// A set of running sshd hosts sharing a client key and a known_hosts file.
#[derive(Debug)]
pub struct TestHosts {
    pub hosts: Vec<TestHost>,
    /// known_hosts listing every host's key.
    pub known_hosts: PathBuf,
    /// The client's private key (also `hosts[i].key`).
    pub key: PathBuf,
    /// Root of every file the set made; removed on drop.
    pub root: PathBuf,
}

impl TestHosts {
    /// Starts `n` hosts (at most 1000: 250 per 127.x.y.0/24, on consecutive
    /// /24s) and waits until each accepts TCP.
    pub fn start(n: usize) -> TestHosts {
        TestHosts::start_with(n, "")
    }

    /// Like [`TestHosts::start`], with `extra` sshd_config lines replacing
    /// the defaults for the same keywords (sshd keeps the first value of
    /// most keywords but the last of some, such as `MaxStartups`).
    pub fn start_with(n: usize, extra: &str) -> TestHosts {
        TestHosts::start_inner(n, extra, None)
    }

    /// Like [`TestHosts::start_with`], each host presenting a host
    /// certificate signed by the CA key at `ca` (`ssh-keygen -s`) for the
    /// principal `principal`, or for its address when `None`.
    pub fn start_certified(n: usize, extra: &str, ca: &Path, principal: Option<&str>) -> TestHosts {
        TestHosts::start_inner(n, extra, Some((ca, principal)))
    }

    fn start_inner(n: usize, extra: &str, ca: Option<(&Path, Option<&str>)>) -> TestHosts {
        assert!((1..=1000).contains(&n), "between 1 and 1000 hosts");
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let root = std::env::temp_dir().join(format!(
            "ferry-sshd-{}-{:x}",
            std::process::id(),
            random() & 0xffff_ffff
        ));
        std::fs::create_dir_all(&root).expect("create test host root");
        let root = root.canonicalize().expect("absolute root");
        let key = root.join("client_ed25519");
        keygen(&key);
        std::fs::copy(
            root.join("client_ed25519.pub"),
            root.join("authorized_keys"),
        )
        .expect("authorized_keys");
        let user = current_user();
        let mut set = TestHosts {
            hosts: Vec::with_capacity(n),
            known_hosts: root.join("known_hosts"),
            key: key.clone(),
            root: root.clone(),
        };
        // Second and third octets: from the pid and a random draw, so
        // parallel test processes land on different addresses.
        let seed = random();
        let second = 16 + (std::process::id() as u64 + seed) % 224;
        let third = 1 + (seed >> 16) % 250;
        for index in 1..=n {
            let third = third + (index as u64 - 1) / 250;
            let fourth = (index - 1) % 250 + 1;
            let address = format!("127.{second}.{third}.{fourth}");
            let dir = root.join(format!("host{index}"));
            std::fs::create_dir_all(&dir).expect("host dir");
            keygen(&dir.join("host_ed25519"));
            let host_key = std::fs::read_to_string(dir.join("host_ed25519.pub")).expect("host key");
            let host_key = host_key.split(' ').take(2).collect::<Vec<_>>().join(" ");
            let mut extra = extra.to_string();
            if let Some((ca, principal)) = ca {
                let public = dir.join("host_ed25519.pub");
                let status = Command::new("ssh-keygen")
                    .args(["-q", "-h", "-s"])
                    .arg(ca)
                    .args(["-I", &format!("host{index}"), "-n"])
                    .arg(principal.unwrap_or(&address))
                    .arg(&public)
                    .status()
                    .expect("run ssh-keygen -s");
                assert!(status.success(), "ssh-keygen -s failed");
                extra.push_str(&format!(
                    "\nHostCertificate {}",
                    dir.join("host_ed25519-cert.pub").display()
                ));
            }
            let (port, child) = spawn_sshd(&address, &dir, &root, &extra);
            set.hosts.push(TestHost {
                name: format!("host{index}"),
                address,
                port,
                user: user.clone(),
                key: key.clone(),
                dir,
                host_key,
                child,
            });
        }
        let lines: String = set
            .hosts
            .iter()
            .map(|h| h.known_hosts_line() + "\n")
            .collect();
        std::fs::write(&set.known_hosts, lines).expect("known_hosts");
        set
    }

    /// An Ansible INI inventory putting every host in `group`, with the
    /// standard connection variables.
    /// `127.a.b.250` beside hosts `127.a.b.1…`: an address of this set's
    /// own range that is none of its hosts'.
    pub fn spare_address(&self) -> String {
        let first = &self.hosts[0].address;
        format!("{}.250", &first[..first.rfind('.').unwrap_or(0)])
    }

    pub fn inventory_ini(&self, group: &str) -> String {
        let mut text = format!("[{group}]\n");
        for host in &self.hosts {
            text.push_str(&format!(
                "{} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
                host.name,
                host.address,
                host.port,
                host.user,
                host.key.display()
            ));
        }
        text
    }

    /// Writes an ssh_config with a `Host` block per host (by name) and
    /// returns its path.
    pub fn write_ssh_config(&self) -> PathBuf {
        let mut text = String::new();
        for host in &self.hosts {
            text.push_str(&format!(
                "Host {}\n  HostName {}\n  Port {}\n  User {}\n  IdentityFile {}\n  UserKnownHostsFile {}\n\n",
                host.name,
                host.address,
                host.port,
                host.user,
                host.key.display(),
                self.known_hosts.display()
            ));
        }
        let path = self.root.join("ssh_config");
        std::fs::write(&path, text).expect("write ssh_config");
        path
    }

    /// The OpenSSH client, set to reach `host` as ferry would: no user
    /// config, this set's key and known_hosts, no prompts. Add the command.
    pub fn ssh(&self, host: &TestHost) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes", "-o"])
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .arg("-i")
            .arg(&host.key)
            .arg("-p")
            .arg(host.port.to_string())
            .arg(format!("{}@{}", host.user, host.address));
        cmd
    }

    /// Makes a new ed25519 key at `path`, encrypted with `passphrase`, and
    /// lets every host of the set accept it.
    pub fn authorize_new_key(&self, path: &Path, passphrase: &str) {
        new_key(path, "ed25519", passphrase);
        self.authorize(path);
    }

    /// Lets every host of the set accept the key at `path` (its `.pub`).
    pub fn authorize(&self, path: &Path) {
        let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
        let authorized = self.root.join("authorized_keys");
        let mut keys = std::fs::read_to_string(&authorized).expect("authorized_keys");
        keys.push_str(&public);
        std::fs::write(&authorized, keys).expect("authorized_keys");
    }

    /// Trust exactly these hosts' keys.
    pub fn trust(&self) -> Trust {
        Trust {
            known_hosts: vec![self.known_hosts.clone()],
            ..Trust::default()
        }
    }
}

/// The processes under `pid` (children first found, then theirs), from
/// `/proc/*/stat`.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            // Sessions a test froze or left behind go with their sshd.
            host.signal_all(libc::SIGKILL);
            let _ = host.child.kill();
            let _ = host.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Starts sshd on `address` at a free port, retrying when the port is taken
/// between the check and sshd's bind.
fn spawn_sshd(address: &str, dir: &Path, root: &Path, extra: &str) -> (u16, Child) {
    for _ in 0..20 {
        let port = free_port(address);
        let config = dir.join("sshd_config");
        let text = with_overrides(&sshd_config(address, port, dir, root), extra);
        std::fs::write(&config, text).expect("sshd_config");
        let mut child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("run /usr/sbin/sshd (apt-get install openssh-server)");
        if wait_listening(address, port, &mut child) {
            return (port, child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!(
        "sshd could not start on {address}: see {}",
        dir.join("sshd.log").display()
    );
}

fn sshd_config(address: &str, port: u16, dir: &Path, root: &Path) -> String {
    format!(
        "ListenAddress {address}:{port}\n\
         HostKey {dir}/host_ed25519\n\
         PidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {root}/authorized_keys\n\
         UsePAM no\n\
         StrictModes no\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         MaxStartups 200:30:400\n\
         PerSourceMaxStartups none\n\
         MaxSessions 10\n\
         UseDNS no\n\
         AllowTcpForwarding yes\n\
         SetEnv SHLVL=1\n\
         LogLevel INFO\n",
        dir = dir.display(),
        root = root.display(),
    )
}

/// `defaults` without the keywords `extra` sets, then `extra`.
fn with_overrides(defaults: &str, extra: &str) -> String {
    let keyword = |line: &str| {
        line.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let overridden: Vec<String> = extra.lines().map(keyword).collect();
    let mut text: String = defaults
        .lines()
        .filter(|line| !overridden.contains(&keyword(line)))
        .map(|line| format!("{line}\n"))
        .collect();
    text.push_str(extra);
    text.push('\n');
    text
}

/// A port that `address` can bind right now.
fn free_port(address: &str) -> u16 {
    loop {
        let port = 20000 + (random() % 40000) as u16;
        if TcpListener::bind((address, port)).is_ok() {
            return port;
        }
    }
}

/// Waits until sshd accepts connections, or has exited (port taken).
fn wait_listening(address: &str, port: u16, child: &mut Child) -> bool {
    let socket: SocketAddr = format!("{address}:{port}").parse().expect("socket address");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&socket, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn keygen(path: &Path) {
    new_key(path, "ed25519", "");
}

/// Makes a key pair of `kind` (`ed25519`, `rsa`, `ecdsa`) at `path` and
/// `path.pub`, encrypted with `passphrase` unless it is empty.
pub fn new_key(path: &Path, kind: &str, passphrase: &str) {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "ferry-test"]);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let status = cmd
        .arg("-f")
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn current_user() -> String {
    let output = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A random number from the standard library's per-process hash seed.
pub fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}
