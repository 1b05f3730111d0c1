-- Drains claim a site at a time (ingest.drain.SourceRotation). Through work_items_claim alone, a claim for a
-- site whose items sit behind another site's walks every entry ahead of them: 60 ms behind 300,000 items, and
-- growing with the queue. Per (queue, source) in claim order, it reads just its own.
CREATE INDEX work_items_claim_source ON work_items (queue, source, priority DESC, available_at, id) WHERE state = 'pending';
