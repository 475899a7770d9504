//! `get_url`: a file downloaded by the host (with `curl`) to `dest`,
//! verified against `checksum` before it replaces anything, as Ansible's
//! module does it.
//!
//! The probe reads `dest`: its checksum and attributes. With `checksum`,
//! a file that has it is `ok`; without, an existing file is `ok` unless
//! `force` — and then the probe downloads to a temporary file (removed) to
//! tell whether the content changed, so check mode can say it truly.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::edit::bool_arg;
use super::probed::{Decision, Probed, Prober, fields};
use super::{Action, Args, Mode};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "url",
    "dest",
    "checksum",
    "force",
    "mode",
    "owner",
    "group",
    "timeout",
    "validate_certs",
];

#[derive(Debug, Clone, Serialize)]
pub struct GetUrl {
    pub url: String,
    pub dest: String,
    /// `(algorithm, hex digest)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
    pub force: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `sha256sum` and the like, for the algorithm compared.
    pub sum: String,
}

pub fn get_url(args: &Args) -> Result<Action, Diagnostic> {
    let url = args.required("url", "get_url")?;
    let mut dest = args.required("dest", "get_url")?;
    if dest.ends_with('/') {
        let name = url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                args.error_at(
                    "dest",
                    "`dest` is a directory and the URL names no file: give the file's path",
                )
            })?;
        dest.push_str(name);
    }
    let checksum = match args.string("checksum")? {
        None => None,
        Some(text) => {
            let (algorithm, digest) = text.split_once(':').ok_or_else(|| {
                args.error_at(
                    "checksum",
                    "`checksum` must be `ALGORITHM:DIGEST`, like `sha256:9f86d0…`",
                )
            })?;
            if !["md5", "sha1", "sha224", "sha256", "sha384", "sha512"].contains(&algorithm) {
                return Err(args.error_at(
                    "checksum",
                    format!("`checksum` algorithm must be md5, sha1, sha224, sha256, sha384 or sha512, not `{algorithm}`"),
                ));
            }
            if digest.contains('/') || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(args.error_at(
                    "checksum",
                    "`checksum` must give the digest itself (a checksums file's URL is not supported)",
                ));
            }
            Some((algorithm.to_string(), digest.to_ascii_lowercase()))
        }
    };
    let mode = match args.mode()? {
        None => None,
        Some(Mode::Octal(m)) => Some(m),
        Some(Mode::Symbolic(m)) => {
            return Err(args.error_at(
                "mode",
                format!("`get_url` needs an octal `mode`, not `{m}`"),
            ));
        }
    };
    let timeout = match args.get("timeout") {
        None => 10,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| args.error_at("timeout", "`timeout` must be a number of seconds"))?,
    };
    let sum = format!(
        "{}sum",
        checksum.as_ref().map_or("sha256", |(a, _)| a.as_str())
    );
    let mut config = format!(
        "url = \"{}\"\nmax-time = {timeout}\nfail\nlocation\n",
        url.replace('\\', "\\\\").replace('"', "\\\"")
    );
    if !bool_arg(args, "validate_certs", true)? {
        config.push_str("insecure\n");
    }
    let spec = GetUrl {
        url,
        dest,
        checksum,
        force: bool_arg(args, "force", false)?,
        mode,
        owner: args.string("owner")?,
        group: args.string("group")?,
        sum,
    };
    Ok(Action::Probed {
        probed: Probed {
            probe: spec.probe(),
            stdin: Some(config),
            module: Prober::GetUrl(spec),
            env: Vec::new(),
            become_user: None,
            asks_password: false,
        },
    })
}

impl GetUrl {
    fn preamble(&self, what: &str) -> String {
        format!(
            "# get_url: {what}\ndest={} sum={}\n",
            quote(&self.dest),
            quote(&self.sum)
        )
    }

    fn probe(&self) -> Command {
        let mut script = self.preamble(&format!("probe `{}`", self.dest));
        script.push_str(
            "if [ -f \"$dest\" ]; then\n  echo exists=1\n  echo sum=$(\"$sum\" -- \"$dest\" | cut -d' ' -f1)\n  stat -c 'attrs=%a %U %G' -- \"$dest\"\nelif [ -e \"$dest\" ]; then\n  echo \"\\`$dest\\` exists and is not a regular file\" >&2; exit 1\nfi\n",
        );
        if self.force {
            script.push_str(
                "if [ -f \"$dest\" ]; then\n  tmp=$(mktemp) || exit 1\n  trap 'rm -f \"$tmp\"' EXIT\n  curl -sS -K - -o \"$tmp\" || exit 1\n  echo fresh=$(\"$sum\" -- \"$tmp\" | cut -d' ' -f1)\nfi\n",
            );
        }
        Command::script(script)
    }

    pub fn describe(&self) -> String {
        format!("get_url: `{}` to `{}`", self.url, self.dest)
    }

    fn attributes(&self, found: &str) -> Vec<String> {
        let mut words = found.split(' ');
        let (mode, owner, group) = (words.next(), words.next(), words.next());
        let mut out = Vec::new();
        for (want, have, name) in [
            (&self.mode, mode, "mode"),
            (&self.owner, owner, "owner"),
            (&self.group, group, "group"),
        ] {
            if let Some(want) = want
                && Some(want.as_str()) != have
            {
                out.push(format!("{name} {} → {want}", have.unwrap_or("?")));
            }
        }
        out
    }

    pub fn decide(&self, probe: &str) -> (Decision, Map<String, Value>) {
        let found = fields(probe);
        let mut out = Map::new();
        out.insert("dest".into(), json!(self.dest));
        out.insert("url".into(), json!(self.url));
        let dest = &self.dest;
        if !found.contains_key("exists") {
            let what = format!("download `{}` to `{dest}`", self.url);
            return (self.download(&what), out);
        }
        let have = found.get("sum").copied().unwrap_or_default();
        out.insert("checksum_dest".into(), json!(have));
        let same = match (&self.checksum, found.get("fresh")) {
            (Some((_, want)), _) => have == want,
            (None, Some(fresh)) => have == *fresh,
            (None, None) => true,
        };
        if !same {
            let why = if self.checksum.is_some() {
                "its checksum differs"
            } else {
                "the URL's content differs"
            };
            let what = format!("download `{}` to `{dest}` ({why})", self.url);
            return (self.download(&what), out);
        }
        let attributes = self.attributes(found.get("attrs").copied().unwrap_or_default());
        if !attributes.is_empty() {
            let what = format!("`{dest}`: {}", attributes.join(", "));
            let run = self.fix(Command::new("true"), &quote(dest));
            return (Decision::Change { what, run }, out);
        }
        let why = match (&self.checksum, self.force) {
            (Some((algorithm, _)), _) => format!("`{dest}` has the {algorithm} checksum given"),
            (None, true) => format!("`{dest}` already has the content of `{}`", self.url),
            (None, false) => format!("`{dest}` exists (`force: true` compares its content)"),
        };
        (Decision::Ok(why), out)
    }

    /// Adds the wanted mode and owner of `target` (shell text: quoted, or a
    /// `"$variable"`).
    fn fix(&self, mut cmd: Command, target: &str) -> Command {
        if let Some(mode) = &self.mode {
            cmd = cmd.and(Command::new("chmod").arg(mode).raw(target));
        }
        match (&self.owner, &self.group) {
            (Some(o), Some(g)) => {
                cmd.and(Command::new("chown").arg(format!("{o}:{g}")).raw(target))
            }
            (Some(o), None) => cmd.and(Command::new("chown").arg(o).raw(target)),
            (None, Some(g)) => cmd.and(Command::new("chgrp").arg(g).raw(target)),
            (None, None) => cmd,
        }
    }

    fn download(&self, what: &str) -> Decision {
        let mut script = self.preamble(what);
        script.push_str(&format!(
            "want={}\n",
            quote(self.checksum.as_ref().map_or("", |(_, d)| d.as_str()))
        ));
        script.push_str(
            r#"tmp=$(mktemp "$dest.ferry-XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
curl -sS -K - -o "$tmp" || exit 1
got=$("$sum" -- "$tmp" | cut -d' ' -f1)
if [ -n "$want" ] && [ "$got" != "$want" ]; then
  echo "the download's checksum is $got, not $want: \`$dest\` left as it was" >&2; exit 1
fi
if [ -e "$dest" ]; then chmod --reference="$dest" "$tmp"; else chmod "$(printf '%o' $(( 0666 & ~0$(umask) )))" "$tmp"; fi
"#,
        );
        let run = self
            .fix(Command::script(script.trim_end()), "\"$tmp\"")
            .and(Command::script(
                "mv -f -- \"$tmp\" \"$dest\" && echo checksum=$got",
            ));
        Decision::Change {
            what: what.to_string(),
            run,
        }
    }

    pub fn finish(&self, stdout: &str, out: &mut Map<String, Value>) {
        if let Some(sum) = fields(stdout).get("checksum") {
            out.insert("checksum_src".into(), json!(sum));
            out.insert("checksum_dest".into(), json!(sum));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn spec(checksum: bool, force: bool) -> GetUrl {
        GetUrl {
            url: "http://127.0.0.1:8000/app.tgz".into(),
            dest: "/srv/app.tgz".into(),
            checksum: checksum.then(|| ("sha256".into(), SUM.into())),
            force,
            mode: None,
            owner: None,
            group: None,
            sum: "sha256sum".into(),
        }
    }

    fn what(decision: &Decision) -> &str {
        match decision {
            Decision::Change { what, .. } => what,
            Decision::Ok(why) | Decision::Fail(why) | Decision::Done(why) => why,
        }
    }

    #[test]
    fn a_missing_file_is_downloaded_and_a_matching_one_kept() {
        assert_eq!(
            what(&spec(true, false).decide("").0),
            "download `http://127.0.0.1:8000/app.tgz` to `/srv/app.tgz`"
        );
        let have = format!("exists=1\nsum={SUM}\nattrs=644 root root\n");
        assert_eq!(
            spec(true, false).decide(&have).0,
            Decision::Ok("`/srv/app.tgz` has the sha256 checksum given".into())
        );
        let other = have.replace(SUM, "00");
        assert!(what(&spec(true, false).decide(&other).0).ends_with("(its checksum differs)"));
    }

    #[test]
    fn without_a_checksum_an_existing_file_is_kept_unless_forced() {
        let have = format!("exists=1\nsum={SUM}\nattrs=644 root root\n");
        assert!(matches!(
            spec(false, false).decide(&have).0,
            Decision::Ok(_)
        ));
        let fresh = format!("{have}fresh={SUM}\n");
        assert!(matches!(
            spec(false, true).decide(&fresh).0,
            Decision::Ok(_)
        ));
        let changed = format!("{have}fresh=00\n");
        assert!(
            what(&spec(false, true).decide(&changed).0).ends_with("(the URL's content differs)")
        );
        let mut moded = spec(true, false);
        moded.mode = Some("600".into());
        assert_eq!(
            what(&moded.decide(&have).0),
            "`/srv/app.tgz`: mode 644 → 600"
        );
    }
}
