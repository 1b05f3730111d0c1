-- When a listing was last re-extracted by a BaT repair, so the auto-queue does not pick the same record
-- every ten minutes when the page itself lacks the missing value.
ALTER TABLE listings ADD COLUMN repair_checked_at timestamptz;
CREATE INDEX auction_events_repair_scan ON auction_events (ended_at) WHERE source = 'bat';
