"""Load the YAML fixture files that drive the rule-engine tests.

Each file holds input/expected pairs; a test module parametrizes over one section
with :func:`params`, using each case's ``id`` (or a readable id built from its
inputs) so a failure names the case.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

FIXTURES = Path(__file__).parent / "fixtures"


@cache
def _load(name: str) -> Any:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load(name: str, section: str | None = None) -> Any:
    data = _load(name)
    return data if section is None else data[section]


def params(
    name: str, section: str, ident: Callable[[dict[str, Any]], str] | None = None
) -> list[Any]:
    cases = load(name, section)
    assert cases, f"{name}:{section} has no cases"
    out = []
    for i, case in enumerate(cases):
        case_id = case.get("id") if isinstance(case, dict) else None
        if case_id is None:
            case_id = ident(case) if ident else f"{section}-{i}"
        out.append(pytest.param(case, id=str(case_id)))
    ids = [p.id for p in out]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"{name}:{section} repeats case ids {sorted(duplicates)}"
    return out
