//! `copy` of a local directory: every file under it, as one tar archive on
//! the command's stdin, unpacked into place; `ok` when every file on the
//! host already has its content.
//!
//! As in Ansible, `src: dir/` copies what is in `dir` into `dest`, and
//! `src: dir` copies `dir` itself (into `dest/dir`). Files on the host that
//! the source lacks are left alone.

use std::path::Path;

use super::copy::{Upload, sha256_hex};
use super::{Action, Args, Check};
use crate::diagnostic::Diagnostic;
use crate::shell::{Command, quote};

/// What a directory holds, relative to it, sorted.
#[derive(Debug, Default)]
struct Tree {
    dirs: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
}

pub(crate) fn tree(args: &Args, dir: &Path, src: &str, dest: String) -> Result<Action, Diagnostic> {
    for key in ["mode", "owner", "group", "backup", "validate"] {
        if args.get(key).is_some() {
            return Err(args.error_at(
                key,
                format!("`copy` of a directory (`{src}`) does not take `{key}`: set it with `file` and `recurse` after the copy"),
            ));
        }
    }
    let dest = if src.ends_with('/') {
        dest
    } else {
        let name = Path::new(src)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{}/{name}", dest.trim_end_matches('/'))
    };
    let mut tree = Tree::default();
    walk(dir, "", &mut tree)
        .map_err(|e| args.error_at("src", format!("cannot read `src` directory `{src}`: {e}")))?;
    if let Some((odd, _)) = tree.files.iter().find(|(p, _)| p.contains(['\n', '\\'])) {
        return Err(args.error_at(
            "src",
            format!(
                "`{odd}` in `{src}`: ferry copies no file whose name holds a newline or a backslash"
            ),
        ));
    }
    let archive =
        archive(&tree).map_err(|e| args.error_at("src", format!("cannot pack `{src}`: {e}")))?;
    let bytes: usize = tree.files.iter().map(|(_, c)| c.len()).sum();
    let q = quote(&dest);
    let mut test = format!("cd -- {q} 2>/dev/null");
    for d in &tree.dirs {
        test.push_str(&format!(" && [ -d {} ]", quote(d)));
    }
    if !tree.files.is_empty() {
        let lines: Vec<String> = tree
            .files
            .iter()
            .map(|(p, c)| quote(&format!("{}  ./{p}", sha256_hex(c))))
            .collect();
        test.push_str(&format!(
            " && printf '%s\\n' {} | sha256sum -c --status --strict -",
            lines.join(" ")
        ));
    }
    let check = Check {
        command: Command::script(test),
        satisfied: format!(
            "every file of `{src}` is already in `{dest}` with this content ({} files)",
            tree.files.len()
        ),
        would: Some(format!(
            "write {} files ({bytes} bytes) under `{dest}`",
            tree.files.len()
        )),
    };
    let run = Command::new("mkdir")
        .args(["-p", "--", &dest])
        .and(Command::new("tar").args(["-x", "-m", "--no-same-owner", "-f", "-", "-C", &dest]));
    Ok(Action::Remote {
        check: Some(check),
        run,
        upload: Some(Upload {
            size: archive.len(),
            sha256: sha256_hex(&archive),
            dest,
            from: src.to_string(),
            content: archive,
            read: None,
            mode: None,
        }),
    })
}

/// Reads `dir` into `tree`, following symlinks (Ansible's `local_follow`).
fn walk(dir: &Path, prefix: &str, tree: &mut Tree) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        if std::fs::metadata(&path)?.is_dir() {
            tree.dirs.push(rel.clone());
            walk(&path, &format!("{rel}/"), tree)?;
        } else {
            let bytes = crate::vault::open_file(std::fs::read(&path)?, &path)
                .map_err(|e| std::io::Error::other(e.message))?;
            tree.files.push((rel, bytes));
        }
    }
    Ok(())
}

/// The tree as a tar archive: directories 0755 and files 0644 (the host's
/// umask applies, as to a file Ansible creates), owned by whoever unpacks.
fn archive(tree: &Tree) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for dir in &tree.dirs {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder.append_data(&mut header, format!("{dir}/"), std::io::empty())?;
    }
    for (path, content) in &tree.files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        builder.append_data(&mut header, path, content.as_slice())?;
    }
    builder.into_inner()
}
