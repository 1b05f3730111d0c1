"""Failures in words, for an operator: the one line per failed step that `run` and `demo` print, and the
last error that `status` and `sources list` show for each source.

The HTTP client describes a fetch outcome with stable tokens (`FetchResult.describe()`: kind, reason,
status, detail: "failed robots_unavailable robots.txt unreachable: ClientConnectorDNSError: …"); the
queue and the source registry keep those as they are (they are matched on). This module only rewrites
them for reading; it never decides anything.
"""

from __future__ import annotations

import re

_KINDS = ("failed", "blocked", "retry_later", "gone", "not_modified", "ok")
# Reason token → what it means; "{status}" is the HTTP status when there was one.
_REASONS = {
    "http_status": "the site answered HTTP {status}",
    "challenge": "a bot-challenge page (HTTP {status})",
    "retry_after": "the site asked to wait (HTTP {status} with Retry-After)",
    "host_backoff": "waiting out the site's earlier Retry-After",
    "robots_unavailable": "cannot read robots.txt, so nothing may be fetched",
    "robots_disallowed": "robots.txt disallows it",
    "refused_url": "refused",
    "timeout": "timed out",
    "connection_error": "could not connect",
    "truncated_body": "the response was cut off",
    "body_too_large": "the page is larger than the body cap",
    "too_many_redirects": "too many redirects",
    "decoding_error": "the body could not be decoded",
    "client_closed": "the client was closing",
    "error": "unexpected error",
}
_DESCRIBE = re.compile(r"^(?P<kind>" + "|".join(_KINDS) + r")(?: (?P<reason>[a-z_]+))?(?: status=(?P<status>\d+))?"
                       r"(?: (?P<detail>.*))?$", re.S)
_URL_THEN_DESCRIBE = re.compile(r"^(?P<url>https?://\S+): (?P<describe>(?:" + "|".join(_KINDS) + r")\b.*)$", re.S)
_MAX = 300


_CONNECT = re.compile(r"cannot connect to (?P<host>[^\s:\[]+|\[[^\]]+\])(?::(?P<port>\d+))? \((?P<why>.*?)\)")
_RESOLVE = re.compile(r"cannot resolve (?P<host>\S+): (?P<why>.*)")
_REFUSED_WORDS = ("All connection attempts failed", "[Errno 111] Connection refused")


def _detail_in_words(detail: str) -> str:
    """Connection errors shortened to what went wrong: the client's transport (fetch/transport.py) names the host
    it could not reach or resolve; aiohttp's wording is kept for last errors stored before the client moved to
    httpx."""
    m = _RESOLVE.search(detail)
    if m:
        return f"{m['host']} does not resolve ({m['why']})"
    m = _CONNECT.search(detail)
    if m:
        where = m["host"] if m["port"] in (None, "80", "443") else f"{m['host']}:{m['port']}"
        why = "the connection failed" if m["why"].startswith(_REFUSED_WORDS) else m["why"]
        return f"cannot connect to {where} ({why})"
    m = re.search(r"Cannot connect to host (?P<host>[^\s:]+)(?::(?P<port>\d+))? ssl:\S+ \[(?P<why>[^\]]+)\]", detail)
    if m and "DNSError" in detail:
        return f"{m['host']} does not resolve ({m['why']})"
    if m:
        where = m["host"] if m["port"] in (None, "80", "443") else f"{m['host']}:{m['port']}"
        why = "the connection failed" if m["why"].startswith("Connect call failed") else m["why"]
        return f"cannot connect to {where} ({why})"
    return detail


def fetch_outcome(text: str) -> str:
    """A `FetchResult.describe()` string (maybe prefixed by the registry's "failed: " / "blocked: ") in words."""
    text = text.strip()
    prefix = ""
    for label in ("blocked: ", "failed: "):
        if text.startswith(label):
            prefix, text = ("blocked: " if label == "blocked: " else ""), text[len(label):]
    m = _DESCRIBE.match(text)
    if not m or (m["reason"] and m["reason"] not in _REASONS):
        return prefix + text
    status = m["status"] or "?"
    words = _REASONS[m["reason"]].format(status=status) if m["reason"] else m["kind"]
    if m["reason"] is None and m["status"]:
        words = f"{m['kind']} (HTTP {status})"
    detail = _detail_in_words(m["detail"] or "")
    if m["reason"] == "robots_unavailable":  # the detail says why robots.txt failed; that is the news
        detail = detail.removeprefix("robots.txt unreachable: ")
    return prefix + words + (f": {detail}" if detail else "")


def step_reason(description: str) -> str:
    """The reason a step failed, in one line: its first error (a "URL: outcome" is rewritten in words) and how
    many more there were."""
    first, *rest = [p for p in re.split(r"; (?=https?://)", description.strip()) if p.strip()] or [""]
    head, sep, tail = first.rpartition(": http")
    if sep:  # "no index page could be read: https://…: failed …"
        lead, first = head + ": ", "http" + tail
    else:
        lead = ""
    m = _URL_THEN_DESCRIBE.match(first.strip())
    if m:
        outcome = fetch_outcome(m["describe"])
        first = (f"refused {m['url']}: {outcome.removeprefix('refused: ')}" if outcome.startswith("refused")
                 else f"{m['url']}: {outcome}")
    line = " ".join((lead + first).split())
    if len(line) > _MAX:
        line = line[: _MAX - 1] + "…"
    return line + (f" (and {len(rest)} more)" if rest else "")


__all__ = ["fetch_outcome", "step_reason"]
