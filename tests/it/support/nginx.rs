//! Real nginx instances for test hosts, each with a master process (so
//! `-s reload` opens new listening sockets) and files under the host's dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process this test started, stopped by its PID: TERM (nginx's master
/// then stops its workers), then KILL if it lingers.
pub struct Started(pub Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An nginx of its own for host `dir`: its sites are `{dir}/nginx/sites/*`.
/// Returns the command prefix that addresses it (`nginx -c … -p …`).
pub fn start_nginx(dir: &Path) -> (String, PathBuf, Started) {
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("sites")).unwrap();
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nuser root;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
               include {p}/sites/*.conf;\n}}\n",
            p = prefix.display()
        ),
    )
    .unwrap();
    let command = format!("nginx -c {} -p {}/", conf.display(), prefix.display());
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(format!("{}/", prefix.display()))
        .stderr(Stdio::null())
        .spawn()
        .expect("run nginx (apt-get install nginx-light)");
    let pid = prefix.join("nginx.pid");
    let start = Instant::now();
    while !pid.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nginx did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (command, prefix, Started(child))
}
