"""Running the pipeline from the command line: `demo` (sample site), `run` (real sites) and `dev` (the UI).

All three use the project's persistent Dagster instance under $VEHICLE_PIPELINE_HOME/dagster, with its
storage in the same Postgres as the domain data, so the runs, materializations and metadata plots of a demo
are there when the UI is opened afterwards.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from vehicle_pipeline.store.db import DatabaseUrls, pipeline_home, resolve_urls
from vehicle_pipeline.store.migrations import migrate

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_SITE_ENV = "VEHICLE_PIPELINE_SAMPLE_SITE_URL"
DAGSTER_URL_ENV = "VEHICLE_PIPELINE_DAGSTER_PG_URL"


def prepare_instance(urls: DatabaseUrls | None = None) -> DatabaseUrls:
    """Migrate the domain schema and point DAGSTER_HOME at the project's instance (Postgres storage)."""
    urls = urls or resolve_urls()
    migrate(urls.domain)
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or pipeline_home() / "dagster")
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / "dagster.yaml"
    source = PACKAGE_DIR / "dagster.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    os.environ[DAGSTER_URL_ENV] = urls.dagster
    return urls


@dataclass
class StepResult:
    name: str
    partition: str | None
    success: bool
    seconds: float
    metadata: dict = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


def _plain(value):
    inner = getattr(value, "value", value)
    if isinstance(inner, (int, float, str, bool)) or inner is None:
        return inner
    return str(inner)


def _step_line(name: str, partition: str | None, result: str) -> str:
    # dealer partitions ("dealer:<slug>") run to ~30 characters
    return f"  {name:<22} {partition or '':<31} {result}"


def materialize_one(name: str, partition=None, run_config: dict | None = None, *, batch: str | None = None,
                    log=None) -> StepResult:
    """Run the named job of one asset (its checks included) on the current instance, so the Runs list says what
    ran; returns what the step did. Every run of one launch shares its `batch` tag."""
    import dagster as dg

    from vehicle_pipeline.definitions import defs
    from vehicle_pipeline.defs.jobs import JOB_FOR_ASSET

    started = time.monotonic()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    batch = batch or datetime.now(timezone.utc).strftime("cli-%Y%m%dT%H%M%SZ")
    try:
        job = defs.resolve_job_def(JOB_FOR_ASSET[name].name)
        result = job.execute_in_process(run_config=quiet | (run_config or {}), instance=dg.DagsterInstance.get(),
                                        partition_key=partition, raise_on_error=False,
                                        tags={"vehicle_pipeline/launch": "cli", "vehicle_pipeline/batch": batch})
    except Exception as exc:  # a definition error: report it as this step's failure
        step = StepResult(name, partition, False, time.monotonic() - started, error=str(exc).splitlines()[0])
        if log:
            log(_step_line(name, partition, f"FAILED {step.error}"))
        return step
    metadata = {}
    for event in result.get_asset_materialization_events():
        metadata = {k: _plain(v) for k, v in event.materialization.metadata.items()}
    checks_out = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_failure]
        error = failures[0].message.splitlines()[0] if failures and failures[0].message else "run failed"
    step = StepResult(name, partition, result.success, round(time.monotonic() - started, 2), metadata,
                      checks_out, error)
    if log:
        summary = ", ".join(f"{k}={metadata[k]}" for k in ("found", "new", "done", "events_new", "candidates",
                                                            "enabled", "failed", "blocked") if k in metadata)
        log(_step_line(name, partition, f"{'ok' if result.success else 'FAILED'} ({step.seconds:.1f}s) {summary}"
                                        f"{'' if not error else ' ' + error}"))
    return step


def partition_keys(asset: str, first: str, last: str) -> list[str]:
    """The partitions of `asset` from `first` through `last` (a day or month asset); ValueError says why not."""
    import dagster as dg

    from vehicle_pipeline.definitions import ASSETS

    by_name = {a.key.to_user_string(): a for a in ASSETS}
    if asset not in by_name:
        raise ValueError(f"unknown asset {asset!r}; known: {', '.join(sorted(by_name))}")
    partitions = by_name[asset].partitions_def
    if not isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        raise ValueError(f"{asset} is not partitioned by day or month")
    keys = partitions.get_partition_keys()
    for key in (first, last):
        if key not in keys:
            raise ValueError(f"{key!r} is not a partition of {asset} (e.g. {keys[0]} … {keys[-1]})")
    if keys.index(first) > keys.index(last):
        raise ValueError(f"{first} comes after {last}")
    return keys[keys.index(first):keys.index(last) + 1]


def backfill(asset: str, keys: list[str], *, log=print) -> list[StepResult]:
    """One run of the asset's named job per partition, a progress bar on a terminal."""
    from vehicle_pipeline.progress import steps

    batch = datetime.now(timezone.utc).strftime(f"backfill-{asset}-%Y%m%dT%H%M%SZ")
    results = []
    with steps(f"backfill {asset}", len(keys)) as bar:
        for key in keys:
            results.append(materialize_one(asset, key, batch=batch, log=log))
            bar.advance()
    return results


def materialize_all(*, today: date | None = None, log=print) -> list[StepResult]:
    """Every asset once, with a progress bar on a terminal (see `_materialize_all`)."""
    from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS
    from vehicle_pipeline.progress import steps

    # classic, 4 auction walks, the metros, 2 drains, health; dealers and repair months are added when known
    with steps("materializing", 8 + len(CRAIGSLIST_METROS)) as bar:
        return _materialize_all(today=today, log=log, bar=bar)


def _materialize_all(*, today: date | None, log, bar) -> list[StepResult]:
    """Materialize every asset once on the current instance, in data-flow order; returns what each step did."""
    import dagster as dg

    from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS, dealers
    from vehicle_pipeline.store import open_database
    from vehicle_pipeline.store.sources import SourceRegistry

    instance = dg.DagsterInstance.get()
    day = (today or datetime.now(timezone.utc).date()).isoformat()
    # every run of one launch shares a batch tag, so the Runs list can be filtered to it
    batch = datetime.now(timezone.utc).strftime("cli-%Y%m%dT%H%M%SZ")
    steps: list[StepResult] = []

    def run(name: str, partition=None, run_config: dict | None = None) -> StepResult:
        step = materialize_one(name, partition, run_config, batch=batch, log=log)
        steps.append(step)
        bar.advance(name)
        return step

    run("classic_sellers")
    with open_database() as db:
        enabled_dealers = SourceRegistry(db).enabled_dealers()
    known = set(instance.get_dynamic_partitions(dealers.name))
    new = [d for d in enabled_dealers if d not in known]
    if new:
        instance.add_dynamic_partitions(dealers.name, new)
    for name in ("bat_listings", "carsandbids_listings", "mecum_listings", "broadarrow_listings"):
        run(name, day)
    for metro in CRAIGSLIST_METROS:
        run("craigslist_listings", dg.MultiPartitionKey({"metro": metro, "day": day}))
    bar.grow(len(enabled_dealers))
    for dealer in enabled_dealers:
        run("dealer_inventory", dealer)
    drain = {"ops": {"vehicle_profiles": {"config": {"time_budget_seconds": 900.0}}}}
    run("vehicle_profiles", run_config=drain)
    run("auction_outcomes", run_config={"ops": {"auction_outcomes": {"config": {"time_budget_seconds": 900.0}}}})
    with open_database() as db, db.connection() as conn:
        months = [r[0] for r in conn.execute(
            """SELECT DISTINCT to_char(date_trunc('month', ended_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')
               FROM auction_events WHERE source = 'bat' AND ended_at IS NOT NULL ORDER BY 1""")]
    months = months or [day[:8] + "01"]
    bar.grow(len(months))
    for month in months:
        run("bat_repairs", month)
    run("pipeline_health")
    return steps


def summary(steps: list[StepResult]) -> dict:
    from vehicle_pipeline.store import open_database
    from vehicle_pipeline.store.queue import WorkQueue
    from vehicle_pipeline.store.records import totals as record_totals

    with open_database() as db:
        with db.connection() as conn:
            profiles = dict(conn.execute(
                """SELECT split_part(source, ':', 1), count(*) FROM listings WHERE vehicle_id IS NOT NULL
                   GROUP BY 1 ORDER BY 1""").fetchall())
            outcomes = dict(conn.execute(
                "SELECT outcome, count(*) FROM auction_events GROUP BY 1 ORDER BY 1").fetchall())
            totals = record_totals(conn)
        queue_rows = WorkQueue(db).stats()
    checks = {}
    for step in steps:
        for name, passed in step.checks.items():
            checks[f"{step.name}.{name}"] = checks.get(f"{step.name}.{name}", True) and passed
    return {
        "profiles_by_source": profiles,
        "outcomes": outcomes,
        "totals": totals,
        "queue": [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in queue_rows],
        "checks": checks,
        "steps": [{"asset": s.name, "partition": str(s.partition) if s.partition else None, "success": s.success,
                   "seconds": s.seconds, "error": s.error} for s in steps],
        "failed_steps": sum(1 for s in steps if not s.success),
    }


def start_sample_site(seed: int, listings: int, port: int = 0):
    from vehicle_pipeline.sample_site.server import SampleSite

    try:
        site = SampleSite(seed=seed, listings=listings, port=port).start()
    except OSError:
        site = SampleSite(seed=seed, listings=listings, port=0).start()  # the preferred port is taken
    os.environ[SAMPLE_SITE_ENV] = site.base_url
    return site


def dagster_dev(port: int = 3000, host: str = "127.0.0.1") -> int:
    """`dagster dev` on this project's instance; returns its exit status."""
    # `dagster dev` prints a notice to use `dg dev` instead, which needs a dg project layout this package does not
    # have; the notice is for people typing the command, and `vehicle-pipeline dev` is the one they type here.
    notice = "-Wignore:Function `dev_command` is superseded"
    cmd = [sys.executable, notice, "-m", "dagster", "dev", "-h", host, "-p", str(port),
           "-m", "vehicle_pipeline.definitions"]
    # Started in the instance's folder: from the project root, Dagster would warn that the dagster.yaml it sees
    # there (the template copied into DAGSTER_HOME) "will not be used".
    proc = subprocess.Popen(cmd, env=os.environ.copy(), cwd=os.environ.get("DAGSTER_HOME") or None)
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())  # stopping us stops the UI too
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
