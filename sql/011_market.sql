-- What the clean data is for: market comps, repeat sales by VIN, saved searches and what they have posted.

-- One row per make, model family, year band, month and currency; rebuilt whole by the daily market_comps asset.
-- Sale figures come from sales only (sold, sold_after); what the market refused (the high bid where the reserve
-- was not met) and asking prices of classifieds and dealers sit beside them in columns of their own.
CREATE TABLE market_comps (
    make             text NOT NULL,
    family           text NOT NULL,
    year_band        text NOT NULL,                 -- "2005-2009"
    month            date NOT NULL,                 -- first day of the month (UTC) the auction ended / car was listed
    currency         char(3) NOT NULL,
    sold_count       integer NOT NULL CHECK (sold_count >= 0),
    sale_p25         numeric(14, 0),
    sale_median      numeric(14, 0),
    sale_p75         numeric(14, 0),
    ended_count      integer NOT NULL CHECK (ended_count >= 0),   -- auctions that ended, withdrawn left out
    sell_through     numeric(5, 4) CHECK (sell_through BETWEEN 0 AND 1),
    refused_count    integer NOT NULL CHECK (refused_count >= 0), -- bid_to: reserve not met
    refused_median   numeric(14, 0),
    asking_count     integer NOT NULL CHECK (asking_count >= 0),
    asking_median    numeric(14, 0),
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (make, family, year_band, month, currency),
    CHECK ((sold_count = 0) = (sale_median IS NULL))
);

-- A vehicle (valid VIN) sold more than once: each sale and the one before it, across sources.
CREATE TABLE repeat_sales (
    vehicle_id          bigint NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE,
    vin                 text NOT NULL,
    make                text NOT NULL,
    family              text NOT NULL,
    year_band           text NOT NULL,
    first_listing_id    bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    second_listing_id   bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    first_source        text NOT NULL,
    second_source       text NOT NULL,
    first_sold_at       timestamptz NOT NULL,
    second_sold_at      timestamptz NOT NULL,
    first_price         numeric(14, 0) NOT NULL,
    second_price        numeric(14, 0) NOT NULL,
    first_currency      char(3) NOT NULL,
    second_currency     char(3) NOT NULL,
    price_change        numeric(14, 0),             -- only when both sales are in one currency
    price_change_pct    numeric(9, 4),
    days_held           integer NOT NULL CHECK (days_held >= 0),
    computed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (first_listing_id, second_listing_id),
    CHECK ((price_change IS NULL) = (first_currency <> second_currency))
);
CREATE INDEX repeat_sales_comps ON repeat_sales (make, family, year_band);

-- Saved searches (`vehicle-pipeline watch add`).
CREATE TABLE saved_searches (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    make        text,
    model       text,
    year_min    integer,
    year_max    integer,
    max_price   numeric(14, 0) CHECK (max_price >= 0),
    sources     text[],                           -- NULL: every source
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- matches from this point on: a new watch does not post the whole history
    since_observation bigint NOT NULL DEFAULT 0,
    CHECK (year_min IS NULL OR year_max IS NULL OR year_min <= year_max)
);

-- What a saved search has posted: one row per (search, listing, event), written only after the webhook took it,
-- so a restart neither posts twice nor forgets a match that was never delivered.
CREATE TABLE saved_search_posts (
    search_id    bigint NOT NULL REFERENCES saved_searches (id) ON DELETE CASCADE,
    listing_id   bigint NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    event        text NOT NULL,                   -- "new", "price_drop:<price>", "result:<outcome>"
    posted_at    timestamptz NOT NULL DEFAULT now(),
    payload      jsonb NOT NULL,
    PRIMARY KEY (search_id, listing_id, event)
);
