"""kill -9 at random instants of ``generate``: the source is the old one or the new one, whole.

Each child process imports and warms up first, then waits for a go; the kill lands at a
random instant of the ``generate`` call itself, whose length is measured on a run left to
finish. The seed of the instants is in every failure message so a bad instant can be
replayed. The next child warms up while the current one runs, to keep the test short.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from orchestration.sample import generate
from orchestration.sample.writer import sweep_abandoned
from tests.sample_content import TableFingerprint, fingerprint

ROOT = Path(__file__).resolve().parents[2]
LINES, SEED = 50_000, 2
MIN_TRIALS, MAX_TRIALS, MID_WRITE_KILLS = 4, 12, 2

CHILD = """
import sys
from pathlib import Path
from orchestration.sample.generator import build_tables, generate
build_tables(10, 0)  # lazy imports happen here, before the go
print("ready", flush=True)
sys.stdin.readline()
generate(Path(sys.argv[1]), lines=int(sys.argv[2]), seed=int(sys.argv[3]),
         overwrite=sys.argv[4] == "1")
print("done", flush=True)
"""


class Child:
    def __init__(self, target: Path, overwrite: bool) -> None:
        args = [str(target), str(LINES), str(SEED), str(int(overwrite))]
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def go(self) -> float:
        """Wait until warmed up, start ``generate``; return when it started."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        assert stdout.readline().strip() == "ready"
        stdin.write("go\n")
        stdin.flush()
        return time.perf_counter()

    def finish(self) -> None:
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "done"
        assert self.process.wait(timeout=60) == 0

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def children(target: Path, overwrite: bool) -> Iterator[Child]:
    """Children that started warming up one trial ahead of their turn."""
    spare = Child(target, overwrite)
    try:
        while True:
            current, spare = spare, Child(target, overwrite)
            yield current
    finally:
        spare.kill()


@dataclass(frozen=True)
class Reference:
    span: float  # seconds from the go to the end of a finished ``generate``
    content: dict[str, TableFingerprint]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    target = tmp_path_factory.mktemp("reference") / "erp.duckdb"
    child = Child(target, overwrite=False)
    started = child.go()
    child.finish()
    return Reference(time.perf_counter() - started, fingerprint(target))


@pytest.mark.parametrize("scenario", ["replace", "create"])
def test_a_kill_at_any_instant_leaves_the_old_source_or_the_new_one(
    tmp_path: Path, reference: Reference, scenario: str
) -> None:
    seed = random.SystemRandom().randrange(2**32)
    instants = random.Random(seed)
    target = tmp_path / "erp.duckdb"
    old = None
    if scenario == "replace":
        generate(target, lines=300, seed=1)
        old = fingerprint(target)
    mid_write_kills = trials = 0
    for child in children(target, overwrite=scenario == "replace"):
        if trials >= MAX_TRIALS or (trials >= MIN_TRIALS and mid_write_kills >= MID_WRITE_KILLS):
            child.kill()
            break
        trials += 1
        instant = instants.uniform(0, reference.span)
        deadline = child.go() + instant
        time.sleep(max(0.0, deadline - time.perf_counter()))
        child.kill()
        where = f"seed {seed}, trial {trials}, kill {instant:.3f}s after the go"
        left = sorted(tmp_path.glob(".erp.duckdb.*.tmp"))
        mid_write_kills += bool(left)
        # All that a kill leaves beside the source is staging nobody holds any more.
        assert sorted(tmp_path.iterdir()) == sorted([*left, *([target] * target.exists())])
        assert sweep_abandoned(target) == left, where
        if not target.exists():
            assert scenario == "create", where
            continue
        try:
            found = fingerprint(target)
        except duckdb.Error as exc:
            pytest.fail(f"{where}: the source is not a whole database: {exc}")
        assert found in (old, reference.content), where
        # The next trial starts from the old source again (or from none).
        if scenario == "create":
            target.unlink()
        elif found == reference.content:
            generate(target, lines=300, seed=1, overwrite=True)
    assert mid_write_kills >= 1, f"no kill landed while the file was being written (seed {seed})"
