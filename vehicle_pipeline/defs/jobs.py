"""Asset jobs: what schedules and sensors launch."""

import dagster as dg

from vehicle_pipeline.defs.assets.listings import (
    bat_listings,
    broadarrow_listings,
    carsandbids_listings,
    classic_sellers,
    craigslist_listings,
    dealer_inventory,
    mecum_listings,
)
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, bat_repairs, vehicle_profiles

DRAIN_TAG = "vehicle_pipeline/drain"

drain_queues_job = dg.define_asset_job(
    "drain_queues", selection=[vehicle_profiles, auction_outcomes], tags={DRAIN_TAG: "all"},
    description="Drain the import and deep-extraction queues within each asset's time budget.")
auction_listings_job = dg.define_asset_job(
    "auction_listings", selection=[bat_listings, carsandbids_listings, mecum_listings, broadarrow_listings],
    description="Walk the auction sites' results and live boards for a day.")
craigslist_job = dg.define_asset_job("craigslist_listings_daily", selection=[craigslist_listings])
dealer_inventory_job = dg.define_asset_job("dealer_inventory_sync", selection=[dealer_inventory])
seller_discovery_job = dg.define_asset_job("seller_discovery", selection=[classic_sellers])
bat_repairs_job = dg.define_asset_job("bat_repairs_backfill", selection=[bat_repairs])

all_jobs = [drain_queues_job, auction_listings_job, craigslist_job, dealer_inventory_job, seller_discovery_job,
            bat_repairs_job]
