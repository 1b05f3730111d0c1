"""Sources a run must not work: those whose URL is, or resolves to, a loopback, private or otherwise
non-public address, unless configuration allows that host (`allow_private_hosts`, the same setting the
HTTP client obeys). Names resolve as the client resolves them: the name-resolution override, then DNS.

The client refuses such a fetch anyway, URL by URL; this check is made once before a run so that a source
left pointing at a local stand-in (a sample dealer at http://127.0.0.1:…) is refused whole, with one line
that says so, instead of failing step by step. A host that does not resolve is not refused here: the fetch
reports that in its own words.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection, Iterable, Mapping
from urllib.parse import urlsplit

from vehicle_pipeline import hosts
from vehicle_pipeline.http import address_refusal, check_url, private_allowed

Resolver = Callable[[str, int], list[str]]


def resolver(override: Mapping[str, str] | None = None) -> Resolver:
    """Resolution as the HTTP client does it: the configured name-resolution override first, then DNS."""
    fixed = hosts.parse_resolve(override)

    def resolve(host: str, port: int) -> list[str]:
        hit = fixed.get(hosts.normalize_host(host))
        return [hit[0]] if hit is not None else resolve_addresses(host, port)

    return resolve


def resolve_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def refusal(url: str, allow_private_hosts: Collection[str], resolve: Resolver = resolve_addresses) -> str | None:
    """Why a source at `url` must not be worked, or None."""
    reason = check_url(url, allowed_hosts=None, allow_private_hosts=allow_private_hosts)
    if reason:
        return reason
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    if private_allowed(host, port, allow_private_hosts):
        return None
    for address in resolve(host, port):
        try:
            refused = address_refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        except ValueError:
            continue
        if refused:
            return f"{host} resolves to {address} ({refused})"
    return None


def refused_sources(sources: Iterable[tuple[str, str | None]], allow_private_hosts: Collection[str],
                    resolve: Resolver = resolve_addresses) -> dict[str, str]:
    """source name → "URL: why" for each (name, url) that must not be worked."""
    out: dict[str, str] = {}
    for name, url in sources:
        if not url or name in out:
            continue
        why = refusal(url, allow_private_hosts, resolve)
        if why:
            out[name] = f"{url}: {why}"
    return out


__all__ = ["refusal", "refused_sources", "resolve_addresses", "resolver"]
