"""`vehicle-pipeline …` commands. Errors are one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit


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


def _source_row(health) -> dict:
    """A source's health as `status` and `sources list` show it: the last error in words (`last_error`), the
    stored text beside it (`last_error_raw`, for scripts that match on the client's tokens)."""
    from vehicle_pipeline.explain import fetch_outcome

    row = health.__dict__ | {"in_backoff": health.in_backoff}
    row["last_error_raw"] = health.last_error
    row["last_error"] = fetch_outcome(health.last_error) if health.last_error else None
    return row


def cmd_sources(args: argparse.Namespace) -> int:
    from vehicle_pipeline.store.sources import SourceRegistry, UnknownSource

    db = _open_db()
    try:
        registry = SourceRegistry(db)
        if args.sources_command == "list":
            rows = [_source_row(s) for s in registry.list()]
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

    if args.replay:
        return _serve_replay(args)
    if args.listings < 0:
        raise CommandError("sample-site: --listings must be >= 0", 2)
    from vehicle_pipeline.sample_site.dealers import MAX_DEALERS

    if not 1 <= args.dealers <= MAX_DEALERS:
        raise CommandError(f"sample-site: --dealers must be between 1 and {MAX_DEALERS}", 2)
    try:
        serve_forever(port=args.port, listings=args.listings, seed=args.seed, faults=args.faults, clock=args.clock,
                      cache_pages=args.cache_pages, dealers=args.dealers, mix=args.mix)
    except FaultSpecError as exc:
        raise CommandError(f"sample-site: {exc}", 2) from None
    except OSError as exc:  # binding the port is the only OSError that reaches here
        raise CommandError(f"sample-site: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", 2) from None
    return 0


def _serve_replay(args: argparse.Namespace) -> int:
    """`sample-site --replay FILE`: the recorded responses at their recorded host names until SIGINT/SIGTERM,
    printed as the sample site prints itself: the control origin, `ca PATH`, `config PATH` (for
    `demo --sample-site PATH`), one `resolve HOST ADDRESS:PORT` line per recorded host."""
    import signal
    import tempfile
    import threading

    from vehicle_pipeline.sample_site.replay import ReplayArchive, ReplayError, ReplaySite

    try:
        site = ReplaySite(ReplayArchive.load(args.replay), port=args.port)
    except ReplayError as exc:
        raise CommandError(f"sample-site: {exc}", 2) from None
    try:
        site.start()
    except OSError as exc:
        raise CommandError(f"sample-site: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", 2) from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    folder = Path(tempfile.mkdtemp(prefix="replay-client-"))
    try:
        settings = site.client_settings()
        config = folder / "client.json"
        config.write_text(json.dumps(settings | {"allow_private_hosts": list(settings["allow_private_hosts"])},
                                     indent=2) + "\n")
        lines = [site.base_url, f"ca {site.ca_file}", f"config {config}"]
        lines += [f"resolve {name} {target}" for name, target in site.resolve.items()]
        lines.append(f"{len(site.archive)} recorded responses; anything else is 404")
        print("\n".join(lines), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    """`snapshots export FILE [--source S] [--since D]`: stored pages out as a WARC file."""
    from datetime import datetime, timezone

    from vehicle_pipeline.store.snapshot_export import export_snapshots

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            raise CommandError(f"snapshots export: --since must be an ISO date or time, not {args.since!r}", 2) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
    out = Path(args.file)
    partial = out.with_name(out.name + ".partial")  # a failed export leaves no half-written file behind
    db = _open_db()
    try:
        with db.connection() as conn, partial.open("wb") as fh:
            report = export_snapshots(conn, fh, source=args.source, since=since)
        partial.replace(out)
    except ValueError as exc:
        raise CommandError(f"snapshots export: {exc}", 2) from None
    except OSError as exc:
        raise CommandError(f"snapshots export: cannot write {out}: {exc.strerror}", 2) from None
    finally:
        partial.unlink(missing_ok=True)
        db.close()
    print(f"wrote {report.records} snapshot(s), {report.bytes} bytes of pages, to {out}")
    return 0


def _add_snapshots_parser(sub) -> None:
    p = sub.add_parser("snapshots", help="stored page snapshots")
    ssub = p.add_subparsers(dest="snapshots_command", required=True)
    export = ssub.add_parser("export", help="write the stored pages as a WARC file (replay it with "
                                            "`sample-site --replay` or `demo --replay`)")
    export.add_argument("file", help="the WARC file to write, e.g. night.warc.gz")
    export.add_argument("--source", default=None, help="only this source's pages (bat, craigslist, dealer:<slug>, …)")
    export.add_argument("--since", default=None, help="only pages fetched at or after this ISO date or time (UTC)")
    p.set_defaults(func=cmd_snapshots)


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
    from vehicle_pipeline.sample_site.replay import ReplayError
    from vehicle_pipeline.store import DatabaseError, MigrationError
    from vehicle_pipeline.store.db import EmbeddedServer, pipeline_home

    log = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    site = None
    replay = getattr(args, "replay", None)
    try:  # the demo has a database and Dagster instance of its own; a replay starts it afresh
        urls = launch.prepare_instance("demo" if sample else None, fresh=bool(replay))
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    try:
        if replay:
            try:
                site = launch.start_replay(replay)
            except (ReplayError, ValueError) as exc:
                raise CommandError(f"demo: {exc}", 2) from None
            except OSError as exc:
                raise CommandError(f"demo: cannot serve the replay: {exc.strerror}", 2) from None
            log(f"replaying {replay}: {len(site.archive)} recorded responses at their host names over HTTPS "
                f"({len(site.resolve)} hosts), CA {site.ca_file}")
        elif sample and getattr(args, "sample_site", None):
            control = _use_sample_site_file(args.sample_site)
            log(f"sample site: {control} (already running; config {args.sample_site})")
        elif sample:
            site = launch.start_sample_site(args.seed, args.listings, args.port)
            log(f"sample site: {site.base_url} (seed {args.seed}, {args.listings} listings; every site at its "
                f"real host name over HTTPS, CA {site.ca_file})")
        where = f"embedded under {pipeline_home()}" if urls.embedded else "on the DATABASE_URL server"
        log(f"database: {urlsplit(urls.domain).path.lstrip('/')} ({where}); "
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
        if report["failed_steps"]:
            print(f"\n{report['failed_steps']} step(s) failed (one line each above); each run's full log is in the "
                  f"UI, and VEHICLE_PIPELINE_DEBUG=1 prints it here")
        ui = "vehicle-pipeline dev" if sample else "vehicle-pipeline dev --real-sites"
        print(f"\nopen the UI with `{ui}` to see these runs, their metadata and plots")
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


def _use_sample_site_file(path: str) -> str:
    """Point this process at a sample site started by `vehicle-pipeline sample-site` (its `config` file)."""
    from vehicle_pipeline import launch

    try:
        with open(path) as f:
            config = json.load(f)
        return launch.use_sample_site(config)
    except (OSError, ValueError) as exc:
        raise CommandError(f"--sample-site {path}: {exc}", 2) from None


def cmd_demo(args: argparse.Namespace) -> int:
    return _launch(args, sample=True)


def cmd_run(args: argparse.Namespace) -> int:
    from vehicle_pipeline import launch

    # The stand-in's CA is what a shell left set up for the demo always carries, and no real site needs it. A
    # name-resolution override and private-host exceptions alone are ordinary configuration (a private
    # mirror, a test that makes the real web unreachable): the per-source check in `materialize_all` holds
    # them to what they name.
    if os.environ.get(launch.EXTRA_CA_ENV):
        set_vars = [n for n in (launch.RESOLVE_ENV, launch.EXTRA_CA_ENV, launch.ALLOW_PRIVATE_ENV) if os.environ.get(n)]
        raise CommandError(f"run: {', '.join(set_vars)} set (the sample site's settings); unset to work the real "
                           "sites (or use `vehicle-pipeline demo`)")
    return _launch(args, sample=False)


def cmd_dev(args: argparse.Namespace) -> int:
    from vehicle_pipeline import launch
    from vehicle_pipeline.store import DatabaseError, MigrationError

    try:  # on the sample site, the demo's instance; on the real sites, the real one
        launch.prepare_instance(None if args.real_sites else "demo")
    except (DatabaseError, MigrationError) as exc:
        raise CommandError(str(exc)) from None
    site = None
    if args.sample_site and not args.real_sites:
        control = _use_sample_site_file(args.sample_site)
        print(f"sample site: {control} (already running; every source's host name resolves to it)")
    elif not args.real_sites:
        site = launch.start_sample_site(args.seed, args.listings, args.site_port)
        print(f"sample site: {site.base_url} (every source's host name resolves to it over HTTPS; "
              "--real-sites to work the real ones)")
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
        sources = [_source_row(s) for s in SourceRegistry(db).list()]
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
    if one["events_purged_for"]:
        print("  (earlier events deleted by retention: the history of item(s) "
              + ", ".join(f"#{i}" for i in one["events_purged_for"]) + " starts mid-way)")
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
    parser.add_argument("--demo", action="store_true",
                        help="work on the demo's database and Dagster instance (what `demo` and `dev` use)")
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
    p.add_argument("--sample-site", default=None, metavar="CONFIG",
                   help="use a running `vehicle-pipeline sample-site` (the config file it printed) instead of starting one")
    p.add_argument("--stop-db", dest="keep_db", action="store_false",
                   help="stop the embedded Postgres afterwards (default: leave it running for `dev`)")
    p.add_argument("--replay", default=None, metavar="FILE",
                   help="run over a recorded crawl (WARC file or capture folder) into a fresh demo database")
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
    p.add_argument("--sample-site", default=None, metavar="CONFIG",
                   help="use a running `vehicle-pipeline sample-site` (the config file it printed) instead of starting one")
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

    p = sub.add_parser("sample-site", help="serve the stand-in: every site at its real host names over HTTPS on "
                                           "loopback (prints the resolve map, CA and config), truth at /_truth")
    p.add_argument("--port", type=int, default=8765,
                   help="control origin port (0 picks a free one); the first stdout line is its URL")
    p.add_argument("--listings", type=int, default=60)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--faults", default=None, help="fault spec, e.g. 'bat:429:rate=0.3:retry_after=5,mecum:slow:seconds=1'")
    p.add_argument("--clock", type=int, default=None, help="the site's clock as a UTC epoch (default 2026-11-01T00:00Z)")
    p.add_argument("--cache-pages", action="store_true",
                   help="render each page once and serve it again as it is until the clock moves (benchmarks)")
    p.add_argument("--dealers", type=int, default=4,
                   help="dealers in the world, each at its own host www.<slug>.example (default 4: the named ones)")
    p.add_argument("--mix", choices=("real", "even"), default="real",
                   help="where listings go after the fixed scenarios: 'real' proportions per source (default), or "
                        "'even': each to the host (auction site, metro, dealer) with the fewest so far")
    p.add_argument("--replay", default=None, metavar="FILE",
                   help="serve a recorded crawl (WARC file, or a folder with manifest.json) instead; 404 for the rest")
    p.set_defaults(func=cmd_sample_site)

    from vehicle_pipeline.cli_market import add_market_commands  # comps, watch

    add_market_commands(sub)
    _add_snapshots_parser(sub)
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
    if args.demo:  # children (Dagster run workers) inherit it
        from vehicle_pipeline.store.db import INSTANCE_ENV

        os.environ[INSTANCE_ENV] = "demo"
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
