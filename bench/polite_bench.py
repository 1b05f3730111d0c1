"""Politeness benchmark: the whole pipeline against paced hosts (run by hand, not a test).

    .venv/bin/python bench/polite_bench.py [--listings 5000] [--dealers 31] [--mix even] [--pace 0.5]
                                           [--embedded] [--no-write]

The sample site runs in a child process (`vehicle-pipeline sample-site --cache-pages --dealers N --mix M`), every
site at its real host names over HTTPS: bringatrailer.com, carsandbids.com, www.mecum.com,
www.broadarrowauctions.com, www.classic.com, each Craigslist metro (<metro>.craigslist.org) and each dealer
(www.<slug>.example), with their photo hosts; every host paced at `--pace` (0.5 s: a politeness limit of 2
pages/s a host). With the defaults that is 40 hosts (4 auction sites, classic.com, 4 metros, 31 dealers), a
limit of 80 pages/s, and the "even" mix spreads the listings' requests evenly over the hosts that hold
listings (a Cars & Bids page is two requests: its shell and the data its script loads), so the limit is
within reach of a crawler keeping every host busy. The control origin serves /_truth and the request log
(each row names the Host it was asked for). The pipeline is configured as in production (real base URLs,
allow-lists, robots, dealers found through classic.com, Cars & Bids rendered in Chromium), pointed at the
stand-in only by the site's client settings (resolve override, its CA, the private-address exception).
With POLITE_BENCH_DUMP=FILE set, each configuration's request log is written to FILE (the last one stays).

Three configurations, each on a fresh database and a cleared request log, each the whole pipeline through real
Dagster runs: classic_sellers, the four auction listing assets for today, every Craigslist metro, every dealer's
inventory (index walks, four runs at a time as the instance's run queue allows, in this process), then the import drain (vehicle_profiles) and the
outcome drain (auction_outcomes), each repeated until its queue is empty:
- `one run`: one drain run at a time, in this process;
- `two runs`: two drain runs at once, two threads of this process (each run its own HTTP client and lanes);
- `two processes`: two drain worker processes at once (vehicle_pipeline_tests/drain_worker.py) on one Dagster
  instance in Postgres, as two machines would run them.

Measured by the site (server-side request log, per host name): for each phase, the politeness floor = max over hosts of
(requests to the host - 1) x pace, the least time any crawler keeping the pace needs for those requests; the
share = floor / wall of the phase (goal >= 90 % for the drains); the drains' pages/s beside the all-hosts limit
(hosts / pace); the smallest gap any host
saw between two requests (>= the pace). CPU seconds of this process, its worker processes, the site and every
Postgres process, per listing, beside floor_bench's minimal work per listing (`floor_run` with 2 processes over
the same listings, unpaced, in the same run). Unless --no-write, the results replace the "## polite_bench"
section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import shlex
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402

from bench.benchdb import bench_database  # noqa: E402
from bench.floor_bench import _warm, floor_run, plain_listings  # noqa: E402
from bench.pipeline_bench import (  # noqa: E402
    AUCTION_ASSETS,
    SiteProcess,
    cpu_seconds,
    machine,
    materialize,
    postgres_cpu_seconds,
    postmaster_pid,
    process_cpu_seconds,
    queue_open,
    warm_site,
    write_section,
)
from vehicle_pipeline.defs.assets.listings import (  # noqa: E402
    classic_sellers,
    craigslist_listings,
    dealer_inventory,
)
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, vehicle_profiles  # noqa: E402
from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS, dealers as dealers_partitions  # noqa: E402
from vehicle_pipeline.store.db import Database, with_database  # noqa: E402
from vehicle_pipeline.store.migrations import migrate  # noqa: E402
from vehicle_pipeline.store.sources import SourceRegistry  # noqa: E402
from vehicle_pipeline_tests.drain_worker import resources as worker_resources  # noqa: E402
from vehicle_pipeline_tests.paced_hosts import DagsterHome, start_worker, worker_result  # noqa: E402

SECTION = "## polite_bench"
DRAINS = {"imports": (vehicle_profiles, "listing_import"), "outcomes": (auction_outcomes, "deep_extraction")}
MAX_DRAIN_ROUNDS = 4
WALKS_AT_ONCE = 4  # dagster.yaml: max_concurrent_runs


class Site(SiteProcess):
    """The sample site in a child process (pages cached, as a CDN would serve them), its request log."""

    def __init__(self, listings: int, seed: int, dealers: int, mix: str):
        super().__init__(listings, seed, cache_pages=True, dealers=dealers, mix=mix)

    def requests(self) -> list[dict]:
        return httpx.get(self.url + "/_admin/requests", timeout=60).json()

    def clear(self) -> None:
        httpx.post(self.url + "/_admin/requests/clear", timeout=60)


def spec(db_url: str, site: Site, pace: float, batch_size: int, lanes: int) -> dict:
    # Configured as real sites are (real base URLs, allow-lists, robots, every request paced); the stand-in's
    # client settings (resolve override, CA, private-address exception for its hosts) are all that differ.
    return {"db_url": db_url, "default_pace": [pace, pace], "resolve": site.config["resolve"],
            "extra_ca_file": site.config["extra_ca_file"], "allow_private_hosts": site.config["allow_private_hosts"],
            "settings": {"time_budget_seconds": 900.0, "batch_size": batch_size, "drain_lanes": lanes,
                         "max_index_pages": 1000}}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def walk_everything(resources, db_url: str) -> None:
    """Dealer discovery, then every index walk, WALKS_AT_ONCE runs at a time (the instance's run queue runs
    four at once, and the schedules start these walks together); each run on an instance of its own."""
    day = dt.datetime.now(dt.timezone.utc).date().isoformat()
    quiet = [materialize(dg.DagsterInstance.ephemeral(), resources, "walk", classic_sellers)]
    with Database(db_url, max_size=1) as db:
        dealers = SourceRegistry(db).enabled_dealers()
    walks = [(asset, day) for asset in AUCTION_ASSETS]
    walks += [(craigslist_listings, dg.MultiPartitionKey({"metro": metro, "day": day})) for metro in CRAIGSLIST_METROS]
    walks += [(dealer_inventory, dealer) for dealer in dealers]

    def walk(job) -> object:
        with dg.DagsterInstance.ephemeral() as instance:  # disposed in the thread that made it (sqlite)
            instance.add_dynamic_partitions(dealers_partitions.name, dealers)
            return materialize(instance, resources, "walk", *job)

    with ThreadPoolExecutor(WALKS_AT_ONCE) as pool:
        quiet += list(pool.map(walk, walks))
    failed = [r for r in quiet if not r.success]
    if failed:
        raise RuntimeError(f"index walk failed: {failed[0].asset} {failed[0].error}")


def one_run(the_spec: dict, phase: str, asset):
    """A drain run in this process (this thread), on an instance of its own, disposed where it was made."""
    with dg.DagsterInstance.ephemeral() as instance:
        return materialize(instance, worker_resources(the_spec), phase, asset)


def drain_rounds(mode: str, phase: str, db_url: str, the_spec: dict, home: DagsterHome | None) -> int:
    """Drain one queue until it is empty, `mode` deciding how many runs at once and where; returns runs."""
    asset, queue = DRAINS[phase]
    runs = 0
    for _ in range(MAX_DRAIN_ROUNDS):
        if mode == "one run":
            ok = [one_run(the_spec, phase, asset).success]
        elif mode == "two runs":
            results: list = [None, None]

            def one(i: int) -> None:
                results[i] = one_run(the_spec, phase, asset)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ok = [r.success for r in results]
        else:
            procs = [start_worker({**the_spec, "assets": [asset.key.to_user_string()]}, home.env()) for _ in range(2)]
            ok = [worker_result(p, timeout=3600)["success"] for p in procs]
        runs += len(ok)
        if not all(ok):
            raise RuntimeError(f"{mode}: a {phase} drain run failed")
        if not queue_open(db_url).get(queue):
            return runs
    raise RuntimeError(f"{mode}: the {phase} queue did not empty in {MAX_DRAIN_ROUNDS} rounds")


def phase_stats(rows: list[dict], start: float, end: float, pace: float) -> dict:
    by_host: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        host = row["host"]  # None: the control origin (truth, log)
        if host is not None and start <= row["started"] <= end:
            by_host[host].append(row["started"])
    gaps = [b - a for s in by_host.values() for a, b in zip(sorted(s), sorted(s)[1:])]
    floor = max((len(s) - 1) * pace for s in by_host.values()) if by_host else 0.0
    return {"wall": end - start, "requests": sum(len(s) for s in by_host.values()), "hosts": len(by_host),
            "floor": floor, "min_gap": min(gaps) if gaps else float("nan"),
            "busiest": max(by_host, key=lambda h: len(by_host[h])) if by_host else "-",
            "busiest_requests": max((len(s) for s in by_host.values()), default=0)}


def run_config(mode: str, server_url: str, site: Site, args, postmaster: int | None) -> dict:
    name = f"polite_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = with_database(server_url, name)
    home = None
    try:
        migrate(db_url)
        the_spec = spec(db_url, site, args.pace, args.batch_size, args.lanes)
        if mode == "two processes":
            home = DagsterHome(server_url, Path(tempfile.mkdtemp(prefix="polite-")))
        site.clear()
        cpu0 = (cpu_seconds(), children_cpu(), process_cpu_seconds(site.proc.pid), postgres_cpu_seconds(postmaster))
        marks = {"start": time.monotonic()}
        walk_everything(worker_resources(the_spec), db_url)
        marks["walked"] = time.monotonic()
        drain_runs = drain_rounds(mode, "imports", db_url, the_spec, home)
        marks["imported"] = time.monotonic()
        drain_runs += drain_rounds(mode, "outcomes", db_url, the_spec, home)
        marks["end"] = time.monotonic()
        cpu1 = (cpu_seconds(), children_cpu(), process_cpu_seconds(site.proc.pid), postgres_cpu_seconds(postmaster))
        rows = site.requests()
        if os.environ.get("POLITE_BENCH_DUMP"):  # the request log, for a reader who asks where the requests went
            Path(os.environ["POLITE_BENCH_DUMP"]).write_text(json.dumps(rows))
        with psycopg.connect(db_url, autocommit=True) as conn:
            listings = conn.execute("SELECT count(*) FROM listings WHERE vehicle_id IS NOT NULL").fetchone()[0]
            dead = conn.execute("SELECT count(*) FROM work_items WHERE state = 'dead'").fetchone()[0]
    finally:
        if home is not None:
            home.drop()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    phases = {
        "walks": phase_stats(rows, marks["start"], marks["walked"], args.pace),
        "imports": phase_stats(rows, marks["walked"], marks["imported"], args.pace),
        "outcomes": phase_stats(rows, marks["imported"], marks["end"], args.pace),
        "whole": phase_stats(rows, marks["start"], marks["end"], args.pace),
    }
    cpu = [b - a for a, b in zip(cpu0, cpu1)]
    return {"mode": mode, "listings": listings, "dead": dead, "drain_runs": drain_runs, "phases": phases,
            "hosts": sorted({row["host"] for row in rows if row["host"]}),
            "cpu": {"pipeline": cpu[0] + cpu[1], "site": cpu[2], "postgres": cpu[3]}}


def ledger_cost(server_url: str, postmaster: int | None, pairs: int = 2000) -> dict:
    """What the pace ledger costs per paced fetch: one reserve and one release (store.pace), uncontended, one
    thread: wall, this process's CPU and Postgres's CPU per pair."""
    from vehicle_pipeline.store.pace import HostPaceLedger

    name = f"polite_ledger_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = with_database(server_url, name)
        migrate(url)
        with Database(url, max_size=2) as db:
            ledger = HostPaceLedger(db)
            keys = [f"https://host-{i % 40}.example:443" for i in range(pairs)]
            cpu0, pg0, t0 = cpu_seconds(), postgres_cpu_seconds(postmaster), time.perf_counter()
            for key in keys:
                ledger.reserve(key, 0.0)
                ledger.release(key, 0.0)
            wall, cpu, pg = time.perf_counter() - t0, cpu_seconds() - cpu0, postgres_cpu_seconds(postmaster) - pg0
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return {"pairs": pairs, "wall_ms": 1000 * wall / pairs, "cpu_ms": 1000 * cpu / pairs, "pg_ms": 1000 * pg / pairs}


def build_report(r: dict) -> str:
    pace = r["pace"]
    names = sorted({host for run in r["runs"] for host in run["hosts"]})
    hosts = len(names)
    limit = hosts / pace
    lines = [
        SECTION, "",
        f"- date: {r['date']} UTC; command: `{r['command']}`",
        f"- machine: {r['machine']['nproc']} CPUs, {r['machine']['ram_gib']:.1f} GiB RAM, Python "
        f"{r['machine']['python']}, PostgreSQL {r['pg_version']} ({r['server']})",
        f"- sample site: seed {r['seed']}, {r['site_listings']} generated listings ({r['dealers']} dealers, "
        f"\"{r['mix']}\" mix) at the real host names over HTTPS, {hosts} hosts fetched ({', '.join(names)}), "
        f"each paced at {pace} s, so at most {limit:.0f} pages/s in all",
        "- share = politeness floor / wall, the floor being max over hosts of (requests to it - 1) x pace: the "
        "least time any crawler keeping the pace needs for those requests (the busiest host decides it); "
        "pages/s ÷ the all-hosts limit beside it (a host with more requests than the others, or none in a phase, "
        "keeps that below the share)",
        "",
        "| configuration | phase | wall s | requests | pages/s (limit) | ÷ limit | busiest host (requests) | floor s | "
        "**share** | smallest gap s |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for run in r["runs"]:
        for phase in ("walks", "imports", "outcomes", "whole"):
            p = run["phases"][phase]
            share = p["floor"] / p["wall"] if p["wall"] else float("nan")
            lines.append(f"| {run['mode']} | {phase} | {p['wall']:.1f} | {p['requests']} | "
                         f"{p['requests'] / p['wall']:.1f} ({limit:.0f}) | {p['requests'] / p['wall'] / limit:.0%} | "
                         f"{p['busiest']} ({p['busiest_requests']}) | "
                         f"{p['floor']:.1f} | **{share:.0%}** | {p['min_gap']:.3f} |")
    floor_cpu = r["floor"]["worker_cpu"] + r["floor"]["site_cpu"] + r["floor"]["pg_cpu"]
    lines += [
        "",
        "CPU per listing (ms), all processes of the run, beside floor_bench's minimal work on the same listings in "
        "the same run (2 processes, unpaced):",
        "",
        "| configuration | listings | drain runs | pipeline processes | site | Postgres | total | ÷ floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    n_floor = r["floor_listings"]
    lines.append(f"| floor_bench (fetch, hash, compress, parse, COPY) | {n_floor} | - | "
                 f"{1000 * r['floor']['worker_cpu'] / n_floor:.1f} | {1000 * r['floor']['site_cpu'] / n_floor:.1f} | "
                 f"{1000 * r['floor']['pg_cpu'] / n_floor:.1f} | {1000 * floor_cpu / n_floor:.1f} | 1.00 |")
    for run in r["runs"]:
        n, c = run["listings"], run["cpu"]
        total = c["pipeline"] + c["site"] + c["postgres"]
        lines.append(f"| {run['mode']} | {n} | {run['drain_runs']} | {1000 * c['pipeline'] / n:.1f} | "
                     f"{1000 * c['site'] / n:.1f} | {1000 * c['postgres'] / n:.1f} | {1000 * total / n:.1f} | "
                     f"{(total / n) / (floor_cpu / n_floor):.1f} |")
    lc = r["ledger"]
    lines += ["", f"The pace ledger alone (`ledger_cost`: {lc['pairs']} reserve + release pairs over 40 host keys, "
              f"one thread, uncontended): {lc['wall_ms']:.2f} ms wall, {lc['cpu_ms']:.2f} ms CPU in the caller and "
              f"{lc['pg_ms']:.2f} ms in Postgres per paced fetch.", ""]
    if r.get("notes"):
        lines += [r["notes"].strip(), ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listings", type=int, default=5000, help="listings the sample site generates")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--pace", type=float, default=0.5, help="seconds between requests to one host")
    p.add_argument("--dealers", type=int, default=31, help="dealers in the sample world (a host each)")
    p.add_argument("--mix", default="even", choices=["even", "real"],
                   help="even: listings spread evenly over the hosts; real: the usual source proportions")
    p.add_argument("--batch-size", type=int, default=80, help="a drain batch (two items a host at 40 hosts)")
    p.add_argument("--lanes", type=int, default=2, help="batches a drain run works on at once (drain_lanes)")
    p.add_argument("--modes", nargs="+", default=["one run", "two runs", "two processes"])
    p.add_argument("--embedded", action="store_true", help="use a private embedded server")
    p.add_argument("--notes", type=Path, default=None, help="a file whose text is appended to the section")
    p.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = p.parse_args()
    command = ".venv/bin/python bench/polite_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    os.environ.setdefault("VEHICLE_PIPELINE_HOME", tempfile.mkdtemp(prefix="polite-home-"))  # never the user's
    with bench_database("polite", embedded=args.embedded) as bench_db, Site(args.listings, args.seed, args.dealers, args.mix) as site:
        truth = httpx.get(site.url + "/_truth", timeout=120).json()
        warm_site(truth, site.config)  # listing pages rendered once, as floor_bench and pipeline_bench have them
        postmaster = postmaster_pid(bench_db.server_url)
        runs = []
        for mode in args.modes:
            run = run_config(mode, bench_db.server_url, site, args, postmaster)
            whole = run["phases"]["whole"]
            print(f"  {mode}: {run['listings']} listings, whole {whole['wall']:.1f} s, drains share "
                  f"{run['phases']['imports']['floor'] / run['phases']['imports']['wall']:.0%}, "
                  f"smallest gap {whole['min_gap']:.3f} s", flush=True)
            runs.append(run)
        ledger = ledger_cost(bench_db.server_url, postmaster)
        listings = plain_listings(truth)
        with multiprocessing.get_context("forkserver").Pool(2) as pool:
            pool.map(_warm, range(2))
            floor = floor_run(pool, 2, bench_db.url, listings, site.proc.pid, postmaster, site.config)

    results = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), "command": command,
               "machine": machine(), "pg_version": bench_db.pg_version, "server": bench_db.label, "seed": args.seed,
               "site_listings": args.listings, "dealers": args.dealers, "mix": args.mix, "pace": args.pace, "runs": runs, "floor": floor,
               "floor_listings": len(listings), "ledger": ledger, "notes": args.notes.read_text() if args.notes else ""}
    report = build_report(results)
    print(report)
    if not args.no_write:
        write_section(report)
    bad = [r["mode"] for r in runs if r["dead"] or r["phases"]["whole"]["min_gap"] < args.pace]
    if bad:
        print(f"WARNING: dead items or a gap under the pace in: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
