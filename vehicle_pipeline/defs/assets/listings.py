"""Source listing assets: walk each site's index pages, register listings, queue imports."""


import dagster as dg

from vehicle_pipeline.defs.freshness import freshness
from vehicle_pipeline.defs.partitions import craigslist_metro_day, daily, dealers
from vehicle_pipeline.defs.resources import PipelineSettingsResource, PostgresResource, SourceSitesResource, open_ingest
from vehicle_pipeline.ingest.discovery import discover_sellers, sync_dealer
from vehicle_pipeline.ingest.index import IndexWalk, walk_index

LISTINGS_GROUP = "sources"


def _materialize_walks(context: dg.AssetExecutionContext, walks: list[IndexWalk]) -> dg.MaterializeResult:
    totals = IndexWalk(source=",".join(w.source for w in walks))
    stated = [w.stated_total for w in walks if w.stated_total is not None]
    for w in walks:
        for name in ("pages", "found", "new", "changed", "already_known", "enqueued", "failed", "blocked"):
            setattr(totals, name, getattr(totals, name) + getattr(w, name))
        totals.seconds += w.seconds
        for error in w.errors:
            context.log.warning(error)
    metadata = {k: dg.MetadataValue.int(v) if isinstance(v, int) else v
                for k, v in totals.metadata().items() if v is not None and k != "stated_total"}
    metadata["seconds"] = dg.MetadataValue.float(float(totals.seconds))
    metadata["stated_total"] = dg.MetadataValue.int(sum(stated)) if stated else dg.MetadataValue.int(-1)
    if totals.pages == 0 and (totals.failed or totals.blocked):
        raise dg.Failure(f"no index page could be read: {'; '.join(e for w in walks for e in w.errors)[:1000]}",
                         metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


def _auction_listings_asset(source: str, walks: list[dict], doc: str):
    @dg.asset(
        name=f"{source}_listings",
        partitions_def=daily,
        freshness_policy=freshness(f"{source}_listings"),
        group_name=LISTINGS_GROUP,
        pool=f"site_{source}",
        op_tags={"vehicle_pipeline/source": source},
        kinds={"python", "postgres"},
        description=doc,
    )
    def _asset(context: dg.AssetExecutionContext, postgres: PostgresResource, sites: SourceSitesResource,
               settings: PipelineSettingsResource) -> dg.MaterializeResult:
        with open_ingest(context, postgres, sites, settings) as ingest:
            module = ingest.module(source)
            base = ingest.settings.base_url(source)
            results = [walk_index(ingest, source, module.index_url(base, **params)) for params in walks]
        return _materialize_walks(context, results)

    return _asset


bat_listings = _auction_listings_asset(
    "bat", [{"kind": "results"}, {"kind": "live"}],
    "Bring a Trailer auctions seen on the results pages and the live board for the day; new or changed "
    "listings are queued for import.")
carsandbids_listings = _auction_listings_asset(
    "carsandbids", [{"status": "closed"}, {"status": "new"}],
    "Cars & Bids auctions from the closed and live lists of its auctions API, queued for import when new.")
mecum_listings = _auction_listings_asset(
    "mecum", [{}], "Mecum lots from the lot search index, queued for import when new or changed.")
broadarrow_listings = _auction_listings_asset(
    "broadarrow", [{}, {"available": True}],
    "Broad Arrow lots from the results and available lists, queued for import when new or changed.")


@dg.asset(
    partitions_def=craigslist_metro_day,
    freshness_policy=freshness("craigslist_listings"),
    group_name=LISTINGS_GROUP,
    pool="site_craigslist",
    kinds={"python", "postgres"},
)
def craigslist_listings(context: dg.AssetExecutionContext, postgres: PostgresResource, sites: SourceSitesResource,
                        settings: PipelineSettingsResource) -> dg.MaterializeResult:
    """Craigslist cars & trucks by owner, one metro's search results per partition, queued for import."""
    keys = context.partition_key.keys_by_dimension
    metro = keys["metro"]
    with open_ingest(context, postgres, sites, settings) as ingest:
        source = f"craigslist:{metro}"
        ingest.registry.upsert(source, "classified", ingest.settings.base_url("craigslist"), config={"metro": metro})
        module = ingest.module("craigslist")
        walk = walk_index(ingest, source, module.index_url(ingest.settings.base_url("craigslist"), metro=metro))
    return _materialize_walks(context, [walk])


@dg.asset(
    partitions_def=dealers,
    freshness_policy=freshness("dealer_inventory"),
    group_name=LISTINGS_GROUP,
    pool="site_dealers",
    kinds={"python", "postgres"},
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=5),
)
def dealer_inventory(context: dg.AssetExecutionContext, postgres: PostgresResource, sites: SourceSitesResource,
                     settings: PipelineSettingsResource) -> dg.MaterializeResult:
    """Each dealer's current inventory (schema.org pages on its own site), one dealer per partition; a run
    may cover a range of dealers. Vehicles not seen before are queued for import."""
    walks = []
    with open_ingest(context, postgres, sites, settings) as ingest:
        for dealer in context.partition_keys:
            walks.append(sync_dealer(ingest, dealer))
    return _materialize_walks(context, walks)


@dg.asset(group_name=LISTINGS_GROUP, pool="site_classic", kinds={"python", "postgres"},
          freshness_policy=freshness("classic_sellers"))
def classic_sellers(context: dg.AssetExecutionContext, postgres: PostgresResource, sites: SourceSitesResource,
                    settings: PipelineSettingsResource) -> dg.MaterializeResult:
    """Dealers discovered in classic.com's seller directory, scored; each becomes a dealer source, enabled
    automatically at confidence ≥ 0.70 (the dealer discovery sensor then adds its partition)."""
    with open_ingest(context, postgres, sites, settings) as ingest:
        report = discover_sellers(ingest)
    for error in report.errors:
        context.log.warning(error)
    if report.pages == 0:
        raise dg.Failure("the seller directory could not be read: " + "; ".join(report.errors)[:1000])
    return dg.MaterializeResult(metadata={k: (dg.MetadataValue.float(v) if isinstance(v, float) else v)
                                          for k, v in report.metadata().items()})


listing_assets = [bat_listings, carsandbids_listings, mecum_listings, broadarrow_listings, craigslist_listings,
                  dealer_inventory, classic_sellers]
