"""Named jobs, one per kind of work, so the Runs list and the Overview timeline say what ran: an index walk of
one source, a drain, a repair backfill, the health figures. Schedules, sensors and the CLI (`launch`) launch
these jobs, never an ad-hoc selection (that would show as `__ephemeral_asset_job__`).

Every run carries `vehicle_pipeline/work` (index_walk, drain, repair, health) and, for one source's work,
`vehicle_pipeline/source`; Dagster adds the partition (`dagster/partition`), and drains requested by the queue
sensor carry their batch (`vehicle_pipeline/drain_batch`).
"""

import dagster as dg

from vehicle_pipeline.defs.assets.health import pipeline_health
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
WORK_TAG = "vehicle_pipeline/work"
SOURCE_TAG = "vehicle_pipeline/source"


def _walk_job(name: str, asset, source: str, description: str):
    return dg.define_asset_job(name, selection=[asset], tags={WORK_TAG: "index_walk", SOURCE_TAG: source},
                               description=description)


bat_walk_job = _walk_job("bat_index_walk", bat_listings, "bat",
                         "Walk Bring a Trailer's results and live board for a day; queue new or changed listings.")
carsandbids_walk_job = _walk_job("carsandbids_index_walk", carsandbids_listings, "carsandbids",
                                 "Walk Cars & Bids' closed and live auction lists for a day.")
mecum_walk_job = _walk_job("mecum_index_walk", mecum_listings, "mecum", "Walk Mecum's lot search for a day.")
broadarrow_walk_job = _walk_job("broadarrow_index_walk", broadarrow_listings, "broadarrow",
                                "Walk Broad Arrow's results and available lots for a day.")
auction_walk_jobs = [bat_walk_job, carsandbids_walk_job, mecum_walk_job, broadarrow_walk_job]
craigslist_job = _walk_job("craigslist_index_walk", craigslist_listings, "craigslist",
                           "Walk one Craigslist metro's cars & trucks by owner for a day.")
dealer_inventory_job = _walk_job("dealer_inventory_sync", dealer_inventory, "dealer",
                                 "Sync dealers' inventories (a range of dealer partitions per run).")
seller_discovery_job = _walk_job("seller_discovery", classic_sellers, "classic",
                                 "Discover and score dealers in classic.com's seller directory.")

drain_queues_job = dg.define_asset_job(
    "drain_queues", selection=[vehicle_profiles, auction_outcomes], tags={DRAIN_TAG: "all", WORK_TAG: "drain"},
    description="Drain the import and deep-extraction queues within each asset's time budget.")
import_drain_job = dg.define_asset_job(
    "import_drain", selection=[vehicle_profiles], tags={DRAIN_TAG: "listing_import", WORK_TAG: "drain"},
    description="Drain the import queue: fetch, keep and parse listing pages; store vehicle profiles.")
outcome_drain_job = dg.define_asset_job(
    "outcome_drain", selection=[auction_outcomes], tags={DRAIN_TAG: "deep_extraction", WORK_TAG: "drain"},
    description="Drain the deep-extraction queue: auction outcomes, bids and comments.")
bat_repairs_job = dg.define_asset_job(
    "bat_repairs_backfill", selection=[bat_repairs], tags={WORK_TAG: "repair", SOURCE_TAG: "bat"},
    description="Re-extract the BaT records of a range of months that break the repair rules.")
pipeline_health_job = dg.define_asset_job(
    "health_figures", selection=[pipeline_health], tags={WORK_TAG: "health"},
    description="The pipeline's health figures and the alert checks.")

# the job that launches each asset's work (`launch.materialize_all` runs these)
JOB_FOR_ASSET = {
    "bat_listings": bat_walk_job, "carsandbids_listings": carsandbids_walk_job, "mecum_listings": mecum_walk_job,
    "broadarrow_listings": broadarrow_walk_job, "craigslist_listings": craigslist_job,
    "dealer_inventory": dealer_inventory_job, "classic_sellers": seller_discovery_job,
    "vehicle_profiles": import_drain_job, "auction_outcomes": outcome_drain_job, "bat_repairs": bat_repairs_job,
    "pipeline_health": pipeline_health_job,
}

all_jobs = [*auction_walk_jobs, craigslist_job, dealer_inventory_job, seller_discovery_job, drain_queues_job,
            import_drain_job, outcome_drain_job, bat_repairs_job, pipeline_health_job]
