"""Fetch benchmark of the polite client (run by hand, not a test).

    .venv/bin/python bench/fetch_bench.py [--pages 2000] [--write]

1. Raw speed: the same listing URLs from the sample site on loopback (every site at its real host names, one
   loopback address per site), pacing off, at concurrency 1, 8 and 32, over HTTPS (the stand-in's throwaway
   CA, as demo and tests run) and over plain HTTP (the same site with TLS off), through `PoliteClient.fetch_many`, through a bare httpx loop (AsyncClient + semaphore: the issue's
   baseline) and through a bare aiohttp loop (the client's own transport, so client / bare aiohttp is the
   cost of politeness alone) in the same run, alternating, best of `--repeats`. The sample site (ThreadingHTTPServer) runs in its own process so
   the client and the server do not share a GIL; it is the same server for both, so the ratio is fair
   even when the server is the bottleneck.
2. HTTP/1.1 against HTTP/2: the same pages from an HTTPS server that offers both (hypercorn, ALPN, in its own
   process), through the client with `http2` off and on, and through bare httpx loops of each (the stand-in
   itself speaks HTTP/1.1 only).
3. Politeness: 20 hosts (one sample site with 19 extra ports), 0.2 s between requests, concurrency 1 per
   host: pages/s against the 100 pages/s limit, and the smallest gap any host saw, from the server's own
   timestamps.

With --write the results replace the "fetch_bench" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import os
import platform
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import aiohttp.abc
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # vehicle_pipeline_tests.h2_server

from vehicle_pipeline.http import FetchRequest, HttpConfig, Pace, PoliteClient

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"


# ---- the sample site, in a child process


def _serve(conn, kwargs, nodelay):
    from vehicle_pipeline.sample_site import front, server

    if nodelay:
        # The handler writes headers and body in separate sends; with Nagle on, the body waits for the
        # client's delayed ACK (~40 ms), which caps any client at ~25 pages/s per connection.
        front.Handler.disable_nagle_algorithm = True
    site = server.SampleSite(**kwargs)
    site.start()
    conn.send({"bases": list(site.base_urls), "resolve": site.resolve,
               "ca": site.ca_file if site.front.tls else None})
    conn.recv()
    site.stop()


class SiteProcess:
    nodelay = True

    def __init__(self, **kwargs):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, kwargs, self.nodelay), daemon=True)

    def __enter__(self) -> dict:
        self._proc.start()
        if not self._conn.poll(120):
            raise RuntimeError("sample site did not start")
        return self._conn.recv()

    def __exit__(self, *exc):
        try:
            self._conn.send("stop")
        except OSError:
            pass
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()


def _serve_h2(conn):
    from vehicle_pipeline_tests.h2_server import H2Server

    with H2Server() as server:
        conn.send((server.origin, server.ca_file))
        conn.recv()


class H2Process(SiteProcess):
    """The HTTP/2-capable HTTPS server in a child process: (origin, CA file)."""

    def __init__(self):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_h2, args=(child,), daemon=True)


# ---- helpers


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def listing_urls(site: dict, n: int) -> tuple[list[str], str]:
    """n URLs of listing pages at their real host names (cycled if the site has fewer); http:// when the
    stand-in runs without TLS."""
    truth = httpx.get(f"{site['bases'][0]}/_truth", timeout=60, trust_env=False).json()
    urls = [i["fetch_url"] for i in truth["listings"]]
    if site["ca"] is None:
        urls = ["http://" + u.removeprefix("https://") for u in urls]
    with httpx.Client(transport=StandInTransport(site), trust_env=False, timeout=30) as c:
        bad = [u for u in urls[:50] if c.get(u).status_code != 200]
    if bad:
        raise SystemExit(f"listing pages not all 200 ({len(bad)}/50 bad, e.g. {bad[0]})")
    hosts = len({httpx.URL(u).host for u in urls})
    return [urls[i % len(urls)] for i in range(n)], f"sample listing pages on {hosts} hosts"


def _ssl(site: dict):
    import ssl

    return ssl.create_default_context(cafile=site["ca"]) if site["ca"] else None


class StandInTransport(httpx.HTTPTransport):
    """httpx to the stand-in at the real host names: the address from the resolve map, the name kept in the
    Host header, SNI and the certificate check (what the client's `resolve` setting does)."""

    def __init__(self, site: dict, **kw):
        self._resolve = site["resolve"]
        super().__init__(verify=_ssl(site) or True, **kw)

    def handle_request(self, request):
        _retarget(self._resolve, request)
        return super().handle_request(request)


class AsyncStandInTransport(httpx.AsyncHTTPTransport):
    def __init__(self, site: dict, **kw):
        self._resolve = site["resolve"]
        super().__init__(verify=_ssl(site) or True, **kw)

    async def handle_async_request(self, request):
        _retarget(self._resolve, request)
        return await super().handle_async_request(request)


def _retarget(resolve: dict, request) -> None:
    address, port = resolve[request.url.host].rsplit(":", 1)
    request.extensions = {**request.extensions, "sni_hostname": request.url.host}
    request.url = request.url.copy_with(host=address, port=int(port))


class StaticResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver with the stand-in's resolve map (the bare loop's equivalent of the client's)."""

    def __init__(self, resolve: dict):
        self._resolve = {h: (a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for h, a in resolve.items()}

    async def resolve(self, host, port=0, family=0):
        address, fixed = self._resolve[host]
        return [{"hostname": host, "host": address, "port": fixed, "family": 2, "proto": 0, "flags": 4}]

    async def close(self):
        pass


async def bare_loop(urls: list[str], concurrency: int, site: dict) -> tuple[float, int, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = AsyncStandInTransport(site, limits=limits)
    async with httpx.AsyncClient(transport=transport, trust_env=False, timeout=30) as client:
        await client.get(urls[0])  # warm a connection, as the polite client warms robots.txt
        sem = asyncio.Semaphore(concurrency)
        nbytes = ok = 0

        async def one(url: str) -> None:
            nonlocal nbytes, ok
            async with sem:
                r = await client.get(url)
                nbytes += len(r.content)
                ok += r.status_code == 200

        started = time.perf_counter()
        cpu = time.process_time()
        await asyncio.gather(*(one(u) for u in urls))
        bare_loop.cpu = time.process_time() - cpu
        return time.perf_counter() - started, nbytes, ok


async def bare_aiohttp_loop(urls: list[str], concurrency: int, site: dict) -> tuple[float, int, int]:
    connector = aiohttp.TCPConnector(limit=concurrency, resolver=StaticResolver(site["resolve"]),
                                     ssl=_ssl(site) or True)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(urls[0]) as r:
            await r.read()
        sem = asyncio.Semaphore(concurrency)
        nbytes = ok = 0

        async def one(url: str) -> None:
            nonlocal nbytes, ok
            async with sem:
                async with session.get(url) as r:
                    nbytes += len(await r.read())
                    ok += r.status == 200

        started = time.perf_counter()
        cpu = time.process_time()
        await asyncio.gather(*(one(u) for u in urls))
        bare_aiohttp_loop.cpu = time.process_time() - cpu
        return time.perf_counter() - started, nbytes, ok


async def bare_tls_loop(urls: list[str], concurrency: int, ca_file: str, http2: bool) -> tuple[float, int, int]:
    import ssl

    context = ssl.create_default_context(cafile=ca_file)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=30, verify=context, http2=http2) as client:
        await client.get(urls[0])
        sem = asyncio.Semaphore(concurrency)
        nbytes = ok = 0

        async def one(url: str) -> None:
            nonlocal nbytes, ok
            async with sem:
                r = await client.get(url)
                nbytes += len(r.content)
                ok += r.status_code == 200

        started = time.perf_counter()
        cpu = time.process_time()
        await asyncio.gather(*(one(u) for u in urls))
        bare_tls_loop.cpu = time.process_time() - cpu
        return time.perf_counter() - started, nbytes, ok


def polite_h2_loop(urls: list[str], concurrency: int, ca_file: str, http2: bool) -> tuple[float, int]:
    cfg = HttpConfig(pace=Pace(0, 0, concurrency=concurrency), allow_private_hosts=["127.0.0.1"], extra_ca_file=ca_file,
                     http2=http2)
    with PoliteClient(cfg) as client:
        client.fetch(urls[0])  # robots.txt and a connection
        ok = 0
        started = time.perf_counter()
        cpu = time.process_time()
        for _, result in client.fetch_many(urls, max_in_flight=concurrency):
            ok += result.ok and result.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        polite_h2_loop.cpu = time.process_time() - cpu
        return time.perf_counter() - started, ok


def site_config(site: dict, **kw) -> HttpConfig:
    """The client as demo and tests configure it for the stand-in: the override, its CA, its hosts allowed."""
    return HttpConfig(resolve=site["resolve"], extra_ca_file=site["ca"], allow_private_hosts=list(site["resolve"]), **kw)


def polite_loop(urls: list[str], concurrency: int, site: dict) -> tuple[float, int, int]:
    cfg = site_config(site, pace=Pace(0, 0, concurrency=concurrency))
    with PoliteClient(cfg) as client:
        client.fetch(urls[0])  # robots.txt and a connection
        nbytes = ok = 0
        started = time.perf_counter()
        cpu = time.process_time()
        for _, result in client.fetch_many(urls, max_in_flight=concurrency):
            nbytes += len(result.content)
            ok += result.ok
        polite_loop.cpu = time.process_time() - cpu
        return time.perf_counter() - started, nbytes, ok


def polite_sync_calls(urls: list[str], site: dict) -> float:
    cfg = site_config(site, pace=Pace(0, 0))
    with PoliteClient(cfg) as client:
        client.fetch(urls[0])
        started = time.perf_counter()
        for u in urls:
            client.fetch(u)
        return time.perf_counter() - started


def asyncio_run_per_call(urls: list[str], site: dict) -> float:
    """The alternative design: a fresh event loop and AsyncClient per sync call (no keep-alive across calls)."""

    async def one(u: str) -> None:
        async with httpx.AsyncClient(transport=AsyncStandInTransport(site), trust_env=False, timeout=30) as c:
            (await c.get(u)).content

    started = time.perf_counter()
    for u in urls:
        asyncio.run(one(u))
    return time.perf_counter() - started


# ---- phases


def raw_speed(args) -> tuple[list[dict], dict]:
    rows = []
    extra = {"load_start": " ".join(f"{x:.1f}" for x in os.getloadavg())}
    for scheme in args.schemes:
        with SiteProcess(seed=7, listings=args.listings, tls=scheme == "https") as site:
            urls, note = listing_urls(site, args.pages)
            extra["note"] = note
            for c in args.concurrency:
                rows.append(_raw_row(args, scheme, c, urls, site))
            if scheme == args.schemes[0]:
                few = urls[: args.design_calls]
                extra["sync_fetch_pps"] = len(few) / polite_sync_calls(few, site)
                extra["asyncio_run_pps"] = len(few) / asyncio_run_per_call(few, site)
                print(
                    f"sync fetch() per call: {extra['sync_fetch_pps']:.0f} p/s; "
                    f"asyncio.run + new AsyncClient per call: {extra['asyncio_run_pps']:.0f} p/s",
                    flush=True,
                )
    extra["rss_mb"] = rss_mb()
    return rows, extra


def _raw_row(args, scheme: str, c: int, urls: list[str], site: dict) -> dict:
    best = {"bare": None, "aio": None, "client": None}
    cpu = {"bare": [], "aio": [], "client": []}
    paired = []  # client/bare of back-to-back runs: less exposed to load swings than best-of
    for _ in range(args.repeats):
        pair = {}
        for name in ("bare", "aio", "client"):
            if name == "bare":
                secs, nbytes, ok = asyncio.run(bare_loop(urls, c, site))
                cpu[name].append(bare_loop.cpu)
            elif name == "aio":
                secs, nbytes, ok = asyncio.run(bare_aiohttp_loop(urls, c, site))
                cpu[name].append(bare_aiohttp_loop.cpu)
            else:
                secs, nbytes, ok = polite_loop(urls, c, site)
                cpu[name].append(polite_loop.cpu)
            if ok != len(urls):
                raise SystemExit(f"{name} {scheme} c={c}: only {ok}/{len(urls)} ok")
            pair[name] = secs
            if best[name] is None or secs < best[name][0]:
                best[name] = (secs, nbytes)
        paired.append(pair["bare"] / pair["client"])
    row = {"scheme": scheme, "concurrency": c}
    for name, (secs, nbytes) in best.items():
        row[f"{name}_pps"] = len(urls) / secs
        row[f"{name}_mbps"] = nbytes / secs / 1e6
        # CPU of this process per page: the client's own cost, much less sensitive to the shared load
        row[f"{name}_cpu_ms"] = min(cpu[name]) / len(urls) * 1000
    row["ratio"] = row["client_pps"] / row["bare_pps"]
    row["aio_ratio"] = row["client_pps"] / row["aio_pps"]
    row["paired"] = statistics.median(paired)
    row["avg_kb"] = best["client"][1] / len(urls) / 1024
    print(
        f"{scheme:5} c={c:>2}  bare {row['bare_pps']:7.0f} p/s {row['bare_mbps']:6.1f} MB/s   "
        f"aiohttp {row['aio_pps']:7.0f} p/s   "
        f"client {row['client_pps']:7.0f} p/s {row['client_mbps']:6.1f} MB/s   ratio {row['ratio']:.0%} (paired median {row['paired']:.0%}), "
        f"vs aiohttp {row['aio_ratio']:.0%}   "
        f"cpu/page bare {row['bare_cpu_ms']:.2f} ms aiohttp {row['aio_cpu_ms']:.2f} ms client {row['client_cpu_ms']:.2f} ms",
        flush=True,
    )
    return row


def http_versions(args) -> list[dict]:
    """The client and a bare httpx loop over HTTP/1.1 and HTTP/2 against one HTTPS server offering both."""
    rows = []
    with H2Process() as (origin, ca_file):
        urls = [f"{origin}/page?kb=13&i={i}" for i in range(args.h2_pages)]
        for c in args.h2_concurrency:
            row = {"concurrency": c}
            for http2 in (False, True):
                name = "h2" if http2 else "h1"
                best_client = best_bare = None
                cpu_client, cpu_bare = [], []
                for _ in range(args.repeats):
                    secs, _, ok = asyncio.run(bare_tls_loop(urls, c, ca_file, http2))
                    cpu_bare.append(bare_tls_loop.cpu)
                    best_bare = secs if best_bare is None else min(best_bare, secs)
                    secs, ok2 = polite_h2_loop(urls, c, ca_file, http2)
                    cpu_client.append(polite_h2_loop.cpu)
                    best_client = secs if best_client is None else min(best_client, secs)
                    if ok != len(urls) or ok2 != len(urls):
                        raise SystemExit(f"{name} c={c}: only {ok}/{ok2} of {len(urls)} ok (over {name})")
                row[f"{name}_bare_pps"] = len(urls) / best_bare
                row[f"{name}_client_pps"] = len(urls) / best_client
                row[f"{name}_bare_cpu_ms"] = min(cpu_bare) / len(urls) * 1000
                row[f"{name}_client_cpu_ms"] = min(cpu_client) / len(urls) * 1000
            rows.append(row)
            print(f"c={c:>2}  HTTP/1.1 client {row['h1_client_pps']:6.0f} p/s {row['h1_client_cpu_ms']:.2f} ms cpu "
                  f"(bare {row['h1_bare_pps']:6.0f} p/s {row['h1_bare_cpu_ms']:.2f} ms)   HTTP/2 client "
                  f"{row['h2_client_pps']:6.0f} p/s {row['h2_client_cpu_ms']:.2f} ms cpu (bare {row['h2_bare_pps']:6.0f} p/s "
                  f"{row['h2_bare_cpu_ms']:.2f} ms)", flush=True)
    return rows


def politeness(args) -> dict:
    pace = args.pace
    # 20 plain-HTTP origins of the control server (the politeness rules do not depend on the scheme)
    with SiteProcess(seed=7, listings=60, extra_ports=args.hosts - 1) as site:
        bases = site["bases"]
        assert len(bases) == args.hosts, bases
        httpx.post(f"{bases[0]}/_admin/requests/clear", trust_env=False, timeout=10)
        urls = [f"{b}/_fault/status/200?polite={i}" for i in range(args.per_host) for b in bases]
        cfg = HttpConfig(pace=Pace(pace, pace, 1), allow_private_hosts=["127.0.0.1"])
        with PoliteClient(cfg) as client:
            started = time.perf_counter()
            ok = sum(r.ok for _, r in client.fetch_many((FetchRequest(u) for u in urls), max_in_flight=64))
            secs = time.perf_counter() - started
        log = httpx.get(f"{bases[0]}/_admin/requests", trust_env=False, timeout=30).json()
    by_port = defaultdict(list)
    for r in log:
        if not r["path"].startswith("/_admin"):
            by_port[r["port"]].append(r)
    start_gaps, idle_gaps = [], []
    for rows in by_port.values():
        rows.sort(key=lambda r: r["started"])
        start_gaps += [b["started"] - a["started"] for a, b in zip(rows, rows[1:])]
        idle_gaps += [b["started"] - a["finished"] for a, b in zip(rows, rows[1:])]
    limit = args.hosts / pace
    out = {
        "hosts": len(by_port),
        "pages": len(urls),
        "ok": ok,
        "seconds": secs,
        "pps": len(urls) / secs,
        "limit": limit,
        "share": len(urls) / secs / limit,
        "requests_seen": sum(len(v) for v in by_port.values()),
        "min_start_gap": min(start_gaps),
        "min_idle_gap": min(idle_gaps),
        "median_start_gap": statistics.median(start_gaps),
    }
    print(
        f"politeness: {out['hosts']} hosts, {out['pages']} pages in {secs:.1f}s = {out['pps']:.1f} p/s "
        f"({out['share']:.0%} of {limit:.0f}); min gap start-start {out['min_start_gap']:.3f}s, "
        f"finish-start {out['min_idle_gap']:.3f}s",
        flush=True,
    )
    return out


# ---- report


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"nproc {os.cpu_count()}, RAM {mem_gb:.0f} GiB, Python {platform.python_version()}, "
        f"httpx {httpx.__version__}, aiohttp {aiohttp.__version__}, {platform.system()} {platform.release()}"
    )


def _shown_python() -> str:
    try:
        return str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        return Path(sys.executable).name


def render(args, rows, extra, polite, h2_rows) -> str:
    lines = [
        "## fetch_bench",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{' '.join([_shown_python(), *sys.argv])}`",
        f"- pages: {extra['note']}, {args.pages} per run, best of {args.repeats}, "
        f"avg body {rows[0]['avg_kb']:.1f} KiB; sample site in its own process",
        f"- sample site handler with TCP_NODELAY: {'yes (set by the bench)' if SiteProcess.nodelay else 'no (as shipped)'}. "
        "As shipped it writes headers and body in two sends, so Nagle + delayed ACK hold each response "
        "~40 ms and both loops measure ~22 pages/s per connection (`--server-nagle` to see it)",
        f"- load average at start / end: {extra['load_start']} / {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(2 cores shared with other sessions; ratios are taken within one run, alternating bare/client)",
        "",
        "### Raw speed (pacing off, loopback, every site at its real host names)",
        "",
        "The client's transport is httpx (HTTP/2 offered; the stand-in answers HTTP/1.1). The target compares it "
        "with a bare httpx loop (the issue's baseline), so client / bare httpx is what politeness itself (lanes, "
        "robots, checks, the sync facade) costs; the bare aiohttp loop is the client's transport before httpx. "
        "`https` is the stand-in as demo and tests run it (TLS with its throwaway CA, reached through the client's "
        "name-resolution override); `http` is the same site with TLS off. The bare loops get the same resolve "
        "map and CA; concurrency is per host for the client (a lane per host), in total for the bare loops.",
        "",
        "| scheme | concurrency | bare httpx pages/s | bare MB/s | bare aiohttp pages/s | client pages/s | client MB/s "
        "| client / bare httpx (best of) | client / bare httpx (median of paired runs) | client / bare aiohttp "
        "| CPU ms/page httpx / aiohttp / client |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scheme']} | {r['concurrency']} | {r['bare_pps']:.0f} | {r['bare_mbps']:.1f} | {r['aio_pps']:.0f} | {r['client_pps']:.0f} "
            f"| {r['client_mbps']:.1f} | **{r['ratio']:.0%}** | {r['paired']:.0%} | {r['aio_ratio']:.0%} "
            f"| {r['bare_cpu_ms']:.2f} / {r['aio_cpu_ms']:.2f} / {r['client_cpu_ms']:.2f} |"
        )
    by = {(r["scheme"], r["concurrency"]): r for r in rows}
    tls = [f"c={c}: client {by['https', c]['client_cpu_ms']:.2f} vs {by['http', c]['client_cpu_ms']:.2f} ms, "
           f"bare aiohttp {by['https', c]['aio_cpu_ms']:.2f} vs {by['http', c]['aio_cpu_ms']:.2f} ms"
           for c in args.concurrency if ("https", c) in by and ("http", c) in by]
    if tls:
        lines += ["", "What TLS costs the client, CPU ms per page with / without TLS: " + "; ".join(tls) + "."]
    lines += [
        "",
        f"Peak RSS of the benchmark process (clients only, server excluded): {peak_rss_mb():.0f} MB "
        f"(RSS after the raw phase {extra['rss_mb']:.0f} MB).",
        "",
        f"Sync facade, concurrency 1, {args.design_calls} calls: `fetch()` per call on the client's background "
        f"loop {extra['sync_fetch_pps']:.0f} pages/s vs `asyncio.run` + a new AsyncClient per call "
        f"{extra['asyncio_run_pps']:.0f} pages/s (why the client owns one background loop thread).",
        "",
        f"### HTTP/1.1 and HTTP/2 (one HTTPS server offering both, hypercorn in its own process, {args.h2_pages} pages "
        "of 13 KiB, pacing off)",
        "",
        "| concurrency | client HTTP/1.1 pages/s | client HTTP/2 pages/s | bare httpx HTTP/1.1 / HTTP/2 pages/s "
        "| CPU ms/page client HTTP/1.1 / HTTP/2 | CPU ms/page bare HTTP/1.1 / HTTP/2 |",
        "|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['concurrency']} | {r['h1_client_pps']:.0f} | {r['h2_client_pps']:.0f} | {r['h1_bare_pps']:.0f} / "
          f"{r['h2_bare_pps']:.0f} | {r['h1_client_cpu_ms']:.2f} / {r['h2_client_cpu_ms']:.2f} | "
          f"{r['h1_bare_cpu_ms']:.2f} / {r['h2_bare_cpu_ms']:.2f} |" for r in h2_rows],
        "",
        f"### Politeness ({polite['hosts']} hosts, {args.pace} s between requests, concurrency 1 per host)",
        "",
        f"- {polite['pages']} pages ({polite['ok']} ok) in {polite['seconds']:.1f} s = **{polite['pps']:.1f} pages/s**, "
        f"{polite['share']:.0%} of the {polite['limit']:.0f} pages/s limit (target >= 90 %)",
        f"- server-side gaps per host (robots.txt included, {polite['requests_seen']} requests): "
        f"min start-to-start **{polite['min_start_gap']:.3f} s**, min previous-finish-to-start "
        f"{polite['min_idle_gap']:.3f} s, median start-to-start {polite['median_start_gap']:.3f} s",
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    start = old.find("## fetch_bench")
    text = text.rstrip("\n") + "\n"
    if start == -1:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = old.find("\n## ", start + 1)
        new = old[:start] + text + ("" if end == -1 else "\n" + old[end + 1 :])
    RESULTS.write_text(new.rstrip("\n") + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", type=int, default=2000)
    p.add_argument("--listings", type=int, default=2000, help="listings the sample site generates")
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--design-calls", type=int, default=300)
    p.add_argument("--hosts", type=int, default=20)
    p.add_argument("--per-host", type=int, default=60)
    p.add_argument("--pace", type=float, default=0.2)
    p.add_argument("--skip-raw", action="store_true")
    p.add_argument("--h2-pages", type=int, default=1000)
    p.add_argument("--h2-concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8])
    p.add_argument("--schemes", type=lambda s: s.split(","), default=["https", "http"],
                   help="https (the stand-in as demo and tests run it) and/or http (TLS off)")
    p.add_argument("--write", action="store_true", help="write the fetch_bench section of bench/RESULTS.md")
    p.add_argument("--server-nagle", action="store_true", help="leave Nagle on in the sample site (as shipped)")
    args = p.parse_args()
    SiteProcess.nodelay = not args.server_nagle
    rows, extra = raw_speed(args) if not args.skip_raw else ([], {})
    h2_rows = http_versions(args)
    polite = politeness(args)
    if args.write and rows:
        write_section(render(args, rows, extra, polite, h2_rows))
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
