-- Twin of the PostgreSQL migration 0023, which partitions ash_chunks, ash_rollups and
-- statement_deltas by time range so retention drops whole partitions. SQLite has no table
-- partitioning, and a single-file database never holds a thousand instances' year: retention
-- here stays DELETE (Store::purge_activity), and the tables stay as they are. The statement
-- below only keeps the migration numbers of both backends in step.
SELECT 1;
