-- Whether a member samples instances (`[sampler] enabled`): instance leases are placed only on
-- members that do, so a member started without a sampler never holds an instance unsampled.
ALTER TABLE hosts ADD COLUMN samples BOOLEAN NOT NULL DEFAULT TRUE;
