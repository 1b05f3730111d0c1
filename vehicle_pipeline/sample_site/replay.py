"""Replay of real crawls: recorded responses, served again at their recorded URLs.

    archive = ReplayArchive.load("night.warc.gz")      # or a folder of captures with a manifest.json
    archive.get("https://bringatrailer.com/listing/x/") # → Recorded(status, headers, body, …) or None
    with ReplaySite(archive) as site:                  # every recorded host on a loopback address of its own
        site.client_settings()                         # resolve override, CA, loopback exception: as the stand-in

Two inputs, one result:
- a WARC file (`.warc` or `.warc.gz`, ISO 28500, read with warcio): every `response` record is a capture
  (its WARC-Target-URI, HTTP status, headers and body; `request` and other records are ignored);
- a folder with `manifest.json`, a JSON array of `{"url", "status", "content_type", "file"}` (status
  defaults to 200; optional `"headers": {name: value}`, e.g. a Location for a recorded redirect), each
  `file` a path inside the folder. This is how a real page that broke a parser becomes a test: save it,
  name it in the manifest, replay it.

When a URL was captured more than once, the latest capture (by its fetch time, then by its place in the
input) is the one served: the state the crawl ended on. Anything not captured, robots.txt included, is a
404: for robots.txt that means "no restrictions" (RFC 9309, 2.3.1.3), so a crawl that kept no robots.txt
replays unrestricted, and one that kept it replays under its own rules.

Malformed input fails at load with a `ReplayError` naming the file (and the manifest entry or WARC record)
and what is wrong; nothing is served from a half-read archive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

MANIFEST = "manifest.json"

# Headers that describe a transfer rather than the resource: the body is kept decoded and whole, so these are
# recomputed (Content-Length) or dropped when the response is served again.
_TRANSFER_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection",
                               "keep-alive", "proxy-connection", "upgrade", "trailer", "te"})


class ReplayError(ValueError):
    """A capture archive that cannot be replayed; the message names the input and what is wrong."""


@dataclass(frozen=True)
class Recorded:
    """One captured response."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]  # as recorded, transfer headers removed
    body: bytes
    fetched_at: datetime | None = None

    @property
    def content_type(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "content-type"), None)


def url_key(url: str) -> str:
    """The form a URL is looked up by: scheme and host lower-cased, default port and fragment dropped, an
    empty path as `/`. Raises ValueError for anything but an absolute http(s) URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = parts.port  # raises ValueError for a bad port
    netloc = host if port is None or port == (443 if scheme == "https" else 80) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL in url_key form."""
    parts = urlsplit(url_key(url))
    return f"{parts.scheme}://{parts.netloc}"


class ReplayArchive:
    """Recorded responses by URL, from a WARC file or a capture folder."""

    def __init__(self, responses: dict[str, Recorded], path: Path | None = None):
        self.path = path
        self._responses = responses

    @classmethod
    def load(cls, path: str | Path) -> "ReplayArchive":
        path = Path(path)
        if path.is_dir():
            responses = _load_folder(path)
        elif path.exists():
            responses = _load_warc(path)
        else:
            raise ReplayError(f"{path}: no such file or folder")
        if not responses:
            raise ReplayError(f"{path}: no responses recorded (a WARC needs `response` records; "
                              f"a folder needs entries in its {MANIFEST})")
        return cls(responses, path)

    def get(self, url: str) -> Recorded | None:
        try:
            return self._responses.get(url_key(url))
        except ValueError:
            return None

    def urls(self) -> list[str]:
        return sorted(self._responses)

    def origins(self) -> list[str]:
        """Every scheme://host[:port] with at least one capture."""
        return sorted({origin_of(u) for u in self._responses})

    def __len__(self) -> int:
        return len(self._responses)


def _keep_latest(out: dict[str, tuple[tuple, Recorded]], order: int, recorded: Recorded) -> None:
    key = url_key(recorded.url)
    rank = (recorded.fetched_at or datetime.min.replace(tzinfo=timezone.utc), order)
    if key not in out or out[key][0] <= rank:
        out[key] = (rank, recorded)


def _clean_headers(pairs) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in pairs if str(k).lower() not in _TRANSFER_HEADERS)


def _load_warc(path: Path) -> dict[str, Recorded]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed
    from warcio.timeutils import iso_date_to_datetime

    found: dict[str, tuple[tuple, Recorded]] = {}
    n = 0
    try:
        _check_gzip_whole(path)
        with path.open("rb") as fh:
            for n, record in enumerate(ArchiveIterator(fh), 1):
                if record.format != "warc":  # warcio reads anything else as an ARC file, headers and all
                    raise ReplayError(f"{path}: not a readable WARC file: record {n} has no WARC header")
                if record.rec_type != "response":
                    while record.raw_stream.read(1 << 16):  # read through it: a cut-off record is still an error
                        pass
                    if getattr(record.raw_stream, "limit", 0) > 0:
                        raise ReplayError(f"{path}: record {n}: the record is cut off (the file ends inside it)")
                    continue
                where = f"{path}: record {n}"
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if not uri:
                    raise ReplayError(f"{where}: response record without WARC-Target-URI")
                if record.http_headers is None:
                    raise ReplayError(f"{where} ({uri}): response record without an HTTP status line and headers")
                try:
                    status = int(record.http_headers.get_statuscode())
                except (TypeError, ValueError):
                    raise ReplayError(f"{where} ({uri}): bad HTTP status line "
                                      f"{record.http_headers.statusline!r}") from None
                date = record.rec_headers.get_header("WARC-Date")
                try:
                    fetched_at = iso_date_to_datetime(date).replace(tzinfo=timezone.utc) if date else None
                except ValueError:
                    raise ReplayError(f"{where} ({uri}): bad WARC-Date {date!r}") from None
                body = record.content_stream().read()  # de-chunked and decoded as the client saw it
                if getattr(record.raw_stream, "limit", 0) > 0:  # warcio ends a cut-off record quietly
                    raise ReplayError(f"{where} ({uri}): the record is cut off (the file ends inside it)")
                try:
                    recorded = Recorded(uri, status, _clean_headers(record.http_headers.headers), body, fetched_at)
                    _keep_latest(found, n, recorded)
                except ValueError as exc:
                    raise ReplayError(f"{where}: {exc}") from None
    except ReplayError:
        raise
    except ArchiveLoadFailed as exc:
        raise ReplayError(f"{path}: not a readable WARC file: {exc.msg.strip().splitlines()[0]}") from None
    except (OSError, EOFError, ValueError) as exc:  # truncated or corrupt gzip, unreadable file
        after = f" after record {n}" if n else ""
        raise ReplayError(f"{path}: cannot read the WARC file{after}: {type(exc).__name__}: {exc}") from None
    return {k: v for k, (_, v) in found.items()}


def _check_gzip_whole(path: Path) -> None:
    """A .warc.gz cut off between or inside records reads as a shorter archive in warcio: decompress it
    once to its end first, so a truncated file is an error, not a quietly smaller crawl."""
    import gzip

    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return
    with gzip.open(path, "rb") as fh:
        while fh.read(1 << 20):
            pass


def _load_folder(folder: Path) -> dict[str, Recorded]:
    manifest = folder / MANIFEST
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReplayError(f"{folder}: a capture folder needs a {MANIFEST} (a JSON array of "
                          '{"url", "status", "content_type", "file"})') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{manifest}: cannot read: {exc}") from None
    except ValueError as exc:
        raise ReplayError(f"{manifest}: not JSON: {exc}") from None
    if not isinstance(entries, list):
        raise ReplayError(f"{manifest}: must be a JSON array of capture entries, not {type(entries).__name__}")
    root = folder.resolve()
    found: dict[str, tuple[tuple, Recorded]] = {}
    for i, entry in enumerate(entries, 1):
        where = f"{manifest}: entry {i}"
        if not isinstance(entry, dict):
            raise ReplayError(f"{where}: must be an object with url, status, content_type, file")
        unknown = set(entry) - {"url", "status", "content_type", "file", "headers", "fetched_at"}
        if unknown:
            raise ReplayError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        url, name = entry.get("url"), entry.get("file")
        if not isinstance(url, str) or not url:
            raise ReplayError(f"{where}: needs a \"url\"")
        if not isinstance(name, str) or not name:
            raise ReplayError(f"{where} ({url}): needs a \"file\"")
        status = entry.get("status", 200)
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ReplayError(f"{where} ({url}): status must be an HTTP status code, not {status!r}")
        headers = entry.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise ReplayError(f"{where} ({url}): headers must be an object of strings")
        content_type = entry.get("content_type")
        if content_type is not None and not isinstance(content_type, str):
            raise ReplayError(f"{where} ({url}): content_type must be a string")
        if content_type:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"} | {"Content-Type": content_type}
        fetched_at = None
        if entry.get("fetched_at") is not None:
            try:
                fetched_at = datetime.fromisoformat(str(entry["fetched_at"]).replace("Z", "+00:00"))
            except ValueError:
                raise ReplayError(f"{where} ({url}): fetched_at must be ISO-8601, not {entry['fetched_at']!r}") from None
            if fetched_at.tzinfo is None:
                fetched_at = fetched_at.replace(tzinfo=timezone.utc)
        file = (folder / name).resolve()
        if not file.is_relative_to(root):
            raise ReplayError(f"{where} ({url}): file {name!r} is outside the capture folder")
        try:
            body = file.read_bytes()
        except OSError as exc:
            raise ReplayError(f"{where} ({url}): cannot read file {name!r}: {exc.strerror}") from None
        try:
            _keep_latest(found, i, Recorded(url, status, _clean_headers(headers.items()), body, fetched_at))
        except ValueError as exc:
            raise ReplayError(f"{where}: {exc}") from None
    return {k: v for k, (_, v) in found.items()}


# --- serving ------------------------------------------------------------------------------------------


def not_found_page(url: str) -> bytes:
    return (f"<!DOCTYPE html><html><head><title>Not Found</title></head><body><h1>Not Found</h1>"
            f"<p>not in the replayed crawl: {url}</p></body></html>").encode()


def respond(archive: ReplayArchive, origin: str, target: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer to a request for `target` (path and query) at `origin`: the capture, or a 404."""
    url = origin + (target if target.startswith("/") else "/" + target)
    recorded = archive.get(url)
    if recorded is None:
        return 404, [("Content-Type", "text/html; charset=utf-8")], not_found_page(url)
    return recorded.status, list(recorded.headers), recorded.body


class ReplaySite:
    """The recorded crawl served at its recorded host names, through the stand-in's own sockets (front.py):
    one loopback address per recorded host, HTTPS with the throwaway CA for hosts recorded over https, plain
    HTTP for hosts recorded over http. A client reaches it with `client_settings()` (the name-resolution
    override, the CA, the loopback exception for exactly these hosts), like the sample site.

    A host recorded under both schemes is served over https (its http captures are not reachable). A capture
    recorded at an address rather than a host name cannot be served at its name: it is refused at start.
    """

    def __init__(self, archive: ReplayArchive, host: str = "127.0.0.1", port: int = 0):
        from vehicle_pipeline.sample_site.front import FIRST_SITE_ADDRESS, Front

        self.archive = archive
        origins: dict[str, str] = {}  # host -> origin served for it
        for origin in archive.origins():
            parts = urlsplit(origin)
            name = parts.hostname or ""
            if _is_address(name):
                raise ReplayError(f"{archive.path}: {origin} was recorded at an address, not a host name; a replay "
                                  "serves recorded host names")
            if name not in origins or parts.scheme == "https":
                origins[name] = origin
        self.origins = origins
        https = [h for h, o in origins.items() if o.startswith("https:")]
        plain = [h for h, o in origins.items() if o.startswith("http:")]
        # Plain-HTTP hosts on addresses of their own, well clear of the HTTPS ones.
        self._fronts = []
        for names, tls, first in ((https, True, FIRST_SITE_ADDRESS), (plain, False, "127.0.128.10")):
            if names:
                front = Front(self._control, host=host, port=port if not self._fronts else 0,
                              first_site_address=first, tls=tls)
                for name in names:
                    front.mount([name], self._app(origins[name]))
                self._fronts.append(front)

    def _app(self, origin: str):
        def app(handler, method: str, host: str) -> None:
            status, headers, body = respond(self.archive, origin, handler.path)
            handler.reply(status, body, headers=dict(headers))
        return app

    def _control(self, handler, method: str) -> None:
        if handler.path.split("?", 1)[0] == "/":
            return handler.json(200, {"replay": str(self.archive.path), "responses": len(self.archive),
                                      "resolve": self.resolve})
        return handler.reply(404, b"the replay's control origin knows only /\n")

    def start(self) -> "ReplaySite":
        try:
            for front in self._fronts:
                front.start()
        except OSError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for front in self._fronts:
            front.stop()

    @property
    def base_url(self) -> str:
        """The control origin (GET / tells what is replayed and where)."""
        return self._fronts[0].control_url

    @property
    def resolve(self) -> dict[str, str]:
        """Recorded host name -> "address:port" it is served on: the client's name-resolution override."""
        out: dict[str, str] = {}
        for front in self._fronts:
            out.update(front.resolve)
        return out

    @property
    def ca_file(self) -> str | None:
        return next((f.ca_file for f in self._fronts if f.tls), None)

    def client_settings(self) -> dict:
        """IngestSettings fields that point a client at the replay (the same shape as the sample site's)."""
        resolve = self.resolve
        return {"resolve": resolve, "extra_ca_file": self.ca_file, "allow_private_hosts": tuple(resolve),
                "control_url": self.base_url}

    def __enter__(self) -> "ReplaySite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


__all__ = ["MANIFEST", "Recorded", "ReplayArchive", "ReplayError", "ReplaySite", "origin_of", "respond", "url_key"]
