//! A command's streamed output cut at line ends before it is masked and
//! shown (`-v`): a secret that arrives split across two chunks is whole
//! within its line, and so is a multi-byte character.

/// Bytes of one stream not yet ended by a newline.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Takes a chunk; returns the complete lines it finishes, if any.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(bytes);
        let end = self.pending.iter().rposition(|b| *b == b'\n')? + 1;
        let done: Vec<u8> = self.pending.drain(..end).collect();
        Some(String::from_utf8_lossy(&done).into_owned())
    }

    /// What is left when the stream ends (a last line without a newline).
    pub(crate) fn rest(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.pending);
        Some(String::from_utf8_lossy(&rest).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_split_across_chunks_comes_out_whole() {
        let mut lines = Lines::default();
        assert_eq!(lines.push(b"pass=hun"), None);
        assert_eq!(
            lines.push(b"ter2\nnext"),
            Some("pass=hunter2\n".to_string())
        );
        assert_eq!(lines.rest(), Some("next".to_string()));
        assert_eq!(lines.rest(), None);
    }

    #[test]
    fn a_character_split_across_chunks_is_not_mangled() {
        let mut lines = Lines::default();
        let text = "café\n".as_bytes();
        assert_eq!(lines.push(&text[..4]), None);
        assert_eq!(lines.push(&text[4..]), Some("café\n".to_string()));
    }
}
