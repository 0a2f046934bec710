//! BPF filters for file sources, compiled by the system libpcap.
//!
//! tcpdump's filter language is what users know, and only libpcap implements
//! it faithfully, so we use libpcap's compiler and interpreter rather than a
//! look-alike. A BPF program depends on the link type (the offsets of the IP
//! header differ), and a pcapng file may mix link types, so a [`Filter`]
//! compiles once per link type, when an interface of that type first appears,
//! and keeps the programs in a small list.
//!
//! Without the `libpcap` cargo feature, asking for a filter is an
//! `Unsupported` error: silently ignoring it would count traffic the user
//! asked to exclude.

use crate::CaptureError;

#[cfg(feature = "libpcap")]
pub(crate) use with_libpcap::Filter;
#[cfg(not(feature = "libpcap"))]
pub(crate) use without_libpcap::Filter;

#[cfg(feature = "libpcap")]
mod with_libpcap {
    use super::CaptureError;
    use pcap::{BpfProgram, Capture, Linktype};

    /// The link types `packet` decodes (Ethernet first, for the error message).
    const CHECK_LINKTYPES: [u32; 8] = [1, 101, 113, 276, 0, 108, 228, 229];

    /// One filter expression and its programs, one per link type.
    pub(crate) struct Filter {
        expr: String,
        programs: Vec<(u32, BpfProgram)>,
    }

    impl Filter {
        /// Checks the expression at once, so that a typo is reported when the
        /// source opens rather than at the first interface: it must compile
        /// for at least one link type we decode (`inbound`, for instance, only
        /// compiles for Linux cooked captures). The programs built on the way
        /// are kept.
        pub fn new(expr: &str) -> Result<Filter, CaptureError> {
            let mut programs = Vec::new();
            let mut first_error = None;
            for linktype in CHECK_LINKTYPES {
                match compile(expr, linktype) {
                    Ok(program) => programs.push((linktype, program)),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                Some(e) if programs.is_empty() => Err(e),
                _ => Ok(Filter {
                    expr: expr.to_string(),
                    programs,
                }),
            }
        }

        /// The index of the program for `linktype`, compiling it the first
        /// time. An expression that does not compile for this link type is an
        /// error carrying libpcap's message.
        pub fn program_for(&mut self, linktype: u32) -> Result<usize, CaptureError> {
            if let Some(idx) = self.programs.iter().position(|(lt, _)| *lt == linktype) {
                return Ok(idx);
            }
            let program = compile(&self.expr, linktype)?;
            self.programs.push((linktype, program));
            Ok(self.programs.len() - 1)
        }

        /// Whether the program at `idx` accepts the frame.
        ///
        /// libpcap's `pcap_offline_filter` is given `data.len()` as both the
        /// captured and the wire length (the pcap crate's API), so `len`
        /// tests in the expression see the captured length of snapped frames.
        #[inline]
        pub fn matches(&self, idx: usize, data: &[u8]) -> bool {
            match self.programs.get(idx) {
                Some((_, program)) => program.filter(data),
                None => true,
            }
        }
    }

    /// libpcap's dead handles take a DLT number, which differs from the
    /// LINKTYPE number in files for raw IP (and only there among the link
    /// types we decode; from 104 up the two agree).
    fn dlt_for(linktype: u32) -> Option<i32> {
        /// DLT_RAW: 14 on OpenBSD, 12 elsewhere.
        const DLT_RAW: i32 = if cfg!(target_os = "openbsd") { 14 } else { 12 };
        match linktype {
            12 | 14 | 101 => Some(DLT_RAW),
            other => i32::try_from(other).ok(),
        }
    }

    /// Compiles `expr` for `linktype` on a dead handle (no device, no file).
    fn compile(expr: &str, linktype: u32) -> Result<BpfProgram, CaptureError> {
        let error = |message: String| CaptureError::Filter {
            expr: expr.to_string(),
            message,
        };
        let Some(dlt) = dlt_for(linktype) else {
            return Err(error(format!("link type {linktype} is out of range")));
        };
        let dead = Capture::dead(Linktype(dlt)).map_err(|e| error(e.to_string()))?;
        dead.compile(expr, true)
            .map_err(|e| error(format!("{e} (link type {linktype})")))
    }
}

#[cfg(not(feature = "libpcap"))]
mod without_libpcap {
    use super::CaptureError;
    use std::convert::Infallible;

    /// The message of the error a filter request gets without libpcap.
    const NO_LIBPCAP: &str = "BPF filters need eddy built with the libpcap feature";

    /// Never built: [`Filter::new`] always fails without libpcap.
    pub(crate) struct Filter {
        never: Infallible,
    }

    impl Filter {
        pub fn new(_expr: &str) -> Result<Filter, CaptureError> {
            Err(CaptureError::Unsupported(NO_LIBPCAP.to_string()))
        }

        pub fn program_for(&mut self, _linktype: u32) -> Result<usize, CaptureError> {
            match self.never {}
        }

        pub fn matches(&self, _idx: usize, _data: &[u8]) -> bool {
            match self.never {}
        }
    }
}
