//! Lists downloaded from a URL on an interval (blacklists, booter domains,
//! mining pools): each download lands in the list's local file, written
//! under a temporary name and renamed, so the detector's reload-on-change
//! picks it up and a broken download never replaces a good list.
//!
//! Downloads run `curl` (HTTP, HTTPS, proxies from the environment, as
//! operators already configure them) rather than linking a TLS stack into
//! eddy for one request an hour.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// One list to keep fresh.
#[derive(Clone, Debug)]
pub struct Download {
    pub url: String,
    /// The list's local file (also the cache used when a download fails).
    pub path: PathBuf,
    pub every: Duration,
}

/// Counters of a refresher, for logs and module stats.
#[derive(Default, Debug)]
pub struct DownloadStats {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
}

/// Longest a single transfer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Fetches `d.url` into `d.path` once. A failure leaves `d.path` as it was
/// and says why (curl's message, or an empty body).
pub fn fetch(d: &Download) -> Result<u64, String> {
    let tmp = temp_path(&d.path);
    let out = Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--location"])
        .arg("--max-time")
        .arg(TRANSFER_TIMEOUT.as_secs().to_string())
        .arg("--output")
        .arg(&tmp)
        .arg("--")
        .arg(&d.url)
        .output()
        .map_err(|e| format!("downloading {}: running curl: {e}", d.url))?;
    let result = if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        Err(format!("downloading {}: {}", d.url, msg.trim()))
    } else {
        match std::fs::metadata(&tmp) {
            Ok(m) if m.len() > 0 => std::fs::rename(&tmp, &d.path)
                .map(|_| m.len())
                .map_err(|e| format!("downloading {}: {}: {e}", d.url, d.path.display())),
            Ok(_) => Err(format!(
                "downloading {}: empty body, keeping the old list",
                d.url
            )),
            Err(e) => Err(format!("downloading {}: {e}", d.url)),
        }
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.download"))
}

/// The first download, before the detector loads its lists: without it
/// and without an earlier copy in `path`, the list cannot start.
pub fn fetch_at_start(d: &Download, stats: &DownloadStats) -> Result<(), String> {
    match fetch(d) {
        Ok(bytes) => {
            stats.ok.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "eddy: {} bytes from {} to {}",
                bytes,
                d.url,
                d.path.display()
            );
            Ok(())
        }
        Err(e) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            if d.path.exists() {
                eprintln!("eddy: {e}; using the copy in {}", d.path.display());
                Ok(())
            } else {
                Err(format!(
                    "{e}, and there is no earlier copy in {}",
                    d.path.display()
                ))
            }
        }
    }
}

/// Re-downloads every list on its interval from a background thread until
/// `stop` is set. Failures are counted and logged (the old file stays).
pub fn spawn_refresher(
    downloads: Vec<Download>,
    stats: Arc<DownloadStats>,
    stop: Arc<AtomicBool>,
) -> Option<thread::JoinHandle<()>> {
    if downloads.is_empty() {
        return None;
    }
    let spawned = thread::Builder::new()
        .name("list-download".into())
        .spawn(move || {
            let mut due: Vec<Instant> =
                downloads.iter().map(|d| Instant::now() + d.every).collect();
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(200));
                for (d, next) in downloads.iter().zip(due.iter_mut()) {
                    if Instant::now() < *next {
                        continue;
                    }
                    *next = Instant::now() + d.every;
                    match fetch(d) {
                        Ok(_) => {
                            stats.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("eddy: {e}");
                        }
                    }
                }
            }
        });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("eddy: cannot start the list downloader: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves `bodies` in turn (status 200, or 500 for `None`), one request each.
    fn server(bodies: Vec<Option<&'static str>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for body in bodies {
                let Ok((mut s, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let reply = match body {
                    Some(b) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                        b.len()
                    ),
                    None => "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string(),
                };
                let _ = s.write_all(reply.as_bytes());
            }
        });
        format!("http://{addr}/drop.txt")
    }

    fn have_curl() -> bool {
        Command::new("curl").arg("--version").output().is_ok()
    }

    #[test]
    fn a_download_replaces_the_list_and_a_failure_keeps_it() {
        if !have_curl() {
            assert!(std::env::var("CI").is_err(), "curl is required in CI");
            return;
        }
        let dir = std::env::temp_dir().join(format!("eddy-download-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = Download {
            url: server(vec![Some("192.0.2.0/24\n"), None, Some("")]),
            path: dir.join("drop.txt"),
            every: Duration::from_secs(3600),
        };
        let stats = DownloadStats::default();
        fetch_at_start(&d, &stats).unwrap();
        assert_eq!(std::fs::read_to_string(&d.path).unwrap(), "192.0.2.0/24\n");
        let e = fetch(&d).unwrap_err();
        assert!(e.contains("500"), "{e}");
        let e = fetch(&d).unwrap_err();
        assert!(e.contains("empty body"), "{e}");
        assert_eq!(std::fs::read_to_string(&d.path).unwrap(), "192.0.2.0/24\n");
        assert!(!temp_path(&d.path).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_an_earlier_copy_a_failed_first_download_is_an_error() {
        if !have_curl() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("eddy-download-none-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = Download {
            url: server(vec![None]),
            path: dir.join("list.txt"),
            every: Duration::from_secs(3600),
        };
        let stats = DownloadStats::default();
        let e = fetch_at_start(&d, &stats).unwrap_err();
        assert!(e.contains("no earlier copy"), "{e}");
        assert_eq!(stats.failed.load(Ordering::Relaxed), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
