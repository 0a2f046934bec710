//! The tokenizer. Words are nfdump's `[a-zA-Z0-9_:.-]+` (keywords, numbers,
//! addresses, names: the parser decides which by position); strings are
//! quoted with `"` or `'` (a backslash escapes the quote character and
//! nothing else, so regexes keep their backslashes); `#` starts a comment
//! to the end of the line.

use crate::error::ParseError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Punct {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Slash,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Bang,
    AndAnd,
    OrOr,
    Tilde,
    Percent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    Word(&'a str),
    Quoted(String),
    Punct(Punct),
    End,
}

#[derive(Clone, Debug)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub start: usize,
    pub end: usize,
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'.' | b'-')
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if is_word_byte(c) {
            while i < b.len() && is_word_byte(b[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(&src[start..i]),
                start,
                end: i,
            });
            continue;
        }
        if c == b'"' || c == b'\'' {
            let mut s = String::new();
            i += 1;
            let mut seg = i;
            loop {
                if i >= b.len() {
                    return Err(ParseError {
                        input: src.to_string(),
                        pos: start,
                        found: "an unterminated string".to_string(),
                        expected: format!("a closing {}", c as char),
                    });
                }
                if b[i] == b'\\' && b.get(i + 1) == Some(&c) {
                    s.push_str(&src[seg..i]);
                    i += 2;
                    seg = i - 1;
                    continue;
                }
                if b[i] == c {
                    s.push_str(&src[seg..i]);
                    i += 1;
                    break;
                }
                i += 1;
            }
            out.push(Token {
                tok: Tok::Quoted(s),
                start,
                end: i,
            });
            continue;
        }
        let two = b.get(i + 1).copied();
        let (p, n) = match (c, two) {
            (b'=', Some(b'=')) => (Punct::Eq, 2),
            (b'!', Some(b'=')) => (Punct::Ne, 2),
            (b'<', Some(b'=')) => (Punct::Le, 2),
            (b'>', Some(b'=')) => (Punct::Ge, 2),
            (b'&', Some(b'&')) => (Punct::AndAnd, 2),
            (b'|', Some(b'|')) => (Punct::OrOr, 2),
            (b'=', _) => (Punct::Eq, 1),
            (b'<', _) => (Punct::Lt, 1),
            (b'>', _) => (Punct::Gt, 1),
            (b'!', _) => (Punct::Bang, 1),
            (b'(', _) => (Punct::LParen, 1),
            (b')', _) => (Punct::RParen, 1),
            (b'[', _) => (Punct::LBracket, 1),
            (b']', _) => (Punct::RBracket, 1),
            (b',', _) => (Punct::Comma, 1),
            (b'/', _) => (Punct::Slash, 1),
            (b'~', _) => (Punct::Tilde, 1),
            (b'%', _) => (Punct::Percent, 1),
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ParseError {
                    input: src.to_string(),
                    pos: i,
                    found: format!("character {ch:?}"),
                    expected: "a word, a number, an address, a quoted string, an operator or a parenthesis".to_string(),
                });
            }
        };
        i += n;
        out.push(Token {
            tok: Tok::Punct(p),
            start,
            end: i,
        });
    }
    out.push(Token {
        tok: Tok::End,
        start: b.len(),
        end: b.len(),
    });
    Ok(out)
}
