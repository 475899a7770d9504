//! ANSI colors for the recap and the live lines, on only when asked.

/// What a piece of text says, which picks its color.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Plain,
    /// Green: ok, succeeded.
    Good,
    /// Yellow: changed, ignored, interrupted.
    Changed,
    /// Red: failed, unreachable.
    Bad,
}

/// Wraps text in ANSI color codes, or leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint {
    on: bool,
}

impl Paint {
    pub(crate) fn new(on: bool) -> Self {
        Paint { on }
    }

    pub(crate) fn paint(&self, text: &str, tone: Tone) -> String {
        let code = match tone {
            Tone::Plain => return text.to_string(),
            Tone::Good => "32",
            Tone::Changed => "33",
            Tone::Bad => "31",
        };
        self.wrap(text, code)
    }

    pub(crate) fn bold(&self, text: &str) -> String {
        self.wrap(text, "1")
    }

    fn wrap(&self, text: &str, code: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
