"""Rendering-fetcher benchmark (run by hand, not a test).

    .venv/bin/python bench/render_bench.py [--pages 60] [--write]

The sample site's Cars & Bids pages (HTML shells whose script fetches the signed auction JSON) read through
`RenderingFetcher` in headless Chromium, pacing off, at 1 and 2 pages open at once: pages/s, CPU seconds per
page of this process (the client and Playwright's Python side) and of the browser's processes, and the peak
RSS of the browser (every Chromium process of the fetcher, sampled every 50 ms) beside this process's. The
sample site runs in its own process. With --write the results replace the "render_bench" section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_bench import RESULTS, SiteProcess, machine, peak_rss_mb, site_config  # noqa: E402

from vehicle_pipeline.fetch.render import RenderConfig, RenderingFetcher  # noqa: E402
from vehicle_pipeline.http import FetchRequest, Pace, PoliteClient, SourcePolicy  # noqa: E402
from vehicle_pipeline.sources import carsandbids  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages split among the processes sharing them, so the sum over
    a browser's processes is its real footprint (summed RSS counts Chromium's shared pages once per process)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree() -> dict[int, tuple[str, int, float]]:
    """pid -> (command, PSS bytes, CPU seconds) of every process below this one."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        procs[int(entry)] = (int(fields[1]), cmd, int(fields[21]) * _PAGE, (int(fields[11]) + int(fields[12])) / _TICK)
    out, frontier = {}, [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cmd, rss, cpu) in procs.items():
            if ppid == parent and pid not in out:
                out[pid] = (cmd, _pss(pid) if "chrom" in os.path.basename(cmd).lower() else rss, cpu)
                frontier.append(pid)
    return out


def _browser(tree) -> dict[int, tuple[str, int, float]]:
    return {p: v for p, v in tree.items() if "chrom" in os.path.basename(v[0]).lower()}


def run(urls: list[str], site: dict, max_pages: int) -> dict:
    # The production client as demo runs it on the stand-in (resolve override, its CA), pacing off.
    config = site_config(site, pace=Pace(0, 0), sources={"carsandbids": SourcePolicy(allowed_hosts=carsandbids.ALLOWED_HOSTS)})
    peak = {"rss": 0}
    stop = threading.Event()
    cpu_seen: dict[int, float] = {}

    def sample() -> None:
        while not stop.is_set():
            procs = _browser(_tree())
            peak["rss"] = max(peak["rss"], sum(rss for _, rss, _ in procs.values()))
            for pid, (_, _, cpu) in procs.items():
                cpu_seen[pid] = cpu
            time.sleep(0.05)

    with PoliteClient(config) as client, RenderingFetcher(client, RenderConfig(max_pages=max_pages)) as renderer:
        first = renderer.fetch(urls[0], source="carsandbids")  # the browser's start, not measured
        if not first.ok:
            raise SystemExit(f"first page: {first.describe()}")
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        time.sleep(0.2)
        browser_cpu0 = sum(cpu_seen.values())
        started, cpu = time.perf_counter(), time.process_time()
        ok = sum(r.ok for _, r in renderer.fetch_many(FetchRequest(u, source="carsandbids") for u in urls))
        secs, own_cpu = time.perf_counter() - started, time.process_time() - cpu
        time.sleep(0.2)
        browser_cpu = sum(cpu_seen.values()) - browser_cpu0
        stop.set()
        sampler.join()
        processes = len(_browser(_tree()))
    if ok != len(urls):
        raise SystemExit(f"only {ok}/{len(urls)} rendered")
    row = {"max_pages": max_pages, "pages": len(urls), "pps": len(urls) / secs, "own_cpu_ms": own_cpu / len(urls) * 1000,
           "browser_cpu_ms": browser_cpu / len(urls) * 1000, "browser_rss_mb": peak["rss"] / 2**20,
           "processes": processes}
    print(f"max_pages={max_pages}: {row['pps']:.2f} pages/s, CPU/page {row['own_cpu_ms']:.0f} ms here + "
          f"{row['browser_cpu_ms']:.0f} ms browser, browser peak PSS {row['browser_rss_mb']:.0f} MB "
          f"({processes} processes)", flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", type=int, default=60)
    p.add_argument("--write", action="store_true")
    args = p.parse_args()
    load0 = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with SiteProcess(seed=7, listings=400) as site:
        truth = httpx.get(f"{site['bases'][0]}/_truth", timeout=60, trust_env=False).json()
        cab = [e["fetch_url"] for e in truth["listings"] if e["source"] == "carsandbids"]
        urls = [cab[i % len(cab)] for i in range(args.pages)]
        rows = [run(urls, site, m) for m in (1, 2)]
    if not args.write:
        return
    lines = [
        "## render_bench",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}, {os.popen('/usr/bin/chromium --version 2>/dev/null').read().strip() or 'Chromium'}",
        f"- command: `.venv/bin/python bench/render_bench.py {' '.join(sys.argv[1:])}`",
        f"- pages: {args.pages} sample-site Cars & Bids pages (a shell + its signed detail JSON, ~40 KiB), "
        "at https://carsandbids.com on the stand-in, pacing off, every request through the polite client (route "
        "interception); browser start excluded",
        f"- load average at start / end: {load0} / {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores shared)",
        "",
        "| pages open at once | pages/s | CPU ms/page (this process) | CPU ms/page (browser) | browser peak PSS MB (RSS with shared pages split) | browser processes |",
        "|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['max_pages']} | {r['pps']:.2f} | {r['own_cpu_ms']:.0f} | {r['browser_cpu_ms']:.0f} | "
          f"{r['browser_rss_mb']:.0f} | {r['processes']} |" for r in rows],
        "",
        f"Peak RSS of the benchmark process (client and Playwright's Python side): {peak_rss_mb():.0f} MB.",
        "",
    ]
    old = RESULTS.read_text()
    start = old.find("## render_bench")
    text = "\n".join(lines)
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + 1)
        new = old[:start] + text + ("" if end == -1 else "\n" + old[end + 1:])
    RESULTS.write_text(new.rstrip("\n") + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
