from __future__ import annotations

import itertools
from typing import Any

import pytest
from fixture_cases import load, params

from policies.decisions import Verdict
from policies.errors import PermissionDenied
from policies.roles import MATRIX, Operation, Role, authorize, minimum_role, require

FIXTURE = "roles.yaml"


def _id(case: dict[str, Any]) -> str:
    return f"{case['role']}-{case['operation']}"


@pytest.mark.parametrize("case", params(FIXTURE, "matrix", _id))
def test_matrix(case: dict[str, Any]) -> None:
    role, operation = Role.parse(case["role"]), Operation(case["operation"])
    decision = authorize(role, operation)

    if case["expected"] == "allow":
        assert decision.verdict == Verdict.ALLOW
        require(role, operation)
    else:
        assert case["expected"] == "block"
        assert decision.verdict == Verdict.BLOCK
        (reason,) = decision.reasons
        assert reason.rule == "roles"
        assert reason.details == {
            "operation": operation.value,
            "role": role.label,
            "required_role": case["required_role"],
        }
        assert f"needs the {case['required_role']} role" in reason.message
        with pytest.raises(PermissionDenied) as exc:
            require(role, operation)
        assert exc.value.details["required_role"] == case["required_role"]
        assert exc.value.http_status == 403


def test_fixture_covers_every_role_and_operation_once() -> None:
    seen = [(Role.parse(c["role"]), Operation(c["operation"])) for c in load(FIXTURE, "matrix")]
    assert sorted(seen) == sorted(itertools.product(Role, Operation))


def test_matrix_names_every_operation() -> None:
    assert set(MATRIX) == set(Operation)
    for operation, roles in MATRIX.items():
        assert roles, f"{operation} is allowed to nobody"
        assert Role.ADMIN in roles, f"admin cannot {operation}"


def test_minimum_role_is_the_lowest_allowed_role() -> None:
    for case in load(FIXTURE, "matrix"):
        if case["expected"] == "block":
            assert minimum_role(Operation(case["operation"])).label == case["required_role"]


@pytest.mark.parametrize("case", params(FIXTURE, "parse", lambda c: repr(c["input"])))
def test_parse(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(PermissionDenied) as exc:
            Role.parse(case["input"])
        assert exc.value.code == case["error"]
        assert "viewer, analyst, engineer, admin" in exc.value.message
    else:
        assert Role.parse(case["input"]).label == case["expected"]
