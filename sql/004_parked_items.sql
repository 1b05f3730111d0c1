-- Items of a source in backoff (or disabled) are parked: their available_at moves to the end of the
-- backoff, so claims never wade through them in the claim index. A success or a manual enable unparks them.
ALTER TABLE work_items ADD COLUMN parked boolean NOT NULL DEFAULT false;
CREATE INDEX work_items_parked ON work_items (source) WHERE state = 'pending' AND parked;
