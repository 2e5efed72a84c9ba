"""`spyne ui` and `spyne docs serve` serve until Ctrl-C/SIGTERM, then leave nothing running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SPYNE = str(Path(sys.executable).parent / "spyne")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str, within: float, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(1)
    return False


def _stat(pid: str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields after "pid (comm)": state, ppid, pgrp, sid


def _children(pid: int) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and (st := _stat(p.name)) and int(st[1]) == pid
    ]


def _session(sid: int) -> list[int]:
    """Live processes of a session (zombies reaped or not, they hold nothing)."""
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and (st := _stat(p.name)) and int(st[3]) == sid and st[0] != "Z"
    ]


def _stops_cleanly(command: list[str], url: str, within: float, signum: int, log: Path) -> None:
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert _answers(url, within, server), log.read_text()[-3000:]
        (child,) = _children(server.pid)  # the server runs in a session of its own
        assert _session(child), "the child leads its own session"
        server.send_signal(signum)
        server.wait(timeout=120)
        deadline = time.monotonic() + 30
        while _session(child) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _session(child) == [], f"left running: {_session(child)}"
    finally:
        if server.poll() is None:
            server.kill()


def test_spyne_ui_stops_on_ctrl_c_and_leaves_nothing_behind(spyne_home: Path) -> None:
    port = _free_port()
    _stops_cleanly(
        [SPYNE, "ui", "--port", str(port)],
        f"http://127.0.0.1:{port}/server_info",
        within=240,
        signum=signal.SIGINT,
        log=spyne_home.parent / "ui.log",
    )
    assert not list(REPO.glob(".tmp_dagster_home_*")), "the UI uses Spyne's instance"
    assert (Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml").exists()


def test_spyne_docs_serve_serves_the_site_until_sigterm(spyne_home: Path) -> None:
    port = _free_port()
    _stops_cleanly(
        [SPYNE, "docs", "serve", "--port", str(port)],
        f"http://127.0.0.1:{port}/index.html",
        within=180,
        signum=signal.SIGTERM,
        log=spyne_home.parent / "docs.log",
    )


def test_plain_dbt_reads_the_profile_without_spyne_variables(tmp_path: Path) -> None:
    """The README's `dbt docs serve` renders the profile with nothing exported."""
    env = {k: v for k, v in os.environ.items() if k not in ("SPYNE_WAREHOUSE_PATH", "SPYNE_HOME")}
    project = str(REPO / "dbt_project")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "debug",
            "--config-dir",
            "--project-dir",
            project,
            "--profiles-dir",
            project,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "ls",
            "--quiet",
            "--select",
            "customers",
            "--project-dir",
            project,
            "--profiles-dir",
            project,
            "--target-path",
            str(tmp_path / "target"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "spyne.silver.customers" in listed.stdout
