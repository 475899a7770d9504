//! Let's Encrypt's test ACME server (Debian's `pebble`) on loopback, with
//! what it needs around it for http-01:
//!
//! - a CA and a listener certificate for its HTTPS directory (rcgen);
//! - `pebble-challtestsrv` as its DNS server: names resolve only once a test
//!   points them at an address ([`Pebble::point`], its management API), so
//!   a test decides which host the validation request reaches;
//! - one small static web server per test host ([`Pebble::serve`]), on the
//!   host's own 127.x.y.z address and pebble's `httpPort` (one port free on
//!   every address involved: pebble fetches every name on the same port),
//!   serving that host's webroot (it can be switched off).
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

/// A running pebble with its DNS.
pub struct Pebble {
    pub dir: PathBuf,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA that signed pebble's HTTPS certificate (the `acme_ca_bundle`).
    pub ca_bundle: PathBuf,
    /// The port pebble fetches http-01 responses from, on every address.
    pub http_port: u16,
    listen: u16,
    management: u16,
    dns_management: u16,
    pebble: Option<Child>,
    dns: Child,
    config: PathBuf,
    dns_address: String,
}

/// A host's web server for its webroot, stopped when dropped.
pub struct WebServer {
    pub address: SocketAddr,
    /// Off: every request is answered 404, as a server that does not serve
    /// the webroot would.
    pub serving: Arc<AtomicBool>,
    /// Requests it answered with a file: pebble reached this host.
    pub served: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl WebServer {
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Pebble {
    /// Starts pebble issuing certificates valid for `validity` seconds
    /// (`None`: pebble's default), fetching http-01 responses from a port
    /// that is free on each of `addresses`.
    pub fn start(validity: Option<u64>, addresses: &[&str]) -> Pebble {
        Pebble::start_on(validity, port_free_on(addresses))
    }

    /// [`Pebble::start`] fetching http-01 responses from `http_port` (80 for
    /// servers whose nginx listens on their own address, as on a fleet).
    pub fn start_on(validity: Option<u64>, http_port: u16) -> Pebble {
        let dir = std::env::temp_dir().join(format!(
            "ferry-pebble-{}-{:x}",
            std::process::id(),
            random() & 0xffff_ffff
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_bundle, cert, key) = listener_certificate(&dir);
        let listen = free_port("127.0.0.1");
        let management = free_port("127.0.0.1");
        let dns_port = free_udp_port();
        let dns_management = free_port("127.0.0.1");
        let dns_address = format!("127.0.0.1:{dns_port}");
        // No default answer: a name resolves only where a test points it.
        let dns = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "", "-defaultIPv6", ""])
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
            http_port,
            listen,
            management,
            dns_management,
            pebble: None,
            dns,
            config: config_path,
            dns_address,
            dir,
        };
        wait_tcp(&format!("127.0.0.1:{dns_management}"));
        pebble.launch();
        pebble
    }

    fn launch(&mut self) {
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
        wait_tcp(&format!("127.0.0.1:{}", self.listen));
        wait_tcp(&format!("127.0.0.1:{}", self.management));
    }

    /// Stops pebble (its DNS and the web servers keep running).
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
        self.launch();
    }

    /// Points `name` at `address` (only): where pebble sends the
    /// validation request for it. (`add-a` adds to what a name had.)
    pub fn point(&self, name: &str, address: &str) {
        self.manage("clear-a", serde_json::json!({"host": name}));
        self.manage(
            "add-a",
            serde_json::json!({"host": name, "addresses": [address]}),
        );
    }

    /// A request to pebble-challtestsrv's management API.
    fn manage(&self, path: &str, body: serde_json::Value) {
        let body = body.to_string();
        let socket: SocketAddr = format!("127.0.0.1:{}", self.dns_management)
            .parse()
            .unwrap();
        let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(2)).unwrap();
        write!(
            stream,
            "POST /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    }

    /// A web server on `address` at pebble's HTTP port, serving `root`.
    pub fn serve(&self, address: &str, root: &Path) -> WebServer {
        web_server(address, self.http_port, root.to_path_buf())
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

/// Serves files under `root` on `address:port`, one thread.
fn web_server(address: &str, port: u16, root: PathBuf) -> WebServer {
    let listener = TcpListener::bind((address, port))
        .unwrap_or_else(|e| panic!("web server on {address}:{port}: {e}"));
    let local = listener.local_addr().unwrap();
    let serving = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let (on, stopped, count) = (serving.clone(), stop.clone(), served.clone());
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    if let Ok(true) = serve_file(stream, &root, on.load(Ordering::SeqCst)) {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    WebServer {
        address: local,
        serving,
        served,
        stop,
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

/// Answers one request from `root`; whether it found the file.
fn serve_file(mut stream: TcpStream, root: &Path, serving: bool) -> std::io::Result<bool> {
    let path = request_path(&stream)?;
    let file = root.join(path.trim_start_matches('/'));
    let body = match (serving, path.contains("..")) {
        (true, false) => std::fs::read(&file).ok(),
        _ => None,
    };
    respond(&mut stream, body.as_deref())?;
    Ok(body.is_some())
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

fn free_port(address: &str) -> u16 {
    TcpListener::bind((address, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port that every one of `addresses` can bind right now.
pub fn port_free_on(addresses: &[&str]) -> u16 {
    for _ in 0..100 {
        let port = free_port(addresses.first().copied().unwrap_or("127.0.0.1"));
        if addresses
            .iter()
            .all(|a| TcpListener::bind((*a, port)).is_ok())
        {
            return port;
        }
    }
    panic!("no port free on all of {addresses:?}");
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
    // pebble takes seconds to start on a loaded machine (the suite boots
    // containers beside it).
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&socket, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on {address}");
}

/// `curl` over HTTPS to `name` at `address:port`, trusting only `root`;
/// retried for a few seconds, since `nginx -s reload` returns before the
/// new workers serve.
pub fn https_get(name: &str, address: &str, port: u16, root: &Path) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match https_get_once(name, address, port, root) {
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            result => return result,
        }
    }
}

fn https_get_once(name: &str, address: &str, port: u16, root: &Path) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "-m", "5", "--cacert"])
        .arg(root)
        .arg("--resolve")
        .arg(format!("{name}:{port}:{address}"))
        .arg(format!("https://{name}:{port}/"))
        .output()
        .expect("run curl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
