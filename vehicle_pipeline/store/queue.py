"""The one work queue: listing imports, deep extractions, dealer inventory syncs, seller indexing, images.

Rows live in `work_items`. A claim is one statement: a CTE that picks `... ORDER BY priority DESC,
available_at, id LIMIT n FOR UPDATE SKIP LOCKED` over the partial index `work_items_claim` and marks the
rows running with a lease (`claim_token`, one per claim, and `lease_expires_at`). Every later write is fenced
by (id, token): a worker whose lease expired and whose item was taken over gets "refused", never a silent
overwrite.

Attempts are counted at claim time, so a poison item that kills its worker still runs out of attempts;
a snooze gives the attempt back.

The queue heals itself: a worker's claims take back items whose lease expired (`_rescue_if_due`, run by the
claiming process when due: at its first claim and then every `rescue_every`), so a killed worker's items
return with no sensor, schedule or janitor. A done item keeps the token that finished it, so a retried
completion whose first reply was lost reports success, and a worker whose lease was taken over still
gets "refused". Batch enqueues lock their keys in one order (sorted), so concurrent batches never
deadlock each other, and a deadlock with a claim is retried inside the call.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

import psycopg
from psycopg.types.json import Jsonb

from vehicle_pipeline.store.db import RETRYABLE, database_unavailable, describe_failure
from vehicle_pipeline.store.sources import held_off_sql, switched_off_sql

QUEUES = ("listing_import", "deep_extraction", "dealer_inventory", "seller_index", "image_fetch")

PRIORITY_USER = 200
PRIORITY_NEW = 100
PRIORITY_REPAIR = 75

DEFAULT_LEASE = timedelta(minutes=15)
DEFAULT_MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=6)
RETRY_JITTER = 0.20


DEFAULT_RESCUE_EVERY = timedelta(seconds=60)
ENQUEUE_TRIES = 8  # a deadlock with a claim is rare and short; after this many the caller hears of it


class QueueError(RuntimeError):
    """A queue operation failed in the database; `failure` names what happened ("deadlock", "lock timeout",
    "statement canceled ...", "pool timeout", "lost connection", ...: `store.db.describe_failure`)."""

    def __init__(self, message: str, failure: str):
        super().__init__(message)
        self.failure = failure


class QueueUnavailable(QueueError):
    """The database could not be reached or went away mid-operation (lost connection, pool timeout, server
    not accepting connections). Claimed items are safe: their leases expire and a claim takes them back."""


def _out_of_attempts(alias: str) -> str:
    """SQL: the item has used its last attempt (attempts are counted at claim time). The one statement of the
    rule in SQL; `ClaimedItem.is_last_attempt` reads the same numbers for a worker deciding what to keep."""
    return f"{alias}.attempts >= {alias}.max_attempts"


def retry_delay(attempt: int, rng: random.Random | None = None) -> timedelta:
    """Backoff after the n-th failed attempt: min(6 h, 5 min · 2^(n-1)) ± 20 %."""
    attempt = max(1, attempt)
    base = min(RETRY_CAP.total_seconds(), RETRY_BASE.total_seconds() * 2 ** (attempt - 1))
    factor = 1 + (rng or random).uniform(-RETRY_JITTER, RETRY_JITTER)
    return timedelta(seconds=base * factor)


@dataclass(frozen=True)
class NewItem:
    queue: str
    source: str
    dedupe_key: str
    payload: dict = field(default_factory=dict)
    priority: int = PRIORITY_NEW
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"unknown queue {self.queue!r}; known: {', '.join(QUEUES)}")


class EnqueueStatus(StrEnum):
    QUEUED = "queued"
    ALREADY_QUEUED = "already_queued"  # pending or running with the same key; priority unchanged
    PRIORITY_RAISED = "priority_raised"  # already queued; its priority was raised to the new one


@dataclass(frozen=True)
class EnqueueResult:
    id: int
    dedupe_key: str
    status: EnqueueStatus
    priority: int


class ClaimedItem(NamedTuple):
    """A leased item. A tuple because claims build thousands of them per second (a frozen dataclass
    costs several times more to construct)."""

    id: int
    queue: str
    source: str
    dedupe_key: str
    payload: dict
    priority: int
    attempts: int
    max_attempts: int
    claim_token: uuid.UUID
    lease_expires_at: datetime

    @property
    def is_last_attempt(self) -> bool:
        """A failure now makes the item dead (the rule `_out_of_attempts` states in SQL)."""
        return self.attempts >= self.max_attempts


@dataclass(frozen=True)
class FailResult:
    id: int
    accepted: bool  # False: fenced off, another worker owns the item now
    state: str | None = None  # "pending" (retry scheduled) or "dead"
    retry_at: datetime | None = None


@dataclass
class CompletionReport:
    accepted: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # lease lost: another worker took the item over


# The payload comes back as text and is parsed here: psycopg's jsonb loader (a Python call per value, bytes
# sniffed for their encoding) cost about four times as much per row. raw_decode also skips the trailing
# whitespace check, which Postgres's own output never needs.
_json_loads = json.JSONDecoder().raw_decode


def _claim_order(item: ClaimedItem) -> tuple[int, int]:
    return -item.priority, item.id


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# The claim: up to `low_n` items below `share_below` (the repairs' share), then the best `n - |low|` of the
# rest, each a `FOR UPDATE SKIP LOCKED` walk of the partial index work_items_claim in claim order. Only rows
# that are handed out get locked (a lock is a tuple write too). Items of blocked sources are parked
# (sources.py), out of the index's way; the NOT IN is the safety net for an item enqueued while its source
# changed state. It hashes the few blocked names once per walk, where NOT EXISTS probed the sources index for
# every row (probes of one hot page that contend between workers). Not `<> ALL (ARRAY(...))`, though: the
# planner estimates that from the column's statistics, and on a queue of one source it came out at 0 rows
# and chose a sequential scan and a sort of the whole table; a NOT IN subplan gets a fixed estimate.
# test_the_claim_walks_the_partial_index checks the plans, generic ones included.
#
# Each walk sits in a subquery with a constant LIMIT ({low_cap}, {top_cap}) under the LIMIT of the caller's
# numbers. The rows locked are the same (the outer LIMIT stops pulling), but the planner now has a row goal it
# can cost without knowing n: the prepared statement's generic plan costs what a custom plan costs, so
# Postgres keeps the generic plan instead of planning every claim again (~0.3 ms of ~1.3). With a LIMIT
# parameter alone it assumes 10 % of the table and re-plans every time. A claim bigger than the caps, or
# restricted to some sources, uses the caller's numbers as the inner LIMITs (planned per call, as before).
#
# One token per claim: (id, token) is still unique per lease, because a reclaimed item gets the next
# claim's token; generating, storing and returning 50 random tokens was about a tenth of a claim's execution.
# Sources whose work waits: switched off, disabled by failures, or in backoff.
_HELD_OFF_SOURCES = "SELECT name FROM sources WHERE " + held_off_sql()

_CLAIMABLE = """
        FROM work_items w
        WHERE queue = %(queue)s AND state = 'pending' AND available_at <= now(){source_filter}
          AND source NOT IN (""" + _HELD_OFF_SOURCES + ")"

_CLAIM_TEMPLATE = """
WITH {ctes}low AS (
    SELECT id FROM (
        SELECT id""" + _CLAIMABLE.replace("{source_filter}", "{low_source_filter}") + """
          AND priority < %(share_below)s::int
        ORDER BY priority DESC, available_at, id
        LIMIT {low_cap}
        FOR UPDATE SKIP LOCKED) walk
    LIMIT %(low_n)s::int
)
UPDATE work_items w
SET state = 'running',
    parked = false,
    claim_token = %(token)s,
    claimed_by = %(worker)s,
    lease_expires_at = now() + %(ttl)s::interval,
    attempts = w.attempts + 1,
    updated_at = now()
FROM (
    SELECT id FROM low
    UNION ALL
    SELECT id FROM (
        SELECT id FROM (
            SELECT id""" + _CLAIMABLE + """
              AND id NOT IN (SELECT id FROM low)
            ORDER BY priority DESC, available_at, id
            LIMIT {top_cap}
            FOR UPDATE SKIP LOCKED) walk
        LIMIT %(n)s::int - (SELECT count(*) FROM low)) top
) picked
WHERE w.id = picked.id
RETURNING w.id, w.source, w.dedupe_key, w.payload::text, w.priority, w.attempts, w.max_attempts, w.lease_expires_at
"""
_LOW_CAP, _TOP_CAP = 100, 500  # the generic plan's row goal is a tenth of these: 10 and 50, a default claim


def _claim_sql(source_filter: str, capped: bool, *, low_source_filter: str | None = None, ctes: str = "") -> str:
    """The claim with `source_filter` on its walks (`low_source_filter` on the low walk, when it differs)
    and `ctes` ("name AS (...),\n" each) ahead of them."""
    caps = {"low_cap": str(_LOW_CAP), "top_cap": str(_TOP_CAP)} if capped else \
        {"low_cap": "%(low_n)s::int", "top_cap": "%(n)s::int"}
    sql = _CLAIM_TEMPLATE.replace("{ctes}", ctes).replace("{source_filter}", source_filter)
    sql = sql.replace("{low_source_filter}", source_filter if low_source_filter is None else low_source_filter)
    return sql.replace("{low_cap}", caps["low_cap"]).replace("{top_cap}", caps["top_cap"])


_CLAIM_SQL = _claim_sql("", capped=True)
_CLAIM_BIG_SQL = _claim_sql("", capped=False)

# A claim restricted to some sources (a drain's share for one site) first reads each source's next items from
# work_items_claim_source, unlocked: `pool` of them, and `low_pool` below the share line for the low walk. The
# walks then lock from those candidates only, in claim order (`= ANY (ARRAY(...))` keeps the planner on the
# primary key). Walking work_items_claim with a filter on source, as before, stepped over every pending item
# of the other sites that came first: 60-100 ms a claim behind a 250,000-item BaT backlog, for each site of
# every batch. A pool holds twice what the claim takes from each source, so a claim beside another one on the
# same site still fills (the walks skip what the other has locked); beyond that it may come back short.
# Prepared like the other claims; test_the_claim_walks_the_partial_index checks its generic plan too.
_SOURCE_POOLS = """low_pool AS MATERIALIZED (
    SELECT next.id
    FROM unnest(%(sources)s::text[]) AS s(source)
    CROSS JOIN LATERAL (
        SELECT id FROM work_items
        WHERE queue = %(queue)s AND state = 'pending' AND source = s.source AND available_at <= now()
          AND priority < %(share_below)s::int
        ORDER BY priority DESC, available_at, id
        LIMIT %(low_pool)s::int) next
),
pool AS MATERIALIZED (
    SELECT next.id
    FROM unnest(%(sources)s::text[]) AS s(source)
    CROSS JOIN LATERAL (
        SELECT id FROM work_items
        WHERE queue = %(queue)s AND state = 'pending' AND source = s.source AND available_at <= now()
        ORDER BY priority DESC, available_at, id
        LIMIT %(pool)s::int) next
),
"""
_CLAIM_SOURCES_SQL = _claim_sql("\n          AND id = ANY (ARRAY(SELECT id FROM pool))", capped=False,
                                low_source_filter="\n          AND id = ANY (ARRAY(SELECT id FROM low_pool))",
                                ctes=_SOURCE_POOLS)

# The batch arrives sorted by (queue, dedupe_key) and is inserted in that order (ORDER BY its ordinality, whatever
# join the planner picks): every batch takes its keys' locks (the unique index entries, the rows an ON CONFLICT
# updates) in one order, so two batches over overlapping keys wait for each other instead of deadlocking.
_ENQUEUE_SQL = """
WITH incoming AS (
    SELECT * FROM unnest(%(queues)s::text[], %(sources)s::text[], %(keys)s::text[], %(payloads)b::jsonb[],
                         %(priorities)s::int[], %(max_attempts)s::int[]) WITH ORDINALITY
        AS t(queue, source, dedupe_key, payload, priority, max_attempts, ord)
)
INSERT INTO work_items AS w (queue, source, dedupe_key, payload, priority, max_attempts, available_at, parked)
SELECT i.queue, i.source, i.dedupe_key, i.payload, i.priority, i.max_attempts,
       -- new work for a source in backoff (or switched off) starts parked, out of the claims' way
       CASE WHEN """ + switched_off_sql("s") + """ THEN 'infinity'::timestamptz
            ELSE greatest(now(), coalesce(s.backoff_until, now())) END,
       coalesce(""" + held_off_sql("s") + """, false)
FROM incoming i LEFT JOIN sources s ON s.name = i.source
ORDER BY i.ord
ON CONFLICT (queue, dedupe_key) WHERE state IN ('pending', 'running')
DO UPDATE SET priority = excluded.priority, updated_at = now()
    WHERE w.priority < excluded.priority
RETURNING w.id, w.queue, w.dedupe_key, w.priority, (xmax = 0) AS inserted
"""


# The distinct sources by a skip scan of work_items_claim_source (one index probe per source, where a GROUP BY
# reads every pending item: 60 ms at 300,000), then each source's first due item in claim order.
_PENDING_SOURCES_SQL = """
WITH RECURSIVE pending(source) AS (
    SELECT min(source) FROM work_items WHERE queue = %(queue)s AND state = 'pending'
    UNION ALL
    SELECT (SELECT min(source) FROM work_items
            WHERE queue = %(queue)s AND state = 'pending' AND source > pending.source)
    FROM pending WHERE pending.source IS NOT NULL
)
SELECT pending.source
FROM pending CROSS JOIN LATERAL (
    SELECT priority, available_at FROM work_items
    WHERE queue = %(queue)s AND state = 'pending' AND source = pending.source AND available_at <= now()
    ORDER BY priority DESC, available_at, id
    LIMIT 1) first_due
WHERE (%(sources)s::text[] IS NULL OR pending.source = ANY (%(sources)s::text[]))
  AND pending.source NOT IN (""" + _HELD_OFF_SOURCES + """)
ORDER BY first_due.priority DESC, first_due.available_at, pending.source
"""


# Completion fenced by (id, token). The items of one claim share its token, so the usual batch sends one token
# and an id array; a batch mixing claims sends a token per item.
# A deep-extraction item's carried parse (~15 KB with a BaT page's comments) is dropped once done: what it said
# is in auction_events and auction_comments, and the page it came from is a snapshot.
# The done row keeps its claim token: a retried completion (its first reply lost) finds its own write there.
_COMPLETE_SET = """state = 'done', finished_at = now(), updated_at = now(), lease_expires_at = NULL,
    last_error = NULL, payload = CASE WHEN w.payload ? 'parsed' THEN w.payload - 'parsed' ELSE w.payload END"""

_COMPLETE_ONE_TOKEN_SQL = """
UPDATE work_items w
SET """ + _COMPLETE_SET + """
WHERE w.id = ANY (%s::bigint[]) AND w.claim_token = %s AND w.state = 'running'
RETURNING w.id
"""

_COMPLETE_SQL = """
UPDATE work_items w
SET """ + _COMPLETE_SET + """
FROM unnest(%s::bigint[], %s::uuid[]) AS t(id, token)
WHERE w.id = t.id AND w.claim_token = t.token AND w.state = 'running'
RETURNING w.id
"""

_COMPLETE_WITH_RESULTS_SQL = """
UPDATE work_items w
SET """ + _COMPLETE_SET + """, result = t.result
FROM unnest(%s::bigint[], %s::uuid[], %b::jsonb[]) AS t(id, token, result)
WHERE w.id = t.id AND w.claim_token = t.token AND w.state = 'running'
RETURNING w.id
"""


# Items of a completion that the fenced update refused but that are done under the very same token: an earlier
# try of this completion landed and its reply was lost (the connection went). Asked only when some were refused.
_ALREADY_DONE_SQL = """
SELECT w.id FROM unnest(%s::bigint[], %s::uuid[]) AS t(id, token)
JOIN work_items w ON w.id = t.id AND w.claim_token = t.token AND w.state = 'done'
"""

# Give a running item back: pending again, or dead when it has used its last attempt (counted at its claim, so
# an item that keeps killing its worker still runs out). The rescue of expired leases and the release of a
# failed run's items differ only in which items and why.
_GIVE_BACK_SQL = """
UPDATE work_items w
SET state = CASE WHEN """ + _out_of_attempts("w") + """ THEN 'dead' ELSE 'pending' END,
    finished_at = CASE WHEN """ + _out_of_attempts("w") + """ THEN now() END,
    last_error = {reason}, claim_token = NULL, lease_expires_at = NULL, updated_at = now()
WHERE w.state = 'running' AND {which}
RETURNING w.state
"""
_RESCUE_SQL = _GIVE_BACK_SQL.format(
    which="w.lease_expires_at < now()",
    reason="'lease expired (worker ' || coalesce(w.claimed_by, '?') || ' stopped or stalled)'")
_RELEASE_SQL = _GIVE_BACK_SQL.format(
    which="w.claimed_by = %s", reason="'released: worker ' || w.claimed_by || ' ended without finishing'")

# A failure consumes the attempt: a retry after its backoff, or dead (error kept) after the last attempt or on
# a permanent error.
_FAIL_SQL = """
UPDATE work_items w
SET state = CASE WHEN t.permanent OR """ + _out_of_attempts("w") + """ THEN 'dead' ELSE 'pending' END,
    available_at = CASE WHEN t.permanent OR """ + _out_of_attempts("w") + """ THEN w.available_at
                        ELSE now() + t.delay END,
    finished_at = CASE WHEN t.permanent OR """ + _out_of_attempts("w") + """ THEN now() END,
    last_error = t.error, claim_token = NULL, lease_expires_at = NULL, updated_at = now()
FROM unnest(%s::bigint[], %s::uuid[], %s::text[], %s::interval[], %s::bool[]) AS t(id, token, error, delay, permanent)
WHERE w.id = t.id AND w.claim_token = t.token AND w.state = 'running'
RETURNING w.id, w.state, w.available_at
"""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class WorkQueue:
    """Queue operations over a `store.db.Database` (a pool of autocommit connections)."""

    def __init__(self, db, *, worker_id: str | None = None, lease_ttl: timedelta = DEFAULT_LEASE,
                 rng: random.Random | None = None, rescue_every: timedelta = DEFAULT_RESCUE_EVERY):
        """`rescue_every`: how often this worker's claims look for expired leases to take back (its first
        claim always does). A look reads the table (no index serves leases: it would cost every claim an
        index entry per item), so it is not done on every claim; bench/rescue_bench.py has its cost."""
        self.db = db
        self.worker_id = worker_id or _worker_id()
        self.lease_ttl = lease_ttl
        self.rng = rng or random.Random()
        self.rescue_every = rescue_every.total_seconds()
        self._next_rescue = float("-inf")
        self._rescue_lock = threading.Lock()

    def _run(self, what: str, fn):
        """Run `fn(conn)` on a pooled connection; a database failure becomes a QueueError that names it."""
        try:
            with self.db.connection() as conn:
                return fn(conn)
        except psycopg.OperationalError as exc:
            failure = describe_failure(exc)
            if database_unavailable(exc):
                raise QueueUnavailable(f"queue {what}: {failure} ({_first_line(exc)}); claimed items return "
                                       "to the queue when their leases expire", failure) from exc
            raise QueueError(f"queue {what}: {failure} ({_first_line(exc)})", failure) from exc

    def _retrying(self, what: str, fn):
        """`_run`, with a deadlock or serialization failure run again after a short random pause (the
        statement was rolled back whole). Sorted batches never deadlock each other; a claim locks in claim
        order, so a batch and a claim over the same pending items still can, rarely."""
        for attempt in range(1, ENQUEUE_TRIES + 1):
            try:
                return self._run(what, fn)
            except QueueError as exc:
                if exc.failure not in RETRYABLE or attempt == ENQUEUE_TRIES:
                    raise
                time.sleep(self.rng.uniform(0.0, 0.02 * attempt))

    # -- enqueue -------------------------------------------------------------------------------
    def enqueue(self, item: NewItem) -> EnqueueResult:
        return self.enqueue_many([item])[0]

    def enqueue_many(self, items: Sequence[NewItem]) -> list[EnqueueResult]:
        """Idempotent: one live item per (queue, dedupe_key); a re-enqueue reports what happened."""
        if not items:
            return []
        # Within one batch the same key twice would make ON CONFLICT touch a row twice; keep the highest priority.
        unique: dict[tuple[str, str], NewItem] = {}
        for item in items:
            key = (item.queue, item.dedupe_key)
            if key not in unique or unique[key].priority < item.priority:
                unique[key] = item
        batch = [unique[key] for key in sorted(unique)]  # one lock order for every batch (see _ENQUEUE_SQL)
        params = {
            "queues": [i.queue for i in batch],
            "sources": [i.source for i in batch],
            "keys": [i.dedupe_key for i in batch],
            "payloads": [Jsonb(i.payload) for i in batch],
            "priorities": [i.priority for i in batch],
            "max_attempts": [i.max_attempts for i in batch],
        }

        def go(conn):
            rows = conn.execute(_ENQUEUE_SQL, params).fetchall()
            by_key = {(r[1], r[2]): r for r in rows}
            missing = [k for k in unique if k not in by_key]
            existing = {}
            if missing:
                for r in conn.execute(
                    """SELECT id, queue, dedupe_key, priority FROM work_items
                       WHERE state IN ('pending', 'running')
                         AND (queue, dedupe_key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                    ([k[0] for k in missing], [k[1] for k in missing]),
                ):
                    existing[(r[1], r[2])] = r
            return by_key, existing

        by_key, existing = self._retrying("enqueue", go)
        results = []
        for item in items:
            key = (item.queue, item.dedupe_key)
            if key in by_key:
                r = by_key[key]
                status = EnqueueStatus.QUEUED if r[4] else EnqueueStatus.PRIORITY_RAISED
                results.append(EnqueueResult(r[0], item.dedupe_key, status, r[3]))
            elif key in existing:
                r = existing[key]
                results.append(EnqueueResult(r[0], item.dedupe_key, EnqueueStatus.ALREADY_QUEUED, r[3]))
            else:  # finished between the insert and the lookup: enqueue again rather than lose it
                results.append(self.enqueue(item))
        return results

    # -- claim ---------------------------------------------------------------------------------
    def claim(self, queue: str, n: int, *, lease_ttl: timedelta | None = None, low_priority_share: float = 0.2,
              share_below: int = PRIORITY_NEW, sources: Sequence[str] | None = None) -> list[ClaimedItem]:
        """Claim up to n items. Up to `low_priority_share` of the batch is reserved for items below
        `share_below` (repairs), so a steady stream of new work never starves them."""
        if n <= 0:
            return []
        self._rescue_if_due()
        claim_sql, params = self.claim_statement(queue, n, lease_ttl=lease_ttl, low_priority_share=low_priority_share,
                                                 share_below=share_below, sources=sources)
        # Prepared at once rather than after psycopg's five runs: a worker's connection runs this statement
        # for as long as it lives, and Postgres still needs its own five custom plans before the generic one.
        rows = self._run("claim", lambda conn: conn.execute(claim_sql, params, prepare=True).fetchall())
        new, loads = tuple.__new__, _json_loads
        token = params["token"]
        items = [new(ClaimedItem, (r[0], queue, r[1], r[2], loads(r[3])[0], r[4], r[5], r[6], token, r[7]))
                 for r in rows]
        items.sort(key=_claim_order)
        return items

    def claim_statement(self, queue: str, n: int, *, lease_ttl: timedelta | None = None,
                        low_priority_share: float = 0.2, share_below: int = PRIORITY_NEW,
                        sources: Sequence[str] | None = None) -> tuple[str, dict]:
        """The claim's SQL and parameters (a fresh claim token each call)."""
        # rounded up, so that the small claims a batch spread over sites makes keep the share between them
        low_n = min(n, max(0, math.ceil(n * low_priority_share - 1e-9))) if n > 1 else 0
        params = {
            "queue": queue,
            "n": n,
            "low_n": low_n,
            "share_below": share_below,
            "token": uuid.uuid4(),
            "ttl": lease_ttl or self.lease_ttl,
            "worker": self.worker_id,
        }
        if sources is not None:
            params.update(sources=list(sources), pool=2 * n, low_pool=2 * low_n)
            return _CLAIM_SOURCES_SQL, params
        if n <= _TOP_CAP and low_n <= _LOW_CAP:
            return _CLAIM_SQL, params
        return _CLAIM_BIG_SQL, params

    def pending_sources(self, queue: str, sources: Sequence[str] | None = None) -> list[str]:
        """The sources with items of `queue` that a claim would take now (pending, due, source not held
        off), optionally among `sources`; most urgent first (by each one's first item in claim order)."""
        self._rescue_if_due()
        params = {"queue": queue, "sources": list(sources) if sources is not None else None}
        return self._run("pending sources", lambda conn: [r[0] for r in conn.execute(_PENDING_SOURCES_SQL, params)])

    def renew(self, items: Iterable[ClaimedItem], lease_ttl: timedelta | None = None) -> list[int]:
        """Extend leases of items still ours; returns the ids renewed."""
        items = list(items)
        if not items:
            return []
        return self._run("renew", lambda conn: [r[0] for r in conn.execute(
            """UPDATE work_items w SET lease_expires_at = now() + %s, updated_at = now()
               FROM unnest(%s::bigint[], %s::uuid[]) AS t(id, token)
               WHERE w.id = t.id AND w.claim_token = t.token AND w.state = 'running'
               RETURNING w.id""",
            (lease_ttl or self.lease_ttl, [i.id for i in items], [i.claim_token for i in items]),
        )])

    # -- finish --------------------------------------------------------------------------------
    def complete(self, item: ClaimedItem, result: dict | None = None) -> bool:
        """True if accepted; False if the lease was lost and another worker owns the item."""
        return item.id in self.complete_many([(item, result)]).accepted

    def complete_many(self, done: Sequence[tuple[ClaimedItem, dict | None]]) -> CompletionReport:
        report = CompletionReport()
        if not done:
            return report
        ids = [i.id for i, _ in done]
        if any(r is not None for _, r in done):
            tokens = [i.claim_token for i, _ in done]
            results = [Jsonb(r) if r is not None else None for _, r in done]
            sql, params = _COMPLETE_WITH_RESULTS_SQL, (ids, tokens, results)
        else:  # the common batch: no per-item result to store
            token = done[0][0].claim_token
            if all(i.claim_token is token or i.claim_token == token for i, _ in done):
                sql, params = _COMPLETE_ONE_TOKEN_SQL, (ids, token)
            else:
                sql, params = _COMPLETE_SQL, (ids, [i.claim_token for i, _ in done])
        accepted = self._run("complete",
                             lambda conn: {r[0] for r in conn.execute(sql, params, prepare=True).fetchall()})
        if len(accepted) < len(ids):  # refused, or done by an earlier try of this very completion
            others = [i for i, _ in done if i.id not in accepted]
            accepted |= self._run("complete", lambda conn: {r[0] for r in conn.execute(
                _ALREADY_DONE_SQL, ([i.id for i in others], [i.claim_token for i in others]))})
        report.accepted = [i for i in ids if i in accepted]
        report.refused = [i for i in ids if i not in accepted]
        return report

    def fail(self, item: ClaimedItem, error: str, *, permanent: bool = False) -> FailResult:
        """Consume the attempt: retry later with backoff, or dead after the last attempt (error kept)."""
        return self.fail_many([(item, error)], permanent=permanent)[0]

    def fail_many(self, failed: Sequence[tuple[ClaimedItem, str]], *, permanent: bool = False) -> list[FailResult]:
        if not failed:
            return []
        ids = [item.id for item, _ in failed]
        params = (ids, [item.claim_token for item, _ in failed], [error[:4000] for _, error in failed],
                  [retry_delay(item.attempts, self.rng) for item, _ in failed], [permanent] * len(failed))
        rows = self._run("fail", lambda conn: {r[0]: r for r in conn.execute(_FAIL_SQL, params)})
        out = []
        for item_id in ids:
            row = rows.get(item_id)
            if row is None:
                out.append(FailResult(item_id, accepted=False))
            else:
                out.append(FailResult(item_id, True, row[1], row[2] if row[1] == "pending" else None))
        return out

    def snooze(self, item: ClaimedItem, until: datetime | timedelta, reason: str, *, parked: bool = False) -> bool:
        """Defer without consuming an attempt (source in backoff, 429 with a long Retry-After). A parked item
        (its source is blocked) comes back early when the source recovers."""
        return item.id in self.snooze_many([item], until, reason, parked=parked)

    def snooze_many(self, items: Sequence[ClaimedItem], until: datetime | timedelta, reason: str, *,
                    parked: bool = False) -> list[int]:
        if not items:
            return []
        if isinstance(until, timedelta):
            when_sql, when = "now() + %s::interval", until
        else:
            when_sql, when = "%s::timestamptz", until
        return self._run("snooze", lambda conn: [r[0] for r in conn.execute(
            f"""UPDATE work_items w
                SET state = 'pending', available_at = {when_sql}, attempts = greatest(0, w.attempts - 1),
                    parked = %s,
                    last_error = %s, claim_token = NULL, lease_expires_at = NULL, updated_at = now()
                FROM unnest(%s::bigint[], %s::uuid[]) AS t(id, token)
                WHERE w.id = t.id AND w.claim_token = t.token AND w.state = 'running'
                RETURNING w.id""",
            (when, parked, "snoozed: " + reason, [i.id for i in items], [i.claim_token for i in items]),
        )])

    # -- healing -------------------------------------------------------------------------------
    def _rescue_if_due(self) -> None:
        """Take back expired leases when this worker's turn to look has come (its first claim, then every
        `rescue_every`). Run by claims and by `pending_sources` (a drain asks which sources have work before
        it claims: a queue whose only work sits under expired leases must answer "some")."""
        now = time.monotonic()
        if now < self._next_rescue or not self._rescue_lock.acquire(blocking=False):
            return
        try:
            self._next_rescue = now + self.rescue_every
            self.reap_expired()
        except QueueError as exc:
            if exc.failure not in RETRYABLE:
                raise
            self._next_rescue = now  # a deadlock with a late worker's write: look again at the next claim
        finally:
            self._rescue_lock.release()

    def reap_expired(self) -> dict[str, int]:
        """Take back every item whose lease expired: pending again, or dead when out of attempts. Claims do
        this themselves when due; no one needs to call it."""
        rows = self._run("rescue", lambda conn: conn.execute(_RESCUE_SQL).fetchall())
        return {"pending": sum(1 for r in rows if r[0] == "pending"), "dead": sum(1 for r in rows if r[0] == "dead")}

    def release_worker(self, worker_id: str) -> int:
        """Return every item a (failed, stopped) worker still holds, without waiting for its leases.
        The attempt stays counted, so an item that keeps killing its worker still runs out of attempts."""
        return len(self._run("release", lambda conn: conn.execute(_RELEASE_SQL, (worker_id,)).fetchall()))

    # -- maintenance ---------------------------------------------------------------------------
    def requeue_dead(self, queue: str | None = None, ids: Sequence[int] | None = None) -> int:
        """Give dead items a fresh set of attempts. A dead item whose key is live again is dropped instead."""
        def go(conn):
            with conn.transaction():
                conn.execute(
                    """DELETE FROM work_items d
                       WHERE d.state = 'dead' AND (%(queue)s::text IS NULL OR d.queue = %(queue)s)
                         AND (%(ids)s::bigint[] IS NULL OR d.id = ANY (%(ids)s))
                         AND EXISTS (SELECT 1 FROM work_items l WHERE l.queue = d.queue
                                     AND l.dedupe_key = d.dedupe_key AND l.state IN ('pending', 'running'))""",
                    {"queue": queue, "ids": list(ids) if ids is not None else None})
                # Two dead rows of one key: revive only the newest, or the unique live-key index would refuse.
                cur = conn.execute(
                    """UPDATE work_items w
                       SET state = 'pending', attempts = 0, available_at = now(), finished_at = NULL,
                           updated_at = now()
                       WHERE w.id IN (
                           SELECT DISTINCT ON (queue, dedupe_key) id FROM work_items
                           WHERE state = 'dead' AND (%(queue)s::text IS NULL OR queue = %(queue)s)
                             AND (%(ids)s::bigint[] IS NULL OR id = ANY (%(ids)s))
                           ORDER BY queue, dedupe_key, id DESC)""",
                    {"queue": queue, "ids": list(ids) if ids is not None else None})
                return cur.rowcount
        return self._run("requeue", go)

    def purge_finished(self, retention: timedelta = timedelta(days=1)) -> int:
        """Move done items older than `retention` out of the hot table into work_items_history."""
        return self._run("purge", lambda conn: conn.execute(
            """WITH moved AS (
                   DELETE FROM work_items WHERE state = 'done' AND finished_at < now() - %s
                   RETURNING id, queue, source, dedupe_key, payload, priority, attempts, result, created_at, finished_at)
               INSERT INTO work_items_history SELECT * FROM moved ON CONFLICT (id) DO NOTHING""",
            (retention,)).rowcount)

    def stats(self) -> list[dict]:
        """Per queue and source: pending (available now / later), running, dead, oldest pending age, done last hour."""
        def go(conn):
            cur = conn.execute(
                """SELECT queue, source,
                          count(*) FILTER (WHERE state = 'pending') AS pending,
                          count(*) FILTER (WHERE state = 'pending' AND available_at > now()) AS deferred,
                          count(*) FILTER (WHERE state = 'running') AS running,
                          count(*) FILTER (WHERE state = 'dead') AS dead,
                          extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending'))::float8
                              AS oldest_pending_secs,
                          count(*) FILTER (WHERE state = 'done' AND finished_at > now() - interval '1 hour')
                              AS done_last_hour
                   FROM work_items GROUP BY queue, source ORDER BY queue, source""")
            cols = [c.name for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]
        return self._run("stats", go)

    def record_depth_snapshot(self) -> list[dict]:
        rows = self.stats()
        def go(conn):
            with conn.cursor() as cur:
                cur.executemany(
                    """INSERT INTO queue_depth_snapshots
                       (queue, source, pending, running, dead, oldest_pending_secs, done_last_hour)
                       VALUES (%(queue)s, %(source)s, %(pending)s, %(running)s, %(dead)s,
                               %(oldest_pending_secs)s, %(done_last_hour)s)""", rows)
        self._run("snapshot", go)
        return rows
