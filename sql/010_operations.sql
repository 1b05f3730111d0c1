-- Operations: correlation ids from discovery to the rows written, every work item's history as events, when a
-- source's backoff began, and the alert states that make a webhook post once per change.
--
-- Written as triggers so the queue's own statements stay as they are: each claim, completion, failure, snooze,
-- release and requeue is recorded by the database, whichever code path made it (as procrastinate keeps its
-- job events with triggers on its jobs table).

-- A listing's correlation id is made when an index walk first registers it; every work item about the listing
-- (import, deep extraction, repair, images) carries it, and the rows written hang off the listing.
ALTER TABLE listings ADD COLUMN correlation_id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE INDEX listings_correlation ON listings (correlation_id);

-- No index on it: every index on work_items costs an entry on each state change (see 005). Lookups go through
-- work_item_events, which is indexed.
ALTER TABLE work_items ADD COLUMN correlation_id uuid NOT NULL DEFAULT gen_random_uuid();

-- An item takes the correlation id its payload names, else its listing's, else a new one.
CREATE FUNCTION work_items_correlate() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    given uuid;
BEGIN
    IF NEW.payload ? 'correlation_id' THEN
        BEGIN
            given := (NEW.payload ->> 'correlation_id')::uuid;
        EXCEPTION WHEN invalid_text_representation THEN
            given := NULL;  -- not a uuid: the item gets its own
        END;
    END IF;
    IF given IS NULL AND NEW.payload ? 'listing_id' AND jsonb_typeof(NEW.payload -> 'listing_id') = 'number' THEN
        SELECT l.correlation_id INTO given FROM listings l WHERE l.id = (NEW.payload ->> 'listing_id')::bigint;
    END IF;
    NEW.correlation_id := coalesce(given, NEW.correlation_id);
    RETURN NEW;
END $$;
CREATE TRIGGER work_items_correlate BEFORE INSERT ON work_items
    FOR EACH ROW EXECUTE FUNCTION work_items_correlate();

-- Every state change of a work item. `worker` is the claimant ("run:<dagster run id>" for a Dagster run) or,
-- for `queued`, the walk that found it (payload `found_by`).
-- Written on every queue statement, so it carries as few B-tree indexes as its readers need: no primary key
-- (`id` orders events; nothing looks one up by it), a BRIN index on `at` (events arrive in time order) for the
-- health figures' windows and the retention delete, and the two look-ups `trace` makes.
CREATE TABLE work_item_events (
    id              bigserial NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    item_id         bigint NOT NULL,
    correlation_id  uuid NOT NULL,
    queue           text NOT NULL,
    source          text NOT NULL,
    event           text NOT NULL CHECK (event IN ('queued', 'claimed', 'done', 'retry', 'dead', 'snoozed',
                                                   'lease_expired', 'released', 'requeued', 'reset')),
    attempt         integer,
    worker          text,
    error           text,
    result          jsonb
);
CREATE INDEX work_item_events_item ON work_item_events (item_id, id);
CREATE INDEX work_item_events_correlation ON work_item_events (correlation_id, id);
CREATE INDEX work_item_events_at ON work_item_events USING brin (at);

-- Statement-level with transition tables: one INSERT ... SELECT per queue statement (a claim of 50 items writes
-- its 50 events in one go), not a trigger call per row.
CREATE FUNCTION work_items_log_inserts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO work_item_events (item_id, correlation_id, queue, source, event, attempt, worker)
    SELECT n.id, n.correlation_id, n.queue, n.source, 'queued', n.attempts, n.payload ->> 'found_by'
    FROM new_rows n
    ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER work_items_log_inserts AFTER INSERT ON work_items
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION work_items_log_inserts();

CREATE FUNCTION work_items_log_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO work_item_events (item_id, correlation_id, queue, source, event, attempt, worker, error, result)
    SELECT n.id, n.correlation_id, n.queue, n.source, e.event,
           CASE WHEN o.state = 'running' THEN o.attempts ELSE n.attempts END,
           coalesce(n.claimed_by, o.claimed_by),
           CASE WHEN e.event IN ('retry', 'dead', 'snoozed', 'lease_expired', 'released') THEN n.last_error END,
           CASE WHEN e.event = 'done' THEN n.result END
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    CROSS JOIN LATERAL (SELECT CASE
        WHEN n.state = 'running' THEN 'claimed'
        WHEN n.state = 'done' THEN 'done'
        WHEN o.state = 'dead' THEN 'requeued'
        WHEN n.state = 'dead' AND n.last_error LIKE 'lease expired%' THEN 'lease_expired'
        WHEN n.state = 'dead' AND n.last_error LIKE 'released:%' THEN 'released'
        WHEN n.state = 'dead' THEN 'dead'
        WHEN n.last_error LIKE 'snoozed:%' THEN 'snoozed'
        WHEN n.last_error LIKE 'lease expired%' THEN 'lease_expired'
        WHEN n.last_error LIKE 'released:%' THEN 'released'
        WHEN o.state = 'running' THEN 'retry'
        ELSE 'reset' END AS event) e
    -- a state change, or a running item claimed again under a new token (a lease taken over)
    WHERE n.state IS DISTINCT FROM o.state
       OR (n.state = 'running' AND n.claim_token IS DISTINCT FROM o.claim_token)
    ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER work_items_log_updates AFTER UPDATE ON work_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION work_items_log_updates();

-- When a source's current backoff began (its first escalation since its last success), so an alert can say a
-- source has been held off for longer than it should.
ALTER TABLE sources ADD COLUMN backoff_since timestamptz;
CREATE FUNCTION sources_backoff_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.backoff_level = 0 AND NEW.backoff_until IS NULL THEN
        NEW.backoff_since := NULL;
    ELSIF NEW.backoff_since IS NULL THEN
        NEW.backoff_since := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sources_backoff_since BEFORE UPDATE OF backoff_level, backoff_until ON sources
    FOR EACH ROW EXECUTE FUNCTION sources_backoff_since();

-- One row per alert that has ever fired. `posted` is the state last delivered to the webhook ('firing' or
-- 'resolved'), so a restart posts nothing again and a failed post is tried at the next evaluation.
CREATE TABLE alert_states (
    key          text PRIMARY KEY,            -- "queue_depth:listing_import", "run_failed:drain_queues", …
    kind         text NOT NULL,
    active       boolean NOT NULL,
    message      text NOT NULL,
    since        timestamptz NOT NULL DEFAULT now(),   -- when it last started or cleared
    posted       text CHECK (posted IN ('firing', 'resolved')),
    posted_at    timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
