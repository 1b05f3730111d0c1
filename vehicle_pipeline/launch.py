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

from vehicle_pipeline.store.db import INSTANCE_ENV, DatabaseUrls, instance_home, reset_database, resolve_urls
from vehicle_pipeline.store.migrations import migrate

PACKAGE_DIR = Path(__file__).resolve().parent
# The stand-in's client settings (see defs/resources.py); `run` refuses to start while its CA is set.
RESOLVE_ENV = "VEHICLE_PIPELINE_RESOLVE"
EXTRA_CA_ENV = "VEHICLE_PIPELINE_EXTRA_CA"
ALLOW_PRIVATE_ENV = "VEHICLE_PIPELINE_ALLOW_PRIVATE_HOSTS"
PACE_ENV = "VEHICLE_PIPELINE_PACE"
DAGSTER_URL_ENV = "VEHICLE_PIPELINE_DAGSTER_PG_URL"
MAX_ATTEMPTS_ENV = "VEHICLE_PIPELINE_MAX_ATTEMPTS"


def prepare_instance(instance: str | None = None, *, fresh: bool = False) -> DatabaseUrls:
    """Work on `instance` (None = the real one, "demo" = the demo's) from here on, in this process and its
    children: migrate its domain schema (after emptying it when `fresh`) and point DAGSTER_HOME at its
    Dagster instance (Postgres storage)."""
    if instance:
        os.environ[INSTANCE_ENV] = instance
    else:
        os.environ.pop(INSTANCE_ENV, None)
    urls = resolve_urls()
    if fresh:
        reset_database(urls.domain)
    migrate(urls.domain)
    dagster_home = instance_home()
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


def step_label(name: str, partition) -> str:
    """`asset[partition]` as an operator names a step: a metro × day partition by its metro."""
    if partition is None:
        return name
    keys = getattr(partition, "keys_by_dimension", None)
    if keys:
        shown = [v for k, v in keys.items() if k != "day"] or list(keys.values())
        return f"{name}[{'|'.join(shown)}]"
    return f"{name}[{partition}]"


def failure_reason(result) -> str:
    """Why a materialization failed, in one line: the step's own words (a `dg.Failure` description, else the
    innermost exception), rewritten for reading by `explain.step_reason`."""
    from vehicle_pipeline.explain import step_reason

    for event in result.all_events:
        data = getattr(event, "step_failure_data", None) if event.is_step_failure else None
        if data is None:
            continue
        user = data.user_failure_data
        if user is not None and user.description:
            return step_reason(user.description)
        error = data.error
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            text = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
            return step_reason(text)
    failures = [e for e in result.all_events if e.is_failure and e.message]
    return failures[0].message.splitlines()[0] if failures else "the run failed"


def _source_of_step(name: str, partition) -> str | None:
    """The source a listing step works (None for the drains and repairs, which work many)."""
    if name == "classic_sellers":
        return "classic"
    if name.endswith("_listings") and name != "craigslist_listings":
        return name.removesuffix("_listings")
    if name == "craigslist_listings":
        return f"craigslist:{partition.keys_by_dimension['metro']}"
    if name == "dealer_inventory":
        return str(partition)
    return None


def materialize_one(name: str, partition=None, run_config: dict | None = None, *, batch: str | None = None,
                    log=None, warn=None) -> StepResult:
    """Run the named job of one asset (its checks included) on the current instance, so the Runs list says what
    ran; returns what the step did. Every run of one launch shares its `batch` tag. A failed step is one line
    `asset[partition]: reason` on `warn` (default `log`); Dagster's own console log is off (it stays in each
    run's event log, shown by the UI) unless VEHICLE_PIPELINE_DEBUG is set."""
    import dagster as dg

    from vehicle_pipeline.definitions import JOBS_BY_ASSET, defs

    warn = warn or log
    started = time.monotonic()
    console = "DEBUG" if os.environ.get("VEHICLE_PIPELINE_DEBUG") else "CRITICAL"
    quiet = {"loggers": {"console": {"config": {"log_level": console}}}}
    batch = batch or datetime.now(timezone.utc).strftime("cli-%Y%m%dT%H%M%SZ")
    try:
        job = defs.resolve_job_def(JOBS_BY_ASSET[name].name)
        result = job.execute_in_process(run_config=quiet | (run_config or {}), instance=dg.DagsterInstance.get(),
                                        partition_key=partition, raise_on_error=False,
                                        tags={"vehicle_pipeline/launch": "cli", "vehicle_pipeline/batch": batch})
    except Exception as exc:  # a definition error: report it as this step's failure
        step = StepResult(name, partition, False, time.monotonic() - started, error=str(exc).splitlines()[0])
        if warn:
            warn(f"{step_label(name, partition)}: {step.error}")
        return step
    metadata = {}
    for event in result.get_asset_materialization_events():
        metadata = {k: _plain(v) for k, v in event.materialization.metadata.items()}
    checks_out = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    error = None if result.success else failure_reason(result)
    step = StepResult(name, partition, result.success, round(time.monotonic() - started, 2), metadata,
                      checks_out, error)
    if not result.success:
        if warn:
            warn(f"{step_label(name, partition)}: {error}")
    elif log:
        summary = ", ".join(f"{k}={metadata[k]}" for k in ("found", "new", "done", "events_new", "candidates",
                                                            "enabled", "failed", "blocked") if k in metadata)
        log(_step_line(name, partition, f"ok ({step.seconds:.1f}s) {summary}"))
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


def materialize_all(*, today: date | None = None, log=print, warn=None) -> list[StepResult]:
    """Every asset once, with a progress bar on a terminal (see `_materialize_all`)."""
    from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS
    from vehicle_pipeline.progress import steps

    # classic, 4 auction walks, the metros, 2 drains, health, comps; dealers and repair months are added when known
    with steps("materializing", 9 + len(CRAIGSLIST_METROS)) as bar:
        return _materialize_all(today=today, log=log, warn=warn, bar=bar)


def _materialize_all(*, today: date | None, log, warn, bar) -> list[StepResult]:
    """Materialize every asset once on the current instance, in data-flow order; returns what each step did.

    Progress goes to `log`, one line per step; a failed step is one line `asset[partition]: reason` on
    `warn` (default `log`). Dagster's own console log is off (it stays in each run's event log, shown by the
    UI) unless VEHICLE_PIPELINE_DEBUG is set. A source whose URL is or resolves to a non-public address that
    configuration does not allow is refused before anything runs: one line each, and none of its steps run.
    """
    import dagster as dg

    from vehicle_pipeline.definitions import build_resources
    from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS, dealers
    from vehicle_pipeline.defs.resources import ingest_settings
    from vehicle_pipeline.ingest.source_guard import refused_sources, resolver
    from vehicle_pipeline.store import open_database
    from vehicle_pipeline.store.sources import SourceRegistry

    warn = warn or log
    instance = dg.DagsterInstance.get()
    resources = build_resources()
    settings = ingest_settings(resources["sites"].process_config_and_initialize(),  # EnvVar fields resolved
                               resources["settings"].process_config_and_initialize())
    day = (today or datetime.now(timezone.utc).date()).isoformat()
    # every run of one launch shares a batch tag, so the Runs list can be filtered to it
    batch = datetime.now(timezone.utc).strftime("cli-%Y%m%dT%H%M%SZ")
    steps: list[StepResult] = []

    def refused_by_name() -> dict[str, str]:
        with open_database() as db, db.connection() as conn:
            rows = conn.execute(
                """SELECT name, url FROM sources, LATERAL (VALUES (base_url), (config->>'inventory_url')) AS u(url)
                   WHERE kind = 'dealer' AND enabled AND NOT auto_disabled AND url IS NOT NULL ORDER BY name""").fetchall()
        # The sites' own sources are fetched at the configured base URLs; a dealer at the URLs of its row.
        configured = [(name, settings.base_url(name)) for name in ("classic", "bat", "carsandbids", "mecum",
                                                                      "broadarrow", "craigslist")]
        return refused_sources(configured + [(n, u) for n, u in rows], settings.allow_private_hosts,
                               resolver(settings.resolve))

    refused: dict[str, str] = {}

    def run(name: str, partition=None, run_config: dict | None = None) -> StepResult | None:
        source = _source_of_step(name, partition)
        if source is not None and (source in refused or source.split(":", 1)[0] in refused):
            bar.advance(name)
            return None
        step = materialize_one(name, partition, run_config, batch=batch, log=log, warn=warn)
        steps.append(step)
        bar.advance(name)
        return step

    def refuse(found: dict[str, str]) -> None:
        for source, why in found.items():
            if source not in refused:
                refused[source] = why
                steps.append(StepResult("source", source, False, 0.0, error=f"refused {why}"))
                warn(f"source[{source}]: refused {why} ({ALLOW_PRIVATE_ENV} allows a host)")

    refuse(refused_by_name())
    run("classic_sellers")
    refuse(refused_by_name())  # dealers the directory just added
    with open_database() as db:
        enabled_dealers = [d for d in SourceRegistry(db).enabled_dealers() if d not in refused]
        registered = [s.name for s in SourceRegistry(db).list()]
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
    # The drains work the queue of every source but the refused ones.
    only = {"sources": [s for s in registered if s not in refused and s.split(":", 1)[0] not in refused]} if refused else {}
    run("vehicle_profiles", run_config={"ops": {"vehicle_profiles": {"config": {"time_budget_seconds": 900.0} | only}}})
    run("auction_outcomes", run_config={"ops": {"auction_outcomes": {"config": {"time_budget_seconds": 900.0} | only}}})
    with open_database() as db, db.connection() as conn:
        months = [r[0] for r in conn.execute(
            """SELECT DISTINCT to_char(date_trunc('month', ended_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')
               FROM auction_events WHERE source = 'bat' AND ended_at IS NOT NULL ORDER BY 1""")]
    months = months or [day[:8] + "01"]
    bar.grow(len(months))
    for month in months:
        run("bat_repairs", month)
    run("pipeline_health")
    run("market_comps")
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
    """Start the stand-in and point this process (and the Dagster runs it starts) at it."""
    from vehicle_pipeline.sample_site.server import SampleSite

    try:
        site = SampleSite(seed=seed, listings=listings, port=port).start()
    except OSError:
        site = SampleSite(seed=seed, listings=listings, port=0).start()  # the preferred port is taken
    use_sample_site({**site.client_settings(), "control_url": site.base_url})
    return site


def use_sample_site(config: dict) -> str:
    """Point this process at a running stand-in: the name-resolution override, its CA, the loopback exception
    for its hosts, and no pacing delay (the stand-in is local). `config` is `SampleSite.client_settings()`
    or the JSON file `vehicle-pipeline sample-site` writes; returns its control URL."""
    import json

    try:
        resolve, ca, allowed = config["resolve"], config["extra_ca_file"], list(config["allow_private_hosts"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"sample-site config lacks {exc}: expected resolve, extra_ca_file, allow_private_hosts") from None
    if not os.path.isfile(ca):
        raise ValueError(f"sample-site CA {ca} does not exist (is the sample site still running?)")
    os.environ[RESOLVE_ENV] = json.dumps(resolve)
    os.environ[EXTRA_CA_ENV] = ca
    os.environ[ALLOW_PRIVATE_ENV] = json.dumps(allowed)
    os.environ[PACE_ENV] = json.dumps({"*": [0, 0]})
    return config.get("control_url", "")


def start_replay(path):
    """Serve a recorded crawl (WARC file or capture folder) at its recorded host names and point this process
    at it, as `start_sample_site` does for the stand-in; returns the site. Raises ReplayError for input that
    cannot be replayed."""
    from vehicle_pipeline.sample_site.replay import ReplayArchive, ReplaySite

    site = ReplaySite(ReplayArchive.load(path)).start()
    use_sample_site(site.client_settings())
    # The same bytes every time: a second attempt cannot read what the first could not.
    os.environ[MAX_ATTEMPTS_ENV] = "1"
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
