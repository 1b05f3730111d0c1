"""Dagster's own storage in this project's Postgres, wherever the instance is loaded from.

`dagster.yaml` names this class, so `dagster dev`, `dagster definitions validate` or a run worker started
in the project root find the same database the CLI uses: VEHICLE_PIPELINE_DAGSTER_PG_URL when set (the CLI
sets it), else DAGSTER_PG_URL / DATABASE_URL, else the embedded server under $VEHICLE_PIPELINE_HOME
(started if needed). No secret is needed, and none is written into the instance's serialized config: the
resolved URL travels to child processes in the environment.
"""

import os

import dagster as dg
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from vehicle_pipeline.store.db import resolve_urls, to_sqlalchemy_url

URL_ENV = "VEHICLE_PIPELINE_DAGSTER_PG_URL"


class ProjectPostgresStorage(DagsterPostgresStorage):
    """Dagster runs, events and schedules in the project's Postgres (the embedded server by default)."""

    @classmethod
    def config_type(cls):
        return {"postgres_url": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        url = config_value.get("postgres_url") or os.environ.get(URL_ENV) or resolve_urls().dagster
        url = to_sqlalchemy_url(url)
        os.environ[URL_ENV] = url
        by_env = ConfigurableClassData(
            inst_data.module_name if inst_data else cls.__module__,
            inst_data.class_name if inst_data else cls.__name__,
            f"postgres_url:\n  env: {URL_ENV}\n",
        )
        return DagsterPostgresStorage(postgres_url=url, inst_data=by_env)
