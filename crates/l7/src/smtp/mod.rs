//! SMTP (RFC 5321): the envelope of a mail session, one record per flow
//! direction. The client direction yields the commands seen (a bit per
//! command), MAIL and RCPT counts, the first sender and recipient and the
//! EHLO/HELO domain; the server direction yields reply counts per class
//! (2xx..5xx) and a bit per reply code. Bits and IPFIX elements follow CESNET
//! ipfixprobe's SMTP plugin (8057/810..820) so its users read the same values.
//!
//! Deliberately not done: the message itself. The DATA body (up to the line
//! `.`) and BDAT chunks are skipped without buffering; AUTH exchanges are
//! never stored. STARTTLS ends parsing (`Feed::Done`): what follows is TLS.
//! A flow direction cannot see the other side, so a client that sent DATA is
//! assumed to have got its 354 (a rejected DATA makes the next commands look
//! like body until a `.` line).

mod parser;
mod state;
#[cfg(test)]
mod tests;

use crate::{FieldStr, Parser, Transport};

pub use parser::{command_flag, status_flag, Command};

/// Fields of one SMTP flow direction. Client fields stay zero/`None` on the
/// server direction and the other way round.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpFields {
    /// smtp_commands (8057/810): OR of [`command_flag`] of every command seen.
    pub commands: u32,
    /// smtp_mail_count (8057/811): MAIL commands.
    pub mail_count: u32,
    /// smtp_rcpt_count (8057/812): RCPT commands.
    pub rcpt_count: u32,
    /// smtp_sender (8057/813): reverse-path of the first MAIL FROM as
    /// written, angle brackets included (`<a@b>`), ESMTP parameters dropped.
    /// ipfixprobe keeps the text after `FROM:` verbatim (a leading space too).
    pub sender: Option<FieldStr>,
    /// smtp_recipient (8057/814): forward-path of the first RCPT TO, as
    /// [`SmtpFields::sender`].
    pub recipient: Option<FieldStr>,
    /// smtp_domain (8057/820): first word of the first EHLO/HELO argument.
    pub domain: Option<FieldStr>,
    /// smtp_status_flags (8057/815): OR of [`status_flag`] of every reply.
    pub status_flags: u32,
    /// smtp_status_codes, 2xx part (8057/816): replies with a 2xx code
    /// (a multi-line reply counts once).
    pub status_2xx: u32,
    /// smtp_status_codes, 3xx part (8057/817).
    pub status_3xx: u32,
    /// smtp_status_codes, 4xx part (8057/818).
    pub status_4xx: u32,
    /// smtp_status_codes, 5xx part (8057/819).
    pub status_5xx: u32,
}

/// Ports where SMTP is usual; only a hint for payloads too short to tell.
const SMTP_PORTS: [u16; 3] = [25, 465, 587];

/// A TCP flow direction is SMTP when its first payload starts with a server
/// greeting (`220 `/`220-`) or a client `EHLO `/`HELO `. On an SMTP port a
/// payload that is only a prefix of those (a client typing byte by byte) is
/// accepted too.
pub fn probe(transport: &Transport, payload: &[u8]) -> bool {
    if transport.proto != 6 || payload.is_empty() {
        return false;
    }
    let on_port =
        SMTP_PORTS.contains(&transport.src_port) || SMTP_PORTS.contains(&transport.dst_port);
    parser::looks_like_session_start(payload, on_port)
}

pub fn new_parser() -> Box<dyn Parser> {
    Box::new(state::SmtpState::default())
}
