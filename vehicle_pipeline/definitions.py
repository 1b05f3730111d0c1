"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources of vehicle_pipeline."""


import os

import dagster as dg

from vehicle_pipeline.defs.alerts import alert_checks, alert_schedules, alert_sensors
from vehicle_pipeline.defs.assets.health import pipeline_health
from vehicle_pipeline.defs.assets.listings import listing_assets
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, bat_repairs, vehicle_profiles
from vehicle_pipeline.defs.checks import all_checks
from vehicle_pipeline.defs.jobs import all_jobs
from vehicle_pipeline.defs.jobs import JOB_FOR_ASSET
from vehicle_pipeline.defs.market import market_assets, market_comps, market_comps_job, market_jobs, market_schedules, market_sensors
from vehicle_pipeline.defs.resources import (
    ALLOW_PRIVATE_ENV,
    EXTRA_CA_ENV,
    RESOLVE_ENV,
    PipelineSettingsResource,
    PostgresResource,
    SourceSitesResource,
)
from vehicle_pipeline.defs.retention import retention_jobs, retention_schedules
from vehicle_pipeline.defs.schedules import TIMEZONE, all_schedules
from vehicle_pipeline.defs.sensors import QUEUE_DEPTH_ASSET, all_sensors

ASSETS = [*listing_assets, vehicle_profiles, auction_outcomes, bat_repairs, pipeline_health, *market_assets]

# The named job that materializes each asset (the CLI launches steps through them, so the Runs list says what ran).
JOBS_BY_ASSET = JOB_FOR_ASSET | {market_comps.key.to_user_string(): market_comps_job}


def _env_or_none(name: str):
    """An EnvVar when the variable is set, else None: every setting has a working default."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def _max_attempts() -> int:
    value = os.environ.get("VEHICLE_PIPELINE_MAX_ATTEMPTS") or "5"
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError(f"VEHICLE_PIPELINE_MAX_ATTEMPTS must be a whole number of attempts >= 1, not {value!r}")
    return int(value)


def _retention_days() -> int:
    value = os.environ.get("VEHICLE_PIPELINE_RETENTION_DAYS") or "90"
    if not value.strip().isdigit():
        raise ValueError(f"VEHICLE_PIPELINE_RETENTION_DAYS must be a whole number of days, not {value!r}")
    return int(value)


def build_resources() -> dict:
    return {
        "postgres": PostgresResource(database_url=_env_or_none("DATABASE_URL")),
        "sites": SourceSitesResource(
            resolve_json=_env_or_none(RESOLVE_ENV),
            extra_ca_file=_env_or_none(EXTRA_CA_ENV),
            allow_private_hosts_json=_env_or_none(ALLOW_PRIVATE_ENV),
            base_urls_json=_env_or_none("VEHICLE_PIPELINE_BASE_URLS"),
            user_agent=_env_or_none("VEHICLE_PIPELINE_USER_AGENT"),
            pace_per_source_json=_env_or_none("VEHICLE_PIPELINE_PACE"),
            chromium_path=_env_or_none("VEHICLE_PIPELINE_CHROMIUM"),
        ),
        "settings": PipelineSettingsResource(
            overnight_timezone=TIMEZONE,
            fast_mode=os.environ.get("VEHICLE_PIPELINE_FAST_MODE", "") in ("1", "true", "yes"),
            max_attempts=_max_attempts(),
            retention_days=_retention_days(),
        ),
    }


defs = dg.Definitions(
    assets=[*ASSETS, QUEUE_DEPTH_ASSET],
    asset_checks=[*all_checks, *alert_checks],
    jobs=[*all_jobs, *market_jobs, *retention_jobs],
    schedules=[*all_schedules, *alert_schedules, *market_schedules, *retention_schedules],
    sensors=[*all_sensors, *alert_sensors, *market_sensors],
    resources=build_resources(),
)
