//! `stat`: what a path is on the host — Ansible's `stat` result, for
//! `register` and later `when:` tests. It only reads, so it runs in check
//! mode too and always reports `ok`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::edit::{self, bool_arg};
use super::{Action, Args};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

pub const KEYS: &[&str] = &[
    "path",
    "follow",
    "get_checksum",
    "checksum_algorithm",
    "get_mime",
    "get_attributes",
];

/// The fields `stat -c` prints, in the order [`parse`] reads them.
const FORMAT: &str = "%f|%u|%g|%U|%G|%s|%X|%Y|%Z|%h|%i|%d";

#[derive(Debug, Clone, Serialize)]
pub struct StatProbe {
    pub path: String,
    pub command: Command,
}

pub fn stat(args: &Args) -> Result<Action, Diagnostic> {
    let path = edit::path_arg(args, "stat")?;
    let follow = bool_arg(args, "follow", false)?;
    let checksum = bool_arg(args, "get_checksum", true)?;
    let sum = match args.string("checksum_algorithm")?.as_deref() {
        None | Some("sha1") => "sha1sum",
        Some("md5") => "md5sum",
        Some("sha224") => "sha224sum",
        Some("sha256") => "sha256sum",
        Some("sha384") => "sha384sum",
        Some("sha512") => "sha512sum",
        Some(other) => {
            return Err(args.error_at(
                "checksum_algorithm",
                format!(
                    "`checksum_algorithm` must be one of `sha1`, `md5`, `sha224`, `sha256`, `sha384`, `sha512`, not `{other}`"
                ),
            ));
        }
    };
    let q = quote(&path);
    let l = if follow { "-L " } else { "" };
    // Line 1: the stat fields, or `absent`; 2: the link's target; 3: the
    // resolved path; 4: r, w, x for the connecting user; 5: the checksum.
    let mut script = format!(
        "if [ -e {q} ] || [ -L {q} ]; then stat {l}-c '{FORMAT}' -- {q} || exit 1; \
         readlink -- {q} || echo; readlink -f -- {q} || echo; \
         {{ [ -r {q} ] && printf r; [ -w {q} ] && printf w; [ -x {q} ] && printf x; echo; }}"
    );
    if checksum {
        let file_test = if follow {
            format!("[ -f {q} ]")
        } else {
            format!("[ -f {q} ] && [ ! -L {q} ]")
        };
        script.push_str(&format!(
            "; if {file_test} && [ -r {q} ]; then {sum} -- {q} | cut -d' ' -f1; else echo; fi"
        ));
    }
    script.push_str("; else echo absent; fi");
    Ok(Action::Stat {
        stat: StatProbe {
            path,
            command: Command::script(script),
        },
    })
}

/// Ansible's `stat` dictionary from the probe's output.
pub fn parse(path: &str, stdout: &str) -> Result<Value, String> {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    if first == "absent" {
        return Ok(json!({ "exists": false }));
    }
    let fields: Vec<&str> = first.split('|').collect();
    let [
        raw,
        uid,
        gid,
        owner,
        group,
        size,
        atime,
        mtime,
        ctime,
        nlink,
        inode,
        dev,
    ] = fields[..]
    else {
        return Err(format!(
            "could not read `stat`'s output for `{path}`: `{first}`"
        ));
    };
    let number = |text: &str| -> Result<u64, String> {
        text.parse()
            .map_err(|_| format!("`stat` printed `{text}` where a number belongs"))
    };
    let raw = u32::from_str_radix(raw, 16).map_err(|_| format!("`stat` printed mode `{raw}`"))?;
    let target = lines.next().unwrap_or_default();
    let resolved = lines.next().unwrap_or_default();
    let access = lines.next().unwrap_or_default();
    let checksum = lines.next().unwrap_or_default();
    let kind = raw & 0o170000;
    let bit = |b: u32| raw & b != 0;
    let mut out = Map::new();
    out.insert("exists".into(), json!(true));
    out.insert("path".into(), json!(path));
    out.insert("mode".into(), json!(format!("{:04o}", raw & 0o7777)));
    out.insert("isdir".into(), json!(kind == 0o040000));
    out.insert("isreg".into(), json!(kind == 0o100000));
    out.insert("islnk".into(), json!(kind == 0o120000));
    out.insert("ischr".into(), json!(kind == 0o020000));
    out.insert("isblk".into(), json!(kind == 0o060000));
    out.insert("isfifo".into(), json!(kind == 0o010000));
    out.insert("issock".into(), json!(kind == 0o140000));
    out.insert("uid".into(), json!(number(uid)?));
    out.insert("gid".into(), json!(number(gid)?));
    out.insert("pw_name".into(), json!(owner));
    out.insert("gr_name".into(), json!(group));
    out.insert("size".into(), json!(number(size)?));
    out.insert("atime".into(), json!(number(atime)?));
    out.insert("mtime".into(), json!(number(mtime)?));
    out.insert("ctime".into(), json!(number(ctime)?));
    out.insert("nlink".into(), json!(number(nlink)?));
    out.insert("inode".into(), json!(number(inode)?));
    out.insert("dev".into(), json!(number(dev)?));
    for (name, b) in [
        ("rusr", 0o400),
        ("wusr", 0o200),
        ("xusr", 0o100),
        ("rgrp", 0o040),
        ("wgrp", 0o020),
        ("xgrp", 0o010),
        ("roth", 0o004),
        ("woth", 0o002),
        ("xoth", 0o001),
        ("isuid", 0o4000),
        ("isgid", 0o2000),
    ] {
        out.insert(name.into(), json!(bit(b)));
    }
    out.insert("readable".into(), json!(access.contains('r')));
    out.insert("writeable".into(), json!(access.contains('w')));
    out.insert("executable".into(), json!(access.contains('x')));
    if kind == 0o120000 {
        out.insert("lnk_target".into(), json!(target));
        out.insert("lnk_source".into(), json!(resolved));
    }
    if !checksum.is_empty() {
        out.insert("checksum".into(), json!(checksum));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_only_does_not_exist() {
        assert_eq!(parse("/x", "absent\n").unwrap(), json!({ "exists": false }));
    }

    #[test]
    fn a_file_has_ansibles_fields() {
        let out = "81a4|0|0|root|root|6|1|2|3|1|99|2049\n\n/etc/x\nrw\nabc123\n";
        let stat = parse("/etc/x", out).unwrap();
        assert_eq!(stat["exists"], true);
        assert_eq!(stat["isreg"], true);
        assert_eq!(stat["isdir"], false);
        assert_eq!(stat["mode"], "0644");
        assert_eq!(stat["size"], 6);
        assert_eq!(stat["pw_name"], "root");
        assert_eq!(stat["woth"], false);
        assert_eq!(stat["rusr"], true);
        assert_eq!(stat["executable"], false);
        assert_eq!(stat["checksum"], "abc123");
        assert!(stat.get("lnk_target").is_none());
    }

    #[test]
    fn a_link_says_where_it_points() {
        let out = "a1ff|0|0|root|root|4|1|2|3|1|9|2049\n/srv/r1\n/srv/r1\nrwx\n\n";
        let stat = parse("/srv/current", out).unwrap();
        assert_eq!(stat["islnk"], true);
        assert_eq!(stat["lnk_target"], "/srv/r1");
        assert!(stat.get("checksum").is_none());
    }

    #[test]
    fn unreadable_output_is_an_error_not_a_guess() {
        assert!(parse("/x", "garbage\n").is_err());
    }
}
