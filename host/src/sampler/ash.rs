//! Active session history: one read of `pg_stat_activity` per tick (1 s or 10 s) turned into an
//! `AshTick`. This is the hot path (1,000 instances at 1 s), so a tick is one prepared query that
//! answers with a single row (one `array_agg` per column, decoded in place by `arrays`), no query
//! text except for query ids never seen before, and `pg_blocking_pids()` only for `Lock` waits
//! (it takes the lock manager's partition locks, too costly for every backend).

use std::collections::HashMap;

use sqlx::postgres::PgConnection;

use super::arrays::{Elements, INT4, INT8, TEXT};
use crate::model::{AshSession, AshTick};

/// Query ids whose command keyword is remembered; beyond it the cache starts over rather than
/// growing (and the array sent with every tick stays small).
const MAX_CACHED_COMMANDS: usize = 5_000;

/// One expression per session field, each aggregated into an array of the tick's single row (the
/// arrays of one aggregate node follow the same row order). Blocking pids are a comma-separated
/// text per session, since `array_agg` cannot gather arrays of different lengths. `{qid}` and
/// `{text}` differ by server version (query_id exists since 14).
const COLUMNS: [(&str, u32); 15] = [
    ("pid", INT4),
    ("(extract(epoch FROM backend_start) * 1000)::int8", INT8),
    ("coalesce(state, '')", TEXT),
    ("coalesce(wait_event_type, CASE WHEN state = 'active' THEN 'CPU' ELSE '' END)", TEXT),
    ("coalesce(wait_event, '')", TEXT),
    ("CASE WHEN wait_event_type = 'Lock' THEN array_to_string(pg_blocking_pids(pid), ',') ELSE '' END", TEXT),
    ("{qid}", INT8),
    ("coalesce(datname::text, '')", TEXT),
    ("coalesce(usename::text, '')", TEXT),
    ("coalesce(application_name, '')", TEXT),
    ("coalesce(host(client_addr), 'local')", TEXT),
    ("coalesce(backend_type, '')", TEXT),
    ("(extract(epoch FROM query_start) * 1000)::int8", INT8),
    ("(extract(epoch FROM xact_start) * 1000)::int8", INT8),
    ("{text}", TEXT),
];

const ASH_FROM: &str = " FROM pg_stat_activity \
  WHERE state IN ('active', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call') \
  AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM 'vigia-sampler'";

/// Reads ticks of one instance, remembering the command keyword of each query id seen.
pub struct AshSampler {
    sql: String,
    has_query_id: bool,
    max_text: i32,
    commands: HashMap<i64, &'static str>,
    known: Vec<i64>,
}

impl AshSampler {
    /// `server_version_num` decides the columns; `max_text` bounds the text read for new ids.
    pub fn new(server_version_num: i64, max_text: usize) -> AshSampler {
        let has_query_id = server_version_num >= 140_000;
        let (qid, text) = if has_query_id {
            ("coalesce(query_id, 0)", "CASE WHEN query_id <> ALL($1) THEN left(query, $2) END")
        } else {
            // Without query ids there is nothing to cache by; a short prefix names the command.
            ("0::int8", "left(query, 32)")
        };
        let columns: Vec<String> = COLUMNS
            .iter()
            .map(|(expr, _)| format!("array_agg({})", expr.replace("{qid}", qid).replace("{text}", text)))
            .collect();
        let sql = format!("SELECT {}{ASH_FROM}", columns.join(", "));
        let max_text = i32::try_from(max_text.max(16)).unwrap_or(i32::MAX);
        AshSampler { sql, has_query_id, max_text, commands: HashMap::new(), known: Vec::new() }
    }

    /// One tick at `ts_ms`: every session worth keeping, ours excluded.
    pub async fn tick(&mut self, conn: &mut PgConnection, ts_ms: i64) -> Result<AshTick, sqlx::Error> {
        let mut query = sqlx::query(&self.sql);
        if self.has_query_id {
            query = query.bind(&self.known).bind(self.max_text);
        }
        // An aggregate without GROUP BY always answers one row (of NULLs when nobody is active).
        let Some(row) = query.fetch_optional(conn).await? else {
            return Ok(AshTick { ts_ms, sessions: Vec::new() });
        };
        let mut c: [Elements<'_>; 15] = {
            let mut columns = Vec::with_capacity(COLUMNS.len());
            for (i, (_, oid)) in COLUMNS.iter().enumerate() {
                columns.push(Elements::of(&row, i, *oid)?);
            }
            columns.try_into().map_err(|_| sqlx::Error::Decode("ASH columns".into()))?
        };
        if c[0].is_empty() {
            return Ok(AshTick { ts_ms, sessions: Vec::new() });
        }
        let n = c[0].len();
        if c.iter().any(|e| e.len() != n) {
            return Err(sqlx::Error::Decode("ASH arrays of different lengths".into()));
        }
        let mut sessions = Vec::with_capacity(n);
        for _ in 0..n {
            let pid = c[0].opt_i32()?.unwrap_or_default();
            let backend_start_ms = c[1].opt_i64()?.unwrap_or(0);
            let state = c[2].str()?.to_owned();
            let wait_event_type = c[3].str()?.to_owned();
            let wait_event = c[4].str()?.to_owned();
            let blocking_pids = pids(c[5].str()?)?;
            let query_id = c[6].opt_i64()?.unwrap_or(0);
            let database = c[7].str()?.to_owned();
            let user = c[8].str()?.to_owned();
            let application = c[9].str()?.to_owned();
            let client = c[10].str()?.to_owned();
            let backend_type = c[11].str()?.to_owned();
            let query_start_ms = c[12].opt_i64()?;
            let xact_start_ms = c[13].opt_i64()?;
            let command = self.command(query_id, c[14].opt_str()?);
            sessions.push(AshSession {
                pid,
                backend_start_ms,
                state,
                wait_event_type,
                wait_event,
                blocking_pids,
                query_id,
                database,
                user,
                application,
                client,
                backend_type,
                command: command.to_owned(),
                query_start_ms,
                xact_start_ms,
            });
        }
        Ok(AshTick { ts_ms, sessions })
    }

    /// The command keyword: from the cache for a known query id, else from the text just read.
    fn command(&mut self, query_id: i64, text: Option<&str>) -> &'static str {
        if let Some(c) = self.commands.get(&query_id) {
            return c;
        }
        let Some(text) = text else { return "N/A" };
        let command = command_of(text);
        if self.has_query_id && query_id != 0 {
            if self.commands.len() >= MAX_CACHED_COMMANDS {
                self.commands.clear();
                self.known.clear();
            }
            self.commands.insert(query_id, command);
            self.known.push(query_id);
        }
        command
    }
}

/// `pg_blocking_pids()` joined by commas (empty for a session not waiting on a lock).
fn pids(list: &str) -> Result<Vec<i32>, sqlx::Error> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    list.split(',').map(|p| p.parse().map_err(|_| sqlx::Error::Decode(format!("blocking pid {p:?}").into()))).collect()
}

/// Keywords a statement can start with; anything else is `N/A`. Static so a session's command
/// costs no allocation beyond the `String` the model needs.
const COMMANDS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "WITH",
    "VALUES",
    "COPY",
    "CALL",
    "DO",
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "FETCH",
    "MOVE",
    "CLOSE",
    "DECLARE",
    "LISTEN",
    "NOTIFY",
    "UNLISTEN",
    "LOCK",
    "SET",
    "SHOW",
    "RESET",
    "DISCARD",
    "EXPLAIN",
    "ANALYZE",
    "VACUUM",
    "CLUSTER",
    "REINDEX",
    "CHECKPOINT",
    "TRUNCATE",
    "CREATE",
    "ALTER",
    "DROP",
    "GRANT",
    "REVOKE",
    "COMMENT",
    "REFRESH",
    "SECURITY",
    "IMPORT",
    "LOAD",
    "TABLE",
];

/// First keyword of a statement, skipping blanks, comments and opening parentheses.
pub fn command_of(text: &str) -> &'static str {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    let word = rest.split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    COMMANDS.iter().find(|k| k.eq_ignore_ascii_case(word)).copied().unwrap_or("N/A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_the_first_keyword() {
        assert_eq!(command_of("  select 1"), "SELECT");
        assert_eq!(command_of("/* app */ -- x\n UPDATE t SET a = 1"), "UPDATE");
        assert_eq!(command_of("(SELECT 1) UNION (SELECT 2)"), "SELECT");
        assert_eq!(command_of("frobnicate"), "N/A");
        assert_eq!(command_of(""), "N/A");
        assert_eq!(command_of("/* never closed"), "N/A");
    }

    #[test]
    fn commands_are_cached_by_query_id_and_text_is_asked_only_for_new_ids() {
        let mut s = AshSampler::new(150_000, 100);
        assert_eq!(s.command(7, Some("delete from t")), "DELETE");
        assert_eq!(s.known, [7]);
        // The tick query sends no text for a known id; the cache answers.
        assert_eq!(s.command(7, None), "DELETE");
        assert_eq!(s.command(8, None), "N/A");
        assert_eq!(s.command(0, Some("select 1")), "SELECT");
        assert_eq!(s.known, [7], "query_id 0 (unknown) is never cached");
    }

    #[test]
    fn blocking_pids_are_read_from_their_list() {
        assert_eq!(pids("").expect("empty"), Vec::<i32>::new());
        assert_eq!(pids("12,345").expect("two"), [12, 345]);
        assert!(pids("12,x").is_err());
    }

    #[test]
    fn every_column_is_aggregated_with_its_version_expressions() {
        let new = AshSampler::new(150_000, 100);
        assert_eq!(new.sql.matches("array_agg(").count(), COLUMNS.len());
        assert!(new.sql.contains("array_agg(coalesce(query_id, 0))") && new.sql.contains("ALL($1)"));
        let old = AshSampler::new(130_000, 100);
        assert!(old.sql.contains("array_agg(0::int8)") && !old.sql.contains('$') && !old.sql.contains('{'));
    }
}
