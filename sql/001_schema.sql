-- Domain schema of vehicle_pipeline. Money is numeric with an ISO currency column, times are timestamptz (UTC),
-- enumerations are CHECK constraints so a bad value fails loudly at the row that carries it.

CREATE TABLE sources (
    name                  text PRIMARY KEY,            -- "bat", "craigslist:sfbay", "dealer:sunset-classics"
    kind                  text NOT NULL CHECK (kind IN ('auction', 'classified', 'dealer', 'directory')),
    base_url              text,
    enabled               boolean NOT NULL DEFAULT true,
    auto_disabled         boolean NOT NULL DEFAULT false,
    confidence            numeric(4, 3) NOT NULL DEFAULT 1.0 CHECK (confidence >= 0 AND confidence <= 1),
    consecutive_failures  integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    backoff_level         integer NOT NULL DEFAULT 0 CHECK (backoff_level BETWEEN 0 AND 5),
    backoff_until         timestamptz,
    cap_strikes           integer NOT NULL DEFAULT 0,  -- failed probes while already at the 32 h cap
    last_success_at       timestamptz,
    last_failure_at       timestamptz,
    last_error            text,
    config                jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE page_snapshots (
    sha256        bytea PRIMARY KEY CHECK (length(sha256) = 32),
    url           text NOT NULL,
    fetched_at    timestamptz NOT NULL DEFAULT now(),
    http_status   integer NOT NULL,
    content_type  text,
    size_bytes    integer NOT NULL,
    compression   text NOT NULL DEFAULT 'zlib' CHECK (compression IN ('zlib', 'none')),
    body          bytea NOT NULL
);
CREATE INDEX page_snapshots_url ON page_snapshots (url, fetched_at DESC);

CREATE TABLE vehicles (
    id              bigserial PRIMARY KEY,
    vin             text,
    vin_state       text CHECK (vin_state IN ('valid', 'bad_check_digit', 'not_applicable')),
    year            integer CHECK (year BETWEEN 1880 AND 2100),
    make            text,
    model           text,
    trim            text,
    mileage         integer CHECK (mileage >= 0),
    mileage_unit    text CHECK (mileage_unit IN ('mi', 'km')),
    exterior_color  text,
    interior_color  text,
    transmission    text,
    drivetrain      text,
    engine          text,
    body_style      text,
    location        text,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((vin IS NULL) = (vin_state IS NULL))
);
-- One vehicle per valid VIN across sources; a bad-check-digit VIN is flagged and never merged blindly.
CREATE UNIQUE INDEX vehicles_valid_vin ON vehicles (vin) WHERE vin_state = 'valid';
CREATE INDEX vehicles_vin ON vehicles (vin);

CREATE TABLE listings (
    id                bigserial PRIMARY KEY,
    source            text NOT NULL REFERENCES sources (name) ON UPDATE CASCADE,
    external_id       text NOT NULL,
    url               text NOT NULL,
    title             text,
    status            text NOT NULL DEFAULT 'discovered'
                      CHECK (status IN ('discovered', 'active', 'ended', 'gone', 'unparseable')),
    vehicle_id        bigint REFERENCES vehicles (id),
    asking_price      numeric(14, 0) CHECK (asking_price >= 0),
    currency          char(3),
    seller            text,
    location          text,
    mileage           integer,
    mileage_unit      text CHECK (mileage_unit IN ('mi', 'km')),
    etag              text,
    last_modified     text,
    last_snapshot     bytea REFERENCES page_snapshots (sha256),
    parsed            jsonb,                         -- the latest parse contract, for audits and repairs
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_fetched_at   timestamptz,
    UNIQUE (source, external_id)
);
CREATE INDEX listings_vehicle ON listings (vehicle_id);
CREATE INDEX listings_url ON listings (url);

CREATE TABLE vehicle_images (
    id           bigserial PRIMARY KEY,
    vehicle_id   bigint REFERENCES vehicles (id),
    listing_id   bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    url          text NOT NULL,
    position     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (listing_id, url)
);

CREATE TABLE auction_events (
    id                bigserial PRIMARY KEY,
    listing_id        bigint NOT NULL UNIQUE REFERENCES listings (id) ON DELETE CASCADE,
    vehicle_id        bigint REFERENCES vehicles (id),
    source            text NOT NULL,
    outcome           text NOT NULL
                      CHECK (outcome IN ('sold', 'sold_after', 'bid_to', 'no_sale', 'withdrawn', 'live', 'unknown')),
    sale_price        numeric(14, 0) CHECK (sale_price >= 0),
    high_bid          numeric(14, 0) CHECK (high_bid >= 0),
    currency          char(3),
    bid_count         integer CHECK (bid_count >= 0),
    comment_count     integer CHECK (comment_count >= 0),
    view_count        integer,
    watcher_count     integer,
    no_reserve        boolean,
    ended_at          timestamptz,
    lot_number        text,
    seller            text,
    buyer             text,
    evidence          text,                          -- the element or JSON field that decided the outcome
    snapshot_sha256   bytea REFERENCES page_snapshots (sha256),
    extracted_at      timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- "Bid to $89,500" must never become a sale price.
    CONSTRAINT sale_price_only_on_sale CHECK (sale_price IS NULL OR outcome IN ('sold', 'sold_after')),
    CONSTRAINT money_has_currency CHECK ((sale_price IS NULL AND high_bid IS NULL) OR currency IS NOT NULL)
);
CREATE INDEX auction_events_ended ON auction_events (source, ended_at);
CREATE INDEX auction_events_vehicle ON auction_events (vehicle_id);

CREATE TABLE auction_comments (
    id            bigserial PRIMARY KEY,
    listing_id    bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    external_id   text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('comment', 'bid', 'system')),
    author        text,
    posted_at     timestamptz,
    body          text,
    amount        numeric(14, 0),
    currency      char(3),
    UNIQUE (listing_id, external_id),
    CHECK (amount IS NULL OR kind IN ('bid', 'system'))
);

CREATE TABLE listing_observations (
    id               bigserial PRIMARY KEY,
    listing_id       bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    observed_at      timestamptz NOT NULL DEFAULT now(),
    snapshot_sha256  bytea REFERENCES page_snapshots (sha256),
    status           text,
    outcome          text,
    price            numeric(14, 0),                 -- asking price, sale price or high bid, whichever the page states
    currency         char(3),
    bid_count        integer,
    ended_at         timestamptz
);
CREATE INDEX listing_observations_listing ON listing_observations (listing_id, observed_at DESC);

-- One queue implementation for every kind of work.
CREATE TABLE work_items (
    id                bigserial PRIMARY KEY,
    queue             text NOT NULL CHECK (queue IN ('listing_import', 'deep_extraction', 'dealer_inventory',
                                                     'seller_index', 'image_fetch')),
    source            text NOT NULL,
    dedupe_key        text NOT NULL,
    payload           jsonb NOT NULL DEFAULT '{}'::jsonb,
    priority          integer NOT NULL DEFAULT 100,
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    available_at      timestamptz NOT NULL DEFAULT now(),
    claim_token       uuid,
    claimed_by        text,
    lease_expires_at  timestamptz,
    last_error        text,
    result            jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    CHECK ((state = 'running') = (claim_token IS NOT NULL AND lease_expires_at IS NOT NULL))
) WITH (
    -- A queue is all updates and deletes: vacuum early and leave room on each page for updated tuples.
    fillfactor = 70,
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 20000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0
);
CREATE INDEX work_items_claim ON work_items (queue, priority DESC, available_at, id) WHERE state = 'pending';
CREATE UNIQUE INDEX work_items_live_key ON work_items (queue, dedupe_key) WHERE state IN ('pending', 'running');
CREATE INDEX work_items_lease ON work_items (lease_expires_at) WHERE state = 'running';
CREATE INDEX work_items_finished ON work_items (finished_at) WHERE state = 'done';
CREATE INDEX work_items_dead ON work_items (queue) WHERE state = 'dead';

-- Finished items leave the hot table after the retention period.
CREATE TABLE work_items_history (
    id            bigint PRIMARY KEY,
    queue         text NOT NULL,
    source        text NOT NULL,
    dedupe_key    text NOT NULL,
    payload       jsonb NOT NULL,
    priority      integer NOT NULL,
    attempts      integer NOT NULL,
    result        jsonb,
    created_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL
);
CREATE INDEX work_items_history_finished ON work_items_history (queue, finished_at);

CREATE TABLE queue_depth_snapshots (
    id                   bigserial PRIMARY KEY,
    taken_at             timestamptz NOT NULL DEFAULT now(),
    queue                text NOT NULL,
    source               text NOT NULL,
    pending              integer NOT NULL,
    running              integer NOT NULL,
    dead                 integer NOT NULL,
    oldest_pending_secs  double precision,
    done_last_hour       integer NOT NULL
);
CREATE INDEX queue_depth_snapshots_taken ON queue_depth_snapshots (taken_at);
