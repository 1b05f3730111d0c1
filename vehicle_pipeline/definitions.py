"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources of vehicle_pipeline."""


import os

import dagster as dg

from vehicle_pipeline.defs.alerts import alert_checks, alert_schedules, alert_sensors
from vehicle_pipeline.defs.assets.health import pipeline_health
from vehicle_pipeline.defs.assets.listings import listing_assets
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, bat_repairs, vehicle_profiles
from vehicle_pipeline.defs.checks import all_checks
from vehicle_pipeline.defs.jobs import all_jobs
from vehicle_pipeline.defs.resources import (
    SAMPLE_SITE_ENV,
    PipelineSettingsResource,
    PostgresResource,
    SourceSitesResource,
)
from vehicle_pipeline.defs.schedules import TIMEZONE, all_schedules
from vehicle_pipeline.defs.sensors import QUEUE_DEPTH_ASSET, all_sensors

ASSETS = [*listing_assets, vehicle_profiles, auction_outcomes, bat_repairs, pipeline_health]


def _env_or_none(name: str):
    """An EnvVar when the variable is set, else None: every setting has a working default."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def build_resources() -> dict:
    return {
        "postgres": PostgresResource(database_url=_env_or_none("DATABASE_URL")),
        "sites": SourceSitesResource(
            sample_site_url=_env_or_none(SAMPLE_SITE_ENV),
            base_urls_json=_env_or_none("VEHICLE_PIPELINE_BASE_URLS"),
            user_agent=_env_or_none("VEHICLE_PIPELINE_USER_AGENT"),
            pace_per_source_json=_env_or_none("VEHICLE_PIPELINE_PACE"),
        ),
        "settings": PipelineSettingsResource(
            overnight_timezone=TIMEZONE,
            fast_mode=os.environ.get("VEHICLE_PIPELINE_FAST_MODE", "") in ("1", "true", "yes"),
        ),
    }


defs = dg.Definitions(
    assets=[*ASSETS, QUEUE_DEPTH_ASSET],
    asset_checks=[*all_checks, *alert_checks],
    jobs=all_jobs,
    schedules=[*all_schedules, *alert_schedules],
    sensors=[*all_sensors, *alert_sensors],
    resources=build_resources(),
)
