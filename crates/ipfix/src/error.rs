//! The crate's one error type: what went wrong and where in the message.

use std::fmt;

/// What was wrong with the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Fewer bytes than a header or length field promised.
    Truncated { need: usize, have: usize },
    /// The version field is not 5, 9 or 10.
    UnsupportedVersion(u16),
    /// The message length field disagrees with the datagram.
    BadMessageLength(usize),
    /// A set length below the 4-byte set header or past the message end.
    BadSetLength(usize),
    /// A set id that RFC 7011 reserves (4-255) or v9 flowset id 2-255.
    ReservedSetId,
    /// A template id below 256, or a template whose fields overflow its set.
    BadTemplate(&'static str),
    /// A data set whose template this session has not announced (yet).
    UnknownTemplate,
    /// A data record that ends in the middle of a field.
    BadRecord,
    /// TCP/SCTP/file: a template id defined again, differently, without a
    /// withdrawal first (RFC 7011 section 8.1). Ends the session.
    TemplateRedefined,
    /// TCP/SCTP/file: a withdrawal of a template the session does not have
    /// (RFC 7011 section 8.1). Ends the session.
    UnknownWithdrawal,
}

impl ErrorKind {
    /// Whether a collector must close the transport session over this
    /// error: the template rules a TCP/SCTP exporter broke leave the
    /// session's data uninterpretable (RFC 7011 sections 8 and 10).
    pub fn ends_session(&self) -> bool {
        matches!(
            self,
            ErrorKind::TemplateRedefined | ErrorKind::UnknownWithdrawal
        )
    }
}

/// An error with its place: byte offset in the message, set id and template
/// id when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub set_id: Option<u16>,
    pub template_id: Option<u16>,
    pub kind: ErrorKind,
}

impl DecodeError {
    pub(crate) fn at(offset: usize, kind: ErrorKind) -> DecodeError {
        DecodeError {
            offset,
            set_id: None,
            template_id: None,
            kind,
        }
    }

    pub(crate) fn in_set(mut self, set_id: u16) -> DecodeError {
        self.set_id = Some(set_id);
        self
    }

    pub(crate) fn with_template(mut self, template_id: u16) -> DecodeError {
        self.template_id = Some(template_id);
        self
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { need, have } => {
                write!(f, "truncated: need {need} bytes, have {have}")
            }
            ErrorKind::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            ErrorKind::BadMessageLength(n) => write!(f, "bad message length {n}"),
            ErrorKind::BadSetLength(n) => write!(f, "bad set length {n}"),
            ErrorKind::ReservedSetId => f.write_str("reserved set id"),
            ErrorKind::BadTemplate(why) => write!(f, "bad template: {why}"),
            ErrorKind::UnknownTemplate => f.write_str("data set for unknown template"),
            ErrorKind::BadRecord => f.write_str("data record ends inside a field"),
            ErrorKind::TemplateRedefined => {
                f.write_str("template redefined without a withdrawal (stream session)")
            }
            ErrorKind::UnknownWithdrawal => {
                f.write_str("withdrawal of an unknown template (stream session)")
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}", self.offset)?;
        if let Some(set) = self.set_id {
            write!(f, ", set {set}")?;
        }
        if let Some(t) = self.template_id {
            write!(f, ", template {t}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}
