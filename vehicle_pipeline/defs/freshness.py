"""Freshness policies (Dagster 1.13's `FreshnessPolicy.time_window`): each asset is fresh within its schedule's
period plus a margin; past its period it shows WARN in the UI, past the period and a margin it is stale (FAIL), and
the alert sensor posts it (`defs/alerts.py`).

One table for both: the policies on the assets and the stale-asset alert read `WINDOWS`.
"""

from datetime import timedelta

import dagster as dg

MARGIN = timedelta(hours=1)

# asset → (the period it is scheduled at, why)
PERIODS: dict[str, timedelta] = {
    # active_auctions_every_6h
    "bat_listings": timedelta(hours=6),
    "carsandbids_listings": timedelta(hours=6),
    "mecum_listings": timedelta(hours=6),
    "broadarrow_listings": timedelta(hours=6),
    "craigslist_listings": timedelta(days=1),  # craigslist_daily
    "dealer_inventory": timedelta(hours=12),  # dealer_inventory_every_12h
    "classic_sellers": timedelta(hours=12),  # hourly through the 12-hour overnight window, none by day
    # drained every 5 minutes through the overnight window and on demand by the queue sensor; the daytime gap
    # is the longest a quiet queue leaves them
    "vehicle_profiles": timedelta(hours=12),
    "auction_outcomes": timedelta(hours=12),
    "pipeline_health": timedelta(hours=1),  # pipeline_health_hourly
}

WINDOWS: dict[str, timedelta] = {name: period + MARGIN for name, period in PERIODS.items()}


def freshness(asset: str) -> dg.FreshnessPolicy:
    """The asset's policy: WARN after its period, FAIL (stale) after its period and the margin."""
    return dg.FreshnessPolicy.time_window(fail_window=WINDOWS[asset], warn_window=PERIODS[asset])
