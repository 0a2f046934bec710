//! Stateless SMTP line parsing: one command line or one reply line (without
//! its line ending) into a borrowed view.

/// A client command, by its verb (case-insensitive). Verbs this parser does
/// not know are data ([`Command::Other`]), not errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Ehlo,
    Helo,
    Mail,
    Rcpt,
    Data,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
    Bdat,
    Other,
}

/// Verbs and their commands; `Other` has no verb.
const VERBS: [(&[u8], Command); 14] = [
    (b"EHLO", Command::Ehlo),
    (b"HELO", Command::Helo),
    (b"MAIL", Command::Mail),
    (b"RCPT", Command::Rcpt),
    (b"DATA", Command::Data),
    (b"RSET", Command::Rset),
    (b"VRFY", Command::Vrfy),
    (b"EXPN", Command::Expn),
    (b"HELP", Command::Help),
    (b"NOOP", Command::Noop),
    (b"QUIT", Command::Quit),
    (b"STARTTLS", Command::StartTls),
    (b"AUTH", Command::Auth),
    (b"BDAT", Command::Bdat),
];

/// The bit of `command` in `smtp_commands`.
///
/// EHLO 0x1, MAIL 0x4, RCPT 0x8, DATA 0x10 and unknown 0x8000 are the values
/// ipfixprobe's SMTP_COMMAND_FLAGS shows on its test capture (32797 = EHLO,
/// MAIL, RCPT, DATA and unknown for AUTH); HELO 0x2, RSET 0x20, VRFY 0x40,
/// EXPN 0x80, HELP 0x100, NOOP 0x200 and QUIT 0x400 continue the same
/// RFC 5321 order. ipfixprobe has no bit for STARTTLS, AUTH or BDAT (they
/// count as unknown); eddy gives them 0x800, 0x1000 and 0x2000.
pub fn command_flag(command: Command) -> u32 {
    match command {
        Command::Ehlo => 0x0001,
        Command::Helo => 0x0002,
        Command::Mail => 0x0004,
        Command::Rcpt => 0x0008,
        Command::Data => 0x0010,
        Command::Rset => 0x0020,
        Command::Vrfy => 0x0040,
        Command::Expn => 0x0080,
        Command::Help => 0x0100,
        Command::Noop => 0x0200,
        Command::Quit => 0x0400,
        Command::StartTls => 0x0800,
        Command::Auth => 0x1000,
        Command::Bdat => 0x2000,
        Command::Other => 0x8000,
    }
}

/// Reply codes RFC 5321 section 4.2.3 lists, in order; code i has bit i of
/// `smtp_status_flags` (ipfixprobe's capture confirms 220, 221, 250 and 354
/// at bits 2, 3, 4 and 7).
const KNOWN_CODES: [u16; 24] = [
    211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 550,
    551, 552, 553, 554, 555,
];
/// The bit of a reply code outside [`KNOWN_CODES`].
pub const UNKNOWN_STATUS_FLAG: u32 = 0x8000_0000;

/// The bit of reply `code` in `smtp_status_flags`.
pub fn status_flag(code: u16) -> u32 {
    match KNOWN_CODES.iter().position(|&known| known == code) {
        Some(bit) => 1 << bit,
        None => UNKNOWN_STATUS_FLAG,
    }
}

/// One client line: its verb and what follows the verb (leading blanks cut).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandLine<'a> {
    pub command: Command,
    /// Whether the verb is ASCII letters (a command at all, known or not).
    pub wordlike: bool,
    pub argument: &'a [u8],
}

/// Splits a client line into verb and argument.
pub fn parse_command(line: &[u8]) -> CommandLine<'_> {
    let line = trim_end(line);
    let verb_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let (verb, rest) = line.split_at(verb_len);
    let command = VERBS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(verb))
        .map_or(Command::Other, |&(_, command)| command);
    let wordlike = !verb.is_empty() && verb.iter().all(u8::is_ascii_alphabetic);
    CommandLine {
        command,
        wordlike,
        argument: trim_start(rest),
    }
}

/// The path of a MAIL/RCPT argument (`FROM:<a@b> SIZE=1` -> `<a@b>`):
/// after the first `:`, blanks cut, up to the closing `>` or, for a path
/// written without brackets, the first blank.
pub fn mail_path(argument: &[u8]) -> &[u8] {
    let after_colon = match argument.iter().position(|&b| b == b':') {
        Some(colon) => argument.get(colon + 1..).unwrap_or_default(),
        None => argument,
    };
    let path = trim_start(after_colon);
    let end = if path.first() == Some(&b'<') {
        path.iter()
            .position(|&b| b == b'>')
            .map_or(path.len(), |close| close + 1)
    } else {
        path.iter().position(|&b| b == b' ').unwrap_or(path.len())
    };
    path.get(..end).unwrap_or_default()
}

/// The first word of an EHLO/HELO argument.
pub fn first_word(argument: &[u8]) -> &[u8] {
    let end = argument
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(argument.len());
    argument.get(..end).unwrap_or_default()
}

/// The size of a BDAT chunk (`BDAT 1000 LAST` -> 1000); `None` if unreadable.
pub fn bdat_size(argument: &[u8]) -> Option<u64> {
    let digits = first_word(argument);
    // More than 19 digits cannot be a real chunk size and would overflow u64.
    const MAX_SIZE_DIGITS: usize = 19;
    if digits.is_empty() || digits.len() > MAX_SIZE_DIGITS {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// One server line: `NNN-text` (more lines follow) or `NNN text`/`NNN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLine {
    pub code: u16,
    /// Whether this line ends the reply.
    pub last: bool,
}

/// Parses a server line; `None` if it does not start with a reply code.
pub fn parse_reply(line: &[u8]) -> Option<ReplyLine> {
    let line = trim_end(line);
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'));
    match line.get(3) {
        None | Some(b' ') => Some(ReplyLine { code, last: true }),
        Some(b'-') => Some(ReplyLine { code, last: false }),
        Some(_) => None,
    }
}

/// Whether a flow's first payload opens an SMTP session: a greeting
/// (`220 `, `220-`) or `EHLO `/`HELO ` (or the verb alone ending the line).
/// With `on_port`, a payload that is a proper prefix of those also counts.
pub fn looks_like_session_start(payload: &[u8], on_port: bool) -> bool {
    let starts = [
        &b"220 "[..],
        b"220-",
        b"EHLO ",
        b"HELO ",
        b"EHLO\r",
        b"HELO\r",
        b"EHLO\n",
        b"HELO\n",
    ];
    starts.iter().any(|start| {
        let n = start.len().min(payload.len());
        let matches = payload
            .get(..n)
            .zip(start.get(..n))
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        matches && (n == start.len() || on_port)
    })
}

fn trim_end(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .rposition(|&b| b != b'\r' && b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    line.get(..end).unwrap_or_default()
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(line.len());
    line.get(start..).unwrap_or_default()
}

/// The first `\n` in `bytes`. DATA bodies are scanned with this, so it reads
/// eight bytes per step (a word-wide zero-byte test) instead of one.
pub fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(word);
        let x = u64::from_ne_bytes(lanes) ^ NEWLINES;
        // Nonzero exactly when some byte of `x` is zero, i.e. was a '\n'.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            return word.iter().position(|&b| b == b'\n').map(|i| offset + i);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| offset + i)
}
