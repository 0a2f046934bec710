//! HTTP/1.1 request and response heads, and response bodies whose bytes can
//! be produced at any offset (a body is sent over many segments and no
//! conversation keeps it in memory).

use crate::rng::Rng;
use crate::world::{push_dec, push_hex, push_host, Pools};

/// What a request asks for; decides the path, `Accept`, `Content-Type` and
/// the body's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Res {
    Page,
    Script,
    Style,
    Api,
    Svg,
    Font,
    Download,
}

const RES_ALL: [Res; 7] = [
    Res::Page,
    Res::Script,
    Res::Style,
    Res::Api,
    Res::Svg,
    Res::Font,
    Res::Download,
];
const RES_WEIGHTS: [u32; 7] = [30, 15, 10, 30, 10, 3, 2];

/// One request/response exchange, chosen before either is written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange {
    pub res: Res,
    pub status: u16,
    pub post: bool,
    pub body_len: u32,
    /// The server says `Connection: close` and closes after this response.
    pub close: bool,
}

impl Exchange {
    pub(crate) fn pick(rng: &mut Rng) -> Exchange {
        let res = RES_ALL[rng.weighted(&RES_WEIGHTS)];
        let status = match rng.below(100) {
            0..=84 => 200,
            85..=90 => 404,
            91..=95 => 301,
            _ if matches!(res, Res::Script | Res::Style | Res::Svg) => 304,
            _ => 200,
        };
        let post = res == Res::Api && rng.chance(30);
        let body_len = match (status, res) {
            (304, _) => 0,
            (404 | 301, _) => fixed_body(status).0.len() as u32 + fixed_body(status).1.len() as u32,
            (_, Res::Page) => rng.octave(1500, 6, 50) as u32,
            (_, Res::Script) => rng.octave(2000, 7, 45) as u32,
            (_, Res::Style) => rng.octave(1000, 6, 45) as u32,
            (_, Res::Api) => rng.octave(60, 7, 50) as u32,
            (_, Res::Svg) => rng.octave(300, 5, 50) as u32,
            (_, Res::Font) => rng.octave(12_000, 3, 50) as u32,
            (_, Res::Download) => rng.octave(50_000, 5, 50) as u32,
        };
        // A body holds at least its frame; a 304 has none at all.
        let (pre, suf) = frame(status, res);
        let body_len = if status == 304 {
            0
        } else {
            body_len.max((pre.len() + suf.len()) as u32)
        };
        Exchange {
            res,
            status,
            post,
            body_len,
            close: false,
        }
    }
}

const USER_AGENTS: [&str; 7] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "curl/8.5.0",
    "python-requests/2.31.0",
];
pub(crate) const N_USER_AGENTS: u64 = USER_AGENTS.len() as u64;

const SERVERS: [&str; 7] = [
    "nginx/1.24.0",
    "nginx",
    "Apache/2.4.58 (Ubuntu)",
    "cloudflare",
    "Microsoft-IIS/10.0",
    "envoy",
    "LiteSpeed",
];
pub(crate) const N_SERVERS: u64 = SERVERS.len() as u64;

const LANGUAGES: [&str; 4] = [
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en;q=0.8",
    "cs-CZ,cs;q=0.9,en;q=0.8",
    "en-GB,en;q=0.5",
];
const WORDS: [&str; 24] = [
    "about", "news", "products", "account", "search", "pricing", "contact", "support", "blog",
    "careers", "login", "cart", "checkout", "docs", "help", "team", "events", "press", "gallery",
    "download", "settings", "profile", "orders", "reviews",
];
const ASSETS: [&str; 10] = [
    "app",
    "main",
    "vendor",
    "runtime",
    "polyfills",
    "chunk-common",
    "analytics",
    "player",
    "widgets",
    "theme",
];
const FONTS: [&str; 4] = ["inter", "roboto", "open-sans", "source-code-pro"];
const FONT_STYLES: [&str; 4] = ["-regular", "-bold", "-italic", "-medium"];
const API_THINGS: [&str; 8] = [
    "users",
    "items",
    "orders",
    "session",
    "events",
    "search",
    "config",
    "notifications",
];

fn push_path(rng: &mut Rng, res: Res, out: &mut Vec<u8>) {
    let word = |rng: &mut Rng| *rng.pick(&WORDS);
    match res {
        Res::Page => match rng.below(6) {
            0 => out.push(b'/'),
            1 => out.extend_from_slice(b"/index.html"),
            2 => {
                out.push(b'/');
                out.extend_from_slice(word(rng).as_bytes());
            }
            3 => {
                out.extend_from_slice(b"/products/");
                push_dec(out, rng.range(100, 99_999));
            }
            4 => {
                out.extend_from_slice(b"/blog/2025/");
                push_dec(out, rng.range(10, 12));
                out.push(b'/');
                out.extend_from_slice(word(rng).as_bytes());
                out.push(b'-');
                out.extend_from_slice(word(rng).as_bytes());
            }
            _ => {
                out.extend_from_slice(b"/search?q=");
                out.extend_from_slice(word(rng).as_bytes());
                out.extend_from_slice(b"&page=");
                push_dec(out, rng.range(1, 9));
            }
        },
        Res::Script => {
            out.extend_from_slice(b"/static/js/");
            out.extend_from_slice(rng.pick(&ASSETS).as_bytes());
            out.push(b'.');
            push_hex(out, rng.next_u64(), 8);
            out.extend_from_slice(b".js");
        }
        Res::Style => {
            out.extend_from_slice(b"/static/css/");
            out.extend_from_slice(rng.pick(&ASSETS).as_bytes());
            out.push(b'.');
            push_hex(out, rng.next_u64(), 8);
            out.extend_from_slice(b".css");
        }
        Res::Api => {
            out.extend_from_slice(if rng.chance(70) {
                b"/api/v1/"
            } else {
                b"/api/v2/"
            });
            out.extend_from_slice(rng.pick(&API_THINGS).as_bytes());
            if rng.chance(60) {
                out.push(b'/');
                push_dec(out, rng.range(1, 9_999_999));
            }
        }
        Res::Svg => {
            out.extend_from_slice(b"/img/icons/");
            out.extend_from_slice(word(rng).as_bytes());
            out.extend_from_slice(b".svg");
        }
        Res::Font => {
            out.extend_from_slice(b"/fonts/");
            out.extend_from_slice(rng.pick(&FONTS).as_bytes());
            out.extend_from_slice(rng.pick(&FONT_STYLES).as_bytes());
            out.extend_from_slice(b".woff2");
        }
        Res::Download => {
            out.extend_from_slice(b"/downloads/");
            out.extend_from_slice(rng.pick(&ASSETS).as_bytes());
            out.extend_from_slice(b"-");
            push_dec(out, rng.range(1, 9));
            out.push(b'.');
            push_dec(out, rng.range(0, 30));
            out.extend_from_slice(b".bin");
        }
    }
}

fn line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Writes a whole request (head and, for POST, a small JSON body). The same
/// `seed` writes the same bytes.
pub(crate) fn write_request(
    seed: u64,
    site: u32,
    ua: u8,
    ex: &Exchange,
    first: bool,
    out: &mut Vec<u8>,
) {
    let mut rng = Rng::new(seed);
    out.extend_from_slice(if ex.post { b"POST " } else { b"GET " });
    push_path(&mut rng, ex.res, out);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    push_host(out, site);
    out.extend_from_slice(b"\r\n");
    let ua_str = USER_AGENTS[ua as usize % USER_AGENTS.len()];
    let browser = ua_str.starts_with("Mozilla");
    if browser {
        line(out, "Connection", "keep-alive");
    }
    line(out, "User-Agent", ua_str);
    let accept = match ex.res {
        _ if !browser => "*/*",
        Res::Page => {
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        }
        Res::Script => "*/*",
        Res::Style => "text/css,*/*;q=0.1",
        Res::Api => "application/json, text/plain, */*",
        Res::Svg => "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
        Res::Font => "application/font-woff2;q=1.0,application/font-woff;q=0.9,*/*;q=0.8",
        Res::Download => "*/*",
    };
    line(out, "Accept", accept);
    if browser {
        line(out, "Accept-Encoding", "gzip, deflate");
        let lang = *rng.pick(&LANGUAGES);
        line(out, "Accept-Language", lang);
        if !first || rng.chance(30) {
            out.extend_from_slice(b"Referer: http://");
            push_host(out, site);
            out.push(b'/');
            if rng.chance(50) {
                out.extend_from_slice(rng.pick(&WORDS).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
        if rng.chance(40) {
            out.extend_from_slice(b"Cookie: sid=");
            push_hex(out, rng.next_u64(), 16);
            push_hex(out, rng.next_u64(), 16);
            out.extend_from_slice(b"\r\n");
        }
    } else if ua_str.starts_with("python") {
        line(out, "Accept-Encoding", "gzip, deflate");
        line(out, "Connection", "keep-alive");
    }
    if ex.status == 304 {
        out.extend_from_slice(b"If-None-Match: \"");
        push_hex(out, rng.next_u64(), 16);
        out.extend_from_slice(b"\"\r\n");
    }
    if ex.post {
        // {"id":N,"event":"word","ts":N} is valid JSON, which the dissector
        // checks. It is written after the head to measure it, then moved
        // behind its Content-Length.
        let mark = out.len();
        out.extend_from_slice(b"{\"id\":");
        push_dec(out, rng.range(1, 9_999_999));
        out.extend_from_slice(b",\"event\":\"");
        out.extend_from_slice(rng.pick(&WORDS).as_bytes());
        out.extend_from_slice(b"\",\"ts\":");
        push_dec(out, 1_767_225_600 + rng.below(86_400 * 30));
        out.extend_from_slice(b"}");
        let n = out.len() - mark;
        let mut body = [0u8; 96];
        body[..n].copy_from_slice(&out[mark..]);
        out.truncate(mark);
        line(out, "Content-Type", "application/json");
        out.extend_from_slice(b"Content-Length: ");
        push_dec(out, n as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&body[..n]);
    } else {
        out.extend_from_slice(b"\r\n");
    }
}

fn content_type(res: Res) -> &'static str {
    match res {
        Res::Page => "text/html; charset=utf-8",
        Res::Script => "application/javascript",
        Res::Style => "text/css",
        Res::Api => "application/json",
        Res::Svg => "image/svg+xml",
        Res::Font => "font/woff2",
        Res::Download => "application/octet-stream",
    }
}

fn fixed_body(status: u16) -> (&'static [u8], &'static [u8]) {
    match status {
        404 => (
            b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n",
            b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
        _ => (
            b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n",
            b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        ),
    }
}

/// The fixed start and end of a body; the middle is filler. Text types get
/// a frame that keeps them well-formed (the JSON and XML dissectors parse
/// what they are given), binary types get none.
fn frame(status: u16, res: Res) -> (&'static [u8], &'static [u8]) {
    match (status, res) {
        (404 | 301, _) => fixed_body(status),
        (_, Res::Page) => (
            b"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Welcome</title></head>\n<body>\n<p>",
            b"</p>\n</body>\n</html>\n",
        ),
        (_, Res::Script) => (b"\"use strict\";\nvar text=\"", b"\";\n"),
        (_, Res::Style) => (b"body{margin:0;font-family:sans-serif}\n/* ", b" */\n"),
        (_, Res::Api) => (b"{\"data\":\"", b"\"}\n"),
        (_, Res::Svg) => (b"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\"><desc>", b"</desc></svg>\n"),
        _ => (b"", b""),
    }
}

fn is_text(res: Res) -> bool {
    !matches!(res, Res::Font | Res::Download)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Appends an IMF-fixdate ("Thu, 01 Jan 2026 00:00:00 GMT"), always 29 bytes.
fn push_date(out: &mut Vec<u8>, unix_s: u64) {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let two = |out: &mut Vec<u8>, v: u64| {
        out.push(b'0' + (v / 10) as u8);
        out.push(b'0' + (v % 10) as u8);
    };
    out.extend_from_slice(DAYS[(days % 7) as usize].as_bytes());
    out.extend_from_slice(b", ");
    two(out, d as u64);
    out.push(b' ');
    out.extend_from_slice(MONTHS[(m - 1) as usize].as_bytes());
    out.push(b' ');
    push_dec(out, y as u64);
    out.push(b' ');
    two(out, secs / 3600);
    out.push(b':');
    two(out, secs / 60 % 60);
    out.push(b':');
    two(out, secs % 60);
    out.extend_from_slice(b" GMT");
}

/// Writes a response head. Its length does not depend on `now_ns`, so the
/// head can be measured when the response is planned and rewritten when it
/// is sent.
pub(crate) fn write_response_head(
    seed: u64,
    site: u32,
    server: u8,
    ex: &Exchange,
    now_ns: u64,
    out: &mut Vec<u8>,
) {
    let mut rng = Rng::new(seed);
    out.extend_from_slice(match ex.status {
        200 => b"HTTP/1.1 200 OK\r\n".as_slice(),
        301 => b"HTTP/1.1 301 Moved Permanently\r\n",
        304 => b"HTTP/1.1 304 Not Modified\r\n",
        _ => b"HTTP/1.1 404 Not Found\r\n",
    });
    line(out, "Server", SERVERS[server as usize % SERVERS.len()]);
    out.extend_from_slice(b"Date: ");
    push_date(out, now_ns / 1_000_000_000);
    out.extend_from_slice(b"\r\n");
    if ex.status != 304 {
        let ctype = if ex.status == 200 {
            content_type(ex.res)
        } else {
            "text/html"
        };
        line(out, "Content-Type", ctype);
        out.extend_from_slice(b"Content-Length: ");
        push_dec(out, u64::from(ex.body_len));
        out.extend_from_slice(b"\r\n");
    }
    line(
        out,
        "Connection",
        if ex.close { "close" } else { "keep-alive" },
    );
    match ex.status {
        301 => {
            out.extend_from_slice(b"Location: https://");
            push_host(out, site);
            out.extend_from_slice(b"/\r\n");
        }
        200 | 304 if matches!(ex.res, Res::Script | Res::Style | Res::Svg | Res::Font) => {
            line(out, "Cache-Control", "public, max-age=31536000, immutable");
            out.extend_from_slice(b"ETag: \"");
            push_hex(out, rng.next_u64(), 16);
            out.extend_from_slice(b"\"\r\n");
        }
        200 if ex.res == Res::Api => line(out, "Cache-Control", "no-store"),
        _ => {}
    }
    if rng.chance(30) {
        out.extend_from_slice(b"X-Request-Id: ");
        push_hex(out, rng.next_u64(), 16);
        push_hex(out, rng.next_u64(), 16);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends body bytes `from..from + n` of a response; `shift` varies the
/// filler between responses.
pub(crate) fn push_body(
    out: &mut Vec<u8>,
    pools: &Pools,
    ex: &Exchange,
    shift: u64,
    from: usize,
    n: usize,
) {
    let (pre, suf) = frame(ex.status, ex.res);
    let len = ex.body_len as usize;
    let fill_end = len - suf.len();
    let mut at = from;
    let end = from + n;
    if at < pre.len() {
        let k = end.min(pre.len());
        out.extend_from_slice(&pre[at..k]);
        at = k;
    }
    if at < end.min(fill_end) {
        let k = end.min(fill_end);
        let pool = if is_text(ex.res) {
            &pools.text
        } else {
            &pools.random
        };
        out.extend_from_slice(Pools::slice(pool, shift + at as u64, k - at));
        at = k;
    }
    if at < end {
        out.extend_from_slice(&suf[at - fill_end..end - fill_end]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_imf_fixdate() {
        let mut out = Vec::new();
        push_date(&mut out, 1_767_225_600 + 3 * 3600 + 4 * 60 + 5);
        assert_eq!(out, b"Thu, 01 Jan 2026 03:04:05 GMT");
        out.clear();
        push_date(&mut out, 1_709_164_800); // a leap day
        assert_eq!(out, b"Thu, 29 Feb 2024 00:00:00 GMT");
    }

    #[test]
    fn heads_fit_one_segment() {
        let mut rng = Rng::new(11);
        let mut out = Vec::new();
        for i in 0..5000 {
            let mut ex = Exchange::pick(&mut rng);
            ex.close = i % 2 == 0;
            let site = rng.below(4096) as u32;
            out.clear();
            write_request(
                rng.next_u64(),
                site,
                (i % 7) as u8,
                &ex,
                i % 3 == 0,
                &mut out,
            );
            assert!(out.len() < 1000, "{}", String::from_utf8_lossy(&out));
            assert!(out.ends_with(b"\r\n\r\n") || ex.post);
            out.clear();
            write_response_head(
                rng.next_u64(),
                site,
                (i % 7) as u8,
                &ex,
                1_767_225_600_000_000_000,
                &mut out,
            );
            assert!(out.len() < 600);
            assert!(out.ends_with(b"\r\n\r\n"));
        }
    }

    #[test]
    fn body_pieces_join_up() {
        let pools = Pools::new(&mut Rng::new(1));
        let ex = Exchange {
            res: Res::Api,
            status: 200,
            post: false,
            body_len: 3000,
            close: false,
        };
        // Slices of up to 2 KiB at a time (a segment is at most 1460).
        let mut whole = Vec::new();
        push_body(&mut whole, &pools, &ex, 5, 0, 1500);
        push_body(&mut whole, &pools, &ex, 5, 1500, 1500);
        let mut parts = Vec::new();
        for (from, n) in [(0, 3), (3, 1400), (1403, 1595), (2998, 2)] {
            push_body(&mut parts, &pools, &ex, 5, from, n);
        }
        assert_eq!(whole, parts);
        assert!(whole.starts_with(b"{\"data\":\""));
        assert!(whole.ends_with(b"\"}\n"));
    }
}
