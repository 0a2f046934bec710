//! The alert store: one SQLite file (WAL mode), one row per alert keyed by
//! its IDEA `ID`, indexed by detect time, category, source and target.

use std::path::Path;

use rusqlite::{params, params_from_iter, Connection, OpenFlags};

/// One alert as the store keeps it (the alert stream's columns, times in
/// ns since the epoch).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertRow {
    /// The IDEA `ID`.
    pub id: String,
    pub detect_time: i64,
    pub event_time: i64,
    pub cease_time: i64,
    pub detector: String,
    /// IDEA categories, comma separated (`Recon.Scanning`).
    pub category: String,
    /// First source and target address, as text.
    pub source: Option<String>,
    pub target: Option<String>,
    pub description: String,
    pub flows: u64,
    /// Alerts of the same attack merged into this row (1 = just this one).
    pub merged: u64,
    /// The whole IDEA JSON message.
    pub idea: String,
}

/// What [`AlertStore::query`] selects; `None` is no condition.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    /// detect_time >= since (ns).
    pub since: Option<i64>,
    /// detect_time < until (ns).
    pub until: Option<i64>,
    /// A category prefix: `Recon` matches `Recon.Scanning` (any of a row's categories).
    pub category: Option<String>,
    pub detector: Option<String>,
    /// Source or target address equal to this text.
    pub address: Option<String>,
    /// At most this many rows, newest first.
    pub limit: Option<usize>,
}

/// What [`AlertStore::merge`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Counted into the row.
    Merged,
    /// This alert was merged before: nothing changed.
    Already,
    /// There is no row to merge into.
    Missing,
}

pub struct AlertStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    detect_time INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    cease_time INTEGER NOT NULL,
    detector TEXT NOT NULL,
    category TEXT NOT NULL,
    source TEXT,
    target TEXT,
    description TEXT NOT NULL,
    flows INTEGER NOT NULL,
    merged INTEGER NOT NULL DEFAULT 1,
    idea TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_detect_time ON alerts(detect_time);
CREATE INDEX IF NOT EXISTS alerts_category ON alerts(category);
CREATE INDEX IF NOT EXISTS alerts_source ON alerts(source);
CREATE INDEX IF NOT EXISTS alerts_target ON alerts(target);
-- Alerts merged into a row (their own IDs): merging one twice (the same
-- stream reported again) counts it once.
CREATE TABLE IF NOT EXISTS merged (
    id TEXT PRIMARY KEY,
    into_id TEXT NOT NULL
);
";

const COLUMNS: &str = "id, detect_time, event_time, cease_time, detector, category, source, \
                       target, description, flows, merged, idea";

fn err(path: &Path, e: rusqlite::Error) -> String {
    format!("alert store {}: {e}", path.display())
}

impl AlertStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<AlertStore, String> {
        let conn = Connection::open(path).map_err(|e| err(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| err(path, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err(path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| err(path, e))?;
        Ok(AlertStore { conn })
    }

    /// Opens an existing store for reading (`eddy alerts`).
    pub fn open_read(path: &Path) -> Result<AlertStore, String> {
        if !path.exists() {
            return Err(format!("no alert store at {}", path.display()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| err(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| err(path, e))?;
        Ok(AlertStore { conn })
    }

    /// Adds `row`; false when a row with its ID is already there (it is kept).
    pub fn insert(&self, row: &AlertRow) -> Result<bool, String> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO alerts (id, detect_time, event_time, cease_time, detector, \
                 category, source, target, description, flows, merged, idea) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    row.id,
                    row.detect_time,
                    row.event_time,
                    row.cease_time,
                    row.detector,
                    row.category,
                    row.source,
                    row.target,
                    row.description,
                    i64::try_from(row.flows).unwrap_or(i64::MAX),
                    i64::try_from(row.merged.max(1)).unwrap_or(i64::MAX),
                    row.idea,
                ],
            )
            .map_err(|e| format!("alert store insert: {e}"))?;
        Ok(n == 1)
    }

    /// Merges a later alert of the same attack into the row `id`: adds its
    /// flows, counts it, and moves the cease time on; an alert already
    /// merged (same ID) is not counted again.
    pub fn merge(&self, id: &str, later: &AlertRow) -> Result<Merge, String> {
        let e = |e: rusqlite::Error| format!("alert store update: {e}");
        let exists: bool = self
            .conn
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM alerts WHERE id = ?1)",
                [id],
                |r| r.get(0),
            )
            .map_err(e)?;
        if !exists {
            return Ok(Merge::Missing);
        }
        let new = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO merged (id, into_id) VALUES (?1, ?2)",
                params![later.id, id],
            )
            .map_err(e)?;
        if new == 0 {
            return Ok(Merge::Already);
        }
        self.conn
            .execute(
                "UPDATE alerts SET flows = flows + ?2, merged = merged + 1, \
                     cease_time = max(cease_time, ?3) WHERE id = ?1",
                params![
                    id,
                    i64::try_from(later.flows).unwrap_or(i64::MAX),
                    later.cease_time
                ],
            )
            .map_err(e)?;
        Ok(Merge::Merged)
    }

    /// The rows matching `q`, newest detect time first.
    pub fn query(&self, q: &AlertQuery) -> Result<Vec<AlertRow>, String> {
        let mut sql = format!("SELECT {COLUMNS} FROM alerts WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        use rusqlite::types::Value;
        if let Some(t) = q.since {
            args.push(Value::Integer(t));
            sql.push_str(&format!(" AND detect_time >= ?{}", args.len()));
        }
        if let Some(t) = q.until {
            args.push(Value::Integer(t));
            sql.push_str(&format!(" AND detect_time < ?{}", args.len()));
        }
        if let Some(c) = &q.category {
            // A prefix of any of the row's comma-separated categories, taken
            // literally and case-sensitively (as the routing rules match).
            args.push(Value::Text(format!(",{c}")));
            sql.push_str(&format!(" AND instr(',' || category, ?{}) > 0", args.len()));
        }
        if let Some(d) = &q.detector {
            args.push(Value::Text(d.clone()));
            sql.push_str(&format!(" AND detector = ?{}", args.len()));
        }
        if let Some(ip) = &q.address {
            args.push(Value::Text(ip.clone()));
            let a = args.len();
            sql.push_str(&format!(" AND (source = ?{a} OR target = ?{a})"));
        }
        sql.push_str(" ORDER BY detect_time DESC, id");
        if let Some(n) = q.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| format!("alert store query: {e}"))?;
        let rows = stmt
            .query_map(params_from_iter(args), |r| {
                Ok(AlertRow {
                    id: r.get(0)?,
                    detect_time: r.get(1)?,
                    event_time: r.get(2)?,
                    cease_time: r.get(3)?,
                    detector: r.get(4)?,
                    category: r.get(5)?,
                    source: r.get(6)?,
                    target: r.get(7)?,
                    description: r.get(8)?,
                    flows: r.get::<_, i64>(9)?.max(0) as u64,
                    merged: r.get::<_, i64>(10)?.max(0) as u64,
                    idea: r.get(11)?,
                })
            })
            .map_err(|e| format!("alert store query: {e}"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("alert store query: {e}"))
    }
}
