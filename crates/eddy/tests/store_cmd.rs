//! `eddy store expire`, `info` and `summarize` on a collected store.

mod common;

use common::{eddy, test_data, TempDir};

/// The command's output; it must succeed.
fn ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A store collected in `dir` from `sample.pcap`'s flows.
fn collected_store(dir: &TempDir) -> std::path::PathBuf {
    let ipfix = dir.0.join("x.ipfix");
    let store = dir.0.join("store");
    ok(eddy()
        .args(["meter", "-q", "-o", "csv", "-r"])
        .arg(test_data().join("sample.pcap"))
        .arg("--ipfix")
        .arg(format!("file:{}", ipfix.display())));
    ok(eddy()
        .args(["collect", "-r"])
        .arg(&ipfix)
        .arg("-w")
        .arg(&store));
    store
}

#[test]
fn expire_removes_old_windows_then_by_size() {
    let dir = TempDir::new("store-expire");
    let store = collected_store(&dir);
    // A copy of the window as if it had been written in 2020.
    let files = store::list_files(&store, None, None, 300).unwrap();
    assert_eq!(files.len(), 1);
    let old_dir = store.join(&files[0].source).join("2020/01/01");
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::copy(&files[0].path, old_dir.join("flows.202001010000.parquet")).unwrap();

    let info = ok(eddy().args(["store", "info", "-w"]).arg(&store));
    assert!(info.starts_with("files 2,"), "{info}");
    let out = ok(eddy()
        .args(["store", "expire", "--max-age", "30d", "-w"])
        .arg(&store));
    assert!(out.starts_with("removed 1 files"), "{out}");
    assert!(!old_dir.exists(), "the emptied day folder stays");
    let out = ok(eddy()
        .args(["store", "expire", "--max-size", "1", "-w"])
        .arg(&store));
    assert!(out.contains("left 0 files"), "{out}");

    let bad = eddy()
        .args(["store", "expire", "--max-age", "3y", "-w"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown unit 'y'"));
}

/// `eddy store summarize` writes the summaries a store lacks, and `eddy
/// query` skips a window whose summary rules out the filter's address,
/// port or protocol.
#[test]
fn summaries_are_added_and_skip_windows_by_address() {
    let dir = TempDir::new("store-summarize");
    let store = collected_store(&dir);
    let files = store::list_files(&store, None, None, 300).unwrap();
    let summary = store::summary::summary_path(&files[0].path).unwrap();
    let out = ok(eddy().args(["store", "summarize", "-w"]).arg(&store));
    assert_eq!(out.trim(), "summaries written 0, already there 1");
    std::fs::remove_file(&summary).unwrap();
    let absent = "host 192.0.2.99";
    let read = ok(eddy().args(["query", "-R"]).arg(&store).arg(absent));
    assert!(read.contains("files read: 1\n"), "{read}");
    let out = ok(eddy().args(["store", "summarize", "-w"]).arg(&store));
    assert_eq!(out.trim(), "summaries written 1, already there 0");
    let skipped = ok(eddy().args(["query", "-R"]).arg(&store).arg(absent));
    assert!(
        skipped.contains("files read: 0, windows skipped by their summaries: 1"),
        "{skipped}"
    );
    // A host the window holds is read as before.
    let host = ok(eddy()
        .args(["query", "-q", "-N", "-c", "1", "-o", "fmt:%sa", "-R"])
        .arg(&store));
    let present = format!("host {}", host.trim());
    let listed = ok(eddy().args(["query", "-R"]).arg(&store).arg(&present));
    assert!(listed.contains("files read: 1\n"), "{listed}");
    // So is a port or a protocol no flow used.
    for absent in ["port 4", "proto gre"] {
        let out = ok(eddy().args(["query", "-R"]).arg(&store).arg(absent));
        assert!(
            out.contains("files read: 0, windows skipped by their summaries: 1"),
            "{absent}: {out}"
        );
    }
    let off = ok(eddy()
        .args(["query", "--no-summaries", "-R"])
        .arg(&store)
        .arg(absent));
    assert!(off.contains("files read: 1\n"), "{off}");
}

/// parquet-rs panics on some damaged footers (decoding the embedded Arrow
/// schema): `eddy query` must end with an error instead. Single-bit flips
/// across the start of that schema; a few of them panicked before.
#[test]
fn a_damaged_footer_ends_the_query_with_an_error_not_a_crash() {
    let dir = TempDir::new("store-damaged-footer");
    let store = collected_store(&dir);
    let files = store::list_files(&store, None, None, 300).unwrap();
    let good = std::fs::read(&files[0].path).unwrap();
    let schema_at = good
        .windows(12)
        .rposition(|w| w == b"ARROW:schema")
        .expect("an embedded Arrow schema");
    let damaged = dir.0.join("flows.202601010000.parquet");
    let mut caught = 0;
    for at in (schema_at + 20..(schema_at + 1300).min(good.len() - 8)).step_by(7) {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&damaged, &bad).unwrap();
        let out = eddy()
            .args(["query", "-q", "-r"])
            .arg(&damaged)
            .arg("any")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "byte {at} crashed: {stderr}");
        assert!(!stderr.contains("panicked"), "byte {at}: {stderr}");
        caught += usize::from(stderr.contains("a damaged store file"));
    }
    assert!(caught > 0, "no flip reached the guard");
}
