//! Evaluating ssh_config for one host as OpenSSH's `readconf.c` does: the
//! files in order (user's, then system-wide), each option's first value
//! wins, `Host` and `Match` decide which lines apply, and a `Match final`
//! anywhere asks for a second pass in which `Host` patterns see the
//! resolved HostName and `final` criteria match.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use super::parse::{Entry, Location};
use super::pattern;
use super::tokens::Tokens;

/// The options ferry acts on (lowercase): every other one is collected as
/// ignored, to be reported.
pub(super) const HONOURED: &[&str] = &[
    "hostname",
    "user",
    "port",
    "identityfile",
    "certificatefile",
    "identitiesonly",
    "identityagent",
    "proxyjump",
    "proxycommand",
    "userknownhostsfile",
    "globalknownhostsfile",
    "stricthostkeychecking",
    "hashknownhosts",
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
];

/// What the config asks for one host: each option's first value (its
/// arguments), the identity files in order, and what was not honoured.
#[derive(Debug, Clone, Default)]
pub(super) struct Options {
    values: HashMap<String, Vec<String>>,
    pub identity_files: Vec<String>,
    pub certificate_files: Vec<String>,
    /// Options ferry does not act on that applied to the host, as written
    /// and where (`None`: given on a command line).
    pub ignored: Vec<(String, Option<Location>)>,
}

impl Options {
    /// The first value of `keyword` (lowercase), all its arguments.
    pub fn get(&self, keyword: &str) -> Option<&[String]> {
        self.values.get(keyword).map(Vec::as_slice)
    }

    /// The first argument of `keyword`.
    pub fn first(&self, keyword: &str) -> Option<&str> {
        self.get(keyword)?.first().map(String::as_str)
    }

    /// Records an option unless one before it already gave it a value.
    pub fn set(&mut self, keyword: &str, args: &[String], at: Option<&Location>) {
        let key = keyword.to_ascii_lowercase();
        let Some(first) = args.first() else { return };
        match key.as_str() {
            "identityfile" => self.identity_files.push(first.clone()),
            "certificatefile" => self.certificate_files.push(first.clone()),
            // Whichever of the two comes first wins over the other.
            "proxyjump" | "proxycommand" => {
                if !self.values.contains_key("proxyjump")
                    && !self.values.contains_key("proxycommand")
                {
                    let value = if key == "proxycommand" {
                        // The command is the rest of the line, as written.
                        vec![args.join(" ")]
                    } else {
                        args.to_vec()
                    };
                    self.values.insert(key, value);
                }
            }
            k if HONOURED.contains(&k) => {
                self.values.entry(key).or_insert_with(|| args.to_vec());
            }
            _ => {
                let at = at.cloned();
                if !self.ignored.iter().any(|(k, l)| *l == at && k == keyword) {
                    self.ignored.push((keyword.to_string(), at));
                }
            }
        }
    }
}

/// Who and what is being resolved.
#[derive(Debug, Clone)]
pub(super) struct Query<'a> {
    /// The host name as given (the inventory's address).
    pub host: &'a str,
    pub local_user: &'a str,
    pub home: &'a str,
    /// Options given before any file is read (the command line's `-o`,
    /// the inventory's `ansible_user`/`ansible_port`): they win.
    pub preset: &'a [(String, Vec<String>)],
}

/// Evaluates `files` (each a parsed config, in reading order) for `query`.
pub(super) fn evaluate(files: &[Vec<Entry>], query: &Query) -> Options {
    let mut options = Options::default();
    for (keyword, args) in query.preset {
        options.set(keyword, args, None);
    }
    let mut pass = Pass {
        query,
        host: query.host.to_string(),
        final_pass: false,
        want_final: false,
    };
    for file in files {
        pass.walk(file, &mut options, &mut true, false);
    }
    if pass.want_final {
        // As ssh.c does before re-reading: the host is now the HostName.
        let host = host_name(&options, query.host);
        options.values.insert("hostname".into(), vec![host.clone()]);
        pass.host = host;
        pass.final_pass = true;
        for file in files {
            pass.walk(file, &mut options, &mut true, false);
        }
    }
    options
}

/// HostName so far with `%h` expanded, or the name as given.
pub(super) fn host_name(options: &Options, original: &str) -> String {
    match options.first("hostname") {
        Some(name) => name.replace("%h", original).replace("%%", "%"),
        None => original.to_string(),
    }
}

struct Pass<'a> {
    query: &'a Query<'a>,
    /// What `Host` patterns are matched against.
    host: String,
    final_pass: bool,
    want_final: bool,
}

impl Pass<'_> {
    /// `never`: inside an `Include` of a block that does not apply, where
    /// no `Host` or `Match` of the included file can apply either.
    fn walk(&mut self, entries: &[Entry], options: &mut Options, active: &mut bool, never: bool) {
        for entry in entries {
            match entry {
                Entry::Block { keyword, args, at } => {
                    let applies = if keyword == "host" {
                        pattern::host_line(&self.host, args)
                    } else {
                        self.match_line(args, options, at)
                    };
                    *active = applies && !never;
                }
                Entry::Option { keyword, args, at } if *active => {
                    options.set(keyword, args, Some(at));
                }
                Entry::Option { .. } => {}
                Entry::Include { files } => {
                    let outer = *active;
                    for file in files {
                        self.walk(file, options, active, never || !outer);
                    }
                    *active = outer;
                }
            }
        }
    }

    /// Whether a `Match` line applies: every criterion holds (each may be
    /// negated with `!`); `exec` runs only while the others hold.
    fn match_line(&mut self, args: &[String], options: &mut Options, at: &Location) -> bool {
        let mut result = true;
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let lower = word.to_ascii_lowercase();
            let (negate, criterion) = match lower.strip_prefix('!') {
                Some(c) => (true, c),
                None => (false, lower.as_str()),
            };
            let holds = match criterion {
                "all" => true,
                "canonical" | "final" => {
                    if criterion == "final" {
                        self.want_final = true;
                    }
                    self.final_pass
                }
                "host" | "originalhost" | "user" | "localuser" | "exec" => {
                    let Some(arg) = words.next() else {
                        options.set(&format!("Match {word}"), &[String::new()], Some(at));
                        return false;
                    };
                    match criterion {
                        "host" => pattern::list(&host_name(options, self.query.host), arg, true),
                        "originalhost" => pattern::list(self.query.host, arg, true),
                        "user" => pattern::list(&self.remote_user(options), arg, false),
                        "localuser" => pattern::list(self.query.local_user, arg, false),
                        _ if !result => continue,
                        _ => self.exec(arg, options),
                    }
                }
                _ => {
                    // `localnetwork`, `tagged`, …: reported, never matched.
                    options.set(&format!("Match {word}"), &[String::new()], Some(at));
                    return false;
                }
            };
            if holds == negate {
                result = false;
            }
        }
        result
    }

    fn remote_user(&self, options: &Options) -> String {
        options
            .first("user")
            .unwrap_or(self.query.local_user)
            .to_string()
    }

    /// `Match exec`: the command, its tokens expanded, through the shell;
    /// it holds when the command exits 0.
    fn exec(&self, command: &str, options: &Options) -> bool {
        let tokens = Tokens {
            home: self.query.home.to_string(),
            host: host_name(options, self.query.host),
            original_host: self.query.host.to_string(),
            port: options.first("port").unwrap_or("22").to_string(),
            remote_user: self.remote_user(options),
            local_user: self.query.local_user.to_string(),
        };
        Command::new("/bin/sh")
            .arg("-c")
            .arg(tokens.expand(command))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}
