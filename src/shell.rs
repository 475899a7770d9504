//! Shell commands built from parts, never concatenated by hand.
//!
//! Every argument is quoted for a POSIX shell as Python's `shlex.quote`
//! quotes it; script text that the user wrote as shell (`shell:`) is kept
//! as it is. A [`Command`] shows itself with secret values masked, so what a
//! plan prints, what a log records and what an error quotes never leak them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::diagnostic::{Diagnostic, Source};

/// The variable that holds the become password on a host, for the length
/// of one command (see [`Command::become_user_asking`]).
pub const BECOME_PASSWORD_VAR: &str = "FERRY_BECOME_PASS";

/// How a command that sudo may ask a password for begins.
const ASKPASS: &str = "SUDO_ASKPASS=\"$(command -v printenv)\"";

/// What a secret value is replaced with wherever ferry shows it.
pub const MASK: &str = "********";

/// Quotes `word` for a POSIX shell: unchanged when it is made only of safe
/// characters, else in single quotes with each `'` written as `'"'"'`.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if word.is_empty() {
        "''".to_string()
    } else if word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\"'\"'"))
    }
}

/// A command as a person reads it in a plan or a recap. Scripts that
/// modules generate (`service`, `http.check`) open with a `# module: what
/// it does` line and run to dozens of lines: this keeps that line and says
/// how many follow (`--json` plans carry every line as sent).
pub fn summary(command: &str) -> String {
    // A script run through sudo (`become`) reads `sudo … sh -c '# …'`
    // (after `SUDO_ASKPASS=…` when sudo asks a password).
    let (sudo, script) = match command.split_once(" sh -c '# ") {
        Some((sudo, script))
            if (sudo.starts_with("sudo ") || sudo.starts_with(ASKPASS)) && !sudo.contains('\n') =>
        {
            (format!("{sudo}: "), Some(script))
        }
        _ => (String::new(), command.strip_prefix("# ")),
    };
    let lines = script.map_or(0, |s| s.trim_end_matches('\'').lines().count());
    match script {
        Some(rest) if lines > 3 => format!(
            "{sudo}{} (a script of {lines} lines; `ferry plan --json` shows it whole)",
            rest.lines().next().unwrap_or_default()
        ),
        _ => command.to_string(),
    }
}

/// A command line for `sh -c`, made of quoted words and raw shell text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    text: String,
}

impl Command {
    /// A command that runs `program` with quoted arguments added later.
    pub fn new(program: &str) -> Command {
        Command {
            text: quote(program),
        }
    }

    /// Shell text the user wrote (the `shell` module): used as it is.
    pub fn script(text: impl Into<String>) -> Command {
        Command { text: text.into() }
    }

    /// Appends one quoted argument.
    pub fn arg(mut self, arg: impl AsRef<str>) -> Command {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(&quote(arg.as_ref()));
        self
    }

    pub fn args<I, S>(self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        args.into_iter().fold(self, Command::arg)
    }

    /// Appends shell syntax (`&&`, `>`, `||`) between parts.
    pub fn raw(mut self, text: &str) -> Command {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(text);
        self
    }

    /// `self && next`.
    pub fn and(self, next: Command) -> Command {
        self.raw("&&").raw(&next.text)
    }

    /// `cd DIR && self`.
    pub fn in_dir(self, dir: &str) -> Command {
        Command::new("cd").arg(dir).and(self)
    }

    /// Exports `NAME=value` (values quoted) for everything the command runs,
    /// including each part of an `a && b` chain.
    pub fn with_env(self, env: &[(String, String)]) -> Command {
        let mut text = String::new();
        for (name, value) in env {
            text.push_str(&format!("export {name}={} && ", quote(value)));
        }
        Command {
            text: format!("{text}{}", self.text),
        }
    }

    /// Runs the command as another user through `sudo` (non-interactive).
    pub fn become_user(self, user: &str) -> Command {
        Command::new("sudo")
            .args(["-n", "-H", "-u", user, "--", "sh", "-c"])
            .arg(&self.text)
    }

    /// Runs the command as another user through a `sudo` that asks for a
    /// password: sudo's askpass program is `printenv`, which it runs with
    /// the prompt, [`BECOME_PASSWORD_VAR`], as its argument, so it answers
    /// with the value of that variable. The command must be wrapped by
    /// [`Command::reading_become_password`], which sets the variable from
    /// stdin: the password is never on a command line (where `ps` shows
    /// it), and sudo reads it only when it has to (a `NOPASSWD` rule or a
    /// cached login never consumes it).
    pub fn become_user_asking(self, user: &str) -> Command {
        let sudo = Command::new("sudo")
            .args([
                "-A",
                "-p",
                BECOME_PASSWORD_VAR,
                "-H",
                "-u",
                user,
                "--",
                "sh",
                "-c",
            ])
            .arg(&self.text);
        Command {
            text: format!("{ASKPASS} {}", sudo.text),
        }
    }

    /// Reads the become password from the first line of stdin into
    /// [`BECOME_PASSWORD_VAR`] (exported only to this command's processes:
    /// the environment of a process is readable by its user and root
    /// alone), then runs the command, which reads the rest of stdin.
    pub fn reading_become_password(self) -> Command {
        Command {
            text: format!(
                "IFS= read -r {BECOME_PASSWORD_VAR} || exit 125\nexport {BECOME_PASSWORD_VAR}\n{}",
                self.text
            ),
        }
    }

    /// The exact text sent to the host. Never print this: use `Display`
    /// through a [`Masker`].
    pub fn as_sent(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// A secret, or a value computed from one, shorter than this is not masked:
/// masking `1` would hide every `1` in the output and refuse every command
/// line with one, and what is that short tells next to nothing — a
/// `{{ secret | length }}` of `32`, an `on` from `{{ 'on' if secret else
/// 'off' }}`. The secrets file warns about such values.
pub const MIN_MASKED: usize = 4;

/// Up to this many secret forms, a masker searches for each in turn: cheaper
/// than building an automaton (a host's own derived secrets, checked after
/// each step it compiles, are this few).
const FEW: usize = 16;

/// Replaces every secret value with [`MASK`] in text that is about to be shown.
///
/// One pass over the text whatever the number of secrets (an Aho-Corasick
/// automaton, leftmost-longest: a secret containing another is masked
/// whole): a deploy to many hosts knows values derived per host, and every
/// output line is masked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Masker {
    #[serde(skip)]
    secrets: Vec<String>,
    #[serde(skip)]
    known: std::collections::HashSet<String>,
    /// Built on first use after the last [`add`](Self::add).
    #[serde(skip)]
    automaton: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Registers a secret value, with its forms as other text carries it:
    /// shell-quoted (in commands) and JSON-escaped (`--json`, where a `"`,
    /// `\\` or newline in it is written escaped).
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_MASKED {
            return;
        }
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or_default()
            .to_string();
        for form in [secret.to_string(), quote(secret), json] {
            if !form.is_empty() && self.known.insert(form.clone()) {
                self.secrets.push(form);
                self.automaton = std::sync::OnceLock::new();
            }
        }
    }

    /// Registers every secret `other` knows.
    pub fn extend(&mut self, other: &Masker) {
        for secret in &other.secrets {
            if self.known.insert(secret.clone()) {
                self.secrets.push(secret.clone());
                self.automaton = std::sync::OnceLock::new();
            }
        }
    }

    fn automaton(&self) -> Option<&aho_corasick::AhoCorasick> {
        self.automaton
            .get_or_init(|| {
                if self.secrets.is_empty() {
                    return None;
                }
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&self.secrets)
                    .ok()
            })
            .as_ref()
    }

    /// Registers a value computed from a secret (a template that read one):
    /// as it is and trimmed, unless it is too short to tell anything
    /// ([`MIN_MASKED`]) or a boolean's word.
    pub fn add_derived(&mut self, value: &str) {
        let trimmed = value.trim();
        let trivial = ["true", "false", "none", "null", "yes"];
        if trimmed.chars().count() < MIN_MASKED
            || trivial.iter().any(|t| t.eq_ignore_ascii_case(trimmed))
        {
            return;
        }
        self.add(value);
        if trimmed != value {
            self.add(trimmed);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Whether `text` contains any secret value.
    pub fn reveals(&self, text: &str) -> bool {
        if self.secrets.len() <= FEW {
            return self.secrets.iter().any(|s| text.contains(s.as_str()));
        }
        self.automaton().is_some_and(|ac| ac.is_match(text))
    }

    pub fn mask(&self, text: &str) -> String {
        if self.secrets.len() <= FEW {
            // Longest first, so a secret containing another is masked whole.
            let mut secrets: Vec<&String> = self.secrets.iter().collect();
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
            return secrets
                .into_iter()
                .fold(text.to_string(), |out, s| out.replace(s.as_str(), MASK));
        }
        let Some(ac) = self.automaton() else {
            return text.to_string();
        };
        let mut out = String::with_capacity(text.len());
        ac.replace_all_with(text, &mut out, |_, _, out| {
            out.push_str(MASK);
            true
        });
        out
    }

    /// An error with every secret masked: its message, its help and the
    /// source line it quotes (a template error may show a value; a
    /// playbook line may hold a secret written inline).
    pub fn hide(&self, mut err: Diagnostic) -> Diagnostic {
        if self.secrets.is_empty() {
            return err;
        }
        err.message = self.mask(&err.message);
        err.help = err.help.map(|help| self.mask(&help));
        if let Some(span) = &mut err.span
            && let Some(line) = span.source.line(span.line)
            && self.reveals(line)
        {
            let text = self.mask(&span.source.text);
            span.source = Source::new(span.source.path.clone(), text);
        }
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_scripts_are_summed_up_by_their_first_line_with_or_without_sudo() {
        let script = "# service: restart web\na\nb\nc\n";
        assert_eq!(
            summary(script),
            "service: restart web (a script of 4 lines; `ferry plan --json` shows it whole)"
        );
        let sudo = format!("sudo -n -H -u root -- sh -c {}", quote(script));
        assert_eq!(
            summary(&sudo),
            "sudo -n -H -u root --: service: restart web (a script of 4 lines; `ferry plan --json` shows it whole)"
        );
        assert_eq!(summary("echo hi"), "echo hi");
    }

    #[test]
    fn quotes_like_python_shlex() {
        assert_eq!(
            quote("plain-word_1.2/x:y@z%+=,"),
            "plain-word_1.2/x:y@z%+=,"
        );
        assert_eq!(quote(""), "''");
        assert_eq!(quote("two words"), "'two words'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("a;rm -rf /"), "'a;rm -rf /'");
    }

    #[test]
    fn builds_commands_with_quoted_arguments() {
        let cmd = Command::new("mkdir")
            .args(["-p", "/srv/my app"])
            .in_dir("/tmp")
            .with_env(&[("LANG".into(), "C UTF".into())]);
        assert_eq!(
            cmd.to_string(),
            "export LANG='C UTF' && cd /tmp && mkdir -p '/srv/my app'"
        );
    }

    #[test]
    fn become_wraps_the_whole_command() {
        let cmd = Command::script("echo $USER > /tmp/x").become_user("deploy");
        assert_eq!(
            cmd.to_string(),
            "sudo -n -H -u deploy -- sh -c 'echo $USER > /tmp/x'"
        );
    }

    #[test]
    fn become_asking_reads_the_password_from_stdin_and_passes_the_rest_on() {
        let cmd = Command::new("cat").become_user_asking("deploy");
        assert_eq!(
            cmd.to_string(),
            "SUDO_ASKPASS=\"$(command -v printenv)\" sudo -A -p FERRY_BECOME_PASS -H -u deploy -- sh -c cat"
        );
        // Without sudo: the first line goes to the variable, the rest on.
        let script =
            Command::script(r#"printf '%s|' "$FERRY_BECOME_PASS"; cat"#).reading_become_password();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(script.as_sent())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"pass word $x\nthe upload\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "pass word $x|the upload\n"
        );
    }

    #[test]
    fn masks_secrets_raw_and_quoted() {
        let mut masker = Masker::new();
        masker.add("hunter 2");
        masker.add("1");
        let shown = masker.mask(&Command::new("echo").arg("hunter 2").to_string());
        assert_eq!(shown, format!("echo {MASK}"));
        assert!(masker.reveals("pw=hunter 2"));
        assert!(!masker.reveals("pw=hunter"));
        assert!(!masker.reveals("host1"), "too short to mask");
    }

    #[test]
    fn many_secrets_are_masked_in_one_pass_a_longer_one_whole() {
        let mut masker = Masker::new();
        for i in 0..40 {
            masker.add(&format!("secret-{i:02}"));
        }
        masker.add("secret-07-and-more");
        assert!(masker.secrets.len() > FEW);
        assert_eq!(
            masker.mask("a secret-07-and-more b secret-39 c secret-4"),
            format!("a {MASK} b {MASK} c secret-4")
        );
        assert!(masker.reveals("x secret-12 y") && !masker.reveals("secret-4"));
    }

    #[test]
    fn masks_secrets_as_json_writes_them() {
        let mut masker = Masker::new();
        masker.add("a\"b\\c\nd");
        let json = serde_json::json!({ "msg": "x a\"b\\c\nd y" }).to_string();
        assert_eq!(masker.mask(&json), format!(r#"{{"msg":"x {MASK} y"}}"#));
    }

    #[test]
    fn values_derived_from_secrets_are_masked_unless_too_short_to_tell() {
        let mut masker = Masker::new();
        for trivial in ["", "a", "32", "on", "off", "true", "False", "None", "  \n"] {
            masker.add_derived(trivial);
        }
        assert!(masker.is_empty(), "{masker:?}");
        masker.add_derived("aHVudGVyMg==\n");
        assert_eq!(masker.mask("echo aHVudGVyMg=="), format!("echo {MASK}"));
        assert_eq!(masker.mask("x=aHVudGVyMg==\n."), format!("x={MASK}."));
    }

    #[test]
    fn errors_are_hidden_message_help_and_quoted_line() {
        let mut masker = Masker::new();
        masker.add("hunter2");
        let source = Source::new("deploy.yml", "- shell: echo hunter2 | x\n");
        let span = crate::diagnostic::Span::new(source, 1, 23, 1);
        let err = Diagnostic::new("cannot convert `hunter2`", span).with_help("try hunter2");
        let shown = masker.hide(err).to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("deploy.yml:1:23"), "{shown}");
    }
}
