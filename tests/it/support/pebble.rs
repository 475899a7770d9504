//! Let's Encrypt's test ACME server (Debian's `pebble`) on loopback, with
//! what it needs around it for http-01:
//!
//! - a CA and a listener certificate for its HTTPS directory (rcgen);
//! - `pebble-challtestsrv` as its DNS server, answering every name with
//!   the front's address;
//! - a front on that address and pebble's `httpPort` that forwards each
//!   validation request to **every** host's own web server and answers
//!   only what all of them answer alike — so validation succeeds only when
//!   every host serving the name has the challenge file;
//! - one small static web server per test host, on the host's own
//!   127.x.y.z address, serving its webroot (it can be switched off).
//!
//! Dropping it stops exactly the processes and threads it started.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::sshd::random;

/// A running pebble with its DNS, front and per-host web servers.
pub struct Pebble {
    pub dir: PathBuf,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA that signed pebble's HTTPS certificate (the `acme_ca_bundle`).
    pub ca_bundle: PathBuf,
    management: u16,
    pebble: Option<Child>,
    dns: Child,
    /// Validation requests the front answered.
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    config: PathBuf,
    dns_address: String,
}

/// A host's web server for its webroot.
pub struct WebServer {
    pub address: SocketAddr,
    pub serving: Arc<AtomicBool>,
}

impl Pebble {
    /// Starts pebble issuing certificates valid for `validity` seconds
    /// (`None`: pebble's default), validating through a front that asks
    /// every one of `webroots` (a host address and its webroot).
    pub fn start(
        validity: Option<u64>,
        webroots: &[(String, PathBuf)],
    ) -> (Pebble, Vec<WebServer>) {
        let dir = std::env::temp_dir().join(format!(
            "ferry-pebble-{}-{:x}",
            std::process::id(),
            random() & 0xffff_ffff
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_bundle, cert, key) = listener_certificate(&dir);
        let stop = Arc::new(AtomicBool::new(false));
        let servers: Vec<WebServer> = webroots
            .iter()
            .map(|(address, root)| web_server(address, root.clone(), stop.clone()))
            .collect();
        let front_address = "127.0.0.1";
        let requests = Arc::new(AtomicUsize::new(0));
        let backends: Vec<SocketAddr> = servers.iter().map(|s| s.address).collect();
        let http_port = front(front_address, backends, requests.clone(), stop.clone());
        let listen = free_port("127.0.0.1");
        let management = free_port("127.0.0.1");
        let dns_port = free_udp_port();
        let dns_management = free_port("127.0.0.1");
        let dns_address = format!("127.0.0.1:{dns_port}");
        let dns = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", front_address, "-defaultIPv6", ""])
            .args(["-dns01", &dns_address])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run pebble-challtestsrv (apt-get install pebble)");
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert,
            "privateKey": key,
            "httpPort": http_port,
            "tlsPort": free_port("127.0.0.1"),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        if let Some(seconds) = validity {
            config["pebble"]["certificateValidityPeriod"] = serde_json::json!(seconds);
        }
        let config_path = dir.join("pebble-config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut pebble = Pebble {
            directory: format!("https://127.0.0.1:{listen}/dir"),
            ca_bundle,
            management,
            pebble: None,
            dns,
            requests,
            stop,
            config: config_path,
            dns_address,
            dir,
        };
        pebble.launch(listen);
        (pebble, servers)
    }

    fn launch(&mut self, listen: u16) {
        let log = std::fs::File::create(self.dir.join("pebble.log")).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&self.config)
            .args(["-dnsserver", &self.dns_address])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run pebble (apt-get install pebble)");
        self.pebble = Some(child);
        wait_tcp(&format!("127.0.0.1:{listen}"));
        wait_tcp(&format!("127.0.0.1:{}", self.management));
    }

    /// Stops pebble (DNS, front and web servers keep running).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.pebble.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new pebble on the same ports: it has forgotten every account and
    /// made a new CA.
    pub fn restart(&mut self) {
        self.stop();
        let listen: u16 = self
            .directory
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches("/dir").parse().ok())
            .unwrap();
        self.launch(listen);
    }

    /// Pebble's root CA (it signs the intermediate that signs leaves).
    pub fn root_pem(&self) -> String {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.ca_bundle)
            .arg(format!("https://127.0.0.1:{}/roots/0", self.management))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A CA and a certificate for 127.0.0.1 / localhost signed by it.
fn listener_certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ferry test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// Serves files under `root` on `address` (a free port), one thread.
fn web_server(address: &str, root: PathBuf, stop: Arc<AtomicBool>) -> WebServer {
    let listener = TcpListener::bind((address, 0)).unwrap();
    let local = listener.local_addr().unwrap();
    let serving = Arc::new(AtomicBool::new(true));
    let on = serving.clone();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    let _ = serve_file(stream, &root, on.load(Ordering::SeqCst));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    WebServer {
        address: local,
        serving,
    }
}

fn request_path(stream: &TcpStream) -> std::io::Result<String> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    Ok(line.split_whitespace().nth(1).unwrap_or("/").to_string())
}

fn serve_file(mut stream: TcpStream, root: &Path, serving: bool) -> std::io::Result<()> {
    let path = request_path(&stream)?;
    let file = root.join(path.trim_start_matches('/'));
    let body = match (serving, path.contains("..")) {
        (true, false) => std::fs::read(&file).ok(),
        _ => None,
    };
    respond(&mut stream, body.as_deref())
}

fn respond(stream: &mut TcpStream, body: Option<&[u8]>) -> std::io::Result<()> {
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", &b"not found"[..]),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)
}

/// The front: asks every backend, answers 200 only when all of them
/// answer 200 with the same body. Returns its port.
fn front(
    address: &str,
    backends: Vec<SocketAddr>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> u16 {
    let listener = TcpListener::bind((address, free_port(address))).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    requests.fetch_add(1, Ordering::SeqCst);
                    let Ok(path) = request_path(&stream) else {
                        continue;
                    };
                    let answers: Vec<Option<Vec<u8>>> =
                        backends.iter().map(|b| fetch(*b, &path)).collect();
                    let first = answers[0].clone();
                    let agreed = answers.iter().all(|a| a.is_some() && *a == first);
                    let _ = respond(&mut stream, if agreed { first.as_deref() } else { None });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    port
}

/// GET `path` from a backend: its body on 200, else `None`.
fn fetch(backend: SocketAddr, path: &str) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&backend, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.as_bytes().to_vec())
}

fn free_port(address: &str) -> u16 {
    TcpListener::bind((address, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_tcp(address: &str) {
    let socket: SocketAddr = address.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&socket, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {address}");
}
