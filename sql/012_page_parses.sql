-- How each fetched page's parse went: read by its source's parser ('parsed'), only by the generic structured-data
-- reader ('fallback'), or not at all ('failed'). A source's rising share of failed or fallback parses is markup
-- drift (the listings assets' parse_drift checks, pipeline health); the failed pages' snapshots are the ones to
-- replay once the parser is fixed.
CREATE TABLE page_parses (
    id               bigserial PRIMARY KEY,
    source           text NOT NULL,                 -- "bat", "craigslist:sfbay", "dealer:sunset-classics"
    parsed_at        timestamptz NOT NULL DEFAULT now(),
    page_kind        text NOT NULL CHECK (page_kind IN ('listing', 'index')),
    result           text NOT NULL CHECK (result IN ('parsed', 'fallback', 'failed')),
    snapshot_sha256  bytea REFERENCES page_snapshots (sha256),
    url              text,
    error            text,                          -- why a failed page could not be read
    CHECK ((result = 'failed') = (error IS NOT NULL))
);
CREATE INDEX page_parses_source_time ON page_parses (source, parsed_at);
-- the pages to replay: failed and fallback parses only, a small share of all
CREATE INDEX page_parses_unread ON page_parses (parsed_at) WHERE result <> 'parsed';
