"""Parse throughput per source and page kind: the full parse against a bare selectolax parse of the same bytes.

Pages, in three groups that are reported apart:
- served pages of the corpus (../shared/corpus, when it exists): real pages and API responses as the sites
  served them;
- sample-site pages: what the project's sample site renders for every source (Mecum, Broad Arrow and
  classic.com have no corpus page), every page kind, the largest page of each kind from a 600-listing world,
  with the chrome of its site (navigation, scripts, styles, other listings: pages of the real sites' sizes);
- corpus excerpts: corpus files under EXCERPT_BYTES, which are cuts (a snippet of one element, an excerpt, a
  sanitized skeleton), not pages a site serves. They are measured and listed, never left out, but they are
  not what the target is about: see `EXCERPT_NOTE`.

For every page, in one run and in alternating batches (so both see the same machine load):
- pages/s of `module.parse(bytes)` (the full parse: DOM, selectors, embedded JSON, normalization),
- pages/s of a bare `LexborHTMLParser(bytes)` of the same bytes (plus a bare `json.loads` for JSON pages),
- peak memory of one full parse and of one bare parse, against the page size: resident (what the parse makes
  the process hold in RAM: the rise of its peak RSS over a trimmed heap, `resident_peak`) and traced
  (tracemalloc: what it asks of the allocators, touched or not).
Target (the parsers issue): per source and page kind, the full parse keeps at least half of the bare parse's
throughput (full/bare >= 0.5), and peak memory per page stays under 10x the page's size. Memory is judged on
the resident peak: lexbor reserves a ~1 MB arena for any document, an empty one included, and touches only
what the page needs, so the traced peak of a 20 KB page is 50x its size while the RAM it takes is not.

Every page is measured in fresh Python processes of its own (`--in-process` measures all in this one),
twice: as a new process runs, and with malloc told to keep freed memory (glibc `mallopt`: no trimming, no
mmap below 32 MB). lexbor allocates its document arena with malloc and frees it with the page; whether
malloc hands that memory back to the OS, so that the next parse faults it in again (up to +70% on a 100 KB
page), depends on what the process allocated before. The full parse has more at stake there: selectolax allocates
and frees ~109 KB of selector memory for every CSS query, which a trimming process faults in again each time. A
worker process may be in either state, so both are reported, for the full and the bare parse alike; the target is
judged on the lower full/bare of the two. The report also gives lexbor's floor: the peak of an empty document.

    .venv/bin/python bench/parse_bench.py [--seconds 0.5] [--deep] [--only TEXT] [--json FILE]
                                          [--before FILE] [--in-process] [--write]

`--only` keeps the pages whose source or name contains TEXT; `--json` saves the rows; `--before` adds the
full/bare of an earlier `--json` run as a column; `--write` replaces the "parse_bench" section of
bench/RESULTS.md (keeping its "### Changes" notes).
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
RESULTS = ROOT / "bench" / "RESULTS.md"
sys.path.insert(0, str(ROOT))

from vehicle_pipeline import sources  # noqa: E402
from vehicle_pipeline.model import ParseError  # noqa: E402

TARGET_RATIO = 0.5
TARGET_PEAK_X = 10.0
# Corpus files below this size are cuts made by the corpus curator or the repository it came from, not
# pages the sites serve (the real sites serve 30-800 KB).
EXCERPT_BYTES = 8 * 1024
EXCERPT_NOTE = (
    "These files are cuts, not pages a site serves: one result banner (661 B) or one listing card (5.5 KB) cut "
    "out of a BaT page, a sanitized 6 KB skeleton of a craigslist posting, and 3-4 KB excerpts of two dealer "
    "vehicle pages (MANIFEST.md labels them REAL-SNIPPET, SANITIZED and EXCERPT). On them the bare parse takes "
    "10-40 µs, while a full parse has a floor that does not shrink with the page: the bot-challenge check of "
    "the head, the canonical URL, a handful of selector queries, the JSON-LD or banner text and one "
    "`VehicleListing` (each a few µs in Python). So full/bare is below 0.5 on them and says little about the "
    "sites; their numbers are here so that nothing measured is left out."
)
SAMPLE_SEED, SAMPLE_LISTINGS = 5, 600


# ---------------------------------------------------------------- pages


def _manifest_labels() -> dict[str, str]:
    """File name → the MANIFEST.md label of a corpus file (REAL, REAL-SNIPPET, EXCERPT, SANITIZED…)."""
    labels: dict[str, str] = {}
    manifest = CORPUS / "MANIFEST.md"
    if manifest.exists():
        for line in manifest.read_text().splitlines():
            m = re.match(r"### (\S+?)(?::| —) \**([A-Z][A-Z-]+)", line)
            if m:
                labels[m.group(1)] = m.group(2)
    return labels


def corpus_pages() -> list[dict]:
    pages: list[dict] = []
    if not CORPUS.is_dir():
        return pages
    labels = _manifest_labels()
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            if f.is_file():
                data = f.read_bytes()
                group = "excerpt" if len(data) < EXCERPT_BYTES else "corpus"
                pages.append({"group": group, "source": folder.name, "page": f.name, "data": data,
                              "label": labels.get(f.name, "")})
    return pages


def sample_pages() -> list[dict]:
    """The sample site's pages of every source and page kind: per source, the largest listing page of each
    outcome (and of each dealer platform), every index entry page, C&B's detail JSON per outcome and
    classic.com's seller profiles."""
    from vehicle_pipeline.sample_site.pages import RendererMissing, load
    from vehicle_pipeline.sample_site.spec import SiteContext
    from vehicle_pipeline.sample_site.world import build_world

    world = build_world(SAMPLE_SEED, SAMPLE_LISTINGS)
    ctx = SiteContext(base_url="http://127.0.0.1:8765", now=world.clock)
    shown = world.snapshot()
    found: dict[tuple[str, str], tuple[str, bytes]] = {}

    def keep(source: str, what: str, path: str, body: bytes | None) -> None:
        if body and (found.get((source, what)) is None or len(body) > len(found[(source, what)][1])):
            found[(source, what)] = (path, body)

    for source in sources.SOURCE_NAMES:
        try:
            renderer = load(source)
        except RendererMissing:
            continue
        mine = [l for l in shown if l.source == source]
        for listing in mine:
            variant = f"listing {listing.outcome}"
            if source == "dealer":
                variant += f" ({listing.dealer})"
            keep(source, variant, renderer.listing_path(listing), renderer.render_listing(listing, ctx).body)
            if source == "carsandbids":
                path = f"/v2/autos/auctions/{listing.external_id}"
                rendered = renderer.render_path(path, {}, mine, ctx)
                keep(source, f"detail JSON {listing.outcome}", path, rendered.body if rendered else None)
        listed = shown if source == "classic" else mine
        try:
            paths = renderer.index_paths(listed)
        except TypeError:
            paths = renderer.index_paths()
        for path in paths:
            base, _, q = path.partition("?")
            query = dict(p.split("=", 1) for p in q.split("&") if "=" in p)
            rendered = renderer.render_index(base, query, listed, ctx)
            if rendered is None:
                continue
            keep(source, f"index {base}", path, rendered.body)
            if source == "classic":
                # the profile pages the directory links to: one dealer, one auction house
                parsed = sources.get("classic").parse(rendered.body, url=ctx.url("classic", base))
                for seller in parsed.sellers[:1]:
                    profile = urlsplit(seller.profile_url).path  # classic.com's own host: its path is the renderer's
                    page = renderer.render_index(profile, {}, listed, ctx)
                    keep(source, f"seller profile ({seller.kind})", profile, page.body if page else None)
    return [{"group": "sample", "source": source, "page": f"{what}: {path}", "data": body, "label": "sample site"}
            for (source, what), (path, body) in found.items()]


# ---------------------------------------------------------------- measuring


def bare(data: bytes):
    if data[:64].lstrip()[:1] in (b"{", b"["):
        return json.loads(data), LexborHTMLParser(data)
    return LexborHTMLParser(data)


def _batch_size(fn, data: bytes) -> int:
    fn(data)  # warm up
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(data)
        if time.perf_counter() - t0 >= 0.02:
            return n
        n *= 2


def rates(full, data: bytes, seconds: float) -> tuple[float, float]:
    """Pages per second of full(data) and of bare(data): the best batch of each, the two measured in
    alternating batches for `seconds` each, so that load from other processes falls on both alike."""
    nf, nb = _batch_size(full, data), _batch_size(bare, data)
    best_f = best_b = 0.0
    spent_f = spent_b = 0.0
    rounds = 0
    def batch(fn, n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(data)
        return time.perf_counter() - t0

    while spent_f < seconds or spent_b < seconds or rounds < 3:
        dt = batch(full, nf)
        spent_f += dt
        best_f = max(best_f, nf / dt)
        dt = batch(bare, nb)
        spent_b += dt
        best_b = max(best_b, nb / dt)
        rounds += 1
    return best_f, best_b


def peak_memory(fn, data: bytes) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn(data)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def resident_peak(fn, data: bytes) -> int | None:
    """Bytes by which one `fn(data)` raises the process's peak resident set: Linux's VmHWM, reset to the
    current RSS just before (`/proc/self/clear_refs` 5), over a heap that holds no freed memory in RAM
    (`malloc_trim(0)` gives its free pages back), so memory the parse reuses from earlier work counts too.
    Page-granular (4 KB). None where the kernel does not offer the reset."""
    import ctypes

    fn(data)  # first-call costs (compiled patterns, caches) are not the page's
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    base = _status_kb("VmRSS")
    held = fn(data)  # the result stays alive until the peak is read, as a caller would hold it
    peak = _status_kb("VmHWM")
    del held
    return max(0, peak - base) * 1024


def lexbor_floor() -> tuple[int, int | None]:
    """Traced and resident peak of `LexborHTMLParser` on an empty document: what lexbor allocates for any
    page (its arenas) before a byte of the page is parsed, and how much of it becomes RAM."""
    return peak_memory(LexborHTMLParser, b""), resident_peak(LexborHTMLParser, b"")


def kind_of(module, data: bytes, deep: bool) -> str:
    """The page kind: what the parse returns (listing / index / sellers, or rejected for a ParseError) and
    whether the page is JSON or HTML."""
    fmt = "json" if data[:64].lstrip()[:1] in (b"{", b"[") else "html"
    try:
        parsed = module.parse(data, deep=deep)
    except ParseError:
        return f"rejected {fmt}"
    return f"{parsed.to_contract()['kind']} {fmt}"


def outcome_of(module, data: bytes, deep: bool) -> str:
    try:
        parsed = module.parse(data, deep=deep)
    except ParseError as exc:
        return f"ParseError: {exc.missing[:40]}"
    contract = parsed.to_contract()
    if contract["kind"] == "listing":
        return f"outcome {contract.get('outcome')}"
    return f"{len(contract['items'])} items"


def measure(page: dict, seconds: float, deep: bool) -> dict | None:
    try:
        module = sources.get(page["source"])
    except (KeyError, ModuleNotFoundError):
        return None
    data = page["data"]

    def full(d, module=module):
        try:
            return module.parse(d, deep=deep)
        except ParseError:
            return None

    resident, bare_resident = resident_peak(full, data), resident_peak(bare, data)
    full_rate, bare_rate = rates(full, data, seconds)
    peak = peak_memory(full, data)
    bare_peak = peak_memory(bare, data)
    return {"group": page["group"], "source": page["source"], "page": page["page"], "label": page["label"],
            "kind": kind_of(module, data, deep), "result": outcome_of(module, data, deep), "bytes": len(data),
            "full": full_rate, "bare": bare_rate, "ratio": full_rate / bare_rate, "peak": peak, "bare_peak": bare_peak,
            "resident": resident, "bare_resident": bare_resident}


def _keep_freed_memory() -> None:
    """glibc: never trim the heap, never mmap below 32 MB, so freed arenas are reused without faults."""
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-1, 512 * 1024 * 1024)  # M_TRIM_THRESHOLD
    libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD


def _measure_apart(page: dict, path: Path, args) -> dict | None:
    """`measure(page)` in fresh interpreters, as started and with malloc keeping freed memory (see the
    module docstring); the second regime's numbers come back as `*_keep`."""
    path.write_bytes(page["data"])
    Path(str(path) + ".json").write_text(json.dumps({k: v for k, v in page.items() if k != "data"}))
    rows = []
    for keep in (False, True):
        cmd = [sys.executable, __file__, "--measure-one", str(path), "--seconds", str(args.seconds)]
        cmd += ["--deep"] if args.deep else []
        cmd += ["--keep-memory"] if keep else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    row, keep_row = rows
    if row is None:
        return None
    row.update(full_keep=keep_row["full"], bare_keep=keep_row["bare"], ratio_keep=keep_row["ratio"])
    for key in ("resident", "bare_resident"):  # the higher of the two processes'
        row[key] = max((r[key] for r in rows if r[key] is not None), default=None)
    return row


def _low(r: dict) -> float:
    """The full/bare a page is judged on: the lower of the two allocator states (one when in-process)."""
    return min(r["ratio"], r.get("ratio_keep", r["ratio"]))


def summarize(rows: list[dict]) -> list[dict]:
    """Per (source, page kind) over the served pages (corpus and sample site, not the excerpts): the
    throughput of parsing one of each page, full against bare (total bare time / total full time), and
    the worst page."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        if r["group"] != "excerpt":
            groups.setdefault((r["source"], r["kind"]), []).append(r)
    out = []
    for (source, kind), rs in groups.items():
        full_s = sum(1 / r["full"] for r in rs)
        bare_s = sum(1 / r["bare"] for r in rs)
        keep = all("full_keep" in r for r in rs)
        ratio_keep = sum(1 / r["bare_keep"] for r in rs) / sum(1 / r["full_keep"] for r in rs) if keep else None
        worst = min(rs, key=_low)
        out.append({"source": source, "kind": kind, "pages": len(rs), "min_kb": min(r["bytes"] for r in rs) / 1024,
                    "max_kb": max(r["bytes"] for r in rs) / 1024, "full_ms": 1000 * full_s / len(rs),
                    "bare_ms": 1000 * bare_s / len(rs), "ratio": bare_s / full_s, "ratio_keep": ratio_keep,
                    "low": min(bare_s / full_s, ratio_keep if ratio_keep is not None else bare_s / full_s),
                    "worst": worst, "peak_x": max(r["peak"] / r["bytes"] for r in rs),
                    "added_x": max(max(0, r["peak"] - r["bare_peak"]) / r["bytes"] for r in rs),
                    "bare_x": max(r["bare_peak"] / r["bytes"] for r in rs), "min_bytes": min(r["bytes"] for r in rs),
                    "resident_x": _max_x(rs, "resident"), "bare_resident_x": _max_x(rs, "bare_resident")})
    return out


def _max_x(rs: list[dict], key: str) -> float | None:
    values = [r[key] / r["bytes"] for r in rs if r.get(key) is not None]
    return max(values) if values else None


# ---------------------------------------------------------------- output


def _kb(n: int | None) -> str:
    return "–" if n is None else f"{n / 1024:,.0f}"


def _line(r: dict) -> str:
    keep = (f"  kept-memory full {1000 / r['full_keep']:7.3f} bare {1000 / r['bare_keep']:7.3f} ratio {r['ratio_keep']:4.2f}"
            if "full_keep" in r else "")
    keep += f"  resident {_kb(r['resident'])} KB (bare {_kb(r['bare_resident'])} KB)"
    return (f"{r['group']:7} {r['source']:11} {r['kind']:13} {r['bytes'] / 1024:7.1f} KB  full {1000 / r['full']:7.3f} ms"
            f"  bare {1000 / r['bare']:7.3f} ms  ratio {r['ratio']:4.2f}{keep}  peak {r['peak'] / 1024:6.0f} KB"
            f" ({r['peak'] / r['bytes']:5.1f}x, bare {r['bare_peak'] / 1024:5.0f} KB)  {r['page']}")


def memory_verdict(s: dict) -> str:
    """The memory target of a kind, on the resident peak: met, or missed and why ("lexbor's DOM": the bare
    parse alone holds 10x or more; otherwise the parser's own allocations miss it). Without a resident
    measure (no /proc reset here), the traced peak decides."""
    if s["resident_x"] is None:
        return "met (traced)" if s["peak_x"] < TARGET_PEAK_X else "**missed** (traced)"
    if s["resident_x"] < TARGET_PEAK_X:
        return "met"
    if s["bare_resident_x"] is not None and s["bare_resident_x"] >= TARGET_PEAK_X:
        return f"**missed** (lexbor's DOM: the bare parse alone {s['bare_resident_x']:.1f}×)"
    return "**missed**"


def _x(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.1f}×"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.5, help="timing budget per measurement (full and bare each)")
    ap.add_argument("--deep", action="store_true", help="parse with deep=True (BaT comments)")
    ap.add_argument("--only", default=None, help="only pages whose source or name contains this text")
    ap.add_argument("--json", default=None, help="save the measured rows to this file")
    ap.add_argument("--before", default=None, help="an earlier --json file: its full/bare becomes a column")
    ap.add_argument("--in-process", action="store_true", help="measure every page in this process")
    ap.add_argument("--write", action="store_true", help="write the results into bench/RESULTS.md")
    ap.add_argument("--measure-one", default=None, help=argparse.SUPPRESS)  # a page file (the child's job)
    ap.add_argument("--keep-memory", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.keep_memory:
        _keep_freed_memory()
    if args.measure_one:
        page = json.loads(Path(args.measure_one + ".json").read_text())
        page["data"] = Path(args.measure_one).read_bytes()
        print(json.dumps(measure(page, args.seconds, args.deep)))
        return 0

    pages = corpus_pages() + sample_pages()
    if args.only:
        pages = [p for p in pages if args.only in p["source"] or args.only in p["page"]]
    order = {"corpus": 0, "sample": 1, "excerpt": 2}
    pages.sort(key=lambda p: (order[p["group"]], p["source"], p["page"]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, page in enumerate(pages):
            if args.in_process:
                row = measure(page, args.seconds, args.deep)
            else:
                row = _measure_apart(page, Path(tmp) / f"{n}.page", args)
            if row is not None:
                rows.append(row)
                print(_line(row), flush=True)
    if not rows:
        print("no pages")
        return 1
    before = {}
    if args.before:
        before = {(r["source"], r["page"]): r for r in json.loads(Path(args.before).read_text())}
    summary = summarize(rows)
    floor, floor_resident = lexbor_floor()
    print()
    print(f"lexbor floor: an empty document's traced peak is {floor / 1024:.0f} KB, its resident peak {_kb(floor_resident)} KB")
    for s in summary:
        keep = f" / {s['ratio_keep']:4.2f} kept-memory" if s["ratio_keep"] is not None else ""
        print(f"{s['source']:11} {s['kind']:13} pages {s['pages']:2}  full {s['full_ms']:7.3f} ms  bare {s['bare_ms']:7.3f} ms"
              f"  full/bare {s['ratio']:4.2f}{keep}  worst {_low(s['worst']):4.2f} ({s['worst']['page']})"
              f"  resident {_x(s['resident_x'])} (bare {_x(s['bare_resident_x'])}), traced {s['peak_x']:.1f}x:"
              f" {memory_verdict(s).replace('*', '')}")
    if args.json:
        Path(args.json).write_text(json.dumps([{k: v for k, v in r.items()} for r in rows], indent=1))
    if args.write:
        write_results(rows, summary, before, args, floor, floor_resident)
    return 0


def write_results(rows: list[dict], summary: list[dict], before: dict, args, floor: int, floor_resident: int | None) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    flags = f" --seconds {args.seconds}" + (" --deep" if args.deep else "") + (" --only " + args.only if args.only else "")
    has_before = bool(before)
    lines = [
        "## parse_bench",
        "",
        f"- Date: {now}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other benchmarks), {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"- Command: `.venv/bin/python bench/parse_bench.py{flags}" + (" --before <earlier --json>" if has_before else "") + " --write`",
        f"- Full = `sources.<name>.parse(bytes{', deep=True' if args.deep else ''})`; bare = `LexborHTMLParser(bytes)` "
        "(+ `json.loads` for JSON pages) of the same bytes. Each is the best of timed batches, full and bare "
        "alternating, every page in fresh processes of its own: as a new process runs (\"new\") and with malloc "
        "keeping freed memory (\"kept\", glibc mallopt: no trim, no mmap below 32 MB). A new process may hand freed memory "
        "back to the OS and fault it in again on the next parse (glibc trims the top of its heap): lexbor's arena, "
        "which slows the bare parse as much as the full one, and the ~109 KB that selectolax allocates and frees for "
        "every CSS query, which slows the full parse alone. Which of these a fresh process does depends on its heap "
        "layout (the same page and code can read 0.41 or 0.62 there), so \"new\" can read higher or lower than \"kept\"; "
        "the target is judged on the lower of the two. "
        "Resident peak = how far one parse raises the process's peak RSS (VmHWM reset by `/proc/self/clear_refs` just "
        "before, over a heap that `malloc_trim(0)` has emptied of freed pages, so reused memory counts; the higher of the "
        "two processes; 4 KB pages). Traced peak = tracemalloc peak of one parse; added = full minus bare traced peak.",
        f"- Target: per source and page kind, full ≥ {TARGET_RATIO} × bare pages/s; peak memory < {TARGET_PEAK_X:.0f} × page size, "
        "judged on the resident peak: the RAM a parse takes.",
        f"- Why resident: `LexborHTMLParser` of an empty document has a traced peak of {floor / 1024:,.0f} KB (its arena, "
        f"reserved whole) but a resident peak of {_kb(floor_resident)} KB: lexbor touches only what the page needs. On the "
        f"traced measure every HTML page under {floor / 1024 / TARGET_PEAK_X:,.0f} KB would miss before a byte of it is parsed, "
        "though its parse takes a fraction of that in RAM. Both are reported.",
        "",
        "### Target per source and page kind",
        "",
        "Served pages only (corpus pages and sample-site pages; the corpus excerpts are listed apart below). "
        "full/bare is the throughput of parsing one of each page of the kind: total bare time over total full time. "
        "Parser's own = mean (full − bare) per page, new process (negative where the full parse reads only the "
        "page's embedded JSON and never builds the DOM the bare parse builds). Memory: the largest resident peak × size "
        "of the kind's pages, in brackets the bare parse's; then the largest traced peak × size, in brackets what the "
        "full parse allocates beyond the bare parse's traced peak.",
        "",
        "| source | kind | pages | size KB | full ms (mean) | bare ms (mean) | parser's own µs | full/bare new | full/bare kept "
        "| worst page (lower full/bare) | speed target | resident peak × size (bare) | traced peak × size (added) | memory target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|",
    ]
    for s in sorted(summary, key=lambda s: (s["source"], s["kind"])):
        size = f"{s['min_kb']:.1f}" if s["pages"] == 1 else f"{s['min_kb']:.1f}–{s['max_kb']:.1f}"
        ok = "met" if s["low"] >= TARGET_RATIO else "**missed**"
        mem = memory_verdict(s)
        keep = f"{s['ratio_keep']:.2f}" if s["ratio_keep"] is not None else "–"
        lines.append(f"| {s['source']} | {s['kind']} | {s['pages']} | {size} | {s['full_ms']:.3f} | {s['bare_ms']:.3f} | "
                     f"{1000 * (s['full_ms'] - s['bare_ms']):.0f} | {s['ratio']:.2f} | {keep} | "
                     f"{_low(s['worst']):.2f} ({s['worst']['page']}) | {ok} | {_x(s['resident_x'])} ({_x(s['bare_resident_x'])}) | "
                     f"{s['peak_x']:.1f}× ({s['added_x']:.1f}×) | {mem} |")

    def table(group_rows: list[dict]) -> list[str]:
        head = ("| source | kind | page | result | size KB | full pages/s (ms) new | bare pages/s (ms) new | full/bare new "
                "| full ms kept | bare ms kept | full/bare kept |")
        rule = "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
        if has_before:
            head += " before new / kept |"
            rule += "---:|"
        head += " resident KB (× size) | bare resident KB | traced peak KB (× size) | bare traced KB | added KB (× size) |"
        rule += "---:|---:|---:|---:|---:|"
        out = [head, rule]
        for r in group_rows:
            cells = (f"| {r['source']} | {r['kind']} | {r['page']} | {r['result']} | {r['bytes'] / 1024:.1f} | "
                     f"{r['full']:.0f} ({1000 / r['full']:.3f}) | {r['bare']:.0f} ({1000 / r['bare']:.3f}) | {r['ratio']:.2f} | ")
            cells += (f"{1000 / r['full_keep']:.3f} | {1000 / r['bare_keep']:.3f} | {r['ratio_keep']:.2f} |"
                      if "full_keep" in r else "– | – | – |")
            if has_before:
                b = before.get((r["source"], r["page"]))
                cells += (f" {b['ratio']:.2f} / {b['ratio_keep']:.2f} |" if b and "ratio_keep" in b
                          else f" {b['ratio']:.2f} |" if b else " – |")
            added = max(0, r["peak"] - r["bare_peak"])
            resident = r.get("resident")
            cells += (f" {_kb(resident)} ({_x(resident / r['bytes'] if resident is not None else None)}) | "
                      f"{_kb(r.get('bare_resident'))} |")
            cells += (f" {r['peak'] / 1024:.0f} ({r['peak'] / r['bytes']:.1f}×) | {r['bare_peak'] / 1024:.0f} | "
                      f"{added / 1024:.0f} ({added / r['bytes']:.1f}×) |")
            out.append(cells)
        return out

    for group, title, note in (
        ("corpus", "Corpus pages (served pages)", "Real pages and API responses as the sites served them (../shared/corpus)."),
        ("sample", "Sample-site pages",
         "Rendered by `vehicle_pipeline/sample_site` (the project's stand-in for the real sites), largest page of each "
         "kind from a world of %d listings (seed %d). Each page carries the chrome of its site around its facts "
         "(`sample_site/pages/_chrome.py`: navigation, inline CSS and scripts, JSON-LD of other types, other "
         "listings with their prices, comment threads), shaped like the corpus pages where the corpus has them, so "
         "the pages are as large as the real ones: BaT 400-600 KB, Cars & Bids 180-360 KB, Mecum lots ~230 KB (two "
         "thirds `__NEXT_DATA__`), Broad Arrow ~130 KB, classic.com and dealer pages 80-190 KB, craigslist 9-85 KB. "
         "Craigslist postings stay light (~18 KB, 1-5 photos each in the sample world; the corpus posting with 24 "
         "photos is 31 KB)." % (SAMPLE_LISTINGS, SAMPLE_SEED)),
        ("excerpt", "Corpus excerpts (cuts, not served pages)", EXCERPT_NOTE),
    ):
        group_rows = [r for r in rows if r["group"] == group]
        if group_rows:
            lines += ["", f"### {title}", "", note, ""] + table(group_rows)
    served = [r for r in rows if r["group"] != "excerpt"]
    below = [r for r in served if _low(r) < TARGET_RATIO]
    lines += ["", f"Served pages: median of the lower full/bare {statistics.median(_low(r) for r in served):.2f}, "
              f"{len(below)} of {len(served)} below {TARGET_RATIO}" + (": " + ", ".join(r["page"] for r in below) if below else "") + ".",
              "", f"The traced peak includes lexbor's arena, which lexbor allocates through Python's raw allocator: "
              f"{floor / 1024:,.0f} KB for an empty document, of which {_kb(floor_resident)} KB becomes resident. The added "
              "column is what the full parse itself allocates on top of the bare parse."]
    section = "\n".join(lines) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = text.find("## parse_bench")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        keep_notes = ""
        old = text[start: end if end >= 0 else len(text)]
        marker = old.find("\n### Changes")
        if marker >= 0:
            keep_notes = old[marker:].rstrip("\n") + "\n"
        text = text[:start] + section + keep_notes + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
