//! Active session history: one read of `pg_stat_activity` per tick (1 s or 10 s) turned into an
//! `AshTick`. This is the hot path (1,000 instances at 1 s), so a tick is one prepared query, no
//! query text except for query ids never seen before, and `pg_blocking_pids()` only for `Lock`
//! waits (it takes the lock manager's partition locks, too costly for every backend).

use std::collections::HashMap;

use sqlx::postgres::PgConnection;
use sqlx::Row;

use crate::model::{AshSession, AshTick};

/// Query ids whose command keyword is remembered; beyond it the cache starts over rather than
/// growing (and the array sent with every tick stays small).
const MAX_CACHED_COMMANDS: usize = 5_000;

/// Columns shared by every server version; `{qid}` and `{text}` differ (query_id exists since 14).
const ASH_SQL: &str = "SELECT pid, (extract(epoch FROM backend_start) * 1000)::int8, state, \
  coalesce(wait_event_type, CASE WHEN state = 'active' THEN 'CPU' ELSE '' END), coalesce(wait_event, ''), \
  CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) ELSE '{}'::int4[] END, {qid}, \
  coalesce(datname, ''), coalesce(usename, ''), coalesce(application_name, ''), \
  coalesce(host(client_addr), 'local'), coalesce(backend_type, ''), \
  (extract(epoch FROM query_start) * 1000)::int8, (extract(epoch FROM xact_start) * 1000)::int8, {text} \
  FROM pg_stat_activity \
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
        let sql = ASH_SQL.replace("{qid}", qid).replace("{text}", text);
        let max_text = i32::try_from(max_text.max(16)).unwrap_or(i32::MAX);
        AshSampler { sql, has_query_id, max_text, commands: HashMap::new(), known: Vec::new() }
    }

    /// One tick at `ts_ms`: every session worth keeping, ours excluded.
    pub async fn tick(&mut self, conn: &mut PgConnection, ts_ms: i64) -> Result<AshTick, sqlx::Error> {
        let mut query = sqlx::query(&self.sql);
        if self.has_query_id {
            query = query.bind(&self.known).bind(self.max_text);
        }
        let rows = query.fetch_all(conn).await?;
        let mut sessions = Vec::with_capacity(rows.len());
        for row in rows {
            let query_id: i64 = row.try_get(6)?;
            let text: Option<&str> = row.try_get(14)?;
            let command = self.command(query_id, text);
            sessions.push(AshSession {
                pid: row.try_get(0)?,
                backend_start_ms: row.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                state: row.try_get(2)?,
                wait_event_type: row.try_get(3)?,
                wait_event: row.try_get(4)?,
                blocking_pids: row.try_get(5)?,
                query_id,
                database: row.try_get(7)?,
                user: row.try_get(8)?,
                application: row.try_get(9)?,
                client: row.try_get(10)?,
                backend_type: row.try_get(11)?,
                command: command.to_string(),
                query_start_ms: row.try_get(12)?,
                xact_start_ms: row.try_get(13)?,
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
}
