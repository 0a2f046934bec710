//! Parse errors: where, what was found, what was expected.

use std::fmt;

/// Why a filter did not parse. `pos` is a byte offset into `input`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The whole filter expression.
    pub input: String,
    /// Byte offset of the offending token (`input.len()` at the end).
    pub pos: usize,
    /// The offending token as written, or `end of input`.
    pub found: String,
    /// What would have been accepted there.
    pub expected: String,
}

impl ParseError {
    /// A short one-line message, without the caret picture.
    pub fn message(&self) -> String {
        format!("expected {}, found {}", self.expected, self.found)
    }
}

/// ```text
/// filter error at 1:10: expected a port number 0..65535, found `70000`
///   src port 70000
///            ^
/// ```
impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pos = floor_char_boundary(&self.input, self.pos);
        let line_start = self.input[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.input[pos..]
            .find('\n')
            .map_or(self.input.len(), |i| pos + i);
        let line_no = self.input[..line_start].matches('\n').count() + 1;
        let col = self.input[line_start..pos].chars().count();
        writeln!(
            f,
            "filter error at {}:{}: {}",
            line_no,
            col + 1,
            self.message()
        )?;
        let line: String = self.input[line_start..line_end]
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        writeln!(f, "  {line}")?;
        write!(f, "  {}^", " ".repeat(col))
    }
}

impl std::error::Error for ParseError {}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
