"""The client's configuration: pace per origin, per-source policy (allowed hosts, pace) and `HttpConfig`."""

from __future__ import annotations

import os
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from vehicle_pipeline import hosts
from vehicle_pipeline.fetch.results import RETRY_STATUSES

DEFAULT_USER_AGENT = "vehicle-pipeline/0.1 (+contact: set VEHICLE_PIPELINE_USER_AGENT)"
USER_AGENT_ENV = "VEHICLE_PIPELINE_USER_AGENT"


@dataclass(frozen=True)
class Pace:
    """Pacing of one origin: a delay drawn uniformly from [min_delay, max_delay] separates a request's start
    from the previous request's start *and* finish on that origin; at most `concurrency` in flight."""

    min_delay: float = 2.0
    max_delay: float = 5.0
    concurrency: int = 1

    def __post_init__(self) -> None:
        if self.min_delay < 0 or self.max_delay < self.min_delay:
            raise ValueError(f"pace needs 0 <= min_delay <= max_delay, got {self.min_delay}..{self.max_delay}")
        if self.concurrency < 1:
            raise ValueError("pace concurrency must be at least 1")

    def draw(self, rng: random.Random) -> float:
        if self.max_delay == self.min_delay:
            return self.min_delay
        return rng.uniform(self.min_delay, self.max_delay)


@dataclass(frozen=True)
class SourcePolicy:
    """Per-source settings. `allowed_hosts`: None = any public host, else a host list (`hosts` syntax:
    "host", "host:port", "*.domain"). `pace`: None = the client's default pace."""

    def __post_init__(self) -> None:
        if self.allowed_hosts is not None:
            object.__setattr__(self, "allowed_hosts", hosts.check_entries(self.allowed_hosts))

    allowed_hosts: Collection[str] | None = None
    pace: Pace | None = None


def _default_user_agent() -> str:
    return os.environ.get(USER_AGENT_ENV) or DEFAULT_USER_AGENT


@dataclass
class HttpConfig:
    user_agent: str = field(default_factory=_default_user_agent)
    pace: Pace = field(default_factory=Pace)  # default for every origin
    sources: Mapping[str, SourcePolicy] = field(default_factory=dict)  # "dealer:x" falls back to "dealer"
    host_pace: Mapping[str, Pace] = field(default_factory=dict)  # "host" or "host:port"; beats source pace
    allow_private_hosts: Collection[str] = ()  # host list (`hosts` syntax) allowed to be loopback/private
    # Stand-in only (empty in production): host -> "address:port" used instead of DNS (the address is still
    # checked against allow_private_hosts), and a PEM bundle of extra certificate authorities to trust.
    resolve: Mapping[str, str] = field(default_factory=dict)
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    attempt_timeout: float = 120.0  # whole request incl. body: a server dripping bytes cannot hold us
    max_retries: int = 2
    retry_statuses: frozenset[int] = RETRY_STATUSES
    retry_backoff: float = 1.0  # first retry wait without Retry-After; doubles, ±20 % jitter
    max_inline_wait: float = 30.0  # longer Retry-After → retry_later instead of sleeping
    retry_after_cap: float = 3600.0
    max_body_bytes: int = 10 * 1024 * 1024  # decoded bytes, so a compression bomb stops too
    max_redirects: int = 5
    obey_robots: bool = True
    robots_ttl: float = 3600.0
    robots_error_ttl: float = 600.0  # how long a 5xx/unreachable robots.txt keeps the origin disallowed
    robots_max_bytes: int = 512 * 1024  # RFC 9309: parse at least 500 KiB
    honor_crawl_delay: bool = True  # robots Crawl-delay raises (never lowers) the pace, up to max_crawl_delay
    max_crawl_delay: float = 60.0
    extra_ca_file: str | None = None
    http2: bool = True  # offered over TLS (ALPN); a server that does not take it is spoken to in HTTP/1.1
    max_connections: int | None = None  # lanes and fetch_many's max_in_flight already bound it
    keepalive_expiry: float = 15.0  # longer than the default max delay so paced hosts reuse the connection
    seed: int | None = None  # for the delay jitter; None = system entropy


NO_POLICY = SourcePolicy()


def check_config(cfg: HttpConfig) -> None:
    """Bad host lists or overrides fail when the client is made, with the entry named."""
    hosts.check_entries(cfg.allow_private_hosts)
    hosts.parse_resolve(cfg.resolve)
    if cfg.extra_ca_file is not None and not os.path.isfile(cfg.extra_ca_file):
        raise ValueError(f"extra_ca_file {cfg.extra_ca_file!r} is not a file")
