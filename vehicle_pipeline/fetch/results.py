"""What a fetch ends as: `FetchResult` (ok, not_modified, gone, blocked, retry_later, failed, with a stable
`Reason`), the `FetchRequest` a batch carries, and the `HealthReporter` the client tells each outcome to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BLOCK_STATUSES = frozenset({401, 403})
GONE_STATUSES = frozenset({404, 410})


class FetchKind(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"  # 304 to a conditional GET: unchanged, not an error
    GONE = "gone"  # 404 / 410: the listing was removed
    BLOCKED = "blocked"  # 401 / 403 / 429 after retries / a bot-challenge page
    RETRY_LATER = "retry_later"  # snooze until `retry_at` without consuming an attempt
    FAILED = "failed"  # see `reason`


class Reason(StrEnum):
    """Why a fetch did not end `ok`. Stable strings: the queue stores them as the item's last error."""

    HTTP_STATUS = "http_status"
    CHALLENGE = "challenge"
    RETRY_AFTER = "retry_after"  # the site asked for a wait longer than the in-request limit
    HOST_BACKOFF = "host_backoff"  # an earlier Retry-After for this host has not elapsed (no request sent)
    ROBOTS_UNAVAILABLE = "robots_unavailable"  # robots.txt 5xx/429/unreachable: RFC 9309 says assume disallow
    ROBOTS_DISALLOWED = "robots_disallowed"
    REFUSED_URL = "refused_url"
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    TRUNCATED = "truncated_body"
    BODY_TOO_LARGE = "body_too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    DECODING = "decoding_error"
    CLOSED = "client_closed"
    BROWSER = "browser_error"  # the rendering fetcher's browser is missing, did not start or crashed
    ERROR = "error"


# Failures that are the pipeline's own doing, not the site's: never counted against a source's health.
NOT_THE_SITES_FAULT = frozenset({Reason.REFUSED_URL, Reason.ROBOTS_DISALLOWED, Reason.CLOSED})


@dataclass
class FetchResult:
    kind: FetchKind
    url: str
    final_url: str
    status: int | None = None
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeated headers comma-joined
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0  # seconds from the call to the result, pacing waits included
    attempts: int = 0  # HTTP requests sent for this fetch (retries and redirect hops; robots.txt excluded)
    reason: Reason | None = None  # set for every kind but ok / not_modified
    detail: str | None = None  # human-readable, for logs and the queue's last error
    retry_at: datetime | None = None  # UTC; always set for retry_later, a hint on blocked/failed
    challenge: str | None = None  # "cloudflare" | "datadome" | "perimeterx" | "incapsula"
    source: str | None = None
    http_version: str | None = None  # of the response that ended the fetch: "HTTP/1.1", "HTTP/2"

    @property
    def ok(self) -> bool:
        return self.kind is FetchKind.OK

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    def describe(self) -> str:
        parts = [str(self.kind)]
        if self.reason:
            parts.append(str(self.reason))
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.detail:
            parts.append(self.detail)
        return " ".join(parts)


@dataclass(frozen=True)
class FetchRequest:
    url: str
    source: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    tag: object = field(default=None, compare=False)  # the caller's handle (queue item id, …), passed back untouched


# --------------------------------------------------------------------------------------------------
# Source health


@runtime_checkable
class HealthReporter(Protocol):
    """What the client tells source health. Called once per fetch outcome that has a source name, in the
    thread that called `fetch` / iterates `fetch_many`. ok, not_modified and gone are successes; blocked,
    retry_later and failed are failures, except refused URLs and robots disallows (our rules, not the
    site's fault), which are not reported at all."""

    def record_success(self, source: str) -> None: ...

    def record_failure(self, source: str, *, blocked: bool, reason: str) -> None: ...


@runtime_checkable
class PaceLedger(Protocol):
    """A host's pace shared beyond this process (store.pace.HostPaceLedger keeps it in Postgres).

    `reserve` returns 0.0 when the caller now holds the host (one fetch at a time, anywhere), else the seconds
    to wait before asking again; `release` ends the hold and puts the host's next slot `gap` seconds after
    now. Both block (a database round trip): the client calls them on a thread pool, never on its loop.
    Hosts fetched with no pace (gap 0) never reach the ledger."""

    def reserve(self, host_key: str, gap: float) -> float: ...

    def release(self, host_key: str, gap: float) -> None: ...
