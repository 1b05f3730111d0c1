"""Lanes and pacing: one lane per origin (scheme, host, port), with at most `concurrency` requests in flight,
a randomized delay between requests, Retry-After holds, robots.txt's Crawl-delay, and the robots.txt verdict
cached for the origin. Lanes live on the client's event loop."""

from __future__ import annotations

import asyncio
import random
import time

from vehicle_pipeline.fetch.config import Pace


class Deferred(Exception):
    """The lane will not open within the in-request wait limit (the fetch becomes retry_later)."""

    def __init__(self, wait: float, status: int | None, detail: str | None = None):
        self.wait = wait
        self.status = status
        self.detail = detail


class Lane:
    def __init__(self, key: tuple, concurrency: int):
        self.key = key
        self.concurrency = concurrency
        self.slots = asyncio.Semaphore(concurrency)
        self.pace_lock = asyncio.Lock()  # FIFO: requests start in arrival order
        self.next_allowed = 0.0  # monotonic
        self.blocked_until = 0.0  # monotonic; set from a Retry-After
        self.blocked_status: int | None = None
        self.robots = None  # robots.Robots once loaded
        self.robots_task: asyncio.Task | None = None
        self.crawl_delay = 0.0
        self.ledger_held = False  # this lane holds its host in the shared ledger (until release)
        self.ledger_key = f"{key[0]}://{key[1]}:{key[2]}"  # the ledger's name for the host: the origin

    def hold_off(self, seconds: float, status: int | None) -> None:
        until = time.monotonic() + seconds
        if until > self.blocked_until:
            self.blocked_until = until
            self.blocked_status = status
        self.next_allowed = max(self.next_allowed, until)

    async def acquire(self, pace: Pace, rng: random.Random, max_inline_wait: float, shared=None) -> None:
        """Wait for a slot and this lane's next allowed start; Deferred when a hold outlasts max_inline_wait.
        `shared(lane, gap)`, when given, then waits until the lane holds its host in the shared pace ledger."""
        now = time.monotonic()
        if self.blocked_until - now > max_inline_wait:
            raise Deferred(self.blocked_until - now, self.blocked_status)
        await self.slots.acquire()
        try:
            async with self.pace_lock:
                while (wait := self.next_allowed - time.monotonic()) > 0:
                    if self.blocked_until - time.monotonic() > max_inline_wait:
                        raise Deferred(self.blocked_until - time.monotonic(), self.blocked_status)
                    await asyncio.sleep(wait)
                if shared is not None and (gap := max(pace.max_delay, self.crawl_delay)) > 0:
                    await shared(self, gap)
                self.next_allowed = time.monotonic() + max(pace.draw(rng), self.crawl_delay)
        except BaseException:
            self.slots.release()
            raise

    def release(self, pace: Pace, rng: random.Random) -> float:
        """End a request: the next may start a fresh delay after this one's finish. Returns that gap."""
        gap = max(pace.draw(rng), self.crawl_delay)
        if gap > 0:
            self.next_allowed = max(self.next_allowed, time.monotonic() + gap)
        self.slots.release()
        return gap
