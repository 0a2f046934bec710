//! Any Parquet reader reads the store as is: pyarrow reads a store file and
//! its rows, types and sums agree with what eddy wrote.

use std::net::Ipv6Addr;
use std::process::Command;

use l7::http::HttpFields;
use l7::L7Fields;
use record::FlowRecord;
use store::{Store, StoreConfig};

fn have_pyarrow() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with pyarrow is not installed (CI is set, so this is a failure)"
        );
        eprintln!("note: pyarrow not installed; skipping the pyarrow cross-check");
    }
    found
}

const SCRIPT: &str = r#"
import sys, ipaddress
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(t.num_rows)
print(sum(t.column("bytes").to_pylist()))
print(str(t.schema.field("first").type))
print(ipaddress.IPv6Address(t.column("src_ip")[0].as_py()))
print([h for h in t.column("http_host").to_pylist() if h is not None])
print(t.column("http_status").null_count)
md = pq.ParquetFile(sys.argv[1]).metadata
print(md.row_group(0).column(0).statistics.has_min_max)
print(md.row_group(0).column(0).compression)
"#;

#[test]
fn pyarrow_reads_a_store_file() {
    if !have_pyarrow() {
        return;
    }
    let root = std::env::temp_dir().join(format!("eddy-store-pyarrow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut store = Store::open(StoreConfig::new(&root)).unwrap();
    for i in 0..1000u64 {
        let mut r = FlowRecord {
            first_ns: 1_764_289_500_000_000_000 + i * 1_000_000,
            last_ns: 1_764_289_501_000_000_000 + i * 1_000_000,
            src_ip: "::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap(),
            dst_ip: "2001:db8::1".parse().unwrap(),
            proto: 6,
            packets: 1,
            bytes: i,
            ..FlowRecord::default()
        };
        if i == 7 {
            r.l7 = Some(L7Fields::from(HttpFields {
                host: Some("example.org".into()),
                ..HttpFields::default()
            }));
        }
        store.push("router1", 1_764_289_500, &r).unwrap();
    }
    let files = store.close_all().unwrap();
    assert_eq!(files.len(), 1);
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&files[0].path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "1000",
            "499500",
            "timestamp[ns, tz=UTC]",
            "::ffff:a01:203",
            "['example.org']",
            "1000",
            "True",
            "ZSTD",
        ]
    );
    let _ = std::fs::remove_dir_all(&root);
}
