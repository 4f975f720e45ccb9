-- The change feed (PostgreSQL's 0025) announces changes to the other members of a cluster.
-- SQLite is one process, never clustered: nothing to announce. Kept for equal numbering.
SELECT 1;
