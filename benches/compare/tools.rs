//! The tools compared and how each is started: the same deploy (and the same
//! trivial steps) with ferry, Ansible (with and without pipelining), pyinfra
//! and plain OpenSSH, each as one command whose whole process tree is
//! measured. The peers' deploy definitions live in `bench/peers/`.

use std::path::PathBuf;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Ferry,
    OpenSsh,
    Pyinfra,
    AnsiblePipelining,
    Ansible,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::Ferry,
        Tool::OpenSsh,
        Tool::Pyinfra,
        Tool::AnsiblePipelining,
        Tool::Ansible,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Ferry => "ferry",
            Tool::OpenSsh => "openssh",
            Tool::Pyinfra => "pyinfra",
            Tool::AnsiblePipelining => "ansible-pipelining",
            Tool::Ansible => "ansible",
        }
    }

    pub fn parse(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One host as a tool reaches it (directly or through a relay).
pub struct Endpoint {
    pub name: String,
    pub address: String,
    pub port: u16,
    /// This host's own directory: deploys go to `base_dir/RUN`.
    pub base_dir: PathBuf,
}

/// Everything the commands need.
pub struct Tools {
    pub ferry: PathBuf,
    pub venv: PathBuf,
    pub peers: PathBuf,
    pub app: PathBuf,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    pub user: String,
    /// Scratch space: Ansible's state, archives.
    pub scratch: PathBuf,
}

impl Tools {
    /// Writes the inventories of stage `stage` for every tool:
    /// `inventory/STAGE.ini` (ferry and Ansible), `.py` (pyinfra) and
    /// `.hosts` (the OpenSSH script), and each host's `base_dir`.
    pub fn write_stage(&self, stage: &str, hosts: &[Endpoint]) {
        let inventory = self.app.join("inventory");
        std::fs::create_dir_all(inventory.join("host_vars")).unwrap();
        let mut ini = String::from("[web]\n");
        let mut py = String::from("web = [\n");
        let mut plain = String::new();
        for h in hosts {
            ini.push_str(&format!(
                "{} ansible_host={} ansible_port={} ansible_user={} ansible_ssh_private_key_file={}\n",
                h.name,
                h.address,
                h.port,
                self.user,
                self.key.display()
            ));
            py.push_str(&format!(
                "    ({:?}, {{\"ssh_hostname\": {:?}, \"ssh_port\": {}, \"ssh_user\": {:?}, \
                 \"ssh_key\": {:?}, \"ssh_known_hosts_file\": {:?}, \
                 \"ssh_strict_host_key_checking\": \"yes\", \"base_dir\": {:?}}}),\n",
                h.name,
                h.address,
                h.port,
                self.user,
                self.key.display().to_string(),
                self.known_hosts.display().to_string(),
                h.base_dir.display().to_string()
            ));
            plain.push_str(&format!(
                "{} {} {} {}\n",
                h.name,
                h.address,
                h.port,
                h.base_dir.display()
            ));
            std::fs::write(
                inventory.join(format!("host_vars/{}.yml", h.name)),
                format!("base_dir: {}\n", h.base_dir.display()),
            )
            .unwrap();
        }
        ini.push_str("\n[web:vars]\nansible_python_interpreter=/usr/bin/python3\n");
        py.push_str("]\n");
        std::fs::write(inventory.join(format!("{stage}.ini")), ini).unwrap();
        std::fs::write(inventory.join(format!("{stage}.py")), py).unwrap();
        std::fs::write(inventory.join(format!("{stage}.hosts")), plain).unwrap();
    }

    /// The deploy of HEAD to the `n` hosts of `stage`, into `base_dir/RUN`.
    pub fn deploy(&self, tool: Tool, stage: &str, n: usize, run: &str) -> Command {
        match tool {
            Tool::Ferry => {
                let mut cmd = self.ferry_cmd();
                cmd.args(["deploy", stage, "--json", "--forks", &n.max(1).to_string()])
                    .args(["-e", &format!("run={run}")]);
                cmd
            }
            Tool::OpenSsh => {
                let mut cmd = Command::new(self.peers.join("openssh/deploy.sh"));
                cmd.arg(format!("inventory/{stage}.hosts")).arg(run);
                self.openssh_env(&mut cmd);
                cmd
            }
            Tool::Pyinfra => self.with_archive(
                run,
                &format!(
                    "exec {venv}/bin/pyinfra -y --parallel {n} inventory/{stage}.py {deploy} \
                     --data run={run} --data release=\"$release\" --data revision=\"$revision\" \
                     --data archive=\"$archive\"",
                    venv = self.venv.display(),
                    deploy = self.peers.join("pyinfra/deploy.py").display(),
                ),
            ),
            Tool::AnsiblePipelining | Tool::Ansible => {
                let mut cmd = self.with_archive(
                    run,
                    &format!(
                        "exec {venv}/bin/ansible-playbook -i inventory/{stage}.ini -f {n} {deploy} \
                         -e run={run} -e release=\"$release\" -e revision=\"$revision\" \
                         -e archive=\"$archive\"",
                        venv = self.venv.display(),
                        deploy = self.peers.join("ansible/deploy.yml").display(),
                    ),
                );
                self.ansible_env(&mut cmd, tool, run);
                cmd
            }
        }
    }

    /// `steps` trivial steps (`true`) on every host of `stage`.
    pub fn steps(&self, tool: Tool, stage: &str, n: usize, steps: usize, tag: &str) -> Command {
        match tool {
            Tool::Ferry => {
                let file = format!("steps{steps}.yml");
                let tasks: String = (0..steps)
                    .map(|i| format!("    - name: step {i}\n      command: 'true'\n"))
                    .collect();
                std::fs::write(
                    self.app.join(&file),
                    format!("- hosts: web\n  tasks:\n{tasks}"),
                )
                .unwrap();
                let mut cmd = self.ferry_cmd();
                cmd.args(["playbook", &file, "-i", &format!("inventory/{stage}.ini")])
                    .args(["--forks", &n.to_string()]);
                cmd
            }
            Tool::OpenSsh => {
                let mut cmd = Command::new(self.peers.join("openssh/steps.sh"));
                cmd.arg(format!("inventory/{stage}.hosts"))
                    .arg(steps.to_string());
                self.openssh_env(&mut cmd);
                cmd
            }
            Tool::Pyinfra => {
                let mut cmd = Command::new(self.venv.join("bin/pyinfra"));
                cmd.current_dir(&self.app)
                    .args(["-y", "--parallel", &n.to_string()])
                    .arg(format!("inventory/{stage}.py"))
                    .arg(self.peers.join("pyinfra/steps.py"))
                    .args(["--data", &format!("steps={steps}")]);
                cmd
            }
            Tool::AnsiblePipelining | Tool::Ansible => {
                let file = format!("steps{steps}-ansible.yml");
                let tasks: String = (0..steps)
                    .map(|i| {
                        format!("    - name: step {i}\n      ansible.builtin.command: 'true'\n")
                    })
                    .collect();
                std::fs::write(
                    self.app.join(&file),
                    format!("- hosts: web\n  gather_facts: false\n  tasks:\n{tasks}"),
                )
                .unwrap();
                let mut cmd = Command::new(self.venv.join("bin/ansible-playbook"));
                cmd.current_dir(&self.app)
                    .args([
                        "-i",
                        &format!("inventory/{stage}.ini"),
                        "-f",
                        &n.to_string(),
                    ])
                    .arg(&file);
                self.ansible_env(&mut cmd, tool, tag);
                cmd
            }
        }
    }

    fn ferry_cmd(&self) -> Command {
        let mut cmd = Command::new(&self.ferry);
        // HOME: the project's .ssh/known_hosts and nothing else of the user's.
        cmd.current_dir(&self.app).env("HOME", &self.app);
        cmd
    }

    fn openssh_env(&self, cmd: &mut Command) {
        cmd.current_dir(&self.app)
            .env("SSH_KEY", &self.key)
            .env("KNOWN_HOSTS", &self.known_hosts)
            .env("USER", &self.user);
    }

    /// `sh -c SCRIPT` after making the archive of HEAD and the release id,
    /// as a user of the tool would in a deploy script (timed with it).
    fn with_archive(&self, run: &str, script: &str) -> Command {
        let archive = self.scratch.join(format!("{run}.tar.gz"));
        let mut cmd = Command::new("sh");
        cmd.current_dir(&self.app).arg("-c").arg(format!(
            "set -e; archive={archive}; git archive --format=tar.gz -o \"$archive\" HEAD; \
             revision=$(git rev-parse HEAD); \
             release=$(date -u +%Y%m%d%H%M%S)-$(git rev-parse --short HEAD); {script}",
            archive = archive.display()
        ));
        cmd
    }

    /// Ansible's defaults (ControlPersist connections, `-C`), this set's
    /// keys, and a fresh ControlPath directory so every run starts cold.
    fn ansible_env(&self, cmd: &mut Command, tool: Tool, run: &str) {
        let state = self.scratch.join("ansible");
        let control = self.scratch.join(format!("cp-{run}"));
        std::fs::create_dir_all(&control).unwrap();
        cmd.env("ANSIBLE_HOME", state.join("home"))
            .env("ANSIBLE_LOCAL_TEMP", state.join("tmp"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", control)
            .env(
                "ANSIBLE_SSH_ARGS",
                format!(
                    "-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={} \
                     -o StrictHostKeyChecking=yes",
                    self.known_hosts.display()
                ),
            )
            .env("ANSIBLE_HOST_KEY_CHECKING", "True")
            .env(
                "ANSIBLE_PIPELINING",
                if tool == Tool::AnsiblePipelining {
                    "True"
                } else {
                    "False"
                },
            )
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False");
    }
}
