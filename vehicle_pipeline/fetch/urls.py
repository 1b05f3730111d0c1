"""URL and host checks (pure): what the client may fetch before any request, and which addresses are private.
Host lists are written and matched as `vehicle_pipeline.hosts` says (the project's one host rule)."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

from vehicle_pipeline import hosts

_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")
_EMBEDDED_V4 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


def _parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # inet_aton accepts what resolvers accept: "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1".
    if _NUMERIC_HOST.fullmatch(host) and not host.endswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address may not be contacted by default, or None for a public unicast address."""
    if ip.is_loopback:
        return f"loopback address {ip}"
    if isinstance(ip, ipaddress.IPv6Address) and not ip.is_unspecified:
        # Python 3.11 judges IPv4-mapped/NAT64/6to4 addresses by their IPv6 range, not the IPv4 inside.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in _EMBEDDED_V4):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (embedded in {ip})" if inner else None
    if ip.is_link_local:
        return f"link-local address {ip}"
    if ip.is_multicast:
        return f"multicast address {ip}"
    if ip.is_unspecified:
        return f"unspecified address {ip}"
    if ip.is_private:
        return f"private address {ip}"
    if ip.is_reserved:
        return f"reserved address {ip}"
    if not ip.is_global:
        return f"non-global address {ip}"
    return None



def private_allowed(host: str, port: int, allow_private_hosts: Collection[str]) -> bool:
    """True when configuration lets `host:port` be a loopback/private address (the sample site)."""
    return bool(allow_private_hosts) and hosts.matches(host, port, allow_private_hosts)


def norm_host(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def check_url(
    url: str, *, allowed_hosts: Collection[str] | None, allow_private_hosts: Collection[str] = ()
) -> str | None:
    """None if the client may fetch `url`, else why not. No DNS lookup: names that resolve to private
    addresses are refused by the client at connect time; literal addresses and local names are refused here.
    `allowed_hosts` None = any host, else a host list in `hosts` syntax ("host", "host:port", "*.domain")."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return f"malformed url: {exc}"
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return f"scheme {scheme or '(none)'!r} is not http(s)"
    if parts.username is not None or parts.password is not None:
        return "credentials in url"
    raw_host = parts.hostname
    if not raw_host:
        return "no host"
    try:
        host = hosts.normalize_host(raw_host)
    except ValueError:
        return f"invalid host name {raw_host!r}"
    port = port if port is not None else DEFAULT_PORTS[scheme]
    if allowed_hosts is not None and not hosts.matches(host, port, allowed_hosts):
        return f"host {host}:{port} is not allowed for this source"
    if private_allowed(host, port, allow_private_hosts):
        return None
    ip = _parse_ip(host)
    if ip is not None:
        refusal = address_refusal(ip)
        return f"{refusal} is not allowed" if refusal else None
    if host in _LOCAL_NAMES or host.endswith(".localhost") or "." not in host:
        return f"local host name {host!r} is not allowed"
    return None
