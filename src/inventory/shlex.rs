//! Splits an INI host line into words as Python's `shlex.split(line,
//! comments=True)` does in POSIX mode, which is what Ansible's INI reader
//! uses: quotes group and disappear, a backslash escapes the next character
//! (inside double quotes only `\\` and `\"`), and `#` outside quotes ends
//! the line even in the middle of a word.

/// One word and the character offset where it starts in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub offset: usize,
}

/// Why a line cannot be split, and the character offset to point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitError {
    pub message: &'static str,
    pub offset: usize,
}

pub(crate) fn split(line: &str) -> Result<Vec<Word>, SplitError> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    // The word being read, and whether it has started (a quoted '' is a word).
    let mut current: Option<Word> = None;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if let Some(word) = current.take() {
                    words.push(word);
                }
                i += 1;
            }
            '#' => break,
            '\\' => {
                let word = current.get_or_insert(Word {
                    text: String::new(),
                    offset: i,
                });
                let Some(&next) = chars.get(i + 1) else {
                    return Err(SplitError {
                        message: "no character after the backslash",
                        offset: i,
                    });
                };
                word.text.push(next);
                i += 2;
            }
            '\'' | '"' => {
                let word = current.get_or_insert(Word {
                    text: String::new(),
                    offset: i,
                });
                let open = i;
                i += 1;
                loop {
                    let Some(&q) = chars.get(i) else {
                        return Err(SplitError {
                            message: "no closing quotation",
                            offset: open,
                        });
                    };
                    i += 1;
                    if q == c {
                        break;
                    }
                    if c == '"' && q == '\\' {
                        match chars.get(i) {
                            Some(&e @ ('\\' | '"')) => {
                                word.text.push(e);
                                i += 1;
                            }
                            _ => word.text.push('\\'),
                        }
                        continue;
                    }
                    word.text.push(q);
                }
            }
            _ => {
                current
                    .get_or_insert(Word {
                        text: String::new(),
                        offset: i,
                    })
                    .text
                    .push(c);
                i += 1;
            }
        }
    }
    if let Some(word) = current {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn splits_like_python_shlex() {
        assert_eq!(
            texts(r#"web1 a="x y" b='c d'e f=g\ h i#comment"#),
            ["web1", "a=x y", "b=c de", "f=g h", "i"]
        );
        assert_eq!(texts(r#"x="a\"b\c" y=''"#), ["x=a\"b\\c", "y="]);
        assert_eq!(split("a  bb").unwrap()[1].offset, 3);
    }

    #[test]
    fn unclosed_quote_is_an_error() {
        let err = split("web1 a='x").unwrap_err();
        assert_eq!((err.message, err.offset), ("no closing quotation", 7));
    }
}
