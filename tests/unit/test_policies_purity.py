"""``policies`` decides and never acts: stdlib, pydantic, sqlglot (it parses, never connects) and
croniter (schedule ticks from an instant passed in)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "policies"
# open_data_contract_standard is the ODCS v3 pydantic models (policies never call its file helpers).
# croniter computes a cron schedule's ticks from a start instant the caller passes in.
ALLOWED_THIRD_PARTY = {
    "pydantic",
    "sqlglot",
    "policies",
    "__future__",
    "open_data_contract_standard",
    "croniter",
}
# Standard-library modules that reach the outside world (files, processes, network,
# clocks are fine to *type* with but not to read: see FORBIDDEN_CALLS).
FORBIDDEN_STDLIB = {
    "asyncio", "ftplib", "glob", "http", "importlib", "io", "logging", "multiprocessing",
    "os", "pickle", "shelve", "shutil", "signal", "smtplib", "socket", "sqlite3", "ssl",
    "subprocess", "sys", "tempfile", "threading", "urllib", "webbrowser",
}  # fmt: skip
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "compile", "__import__", "breakpoint"}
# pathlib is allowed for its pure classes only (no filesystem access).
PATHLIB_PURE = {"PurePath", "PurePosixPath", "PureWindowsPath"}
# Reading the clock makes a policy non-deterministic; callers pass `now` in.
FORBIDDEN_ATTRIBUTE_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today")}


def violations(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    found: list[str] = []

    def check_module(name: str, line: int) -> None:
        top = name.split(".")[0]
        if top in ALLOWED_THIRD_PARTY:
            return
        if top not in sys.stdlib_module_names:
            found.append(f"{filename}:{line} imports {name} (not stdlib, pydantic or policies)")
        elif top in FORBIDDEN_STDLIB:
            found.append(f"{filename}:{line} imports {name} (I/O)")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pathlib":
                    found.append(f"{filename}:{node.lineno} imports pathlib wholesale")
                check_module(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside policies
                continue
            module = node.module or ""
            check_module(module, node.lineno)
            if module == "pathlib":
                impure = {a.name for a in node.names} - PATHLIB_PURE
                if impure:
                    found.append(f"{filename}:{node.lineno} imports pathlib {sorted(impure)}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{filename}:{node.lineno} calls {func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in FORBIDDEN_ATTRIBUTE_CALLS
            ):
                found.append(
                    f"{filename}:{node.lineno} reads the clock ({func.value.id}.{func.attr})"
                )
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_package_has_the_expected_modules() -> None:
    names = {p.stem for p in _modules()}
    assert {"drift", "publish", "retention", "lifecycle", "roles", "decisions"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize(
    "source",
    [
        "import dagster",
        "from dbt.cli.main import dbtRunner",
        "import sqlalchemy.orm",
        "import duckdb",
        "import yaml",
        "import os",
        "from os import path",
        "import subprocess",
        "from pathlib import Path",
        "import pathlib",
        "import importlib",
        "from orchestration import catalog",
        "open('x').read()",
        "print('hello')",
        "from datetime import datetime\ndatetime.now()",
    ],
)
def test_checker_catches_impurity(source: str) -> None:
    assert violations(source, "bad.py"), source


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import re\nfrom dataclasses import dataclass",
        "from pydantic import BaseModel",
        "import sqlglot\nfrom sqlglot import exp",
        "from policies.errors import SpyneError",
        "from . import errors",
        "from pathlib import PurePosixPath",
        "from datetime import datetime, timedelta",
    ],
)
def test_checker_allows_pure_imports(source: str) -> None:
    assert violations(source, "good.py") == []
