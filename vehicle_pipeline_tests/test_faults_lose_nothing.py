"""Every injected fault leaves every queued item done, retried, snoozed or dead with its reason: never
stuck running, never silently dropped, never a wrong record. Real sockets against the sample site."""

from collections import Counter

import pytest

from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline_tests.conftest import sample_settings
from vehicle_pipeline.ingest.imports import drain_imports
from vehicle_pipeline.ingest.index import walk_index
from vehicle_pipeline.ingest.outcomes import drain_outcomes

FAULTS = [
    ("bat:429:rate=0.5:retry_after=7200:on=listing", {"snoozed"}),       # beyond the in-request wait: snooze
    ("bat:429:rate=0.5:retry_after=1:on=listing", {"done"}),            # honoured in-request, then ok
    ("bat:503:burst=2:on=listing", {"done"}),                           # bounded in-request retries absorb it
    ("bat:503:burst=3:on=listing", {"done", "retried"}),                # ...but only two retries, then later
    ("bat:500:rate=0.5:attempts=all:on=listing", {"retried"}),          # persistent: the item retries later
    ("bat:truncate:rate=0.5:attempts=all:on=listing", {"retried"}),
    ("bat:challenge:vendor=datadome:rate=0.5:on=listing", {"snoozed"}),  # block signal: source health, snooze
    ("bat:gone:code=410:rate=0.5", {"gone"}),
    ("bat:gone:code=404:rate=0.5", {"gone"}),
    ("bat:redirect_loop:rate=0.5:on=listing", {"retried"}),
    ("bat:redirect_private:rate=0.5:on=listing", {"retried"}),
    ("bat:oversize:mb=11:rate=0.3:on=listing", {"retried"}),
    ("bat:markup_change", {"retried"}),                                  # unknown markup: parse error, recorded
    ("bat:markup_change:mode=legacy", {"done"}),                         # an older real layout still parses
    ("bat:slow:seconds=0.3:rate=0.3:on=listing", {"done"}),
]


def _final_states(db) -> list[tuple]:
    with db.connection() as conn:
        return conn.execute(
            """SELECT w.dedupe_key, w.state, w.last_error, w.attempts, l.status
               FROM work_items w JOIN listings l ON l.id = (w.payload->>'listing_id')::bigint
               WHERE w.queue = 'listing_import'""").fetchall()


@pytest.mark.parametrize("spec, expected_kinds", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_never_loses_an_item(db, sample_site, truth, spec, expected_kinds):
    settings = sample_settings(sample_site, time_budget_seconds=60)
    with Ingest(db, settings, worker_id="fault-test") as ingest:
        ingest.ensure_sources()
        module = ingest.module("bat")
        new = sum(walk_index(ingest, "bat", module.index_url(settings.base_url("bat"), kind=kind)).new
                  for kind in ("results", "live"))
        expected = {l["external_id"] for l in truth["listings"] if l["source"] == "bat"}
        assert new == len(expected)
        sample_site.set_faults(spec)
        try:
            report = drain_imports(ingest)
            drain_outcomes(ingest)
        finally:
            sample_site.set_faults(None)
    rows = _final_states(db)
    assert {r[0] for r in rows} == {f"bat:{e}" for e in expected}, "every listing is accounted for"
    kinds = Counter()
    for key, state, error, attempts, listing_status in rows:
        assert state in ("done", "pending", "dead"), (key, state)
        if state == "done":
            kinds["gone" if listing_status == "gone" else "done"] += 1
        elif error and error.startswith("snoozed: "):
            kinds["snoozed"] += 1
            assert attempts == 0, "a snooze gives the attempt back"
        else:
            assert error, f"{key}: a retried or dead item keeps its reason"
            kinds["retried" if state == "pending" else "dead"] += 1
    assert report.refused == 0
    assert expected_kinds <= set(kinds), (spec, dict(kinds), report.errors[:3])
    if expected_kinds == {"done"}:
        assert set(kinds) == {"done"}, (spec, dict(kinds), report.errors[:3])
    # a faulty page never becomes a record: no sale price without a sale, no listing marked parsed from junk
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM auction_events WHERE sale_price IS NOT NULL "
                            "AND outcome NOT IN ('sold', 'sold_after')").fetchone()[0] == 0
