"""The act lock of a warehouse that has none of its own (BigQuery), held through the catalog.

DuckDB's file lock makes an act exclusive for free. BigQuery has no lock a process could hold,
so the lock lives beside the intents it protects, in the catalog's database:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its
  own, held for the whole act. The server releases it when that session ends, so a process
  killed mid-act (``kill -9``, a lost pod) frees it at once: whoever takes it next knows every
  pending intent belongs to an act that is no longer running, and recovery may settle them.
- SQLite (a local catalog): an ``flock`` on a file beside the catalog, which the kernel
  releases when the process dies, with the same guarantee.

It is re-entrant within one thread (an act settles leftovers under the lock it already holds);
other threads and processes wait up to ``wait_seconds``, then get ``warehouse_busy``.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from policies.errors import StorageUnavailable, WarehouseBusy

# Beside the catalog's own advisory keys (orchestration.catalog.engine, 0x5350_0001..4).
PG_LOCK_ACTS = 0x5350_0010
LOCK_WAIT_SECONDS = 60.0
LOCK_SUFFIX = ".act.lock"


class _Backend(Protocol):
    where: str

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class _AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection held for the act."""

    def __init__(self, engine: sa.Engine, key: int) -> None:
        self._engine = engine
        self._key = key
        self._conn: sa.Connection | None = None
        self.where = engine.url.render_as_string(hide_password=True)

    def try_acquire(self) -> bool:
        try:
            conn = self._engine.connect()
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(self._key))).scalar())
            conn.commit()  # idle outside a transaction while held; the lock is the session's
        except sa_exc.DBAPIError as exc:
            raise StorageUnavailable(
                f"cannot take the act lock in the catalog {self.where}: {exc.orig}",
                details={"catalog": self.where},
            ) from exc
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(self._key)))
            conn.commit()
            conn.close()
        except sa_exc.DBAPIError:
            conn.invalidate()  # closing the session releases the lock on the server


class _FileLock:
    """An exclusive ``flock`` on a file beside a SQLite catalog."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self.where = str(path)

    def try_acquire(self) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class _ThreadsOnly:
    """An in-memory catalog has one process by construction: the thread lock is enough."""

    where = "this process"

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        return None


class ActLock:
    """One warehouse's act lock: a thread lock, then the cross-process lock, re-entrant."""

    def __init__(self, backend: _Backend, wait_seconds: float = LOCK_WAIT_SECONDS) -> None:
        self._backend = backend
        self._wait = wait_seconds
        self._threads = threading.RLock()
        self._depth = 0

    @property
    def where(self) -> str:
        return self._backend.where

    @contextmanager
    def held(self) -> Iterator[None]:
        deadline = time.monotonic() + self._wait
        if not self._threads.acquire(timeout=self._wait):
            raise self._busy()
        try:
            if self._depth == 0:
                self._acquire(deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._backend.release()
        finally:
            self._threads.release()

    def _acquire(self, deadline: float) -> None:
        delay = 0.02
        while not self._backend.try_acquire():
            if time.monotonic() > deadline:
                raise self._busy()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _busy(self) -> WarehouseBusy:
        return WarehouseBusy(
            f"another act holds the warehouse (lock in {self.where}) for more than "
            f"{self._wait:g}s; retry when it finishes",
            details={"lock": self.where, "waited_seconds": self._wait},
        )


def catalog_act_lock(engine: sa.Engine, wait_seconds: float = LOCK_WAIT_SECONDS) -> ActLock:
    """The act lock for a warehouse whose catalog is ``engine``'s database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return ActLock(_AdvisoryLock(engine, PG_LOCK_ACTS), wait_seconds)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return ActLock(_ThreadsOnly(), wait_seconds)
    path = Path(database).expanduser()
    return ActLock(_FileLock(path.with_name(path.name + LOCK_SUFFIX)), wait_seconds)
