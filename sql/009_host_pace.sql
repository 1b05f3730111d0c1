-- The per-host politeness budget shared by every process and machine that fetches (store/pace.py).
-- A host is held by one fetch at a time (`holder`, until `held_until`, so a crashed holder frees the host
-- by itself), and the next fetch may start at `next_slot_at`: the holder's finish plus the host's pace.
-- One row per host (origin, and the source family where one origin stands in for several sites); rows are
-- tiny and few, updated in place.
CREATE TABLE host_pace (
    host_key     text PRIMARY KEY,
    holder       uuid,
    held_until   timestamptz NOT NULL DEFAULT '-infinity',
    next_slot_at timestamptz NOT NULL DEFAULT '-infinity'
) WITH (fillfactor = 50);
