"""Source health: backoff levels 2→32 h with jitter, reset on success, manual enable, discovered sources."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from vehicle_pipeline.store.sources import SourceRegistry, backoff_duration


def _hours_until(health) -> float:
    return (health.backoff_until - datetime.now(timezone.utc)).total_seconds() / 3600


def _expire_backoff(db, name):
    with db.connection() as conn:
        conn.execute("UPDATE sources SET backoff_until = now() - interval '1 second' WHERE name = %s", (name,))


def test_backoff_duration_levels_and_cap():
    rng = random.Random(5)
    for level, hours in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 32), (9, 32)]:
        for _ in range(30):
            h = backoff_duration(level, rng).total_seconds() / 3600
            assert hours * 0.9 - 1e-9 <= h <= hours * 1.1 + 1e-9


def test_three_failures_then_escalation_to_the_cap_and_reset_on_success(db):
    registry = SourceRegistry(db, rng=random.Random(1))
    registry.upsert("bat", "auction", "https://bringatrailer.com")
    assert registry.record_failure("bat", blocked=True, reason="HTTP 403").backoff_level == 0
    assert registry.record_failure("bat", blocked=False, reason="timeout").backoff_level == 0
    health = registry.record_failure("bat", blocked=True, reason="challenge page (cloudflare)")
    assert health.backoff_level == 1 and 1.8 <= _hours_until(health) <= 2.2
    assert health.last_error == "blocked: challenge page (cloudflare)"
    # failures of requests already in flight don't escalate a running backoff
    assert registry.record_failure("bat", blocked=True, reason="HTTP 429").backoff_level == 1
    expected = {2: 4, 3: 8, 4: 16, 5: 32, 6: 32}
    for step in range(2, 7):
        _expire_backoff(db, "bat")
        health = registry.record_failure("bat", blocked=True, reason="HTTP 429")  # the probe after the window
        assert health.backoff_level == min(step, 5)
        assert expected[step] * 0.9 - 0.01 <= _hours_until(health) <= expected[step] * 1.1 + 0.01
    assert registry.get("bat").in_backoff
    assert registry.blocked_sources() == ["bat"]
    registry.record_success("bat")
    health = registry.get("bat")
    assert (health.backoff_level, health.consecutive_failures, health.backoff_until) == (0, 0, None)
    assert not health.auto_disabled, "core sources are never auto-disabled"
    assert registry.blocked_sources() == []


def test_dealer_source_auto_disabled_at_the_cap_and_manual_enable_clears_it(db):
    registry = SourceRegistry(db, rng=random.Random(2))
    registry.upsert("dealer:flaky", "dealer", "https://flaky.example", confidence=0.9, discovered=True)
    for _ in range(3):
        registry.record_failure("dealer:flaky", blocked=False, reason="HTTP 500")
    for _ in range(7):  # up to level 5, then three strikes at the cap
        _expire_backoff(db, "dealer:flaky")
        health = registry.record_failure("dealer:flaky", blocked=False, reason="HTTP 500")
    assert health.auto_disabled and health.backoff_level == 5
    _expire_backoff(db, "dealer:flaky")
    assert "dealer:flaky" in registry.blocked_sources(), "auto-disabled sources stay off after the window"
    health = registry.set_enabled("dealer:flaky", True)
    assert health.enabled and not health.auto_disabled
    assert (health.consecutive_failures, health.backoff_level, health.backoff_until) == (0, 0, None)
    assert registry.blocked_sources() == []
    # re-enabled means really tried again: one failure is not an immediate backoff
    assert registry.record_failure("dealer:flaky", blocked=False, reason="HTTP 500").backoff_level == 0


def test_discovered_sources_enable_at_confidence_070_and_hand_disable_sticks(db):
    registry = SourceRegistry(db)
    assert registry.upsert("dealer:low", "dealer", confidence=0.69, discovered=True).enabled is False
    assert registry.upsert("dealer:high", "dealer", confidence=0.70, discovered=True).enabled is True
    assert registry.upsert("dealer:low", "dealer", confidence=0.85, discovered=True).enabled is True, "rescored"
    registry.set_enabled("dealer:high", False)
    assert registry.upsert("dealer:high", "dealer", confidence=0.95, discovered=True).enabled is False
    with pytest.raises(ValueError):
        registry.upsert("x", "bogus")


def test_a_burst_of_successes_is_one_write_and_a_failure_makes_the_next_success_count_at_once(db):
    registry = SourceRegistry(db)
    registry.upsert("bat", "auction", "https://bringatrailer.com")
    registry.record_success("bat")
    with db.connection() as conn:  # as if that write were long ago: any further write would move it
        conn.execute("UPDATE sources SET last_success_at = '2020-01-01Z' WHERE name = 'bat'")
    for _ in range(50):
        registry.record_success("bat")
    assert registry.get("bat").last_success_at.year == 2020, "successes within the interval are not written"
    registry.record_failure("bat", blocked=False, reason="timeout")
    assert registry.get("bat").consecutive_failures == 1
    registry.record_success("bat")
    health = registry.get("bat")
    assert health.consecutive_failures == 0 and health.last_success_at.year > 2020, "a failure ends the interval"
