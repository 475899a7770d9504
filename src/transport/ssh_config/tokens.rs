//! The `%` tokens and `~` that OpenSSH expands in ssh_config values.

/// Values for the tokens; a token without one is left as written.
#[derive(Debug, Clone, Default)]
pub(super) struct Tokens {
    /// `%d`: the local home directory (also what `~` stands for).
    pub home: String,
    /// `%h`: the host name connected to (HostName).
    pub host: String,
    /// `%n`: the host name as given.
    pub original_host: String,
    /// `%p`
    pub port: String,
    /// `%r`: the remote user.
    pub remote_user: String,
    /// `%u`: the local user.
    pub local_user: String,
}

impl Tokens {
    /// Expands `%d %h %n %p %r %u %l %L %i %%`; others stay as written.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('d') => out.push_str(&self.home),
                Some('h') => out.push_str(&self.host),
                Some('n') => out.push_str(&self.original_host),
                Some('p') => out.push_str(&self.port),
                Some('r') => out.push_str(&self.remote_user),
                Some('u') => out.push_str(&self.local_user),
                Some('l') => out.push_str(&local_host_name()),
                Some('L') => {
                    let name = local_host_name();
                    out.push_str(name.split('.').next().unwrap_or_default());
                }
                Some('i') => out.push_str(&uid()),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }

    /// `~` or `~/…` at the start to the home directory, then the tokens:
    /// for file names (`IdentityFile`, `UserKnownHostsFile`, …).
    pub fn path(&self, text: &str) -> String {
        let text = if text == "~" {
            self.home.clone()
        } else if let Some(rest) = text.strip_prefix("~/") {
            format!("{}/{rest}", self.home)
        } else {
            text.to_string()
        };
        self.expand(&text)
    }
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn uid() -> String {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_tilde() {
        let tokens = Tokens {
            home: "/home/me".into(),
            host: "10.0.0.1".into(),
            original_host: "web1".into(),
            port: "2222".into(),
            remote_user: "deploy".into(),
            local_user: "me".into(),
        };
        assert_eq!(
            tokens.path("~/.ssh/%n-%h-%p-%r-%u-100%%-%Z"),
            "/home/me/.ssh/web1-10.0.0.1-2222-deploy-me-100%-%Z"
        );
        assert_eq!(tokens.path("%d/x"), "/home/me/x");
        assert_eq!(tokens.path("/k~"), "/k~");
    }
}
