//! INI inventory values typed as Ansible types them: with Python's
//! `ast.literal_eval`, falling back to the plain string when the text is not
//! a Python literal.
//!
//! So `5` is an integer, `1.5` and `1e3` floats, `True`/`False` booleans,
//! `None` null, `[1, 2]` a list, `{'a': 1}` a mapping and `'5'` (quoted
//! inside the value) a string — but `yes`, `0644` (a syntax error in Python
//! 3) and `{a: 1}` stay strings. `0x1f` is 31, `1_000` is 1000.
//!
//! In a host line the shell-like split runs first and removes one level of
//! quotes, so `x="5"` is the integer 5 and `x='"5"'` the string `5`; in a
//! `:vars` section the value is taken as written, so `x="5"` is a string
//! there, and `x=5 # note` is 5 (Python drops the comment) while
//! `x=hi # note` is the whole text.

use serde_json::{Map, Number, Value};

/// The value of `text` as `ast.literal_eval` reads it, if it is a literal.
pub(crate) fn eval(text: &str) -> Option<Value> {
    // literal_eval strips leading spaces and tabs (Python 3.10+).
    let chars: Vec<char> = text.trim_start_matches([' ', '\t']).chars().collect();
    let mut parser = Parser { chars, pos: 0 };
    let value = parser.expression()?;
    parser.skip_space();
    (parser.pos == parser.chars.len()).then_some(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Skips spaces and a trailing `#` comment, as Python's tokenizer does.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\x0c' => self.pos += 1,
                '#' => self.pos = self.chars.len(),
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// One literal, or a tuple written without parentheses (`1, 2`).
    fn expression(&mut self) -> Option<Value> {
        let first = self.value()?;
        self.skip_space();
        if self.peek() != Some(',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(',') {
            self.skip_space();
            if self.peek().is_none() {
                break;
            }
            items.push(self.value()?);
        }
        Some(Value::Array(items))
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        let c = self.peek()?;
        match c {
            '[' => {
                self.pos += 1;
                Some(Value::Array(self.items(']')?))
            }
            '(' => {
                self.pos += 1;
                let start = self.pos;
                if self.eat(')') {
                    return Some(Value::Array(Vec::new()));
                }
                self.pos = start;
                let inner = self.value()?;
                if self.eat(')') {
                    return Some(inner);
                }
                if !self.eat(',') {
                    return None;
                }
                let mut items = vec![inner];
                items.extend(self.items(')')?);
                Some(Value::Array(items))
            }
            '{' => {
                self.pos += 1;
                self.braces()
            }
            '+' | '-' => {
                self.pos += 1;
                self.skip_space();
                let n = self.number()?;
                if c == '+' {
                    return Some(n);
                }
                negate(n)
            }
            '0'..='9' | '.' => self.number(),
            '\'' | '"' => self.strings(),
            _ if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    "set" if self.eat('(') && self.eat(')') => Some(Value::Array(Vec::new())),
                    // String prefixes: r'..', b'..', u'..', rb'..'.
                    w if matches!(self.peek(), Some('\'' | '"'))
                        && ["r", "u", "b", "br", "rb"].contains(&w.to_lowercase().as_str()) =>
                    {
                        self.pos = start;
                        self.strings()
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Comma-separated values up to `close` (the opener already read).
    fn items(&mut self, close: char) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value()?);
            if !self.eat(',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    /// A dict or a set (read as a list), after the `{`.
    fn braces(&mut self) -> Option<Value> {
        if self.eat('}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.value()?;
        if !self.eat(':') {
            let mut items = vec![first];
            if self.eat(',') {
                items.extend(self.items('}')?);
            } else if !self.eat('}') {
                return None;
            }
            return Some(Value::Array(items));
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = self.value()?;
            map.insert(key_string(&key)?, value);
            if !self.eat(',') {
                return self.eat('}').then_some(Value::Object(map));
            }
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            key = self.value()?;
            if !self.eat(':') {
                return None;
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            || (self.pos > start
                && matches!(self.peek(), Some('+' | '-'))
                && matches!(self.chars[self.pos - 1], 'e' | 'E')
                && !self.chars[start..self.pos]
                    .iter()
                    .any(|c| matches!(c, 'x' | 'X')))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        parse_number(&text)
    }

    /// One string literal, or several written side by side (concatenated).
    fn strings(&mut self) -> Option<Value> {
        let mut text = String::new();
        let mut any = false;
        loop {
            self.skip_space();
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.pos += 1;
            }
            let prefix: String = self.chars[start..self.pos]
                .iter()
                .collect::<String>()
                .to_lowercase();
            if !matches!(prefix.as_str(), "" | "r" | "u" | "b" | "br" | "rb")
                || !matches!(self.peek(), Some('\'' | '"'))
            {
                self.pos = start;
                return any.then_some(Value::String(text));
            }
            text.push_str(&self.string_body(prefix.contains('r'))?);
            any = true;
        }
    }

    fn string_body(&mut self, raw: bool) -> Option<String> {
        let quote = self.peek()?;
        let triple = self.chars.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.pos += 1;
                    return Some(out);
                }
                if self.chars.get(self.pos..self.pos + 3) == Some(&[quote, quote, quote][..]) {
                    self.pos += 3;
                    return Some(out);
                }
            }
            self.pos += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.pos += 1;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\\' | '\'' | '"' => out.push(e),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\x07'),
                'b' => out.push('\x08'),
                'f' => out.push('\x0c'),
                'v' => out.push('\x0b'),
                '0'..='7' => {
                    let mut n = e.to_digit(8)?;
                    for _ in 0..2 {
                        match self.peek().and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                n = n * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(n)?);
                }
                'x' | 'u' | 'U' => {
                    let len = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = self.chars.get(self.pos..self.pos + len)?.iter().collect();
                    self.pos += len;
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                // Unknown escapes keep their backslash (with a warning in Python).
                _ => {
                    out.push('\\');
                    out.push(e);
                }
            }
        }
    }
}

/// A Python number literal: decimal, `0x`/`0o`/`0b`, float; underscores
/// between digits. A leading zero on a decimal integer is a syntax error.
fn parse_number(text: &str) -> Option<Value> {
    if text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            let digits = digits.strip_prefix('_').unwrap_or(digits).replace('_', "");
            if digits.is_empty() {
                return None;
            }
            return integer(&digits, radix);
        }
    }
    let plain = lower.replace('_', "");
    if plain.chars().all(|c| c.is_ascii_digit()) {
        if plain.len() > 1 && plain.starts_with('0') && plain.chars().any(|c| c != '0') {
            return None;
        }
        return integer(&plain, 10);
    }
    if lower.contains("._") || lower.contains("_.") || lower.contains("_e") || lower.contains("e_")
    {
        return None;
    }
    let valid = plain
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
        && plain.chars().any(|c| c.is_ascii_digit())
        && !plain.starts_with('e');
    if !valid {
        return None;
    }
    let x: f64 = plain.parse().ok()?;
    Number::from_f64(x).map(Value::Number)
}

fn integer(digits: &str, radix: u32) -> Option<Value> {
    if let Ok(i) = i64::from_str_radix(digits, radix) {
        return Some(Value::from(i));
    }
    if let Ok(u) = u64::from_str_radix(digits, radix) {
        return Some(Value::from(u));
    }
    // Python's integers are unbounded; JSON readers see such a number as a float.
    let mut x = 0f64;
    for d in digits.chars() {
        x = x * f64::from(radix) + f64::from(d.to_digit(radix)?);
    }
    Number::from_f64(x).map(Value::Number)
}

fn negate(n: Value) -> Option<Value> {
    let Value::Number(n) = n else { return None };
    if let Some(i) = n.as_i64() {
        return Some(
            i.checked_neg()
                .map_or(Value::from(-(i as f64)), Value::from),
        );
    }
    Number::from_f64(-n.as_f64()?).map(Value::Number)
}

/// A dict key as Python's `json.dumps` writes it.
fn key_string(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::eval;
    use serde_json::json;

    #[test]
    fn literals_are_typed_as_python_reads_them() {
        assert_eq!(eval("5"), Some(json!(5)));
        assert_eq!(eval("-3"), Some(json!(-3)));
        assert_eq!(eval("1.5"), Some(json!(1.5)));
        assert_eq!(eval("1e3"), Some(json!(1000.0)));
        assert_eq!(eval("0x1f"), Some(json!(31)));
        assert_eq!(eval("1_000"), Some(json!(1000)));
        assert_eq!(eval("True"), Some(json!(true)));
        assert_eq!(eval("None"), Some(json!(null)));
        assert_eq!(eval("[1, 'a', [True]]"), Some(json!([1, "a", [true]])));
        assert_eq!(eval("(1,)"), Some(json!([1])));
        assert_eq!(eval("{'k': 1, 2: 'x'}"), Some(json!({"k": 1, "2": "x"})));
        assert_eq!(eval("'a' \"b\""), Some(json!("ab")));
        assert_eq!(eval(r"'a\tb'"), Some(json!("a\tb")));
        assert_eq!(eval("5 # comment"), Some(json!(5)));
    }

    #[test]
    fn non_literals_stay_strings() {
        for text in [
            "0644", "yes", "true", "none", "{k:1}", "a b", "", "1.2.3", "5x", "[1,",
        ] {
            assert_eq!(eval(text), None, "{text}");
        }
    }
}
