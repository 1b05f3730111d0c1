"""The floor under pipeline_bench's ratio on this machine (run by hand, not a test).

    .venv/bin/python bench/floor_bench.py [--listings 5000] [--processes 2 1 2 3 2] [--embedded] [--no-write]

pipeline_bench compares the pipeline's end-to-end listings/s with a one-core loop that only parses. This bench
asks what the least work the pipeline must do per listing costs on the same machine: each listing page fetched
over HTTPS at its real host name from the sample site, hashed and compressed as the drains keep a snapshot (`pack_body`), parsed as
the import parses it (deep for auction pages), and its page, parse (as jsonb), comments and images COPYed into
Postgres in batches of 50. Nothing else: no index pages, no registry or queue, no leases, no vehicle merge, no
history, no outcome rules, no Dagster. The listings are split over `--processes` worker processes (a forkserver
pool started before the clock), each with its own HTTP connection and database connection, so every core is
used with no GIL between them. Every count in the list is one timed run, in the order given, against the same
site and database server; parse-only is measured in the same run, as pipeline_bench measures it.

The sample site runs in a child process with its listing pages rendered before the timed window, as in
pipeline_bench. CPU seconds are read from /proc for the workers, the site and every Postgres process.
Unless --no-write, the results replace the "## floor_bench" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import shlex
import statistics
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchdb import bench_database  # noqa: E402
from bench.pipeline_bench import (  # noqa: E402
    SiteProcess,
    _stand_in_client,
    machine,
    parse_only,
    postgres_cpu_seconds,
    postmaster_pid,
    process_cpu_seconds,
    warm_site,
    write_section,
)
from vehicle_pipeline import sources  # noqa: E402
from vehicle_pipeline.ingest.context import IngestSettings  # noqa: E402
from vehicle_pipeline.store.records import pack_body  # noqa: E402

SECTION = "## floor_bench"
BATCH = 50

FLOOR_TABLES = """
DROP TABLE IF EXISTS floor_images, floor_comments, floor_listings, floor_pages;
CREATE TABLE floor_pages (sha256 bytea PRIMARY KEY, url text NOT NULL, fetched_at timestamptz NOT NULL DEFAULT now(),
                          size_bytes int NOT NULL, body bytea NOT NULL);
ALTER TABLE floor_pages ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE floor_listings (id bigserial PRIMARY KEY, source text NOT NULL, url text NOT NULL UNIQUE,
                             snapshot bytea REFERENCES floor_pages, parsed jsonb NOT NULL, vin text, year int,
                             make text, model text, outcome text);
CREATE TABLE floor_comments (id bigserial PRIMARY KEY, url text NOT NULL, external_id text NOT NULL, kind text,
                             author text, posted_at timestamptz, body text, amount numeric,
                             UNIQUE (url, external_id));
CREATE TABLE floor_images (id bigserial PRIMARY KEY, url text NOT NULL, image text NOT NULL, position int,
                           UNIQUE (url, image));
"""


def _store(conn, batch: list[tuple]) -> None:
    """One transaction of COPYs for a batch of (source, url, sha256, compressed body, size, listing)."""
    with conn.cursor() as cur:
        with cur.copy("COPY floor_pages (sha256, url, size_bytes, body) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bytea", "text", "int4", "bytea"])
            for _, url, sha, packed, size, _ in batch:
                copy.write_row((sha, url, size, packed))
        with cur.copy("COPY floor_listings (source, url, snapshot, parsed, vin, year, make, model, outcome) "
                      "FROM STDIN") as copy:
            for source, url, sha, _, _, listing in batch:
                outcome = listing.outcome.value if listing.outcome is not None else None
                copy.write_row((source, url, sha, json.dumps(listing.to_record()), listing.vin, listing.year,
                                listing.make, listing.model, outcome))
        with cur.copy("COPY floor_comments (url, external_id, kind, author, posted_at, body, amount) FROM STDIN") as copy:
            for _, url, _, _, _, listing in batch:
                for c in listing.comments or ():
                    copy.write_row((url, c.external_id, c.kind.value, c.author, c.posted_at, c.text, c.amount))
        with cur.copy("COPY floor_images (url, image, position) FROM STDIN") as copy:
            for _, url, _, _, _, listing in batch:
                for position, image in enumerate(listing.images):
                    copy.write_row((url, image, position))
    conn.commit()


def floor_worker(db_url: str, listings: list[tuple[str, str]], site: dict) -> float:
    """Fetch (over HTTPS at the real host names, as the pipeline does), hash, compress, parse and store
    `listings` (source, url); returns this process's CPU seconds."""
    started = time.process_time()
    batch: list[tuple] = []
    with _stand_in_client(site, 30) as client, psycopg.connect(db_url) as conn:
        for source, url in listings:
            response = client.get(url)
            response.raise_for_status()
            body = response.content
            module = sources.get(source)
            listing = module.parse(body, url=url, deep=module.is_auction)
            packed = pack_body(body)
            batch.append((source, url, packed.sha256, packed.compressed, len(body), listing))
            if len(batch) >= BATCH:
                _store(conn, batch)
                batch.clear()
        if batch:
            _store(conn, batch)
    return time.process_time() - started


def plain_listings(truth: dict) -> list[tuple[str, str]]:
    """The truth's listings as (source, url), less those only a browser reads (the sources the pipeline renders:
    Cars & Bids pages are a shell whose script loads the data). Their floor is a browser's: render_bench."""
    rendered = IngestSettings().render_sources
    return [(listing["source"], listing["fetch_url"]) for listing in truth["listings"]
            if sources.family(listing["source"]) not in rendered]


def _warm(_: int) -> None:
    """Imports done before the clock starts, as a long-lived worker would have them."""
    sources.get("bat")


def floor_run(pool, processes: int, db_url: str, listings: list[tuple[str, str]], site_pid: int | None,
              postmaster: int | None, site: dict) -> dict:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(FLOOR_TABLES)
    shares = [listings[i::processes] for i in range(processes)]
    pg0, site0 = postgres_cpu_seconds(postmaster), process_cpu_seconds(site_pid)
    started = time.perf_counter()
    worker_cpu = sum(pool.starmap(floor_worker, [(db_url, share, site) for share in shares]))
    wall = time.perf_counter() - started
    pg, site = postgres_cpu_seconds(postmaster) - pg0, process_cpu_seconds(site_pid) - site0
    with psycopg.connect(db_url, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM floor_listings").fetchone()[0]
    if stored != len(listings):
        raise RuntimeError(f"floor run stored {stored} listings of {len(listings)}")
    return {"processes": processes, "wall": wall, "worker_cpu": worker_cpu, "pg_cpu": pg, "site_cpu": site,
            "per_s": len(listings) / wall}


def build_report(r: dict) -> str:
    po = r["parse"]["per_s"]
    n = r["listings"]
    lines = [
        SECTION, "",
        f"- date: {r['date']} UTC; command: `{r['command']}`",
        f"- machine: {r['machine']['nproc']} CPUs, {r['machine']['ram_gib']:.1f} GiB RAM, Python "
        f"{r['machine']['python']}, PostgreSQL {r['pg_version']} ({r['server']})",
        f"- sample site: seed {r['seed']}, {r['site_listings']} generated listings, {n:,} visible, in a child "
        "process, listing pages rendered before the timed window (as pipeline_bench)",
        f"- parse-only in the same run (pipeline_bench's loop, one core): **{po:.1f} listings/s** "
        f"({r['parse']['seconds']:.2f} s for {n:,} pages)",
        "- the floor: fetch (httpx, one connection per process), `pack_body` (sha256 + zstd 3), `parse(deep=is_auction)`, COPY "
        "of page, parse, comments and images per 50 listings; no index pages, queue, registry, merge, history, "
        "outcome rules or Dagster (see the module docstring)",
        "",
        "| run | processes | wall s | listings/s | ÷ parse-only | CPU s workers / site / Postgres | CPU ms per "
        "listing | share of the box's cores |",
        "|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for i, run in enumerate(r["runs"], 1):
        cpu = run["worker_cpu"] + run["site_cpu"] + run["pg_cpu"]
        lines.append(f"| {i} | {run['processes']} | {run['wall']:.2f} | {run['per_s']:.1f} | "
                     f"**{run['per_s'] / po:.2f}** | {run['worker_cpu']:.1f} / {run['site_cpu']:.1f} / "
                     f"{run['pg_cpu']:.1f} | {1000 * cpu / n:.2f} | {cpu / run['wall'] / r['machine']['nproc']:.0%} |")
    by_count: dict[int, list[float]] = {}
    for run in r["runs"]:
        by_count.setdefault(run["processes"], []).append(run["per_s"] / po)
    lines += ["", "Median ÷ parse-only by processes: " + ", ".join(
        f"{k}: {statistics.median(v):.2f}" for k, v in sorted(by_count.items())), ""]
    if r.get("notes"):
        lines += [r["notes"].strip(), ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listings", type=int, default=5000, help="listings the sample site generates")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--processes", type=int, nargs="+", default=[2, 1, 2, 3, 2],
                   help="one timed run per count, in this order")
    p.add_argument("--embedded", action="store_true", help="use a private embedded server")
    p.add_argument("--notes", type=Path, default=None, help="a file whose text is appended to the section")
    p.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = p.parse_args()
    command = ".venv/bin/python bench/floor_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    with bench_database("floor", embedded=args.embedded) as bench_db, \
            SiteProcess(args.listings, args.seed, cache_pages=True) as site:
        truth = httpx.get(site.url + "/_truth", timeout=120).json()
        warm_site(truth, site.config)
        listings = plain_listings(truth)
        postmaster = postmaster_pid(bench_db.server_url)
        runs = []
        context = multiprocessing.get_context("forkserver")
        with context.Pool(max(args.processes)) as pool:
            pool.map(_warm, range(max(args.processes)))
            for count in args.processes:
                run = floor_run(pool, count, bench_db.url, listings, site.pid, postmaster, site.config)
                print(f"  {count} process(es): {run['wall']:.2f} s, {run['per_s']:.1f} listings/s", flush=True)
                runs.append(run)
        parse = parse_only(truth, site.config)

    results = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), "command": command,
               "machine": machine(), "pg_version": bench_db.pg_version, "server": bench_db.label,
               "seed": args.seed, "site_listings": args.listings, "listings": len(listings), "runs": runs,
               "parse": parse, "notes": args.notes.read_text() if args.notes else ""}
    report = build_report(results)
    print(report)
    if not args.no_write:
        write_section(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
