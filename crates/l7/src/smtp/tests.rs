use super::parser::{self, Command};
use super::state::SmtpState;
use super::*;
use crate::testutil::{direction, payloads, Payload};
use crate::{Feed, L7Fields, Parser, MAX_BUFFER};
use proptest::prelude::*;

const IPFIXPROBE: &str = "pcap/smtp/ipfixprobe_smtp.pcap";
const STARTTLS: &str = "pcap/smtp/nfstream_smtp-starttls.pcap";
const IPV6: &str = "pcap/ipv6/flowtest_ipv6-smtp.pcap";
const CAPTURES: [&str; 3] = [IPFIXPROBE, STARTTLS, IPV6];

/// Feeds one direction the way the flow cache does and returns its record.
fn run(packets: &[Payload]) -> SmtpFields {
    let records = crate::testutil::run_parser(new_parser, packets);
    assert!(records.len() <= 1, "one record per flow direction");
    match records.into_iter().next() {
        Some(L7Fields::Smtp(fields)) => *fields,
        Some(other) => panic!("not smtp: {other:?}"),
        None => SmtpFields::default(),
    }
}

/// Feeds byte chunks to a fresh parser; returns the record and the last Feed.
fn run_chunks(chunks: &[&[u8]]) -> (SmtpFields, Feed) {
    let mut parser = new_parser();
    let mut last = Feed::More;
    for chunk in chunks {
        last = parser.feed(chunk);
        if last == Feed::Done {
            break;
        }
    }
    let fields = match parser.take_current() {
        Some(L7Fields::Smtp(fields)) => *fields,
        _ => SmtpFields::default(),
    };
    (fields, last)
}

/// Every TCP flow direction of a capture with payload, as (src, dst) ports.
fn tcp_directions(all: &[Payload]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for p in all.iter().filter(|p| p.proto == 6 && !p.data.is_empty()) {
        if !out.contains(&(p.src_port, p.dst_port)) {
            out.push((p.src_port, p.dst_port));
        }
    }
    out
}

/// Maps eddy's command bits onto ipfixprobe's: STARTTLS, AUTH and BDAT are
/// "unknown" there.
fn as_ipfixprobe_commands(commands: u32) -> u32 {
    let own_bits =
        command_flag(Command::StartTls) | command_flag(Command::Auth) | command_flag(Command::Bdat);
    let mut out = commands & !own_bits;
    if commands & own_bits != 0 {
        out |= command_flag(Command::Other);
    }
    out
}

fn csv_fields(line: &str) -> Vec<String> {
    // Good enough for ipfixprobe's output: quoted strings hold no quotes.
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

#[test]
fn matches_ipfixprobe_reference() {
    let text =
        std::fs::read_to_string(crate::testutil::shared("reference/ipfixprobe/smtp.csv")).unwrap();
    let header_line = text.lines().find(|l| l.starts_with("ipaddr ")).unwrap();
    let header: Vec<String> = csv_fields(header_line)
        .iter()
        .map(|h| h.split(' ').nth(1).unwrap().to_string())
        .collect();
    let row = csv_fields(text.lines().find(|l| !l.starts_with("ipaddr ")).unwrap());
    let col = |name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    let num = |name: &str| col(name).parse::<u32>().unwrap();

    let all = payloads(IPFIXPROBE);
    let client_port: u16 = col("SRC_PORT").parse().unwrap();
    let server_port: u16 = col("DST_PORT").parse().unwrap();
    let client = run(&direction(&all, client_port, server_port));
    let server = run(&direction(&all, server_port, client_port));

    // ipfixprobe does not flag the QUIT this capture ends with; eddy does.
    assert_eq!(
        as_ipfixprobe_commands(client.commands) & !command_flag(Command::Quit),
        num("SMTP_COMMAND_FLAGS")
    );
    assert_ne!(client.commands & command_flag(Command::Quit), 0);
    assert_eq!(client.mail_count, num("SMTP_MAIL_CMD_COUNT"));
    assert_eq!(client.rcpt_count, num("SMTP_RCPT_CMD_COUNT"));
    // ipfixprobe keeps the blank after "FROM:"; eddy trims it.
    assert_eq!(
        client.sender.as_deref(),
        Some(col("SMTP_FIRST_SENDER").trim())
    );
    assert_eq!(
        client.recipient.as_deref(),
        Some(col("SMTP_FIRST_RECIPIENT").trim())
    );
    assert_eq!(client.domain.as_deref(), Some(col("SMTP_DOMAIN").as_str()));
    assert_eq!(client.status_flags, 0);

    assert_eq!(server.status_2xx, num("SMTP_2XX_STAT_CODE_COUNT"));
    assert_eq!(server.status_3xx, num("SMTP_3XX_STAT_CODE_COUNT"));
    assert_eq!(server.status_4xx, num("SMTP_4XX_STAT_CODE_COUNT"));
    assert_eq!(server.status_5xx, num("SMTP_5XX_STAT_CODE_COUNT"));
    assert_eq!(server.status_flags, num("SMTP_STAT_CODE_FLAGS"));
    assert_eq!(server.commands, 0);
}

#[test]
fn starttls_ends_both_directions() {
    let all = payloads(STARTTLS);
    let client = direction(&all, 57406, 25);
    let mut parser = new_parser();
    let feeds: Vec<Feed> = client.iter().map(|p| parser.feed(&p.data)).collect();
    let done_at = feeds
        .iter()
        .position(|f| *f == Feed::Done)
        .expect("client stops");
    assert!(String::from_utf8_lossy(&client[done_at].data).starts_with("STARTTLS"));
    let fields = run(&client);
    assert_eq!(
        fields.commands,
        command_flag(Command::Ehlo) | command_flag(Command::StartTls)
    );
    assert_eq!(fields.domain.as_deref(), Some("xxxxxxxxxxxxx.xxx.com"));

    let server = direction(&all, 25, 57406);
    let mut parser = new_parser();
    let feeds: Vec<Feed> = server.iter().map(|p| parser.feed(&p.data)).collect();
    let done_at = feeds
        .iter()
        .position(|f| *f == Feed::Done)
        .expect("server stops");
    assert!(String::from_utf8_lossy(&server[done_at].data).starts_with("220 2.0.0 Ready"));
    let fields = run(&server);
    assert_eq!(fields.status_2xx, 3);
    assert_eq!(fields.status_flags, status_flag(220) | status_flag(250));
}

#[test]
fn ipv6_client_typing_byte_by_byte() {
    let all = payloads(IPV6);
    let client = direction(&all, 63943, 25);
    let first = client.iter().find(|p| !p.data.is_empty()).unwrap();
    assert_eq!(first.data, b"e");
    assert!(
        probe(&first.transport(), &first.data),
        "port hint accepts a prefix of EHLO"
    );
    let fields = run(&client);
    assert_eq!(fields.commands, command_flag(Command::Ehlo));
    assert_eq!(fields.domain, None);
    let server = run(&direction(&all, 25, 63943));
    assert_eq!(server.status_2xx, 2);
}

#[test]
fn probe_by_content_then_port_hint() {
    let any = Transport {
        proto: 6,
        src_port: 40000,
        dst_port: 40001,
    };
    let smtp = Transport {
        proto: 6,
        src_port: 40000,
        dst_port: 587,
    };
    let udp = Transport {
        proto: 17,
        src_port: 40000,
        dst_port: 25,
    };
    assert!(probe(&any, b"220 mx.example.org ESMTP\r\n"));
    assert!(probe(&any, b"220-mx.example.org ESMTP\r\n"));
    assert!(probe(&any, b"ehlo client.example\r\n"));
    assert!(probe(&any, b"HELO\r\n"));
    assert!(!probe(&any, b"EH"));
    assert!(probe(&smtp, b"EH"));
    assert!(probe(&smtp, b"22"));
    assert!(!probe(&smtp, b"GET / HTTP/1.1\r\n"));
    assert!(!probe(&any, b"2200 nope"));
    assert!(!probe(&udp, b"220 mx ESMTP\r\n"));
    assert!(!probe(&any, b""));
}

#[test]
fn lines_split_over_segments_are_reassembled() {
    let (fields, _) = run_chunks(&[
        b"EH",
        b"LO clie",
        b"nt.example\r",
        b"\nMAIL FROM:<a@",
        b"b.example> SIZE=10\r\n",
    ]);
    assert_eq!(fields.domain.as_deref(), Some("client.example"));
    assert_eq!(fields.sender.as_deref(), Some("<a@b.example>"));
    assert_eq!(
        fields.commands,
        command_flag(Command::Ehlo) | command_flag(Command::Mail)
    );
}

#[test]
fn data_body_is_not_parsed_as_commands() {
    let body: &[&[u8]] = &[
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
        b"Subject: x\r\n\r\nMAIL FROM:<evil@x>\r\n..\r\n.. still body\r\nRCPT TO:<no@x>\r\n",
        b"last line\r\n.",
        b"\r",
        b"\nRCPT TO:<e@f>\r\nQUIT\r\n",
    ];
    let (fields, feed) = run_chunks(body);
    assert_eq!(feed, Feed::More);
    assert_eq!(fields.mail_count, 1);
    assert_eq!(fields.rcpt_count, 2);
    assert_eq!(fields.sender.as_deref(), Some("<a@b>"));
    assert_eq!(fields.recipient.as_deref(), Some("<c@d>"));
    assert_ne!(fields.commands & command_flag(Command::Quit), 0);
}

#[test]
fn empty_body_and_pipelined_commands_after_it() {
    let (fields, _) = run_chunks(&[b"HELO h\r\nDATA\r\n.\r\nRSET\r\nNOOP\r\n"]);
    let expected = [Command::Helo, Command::Data, Command::Rset, Command::Noop]
        .iter()
        .fold(0, |acc, &c| acc | command_flag(c));
    assert_eq!(fields.commands, expected);
}

#[test]
fn bdat_chunks_are_skipped() {
    let (fields, _) = run_chunks(&[
        b"EHLO c\r\nBDAT 12 LAST\r\nMAIL FROM:",
        b"<x>\r\nRCPT TO:<r@s>\r\n",
    ]);
    assert_eq!(fields.mail_count, 0);
    assert_eq!(fields.rcpt_count, 1);
    assert_ne!(fields.commands & command_flag(Command::Bdat), 0);
}

#[test]
fn auth_credentials_are_not_flagged_or_kept() {
    let (fields, _) = run_chunks(&[
        b"EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nMAIL FROM:<a@b>\r\nXYZZY\r\n",
    ]);
    assert_eq!(
        fields.commands,
        command_flag(Command::Ehlo)
            | command_flag(Command::Auth)
            | command_flag(Command::Mail)
            | command_flag(Command::Other)
    );
}

#[test]
fn client_starttls_is_done() {
    let (fields, feed) = run_chunks(&[b"EHLO c\r\nSTARTTLS\r\n\x16\x03\x01\x02\x00"]);
    assert_eq!(feed, Feed::Done);
    assert_eq!(
        fields.commands,
        command_flag(Command::Ehlo) | command_flag(Command::StartTls)
    );
}

#[test]
fn server_replies_count_once_per_reply() {
    let (fields, feed) = run_chunks(&[
        b"220-first\r\n220 second\r\n250-a\r\n250-b\r\n250 c\r\n",
        b"550 5.1.1 no\r\n421\r\n354 go\r\n334 VXNlcm5hbWU6\r\n",
    ]);
    assert_eq!(feed, Feed::More);
    assert_eq!(
        (
            fields.status_2xx,
            fields.status_3xx,
            fields.status_4xx,
            fields.status_5xx
        ),
        (2, 2, 1, 1)
    );
    let expected = [220, 250, 550, 421, 354]
        .iter()
        .fold(0, |acc, &c| acc | status_flag(c))
        | status_flag(334);
    assert_eq!(fields.status_flags, expected);
    assert_eq!(status_flag(334), parser::UNKNOWN_STATUS_FLAG);
}

#[test]
fn overlong_lines_are_skipped_with_bounded_memory() {
    let mut parser = SmtpState::default();
    parser.feed(b"EHLO c\r\nMAIL FROM:<");
    for _ in 0..1000 {
        parser.feed(&[b'a'; 1000]);
        assert!(parser.buffered() <= MAX_BUFFER);
    }
    parser.feed(b">\r\nRCPT TO:<r@s>\r\n");
    let Some(L7Fields::Smtp(fields)) = parser.take_current() else {
        panic!()
    };
    assert_eq!(fields.mail_count, 0);
    assert_eq!(fields.rcpt_count, 1);
}

#[test]
fn huge_fields_are_capped() {
    let mut line = b"MAIL FROM:<".to_vec();
    line.extend(std::iter::repeat_n(b'x', 1500));
    line.extend_from_slice(b">\r\n");
    let (fields, _) = run_chunks(&[b"EHLO c\r\n", &line]);
    assert_eq!(fields.sender.unwrap().len(), crate::MAX_FIELD_LEN);
}

#[test]
fn blank_lines_are_not_junk() {
    let (fields, feed) = run_chunks(&[b"EHLO c\r\n", &b"\r\n".repeat(20), b"NOOP\r\n"]);
    assert_eq!(feed, Feed::More);
    assert_eq!(
        fields.commands,
        command_flag(Command::Ehlo) | command_flag(Command::Noop)
    );
}

#[test]
fn binary_garbage_gives_up() {
    let garbage = [0x16u8, 0x03, 0x01, b'\n'].repeat(20);
    let (_, feed) = run_chunks(&[b"EHLO c\r\n", &garbage]);
    assert_eq!(feed, Feed::Done);
}

#[test]
fn find_newline_agrees_with_a_plain_scan() {
    let text = b"0123456789abcdef\nxyz\n";
    for start in 0..text.len() {
        for end in start..=text.len() {
            let slice = &text[start..end];
            assert_eq!(
                parser::find_newline(slice),
                slice.iter().position(|&b| b == b'\n')
            );
        }
    }
    let tricky = [0x8au8, 0x0b, 0x09, 0xff, 0x00, 0x01, 0x0a, 0x80, 0x0a];
    assert_eq!(parser::find_newline(&tricky), Some(6));
}

#[test]
fn mail_paths() {
    assert_eq!(parser::mail_path(b"FROM:<a@b> SIZE=1"), b"<a@b>");
    assert_eq!(parser::mail_path(b"FROM: <a@b>"), b"<a@b>");
    assert_eq!(parser::mail_path(b"from:a@b BODY=8BITMIME"), b"a@b");
    assert_eq!(parser::mail_path(b"FROM:<>"), b"<>");
    assert_eq!(parser::mail_path(b"FROM:<unterminated"), b"<unterminated");
    assert_eq!(parser::mail_path(b""), b"");
    assert_eq!(parser::bdat_size(b"99999999999999999999"), None);
    assert_eq!(parser::bdat_size(b"12x"), None);
    assert_eq!(parser::parse_reply(b"25"), None);
    assert_eq!(parser::parse_reply(b"250x"), None);
}

/// tshark's view of one direction, in eddy's terms.
fn tshark_fields(file: &str, src_port: u16, dst_port: u16) -> Option<SmtpFields> {
    let path = crate::testutil::shared(file);
    let filter = format!("tcp.srcport=={src_port} && tcp.dstport=={dst_port}");
    let output = std::process::Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-Y",
            &filter,
            "-T",
            "fields",
            "-E",
            "occurrence=f",
        ])
        .args([
            "-e",
            "smtp.req.command",
            "-e",
            "smtp.req.parameter",
            "-e",
            "smtp.response.code",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut fields = SmtpFields::default();
    for line in text.lines() {
        let mut cols = line.split('\t');
        let (verb, param, code) = (
            cols.next().unwrap_or(""),
            cols.next().unwrap_or(""),
            cols.next().unwrap_or(""),
        );
        if !verb.is_empty() {
            // tshark reads a 4-letter verb, so STARTTLS shows as "STAR" + "TLS".
            let full = if verb.eq_ignore_ascii_case("STAR") {
                "STARTTLS".to_string()
            } else {
                format!("{verb} {param}")
            };
            let parsed = parser::parse_command(full.as_bytes());
            fields.commands |= command_flag(parsed.command);
            match parsed.command {
                Command::Ehlo | Command::Helo if !param.is_empty() => {
                    fields.domain = Some(FieldStr::new(param))
                }
                Command::Mail => {
                    fields.mail_count += 1;
                    fields
                        .sender
                        .get_or_insert(FieldStr::from_utf8_lossy(parser::mail_path(
                            param.as_bytes(),
                        )));
                }
                Command::Rcpt => {
                    fields.rcpt_count += 1;
                    fields
                        .recipient
                        .get_or_insert(FieldStr::from_utf8_lossy(parser::mail_path(
                            param.as_bytes(),
                        )));
                }
                _ => {}
            }
        }
        if let Ok(code) = code.parse::<u16>() {
            fields.status_flags |= status_flag(code);
            match code / 100 {
                2 => fields.status_2xx += 1,
                3 => fields.status_3xx += 1,
                4 => fields.status_4xx += 1,
                5 => fields.status_5xx += 1,
                _ => {}
            }
        }
    }
    Some(fields)
}

fn tshark_available() -> bool {
    let found = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is required when CI is set"
        );
        eprintln!("note: tshark not found, skipping the tshark oracle test");
    }
    found
}

#[test]
fn agrees_with_tshark() {
    if !tshark_available() {
        return;
    }
    for file in CAPTURES {
        let all = payloads(file);
        for (src, dst) in tcp_directions(&all) {
            let packets = direction(&all, src, dst);
            let first = packets.iter().find(|p| !p.data.is_empty()).unwrap();
            if !probe(&first.transport(), &first.data) {
                continue;
            }
            let ours = run(&packets);
            let expected = tshark_fields(file, src, dst).unwrap();
            assert_eq!(ours, expected, "{file} {src}->{dst}");
        }
    }
}

fn capture_directions() -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for file in CAPTURES {
        let all = payloads(file);
        for (src, dst) in tcp_directions(&all) {
            out.push(
                direction(&all, src, dst)
                    .into_iter()
                    .map(|p| p.data)
                    .collect(),
            );
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn damaged_captures_never_panic_or_overbuffer(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        chunk_sizes in prop::collection::vec(1usize..600, 1..32),
    ) {
        let directions = capture_directions();
        let mut stream: Vec<u8> = pick.get(&directions).concat();
        if !stream.is_empty() {
            stream.truncate(cut.index(stream.len() + 1));
        }
        for (at, byte) in &flips {
            if !stream.is_empty() {
                let i = at.index(stream.len());
                stream[i] ^= byte;
            }
        }
        let mut parser = SmtpState::default();
        let mut rest = &stream[..];
        let mut size = chunk_sizes.iter().cycle();
        while !rest.is_empty() {
            let n = (*size.next().unwrap()).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let feed = parser.feed(chunk);
            prop_assert!(parser.buffered() <= MAX_BUFFER);
            if feed == Feed::Done {
                break;
            }
        }
        let _ = parser.take_current();
    }
}
