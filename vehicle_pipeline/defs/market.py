"""What the clean data is for: the daily market comps (with repeat sales) and the saved-search sensor.

Thin glue: the computation is vehicle_pipeline.market (pandas over the database), the posting is
market.watches through notify.post_webhook.
"""

import dagster as dg

from vehicle_pipeline.defs.assets.profiles import auction_outcomes, vehicle_profiles
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.defs.automation import SCHEDULE_STATUS, SENSOR_STATUS
from vehicle_pipeline.defs.schedules import TIMEZONE
from vehicle_pipeline.market.comps import latest_medians, markdown_table, refresh_market
from vehicle_pipeline.market.watches import WatchCursor, post_matches
from vehicle_pipeline.notify import WEBHOOK_ENV, webhook_url

MARKET_GROUP = "market"


@dg.asset(deps=[vehicle_profiles, auction_outcomes], group_name=MARKET_GROUP, kinds={"pandas", "postgres"})
def market_comps(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    """Market comps per make, model family, year band, month and currency (table `market_comps`): sales and
    their quartiles, sell-through, the high bids the market refused and asking prices beside them; and the
    repeat sales of vehicles sold more than once (table `repeat_sales`). Rebuilt whole, daily."""
    report = refresh_market(postgres.database())
    if report.no_currency:
        context.log.info(f"{report.no_currency} ended auction(s) state no currency and are in no row")
    metadata = {"rows": report.rows, "auction_events": report.events, "asking_prices": report.asking,
                "repeat_sales": report.repeat_sales, "no_currency": report.no_currency,
                "seconds": dg.MetadataValue.float(round(report.seconds, 3)),
                "most_traded": dg.MetadataValue.md(markdown_table(report.comps))}
    # one number per most-traded family, so the UI plots their medians run after run
    metadata |= {k: dg.MetadataValue.float(v) for k, v in latest_medians(report.comps).items()}
    return dg.MaterializeResult(metadata=metadata)


market_comps_job = dg.define_asset_job("market_comps_daily", selection=[market_comps])


@dg.schedule(job=market_comps_job, cron_schedule="30 8 * * *", execution_timezone=TIMEZONE, default_status=SCHEDULE_STATUS)
def market_comps_daily(context: dg.ScheduleEvaluationContext):
    """Once a day, after the overnight window has drained the queues."""
    return dg.RunRequest(run_key=f"market-comps-{context.scheduled_execution_time:%Y-%m-%d}")


@dg.sensor(minimum_interval_seconds=60, default_status=SENSOR_STATUS)
def saved_search_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Every minute: post each saved search's new matches (new listings, price drops, results) to the
    webhook, once each; a post the webhook did not take is tried again on the next tick. The cursor
    (market.watches.WatchCursor) holds what was read, so each tick reads only the observations that are new."""
    if not webhook_url():  # nothing could be posted: leave the observations unread until there is a webhook
        return dg.SkipReason(f"no webhook configured ({WEBHOOK_ENV}); saved-search matches wait")
    report = post_matches(postgres.database(), cursor=WatchCursor.from_json(context.cursor))
    context.update_cursor(report.cursor.to_json())
    if report.failed:
        context.log.warning(f"{report.failed} saved-search post(s) failed; retried on the next tick")
    return dg.SkipReason(f"{report.observations_read} observation(s) read, {report.posted} match(es) posted, "
                         f"{report.failed} left for the next tick")


market_assets = [market_comps]
market_jobs = [market_comps_job]
market_schedules = [market_comps_daily]
market_sensors = [saved_search_sensor]
