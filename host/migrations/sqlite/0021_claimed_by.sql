-- Which cluster member claimed a row being sent (issue 13): a member starting again queues only
-- its own in-flight rows, and the leader queues again those of members that died. NULL on a
-- single host.
ALTER TABLE notification_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE report_runs ADD COLUMN claimed_by TEXT;
