"""robots.txt per RFC 9309, fetched once per lane and cached (parsed by protego): 2xx = its rules; 4xx or
redirects that lead nowhere = no restrictions; 5xx, 429 or unreachable = disallow everything for
`robots_error_ttl` (the fetch fails with robots_unavailable, so the queue's attempts bound it). Crawl-delay
can only raise the lane's pace. The robots.txt request itself is paced by the lane like any other."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from protego import Protego

from vehicle_pipeline.fetch.config import Pace
from vehicle_pipeline.fetch.lanes import Lane
from vehicle_pipeline.fetch.results import REDIRECT_STATUSES, Reason
from vehicle_pipeline.fetch.transport import Attempt, attempt
from vehicle_pipeline.fetch.urls import check_url

if TYPE_CHECKING:
    from vehicle_pipeline.fetch.client import PoliteClient

ALLOW_ALL = "allow-all"


@dataclass
class Robots:
    parser: Protego | str | None  # Protego, ALLOW_ALL, or None = unavailable (disallow everything)
    expires: float  # monotonic
    detail: str = ""
    refused: bool = False  # the address guard refused the host: the fetch is refused_url, not the site's fault

    def allows(self, url: str, user_agent: str) -> bool:
        return self.parser is ALLOW_ALL or (isinstance(self.parser, Protego) and self.parser.can_fetch(url, user_agent))


async def robots_for(client: PoliteClient, lane: Lane, pace: Pace) -> Robots:
    """The lane's robots.txt verdict, loaded once per TTL however many fetches wait for it."""
    cfg = client.config
    if lane.robots is not None and lane.robots.expires > time.monotonic():
        return lane.robots
    if lane.robots_task is None or lane.robots_task.done():
        lane.robots_task = asyncio.ensure_future(_load(client, lane, pace))
    # shield: one caller being cancelled must not cancel the fetch other callers wait on
    robots = await asyncio.shield(lane.robots_task)
    lane.robots = robots
    if isinstance(robots.parser, Protego) and cfg.honor_crawl_delay:
        delay = robots.parser.crawl_delay(cfg.user_agent)
        lane.crawl_delay = min(float(delay), cfg.max_crawl_delay) if delay else 0.0
    return robots


async def _load(client: PoliteClient, lane: Lane, pace: Pace) -> Robots:
    cfg = client.config
    scheme, host, port = lane.key[:3]
    shown_host = f"[{host}]" if ":" in host else host
    url = f"{scheme}://{shown_host}:{port}/robots.txt"
    await client._acquire(lane, pace)  # Deferred propagates: the fetch becomes retry_later, nothing cached
    try:
        got = Attempt()
        for _ in range(cfg.max_redirects + 1):
            got = await attempt(client._http(), url, cfg, max_bytes=cfg.robots_max_bytes, truncate=True)
            if got.status in REDIRECT_STATUSES and got.location:
                url = urljoin(url, got.location)
                if check_url(url, allowed_hosts=None, allow_private_hosts=cfg.allow_private_hosts):
                    break
                continue
            break
    finally:
        client._release(lane, pace)
    now = time.monotonic()
    status = got.status if got.reason is None else None
    if status is not None and 200 <= status < 300:
        text = got.content.decode("utf-8", errors="replace")
        return Robots(Protego.parse(text), now + cfg.robots_ttl)
    if status is not None and (400 <= status < 500 and status != 429 or status in REDIRECT_STATUSES):
        # RFC 9309 2.3.1.3: "unavailable" (4xx, or redirects that lead nowhere) means no restrictions.
        return Robots(ALLOW_ALL, now + cfg.robots_ttl, f"robots.txt {status}")
    if got.reason is Reason.REFUSED_URL:
        return Robots(None, now + cfg.robots_error_ttl, got.detail or "refused", refused=True)
    # 5xx, 429 or unreachable: RFC 9309 2.3.1.4 says assume complete disallow, and try again later.
    detail = f"robots.txt http {status}" if status is not None else f"robots.txt unreachable: {got.detail}"
    return Robots(None, now + cfg.robots_error_ttl, detail)
