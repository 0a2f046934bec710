//! `eddy store expire` and `eddy store info` on a collected store.

mod common;

use common::{eddy, test_data, TempDir};

#[test]
fn expire_removes_old_windows_then_by_size() {
    let dir = TempDir::new("store-expire");
    let ipfix = dir.0.join("x.ipfix");
    let store = dir.0.join("store");
    let ok = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
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
