"""The per-host politeness budget in Postgres, shared by every drain run, process and machine.

The HTTP client paces each host inside one process (its lanes); this ledger makes the pace hold across
processes (`http.PaceLedger`). A host is *held* by one fetch at a time anywhere, and the next fetch may start
only at the holder's finish plus the host's pace, the rule each process's lane applies to itself:

- `reserve(host, gap)` is one statement: when the host is free and its next slot has come, this caller
  holds it (for at most `hold_seconds`, or `gap` if longer, so a holder that crashed frees the host by
  itself) and 0.0 comes back; otherwise the seconds to wait before asking again: until the next slot, or,
  while another fetch holds the host, until that fetch could have finished at the earliest.
- `release(host, gap)` ends the hold and puts the next slot `gap` after now (a fetch slower than its hold
  still pushes the slot after its finish).

Why a hold rather than only a slot pushed by the pace (`next_slot_at += gap` on each reservation): slots in
the database's clock are kept exactly, but a process that wakes late for its slot (a busy core, the GIL)
would start its request closer to the next process's than the pace; measured at the site, gaps dipped
below the pace by the lateness. Holding the host until the finish makes every gap the site sees at least
the pace plus the previous request's duration, whatever the processes' lateness, at the cost of one more
round trip per fetch.

Times are the database server's (`statement_timestamp()`, one value per statement), so the machines'
clocks never meet; the waits returned are durations. No Dagster here.
"""

from __future__ import annotations

import threading
import uuid

from vehicle_pipeline.store.db import Database

DEFAULT_HOLD_SECONDS = 10.0  # a fetch longer than this lets the next one start (its start is still `gap` old)
MIN_POLL_SECONDS = 0.02  # while a fetch elsewhere holds the host past its earliest finish

_RESERVE = """
INSERT INTO host_pace AS h (host_key, holder, held_until, next_slot_at)
VALUES (%(key)s, %(token)s, statement_timestamp() + make_interval(secs => %(hold)s),
        statement_timestamp() + make_interval(secs => %(gap)s))
ON CONFLICT (host_key) DO UPDATE SET
    holder = CASE WHEN h.next_slot_at <= statement_timestamp() AND h.held_until <= statement_timestamp()
                  THEN excluded.holder ELSE h.holder END,
    held_until = CASE WHEN h.next_slot_at <= statement_timestamp() AND h.held_until <= statement_timestamp()
                      THEN excluded.held_until ELSE h.held_until END,
    next_slot_at = CASE WHEN h.next_slot_at <= statement_timestamp() AND h.held_until <= statement_timestamp()
                        THEN excluded.next_slot_at ELSE h.next_slot_at END
RETURNING h.holder = %(token)s,
          extract(epoch FROM h.next_slot_at - statement_timestamp())::float8,
          extract(epoch FROM h.held_until - statement_timestamp())::float8
"""

# Whoever holds the host now, the next slot moves to `gap` after this finish; only our own hold is ended.
_RELEASE = """
UPDATE host_pace SET
    next_slot_at = greatest(next_slot_at, statement_timestamp() + make_interval(secs => %(gap)s)),
    held_until = CASE WHEN holder = %(token)s THEN statement_timestamp() ELSE held_until END,
    holder = CASE WHEN holder = %(token)s THEN NULL ELSE holder END
WHERE host_key = %(key)s
"""


class HostPaceLedger:
    """`http.PaceLedger` on the `host_pace` table. Thread-safe (the HTTP client calls it from a thread pool)."""

    def __init__(self, db: Database, *, hold_seconds: float = DEFAULT_HOLD_SECONDS):
        if hold_seconds <= 0:
            raise ValueError("hold_seconds must be positive")
        self.db = db
        self.hold_seconds = hold_seconds
        self._held: dict[str, uuid.UUID] = {}  # host key → the token of this process's hold
        self._lock = threading.Lock()

    def reserve(self, host_key: str, gap: float) -> float:
        """0.0 when the caller now holds `host_key` (it must `release` it after its request), else the seconds
        to wait before asking again. `gap` is the host's pace (its longest delay)."""
        gap = max(0.0, float(gap))
        token = uuid.uuid4()
        with self.db.connection() as conn:
            granted, to_slot, to_free = conn.execute(
                _RESERVE, {"key": host_key, "token": token, "gap": gap, "hold": max(self.hold_seconds, gap)}
            ).fetchone()
        if granted:
            with self._lock:
                self._held[host_key] = token
            return 0.0
        if to_free > 0:  # another fetch holds it: ask again when it could have finished, or when the hold ends
            return min(to_free, max(to_slot, MIN_POLL_SECONDS))
        return max(to_slot, MIN_POLL_SECONDS)

    def release(self, host_key: str, gap: float) -> None:
        """End this process's hold on `host_key`; the next fetch from anywhere waits `gap` from now."""
        with self._lock:
            token = self._held.pop(host_key, None)
        with self.db.connection() as conn:
            conn.execute(_RELEASE, {"key": host_key, "token": token, "gap": max(0.0, float(gap))})


__all__ = ["DEFAULT_HOLD_SECONDS", "HostPaceLedger"]
