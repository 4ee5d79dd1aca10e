//! Just enough JSON to write Gradescope's `results.json`, by hand.

use std::fmt::Write;

/// A JSON value; objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// Builds an object from `(key, value)` pairs.
    pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub fn string(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// The value as indented JSON text, ending in a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Value::Number(n) => out.push_str(&number(*n)),
            Value::String(s) => out.push_str(&quote(s)),
            Value::Array(items) => {
                write_list(out, depth, '[', ']', items, |out, item| {
                    item.write(out, depth + 1);
                });
            }
            Value::Object(pairs) => {
                write_list(out, depth, '{', '}', pairs, |out, (key, value)| {
                    out.push_str(&quote(key));
                    out.push_str(": ");
                    value.write(out, depth + 1);
                });
            }
        }
    }
}

/// Writes `open item, item close`, one item per line, indented.
fn write_list<T>(
    out: &mut String,
    depth: usize,
    open: char,
    close: char,
    items: &[T],
    mut write_item: impl FnMut(&mut String, &T),
) {
    out.push(open);
    if items.is_empty() {
        out.push(close);
        return;
    }
    for (index, item) in items.iter().enumerate() {
        out.push_str(if index == 0 { "\n" } else { ",\n" });
        out.push_str(&"  ".repeat(depth + 1));
        write_item(out, item);
    }
    out.push('\n');
    out.push_str(&"  ".repeat(depth));
    out.push(close);
}

/// A finite number; integers keep a `.0` so scores read as floats.
pub fn number(n: f64) -> String {
    if !n.is_finite() {
        return "0.0".into();
    }
    format!("{n:?}")
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quote("plain §1.3 — ok"), "\"plain §1.3 — ok\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
        assert_eq!(quote("\u{1b}[31m\u{0}"), "\"\\u001b[31m\\u0000\"");
        assert_eq!(quote("\u{8}\u{c}\u{7f}"), "\"\\b\\f\\u007f\"");
    }

    #[test]
    fn numbers_are_finite_floats() {
        assert_eq!(number(3.0), "3.0");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(f64::NAN), "0.0");
    }

    #[test]
    fn values_render_as_indented_json() {
        let value = Value::object([
            ("score", Value::Number(1.0)),
            ("tags", Value::Array(vec![Value::string("ch01")])),
            ("tests", Value::Array(vec![])),
            ("o", Value::object([])),
        ]);
        let expected = "{\n  \"score\": 1.0,\n  \"tags\": [\n    \"ch01\"\n  ],\n  \"tests\": [],\n  \"o\": {}\n}\n";
        assert_eq!(value.render(), expected);
    }
}
