//! CESNET FlowTest as the oracle for L7 fields: every HTTP, DNS and TLS field
//! annotated in `reference/flowtest/validation/*.yml` must appear in the
//! records `eddy meter` makes of the capture (either direction: FlowTest
//! annotates biflows; eddy puts request fields on the request flow and
//! response fields on the response flow).

mod common;

use std::collections::BTreeMap;

use common::{meter_csv, shared_testdata, Row};
use serde_yaml::Value;

/// FlowTest field -> eddy column. Fields mapped to `None` are not in eddy's
/// record, with the reason beside them.
const MAPPING: &[(&str, Option<&str>)] = &[
    ("http_host", Some("http_host")),
    ("http_url", Some("http_url")),
    ("http_method", Some("http_method")),
    ("http_status_code", Some("http_status")),
    ("http_agent", Some("http_user_agent")),
    ("http_content_type", Some("http_content_type")),
    ("http_referer", Some("http_referer")),
    ("http_method_id", None), // Flowmon's method number: eddy keeps the name.
    ("dns_id", Some("dns_id")),
    ("dns_req_query_name", Some("dns_qname")),
    ("dns_req_query_type", Some("dns_qtype")),
    ("dns_req_query_class", Some("dns_qclass")),
    ("dns_resp_rcode", Some("dns_rcode")),
    ("dns_flags", None), // Not an element of DESIGN.md's DNS group.
    ("tls_sni", Some("tls_sni")),
    ("tls_alpn", Some("tls_alpn")),
    ("tls_ja3", Some("tls_ja3")),
    ("tls_client_version", Some("tls_version")),
    ("tls_server_version", Some("tls_version")),
    ("tls_cipher_suite", Some("tls_cipher_suite")),
];

/// Where eddy deliberately differs from an annotation, with the reason.
const DELIBERATE: &[(&str, &str, &str)] = &[
    (
        "http2_switch.yml",
        "http_status_code",
        "eddy records the 101 Switching Protocols and stops: the 200 is inside HTTP/2 frames",
    ),
    (
        "tls_invalid_cert.yml",
        "tls_client_version",
        "FlowTest expects 0xeaea, a GREASE value; eddy skips GREASE as the TLS spec says",
    ),
];

/// Certificate fields: eddy does not parse certificates.
fn is_certificate_field(field: &str) -> bool {
    matches!(
        field,
        "tls_issuer_cn"
            | "tls_subject_cn"
            | "tls_validity_not_before"
            | "tls_validity_not_after"
            | "tls_public_key_alg"
    )
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Numbers as decimal (FlowTest writes some in hex), JA3 without its `0x`.
fn normalise(field: &str, value: &str) -> String {
    if field == "tls_ja3" {
        return value.trim_start_matches("0x").to_lowercase();
    }
    match value.strip_prefix("0x").map(|h| u64::from_str_radix(h, 16)) {
        Some(Ok(n)) => n.to_string(),
        _ => value.to_string(),
    }
}

/// The records of both directions of the annotated flow.
fn both_directions<'a>(
    rows: &'a [Row],
    flow: &BTreeMap<String, String>,
    key: &[String],
) -> Vec<&'a Row> {
    let column = |k: &str| {
        if k == "protocol" {
            "proto".to_string()
        } else {
            k.to_string()
        }
    };
    fn swapped(k: &str) -> &str {
        match k {
            "src_ip" => "dst_ip",
            "dst_ip" => "src_ip",
            "src_port" => "dst_port",
            "dst_port" => "src_port",
            other => other,
        }
    }
    rows.iter()
        .filter(|r| {
            let forward = key.iter().all(|k| r.get(&column(k)) == flow[k]);
            let reverse = key.iter().all(|k| r.get(&column(swapped(k))) == flow[k]);
            forward || reverse
        })
        .collect()
}

/// Flattens `_forward`/`_reverse` groups and keeps scalars and the DNS answer list.
fn fields_of(flow: &Value) -> (BTreeMap<String, String>, Vec<BTreeMap<String, String>>) {
    let mut fields = BTreeMap::new();
    let mut answers = Vec::new();
    let mut add = |map: &serde_yaml::Mapping, fields: &mut BTreeMap<String, String>| {
        for (k, v) in map {
            let Some(k) = scalar(k) else { continue };
            if k == "dns_resp_rr" {
                for rr in v.as_sequence().into_iter().flatten() {
                    let rr = rr.as_mapping().unwrap();
                    answers.push(
                        rr.iter()
                            .filter_map(|(a, b)| Some((scalar(a)?, scalar(b)?)))
                            .collect(),
                    );
                }
            } else if let Some(v) = scalar(v) {
                fields.insert(k, v);
            } else if let Value::Sequence(alternatives) = v {
                let joined: Vec<String> = alternatives.iter().filter_map(scalar).collect();
                fields.insert(k, joined.join("|"));
            }
        }
    };
    let map = flow.as_mapping().unwrap();
    add(map, &mut fields);
    for group in ["_forward", "_reverse"] {
        if let Some(Value::Mapping(m)) = flow.get(group) {
            add(m, &mut fields);
        }
    }
    (fields, answers)
}

#[test]
fn flowtest_l7_fields_match() {
    let index =
        std::fs::read_to_string(shared_testdata().join("reference/flowtest/INDEX.csv")).unwrap();
    let mut failures = Vec::new();
    let mut compared = 0;
    for line in index.lines().skip(1) {
        let mut cols = line.split(',');
        let (yml, pcap) = (cols.next().unwrap(), cols.next().unwrap());
        let doc: Value =
            serde_yaml::from_str(&std::fs::read_to_string(shared_testdata().join(yml)).unwrap())
                .unwrap();
        let name = yml.rsplit('/').next().unwrap();
        let key: Vec<String> = match doc.get("key") {
            Some(Value::Sequence(k)) => k.iter().filter_map(scalar).collect(),
            _ => ["src_ip", "dst_ip", "protocol", "src_port", "dst_port"]
                .map(String::from)
                .to_vec(),
        };
        let flows = doc["flows"].as_sequence().unwrap();
        let wants_l7 = flows.iter().any(|f| {
            let (fields, answers) = fields_of(f);
            !answers.is_empty()
                || fields
                    .keys()
                    .any(|k| ["http_", "dns_", "tls_"].iter().any(|p| k.starts_with(p)))
        });
        if !wants_l7 {
            continue;
        }
        let rows = meter_csv(
            &shared_testdata().join(pcap),
            &["--like", "ipfixprobe", "--inactive", "600"],
        );
        for flow in flows {
            let (fields, answers) = fields_of(flow);
            let records = both_directions(&rows, &fields, &key);
            for (field, want) in &fields {
                if is_certificate_field(field)
                    || !["http_", "dns_", "tls_"]
                        .iter()
                        .any(|p| field.starts_with(p))
                {
                    continue;
                }
                let Some((_, column)) = MAPPING.iter().find(|(f, _)| f == field) else {
                    failures.push(format!("{name}: {field}: no mapping in this test"));
                    continue;
                };
                let Some(column) = column else { continue };
                if DELIBERATE
                    .iter()
                    .any(|(yml, f, _)| *yml == name && f == field)
                {
                    continue;
                }
                compared += 1;
                let alternatives: Vec<String> =
                    want.split('|').map(|w| normalise(field, w)).collect();
                let found: Vec<&str> = records
                    .iter()
                    .map(|r| r.get(column))
                    .filter(|v| !v.is_empty())
                    .collect();
                if !found.iter().any(|v| alternatives.iter().any(|a| a == v)) {
                    failures.push(format!(
                        "{name}: {field}: want {alternatives:?}, eddy has {found:?}"
                    ));
                }
            }
            if !answers.is_empty() {
                compared += 1;
                let datas: Vec<&str> = answers
                    .iter()
                    .filter_map(|a| a.get("data").map(String::as_str))
                    .collect();
                let found: Vec<&str> = records
                    .iter()
                    .map(|r| r.get("dns_answer"))
                    .filter(|v| !v.is_empty())
                    .collect();
                if !found.iter().any(|v| datas.contains(v)) {
                    failures.push(format!(
                        "{name}: dns answer: want one of {datas:?}, eddy has {found:?}"
                    ));
                }
            }
        }
    }
    eprintln!("FlowTest L7: compared {compared} fields");
    assert!(compared > 100, "too few fields compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} FlowTest L7 mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
