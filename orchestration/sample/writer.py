"""Write the sample source so that no crash and no mistake can cost the previous one.

The source is READ_ONLY to Spyne and everything downstream is built from it, so replacing
it is data loss unless someone asked for it. The new file is built in a hidden staging
directory beside the target and moved over it (or linked into place, when nothing may be
replaced) only once complete: a kill at any instant leaves the old source or the new one,
never a half-written file. A staging directory left by a killed run is recognised by its
name and by its lock (``flock``, released by the kernel when its writer dies) and is
removed by the next write; a live writer's directory is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.sample.schema import DDL_AND_LOAD, SOURCE_TABLES
from policies.errors import ApprovalRequired

_STAGING_SUFFIX = ".tmp"


def source_exists_error(path: Path) -> ApprovalRequired:
    return ApprovalRequired(
        f"the sample source {path} already exists and Spyne builds from it; replacing it "
        "would lose the current source. Pass --force (engineer) to replace it, or choose "
        "another --path.",
        details={"path": str(path), "rule": "overwrite_source", "flag": "--force"},
    )


def refuse_to_overwrite(path: Path) -> None:
    """Fail before any work when the target exists; the final link re-checks atomically."""
    if os.path.lexists(path):
        raise source_exists_error(path)


def _staging_pattern(path: Path) -> str:
    return f".{glob.escape(path.name)}.*{_STAGING_SUFFIX}"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def sweep_abandoned(path: Path) -> list[Path]:
    """Remove staging directories of ``path`` whose writer is gone; return what was removed."""
    removed = []
    for candidate in sorted(path.parent.glob(_staging_pattern(path))):
        if candidate.is_symlink() or not candidate.is_dir():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:  # another sweeper got there first
            continue
        try:
            if _try_lock(fd):
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def _staging(path: Path) -> Iterator[Path]:
    """A locked, hidden directory beside ``path`` holding the file being built."""
    directory = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_STAGING_SUFFIX, dir=path.parent)
    )
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield directory / path.name
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        os.close(fd)


def load_tables(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pa.Table]) -> None:
    """Create every source table on ``con`` from the generator's Arrow tables."""
    for name in SOURCE_TABLES:
        ddl, load = DDL_AND_LOAD[name]
        con.execute(ddl)
        con.register("staged", tables[name])
        con.execute(load)
        con.unregister("staged")


def _write_tables(path: Path, tables: Mapping[str, pa.Table]) -> None:
    con = duckdb.connect(str(path))
    try:
        load_tables(con, tables)
        con.execute("checkpoint")
    finally:
        con.close()


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(staged: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(staged, path)
        return
    try:
        os.link(staged, path)  # fails if the target appeared meanwhile: never replaces
    except FileExistsError:
        raise source_exists_error(path) from None


def write_source(path: Path, tables: Mapping[str, pa.Table], *, overwrite: bool) -> None:
    """Build the DuckDB file beside ``path`` and move it into place only once complete."""
    sweep_abandoned(path)
    with _staging(path) as staged:
        _write_tables(staged, tables)
        _fsync(staged)
        _publish(staged, path, overwrite)
    _fsync(path.parent, os.O_RDONLY | os.O_DIRECTORY)
