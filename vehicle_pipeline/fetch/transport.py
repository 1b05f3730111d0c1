"""The transport under the polite client: one `httpx.AsyncClient` per client, HTTP/2 where the server offers
it (ALPN over TLS; the pinned `h2` extra), whose connections are opened by a guarded network backend.

The guard: the backend resolves the host itself, refuses a loopback/private/link-local/… address unless
`allow_private_hosts` names the host, and connects to exactly the address it checked (a second DNS answer
cannot rebind the connection to a private address). A host in the `resolve` override (the stand-in's setting)
gets the override's address and port instead of a DNS answer, checked the same way. TLS is then started on that socket with the URL's host
name, so the certificate is verified for the name (and SNI carries it). Literal addresses are refused by
`urls.check_url` before any request.

`attempt` sends one GET without following redirects and reads the body under the cap (decoded bytes, so a
compression bomb stops too); every transport failure becomes a reason, never an exception.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import httpcore
import httpx

from vehicle_pipeline import hosts
from vehicle_pipeline.fetch.config import HttpConfig
from vehicle_pipeline.fetch.results import REDIRECT_STATUSES, Reason
from vehicle_pipeline.fetch.urls import address_refusal, private_allowed

_READ_CHUNK = 64 * 1024
ACCEPT = "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"


@functools.cache
def tls_context(extra_ca_file: str | None = None) -> ssl.SSLContext:
    # Loading the CA store takes ~20 ms; every run builds a client, and the context is safe to share.
    context = ssl.create_default_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)  # trusted in addition to the system store
    return context


class RefusedConnect(Exception):
    """The address guard refused the address a host resolved to (not an OSError: nothing retries it)."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address guard in front of every TCP connect. `resolve` maps a
    host to a fixed (address, port) instead of DNS (the stand-in's override); that address is checked too."""

    def __init__(self, allow_private_hosts: Collection[str], resolve: Mapping[str, tuple[str, int]] | None = None):
        self._inner = httpcore.AnyIOBackend()
        self._allow = tuple(allow_private_hosts)
        self._resolve = dict(resolve or {})

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options=None) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        failure: Exception | None = None
        for address, to_port in addresses:
            try:
                return await self._inner.connect_tcp(address, to_port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        if failure is None:
            raise httpcore.ConnectError(f"{host} has no address")
        # Name the host: the socket layer's own words ("All connection attempts failed") do not say which.
        raise type(failure)(f"cannot connect to {host}:{port} ({str(failure) or type(failure).__name__})") from failure

    async def _addresses(self, host: str, port: int, timeout: float | None) -> list[tuple[str, int]]:
        name = hosts.normalize_host(host)
        fixed = self._resolve.get(name)
        if fixed is not None:
            found = [fixed]
        else:
            try:
                async with asyncio.timeout(timeout):
                    infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout}s") from None
            except OSError as exc:  # socket.gaierror
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from None
            found = list(dict.fromkeys((info[4][0], port) for info in infos))
        if not private_allowed(host, port, self._allow):
            for address, _ in found:
                refusal = address_refusal(ipaddress.ip_address(address.split("%", 1)[0]))
                if refusal:
                    raise RefusedConnect(f"{host} resolves to a {refusal}")
        return found

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - the client never asks for one
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose connects go through `GuardedBackend`."""

    def __init__(self, cfg: HttpConfig):
        context = tls_context(cfg.extra_ca_file)
        super().__init__(verify=context, http1=True, http2=cfg.http2, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=cfg.max_connections,  # None: lanes and fetch_many's max_in_flight already bound it
            max_keepalive_connections=None,
            keepalive_expiry=cfg.keepalive_expiry,
            http1=True,
            http2=cfg.http2,
            network_backend=GuardedBackend(cfg.allow_private_hosts, hosts.parse_resolve(cfg.resolve)),
        )


def build_client(cfg: HttpConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=_GuardedTransport(cfg),
        # `connect` covers name resolution and the TCP/TLS handshake; `read` each read; the whole attempt is
        # bounded by attempt_timeout around it.
        timeout=httpx.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout, write=cfg.read_timeout, pool=None),
        follow_redirects=False,  # each redirect target is checked by the client before it is fetched
        trust_env=False,  # no proxy from the environment: all traffic goes where the URL says
        headers={"User-Agent": cfg.user_agent, "Accept": ACCEPT, "Accept-Language": "en-US,en;q=0.8"},
    )


@dataclass
class Attempt:
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names; repeated headers comma-joined
    content: bytes = b""
    location: str | None = None
    http_version: str | None = None
    reason: Reason | None = None  # a transport-level failure
    detail: str | None = None
    retryable: bool = False


async def attempt(client: httpx.AsyncClient, url: str, cfg: HttpConfig, headers: Mapping[str, str] | None = None,
                  *, max_bytes: int | None = None, truncate: bool = False) -> Attempt:
    """One GET. The body is read up to `max_bytes` (default the body cap): past it the attempt fails with
    body_too_large, or with `truncate` (robots.txt) what was read is kept."""
    cap = cfg.max_body_bytes if max_bytes is None else max_bytes
    got = Attempt()
    received = 0
    try:
        async with asyncio.timeout(cfg.attempt_timeout):
            async with client.stream("GET", url, headers=headers) as response:
                got.status = response.status_code
                got.http_version = response.http_version
                got.headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in REDIRECT_STATUSES:
                    got.location = response.headers.get("location")
                    return got
                if response.status_code == 304:
                    return got
                declared = response.headers.get("content-length")
                if not truncate and declared and declared.isdigit() and int(declared) > cap:
                    got.reason, got.detail = Reason.BODY_TOO_LARGE, f"content-length {declared} > {cap}"
                    return got
                chunks: list[bytes] = []
                async for chunk in response.aiter_bytes(_READ_CHUNK):  # decoded bytes
                    received += len(chunk)
                    if received > cap:
                        if truncate:
                            chunks.append(chunk)
                            break
                        got.reason, got.detail = Reason.BODY_TOO_LARGE, f"body over {cap} bytes"
                        return got
                    chunks.append(chunk)
                got.content = b"".join(chunks)[:cap] if truncate else b"".join(chunks)
    except RefusedConnect as exc:
        got.reason, got.detail = Reason.REFUSED_URL, str(exc)
    except httpx.ConnectTimeout:
        got.reason, got.detail = Reason.TIMEOUT, "connect timeout"
    except httpx.TimeoutException as exc:
        got.reason, got.detail = Reason.TIMEOUT, f"{type(exc).__name__}: no data within {cfg.read_timeout:.0f}s"
    except TimeoutError:
        got.reason, got.detail = Reason.TIMEOUT, f"no complete response within {cfg.attempt_timeout:.0f}s"
    except httpx.DecodingError as exc:
        got.reason, got.detail = Reason.DECODING, str(exc)
    except httpx.ConnectError as exc:
        got.reason, got.detail, got.retryable = Reason.CONNECTION, str(exc) or type(exc).__name__, True
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        got.reason, got.detail = Reason.REFUSED_URL, str(exc)
    except (httpx.TransportError, httpx.StreamError) as exc:
        if got.status is not None:  # the status line arrived, the body did not finish
            got.reason, got.detail = Reason.TRUNCATED, f"{str(exc) or type(exc).__name__} after {received} bytes"
        else:
            got.reason, got.detail, got.retryable = Reason.CONNECTION, str(exc) or type(exc).__name__, True
    return got
