"""`vehicle-pipeline …` commands. Errors are one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


class CommandError(Exception):
    """An expected failure: printed as one line, exit status `code`."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def cmd_parse(args: argparse.Namespace) -> int:
    from vehicle_pipeline import sources
    from vehicle_pipeline.model import ParseError

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"parse: cannot read {path}: {exc.strerror}", 2) from None
    try:
        module = sources.get(args.source)
    except KeyError as exc:
        raise CommandError(f"parse: {exc.args[0]}", 2) from None
    try:
        parsed = module.parse(data, url=args.url, deep=args.deep)
    except ParseError as exc:
        raise CommandError(f"{exc.source}: cannot parse {path.name}: {exc.missing}", 2) from None
    json.dump(parsed.to_contract(deep=args.deep), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def _open_db():
    from vehicle_pipeline.store import DatabaseError, MigrationError, open_database

    try:
        return open_database()
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None


def _print_table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)))


def _fmt(value) -> str:
    from datetime import datetime

    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def _jsonable(value):
    from datetime import datetime
    from decimal import Decimal

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def cmd_migrate(args: argparse.Namespace) -> int:
    from vehicle_pipeline.store import DatabaseError, MigrationError, migrate, resolve_urls

    try:
        applied = migrate(resolve_urls().domain)
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from vehicle_pipeline.store.db import DatabaseError, EmbeddedServer, pipeline_home, redact, resolve_urls

    try:
        if args.db_command == "url":
            urls = resolve_urls()
            print(urls.dagster if args.dagster else redact(urls.domain) if args.redact else urls.domain)
        elif args.db_command == "stop":
            import os

            if os.environ.get("DATABASE_URL"):
                raise CommandError("DATABASE_URL is set: that server is not ours to stop")
            stopped = EmbeddedServer(pipeline_home()).stop()
            print("embedded Postgres stopped" if stopped else "embedded Postgres was not running")
    except DatabaseError as exc:
        raise CommandError(str(exc)) from None
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    from vehicle_pipeline.store.queue import QUEUES, WorkQueue

    db = _open_db()
    try:
        queue = WorkQueue(db)
        if args.queue_command == "stats":
            rows = queue.stats()
            if args.json:
                print(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows]))
            else:
                _print_table(rows, ["queue", "source", "pending", "deferred", "running", "dead",
                                    "oldest_pending_secs", "done_last_hour"])
        elif args.queue_command == "requeue":
            if not args.dead:
                raise CommandError("queue requeue: say what to requeue (--dead)")
            if args.queue and args.queue not in QUEUES:
                raise CommandError(f"unknown queue {args.queue!r}; known: {', '.join(QUEUES)}")
            n = queue.requeue_dead(args.queue)
            print(f"requeued {n} dead item(s)" + (f" of {args.queue}" if args.queue else ""))
    finally:
        db.close()
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from vehicle_pipeline.store.sources import SourceRegistry, UnknownSource

    db = _open_db()
    try:
        registry = SourceRegistry(db)
        if args.sources_command == "list":
            rows = [s.__dict__ | {"in_backoff": s.in_backoff} for s in registry.list()]
            if args.json:
                print(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows]))
            else:
                _print_table(rows, ["name", "kind", "enabled", "auto_disabled", "confidence", "consecutive_failures",
                                    "backoff_level", "backoff_until", "last_success_at", "last_error"])
        else:
            try:
                health = registry.set_enabled(args.name, args.sources_command == "enable")
            except UnknownSource:
                raise CommandError(f"unknown source {args.name!r} (see `vehicle-pipeline sources list`)") from None
            print(f"{health.name}: {'enabled' if health.enabled else 'disabled'}")
    finally:
        db.close()
    return 0


def cmd_sample_site(args: argparse.Namespace) -> int:
    from vehicle_pipeline.sample_site.faults import FaultSpecError
    from vehicle_pipeline.sample_site.server import serve_forever

    if args.listings < 0:
        raise CommandError("sample-site: --listings must be >= 0", 2)
    try:
        serve_forever(port=args.port, listings=args.listings, seed=args.seed, faults=args.faults, clock=args.clock,
                      extra_ports=args.extra_ports, cache_pages=args.cache_pages)
    except FaultSpecError as exc:
        raise CommandError(f"sample-site: {exc}", 2) from None
    except OSError as exc:  # binding the port is the only OSError that reaches here
        raise CommandError(f"sample-site: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", 2) from None
    return 0


def _print_summary(report: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, default=str))
        return
    print("\nprofiles by source: " + (", ".join(f"{k} {v}" for k, v in report["profiles_by_source"].items()) or "none"))
    print("auction outcomes:   " + (", ".join(f"{k} {v}" for k, v in report["outcomes"].items()) or "none"))
    print("totals:             " + ", ".join(f"{k} {v}" for k, v in report["totals"].items()))
    failed_checks = [k for k, ok in report["checks"].items() if not ok]
    print(f"checks:             {len(report['checks']) - len(failed_checks)} passed, {len(failed_checks)} failed"
          + (f" ({', '.join(failed_checks)})" if failed_checks else ""))
    print("queue:")
    _print_table(report["queue"], ["queue", "source", "pending", "deferred", "running", "dead", "done_last_hour"])


def _launch(args: argparse.Namespace, sample: bool) -> int:
    from vehicle_pipeline import launch
    from vehicle_pipeline.store import DatabaseError, MigrationError
    from vehicle_pipeline.store.db import EmbeddedServer, pipeline_home

    log = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    site = None
    try:
        urls = launch.prepare_instance()
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    try:
        if sample:
            site = launch.start_sample_site(args.seed, args.listings, args.port)
            log(f"sample site: {site.base_url} (seed {args.seed}, {args.listings} listings)")
        log(f"database: {'embedded under ' + str(pipeline_home()) if urls.embedded else 'DATABASE_URL'}; "
            f"Dagster instance: {os.environ['DAGSTER_HOME']}")
        steps = launch.materialize_all(log=log)
        report = launch.summary(steps)
    finally:
        if site is not None:
            site.stop()
        if urls.embedded and not getattr(args, "keep_db", True):
            EmbeddedServer(pipeline_home()).stop()
    _print_summary(report, args.json)
    if not args.json:
        print("\nopen the UI with `vehicle-pipeline dev` to see these runs, their metadata and plots")
        print(_automation_line())
    return 1 if report["failed_steps"] else 0


def _automation_line() -> str:
    """What the user will find when a daemon runs the code location (the demo itself starts no daemon and
    changes no sensor or schedule state)."""
    from vehicle_pipeline.defs.automation import AUTOMATION_ENV, automation_running

    if automation_running():
        return (f"sensors and schedules run as soon as a daemon runs the code location (`vehicle-pipeline dev`); "
                f"{AUTOMATION_ENV}=stopped starts them stopped")
    return f"sensors and schedules start stopped ({AUTOMATION_ENV}=stopped): turn them on in the UI"


def cmd_demo(args: argparse.Namespace) -> int:
    return _launch(args, sample=True)


def cmd_run(args: argparse.Namespace) -> int:
    if os.environ.get("VEHICLE_PIPELINE_SAMPLE_SITE_URL"):
        raise CommandError("run: VEHICLE_PIPELINE_SAMPLE_SITE_URL is set; unset it to work the real sites "
                           "(or use `vehicle-pipeline demo`)")
    return _launch(args, sample=False)


def cmd_dev(args: argparse.Namespace) -> int:
    from vehicle_pipeline import launch
    from vehicle_pipeline.store import DatabaseError, MigrationError

    try:
        launch.prepare_instance()
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    site = None
    if not args.real_sites:
        site = launch.start_sample_site(args.seed, args.listings, args.site_port)
        print(f"sample site: {site.base_url} (every source points here; --real-sites to work the real ones)")
    print(f"Dagster UI on http://127.0.0.1:{args.port} (instance {os.environ['DAGSTER_HOME']})")
    try:
        return launch.dagster_dev(port=args.port)
    finally:
        if site is not None:
            site.stop()


def cmd_status(args: argparse.Namespace) -> int:
    """Everything an operator looks at first: totals, queue depth and alerts, source health."""
    from vehicle_pipeline.ingest.alerts import database_alerts
    from vehicle_pipeline.store.queue import WorkQueue
    from vehicle_pipeline.store.records import totals as record_totals
    from vehicle_pipeline.store.sources import SourceRegistry

    db = _open_db()
    try:
        with db.connection() as conn:
            totals = record_totals(conn)
        queue_rows = WorkQueue(db).stats()
        # the alert rules the database can answer (the alert sensor adds failed runs and stale assets)
        alerts = database_alerts(db)
        sources = [s.__dict__ | {"in_backoff": s.in_backoff} for s in SourceRegistry(db).list()]
    finally:
        db.close()
    if args.json:
        print(json.dumps({"totals": totals, "queue": [{k: _jsonable(v) for k, v in r.items()} for r in queue_rows],
                          "alerts": [a.message for a in alerts], "alert_keys": [a.key for a in alerts],
                          "sources": [{k: _jsonable(v) for k, v in r.items()} for r in sources]}))
        return 1 if alerts else 0
    print("totals: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    print("alerts: " + ("; ".join(a.message for a in alerts) if alerts else "none"))
    print("\nqueues:")
    _print_table(queue_rows, ["queue", "source", "pending", "deferred", "running", "dead", "oldest_pending_secs",
                              "done_last_hour"])
    print("\nsources:")
    _print_table(sources, ["name", "kind", "enabled", "auto_disabled", "in_backoff", "backoff_level",
                           "backoff_until", "consecutive_failures", "last_success_at", "last_error"])
    return 1 if alerts else 0


def cmd_trace(args: argparse.Namespace) -> int:
    """An item's whole story: the walk that found it, each claim and attempt with its error, the pages fetched,
    the vehicle and auction rows written."""
    from vehicle_pipeline.store.trace import NotFound, find, story

    db = _open_db()
    try:
        with db.connection() as conn:
            try:
                stories = [story(conn, c) for c in find(conn, args.what)]
            except NotFound as exc:
                raise CommandError(f"trace: {exc}") from None
    finally:
        db.close()
    if args.json:
        print(json.dumps(stories, default=_json_default))
        return 0
    for i, one in enumerate(stories):
        if i:
            print()
        _print_story(one)
    return 0


def _json_default(value):
    from datetime import datetime
    from decimal import Decimal
    from uuid import UUID

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    raise TypeError(type(value).__name__)


def _print_story(one: dict) -> None:
    print(f"correlation {one['correlation_id']}")
    listing = one["listing"]
    if listing:
        print(f"listing #{listing['id']} {listing['source']} {listing['external_id']} {listing['url']}")
        print(f"  status {listing['status']}, first seen {_fmt(listing['first_seen_at'])}, "
              f"last fetched {_fmt(listing['last_fetched_at'])}")
    print(f"found by {one['found_by'] or 'unknown'} at {_fmt(one['found_at'])}")
    print("work items:")
    for item in one["items"]:
        print(f"  #{item['id']} {item['queue']} {item['dedupe_key']}: {item['state']} after {item['attempts']} "
              f"attempt(s) of {item['max_attempts']}" + (f", last error: {item['last_error']}"
                                                         if item["state"] != "done" and item["last_error"] else ""))
    print("history:")
    for e in one["events"]:
        line = f"  {_fmt(e['at'])}  #{e['item_id']} {e['queue']:<16} {e['event']:<13}"
        if e["event"] != "queued":
            line += f" attempt {e['attempt']}"
        line += f" by {e['worker'] or '?'}"
        if e["error"]:
            line += f": {e['error']}"
        if e["result"]:
            line += " " + json.dumps(e["result"], default=str)
        print(line)
    print("snapshots:" + ("" if one["snapshots"] else " none"))
    for snap in one["snapshots"]:
        print(f"  {_fmt(snap['fetched_at'])}  http {snap['http_status']}  {snap['size_bytes']} bytes  "
              f"sha256 {snap['sha256'][:16]}  {snap['url']}")
    vehicle = one["vehicle"]
    if vehicle:
        print(f"vehicle #{vehicle['id']}: {vehicle['year'] or '?'} {vehicle['make'] or '?'} {vehicle['model'] or '?'}"
              f" VIN {vehicle['vin'] or '-'} ({vehicle['vin_state'] or 'none'}), first seen "
              f"{_fmt(vehicle['first_seen_at'])}")
    else:
        print("vehicle: none written")
    auction = one["auction"]
    if auction:
        print(f"auction #{auction['id']}: {auction['outcome']}, sale price {_fmt(auction['sale_price'])}, high bid "
              f"{_fmt(auction['high_bid'])} {auction['currency'] or ''}, ended {_fmt(auction['ended_at'])}, evidence "
              f"{auction['evidence'] or '-'}, from snapshot {(auction['snapshot'] or '-')[:16]}")
    elif listing and listing["source"].split(":")[0] in ("bat", "carsandbids", "mecum", "broadarrow"):
        print("auction: none written")


def cmd_backfill(args: argparse.Namespace) -> int:
    """Materialize a range of a day- or month-partitioned asset, one run per partition (e.g. BaT repairs of a
    year after a parser fix), with a progress bar on a terminal."""
    from vehicle_pipeline import launch
    from vehicle_pipeline.store import DatabaseError, MigrationError

    try:
        keys = launch.partition_keys(args.asset, args.first, args.last)
    except ValueError as exc:
        raise CommandError(f"backfill: {exc}", 2) from None
    try:
        launch.prepare_instance()
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    results = launch.backfill(args.asset, keys)
    failed = [r.partition for r in results if not r.success]
    print(f"{len(results) - len(failed)} of {len(results)} partition(s) done"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_health(args: argparse.Namespace) -> int:
    """Materialize pipeline_health (its named job, with the alert checks) on the project's instance and print
    its tables, as the UI shows them."""
    from vehicle_pipeline import launch
    from vehicle_pipeline.store import DatabaseError, MigrationError

    try:
        launch.prepare_instance()
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    step = launch.materialize_one("pipeline_health")
    if not step.success:
        raise CommandError(f"health: {step.error}")
    if args.json:
        print(json.dumps({k: v for k, v in step.metadata.items() if k != "health"} | {"checks": step.checks}))
    else:
        print(step.metadata.get("health", ""))
        failing = [name for name, ok in step.checks.items() if not ok]
        print("\nalert checks: " + ("all passing" if not failing else "failing: " + ", ".join(failing)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vehicle-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("parse", help="parse a saved page or API response and print the parse contract as JSON")
    p.add_argument("source", help="bat, carsandbids, mecum, broadarrow, craigslist, dealer, classic")
    p.add_argument("file")
    p.add_argument("--url", default=None, help="the page's URL, when the page does not state its canonical URL")
    p.add_argument("--deep", action="store_true", help="also extract comments and bids (BaT)")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser("demo", help="the main job: every asset once against the sample site, then a summary")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (progress goes to stderr)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--listings", type=int, default=120)
    p.add_argument("--port", type=int, default=8765, help="sample site port (another is used if it is taken)")
    p.add_argument("--stop-db", dest="keep_db", action="store_false",
                   help="stop the embedded Postgres afterwards (default: leave it running for `dev`)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="every asset once against the configured real sites")
    p.add_argument("--json", action="store_true")
    p.add_argument("--stop-db", dest="keep_db", action="store_false")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("dev", help="the Dagster UI (dagster dev on 127.0.0.1) on this project's instance")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--real-sites", action="store_true", help="do not start the sample site")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--listings", type=int, default=120)
    p.add_argument("--site-port", type=int, default=8765)
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("status", help="totals, queue depth and alerts, source health (exit 1 when an alert is on)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("backfill", help="materialize a range of partitions of a day- or month-partitioned asset")
    p.add_argument("asset", help="e.g. bat_repairs (months: 2024-01-01) or bat_listings (days: 2026-11-01)")
    p.add_argument("first", help="the first partition key")
    p.add_argument("last", help="the last partition key (inclusive)")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("health", help="materialize pipeline_health now and print its tables")
    p.add_argument("--json", action="store_true", help="the numbers and check results as JSON")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser("trace", help="an item's whole history: the run that found it, each claim and attempt, "
                                     "snapshots, the vehicle and auction rows written")
    p.add_argument("what", help="a listing URL, a VIN, a work item id, listing:<id>, a queue key or a correlation id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("migrate", help="apply pending schema migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("db", help="the database: print its URL or stop the embedded server")
    dbsub = p.add_subparsers(dest="db_command", required=True)
    url = dbsub.add_parser("url", help="print the domain database URL (starts the embedded server if needed)")
    url.add_argument("--dagster", action="store_true", help="print Dagster's storage URL (postgresql+psycopg2)")
    url.add_argument("--redact", action="store_true", help="hide the password")
    dbsub.add_parser("stop", help="stop the embedded Postgres server")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("queue", help="the work queue")
    qsub = p.add_subparsers(dest="queue_command", required=True)
    stats = qsub.add_parser("stats", help="pending/running/dead/oldest age per queue and source")
    stats.add_argument("--json", action="store_true")
    requeue = qsub.add_parser("requeue", help="give dead items a fresh set of attempts")
    requeue.add_argument("--dead", action="store_true", help="requeue dead items")
    requeue.add_argument("--queue", default=None)
    p.set_defaults(func=cmd_queue)

    p = sub.add_parser("sources", help="sources and their health")
    ssub = p.add_subparsers(dest="sources_command", required=True)
    lst = ssub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    for verb in ("enable", "disable"):
        sp = ssub.add_parser(verb)
        sp.add_argument("name")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("sample-site", help="serve the sample site (every source, truth at /_truth) on 127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port; the first stdout line is the base URL")
    p.add_argument("--listings", type=int, default=60)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--faults", default=None, help="fault spec, e.g. 'bat:429:rate=0.3:retry_after=5,mecum:slow:seconds=1'")
    p.add_argument("--clock", type=int, default=None, help="the site's clock as a UTC epoch (default 2026-11-01T00:00Z)")
    p.add_argument("--extra-ports", type=int, default=0, help="also serve the same site on this many more ports")
    p.add_argument("--cache-pages", action="store_true",
                   help="render each page once and serve it again as it is until the clock moves (benchmarks)")
    p.set_defaults(func=cmd_sample_site)
    return parser


def _restore_default_signals() -> None:
    """A shell that starts us in the background may leave SIGINT/SIGTERM ignored, and children inherit that:
    `dev` and `sample-site` must stay stoppable."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    _restore_default_signals()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vehicle-pipeline parse … | head`: the reader left; nothing to say
        sys.stdout = None
        return 0
    except Exception as exc:  # the promise is one clear line, never a traceback (unless asked for)
        if os.environ.get("VEHICLE_PIPELINE_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {args.command}: {type(exc).__name__}: {first} (VEHICLE_PIPELINE_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
