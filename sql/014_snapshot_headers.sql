-- The response headers a page came with (those that describe the resource: see records.KEPT_HEADERS), so that
-- `snapshots export` writes a WARC record with them and a replay answers as the site did. Null for pages
-- stored before this column: their export falls back to the Content-Type column.
ALTER TABLE page_snapshots ADD COLUMN headers jsonb;
