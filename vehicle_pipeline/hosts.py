"""The one host rule of the project: how host lists are written and matched, and the name-resolution override.

Pure (no I/O); used by the HTTP client (`check_url`, the private-address exceptions, the resolver), by
`sources.for_url` and by every source module's `ALLOWED_HOSTS`.

A host list is a sequence of entries, each one of
    "bringatrailer.com"        that host, any port
    "bringatrailer.com:8443"   that host on that port only
    "*.craigslist.org"         any subdomain of craigslist.org, at any depth (not craigslist.org itself)
    "*.craigslist.org:443"     the same, on that port only
    "127.0.0.1", "[::1]:8080"  address literals (IPv6 in brackets when a port follows)
Names compare case-insensitively, without a trailing dot, IDNA-encoded. Any other form (".craigslist.org",
"craigslist.*", "https://x", "a b") is a ValueError: a list written in another dialect must fail loudly
rather than match nothing, which is how every Craigslist metro page once came to be refused.

The resolution override (`resolve`, like curl's --resolve / --connect-to) maps an exact host name to an
address literal and port: {"bringatrailer.com": "127.0.0.2:8443"}. It changes where a connection goes, never
what is allowed: the address it gives is checked like any resolved address.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?")


def normalize_host(host: str) -> str:
    """Lower case, no brackets, no trailing dot, IDNA-encoded (so "EXAMPLE.com." and "exämple.com" compare
    with configured names); raises ValueError for a name that cannot be encoded."""
    host = (host or "").strip().strip("[]").lower().rstrip(".")
    if host and not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid host name {host!r}: {exc}") from None
    return host


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return False


@functools.lru_cache(maxsize=4096)
def parse_entry(entry: str) -> tuple[str, int | None]:
    """(host pattern, port or None) of one host-list entry; ValueError for anything but the syntax above."""
    raw = entry
    entry = entry.strip()
    port: int | None = None
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"host entry {raw!r}: expected [address] or [address]:port")
        if rest:
            port = _port(rest[1:], raw)
        if not _is_address(host):
            raise ValueError(f"host entry {raw!r}: {host!r} is not an IPv6 address")
        return normalize_host(host), port
    if entry.count(":") == 1:
        entry, _, port_text = entry.partition(":")
        port = _port(port_text, raw)
    elif ":" in entry:
        if _is_address(entry):  # a bare IPv6 address
            return normalize_host(entry), None
        raise ValueError(f"host entry {raw!r}: write an IPv6 address with a port as [address]:port")
    wildcard = entry.startswith("*.")
    name = normalize_host(entry[2:] if wildcard else entry)
    if not name:
        raise ValueError(f"host entry {raw!r} names no host")
    if not _is_address(name):
        labels = name.split(".")
        if not all(_LABEL.fullmatch(label) for label in labels):
            hint = f" (write \"*{entry}\" for its subdomains)" if entry.startswith(".") else ""
            raise ValueError(f"host entry {raw!r} is not a host name, \"*.domain\" or an address{hint}")
    elif wildcard:
        raise ValueError(f"host entry {raw!r}: an address has no subdomains")
    return ("*." + name if wildcard else name), port


def _port(text: str, raw: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"host entry {raw!r}: port {text!r} is not a port number")
    return int(text)


def check_entries(entries: Iterable[str]) -> tuple[str, ...]:
    """The entries, each checked (ValueError naming the first bad one)."""
    out = tuple(entries)
    for entry in out:
        parse_entry(entry)
    return out


def matches(host: str, port: int | None, entries: Iterable[str]) -> bool:
    """Does `host` (on `port`; None = ignore entries' ports) fall under one of `entries`? `host` is
    normalized here; a bad entry raises ValueError."""
    host = normalize_host(host)
    for entry in entries:
        pattern, want_port = parse_entry(entry)
        if want_port is not None and port is not None and want_port != port:
            continue
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def host_allowed(host: str, entries: Iterable[str]) -> bool:
    """`host` falls under `entries`, whatever the port (a source's ALLOWED_HOSTS name hosts, not ports)."""
    return matches(host, None, entries)


def parse_resolve(mapping: Mapping[str, str] | None) -> dict[str, tuple[str, int]]:
    """The resolution override as {host: (address, port)}; ValueError for a key that is not an exact host
    name or a value that is not "address:port" with an address literal (a name there would be a second
    resolution, unchecked)."""
    out: dict[str, tuple[str, int]] = {}
    for key, value in (mapping or {}).items():
        pattern, key_port = parse_entry(key)
        if pattern.startswith("*.") or key_port is not None:
            raise ValueError(f"resolve: key {key!r} must be an exact host name (no wildcard, no port)")
        value = str(value).strip()
        if value.startswith("["):
            address, _, rest = value[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        else:
            address, _, port_text = value.rpartition(":")
        if not _is_address(address):
            raise ValueError(f"resolve: {key!r} -> {value!r}: expected address:port with an IP address")
        out[pattern] = (str(ipaddress.ip_address(address.split("%", 1)[0])), _port(port_text, value))
    return out


__all__ = ["check_entries", "host_allowed", "matches", "normalize_host", "parse_entry", "parse_resolve"]
