-- The per-host politeness budget shared by every process and machine that fetches (store/pace.py).
-- A host is held by one fetch at a time (`holder`, until `held_until`, so a crashed holder frees the host
-- by itself), and the next fetch may start at `next_slot_at`: the holder's finish plus the host's pace.
-- One row per host (origin, and the source family where one origin stands in for several sites); rows are
-- tiny and few, updated in place.
-- UNLOGGED: every paced fetch writes here twice, and a commit that waits for its WAL flush cost ~7 ms of each
-- fetch's path on the bench machine (bench/RESULTS.md, polite_bench). A crash empties the table, which only
-- forgets holds and slots a few seconds old; standbys do not carry it (after a failover the pace starts over).
CREATE UNLOGGED TABLE host_pace (
    host_key     text PRIMARY KEY,
    holder       uuid,
    held_until   timestamptz NOT NULL DEFAULT '-infinity',
    next_slot_at timestamptz NOT NULL DEFAULT '-infinity'
) WITH (fillfactor = 50);
