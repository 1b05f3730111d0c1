-- Retention of the logs that grow without bound, and a currency for saved searches' price bound.

-- The retention delete (store/retention.py) takes page_parses older than the window in batches. Rows arrive in
-- time order, so a BRIN index finds the old ones for next to no cost on each insert (as work_item_events_at).
CREATE INDEX page_parses_at ON page_parses USING brin (parsed_at);

-- A price bound is an amount in a currency: a search compares only listings priced in its currency and never
-- converts. Searches saved before this had no currency and meant dollars.
ALTER TABLE saved_searches ADD COLUMN max_price_currency char(3) CHECK (max_price_currency ~ '^[A-Z]{3}$');
UPDATE saved_searches SET max_price_currency = 'USD' WHERE max_price IS NOT NULL;
ALTER TABLE saved_searches ADD CONSTRAINT saved_searches_price_has_currency
    CHECK ((max_price IS NULL) = (max_price_currency IS NULL));
