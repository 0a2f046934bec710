//! Sending one alert: an HTTP/1.1 POST (webhook) and a plain SMTP message.
//! Both are blocking, with a timeout on connect, reads and writes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::config::{Email, Url};
use crate::store::AlertRow;

fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = addr.to_socket_addrs().map_err(|e| format!("{addr}: {e}"))?;
    let mut last = format!("{addr}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// POSTs `body` (the IDEA JSON) to `url`; a 2xx status is success.
pub fn webhook(url: &Url, body: &str, timeout: Duration) -> Result<(), String> {
    let mut s = connect(&url.addr, timeout)?;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: eddy\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        url.path,
        url.host,
        body.len()
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("{}: {e}", url.addr))?;
    let mut status = String::new();
    BufReader::new(s.take(8192))
        .read_line(&mut status)
        .map_err(|e| format!("{}: {e}", url.addr))?;
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(c) if (200..300).contains(&c) => Ok(()),
        Some(_) => Err(format!("{}{}: {}", url.addr, url.path, status.trim_end())),
        None => Err(format!(
            "{}{}: no HTTP status line ({:?})",
            url.addr,
            url.path,
            status.trim_end()
        )),
    }
}

/// `template` with `{category}`, `{source}`, `{target}`, `{detector}` and
/// `{description}` filled in from `row`.
pub fn fill(template: &str, row: &AlertRow) -> String {
    template
        .replace("{category}", &row.category)
        .replace("{source}", row.source.as_deref().unwrap_or("-"))
        .replace("{target}", row.target.as_deref().unwrap_or("-"))
        .replace("{detector}", &row.detector)
        .replace("{description}", &row.description)
}

struct Smtp {
    r: BufReader<TcpStream>,
    w: TcpStream,
    addr: String,
}

impl Smtp {
    /// Reads a (possibly multi-line) reply and checks its code.
    fn expect(&mut self, code: u16, after: &str) -> Result<(), String> {
        loop {
            let mut line = String::new();
            let n = self
                .r
                .read_line(&mut line)
                .map_err(|e| format!("{} after {after}: {e}", self.addr))?;
            if n == 0 {
                return Err(format!("{}: connection closed after {after}", self.addr));
            }
            let got = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            if got != Some(code) {
                return Err(format!(
                    "{}: after {after}: expected {code}, got {:?}",
                    self.addr,
                    line.trim_end()
                ));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(());
            }
        }
    }

    fn command(&mut self, line: &str, code: u16) -> Result<(), String> {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(|e| format!("{}: {e}", self.addr))?;
        let verb = line.split([' ', ':']).next().unwrap_or(line).to_string();
        self.expect(code, &verb)
    }
}

/// Header-safe: no line breaks.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Sends `row` as a message through `email.smtp` (HELO, MAIL FROM, RCPT TO,
/// DATA, QUIT). The body is a short summary and the IDEA JSON.
pub fn email(email: &Email, row: &AlertRow, timeout: Duration) -> Result<(), String> {
    let s = connect(&email.smtp, timeout)?;
    let w = s.try_clone().map_err(|e| e.to_string())?;
    let mut smtp = Smtp {
        r: BufReader::new(s),
        w,
        addr: email.smtp.clone(),
    };
    smtp.expect(220, "connect")?;
    smtp.command("HELO eddy", 250)?;
    smtp.command(&format!("MAIL FROM:<{}>", one_line(&email.from)), 250)?;
    for to in &email.to {
        smtp.command(&format!("RCPT TO:<{}>", one_line(to)), 250)?;
    }
    smtp.command("DATA", 354)?;
    let mut msg = String::new();
    msg.push_str(&format!("From: {}\r\n", one_line(&email.from)));
    msg.push_str(&format!("To: {}\r\n", one_line(&email.to.join(", "))));
    msg.push_str(&format!(
        "Subject: {}\r\n",
        one_line(&fill(&email.subject, row))
    ));
    msg.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    let body = format!(
        "Detector: {}\nCategory: {}\nSource: {}\nTarget: {}\nDescription: {}\nFlows: {}\n\n{}\n",
        row.detector,
        row.category,
        row.source.as_deref().unwrap_or("-"),
        row.target.as_deref().unwrap_or("-"),
        row.description,
        row.flows,
        row.idea
    );
    for line in body.lines() {
        // Dot-stuffing (RFC 5321 4.5.2).
        if line.starts_with('.') {
            msg.push('.');
        }
        msg.push_str(line);
        msg.push_str("\r\n");
    }
    msg.push_str(".\r\n");
    smtp.w
        .write_all(msg.as_bytes())
        .map_err(|e| format!("{}: {e}", email.smtp))?;
    smtp.expect(250, "message")?;
    smtp.command("QUIT", 221)
}
