"""Source rows and their health: consecutive failures, exponential backoff 2 h … 32 h, recovery on success.

Three consecutive failures or block signals put a source in backoff at level 1 (2 h). A failure while the
source is still recovering (level > 0, no success since) raises the level at once: 4, 8, 16, 32 h (cap),
each ±10 %. One success resets everything to level 0. A discovered dealer source that keeps failing at the
cap (three probes) is auto-disabled; enabling it by hand clears that and the failure count, so a
re-enabled source is really tried again (the old pipeline's trap). Core sources are never auto-disabled:
they keep probing every 32 h.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg.types.json import Jsonb

FAILURE_THRESHOLD = 3
BACKOFF_BASE = timedelta(hours=2)
BACKOFF_MAX_LEVEL = 5  # 2, 4, 8, 16, 32 h
BACKOFF_JITTER = 0.10
CAP_STRIKES_TO_DISABLE = 3
AUTO_ENABLE_CONFIDENCE = 0.70
SOURCE_KINDS = ("auction", "classified", "dealer", "directory")


def switched_off_sql(alias: str = "") -> str:
    """SQL that is true for a source switched off: disabled by hand or automatically (the one statement of
    that rule; `alias` is the sources table's alias in the query)."""
    col = f"{alias}." if alias else ""
    return f"(NOT {col}enabled OR {col}auto_disabled)"


def held_off_sql(alias: str = "") -> str:
    """SQL that is true for a source whose work waits: switched off, or in backoff (the one statement of
    that rule: claims skip such a source's items, and new work for it starts parked)."""
    col = f"{alias}." if alias else ""
    return f"({switched_off_sql(alias)} OR {col}backoff_until > now())"


def backoff_duration(level: int, rng: random.Random | None = None) -> timedelta:
    level = min(max(level, 1), BACKOFF_MAX_LEVEL)
    base = BACKOFF_BASE.total_seconds() * 2 ** (level - 1)
    return timedelta(seconds=base * (1 + (rng or random).uniform(-BACKOFF_JITTER, BACKOFF_JITTER)))


@dataclass(frozen=True)
class SourceHealth:
    name: str
    kind: str
    base_url: str | None
    enabled: bool
    auto_disabled: bool
    confidence: float
    consecutive_failures: int
    backoff_level: int
    backoff_until: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None

    @property
    def in_backoff(self) -> bool:
        from datetime import timezone

        return self.backoff_until is not None and self.backoff_until > datetime.now(timezone.utc)


_COLUMNS = ("name, kind, base_url, enabled, auto_disabled, confidence::float8, consecutive_failures, backoff_level, "
            "backoff_until, last_success_at, last_failure_at, last_error")


def _park(conn, source: str, until) -> None:
    conn.execute(
        """UPDATE work_items SET available_at = %(until)s::timestamptz, parked = true, updated_at = now()
           WHERE source = %(source)s AND state = 'pending' AND available_at < %(until)s::timestamptz""",
        {"source": source, "until": until})


def _unpark(conn, source: str) -> None:
    conn.execute(
        """UPDATE work_items SET available_at = now(), parked = false, updated_at = now()
           WHERE source = %s AND state = 'pending' AND parked""", (source,))


class UnknownSource(KeyError):
    pass


class SourceRegistry:
    """Source rows over a `store.db.Database`. Also the HTTP client's health reporter."""

    # A fetch succeeds hundreds of times a second on a fast site; one write per source in this window says
    # the same as one per fetch (a failure recorded here clears it, so a recovery is written at once).
    SUCCESS_WRITE_INTERVAL = 2.0

    def __init__(self, db, rng: random.Random | None = None):
        self.db = db
        self.rng = rng or random.Random()
        self._success_written: dict[str, float] = {}

    def upsert(self, name: str, kind: str, base_url: str | None = None, *, confidence: float = 1.0,
               config: dict | None = None, discovered: bool = False) -> SourceHealth:
        """Create or update a source. A discovered source is enabled only at confidence ≥ 0.70, and a
        rescore never re-enables a source someone disabled by hand."""
        if kind not in SOURCE_KINDS:
            raise ValueError(f"source kind must be one of {SOURCE_KINDS}, not {kind!r}")
        enabled = confidence >= AUTO_ENABLE_CONFIDENCE if discovered else True
        with self.db.connection() as conn:
            row = conn.execute(
                f"""INSERT INTO sources (name, kind, base_url, confidence, enabled, config)
                    VALUES (%(name)s, %(kind)s, %(base_url)s, %(confidence)s, %(enabled)s, %(config)s)
                    ON CONFLICT (name) DO UPDATE SET
                        kind = excluded.kind,
                        base_url = coalesce(excluded.base_url, sources.base_url),
                        confidence = excluded.confidence,
                        config = sources.config || excluded.config,
                        enabled = CASE WHEN %(discovered)s AND NOT sources.enabled
                                            AND sources.config->>'disabled_by' IS DISTINCT FROM 'hand'
                                       THEN excluded.enabled ELSE sources.enabled END,
                        updated_at = now()
                    RETURNING {_COLUMNS}""",
                {"name": name, "kind": kind, "base_url": base_url, "confidence": confidence,
                 "enabled": enabled, "config": Jsonb(config or {}), "discovered": discovered},
            ).fetchone()
        return SourceHealth(*row)

    def get(self, name: str) -> SourceHealth:
        with self.db.connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM sources WHERE name = %s", (name,)).fetchone()
        if row is None:
            raise UnknownSource(name)
        return SourceHealth(*row)

    def list(self) -> list[SourceHealth]:
        with self.db.connection() as conn:
            return [SourceHealth(*r) for r in conn.execute(f"SELECT {_COLUMNS} FROM sources ORDER BY name")]

    def set_enabled(self, name: str, enabled: bool) -> SourceHealth:
        """By hand. Enabling clears an automatic disable, the failure count and any backoff."""
        with self.db.connection() as conn, conn.transaction():
            if enabled:
                _unpark(conn, name)
                row = conn.execute(
                    f"""UPDATE sources SET enabled = true, auto_disabled = false, consecutive_failures = 0,
                            backoff_level = 0, backoff_until = NULL, cap_strikes = 0,
                            config = config - 'disabled_by', updated_at = now()
                        WHERE name = %s RETURNING {_COLUMNS}""", (name,)).fetchone()
            else:
                _park(conn, name, "infinity")
                row = conn.execute(
                    f"""UPDATE sources SET enabled = false, config = config || '{{"disabled_by": "hand"}}',
                            updated_at = now()
                        WHERE name = %s RETURNING {_COLUMNS}""", (name,)).fetchone()
        if row is None:
            raise UnknownSource(name)
        return SourceHealth(*row)

    # -- health (the HTTP client's HealthReporter protocol) --------------------------------------
    def record_success(self, source: str) -> None:
        now = time.monotonic()
        if now - self._success_written.get(source, -1e9) < self.SUCCESS_WRITE_INTERVAL:
            return
        self._success_written[source] = now
        with self.db.connection() as conn:
            row = conn.execute(
                """UPDATE sources s SET consecutive_failures = 0, backoff_level = 0, backoff_until = NULL,
                       cap_strikes = 0, last_success_at = now(), updated_at = now()
                   FROM (SELECT backoff_level, backoff_until FROM sources WHERE name = %(name)s FOR UPDATE) old
                   WHERE s.name = %(name)s
                     AND (s.consecutive_failures > 0 OR s.backoff_level > 0 OR s.backoff_until IS NOT NULL
                          OR s.last_success_at IS NULL OR s.last_success_at < now() - interval '1 minute')
                   RETURNING old.backoff_level > 0 OR old.backoff_until IS NOT NULL""",
                {"name": source}).fetchone()
            if row and row[0] and not self._is_off(conn, source):
                _unpark(conn, source)

    @staticmethod
    def _is_off(conn, source: str) -> bool:
        row = conn.execute(f"SELECT {switched_off_sql()} FROM sources WHERE name = %s", (source,)).fetchone()
        return bool(row and row[0])

    def record_failure(self, source: str, *, blocked: bool, reason: str) -> SourceHealth | None:
        """Count a failure; on the threshold (or while recovering) raise the backoff level."""
        label = ("blocked: " if blocked else "failed: ") + reason
        self._success_written.pop(source, None)
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                """SELECT consecutive_failures, backoff_level, backoff_until, cap_strikes, kind
                   FROM sources WHERE name = %s FOR UPDATE""", (source,)).fetchone()
            if row is None:
                return None
            failures, level, until, strikes, kind = row
            failures += 1
            # In-flight requests failing while a backoff already runs don't escalate it again; the first
            # failure after the window (the probe) does.
            escalate = not self._in_window(until) and (failures >= FAILURE_THRESHOLD or level > 0)
            new_until = until
            if escalate:
                if level >= BACKOFF_MAX_LEVEL:
                    strikes += 1
                level = min(level + 1, BACKOFF_MAX_LEVEL)
                new_until = datetime.now().astimezone() + backoff_duration(level, self.rng)
                failures = 0
            auto_disable = kind == "dealer" and strikes >= CAP_STRIKES_TO_DISABLE
            if escalate:
                _park(conn, source, "infinity" if auto_disable else new_until)
            out = conn.execute(
                f"""UPDATE sources SET consecutive_failures = %s, backoff_level = %s, backoff_until = %s,
                        cap_strikes = %s, auto_disabled = auto_disabled OR %s, last_failure_at = now(),
                        last_error = %s, updated_at = now()
                    WHERE name = %s RETURNING {_COLUMNS}""",
                (failures, level, new_until, strikes, auto_disable, label[:2000], source)).fetchone()
        return SourceHealth(*out)

    @staticmethod
    def _in_window(until: datetime | None) -> bool:
        """Failures reported while a backoff is already running (in-flight requests) don't escalate again."""
        return until is not None and until > datetime.now().astimezone()

    def enabled_dealers(self) -> list[str]:
        """Dealer sources to sync: enabled and not automatically disabled."""
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute(
                f"SELECT name FROM sources WHERE kind = 'dealer' AND NOT {switched_off_sql()} ORDER BY name")]

    def blocked_sources(self) -> list[str]:
        with self.db.connection() as conn:
            return [r[0] for r in conn.execute(
                f"SELECT name FROM sources WHERE {held_off_sql()} ORDER BY name")]
