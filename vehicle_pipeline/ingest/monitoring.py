"""Queue health in numbers: depth per queue, drain rate, and the alert rules (pure, testable)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEPTH_ALERT = 1000
MIN_DRAIN_PER_HOUR = 10
DRAINED_QUEUES = ("listing_import", "deep_extraction")


@dataclass
class QueueHealth:
    depth: dict[str, int] = field(default_factory=dict)  # pending per queue
    running: dict[str, int] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)
    done_last_hour: dict[str, int] = field(default_factory=dict)
    oldest_pending_secs: dict[str, float] = field(default_factory=dict)
    alerts: list[str] = field(default_factory=list)
    alert_keys: dict[str, str] = field(default_factory=dict)  # "queue_depth:<queue>" / "drain_rate:<queue>" → text

    @property
    def drainable(self) -> bool:
        return any(self.depth.get(q, 0) > 0 for q in DRAINED_QUEUES)

    def metadata(self) -> dict:
        out: dict = {}
        for q in sorted(set(self.depth) | set(self.dead)):
            out[f"{q}_pending"] = self.depth.get(q, 0)
            out[f"{q}_running"] = self.running.get(q, 0)
            out[f"{q}_dead"] = self.dead.get(q, 0)
            out[f"{q}_done_last_hour"] = self.done_last_hour.get(q, 0)
        out["total_pending"] = sum(self.depth.values())
        out["alerts"] = len(self.alerts)
        return out


def assess(stats_rows: list[dict], *, depth_limit: int = DEPTH_ALERT,
           min_rate: int = MIN_DRAIN_PER_HOUR) -> QueueHealth:
    """Fold `WorkQueue.stats()` rows into per-queue numbers and alerts.

    Alerts: a queue deeper than `depth_limit`; or a queue whose oldest pending item has waited over an
    hour while fewer than `min_rate` items finished in the last hour (the drain is stuck or too slow).
    Deferred items (waiting for a retry or a snooze) count as depth but not as stuck work.
    """
    health = QueueHealth()
    for row in stats_rows:
        q = row["queue"]
        health.depth[q] = health.depth.get(q, 0) + row["pending"]
        health.running[q] = health.running.get(q, 0) + row["running"]
        health.dead[q] = health.dead.get(q, 0) + row["dead"]
        health.done_last_hour[q] = health.done_last_hour.get(q, 0) + row["done_last_hour"]
        age = row.get("oldest_pending_secs") or 0.0
        if row["pending"] - row.get("deferred", 0) > 0:
            health.oldest_pending_secs[q] = max(health.oldest_pending_secs.get(q, 0.0), age)
    for q, depth in sorted(health.depth.items()):
        if depth > depth_limit:
            health.alert_keys[f"queue_depth:{q}"] = f"{q}: {depth} items pending (limit {depth_limit})"
        if health.oldest_pending_secs.get(q, 0) > 3600 and health.done_last_hour.get(q, 0) < min_rate:
            health.alert_keys[f"drain_rate:{q}"] = (f"{q}: drain rate {health.done_last_hour.get(q, 0)}/h below "
                                                    f"{min_rate}/h with work waiting "
                                                    f"{health.oldest_pending_secs[q] / 3600:.1f} h")
    health.alerts = list(health.alert_keys.values())
    return health
