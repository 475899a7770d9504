//! ssh command-line arguments from an inventory (`ansible_ssh_common_args`,
//! `ansible_ssh_extra_args`), read with ssh's meaning: `-o Key=Value`,
//! `-J hops`, `-p`, `-l` and `-i` become options given before ssh_config
//! (so they win, as on ssh's command line); any other flag is kept under
//! its own name, so that `-v` reports it as not supported.

use super::ssh_config::split_option;

/// ssh's flags that take an argument (`ssh -h`), besides those honoured.
const WITH_ARGUMENT: &str = "BbcDEeFIiJLlmOoPpQRSWw";

/// The options the arguments give, in order, as `(keyword, arguments)`.
pub fn parse(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let words = shlex::split(text).ok_or_else(|| format!("unbalanced quotes in `{text}`"))?;
    let mut options = Vec::new();
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let Some(flags) = word.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err(format!("`{word}` is not an ssh option"));
        };
        // Flags may be bundled (`-qC`); one taking an argument ends the
        // bundle, its argument the rest of the word or the next word.
        for (index, flag) in flags.char_indices() {
            if !WITH_ARGUMENT.contains(flag) {
                options.push((format!("-{flag}"), vec![String::new()]));
                continue;
            }
            let rest = &flags[index + flag.len_utf8()..];
            let argument = if rest.is_empty() {
                words
                    .next()
                    .ok_or_else(|| format!("`-{flag}` needs an argument"))?
            } else {
                rest.to_string()
            };
            options.push(match flag {
                'o' => split_option(&argument)?,
                'J' => ("ProxyJump".to_string(), vec![argument]),
                'p' => ("Port".to_string(), vec![argument]),
                'l' => ("User".to_string(), vec![argument]),
                'i' => ("IdentityFile".to_string(), vec![argument]),
                other => (format!("-{other}"), vec![argument]),
            });
            break;
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(keyword: &str, args: &[&str]) -> (String, Vec<String>) {
        (
            keyword.to_string(),
            args.iter().map(|a| a.to_string()).collect(),
        )
    }

    #[test]
    fn options_jumps_and_flags() {
        let parsed = parse(
            r#"-o ProxyCommand="ssh -W %h:%p -q bastion" -oStrictHostKeyChecking=no -J admin@gw:2200 -qC -p2222 -o "User deploy""#,
        )
        .unwrap();
        assert_eq!(
            parsed,
            [
                option("ProxyCommand", &["ssh -W %h:%p -q bastion"]),
                option("StrictHostKeyChecking", &["no"]),
                option("ProxyJump", &["admin@gw:2200"]),
                option("-q", &[""]),
                option("-C", &[""]),
                option("Port", &["2222"]),
                option("User", &["deploy"]),
            ]
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse("-o").unwrap_err().contains("needs an argument"));
        assert!(
            parse("ProxyJump=gw")
                .unwrap_err()
                .contains("not an ssh option")
        );
        assert!(parse("-o 'Port 22").unwrap_err().contains("unbalanced"));
    }
}
