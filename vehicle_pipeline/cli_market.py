"""`vehicle-pipeline comps …` and `vehicle-pipeline watch …`: the market commands, in a module of their own so
the command list in cli.py grows by one line."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date


def _years(text: str | None) -> tuple[int | None, int | None]:
    from vehicle_pipeline.cli import CommandError
    from vehicle_pipeline.market.watches import WatchError, parse_years

    try:
        return parse_years(text)
    except WatchError as exc:
        raise CommandError(str(exc), 2) from None


def cmd_comps(args: argparse.Namespace) -> int:
    from vehicle_pipeline.cli import CommandError, _jsonable, _open_db, _print_table
    from vehicle_pipeline.market.search import QueryError, find_comps

    years = _years(args.years)
    try:
        since = date.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise CommandError(f"--since {args.since!r}: expected a date, YYYY-MM-DD", 2) from None
    db = _open_db()
    try:
        with db.connection() as conn:
            comps = find_comps(conn, args.query, years=years, since=since, source=args.source)
    except QueryError as exc:
        raise CommandError(str(exc), 2) from None
    finally:
        db.close()
    if args.json:
        json.dump({"query": {"make": comps.query.make, "family": comps.query.family, "words": comps.query.words},
                   "sales": [{k: _jsonable(v) for k, v in s.items()} for s in comps.sales], "stats": comps.stats},
                  sys.stdout, default=str)
        sys.stdout.write("\n")
        return 0
    what = " ".join(filter(None, (comps.query.make, comps.query.family, *comps.query.words)))
    print(f"sales of {what}: {len(comps.sales)}")
    rows = [{"date": s["ended_at"].date() if s["ended_at"] else None, "source": s["source"],
             "price": f"{int(s['sale_price']):,} {s['currency']}", "outcome": s["outcome"],
             "mileage": f"{s['mileage']:,} {s['mileage_unit'] or ''}".strip() if s["mileage"] is not None else None,
             "year": s["year"], "title": s["title"], "link": s["url"]} for s in comps.sales]
    _print_table(rows, ["date", "source", "price", "outcome", "mileage", "year", "title", "link"])
    if comps.stats:
        print()
        _print_table([{"currency": c, **{k: f"{v:,.0f}" if k != "count" else v for k, v in s.items()}}
                      for c, s in comps.stats.items()], ["currency", "count", "p25", "median", "p75", "min", "max"])
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from vehicle_pipeline.cli import CommandError, _open_db, _print_table
    from vehicle_pipeline.market.watches import WatchError, add_watch, list_watches, remove_watch

    db = _open_db()
    try:
        with db.connection() as conn:
            if args.watch_command == "add":
                sources = [s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None
                watch = add_watch(conn, args.name, make=args.make, model=args.model, years=args.years,
                                  max_price=args.max_price, currency=args.currency, source_names=sources)
                bound = (f"; price at most {watch.max_price:,} {watch.max_price_currency} (listings priced in other "
                         "currencies are not matched)" if watch.max_price is not None else "")
                print(f"saved search {watch.name!r} (id {watch.id}): matches from now on are posted to the webhook"
                      + bound)
            elif args.watch_command == "list":
                rows = [{"name": w.name, "make": w.make, "model": w.model,
                         "years": f"{w.year_min}-{w.year_max}" if w.year_min is not None else None,
                         "max_price": f"{w.max_price} {w.max_price_currency}" if w.max_price is not None else None,
                         "sources": ",".join(w.sources) if w.sources else "all"}
                        for w in list_watches(conn)]
                _print_table(rows, ["name", "make", "model", "years", "max_price", "sources"])
            elif not remove_watch(conn, args.name):
                raise CommandError(f"no saved search named {args.name!r}")
            else:
                print(f"removed saved search {args.name!r}")
    except WatchError as exc:
        raise CommandError(str(exc), 2) from None
    finally:
        db.close()
    return 0


def add_market_commands(sub) -> None:
    p = sub.add_parser("comps", help="comparable sales for a make/model query, with their statistics")
    p.add_argument("query", help="make and/or model, e.g. 'porsche 911', '911 carrera 4s', 'mazda miata'")
    p.add_argument("--years", default=None, help="model years, YEAR or FROM-TO")
    p.add_argument("--since", default=None, help="sales on or after this date (YYYY-MM-DD)")
    p.add_argument("--source", default=None, help="one source (bat, carsandbids, mecum, broadarrow, ...)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_comps)

    p = sub.add_parser("watch", help="saved searches that post new listings, price drops and results to the webhook")
    wsub = p.add_subparsers(dest="watch_command", required=True)
    add = wsub.add_parser("add", help="save a search")
    add.add_argument("name")
    add.add_argument("--make", default=None)
    add.add_argument("--model", default=None)
    add.add_argument("--years", default=None, help="YEAR or FROM-TO")
    add.add_argument("--max-price", type=int, default=None,
                     help="the highest price to match, in --currency; only listings priced in that currency are "
                          "compared (no conversion), so a listing in another currency does not match")
    add.add_argument("--currency", default=None,
                     help="ISO currency of --max-price (default USD), e.g. EUR, GBP, CAD")
    add.add_argument("--sources", default=None, help="comma-separated sources (default: all)")
    wsub.add_parser("list", help="the saved searches")
    rm = wsub.add_parser("remove", help="delete a saved search")
    rm.add_argument("name")
    p.set_defaults(func=cmd_watch)
